// Golden tests of the `docker run` arguments: pure, no engine. Each case pins the whole argv,
// so a reordered, dropped or added protection shows up as a diff.

import Foundation
import SentinelSandbox
import Testing

@Suite("Docker backend: docker run rendering")
struct DockerCommandLineTests {
    static let workspace = "/srv/ws"
    static let policy = "/srv/sentinel.yaml"
    static let caller = ["LANG": "C.UTF-8", "TERM": "xterm", "GITHUB_TOKEN": "ghp_secret", "OPENAI_API_KEY": "sk-1"]

    /// The original runner's argv (§6.4 step 10) up to the proxy variables.
    static let originalPrefix = [
        "run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
        "--pids-limit", "256", "--memory", "512m", "--cpus", "1.0",
        "--tmpfs", "/tmp:rw,noexec,nosuid,size=64m", "--tmpfs", "/run:rw,noexec,nosuid,size=16m",
    ]

    static func tail(user: String = "65534:65534", env: [String] = []) -> [String] {
        ["--user", user, "--init", "--hostname", "sentinel", "--ulimit", "nofile=4096:4096", "--ulimit", "core=0",
         "--env", "HOME=/workspace", "--env", "LANG=C.UTF-8",
         "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "--env", "SENTINEL_GUARD=0", "--env", "SENTINEL_POLICY_FILE=/run/sentinel/policy.yaml", "--env", "TERM=xterm"] + env
    }

    @Test("defaults: the original's argv, then user, init, limits, the scrubbed environment")
    func defaults() throws {
        let spec = SandboxSpec(command: ["python3", "app.py"], workspace: Self.workspace, policyFile: Self.policy)
        let invocation = try DockerCommandLine.render(
            spec, options: DockerRunOptions(), seccomp: .profile(path: "/p/strict.json"), user: "65534:65534",
            callerEnvironment: Self.caller)
        #expect(invocation.arguments == Self.originalPrefix + [
            "--network", "none",
            "--volume", "/srv/ws:/workspace:rw", "--volume", "/srv/sentinel.yaml:/run/sentinel/policy.yaml:ro",
            "--workdir", "/workspace",
            "--security-opt", "seccomp=/p/strict.json",
        ] + Self.tail() + ["--interactive", "--pull", "never", "--", "sentinel-guard:local", "python3", "app.py"])
        #expect(invocation.passedEnvironment.isEmpty)
        #expect(!invocation.arguments.joined(separator: " ").contains("ghp_secret"))
    }

    @Test("proxy variables in both cases and the original's order; seccomp off is unconfined")
    func proxyAndSeccompOff() throws {
        let spec = SandboxSpec(
            command: ["true"], workspace: Self.workspace, policyFile: Self.policy,
            environment: [
                "HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://proxy:3128", "http_proxy": "http://proxy:3128",
                "https_proxy": "http://proxy:3128", "NO_PROXY": "localhost", "no_proxy": "localhost",
            ])
        let invocation = try DockerCommandLine.render(
            spec, options: DockerRunOptions(image: "img:1", network: .bridge), seccomp: .unconfined, user: "1000:1000",
            callerEnvironment: Self.caller)
        #expect(invocation.arguments == Self.originalPrefix + [
            "--network", "bridge",
            "--volume", "/srv/ws:/workspace:rw", "--volume", "/srv/sentinel.yaml:/run/sentinel/policy.yaml:ro",
            "--workdir", "/workspace",
            "--env", "HTTP_PROXY=http://proxy:3128", "--env", "HTTPS_PROXY=http://proxy:3128",
            "--env", "http_proxy=http://proxy:3128", "--env", "https_proxy=http://proxy:3128",
            "--env", "NO_PROXY=localhost", "--env", "no_proxy=localhost",
            "--security-opt", "seccomp=unconfined",
        ] + Self.tail(user: "1000:1000") + ["--interactive", "--pull", "never", "--", "img:1", "true"])
    }

    @Test("limits, binds, masks, allow-listed variables by name only, a terminal")
    func everything() throws {
        var spec = SandboxSpec(
            command: ["sh", "-c", "echo 'hi there'"], workspace: Self.workspace, policyFile: nil, network: .none,
            binds: [.init(source: "/data", destination: "/data", readOnly: true), .init(source: "/out", destination: "/mnt/out", readOnly: false)],
            blockedPaths: ["/opt/secret"], environmentAllowList: ["GITHUB_TOKEN", "MISSING"], environment: ["MODE": "x"],
            limits: .init(pids: 32, memoryBytes: 1 << 30, cpus: 0.5, openFiles: 1024, tmpBytes: 1500, runBytes: 8 << 10))
        spec.hostname = "box"
        let invocation = try DockerCommandLine.render(
            spec, options: DockerRunOptions(network: .host, terminal: true), seccomp: .profile(path: "/p/log.json"),
            user: "1000:100", callerEnvironment: Self.caller)
        #expect(invocation.arguments == [
            "run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--pids-limit", "32", "--memory", "1g", "--cpus", "0.5",
            "--tmpfs", "/tmp:rw,noexec,nosuid,size=1500", "--tmpfs", "/run:rw,noexec,nosuid,size=8k",
            "--network", "host", "--volume", "/srv/ws:/workspace:rw", "--workdir", "/workspace",
            "--security-opt", "seccomp=/p/log.json",
            "--user", "1000:100", "--init", "--hostname", "box", "--ulimit", "nofile=1024:1024", "--ulimit", "core=0",
            "--env", "HOME=/workspace", "--env", "LANG=C.UTF-8", "--env", "MODE=x",
            "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env", "SENTINEL_GUARD=0", "--env", "TERM=xterm",
            "--env", "GITHUB_TOKEN",
            "--volume", "/data:/data:ro", "--volume", "/out:/mnt/out:rw",
            "--tmpfs", "/opt/secret:ro,noexec,nosuid,nodev,size=4k,mode=000",
            "--interactive", "--tty", "--pull", "never", "--", "sentinel-guard:local", "sh", "-c", "echo 'hi there'",
        ])
        // The secret's value reaches the docker client through its environment, never its argv.
        #expect(invocation.passedEnvironment == ["GITHUB_TOKEN": "ghp_secret"])
        #expect(invocation.shellText().hasSuffix("sentinel-guard:local sh -c 'echo '\\''hi there'\\'''"))
    }

    @Test("the guard inside (--guard): its audit directory mounted and named; without it, 0 and nothing mounted", arguments: [
        (true, "/srv/sentinel-audit.log.guard", [
            "--env", "SENTINEL_GUARD=1", "--env", "SENTINEL_GUARD_AUDIT_LOG=/var/log/sentinel/audit.log",
            "--env", "SENTINEL_POLICY_FILE=/run/sentinel/policy.yaml",
            "--env", "TERM=xterm", "--volume", "/srv/sentinel-audit.log.guard:/var/log/sentinel:rw",
        ]),
        (true, nil, ["--env", "SENTINEL_GUARD=1", "--env", "SENTINEL_POLICY_FILE=/run/sentinel/policy.yaml", "--env", "TERM=xterm"]),
        (false, "/srv/sentinel-audit.log.guard", [
            "--env", "SENTINEL_GUARD=0", "--env", "SENTINEL_POLICY_FILE=/run/sentinel/policy.yaml", "--env", "TERM=xterm",
        ]),
    ])
    func guardInside(enabled: Bool, directory: String?, expected: [String]) throws {
        let spec = SandboxSpec(command: ["true"], workspace: Self.workspace, policyFile: Self.policy)
        let invocation = try DockerCommandLine.render(
            spec, options: DockerRunOptions(guardInContainer: enabled, guardAuditDirectory: directory),
            seccomp: .profile(path: "/p/strict.json"), user: "65534:65534", callerEnvironment: Self.caller)
        let arguments = invocation.arguments
        let start = try #require(arguments.firstIndex(of: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")) + 1
        let end = try #require(arguments.firstIndex(of: "--interactive"))
        #expect(Array(arguments[start..<end]) == expected)
    }

    @Test("proxied: the sandbox joins only the run's internal network, its proxy variables and the guard name the proxy")
    func proxiedSandbox() throws {
        var topology = DockerProxiedNetwork(runID: "1-2")
        topology.proxyAddress = "172.30.0.2"
        var options = DockerRunOptions(network: .proxied, guardInContainer: true, guardAuditDirectory: "/srv/a.guard")
        options.proxiedNetwork = topology
        let spec = SandboxSpec(command: ["true"], workspace: Self.workspace, policyFile: Self.policy, network: .proxied)
        let arguments = try DockerCommandLine.render(
            spec, options: options, seccomp: .profile(path: "/p/strict.json"), user: "65534:65534", callerEnvironment: Self.caller
        ).arguments
        let network = try #require(arguments.firstIndex(of: "--network"))
        #expect(arguments[network + 1] == "sentinel-proxied-1-2")
        #expect(arguments.filter { $0 == "--network" }.count == 1)
        let environment = Set(zip(arguments, arguments.dropFirst()).filter { $0.0 == "--env" }.map(\.1))
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"] {
            #expect(environment.contains("\(name)=http://172.30.0.2:3128"), "\(name)")
        }
        #expect(environment.contains("NO_PROXY=localhost,127.0.0.1,::1"))
        #expect(environment.contains("SENTINEL_GUARD_ALLOW_CONNECT=172.30.0.2:3128"))
        // Without the guard there is nothing to tell it.
        options.guardInContainer = false
        let unguarded = try DockerCommandLine.render(
            spec, options: options, seccomp: .profile(path: "/p/strict.json"), user: "65534:65534", callerEnvironment: Self.caller)
        #expect(!unguarded.arguments.contains { $0.hasPrefix("SENTINEL_GUARD_ALLOW_CONNECT") })
    }

    @Test("proxied: the proxy container is hardened, on the internal network, and runs sentinel proxy with the run's files")
    func proxyContainer() throws {
        let topology = DockerProxiedNetwork(runID: "1-2")
        #expect(topology.networkArguments(runID: "1-2") == [
            "network", "create", "--internal", "--label", "org.sentinel-guard.run=1-2", "sentinel-proxied-1-2",
        ])
        let settings = DockerProxiedNetwork.ProxySettings(
            image: "sentinel-guard:local", user: "1000:1000", policyFile: "/srv/sentinel.yaml", hostsFile: "/srv/hosts",
            auditDirectory: "/srv/a.proxy", seccomp: .profile(path: "/p/strict.json"))
        #expect(try topology.proxyArguments(settings, runID: "1-2") == [
            "run", "--detach", "--rm", "--name", "sentinel-proxy-1-2", "--label", "org.sentinel-guard.run=1-2",
            "--network", "sentinel-proxied-1-2", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--security-opt", "seccomp=/p/strict.json", "--user", "1000:1000", "--init",
            "--pids-limit", "256", "--memory", "256m", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m",
            "--ulimit", "nofile=8192:8192", "--ulimit", "core=0",
            "--volume", "/srv/a.proxy:/var/log/sentinel:rw",
            "--volume", "/srv/sentinel.yaml:/opt/sentinel/policy.yaml:ro", "--volume", "/srv/hosts:/opt/sentinel/hosts:ro",
            "--entrypoint", "/opt/sentinel/bin/sentinel", "--pull", "never", "sentinel-guard:local",
            "proxy", "--listen", "0.0.0.0:3128", "--audit-log", "/var/log/sentinel/proxy-audit.log",
            "--policy", "/opt/sentinel/policy.yaml", "--hosts-file", "/opt/sentinel/hosts",
        ])
    }

    @Test("proxied with inspected hosts: the proxy gets its CA copy and the credentials by name; the sandbox the certificate only")
    func inspectedHosts() throws {
        var topology = DockerProxiedNetwork(runID: "1-2")
        topology.proxyAddress = "172.30.0.2"
        topology.certificates = DockerCertificateCopies(root: "/tmp/sentinel-docker-ca-x")
        let inspection = DockerProxyInspection(caDirectory: "/home/u/.local/state/sentinel/ca", upstreamCA: "/srv/up.pem", injectedVariables: ["GITHUB_TOKEN"])
        let settings = DockerProxiedNetwork.ProxySettings(
            image: "sentinel-guard:local", user: "1000:1000", policyFile: "/srv/sentinel.yaml", hostsFile: nil,
            auditDirectory: "/srv/a.proxy", seccomp: .profile(path: "/p/strict.json"), inspection: inspection)
        let proxy = try topology.proxyArguments(settings, runID: "1-2")
        #expect(proxy.contains("/tmp/sentinel-docker-ca-x/proxy:/opt/sentinel/ca:rw"))
        #expect(proxy.suffix(4) == ["--ca-dir", "/opt/sentinel/ca", "--upstream-ca", "/opt/sentinel/ca/upstream.pem"])
        let named = try #require(proxy.firstIndex(of: "GITHUB_TOKEN"))
        #expect(proxy[named - 1] == "--env", "a credential goes by name, so its value is on no command line")
        #expect(!proxy.contains { $0.contains("/home/u/.local/state") }, "the caller's CA directory is never mounted")

        var options = DockerRunOptions(network: .proxied)
        options.proxiedNetwork = topology
        options.proxyInspection = inspection
        let spec = SandboxSpec(command: ["true"], workspace: Self.workspace, policyFile: Self.policy, network: .proxied)
        let sandbox = try DockerCommandLine.render(
            spec, options: options, seccomp: .profile(path: "/p/strict.json"), user: "65534:65534",
            callerEnvironment: Self.caller.merging(["GITHUB_TOKEN": "ghp_secret"]) { $1 }).arguments
        #expect(sandbox.contains("/tmp/sentinel-docker-ca-x/sandbox:/run/sentinel-ca:ro"))
        #expect(!sandbox.contains { $0.contains("/proxy:") || $0.contains("GITHUB_TOKEN") || $0.contains("ghp_secret") })
        let environment = Set(zip(sandbox, sandbox.dropFirst()).filter { $0.0 == "--env" }.map(\.1))
        #expect(environment.isSuperset(of: [
            "SSL_CERT_FILE=/run/sentinel-ca/ca-bundle.pem", "REQUESTS_CA_BUNDLE=/run/sentinel-ca/ca-bundle.pem",
            "CURL_CA_BUNDLE=/run/sentinel-ca/ca-bundle.pem", "NODE_EXTRA_CA_CERTS=/run/sentinel-ca/ca.pem",
        ]))
    }

    @Test("what Docker cannot express is refused with a sentence", arguments: [
        ("/srv/a:b", "contains ':'"),
        ("/srv/a,b", "contains ':'"),
        ("relative", "absolute path"),
    ])
    func unrepresentable(workspace: String, fragment: String) {
        let spec = SandboxSpec(command: ["true"], workspace: workspace)
        #expect {
            try DockerCommandLine.render(spec, options: DockerRunOptions(), seccomp: .unconfined, user: "1:1", callerEnvironment: [:])
        } throws: { error in
            (error as? SandboxError)?.description.contains(fragment) == true
        }
    }

    @Test("root is never the container user", arguments: ["0:0", "0:1000", "root", "1000", ""])
    func rootRefused(user: String) {
        let spec = SandboxSpec(command: ["true"], workspace: "/srv/ws")
        #expect(throws: SandboxError.self) {
            try DockerCommandLine.render(spec, options: DockerRunOptions(), seccomp: .unconfined, user: user, callerEnvironment: [:])
        }
    }

    @Test("the container user: the workspace owner, else the caller, else the fallback; never root", arguments: [
        ((UInt32(1000), UInt32(100)), (UInt32(0), UInt32(0)), "1000:100"),
        ((0, 0), (1001, 1001), "1001:1001"),
        ((0, 0), (0, 0), "65534:65534"),
        ((1000, 100), (1001, 1001), "1000:100"),
    ] as [((UInt32, UInt32), (UInt32, UInt32), String)])
    func identity(owner: (UInt32, UInt32), caller: (UInt32, UInt32), expected: String) {
        #expect(DockerIdentity.choose(workspaceOwner: owner, caller: caller, fallback: 65534) == expected)
    }

    @Test("sizes in Docker's notation", arguments: [
        (Int64(512 << 20), "512m"), (1 << 30, "1g"), (64 << 20, "64m"), (1536 << 20, "1536m"), (4096, "4k"), (1500, "1500"),
    ])
    func sizes(bytes: Int64, text: String) {
        #expect(DockerSize.render(bytes) == text)
    }

    @Test("shell quoting for --dry-run", arguments: [
        ("plain/path-1.0:x=y,z", "plain/path-1.0:x=y,z"), ("two words", "'two words'"), ("it's", "'it'\\''s'"), ("", "''"),
        ("$(id)", "'$(id)'"),
    ])
    func quoting(word: String, quoted: String) {
        #expect(ShellQuote.quote(word) == quoted)
    }

    @Test("production refuses a networked container unless the exception is set", arguments: [
        (["SENTINEL_PRODUCTION": "true"], DockerNetwork.bridge, true),
        (["SENTINEL_PRODUCTION": "yes"], .host, true),
        (["SENTINEL_ENV": "production"], .bridge, true),
        (["SENTINEL_PRODUCTION": "true"], .none, false),
        (["SENTINEL_PRODUCTION": "true"], .proxied, false),
        (["SENTINEL_PRODUCTION": "true", "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION": "1"], .bridge, false),
        (["SENTINEL_PRODUCTION": "false"], .bridge, false),
        ([:], .bridge, false),
    ])
    func production(environment: [String: String], network: DockerNetwork, refused: Bool) {
        // No policy file: only the network rule is in question.
        let spec = SandboxSpec(command: ["true"], workspace: Self.workspace)
        let thrown = (try? SandboxProduction.check(
            spec, networkIsolated: network == .none || network == .proxied, landlockIsSentinels: false, environment: environment)) == nil
        #expect(thrown == refused)
    }

    @Test("production passes into the container: the verified policy's digest, immutability and the network exception")
    func productionEnvironment() throws {
        var options = DockerRunOptions()
        options.productionPolicySHA256 = String(repeating: "ab", count: 32)
        let spec = SandboxSpec(command: ["true"], workspace: Self.workspace, policyFile: Self.policy)
        let production = try DockerCommandLine.render(
            spec, options: options, seccomp: .unconfined, user: "1000:1000",
            callerEnvironment: ["SENTINEL_ENV": "production", "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION": "yes"])
        for pair in ["SENTINEL_PRODUCTION=true", "SENTINEL_POLICY_IMMUTABLE=true", "SENTINEL_POLICY_SHA256=\(String(repeating: "ab", count: 32))",
                     "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION=true", "SENTINEL_CONTAINER_NETWORK=none"] {
            #expect(production.arguments.contains(pair), "\(pair) missing: \(production.arguments)")
        }
        let ordinary = try DockerCommandLine.render(spec, options: options, seccomp: .unconfined, user: "1000:1000", callerEnvironment: [:])
        #expect(!ordinary.arguments.contains { $0.hasPrefix("SENTINEL_PRODUCTION") || $0.hasPrefix("SENTINEL_POLICY_SHA256") })
    }

    @Test("log mode writes a copy with defaultAction SCMP_ACT_LOG and removes it; off needs no file")
    func seccompFiles() throws {
        let log = try DockerSeccompFile.prepare(.init(mode: .log, builtinProfile: "strict"))
        let directory = try #require(log.temporaryDirectory)
        guard case .profile(let path) = log.option else { Issue.record("no file"); return }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"defaultAction\": \"SCMP_ACT_LOG\""))
        #expect(!text.contains("defaultErrnoRet"))
        // The explicit rules stay: clone3 still answers ENOSYS.
        #expect(text.contains("clone3"))
        log.remove()
        #expect(!FileManager.default.fileExists(atPath: directory))

        let off = try DockerSeccompFile.prepare(.init(mode: .off))
        #expect(off.option == .unconfined)
        #expect(off.temporaryDirectory == nil)
        #expect(off.warnings.first?.contains("seccomp=unconfined") == true)

        #expect(throws: SandboxError.self) { try DockerSeccompFile.prepare(.init(mode: .enforce, profilePath: "/nonexistent.json")) }
    }
}

@Suite("Docker backend: the built-in copies of the image files")
struct DockerBundleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("DockerBundle matches Dockerfile and scripts/entrypoint.sh", arguments: [
        ("Dockerfile", DockerBundle.dockerfile), ("scripts/entrypoint.sh", DockerBundle.entrypoint),
    ])
    func identical(file: String, text: String) throws {
        let onDisk = try String(contentsOf: Self.root.appendingPathComponent(file), encoding: .utf8)
        #expect(onDisk == text + "\n", "regenerate DockerBundle.swift from \(file)")
    }
}
