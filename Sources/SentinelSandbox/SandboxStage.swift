// The re-executed, single-threaded stage of the native backend (the `runc init` model).
//
// The launcher is a multithreaded Swift process: it cannot `unshare(CLONE_NEWUSER)` (the kernel
// refuses with EINVAL) and must not run Swift between fork and exec. So it re-executes its own
// binary with `stageMarker` in argv[1]; `runIfRequested()` is the first statement of both
// executables' `main.swift`, before anything async starts, so this code runs with one thread and
// may fork freely. The order of the steps is fixed and documented in docs/SANDBOX.md:
//
//  stage (S):  read plan -> check 1 thread -> join the cgroup -> setsid, pdeathsig,
//              non-dumpable -> [root: clear groups, idmapped workspace, open bind sources] ->
//              unshare(user, mount, pid, net, ipc, uts, cgroup) -> launcher writes uid/gid maps
//              -> [root: setresuid to the workload id] -> [rootless: open bind sources] -> fork
//              PID 1 -> forward signals, wait, exit with PID 1's status
//  init (P):   mounts -> pivot_root -> hostname, loopback -> drop capabilities, no_new_privs ->
//              fork workload -> reap, forward signals, report the workload's status
//  workload:   close fds -> rlimits -> Landlock -> seccomp (last) -> execve

import CSentinelLinux
import FoundationEssentials
import Glibc

/// Entry point of the hidden stages that the native backend runs in its own binary.
public enum SandboxStage {
    /// Runs the sandbox stage (or the escape-probe runner) when this process was started as one,
    /// and never returns in that case. Call it as the first statement of `main`, before any
    /// `await`, so that the process is still single-threaded.
    public static func runIfRequested() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else { return }
        if arguments[1] == stageMarker {
            exit(StageProcess().run())
        }
        if arguments[1] == probeMarker {
            exit(EscapeProbe.runInside(Array(arguments.dropFirst(2))))
        }
    }
}

/// Thrown by a step; travels to the launcher as a `StageFailure`.
struct StepError: Error {
    var step: StageStep
    var errno: Int32
    var detail: String

    init(_ step: StageStep, _ errno: Errno, _ detail: String = "") {
        self.step = step
        self.errno = errno.rawValue
        self.detail = detail
    }

    init(_ step: StageStep, errno: Int32, _ detail: String = "") {
        self.step = step
        self.errno = errno
        self.detail = detail
    }
}

/// Runs `body`, tagging any errno it throws with `step`.
@discardableResult
func step<T>(_ step: StageStep, _ detail: @autoclosure () -> String = "", _ body: () throws(Errno) -> T)
    throws(StepError) -> T
{
    do {
        return try body()
    } catch {
        throw StepError(step, error, detail())
    }
}

/// The stage process (S): namespaces, then PID 1.
struct StageProcess {
    /// Signals the stage and PID 1 pass on (SIGCHLD is handled, not forwarded).
    static let forwardedSignals: [Int32] = [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT]

    /// The plan, when the stage is a fork of the launcher and already holds it (no JSON round
    /// trip: encoding and decoding the plan was a fifth of a run's CPU time); `nil` when the
    /// stage was re-executed and reads it from fd 3.
    var inheritedPlan: StagePlan?

    func run() -> Int32 {
        sentinel_reset_signals()
        var plan: StagePlan
        if let inheritedPlan {
            _ = fcntl(stageReportFD, F_SETFD, FD_CLOEXEC)
            _ = fcntl(stageControlFD, F_SETFD, FD_CLOEXEC)
            plan = inheritedPlan
        } else {
            do {
                plan = try readPlan()
            } catch {
                report(error)
                return 2
            }
        }
        do {
            return try runStage(&plan)
        } catch {
            report(error)
            return 2
        }
    }

    private func report(_ error: StepError) {
        let failure = StageFailure(step: error.step, errno: error.errno, detail: error.detail)
        try? Sys.writeAll(stageReportFD, Frames.encode(.failure, failure))
    }

