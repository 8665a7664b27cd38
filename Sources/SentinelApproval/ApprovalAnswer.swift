// The one answer type every handler gives (console, popup, and later the page of issue 17):
// a verdict and how long it holds.

/// What a person answered: approve or deny, and for how long the answer holds.
///
/// Every handler offers the same answers in the same order (``offered``), with deny first and the
/// default: Enter on an empty line, end of input, Escape, a closed window and a timeout all give
/// ``denyOnce``. An answer never edits the policy: a remembered answer lives in the broker's
/// memory only, for this run or until its deadline.
public struct ApprovalAnswer: Hashable, Sendable, CustomStringConvertible {
    /// Whether the action may go ahead.
    public enum Verdict: String, Hashable, Sendable, Codable {
        /// Let it go ahead.
        case approve
        /// Refuse it.
        case deny
    }

    /// How long an answer holds.
    public enum Scope: Hashable, Sendable, CustomStringConvertible {
        /// For this one question only.
        case once
        /// For every identical question until the process (this run) ends.
        case run
        /// For every identical question for this many minutes (``ApprovalAnswer/minutesRange``).
        case minutes(Int)

        /// `once`, `run` or `minutes:N` (the audit record's `approval_scope`).
        public var description: String {
            switch self {
            case .once: "once"
            case .run: "run"
            case .minutes(let minutes): "minutes:\(minutes)"
            }
        }
    }

    /// Approve or deny.
    public var verdict: Verdict
    /// How long it holds.
    public var scope: Scope

    /// Creates an answer.
    public init(_ verdict: Verdict, _ scope: Scope) {
        self.verdict = verdict
        self.scope = scope
    }

    /// Deny this one question: the default, and what every failure to answer means.
    public static let denyOnce = ApprovalAnswer(.deny, .once)
    /// Deny this question and every identical one for the rest of the run, without asking.
    public static let denyForRun = ApprovalAnswer(.deny, .run)
    /// Approve this one question.
    public static let approveOnce = ApprovalAnswer(.approve, .once)
    /// Approve this question and every identical one for the rest of the run.
    public static let approveForRun = ApprovalAnswer(.approve, .run)
    /// The original's "approve for session" answer, which is ``approveForRun`` (kept so handlers
    /// written for the old interface still compile; it never edits the policy).
    public static let approveForSession = approveForRun
    /// The original's "reject", which is ``denyOnce``.
    public static let deny = denyOnce

    /// Approve for `minutes` minutes, clamped to ``minutesRange``.
    public static func approve(forMinutes minutes: Int) -> ApprovalAnswer {
        ApprovalAnswer(.approve, .minutes(min(max(minutes, minutesRange.lowerBound), minutesRange.upperBound)))
    }

    /// The minutes offered by the console and popup (the page may ask for another number).
    public static let defaultMinutes = 15
    /// The minutes an answer may hold: one minute to one day.
    public static let minutesRange = 1...1_440

    /// The answers every handler offers, in this order: deny first, and the first is the default.
    public static let offered: [ApprovalAnswer] = [
        .denyOnce, .denyForRun, .approveOnce, .approveForRun, .approve(forMinutes: defaultMinutes),
    ]

    /// Whether the action may go ahead.
    public var isApproved: Bool { verdict == .approve }

    /// The button or menu text: "Deny once", "Approve for this run", "Approve for 15 minutes".
    public var label: String {
        let verb = verdict == .approve ? "Approve" : "Deny"
        switch scope {
        case .once: return "\(verb) once"
        case .run: return "\(verb) for this run"
        case .minutes(let minutes): return "\(verb) for \(minutes) minute\(minutes == 1 ? "" : "s")"
        }
    }

