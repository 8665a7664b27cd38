// The workload suite: what a coding agent runs every day (pytest, git, make with gcc, pip into a
// venv, tar, an agent that runs tools, the same agent behind a pyenv-style shim, an agent in a
// venv whose only way out is the proxy), each under `sentinel guard`, in the native sandbox and in
// a container, the sandboxes with and without the guard inside. The policies are the ones in
// examples/, as written there (docs/WORKLOADS.md).

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite(
    "real workloads under sentinel guard and sentinel-isolate", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(Workloads.baseImage)), .requires(.executable("pytest", package: "python3-pytest")),
    .requires(.executable("git", package: "git")), .requires(.executable("gcc", package: "gcc")),
    .requires(.executable("make", package: "make")), .requires(.executable("openssl", package: "openssl")),
    .requires(
        MachineRequirement(missing: "needs python3's venv module (Debian package python3-venv)") {
            runQuietly("/usr/bin/python3", ["-c", "import ensurepip"]) == 0
        }))
struct WorkloadTests {
    @Test(
        "pytest: the project's tests pass, and the one that writes outside the project fails with the reason",
        arguments: Way.allCases)
    func pytest(way: Way) throws {
        let scratch = try WorkloadScratch("pytest", way)
        let run = try scratch.run(["pytest", "-q"])
        try scratch.expectWay(run)
        #expect(run.status == 1, "\(run.output)")
        #expect(run.stdout.contains("1 failed, 3 passed"), "\(run.output)")
        #expect(run.stdout.contains("FAILED test_outside.py::test_write_outside_the_project"), "\(run.output)")
        #expect(!FileManager.default.fileExists(atPath: scratch.base + "/outside.txt"))
        if way.isGuarded {
            // The test's own stderr, which pytest shows with the failure, says what was refused and why.
            let outside = way.isSandboxed ? "/outside.txt" : scratch.base + "/outside.txt"
            #expect(run.stdout.contains("sentinel: refused file write of \(outside): "), "\(run.output)")
            #expect(run.stdout.contains("[default:allowed_paths]"), "\(run.output)")
            #expect(run.rules("file_write") { $0 == outside } == ["deny default:allowed_paths"])
            // The test that starts a program: its exec was let through, under pytest's trust_children.
            #expect(
                run.rules("exec") { $0.hasSuffix("calc.py 2 40") } == ["allow allowed_commands[0].trust_children"],
                "\(run.guardRecords)")
        } else {
            // Without the guard the sandbox's walls answer: its root is read-only.
            #expect(run.stdout.contains("Read-only file system"), "\(run.output)")
        }
    }

    @Test("git: init, add, commit with a pre-commit hook, clone of the local repository", arguments: Way.allCases)
    func git(way: Way) throws {
        let scratch = try WorkloadScratch("git", way)
        let run = try scratch.run(["sh", "-c", try Workloads.script("git/commands.sh")])
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.stdout.hasSuffix("First commit\n"), "\(run.output)")
        #expect(run.output.contains("pre-commit hook checked: README.md"), "\(run.output)")
        #expect(scratch.read("clone/README.md") == "# A project\n")
        if way.isGuarded {
            // Every git command was decided; what git started (the hook, its shell, upload-pack) ran
            // under the entry's trust_children, and was recorded.
            #expect(
                run.rules("exec") { $0.hasPrefix("git -C project commit") } == ["allow allowed_commands[2]"],
                "\(run.guardRecords)")
            #expect(
                run.rules("exec") { $0.contains("pre-commit") }.contains("allow allowed_commands[2].trust_children"),
                "\(run.guardRecords)")
            // Nothing git wrote was refused (it unlinks each object's temporary name after linking it).
            #expect(run.rules("file_write") { _ in true }.allSatisfy { $0.hasPrefix("allow") }, "\(run.guardRecords)")
            #expect(!run.output.contains("sentinel: refused"), "\(run.output)")
        }
    }

    @Test("make: gcc builds a C program and the check recipe runs it", arguments: Way.allCases)
    func make(way: Way) throws {
        let scratch = try WorkloadScratch("make", way)
        let run = try scratch.run(["make"])
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        #expect(scratch.read("greeting.txt") == "hello, make\n", "\(run.output)")
        #expect(FileManager.default.isExecutableFile(atPath: scratch.workspace + "/hello"))
        if way.isGuarded {
            #expect(
                run.rules("exec") { $0.hasPrefix("gcc ") }.allSatisfy {
                    $0 == "allow allowed_commands[1].trust_children"
                })
            #expect(run.rules("exec") { $0.hasPrefix("gcc ") }.count == 3, "\(run.guardRecords)")
            #expect(
                run.rules("file_write") { $0.hasSuffix("/greeting.txt") } == ["allow allowed_paths[0]"],
                "\(run.guardRecords)")
        }
    }

    @Test("pip: install --no-index of a locally built wheel into a venv in the workspace", arguments: Way.allCases)
    func pip(way: Way) throws {
        let scratch = try WorkloadScratch("pip", way)
        let run = try scratch.run(["sh", "-c", try Workloads.script("wheel/install.sh")])
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.stdout.contains("Successfully installed sentinel-workload-demo-1.0"), "\(run.output)")
        #expect(run.stdout.hasSuffix("hello from a local wheel\n"), "\(run.output)")
        #expect(
            FileManager.default.fileExists(
                atPath: scratch.workspace + "/.venv/lib/python3.11/site-packages/sentinel_workload_demo/__init__.py"))
        if way.isGuarded {
            #expect(
                run.rules("exec") { $0 == "python3 -m venv .venv" } == ["allow allowed_commands[3]"],
                "\(run.guardRecords)")
            #expect(!run.rules("file_write") { $0.contains("/site-packages/sentinel_workload_demo/") }.isEmpty)
        }
    }

    @Test("tar: a 1,500-file tarball is extracted into the workspace", arguments: Way.allCases)
    func tar(way: Way) throws {
        let scratch = try WorkloadScratch("tar", way)
        let run = try scratch.run(["tar", "-xzf", "files.tar.gz"])
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        var files = 0
        for directory in 0..<30 {
            for number in 0..<50 {
                let name = String(format: "tree/dir-%02d/file-%03d.txt", directory, number)
                if scratch.read(name) == String(format: "file %02d/%03d\n", directory, number) { files += 1 }
            }
        }
        #expect(files == 1500)
        if way.isGuarded {
            // Every file's open for writing was decided and recorded (tar opens a directory's first
            // file twice: once before it makes the directory, once after).
            let writes = run.records("file_write") { $0.contains("/tree/dir-") && $0.hasSuffix(".txt") }
            #expect(Set(writes.compactMap { $0["target"] as? String }).count == 1500, "\(writes.count) writes recorded")
            #expect(writes.allSatisfy { $0["decision"] as? String == "allow" })
            #expect(
                run.rules("exec") { $0 == "gzip -d" } == ["allow allowed_commands[5]"],
                "\(run.rules("exec") { _ in true })")
        }
    }

    /// How the agent is started.
    enum AgentStart: String, CaseIterable, CustomTestStringConvertible, Sendable {
        /// `python3 agent.py`, python3 being the interpreter itself.
        case direct = "python3"
        /// `python3 agent.py` where python3 is a pyenv-style shim on the PATH (`#!/usr/bin/env
        /// bash`, subshells, then exec of the real interpreter).
        case shim = "python3 through a pyenv-style shim"
        var testDescription: String { rawValue }
    }

    @Test(
        "an agent runs the tools its policy allows through subprocess and is refused the others",
        arguments: AgentStart.allCases, Way.allCases)
    func agent(start: AgentStart, way: Way) throws {
        let scratch = try WorkloadScratch(start == .shim ? "shim" : "agent", way)
        var environment: [String: String] = [:]
        if start == .shim { environment["PATH"] = scratch.workspaceInside + "/.shims:/usr/local/bin:/usr/bin:/bin" }
        let run = try scratch.run(["python3", "agent.py"], environment: environment)
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        var lines = run.stdout.split(separator: "\n").map(String.init)
        // The shim ran (it names the version it picked) and ended in the real interpreter.
        #expect(
            lines.first == "agent: /usr/bin/python3" + (start == .shim ? " (shim, version system)" : ""),
            "\(run.output)")
        lines = Array(lines.dropFirst())
        if way.isGuarded {
            #expect(
                lines == [
                    "ran ls agent.py: exit 0", "ran git --version: exit 0", "refused sh -c id: Permission denied",
                    "refused id: Permission denied", "refused git push origin main: Permission denied",
                ], "\(run.output)")
            // Each refused process said why on the agent's stderr, and the log has each refusal with its rule.
            for (target, rule) in Self.refusals {
                #expect(run.stderr.contains("sentinel: refused exec of \(target): "), "\(run.stderr)")
                #expect(run.stderr.contains("[\(rule)]"), "\(run.stderr)")
                #expect(run.rules("exec") { $0 == target } == ["deny \(rule)"], "\(run.guardRecords)")
            }
            #expect(run.rules("exec") { $0 == "ls agent.py" } == ["allow allowed_commands[6]"])
            if start == .shim {
                // The shim's steps are the operator's chain: recorded, let through; the chain ends at
                // the real interpreter, whose children are decided (the refusals above).
                let chain = run.rules("exec") { $0.contains("basename") || $0.contains(".shims/python3") }
                #expect(
                    !chain.isEmpty && chain.allSatisfy { $0 == "allow guard:operator-command" }, "\(run.guardRecords)")
                #expect(
                    run.rules("exec") { $0 == "/usr/bin/python3 agent.py" } == ["allow guard:operator-command"],
                    "\(run.guardRecords)")
            }
        } else {
            // No guard: the boundary is the sandbox; the tools run inside it, as its unprivileged user.
            #expect(
                lines == [
                    "ran ls agent.py: exit 0", "ran git --version: exit 0", "ran sh -c id: exit 0", "ran id: exit 0",
                    "ran git push origin main: exit 128",
                ], "\(run.output)")
            let records = try Workloads.records(scratch.runLog).compactMap { $0["action"] as? String }
            #expect(records == ["run_start", "run_end"])
        }
    }

    @Test(
        "an agent in a venv in the workspace reaches the one allowed HTTPS host through the proxy, and no other",
        arguments: Way.allCases)
    func proxiedAgent(way: Way) throws {
        let scratch = try WorkloadScratch("proxied", way, policy: "examples/agent/sentinel.yaml")
        let server = try StandInHost(scratch)
        defer { server.stop() }
        let certificate = ["SSL_CERT_FILE": scratch.workspaceInside + "/demo-ca.pem"]
        let run: WorkloadOutcome
        let proxyLog: String
        if way == .guardOnHost {
            // No sandbox, so no proxied network: the agent is given a `sentinel proxy` on loopback,
            // the one address the guard lets it connect to.
            let proxy = try HostProxy(scratch)
            defer { proxy.stop() }
            let url = "http://\(proxy.endpoint)"
            run = try scratch.run(
                [".venv/bin/python", "agent.py"],
                environment: certificate.merging(["HTTPS_PROXY": url, "https_proxy": url]) { $1 },
                guardFlags: ["--allow-connect", proxy.endpoint])
            proxyLog = proxy.log
        } else {
            run = try scratch.run(
                [".venv/bin/python", "agent.py"], environment: certificate,
                flags: ["--network", "proxied", "--proxy-hosts-file", scratch.base + "/hosts"])
            proxyLog = way.isDocker ? scratch.base + "/sentinel-audit.log.proxy/proxy-audit.log" : scratch.runLog
        }
        try scratch.expectWay(run)
        #expect(run.status == 0, "\(run.output)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "python: \(scratch.workspaceInside)/.venv", "\(run.output)")
        #expect(lines.contains("allowed host: 200 hello from api.example.test"), "\(run.output)")
        #expect(lines.contains("another host: failed: Tunnel connection failed: 403 Forbidden"), "\(run.output)")
        #expect(lines.contains { $0.hasPrefix("around the proxy: failed: ") }, "\(run.output)")
        #expect(server.requests == 1, "only the allowed request reached the host")
        // The proxy decided by name, and recorded both.
        let decisions = try Workloads.records(proxyLog).filter { $0["mode"] as? String == "proxy" }
        func decided(_ host: String) -> [String] {
            decisions.filter { ($0["target"] as? String ?? "").contains(host) }
                .map { "\($0["decision"] as? String ?? "?") \($0["rule"] as? String ?? "?")" }
        }
        #expect(decided("api.example.test").first?.hasPrefix("allow") == true, "\(decisions)")
        #expect(decided("other.example.test") == ["deny default:allowed_hosts"], "\(decisions)")
        if way.isGuarded {
            // Inside, the guard let the agent connect to the proxy, and only to it.
            #expect(run.rules("connect") { _ in true }.contains("allow guard:trusted-endpoint"), "\(run.guardRecords)")
            #expect(
                !run.rules("connect") { _ in true }.contains {
                    $0.hasPrefix("allow") && $0 != "allow guard:trusted-endpoint"
                })
        }
    }

    /// An opt-in of examples/workloads.yaml taken away, and what the guard then refuses.
    struct WithoutOptIn: CustomTestStringConvertible, Sendable {
        var workload: String
        /// Lines of the policy replaced (a line to its replacement; "" removes it).
        var edits: [(String, String)]
        /// The command; `@FILE` stands for the text of examples/workloads/FILE.
        var command: [String]
        /// The start of the refused exec's command line, and the rule that refuses it.
        var refused: String
        var rule: String
        var testDescription: String {
            "\(workload) without \(edits.map { $0.0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))"
        }
    }

    static let withoutOptIns = [
        WithoutOptIn(
            workload: "make", edits: [("  - {command: make, trust_children: true}", "  - make")], command: ["make"],
            refused: "gcc -O2 -Wall -Werror -c -o main.o main.c", rule: "default:allowed_commands"),
        WithoutOptIn(
            workload: "git",
            edits: [
                ("  - {command: git, trust_children: true, args_deny: [push]}", "  - {command: git, args_deny: [push]}")
            ],
            command: ["sh", "-c", "@git/commands.sh"], refused: "", rule: "default:allowed_commands"),
        WithoutOptIn(
            workload: "pytest",
            edits: [
                ("  - {command: pytest, trust_children: true}", "  - pytest"),
                ("  - {command: python3, allow_interpreter: true}", ""),
            ],
            command: ["pytest", "-q"], refused: "/usr/bin/python3 calc.py 2 40", rule: "builtin:interpreter-denylist"),
        WithoutOptIn(
            workload: "pip", edits: [("  - {command: python3, allow_interpreter: true}", "")],
            command: ["sh", "-c", "@wheel/install.sh"],
            refused: "python3 -m venv .venv", rule: "builtin:interpreter-denylist"),
    ]

    @Test(
        "each opt-in of the example policy is needed: without it the guard refuses the workload's tool, saying why",
        arguments: withoutOptIns)
    func withoutOptIn(_ case: WithoutOptIn) throws {
        let scratch = try WorkloadScratch(`case`.workload, .guardOnHost) { text in
            `case`.edits.reduce(text) { text, edit in
                #expect(text.contains(edit.0 + "\n"), "examples/workloads.yaml no longer has \(edit.0)")
                return text.replacingOccurrences(of: edit.0 + "\n", with: edit.1.isEmpty ? "" : edit.1 + "\n")
            }
        }
        let run = try scratch.run(
            try `case`.command.map { $0.hasPrefix("@") ? try Workloads.script(String($0.dropFirst())) : $0 })
        #expect(run.status != 0, "\(run.output)")
        let refusal = run.output.split(separator: "\n").first {
            $0.hasPrefix("sentinel: refused exec of \(`case`.refused)")
        }
        #expect(refusal?.hasSuffix("[\(`case`.rule)]") == true, "\(run.output)")
        #expect(
            run.rules("exec") { $0.hasPrefix(`case`.refused) }.contains("deny \(`case`.rule)"), "\(run.guardRecords)")
    }

    /// What the agent is refused under the guard, and the rule that refuses it.
    static let refusals = [
        ("sh -c id", "builtin:interpreter-denylist"), ("id", "default:allowed_commands"),
        ("git push origin main", "allowed_commands[2].args_deny[0]"),
    ]
}

