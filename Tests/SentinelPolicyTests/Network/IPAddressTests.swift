import Testing
import SentinelPolicy
#if canImport(Glibc)
import Glibc
#endif

@Suite("IPAddress parsing, text and socket addresses")
struct IPAddressTests {
    /// egress-anchors §6 vectors and glibc corner cases: text → the address glibc dials (nil: not numeric).
    static let numericHostCases: [(String, String?)] = [
        ("2130706433", "127.0.0.1"),                // #1
        ("017700000001", "127.0.0.1"),              // #2
        ("0x7f000001", "127.0.0.1"),                // #3
        ("0x7f.1", "127.0.0.1"),                    // #4
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),          // #5
        ("0177.0.0.1", "127.0.0.1"),                // #6
        ("0177.1", "127.0.0.1"),                    // #7
        ("127.1", "127.0.0.1"),                     // #8
        ("127.0.1", "127.0.0.1"),                   // #9
        ("127.000.000.001", "127.0.0.1"),           // #10
        ("0127.0.0.1", "87.0.0.1"),                 // #11: the octal trap
        ("0251.0376.0251.0376", "169.254.169.254"), // #12
        ("2852039166", "169.254.169.254"),          // #13
        ("0xa9fea9fe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("169.16689662", "169.254.169.254"),
        ("0", "0.0.0.0"),                           // #15
        ("0.0.0.0", "0.0.0.0"),                     // #16
        ("127.255.255.254", "127.255.255.254"),     // #21
        ("::1", "::1"),                             // #22
        ("0:0:0:0:0:0:0:1", "::1"),
        ("0000::1", "::1"),
        ("::", "::"),                               // #23
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),   // #24
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),      // #25
        ("0:0:0:0:0:ffff:7f00:1", "::ffff:127.0.0.1"),
        ("::127.0.0.1", "::7f00:1"),                // #27
        ("::ffff:0:7f00:1", "::ffff:0:7f00:1"),     // #28
        ("64:ff9b::169.254.169.254", "64:ff9b::a9fe:a9fe"), // #29
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2"), // #32
        ("fe80::1%lo", "fe80::1%lo"),               // #34
        ("fe80::1%1", "fe80::1%1"),
        ("::1%5", "::1%5"),                         // numeric zone on any address
        ("0X7F.1", "127.0.0.1"),                    // upper-case hex prefix
        ("4294967295", "255.255.255.255"),
        ("1.2.3.4", "1.2.3.4"),
        // Not numeric for glibc:
        ("127.0.0.1.", nil),                        // #75: a name
        ("4294967296", nil),                        // above 2^32 - 1
        ("1.2.3.256", nil),
        ("256.1", nil),
        ("1.16777216", nil),
        ("1.2.3.4.5", nil),
        ("08", nil),                                // not octal
        ("0x", nil),
        ("0x.1", nil),
        ("1..2", nil),
        (".1", nil),
        ("+1", nil),
        (" 1", nil),
        ("1 ", nil),
        ("-1", nil),
        ("", nil),
        ("127.0.0.1%lo", nil),
        ("fe80::1%", nil),
        ("::1%lo", nil),                            // interface names only for link-local
        ("fe80::1%no-such-interface", nil),
        (":::", nil),
        ("1::2::3", nil),
        ("1:2:3:4:5:6:7:8::", nil),
        ("::1:2:3:4:5:6:7:8", nil),
        ("12345::", nil),
        ("::ffff:01.2.3.4", nil),                   // no leading zeros inside IPv6
        ("[::1]", nil),                             // brackets are URL syntax
        ("localhost", nil),
        ("127.0.0.1\u{0}.evil.com", nil),           // #69: never truncated at NUL
    ]

    @Test("numeric host text yields the address glibc dials", arguments: numericHostCases)
    func numericHost(_ text: String, _ expected: String?) {
        #expect(IPAddress(numericHost: text)?.description == expected)
    }

    static let strictCases: [(String, String?)] = [
        ("127.0.0.1", "127.0.0.1"), ("255.255.255.255", "255.255.255.255"), ("0.0.0.0", "0.0.0.0"),
        ("2001:DB8::1", "2001:db8::1"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("127.1", nil), ("0x7f.0.0.1", nil), ("2130706433", nil), ("0177.0.0.1", nil), ("01.2.3.4", nil),
        ("1.2.3", nil), ("1.2.3.4.", nil), ("fe80::1%lo", nil), ("", nil), ("::g", nil),
    ]

    @Test("strict text is inet_pton's", arguments: strictCases)
    func strict(_ text: String, _ expected: String?) {
        #expect(IPAddress(strict: text)?.description == expected)
    }

    static let rfc5952Cases: [(String, String)] = [
        ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),   // a single zero group is not compressed
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),      // the first of two equal runs
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),            // the longest run
        ("0:0:0:0:0:0:0:0", "::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("FE80::ABCD", "fe80::abcd"),
        ("::ffff:c000:280", "::ffff:192.0.2.128"),
    ]

    @Test("IPv6 text is RFC 5952", arguments: rfc5952Cases)
    func rfc5952(_ text: String, _ expected: String) throws {
        #expect(try #require(IPAddress(strict: text)).description == expected)
    }

    @Test("accessors agree with one another")
    func accessors() throws {
        let v4 = try #require(IPAddress(numericHost: "0x7f.1"))
        #expect(v4.family == .v4 && v4.isIPv4 && !v4.isIPv6)
        #expect(v4.ipv4Value == 0x7f00_0001)
        #expect(v4.bytes == [127, 0, 0, 1])
        #expect(v4 == IPAddress(ipv4: 0x7f00_0001))
        #expect(IPAddress(bytes: [127, 0, 0, 1]) == v4)
        let v6 = try #require(IPAddress(numericHost: "2001:db8::8:1"))
        #expect(v6.ipv6Words?.high == 0x2001_0db8_0000_0000 && v6.ipv6Words?.low == 0x0000_0000_0008_0001)
        #expect(IPAddress(bytes: v6.bytes) == v6)
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
        let zoned = try #require(IPAddress(numericHost: "fe80::1%lo"))
        #expect(zoned.zone == "lo" && zoned.scopeID == if_nametoindex("lo"))
        #expect(zoned.withoutZone.description == "fe80::1")
        #expect(zoned != zoned.withoutZone)
    }

    @Test("endpoints convert to and from sockaddr_in, sockaddr_in6 and raw bytes")
    func socketAddressRoundTrip() throws {
        for (text, port) in [("93.184.216.34", UInt16(443)), ("2001:db8::1", 80), ("fe80::1%lo", 8080)] {
            let address = try #require(IPAddress(numericHost: text))
            let endpoint = IPEndpoint(address: address, port: port)
            let (storage, length) = endpoint.sockaddrStorage
            let decoded = try withUnsafeBytes(of: storage) { raw in
                try IPEndpoint(socketAddress: UnsafeRawBufferPointer(rebasing: raw[0..<Int(length)]))
            }
            #expect(decoded.address.withoutZone == endpoint.address.withoutZone)
            #expect(decoded.address.scopeID == endpoint.address.scopeID)
            #expect(decoded.port == port)
        }
        #expect(IPEndpoint(address: IPAddress(ipv4: 1), port: 1).sockaddrIn6 == nil)
        #expect(IPEndpoint(address: IPAddress(ipv4: 0x5db8_d822), port: 443).description == "93.184.216.34:443")
        let loopback = try #require(IPAddress(strict: "::1"))
        #expect(IPEndpoint(address: loopback, port: 443).description == "[::1]:443")
    }

    @Test("short or foreign socket addresses are errors, with the kernel's length rules")
    func socketAddressErrors() throws {
        var inet = IPEndpoint(address: IPAddress(ipv4: 0x7f00_0001), port: 80).sockaddrIn!
        _ = withUnsafeBytes(of: &inet) { raw in
            #expect(throws: SocketAddressError.self) { try IPEndpoint(socketAddress: UnsafeRawBufferPointer(rebasing: raw[0..<8])) }
        }
        let loopback = try #require(IPAddress(strict: "::1"))
        var inet6 = try #require(IPEndpoint(address: loopback, port: 80).sockaddrIn6)
        inet6.sin6_scope_id = 7
        try withUnsafeBytes(of: &inet6) { raw in
            // 24 bytes (RFC 2133 layout): accepted, scope id not read.
            let short = try IPEndpoint(socketAddress: UnsafeRawBufferPointer(rebasing: raw[0..<24]))
            #expect(short.address.scopeID == 0 && short.port == 80)
            #expect(try IPEndpoint(socketAddress: raw).address.scopeID == 7)
            #expect(throws: SocketAddressError.self) { try IPEndpoint(socketAddress: UnsafeRawBufferPointer(rebasing: raw[0..<23])) }
        }
        var unix = sockaddr_un()
        unix.sun_family = sa_family_t(AF_UNIX)
        _ = withUnsafeBytes(of: &unix) { raw in
            #expect {
                try IPEndpoint(socketAddress: raw)
            } throws: { error in
                (error as? SocketAddressError)?.code == .unsupportedFamily
            }
        }
    }

    @Test("the sockaddr a real socket reports decodes to the address it was bound to")
    func realSocket() throws {
        for text in ["127.0.0.1", "::1"] {
            let address = try #require(IPAddress(strict: text))
            let fd = socket(address.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
            try #require(fd >= 0)
            defer { close(fd) }
            let bound = IPEndpoint(address: address, port: 0).withSockAddr { bind(fd, $0, $1) }
            try #require(bound == 0)
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            try #require(named == 0)
            let endpoint = try withUnsafeBytes(of: storage) { raw in
                try IPEndpoint(socketAddress: UnsafeRawBufferPointer(rebasing: raw[0..<Int(length)]))
            }
            #expect(endpoint.address == address)
            #expect(endpoint.port != 0)
        }
    }
}
