// Runs a real workload (examples/workloads/) the ways a user runs it: under `sentinel guard` on
// the host, and in a sandbox of `sentinel-isolate` (native or Docker), with or without the guard
// inside. Every way gets the same workspace, laid out by examples/workloads/prepare.py, and the
// policy from examples/ as it is written there.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// One way of running a workload.
enum Way: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// `sentinel guard -- CMD` on the host, run as an ordinary user (65534).
    case guardOnHost = "sentinel guard"
    /// `sentinel-isolate -- CMD`: the native sandbox, no guard inside.
    case native = "sentinel-isolate"
    /// `sentinel-isolate --guard -- CMD`.
    case nativeGuarded = "sentinel-isolate --guard"
    /// `sentinel-isolate --backend docker -- CMD`: a container, no guard inside.
    case docker = "sentinel-isolate --backend docker"
    /// `sentinel-isolate --guard --backend docker -- CMD`.
    case dockerGuarded = "sentinel-isolate --guard --backend docker"

    var testDescription: String { rawValue }
    /// Whether `sentinel guard` decides every exec, write and connect of the workload.
    var isGuarded: Bool { self == .guardOnHost || self == .nativeGuarded || self == .dockerGuarded }
    var isDocker: Bool { self == .docker || self == .dockerGuarded }
    var isSandboxed: Bool { self != .guardOnHost }
}

/// What one run of a workload did.
struct WorkloadOutcome {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The guard's decisions (empty for a way without the guard).
    var guardRecords: [[String: Any]]
    /// The sandbox's `--status-file` report (empty under `sentinel guard` on the host).
    var report: [String: Any]

    /// What the program printed, both streams (pytest and git print failures on either).
    var output: String { stdout + stderr }

    /// The guard's records of `action` whose target satisfies `matching`.
    func records(_ action: String, _ matching: (String) -> Bool = { _ in true }) -> [[String: Any]] {
        guardRecords.filter { $0["action"] as? String == action && matching($0["target"] as? String ?? "") }
    }

    /// The rules of the guard's `action` records whose target satisfies `matching`, with their decisions.
    func rules(_ action: String, _ matching: (String) -> Bool) -> [String] {
        records(action, matching).map { "\($0["decision"] as? String ?? "?") \($0["rule"] as? String ?? "?")" }
    }
}

/// A throwaway directory for one run: `ws/` is the workspace (owned by 65534, the user every way
/// runs the workload as), the policy lies beside it, outside the workspace, as do the audit logs.
final class WorkloadScratch {
    let way: Way
    let base: String
    let workspace: String
    let policy: String

