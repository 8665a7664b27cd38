// The one URL and authority parser of the policy engine.
//
// Parser differentials (egress-anchors §6 #60–#69) exist because two parsers read one URL
// differently: the check sees `allowed.com`, the client dials `evil.com`. This parser is
// strict RFC 3986 for the parts that decide where a connection goes, and refuses every
// construct on which common parsers disagree instead of picking one reading.

/// Where a request goes: scheme, normalised host, effective port and path.
///
/// Built by `parse(url:)` (absolute URLs, HTTP absolute-form request targets) or
/// `parse(authority:)` (CONNECT targets and `host:port` pairs).
public struct RequestTarget: Hashable, Sendable, CustomStringConvertible {
    /// The scheme, lowercased (`https`); `nil` for an authority (`host:port`).
    public let scheme: String?
    /// The host, normalised by `HostName.normalize`.
    public let host: NormalizedHost
    /// The port the connection goes to: the explicit one, else the scheme's default.
    public let port: UInt16
    /// Whether the port was written in the text (rather than taken from the scheme).
    public let hasExplicitPort: Bool
    /// The path as written (not decoded), `/` when the URL has none; empty for an authority.
    public let path: String
    /// The query as written, without `?`; `nil` when there is none. The fragment is dropped.
    public let query: String?

