// One policy and one command mean one thing whichever backend runs them ("Real agent workloads
// just work", items 3-5): the guard runs inside only with --guard, on both backends; nothing is
// left in the workspace; a policy path names the same files on the host, natively and in a
// container; the starter policy lets an ordinary agent use TLS and DNS; Docker works as root and
// as an ordinary user before and after the workspace changes owner. Every run is the built
// `sentinel-isolate` (or `sentinel guard`) against the real kernel and Docker engine.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// How a command runs.
enum RunMode: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case hostGuard = "sentinel guard on the host"
    case native = "native"
    case nativeGuarded = "native --guard"
    case docker = "docker"
    case dockerGuarded = "docker --guard"

    var testDescription: String { rawValue }
    var isDocker: Bool { self == .docker || self == .dockerGuarded }
    var isGuarded: Bool { self == .hostGuard || self == .nativeGuarded || self == .dockerGuarded }
    static let sandboxes: [RunMode] = [.native, .nativeGuarded, .docker, .dockerGuarded]
}

/// A user's project as the issue describes it: `sentinel.yaml` beside `workspace/`, Sentinel run
/// from that directory.
final class Project {
    let base: String
    var workspace: String { base + "/workspace" }
    var policy: String { base + "/sentinel.yaml" }
    /// The guard's records of a --guard run (beside the run's own log, outside the workspace).
    var guardLog: String { base + "/sentinel-audit.log.guard/audit.log" }

    /// Creates the project with `policy` (the starter policy when nil), owned by `owner`.
    init(policy: String?, owner: UInt32 = 65534) throws {
        var template = Array("/tmp/sentinel-project-XXXXXX".utf8CString)
        base = try #require(mkdtemp(&template).map { String(cString: $0) })
        chmod(base, 0o755)
        try FileManager.default.createDirectory(atPath: base + "/workspace", withIntermediateDirectories: false)
        if let policy {
            try policy.write(toFile: base + "/sentinel.yaml", atomically: false, encoding: .utf8)
        } else {
            let made = try ChildProcess.run(Isolate.sentinelBinary, ["policy", "init", base + "/sentinel.yaml"])
            try #require(made.status == 0, "\(made.stderr)")
        }
        for path in [base, workspace, self.policy] { chown(path, owner, owner) }
    }

    deinit { try? FileManager.default.removeItem(atPath: base) }

    /// Every name under the workspace, recursively, sorted.
    func listing() throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: workspace)
        var names: [String] = []
        while let name = enumerator?.nextObject() as? String { names.append(name) }
        return names.sorted()
    }

    /// Writes a file into the workspace, owned like it.
    func add(_ name: String, _ text: String) throws {
        try text.write(toFile: workspace + "/" + name, atomically: false, encoding: .utf8)
        var info = stat()
        stat(workspace, &info)
        chown(workspace + "/" + name, info.st_uid, info.st_gid)
    }

    /// Runs `command` in `mode` from the project directory, as root (the Docker container then runs
    /// as the workspace's owner).
    func run(_ mode: RunMode, _ command: [String], environment: [String: String] = [:], flags: [String] = []) throws -> RunResult {
        switch mode {
        case .hostGuard:
            return try Isolate.launch(
                Isolate.sentinelBinary, ["guard", "--audit-log", base + "/host-guard.log", "--"] + command,
                environment: environment, directory: base)
        default:
            var arguments = ["--workspace", "./workspace", "--policy", "./sentinel.yaml"] + flags
            if mode.isDocker { arguments += DockerIsolate.flags }
            if mode.isGuarded { arguments += ["--guard"] }
            return try Isolate.launch(Isolate.binary, arguments + ["--"] + command, environment: environment, directory: base)
        }
    }

    /// The guard's records of `mode`'s runs, parsed.
    func records(_ mode: RunMode) throws -> [[String: Any]] {
        let log = mode == .hostGuard ? base + "/host-guard.log" : guardLog
        return try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }
}

@Suite(
    "one policy and one command mean one thing on every backend", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)))
struct BackendParityTests {
    /// The image under test, built once from this build's binary.
    static func ensureImage() throws {
        let scratch = try Scratch(for: .unprivileged)
        let built = try DockerIsolate.run(scratch, ["true"])
        try #require(built.status == 0, "could not build \(DockerIsolate.image): \(built.stderr)")
    }

