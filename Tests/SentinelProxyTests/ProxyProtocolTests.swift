// egress-anchors §6 #60–#80 (parsing: userinfo, NUL, dots, case, ports) and #81–#87 (protocol:
// origin-form, chained proxies, the proxy itself, brackets), plus the proxy's port rule and
// squid-style allow-lists. Each refused request must leave the origin untouched.

import Foundation
import SentinelPolicy
import SentinelProxy
import Testing

@Suite("Proxy: parsing and protocol rules")
struct ProxyProtocolTests {
    /// Requests for an allowed host (allowed.test, on the origin's port) dressed up so that a
    /// sloppy parser would send them somewhere else, or on a port the rule does not name.
    /// `PORT` is replaced with the origin's port.
    static let refusedRequests: [String] = [
        // userinfo (#60–#62)
        "GET http://user:pw@allowed.test:PORT/ HTTP/1.1",
        "GET http://allowed.test:PORT@127.0.0.3:PORT/ HTTP/1.1",
        "GET http://127.0.0.3:PORT#@allowed.test:PORT/ HTTP/1.1",
        "CONNECT user@allowed.test:PORT HTTP/1.1",
        "CONNECT user:pw@allowed.test:PORT HTTP/1.1",
        // backslashes, NUL, encoded characters (#63–#69)
        "GET http://allowed.test:PORT\\@127.0.0.3/ HTTP/1.1",
        "GET http://127.0.0.1%00.allowed.test:PORT/ HTTP/1.1",
        "CONNECT 127.0.0.1%00.allowed.test:PORT HTTP/1.1",
        // look-alikes and label boundaries (#70–#76)
        "GET http://allowed.test\u{3002}evil.test:PORT/ HTTP/1.1",
        "CONNECT evilallowed.test:PORT HTTP/1.1",
        "CONNECT allowed.test.evil.test:PORT HTTP/1.1",
        "CONNECT allowed.test..:PORT HTTP/1.1",
        // ports (#79, #80)
        "CONNECT allowed.test:22 HTTP/1.1",
        "CONNECT allowed.test:0 HTTP/1.1",
        "CONNECT allowed.test:99999 HTTP/1.1",
        "CONNECT allowed.test:-1 HTTP/1.1",
        "CONNECT allowed.test HTTP/1.1",
        "CONNECT allowed.test: HTTP/1.1",
        "GET http://allowed.test:22/ HTTP/1.1",
        // brackets (#86)
        "CONNECT [::1:PORT HTTP/1.1",
        "CONNECT ::1:PORT HTTP/1.1",
        // not absolute-form, or not http (#84)
        "GET / HTTP/1.1",
        "GET allowed.test:PORT/ HTTP/1.1",
        "GET https://allowed.test:PORT/ HTTP/1.1",
        "OPTIONS * HTTP/1.1",
    ]

    @Test("requests that disguise another destination or port are refused, and the origin sees nothing",
          arguments: refusedRequests)
    func refused(_ requestLine: String) async throws {
        try await withOrigins([("127.0.0.2", .http), ("127.0.0.3", .http)]) { origins in
            let origin = origins[0]
            let line = requestLine.replacingOccurrences(of: "PORT", with: String(origin.port))
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            let hosts = [("allowed.test", "127.0.0.2"), ("evil.test", "127.0.0.3"), ("evilallowed.test", "127.0.0.3")]
            try await withProxy(policy: policy, hosts: hosts) { proxy in
                let response = try await proxy.request(line + "\r\nHost: 127.0.0.1:\(proxy.port)\r\n\r\n")
                #expect(response.status == 403 || response.status == 400, "\(line): \(response.raw)")
                #expect(response["x-sentinel-rule"] != nil, "\(line): \(response.raw)")
                #expect(origins.allSatisfy { $0.accepted == 0 }, "\(line) reached an origin")
                // The refusal is recorded: by a rule, or (a host or port no entry names) by the
                // approval step, whose scripted human says no.
                #expect(try proxy.records().contains { $0.decision == "deny" || $0.decision == "rejected" })
            }
        }
    }

