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
}
