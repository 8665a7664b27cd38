// The native backend's launcher side, which runs in the ordinary (multithreaded) Swift process:
// validate, probe, make the cgroup, re-execute the binary as the stage with posix_spawn (no
// Swift between fork and exec), write the stage's uid/gid maps from outside, forward signals,
// collect the report, clean up.

import CSentinelLinux
import FoundationEssentials
import Glibc
import SentinelPolicy

/// Runs commands in the native Linux sandbox.
public struct NativeSandbox: Sendable {
    /// Creates the backend.
    public init() {}

    /// Runs `spec` to completion on a dedicated thread and returns the report. Throws when the
    /// sandbox cannot be built; the workload's own failure is a report with its exit status.
    ///
    /// The dedicated thread matters: the stage's parent-death signal fires when the *thread*
    /// that spawned it exits, and the cooperative pool may retire threads at any time.
    public func run(_ spec: SandboxSpec, callerEnvironment: [String: String]) async throws(SandboxError) -> SandboxRunReport {
        let result: Result<SandboxRunReport, SandboxError> = await withCheckedContinuation { continuation in
            DedicatedThread.start {
                continuation.resume(returning: Result { () throws(SandboxError) in
                    try self.runBlocking(spec, callerEnvironment: callerEnvironment)
                })
            }
        }
        return try result.get()
    }

