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

/// Three logs as a run leaves them (the launcher's, the guard's and a proxy container's, beside
/// it), holding records of run `aaa…` and, in the launcher's log, one of another run.
private final class RunLogs {
    static let run = "00000000000000aa"
    static let otherRun = "00000000000000bb"
    let directory: LogDirectory
    var main: String { directory.log }
    /// Each record's file and line, in the order they were written.
    private(set) var written: [(file: String, line: String)] = []

    init(longDetail: String = "") throws {
        directory = try LogDirectory(records: 0)
        let main = directory.log
        for sibling in [main + ".guard", main + ".proxy"] {
            try FileManager.default.createDirectory(atPath: sibling, withIntermediateDirectories: false)
        }
        let run = try AuditRunID(validating: Self.run)
        let isolate = try AuditLog(path: main, options: .init(runID: run))
        let guardLog = try AuditLog(path: main + ".guard/audit.log", options: .init(runID: run))
        let proxy = try AuditLog(path: main + ".proxy/proxy-audit.log", options: .init(runID: run))
        let stranger = try AuditLog(path: main, options: .init(runID: try AuditRunID(validating: Self.otherRun)))
        let steps: [(AuditLog, AuditEvent)] = [
            (isolate, AuditEvent(mode: .isolate, action: .runStart, target: "agent", decision: .info, reason: "Started.",
                                 details: ["note": longDetail])),
            (guardLog, AuditEvent(mode: .guard, action: .exec, target: "/usr/bin/python3 agent.py", decision: .allow,
                                  rule: "guard:operator-command", reason: "The operator's command.")),
            (proxy, AuditEvent(mode: .proxy, action: .connect, target: "other.test:443", decision: .deny,
                               rule: "default:allowed_hosts", reason: "other.test is not allowed.", details: ["port": "443"])),
            (stranger, AuditEvent(mode: .guard, action: .exec, target: "/usr/bin/id (another run)", decision: .deny,
                                  reason: "Another run.")),
            (guardLog, AuditEvent(mode: .guard, action: .exec, target: "/usr/bin/id", decision: .rejected,
                                  rule: "default:allowed_commands", reason: "id is not allowed.", approver: "reject")),
            (isolate, AuditEvent(mode: .isolate, action: .runEnd, target: "agent", decision: .info, reason: "Ended.")),
        ]
        for (log, event) in steps {
            let record = try log.append(event)
            written.append((log.path, String(decoding: record.jsonLine(), as: UTF8.self)))
        }
        for log in [isolate, guardLog, proxy, stranger] { log.close() }
    }

    /// The lines of run `aaa…` that `keep` selects, in the order written.
    func lines(where keep: (AuditRecord) -> Bool = { _ in true }) throws -> [String] {
        try written.filter { entry in
            let record = try AuditRecord(jsonLine: Array(entry.line.utf8))
            return record.run == Self.run && keep(record)
        }.map(\.line)
    }
}

@Suite("sentinel audit tail: one run's logs, filters, details and errors (the built binary)", .serialized)
struct AuditTailTests {
    @Test("--run reads the run's logs together in time order, unchanged with --json, without other runs' records")
    func runMergesItsLogs() async throws {
        let logs = try RunLogs()
        let run = try await sentinel(["audit", "tail", "--run", RunLogs.run, "--json", logs.main], in: logs.directory.path)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output == (try logs.lines()).joined(separator: "\n") + "\n")
        #expect(!run.output.contains(RunLogs.otherRun))
        // Each log is still intact: reading never writes.
        for file in [logs.main, logs.main + ".guard/audit.log", logs.main + ".proxy/proxy-audit.log"] {
            #expect(try AuditVerifier().verify(path: file).isIntact, "\(file)")
        }
    }

    @Test("--denied keeps refusals, --kind keeps kinds (repeatable), and they combine", arguments: [
        (["--denied"], "denied"), (["--kind", "exec"], "exec"), (["--kind", "exec", "--kind", "run_end"], "exec+run_end"),
        (["--denied", "--kind", "exec"], "denied exec"),
    ])
    func filters(options: [String], name: String) async throws {
        let logs = try RunLogs()
        let keep: (AuditRecord) -> Bool = switch name {
        case "denied": { $0.decision == .deny || $0.decision == .rejected }
        case "exec": { $0.action == .exec }
        case "exec+run_end": { $0.action == .exec || $0.action == .runEnd }
        default: { $0.action == .exec && $0.decision == .rejected }
        }
        let run = try await sentinel(["audit", "tail", "--run", RunLogs.run, "--json"] + options + [logs.main], in: logs.directory.path)
        #expect(run.status == 0, "\(run.errors)")
        let expected = try logs.lines(where: keep)
        #expect(!expected.isEmpty)
        #expect(run.output == expected.joined(separator: "\n") + "\n")
    }

    @Test("without --run, filters apply to the one log named, across runs; -n counts what matches")
    func filtersWithoutRun() async throws {
        let logs = try RunLogs()
        let run = try await sentinel(["audit", "tail", "--denied", "-n", "1", "--json", logs.main], in: logs.directory.path)
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("(another run)"))
        #expect(run.output.split(separator: "\n").count == 1)
    }

    @Test("people see the mode, the run and every detail in full, on lines of their own")
    func fullDetails() async throws {
        let long = String(repeating: "0123456789", count: 300) + " end"
        let logs = try RunLogs(longDetail: long)
        let run = try await sentinel(["audit", "tail", "--run", RunLogs.run, "--kind", "run_start", logs.main], in: logs.directory.path)
        #expect(run.status == 0, "\(run.errors)")
        let lines = run.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(run.output)")
        #expect(lines[0].contains("  isolate  INFO      run_start    agent  Started."), "\(lines[0])")
        #expect(lines[1] == "    run: \(RunLogs.run)")
        #expect(lines[2] == "    note: \(long)")
    }

    @Test("errors are sentences with exit status 2, and JSON objects with --json", arguments: [
        (["--kind", "exe"], "usage", "--kind exe is not a kind of record; the kinds are exec, file_read"),
        (["--run", "NOT-AN-ID"], "usage", "--run: \"NOT-AN-ID\" is not a run id"),
        (["absent.log"], "open", "There is no audit log at absent.log"),
        (["corrupt"], "malformedRecord", ", line 2: The line is not a valid audit record"),
    ] as [([String], String, String)], [false, true])
    func errors(failure: ([String], String, String), json: Bool) async throws {
        let (options, code, message) = failure
        let logs = try RunLogs()
        var arguments = ["audit", "tail"] + (json ? ["--json"] : [])
        if options == ["corrupt"] {
            var lines = try logs.directory.lines
            lines[1] = String(lines[1].dropLast(5))
            try logs.directory.setLines(lines)
            arguments += ["--run", RunLogs.run, logs.main]
        } else {
            arguments += options + (options.contains("absent.log") ? [] : [logs.main])
        }
        let run = try await sentinel(arguments, in: logs.directory.path)
        #expect(run.status == 2)
        if json {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
            let error = try #require(object["error"] as? [String: Any])
            #expect(error["code"] as? String == code)
            #expect((error["message"] as? String)?.contains(message) == true, "\(error)")
            if code == "malformedRecord" { #expect(error["line"] as? Int == 2) }
        } else {
            #expect(run.output.isEmpty)
            #expect(run.errors.hasPrefix("error: ") && run.errors.contains(message), "\(run.errors)")
        }
    }
}
