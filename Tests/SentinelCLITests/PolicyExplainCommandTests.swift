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
}
