// Setup problems say what was wrong and what to do: an empty policy is valid but denies
// everything (a warning naming `sentinel policy init`), a missing workspace says how to create one
// or pick another, and an audit log that cannot be opened says whose it is and what to change.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("setup problems say what to do", .serialized)
struct SetupMessagesTests {
    /// A throwaway directory.
    final class Directory {
        let path: String
        init() throws {
            var template = Array("/tmp/sentinel-setup-XXXXXX".utf8CString)
            path = try #require(mkdtemp(&template).map { String(cString: $0) })
            chmod(path, 0o755)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test("an empty policy validates with a warning that it denies everything and how to start", arguments: [
        "", "\n", "# nothing yet\n\n", "---\n", "~\n", "{}\n",
    ])
    func emptyPolicy(text: String) throws {
        let directory = try Directory()
        try text.write(toFile: directory.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let result = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "validate"], environment: ["PATH": "/usr/bin:/bin"], directory: directory.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(": valid"), "\(result.stdout)")
        #expect(result.stderr.contains("warning"), "\(result.stderr)")
        #expect(result.stderr.contains("the policy is empty, so it allows nothing"), "\(result.stderr)")
        #expect(result.stderr.contains("sentinel policy init"), "\(result.stderr)")
    }

    @Test("a policy with content has no such warning", arguments: ["allowed_paths: [./workspace]\n", "approval:\n  mode: reject\n"])
    func nonEmptyPolicy(text: String) throws {
        let directory = try Directory()
        try text.write(toFile: directory.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let result = try ChildProcess.run(
            ProxyCommandTests.binary, ["policy", "validate"], environment: ["PATH": "/usr/bin:/bin"], directory: directory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("empty"), "\(result.stderr)")
    }

    @Test("a missing workspace or policy says how to create one or pick another", arguments: [
        (["--workspace", "./missing", "--", "true"], ["Workspace does not exist: ", "mkdir -p ", "--workspace DIR"]),
        (["--", "true"], ["Workspace does not exist: ", "/sandbox-workspace", "mkdir -p ", "--workspace DIR"]),
        (["--workspace", "ws", "--policy", "none.yaml", "--", "true"], ["Policy file does not exist: ", "sentinel policy init", "--policy FILE"]),
    ])
    func missingWorkspace(arguments: [String], expected: [String]) throws {
        let directory = try Directory()
        try FileManager.default.createDirectory(atPath: directory.path + "/ws", withIntermediateDirectories: false)
        try "allowed_paths: [./ws]\n".write(toFile: directory.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let result = try ChildProcess.run(
            IsolateValidationTests.binary, arguments, environment: ["PATH": "/usr/bin:/bin"], directory: directory.path)
        #expect(result.status == 2, "\(result.stderr)")
        for text in expected {
            #expect(result.stderr.contains(text), "\(text): \(result.stderr)")
        }
    }

    @Test("an audit log the guard may not write: whose it is, who runs, and what to change", .requires(.root), arguments: [true, false])
    func auditLogOfAnotherUser(logExists: Bool) throws {
        let directory = try Directory()
        // A directory, and a log in it, left by another user (root here); the guard runs as 65534.
        let log = directory.path + "/records/audit.log"
        try FileManager.default.createDirectory(atPath: directory.path + "/records", withIntermediateDirectories: false)
        if logExists {
            try "".write(toFile: log, atomically: false, encoding: .utf8)
            chmod(log, 0o600)
            chmod(directory.path + "/records", 0o1777)
        }
        try "allowed_paths: [./]\n".write(toFile: directory.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let marker = directory.path + "/ran"
        let result = try ChildProcess.run(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", ProxyCommandTests.binary, "guard", "--audit-log", log, "--", "/usr/bin/touch", marker],
            environment: ["PATH": "/usr/bin:/bin"], directory: directory.path)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "nothing may run without its record")
        let owner = logExists ? "\(log) belongs to uid 0 (mode 0600)" : "The directory \(directory.path)/records belongs to uid 0 (mode 0755)"
        #expect(result.stderr.contains(owner), "\(result.stderr)")
        #expect(result.stderr.contains("runs as uid 65534"), "\(result.stderr)")
        #expect(result.stderr.contains("pass --audit-log PATH with a file you may write"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was run"), "\(result.stderr)")
    }

    @Test(
        "a blocked entry behind a directory this user may not search is kept as written; an allowing one is refused",
        .requires(.root), arguments: [("blocked_paths: [/root/.ssh, ~/.aws]\n", true), ("allowed_paths: [/root/project]\n", false)])
    func unsearchableEntries(policy: String, valid: Bool) throws {
        let directory = try Directory()
        try policy.write(toFile: directory.path + "/sentinel.yaml", atomically: false, encoding: .utf8)
        // As 65534, /root (0700) cannot be examined: nor can anything behind it be reached.
        let result = try ChildProcess.run(
            "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ProxyCommandTests.binary, "policy", "validate"],
            environment: ["PATH": "/usr/bin:/bin", "HOME": "/root"], directory: directory.path)
        #expect(result.status == (valid ? 0 : 2), "\(result.stdout)\(result.stderr)")
        if !valid { #expect(result.stderr.contains("cannot be examined"), "\(result.stderr)") }
    }
}
