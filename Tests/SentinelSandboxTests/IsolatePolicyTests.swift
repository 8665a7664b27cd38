// The policy shapes the sandbox (paths become binds and masks, the sandbox section gives the
// limits) and every run leaves a start and an end record outside the workspace.

import Foundation
import Glibc
import SentinelPolicy
@testable import SentinelSandbox
import SentinelTestSupport
import Testing

@Suite("Policy paths become binds and masks")
struct PolicyMountsTests {
    /// A host tree: `ws/` (the workspace, with `secret/`), `outside/rw`, `outside/ro`.
    final class Tree {
        let base: String
        init() throws {
            var template = Array("/tmp/sentinel-mounts-XXXXXX".utf8CString)
            base = try #require(mkdtemp(&template).map { String(cString: $0) })
            for directory in ["ws/secret", "outside/rw", "outside/ro", "outside/rw/hidden"] {
                try FileManager.default.createDirectory(atPath: base + "/" + directory, withIntermediateDirectories: true)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: base) }
    }

    private func plan(_ yaml: String, _ tree: Tree, binds: [SandboxSpec.Bind] = []) throws -> PolicyMounts {
        let document = try PolicyLoader(environment: [:]).parse(yaml)
        // The caller runs beside the workspace (relative entries resolve there) and `~` is ws/.
        return try PolicyMounts.plan(
            document: document, hostWorkspace: tree.base + "/ws", hostDirectory: tree.base, hostHome: tree.base + "/ws",
            existingBinds: binds, protectedPaths: [tree.base + "/sentinel.yaml"])
    }

    @Test func allowedAndReadOnlyOutsideTheWorkspaceBecomeBinds() throws {
        let tree = try Tree()
        let mounts = try plan("allowed_paths: [./ws, \(tree.base)/outside/rw]\nread_only_paths: [\(tree.base)/outside/ro]\n", tree)
        #expect(mounts.binds == [
            SandboxSpec.Bind(source: tree.base + "/outside/rw", destination: tree.base + "/outside/rw", readOnly: false),
            SandboxSpec.Bind(source: tree.base + "/outside/ro", destination: tree.base + "/outside/ro", readOnly: true),
        ])
        #expect(mounts.notes.isEmpty)
    }

    @Test func aPathInBothListsIsBoundReadOnly() throws {
        let tree = try Tree()
        let mounts = try plan("allowed_paths: [\(tree.base)/outside/rw]\nread_only_paths: [\(tree.base)/outside/rw]\n", tree)
        #expect(mounts.binds.map(\.readOnly) == [true])
    }

    @Test("relative entries resolve where the caller runs, ~ in the caller's home, as on the host", arguments: ["./ws/data", "~/data", "ws/data"])
    func relativeEntriesAreInsideTheWorkspace(entry: String) throws {
        let tree = try Tree()
        try FileManager.default.createDirectory(atPath: tree.base + "/ws/data", withIntermediateDirectories: false)
        let mounts = try plan("allowed_paths: [\(entry)]\nblocked_paths: [\(entry)]\n", tree)
        #expect(mounts.binds.isEmpty)
        #expect(mounts.blockedPaths == ["/workspace/data"])
    }

    @Test func blockedEntriesAreTranslatedToWhereTheSandboxShowsThem() throws {
        let tree = try Tree()
        let mounts = try plan(
            "allowed_paths: [\(tree.base)/outside/rw]\nblocked_paths: [./ws/secret, \(tree.base)/outside/rw/hidden, /etc/hostname, /etc, /root]\n",
            tree)
        // /etc as a whole stays (read-only, secrets removed); /root is not in the sandbox at all.
        // A file inside a system directory is masked only where the host's is shown (natively).
        #expect(mounts.blockedPaths == ["/workspace/secret", tree.base + "/outside/rw/hidden"])
        #expect(mounts.systemBlockedPaths == ["/etc/hostname"])
    }

    @Test func aBlockedPathUnderACallerBindUsesItsDestination() throws {
        let tree = try Tree()
        let bind = SandboxSpec.Bind(source: tree.base + "/outside/rw", destination: "/data", readOnly: false)
        let mounts = try plan("blocked_paths: [\(tree.base)/outside/rw/hidden]\n", tree, binds: [bind])
        #expect(mounts.blockedPaths == ["/data/hidden"])
    }

    @Test("entries the sandbox will not bind are reported", arguments: [
        ("/usr/share", "stays read-only"), ("/nonexistent-sentinel", "does not exist"), ("/proc/self", "the sandbox's own"),
        ("/tmp", "the sandbox's own"),
        // The caller's directory holds the policy (and the run's records): binding it would let the
        // command rewrite them.
        ("./", "must not reach"),
    ])
    func refusedEntriesAreReported(entry: String, note: String) throws {
        let tree = try Tree()
        let mounts = try plan("allowed_paths: [\(entry)]\n", tree)
        #expect(mounts.binds.isEmpty)
        #expect(mounts.notes.count == 1)
        #expect(mounts.notes.first?.contains(note) == true, "\(mounts.notes)")
    }
}

