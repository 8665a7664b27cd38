import CSentinelLinux
import Foundation
import Glibc
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelApproval
import SentinelSandbox
import Synchronization

/// Counts of what the supervisor did, for the summary line and tests.
public struct SupervisorStatistics: Sendable, Hashable {
    /// Notifications received.
    public var notifications = 0
    /// Decisions put to the pipeline (each wrote one audit record).
    public var decisions = 0
    /// Of those, allowed (by the policy or a person).
    public var allowed = 0
    /// Of those, refused.
    public var denied = 0
    /// Calls refused because the supervisor could not read or handle them.
    public var failures = 0
    /// Calls answered without a decision (a read outside `blocked_paths`, an exec of a missing file).
    public var passedThrough = 0
}

/// Reads notifications from the command's seccomp listener and answers each one.
///
/// One thread receives; each call that needs a decision goes to the `DecisionPipeline` in its own
/// task, so a call waiting for a person does not hold up the others. Everything the supervisor
/// can do on the command's behalf it does (opening the file it checked and handing over the
/// descriptor with `SECCOMP_IOCTL_NOTIF_ADDFD`; creating, renaming and removing entries; connecting
/// the command's socket through `pidfd_getfd`), so a racing thread cannot change what was checked.
/// An exec can only be let through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`), after
/// `SECCOMP_IOCTL_NOTIF_ID_VALID`. Any error denies.
final class Supervisor: Sendable {
    enum Kind: Sendable {
        case exec, execAt, open, openAt, openAt2, creat
        case mkdir, mkdirAt, mknod, mknodAt, rename, renameAt, renameAt2, link, linkAt, symlink, symlinkAt
        case unlink, unlinkAt, rmdir
        case truncate
        case connect, sendTo, sendMsg, sendMMsg
        case ioctl, socket
        /// A call the guard never lets a program make (GuardFilter.refusedCalls, a namespace clone).
        case refused
    }

    /// `AT_EMPTY_PATH` (a `_GNU_SOURCE` constant the Glibc module does not import).
    static let atEmptyPath: Int32 = 0x1000

    let notifier: SeccompNotifier
    let policy: Policy
    /// Endpoints allowed without the policy (``GuardOptions/trustedEndpoints``).
    let trustedEndpoints: Set<IPEndpoint>
    let pipeline: DecisionPipeline
    let initialPid: Int32
    /// The processes under the guard, and the execs decided for them (shared with the tracer).
    let processes: GuardedProcesses
    /// Whether a refused process is told why on its standard error (not with `--quiet`).
    let explainRefusals: Bool
    let log: @Sendable (String) -> Void
    let kinds: [UInt32: Kind]
    let names: [UInt32: String]
    private let stopping = Atomic<Bool>(false)
    private let wakePipe: (read: Int32, write: Int32)
    private let state = Mutex(SupervisorStatistics())
    /// The last refused exec of each thread: execvp tries every PATH entry, and a second entry
    /// for the same program (`/usr/bin/x` and `/bin/x` through the /usr merge) is the same
    /// action, which must be asked and recorded once.
    private let recentExecDenials = Mutex<[Int32: (key: String, at: ContinuousClock.Instant)]>([:])
    private let pidfdWarning = Atomic<Bool>(false)
    /// Whether the operator was told that a decision could not be recorded (once per run).
    private let unrecordedWarning = Atomic<Bool>(false)

