// One host-name normaliser for every place a host appears: `allowed_hosts` entries at load
// time, URL hosts, CONNECT targets and hosts passed to `connect`. Matching and dialling then see
// the same text, which is what closes the parser-differential and Unicode tricks of
// egress-anchors §6 #60–#75.

#if canImport(Glibc)
import Glibc
import CFoundationICU
#endif

/// A host after normalisation: either a DNS name (ASCII, lowercase, no trailing dot) or an IP
/// address.
public enum NormalizedHost: Hashable, Sendable, CustomStringConvertible {
    /// A DNS name: ASCII letters, digits, `-` and `.` only, lowercase, without a trailing dot,
    /// internationalised labels in punycode (`xn--…`).
    case name(String)
    /// An IP address (from numeric text, as glibc reads it, or a bracketed IPv6 literal).
    case address(IPAddress)

    /// The name, if this is a name.
    public var name: String? {
        if case .name(let name) = self { return name }
        return nil
    }

    /// The address, if this is an address.
    public var address: IPAddress? {
        if case .address(let address) = self { return address }
        return nil
    }

    /// The host as a URL or `Host` header writes it: the name, a dotted quad, or a bracketed
    /// IPv6 address (`[::1]`).
    public var uriHost: String {
        switch self {
        case .name(let name): name
        case .address(let address): address.isIPv4 ? address.description : "[\(address)]"
        }
    }

    /// The name, or the canonical address text (IPv6 without brackets).
    public var description: String {
        switch self {
        case .name(let name): name
        case .address(let address): address.description
        }
    }
}

/// The host-name normaliser.
public enum HostName {
    /// Whether this process can convert internationalised names (ICU's UTS #46 from Swift's
    /// Foundation was found). Without it, names with non-ASCII characters are refused; for
    /// `sentinel doctor`.
    public static var isIDNAAvailable: Bool { IDNA.isAvailable }

    /// Normalises a host the way every part of Sentinel Guard reads hosts.
    ///
    /// In order:
    /// 1. Empty text, NUL, control characters (C0, DEL, C1) and whitespace are refused.
    /// 2. `[…]` must hold an IPv6 address (optionally with `%zone`); it becomes `.address`.
    /// 3. Text that glibc's `getaddrinfo(AI_NUMERICHOST)` reads as an address (`127.1`,
    ///    `0x7f000001`, `::1`, `fe80::1%eth0`; see `IPAddress.init?(numericHost:)`) becomes
    ///    `.address`, holding the very address glibc would dial.
    /// 4. Otherwise it is a name: `%`, `@`, `\` and `/` are refused; a name with non-ASCII
    ///    characters goes through IDNA (UTS #46 ToASCII, nontransitional, STD3 rules, CheckBidi
    ///    and CheckJoiners, hyphen-position errors tolerated as in WHATWG), so `U+3002` becomes
    ///    `.`, `ⓔⓧⓐⓜⓟⓛⓔ.com` becomes `example.com` and a Cyrillic `а` gives `xn--…` punycode.
    ///    ASCII text never reaches IDNA: it is only lowercased.
    /// 5. One trailing dot is removed; the result must be made of `[a-z0-9.-]` only, with no
    ///    empty label, labels of at most 63 octets and at most 253 octets in all.
    /// 6. A name whose last label is a number (`127.0.0.1.`, `1.2.3.256`, `foo.0x1`) is refused:
    ///    no top-level domain is numeric, and the WHATWG URL parser reads such a host as an IPv4
    ///    address while glibc reads it as a name (egress-anchors §6 #75).
    public static func normalize(_ raw: String) throws(HostNameError) -> NormalizedHost {
        var text = raw
        // `withUTF8` only rethrows untyped errors, hence the `Result`.
        return try text.withUTF8 { bytes in
            Result { () throws(HostNameError) in try normalize(bytes: bytes, original: raw) }
        }.get()
    }

