// Real sockets on loopback for the proxy tests: origin servers on 127.0.0.x (echo or a small
// HTTP/1.1 server) and a raw-bytes client, all on one NIO event-loop group. The tests speak raw
// bytes to the proxy on purpose: an HTTP client library would normalise exactly the malformed
// requests the tests need to send.

import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The event loops every test server and client runs on (the proxy has its own).
let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)

/// How long a test waits for bytes or a close before it fails instead of hanging. Not a timing
/// assertion: nothing in the proxy takes anywhere near this long on loopback.
let hangGuard: TimeAmount = .seconds(20)

/// A test failure inside the network helpers.
struct TestNetworkError: Error, CustomStringConvertible {
    var description: String
}

// MARK: - Origin servers

/// An origin server on a loopback address: what the proxy connects to.
final class TestOrigin: Sendable {
    /// What the server does with a connection.
    enum Mode: Sendable {
        /// Writes back every byte; closes its output when the client closes its own.
        case echo
        /// Reads one request head and answers it (see `HTTPOriginHandler`), then closes.
        case http
        /// Answers `200` once a request head has arrived, then keeps reading until the proxy
        /// closes, recording every byte of the connection (see `RecordingHandler`): what tests
        /// look at to prove that nothing but the decided request reached the destination.
        case recording
        /// Records every byte like `recording` but never answers, so the proxy's response to
        /// the client can only come from the proxy itself.
        case silent
        /// `http` inside TLS with this server context: the destination of an inspected host.
        case https(NIOSSLContext)
    }

    /// The address it listens on.
    let host: String
    /// The port it got.
    let port: Int
    private let channel: any Channel
    let counters: Counters

    /// Connection counts, shared with the handlers.
    final class Counters: Sendable {
        let accepted = Atomic<Int>(0)
        let open = Atomic<Int>(0)
        let requests = Mutex<[String]>([])
        /// For `recording` and `silent`: each connection's bytes, in the order accepted.
        let connections = Mutex<[ReceivedConnection]>([])
        /// A label the test sets; each connection keeps the one in force when it was accepted
        /// (the fuzz test labels connections with the input being run).
        let label = Mutex<Int>(0)
    }

    /// One connection of a `recording` or `silent` origin.
    struct ReceivedConnection: Sendable {
        /// `Counters.label` when the connection was accepted.
        var label: Int
        /// Every byte received so far.
        var bytes: [UInt8]
        /// Whether the proxy closed it.
        var closed: Bool
    }

    /// Connections accepted so far.
    var accepted: Int { counters.accepted.load(ordering: .relaxed) }
    /// Connections open now.
    var open: Int { counters.open.load(ordering: .relaxed) }
    /// The request heads an HTTP origin received, as text.
    var requests: [String] { counters.requests.withLock { $0 } }
    /// What a `recording` or `silent` origin received, one entry per connection.
    var received: [ReceivedConnection] { counters.connections.withLock { $0 } }

