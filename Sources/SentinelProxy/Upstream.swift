// Connecting to a checked destination, and relaying bytes once connected.

import NIOCore
import NIOPosix
import SentinelPolicy

#if canImport(Glibc)
import Glibc
#endif

/// Dials the checked addresses and nothing else: `ClientBootstrap.connect(to:)` with an exact
/// socket address, never a host name, so no lookup happens between the check and the dial
/// (egress-anchors §7.2: `connect(host:port:)` would resolve again through `getaddrinfo`).
enum UpstreamConnector {
    /// Why no address could be reached.
    struct Failure: Error, Sendable {
        /// Each address tried, with what happened.
        var attempts: [String]
        /// Whether every attempt ran out of time (504) rather than failing (502).
        var timedOut: Bool

        /// One sentence for the client and the record.
        var reason: String {
            "No checked address could be reached: " + attempts.joined(separator: "; ") + "."
        }
    }

    /// Connects to `addresses` in order, each attempt getting what is left of `timeout`; the
    /// first that answers wins.
    static func connect(
        to addresses: [IPAddress], port: Int, on eventLoop: any EventLoop, timeout: TimeAmount
    ) -> EventLoopFuture<(any Channel, IPAddress)> {
        let promise = eventLoop.makePromise(of: (any Channel, IPAddress).self)
        let deadline = NIODeadline.now() + timeout
        attempt(0, addresses: addresses, port: port, eventLoop: eventLoop, deadline: deadline, attempts: [],
                allTimedOut: true, promise: promise)
        return promise.futureResult
    }

    private static func attempt(
        _ index: Int, addresses: [IPAddress], port: Int, eventLoop: any EventLoop, deadline: NIODeadline,
        attempts: [String], allTimedOut: Bool, promise: EventLoopPromise<(any Channel, IPAddress)>
    ) {
        guard index < addresses.count else {
            promise.fail(Failure(attempts: attempts, timedOut: allTimedOut && !attempts.isEmpty))
            return
        }
        let address = addresses[index]
        let remaining = deadline - NIODeadline.now()
        guard remaining > .zero else {
            promise.fail(Failure(attempts: attempts + ["\(address): no time left"], timedOut: true))
            return
        }
        let endpoint = IPEndpoint(address: address, port: UInt16(port))
        let socketAddress: SocketAddress
        if let inet = endpoint.sockaddrIn {
            socketAddress = SocketAddress(inet, host: address.description)
        } else if let inet6 = endpoint.sockaddrIn6 {
            socketAddress = SocketAddress(inet6, host: address.description)
        } else {
            promise.fail(Failure(attempts: attempts + ["\(address): not an IP address"], timedOut: false))
            return
        }
        ClientBootstrap(group: eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(remaining)
            .connect(to: socketAddress)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    promise.succeed((channel, address))
                case .failure(let error):
                    let timedOut: Bool
                    let text: String
                    if case ChannelError.connectTimeout = error {
                        timedOut = true
                        text = "\(endpoint): timed out"
                    } else if let io = error as? IOError {
                        timedOut = false
                        text = "\(endpoint): \(String(cString: strerror(io.errnoCode)))"
                    } else {
                        timedOut = false
                        text = "\(endpoint): \(error)"
                    }
                    attempt(index + 1, addresses: addresses, port: port, eventLoop: eventLoop, deadline: deadline,
                            attempts: attempts + [text], allTimedOut: allTimedOut && timedOut, promise: promise)
                }
            }
    }

    /// The IP address a channel is connected to.
    static func peerAddress(of channel: any Channel) -> IPAddress? {
        guard let remote = channel.remoteAddress else { return nil }
        return try? remote.withSockAddr { pointer, length in
            try IPEndpoint(socketAddress: UnsafeRawBufferPointer(start: pointer, count: length)).address
        }
    }
}

/// One side of a tunnel: what it reads is written to its partner, with backpressure (it reads
/// only while the partner can take more), half-close (end of input on one side shuts the
/// partner's output) and the idle timeout. Counts the bytes it reads.
///
/// A pair lives on one event loop (the upstream channel is created on the client's loop), so the
/// partners call each other directly.
final class RelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Which side this handler sits on.
    enum Side {
        case client
        case upstream
    }

    private let side: Side
    private let connection: ProxyConnection
    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    init(side: Side, connection: ProxyConnection) {
        self.side = side
        self.connection = connection
    }

    /// Joins two handlers, one per channel.
    static func pair(connection: ProxyConnection) -> (client: RelayHandler, upstream: RelayHandler) {
        let client = RelayHandler(side: .client, connection: connection)
        let upstream = RelayHandler(side: .upstream, connection: connection)
        client.partner = upstream
        upstream.partner = client
        return (client, upstream)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    /// Whether this side's channel can take more writes.
    private var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        switch side {
        case .client: connection.bytesUp += buffer.readableBytes
        case .upstream: connection.bytesDown += buffer.readableBytes
        }
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.noteClose(side == .client ? "the client closed the connection" : "the destination closed the connection")
        partner?.partnerClose()
        partner = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            // Half-close: pass the end of this direction on, keep the other direction open.
            partner?.partnerCloseOutput()
        } else if event is IdleStateHandler.IdleStateEvent {
            connection.noteClose("no traffic in either direction for the idle timeout")
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.noteClose("\(side == .client ? "client" : "destination") connection error: \(error)")
        context.close(promise: nil)
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: Partner calls

    private func partnerWrite(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerCloseOutput() {
        guard let context else { return }
        context.close(mode: .output, promise: nil)
    }

    private func partnerClose() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// Starts reading if the partner can take data (called once the pair is installed, because
    /// reads were held back while the tunnel was being set up).
    func startReading() {
        guard let context else { return }
        pendingRead = false
        if partner?.isWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
