import Testing
import SentinelGuard
import SentinelPolicy
import NIOCore
import NIOPosix
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `127.0.0.x` as an address.
func loopback(_ last: UInt8) -> IPAddress {
    IPAddress(ipv4: 0x7f00_0000 | UInt32(last))
}

/// Sends `request` to `server` under the host name `host`, dialling the server's address.
func send(
    _ client: PinnedHTTPClient, to server: LoopbackHTTPServer, host: String = "example.test",
    path: String = "/", method: String = "GET", headers: [(name: String, value: String)] = [],
    body: [UInt8]? = nil, timeout: Duration = .seconds(20)
) async throws(HTTPClientError) -> HTTPResponse {
    let request = HTTPRequest(method: method, url: "http://\(host):\(server.port)\(path)", headers: headers,
                              body: body, timeout: timeout)
    return try await client.send(request, scheme: "http", hostName: host, port: server.port,
                                 addresses: [IPAddress(strict: server.host)!])
}

/// The error `body` throws, or `nil` when it returns.
func clientError(_ body: () async throws(HTTPClientError) -> HTTPResponse) async -> HTTPClientError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

@Suite("Pinned HTTP client: requests and responses")
struct PinnedHTTPClientTests {
    let client = PinnedHTTPClient()

    @Test("GET: origin-form request line, Host from the URL, Connection: close, no body")
    func get() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Reply: yes\r\nX-Reply: again\r\n\r\nhello")
        }
        defer { Task { await server.stop() } }

        let response = try await send(client, to: server, path: "/a/b?q=1&r=%20#fragment",
                                      headers: [(name: "X-Agent", value: "test\tvalue")])
        #expect(response.status == 200)
        #expect(response.reason == "OK")
        #expect(response.body == Array("hello".utf8))
        #expect(response.headerValues(named: "x-reply") == ["yes", "again"])

        let recorded = try #require(server.requests.first)
        #expect(server.requests.count == 1)
        #expect(recorded.requestLine == "GET /a/b?q=1&r=%20 HTTP/1.1")
        #expect(recorded.values("Host") == ["example.test:\(server.port)"])
        #expect(recorded.values("Connection") == ["close"])
        #expect(recorded.values("X-Agent") == ["test\tvalue"])
        #expect(recorded.values("Content-Length").isEmpty)
        #expect(recorded.values("Transfer-Encoding").isEmpty)
        #expect(recorded.body.isEmpty)
    }

    @Test("POST with a body: Content-Length and the exact bytes", arguments: ["POST", "PUT", "GET"])
    func postBody(method: String) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { request in
            .text("HTTP/1.1 201 Created\r\nContent-Length: \(request.body.count)\r\n\r\n"
                  + String(decoding: request.body, as: UTF8.self))
        }
        defer { Task { await server.stop() } }

        let body = Array("{\"name\":\"sentinel\",\"bytes\":\"\u{00e9}\"}".utf8)
        let response = try await send(client, to: server, path: "/items", method: method, body: body)
        #expect(response.status == 201)
        #expect(response.body == body)

        let recorded = try #require(server.requests.first)
        #expect(recorded.requestLine == "\(method) /items HTTP/1.1")
        #expect(recorded.values("Content-Length") == [String(body.count)])
        #expect(recorded.values("Transfer-Encoding").isEmpty)
        #expect(recorded.body == body)
    }

    @Test("An empty body is sent as Content-Length: 0")
    func emptyBody() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 204 No Content\r\n\r\n", close: false)
        }
        defer { Task { await server.stop() } }

        let response = try await send(client, to: server, method: "POST", body: [])
        #expect(response.status == 204)
        #expect(response.body.isEmpty)
        #expect(server.requests.first?.values("Content-Length") == ["0"])
    }

    /// Response framings and the body the client must read from each.
    static let framings: [(String, ServerReply, String)] = [
        ("content-length", .text("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", close: false),
         "hello world"),
        ("chunked", .text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n", close: false),
         "hello world"),
        ("close-delimited", .text("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world", close: true),
         "hello world"),
        ("HTTP/1.0 close-delimited", .text("HTTP/1.0 200 OK\r\n\r\nhello world", close: true), "hello world"),
        ("1xx skipped", .text("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                              + "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", close: false),
         "hello world"),
    ]

    @Test("Response framings", arguments: framings)
    func framing(name: String, reply: ServerReply, expected: String) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in reply }
        defer { Task { await server.stop() } }

        let response = try await send(client, to: server)
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == expected)
    }

    @Test("A response to HEAD has no body, whatever its Content-Length says")
    func head() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", close: false)
        }
        defer { Task { await server.stop() } }
        let small = PinnedHTTPClient(maximumResponseBytes: 16)

        let response = try await send(small, to: server, method: "HEAD")
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(response.headerValues(named: "content-length") == ["1000"])
    }

    @Test("A redirect is returned, not followed")
    func redirect() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }

        let response = try await send(client, to: server)
        #expect(response.status == 302)
        #expect(response.headerValues(named: "Location") == ["http://169.254.169.254/latest/meta-data/"])
        #expect(server.requests.count == 1)
    }

    /// Responses with bodies over a 16-byte limit, in each framing.
    static let oversized: [(String, ServerReply)] = [
        ("announced by Content-Length", .text("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", close: false)),
        ("content-length", .text("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + String(repeating: "x", count: 40))),
        ("chunked", .text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          + "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n")),
        ("close-delimited", .text("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "y", count: 17))),
    ]

    @Test("A body over the limit fails", arguments: oversized)
    func tooLarge(name: String, reply: ServerReply) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in reply }
        defer { Task { await server.stop() } }
        let small = PinnedHTTPClient(maximumResponseBytes: 16)

        let error = await clientError { () throws(HTTPClientError) in try await send(small, to: server) }
        #expect(error?.code == .responseTooLarge)
    }

    @Test("A body of exactly the limit is accepted")
    func atLimit() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\n\r\n" + String(repeating: "z", count: 16))
        }
        defer { Task { await server.stop() } }
        let small = PinnedHTTPClient(maximumResponseBytes: 16)

        let response = try await send(small, to: server)
        #expect(response.body.count == 16)
    }

    /// Responses that are not valid HTTP/1.1, or stop early.
    static let broken: [(String, ServerReply, HTTPClientError.Code)] = [
        ("not HTTP", .text("SSH-2.0-OpenSSH_9.2\r\n\r\n"), .malformedResponse),
        ("bad chunk size", .text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), .malformedResponse),
        ("two Content-Lengths", .text("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
         .malformedResponse),
        ("101 without Upgrade asked", .text("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
         .malformedResponse),
        ("closed without answering", .bytes([], close: true), .connectionClosed),
        ("closed in the body", .text("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), .connectionClosed),
    ]

    @Test("Broken responses fail with the right code", arguments: broken)
    func brokenResponse(name: String, reply: ServerReply, code: HTTPClientError.Code) async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in reply }
        defer { Task { await server.stop() } }

        let error = await clientError { () throws(HTTPClientError) in try await send(client, to: server) }
        #expect(error?.code == code, "\(error.map { "\($0)" } ?? "no error")")
    }
}