    /// - Parameter group: the event loops to run on; a group of one thread keeps accepts and
    ///   reads in the order they happened (the fuzz test relies on that to label connections).
    init(host: String, port: Int = 0, mode: Mode, group: any EventLoopGroup = testGroup) async throws {
        let counters = Counters()
        self.counters = counters
        self.host = host
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                counters.accepted.add(1, ordering: .relaxed)
                counters.open.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in counters.open.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    switch mode {
                    case .echo: try channel.pipeline.syncOperations.addHandler(EchoHandler())
                    case .http: try channel.pipeline.syncOperations.addHandler(HTTPOriginHandler(counters: counters))
                    case .https(let tls):
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        try channel.pipeline.syncOperations.addHandler(HTTPOriginHandler(counters: counters))
                    case .recording, .silent:
                        var answers = false
                        if case .recording = mode { answers = true }
                        try channel.pipeline.syncOperations.addHandler(
                            RecordingHandler(counters: counters, answers: answers))
                    }
                }
            }
            .bind(host: host, port: port).get()
        self.port = channel.localAddress?.port ?? 0
    }

    func stop() async {
        try? await channel.close().get()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(mode: .output, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Answers one request: `/redirect` with a 302 to the metadata address, anything else with a
/// 200 whose body is the request head as received (so tests see the rewritten request line and
/// headers).
private final class HTTPOriginHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var received: [UInt8] = []
    private var answered = false
    private let counters: TestOrigin.Counters

    init(counters: TestOrigin.Counters) {
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard !answered, let end = received.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
        answered = true
        let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
        counters.requests.withLock { $0.append(head) }
        let response: String
        if head.hasPrefix("GET /redirect ") {
            response = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
                + "Content-Length: 0\r\nConnection: close\r\n\r\n"
        } else {
            let body = "origin saw:\n" + head + "\n"
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
                + "Keep-Alive: timeout=5\r\nConnection: keep-alive, keep-alive\r\n\r\n" + body
        }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)))
            .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client is done sending (a FIN, or a TLS close_notify): like a real server, close
        // rather than hold the connection open.
        if let event = event as? ChannelEvent, event == .inputClosed, !answered {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Records every byte of a connection in `Counters.connections`; with `answers`, writes a `200`
/// once a request head has arrived and shuts its output, then reads on until the proxy closes,
/// so bytes the proxy sends after the head (a body, or anything that should not be there) are
/// seen too.
private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let counters: TestOrigin.Counters
    private let answers: Bool
    private var index = 0
    private var answered = false

    init(counters: TestOrigin.Counters, answers: Bool) {
        self.counters = counters
        self.answers = answers
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let label = counters.label.withLock { $0 }
        index = counters.connections.withLock { connections in
            connections.append(TestOrigin.ReceivedConnection(label: label, bytes: [], closed: false))
            return connections.count - 1
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        let all = counters.connections.withLock { connections in
            connections[index].bytes += bytes
            return connections[index].bytes
        }
        guard answers, !answered, all.firstRange(of: Array("\r\n\r\n".utf8)) != nil else { return }
        answered = true
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nrecorded\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)))
            .assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        counters.connections.withLock { $0[index].closed = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

// MARK: - The client

/// A raw TCP connection to the proxy: send bytes, wait for bytes or the end.
final class TestConnection: Sendable {
    let channel: any Channel
    private let collector: NIOLoopBound<Collector>

    private init(channel: any Channel, collector: NIOLoopBound<Collector>) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `host`:`port`, from `source` (a loopback address) when given: the fuzz test
    /// gives each input its own, so that records are told apart by client even when the kernel
    /// hands out the same port again.
    static func open(host: String = "127.0.0.1", port: Int, source: String? = nil) async throws -> TestConnection {
        var bootstrap = ClientBootstrap(group: testGroup).channelOption(.allowRemoteHalfClosure, value: true)
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        let channel = try await bootstrap
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector())
                    return channel
                }
            }
        let collector = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: Collector.self), eventLoop: channel.eventLoop)
        }.get()
        return TestConnection(channel: channel, collector: collector)
    }

    /// This connection's own endpoint as the proxy records it (`details.client`).
    var clientEndpoint: String {
        "\(channel.localAddress?.ipAddress ?? "127.0.0.1"):\(channel.localAddress?.port ?? 0)"
    }

    /// Writes `text` (UTF-8) and flushes.
    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Writes `bytes` and flushes.
    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Shuts down the sending side (half-close).
    func shutdownOutput() async throws {
        try await channel.close(mode: .output).get()
    }

    /// Closes the connection.
    func close() async {
        try? await channel.close().get()
    }

    /// Closes the connection with a reset (SO_LINGER 0): the peer learns of it even while it is
    /// not reading.
    func reset() async throws {
        guard let provider = channel as? any SocketOptionProvider else {
            throw TestNetworkError(description: "the channel cannot set SO_LINGER")
        }
        try await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        try await channel.close().get()
    }

    /// Waits until the bytes received satisfy `condition` or the peer ended the stream; returns
    /// everything received so far (consumed).
    func read(until condition: @escaping @Sendable ([UInt8]) -> Bool) async throws -> [UInt8] {
        let eventLoop = channel.eventLoop
        let collector = self.collector
        let future: EventLoopFuture<[UInt8]> = eventLoop.flatSubmit {
            collector.value.wait(condition)
        }
        return try await future.get()
    }

    /// Everything until the peer closes its side.
    func readToEnd() async throws -> [UInt8] {
        try await read { _ in false }
    }

    /// Reads one HTTP response head (and, for responses that end with the connection, its body).
    func readResponse() async throws -> TestResponse {
        let bytes = try await readToEnd()
        return try TestResponse(bytes)
    }

    /// Reads up to the end of a response head, leaving the connection open (CONNECT).
    func readHead() async throws -> TestResponse {
        let bytes = try await read { $0.firstRange(of: Array("\r\n\r\n".utf8)) != nil }
        return try TestResponse(bytes)
    }

    /// Whether the peer ended the stream (or the connection closed).
    var ended: Bool {
        get async throws {
            let collector = self.collector
            return try await channel.eventLoop.submit { collector.value.ended }.get()
        }
    }
}

/// Collects inbound bytes; completes waiters when their condition holds or the stream ends.
private final class Collector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var bytes: [UInt8] = []
    private(set) var ended = false
    private var waiter: (condition: @Sendable ([UInt8]) -> Bool, promise: EventLoopPromise<[UInt8]>)?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func wait(_ condition: @escaping @Sendable ([UInt8]) -> Bool) -> EventLoopFuture<[UInt8]> {
        guard let context else { return testGroup.next().makeFailedFuture(TestNetworkError(description: "no channel")) }
        let promise = context.eventLoop.makePromise(of: [UInt8].self)
        if waiter != nil {
            promise.fail(TestNetworkError(description: "two reads at once"))
            return promise.futureResult
        }
        waiter = (condition, promise)
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: hangGuard) { [weak self] in
            guard let self, let waiter = self.waiter else { return }
            self.waiter = nil
            waiter.promise.fail(TestNetworkError(
                description: "no answer within the hang guard; received so far: \(String(decoding: self.bytes, as: UTF8.self))"))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        check()
        return promise.futureResult
    }

    private func check() {
        guard let waiter, ended || waiter.condition(bytes) else { return }
        self.waiter = nil
        let out = bytes
        bytes = []
        waiter.promise.succeed(out)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytes += buffer.readBytes(length: buffer.readableBytes) ?? []
        check()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            ended = true
            check()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended = true
        check()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset from the proxy ends the stream like a close does; what arrived still counts.
        ended = true
        check()
    }
}

