import CSentinelLinux
import Foundation
import Glibc
import SentinelAudit
public import SentinelGuard
public import SentinelPolicy
import SentinelSandbox

/// How the command of a `sentinel guard` run ended.
public struct GuardExit: Sendable, Hashable {
    /// The exit status, or 128 + the signal number when a signal ended it (as a shell reports it).
    public var status: Int32
    /// The signal that ended it, if one did.
    public var signal: Int32?
}

/// What a `sentinel guard` run needs besides the command.
public struct GuardOptions: Sendable {
    /// The compiled policy.
    public var policy: Policy
    /// The pipeline every decision goes through (mode `guard`).
    public var pipeline: DecisionPipeline
    /// The command's environment (the caller's when nil is given), without Sentinel's own keys
    /// (`SentinelEnvironment.secrets`): the command must not be able to print them.
    public var environment: [String: String]
    /// Apply the file rules a second time with Landlock (when the kernel has it).
    public var landlock: Bool
    /// Where warnings and refusals the supervisor could not record as decisions go (stderr).
    public var log: @Sendable (String) -> Void
    /// Addresses the command may always connect to, decided `allow` with rule `guard:trusted-endpoint`
    /// and recorded like any connect: the policy proxy of a `--network proxied` container, whose
    /// address the operator knows and the policy cannot.
    public var trustedEndpoints: Set<IPEndpoint>
    /// Whether a refused process is told why with one line on its standard error (the
    /// decision's reason, its rule and what would allow it). `--quiet` turns it off.
    public var explainRefusals: Bool

    /// Creates the options.
    public init(
        policy: Policy, pipeline: DecisionPipeline, environment: [String: String]? = nil,
        landlock: Bool = true, log: @escaping @Sendable (String) -> Void = GuardOptions.standardError,
        trustedEndpoints: Set<IPEndpoint> = [], explainRefusals: Bool = true
    ) {
        self.explainRefusals = explainRefusals
        self.trustedEndpoints = trustedEndpoints
        self.policy = policy
        self.pipeline = pipeline
        self.environment = SentinelEnvironment.withoutSecrets(environment ?? ProcessInfo.processInfo.environment)
        self.landlock = landlock
        self.log = log
    }

    /// Writes a line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        let text = line.hasSuffix("\n") ? line : line + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

/// One run of `sentinel guard`: the command, started under the notifying seccomp filter (and
/// Landlock) and traced, and the supervisor that answers its calls.
///
/// ```swift
/// let session = try GuardSession.start(["python3", "agent.py"], options: options)
/// let exit = await session.waitForExit()
/// ```
///
/// The launch is a fork whose child runs only raw system calls (in C) before `execve`, so it is
/// safe from a multithreaded process. The ``ProcessTracer``'s thread forks it and attaches
/// (`PTRACE_SEIZE`) before the child goes on: no_new_privs → Landlock → the filter with a new
/// listener, whose number the child writes to a socket pair (a `write`, which the filter does
/// not notify) → the supervisor takes it with `pidfd_getfd` → `execve(COMMAND)`. That first
/// exec is the operator's, so it is recorded and let through without a decision; every later
/// exec, by any process under the filter, is decided, and every exec is verified at its exec
/// stop. The kernel keeps the filter and the tracing across fork and exec, so every descendant
/// is covered.
public final class GuardSession: Sendable {
    /// The command's process id.
    public let processID: Int32
    /// What the second layer does on this machine.
    public let landlockDescription: String
    private let supervisor: Supervisor
    private let tracer: ProcessTracer

    private init(processID: Int32, landlockDescription: String, supervisor: Supervisor, tracer: ProcessTracer) {
        self.processID = processID
        self.landlockDescription = landlockDescription
        self.supervisor = supervisor
        self.tracer = tracer
    }

    /// What the supervisor has done so far.
    public var statistics: SupervisorStatistics { supervisor.statistics }

    /// Refuses to start when this process may not call `process_vm_readv` at all, which is how
    /// every checked call's arguments are read: otherwise the command would start and then have
    /// every exec, write and connect refused, one confusing line at a time. Reading our own
    /// memory passes the kernel's ptrace check, so a failure here is a seccomp profile (Docker
    /// 20.10's default refuses the call on this kernel: its `minKernel` 4.8 rule does not match).
    static func checkMemoryReadable() throws(SupervisorError) {
        var source: UInt64 = 0x5345_4e54_494e_454c
        var copy: UInt64 = 0
        let result = withUnsafeMutablePointer(to: &source) { pointer in
            sentinel_supervisor_read_memory(getpid(), UInt64(UInt(bitPattern: pointer)), &copy, 8)
        }
        guard result == 8, copy == source else {
            let code = result < 0 ? Int32(-result) : EIO
            throw SupervisorError(
                .targetUnreadable,
                "This process may not read another process's memory (process_vm_readv: \(SupervisorError.text(code))), which sentinel guard needs to read "
                    + "the arguments of the calls it decides; nothing was run. In a container, run with Sentinel's seccomp profile "
                    + "(--security-opt seccomp=seccomp/sentinel-seccomp.json, as sentinel-isolate does) or set SENTINEL_GUARD_IN_CONTAINER=0 "
                    + "to run without the guard.",
                errno: code)
        }
    }

