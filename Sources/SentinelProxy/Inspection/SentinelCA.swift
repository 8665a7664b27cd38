// The Sentinel CA: the certificate authority whose certificates the proxy shows an agent for an
// inspected host. It is made on first use under the caller's state directory and kept there, so
// that a sandbox can be given the same CA certificate run after run; its key never leaves the
// proxy's side (0600, never mounted into a sandbox).
//
// Why swift-certificates and not the `openssl` command: the proxy must run where no OpenSSL
// command line exists (the Sentinel image), and issuing a certificate per host is done in the
// proxy's own process, from a key it already holds.

import Crypto
import Foundation
import NIOSSL
import SentinelPolicy
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The certificate authority of inspected hosts, loaded from (or created in) one directory.
///
/// | file | mode | what |
/// |---|---|---|
/// | `ca.pem` | 0644 | the CA certificate: what sandboxes trust |
/// | `ca.key` | 0600 | its P-256 key: never leaves the proxy's side |
/// | `ca-bundle.pem` | 0644 | `ca.pem` plus the system's trust store, written at every start, for `SSL_CERT_FILE` |
public struct SentinelCA: Sendable {
    /// The directory holding the files.
    public let directory: String
    /// The CA certificate in PEM.
    public let certificatePEM: String
    let certificate: Certificate
    /// The key's raw scalar: swift-crypto's key type is not `Sendable`, its bytes are.
    private let privateKeyBytes: [UInt8]

    /// The CA's private key, from its bytes.
    func signingKey() throws -> P256.Signing.PrivateKey {
        try P256.Signing.PrivateKey(rawRepresentation: privateKeyBytes)
    }

    private init(directory: String, certificatePEM: String, certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.directory = directory
        self.certificatePEM = certificatePEM
        self.certificate = certificate
        self.privateKeyBytes = Array(privateKey.rawRepresentation)
    }

    /// `ca.pem`: the certificate a sandbox must trust.
    public var certificatePath: String { directory + "/ca.pem" }
    /// `ca.key`: the CA's private key (0600).
    public var keyPath: String { directory + "/ca.key" }
    /// `ca-bundle.pem`: the CA certificate followed by the system's trust store.
    public var bundlePath: String { directory + "/ca-bundle.pem" }

