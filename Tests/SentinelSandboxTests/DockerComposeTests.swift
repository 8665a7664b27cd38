// docker-compose.yml with docker-compose 1.29 against the real engine: the file validates, every
// profile runs the command docs/DOCKER.md shows, keeps the policy read-only and the guard's
// records out of the command's reach with and without the guard, the strict profile has no
// network, and the proxied profile reaches an allowed test server only through `sentinel proxy`.
// The test servers run on the compose project's own egress network (created by this test under a
// unique project name); nothing leaves the host.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// A compose profile as docs/DOCKER.md shows it: `docker-compose --profile NAME run --rm SERVICE COMMAND`.
struct ComposeProfile: Sendable, CustomTestStringConvertible {
    var name: String
    var service: String
    /// Whether the guard runs inside when SENTINEL_GUARD is not set: only the profile that says so.
    var guardedByDefault: Bool

    var testDescription: String { name }

    static let all = [
        ComposeProfile(name: "strict", service: "sentinel-strict", guardedByDefault: false),
        ComposeProfile(name: "guarded", service: "sentinel-guarded", guardedByDefault: true),
        ComposeProfile(name: "standard", service: "sentinel-standard", guardedByDefault: false),
        ComposeProfile(name: "proxied", service: "sentinel-proxied", guardedByDefault: false),
    ]
}

/// Whether a run sets SENTINEL_GUARD: not at all (the profile's default, the documented command as
/// shown), or to the other value (`run -e`, which also overrides the guarded profile's own).
enum GuardSetting: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case profileDefault = "the profile's default"
    case flipped = "the other setting"

    var testDescription: String { rawValue }
}

@Suite(
    "docker-compose profiles", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)), .requires(.executable("docker-compose", package: "docker-compose")))
