// The verifier: walks a log, checks the sequence and the chain line by line, then compares the
// end of the log with its anchor, and names the first thing that is wrong.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The first thing found wrong with a log.
public struct AuditProblem: Hashable, Sendable, CustomStringConvertible {
    /// What kind of damage.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// A line is not a valid record (edited into invalid JSON, a field removed, a bad value).
        case malformedRecord = "malformed_record"
        /// A record has a schema this build does not know.
        case unsupportedSchema = "unsupported_schema"
        /// A record's sequence number is not the previous one plus one: a record was deleted,
        /// inserted or moved.
        case sequence
        /// A record's `prev` is not the hash of the line before it: a record was edited (or a
        /// forged one inserted).
        case chainBroken = "chain_broken"
        /// A key was given but a record is chained with plain SHA-256, which anyone can recompute.
        case unkeyedRecord = "unkeyed_record"
        /// The file ends in the middle of a line.
        case partialLastLine = "partial_last_line"
        /// The anchor names records that are no longer in the log: trailing records were removed.
        case missingTrailingRecords = "missing_trailing_records"
        /// The log holds records after the one the anchor names: something other than a writer
        /// appended them.
        case unanchoredRecords = "unanchored_records"
        /// The last record is not the one the anchor names: it was edited.
        case lastRecordChanged = "last_record_changed"
        /// The anchor file is missing although the log holds records.
        case anchorMissing = "anchor_missing"
        /// The anchor file is unreadable or its check value is wrong.
        case anchorInvalid = "anchor_invalid"
        /// A writer found the log changed outside it and recorded that (an `audit_integrity` record).
        case integrityRecord = "integrity_record"
    }

    /// What kind of damage.
    public var kind: Kind
    /// The 1-based line of the first broken record (for a removed tail: the line where the
    /// missing records would start).
    public var line: Int
    /// The sequence number concerned, when known.
    public var sequence: UInt64?
    /// A sentence saying what is wrong.
    public var message: String

    /// Creates a problem.
    public init(kind: Kind, line: Int, sequence: UInt64? = nil, message: String) {
        self.kind = kind
        self.line = line
        self.sequence = sequence
        self.message = message
    }

    /// `line N: message`.
    public var description: String { "line \(line): \(message)" }
}

/// The result of verifying a log.
public struct AuditVerification: Hashable, Sendable {
    /// How many complete records were checked (up to and including the first broken one).
    public var recordCount: Int
    /// The sequence number of the last good record (0 if none).
    public var lastSequence: UInt64
    /// Whether the anchor was compared with the end of the log.
    public var anchorChecked: Bool
    /// The first problem, or `nil` for an intact log.
    public var problem: AuditProblem?

    /// Whether the log is intact.
    public var isIntact: Bool { problem == nil }
}

/// Checks an audit log's sequence, hash chain and anchor.
///
/// It detects an edited record (the next record's `prev` no longer matches; the last record's
/// hash no longer matches the anchor), a deleted, inserted or reordered record (the sequence
/// breaks), a partial last line, and trailing records removed (the anchor names a later record).
/// What it cannot detect without a key is a log whose chain *and* anchor were recomputed after
/// an edit; see ``AuditLog`` for the limits.
public struct AuditVerifier: Sendable {
    private let hasher: ChainHasher
    /// Whether a missing anchor file is a problem (the default) or only skips the tail check.
    public var requireAnchor: Bool

    /// Creates a verifier.
    ///
    /// - Parameters:
    ///   - key: the HMAC key the log was written with; when given, every record and the anchor
    ///     must be HMAC-chained with it.
    ///   - requireAnchor: whether a missing anchor is a problem; pass `false` to check a copy of
    ///     a log whose anchor was not kept (trailing deletions then go unnoticed).
    public init(key: AuditKey? = nil, requireAnchor: Bool = true) {
        self.hasher = ChainHasher(key: key)
        self.requireAnchor = requireAnchor
    }

    /// Verifies the log at `path` (and its anchor beside it).
    ///
    /// Takes a shared lock only long enough to read the log's size and the anchor together, then
    /// checks the log up to that size, so writers are not held up while a long log is checked.
    ///
    /// - Returns: the verification, whose `problem` names the first broken record.
    /// - Throws: ``AuditError`` when the log cannot be read, or is HMAC-chained and no key was given.
    public func verify(path: String) throws(AuditError) -> AuditVerification {
        let reader = try AuditReader(path: path)
        let anchorPath = AuditAnchor.path(forLog: path)
        let (size, anchorBytes) = try reader.withSharedLock { () throws(AuditError) -> (Int64, [UInt8]?) in
            (try reader.size(), try readAnchor(anchorPath))
        }
        return try verify(reader: reader, size: size, anchorBytes: anchorBytes, anchorPath: anchorPath)
    }

