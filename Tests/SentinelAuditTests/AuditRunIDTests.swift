// The run id: what it accepts, how a writer stamps it on every record, and that logs written
// before it existed (and logs mixing both) still read and verify.

import Foundation
@testable import SentinelAudit
import Testing

@Suite("Run ids on audit records")
struct AuditRunIDTests {
    @Test("an id is 1 to 64 of 0-9, a-f and -", arguments: [
        ("7f3a09c2e41b5d68", true), ("0", true), ("123e4567-e89b-12d3-a456-426614174000", true),
        (String(repeating: "a", count: 64), true), (String(repeating: "a", count: 65), false), ("", false),
        ("7F3A", false), ("run 1", false), ("abc\n", false), ("abc\"}", false), ("../etc", false), ("abcg", false),
    ])
    func validation(text: String, valid: Bool) {
        #expect(((try? AuditRunID(validating: text)) != nil) == valid, "\(text.debugDescription)")
    }

    @Test("a refused id says what an id is, and shows the value escaped")
    func refusal() throws {
        let error = try #require(throws: AuditError.self) { try AuditRunID(validating: "x\u{1b}[2J") }
        #expect(error.code == .runID)
        #expect(error.message.contains("is not a run id: a run id is 1 to 64 characters of 0-9, a-f and '-'"))
        #expect(!error.message.contains("\u{1b}"))
    }

    @Test("a new id is 16 lowercase hex digits, and two differ")
    func random() throws {
        let a = AuditRunID.random()
        let b = AuditRunID.random()
        #expect(a.rawValue.count == 16)
        #expect(try AuditRunID(validating: a.rawValue) == a)
        #expect(a != b)
    }

    @Test("SENTINEL_RUN_ID: unset makes one, a valid value is taken, a bad or empty one is an error", arguments: [
        (nil, "made"), ("c0ffee", "taken"), ("", "error"), ("NOT-HEX", "error"),
    ] as [(String?, String)])
    func environment(value: String?, outcome: String) throws {
        let environment = value.map { [AuditRunID.environmentVariable: $0] } ?? [:]
        switch outcome {
        case "made":
            let resolved = try AuditRunID.resolve(environment)
            #expect(!resolved.inherited)
        case "taken":
            let resolved = try AuditRunID.resolve(environment)
            #expect(resolved.inherited && resolved.id.rawValue == value)
        default:
            let error = try #require(throws: AuditError.self) { try AuditRunID.resolve(environment) }
            #expect(error.message.hasPrefix("SENTINEL_RUN_ID=\"\(value ?? "")\" is not a run id"), "\(error.message)")
            #expect(error.message.contains("Unset it to let Sentinel make one"))
        }
    }

    @Test("a writer with a run id stamps it after pid on every record, integrity records included; the log verifies")
    func stamped() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("audit.log")
        let run = try AuditRunID(validating: "0123456789abcdef")
        let log = try AuditLog(path: path, options: .init(runID: run))
        let written = try log.append(sampleEvent(1))
        #expect(written.run == run.rawValue)
        try log.append(contentsOf: [sampleEvent(2), sampleEvent(3)])
        log.close()
        let lines = try readLines(path).map { String(decoding: $0, as: UTF8.self) }
        #expect(lines.count == 3)
        for line in lines {
            #expect(line.wholeMatch(of: /\{"schema":1,"seq":\d,"time":"[^"]+","pid":\d+,"run":"0123456789abcdef","mode":"guard",.*/) != nil, "\(line)")
        }
        #expect(try AuditVerifier().verify(path: path).isIntact)
        // The exact line round-trips: decoding and encoding again gives the bytes the chain hashed.
        let decoded = try AuditRecord(jsonLine: Array(lines[0].utf8))
        #expect(decoded.run == run.rawValue)
        #expect(decoded.jsonLine() == Array(lines[0].utf8))

        // A writer that finds the anchor gone records that first, under its run too.
        try FileManager.default.removeItem(atPath: AuditAnchor.path(forLog: path))
        let later = try AuditLog(path: path, options: .init(runID: try AuditRunID(validating: "fedcba")))
        try later.append(sampleEvent(4))
        later.close()
        let tail = try readLines(path).suffix(2).map { try AuditRecord(jsonLine: $0) }
        #expect(tail.map(\.action) == [.auditIntegrity, .exec])
        #expect(tail.map(\.run) == ["fedcba", "fedcba"])
    }

    @Test("a log written before run ids, then extended by writers with and without one, reads and verifies")
    func mixed() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("audit.log")
        let old = try AuditLog(path: path)
        try old.append(sampleEvent(1))
        old.close()
        let first = try AuditLog(path: path, options: .init(runID: try AuditRunID(validating: "aaaa")))
        try first.append(sampleEvent(2))
        first.close()
        let second = try AuditLog(path: path, options: .init(runID: try AuditRunID(validating: "bbbb")))
        try second.append(sampleEvent(3))
        second.close()
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.map(\.run) == [nil, "aaaa", "bbbb"])
        #expect(!String(decoding: try readLines(path)[0], as: UTF8.self).contains("\"run\""))
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.isIntact, "\(String(describing: verification.problem))")
        #expect(verification.recordCount == 3)
    }

    @Test("editing a record's run breaks the chain like any other edit")
    func editedRunIsCaught() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.file("audit.log")
        let log = try AuditLog(path: path, options: .init(runID: try AuditRunID(validating: "aaaa")))
        try log.append(contentsOf: [sampleEvent(1), sampleEvent(2), sampleEvent(3)])
        log.close()
        var lines = try readLines(path)
        lines[1] = Array(String(decoding: lines[1], as: UTF8.self).replacingOccurrences(of: "\"run\":\"aaaa\"", with: "\"run\":\"bbbb\"").utf8)
        try writeLines(path, lines)
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem?.kind == .chainBroken)
        #expect(verification.problem?.line == 2)
    }
}
