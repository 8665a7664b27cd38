import Testing
import SentinelPolicy

@Suite("URL and authority parsing")
struct RequestTargetTests {
    /// URL → scheme, host (normalised text), port, path.
    static let urls: [(String, String, String, UInt16, String)] = [
        ("https://example.com/x", "https", "example.com", 443, "/x"),
        ("HTTP://Example.COM", "http", "example.com", 80, "/"),
        ("http://example.com:8080/a/b?c=d#e", "http", "example.com", 8080, "/a/b"),
        ("ws://example.com/", "ws", "example.com", 80, "/"),
        ("wss://example.com/", "wss", "example.com", 443, "/"),
        ("ftp://example.com:21/", "ftp", "example.com", 21, "/"),
        ("https://93.184.216.34/x", "https", "93.184.216.34", 443, "/x"),
        ("http://2130706433/", "http", "127.0.0.1", 80, "/"),                  // #1
        ("http://0x7f.1/", "http", "127.0.0.1", 80, "/"),                      // #4
        ("http://0127.0.0.1/", "http", "87.0.0.1", 80, "/"),                   // #11
        ("http://127%2E0%2E0%2E1/", "http", "127.0.0.1", 80, "/"),             // #14: decoded, then normalised
        ("http://%31%32%37.0.0.1/", "http", "127.0.0.1", 80, "/"),
        ("http://[::1]/", "http", "::1", 80, "/"),                             // #22
        ("http://[::1]:8080/", "http", "::1", 8080, "/"),
        ("http://[::ffff:127.0.0.1]/", "http", "::ffff:127.0.0.1", 80, "/"),   // #24
        ("http://[fe80::1%25lo]/", "http", "fe80::1%lo", 80, "/"),             // #34, RFC 6874 zone
        ("http://evil.com#@allowed.com/x", "", "", 0, ""),                     // placeholder, see refused
        ("http://allowed.com\u{3002}evil.com/", "http", "allowed.com.evil.com", 80, "/"), // #70
        ("http://ⓔⓧⓐⓜⓟⓛⓔ.com/", "http", "example.com", 80, "/"),            // #71
        ("http://ex\u{0430}mple.com/", "http", "xn--exmple-4nf.com", 80, "/"), // #72
        ("http://b%C3%BCcher.example/", "http", "xn--bcher-kva.example", 80, "/"),
        ("http://EXAMPLE.COM./", "http", "example.com", 80, "/"),              // #74
        ("http://example.com:0443/", "http", "example.com", 443, "/"),
        ("http://example.com?q", "http", "example.com", 80, "/"),
        ("http://example.com/p@th", "http", "example.com", 80, "/p@th"),        // "@" in the path is data
        ("http://allowed.com:22/", "http", "allowed.com", 22, "/"),            // #79: the port policy decides
    ].filter { !$0.1.isEmpty }

    @Test("URLs that parse", arguments: urls)
    func parses(_ url: String, _ scheme: String, _ host: String, _ port: UInt16, _ path: String) throws {
        let target = try RequestTarget.parse(url: url)
        #expect(target.scheme == scheme)
        #expect(target.host.description == host)
        #expect(target.port == port)
        #expect(target.path == path)
    }

