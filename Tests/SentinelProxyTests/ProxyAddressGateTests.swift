// egress-anchors §6 #1–#59 through the proxy: every address form that reaches a private, special
// or metadata address is refused, whether written as a literal or reached through a name, a
// multi-answer record or a DNS server that changes its answer between lookups.

import Foundation
import SentinelPolicy
import SentinelProxy
import SentinelTestSupport
import Testing

@Suite("Proxy: the address gate (private, special and metadata addresses; rebinding; multi-answer)")
struct ProxyAddressGateTests {
    /// Literal forms of loopback, private, special and metadata addresses (#1–#59): the policy
    /// allows every host on 443, so only the address gate stands between them and a connect.
    static let literals: [String] = [
        "169.254.169.254", "2852039166", "0xa9fea9fe", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "169.254.43518",
        "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::1]",
        "[::169.254.169.254]", "[fd00:ec2::254]", "100.100.100.200", "192.0.0.192", "168.63.129.16", "169.254.170.2",
        "127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1.", "0.0.0.0", "0", "[::]", "[::1]",
        "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "[fe80::1]", "[fe80::1%25lo]", "10.0.0.1", "192.168.1.1",
        "172.16.0.1", "172.31.255.255", "100.64.0.1", "[fc00::1]", "[fec0::1]", "224.0.0.1", "255.255.255.255",
        "198.18.0.1", "192.0.2.1", "240.0.0.1", "[ff02::1]", "[2001:db8::1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]",
    ]

    @Test("a CONNECT to a private, special or metadata address literal is refused", arguments: literals)
    func literalConnect(_ host: String) async throws {
        let policy = ProxyFixture.policy(allowedHosts: ["\"*\""], privateNetwork: false)
        try await withProxy(policy: policy) { proxy in
            let (connection, head) = try await proxy.connect("\(host):443")
            await connection.close()
            #expect(head.status == 403 || head.status == 400, "\(host): \(head.raw)")
            #expect(head.status != 200)
            let rule = try #require(head["x-sentinel-rule"])
            #expect(rule != "default:allowed_hosts", "\(host) was decided by name, not by address")
            let records = try proxy.records("connect")
            #expect(records.count == 1 && records[0].decision == "deny")
        }
    }

