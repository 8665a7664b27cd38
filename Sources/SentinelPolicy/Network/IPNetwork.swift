// CIDR networks for `network_failsafe.blocked_ips` / `allowed_ips` and for the classifier's
// table of special-purpose ranges.

/// An IPv4 or IPv6 network: an address with its host bits cleared and a prefix length.
///
/// Parsing masks host bits (`10.1.2.3/8` is `10.0.0.0/8`), as Python's
/// `ip_network(…, strict=False)` did in the original system, so a policy written for it keeps
/// its meaning. `contains(_:)` compares within one family only: an IPv4-mapped IPv6 address is
/// not inside an IPv4 network here (`AddressClassifier` is what decodes embedded IPv4).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the network (host bits cleared, no zone).
    public let address: IPAddress
    /// The prefix length: 0–32 for IPv4, 0–128 for IPv6.
    public let prefixLength: Int

    /// The network of `address` with `prefixLength` bits (host bits are cleared, the zone is
    /// dropped). The prefix length is clamped to the family's width.
    public init(address: IPAddress, prefixLength: Int) {
        let width = address.isIPv4 ? 32 : 128
        let length = max(0, min(prefixLength, width))
        self.prefixLength = length
        switch address.family {
        case .v4:
            let mask = IPNetwork.mask32(length)
            self.address = IPAddress(ipv4: (address.ipv4Value ?? 0) & mask)
        case .v6:
            let words = address.ipv6Words ?? (0, 0)
            let (maskHigh, maskLow) = IPNetwork.mask128(length)
            self.address = IPAddress(ipv6High: words.high & maskHigh, low: words.low & maskLow)
        }
    }

    /// Parses `a.b.c.d`, `a.b.c.d/n`, an IPv6 address, or `ipv6/n`. An address without a
    /// prefix is a single-address network (/32 or /128). Addresses must be canonical
    /// (`inet_pton` rules: no octal, hex or short IPv4 forms, no zone), and the prefix is a
    /// decimal number within the family's width.
    public init(parsing text: String) throws(NetworkParseError) {
        guard !text.isEmpty else {
            throw NetworkParseError(code: .empty, input: text, message: "the network is empty; write an address such as 10.0.0.0/8")
        }
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw NetworkParseError(code: .malformed, input: text, message: "there is more than one \"/\"")
        }
        let addressText = String(parts[0])
        guard let address = IPAddress(strict: addressText) else {
            let hint: String
            if addressText.contains("%") {
                hint = "a network cannot carry an IPv6 zone"
            } else if let glibcReading = IPAddress(numericHost: addressText) {
                hint = "write it in canonical form (\(glibcReading)); octal, hex and short forms are ambiguous"
            } else {
                hint = "it is not an IPv4 or IPv6 address"
            }
            throw NetworkParseError(code: .invalidAddress, input: text, message: "\"\(addressText)\" is not a valid address: \(hint)")
        }
        let width = address.isIPv4 ? 32 : 128
        guard parts.count == 2 else {
            self.init(address: address, prefixLength: width)
            return
        }
        let prefixText = parts[1]
        guard !prefixText.isEmpty, prefixText.utf8.count <= 3, prefixText.utf8.allSatisfy(isDecimalDigit),
              let length = Int(prefixText) else {
            throw NetworkParseError(code: .invalidPrefix, input: text, message:
                "the prefix length \"\(prefixText)\" is not a number from 0 to \(width)")
        }
        guard length <= width else {
            throw NetworkParseError(code: .invalidPrefix, input: text, message:
                "prefix length \(length) is larger than \(width) for \(address.isIPv4 ? "IPv4" : "IPv6")")
        }
        self.init(address: address, prefixLength: length)
    }

    /// Whether `address` is inside this network. Addresses of the other family never are; the
    /// zone of `address` is ignored.
    public func contains(_ address: IPAddress) -> Bool {
        guard address.family == self.address.family else { return false }
        switch address.family {
        case .v4:
            let mask = IPNetwork.mask32(prefixLength)
            return (address.ipv4Value ?? 0) & mask == (self.address.ipv4Value ?? 0)
        case .v6:
            let (maskHigh, maskLow) = IPNetwork.mask128(prefixLength)
            return address.high & maskHigh == self.address.high && address.low & maskLow == self.address.low
        }
    }

    /// `10.0.0.0/8`, `fc00::/7`.
    public var description: String { "\(address)/\(prefixLength)" }

    static func mask32(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    static func mask128(_ length: Int) -> (UInt64, UInt64) {
        if length == 0 { return (0, 0) }
        if length <= 64 { return (UInt64.max << UInt64(64 - length), 0) }
        if length == 128 { return (UInt64.max, UInt64.max) }
        return (UInt64.max, UInt64.max << UInt64(128 - length))
    }
}

/// Why text is not a network.
public struct NetworkParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Code: String, Sendable, Hashable {
        /// Nothing was written.
        case empty
        /// More than one `/`.
        case malformed
        /// The part before `/` is not a canonical address.
        case invalidAddress
        /// The prefix length is not a number within the family's width.
        case invalidPrefix
    }

    /// What was wrong.
    public let code: Code
    /// The text that was parsed.
    public let input: String
    /// What was wrong with it, without the input.
    public let message: String

    /// Creates an error.
    public init(code: Code, input: String, message: String) {
        self.code = code
        self.input = input
        self.message = message
    }

    /// `"10.0.0.0/33": prefix length 33 is larger than 32 for IPv4`.
    public var description: String { "\"\(input)\": \(message)" }
}
