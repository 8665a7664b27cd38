// `sentinel isolate` / `sentinel-isolate`: run a command in the sandbox and exit with its status.
// Flags, environment variables, defaults and validation messages follow the original runner
// (original-system.md §6.1-6.5), with its bugs fixed: relative paths resolve against the current
// directory, validation happens before anything is started, errors print one sentence and exit 2.

public import ArgumentParser
import FoundationEssentials
import Glibc
import SentinelAudit
import SentinelPolicy
import SentinelSandbox

/// `sentinel isolate`: runs a command in a sandbox.
public struct IsolateCommand: ParsableCommand {
    /// Creates the command (ArgumentParser fills in the options).
    public init() {}

    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "isolate",
        abstract: "Run a command in a sandbox and exit with its status.",
        discussion: """
            The command runs in new user, mount, pid, ipc, uts, cgroup and (with --network none) network \
            namespaces, on a read-only root with the workspace read-write at /workspace, without capabilities, \
            with no_new_privs, Landlock and resource limits. Its exit status is the command's (128+N when \
            signal N ended it). Setup errors print one sentence and exit 2.

            With --guard, `sentinel guard` runs inside as the command's parent, on either backend, with the same \
            policy, records and approvals as on the host.

            Before the command starts, one line on stderr names the run's id and its logs (records of run ID in \
            AUDITLOG …); every record of the run carries the id, and `sentinel audit tail --run ID AUDITLOG` shows \
            them together.

            Environment: SENTINEL_BACKEND, SENTINEL_PRODUCTION or SENTINEL_ENV=production (production mode: \
            docs/POLICY.md), SENTINEL_ALLOW_NETWORK_IN_PRODUCTION, \
            SENTINEL_SECCOMP_PROFILE, SENTINEL_SECCOMP_MODE, SENTINEL_ENFORCE_PROXY, SENTINEL_PROXY, \
            SENTINEL_NO_PROXY (true/1/yes/on count as true), SENTINEL_RUN_ID (the run's id instead of a new one: \
            1 to 64 of 0-9, a-f and -; the sandbox gets it too).

            Example: sentinel-isolate --workspace ./ws --policy ./sentinel.yaml -- python3 app.py
            """
    )

    @Option(help: "Host directory mounted read-write at /workspace (the working directory).")
    var workspace = Defaults.workspace

    @Option(help: """
        Policy file, mounted read-only at /run/sentinel/policy.yaml (outside the workspace; \
        $SENTINEL_POLICY_FILE inside says where).
        """)
    var policy = Defaults.policy

    @Option(help: "Network: none (loopback only), proxied (only through the policy proxy), host (no isolation; refused in production), bridge (Docker only).")
    var network = Defaults.network

    @Option(name: .customLong("proxy-socket"), help: "With --network proxied on the native backend: use this running `sentinel proxy --unix` socket instead of starting one for the run.")
    var proxySocket: String?

    @Option(name: .customLong("proxy-hosts-file"), help: "With --network proxied: a hosts file for the proxy started for the run (tests, air-gapped setups).")
    var proxyHostsFile: String?

    @Option(name: .customLong("ca-dir"), help: "With --network proxied: the Sentinel CA directory of the run's proxy, for inspected hosts (default: $XDG_STATE_HOME/sentinel/ca, else ~/.local/state/sentinel/ca).")
    var caDir: String?

    @Option(name: .customLong("upstream-ca"), help: "With --network proxied: PEM certificates the run's proxy trusts, besides the system's, for its TLS to inspected hosts.")
    var upstreamCA: String?

    @Option(help: "Proxy URL passed as HTTP(S)_PROXY (default: $SENTINEL_PROXY).")
    var proxy: String?

    @Option(name: .customLong("no-proxy"), help: "NO_PROXY value (default: $SENTINEL_NO_PROXY, then $NO_PROXY, $no_proxy).")
    var noProxy: String?

    @Flag(help: "Require --proxy for any networked run (also: truthy $SENTINEL_ENFORCE_PROXY).")
    var enforceProxy = false

    @Option(help: "Seccomp profile: strict, datasci or custom (default: $SENTINEL_SECCOMP_PROFILE or strict).")
    var seccompProfile: String?

    @Option(help: "Custom seccomp profile file (Docker's JSON format).")
    var seccomp = Defaults.seccomp

    @Option(help: "Seccomp mode: enforce, log or off (default: $SENTINEL_SECCOMP_MODE or enforce).")
    var seccompMode: String?

    @Option(help: "Image for the docker backend.")
    var image = Defaults.image

    @Flag(help: "Build the image if it is missing, or rebuild it if an older sentinel built it (docker backend).")
    var buildIfMissing = false

    @Option(help: "Base image for --build-if-missing (default: $SENTINEL_BASE_IMAGE or debian:bookworm-slim).")
    var baseImage: String?

    @Flag(help: "Print the docker command instead of running it (docker backend).")
    var dryRun = false

    @Flag(help: """
        Run the command under sentinel guard inside the sandbox (both backends): every exec, file write and connect \
        decided by the policy and recorded outside the workspace.
        """)
    var `guard` = false

    @Flag(help: "Run the command without sentinel guard inside (the default on both backends).")
    var noGuard = false

    @Option(help: "Backend: native or docker (default: $SENTINEL_BACKEND or native).")
    var backend: String?

    @Option(help: "Maximum number of processes and threads (default: the policy's sandbox.pids_limit, 256).")
    var pidsLimit: Int?

    @Option(help: "Memory limit, e.g. 512m, 1g or a number of bytes (default: the policy's sandbox.memory, 512m).")
    var memory: String?

    @Option(help: "CPU limit in CPUs, e.g. 1.0 or 0.5 (default: the policy's sandbox.cpus, 1.0).")
    var cpus: Double?

    @Option(name: .customLong("env"), help: "Pass NAME from the caller's environment, or set NAME=VALUE (repeatable).")
    var environment: [String] = []

    @Option(name: .customLong("bind"), help: "Bind a host path read-write: SRC[:DEST] (repeatable).")
    var binds: [String] = []

    @Option(name: .customLong("ro-bind"), help: "Bind a host path read-only: SRC[:DEST] (repeatable).")
    var readOnlyBinds: [String] = []

    @Option(name: .customLong("block"), help: "Hide a path inside the sandbox behind an empty mount (repeatable).")
    var blocked: [String] = []

    @Option(help: """
        The run's audit log, outside the workspace (default: sentinel-audit.log beside the workspace, in its parent \
        directory): its start and end records and the native proxy's; the guard's and a proxy container's logs go \
        beside it (AUDITLOG.guard/, AUDITLOG.proxy/).
        """)
    var auditLog: String?

    @Flag(help: "Print one JSON object with the run's status on stderr at the end.")
    var jsonStatus = false

    @Option(help: "Write the JSON status object to this file instead of stderr.")
    var jsonStatusFile: String?

    @Flag(help: "Refuse to run when the kernel has no Landlock.")
    var requireLandlock = false

    @Option(help: "Write a seccomp profile suggested from the syscalls the command made (needs --seccomp-mode log).")
    var seccompSuggest: String?

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).")
    var command: [String] = []

    /// Runs the command in the sandbox; exits with its status.
    public mutating func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var request: IsolateRequest
        do {
            request = try resolve(environment: environment)
        } catch let error as IsolateError {
            IsolateOutput.error(error.description)
            throw ExitCode(2)
        }
        // (CleanExit for --help propagates to the entry point, which prints the help.)
        for warning in request.warnings { IsolateOutput.warning(warning) }
        for note in request.policyNotes { IsolateOutput.note(note) }
        if request.docker == nil, let program = request.spec.command.first,
            let note = CommandVisibility.pathNote(program, spec: request.spec, callerPath: environment["PATH"]) {
            IsolateOutput.note(note)
        }
        // A dry run prints the docker command and runs nothing, so it leaves no audit record.
        if let docker = request.docker, dryRun {
            do {
                _ = try runDocker(request, docker, environment: environment)
            } catch {
                IsolateOutput.error(error.description)
                throw ExitCode(error.exitStatus)
            }
            return
        }
        let audit: AuditLog
        do {
            audit = try IsolateAudit.start(request, environment: environment)
        } catch let error as IsolateError {
            IsolateOutput.error(error.description)
            throw ExitCode(2)
        }
        // Before anything runs, so a long run can be followed (`sentinel audit tail -f --run ID`);
        // stderr, like everything the launcher says, so the workload's stdout stays its own.
        IsolateOutput.stderr("sentinel-isolate: \(IsolateAudit.recordsLine(request))\n")
        // --network proxied: the policy proxy the sandbox's relay connects to, started for this
        // run (a separate process, so this launcher stays single-threaded) unless one was given.
        var proxy: IsolateProxy?
        defer { proxy?.stop() }
        do {
            if request.spec.network == .proxied && request.docker == nil {
                if let socket = request.proxySocket {
                    request.spec.proxySocket = socket
                } else {
                    let started = try IsolateProxy.start(request: request)
                    proxy = started
                    request.spec.proxySocket = started.socketPath
                    if request.inspectsHosts { try started.giveCertificateAuthority(to: &request) }
                }
            } else if request.docker?.proxyInspection != nil, let directory = request.caDirectory {
                // The proxy container gets a copy of the caller's CA: make it first if it is new.
                try IsolateProxy.makeCertificateAuthority(in: directory)
            }
        } catch let error as IsolateError {
            IsolateOutput.error(error.description)
            var failed = SandboxRunReport(command: request.spec.command, workspace: request.spec.workspace)
            failed.error = error.description
            failed.exitStatus = 2
            if let problem = IsolateAudit.end(audit, report: failed, request: request) { IsolateOutput.error(problem) }
            writeStatus(failed, request: request)
            throw ExitCode(2)
        }
        var report: SandboxRunReport
        do {
            if let docker = request.docker {
                guard let dockerReport = try runDocker(request, docker, environment: environment) else { return }
                report = dockerReport
            } else {
                report = try NativeSandbox().runBlocking(request.spec, callerEnvironment: environment)
            }
        } catch {
            IsolateOutput.error(error.description)
            var failed = SandboxRunReport(command: request.spec.command, workspace: request.spec.workspace)
            failed.error = error.description
            failed.exitStatus = error.exitStatus
            if let problem = IsolateAudit.end(audit, report: failed, request: request) { IsolateOutput.error(problem) }
            writeStatus(failed, request: request)
            throw ExitCode(error.exitStatus)
        }
        for warning in report.warnings { IsolateOutput.warning(warning) }
        for denial in report.denials { IsolateOutput.warning(denial) }
        // Under the guard the command is the guard's to start, and "not found" is its exit 127.
        if request.docker == nil, request.spec.guardInside != nil, report.exitStatus == 127, let program = request.spec.command.first,
            let outside = CommandVisibility.outsideReason(program, spec: request.spec, callerPath: environment["PATH"]) {
            IsolateOutput.note(outside)
        }
        // In a container "not found" is exit 127 as well, and the image, not the host, was searched.
        if request.docker != nil, report.exitStatus == 127, let program = request.spec.command.first,
            let outside = CommandVisibility.containerOutsideReason(program, spec: request.spec) {
            IsolateOutput.note(outside)
        }
        if request.spec.seccomp.mode == .log && request.docker == nil {
            if report.seccompWouldDeny.isEmpty {
                IsolateOutput.stderr("sentinel-isolate: seccomp log mode: no call was outside the profile.\n")
            } else {
                IsolateOutput.stderr("sentinel-isolate: seccomp log mode: calls the profile would have denied:\n")
                for line in report.seccompWouldDeny { IsolateOutput.stderr("  \(line)\n") }
            }
        }
        report.warnings = request.warnings + request.policyNotes + report.warnings
        if let problem = IsolateAudit.end(audit, report: report, request: request) {
            IsolateOutput.error(problem)
            report.error = problem
        }
        writeStatus(report, request: request)
        throw ExitCode(report.exitStatus)
    }

    private func writeStatus(_ report: SandboxRunReport, request: IsolateRequest) {
        guard jsonStatus || jsonStatusFile != nil else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(report) else { return }
        let text = String(decoding: data, as: UTF8.self) + "\n"
        if let file = request.jsonStatusFile {
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd >= 0 {
                _ = text.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                return
            }
            IsolateOutput.error("Could not write the JSON status to \(file): \(String(cString: strerror(errno))).")
        }
        IsolateOutput.stderr(text)
    }

    /// Turns flags and environment into a spec, with the original's validation order.
    func resolve(environment env: [String: String]) throws -> IsolateRequest {
        var warnings: [String] = []
        var command = self.command
        if command.first == "--" {
            command.removeFirst()
        } else if let first = command.first, first.hasPrefix("-") {
            // The command is captured verbatim, so an option ArgumentParser did not know lands
            // here: treat it as the usage error it is (argparse did the same before REMAINDER).
            if first == "--help" || first == "-h" { throw CleanExit.helpRequest(Self.self) }
            throw IsolateError("Unknown option '\(first)'. Put the command after --.")
        }
        guard !command.isEmpty else {
            throw IsolateError("No command provided. Example: sentinel-isolate -- python app.py")
        }
        let backend = (self.backend ?? env["SENTINEL_BACKEND"].flatMap { $0.isEmpty ? nil : $0 } ?? "native").lowercased()
        guard backend == "native" || backend == "docker" else {
            throw IsolateError("backend must be one of: native, docker")
        }
        if self.guard && noGuard {
            throw IsolateError("--guard and --no-guard contradict each other; keep one (without either, the guard does not run).")
        }
        let guarded = self.guard
        let workspace = PathResolution.absolute(self.workspace)
        let policy = PathResolution.absolute(self.policy)
        let seccompFile = PathResolution.absolute(self.seccomp)

        var isDirectory = false
        guard PathResolution.exists(workspace, isDirectory: &isDirectory) else {
            throw IsolateError(
                "Workspace does not exist: \(workspace). Create it (mkdir -p \(ShellQuote.quote(workspace))) or pick another with "
                    + "--workspace DIR (the default is \(Defaults.workspace), in the directory you run from).")
        }
        guard isDirectory else {
            throw IsolateError("Workspace is not a directory: \(workspace). Pick a directory with --workspace DIR.")
        }
        guard PathResolution.exists(policy, isDirectory: &isDirectory) else {
            throw IsolateError(
                "Policy file does not exist: \(policy). Create a starter policy with `sentinel policy init \(ShellQuote.quote(policy))`, "
                    + "or pass --policy FILE.")
        }
        guard !isDirectory, PathResolution.isRegularFile(policy) else { throw IsolateError("Policy file is not a file: \(policy)") }

        guard ["none", "bridge", "host", "proxied"].contains(network) else {
            throw IsolateError("network_mode must be one of: none, proxied, bridge, host")
        }
        // Production (SENTINEL_PRODUCTION or SENTINEL_ENV=production, one definition in
        // ProductionMode): proxied egress is the enforced topology production asks for, so it
        // needs no exception. The backends check every rule again before they start.
        let production = ProductionMode.isOn(env)
        do {
            try SandboxProduction.checkNetwork(isolated: network == "none" || network == "proxied", environment: env)
        } catch {
            throw IsolateError(error.description)
        }
        let proxy = (self.proxy ?? env["SENTINEL_PROXY"] ?? "").trimmingWhitespace()
        let enforceProxy = self.enforceProxy || Truthy.check(env["SENTINEL_ENFORCE_PROXY"])
        if network != "none", network != "proxied", enforceProxy, proxy.isEmpty {
            throw IsolateError("Networked isolation with --enforce-proxy requires --proxy (or SENTINEL_PROXY).")
        }
        let modeText = (self.seccompMode ?? env["SENTINEL_SECCOMP_MODE"] ?? "enforce").trimmingWhitespace().lowercased()
        guard let seccompMode = SandboxSpec.SeccompSettings.Mode(rawValue: modeText) else {
            throw IsolateError("seccomp_mode must be one of: enforce, log, off")
        }
        do {
            try SandboxProduction.checkSeccomp(seccompMode, environment: env)
            // Landlock is the native backend's own layer; Docker applies none (the guard inside does).
            if backend == "native" { try SandboxProduction.checkLandlock(environment: env) }
        } catch {
            throw IsolateError(error.description)
        }
        let profile = (self.seccompProfile ?? env["SENTINEL_SECCOMP_PROFILE"] ?? "strict").trimmingWhitespace().lowercased()
        guard ["strict", "datasci", "custom"].contains(profile) else {
            throw IsolateError("seccomp_profile must be one of: strict, datasci, custom")
        }
        if network == "bridge" && backend == "native" {
            throw IsolateError(
                "--network bridge is not available with the native backend: use --network none (no network), "
                    + "--network host (no isolation), or --network proxied (egress only through the policy proxy).")
        }
        if network == "proxied" && backend == "docker" && proxySocket != nil {
            throw IsolateError(
                "--proxy-socket applies to the native backend; with --backend docker, --network proxied starts a proxy "
                    + "container for the run (drop --proxy-socket).")
        }
        if network != "proxied", proxySocket != nil || proxyHostsFile != nil || caDir != nil || upstreamCA != nil {
            throw IsolateError("--proxy-socket, --proxy-hosts-file, --ca-dir and --upstream-ca apply only to --network proxied.")
        }
        if let upstreamCA, !PathResolution.isRegularFile(PathResolution.absolute(upstreamCA)) {
            throw IsolateError("--upstream-ca \(upstreamCA) is not a readable file of PEM certificates.")
        }
        if network == "proxied", !proxy.isEmpty {
            throw IsolateError(
                "--network proxied relays to a policy proxy's Unix socket, not to a proxy URL: drop --proxy "
                    + "(sentinel-isolate then starts `sentinel proxy` for the run) or pass --proxy-socket PATH.")
        }
        if let proxyHostsFile, !PathResolution.isRegularFile(PathResolution.absolute(proxyHostsFile)) {
            throw IsolateError("Proxy hosts file does not exist: \(PathResolution.absolute(proxyHostsFile))")
        }
        if network == "host" && backend == "native" {
            warnings.append("--network host: the sandbox shares the host's network, including services on 127.0.0.1.")
        }

        // §6.5: which profile file. The shipped profiles are also built in: when the default
        // file is not in ./seccomp (a run from another directory), the built-in copy is used.
        var profilePath: String?
        var builtinProfile: String?
        if seccompMode != .off {
            let defaultPath = Defaults.seccomp
            func shipped(_ file: String, _ name: String) {
                let path = PathResolution.absolute(file)
                if PathResolution.isRegularFile(path) { profilePath = path } else { builtinProfile = name }
            }
            switch profile {
            case "datasci": shipped("./seccomp/sentinel-seccomp-datasci.json", "datasci")
            default:
                if self.seccomp != defaultPath { profilePath = seccompFile } else { shipped(defaultPath, "strict") }
            }
            if let path = profilePath, !PathResolution.isRegularFile(path) {
                throw IsolateError("Seccomp profile does not exist: \(path)")
            }
        }
        if seccompSuggest != nil && seccompMode != .log {
            throw IsolateError("--seccomp-suggest needs --seccomp-mode log: it lists the calls the profile would deny, which only log mode lets through.")
        }

        // The policy the sandbox will show at /run/sentinel/policy.yaml also shapes it: its paths
        // become binds and masks, its sandbox section gives the limits the flags do not.
        let loaded = try IsolatePolicy.load(policy, environment: env)
        warnings += loaded.warnings.map(\.description)
        let settings = loaded.document.sandbox
        var limits = SandboxSpec.Limits()
        let pidsLimit = self.pidsLimit ?? settings.pidsLimit
        guard pidsLimit > 0 else { throw IsolateError("--pids-limit must be a positive number.") }
        limits.pids = pidsLimit
        if let memory {
            guard let bytes = ByteSize.parse(memory), bytes > 0 else {
                throw IsolateError("--memory must be a size such as 512m, 1g or 1048576 (got \(memory)).")
            }
            limits.memoryBytes = bytes
        } else {
            limits.memoryBytes = Int64(clamping: settings.memoryBytes)
        }
        let cpus = self.cpus ?? settings.cpus
        guard cpus > 0, cpus.isFinite else { throw IsolateError("--cpus must be a positive number such as 1.0 or 0.5.") }
        limits.cpus = cpus
        limits.tmpBytes = Int64(clamping: settings.tmpfsSizeBytes)

        var explicit: [String: String] = [:]
        var allowList: [String] = settings.envAllow.filter(EnvironmentName.isValid)
        for item in environment {
            if let equals = item.firstIndex(of: "=") {
                let name = String(item[..<equals])
                guard EnvironmentName.isValid(name) else { throw IsolateError("--env needs NAME or NAME=VALUE (got \(item)).") }
                explicit[name] = String(item[item.index(after: equals)...])
            } else {
                guard EnvironmentName.isValid(item) else { throw IsolateError("--env needs NAME or NAME=VALUE (got \(item)).") }
                allowList.append(item)
            }
        }
        // §6.4 step 11: proxy variables when a proxy is set (harmless with --network none).
        if network == "proxied" {
            let url = "http://127.0.0.1:\(IsolateProxy.port)"
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"] { explicit[name] = url }
            explicit["NO_PROXY"] = "localhost,127.0.0.1,::1"
            explicit["no_proxy"] = explicit["NO_PROXY"]
        } else if !proxy.isEmpty {
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] { explicit[name] = proxy }
            let noProxy = self.noProxy ?? env["SENTINEL_NO_PROXY"] ?? env["NO_PROXY"] ?? env["no_proxy"] ?? ""
            if !noProxy.isEmpty {
                explicit["NO_PROXY"] = noProxy
                explicit["no_proxy"] = noProxy
            }
        }

        // The run's id, for every record of the run: this launcher's, the guard's inside and the
        // proxy's. Taken from SENTINEL_RUN_ID when a script set it (checked: a bad value is an
        // error, never replaced), else new. The workload sees it too; it names, it grants nothing.
        let runID: AuditRunID
        do {
            runID = try AuditRunID.resolve(env).id
        } catch {
            throw IsolateError("\(error) Nothing was run.")
        }
        explicit[AuditRunID.environmentVariable] = runID.rawValue

        // A credential the proxy injects (allowed_hosts inject) never enters the sandbox, even
        // when the policy's env list or --env names it: that is what inspection is for.
        let injectedVariables = network == "proxied"
            ? Array(Set(loaded.document.allowedHosts.filter(\.inspect).flatMap { $0.inject.flatMap(\.variables) })).sorted() : []
        for name in injectedVariables where allowList.contains(name) || explicit[name] != nil {
            allowList.removeAll { $0 == name }
            explicit[name] = nil
            warnings.append("\(name) is a credential the proxy injects (allowed_hosts inject): it is kept out of the sandbox.")
        }

        var bindList: [SandboxSpec.Bind] = []
        for (items, readOnly) in [(binds, false), (readOnlyBinds, true)] {
            for item in items {
                let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
                guard let first = parts.first, !first.isEmpty else { throw IsolateError("--bind needs SRC[:DEST] (got \(item)).") }
                let source = PathResolution.absolute(first)
                let destination = parts.count > 1 ? parts[1] : source
                bindList.append(SandboxSpec.Bind(source: source, destination: destination, readOnly: readOnly))
            }
        }
        var blocked = self.blocked
        // The policy's paths mean what they mean on the host: relative entries against the
        // directory this runs in, `~` against the caller's home (as `sentinel guard` reads them).
        let hostDirectory = PathResolution.absolute(".")
        let hostHome = PathResolution.home(env)
        let auditPath = try IsolateAudit.path(explicit: auditLog, workspace: workspace)
        let mounts: PolicyMounts
        do {
            mounts = try PolicyMounts.plan(
                document: loaded.document, hostWorkspace: workspace, hostDirectory: hostDirectory, hostHome: hostHome,
                existingBinds: bindList,
                protectedPaths: [
                    policy, auditPath, auditPath + ".anchor", RunRecords.guardDirectory(forLog: auditPath),
                    RunRecords.proxyDirectory(forLog: auditPath),
                ]
                    .map(PathResolution.normalize))
        } catch {
            throw IsolateError("The policy \(policy) cannot be applied to the sandbox: \(error.description)")
        }
        bindList += mounts.binds.filter { bind in !bindList.contains(where: { $0.destination == bind.destination }) }
        // A container's system directories are the image's, not the host's: masking them there
        // would hide nothing of the host's (and Docker refuses a tmpfs over a file).
        let masks = mounts.blockedPaths + (backend == "native" ? mounts.systemBlockedPaths : [])
        for path in masks where !blocked.contains(path) { blocked.append(path) }

        var guardInside: SandboxSpec.GuardInside?
        if guarded {
            // The guard inside reads the policy's paths as the host does (SandboxLayout), asks
            // the way the caller asked, and, in production, checks the very text verified here.
            for (name, value) in SandboxLayout.hostVariables(workspace: workspace, hostDirectory: hostDirectory, hostHome: hostHome) {
                explicit[name] = value
            }
            if let mode = env["SENTINEL_APPROVAL_MODE"], !mode.isEmpty { explicit["SENTINEL_APPROVAL_MODE"] = mode }
            if backend == "native" {
                // The relay of --network proxied, which the policy cannot name (Docker's proxied
                // network does the same with the proxy container's address).
                if network == "proxied" { explicit["SENTINEL_GUARD_ALLOW_CONNECT"] = "127.0.0.1:\(IsolateProxy.port)" }
                guard let binary = IsolateProxy.sentinelBinary() else {
                    throw IsolateError(
                        "--guard runs `sentinel guard` inside the sandbox and needs the `sentinel` binary next to sentinel-isolate or "
                            + "on PATH: build it with `swift build --product sentinel`, or run without --guard.")
                }
                guardInside = SandboxSpec.GuardInside(binary: binary, recordsDirectory: RunRecords.guardDirectory(forLog: auditPath))
                if production {
                    explicit[SentinelEnvironment.production] = "true"
                    explicit[SentinelEnvironment.policyImmutable] = "true"
                    explicit[SentinelEnvironment.policySHA256] = loaded.sha256
                    if ProductionMode.allowsNetwork(env) { explicit[ProductionMode.allowNetworkName] = "true" }
                }
            }
            if let rules = try? PathRules(document: loaded.document, baseDirectory: hostDirectory, homeDirectory: hostHome),
                case let verdict = rules.check(workspace + "/.sentinel-write-check", access: .write, workingDirectory: hostDirectory),
                !verdict.isAllowed {
                warnings.append(
                    "--guard: the policy's allowed_paths do not cover the workspace \(workspace), so the guard will refuse the command's "
                        + "writes there (\(verdict.reason)). Add it to allowed_paths (relative to \(hostDirectory), or absolute).")
            }
        }

        let spec = SandboxSpec(
            command: command, workspace: workspace, policyFile: policy,
            network: network == "host" ? .host : (network == "proxied" ? .proxied : .none), binds: bindList, blockedPaths: blocked,
            environmentAllowList: allowList, environment: explicit, limits: limits,
            // In production the native sandbox refuses to run without Landlock, as with the flag.
            requireLandlock: requireLandlock || (production && backend == "native"),
            seccomp: SandboxSpec.SeccompSettings(
                mode: seccompMode, profilePath: profilePath, suggestPath: seccompSuggest.map(PathResolution.absolute),
                builtinProfile: builtinProfile),
            guardInside: guardInside)
        do {
            // A proxied run gets its socket only when the proxy starts (after this validation).
            var checked = spec
            if checked.network == .proxied, checked.proxySocket == nil { checked.proxySocket = "/run/sentinel/proxy.sock" }
            try SandboxValidation.validate(checked)
        } catch {
            throw IsolateError(error.description)
        }
        // Inspected hosts (docs/PROXY.md): the run's proxy needs the CA directory, and the sandbox
        // the CA certificate, which the proxy makes there on first use.
        let inspects = network == "proxied" && loaded.document.allowedHosts.contains { $0.inspect }
        var caDirectory: String?
        if inspects || caDir != nil {
            if let caDir {
                caDirectory = PathResolution.absolute(caDir)
            } else if let state = env["XDG_STATE_HOME"], state.hasPrefix("/") {
                caDirectory = state + "/sentinel/ca"
            } else if let home = env["HOME"], home.hasPrefix("/") {
                caDirectory = home + "/.local/state/sentinel/ca"
            } else {
                throw IsolateError("The policy inspects hosts, and the Sentinel CA has no place: neither XDG_STATE_HOME nor "
                    + "HOME is an absolute path. Set one, or pass --ca-dir DIR.")
            }
        }
        var docker = backend == "docker" ? try dockerOptions(network: network, environment: env, auditLog: auditPath) : nil
        if inspects, let caDirectory {
            docker?.proxyInspection = DockerProxyInspection(
                caDirectory: caDirectory, upstreamCA: upstreamCA.map(PathResolution.absolute), injectedVariables: injectedVariables)
        }
        return IsolateRequest(
            proxySocket: proxySocket.map(PathResolution.absolute),
            proxyHostsFile: proxyHostsFile.map(PathResolution.absolute),
            caDirectory: caDirectory, upstreamCA: upstreamCA.map(PathResolution.absolute), inspectsHosts: inspects,
            spec: spec, warnings: warnings, policyNotes: mounts.notes, policySHA256: loaded.sha256, auditLog: auditPath,
            auditLogIsDefault: auditLog == nil, runID: runID,
            jsonStatusFile: jsonStatusFile.map(PathResolution.absolute),
            docker: docker)
    }
}