    /// `normalize(_:)` on UTF-8 bytes; `original` is the text used in error messages and, when
    /// the name needs no change, returned as is (so the common case does not allocate).
    static func normalize(bytes: UnsafeBufferPointer<UInt8>, original: String?) throws(HostNameError) -> NormalizedHost {
        func fail(_ code: HostNameError.Code, _ reason: String) -> HostNameError {
            HostNameError(code: code, host: original ?? String(decoding: bytes, as: UTF8.self), reason: reason)
        }
        guard !bytes.isEmpty else { throw fail(.empty, "it is empty") }

        var hasNonASCII = false
        var needsLowercase = false
        for byte in bytes {
            switch byte {
            case 0:
                throw fail(.forbiddenCharacter, "it contains a NUL byte, which C functions would read as its end")
            case 0x01..<0x20, 0x7f:
                throw fail(.forbiddenCharacter, "it contains the control character \(codePoint(byte))")
            case 0x20:
                throw fail(.forbiddenCharacter, "it contains a space")
            case 0x41...0x5a:
                needsLowercase = true
            case 0x80...:
                hasNonASCII = true
            default:
                break
            }
        }

        // A bracketed IPv6 literal, as in a URL or a CONNECT target.
        if bytes[0] == UInt8(ascii: "[") {
            guard bytes.count >= 2, bytes[bytes.count - 1] == UInt8(ascii: "]") else {
                throw fail(.invalidAddress, "it opens a \"[\" it does not close")
            }
            let inner = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - 1)])
            guard let address = IPAddress.parseNumericHost(inner), address.isIPv6 else {
                throw fail(.invalidAddress, "the text in brackets is not an IPv6 address")
            }
            return .address(address)
        }

        if !hasNonASCII, let address = IPAddress.parseNumericHost(bytes) {
            return .address(address)
        }

        for byte in bytes {
            switch byte {
            case UInt8(ascii: "%"):
                throw fail(.forbiddenCharacter, "it contains \"%\" (percent-encoding and zones belong only to IP addresses)")
            case UInt8(ascii: "@"):
                throw fail(.forbiddenCharacter, "it contains \"@\" (user information is not part of a host)")
            case UInt8(ascii: "\\"):
                throw fail(.forbiddenCharacter, "it contains a backslash")
            case UInt8(ascii: "/"):
                throw fail(.forbiddenCharacter, "it contains \"/\"")
            default:
                break
            }
        }

        if hasNonASCII {
            let unicode = String(decoding: bytes, as: UTF8.self)
            // C1 controls, Unicode whitespace (U+3000…) and U+FFFD (what invalid UTF-8 decodes
            // to) are refused here; everything else is IDNA's to map or refuse.
            for scalar in unicode.unicodeScalars where scalar.value >= 0x80 {
                if scalar.value < 0xa0 || scalar == "\u{FFFD}" || scalar.properties.isWhitespace {
                    throw fail(.forbiddenCharacter, "it contains \(codePoint(scalar)), which is not allowed in a host name")
                }
            }
            let ascii = try IDNA.toASCII(unicode, host: original ?? unicode)
            var asciiCopy = ascii
            return try asciiCopy.withUTF8 { converted in
                Result { () throws(HostNameError) in try finishName(converted, original: original ?? unicode, reuse: nil) }
            }.get()
        }
        return try finishName(bytes, original: original, reuse: needsLowercase ? nil : original)
    }

    /// Steps 5 and 6 of `normalize` on ASCII bytes.
    /// `original` (for messages) defaults to `input`, decoded only when there is an error.
    static func finishName(_ input: UnsafeBufferPointer<UInt8>, original: String?,
                           reuse: String?) throws(HostNameError) -> NormalizedHost {
        func fail(_ code: HostNameError.Code, _ reason: String) -> HostNameError {
            HostNameError(code: code, host: original ?? String(decoding: input, as: UTF8.self), reason: reason)
        }
        var count = input.count
        var strippedDot = false
        if count > 0, input[count - 1] == UInt8(ascii: ".") {
            count -= 1
            strippedDot = true
        }
        guard count > 0 else { throw fail(.emptyLabel, "it has no labels") }
        guard count <= 253 else { throw fail(.tooLong, "it is \(count) octets long; a host name has at most 253") }

        var labelStart = 0
        var lastLabelStart = 0
        for index in 0...count {
            let byte: UInt8 = index < count ? input[index] : UInt8(ascii: ".")
            switch byte {
            case UInt8(ascii: "."):
                let length = index - labelStart
                if length == 0 { throw fail(.emptyLabel, "it has an empty label (two dots in a row, or a leading dot)") }
                if length > 63 { throw fail(.labelTooLong, "a label is \(length) octets long; the limit is 63") }
                lastLabelStart = labelStart
                labelStart = index + 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                break
            default:
                throw fail(.invalidCharacter,
                           "it contains \(codePoint(byte)); a host name may contain only letters, digits, \"-\" and \".\"")
            }
        }

        let last = UnsafeBufferPointer(rebasing: input[lastLabelStart..<count])
        if isNumericLabel(last) {
            throw fail(.numericLastLabel, "its last label \"\(String(decoding: last, as: UTF8.self))\" is a number, "
                + "so it reads as an IPv4 address to some parsers and as a name to others; "
                + "write an IP address without a trailing dot")
        }

        if let reuse, !strippedDot { return .name(reuse) }
        let lowered = String(unsafeUninitializedCapacity: count) { buffer in
            for index in 0..<count {
                let byte = input[index]
                buffer[index] = byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte
            }
            return count
        }
        return .name(lowered)
    }

    /// Whether a label is all decimal digits, or `0x` followed by hex digits (WHATWG's
    /// "ends in a number").
    static func isNumericLabel(_ label: UnsafeBufferPointer<UInt8>) -> Bool {
        if label.allSatisfy(isDecimalDigit) { return true }
        if label.count >= 2, label[0] == UInt8(ascii: "0"), label[1] | 0x20 == UInt8(ascii: "x") {
            return label.dropFirst(2).allSatisfy { hexValue($0) != nil }
        }
        return false
    }

    static func codePoint(_ byte: UInt8) -> String {
        codePoint(Unicode.Scalar(byte))
    }

    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let padded = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        if scalar.value >= 0x21 && scalar.value < 0x7f { return "\"\(Character(scalar))\" (U+\(padded))" }
        return "U+\(padded)"
    }
}

