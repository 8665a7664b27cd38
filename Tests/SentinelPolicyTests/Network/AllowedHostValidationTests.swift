import Foundation
import Testing
@testable import SentinelPolicy

/// `allowed_hosts` entries that could never allow anything are refused when the policy compiles,
/// at the entry's line and column, with the entry, the reason and what to write instead; entries
/// that another key of the same policy always denies load with a warning that says which key
/// wins; valid policies stay valid.
@Suite struct AllowedHostValidationTests {
    struct Refused: Sendable, CustomTestStringConvertible {
        let entry: String
        /// `HostPatternError.Code` raw value (a string, so that this table also builds against
        /// sources where the newer codes do not exist yet).
        let code: String
        /// Text the message must hold: why, and what to write instead.
        let reason: String
        let remedy: String
        var testDescription: String { entry.debugDescription }
    }

    /// 253 octets, the most a name may have: no name fits under it.
    static let longBase = [62, 62, 62, 61].map { String(repeating: "a", count: $0) }.joined(separator: ".") + ".io"

    static let refused: [Refused] = [
        // Invalid IDNA: no IDNA-aware client ever sends these.
        Refused(entry: "xn--", code: "invalidIDNA", reason: "xn-- is not a valid internationalised name", remedy: "write the name in Unicode"),
        Refused(entry: "xn--.example", code: "invalidIDNA", reason: "invalid xn-- label", remedy: "correct punycode"),
        Refused(entry: "api.xn--a.example", code: "invalidIDNA", reason: "not a valid internationalised name", remedy: "write"),
        Refused(entry: "xn--bcher-kva-.example", code: "invalidIDNA", reason: "not a valid internationalised name", remedy: "write"),
        Refused(entry: "*.xn--", code: "invalidIDNA", reason: "xn-- is not a valid internationalised name", remedy: "write"),
        // Addresses the address gate denies whatever the policy says.
        Refused(entry: "0", code: "alwaysDenied", reason: "\"0\" is the address 0.0.0.0", remedy: "remove it"),
        Refused(entry: "0.0.0.0", code: "alwaysDenied", reason: "unspecified", remedy: "remove it"),
        Refused(entry: "[::]", code: "alwaysDenied", reason: "unspecified", remedy: "remove it"),
        Refused(entry: "169.254.169.254", code: "alwaysDenied", reason: "169.254.169.254 is a cloud metadata address", remedy: "remove it"),
        Refused(entry: "2852039166", code: "alwaysDenied", reason: "cloud metadata", remedy: "remove it"),
        Refused(entry: "[::ffff:169.254.169.254]", code: "alwaysDenied", reason: "cloud metadata", remedy: "remove it"),
        Refused(entry: "[64:ff9b::a9fe:a9fe]", code: "alwaysDenied", reason: "cloud metadata", remedy: "remove it"),
        Refused(entry: "fd00:ec2::254", code: "alwaysDenied", reason: "cloud metadata", remedy: "remove it"),
        Refused(entry: "100.100.100.200", code: "alwaysDenied", reason: "cloud metadata", remedy: "remove it"),
        Refused(entry: "224.0.0.1", code: "alwaysDenied", reason: "multicast", remedy: "remove it"),
        Refused(entry: "[ff02::1]", code: "alwaysDenied", reason: "multicast", remedy: "remove it"),
        Refused(entry: "255.255.255.255", code: "alwaysDenied", reason: "broadcast", remedy: "remove it"),
        Refused(entry: "240.0.0.1", code: "alwaysDenied", reason: "reserved", remedy: "remove it"),
        Refused(entry: "192.0.2.10", code: "alwaysDenied", reason: "documentation", remedy: "remove it"),
        Refused(entry: "[2001:db8::1]", code: "alwaysDenied", reason: "documentation", remedy: "remove it"),
        Refused(entry: "198.18.0.1", code: "alwaysDenied", reason: "benchmarking", remedy: "remove it"),
        Refused(entry: "[2002:7f00:1::]", code: "alwaysDenied", reason: "transition", remedy: "remove it"),
        // Entries that normalise to nothing.
        Refused(entry: "*.", code: "invalidHost", reason: "no domain after the wildcard", remedy: "write *.example.com"),
        Refused(entry: ".", code: "invalidHost", reason: "no domain after the leading dot", remedy: "write .example.com"),
        Refused(entry: "\u{200B}", code: "invalidHost", reason: "matches nothing", remedy: "write a host name"),
        Refused(entry: "\u{00AD}", code: "invalidHost", reason: "matches nothing", remedy: "write a host name"),
        Refused(entry: "\u{3002}", code: "invalidHost", reason: "matches nothing", remedy: "write a host name"),
        Refused(entry: "..", code: "invalidHost", reason: "matches nothing", remedy: "write a host name"),
        // Wildcards that match nothing.
        Refused(entry: "*." + longBase, code: "matchesNothing", reason: "longer than the 253 octets", remedy: "without \"*.\""),
        // A port inside the host, in range or not.
        Refused(entry: "api.example.com:443", code: "namesPort", reason: "writes a port inside the host",
                remedy: "write {host: api.example.com, ports: [443]}"),
        Refused(entry: "api.example.com:99999", code: "namesPort", reason: "99999 is not a port",
                remedy: "write {host: api.example.com, ports: [443]}"),
        Refused(entry: "93.184.216.34:0", code: "namesPort", reason: "0 is not a port", remedy: "ports: ["),
        Refused(entry: "[2606:4700::1111]:8443", code: "namesPort", reason: "writes a port inside the host",
                remedy: "write {host: \"[2606:4700::1111]\", ports: [8443]}"),
    ]

