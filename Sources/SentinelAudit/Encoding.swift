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
    /// The environment variable a key is read from.
    public static let environmentVariable = "SENTINEL_AUDIT_HMAC_KEY"
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

    /// The chain value of `bytes` under `chain` (which must be this hasher's, or plain SHA-256).
    func hex(_ bytes: UnsafeRawBufferPointer, chain: AuditChain) -> String {
        switch chain {
        case .sha256:
            return hexString(SHA256.hash(data: bytes))
        case .hmacSHA256:
            // Callers check that a key exists before asking for an HMAC chain value.
            guard let key else { preconditionFailure("HMAC chain value requested without a key") }
            return hexString(HMAC<SHA256>.authenticationCode(for: bytes, using: key.symmetricKey))
        }
    }

    /// Appends to `buffer` the lowercase hex chain value of `buffer[..<end]` (no intermediate
    /// string: the anchor is rebuilt on every append).
    func appendHex(of buffer: inout [UInt8], upTo end: Int, chain: AuditChain) {
        func append(_ value: some ContiguousBytes) {
            value.withUnsafeBytes { raw in
                for byte in raw {
                    buffer.append(hexDigits[Int(byte >> 4)])
                    buffer.append(hexDigits[Int(byte & 0x0f)])
                }
            }
        }
        switch chain {
        case .sha256:
            append(buffer.withUnsafeBytes { SHA256.hash(data: UnsafeRawBufferPointer(rebasing: $0[..<end])) })
        case .hmacSHA256:
            // Callers check that a key exists before asking for an HMAC chain value.
            guard let key else { preconditionFailure("HMAC chain value requested without a key") }
            append(buffer.withUnsafeBytes {
                HMAC<SHA256>.authenticationCode(for: UnsafeRawBufferPointer(rebasing: $0[..<end]), using: key.symmetricKey)
            })
        }
    }

    func hex(_ bytes: [UInt8], chain: AuditChain) -> String {
        bytes.withUnsafeBytes { hex($0, chain: chain) }
    }

    func hex(_ bytes: ArraySlice<UInt8>, chain: AuditChain) -> String {
        bytes.withUnsafeBytes { hex($0, chain: chain) }
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Lowercase hex of a digest or MAC.
func hexString(_ value: some ContiguousBytes) -> String {
    value.withUnsafeBytes { raw in
        String(unsafeUninitializedCapacity: raw.count * 2) { out in
            var index = 0
            for byte in raw {
                out[index] = hexDigits[Int(byte >> 4)]
                out[index + 1] = hexDigits[Int(byte & 0x0f)]
                index += 2
            }
            return index
        }
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

extension AuditRecord {
    /// The record as one JSON line, without the terminating newline: the exact bytes the chain
    /// hashes.
    public func jsonLine() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + target.utf8.count + reason.utf8.count)
        appendJSONLine(to: &out)
        return out
    }

    /// Appends the record's JSON (no newline) to `out`.
    func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"schema":"#.utf8)
        appendDecimal(UInt64(schema), to: &out)
        out.append(contentsOf: #","seq":"#.utf8)
        appendDecimal(sequence, to: &out)
        appendField("time", time, to: &out)
        out.append(contentsOf: #","pid":"#.utf8)
        if pid < 0 { out.append(UInt8(ascii: "-")) }
        appendDecimal(UInt64(pid.magnitude), to: &out)
        appendField("mode", mode.rawValue, to: &out)
        appendField("action", action.rawValue, to: &out)
        appendField("target", target, to: &out)
        appendField("decision", decision.rawValue, to: &out)
        if let rule { appendField("rule", rule, to: &out) }
        appendField("reason", reason, to: &out)
        if let approver { appendField("approver", approver, to: &out) }
        if let policySHA256 { appendField("policy_sha256", policySHA256, to: &out) }
        appendField("severity", severity.rawValue, to: &out)
        if let details {
            out.append(contentsOf: #","details":{"#.utf8)
            appendSortedDetails(details, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        appendField("chain", chain.rawValue, to: &out)
        appendField("prev", prev, to: &out)
        out.append(UInt8(ascii: "}"))
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

/// Appends `"key":"value"` pairs in key order (code-point order of the keys, as `sorted()`).
///
/// Sorted in a stack buffer (insertion sort: details hold a handful of keys), because
/// `keys.sorted()` allocated an array on every record.
private func appendSortedDetails(_ details: [String: String], to out: inout [UInt8]) {
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
            if position > 0 { out.append(UInt8(ascii: ",")) }
            let (key, value) = details[slots[position]]
            appendJSONString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONString(value, to: &out)
        }
    }
}

private func appendField(_ name: StaticString, _ value: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: ","))
    out.append(UInt8(ascii: "\""))
    out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    out.append(UInt8(ascii: "\""))
    out.append(UInt8(ascii: ":"))
    appendJSONString(value, to: &out)
}

private func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    if value == 0 {
        out.append(UInt8(ascii: "0"))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var remaining = value
    withUnsafeMutableBytes(of: &digits) { buffer in
        while remaining > 0 {
            buffer[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            count += 1
        }
        for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
    }
}

/// Appends `value` as a JSON string.
///
/// Every control character (U+0000–U+001F), DEL, `"` and `\` is escaped, and so are U+2028 and
/// U+2029 (line separators to JavaScript and some log viewers). So a newline in a target can never
/// end a line: the log-forging bug of the original (`echo hi\nid` spanning two lines) cannot occur.
func appendJSONString(_ value: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var utf8 = value.utf8
    let handled: Void? = utf8.withContiguousStorageIfAvailable { bytes in
        appendEscaped(bytes, to: &out)
    }
    if handled == nil {
        var copy = value
        copy.makeContiguousUTF8()
        utf8 = copy.utf8
        utf8.withContiguousStorageIfAvailable { bytes in appendEscaped(bytes, to: &out) }
    }
    out.append(UInt8(ascii: "\""))
}

private let hexUpper = Array("0123456789abcdef".utf8)

private func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
    var index = 0
    var runStart = 0
    let count = bytes.count
    func flush(_ end: Int) {
        if end > runStart {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end]))
        }
    }
    while index < count {
        let byte = bytes[index]
        if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0x7f
            && byte != 0xe2
        {
            index += 1
            continue
        }
        if byte == 0xe2 {
            // U+2028 is E2 80 A8 and U+2029 is E2 80 A9 in UTF-8.
            if index + 2 < count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xa8 || bytes[index + 2] == 0xa9) {
                flush(index)
                out.append(contentsOf: bytes[index + 2] == 0xa8 ? Array(#"\u2028"#.utf8) : Array(#"\u2029"#.utf8))
                index += 3
                runStart = index
            } else {
                index += 1
            }
            continue
        }
        flush(index)
        switch byte {
        case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x0a: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0d: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        default:
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            out.append(hexUpper[Int(byte >> 4)])
            out.append(hexUpper[Int(byte & 0x0f)])
        }
        index += 1
        runStart = index
    }
    flush(count)
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