/// A resolved `isolate` invocation.
struct IsolateRequest {
    /// `--proxy-socket`: a running proxy to relay to (else one is started for a proxied run).
    var proxySocket: String?
    var proxyHostsFile: String?
    /// `--ca-dir` (or the default) for the run's proxy, when the policy inspects hosts.
    var caDirectory: String?
    /// `--upstream-ca` for the run's proxy.
    var upstreamCA: String?
    /// Whether the policy has an `inspect: true` entry: the sandbox then gets the CA.
    var inspectsHosts = false
    var spec: SandboxSpec
    var warnings: [String]
    /// Policy entries the sandbox did not apply, and why (reported in the status and audit).
    var policyNotes: [String] = []
    var policySHA256: String = ""
    var auditLog: String
    /// Whether `auditLog` is the default (beside the workspace), which the records line says.
    var auditLogIsDefault = false
    /// The run's id, stamped on every record of the run (``AuditRunID``).
    var runID: AuditRunID
    var jsonStatusFile: String?
    /// Set for `--backend docker`.
    var docker: DockerRunOptions?
}

/// A command-line mistake: one sentence, exit status 2.
struct IsolateError: Error, CustomStringConvertible {
    enum Code { case invalidArgument }
    let code = Code.invalidArgument
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where the audit writer will be called (wired when SentinelAudit's writer lands on main).
enum IsolatePolicy {
    /// Loads and validates the policy file the sandbox will show. `SENTINEL_POLICY_CONTENT` is
    /// ignored (the sandbox mounts the file, so the file is what must be checked); a digest given
    /// in the environment is verified, and in production one must be given and the policy
    /// declared immutable, as everywhere else (the original's isolate left both out).
    static func load(_ path: String, environment: [String: String]) throws -> LoadedPolicy {
        var policyEnvironment = environment
        policyEnvironment[SentinelEnvironment.policyContent] = nil
        do {
            return try PolicyLoader(environment: policyEnvironment).load(path: path)
        } catch {
            throw IsolateError("The policy \(path) cannot be used: \(error.description)")
        }
    }
}

/// The run's audit trail: a start record before anything runs (if it cannot be written, the run
/// is refused) and an end record with the status, both outside the workspace so the sandboxed
/// command cannot edit its own trail.
enum IsolateAudit {
    /// The log's path: `--audit-log`, else `sentinel-audit.log` beside the workspace. A path
    /// inside the workspace (after resolving symlinks) is refused.
    static func path(explicit: String?, workspace: String) throws -> String {
        let path: String
        if let explicit {
            path = PathResolution.absolute(explicit)
        } else {
            let parent = workspace.split(separator: "/").dropLast().joined(separator: "/")
            path = "/" + parent + (parent.isEmpty ? "" : "/") + "sentinel-audit.log"
        }
        let realWorkspace = PathResolution.normalize(workspace)
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let realPath = PathResolution.normalize(directory.isEmpty ? "/" : directory) + "/" + (path.split(separator: "/").last.map(String.init) ?? "")
        if realPath == realWorkspace || realPath.hasPrefix(realWorkspace == "/" ? "/" : realWorkspace + "/") {
            throw IsolateError(
                "The audit log \(path) is inside the workspace \(workspace), where the sandboxed command could edit it. "
                    + "Pass --audit-log with a path outside the workspace.")
        }
        return path
    }

    /// `records of run ID in AUDITLOG (…)`: where each part of the run records, so that nobody
    /// has to know the sibling directories' names (or that the default log is outside the
    /// workspace, in its parent directory) to find them.
    static func recordsLine(_ request: IsolateRequest) -> String {
        var others: [(String, String)] = []
        if request.spec.guardInside != nil || request.docker?.guardInContainer == true {
            others.append(("guard", RunRecords.guardLog(forLog: request.auditLog)))
        }
        if request.spec.network == .proxied {
            if request.docker != nil {
                others.append(("proxy", RunRecords.proxyLog(forLog: request.auditLog)))
            } else if let socket = request.proxySocket {
                others.append(("proxy", "the log of the running proxy at \(socket), under its own run id"))
            } else {
                others.append(("proxy", "this log"))
            }
        }
        // The default is the workspace's parent directory (with --workspace . that is outside the
        // project): where the command cannot reach it, which is the point, but not where one looks.
        let note = request.auditLogIsDefault ? "the default place, beside the workspace; --audit-log PATH picks another" : nil
        return RunRecords.line(run: request.runID, log: request.auditLog, note: note, others: others)
    }

    /// Opens the log and writes the start record.
    static func start(_ request: IsolateRequest, environment: [String: String]) throws -> AuditLog {
        do {
            let log = try AuditLog(
                path: request.auditLog,
                options: AuditLog.Options(key: try AuditKey.fromEnvironment(environment), runID: request.runID))
            let spec = request.spec
            var details = [
                "backend": request.docker == nil ? "native" : "docker", "workspace": spec.workspace, "policy": spec.policyFile ?? "",
                "network": spec.network.rawValue, "seccomp": spec.seccomp.mode.rawValue,
                "limits": "pids=\(spec.limits.pids) memory=\(spec.limits.memoryBytes) cpus=\(spec.limits.cpus)",
            ]
            if !spec.binds.isEmpty {
                details["binds"] = spec.binds.map { "\($0.source)->\($0.destination)\($0.readOnly ? ":ro" : "")" }.joined(separator: ", ")
            }
            if !spec.blockedPaths.isEmpty { details["blocked"] = spec.blockedPaths.joined(separator: ", ") }
            if !request.policyNotes.isEmpty { details["policy_notes"] = request.policyNotes.joined(separator: " ") }
            _ = try log.append(AuditEvent(
                mode: .isolate, action: .runStart, target: CommandLineText.join(spec.command), decision: .info,
                reason: "Sandbox run started.", approver: nil, policySHA256: request.policySHA256, severity: .info,
                details: details))
            return log
        } catch {
            throw IsolateError(
                "Could not write the start record to the audit log \(request.auditLog): \(error). "
                    + "Nothing was run; fix the path or its permissions, or pass --audit-log.")
        }
    }

    /// Writes the end record; returns a sentence when it could not.
    static func end(_ log: AuditLog, report: SandboxRunReport, request: IsolateRequest) -> String? {
        var details = [
            "exit_status": String(report.exitStatus),
            "duration_seconds": String((report.durationSeconds * 1000).rounded() / 1000),
            "landlock": report.protections.landlock, "seccomp": report.protections.seccomp,
            "namespaces": report.protections.namespaces.joined(separator: ","),
            "limits": report.protections.limits, "guard_inside": report.protections.guardInside,
        ]
        if let signal = report.signal { details["signal"] = String(signal) }
        if !report.denials.isEmpty { details["denials"] = report.denials.joined(separator: " | ") }
        if !report.seccompWouldDeny.isEmpty { details["seccomp_would_deny"] = report.seccompWouldDeny.joined(separator: ", ") }
        if let error = report.error { details["error"] = error }
        defer { log.close() }
        do {
            _ = try log.append(AuditEvent(
                mode: .isolate, action: .runEnd, target: CommandLineText.join(request.spec.command), decision: .info,
                reason: report.error == nil ? "Sandbox run ended with status \(report.exitStatus)." : "Sandbox run failed: \(report.error ?? "")",
                approver: nil, policySHA256: request.policySHA256, severity: report.error == nil ? .info : .high,
                details: details))
            return nil
        } catch {
            return "Could not write the end record to the audit log \(request.auditLog): \(error)."
        }
    }
}

/// The `sentinel proxy` a proxied run relays to: started with `--unix` in a private directory,
/// with the run's policy and audit log (one trail for the run and its requests), stopped after.
struct IsolateProxy {
    /// The loopback port inside the sandbox that PID 1 relays (SandboxStage+Relay.swift).
    static let port = 3128

    let pid: pid_t
    let directory: String
    let socketPath: String

    static func start(request: IsolateRequest) throws -> IsolateProxy {
        guard let binary = sentinelBinary() else {
            throw IsolateError(
                "--network proxied needs the `sentinel` binary (for `sentinel proxy`) next to sentinel-isolate or on PATH; "
                    + "build it with `swift build --product sentinel`, or pass --proxy-socket PATH of a running proxy.")
        }
        var template = Array("/tmp/sentinel-proxy-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw IsolateError("Could not create a directory for the proxy's socket: \(String(cString: strerror(errno))).")
        }
        let directory = String(cString: made)
        let socketPath = directory + "/proxy.sock"
        var arguments = [binary, "proxy", "--unix", socketPath, "--audit-log", request.auditLog]
        if let policy = request.spec.policyFile { arguments += ["--policy", policy] }
        if let hosts = request.proxyHostsFile { arguments += ["--hosts-file", hosts] }
        if let directory = request.caDirectory { arguments += ["--ca-dir", directory] }
        if let file = request.upstreamCA { arguments += ["--upstream-ca", file] }
        // The run's id, so the proxy's records in the run's log carry it too.
        let (pid, spawned) = spawnSentinel(
            binary, arguments, stdoutToNull: false, environment: [AuditRunID.environmentVariable: request.runID.rawValue])
        guard spawned == 0 else {
            rmdir(directory)
            throw IsolateError("Could not start \(binary) proxy: \(String(cString: strerror(spawned))).")
        }
        let proxy = IsolateProxy(pid: pid, directory: directory, socketPath: socketPath)
        // Wait for the socket (the proxy loads and checks the policy first), at most 15 s.
        for _ in 0..<1500 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                rmdir(directory)
                throw IsolateError("`sentinel proxy` stopped before it listened (status \(status >> 8)); its message is above.")
            }
            var info = stat()
            if stat(socketPath, &info) == 0 {
                // PID 1 of a root caller's sandbox runs as the workload identity outside too; the
                // socket (0600) and its directory must be its own for the relay to connect.
                if geteuid() == 0 {
                    let id = request.spec.rootCallerWorkloadID
                    _ = chown(directory, id, id)
                    _ = chown(socketPath, id, id)
                }
                return proxy
            }
            usleep(10_000)
        }
        proxy.stop()
        throw IsolateError("`sentinel proxy` did not create its socket within 15 s.")
    }

