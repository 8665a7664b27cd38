import CSentinelLinux
import Foundation
import Glibc
import SentinelPolicy
import Synchronization

/// What the supervisor let an exec load: the tracer compares it with what the kernel did load,
/// at the exec stop, before the new program runs one instruction.
struct ExecExpectation: Sendable, Hashable {
    /// The image the kernel will map: the file executed, or for a `#!` script the interpreter at
    /// the end of its chain (what `/proc/PID/exe` names after the exec).
    var image: FileIdentity
    /// The canonical path of `image`, for records and messages.
    var imagePath: String
    /// The argument vector that was decided.
    var arguments: [String]
    /// Whether the file executed is a script: the kernel then rewrites argv (`interpreter
    /// [argument] script arg1…`), so only `arguments[1...]` can be compared.
    var isScript: Bool
    /// The decision record's target, to name the exec in a refusal.
    var commandLine: String
}

/// The processes under the guard and the execs decided for them: written by the supervisor
/// (which decides) and the tracer (which follows forks and exits), read by both.
final class GuardedProcesses: Sendable {
    private struct State {
        /// Every thread id the tracer has seen start and not yet exit.
        var tracked: Set<Int32> = []
        /// The exec each thread was last allowed, by thread id (the id of the calling thread at
        /// the notification; the kernel reports it at the exec stop as the former thread id).
        var expectations: [Int32: ExecExpectation] = [:]
        /// Set once the command has exited: nothing is continued any more.
        var ended = false
        /// Processes (thread group ids) still in the operator's chain: the command the operator
        /// typed and what its shims run before the real program starts (issue 15).
        var chain: Set<Int32> = []
        /// Processes whose execs are not decided, with the `trust_children` rule that allows it.
        var trusted: [Int32: String] = [:]
    }

    private let state = Mutex(State())

    /// Records that `tid` may exec `expectation`; false once tracing has ended (the caller then
    /// refuses the exec: nobody would verify it).
    func expect(_ expectation: ExecExpectation, tid: Int32) -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.expectations[tid] = expectation
            return true
        }
    }

    /// The exec `tid` was allowed, removed from the table.
    func takeExpectation(tid: Int32) -> ExecExpectation? {
        state.withLock { $0.expectations.removeValue(forKey: tid) }
    }

    /// Whether `id` is a thread or process under the guard.
    func contains(_ id: Int32) -> Bool {
        state.withLock { $0.tracked.contains(id) }
    }

    func add(_ id: Int32) {
        _ = state.withLock { $0.tracked.insert(id) }
    }

    func remove(_ id: Int32) {
        state.withLock { state in
            state.tracked.remove(id)
            state.expectations[id] = nil
            state.chain.remove(id)
            state.trusted[id] = nil
        }
    }

    /// Puts process `tgid` in the operator's chain (the command the operator started).
    func startChain(_ tgid: Int32) {
        _ = state.withLock { $0.chain.insert(tgid) }
    }

    /// Whether process `tgid` is in the operator's chain.
    func isInChain(_ tgid: Int32) -> Bool {
        state.withLock { $0.chain.contains(tgid) }
    }

    /// Whether any process is in the operator's chain or trusted (a new process could inherit).
    var inheritsAnything: Bool { state.withLock { !$0.chain.isEmpty || !$0.trusted.isEmpty } }

    /// Whether any process is in the operator's chain (a cheap check before looking one up).
    var chainIsEmpty: Bool { state.withLock { $0.chain.isEmpty } }

    /// Takes process `tgid` out of the operator's chain: it started the real program, or made a
    /// decided write or connect.
    func leaveChain(_ tgid: Int32) {
        _ = state.withLock { $0.chain.remove(tgid) }
    }

    /// Lets process `tgid` and what it starts run without exec decisions (`trust_children`).
    func trust(_ tgid: Int32, rule: String) {
        state.withLock { $0.trusted[tgid] = rule }
    }

    /// The `trust_children` rule process `tgid` runs under, if any.
    func trustRule(_ tgid: Int32) -> String? {
        state.withLock { $0.trusted[tgid] }
    }

    /// A new process (not a thread) inherits its parent's chain and trust: the shims of the
    /// operator's command fork subshells (pyenv), and a trusted test runner's children are
    /// trusted too.
    func inherit(child: Int32, parent: Int32) {
        state.withLock { state in
            if state.chain.contains(parent) { state.chain.insert(child) }
            if let rule = state.trusted[parent] { state.trusted[child] = rule }
        }
    }

    /// Marks the end of tracing and returns the ids still tracked.
    func end() -> Set<Int32> {
        state.withLock { state in
            state.ended = true
            state.expectations.removeAll()
            return state.tracked
        }
    }
}

