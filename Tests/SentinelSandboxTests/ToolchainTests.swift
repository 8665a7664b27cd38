// The caller's own toolchain in the native sandbox (docs/SANDBOX.md, "Your toolchain"): a venv made
// with an interpreter outside the sandbox (as pyenv's are, under ~/.pyenv) fails with a sentence
// that names the link leading out and the --ro-bind that brings it in, and runs once bound; a
// venv made with the system's interpreter runs as it is; a command the caller's PATH finds
// elsewhere than the sandbox's is named, not silently replaced.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("the caller's toolchain in the native sandbox", .serialized, .requires(.root))
struct ToolchainTests {
    /// A scratch project with an interpreter installed the way pyenv installs one, outside every
    /// directory the sandbox shows: `<base>/pyenv/versions/3.11/bin/python3.11`, a copy of the
    /// system's (which finds its standard library in /usr, as a relocated build would).
    final class Toolchain {
        let scratch: Scratch
        var prefix: String { scratch.base + "/pyenv/versions/3.11" }
        var interpreter: String { prefix + "/bin/python3.11" }

        init(for caller: Caller) throws {
            scratch = try Scratch(for: caller)
            try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
            let system = try #require(realpath("/usr/bin/python3", nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            })
            try FileManager.default.copyItem(atPath: system, toPath: interpreter)
            chmod(interpreter, 0o755)
            // Readable by the sandbox's user (65534 for a root caller), as an installed toolchain is.
            for made in ["/pyenv", "/pyenv/versions", "/pyenv/versions/3.11", "/pyenv/versions/3.11/bin"] {
                chmod(scratch.base + made, 0o755)
            }
        }

        /// `python -m venv --without-pip ws/NAME` with `python`, as the workspace's owner would.
        func venv(_ name: String, with python: String) throws {
            let made = try ChildProcess.run(python, ["-m", "venv", "--without-pip", scratch.workspace + "/" + name])
            try #require(made.status == 0, "\(made.stderr)")
            var info = stat()
            stat(scratch.workspace, &info)
            _ = try ChildProcess.run("/bin/chown", ["-R", "-h", "\(info.st_uid):\(info.st_gid)", scratch.workspace + "/" + name])
        }
    }

    @Test("a venv whose interpreter lives outside: the error names the link and the --ro-bind; bound, it runs", arguments: Caller.allCases)
    func venvWithOutsideInterpreter(caller: Caller) throws {
        let toolchain = try Toolchain(for: caller)
        try toolchain.venv(".venv", with: toolchain.interpreter)
        let command = [".venv/bin/python3", "-c", "import sys; print(sys.prefix)"]

        let refused = try Isolate.run(caller, toolchain.scratch, command)
        #expect(refused.status == 127, "\(refused.stdout)\(refused.stderr)")
        let venvPython = toolchain.scratch.workspace + "/.venv/bin/python3"
        #expect(
            refused.stderr.contains("\(venvPython) is a symlink to \(toolchain.interpreter), which is not inside the sandbox"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("--ro-bind \(toolchain.prefix)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("create the venv with a system interpreter"), "\(refused.stderr)")

        let bound = try Isolate.run(caller, toolchain.scratch, flags: ["--ro-bind", toolchain.prefix], command)
        #expect(bound.status == 0, "\(bound.stdout)\(bound.stderr)")
        #expect(bound.stdout == "/workspace/.venv\n", "\(bound.stderr)")

        // Under the guard the command is the guard's to start: the same sentence follows its error.
        let guarded = try Isolate.run(caller, toolchain.scratch, flags: ["--guard"], command)
        #expect(guarded.status == 127, "\(guarded.stdout)\(guarded.stderr)")
        #expect(guarded.stderr.contains("which is not inside the sandbox; bind it with --ro-bind \(toolchain.prefix)"), "\(guarded.stderr)")
    }

    @Test("a venv made with the system's interpreter runs as it is, with its own packages", arguments: Caller.allCases)
    func venvWithSystemInterpreter(caller: Caller) throws {
        let toolchain = try Toolchain(for: caller)
        try toolchain.venv(".venv", with: "/usr/bin/python3")
        let site = toolchain.scratch.workspace + "/.venv/lib/python3.11/site-packages"
        try "MESSAGE = 'from the venv'\n".write(toFile: site + "/venvonly.py", atomically: false, encoding: .utf8)
        var info = stat()
        stat(toolchain.scratch.workspace, &info)
        chown(site + "/venvonly.py", info.st_uid, info.st_gid)
        let result = try Isolate.run(
            caller, toolchain.scratch, [".venv/bin/python3", "-c", "import sys, venvonly; print(sys.prefix, venvonly.MESSAGE)"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "/workspace/.venv from the venv\n", "\(result.stderr)")
    }

    @Test("a command your PATH finds elsewhere is named, not silently replaced by the system's")
    func pathIsReset() throws {
        let toolchain = try Toolchain(for: .root)
        let bin = toolchain.scratch.base + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: bin + "/python3", withDestinationPath: toolchain.interpreter)
        try "#!/bin/sh\necho mine\n".write(toFile: bin + "/mytool", atomically: false, encoding: .utf8)
        chmod(bin + "/mytool", 0o755)
        let path = bin + ":/usr/sbin:/usr/bin:/sbin:/bin"

        let python = try Isolate.run(.root, toolchain.scratch, ["python3", "-c", "print('ran')"], environment: ["PATH": path])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout == "ran\n")
        #expect(python.stderr.contains("python3 runs as /usr/bin/python3 inside the sandbox (its PATH is reset), not as \(bin)/python3"),
                "\(python.stderr)")

        let tool = try Isolate.run(.root, toolchain.scratch, ["mytool"], environment: ["PATH": path])
        #expect(tool.status == 127, "\(tool.stdout)\(tool.stderr)")
        #expect(tool.stderr.contains("on yours it is \(bin)/mytool, which the sandbox does not show"), "\(tool.stderr)")
        #expect(tool.stderr.contains("--ro-bind \(toolchain.scratch.base)"), "\(tool.stderr)")
    }
}

