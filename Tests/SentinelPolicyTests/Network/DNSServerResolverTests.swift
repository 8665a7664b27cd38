import Foundation
import SentinelTestSupport
import Testing
@testable import SentinelPolicy

@Suite("DNSServerResolver: one DNS server over UDP, answers checked before they count")
struct DNSServerResolverTests {
    static let v6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7]

    private func resolver(_ server: TestDNSServer, timeout: Duration = .seconds(5)) throws -> DNSServerResolver {
        DNSServerResolver(server: try DNSServerResolver.parseServer(server.address), timeout: timeout)
    }

    @Test("A and AAAA answers come back, IPv4 first, along the CNAME chain")
    func answers() async throws {
        let server = try TestDNSServer(host: "127.0.0.1") { query, _ in
            switch query.type {
            case 1:
                [TestDNSServer.reply(to: query, records: [
                    .cname(owner: query.name, target: "edge.example.net"),
                    .a(owner: "edge.example.net", address: "192.0.2.10"),
                    .a(owner: "edge.example.net", address: "192.0.2.11"),
                ])]
            default:
                [TestDNSServer.reply(to: query, records: [.aaaa(owner: query.name, bytes: Self.v6)])]
            }
        }
        defer { server.stop() }
        let addresses = try await resolver(server).resolve("WWW.Example.COM.")
        #expect(addresses.map(\.description) == ["192.0.2.10", "192.0.2.11", "2001:db8::7"])
        #expect(Set(server.received.map(\.name)) == ["www.example.com"])
        #expect(Set(server.received.map(\.type)) == [1, 28])
    }

    @Test("records that are not on the chain from the asked name are ignored")
    func offChainRecords() async throws {
        let server = try TestDNSServer { query, _ in
            [TestDNSServer.reply(to: query, records: query.type == 1 ? [
                .a(owner: "unrelated.example", address: "10.0.0.1"),
                .a(owner: query.name, address: "192.0.2.1"),
            ] : [])]
        }
        defer { server.stop() }
        #expect(try await resolver(server).resolve("asked.example").map(\.description) == ["192.0.2.1"])
    }

    @Test("a reply with another transaction ID is ignored, the real one still counts")
    func spoofedID() async throws {
        let server = try TestDNSServer { query, _ in
            [
                TestDNSServer.reply(to: query, records: [.a(owner: query.name, address: "10.6.6.6")], idDelta: 1),
                TestDNSServer.reply(to: query, records: query.type == 1 ? [.a(owner: query.name, address: "192.0.2.5")] : []),
            ]
        }
        defer { server.stop() }
        #expect(try await resolver(server).resolve("spoof.example").map(\.description) == ["192.0.2.5"])
    }

    static let failures: [(String, ResolveError.Code, String)] = [
        ("nxdomain", .lookupFailed, "no such name (NXDOMAIN)"),
        ("servfail", .lookupFailed, "the server answered SERVFAIL (2)"),
        ("truncated", .lookupFailed, "truncated (TC)"),
        ("empty", .noAddresses, "returned no IP address"),
        ("loop", .lookupFailed, "a name pointer loops or points forward"),
        ("other-question", .lookupFailed, "the answer is for another question"),
    ]

    @Test("a failing or malformed answer fails the lookup", arguments: failures)
    func failingAnswers(_ kind: String, _ code: ResolveError.Code, _ fragment: String) async throws {
        let server = try TestDNSServer { query, _ in
            switch kind {
            case "nxdomain": return [TestDNSServer.reply(to: query, records: [], responseCode: 3)]
            case "servfail": return [TestDNSServer.reply(to: query, records: [], responseCode: 2)]
            case "truncated": return [TestDNSServer.reply(to: query, records: [], flags: 0x0200)]
            case "empty": return [TestDNSServer.reply(to: query, records: [])]
            case "loop":
                // One answer whose owner name is a pointer to itself.
                var reply = TestDNSServer.reply(to: query, records: [.a(owner: query.name, address: "192.0.2.1")])
                let answerStart = reply.count - 16
                let pointer = UInt16(answerStart) | 0xc000
                reply[answerStart] = UInt8(pointer >> 8)
                reply[answerStart + 1] = UInt8(pointer & 0xff)
                return [reply]
            default:
                var other = query
                other.name = "different.example"
                var bytes = Array(query.bytes[0..<12])
                bytes += [9] + Array("different".utf8) + [7] + Array("example".utf8) + [0]
                bytes += [UInt8(query.type >> 8), UInt8(query.type & 0xff), 0, 1]
                other.bytes = bytes
                var reply = TestDNSServer.reply(to: other, records: [])
                reply[0] = UInt8(query.id >> 8)
                reply[1] = UInt8(query.id & 0xff)
                return [reply]
            }
        }
        defer { server.stop() }
        let lookup = try resolver(server)
        await #expect {
            try await lookup.resolve("broken.example")
        } throws: { error in
            guard let error = error as? ResolveError else { return false }
            return error.code == code && error.description.contains(fragment)
        }
    }

    @Test("a server that never answers times out, and the lookup fails")
    func timeout() async throws {
        let server = try TestDNSServer { _, _ in [] }
        defer { server.stop() }
        let lookup = try resolver(server, timeout: .milliseconds(200))
        await #expect {
            try await lookup.resolve("silent.example")
        } throws: { error in
            (error as? ResolveError)?.code == .timedOut
        }
    }

    static let servers: [(String, String?)] = [
        ("127.0.0.53:53", "127.0.0.53:53"),
        ("127.0.0.53", "127.0.0.53:53"),
        ("[::1]:5353", "[::1]:5353"),
        ("localhost:53", nil),
        ("127.0.0.1:0", nil),
        ("127.0.0.1:70000", nil),
        ("::1:53", nil),
        ("127.1:53", nil),
    ]

    @Test("--dns-server takes ADDRESS[:PORT], nothing else", arguments: servers)
    func parseServer(_ text: String, _ expected: String?) {
        let parsed = try? DNSServerResolver.parseServer(text)
        #expect(parsed?.description == expected)
    }
}
