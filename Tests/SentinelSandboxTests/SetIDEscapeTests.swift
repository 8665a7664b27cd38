// Nothing a workload does may leave a file on the host that grants more than the workload had: no
// set-user-id or set-group-id bit (the root caller's workspace is an idmapped mount, so such a file
// would be root's on the host; a rootless or Docker workload's would be its caller's), and no file
// capabilities or other privileged extended attributes. Every check is made from the host, after a
// real run, on the files the workload made.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// Where the attacker runs.
enum SetIDBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// The native sandbox started by root (workload 65534, idmapped workspace).
    case nativeRoot = "native, root caller"
    /// The native sandbox started by an ordinary user (65534 through setpriv, owning the workspace).
    case nativeUnprivileged = "native, unprivileged caller"
    /// `--backend docker` (the container runs as the workspace's owner, 65534).
    case docker = "docker"

    var testDescription: String { rawValue }

    /// Runs `command` in a sandbox of this kind on `scratch`.
    func run(_ scratch: Scratch, _ command: [String]) throws -> RunResult {
        switch self {
        case .nativeRoot: try Isolate.run(.root, scratch, command)
        case .nativeUnprivileged: try Isolate.run(.unprivileged, scratch, command)
        case .docker: try DockerIsolate.run(scratch, command)
        }
    }

    /// The workspace's owner, for whom the test prepares it.
    var caller: Caller { self == .nativeRoot ? .root : .unprivileged }
}

@Suite("Nothing privileged leaves the sandbox", .serialized, .requires(.root), .requires(.cc), .requires(.python3))
struct SetIDEscapeTests {
    @Test("no mode call leaves a set-id file, and no xattr call leaves file capabilities",
          arguments: [SetIDBackend.nativeRoot, .nativeUnprivileged])
    func native(backend: SetIDBackend) throws {
        try attack(backend)
    }

