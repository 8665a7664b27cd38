// The terminal prompt.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Asks on the controlling terminal (`/dev/tty`), never on stdin, which the guarded program may
/// own or feed.
///
/// Shows the action, target, reason, recommendation and severity (escaped with ``VisibleText``),
/// the time left to answer, and the answers of ``ApprovalAnswer/offered`` numbered in their fixed
/// order, then reads one line:
/// - `1` deny once (the default: an empty line, end of input, Escape, anything unrecognised and
///   no answer in time all deny once), `2` deny for this run, `3` approve once, `4` approve for
///   this run, `5` approve for 15 minutes, `5 N` approve for N minutes (1 to 1440);
/// - the original's words still work: `y`/`yes` approve once, `n`/`no` deny once, and
///   `s`/`session` (its "for the session") approve for this run.
///
/// Input typed before the prompt appeared is discarded (`tcflush`), so a stray or pre-typed `y`
/// cannot answer a question nobody has seen.
public struct ConsoleApprovalHandler: ApprovalHandler {
    /// The terminal device asked on.
    public var terminalPath: String

    /// Creates a handler that asks on `terminalPath` (the controlling terminal by default).
    public init(terminalPath: String = "/dev/tty") {
        self.terminalPath = terminalPath
    }

    /// `console`.
    public var name: Approver { .console }

    /// Whether the terminal can be opened (there is a controlling terminal).
    public func terminalIsAvailable() -> Bool {
        let fd = open(terminalPath, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// What the prompt shows, before the question line.
    static func promptText(for alert: SecurityAlert, colour: Bool) -> String {
        let severity = alert.severity.rawValue.uppercased()
        let badge: String
        if colour {
            // 24-bit SGR with the dialog's colours; terminals without it fall back to a near colour.
            let (r, g, b) = rgb(alert.severity.colour)
            badge = "\u{1b}[1;97;48;2;\(r);\(g);\(b)m \(severity) \u{1b}[0m"
        } else {
            badge = severity
        }
        return """

            [SECURITY APPROVAL REQUIRED]
            Severity:       \(badge)
            Action:         \(VisibleText.escaping(alert.action))
            Target:         \(VisibleText.escaping(alert.target))
            Reason:         \(VisibleText.escaping(alert.reason))
            Recommendation: \(VisibleText.escaping(alert.recommendation))

            \(ApprovalAnswer.timeoutSentence(alert.timeout))
            \(menu)

            """
    }

    /// The numbered answers, in ``ApprovalAnswer/offered`` order, the first marked as the default.
    static let menu = ApprovalAnswer.offered.enumerated().map { index, answer in
        "  [\(index + 1)] \(answer.label)\(index == 0 ? " (default: Enter)" : "")"
    }.joined(separator: "\n")

    /// The question, ending the prompt.
    static let question = "Answer [1-\(ApprovalAnswer.offered.count)] (Enter denies once): "

    /// Maps an answer line to an answer; anything not recognised is the default, deny once.
    static func answer(forLine line: String) -> ApprovalAnswer {
        let words = line.trimmingWhitespace().lowercased().split(separator: " ", omittingEmptySubsequences: true)
        switch words.count {
        case 1:
            switch words[0] {
            case "y", "yes": return .approveOnce
            case "n", "no": return .denyOnce
            case "s", "session": return .approveForRun
            default:
                guard let number = Int(words[0]), ApprovalAnswer.offered.indices.contains(number - 1) else {
                    return .denyOnce
                }
                return ApprovalAnswer.offered[number - 1]
            }
        case 2:
            // `5 N`: approve for N minutes; a number out of range is not an answer, so it denies.
            let minutesChoice = ApprovalAnswer.offered.count
            guard Int(words[0]) == minutesChoice, let minutes = Int(words[1]),
                ApprovalAnswer.minutesRange.contains(minutes)
            else { return .denyOnce }
            return .approve(forMinutes: minutes)
        default:
            return .denyOnce
        }
    }

    /// Shows the prompt and reads the answer.
    ///
    /// - Throws: ``ApprovalError`` when the terminal cannot be opened or read.
    public func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        let fd = open(terminalPath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ApprovalError(
                .noTerminal,
                "There is no terminal to ask on (\(terminalPath) could not be opened); run Sentinel from a terminal, "
                    + "or set SENTINEL_APPROVAL_MODE to popup or reject.", errno: errno)
        }
        defer { close(fd) }
        let cancel = try CancellationSignal()
        let prompt = Self.promptText(for: alert, colour: isatty(fd) == 1) + Self.question
        let path = terminalPath

        let answer: Result<String?, ApprovalError> = await withTaskCancellationHandler {
            await onDedicatedThread { Self.ask(fd: fd, prompt: prompt, cancel: cancel.readEnd, path: path) }
        } onCancel: {
            cancel.fire()
        }
        switch answer {
        case .failure(let error):
            throw error
        case .success(nil):
            _ = writeFully(fd, Array("\n[Sentinel] no answer in time: denied once\n".utf8))
            return .deny(by: .console, note: "the prompt was withdrawn before an answer")
        case .success(let line?):
            let answer = Self.answer(forLine: line)
            _ = writeFully(fd, Array("[Sentinel] → \(answer.label.lowercased())\n".utf8))
            return ApprovalDecision(answer: answer, approver: .console)
        }
    }

    /// On the dedicated thread: flush typed-ahead input, prompt, read one line. `nil` means the
    /// wait was cancelled.
    private static func ask(fd: Int32, prompt: String, cancel: Int32, path: String) -> Result<String?, ApprovalError> {
        // Discard input typed before the question was shown; not a terminal (a test's file) is fine.
        _ = tcflush(fd, TCIFLUSH)
        guard writeFully(fd, Array(prompt.utf8)) else {
            return .failure(ApprovalError(.terminalIO, "Could not write the prompt to \(path).", errno: errno))
        }
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            var fds = [
                pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: cancel, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return .failure(ApprovalError(.terminalIO, "Could not wait for input on \(path).", errno: errno))
            }
            if fds[1].revents != 0 { return .success(nil) }
            guard fds[0].revents != 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                // EIO: the terminal hung up. Nobody can answer, which is a denial, not an error.
                return .success("")
            }
            if n == 0 { return .success(String(decoding: line, as: UTF8.self)) }
            for byte in buffer[0..<n] {
                if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                    return .success(String(decoding: line, as: UTF8.self))
                }
                // An answer is a word; anything long is not one of ours and denies.
                if line.count < 64 { line.append(byte) }
            }
        }
    }
}

private func rgb(_ hex: String) -> (Int, Int, Int) {
    let value = Int(hex.dropFirst(), radix: 16) ?? 0
    return ((value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff)
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
