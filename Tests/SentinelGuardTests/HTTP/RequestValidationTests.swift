import Testing
import SentinelGuard
import SentinelPolicy
import Foundation

@Suite("Pinned HTTP client: requests refused before anything is sent")
struct RequestValidationTests {
    let client = PinnedHTTPClient()

    /// Headers that could end a header line early or are not HTTP syntax.
    static let badHeaders: [(String, String, String)] = [
        ("CRLF in a value", "X-Note", "a\r\nX-Injected: yes"),
        ("LF in a value", "X-Note", "a\nX-Injected: yes"),
        ("CR in a value", "X-Note", "a\rb"),
        ("NUL in a value", "X-Note", "a\u{0}b"),
        ("another control in a value", "X-Note", "a\u{1b}[31m"),
        ("DEL in a value", "X-Note", "a\u{7f}"),
        ("CRLF in a name", "X-Note\r\nX-Injected", "yes"),
        ("colon in a name", "X-Note:", "yes"),
        ("space in a name", "X Note", "yes"),
        ("empty name", "", "yes"),
        ("non-ASCII name", "X-Nöte", "yes"),
        ("caller Host", "Host", "169.254.169.254"),
        ("caller host, other case", "hOsT", "169.254.169.254"),
        ("caller Content-Length", "Content-Length", "0"),
        ("caller Transfer-Encoding", "Transfer-Encoding", "chunked"),
        ("caller Connection", "Connection", "keep-alive"),
        ("caller Upgrade", "Upgrade", "h2c"),
    ]

    @Test("Bad or reserved headers are refused before connecting", arguments: badHeaders)
    func badHeader(name: String, header: String, value: String) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        let error = await clientError { () throws(HTTPClientError) in
            try await send(client, to: server, headers: [(name: "X-Fine", value: "ok"), (name: header, value: value)])
        }
        #expect(error?.code == .invalidRequest)
        #expect(error?.message.contains("\r") == false && error?.message.contains("\n") == false)
        #expect(server.connectionCount == 0)
    }

    @Test("Methods that are not tokens, and CONNECT, are refused",
          arguments: ["", "GET /evil HTTP/1.1\r\nX:", "GE T", "GET\n", "G\u{0}ET", "GÉT", "CONNECT"])
    func badMethod(method: String) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        let error = await clientError { () throws(HTTPClientError) in
            try await send(client, to: server, method: method)
        }
        #expect(error?.code == .invalidRequest)
        #expect(server.connectionCount == 0)
    }

    @Test("Extension methods that are tokens are sent as written", arguments: ["PATCH", "PROPFIND", "delete"])
    func tokenMethod(method: String) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        _ = try await send(client, to: server, method: method)
        #expect(server.requests.first?.requestLine == "\(method) / HTTP/1.1")
    }

    /// (URL, scheme, host name, port offset, addresses): a URL that disagrees with what the
    /// caller says it checked. `PORT` in the URL stands for the server's port.
    static let disagreements: [(String, String, String?, Int, [String])] = [
        ("http://other.test:PORT/", "http", "example.test", 0, ["127.0.0.2"]),
        ("http://example.test:PORT/", "http", nil, 0, ["127.0.0.2"]),
        ("http://example.test:PORT/", "https", "example.test", 0, ["127.0.0.2"]),
        ("http://example.test:PORT/", "ftp", "example.test", 0, ["127.0.0.2"]),
        ("ftp://example.test:PORT/", "ftp", "example.test", 0, ["127.0.0.2"]),
        ("http://example.test:PORT/", "http", "example.test", 1, ["127.0.0.2"]),
        ("http://example.test:PORT/", "http", "example.test", 0, []),
        ("http://127.0.0.2:PORT/", "http", nil, 0, ["127.0.0.2", "127.0.0.3"]),
        ("http://127.0.0.2:PORT/", "http", "example.test", 0, ["127.0.0.2"]),
        ("http://user@example.test:PORT/", "http", "example.test", 0, ["127.0.0.2"]),
        ("http://example.test:PORT/a b", "http", "example.test", 0, ["127.0.0.2"]),
        ("http://example.test:PORT/\r\nX: y", "http", "example.test", 0, ["127.0.0.2"]),
        ("not a url", "http", "example.test", 0, ["127.0.0.2"]),
    ]

    @Test("A URL that disagrees with the checked target is refused", arguments: disagreements)
    func disagreement(url: String, scheme: String, hostName: String?, portOffset: Int, addresses: [String]) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        let request = HTTPRequest(url: url.replacingOccurrences(of: "PORT", with: String(server.port)))
        let error = await clientError { () throws(HTTPClientError) in
            try await client.send(request, scheme: scheme, hostName: hostName, port: server.port + portOffset,
                                  addresses: addresses.map { IPAddress(strict: $0)! })
        }
        #expect(error?.code == .invalidRequest)
        #expect(server.connectionCount == 0)
    }

    @Test("A zero timeout is refused")
    func zeroTimeout() async {
        let error = await clientError { () throws(HTTPClientError) in
            try await client.send(HTTPRequest(url: "http://example.test/", timeout: .zero), scheme: "http",
                                  hostName: "example.test", port: 80, addresses: [loopback(2)])
        }
        #expect(error?.code == .invalidRequest)
    }

    @Test("The host name is compared after normalisation, and an IP-address URL needs no name")
    func normalisedHost() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        let byName = HTTPRequest(url: "http://Example.TEST.:\(server.port)/")
        _ = try await client.send(byName, scheme: "HTTP", hostName: "example.test", port: server.port,
                                  addresses: [loopback(2)])
        let byAddress = HTTPRequest(url: "http://127.0.0.2:\(server.port)/x")
        _ = try await client.send(byAddress, scheme: "http", hostName: nil, port: server.port,
                                  addresses: [loopback(2)])
        #expect(server.requests.map { $0.values("Host") } == [
            ["example.test:\(server.port)"], ["127.0.0.2:\(server.port)"],
        ])
    }

    @Test("Non-ASCII in the path is percent-encoded on the request line")
    func nonASCIIPath() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        _ = try await send(client, to: server, path: "/caf\u{00e9}?q=\u{00fc}")
        #expect(server.requests.first?.requestLine == "GET /caf%C3%A9?q=%C3%BC HTTP/1.1")
    }
}
