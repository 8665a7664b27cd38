// Inspected hosts with real parts: a TLS origin on loopback with a test CA of its own, a name
// mapped by the proxy's hosts file, the proxy's Sentinel CA made in the test's directory, and
// curl and Python's urllib as the agents. Nothing leaves loopback.

import Foundation
import SentinelPolicy
import SentinelProxy
import SentinelTestSupport
import Synchronization
import Testing

@Suite(
    "Proxy: inspected hosts", .serialized,
    .requires(.executable("openssl", package: "openssl")), .requires(.executable("curl", package: "curl")),
    .requires(.executable("python3", package: "python3")))
struct ProxyInspectionTests {
    /// What the proxy injects; it must reach the origin and nothing else.
    static let secret = "ghp_SentinelTestSecret_4f1c9a77"
    static let variable = "SENTINEL_TEST_TOKEN"

    /// The rules under test: GET on /repos/acme/* with the credential; plain.sentinel.test is an
    /// ordinary entry (a plain tunnel).
    static func policy(port: Int) -> String {
        ProxyFixture.policy(allowedHosts: [
            "{host: api.sentinel.test, ports: [\(port)], inspect: true, methods: [GET], paths: [\"/repos/acme/*\"], "
                + "inject: [{header: Authorization, value: \"Bearer ${\(variable)}\"}]}",
            "{host: plain.sentinel.test, ports: [\(port)]}",
        ])
    }

    static let hosts = [("api.sentinel.test", "127.0.0.1"), ("plain.sentinel.test", "127.0.0.1")]

    /// A proxy inspecting api.sentinel.test, a TLS origin for it, and the CA directory.
    static func withInspection<T>(
        environment: [String: String] = [variable: secret], trustOrigin: Bool = true,
        _ body: (ProxyFixture, TestOrigin, String) async throws -> T
    ) async throws -> T {
        let pki = try TestPKI.shared()
        let caDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-ca-\(UUID().uuidString)")
            .appendingPathComponent("ca").path
        defer { try? FileManager.default.removeItem(atPath: (caDirectory as NSString).deletingLastPathComponent) }
        let origin = try await TestOrigin(host: "127.0.0.1", mode: .https(try pki.serverContext()))
        do {
            let result = try await withProxy(policy: policy(port: origin.port), hosts: hosts, configure: { configuration in
                configuration.environment = environment
                configuration.certificateAuthorityDirectory = caDirectory
                configuration.upstreamCAFile = trustOrigin ? pki.caFile : nil
            }) { proxy in
                try await body(proxy, origin, caDirectory)
            }
            await origin.stop()
            return result
        } catch {
            await origin.stop()
            throw error
        }
    }

    /// An agent program sending requests through the proxy.
    enum Agent: String, CaseIterable, Sendable {
        case curl
        case urllib
    }

    /// One answer as the agent saw it.
    struct Answer: Decodable, Sendable {
        var status: Int
        var body: String
    }

    /// Sends `requests` (method, path) to `https://host:port` through the proxy with `agent`, the
    /// agent sending its own `Authorization` header each time, and trusting only `caFile`.
    /// The agent runs on a thread of its own: it waits for the proxy in this process, whose
    /// decisions need the cooperative threads a blocking call would hold.
    static func send(
        _ agent: Agent, _ requests: [(String, String)], host: String, port: Int, proxyPort: Int, caFile: String
    ) async throws -> [Answer] {
        try await onOwnThread {
            try sendBlocking(agent, requests, host: host, port: port, proxyPort: proxyPort, caFile: caFile)
        }
    }

