// The transport of compatibility mode's HTTP requests: it dials exactly the addresses the caller
// checked, never resolves a name, and verifies TLS for the checked host.
//
// DNS rebinding (egress-anchors §6 #57, #58) works against "check, then let the client resolve
// again": the second answer is not the one checked. So this client takes the checked addresses
// and connects with `ClientBootstrap.connect(to: SocketAddress)`, which dials one exact address;
// `connect(host:port:)` would run `getaddrinfo` again (§7.2). It follows no redirect (§6 #81):
// a 3xx is returned, and the caller checks the next hop with the policy like the first.

public import SentinelPolicy
import NIOCore
import NIOPosix
import NIOHTTP1
import NIOSSL
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 client (with TLS for `https`) that connects only to addresses it is given.
///
/// One request per connection (`Connection: close`); connections run on NIO's shared
/// `MultiThreadedEventLoopGroup`, so no call blocks a thread of Swift's cooperative pool.
/// Certificates are verified against the trust roots for the host name the caller checked;
/// verification cannot be switched off.
public final class PinnedHTTPClient: Sendable {
    /// Which certificate authorities the client trusts.
    public enum TrustRoots: Sendable, Hashable {
        /// The system's trust store (`/etc/ssl/certs` on Debian).
        case system
        /// The certificates in a PEM file, and no others.
        case pemFile(String)
        /// The certificates in PEM text, and no others.
        case pem(String)
    }

    /// The certificate authorities the client trusts.
    public let trustRoots: TrustRoots
    /// The largest response body accepted; a larger one fails with `.responseTooLarge`.
    public let maximumResponseBytes: Int
    /// The longest one TCP connection attempt may take before the next address is tried.
    public let connectTimeout: Duration

    private let group: any EventLoopGroup
    private let state = Mutex(State.running(open: [:]))
    private let tlsContext = Mutex<NIOSSLContext?>(nil)

    /// Whether the client still takes requests, and the exchanges it has open (for `shutdown`).
    private enum State {
        case running(open: [ObjectIdentifier: OpenExchange])
        case shutDown
    }