    private func verify(
        reader: AuditReader, size: Int64, anchorBytes: [UInt8]?, anchorPath: String
    ) throws(AuditError) -> AuditVerification {
        var problem: AuditProblem?
        var previousLine: [UInt8]? = nil
        var lastSequence: UInt64 = 0
        var count = 0

        let (_, fragment) = try reader.forEachLine(from: 0, upTo: size) { (line, number) throws(AuditError) -> Bool in
            if let found = try check(line: line, number: number, previous: previousLine, expected: lastSequence + 1) {
                problem = found
                return false
            }
            count = number
            lastSequence += 1
            previousLine = Array(line)
            return true
        }
        if let problem {
            return AuditVerification(recordCount: count, lastSequence: lastSequence, anchorChecked: false, problem: problem)
        }
        if !fragment.isEmpty {
            return AuditVerification(
                recordCount: count, lastSequence: lastSequence, anchorChecked: false,
                problem: AuditProblem(
                    kind: .partialLastLine, line: count + 1,
                    message:
                        "the file ends in the middle of a record (\(fragment.count) bytes without a newline): the log "
                        + "was cut, or a write was interrupted"))
        }

        let anchorProblem = try checkAnchor(
            anchorBytes, anchorPath: anchorPath, lastLine: previousLine, lastSequence: lastSequence, count: count,
            size: size)
        return AuditVerification(
            recordCount: count, lastSequence: lastSequence,
            anchorChecked: anchorBytes != nil && !(anchorBytes?.isEmpty ?? true), problem: anchorProblem)
    }

    /// Checks one line against its predecessor; returns the problem, if any.
    private func check(
        line: ArraySlice<UInt8>, number: Int, previous: [UInt8]?, expected: UInt64
    ) throws(AuditError) -> AuditProblem? {
        let record: AuditRecord
        do throws(AuditError) {
            record = try AuditRecord(jsonLine: line)
        } catch {
            return AuditProblem(kind: .malformedRecord, line: number, message: lowercasedFirst(error.message))
        }
        guard record.schema == AuditRecord.currentSchema else {
            return AuditProblem(
                kind: .unsupportedSchema, line: number, sequence: record.sequence,
                message: "the record has schema \(record.schema); this build reads schema \(AuditRecord.currentSchema)")
        }
        switch (record.chain, hasher.key) {
        case (.hmacSHA256, nil):
            throw AuditError(
                .keyRequired,
                "The audit log is HMAC-chained (line \(number)); set \(AuditKey.environmentVariable) to its key to "
                    + "verify it.")
        case (.sha256, .some):
            return AuditProblem(
                kind: .unkeyedRecord, line: number, sequence: record.sequence,
                message:
                    "the record is chained with plain SHA-256 although a key was given: anyone who can write the file "
                    + "could have rewritten it")
        default:
            break
        }
        if record.sequence != expected {
            let message =
                if record.sequence > expected {
                    "the record has seq \(record.sequence) where \(expected) was expected: "
                        + (record.sequence == expected + 1
                            ? "record \(expected) is missing (deleted) or records were reordered"
                            : "records \(expected)…\(record.sequence - 1) are missing (deleted) or records were reordered")
                } else {
                    "the record has seq \(record.sequence) where \(expected) was expected: a record was inserted, "
                        + "duplicated or moved"
                }
            return AuditProblem(kind: .sequence, line: number, sequence: record.sequence, message: message)
        }
        let expectedPrev = previous.map { hasher.hex($0, chain: record.chain) } ?? AuditRecord.genesis
        guard constantTimeEquals(record.prev, expectedPrev) else {
            if number == 1 {
                return AuditProblem(
                    kind: .chainBroken, line: 1, sequence: record.sequence,
                    message:
                        "the first record does not start a chain (its prev is not the genesis value): it was edited")
            }
            return AuditProblem(
                kind: .chainBroken, line: number - 1, sequence: record.sequence - 1,
                message:
                    "the record was changed after it was written: its hash no longer matches the prev of line "
                    + "\(number) (or line \(number)'s prev was edited"
                    + (hasher.key == nil ? ")" : ", or the key is not the one the log was written with)"))
        }
        if record.action == .auditIntegrity {
            return AuditProblem(
                kind: .integrityRecord, line: number, sequence: record.sequence,
                message: "a writer found the log changed outside Sentinel before this record: \(record.reason)")
        }
        return nil
    }

