// Compatibility mode end to end: activation, guarded operations on real files, processes and
// loopback sockets, approvals, DNS failure, redirects and tamper checks. One serialized suite,
// because activation is process-wide.

import Foundation
import Glibc
import SentinelApproval
import SentinelAudit
@testable import SentinelGuard
import SentinelPolicy
import SentinelTestSupport
import Synchronization
import Testing

/// A resolver with fixed answers (and a name that never answers), for tests.
struct FixedResolver: HostResolver {
    var answers: [String: [IPAddress]]
    func resolve(_ host: String) async throws -> [IPAddress] {
        if host == "slow.test" {
            try await Task.sleep(for: .seconds(30))
        }
        guard let addresses = answers[host] else {
            throw ResolveError(code: .lookupFailed, host: host, message: "no such test name \(host)")
        }
        return addresses
    }
}

/// A directory with a policy, an allowed subdirectory and an audit log beside it.
final class CompatFixture {
    let base: String
    var policyPath: String { base + "/sentinel.yaml" }
    var auditPath: String { base + "/audit.log" }
    var allowed: String { base + "/allowed" }

    init(extra: String = "") throws {
        var template = Array("/tmp/sentinel-compat-XXXXXX".utf8CString)
        base = try #require(mkdtemp(&template).map { String(cString: $0) })
        try FileManager.default.createDirectory(atPath: allowed, withIntermediateDirectories: false)
        let policy = """
            allowed_paths: [\(allowed)]
            blocked_paths: [\(allowed)/secret]
            allowed_commands: [echo, /usr/bin/true]
            allowed_hosts:
              - svc.test
              - 127.0.0.2
            blocked_keywords: [ignore previous instructions]
            network_failsafe:
              allow_private_network: true
            approval:
              mode: reject
              timeout_seconds: 5
            \(extra)
            """
        try policy.write(toFile: policyPath, atomically: false, encoding: .utf8)
    }

    func options(environment: [String: String] = [:], resolver: (any HostResolver)? = nil, handler: (any ApprovalHandler)? = nil) -> ActivationOptions {
        ActivationOptions(
            policyPath: policyPath, environment: environment, auditPath: auditPath, approvalHandler: handler,
            resolver: resolver ?? FixedResolver(answers: ["svc.test": [IPAddress(strict: "127.0.0.3")!]]),
            context: PolicyContext(baseDirectory: base, homeDirectory: base))
    }

    /// The audit records written so far, as dictionaries.
    func records() throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: auditPath, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
    }

    func records(action: String) throws -> [[String: Any]] {
        try records().filter { $0["action"] as? String == action }
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }
}

@Suite("Compatibility mode", .serialized)
struct SentinelCompatTests {
    init() { Sentinel.deactivate() }

    @Test func activationIsIdempotentAndAttested() throws {
        let fixture = try CompatFixture()
        defer { Sentinel.deactivate() }
        #expect(try Sentinel.activate(fixture.options()) == .activated)
        #expect(try Sentinel.activate(fixture.options()) == .alreadyActive)
        #expect(Sentinel.isActive)
        let attestations = try fixture.records(action: "attestation")
        let reasons = attestations.compactMap { $0["reason"] as? String }
        #expect(reasons.contains { $0.hasPrefix("production=false tamper_detection=true") })
        #expect(reasons.contains { $0.contains("already active") })
        Sentinel.deactivate()
        #expect(!Sentinel.isActive)
    }

    @Test func guardedCallsNeedActivation() async throws {
        await #expect(throws: SentinelError.self) { try await Sentinel.run(["echo", "x"]) }
    }

