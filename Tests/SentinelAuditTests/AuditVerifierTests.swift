import Foundation
@testable import SentinelAudit
import Testing

/// One way of tampering with a 10-record log, and what the verifier must say about it.
struct Tampering: Sendable, CustomTestStringConvertible {
    let name: String
    let expected: AuditProblem.Kind?
    let expectedLine: Int?
    let apply: @Sendable (_ logPath: String) throws -> Void

    var testDescription: String { name }
}

/// Rewrites one record's JSON (keeping its chain fields) and puts it back on its line.
private func editRecord(_ path: String, line: Int, _ change: (inout AuditRecord) -> Void) throws {
    var lines = try readLines(path)
    var record = try AuditRecord(jsonLine: lines[line - 1])
    change(&record)
    lines[line - 1] = record.jsonLine()
    try writeLines(path, lines)
}

private let tamperings: [Tampering] = [
    Tampering(name: "intact", expected: nil, expectedLine: nil) { _ in },
    Tampering(name: "a middle record edited (deny → allow)", expected: .chainBroken, expectedLine: 3) {
        try editRecord($0, line: 3) { $0.decision = .allow }
    },
    Tampering(name: "the first record edited", expected: .chainBroken, expectedLine: 1) {
        try editRecord($0, line: 1) { $0.target = "/bin/true" }
    },
    Tampering(name: "the last record edited", expected: .lastRecordChanged, expectedLine: 10) {
        try editRecord($0, line: 10) { $0.reason = "Nothing to see." }
    },
    Tampering(name: "a byte flipped by hand (still valid JSON)", expected: .chainBroken, expectedLine: 6) { path in
        var lines = try readLines(path)
        let text = String(decoding: lines[5], as: UTF8.self).replacingOccurrences(of: "uid", with: "gid")
        lines[5] = Array(text.utf8)
        try writeLines(path, lines)
    },
    Tampering(name: "a record edited into invalid JSON", expected: .malformedRecord, expectedLine: 7) { path in
        var lines = try readLines(path)
        lines[6].removeLast()
        try writeLines(path, lines)
    },
    Tampering(name: "a middle record deleted", expected: .sequence, expectedLine: 4) { path in
        var lines = try readLines(path)
        lines.remove(at: 3)
        try writeLines(path, lines)
    },
    Tampering(name: "the first record deleted", expected: .sequence, expectedLine: 1) { path in
        try writeLines(path, Array(try readLines(path).dropFirst()))
    },
    Tampering(name: "two records swapped", expected: .sequence, expectedLine: 5) { path in
        var lines = try readLines(path)
        lines.swapAt(4, 5)
        try writeLines(path, lines)
    },
    Tampering(name: "a record duplicated", expected: .sequence, expectedLine: 4) { path in
        var lines = try readLines(path)
        lines.insert(lines[2], at: 3)
        try writeLines(path, lines)
    },
    Tampering(name: "a forged record inserted, later records renumbered", expected: .chainBroken, expectedLine: 4) {
        path in
        var lines = try readLines(path)
        var records = try lines.map { try AuditRecord(jsonLine: $0) }
        var forged = records[2]
        forged.sequence = 4
        forged.target = "/usr/bin/innocent"
        forged.prev = ChainHasher(key: nil).hex(lines[2], chain: .sha256)
        for index in 3..<records.count { records[index].sequence += 1 }
        records.insert(forged, at: 3)
        lines = records.map { $0.jsonLine() }
        try writeLines(path, lines)
    },
    Tampering(name: "a garbage line inserted", expected: .malformedRecord, expectedLine: 5) { path in
        var lines = try readLines(path)
        lines.insert(Array("INFO - [ALLOWED] EXEC_COMMAND: id".utf8), at: 4)
        try writeLines(path, lines)
    },
    Tampering(name: "the last two records cut off", expected: .missingTrailingRecords, expectedLine: 9) { path in
        try writeLines(path, Array(try readLines(path).prefix(8)))
    },
    Tampering(name: "every record cut off", expected: .missingTrailingRecords, expectedLine: 1) { path in
        try writeBytes(path, [])
    },
    Tampering(name: "the last line cut in the middle", expected: .partialLastLine, expectedLine: 10) { path in
        let bytes = try readBytes(path)
        try writeBytes(path, Array(bytes.dropLast(40)))
    },
    Tampering(name: "a valid-looking record appended by hand", expected: .unanchoredRecords, expectedLine: 11) {
        path in
        let lines = try readLines(path)
        let last = try AuditRecord(jsonLine: lines[9])
        var extra = last
        extra.sequence = 11
        extra.prev = ChainHasher(key: nil).hex(lines[9], chain: .sha256)
        try writeLines(path, lines + [extra.jsonLine()])
    },
    Tampering(name: "the anchor deleted", expected: .anchorMissing, expectedLine: 10) { path in
        try FileManager.default.removeItem(atPath: path + ".anchor")
    },
    Tampering(name: "the anchor's sequence edited", expected: .anchorInvalid, expectedLine: 10) { path in
        let text = String(decoding: try readBytes(path + ".anchor"), as: UTF8.self)
        try writeBytes(path + ".anchor", Array(text.replacingOccurrences(of: "seq=0000", with: "seq=0001").utf8))
    },
]

@Suite("AuditVerifier: each kind of tampering is caught and the first broken record named")
struct AuditVerifierTests {
    @Test(arguments: tamperings)
    func tampering(_ tampering: Tampering) throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 10)
        try tampering.apply(path)

        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem?.kind == tampering.expected, "\(verification.problem?.description ?? "intact")")
        #expect(verification.problem?.line == tampering.expectedLine)
        if tampering.expected == nil {
            #expect(verification.recordCount == 10)
            #expect(verification.anchorChecked)
        }
    }

    @Test func withoutAnAnchorTheChainAloneIsChecked() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 4)
        try FileManager.default.removeItem(atPath: path + ".anchor")
        let verification = try AuditVerifier(requireAnchor: false).verify(path: path)
        #expect(verification.problem == nil)
        #expect(!verification.anchorChecked)
    }

    @Test func anEmptyNewLogIsIntact() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        _ = try AuditLog(path: path)
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == 0)
    }

    @Test func aMissingLogIsAnError() throws {
        let directory = try ScratchDirectory()
        let error = try #require(throws: AuditError.self) {
            try AuditVerifier().verify(path: directory.file("absent.log"))
        }
        #expect(error.code == .open)
        #expect(error.message.contains("There is no audit log"))
    }

    @Test func aLogWrittenInLargeRecordsIsReadAcrossChunkBoundaries() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        // Records of ~300 KiB so lines straddle the verifier's 1 MiB read chunks.
        for index in 1...8 {
            try log.append(sampleEvent(index, target: String(repeating: "x", count: 300_000 + index)))
        }
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == 8)
    }
}