/// Why a host could not be normalised.
public struct HostNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Code: String, Sendable, Hashable {
        /// Nothing was written.
        case empty
        /// NUL, a control character, whitespace, `%`, `@`, `\` or `/`.
        case forbiddenCharacter
        /// After IDNA, a character other than a letter, digit, `-` or `.`.
        case invalidCharacter
        /// Two dots in a row, a leading dot, or nothing but a dot.
        case emptyLabel
        /// A label longer than 63 octets.
        case labelTooLong
        /// A name longer than 253 octets.
        case tooLong
        /// The last label is a number (the name looks like an IPv4 address).
        case numericLastLabel
        /// Brackets that do not hold an IPv6 address.
        case invalidAddress
        /// IDNA (UTS #46) refused the name.
        case idnaFailed
        /// The name needs IDNA and this build has no IDNA engine.
        case idnaUnavailable
    }

    /// What was wrong.
    public let code: Code
    /// The host as it was given.
    public let host: String
    /// Why it was refused, without the host.
    public let reason: String

    /// Creates an error.
    public init(code: Code, host: String, reason: String) {
        self.code = code
        self.host = host
        self.reason = reason
    }

    /// "the host \"a b.com\" is not valid: it contains a space".
    public var description: String {
        "the host \(HostNameError.quoted(host)) is not valid: \(reason)"
    }

    /// The text in quotes with control characters, quotes and backslashes escaped, so a
    /// message (and the audit record holding it) stays on one line.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x00..<0x20, 0x7f..<0xa0, 0x2028, 0x2029: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