    /// Compares the anchor with the end of the log.
    private func checkAnchor(
        _ bytes: [UInt8]?, anchorPath: String, lastLine: [UInt8]?, lastSequence: UInt64, count: Int, size: Int64
    ) throws(AuditError) -> AuditProblem? {
        guard let bytes, !bytes.isEmpty else {
            if count > 0 && requireAnchor {
                return AuditProblem(
                    kind: .anchorMissing, line: count, sequence: lastSequence,
                    message:
                        "the anchor file \(anchorPath) is missing or empty, so removed trailing records cannot be "
                        + "ruled out (pass --no-anchor to check the chain alone)")
            }
            return nil
        }
        let anchor: AuditAnchor
        switch AuditAnchor.parse(bytes, hasher: hasher) {
        case .needsKey:
            throw AuditError(
                .keyRequired,
                "The audit anchor \(anchorPath) is HMAC-protected; set \(AuditKey.environmentVariable) to its key.")
        case .invalid(let why):
            return AuditProblem(kind: .anchorInvalid, line: max(count, 1), message: why)
        case .valid(let found):
            anchor = found
        }
        if hasher.key != nil && anchor.chain == .sha256 {
            return AuditProblem(
                kind: .anchorInvalid, line: max(count, 1),
                message: "the anchor is protected with plain SHA-256 although a key was given: it could be forged")
        }
        if anchor.sequence > lastSequence {
            return AuditProblem(
                kind: .missingTrailingRecords, line: count + 1, sequence: lastSequence + 1,
                message:
                    "the anchor says the log ends at seq \(anchor.sequence), but its last record is seq \(lastSequence): "
                    + "records \(lastSequence + 1)…\(anchor.sequence) were removed from the end")
        }
        if anchor.sequence < lastSequence {
            // Sequence numbers equal line numbers in a log that passed the line checks.
            return AuditProblem(
                kind: .unanchoredRecords, line: Int(anchor.sequence) + 1, sequence: anchor.sequence + 1,
                message:
                    "the anchor says the log ends at seq \(anchor.sequence), but records up to seq \(lastSequence) "
                    + "follow: they were appended by something other than a Sentinel writer")
        }
        let lastHash = lastLine.map { hasher.hex($0, chain: anchor.chain) } ?? AuditRecord.genesis
        guard constantTimeEquals(lastHash, anchor.hash) else {
            return AuditProblem(
                kind: .lastRecordChanged, line: max(count, 1), sequence: lastSequence,
                message: "the last record is not the one the anchor recorded: it was edited")
        }
        guard anchor.size == size else {
            return AuditProblem(
                kind: .anchorInvalid, line: max(count, 1),
                message: "the anchor says the log is \(anchor.size) bytes long, but it is \(size) bytes")
        }
        return nil
    }

    private func readAnchor(_ path: String) throws(AuditError) -> [UInt8]? {
        let fd: Int32
        do throws(Sys.Failure) {
            fd = try Sys.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            if error.errno == ENOENT { return nil }
            throw AuditError(.open, "Could not open the audit anchor \(path).", path: path, errno: error.errno)
        }
        defer { Sys.close(fd) }
        let info: stat
        do throws(Sys.Failure) {
            info = try Sys.fstat(fd)
        } catch {
            throw AuditError(.read, "Could not inspect the audit anchor \(path).", path: path, errno: error.errno)
        }
        guard isRegularFile(info) else {
            throw AuditError(.notRegularFile, "The audit anchor \(path) is not a regular file.", path: path)
        }
        do throws(Sys.Failure) {
            return try Sys.pread(fd, count: 512, at: 0)
        } catch {
            throw AuditError(.read, "Could not read the audit anchor \(path).", path: path, errno: error.errno)
        }
    }
}

private func lowercasedFirst(_ sentence: String) -> String {
    guard let first = sentence.first else { return sentence }
    var text = first.lowercased() + sentence.dropFirst()
    if text.hasSuffix(".") { text.removeLast() }
    return text
}