    @Test("after a run the workspace holds exactly what the command wrote", arguments: RunMode.sandboxes)
    func nothingLeftBehind(mode: RunMode) throws {
        if mode.isDocker { try Self.ensureImage() }
        let project = try Project(policy: nil)
        try project.add("notes.txt", "mine\n")
        let before = try project.listing()
        let result = try project.run(mode, ["python3", "-c", "open('out.txt', 'w').write('made')"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try project.listing() == (before + ["out.txt"]).sorted(), "\(result.stderr)")
    }

    @Test("allowed_paths: [./workspace] lets the same agent write out.txt on every backend", arguments: [
        RunMode.native, .nativeGuarded, .docker, .dockerGuarded,
    ])
    func oneWorkspaceEverywhere(mode: RunMode) throws {
        if mode.isDocker { try Self.ensureImage() }
        let project = try Project(policy: "allowed_paths: [\"./workspace\"]\n")
        try project.add("agent.py", "with open('out.txt', 'w') as f:\n    f.write('written')\nprint('done')\n")
        let result = try project.run(mode, ["python3", "agent.py"], environment: ["SENTINEL_APPROVAL_MODE": "reject"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "done\n", "\(result.stdout)\(result.stderr)")
        #expect(try String(contentsOfFile: project.workspace + "/out.txt", encoding: .utf8) == "written")
        if mode.isGuarded {
            // Decided, by the policy's entry for the workspace, at the path the sandbox shows.
            let write = try project.records(mode).first { $0["action"] as? String == "file_write" }
            #expect(write?["target"] as? String == "/workspace/out.txt", "\(String(describing: write))")
            #expect(write?["decision"] as? String == "allow")
            #expect(write?["rule"] as? String == "allowed_paths[0]")
        }
    }

    @Test("allowed_commands [ls, echo]: a shell running python3 runs on both backends, and with --guard is refused on both", arguments: RunMode.sandboxes)
    func oneMeaning(mode: RunMode) throws {
        if mode.isDocker { try Self.ensureImage() }
        let project = try Project(policy: "allowed_paths: [./workspace]\nallowed_commands: [ls, echo]\napproval:\n  mode: reject\n")
        try project.add("x.py", "print('python ran')\n")
        let result = try project.run(mode, ["sh", "-c", "python3 x.py"])
        if mode.isGuarded {
            #expect(result.status != 0, "\(result.stdout)\(result.stderr)")
            #expect(!result.stdout.contains("python ran"))
            #expect(result.stderr.contains("refused exec of python3 x.py"), "\(result.stderr)")
            let exec = try project.records(mode).first { $0["action"] as? String == "exec" && $0["target"] as? String == "python3 x.py" }
            #expect(exec?["decision"] as? String == "deny", "\(String(describing: exec))")
            #expect(exec?["rule"] as? String == "builtin:interpreter-denylist")
        } else {
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout == "python ran\n", "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: project.base + "/sentinel-audit.log.guard"), "no guard ran")
        }
    }

    @Test("the starter policy: TLS trust stores and localhost resolve, with no question asked", arguments: RunMode.allCases)
    func starterPolicyWorks(mode: RunMode) throws {
        if mode.isDocker { try Self.ensureImage() }
        let project = try Project(policy: nil)
        let script = """
            import socket, ssl
            context = ssl.create_default_context()
            context.load_default_certs()
            print("certificates", context.cert_store_stats()["x509_ca"])
            print("localhost", socket.getaddrinfo("localhost", 80)[0][4][0])
            """
        // A question would be answered "no" (reject): the records would name that approver.
        let result = try project.run(mode, ["python3", "-c", script], environment: ["SENTINEL_APPROVAL_MODE": "reject"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let count = lines.first { $0.hasPrefix("certificates ") }.flatMap { Int($0.dropFirst("certificates ".count)) } ?? 0
        #expect(count > 0, "no CA certificate was found: \(result.stdout)\(result.stderr)")
        #expect(lines.contains { $0 == "localhost 127.0.0.1" || $0 == "localhost ::1" }, "\(result.stdout)\(result.stderr)")
        #expect(!result.stderr.contains("sentinel: refused"), "the program was refused something: \(result.stderr)")
        if mode.isGuarded {
            for record in try project.records(mode) where record["approver"] != nil {
                #expect(record["approver"] as? String == "policy", "somebody was asked: \(record)")
            }
        }
    }
}

/// `sentinel-isolate --backend docker` run by root and by an ordinary user in the docker group,
/// before and after the workspace changes owner (docs/DOCKER.md: "give the workspace to the user
/// who should write it").
@Suite(
    "Docker as root and as an ordinary user, before and after the workspace changes owner", .serialized, .requires(.root),
    .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
struct DockerOwnershipTests {
    static let user: UInt32 = 4242

    /// The docker group's id (the socket's group), which the ordinary user joins.
    static func dockerGroup() throws -> UInt32 {
        var info = stat()
        try #require(stat("/var/run/docker.sock", &info) == 0, "no Docker socket")
        return info.st_gid
    }

    /// Runs sentinel-isolate --backend docker in `project` as root or as `user`, with or without the guard.
    static func run(
        _ project: Project, asUser: Bool, guarded: Bool, auditLog: String? = nil, _ command: [String]
    ) throws -> RunResult {
        var arguments = ["--workspace", "./workspace", "--policy", "./sentinel.yaml"] + DockerIsolate.flags
        if guarded { arguments.append("--guard") }
        if let auditLog { arguments += ["--audit-log", auditLog] }
        arguments += ["--"] + command
        guard asUser else { return try Isolate.launch(Isolate.binary, arguments, directory: project.base) }
        return try Isolate.launch(
            "/usr/bin/setpriv", ["--reuid=\(user)", "--regid=\(user)", "--groups=\(try dockerGroup())", Isolate.binary] + arguments,
            environment: ["HOME": project.base + "/home"], directory: project.base)
    }

    @Test("every run works, with and without the guard, and the guard's records verify")
    func ownerChanges() throws {
        try BackendParityTests.ensureImage()
        // Root's project, as a root user makes it: everything root's.
        let project = try Project(policy: "allowed_paths: [./workspace]\nallowed_commands: [id]\napproval:\n  mode: reject\n", owner: 0)
        try FileManager.default.createDirectory(atPath: project.base + "/home", withIntermediateDirectories: false)
        chown(project.base + "/home", Self.user, Self.user)
        let write = ["sh", "-c", "id -u; echo x > \"out-$(id -u)-$1.txt\" 2>/dev/null || echo read-only", "sh"]

        // Before: a root-owned workspace; the container runs as 65534, which may not write it.
        for guarded in [false, true] {
            let result = try Self.run(project, asUser: false, guarded: guarded, write + ["root-before"])
            #expect(result.status == 0, "guard \(guarded): \(result.stdout)\(result.stderr)")
            #expect(result.stdout == "65534\nread-only\n", "guard \(guarded): \(result.stdout)\(result.stderr)")
        }

        // After the advice: the workspace given to the user who should write it.
        chown(project.workspace, Self.user, Self.user)
        for guarded in [false, true] {
            let result = try Self.run(project, asUser: false, guarded: guarded, write + ["root-after-\(guarded)"])
            #expect(result.status == 0, "guard \(guarded): \(result.stdout)\(result.stderr)")
            #expect(result.stdout == "\(Self.user)\n", "guard \(guarded): \(result.stdout)\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: project.workspace + "/out-\(Self.user)-root-after-\(guarded).txt"))
        }
        // That user runs it too (with a run log of its own: root's is not theirs to append to).
        for guarded in [false, true] {
            let result = try Self.run(
                project, asUser: true, guarded: guarded, auditLog: project.base + "/home/run.log", write + ["user-\(guarded)"])
            #expect(result.status == 0, "guard \(guarded): \(result.stdout)\(result.stderr)")
            #expect(result.stdout == "\(Self.user)\n", "guard \(guarded): \(result.stdout)\(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: project.workspace + "/out-\(Self.user)-user-\(guarded).txt"))
        }
        for log in [project.guardLog, project.base + "/home/run.log.guard/audit.log"] {
            let verified = try ChildProcess.run(Isolate.sentinelBinary, ["audit", "verify", log], environment: ["PATH": "/usr/bin:/bin"])
            #expect(verified.status == 0, "\(log): \(verified.stdout)\(verified.stderr)")
        }
    }
}
