// A CONNECT request after its head was read: decide, dial, answer, then hand the connection to
// a pair of relays. The HTTP codec is gone by the time this handler runs (bytes the client sent
// after the CONNECT head, such as an early TLS ClientHello, arrive here as raw bytes and are kept
// until the tunnel is up), so answers are written as bytes.

import NIOCore
import NIOHTTP1
import NIOSSL
import SentinelGuard
import SentinelPolicy

/// Carries one CONNECT from its decision to an established tunnel.
final class ConnectTunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for the decision.
        case deciding
        /// Allowed; dialling.
        case connecting
        /// An inspected host: the proxy's own TLS handshake with the destination is under way.
        case handshaking
        /// Refused, or the client went away: nothing more to do.
        case done
    }

    private let request: EgressRequest
    private let connection: ProxyConnection
    private let services: ProxyServices
    private var state = State.deciding
    private var context: ChannelHandlerContext?
    /// Bytes the client sent after the CONNECT head, before the tunnel was up.
    private var early: [ByteBuffer] = []
    /// Whether the client shut its sending side before the tunnel was up.
    private var clientInputClosed = false

    init(request: EgressRequest, connection: ProxyConnection, services: ProxyServices) {
        self.request = request
        self.connection = connection
        self.services = services
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let promise = context.eventLoop.makePromise(of: Result<EgressGrant, EgressRefusal>.self)
        let decider = services.decider
        let request = self.request
        Task { promise.succeed(await decider.decide(request)) }
        promise.futureResult.assumeIsolated().whenSuccess { outcome in
            self.decided(outcome)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        early.append(unwrapInboundIn(data))
    }

    func read(context: ChannelHandlerContext) {
        // Nothing more is read until the tunnel is up: what the client sends meanwhile waits in
        // the kernel's buffers (backpressure instead of an unbounded queue here).
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            clientInputClosed = true
        } else if event is IdleStateHandler.IdleStateEvent {
            // Deciding (bounded by the approval timeout) and dialling (bounded by the connect
            // timeout) are not idleness: a slow decision must not close the client's connection.
            if case .done = state { context.close(promise: nil) }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.noteClose("the client closed the connection before the tunnel was set up")
        state = .done
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.noteClose("the client's connection failed (\(error)) before the tunnel was set up")
        state = .done
        context.close(promise: nil)
    }

    // MARK: - Steps

    private func decided(_ outcome: Result<EgressGrant, EgressRefusal>) {
        guard case .deciding = state, let context, context.channel.isActive else {
            // The client left while the tunnel was being decided: an allow still gets the
            // record of what became of it.
            if case .success(let grant) = outcome { connection.grantedAfterClose(grant, decider: services.decider) }
            return
        }
        switch outcome {
        case .failure(let refusal):
            refuse(refusal)
        case .success(let grant):
            connection.grant = grant
            state = .connecting
            UpstreamConnector.connect(to: grant.addresses, port: grant.target.port, on: context.eventLoop,
                                      timeout: services.connectTimeout)
                .assumeIsolated()
                .whenComplete { result in
                    switch result {
                    case .success(let (channel, address)):
                        self.connected(channel, address: address, grant: grant)
                    case .failure(let error):
                        let failure = error as? UpstreamConnector.Failure
                        let reason = failure?.reason ?? "\(error)"
                        self.connection.noteClose("connect failed: \(reason)")
                        self.refuse(EgressRefusal(status: failure?.timedOut == true ? 504 : 502,
                                                  rule: "builtin:upstream-connect", reason: reason))
                    }
                }
        }
    }

    private func connected(_ upstream: any Channel, address: IPAddress, grant: EgressGrant) {
        guard case .connecting = state, let context, context.channel.isActive else {
            upstream.close(promise: nil)
            return
        }
        connection.address = address
        connection.upstream = upstream
        if let denial = services.decider.checkPeer(UpstreamConnector.peerAddress(of: upstream), dialled: address, grant: grant) {
            upstream.close(promise: nil)
            services.decider.recordLateDenial(request, grant: grant, verdict: denial, address: address)
            connection.grant = nil
            refuse(EgressRefusal(status: 403, rule: denial.rule, reason: denial.reason, remedy: denial.remedy))
            return
        }
        if let inspection = grant.inspection {
            startInspection(upstream, address: address, grant: grant, inspection: inspection, context: context)
            return
        }

        let relays = RelayHandler.pair(connection: connection)
        do {
            try upstream.pipeline.syncOperations.addHandler(relays.upstream)
            context.writeAndFlush(wrapOutboundOut(ProxyHTTP.connectEstablished(allocator: context.channel.allocator)),
                                  promise: nil)
            try context.pipeline.syncOperations.addHandler(relays.client, position: .after(self))
        } catch {
            upstream.close(promise: nil)
            connection.noteClose("the tunnel could not be set up: \(error)")
            context.close(promise: nil)
            return
        }
        for buffer in early {
            connection.bytesUp += buffer.readableBytes
            upstream.write(buffer, promise: nil)
        }
        early.removeAll()
        upstream.flush()
        if clientInputClosed { upstream.close(mode: .output, promise: nil) }
        if let id = connection.id {
            services.registry.setCarried(id, CarriedTarget(kind: .connect, target: grant.target, address: address,
                                                           decision: grant.decision))
        }
        state = .done
        // NIO completes the connect before it delivers channelActive; an upstream channel that
        // closes in between never delivers channelInactive to its relay, so its close future
        // closes the client side too (after a normal close this finds it closed already).
        let client = context.channel
        upstream.closeFuture.whenComplete { _ in client.close(promise: nil) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        relays.upstream.startReading()
        if !clientInputClosed { relays.client.startReading() }
    }

    // MARK: - Inspected hosts

    /// An inspected host: first the proxy's own TLS with the destination, verified; only then is
    /// the CONNECT answered, so a destination that cannot be verified is a 502 before the agent
    /// sends anything.
    private func startInspection(
        _ upstream: any Channel, address: IPAddress, grant: EgressGrant, inspection: HostInspection,
        context: ChannelHandlerContext
    ) {
        guard let service = grant.rules.inspection else {
            upstream.close(promise: nil)
            refuse(EgressRefusal(status: 502, rule: "builtin:inspect",
                                 reason: "The proxy has no CA for inspected hosts loaded; restart it."))
            return
        }
        let serverContext: NIOSSLContext
        do {
            serverContext = try service.serverContext(for: grant.target.host)
        } catch {
            upstream.close(promise: nil)
            connection.noteClose("no certificate could be issued for \(grant.target.host.uriHost): \(error)")
            refuse(EgressRefusal(status: 502, rule: "builtin:inspect-certificate",
                                 reason: "The proxy could not issue a certificate for \(grant.target.host.uriHost): "
                                    + "\(error)."))
            return
        }
        let expected: CertificateIdentity.Expected
        switch grant.target.host {
        case .name(let name): expected = .name(name)
        case .address(let literal): expected = .address(literal)
        }
        state = .handshaking
        let handshake = UpstreamHandshakeHandler(expected: expected) { result in
            switch result {
            case .success:
                self.upstreamVerified(upstream, grant: grant, inspection: inspection, serverContext: serverContext)
            case .failure(let failure):
                upstream.close(promise: nil)
                let trust = service.upstreamCAFile.map { "the system's trust store and \($0)" } ?? "the system's trust store"
                let reason = "The proxy's TLS connection to \(grant.target.host.uriHost):\(grant.target.port) failed: "
                    + "\(failure.reason). The destination must present a certificate for that name that chains to "
                    + "\(trust); for a private service, start the proxy with --upstream-ca FILE."
                self.connection.noteClose("the destination's TLS could not be verified: \(failure.reason)")
                self.refuse(EgressRefusal(status: failure.timedOut ? 504 : 502, rule: "builtin:upstream-tls",
                                          reason: reason))
            }
        }
        do {
            // TLS ends with close_notify both ways; an end of input without one is the end of the
            // connection, not a half-close to wait through (NIOSSL would otherwise hold a closing
            // connection open for its shutdown timeout when the peer just goes away).
            try upstream.syncOptions?.setOption(.allowRemoteHalfClosure, value: false)
            try context.channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: false)
            let pipeline = upstream.pipeline.syncOperations
            try pipeline.addHandler(NIOSSLClientHandler(context: service.upstreamContext,
                                                        serverHostname: grant.target.host.name))
            try pipeline.addHandler(handshake)
        } catch {
            upstream.close(promise: nil)
            refuse(EgressRefusal(status: 502, rule: "builtin:upstream-tls",
                                 reason: "The proxy could not start TLS with \(grant.target.host.uriHost): \(error)."))
            return
        }
        // The connect limit bounds the handshake too: a destination that accepts and then says
        // nothing must not hold the agent until the idle timeout.
        context.eventLoop.assumeIsolated().scheduleTask(in: services.connectTimeout) {
            handshake.timedOut("the TLS handshake did not finish within the connect limit")
        }
    }

    /// The destination is verified: answer the CONNECT, end the agent's TLS here with a
    /// certificate for the host, and hand both sides to the request handler.
    private func upstreamVerified(
        _ upstream: any Channel, grant: EgressGrant, inspection: HostInspection, serverContext: NIOSSLContext
    ) {
        guard case .handshaking = state, let context, context.channel.isActive else {
            upstream.close(promise: nil)
            return
        }
        let handler = InspectedHTTPHandler(connection: connection, services: services, grant: grant,
                                           inspection: inspection)
        do {
            try upstream.pipeline.syncOperations.addHTTPClientHandlers(encoderConfiguration: ProxyHTTP.upstreamEncoder)
            try upstream.pipeline.syncOperations.addHandler(handler.upstream)
            // Written from this handler's place, so it goes out as plain bytes ahead of the TLS
            // handler added behind it.
            context.writeAndFlush(wrapOutboundOut(ProxyHTTP.connectEstablished(allocator: context.channel.allocator)),
                                  promise: nil)
            try context.pipeline.syncOperations.addHandlers(
                [NIOSSLServerHandler(context: serverContext),
                 ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
                 HTTPResponseEncoder(), handler],
                position: .after(self))
        } catch {
            upstream.close(promise: nil)
            connection.noteClose("the inspected tunnel could not be set up: \(error)")
            context.close(promise: nil)
            return
        }
        if let id = connection.id, let address = connection.address {
            services.registry.setCarried(id, CarriedTarget(kind: .connect, target: grant.target, address: address,
                                                           decision: grant.decision))
        }
        state = .done
        let client = context.channel
        // The early bytes (a ClientHello sent with the CONNECT) go to the TLS handler now.
        for buffer in early {
            context.fireChannelRead(wrapInboundOut(buffer))
        }
        early.removeAll()
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        client.read()
    }

    private func refuse(_ refusal: EgressRefusal) {
        state = .done
        // A client that is gone gets no answer, and its close record claims none.
        guard let context, context.channel.isActive else { return }
        connection.noteClose("refused: \(refusal.reason)")
        connection.noteRefusalAfterAllow(refusal)
        let bytes = ProxyHTTP.rawRefusal(refusal, allocator: context.channel.allocator)
        context.writeAndFlush(wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
