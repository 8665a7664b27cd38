// Requests inside an inspected tunnel. The agent's TLS ends at the proxy (a certificate for the
// host from the Sentinel CA), so the proxy reads each request, decides it by the entry's
// `methods` and `paths`, records it, sets the injected headers, and sends it on its own verified
// TLS connection to the checked address.
//
// One request per tunnel, like the rest of the proxy: the response carries `Connection: close`
// and the tunnel ends with it, so the next request comes on a new CONNECT and is decided afresh.

import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy

/// Waits for the proxy's own TLS handshake with an inspected host, then checks that the
/// certificate names the host (after NIOSSL's chain and name checks, the stricter check of the
/// pinned client: a DNS name for a name, the address for an address).
final class UpstreamHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let expected: CertificateIdentity.Expected
    private var completion: ((Result<Void, UpstreamTLSFailure>) -> Void)?

    init(expected: CertificateIdentity.Expected, completion: @escaping (Result<Void, UpstreamTLSFailure>) -> Void) {
        self.expected = expected
        self.completion = completion
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
              let certificate = tls.peerCertificate else {
            finish(.failure(UpstreamTLSFailure(reason: "the destination presented no certificate")))
            return
        }
        if let mismatch = CertificateIdentity.mismatch(certificate, expected: expected) {
            finish(.failure(UpstreamTLSFailure(reason: mismatch)))
            return
        }
        finish(.success(()))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(UpstreamTLSFailure(reason: "\(error)")))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(UpstreamTLSFailure(reason: "the destination closed the connection during the TLS handshake")))
        context.fireChannelInactive()
    }

    /// Gives up (the handshake took too long).
    func timedOut(_ reason: String) {
        finish(.failure(UpstreamTLSFailure(reason: reason, timedOut: true)))
    }

    private func finish(_ result: Result<Void, UpstreamTLSFailure>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}

/// Why the proxy's TLS connection to an inspected host failed.
struct UpstreamTLSFailure: Error {
    /// What NIOSSL or the identity check said.
    var reason: String
    /// Whether the handshake ran out of time (504) rather than failing (502).
    var timedOut = false
}

