// A running proxy for one test: its own directory (policy, hosts file, allow-lists, audit log),
// listening on 127.0.0.1 with a port the kernel picked, with the approval handler the test
// scripts. Nothing from the machine's environment leaks in (no SENTINEL_* variables).

import Foundation
import SentinelApproval
import SentinelPolicy
import SentinelProxy
import Synchronization

/// An approval handler that answers from a script and remembers what it was asked.
final class ScriptedApprover: ApprovalHandler {
    let name: Approver = "console"
    private let outcome: ApprovalDecision.Outcome
    private let asked = Mutex<[SecurityAlert]>([])

    init(_ outcome: ApprovalDecision.Outcome) {
        self.outcome = outcome
    }

    /// The alerts it answered, in order.
    var alerts: [SecurityAlert] { asked.withLock { $0 } }

    func decide(_ alert: SecurityAlert) async throws -> ApprovalDecision {
        asked.withLock { $0.append(alert) }
        return ApprovalDecision(answer: outcome, approver: name, note: "scripted")
    }
}

/// One audit record, as parsed JSON.
struct Record: @unchecked Sendable {
    // @unchecked: a JSON object parsed once and only read afterwards.
    let json: [String: Any]

    var action: String { json["action"] as? String ?? "" }
    var target: String { json["target"] as? String ?? "" }
    var decision: String { json["decision"] as? String ?? "" }
    var rule: String { json["rule"] as? String ?? "" }
    var reason: String { json["reason"] as? String ?? "" }
    var details: [String: String] { json["details"] as? [String: String] ?? [:] }

    /// Whether this is the decision on a request (`http` or `connect`), not a close or a
    /// lifecycle record.
    var isDecision: Bool { action == "http" || action == "connect" }
    /// Whether this is the close record of an allowed request.
    var isClose: Bool { action == "http_close" || action == "tunnel_close" }
    /// Whether the request was let through (by a rule or a human).
    var isAllowed: Bool { decision == "allow" || decision == "approved" }
}

/// A proxy started for one test.
struct ProxyFixture: Sendable {
    let directory: URL
    let server: ProxyServer
    let port: Int
    let logLines: LogLines

    final class LogLines: Sendable {
        let lines = Mutex<[String]>([])
    }

    var policyPath: String { directory.appendingPathComponent("sentinel.yaml").path }
    var auditPath: String { directory.appendingPathComponent("audit.log").path }