struct DockerComposeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs docker-compose on the repository's file under `project`, with the image under test;
    /// as root, or as the ordinary user `asUser` in the docker group.
    static func compose(
        _ project: String, _ arguments: [String], environment extra: [String: String] = [:], asUser: UInt32? = nil
    ) throws -> ChildOutcome {
        var environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SENTINEL_BASE_IMAGE": DockerIsolate.baseImage, "SENTINEL_IMAGE": DockerIsolate.image,
        ]
        for (key, value) in extra { environment[key] = value }
        var command = ["/usr/bin/env", "docker-compose", "-f", root + "/docker-compose.yml", "-p", project] + arguments
        if let asUser {
            command = ["/usr/bin/setpriv", "--reuid=\(asUser)", "--regid=\(asUser)", "--groups=\(try DockerOwnershipTests.dockerGroup())"]
                + command
        }
        return try ChildProcess.run(command[0], Array(command.dropFirst()), environment: environment, directory: root, timeout: 300)
    }

    /// `docker-compose --profile P run --rm SERVICE COMMAND`, as docs/DOCKER.md shows it (with -T:
    /// the test has no terminal to give it).
    static func run(
        _ project: String, _ profile: ComposeProfile, _ command: [String], environment: [String: String], set: [String] = []
    ) throws -> ChildOutcome {
        try compose(
            project, ["--profile", profile.name, "run", "--rm", "-T"] + set.flatMap { ["-e", $0] } + [profile.service] + command,
            environment: environment)
    }

    /// The runtime image, built once by the backend (cached afterwards).
    static func ensureImage(_ scratch: Scratch) throws {
        let result = try DockerIsolate.run(scratch, ["true"])
        try #require(result.status == 0, "could not build \(DockerIsolate.image): \(result.stderr)")
    }

    /// Where the project's guard records volume is on the host.
    static func recordsDirectory(_ project: String) throws -> String {
        let inspected = try DockerIsolate.docker(["volume", "inspect", "--format", "{{.Mountpoint}}", "\(project)_sentinel-guard-audit"])
        try #require(inspected.status == 0, "no records volume: \(inspected.stderr)")
        return inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `sentinel audit verify` of the guard's records, without a key (the guard inside has none).
    static func verify(_ log: String) throws -> ChildOutcome {
        try ChildProcess.run(Isolate.sentinelBinary, ["audit", "verify", log], environment: ["PATH": "/usr/bin:/bin"])
    }

    /// The hex SHA-256 of a file, as the policy loader computes it for LF-only text.
    static func sha256(_ path: String) throws -> String {
        let hashed = try ChildProcess.run("/usr/bin/sha256sum", [path])
        return String(hashed.stdout.prefix(64))
    }

    /// Everything a run tries against the policy and the records; prints `NAME ok` for each that
    /// worked and `NAME refused …` for each that did not.
    static let tamperScript = """
        import os
        POLICY = "/run/sentinel/policy.yaml"
        LOG = "/var/log/sentinel/audit.log"
        WIDER = "allowed_paths: [/]\\nallowed_commands: [id, sh]\\naudit:\\n  path: /tmp/audit.log\\n"
        def attempt(name, action):
            try:
                action()
                print(name, "ok")
            except OSError as error:
                print(name, "refused", type(error).__name__)
        def rewrite(path, text):
            with open(path, "w") as f:
                f.write(text)
        def append(path, text):
            with open(path, "a") as f:
                f.write(text)
        def drop_deny(path=LOG):
            lines = open(path).read().splitlines(True)
            rewrite(path, "".join(line for line in lines if '"decision":"deny"' not in line))
        def drop_deny_in_workspace():
            # Where the policy's audit.path (./audit.log) would put the guard's log.
            if not os.path.exists("/workspace/audit.log"):
                raise FileNotFoundError("no log in the workspace")
            drop_deny("/workspace/audit.log")
        # Moved or removed first, so that a rewrite after them is what a next run would load.
        attempt("policy-rename", lambda: os.rename(POLICY, "/workspace/old.yaml"))
        attempt("policy-unlink", lambda: os.unlink(POLICY))
        attempt("policy-rewrite", lambda: rewrite(POLICY, WIDER))
        attempt("policy-append", lambda: append(POLICY, "# appended\\n"))
        attempt("policy-chmod", lambda: os.chmod(POLICY, 0o666))
        attempt("records-drop-deny", drop_deny)
        attempt("records-append", lambda: append(LOG, "{}\\n"))
        attempt("records-truncate", lambda: os.truncate(LOG, 0))
        attempt("records-rename", lambda: os.rename(LOG, LOG + ".old"))
        attempt("records-unlink", lambda: os.unlink(LOG))
        attempt("records-link-out", lambda: os.link(LOG, "/workspace/alias.log"))
        attempt("anchor-rewrite", lambda: rewrite(LOG + ".anchor", "x"))
        attempt("records-new-file", lambda: rewrite("/var/log/sentinel/forged.log", "{}\\n"))
        attempt("workspace-records-drop-deny", drop_deny_in_workspace)
        """

    @Test(
        "a run can rewrite neither the policy nor the guard's records; the next run loads the original policy and the records verify intact",
        arguments: ComposeProfile.all, GuardSetting.allCases)
    func tamperingFails(profile: ComposeProfile, setting: GuardSetting) throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgtamper\(profile.name)\(getpid())"
        // Refusals are answered at once (no prompt in a container), and `id` is not allowed.
        let policyText = "allowed_paths: [./]\nallowed_commands: [ls]\napproval:\n  mode: reject\n"
        try policyText.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
        ]
        defer { _ = try? Self.compose(project, ["--profile", profile.name, "down", "-v"], environment: environment) }
        // A guarded run leaves a deny record for the tampering run to try to drop.
        let first = try Self.run(project, profile, ["sh", "-c", "ls -d /workspace; id -u || echo refused"], environment: environment, set: ["SENTINEL_GUARD=1"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "/workspace\nrefused\n", "\(first.stdout)\(first.stderr)")
        // The records belong in the project's volume, outside the workspace; the attack runs
        // either way, so that it shows what a run could do wherever they are.
        let volume = try? Self.recordsDirectory(project)
        #expect(volume != nil, "the guard's records must be in the volume sentinel-guard-audit")
        let records = (volume ?? scratch.workspace) + "/audit.log"
        let before = (try? String(contentsOfFile: records, encoding: .utf8)) ?? ""
        #expect(before.contains(#""action":"exec","target":"id -u","decision":"deny""#), "\(before)")

        // The run under test: the documented command, or with the guard switched the other way.
        let guardRuns = setting == .profileDefault ? profile.guardedByDefault : !profile.guardedByDefault
        let attack = try Self.run(
            project, profile, ["python3", "-c", Self.tamperScript], environment: environment,
            set: setting == .flipped ? ["SENTINEL_GUARD=\(guardRuns ? 1 : 0)"] : [])
        #expect(attack.status == 0, "\(attack.stdout)\(attack.stderr)")
        let attempts = attack.stdout.split(separator: "\n").map(String.init)
        #expect(attempts.count == 14, "every attempt reports: \(attack.stdout)\(attack.stderr)")
        for line in attempts {
            #expect(line.contains(" refused "), "\(line) (guard \(guardRuns ? "on" : "off"))")
        }
        #expect(attack.stderr.contains("sentinel guard: ") == guardRuns, "\(attack.stderr)")

        // The next guarded run loads the original policy.
        let next = try Self.run(project, profile, ["sh", "-c", "id -u || echo refused"], environment: environment, set: ["SENTINEL_GUARD=1"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stdout == "refused\n", "\(next.stdout)\(next.stderr)")
        #expect(try String(contentsOfFile: scratch.policy, encoding: .utf8) == policyText)

        // The records: nothing before the tampering run changed, every run recorded the
        // original policy's digest, and the chain and its anchor verify.
        try #require(volume != nil)
        let after = try String(contentsOfFile: records, encoding: .utf8)
        #expect(after.hasPrefix(before), "the earlier records changed")
        let digest = try Self.sha256(scratch.policy)
        let starts = after.split(separator: "\n").filter { $0.contains(#""action":"run_start""#) }
        #expect(starts.count == (guardRuns ? 3 : 2), "\(after)")
        for start in starts {
            #expect(start.contains(#""policy_sha256":"\#(digest)""#), "\(start)")
        }
        let verified = try Self.verify(records)
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("intact"), "\(verified.stdout)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/audit.log"), "no records in the workspace")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/alias.log"))
    }

    @Test("the file validates, and the strict profile runs hardened with no network")
    func strict() throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgstrict\(getpid())"
        // The boundary first, without the guard inside (the default; it would refuse the probes' execs first).
        var environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
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

        // Then with SENTINEL_GUARD=1: the guard decides with the mounted policy and records outside
        // the workspace, in the project's records volume.
        environment["SENTINEL_GUARD"] = "1"
        try "allowed_paths: [./]\nallowed_commands: [ls]\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let guarded = try Self.compose(
            project, ["--profile", "strict", "run", "--rm", "-T", "sentinel-strict", "sh", "-c", "ls -d /workspace; id -u || echo refused"],
            environment: environment)
        #expect(guarded.status == 0, "\(guarded.stderr)")
        #expect(guarded.stdout == "/workspace\nrefused\n", "\(guarded.stdout)\(guarded.stderr)")
        let audit = try String(contentsOfFile: try Self.recordsDirectory(project) + "/audit.log", encoding: .utf8)
        #expect(audit.contains(#""action":"exec","target":"id -u","decision":"deny""#), "\(audit)")
        #expect(audit.contains(#""action":"exec","target":"ls -d /workspace","decision":"allow""#), "\(audit)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/audit.log"))
    }

    @Test("a policy that lets the command write the guard's records is refused, and nothing runs")
    func policyCoveringTheRecords() throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgcover\(getpid())"
        try "allowed_paths: [/]\nallowed_commands: [ls]\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
        ]
        defer { _ = try? Self.compose(project, ["--profile", "guarded", "down", "-v"], environment: environment) }
        let run = try Self.run(project, ComposeProfile.all[1], ["touch", "/workspace/ran"], environment: environment)
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("lets the command write the guard's records"), "\(run.stderr)")
        #expect(run.stderr.contains("narrow allowed_paths"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
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
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
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

    @Test(
        "docker-compose --profile NAME up checks the profile and says how to run a command",
        arguments: ComposeProfile.all)
    func up(profile: ComposeProfile) throws {
        let scratch = try Scratch(for: .unprivileged)
        try Self.ensureImage(scratch)
        let project = "sgup\(profile.name)\(getpid())"
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
        ]
        defer { _ = try? Self.compose(project, ["--profile", profile.name, "down", "-v"], environment: environment) }
        // As documented; --exit-code-from ends `up` when the sandbox's check is done (the proxy
        // of the proxied profile would otherwise keep it running) and returns the check's status.
        let up = try Self.compose(project, ["--profile", profile.name, "up", "--exit-code-from", profile.service], environment: environment)
        #expect(up.status == 0, "\(up.stdout)\(up.stderr)")
        #expect(up.stdout.contains("Sentinel sandbox container: ready."), "\(up.stdout)")
        #expect(up.stdout.contains("policy: /run/sentinel/policy.yaml, read-only"), "\(up.stdout)")
        #expect(up.stdout.contains(profile.guardedByDefault ? "guard: on" : "guard: off"), "\(up.stdout)")
        #expect(
            up.stdout.contains("Run a command: docker-compose --profile \(profile.name) run --rm \(profile.service) COMMAND"), "\(up.stdout)")
        switch profile.name {
        case "proxied": #expect(up.stdout.contains("network: only through the policy proxy sentinel-proxy:3128, which answers"), "\(up.stdout)")
        case "standard": #expect(up.stdout.contains("network: a route out (bridge)"), "\(up.stdout)")
        default: #expect(up.stdout.contains("network: none: no route out."), "\(up.stdout)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.workspace).isEmpty, "nothing left in the workspace")
    }

    @Test(
        "as root and as an ordinary user, before and after the workspace changes owner; the workspace holds what the command wrote",
        arguments: [ComposeProfile.all[0], ComposeProfile.all[1]])
    func owners(profile: ComposeProfile) throws {
        let scratch = try Scratch(for: .root)
        try Self.ensureImage(try Scratch(for: .unprivileged))
        try "allowed_paths: [./ws]\nallowed_commands: [id]\napproval:\n  mode: reject\n".write(
            toFile: scratch.policy, atomically: false, encoding: .utf8)
        let project = "sgowners\(profile.name)\(getpid())"
        let home = scratch.base + "/home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: false)
        chown(home, DockerOwnershipTests.user, DockerOwnershipTests.user)
        // Compose run from the project's directory: ./ws, the policy's workspace, is the workspace.
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "PWD": scratch.base, "HOME": home,
        ]
        defer { _ = try? Self.compose(project, ["--profile", profile.name, "down", "-v"], environment: environment) }
        let write = ["sh", "-c", "id -u; echo x > \"/workspace/$1\" 2>/dev/null || echo read-only", "sh"]

        // Before: the checkout's workspace is root's; the container user (10001) cannot write it, and is told why.
        let before = try Self.run(project, profile, write + ["before"], environment: environment)
        #expect(before.status == 0, "\(before.stdout)\(before.stderr)")
        #expect(before.stdout == "10001\nread-only\n", "\(before.stdout)\(before.stderr)")
        #expect(before.stderr.contains("/workspace is not writable by uid 10001"), "\(before.stderr)")
        #expect(before.stderr.contains("chown"), "\(before.stderr)")

        // After the workspace is given to the container's user: root and an ordinary user alike.
        chown(scratch.workspace, 10001, 10001)
        for asUser in [nil, DockerOwnershipTests.user] {
            let name = "after-\(asUser ?? 0)"
            let after = try Self.compose(
                project, ["--profile", profile.name, "run", "--rm", "-T", profile.service] + write + [name], environment: environment,
                asUser: asUser)
            #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
            #expect(after.stdout == "10001\n", "\(after.stdout)\(after.stderr)")
            #expect(!after.stderr.contains("not writable"), "\(after.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.workspace).sorted() == ["after-0", "after-\(DockerOwnershipTests.user)"])
        if profile.guardedByDefault {
            let records = try String(contentsOfFile: try Self.recordsDirectory(project) + "/audit.log", encoding: .utf8)
            #expect(records.contains(#""action":"file_write","target":"/workspace/after-0","decision":"allow""#), "\(records)")
        }
    }
}
