// The anchor: a one-line file beside the log (`audit.log.anchor`) naming the log's last record.
//
// A hash chain alone cannot tell a log whose last records were cut off from a shorter log: every
// remaining link is still valid. The writer therefore rewrites the anchor, under the same flock
// as the append, with the sequence number, the hash of the last line and the log's size. The
// verifier compares them with the log, which exposes deleted trailing records (and records added
// by something other than the writer).
//
// Format, fixed width so that the writer replaces it in place with a memory copy into the file's
// first page, mapped MAP_SHARED (no rename, no truncate, no system call per append):
//
//     sentinel-audit-anchor v1 chain=sha256 seq=00000000000000000042 size=00000000000000012345
//       hash=<64 hex> check=<64 hex>
//
// (one line). `check` is the chain function (SHA-256, or HMAC-SHA256 with the key) over all the
// text before ` check=`: without a key it only catches a torn or hand-edited anchor; with a key it
// cannot be forged without the key.

/// What the anchor says about the end of the log.
public struct AuditAnchor: Hashable, Sendable {
    /// How `hash` and the check value were computed.
    public var chain: AuditChain
    /// The sequence number of the log's last record (0 for an empty log).
    public var sequence: UInt64
    /// The log's size in bytes after that record.
    public var size: Int64
    /// The chain value (hex) of the last record's line, or ``AuditRecord/genesis`` for an empty log.
    public var hash: String

    /// Creates an anchor.
    public init(chain: AuditChain, sequence: UInt64, size: Int64, hash: String) {
        self.chain = chain
        self.sequence = sequence
        self.size = size
        self.hash = hash
    }

    /// The anchor file that belongs to a log: the log's path with `.anchor` appended.
    public static func path(forLog logPath: String) -> String {
        logPath + ".anchor"
    }

    static let magic = "sentinel-audit-anchor v1"

    /// The anchor's line, newline included, with its check value.
    func encoded(with hasher: ChainHasher) -> [UInt8] {
        let buffer = LineBuffer(capacity: maximumLength)
        encode(into: buffer, with: hasher)
        return Array(buffer.bytes)
    }

    /// An upper bound of the line's length (233 bytes with `chain=hmac-sha256` and a 64-byte hash).
    var maximumLength: Int { 200 + hash.utf8.count }

    /// Replaces the contents of `buffer` with the anchor's line, newline included, with its check
    /// value.
    ///
    /// Built byte by byte into the caller's buffer (no string interpolation, no new array, the
    /// check value's hex written in place): it is rewritten on every append.
    func encode(into buffer: LineBuffer, with hasher: ChainHasher) {
        buffer.count = 0
        buffer.reserve(maximumLength)
        var out = buffer.cursor
        out.put("sentinel-audit-anchor v1 chain=")
        out.putUTF8(chain.rawValue)
        out.put(" seq=")
        out.putZeroPadded(sequence)
        out.put(" size=")
        out.putZeroPadded(UInt64(size))
        out.put(" hash=")
        out.putUTF8(hash)
        let body = UnsafeRawBufferPointer(start: buffer.start, count: out.pointer - buffer.start)
        out.put(" check=")
        hasher.putHex(of: body, chain: chain, to: &out)
        out.put(UInt8(ascii: "\n"))
        buffer.commit(out)
    }

    /// What reading an anchor's bytes gave.
    enum Parsed {
        case valid(AuditAnchor)
        case invalid(String)
        case needsKey
    }

    /// Parses an anchor's bytes and checks its check value.
    static func parse(_ bytes: [UInt8], hasher: ChainHasher) -> Parsed {
        guard let text = String(validating: bytes, as: UTF8.self), text.hasSuffix("\n") else {
            return .invalid("the anchor file is not one complete line of text")
        }
        let line = text.dropLast()
        guard let checkRange = line.firstRange(of: " check=") else {
            return .invalid("the anchor file has no check value")
        }
        let body = String(line[..<checkRange.lowerBound])
        let check = String(line[checkRange.upperBound...])
        let fields = body.split(separator: " ")
        guard fields.count == 6, "\(fields[0]) \(fields[1])" == magic else {
            return .invalid("the anchor file is not in the `\(magic)` format")
        }
        func value(_ field: Substring, _ name: String) -> Substring? {
            field.hasPrefix(name + "=") ? field.dropFirst(name.count + 1) : nil
        }
        guard let chainText = value(fields[2], "chain"), let chain = AuditChain(rawValue: String(chainText)),
            let seqText = value(fields[3], "seq"), let sequence = UInt64(seqText),
            let sizeText = value(fields[4], "size"), let size = Int64(sizeText),
            let hash = value(fields[5], "hash"), hash.utf8.count == 64
        else {
            return .invalid("a field of the anchor file is malformed")
        }
        if chain == .hmacSHA256 && hasher.key == nil { return .needsKey }
        let expected = hasher.hex(Array(body.utf8), chain: chain)
        guard constantTimeEquals(expected, check) else {
            return .invalid(
                chain == .hmacSHA256
                    ? "the anchor's HMAC does not match: it was changed without the key, or the key is wrong"
                    : "the anchor's check value does not match its contents: it was edited or torn")
        }
        return .valid(AuditAnchor(chain: chain, sequence: sequence, size: size, hash: String(hash)))
    }
}
