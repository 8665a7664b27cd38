import Foundation
import SentinelApproval
import Testing

@Suite("Proxy: allowed hosts through absolute-form HTTP and CONNECT, denials with the rule")
struct ProxyForwardingTests {
    @Test("an allowed host through absolute-form HTTP: origin-form upstream, Host from the URI, hop-by-hop removed")
    func absoluteForm() async throws {
        try await withOrigins([("127.0.0.2", .http)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                // #83: the Host header the client sends is ignored and rewritten from the URI.
                let response = try await proxy.get(
                    "http://allowed.test:\(origin.port)/path?q=1", host: "10.0.0.1",
                    extraHeaders: ["Proxy-Connection: keep-alive", "Proxy-Authorization: Basic eDp5",
                                   "Connection: X-Secret", "X-Secret: hop", "X-Kept: end-to-end"])
                #expect(response.status == 200)
                #expect(response.body.contains("GET /path?q=1 HTTP/1.1"))
                #expect(response.body.contains("host: allowed.test:\(origin.port)"))
                #expect(!response.body.contains("10.0.0.1"))
                #expect(!response.body.lowercased().contains("proxy-connection"))
                #expect(!response.body.lowercased().contains("proxy-authorization"))
                #expect(!response.body.lowercased().contains("x-secret"))
                #expect(response.body.lowercased().contains("x-kept: end-to-end"))
                // The origin's hop-by-hop headers do not reach the client either.
                #expect(response["keep-alive"] == nil)
                #expect(response["connection"] == "close")
                #expect(origin.accepted == 1)

                try await eventually("the close record") { try !proxy.records("http_close").isEmpty }
                let allow = try #require(try proxy.records("http").first)
                #expect(allow.decision == "allow")
                #expect(allow.details["addresses"] == "127.0.0.2")
                let close = try #require(try proxy.records("http_close").first)
                #expect(close.details["address"] == "127.0.0.2")
                #expect(close.details["port"] == String(origin.port))
                #expect(Int(close.details["bytes_down"] ?? "") ?? 0 > 0)
                #expect(close.details["duration_ms"] != nil)
            }
        }
    }

