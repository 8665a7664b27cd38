import Testing
@testable import SentinelGuard

@Suite("Certificate name matching (RFC 6125)")
struct CertificateIdentityTests {
    static let cases: [(String, String, Bool)] = [
        ("sentinel.test", "sentinel.test", true),
        ("SENTINEL.Test", "sentinel.test", true),
        ("sentinel.test.", "sentinel.test", true),
        ("sentinel.test", "other.test", false),
        ("sentinel.test", "api.sentinel.test", false),
        ("*.sentinel.test", "api.sentinel.test", true),
        ("*.sentinel.test", "sentinel.test", false),           // the apex is not covered
        ("*.sentinel.test", "a.b.sentinel.test", false),       // exactly one label
        ("*.sentinel.test", "evilsentinel.test", false),
        ("*.test", "sentinel.test", false),                    // a wildcard over one label
        ("a*.sentinel.test", "abc.sentinel.test", false),      // partial wildcards are not honoured
        ("*.*.test", "a.b.test", false),
        ("api.*.test", "api.sentinel.test", false),
        ("*", "sentinel", false),
        ("", "sentinel.test", false),
        ("sentinel.test\u{0}.evil", "sentinel.test", false),
    ]

    @Test("Pattern against host", arguments: cases)
    func match(pattern: String, host: String, expected: Bool) {
        #expect(CertificateIdentity.matches(pattern: pattern, host: host) == expected)
    }
}
