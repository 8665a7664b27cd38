import Testing
@testable import SentinelPolicy

/// URL and connect decisions through the whole engine: name gate, one lookup (a hosts file, never
/// the network), every answer classified, and the addresses to dial.
@Suite struct PolicyNetworkDecisionTests {
    static let yaml = """
        host_match_mode: exact
        allowed_hosts:
          - {host: api.example.com, schemes: [https], ports: [443]}
          - pypi.example.org
          - {host: "*.cdn.example.net", ports: [443]}
          - {host: .squid.example, match: exact}
          - {host: rebind.example.com}
          - {host: multi.example.com}
          - {host: meta.example.com}
          - {host: private.example.com}
          - {host: evil.xyz}
          - {host: nodns.example.com}
          - {host: "BAD.Example.com"}
        network_failsafe:
          blocked_hosts: [bad.example.com]
          blocked_ips: [192.0.2.0/24]
        phishing:
          blocked_tlds: [".xyz"]
        """

    static let hosts = """
        93.184.216.34   api.example.com pypi.example.org www.cdn.example.net squid.example a.squid.example
        93.184.216.35   multi.example.com
        127.0.0.1       multi.example.com
        169.254.169.254 meta.example.com
        10.1.2.3        private.example.com
        ::ffff:127.0.0.1 rebind.example.com
        93.184.216.36   evil.xyz
        93.184.216.37   bad.example.com
        """

    let policy: Policy
    let resolver: HostsFileResolver

