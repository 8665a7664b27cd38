import Foundation
import SentinelAudit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several real processes append to one log at once.
///
/// Each writer is an exit test: Swift Testing spawns a fresh copy of the test executable (not a
/// fork of this one) that runs only the closure. A file barrier makes the writers start together,
/// and each yields the CPU after every record, so their appends really interleave.
@Suite("AuditLog across processes", .serialized)
struct AuditMultiProcessTests {
    static let processes = 8
    static let recordsPerProcess = 1_000

    @Test func eightProcessesAppendAThousandRecordsEach() async throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let barrier = directory.file("barrier")
        #expect(mkdir(barrier, 0o700) == 0)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<Self.processes {
                group.addTask {
                    await #expect(processExitsWith: .success) {
                        [path = path as String, barrier = barrier as String, writer = writer as Int] in
                        let log = try AuditLog(path: path)
                        // Say we are ready, then wait for the starting signal.
                        close(open("\(barrier)/ready-\(writer)", O_CREAT | O_WRONLY, 0o600))
                        while access("\(barrier)/go", F_OK) != 0 { usleep(1_000) }
                        for index in 0..<AuditMultiProcessTests.recordsPerProcess {
                            try log.append(
                                AuditEvent(
                                    mode: .guard, action: .fileWrite, target: "/tmp/w\(writer)/\(index)",
                                    decision: .allow, rule: "allowed_paths[0]", reason: "Inside the workspace.",
                                    approver: "policy", details: ["writer": String(writer), "index": String(index)]))
                            sched_yield()
                        }
                    }
                }
            }
            group.addTask {
                // Release the writers once all have opened the log (bounded so a writer that failed
                // to start fails the test instead of hanging it).
                var waited = 0
                while (0..<Self.processes).contains(where: { access("\(barrier)/ready-\($0)", F_OK) != 0 }) {
                    try #require(waited < 300_000, "the writer processes did not all start")
                    usleep(1_000)
                    waited += 1
                }
                close(open("\(barrier)/go", O_CREAT | O_WRONLY, 0o600))
            }
            try await group.waitForAll()
        }

        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil, "\(verification.problem?.description ?? "")")
        #expect(verification.recordCount == Self.processes * Self.recordsPerProcess)
        #expect(verification.lastSequence == UInt64(Self.processes * Self.recordsPerProcess))

        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.map(\.sequence) == Array(1...UInt64(records.count)))
        // Every writer's records are all there, once each, in its own order.
        let byWriter = Dictionary(grouping: records, by: { $0.details?["writer"] ?? "?" })
        #expect(byWriter.count == Self.processes)
        for (_, own) in byWriter {
            #expect(own.map { $0.details?["index"] } == (0..<Self.recordsPerProcess).map { String($0) })
            #expect(Set(own.map(\.pid)).count == 1)
        }
        #expect(Set(records.map(\.pid)).count == Self.processes)
        // The appends really overlapped: the writer changes from one line to the next many times.
        let switches = zip(records, records.dropFirst()).filter { $0.pid != $1.pid }.count
        #expect(switches >= Self.processes, "writers ran one after another (\(switches) switches)")
    }
}
