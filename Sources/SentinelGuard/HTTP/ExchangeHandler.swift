// The channel handler that sends one request and collects its response.

import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS
import SentinelPolicy

/// Sends the request once the connection is ready (TCP connected, or the TLS handshake done and
/// the certificate's names checked), then gathers the response and completes the promise.
///
/// Lives on the channel's event loop; everything it touches is confined there.
final class ExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private enum Phase {
        /// Connected, not yet sent (for TLS: waiting for the handshake).
        case connecting
        /// The request is written; no response head yet.
        case awaitingHead
        /// The head has arrived; body bytes are being gathered.
        case readingBody(head: HTTPResponseHead, body: [UInt8])
        /// The promise is completed, one way or another.
        case done
    }

    private let prepared: PreparedRequest
    private let endpoint: IPEndpoint
    private let maximumBodyBytes: Int
    private let promise: EventLoopPromise<HTTPResponse>
    private var phase = Phase.connecting
    /// Whether the connection was ever made. Until it is, a failure is the connect's to report
    /// (the caller then tries the next address), not this handler's.
    private var wasActive = false

    init(prepared: PreparedRequest, endpoint: IPEndpoint, maximumBodyBytes: Int,
         promise: EventLoopPromise<HTTPResponse>) {
        self.prepared = prepared
        self.endpoint = endpoint
        self.maximumBodyBytes = maximumBodyBytes
        self.promise = promise
    }

    // MARK: - Connection events

    func channelActive(context: ChannelHandlerContext) {
        wasActive = true
        // Defence in depth (egress-anchors §7.2 step 5): the socket must be connected to the very
        // address that was checked.
        guard let remote = context.channel.remoteAddress, Self.endpoint(of: remote) == endpoint.withoutZone else {
            let seen = context.channel.remoteAddress.map { "\($0)" } ?? "an unknown address"
            fail(context, .connectFailed, "the connection for \(prepared.authority) reached \(seen), not the checked "
                + "address \(endpoint); nothing was sent")
            return
        }
        if !prepared.usesTLS { sendRequest(context) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, case .connecting = phase {
            if let reason = certificateMismatch(context) {
                fail(context, .certificateInvalid, "the TLS certificate of \(prepared.authority) at \(endpoint) "
                    + "does not name the host: \(reason); nothing was sent")
                return
            }
            sendRequest(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .awaitingHead = phase else {
                fail(context, .malformedResponse, "\(prepared.authority) sent a response before the request was sent")
                return
            }
            // 1xx responses other than 101 are dropped by the decoder; 101 means the server
            // switched protocols, which this client never asks for (it refuses `Upgrade`).
            if head.status.code == 101 {
                fail(context, .malformedResponse, "\(prepared.authority) answered 101 Switching Protocols, "
                    + "but the request asked for no protocol change")
                return
            }
            // Refuse an announced body over the limit before reading it. A response to HEAD, a
            // 204 and a 304 carry no body whatever their Content-Length says (RFC 9110 §8.6).
            let hasBody = prepared.method != "HEAD" && head.status.code != 204 && head.status.code != 304
            let lengths = head.headers["content-length"].compactMap { Int($0.trimmingASCIISpaces) }
            if hasBody, let length = lengths.max(), length > maximumBodyBytes {
                fail(context, .responseTooLarge, tooLarge("announces a body of \(length) bytes"))
                return
            }
            phase = .readingBody(head: head, body: [])
        case .body(let buffer):
            guard case .readingBody(let head, var body) = phase else { return }
            phase = .done  // lets `body` be extended in place
            guard body.count + buffer.readableBytes <= maximumBodyBytes else {
                phase = .readingBody(head: head, body: body)
                fail(context, .responseTooLarge, tooLarge("sent a body of more than \(maximumBodyBytes) bytes"))
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
            phase = .readingBody(head: head, body: body)
        case .end:
            guard case .readingBody(let head, let body) = phase else { return }
            phase = .done
            // The headers exactly as received, in order; the status text is NIO's standard phrase
            // (its decoder does not keep the server's).
            let headers = head.headers.map { (name: $0.name, value: $0.value) }
            promise.succeed(HTTPResponse(status: Int(head.status.code), reason: head.status.reasonPhrase,
                                         headers: headers, body: body))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Before the connection was made, the error is the connect's: the failed connect reports
        // it and the caller tries the next address (as channelInactive and handlerRemoved do).
        // Failing the exchange here would have ended the request as "connection closed".
        if case .connecting = phase, !wasActive { return }
        let (code, reason) = Self.classify(error)
        fail(context, code, "the exchange with \(prepared.authority) at \(endpoint) failed: \(reason)",
             errno: (error as? IOError)?.errnoCode)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch phase {
        case .connecting where !wasActive:
            break
        case .connecting:
            fail(context, .connectionClosed, "\(prepared.authority) at \(endpoint) closed the connection before "
                + "the request could be sent")
        case .awaitingHead:
            fail(context, .connectionClosed, "\(prepared.authority) at \(endpoint) closed the connection without "
                + "answering")
        case .readingBody(_, let body):
            fail(context, .connectionClosed, "\(prepared.authority) at \(endpoint) closed the connection after "
                + "\(body.count) bytes of the body, before the response was complete")
        case .done:
            break
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Never leave the caller waiting, whatever removed the handler. (Completing the promise
        // closes the channel; the context is not used once it is being removed.) A connection
        // that was never made is reported by the failed connect, and the deadline timer bounds
        // every other case.
        if case .done = phase { return }
        if case .connecting = phase, !wasActive { return }
        phase = .done
        promise.fail(HTTPClientError(code: .connectionClosed, message: "the connection to \(prepared.authority) at "
            + "\(endpoint) ended before the response was complete"))
    }

    // MARK: - Steps

    private func sendRequest(_ context: ChannelHandlerContext) {
        guard case .connecting = phase else { return }
        phase = .awaitingHead
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: prepared.method),
                                   uri: prepared.originForm)
        for (name, value) in prepared.headers { head.headers.add(name: name, value: value) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = prepared.body, !body.isEmpty {
            let buffer = context.channel.allocator.buffer(bytes: body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func certificateMismatch(_ context: ChannelHandlerContext) -> String? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self),
              let certificate = tls.peerCertificate else {
            return "the server presented no certificate"
        }
        if let name = prepared.serverName {
            return CertificateIdentity.mismatch(certificate, expected: .name(name))
        }
        guard let address = prepared.literalAddress else { return "there is no host to check it against" }
        return CertificateIdentity.mismatch(certificate, expected: .address(address))
    }

    private func tooLarge(_ what: String) -> String {
        "\(prepared.authority) \(what), over the client's limit of \(maximumBodyBytes) bytes"
    }

    private func fail(
        _ context: ChannelHandlerContext, _ code: HTTPClientError.Code, _ message: String, errno: Int32? = nil
    ) {
        if case .done = phase { return }
        phase = .done
        promise.fail(HTTPClientError(code: code, message: message, errno: errno))
        context.close(promise: nil)
    }

    // MARK: - Helpers

    /// The address and port of a NIO socket address, in SentinelPolicy's terms.
    static func endpoint(of address: SocketAddress) -> IPEndpoint? {
        switch address {
        case .v4(let inet): IPEndpoint(inet.address).withoutZone
        case .v6(let inet6): IPEndpoint(inet6.address).withoutZone
        case .unixDomainSocket: nil
        }
    }

    /// The error code and a short reason for an error raised in the pipeline.
    static func classify(_ error: any Error) -> (HTTPClientError.Code, String) {
        switch error {
        case let error as NIOSSLError:
            switch error {
            case .handshakeFailed(let underlying):
                // BoringSSL reports an untrusted or expired chain as CERTIFICATE_VERIFY_FAILED;
                // NIOSSL exposes the reason only in the error's text.
                let text = "\(underlying)"
                if text.contains("CERTIFICATE_VERIFY_FAILED") {
                    return (.certificateInvalid, "the server's certificate is not trusted (not signed by a trusted "
                        + "authority, expired or otherwise invalid): \(text)")
                }
                return (.tlsFailed, "the TLS handshake failed: \(text)")
            case .uncleanShutdown:
                return (.connectionClosed, "the server closed the TLS connection without close_notify before the "
                    + "response was complete, so the response may be truncated")
            default:
                return (.tlsFailed, "TLS failed: \(error)")
            }
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return (.certificateInvalid, "the server's certificate does not name the host (\(error))")
        case let error as NIOSSLExtraError:
            return (.tlsFailed, "TLS failed: \(error)")
        case HTTPParserError.invalidEOFState:
            return (.connectionClosed, "the server closed the connection before the response was complete")
        case let error as HTTPParserError:
            return (.malformedResponse, "the response is not valid HTTP/1.1 (\(error))")
        case let error as IOError:
            return (.connectionClosed, "\(error)")
        default:
            return (.connectionClosed, "\(error)")
        }
    }
}

extension IPEndpoint {
    /// The endpoint without an IPv6 zone (NIO reports the scope as a number, a URL may name it).
    var withoutZone: IPEndpoint { IPEndpoint(address: address.withoutZone, port: port) }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    var trimmingASCIISpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[start...end]
    }
}
