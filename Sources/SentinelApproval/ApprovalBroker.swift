// One place every enforcement point goes through to ask a human.

import Synchronization

/// Puts approval requests to a handler one at a time, with a time limit, and remembers
/// "approve for the session" answers.
///
/// Every caller (threads of the seccomp supervisor, proxy connections, the Swift API) shares one
/// broker, which guarantees:
/// - **One prompt at a time.** Requests wait their turn; two dialogs never overlap.
/// - **A bounded wait.** A request waits at most `timeout` for its turn and at most `timeout` for
///   its answer. Either wait running out is a denial with approver `timeout`; the handler is
///   cancelled, and the next prompt starts only once it has returned.
/// - **Errors deny.** A handler that throws yields a denial naming the handler and the error.
/// - **No double prompts.** Requests for the same exact action (``SecurityAlert/subject``: the
///   executable's identity and arguments, the resolved socket, the address) that arrive while one
///   is being asked share its answer (the original prompted twice for one `subprocess.run`).
/// - **Session answers stick, to exactly what was asked.** After "approve for session", the same
///   action on the same subject is approved without asking, with approver `session`, until
///   ``revokeSessionApprovals()``. Approving `wc report.txt` does not approve
///   `/usr/bin/python3 report.txt`, whose command line reads the same.
///
/// The returned ``ApprovalDecision`` carries the approver for the audit record.
public actor ApprovalBroker {
    /// The default for `approval.timeout_seconds`.
    public static let defaultTimeout: Duration = .seconds(60)

    /// What the broker has done so far (for status displays and tests).
    public struct Statistics: Hashable, Sendable {
        /// Prompts handed to the handler.
        public var prompts = 0
        /// Requests that shared the answer of an identical request already being asked.
        public var coalesced = 0
        /// Requests answered from a session approval without asking.
        public var sessionHits = 0
        /// Requests denied because a wait ran out.
        public var timeouts = 0
        /// Requests denied because the handler threw.
        public var handlerErrors = 0
        /// Requests waiting for their turn now.
        public var waiting = 0
        /// Whether a prompt is open now.
        public var promptOpen = false
    }

    /// What an answer covers: the action and its exact subject (``SecurityAlert/subject``).
    private struct Key: Hashable {
        let action: String
        let subject: String

        init(_ alert: SecurityAlert) {
            action = alert.action
            subject = alert.subject ?? alert.target
        }

        init(action: String, subject: String) {
            self.action = action
            self.subject = subject
        }
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    /// The handler that asks.
    public nonisolated let handler: any ApprovalHandler
    /// How long a request waits for its turn, and then for its answer.
    public nonisolated let timeout: Duration

    private var sessionApprovals: Set<Key> = []
    private var inFlight: [Key: Task<ApprovalDecision, Never>] = [:]
    private var promptOpen = false
    private var queue: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var counters = Statistics()

    /// Creates a broker.
    ///
    /// - Parameters:
    ///   - handler: who is asked.
    ///   - timeout: `approval.timeout_seconds`; see ``timeout(seconds:)``.
    public init(handler: any ApprovalHandler, timeout: Duration = ApprovalBroker.defaultTimeout) {
        self.handler = handler
        self.timeout = timeout
    }

    /// The timeout for a policy's `approval.timeout_seconds`: the default (60 s) when absent, not a
    /// finite positive number, or longer than a day.
    public static func timeout(seconds: Double?) -> Duration {
        guard let seconds, seconds.isFinite, seconds > 0, seconds <= 86_400 else { return defaultTimeout }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// What the broker has done so far.
    public var statistics: Statistics {
        var snapshot = counters
        snapshot.waiting = queue.count
        snapshot.promptOpen = promptOpen
        return snapshot
    }

    /// Whether `action` on `subject` (an alert's ``SecurityAlert/subject``, or its target when it
    /// has none) was approved for the session.
    public func isApprovedForSession(action: String, subject: String) -> Bool {
        sessionApprovals.contains(Key(action: action, subject: subject))
    }

    /// Forgets every session approval; the next request for each is asked again.
    public func revokeSessionApprovals() {
        sessionApprovals.removeAll()
    }

    /// Answers an alert: from a session approval, by joining an identical request in progress, or
    /// by asking the handler in turn. Never throws: every failure is a denial that says why.
    public func decide(_ alert: SecurityAlert) async -> ApprovalDecision {
        let key = Key(alert)
        if sessionApprovals.contains(key) {
            counters.sessionHits += 1
            return .approveForSession(by: .session)
        }
        if let running = inFlight[key] {
            counters.coalesced += 1
            return await running.value
        }
        let task = Task { await self.ask(alert, key: key) }
        inFlight[key] = task
        return await task.value
    }

    // MARK: - Asking

    private func ask(_ alert: SecurityAlert, key: Key) async -> ApprovalDecision {
        defer { inFlight[key] = nil }
        guard await acquirePrompt() else {
            counters.timeouts += 1
            return .deny(
                by: .timeout,
                note: "another approval prompt was still open after \(describe(timeout)), so nobody was asked")
        }
        if sessionApprovals.contains(key) {
            releasePrompt()
            counters.sessionHits += 1
            return .approveForSession(by: .session)
        }
        counters.prompts += 1
        let handler = self.handler
        let prompt = Task.detached { try await handler.decide(alert) }
        switch await Self.race(prompt, against: timeout) {
        case .answered(.success(let decision)):
            releasePrompt()
            if decision.outcome == .approveForSession { sessionApprovals.insert(key) }
            return decision
        case .answered(.failure(let error)):
            releasePrompt()
            counters.handlerErrors += 1
            return .deny(by: handler.name, note: "the \(handler.name) approval handler failed: \(error)")
        case .timedOut:
            counters.timeouts += 1
            prompt.cancel()
            // The slot passes on only when the handler has really stopped (its dialog closed).
            Task {
                _ = await prompt.result
                self.releasePrompt()
            }
            return .deny(by: .timeout, note: "nobody answered within \(describe(timeout))")
        }
    }

    /// Waits for the prompt slot; `false` when `timeout` passed first.
    private func acquirePrompt() async -> Bool {
        if !promptOpen {
            promptOpen = true
            return true
        }
        let id = nextWaiterID
        nextWaiterID += 1
        let limit = timeout
        let timer = Task {
            try? await Task.sleep(for: limit)
            self.expireWaiter(id)
        }
        let granted = await withCheckedContinuation { continuation in
            queue.append(Waiter(id: id, continuation: continuation))
        }
        timer.cancel()
        return granted
    }

    private func expireWaiter(_ id: UInt64) {
        guard let index = queue.firstIndex(where: { $0.id == id }) else { return }
        queue.remove(at: index).continuation.resume(returning: false)
    }

    /// Hands the slot to the next waiter, or frees it.
    private func releasePrompt() {
        if queue.isEmpty {
            promptOpen = false
        } else {
            queue.removeFirst().continuation.resume(returning: true)
        }
    }

    // MARK: - Racing a handler against the clock

    private enum RaceOutcome: Sendable {
        case answered(Result<ApprovalDecision, any Error>)
        case timedOut
    }

    /// Waits for `task` or `limit`, whichever comes first, without waiting for a task that ignores
    /// cancellation (which a task group would do).
    private static func race(_ task: Task<ApprovalDecision, any Error>, against limit: Duration) async -> RaceOutcome {
        let first = FirstResult<RaceOutcome>()
        let timer = Task {
            if (try? await Task.sleep(for: limit)) != nil { first.offer(.timedOut) }
        }
        Task { first.offer(.answered(await task.result)) }
        let outcome = await first.value()
        timer.cancel()
        return outcome
    }
}

/// Keeps the first value offered and hands it to the one waiter.
private final class FirstResult<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var continuation: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    func offer(_ value: Value) {
        let waiting: CheckedContinuation<Value, Never>? = state.withLock { state in
            guard state.value == nil else { return nil }
            state.value = value
            let waiting = state.continuation
            state.continuation = nil
            return waiting
        }
        waiting?.resume(returning: value)
    }

    func value() async -> Value {
        await withCheckedContinuation { continuation in
            let ready: Value? = state.withLock { state in
                if let value = state.value { return value }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

private func describe(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    if attoseconds == 0 { return "\(seconds) s" }
    let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return "\(milliseconds) ms"
}
