// What the image's entrypoint decides before a command runs in a Sentinel container (`sentinel
// entrypoint`, which scripts/entrypoint.sh calls), and, with `--guard`, in the native sandbox:
// the policy, the guard's records, production's rules as far as a container can see them, and
// how the command starts. It is the same code for `sentinel-isolate --backend docker`, the compose
// profiles, a plain `docker run` and `sentinel-isolate --guard`, so each gives the same guarantees:
//
// - The policy is read-only and comes from outside the workspace: a read-only mount at
//   /run/sentinel/policy.yaml, or the image's own. A policy file the command could change is
//   refused (the entrypoint used to copy the default into the writable workspace; a run rewrote
//   that copy and the next guarded run loaded it). Nothing is mounted in the workspace any more:
//   the mount point was left behind there as an empty sentinel.yaml.
// - The guard runs when asked (SENTINEL_GUARD=1, `--guard`), as on the native backend: the
//   container is the boundary. It reads the policy's paths as the host does (PathTranslation,
//   from SENTINEL_HOST_*), so ./workspace means /workspace inside.
// - The guard's records are outside the workspace, where the command cannot write them. With the
//   guard, its Landlock ruleset and its supervisor keep the command out, and a policy whose
//   allowed_paths cover the records is refused. Without the guard, the entrypoint's own Landlock
//   ruleset does, before it executes the command (a run once dropped a deny record from a log in
//   the workspace and re-chained it, and `sentinel audit verify` said intact).
// - Production mode (docs/POLICY.md): a signed, immutable policy (the loader), a seccomp filter
//   on the container, and no route out unless the exception is set.

import CSentinelLinux
import Glibc
import SentinelAudit
import SentinelPolicy

/// The decisions of the container's entrypoint.
public enum ContainerEntrypoint {
    /// The workspace inside the container.
    public static let workspace = "/workspace"
    /// Where `sentinel-isolate` and the compose profiles mount the policy, read-only.
    public static let mountedPolicy = SandboxLayout.policyPath
    /// Where they mounted it before (inside the workspace); a policy still mounted there is
    /// refused, so that it is never silently replaced by the image's default.
    public static let formerMountedPolicy = "/workspace/sentinel.yaml"
    /// The image's default policy (root-owned, in the image's read-only root).
    public static let imagePolicy = "/opt/sentinel/sentinel.yaml"
    /// The guard's audit log unless `SENTINEL_GUARD_AUDIT_LOG` says otherwise: in the directory
    /// `sentinel-isolate` and the compose profiles mount outside the workspace.
    public static let defaultAuditLog = DockerRunOptions.guardAuditMountPoint + "/" + RunRecords.guardLogName
    /// The `sentinel` binary in the image (the native sandbox binds the host's own elsewhere; the
    /// entrypoint executes the binary it runs from).
    public static let sentinelBinary = "/opt/sentinel/bin/sentinel"
    /// The variable in which whoever starts the container declares its network (none, bridge,
    /// host, proxied): the compose profiles and, in production, the Docker backend.
    public static let networkVariable = "SENTINEL_CONTAINER_NETWORK"

    /// How the command starts.
    public enum Launch: Sendable, Equatable {
        /// `sentinel` with these arguments (`guard --policy … --audit-log … -- COMMAND…`).
        case guarded(arguments: [String])
        /// The command itself; when `protecting` is set, after a Landlock ruleset that keeps it
        /// (and everything it starts) from changing anything under that directory.
        case unguarded(protecting: String?)
    }

    /// What the entrypoint decided.
    public struct Plan: Sendable {
        /// The policy in force (the read-only mount or the image's).
        public var policyPath: String
        /// Its SHA-256, as loaded.
        public var policySHA256: String
        /// Where the guard records, when it runs.
        public var auditLog: String
        /// How the command starts.
        public var launch: Launch
        /// Lines for stderr (what mode runs, which policy).
        public var notes: [String]
        /// The environment of what is executed: the container's, without Sentinel's keys (never
        /// passed into a container, dropped again here) and without `SENTINEL_POLICY_CONTENT`
        /// (the policy is the file the container shows, as for isolate).
        public var environment: [String: String]
    }

