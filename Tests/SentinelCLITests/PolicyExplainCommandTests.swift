// `sentinel policy explain --command` as a process: text an agent chose must be answered, never
// spin (an unclosed double quote ending in a backslash hung the parser at 100 % CPU, issue 14).

import Foundation
import SentinelTestSupport
import Testing

@Suite("sentinel policy explain answers every command text")
struct PolicyExplainCommandTests {
    @Test("an unclosed double quote ending in a backslash is denied at once, not a hang",
          arguments: ["\"\\", "echo \"x\\", "ls \"a b\\\\\\"])
    func unclosedQuoteEndingInBackslash(text: String) throws {
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "explain", "--policy", "builtin:default", "--command", text], timeout: 20)
        #expect(!outcome.timedOut, "sentinel policy explain --command \(text) hung")
        #expect(outcome.stdout.contains("builtin:shell-syntax"), "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stdout.contains("never closed"), "\(outcome.stdout)")
    }

    @Test("a command run through an allowed wrapper is decided by what it runs (the attacker's five, issue 14)",
          arguments: ["env python3 -c 1", "env sh", "find . -exec sh -c id {} +", "xargs python3", "timeout 5 python3 x.py"])
    func wrappers(text: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "allowed_commands: [env, find, xargs, timeout, ls]\n".write(toFile: directory + "/p.yaml", atomically: true, encoding: .utf8)
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "explain", "--policy", directory + "/p.yaml", "--command", text], timeout: 20)
        #expect(outcome.stdout.hasPrefix("deny"), "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stdout.contains("builtin:interpreter-denylist"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains(" runs '"), "\(outcome.stdout)")
    }

    @Test("sentinel policy validate warns about each trust_children and allow_interpreter entry, and exits 0")
    func optInsAreWarned() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            allowed_commands:
              - {command: ls, trust_children: true}
              - {command: python3, allow_interpreter: true}
            """.write(toFile: directory + "/p.yaml", atomically: true, encoding: .utf8)
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, ["policy", "validate", "--policy", directory + "/p.yaml"], timeout: 20)
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        let text = outcome.stdout + outcome.stderr
        #expect(text.contains("allowed_commands[0].trust_children"), "\(text)")
        #expect(text.contains("tests can run any code"), "\(text)")
        #expect(text.contains("allowed_commands[1].allow_interpreter"), "\(text)")
        let explained = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "explain", "--policy", directory + "/p.yaml", "--command", "python3 -c 1"], timeout: 20)
        #expect(explained.stdout.hasPrefix("allow"), "\(explained.stdout)\(explained.stderr)")
        let bash = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "explain", "--policy", directory + "/p.yaml", "--command", "bash -c 1"], timeout: 20)
        #expect(bash.stdout.hasPrefix("deny"), "\(bash.stdout)")
    }

    /// A directory with `p.yaml` allowing `api.example.test` (on loopback, so private addresses
    /// are allowed) and a hosts file that maps it to 127.0.0.1.
    static func networkPolicy() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("explain-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "allowed_hosts: [api.example.test]\nnetwork_failsafe: {allow_private_network: true}\n"
            .write(toFile: directory + "/p.yaml", atomically: true, encoding: .utf8)
        try "127.0.0.1 api.example.test\n".write(toFile: directory + "/hosts", atomically: true, encoding: .utf8)
        return directory
    }

    @Test("offline, an allowed name is denied by the lookup, and the answer says the policy allows it (issue 17)", .requires(.root))
    func lookupFailureIsNotThePolicy() throws {
        let directory = try Self.networkPolicy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A network namespace of its own: no route to any resolver, so the lookup fails here and
        // nowhere else is asked.
        let explain = ["policy", "explain", "--policy", directory + "/p.yaml", "--url", "https://api.example.test/v1/models"]
        let text = try ChildProcess.run("/usr/bin/unshare", ["--net", ProxyCommandTests.binary] + explain, timeout: 30)
        #expect(text.status == 3, "\(text.stdout)\(text.stderr)")
        #expect(text.stdout.contains("rule:     builtin:dns"), "\(text.stdout)")
        #expect(text.stdout.contains("policy:   allows api.example.test (rule allowed_hosts[0])"), "\(text.stdout)")
        #expect(text.stdout.contains("lookup:   failed ("), "\(text.stdout)")
        let json = try ChildProcess.run("/usr/bin/unshare", ["--net", ProxyCommandTests.binary] + explain + ["--json"], timeout: 30)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
        #expect(object["decision"] as? String == "deny")
        #expect((object["policy"] as? [String: Any])?["decision"] as? String == "allow", "\(json.stdout)")
        #expect((object["lookup"] as? [String: Any])?["outcome"] as? String == "failed", "\(json.stdout)")
    }

    @Test("a name that resolves shows the policy's verdict, the lookup's answers and what would be dialled")
    func lookupAnswersAreShown() throws {
        let directory = try Self.networkPolicy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, [
            "policy", "explain", "--policy", directory + "/p.yaml", "--hosts-file", directory + "/hosts", "--connect", "api.example.test:443",
        ], timeout: 30)
        #expect(outcome.status == 0, "\(outcome.stdout)\(outcome.stderr)")
        #expect(outcome.stdout.contains("lookup:   api.example.test resolved to 127.0.0.1"), "\(outcome.stdout)")
        #expect(outcome.stdout.contains("dials:    127.0.0.1"), "\(outcome.stdout)")
        // A name the policy refuses is never looked up, so there is no lookup to show.
        let refused = try ChildProcess.run(ProxyCommandTests.binary, [
            "policy", "explain", "--policy", directory + "/p.yaml", "--hosts-file", directory + "/hosts", "--connect", "other.example.test:443",
        ], timeout: 30)
        #expect(refused.status == 3)
        #expect(!refused.stdout.contains("lookup:"), "\(refused.stdout)")
    }

    @Test("a --connect argument that is not HOST:PORT is an error in JSON with --json", arguments: ["localhost:99999", "localhost", ":80"])
    func connectArgumentErrorsAreJSON(argument: String) throws {
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "explain", "--policy", "builtin:default", "--connect", argument, "--json"], timeout: 20)
        #expect(outcome.status == 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any], "\(outcome.stdout)\(outcome.stderr)")
        #expect(((object["error"] as? [String: Any])?["message"] as? String)?.contains("--connect takes HOST:PORT") == true, "\(outcome.stdout)")
    }
}
