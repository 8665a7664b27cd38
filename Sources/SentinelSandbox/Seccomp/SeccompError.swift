/// Why a seccomp profile could not be read or compiled, or a filter could not be installed or
/// served. Every error carries a sentence saying what was wrong and what to do, and the errno
/// when a system call failed. A sandbox that meets one of these does not run its command.
public struct SeccompError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The profile file could not be read.
        case profileUnreadable
        /// The profile is not valid JSON or not a valid profile (the sentence names file, line and key).
        case profileInvalid
        /// The profile or the caller asked for an architecture the compiler does not support,
        /// or the profile does not list the architecture it is compiled for.
        case architectureUnsupported
        /// A BPF program is empty, too long for the kernel or malformed.
        case programInvalid
        /// The kernel refused the filter (`seccomp(SECCOMP_SET_MODE_FILTER)` failed).
        case installFailed
        /// `PR_SET_NO_NEW_PRIVS` failed.
        case noNewPrivilegesFailed
        /// The kernel cannot notify a listener (before Linux 5.5, or the action is unavailable).
        case userNotificationUnavailable
        /// A listener operation failed (receive, respond, add an fd).
        case listenerFailed
        /// The listener fd could not be handed over a Unix socket.
        case handoffFailed
        /// A suggested profile could not be written.
        case writeFailed
    }

    /// The kind of failure.
    public let code: Code
    /// One or two sentences: what was wrong and what to do.
    public let description: String
    /// The errno of the failed system call, if one failed.
    public let errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ description: String, errno: Int32? = nil) {
        self.code = code
        self.description = description
        self.errno = errno
    }
}

/// Something the compiler skipped or changed while reading a profile. The library collects
/// these and never prints them; the caller shows them to the user.
public struct SeccompWarning: Sendable, Hashable, CustomStringConvertible {
    /// The kind of warning.
    public enum Kind: String, Sendable, Hashable {
        /// A rule names a system call this architecture does not have; the name is skipped,
        /// as Docker does.
        case unknownSyscall
        /// A rule does not apply here (`includes`/`excludes` on capabilities, architectures or
        /// kernel version) and is skipped, as Docker does.
        case ruleNotApplicable
        /// Two rules for one system call disagree and one of them has no effect (libseccomp's
        /// semantics: a rule without arguments wins over rules with arguments).
        case ruleShadowed
        /// `SCMP_ACT_TRACE` is compiled as `SCMP_ACT_ERRNO`: no tracer is ever attached.
        case traceAsErrno
        /// The profile lists an architecture whose calls the compiled filter kills instead
        /// (i386 and x32 on x86-64, arm on aarch64).
        case architectureNotCompiled
        /// A profile key Sentinel accepts for Docker's sake but does not act on.
        case keyIgnored
        /// Log mode changed something so that the listener can be handed over.
        case logModeAdjustment
    }

    /// The kind of warning.
    public let kind: Kind
    /// The system call concerned, if any.
    public let syscall: String?
    /// One sentence for the user.
    public let message: String

    /// Creates a warning.
    public init(_ kind: Kind, syscall: String? = nil, _ message: String) {
        self.kind = kind
        self.syscall = syscall
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
