import CSentinelLinux
import Glibc
import Synchronization

/// The listener of a log-mode filter: every notification is a call the profile would deny;
/// the session records which system call, which rule would have denied it and a summary of the
/// arguments the profile's rules look at, then lets the call continue.
///
/// It runs on a thread of its own (the listener blocks), started by `start` and stopped by
/// `finish`, which returns the report. The loop ends by itself when every task under the
/// filter has exited.
public final class SeccompLogSession: Sendable {
    private let worker: Worker
    private let thread: pthread_t

    private init(worker: Worker, thread: pthread_t) {
        self.worker = worker
        self.thread = thread
    }

    /// Starts answering `notifier`'s notifications; `enforcedRules` is `SeccompPlan.enforcedRules`,
    /// used to name the rule each call would have hit.
    public static func start(
        notifier: SeccompNotifier, enforcedRules: SeccompRuleSet
    ) throws(SeccompError)
        -> SeccompLogSession
    {
        var pipeFDs: [Int32] = [-1, -1]
        let created = sentinel_seccomp_wake_pipe(&pipeFDs)
        guard created == 0 else {
            throw SeccompError(
                .listenerFailed,
                "Cannot start the seccomp log listener: pipe2: \(String(cString: strerror(-created))).",
                errno: -created)
        }
        let worker = Worker(notifier: notifier, rules: enforcedRules, wakeRead: pipeFDs[0], wakeWrite: pipeFDs[1])
        var thread = pthread_t()
        let context = Unmanaged.passRetained(worker).toOpaque()
        let result = pthread_create(
            &thread, nil,
            { context in
                let worker = Unmanaged<Worker>.fromOpaque(context!).takeRetainedValue()
                worker.run()
                return nil
            }, context)
        guard result == 0 else {
            Unmanaged<Worker>.fromOpaque(context).release()
            close(pipeFDs[0])
            close(pipeFDs[1])
            throw SeccompError(
                .listenerFailed,
                "Cannot start the seccomp log listener thread: \(String(cString: strerror(result))).", errno: result)
        }
        return SeccompLogSession(worker: worker, thread: thread)
    }

    /// The calls recorded so far.
    public func snapshot() -> SeccompDenialReport {
        worker.report()
    }

    /// Stops the listener (answering what is already waiting), waits for its thread and returns
    /// the report. Call it after the sandboxed command has exited; calling it again returns the
    /// same report.
    public func finish() -> SeccompDenialReport {
        let shouldJoin = worker.state.withLock { state -> Bool in
            defer { state.joined = true }
            return !state.joined
        }
        if shouldJoin {
            var byte: UInt8 = 1
            _ = write(worker.wakeWrite, &byte, 1)
            pthread_join(thread, nil)
        }
        return worker.report()
    }

    deinit {
        _ = finish()
        // Both ends are closed only here, after the thread has been joined: closing the read
        // end earlier would make finish()'s wake-up write raise SIGPIPE.
        close(worker.wakeWrite)
        close(worker.wakeRead)
    }

    /// Counts per (system call, deciding rule).
    struct Key: Hashable {
        let number: UInt32
        let origin: String?
        let action: SeccompAction
    }

    struct Tally {
        var count = 0
        var arguments: [String: Int] = [:]
    }

    struct State {
        var tallies: [Key: Tally] = [:]
        var problems: [String] = []
        var joined = false
    }

    /// The loop and its state; separate from the session so the thread owns a reference.
    final class Worker: Sendable {
        let notifier: SeccompNotifier
        let rules: SeccompRuleSet
        let wakeRead: Int32
        let wakeWrite: Int32
        let state = Mutex(State())
        /// Distinct argument summaries kept per key; the rest are counted as "other".
        static let summaryLimit = 16

        init(notifier: SeccompNotifier, rules: SeccompRuleSet, wakeRead: Int32, wakeWrite: Int32) {
            self.notifier = notifier
            self.rules = rules
            self.wakeRead = wakeRead
            self.wakeWrite = wakeWrite
        }

