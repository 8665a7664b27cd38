import Foundation
import Glibc
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSupervisor
import SentinelTestSupport
import Testing

/// One guarded run in a fresh directory: `ws/` is the allowed workspace, `out/` is outside it.
struct GuardHarness {
    let root: String
    var workspace: String { root + "/ws" }
    var outside: String { root + "/out" }
    var auditPath: String { root + "/audit.log" }

    init() throws {
        let template = FileManager.default.temporaryDirectory.path + "/sentinel-guard-test-XXXXXX"
        var buffer = Array(template.utf8CString)
        let made = buffer.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made))
        try FileManager.default.createDirectory(atPath: root + "/ws", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `text` to `name` under the root.
    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
    }

    /// Runs `command` under the guard with the policy `yaml` (relative entries resolve against
    /// the root) and the approval `handler`; returns the exit and the audit records.
    func run(
        _ command: [String], policy yaml: String, handler: any ApprovalHandler = RejectApprovalHandler(),
        trustedEndpoints: Set<IPEndpoint> = [], auditLockTimeout: Duration = .seconds(10), explainRefusals: Bool = true,
        hangAfter seconds: Double = 60
    ) async throws -> (exit: GuardExit, records: [[String: Any]], statistics: SupervisorStatistics) {
        let document = try PolicyLoader().parse(yaml)
        let policy = try Policy(document: document, context: PolicyContext(baseDirectory: root, homeDirectory: root))
        let log = try AuditLog(path: auditPath, options: .init(lockTimeout: auditLockTimeout))
        let pipeline = DecisionPipeline(
            mode: .guard, policySHA256: String(repeating: "0", count: 64), audit: log,
            approvals: ApprovalBroker(handler: handler, timeout: .seconds(30)))
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        let session = try GuardSession.start(command, options: GuardOptions(
            policy: policy, pipeline: pipeline, environment: environment, trustedEndpoints: trustedEndpoints,
            explainRefusals: explainRefusals))
        let watchdog = Watchdog(pid: session.processID, after: seconds)
        let exit = await session.waitForExit()
        #expect(!watchdog.cancel(), "the guarded command hung and was killed")
        let statistics = session.statistics
        log.close()
        return (exit, try records(), statistics)
    }

    /// The audit records, parsed.
    func records() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: auditPath, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    /// The records for `action` on `target`.
    static func records(_ records: [[String: Any]], action: String, target: String) -> [[String: Any]] {
        records.filter { $0["action"] as? String == action && $0["target"] as? String == target }
    }

    /// Lines `name: result` the test programs write to `ws/results.txt`.
    func results() throws -> [String: String] {
        let text = try String(contentsOfFile: workspace + "/results.txt", encoding: .utf8)
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { result[parts[0]] = parts[1] }
        }
        return result
    }
}

/// A TCP listener on a loopback address the test chooses (127.0.0.x), on a free port.
final class LoopbackListener {
    let fd: Int32
    private(set) var port: UInt16 = 0

    init(address: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        try #require(fd >= 0)
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = 0
        inet_pton(AF_INET, address, &socketAddress.sin_addr)
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0, "cannot bind \(address): \(String(cString: strerror(errno)))")
        try #require(listen(fd, 16) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: socketAddress.sin_port)
    }

    deinit { close(fd) }
}

/// The machine can run the guard: seccomp user notification with ADDFD (Linux 5.14).
let guardAvailable = MachineRequirement(missing: "needs seccomp user notification (Linux 5.14)") {
    var name = utsname()
    uname(&name)
    let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let parts = release.split(separator: ".").prefix(2).compactMap { Int($0.prefix { $0.isNumber }) }
    return parts.count == 2 && (parts[0], parts[1]) >= (5, 14)
}

/// Python at a fixed path (the guard trusts only the first exec, so a pyenv shim that execs the
/// real interpreter would be refused: the test must start the interpreter itself).
let python = "/usr/bin/python3"
let pythonAvailable = MachineRequirement(missing: "needs /usr/bin/python3 (Debian package python3)") {
    access(python, X_OK) == 0
}
