@testable import SentinelApproval
import SentinelPolicy
import Testing

@Suite("Approval mode, escaping and dialog construction")
struct ApprovalModeTests {
    @Test(arguments: [
        // (SENTINEL_APPROVAL_MODE, approval.mode) → mode, source
        (nil, nil, ApprovalMode.auto, "default"),
        (nil, "console", .console, "approval.mode"),
        ("reject", "console", .reject, "SENTINEL_APPROVAL_MODE"),
        ("tkinter", nil, .popup, "SENTINEL_APPROVAL_MODE"),
        (" Popup ", nil, .popup, "SENTINEL_APPROVAL_MODE"),
        ("", "reject", .reject, "approval.mode"),
    ] as [(String?, String?, ApprovalMode, String)])
    func modeResolution(environment: String?, policy: String?, mode: ApprovalMode, source: String) throws {
        var env: [String: String] = [:]
        env[ApprovalMode.environmentVariable] = environment
        let resolution = try ApprovalMode.resolve(policyMode: policy, environment: env)
        #expect(resolution.mode == mode)
        #expect(resolution.source == source)
    }

    @Test("a value that is not a mode is an error naming it, never a silent auto", arguments: [
        ("yolo", "reject", "SENTINEL_APPROVAL_MODE=yolo"), ("bogus", nil, "SENTINEL_APPROVAL_MODE=bogus"),
        (nil, "telegram", "approval.mode=telegram"),
    ] as [(String?, String?, String)])
    func unknownMode(environment: String?, policy: String?, named: String) {
        var env: [String: String] = [:]
        env[ApprovalMode.environmentVariable] = environment
        #expect {
            _ = try ApprovalMode.resolve(policyMode: policy, environment: env)
        } throws: { error in
            "\(error)".hasPrefix(named + " is not an approval mode") && "\(error)".contains("Set one of them")
        }
    }

    @Test(arguments: [
        ("plain /usr/bin/ls", "plain /usr/bin/ls"),
        ("echo hi\nid", #"echo hi\nid"#),
        ("cr\r lf\n tab\t", #"cr\r lf\n tab\t"#),
        ("clear \u{1b}[2J", #"clear \x1b[2J"#),
        ("nul\u{0} del\u{7f} c1\u{85}", #"nul\x00 del\x7f c1\u{0085}"#),
        ("rtl \u{202e}gnp.exe", #"rtl \u{202e}gnp.exe"#),
        ("zero\u{200b}width", #"zero\u{200b}width"#),
        ("line\u{2028}sep", #"line\u{2028}sep"#),
        (#"back\slash \n"#, #"back\\slash \\n"#),
        ("café 日本 🙂", "café 日本 🙂"),
    ])
    func visibleText(input: String, shown: String) {
        #expect(VisibleText.escaping(input) == shown)
    }

    @Test func longTextIsCutWithACount() {
        let shown = VisibleText.escaping(String(repeating: "a", count: 2_010), limit: 2_000)
        #expect(shown == String(repeating: "a", count: 2_000) + "… [10 more characters not shown]")
    }

    static let hostile = SecurityAlert(
        action: "exec",
        target: #"<b>bold</b> & $(touch /tmp/pwned) `id` "dq" 'sq' \074i\076 x"# + "\n<span>",
        reason: "</span><span foreground=\"green\">SAFE</span>", recommendation: "Reject.", severity: .critical)

    @Test func theGTKTextEscapesMarkupAndBackslashes() {
        let text = PopupApprovalHandler.gtkText(for: Self.hostile)
        // The agent's text appears only escaped.
        #expect(text.contains(#"&lt;b&gt;bold&lt;/b&gt; &amp; $(touch /tmp/pwned) `id` &quot;dq&quot; &#39;sq&#39;"#))
        #expect(!text.contains("<b>bold"))
        #expect(!text.contains("<span foreground=\"green\">"))
        // g_strcompress turns `\\` back into one backslash: `\074` stays literal, the newline
        // escape stays visible.
        #expect(text.contains(#"\\\\074i\\\\076 x\\n&lt;span&gt;"#))
        // Our own markup: the critical colour and the upper-cased severity.
        #expect(text.contains(##"background="#b91c1c""##))
        #expect(text.contains(" CRITICAL </span>"))
    }

    @Test func theAlertTravelsAsSeparateArgvElements() {
        let zenity = PopupApprovalHandler.arguments(for: .zenity, alert: Self.hostile)
        #expect(zenity.filter { $0.hasPrefix("--text=") }.count == 1)
        #expect(zenity.contains("--cancel-label=Deny once"))
        #expect(zenity.contains("--title=\(PopupApprovalHandler.title)"))
        let kdialog = PopupApprovalHandler.arguments(for: .kdialog, alert: Self.hostile)
        #expect(kdialog.suffix(2) == ["--default", "Deny once"])
        #expect(kdialog[3].contains("&lt;b&gt;bold"))
    }

    /// Every handler offers the same answers in the same order, deny once first.
    @Test func everyDialogOffersTheSameAnswersInTheSameOrderDenyFirst() {
        let labels = ["Deny once", "Deny for this run", "Approve once", "Approve for this run", "Approve for 15 minutes"]
        #expect(ApprovalAnswer.offered.map(\.label) == labels)
        let yad = PopupApprovalHandler.arguments(for: .yad, alert: Self.hostile).filter { $0.hasPrefix("--button=") }
        #expect(yad == labels.enumerated().map { "--button=\($1):\(10 + $0)" })
        let zenity = PopupApprovalHandler.arguments(for: .zenity, alert: Self.hostile)
        #expect(zenity.filter { labels.contains($0) } == labels)
        let kdialog = PopupApprovalHandler.arguments(for: .kdialog, alert: Self.hostile)
        #expect(kdialog.filter { labels.contains($0) }.prefix(5) == labels[...])
        #expect(ConsoleApprovalHandler.menu.split(separator: "\n").map { String($0.dropFirst(6)) }
            == ["Deny once (default: Enter)"] + labels.dropFirst())
    }

    /// The prompt says how long is left and that silence denies, in every handler.
    @Test func everyPromptShowsTheTimeout() {
        var timed = Self.hostile
        timed.timeout = .seconds(60)
        let sentence = "Answer within 60 s; no answer denies."
        #expect(PopupApprovalHandler.gtkText(for: timed).contains(sentence))
        #expect(PopupApprovalHandler.qtText(for: timed).contains(sentence))
        #expect(ConsoleApprovalHandler.promptText(for: timed, colour: false).contains(sentence))
        #expect(!ConsoleApprovalHandler.promptText(for: Self.hostile, colour: false).contains("Answer within"))
    }

    /// A 1,500-character argument without spaces is broken into short lines and cut, so the
    /// dialog cannot grow wider than the screen and push its buttons off it.
    @Test func aLongUnbrokenTargetCannotWidenTheDialog() {
        let long = SecurityAlert(
            action: "exec", target: "/bin/echo " + String(repeating: "A", count: 1_500), reason: "r", recommendation: "")
        let text = PopupApprovalHandler.gtkText(for: long)
        let longest = text.split(separator: "\n").map(\.count).max() ?? 0
        #expect(longest < 200, "a line of \(longest) characters")
        #expect(text.contains("more characters not shown"))
    }

    @Test(arguments: [
        (DialogTool.zenity, Int32?(0), "approve_once\n", "", ApprovalAnswer?.some(.approveOnce)),
        (.zenity, 0, "deny_run\n", "", .denyForRun),
        (.zenity, 0, "approve_run\n", "", .approveForRun),
        (.zenity, 0, "approve_minutes:15\n", "", .approve(forMinutes: 15)),
        (.zenity, 0, "", "", .denyOnce),  // Answer pressed with no row chosen
        (.zenity, 0, "Approve once\n", "", .denyOnce),  // a label is not an id
        (.zenity, 0, "approve_minutes:99999\n", "", .denyOnce),
        (.zenity, 1, "", "", .denyOnce),
        (.zenity, 0, "approve_once\n", "Gtk-WARNING: Failed to set text '<b' from markup due to error", .denyOnce),
        (.zenity, 255, "", "cannot open display", nil),
        (.zenity, nil, "", "", nil),
        (.yad, 10, "", "", .denyOnce),
        (.yad, 11, "", "", .denyForRun),
        (.yad, 12, "", "", .approveOnce),
        (.yad, 13, "", "", .approveForRun),
        (.yad, 14, "", "", .approve(forMinutes: 15)),
        (.yad, 0, "", "", nil),  // no button of ours exits 0
        (.yad, 1, "", "", .denyOnce),
        (.yad, 252, "", "", .denyOnce),
        (.kdialog, 0, "approve_once\n", "", .approveOnce),
        (.kdialog, 0, "approve_run\n", "", .approveForRun),
        (.kdialog, 0, "deny_once\n", "", .denyOnce),
        (.kdialog, 1, "", "", .denyOnce),
    ] as [(DialogTool, Int32?, String, String, ApprovalAnswer?)])
    func dialogExitMapping(tool: DialogTool, status: Int32?, stdout: String, stderr: String,
                           expected: ApprovalAnswer?) {
        let output = ChildOutput(
            exitStatus: status, signal: status == nil ? 15 : nil, standardOutput: Array(stdout.utf8),
            standardError: Array(stderr.utf8))
        let decision = try? PopupApprovalHandler.decision(from: output, tool: tool)
        #expect(decision?.answer == expected)
        if let decision { #expect(decision.approver == .popup) }
    }

    @Test(arguments: [
        ("1", ApprovalAnswer.denyOnce), ("2", .denyForRun), ("3", .approveOnce), ("4", .approveForRun),
        ("5", .approve(forMinutes: 15)), ("5 30", .approve(forMinutes: 30)), (" 5  1440 ", .approve(forMinutes: 1440)),
        ("5 0", .denyOnce), ("5 1441", .denyOnce), ("5 x", .denyOnce), ("4 30", .denyOnce), ("6", .denyOnce),
        ("0", .denyOnce), ("y", .approveOnce), ("YES", .approveOnce), (" yes ", .approveOnce), ("s", .approveForRun),
        ("Session", .approveForRun), ("", .denyOnce), ("n", .denyOnce), ("\u{1b}", .denyOnce), ("yes please", .denyOnce),
        ("sure", .denyOnce), ("3\u{1b}", .denyOnce),
    ])
    func consoleAnswers(line: String, answer: ApprovalAnswer) {
        #expect(ConsoleApprovalHandler.answer(forLine: line) == answer)
    }

    @Test(arguments: ApprovalAnswer.offered + [.approve(forMinutes: 1), .approve(forMinutes: 1_440)])
    func answerIdsRoundTrip(answer: ApprovalAnswer) {
        #expect(ApprovalAnswer(rawValue: answer.rawValue) == answer)
    }

    @Test(arguments: ["approve", "approve_", "approve_minutes:", "approve_minutes:0", "approve_minutes:1441",
                      "allow_once", "approve_always", "approve_once ", " deny_once"])
    func answerIdsThatAreNotAnswers(text: String) {
        #expect(ApprovalAnswer(rawValue: text) == nil)
    }
}