/// Follows every process and thread of a `sentinel guard` run with ptrace, and verifies each
/// exec at its `PTRACE_EVENT_EXEC` stop: the image the kernel loaded must be the file the
/// supervisor decided on, with the argument vector it decided on; otherwise the process is
/// killed before it runs one instruction of the new program.
///
/// Why ptrace: an exec can only be let through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`); the kernel
/// then reads the path and argv again, after the decision, and a second thread or a process
/// sharing the memory can rewrite them in between. The exec stop is the one point where the
/// outcome is known (`/proc/PID/exe`, `/proc/PID/cmdline`) and the new program has not started.
///
/// ptrace requests must come from the thread that attached, and `waitpid` must not take the
/// exit status of children other threads wait for (an approval dialog), so one dedicated thread
/// forks the command, attaches (`PTRACE_SEIZE` with fork, vfork, clone and exec events: every
/// descendant is traced from its first instruction), and waits with `__WNOTHREAD`: only its own
/// child and its tracees. It also reaps the command and reports its exit.
final class ProcessTracer: Sendable {
    /// What a verification found wrong, for the record.
    struct Mismatch: Sendable {
        /// The process that was killed.
        var pid: Int32
        /// The exec that was decided, if one was.
        var expected: ExecExpectation?
        /// What the kernel loaded (`/proc/PID/exe`), for people.
        var loaded: String
        /// Why the process was killed.
        var reason: String
    }

    let processes: GuardedProcesses
    private let log: @Sendable (String) -> Void
    /// Called (on the tracer thread) for each process killed at its exec stop; set before the
    /// command can exec.
    private let mismatchHandler = Mutex<(@Sendable (Mismatch) -> Void)?>(nil)
    private let launched = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let launch = Mutex<Result<Int32, SupervisorError>?>(nil)
    private let exitStatus = Mutex<Int32?>(nil)

    private init(processes: GuardedProcesses, log: @escaping @Sendable (String) -> Void) {
        self.processes = processes
        self.log = log
    }

    /// Starts the tracer thread, which calls `spawn` (a fork; it returns the child's pid or a
    /// negative errno) and attaches to the child before it does anything. Returns once the child
    /// is traced; throws when it could not be started or traced (a child that was started is
    /// killed and reaped first).
    static func launch(
        processes: GuardedProcesses, log: @escaping @Sendable (String) -> Void,
        spawn: @escaping @Sendable () -> Int32
    ) throws(SupervisorError) -> (tracer: ProcessTracer, pid: Int32) {
        let tracer = ProcessTracer(processes: processes, log: log)
        let thread = Thread { tracer.run(spawn) }
        thread.name = "sentinel-guard-tracer"
        thread.start()
        tracer.launched.wait()
        switch tracer.launch.withLock({ $0 }) {
        case .success(let pid): return (tracer, pid)
        case .failure(let error): throw error
        case nil: throw SupervisorError(.launch, "The tracer thread ended before it started the command.")
        }
    }

    /// Sets who records a process killed at its exec stop.
    func onMismatch(_ handler: @escaping @Sendable (Mismatch) -> Void) {
        mismatchHandler.withLock { $0 = handler }
    }

    /// Blocks until the command has exited; returns its wait status. Processes it left running
    /// are killed by then (their supervisor is gone, so none of their checked calls could be
    /// answered).
    func waitForExit() -> Int32 {
        finished.wait()
        finished.signal()
        return exitStatus.withLock { $0 } ?? (SIGKILL & 0x7f)
    }

    // MARK: - The tracer thread

