import Foundation
import SentinelApproval
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and returns its status and output; kills it if it is still
/// running after `limit` (a guard against hanging, not a timing assertion).
@discardableResult
func runTool(
    _ executable: String, _ arguments: [String], environment: [String: String], limit: Duration = .seconds(60)
) async throws -> (status: Int32, output: String, errors: String) {
    try await onOwnThread { try runToolBlocking(executable, arguments, environment: environment, limit: limit) }
}

private func runToolBlocking(
    _ executable: String, _ arguments: [String], environment: [String: String], limit: Duration
) throws -> (status: Int32, output: String, errors: String) {
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.environment = environment
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let pid = process.processIdentifier
    let guardTask = Task.detached {
        try await Task.sleep(for: limit)
        kill(pid, SIGKILL)
    }
    let out = output.fileHandleForReading.readDataToEndOfFile()
    let err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guardTask.cancel()
    return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

/// An Xvfb server on a display it picks itself (`-displayfd`), stopped on deinit.
final class VirtualDisplay: Sendable {
    let process = SpawnedProcess()
    let name: String

    /// Starts Xvfb (on a thread of its own: waiting for its display number blocks).
    static func start() async throws -> VirtualDisplay {
        try await onOwnThread { try VirtualDisplay() }
    }

    private init() throws {
        let ready = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"]
        process.standardOutput = ready
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Xvfb writes the display number once it accepts connections.
        var number = ""
        while !number.hasSuffix("\n") {
            let byte = ready.fileHandleForReading.readData(ofLength: 1)
            try #require(!byte.isEmpty, "Xvfb exited before announcing its display")
            number += String(decoding: byte, as: UTF8.self)
        }
        name = ":" + number.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit {
        // SIGKILL, not Process.terminate(): Foundation spawns with the calling thread's signal mask,
        // and the test runner's threads block SIGTERM, so Xvfb would never see it.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The environment for programs on this display.
    var environment: [String: String] {
        var environment = ["DISPLAY": name, "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        environment["HOME"] = ProcessInfo.processInfo.environment["HOME"]
        return environment
    }
}

/// Where screenshots go: `test-artifacts/` at the package root (gitignored).
func artifactPath(_ name: String) throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let directory = root.appendingPathComponent("test-artifacts")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory.appendingPathComponent(name).path
}

/// A way of answering the dialog from the keyboard (or by closing it).
struct DialogAnswer: Sendable, CustomTestStringConvertible {
    let name: String
    /// xdotool arguments after the window id is known (`%W` stands for the window).
    let xdotool: [String]
    let expected: ApprovalAnswer

    var testDescription: String { name }
}

/// zenity shows the answers as a list (its question dialog cannot keep deny first): Escape,
/// closing the window and the Deny once button deny once; the arrow keys and Enter choose a row.
private let zenityAnswers: [DialogAnswer] = [
    DialogAnswer(name: "Escape", xdotool: ["key", "Escape"], expected: .denyOnce),
    DialogAnswer(name: "window closed", xdotool: ["windowkill", "%W"], expected: .denyOnce),
    DialogAnswer(name: "Tab to the Deny once button, Enter", xdotool: ["key", "Tab", "Return"], expected: .denyOnce),
    DialogAnswer(name: "Down to Deny for this run, Enter", xdotool: ["key", "Down", "Return"], expected: .denyForRun),
    DialogAnswer(name: "Down twice to Approve once, Enter", xdotool: ["key", "Down", "Down", "Return"], expected: .approveOnce),
    DialogAnswer(
        name: "Down four times to Approve for 15 minutes, Enter", xdotool: ["key", "Down", "Down", "Down", "Down", "Return"],
        expected: .approve(forMinutes: 15)),
]

/// yad shows one button per answer, Deny once first and focused.
private let yadAnswers: [DialogAnswer] = [
    DialogAnswer(name: "Enter (Deny once is the default)", xdotool: ["key", "Return"], expected: .denyOnce),
    DialogAnswer(name: "Escape", xdotool: ["key", "Escape"], expected: .denyOnce),
    DialogAnswer(name: "window closed", xdotool: ["windowkill", "%W"], expected: .denyOnce),
    DialogAnswer(name: "Tab to Deny for this run, Enter", xdotool: ["key", "Tab", "Return"], expected: .denyForRun),
    DialogAnswer(name: "Tab twice to Approve once, Enter", xdotool: ["key", "Tab", "Tab", "Return"], expected: .approveOnce),
    DialogAnswer(
        name: "Tab three times to Approve for this run, Enter", xdotool: ["key", "Tab", "Tab", "Tab", "Return"],
        expected: .approveForRun),
]

/// How each tool is answered "approve once" from the keyboard.
private func approveOnceKeys(_ tool: DialogTool) -> [String] {
    tool == .yad ? ["key", "Tab", "Tab", "Return"] : ["key", "Down", "Down", "Return"]
}

@Suite(
    "Popup shown for real under Xvfb", .serialized,
    .requires(.executable("Xvfb", package: "xvfb")), .requires(.executable("xdotool", package: "xdotool")),
    .requires(.executable("import", package: "imagemagick"))
)
struct PopupXvfbTests {
    static let alert = SecurityAlert(
        action: "connect", target: "exfil.example.invalid:443",
        reason: "exfil.example.invalid is not in allowed_hosts.",
        recommendation: "Reject unless this host is explicitly trusted.", severity: .high)

    /// Shows `alert` through a broker, waits for the window, screenshots it, answers with `answer`.
    ///
    /// A mapped window may not take input yet (GTK finishes realising it after mapping; under a
    /// loaded CI machine keys were seen to vanish, and a lost answer then waited for the broker's
    /// timeout). A dialog still open 20 s after its answer is closed and the question asked again
    /// with a new dialog, up to three times: repeating keys into the same dialog is not safe, since
    /// a half-applied Tab would change which button a repeat presses.
    private func ask(
        _ alert: SecurityAlert, tool: DialogTool, answer: DialogAnswer, screenshot: String
    ) async throws -> ApprovalDecision {
        let display = try await VirtualDisplay.start()
        let handler = PopupApprovalHandler(environment: display.environment, tools: [tool])
        #expect(handler.availableTool()?.tool == tool)
        var closed: Set<String> = []
        for attempt in 1...5 {
            let broker = ApprovalBroker(handler: handler, timeout: .seconds(120))
            let asking = Task { await broker.decide(alert) }
            // The new dialog's window, never one closed by an earlier attempt: a closed window can
            // still be listed for a moment, and keys sent to it are lost.
            var window: String?
            for _ in 0..<300 where window == nil {
                let search = try await runTool(
                    "xdotool", ["search", "--sync", "--onlyvisible", "--name", "Sentinel Guard"],
                    environment: display.environment)
                window = search.output.split(separator: "\n").map(String.init).first { !closed.contains($0) }
                if window == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let found = try #require(window, "no new dialog window appeared")
            if attempt == 1 {
                try await runTool("import", ["-window", "root", try artifactPath(screenshot)], environment: display.environment)
            }
            let keys = answer.xdotool.map { $0 == "%W" ? found : $0 }
            let finished = Finished()
            let waiting = Task { let decision = await asking.value; finished.set(); return decision }
            try await runTool("xdotool", ["windowfocus", "--sync", found], environment: display.environment)
            try await Task.sleep(for: .seconds(2))
            if keys.first == "key" {
                // One key per xdotool call, with a pause, so a starved dialog sees them in order.
                for key in keys.dropFirst() {
                    try await runTool("xdotool", ["key", key], environment: display.environment)
                    try await Task.sleep(for: .milliseconds(300))
                }
            } else {
                try await runTool("xdotool", keys, environment: display.environment)
            }
            // Up to 20 s: under the full suite on 2 cores, a starved dialog was seen to take
            // longer than 5 s to act on keys it had received, and closing it then lost an
            // answer that was only late (three times in a row, 2026-11-23). Five attempts: CI lost
            // yad's Escape three times in a row on 2026-12-07 under the same load.
            for _ in 0..<200 where !finished.value { try await Task.sleep(for: .milliseconds(100)) }
            if finished.value || attempt == 5 { return await waiting.value }
            // The answer was lost: close this dialog (a deny nobody asked for) and ask again.
            try await runTool("xdotool", ["windowkill", found], environment: display.environment)
            closed.insert(found)
            _ = await waiting.value
        }
        preconditionFailure("the loop returns on its last attempt")
    }

    @Test(.requires(.executable("zenity", package: "zenity")), arguments: zenityAnswers)
    func zenity(_ answer: DialogAnswer) async throws {
        let slug = answer.name.lowercased().filter { $0.isLetter || $0 == " " }.replacingOccurrences(of: " ", with: "-")
        let decision = try await ask(Self.alert, tool: .zenity, answer: answer, screenshot: "popup-zenity-\(slug).png")
        #expect(decision.answer == answer.expected, "\(decision)")
        #expect(decision.approver == .popup)
    }

    @Test(.requires(.executable("yad", package: "yad")), arguments: yadAnswers)
    func yad(_ answer: DialogAnswer) async throws {
        let slug = answer.name.lowercased().filter { $0.isLetter || $0 == " " }.replacingOccurrences(of: " ", with: "-")
        let decision = try await ask(Self.alert, tool: .yad, answer: answer, screenshot: "popup-yad-\(slug).png")
        #expect(decision.answer == answer.expected, "\(decision)")
        #expect(decision.approver == .popup)
    }

    /// Markup, shell and g_strcompress injection attempts in the target and reason show as literal
    /// text. Approving is only possible if the dialog parsed its text (a markup error makes the
    /// handler deny), and the `$(…)` never runs. The screenshot shows the literal text.
    private func injectionAttempt(tool: DialogTool) async throws {
        let canary = NSTemporaryDirectory() + "/sentinel-popup-canary-\(getpid())-\(tool)"
        defer { unlink(canary) }
        let hostile = SecurityAlert(
            action: "exec",
            target: #"<b>bold?</b> & $(touch \#(canary)) `touch \#(canary)` "dq" 'sq' \074i\076 \074b"#
                + "\n<i>second line</i>",
            reason: #"</span><span foreground="green" size="xx-large">SAFE</span> &amp; &lt;"#,
            recommendation: "Reject.", severity: .critical)
        let decision = try await ask(
            hostile, tool: tool,
            answer: DialogAnswer(name: "approve once", xdotool: approveOnceKeys(tool), expected: .approveOnce),
            screenshot: "popup-\(tool)-injection.png")
        #expect(decision.answer == .approveOnce, "\(decision)")
        #expect(access(canary, F_OK) != 0, "a shell ran the target's $(…)")
    }

    @Test(.requires(.executable("zenity", package: "zenity")))
    func injectionAttemptsShowAsLiteralTextInZenity() async throws {
        try await injectionAttempt(tool: .zenity)
    }

    @Test(.requires(.executable("yad", package: "yad")))
    func injectionAttemptsShowAsLiteralTextInYad() async throws {
        try await injectionAttempt(tool: .yad)
    }

    /// The control for the test above: text the dialog cannot parse is caught, so an escaping
    /// mistake would fail that test rather than pass silently.
    @Test(.requires(.executable("zenity", package: "zenity")))
    func unparsableMarkupIsDetected() async throws {
        let display = try await VirtualDisplay.start()
        let result = try await runTool(
            "zenity", ["--info", "--timeout=1", "--text=<b unbalanced & broken"], environment: display.environment)
        #expect(result.errors.contains("from markup"))
    }
}

/// Set once the broker has its answer.
private final class Finished: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return done }
    func set() { lock.lock(); done = true; lock.unlock() }
}

