// The first handler every client connection meets: it reads one request head and either hands a
// CONNECT to `ConnectTunnelHandler` or forwards an absolute-form HTTP request itself.
//
// One request per client connection: the response carries `Connection: close` and the
// connection ends with it. Clients open a new connection for the next request (a redirect's
// next hop comes back through the proxy and is decided again, egress-anchors §6 #81), and no
// second request can ride on a connection whose first one was decided for another host. A
// client that pipelines anyway (writes a second request before the first is answered) has the
// second one refused and recorded; none of its bytes are sent anywhere.

import NIOCore
import NIOHTTP1
import SentinelPolicy

/// Reads the request head, applies the protocol rules, and serves absolute-form HTTP requests.
final class ProxyFrontHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// No request yet.
        case idle
        /// A CONNECT head was read; its end is next.
        case connectHead(EgressRequest)
        /// An HTTP request waits for its decision; its body parts so far are kept.
        case deciding(HTTPRequestHead, buffered: [HTTPServerRequestPart])
        /// Allowed; dialling.
        case connecting(HTTPRequestHead, buffered: [HTTPServerRequestPart])
        /// The request goes upstream and the response comes back.
        case forwarding(UpstreamHTTPHandler)
        /// A refusal or the response was sent; the connection is closing.
        case finished
    }

    private let connection: ProxyConnection
    private let services: ProxyServices
    private let decoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let encoder: HTTPResponseEncoder
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var requestVersion = HTTPVersion.http1_1
    private var requestEnded = false
    private var responseStarted = false
    /// Whether a request pipelined behind the first was refused (and recorded); whatever
    /// follows it on the connection is dropped unrecorded.
    private var pipelinedRefused = false
    /// Whether this connection holds a place among those reading their head (`HeadReaderCount`).
    private var readingHead = false
    /// Whether the head deadline was started (once, when the connection became active).
    private var headClockStarted = false
    /// Fires when the head has not arrived in time.
    private var headDeadline: Scheduled<Void>?
    /// What was wrong with the request's framing, when the decoder found it while the request
    /// was still being decided or dialled: the request is answered 400 once the decision is in,
    /// so that the answer and the records agree (a denial is answered as a denial).
    private var malformed: String?

    init(connection: ProxyConnection, services: ProxyServices, decoder: ByteToMessageHandler<HTTPRequestDecoder>,
         encoder: HTTPResponseEncoder) {
        self.connection = connection
        self.services = services
        self.decoder = decoder
        self.encoder = encoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { startHeadClock(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopReadingHead()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        startHeadClock(context: context)
        context.fireChannelActive()
    }

    // MARK: - The head deadline and the bound on heads being read

    /// Takes a place among the connections reading their head and starts the head deadline; a
    /// connection that finds every place taken is refused at once.
    private func startHeadClock(context: ChannelHandlerContext) {
        guard !headClockStarted, case .idle = state else { return }
        headClockStarted = true
        guard services.headReaders.enter() else {
            let limit = services.headReaders.limit
            refuseAndRecord(.deny(
                rule: "builtin:http-head-limit",
                reason: "\(limit) connection(s) are already sending their request head, the most the proxy reads at "
                    + "once, so this one is refused before it sends anything. Retry shortly; if this client opens many "
                    + "connections and sends slowly, raise the limit (ProxyConfiguration.maxConnectionsReadingHead)."),
                status: 503)
            return
        }
        readingHead = true
        let deadline = ProxyServer.timeAmount(services.headTimeout)
        headDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) {
            self.headTimedOut()
        }
    }

    /// Gives the place back and stops the deadline: the head is in, or the connection is over.
    private func stopReadingHead() {
        headDeadline?.cancel()
        headDeadline = nil
        if readingHead {
            readingHead = false
            services.headReaders.leave()
        }
    }

    private func headTimedOut() {
        guard readingHead, case .idle = state else { return }
        refuseAndRecord(.deny(
            rule: "builtin:http-head-timeout",
            reason: "The request head did not arrive within \(ProxyServer.describe(services.headTimeout)) of "
                + "connecting; the proxy does not wait longer for a slow or stalled client. Send the whole head at "
                + "once, or raise the deadline (ProxyConfiguration.headTimeout)."),
            status: 408)
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if requestEnded {
            // The decoder reads on past the end of the first request: what follows is another
            // request, never part of the first one's body.
            if case .head(let head) = part { refusePipelined(head) }
            return
        }
        switch (state, part) {
        case (.idle, .head(let head)):
            receivedHead(head, context: context)
        case (.connectHead(let request), .end):
            startTunnel(request, context: context)
        case (.connectHead, .body):
            refuseAndRecord(.deny(rule: "builtin:connect-syntax", reason: "A CONNECT request has no body."), status: 400)
        case (.deciding(let head, var buffered), _):
            if case .end = part { requestEnded = true }
            buffered.append(part)
            state = .deciding(head, buffered: buffered)
        case (.connecting(let head, var buffered), _):
            if case .end = part { requestEnded = true }
            buffered.append(part)
            state = .connecting(head, buffered: buffered)
        case (.forwarding(let upstream), .body(let buffer)):
            connection.bytesUp += buffer.readableBytes
            upstream.send(.body(.byteBuffer(buffer)))
        case (.forwarding(let upstream), .end(let trailers)):
            requestEnded = true
            upstream.send(.end(trailers))
            upstream.flush()
        case (.finished, _):
            break
        default:
            refuseAndRecord(.deny(rule: "builtin:http-syntax", reason: "The request arrived out of order."), status: 400)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding(let upstream) = state { upstream.flush() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed {
            // The client may shut its sending side once its request is out; the response still
            // goes back. Before any request, there is nothing to wait for.
            if case .idle = state {
                connection.noteClose("the client closed the connection before sending a request")
                context.close(promise: nil)
            }
        } else if event is IdleStateHandler.IdleStateEvent {
            // A request being decided or dialled has its own timeouts (approval, connect).
            switch state {
            case .deciding, .connecting: return
            case .idle:
                // Idle before the head is complete (an idle timeout shorter than the head
                // deadline): refused and recorded like a head that came too late.
                refuseAndRecord(.deny(
                    rule: "builtin:http-head-timeout",
                    reason: "The connection was idle for the idle timeout before its request head was complete; the "
                        + "proxy does not wait longer for a stalled client. Send the whole head at once."),
                    status: 408)
                return
            default: break
            }
            connection.noteClose("no traffic in either direction for the idle timeout")
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopReadingHead()
        noteClientGone("the client closed the connection")
        if case .forwarding(let upstream) = state { upstream.close() }
        state = .finished
        context.fireChannelInactive()
    }

    /// Notes why the connection ended when the client ended it, saying what became of a request
    /// still being decided or dialled (its allow record gets a close record all the same).
    private func noteClientGone(_ how: String) {
        switch state {
        case .deciding:
            connection.noteClose("\(how) before its request was decided; nothing was sent to the destination")
        case .connecting:
            connection.noteClose("\(how) before the destination answered the dial; nothing was sent to it")
        default:
            connection.noteClose(how)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError || error is ByteToMessageDecoderError else {
            // The socket failed (a reset, say): nothing more can be said to the client.
            noteClientGone("the client's connection failed (\(error))")
            context.close(promise: nil)
            return
        }
        if let decoderError = error as? ByteToMessageDecoderError, case .dataReceivedInErrorState = decoderError {
            // Bytes behind a decoding error that was already handled.
            return
        }
        badInput(error, context: context)
    }

    /// The decoder found bytes that are not HTTP/1.1. Before a head that is a 400; after it, the
    /// request's body framing is broken (an invalid chunk, bytes where the next request would
    /// start, a connection that ended mid-body), and the request is answered 400 instead of
    /// being carried out, with what happened in its records.
    private func badInput(_ error: any Error, context: ChannelHandlerContext) {
        guard !pipelinedRefused else { return }  // bytes behind a refused request: dropped
        switch state {
        case .idle, .connectHead:
            refuseAndRecord(.deny(rule: "builtin:http-syntax", reason: "The request is not valid HTTP/1.1 (\(error))."),
                            status: 400)
        case .deciding, .connecting:
            // Answered when the decision (or the dial) is in: see `decided` and `connected`.
            if malformed == nil { malformed = Self.framingProblem(error) }
        case .forwarding(let upstream):
            let problem = Self.framingProblem(error)
            if requestEnded && responseStarted {
                // The request went out whole and its answer is on its way: the answer goes on,
                // what followed the request is dropped.
                connection.noteClose("bytes the client sent after its request were not a request and were dropped "
                    + "(\(problem)); the response went on")
                return
            }
            // The answer comes first, so that the state is final before the destination is cut
            // off: its close would otherwise answer 502 as well.
            if responseStarted {
                connection.noteClose("the request's framing broke while the response was being sent (\(problem)); both "
                    + "connections were closed")
                state = .finished
                context.close(promise: nil)
            } else {
                refuseMalformed(problem, sentSoFar: true)
            }
            upstream.close()
        case .finished:
            break
        }
    }

    /// The framing problem the decoder found, in words.
    static func framingProblem(_ error: any Error) -> String {
        let what: String
        switch error as? HTTPParserError {
        case .invalidChunkSize?: what = "a chunk size is not a hexadecimal number"
        case .invalidEOFState?: what = "the client ended its side of the connection before the request was complete"
        case .invalidMethod?, .invalidURL?, .invalidVersion?, .invalidConstant?:
            what = "the bytes after the request are not a request (a wrong Content-Length, or bytes after the body)"
        case .headerOverflow?: what = "a chunk extension or a trailer section is too large"
        case .invalidHeaderToken?: what = "a trailer or the request after it has an invalid header name"
        default: what = "the chunked body, or the bytes after the request, do not follow HTTP/1.1 framing"
        }
        return "\(what) (\(error))"
    }

    /// Answers 400 for a request whose framing broke after its head, once it was allowed.
    private func refuseMalformed(_ problem: String, sentSoFar: Bool) {
        let sent = sentSoFar ? "nothing from that point on was sent to the destination"
            : "nothing of it was sent to the destination"
        connection.noteClose("answered 400 after the request was allowed: \(problem); \(sent)")
        refuse(EgressRefusal(
            status: 400, rule: "builtin:http-framing",
            reason: "The request's framing is broken after its head: \(problem); \(sent). Fix the client's "
                + "Content-Length or chunked encoding."))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding(let upstream) = state { upstream.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound

    func read(context: ChannelHandlerContext) {
        switch state {
        case .idle, .connectHead:
            context.read()
        case .forwarding(let upstream) where upstream.isWritable:
            context.read()
        default:
            // Deciding or dialling (nothing is forwarded yet), or the upstream is full.
            pendingRead = true
        }
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    /// The upstream side can take more of the request body.
    func upstreamBecameWritable() {
        if case .forwarding = state { resumeReading() }
    }

    // MARK: - The request head

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        stopReadingHead()
        requestVersion = head.version
        let client = connection.client
        if head.method == .CONNECT {
            let request = EgressRequest(kind: .connect, target: head.uri, method: "CONNECT", client: client)
            connection.request = request
            if let (violation, status) = ProxyHTTP.protocolViolation(head) {
                refuseAndRecord(violation, status: status)
                return
            }
            state = .connectHead(request)
            return
        }
        let request = EgressRequest(kind: .http, target: head.uri, method: head.method.rawValue, client: client)
        connection.request = request
        if !head.uri.contains("://") {
            // Origin-form (`GET / HTTP/1.1` with `Host:`) or asterisk-form: meant for a server,
            // not a proxy. Never served locally and never guessed from `Host` (#84).
            refuseAndRecord(.deny(
                rule: "builtin:proxy-origin-form",
                reason: "The request-target \"\(EgressDecider.sanitizedTarget(head.uri))\" is not an absolute URL; "
                    + "a proxy only takes absolute-form (GET http://host/path) and CONNECT requests.",
                remedy: "Configure the client to use this address as its HTTP proxy (HTTP_PROXY), not as a server."))
            return
        }
        if let character = ProxyHTTP.unsendableCharacter(inTarget: head.uri) {
            // The decoder lets these through; the request encoder upstream would refuse to send
            // them, after the request was allowed and dialled.
            refuseAndRecord(.deny(
                rule: "builtin:url-syntax",
                reason: "The request-target contains \(character), which RFC 3986 does not allow unencoded, so the "
                    + "proxy could not send it on. Percent-encode it in the client."),
                status: 400)
            return
        }
        if let (violation, status) = ProxyHTTP.protocolViolation(head) {
            refuseAndRecord(violation, status: status)
            return
        }
        state = .deciding(head, buffered: [])
        let promise = context.eventLoop.makePromise(of: Result<EgressGrant, EgressRefusal>.self)
        let decider = services.decider
        Task { promise.succeed(await decider.decide(request)) }
        promise.futureResult.assumeIsolated().whenSuccess { outcome in
            self.decided(outcome, request: request)
        }
    }

    /// Refuses and records a request that arrived behind the first one on this connection. Only
    /// the first such request is recorded: the connection ends with the first request's answer,
    /// and nothing after it is sent anywhere.
    private func refusePipelined(_ head: HTTPRequestHead) {
        guard !pipelinedRefused else { return }
        pipelinedRefused = true
        let kind: ProxyRequestKind = head.method == .CONNECT ? .connect : .http
        let request = EgressRequest(kind: kind, target: head.uri, method: head.method.rawValue,
                                    client: connection.client)
        let target = EgressDecider.sanitizedTarget(head.uri)
        _ = services.decider.refuseNow(request, verdict: .deny(
            rule: "builtin:http-pipelining",
            reason: "A second request (\(head.method.rawValue) \(target)) arrived on this connection before the first "
                + "was answered; the proxy serves one request per connection, so it is refused and none of it is sent "
                + "anywhere. Send each request on a new connection: every answer of the proxy carries "
                + "Connection: close."))
    }

    // MARK: - CONNECT

    private func startTunnel(_ request: EgressRequest, context: ChannelHandlerContext) {
        let tunnel = ConnectTunnelHandler(request: request, connection: connection, services: services)
        do {
            let pipeline = context.pipeline.syncOperations
            // The tunnel handler takes the place of the codec and of this handler; bytes the
            // decoder holds after the CONNECT head reach it when the decoder is removed.
            try pipeline.addHandler(tunnel, position: .before(self))
            pipeline.removeHandler(encoder, promise: nil)
            pipeline.removeHandler(decoder, promise: nil)
            state = .finished
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            connection.noteClose("the tunnel could not be set up: \(error)")
            context.close(promise: nil)
        }
    }

    // MARK: - Forwarding HTTP

    private func decided(_ outcome: Result<EgressGrant, EgressRefusal>, request: EgressRequest) {
        guard case .deciding(let head, let buffered) = state, let context, context.channel.isActive else {
            // The client left while its request was being decided: an allow still gets the
            // record of what became of it.
            if case .success(let grant) = outcome { connection.grantedAfterClose(grant, decider: services.decider) }
            return
        }
        switch outcome {
        case .failure(let refusal):
            refuse(refusal)
        case .success(let grant):
            connection.grant = grant
            if let malformed {
                refuseMalformed(malformed, sentSoFar: false)
                return
            }
            state = .connecting(head, buffered: buffered)
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

    private func connected(_ channel: any Channel, address: IPAddress, grant: EgressGrant) {
        guard case .connecting(let head, let buffered) = state, let context, context.channel.isActive else {
            channel.close(promise: nil)
            return
        }
        connection.address = address
        connection.upstream = channel
        if let malformed {
            channel.close(promise: nil)
            refuseMalformed(malformed, sentSoFar: false)
            return
        }
        guard let request = connection.request else { return }
        if let denial = services.decider.checkPeer(UpstreamConnector.peerAddress(of: channel), dialled: address, grant: grant) {
            channel.close(promise: nil)
            services.decider.recordLateDenial(request, grant: grant, verdict: denial, address: address)
            connection.grant = nil
            refuse(EgressRefusal(status: 403, rule: denial.rule, reason: denial.reason, remedy: denial.remedy))
            return
        }
        let upstream = UpstreamHTTPHandler(front: self, connection: connection)
        do {
            try channel.pipeline.syncOperations.addHTTPClientHandlers(encoderConfiguration: ProxyHTTP.upstreamEncoder)
            try channel.pipeline.syncOperations.addHandler(upstream)
        } catch {
            channel.close(promise: nil)
            connection.noteClose("the upstream connection could not be set up: \(error)")
            context.close(promise: nil)
            return
        }
        if let id = connection.id {
            services.registry.setCarried(id, CarriedTarget(kind: .http, target: grant.target, address: address,
                                                           decision: grant.decision))
        }
        state = .forwarding(upstream)
        // NIO completes the connect before it delivers channelActive; a channel that closes in
        // between (a write refused by the encoder right here, say) never delivers channelInactive
        // either, so the close future is what tells the front the destination is gone.
        channel.closeFuture.assumeIsolated().whenComplete { _ in self.upstreamClosed() }
        upstream.send(.head(ProxyHTTP.upstreamHead(head, originForm: grant.originForm, hostHeader: grant.hostHeader)))
        for part in buffered {
            switch part {
            case .head:
                break
            case .body(let buffer):
                connection.bytesUp += buffer.readableBytes
                upstream.send(.body(.byteBuffer(buffer)))
            case .end(let trailers):
                upstream.send(.end(trailers))
            }
        }
        upstream.flush()
        upstream.startReading()
        if !requestEnded { resumeReading() }
    }

    // MARK: - The response

    /// A part of the upstream response.
    func upstreamResponse(_ part: HTTPClientResponsePart) {
        guard case .forwarding = state, let context else { return }
        switch part {
        case .head(let head):
            responseStarted = true
            context.write(wrapOutboundOut(.head(ProxyHTTP.clientHead(head, requestVersion: requestVersion))), promise: nil)
        case .body(let buffer):
            connection.bytesDown += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            connection.noteClose("the response was complete")
            state = .finished
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    /// The end of a batch of upstream reads.
    func flushClient() {
        context?.flush()
    }

    /// Whether the client can take more of the response.
    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    /// The upstream connection closed.
    func upstreamClosed() {
        guard case .forwarding = state, let context else { return }
        if responseStarted {
            connection.noteClose("the destination closed the connection before the response was complete")
            state = .finished
            context.close(promise: nil)
        } else {
            refuse(EgressRefusal(status: 502, rule: "builtin:upstream-response",
                                 reason: "The destination closed the connection without a response."))
        }
    }

    // MARK: - Refusing

    /// Records a refusal of a protocol rule (no policy relaxes these, and no human is asked), then
    /// sends it.
    private func refuseAndRecord(_ verdict: Verdict, status: Int = 403) {
        let request = connection.request ?? EgressRequest(kind: .http, target: "", method: "?", client: connection.client)
        refuse(services.decider.refuseNow(request, verdict: verdict, status: status))
    }

    /// Sends `refusal` and closes the connection.
    private func refuse(_ refusal: EgressRefusal) {
        stopReadingHead()
        state = .finished
        // A client that is gone gets no answer, and its close record claims none.
        guard let context, context.channel.isActive else { return }
        connection.noteClose("refused: \(refusal.reason)")
        connection.noteRefusalAfterAllow(refusal)
        let (head, body) = ProxyHTTP.refusal(refusal, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// The client side of a forwarded request, as the upstream handler sees it: the front handler of a
/// plain `http://` request, or the handler of an inspected tunnel's request.
protocol UpstreamResponseReceiver: AnyObject {
    /// A part of the upstream response.
    func upstreamResponse(_ part: HTTPClientResponsePart)
    /// The end of a batch of upstream reads.
    func flushClient()
    /// Whether the client can take more of the response.
    var clientIsWritable: Bool { get }
    /// The upstream side can take more of the request body.
    func upstreamBecameWritable()
    /// The upstream connection closed.
    func upstreamClosed()
}

extension ProxyFrontHandler: UpstreamResponseReceiver {}

/// The upstream side of a forwarded HTTP request: sends the request, passes the response back to
/// the client's handler, and reads only while the client can take more.
final class UpstreamHTTPHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var front: (any UpstreamResponseReceiver)?
    private let connection: ProxyConnection
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    init(front: any UpstreamResponseReceiver, connection: ProxyConnection) {
        self.front = front
        self.connection = connection
    }

    /// A handler whose receiver is attached afterwards (it is created by the receiver's init).
    init(connection: ProxyConnection) {
        self.connection = connection
    }

    /// Sets the handler the response goes to.
    func attach(_ front: any UpstreamResponseReceiver) {
        self.front = front
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.front = nil
    }

    /// Whether the upstream connection can take more of the request.
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Writes a part of the request.
    func send(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    /// Flushes the request written so far.
    func flush() {
        context?.flush()
    }

    /// Closes the upstream connection.
    func close() {
        context?.close(promise: nil)
    }

    /// Starts reading the response (reads wait until the request is on its way).
    func startReading() {
        guard let context else { return }
        if front?.clientIsWritable ?? false {
            context.read()
        } else {
            pendingRead = true
        }
    }

    /// The client can take more of the response.
    func clientBecameWritable() {
        if pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        front?.upstreamResponse(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        front?.flushClient()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { front?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        front?.upstreamClosed()
        front = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.noteClose("destination connection error: \(error)")
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        // Once the client's side is done (`front` gone), reads go on: nothing more is forwarded,
        // and a TLS connection must read the destination's close_notify to finish closing.
        if front?.clientIsWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }
}