    /// Spellings of the allowed host that are the same host after normalisation (#73, #74).
    @Test("case and one trailing dot are normalised, and the request goes through",
          arguments: ["ALLOWED.TEST", "Allowed.Test.", "allowed.test."])
    func normalisedSpellings(_ host: String) async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let (connection, head) = try await proxy.connect("\(host):\(origin.port)")
                await connection.close()
                #expect(head.status == 200)
            }
        }
    }

    @Test("headers that ask for another proxy or next hop are refused (#87)",
          arguments: ["X-Upstream-Https-Proxy: http://10.0.0.1:3128", "Proxy: http://127.0.0.3:3128",
                      "X-Upstream-Proxy: 127.0.0.3", "Proxy-Forward-To: 127.0.0.3"])
    func chainedProxy(_ header: String) async throws {
        try await withOrigins([("127.0.0.2", .http)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)", extraHeaders: [header])
                await connection.close()
                let response = try await proxy.get("http://allowed.test:\(origin.port)/", extraHeaders: [header])
                for answer in [head, response] {
                    #expect(answer.status == 403)
                    #expect(answer["x-sentinel-rule"] == "builtin:proxy-chaining")
                }
                #expect(origin.accepted == 0)
            }
        }
    }

    @Test("a request with both Content-Length and Transfer-Encoding is refused (request smuggling)")
    func ambiguousFraming() async throws {
        try await withOrigins([("127.0.0.2", .http)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let response = try await proxy.request(
                    "POST http://allowed.test:\(origin.port)/ HTTP/1.1\r\nContent-Length: 4\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                #expect(response.status == 400 || response.status == 403)
                #expect(origin.accepted == 0)
            }
        }
    }

    @Test("origin-form sent to the proxy is refused, never served or guessed from Host (#84)")
    func originForm() async throws {
        let policy = ProxyFixture.policy(allowedHosts: ["\"*\""])
        try await withProxy(policy: policy) { proxy in
            let response = try await proxy.request("GET / HTTP/1.1\r\nHost: 127.0.0.1:\(proxy.port)\r\n\r\n")
            #expect(response.status == 403)
            #expect(response["x-sentinel-rule"] == "builtin:proxy-origin-form")
            #expect(response["x-sentinel-remedy"]?.contains("HTTP_PROXY") == true)
        }
    }

    @Test("CONNECT to the proxy's own address and port is refused (#85)")
    func connectToSelf() async throws {
        let policy = ProxyFixture.policy(allowedHosts: ["\"*\""])
        try await withProxy(policy: policy, hosts: [("self.test", "127.0.0.1"), ("also-self.test", "127.0.0.9")]) { proxy in
            // The port rule would refuse first: allow the proxy's port so the self rule is what decides.
            try proxy.writePolicy(ProxyFixture.policy(allowedHosts: ["{host: \"*\", ports: [\(proxy.port)]}"]))
            try await proxy.server.reload()
            for target in ["127.0.0.1", "self.test", "also-self.test", "[::ffff:127.0.0.1]", "0.0.0.0"] {
                let (connection, head) = try await proxy.connect("\(target):\(proxy.port)")
                await connection.close()
                #expect(head.status == 403, "\(target)")
                if target != "0.0.0.0" {
                    #expect(head["x-sentinel-rule"] == "builtin:proxy-self", "\(target)")
                }
            }
            // Only the listener itself and the CONNECT connections ever reached the proxy.
            let loops = try proxy.records("connect").filter { $0.details["client"]?.hasPrefix("127.0.0.1") == true }
            #expect(loops.count == 5)
        }
    }

    @Test("an entry without ports allows 80 and 443 only through the proxy (stricter than the policy engine)")
    func defaultPorts() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["allowed.test"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                await connection.close()
                #expect(head.status == 403)
                #expect(head["x-sentinel-reason"]?.contains(String(origin.port)) == true)
                #expect(origin.accepted == 0)
            }
            // The same entry with the origin's port as a default port goes through.
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")],
                                configure: { $0.defaultPorts = [origin.port] }) { proxy in
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                await connection.close()
                #expect(head.status == 200)
            }
        }
    }

    @Test("squid-style allow-lists: .domain is the domain and its subdomains, a bare name that name only")
    func allowListFile() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let list = """
                # test allow-list
                .wide.test
                exact.test   # only this name
                """
            let hosts = ["wide.test", "api.wide.test", "exact.test", "sub.exact.test", "notwide.test"].map { ($0, "127.0.0.2") }
            try await withProxy(policy: ProxyFixture.policy(allowedHosts: []), hosts: hosts, allowList: list,
                                configure: { $0.defaultPorts = [origin.port] }) { proxy in
                var statuses: [String: Int] = [:]
                for (host, _) in hosts {
                    let (connection, head) = try await proxy.connect("\(host):\(origin.port)")
                    await connection.close()
                    statuses[host] = head.status
                }
                #expect(statuses == ["wide.test": 200, "api.wide.test": 200, "exact.test": 200,
                                     "sub.exact.test": 403, "notwide.test": 403])
                let allows = try proxy.records("connect").filter { $0.decision == "allow" }
                #expect(allows.contains { $0.rule.hasSuffix("allowed-domains.txt:2") })
            }
        }
    }

    @Test("an allow-list entry that is a public suffix or has two words makes the file unusable",
          arguments: [".com", "*.co.uk", "a.test b.test", "exa mple"])
    func badAllowList(_ line: String) throws {
        #expect(throws: ProxyError.self) { try AllowListFile(contents: "ok.test\n\(line)\n", path: "list.txt") }
    }
}
