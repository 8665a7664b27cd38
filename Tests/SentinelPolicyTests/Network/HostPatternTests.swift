import Testing
import SentinelPolicy

@Suite("allowed_hosts patterns and the public suffix list")
struct HostPatternTests {
    /// (entry, mode, host, matches)
    static let matching: [(String, HostMatchMode, String, Bool)] = [
        ("api.example.com", .exact, "api.example.com", true),
        ("api.example.com", .exact, "API.Example.COM.", true),         // case and trailing dot
        ("API.EXAMPLE.COM.", .exact, "api.example.com", true),
        ("api.example.com", .exact, "x.api.example.com", false),
        ("api.example.com", .exact, "example.com", false),
        ("api.example.com", .subdomain, "api.example.com", true),
        ("api.example.com", .subdomain, "v1.api.example.com", true),
        ("api.example.com", .subdomain, "a.b.api.example.com", true),
        ("api.example.com", .subdomain, "evilapi.example.com", false),   // label boundary
        ("example.com", .subdomain, "evilexample.com", false),           // #76
        ("example.com", .subdomain, "example.com.evil.com", false),      // #76
        ("example.com", .exact, "evilexample.com", false),
        ("*.example.com", .exact, "a.example.com", true),
        ("*.example.com", .exact, "a.b.example.com", true),
        ("*.example.com", .exact, "example.com", false),                 // #77: never the apex
        ("*.example.com", .exact, "aexample.com", false),
        ("*.example.com", .subdomain, "example.com", false),
        (".example.com", .exact, "example.com", true),                   // squid: apex and subdomains
        (".example.com", .exact, "a.example.com", true),
        (".example.com", .exact, "xexample.com", false),
        ("*", .exact, "anything.example", true),
        ("*", .exact, "10.0.0.1", true),
        ("10.0.0.1", .exact, "10.0.0.1", true),
        ("10.0.0.1", .subdomain, "10.0.0.1", true),
        ("10.0.0.1", .exact, "012.0.0.1", true),                         // the same address, octal
        ("10.0.0.1", .exact, "10.0.0.2", false),
        ("10.0.0.1", .exact, "::ffff:10.0.0.1", false),                  // other family: no match
        ("[::1]", .exact, "::1", true),
        ("::1", .exact, "[0:0:0:0:0:0:0:1]", true),
        ("fe80::1", .exact, "fe80::1%lo", true),                         // an entry without a zone
        ("fe80::1%lo", .exact, "fe80::1", false),
        ("example.com", .exact, "93.184.216.34", false),                 // names never match addresses
        ("bücher.example", .exact, "xn--bcher-kva.example", true),       // IDNA on both sides
        ("xn--bcher-kva.example", .exact, "BÜCHER.example", true),
        ("ex\u{0430}mple.com", .exact, "example.com", false),            // #72: homograph
        ("*.example.com", .exact, "a.example.com\u{3002}evil.com", false), // #70
    ]

    @Test("matching by labels", arguments: matching)
    func matches(_ entry: String, _ mode: HostMatchMode, _ host: String, _ expected: Bool) throws {
        let pattern = try HostPattern(entry: entry, match: mode)
        let normalized = try HostName.normalize(host)
        #expect(pattern.matches(normalized) == expected, "\(entry) (\(mode)) vs \(host)")
    }

