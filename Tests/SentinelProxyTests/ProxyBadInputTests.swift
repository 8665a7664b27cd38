// Bad input never hangs, half-answers or passes unnoticed: a body whose framing breaks after the
// decision, a request decided after its client left, and a client that sends its head one byte at
// a time or holds many heads open, header names a backend could read as framing headers, and the
// framing of what is sent upstream.

import Foundation
import SentinelApproval
import SentinelPolicy
import SentinelProxy
import Synchronization
import Testing

/// An approval handler that holds every question until the test lets it answer.
final class GatedApprover: ApprovalHandler {
    let name: Approver = "console"
    private let outcome: ApprovalDecision.Outcome
    private let state = Mutex<(asked: Int, waiting: [CheckedContinuation<Void, Never>], open: Bool)>((0, [], false))

    init(_ outcome: ApprovalDecision.Outcome) {
        self.outcome = outcome
    }

    /// How many questions arrived.
    var asked: Int { state.withLock { $0.asked } }

    /// Lets every held question, and every later one, be answered.
    func release() {
        let waiting = state.withLock { state in
            state.open = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                state.asked += 1
                if state.open { return true }
                state.waiting.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
        return ApprovalDecision(answer: outcome, approver: name, note: "gated")
    }
}

/// A request whose body framing is broken after its head, and bytes that must never reach the
/// origin.
struct BadBodyCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// Headers and body after `POST http://allowed.test:PORT/ HTTP/1.1\r\n`.
    var rest: String
    /// Bytes at or after the point where the framing breaks.
    var marker: String

    var testDescription: String { name }
}

/// A header the proxy refuses, and the rule that refuses it.
struct HeaderNameCase: Sendable, CustomTestStringConvertible {
    var header: String
    /// The rules that may refuse it: the proxy's own header rules, or the HTTP decoder (which
    /// rejects some names before the proxy sees them).
    var rules: Set<String>
    var status = 400
    var connect = false

    var testDescription: String { (connect ? "CONNECT, " : "") + header.debugDescription }
}

@Suite("Proxy: bad input never hangs, half-answers or passes unnoticed")
struct ProxyBadInputTests {
    // MARK: - Body framing that breaks after the decision

    static let badBodies: [BadBodyCase] = [
        BadBodyCase(name: "an invalid chunk size",
                    rest: "Transfer-Encoding: chunked\r\n\r\nzz\r\nMARK\r\n0\r\n\r\n", marker: "MARK"),
        BadBodyCase(name: "a negative chunk size",
                    rest: "Transfer-Encoding: chunked\r\n\r\n-4\r\nMARK\r\n0\r\n\r\n", marker: "MARK"),
        BadBodyCase(name: "bytes after a chunk's data",
                    rest: "Transfer-Encoding: chunked\r\n\r\n3\r\nabcMARK\r\n0\r\n\r\n", marker: "MARK"),
        BadBodyCase(name: "a chunk-size line without its LF",
                    rest: "Transfer-Encoding: chunked\r\n\r\n4\rMARK\r\n0\r\n\r\n", marker: "MARK"),
        BadBodyCase(name: "more bytes than the Content-Length (trailing bytes)",
                    rest: "Content-Length: 3\r\n\r\nabc!MARK\r\n\r\n", marker: "MARK"),
        BadBodyCase(name: "a NUL where the next request should start",
                    rest: "Content-Length: 3\r\n\r\nabc\u{0}MARK", marker: "MARK"),
    ]

    @Test("a body whose framing is bad after the decision gets a 400 and a record of what happened",
          arguments: badBodies)
    func badBody(_ test: BadBodyCase) async throws {
        // The origin never answers: any response the client gets comes from the proxy.
        try await withOrigins([("127.0.0.2", .silent)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                try await connection.send("POST http://allowed.test:\(origin.port)/ HTTP/1.1\r\n" + test.rest)
                let response = try await connection.readResponse()
                await connection.close()
                #expect(response.status == 400, "\(response.raw)")
                #expect(response["x-sentinel-rule"] == "builtin:http-framing")
                #expect(response["connection"] == "close")

                // One decision (the request was allowed) and its outcome: answered 400.
                try await eventually("the close record") {
                    try proxy.records(client: client).contains(where: \.isClose)
                }
                let records = try proxy.records(client: client)
                #expect(records.filter(\.isDecision).map(\.decision) == ["allow"])
                let close = try #require(records.first { $0.isClose })
                #expect(close.details["status"] == "400")
                #expect(close.details["refusal_rule"] == "builtin:http-framing")
                #expect(close.reason.contains("400"), "\(close.reason)")
                // Nothing from the point where the framing broke reached the origin.
                try await eventually("the origin's connections closed") { origin.received.allSatisfy(\.closed) }
                for connection in origin.received {
                    #expect(!String(decoding: connection.bytes, as: UTF8.self).contains(test.marker))
                }
            }
        }
    }

