// The Docker backend: the same `SandboxSpec` as the native backend, run as one `docker run`.
// Flow (original-system.md §6.3, with its order fixed): validate the spec and the production
// rule first, then find `docker`, build the image when asked and missing, prepare the seccomp
// file, run with the terminal inherited, remove the temporary profile, and pass the exit status
// through. Docker's own failure (125 before the command ran) becomes one sentence.

import Glibc
import SentinelPolicy

/// Runs commands in a Docker container.
public struct DockerSandbox: Sendable {
    /// The Docker-specific settings.
    public var options: DockerRunOptions

    /// Creates the backend.
    public init(options: DockerRunOptions) {
        self.options = options
    }

    /// What `run` would do, without starting anything: the invocation and the prepared seccomp
    /// file (the caller removes it, or keeps it for `--dry-run`). The guard's audit directory is
    /// created here, so that a printed `--dry-run` command works as printed.
    public func prepare(_ spec: SandboxSpec, callerEnvironment: [String: String]) throws(SandboxError) -> (invocation: DockerInvocation, seccomp: DockerSeccompFile, user: String) {
        try Self.validate(spec)
        let production = try Self.checkProduction(spec, network: options.network, environment: callerEnvironment)
        var options = self.options
        options.productionPolicySHA256 = production.policySHA256
        if spec.requireLandlock {
            throw SandboxError(.unsupported, "--require-landlock: the Docker backend does not apply Landlock. Use --backend native, or drop --require-landlock.")
        }
        let user = options.user ?? DockerIdentity.choose(
            workspaceOwner: Self.owner(of: spec.workspace), caller: (getuid(), getgid()), fallback: spec.rootCallerWorkloadID)
        if options.guardInContainer, let directory = options.guardAuditDirectory {
            try Self.prepareAuditDirectory(directory, user: user)
        }
        let seccomp = try DockerSeccompFile.prepare(spec.seccomp)
        do {
            let invocation = try DockerCommandLine.render(
                spec, options: options, seccomp: seccomp.option, user: user, callerEnvironment: callerEnvironment)
            return (invocation, seccomp, user)
        } catch {
            seccomp.remove()
            throw error
        }
    }

    /// Runs `spec` in a container and returns the report; the workload's own failure is a
    /// report with its exit status, Docker's failure is a thrown error.
    public func run(_ spec: SandboxSpec, callerEnvironment: [String: String], progress: (String) -> Void = { _ in }) throws(SandboxError) -> SandboxRunReport {
        try Self.validate(spec)
        let production = try Self.checkProduction(spec, network: options.network, environment: callerEnvironment)
        let engine = try DockerEngine(binary: options.dockerBinary, callerEnvironment: callerEnvironment)
        var report = SandboxRunReport(command: spec.command, workspace: spec.workspace)
        report.backend = "docker"
        if options.buildIfMissing {
            let builder = DockerImageBuilder(engine: engine)
            let materials = try DockerImageBuilder.materials()
            if let reason = try builder.reasonToBuild(options.image, from: materials) {
                progress(reason + ": building it from this one.")
                try builder.build(
                    image: options.image, baseImage: options.baseImage, from: materials, defaultPolicy: spec.policyFile, progress: progress)
            }
        }
        var topology: DockerProxiedNetwork?
        defer { topology?.remove(engine: engine) }
        var sandbox = self
        if options.network == .proxied {
            topology = try startProxy(spec, engine: engine, productionPolicySHA256: production.policySHA256, progress: progress)
            sandbox.options.proxiedNetwork = topology
        }
        let (invocation, seccomp, user) = try sandbox.prepare(spec, callerEnvironment: callerEnvironment)
        defer { seccomp.remove() }
        report.warnings += seccomp.warnings
        report.protections = Self.protections(spec: spec, options: sandbox.options, seccomp: seccomp, user: user)
        if options.network == .host {
            report.warnings.append("--network host: the container shares the host's network, including services on 127.0.0.1.")
        } else if options.network == .bridge {
            report.warnings.append("--network bridge: the container can reach anything the host can; the proxy variables are advisory (use the compose `proxied` profile to enforce egress).")
        }

        if spec.seccomp.mode == .log {
            report.warnings.append("seccomp log mode: calls the profile would deny ran and were logged by the kernel (see dmesg or journalctl -k: type=1326 records name the syscall number).")
        }
        report.startedAt = Clock.unixNow()
        let started = Clock.monotonic()
        let raw = try engine.runInheritingTerminal(invocation.arguments, extraEnvironment: invocation.passedEnvironment)
        report.endedAt = Clock.unixNow()
        report.durationSeconds = Clock.monotonic() - started
        let status = WaitStatus(raw: raw)
        switch status {
        case .exited(let code):
            // 125: the client or the engine failed before the command ran (docker run(1));
            // recent clients exit 126 when the socket refuses them. A workload may exit with
            // these too; then the diagnosis finds nothing wrong and the status passes through.
            if code == 125 || code == 126, let problem = engine.diagnoseRunFailure(image: options.image) { throw problem }
            report.exitCode = code
        case .signaled(let signal):
            report.signal = signal
        }
        report.exitStatus = status.shellStatus
        if status.shellStatus == 137 {
            report.warnings.append("The container ended with SIGKILL (137): the memory limit (\(DockerSize.render(spec.limits.memoryBytes))) or a docker kill.")
        }
        return report
    }

