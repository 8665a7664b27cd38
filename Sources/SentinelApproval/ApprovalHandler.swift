// The handler contract, the error type, and the two trivial handlers (closure-backed and reject).

/// Asks someone (or something) whether an action the policy refused may go ahead.
///
/// The contract:
/// - Answer with an ``ApprovalDecision`` naming who decided.
/// - Throw when nobody could be asked (no terminal, no display, the dialog failed); the
///   ``ApprovalBroker`` turns that into a denial.
/// - Honour task cancellation promptly: the broker cancels a handler whose time is up, and holds
///   the next prompt back until the cancelled one has returned (so two prompts never overlap).
///   A handler that ignores cancellation delays every later prompt, each of which is then denied
///   when its own wait runs out.
/// - Treat `alert.target` and `alert.reason` as text chosen by the guarded program: show them
///   escaped, never interpret them.
public protocol ApprovalHandler: Sendable {
    /// The approver written in the audit record when this handler answers.
    var name: Approver { get }

    /// Answers for one alert.
    ///
    /// - Throws: when nobody could be asked; the action is then denied.
    func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision
}

/// Why an approval handler could not ask anyone.
public struct ApprovalError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Storage: String, Hashable, Sendable {
            case noTerminal, terminalIO, noDisplay, noDialogTool, spawnFailed, dialogFailed
        }
        private let storage: Storage
        private init(_ storage: Storage) { self.storage = storage }

        /// `/dev/tty` (or the configured terminal) could not be opened.
        public static let noTerminal = Code(.noTerminal)
        /// Reading or writing the terminal failed.
        public static let terminalIO = Code(.terminalIO)
        /// Neither `DISPLAY` nor `WAYLAND_DISPLAY` is set.
        public static let noDisplay = Code(.noDisplay)
        /// None of zenity, kdialog or yad is on `PATH`.
        public static let noDialogTool = Code(.noDialogTool)
        /// The dialog program could not be started.
        public static let spawnFailed = Code(.spawnFailed)
        /// The dialog program failed or could not show the alert.
        public static let dialogFailed = Code(.dialogFailed)

        /// A short name for the code.
        public var description: String { storage.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// A sentence saying what went wrong and what to do.
    public var message: String
    /// The `errno` of the failing system call, if any.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The message, with the errno when there is one.
    public var description: String {
        guard let errno else { return message }
        return "\(message) (errno \(errno))"
    }
}

/// A handler backed by a closure: for embedding Sentinel in another program with its own UI.
public struct ClosureApprovalHandler: ApprovalHandler {
    /// The approver written in the audit record.
    public let name: Approver
    private let body: @Sendable (SecurityAlert) async throws -> ApprovalAnswer

    /// Creates a handler named `name` (written as the approver) that answers with `body`.
    public init(name: Approver, _ body: @escaping @Sendable (SecurityAlert) async throws -> ApprovalAnswer) {
        self.name = name
        self.body = body
    }

    /// Runs the closure.
    public func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        ApprovalDecision(answer: try await body(alert), approver: name)
    }
}

/// Denies every request without asking: the headless default.
public struct RejectApprovalHandler: ApprovalHandler {
    /// Creates the handler.
    public init() {}

    /// `reject`.
    public var name: Approver { .reject }

    /// Denies.
    public func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        .deny(by: .reject, note: "approval mode is reject: nobody is asked, so every refused action stays refused")
    }
}