    private func run(_ spawn: @Sendable () -> Int32) {
        let pid = spawn()
        guard pid > 0 else {
            launch.withLock {
                $0 = .failure(SupervisorError(.launch, "fork failed (\(SupervisorError.text(-pid))); the command was not run.", errno: -pid))
            }
            launched.signal()
            finished.signal()
            return
        }
        let seized = sentinel_ptrace_seize(pid, sentinel_trace_options | Self.exitKill)
        guard seized == 0 else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, Glibc.errno == EINTR {}
            launch.withLock {
                $0 = .failure(SupervisorError(
                    .launch,
                    "sentinel guard verifies every exec by tracing the command (ptrace), which this process may not do "
                        + "(PTRACE_SEIZE: \(SupervisorError.text(-seized))); nothing was run. In a container, run with "
                        + "Sentinel's seccomp profile (--security-opt seccomp=seccomp/sentinel-seccomp.json); where "
                        + "kernel.yama.ptrace_scope is 3, ptrace is off for everyone.",
                    errno: -seized))
            }
            launched.signal()
            finished.signal()
            return
        }
        processes.add(pid)
        launch.withLock { $0 = .success(pid) }
        launched.signal()
        loop(initial: pid)
        finished.signal()
    }

    /// `PTRACE_O_EXITKILL`: if this process dies, the kernel kills every tracee (a supervisor that
    /// crashed must not leave programs running unsupervised).
    static let exitKill: Int32 = 0x10_0000

    private func loop(initial: Int32) {
        while true {
            var status: Int32 = 0
            let pid = sentinel_trace_wait(&status)
            if pid < 0 {
                if -pid != ECHILD {
                    log("sentinel guard: waiting for the command's processes failed (\(SupervisorError.text(-pid))); they are killed.")
                    killRemaining()
                }
                return
            }
            let low = status & 0x7f
            if low != 0x7f {
                // Exited (low == 0) or killed by a signal.
                processes.remove(pid)
                if pid == initial {
                    exitStatus.withLock { $0 = status }
                    killRemaining()
                    return
                }
                continue
            }
            let signal = (status >> 8) & 0xff
            let event = status >> 16
            switch event {
            case 0:
                // A signal on its way to the tracee: deliver it as if nobody were tracing.
                _ = sentinel_ptrace_cont(pid, signal)
            case Self.eventExec:
                verifyExec(pid)
            case Self.eventFork, Self.eventVfork, Self.eventClone:
                var child: UInt = 0
                if sentinel_ptrace_event_message(pid, &child) == 0 { processes.add(Int32(truncatingIfNeeded: child)) }
                _ = sentinel_ptrace_cont(pid, 0)
            case Self.eventStop:
                if signal == SIGTRAP {
                    // A new process or thread's first stop (with PTRACE_SEIZE, the kernel reports
                    // it as an event stop with SIGTRAP), which may come before its parent's event:
                    // the parent is read from /proc, before the child runs an instruction.
                    processes.add(pid)
                    // Only while some process is in the operator's chain or trusted does a new
                    // process's parent matter (a /proc read per fork otherwise).
                    if processes.inheritsAnything, let (tgid, parent) = Self.lineage(of: pid), tgid == pid {
                        processes.inherit(child: pid, parent: parent)
                    }
                    _ = sentinel_ptrace_cont(pid, 0)
                } else {
                    // Job control (SIGSTOP, SIGTSTP…): stay stopped, as without a tracer.
                    _ = sentinel_ptrace_listen(pid)
                }
            default:
                _ = sentinel_ptrace_cont(pid, 0)
            }
        }
    }

    static let eventFork: Int32 = 1
    static let eventVfork: Int32 = 2
    static let eventClone: Int32 = 3
    static let eventExec: Int32 = 4
    static let eventStop: Int32 = 128

    /// The command has exited: processes it left behind are killed, and execs already let
    /// through are refused at their stop (the expectations are gone).
    private func killRemaining() {
        for id in processes.end() {
            kill(id, SIGKILL)
        }
    }

    /// The thread group and parent process of `pid`, from `/proc/PID/status`.
    static func lineage(of pid: Int32) -> (tgid: Int32, parent: Int32)? {
        guard let fields = TargetProcess.statusFields(of: pid, ["Tgid:", "PPid:"]), let tgid = fields[0], let parent = fields[1] else {
            return nil
        }
        return (tgid, parent)
    }

    // MARK: - Exec verification

    private func verifyExec(_ pid: Int32) {
        var former: UInt = 0
        let formerTid = sentinel_ptrace_event_message(pid, &former) == 0 ? Int32(truncatingIfNeeded: former) : pid
        let expected = processes.takeExpectation(tid: formerTid)
        if formerTid != pid { processes.remove(formerTid) }
        processes.add(pid)
        let verdict = Self.check(pid: pid, against: expected)
        guard let failure = verdict else {
            _ = sentinel_ptrace_cont(pid, 0)
            return
        }
        let loaded = (try? TargetProcess(tid: pid).link("exe")) ?? "an image that cannot be named"
        kill(pid, SIGKILL)
        mismatchHandler.withLock { $0 }?(Mismatch(pid: pid, expected: expected, loaded: loaded, reason: failure))
    }

    /// Nil when process `pid`, stopped right after its exec, runs what `expected` describes; else
    /// why not.
    static func check(pid: Int32, against expected: ExecExpectation?) -> String? {
        guard let expected else {
            return "no exec was decided for this process (it was refused, or the command had exited)"
        }
        var info = stat()
        guard stat("/proc/\(pid)/exe", &info) == 0 else {
            return "the image it loaded cannot be examined (/proc/\(pid)/exe: \(SupervisorError.text(Glibc.errno)))"
        }
        let loaded = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        guard loaded == expected.image else {
            return "the kernel loaded another file than the one decided (\(expected.imagePath)): the path was changed after the check"
        }
        guard let arguments = commandLine(of: pid) else {
            return "its arguments cannot be read (/proc/\(pid)/cmdline)"
        }
        // Since Linux 5.18 an empty argv is run as [""].
        let decided = expected.arguments.isEmpty ? [""] : expected.arguments
        if expected.isScript {
            let tail = Array(decided.dropFirst())
            guard arguments.count >= tail.count, Array(arguments.suffix(tail.count)) == tail else {
                return "its arguments differ from the ones decided: they were changed after the check"
            }
        } else if arguments != decided {
            return "its arguments differ from the ones decided: they were changed after the check"
        }
        return nil
    }

    /// `/proc/PID/cmdline` split at NUL bytes; nil when it cannot be read. Read at the exec stop,
    /// before the new program has run, so it is exactly what the kernel copied.
    static func commandLine(of pid: Int32) -> [String]? {
        let fd = open("/proc/\(pid)/cmdline", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count <= TargetProcess.argumentBytesLimit + 65536 {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 {
                if Glibc.errno == EINTR { continue }
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        if bytes.last == 0 { bytes.removeLast() }
        return bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }
}
