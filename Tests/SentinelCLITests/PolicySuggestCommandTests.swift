// `sentinel policy suggest` on logs recorded by real runs: a guarded program's denials become a
// policy under which the same program runs without one.

import Foundation
import SentinelAudit
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// seccomp user notification, which `sentinel guard` needs.
let suggestGuardAvailable = MachineRequirement(missing: "needs seccomp user notification (Linux 5.14)") {
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
    return parts.count == 2 && (parts[0], parts[1]) >= (5, 14)
}

@Suite("sentinel policy suggest", .serialized)
struct PolicySuggestCommandTests {
    let directory: String

    init() throws {
        // Resolved: the guard records canonical paths, and the temporary directory may be a symlink.
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path
        directory = base + "/suggest-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/out", withIntermediateDirectories: true)
    }

    func run(_ arguments: [String]) throws -> ChildOutcome {
        try ChildProcess.run(ProxyCommandTests.binary, arguments, environment: Self.environment)
    }

    /// Denials are refused without a question, whatever the developer's environment says.
    static let environment: [String: String] = {
        var environment = ProcessInfo.processInfo.environment
        environment["SENTINEL_APPROVAL_MODE"] = "reject"
        environment["SENTINEL_POLICY_CONTENT"] = nil
        environment["SENTINEL_AUDIT_HMAC_KEY"] = nil
        return environment
    }()

    /// The records of a log whose decision is a denial.
    func denials(in log: String) throws -> [AuditRecord] {
        let text = try String(contentsOfFile: log, encoding: .utf8)
        return try text.split(separator: "\n").map { try AuditRecord(jsonLine: Array($0.utf8)) }
            .filter { [.deny, .rejected].contains($0.decision) }
    }

    @Test("denials recorded by sentinel guard become a policy that runs the same command with none",
          .requires(suggestGuardAvailable), .requires(.executable("id", package: "coreutils")))
    func learnedPolicyRunsTheCommand() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = directory + "/sentinel.yaml"
        try "# The policy under test.\nallowed_paths: []\nallowed_commands:\n  - echo\n".write(toFile: policy, atomically: false, encoding: .utf8)
        let command = ["sh", "-c", "id >/dev/null; echo x > \(directory)/out/file; cat /etc/shadow >/dev/null 2>&1; true"]

        let firstLog = directory + "/first.log"
        let first = try run(["guard", "--policy", policy, "--audit-log", firstLog, "--quiet", "--"] + command)
        let denied = try denials(in: firstLog)
        #expect(denied.contains { $0.action == .exec && $0.rule == "default:allowed_commands" }, "\(first.stderr)")
        #expect(denied.contains { $0.action == .fileWrite && $0.rule == "default:allowed_paths" }, "\(first.stderr)")

        // The patch: id, the directory written, and nothing for what no addition may allow.
        let patch = try run(["policy", "suggest", firstLog, "--policy", policy])
        #expect(patch.status == 0, "\(patch.stderr)")
        #expect(patch.stdout.contains("allowed_commands:\n  # 1 denial, e.g. id\n  - id\n"), "\(patch.stdout)")
        #expect(patch.stdout.contains("allowed_paths:\n  # 1 denial, e.g. \(directory)/out/file\n  - \(directory)/out\n"), "\(patch.stdout)")

        let learned = directory + "/learned.yaml"
        let write = try run(["policy", "suggest", firstLog, "--policy", policy, "--write", learned])
        #expect(write.status == 0, "\(write.stderr)")
        let text = try String(contentsOfFile: learned, encoding: .utf8)
        #expect(text.hasPrefix("# The policy under test.\n"), "the policy's own text is kept: \(text)")
        #expect(try String(contentsOfFile: policy, encoding: .utf8) == "# The policy under test.\nallowed_paths: []\nallowed_commands:\n  - echo\n",
                "the --policy file is left alone")
        let validate = try run(["policy", "validate", "--policy", learned])
        #expect(validate.status == 0, "\(validate.stderr)")

        let secondLog = directory + "/second.log"
        try? FileManager.default.removeItem(atPath: directory + "/out/file")
        let second = try run(["guard", "--policy", learned, "--audit-log", secondLog, "--quiet", "--"] + command)
        #expect(second.status == 0, "\(second.stderr)")
        let stillDenied = try denials(in: secondLog).filter { $0.rule != "blocked_paths[0]" }
        #expect(stillDenied.isEmpty, "\(stillDenied.map { "\($0.action) \($0.target) \($0.rule ?? "")" })")
        #expect(FileManager.default.fileExists(atPath: directory + "/out/file"))

        // Nothing left to learn from the second run.
        let again = try run(["policy", "suggest", secondLog, "--policy", learned, "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        #expect((object?["additions"] as? [Any])?.isEmpty == true, "\(again.stdout)")
    }

    @Test("a denied connect becomes an allowed_hosts entry with its port, and the connect is then allowed",
          .requires(suggestGuardAvailable), .requires(.root), .requires(.executable("curl", package: "curl")),
          .requires(.executable("unshare", package: "util-linux")))
    func learnedHostIsAllowed() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let policy = directory + "/sentinel.yaml"
        try "allowed_commands: [curl]\n".write(toFile: policy, atomically: false, encoding: .utf8)
        // A public address, so no name lookup is involved; whether anything answers does not matter:
        // the guard decides the connect before the kernel makes it. Each run is in a network
        // namespace of its own with nothing in it, so the allowed connect of the second run
        // fails there (no route) and no packet leaves this machine.
        let command = ["curl", "-s", "-m", "3", "-o", "/dev/null", "http://93.184.216.34:8080/"]
        func run(_ arguments: [String]) throws -> ChildOutcome {
            guard arguments.first == "guard" else { return try self.run(arguments) }
            return try ChildProcess.run("/usr/bin/unshare", ["--net", "--", ProxyCommandTests.binary] + arguments,
                                        environment: Self.environment)
        }
        let firstLog = directory + "/first.log"
        _ = try run(["guard", "--policy", policy, "--audit-log", firstLog, "--quiet", "--"] + command)
        #expect(try denials(in: firstLog).map { "\($0.action) \($0.target) \($0.rule ?? "")" }
                == ["connect 93.184.216.34:8080 default:allowed_hosts"])

        let learned = directory + "/learned.yaml"
        let write = try run(["policy", "suggest", firstLog, "--policy", policy, "--write", learned])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(write.stdout.contains("allowed_hosts:\n  # 1 denial, e.g. 93.184.216.34:8080\n  - {host: 93.184.216.34, ports: [8080]}\n"), "\(write.stdout)")

        let secondLog = directory + "/second.log"
        _ = try run(["guard", "--policy", learned, "--audit-log", secondLog, "--quiet", "--"] + command)
        #expect(try denials(in: secondLog).isEmpty)
        let records = try String(contentsOfFile: secondLog, encoding: .utf8)
        #expect(records.contains(#""action":"connect","target":"93.184.216.34:8080","decision":"allow","rule":"allowed_hosts[0]""#), "\(records)")
    }

    @Test("a log without denials says so and exits 0")
    func noDenials() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/audit.log"
        let writer = try AuditLog(path: log)
        _ = try writer.append(AuditEvent(mode: .guard, action: .exec, target: "ls", decision: .allow, reason: "Allowed."))
        writer.close()
        let outcome = try run(["policy", "suggest", log])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("No denials in \(log)"), "\(outcome.stdout)")
    }

    @Test("a damaged log is an error naming file:line, and nothing is suggested")
    func damagedLog() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/audit.log"
        let writer = try AuditLog(path: log)
        for index in 1...3 {
            _ = try writer.append(AuditEvent(
                mode: .guard, action: .fileWrite, target: "/srv/\(index)/f", decision: .deny, rule: "default:allowed_paths",
                reason: "Access is outside the allowed workspace."))
        }
        writer.close()
        var text = try String(contentsOfFile: log, encoding: .utf8)
        text = text.replacingOccurrences(of: "/srv/2/f", with: "/srv/9/f")
        try text.write(toFile: log, atomically: false, encoding: .utf8)
        let outcome = try run(["policy", "suggest", log])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("\(log):2:"), "the edited record: \(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
    }

    @Test("--write refuses an existing file that is not the --policy file")
    func writeRefusesAnotherFile() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/audit.log"
        let writer = try AuditLog(path: log)
        _ = try writer.append(AuditEvent(
            mode: .guard, action: .fileWrite, target: directory + "/out/f", decision: .deny, rule: "default:allowed_paths",
            reason: "Access is outside the allowed workspace."))
        writer.close()
        let other = directory + "/other.yaml"
        try "keep: me\n".write(toFile: other, atomically: false, encoding: .utf8)
        let outcome = try run(["policy", "suggest", log, "--write", other])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("already exists and is not the --policy file"), "\(outcome.stderr)")
        #expect(try String(contentsOfFile: other, encoding: .utf8) == "keep: me\n")
    }

    @Test("--write replaces the --policy file itself when named explicitly, keeping its mode; --json lists what is not suggested")
    func writeOverThePolicyItself() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/audit.log"
        let writer = try AuditLog(path: log)
        _ = try writer.append(AuditEvent(
            mode: .guard, action: .fileWrite, target: directory + "/out/f", decision: .rejected, rule: "default:allowed_paths",
            reason: "Access is outside the allowed workspace. Refused by timeout."))
        _ = try writer.append(AuditEvent(
            mode: .guard, action: .fileRead, target: "/etc/shadow", decision: .deny, rule: "blocked_paths[0]",
            reason: "Access to /etc/shadow is explicitly blocked."))
        writer.close()
        let policy = directory + "/sentinel.yaml"
        try "blocked_paths:\n  - /etc/shadow\n".write(toFile: policy, atomically: false, encoding: .utf8)
        #expect(chmod(policy, 0o600) == 0)

        let outcome = try run(["policy", "suggest", log, "--policy", policy, "--write", policy, "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        #expect(object["written"] as? String == policy)
        let withheld = try #require(object["not_suggested"] as? [[String: Any]])
        #expect(withheld.map { $0["rule"] as? String } == ["blocked_paths[0]"])
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        #expect(text.hasPrefix("blocked_paths:\n  - /etc/shadow\n"), "\(text)")
        #expect(text.contains("allowed_paths:\n  # 1 denial, e.g. \(directory)/out/f\n  - \(directory)/out\n"), "\(text)")
        var info = stat()
        #expect(stat(policy, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(".sentinel-suggest-") }
        #expect(leftovers.isEmpty)
    }
}
