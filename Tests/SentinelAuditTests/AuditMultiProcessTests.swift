import Foundation
import SentinelAudit
import SentinelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several real processes append to one log at once.
///
/// The writers are copies of this test executable started with `--filter` on
/// ``writerProcess()``, which runs only when the environment names a log. (Not exit tests: Swift
/// Testing 6.3 reads an exit test's output with a blocking read on the cooperative pool, so on a
/// two-core machine at most two of them run at once, and eight writers behind a barrier deadlock.)
/// The writers wait for each other at a file barrier and yield the CPU after every record, so
/// their appends really interleave.
@Suite("AuditLog across processes", .serialized)
struct AuditMultiProcessTests {
    static let processes = 8
    static let recordsPerProcess = 1_000

    private enum Variable {
        static let log = "SENTINEL_AUDIT_TEST_WRITER_LOG"
        static let index = "SENTINEL_AUDIT_TEST_WRITER_INDEX"
    }

    private static var writerLog: String? { ProcessInfo.processInfo.environment[Variable.log] }

    @Test func eightProcessesAppendAThousandRecordsEach() async throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let executable = try #require(
            Bundle.main.executablePath ?? CommandLine.arguments.first, "cannot find the test executable")

        let statuses = try await withThrowingTaskGroup(of: (Int, Int32, String).self) { group in
            for writer in 0..<Self.processes {
                group.addTask {
                    var environment = ProcessInfo.processInfo.environment
                    environment[Variable.log] = path
                    environment[Variable.index] = String(writer)
                    let (status, output) = try await runToCompletion(
                        executable, ["--testing-library", "swift-testing", "--filter", "writerProcess"],
                        environment: environment)
                    return (writer, status, output)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for (writer, status, output) in statuses {
            #expect(status == 0, "writer \(writer) failed:\n\(output.suffix(2000))")
        }

        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil, "\(verification.problem?.description ?? "")")
        #expect(verification.recordCount == Self.processes * Self.recordsPerProcess)
        #expect(verification.lastSequence == UInt64(Self.processes * Self.recordsPerProcess))

        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.map(\.sequence) == Array(1...UInt64(records.count)))
        // Every writer's records are all there, once each, in its own order, from one process.
        let byWriter = Dictionary(grouping: records, by: { $0.details?["writer"] ?? "?" })
        #expect(byWriter.count == Self.processes)
        for (_, own) in byWriter {
            #expect(own.map { $0.details?["index"] } == (0..<Self.recordsPerProcess).map { String($0) })
            #expect(Set(own.map(\.pid)).count == 1)
        }
        #expect(Set(records.map(\.pid)).count == Self.processes)
        #expect(!Set(records.map(\.pid)).contains(getpid()))
        // The appends really overlapped: the writer changes from one line to the next many times.
        let switches = zip(records, records.dropFirst()).filter { $0.pid != $1.pid }.count
        #expect(switches >= Self.processes, "writers ran one after another (\(switches) switches)")
    }

    /// The writer: runs only inside a process started by the test above.
    @Test(.enabled(if: writerLog != nil, "runs only as a writer process spawned by eightProcessesAppend…"))
    func writerProcess() throws {
        let path = try #require(Self.writerLog)
        let writer = try #require(ProcessInfo.processInfo.environment[Variable.index].flatMap { Int($0) })
        let barrier = path + ".barrier"
        mkdir(barrier, 0o700)
        let log = try AuditLog(path: path)
        // Ready, then wait (bounded) until every writer is ready.
        close(open("\(barrier)/ready-\(writer)", O_CREAT | O_WRONLY | O_CLOEXEC, 0o600))
        var waited = 0
        while (0..<Self.processes).contains(where: { access("\(barrier)/ready-\($0)", F_OK) != 0 }) {
            try #require(waited < 60_000, "the other writers never started")
            usleep(1_000)
            waited += 1
        }
        for index in 0..<Self.recordsPerProcess {
            try log.append(
                AuditEvent(
                    mode: .guard, action: .fileWrite, target: "/tmp/w\(writer)/\(index)", decision: .allow,
                    rule: "allowed_paths[0]", reason: "Inside the workspace.", approver: "policy",
                    details: ["writer": String(writer), "index": String(index)]))
            sched_yield()
        }
    }
}

/// Runs a program on a thread of its own (never blocking the cooperative pool) and returns its
/// exit status and combined output.
private func runToCompletion(
    _ executable: String, _ arguments: [String], environment: [String: String]
) async throws -> (Int32, String) {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(
                with: Result {
                    let process = SpawnedProcess()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = arguments
                    process.environment = environment
                    let output = Pipe()
                    process.standardOutput = output
                    process.standardError = output
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    let data = output.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
                })
        }.start()
    }
}