    @Test("an allowed host through CONNECT: 200 without framing headers, bytes both ways, Host ignored, close record")
    func connectTunnel() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                // #82: a Host header naming the metadata address changes nothing for CONNECT.
                let connection = try await TestConnection.open(port: proxy.port)
                try await connection.send("CONNECT allowed.test:\(origin.port) HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
                let head = try await connection.readHead()
                #expect(head.status == 200)
                #expect(head["content-length"] == nil && head["transfer-encoding"] == nil)
                #expect(head.body.isEmpty)

                try await connection.send("ping-1")
                #expect(try await connection.read { $0.count >= 6 } == Array("ping-1".utf8))
                // Half-close: the client's end of input reaches the origin, whose answer and
                // end still come back.
                try await connection.send("last")
                try await connection.shutdownOutput()
                #expect(try await connection.readToEnd() == Array("last".utf8))
                await connection.close()

                try await eventually("the tunnel close record") { try !proxy.records("tunnel_close").isEmpty }
                let close = try #require(try proxy.records("tunnel_close").first)
                #expect(close.target == "allowed.test:\(origin.port)")
                #expect(close.details["bytes_up"] == "10")
                #expect(close.details["bytes_down"] == "10")
                #expect(close.details["address"] == "127.0.0.2")
                #expect(close.details["decision"] == "allow")
                #expect(origin.accepted == 1)
            }
        }
    }

    @Test("bytes the client sends right after the CONNECT head (an early ClientHello) are not lost")
    func earlyBytes() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                try await connection.send("CONNECT allowed.test:\(origin.port) HTTP/1.1\r\n\r\nEARLY")
                let answer = try await connection.read { String(decoding: $0, as: UTF8.self).hasSuffix("EARLY") }
                #expect(String(decoding: answer, as: UTF8.self) == "HTTP/1.1 200 Connection established\r\n\r\nEARLY")
                await connection.close()
            }
        }
    }

    @Test("a blocked host gets a 403 naming the rule, the reason and the remedy; nothing is dialled or looked up")
    func deniedHost() async throws {
        try await withOrigins([("127.0.0.2", .http)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(
                allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}", "{host: evil.test, ports: [\(origin.port)]}"],
                blockedHosts: ["evil.test"])
            try await withProxy(policy: policy, hosts: [("evil.test", "127.0.0.2")]) { proxy in
                for response in [try await proxy.get("http://evil.test:\(origin.port)/"),
                                 try await proxy.connect("evil.test:\(origin.port)").1] {
                    #expect(response.status == 403)
                    #expect(response["x-sentinel-rule"] == "network_failsafe.blocked_hosts[0]")
                    #expect(response["x-sentinel-reason"]?.contains("evil.test") == true)
                    #expect(response["x-sentinel-remedy"]?.contains("blocked_hosts") == true)
                    #expect(response.body.contains("Rule: network_failsafe.blocked_hosts[0]"))
                    #expect(response.body.contains("To allow it, change the policy:"))
                }
                #expect(origin.accepted == 0)
                let denials = try proxy.records().filter { $0.decision == "deny" }
                #expect(denials.count == 2)
                #expect(denials.allSatisfy { $0.rule == "network_failsafe.blocked_hosts[0]" })
            }
        }
    }

    @Test("an unknown host goes to approval: denied by the human, approved once, approved for the session")
    func approval() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            // No allowed_hosts entry names new.test: only a human can let it through, and only on
            // the port asked about (an approval is for host and port).
            let policy = ProxyFixture.policy(allowedHosts: ["{host: other.test, ports: [\(origin.port)]}"])
            let hosts = [("new.test", "127.0.0.2")]

            let denier = ScriptedApprover(.deny)
            try await withProxy(policy: policy, hosts: hosts, approval: denier) { proxy in
                let (_, head) = try await proxy.connect("new.test:\(origin.port)")
                #expect(head.status == 403)
                #expect(head["x-sentinel-rule"] == "default:allowed_hosts")
                #expect(denier.alerts.count == 1)
                #expect(denier.alerts.first?.target == "new.test:\(origin.port)")
                #expect(origin.accepted == 0)
            }

            let once = ScriptedApprover(.approveOnce)
            try await withProxy(policy: policy, hosts: hosts, approval: once) { proxy in
                for _ in 0..<2 {
                    let (connection, head) = try await proxy.connect("new.test:\(origin.port)")
                    #expect(head.status == 200)
                    await connection.close()
                }
                #expect(once.alerts.count == 2)
                let approved = try proxy.records("connect").filter { $0.decision == "approved" }
                #expect(approved.count == 2)
            }

            let session = ScriptedApprover(.approveForSession)
            try await withProxy(policy: policy, hosts: hosts, approval: session) { proxy in
                for _ in 0..<3 {
                    let (connection, head) = try await proxy.connect("new.test:\(origin.port)")
                    #expect(head.status == 200)
                    await connection.close()
                }
                #expect(session.alerts.count == 1)
                try await eventually("three close records") { try proxy.records("tunnel_close").count == 3 }
                #expect(try proxy.records("tunnel_close").allSatisfy { $0.details["decision"] == "approved" })
            }
        }
    }

    @Test("a redirect to the metadata address: the 302 goes back to the client, and the next hop is refused")
    func redirectToMetadata() async throws {
        try await withOrigins([("127.0.0.2", .http)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}", "\"*\""])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let first = try await proxy.get("http://allowed.test:\(origin.port)/redirect")
                #expect(first.status == 302)
                let location = try #require(first["location"])
                // #81: the client follows, and the hop comes back through the proxy.
                let second = try await proxy.get(location)
                #expect(second.status == 403)
                #expect(second["x-sentinel-rule"] == "builtin:cloud-metadata")
                #expect(second["x-sentinel-reason"]?.contains("169.254.169.254") == true)
                #expect(origin.accepted == 1)
            }
        }
    }
}
