/// The answer the policy gives for one action: allow or deny, which rule decided, why, and, for
/// a denial, the change to `sentinel.yaml` that would allow it.
///
/// A denial is a result, not an error: every enforcement point (the Swift API, `sentinel guard`,
/// the egress proxy) turns the same `Verdict` into its own kind of refusal, and the audit log
/// records it as it is.
public struct Verdict: Sendable, Hashable, CustomStringConvertible {
    /// Allow or deny.
    public enum Decision: String, Sendable, Hashable, Codable {
        /// The action may go ahead.
        case allow
        /// The action is refused unless a human approves it.
        case deny
    }

    /// Allow or deny.
    public var decision: Decision
    /// The rule that decided, named the way a person finds it in the policy:
    /// `allowed_paths[0]`, `network_failsafe.blocked_ips[2]`, `builtin:interpreter-denylist`,
    /// `default:allowed_commands` (nothing matched, so the allowlist's default denied).
    public var rule: String
    /// One sentence saying what was decided and why.
    public var reason: String
    /// For a denial, the policy change that would allow the action; `nil` when no policy change
    /// should (a cloud-metadata address, a malformed command) or for an allow.
    public var remedy: String?
    /// For a denial, whether it is final: what the policy calls always denied (cloud metadata and
    /// the other never-reachable address categories, `blocked_hosts`, `blocked_ips`). No person is
    /// asked, and no answer, scope or approval mode can turn it into an allow.
    public var isFinal: Bool

    /// Creates a verdict.
    public init(decision: Decision, rule: String, reason: String, remedy: String? = nil, isFinal: Bool = false) {
        self.decision = decision
        self.rule = rule
        self.reason = reason
        self.remedy = remedy
        self.isFinal = decision == .deny && isFinal
    }

    /// An allow decided by `rule`.
    public static func allow(rule: String, reason: String) -> Verdict {
        Verdict(decision: .allow, rule: rule, reason: reason)
    }

    /// A deny decided by `rule`, with the policy change that would allow it, if any.
    public static func deny(rule: String, reason: String, remedy: String? = nil) -> Verdict {
        Verdict(decision: .deny, rule: rule, reason: reason, remedy: remedy)
    }

    /// A final deny (``isFinal``): nobody is asked, nothing can allow it.
    public static func finalDeny(rule: String, reason: String, remedy: String? = nil) -> Verdict {
        Verdict(decision: .deny, rule: rule, reason: reason, remedy: remedy, isFinal: true)
    }

    /// Whether the action may go ahead.
    public var isAllowed: Bool { decision == .allow }

    /// The decision, rule and reason on one line, for logs and error messages.
    public var description: String {
        "\(decision.rawValue) (\(rule)): \(reason)"
    }
}