    private static func sendBlocking(
        _ agent: Agent, _ requests: [(String, String)], host: String, port: Int, proxyPort: Int, caFile: String
    ) throws -> [Answer] {
        let base = "https://\(host):\(port)"
        let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        switch agent {
        case .curl:
            return try requests.map { method, path in
                let outcome = try ChildProcess.run("/usr/bin/env", [
                    "curl", "-sS", "--max-time", "20", "--proxy", "http://127.0.0.1:\(proxyPort)", "--cacert", caFile,
                    "-X", method, "-H", "Authorization: token agent-own-key", "-w", "\n%{http_code}",
                ] + (method == "POST" ? ["--data", "{}"] : []) + [base + path], environment: environment, timeout: 60)
                guard outcome.status == 0, let newline = outcome.stdout.lastIndex(of: "\n"),
                      let status = Int(outcome.stdout[outcome.stdout.index(after: newline)...]) else {
                    throw TestNetworkError(description: "curl \(method) \(path) failed (\(outcome.status)): \(outcome.stderr)")
                }
                return Answer(status: status, body: String(outcome.stdout[..<newline]))
            }
        case .urllib:
            let script = """
                import json, ssl, sys, urllib.error, urllib.request
                proxy, cafile, base = sys.argv[1:4]
                context = ssl.create_default_context(cafile=cafile)
                opener = urllib.request.build_opener(
                    urllib.request.ProxyHandler({"https": proxy}), urllib.request.HTTPSHandler(context=context))
                for line in sys.stdin:
                    method, path = line.split()
                    request = urllib.request.Request(base + path, method=method, data=b"{}" if method == "POST" else None,
                                                     headers={"Authorization": "token agent-own-key"})
                    try:
                        with opener.open(request, timeout=20) as response:
                            status, body = response.status, response.read().decode()
                    except urllib.error.HTTPError as error:
                        status, body = error.code, error.read().decode()
                    print(json.dumps({"status": status, "body": body}), flush=True)
                """
            let outcome = try ChildProcess.run(
                "/usr/bin/env", ["python3", "-c", script, "http://127.0.0.1:\(proxyPort)", caFile, base],
                environment: environment, stdin: requests.map { "\($0.0) \($0.1)\n" }.joined(), timeout: 60)
            guard outcome.status == 0 else {
                throw TestNetworkError(description: "python3 urllib failed (\(outcome.status)): \(outcome.stderr)")
            }
            return try outcome.stdout.split(separator: "\n").map {
                try JSONDecoder().decode(Answer.self, from: Data($0.utf8))
            }
        }
    }

    // MARK: - The agent's requests

    @Test("An allowed GET arrives with the injected header; POST and other paths get the 403 sentence",
          arguments: Agent.allCases)
    func requestsAreDecidedAndTheCredentialInjected(_ agent: Agent) async throws {
        try await Self.withInspection { proxy, origin, caDirectory in
            let answers = try await Self.send(
                agent, [("GET", "/repos/acme/widgets?token=query-secret"), ("POST", "/repos/acme/widgets"),
                        ("GET", "/admin/keys")],
                host: "api.sentinel.test", port: origin.port, proxyPort: proxy.port, caFile: caDirectory + "/ca.pem")
            try #require(answers.count == 3)

            // The allowed GET: the origin saw the proxy's credential and not the agent's.
            #expect(answers[0].status == 200, "\(answers[0].body)")
            #expect(answers[0].body.contains("Authorization: Bearer \(Self.secret)"), "\(answers[0].body)")
            #expect(!answers[0].body.contains("agent-own-key"), "the agent's own header was passed on")
            #expect(answers[0].body.contains("GET /repos/acme/widgets?token=query-secret HTTP/1.1"))

            // The refusals come from the proxy, inside the agent's TLS, with the rule and the remedy.
            #expect(answers[1].status == 403)
            #expect(answers[1].body.contains("Rule: allowed_hosts[0].methods"), "\(answers[1].body)")
            #expect(answers[1].body.contains("Add POST to allowed_hosts[0].methods"), "\(answers[1].body)")
            #expect(answers[2].status == 403)
            #expect(answers[2].body.contains("Rule: allowed_hosts[0].paths"), "\(answers[2].body)")
            #expect(answers[2].body.contains("Add \"/admin/keys\""), "\(answers[2].body)")

            // Only the allowed request reached the origin.
            #expect(origin.requests.count == 1, "\(origin.requests)")

            // One record per request, with method, host, path (never the query) and rule.
            let inner = try proxy.records("http").filter { $0.details["proxy_type"] == "inspect" }
            #expect(inner.map(\.decision) == ["allow", "deny", "deny"])
            #expect(inner.map { $0.details["method"] ?? "" } == ["GET", "POST", "GET"])
            #expect(inner.map { $0.details["path"] ?? "" } == ["/repos/acme/widgets", "/repos/acme/widgets", "/admin/keys"])
            #expect(inner.map(\.rule) == ["allowed_hosts[0].paths[0]", "allowed_hosts[0].methods", "allowed_hosts[0].paths"])
            #expect(inner.allSatisfy { $0.details["host"] == "api.sentinel.test" })
            #expect(inner.first?.details["injected"] == "Authorization")
            let connects = try proxy.records("connect")
            #expect(connects.count == 3 && connects.allSatisfy { $0.isAllowed && $0.details["inspect"] == "true" })

            // The credential is nowhere but at the origin: not in a record, not in a log line.
            await proxy.server.shutdown()
            let audit = try String(contentsOfFile: proxy.auditPath, encoding: .utf8)
            #expect(!audit.contains(Self.secret))
            #expect(!audit.contains("query-secret"))
            #expect(!proxy.logLines.lines.withLock { $0 }.joined().contains(Self.secret))
        }
    }

