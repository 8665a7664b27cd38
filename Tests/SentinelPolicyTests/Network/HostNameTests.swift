import Testing
import SentinelPolicy

@Suite("Host name normalisation")
struct HostNameTests {
    /// Raw host → normalised text (a name, or the canonical address for `.address`).
    static let accepted: [(String, String, Bool)] = [
        // (input, expected, isAddress)
        ("example.com", "example.com", false),
        ("EXAMPLE.COM", "example.com", false),                 // #73
        ("Example.Com", "example.com", false),
        ("example.com.", "example.com", false),                // #74
        ("EXAMPLE.COM.", "example.com", false),
        ("localhost", "localhost", false),                     // #18: a name; the resolver's answer is classified
        ("LOCALHOST", "localhost", false),
        ("localhost.", "localhost", false),                    // #19
        ("foo.localhost", "foo.localhost", false),
        ("127.0.0.1.nip.io", "127.0.0.1.nip.io", false),       // #20
        ("metadata.google.internal", "metadata.google.internal", false), // #48
        ("a-b.example", "a-b.example", false),
        ("xn--exmple-4nf.com", "xn--exmple-4nf.com", false),
        ("allowed.com\u{3002}evil.com", "allowed.com.evil.com", false), // #70
        ("ⓔⓧⓐⓜⓟⓛⓔ.com", "example.com", false),              // #71
        ("ex\u{0430}mple.com", "xn--exmple-4nf.com", false),   // #72
        ("Bücher.Example", "xn--bcher-kva.example", false),
        ("faß.de", "xn--fa-hia.de", false),                    // nontransitional
        ("ａｂｃ.com", "abc.com", false),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah", false),
        (String(repeating: "a", count: 63) + ".com", String(repeating: "a", count: 63) + ".com", false),
        // Addresses: the address glibc would dial.
        ("2130706433", "127.0.0.1", true),                     // #1
        ("0x7f.1", "127.0.0.1", true),                         // #4
        ("0127.0.0.1", "87.0.0.1", true),                      // #11
        ("0", "0.0.0.0", true),                                // #15
        ("[::1]", "::1", true),                                // #22
        ("[0:0:0:0:0:0:0:1]", "::1", true),
        ("[::]", "::", true),                                  // #23
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1", true),      // #24
        ("[fe80::1%lo]", "fe80::1%lo", true),                  // #34
        ("::1", "::1", true),
        ("fe80::1%lo", "fe80::1%lo", true),
    ]

    @Test("hosts that normalise", arguments: accepted)
    func normalises(_ raw: String, _ expected: String, _ isAddress: Bool) throws {
        let host = try HostName.normalize(raw)
        #expect(host.description == expected)
        #expect((host.address != nil) == isAddress)
        #expect((host.name != nil) == !isAddress)
    }

    static let refused: [(String, HostNameError.Code)] = [
        ("", .empty),
        (".", .emptyLabel),
        ("..", .emptyLabel),
        (".example.com", .emptyLabel),
        ("a..b", .emptyLabel),
        ("example.com..", .emptyLabel),
        ("127.0.0.1.", .numericLastLabel),                     // #75
        ("1.2.3.256", .numericLastLabel),
        ("1.2.3.4.5", .numericLastLabel),
        ("foo.0x1f", .numericLastLabel),
        ("foo.123", .numericLastLabel),
        ("１２７.０.０.１", .numericLastLabel),                 // fullwidth digits: IDNA makes them ASCII
        ("127.0.0.1\u{0}.allowed.com", .forbiddenCharacter),  // #69
        ("localhost\u{0}.allowed.com", .forbiddenCharacter),
        ("a b.com", .forbiddenCharacter),
        ("a\tb.com", .forbiddenCharacter),
        ("a\u{7f}b.com", .forbiddenCharacter),
        ("a\u{85}b.com", .forbiddenCharacter),                 // C1 control
        ("a\u{3000}b.com", .forbiddenCharacter),               // ideographic space
        ("allowed.com@evil.com", .forbiddenCharacter),         // #67 after decoding
        ("evil.com\\allowed.com", .forbiddenCharacter),
        ("evil.com/allowed.com", .forbiddenCharacter),
        ("127%2E0%2E0%2E1", .forbiddenCharacter),              // percent-decoding is the URL parser's job
        ("a_b.example.com", .invalidCharacter),
        ("a:b", .invalidCharacter),
        ("*.example.com", .invalidCharacter),
        ("exa$mple.com", .invalidCharacter),
        ("a\u{FF05}41.com", .idnaFailed),                      // fullwidth % maps to % and is refused
        ("a\u{FF0F}b.com", .idnaFailed),                       // fullwidth solidus
        ("a\u{200D}b.com", .idnaFailed),                       // a joiner outside its context
        (String(repeating: "a", count: 64) + ".com", .labelTooLong),
        ((0..<64).map { _ in "abc" }.joined(separator: "."), .tooLong),
        ("[127.0.0.1]", .invalidAddress),
        ("[::1", .invalidAddress),
        ("[example.com]", .invalidAddress),
        ("[fe80::1%lo", .invalidAddress),
    ]

    @Test("hosts that are refused, with the reason's code", arguments: refused)
    func refuses(_ raw: String, _ code: HostNameError.Code) {
        #expect {
            try HostName.normalize(raw)
        } throws: { error in
            (error as? HostNameError)?.code == code
        }
    }

    @Test("error sentences name the host and the problem, on one line")
    func sentences() {
        #expect(throws: HostNameError(code: .forbiddenCharacter, host: "a b.com", reason: "it contains a space")) {
            try HostName.normalize("a b.com")
        }
        do {
            _ = try HostName.normalize("127.0.0.1\u{0}.allowed.com")
            Issue.record("a NUL byte was accepted")
        } catch {
            #expect(error.description.hasPrefix("the host \"127.0.0.1\\u{0}.allowed.com\" is not valid: it contains a NUL byte"))
            #expect(!error.description.contains("\n") && !error.description.contains("\u{0}"))
        }
        do {
            _ = try HostName.normalize("a_b.com")
            Issue.record("an underscore was accepted")
        } catch {
            #expect(error.description == "the host \"a_b.com\" is not valid: it contains \"_\" (U+005F); a host name may contain only letters, digits, \"-\" and \".\"")
        }
    }

    @Test("IDNA is available in this build (Foundation's ICU was found)")
    func idnaEngine() {
        #expect(HostName.isIDNAAvailable)
    }

    @Test("253 octets is the limit, with or without the trailing dot")
    func lengthLimit() throws {
        let label = String(repeating: "a", count: 49)
        let name = [label, label, label, label, label].joined(separator: ".") + ".abc"  // 49*5 + 4 + 4 = 253
        #expect(name.utf8.count == 253)
        #expect(try HostName.normalize(name).name == name)
        #expect(try HostName.normalize(name + ".").name == name)
        #expect(throws: HostNameError.self) { try HostName.normalize("a" + name) }
    }

    @Test("the bracketed and unbracketed forms of one address normalise alike")
    func addressForms() throws {
        #expect(try HostName.normalize("[::1]") == HostName.normalize("::1"))
        #expect(try HostName.normalize("[::ffff:7f00:1]") == HostName.normalize("::ffff:127.0.0.1"))
        #expect(try HostName.normalize("[::1]").uriHost == "[::1]")
        #expect(try HostName.normalize("0x7f.1").uriHost == "127.0.0.1")
    }
}
