// A second, stricter check that the server's certificate names the host, after NIOSSL's own.
//
// NIOSSL's hostname validation (swift-nio-ssl 2.37.6, `IdentityVerification.swift`) accepts a
// certificate when *any* subjectAltName matches: a DNS name matching the host, or an IP address
// SAN equal to the peer's socket address — even when a host name was asked for. For a pinned
// client that is a weakening: the address was chosen from DNS answers, so a certificate for the
// *address* (public CAs issue them) would authenticate a name it does not carry. It also falls
// back to the subject common name when there are no SANs, which browsers stopped doing years ago.
// So after NIOSSL has verified the chain and its own match, this check requires a DNS-name SAN
// for a named host, or an IP-address SAN equal to the URL's address for an IP-literal host.

package import NIOSSL
package import SentinelPolicy

/// `package`: the egress proxy checks its own upstream connections to inspected hosts the same way.
package enum CertificateIdentity {
    /// What the certificate must name.
    package enum Expected {
        /// A DNS name (lowercase ASCII, no trailing dot).
        case name(String)
        /// An IP address (the URL's host).
        case address(IPAddress)
    }

    /// `nil` when the certificate names `expected`, else a sentence saying what it names instead.
    package static func mismatch(_ certificate: NIOSSLCertificate, expected: Expected) -> String? {
        var dnsNames: [String] = []
        var addresses: [IPAddress] = []
        // `_subjectAlternativeNames()` is NIOSSL's public (underscored) accessor for the parsed
        // extension; it is the one NIOSSL's own validation uses.
        for name in certificate._subjectAlternativeNames() {
            switch name.nameType {
            case .dnsName:
                dnsNames.append(String(decoding: Array(name.contents), as: UTF8.self))
            case .ipAddress:
                if let address = IPAddress(bytes: Array(name.contents)) { addresses.append(address) }
            default:
                continue
            }
        }

        switch expected {
        case .name(let host):
            if dnsNames.contains(where: { matches(pattern: $0, host: host) }) { return nil }
            let named = dnsNames.isEmpty ? "no DNS name in its subjectAltName" : "only " + list(dnsNames)
            return "the certificate names \(named), not \(host)"
        case .address(let address):
            if addresses.contains(address.withoutZone) { return nil }
            let named = addresses.isEmpty ? "no IP address in its subjectAltName" : "only " + list(addresses.map(\.description))
            return "the certificate names \(named), not \(address.withoutZone)"
        }
    }

    /// RFC 6125 §6.4: exact match without regard to ASCII case, or a wildcard that is the whole
    /// left-most label (`*.example.com`) standing for exactly one non-empty label. A wildcard
    /// over fewer than two labels (`*.com`) or inside a label (`f*.example.com`) matches nothing.
    static func matches(pattern rawPattern: String, host: String) -> Bool {
        var pattern = Array(rawPattern.utf8.map(HTTPSyntax.lowercased))
        if pattern.last == UInt8(ascii: ".") { pattern.removeLast() }
        let host = Array(host.utf8)
        guard !pattern.isEmpty, pattern.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return false }
        if pattern == host { return true }

        guard pattern.count > 2, pattern[0] == UInt8(ascii: "*"), pattern[1] == UInt8(ascii: ".") else { return false }
        let suffix = pattern[1...]  // ".example.com"
        guard suffix.dropFirst().contains(UInt8(ascii: ".")), !suffix.dropFirst().contains(UInt8(ascii: "*")) else {
            return false
        }
        guard let firstDot = host.firstIndex(of: UInt8(ascii: ".")), firstDot > 0 else { return false }
        return host[firstDot...].elementsEqual(suffix)
    }

    private static func list(_ items: [String]) -> String {
        let shown = items.prefix(5).map { HTTPSyntax.quoted($0) }.joined(separator: ", ")
        return items.count > 5 ? shown + " and \(items.count - 5) more" : shown
    }
}
