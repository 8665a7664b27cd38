import Glibc

/// Why `sentinel guard` could not start a command, or why the supervisor refused a call it could
/// not read. A refusal of an action by the policy is a `Verdict`, never this error.
public struct SupervisorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in a word a caller can switch on.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The command is empty or names no executable file.
        public static let commandNotFound = Code("commandNotFound")
        /// The seccomp filter could not be built or installed, or its listener not handed over.
        public static let seccomp = Code("seccomp")
        /// A system call of the launch failed (socketpair, pipe, fork).
        public static let launch = Code("launch")
        /// The command's process failed before it could exec the command.
        public static let childSetup = Code("childSetup")
        /// The target's memory, descriptors or /proc entries could not be read.
        public static let targetUnreadable = Code("targetUnreadable")
        /// The call uses a form the supervisor does not handle; it is refused.
        public static let unsupported = Code("unsupported")

        /// The code's name.
        public var description: String { name }
    }

    /// What went wrong.
    public var code: Code
    /// A sentence saying what was wrong and what to do.
    public var message: String
    /// The underlying errno, when there is one.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The sentence.
    public var description: String { message }

    /// `strerror` of `code`, for messages.
    static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
