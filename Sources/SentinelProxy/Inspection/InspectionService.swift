// What inspected hosts need beside the policy: the Sentinel CA and the certificates it issues
// per host, the trust store for the proxy's own upstream TLS, and the credentials to inject,
// read from the proxy's environment once, when the rules load.

import Crypto
import Foundation
import NIOSSL
import SentinelPolicy
import Synchronization
import X509

/// A credential read from the proxy's environment. Its description never shows the value, so
/// that no log line, record or error message built with string interpolation can carry it.
struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The value; read it only to write the header upstream.
    let value: String
    var description: String { "<redacted>" }
    var debugDescription: String { "<redacted>" }
}

/// A header set on every request to an inspected host, with its value resolved.
struct InjectedHeader: Sendable, Hashable {
    /// The header name as the policy wrote it.
    let name: String
    /// The value, from the template and the proxy's environment.
    let value: Secret
    /// The policy item (`allowed_hosts[2].inject[0]`).
    let keyPath: String
}

/// The CA, the per-host server certificates and the upstream trust store. One per proxy: kept
/// across reloads (the CA and `--upstream-ca` do not change with the policy).
final class InspectionService: Sendable {
    /// The CA the agent's certificates chain to.
    let ca: SentinelCA
    /// The client context of the proxy's connections to inspected hosts: full verification
    /// against the system's trust store plus `--upstream-ca`, HTTP/1.1 only.
    let upstreamContext: NIOSSLContext
    /// `--upstream-ca`, for messages.
    let upstreamCAFile: String?
    /// The raw scalar of the key every issued certificate carries (swift-crypto's key type is
    /// not `Sendable`; its bytes are).
    private let leafKeyBytes: [UInt8]
    private let leafKeyForTLS: NIOSSLPrivateKey
    private let caForTLS: NIOSSLCertificate
    /// Server contexts by host, each with the time after which its certificate is issued anew.
    private let contexts = Mutex<[String: (context: NIOSSLContext, renewAfter: Date)]>([:])

    /// How long an issued certificate is valid; it is issued anew a day before it ends.
    static let leafLifetime: TimeInterval = 7 * 86_400

    /// Loads (or creates) the CA, writes its bundle, and builds the upstream trust store.
    static func make(_ configuration: ProxyConfiguration) throws(ProxyError) -> InspectionService {
        let directory: String
        if let chosen = configuration.certificateAuthorityDirectory {
            directory = chosen
        } else {
            directory = try SentinelCA.defaultDirectory(environment: configuration.environment)
        }
        let ca = try SentinelCA.loadOrCreate(directory: directory)
        try ca.writeBundle(systemBundle: configuration.systemTrustBundle)

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        tls.trustRoots = .default
        // The agent's side is HTTP/1.1 (see `serverContext`), so the upstream side is too.
        tls.applicationProtocols = ["http/1.1"]
        if let path = configuration.upstreamCAFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(path)
            } catch {
                throw ProxyError(.upstreamTrust, "Cannot read --upstream-ca \(path): \(error). Give a file of PEM "
                    + "certificates.")
            }
            guard !certificates.isEmpty else {
                throw ProxyError(.upstreamTrust, "--upstream-ca \(path) holds no PEM certificate. Give the CA "
                    + "certificate of the private service.")
            }
            tls.additionalTrustRoots = [.certificates(certificates)]
        }
        let upstreamContext: NIOSSLContext
        do {
            upstreamContext = try NIOSSLContext(configuration: tls)
        } catch {
            throw ProxyError(.upstreamTrust, "Cannot build the trust store for inspected hosts: \(error). Check the "
                + "system's certificates (\(configuration.systemTrustBundle)) and --upstream-ca.")
        }
        let key = P256.Signing.PrivateKey()
        do {
            return InspectionService(
                ca: ca, upstreamContext: upstreamContext, upstreamCAFile: configuration.upstreamCAFile, leafKey: key,
                leafKeyForTLS: try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem),
                caForTLS: try NIOSSLCertificate(bytes: Array(ca.certificatePEM.utf8), format: .pem))
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot load the Sentinel CA in \(directory) into TLS: \(error).")
        }
    }

    private init(
        ca: SentinelCA, upstreamContext: NIOSSLContext, upstreamCAFile: String?, leafKey: P256.Signing.PrivateKey,
        leafKeyForTLS: NIOSSLPrivateKey, caForTLS: NIOSSLCertificate
    ) {
        self.ca = ca
        self.upstreamContext = upstreamContext
        self.upstreamCAFile = upstreamCAFile
        self.leafKeyBytes = Array(leafKey.rawRepresentation)
        self.leafKeyForTLS = leafKeyForTLS
        self.caForTLS = caForTLS
    }

    /// The server context that shows the agent a certificate for `host`, issued by the CA on
    /// first use and kept until a day before it ends. One key serves every host: what protects
    /// the agent's side is the CA, and a key per host would only cost time.
    ///
    /// HTTP/1.1 only: the proxy reads requests with an HTTP/1.1 decoder, so ALPN offers nothing
    /// else and an agent that asks for `h2` falls back to HTTP/1.1.
    func serverContext(for host: NormalizedHost) throws -> NIOSSLContext {
        let key = host.uriHost
        let now = Date()
        if let cached = contexts.withLock({ $0[key] }), cached.renewAfter > now { return cached.context }
        let leafKey = try P256.Signing.PrivateKey(rawRepresentation: leafKeyBytes)
        let certificate = try ca.issue(for: host, key: leafKey, lifetime: Self.leafLifetime)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: try certificate.derBytes, format: .der)),
                               .certificate(caForTLS)],
            privateKey: .privateKey(leafKeyForTLS))
        tls.minimumTLSVersion = .tlsv12
        tls.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        contexts.withLock { $0[key] = (context, certificate.notValidAfter - 86_400) }
        return context
    }

    /// The headers of every inspected entry, rendered from `environment`.
    /// - Throws: `ProxyError` naming the item and the variable that is unset, empty or unusable,
    ///   never its value.
    static func injections(
        of policy: Policy, environment: [String: String]
    ) throws(ProxyError) -> [String: [InjectedHeader]] {
        var result: [String: [InjectedHeader]] = [:]
        for inspection in policy.inspectedHosts where !inspection.inject.isEmpty {
            var headers: [InjectedHeader] = []
            for item in inspection.inject {
                switch item.render(environment) {
                case .success(let value):
                    headers.append(InjectedHeader(name: item.header, value: Secret(value: value), keyPath: item.keyPath))
                case .failure(let missing):
                    let problem = missing.hasControlCharacter ? "holds a line break or another control character, which "
                        + "a header cannot carry" : missing.isEmpty ? "is empty" : "is not set"
                    let place = item.location.map { "\($0): " } ?? ""
                    throw ProxyError(.injection, "\(place)\(item.keyPath) (\(item.header) for \(inspection.host)) needs the "
                        + "environment variable \(missing.name), which \(problem) in the proxy's environment. Set "
                        + "\(missing.name) where sentinel proxy starts (it never reaches the sandbox), or remove the item.")
                }
            }
            result[inspection.keyPath] = headers
        }
        return result
    }
}
