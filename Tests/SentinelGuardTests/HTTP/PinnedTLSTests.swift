import Testing
import SentinelGuard
import SentinelPolicy
import SentinelTestSupport
import NIOCore
import NIOSSL
import Synchronization
import Foundation

/// What a TLS test server saw in the ClientHello.
final class SNIRecorder: Sendable {
    private let names = Mutex<[String?]>([])

    /// The server name of every handshake so far (`nil`: no SNI was sent).
    var serverNames: [String?] { names.withLock { $0 } }

    /// A server context for `leaf` that records each ClientHello's server name.
    func serverContext(_ certificates: TestCertificates, _ leaf: TestCertificates.Leaf) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(leaf.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: leaf.key, format: .pem))
        )
        configuration.sslContextCallback = { values, promise in
            self.names.withLock { $0.append(values.serverHostname) }
            promise.succeed(.noChanges)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

@Suite("Pinned HTTP client: TLS", .requires(.executable("openssl", package: "openssl")))
struct PinnedTLSTests {
    /// Starts a TLS server on `host` with `leaf`, answering "secure".
    func start(_ host: String, _ leaf: TestCertificates.Leaf, recorder: SNIRecorder) async throws -> LoopbackHTTPServer {
        let certificates = try TestCertificates.shared()
        return try await LoopbackHTTPServer.start(host: host, tls: try recorder.serverContext(certificates, leaf)) { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure")
        }
    }

    func sendTLS(_ client: PinnedHTTPClient, url host: String, hostName: String?, server: LoopbackHTTPServer)
        async throws(HTTPClientError) -> HTTPResponse {
        let request = HTTPRequest(url: "https://\(host):\(server.port)/secret")
        return try await client.send(request, scheme: "https", hostName: hostName, port: server.port,
                                     addresses: [IPAddress(strict: server.host)!])
    }

    @Test("Verification succeeds with the test CA; SNI is the host name")
    func verified() async throws {
        let certificates = try TestCertificates.shared()
        let recorder = SNIRecorder()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: recorder)
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.caFile))

        let response = try await sendTLS(client, url: "sentinel.test", hostName: "sentinel.test", server: server)
        #expect(response.status == 200)
        #expect(response.body == Array("secure".utf8))
        #expect(recorder.serverNames == ["sentinel.test"])
        #expect(server.requests.first?.requestLine == "GET /secret HTTP/1.1")
        #expect(server.requests.first?.values("Host") == ["sentinel.test:\(server.port)"])
    }

    @Test("The trust roots can be given as PEM text")
    func pemText() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let pem = try String(contentsOfFile: certificates.caFile, encoding: .utf8)
        let client = PinnedHTTPClient(trustRoots: .pem(pem))

        let response = try await sendTLS(client, url: "sentinel.test", hostName: "sentinel.test", server: server)
        #expect(response.status == 200)
    }

    @Test("A certificate for another name fails, and the request is not sent")
    func wrongName() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.caFile))

        let error = await clientError { () throws(HTTPClientError) in
            try await sendTLS(client, url: "other.test", hostName: "other.test", server: server)
        }
        #expect(error?.code == .certificateInvalid, "\(error.map { "\($0)" } ?? "no error")")
        #expect(server.requests.isEmpty)
    }

    @Test("Without the test CA (system trust store) verification fails")
    func untrusted() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient()

        let error = await clientError { () throws(HTTPClientError) in
            try await sendTLS(client, url: "sentinel.test", hostName: "sentinel.test", server: server)
        }
        #expect(error?.code == .certificateInvalid, "\(error.map { "\($0)" } ?? "no error")")
        #expect(server.requests.isEmpty)
    }

    @Test("A certificate naming only the dialled address does not authenticate a host name")
    func addressCertificateForName() async throws {
        // NIOSSL's own check accepts this (an IP SAN equal to the peer's address matches any
        // name); the client's stricter check must refuse it.
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.7", certificates.addressOnly, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.caFile))

        let error = await clientError { () throws(HTTPClientError) in
            try await sendTLS(client, url: "sentinel.test", hostName: "sentinel.test", server: server)
        }
        #expect(error?.code == .certificateInvalid, "\(error.map { "\($0)" } ?? "no error")")
        #expect(server.requests.isEmpty)
    }

    @Test("An IP-address URL sends no SNI and checks the certificate's IP address")
    func ipLiteral() async throws {
        let certificates = try TestCertificates.shared()
        let recorder = SNIRecorder()
        let server = try await start("127.0.0.6", certificates.forAddress, recorder: recorder)
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.caFile))

        let response = try await sendTLS(client, url: "127.0.0.6", hostName: nil, server: server)
        #expect(response.status == 200)
        #expect(recorder.serverNames == [nil])
        #expect(server.requests.first?.values("Host") == ["127.0.0.6:\(server.port)"])
    }

    @Test("An IP-address URL fails against a certificate that names only a host")
    func ipLiteralWithNameCertificate() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.caFile))

        let error = await clientError { () throws(HTTPClientError) in
            try await sendTLS(client, url: "127.0.0.5", hostName: nil, server: server)
        }
        #expect(error?.code == .certificateInvalid, "\(error.map { "\($0)" } ?? "no error")")
        #expect(server.requests.isEmpty)
    }

    @Test("A trust file that does not exist fails with tlsFailed before connecting")
    func missingTrustFile() async throws {
        let certificates = try TestCertificates.shared()
        let server = try await start("127.0.0.5", certificates.sentinelTest, recorder: SNIRecorder())
        defer { Task { await server.stop() } }
        let client = PinnedHTTPClient(trustRoots: .pemFile(certificates.directory + "/missing.pem"))

        let error = await clientError { () throws(HTTPClientError) in
            try await sendTLS(client, url: "sentinel.test", hostName: "sentinel.test", server: server)
        }
        #expect(error?.code == .tlsFailed)
        #expect(server.connectionCount == 0)
    }
}
