// Choosing a handler: the mode from SENTINEL_APPROVAL_MODE or the policy, and `auto`.

import Foundation

public import SentinelPolicy

// `ApprovalMode` itself (auto, console, popup, reject; `tkinter` read as popup) is part of the
// policy schema and lives in SentinelPolicy; this extension adds how a mode becomes a handler.
extension ApprovalMode {
    /// The environment variable that overrides the policy's `approval.mode`.
    public static let environmentVariable = "SENTINEL_APPROVAL_MODE"

    /// This process's environment (the default wherever a handler takes one).
    public static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    /// The mode in force and how it was chosen.
    public struct Resolution: Hashable, Sendable {
        /// The mode.
        public var mode: ApprovalMode
        /// Where it came from: `SENTINEL_APPROVAL_MODE`, `approval.mode` or `default`.
        public var source: String
    }

    /// A value that is not an approval mode: an error, never a silent `auto` (issue 17: a typo
    /// in `SENTINEL_APPROVAL_MODE` must not turn "reject" into "ask whoever is at the terminal").
    public struct UnknownModeError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The sentence: what was set, where, and what to set instead.
        public let description: String
    }

    /// The mode: `SENTINEL_APPROVAL_MODE` if set, else the policy's `approval.mode`, else `auto`.
    /// - Throws: ``UnknownModeError`` when the value in force is not a mode.
    public static func resolve(policyMode: String?, environment: [String: String]) throws(UnknownModeError) -> Resolution {
        let candidates: [(String, String?)] = [
            (environmentVariable, environment[environmentVariable]), ("approval.mode", policyMode),
        ]
        for (source, value) in candidates {
            guard let value, !value.trimmingWhitespace().isEmpty else { continue }
            if let mode = ApprovalMode(name: value) {
                return Resolution(mode: mode, source: source)
            }
            throw UnknownModeError(description:
                "\(source)=\(VisibleText.escaping(value, limit: 80)) is not an approval mode (auto, console, popup, "
                + "reject; tkinter means popup). Set one of them, or unset \(source) to use the default.")
        }
        return Resolution(mode: .auto, source: "default")
    }

    /// The handler for this mode.
    ///
    /// - Parameters:
    ///   - environment: where the popup looks for a display and a dialog program.
    ///   - terminalPath: the terminal the console prompt uses.
    public func makeHandler(
        environment: [String: String] = ApprovalMode.processEnvironment, terminalPath: String = "/dev/tty"
    ) -> any ApprovalHandler {
        switch self {
        case .auto:
            AutoApprovalHandler(
                popup: PopupApprovalHandler(environment: environment),
                console: ConsoleApprovalHandler(terminalPath: terminalPath))
        case .console:
            ConsoleApprovalHandler(terminalPath: terminalPath)
        case .popup:
            PopupApprovalHandler(environment: environment)
        case .reject:
            RejectApprovalHandler()
        }
    }
}

/// The `auto` mode: a dialog when a display and a dialog program exist, else the terminal when
/// one can be opened, else a denial (the headless default). Chosen afresh for every request, so a
/// terminal that went away is noticed.
public struct AutoApprovalHandler: ApprovalHandler {
    /// The dialog handler tried first.
    public var popup: PopupApprovalHandler
    /// The terminal handler tried second.
    public var console: ConsoleApprovalHandler

    /// Creates the handler.
    public init(popup: PopupApprovalHandler = PopupApprovalHandler(), console: ConsoleApprovalHandler = ConsoleApprovalHandler()) {
        self.popup = popup
        self.console = console
    }

    /// `auto` (the decision names the handler that actually asked).
    public var name: Approver { "auto" }

    /// The handler that would ask now, or `nil` when nobody can be asked.
    public func selectedHandler() -> (any ApprovalHandler)? {
        if popup.hasDisplay && popup.availableTool() != nil { return popup }
        if console.terminalIsAvailable() { return console }
        return nil
    }

    /// Asks through the selected handler, or denies when nobody can be asked.
    public func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        guard let handler = selectedHandler() else {
            return .deny(
                by: .reject,
                note:
                    "nobody can be asked: no display with a dialog program and no terminal, so the action is denied "
                    + "(headless default)")
        }
        return try await handler.decide(alert)
    }
}