/// Serves the one request of an inspected tunnel: reads it inside the agent's TLS, decides it,
/// forwards it with the injected headers, and relays the response.
final class InspectedHTTPHandler: ChannelDuplexHandler, UpstreamResponseReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for the request head.
        case idle
        /// The request goes upstream and the response comes back.
        case forwarding
        /// A refusal or the response was sent; the tunnel is closing.
        case finished
    }

    private let connection: ProxyConnection
    private let services: ProxyServices
    private let grant: EgressGrant
    private let inspection: HostInspection
    private let injected: [InjectedHeader]
    /// The handler on the proxy's TLS connection to the destination.
    let upstream: UpstreamHTTPHandler
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var requestVersion = HTTPVersion.http1_1
    private var requestEnded = false
    private var responseStarted = false
    private var pipelinedRefused = false

    init(connection: ProxyConnection, services: ProxyServices, grant: EgressGrant, inspection: HostInspection) {
        self.connection = connection
        self.services = services
        self.grant = grant
        self.inspection = inspection
        self.injected = grant.rules.injections[inspection.keyPath] ?? []
        self.upstream = UpstreamHTTPHandler(connection: connection)
        upstream.attach(self)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// `https://host` (with the port when it is not 443): the origin the records name.
    private var origin: String {
        grant.target.port == 443 ? "https://\(grant.target.host.uriHost)"
            : "https://\(grant.target.host.uriHost):\(grant.target.port)"
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if requestEnded {
            if case .head(let head) = part { refusePipelined(head) }
            return
        }
        switch (state, part) {
        case (.idle, .head(let head)):
            receivedHead(head, context: context)
        case (.forwarding, .body(let buffer)):
            connection.bytesUp += buffer.readableBytes
            upstream.send(.body(.byteBuffer(buffer)))
        case (.forwarding, .end(let trailers)):
            requestEnded = true
            upstream.send(.end(trailers))
            upstream.flush()
        case (.finished, _):
            break
        default:
            refuse(.deny(rule: "builtin:http-syntax", reason: "The request arrived out of order."), status: 400)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .forwarding = state { upstream.flush() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            connection.noteClose("no traffic in either direction for the idle timeout")
            context.close(promise: nil)
        } else if let channelEvent = event as? ChannelEvent, channelEvent == .inputClosed, case .idle = state {
            connection.noteClose("the client closed the tunnel before sending a request")
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.noteClose("the client closed the connection")
        if case .forwarding = state { upstream.close() }
        state = .finished
        upstream.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError {
            // Most often the agent does not trust the Sentinel CA: the sandbox's CA bundle is
            // missing, or the program ships its own trust store or pins a certificate.
            connection.noteClose("the client's TLS with the proxy failed (\(error)); a client that does not trust the "
                + "Sentinel CA (\(grant.rules.inspection?.ca.certificatePath ?? "ca.pem")) cannot use an inspected host")
            context.close(promise: nil)
            return
        }
        if case .idle = state, error is HTTPParserError {
            refuse(.deny(rule: "builtin:http-syntax", reason: "The request is not valid HTTP/1.1 (\(error))."),
                   status: 400)
            return
        }
        connection.noteClose("the client's connection failed (\(error))")
        state = .finished
        upstream.close()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .forwarding = state { upstream.clientBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: - Outbound

    func read(context: ChannelHandlerContext) {
        switch state {
        case .forwarding where !upstream.isWritable:
            pendingRead = true
        default:
            context.read()
        }
    }

    func upstreamBecameWritable() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    // MARK: - The request

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        requestVersion = head.version
        let target = head.uri
        guard target.hasPrefix("/") else {
            refuse(.deny(
                rule: "builtin:inspect-target",
                reason: "Inside an inspected tunnel to \(grant.target.host.uriHost) the request-target must be a path "
                    + "(origin-form, GET /path), and this one is \"\(EgressDecider.sanitizedTarget(target))\"."),
                   status: 400, method: head.method.rawValue, path: nil)
            return
        }
        let pathEnd = target.firstIndex { $0 == "?" || $0 == "#" } ?? target.endIndex
        let path = String(target[..<pathEnd])
        if let character = ProxyHTTP.unsendableCharacter(inTarget: target) {
            refuse(.deny(
                rule: "builtin:url-syntax",
                reason: "The request-target contains \(character), which RFC 3986 does not allow unencoded, so the "
                    + "proxy could not send it on. Percent-encode it in the client."),
                   status: 400, method: head.method.rawValue, path: path)
            return
        }
        if let (violation, status) = ProxyHTTP.protocolViolation(head) {
            refuse(violation, status: status, method: head.method.rawValue, path: path)
            return
        }
        let verdict = inspection.check(method: head.method.rawValue, path: path)
        guard verdict.isAllowed else {
            refuse(verdict, status: 403, method: head.method.rawValue, path: path)
            return
        }
        var details = recordDetails(method: head.method.rawValue, path: path)
        if !injected.isEmpty { details["injected"] = injected.map(\.name).joined(separator: ",") }
        let recorded = grant.rules.pipeline.decideWithoutAsking(DecisionRequest(
            action: .http, target: origin + path, verdict: verdict, recommendation: "", severity: .low,
            details: details))
        guard let recorded, recorded.isAllowed else {
            refuse(EgressRefusal(status: 403, rule: "builtin:audit", reason: recorded?.reason ?? verdict.reason))
            return
        }
        state = .forwarding
        let hostHeader = grant.target.port == 443 ? grant.target.host.uriHost
            : "\(grant.target.host.uriHost):\(grant.target.port)"
        var rewritten = ProxyHTTP.upstreamHead(head, originForm: target, hostHeader: hostHeader)
        // The agent's own header under an injected name is dropped, never passed on, in every
        // spelling a server could read as the same header (`_` for `-`, any case).
        let replaced = Set(injected.map { ProxyHTTP.dashed($0.name) })
        let agentSent = rewritten.headers.map(\.name).filter { replaced.contains(ProxyHTTP.dashed($0)) }
        for name in Set(agentSent) { rewritten.headers.remove(name: name) }
        for header in injected { rewritten.headers.add(name: header.name, value: header.value.value) }
        upstream.send(.head(rewritten))
        upstream.flush()
        upstream.startReading()
    }

    private func recordDetails(method: String, path: String?) -> [String: String] {
        var details = [
            "proxy_type": "inspect", "client": connection.client, "method": method,
            "host": grant.target.host.description, "port": String(grant.target.port), "inspect": "true",
        ]
        if let path { details["path"] = path }
        return details
    }

    /// Refuses and records a request that arrived behind the first one in this tunnel.
    private func refusePipelined(_ head: HTTPRequestHead) {
        guard !pipelinedRefused else { return }
        pipelinedRefused = true
        let pathEnd = head.uri.firstIndex { $0 == "?" || $0 == "#" } ?? head.uri.endIndex
        let path = String(head.uri[..<pathEnd])
        let verdict = Verdict.deny(
            rule: "builtin:http-pipelining",
            reason: "A second request (\(head.method.rawValue) \(EgressDecider.sanitizedTarget(path))) arrived in this "
                + "inspected tunnel before the first was answered; the proxy serves one request per tunnel, so it is "
                + "refused and none of it is sent anywhere. Send each request on a new connection.")
        _ = grant.rules.pipeline.refuseWithoutAsking(DecisionRequest(
            action: .http, target: origin + EgressDecider.sanitizedTarget(path), verdict: verdict, recommendation: "",
            details: recordDetails(method: head.method.rawValue, path: path)))
    }

    // MARK: - The response

    func upstreamResponse(_ part: HTTPClientResponsePart) {
        guard case .forwarding = state, let context else { return }
        switch part {
        case .head(let head):
            responseStarted = true
            context.write(wrapOutboundOut(.head(ProxyHTTP.clientHead(head, requestVersion: requestVersion))),
                          promise: nil)
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

    func flushClient() {
        context?.flush()
    }

    var clientIsWritable: Bool {
        // After the answer nothing more is forwarded: the upstream side may read on (its TLS
        // must read the destination's close_notify to finish closing).
        if case .finished = state { return true }
        return context?.channel.isWritable ?? false
    }

    func upstreamClosed() {
        guard case .forwarding = state, let context else { return }
        if responseStarted {
            connection.noteClose("the destination closed the connection before the response was complete")
            state = .finished
            context.close(promise: nil)
        } else {
            send(EgressRefusal(status: 502, rule: "builtin:upstream-response",
                               reason: "The destination closed the connection without a response."))
        }
    }

    // MARK: - Refusing

    /// Records a refusal of a request read inside the tunnel, then answers it.
    private func refuse(_ verdict: Verdict, status: Int, method: String = "?", path: String? = nil) {
        let request = DecisionRequest(
            action: .http, target: origin + (path.map(EgressDecider.sanitizedTarget) ?? ""), verdict: verdict,
            recommendation: "", details: recordDetails(method: method, path: path))
        let recorded = grant.rules.pipeline.refuseWithoutAsking(request)
        send(EgressRefusal(status: status, rule: verdict.rule, reason: recorded.reason, remedy: verdict.remedy))
    }

    private func refuse(_ refusal: EgressRefusal) {
        send(refusal)
    }

    /// Sends `refusal` inside the agent's TLS and ends the tunnel; nothing of the request was sent.
    private func send(_ refusal: EgressRefusal) {
        state = .finished
        upstream.close()
        guard let context, context.channel.isActive else { return }
        connection.noteClose("refused inside the inspected tunnel: \(refusal.reason)")
        connection.noteRefusalAfterAllow(refusal)
        let (head, body) = ProxyHTTP.refusal(refusal, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