    /// `approve_once`, `deny_run`, `approve_minutes:15`: the audit record's `approval` value and
    /// the id a dialog prints (never its label, which a translation could change).
    public var rawValue: String {
        switch scope {
        case .once: "\(verdict.rawValue)_once"
        case .run: "\(verdict.rawValue)_run"
        case .minutes(let minutes): "\(verdict.rawValue)_minutes:\(minutes)"
        }
    }

    /// Parses ``rawValue``; `nil` for anything else, including minutes outside ``minutesRange``.
    public init?(rawValue: String) {
        let parts = rawValue.split(separator: "_", maxSplits: 1).map(String.init)
        guard parts.count == 2, let verdict = Verdict(rawValue: parts[0]) else { return nil }
        switch parts[1] {
        case "once": self.init(verdict, .once)
        case "run": self.init(verdict, .run)
        default:
            guard parts[1].hasPrefix("minutes:"), let minutes = Int(parts[1].dropFirst("minutes:".count)),
                Self.minutesRange.contains(minutes)
            else { return nil }
            self.init(verdict, .minutes(minutes))
        }
    }

    /// The same as ``rawValue``.
    public var description: String { rawValue }

    /// The paragraph `--help` shows about answering questions (the scopes, the default, the
    /// timeout and the flood limit), the same for every command that asks.
    public static let helpParagraph = """
        A question offers, in this order: \(offered.map { $0.label.lowercased() }.joined(separator: ", ")) \
        (console: 1 to \(offered.count), `\(offered.count) N` for N minutes). Deny once is the default: Enter, end of \
        input, Escape, a closed window and no answer within approval.timeout_seconds (60 s unless set) all deny \
        once. An answer for this run or for N minutes is reused, without asking, only for exactly the same action \
        (the executable's device, inode and arguments, the resolved path, the host and port); it is kept in memory, \
        never written to the policy, and recorded as approver "remembered" with its scope. Identical questions \
        waiting together are one question; more than \(ApprovalBroker.floodLimit) new questions within a second \
        are denied without asking (prompt flooding).
        """

    /// The sentence every prompt shows about time: "Answer within 60 s; no answer denies."
    public static func timeoutSentence(_ timeout: Duration?) -> String {
        guard let timeout else { return "No answer denies." }
        return "Answer within \(describe(timeout)); no answer denies."
    }
}

/// The answer to one approval request, and who gave it.
public struct ApprovalDecision: Hashable, Sendable, CustomStringConvertible {
    /// The old name of ``ApprovalAnswer``, for handlers written before scoped answers.
    public typealias Outcome = ApprovalAnswer

    /// What was answered.
    public var answer: ApprovalAnswer
    /// Who answered (``Approver/remembered`` when an earlier answer was reused).
    public var approver: Approver
    /// Why, when the answer did not come from a person now (a timeout, a handler error, no
    /// terminal, a remembered answer, the flood limit).
    public var note: String?

    /// Creates a decision.
    public init(answer: ApprovalAnswer, approver: Approver, note: String? = nil) {
        self.answer = answer
        self.approver = approver
        self.note = note
    }

    /// Approve this one action.
    public static func approveOnce(by approver: Approver) -> ApprovalDecision {
        ApprovalDecision(answer: .approveOnce, approver: approver)
    }

    /// Deny this one action, with the reason when no person decided.
    public static func deny(by approver: Approver, note: String? = nil) -> ApprovalDecision {
        ApprovalDecision(answer: .denyOnce, approver: approver, note: note)
    }

    /// Whether the action may go ahead.
    public var isApproved: Bool { answer.isApproved }

    /// Whether this answer came from memory rather than a person asked now.
    public var isRemembered: Bool { approver == .remembered }

    /// The answer and approver, with the note if any.
    public var description: String {
        let base = "\(answer) by \(approver)"
        guard let note else { return base }
        return "\(base): \(note)"
    }
}

/// `60 s`, or `300 ms` below a second: how prompts and refusals say a duration.
func describe(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    if attoseconds == 0 { return "\(seconds) s" }
    let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return "\(milliseconds) ms"
}