    init() throws {
        policy = try Policy(document: PolicyLoader(environment: [:]).parse(Self.yaml),
                            context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        resolver = try HostsFileResolver(contents: Self.hosts)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let url: String
        let allowed: Bool
        let rule: String
        var testDescription: String { url }
    }

    static let urlCases: [Case] = [
        Case(url: "https://api.example.com/v1", allowed: true, rule: "allowed_hosts[0]"),
        Case(url: "https://API.Example.COM./v1", allowed: true, rule: "allowed_hosts[0]"),
        Case(url: "http://api.example.com/v1", allowed: false, rule: "default:allowed_hosts"),
        Case(url: "https://api.example.com:8443/", allowed: false, rule: "default:allowed_hosts"),
        Case(url: "https://sub.api.example.com/", allowed: false, rule: "default:allowed_hosts"),
        Case(url: "http://pypi.example.org:8080/simple", allowed: true, rule: "allowed_hosts[1]"),
        Case(url: "https://www.cdn.example.net/x", allowed: true, rule: "allowed_hosts[2]"),
        Case(url: "https://cdn.example.net/x", allowed: false, rule: "default:allowed_hosts"),
        Case(url: "https://squid.example/", allowed: true, rule: "allowed_hosts[3]"),
        Case(url: "https://a.squid.example/", allowed: true, rule: "allowed_hosts[3]"),
        // A documentation address: always denied (and refused as an allowed_hosts entry when a policy loads).
        Case(url: "http://203.0.113.10:8080/", allowed: false, rule: "builtin:special-address"),
        Case(url: "http://multi.example.com/", allowed: false, rule: "network_failsafe.allow_private_network"),
        Case(url: "http://meta.example.com/latest/meta-data", allowed: false, rule: "builtin:cloud-metadata"),
        // A literal that no entry lists: the denial names the address rule, not allowed_hosts.
        Case(url: "http://169.254.169.254/latest/meta-data", allowed: false, rule: "builtin:cloud-metadata"),
        Case(url: "http://private.example.com/", allowed: false, rule: "network_failsafe.allow_private_network"),
        Case(url: "http://rebind.example.com/", allowed: false, rule: "network_failsafe.allow_private_network"),
        Case(url: "http://evil.xyz/", allowed: false, rule: "phishing.blocked_tlds[0]"),
        Case(url: "http://bad.example.com/", allowed: false, rule: "network_failsafe.blocked_hosts[0]"),
        Case(url: "http://BAD.EXAMPLE.COM/", allowed: false, rule: "network_failsafe.blocked_hosts[0]"),
        Case(url: "http://nodns.example.com/", allowed: false, rule: "builtin:dns"),
        Case(url: "http://evil.com\\@api.example.com/", allowed: false, rule: "builtin:url-syntax"),
        Case(url: "https://user@api.example.com/", allowed: false, rule: "builtin:url-syntax"),
        Case(url: "https://api.example.com:99999/", allowed: false, rule: "builtin:url-syntax"),
        Case(url: "http://127.0.0.1%00.api.example.com/", allowed: false, rule: "builtin:url-syntax"),
        Case(url: "http://2130706433/", allowed: false, rule: "default:allowed_hosts"),
        Case(url: "not a url", allowed: false, rule: "builtin:url-syntax"),
    ]

    @Test(arguments: urlCases)
    func urlDecisions(_ example: Case) async {
        let decision = await policy.evaluateURL(example.url, resolver: resolver)
        #expect(decision.isAllowed == example.allowed, "\(decision.verdict)")
        #expect(decision.verdict.rule == example.rule, "\(decision.verdict)")
        #expect(decision.isAllowed == !decision.addresses.isEmpty, "an allow names the addresses to dial; a deny none")
    }

    @Test func anAllowedNameIsPinnedToTheCheckedAddresses() async throws {
        let decision = await policy.evaluateURL("https://api.example.com/", resolver: resolver)
        #expect(decision.addresses == [try #require(IPAddress(strict: "93.184.216.34"))])
    }

    @Test func aDenialSaysWhatWouldAllowIt() async {
        let decision = await policy.evaluateURL("https://unknown.example.com/", resolver: resolver)
        #expect(decision.verdict.reason == "Network access to unknown.example.com (https:443) is blocked.")
        #expect(decision.verdict.remedy == "Add {host: unknown.example.com, schemes: [https], ports: [443]} to allowed_hosts.")
        let metadata = await policy.evaluateURL("http://meta.example.com/", resolver: resolver)
        #expect(metadata.verdict.remedy == nil, "no policy change should open cloud metadata")
        let literal = await policy.evaluateURL("http://169.254.169.254/latest", resolver: resolver)
        #expect(literal.verdict.remedy == nil, "adding the address to allowed_hosts would not open it: \(literal.verdict)")
    }

    @Test(arguments: [
        ("203.0.113.10", 8080, false, "builtin:special-address"),
        ("0xcb.0.113.10", 8080, false, "builtin:special-address"),
        ("api.example.com", 443, true, "allowed_hosts[0]"),
        ("api.example.com", 80, false, "default:allowed_hosts"),
        ("meta.example.com", 80, false, "builtin:cloud-metadata"),
        ("[::1]", 443, false, "default:allowed_hosts"),
        ("api.example.com", 0, false, "builtin:connect-syntax"),
    ])
    func connectDecisions(_ host: String, _ port: Int, _ allowed: Bool, _ rule: String) async {
        let decision = await policy.evaluateConnect(host: host, port: port, resolver: resolver)
        #expect(decision.isAllowed == allowed, "\(decision.verdict)")
        #expect(decision.verdict.rule == rule, "\(decision.verdict)")
    }

    @Test(arguments: [
        ("169.254.169.254", "builtin:cloud-metadata"), ("::ffff:169.254.169.254", "builtin:cloud-metadata"),
        ("100.100.100.200", "builtin:cloud-metadata"), ("fd00:ec2::254", "builtin:cloud-metadata"),
        ("127.0.0.1", "network_failsafe.allow_private_network"), ("10.0.0.1", "network_failsafe.allow_private_network"),
        ("100.64.0.1", "network_failsafe.allow_private_network"), ("0.0.0.0", "builtin:special-address"),
        ("224.0.0.1", "builtin:special-address"), ("64:ff9b::7f00:1", "network_failsafe.allow_private_network"),
        ("2002:7f00:1::", "builtin:special-address"), ("192.0.2.5", "network_failsafe.blocked_ips[0]"),
        ("::ffff:192.0.2.5", "network_failsafe.blocked_ips[0]"),
    ])
    func addressesThatAreDenied(_ text: String, _ rule: String) throws {
        let address = try #require(IPAddress(numericHost: text))
        let verdict = policy.checkAddress(address)
        #expect(verdict.decision == .deny)
        #expect(verdict.rule == rule, "\(verdict)")
    }

    @Test(arguments: ["93.184.216.34", "172.32.0.1", "100.63.255.254", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])
    func publicAddressesPassTheAddressGate(_ text: String) throws {
        #expect(policy.checkAddress(try #require(IPAddress(numericHost: text))).isAllowed)
    }

    @Test func privateNetworksOpenOnlyWhenAskedAndMetadataNever() throws {
        let open = try Policy(
            document: PolicyLoader(environment: [:]).parse("network_failsafe: {allow_private_network: true}\n"),
            context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(open.checkAddress(try #require(IPAddress(strict: "127.0.0.1"))).isAllowed)
        #expect(open.checkAddress(try #require(IPAddress(strict: "10.9.8.7"))).isAllowed)
        #expect(!open.checkAddress(try #require(IPAddress(strict: "169.254.169.254"))).isAllowed)
        #expect(!open.checkAddress(try #require(IPAddress(strict: "224.0.0.1"))).isAllowed)
    }

    @Test func allowedIPsNarrowButNeverOpen() throws {
        let narrow = try Policy(
            document: PolicyLoader(environment: [:]).parse("network_failsafe: {allowed_ips: [93.184.216.0/24, 10.0.0.0/8]}\n"),
            context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(narrow.checkAddress(try #require(IPAddress(strict: "93.184.216.34"))).isAllowed)
        #expect(narrow.checkAddress(try #require(IPAddress(strict: "8.8.8.8"))).rule == "network_failsafe.allowed_ips")
        #expect(narrow.checkAddress(try #require(IPAddress(strict: "10.0.0.1"))).rule == "network_failsafe.allow_private_network")
    }
}

/// Mistakes in network rules are reported when the policy loads, at the entry's line.
@Suite struct PolicyNetworkCompileTests {
    @Test(arguments: [
        ("allowed_hosts:\n  - \"*.com\"\n", "allowed_hosts[0]", 2),
        ("allowed_hosts:\n  - api.example.com\n  - .co.uk\n", "allowed_hosts[1]", 3),
        ("allowed_hosts:\n  - {host: github.io, match: subdomain}\n", "allowed_hosts[0]", 2),
        ("allowed_hosts:\n  - \"exa mple.com\"\n", "allowed_hosts[0]", 2),
        ("network_failsafe:\n  blocked_ips: [10.0.0.0/33]\n", "network_failsafe.blocked_ips[0]", 2),
        ("network_failsafe:\n  allowed_ips:\n    - not-an-ip\n", "network_failsafe.allowed_ips[0]", 3),
        ("network_failsafe:\n  blocked_hosts: [\"bad host\"]\n", "network_failsafe.blocked_hosts[0]", 2),
        ("phishing:\n  blocked_tlds: [\"..\"]\n", "phishing.blocked_tlds[0]", 2),
        ("allowed_commands:\n  - {command: git, args_deny: [\"[\"]}\n", "allowed_commands[0].args_deny[0]", 2),
        ("allowed_commands:\n  - git push\n", "allowed_commands[0]", 2),
        ("blocked_command_bases: [/usr/bin/curl]\n", "blocked_command_bases[0]", 1),
    ])
    func badEntriesAreRefusedAtTheirLine(_ yaml: String, _ keyPath: String, _ line: Int) throws {
        let document = try PolicyLoader(environment: [:]).parse(yaml, name: "p.yaml")
        let error = try #require(throws: PolicyError.self) {
            try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        }
        #expect(error.keyPath == keyPath, "\(error)")
        #expect(error.location?.line == line, "\(error)")
        #expect(error.location?.file == "p.yaml")
    }

    @Test func aCommandWithNoExecutableHereLoadsWithAWarning() throws {
        let document = try PolicyLoader(environment: [:]).parse("allowed_commands:\n  - ls\n  - no-such-tool-here\n")
        let policy = try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
        #expect(policy.warnings.map(\.keyPath) == ["allowed_commands[1]"])
        #expect(policy.warnings.first?.location?.line == 3)
    }
}

/// Commands through the engine: the check is on what would run.
@Suite struct PolicyCommandDecisionTests {
    let policy: Policy

    init() throws {
        let yaml = "allowed_commands:\n  - echo\n  - ls\n  - {command: git, args_deny: [push, \"--upload-pack*\"]}\nblocked_command_bases: [curl]\n"
        policy = try Policy(document: PolicyLoader(environment: [:]).parse(yaml),
                            context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
    }

    @Test(arguments: [
        ("ls -la /tmp", true, "allowed_commands[1]"),
        ("/bin/ls", true, "allowed_commands[1]"),
        ("/usr/bin/ls -l", true, "allowed_commands[1]"),
        ("echo 'a|b'", true, "allowed_commands[0]"),
        ("echo hi\nid", false, "builtin:shell-syntax"),
        ("echo hi |& id", false, "builtin:shell-syntax"),
        ("ls &> out", false, "builtin:shell-syntax"),
        ("echo $(id)", false, "builtin:shell-syntax"),
        ("echo \"`id`\"", false, "builtin:shell-syntax"),
        ("python3 -c 'print(1)'", false, "builtin:interpreter-denylist"),
        ("sh -c id", false, "builtin:interpreter-denylist"),
        ("curl http://x", false, "blocked_command_bases[0]"),
        ("cat /etc/passwd", false, "default:allowed_commands"),
        ("LD_PRELOAD=/tmp/x.so ls", false, "builtin:shell-syntax"),
    ])
    func commandStrings(_ text: String, _ allowed: Bool, _ rule: String) {
        let decision = policy.checkCommand(text)
        #expect(decision.isAllowed == allowed, "\(decision.verdict)")
        #expect(decision.verdict.rule == rule, "\(decision.verdict)")
    }

    @Test func theExecutableActuallyRunIsChecked() {
        // subprocess.run(["echo", "-c", "id"], executable="/bin/sh") checked `echo` and ran sh.
        let decision = policy.checkExec(["echo", "-c", "id"], executable: "/bin/sh")
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
    }

    @Test func anAllowIsBoundToTheCanonicalExecutable() {
        #expect(policy.checkCommand("ls").executable?.canonicalPath == "/usr/bin/ls")
    }
}
