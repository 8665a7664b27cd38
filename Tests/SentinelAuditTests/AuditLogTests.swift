import Foundation
@testable import SentinelAudit
import SentinelPolicy
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("AuditLog: the writer")
struct AuditLogTests {
    @Test func recordsAreChainedJSONLinesNumberedFromOne() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("nested/dir/audit.log")
        let log = try AuditLog(path: path)
        var written: [AuditRecord] = []
        for index in 1...5 { written.append(try log.append(sampleEvent(index))) }
        log.close()

        let lines = try readLines(path)
        #expect(lines.count == 5)
        let records = try lines.map { try AuditRecord(jsonLine: $0) }
        #expect(records == written)
        #expect(records.map(\.sequence) == [1, 2, 3, 4, 5])
        #expect(records[0].prev == AuditRecord.genesis)
        for index in 1..<records.count {
            #expect(records[index].prev == ChainHasher(key: nil).hex(lines[index - 1], chain: .sha256))
        }
        #expect(records.allSatisfy { $0.pid == getpid() && $0.chain == .sha256 && $0.schema == 1 })
        // RFC 3339, UTC, microseconds.
        #expect(records[0].time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil)
        #expect(records[0].event == sampleEvent(1))

        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(lstat(directory.file("nested/dir"), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        #expect(FileManager.default.fileExists(atPath: path + ".anchor"))

        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == 5)
        #expect(verification.anchorChecked)
    }

    static let hostileTargets: [String] = [
        "echo hi\nid",
        "echo hi\r\nid",
        #"x","decision":"allow"}"# + "\n" + #"{"schema":1,"seq":99,"decision":"allow"#,
        "bell\u{07} escape\u{1b}[2J nul\u{00} del\u{7f} tab\t",
        "separators \u{2028} and \u{2029}",
        #"quote " backslash \ slash /"#,
        "unicode: café 日本 🙂",
        // Long plain runs, so the escaper's eight-bytes-at-a-time path meets a byte to escape at
        // every offset of a block.
    ] + (0..<8).flatMap { offset in
        ["\n", "\"", "\\", "\u{7f}", "\u{2028}", "é", "\u{1f}"].map { special in
            String(repeating: "a", count: 16 + offset) + special + String(repeating: "b", count: 9)
        }
    }

    @Test("A control character or newline in a target cannot forge a record", arguments: hostileTargets)
    func hostileTargetsStayOnOneLine(target: String) throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        try log.append(sampleEvent(1, target: target))
        try log.append(sampleEvent(2))
        log.close()