    /// The production rules (``SandboxProduction``): a container's network is isolated with
    /// none or the proxied topology; Docker applies no Landlock of its own (the guard inside
    /// does, and holds production's rules itself, since it gets production mode).
    @discardableResult
    static func checkProduction(_ spec: SandboxSpec, network: DockerNetwork, environment: [String: String]) throws(SandboxError) -> SandboxProduction.Outcome {
        try SandboxProduction.check(
            spec, networkIsolated: network == .none || network == .proxied, landlockIsSentinels: false, environment: environment)
    }

    /// The spec's own checks; a proxied spec's Unix socket belongs to the native backend's
    /// relay, which a container does not use (its proxy is a container on an internal network).
    static func validate(_ spec: SandboxSpec) throws(SandboxError) {
        var checked = spec
        if checked.network == .proxied, checked.proxySocket == nil { checked.proxySocket = "/run/sentinel/proxy.sock" }
        try SandboxValidation.validate(checked)
    }

    /// `--network proxied`: the proxy's audit directory, then the network and proxy container
    /// (with the sandbox's identity and seccomp profile, and in production the verified policy's
    /// digest, so the proxy too runs in production mode on exactly that text).
    func startProxy(
        _ spec: SandboxSpec, engine: DockerEngine, productionPolicySHA256: String?, progress: (String) -> Void
    ) throws(SandboxError) -> DockerProxiedNetwork {
        guard let auditDirectory = options.proxyAuditDirectory else {
            throw SandboxError(.invalidSpec, "--network proxied needs a directory for the proxy's audit log.")
        }
        let user = options.user ?? DockerIdentity.choose(
            workspaceOwner: Self.owner(of: spec.workspace), caller: (getuid(), getgid()), fallback: spec.rootCallerWorkloadID)
        try Self.prepareAuditDirectory(auditDirectory, user: user)
        // Docker's client reads the profile when the container is created, so the copy can go
        // as soon as the proxy has started.
        let seccomp = try DockerSeccompFile.prepare(spec.seccomp)
        defer { seccomp.remove() }
        let settings = DockerProxiedNetwork.ProxySettings(
            image: options.image, user: user, policyFile: spec.policyFile, hostsFile: options.proxyHostsFile,
            auditDirectory: auditDirectory, seccomp: seccomp.option, productionPolicySHA256: productionPolicySHA256,
            inspection: options.proxyInspection,
            // The id the sandbox is given (by sentinel-isolate, in its environment) is the run's.
            runID: spec.environment[SentinelEnvironment.runID])
        return try DockerProxiedNetwork.start(engine: engine, settings: settings, progress: progress)
    }