        func run() {
            var fds = [
                pollfd(fd: notifier.fileDescriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                if poll(&fds, 2, -1) < 0 {
                    let code = Glibc.errno
                    if code == EINTR { continue }
                    problem("poll on the seccomp listener failed: \(String(cString: strerror(code)))")
                    return
                }
                if fds[0].revents & Int16(POLLIN) != 0 {
                    if !handleOne() { return }
                } else if fds[0].revents != 0 {
                    return  // hang-up: every task under the filter has exited
                }
                if fds[1].revents != 0 {
                    // Stop requested: answer whatever is already waiting, without blocking.
                    while (try? notifier.wait(timeoutMilliseconds: 0)) == .notification {
                        if !handleOne() { return }
                    }
                    return
                }
            }
        }

        /// Receives, records and continues one notification; false if the listener failed.
        func handleOne() -> Bool {
            do {
                guard let notification = try notifier.receive() else { return true }
                record(notification)
                try notifier.respond(to: notification.id, with: .continue)
                return true
            } catch {
                problem(error.description)
                return false
            }
        }

        func record(_ notification: SeccompNotification) {
            let decision = rules.decide(notification.data)
            let origin: String?
            if case .rule(let rule) = decision.source { origin = rule.origin ?? "a rule" } else { origin = nil }
            let compared = rules.comparedArguments(ofSyscall: notification.data.number)
            let summary = compared.map { "arg\($0)=0x\(String(notification.data.arguments[$0], radix: 16))" }
                .joined(separator: " ")
            let key = Key(number: notification.data.number, origin: origin, action: decision.action)
            state.withLock { state in
                var tally = state.tallies[key] ?? Tally()
                tally.count += 1
                if !summary.isEmpty {
                    if tally.arguments[summary] != nil || tally.arguments.count < Self.summaryLimit {
                        tally.arguments[summary, default: 0] += 1
                    } else {
                        tally.arguments["(other arguments)", default: 0] += 1
                    }
                }
                state.tallies[key] = tally
            }
        }

        func problem(_ message: String) {
            state.withLock { $0.problems.append(message) }
        }

        func report() -> SeccompDenialReport {
            let (tallies, problems) = state.withLock { ($0.tallies, $0.problems) }
            let table = rules.architecture.syscalls
            let entries = tallies.map { key, tally in
                SeccompDenialReport.Entry(
                    syscall: table.displayName(of: key.number), number: key.number, count: tally.count,
                    wouldBe: key.action, rule: key.origin,
                    arguments: tally.arguments.map {
                        SeccompDenialReport.ArgumentSummary(arguments: $0.key, count: $0.value)
                    }
                    .sorted { ($0.count, $1.arguments) > ($1.count, $0.arguments) })
            }
            return SeccompDenialReport(
                entries: entries.sorted { ($0.count, $1.syscall) > ($1.count, $0.syscall) }, problems: problems)
        }
    }
}

/// The calls a log-mode run made that the profile would have denied.
public struct SeccompDenialReport: Sendable, Hashable {
    /// The arguments (as the profile's rules look at them) of some of the calls, and how many.
    public struct ArgumentSummary: Sendable, Hashable {
        /// `arg0=0x28 arg2=0x0`.
        public var arguments: String
        /// How many calls had them.
        public var count: Int
    }

    /// One system call and the rule that would have denied it.
    public struct Entry: Sendable, Hashable {
        /// The system call's name (`syscall_<n>` if the table has none).
        public var syscall: String
        /// Its number.
        public var number: UInt32
        /// How many calls were let through.
        public var count: Int
        /// What enforce mode would have done.
        public var wouldBe: SeccompAction
        /// The rule that would have denied the calls (`syscalls[15]: kernel keyrings …`); nil when no rule
        /// matched and the default action would have.
        public var rule: String?
        /// Argument summaries, most frequent first (only for calls whose rules compare arguments).
        public var arguments: [ArgumentSummary]
    }

