// "Never reachable" means never (issue 14): what the policy calls always denied is refused without
// a question, whatever the approval handler would answer, on every sensor that uses the pipeline.

import Foundation
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import Testing

@Suite("Always-denied addresses are refused without a question")
struct FinalDenialTests {
    /// A pipeline whose approver approves everything for the session and counts the questions.
    static func pipeline(_ directory: String, asked: AskedCounter) throws -> (DecisionPipeline, AuditLog) {
        let log = try AuditLog(path: directory + "/audit.log")
        let handler = ClosureApprovalHandler(name: "yes-to-all") { _ in
            asked.increment()
            return .approveForSession
        }
        let pipeline = DecisionPipeline(
            mode: .guard, policySHA256: String(repeating: "0", count: 64), audit: log,
            approvals: ApprovalBroker(handler: handler, timeout: .seconds(5)))
        return (pipeline, log)
    }

    @Test("metadata, unspecified, multicast and blocked_ips/blocked_hosts denials are final; a private address is not",
          arguments: [
              ("169.254.169.254", 80, true), ("fd00:ec2::254", 80, true), ("100.100.100.200", 80, true),
              ("0.0.0.0", 8080, true), ("224.0.0.1", 5353, true), ("198.51.100.7", 443, true),
              ("203.0.113.9", 443, true), ("10.1.2.3", 80, false),
          ] as [(String, Int, Bool)])
    func finalVerdicts(address: String, port: Int, final: Bool) async throws {
        let document = try PolicyLoader().parse("""
            allowed_hosts: ["*"]
            network_failsafe:
              blocked_ips: ["198.51.100.0/24"]
              blocked_hosts: ["203.0.113.9"]
            """)
        let policy = try Policy(document: document, context: PolicyContext(baseDirectory: "/", homeDirectory: "/"))
        guard case .decided(let decision) = policy.checkConnect(host: address, port: port) else {
            Issue.record("\(address) needed a lookup")
            return
        }
        #expect(!decision.verdict.isAllowed)
        #expect(decision.verdict.isFinal == final, "\(decision.verdict)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("final-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let asked = AskedCounter()
        let (pipeline, log) = try Self.pipeline(directory, asked: asked)
        defer { log.close() }
        let outcome = await pipeline.decide(DecisionRequest(
            action: .connect, target: "\(address):\(port)", verdict: decision.verdict, recommendation: ""))
        #expect(outcome.isAllowed == !final)
        #expect(asked.count == (final ? 0 : 1), "the approver was asked about a final denial")
        let records = try String(contentsOfFile: directory + "/audit.log", encoding: .utf8)
        #expect(records.contains(final ? #""decision":"deny""# : #""decision":"approved""#), "\(records)")
    }
}

extension FinalDenialTests {
    @Test("blocked_ips and blocked_hosts addresses are blocked in every IPv6 form that embeds them",
          arguments: ["93.184.216.34", "::ffff:93.184.216.34", "::ffff:5db8:d822", "64:ff9b::5db8:d822", "2002:5db8:d822::1"])
    func embeddedForms(address: String) throws {
        for key in ["blocked_ips: [\"93.184.216.34\"]", "blocked_hosts: [\"93.184.216.34\"]"] {
            let document = try PolicyLoader().parse("""
                allowed_hosts: ["*"]
                network_failsafe:
                  \(key)
                """)
            let policy = try Policy(document: document, context: PolicyContext(baseDirectory: "/", homeDirectory: "/"))
            guard case .decided(let decision) = policy.checkConnect(host: address, port: 443) else {
                Issue.record("\(address) needed a lookup")
                continue
            }
            #expect(!decision.verdict.isAllowed, "\(key) \(address): \(decision.verdict)")
            #expect(decision.verdict.isFinal, "\(key) \(address)")
        }
    }
}

/// Counts questions from concurrent callers.
final class AskedCounter: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var stored = 0
    func increment() { lock.lock(); stored += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return stored }
}