// The time limit turns a hang (a poll below waiting for a request that never comes) into a
// failure; it is a safety net far above any normal run, not a timing assertion.
@Suite("Pinned HTTP client: dialling only the given addresses", .timeLimit(.minutes(1)))
struct PinnedDialTests {
    let client = PinnedHTTPClient()

    @Test("A name that resolves to nothing reaches the given address")
    func unresolvableName() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.3") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { await server.stop() } }

        let response = try await send(client, to: server, host: "example.test")
        #expect(response.body == Array("ok".utf8))
        #expect(server.requests.first?.values("Host") == ["example.test:\(server.port)"])
    }

    @Test("A name that resolves elsewhere (localhost → 127.0.0.1) still goes to the given address")
    func nameResolvingElsewhere() async throws {
        // Two servers on one port: 127.0.0.3 (given) and 127.0.0.1 (where "localhost" resolves).
        let given = try await LoopbackHTTPServer.start(host: "127.0.0.3") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\ngiven")
        }
        defer { Task { await given.stop() } }
        let resolved = try await LoopbackHTTPServer.start(host: "127.0.0.1", port: given.port) { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nresolved")
        }
        defer { Task { await resolved.stop() } }

        let response = try await send(client, to: given, host: "localhost")
        #expect(response.body == Array("given".utf8))
        #expect(given.requests.count == 1)
        #expect(resolved.connectionCount == 0)
    }

    @Test("An IPv6 address URL: bracketed Host, dialled over IPv6")
    func ipv6() async throws {
        let server = try await LoopbackHTTPServer.start(host: "::1") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6")
        }
        defer { Task { await server.stop() } }

        let request = HTTPRequest(url: "http://[::1]:\(server.port)/six")
        let response = try await client.send(request, scheme: "http", hostName: nil, port: server.port,
                                             addresses: [IPAddress(strict: "::1")!])
        #expect(response.body == Array("v6".utf8))
        #expect(server.requests.first?.values("Host") == ["[::1]:\(server.port)"])
    }

    @Test("Addresses are tried in order; a refused one is skipped")
    func triedInOrder() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.3") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { await server.stop() } }
        // Nothing listens on 127.0.0.4 at the server's port, and nothing can while we hold it.
        let refused = try ReservedPort(host: "127.0.0.4", port: server.port)
        defer { refused.close() }

        let request = HTTPRequest(url: "http://example.test:\(server.port)/")
        let response = try await client.send(request, scheme: "http", hostName: "example.test", port: server.port,
                                             addresses: [loopback(4), loopback(3)])
        #expect(response.body == Array("ok".utf8))
        #expect(server.requests.count == 1)
    }

    @Test("Connection refused gives connectFailed")
    func refused() async throws {
        // A port below the ephemeral range, held bound but not listening for the whole test: a
        // connect to it is refused, and nothing else can listen there meanwhile.
        let reserved = try ReservedPort(host: "127.0.0.9", port: 1)
        defer { reserved.close() }
        let port = reserved.port
        let request = HTTPRequest(url: "http://example.test:\(port)/")
        let error = await clientError { () throws(HTTPClientError) in
            try await client.send(request, scheme: "http", hostName: "example.test", port: port,
                                  addresses: [loopback(9)])
        }
        #expect(error?.code == .connectFailed)
        #expect(error?.errno == ECONNREFUSED)
        #expect(error?.message.contains("127.0.0.9:\(port)") == true)
    }

    @Test("A connection that is never accepted gives timeout")
    func connectTimeout() async throws {
        let listener = try FullListener(host: "127.0.0.10")
        defer { listener.close() }
        let impatient = PinnedHTTPClient(connectTimeout: .milliseconds(200))

        let request = HTTPRequest(url: "http://example.test:\(listener.port)/")
        let error = await clientError { () throws(HTTPClientError) in
            try await impatient.send(request, scheme: "http", hostName: "example.test", port: listener.port,
                                     addresses: [loopback(10)])
        }
        #expect(error?.code == .timeout)
    }

    @Test("A server that never answers gives timeout")
    func responseTimeout() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in .silence }
        defer { Task { await server.stop() } }

        let error = await clientError { () throws(HTTPClientError) in
            try await send(client, to: server, timeout: .milliseconds(300))
        }
        #expect(error?.code == .timeout)
        #expect(server.requests.count == 1)
    }

    @Test("Cancelling the calling task ends the request with cancelled")
    func cancellation() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in .silence }
        defer { Task { await server.stop() } }
        let client = self.client

        let task = Task { () async -> HTTPClientError? in
            await clientError { () throws(HTTPClientError) in try await send(client, to: server) }
        }
        while server.requests.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        #expect(await task.value?.code == .cancelled)
    }

    @Test("shutdown ends open requests and refuses new ones")
    func shutdown() async throws {
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in .silence }
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient()

        let task = Task { () async -> HTTPClientError? in
            await clientError { () throws(HTTPClientError) in try await send(client, to: server) }
        }
        while server.requests.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        await client.shutdown()
        #expect(await task.value?.code == .shutDown)

        let later = await clientError { () throws(HTTPClientError) in try await send(client, to: server) }
        #expect(later?.code == .shutDown)
        #expect(server.connectionCount == 1)
    }
}

