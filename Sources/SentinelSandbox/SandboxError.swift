import Glibc

/// Why a sandbox could not be built or run. Every case carries a sentence saying what was wrong
/// and what to do; `errno` is set when a syscall failed.
public struct SandboxError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure.
    public enum Code: String, Sendable, Codable {
        /// The spec or the command line is wrong (exit status 2).
        case invalidSpec
        /// The kernel lacks something the run requires.
        case unsupported
        /// A setup step of the sandbox failed.
        case setupFailed
        /// The workload could not be executed (not found: 127, not executable: 126).
        case execFailed
        /// The launcher could not start its stage or lost contact with it.
        case launchFailed
    }

    /// The kind of failure.
    public let code: Code
    /// The human sentence, ending with what to do.
    public let description: String
    /// The underlying errno, when a syscall failed.
    public let errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ description: String, errno: Int32? = nil) {
        self.code = code
        self.description = description
        self.errno = errno
    }

    /// The exit status `sentinel-isolate` uses for this error.
    public var exitStatus: Int32 {
        switch code {
        case .execFailed: return errno == ENOENT ? 127 : 126
        default: return 2
        }
    }
}

/// An errno value with its message, as returned by the wrappers in `Syscalls.swift`.
public struct Errno: Error, CustomStringConvertible, Sendable, Equatable {
    /// The raw errno.
    public let rawValue: Int32

    /// Wraps a raw errno.
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The current thread's errno.
    static var current: Errno { Errno(Glibc.errno) }

    /// `strerror` text, e.g. "Operation not permitted".
    public var description: String { String(cString: strerror(rawValue)) }
}
