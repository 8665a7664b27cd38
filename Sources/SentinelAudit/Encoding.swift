// How a record becomes one line of bytes, how a line becomes a record again, and how lines are
// chained.
//
// The writer does not use JSONEncoder: the chain hashes the exact bytes of each line, so the
// serialisation must be byte-for-byte stable across toolchains (key order, escaping, number
// format), and it runs on every decision (goal: 100,000 records per second). Reading uses
// JSONDecoder, which accepts any valid JSON, so a line edited by hand is still parsed and then
// caught by the chain.

import Crypto
import Foundation
import SentinelPolicy

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - Key

/// The secret for an HMAC-SHA256 chain.
///
/// With a key, `prev` and the anchor's check value are HMAC-SHA256 values: someone who can write
/// the log but does not know the key cannot recompute the chain after editing it. Keep the key
/// out of the guarded program's reach (not in its environment, not in a file it can read).
public struct AuditKey: Sendable {
    /// The environment variable a key is read from (one of Sentinel's own secrets, which no
    /// program it starts ever sees: `SentinelEnvironment.secrets`).
    public static let environmentVariable = SentinelEnvironment.auditHMACKey
    /// Keys shorter than this are refused: a short key can be guessed offline from the log itself.
    public static let minimumLength = 16

    private let box: KeyBox

    var symmetricKey: SymmetricKey { box.key }

    /// Creates a key from its bytes.
    ///
    /// - Throws: ``AuditError/Code/key`` when the key is shorter than ``minimumLength`` bytes.
    public init(bytes: [UInt8]) throws(AuditError) {
        guard bytes.count >= Self.minimumLength else {
            throw AuditError(
                .key,
                "The audit HMAC key is \(bytes.count) bytes long; use at least \(Self.minimumLength) random bytes "
                    + "(for example `openssl rand -hex 32`).")
        }
        self.box = KeyBox(SymmetricKey(data: bytes))
    }

    /// The key in `SENTINEL_AUDIT_HMAC_KEY` (its UTF-8 bytes), or `nil` when the variable is unset
    /// or empty.
    ///
    /// - Throws: ``AuditError/Code/key`` when the value is too short to be a key.
    public static func fromEnvironment(_ environment: [String: String]) throws(AuditError) -> AuditKey? {
        guard let value = environment[environmentVariable], !value.isEmpty else { return nil }
        return try AuditKey(bytes: Array(value.utf8))
    }
}

/// Holds the key built once (building a `SymmetricKey` per record doubled the cost of an append).
// @unchecked: `SymmetricKey` is an immutable value that swift-crypto 3.x does not mark Sendable;
// it is never mutated after this box is created.
private final class KeyBox: @unchecked Sendable {
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
}

// MARK: - Chain hashing

/// Computes chain values: SHA-256 or HMAC-SHA256 of a line's bytes, as lowercase hex.
struct ChainHasher: Sendable {
    let key: AuditKey?

    var chain: AuditChain { key == nil ? .sha256 : .hmacSHA256 }

    /// Calls `body` with the raw chain value of `bytes` under `chain` (which must be this
    /// hasher's, or plain SHA-256).
    ///
    /// SHA-256 goes through `update(bufferPointer:)`: `hash(data:)` walks the bytes as a generic
    /// `DataProtocol` first.
    func withDigest<Result>(
        of bytes: UnsafeRawBufferPointer, chain: AuditChain, _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        switch chain {
        case .sha256:
            var hash = SHA256()
            hash.update(bufferPointer: bytes)
            return hash.finalize().withUnsafeBytes(body)
        case .hmacSHA256:
            // Callers check that a key exists before asking for an HMAC chain value.
            guard let key else { preconditionFailure("HMAC chain value requested without a key") }
            return HMAC<SHA256>.authenticationCode(for: bytes, using: key.symmetricKey).withUnsafeBytes(body)
        }
    }

    /// The chain value of `bytes` under `chain` (which must be this hasher's, or plain SHA-256).
    func hex(_ bytes: UnsafeRawBufferPointer, chain: AuditChain) -> String {
        withDigest(of: bytes, chain: chain) { hexString($0) }
    }

    /// Writes the lowercase hex chain value (64 bytes) of `bytes` at `out`.
    func putHex(of bytes: UnsafeRawBufferPointer, chain: AuditChain, to out: inout ByteCursor) {
        withDigest(of: bytes, chain: chain) { out.putHex($0) }
    }

