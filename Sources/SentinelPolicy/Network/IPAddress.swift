// IPv4 and IPv6 addresses, parsed exactly the way the C library parses them.
//
// The policy must check the address the operating system will dial, never a different reading
// of the same text (egress-anchors §6 #11: `0127.0.0.1` is 87.0.0.1 for glibc, not 127.0.0.1).
// So `init?(numericHost:)` is a port of what glibc 2.36 `getaddrinfo(…, AI_NUMERICHOST)` does
// (`__inet_aton_exact`, then `inet_pton(AF_INET6)` with an optional `%scope`), and a
// differential test holds it to the real `getaddrinfo` on this machine.

#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address, with an optional IPv6 zone (scope id).
///
/// Two parsers are offered: `init?(numericHost:)` accepts exactly what glibc's
/// `getaddrinfo(…, AI_NUMERICHOST)` accepts (every `inet_aton` form of IPv4, and IPv6 with a
/// `%zone`), which is what any program on this machine dials when handed the same text;
/// `init?(strict:)` accepts only canonical text (`inet_pton`). `description` is canonical:
/// dotted quad, or RFC 5952 for IPv6 with `%zone` appended.
///
/// Equality and hashing include the zone text and scope id (`fe80::1%lo` is not `fe80::1`);
/// compare `withoutZone` to ignore them. IPv4 and IPv4-mapped IPv6 are different addresses.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        /// IPv4 (32 bits).
        case v4
        /// IPv6 (128 bits).
        case v6
    }

    /// The address family.
    public let family: Family
    /// Bytes 0–7 of an IPv6 address in network order (most significant first); 0 for IPv4.
    @usableFromInline let high: UInt64
    /// Bytes 8–15 of an IPv6 address, or the IPv4 address in its low 32 bits.
    @usableFromInline let low: UInt64
    /// The IPv6 zone exactly as written after `%` (`eth0`, `2`), or `nil`.
    public let zone: String?
    /// The numeric scope id the zone stands for (what goes into `sin6_scope_id`); 0 without a zone.
    public let scopeID: UInt32

    /// An IPv4 address from its 32-bit value (`0x7f000001` is 127.0.0.1).
    @inlinable
    public init(ipv4 value: UInt32) {
        family = .v4
        high = 0
        low = UInt64(value)
        zone = nil
        scopeID = 0
    }

    /// An IPv6 address from its two 64-bit halves (most significant first), with an optional zone.
    public init(ipv6High high: UInt64, low: UInt64, zone: String? = nil, scopeID: UInt32 = 0) {
        family = .v6
        self.high = high
        self.low = low
        self.zone = zone
        self.scopeID = scopeID
    }

    /// An address from its bytes in network order: 4 bytes for IPv4, 16 for IPv6; `nil` otherwise.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16:
            var high: UInt64 = 0
            var low: UInt64 = 0
            for (index, byte) in bytes.enumerated() {
                if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
            self.init(ipv6High: high, low: low)
        default:
            return nil
        }
    }

    /// Whether this is an IPv4 address.
    @inlinable public var isIPv4: Bool { family == .v4 }

    /// Whether this is an IPv6 address.
    @inlinable public var isIPv6: Bool { family == .v6 }

    /// The 32-bit value of an IPv4 address (`127.0.0.1` is `0x7f000001`); `nil` for IPv6.
    @inlinable public var ipv4Value: UInt32? { family == .v4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// The two 64-bit halves of an IPv6 address (most significant first); `nil` for IPv4.
    public var ipv6Words: (high: UInt64, low: UInt64)? { family == .v6 ? (high, low) : nil }

    /// The address bytes in network order (4 or 16), without the zone.
    public var bytes: [UInt8] {
        switch family {
        case .v4:
            let value = UInt32(truncatingIfNeeded: low)
            return [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        case .v6:
            return (0..<16).map { index in
                let word = index < 8 ? high : low
                return UInt8(truncatingIfNeeded: word >> (8 * (7 - UInt64(index % 8))))
            }
        }
    }

    /// The same address without its IPv6 zone.
    public var withoutZone: IPAddress {
        family == .v4 || zone == nil ? self : IPAddress(ipv6High: high, low: low)
    }

    // MARK: - Parsing

    /// Parses `text` exactly as glibc 2.36 `getaddrinfo(text, NULL, AI_NUMERICHOST)` does, and
    /// yields the address it would return; `nil` where it would fail.
    ///
    /// - IPv4 in every `inet_aton` form: 1 to 4 parts separated by dots, each decimal, octal
    ///   (leading `0`) or hexadecimal (`0x`); every part but the last is one byte, and the last
    ///   fills the remaining bytes (`127.1`, `0x7f.1`, `2130706433`, `0127.0.0.1` = 87.0.0.1, `0`).
    ///   No sign, no whitespace, no trailing dot (`127.0.0.1.` is a name for glibc).
    /// - IPv6 as `inet_pton` (RFC 4291 text, embedded dotted quad last), optionally followed by
    ///   `%zone`. As in glibc, the zone of a link-local or link-/node-local multicast address may
    ///   name an interface of this machine (`if_nametoindex`); otherwise, and as a fallback, it
    ///   must be a decimal number below 2³² (digits only; leading zeros pass).
    ///
    /// One deliberate difference: text containing NUL is refused, where C would silently stop
    /// reading at the NUL (egress-anchors §6 #69).
    public init?(numericHost text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress.parseNumericHost($0) }) else { return nil }
        self = parsed
    }

    /// Parses canonical text as `inet_pton` does: a dotted quad of four decimal bytes without
    /// leading zeros, or RFC 4291 IPv6 text. No zone, no short or octal forms.
    public init?(strict text: String) {
        var text = text
        guard let parsed = text.withUTF8({ IPAddress.parseStrict($0) }) else { return nil }
        self = parsed
    }

    /// `init?(numericHost:)` on UTF-8 bytes.
    static func parseNumericHost(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if let value = parseInetAton(text) {
            return IPAddress(ipv4: value)
        }
        guard !text.isEmpty, !text.contains(0) else { return nil }
        guard let percent = text.firstIndex(of: UInt8(ascii: "%")) else {
            return parseInet6(text[...]).map { IPAddress(ipv6High: $0.high, low: $0.low) }
        }
        guard let words = parseInet6(text[..<percent]) else { return nil }
        let zoneBytes = UnsafeBufferPointer(rebasing: text[(percent + 1)...])
        guard let scope = scopeID(zone: zoneBytes, high: words.high) else { return nil }
        return IPAddress(ipv6High: words.high, low: words.low, zone: String(decoding: zoneBytes, as: UTF8.self),
                         scopeID: scope)
    }

    /// `init?(strict:)` on UTF-8 bytes.
    static func parseStrict(_ text: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if let value = parseInet4Strict(text[...]) {
            return IPAddress(ipv4: value)
        }
        return parseInet6(text[...]).map { IPAddress(ipv6High: $0.high, low: $0.low) }
    }

    /// glibc's `__inet_aton_exact`: the whole text must be one `inet_aton` address.
    static func parseInetAton(_ text: UnsafeBufferPointer<UInt8>) -> UInt32? {
        let count = text.count
        var index = 0
        var parts: UInt32 = 0
        var partCount = 0
        while true {
            // Each part starts with a digit: this is what rules out signs and whitespace, which
            // `strtoul` itself would skip.
            guard index < count, isDecimalDigit(text[index]) else { return nil }
            var value: UInt64 = 0
            if text[index] == UInt8(ascii: "0"), index + 2 < count,
               text[index + 1] | 0x20 == UInt8(ascii: "x"), hexValue(text[index + 2]) != nil {
                // `strtoul(…, 0)` reads "0x" as a hex prefix only when a hex digit follows;
                // otherwise it reads the "0" alone and stops at the "x".
                index += 2
                while index < count, let digit = hexValue(text[index]) {
                    value = value << 4 | UInt64(digit)
                    if value > 0xffff_ffff { return nil }
                    index += 1
                }
            } else if text[index] == UInt8(ascii: "0") {
                while index < count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "7") {
                    value = value << 3 | UInt64(text[index] - UInt8(ascii: "0"))
                    if value > 0xffff_ffff { return nil }
                    index += 1
                }
            } else {
                while index < count, isDecimalDigit(text[index]) {
                    value = value * 10 + UInt64(text[index] - UInt8(ascii: "0"))
                    if value > 0xffff_ffff { return nil }
                    index += 1
                }
            }
            if index < count, text[index] == UInt8(ascii: ".") {
                guard partCount < 3, value <= 0xff else { return nil }
                parts |= UInt32(value) << (24 - 8 * UInt32(partCount))
                partCount += 1
                index += 1
                continue
            }
            guard index == count else { return nil }
            // The last part fills the bytes the earlier parts left: 32, 24, 16 or 8 bits.
            guard value <= UInt64(0xffff_ffff) >> (8 * UInt64(partCount)) else { return nil }
            return parts | UInt32(value)
        }
    }

    /// glibc's `inet_pton4`: exactly four decimal bytes, no leading zeros.
    static func parseInet4Strict(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> UInt32? {
        var result: UInt32 = 0
        var octets = 0
        var current: UInt32 = 0
        var sawDigit = false
        for byte in text {
            if isDecimalDigit(byte) {
                if sawDigit && current == 0 { return nil }
                current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
                if current > 255 { return nil }
                if !sawDigit {
                    octets += 1
                    if octets > 4 { return nil }
                    sawDigit = true
                }
            } else if byte == UInt8(ascii: "."), sawDigit {
                if octets == 4 { return nil }
                result = result << 8 | current
                current = 0
                sawDigit = false
            } else {
                return nil
            }
        }
        guard octets == 4, sawDigit else { return nil }
        return result << 8 | current
    }

    /// glibc's `inet_pton6` (RFC 4291 text; a dotted quad may end it).
    static func parseInet6(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> (high: UInt64, low: UInt64)? {
        var groups = (UInt16(0), UInt16(0), UInt16(0), UInt16(0), UInt16(0), UInt16(0), UInt16(0), UInt16(0))
        return withUnsafeMutableBytes(of: &groups) { raw -> (high: UInt64, low: UInt64)? in
            let out = raw.bindMemory(to: UInt16.self)
            var filled = 0          // groups written so far
            var gap: Int?           // where "::" stands
            var index = text.startIndex
            let end = text.endIndex
            guard index < end else { return nil }
            if text[index] == UInt8(ascii: ":") {
                index += 1
                guard index < end, text[index] == UInt8(ascii: ":") else { return nil }
            }
            var tokenStart = index
            var digits = 0
            var value: UInt32 = 0
            while index < end {
                let byte = text[index]
                index += 1
                if let digit = hexValue(byte) {
                    if digits == 4 { return nil }
                    value = value << 4 | UInt32(digit)
                    digits += 1
                    continue
                }
                if byte == UInt8(ascii: ":") {
                    tokenStart = index
                    if digits == 0 {
                        if gap != nil { return nil }
                        gap = filled
                        continue
                    } else if index == end {
                        return nil
                    }
                    if filled == 8 { return nil }
                    out[filled] = UInt16(value)
                    filled += 1
                    digits = 0
                    value = 0
                    continue
                }
                if byte == UInt8(ascii: "."), filled <= 6,
                   let v4 = parseInet4Strict(text[tokenStart..<end]) {
                    out[filled] = UInt16(v4 >> 16)
                    out[filled + 1] = UInt16(v4 & 0xffff)
                    filled += 2
                    digits = 0
                    break
                }
                return nil
            }
            if digits > 0 {
                if filled == 8 { return nil }
                out[filled] = UInt16(value)
                filled += 1
            }
            if let gap {
                // "::" must stand for at least one group.
                if filled == 8 { return nil }
                let tail = filled - gap
                let shift = 8 - filled
                var moved = tail - 1
                while moved >= 0 {
                    out[gap + shift + moved] = out[gap + moved]
                    moved -= 1
                }
                for zeroed in gap..<(gap + shift) { out[zeroed] = 0 }
                filled = 8
            }
            guard filled == 8 else { return nil }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for group in 0..<4 { high = high << 16 | UInt64(out[group]) }
            for group in 4..<8 { low = low << 16 | UInt64(out[group]) }
            return (high, low)
        }
    }

    /// glibc's `__inet6_scopeid_pton`: an interface name for link-local and link-/node-local
    /// multicast addresses, otherwise (and as a fallback) a decimal number below 2³².
    static func scopeID(zone: UnsafeBufferPointer<UInt8>, high: UInt64) -> UInt32? {
        let isLinkLocal = high >> 54 == 0x3fa                          // fe80::/10
        let isScopedMulticast = high >> 56 == 0xff && (high >> 48 & 0xf == 1 || high >> 48 & 0xf == 2)
        if isLinkLocal || isScopedMulticast, !zone.isEmpty {
            let name = String(decoding: zone, as: UTF8.self)
            let index = if_nametoindex(name)
            if index > 0 { return index }
        }
        // A decimal number below 2³². glibc 2.36 refuses the whitespace and sign that a bare
        // `strtoul` would skip (checked by the differential test), and accepts leading zeros.
        guard !zone.isEmpty, zone.allSatisfy(isDecimalDigit) else { return nil }
        var value: UInt64 = 0
        for digit in zone {
            value = value * 10 + UInt64(digit - UInt8(ascii: "0"))
            if value > UInt64(UInt32.max) { return nil }
        }
        return UInt32(value)
    }

    // MARK: - Text

    /// The canonical text: a dotted quad for IPv4; RFC 5952 for IPv6 (lowercase, no leading
    /// zeros, the longest run of two or more zero groups as `::`, IPv4-mapped addresses as
    /// `::ffff:a.b.c.d`), followed by `%zone` when there is one.
    public var description: String {
        switch family {
        case .v4:
            return IPAddress.dottedQuad(UInt32(truncatingIfNeeded: low))
        case .v6:
            var text = IPAddress.rfc5952(high: high, low: low)
            if let zone { text += "%" + zone }
            return text
        }
    }

    static func dottedQuad(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    static func rfc5952(high: UInt64, low: UInt64) -> String {
        // RFC 5952 §5: the IPv4-mapped prefix is written with a dotted quad.
        if high == 0, low >> 32 == 0xffff {
            return "::ffff:" + dottedQuad(UInt32(truncatingIfNeeded: low))
        }
        let groups = (0..<8).map { index -> UInt16 in
            let word = index < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (16 * (3 - UInt64(index % 4))))
        }
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        var index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if !text.isEmpty, !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }
}

// MARK: - Byte helpers shared by the network parsers

@inline(__always)
func isDecimalDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