    /// Makes (or checks) the Sentinel CA in `directory` with `sentinel ca`, whose message says
    /// what is wrong when it cannot; its summary on stdout is not shown.
    static func makeCertificateAuthority(in directory: String) throws {
        guard let binary = sentinelBinary() else {
            throw IsolateError("The policy inspects hosts, and making the Sentinel CA needs the `sentinel` binary next to "
                + "sentinel-isolate or on PATH; build it with `swift build --product sentinel`.")
        }
        let (pid, spawned) = spawnSentinel(binary, [binary, "ca", "--ca-dir", directory], stdoutToNull: true)
        guard spawned == 0 else { throw IsolateError("Could not start \(binary) ca: \(String(cString: strerror(spawned))).") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw IsolateError("The Sentinel CA in \(directory) could not be made or loaded (its message is above); nothing was run.")
        }
    }

    /// Where the sandbox finds the Sentinel CA: a tmpfs of the sandbox (`/run`), read-only binds.
    static let certificateDirectory = SandboxCertificates.directory

    /// Gives the sandbox the CA certificate of inspected hosts, and points TLS clients at it.
    ///
    /// The proxy has made (or loaded) the CA before it listened. Its certificate and bundle are
    /// copied into a directory of this run's own (never the CA directory, which holds the key and
    /// may not be readable by a root caller's workload identity), which is bound read-only. A
    /// directory, not the two files: the native sandbox binds directories (a single-file bind
    /// onto the /run tmpfs fails with EINVAL there).
    func giveCertificateAuthority(to request: inout IsolateRequest) throws {
        guard let source = request.caDirectory else { return }
        let copies = directory + "/ca"
        guard mkdir(copies, 0o755) == 0 || errno == EEXIST else {
            throw IsolateError("Could not create \(copies) for the sandbox's CA certificate: \(String(cString: strerror(errno))).")
        }
        let owner = request.spec.rootCallerWorkloadID
        if geteuid() == 0 { _ = chown(copies, owner, owner) }
        for name in ["ca.pem", "ca-bundle.pem"] {
            let copy = copies + "/" + name
            guard let data = FileManager.default.contents(atPath: source + "/" + name),
                  FileManager.default.createFile(atPath: copy, contents: data, attributes: [.posixPermissions: 0o644]) else {
                throw IsolateError("The run's proxy inspects hosts, but \(source)/\(name) could not be copied for the "
                    + "sandbox; check the CA directory (--ca-dir).")
            }
            if geteuid() == 0 { _ = chown(copy, owner, owner) }
        }
        request.spec.binds.append(SandboxSpec.Bind(source: copies, destination: Self.certificateDirectory, readOnly: true))
        for (name, value) in SandboxCertificates.environment { request.spec.environment[name] = value }
    }