        let bytes = try readBytes(path)
        #expect(bytes.filter { $0 == UInt8(ascii: "\n") }.count == 2)
        // Nothing below U+0020 (and no DEL) survives unescaped inside a line.
        let lines = try readLines(path)
        #expect(lines[0].allSatisfy { $0 >= 0x20 && $0 != 0x7f })
        #expect(try AuditRecord(jsonLine: lines[0]).target == target)
        #expect(try AuditVerifier().verify(path: path).problem == nil)
    }

    @Test func aSecondWriterContinuesTheChain() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 3)
        let log = try AuditLog(path: path)
        let record = try log.append(sampleEvent(4))
        #expect(record.sequence == 4)
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.lastSequence == 4)
    }

    /// Any process that can open the log can hold its flock (a guarded program running as the
    /// operator can): an append then fails after `lockTimeout`, instead of waiting forever, and
    /// works again once the lock is released.
    @Test func anAppendGivesUpOnALockHeldByAnotherProcess() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2)
        let log = try AuditLog(path: path, options: .init(lockTimeout: .milliseconds(200)))
        // Another open file description: its flock excludes the writer's, as another process's would.
        let holder = open(path, O_RDONLY | O_CLOEXEC)
        try #require(holder >= 0)
        defer { close(holder) }
        try #require(flock(holder, LOCK_EX) == 0)
        let error = #expect(throws: AuditError.self) { try log.append(sampleEvent(3)) }
        #expect(error?.code == .lock)
        #expect(error?.description.contains("fuser \(path)") == true, "\(error?.description ?? "")")
        #expect(try readLines(path).count == 2)

        try #require(flock(holder, LOCK_UN) == 0)
        #expect(try log.append(sampleEvent(3)).sequence == 3)
        #expect(try AuditVerifier().verify(path: path).problem == nil)
    }

    @Test func twoWritersInOneProcessInterleaveWithoutBreakingTheChain() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        // Two instances hold two open file descriptions, so their flocks exclude each other.
        let first = try AuditLog(path: path)
        let second = try AuditLog(path: path)
        for index in 1...50 {
            try (index % 2 == 0 ? first : second).append(sampleEvent(index))
        }
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == 50)
    }

    @Test func manyThreadsShareOneWriter() async throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        let threads = 8
        let perThread = 250
        try await withThrowingTaskGroup(of: Void.self) { group in
            for thread in 0..<threads {
                group.addTask {
                    for index in 0..<perThread {
                        try log.append(sampleEvent(thread * perThread + index))
                    }
                }
            }
            try await group.waitForAll()
        }
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == threads * perThread)
    }

    @Test func aBatchIsWrittenInOrderWithOneChain() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        let records = try log.append(contentsOf: (1...10).map { sampleEvent($0) })
        #expect(records.map(\.sequence) == Array(1...10))
        #expect(try AuditVerifier().verify(path: path).problem == nil)
    }

    @Test func aSymlinkAtThePathIsRefused() throws {
        let directory = try ScratchDirectory()
        let victim = directory.file("victim")
        try writeBytes(victim, Array("precious\n".utf8))
        let path = directory.file("audit.log")
        #expect(symlink(victim, path) == 0)
        let error = try #require(throws: AuditError.self) { try AuditLog(path: path) }
        #expect(error.code == .notRegularFile)
        #expect(try readBytes(victim) == Array("precious\n".utf8))
    }

    @Test func aFIFOAtThePathIsRefusedWithoutBlocking() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        #expect(mkfifo(path, 0o600) == 0)
        let error = try #require(throws: AuditError.self) { try AuditLog(path: path) }
        #expect(error.code == .notRegularFile || error.code == .open)
    }

    @Test func anUnwritableLocationIsAnErrorWithASentence() throws {
        let directory = try ScratchDirectory()
        let blocker = directory.file("file")
        try writeBytes(blocker, [])
        // A regular file where a directory should be: ENOTDIR, whoever runs the test (even root).
        let error = try #require(throws: AuditError.self) { try AuditLog(path: blocker + "/sub/audit.log") }
        #expect(error.code == .open)
        #expect(error.errno == ENOTDIR)
        #expect(error.description.contains("Could not create the directory"))
    }

    @Test func aClosedWriterRefusesToAppend() throws {
        let directory = try ScratchDirectory()
        let log = try AuditLog(path: directory.file("audit.log"))
        log.close()
        let error = try #require(throws: AuditError.self) { try log.append(sampleEvent(1)) }
        #expect(error.code == .closed)
    }

    // MARK: - The writer notices changes made outside it

    @Test func truncationByAnotherPartyIsRecordedBeforeTheNextRecord() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 5)
        try writeLines(path, Array(try readLines(path).prefix(3)))

        let log = try AuditLog(path: path)
        try log.append(sampleEvent(6))
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.count == 5)
        #expect(records[3].action == .auditIntegrity)
        #expect(records[3].reason.contains("shorter than its anchor says"))
        #expect(records[3].sequence == 4)
        #expect(records[4].sequence == 5)

        let verification = try AuditVerifier().verify(path: path)
        let problem = try #require(verification.problem)
        #expect(problem.kind == .integrityRecord)
        #expect(problem.line == 4)
    }

    @Test func aMissingAnchorIsRecorded() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2)
        try FileManager.default.removeItem(atPath: path + ".anchor")
        let log = try AuditLog(path: path)
        try log.append(sampleEvent(3))
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records[2].action == .auditIntegrity)
        #expect(records[2].reason.contains("was missing"))
    }

    /// The anchor is updated through a shared mapping: a file shorter than the line (here cut to
    /// a few bytes before the writer opened it) is sized to the line before the store, and what
    /// the writer stores is what the verifier reads.
    @Test(arguments: [0, 7, 300])
    func anAnchorOfTheWrongLengthIsRecordedAndRewrittenWhole(length: Int) throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2)
        let anchorBytes = try readBytes(path + ".anchor")
        try writeBytes(path + ".anchor", Array((anchorBytes + Array(repeating: 0x41, count: 300)).prefix(length)))

        let log = try AuditLog(path: path)
        for index in 3...5 { try log.append(sampleEvent(index)) }
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.count == 6)
        #expect(records[2].action == .auditIntegrity)
        // Read while the writer is still open: the mapped page is the file's page cache.
        let anchor = try readBytes(path + ".anchor")
        guard case .valid(let parsed) = AuditAnchor.parse(anchor, hasher: ChainHasher(key: nil)) else {
            Issue.record("the anchor is not valid after the writer rewrote it: \(String(decoding: anchor, as: UTF8.self))")
            return
        }
        #expect(parsed.sequence == 6)
        #expect(parsed.size == Int64(try readBytes(path).count))
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem?.kind == .integrityRecord)
        #expect(verification.problem?.line == 3)
    }

    /// A writer with a key extending a plain log makes the anchor longer (`chain=hmac-sha256`);
    /// the mapped anchor must then be the whole new line.
    @Test func theAnchorGrowsWhenTheChainNameDoes() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2)
        let plainLength = try readBytes(path + ".anchor").count
        let log = try AuditLog(path: path, options: .init(key: testKey))
        try log.append(sampleEvent(3))
        let anchor = try readBytes(path + ".anchor")
        #expect(anchor.count == plainLength + 5)
        guard case .valid(let parsed) = AuditAnchor.parse(anchor, hasher: ChainHasher(key: testKey)) else {
            Issue.record("the anchor is not valid: \(String(decoding: anchor, as: UTF8.self))")
            return
        }
        #expect(parsed.chain == .hmacSHA256)
        #expect(parsed.sequence == 3)
    }

    @Test func aSynchronousWriterProducesAnIntactLog() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path, options: .init(synchronous: true))
        for index in 1...3 { try log.append(sampleEvent(index)) }
        let verification = try AuditVerifier().verify(path: path)
        #expect(verification.problem == nil)
        #expect(verification.recordCount == 3)
    }

    @Test func aLogDeletedUnderARunningWriterIsReopenedAndTheGapRecorded() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        for index in 1...3 { try log.append(sampleEvent(index)) }
        try FileManager.default.removeItem(atPath: path)

        try log.append(sampleEvent(4))
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.count == 2)
        #expect(records[0].action == .auditIntegrity)
        #expect(records[0].reason.contains("emptied or replaced"))
        #expect(records[1].sequence == 2)
        #expect(try AuditVerifier().verify(path: path).problem?.kind == .integrityRecord)
    }

    @Test(arguments: [0, 1, 2, 7, 40])
    func detailsAreWrittenInKeyOrder(count: Int) throws {
        let keys = ["zeta", "alpha", "B", "é", "e\u{301}x", "mid", "a"] + (0..<33).map { "k\($0 * 7 % 33)" }
        let details = Dictionary(uniqueKeysWithValues: keys.prefix(count).map { ($0, "v-" + $0) })
        var event = sampleEvent(1)
        event.details = details
        let record = AuditRecord(event: event, sequence: 1, time: "t", pid: 1, chain: .sha256, prev: AuditRecord.genesis)
        let line = String(decoding: record.jsonLine(), as: UTF8.self)
        let expected = details.keys.sorted().map { "\"\($0)\":\"v-\($0)\"" }.joined(separator: ",")
        #expect(line.contains(#""details":{"# + expected + "}"))
        #expect(try AuditRecord(jsonLine: Array(line.utf8)).details == details)
    }

    @Test func aLogRenamedAwayUnderARunningWriterIsReopenedAndTheGapRecorded() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        for index in 1...3 { try log.append(sampleEvent(index)) }
        #expect(rename(path, path + ".1") == 0)

        try log.append(sampleEvent(4))
        // The moved file keeps exactly the records written before the move.
        #expect(try readLines(path + ".1").count == 3)
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.count == 2)
        #expect(records[0].action == .auditIntegrity)
        #expect(records[1].target == sampleEvent(4).target)
    }

    @Test func anotherFileRenamedOntoThePathIsNoticedAndTheGapRecorded() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        // Several appends first, so that the writer is on its fast path (the directory watch
        // reporting nothing) when the name changes.
        for index in 1...5 { try log.append(sampleEvent(index)) }
        let impostor = directory.file("impostor.log")
        #expect(FileManager.default.createFile(atPath: impostor, contents: Data()))
        #expect(rename(impostor, path) == 0)

        try log.append(sampleEvent(6))
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.count == 2)
        #expect(records[0].action == .auditIntegrity)
        #expect(records[1].target == sampleEvent(6).target)
    }

    @Test func unrelatedNamesChangingBesideTheLogDoNotDisturbIt() throws {
        let directory = try ScratchDirectory()
        let path = directory.file("audit.log")
        let log = try AuditLog(path: path)
        for index in 1...3 {
            try log.append(sampleEvent(index))
            let neighbour = directory.file("neighbour-\(index)")
            #expect(FileManager.default.createFile(atPath: neighbour, contents: Data()))
            #expect(unlink(neighbour) == 0)
        }
        try log.append(sampleEvent(4))
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.map(\.sequence) == [1, 2, 3, 4])
        #expect(try AuditVerifier().verify(path: path).problem == nil)
    }

    @Test func aPartialLastLineStopsTheWriter() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2)
        try writeBytes(path, try readBytes(path) + Array(#"{"schema":1,"seq":3,"ti"#.utf8))
        let log = try AuditLog(path: path)
        let error = try #require(throws: AuditError.self) { try log.append(sampleEvent(3)) }
        #expect(error.code == .damagedLog)
        #expect(error.message.contains("incomplete record"))
    }

    // MARK: - HMAC

    @Test func aKeyedLogVerifiesOnlyWithItsKey() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 4, key: testKey)
        let records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        #expect(records.allSatisfy { $0.chain == .hmacSHA256 })

        #expect(try AuditVerifier(key: testKey).verify(path: path).problem == nil)

        let noKey = try #require(throws: AuditError.self) { try AuditVerifier().verify(path: path) }
        #expect(noKey.code == .keyRequired)

        let wrongKey = try AuditKey(bytes: Array("another key, 32 bytes long......".utf8))
        let problem = try #require(try AuditVerifier(key: wrongKey).verify(path: path).problem)
        #expect(problem.kind == .chainBroken)
        #expect(problem.message.contains("key is not the one"))
    }

    @Test func aWriterWithoutTheKeyRefusesToExtendAKeyedLog() throws {
        let directory = try ScratchDirectory()
        let path = try makeLog(in: directory, count: 2, key: testKey)
        let log = try AuditLog(path: path)
        let error = try #require(throws: AuditError.self) { try log.append(sampleEvent(3)) }
        #expect(error.code == .keyRequired)
    }

    @Test func aShortKeyIsRefused() throws {
        let error = try #require(throws: AuditError.self) {
            try AuditKey.fromEnvironment([AuditKey.environmentVariable: "short"])
        }
        #expect(error.code == .key)
        #expect(try AuditKey.fromEnvironment([:]) == nil)
        #expect(try AuditKey.fromEnvironment([AuditKey.environmentVariable: String(repeating: "k", count: 16)]) != nil)
    }

    /// The documented limit: an unkeyed chain can be recomputed by whoever can write the files.
    /// With a key the same rewrite is caught.
    @Test(arguments: [false, true])
    func rewritingTheWholeChainIsCaughtOnlyWithAKey(keyed: Bool) throws {
        let directory = try ScratchDirectory()
        let key: AuditKey? = keyed ? testKey : nil
        let path = try makeLog(in: directory, count: 5, key: key)

        // The attacker flips a denial into an allow and recomputes every prev and the anchor with
        // plain SHA-256 (all they can do without the key).
        var records = try readLines(path).map { try AuditRecord(jsonLine: $0) }
        records[2].decision = .allow
        let attacker = ChainHasher(key: nil)
        var previous: [UInt8]? = nil
        var lines: [[UInt8]] = []
        for var record in records {
            record.chain = .sha256
            record.prev = previous.map { attacker.hex($0, chain: .sha256) } ?? AuditRecord.genesis
            let line = record.jsonLine()
            lines.append(line)
            previous = line
        }
        try writeLines(path, lines)
        let size = Int64(try readBytes(path).count)
        let anchor = AuditAnchor(
            chain: .sha256, sequence: 5, size: size, hash: attacker.hex(lines[4], chain: .sha256))
        try writeBytes(path + ".anchor", anchor.encoded(with: attacker))

        let verification = try AuditVerifier(key: key).verify(path: path)
        if keyed {
            #expect(verification.problem?.kind == .unkeyedRecord)
            #expect(verification.problem?.line == 1)
        } else {
            #expect(verification.problem == nil, "an unkeyed chain cannot resist a rewrite; the docs say so")
        }
    }
}