    static let refused: [(String, HostMatchMode, HostPatternError.Code)] = [
        ("*.com", .exact, .publicSuffix),                                // #78
        ("*.co.uk", .exact, .publicSuffix),
        (".com", .exact, .publicSuffix),
        ("com", .subdomain, .publicSuffix),
        ("co.uk", .subdomain, .publicSuffix),
        ("*.github.io", .exact, .publicSuffix),                          // private section
        ("*.s3.amazonaws.com", .exact, .publicSuffix),
        ("*.amazonaws.com", .exact, .containsPublicSuffix),              // #78
        ("*.x.ck", .exact, .publicSuffix),                               // wildcard rule *.ck
        ("*.公司.cn", .exact, .publicSuffix),                             // IDN rule, stored in punycode
        ("*.internal", .exact, .publicSuffix),                           // implicit "*" rule: any single label
        ("*.nip.io", .exact, .wildcardDNSService),                       // #78
        ("*.10.0.0.1.nip.io", .exact, .wildcardDNSService),
        (".sslip.io", .exact, .wildcardDNSService),
        ("*.*.example.com", .exact, .misplacedWildcard),
        ("a*.example.com", .exact, .misplacedWildcard),
        ("*example.com", .exact, .misplacedWildcard),
        ("api.*.com", .exact, .misplacedWildcard),
        ("*.10.0.0.1", .exact, .wildcardOnAddress),
        (".[::1]", .exact, .wildcardOnAddress),
        ("", .exact, .invalidHost),
        ("*.", .exact, .invalidHost),
        ("..example.com", .exact, .invalidHost),
        ("exa mple.com", .exact, .invalidHost),
        ("example.com/path", .exact, .invalidHost),
        ("127.0.0.1.", .exact, .invalidHost),                            // #75
    ]

    @Test("entries refused at load time", arguments: refused)
    func refuses(_ entry: String, _ mode: HostMatchMode, _ code: HostPatternError.Code) {
        #expect {
            try HostPattern(entry: entry, match: mode)
        } throws: { error in
            (error as? HostPatternError)?.code == code
        }
    }

    @Test("exact entries may name a public suffix host; wildcards over registrable domains are fine")
    func acceptedEdges() throws {
        #expect(try HostPattern(entry: "github.io").kind == .exact("github.io"))
        #expect(try HostPattern(entry: "*.example.co.uk").kind == .subdomainsOnly("example.co.uk"))
        #expect(try HostPattern(entry: "*.www.ck").kind == .subdomainsOnly("www.ck"))  // "!www.ck" exception
        #expect(try HostPattern(entry: "*.googleapis.example").kind == .subdomainsOnly("googleapis.example"))
        #expect(try HostPattern(entry: "pypi.org", match: .subdomain).kind == .domainAndSubdomains("pypi.org"))
        #expect(try HostPattern(entry: "*.openai.com").kind == .subdomainsOnly("openai.com"))
        #expect(try HostPattern(entry: "*").kind == .any)
    }

    @Test("refusals say why and what to do")
    func sentences() {
        do {
            _ = try HostPattern(entry: "*.github.io")
            Issue.record("*.github.io was accepted")
        } catch {
            #expect(error.description == "the allowed_hosts entry \"*.github.io\" is refused: github.io is a public suffix "
                + "(a shared-hosting suffix in the private section of the Public Suffix List), so the entry would allow "
                + "every site anyone registers under it; list the exact hosts you need instead")
        }
        do {
            _ = try HostPattern(entry: "*.amazonaws.com")
            Issue.record("*.amazonaws.com was accepted")
        } catch {
            #expect(error.description.contains("amazonaws.com has public suffixes under it"))
        }
    }

    @Test("the public suffix list follows its wildcard and exception rules")
    func publicSuffixList() {
        let list = PublicSuffixList.shared
        #expect(list.isPublicSuffix("com"))
        #expect(list.isPublicSuffix("co.uk"))
        #expect(list.publicSuffixSection("github.io") == .privateDomains)
        #expect(list.publicSuffixSection("com") == .icann)
        #expect(!list.isPublicSuffix("example.com"))
        #expect(list.isPublicSuffix("anything.ck"))        // *.ck
        #expect(!list.isPublicSuffix("www.ck"))            // !www.ck
        #expect(list.isPublicSuffix("xn--55qx5d.cn"))      // 公司.cn
        #expect(list.publicSuffixSection("unlisted-tld") == .implicitTopLevel)
        #expect(list.publicSuffix(beneath: "example.com") == nil)
        #expect(list.publicSuffix(beneath: "amazonaws.com") != nil)
        #expect(!PublicSuffixList.version.isEmpty)
    }
}