    /// Starts `command` under the guard. Returns once the command's own exec has been let
    /// through; throws when it could not be started (nothing ran, or the exec failed).
    public static func start(_ command: [String], options: GuardOptions) throws(SupervisorError) -> GuardSession {
        guard let name = command.first, !name.isEmpty else {
            throw SupervisorError(.commandNotFound, "No command was given; write it after --, e.g. sentinel guard -- python3 agent.py.")
        }
        let executable = try locate(name, searchPath: options.environment["PATH"] ?? PolicyContext.standardSearchPath)
        try checkMemoryReadable()

        let (supervisorEnd, childEnd) = try wrap { () throws(SeccompError) in try SeccompHandoff.makeSocketPair() }
        defer { close(supervisorEnd) }
        var childEndOpen = true
        defer { if childEndOpen { close(childEnd) } }
        let program = try wrap { () throws(SeccompError) in
            try GuardFilter.builder(notifyReads: !options.policy.pathRules.blocked.isEmpty).program()
        }
        let ruleset = options.landlock
            ? try GuardLandlock.prepare(for: options.policy)
            : GuardLandlock.Ruleset(fileDescriptor: nil, description: "Landlock was turned off (--no-landlock)")
        defer { if let fd = ruleset.fileDescriptor { close(fd) } }
        var errorPipe: [Int32] = [-1, -1]
        let piped = sentinel_supervisor_cloexec_pipe(&errorPipe)
        guard piped == 0 else {
            throw SupervisorError(.launch, "Cannot create a pipe (\(SupervisorError.text(-piped))).", errno: -piped)
        }
        defer { close(errorPipe[0]) }
        var errorPipeWriteOpen = true
        defer { if errorPipeWriteOpen { close(errorPipe[1]) } }

        let filters = program.instructions.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        let environment = options.environment.map { "\($0.key)=\($0.value)" }.sorted()
        let rulesetDescriptor = ruleset.fileDescriptor ?? -1
        let errorWriter = errorPipe[1]
        let processes = GuardedProcesses()
        let (tracer, pid) = try ProcessTracer.launch(processes: processes, log: options.log) {
            withCStrings(command) { argv in
                withCStrings(environment) { envp in
                    filters.withUnsafeBufferPointer { filter in
                        sentinel_guard_launch(
                            executable, argv, envp, filter.baseAddress, UInt16(filter.count), 0,
                            rulesetDescriptor, childEnd, errorWriter, supervisorEnd)
                    }
                }
            }
        }
        processes.startChain(pid)
        close(errorPipe[1])
        errorPipeWriteOpen = false
        close(childEnd)
        childEndOpen = false
        // Refuses, after the child was started: it is killed, reaped by the tracer, and the
        // reason it gave (if any) is reported.
        func abandon(_ message: String, errno code: Int32? = nil) -> SupervisorError {
            kill(pid, SIGKILL)
            _ = tracer.waitForExit()
            let report = childFailure(errorPipe[0])
            return SupervisorError(.childSetup, "sentinel guard could not start \(name): \(report ?? message). The command was not run.", errno: code)
        }
        // The command runs as our uid, and the kernel lets a process read and write the memory of
        // any dumpable process of the same uid (process_vm_writev, /proc/PID/mem) unless Yama
        // forbids it, which many kernels (this one) do not build. A non-dumpable supervisor
        // can only be reached by CAP_SYS_PTRACE. Set after the fork: dumpability belongs to the
        // address space, so the child keeps its own (it needs to be readable by us before exec).
        guard sentinel_set_non_dumpable() == 0 else {
            let code = errno
            throw abandon(
                "cannot protect the supervisor's memory from the command (prctl PR_SET_DUMPABLE: \(SupervisorError.text(code)))",
                errno: code)
        }
        // The child waits for this byte: it is traced by now.
        guard writeByte(supervisorEnd) else { throw abandon("the command's process ended before it was traced") }
        guard let number = readListenerNumber(supervisorEnd) else {
            throw abandon("the command's process ended before it installed the filter")
        }
        let listener: Int32
        switch Self.takeDescriptor(number, from: pid) {
        case .success(let descriptor): listener = descriptor
        case .failure(let failure):
            let code = failure.code
            throw abandon(
                "this process may not take the seccomp listener from the command's process (pidfd_getfd: \(SupervisorError.text(code))); "
                    + "in a container, run with Sentinel's seccomp profile (--security-opt seccomp=seccomp/sentinel-seccomp.json)",
                errno: code)
        }
        let notifier: SeccompNotifier
        do {
            notifier = try SeccompNotifier(listener: listener)
        } catch {
            throw abandon("the seccomp listener cannot be used (\(error))")
        }
        let supervisor: Supervisor
        do {
            supervisor = try Supervisor(
                notifier: notifier, policy: options.policy, pipeline: options.pipeline, initialPid: pid,
                processes: processes, trustedEndpoints: options.trustedEndpoints, explainRefusals: options.explainRefusals,
                log: options.log)
        } catch {
            throw abandon(error.message)
        }
        tracer.onMismatch { [supervisor] mismatch in supervisor.recordExecMismatch(mismatch) }
        supervisor.start()
        // The child closes its listener and execs once it reads this.
        guard writeByte(supervisorEnd) else {
            supervisor.stop()
            throw abandon("the command's process ended before it could exec")
        }
        // EOF on the close-on-exec pipe: the exec happened (the supervisor let it through).
        if let report = childFailure(errorPipe[0]) {
            _ = tracer.waitForExit()
            supervisor.stop()
            throw SupervisorError(.childSetup, "sentinel guard could not start \(name): \(report).", errno: nil)
        }
        return GuardSession(processID: pid, landlockDescription: ruleset.description, supervisor: supervisor, tracer: tracer)
    }

