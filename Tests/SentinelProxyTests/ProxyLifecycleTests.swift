// Report-only, reload, timeouts and resource use: the proxy as a long-running process.

import Foundation
import SentinelApproval
import SentinelProxy
import Synchronization
import Testing

@Suite("Proxy: report-only, reload, idle timeout, no descriptor leak")
struct ProxyLifecycleTests {
    @Test("report-only lets names and ports the policy denies through, records them, and still blocks addresses")
    func reportOnly() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: [], blockedHosts: ["blocked.test"])
            let hosts = [("unknown.test", "127.0.0.2"), ("blocked.test", "127.0.0.2"), ("metadata.test", "169.254.169.254")]
            let approver = ScriptedApprover(.deny)
            try await withProxy(policy: policy, hosts: hosts, approval: approver,
                                configure: { $0.reportOnly = true }) { proxy in
                for name in ["unknown.test", "blocked.test"] {
                    let (connection, head) = try await proxy.connect("\(name):\(origin.port)")
                    await connection.close()
                    #expect(head.status == 200, "\(name)")
                }
                #expect(approver.alerts.isEmpty, "report-only asks nobody")
                // The origin counts a connection when its accept runs, which may trail the 200.
                try await eventually("the origin accepted both") { origin.accepted == 2 }
                let records = try proxy.records("connect")
                #expect(records.count == 2)
                #expect(records.allSatisfy { $0.decision == "allow" && $0.details["report_only"] == "would deny" })
                #expect(records.map { $0.details["would_deny_rule"] ?? "" }.sorted()
                    == ["default:allowed_hosts", "network_failsafe.blocked_hosts[0]"])

                // The address gate is never relaxed.
                let (connection, head) = try await proxy.connect("metadata.test:80")
                await connection.close()
                #expect(head.status == 403)
                #expect(head["x-sentinel-rule"] == "builtin:cloud-metadata")
            }
            // Nor is the private-network rule.
            try await withProxy(policy: ProxyFixture.policy(allowedHosts: [], privateNetwork: false), hosts: hosts,
                                configure: { $0.reportOnly = true }) { proxy in
                let (connection, head) = try await proxy.connect("unknown.test:\(origin.port)")
                await connection.close()
                #expect(head.status == 403)
                #expect(head["x-sentinel-rule"] == "network_failsafe.allow_private_network")
            }
        }
    }

    @Test("a reload swaps the policy, closes open tunnels it now denies, and keeps the rest")
    func reloadClosesDeniedTunnels() async throws {
        let keep = try await TestOrigin(host: "127.0.0.2", mode: .echo)
        let drop = try await TestOrigin(host: "127.0.0.3", port: keep.port, mode: .echo)
        defer { Task { await keep.stop(); await drop.stop() } }
        let port = keep.port
        let both = ProxyFixture.policy(allowedHosts: ["{host: keep.test, ports: [\(port)]}",
                                                      "{host: drop.test, ports: [\(port)]}"])
        let hosts = [("keep.test", "127.0.0.2"), ("drop.test", "127.0.0.3")]
        try await withProxy(policy: both, hosts: hosts) { proxy in
            let (kept, keptHead) = try await proxy.connect("keep.test:\(port)")
            let (dropped, droppedHead) = try await proxy.connect("drop.test:\(port)")
            #expect(keptHead.status == 200 && droppedHead.status == 200)
            try await dropped.send("before")
            #expect(try await dropped.read { $0.count >= 6 } == Array("before".utf8))
            let before = await proxy.server.policySHA256

            try proxy.writePolicy(ProxyFixture.policy(allowedHosts: ["{host: keep.test, ports: [\(port)]}"]))
            let report = try await proxy.server.reload()
            #expect(report.closedConnections == 1)
            #expect(report.policySHA256 != before)
            // The dropped tunnel ends; the kept one still carries bytes.
            #expect(try await dropped.readToEnd().isEmpty)
            try await kept.send("still")
            #expect(try await kept.read { $0.count >= 5 } == Array("still".utf8))
            // A new request to the host now denied is refused.
            let (again, againHead) = try await proxy.connect("drop.test:\(port)")
            await again.close()
            #expect(againHead.status == 403)

            // A policy that does not load changes nothing: the error is thrown, logged and recorded.
            try proxy.writePolicy("allowed_hosts: [unterminated\n")
            await #expect(throws: ProxyError.self) { try await proxy.server.reload() }
            #expect(await proxy.server.policySHA256 == report.policySHA256)
            #expect(proxy.logLines.lines.withLock { $0 }.contains { $0.contains("reload refused") })
            try await kept.send("after")
            #expect(try await kept.read { $0.count >= 5 } == Array("after".utf8))
            await kept.close()

            try await eventually("the dropped tunnel's close record") {
                try proxy.records("tunnel_close").contains { $0.target == "drop.test:\(port)" }
            }
            let close = try #require(try proxy.records("tunnel_close").first { $0.target == "drop.test:\(port)" })
            #expect(close.reason.contains("reloaded"))
            #expect(close.details["bytes_up"] == "6")
            let reloads = try proxy.records("proxy_reload")
            #expect(reloads.count == 2)
        }
    }

    @Test("a tunnel with no traffic is closed after the idle timeout, and the close record says why")
    func idleTimeout() async throws {
        try await withOrigins([("127.0.0.2", .echo)]) { origins in
            let origin = origins[0]
            let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
            try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")],
                                configure: { $0.idleTimeout = .seconds(3) }) { proxy in
                // The timer ignores the time spent deciding and dialling, so a short limit is
                // safe even on a loaded machine.
                let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                #expect(head.status == 200)
                #expect(try await connection.readToEnd().isEmpty)
                try await eventually("the close record") { try !proxy.records("tunnel_close").isEmpty }
                #expect(try proxy.records("tunnel_close")[0].reason.contains("idle timeout"))
                try await eventually("the origin side closed") { origin.open == 0 }
            }
        }
    }

    @Test("an unreachable checked address answers 502 quickly, not after the production timeout")
    func unreachable() async throws {
        // Nothing listens on 127.0.0.4:9 (discard): the connection is refused at once.
        let policy = ProxyFixture.policy(allowedHosts: ["{host: gone.test, ports: [9]}"])
        try await withProxy(policy: policy, hosts: [("gone.test", "127.0.0.4")]) { proxy in
            let (connection, head) = try await proxy.connect("gone.test:9")
            await connection.close()
            #expect(head.status == 502)
            #expect(head["x-sentinel-rule"] == "builtin:upstream-connect")
            #expect(head["x-sentinel-reason"]?.contains("127.0.0.4:9") == true)
        }
    }

    @Test("200 concurrent tunnels leave no socket or descriptor behind")
    func noDescriptorLeak() async throws {
        let origin = try await TestOrigin(host: "127.0.0.2", mode: .echo)
        defer { Task { await origin.stop() } }
        let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(origin.port)]}"])
        try await withProxy(policy: policy, hosts: [("allowed.test", "127.0.0.2")]) { proxy in
            // Endpoints, not bare ports: another suite's ephemeral port can equal one of these.
            let ports: Set<String> = [
                SocketCensus.procEndpoint("127.0.0.1", proxy.port), SocketCensus.procEndpoint("127.0.0.2", origin.port),
            ]
            #expect(try SocketCensus.connectedSockets(ports: ports) == 0)
            let descriptorsBefore = try SocketCensus.openDescriptors()

            let count = 200
            let tunnels = try await withThrowingTaskGroup(of: TestConnection.self) { group in
                for index in 0..<count {
                    group.addTask {
                        let (connection, head) = try await proxy.connect("allowed.test:\(origin.port)")
                        guard head.status == 200 else { throw TestNetworkError(description: "tunnel \(index): \(head.raw)") }
                        let message = "tunnel-\(index)"
                        try await connection.send(message)
                        let echoed = try await connection.read { $0.count >= message.utf8.count }
                        guard echoed == Array(message.utf8) else { throw TestNetworkError(description: "tunnel \(index) echo") }
                        return connection
                    }
                }
                var open: [TestConnection] = []
                for try await connection in group { open.append(connection) }
                return open
            }
            #expect(tunnels.count == count)
            #expect(await proxy.server.openConnections == count)
            // Each tunnel holds four sockets in this process: client, proxy front, proxy upstream, origin.
            // Another suite's socket can share a port number with these (one did on CI,
            // 2026-12-07: 801); a missing tunnel socket cannot hide behind that margin.
            let during = try SocketCensus.connectedSockets(ports: ports)
            #expect((4 * count)...(4 * count + 2) ~= during, "\(during) sockets")

            for tunnel in tunnels { await tunnel.close() }
            try await eventually("the proxy closed every connection") { await proxy.server.openConnections == 0 }
            try await eventually("the origin saw every connection close") { origin.open == 0 }
            try await eventually("no socket of the tunnels is left") { try SocketCensus.connectedSockets(ports: ports) == 0 }
            try await eventually("every close record") { try proxy.records("tunnel_close").count == count }
            // Other suites run in parallel and open descriptors of their own; the tunnels' own
            // sockets are counted exactly above. The total must still come back to where it was,
            // give or take what those suites hold at this moment.
            let descriptorsAfter = try SocketCensus.openDescriptors()
            #expect(descriptorsAfter < descriptorsBefore + count / 2,
                    "descriptors before \(descriptorsBefore), after \(descriptorsAfter)")
        }
    }
}

