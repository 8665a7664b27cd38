// `sentinel ca`: the Sentinel CA of inspected hosts (docs/PROXY.md), made on first use and shown,
// so a user can trust it in a tool of their own, and so `sentinel-isolate --backend docker` can
// make it on the host before its proxy container gets a copy.

import ArgumentParser
import Foundation
import SentinelProxy

/// `sentinel ca`.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Make the Sentinel CA of inspected hosts if it is missing, and show where it is.",
        discussion: """
            The proxy ends an inspected host's TLS with a certificate from this CA. It is made on first use \
            (ca.key mode 0600, never mounted into a sandbox; ca.pem and ca-bundle.pem are what sandboxes trust). \
            Prints the directory, the certificate, the bundle (the CA followed by the system's trust store, \
            rewritten now), the SHA-256 fingerprint and the expiry; --json prints them as one object. \
            Exit status 2 when the CA cannot be made or loaded, with what to do.
            """
    )

    @Option(name: .customLong("ca-dir"), help: ArgumentHelp(
        "The CA directory (default: $XDG_STATE_HOME/sentinel/ca, else ~/.local/state/sentinel/ca).",
        discussion: "Created (0700) with a new CA when it does not exist or is empty."))
    var caDir: String?

    @Flag(help: "Print one JSON object (directory, certificate, bundle, fingerprint_sha256, not_valid_after).")
    var json = false

    func run() throws {
        let ca: SentinelCA
        do {
            let directory = try caDir ?? SentinelCA.defaultDirectory(environment: ProcessInfo.processInfo.environment)
            ca = try SentinelCA.loadOrCreate(directory: directory)
            try ca.writeBundle()
        } catch {
            printError("sentinel ca: \(error)")
            throw ExitCode(2)
        }
        let expiry = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: ca.notValidAfterUnixTime))
        if json {
            let object: [String: String] = [
                "directory": ca.directory, "certificate": ca.certificatePath, "bundle": ca.bundlePath,
                "fingerprint_sha256": ca.fingerprintSHA256, "not_valid_after": expiry,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
                Sentinel CA: \(ca.directory)
                  certificate: \(ca.certificatePath)  (trust this to reach inspected hosts through the proxy)
                  bundle:      \(ca.bundlePath)  (the CA and the system's trust store, for SSL_CERT_FILE)
                  SHA-256:     \(ca.fingerprintSHA256)
                  valid until: \(expiry)
                """)
        }
    }
}