    /// The system calls, most frequent first.
    public var entries: [Entry]
    /// What went wrong in the listener, if anything (the counts may then be incomplete).
    public var problems: [String]

    /// Creates a report.
    public init(entries: [Entry], problems: [String] = []) {
        self.entries = entries
        self.problems = problems
    }

    /// All calls let through.
    public var totalCalls: Int { entries.reduce(0) { $0 + $1.count } }

    /// The report for the user, one line each, the first a summary.
    public func lines() -> [String] {
        guard !entries.isEmpty else {
            return ["seccomp log mode: the profile would have denied no system call."]
                + problems.map { "  problem: \($0)" }
        }
        let names = Set(entries.map(\.syscall))
        var lines = [
            "seccomp log mode: the profile would have denied \(names.count) system call"
                + (names.count == 1 ? "" : "s") + " (\(totalCalls) call\(totalCalls == 1 ? "" : "s"), all let through):"
        ]
        for entry in entries {
            var line = "  \(entry.syscall) ×\(entry.count) → \(entry.wouldBe), "
            line += entry.rule.map { "denied by " + Self.shortened($0) } ?? "not allowed by any rule"
            if !entry.arguments.isEmpty {
                line += " [" + entry.arguments.prefix(4).map { "\($0.arguments) ×\($0.count)" }.joined(separator: ", ")
                line += entry.arguments.count > 4 ? ", …]" : "]"
            }
            lines.append(line)
        }
        lines += problems.map { "  problem: \($0)" }
        return lines
    }

    /// A rule's origin cut to about 100 characters for one report line.
    static func shortened(_ origin: String) -> String {
        origin.count <= 100 ? origin : String(origin.prefix(99)) + "…"
    }

    /// `profile` plus an allow rule for each system call that only the default action denied,
    /// each with a comment naming its count (for `--seccomp-suggest PATH`).
    ///
    /// A call that a rule denies, or whose name has argument rules in the profile, is not added:
    /// an unconditional allow would override those rules (libseccomp's semantics), for example
    /// re-allowing AF_VSOCK sockets to let one AF_PACKET socket through. `notAdded` says which
    /// and why, so the user can write a narrower rule by hand.
    public func suggestedProfile(from profile: SeccompProfile) -> (profile: SeccompProfile, notAdded: [String]) {
        var result = profile
        var notAdded: [String] = []
        let named = Set(profile.syscalls.flatMap(\.names))
        var added: Set<String> = []
        var counts: [String: Int] = [:]
        for entry in entries where entry.rule == nil { counts[entry.syscall, default: 0] += entry.count }
        for entry in entries {
            if let rule = entry.rule {
                notAdded.append(
                    "\(entry.syscall) (×\(entry.count)) is denied by \(rule); the suggestion keeps that rule.")
                continue
            }
            guard !added.contains(entry.syscall) else { continue }
            if named.contains(entry.syscall) {
                let seen = entry.arguments.prefix(4).map(\.arguments).joined(separator: ", ")
                notAdded.append(
                    "\(entry.syscall) (×\(entry.count)) matched none of the profile's rules for it; allowing it "
                        + "outright would override them, so add a rule with args by hand"
                        + (seen.isEmpty ? "." : " (arguments seen: \(seen))."))
                continue
            }
            if entry.syscall.hasPrefix("syscall_") {
                notAdded.append("\(entry.syscall) (×\(entry.count)) has no name in Sentinel's table; add it by hand.")
                continue
            }
            added.insert(entry.syscall)
            let count = counts[entry.syscall] ?? entry.count
            result.syscalls.append(
                SeccompProfile.Rule(
                    names: [entry.syscall], action: .allow,
                    comment: "added by --seccomp-suggest: \(count) call\(count == 1 ? "" : "s") in a log-mode run"))
        }
        return (result, notAdded)
    }
}
