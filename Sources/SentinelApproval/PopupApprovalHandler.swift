// The desktop dialog: zenity, yad or kdialog, run directly (never through a shell).

public import SentinelPolicy
import Foundation

/// A desktop dialog program the popup handler can use.
public enum DialogTool: String, Hashable, Sendable, CaseIterable {
    /// GNOME's zenity (GTK; Pango markup).
    case zenity
    /// yad, a zenity fork (GTK; Pango markup).
    case yad
    /// KDE's kdialog (Qt; HTML-like rich text).
    case kdialog
}

/// Asks in a desktop dialog when `DISPLAY` or `WAYLAND_DISPLAY` is set.
///
/// The dialog shows the severity as a coloured badge (the original's colours), then the action,
/// target, reason and recommendation, with three buttons: **Reject** (the default: Enter, Escape
/// and closing the window all deny), **Approve once** and **Approve for session**.
///
/// The guarded program chooses the target and often the reason, so they are treated as hostile:
/// - made visible with ``VisibleText`` (newlines, escape sequences, bidi overrides shown as escapes);
/// - escaped for the dialog's markup, so `<b>` or `&` appear as typed;
/// - for zenity and yad, every backslash is doubled, because both pass `--text` through
///   `g_strcompress` before parsing markup (`\074b\076` would otherwise become `<b>`);
/// - passed as one argv element to a program started with `posix_spawn`: no shell ever sees it,
///   so `$(…)`, backticks and quotes are inert.
///
/// If the dialog reports that it could not parse the text (GTK prints "Failed to set text … from
/// markup"), the answer is a denial whatever button was pressed: the person saw a blank dialog.
public struct PopupApprovalHandler: ApprovalHandler {
    /// The environment for finding the display and the dialog program, and for running it.
    public var environment: [String: String]
    /// The dialog programs to try, in order.
    public var tools: [DialogTool]

    /// The dialog's window title (fixed: never built from the alert).
    public static let title = "Sentinel Guard: approval required"

    /// Creates a handler.
    ///
    /// - Parameters:
    ///   - environment: where `DISPLAY`, `WAYLAND_DISPLAY` and `PATH` are read; the dialog runs with it.
    ///   - tools: the dialog programs to try, in order (zenity, then yad, then kdialog by default).
    public init(
        environment: [String: String] = ApprovalMode.processEnvironment,
        tools: [DialogTool] = [.zenity, .yad, .kdialog]
    ) {
        self.environment = environment
        self.tools = tools
    }

    /// `popup`.
    public var name: Approver { .popup }

    /// Whether a display is configured (`DISPLAY` or `WAYLAND_DISPLAY` is set and not empty).
    public var hasDisplay: Bool {
        !(environment["DISPLAY"] ?? "").isEmpty || !(environment["WAYLAND_DISPLAY"] ?? "").isEmpty
    }

    /// The first dialog program found on `PATH`, with its full path.
    public func availableTool() -> (tool: DialogTool, path: String)? {
        let directories = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        for tool in tools {
            for directory in directories where directory.hasPrefix("/") {
                let candidate = "\(directory)/\(tool.rawValue)"
                if access(candidate, X_OK) == 0 { return (tool, candidate) }
            }
        }
        return nil
    }