    /// A policy with `allowedHosts` (YAML list items, already indented by four spaces) and the
    /// network settings the test needs.
    static func policy(
        allowedHosts: [String], privateNetwork: Bool = true, blockedHosts: [String] = [], blockedIPs: [String] = []
    ) -> String {
        var text = "allowed_hosts:\n"
        text += allowedHosts.isEmpty ? "  []\n" : allowedHosts.map { "  - \($0)\n" }.joined()
        text += "network_failsafe:\n"
        text += "  allow_private_network: \(privateNetwork)\n"
        text += "  blocked_hosts: [\(blockedHosts.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        text += "  blocked_ips: [\(blockedIPs.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        text += "approval:\n  mode: reject\n  timeout_seconds: 5\n"
        return text
    }

    /// Writes the files and starts the proxy.
    static func start(
        policy: String,
        hosts: [(String, String)] = [],
        allowList: String? = nil,
        approval: any ApprovalHandler = ScriptedApprover(.deny),
        configure: (inout ProxyConfiguration) -> Void = { _ in }
    ) async throws -> ProxyFixture {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sentinel-proxy-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try policy.write(to: directory.appendingPathComponent("sentinel.yaml"), atomically: true, encoding: .utf8)
        let hostsText = hosts.map { "\($0.1) \($0.0)" }.joined(separator: "\n") + "\n"
        try hostsText.write(to: directory.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)

        let logLines = LogLines()
        var configuration = ProxyConfiguration()
        configuration.listener = .tcp(IPAddress(ipv4: 0x7f00_0001), port: 0)
        configuration.policyPath = directory.appendingPathComponent("sentinel.yaml").path
        configuration.hostsFile = directory.appendingPathComponent("hosts").path
        configuration.auditLogPath = directory.appendingPathComponent("audit.log").path
        configuration.environment = [:]
        configuration.approvalHandler = approval
        configuration.threads = 2
        // Short timeouts: a test never waits on the production defaults.
        configuration.connectTimeout = .seconds(2)
        configuration.dnsTimeout = .seconds(2)
        // Long enough for a test task starved by the rest of the suite on 2 cores (a 30 s idle
        // timeout fired before a starved client sent its head, 2026-12-07).
        configuration.idleTimeout = .seconds(120)
        configuration.log = { line in logLines.lines.withLock { $0.append(line) } }
        if let allowList {
            let path = directory.appendingPathComponent("allowed-domains.txt")
            try allowList.write(to: path, atomically: true, encoding: .utf8)
            configuration.allowListFiles = [path.path]
        }
        configure(&configuration)

        let server = ProxyServer(configuration: configuration)
        let listener = try await server.start()
        guard case .tcp(_, let port) = listener else { throw TestNetworkError(description: "not a TCP listener") }
        return ProxyFixture(directory: directory, server: server, port: port, logLines: logLines)
    }

    /// Stops the proxy and removes its directory.
    func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Replaces the policy file (for reload tests).
    func writePolicy(_ text: String) throws {
        try text.write(toFile: policyPath, atomically: true, encoding: .utf8)
    }

    /// Sends one request and reads the whole answer (the proxy closes after each response).
    func request(_ raw: String) async throws -> TestResponse {
        let connection = try await TestConnection.open(port: port)
        defer { Task { await connection.close() } }
        try await connection.send(raw)
        return try await connection.readResponse()
    }

    /// `GET url` in absolute-form, with `extraHeaders` (each `Name: value`).
    func get(_ url: String, host: String? = nil, extraHeaders: [String] = []) async throws -> TestResponse {
        var raw = "GET \(url) HTTP/1.1\r\n"
        if let host { raw += "Host: \(host)\r\n" }
        for header in extraHeaders { raw += header + "\r\n" }
        return try await request(raw + "\r\n")
    }

    /// Opens a CONNECT tunnel to `authority`; returns the connection and the proxy's answer head.
    func connect(_ authority: String, extraHeaders: [String] = []) async throws -> (TestConnection, TestResponse) {
        let connection = try await TestConnection.open(port: port)
        var raw = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        for header in extraHeaders { raw += header + "\r\n" }
        try await connection.send(raw + "\r\n")
        let head = try await connection.readHead()
        return (connection, head)
    }

    /// The audit records so far.
    func records() throws -> [Record] {
        guard let data = FileManager.default.contents(atPath: auditPath) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw TestNetworkError(description: "an audit line is not a JSON object")
            }
            return Record(json: object)
        }
    }

    /// Records of `action`.
    func records(_ action: String) throws -> [Record] {
        try records().filter { $0.action == action }
    }

    /// The records of one client connection (`details.client`), in order.
    func records(client: String) throws -> [Record] {
        try records().filter { $0.details["client"] == client }
    }
}

/// Runs `body` with a proxy and stops it afterwards, whatever happens.
func withProxy<T>(
    policy: String, hosts: [(String, String)] = [], allowList: String? = nil,
    approval: any ApprovalHandler = ScriptedApprover(.deny), configure: (inout ProxyConfiguration) -> Void = { _ in },
    _ body: (ProxyFixture) async throws -> T
) async throws -> T {
    raiseDescriptorLimitOnce
    let fixture = try await ProxyFixture.start(policy: policy, hosts: hosts, allowList: allowList, approval: approval,
                                               configure: configure)
    do {
        let result = try await body(fixture)
        await fixture.stop()
        return result
    } catch {
        await fixture.stop()
        throw error
    }
}

/// Runs `body` with origin servers and stops them afterwards.
func withOrigins<T>(
    _ specs: [(String, TestOrigin.Mode)], _ body: ([TestOrigin]) async throws -> T
) async throws -> T {
    var origins: [TestOrigin] = []
    for (host, mode) in specs { origins.append(try await TestOrigin(host: host, mode: mode)) }
    do {
        let result = try await body(origins)
        for origin in origins { await origin.stop() }
        return result
    } catch {
        for origin in origins { await origin.stop() }
        throw error
    }
}

/// The proxy suites run in parallel with hundreds of tunnels each; a soft RLIMIT_NOFILE of 1024
/// (common on CI machines) would make accept fail with EMFILE and close clients without a word.
let raiseDescriptorLimitOnce: Void = {
    var limit = rlimit()
    if getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }
}()

private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