    init(
        notifier: SeccompNotifier, policy: Policy, pipeline: DecisionPipeline, initialPid: Int32,
        processes: GuardedProcesses, trustedEndpoints: Set<IPEndpoint> = [], explainRefusals: Bool = true,
        log: @escaping @Sendable (String) -> Void
    ) throws(SupervisorError) {
        self.notifier = notifier
        self.processes = processes
        self.explainRefusals = explainRefusals
        self.trustedEndpoints = trustedEndpoints
        self.policy = policy
        self.pipeline = pipeline
        self.initialPid = initialPid
        self.log = log
        guard let architecture = SeccompArchitecture.native else {
            throw SupervisorError(.seccomp, "sentinel guard supports x86-64 and aarch64 only.")
        }
        let table: [(String, Kind)] = [
            ("execve", .exec), ("execveat", .execAt), ("open", .open), ("openat", .openAt), ("openat2", .openAt2),
            ("creat", .creat), ("mkdir", .mkdir), ("mkdirat", .mkdirAt), ("mknod", .mknod), ("mknodat", .mknodAt),
            ("rename", .rename), ("renameat", .renameAt), ("renameat2", .renameAt2), ("link", .link),
            ("linkat", .linkAt), ("symlink", .symlink), ("symlinkat", .symlinkAt), ("unlink", .unlink),
            ("unlinkat", .unlinkAt), ("rmdir", .rmdir), ("truncate", .truncate), ("connect", .connect),
            ("sendto", .sendTo), ("sendmsg", .sendMsg), ("sendmmsg", .sendMMsg), ("ioctl", .ioctl), ("socket", .socket),
        ]
        var kinds: [UInt32: Kind] = [:]
        var names: [UInt32: String] = [:]
        for (name, kind) in table + (GuardFilter.refusedCalls + ["clone"]).map({ ($0, Kind.refused) }) {
            if let number = architecture.syscalls.number(of: name) {
                kinds[number] = kind
                names[number] = name
            }
        }
        self.kinds = kinds
        self.names = names
        var fds: [Int32] = [-1, -1]
        let result = sentinel_supervisor_cloexec_pipe(&fds)
        guard result == 0 else {
            throw SupervisorError(.launch, "Cannot create the supervisor's wake-up pipe (\(SupervisorError.text(-result))).", errno: -result)
        }
        wakePipe = (fds[0], fds[1])
    }

    deinit {
        close(wakePipe.read)
        close(wakePipe.write)
    }

    var statistics: SupervisorStatistics { state.withLock { $0 } }

    // MARK: - The receiving loop

