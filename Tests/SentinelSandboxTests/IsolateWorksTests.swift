// What must work inside the sandbox: scripts, the workspace, /usr, exit codes, signals, stdio and
// a terminal. Every test runs the real binary, as root and as an unprivileged user.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("sentinel-isolate runs commands", .serialized, .requires(.root))
struct IsolateWorksTests {
    @Test("a shell script's exit code comes back", arguments: Caller.allCases)
    func exitCode(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "echo out; echo err >&2; exit 7"])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stdout == "out\n")
        #expect(result.stderr.contains("err\n"))
    }

    @Test("a single file from the host's /tmp is bound where asked (its path is gone once /tmp is replaced)", arguments: Caller.allCases)
    func singleFileFromTmp(caller: Caller) throws {
        let scratch = try Scratch(for: caller)  // under the host's /tmp
        try "bound file\n".write(toFile: scratch.base + "/note.txt", atomically: false, encoding: .utf8)
        chmod(scratch.base + "/note.txt", 0o644)
        let result = try Isolate.run(caller, scratch, flags: ["--ro-bind", scratch.base + "/note.txt:/.extra/note.txt"],
                                     ["cat", "/.extra/note.txt"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "bound file\n")
    }

    @Test("python writes the workspace, reads /usr, runs as an unprivileged id", arguments: Caller.allCases)
    func pythonAndWorkspace(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let script = """
            import os
            open('/workspace/result.txt', 'w').write('written by ' + str(os.getuid()))
            print(os.getcwd(), os.getuid(), os.path.exists('/usr/bin/python3'), open(os.environ['SENTINEL_POLICY_FILE']).read().strip())
            """
        let result = try Isolate.run(caller, scratch, ["python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "/workspace \(caller.workloadUID) True allowed_paths: [./ws]\n")
        let written = try String(contentsOfFile: scratch.workspace + "/result.txt", encoding: .utf8)
        #expect(written == "written by \(caller.workloadUID)")
        // On the host the file belongs to the workspace's owner (idmapped for root callers).
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.workspace + "/result.txt")
        #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == (caller == .root ? 0 : 65534))
    }

    @Test("the policy is read-only inside, outside the workspace, and its directory cannot be replaced", arguments: Caller.allCases)
    func policyReadOnly(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, [
            "/bin/sh", "-c",
            "echo changed > \"$SENTINEL_POLICY_FILE\" || echo refused; mv /run/sentinel /run/other 2>/dev/null || echo kept; "
                + "mkdir -p /run/fake && echo forged > /run/fake/policy.yaml && mv /run/fake /run/sentinel 2>/dev/null || echo kept; "
                + "cat /run/sentinel/policy.yaml",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Read-only file system"), "\(result.stderr)")
        #expect(result.stdout.hasPrefix("refused\n"), "\(result.stdout)")
        #expect(result.stdout.hasSuffix("kept\nkept\n" + Scratch.policyText), "\(result.stdout)")
        #expect(try String(contentsOfFile: scratch.policy, encoding: .utf8) == Scratch.policyText)
    }

    @Test("stdin passes through", arguments: Caller.allCases)
    func stdinPassesThrough(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "read line; echo got:$line"], stdin: "hello\n")
        #expect(result.status == 0)
        #expect(result.stdout == "got:hello\n")
    }

    @Test("a workload killed by signal N exits 128+N", arguments: [(SIGTERM, Int32(143)), (SIGKILL, Int32(137))])
    func killedBySignal(signal: Int32, expected: Int32) throws {
        let scratch = try Scratch(for: .root)
        let result = try Isolate.run(.root, scratch, ["/bin/sh", "-c", "kill -\(signal) $$"])
        #expect(result.status == expected, "\(result.stderr)")
    }

    @Test("SIGTERM to the launcher reaches the workload", arguments: Caller.allCases)
    func sigtermIsForwarded(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        var arguments = [Isolate.binary, "--workspace", scratch.workspace, "--policy", scratch.policy, "--",
                         "/bin/sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 1; done"]
        var executable = arguments.removeFirst()
        if caller == .unprivileged {
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", executable] + arguments
            executable = "/usr/bin/setpriv"
        }
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.base)
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let watchdog = Watchdog(pid: process.processIdentifier, after: 60)
        // Wait until the workload says it is ready (its trap is installed), then signal.
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        kill(process.processIdentifier, SIGTERM)
        seen.append(out.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(!watchdog.cancel(), "the launcher did not end after SIGTERM and was killed")
        #expect(String(decoding: seen, as: UTF8.self) == "ready\ngot-term\n")
        #expect(process.terminationStatus == 42)
    }

    @Test("an interactive terminal works (under script(1))", .requires(.executable("script", package: "bsdutils")))
    func terminal() throws {
        let scratch = try Scratch(for: .root)
        let inner = "\(Isolate.binary) --workspace \(scratch.workspace) --policy \(scratch.policy) -- "
            + "/bin/sh -c 'test -t 0 && test -t 1 && echo TTY-OK; read x; echo got:$x'"
        let result = try Isolate.launch("/usr/bin/script", ["-qec", inner, "/dev/null"], stdin: "typed\n", directory: scratch.base)
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("TTY-OK"))
        #expect(result.stdout.contains("got:typed"))
    }

    @Test("the environment is scrubbed; --env passes names and values", arguments: Caller.allCases)
    func environment(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(
            caller, scratch, flags: ["--env", "KEPT", "--env", "SET=value"], ["/usr/bin/env"],
            environment: ["AWS_SECRET_ACCESS_KEY": "leak", "KEPT": "yes", "TERM": "xterm"])
        #expect(result.status == 0)
        let lines = Set(result.stdout.split(separator: "\n").map(String.init))
        #expect(!result.stdout.contains("leak"))
        #expect(lines.contains("HOME=/workspace"))
        #expect(lines.contains("KEPT=yes"))
        #expect(lines.contains("SET=value"))
        #expect(lines.contains("TERM=xterm"))
        // The run's id, which the launcher announced on stderr, and no other Sentinel variable.
        let announced = try #require(result.stderr.firstMatch(of: #/records of run ([0-9a-f]{16}) in /#), "\(result.stderr)")
        #expect(lines.contains("SENTINEL_RUN_ID=\(announced.1)"))
        #expect(lines.filter { $0.hasPrefix("SENTINEL_") }.sorted() == ["SENTINEL_POLICY_FILE=/run/sentinel/policy.yaml", "SENTINEL_RUN_ID=\(announced.1)"])
    }

    @Test("--json-status reports the status and the protections in force", arguments: Caller.allCases)
    func jsonStatus(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, flags: ["--json-status"], ["/bin/sh", "-c", "exit 3"])
        #expect(result.status == 3)
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["exitStatus"] as? Int == 3)
        let protections = try #require(object["protections"] as? [String: Any])
        #expect(protections["capabilitiesDropped"] as? Bool == true)
        #expect(protections["noNewPrivileges"] as? Bool == true)
        #expect((protections["landlock"] as? String)?.hasPrefix("enforced") == true)
        #expect((protections["limits"] as? String)?.hasPrefix(caller == .root ? "v" : "rlimits") == true)
        #expect((protections["namespaces"] as? [String])?.contains("net") == true)
    }

    /// The stage moves itself into the run's cgroup before it unshares the cgroup namespace, so
    /// the workload sees its own group as the root. (When the launcher moved the stage from
    /// outside, the stage usually unshared first and the workload saw `/sentinel-<pid>-…`.)
    @Test("the workload's cgroup namespace is rooted at the run's own group (root caller: cgroups)")
    func cgroupNamespaceRoot() throws {
        let scratch = try Scratch(for: .root)
        let result = try Isolate.run(.root, scratch, flags: ["--json-status"], ["/bin/cat", "/proc/self/cgroup"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stderr.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let limits = try #require((object["protections"] as? [String: Any])?["limits"] as? String)
        try #require(limits.hasPrefix("v"), "this machine gave the root caller no cgroup: \(limits)")
        // `4:memory:/` (v1) or `0::/` (v2): the path after the second colon.
        let groups = result.stdout.split(separator: "\n").map { $0.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false) }
        let controllers = limits.hasPrefix("v1") ? ["pids", "memory", "cpu"] : [""]
        for controller in controllers {
            let entry = groups.first { fields in
                fields.count == 3 && (controller.isEmpty ? fields[1].isEmpty : fields[1].split(separator: ",").contains(Substring(controller)))
            }
            #expect(entry.map { String($0[2]) } == "/", "controller \(controller): \(result.stdout)")
        }
    }

    @Test("a missing command is exit 127 with one sentence")
    func commandNotFound() throws {
        let scratch = try Scratch(for: .root)
        let result = try Isolate.run(.root, scratch, ["no-such-command-xyz"])
        #expect(result.status == 127)
        #expect(result.stderr.contains("command not found inside the sandbox"))
    }
}
