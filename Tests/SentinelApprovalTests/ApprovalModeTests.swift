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
        #expect(zenity.contains("--default-cancel"))
        #expect(zenity.contains("--cancel-label=Reject"))
        #expect(zenity.contains("--title=\(PopupApprovalHandler.title)"))
        let yad = PopupApprovalHandler.arguments(for: .yad, alert: Self.hostile)
        #expect(yad.firstIndex(of: "--button=Reject:1")! < yad.firstIndex(of: "--button=Approve once:0")!)
        let kdialog = PopupApprovalHandler.arguments(for: .kdialog, alert: Self.hostile)
        #expect(kdialog.suffix(2) == ["--default", "Reject"])
        #expect(kdialog[3].contains("&lt;b&gt;bold"))
    }

    @Test(arguments: [
        (DialogTool.zenity, Int32?(0), "", "", ApprovalDecision.Outcome?.some(.approveOnce)),
        (.zenity, 1, "Approve for session\n", "", .approveForSession),
        (.zenity, 1, "", "", .deny),
        (.zenity, 0, "", "Gtk-WARNING: Failed to set text '<b' from markup due to error", .deny),
        (.zenity, 255, "", "cannot open display", nil),
        (.zenity, nil, "", "", nil),
        (.yad, 0, "", "", .approveOnce),
        (.yad, 2, "", "", .approveForSession),
        (.yad, 1, "", "", .deny),
        (.yad, 252, "", "", .deny),
        (.kdialog, 0, "once\n", "", .approveOnce),
        (.kdialog, 0, "session\n", "", .approveForSession),
        (.kdialog, 0, "reject\n", "", .deny),
        (.kdialog, 1, "", "", .deny),
    ] as [(DialogTool, Int32?, String, String, ApprovalDecision.Outcome?)])
    func dialogExitMapping(tool: DialogTool, status: Int32?, stdout: String, stderr: String,
                           expected: ApprovalDecision.Outcome?) {
        let output = ChildOutput(
            exitStatus: status, signal: status == nil ? 15 : nil, standardOutput: Array(stdout.utf8),
            standardError: Array(stderr.utf8))
        let decision = try? PopupApprovalHandler.decision(from: output, tool: tool)
        #expect(decision?.outcome == expected)
        if let decision { #expect(decision.approver == .popup) }
    }

    @Test(arguments: [
        ("y", ApprovalDecision.Outcome.approveOnce), ("YES", .approveOnce), (" yes ", .approveOnce),
        ("s", .approveForSession), ("Session", .approveForSession), ("", .deny), ("n", .deny),
        ("yes please", .deny), ("sure", .deny),
    ])
    func consoleAnswers(answer: String, outcome: ApprovalDecision.Outcome) {
        #expect(ConsoleApprovalHandler.outcome(forAnswer: answer) == outcome)
    }
}
