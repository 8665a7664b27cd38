/// Where in a policy text something was found: the file (or `SENTINEL_POLICY_CONTENT`), line and
/// column, both counted from 1.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// The file path, or a description of the source (`SENTINEL_POLICY_CONTENT`, `builtin:default`).
    public var file: String
    /// The line, from 1; 0 when unknown.
    public var line: Int
    /// The column, from 1; 0 when unknown.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, the form editors and compilers use, or just the file when the position
    /// is unknown.
    public var description: String {
        line > 0 ? "\(file):\(line):\(column)" : file
    }
}

/// A policy that cannot be used: the file is missing or malformed, a value has the wrong type, a
/// signature does not match, or production prerequisites are not met.
///
/// The description is one sentence a person can act on: where, what is wrong, and how to fix it.
/// Any `PolicyError` means the caller must not run anything under a guessed policy.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is, for callers that react differently to each.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The policy file does not exist or cannot be read.
        public static let unreadable = Code("unreadable")
        /// The text is not valid YAML, or not UTF-8.
        public static let malformedYAML = Code("malformed-yaml")
        /// A key is not part of the policy schema.
        public static let unknownKey = Code("unknown-key")
        /// A value has the wrong type (a string where a list is expected, …).
        public static let wrongType = Code("wrong-type")
        /// A value has the right type but is not acceptable (a port of 99999, a bad CIDR, …).
        public static let invalidValue = Code("invalid-value")
        /// `SENTINEL_POLICY_SHA256` or `SENTINEL_POLICY_HMAC_SHA256` does not match the text.
        public static let integrity = Code("integrity")
        /// Production mode is on and its prerequisites are not met.
        public static let production = Code("production")
        /// The policy changed after it was loaded although it is immutable.
        public static let drift = Code("drift")

        /// The code's short name, as used in JSON output.
        public var description: String { name }
    }

    /// The kind of problem.
    public var code: Code
    /// Where it is, when it is in the text.
    public var location: SourceLocation?
    /// The key path inside the policy (`allowed_hosts[1].ports[0]`), when there is one.
    public var keyPath: String?
    /// What is wrong.
    public var message: String
    /// What to do about it.
    public var hint: String?

    /// Creates an error.
    public init(
        _ code: Code,
        _ message: String,
        at location: SourceLocation? = nil,
        keyPath: String? = nil,
        hint: String? = nil
    ) {
        self.code = code
        self.message = message
        self.location = location
        self.keyPath = keyPath
        self.hint = hint
    }

    /// `file:line:col: key: message. hint`
    public var description: String {
        var text = ""
        if let location { text += "\(location): " }
        if let keyPath { text += "\(keyPath): " }
        text += message
        if let hint { text += " " + hint }
        return text
    }
}

/// Something in a policy that loads but deserves attention: a key this version does not
/// implement, a command that names no executable on this machine, …
public struct PolicyWarning: Sendable, Hashable, CustomStringConvertible {
    /// Where it is.
    public var location: SourceLocation?
    /// The key path inside the policy.
    public var keyPath: String
    /// What deserves attention.
    public var message: String

    /// Creates a warning.
    public init(location: SourceLocation?, keyPath: String, message: String) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
    }

    /// `file:line:col: warning: key: message`
    public var description: String {
        (location.map { "\($0): " } ?? "") + "warning: \(keyPath): \(message)"
    }
}
