// `--network proxied` end to end: sentinel-isolate starts `sentinel proxy` for the run, PID 1
// relays 127.0.0.1:3128 to its Unix socket, and nothing else is reachable. Test servers listen on
// 127.0.0.2/127.0.0.3 of the host; names come from a hosts file given to the proxy.

import Dispatch
import Foundation
import Glibc
import SentinelTestSupport
import Testing

struct TinyServerError: Error { var message: String }

/// A host-side HTTP server that answers every request with `ok` and counts connections.
final class TinyHTTPServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var accepted = 0

    var connections: Int { lock.lock(); defer { lock.unlock() }; return accepted }

    init(address: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, address, &sin.sin_addr)
        let bound = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw TinyServerError(message: "cannot listen on \(address): \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        fd = listener
        port = UInt16(bigEndian: sin.sin_port)
        DispatchQueue.global().async { [self] in
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                lock.lock(); accepted += 1; lock.unlock()
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = read(client, &buffer, buffer.count)
                let reply = Array("HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".utf8)
                _ = write(client, reply, reply.count)
                close(client)
            }
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

@Suite("sentinel-isolate --network proxied", .serialized, .requires(.root))
struct IsolateProxiedTests {
    @Test("only the proxy is reachable, and it applies the policy", arguments: Caller.allCases)
    func onlyTheProxyIsReachable(caller: Caller) throws {
        // A host UDP socket: whatever the sandbox sends to 127.0.0.2 must never arrive here.
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        defer { close(udp) }
        var udpAddress = sockaddr_in()
        udpAddress.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.2", &udpAddress.sin_addr)
        var udpLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        let udpBound = withUnsafeMutablePointer(to: &udpAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, udpLength) == 0 && getsockname(udp, $0, &udpLength) == 0 }
        }
        try #require(udpBound)
        let udpPort = UInt16(bigEndian: udpAddress.sin_port)
        let allowed = try TinyHTTPServer(address: "127.0.0.2")
        let denied = try TinyHTTPServer(address: "127.0.0.3")
        defer { allowed.stop(); denied.stop() }
        let scratch = try Scratch(for: caller)
        try """
            allowed_paths: [./]
            allowed_hosts:
              - {host: allowed.test, ports: [\(allowed.port)]}
              - {host: denied-by-address.test, ports: [\(denied.port)]}
            network_failsafe:
              allow_private_network: true
              blocked_ips: [127.0.0.3]
            approval:
              mode: reject
            """.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let hosts = scratch.base + "/hosts"
        try "127.0.0.2 allowed.test\n127.0.0.3 denied-by-address.test other.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        chmod(hosts, 0o644)
        let script = """
            import os, socket, urllib.request
            def attempt(name, body):
                try:
                    print(name, body())
                except Exception as error:
                    print(name, "failed:", type(error).__name__)
            print("proxy", os.environ["HTTPS_PROXY"])
            attempt("allowed", lambda: urllib.request.urlopen("http://allowed.test:\(allowed.port)/").read().decode())
            attempt("blocked-address", lambda: urllib.request.urlopen("http://denied-by-address.test:\(denied.port)/").status)
            attempt("not-allowed", lambda: urllib.request.urlopen("http://other.test:\(denied.port)/").status)
            attempt("direct-tcp", lambda: socket.create_connection(("127.0.0.2", \(allowed.port)), timeout=2) and "connected")
            attempt("direct-udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.2", \(udpPort))))
            attempt("dns", lambda: socket.getaddrinfo("allowed.test", 80))
            attempt("ipv6", lambda: socket.create_connection(("::ffff:127.0.0.2", \(allowed.port)), timeout=2) and "connected")
            """
        let result = try Isolate.run(
            caller, scratch, flags: ["--network", "proxied", "--proxy-hosts-file", hosts], ["python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("proxy http://127.0.0.1:3128"))
        #expect(lines.contains("allowed ok"), "\(result.stdout)")
        #expect(lines.contains("blocked-address failed: HTTPError"), "\(result.stdout)")
        #expect(lines.contains("not-allowed failed: HTTPError"), "\(result.stdout)")
        // The datagram went to the sandbox's own loopback (sendto succeeds there), never here.
        var byte: UInt8 = 0
        #expect(recv(udp, &byte, 1, Int32(MSG_DONTWAIT)) < 0, "a datagram from the sandbox reached the host")
        for name in ["direct-tcp", "dns", "ipv6"] {
            #expect(lines.contains { $0.hasPrefix(name + " failed:") }, "\(name): \(result.stdout)")
        }
        #expect(allowed.connections == 1)
        #expect(denied.connections == 0)
        // The proxy's decisions are in the run's audit log, between its start and end records.
        let log = try String(contentsOfFile: scratch.base + "/sentinel-audit.log", encoding: .utf8)
        #expect(log.contains("\"action\":\"run_start\""))
        #expect(log.contains("\"mode\":\"proxy\""))
        #expect(log.contains("\"target\":\"http://other.test:\(denied.port)\""))
    }

    @Test("with --guard, the command reaches the proxy through the relay, and the guard refuses a direct connect")
    func guardedThroughTheRelay() throws {
        let allowed = try TinyHTTPServer(address: "127.0.0.2")
        defer { allowed.stop() }
        let scratch = try Scratch(for: .root)
        try """
            allowed_paths: [./ws]
            allowed_hosts:
              - {host: allowed.test, ports: [\(allowed.port)]}
            network_failsafe:
              allow_private_network: true
            approval:
              mode: reject
            """.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let hosts = scratch.base + "/hosts"
        try "127.0.0.2 allowed.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        let script = """
            import socket, urllib.request
            print("allowed", urllib.request.urlopen("http://allowed.test:\(allowed.port)/").read().decode())
            try:
                socket.create_connection(("127.0.0.1", 9), timeout=2)
            except OSError as error:
                print("direct", type(error).__name__)
            """
        let result = try Isolate.run(
            .root, scratch, flags: ["--guard", "--network", "proxied", "--proxy-hosts-file", hosts], ["python3", "-c", script])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "allowed ok\ndirect PermissionError\n", "\(result.stdout)\(result.stderr)")
        let records = try String(contentsOfFile: scratch.base + "/sentinel-audit.log.guard/audit.log", encoding: .utf8)
        #expect(records.contains(#""target":"127.0.0.1:3128","decision":"allow","rule":"guard:trusted-endpoint""#), "\(records)")
        #expect(records.contains(#""target":"127.0.0.1:9","decision":"deny""#), "\(records)")
        #expect(allowed.connections == 1)
    }

    @Test("a proxy URL cannot stand in for the relay")
    func proxyURLRefused() throws {
        let scratch = try Scratch(for: .root)
        let result = try Isolate.run(.root, scratch, flags: ["--network", "proxied", "--proxy", "http://127.0.0.1:3128"], ["true"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--proxy-socket"))
    }
}
