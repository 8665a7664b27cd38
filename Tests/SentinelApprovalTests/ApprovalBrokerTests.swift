import SentinelPolicy
import SentinelApproval
import Synchronization
import Testing

/// An alert for `target`.
func alert(_ target: String, action: String = "exec") -> SecurityAlert {
    SecurityAlert(
        action: action, target: target, reason: "\(target) is not in allowed_commands.",
        recommendation: "Reject unless this command is required and understood.", severity: .high)
}

/// A gate handlers wait on until the test opens it. Waiting ignores task cancellation, like a
/// badly written custom handler would.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}

/// Counts calls and how many run at once.
final class CallLog: Sendable {
    private let state = Mutex<(calls: [String], active: Int, maxActive: Int)>(([], 0, 0))

    func enter(_ target: String) {
        state.withLock { state in
            state.calls.append(target)
            state.active += 1
            state.maxActive = max(state.maxActive, state.active)
        }
    }

    func leave() { state.withLock { $0.active -= 1 } }

    var calls: [String] { state.withLock { $0.calls } }
    var active: Int { state.withLock { $0.active } }
    var maxActive: Int { state.withLock { $0.maxActive } }
}

/// Waits (yielding) until `condition` holds; fails the test instead of hanging if it never does.
func eventually(_ what: Comment, _ condition: () async -> Bool) async throws {
    for _ in 0..<20_000 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("never happened: \(what)")
    throw CancellationError()
}

@Suite("ApprovalBroker: the handler contract")
struct ApprovalBrokerTests {
    @Test func aHandlerThatNeverAnswersTimesOutAsADenial() async throws {
        let handler = ClosureApprovalHandler(name: "slow") { _ in
            try await Task.sleep(for: .seconds(3600))
            return .approveOnce
        }
        let broker = ApprovalBroker(handler: handler, timeout: .milliseconds(200))
        let decision = await broker.decide(alert("/usr/bin/curl"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == .timeout)
        #expect(decision.note?.contains("nobody answered within 200 ms") == true)
        #expect(await broker.statistics.timeouts == 1)
    }

    @Test func aHandlerThatIgnoresCancellationHoldsBackTheNextPromptUntilItsOwnWaitRunsOut() async throws {
        let gate = Gate()
        let log = CallLog()
        let handler = ClosureApprovalHandler(name: "stuck") { alert in
            log.enter(alert.target)
            await gate.wait()
            log.leave()
            return .approveOnce
        }
        let broker = ApprovalBroker(handler: handler, timeout: .milliseconds(200))
        let first = await broker.decide(alert("/bin/one"))
        #expect(first.approver == .timeout)
        // The stuck prompt is still open: the next request is never shown, and is denied.
        let second = await broker.decide(alert("/bin/two"))
        #expect(second.answer == .deny)
        #expect(second.approver == .timeout)
        #expect(second.note?.contains("another approval prompt was still open") == true)
        #expect(log.calls == ["/bin/one"])

        // Once the stuck handler returns, prompts resume.
        gate.open()
        try await eventually("the prompt slot is released") { await !broker.statistics.promptOpen }
        let third = await broker.decide(alert("/bin/three"))
        #expect(third == .approveOnce(by: "stuck"))
    }

    @Test func aThrowingHandlerDenies() async throws {
        struct Broken: Error, CustomStringConvertible {
            var description: String { "the dialog server is down" }
        }
        let broker = ApprovalBroker(handler: ClosureApprovalHandler(name: "custom") { _ in throw Broken() })
        let decision = await broker.decide(alert("/usr/bin/nc"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == "custom")
        #expect(decision.note == "the custom approval handler failed: the dialog server is down")
        #expect(await broker.statistics.handlerErrors == 1)
    }

    @Test func theOriginalsSessionAnswerIsRememberedForTheRunForThatActionAndSubjectOnly() async throws {
        let log = CallLog()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "console") { alert in
                log.enter(alert.target)
                log.leave()
                return .approveForSession
            })
        #expect(await broker.decide(alert("/usr/bin/git push")) == ApprovalDecision(answer: .approveForRun, approver: "console"))
        let again = await broker.decide(alert("/usr/bin/git push"))
        #expect(again.answer == .approveForRun && again.approver == .remembered && again.isRemembered)
        #expect(await broker.rememberedAnswer(action: "exec", subject: "/usr/bin/git push") == .approveForRun)
        // Not another target, not another action on the same target.
        _ = await broker.decide(alert("/usr/bin/git push --force"))
        _ = await broker.decide(alert("/usr/bin/git push", action: "connect"))
        #expect(log.calls == ["/usr/bin/git push", "/usr/bin/git push --force", "/usr/bin/git push"])
        #expect(await broker.statistics.rememberedHits == 1)

        await broker.forgetRememberedAnswers()
        _ = await broker.decide(alert("/usr/bin/git push"))
        #expect(log.calls.count == 4)
    }

