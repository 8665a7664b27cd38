import Foundation
import Testing
@testable import SentinelPolicy

/// One denial and the addition it must lead to.
struct SuggestedCase: CustomTestStringConvertible, Sendable {
    var denial: ObservedDenial
    var list: SuggestedList
    var value: String
    var ports: [Int] = []
    var schemes: [String] = []
    var testDescription: String { "\(denial.action) \(denial.target) → \(list.rawValue): \(value)" }
}

/// One denial that must not lead to any addition, and a word its reason must contain.
struct WithheldCase: CustomTestStringConvertible, Sendable {
    var denial: ObservedDenial
    var because: String
    var testDescription: String { "\(denial.action) \(denial.target) [\(denial.rule ?? "no rule")]" }
}

/// `sentinel policy suggest`'s logic over constructed denials: what each kind of denial leads to,
/// what is never suggested, how entries merge, and the YAML written.
@Suite struct PolicySuggesterTests {
    static let context = PolicyContext(baseDirectory: "/", homeDirectory: "/home/agent")
    static let suggester = PolicySuggester(policy: nil, context: context)

    static func exec(_ executable: String, reason: String? = nil, details: [String: String] = [:]) -> ObservedDenial {
        ObservedDenial(
            action: "exec", target: executable, rule: "default:allowed_commands",
            reason: reason ?? "Command '\(executable)' is not allowed.",
            details: ["executable": executable].merging(details) { $1 })
    }

    static func write(_ path: String, action: String = "file_write") -> ObservedDenial {
        ObservedDenial(action: action, target: path, rule: "default:allowed_paths", reason: "Access to \(path) is outside the allowed workspace.")
    }

    static func denied(_ action: String, _ target: String, rule: String?, details: [String: String] = [:]) -> ObservedDenial {
        ObservedDenial(action: action, target: target, rule: rule, reason: "Denied.", details: details)
    }

    static let suggested: [SuggestedCase] = [
        // A program found on PATH under its own name is suggested by name.
        SuggestedCase(denial: exec("/usr/bin/id"), list: .allowedCommands, value: "id"),
        // One that is not (not on this machine, or elsewhere) by its path.
        SuggestedCase(denial: exec("/opt/tool/bin/runner"), list: .allowedCommands, value: "/opt/tool/bin/runner"),
        // A script whose #! interpreter was denied: the interpreter.
        SuggestedCase(
            denial: exec("/work/run.tool", reason: "/work/run.tool is a script run by /opt/make/bin/gmake: Command '/opt/make/bin/gmake' is not allowed.",
                         details: ["image": "/opt/make/bin/gmake"]),
            list: .allowedCommands, value: "/opt/make/bin/gmake"),
        SuggestedCase(denial: write("/srv/project/out/a.txt"), list: .allowedPaths, value: "/srv/project/out"),
        // A file directly in a system directory: the file, not /etc.
        SuggestedCase(denial: write("/etc/nope"), list: .allowedPaths, value: "/etc/nope"),
        SuggestedCase(denial: write("/home/agent/notes.txt"), list: .allowedPaths, value: "/home/agent/notes.txt"),
        SuggestedCase(denial: write("/srv/data/in.csv", action: "file_read"), list: .readOnlyPaths, value: "/srv/data"),
        // A Unix socket is reached as a write of its file.
        SuggestedCase(denial: denied("connect", "unix:/srv/app/run/app.sock", rule: "default:allowed_paths"),
                      list: .allowedPaths, value: "/srv/app/run"),
        SuggestedCase(denial: denied("connect", "93.184.216.34:443", rule: "default:allowed_hosts",
                                     details: ["address": "93.184.216.34", "port": "443"]),
                      list: .allowedHosts, value: "93.184.216.34", ports: [443]),
        SuggestedCase(denial: denied("connect", "pypi.org:443", rule: "default:allowed_hosts"),
                      list: .allowedHosts, value: "pypi.org", ports: [443]),
        SuggestedCase(denial: denied("http", "https://API.Example.com/v1/models?x=1", rule: "default:allowed_hosts"),
                      list: .allowedHosts, value: "api.example.com", ports: [443], schemes: ["https"]),
        SuggestedCase(denial: denied("http", "http://example.org:8080/", rule: "default:allowed_hosts"),
                      list: .allowedHosts, value: "example.org", ports: [8080], schemes: ["http"]),
    ]