    /// Creates a target from its parts.
    public init(scheme: String?, host: NormalizedHost, port: UInt16, hasExplicitPort: Bool, path: String,
                query: String?) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.hasExplicitPort = hasExplicitPort
        self.path = path
        self.query = query
    }

    /// The default port of a scheme: 80 for `http` and `ws`, 443 for `https` and `wss`; `nil`
    /// for any other scheme, which must then name its port.
    public static func defaultPort(forScheme scheme: String) -> UInt16? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }

    /// `https://example.com:443/path` or `example.com:443`.
    public var description: String {
        guard let scheme else { return "\(host.uriHost):\(port)" }
        var text = "\(scheme)://\(host.uriHost):\(port)\(path)"
        if let query { text += "?" + query }
        return text
    }

    // MARK: - Parsing

    /// Parses an absolute URL: `scheme://host[:port][/path][?query][#fragment]`.
    ///
    /// Refused, each with its own sentence:
    /// - NUL, control characters, whitespace and backslashes anywhere (WHATWG reads `\` as `/`,
    ///   RFC 3986 parsers as data: #62, #63, #68);
    /// - userinfo of any kind: an `@` anywhere between `//` and the first `/` of the path,
    ///   including in a query or fragment that directly follows the host (#60, #61, #64–#66);
    /// - a missing `//authority`, a missing or empty host, an empty port, a port that is not a
    ///   decimal number from 1 to 65535 (#80), an unbracketed IPv6 address;
    /// - a scheme without a default port (anything but http, https, ws, wss) and no port.
    ///
    /// Percent-encoded hosts are decoded, then normalised like any other host: `127%2E0%2E0%2E1`
    /// is 127.0.0.1 (#14), `%00` is NUL and refused (#69), `%40` is `@` and refused (#67), and a
    /// double encoding such as `%2541` leaves a `%`, which is refused. RFC 6874 zones are written
    /// `[fe80::1%25eth0]`.
    public static func parse(url: String) throws(TargetError) -> RequestTarget {
        var text = url
        return try text.withUTF8 { bytes in
            Result { () throws(TargetError) in try parseURL(bytes, input: url) }
        }.get()
    }

    /// Parses an authority, `host:port`, as in a CONNECT request or a `connect` target:
    /// the port is required, an IPv6 address is bracketed (`[::1]:443`), and there is no
    /// userinfo, path, query or fragment. The host is decoded and normalised as in `parse(url:)`.
    public static func parse(authority: String) throws(TargetError) -> RequestTarget {
        var text = authority
        return try text.withUTF8 { bytes in
            Result { () throws(TargetError) in try parseAuthorityForm(bytes, input: authority) }
        }.get()
    }

    /// Where an absolute URL goes, without its path and query: what a URL decision needs.
    struct Destination {
        var scheme: String
        var host: NormalizedHost
        var port: UInt16
        var hasExplicitPort: Bool
        /// Where the path (or query, or fragment) begins.
        var authorityEnd: Int
    }

    /// Parses an absolute URL as `parse(url:)` does — the same checks over the whole text, so
    /// the same URLs are refused with the same errors — but builds no path or query string: a
    /// URL decision runs for every request and needs only scheme, host and port.
    static func parseDestination(url: String) throws(TargetError) -> Destination {
        var text = url
        return try text.withUTF8 { bytes in
            Result { () throws(TargetError) in try parseDestination(bytes, input: url) }
        }.get()
    }

    static func parseURL(_ bytes: UnsafeBufferPointer<UInt8>, input: String) throws(TargetError) -> RequestTarget {
        let destination = try parseDestination(bytes, input: input)
        let authorityEnd = destination.authorityEnd
        var pathEnd = authorityEnd
        while pathEnd < bytes.count, bytes[pathEnd] != UInt8(ascii: "?"), bytes[pathEnd] != UInt8(ascii: "#") {
            pathEnd += 1
        }
        let path = pathEnd == authorityEnd
            ? "/" : String(decoding: UnsafeBufferPointer(rebasing: bytes[authorityEnd..<pathEnd]), as: UTF8.self)
        var query: String?
        if pathEnd < bytes.count, bytes[pathEnd] == UInt8(ascii: "?") {
            var queryEnd = pathEnd + 1
            while queryEnd < bytes.count, bytes[queryEnd] != UInt8(ascii: "#") { queryEnd += 1 }
            query = String(decoding: UnsafeBufferPointer(rebasing: bytes[(pathEnd + 1)..<queryEnd]), as: UTF8.self)
        }
        return RequestTarget(scheme: destination.scheme, host: destination.host, port: destination.port,
                             hasExplicitPort: destination.hasExplicitPort, path: path, query: query)
    }

    static func parseDestination(_ bytes: UnsafeBufferPointer<UInt8>, input: String) throws(TargetError) -> Destination {
        func fail(_ code: TargetError.Code, _ reason: String) -> TargetError {
            TargetError(code: code, input: input, kind: .url, reason: reason)
        }
        guard !bytes.isEmpty else { throw fail(.empty, "it is empty") }
        try checkForbidden(bytes, fail: fail)

        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        var index = 0
        guard isASCIILetter(bytes[0]) else {
            throw fail(.invalidScheme, "it does not start with a scheme such as \"https:\"")
        }
        while index < bytes.count, bytes[index] != UInt8(ascii: ":") {
            let byte = bytes[index]
            guard isASCIILetter(byte) || isDecimalDigit(byte) || byte == UInt8(ascii: "+")
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") else {
                throw fail(.invalidScheme, "it does not start with a scheme such as \"https:\"")
            }
            index += 1
        }
        guard index < bytes.count else { throw fail(.invalidScheme, "it has no scheme (such as \"https:\")") }
        let schemeEnd = index
        let scheme = String(unsafeUninitializedCapacity: schemeEnd) { buffer in
            for position in 0..<schemeEnd {
                let byte = bytes[position]
                buffer[position] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
            }
            return schemeEnd
        }

        index = schemeEnd + 1
        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "/"), bytes[index + 1] == UInt8(ascii: "/") else {
            throw fail(.missingAuthority, "it has no \"//\" and host after the scheme")
        }
        let authorityStart = index + 2
        var authorityEnd = authorityStart
        while authorityEnd < bytes.count {
            let byte = bytes[authorityEnd]
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") { break }
            authorityEnd += 1
        }
        // Userinfo, or text that a reader (or another parser) would take for it: an "@" before
        // the path begins, even behind "?" or "#" (`http://evil.com#@allowed.com/`).
        var position = authorityStart
        while position < bytes.count, bytes[position] != UInt8(ascii: "/") {
            if bytes[position] == UInt8(ascii: "@") {
                throw fail(.userinfo, "userinfo is not allowed (an \"@\" stands before the path)")
            }
            position += 1
        }

        let authority = UnsafeBufferPointer(rebasing: bytes[authorityStart..<authorityEnd])
        let (host, explicitPort) = try parseAuthority(authority, fail: fail)
        let port: UInt16
        if let explicitPort {
            port = explicitPort
        } else if let defaultPort = defaultPort(forScheme: scheme) {
            port = defaultPort
        } else {
            throw fail(.missingPort, "the scheme \"\(scheme)\" has no default port, so the URL must give one")
        }

        return Destination(scheme: scheme, host: host, port: port, hasExplicitPort: explicitPort != nil,
                           authorityEnd: authorityEnd)
    }

    static func parseAuthorityForm(_ bytes: UnsafeBufferPointer<UInt8>, input: String) throws(TargetError) -> RequestTarget {
        func fail(_ code: TargetError.Code, _ reason: String) -> TargetError {
            TargetError(code: code, input: input, kind: .authority, reason: reason)
        }
        guard !bytes.isEmpty else { throw fail(.empty, "it is empty") }
        try checkForbidden(bytes, fail: fail)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "@"):
                throw fail(.userinfo, "userinfo is not allowed (it contains \"@\")")
            case UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"):
                throw fail(.invalidAuthority, "an authority is only \"host:port\" (it contains \"\(Character(Unicode.Scalar(byte)))\")")
            default:
                break
            }
        }
        let (host, port) = try parseAuthority(bytes, fail: fail)
        guard let port else {
            throw fail(.missingPort, "it has no port; write host:port, with IPv6 in brackets ([::1]:443)")
        }
        return RequestTarget(scheme: nil, host: host, port: port, hasExplicitPort: true, path: "", query: nil)
    }

    /// NUL, control characters, whitespace and backslashes are refused anywhere.
    static func checkForbidden(_ bytes: UnsafeBufferPointer<UInt8>,
                               fail: (TargetError.Code, String) -> TargetError) throws(TargetError) {
        for byte in bytes {
            switch byte {
            case 0:
                throw fail(.forbiddenCharacter, "it contains a NUL byte")
            case 0x01..<0x20, 0x7f:
                throw fail(.forbiddenCharacter, "it contains the control character \(HostName.codePoint(byte))")
            case 0x20:
                throw fail(.forbiddenCharacter, "it contains a space")
            case UInt8(ascii: "\\"):
                throw fail(.forbiddenCharacter, "it contains a backslash, which some parsers read as \"/\" and others as data")
            default:
                break
            }
        }
    }

    /// `host[:port]` → the normalised host and the port, if written.
    static func parseAuthority(_ authority: UnsafeBufferPointer<UInt8>,
                               fail: (TargetError.Code, String) -> TargetError) throws(TargetError) -> (NormalizedHost, UInt16?) {
        guard !authority.isEmpty else { throw fail(.missingHost, "it has no host") }
        var hostEnd: Int
        if authority[0] == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else {
                throw fail(.invalidHost, "it opens \"[\" for an IPv6 address and does not close it")
            }
            hostEnd = close + 1
            guard hostEnd == authority.count || authority[hostEnd] == UInt8(ascii: ":") else {
                throw fail(.invalidHost, "text follows the bracketed IPv6 address that is not \":port\"")
            }
        } else {
            hostEnd = 0
            while hostEnd < authority.count, authority[hostEnd] != UInt8(ascii: ":") { hostEnd += 1 }
            if hostEnd < authority.count,
               authority[(hostEnd + 1)...].contains(UInt8(ascii: ":")) {
                throw fail(.invalidHost, "it contains more than one \":\"; an IPv6 address must be in brackets ([::1]:443)")
            }
        }
        guard hostEnd > 0 else { throw fail(.missingHost, "it has no host before the port") }

        var port: UInt16?
        if hostEnd < authority.count {
            let digits = authority[(hostEnd + 1)...]
            guard !digits.isEmpty else { throw fail(.invalidPort, "the port after \":\" is empty") }
            var value = 0
            for byte in digits {
                guard isDecimalDigit(byte) else {
                    throw fail(.invalidPort, "the port \"\(String(decoding: digits, as: UTF8.self))\" is not a number from 1 to 65535")
                }
                value = min(value * 10 + Int(byte - UInt8(ascii: "0")), 1_000_000)
            }
            guard value >= 1, value <= 65535 else {
                throw fail(.invalidPort, "the port \(String(decoding: digits, as: UTF8.self)) is outside 1–65535")
            }
            port = UInt16(value)
        }

        let hostBytes = UnsafeBufferPointer(rebasing: authority[0..<hostEnd])
        let normalized: Result<NormalizedHost, HostNameError>
        if hostBytes.contains(UInt8(ascii: "%")) {
            let decoded = try percentDecode(hostBytes, fail: fail)
            normalized = decoded.withUnsafeBufferPointer { buffer in
                Result { () throws(HostNameError) in try HostName.normalize(bytes: buffer, original: nil) }
            }
        } else {
            normalized = Result { () throws(HostNameError) in try HostName.normalize(bytes: hostBytes, original: nil) }
        }
        let host: NormalizedHost
        switch normalized {
        case .success(let value): host = value
        case .failure(let error): throw fail(.invalidHost, error.description)
        }
        return (host, port)
    }

    /// Decodes `%XX` escapes; a `%` without two hex digits after it is an error.
    static func percentDecode(_ bytes: UnsafeBufferPointer<UInt8>,
                              fail: (TargetError.Code, String) -> TargetError) throws(TargetError) -> [UInt8] {
        var decoded = [UInt8]()
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                index += 1
                continue
            }
            guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                throw fail(.invalidPercentEncoding, "the host has a \"%\" that is not followed by two hex digits")
            }
            decoded.append(high << 4 | low)
            index += 3
        }
        return decoded
    }

    @inline(__always)
    static func isASCIILetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }
}

