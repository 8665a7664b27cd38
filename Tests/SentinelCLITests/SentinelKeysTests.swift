// Sentinel's own keys stay with Sentinel (the attack: `sentinel guard -- env` printed
// SENTINEL_AUDIT_HMAC_KEY, and the guard's log was chained without it). The built binaries, run
// as an operator runs them, with both keys in the operator's environment.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// The operator's keys for one test: random values, so that finding one in a program's output
/// can only mean it leaked.
struct OperatorKeys: Sendable {
    let audit = "audit-key-" + UUID().uuidString
    let policy = "policy-key-" + UUID().uuidString
    /// A variable of the operator's that does pass: proof that the program's environment was
    /// printed at all (a test that printed nothing would otherwise pass).
    let visible = "visible-" + UUID().uuidString

    /// The operator's environment: a PATH, HOME, both keys and the visible variable.
    var environment: [String: String] {
        [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root",
            "SENTINEL_AUDIT_HMAC_KEY": audit, "SENTINEL_POLICY_HMAC_KEY": policy, "SENTINEL_KEYS_VISIBLE": visible,
        ]
    }

    /// Checks that `output` shows the visible variable and neither key, by value or by name.
    func expectNoKey(in output: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(output.contains(visible), "the program's environment was not printed: \(output)", sourceLocation: sourceLocation)
        for leaked in [audit, policy, "SENTINEL_AUDIT_HMAC_KEY", "SENTINEL_POLICY_HMAC_KEY"] {
            #expect(!output.contains(leaked), "\(leaked) reached the program: \(output)", sourceLocation: sourceLocation)
        }
    }
}

/// A scratch directory, removed on deinit.
final class KeysScratch {
    let path: String

