// A throwaway certificate authority and server certificates, made with the `openssl` command
// in a fresh temporary directory once per test process.

import Foundation
import SentinelTestSupport
import NIOSSL

/// The test PKI: a CA and three leaf certificates it signed.
struct TestCertificates: Sendable {
    /// The directory holding every file.
    let directory: String
    /// The CA certificate (PEM), to pass as the client's trust roots.
    var caFile: String { directory + "/ca.pem" }

    /// A leaf certificate and its key.
    struct Leaf: Sendable {
        let certificate: String
        let key: String
    }

    /// subjectAltName DNS:sentinel.test.
    var sentinelTest: Leaf { leaf("sentinel") }
    /// subjectAltName IP:127.0.0.7 only, subject CN sentinel.test (NIOSSL accepts it for
    /// "sentinel.test" when dialled at 127.0.0.7; the client's stricter check must not).
    var addressOnly: Leaf { leaf("address") }
    /// subjectAltName IP:127.0.0.6, for an IP-address URL.
    var forAddress: Leaf { leaf("ip") }

    private func leaf(_ name: String) -> Leaf {
        Leaf(certificate: "\(directory)/\(name).pem", key: "\(directory)/\(name).key")
    }

    /// A TLS server context for `leaf`.
    func serverContext(_ leaf: Leaf) throws -> NIOSSLContext {
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(leaf.certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: leaf.key, format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    /// The PKI of this test process, made on first use.
    static func shared() throws -> TestCertificates {
        try made.get()
    }

    private static let made: Result<TestCertificates, any Error> = Result { try make() }

    private static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sentinel-http-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)

        func openssl(_ arguments: [String]) throws {
            let process = SpawnedProcess()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CertificateError(message: "openssl \(arguments.joined(separator: " ")) failed: "
                    + String(decoding: message, as: UTF8.self))
            }
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        try openssl(["req", "-x509"] + key + [
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sentinel Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        let leaves = [
            ("sentinel", "/CN=sentinel.test", "DNS:sentinel.test"),
            ("address", "/CN=sentinel.test", "IP:127.0.0.7"),
            ("ip", "/CN=127.0.0.6", "IP:127.0.0.6"),
        ]
        for (name, subject, alternativeNames) in leaves {
            try openssl(["req"] + key + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject])
            let extensions = """
                subjectAltName = \(alternativeNames)
                basicConstraints = CA:FALSE
                keyUsage = digitalSignature
                extendedKeyUsage = serverAuth

                """
            try extensions.write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                         "-CAcreateserial", "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext"])
        }
        return TestCertificates(directory: directory)
    }

    struct CertificateError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