/// An HTTP response as bytes, split into status, headers and body.
struct TestResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String
    var raw: String

    init(_ bytes: [UInt8]) throws {
        raw = String(decoding: bytes, as: UTF8.self)
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw TestNetworkError(description: "no complete response head in \(raw.debugDescription)")
        }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        body = String(decoding: bytes[end.upperBound...], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let code = Int(statusLine[1]) else {
            throw TestNetworkError(description: "bad status line in \(raw.debugDescription)")
        }
        status = code
        headers = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// The first value of header `name`.
    subscript(_ name: String) -> String? {
        headers.first { $0.name == name.lowercased() }?.value
    }
}

// MARK: - Waiting

/// Polls `condition` until it holds; fails after the hang guard. For state that settles
/// asynchronously (a close record written after the client saw the close).
func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TestNetworkError(description: "never happened: \(what)")
}

// MARK: - What an origin received

/// Reads what an origin received from the proxy the strict way (RFC 9112 §6): one request head,
/// then exactly the body its framing announces, and nothing after it.
enum ReceivedRequest {
    /// Why `bytes` is not one HTTP/1.1 request (or a prefix of one, when the proxy closed the
    /// connection early), or `nil` when it is. `target` receives the request-target.
    static func problem(_ bytes: [UInt8], target: inout String?) -> String? {
        guard let headEnd = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            // A prefix of a head: the proxy closed before the head was complete.
            return nil
        }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, requestLine[2] == "HTTP/1.1" else {
            return "bad request line in \(head.debugDescription)"
        }
        target = String(requestLine[1])
        var lengths: [String] = []
        var codings: [String] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else {
                return "a header line without a colon: \(line.debugDescription)"
            }
            let name = line[..<colon]
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(isTokenCharacter) else {
                return "a header name outside the token grammar: \(line.debugDescription)"
            }
            let canonical = name.lowercased().replacingOccurrences(of: "_", with: "-")
            if canonical != name.lowercased(), framingAndHopByHop.contains(canonical) {
                return "a header name that reads as \(canonical) with _ as -: \(line.debugDescription)"
            }
            if canonical == "content-length" { lengths.append(value) }
            if canonical == "transfer-encoding" { codings.append(value) }
        }
        var rest = bytes[headEnd.upperBound...]
        switch (lengths.count, codings.count) {
        case (0, 0):
            break
        case (1, 0):
            guard let length = Int(lengths[0]), length >= 0, lengths[0].allSatisfy(\.isASCII) else {
                return "an invalid Content-Length \(lengths[0].debugDescription)"
            }
            guard rest.count >= length else { return nil }  // cut short: a prefix
            rest = rest.dropFirst(length)
        case (0, 1) where codings[0].lowercased() == "chunked":
            chunks: while true {
                guard let lineEnd = rest.firstRange(of: Array("\r\n".utf8)) else { return nil }
                let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16), size >= 0 else {
                    return "a bad chunk size \(sizeText.debugDescription)"
                }
                rest = rest[lineEnd.upperBound...]
                if size == 0 {
                    // Trailers, then the empty line.
                    guard let end = rest.firstRange(of: Array("\r\n".utf8)) else { return nil }
                    if end.lowerBound != rest.startIndex {
                        guard let trailersEnd = rest.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
                        rest = rest[trailersEnd.upperBound...]
                    } else {
                        rest = rest[end.upperBound...]
                    }
                    break chunks
                }
                guard rest.count >= size + 2 else { return nil }
                guard Array(rest.dropFirst(size).prefix(2)) == Array("\r\n".utf8) else {
                    return "a chunk without its CRLF"
                }
                rest = rest.dropFirst(size + 2)
            }
        default:
            return "ambiguous framing: Content-Length \(lengths), Transfer-Encoding \(codings)"
        }
        guard rest.isEmpty else {
            let text = String(decoding: rest, as: UTF8.self).debugDescription
            return "\(rest.count) bytes after the end of the request: \(text)"
        }
        return nil
    }

    /// Framing and hop-by-hop header names (RFC 9110 §7.6.1, RFC 9112 §6).
    static let framingAndHopByHop: Set<String> = [
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "proxy-authorization",
        "proxy-authenticate", "te", "trailer", "upgrade",
    ]

    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return false }
        if ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) { return true }
        return "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar)
    }
}