/// Why a URL or authority was refused.
public struct TargetError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Code: String, Sendable, Hashable {
        /// Nothing was written.
        case empty
        /// NUL, a control character, whitespace or a backslash.
        case forbiddenCharacter
        /// No scheme, or a malformed one.
        case invalidScheme
        /// No `//` after the scheme.
        case missingAuthority
        /// An `@`: userinfo, or text that looks like it.
        case userinfo
        /// No host.
        case missingHost
        /// The host is not valid (the reason says why).
        case invalidHost
        /// A `%` not followed by two hex digits in the host.
        case invalidPercentEncoding
        /// An empty port, or one outside 1–65535, or not decimal.
        case invalidPort
        /// No port where one is required.
        case missingPort
        /// An authority with a path, query or fragment.
        case invalidAuthority
    }

    /// What kind of text was parsed.
    public enum Kind: String, Sendable, Hashable {
        /// An absolute URL.
        case url = "URL"
        /// A `host:port` authority.
        case authority
    }

    /// What was wrong.
    public let code: Code
    /// The text that was parsed.
    public let input: String
    /// Whether it was a URL or an authority.
    public let kind: Kind
    /// Why it was refused, without the input.
    public let reason: String

    /// Creates an error.
    public init(code: Code, input: String, kind: Kind, reason: String) {
        self.code = code
        self.input = input
        self.kind = kind
        self.reason = reason
    }

    /// "the URL \"http://a@b/\" is refused: userinfo is not allowed (…)".
    public var description: String {
        "the \(kind.rawValue) \(HostNameError.quoted(input)) is refused: \(reason)"
    }
}