    /// Starts the receiving thread.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "sentinel-guard-supervisor"
        thread.start()
    }

    /// Makes the receiving loop return (after the command has exited).
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
    }

    private func run() {
        var entries = [
            pollfd(fd: notifier.fileDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0),
        ]
        while !stopping.load(ordering: .sequentiallyConsistent) {
            entries[0].revents = 0
            entries[1].revents = 0
            let ready = poll(&entries, 2, -1)
            if ready < 0 {
                if Glibc.errno == EINTR { continue }
                log("sentinel guard: polling the seccomp listener failed (\(SupervisorError.text(Glibc.errno))); supervision stops and the command's checked calls will fail.")
                return
            }
            if entries[1].revents != 0 { return }
            if entries[0].revents & Int16(POLLIN) == 0 {
                // EPOLLHUP: every process under the filter is gone.
                if entries[0].revents != 0 { return }
                continue
            }
            let notification: SeccompNotification?
            do {
                notification = try notifier.receive()
            } catch {
                log("sentinel guard: \(error)")
                continue
            }
            guard let notification else { continue }
            state.withLock { $0.notifications += 1 }
            handle(notification)
        }
    }

    // MARK: - Dispatch

    /// What to do with a call once it is read and checked.
    enum Plan {
        /// Answer now, without a decision (nothing the policy decides on).
        case answer(SeccompResponse)
        /// Open (or otherwise act) on the command's behalf, without a decision.
        case act(@Sendable () -> Void)
        /// Put a request to the pipeline; then `perform` (allowed) or refuse with `errno`.
        case decide(
            [DecisionRequest], refuseWith: Int32, onDenied: (@Sendable () -> Void)?, perform: @Sendable () -> Void)
    }

    private func handle(_ notification: SeccompNotification) {
        let plan: Plan
        do {
            plan = try self.plan(notification)
        } catch {
            refuse(notification, error)
            return
        }
        switch plan {
        case .answer(let response):
            count { $0.passedThrough += 1 }
            answer(notification.id, response)
        case .act(let action):
            count { $0.passedThrough += 1 }
            action()
        case .decide(let requests, let errno, let onDenied, let perform):
            // A decided write, connect or send ends the operator's chain for that process: from
            // then on it is the program, not a shim on its way (issue 15).
            // (Opening a terminal or /dev/null, which every shell does at start, is not one.)
            if !processes.chainIsEmpty,
                requests.contains(where: { $0.action != .exec && $0.verdict.rule != "builtin:harmless-devices" }),
                let tgid = try? TargetProcess(tid: notification.pid).threadGroup()
            {
                processes.leaveChain(tgid)
            }
            // What the policy allows is recorded and answered on this thread: a Task hop to the
            // cooperative pool cost a wake-up and two context switches per exec (issue 7). Only a
            // denial, which may wait for a human, leaves it. (Every `perform` returns quickly: an
            // open on the command's behalf, or a thread started for a connect.)
            if requests.allSatisfy({ $0.verdict.isAllowed || !$0.isApprovable || $0.verdict.isFinal }) {
                var refusal: (DecisionRequest, PipelineDecision?)?
                for request in requests {
                    // decideWithoutAsking answers every allowed verdict; nil cannot happen here,
                    // and would refuse. A denial nobody may overturn is recorded here too.
                    let decision = request.verdict.isAllowed
                        ? pipeline.decideWithoutAsking(request) : pipeline.refuseWithoutAsking(request)
                    tally(decision)
                    if decision?.isAllowed != true {
                        refusal = (request, decision)
                        break
                    }
                }
                conclude(notification, refusal: refusal, refuseWith: errno, onDenied: onDenied, perform: perform)
                return
            }
            Task {
                var refusal: (DecisionRequest, PipelineDecision?)?
                for request in requests {
                    let decision = await pipeline.decide(request)
                    tally(decision)
                    if !decision.isAllowed {
                        refusal = (request, decision)
                        break
                    }
                }
                conclude(notification, refusal: refusal, refuseWith: errno, onDenied: onDenied, perform: perform)
            }
        }
    }

    private func tally(_ decision: PipelineDecision?) {
        count {
            $0.decisions += 1
            if decision?.isAllowed == true { $0.allowed += 1 } else { $0.denied += 1 }
        }
        // A decision that could not be recorded was refused: the operator must learn why (a full
        // disk, a log the program holds locked), once, not once per call.
        if let decision, decision.auditSequence == nil, !unrecordedWarning.exchange(true, ordering: .relaxed) {
            log("sentinel guard: \(decision.reason) Later calls that cannot be recorded are refused too and counted as denied.")
        }
    }

    private func conclude(
        _ notification: SeccompNotification, refusal: (DecisionRequest, PipelineDecision?)?, refuseWith errno: Int32,
        onDenied: (@Sendable () -> Void)?, perform: @Sendable () -> Void
    ) {
        guard let (request, decision) = refusal else { return perform() }
        onDenied?()
        // The C library's own probes (marked "asked: no", Supervisor+Network.swift) are not the
        // program's doing, and it copes with their refusal: a line about them would only mislead.
        if explainRefusals, request.details["asked"] == nil, notifier.isPending(notification.id) {
            explain(request, decision, to: notification.pid)
        }
        answer(notification.id, .error(errno))
    }

    /// Writes one line to the refused process's standard error (a duplicate of its descriptor 2,
    /// taken while its call still waits), so a program, or an AI agent reading its tool's output,
    /// learns what was refused, by which rule, and what would allow it: an `EACCES` alone says
    /// nothing. The rule is the audit record's.
    func explain(_ request: DecisionRequest, _ decision: PipelineDecision?, to tid: Int32) {
        guard let tgid = try? TargetProcess(tid: tid).threadGroup(), case .success(let stderr) = duplicate(2, tgid: tgid) else {
            return
        }
        let line = Self.refusalLine(request, decision)
        _ = line.withCString { Glibc.write(stderr.value, $0, strlen($0)) }
    }

    /// `sentinel: refused exec of perl -e 1: Command 'perl' is blocked … [builtin:interpreter-denylist]`,
    /// with the policy change that would allow it when there is one; one line, at most 600 bytes.
    static func refusalLine(_ request: DecisionRequest, _ decision: PipelineDecision?) -> String {
        let action = request.action.rawValue.replacingOccurrences(of: "_", with: " ")
        var reason = decision?.reason ?? request.verdict.reason
        if let remedy = request.verdict.remedy {
            if let last = reason.last, !".!?".contains(last) { reason += "." }
            reason += " To allow it: \(remedy)"
        }
        let target = request.target.count > 200 ? String(request.target.prefix(200)) + "…" : request.target
        var line = "sentinel: refused \(action) of \(target): \(reason) [\(request.verdict.rule)]"
        line = String(line.map { $0.isNewline || $0 == "\u{1b}" ? " " : $0 })
        if line.utf8.count > 600 { line = String(line.prefix(597)) + "…" }
        return line + "\n"
    }

    func count(_ body: (inout SupervisorStatistics) -> Void) {
        state.withLock { body(&$0) }
    }

    func answer(_ id: UInt64, _ response: SeccompResponse) {
        do {
            try notifier.respond(to: id, with: response)
        } catch {
            log("sentinel guard: \(error)")
        }
    }

    /// Refuses a call the supervisor could not read or handle, with a sentence on stderr.
    func refuse(_ notification: SeccompNotification, _ error: any Error) {
        let name = names[notification.data.number] ?? "system call \(notification.data.number)"
        if let failure = error as? SupervisorError, failure.code == .targetUnreadable, !notifier.isPending(notification.id) {
            return  // The thread died or its call was interrupted while we read: nothing to answer.
        }
        count { $0.failures += 1 }
        log("sentinel guard: refused \(name) of process \(notification.pid): \(error) The call fails with EACCES.")
        answer(notification.id, .error(EACCES))
    }

    private func plan(_ notification: SeccompNotification) throws(SupervisorError) -> Plan {
        guard let kind = kinds[notification.data.number] else {
            throw SupervisorError(
                .unsupported, "the guard's filter notified a call it has no handler for (number \(notification.data.number)).")
        }
        let target = TargetProcess(tid: notification.pid)
        let arguments = notification.data.arguments
        switch kind {
        case .exec:
            return try planExec(notification, target, dirfd: AT_FDCWD, path: arguments[0], argv: arguments[1], flags: 0)
        case .execAt:
            return try planExec(
                notification, target, dirfd: Int32(truncatingIfNeeded: arguments[0]), path: arguments[1],
                argv: arguments[2], flags: Int32(truncatingIfNeeded: arguments[4]))
        case .open:
            return try planOpen(notification, target, dirfd: AT_FDCWD, path: arguments[0], flags: arguments[1], mode: arguments[2])
        case .openAt:
            return try planOpen(
                notification, target, dirfd: Int32(truncatingIfNeeded: arguments[0]), path: arguments[1],
                flags: arguments[2], mode: arguments[3])
        case .creat:
            return try planOpen(
                notification, target, dirfd: AT_FDCWD, path: arguments[0],
                flags: UInt64(O_CREAT | O_WRONLY | O_TRUNC), mode: arguments[1])
        case .openAt2:
            let size = arguments[3]
            guard size >= 24 else { return .answer(.error(EINVAL)) }
            let how = try target.bytes(at: arguments[2], count: 24)
            let flags = how.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
            let mode = how.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
            return try planOpen(
                notification, target, dirfd: Int32(truncatingIfNeeded: arguments[0]), path: arguments[1], flags: flags,
                mode: mode)
        case .mkdir, .mkdirAt, .mknod, .mknodAt, .rename, .renameAt, .renameAt2, .link, .linkAt, .symlink, .symlinkAt,
            .unlink, .unlinkAt, .rmdir:
            return try planEntry(notification, target, kind: kind)
        case .truncate:
            return try planTruncate(notification, target, path: arguments[0], length: arguments[1])
        case .connect:
            return try planConnect(notification, target)
        case .sendTo, .sendMsg, .sendMMsg:
            return try planSend(notification, target, kind: kind)
        case .ioctl:
            return planTerminalInjection(notification)
        case .socket:
            return planRawSocket(notification)
        case .refused:
            return planRefusedCall(notification)
        }
    }

    // MARK: - Shared helpers

    /// The name of the call, for audit details.
    func syscallName(_ notification: SeccompNotification) -> String {
        names[notification.data.number] ?? String(notification.data.number)
    }

    /// Lets the call run as made, if it is still pending (for execs and sends, which cannot be
    /// made on the command's behalf).
    func continueIfPending(_ id: UInt64) {
        guard notifier.isPending(id) else { return }
        answer(id, .continue)
    }

    /// Details every record of a call carries.
    func details(_ notification: SeccompNotification, _ extra: [String: String] = [:]) -> [String: String] {
        var details = extra
        details["pid"] = String(notification.pid)
        details["syscall"] = syscallName(notification)
        return details
    }

    /// Remembers that `tid` was refused an exec of `key`; returns whether it was refused the same
    /// exec a moment ago (then the caller answers without asking or recording again).
    func isRepeatedExecDenial(tid: Int32, key: String) -> Bool {
        let now = ContinuousClock.now
        return recentExecDenials.withLock { table in
            if let last = table[tid], last.key == key, now - last.at < .seconds(5) { return true }
            return false
        }
    }

    func rememberExecDenial(tid: Int32, key: String) {
        recentExecDenials.withLock { table in
            if table.count > 1024 { table.removeAll() }
            table[tid] = (key, ContinuousClock.now)
        }
    }

    func forgetExecDenial(tid: Int32) {
        _ = recentExecDenials.withLock { $0.removeValue(forKey: tid) }
    }


    func warnOnce(_ message: String) {
        if !pidfdWarning.exchange(true, ordering: .relaxed) { log(message) }
    }
}