    @Test("no mode call leaves a set-id file, and no xattr call leaves file capabilities (Docker)",
          .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
    func docker() throws {
        try attack(.docker)
    }

    @Test("cp -p of a set-uid binary and tar -x of a 04755 file land without the bits, and say so",
          arguments: [SetIDBackend.nativeRoot, .nativeUnprivileged])
    func toolsNative(backend: SetIDBackend) throws {
        try tools(backend)
    }

    @Test("cp -p of a set-uid binary and tar -x of a 04755 file land without the bits, and say so (Docker)",
          .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
    func toolsDocker() throws {
        try tools(.docker)
    }

    /// Runs the attacker in the workspace and checks every file it made from the host.
    func attack(_ backend: SetIDBackend) throws {
        let scratch = try Scratch(for: backend.caller)
        try SetIDAttacker.build(at: scratch.workspace + "/setid-attacker")
        let run = try backend.run(scratch, ["/workspace/setid-attacker", "/workspace"])
        #expect(run.status == 0, "\(run.stderr)")
        let results = SetIDAttacker.results(run.stdout)
        let attributes = try Self.extendedAttributes(
            of: (SetIDAttacker.attempts + SetIDAttacker.xattrAttempts).map { scratch.workspace + "/" + $0 })

        for name in SetIDAttacker.attempts {
            let path = scratch.workspace + "/" + name
            let outcome = try #require(results[name], "the attacker did not report \(name): \(run.stdout)\(run.stderr)")
            // The refusal: EPERM, which cp and tar report as "Operation not permitted"; openat2 is
            // refused with ENOSYS so that programs fall back to openat.
            let refusal = name == "openat2" ? ENOSYS : EPERM
            #expect(outcome.result < 0 && outcome.errno == refusal, "\(name) was not refused: \(outcome)")
            var info = stat()
            if lstat(path, &info) == 0 {
                #expect(info.st_mode & (S_ISUID | S_ISGID) == 0, "\(name) left \(path) with mode 0o\(String(info.st_mode & 0o7777, radix: 8)) on the host")
            }
            #expect(Self.attempted.isDisjoint(with: attributes[path] ?? []), "\(name) left \(attributes[path] ?? []) on \(path)")
        }
        for name in SetIDAttacker.allowed {
            let outcome = try #require(results[name], "the attacker did not report \(name): \(run.stdout)\(run.stderr)")
            #expect(outcome.result >= 0, "\(name) was refused (errno \(outcome.errno)); the rules must let it through")
        }
        var sticky = stat()
        #expect(lstat(scratch.workspace + "/ok-mkdirat-sticky", &sticky) == 0 && sticky.st_mode & 0o7777 == 0o1777)
        // The kernel refuses these by itself: security.capability needs CAP_SETFCAP (in the
        // writer's user namespace), security.* CAP_SYS_ADMIN in the file system's (the host's),
        // trusted.* CAP_SYS_ADMIN in the initial one, and the workload holds no capability at all.
        for name in SetIDAttacker.xattrAttempts {
            let path = scratch.workspace + "/" + name
            let outcome = try #require(results[name], "the attacker did not report \(name): \(run.stdout)\(run.stderr)")
            #expect(outcome.result < 0 && outcome.errno == EPERM, "\(name) was not refused: \(outcome)")
            #expect(FileManager.default.fileExists(atPath: path), "\(name): the file to set it on was not made")
            #expect(Self.attempted.isDisjoint(with: attributes[path] ?? []), "\(name) left \(attributes[path] ?? []) on \(path)")
        }
    }

    /// The attributes the attacker tries to set. (Not "no attribute at all": a host with SELinux
    /// labels every new file with security.selinux itself.)
    static let attempted: Set<String> = ["security.capability", "security.sentinel", "trusted.sentinel"]

    /// The names of the extended attributes on each path (`llistxattr`, which Glibc's Swift module
    /// does not declare); a path that does not exist has none.
    static func extendedAttributes(of paths: [String]) throws -> [String: [String]] {
        let script = """
            import json, os, sys
            found = {}
            for path in sys.argv[1:]:
                try:
                    found[path] = sorted(os.listxattr(path, follow_symlinks=False))
                except FileNotFoundError:
                    found[path] = []
            print(json.dumps(found))
            """
        let listed = try ChildProcess.run("/usr/bin/env", ["python3", "-c", script] + paths)
        try #require(listed.status == 0, "\(listed.stderr)")
        return try JSONDecoder().decode([String: [String]].self, from: Data(listed.stdout.utf8))
    }

    /// `cp -p` of a set-uid-root system binary, and `tar -xp` of an archive holding a 04755 file
    /// whose owner is the workload's uid (so tar, asked to keep permissions, sets the mode as
    /// stored; without -p, GNU tar leaves set-id bits out by itself when not run by root).
    func tools(_ backend: SetIDBackend) throws {
        let scratch = try Scratch(for: backend.caller)
        let staging = scratch.base + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        try "#!/bin/sh\necho set-id\n".write(toFile: staging + "/setid-file", atomically: false, encoding: .utf8)
        chmod(staging + "/setid-file", 0o4755)
        let archive = try ChildProcess.run(
            "/usr/bin/env",
            ["tar", "-cf", scratch.workspace + "/setid.tar", "--numeric-owner", "--owner=65534", "--group=65534",
             "-C", staging, "setid-file"])
        try #require(archive.status == 0, "\(archive.stderr)")
        let listing = try ChildProcess.run("/usr/bin/env", ["tar", "-tvf", scratch.workspace + "/setid.tar", "--numeric-owner"])
        try #require(listing.stdout.hasPrefix("-rwsr-xr-x 65534/65534"), "the archive does not hold a set-uid file: \(listing.stdout)")

        let script = """
            source=$(find /usr/bin /bin -maxdepth 1 -type f -perm -4000 2>/dev/null | head -n 1)
            echo "source $source"
            cp -p "$source" /workspace/cp-copy; echo "cp status $?"
            mkdir /workspace/tar-out && tar -xpf /workspace/setid.tar -C /workspace/tar-out; echo "tar status $?"
            """
        let run = try backend.run(scratch, ["/bin/sh", "-c", script + " 2>&1"])
        let output = run.stdout + run.stderr
        #expect(run.status == 0, "\(output)")
        let source = output.split(separator: "\n").first { $0.hasPrefix("source /") }.map { String($0.dropFirst(7)) }
        let found = try #require(source, "no set-uid binary in the sandbox's /usr/bin: \(output)")

        for (path, label) in [(scratch.workspace + "/cp-copy", "cp -p \(found)"), (scratch.workspace + "/tar-out/setid-file", "tar -xp")] {
            var info = stat()
            #expect(lstat(path, &info) == 0, "\(label) made no file: \(output)")
            #expect(info.st_mode & (S_ISUID | S_ISGID) == 0, "\(label) left mode 0o\(String(info.st_mode & 0o7777, radix: 8)) on the host")
        }
        // tar made the file with the plain permission bits, then asked for the stored mode.
        var extracted = stat()
        #expect(lstat(scratch.workspace + "/tar-out/setid-file", &extracted) == 0 && extracted.st_mode & 0o7777 == 0o755)
        #expect(output.contains("tar status 2"), "\(output)")
        #expect(output.contains("Cannot change mode to rwsr-xr-x: Operation not permitted"), "\(output)")
        if backend == .docker {
            // Outside a user namespace the binary is root's, which the container's user cannot
            // give a copy to: cp drops the set-id bits itself (coreutils does so whenever it
            // cannot preserve the owner) and never asks for them.
            #expect(output.contains("cp status 0"), "\(output)")
        } else {
            // In the native sandbox the binary's owner is unmapped and shows as the overflow uid,
            // 65534, the workload's own: cp keeps that owner, then asks for the set-uid mode.
            #expect(output.contains("cp status 1"), "\(output)")
            // (It leaves the copy at 0700, the mode it created it with.)
            #expect(output.contains("cp: preserving permissions for"), "\(output)")
            #expect(output.contains("cp-copy’: Operation not permitted"), "\(output)")
        }
    }
}