    @Test(arguments: suggested)
    func eachDenialLeadsToItsAddition(_ testCase: SuggestedCase) {
        let result = Self.suggester.suggest([testCase.denial])
        #expect(result.withheld.isEmpty, "\(result.withheld)")
        #expect(result.additions.count == 1)
        let addition = result.additions.first
        #expect(addition?.list == testCase.list)
        #expect(addition?.value == testCase.value)
        #expect(addition?.ports == testCase.ports)
        #expect(addition?.schemes == testCase.schemes)
        #expect(addition?.count == 1)
        #expect(addition?.example == testCase.denial.target)
    }

    static let withheld: [WithheldCase] = [
        WithheldCase(denial: denied("file_write", "/etc/shadow", rule: "blocked_paths[0]"), because: "explicit block"),
        WithheldCase(denial: denied("file_read", "/home/agent/.ssh/id_rsa", rule: "blocked_paths[3]"), because: "explicit block"),
        WithheldCase(denial: denied("file_write", "/srv/docs/a", rule: "read_only_paths[0]"), because: "read-only"),
        WithheldCase(denial: denied("file_write", "/srv/w/linked", rule: "builtin:hard-links"), because: "allow_hardlinked_writes"),
        WithheldCase(denial: denied("exec", "git push", rule: "allowed_commands[2].args_deny[0]"), because: "args_deny"),
        WithheldCase(denial: denied("exec", "curl x", rule: "blocked_command_bases[0]"), because: "explicit block"),
        WithheldCase(denial: denied("connect", "169.254.169.254:80", rule: "builtin:cloud-metadata"), because: "never allowed"),
        WithheldCase(denial: denied("connect", "10.1.2.3:22", rule: "network_failsafe.blocked_ips[0]"), because: "explicit block"),
        WithheldCase(denial: denied("connect", "8.8.8.8:53", rule: "network_failsafe.allowed_ips"), because: "left to you"),
        WithheldCase(denial: denied("connect", "192.168.1.1:80", rule: "network_failsafe.allow_private_network"), because: "for every private address"),
        WithheldCase(denial: denied("raw_socket", "AF_PACKET", rule: "network_failsafe.allow_raw_sockets"), because: "allow_raw_sockets: true"),
        WithheldCase(denial: denied("terminal_input", "TIOCSTI on descriptor 0", rule: "guard:terminal-injection"), because: "guard"),
        WithheldCase(denial: denied("connect", "unix:@x", rule: "guard:abstract-unix-socket"), because: "guard"),
        WithheldCase(denial: denied("http", "https://x.zip/", rule: "phishing.blocked_tlds[0]"), because: "explicit block"),
        WithheldCase(denial: denied("http", "https://nowhere.invalid/", rule: "builtin:dns"), because: "built-in"),
        WithheldCase(denial: denied("exec", "foo", rule: nil), because: "no rule"),
        WithheldCase(denial: denied("exec", "foo", rule: "future:thing"), because: "does not know"),
        // allowed_hosts alone does not open a private address.
        WithheldCase(denial: denied("connect", "127.0.0.1:8080", rule: "default:allowed_hosts",
                                    details: ["address": "127.0.0.1", "port": "8080"]), because: "loopback"),
        WithheldCase(denial: denied("connect", "192.0.2.1:443", rule: "default:allowed_hosts"), because: "no policy setting opens"),
        // A wrapper's record names only the wrapper.
        WithheldCase(denial: exec("/usr/bin/env", reason: "env runs 'foo': Command 'foo' is not allowed."), because: "wrapper"),
        WithheldCase(denial: exec("/w/s", reason: "/w/s is a script run by perl: Command 'perl' is not allowed.",
                                  details: ["image": "/usr/bin/perl"]), because: "without a path"),
        WithheldCase(denial: denied("exec", "tool", rule: "default:allowed_commands"), because: "executable"),
        WithheldCase(denial: write("/proc/1234/attr/current"), because: "per-process"),
        WithheldCase(denial: write("relative/file"), because: "not absolute"),
    ]

    @Test(arguments: withheld)
    func denialsNoAdditionMayAllowAreWithheldWithWhy(_ testCase: WithheldCase) {
        let result = Self.suggester.suggest([testCase.denial])
        #expect(result.additions.isEmpty, "\(result.additions)")
        #expect(result.withheld.count == 1)
        #expect(result.withheld.first?.why.contains(testCase.because) == true, "\(result.withheld.first?.why ?? "")")
        let patch = result.yamlPatch(sources: ["audit.log"], policy: nil)
        #expect(patch.contains("# not suggested: 1 denial"))
        #expect(patch.contains("(rule \(testCase.denial.rule ?? "(none)"):"))
    }