    /// Decides, or refuses with one sentence (exit status 2, nothing run).
    ///
    /// - Parameters:
    ///   - command: the command and its arguments.
    ///   - environment: the container's environment.
    public static func plan(command: [String], environment: [String: String]) throws(SandboxError) -> Plan {
        guard !command.isEmpty else {
            throw SandboxError(.invalidSpec, "No command was given; without one the entrypoint checks the container's setup (status).")
        }
        let guarded = try guardRequested(environment)
        var notes: [String] = []
        if access(workspace, W_OK) != 0 {
            // Reported, not fatal: a command that only reads still works.
            notes.append(
                "\(workspace) is not writable by uid \(getuid()), so the command cannot write its files there: give the workspace to "
                    + "the user who should write it (on the host: chown UID DIR; sentinel-isolate then runs the container as its "
                    + "owner, compose as SENTINEL_UID).")
        }
        try checkContainerProduction(environment: environment)

        // The policy: a read-only mount, else the image's. Never a file the command could
        // change, because a later run would load it.
        let policyPath = try policyInForce(notes: &notes)
        var commandEnvironment = SentinelEnvironment.withoutSecrets(environment)
        commandEnvironment[SentinelEnvironment.policyContent] = nil
        // The host's directory, home and workspace are for the guard (as flags), not the command.
        for name in [SandboxLayout.hostDirectoryVariable, SandboxLayout.hostHomeVariable, SandboxLayout.hostWorkspaceVariable] {
            commandEnvironment[name] = nil
        }
        commandEnvironment[SandboxLayout.policyVariable] = policyPath
        // Loaded with production's rules (signed, immutable, the digest verified), guarded or not:
        // the policy is what a container of this image runs under either way. Its paths are read
        // as the host reads them when the starter says where the host's files are.
        let translation = SandboxLayout.translation(from: environment)
        let loaded: LoadedPolicy
        let policy: Policy
        do {
            loaded = try PolicyLoader(environment: commandEnvironment).load(path: policyPath)
            var context = PolicyContext.current(environment: commandEnvironment)
            context.pathTranslation = translation
            policy = try Policy(loaded: loaded, context: context)
        } catch {
            throw SandboxError(.invalidSpec, "The policy \(policyPath) cannot be used: \(error.description) Nothing was run.")
        }

        // The records: outside the workspace, and out of the command's reach.
        let auditLog = environment["SENTINEL_GUARD_AUDIT_LOG"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultAuditLog
        let directory = try recordsDirectory(of: auditLog)
        guard guarded else {
            // Nothing to say: without the guard is the default on both backends (the container is
            // the boundary), as it says nothing natively.
            // Records of earlier guarded runs are there when the directory is mounted writable.
            let protecting = access(directory, W_OK) == 0 ? directory : nil
            if protecting != nil { try WriteConfinement.checkAvailable(protecting: directory) }
            return Plan(
                policyPath: policyPath, policySHA256: loaded.sha256, auditLog: auditLog, launch: .unguarded(protecting: protecting),
                notes: notes, environment: commandEnvironment)
        }
        guard access(directory, W_OK) == 0 else {
            throw SandboxError(
                .invalidSpec,
                "The guard records to \(auditLog), but \(directory) is not writable in this container: mount a directory outside the "
                    + "workspace there, writable by uid \(getuid()) (docker-compose.yml mounts the volume sentinel-guard-audit; "
                    + "sentinel-isolate mounts AUDITLOG.guard), or run without the guard (SENTINEL_GUARD=0); nothing was run.")
        }
        if let problem = AuditLogAccess.problem(
            auditLog, elsewhere: "set SENTINEL_GUARD_AUDIT_LOG to a new file in \(directory) (compose: run with SENTINEL_UID set to the "
                + "uid that wrote it)") {
            throw SandboxError(.invalidSpec, "The guard cannot write its audit log: \(problem) Nothing was run.")
        }
        for path in [auditLog, AuditAnchor.path(forLog: auditLog)] where policy.checkPath(path, access: .write).isAllowed {
            throw SandboxError(
                .invalidSpec,
                "The policy \(policyPath) lets the command write the guard's records (\(path) is under allowed_paths), so a run "
                    + "could rewrite the record of what it did: narrow allowed_paths to leave \(directory) out; nothing was run.")
        }
        var arguments = ["guard", "--policy", policyPath, "--audit-log", auditLog]
        // The policy proxy's ADDRESS:PORT in a proxied container, which the command may always
        // reach (the policy cannot name an address Docker assigns per run).
        if let endpoint = environment["SENTINEL_GUARD_ALLOW_CONNECT"], !endpoint.isEmpty {
            arguments += ["--allow-connect", endpoint]
        }
        if let translation {
            arguments += ["--policy-directory", translation.hostBaseDirectory, "--policy-home", translation.hostHomeDirectory]
            for mapping in translation.mappings { arguments += ["--policy-map", "\(mapping.host)=\(mapping.inside)"] }
        }
        arguments += ["--"] + command
        return Plan(
            policyPath: policyPath, policySHA256: loaded.sha256, auditLog: auditLog, launch: .guarded(arguments: arguments),
            notes: notes, environment: commandEnvironment)
    }

    /// What a container started without a command shows (`docker-compose --profile NAME up`): what
    /// a command would run under, checked as a command's start would check it, and how to run
    /// one. The status is 0 when a command would run, else the refusal's.
    ///
    /// - Parameter environment: the container's environment.
    /// - Returns: the lines to print and the exit status.
    public static func status(environment: [String: String]) -> (lines: [String], status: Int32) {
        let plan: Plan
        do {
            plan = try self.plan(command: ["true"], environment: environment)
        } catch {
            return (["This container would refuse every command: \(error.description)"], error.exitStatus)
        }
        var lines = ["Sentinel sandbox container: ready."]
        lines += plan.notes.map { "note: " + $0 }
        lines.append(
            "policy: \(plan.policyPath), read-only (SHA-256 \(plan.policySHA256)); \(SandboxLayout.policyVariable) tells the command.")
        switch plan.launch {
        case .guarded:
            lines.append("guard: on: every exec, file write and connect is decided by the policy and recorded in \(plan.auditLog).")
        case .unguarded(let protecting):
            lines.append(
                "guard: off: the container is the boundary (SENTINEL_GUARD=1 or the guarded profile adds per-action decisions)"
                    + (protecting.map { "; the guard's earlier records in \($0) are out of the command's reach." } ?? "."))
        }
        var status: Int32 = 0
        let declared = environment[networkVariable] ?? ""
        if declared == DockerNetwork.proxied.rawValue, let proxy = environment["HTTP_PROXY"] ?? environment["http_proxy"] {
            if let answered = ProxyProbe.answers(proxy) {
                lines.append(
                    "network: only through the policy proxy \(answered), which answers; it decides every request with its allow-list.")
            } else {
                lines.append(
                    "network: the policy proxy \(proxy) does not answer: start it (docker-compose --profile proxied up -d sentinel-proxy).")
                status = 1
            }
        } else if RouteTable.hasDefaultRoute() {
            lines.append("network: a route out (\(declared.isEmpty ? "Docker's network" : declared)); the proxy variables are advisory.")
        } else {
            lines.append("network: none: no route out.")
        }
        let writable = access(workspace, W_OK) == 0 ? "writable" : "NOT writable (see the note)"
        lines.append("user: uid \(getuid()), workspace \(workspace) \(writable).")
        if let profile = environment["SENTINEL_COMPOSE_PROFILE"], !profile.isEmpty {
            lines.append("Run a command: docker-compose --profile \(profile) run --rm sentinel-\(profile) COMMAND (docs/DOCKER.md).")
        } else {
            lines.append("Run a command: give it after the image name (docs/DOCKER.md); `sentinel --help` lists Sentinel's commands.")
        }
        return (lines, status)
    }

    /// Whether the guard runs: `SENTINEL_GUARD`, else the older `SENTINEL_GUARD_IN_CONTAINER`;
    /// off when neither says (the sandbox is the boundary, on both backends).
    static func guardRequested(_ environment: [String: String]) throws(SandboxError) -> Bool {
        var answers: [(String, Bool)] = []
        for name in [SandboxLayout.guardVariable, SandboxLayout.legacyGuardVariable] {
            switch environment[name] ?? "" {
            case "": continue
            case "1": answers.append((name, true))
            case "0": answers.append((name, false))
            case let value:
                throw SandboxError(
                    .invalidSpec, "\(name) must be 1 (run the command under sentinel guard) or 0 (the default), not '\(value)'; nothing was run.")
            }
        }
        if answers.count == 2, answers[0].1 != answers[1].1 {
            throw SandboxError(
                .invalidSpec,
                "\(answers[0].0)=\(answers[0].1 ? 1 : 0) and \(answers[1].0)=\(answers[1].1 ? 1 : 0) disagree: set only "
                    + "\(SandboxLayout.guardVariable); nothing was run.")
        }
        return answers.first?.1 ?? false
    }

    /// The policy in force: the read-only mount at ``mountedPolicy``, else the image's.
    static func policyInForce(notes: inout [String]) throws(SandboxError) -> String {
        // A policy mounted where it used to go is not silently replaced by the image's default.
        if MountTable.current()?.entries.contains(where: { $0.mountPoint == formerMountedPolicy }) == true {
            throw SandboxError(
                .invalidSpec,
                "A file is mounted at \(formerMountedPolicy), where Sentinel no longer reads the policy (the mount point was left in "
                    + "the workspace): mount your policy read-only at \(mountedPolicy) instead (docker run -v POLICY:\(mountedPolicy):ro; "
                    + "docker-compose.yml and sentinel-isolate do); nothing was run.")
        }
        var info = stat()
        if lstat(mountedPolicy, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw SandboxError(
                    .invalidSpec,
                    "\(mountedPolicy) is not a regular file (a symlink or a directory), so it cannot be the policy: mount your policy "
                        + "file read-only there, or nothing there to use the image's default policy; nothing was run.")
            }
            guard MountTable.current()?.isReadOnlyMount(at: mountedPolicy) == true else {
                throw SandboxError(
                    .invalidSpec,
                    "The policy \(mountedPolicy) is not a read-only mount, so the command could rewrite the policy a later run loads: "
                        + "mount your policy read-only there (docker-compose.yml does; docker run -v POLICY:\(mountedPolicy):ro); "
                        + "nothing was run.")
            }
            return mountedPolicy
        }
        guard errno == ENOENT else {
            let code = errno
            throw SandboxError(
                .invalidSpec,
                "\(mountedPolicy) cannot be examined (\(String(cString: strerror(code)))), so the policy in force is unknown: "
                    + "check the policy mount; nothing was run.",
                errno: code)
        }
        notes.append("no policy is mounted at \(mountedPolicy): the image's default policy (\(imagePolicy)) decides.")
        return imagePolicy
    }

    /// The directory of the guard's audit log, which must be absolute and outside the workspace
    /// (a later run, guarded or not, can write anything in the workspace).
    static func recordsDirectory(of auditLog: String) throws(SandboxError) -> String {
        guard auditLog.hasPrefix("/"), let slash = auditLog.lastIndex(of: "/"), auditLog.index(after: slash) != auditLog.endIndex else {
            throw SandboxError(.invalidSpec, "SENTINEL_GUARD_AUDIT_LOG must be an absolute file path (got \(auditLog)); nothing was run.")
        }
        let lexical = String(auditLog[..<slash])
        let directory = lexical.isEmpty ? "/" : lexical
        let resolved = realpath(directory, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? directory
        for candidate in [directory, resolved] where candidate == workspace || candidate.hasPrefix(workspace + "/") {
            throw SandboxError(
                .invalidSpec,
                "The guard's records would go to \(auditLog), inside the workspace, where a later run can rewrite them: mount a "
                    + "directory outside the workspace at \(DockerRunOptions.guardAuditMountPoint) and leave SENTINEL_GUARD_AUDIT_LOG "
                    + "unset; nothing was run.")
        }
        return directory
    }

    /// Production's rules that only the container can check: a seccomp filter is on it, and it
    /// has no route out (unless the exception is set). The policy's rules are the loader's.
    static func checkContainerProduction(environment: [String: String]) throws(SandboxError) {
        guard ProductionMode.isOn(environment) else { return }
        do throws(ProductionMode.Violation) {
            try ProductionMode.checkEnforcement(
                switchedOff: seccompMode() != 2,
                requirement: "Production mode requires a seccomp filter on the container, and this one runs without.",
                remedy: "Start it with a seccomp profile (docker-compose.yml: security_opt seccomp:$SENTINEL_SECCOMP_FILE; "
                    + "docker run --security-opt seccomp=PROFILE), never seccomp=unconfined",
                environment: environment)
            // No route out is isolated. A proxied container has a default route (Docker gives an
            // internal network a gateway and drops the traffic outside the container's view), so
            // the proxied topology is taken from its declaration, which the compose profile and
            // the Docker backend make (networkVariable) and the command cannot change.
            let declared = environment[networkVariable]
            try ProductionMode.checkNetwork(
                isolated: !RouteTable.hasDefaultRoute() || declared == DockerNetwork.proxied.rawValue,
                remedy: "run the container with no network (the strict profile, docker run --network none) or on an internal network "
                    + "whose only way out is the policy proxy (the proxied profile, sentinel-isolate --network proxied)",
                environment: environment)
        } catch {
            throw SandboxError(.invalidSpec, error.description + " Nothing was run.")
        }
    }

    /// The `Seccomp:` field of /proc/self/status: 0 none, 1 strict, 2 a filter; -1 unreadable.
    static func seccompMode() -> Int {
        guard let status = try? Sys.readFile("/proc/self/status") else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix("Seccomp:") {
            return Int(line.dropFirst("Seccomp:".count).trimmingCharacters(in: " \t")) ?? -1
        }
        return -1
    }

    // MARK: - Starting the command

    /// Replaces this process with `sentinel ARGUMENTS…` (the guard), the binary this process
    /// runs from (the image's, or the host's bound into the native sandbox). Returns only on failure.
    public static func execSentinel(_ arguments: [String], environment: [String: String]) -> SandboxError {
        execute(path: Sys.readlink("/proc/self/exe") ?? sentinelBinary, argv: ["sentinel"] + arguments, environment: environment)
    }

    /// Applies the write confinement when `protecting` is set, then replaces this process with
    /// the command (looked up on `PATH` as the shell's `exec` does). Returns only on failure.
    public static func execCommand(_ command: [String], protecting: String?, environment: [String: String]) -> SandboxError {
        if let protecting {
            do {
                try WriteConfinement.apply(protecting: protecting)
            } catch {
                return error
            }
        }
        guard let name = command.first else { return SandboxError(.invalidSpec, "No command was given.") }
        guard let path = lookUp(name, path: environment["PATH"] ?? PolicyContext.standardSearchPath) else {
            return SandboxError(.execFailed, "\(name): command not found.", errno: ENOENT)
        }
        return execute(path: path, argv: command, environment: environment)
    }

    /// `name` as `execvp` finds it: a path when it has a slash, else the first executable regular
    /// file of that name in `path`'s directories.
    static func lookUp(_ name: String, path: String) -> String? {
        if name.contains("/") { return name }
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// `execve` with the signal state and descriptors a shell's `exec` would leave: no signal
    /// blocked or ignored (this process's runtime blocks and ignores some), nothing but 0-2 open.
    static func execute(path: String, argv: [String], environment: [String: String]) -> SandboxError {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        // Every signal number Linux has (_NSIG is 65; SIGRTMAX is a libc function-like macro).
        for number: Int32 in 1...64 where number != SIGKILL && number != SIGSTOP {
            signal(number, SIG_DFL)
        }
        markDescriptorsCloseOnExec()
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        execve(path, &cArguments, &cEnvironment)
        let code = errno
        return SandboxError(.execFailed, "\(argv.first ?? path): cannot be executed (\(String(cString: strerror(code)))).", errno: code)
    }

    /// Every descriptor above 2 gets close-on-exec, so the command starts with 0-2 only.
    static func markDescriptorsCloseOnExec() {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        var descriptors: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let fd = Int32(name), fd > 2 { descriptors.append(fd) }
        }
        for fd in descriptors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    }
}

/// The write confinement of an unguarded command: a Landlock ruleset that lets it change files
/// on every mount it could change before, except the guard's records (and any other mount of the
/// same tree). Reads and executes are not restricted.
enum WriteConfinement {
    /// Landlock ABI 3 (Linux 6.2) handles truncate(2); before it a command could empty the log.
    static let minimumABI: Int32 = 3

    /// Refuses with a sentence when this kernel cannot confine the command.
    static func checkAvailable(protecting directory: String) throws(SandboxError) {
        let (abi, reason) = Landlock.probe()
        guard let abi, abi >= minimumABI else {
            let why = abi.map { "its Landlock ABI is \($0), and truncate(2) is covered from ABI \(minimumABI) (Linux 6.2) on" } ?? reason
            throw SandboxError(
                .unsupported,
                "With the guard off, the entrypoint keeps the command away from the guard's records in \(directory) with Landlock, "
                    + "which this kernel cannot do (\(why)): run with the guard (SENTINEL_GUARD=1), or without a "
                    + "writable directory mounted at \(directory); nothing was run.")
        }
    }

    /// Builds and applies the ruleset to this thread (the one that then executes the command).
    static func apply(protecting directory: String) throws(SandboxError) {
        try checkAvailable(protecting: directory)
        let abi = sentinel_landlock_abi()
        let handled = LandlockRuleset.write & Landlock.handledAccess(abi: abi)
        guard let table = MountTable.current() else {
            throw SandboxError(.setupFailed, "Could not read /proc/self/mountinfo to confine the command; nothing was run.")
        }
        let ruleset = sentinel_landlock_create_ruleset(handled, 0, 0)
        guard ruleset >= 0 else {
            throw SandboxError(.setupFailed, "Could not create a Landlock ruleset (\(Errno.current)); nothing was run.", errno: errno)
        }
        defer { Sys.close(ruleset) }
        for point in table.writableMountPoints(protecting: directory) {
            let fd = open(point, Int32(SENTINEL_O_PATH) | O_CLOEXEC)
            if fd < 0 { continue }  // Unreachable for this user: it stays unwritable (fail closed).
            defer { Sys.close(fd) }
            var allowed = handled
            var info = stat()
            // Directory-only rights on a file are refused by the kernel (EINVAL).
            if fstat(fd, &info) != 0 || info.st_mode & S_IFMT != S_IFDIR {
                allowed &= SENTINEL_LL_FS_WRITE_FILE | SENTINEL_LL_FS_TRUNCATE
            }
            guard sentinel_landlock_allow_path(ruleset, allowed, fd) == 0 else {
                throw SandboxError(.setupFailed, "Could not add the Landlock rule for \(point) (\(Errno.current)); nothing was run.", errno: errno)
            }
        }
        guard sentinel_set_no_new_privs() == 0, sentinel_landlock_restrict_self(ruleset) == 0 else {
            throw SandboxError(.setupFailed, "Could not apply the Landlock ruleset (\(Errno.current)); nothing was run.", errno: errno)
        }
    }
}

/// `/proc/self/mountinfo`, read for what the entrypoint needs.
struct MountTable {
    /// One mount.
    struct Entry: Equatable {
        /// `major:minor` of the file system.
        var device: String
        /// The directory of that file system the mount shows.
        var root: String
        /// Where it is mounted.
        var mountPoint: String
        /// Per-mount options (`ro`/`rw`, …).
        var options: [String]
    }

    var entries: [Entry]

    /// This process's mounts, or nil when the file cannot be read.
    static func current() -> MountTable? {
        guard let text = try? Sys.readFile("/proc/self/mountinfo", limit: 4 << 20) else { return nil }
        return MountTable(text: text)
    }

    /// Parses mountinfo text (proc(5): id, parent, major:minor, root, mount point, options, …).
    init(text: String) {
        entries = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count >= 6 else { return nil }
            return Entry(
                device: String(fields[2]), root: Self.unescape(fields[3]), mountPoint: Self.unescape(fields[4]),
                options: fields[5].split(separator: ",").map(String.init))
        }
    }

    /// Whether the topmost mount at exactly `path` is read-only.
    func isReadOnlyMount(at path: String) -> Bool {
        entries.last { $0.mountPoint == path }?.options.contains("ro") ?? false
    }

    /// Mount points the unguarded command may keep writing: all but the one holding `directory`,
    /// those inside it or above it (a rule there would cover the records), and every other mount
    /// of the same tree (a second mount of the records' volume must not open them again).
    func writableMountPoints(protecting directory: String) -> [String] {
        func within(_ path: String, _ ancestor: String) -> Bool {
            path == ancestor || ancestor == "/" || path.hasPrefix(ancestor + "/")
        }
        // The mount that holds the records: the deepest mount point at or above `directory`.
        let holder = entries.filter { within(directory, $0.mountPoint) }.max { $0.mountPoint.count < $1.mountPoint.count }
        var excluded: Set<String> = []
        for entry in entries {
            let onThePath = within(entry.mountPoint, directory) || within(directory, entry.mountPoint)
            let sameTree = holder.map { entry.device == $0.device && (within(entry.root, $0.root) || within($0.root, entry.root)) } ?? false
            if onThePath || sameTree { excluded.insert(entry.mountPoint) }
        }
        var points: [String] = []
        for entry in entries where !excluded.contains(entry.mountPoint) && !points.contains(entry.mountPoint) {
            points.append(entry.mountPoint)
        }
        return points
    }

    /// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
               let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The routing tables of this network namespace.
enum RouteTable {
    /// Whether a default route (IPv4 `0.0.0.0/0` or IPv6 `::/0`) leads out through an interface
    /// other than loopback: the container can then reach whatever its network reaches.
    static func hasDefaultRoute() -> Bool {
        let ipv4 = (try? Sys.readFile("/proc/net/route")) ?? ""
        let ipv6 = (try? Sys.readFile("/proc/net/ipv6_route")) ?? ""
        return hasDefaultRoute(ipv4: ipv4, ipv6: ipv6)
    }

    /// The same, over the tables' text (proc(5): `/proc/net/route`, `/proc/net/ipv6_route`).
    static func hasDefaultRoute(ipv4: String, ipv6: String) -> Bool {
        let up: UInt32 = 0x0001, reject: UInt32 = 0x0200
        for line in ipv4.split(separator: "\n").dropFirst() {
            // Iface Destination Gateway Flags RefCnt Use Metric Mask …
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 8, fields[0] != "lo", let flags = UInt32(fields[3], radix: 16) else { continue }
            if fields[1] == "00000000", fields[7] == "00000000", flags & up != 0, flags & reject == 0 { return true }
        }
        for line in ipv6.split(separator: "\n") {
            // destination prefix-length source prefix-length next-hop metric refcount use flags iface
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 10, fields[9] != "lo", let flags = UInt32(fields[8], radix: 16) else { continue }
            if fields[0].allSatisfy({ $0 == "0" }), fields[1] == "00", flags & up != 0, flags & reject == 0 { return true }
        }
        return false
    }
}

extension Substring {
    /// Without the given characters at either end.
    fileprivate func trimmingCharacters(in characters: String) -> Substring {
        var text = self
        while let first = text.first, characters.contains(first) { text.removeFirst() }
        while let last = text.last, characters.contains(last) { text.removeLast() }
        return text
    }
}

/// Whether the policy proxy a proxied container names answers (a TCP connection is accepted).
enum ProxyProbe {
    /// `HOST:PORT` of `url` when something accepts a connection there within about 20 seconds
    /// (compose starts the proxy alongside, so it may still be starting), else nil.
    static func answers(_ url: String) -> String? {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") { rest = rest[scheme.upperBound...] }
        rest = rest.prefix { $0 != "/" }
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else { return nil }
        let host = rest[..<colon].trimmingCharacters(in: "[]")
        for attempt in 0..<40 {
            if attempt > 0 { usleep(500_000) }
            if connects(host: String(host), port: port) { return "\(host):\(port)" }
        }
        return nil
    }

    static func connects(host: String, port: UInt16) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return false }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd >= 0 {
                defer { close(fd) }
                if connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 { return true }
            }
            entry = current.pointee.ai_next
        }
        return false
    }
}