    /// Runs `spec` on the calling thread (which must outlive the run).
    public func runBlocking(_ spec: SandboxSpec, callerEnvironment: [String: String]) throws(SandboxError) -> SandboxRunReport {
        try SandboxValidation.validate(spec)
        // The production rules, again: this backend is a library as well as the CLI's.
        try SandboxProduction.check(spec, networkIsolated: spec.network.isolated, landlockIsSentinels: true, environment: callerEnvironment)
        var report = SandboxRunReport(command: spec.command, workspace: spec.workspace)
        let (landlockABI, landlockReason) = Landlock.probe()
        if landlockABI == nil {
            if spec.requireLandlock {
                throw SandboxError(.unsupported, "--require-landlock: \(landlockReason). Run on a kernel with Landlock, or drop --require-landlock.")
            }
            report.warnings.append("Landlock is unavailable (\(landlockReason)); the file rules rely on the mount namespace alone.")
        }
        let rootCaller = geteuid() == 0
        let workloadUID = rootCaller ? spec.rootCallerWorkloadID : geteuid()
        let workloadGID = rootCaller ? spec.rootCallerWorkloadID : getegid()
        // With --guard the stage runs `sentinel entrypoint -- COMMAND` and binds what it needs.
        let stageSpec = try NativeGuard.stageSpec(for: spec, workloadUID: workloadUID, workloadGID: workloadGID)
        var plan = StagePlan(
            spec: stageSpec, callerUID: getuid(), callerGID: getgid(),
            workloadUID: workloadUID, workloadGID: workloadGID,
            environment: SandboxEnvironment.build(spec: stageSpec, caller: callerEnvironment),
            landlockABI: landlockABI ?? 0)
        if let guardInside = spec.guardInside { report.protections.guardInside = NativeGuard.description(guardInside) }

        let (cgroup, limitsReason) = SandboxCgroup.create(limits: spec.limits, name: "sentinel-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        defer { cgroup?.remove() }
        let limits = spec.limits
        if let cgroup {
            plan.cgroupJoinFiles = cgroup.selfJoinFiles
            report.protections.limits = "\(cgroup.version.rawValue): pids \(limits.pids), memory \(limits.memoryBytes) bytes, cpus \(limits.cpus)"
        } else {
            plan.rlimitProcesses = limits.pids
            plan.rlimitAddressSpace = limits.memoryBytes
            report.protections.limits = "rlimits: RLIMIT_NPROC \(limits.pids), RLIMIT_AS \(limits.memoryBytes) bytes; cpus not enforced"
            report.warnings.append("Limits use rlimits, not cgroups: \(limitsReason). The CPU limit is not enforced.")
        }

        report.protections.namespaces = ["user", "mount", "pid", "ipc", "uts", "cgroup"] + (spec.network.isolated ? ["net"] : [])
        switch spec.network {
        case .none: report.protections.network = "none (new network namespace, loopback only)"
        case .host: report.protections.network = "host (NOT isolated: the host's network and loopback services are reachable)"
        case .proxied:
            report.protections.network = "proxied (new network namespace; 127.0.0.1:\(proxiedListenPort) relayed to the policy proxy, nothing else reachable)"
        }
        report.protections.workloadIdentity = "\(plan.workloadUID):\(plan.workloadGID)"
        report.protections.idmappedWorkspace = rootCaller

        let seccomp = try SeccompSetup.prepare(spec.seccomp)
        plan.seccompProgram = seccomp.program
        plan.seccompFlags = seccomp.flags
        plan.seccompHandsOffListener = seccomp.socket != nil
        plan.seccompStatus = seccomp.status
        report.protections.seccomp = seccomp.status
        report.warnings += seccomp.warnings

        report.startedAt = Clock.unixNow()
        let started = Clock.monotonic()
        let outcome = try StageConnection.launch(plan: plan, seccomp: seccomp)
        report.endedAt = Clock.unixNow()
        report.durationSeconds = Clock.monotonic() - started
        if let session = outcome.seccompSession {
            let denials = session.finish()
            report.seccompWouldDeny = denials.lines()
            report.warnings += denials.problems
            if let path = spec.seccomp.suggestPath, let profile = seccomp.profile {
                let (suggested, notAdded) = denials.suggestedProfile(from: profile)
                do {
                    try suggested.write(to: path)
                    report.warnings.append("Wrote a suggested seccomp profile to \(path) (\(denials.entries.count) calls considered).")
                    report.warnings += notAdded.map { "Not added to the suggested profile: \($0)" }
                } catch {
                    report.warnings.append("Could not write the suggested seccomp profile: \(error.description)")
                }
            }
        } else if seccomp.socket != nil, outcome.failure == nil {
            report.warnings.append("Seccomp log mode: the listener never arrived, so no calls were reported.")
        }

        if let ready = outcome.ready {
            report.protections.landlock = ready.landlock
            report.protections.seccomp = ready.seccomp
            report.protections.capabilitiesDropped = ready.capabilitiesDropped
            report.protections.noNewPrivileges = ready.noNewPrivileges
            report.warnings += ready.warnings
        }
        if let failure = outcome.failure {
            throw StageConnection.error(for: failure, plan: plan, callerPath: callerEnvironment["PATH"])
        }
        guard let raw = outcome.exitStatus else {
            throw SandboxError(.launchFailed, "The sandbox stage ended without reporting the command's status (stage status \(outcome.stageStatus)). Run `sentinel doctor` to check what this kernel allows.")
        }
        switch WaitStatus(raw: raw) {
        case .exited(let code): report.exitCode = code
        case .signaled(let signal): report.signal = signal
        }
        report.exitStatus = WaitStatus(raw: raw).shellStatus
        if let cgroup, cgroup.oomKilled() {
            report.denials.append("memory limit reached: the kernel's OOM killer ended a process (limit \(limits.memoryBytes) bytes)")
        }
        return report
    }
}

/// Writing the id maps failed (distinguished from pipe errors for the message).
struct MapError: Error {
    var errno: Errno
}

/// What the launcher learnt from the stage.
struct StageOutcome {
    var seccompSession: SeccompLogSession?
    var failure: StageFailure?
    var ready: StageReady?
    var exitStatus: Int32?
    var stageStatus: Int32 = 0
}

/// The launcher's half of the stage protocol.
enum StageConnection {
    static func launch(plan: StagePlan, seccomp: SeccompSetup) throws(SandboxError) -> StageOutcome {
        defer { seccomp.closeSupervisor() }
        let control: (read: Int32, write: Int32)
        let reportPipe: (read: Int32, write: Int32)
        do {
            control = try Sys.pipe()
            reportPipe = try Sys.pipe()
        } catch {
            throw SandboxError(.launchFailed, "Could not create the pipes to the sandbox stage: \(error).", errno: error.rawValue)
        }
        // The child must find the pipes on fds 3 and 4 and the seccomp socket on 5. Placing them
        // with dup2 would clobber a source that already sits on one of those numbers, so every
        // source is first lifted above them (close-on-exec copies, closed below).
        func lifted(_ fd: Int32) -> Int32 { fcntl(fd, F_DUPFD_CLOEXEC, 10) }
        let controlSource = lifted(control.read)
        let reportSource = lifted(reportPipe.write)
        let seccompSource = seccomp.socket.map { lifted($0.sandbox) }
        // The launcher must drop its copies as soon as the stage holds them: a write end left
        // open here would keep the report pipe from ever reaching end-of-file.
        func closeSources() {
            Sys.close(controlSource)
            Sys.close(reportSource)
            if let seccompSource { Sys.close(seccompSource) }
        }
        guard controlSource >= 0, reportSource >= 0, seccompSource ?? 0 >= 0 else {
            let failure = Errno.current
            closeSources()
            Sys.close(control.read); Sys.close(control.write); Sys.close(reportPipe.read); Sys.close(reportPipe.write)
            throw SandboxError(.launchFailed, "Could not prepare the descriptors for the sandbox stage: \(failure).", errno: failure.rawValue)
        }
        let pid: pid_t
        var forked = false
        do {
            // A single-threaded launcher (`sentinel-isolate`, which never starts the concurrency
            // runtime) may fork the stage directly: fork is safe without other threads, and it
            // saves starting this large binary a second time (about 10 ms). A multithreaded
            // launcher (`sentinel isolate`, the proxy) must re-execute instead.
            forked = StageProcess.threadCount() == 1
            if forked {
                pid = try forkStage(plan: plan, controlRead: controlSource, reportWrite: reportSource, seccompSocket: seccompSource)
            } else {
                pid = try spawnStage(controlRead: controlSource, reportWrite: reportSource, seccompSocket: seccompSource)
            }
        } catch {
            closeSources()
            Sys.close(control.read); Sys.close(control.write); Sys.close(reportPipe.read); Sys.close(reportPipe.write)
            throw SandboxError(.launchFailed, "Could not start the sandbox stage (/proc/self/exe): \(error).", errno: error.rawValue)
        }
        closeSources()
        Sys.close(control.read)
        Sys.close(reportPipe.write)
        seccomp.closeSandboxEnd()
        defer { Sys.close(reportPipe.read) }

        var outcome = StageOutcome()
        var forwarded = StageProcess.forwardedSignals
        _ = sentinel_forward_signals(pid, &forwarded, Int32(forwarded.count))
        defer { sentinel_stop_forwarding() }

        do {
            if !forked {
                let body = (try? JSONEncoder().encode(plan)).map { [UInt8]($0) } ?? []
                try Sys.writeAll(control.write, Frames.lengthPrefix(body.count) + body)
            }
            while let (type, payload) = try Frames.read(reportPipe.read) {
                switch type {
                case .unshared:
                    do {
                        try writeIDMaps(pid: pid, plan: plan)
                    } catch {
                        throw MapError(errno: error)
                    }
                    try Sys.writeAll(control.write, [0x4d])
                case .failure:
                    if outcome.failure == nil { outcome.failure = try? JSONDecoder().decode(StageFailure.self, from: Data(payload)) }
                case .ready:
                    outcome.ready = try? JSONDecoder().decode(StageReady.self, from: Data(payload))
                    // The workload sent its listener just before this frame, so it is waiting.
                    if let socket = seccomp.socket, outcome.seccompSession == nil {
                        outcome.seccompSession = try? SeccompLogSession.start(
                            notifier: SeccompHandoff.receiveListener(from: socket.supervisor), enforcedRules: seccomp.enforcedRules!)
                    }
                case .exit:
                    outcome.exitStatus = (try? JSONDecoder().decode(StageExit.self, from: Data(payload)))?.rawStatus
                case nil:
                    break
                }
            }
        } catch {
            // The stage is useless without its maps or its plan: end it.
            kill(pid, SIGKILL)
            Sys.close(control.write)
            _ = try? Sys.wait(pid)
            if let mapError = error as? MapError {
                throw SandboxError(.launchFailed, "Could not write the sandbox's uid/gid maps: \(mapError.errno). Run `sentinel doctor` to see whether this kernel lets you create user namespaces.", errno: mapError.errno.rawValue)
            }
            let errno = (error as? Errno) ?? Errno(EIO)
            throw SandboxError(.launchFailed, "Lost contact with the sandbox stage: \(errno). Run `sentinel doctor` to see what this kernel allows.", errno: errno.rawValue)
        }
        Sys.close(control.write)
        outcome.stageStatus = (try? Sys.wait(pid))?.status ?? 0
        return outcome
    }