    @Test("entries that could never allow anything are refused", arguments: refused)
    func refusedByTheEntryCompiler(_ example: Refused) {
        do {
            let pattern = try HostPattern(entry: example.entry)
            Issue.record("\(example.entry.debugDescription) was accepted as \(pattern.kind)")
        } catch {
            #expect(error.code.rawValue == example.code, "\(error)")
            #expect(error.reason.contains(example.reason), "\(error)")
            #expect(error.reason.contains(example.remedy), "\(error)")
        }
    }

    @Test("… at their line and column, with the entry, why and what to write instead", arguments: refused)
    func refusedWhenThePolicyCompiles(_ example: Refused) throws {
        let yaml = "allowed_paths: [./workspace]\nallowed_hosts:\n  - api.example.com\n  - \(YAMLText.doubleQuoted(example.entry))\n"
        let document = try PolicyLoader(environment: [:]).parse(yaml, name: "p.yaml")
        let error = try #require(throws: PolicyError.self) {
            try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        }
        #expect(error.location == SourceLocation(file: "p.yaml", line: 4, column: 5), "\(error)")
        #expect(error.keyPath == "allowed_hosts[1]", "\(error)")
        #expect(error.code == .invalidValue, "\(error)")
        // The compiler capitalises the first letter of the reason.
        #expect(error.message.lowercased().contains(example.reason.lowercased()), "\(error)")
        #expect(error.message.contains(example.remedy), "\(error)")
    }

    @Test("the mapping form and the policy's match mode are refused the same way", arguments: [
        "allowed_hosts:\n  - {host: \"169.254.169.254\", ports: [80]}\n",
        "host_match_mode: subdomain\nallowed_hosts:\n  - {host: xn--, schemes: [https]}\n",
        "allowed_hosts:\n  - {host: \".\", match: subdomain}\n",
    ])
    func mappingEntries(_ yaml: String) throws {
        let document = try PolicyLoader(environment: [:]).parse(yaml, name: "p.yaml")
        let error = try #require(throws: PolicyError.self) {
            try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        }
        #expect(error.keyPath == "allowed_hosts[0]", "\(error)")
        #expect((error.location?.line ?? 0) >= 2, "\(error)")
    }

    @Test("entries that can match stay valid", arguments: [
        "api.example.com", "API.Example.COM.", "*.example.com", ".example.com", "*", "93.184.216.34", "[2606:4700::1111]",
        "2606:4700::1111", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE", "bücher.example", "10.0.0.1", "127.0.0.1",
        "[::1]", "fe80::1", "100.64.0.1", "a--b.example", "*.openai.com",
    ])
    func validEntriesLoad(_ entry: String) throws {
        let yaml = "allowed_hosts:\n  - \(YAMLText.doubleQuoted(entry))\nnetwork_failsafe: {allow_private_network: true}\n"
        var reader = PolicyYAMLReader(file: "p.yaml")
        let document = try reader.read(yaml)
        _ = try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(reader.warnings.isEmpty, "\(reader.warnings)")
    }

    @Test("the shipped policy and the examples load, compile and warn about nothing", arguments: [
        "sentinel.yaml", "examples/guard-policy.yaml",
    ])
    func shippedPoliciesStayValid(_ relativePath: String) throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let loaded = try PolicyLoader(environment: [:]).load(path: root.appendingPathComponent(relativePath).path)
        let policy = try Policy(loaded: loaded, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(!policy.document.allowedHosts.isEmpty)
    }

    struct Contradiction: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let fragment: String
        var testDescription: String { name }
    }

    static let contradictions: [Contradiction] = [
        Contradiction(name: "a private address without allow_private_network",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - 127.0.0.1\n",
                      fragment: "network_failsafe.allow_private_network is false; set it to true"),
        Contradiction(name: "an address in blocked_ips",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - 93.184.216.34\nnetwork_failsafe: {blocked_ips: [93.184.216.0/24]}\n",
                      fragment: "inside 93.184.216.0/24 (network_failsafe.blocked_ips[0])"),
        Contradiction(name: "an address outside allowed_ips",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - 93.184.216.34\nnetwork_failsafe: {allowed_ips: [8.8.8.0/24]}\n",
                      fragment: "in none of network_failsafe.allowed_ips"),
        Contradiction(name: "an address in blocked_hosts",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - 93.184.216.34\nnetwork_failsafe: {blocked_hosts: [\"93.184.216.34\"]}\n",
                      fragment: "network_failsafe.blocked_hosts[0] blocks the same address"),
        Contradiction(name: "a name under a phishing TLD",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - downloads.example.zip\n",
                      fragment: "ends in .zip, which phishing.blocked_tlds[0] denies"),
        Contradiction(name: "a wildcard under a blocked host",
                      yaml: "allowed_hosts:\n  - api.example.com\n  - \"*.corp.example\"\nnetwork_failsafe: {blocked_hosts: [Corp.Example]}\n",
                      fragment: "under corp.example, which network_failsafe.blocked_hosts[0] blocks"),
    ]

    @Test("entries another key of the policy always denies load with a warning naming that key", arguments: contradictions)
    func contradictionsWarn(_ example: Contradiction) throws {
        var reader = PolicyYAMLReader(file: "p.yaml")
        let document = try reader.read(example.yaml)
        _ = try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(reader.warnings.count == 1, "\(reader.warnings)")
        let warning = try #require(reader.warnings.first)
        #expect(warning.keyPath == "allowed_hosts[1]")
        #expect(warning.location == SourceLocation(file: "p.yaml", line: 3, column: 5), "\(warning)")
        #expect(warning.message.contains(example.fragment), "\(warning)")
    }

    @Test func partlyBlockedEntriesDoNotWarn() throws {
        // blocked_hosts carves a name out of a wider entry: the entry still allows the rest.
        var reader = PolicyYAMLReader(file: "p.yaml")
        _ = try reader.read("allowed_hosts: [.example.com]\nnetwork_failsafe: {blocked_hosts: [bad.example.com]}\nphishing: {enabled: false}\nallowed_paths: []\n")
        #expect(reader.warnings.isEmpty, "\(reader.warnings)")
        var disabled = PolicyYAMLReader(file: "p.yaml")
        _ = try disabled.read("allowed_hosts: [downloads.example.zip]\nphishing: {enabled: false}\n")
        #expect(disabled.warnings.isEmpty, "phishing is off: \(disabled.warnings)")
    }
}
