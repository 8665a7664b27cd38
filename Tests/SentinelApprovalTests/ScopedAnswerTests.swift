import SentinelApproval
import Synchronization
import Testing

/// A monotonic clock the test moves by hand, so expiry is tested without sleeping.
final class ManualClock: Sendable {
    private let current = Mutex(ContinuousClock.now)

    var now: ContinuousClock.Instant { current.withLock { $0 } }

    func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }
}

/// A handler that answers every question with `answer` and records what it was asked.
func scripted(_ answer: ApprovalAnswer, log: CallLog) -> ClosureApprovalHandler {
    ClosureApprovalHandler(name: "console") { alert in
        log.enter(alert.subject ?? alert.target)
        log.leave()
        return answer
    }
}

/// An exec alert whose subject is the executable's identity and argv, as the guard sends it.
func exec(device: UInt64 = 2049, inode: UInt64 = 1234, _ argv: [String], target: String? = nil) -> SecurityAlert {
    SecurityAlert(
        action: "exec", target: target ?? argv.joined(separator: " "), reason: "not in allowed_commands.",
        recommendation: "Deny unless expected.", subject: "\(device):\(inode)\u{0}" + argv.joined(separator: "\u{0}"))
}

@Suite("ApprovalBroker: scoped answers, exact matching and the flood limit")
struct ScopedAnswerTests {
    /// Each scope: once asks again, run and minutes answer the next identical question from memory.
    @Test(arguments: [
        (ApprovalAnswer.approveOnce, 2), (.denyOnce, 2), (.approveForRun, 1), (.denyForRun, 1),
        (.approve(forMinutes: 15), 1),
    ])
    func eachScope(answer: ApprovalAnswer, prompts: Int) async throws {
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(answer, log: log))
        let first = await broker.decide(exec(["/usr/bin/curl", "https://example.com"]))
        let second = await broker.decide(exec(["/usr/bin/curl", "https://example.com"]))
        #expect(first == ApprovalDecision(answer: answer, approver: "console"))
        #expect(second.answer == answer)
        #expect(second.isApproved == answer.isApproved)
        #expect(log.calls.count == prompts)
        #expect(second.isRemembered == (prompts == 1))
        if second.isRemembered {
            #expect(second.note?.contains("remembered answer \"\(answer.label)\" given by console") == true)
        }
    }

    /// Deny for this run answers later identical questions with deny, without asking.
    @Test func denyForTheRunIsNotAskedAgain() async throws {
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.denyForRun, log: log))
        for _ in 0..<5 {
            let decision = await broker.decide(exec(["/usr/bin/nscd"]))
            #expect(!decision.isApproved)
        }
        #expect(log.calls.count == 1)
        #expect(await broker.statistics.rememberedHits == 4)
    }

    /// A minutes answer holds until its deadline on the injected monotonic clock, then is asked again.
    @Test(arguments: [1, 15, 1_440])
    func minutesAnswersExpireAtTheDeadline(minutes: Int) async throws {
        let clock = ManualClock()
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approve(forMinutes: minutes), log: log), now: { clock.now })
        let question = exec(["/usr/bin/git", "fetch"])
        _ = await broker.decide(question)
        clock.advance(by: .seconds(60 * minutes) - .milliseconds(1))
        #expect(await broker.decide(question).isRemembered)
        #expect(log.calls.count == 1)
        clock.advance(by: .milliseconds(1))
        let after = await broker.decide(question)
        #expect(!after.isRemembered)
        #expect(log.calls.count == 2)
    }

    /// A run answer has no deadline.
    @Test func runAnswersDoNotExpire() async throws {
        let clock = ManualClock()
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveForRun, log: log), now: { clock.now })
        _ = await broker.decide(exec(["/bin/true"]))
        clock.advance(by: .seconds(86_400 * 30))
        #expect(await broker.decide(exec(["/bin/true"])).isRemembered)
        #expect(log.calls.count == 1)
    }

    /// Questions that differ in anything but nothing at all are asked again: another inode (a file
    /// swapped under the same name, a symlink that now resolves elsewhere), another device, an
    /// argument with a trailing space, another port, another path.
    @Test(arguments: [
        ("another inode", exec(inode: 9999, ["/usr/bin/curl", "https://example.com"])),
        ("another device", exec(device: 64768, ["/usr/bin/curl", "https://example.com"])),
        ("a trailing space", exec(["/usr/bin/curl", "https://example.com "])),
        ("an argument split differently", exec(["/usr/bin/curl", "https://example.com", ""])),
        ("the same text, another file", exec(inode: 77, ["/usr/bin/curl", "https://example.com"])),
    ])
    func aDifferentExecIsAskedAgain(_ why: String, _ other: SecurityAlert) async throws {
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveForRun, log: log))
        _ = await broker.decide(exec(["/usr/bin/curl", "https://example.com"]))
        let decision = await broker.decide(other)
        #expect(!decision.isRemembered, "\(why) reused the answer")
        #expect(log.calls.count == 2)
    }

    @Test(arguments: [
        ("connect", "api.example.com:443", "connect", "api.example.com:8443"),
        ("connect", "api.example.com:443", "connect", "api.example.com.:443"),
        ("file_write", "path:/work/out.txt", "file_write", "path:/work/out.txt/../../etc/passwd"),
        ("file_write", "path:/work/out.txt", "file_write", "path:/work/out.txt2"),
        ("file_write", "path:/work/out.txt", "file_read", "path:/work/out.txt"),
        ("connect", "unix:2049:55", "connect", "unix:2049:56"),
    ])
    func aDifferentPathHostOrPortIsAskedAgain(action: String, subject: String, otherAction: String, other: String)
        async throws
    {
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveForRun, log: log))
        func question(_ action: String, _ subject: String) -> SecurityAlert {
            SecurityAlert(action: action, target: "shown text", reason: "r", recommendation: "", subject: subject)
        }
        _ = await broker.decide(question(action, subject))
        #expect(await broker.decide(question(action, subject)).isRemembered)
        let different = await broker.decide(question(otherAction, other))
        #expect(!different.isRemembered)
        #expect(log.calls.count == 2)
    }

    /// The same shown text with another subject (what the program chose to print is not the key).
    @Test func theTargetTextIsNotTheKey() async throws {
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveForRun, log: log))
        _ = await broker.decide(exec(inode: 1, ["/tmp/x"], target: "wc report.txt"))
        let other = await broker.decide(exec(inode: 2, ["/tmp/x"], target: "wc report.txt"))
        #expect(!other.isRemembered)
        #expect(log.calls.count == 2)
    }

    /// Identical questions waiting at the same time share one prompt and all get its answer,
    /// including a scoped one; a different question waiting at the same time gets its own prompt.
    @Test func concurrentIdenticalQuestionsAreOnePrompt() async throws {
        let gate = Gate()
        let log = CallLog()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "popup") { alert in
                log.enter(alert.subject ?? alert.target)
                await gate.wait()
                log.leave()
                return .denyForRun
            })
        let decisions = try await withThrowingTaskGroup(of: ApprovalDecision.self) { group in
            for _ in 0..<8 {
                group.addTask { await broker.decide(exec(["/usr/bin/nc", "evil", "25"])) }
            }
            group.addTask { await broker.decide(exec(["/usr/bin/nc", "evil", "26"])) }
            try await eventually("the eight identical questions are one prompt") {
                let stats = await broker.statistics
                return stats.prompts == 1 && stats.coalesced == 7 && stats.waiting == 1
            }
            gate.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count == 9)
        #expect(decisions.allSatisfy { $0 == ApprovalDecision(answer: .denyForRun, approver: "popup") })
        #expect(log.calls.count == 2)
    }

    /// More than ten new questions within a second: the eleventh is refused without asking, with
    /// the sentence; a second later questions are asked again. Remembered answers and identical
    /// questions do not count.
    @Test func promptFloodingIsRefused() async throws {
        let clock = ManualClock()
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveOnce, log: log), now: { clock.now })
        for index in 0..<ApprovalBroker.floodLimit {
            #expect(await broker.decide(exec(["/bin/\(index)"])).isApproved)
        }
        let refused = await broker.decide(exec(["/bin/eleventh"]))
        #expect(refused.answer == .denyOnce)
        #expect(refused.approver == .floodLimit)
        #expect(refused.note == "too many approval questions at once (prompt flooding): denied without asking")
        #expect(log.calls.count == ApprovalBroker.floodLimit)
        #expect(await broker.statistics.floodRefusals == 1)

        clock.advance(by: .seconds(1))
        #expect(await broker.decide(exec(["/bin/eleventh"])).approver == "console")
        #expect(log.calls.count == ApprovalBroker.floodLimit + 1)
    }

    @Test func rememberedAnswersDoNotCountAsNewQuestions() async throws {
        let clock = ManualClock()
        let log = CallLog()
        let broker = ApprovalBroker(handler: scripted(.approveForRun, log: log), now: { clock.now })
        for _ in 0..<50 { _ = await broker.decide(exec(["/bin/same"])) }
        for index in 0..<(ApprovalBroker.floodLimit - 1) {
            #expect(await broker.decide(exec(["/bin/\(index)"])).approver == "console")
        }
        #expect(await broker.statistics.floodRefusals == 0)
    }

    /// The broker tells the handler its timeout, so the prompt can show it.
    @Test func theHandlerIsToldTheTimeout() async throws {
        final class Seen: Sendable {
            let timeout = Mutex<Duration?>(nil)
        }
        let seen = Seen()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "custom") { alert in
                seen.timeout.withLock { $0 = alert.timeout }
                return .denyOnce
            }, timeout: .seconds(42))
        _ = await broker.decide(exec(["/bin/x"]))
        #expect(seen.timeout.withLock { $0 } == .seconds(42))
    }
}