    /// A connection with a request under way.
    private struct OpenExchange: Sendable {
        let channel: any Channel
        let promise: EventLoopPromise<HTTPResponse>
    }

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - trustRoots: the certificate authorities to trust; the system's by default.
    ///   - maximumResponseBytes: the largest response body accepted (64 MiB by default).
    ///   - connectTimeout: the longest one connection attempt may take (10 s by default); the
    ///     request's own timeout bounds the whole exchange.
    public init(
        trustRoots: TrustRoots = .system,
        maximumResponseBytes: Int = 64 << 20,
        connectTimeout: Duration = .seconds(10)
    ) {
        self.trustRoots = trustRoots
        self.maximumResponseBytes = max(0, maximumResponseBytes)
        self.connectTimeout = connectTimeout
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    /// Sends one request to exactly one of `addresses`, tried in order, and returns the
    /// response. Never looks up a name.
    ///
    /// The URL of `request` must agree with `scheme`, `hostName` and `port`, the values the
    /// caller checked with the policy: `Host`, SNI and the certificate check all use them, and a
    /// disagreement is refused before anything is sent. For an IP-address URL pass `hostName`
    /// `nil` (no SNI is sent; the certificate must name the address) and that address alone.
    /// The next address is tried only when a TCP connection cannot be made; once connected,
    /// the request is sent at most once, and a TLS or HTTP failure ends the call.
    ///
    /// - Parameters:
    ///   - request: the request.
    ///   - scheme: `http` or `https`.
    ///   - hostName: the host name of the URL, for `Host`, SNI and certificate verification;
    ///     `nil` when the URL's host is an IP address.
    ///   - port: the port of the URL (explicit or the scheme's default).
    ///   - addresses: the checked addresses to connect to, in order.
    /// - Throws: `HTTPClientError`; the request is not sent when the code is `.invalidRequest`.
    public func send(
        _ request: HTTPRequest, scheme: String, hostName: String?, port: Int, addresses: [IPAddress]
    ) async throws(HTTPClientError) -> HTTPResponse {
        let prepared = try PreparedRequest(request, scheme: scheme, hostName: hostName, port: port,
                                           addresses: addresses)
        guard isRunning else { throw Self.shutDownError }
        let sslContext = prepared.usesTLS ? try await makeTLSContext() : nil
        let deadline = NIODeadline.now() + TimeAmount(prepared.timeout)

        var failures: [String] = []
        var lastErrno: Int32?
        var everyFailureTimedOut = true
        for endpoint in prepared.endpoints {
            if Task.isCancelled { throw Self.cancelledError }
            let remaining = deadline - .now()
            guard remaining > .zero else { throw timeoutError(prepared) }
            let outcome = await attempt(prepared, endpoint: endpoint, sslContext: sslContext, deadline: deadline,
                                        connectLimit: min(TimeAmount(connectTimeout), remaining))
            switch outcome {
            case .success(let response):
                return response
            case .failure(let error as HTTPClientError):
                throw error
            case .failure(let failure as ConnectFailure):
                failures.append("\(endpoint) (\(failure.reason))")
                lastErrno = failure.errno
                everyFailureTimedOut = everyFailureTimedOut && failure.timedOut
            case .failure(let error):
                throw HTTPClientError(code: .connectionClosed, message:
                    "the request to \(prepared.authority) at \(endpoint) failed: \(error)")
            }
        }
        if everyFailureTimedOut {
            throw HTTPClientError(code: .timeout, message:
                "could not connect to \(prepared.authority): no address answered in time: "
                + failures.joined(separator: ", "))
        }
        throw HTTPClientError(code: .connectFailed, message:
            "could not connect to \(prepared.authority) at any checked address: " + failures.joined(separator: ", "),
            errno: lastErrno)
    }

    /// Stops the client: closes every open connection (their requests fail with `.shutDown`),
    /// and refuses every later request. The shared event loop group is not shut down.
    public func shutdown() async {
        let open: [OpenExchange] = state.withLock { state in
            guard case .running(let open) = state else { return [] }
            state = .shutDown
            return Array(open.values)
        }
        // Failing an exchange's promise answers its caller and closes its channel (see `attempt`).
        for exchange in open {
            exchange.promise.fail(Self.shutDownError)
            try? await exchange.channel.closeFuture.get()
        }
    }

    // MARK: - One connection

    /// Connects to `endpoint` and exchanges the request and response there.
    ///
    /// One promise carries the outcome, and whoever completes it first wins: the response
    /// handler (a response or an error), the deadline timer, a cancellation, `shutdown`, or a
    /// failed connect. Completing it, however it happens, closes the channel.
    private func attempt(
        _ prepared: PreparedRequest, endpoint: IPEndpoint, sslContext: NIOSSLContext?, deadline: NIODeadline,
        connectLimit: TimeAmount
    ) async -> Result<HTTPResponse, any Error> {
        let loop = group.next()
        let promise = loop.makePromise(of: HTTPResponse.self)
        let timeout = timeoutError(prepared)
        let timer = loop.scheduleTask(deadline: deadline) { promise.fail(timeout) }
        promise.futureResult.whenComplete { _ in timer.cancel() }

        let limit = maximumResponseBytes
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectLimit)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                do {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext,
                                                                    serverHostname: prepared.serverName))
                    }
                    var encoder = HTTPRequestEncoder.Configuration()
                    // The client writes Content-Length itself; NIO's automatic framing would drop it
                    // for methods such as GET and send the body unframed.
                    encoder.automaticallySetFramingHeaders = false
                    try pipeline.addHTTPClientHandlers(encoderConfiguration: encoder)
                    try pipeline.addHandler(ExchangeHandler(prepared: prepared, endpoint: endpoint,
                                                            maximumBodyBytes: limit, promise: promise))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    promise.fail(HTTPClientError(code: .tlsFailed, message:
                        "could not set up the connection to \(prepared.authority): \(error)"))
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }

        guard let address = Self.socketAddress(endpoint, prepared: prepared) else {
            let error = HTTPClientError(code: .invalidRequest, message:
                "the address \(endpoint.address) is neither IPv4 nor IPv6; nothing was sent")
            promise.fail(error)
            return .failure(error)
        }
        return await withTaskCancellationHandler {
            do {
                let channel = try await bootstrap.connect(to: address).get()
                let key = ObjectIdentifier(channel)
                let registered = state.withLock { state in
                    guard case .running(var open) = state else { return false }
                    open[key] = OpenExchange(channel: channel, promise: promise)
                    state = .running(open: open)
                    return true
                }
                if !registered { promise.fail(Self.shutDownError) }
                defer {
                    if registered {
                        state.withLock { state in
                            guard case .running(var open) = state else { return }
                            open[key] = nil
                            state = .running(open: open)
                        }
                    }
                }
                return await Self.outcome(promise.futureResult)
            } catch {
                // The connect failed; unless something else already ended the attempt (the
                // deadline, a cancellation), it is a reason to try the next address.
                promise.fail(ConnectFailure(error))
                return await Self.outcome(promise.futureResult)
            }
        } onCancel: {
            promise.fail(Self.cancelledError)
        }
    }

    private static func outcome(_ future: EventLoopFuture<HTTPResponse>) async -> Result<HTTPResponse, any Error> {
        do {
            return .success(try await future.get())
        } catch {
            return .failure(error)
        }
    }

    /// The NIO socket address of `endpoint`, built from its bytes (no resolution).
    private static func socketAddress(_ endpoint: IPEndpoint, prepared: PreparedRequest) -> SocketAddress? {
        // `host` is only the text NIO shows in descriptions; nothing resolves it.
        let label = prepared.serverName ?? endpoint.address.description
        if let inet = endpoint.sockaddrIn { return SocketAddress(inet, host: label) }
        if let inet6 = endpoint.sockaddrIn6 { return SocketAddress(inet6, host: label) }
        return nil
    }

    // MARK: - State and TLS

    private var isRunning: Bool {
        state.withLock { state in
            if case .running = state { return true }
            return false
        }
    }

    /// The TLS context, built on first use and kept: it parses every certificate of the trust
    /// store (Debian's bundle holds about 150). A failure is not kept, so a trust file fixed
    /// later is picked up.
    ///
    /// Building it reads files, so it runs on NIO's blocking-I/O thread pool, not on the
    /// caller's thread of the cooperative pool. Two first requests at once may both build one;
    /// the later simply replaces the earlier.
    private func makeTLSContext() async throws(HTTPClientError) -> NIOSSLContext {
        if let context = tlsContext.withLock({ $0 }) { return context }
        let trustRoots = self.trustRoots
        let context: NIOSSLContext
        do {
            context = try await NIOThreadPool.singleton.runIfActive { try Self.buildTLSContext(trustRoots) }
        } catch {
            throw HTTPClientError(code: .tlsFailed, message:
                "could not load the trusted certificate authorities (\(trustRoots)): \(error); "
                + "check that the file holds PEM certificates")
        }
        tlsContext.withLock { $0 = context }
        return context
    }

    /// A client TLS context trusting `trustRoots`, with verification on. Blocking (file reads).
    private static func buildTLSContext(_ trustRoots: TrustRoots) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        // Offer HTTP/1.1 only, so a server that speaks HTTP/2 does not pick it.
        configuration.applicationProtocols = ["http/1.1"]
        switch trustRoots {
        case .system:
            configuration.trustRoots = .default
        case .pemFile(let path):
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
        case .pem(let text):
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(text.utf8)))
        }
        return try NIOSSLContext(configuration: configuration)
    }

    private func timeoutError(_ prepared: PreparedRequest) -> HTTPClientError {
        HTTPClientError(code: .timeout, message:
            "the request to \(prepared.authority) did not complete within its time limit of \(prepared.timeout)")
    }

    private static let shutDownError = HTTPClientError(code: .shutDown, message:
        "the HTTP client has been shut down; create a new one to send requests")

    private static let cancelledError = HTTPClientError(code: .cancelled, message:
        "the request was cancelled by its caller")
}

/// A TCP connection attempt that failed: a reason to try the next address.
struct ConnectFailure: Error {
    /// A short reason: `Connection refused (errno 111)`, `no answer within 10 s`.
    let reason: String
    /// Whether the attempt ran out of time (rather than being refused).
    let timedOut: Bool
    /// The errno of the failed `connect`, when the failure was a socket error.
    let errno: Int32?

    init(_ error: any Error) {
        switch error {
        case ChannelError.connectTimeout(let amount):
            reason = "no answer within \(Duration(amount))"
            timedOut = true
            errno = nil
        case let error as IOError:
            reason = "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))"
            timedOut = error.errnoCode == ETIMEDOUT
            errno = error.errnoCode
        default:
            reason = "\(error)"
            timedOut = false
            errno = nil
        }
    }
}