/// The HTTPS host the proxied agent may reach: examples/agent/serve_https.py with a CA of its own,
/// on a loopback address of the host (for the host's proxy) or in a container on Docker's bridge
/// (for the proxy container of `--backend docker`). The names in the proxy's hosts file lead to it.
final class StandInHost {
    private let scratch: WorkloadScratch
    private let container: String?
    private let pidFile: String

    init(_ scratch: WorkloadScratch) throws {
        self.scratch = scratch
        pidFile = scratch.base + "/server.pid"
        let script = Workloads.repository + "/examples/agent/serve_https.py"
        let address: String
        if scratch.way.isDocker {
            let name = "sentinel-workload-https-\(getpid())"
            container = name
            let directory = scratch.base + "/server"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: script, toPath: directory + "/serve_https.py")
            try scratch.chownTree()
            let started = try DockerIsolate.docker([
                "run", "--detach", "--rm", "--name", name, "--user", "65534:65534", "--volume", directory + ":/server",
                "--entrypoint", "python3", Workloads.baseImage, "/server/serve_https.py", "--foreground", "--address",
                "0.0.0.0",
                "--ca", "/server/demo-ca.pem", "--lifetime", "300",
            ])
            try #require(started.status == 0, "\(started.stderr)")
            var serving = false
            for _ in 0..<150 where !serving {
                let logs = try DockerIsolate.docker(["logs", name])
                serving = (logs.stdout + logs.stderr).contains("serve_https: https://")
                if !serving { usleep(100_000) }
            }
            try #require(serving, "the stand-in host did not start")
            address = try DockerIsolate.docker([
                "inspect", "--format", "{{.NetworkSettings.Networks.bridge.IPAddress}}", name,
            ])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try FileManager.default.copyItem(
                atPath: directory + "/demo-ca.pem", toPath: scratch.workspace + "/demo-ca.pem")
        } else {
            container = nil
            // An address of its own on loopback, so nothing else on the machine shares its port.
            address = "127.77.0.1"
            let started = try ChildProcess.run(
                "/usr/bin/python3",
                [
                    script, "--address", address, "--ca", scratch.workspace + "/demo-ca.pem", "--pid-file", pidFile,
                    "--log", scratch.base + "/server.log", "--lifetime", "300",
                ],
                environment: Workloads.hostEnvironment)
            try #require(started.status == 0, "\(started.stderr)")
        }
        try "\(address) api.example.test other.example.test\n".write(
            toFile: scratch.base + "/hosts", atomically: false, encoding: .utf8)
        try scratch.chownTree()
    }

    /// How many requests the host answered (from its log: one line per request).
    var requests: Int {
        guard let container else { return requestsFromLog }
        let logs = (try? DockerIsolate.docker(["logs", container])).map { $0.stdout + $0.stderr } ?? ""
        return logs.components(separatedBy: "\"GET ").count - 1
    }

    private var requestsFromLog: Int {
        let log = (try? String(contentsOfFile: scratch.base + "/server.log", encoding: .utf8)) ?? ""
        return log.components(separatedBy: "\"GET ").count - 1
    }

    func stop() {
        if let container {
            _ = try? DockerIsolate.docker(["rm", "--force", container])
        } else if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGTERM)
        }
    }
}

/// `sentinel proxy` on a loopback port the kernel picks, with the run's policy and hosts file:
/// what `--network proxied` gives a sandbox, for a program under `sentinel guard` on the host.
final class HostProxy {
    let process = SpawnedProcess()
    let log: String
    private(set) var endpoint = ""

    init(_ scratch: WorkloadScratch) throws {
        log = scratch.base + "/proxy-audit.log"
        let output = scratch.base + "/proxy.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        defer { try? handle.close() }
        process.executableURL = URL(fileURLWithPath: Isolate.sentinelBinary)
        process.arguments = [
            "proxy", "--listen", "127.0.0.1:0", "--policy", scratch.policy, "--hosts-file", scratch.base + "/hosts",
            "--audit-log", log,
        ]
        process.environment = Workloads.hostEnvironment
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        for _ in 0..<150 where endpoint.isEmpty {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on ") {
                endpoint = String(text[range.upperBound...].prefix { !$0.isWhitespace })
            } else {
                usleep(100_000)
            }
        }
        try #require(
            !endpoint.isEmpty,
            "sentinel proxy did not start: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
