// What a run did, in one place: a guarded, proxied run says on stderr where its records are and
// under which run id; the launcher's, the guard's and the proxy's records carry that id; and
// `sentinel audit tail --run ID` reads them together in time order, filtered as asked, without
// another run's records. A bad SENTINEL_RUN_ID stops every launcher with a sentence.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// What the tests read back from a run.
enum RunRecordsCheck {
    /// The run id and logs named by the launcher's records line on stderr.
    static func announced(_ stderr: String) throws -> (run: String, log: String, rest: String) {
        let match = try #require(
            stderr.firstMatch(of: /sentinel-isolate: records of run ([0-9a-f]{16}) in (\S+) \(([^\n]*)\); read them with `sentinel audit tail --run \1 \2`\./),
            "no records line on stderr: \(stderr)")
        return (String(match.1), String(match.2), String(match.3))
    }

    /// `sentinel audit ARGUMENTS`, and its JSON lines as objects.
    static func tail(_ arguments: [String]) throws -> [[String: Any]] {
        let outcome = try ChildProcess.run(Isolate.sentinelBinary, ["audit", "tail", "--json"] + arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        return try outcome.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)")
        }
    }

    /// Checks that `records` all belong to `run` and come in time order (then seq).
    static func inOrder(_ records: [[String: Any]], run: String) {
        var previous = ("", 0)
        for record in records {
            #expect(record["run"] as? String == run, "\(record)")
            let key = (record["time"] as? String ?? "", record["seq"] as? Int ?? 0)
            #expect(previous.0 < key.0 || (previous.0 == key.0 && previous.1 <= key.1), "\(record) after \(previous)")
            previous = key
        }
    }

    /// `sentinel audit verify LOG` exits 0.
    static func verified(_ log: String) throws -> Bool {
        try ChildProcess.run(Isolate.sentinelBinary, ["audit", "verify", log]).status == 0
    }
}

@Suite("One run's records: the run id, the records line, audit tail --run (native)", .serialized, .requires(.root))
struct RunRecordsTests {
    /// A policy that lets the agent reach `allowed.test` through the proxy and run nothing else.
    static func policy(port: UInt16) -> String {
        """
        allowed_paths: [./ws]
        allowed_hosts:
          - {host: allowed.test, ports: [\(port)]}
        network_failsafe:
          allow_private_network: true
        approval:
          mode: reject
        """
    }

    /// The agent: one request through the proxy, one exec the guard refuses.
    static func agent(port: UInt16) -> String {
        """
        import subprocess, urllib.request
        print("allowed", urllib.request.urlopen("http://allowed.test:\(port)/").status)
        try:
            subprocess.run(["id"])
        except OSError as error:
            print("id", type(error).__name__)
        """
    }

