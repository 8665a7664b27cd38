// `sentinel-isolate --backend docker` against the real engine: escape attempts, exit status,
// Docker's own failures, seccomp log vs enforce, production. The image is built once (cached
// by the engine) from the offline base; every container run takes about half a second, so the
// escape table is a representative subset of IsolateEscapeTests, not all of it.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

enum DockerIsolate {
    static let baseImage = "sentinel-base:bookworm"
    /// The image the tests build and run: `SENTINEL_TEST_IMAGE`, else the default name. The
    /// default is shared by every checkout on a machine, and `--build-if-missing` never rebuilds
    /// a stale image, so a checkout that must test its own binary names its own tag.
    static let image = ProcessInfo.processInfo.environment["SENTINEL_TEST_IMAGE"].flatMap { $0.isEmpty ? nil : $0 } ?? "sentinel-guard:local"
    static let flags = ["--backend", "docker", "--image", image, "--build-if-missing", "--base-image", baseImage]

    /// Runs `sentinel-isolate --backend docker` on `scratch` (whose workspace belongs to 65534,
    /// so the container runs as 65534 and can write it). With `guarded`, with `--guard`; most
    /// tests here probe the container's boundary, which the guard inside would answer first (it
    /// refuses the execs of the probes), and the default runs without it.
    static func run(
        _ scratch: Scratch, flags extra: [String] = [], guarded: Bool = false, _ command: [String],
        environment: [String: String] = [:]
    ) throws -> RunResult {
        try Isolate.launch(
            Isolate.binary,
            ["--workspace", scratch.workspace, "--policy", scratch.policy] + flags + (guarded ? ["--guard"] : []) + extra
                + ["--"] + command,
            environment: environment, directory: scratch.base)
    }

    /// Starts a web server container on Docker's bridge (a proxy container's way out; never the
    /// internet) serving /opt/sentinel of the image on port 8080, building the image first when
    /// it is missing; returns its name (for `docker rm --force`) and its address on the bridge.
    static func startWebServer(_ scratch: Scratch) throws -> (name: String, address: String) {
        _ = try run(scratch, ["true"])  // builds the image when it is missing
        let server = "sentinel-test-web-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let started = try docker([
            "run", "--detach", "--rm", "--name", server, "--user", "65534:65534", "--entrypoint", "python3", image,
            "-m", "http.server", "8080", "--directory", "/opt/sentinel",
        ])
        try #require(started.status == 0, "\(started.stderr)")
        var serving = false
        for _ in 0..<100 where !serving {
            let logs = try docker(["logs", server])
            serving = (logs.stdout + logs.stderr).contains("Serving HTTP")
            if !serving { usleep(100_000) }
        }
        if !serving { _ = try? docker(["rm", "--force", server]) }
        try #require(serving, "the test server did not start")
        let address = try docker(["inspect", "--format", "{{.NetworkSettings.Networks.bridge.IPAddress}}", server])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!address.isEmpty)
        return (server, address)
    }

    static func docker(_ arguments: [String]) throws -> ChildOutcome {
        try ChildProcess.run("/usr/bin/env", ["docker"] + arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], timeout: 120)
    }
}

@Suite(
    "sentinel-isolate --backend docker", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)))
struct DockerIsolateTests {
    static let attempts: [Attempt] = [
        Attempt(name: "write in /etc", script: "echo x > /etc/escape", expected: "Read-only file system"),
        Attempt(name: "write via ../", script: "echo x > /workspace/../../usr/escape", expected: "Read-only file system"),
        Attempt(name: "read /etc/shadow", script: "cat /etc/shadow", expected: "Permission denied"),
        Attempt(name: "mount", script: "mount -t tmpfs none /tmp", expected: "must be superuser"),
        Attempt(name: "unshare a user namespace", script: "unshare -U true", expected: "Operation not permitted"),
        Attempt(name: "chroot", script: "chroot / true", expected: "Operation not permitted"),
        Attempt(name: "raw socket", script: "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)'", expected: "PermissionError"),
        Attempt(name: "Docker socket", script: "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/var/run/docker.sock\")'", expected: "FileNotFoundError"),
        Attempt(name: "keyctl (seccomp)", script: "python3 -c 'import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.syscall(250,0,-3,1,0,0); print(os.strerror(ctypes.get_errno())); exit(r>=0)'; false", expected: "Operation not permitted"),
        Attempt(name: "write /proc/sys", script: "echo evil > /proc/sys/kernel/hostname", expected: "Read-only file system"),
        Attempt(name: "/dev/kmsg", script: "cat /dev/kmsg", expected: "No such file or directory"),
        Attempt(name: "hostname change", script: "hostname evil", expected: "must be root"),
        Attempt(name: "setuid to root", script: "python3 -c 'import os; os.setuid(0)'", expected: "PermissionError"),
        Attempt(name: "fill /tmp", script: "dd if=/dev/zero of=/tmp/fill bs=1M count=100", expected: "No space left on device"),
        Attempt(name: "exec from /tmp (noexec)", script: "cp /bin/true /tmp/t && /tmp/t", expected: "Permission denied"),
        Attempt(name: "reach the internet", script: "python3 -c 'import socket; socket.create_connection((\"192.0.2.1\", 80), timeout=3)'", expected: "Network is unreachable"),
    ]