    private func readPlan() throws(StepError) -> StagePlan {
        // The report fd must not leak into the workload: close-on-exec from the start.
        _ = fcntl(stageReportFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(stageControlFD, F_SETFD, FD_CLOEXEC)
        let header = try step(.readPlan) { () throws(Errno) in try Sys.readExactly(stageControlFD, 4) }
        guard let header else { throw StepError(.readPlan, errno: EPIPE, "the launcher closed the pipe") }
        let count = Frames.length(header)
        guard count > 0, count < 16 << 20 else { throw StepError(.readPlan, errno: EMSGSIZE) }
        let body = try step(.readPlan) { () throws(Errno) in try Sys.readExactly(stageControlFD, count) }
        guard let body, let plan = try? JSONDecoder().decode(StagePlan.self, from: Data(body)) else {
            throw StepError(.readPlan, errno: EINVAL, "the plan is not valid JSON")
        }
        return plan
    }

    private func runStage(_ plan: inout StagePlan) throws(StepError) -> Int32 {
        // 1. One thread, or unshare(CLONE_NEWUSER) fails and fork would be unsafe.
        let threads = StageProcess.threadCount()
        guard threads == 1 else {
            throw StepError(.checkSingleThreaded, errno: EINVAL, "/proc/self/status says Threads: \(threads)")
        }
        // Into the limits' cgroup, before anything is started and before unshare(CLONE_NEWCGROUP),
        // so the sandbox's cgroup namespace is rooted at its own group. The stage moves itself:
        // for v1 that is the one migration without a grace-period wait (SandboxCgroup.selfJoinFiles).
        for file in plan.cgroupJoinFiles {
            try step(.joinCgroup, file) { () throws(Errno) in try Sys.writeFile(file, "0") }
        }
        // 2. A new session: no controlling terminal, so TIOCSTI cannot inject into the
        //    caller's terminal, and terminal signals reach only the launcher, which forwards.
        try step(.newSession) { () throws(Errno) in try Sys.check { setsid() } }
        // Die with the launcher; then make sure it did not die before we asked.
        _ = sentinel_set_parent_death_signal(SIGKILL)
        if getppid() == 1 { return 2 }
        _ = sentinel_set_name("sentinel-stage")

        let rootCaller = geteuid() == 0
        var sources = BindSources()
        // The proxy socket's directory, while host paths are still ours to open (PID 1 connects
        // through it from inside; see SandboxStage+Relay.swift).
        var proxyDirectory: Int32 = -1
        if plan.spec.network == .proxied, let socketPath = plan.spec.proxySocket {
            let directory = String(socketPath[..<(socketPath.lastIndex(of: "/") ?? socketPath.startIndex)])
            proxyDirectory = try step(.openProxySocket, directory) { () throws(Errno) in
                try Sys.open(directory.isEmpty ? "/" : directory, Int32(SENTINEL_O_PATH) | O_DIRECTORY | O_CLOEXEC)
            }
        }
        if rootCaller {
            // As root in the host namespaces: shed root's supplementary groups (they would keep
            // working outside through the sandbox), and take the bind sources now, while
            // paths the workload user cannot traverse are still reachable.
            try step(.clearGroups) { () throws(Errno) in try Sys.check { sentinel_clear_groups() } }
            sources = try BindSources.open(plan: plan, idmap: true)
        }

        // 3. The namespaces.
        var flags = SENTINEL_CLONE_NEWUSER | SENTINEL_CLONE_NEWNS | SENTINEL_CLONE_NEWPID | SENTINEL_CLONE_NEWIPC
        flags |= SENTINEL_CLONE_NEWUTS | SENTINEL_CLONE_NEWCGROUP
        if plan.spec.network.isolated { flags |= SENTINEL_CLONE_NEWNET }
        try step(.unshareNamespaces) { () throws(Errno) in try Sys.check { sentinel_unshare(Int32(flags)) } }

        // 4. The launcher, outside, writes our uid/gid maps.
        try step(.waitForIDMaps) { () throws(Errno) in
            try Sys.writeAll(stageReportFD, [FrameType.unshared.rawValue, 0, 0, 0, 0])
            guard let ack = try Sys.readExactly(stageControlFD, 1), ack == [0x4d] else { throw Errno(EPIPE) }
        }
        Sys.close(stageControlFD)
        // Sandboxed peers must never ptrace us or open /proc/<pid>/exe (CVE-2019-5736). Not
        // earlier: a non-dumpable process's /proc files belong to root, and an unprivileged
        // launcher could not have written our maps.
        _ = sentinel_set_non_dumpable()

        if rootCaller {
            // Become the workload identity now (mapped, unprivileged outside) but keep the
            // namespace capabilities for the setup, so files created on the new tmpfs
            // are owned by a mapped id.
            try step(.switchIdentity) { () throws(Errno) in
                try Sys.check { sentinel_keep_caps_across_setuid() }
                try Sys.check { sentinel_setresgid(plan.workloadGID, plan.workloadGID, plan.workloadGID) }
                try Sys.check { sentinel_setresuid(plan.workloadUID, plan.workloadUID, plan.workloadUID) }
            }
        } else {
            sources = try BindSources.open(plan: plan, idmap: false)
        }

        // 5. PID 1 of the new pid namespace.
        let initPID = try step(.forkInit) { () throws(Errno) in try Sys.fork() }
        if initPID == 0 {
            exit(InitProcess(plan: plan, sources: sources, proxyDirectory: proxyDirectory).run())
        }
        sources.closeAll()
        if proxyDirectory >= 0 { Sys.close(proxyDirectory) }
        return StageProcess.superviseChild(initPID)
    }

    /// Forwards signals to `child` and waits for it; returns its status, shell-style.
    static func superviseChild(_ child: pid_t) -> Int32 {
        var signals = forwardedSignals + [SIGCHLD]
        let signalFD = sentinel_signalfd(&signals, Int32(signals.count))
        while signalFD >= 0 {
            if let (pid, status) = try? Sys.wait(child, WNOHANG), pid == child {
                return WaitStatus(raw: status).shellStatus
            }
            var sender: Int32 = 0
            let signal = sentinel_signalfd_read(signalFD, &sender)
            if signal < 0 { break }
            if signal != SIGCHLD { kill(child, signal) }
        }
        // Without a signalfd we can still wait (signals then take their default action).
        let status = (try? Sys.wait(child))?.status ?? 0
        return WaitStatus(raw: status).shellStatus
    }

    /// The `Threads:` line of /proc/self/status (0 if it cannot be read, which fails the check).
    static func threadCount() -> Int {
        guard let status = try? Sys.readFile("/proc/self/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("Threads:") {
            return Int(line.dropFirst("Threads:".count).filter { !$0.isWhitespace }) ?? 0
        }
        return 0
    }
}

/// Detached mount trees for the workspace, the policy and the extra binds, taken with the
/// caller's rights before the stage loses them.
struct BindSources {
    var workspace: Int32 = -1
    var policy: Int32 = -1
    var binds: [Int32] = []