    static func owner(of path: String) -> (uid: UInt32, gid: UInt32)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (info.st_uid, info.st_gid)
    }

    static func protections(spec: SandboxSpec, options: DockerRunOptions, seccomp: DockerSeccompFile, user: String) -> SandboxProtections {
        var protections = SandboxProtections()
        protections.namespaces = ["mount", "pid", "ipc", "uts"] + (options.network == .host ? [] : ["net"]) + ["cgroup (Docker's default)"]
        switch options.network {
        case .none: protections.network = "none (loopback only)"
        case .bridge: protections.network = "bridge (NOT isolated: Docker's NAT to wherever the host can reach)"
        case .host: protections.network = "host (NOT isolated: the host's network and loopback services are reachable)"
        case .proxied:
            let network = options.proxiedNetwork
            protections.network = "proxied (internal network \(network?.networkName ?? "?") with no route out; only the policy proxy at \(network?.proxyURL ?? "?") is reachable)"
        }
        protections.workloadIdentity = user
        protections.landlock = "not applied (Docker backend)"
        protections.seccomp = seccomp.status
        protections.capabilitiesDropped = true
        protections.noNewPrivileges = true
        protections.limits = "docker: pids \(spec.limits.pids), memory \(DockerSize.render(spec.limits.memoryBytes)), cpus \(spec.limits.cpus)"
        if options.guardInContainer {
            let log = options.guardAuditDirectory.map { $0 + "/" + RunRecords.guardLogName } ?? "the policy's audit.path inside the container"
            protections.guardInside = "sentinel guard (every exec, file write and connect decided; audit log \(log))"
        }
        return protections
    }

    /// Makes the host directory the guard inside (a container's, or the native sandbox's with
    /// `--guard`) writes its audit log to: created 0700 if missing (never through a symlink),
    /// owned by the workload's uid so the guard, which runs as that uid, can write it.
    ///
    /// The records an earlier run left there belong to the uid that run had. When the workspace
    /// changes owner (docs/DOCKER.md says to give it to the user who should write it), the
    /// container's user changes with it, and the guard could no longer append to its own log: a
    /// root caller gives the directory, the log and its anchor to the new uid; anyone else is
    /// told whose they are and what to do.
    static func prepareAuditDirectory(_ path: String, user: String) throws(SandboxError) {
        let ids = user.split(separator: ":").compactMap { UInt32($0) }
        guard ids.count == 2 else { throw SandboxError(.invalidSpec, "The container user must be uid:gid (got '\(user)').") }
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            let code = errno
            throw SandboxError(
                .setupFailed,
                "Could not create the directory for the guard's audit log, \(path): \(String(cString: strerror(code))). Pass "
                    + "--audit-log with a path in a writable directory (the guard's log goes to AUDITLOG.guard), or run without --guard.",
                errno: code)
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw SandboxError(
                .setupFailed, "\(path) must be a directory, not a symlink or a file (\(String(cString: strerror(code)))); remove it or pass another --audit-log.",
                errno: code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            throw SandboxError(.setupFailed, "Could not inspect \(path): \(String(cString: strerror(code))).", errno: code)
        }
        let root = geteuid() == 0
        if info.st_uid != ids[0] {
            guard root, fchown(fd, ids[0], ids[1]) == 0 else {
                throw SandboxError(
                    .setupFailed,
                    "The guard runs as uid \(ids[0]), which cannot write its audit log directory \(path) (owned by uid \(info.st_uid)). "
                        + "Run as that directory's owner, pass another --audit-log, or run without --guard.")
            }
        }
        for name in ["audit.log", "audit.log.anchor"] {
            var file = stat()
            guard fstatat(fd, name, &file, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            guard file.st_mode & S_IFMT == S_IFREG else {
                throw SandboxError(
                    .setupFailed, "\(path)/\(name) is not a regular file (a symlink, a directory): remove it, or pass another --audit-log.")
            }
            guard file.st_uid != ids[0] else { continue }
            guard root, fchownat(fd, name, ids[0], ids[1], AT_SYMLINK_NOFOLLOW) == 0 else {
                throw SandboxError(
                    .setupFailed,
                    "The guard runs as uid \(ids[0]) (the workspace's owner, or you), but \(path)/\(name) belongs to uid \(file.st_uid): "
                        + "an earlier run as that user wrote it, and the guard could not append to it. Give the directory's files to uid "
                        + "\(ids[0]) (chown), move them away to start a new log, or pass another --audit-log.")
            }
        }
    }
}