    @Test("--guard --network proxied: one id on the launcher's, the guard's and the proxy's records, read together")
    func guardedProxiedRun() throws {
        let server = try TinyHTTPServer(address: "127.0.0.2")
        defer { server.stop() }
        let scratch = try Scratch(for: .root)
        try Self.policy(port: server.port).write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let hosts = scratch.base + "/hosts"
        try "127.0.0.2 allowed.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        let result = try Isolate.run(
            .root, scratch, flags: ["--guard", "--network", "proxied", "--proxy-hosts-file", hosts],
            ["python3", "-c", Self.agent(port: server.port)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "allowed 200\nid PermissionError\n", "\(result.stdout)\(result.stderr)")

        // The line names the run, the default log (beside the workspace) and where the rest went.
        let (run, log, rest) = try RunRecordsCheck.announced(result.stderr)
        #expect(log == scratch.base + "/sentinel-audit.log")
        #expect(rest == "the default place, beside the workspace; --audit-log PATH picks another; guard: \(log).guard/audit.log; proxy: this log")
        #expect(!result.stdout.contains(run), "the records line belongs on stderr")

        // Another run into the same log, which --run must leave out.
        let other = try Isolate.run(.root, scratch, ["true"])
        #expect(other.status == 0, "\(other.stderr)")
        let otherRun = try RunRecordsCheck.announced(other.stderr).run
        #expect(otherRun != run)

        let records = try RunRecordsCheck.tail(["--run", run, log])
        RunRecordsCheck.inOrder(records, run: run)
        #expect(Set(records.compactMap { $0["mode"] as? String }) == ["isolate", "guard", "proxy"])
        #expect(records.first?["action"] as? String == "run_start" && records.first?["mode"] as? String == "isolate")
        #expect((records.first?["details"] as? [String: Any])?["backend"] as? String == "native")
        // The launcher's two records frame the run (the proxy it started stops after run_end: proxy_stop).
        #expect(records.filter { $0["mode"] as? String == "isolate" }.map { $0["action"] as? String } == ["run_start", "run_end"])
        #expect(records.contains { $0["mode"] as? String == "proxy" && ($0["target"] as? String)?.contains("allowed.test") == true })
        #expect(!records.contains { $0["run"] as? String == otherRun })

        let denied = try RunRecordsCheck.tail(["--run", run, "--denied", log])
        #expect(!denied.isEmpty)
        #expect(denied.allSatisfy { ["deny", "rejected"].contains($0["decision"] as? String) }, "\(denied)")
        #expect(denied.contains { $0["mode"] as? String == "guard" && $0["action"] as? String == "exec" && $0["target"] as? String == "id" })
        RunRecordsCheck.inOrder(denied, run: run)

        for kind in ["exec", "connect", "run_start"] {
            let kept = try RunRecordsCheck.tail(["--run", run, "--kind", kind, log])
            #expect(!kept.isEmpty, "\(kind)")
            #expect(kept.allSatisfy { $0["action"] as? String == kind }, "\(kind): \(kept)")
            #expect(kept.count == records.filter { $0["action"] as? String == kind }.count, "\(kind)")
        }

        for file in [log, log + ".guard/audit.log"] { #expect(try RunRecordsCheck.verified(file), "\(file)") }
    }

    @Test("a launcher given SENTINEL_RUN_ID uses it and still names its logs")
    func givenRunID() throws {
        let scratch = try Scratch(for: .root)
        let log = scratch.base + "/elsewhere.log"
        let result = try Isolate.run(.root, scratch, flags: ["--audit-log", log], ["true"], environment: ["SENTINEL_RUN_ID": "c0ffee-1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("sentinel-isolate: records of run c0ffee-1 in \(log); read them with"), "\(result.stderr)")
        let records = try RunRecordsCheck.tail(["--run", "c0ffee-1", log])
        #expect(records.map { $0["action"] as? String } == ["run_start", "run_end"])
    }

    @Test("a bad SENTINEL_RUN_ID is refused with a sentence before anything runs", arguments: ["isolate", "guard", "proxy"], ["", "NOT-HEX", "abc\ndef"])
    func badRunID(launcher: String, value: String) throws {
        let scratch = try Scratch(for: .root)
        let log = scratch.base + "/run.log"
        let environment = ["SENTINEL_RUN_ID": value, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let outcome: ChildOutcome
        switch launcher {
        case "isolate":
            outcome = try ChildProcess.run(
                Isolate.binary, ["--workspace", scratch.workspace, "--policy", scratch.policy, "--audit-log", log, "--", "true"],
                environment: environment)
        case "guard":
            outcome = try ChildProcess.run(
                Isolate.sentinelBinary, ["guard", "--policy", scratch.policy, "--audit-log", log, "--", "/bin/true"], environment: environment)
        default:
            outcome = try ChildProcess.run(
                Isolate.sentinelBinary, ["proxy", "--listen", "127.0.0.1:0", "--policy", scratch.policy, "--audit-log", log],
                environment: environment)
        }
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("SENTINEL_RUN_ID=\(value.debugDescription) is not a run id: a run id is 1 to 64 characters"), "\(outcome.stderr)")
        #expect(outcome.stderr.range(of: "nothing was (run|started)", options: [.regularExpression, .caseInsensitive]) != nil, "\(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: log), "nothing may be recorded under a refused id")
    }
}

@Suite(
    "One run's records (Docker backend)", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)))
struct DockerRunRecordsTests {
    @Test("--guard --network proxied in Docker: the container's guard and the proxy container record under the run's id")
    func guardedProxiedRun() throws {
        let scratch = try Scratch(for: .unprivileged)
        let (server, address) = try DockerIsolate.startWebServer(scratch)
        defer { _ = try? DockerIsolate.docker(["rm", "--force", server]) }
        try RunRecordsTests.policy(port: 8080).write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let hosts = scratch.base + "/hosts"
        try "\(address) allowed.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        chmod(hosts, 0o644)
        let result = try DockerIsolate.run(
            scratch, flags: ["--network", "proxied", "--proxy-hosts-file", hosts], guarded: true,
            ["python3", "-c", RunRecordsTests.agent(port: 8080)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "allowed 200\nid PermissionError\n", "\(result.stdout)\(result.stderr)")
        let (run, log, rest) = try RunRecordsCheck.announced(result.stderr)
        #expect(rest.hasSuffix("guard: \(log).guard/audit.log; proxy: \(log).proxy/proxy-audit.log"), "\(rest)")

        let records = try RunRecordsCheck.tail(["--run", run, log])
        RunRecordsCheck.inOrder(records, run: run)
        #expect(Set(records.compactMap { $0["mode"] as? String }) == ["isolate", "guard", "proxy"])
        // The start record names the backend that ran (it said "native" for every run).
        let start = records.first { $0["action"] as? String == "run_start" }
        #expect((start?["details"] as? [String: Any])?["backend"] as? String == "docker", "\(String(describing: start))")
        let denied = try RunRecordsCheck.tail(["--run", run, "--denied", "--kind", "exec", log])
        #expect(denied.contains { $0["mode"] as? String == "guard" && $0["target"] as? String == "id" }, "\(denied)")
        for file in [log, log + ".guard/audit.log", log + ".proxy/proxy-audit.log"] {
            #expect(try RunRecordsCheck.verified(file), "\(file)")
        }
    }
}
