/// Why compatibility mode refused an action or could not start. The original raised
/// `PermissionError(reason)` for every refusal; here the kind is in `code` and the policy's
/// sentence in `message`.
public struct SentinelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: String, Hashable, Sendable {
        /// The policy denied the action and nobody approved it.
        case denied
        /// A tamper check failed; the action was refused without asking anyone.
        case tampered
        /// The policy could not be loaded, or production prerequisites are unmet.
        case policy
        /// `SENTINEL_DISABLE` without `SENTINEL_ALLOW_DISABLE`.
        case disableNotPermitted
        /// A guarded call was made while compatibility mode is not active.
        case notActive
        /// The audit log could not be opened or written; nothing happens without a record.
        case audit
        /// The allowed action failed on its own (the file is missing, the connection was refused…).
        case operationFailed
    }

    /// What kind of failure.
    public var code: Code
    /// The sentence for people: the policy's reason and, for a denial, who refused.
    public var message: String
    /// The rule that decided, when a policy decision is behind the error.
    public var rule: String?
    /// The policy change that would allow the action, when the policy knows one.
    public var remedy: String?
    /// The errno behind an `operationFailed`, when there is one.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, rule: String? = nil, remedy: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.rule = rule
        self.remedy = remedy
        self.errno = errno
    }

    /// `message`, with the remedy when there is one.
    public var description: String {
        guard let remedy else { return message }
        let ended = message.last.map { ".!?".contains($0) } ?? true
        return ended ? "\(message) \(remedy)" : "\(message). \(remedy)"
    }
}
