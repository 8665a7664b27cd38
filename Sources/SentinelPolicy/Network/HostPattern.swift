// `allowed_hosts` entries, compiled once when the policy loads.
//
// Semantics (egress-anchors §8.3): `*.example.com` means subdomains only, as in smokescreen;
// `.example.com` means the domain and its subdomains, as in Squid; matching is by whole labels,
// never by substring. A wildcard over a public suffix (`*.com`, `*.co.uk`, `*.github.io`) lets
// anyone who registers a name under it in, so it is refused when the policy loads (§6 #78).

// `HostMatchMode` (exact / subdomain) is part of the policy document: Model/PolicyDocument.swift.

/// One compiled `allowed_hosts` entry.
///
/// | entry | `exact` | `subdomain` |
/// |---|---|---|
/// | `api.example.com` | `api.example.com` | `api.example.com` and `*.api.example.com` |
/// | `*.example.com` | names under `example.com`, never `example.com` itself | same |
/// | `.example.com` | `example.com` and names under it | same |
/// | `*` | every host (the address gate still applies) | same |
/// | `10.0.0.1`, `[::1]`, `::1` | that address only | same |
///
/// Entries are normalised with `HostName.normalize` (case, one trailing dot, IDNA), so
/// `API.Example.COM.` and `api.example.com` are the same entry. A wildcard (`*.x`), a leading
/// dot (`.x`) or `subdomain` mode on a base that is a public suffix, that has public suffixes
/// under it, or that is a wildcard-DNS service (`nip.io`) is refused.
public struct HostPattern: Hashable, Sendable, CustomStringConvertible {
    /// What an entry matches.
    public enum Kind: Hashable, Sendable {
        /// Every host.
        case any
        /// This name only.
        case exact(String)
        /// Names under this domain, not the domain itself (`*.example.com`).
        case subdomainsOnly(String)
        /// This domain and names under it (`.example.com`, or a name in `subdomain` mode).
        case domainAndSubdomains(String)
        /// This address only.
        case address(IPAddress)
    }

    /// The entry as written in the policy.
    public let entry: String
    /// What it matches.
    public let kind: Kind

    /// Compiles an `allowed_hosts` entry; `match` applies to plain names only.
    public init(entry: String, match: HostMatchMode = .exact) throws(HostPatternError) {
        self.entry = entry
        func fail(_ code: HostPatternError.Code, _ reason: String) -> HostPatternError {
            HostPatternError(code: code, entry: entry, reason: reason)
        }
        if entry == "*" {
            kind = .any
            return
        }
        var base = Substring(entry)
        var form: Kind?
        if entry.hasPrefix("*.") {
            base = base.dropFirst(2)
            form = .subdomainsOnly("")
        } else if entry.hasPrefix(".") {
            base = base.dropFirst(1)
            form = .domainAndSubdomains("")
        }
        if base.contains("*") {
            throw fail(.misplacedWildcard, "\"*\" may appear only alone or as a leading \"*.\" (as in *.example.com)")
        }
        if base.isEmpty, let form {
            let (prefix, what) = form == .subdomainsOnly("") ? ("*.", "wildcard") : (".", "leading dot")
            throw fail(.invalidHost, "\(HostNameError.quoted(entry)) has no domain after the \(what), so it matches "
                + "nothing; write \(prefix)example.com for the names under example.com")
        }
        let host: NormalizedHost
        do {
            host = try HostName.normalize(String(base))
        } catch {
            if let port = HostPattern.portSuffix(of: base) {
                throw fail(.namesPort, HostPattern.portReason(entry: entry, host: port.host, port: port.digits))
            }
            // Also an IDNA result with an empty label: a name of ignored characters (U+200B,
            // U+00AD) or of ideographic full stops maps to nothing.
            let nothing = error.code == .empty || error.code == .emptyLabel
                || (error.code == .idnaFailed && error.reason.contains(IDNA.describe(0x1)))
            throw fail(.invalidHost, error.description
                + (nothing ? ", so the entry names no host and matches nothing" : "")
                + "; write a host name as it appears in a URL (api.example.com) or an IP address")
        }
        switch (host, form) {
        case (.address(let address), nil):
            try HostPattern.checkReachable(address, entry: entry, fail: fail)
            kind = .address(address)
            return
        case (.address, _?):
            throw fail(.wildcardOnAddress, "a wildcard or leading dot needs a domain name, not an IP address")
        case (.name(let name), nil):
            try HostPattern.checkLabels(name, entry: entry, fail: fail)
            if match == .exact {
                kind = .exact(name)
                return
            }
            try HostPattern.checkWildcardBase(name, fail: fail)
            kind = .domainAndSubdomains(name)
        case (.name(let name), .subdomainsOnly?):
            try HostPattern.checkLabels(name, entry: entry, fail: fail)
            try HostPattern.checkWildcardBase(name, fail: fail)
            // A name under the base needs at least one more label and a dot: "x." + base.
            guard name.utf8.count + 2 <= 253 else {
                throw fail(.matchesNothing, "every name under \(name) would be longer than the 253 octets a host name "
                    + "may have, so the wildcard matches nothing; list the host itself without \"*.\"")
            }
            kind = .subdomainsOnly(name)
        case (.name(let name), _?):
            try HostPattern.checkLabels(name, entry: entry, fail: fail)
            try HostPattern.checkWildcardBase(name, fail: fail)
            kind = .domainAndSubdomains(name)
        }
    }

