// Which destinations are public, and what the others are.
//
// The address gate of the egress design (egress-anchors §8.1b, §8.4): every address a
// connection may reach is classified, embedded IPv4 addresses included, before anything is
// dialled. The table is the union of the IANA IPv4 and IPv6 special-purpose registries
// (checked 2025: including 3fff::/20, RFC 9637, and 5f00::/16, RFC 9602) with the cloud
// metadata endpoints as a category of their own, because they stay blocked even when a policy
// opens the private network.

/// What kind of destination an address is.
///
/// | category | ranges | tier |
/// |---|---|---|
/// | `publicUnicast` | everything not below | public |
/// | `loopback` | 127.0.0.0/8, ::1/128 | private network |
/// | `privateUse` | 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) | private network |
/// | `sharedAddressSpace` | 100.64.0.0/10 (CGNAT, RFC 6598; also Tailscale) | private network |
/// | `linkLocal` | 169.254.0.0/16, fe80::/10 | private network |
/// | `uniqueLocal` | fc00::/7 (ULA) | private network |
/// | `siteLocal` | fec0::/10 (deprecated) | private network |
/// | `unspecified` | 0.0.0.0/8 ("this network"), ::/128 | always blocked |
/// | `multicast` | 224.0.0.0/4, ff00::/8 | always blocked |
/// | `broadcast` | 255.255.255.255/32 | always blocked |
/// | `reserved` | 240.0.0.0/4, 192.0.0.0/24 (IETF protocol assignments), ::/96 (IPv4-compatible), ::ffff:0:0:0/96 (IPv4-translated), 2001::/23 (IETF protocol assignments), 5f00::/16 (SRv6 SIDs), and IPv6 space outside 2000::/3 that IANA has not allocated | always blocked |
/// | `documentation` | 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20 | always blocked |
/// | `benchmarking` | 198.18.0.0/15, 2001:2::/48 | always blocked |
/// | `transition` | 192.88.99.0/24 (6to4 relay anycast), 2002::/16 (6to4), 2001::/32 (Teredo), 64:ff9b:1::/48 (local-use NAT64) | always blocked |
/// | `discardOnly` | 100::/64 | always blocked |
/// | `cloudMetadata` | 169.254.169.254, 169.254.170.2 (AWS ECS), 100.100.100.200 (Alibaba), 192.0.0.192 (Oracle), 168.63.129.16 (Azure), fd00:ec2::254 (AWS), fd20:ce::254 (GCP), fd00:c1::a9fe:a9fe (Oracle) | always blocked, even with the private network open |
///
/// Two IPv6 ranges have no category of their own and take that of the IPv4 address they carry,
/// because that is what a connection to them reaches: IPv4-mapped ::ffff:0:0/96 (a dual-stack
/// socket dials the IPv4 address) and the NAT64 well-known prefix 64:ff9b::/96 (a NAT64
/// gateway dials it). So `::ffff:8.8.8.8` is public and `64:ff9b::a9fe:a9fe` is cloud metadata.
public enum AddressCategory: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A globally routable unicast address.
    case publicUnicast = "public"
    /// Loopback: the machine itself.
    case loopback
    /// RFC 1918 private-use networks.
    case privateUse = "private-use"
    /// Shared address space (carrier-grade NAT, RFC 6598), also used by Tailscale.
    case sharedAddressSpace = "shared-address-space"
    /// Link-local addresses (other than cloud metadata).
    case linkLocal = "link-local"
    /// IPv6 unique local addresses (ULA), the IPv6 counterpart of RFC 1918.
    case uniqueLocal = "unique-local"
    /// Deprecated IPv6 site-local addresses.
    case siteLocal = "site-local"
    /// "This host on this network" and the unspecified address; Linux delivers them locally.
    case unspecified
    /// Multicast groups.
    case multicast
    /// The limited broadcast address.
    case broadcast
    /// Reserved, deprecated or unallocated space, and IETF protocol assignments.
    case reserved
    /// Ranges reserved for documentation.
    case documentation
    /// Ranges reserved for benchmarking (also the "fake-IP" range of some local proxies).
    case benchmarking
    /// IPv6 transition mechanisms (6to4, Teredo, local-use NAT64) and the 6to4 relay.
    case transition
    /// The IPv6 discard-only prefix.
    case discardOnly = "discard-only"
    /// Cloud instance metadata and platform endpoints.
    case cloudMetadata = "cloud-metadata"

    /// Whether the address is globally routable (not special in any way).
    public var isPublic: Bool { self == .publicUnicast }

    /// Whether `network_failsafe.allow_private_network: true` opens this category: loopback,
    /// RFC 1918, CGNAT, link-local (metadata excluded), ULA and site-local.
    public var isPrivateNetwork: Bool {
        switch self {
        case .loopback, .privateUse, .sharedAddressSpace, .linkLocal, .uniqueLocal, .siteLocal: true
        default: false
        }
    }

    /// Whether no policy setting opens this category (metadata, unspecified, multicast,
    /// broadcast, reserved, documentation, benchmarking, transition, discard-only).
    public var isAlwaysBlocked: Bool { !isPublic && !isPrivateNetwork }

    /// How restrictive the category is: public 0, private network 1, always blocked 2,
    /// cloud metadata 3. An address with several readings takes the highest.
    public var severity: Int {
        if self == .cloudMetadata { return 3 }
        if isPublic { return 0 }
        return isPrivateNetwork ? 1 : 2
    }

    /// The category as a phrase for messages: "a cloud metadata address".
    public var phrase: String {
        switch self {
        case .publicUnicast: "a public address"
        case .loopback: "a loopback address"
        case .privateUse: "a private-use (RFC 1918) address"
        case .sharedAddressSpace: "a shared-address-space (CGNAT) address"
        case .linkLocal: "a link-local address"
        case .uniqueLocal: "a unique local (ULA) address"
        case .siteLocal: "a site-local address"
        case .unspecified: "an unspecified (\"this network\") address"
        case .multicast: "a multicast address"
        case .broadcast: "the broadcast address"
        case .reserved: "a reserved address"
        case .documentation: "a documentation address"
        case .benchmarking: "a benchmarking address"
        case .transition: "an IPv6 transition-mechanism address"
        case .discardOnly: "a discard-only address"
        case .cloudMetadata: "a cloud metadata address"
        }
    }

    /// The raw value (`cloud-metadata`).
    public var description: String { rawValue }
}