    @Test func approvalOnceIsNotRemembered() async throws {
        let log = CallLog()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "console") { alert in
                log.enter(alert.target)
                log.leave()
                return .approveOnce
            })
        _ = await broker.decide(alert("/bin/ls"))
        _ = await broker.decide(alert("/bin/ls"))
        #expect(log.calls.count == 2)
    }

    @Test func identicalConcurrentRequestsPromptOnce() async throws {
        let gate = Gate()
        let log = CallLog()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "popup") { alert in
                log.enter(alert.target)
                await gate.wait()
                log.leave()
                return .approveOnce
            })
        let decisions = try await withThrowingTaskGroup(of: ApprovalDecision.self) { group in
            for _ in 0..<10 {
                group.addTask { await broker.decide(alert("/usr/bin/python3 -c 'import os'")) }
            }
            try await eventually("all ten requests reached the broker") {
                let stats = await broker.statistics
                return stats.prompts == 1 && stats.coalesced == 9
            }
            gate.open()
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(decisions.count == 10)
        #expect(decisions.allSatisfy { $0 == .approveOnce(by: "popup") })
        #expect(log.calls.count == 1)
    }

    @Test func promptsAreShownOneAtATime() async throws {
        let gates = (0..<5).map { _ in Gate() }
        let log = CallLog()
        let broker = ApprovalBroker(
            handler: ClosureApprovalHandler(name: "popup") { alert in
                log.enter(alert.target)
                await gates[Int(alert.target.dropFirst(5))!].wait()
                log.leave()
                return .deny
            })
        try await withThrowingTaskGroup(of: ApprovalDecision.self) { group in
            for index in 0..<5 {
                group.addTask { await broker.decide(alert("/bin/\(index)")) }
            }
            for step in 0..<5 {
                // One prompt open, the others queued behind it, never two handlers at once.
                try await eventually("prompt \(step + 1) is open") {
                    let stats = await broker.statistics
                    return log.calls.count == step + 1 && stats.waiting == 4 - step
                }
                #expect(log.active == 1)
                let current = Int(log.calls[step].dropFirst(5))!
                gates[current].open()
            }
            for try await decision in group {
                #expect(decision == .deny(by: "popup"))
            }
        }
        #expect(log.maxActive == 1)
        #expect(Set(log.calls) == Set((0..<5).map { "/bin/\($0)" }))
    }

    @Test func headlessAutoRejects() async throws {
        let auto = AutoApprovalHandler(
            popup: PopupApprovalHandler(environment: ["PATH": "/usr/bin:/bin"]),
            console: ConsoleApprovalHandler(terminalPath: "/nonexistent/tty"))
        #expect(auto.selectedHandler() == nil)
        let decision = await ApprovalBroker(handler: auto).decide(alert("/usr/bin/curl"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == .reject)
        #expect(decision.note?.contains("headless") == true)
    }

    @Test func autoWithADisplayButNoDialogProgramAndNoTerminalRejects() async throws {
        let auto = AutoApprovalHandler(
            popup: PopupApprovalHandler(environment: ["DISPLAY": ":99", "PATH": "/nonexistent"]),
            console: ConsoleApprovalHandler(terminalPath: "/nonexistent/tty"))
        #expect(auto.selectedHandler() == nil)
        #expect(await ApprovalBroker(handler: auto).decide(alert("/bin/x")).approver == .reject)
    }

    @Test func rejectModeDenies() async throws {
        let decision = await ApprovalBroker(handler: ApprovalMode.reject.makeHandler()).decide(alert("/bin/x"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == .reject)
    }

    @Test func consoleModeWithoutATerminalDeniesSayingWhy() async throws {
        let broker = ApprovalBroker(handler: ConsoleApprovalHandler(terminalPath: "/nonexistent/tty"))
        let decision = await broker.decide(alert("/bin/x"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == .console)
        #expect(decision.note?.contains("There is no terminal to ask on") == true)
    }

    @Test func popupModeWithoutADisplayDeniesSayingWhy() async throws {
        let broker = ApprovalBroker(handler: PopupApprovalHandler(environment: ["PATH": "/usr/bin:/bin"]))
        let decision = await broker.decide(alert("/bin/x"))
        #expect(decision.answer == .deny)
        #expect(decision.approver == .popup)
        #expect(decision.note?.contains("neither DISPLAY nor WAYLAND_DISPLAY is set") == true)
    }

    @Test(arguments: [
        (nil, Duration.seconds(60)), (30, .seconds(30)), (0.5, .milliseconds(500)), (0, .seconds(60)),
        (-5, .seconds(60)), (Double.nan, .seconds(60)), (Double.infinity, .seconds(60)), (100_000, .seconds(60)),
    ] as [(Double?, Duration)])
    func timeoutFromThePolicy(seconds: Double?, expected: Duration) {
        #expect(ApprovalBroker.timeout(seconds: seconds) == expected)
    }
}