    // MARK: - Entries that could never allow anything

    /// Refuses an address that the address gate denies whatever the policy says (cloud
    /// metadata, the unspecified, multicast, broadcast, reserved, documentation, benchmarking,
    /// transition and discard-only ranges, also when carried inside an IPv6 address): the entry
    /// would look like an allowance and never be one. Private-network addresses are not refused
    /// here, because `network_failsafe.allow_private_network` can open them.
    static func checkReachable(_ address: IPAddress, entry: String,
                               fail: (HostPatternError.Code, String) -> HostPatternError) throws(HostPatternError) {
        let classification = AddressClassifier.classify(address)
        guard classification.category.isAlwaysBlocked else { return }
        // "0" and "0x7f.1" are addresses only in the C library's reading; say which one.
        let reading = address.description == entry || "[\(address)]" == entry
            ? "" : "\(HostNameError.quoted(entry)) is the address \(address) (as the C library reads it), and "
        throw fail(.alwaysDenied, reading + "\(classification.description), which is denied whatever the policy says, "
            + "so the entry can never allow anything; remove it (reach the service by a name that resolves to a "
            + "public address, and list that name)")
    }

    /// Refuses a name with an `xn--` label that is not valid punycode for a valid internationalised
    /// label (`xn--`, `xn--zz`, an A-label of an upper-case or unnormalised U-label): IDNA-aware
    /// clients never send such a name, so the entry would match nothing anyone asks for. Names are
    /// checked only here, for entries: request hosts are compared byte for byte with the entries,
    /// so refusing the entry is enough.
    static func checkLabels(_ name: String, entry: String,
                            fail: (HostPatternError.Code, String) -> HostPatternError) throws(HostPatternError) {
        guard name.split(separator: ".").contains(where: { $0.hasPrefix("xn--") }) else { return }
        // Without ICU (a build that lacks it) the label cannot be decoded; an unverified A-label
        // still allows only the bytes written, so it is left as it is rather than refused.
        guard IDNA.isAvailable else { return }
        let converted: String
        do {
            converted = try IDNA.toASCII(name, host: entry)
        } catch {
            throw fail(.invalidIDNA, "\(name) is not a valid internationalised name (\(error.reason)), so no host can "
                + "match it; write the name in Unicode (bücher.example) or its correct punycode (xn--bcher-kva.example)")
        }
        guard converted == name else {
            throw fail(.invalidIDNA, "\(name) is not in the form IDNA gives it (that is \(converted)), so no host can "
                + "match it; write \(converted)")
        }
    }