    @Test("A host that is not inspected stays a plain tunnel: the agent sees the origin's own certificate")
    func otherHostsArePlainTunnels() async throws {
        try await Self.withInspection { proxy, origin, _ in
            let pki = try TestPKI.shared()
            // Trusting only the origin's CA: this works only if the proxy did not end the TLS.
            let answers = try await Self.send(.curl, [("DELETE", "/anything")], host: "plain.sentinel.test", port: origin.port,
                                        proxyPort: proxy.port, caFile: pki.caFile)
            #expect(answers.first?.status == 200)
            #expect(answers.first?.body.contains("Authorization: token agent-own-key") == true)
            #expect(answers.first?.body.contains(Self.secret) == false)
            #expect(try proxy.records("http").isEmpty, "a tunnel's requests are not read")
            let connect = try #require(try proxy.records("connect").first)
            #expect(connect.isAllowed && connect.details["inspect"] == nil)
        }
    }

    @Test("The proxy verifies the destination: without --upstream-ca the test origin is refused with 502")
    func theUpstreamCertificateIsVerified() async throws {
        try await Self.withInspection(trustOrigin: false) { proxy, origin, _ in
            let (connection, head) = try await proxy.connect("api.sentinel.test:\(origin.port)")
            await connection.close()
            #expect(head.status == 502)
            #expect(head["x-sentinel-rule"] == "builtin:upstream-tls")
            #expect(head["x-sentinel-reason"]?.contains("--upstream-ca") == true)
            #expect(origin.requests.isEmpty)
            try await eventually("the tunnel's close record") { try !proxy.records("tunnel_close").isEmpty }
            let close = try #require(try proxy.records("tunnel_close").first)
            #expect(close.details["status"] == "502")
        }
    }

    @Test("A plain http:// request to an inspected host is decided by the same rules; a credential never goes in clear",
          arguments: [
              ("GET", "/repos/acme/widgets", "builtin:inspect-plaintext"),
              ("DELETE", "/repos/acme/widgets", "allowed_hosts[0].methods"),
              ("GET", "/admin", "allowed_hosts[0].paths"),
          ])
    func plainHTTPToAnInspectedHost(_ method: String, _ path: String, _ rule: String) async throws {
        try await Self.withInspection { proxy, origin, _ in
            let answer = try await proxy.request(
                "\(method) http://api.sentinel.test:\(origin.port)\(path) HTTP/1.1\r\nHost: api.sentinel.test\r\n\r\n")
            #expect(answer.status == 403)
            #expect(answer["x-sentinel-rule"] == rule)
            #expect(origin.accepted == 0, "nothing may reach the destination")
            let record = try #require(try proxy.records("http").first)
            #expect(record.rule == rule && record.details["path"] == path && record.details["inspect"] == "true")
        }
    }

    // MARK: - Starting

    @Test("An inject variable missing from the proxy's environment stops the proxy from starting, naming it",
          arguments: [[String: String](), [variable: ""]])
    func aMissingVariableIsAnErrorAtStart(_ environment: [String: String]) async throws {
        let error = await #expect(throws: ProxyError.self) {
            try await Self.withInspection(environment: environment) { _, _, _ in }
        }
        #expect(error?.code == .injection)
        #expect(error?.message.contains(Self.variable) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("allowed_hosts[0].inject[0]") == true)
    }
}
