import Foundation
import SentinelAudit
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `sentinel` executable, beside the test bundle in the build directory.
private func sentinelExecutable() throws -> String {
    let testBinary = URL(fileURLWithPath: try #require(Bundle.main.executablePath ?? CommandLine.arguments.first))
    let candidate = testBinary.deletingLastPathComponent().appendingPathComponent("sentinel").path
    try #require(
        FileManager.default.isExecutableFile(atPath: candidate),
        "\(candidate) is missing: build the package first (`swift build --build-tests`)")
    return candidate
}

/// A finished `sentinel` run.
private struct Run {
    var status: Int32
    var output: String
    var errors: String
}

/// Runs `sentinel` with `arguments` in `directory` on a thread of its own.
private func sentinel(
    _ arguments: [String], in directory: String, environment extra: [String: String] = [:]
) async throws -> Run {
    let executable = try sentinelExecutable()
    return try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(
                with: Result {
                    let process = SpawnedProcess()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    process.currentDirectoryURL = URL(fileURLWithPath: directory)
                    var environment = ProcessInfo.processInfo.environment
                    environment[AuditKey.environmentVariable] = nil
                    environment.merge(extra) { $1 }
                    process.environment = environment
                    let output = Pipe()
                    let errors = Pipe()
                    process.standardOutput = output
                    process.standardError = errors
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    // stdout, then stderr: `sentinel audit` writes far less than a pipe holds to stderr.
                    let out = output.fileHandleForReading.readDataToEndOfFile()
                    let err = errors.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return Run(
                        status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                        errors: String(decoding: err, as: UTF8.self))
                })
        }.start()
    }
}

/// A scratch directory holding `audit.log` with `count` records.
private final class LogDirectory {
    let path: String
    var log: String { path + "/audit.log" }

    init(records count: Int, key: AuditKey? = nil, target: (Int) -> String = { "/usr/bin/tool \($0)" }) throws {
        var template = Array((NSTemporaryDirectory() + "/sentinel-cli-audit.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = try #require(made.map { String(cString: $0) })
        let writer = try AuditLog(path: path + "/audit.log", options: .init(key: key))
        for index in 1...max(count, 1) where count > 0 {
            try writer.append(
                AuditEvent(
                    mode: .guard, action: index % 2 == 0 ? .connect : .exec, target: target(index),
                    decision: index % 3 == 0 ? .rejected : .allow, rule: "rule[\(index)]", reason: "Reason \(index).",
                    approver: index % 3 == 0 ? "timeout" : "policy", severity: .high))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var lines: [String] {
        get throws {
            try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        }
    }

    func setLines(_ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: false, encoding: .utf8)
    }
}

@Suite("sentinel audit verify|tail (the built binary)", .serialized)
struct AuditCommandTests {
    @Test func verifyReportsAnIntactLogAndExitsZero() async throws {
        let directory = try LogDirectory(records: 12)
        // PATH defaults to ./audit.log.
        let run = try await sentinel(["audit", "verify"], in: directory.path)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output == "audit.log: intact: 12 records, SHA-256 chain, anchor matches.\n")
    }

    @Test(arguments: [
        ("edited", 1, "line 4 (seq 4): the record was changed after it was written"),
        ("deleted", 1, "line 4 (seq 5): the record has seq 5 where 4 was expected"),
        ("reordered", 1, "line 4 (seq 5): the record has seq 5 where 4 was expected"),
        ("truncated", 1, "line 11 (seq 11): the anchor says the log ends at seq 12"),
        ("partial", 1, "line 12: the file ends in the middle of a record"),
    ] as [(String, Int32, String)])
    func verifyNamesTheFirstBrokenRecordAndExitsOne(tampering: String, status: Int32, message: String) async throws {
        let directory = try LogDirectory(records: 12)
        var lines = try directory.lines
        switch tampering {
        case "edited": lines[3] = lines[3].replacingOccurrences(of: "Reason 4.", with: "Reason 5.")
        case "deleted": lines.remove(at: 3)
        case "reordered": lines.swapAt(3, 4)
        case "truncated": lines.removeLast(2)
        default: break
        }
        try directory.setLines(lines)
        if tampering == "partial" {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: directory.log))
            try bytes.dropLast(10).write(to: URL(fileURLWithPath: directory.log))
        }
        let run = try await sentinel(["audit", "verify", directory.log], in: directory.path)
        #expect(run.status == status)
        #expect(run.output.contains("TAMPERED: \(message)"), "\(run.output)")
    }

