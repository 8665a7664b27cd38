// Pipelined requests: a client that writes a second request right behind the first, on one
// connection. The proxy serves one request per connection, so the second one is refused and
// recorded, and none of its bytes reach the destination of the first (issue: an allowed GET
// followed at once by a POST to a denied host had the POST's body forwarded to the allowed
// destination, with no decision and no record).

import Foundation
import SentinelProxy
import Testing

/// A request written right behind an allowed one, and a marker that must never reach an origin.
struct PipelinedCase: Sendable, CustomTestStringConvertible {
    /// What the case is about.
    var name: String
    /// The first request (allowed), with `PORT` for the origin's port.
    var first: String
    /// The second request, with `PORT` for the origin's port.
    var second: String
    /// Bytes of the second request that must not reach any origin.
    var marker: String
    /// The action and target the second request's record names (`PORT` replaced).
    var action: String
    var target: String

    var testDescription: String { name }
}

@Suite("Proxy: pipelined requests are decided or refused")
struct ProxyPipeliningTests {
    static let get = "GET http://allowed.test:PORT/first HTTP/1.1\r\nHost: allowed.test\r\n\r\n"

    static let cases: [PipelinedCase] = [
        PipelinedCase(
            name: "a POST with a body to a denied host behind a GET",
            first: get,
            second: "POST http://denied.test:PORT/upload HTTP/1.1\r\nContent-Length: 11\r\n\r\nSECRET-BODY",
            marker: "SECRET", action: "http", target: "http://denied.test:PORT/upload"),
        PipelinedCase(
            name: "a chunked POST to a denied host behind a GET",
            first: get,
            second: "POST http://denied.test:PORT/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "b\r\nSECRET-BODY\r\n0\r\n\r\n",
            marker: "SECRET", action: "http", target: "http://denied.test:PORT/upload"),
        PipelinedCase(
            name: "a second GET to the same allowed host",
            first: get,
            second: "GET http://allowed.test:PORT/second HTTP/1.1\r\n\r\n",
            marker: "/second", action: "http", target: "http://allowed.test:PORT/second"),
        PipelinedCase(
            name: "a CONNECT with early bytes behind a GET",
            first: get,
            second: "CONNECT denied.test:PORT HTTP/1.1\r\n\r\nSECRET-TUNNEL",
            marker: "SECRET", action: "connect", target: "denied.test:PORT"),
        PipelinedCase(
            name: "a POST to a denied host behind a POST with a body",
            first: "POST http://allowed.test:PORT/first HTTP/1.1\r\nContent-Length: 10\r\n\r\nfirst-body",
            second: "POST http://denied.test:PORT/upload HTTP/1.1\r\nContent-Length: 11\r\n\r\nSECRET-BODY",
            marker: "SECRET", action: "http", target: "http://denied.test:PORT/upload"),
    ]

    @Test("a request written behind an allowed one is refused and recorded, and none of its bytes leave the proxy",
          arguments: cases)
    func pipelined(_ test: PipelinedCase) async throws {
        try await withOrigins([("127.0.0.2", .recording), ("127.0.0.3", .recording)]) { origins in
            let (allowed, denied) = (origins[0], origins[1])
            let port = String(allowed.port)
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(port)]}"])
            let hosts = [("allowed.test", "127.0.0.2"), ("denied.test", "127.0.0.3")]
            try await withProxy(policy: policy, hosts: hosts) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                // Both requests in one write: the second is in the proxy's hands before the
                // first is decided.
                let bytes = (test.first + test.second).replacingOccurrences(of: "PORT", with: port)
                try await connection.send(bytes)
                let response = try await connection.readResponse()
                await connection.close()

                // The first request is served, and the connection ends with it.
                #expect(response.status == 200, "\(response.raw)")
                #expect(response.body == "recorded\n")
                #expect(response["connection"] == "close")

                // Exactly one request reached the allowed origin, and nothing of the second.
                try await eventually("the origin saw its connection close") { allowed.received.allSatisfy(\.closed) }
                let received = allowed.received
                #expect(received.count == 1)
                let text = String(decoding: received.first?.bytes ?? [], as: UTF8.self)
                #expect(text.hasPrefix("\(test.first.split(separator: " ")[0]) /first HTTP/1.1\r\n"), "\(text)")
                #expect(!text.contains(test.marker), "the second request's bytes reached the origin: \(text)")
                #expect(text.components(separatedBy: " HTTP/1.1\r\n").count == 2, "more than one request: \(text)")
                #expect(denied.accepted == 0)

                // Each request has one decision record: the first allowed, the second refused.
                try await eventually("the close record") { try proxy.records(client: client).contains(where: \.isClose) }
                let records = try proxy.records(client: client)
                let decisions = records.filter(\.isDecision)
                #expect(decisions.count == 2, "\(decisions.map(\.json))")
                #expect(decisions.filter { $0.rule != "builtin:http-pipelining" }.map(\.decision) == ["allow"])
                let refused = try #require(decisions.first { $0.rule == "builtin:http-pipelining" })
                #expect(refused.decision == "deny")
                #expect(refused.action == test.action)
                #expect(refused.target == test.target.replacingOccurrences(of: "PORT", with: port))
                #expect(refused.reason.contains("one request per connection"))
                #expect(records.filter(\.isClose).count == 1)
            }
        }
    }
}