    @Test("a body that breaks while it is being forwarded gets one 400, and the destination is cut off (fuzz seed 4)",
          arguments: ["", "!garbage"])
    func badBodyWhileForwarding(_ more: String) async throws {
        try await withOrigins([("127.0.0.2", .silent)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                try await connection.send(
                    "POST http://allowed.test:\(origin.port)/ HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
                try await eventually("the origin has the head and the start of the body") {
                    origin.received.first.map { String(decoding: $0.bytes, as: UTF8.self).hasSuffix("abc") } ?? false
                }
                // The body never completes: the client ends its side, or sends what cannot be one.
                if more.isEmpty { try await connection.shutdownOutput() } else { try await connection.send(more) }
                let bytes = try await connection.readToEnd()
                await connection.close()
                let text = String(decoding: bytes, as: UTF8.self)
                #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "more than one answer: \(text)")
                let response = try TestResponse(bytes)
                #expect(response.status == 400)
                #expect(response["x-sentinel-rule"] == "builtin:http-framing")
                try await eventually("the origin's connection was cut") { origin.received.allSatisfy(\.closed) }
                try await eventually("the close record") {
                    try proxy.records(client: client).contains(where: \.isClose)
                }
                let close = try #require(try proxy.records(client: client).first { $0.isClose })
                #expect(close.details["status"] == "400")
                #expect(close.details["refusal_rule"] == "builtin:http-framing")
            }
        }
    }

    @Test("a client that leaves while its request is forwarded: the close record says so and claims no answer")
    func clientLeavesWhileForwarding() async throws {
        try await withOrigins([("127.0.0.2", .silent)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                try await connection.send("GET http://allowed.test:\(origin.port)/ HTTP/1.1\r\n\r\n")
                try await eventually("the origin has the request") { !(origin.received.first?.bytes.isEmpty ?? true) }
                // A reset, which the proxy notices while it waits for the response (an orderly
                // close reads as the end of the request, and the response is still awaited).
                try await connection.reset()
                try await eventually("the close record") {
                    try proxy.records(client: client).contains(where: \.isClose)
                }
                let close = try #require(try proxy.records(client: client).first { $0.isClose })
                #expect(close.reason.hasPrefix("the client's connection failed"), "\(close.reason)")
                #expect(close.details["status"] == nil, "the client was never answered: \(close.details)")
                #expect(close.details["refusal_rule"] == nil)
                try await eventually("the origin's connection closed") { origin.received.allSatisfy(\.closed) }
            }
        }
    }

    @Test("a request decided after its client left still gets its close record",
          arguments: ["GET http://new.test:PORT/ HTTP/1.1\r\n\r\n", "CONNECT new.test:PORT HTTP/1.1\r\n\r\n"])
    func decidedAfterClientLeft(_ request: String) async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            // new.test goes to a human, who answers only once the client has gone.
            let policy = ProxyFixture.policy(allowedHosts: [])
                .replacingOccurrences(of: "timeout_seconds: 5", with: "timeout_seconds: 600")
            let approver = GatedApprover(.approveOnce)
            try await withProxy(policy: policy, hosts: [("new.test", "127.0.0.2")], approval: approver,
                                configure: { $0.defaultPorts = [origin.port] }) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                try await connection.send(request.replacingOccurrences(of: "PORT", with: String(origin.port)))
                try await eventually("the question reached the human") { approver.asked == 1 }
                // A reset: the proxy reads nothing while it decides, so it sees a plain close only
                // once it reads again.
                try await connection.reset()
                try await eventually("the proxy saw the client leave") { await proxy.server.openConnections == 0 }
                approver.release()

                try await eventually("the close record of the approved request") {
                    try proxy.records(client: client).contains(where: \.isClose)
                }
                let records = try proxy.records(client: client)
                #expect(records.filter(\.isDecision).map(\.decision) == ["approved"])
                let close = try #require(records.first { $0.isClose })
                #expect(close.reason.contains("before"), "\(close.reason)")
                #expect(close.details["bytes_up"] == "0")
                #expect(origin.received.allSatisfy { $0.bytes.isEmpty })
            }
        }
    }

    // MARK: - The framing sent upstream

    /// Requests whose body the HTTP encoder would have framed differently from the head it sends
    /// (a body on TRACE, a transfer coding spelled in capitals or listed with another): each must
    /// reach the origin as exactly one request, framed by the proxy, with `/smuggled` inside its
    /// body and never as a request of its own.
    static let reframed: [String] = [
        "TRACE http://allowed.test:PORT/ HTTP/1.1\r\nContent-Length: 27\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n!",
        "GET http://allowed.test:PORT/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "1f\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n0\r\n\r\n",
        "GET http://allowed.test:PORT/ HTTP/1.1\r\nContent-Length: 27\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n!",
        "OPTIONS http://allowed.test:PORT/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "1f\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n0\r\n\r\n",
        "POST http://allowed.test:PORT/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "1f\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n\r\n0\r\n\r\n",
    ]

    @Test("the request sent upstream carries the proxy's own framing, so its body cannot become a request",
          arguments: reframed)
    func upstreamFraming(_ request: String) async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let raw = request.replacingOccurrences(of: "PORT", with: String(origin.port))
                let response = try await proxy.request(raw)
                #expect(response.status == 200, "\(response.raw)")
                try await eventually("the origin's connection closed") { origin.received.allSatisfy(\.closed) }
                #expect(origin.received.count == 1)
                for connection in origin.received {
                    var target: String?
                    let problem = ReceivedRequest.problem(connection.bytes, target: &target)
                    #expect(problem == nil, "\(String(decoding: connection.bytes, as: UTF8.self).debugDescription)")
                    #expect(target == "/")
                }
            }
        }
    }

    @Test("a transfer coding other than chunked alone is refused: the proxy could not say it upstream",
          arguments: ["Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked, chunked",
                      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"])
    func otherTransferCodings(_ header: String) async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let response = try await proxy.request(
                    "POST http://allowed.test:\(origin.port)/ HTTP/1.1\r\n\(header)\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                #expect(response.status == 403 || response.status == 400, "\(response.raw)")
                #expect(["builtin:http-framing", "builtin:http-syntax"].contains(response["x-sentinel-rule"] ?? ""))
                #expect(origin.accepted == 0)
            }
        }
    }

    @Test("a request-target the proxy could not send on is refused at once, never left waiting (fuzz seed 3)",
          arguments: ["/f1\"60-0", "/{x}", "/a|b", "/a^b", "/a`b", "/a<b>", "/caf\u{e9}"])
    func unsendableTarget(_ path: String) async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                try await connection.send("GET http://allowed.test:\(origin.port)\(path) HTTP/1.1\r\n\r\n")
                let response = try await connection.readResponse()
                await connection.close()
                #expect(response.status == 400, "\(response.raw)")
                #expect(["builtin:url-syntax", "builtin:http-syntax"].contains(response["x-sentinel-rule"] ?? ""))
                #expect(try proxy.records(client: client).map(\.decision) == ["deny"])
                #expect(origin.accepted == 0)
            }
        }
    }

    // MARK: - Slow clients

    @Test("a client that sends its head one byte at a time is refused at the head deadline, with a record")
    func slowHead() async throws {
        let policy = ProxyFixture.policy(allowedHosts: ["allowed.test"])
        // The idle timeout is far away and restarts with every byte; only the head deadline ends this.
        let configure: (inout ProxyConfiguration) -> Void = {
            $0.headTimeout = .seconds(1)
            $0.idleTimeout = .seconds(300)
        }
        try await withProxy(policy: policy, configure: configure) { proxy in
            let connection = try await TestConnection.open(port: proxy.port)
            let client = connection.clientEndpoint
            try await connection.send("GET http://allowed.test/ HTTP/1.1\r\nX-Slow: ")
            let giveUp = ContinuousClock.now + .seconds(20)
            while try await !connection.ended {
                guard ContinuousClock.now < giveUp else {
                    throw TestNetworkError(description: "the proxy kept a head that never ends open")
                }
                do {
                    try await connection.send("a")
                } catch {
                    break  // The proxy closed the connection between two bytes.
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let response = try await connection.readResponse()
            await connection.close()
            #expect(response.status == 408, "\(response.raw)")
            #expect(response["x-sentinel-rule"] == "builtin:http-head-timeout")
            #expect(response["x-sentinel-reason"]?.contains("1 second") == true)
            let records = try proxy.records(client: client)
            #expect(records.map(\.rule) == ["builtin:http-head-timeout"])
            #expect(records.first?.decision == "deny")
        }
    }

    @Test("connections beyond the bound of those still reading their head are refused with a record")
    func headReadingBound() async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")],
                                configure: { $0.maxConnectionsReadingHead = 2 }) { proxy in
                let partial = "GET http://allowed.test:\(origin.port)/ HTTP/1.1\r\nX-Partial: yes"
                var held: [TestConnection] = []
                for _ in 0..<2 {
                    let connection = try await TestConnection.open(port: proxy.port)
                    try await connection.send(partial)
                    held.append(connection)
                }
                try await eventually("the proxy holds both heads") { await proxy.server.openConnections == 2 }

                let refused = try await TestConnection.open(port: proxy.port)
                let client = refused.clientEndpoint
                let response = try await refused.readResponse()
                await refused.close()
                #expect(response.status == 503, "\(response.raw)")
                #expect(response["x-sentinel-rule"] == "builtin:http-head-limit")
                let records = try proxy.records(client: client)
                #expect(records.map(\.rule) == ["builtin:http-head-limit"])
                #expect(records.first?.decision == "deny")

                // A head that completes frees its place: the next connection is served.
                try await held[0].send("\r\n\r\n")
                #expect(try await held[0].readResponse().status == 200)
                try await eventually("the first connection closed") { await proxy.server.openConnections == 1 }
                let next = try await TestConnection.open(port: proxy.port)
                try await next.send("GET http://allowed.test:\(origin.port)/next HTTP/1.1\r\n\r\n")
                #expect(try await next.readResponse().status == 200)
                for connection in held + [next] { await connection.close() }
            }
        }
    }

    // MARK: - Header names

    static let headerNames: [HeaderNameCase] = [
        // Names a backend that reads `_` as `-` takes for framing or hop-by-hop headers.
        HeaderNameCase(header: "Transfer_Encoding: chunked", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "transfer_encoding: chunked", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "Content_Length: 0", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "Proxy_Connection: keep-alive", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "Keep_Alive: timeout=5", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "Proxy_Authorization: Basic eDp5", rules: ["builtin:http-header-name"]),
        HeaderNameCase(header: "Transfer_Encoding: chunked", rules: ["builtin:http-header-name"], connect: true),
        // A chained-proxy header is one whichever way it is spelled.
        HeaderNameCase(header: "X_Upstream_Https_Proxy: http://127.0.0.3:3128", rules: ["builtin:proxy-chaining"],
                       status: 403),
        // Names outside the RFC 9110 token grammar.
        HeaderNameCase(header: "X Bad: 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X(Bad): 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X\"Bad\": 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X\u{1}Bad: 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X\u{7f}Bad: 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X\u{0}Bad: 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: "X-Caf\u{e9}: 1", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
        HeaderNameCase(header: ": no name", rules: ["builtin:http-header-name", "builtin:http-syntax"]),
    ]

    @Test("header names outside the token grammar, or that collide with framing when _ is read as -, are refused",
          arguments: headerNames)
    func headerName(_ test: HeaderNameCase) async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let connection = try await TestConnection.open(port: proxy.port)
                let client = connection.clientEndpoint
                if test.connect {
                    try await connection.send("CONNECT allowed.test:\(origin.port) HTTP/1.1\r\n\(test.header)\r\n\r\n")
                } else {
                    try await connection.send("POST http://allowed.test:\(origin.port)/ HTTP/1.1\r\n\(test.header)\r\n"
                        + "Content-Length: 5\r\n\r\nhello")
                }
                let response = try await connection.readResponse()
                await connection.close()
                #expect(response.status == test.status, "\(response.raw)")
                #expect(test.rules.contains(response["x-sentinel-rule"] ?? ""), "\(response.raw)")
                let records = try proxy.records(client: client)
                #expect(records.count == 1)
                #expect(records.first?.decision == "deny")
                #expect(test.rules.contains(records.first?.rule ?? ""))
                #expect(origin.accepted == 0)
            }
        }
    }

    @Test("a name with _ that collides with nothing is forwarded as sent")
    func harmlessUnderscore() async throws {
        try await withOrigins([("127.0.0.2", .recording)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
                let response = try await proxy.get("http://allowed.test:\(origin.port)/",
                                                   extraHeaders: ["X_Api_Key: k"])
                #expect(response.status == 200)
                try await eventually("the origin's connection closed") { origin.received.allSatisfy(\.closed) }
                let text = String(decoding: origin.received.first?.bytes ?? [], as: UTF8.self)
                #expect(text.contains("X_Api_Key: k\r\n"), "\(text)")
            }
        }
    }
}
