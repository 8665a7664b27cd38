// Compatibility mode runs in the agent's process, which holds Sentinel's keys (it reads them):
// the programs `Sentinel.run` starts must not get them. Each case is an exit test, because the
// keys have to be in the process's own environment (that is where the agent has them) and
// setting them in the shared test process would reach every other test running beside it.

import Foundation
import Glibc
import SentinelGuard
import SentinelPolicy
import Testing

@Suite("Compatibility mode keeps Sentinel's keys from the programs it runs")
struct CompatKeysTests {
    /// Programs that print their environment: the C library's view and the kernel's copy.
    static let printers: [[String]] = [["/usr/bin/env"], ["/usr/bin/cat", "/proc/self/environ"]]

    @Test("a program started by Sentinel.run sees none of the agent's keys", arguments: printers)
    func programsSeeNoKey(command: [String]) async throws {
        var template = Array("/tmp/sentinel-compat-keys-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: base) }
        try "allowed_commands: [/usr/bin/env, /usr/bin/cat]\napproval:\n  mode: reject\n"
            .write(toFile: base + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let audit = "audit-key-" + UUID().uuidString
        let policy = "policy-key-" + UUID().uuidString
        let visible = "visible-" + UUID().uuidString

        let result = await #expect(processExitsWith: .success, observing: [\.standardOutputContent]) {
            [base = base as String, command, audit = audit as String, policy = policy as String, visible = visible as String] in
            setenv("SENTINEL_AUDIT_HMAC_KEY", audit, 1)
            setenv("SENTINEL_POLICY_HMAC_KEY", policy, 1)
            setenv("SENTINEL_KEYS_VISIBLE", visible, 1)
            _ = try Sentinel.activate(ActivationOptions(policyPath: base + "/sentinel.yaml", auditPath: base + "/audit.log"))
            let output = try await Sentinel.run(command)
            print(output.stdoutText)
            fflush(nil)
        }
        let output = String(decoding: result?.standardOutputContent ?? [], as: UTF8.self)
        #expect(output.contains(visible), "the program's environment was not printed: \(output)")
        for leaked in [audit, policy, "SENTINEL_AUDIT_HMAC_KEY", "SENTINEL_POLICY_HMAC_KEY"] {
            #expect(!output.contains(leaked), "\(leaked) reached the program: \(output)")
        }
        // The agent itself still had the audit key: its log is keyed.
        let log = try String(contentsOfFile: base + "/audit.log", encoding: .utf8)
        #expect(log.contains(#""chain":"hmac-sha256""#), "\(log)")
    }
}