/// The same venv in a container: the container shows the host's workspace and binds only, so the
/// venv's link to a host-only interpreter names a file the image does not have, and the run says
/// which link leads out instead of Docker's bare "No such file or directory".
@Suite(
    "the caller's toolchain in a container", .serialized, .requires(.root), .requires(.docker),
    .requires(.dockerImage(DockerIsolate.baseImage)))
struct DockerToolchainTests {
    @Test("a venv whose interpreter lives outside: the note names the link and what to do, with and without the guard", arguments: [false, true])
    func venvWithOutsideInterpreter(guarded: Bool) throws {
        let toolchain = try ToolchainTests.Toolchain(for: .unprivileged)
        try toolchain.venv(".venv", with: toolchain.interpreter)
        let refused = try DockerIsolate.run(
            toolchain.scratch, flags: DockerIsolate.flags, guarded: guarded, [".venv/bin/python3", "-c", "print(1)"])
        #expect(refused.status == 127, "\(refused.stdout)\(refused.stderr)")
        #expect(
            refused.stderr.contains(
                ".venv/bin/python3 leads, through the symlink /workspace/.venv/bin/python3.11, to \(toolchain.interpreter), which a "
                    + "container takes from the image, not from the host"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("python3 -m venv run in the container"), "\(refused.stderr)")
    }

    @Test("a venv made in the container with the image's interpreter runs there")
    func venvMadeInTheContainer() throws {
        let scratch = try Scratch(for: .unprivileged)
        let made = try DockerIsolate.run(
            scratch, flags: DockerIsolate.flags,
            ["/bin/sh", "-c", "python3 -m venv --without-pip .venv && .venv/bin/python3 -c 'import sys; print(sys.prefix)'"])
        #expect(made.status == 0, "\(made.stdout)\(made.stderr)")
        #expect(made.stdout.hasSuffix("/workspace/.venv\n"), "\(made.stdout)\(made.stderr)")
        #expect(!made.stderr.contains("takes from the image"), "\(made.stderr)")
    }

    @Test("a command found in the image is not second-guessed", arguments: ["python3", "/usr/bin/python3"])
    func imageCommand(program: String) throws {
        let scratch = try Scratch(for: .unprivileged)
        let ran = try DockerIsolate.run(scratch, flags: DockerIsolate.flags, [program, "-c", "print(1)"])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(!ran.stderr.contains("note:"), "\(ran.stderr)")
    }
}