    /// `fork` of this single-threaded process into the stage: the child puts the pipes on fds 3
    /// and 4, as the re-executed stage would find them, and runs the stage without returning.
    private static func forkStage(plan: StagePlan, controlRead: Int32, reportWrite: Int32, seccompSocket: Int32?) throws(Errno) -> pid_t {
        let pid = fork()
        if pid < 0 { throw Errno(errno) }
        if pid == 0 {
            // Only this thread exists, so any code is safe here; still, keep to plain syscalls
            // until the stage takes over.
            // The sources are above fd 10 (see launch), so these cannot clobber one another.
            guard dup2(controlRead, stageControlFD) >= 0, dup2(reportWrite, stageReportFD) >= 0 else { _exit(2) }
            if let seccompSocket, dup2(seccompSocket, stageSeccompFD) < 0 { _exit(2) }
            exit(StageProcess(inheritedPlan: plan).run())
        }
        return pid
    }

    /// `posix_spawn` of `/proc/self/exe` with the marker; the pipes become fds 3 and 4, the
    /// environment is empty (the stage trusts only its plan).
    private static func spawnStage(controlRead: Int32, reportWrite: Int32, seccompSocket: Int32?) throws(Errno) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the new fd; the originals are close-on-exec and go away.
        posix_spawn_file_actions_adddup2(&actions, controlRead, stageControlFD)
        posix_spawn_file_actions_adddup2(&actions, reportWrite, stageReportFD)
        if let seccompSocket { posix_spawn_file_actions_adddup2(&actions, seccompSocket, stageSeccompFD) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sentinel-stage"), strdup(stageMarker), nil]
        defer { for pointer in argv { free(pointer) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
        if result != 0 { throw Errno(result) }
        return pid
    }

    /// Writes the stage's maps from outside its user namespace: one line each, the workload id
    /// to itself. `setgroups` is denied first, as the kernel requires for unprivileged writers
    /// and as we want anyway (the workload must not drop a group that denies it access).
    private static func writeIDMaps(pid: pid_t, plan: StagePlan) throws(Errno) {
        try Sys.writeFile("/proc/\(pid)/uid_map", "\(plan.workloadUID) \(plan.workloadUID) 1\n")
        try Sys.writeFile("/proc/\(pid)/setgroups", "deny")
        try Sys.writeFile("/proc/\(pid)/gid_map", "\(plan.workloadGID) \(plan.workloadGID) 1\n")
    }

    /// Turns a stage failure into one clear sentence with what to do.
    static func error(for failure: StageFailure, plan: StagePlan, callerPath: String? = nil) -> SandboxError {
        let reason = Errno(failure.errno).description
        let detail = failure.detail.isEmpty ? "" : " (\(failure.detail))"
        let hint: String
        switch (failure.step, failure.errno) {
        case (.exec, ENOENT):
            let program = plan.spec.command[0]
            // Usually a file the command needs lies outside: say which, and how to bring it in.
            if let outside = CommandVisibility.outsideReason(program, spec: plan.spec, callerPath: callerPath) {
                return SandboxError(.execFailed, "\(program): command not found inside the sandbox: \(outside)", errno: failure.errno)
            }
            return SandboxError(
                .execFailed,
                "\(program): command not found inside the sandbox. Only /usr, /bin, /sbin, /lib*, /opt, /workspace and the binds are "
                    + "visible; use a path under one of them, or bind its directory with --ro-bind DIR.",
                errno: failure.errno)
        case (.exec, _):
            return SandboxError(.execFailed, "Could not execute \(plan.spec.command[0]) inside the sandbox: \(reason). Check that it is executable and on a file system the sandbox shows.", errno: failure.errno)
        case (.unshareNamespaces, _), (.waitForIDMaps, _):
            hint = "Unprivileged user namespaces may be disabled (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone, or an AppArmor restriction); run `sentinel doctor`."
        case (.idmapWorkspace, _):
            hint = "Put the workspace on a file system with idmapped-mount support (ext4, xfs, btrfs, tmpfs), or run as the workspace's owner instead of root."
        case (.landlock, ENOSYS):
            hint = "Run on a kernel with Landlock, or drop --require-landlock."
        case (.checkSingleThreaded, _):
            hint = "This is a bug: the stage must run before anything starts a thread. Please report it."
        case (.mountPolicy, _), (.mountWorkspace, _), (.extraBinds, _):
            hint = "Check that the path exists and that you may read it."
        default:
            hint = "Run `sentinel doctor` to see what this kernel allows."
        }
        return SandboxError(.setupFailed, "The sandbox could not \(failure.step.summary): \(reason)\(detail). \(hint)", errno: failure.errno)
    }
}

/// Validation of a spec before anything is started. Messages follow the original runner.
public enum SandboxValidation {
    /// Throws the first problem found, as one sentence.
    public static func validate(_ spec: SandboxSpec) throws(SandboxError) {
        guard !spec.command.isEmpty, !spec.command[0].isEmpty else {
            throw SandboxError(.invalidSpec, "A command to execute inside the sandbox is required.")
        }
        guard let workspaceType = try? Sys.statPath(spec.workspace).st_mode & S_IFMT else {
            throw SandboxError(.invalidSpec, "Workspace does not exist: \(spec.workspace)")
        }
        guard workspaceType == S_IFDIR else {
            throw SandboxError(.invalidSpec, "Workspace is not a directory: \(spec.workspace)")
        }
        if let policy = spec.policyFile {
            guard let policyType = try? Sys.statPath(policy).st_mode & S_IFMT else {
                throw SandboxError(.invalidSpec, "Policy file does not exist: \(policy)")
            }
            guard policyType == S_IFREG else { throw SandboxError(.invalidSpec, "Policy file is not a file: \(policy)") }
        }
        var reserved = ["/", "/proc", "/dev", "/workspace", "/.sentinel", SandboxLayout.policyDirectory]
        if spec.guardInside != nil { reserved.append(SandboxLayout.recordsDirectory) }
        for bind in spec.binds {
            guard bind.source.hasPrefix("/"), bind.destination.hasPrefix("/") else {
                throw SandboxError(.invalidSpec, "Bind paths must be absolute: \(bind.source) -> \(bind.destination)")
            }
            guard (try? Sys.statPath(bind.source)) != nil else {
                throw SandboxError(.invalidSpec, "Bind source does not exist: \(bind.source)")
            }
            guard !bind.destination.split(separator: "/").contains(".."),
                !reserved.contains(where: { bind.destination == $0 || ($0 != "/" && bind.destination.hasPrefix($0 + "/")) })
            else {
                throw SandboxError(.invalidSpec, "Bind destination \(bind.destination) is reserved by the sandbox; choose another path.")
            }
        }
        if spec.network == .proxied {
            guard let socket = spec.proxySocket, socket.hasPrefix("/"), !socket.hasSuffix("/") else {
                throw SandboxError(.invalidSpec, "--network proxied needs the absolute path of the proxy's Unix socket.")
            }
            // "/proc/self/fd/NNNN/" + name must fit sun_path (108 bytes with the NUL).
            guard (socket.split(separator: "/").last?.utf8.count ?? 0) <= 80 else {
                throw SandboxError(.invalidSpec, "The proxy socket's file name is too long for a Unix socket address: \(socket)")
            }
        }
        for path in spec.blockedPaths where !path.hasPrefix("/") || path.split(separator: "/").contains("..") {
            throw SandboxError(.invalidSpec, "Blocked paths must be absolute paths inside the sandbox: \(path)")
        }
        guard spec.limits.pids > 0, spec.limits.memoryBytes > 0, spec.limits.cpus > 0, spec.limits.openFiles > 0 else {
            throw SandboxError(.invalidSpec, "Limits must be positive (pids, memory, cpus, open files).")
        }
        try checkEnvironment(spec)
    }

    /// Refuses a spec that asks for one of Sentinel's own keys (`SentinelEnvironment.secrets`) by
    /// name, from the caller or with a value: asking is a mistake to report, not a wish to
    /// honour, because the workload could print the key (and with the audit key rewrite the log
    /// without detection).
    public static func checkEnvironment(_ spec: SandboxSpec) throws(SandboxError) {
        for name in spec.environmentAllowList + spec.environment.keys.sorted() where SentinelEnvironment.isSecret(name) {
            throw SandboxError(
                .invalidSpec,
                "\(name) is one of Sentinel's own keys and never enters a sandbox, where the program could read it: "
                    + "remove it from --env and from the policy's sandbox.env_allow (Sentinel reads it from its own "
                    + "environment; nothing inside needs it).")
        }
    }
}

/// The workload's environment: scrubbed by default.
public enum SandboxEnvironment {
    /// The PATH inside the sandbox.
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// PATH, HOME=/workspace, LANG and TERM (from the caller when set), `SENTINEL_POLICY_FILE`
    /// when a policy is mounted, then the allow-listed caller variables, then the spec's explicit
    /// variables. Nothing else of the caller passes, and never Sentinel's own keys
    /// (`SentinelEnvironment.secrets`; validation refuses a spec that names one, and they are
    /// removed here as well).
    public static func build(spec: SandboxSpec, caller: [String: String]) -> [String] {
        let caller = SentinelEnvironment.withoutSecrets(caller)
        var environment: [String: String] = ["PATH": path, "HOME": "/workspace", "LANG": caller["LANG"] ?? "C.UTF-8"]
        if spec.policyFile != nil { environment[SandboxLayout.policyVariable] = SandboxLayout.policyPath }
        if let term = caller["TERM"] { environment["TERM"] = term }
        for name in spec.environmentAllowList {
            if let value = caller[name] { environment[name] = value }
        }
        for (name, value) in SentinelEnvironment.withoutSecrets(spec.environment) { environment[name] = value }
        return environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }
    }
}

/// Wall and monotonic clocks without Foundation's Date formatting.
enum Clock {
    static func unixNow() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

/// A joinable-free pthread that runs one closure; used where the identity of the thread matters
/// (PR_SET_PDEATHSIG).
enum DedicatedThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        if result != 0 {
            // No thread: run here rather than not at all (the run still works; only the
            // parent-death guarantee depends on the calling thread's lifetime).
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        } else {
            pthread_detach(thread)
        }
    }
}

/// The seccomp part of a run, prepared by the launcher before the stage starts: the profile
/// compiled for this machine (so the stage never parses JSON), and in log mode the socket pair
/// over which the workload hands its listener out of the sandbox.
struct SeccompSetup {
    var program: [UInt8]?
    var flags: UInt32 = 0
    var status: String
    var warnings: [String] = []
    var profile: SeccompProfile?
    var enforcedRules: SeccompRuleSet?
    /// Log mode with user notification: the launcher's end and the end the stage inherits on fd 5.
    var socket: (supervisor: Int32, sandbox: Int32)?