/// How an IPv4 address is carried inside an IPv6 address.
public enum IPv4Embedding: String, Sendable, Hashable, CaseIterable {
    /// ::ffff:a.b.c.d (IPv4-mapped).
    case mapped = "IPv4-mapped"
    /// ::a.b.c.d (IPv4-compatible, deprecated).
    case compatible = "IPv4-compatible"
    /// ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765).
    case translated = "IPv4-translated"
    /// 64:ff9b::a.b.c.d (NAT64 well-known prefix, RFC 6052).
    case nat64 = "NAT64"
    /// 64:ff9b:1::/48 with the RFC 6052 /48 layout (local-use NAT64, RFC 8215).
    case nat64LocalUse = "local-use NAT64"
    /// 2002:aabb:ccdd::/48 (6to4).
    case sixToFour = "6to4"
    /// The Teredo server address (bits 32–63 of 2001::/32).
    case teredoServer = "Teredo server"
    /// The Teredo client address (the last 32 bits, inverted).
    case teredoClient = "Teredo client"
}

/// What `AddressClassifier.classify` found: the category, and the range (and embedded IPv4
/// address, if one decided) behind it, for messages.
public struct AddressClassification: Sendable, Hashable, CustomStringConvertible {
    /// The address that was classified.
    public let address: IPAddress
    /// The category that decided (the most restrictive reading of the address).
    public let category: AddressCategory
    /// The special-purpose range that matched; `nil` for a public address.
    public let range: IPNetwork?
    /// The embedded IPv4 address whose category decided, and how it was embedded; `nil` when
    /// the address itself (or its IPv6 range) decided.
    public let embedded: EmbeddedIPv4?

    /// Creates a classification.
    public init(address: IPAddress, category: AddressCategory, range: IPNetwork?, embedded: EmbeddedIPv4? = nil) {
        self.address = address
        self.category = category
        self.range = range
        self.embedded = embedded
    }

    /// Whether the address is public.
    public var isPublic: Bool { category.isPublic }

    /// Whether a connection to the address may go ahead as far as the address gate is
    /// concerned: public addresses always, private-network categories only when
    /// `allowPrivateNetwork` is true, everything else (metadata included) never.
    public func permits(allowPrivateNetwork: Bool) -> Bool {
        category.isPublic || (allowPrivateNetwork && category.isPrivateNetwork)
    }

