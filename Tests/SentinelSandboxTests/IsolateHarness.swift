// Runs the built `sentinel-isolate` binary the way a user does, as root or as an unprivileged
// user (setpriv to 65534 with a workspace that user owns), and captures what it prints.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// Who runs the launcher.
enum Caller: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case root
    case unprivileged

    var testDescription: String { rawValue }
    /// The uid the workload runs as.
    var workloadUID: String { "65534" }
}

/// The outcome of one launcher run.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A throwaway directory with a workspace and a policy file, owned by the caller's user.
final class Scratch {
    /// The policy every test sandbox gets (one line, so tests can compare what the sandbox shows):
    /// the workspace, named relative to the directory the launcher runs in (`base`), as on the host.
    static let policyText = "allowed_paths: [./ws]\n"
    let base: String
    let workspace: String
    let policy: String

    init(for caller: Caller) throws {
        var template = Array("/tmp/sentinel-test-XXXXXX".utf8CString)
        base = try #require(mkdtemp(&template).map { String(cString: $0) })
        workspace = base + "/ws"
        policy = base + "/sentinel.yaml"
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: false)
        try Scratch.policyText.write(toFile: policy, atomically: false, encoding: .utf8)
        chmod(base, 0o755)
        if caller == .unprivileged {
            // The run's audit log goes beside the workspace, so the caller must own that too.
            chown(base, 65534, 65534)
            chown(workspace, 65534, 65534)
            chown(policy, 65534, 65534)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }
}

enum Isolate {
    /// The built binary, next to the test bundle (scripts/test builds everything first).
    static let binary: String = {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // Under `swift test` argv[0] may be the xctest helper; walk up to the build directory.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sentinel-isolate").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/sentinel-isolate"
        return fallback
    }()

    /// The `sentinel` binary beside `sentinel-isolate`.
    static let sentinelBinary: String = URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("sentinel").path

    /// Runs `sentinel-isolate <flags> -- <command>` in `scratch`.
    static func run(
        _ caller: Caller, _ scratch: Scratch, flags: [String] = [], _ command: [String],
        environment: [String: String] = [:], stdin: String? = nil
    ) throws -> RunResult {
        var arguments = ["--workspace", scratch.workspace, "--policy", scratch.policy] + flags + ["--"] + command
        var executable = binary
        if caller == .unprivileged {
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + arguments
            executable = "/usr/bin/setpriv"
        }
        return try launch(executable, arguments, environment: environment, stdin: stdin, directory: scratch.base)
    }

    static func launch(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
        directory: String? = nil
    ) throws -> RunResult {
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build sentinel-isolate first (scripts/test does)")
        var env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"]
        for (key, value) in environment { env[key] = value }
        let outcome = try ChildProcess.run(executable, arguments, environment: env, stdin: stdin, directory: directory)
        #expect(!outcome.timedOut, "sentinel-isolate did not finish within the watchdog's limit and was killed")
        return RunResult(status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr)
    }
}
