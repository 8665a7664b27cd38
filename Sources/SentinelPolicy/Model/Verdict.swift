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

    /// Creates a verdict.
    public init(decision: Decision, rule: String, reason: String, remedy: String? = nil) {
        self.decision = decision
        self.rule = rule
        self.reason = reason
        self.remedy = remedy
    }

    /// An allow decided by `rule`.
    public static func allow(rule: String, reason: String) -> Verdict {
        Verdict(decision: .allow, rule: rule, reason: reason)
    }

    /// A deny decided by `rule`, with the policy change that would allow it, if any.
    public static func deny(rule: String, reason: String, remedy: String? = nil) -> Verdict {
        Verdict(decision: .deny, rule: rule, reason: reason, remedy: remedy)
    }

    /// Whether the action may go ahead.
    public var isAllowed: Bool { decision == .allow }

    /// The decision, rule and reason on one line, for logs and error messages.
    public var description: String {
        "\(decision.rawValue) (\(rule)): \(reason)"
    }
}