    func closeSandboxEnd() {
        if let socket { Sys.close(socket.sandbox) }
    }

    func closeSupervisor() {
        if let socket { Sys.close(socket.supervisor) }
    }

    /// Loads and compiles the profile for `settings`; a missing or invalid profile, or a kernel
    /// that cannot install it in the chosen mode, refuses the run (the original's message first).
    static func prepare(_ settings: SandboxSpec.SeccompSettings) throws(SandboxError) -> SeccompSetup {
        guard settings.mode != .off else {
            return SeccompSetup(status: "off (--seccomp-mode off: no system call is filtered)")
        }
        let path: String
        let profile: SeccompProfile
        do {
            if let file = settings.profilePath {
                var isDirectory = false
                guard PathExists.check(file, isDirectory: &isDirectory) else {
                    throw SandboxError(.invalidSpec, "Seccomp profile does not exist: \(file)")
                }
                guard !isDirectory else { throw SandboxError(.invalidSpec, "Seccomp profile is not a file: \(file)") }
                path = file
                profile = try SeccompProfile.load(contentsOf: file)
            } else if let name = settings.builtinProfile, let text = BuiltinSeccompProfiles.text(named: name) {
                path = "builtin:\(name)"
                profile = try SeccompProfile(json: Array(text.utf8), source: path)
            } else {
                throw SandboxError(.invalidSpec, "No seccomp profile was given; pass --seccomp PATH or use --seccomp-profile strict.")
            }
        } catch let error as SandboxError {
            throw error
        } catch let error as SeccompError {
            throw SandboxError(.invalidSpec, "Seccomp profile \(settings.profilePath ?? "builtin") cannot be used: \(error.description)", errno: error.errno)
        } catch {
            throw SandboxError(.invalidSpec, "Seccomp profile cannot be used: \(error).")
        }
        do {
            let mode: SeccompMode = settings.mode == .log ? .log : .enforce
            guard let plan = try Seccomp.plan(profile: profile, mode: mode, options: SeccompCompiler.Options()) else {
                return SeccompSetup(status: "off")
            }
            var setup = SeccompSetup(status: "", profile: profile, enforcedRules: plan.enforcedRules)
            setup.flags = plan.flags.rawValue
            setup.warnings = plan.warnings.map { "seccomp: \($0)" } + plan.notes
            var program = plan.program
            if plan.needsListener {
                let pair = try SeccompHandoff.makeSocketPair()
                setup.socket = pair
                // The filter must let the workload's one sendmsg of the listener through, even
                // when the profile does not allow sendmsg (see Seccomp.install(_:handingListenerTo:)).
                var rules = plan.installedRules
                if let sendmsg = rules.architecture.syscalls.number(of: "sendmsg"), !rules.allowsUnconditionally(sendmsg) {
                    rules.handoffSocket = stageSeccompFD
                    program = try SeccompCompiler.program(for: rules)
                }
            }
            setup.program = program.bytes
            let name = path.split(separator: "/").last.map(String.init) ?? path
            switch plan.behaviour {
            case .enforce:
                setup.status = "enforce (\(name), \(program.instructions.count) BPF instructions)"
            case .logToListener:
                setup.status = "log (\(name): calls it would deny run and are reported at the end)"
            case .logToKernel:
                setup.status = "log (\(name): calls it would deny run and go to the kernel audit log)"
            }
            return setup
        } catch {
            throw SandboxError(.invalidSpec, "Seccomp profile \(path) cannot be used: \(error.description)", errno: error.errno)
        }
    }
}

/// `stat` for the launcher's own checks.
enum PathExists {
    static func check(_ path: String, isDirectory: inout Bool) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        isDirectory = (status.st_mode & S_IFMT) == S_IFDIR
        return true
    }
}
