// The approval dialog is a program Sentinel starts while the program that caused the question
// waits; under `sentinel guard` that program runs as the same user and could read the dialog's
// /proc/PID/environ. The dialog therefore gets the handler's environment without Sentinel's keys.

import Foundation
import SentinelApproval
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(
    "The approval dialog gets none of Sentinel's keys", .serialized, .requires(.executable("Xvfb", package: "xvfb")),
    .requires(.executable("zenity", package: "zenity")), .requires(.executable("yad", package: "yad")))
struct PopupKeysTests {
    /// The pid and environment of every process whose environment contains `text`.
    static func processes(containing text: String) -> [(pid: String, environment: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { $0.allSatisfy(\.isNumber) }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
            let environment = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: "\n")
            return environment.contains(text) ? (pid, environment) : nil
        }
    }

    @Test("the dialog's environment has the handler's variables but no key", arguments: [DialogTool.zenity, .yad])
    func dialogSeesNoKey(tool: DialogTool) async throws {
        let display = try await VirtualDisplay.start()
        let audit = "audit-key-" + UUID().uuidString
        let policy = "policy-key-" + UUID().uuidString
        let visible = "visible-" + UUID().uuidString
        var environment = display.environment
        environment["SENTINEL_AUDIT_HMAC_KEY"] = audit
        environment["SENTINEL_POLICY_HMAC_KEY"] = policy
        environment["SENTINEL_KEYS_VISIBLE"] = visible
        let handler = PopupApprovalHandler(environment: environment, tools: [tool])
        let asking = Task { try await handler.decide(PopupXvfbTests.alert) }

        // The dialog is the process holding this test's visible variable (nothing else has it).
        var dialogs: [(pid: String, environment: String)] = []
        for _ in 0..<300 where dialogs.isEmpty {
            dialogs = Self.processes(containing: "SENTINEL_KEYS_VISIBLE=" + visible)
            if dialogs.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(!dialogs.isEmpty, "the \(tool) dialog did not start")
        for dialog in dialogs {
            #expect(dialog.environment.contains("DISPLAY=" + display.name), "\(dialog.environment)")
            for leaked in [audit, policy, "SENTINEL_AUDIT_HMAC_KEY", "SENTINEL_POLICY_HMAC_KEY"] {
                #expect(!dialog.environment.contains(leaked), "\(leaked) reached the dialog: \(dialog.environment)")
            }
        }
        #expect(Self.processes(containing: audit).isEmpty, "a process on this machine holds the audit key")

        // Closing the dialog answers (a denial); its outcome is the popup tests' business.
        for dialog in dialogs {
            if let pid = pid_t(dialog.pid), pid > 1 { kill(pid, SIGKILL) }
        }
        _ = try? await asking.value
    }
}
