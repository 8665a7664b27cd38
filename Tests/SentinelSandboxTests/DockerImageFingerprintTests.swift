// The fingerprint that lets `--build-if-missing` notice a stale image: the ELF build ID read
// from the binary's note segment, checked against binutils' own reading, and the run that
// rebuilds an image an older sentinel made (the CI failure of 2026-12-07) but never the
// operator's own image of the same name.

import Foundation
@testable import SentinelSandbox
import SentinelTestSupport
import Testing

@Suite("the image fingerprint of --build-if-missing")
struct DockerImageFingerprintTests {
    /// Compiles a C program with the given linker flags and returns its path.
    static func compile(_ scratch: Scratch, name: String, linkerFlags: [String]) throws -> String {
        let source = scratch.base + "/\(name).c"
        try "int main(void) { return 0; }\n".write(toFile: source, atomically: false, encoding: .utf8)
        let output = scratch.base + "/\(name)"
        let built = try ChildProcess.run("/usr/bin/cc", ["-o", output, source] + linkerFlags)
        try #require(built.status == 0, "\(built.stderr)")
        return output
    }

    @Test("the build ID is the one readelf prints", arguments: ["--build-id=sha1", "--build-id=md5", "--build-id=0x0123456789abcdef"])
    func buildIDMatchesReadelf(style: String) throws {
        let scratch = try Scratch(for: .unprivileged)
        let binary = try Self.compile(scratch, name: "tool", linkerFlags: ["-Wl,\(style)"])
        let notes = try ChildProcess.run("/usr/bin/readelf", ["-n", binary])
        let expected = try #require(
            notes.stdout.split(separator: "\n").first { $0.contains("Build ID:") }?.split(separator: " ").last.map(String.init))
        #expect(DockerImageFingerprint.elfBuildID(binary) == expected)
        #expect(DockerImageFingerprint(binary: binary, dockerfile: "", entrypoint: "").value.hasPrefix("build-id:\(expected);"))
    }

    @Test("a binary without a build ID, a text file, a truncated ELF header and a missing file have none")
    func noBuildID() throws {
        let scratch = try Scratch(for: .unprivileged)
        let bare = try Self.compile(scratch, name: "bare", linkerFlags: ["-Wl,--build-id=none"])
        #expect(DockerImageFingerprint.elfBuildID(bare) == nil)
        #expect(DockerImageFingerprint(binary: bare, dockerfile: "", entrypoint: "").value.hasPrefix("file:"))
        try "#!/bin/sh\n".write(toFile: scratch.base + "/script", atomically: false, encoding: .utf8)
        #expect(DockerImageFingerprint.elfBuildID(scratch.base + "/script") == nil)
        let head = try Data(contentsOf: URL(fileURLWithPath: bare)).prefix(40)
        try head.write(to: URL(fileURLWithPath: scratch.base + "/truncated"))
        #expect(DockerImageFingerprint.elfBuildID(scratch.base + "/truncated") == nil)
        #expect(DockerImageFingerprint.elfBuildID(scratch.base + "/absent") == nil)
    }

    @Test("a note segment whose sizes point past its end is not read")
    func malformedNotes() {
        // namesz 4, descsz 4096, type 3, "GNU\0", then 4 bytes: the descriptor runs off the end.
        let notes: [UInt8] = [4, 0, 0, 0, 0, 16, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0, 1, 2, 3, 4]
        #expect(DockerImageFingerprint.buildID(inNotes: notes) == nil)
        let good: [UInt8] = [4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0, 0xde, 0xad, 0xbe, 0xef]
        #expect(DockerImageFingerprint.buildID(inNotes: good) == "deadbeef")
    }

    @Test("a change to the Dockerfile or the entrypoint changes the fingerprint")
    func textsCount() throws {
        let binary = "/proc/self/exe"
        let base = DockerImageFingerprint(binary: binary, dockerfile: "FROM a\n", entrypoint: "#!/bin/sh\n")
        #expect(base == DockerImageFingerprint(binary: binary, dockerfile: "FROM a\n", entrypoint: "#!/bin/sh\n"))
        #expect(base != DockerImageFingerprint(binary: binary, dockerfile: "FROM b\n", entrypoint: "#!/bin/sh\n"))
        #expect(base != DockerImageFingerprint(binary: binary, dockerfile: "FROM a\n", entrypoint: "#!/bin/bash\n"))
    }
}

@Suite(
    "--build-if-missing and an image that is already there", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)))
struct StaleImageTests {
    /// Tags a one-layer image on the base with `labels`, standing in for an image made by an
    /// older sentinel (or by the operator).
    static func tag(_ image: String, labels: [String], in scratch: Scratch) throws {
        let context = scratch.base + "/context-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        let label = labels.isEmpty ? "" : "LABEL " + labels.joined(separator: " ") + "\n"
        try "FROM \(DockerIsolate.baseImage)\n\(label)".write(toFile: context + "/Dockerfile", atomically: false, encoding: .utf8)
        let built = try DockerIsolate.docker(["build", "--quiet", "--tag", image, context])
        try #require(built.status == 0, "\(built.stderr)")
    }

    static func imageID(_ image: String) throws -> String {
        try DockerIsolate.docker(["image", "inspect", "--format", "{{.Id}}", image]).stdout
    }

    @Test("an image an older sentinel built is rebuilt, once, saying why")
    func staleImageIsRebuilt() throws {
        let scratch = try Scratch(for: .unprivileged)
        let image = "sentinel-guard:stale-\(getpid())"
        defer { _ = try? DockerIsolate.docker(["rmi", "--force", image]) }
        try Self.tag(image, labels: ["org.sentinel-guard.built-by=sentinel-isolate", "org.sentinel-guard.fingerprint=build-id:0ld"], in: scratch)
        let flags = ["--image", image]
        let first = try Isolate.launch(
            Isolate.binary,
            ["--workspace", scratch.workspace, "--policy", scratch.policy, "--backend", "docker", "--build-if-missing",
             "--base-image", DockerIsolate.baseImage] + flags + ["--", "true"],
            directory: scratch.base)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("Image \(image) was built from another build of sentinel (build-id:0ld, this one is build-id:"), "\(first.stderr)")
        let rebuilt = try Self.imageID(image)
        let second = try Isolate.launch(
            Isolate.binary,
            ["--workspace", scratch.workspace, "--policy", scratch.policy, "--backend", "docker", "--build-if-missing",
             "--base-image", DockerIsolate.baseImage] + flags + ["--", "true"],
            directory: scratch.base)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("building it"), "an up-to-date image was rebuilt: \(second.stderr)")
        #expect(try Self.imageID(image) == rebuilt)
    }

    @Test("an image the operator built under the same name is used as it is")
    func foreignImageIsKept() throws {
        let scratch = try Scratch(for: .unprivileged)
        let image = "sentinel-guard:foreign-\(getpid())"
        defer { _ = try? DockerIsolate.docker(["rmi", "--force", image]) }
        try Self.tag(image, labels: [], in: scratch)
        let before = try Self.imageID(image)
        let run = try Isolate.launch(
            Isolate.binary,
            ["--workspace", scratch.workspace, "--policy", scratch.policy, "--backend", "docker", "--build-if-missing",
             "--base-image", DockerIsolate.baseImage, "--image", image, "--", "true"],
            directory: scratch.base)
        #expect(!run.stderr.contains("building it"), "\(run.stderr)")
        #expect(try Self.imageID(image) == before, "the operator's image was replaced")
    }
}