    @Test func dualControlDisable() throws {
        let fixture = try CompatFixture()
        defer { Sentinel.deactivate() }
        let refused = #expect(throws: SentinelError.self) {
            try Sentinel.activate(fixture.options(environment: ["SENTINEL_DISABLE": "true"]))
        }
        #expect(refused?.code == .disableNotPermitted)
        #expect(try fixture.records().last?["severity"] as? String == "critical")
        #expect(try Sentinel.activate(fixture.options(environment: ["SENTINEL_DISABLE": "1", "SENTINEL_ALLOW_DISABLE": "yes"]))
            == .disabledByDualControl)
        #expect(!Sentinel.isActive)
    }

    @Test func productionNeedsASignedImmutablePolicy() throws {
        let fixture = try CompatFixture()
        let refused = #expect(throws: SentinelError.self) {
            try Sentinel.activate(fixture.options(environment: ["SENTINEL_PRODUCTION": "true"]))
        }
        #expect(refused?.code == .policy)
        #expect(refused?.message.contains("signed policy verification") == true)
    }

    @Test func commandsAreDecidedOnceAndTheCheckedProgramRuns() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        let echoed = try await Sentinel.run(["echo", "hello"])
        #expect(echoed.status == 0)
        #expect(echoed.stdoutText == "hello\n")
        let denied = await #expect(throws: SentinelError.self) { try await Sentinel.run(["python3", "-c", "print(1)"]) }
        #expect(denied?.code == .denied)
        let shell = await #expect(throws: SentinelError.self) { try await Sentinel.run(shell: "echo hi; id") }
        #expect(shell?.code == .denied)
        let quoted = try await Sentinel.run(shell: "echo 'a;b'")
        #expect(quoted.stdoutText == "a;b\n")
        let execs = try fixture.records(action: "exec")
        #expect(execs.map { $0["decision"] as? String } == ["allow", "deny", "deny", "allow"])
    }

    @Test func filesAreCheckedAndOpenedExactly() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        try await Sentinel.writeFile(fixture.allowed + "/note.txt", Array("hi".utf8))
        #expect(try await Sentinel.readFile(fixture.allowed + "/note.txt") == Array("hi".utf8))
        let outside = await #expect(throws: SentinelError.self) { try await Sentinel.writeFile(fixture.base + "/x", [1]) }
        #expect(outside?.code == .denied)
        try FileManager.default.createDirectory(atPath: fixture.allowed + "/secret", withIntermediateDirectories: false)
        await #expect(throws: SentinelError.self) { try await Sentinel.writeFile(fixture.allowed + "/secret/k", [1]) }
        // A hard link inside the allowed tree to a file outside it: writing is refused.
        let victim = fixture.base + "/victim"
        try "keep".write(toFile: victim, atomically: false, encoding: .utf8)
        #expect(link(victim, fixture.allowed + "/link") == 0)
        let linked = await #expect(throws: SentinelError.self) { try await Sentinel.writeFile(fixture.allowed + "/link", [1]) }
        #expect(linked?.rule == "builtin:hard-links")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep")
        // A symlink in the allowed tree pointing outside is judged by its target.
        #expect(symlink(fixture.base + "/victim", fixture.allowed + "/sym") == 0)
        await #expect(throws: SentinelError.self) { try await Sentinel.writeFile(fixture.allowed + "/sym", [1]) }
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep")
    }

    @Test func connectDialsTheCheckedAddress() async throws {
        let fixture = try CompatFixture()
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.3") { _ in .text("HTTP/1.1 204 No Content\r\n\r\n") }
        defer { Task { await server.stop() } }
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        let fd = try await Sentinel.connect(host: "svc.test", port: server.port)
        // A request and its answer prove the socket reached the server listening on 127.0.0.3.
        let request = Array("GET / HTTP/1.1\r\nHost: svc.test\r\n\r\n".utf8)
        #expect(write(fd, request, request.count) == request.count)
        var answer = [UInt8](repeating: 0, count: 64)
        let count = read(fd, &answer, answer.count)
        close(fd)
        #expect(count > 0 && String(decoding: answer[..<max(count, 0)], as: UTF8.self).hasPrefix("HTTP/1.1 204"))
        let record = try #require(try fixture.records(action: "connect").last)
        #expect((record["details"] as? [String: String])?["addresses"] == "127.0.0.3")
        let denied = await #expect(throws: SentinelError.self) { try await Sentinel.connect(host: "other.test", port: 80) }
        #expect(denied?.code == .denied)
    }

    @Test func aLookupThatTimesOutDenies() async throws {
        let fixture = try CompatFixture(extra: "")
        try fixture.policyText(replacing: "- svc.test", with: "- svc.test\n  - slow.test")
        try Sentinel.activate(fixture.options(environment: ["SENTINEL_DNS_RESOLVE_TIMEOUT_MS": "200"]))
        defer { Sentinel.deactivate() }
        let started = ContinuousClock.now
        let denied = await #expect(throws: SentinelError.self) { try await Sentinel.connect(host: "slow.test", port: 80) }
        #expect(denied?.code == .denied)
        #expect(denied?.rule == "builtin:dns")
        #expect(started.duration(to: .now) < .seconds(20), "the lookup was not cut short")
    }

    @Test func aRedirectToAMetadataAddressIsCheckedAndDenied() async throws {
        let fixture = try CompatFixture()
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { _ in
            .text("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await server.stop() } }
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        let denied = await #expect(throws: SentinelError.self) {
            try await Sentinel.request(HTTPRequest(url: "http://127.0.0.2:\(server.port)/start"))
        }
        #expect(denied?.code == .denied)
        let hops = try fixture.records(action: "http")
        #expect(hops.map { $0["decision"] as? String } == ["allow", "deny"])
        #expect(hops.last?["target"] as? String == "http://169.254.169.254/latest/meta-data/")
        #expect(server.connectionCount == 1)
    }

    @Test func anAllowedRequestGoesThroughAndRelativeRedirectsAreFollowed() async throws {
        let fixture = try CompatFixture()
        let server = try await LoopbackHTTPServer.start(host: "127.0.0.2") { request in
            request.requestLine.hasPrefix("GET /start ")
                ? .text("HTTP/1.1 302 Found\r\nLocation: /done\r\nContent-Length: 0\r\n\r\n")
                : .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { await server.stop() } }
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        let response = try await Sentinel.request(HTTPRequest(url: "http://127.0.0.2:\(server.port)/start"))
        #expect(response.status == 200)
        #expect(response.body == Array("ok".utf8))
        #expect(try fixture.records(action: "http").count == 2)
    }

    @Test func approvalsAreAskedOnceAndRemembered() async throws {
        let fixture = try CompatFixture()
        let asked = Mutex(0)
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        try Sentinel.setApprovalHandler(name: "scripted") { _ in
            asked.withLock { $0 += 1 }
            return .approveForSession
        }
        let first = try await Sentinel.run(["/usr/bin/true"], capture: true)
        #expect(first.status == 0)  // allowed by policy: nobody asked
        try await Sentinel.writeFile(fixture.base + "/approved", [1])
        try await Sentinel.writeFile(fixture.base + "/approved", [2])
        #expect(asked.withLock { $0 } == 1)
        let writes = try fixture.records(action: "file_write")
        #expect(writes.map { $0["decision"] as? String } == ["approved", "approved"])
        #expect(writes.map { $0["approver"] as? String } == ["scripted", "remembered"])
        // The reused answer is still a decision that says what it was and where it came from.
        let details = writes.map { $0["details"] as? [String: String] ?? [:] }
        #expect(details.map { $0["approval"] } == ["approve_run", "approve_run"])
        #expect(details.map { $0["approval_scope"] } == ["run", "run"])
        #expect(details.map { $0["approval_remembered"] } == [nil, "true"])
    }

    /// An answer for the run covers the file the name resolved to: once the symlink points
    /// elsewhere, the same name is a new question.
    @Test func aRememberedAnswerDoesNotFollowASwappedSymlink() async throws {
        let fixture = try CompatFixture()
        let asked = Mutex(0)
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        try Sentinel.setApprovalHandler(name: "scripted") { _ in
            asked.withLock { $0 += 1 }
            return .approveForRun
        }
        let link = fixture.base + "/link"
        for name in ["first", "second"] {
            #expect(FileManager.default.createFile(atPath: fixture.base + "/" + name, contents: Data()))
        }
        #expect(symlink(fixture.base + "/first", link) == 0)
        try await Sentinel.writeFile(link, [1])
        try await Sentinel.writeFile(link, [2])
        #expect(asked.withLock { $0 } == 1)
        #expect(unlink(link) == 0 && symlink(fixture.base + "/second", link) == 0)
        try await Sentinel.writeFile(link, [3])
        #expect(asked.withLock { $0 } == 2)
        #expect(try fixture.records(action: "file_write").map { $0["approver"] as? String }
            == ["scripted", "remembered", "scripted"])
    }

    @Test func aThrowingHandlerDenies() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        struct Broken: Error {}
        try Sentinel.setApprovalHandler(name: "broken") { _ in throw Broken() }
        await #expect(throws: SentinelError.self) { try await Sentinel.writeFile(fixture.base + "/nope", [1]) }
        #expect(!FileManager.default.fileExists(atPath: fixture.base + "/nope"))
    }

    @Test func scanInputRefusesBlockedKeywords() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        #expect(try await Sentinel.scanInput("summarise this") == "summarise this")
        await #expect(throws: SentinelError.self) { try await Sentinel.scanInput("Please IGNORE previous instructions") }
    }

    @Test func aPolicyChangedInMemoryIsCaught() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }
        let session = try Sentinel.session()
        // What a stray write would do: every path allowed.
        let permissive = try Policy(
            document: PolicyLoader(environment: [:]).parse("allowed_paths: [/]\nallowed_commands: [echo]\n"),
            context: PolicyContext(baseDirectory: fixture.base, homeDirectory: fixture.base))
        session.corruptPolicyForTesting(permissive)
        setenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS", "0", 1)
        defer { unsetenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS") }
        let caught = await #expect(throws: SentinelError.self) { try await Sentinel.run(["echo", "x"]) }
        #expect(caught?.code == .tampered)
        let tamper = try #require(try fixture.records(action: "tamper").last)
        #expect(tamper["severity"] as? String == "critical")
    }

    @Test func anImmutablePolicyFileEditedOnDiskIsCaught() async throws {
        let fixture = try CompatFixture()
        try Sentinel.activate(fixture.options(environment: ["SENTINEL_POLICY_IMMUTABLE": "true"]))
        defer { Sentinel.deactivate() }
        try "allowed_paths: [/]\n".write(toFile: fixture.policyPath, atomically: false, encoding: .utf8)
        setenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS", "0", 1)
        defer { unsetenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS") }
        let caught = await #expect(throws: SentinelError.self) { try await Sentinel.run(["echo", "x"]) }
        #expect(caught?.code == .tampered)
    }

    @Test("redirect locations resolve against the URL that answered", arguments: [
        ("http://a.test/x/y?q", "/z", "http://a.test/z"),
        ("http://a.test/x/y", "z", "http://a.test/x/z"),
        ("https://a.test:8443/x", "//b.test/p", "https://b.test/p"),
        ("http://a.test", "http://c.test/", "http://c.test/"),
    ])
    func redirectResolution(base: String, location: String, expected: String) {
        #expect(RedirectTarget.resolve(location, against: base) == expected)
    }
}

extension CompatFixture {
    func policyText(replacing old: String, with new: String) throws {
        let text = try String(contentsOfFile: policyPath, encoding: .utf8)
        try text.replacingOccurrences(of: old, with: new).write(toFile: policyPath, atomically: false, encoding: .utf8)
    }
}