/// A port on `host` where nothing listens: a socket bound there and never put into listening
/// state, held until `close()`. A connect to it is refused (RST), and no other socket can listen
/// on the same address and port meanwhile.
///
/// (It replaced binding with NIO's ServerBootstrap and closing again: that made a listener for a
/// moment, and under parallel load a client's connect could complete into its accept queue just
/// before the close and then be reset, ECONNRESET instead of ECONNREFUSED, about one run in
/// fourteen.)
final class ReservedPort: Sendable {
    let port: Int
    private let descriptor: Int32

    init(host: String, port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FullListener.POSIXFailure(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            Glibc.close(fd)
            throw FullListener.POSIXFailure(call: "bind \(host):\(port)")
        }
        self.descriptor = fd
        self.port = port
    }

    func close() {
        Glibc.close(descriptor)
    }
}

/// A listening TCP socket whose accept queue is full, so the kernel drops further SYNs and a
/// connect to it hangs until the client gives up (Linux `tcp_conn_request`: a listener whose
/// accept queue is full drops the SYN).
final class FullListener: Sendable {
    let port: Int
    private let descriptors: [Int32]

    init(host: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw POSIXFailure(call: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr(host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        // Backlog 0: the accept queue holds one connection, never accepted here.
        guard bound == 0, listen(listener, 0) == 0 else { throw POSIXFailure(call: "bind/listen") }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        var descriptors = [listener]
        // Fill the queue: these connections complete (or stay pending) and are never accepted.
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard filler >= 0 else { throw POSIXFailure(call: "socket") }
            _ = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
            }
            descriptors.append(filler)
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.descriptors = descriptors
    }

    func close() {
        for descriptor in descriptors { _ = Glibc.close(descriptor) }
    }

    struct POSIXFailure: Error, CustomStringConvertible {
        let call: String
        let code = errno
        var description: String { "\(call) failed: errno \(code)" }
    }
}