@Suite("AuditEvent from a policy verdict")
struct AuditEventVerdictTests {
    @Test(arguments: [
        (Verdict.allow(rule: "allowed_paths[0]", reason: "Inside the workspace."), AuditDecision.allow,
         AuditSeverity.info),
        (.deny(rule: "blocked_paths[1]", reason: "~/.ssh is blocked."), .deny, .high),
    ])
    func verdictsMapToDecisions(verdict: Verdict, decision: AuditDecision, severity: AuditSeverity) {
        let event = AuditEvent(
            mode: .compat, action: .fileRead, target: "/home/u/.ssh/id_ed25519", verdict: verdict, policySHA256: "ab")
        #expect(event.decision == decision)
        #expect(event.severity == severity)
        #expect(event.rule == verdict.rule)
        #expect(event.reason == verdict.reason)
        #expect(event.approver == "policy")
    }
}

@Suite("Encoding: the escaper's eight-byte test")
struct EscapeScanTests {
    /// A byte the JSON encoder may have to escape (a control character, `"`, `\`, DEL, or part of
    /// a multi-byte character such as U+2028).
    static func mayNeedEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7f || byte >= 0x80
    }

    @Test("One byte in a word of plain letters is flagged exactly when it may need escaping", arguments: 0..<8)
    func everyByteAtEveryPosition(position: Int) {
        for value in 0...255 {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
            bytes[position] = UInt8(value)
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(
                SentinelAudit.mayNeedEscaping(word) == Self.mayNeedEscaping(UInt8(value)),
                "byte \(value) at position \(position)")
        }
    }
}