    init() throws {
        var template = Array("/tmp/sentinel-keys-XXXXXX".utf8CString)
        path = try #require(mkdtemp(&template).map { String(cString: $0) })
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("Sentinel's own keys stay with Sentinel (sentinel guard, sentinel-isolate)", .serialized)
struct SentinelKeysTests {
    /// Programs that print their environment three ways: the C library's, the kernel's copy of
    /// the exec-time environment, and an interpreter's.
    static let printers: [[String]] = [
        ["/usr/bin/env"],
        ["/usr/bin/cat", "/proc/self/environ"],
        ["/usr/bin/python3", "-c", "import os; print(dict(os.environ)); print(open('/proc/self/environ', 'rb').read())"],
    ]

    static func guardRun(
        _ command: [String], log: String, environment: [String: String], in directory: String
    ) throws -> ChildOutcome {
        try ChildProcess.run(
            ProxyCommandTests.binary, ["guard", "--policy", "builtin:default", "--audit-log", log, "--quiet", "--"] + command,
            environment: environment, directory: directory)
    }

    @Test("a command under sentinel guard sees none of the operator's keys", arguments: printers)
    func guardedProgramSeesNoKey(command: [String]) throws {
        let scratch = try KeysScratch()
        let keys = OperatorKeys()
        let outcome = try Self.guardRun(command, log: scratch.path + "/audit.log", environment: keys.environment, in: scratch.path)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        keys.expectNoKey(in: outcome.stdout)
    }

    @Test(
        "sentinel guard keys its chain with SENTINEL_AUDIT_HMAC_KEY: intact with the key, not without it or with another",
        arguments: [
            ("the same key", Int32(0), "HMAC-SHA256 chain, anchor matches."),
            ("no key", 2, "HMAC-chained"),
            ("another key", 1, "TAMPERED"),
        ] as [(String, Int32, String)])
    func guardKeysItsChain(verifiedWith: String, status: Int32, message: String) throws {
        let scratch = try KeysScratch()
        let keys = OperatorKeys()
        let log = scratch.path + "/audit.log"
        let guarded = try Self.guardRun(["/bin/true"], log: log, environment: keys.environment, in: scratch.path)
        #expect(guarded.status == 0, "\(guarded.stderr)")
        let records = try String(contentsOfFile: log, encoding: .utf8)
        #expect(records.contains(#""chain":"hmac-sha256""#), "\(records)")
        #expect(!records.contains(#""chain":"sha256""#), "\(records)")

        var environment = ["PATH": "/usr/bin:/bin"]
        switch verifiedWith {
        case "the same key": environment["SENTINEL_AUDIT_HMAC_KEY"] = keys.audit
        case "another key": environment["SENTINEL_AUDIT_HMAC_KEY"] = "another key, at least sixteen bytes"
        default: break
        }
        let verify = try ChildProcess.run(ProxyCommandTests.binary, ["audit", "verify", log], environment: environment)
        #expect(verify.status == status, "\(verify.stdout)\(verify.stderr)")
        #expect((verify.stdout + verify.stderr).contains(message), "\(verify.stdout)\(verify.stderr)")
    }

    @Test("a key too short to be one refuses the run instead of chaining without it")
    func guardRefusesAShortKey() throws {
        let scratch = try KeysScratch()
        var environment = OperatorKeys().environment
        environment["SENTINEL_AUDIT_HMAC_KEY"] = "short"
        let outcome = try Self.guardRun(["/bin/echo", "ran"], log: scratch.path + "/audit.log", environment: environment, in: scratch.path)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("use at least 16 random bytes"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("nothing was run"), "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    /// Ways of asking sentinel-isolate to pass a key in: by name, with a value, or in the policy.
    static let requests: [(flags: [String], policy: String, name: String)] = [
        (["--env", "SENTINEL_AUDIT_HMAC_KEY"], "allowed_paths: [./]\n", "SENTINEL_AUDIT_HMAC_KEY"),
        (["--env", "SENTINEL_POLICY_HMAC_KEY"], "allowed_paths: [./]\n", "SENTINEL_POLICY_HMAC_KEY"),
        (["--env", "SENTINEL_AUDIT_HMAC_KEY=typed-on-the-command-line"], "allowed_paths: [./]\n", "SENTINEL_AUDIT_HMAC_KEY"),
        ([], "allowed_paths: [./]\nsandbox:\n  env_allow: [SENTINEL_AUDIT_HMAC_KEY]\n", "SENTINEL_AUDIT_HMAC_KEY"),
        ([], "allowed_paths: [./]\nsandbox:\n  env_allow: [LANG, SENTINEL_POLICY_HMAC_KEY]\n", "SENTINEL_POLICY_HMAC_KEY"),
    ]

    @Test(
        "sentinel-isolate refuses to pass a key into the sandbox, with a sentence and exit 2, on both backends",
        arguments: requests, ["native", "docker"])
    func isolateRefusesToPassAKey(request: (flags: [String], policy: String, name: String), backend: String) throws {
        let scratch = try KeysScratch()
        try FileManager.default.createDirectory(atPath: scratch.path + "/ws", withIntermediateDirectories: false)
        try request.policy.write(toFile: scratch.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let keys = OperatorKeys()
        // The refusal comes before anything starts: no Docker engine is needed to see it, and
        // --dry-run would print the command if it did not come.
        let outcome = try ChildProcess.run(
            IsolateValidationTests.binary,
            ["--workspace", "ws", "--policy", "sentinel.yaml", "--backend", backend] + (backend == "docker" ? ["--dry-run"] : [])
                + request.flags + ["--", "/bin/sh", "-c", "echo ran; env"],
            environment: keys.environment, directory: scratch.path)
        #expect(outcome.status == 2, "\(outcome.stdout)\(outcome.stderr)")
        #expect(
            outcome.stderr.contains("\(request.name) is one of Sentinel's own keys and never enters a sandbox"),
            "\(outcome.stderr)")
        #expect(outcome.stderr.split(separator: "\n").count == 1, "one sentence: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty, "nothing may run or be printed: \(outcome.stdout)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/sentinel-audit.log"), "no run was started")
    }
}
