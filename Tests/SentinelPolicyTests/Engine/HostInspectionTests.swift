import Testing
@testable import SentinelPolicy

/// Inspected `allowed_hosts` entries: the loader reads `inspect`, `methods`, `paths` and `inject`
/// and refuses what could not be kept (a rule without `inspect`, a credential for a wildcard);
/// the engine decides a request by its method and its normalised path, with a denial that names
/// the rule and what to add.
@Suite struct HostInspectionTests {
    static func load(_ hosts: String) throws -> Policy {
        let document = try PolicyLoader(environment: [:]).parse("allowed_hosts:\n" + hosts)
        return try Policy(document: document, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        let entry: String
        /// Where the error points.
        let keyPath: String
        /// Text the message must hold.
        let says: String
        var testDescription: String { entry }
    }

    static let refused: [Refused] = [
        Refused(entry: "{host: api.github.com, methods: [GET]}", keyPath: "allowed_hosts[0].methods",
                says: "needs `inspect: true`"),
        Refused(entry: "{host: api.github.com, paths: [/repos/*]}", keyPath: "allowed_hosts[0].paths",
                says: "needs `inspect: true`"),
        Refused(entry: "{host: api.github.com, inspect: false, inject: [{header: Authorization, value: x}]}",
                keyPath: "allowed_hosts[0].inject", says: "needs `inspect: true`"),
        Refused(entry: "{host: api.github.com, inspect: true, methods: []}", keyPath: "allowed_hosts[0].methods",
                says: "empty"),
        Refused(entry: "{host: api.github.com, inspect: true, methods: [\"GE T\"]}",
                keyPath: "allowed_hosts[0].methods[0]", says: "not an HTTP method"),
        Refused(entry: "{host: api.github.com, inspect: true, paths: [repos/*]}", keyPath: "allowed_hosts[0].paths[0]",
                says: "starts with /"),
        Refused(entry: "{host: api.github.com, inspect: true, paths: [\"/a[b\"]}", keyPath: "allowed_hosts[0].paths[0]",
                says: "["),
        Refused(entry: "{host: api.github.com, inspect: true, paths: [\"/search?q=*\"]}",
                keyPath: "allowed_hosts[0].paths[0]", says: "query"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Host, value: x}]}",
                keyPath: "allowed_hosts[0].inject[0].header", says: "cannot be injected"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Proxy-Authorization, value: x}]}",
                keyPath: "allowed_hosts[0].inject[0].header", says: "cannot be injected"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Authorization}]}",
                keyPath: "allowed_hosts[0].inject[0]", says: "both `header` and `value`"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Authorization, value: \"Bearer ${GITHUB TOKEN}\"}]}",
                keyPath: "allowed_hosts[0].inject[0].value", says: "does not name an environment variable"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Authorization, value: \"Bearer ${TOKEN\"}]}",
                keyPath: "allowed_hosts[0].inject[0].value", says: "no closing"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: Authorization, value: \"a\\nb\"}]}",
                keyPath: "allowed_hosts[0].inject[0].value", says: "control character"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: X-Key, value: a}, {header: x_key, value: b}]}",
                keyPath: "allowed_hosts[0].inject[1].header", says: "injected twice"),
        Refused(entry: "{host: api.github.com, inspect: true, inject: [{header: X-Key, value: a, as: b}]}",
                keyPath: "allowed_hosts[0].inject[0]", says: "is not a key"),
        Refused(entry: "{host: \"*.github.com\", inspect: true, inject: [{header: Authorization, value: x}]}",
                keyPath: "allowed_hosts[0].inject", says: "names one host"),
        Refused(entry: "{host: .github.com, inspect: true, inject: [{header: Authorization, value: x}]}",
                keyPath: "allowed_hosts[0].inject", says: "names one host"),
        Refused(entry: "{host: github.com, match: subdomain, inspect: true, inject: [{header: Authorization, value: x}]}",
                keyPath: "allowed_hosts[0].inject", says: "names one host"),
        Refused(entry: "{host: api.github.com, inspect: maybe}", keyPath: "allowed_hosts[0].inspect",
                says: "true or false"),
    ]

    @Test(arguments: refused)
    func refusedEntries(_ refused: Refused) throws {
        let error = try #require(throws: PolicyError.self) { try Self.load("  - \(refused.entry)\n") }
        #expect(error.keyPath == refused.keyPath, "\(error)")
        #expect(error.description.contains(refused.says), "\(error)")
        #expect(error.location != nil, "an error without a line: \(error)")
    }

    @Test func anInspectedEntryIsReadWhole() throws {
        let policy = try Self.load("""
              - pypi.org
              - host: api.github.com
                inspect: yes
                methods: [get, POST]
                paths: ["/repos/acme/*", /user]
                inject:
                  - {header: Authorization, value: "Bearer ${GITHUB_TOKEN}"}

            """)
        #expect(policy.inspection(forRule: "allowed_hosts[0]") == nil)
        let inspection = try #require(policy.inspection(forRule: "allowed_hosts[1]"))
        #expect(inspection.methods?.map(\.value) == ["GET", "POST"])
        #expect(inspection.paths?.map(\.value) == ["/repos/acme/*", "/user"])
        #expect(inspection.inject.map(\.header) == ["Authorization"])
        #expect(inspection.inject.first?.variables == ["GITHUB_TOKEN"])
        #expect(inspection.inject.first?.parts == [.literal("Bearer "), .variable("GITHUB_TOKEN")])
        #expect(policy.inspectedHosts.map(\.keyPath) == ["allowed_hosts[1]"])
    }

    struct Request: Sendable, CustomTestStringConvertible {
        let method: String
        let path: String
        /// The rule of the verdict.
        let rule: String
        let allowed: Bool
        /// Text the reason (and, for a denial, the remedy) must hold.
        let says: String
        var testDescription: String { "\(method) \(path)" }
    }

    static let requests: [Request] = [
        Request(method: "GET", path: "/repos/acme/widgets", rule: "allowed_hosts[0].paths[0]", allowed: true, says: "GET"),
        Request(method: "get", path: "/repos/acme/widgets/issues/3", rule: "allowed_hosts[0].paths[0]", allowed: true,
                says: "/repos/acme/widgets/issues/3"),
        Request(method: "POST", path: "/v1/chat/completions", rule: "allowed_hosts[0].paths[1]", allowed: true, says: "POST"),
        Request(method: "GET", path: "/repos/%61cme/widgets", rule: "allowed_hosts[0].paths[0]", allowed: true,
                says: "/repos/acme/widgets"),
        Request(method: "DELETE", path: "/repos/acme/widgets", rule: "allowed_hosts[0].methods", allowed: false,
                says: "Add DELETE to allowed_hosts[0].methods"),
        Request(method: "GET", path: "/repos/evil/widgets", rule: "allowed_hosts[0].paths", allowed: false,
                says: "Add \"/repos/evil/widgets\""),
        Request(method: "GET", path: "/repos/acme", rule: "allowed_hosts[0].paths", allowed: false, says: "matches none"),
        Request(method: "GET", path: "/repos/acme/../evil/x", rule: "builtin:inspect-path", allowed: false, says: ".. segment"),
        Request(method: "GET", path: "/repos/acme/%2e%2e/evil/x", rule: "builtin:inspect-path", allowed: false,
                says: ".. segment"),
        Request(method: "GET", path: "/repos/acme/a%2Fb", rule: "builtin:inspect-path", allowed: false, says: "encoded /"),
        Request(method: "GET", path: "/repos/acme\\x", rule: "builtin:inspect-path", allowed: false, says: "backslash"),
        Request(method: "GET", path: "/repos/acme/%zz", rule: "builtin:inspect-path", allowed: false, says: "hexadecimal"),
        Request(method: "GET", path: "*", rule: "builtin:inspect-path", allowed: false, says: "start with /"),
    ]

    @Test(arguments: requests)
    func requestsAreDecidedByMethodAndPath(_ request: Request) throws {
        let policy = try Self.load("""
              - {host: api.example.com, inspect: true, methods: [GET, POST], paths: ["/repos/acme/*", /v1/chat/completions]}

            """)
        let inspection = try #require(policy.inspection(forRule: "allowed_hosts[0]"))
        let verdict = inspection.check(method: request.method, path: request.path)
        #expect(verdict.isAllowed == request.allowed, "\(verdict.reason)")
        #expect(verdict.rule == request.rule)
        #expect((verdict.reason + " " + (verdict.remedy ?? "")).contains(request.says), "\(verdict.reason) \(verdict.remedy ?? "")")
    }

    @Test func anEntryWithoutMethodsOrPathsAllowsEveryRequest() throws {
        let policy = try Self.load("  - {host: api.example.com, inspect: true}\n")
        let verdict = try #require(policy.inspection(forRule: "allowed_hosts[0]")).check(method: "PATCH", path: "/x")
        #expect(verdict.isAllowed)
        #expect(verdict.rule == "allowed_hosts[0]")
    }

    struct Rendering: Sendable, CustomTestStringConvertible {
        let environment: [String: String]
        let value: String?
        let missing: String?
        var testDescription: String { environment.keys.sorted().joined(separator: ",") }
    }

    @Test(arguments: [
        Rendering(environment: ["T": "abc", "U": "x"], value: "Bearer abc/x$", missing: nil),
        Rendering(environment: ["U": "x"], value: nil, missing: "T"),
        Rendering(environment: ["T": "", "U": "x"], value: nil, missing: "T"),
        Rendering(environment: ["T": "a\r\nX-Evil: 1", "U": "x"], value: nil, missing: "T"),
    ])
    func valuesAreRenderedFromTheEnvironment(_ rendering: Rendering) throws {
        let item = try HeaderInjection(header: "Authorization", template: "Bearer ${T}/${U}$", keyPath: "k")
        switch item.render(rendering.environment) {
        case .success(let value):
            #expect(value == rendering.value)
        case .failure(let missing):
            #expect(missing.name == rendering.missing)
            #expect(rendering.value == nil)
        }
    }
}
