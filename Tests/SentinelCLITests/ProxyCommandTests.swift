// `sentinel proxy` as a process: the Unix-socket listener the native sandbox's relay connects
// to, SIGHUP reloading the policy, SIGTERM stopping cleanly, and bad arguments refused.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("sentinel proxy: the command, its signals and its Unix socket", .serialized)
struct ProxyCommandTests {
    static let binary: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sentinel").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug/sentinel"
    }()

    static func policy(blocked: [String]) -> String {
        """
        allowed_hosts:
          - {host: a.test, ports: [9]}
        network_failsafe:
          allow_private_network: true
          blocked_hosts: [\(blocked.map { "\"\($0)\"" }.joined(separator: ", "))]
        approval:
          mode: reject
          timeout_seconds: 5
        """
    }

    /// Sends one request over the Unix socket and returns the whole answer (the proxy closes it).
    static func ask(_ path: String, _ request: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(connected == 0, "connect to \(path): errno \(errno)")
        let bytes = Array(request.utf8)
        try #require(send(fd, bytes, bytes.count, 0) == bytes.count)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test("SIGHUP reloads the policy (and a broken one is refused), SIGTERM stops; the socket is 0600")
    func signals() async throws {
        var template = Array("/tmp/sentinel-proxy-cli-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: base) }
        try Self.policy(blocked: []).write(toFile: base + "/sentinel.yaml", atomically: true, encoding: .utf8)
        try "127.0.0.4 a.test\n".write(toFile: base + "/hosts", atomically: true, encoding: .utf8)
        let socketPath = base + "/proxy.sock"

        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["proxy", "--unix", socketPath, "--policy", base + "/sentinel.yaml",
                             "--hosts-file", base + "/hosts", "--audit-log", base + "/audit.log"]
        process.environment = ["PATH": "/usr/bin:/bin", "SENTINEL_APPROVAL_MODE": "reject"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: socketPath), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        var status = stat()
        try #require(stat(socketPath, &status) == 0, "the proxy did not create its socket")
        #expect(status.st_mode & 0o777 == 0o600)

        // Allowed by the first policy: nothing listens on 127.0.0.4:9, so the answer is 502.
        let request = "CONNECT a.test:9 HTTP/1.1\r\n\r\n"
        #expect(try Self.ask(socketPath, request).hasPrefix("HTTP/1.1 502"))

        // A broken policy and SIGHUP: refused, the running policy stays.
        try "allowed_hosts: [oops\n".write(toFile: base + "/sentinel.yaml", atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        var refusedLogged = false
        for _ in 0..<1000 where !refusedLogged {
            let audit = (try? String(contentsOfFile: base + "/audit.log", encoding: .utf8)) ?? ""
            refusedLogged = audit.contains("Reload refused")
            if !refusedLogged { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(refusedLogged)
        #expect(try Self.ask(socketPath, request).hasPrefix("HTTP/1.1 502"))

        // A valid policy that blocks the host and SIGHUP: the next request is refused.
        try Self.policy(blocked: ["a.test"]).write(toFile: base + "/sentinel.yaml", atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        var answer = ""
        for _ in 0..<1000 {
            answer = try Self.ask(socketPath, request)
            if answer.hasPrefix("HTTP/1.1 403") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(answer.hasPrefix("HTTP/1.1 403"))
        #expect(answer.lowercased().contains("x-sentinel-rule: network_failsafe.blocked_hosts[0]"))

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
        let audit = try String(contentsOfFile: base + "/audit.log", encoding: .utf8)
        #expect(audit.contains("\"action\":\"proxy_stop\""))
        #expect(audit.contains("\"action\":\"proxy_reload\""))
        // A proxy run by hand makes its run id, stamps it on every record and says where they are.
        let said = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let run = try #require(said.firstMatch(of: /sentinel proxy: records of run ([0-9a-f]{16}) in (\S+);/), "\(said)")
        #expect(run.2 == base + "/audit.log")
        let lines = audit.split(separator: "\n")
        #expect(lines.allSatisfy { $0.contains("\"run\":\"\(run.1)\"") }, "\(audit)")
    }

    @Test("arguments that cannot work are refused with exit status 2",
          arguments: [["--listen", "localhost:3128"], ["--listen", "127.0.0.1"], ["--dns-server", "dns.example:53"],
                      ["--listen", "127.0.0.1:0", "--unix", "/tmp/x.sock"], ["--policy", "/nonexistent/sentinel.yaml"]])
    func badArguments(_ arguments: [String]) throws {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["proxy"] + arguments
        process.environment = ["PATH": "/usr/bin:/bin"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2, "\(arguments): \(stderr)")
        #expect(!stderr.isEmpty)
    }
}