/// Counts this process's descriptors and its TCP sockets on given ports (from /proc), so a leak
/// test can look at exactly the sockets it made even while other tests run.
enum SocketCensus {
    /// Entries in /proc/self/fd.
    static func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    /// An IPv4 endpoint as /proc/net/tcp prints it: the address's bytes in host (little-endian)
    /// order and the port, both in upper-case hex (`0100007F:1F90` for 127.0.0.1:8080).
    static func procEndpoint(_ address: String, _ port: Int) -> String {
        let bytes = address.split(separator: ".").compactMap { UInt8($0) }
        return bytes.reversed().map { String(format: "%02X", $0) }.joined() + ":" + String(format: "%04X", port)
    }

    /// This process's TCP sockets, other than listeners, whose local or remote endpoint is in
    /// `ports` (``procEndpoint(_:_:)`` form).
    static func connectedSockets(ports: Set<String>) throws -> Int {
        var inodes: Set<String> = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)"),
                  target.hasPrefix("socket:[") else { continue }
            inodes.insert(String(target.dropFirst(8).dropLast()))
        }
        var count = 0
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // Read to the end: /proc files report size 0, and a read sized by stat gets one page.
            guard let handle = FileHandle(forReadingAtPath: table) else { continue }
            defer { try? handle.close() }
            let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] != "0A", inodes.contains(String(fields[9])) else { continue }
                if ports.contains(String(fields[1])) || ports.contains(String(fields[2])) { count += 1 }
            }
        }
        return count
    }
}