    @Test("the escape attempt fails inside the container", arguments: attempts)
    func attemptFails(attempt: Attempt) throws {
        let scratch = try Scratch(for: .unprivileged)
        let result = try DockerIsolate.run(scratch, ["/bin/sh", "-c", attempt.script + " 2>&1"])
        #expect(result.status != 0, "\(attempt.name) succeeded: \(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains(attempt.expected), "\(result.stdout)\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/etc/escape"))
        #expect(!FileManager.default.fileExists(atPath: "/usr/escape"))
    }

    @Test("a host loopback listener cannot be reached and a caller secret does not pass")
    func loopbackAndSecret() throws {
        let scratch = try Scratch(for: .unprivileged)
        let listener = try #require(TestListener.tcp())
        defer { close(listener.fd) }
        let result = try DockerIsolate.run(
            scratch, flags: ["--env", "VISIBLE"],
            ["python3", "-c", "import os, socket; print(sorted(os.environ)); socket.create_connection((\"127.0.0.1\", \(listener.port)), timeout=5)"],
            environment: ["GITHUB_TOKEN": "ghp_secret", "VISIBLE": "shown"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("ConnectionRefusedError"), "\(result.stderr)")
        #expect(!TestListener.hasPending(listener.fd))
        #expect(!result.stdout.contains("GITHUB_TOKEN"))
        #expect(result.stdout.contains("'VISIBLE'"))
    }

    @Test("the workspace is writable, the policy is read-only, the user is not root")
    func workspace() throws {
        let scratch = try Scratch(for: .unprivileged)
        let result = try DockerIsolate.run(scratch, ["/bin/sh", "-c", "id -u; echo made > /workspace/out.txt; echo x >> \"$SENTINEL_POLICY_FILE\""])
        #expect(result.stdout.hasPrefix("65534\n"))
        #expect(try String(contentsOfFile: scratch.workspace + "/out.txt", encoding: .utf8) == "made\n")
        #expect(result.status != 0, "the policy must not be writable: \(result.stderr)")
        #expect(try String(contentsOfFile: scratch.policy, encoding: .utf8) == Scratch.policyText)
    }

    @Test("with --guard, sentinel guard runs inside: it refuses what the policy does not allow and records it outside the workspace")
    func guardInside() throws {
        let scratch = try Scratch(for: .unprivileged)
        try "allowed_paths: [./ws]\nallowed_commands: [echo]\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let result = try DockerIsolate.run(
            scratch, guarded: true, ["/bin/sh", "-c", "echo allowed; cat /etc/hostname || echo refused; echo x > /workspace/in.txt; echo x > /tmp/out.txt || echo write-refused"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "allowed\nrefused\nwrite-refused\n", "\(result.stdout)\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.workspace + "/in.txt"))
        let log = scratch.base + "/sentinel-audit.log.guard/audit.log"
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        func decision(_ action: String, _ target: String) -> String? {
            records.first { $0["action"] as? String == action && $0["target"] as? String == target }?["decision"] as? String
        }
        #expect(decision("exec", "echo allowed") == nil, "a shell builtin is not an exec")
        #expect(decision("exec", "cat /etc/hostname") == "deny")
        #expect(decision("file_write", "/workspace/in.txt") == "allow")
        #expect(decision("file_write", "/tmp/out.txt") == "deny")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/audit.log"), "the guard's log must not be in the workspace")
        // The policy is mounted outside the workspace: no mount point is left behind in it.
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/sentinel.yaml"))
        let verify = try ChildProcess.run(Isolate.sentinelBinary, ["audit", "verify", log])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("--network proxied: the allowed host through the proxy, a denied one gets 403, nothing directly; all removed after")
    func proxied() throws {
        let scratch = try Scratch(for: .unprivileged)
        let (server, address) = try DockerIsolate.startWebServer(scratch)
        defer { _ = try? DockerIsolate.docker(["rm", "--force", server]) }
        try "\(address) web.allowed.test\n\(address) web.denied.test\n".write(toFile: scratch.base + "/hosts", atomically: false, encoding: .utf8)
        try """
            allowed_paths: [./]
            allowed_hosts:
              - {host: web.allowed.test, ports: [8080]}
            network_failsafe:
              allow_private_network: true
            """.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        try """
            import socket, urllib.error, urllib.request
            for name in ["allowed", "denied"]:
                try:
                    print(name, urllib.request.urlopen(f"http://web.{name}.test:8080/sentinel.yaml", timeout=10).status)
                except urllib.error.HTTPError as error:
                    print(name, error.code, error.headers.get("X-Sentinel-Rule", ""))
            try:
                socket.create_connection(("\(address)", 8080), timeout=3)
                print("direct connected")
            except OSError as error:
                print("direct failed", type(error).__name__)
            """.write(toFile: scratch.workspace + "/probe.py", atomically: false, encoding: .utf8)

        var runs: [String] = []
        for guarded in [true, false] {
            let result = try DockerIsolate.run(
                scratch, flags: ["--network", "proxied", "--proxy-hosts-file", scratch.base + "/hosts"], guarded: guarded,
                ["python3", "/workspace/probe.py"])
            if let range = result.stderr.range(of: "--network proxied: proxy sentinel-proxy-") {
                runs.append(String(result.stderr[range.upperBound...].prefix { !$0.isWhitespace }))
            }
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "allowed 200", "\(result.stdout)\(result.stderr)")
            #expect(lines.dropFirst().first?.hasPrefix("denied 403") == true, "\(result.stdout)")
            #expect(lines.last?.hasPrefix("direct failed") == true, "\(result.stdout)")
            #expect(result.stderr.contains("--network proxied: proxy sentinel-proxy-"))
        }
        // The guard let the command reach exactly the proxy, and said so in its records.
        let guardLog = try String(contentsOfFile: scratch.base + "/sentinel-audit.log.guard/audit.log", encoding: .utf8)
        #expect(guardLog.contains(#""rule":"guard:trusted-endpoint""#), "\(guardLog)")
        // The proxy decided by name and recorded both requests.
        let proxyLog = try String(contentsOfFile: scratch.base + "/sentinel-audit.log.proxy/proxy-audit.log", encoding: .utf8)
        #expect(proxyLog.contains(#""target":"http://web.denied.test:8080","decision":"deny""#), "\(proxyLog)")
        #expect(proxyLog.contains("web.allowed.test"))
        // Nothing of the runs is left behind (these runs': other suites' proxied runs may be under way).
        #expect(runs.count == 2)
        for run in runs {
            let label = "label=org.sentinel-guard.run=\(run)"
            #expect(try DockerIsolate.docker(["network", "ls", "--quiet", "--filter", label]).stdout.isEmpty)
            #expect(try DockerIsolate.docker(["ps", "--all", "--quiet", "--filter", label]).stdout.isEmpty)
        }
    }

    @Test("the exit status passes through", arguments: [
        (["sh", "-c", "exit 7"], Int32(7)), (["true"], 0), (["sh", "-c", "kill -TERM $$"], 143), (["no-such-command"], 127),
    ] as [([String], Int32)])
    func exitStatus(command: [String], expected: Int32) throws {
        let scratch = try Scratch(for: .unprivileged)
        let result = try DockerIsolate.run(scratch, command)
        #expect(result.status == expected, "\(result.stderr)")
    }

    @Test("Docker's own failures are one sentence that says what to do")
    func dockerFailures() throws {
        let scratch = try Scratch(for: .unprivileged)
        // (Without --build-if-missing: the common flags would build it.)
        let missing = try Isolate.launch(
            Isolate.binary,
            ["--backend", "docker", "--image", "sentinel-no-such-image:0", "--workspace", scratch.workspace, "--policy", scratch.policy, "--", "true"],
            directory: scratch.base)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("Docker image 'sentinel-no-such-image:0' not found. Build it first or use --build-if-missing."), "\(missing.stderr)")

        let down = try DockerIsolate.run(scratch, ["true"], environment: ["DOCKER_HOST": "unix://\(scratch.base)/no-engine.sock"])
        #expect(down.status == 2)
        #expect(down.stderr.contains("The Docker engine is not running"), "\(down.stderr)")

        let noBinary = try Isolate.launch(
            Isolate.binary, ["--backend", "docker", "--workspace", scratch.workspace, "--policy", scratch.policy, "--", "true"],
            environment: ["PATH": scratch.base], directory: scratch.base)
        #expect(noBinary.status == 2)
        #expect(noBinary.stderr.contains("Docker binary not found in PATH: docker"), "\(noBinary.stderr)")

        // An ordinary user without access to the socket (root:docker 0660).
        let denied = try Isolate.launch(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", Isolate.binary, "--backend", "docker", "--image", DockerIsolate.image,
             // Its own audit log: the one beside the workspace was created by the root runs above.
             "--audit-log", scratch.base + "/unprivileged-audit.log",
             "--workspace", scratch.workspace, "--policy", scratch.policy, "--", "true"],
            directory: scratch.base)
        #expect(denied.status == 2)
        #expect(denied.stderr.contains("You may not use the Docker engine's socket"), "\(denied.stderr)")
    }