    /// "169.254.169.254 is a cloud metadata address (169.254.169.254/32)";
    /// "::ffff:10.0.0.1 is a private-use (RFC 1918) address (10.0.0.0/8, via IPv4-mapped 10.0.0.1)".
    public var description: String {
        var text = "\(address) is \(category.phrase)"
        if let range {
            text += " (\(range)"
            if let embedded { text += ", via \(embedded.kind.rawValue) \(embedded.address)" }
            text += ")"
        }
        return text
    }
}

/// An IPv4 address found inside an IPv6 address, and how it was carried.
public struct EmbeddedIPv4: Sendable, Hashable {
    /// The IPv4 address.
    public let address: IPAddress
    /// How it was embedded.
    public let kind: IPv4Embedding

    /// Creates an embedded address.
    public init(address: IPAddress, kind: IPv4Embedding) {
        self.address = address
        self.kind = kind
    }
}

/// Classifies IP addresses against the special-purpose ranges (see `AddressCategory` for the
/// table). Pure and allocation-free for IPv4.
public enum AddressClassifier {
    /// The category of `address`, with the range that matched.
    ///
    /// The longest matching prefix gives the address's own category. Every IPv4 address carried
    /// inside an IPv6 address (mapped, compatible, translated, NAT64, local-use NAT64, 6to4, and
    /// both Teredo addresses) is decoded and classified too, and the most restrictive result
    /// wins (on a tie, the IPv6 range's own reading). The zone is ignored.
    public static func classify(_ address: IPAddress) -> AddressClassification {
        switch address.family {
        case .v4:
            let value = UInt32(truncatingIfNeeded: address.low)
            guard let entry = lookupV4(value) else {
                return AddressClassification(address: address, category: .publicUnicast, range: nil)
            }
            return AddressClassification(address: address, category: entry.category, range: entry.network)
        case .v6:
            return classifyV6(address)
        }
    }

    /// The special-purpose ranges, most specific first, with their categories (`nil` for the
    /// two ranges that take the category of the IPv4 address they carry).
    public static var ranges: [(network: IPNetwork, category: AddressCategory?)] {
        v4Table.map { ($0.network, $0.category) } + v6Table.map { ($0.network, $0.category) }
    }

    // MARK: - Tables

    struct V4Entry: Sendable {
        let base: UInt32
        let mask: UInt32
        let network: IPNetwork
        let category: AddressCategory
    }

    struct V6Entry: Sendable {
        let baseHigh: UInt64
        let baseLow: UInt64
        let maskHigh: UInt64
        let maskLow: UInt64
        let network: IPNetwork
        /// `nil`: the category is that of the embedded IPv4 address (mapped, NAT64 well-known).
        let category: AddressCategory?
        let embedding: IPv4Embedding?
    }

    static let v4Table: [V4Entry] = {
        let rows: [(String, AddressCategory)] = [
            ("169.254.169.254/32", .cloudMetadata),
            ("169.254.170.2/32", .cloudMetadata),
            ("100.100.100.200/32", .cloudMetadata),
            ("192.0.0.192/32", .cloudMetadata),
            ("168.63.129.16/32", .cloudMetadata),
            ("255.255.255.255/32", .broadcast),
            ("0.0.0.0/8", .unspecified),
            ("10.0.0.0/8", .privateUse),
            ("100.64.0.0/10", .sharedAddressSpace),
            ("127.0.0.0/8", .loopback),
            ("169.254.0.0/16", .linkLocal),
            ("172.16.0.0/12", .privateUse),
            ("192.0.0.0/24", .reserved),
            ("192.0.2.0/24", .documentation),
            ("192.88.99.0/24", .transition),
            ("192.168.0.0/16", .privateUse),
            ("198.18.0.0/15", .benchmarking),
            ("198.51.100.0/24", .documentation),
            ("203.0.113.0/24", .documentation),
            ("224.0.0.0/4", .multicast),
            ("240.0.0.0/4", .reserved),
        ]
        return rows.map { text, category in
            // The table is a constant; a typo in it is a programming error caught by the tests.
            let network = try! IPNetwork(parsing: text)
            let mask = IPNetwork.mask32(network.prefixLength)
            return V4Entry(base: network.address.ipv4Value!, mask: mask, network: network, category: category)
        }
        .sorted { $0.network.prefixLength > $1.network.prefixLength }
    }()

