import Testing
import SentinelPolicy

@Suite("IPNetwork parsing and containment")
struct IPNetworkTests {
    static let valid: [(String, String)] = [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3/8", "10.0.0.0/8"),          // host bits masked (strict=False)
        ("192.168.1.1", "192.168.1.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::1/32", "2001:db8::/32"),
        ("fe80::1", "fe80::1/128"),
        ("::/0", "::/0"),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/65", "2001:db8:ffff:ffff:8000::/65"),
        ("10.0.0.0/08", "10.0.0.0/8"),
    ]

    @Test("valid networks", arguments: valid)
    func parses(_ text: String, _ expected: String) throws {
        #expect(try IPNetwork(parsing: text).description == expected)
    }

    static let invalid: [(String, NetworkParseError.Code, String)] = [
        ("10.0.0.0/33", .invalidPrefix, "\"10.0.0.0/33\": prefix length 33 is larger than 32 for IPv4"),
        ("::/129", .invalidPrefix, "\"::/129\": prefix length 129 is larger than 128 for IPv6"),
        ("10.0.0.0/", .invalidPrefix, "\"10.0.0.0/\": the prefix length \"\" is not a number from 0 to 32"),
        ("10.0.0.0/-1", .invalidPrefix, "\"10.0.0.0/-1\": the prefix length \"-1\" is not a number from 0 to 32"),
        ("10.0.0.0/255.0.0.0", .invalidPrefix, "\"10.0.0.0/255.0.0.0\": the prefix length \"255.0.0.0\" is not a number from 0 to 32"),
        ("10.0.0.0/8/8", .malformed, "\"10.0.0.0/8/8\": there is more than one \"/\""),
        ("", .empty, "\"\": the network is empty; write an address such as 10.0.0.0/8"),
        ("10.1/16", .invalidAddress, "\"10.1/16\": \"10.1\" is not a valid address: write it in canonical form (10.0.0.1); octal, hex and short forms are ambiguous"),
        ("example.com/24", .invalidAddress, "\"example.com/24\": \"example.com\" is not a valid address: it is not an IPv4 or IPv6 address"),
        ("fe80::1%lo/64", .invalidAddress, "\"fe80::1%lo/64\": \"fe80::1%lo\" is not a valid address: a network cannot carry an IPv6 zone"),
        ("10.0.0.0 /8", .invalidAddress, "\"10.0.0.0 /8\": \"10.0.0.0 \" is not a valid address: it is not an IPv4 or IPv6 address"),
    ]

    @Test("invalid networks throw a sentence saying what is wrong", arguments: invalid)
    func rejects(_ text: String, _ code: NetworkParseError.Code, _ message: String) {
        #expect {
            try IPNetwork(parsing: text)
        } throws: { error in
            guard let error = error as? NetworkParseError else { return false }
            return error.code == code && error.description == message
        }
    }

    @Test("containment within one family, at the boundaries")
    func contains() throws {
        let cgnat = try IPNetwork(parsing: "100.64.0.0/10")
        #expect(cgnat.contains(try #require(IPAddress(strict: "100.64.0.0"))))
        #expect(cgnat.contains(try #require(IPAddress(strict: "100.127.255.255"))))
        #expect(!cgnat.contains(try #require(IPAddress(strict: "100.63.255.255"))))
        #expect(!cgnat.contains(try #require(IPAddress(strict: "100.128.0.0"))))
        // An IPv4-mapped address is not in an IPv4 network (the classifier decodes embeddings).
        #expect(!cgnat.contains(try #require(IPAddress(strict: "::ffff:100.64.0.1"))))
        let all4 = try IPNetwork(parsing: "0.0.0.0/0")
        #expect(all4.contains(IPAddress(ipv4: 0xffff_ffff)))
        #expect(!all4.contains(try #require(IPAddress(strict: "::"))))
        let v6 = try IPNetwork(parsing: "2001:db8::/65")
        #expect(v6.contains(try #require(IPAddress(strict: "2001:db8::7fff:ffff:ffff:ffff"))))
        #expect(!v6.contains(try #require(IPAddress(strict: "2001:db8::8000:0:0:0"))))
        #expect(v6.contains(try #require(IPAddress(numericHost: "2001:db8::1%1"))))
        let host = try IPNetwork(parsing: "::1")
        #expect(host.contains(try #require(IPAddress(strict: "::1"))))
        #expect(!host.contains(try #require(IPAddress(strict: "::2"))))
    }
}