    @Test("production refuses --network bridge without the exception; with it, the run starts")
    func production() throws {
        let scratch = try Scratch(for: .unprivileged)
        let refused = try DockerIsolate.run(scratch, flags: ["--network", "bridge"], ["true"], environment: ["SENTINEL_PRODUCTION": "true"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("Production mode requires --network none."), "\(refused.stderr)")
        let refusedEnv = try DockerIsolate.run(scratch, flags: ["--network", "bridge"], ["true"], environment: ["SENTINEL_ENV": "production"])
        #expect(refusedEnv.status == 2)
        let allowed = try DockerIsolate.run(
            scratch, flags: ["--network", "bridge"], ["sh", "-c", "ls /sys/class/net"],
            environment: [
                "SENTINEL_PRODUCTION": "true", "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION": "true", "SENTINEL_POLICY_IMMUTABLE": "true",
                "SENTINEL_POLICY_SHA256": String(try ChildProcess.run("/usr/bin/sha256sum", [scratch.policy]).stdout.prefix(64)),
            ])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.contains("eth0"))
    }

    /// sched_setaffinity is outside the strict profile: enforce denies it (EPERM), log mode lets
    /// it run and the kernel records it (audit type=1326) under the program's unique name.
    @Test("seccomp log mode leaves a kernel log entry where enforce mode denies", .requires(.executable("dmesg", package: "util-linux")))
    func seccompLogMode() throws {
        let scratch = try Scratch(for: .unprivileged)
        let name = "sglog\(UInt32.random(in: 100_000...999_999))"
        let script = "cp /usr/bin/python3 /workspace/\(name) && /workspace/\(name) -c 'import os; os.sched_setaffinity(0, os.sched_getaffinity(0)); print(\"affinity set\")'"
        let enforced = try DockerIsolate.run(scratch, ["/bin/sh", "-c", script])
        #expect(enforced.status != 0)
        #expect(enforced.stderr.contains("PermissionError"), "\(enforced.stderr)")

        let logged = try DockerIsolate.run(scratch, flags: ["--seccomp-mode", "log"], ["/bin/sh", "-c", script])
        #expect(logged.status == 0, "\(logged.stderr)")
        #expect(logged.stdout.contains("affinity set"))
        let kernel = try ChildProcess.run("/usr/bin/env", ["dmesg"], environment: ["PATH": "/usr/bin:/bin"])
        let entries = kernel.stdout.split(separator: "\n").filter { $0.contains("type=1326") && $0.contains("comm=\"\(name)\"") }
        #expect(entries.contains { $0.contains("syscall=203") }, "no kernel log entry for \(name); dmesg said: \(kernel.stderr)")
        // The temporary log-mode profile is gone.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("sentinel-seccomp-log-") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test("--dry-run prints the command and runs nothing")
    func dryRun() throws {
        let scratch = try Scratch(for: .unprivileged)
        let result = try DockerIsolate.run(scratch, flags: ["--dry-run", "--seccomp-mode", "off", "--proxy", "http://p:3128"], ["touch", "/workspace/ran"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("docker run --rm --read-only --cap-drop ALL --security-opt no-new-privileges:true"))
        #expect(result.stdout.contains("--security-opt seccomp=unconfined"))
        #expect(result.stdout.contains("--env https_proxy=http://p:3128"))
        #expect(result.stderr.contains("seccomp=unconfined"))
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
    }
}