@Suite("sentinel-isolate applies the policy and audits the run", .serialized, .requires(.root))
struct IsolatePolicyRunTests {
    private func writePolicy(_ scratch: Scratch, _ text: String) throws {
        try text.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
    }

    @Test("policy paths shape the sandbox", arguments: Caller.allCases)
    func policyPathsShapeTheSandbox(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let outside = scratch.base + "/shared"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
        try "shared\n".write(toFile: outside + "/note", atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: scratch.workspace + "/private", withIntermediateDirectories: false)
        try "secret\n".write(toFile: scratch.workspace + "/private/key", atomically: false, encoding: .utf8)
        if caller == .unprivileged { chown(scratch.workspace + "/private", 65534, 65534) }
        try writePolicy(scratch, "allowed_paths: [./ws]\nread_only_paths: [\(outside)]\nblocked_paths: [./ws/private]\n")
        let result = try Isolate.run(caller, scratch, [
            "/bin/sh", "-c",
            "cat \(outside)/note; echo x > \(outside)/new 2>/dev/null || echo read-only; cat /workspace/private/key 2>/dev/null || echo hidden",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "shared\nread-only\nhidden\n")
        #expect(!FileManager.default.fileExists(atPath: outside + "/new"))
    }

    @Test("the sandbox section gives limits and env_allow; flags win")
    func sandboxSectionGivesDefaults() throws {
        let scratch = try Scratch(for: .root)
        try writePolicy(scratch, "sandbox:\n  pids_limit: 77\n  tmpfs_size: 8m\n  env_allow: [SENTINEL_TEST_PASS]\n")
        let result = try Isolate.run(
            .root, scratch, flags: ["--json-status", "--cpus", "0.5"],
            ["/bin/sh", "-c", "echo $SENTINEL_TEST_PASS; df -k /tmp | tail -1"],
            environment: ["SENTINEL_TEST_PASS": "passed"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("passed\n"))
        #expect(result.stdout.contains(" 8192 "), "tmpfs size: \(result.stdout)")
        let status = try #require(result.stderr.split(separator: "\n").last.map(String.init))
        #expect(status.contains("pids 77"), "\(status)")
        #expect(status.contains("cpus 0.5"), "\(status)")
    }

    @Test("an invalid policy refuses the run")
    func invalidPolicyRefuses() throws {
        let scratch = try Scratch(for: .root)
        try writePolicy(scratch, "allowed_paths: 3\n")
        let marker = scratch.workspace + "/ran"
        let result = try Isolate.run(.root, scratch, ["/bin/sh", "-c", "touch /workspace/ran"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("cannot be used"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("start and end records land beside the workspace", arguments: Caller.allCases)
    func auditRecords(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        let lines = try String(contentsOfFile: scratch.base + "/sentinel-audit.log", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        #expect(records.map { $0["action"] as? String } == ["run_start", "run_end"])
        #expect(records.allSatisfy { ($0["policy_sha256"] as? String)?.count == 64 })
        let end = try #require(records.last?["details"] as? [String: String])
        #expect(end["exit_status"] == "3")
        #expect(end["seccomp"]?.hasPrefix("enforce") == true)
        // The workload could not reach its own trail.
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/sentinel-audit.log"))
    }

    @Test("an audit log inside the workspace is refused before anything runs")
    func auditInsideWorkspaceRefused() throws {
        let scratch = try Scratch(for: .root)
        let result = try Isolate.run(.root, scratch, flags: ["--audit-log", scratch.workspace + "/log"], ["/bin/sh", "-c", "touch /workspace/ran"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("inside the workspace"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
    }

    @Test("an audit log that cannot be written refuses the run")
    func unwritableAuditRefuses() throws {
        let scratch = try Scratch(for: .unprivileged)
        let result = try Isolate.run(
            .unprivileged, scratch, flags: ["--audit-log", "/proc/sentinel-audit.log"], ["/bin/sh", "-c", "touch /workspace/ran"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Nothing was run"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
    }
}