// MARK: - IDNA through the ICU that ships with Swift's Foundation

/// UTS #46 ToASCII, with the ICU library that Swift's Foundation ships on Linux
/// (`lib_FoundationICU`, whose entry points carry a `swift_` prefix), declared in the
/// `CFoundationICU` system-library module and linked directly, so static builds have it too.
enum IDNA {
    private static let useSTD3Rules: UInt32 = 0x2
    private static let checkBidi: UInt32 = 0x4
    private static let checkContextJ: UInt32 = 0x8
    private static let nontransitionalToASCII: UInt32 = 0x10
    /// UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN | UIDNA_ERROR_HYPHEN_3_4:
    /// tolerated, as WHATWG's CheckHyphens=false does, so ASCII and Unicode names agree.
    private static let toleratedErrors: UInt32 = 0x8 | 0x10 | 0x20

    /// The UTS #46 converter (thread-safe for concurrent use, per ICU).
    private struct Engine: @unchecked Sendable {
        // @unchecked: `idna` is an immutable ICU object that ICU documents as thread-safe.
        let idna: OpaquePointer
    }

    private static let engine: Engine? = {
        var status: Int32 = 0
        guard let idna = swift_uidna_openUTS46(useSTD3Rules | checkBidi | checkContextJ | nontransitionalToASCII, &status),
              status <= 0 else { return nil }
        return Engine(idna: idna)
    }()

    /// Whether an IDNA engine is available in this process.
    static var isAvailable: Bool { engine != nil }

    /// UTS #46 ToASCII of `name`; throws when ICU reports any error other than hyphen placement.
    static func toASCII(_ name: String, host: String) throws(HostNameError) -> String {
        guard let engine else {
            throw HostNameError(code: .idnaUnavailable, host: host, reason:
                "it has non-ASCII characters and this build has no IDNA engine (ICU); write it in punycode (xn--…)")
        }
        let capacity: Int32 = 1024
        var status: Int32 = 0
        var info = SentinelUIDNAInfo()
        info.size = Int16(MemoryLayout<SentinelUIDNAInfo>.size)
        var output = [CChar](repeating: 0, count: Int(capacity))
        let length = name.utf8CString.withUnsafeBufferPointer { input in
            swift_uidna_nameToASCII_UTF8(engine.idna, input.baseAddress, Int32(input.count - 1), &output, capacity, &info, &status)
        }
        let errors = info.errors & ~toleratedErrors
        guard status <= 0, length >= 0, length < capacity else {
            throw HostNameError(code: .idnaFailed, host: host, reason: "IDNA conversion failed (ICU status \(status))")
        }
        guard errors == 0 else {
            throw HostNameError(code: .idnaFailed, host: host, reason:
                "IDNA (UTS #46) refuses it: \(describe(errors))")
        }
        return String(decoding: output[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names of the UIDNA error bits that are set.
    static func describe(_ errors: UInt32) -> String {
        let names: [(UInt32, String)] = [
            (0x1, "an empty label"), (0x2, "a label longer than 63 octets"), (0x4, "a name longer than 253 octets"),
            (0x40, "a label starting with a combining mark"), (0x80, "a character not allowed in host names"),
            (0x100, "invalid punycode"), (0x200, "a label containing a dot"), (0x400, "an invalid xn-- label"),
            (0x800, "mixed-direction text (Bidi rule)"), (0x1000, "a misplaced zero-width joiner or non-joiner"),
            (0x2000, "misplaced contextual punctuation"), (0x4000, "mixed Arabic-Indic digits"),
        ]
        let found = names.filter { errors & $0.0 != 0 }.map(\.1)
        return found.isEmpty ? "error bits 0x\(String(errors, radix: 16))" : found.joined(separator: ", ")
    }
}
