// The Sentinel image's entrypoint run with a plain `docker run`, as anyone may run the image: the
// policy is a read-only mount outside the workspace or the image's own, never a file the command
// could change, the guard runs when asked and needs somewhere outside the workspace it may write
// to record, and without a command the container says what a command would run under.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// The image's entrypoint run directly (`docker run`), as anyone may run the image: the policy
/// must be a read-only mount or the image's own.
@Suite(
    "the image's entrypoint", .serialized, .requires(.root), .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
struct EntrypointTests {
    static func run(
        _ scratch: Scratch, _ volumes: [String], guarded: Bool = true, environment: [String] = [], _ command: [String]
    ) throws -> ChildOutcome {
        // Sentinel's seccomp profile: Docker's default refuses process_vm_readv, which the guard needs.
        var arguments = ["run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--network", "none",
                         "--security-opt", "seccomp=\(DockerComposeTests.root)/seccomp/sentinel-seccomp.json",
                         "--user", "65534:65534", "--tmpfs", "/tmp", "--volume", "\(scratch.workspace):/workspace:rw"]
        for volume in volumes { arguments += ["--volume", volume] }
        for variable in (guarded ? ["SENTINEL_GUARD=1"] : []) + environment { arguments += ["--env", variable] }
        arguments += ["--pull", "never", DockerIsolate.image] + command
        return try DockerIsolate.docker(arguments)
    }

    @Test("a policy that is not a read-only mount, or is mounted in the workspace, is refused; without one the image's policy decides")
    func policyPlace() throws {
        let scratch = try Scratch(for: .unprivileged)
        _ = try DockerIsolate.run(scratch, ["true"])  // builds the image when it is missing
        let records = scratch.base + "/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        chown(records, 65534, 65534)
        try "allowed_paths: [./]\nallowed_commands: [touch]\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let recordsVolume = "\(records):/var/log/sentinel:rw"

        // A policy the command could rewrite, for the next run to load.
        let writable = try Self.run(scratch, [recordsVolume, "\(scratch.policy):/run/sentinel/policy.yaml:rw"], ["touch", "/workspace/ran"])
        #expect(writable.status == 2, "\(writable.stdout)\(writable.stderr)")
        #expect(writable.stderr.contains("is not a read-only mount"), "\(writable.stderr)")
        // Where it was mounted before (in the workspace): refused rather than silently replaced by
        // the image's default.
        let former = try Self.run(scratch, [recordsVolume, "\(scratch.policy):/workspace/sentinel.yaml:ro"], ["touch", "/workspace/ran"])
        #expect(former.status == 2, "\(former.stdout)\(former.stderr)")
        #expect(former.stderr.contains("mount your policy read-only at /run/sentinel/policy.yaml"), "\(former.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
        // Docker made that mount point in the workspace, which is why nothing is mounted there any more.
        try FileManager.default.removeItem(atPath: scratch.workspace + "/sentinel.yaml")

        // Mounted read-only outside the workspace, it is the policy (and the command is told where).
        let mounted = try Self.run(
            scratch, [recordsVolume, "\(scratch.policy):/run/sentinel/policy.yaml:ro"],
            ["sh", "-c", "touch /workspace/ran && echo touched $SENTINEL_POLICY_FILE"])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(mounted.stdout == "touched /run/sentinel/policy.yaml\n", "\(mounted.stdout)\(mounted.stderr)")
        // With none, the image's default decides (and nothing is copied into the workspace).
        let imageDefault = try Self.run(scratch, [recordsVolume], ["sh", "-c", "touch /workspace/x || echo refused"])
        #expect(imageDefault.status == 0, "\(imageDefault.stderr)")
        #expect(imageDefault.stdout == "refused\n", "the default policy allows ./workspace only: \(imageDefault.stdout)\(imageDefault.stderr)")
        #expect(imageDefault.stderr.contains("the image's default policy"), "\(imageDefault.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.workspace) == ["ran"])

        // The guard needs somewhere outside the workspace to record; without the guard it does not.
        let noRecords = try Self.run(scratch, [], ["true"])
        #expect(noRecords.status == 2, "\(noRecords.stderr)")
        #expect(noRecords.stderr.contains("is not writable in this container"), "\(noRecords.stderr)")
        let unguarded = try Self.run(scratch, [], guarded: false, ["sh", "-c", "echo ran"])
        #expect(unguarded.status == 0, "\(unguarded.stderr)")
        #expect(unguarded.stdout == "ran\n")
    }

    @Test("records another user wrote: the guard's refusal says whose they are and what to change")
    func recordsOfAnotherUser() throws {
        let scratch = try Scratch(for: .unprivileged)
        _ = try DockerIsolate.run(scratch, ["true"])
        let records = scratch.base + "/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        chmod(records, 0o1777)
        // An earlier run as uid 4321 (compose with another SENTINEL_UID) left its log.
        try "".write(toFile: records + "/audit.log", atomically: false, encoding: .utf8)
        chown(records + "/audit.log", 4321, 4321)
        chmod(records + "/audit.log", 0o600)
        let refused = try Self.run(scratch, ["\(records):/var/log/sentinel:rw"], ["touch", "/workspace/ran"])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("belongs to uid 4321"), "\(refused.stderr)")
        #expect(refused.stderr.contains("runs as uid 65534"), "\(refused.stderr)")
        #expect(refused.stderr.contains("SENTINEL_GUARD_AUDIT_LOG"), "\(refused.stderr)")
        #expect(refused.stderr.contains("SENTINEL_UID"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
    }

    @Test("without a command the container checks its setup and says how to run one", arguments: [false, true])
    func status(guarded: Bool) throws {
        let scratch = try Scratch(for: .unprivileged)
        _ = try DockerIsolate.run(scratch, ["true"])
        let records = scratch.base + "/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        chown(records, 65534, 65534)
        let result = try Self.run(
            scratch, ["\(records):/var/log/sentinel:rw", "\(scratch.policy):/run/sentinel/policy.yaml:ro"], guarded: guarded, [])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasPrefix("Sentinel sandbox container: ready.\n"), "\(result.stdout)")
        #expect(result.stdout.contains("policy: /run/sentinel/policy.yaml, read-only"), "\(result.stdout)")
        #expect(result.stdout.contains(guarded ? "guard: on" : "guard: off"), "\(result.stdout)")
        #expect(result.stdout.contains("network: none"), "\(result.stdout)")
        #expect(result.stdout.contains("Run a command"), "\(result.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.workspace).isEmpty)
    }
}
