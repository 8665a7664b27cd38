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
    /// How long the person has to answer, shown in the prompt ("answer within 60 s; no answer
    /// denies"). The ``ApprovalBroker`` sets it to its timeout before asking; `nil` when a
    /// handler is called without a broker.
    public var timeout: Duration?

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
    /// An earlier answer for the same exact action, remembered for its scope (this run, or N
    /// minutes); nobody was asked again.
    public static let remembered: Approver = "remembered"
    /// The broker's flood limit: more than ``ApprovalBroker/floodLimit`` new questions within a
    /// second, so this one was denied without asking.
    public static let floodLimit: Approver = "flood_limit"
}

