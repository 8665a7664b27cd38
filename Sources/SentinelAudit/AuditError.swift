/// Why the audit log could not be opened, written or read.
///
/// The contract for callers: an enforcement point that gets an `AuditError` from
/// ``AuditLog/append(_:)`` must **deny** the action it was about to allow (an unrecorded decision
/// is not allowed to happen), and show `description` to the operator.
public struct AuditError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: String, Hashable, Sendable {
            case open, lock, read, write, notRegularFile, damagedLog, malformedRecord, key, keyRequired, closed, runID
        }
        private let storage: Storage
        private init(_ storage: Storage) { self.storage = storage }

        /// The log, its anchor or a parent directory could not be opened or created.
        public static let open = Code(.open)
        /// `flock` on the log failed.
        public static let lock = Code(.lock)
        /// Reading the log or its anchor failed.
        public static let read = Code(.read)
        /// Writing the log or its anchor failed (disk full, I/O error, short write).
        public static let write = Code(.write)
        /// The path is not a regular file (a FIFO, a device, a directory, a symlink).
        public static let notRegularFile = Code(.notRegularFile)
        /// The log ends with an incomplete or unreadable record; appending would extend a damaged chain.
        public static let damagedLog = Code(.damagedLog)
        /// A line is not a valid schema-1 record.
        public static let malformedRecord = Code(.malformedRecord)
        /// The HMAC key is unusable.
        public static let key = Code(.key)
        /// The log is HMAC-chained and no key was given.
        public static let keyRequired = Code(.keyRequired)
        /// The writer was closed.
        public static let closed = Code(.closed)
        /// A run id (`SENTINEL_RUN_ID`, `--run`) is not one.
        public static let runID = Code(.runID)

        /// A short name for the code.
        public var description: String { storage.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// A sentence saying what went wrong and what to do.
    public var message: String
    /// The path involved.
    public var path: String?
    /// The `errno` of the failing system call, if any.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, path: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    /// The message, with the system error text when there is one.
    public var description: String {
        guard let errno else { return message }
        return "\(message) (\(systemErrorText(errno)), errno \(errno))"
    }
}