    @Test("absolute-form HTTP to a metadata or loopback literal is refused",
          arguments: ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
                      "http://2852039166/", "http://0x7f.1/", "http://[::1]:80/", "http://localhost/"])
    func literalHTTP(_ url: String) async throws {
        let policy = ProxyFixture.policy(allowedHosts: ["\"*\""], privateNetwork: false)
        try await withProxy(policy: policy, hosts: [("localhost", "127.0.0.1")]) { proxy in
            let response = try await proxy.get(url)
            #expect(response.status == 403, "\(url): \(response.raw)")
        }
    }

    @Test("loopback origins are refused without allow_private_network, with the setting that would allow them")
    func privateNetworkRequired() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let allowed = "{host: allowed.test, ports: [\(origin.port)]}"
            let hosts = [("allowed.test", "127.0.0.2")]
            try await withProxy(policy: ProxyFixture.policy(allowedHosts: [allowed], privateNetwork: false),
                                hosts: hosts) { proxy in
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                await connection.close()
                let response = try await proxy.get("http://allowed.test:\(origin.port)/")
                for answer in [head, response] {
                    #expect(answer.status == 403)
                    #expect(answer["x-sentinel-rule"] == "network_failsafe.allow_private_network")
                    #expect(answer["x-sentinel-remedy"]?.contains("allow_private_network: true") == true)
                }
                #expect(origin.accepted == 0)
            }
            // The same request with the setting goes through: the refusal above was the address gate.
            try await withProxy(policy: ProxyFixture.policy(allowedHosts: [allowed], privateNetwork: true),
                                hosts: hosts) { proxy in
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                await connection.close()
                #expect(head.status == 200)
                try await eventually("the origin accepted") { origin.accepted == 1 }
            }
        }
    }

    @Test("a name with several answers, one of them the metadata address, is refused as a whole (hosts file)")
    func multiAnswerHostsFile() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: multi.test, ports: [\(origin.port)]}"])
            let hosts = [("multi.test", "127.0.0.2"), ("multi.test", "169.254.169.254")]
            try await withProxy(policy: policy, hosts: hosts) { proxy in
                let (connection, head) = try await proxy.connect("multi.test:\(origin.port)")
                await connection.close()
                #expect(head.status == 403)
                #expect(head["x-sentinel-rule"] == "builtin:cloud-metadata")
                #expect(origin.accepted == 0)
                let record = try #require(try proxy.records("connect").first)
                #expect(record.details["addresses"] == "127.0.0.2,169.254.169.254")
            }
        }
    }

    @Test("a DNS answer with a private address among public-looking ones is refused as a whole (DNS server)")
    func multiAnswerDNS() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let dns = try TestDNSServer(host: "127.0.0.1") { query, _ in
                [TestDNSServer.reply(to: query, records: query.type == 1
                    ? [.a(owner: query.name, address: "127.0.0.2"), .a(owner: query.name, address: "10.1.2.3")] : [])]
            }
            defer { dns.stop() }
            let policy = ProxyFixture.policy(allowedHosts: ["{host: multi.test, ports: [\(origin.port)]}"],
                                             blockedIPs: ["10.0.0.0/8"])
            try await withProxy(policy: policy, configure: {
                $0.hostsFile = nil
                $0.dnsServer = try? DNSServerResolver.parseServer(dns.address)
            }) { proxy in
                let response = try await proxy.get("http://multi.test:\(origin.port)/")
                #expect(response.status == 403)
                #expect(response["x-sentinel-rule"]?.hasPrefix("network_failsafe.blocked_ips") == true)
                #expect(origin.accepted == 0)
            }
        }
    }

    @Test("DNS rebinding: the answer alternates between lookups, and the proxy dials exactly what it checked")
    func rebinding() async throws {
        // Two origins on the same port: 127.0.0.2 stands for the public answer, 127.0.0.3 for the
        // private one (blocked_ips). The DNS server alternates between them on every A query.
        let good = try await TestOrigin(host: "127.0.0.2", mode: .echo)
        let bad = try await TestOrigin(host: "127.0.0.3", port: good.port, mode: .echo)
        defer { Task { await good.stop(); await bad.stop() } }
        let dns = try TestDNSServer(host: "127.0.0.1") { query, earlier in
            guard query.type == 1 else { return [TestDNSServer.reply(to: query, records: [])] }
            let address = earlier % 2 == 0 ? "127.0.0.2" : "127.0.0.3"
            return [TestDNSServer.reply(to: query, records: [.a(owner: query.name, address: address)])]
        }
        defer { dns.stop() }
        let policy = ProxyFixture.policy(allowedHosts: ["{host: rebind.test, ports: [\(good.port)]}"],
                                         blockedIPs: ["127.0.0.3"])
        try await withProxy(policy: policy, configure: {
            $0.hostsFile = nil
            $0.dnsServer = try? DNSServerResolver.parseServer(dns.address)
        }) { proxy in
            var statuses: [Int] = []
            for _ in 0..<6 {
                let (connection, head) = try await proxy.connect("rebind.test:\(good.port)")
                statuses.append(head.status)
                await connection.close()
            }
            #expect(statuses == [200, 403, 200, 403, 200, 403])
            try await eventually("the good origin accepted three") { good.accepted == 3 }
            #expect(bad.accepted == 0, "the proxy connected to an address it did not check")
            // One lookup per request: no second lookup between the check and the dial.
            #expect(dns.received.filter { $0.type == 1 }.count == 6)
            let closes = try await {
                try await eventually("three close records") { try proxy.records("tunnel_close").count == 3 }
                return try proxy.records("tunnel_close")
            }()
            #expect(closes.allSatisfy { $0.details["address"] == "127.0.0.2" })
        }
    }

    @Test("a name whose lookup fails is refused (fail closed)")
    func lookupFailure() async throws {
        let dns = try TestDNSServer(host: "127.0.0.1") { query, _ in
            [TestDNSServer.reply(to: query, records: [], responseCode: 2)]
        }
        defer { dns.stop() }
        let policy = ProxyFixture.policy(allowedHosts: ["{host: broken.test, ports: [443]}"])
        try await withProxy(policy: policy, configure: {
            $0.hostsFile = nil
            $0.dnsServer = try? DNSServerResolver.parseServer(dns.address)
        }) { proxy in
            let (connection, head) = try await proxy.connect("broken.test:443")
            await connection.close()
            #expect(head.status == 403)
            #expect(head["x-sentinel-rule"] == "builtin:dns")
        }
    }

    @Test("a denied name is never looked up")
    func noLookupForDeniedName() async throws {
        let dns = try TestDNSServer(host: "127.0.0.1") { query, _ in
            [TestDNSServer.reply(to: query, records: query.type == 1 ? [.a(owner: query.name, address: "127.0.0.2")] : [])]
        }
        defer { dns.stop() }
        let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [443]}"], blockedHosts: ["secret.test"])
        try await withProxy(policy: policy, configure: {
            $0.hostsFile = nil
            $0.dnsServer = try? DNSServerResolver.parseServer(dns.address)
        }) { proxy in
            let (connection, head) = try await proxy.connect("secret.test:443")
            await connection.close()
            #expect(head.status == 403)
            let (other, otherHead) = try await proxy.connect("unknown.test:443")
            await other.close()
            #expect(otherHead.status == 403)
            #expect(dns.received.isEmpty)
        }
    }
}
