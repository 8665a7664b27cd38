// One place every enforcement point goes through to ask a human.

import Synchronization

/// Puts approval requests to a handler one at a time, with a time limit, and remembers scoped
/// answers (this run, N minutes).
///
/// Every caller (threads of the seccomp supervisor, proxy connections, the Swift API) shares one
/// broker, which guarantees:
/// - **One prompt at a time.** Requests wait their turn; two dialogs never overlap.
/// - **A bounded wait.** A request waits at most `timeout` for its turn and at most `timeout` for
///   its answer. Either wait running out is a denial with approver `timeout`; the handler is
///   cancelled, and the next prompt starts only once it has returned.
/// - **Errors deny.** A handler that throws yields a denial naming the handler and the error.
/// - **Identical questions waiting together are one question.** Requests for the same exact action
///   (``SecurityAlert/subject``: the executable's identity and arguments, the resolved socket, the
///   address) that arrive while one is being asked share its prompt and its answer.
/// - **Scoped answers stick, to exactly what was asked.** After an answer for this run (approve or
///   deny) or for N minutes, the same action on the same subject gets that answer without asking,
///   with approver ``Approver/remembered``, until the run ends, the deadline passes (measured on a
///   monotonic clock) or ``forgetRememberedAnswers()``. The match is exact: approving
///   `wc report.txt` does not approve `/usr/bin/python3 report.txt`, whose command line reads the
///   same, nor `wc report.txt ` with a trailing space.
/// - **No prompt flooding.** More than ``floodLimit`` new questions within a second are denied
///   without asking, with approver ``Approver/floodLimit`` and a sentence saying so.
///
/// The returned ``ApprovalDecision`` carries the approver for the audit record.
public actor ApprovalBroker {
    /// The default for `approval.timeout_seconds`.
    public static let defaultTimeout: Duration = .seconds(60)
    /// How many new questions may be asked within one second; more are refused as flooding.
    public static let floodLimit = 10
    /// The sentence a question refused by the flood limit carries.
    public static let floodSentence = "too many approval questions at once (prompt flooding): denied without asking"

    /// What the broker has done so far (for status displays and tests).
    public struct Statistics: Hashable, Sendable {
        /// Prompts handed to the handler.
        public var prompts = 0
        /// Requests that shared the answer of an identical request already being asked.
        public var coalesced = 0
        /// Requests answered from a remembered answer without asking.
        public var rememberedHits = 0
        /// Requests denied because a wait ran out.
        public var timeouts = 0
        /// Requests denied because the handler threw.
        public var handlerErrors = 0
        /// Requests denied by the flood limit.
        public var floodRefusals = 0
        /// Requests waiting for their turn now.
        public var waiting = 0
        /// Whether a prompt is open now.
        public var promptOpen = false
    }

    /// What an answer covers: the action and its exact subject (``SecurityAlert/subject``),
    /// compared byte for byte: no trimming, no prefix, no case folding.
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

    /// An answer kept for its scope.
    private struct Remembered {
        let answer: ApprovalAnswer
        /// Who gave it.
        let approver: Approver
        /// When it stops applying; `nil` for the rest of the run.
        let deadline: ContinuousClock.Instant?
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    /// The handler that asks.
    public nonisolated let handler: any ApprovalHandler
    /// How long a request waits for its turn, and then for its answer.
    public nonisolated let timeout: Duration
    /// The monotonic clock deadlines and the flood window are measured on (injectable for tests).
    private nonisolated let now: @Sendable () -> ContinuousClock.Instant

    private var remembered: [Key: Remembered] = [:]
    private var inFlight: [Key: Task<ApprovalDecision, Never>] = [:]
    /// When the latest new questions were put (at most ``floodLimit`` kept).
    private var recentQuestions: [ContinuousClock.Instant] = []
    private var promptOpen = false
    private var queue: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    private var counters = Statistics()

    /// Creates a broker.
    ///
    /// - Parameters:
    ///   - handler: who is asked.
    ///   - timeout: `approval.timeout_seconds`; see ``timeout(seconds:)``.
    ///   - now: the monotonic clock for answer deadlines and the flood limit; tests pass a clock
    ///     they advance themselves.
    public init(
        handler: any ApprovalHandler, timeout: Duration = ApprovalBroker.defaultTimeout,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.handler = handler
        self.timeout = timeout
        self.now = now
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

    /// The answer remembered now for `action` on `subject` (an alert's ``SecurityAlert/subject``,
    /// or its target when it has none), if one applies.
    public func rememberedAnswer(action: String, subject: String) -> ApprovalAnswer? {
        lookUp(Key(action: action, subject: subject))?.answer
    }

    /// Forgets every remembered answer; the next request for each is asked again.
    public func forgetRememberedAnswers() {
        remembered.removeAll()
    }

    /// Answers an alert: from a remembered answer, by joining an identical request in progress, or
    /// by asking the handler in turn. Never throws: every failure is a denial that says why.
    public func decide(_ alert: SecurityAlert) async -> ApprovalDecision {
        let key = Key(alert)
        if let decision = rememberedDecision(key) { return decision }
        if let running = inFlight[key] {
            counters.coalesced += 1
            return await running.value
        }
        if isFlooded() {
            counters.floodRefusals += 1
            return .deny(by: .floodLimit, note: Self.floodSentence)
        }
        var asked = alert
        asked.timeout = timeout
        let task = Task { await self.ask(asked, key: key) }
        inFlight[key] = task
        return await task.value
    }

    // MARK: - Remembering

    /// The remembered answer for `key`, dropping it when its deadline has passed.
    private func lookUp(_ key: Key) -> Remembered? {
        guard let entry = remembered[key] else { return nil }
        if let deadline = entry.deadline, now() >= deadline {
            remembered[key] = nil
            return nil
        }
        return entry
    }

    /// A decision from a remembered answer: still a decision, saying where it came from.
    private func rememberedDecision(_ key: Key) -> ApprovalDecision? {
        guard let entry = lookUp(key) else { return nil }
        counters.rememberedHits += 1
        let until: String
        switch entry.answer.scope {
        case .minutes: until = "until its deadline"
        case .once, .run: until = "for this run"
        }
        return ApprovalDecision(
            answer: entry.answer, approver: .remembered,
            note: "remembered answer \"\(entry.answer.label)\" given by \(entry.approver), kept \(until)")
    }

    private func remember(_ decision: ApprovalDecision, for key: Key) {
        switch decision.answer.scope {
        case .once:
            return
        case .run:
            remembered[key] = Remembered(answer: decision.answer, approver: decision.approver, deadline: nil)
        case .minutes(let minutes):
            remembered[key] = Remembered(
                answer: decision.answer, approver: decision.approver, deadline: now() + .seconds(60 * minutes))
        }
    }

    /// Whether ``floodLimit`` new questions were already put within the last second; if not, counts
    /// this one.
    private func isFlooded() -> Bool {
        let current = now()
        recentQuestions.removeAll { current - $0 >= .seconds(1) }
        if recentQuestions.count >= Self.floodLimit { return true }
        recentQuestions.append(current)
        return false
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
        // An identical question answered for its scope while this one waited its turn.
        if let decision = rememberedDecision(key) {
            releasePrompt()
            return decision
        }
        counters.prompts += 1
        let handler = self.handler
        let prompt = Task.detached { try await handler.decide(alert) }
        switch await Self.race(prompt, against: timeout) {
        case .answered(.success(let decision)):
            releasePrompt()
            remember(decision, for: key)
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
