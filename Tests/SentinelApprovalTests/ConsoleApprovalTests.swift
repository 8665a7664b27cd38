@testable import SentinelApproval
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal: the handler asks on the slave side, the test reads and types on the master.
final class PseudoTerminal {
    let master: Int32
    let slavePath: String

    // posix_openpt/unlockpt/ptsname are _XOPEN_SOURCE declarations the Glibc module does not
    // import, so do what they do on Linux: open /dev/ptmx, clear the lock, ask for the number.
    // TIOCSPTLCK and TIOCGPTN are _IOW/_IOR macros (asm-generic/ioctls.h), written out here.
    private static let setLock: UInt = 0x4004_5431
    private static let getNumber: UInt = 0x8004_5430

    init() throws {
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(master >= 0, "opening /dev/ptmx failed: errno \(errno)")
        var unlock: Int32 = 0
        try #require(ioctl(master, Self.setLock, &unlock) == 0, "TIOCSPTLCK failed: errno \(errno)")
        var number: UInt32 = 0
        try #require(ioctl(master, Self.getNumber, &number) == 0, "TIOCGPTN failed: errno \(errno)")
        slavePath = "/dev/pts/\(number)"
    }

    deinit { close(master) }

    /// Everything the handler has written, read until `marker` appears (bounded, so a missing
    /// prompt fails the test instead of hanging it). Polls without blocking and sleeps between
    /// polls, so it never holds one of the few cooperative threads the handler needs.
    func read(until marker: String) async throws -> String {
        var seen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<6_000 {
            if String(decoding: seen, as: UTF8.self).contains(marker) { break }
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 1, 0) > 0 else {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            seen.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: seen, as: UTF8.self)
        try #require(text.contains(marker), "the terminal never showed \(marker.debugDescription); it showed \(text.debugDescription)")
        return text
    }

    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress!, $0.count) }
    }
}

@Suite("Console prompt on a real pseudo-terminal", .serialized)
struct ConsoleApprovalTests {
    static let alert = SecurityAlert(
        action: "exec", target: "rm -rf ~ \u{1b}[2J\nSeverity: LOW", reason: "rm is in the interpreter denylist.",
        recommendation: "Reject unless you explicitly trust this high-risk command.", severity: .critical)

    @Test(arguments: [
        ("y\n", ApprovalAnswer.approveOnce), ("3\n", .approveOnce), ("s\n", .approveForRun), ("4\n", .approveForRun),
        ("5\n", .approve(forMinutes: 15)), ("5 45\n", .approve(forMinutes: 45)), ("2\n", .denyForRun),
        ("1\n", .denyOnce), ("\n", .denyOnce), ("n\n", .denyOnce), ("whatever\n", .denyOnce),
        ("\u{1b}\n", .denyOnce),  // Escape, then Enter
        ("\u{04}", .denyOnce),  // Ctrl-D: end of input
    ])
    func answerTypedAtTheTerminal(typed: String, outcome: ApprovalAnswer) async throws {
        let terminal = try PseudoTerminal()
        let handler = ConsoleApprovalHandler(terminalPath: terminal.slavePath)
        let asking = Task { try await handler.decide(Self.alert) }

        let screen = try await terminal.read(until: ConsoleApprovalHandler.question)
        terminal.type(typed)
        let decision = try await asking.value
        #expect(decision.answer == outcome)
        #expect(decision.approver == .console)

        #expect(screen.contains("[SECURITY APPROVAL REQUIRED]"))
        #expect(screen.contains("Action:         exec"))
        #expect(screen.contains("Reason:         rm is in the interpreter denylist."))
        #expect(screen.contains("Recommendation: Reject unless you explicitly trust this high-risk command."))
        #expect(screen.contains("CRITICAL"))
        // The target's escape sequence and newline are shown, not obeyed: one Target line, no raw ESC.
        let targetLine = try #require(screen.split(whereSeparator: \.isNewline).first { $0.hasPrefix("Target:") })
        #expect(targetLine.contains(#"rm -rf ~ \x1b[2J\nSeverity: LOW"#))
        #expect(!targetLine.contains("\u{1b}"))
    }

    @Test func inputTypedBeforeThePromptIsDiscarded() async throws {
        let terminal = try PseudoTerminal()
        // Keep the slave open so the early input sits in its queue until the handler flushes it.
        let holder = open(terminal.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(holder >= 0)
        defer { close(holder) }
        terminal.type("y\n")
        let handler = ConsoleApprovalHandler(terminalPath: terminal.slavePath)
        let asking = Task { try await handler.decide(Self.alert) }
        _ = try await terminal.read(until: ConsoleApprovalHandler.question)
        terminal.type("n\n")
        #expect(try await asking.value.answer == .denyOnce)
    }

    @Test func anUnansweredPromptTimesOutThroughTheBroker() async throws {
        let terminal = try PseudoTerminal()
        let broker = ApprovalBroker(
            handler: ConsoleApprovalHandler(terminalPath: terminal.slavePath), timeout: .milliseconds(300))
        let decision = await broker.decide(Self.alert)
        #expect(decision.answer == .denyOnce)
        #expect(decision.approver == .timeout)
        // The prompt said how long there was, and the handler noticed the cancellation and said so.
        let screen = try await terminal.read(until: "no answer in time: denied once")
        #expect(screen.contains("Answer within 300 ms; no answer denies."))
        #expect(screen.contains("[1] Deny once (default: Enter)"))
    }
}