    /// `host` and the digits after its last `:` when `text` looks like `host:port` or
    /// `[v6]:port` (a port written inside the host), `nil` otherwise.
    static func portSuffix(of text: Substring) -> (host: String, digits: String)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        let digits = text[text.index(after: colon)...]
        guard !host.isEmpty, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        // One colon for a name or IPv4 address; an IPv6 address must be in brackets.
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { return nil }
        } else if host.contains(":") {
            return nil
        }
        return (String(host), String(digits))
    }

    /// Why `host:port` is refused, with the mapping form to write instead.
    static func portReason(entry: String, host: String, port digits: String) -> String {
        var reason = "\(HostNameError.quoted(entry)) writes a port inside the host"
        var port = digits
        if let value = Int(digits), (1...65_535).contains(value) {
            port = String(value)
        } else {
            reason += ", and \(digits.count > 12 ? String(digits.prefix(12)) + "…" : digits) is not a port (ports are 1–65535)"
            port = "443"
        }
        // YAML would read `[v6]` in a flow mapping as a list: quote what is not a plain name.
        let plain = host.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
        return reason + "; write {host: \(plain ? host : "\"\(host)\""), ports: [\(port)]}"
    }

    /// Whether `host` matches, label by label: `evilexample.com` and `example.com.evil.com`
    /// never match `example.com`, and names never match address entries (or the reverse).
    public func matches(_ host: NormalizedHost) -> Bool {
        switch (kind, host) {
        case (.any, _):
            return true
        case (.exact(let name), .name(let candidate)):
            return candidate == name
        case (.subdomainsOnly(let base), .name(let candidate)):
            return HostPattern.isStrictSubdomain(candidate, of: base)
        case (.domainAndSubdomains(let base), .name(let candidate)):
            return candidate == base || HostPattern.isStrictSubdomain(candidate, of: base)
        case (.address(let address), .address(let candidate)):
            // A zone in the entry must match; an entry without one matches any zone. The fields are
            // compared directly: `withoutZone ==` builds two addresses and compares their zones.
            return candidate.family == address.family && candidate.high == address.high && candidate.low == address.low
                && (address.zone == nil || candidate.scopeID == address.scopeID)
        default:
            return false
        }
    }

    /// The entry as written.
    public var description: String { entry }

    /// Equality of what the entries match.
    public static func == (lhs: HostPattern, rhs: HostPattern) -> Bool { lhs.kind == rhs.kind }

    /// Hashes what the entry matches.
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    /// Whether `name` is `suffix` or ends with `.suffix` (whole labels), compared as bytes: both are
    /// normalised ASCII, and `String.hasSuffix` compares Characters (slower, and by canonical
    /// equivalence rather than by the bytes that are dialled).
    static func name(_ name: String, isWithin suffix: String) -> Bool {
        let nameBytes = name.utf8
        let suffixBytes = suffix.utf8
        guard nameBytes.count >= suffixBytes.count else { return false }
        var nameIndex = nameBytes.endIndex
        var suffixIndex = suffixBytes.endIndex
        while suffixIndex > suffixBytes.startIndex {
            nameBytes.formIndex(before: &nameIndex)
            suffixBytes.formIndex(before: &suffixIndex)
            if nameBytes[nameIndex] != suffixBytes[suffixIndex] { return false }
        }
        guard nameIndex > nameBytes.startIndex else { return true }
        nameBytes.formIndex(before: &nameIndex)
        return nameBytes[nameIndex] == UInt8(ascii: ".")
    }

    /// Whether `name` ends with `.` + `base` (and is longer than that).
    static func isStrictSubdomain(_ name: String, of base: String) -> Bool {
        name.utf8.count > base.utf8.count + 1 && Self.name(name, isWithin: base)
    }

    /// Wildcard-DNS services: every name under them resolves to whatever address the name
    /// spells (`10.0.0.1.nip.io`), so a wildcard over them allows any destination by name.
    /// Not all are in the Public Suffix List.
    public static let wildcardDNSServices: Set<String> = [
        "nip.io", "sslip.io", "xip.io", "nip.direct", "localtest.me", "lvh.me", "vcap.me", "traefik.me",
        "rbndr.us", "lacolhost.com", "localhost.direct",
    ]

    static func checkWildcardBase(_ base: String,
                                  fail: (HostPatternError.Code, String) -> HostPatternError) throws(HostPatternError) {
        let list = PublicSuffixList.shared
        if let section = list.publicSuffixSection(base) {
            throw fail(.publicSuffix, "\(base) is a public suffix (\(section.phrase)), so the entry would allow "
                + "every site anyone registers under it; list the exact hosts you need instead")
        }
        if let beneath = list.publicSuffix(beneath: base) {
            throw fail(.containsPublicSuffix, "\(base) has public suffixes under it (such as \(beneath), from the Public "
                + "Suffix List), whose names belong to other people; list the exact hosts you need instead")
        }
        var domain = Substring(base)
        while true {
            if wildcardDNSServices.contains(String(domain)) {
                throw fail(.wildcardDNSService, "\(domain) is a wildcard-DNS service whose names resolve to any address "
                    + "they spell; list the exact hosts you need instead")
            }
            guard let dot = domain.firstIndex(of: ".") else { break }
            domain = domain[domain.index(after: dot)...]
        }
    }
}