    /// The SHA-256 fingerprint of the certificate (its DER bytes), as `AB:CD:…`, the form
    /// `openssl x509 -fingerprint -sha256` prints, so a user can compare what a sandbox trusts.
    public var fingerprintSHA256: String {
        guard let document = try? PEMDocument(pemString: certificatePEM) else { return "?" }
        return SHA256.hash(data: document.derBytes).map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + digits : digits
        }.joined(separator: ":")
    }

    /// When the certificate stops being valid, in seconds since 1970.
    public var notValidAfterUnixTime: Double { certificate.notValidAfter.timeIntervalSince1970 }

    /// The system trust store of Debian and Ubuntu (and Alpine's copy of it), appended to the bundle.
    public static let systemBundlePath = "/etc/ssl/certs/ca-certificates.crt"

    /// The default directory: `$XDG_STATE_HOME/sentinel/ca`, else `~/.local/state/sentinel/ca`.
    /// - Throws: `ProxyError` when neither `XDG_STATE_HOME` nor `HOME` is an absolute path.
    public static func defaultDirectory(environment: [String: String]) throws(ProxyError) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return state + "/sentinel/ca"
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return home + "/.local/state/sentinel/ca"
        }
        throw ProxyError(.certificateAuthority, "Cannot place the Sentinel CA: neither XDG_STATE_HOME nor HOME is an "
            + "absolute path in the proxy's environment. Set one of them, or pass --ca-dir DIR.")
    }

    // MARK: - Loading and creating

    /// Loads the CA from `directory`, creating it (and the directories above it, 0700) when the
    /// directory does not exist or is empty. Two proxies starting at once end up with the same CA:
    /// the loser of the race loads the winner's files.
    ///
    /// - Throws: `ProxyError` (`.certificateAuthority`) with what is wrong and what to do: a key
    ///   readable by others, one file without the other, a certificate that is not this key's.
    public static func loadOrCreate(directory given: String) throws(ProxyError) -> SentinelCA {
        // Absolute, so that the sibling made for the rename and every message name a real place.
        let directory = URL(fileURLWithPath: given).standardizedFileURL.path
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if !manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            try create(in: directory)
        } else if !isDirectory.boolValue {
            throw ProxyError(.certificateAuthority, "The CA directory \(directory) is a file, not a directory; remove it "
                + "or pass another --ca-dir.")
        }
        let hasCertificate = manager.fileExists(atPath: directory + "/ca.pem")
        let hasKey = manager.fileExists(atPath: directory + "/ca.key")
        switch (hasCertificate, hasKey) {
        case (true, true):
            break
        case (false, false):
            try populate(directory)
        case (true, false):
            throw ProxyError(.certificateAuthority, "The CA directory \(directory) holds ca.pem but no ca.key, so no "
                + "certificate can be issued. Restore ca.key, or remove the directory to make a new CA (sandboxes then "
                + "trust the new one on their next start).")
        case (false, true):
            throw ProxyError(.certificateAuthority, "The CA directory \(directory) holds ca.key but no ca.pem. Restore "
                + "ca.pem, or remove the directory to make a new CA.")
        }
        return try load(directory)
    }

    /// Reads and checks the two files.
    static func load(_ directory: String) throws(ProxyError) -> SentinelCA {
        let keyPath = directory + "/ca.key"
        // FileManager reads the link itself (lstat), not what it points to.
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot read \(keyPath): \(Self.sentence(error)).")
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else {
            throw ProxyError(.certificateAuthority, "\(keyPath) is not a regular file (a symbolic link?); the CA key "
                + "must be a file of its own. Replace it with the key file, or remove the directory to make a new CA.")
        }
        let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        guard owner == geteuid() else {
            throw ProxyError(.certificateAuthority, "\(keyPath) belongs to user \(owner.map(String.init) ?? "?"), not to "
                + "the user running the proxy (\(geteuid())); another user could have chosen the key. Use a CA "
                + "directory of your own (--ca-dir).")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard mode & 0o077 == 0 else {
            throw ProxyError(.certificateAuthority, "\(keyPath) can be read by other users (mode "
                + String(mode & 0o777, radix: 8) + "); whoever reads it can impersonate every inspected host "
                + "to your sandboxes. Run chmod 600 \(keyPath) (and consider making a new CA).")
        }
        let keyPEM: String, certificatePEM: String
        do {
            keyPEM = try String(contentsOfFile: keyPath, encoding: .utf8)
            certificatePEM = try String(contentsOfFile: directory + "/ca.pem", encoding: .utf8)
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot read the CA in \(directory): \(Self.sentence(error)).")
        }
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        do {
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw ProxyError(.certificateAuthority, "\(keyPath) is not a P-256 private key in PEM (\(error)). Remove the "
                + "directory to make a new CA.")
        }
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
        } catch {
            throw ProxyError(.certificateAuthority, "\(directory)/ca.pem is not a certificate in PEM (\(error)). Remove the "
                + "directory to make a new CA.")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw ProxyError(.certificateAuthority, "\(directory)/ca.pem is not the certificate of ca.key; certificates "
                + "issued with this key would not chain to it. Restore the matching pair, or remove the directory to "
                + "make a new CA.")
        }
        guard certificate.notValidAfter > Date() + 86_400 else {
            throw ProxyError(.certificateAuthority, "The Sentinel CA in \(directory) expires on "
                + "\(certificate.notValidAfter) (or already has). Remove the directory to make a new CA.")
        }
        return SentinelCA(directory: directory, certificatePEM: certificatePEM, certificate: certificate, privateKey: key)
    }

    /// Creates `directory` with a new CA: built in a sibling directory, then renamed into place in
    /// one step, so nobody sees half a CA. When another process won the race, its CA stays.
    private static func create(in directory: String) throws(ProxyError) {
        let parent = (directory as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot create \(parent) for the Sentinel CA: "
                + "\(Self.sentence(error)). Create it, or pass another --ca-dir.")
        }
        let staging = "\(directory).new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(staging, 0o700) == 0 else {
            throw ProxyError(.certificateAuthority, "Cannot create \(staging): \(String(cString: strerror(errno))). "
                + "Check the permissions of \(parent), or pass another --ca-dir.", errno: errno)
        }
        do {
            try populate(staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        guard rename(staging, directory) == 0 else {
            let error = errno
            try? FileManager.default.removeItem(atPath: staging)
            // Another proxy made the directory first: use its CA.
            if error == EEXIST || error == ENOTEMPTY { return }
            throw ProxyError(.certificateAuthority, "Cannot move the new CA into \(directory): "
                + "\(String(cString: strerror(error))).", errno: error)
        }
        _ = chmod(directory, 0o700)
    }

    /// Writes a new key and certificate into an existing, empty directory. The key is created with
    /// `O_EXCL` and mode 0600 from the start, so it is never readable by others, not even briefly.
    private static func populate(_ directory: String) throws(ProxyError) {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let name: DistinguishedName
        let certificate: Certificate
        do {
            name = try DistinguishedName {
                OrganizationName("Sentinel Guard")
                CommonName("Sentinel Guard inspection CA (\(ProcessInfo.processInfo.hostName))")
            }
            let publicKey = Certificate.PublicKey(key.publicKey)
            certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
                notValidBefore: now - 3600, notValidAfter: now + 10 * 365 * 86_400, issuer: name, subject: name,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: publicKey)
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot make the Sentinel CA certificate: \(error).")
        }
        let certificatePEM: String
        do {
            certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        } catch {
            throw ProxyError(.certificateAuthority, "Cannot encode the Sentinel CA certificate: \(error).")
        }
        try writeExclusively(directory + "/ca.key", key.pemRepresentation + "\n", mode: 0o600)
        try writeExclusively(directory + "/ca.pem", certificatePEM, mode: 0o644)
    }

    private static func writeExclusively(_ path: String, _ text: String, mode: mode_t) throws(ProxyError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else {
            throw ProxyError(.certificateAuthority, "Cannot create \(path): \(String(cString: strerror(errno))). Another "
                + "proxy may be creating the CA at this moment; start again.", errno: errno)
        }
        defer { close(descriptor) }
        // The umask may have taken bits away from 0644; it cannot have added any to 0600.
        _ = fchmod(descriptor, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw ProxyError(.certificateAuthority, "Cannot write \(path): \(String(cString: strerror(errno))).",
                                 errno: errno)
            }
            written += result
        }
        guard fsync(descriptor) == 0 else {
            throw ProxyError(.certificateAuthority, "Cannot write \(path) to disk: \(String(cString: strerror(errno))).",
                             errno: errno)
        }
    }

    // MARK: - The bundle for sandboxes

    /// Writes `ca-bundle.pem`: the CA certificate, then the system's trust store, so a program
    /// given only this file (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`) still trusts
    /// the hosts that are not inspected. Replaced in one step (a sandbox starting now reads the old
    /// or the new file, never half of one).
    /// - Parameter systemBundle: the system's trust store; a missing one leaves only the CA.
    public func writeBundle(systemBundle: String = SentinelCA.systemBundlePath) throws(ProxyError) {
        var text = certificatePEM
        if let system = try? String(contentsOfFile: systemBundle, encoding: .utf8) {
            text += (text.hasSuffix("\n") ? "" : "\n") + system
        }
        let staging = bundlePath + ".new-\(getpid())"
        unlink(staging)
        try Self.writeExclusively(staging, text, mode: 0o644)
        guard rename(staging, bundlePath) == 0 else {
            let error = errno
            unlink(staging)
            throw ProxyError(.certificateAuthority, "Cannot write \(bundlePath): \(String(cString: strerror(error))).",
                             errno: error)
        }
    }

    // MARK: - Issuing

    /// A certificate for `host` (a DNS name, or an IP address for an address entry), signed by
    /// this CA, for `key`; valid from an hour ago (clocks differ) for `lifetime` seconds.
    func issue(for host: NormalizedHost, key: P256.Signing.PrivateKey, lifetime: TimeInterval) throws -> Certificate {
        let now = Date()
        let alternativeName: GeneralName
        switch host {
        case .name(let name): alternativeName = .dnsName(name)
        case .address(let address): alternativeName = .ipAddress(ASN1OctetString(contentBytes: ArraySlice(address.bytes)))
        }
        let subject = try DistinguishedName { CommonName(String(host.uriHost.prefix(64))) }
        let publicKey = Certificate.PublicKey(key.publicKey)
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now - 3600, notValidAfter: min(now + lifetime, certificate.notValidAfter),
            issuer: certificate.subject, subject: subject,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([alternativeName])
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: Certificate.PrivateKey(try signingKey()))
    }
}

extension SentinelCA {
    /// An error's description without its final full stop, to go inside a sentence.
    static func sentence(_ error: any Error) -> String {
        let text = error.localizedDescription
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }
}

extension Certificate {
    /// The DER bytes, for NIOSSL.
    var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