    /// SIGTERM, wait (the proxy writes its stop record and removes the socket), then tidy up.
    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        unlink(socketPath)
        unlink(directory + "/ca/ca.pem")
        unlink(directory + "/ca/ca-bundle.pem")
        rmdir(directory + "/ca")
        rmdir(directory)
    }

    /// Starts `binary` with `arguments` (argv[0] included) and this process's environment with
    /// `environment` set over it; returns the pid and posix_spawn's result (0 on success).
    static func spawnSentinel(
        _ binary: String, _ arguments: [String], stdoutToNull: Bool, environment: [String: String] = [:]
    ) -> (pid: pid_t, result: Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdoutToNull { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { $1 }
        var envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, binary, &actions, nil, &argv, &envp)
        return (pid, result)
    }

    /// `sentinel` beside this executable, else on PATH.
    static func sentinelBinary() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            let own = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let candidate = String(own[..<(own.lastIndex(of: "/") ?? own.startIndex)]) + "/sentinel"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where access("\(directory)/sentinel", X_OK) == 0 {
            return "\(directory)/sentinel"
        }
        return nil
    }
}

/// A command line as one readable string (for audit targets).
enum CommandLineText {
    static func join(_ arguments: [String]) -> String {
        arguments.map { argument in
            argument.isEmpty || argument.contains(where: { " \t\n'\"\\$`;&|<>()*?[]{}#~".contains($0) })
                ? "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'" : argument
        }.joined(separator: " ")
    }
}