    @Test func interpretersAreNeverAddedOnlyShownCommentedOut() throws {
        let result = Self.suggester.suggest([
            ObservedDenial(action: "exec", target: "python3 -c 1", rule: "builtin:interpreter-denylist",
                           reason: "Command 'python3' is blocked by fail-safe policy.", details: ["executable": "/usr/bin/python3.11"]),
            ObservedDenial(action: "exec", target: "python3 -c 2", rule: "builtin:interpreter-denylist",
                           reason: "Command 'python3' is blocked by fail-safe policy.", details: ["executable": "/usr/bin/python3.11"]),
        ])
        #expect(result.additions.isEmpty)
        #expect(result.interpreters == [InterpreterDenial(program: "/usr/bin/python3.11", count: 2, example: "python3 -c 1")])
        let patch = result.yamlPatch(sources: ["a.log"], policy: nil)
        #expect(patch.contains("#   - {command: /usr/bin/python3.11, allow_interpreter: true}  # WARNING"))
        for line in patch.split(separator: "\n") where line.contains("allow_interpreter") {
            #expect(line.hasPrefix("#"), "an interpreter opt-in is only ever a comment: \(line)")
        }
        // The patch is YAML that adds nothing.
        let document = try PolicyLoader(environment: [:]).parse(patch)
        #expect(document.allowedCommands.isEmpty)
    }

    @Test(.enabled(if: access("/bin/sh", X_OK) == 0))
    func anInterpreterThePolicyAlreadyLiftsIsAlreadyAllowed() throws {
        let shell = try #require(try? ExecutableResolver.resolve("/bin/sh", searchPath: nil, workingDirectory: "/")).canonicalPath
        let yaml = "allowed_commands:\n  - {command: \(shell), allow_interpreter: true}\n"
        let policy = try Policy(document: PolicyLoader(environment: [:]).parse(yaml), context: Self.context)
        let result = PolicySuggester(policy: policy, context: Self.context).suggest([
            ObservedDenial(action: "exec", target: "sh -c x", rule: "builtin:interpreter-denylist",
                           reason: "Command 'sh' is blocked by fail-safe policy.", details: ["executable": shell]),
        ])
        #expect(result.interpreters.isEmpty)
        #expect(result.alreadyAllowed.map(\.rule) == ["allowed_commands[0]"])
    }

    @Test func pathsSharingADirectoryMergeAndNestedOnesFoldIntoTheirRoot() {
        let result = Self.suggester.suggest([
            Self.write("/srv/p/a.txt"), Self.write("/srv/p/b.txt"), Self.write("/srv/p/sub/deeper/c.txt"),
            Self.write("/srv/p/d.txt", action: "file_read"), Self.write("/srv/q/e.txt", action: "file_read"),
            Self.write("/srv/q/f.txt", action: "file_read"),
        ])
        #expect(result.additions.map(\.list) == [.allowedPaths, .readOnlyPaths])
        #expect(result.additions.map(\.value) == ["/srv/p", "/srv/q"])
        #expect(result.additions.map(\.count) == [4, 2])
        #expect(result.coveredCount == 6)
        #expect(result.denialCount == 6)
    }

    @Test func aHostGetsOneEntryWithEveryPortAndSchemesOnlyWhenOnlyURLsAsked() {
        let urls = Self.suggester.suggest([
            Self.denied("http", "https://a.example/x", rule: "default:allowed_hosts"),
            Self.denied("http", "http://a.example/y", rule: "default:allowed_hosts"),
        ])
        #expect(urls.additions.first?.yamlItem == "{host: a.example, schemes: [http, https], ports: [80, 443]}")
        let mixed = Self.suggester.suggest([
            Self.denied("http", "https://a.example/x", rule: "default:allowed_hosts"),
            Self.denied("connect", "a.example:8443", rule: "default:allowed_hosts"),
            Self.denied("connect", "a.example:8443", rule: "default:allowed_hosts"),
        ])
        #expect(mixed.additions.count == 1)
        #expect(mixed.additions.first?.yamlItem == "{host: a.example, ports: [443, 8443]}")
        #expect(mixed.additions.first?.count == 3)
    }