    /// Lays out `workload` (a name prepare.py knows) and copies `policyFile` (relative to the
    /// repository) beside the workspace, changed by `editPolicy`.
    init(
        _ workload: String, _ way: Way, policy policyFile: String = "examples/workloads.yaml",
        editPolicy: (String) -> String = { $0 }
    ) throws {
        self.way = way
        // Not under /tmp: the example policy allows /tmp, and what lies beside the workspace must be outside it.
        var template = Array("/var/tmp/sentinel-workload-XXXXXX".utf8CString)
        base = try #require(mkdtemp(&template).map { String(cString: $0) })
        workspace = base + "/ws"
        policy = base + "/sentinel.yaml"
        let prepared = try ChildProcess.run(
            "/usr/bin/python3", [Workloads.repository + "/examples/workloads/prepare.py", workload, workspace],
            environment: Workloads.hostEnvironment)
        try #require(prepared.status == 0, "prepare.py \(workload): \(prepared.stderr)")
        let text = try String(contentsOfFile: Workloads.repository + "/" + policyFile, encoding: .utf8)
        try editPolicy(text).write(toFile: policy, atomically: false, encoding: .utf8)
        chmod(base, 0o755)
        try chownTree()
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// Gives everything under the base to 65534 (-h: the venv's symlinks into /usr themselves, never
    /// what they point to).
    func chownTree() throws {
        let owned = try ChildProcess.run("/bin/chown", ["-hR", "65534:65534", base])
        try #require(owned.status == 0, "\(owned.stderr)")
    }

    /// Where the workspace is for the workload itself.
    var workspaceInside: String { way.isSandboxed ? "/workspace" : workspace }

    /// The guard's audit log: beside the workspace on the host (where examples/workloads.yaml's
    /// `audit.path` puts it); beside the run's log in a sandbox (`AUDITLOG.guard/audit.log`,
    /// docs/DOCKER.md).
    var guardLog: String {
        way == .guardOnHost ? base + "/sentinel-guard-audit.log" : base + "/sentinel-audit.log.guard/audit.log"
    }

    /// The sandbox's own log: `run_start`, `run_end` and (native `--network proxied`) the proxy's decisions.
    var runLog: String { base + "/sentinel-audit.log" }

    /// Runs `command` in the workspace the way `way` says, with `environment` added to what the
    /// workload gets and `flags` added to the launcher's.
    func run(
        _ command: [String], environment: [String: String] = [:], flags: [String] = [], guardFlags: [String] = []
    ) throws -> WorkloadOutcome {
        let outcome: ChildOutcome
        switch way {
        case .guardOnHost:
            var env = Workloads.hostEnvironment
            env["HOME"] = workspace
            for (name, value) in environment { env[name] = value }
            outcome = try ChildProcess.run(
                "/usr/bin/setpriv",
                [
                    "--reuid=65534", "--regid=65534", "--clear-groups", "--", Isolate.sentinelBinary, "guard",
                    "--policy", policy,
                    "--audit-log", guardLog,
                ] + guardFlags + ["--"] + command,
                environment: env, directory: workspace, timeout: 300)
        case .native, .nativeGuarded, .docker, .dockerGuarded:
            var arguments = ["--workspace", workspace, "--policy", policy, "--json-status-file", base + "/status.json"]
            if way.isGuarded { arguments.append("--guard") }
            if way.isDocker {
                try Workloads.prepareImage()
                arguments += [
                    "--backend", "docker", "--image", Workloads.image, "--build-if-missing", "--base-image",
                    Workloads.baseImage,
                ]
            }
            for name in environment.keys.sorted() { arguments += ["--env", "\(name)=\(environment[name]!)"] }
            // From the project's directory, as examples/workloads.yaml says and as the guard on the
            // host runs: the policy's `./` is the workspace on every way (inside, /workspace).
            outcome = try ChildProcess.run(
                Isolate.binary, arguments + flags + ["--"] + command, environment: Workloads.hostEnvironment,
                directory: workspace,
                timeout: 300)
        }
        #expect(!outcome.timedOut, "\(way) did not finish in 300 s and was killed")
        return WorkloadOutcome(
            status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr,
            guardRecords: way.isGuarded ? (try? Workloads.records(guardLog)) ?? [] : [],
            report: way.isSandboxed ? Workloads.json(base + "/status.json") : [:])
    }

    /// Checks what every run must show: the guard ran exactly where it was asked for, and its log
    /// (where there is one) is intact.
    func expectWay(_ outcome: WorkloadOutcome, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if way.isSandboxed {
            let protections = outcome.report["protections"] as? [String: Any]
            let inside = try #require(
                protections?["guardInside"] as? String, "no run report: \(outcome.stderr)",
                sourceLocation: sourceLocation)
            #expect(
                inside.hasPrefix("sentinel guard") == way.isGuarded, "guardInside: \(inside)",
                sourceLocation: sourceLocation)
        }
        guard way.isGuarded else { return }
        #expect(!outcome.guardRecords.isEmpty, "no records in \(guardLog)", sourceLocation: sourceLocation)
        // The guard inside a container keys nothing (docs/DOCKER.md): verify without a key.
        let verify = try ChildProcess.run(
            Isolate.sentinelBinary, ["audit", "verify", guardLog], environment: Workloads.hostEnvironment)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)", sourceLocation: sourceLocation)
    }

    /// The text of a file in the workspace, as the host sees it.
    func read(_ name: String) -> String? {
        try? String(contentsOfFile: workspace + "/" + name, encoding: .utf8)
    }
}

enum Workloads {
    /// The checkout these tests belong to.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// What the host-side programs get: no pyenv shims, no pip configuration of the machine.
    static let hostEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

    /// The base with the workloads' tools (git, make, gcc, pytest, venv), built offline by
    /// scripts/make-workload-image.sh (.ci/run builds it).
    static let baseImage = "sentinel-workload-base:bookworm"

    /// The image the Docker ways run: the Sentinel image on the workload base, named after
    /// `SENTINEL_TEST_IMAGE` (each checkout names its own) with `-workloads` added to its tag.
    static let image: String = {
        let name = DockerIsolate.image
        return name.contains(":") ? name + "-workloads" : name + ":workloads"
    }()

    /// Removes the image once per test run, so the first Docker way builds it from this build's
    /// binary (`--build-if-missing` never rebuilds a stale image).
    static func prepareImage() throws {
        try #require(imageRemoved, "could not remove a stale \(image)")
    }

    private static let imageRemoved: Bool = {
        guard let outcome = try? DockerIsolate.docker(["image", "rm", "--force", image]) else { return false }
        return outcome.status == 0 || outcome.stderr.contains("No such image")
    }()

    /// The text of a workload's script (examples/workloads/NAME), run as `sh -c TEXT`.
    static func script(_ name: String) throws -> String {
        try String(contentsOfFile: repository + "/examples/workloads/" + name, encoding: .utf8)
    }

    /// The records of an audit log, parsed.
    static func records(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// A JSON object from a file, or an empty one.
    static func json(_ path: String) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
