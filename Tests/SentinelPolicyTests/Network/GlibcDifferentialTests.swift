import Testing
import SentinelPolicy
#if canImport(Glibc)
import Glibc
#endif

/// `IPAddress(numericHost:)` against the real glibc `getaddrinfo(AI_NUMERICHOST)` of this
/// machine: both must accept the same strings and yield the same address and scope id.
@Suite("IPAddress(numericHost:) agrees with glibc getaddrinfo(AI_NUMERICHOST)")
struct GlibcDifferentialTests {
    /// What glibc makes of `text`: nil when it refuses, else the family, bytes and scope id.
    static func glibc(_ text: String) -> (family: Int32, bytes: [UInt8], scope: UInt32)? {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(text, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        guard let address = first.pointee.ai_addr else { return nil }
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let inet = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in.self)
            return (AF_INET, withUnsafeBytes(of: inet.sin_addr) { Array($0) }, 0)
        case AF_INET6:
            let inet6 = UnsafeRawPointer(address).loadUnaligned(as: sockaddr_in6.self)
            return (AF_INET6, withUnsafeBytes(of: inet6.sin6_addr) { Array($0) }, inet6.sin6_scope_id)
        default:
            return nil
        }
    }

    /// The §6 vectors #1–#34 that are host text, plus corner cases of each parser.
    static let vectors: [String] = [
        "2130706433", "017700000001", "0x7f000001", "0x7f.1", "0x7f.0x0.0x0.0x1", "0177.0.0.1", "0177.1", "127.1",
        "127.0.1", "127.000.000.001", "0127.0.0.1", "0251.0376.0251.0376", "2852039166", "0xa9fea9fe",
        "169.254.43518", "169.16689662", "127%2E0%2E0%2E1", "%31%32%37.0.0.1", "0", "0.0.0.0", "0.1.2.3",
        "localhost", "LOCALHOST", "foo.localhost", "localhost.", "127.0.0.1.nip.io", "169.254.169.254.nip.io",
        "localtest.me", "127.255.255.254", "[::1]", "::1", "0:0:0:0:0:0:0:1", "0000::1", "::", "[::]",
        "::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe",
        "::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "64:ff9b::169.254.169.254", "64:ff9b:1::a9fe:a9fe",
        "2002:7f00:1::", "2002:a9fe:a9fe::", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.88.99.1",
        "fe80::1%25eth0", "fe80::1%lo", "fe80::1%1", "fe80::1%eth0", "ff02::1%lo", "ff01::1%lo", "::1%lo", "::1%1",
        "fe80::1% 1", "fe80::1%+1", "fe80::1%-0", "fe80::1%-1", "fe80::1%4294967295", "fe80::1%4294967296",
        "fe80::1%0x1", "fe80::1%", "fe80::1%01", "::1%007", "fe80::1%lo0", "ff02::1%1x", "127.0.0.1.", "0x", "0x.1", "08", "09.1", "00x1", "0x0x1", "4294967295",
        "4294967296", "1.2.3.4.5", "1.2.3.256", "1.2.65536", "1.16777216", "1.0xffffff", "0xff.0xffffff",
        "1.2.3.4 ", " 1.2.3.4", "1.2.3.4\t", "1.2.3.4\nx", "+1", "-1", "1e3", "1.2.3.4x", "0x1g",
        "99999999999999999999999", "0x99999999999999999", "00000000000000000000001", "::ffff:01.2.3.4",
        "1::2::3", ":::", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
        "12345::", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.4.5", "1.2.3.4::",
        ":1::", "1:", "::ffff:1.2.3.04", "::FFFF:1.2.3.4", "*", "", ".", "..", "1.", ".1",
    ]

    @Test("the §6 vectors and parser corner cases", arguments: vectors)
    func vector(_ text: String) {
        Self.compare(text)
    }

    @Test("a few thousand generated strings")
    func generated() {
        var generator = SplitMix64(seed: 0x5e47_1ae1)
        var corpus: [String] = []
        // Random strings over the alphabet the parsers care about.
        let alphabet = Array("0123456789.xX:%abcdefABCDEFgz +-\tlo1")
        for _ in 0..<2500 {
            let length = Int(generator.next() % 14) + 1
            corpus.append(String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }))
        }
        // Structured IPv4: 1–4 parts, each decimal, octal or hex, values near the limits.
        for _ in 0..<1500 {
            let parts = Int(generator.next() % 4) + 1
            let pieces = (0..<parts).map { index -> String in
                let isLast = index == parts - 1
                let limit: UInt64 = isLast ? (0xffff_ffff as UInt64) >> (8 * UInt64(parts - 1)) : 0xff
                let value = generator.next() % 3 == 0 ? limit + generator.next() % 2 : generator.next() % (limit + 1)
                switch generator.next() % 3 {
                case 0: return String(value)
                case 1: return "0" + String(value, radix: 8)
                default: return (generator.next() % 2 == 0 ? "0x" : "0X") + String(value, radix: 16)
                }
            }
            corpus.append(pieces.joined(separator: "."))
        }
        // Structured IPv6: groups, one "::", an optional dotted quad and zone.
        for _ in 0..<1500 {
            var groups = (0..<Int(generator.next() % 9)).map { _ in
                String(generator.next() % 0x1_0000, radix: 16)
            }
            if generator.next() % 3 == 0 { groups.append("1.2.3.4") }
            var text = groups.joined(separator: ":")
            if generator.next() % 2 == 0 {
                let at = text.isEmpty ? text.startIndex : text.index(text.startIndex, offsetBy: Int(generator.next() % UInt64(text.count + 1)))
                text.insert(contentsOf: "::", at: at)
            }
            if generator.next() % 4 == 0 { text = "fe80:" + text }
            if generator.next() % 5 == 0 { text += ["%lo", "%1", "%eth0", "%", "%99"][Int(generator.next() % 5)] }
            corpus.append(text)
        }
        var accepted = 0
        for text in corpus {
            Self.compare(text)
            if Self.glibc(text) != nil { accepted += 1 }
        }
        // The corpus must exercise both answers, or the comparison proves little.
        #expect(corpus.count > 5000)
        #expect(accepted > 1000 && corpus.count - accepted > 1000, "accepted \(accepted) of \(corpus.count)")
    }

    static func compare(_ text: String) {
        let ours = IPAddress(numericHost: text)
        let theirs = glibc(text)
        #expect((ours == nil) == (theirs == nil), "accept/reject differs for \(text.debugDescription): ours \(String(describing: ours)), glibc \(String(describing: theirs))")
        guard let ours, let theirs else { return }
        #expect(ours.bytes == theirs.bytes, "address differs for \(text.debugDescription)")
        #expect((ours.isIPv4 ? AF_INET : AF_INET6) == theirs.family, "family differs for \(text.debugDescription)")
        #expect(ours.scopeID == theirs.scope, "scope id differs for \(text.debugDescription)")
    }
}

/// A small deterministic generator, so a failing corpus string can be reproduced.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
