// The Sentinel image's entrypoint run with a plain `docker run`, as anyone may run the image: the
// policy is a read-only mount or the image's own, never a file the command could change, and the
// guard needs somewhere outside the workspace to record.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// The image's entrypoint run directly (`docker run`), as anyone may run the image: the policy
/// must be a read-only mount or the image's own.
@Suite(
    "the image's entrypoint", .serialized, .requires(.root), .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
struct EntrypointTests {
    static func run(_ scratch: Scratch, _ volumes: [String], _ command: [String]) throws -> ChildOutcome {
        // Sentinel's seccomp profile: Docker's default refuses process_vm_readv, which the guard needs.
        var arguments = ["run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--network", "none",
                         "--security-opt", "seccomp=\(DockerComposeTests.root)/seccomp/sentinel-seccomp.json",
                         "--user", "65534:65534", "--tmpfs", "/tmp", "--volume", "\(scratch.workspace):/workspace:rw"]
        for volume in volumes { arguments += ["--volume", volume] }
        arguments += ["--pull", "never", DockerIsolate.image] + command
        return try DockerIsolate.docker(arguments)
    }

    @Test("a policy file in the workspace that is not a read-only mount is refused; without one the image's policy decides")
    func policyPlace() throws {
        let scratch = try Scratch(for: .unprivileged)
        _ = try DockerIsolate.run(scratch, ["true"])  // builds the image when it is missing
        let records = scratch.base + "/records"
        try FileManager.default.createDirectory(atPath: records, withIntermediateDirectories: false)
        chown(records, 65534, 65534)
        // A policy a run left in the workspace (or the old entrypoint's copy), writable.
        try "allowed_paths: [./]\nallowed_commands: [touch]\n".write(toFile: scratch.workspace + "/sentinel.yaml", atomically: false, encoding: .utf8)
        chown(scratch.workspace + "/sentinel.yaml", 65534, 65534)
        let refused = try Self.run(scratch, ["\(records):/var/log/sentinel:rw"], ["touch", "/workspace/ran"])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("is not a read-only mount"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))

        // Mounted read-only, it is the policy; with none, the image's default decides (and
        // nothing is copied into the workspace).
        let mounted = try Self.run(
            scratch, ["\(records):/var/log/sentinel:rw", "\(scratch.workspace)/sentinel.yaml:/workspace/sentinel.yaml:ro"],
            ["sh", "-c", "touch /workspace/ran && echo touched"])
        #expect(mounted.status == 0, "\(mounted.stderr)")
        #expect(mounted.stdout == "touched\n", "\(mounted.stdout)\(mounted.stderr)")
        try FileManager.default.removeItem(atPath: scratch.workspace + "/sentinel.yaml")
        let imageDefault = try Self.run(scratch, ["\(records):/var/log/sentinel:rw"], ["sh", "-c", "touch /workspace/x || echo refused"])
        #expect(imageDefault.status == 0, "\(imageDefault.stderr)")
        #expect(imageDefault.stdout == "refused\n", "the default policy allows ./workspace only: \(imageDefault.stdout)\(imageDefault.stderr)")
        #expect(imageDefault.stderr.contains("the image's default policy"), "\(imageDefault.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.workspace + "/sentinel.yaml"))

        // The guard needs somewhere outside the workspace to record.
        let noRecords = try Self.run(scratch, [], ["true"])
        #expect(noRecords.status == 2, "\(noRecords.stderr)")
        #expect(noRecords.stderr.contains("is not writable in this container"), "\(noRecords.stderr)")
    }
}