    func closeAll() {
        for fd in [workspace, policy] + binds where fd >= 0 { Sys.close(fd) }
    }

    static func open(plan: StagePlan, idmap: Bool) throws(StepError) -> BindSources {
        var sources = BindSources()
        sources.workspace = try tree(plan.spec.workspace, .openBindSources)
        if idmap {
            try IDMappedWorkspace.apply(tree: sources.workspace, plan: plan)
        }
        if let policy = plan.spec.policyFile {
            sources.policy = try tree(policy, .openBindSources)
        }
        for bind in plan.spec.binds {
            sources.binds.append(try tree(bind.source, .extraBinds))
        }
        return sources
    }

    private static func tree(_ path: String, _ step: StageStep) throws(StepError) -> Int32 {
        let flags = UInt32(SENTINEL_OPEN_TREE_CLONE | SENTINEL_OPEN_TREE_CLOEXEC | SENTINEL_AT_RECURSIVE)
        let fd = sentinel_open_tree(AT_FDCWD, path, flags)
        if fd < 0 { throw StepError(step, Errno.current, path) }
        return fd
    }
}

/// The idmapped workspace of a root caller: files owned by the workspace's owner on disk
/// appear owned by the workload id inside, and files the workload creates are stored with the
/// owner's id on disk. The mapping comes from a throwaway user namespace whose only map line is
/// "owner -> workload id".
enum IDMappedWorkspace {
    static func apply(tree: Int32, plan: StagePlan) throws(StepError) {
        let info = try step(.idmapWorkspace, plan.spec.workspace) { () throws(Errno) in
            try Sys.statPath(plan.spec.workspace)
        }
        let userns = try step(.idmapWorkspace, "creating the mapping namespace") { () throws(Errno) in
            try mappingNamespace(uid: (info.st_uid, plan.workloadUID), gid: (info.st_gid, plan.workloadGID))
        }
        defer { Sys.close(userns) }
        if sentinel_mount_set_idmap(tree, userns, 1) < 0 {
            throw StepError(.idmapWorkspace, Errno.current, "\(plan.spec.workspace) (its file system must support idmapped mounts)")
        }
    }

    /// Forks a child into a new user namespace, writes its maps, and returns an fd of that
    /// namespace. Safe: the stage is single-threaded.
    private static func mappingNamespace(uid: (UInt32, UInt32), gid: (UInt32, UInt32)) throws(Errno) -> Int32 {
        let ready = try Sys.pipe()
        let hold = try Sys.pipe()
        let child = try Sys.fork()
        if child == 0 {
            Sys.close(ready.read)
            Sys.close(hold.write)
            let ok: UInt8 = sentinel_unshare(Int32(SENTINEL_CLONE_NEWUSER)) == 0 ? 1 : 0
            var byte = ok
            _ = Glibc.write(ready.write, &byte, 1)
            _ = Glibc.read(hold.read, &byte, 1)  // Returns at EOF when the parent is done.
            _exit(0)
        }
        Sys.close(ready.write)
        Sys.close(hold.read)
        defer {
            Sys.close(hold.write)
            Sys.close(ready.read)
            _ = try? Sys.wait(child)
        }
        guard let answer = try Sys.readExactly(ready.read, 1), answer == [1] else { throw Errno(EPERM) }
        try Sys.writeFile("/proc/\(child)/uid_map", "\(uid.0) \(uid.1) 1\n")
        try Sys.writeFile("/proc/\(child)/setgroups", "deny")
        try Sys.writeFile("/proc/\(child)/gid_map", "\(gid.0) \(gid.1) 1\n")
        return try Sys.open("/proc/\(child)/ns/user", O_RDONLY)
    }
}