    static let v6Table: [V6Entry] = {
        let rows: [(String, AddressCategory?, IPv4Embedding?)] = [
            ("::/128", .unspecified, nil),
            ("::1/128", .loopback, nil),
            ("fd00:ec2::254/128", .cloudMetadata, nil),
            ("fd20:ce::254/128", .cloudMetadata, nil),
            ("fd00:c1::a9fe:a9fe/128", .cloudMetadata, nil),
            ("::ffff:0:0/96", nil, .mapped),
            ("::/96", .reserved, .compatible),
            ("::ffff:0:0:0/96", .reserved, .translated),
            ("64:ff9b::/96", nil, .nat64),
            ("100::/64", .discardOnly, nil),
            ("64:ff9b:1::/48", .transition, .nat64LocalUse),
            ("2001:2::/48", .benchmarking, nil),
            ("2001::/32", .transition, .teredoServer),
            ("2001:db8::/32", .documentation, nil),
            ("2001::/23", .reserved, nil),
            ("3fff::/20", .documentation, nil),
            ("2002::/16", .transition, .sixToFour),
            ("5f00::/16", .reserved, nil),
            ("ff00::/8", .multicast, nil),
            ("fe80::/10", .linkLocal, nil),
            ("fec0::/10", .siteLocal, nil),
            ("fc00::/7", .uniqueLocal, nil),
            // IANA "Reserved by IETF" and unassigned space outside 2000::/3: not routable today.
            ("::/8", .reserved, nil), ("100::/8", .reserved, nil), ("200::/7", .reserved, nil),
            ("400::/6", .reserved, nil), ("800::/5", .reserved, nil), ("1000::/4", .reserved, nil),
            ("4000::/3", .reserved, nil), ("6000::/3", .reserved, nil), ("8000::/3", .reserved, nil),
            ("a000::/3", .reserved, nil), ("c000::/3", .reserved, nil), ("e000::/4", .reserved, nil),
            ("f000::/5", .reserved, nil), ("f800::/6", .reserved, nil), ("fe00::/9", .reserved, nil),
        ]
        return rows.map { text, category, embedding in
            let network = try! IPNetwork(parsing: text)
            let (maskHigh, maskLow) = IPNetwork.mask128(network.prefixLength)
            let words = network.address.ipv6Words!
            return V6Entry(baseHigh: words.high, baseLow: words.low, maskHigh: maskHigh, maskLow: maskLow,
                           network: network, category: category, embedding: embedding)
        }
        .sorted { $0.network.prefixLength > $1.network.prefixLength }
    }()

    @inline(__always)
    static func lookupV4(_ value: UInt32) -> V4Entry? {
        for entry in v4Table where value & entry.mask == entry.base {
            return entry
        }
        return nil
    }

    static func classifyV6(_ address: IPAddress) -> AddressClassification {
        let high = address.high
        let low = address.low
        var match: V6Entry?
        for entry in v6Table where high & entry.maskHigh == entry.baseHigh && low & entry.maskLow == entry.baseLow {
            match = entry
            break
        }
        guard let entry = match else {
            return AddressClassification(address: address, category: .publicUnicast, range: nil)
        }
        var best = entry.category.map {
            AddressClassification(address: address, category: $0, range: entry.network)
        }
        func consider(_ value: UInt32, _ kind: IPv4Embedding) {
            let inner = IPAddress(ipv4: value)
            let category = lookupV4(value)
            // The embedded address is reported even when it is public: blocked_ips and
            // blocked_hosts must see 93.184.216.34 in ::ffff:93.184.216.34 (issue 14).
            let candidate = AddressClassification(
                address: address, category: category?.category ?? .publicUnicast,
                range: category?.network, embedded: EmbeddedIPv4(address: inner, kind: kind))
            if best == nil || candidate.category.severity > best!.category.severity {
                best = candidate
            }
        }
        switch entry.embedding {
        case .mapped?, .compatible?, .translated?, .nat64?:
            consider(UInt32(truncatingIfNeeded: low), entry.embedding!)
        case .nat64LocalUse?:
            // RFC 6052 §2.2, /48 prefix: IPv4 bits sit in bits 48–63 and 72–87 (bits 64–71 are "u").
            consider(UInt32(truncatingIfNeeded: high & 0xffff) << 16 | UInt32(truncatingIfNeeded: low >> 40 & 0xffff),
                     .nat64LocalUse)
        case .sixToFour?:
            consider(UInt32(truncatingIfNeeded: high >> 16), .sixToFour)
        case .teredoServer?, .teredoClient?:
            consider(UInt32(truncatingIfNeeded: high), .teredoServer)
            consider(~UInt32(truncatingIfNeeded: low), .teredoClient)
        case nil:
            break
        }
        return best ?? AddressClassification(address: address, category: .publicUnicast, range: nil)
    }
}