    /// Waits (blocking this thread) for the command to exit, then stops the supervisor. Processes
    /// the command left running are killed: nothing would answer their checked calls.
    public func waitForExitBlocking() -> GuardExit {
        let status = tracer.waitForExit()
        supervisor.stop()
        let signal = status & 0x7f
        if signal == 0 { return GuardExit(status: (status >> 8) & 0xff, signal: nil) }
        return GuardExit(status: 128 + signal, signal: signal)
    }

    /// Waits for the command to exit without holding an executor thread.
    public func waitForExit() async -> GuardExit {
        await withCheckedContinuation { continuation in
            let thread = Thread { [self] in continuation.resume(returning: waitForExitBlocking()) }
            thread.start()
        }
    }

    /// A duplicate of descriptor `number` of process `pid` (`pidfd_getfd`), or the errno.
    static func takeDescriptor(_ number: Int32, from pid: Int32) -> Result<Int32, Errno> {
        let pidfd = sentinel_pidfd_open(pid)
        guard pidfd >= 0 else { return .failure(Errno(-pidfd)) }
        defer { close(pidfd) }
        let result = sentinel_pidfd_getfd(pidfd, number)
        return result >= 0 ? .success(result) : .failure(Errno(-result))
    }

    static func writeByte(_ fd: Int32) -> Bool {
        var byte: UInt8 = 1
        while true {
            let written = write(fd, &byte, 1)
            if written == 1 { return true }
            if written < 0, Glibc.errno == EINTR { continue }
            return false
        }
    }

    /// The listener's descriptor number in the child, or nil when the child closed its end.
    static func readListenerNumber(_ fd: Int32) -> Int32? {
        var number: Int32 = -1
        while true {
            let got = read(fd, &number, 4)
            if got == 4 { return number }
            if got < 0, Glibc.errno == EINTR { continue }
            return nil
        }
    }

    // MARK: - Launch helpers

    /// The file `execvp` would run for `name`.
    static func locate(_ name: String, searchPath: String) throws(SupervisorError) -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                let code = Glibc.errno
                throw SupervisorError(.commandNotFound, "Cannot run \(name): \(SupervisorError.text(code)).", errno: code)
            }
            return name
        }
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw SupervisorError(.commandNotFound, "\(name): command not found on PATH.", errno: ENOENT)
    }

    static func wrap<T>(_ body: () throws(SeccompError) -> T) throws(SupervisorError) -> T {
        do {
            return try body()
        } catch {
            throw SupervisorError(.seccomp, error.description, errno: error.errno)
        }
    }

    /// The (step, errno) the child wrote before exiting, as a sentence; nil at EOF (exec happened).
    static func childFailure(_ fd: Int32) -> String? {
        var report: [Int32] = [0, 0]
        var got = 0
        while got < 8 {
            let count = report.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, 8 - got) }
            if count < 0, Glibc.errno == EINTR { continue }
            if count <= 0 { break }
            got += count
        }
        guard got == 8 else { return nil }
        let reason = SupervisorError.text(report[1])
        switch UInt32(report[0]) {
        case SENTINEL_GUARD_LAUNCH_STEP_WAIT.rawValue: return "its process was not released to run (\(reason))"
        case SENTINEL_GUARD_LAUNCH_STEP_NO_NEW_PRIVS.rawValue: return "setting no_new_privs failed (\(reason))"
        case SENTINEL_GUARD_LAUNCH_STEP_LANDLOCK.rawValue: return "applying the Landlock ruleset failed (\(reason))"
        case SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_INSTALL.rawValue: return "the kernel refused the seccomp filter (\(reason))"
        case SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_REPORT.rawValue: return "handing the seccomp listener over failed (\(reason))"
        default: return "exec failed (\(reason))"
        }
    }
}

/// Calls `body` with a NULL-terminated C array of copies of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
