import Crypto

/// How a policy text is fingerprinted and checked against `SENTINEL_POLICY_SHA256` and
/// `SENTINEL_POLICY_HMAC_SHA256`.
///
/// The original read the file in Python's text mode, which folds CRLF and lone CR to LF, and
/// hashed the decoded text. We hash exactly the same bytes, so a digest computed for the original
/// keeps working (`original-system.md` §1.1, §4.2).
public enum PolicyIntegrity {
    /// The text with CRLF and lone CR folded to LF (Python's universal newlines).
    public static func normalizeNewlines(_ text: String) -> String {
        guard text.utf8.contains(13) else { return text }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for byte in text.utf8 {
            if byte == 13 {
                bytes.append(10)
                previousWasCR = true
                continue
            }
            if byte == 10 && previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = false
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The lowercase hex SHA-256 of the text's UTF-8 bytes (after newline normalisation).
    public static func sha256Hex(of normalizedText: String) -> String {
        hex(SHA256.hash(data: Array(normalizedText.utf8)))
    }

    /// The lowercase hex HMAC-SHA256 of the text with `key` (both as UTF-8).
    public static func hmacHex(of normalizedText: String, key: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(normalizedText.utf8), using: SymmetricKey(data: Array(key.utf8)))
        return hex(mac)
    }

    /// Compares a computed digest with an expected hex string in time independent of where they
    /// differ. The expected value is trimmed and lowercased first, as the original did.
    public static func digestMatches(computedHex: String, expectedHex: String) -> Bool {
        let expected = Array(expectedHex.trimmingWhitespace().lowercased().utf8)
        let computed = Array(computedHex.utf8)
        guard expected.count == computed.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<computed.count {
            difference |= expected[index] ^ computed[index]
        }
        return difference == 0
    }

    /// Whether `text` is a plausible hex digest of `length` characters.
    static func isHexDigest(_ text: String, length: Int) -> Bool {
        let trimmed = text.trimmingWhitespace().lowercased()
        return trimmed.utf8.count == length && trimmed.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    private static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