    /// §6 #60–#69, #75, #80 and other URLs that must be refused, with the reason's code.
    static let refusedURLs: [(String, TargetError.Code)] = [
        ("http://allowed.com@evil.com/", .userinfo),                  // #60
        ("http://allowed.com:443@evil.com/", .userinfo),              // #61
        ("http://evil.com\\@allowed.com/", .forbiddenCharacter),      // #62
        ("http://127.0.0.1:80\\@allowed.com/", .forbiddenCharacter),  // #63
        ("http://evil.com#@allowed.com/", .userinfo),                 // #64
        ("http://evil.com?@allowed.com/", .userinfo),
        ("http://evil.com%23@allowed.com/", .userinfo),               // #65
        ("http://allowed.com%2F@evil.com/", .userinfo),               // #66
        ("http://allowed.com%40evil.com/", .invalidHost),             // #67
        ("http://1.1.1.1 &@2.2.2.2# @3.3.3.3/", .forbiddenCharacter), // #68
        ("http://127.0.0.1%00.allowed.com/", .invalidHost),           // #69
        ("http://localhost%00.allowed.com/", .invalidHost),
        ("http://127.0.0.1\u{0}.allowed.com/", .forbiddenCharacter),
        ("http://127.0.0.1./", .invalidHost),                         // #75
        ("http://allowed.com:99999/", .invalidPort),                  // #80
        ("http://allowed.com:0/", .invalidPort),
        ("http://allowed.com:-1/", .invalidPort),
        ("http://allowed.com:/", .invalidPort),
        ("http://allowed.com:80a/", .invalidPort),
        ("http://allowed.com:99999999999999999999999/", .invalidPort),
        ("http://allowed.com/\\..\\", .forbiddenCharacter),
        ("http://a b.com/", .forbiddenCharacter),
        ("http://a.com/\n", .forbiddenCharacter),
        ("http://%2561.com/", .invalidHost),                          // double encoding leaves a "%"
        ("http://%zz.com/", .invalidPercentEncoding),
        ("http://a.com%/", .invalidPercentEncoding),
        ("http://[fe80::1%lo]/", .invalidPercentEncoding),            // zones are %25 in URLs
        ("http://::1/", .invalidHost),
        ("http://[::1/", .invalidHost),
        ("http://[::1]x/", .invalidHost),
        ("http://[127.0.0.1]/", .invalidHost),
        ("http:///x", .missingHost),
        ("http://:80/", .missingHost),
        ("http:example.com", .missingAuthority),
        ("http:/example.com", .missingAuthority),
        ("//example.com/", .invalidScheme),
        ("example.com", .invalidScheme),
        ("1http://example.com/", .invalidScheme),
        ("ht tp://example.com/", .forbiddenCharacter),
        ("gopher://example.com/", .missingPort),
        ("", .empty),
        ("http://a_b.com/", .invalidHost),
    ]

    @Test("URLs that are refused", arguments: refusedURLs)
    func refusesURL(_ url: String, _ code: TargetError.Code) {
        #expect {
            try RequestTarget.parse(url: url)
        } throws: { error in
            (error as? TargetError)?.code == code
        }
    }

    @Test("the userinfo sentence")
    func userinfoSentence() {
        #expect(throws: TargetError(code: .userinfo, input: "http://allowed.com@evil.com/", kind: .url,
                                    reason: "userinfo is not allowed (an \"@\" stands before the path)")) {
            try RequestTarget.parse(url: "http://allowed.com@evil.com/")
        }
    }

    static let authorities: [(String, String, UInt16)] = [
        ("example.com:443", "example.com", 443),
        ("EXAMPLE.com.:443", "example.com", 443),
        ("[::1]:443", "::1", 443),                                    // #86
        ("[fe80::1%25lo]:22", "fe80::1%lo", 22),
        ("127.0.0.1:65535", "127.0.0.1", 65535),
        ("0x7f.1:1", "127.0.0.1", 1),
    ]

    @Test("authorities that parse", arguments: authorities)
    func parsesAuthority(_ text: String, _ host: String, _ port: UInt16) throws {
        let target = try RequestTarget.parse(authority: text)
        #expect(target.scheme == nil)
        #expect(target.host.description == host)
        #expect(target.port == port)
        #expect(target.description == "\(target.host.uriHost):\(port)")
    }

    static let refusedAuthorities: [(String, TargetError.Code)] = [
        ("example.com", .missingPort),
        ("[::1]", .missingPort),
        ("::1:443", .invalidHost),                                    // #86: unbracketed IPv6
        ("example.com:0", .invalidPort),
        ("example.com:65536", .invalidPort),
        ("example.com:", .invalidPort),
        ("user@example.com:443", .userinfo),
        ("example.com:443/", .invalidAuthority),
        ("example.com:443 ", .forbiddenCharacter),
        (":443", .missingHost),
        ("", .empty),
        ("*:443", .invalidHost),
    ]

    @Test("authorities that are refused", arguments: refusedAuthorities)
    func refusesAuthority(_ text: String, _ code: TargetError.Code) {
        #expect {
            try RequestTarget.parse(authority: text)
        } throws: { error in
            (error as? TargetError)?.code == code
        }
    }

    @Test("query and description")
    func parts() throws {
        let target = try RequestTarget.parse(url: "HTTPS://[2001:DB8::1]:8443/a?b=c#d")
        #expect(target.query == "b=c")
        #expect(target.hasExplicitPort)
        #expect(target.description == "https://[2001:db8::1]:8443/a?b=c")
        #expect(try !RequestTarget.parse(url: "https://a.example/").hasExplicitPort)
        #expect(RequestTarget.defaultPort(forScheme: "gopher") == nil)
    }
}
