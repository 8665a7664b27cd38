// The destination's own PKI for the inspection tests: a test CA and a certificate for the test
// names, made with the `openssl` command in a fresh directory once per test process. The proxy
// trusts this CA with `--upstream-ca`; the agent (curl, Python) trusts the Sentinel CA instead.

import Foundation
import NIOSSL
import SentinelTestSupport

/// The origin's CA and its certificate for `api.sentinel.test`, `plain.sentinel.test` and
/// `other.sentinel.test`.
struct TestPKI: Sendable {
    /// The directory holding every file.
    let directory: String
    /// The origin CA (PEM): what `--upstream-ca` names.
    var caFile: String { directory + "/origin-ca.pem" }
    var certificateFile: String { directory + "/origin.pem" }
    var keyFile: String { directory + "/origin.key" }

    /// The names the origin certificate carries.
    static let names = ["api.sentinel.test", "plain.sentinel.test", "other.sentinel.test"]

    /// A TLS server context with the origin certificate.
    func serverContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// The PKI of this test process, made on first use.
    static func shared() throws -> TestPKI {
        try made.get()
    }

    private static let made: Result<TestPKI, any Error> = Result { try make() }

    private static func make() throws -> TestPKI {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sentinel-proxy-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func openssl(_ arguments: [String]) throws {
            let outcome = try ChildProcess.run("/usr/bin/env", ["openssl"] + arguments, directory: directory, timeout: 60)
            guard outcome.status == 0 else {
                throw TestNetworkError(description: "openssl \(arguments.joined(separator: " ")) failed: \(outcome.stderr)")
            }
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + key + [
            "-keyout", "origin-ca.key", "-out", "origin-ca.pem", "-days", "2", "-subj", "/CN=Sentinel proxy test origin CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try openssl(["req"] + key + ["-keyout", "origin.key", "-out", "origin.csr", "-subj", "/CN=api.sentinel.test"])
        let extensions = """
            subjectAltName = \(names.map { "DNS:\($0)" }.joined(separator: ","))
            basicConstraints = CA:FALSE
            keyUsage = digitalSignature
            extendedKeyUsage = serverAuth

            """
        try extensions.write(toFile: "\(directory)/origin.ext", atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "origin.csr", "-CA", "origin-ca.pem", "-CAkey", "origin-ca.key",
                     "-CAcreateserial", "-out", "origin.pem", "-days", "2", "-extfile", "origin.ext"])
        return TestPKI(directory: directory)
    }
}