    @Test func verifyOfAMissingLogExitsTwo() async throws {
        let directory = try LogDirectory(records: 0)
        let run = try await sentinel(["audit", "verify", "absent.log"], in: directory.path)
        #expect(run.status == 2)
        #expect(run.errors.contains("There is no audit log at absent.log"))
    }

    @Test func aKeyedLogNeedsTheKey() async throws {
        let secret = "cli test key, at least sixteen bytes"
        let directory = try LogDirectory(records: 3, key: try AuditKey(bytes: Array(secret.utf8)))
        let without = try await sentinel(["audit", "verify"], in: directory.path)
        #expect(without.status == 2)
        #expect(without.errors.contains(AuditKey.environmentVariable))
        let with = try await sentinel(
            ["audit", "verify"], in: directory.path, environment: [AuditKey.environmentVariable: secret])
        #expect(with.status == 0, "\(with.errors)")
        #expect(with.output.contains("HMAC-SHA256 chain"))
    }

    @Test func tailShowsTheLastRecordsForPeople() async throws {
        let directory = try LogDirectory(records: 5)
        let run = try await sentinel(["audit", "tail", "-n", "2"], in: directory.path)
        #expect(run.status == 0, "\(run.errors)")
        let lines = run.output.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].contains("  ALLOW     connect      /usr/bin/tool 4  [rule[4]] Reason 4."))
        #expect(lines[1].contains("  ALLOW     exec         /usr/bin/tool 5  [rule[5]] Reason 5."))
        #expect(lines[0].wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  .*/) != nil)
    }

    @Test func tailShowsTheApproverOfAnOverride() async throws {
        let directory = try LogDirectory(records: 3)
        let run = try await sentinel(["audit", "tail", "-n", "1"], in: directory.path)
        #expect(run.output.contains("REJECTED  exec         /usr/bin/tool 3  [rule[3]] Reason 3. (approver: timeout)"))
    }

    @Test func tailJSONPassesTheLinesThrough() async throws {
        let directory = try LogDirectory(records: 4)
        let run = try await sentinel(["audit", "tail", "--json", "-n", "3", directory.log], in: directory.path)
        #expect(run.status == 0)
        #expect(run.output == (try directory.lines.suffix(3)).joined(separator: "\n") + "\n")
    }

    @Test func tailEscapesHostileTargets() async throws {
        let directory = try LogDirectory(records: 1) { _ in "rm -rf / \u{1b}[2J\u{1b}]0;pwned\u{07}\nfake line" }
        let run = try await sentinel(["audit", "tail"], in: directory.path)
        #expect(!run.output.contains("\u{1b}"))
        #expect(run.output.split(separator: "\n").count == 1)
        #expect(run.output.contains(#"rm -rf / \x1b[2J\x1b]0;pwned\x07\nfake line"#))
    }

    @Test func tailFollowPrintsRecordsAsTheyAreAppended() async throws {
        let directory = try LogDirectory(records: 2)
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: try sentinelExecutable())
        process.arguments = ["audit", "tail", "-f", "-n", "1", directory.log]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        // If the expected lines never come, end the process so the reads below return.
        let hangGuard = Task.detached {
            try await Task.sleep(for: .seconds(60))
            kill(pid, SIGKILL)
        }
        defer {
            hangGuard.cancel()
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        let reader = output.fileHandleForReading
        let first = try await readLine(from: reader)
        #expect(first.contains("/usr/bin/tool 2"))

        let writer = try AuditLog(path: directory.log)
        try writer.append(
            AuditEvent(mode: .proxy, action: .http, target: "GET https://example.invalid/", decision: .deny,
                       rule: "default:allowed_hosts", reason: "example.invalid is not allowed."))
        let next = try await readLine(from: reader)
        #expect(next.contains("DENY      http         GET https://example.invalid/  [default:allowed_hosts]"))
    }
}

/// Reads one line from a pipe on a thread of its own (bounded by the pipe closing).
private func readLine(from handle: FileHandle) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            var bytes: [UInt8] = []
            while true {
                let chunk = handle.readData(ofLength: 1)
                if chunk.isEmpty || chunk.first == UInt8(ascii: "\n") { break }
                bytes.append(contentsOf: chunk)
            }
            continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
        }.start()
    }
}
