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
/// The dialog shows the severity as a coloured badge (the original's colours), the action,
/// target, reason and recommendation, the time left to answer, and the answers of
/// ``ApprovalAnswer/offered`` in their fixed order, deny first:
/// - **yad** (tried first): one button per answer, left-aligned so none moves when the dialog
///   widens; the first, **Deny once**, has the focus, so Enter denies; Escape and closing the
///   window deny once.
/// - **zenity**: its question dialog always puts extra buttons before Cancel and OK, so it cannot
///   keep deny first; it shows a list of the answers in the same order instead, with a
///   **Deny once** button. Escape, closing the window and that button deny once; a row is chosen
///   with the arrow keys and Enter (Enter before any row is chosen does nothing, and the timeout
///   then denies once).
/// - **kdialog**: a menu of the answers in the same order, Deny once the default.
///
/// A long target (a 1,500-character argument without spaces) is broken into lines of
/// ``lineWidth`` characters and cut after ``shownLimit``, so it cannot push the buttons off the
/// screen; the full text is in the audit record of the decision.
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
    ///   - tools: the dialog programs to try, in order (yad, whose buttons keep deny first and the
    ///     default, then zenity, then kdialog).
    public init(
        environment: [String: String] = ApprovalMode.processEnvironment,
        tools: [DialogTool] = [.yad, .zenity, .kdialog]
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
        let offered = ApprovalAnswer.offered
        switch tool {
        case .zenity:
            // A list rather than a question: zenity puts --extra-button buttons before Cancel and
            // OK, which cannot keep deny first. The hidden first column is the answer's id, which
            // is what is printed (never the label).
            return [
                "--list", "--title=\(title)", "--width=640", "--height=520", "--hide-header",
                "--column=id", "--column=Answer", "--hide-column=1", "--print-column=1",
                "--cancel-label=\(ApprovalAnswer.denyOnce.label)", "--ok-label=Answer",
                "--text=\(gtkText(for: alert))",
            ] + offered.flatMap { [$0.rawValue, $0.label] }
        case .yad:
            // The first button has the focus, so Deny once is the Enter default; Escape and closing
            // exit 252. Exit codes are the button ids (buttonBase + position), none of them 0, so
            // no other way of ending yad reads as an approval. `start` keeps the buttons where
            // they are when the dialog widens.
            return [
                "--title=\(title)", "--image=dialog-warning", "--width=640", "--center", "--on-top",
                "--buttons-layout=start",
            ] + offered.enumerated().map { "--button=\($1.label):\(Int(buttonBase) + $0)" } + [
                "--text=\(gtkText(for: alert))"
            ]
        case .kdialog:
            // kdialog's yes/no dialogs focus Yes; a menu whose default item is Deny once keeps Enter safe.
            return ["--title", title, "--menu", qtText(for: alert)] + offered.flatMap { [$0.rawValue, $0.label] } + [
                "--default", ApprovalAnswer.denyOnce.label,
            ]
        }
    }

    /// yad's exit status for the first offered answer; the others follow in order.
    static let buttonBase: Int32 = 10
    /// The longest run of characters shown on one line of the dialog.
    static let lineWidth = 80
    /// How much of the target the dialog shows before cutting it.
    static let shownLimit = 640

    /// Untrusted text made visible, cut after `limit`, with a line break inside every run of
    /// ``lineWidth`` characters without a space, then escaped for markup: a long word can neither
    /// widen the dialog past the screen nor hide the buttons. Text with spaces is wrapped by the
    /// dialog itself.
    static func shown(_ text: String, limit: Int = shownLimit) -> String {
        var broken = ""
        var run = 0
        for character in VisibleText.escaping(text, limit: limit) {
            if character == " " {
                run = 0
            } else if run == lineWidth {
                broken.append("\n")
                run = 1
            } else {
                run += 1
            }
            broken.append(character)
        }
        return VisibleText.markupEscaping(broken)
    }

    /// The Pango markup for zenity and yad, with backslashes doubled against `g_strcompress`.
    static func gtkText(for alert: SecurityAlert) -> String {
        let markup = """
            <span size="large" weight="bold">Security approval required</span>
            Severity: <span background="\(alert.severity.colour)" foreground="#ffffff" weight="bold"> \
            \(alert.severity.rawValue.uppercased()) </span>

            <b>Action:</b> \(shown(alert.action))
            <b>Target:</b> <tt>\(shown(alert.target))</tt>
            <b>Reason:</b> \(shown(alert.reason))
            <b>Recommendation:</b> \(shown(alert.recommendation))

            <b>\(ApprovalAnswer.timeoutSentence(alert.timeout))</b>
            """
        return markup.replacingOccurrences(of: "\\", with: "\\\\")
    }

    /// The rich text for kdialog (Qt's HTML subset).
    static func qtText(for alert: SecurityAlert) -> String {
        func field(_ text: String) -> String { shown(text).replacingOccurrences(of: "\n", with: "<br>") }
        return """
            <b>Security approval required</b><br>Severity: <span style="background-color:\(alert.severity.colour);\
            color:#ffffff;font-weight:bold">&nbsp;\(alert.severity.rawValue.uppercased())&nbsp;</span><br><br>\
            <b>Action:</b> \(field(alert.action))<br><b>Target:</b> <tt>\(field(alert.target))</tt><br>\
            <b>Reason:</b> \(field(alert.reason))<br><b>Recommendation:</b> \(field(alert.recommendation))<br><br>\
            <b>\(ApprovalAnswer.timeoutSentence(alert.timeout))</b>
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
        let offered = ApprovalAnswer.offered
        switch (tool, status) {
        case (.yad, let button) where offered.indices.contains(Int(button - buttonBase)):
            return ApprovalDecision(answer: offered[Int(button - buttonBase)], approver: .popup)
        case (.zenity, 0), (.kdialog, 0):
            // The printed id of the chosen row; nothing chosen, or anything else, denies once.
            return ApprovalDecision(answer: ApprovalAnswer(rawValue: printed) ?? .denyOnce, approver: .popup)
        case (.zenity, 1), (.yad, 1), (.yad, 252), (.kdialog, 1):
            // Deny once, Escape or the window closed.
            return .deny(by: .popup)
        default:
            let detail = output.errorText.split(separator: "\n").first(where: { !$0.isEmpty }).map { ": \($0)" } ?? ""
            throw ApprovalError(.dialogFailed, "\(tool.rawValue) failed with exit status \(status)\(detail).")
        }
    }
}
