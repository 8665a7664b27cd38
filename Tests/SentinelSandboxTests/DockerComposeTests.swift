// docker-compose.yml with docker-compose 1.29 against the real engine: the file validates, the
// strict profile has no network, and the proxied profile reaches an allowed test server only
// through `sentinel proxy`. The test servers run on the compose project's own egress network (created by
// this test under a unique project name); nothing leaves the host.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite(
    "docker-compose profiles", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)), .requires(.executable("docker-compose", package: "docker-compose")))
struct DockerComposeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs docker-compose on the repository's file under `project`, with the image under test.
    static func compose(_ project: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> ChildOutcome {
        var environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SENTINEL_BASE_IMAGE": DockerIsolate.baseImage, "SENTINEL_IMAGE": DockerIsolate.image,
        ]
        for (key, value) in extra { environment[key] = value }
        return try ChildProcess.run(
            "/usr/bin/env", ["docker-compose", "-f", root + "/docker-compose.yml", "-p", project] + arguments,
            environment: environment, directory: root, timeout: 300)
    }

    /// The runtime image, built once by the backend (cached afterwards).
    static func ensureImage(_ scratch: Scratch) throws {
        let result = try DockerIsolate.run(scratch, ["true"])
        try #require(result.status == 0, "could not build \(DockerIsolate.image): \(result.stderr)")
    }

    @Test("the file validates, and the strict profile runs hardened with no network")
    func strict() throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgstrict\(getpid())"
        // The boundary first, without the guard inside (it would refuse the probes' execs first).
        var environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
            "SENTINEL_GUARD_IN_CONTAINER": "0",
        ]
        defer { _ = try? Self.compose(project, ["--profile", "strict", "down", "-v"], environment: environment) }
        let config = try Self.compose(project, ["config", "-q"], environment: environment)
        #expect(config.status == 0, "\(config.stderr)")
        let run = try Self.compose(
            project,
            ["--profile", "strict", "run", "--rm", "-T", "sentinel-strict", "sh", "-c",
             "ls /sys/class/net; id -u; grep Seccomp: /proc/self/status; grep CapEff /proc/self/status; echo x > /etc/x || echo RO; "
                + "python3 -c 'import socket; socket.create_connection((\"192.0.2.1\", 80), timeout=3)' 2>&1 | tail -1"],
            environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "lo", "only loopback: \(run.stdout)")
        #expect(!run.stdout.contains("eth0"))
        #expect(lines.contains("65534"))
        #expect(run.stdout.contains("Seccomp:\t2"))
        #expect(run.stdout.contains("CapEff:\t0000000000000000"))
        #expect(run.stdout.contains("RO"))
        #expect(run.stdout.contains("Network is unreachable"), "\(run.stdout)")

        // Then the default: the guard decides with the workspace's policy (written here: the
        // image's default is whichever policy built it) and records to its audit.path there.
        environment.removeValue(forKey: "SENTINEL_GUARD_IN_CONTAINER")
        try "allowed_paths: [./]\nallowed_commands: [ls]\n".write(
            toFile: scratch.workspace + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let guarded = try Self.compose(
            project, ["--profile", "strict", "run", "--rm", "-T", "sentinel-strict", "sh", "-c", "ls -d /workspace; id -u || echo refused"],
            environment: environment)
        #expect(guarded.status == 0, "\(guarded.stderr)")
        #expect(guarded.stdout == "/workspace\nrefused\n", "\(guarded.stdout)\(guarded.stderr)")
        let audit = try String(contentsOfFile: scratch.workspace + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""action":"exec","target":"id -u","decision":"deny""#), "\(audit)")
        #expect(audit.contains(#""action":"exec","target":"ls -d /workspace","decision":"allow""#), "\(audit)")
    }

    @Test("the proxied profile reaches an allowed server through sentinel proxy, and nothing directly")
    func proxied() throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgproxied\(getpid())"
        let allowList = scratch.base + "/allowed-domains.txt"
        try ".allowed.test\n".write(toFile: allowList, atomically: false, encoding: .utf8)
        // The test servers sit on a private Docker network, which the proxy refuses by default.
        let proxyPolicy = scratch.base + "/proxy-policy.yaml"
        try "allowed_paths: [./]\nnetwork_failsafe:\n  allow_private_network: true\n".write(
            toFile: proxyPolicy, atomically: false, encoding: .utf8)
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
            "SENTINEL_PROXY_ALLOWLIST": allowList, "SENTINEL_PROXY_POLICY": proxyPolicy,
        ]
        let servers = ["\(project)-allowed", "\(project)-denied"]
        defer {
            for server in servers { _ = try? DockerIsolate.docker(["rm", "-f", server]) }
            _ = try? Self.compose(project, ["--profile", "proxied", "down", "-v"], environment: environment)
        }
        let up = try Self.compose(project, ["--profile", "proxied", "up", "-d", "sentinel-proxy"], environment: environment)
        try #require(up.status == 0, "\(up.stderr)")
        for (server, alias) in zip(servers, ["web.allowed.test", "web.denied.test"]) {
            let started = try DockerIsolate.docker([
                // Docker 20.10 sets net.ipv4.ip_unprivileged_port_start=0, so uid 65534 may bind 80.
                "run", "-d", "--rm", "--name", server, "--network", "\(project)_external-egress", "--network-alias", alias,
                "--user", "65534:65534", "--read-only", "--cap-drop", "ALL", DockerIsolate.baseImage,
                "python3", "-m", "http.server", "80",
            ])
            try #require(started.status == 0, "\(started.stderr)")
        }
        let inspect = try DockerIsolate.docker(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", servers[0]])
        let address = inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!address.isEmpty)
        // Retries cover the proxy and the servers still starting (no timing assertion: only a bound).
        let probe = """
            import os, socket, time, urllib.request
            def get(url):
                for _ in range(40):
                    try:
                        return str(urllib.request.urlopen(url, timeout=5).status)
                    except urllib.error.HTTPError as error:
                        if error.code not in (502, 503, 504): return str(error.code)
                    except OSError:
                        pass
                    time.sleep(0.25)
                return "unreachable"
            print("allowed", get("http://web.allowed.test/"))
            print("denied", get("http://web.denied.test/"))
            s = socket.create_connection(("sentinel-proxy", 3128), timeout=5)
            s.sendall(b"CONNECT web.allowed.test:8080 HTTP/1.1\\r\\nHost: web.allowed.test:8080\\r\\n\\r\\n")
            print("connect", s.recv(64).split()[1].decode())
            try:
                socket.create_connection((os.environ["SERVER"], 80), timeout=3)
                print("direct connected")
            except OSError as error:
                print("direct", type(error).__name__)
            try:
                socket.getaddrinfo("web.allowed.test", 80)
                print("dns resolved")
            except OSError as error:
                print("dns", type(error).__name__)
            """
        let run = try Self.compose(
            project, ["--profile", "proxied", "run", "--rm", "-T", "-e", "SERVER=\(address)", "sentinel-proxied", "python3", "-c", probe],
            environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = Set(run.stdout.split(separator: "\n").map(String.init))
        #expect(lines.contains("allowed 200"), "\(run.stdout)")
        #expect(lines.contains("denied 403"), "\(run.stdout)")
        #expect(lines.contains("connect 403"), "CONNECT to a port the allow-list does not name (80 and 443) must be refused: \(run.stdout)")
        #expect(lines.contains { $0.hasPrefix("direct ") && $0 != "direct connected" }, "\(run.stdout)")
        #expect(lines.contains("dns gaierror"), "\(run.stdout)")
    }
}