/// Why an `allowed_hosts` entry was refused.
public struct HostPatternError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Code: String, Sendable, Hashable {
        /// The host part is not a valid host (the reason says why).
        case invalidHost
        /// A `*` elsewhere than alone or in a leading `*.`.
        case misplacedWildcard
        /// A wildcard or leading dot before an IP address.
        case wildcardOnAddress
        /// A wildcard over a public suffix.
        case publicSuffix
        /// A wildcard over a domain that has public suffixes under it (`*.amazonaws.com`).
        case containsPublicSuffix
        /// A wildcard over a wildcard-DNS service (`*.nip.io`).
        case wildcardDNSService
        /// An address in a category the address gate always denies (cloud metadata, `0.0.0.0`,
        /// multicast, documentation ranges…): the entry could never allow anything.
        case alwaysDenied
        /// An `xn--` label that is not valid punycode of a valid internationalised label.
        case invalidIDNA
        /// A wildcard that no host name can match (every name under its base would be too long).
        case matchesNothing
        /// A port written inside the host (`example.com:443`) instead of in `ports`.
        case namesPort
    }

    /// What was wrong.
    public let code: Code
    /// The entry as written.
    public let entry: String
    /// Why it was refused, without the entry.
    public let reason: String

    /// Creates an error.
    public init(code: Code, entry: String, reason: String) {
        self.code = code
        self.entry = entry
        self.reason = reason
    }

    /// "the allowed_hosts entry \"*.com\" is refused: com is a public suffix …".
    public var description: String {
        "the allowed_hosts entry \(HostNameError.quoted(entry)) is refused: \(reason)"
    }
}

/// The Public Suffix List (publicsuffix.org, MPL-2.0), as shipped in `PublicSuffixList+Data.swift`
/// and generated by `scripts/generate-public-suffixes.sh`. Parsed on first use.
public struct PublicSuffixList: Sendable {
    /// Which part of the list a rule comes from.
    public enum Section: String, Sendable, Hashable {
        /// Registry-operated suffixes (`com`, `co.uk`).
        case icann
        /// Suffixes operated by companies for their customers (`github.io`, `s3.amazonaws.com`).
        case privateDomains = "private"
        /// A single label the list does not name: a top-level domain by the list's implicit
        /// `*` rule (`internal`, `localhost`).
        case implicitTopLevel = "implicit"

        /// For messages.
        var phrase: String {
            switch self {
            case .icann: "a registry suffix in the Public Suffix List"
            case .privateDomains: "a shared-hosting suffix in the private section of the Public Suffix List"
            case .implicitTopLevel: "a top-level domain, by the Public Suffix List's implicit \"*\" rule"
            }
        }
    }

    /// The list compiled into this build.
    public static let shared = PublicSuffixList(icann: icannRules, privateDomains: privateRules)

    /// The version of the list compiled into this build (Debian package version).
    public static var version: String { dataVersion }

    private var rules: [String: Section] = [:]
    private var wildcards: [String: Section] = [:]
    private var exceptions: Set<String> = []
    /// Domains with suffix rules under them, each with one such rule.
    private var parents: [String: String] = [:]

    /// Parses rule text: one rule a line, `*.` wildcards and `!` exceptions, ASCII.
    init(icann: String, privateDomains: String) {
        for (text, section) in [(icann, Section.icann), (privateDomains, Section.privateDomains)] {
            for line in text.split(separator: "\n") {
                let rule = String(line)
                if rule.hasPrefix("!") {
                    exceptions.insert(String(rule.dropFirst()))
                } else if rule.hasPrefix("*.") {
                    let base = String(rule.dropFirst(2))
                    wildcards[base] = wildcards[base] ?? section
                    addParents(of: base, including: true, example: rule)
                } else {
                    rules[rule] = rules[rule] ?? section
                    addParents(of: rule, including: false, example: rule)
                }
            }
        }
    }

    private mutating func addParents(of name: String, including: Bool, example: String) {
        var domain = Substring(name)
        if including, parents[name] == nil { parents[name] = example }
        while let dot = domain.firstIndex(of: ".") {
            domain = domain[domain.index(after: dot)...]
            if parents[String(domain)] == nil { parents[String(domain)] = example }
        }
    }

    /// Whether `name` (normalised, ASCII) is a public suffix: listed, covered by a wildcard
    /// rule and not an exception, or a single label (the list's implicit `*` rule).
    public func isPublicSuffix(_ name: String) -> Bool {
        publicSuffixSection(name) != nil
    }

    /// The section that makes `name` a public suffix, or `nil`. A single label that the list
    /// does not name is `.implicitTopLevel`.
    public func publicSuffixSection(_ name: String) -> Section? {
        if exceptions.contains(name) { return nil }
        if let section = rules[name] { return section }
        guard let dot = name.firstIndex(of: ".") else { return .implicitTopLevel }
        return wildcards[String(name[name.index(after: dot)...])]
    }

    /// A public-suffix rule strictly under `name` (`s3.amazonaws.com` under `amazonaws.com`),
    /// or `nil` when there is none.
    public func publicSuffix(beneath name: String) -> String? {
        parents[name]
    }
}