    @Test func entriesThePolicyAlreadyHasAreNotSuggestedAgain() throws {
        let root = NSTemporaryDirectory() + "sentinel-suggest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let yaml = """
            allowed_paths: [\(root)/out]
            allowed_commands: [id]
            allowed_hosts:
              - {host: pypi.org, ports: [443]}
            """
        let policy = try Policy(document: PolicyLoader(environment: [:]).parse(yaml), context: Self.context)
        let result = PolicySuggester(policy: policy, context: Self.context).suggest([
            Self.write(root + "/out/a.txt"), Self.exec("/usr/bin/id"),
            Self.denied("connect", "pypi.org:443", rule: "default:allowed_hosts"),
            Self.denied("connect", "pypi.org:8443", rule: "default:allowed_hosts"),
        ])
        // Only the port the policy does not allow yet.
        #expect(result.additions.map(\.yamlItem) == ["{host: pypi.org, ports: [8443]}"])
        #expect(result.alreadyAllowed.map(\.rule).contains("allowed_paths[0]"))
        #expect(result.alreadyAllowed.map(\.rule).contains("allowed_commands[0]"))
    }

    @Test func additionsAreWrittenIntoThePolicyKeepingItsCommentsAndTheResultAllowsThem() throws {
        let root = NSTemporaryDirectory() + "sentinel-suggest-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = Self.suggester.suggest([
            Self.write(root + "/build/out.o"), Self.write(root + "/cache/x", action: "file_read"),
            Self.denied("http", "https://api.example.com/v1", rule: "default:allowed_hosts"),
            Self.exec("/usr/bin/id"),
        ])
        let text = try result.applied(to: DefaultPolicy.text)
        #expect(text.hasPrefix("# sentinel.yaml — what an agent run under Sentinel Guard may do."))
        #expect(text.contains("  # 1 denial, e.g. \(root)/build/out.o\n  - \(root)/build\n"))
        #expect(text.contains("read_only_paths:\n  # 1 denial"), "the empty flow list became a block list")
        let document = try PolicyLoader(environment: [:]).parse(text)
        #expect(document.allowedPaths.map(\.value) == ["./workspace", "./sandbox-workspace", root + "/build"])
        #expect(document.readOnlyPaths.map(\.value) == [root + "/cache"])
        #expect(document.allowedCommands.map(\.command) == ["echo", "ls", "id"])
        #expect(document.allowedHosts.last?.host == "api.example.com")
        #expect(document.allowedHosts.last?.ports == [443])
        #expect(!document.blockedPaths.isEmpty, "the rest of the policy is kept")
        let policy = try Policy(document: document, context: Self.context)
        #expect(result.unallowed(by: policy).isEmpty)
        // The original policy does not allow them.
        let original = try Policy(document: PolicyLoader(environment: [:]).parse(DefaultPolicy.text), context: Self.context)
        #expect(result.unallowed(by: original).count == 4)
    }

    @Test(arguments: [
        ("", "allowed_paths:\n  # 1 denial"),
        ("allowed_paths:\n- /a\nallowed_commands: []\n", "allowed_paths:\n- /a\n# 1 denial"),
        ("allowed_paths:\n  - /a  # mine\n\n# Secrets\nblocked_paths: [/x]\n", "  - /a  # mine\n  # 1 denial"),
        ("allowed_paths: []  # none yet\n", "allowed_paths:  # none yet\n  # 1 denial"),
        ("allowed_paths:\n", "allowed_paths:\n  # 1 denial"),
    ])
    func listsOfEveryShapeAreExtended(_ base: String, _ expected: String) throws {
        let result = Self.suggester.suggest([Self.write("/srv/new/file")])
        let text = try result.applied(to: base)
        #expect(text.contains(expected), "\(text)")
        let document = try PolicyLoader(environment: [:]).parse(text)
        #expect(document.allowedPaths.last?.value == "/srv/new")
    }

    @Test func aFlowListWithItemsIsRefusedRatherThanRewritten() {
        let result = Self.suggester.suggest([Self.write("/srv/new/file")])
        #expect(throws: PolicyPatchError.self) { try result.applied(to: "allowed_paths: [/a, /b]\n") }
    }

    @Test func recordedTextCannotBreakOutOfItsCommentOrItsScalar() throws {
        let hostile = "/srv/x\nallowed_commands: [sh]\n#/a: b"
        let result = Self.suggester.suggest([
            Self.write(hostile + "/file"),
            Self.denied("exec", "sh\nallowed_paths: [/]", rule: "blocked_command_bases[0]"),
        ])
        let patch = result.yamlPatch(sources: ["log\nallowed_hosts: ['*']"], policy: nil)
        let document = try PolicyLoader(environment: [:]).parse(patch)
        #expect(document.allowedCommands.isEmpty)
        #expect(document.allowedHosts.isEmpty)
        #expect(document.allowedPaths.map(\.value) == [hostile])
        let written = try PolicyLoader(environment: [:]).parse(try result.applied(to: ""))
        #expect(written.allowedPaths.map(\.value) == [hostile])
        #expect(written.allowedCommands.isEmpty)
    }

    @Test func approvedAndRejectedCountLikeDenials() {
        var approved = Self.write("/srv/a/1")
        approved.decision = "approved"
        var rejected = Self.write("/srv/a/2")
        rejected.decision = "rejected"
        let result = Self.suggester.suggest([approved, rejected])
        #expect(result.additions.first?.count == 2)
    }
}
