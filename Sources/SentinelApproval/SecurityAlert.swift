// What a human is asked about, and what they (or the machinery standing in for them) answered.

/// How dangerous the action in an alert is, as shown to the person asked.
public enum AlertSeverity: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// Unlikely to do harm.
    case low
    /// Could do harm in some contexts.
    case medium
    /// Likely to do harm if the program is hostile (the default, as in the original).
    case high
    /// Would do serious harm: credentials, system files, destructive commands.
    case critical

    /// The colour of the severity badge (the original tkinter dialog's palette).
    public var colour: String {
        switch self {
        case .critical: "#b91c1c"
        case .high: "#dc2626"
        case .medium: "#d97706"
        case .low: "#16a34a"
        }
    }

    /// Orders low < medium < high < critical.
    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        let order: [AlertSeverity] = [.low, .medium, .high, .critical]
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// One action the policy refused, put to a human.
///
/// `target` and `reason` usually contain text the guarded program chose (a path, a command line, a
/// host name), so every handler treats them as hostile: they are shown escaped, never interpreted.
public struct SecurityAlert: Hashable, Sendable {
    /// What was attempted: `exec`, `file_write`, `connect`…
    public var action: String
    /// What it was attempted on: a path, a command line, `host:port`.
    public var target: String
    /// Why the policy refused it.
    public var reason: String
    /// What the person should consider before answering.
    public var recommendation: String
    /// How dangerous the action is.
    public var severity: AlertSeverity
    /// The exact action, as a key no other action shares: the executable's device and inode with
    /// the argument vector, the resolved socket file, the address and port. Answers are
    /// remembered and identical questions merged by this, never by `target`, which is text for
    /// people (two execs with the same command line may run different files). `target` when nil.
    public var subject: String?

    /// Creates an alert.
    public init(
        action: String, target: String, reason: String, recommendation: String, severity: AlertSeverity = .high,
        subject: String? = nil
    ) {
        self.action = action
        self.target = target
        self.reason = reason
        self.recommendation = recommendation
        self.severity = severity
        self.subject = subject
    }
}

/// Who (or what) answered an approval request; written as the audit record's `approver`.
public struct Approver: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The value written in the audit log.
    public var rawValue: String
    /// Wraps a value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a literal.
    public init(stringLiteral value: String) { self.rawValue = value }
    /// The value written in the audit log.
    public var description: String { rawValue }

    /// The policy decided; nobody was asked.
    public static let policy: Approver = "policy"
    /// A person at the terminal (`/dev/tty`).
    public static let console: Approver = "console"
    /// A person in a desktop dialog.
    public static let popup: Approver = "popup"
    /// The `reject` handler (or `auto` with no display and no terminal): nobody could be asked.
    public static let reject: Approver = "reject"
    /// Nobody answered within `approval.timeout_seconds`.
    public static let timeout: Approver = "timeout"
    /// An earlier "approve for the session" answer for the same action and target.
    public static let session: Approver = "session"
}

/// The answer to one approval request, and who gave it.
public struct ApprovalDecision: Hashable, Sendable, CustomStringConvertible {
    /// What was answered.
    public enum Outcome: String, Hashable, Sendable, Codable {
        /// Let this one action go ahead.
        case approveOnce = "approve_once"
        /// Let this action on this target go ahead for the rest of the session, without asking again.
        case approveForSession = "approve_session"
        /// Refuse it.
        case deny
    }

    /// What was answered.
    public var outcome: Outcome
    /// Who answered.
    public var approver: Approver
    /// Why, when the answer did not come from a person (a timeout, a handler error, no terminal).
    public var note: String?

    /// Creates a decision.
    public init(outcome: Outcome, approver: Approver, note: String? = nil) {
        self.outcome = outcome
        self.approver = approver
        self.note = note
    }

    /// Approve this one action.
    public static func approveOnce(by approver: Approver) -> ApprovalDecision {
        ApprovalDecision(outcome: .approveOnce, approver: approver)
    }

    /// Approve this action on this target for the session.
    public static func approveForSession(by approver: Approver) -> ApprovalDecision {
        ApprovalDecision(outcome: .approveForSession, approver: approver)
    }

    /// Deny, with the reason when no person decided.
    public static func deny(by approver: Approver, note: String? = nil) -> ApprovalDecision {
        ApprovalDecision(outcome: .deny, approver: approver, note: note)
    }

    /// Whether the action may go ahead.
    public var isApproved: Bool { outcome != .deny }

    /// The outcome and approver, with the note if any.
    public var description: String {
        let base = "\(outcome.rawValue) by \(approver)"
        guard let note else { return base }
        return "\(base): \(note)"
    }
}