/// Output helpers: everything the launcher says goes to stderr, prefixed, so that the
/// workload's own stdout stays clean.
enum IsolateOutput {
    static func stderr(_ text: String) {
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
    static func error(_ text: String) { stderr("sentinel-isolate: \(text)\n") }
    static func warning(_ text: String) { stderr("sentinel-isolate: warning: \(text)\n") }
    static func note(_ text: String) { stderr("sentinel-isolate: note: \(text)\n") }
}

/// The original's truthy set: true/1/yes/on, trimmed, case-insensitive.
public enum Truthy {
    /// Whether `value` is truthy.
    public static func check(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["true", "1", "yes", "on"].contains(value.trimmingWhitespace().lowercased())
    }
}

/// Relative paths resolve against the current directory (the original used the repo root).
enum PathResolution {
    static func absolute(_ path: String) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/"), let home = ProcessInfo.processInfo.environment["HOME"] {
            path = home + path.dropFirst()
        }
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let cwd = getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
            path = cwd + "/" + path
        }
        return normalize(path)
    }

    /// Removes `.` and `..` lexically, then resolves symlinks when the path exists.
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast(); continue }
            parts.append(part)
        }
        let lexical = "/" + parts.joined(separator: "/")
        guard let resolved = realpath(lexical, nil) else { return lexical }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The caller's home (`$HOME`, else the password database), canonical when it exists: what the
    /// policy's `~` means on the host.
    static func home(_ environment: [String: String]) -> String {
        var home = environment["HOME"] ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir { home = String(cString: directory) }
        return home.hasPrefix("/") ? normalize(home) : "/"
    }

    static func exists(_ path: String, isDirectory: inout Bool) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        isDirectory = info.st_mode & S_IFMT == S_IFDIR
        return true
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }
}

/// Sizes like Docker's `--memory`: a number with an optional b, k, m or g suffix.
enum ByteSize {
    static func parse(_ text: String) -> Int64? {
        let lower = text.trimmingWhitespace().lowercased()
        let units: [(String, Int64)] = [("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let value = Double(lower.dropLast(suffix.count)), value > 0 else { return nil }
            return Int64(value * Double(factor))
        }
        return Int64(lower)
    }
}

enum EnvironmentName {
    static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.properties.isAlphabetic && first.isASCII) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