    /// Shows the dialog and waits for the answer.
    ///
    /// - Throws: ``ApprovalError`` when there is no display, no dialog program, or the dialog failed.
    public func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        guard hasDisplay else {
            throw ApprovalError(
                .noDisplay,
                "Cannot show an approval dialog: neither DISPLAY nor WAYLAND_DISPLAY is set. Use "
                    + "SENTINEL_APPROVAL_MODE=console from a terminal, or reject.")
        }
        guard let (tool, path) = availableTool() else {
            throw ApprovalError(
                .noDialogTool,
                "Cannot show an approval dialog: none of \(tools.map(\.rawValue).joined(separator: ", ")) is "
                    + "installed (for example `apt-get install zenity`).")
        }
        let output = try await runProgram(
            path: path, arguments: Self.arguments(for: tool, alert: alert), environment: environment)
        if Task.isCancelled {
            return .deny(by: .popup, note: "the dialog was withdrawn before an answer")
        }
        return try Self.decision(from: output, tool: tool)
    }

    // MARK: - Building the dialog

    /// The argv (after the program name) for `tool`.
    static func arguments(for tool: DialogTool, alert: SecurityAlert) -> [String] {
        switch tool {
        case .zenity:
            // `--default-cancel` makes Reject the focused button, so Enter denies. The extra button
            // prints its label on stdout and exits 1, like Reject, which prints nothing.
            return [
                "--question", "--title=\(title)", "--icon-name=dialog-warning", "--width=620",
                "--default-cancel", "--cancel-label=\(Labels.reject)", "--ok-label=\(Labels.once)",
                "--extra-button=\(Labels.session)", "--text=\(gtkText(for: alert))",
            ]
        case .yad:
            // The first button gets the focus, so Reject is the Enter default; Escape and closing
            // exit 252. Exit codes are the button IDs.
            return [
                "--title=\(title)", "--image=dialog-warning", "--width=620", "--center", "--on-top",
                "--button=\(Labels.reject):1", "--button=\(Labels.once):0", "--button=\(Labels.session):2",
                "--text=\(gtkText(for: alert))",
            ]
        case .kdialog:
            // kdialog's yes/no dialogs focus Yes; a menu whose default item is Reject keeps Enter safe.
            return [
                "--title", title, "--menu", qtText(for: alert), "reject", Labels.reject, "once", Labels.once,
                "session", Labels.session, "--default", Labels.reject,
            ]
        }
    }

    enum Labels {
        static let reject = "Reject"
        static let once = "Approve once"
        static let session = "Approve for session"
    }

    /// The Pango markup for zenity and yad, with backslashes doubled against `g_strcompress`.
    static func gtkText(for alert: SecurityAlert) -> String {
        func field(_ text: String) -> String { VisibleText.markupEscaping(VisibleText.escaping(text)) }
        let markup = """
            <span size="large" weight="bold">Security approval required</span>
            Severity: <span background="\(alert.severity.colour)" foreground="#ffffff" weight="bold"> \
            \(alert.severity.rawValue.uppercased()) </span>

            <b>Action:</b> \(field(alert.action))
            <b>Target:</b> <tt>\(field(alert.target))</tt>
            <b>Reason:</b> \(field(alert.reason))
            <b>Recommendation:</b> \(field(alert.recommendation))
            """
        return markup.replacingOccurrences(of: "\\", with: "\\\\")
    }

    /// The rich text for kdialog (Qt's HTML subset).
    static func qtText(for alert: SecurityAlert) -> String {
        func field(_ text: String) -> String { VisibleText.markupEscaping(VisibleText.escaping(text)) }
        return """
            <b>Security approval required</b><br>Severity: <span style="background-color:\(alert.severity.colour);\
            color:#ffffff;font-weight:bold">&nbsp;\(alert.severity.rawValue.uppercased())&nbsp;</span><br><br>\
            <b>Action:</b> \(field(alert.action))<br><b>Target:</b> <tt>\(field(alert.target))</tt><br>\
            <b>Reason:</b> \(field(alert.reason))<br><b>Recommendation:</b> \(field(alert.recommendation))
            """
    }

    // MARK: - Reading the answer

    /// Maps the dialog's exit to a decision.
    static func decision(from output: ChildOutput, tool: DialogTool) throws(ApprovalError) -> ApprovalDecision {
        if output.errorText.contains("from markup") {
            return .deny(by: .popup, note: "the dialog could not display the alert's text, so its answer was ignored")
        }
        guard let status = output.exitStatus else {
            throw ApprovalError(
                .dialogFailed, "\(tool.rawValue) was ended by signal \(output.signal ?? 0) before an answer.")
        }
        let printed = output.outputText.trimmingWhitespace()
        switch (tool, status) {
        case (.zenity, 0), (.yad, 0):
            return .approveOnce(by: .popup)
        case (.zenity, 1) where printed == Labels.session, (.yad, 2):
            return .approveForSession(by: .popup)
        case (.zenity, 1), (.yad, 1), (.yad, 252):
            // Reject, Escape or the window closed.
            return .deny(by: .popup)
        case (.kdialog, 0) where printed == "once":
            return .approveOnce(by: .popup)
        case (.kdialog, 0) where printed == "session":
            return .approveForSession(by: .popup)
        case (.kdialog, 0), (.kdialog, 1):
            return .deny(by: .popup)
        default:
            let detail = output.errorText.split(separator: "\n").first(where: { !$0.isEmpty }).map { ": \($0)" } ?? ""
            throw ApprovalError(.dialogFailed, "\(tool.rawValue) failed with exit status \(status)\(detail).")
        }
    }
}
