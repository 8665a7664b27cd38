// A raw HTTP/1.1 server on a loopback address, for the client tests.
//
// It records every request exactly as the bytes arrived and answers with bytes the test wrote,
// so a test can check what the client sent on the wire and feed it any framing (chunked,
// Content-Length, close-delimited, malformed) without a second HTTP implementation in between.

import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Foundation

/// One request as the server received it.
struct RecordedRequest: Sendable {
    /// The request line and header lines, CRLF-separated, without the blank line.
    var head: String
    /// The body (the bytes announced by Content-Length).
    var body: [UInt8]

    /// The request line, `GET / HTTP/1.1`.
    var requestLine: String { head.components(separatedBy: "\r\n").first ?? "" }

    /// Header lines as (name, value), in order.
    var headers: [(name: String, value: String)] {
        head.components(separatedBy: "\r\n").dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// The values of the header `name`, compared case-insensitively.
    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
}

/// What the server does with a complete request.
enum ServerReply: Sendable {
    /// Writes these bytes, then closes the connection when `close` is true.
    case bytes([UInt8], close: Bool)
    /// Writes nothing and keeps the connection open (for timeouts).
    case silence

    /// A response written as text (CRLF line ends are the test's business).
    static func text(_ text: String, close: Bool = true) -> ServerReply {
        .bytes(Array(text.utf8), close: close)
    }
}

/// A loopback server with a raw request recorder.
final class LoopbackHTTPServer: Sendable {
    /// The address it listens on.
    let host: String
    /// The port it listens on.
    let port: Int
    private let channel: any Channel
    private let shared: Shared

    private init(host: String, port: Int, channel: any Channel, shared: Shared) {
        self.host = host
        self.port = port
        self.channel = channel
        self.shared = shared
    }

    /// Every complete request received so far.
    var requests: [RecordedRequest] { shared.requests.withLock { $0 } }

    /// How many TCP connections were accepted.
    var connectionCount: Int { shared.accepted.load(ordering: .relaxed) }

    /// Starts a server on `host` (a 127.0.0.0/8 address) and `port` (0: any free port), with
    /// TLS when `tls` is given; `reply` answers each request.
    static func start(
        host: String, port: Int = 0, tls: NIOSSLContext? = nil,
        reply: @escaping @Sendable (RecordedRequest) -> ServerReply
    ) async throws -> LoopbackHTTPServer {
        let box = Shared()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                box.accepted.add(1, ordering: .relaxed)
                do {
                    if let tls {
                        try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try child.pipeline.syncOperations.addHandler(RecordingHandler(shared: box, reply: reply))
                    return child.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return child.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: host, port: port).get()
        let boundPort = channel.localAddress?.port ?? 0
        return LoopbackHTTPServer(host: host, port: boundPort, channel: channel, shared: box)
    }

    /// Stops listening.
    func stop() async {
        try? await channel.close().get()
    }

    /// State shared by the listener and its connections.
    final class Shared: Sendable {
        let requests = Mutex<[RecordedRequest]>([])
        let accepted = Atomic<Int>(0)
    }
}

/// Gathers one request's bytes, records it, and answers.
private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shared: LoopbackHTTPServer.Shared
    private let reply: @Sendable (RecordedRequest) -> ServerReply
    private var buffer: [UInt8] = []
    private var answered = false

    init(shared: LoopbackHTTPServer.Shared, reply: @escaping @Sendable (RecordedRequest) -> ServerReply) {
        self.shared = shared
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        buffer.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = buffer.indices.dropLast(3).first(where: { buffer[$0..<($0 + 4)].elementsEqual(separator) })
        else { return }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        let provisional = RecordedRequest(head: head, body: [])
        let length = provisional.values("content-length").first.flatMap { Int($0) } ?? 0
        let bodyStart = end + 4
        guard buffer.count - bodyStart >= length else { return }
        let request = RecordedRequest(head: head, body: Array(buffer[bodyStart..<(bodyStart + length)]))
        answered = true
        shared.requests.withLock { $0.append(request) }
        switch reply(request) {
        case .silence:
            break
        case .bytes(let bytes, let close):
            let write = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
            if close {
                write.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