    func hex(_ bytes: [UInt8], chain: AuditChain) -> String {
        bytes.withUnsafeBytes { hex($0, chain: chain) }
    }

    func hex(_ bytes: ArraySlice<UInt8>, chain: AuditChain) -> String {
        bytes.withUnsafeBytes { hex($0, chain: chain) }
    }
}

/// Lowercase hex of a digest or MAC.
func hexString(_ raw: UnsafeRawBufferPointer) -> String {
    String(unsafeUninitializedCapacity: raw.count * 2) { out in
        var index = 0
        for byte in raw {
            out[index] = hexDigit(byte >> 4)
            out[index + 1] = hexDigit(byte & 0x0f)
            index += 2
        }
        return index
    }
}

/// Compares two strings in time that depends only on their lengths (for MAC values).
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in x.indices { difference |= x[index] ^ y[index] }
    return difference == 0
}

// MARK: - Time

/// The current time as RFC 3339 UTC with microseconds: `2026-03-01T09:15:02.120331Z`.
func rfc3339Now() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(unsafeUninitializedCapacity: 27) { out in
        var index = 0
        func put(_ byte: UInt8) {
            out[index] = byte
            index += 1
        }
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                put(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4)
        put(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        put(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        put(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        put(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        put(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        put(UInt8(ascii: "."))
        digits(Int(now.tv_nsec) / 1000, 6)
        put(UInt8(ascii: "Z"))
        return index
    }
}

// MARK: - Writing a line

/// A growable byte buffer that the writer reuses between appends.
///
/// Lines are encoded into it with unchecked stores through a ``ByteCursor`` after reserving the
/// line's worst-case length once: `Array.append` checked capacity and uniqueness on every byte,
/// which made encoding a visible part of an append (issue 3). Used only under the writer's lock.
final class LineBuffer {
    /// The first byte.
    private(set) var start: UnsafeMutablePointer<UInt8>
    /// How many bytes fit before the buffer must grow.
    private(set) var capacity: Int
    /// How many bytes are in use.
    var count = 0

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        self.start = .allocate(capacity: self.capacity)
    }

    deinit { start.deallocate() }

    /// Makes room for `extra` more bytes after ``count``.
    func reserve(_ extra: Int) {
        let needed = count + extra
        guard needed > capacity else { return }
        var grown = capacity * 2
        while grown < needed { grown *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        bigger.update(from: start, count: count)
        start.deallocate()
        start = bigger
        capacity = grown
    }

    /// A cursor at the end of the used bytes; after writing at most the reserved number of
    /// bytes, pass it to ``commit(_:)``.
    var cursor: ByteCursor { ByteCursor(pointer: start + count) }

    /// Takes the bytes written through `cursor` into use.
    func commit(_ cursor: ByteCursor) {
        count = cursor.pointer - start
        // A line longer than its reserved bound would already have written past the buffer.
        precondition(count <= capacity, "audit line encoder overran its buffer")
    }

    /// The used bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: start, count: count) }

    /// The used bytes from `offset` on.
    func bytes(from offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: start + offset, count: count - offset)
    }
}

/// Writes bytes at a position the caller has reserved room for (see ``LineBuffer``).
struct ByteCursor {
    var pointer: UnsafeMutablePointer<UInt8>

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        pointer.pointee = byte
        pointer += 1
    }

    @inline(__always)
    mutating func put(_ text: StaticString) {
        let count = text.utf8CodeUnitCount
        pointer.update(from: text.utf8Start, count: count)
        pointer += count
    }

    @inline(__always)
    mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let base = bytes.baseAddress else { return }
        pointer.update(from: base, count: bytes.count)
        pointer += bytes.count
    }

    /// The UTF-8 bytes of `text` as they are (no quoting, no escaping).
    mutating func putUTF8(_ text: String) {
        let handled: Void? = text.utf8.withContiguousStorageIfAvailable { put($0) }
        if handled == nil {
            for byte in text.utf8 { put(byte) }
        }
    }

    /// The decimal digits of `value`.
    mutating func putDecimal(_ value: UInt64) {
        var digits = 1
        var scale: UInt64 = 10
        while digits < 20 && value >= scale {
            digits += 1
            scale &*= 10
        }
        var remaining = value
        var index = digits - 1
        while index >= 0 {
            pointer[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            index -= 1
        }
        pointer += digits
    }

    /// `value` as exactly 20 decimal digits, zero-padded (UInt64.max has 20).
    mutating func putZeroPadded(_ value: UInt64) {
        var remaining = value
        for index in stride(from: 19, through: 0, by: -1) {
            pointer[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        pointer += 20
    }

    /// The lowercase hex of `bytes`.
    mutating func putHex(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            pointer[0] = hexDigit(byte >> 4)
            pointer[1] = hexDigit(byte & 0x0f)
            pointer += 2
        }
    }

    /// `value` as a JSON string, quoted and escaped: at most `2 + 6 * value.utf8.count` bytes.
    ///
    /// Every control character (U+0000–U+001F), DEL, `"` and `\` is escaped, and so are U+2028
    /// and U+2029 (line separators to JavaScript and some log viewers). So a newline in a target
    /// can never end a line: the log-forging bug of the original (`echo hi\nid` spanning two
    /// lines) cannot occur.
    mutating func putJSONString(_ value: String) {
        put(UInt8(ascii: "\""))
        let handled: Void? = value.utf8.withContiguousStorageIfAvailable { putEscaped($0) }
        if handled == nil {
            var copy = value
            copy.makeContiguousUTF8()
            copy.utf8.withContiguousStorageIfAvailable { putEscaped($0) }
        }
        put(UInt8(ascii: "\""))
    }

    private mutating func putEscaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        var index = 0
        var runStart = 0
        let count = bytes.count
        while index < count {
            // Eight bytes at a time while none can need escaping (most targets are plain ASCII):
            // the byte loop below was 6 % of an append (perf, issue 3).
            if index &+ 8 <= count,
                !mayNeedEscaping(UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
            {
                index &+= 8
                continue
            }
            let byte = bytes[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0x7f
                && byte != 0xe2
            {
                index += 1
                continue
            }
            if byte == 0xe2 {
                // U+2028 is E2 80 A8 and U+2029 is E2 80 A9 in UTF-8.
                if index + 2 < count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xa8 || bytes[index + 2] == 0xa9)
                {
                    put(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                    put(bytes[index + 2] == 0xa8 ? "\\u2028" : "\\u2029")
                    index += 3
                    runStart = index
                } else {
                    index += 1
                }
                continue
            }
            put(UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
            switch byte {
            case UInt8(ascii: "\""): put("\\\"")
            case UInt8(ascii: "\\"): put("\\\\")
            case 0x0a: put("\\n")
            case 0x0d: put("\\r")
            case 0x09: put("\\t")
            default:
                put("\\u00")
                put(hexDigit(byte >> 4))
                put(hexDigit(byte & 0x0f))
            }
            index += 1
            runStart = index
        }
        put(UnsafeBufferPointer(rebasing: bytes[runStart..<count]))
    }

    /// `,"name":"value"`.
    @inline(__always)
    mutating func putField(_ name: StaticString, _ value: String) {
        put(name)
        putJSONString(value)
    }
}

/// Whether any of the eight bytes in `word` is a control character, `"`, `\`, DEL or not ASCII
/// (the bytes ``ByteCursor/putJSONString(_:)`` may have to escape, U+2028 and U+2029 included).
///
/// The usual SWAR tests (a byte below `n`: `(x - 0x01…·n) & ~x & 0x80…`; a byte equal to `c`: the
/// same test for zero on `x ^ 0x01…·c`) can answer true for a harmless byte above a matching one,
/// never false when a byte matches: a false true only sends the caller to its byte loop.
@inline(__always)
func mayNeedEscaping(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    @inline(__always) func hasZeroByte(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
    let control = (word &- ones &* 0x20) & ~word & highs
    let quote = hasZeroByte(word ^ (ones &* 0x22))
    let backslash = hasZeroByte(word ^ (ones &* 0x5c))
    let delete = hasZeroByte(word ^ (ones &* 0x7f))
    return (control | quote | backslash | delete | (word & highs)) != 0
}

/// The lowercase hex digit for `nibble` (0…15).
@inline(__always)
func hexDigit(_ nibble: UInt8) -> UInt8 {
    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
}

extension AuditRecord {
    /// The record as one JSON line, without the terminating newline: the exact bytes the chain
    /// hashes.
    public func jsonLine() -> [UInt8] {
        let buffer = LineBuffer(capacity: maximumJSONLength)
        appendJSONLine(to: buffer)
        return Array(buffer.bytes)
    }

    /// An upper bound of the bytes ``appendJSONLine(to:)`` writes: the keys, punctuation and
    /// numbers fit in 512 bytes, and a string's byte becomes at most six (`\u001f`).
    var maximumJSONLength: Int {
        var stringBytes =
            time.utf8.count + mode.rawValue.utf8.count + action.rawValue.utf8.count + target.utf8.count
            + decision.rawValue.utf8.count + reason.utf8.count + severity.rawValue.utf8.count
            + chain.rawValue.utf8.count + prev.utf8.count
        if let run { stringBytes += run.utf8.count }
        if let rule { stringBytes += rule.utf8.count }
        if let approver { stringBytes += approver.utf8.count }
        if let policySHA256 { stringBytes += policySHA256.utf8.count }
        var detailBytes = 0
        if let details {
            for (key, value) in details {
                stringBytes += key.utf8.count + value.utf8.count
                detailBytes += 6  // two pairs of quotes, a colon and a comma
            }
        }
        return 512 + 6 * stringBytes + detailBytes
    }

    /// Appends the record's JSON (no newline) to `buffer`.
    func appendJSONLine(to buffer: LineBuffer) {
        buffer.reserve(maximumJSONLength)
        var out = buffer.cursor
        out.put(#"{"schema":"#)
        out.putDecimal(UInt64(schema))
        out.put(#","seq":"#)
        out.putDecimal(sequence)
        out.putField(#","time":"#, time)
        out.put(#","pid":"#)
        if pid < 0 { out.put(UInt8(ascii: "-")) }
        out.putDecimal(UInt64(pid.magnitude))
        if let run { out.putField(#","run":"#, run) }
        out.putField(#","mode":"#, mode.rawValue)
        out.putField(#","action":"#, action.rawValue)
        out.putField(#","target":"#, target)
        out.putField(#","decision":"#, decision.rawValue)
        if let rule { out.putField(#","rule":"#, rule) }
        out.putField(#","reason":"#, reason)
        if let approver { out.putField(#","approver":"#, approver) }
        if let policySHA256 { out.putField(#","policy_sha256":"#, policySHA256) }
        out.putField(#","severity":"#, severity.rawValue)
        if let details {
            out.put(#","details":{"#)
            putSortedDetails(details, to: &out)
            out.put(UInt8(ascii: "}"))
        }
        out.putField(#","chain":"#, chain.rawValue)
        out.putField(#","prev":"#, prev)
        out.put(UInt8(ascii: "}"))
        buffer.commit(out)
    }

    /// Reads a record from one line (without its newline).
    ///
    /// - Throws: ``AuditError/Code/malformedRecord`` with a sentence naming what is wrong.
    public init(jsonLine: some Collection<UInt8>) throws(AuditError) {
        do {
            self = try JSONDecoder().decode(AuditRecord.self, from: Data(jsonLine))
        } catch let error as DecodingError {
            throw AuditError(.malformedRecord, "The line is not a valid audit record: \(describe(error)).")
        } catch {
            throw AuditError(.malformedRecord, "The line is not a valid audit record: \(error).")
        }
    }
}

/// Writes `"key":"value"` pairs in key order (the order of `sorted()` on the keys).
///
/// Sorted in a stack buffer (insertion sort: details hold a handful of keys), because
/// `keys.sorted()` allocated an array on every record.
private func putSortedDetails(_ details: [String: String], to out: inout ByteCursor) {
    let count = details.count
    withUnsafeTemporaryAllocation(of: Dictionary<String, String>.Index.self, capacity: count) { slots in
        var filled = 0
        var index = details.startIndex
        while index != details.endIndex {
            var position = filled
            while position > 0 && details[index].key < details[slots[position - 1]].key {
                slots[position] = slots[position - 1]
                position -= 1
            }
            slots[position] = index
            filled += 1
            index = details.index(after: index)
        }
        for position in 0..<filled {
            if position > 0 { out.put(UInt8(ascii: ",")) }
            let (key, value) = details[slots[position]]
            out.putJSONString(key)
            out.put(UInt8(ascii: ":"))
            out.putJSONString(value)
        }
    }
}

/// A one-sentence rendering of a decoding error (which key, what was wrong).
private func describe(_ error: DecodingError) -> String {
    func path(_ context: DecodingError.Context) -> String {
        let keys = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }
        return keys.isEmpty ? "" : " at `\(keys.joined(separator: "."))`"
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "the field `\(key.stringValue)` is missing\(path(context))"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
        return "a field has the wrong type\(path(context))"
    case .dataCorrupted(let context):
        let where_ = path(context)
        return where_.isEmpty ? "it is not valid JSON" : "a value is not allowed\(where_)"
    @unknown default:
        return "it could not be decoded"
    }
}
