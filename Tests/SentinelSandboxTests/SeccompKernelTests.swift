// The shipped profiles on the real kernel: the workloads they are written for run to the end in
// enforce mode, the dangerous calls fail with EPERM (and clone3 with ENOSYS), an x32 call kills
// the process, and a filter the kernel refuses means the command does not run.
//
// Every filtered process is started through seccomp-exec-helper; the probes only touch paths
// that do not exist, fds that are not open and pids that do not exist, so that even without a
// filter (the control runs) they change nothing on the host.

import Foundation
import Glibc
import SentinelSandbox
import SentinelTestSupport
import Testing

enum SeccompProbes {
    /// The real interpreter behind any pyenv or distribution shim (fewer moving parts for the
    /// probes; the workload tests use plain `python3` on purpose).
    static let python: String = {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "python3" }
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? "python3" : path
    }()

    /// The numbers the probe needs, from Sentinel's table for this machine.
    static func numbers() throws -> String {
        let architecture = try #require(SeccompArchitecture.native)
        let names = [
            "ptrace", "keyctl", "request_key", "unshare", "setns", "clone", "clone3", "pivot_root", "bpf",
            "perf_event_open", "io_uring_setup", "userfaultfd", "process_vm_writev", "delete_module", "ioctl", "kcmp",
            "personality", "swapoff", "acct", "umount2", "mount", "chroot",
        ]
        var pairs: [String] = []
        for name in names {
            let number = try #require(architecture.syscalls.number(of: name))
            pairs.append("\"\(name)\": \(number)")
        }
        return "{" + pairs.joined(separator: ", ") + "}"
    }

    /// Prints {"probe": errno (0 = success)} as JSON. `safe` limits it to probes whose unfiltered
    /// effect is nil or process-local, for the control run without a filter.
    static let script = #"""
        import ctypes, json, os, socket, sys
        NR = json.loads(sys.argv[1])
        only_safe = len(sys.argv) > 2 and sys.argv[2] == "safe"
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        keep = []
        def text(value):
            buffer = ctypes.create_string_buffer(value)
            keep.append(buffer)
            return ctypes.addressof(buffer)
        def call(name, *args, number=None):
            ctypes.set_errno(0)
            result = libc.syscall(ctypes.c_long(NR[name] if number is None else number),
                                  *[ctypes.c_ulong(a & 0xFFFFFFFFFFFFFFFF) for a in args])
            return result, (ctypes.get_errno() if result < 0 else 0)
        def sock(family, kind, protocol=0):
            try:
                socket.socket(family, kind, protocol).close()
                return 0
            except OSError as error:
                return error.errno
        results = {}
        # PTRACE_PEEKDATA on a non-tracee: ESRCH. (The tracer's own requests, PTRACE_SEIZE, CONT,
        # LISTEN, …, are allowed for sentinel guard; reading memory never is.)
        results["ptrace"] = call("ptrace", 2, os.getppid(), 0, 0)[1]
        results["keyctl"] = call("keyctl", 0, -3, 0)[1]                        # KEYCTL_GET_KEYRING_ID, session
        results["request_key"] = call("request_key", text(b"user"), text(b"sentinel-none"), 0, 0)[1]
        results["setns"] = call("setns", -1, 0)[1]                             # EBADF
        results["mount"] = call("mount", text(b"none"), text(b"/nonexistent-sentinel"), text(b"tmpfs"), 0, 0)[1]
        results["umount2"] = call("umount2", text(b"/nonexistent-sentinel"), 0)[1]
        results["pivot_root"] = call("pivot_root", text(b"/nonexistent-a"), text(b"/nonexistent-b"))[1]
        results["chroot"] = call("chroot", text(b"/nonexistent-sentinel"))[1]
        results["bpf"] = call("bpf", 5, 0, 0)[1]                               # BPF_PROG_LOAD, NULL attr
        results["perf_event_open"] = call("perf_event_open", 0, 0, -1, -1, 0)[1]
        results["io_uring_setup"] = call("io_uring_setup", 1, 0)[1]            # NULL params
        results["process_vm_writev"] = call("process_vm_writev", 0x7FFFFFF0, 0, 1, 0, 1, 0)[1]
        results["delete_module"] = call("delete_module", text(b"sentinel_no_such_module"), 0o4000)[1]
        results["swapoff"] = call("swapoff", text(b"/nonexistent-sentinel"))[1]
        results["acct"] = call("acct", text(b"/nonexistent-sentinel"))[1]
        results["ioctl_tiocsti"] = call("ioctl", 0, 0x5412, text(b"x"))[1]     # stdin is /dev/null: ENOTTY
        results["ioctl_tiocsti_high_bits"] = call("ioctl", 0, 0xFFFFFFFF00005412, text(b"x"))[1]
        results["ioctl_tioclinux"] = call("ioctl", 0, 0x541C, text(b"\x02"))[1]
        results["personality_addr_no_randomize"] = call("personality", 0x0040000)[1]
        results["socket_vsock"] = sock(40, socket.SOCK_STREAM)
        results["socket_alg"] = sock(38, socket.SOCK_SEQPACKET)
        results["socket_netlink_audit"] = sock(16, socket.SOCK_RAW, 9)
        results["clone3"] = call("clone3", 0, 0)[1]
        results["unshare"] = call("unshare", 0x10000000)[1]                    # CLONE_NEWUSER, last: it changes
                                                                               # what the probes above may do
        if not only_safe:
            result, error = call("clone", 0x10000000 | 17, 0, 0, 0, 0)         # CLONE_NEWUSER|SIGCHLD
            if result == 0:
                os._exit(0)
            if result > 0:
                os.waitpid(result, 0)
            results["clone_newuser"] = error
            results["kcmp"] = call("kcmp", os.getpid(), os.getpid(), 0, 0, 0)[1]
            results["userfaultfd"] = call("userfaultfd", 0o2000000)[1]
        # Allowed calls still work under the filter.
        results["socket_inet"] = sock(socket.AF_INET, socket.SOCK_STREAM)
        results["socket_netlink_route"] = sock(16, socket.SOCK_RAW, 0)
        read_end, write_end = os.pipe()
        os.write(write_end, b"ab")
        pending = ctypes.c_int(0)
        failed = libc.ioctl(read_end, 0x541B, ctypes.byref(pending))            # FIONREAD
        results["ioctl_fionread_pipe"] = ctypes.get_errno() if failed else (0 if pending.value == 2 else -1)
        print(json.dumps(results))
        """#

    static func parse(_ output: String) throws -> [String: Int] {
        let data = try #require(output.split(separator: "\n").last.map { Data($0.utf8) }, "no output")
        return try JSONDecoder().decode([String: Int].self, from: data)
    }

    static func writeTemporary(_ contents: [UInt8], name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("seccomp-\(UUID().uuidString)-\(name)")
        try Data(contents).write(to: url)
        return url
    }
}

@Suite(.serialized) struct SeccompKernelWorkloadTests {
    static let pythonScript = """
        import threading, json, ssl, subprocess
        out = []
        t = threading.Thread(target=lambda: out.append("thread")); t.start(); t.join()
        out.append(subprocess.run(["echo", "subprocess"], capture_output=True, text=True).stdout.strip())
        ssl.create_default_context()
        print(json.dumps(out))
        """

    @Test(.requires(.python3), arguments: SeccompFixtures.shippedProfiles)
    func python3ThreadsSubprocessesAndSSL(profile: String) throws {
        let run = try SeccompHelper.run(["--profile", profile], ["python3", "-c", Self.pythonScript])
        #expect(run.succeeded, "\(run)")
        #expect(run.standardOutput.contains("[\"thread\", \"subprocess\"]"), "\(run)")
    }

    @Test(arguments: SeccompFixtures.shippedProfiles)
    func shell(profile: String) throws {
        let run = try SeccompHelper.run(
            ["--profile", profile], ["/bin/sh", "-c", "x=$(echo sub); for i in 1 2; do :; done; echo \"sh $x\" | cat"])
        #expect(run.succeeded && run.standardOutput == "sh sub\n", "\(run)")
    }

    @Test(.requires(.node), arguments: SeccompFixtures.shippedProfiles)
    func node(profile: String) throws {
        let script = """
            const cp = require("child_process"); const { Worker } = require("worker_threads");
            const sub = cp.execSync("echo child").toString().trim();
            new Worker("require('worker_threads').parentPort.postMessage('worker')", { eval: true })
              .on("message", (m) => console.log("node", sub, m));
            """
        let run = try SeccompHelper.run(["--profile", profile], ["node", "-e", script])
        #expect(run.succeeded && run.standardOutput == "node child worker\n", "\(run)")
    }

    @Test(.requires(.cc), arguments: SeccompFixtures.shippedProfiles)
    func ccCompilesAndRunsHelloWorld(profile: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("seccomp-cc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "#include <stdio.h>\nint main(void) { puts(\"hello, world\"); return 0; }\n"
            .write(to: directory.appendingPathComponent("hello.c"), atomically: true, encoding: .utf8)
        let run = try SeccompHelper.run(
            ["--profile", profile], ["/bin/sh", "-c", "cd '\(directory.path)' && cc -O2 -o hello hello.c && ./hello"])
        #expect(run.succeeded && run.standardOutput == "hello, world\n", "\(run)")
    }

    @Test(.requires(.git), arguments: SeccompFixtures.shippedProfiles)
    func gitVersion(profile: String) throws {
        let run = try SeccompHelper.run(["--profile", profile], ["git", "--version"])
        #expect(run.succeeded && run.standardOutput.hasPrefix("git version"), "\(run)")
    }

    @Test(arguments: SeccompFixtures.shippedProfiles)
    func coreutils(profile: String) throws {
        let script = """
            d=$(mktemp -d) && cd "$d" && printf 'b\\na\\n' > f && sort f | uniq | wc -l && cp f g && mv g h && \
            ln -s h l && readlink l && stat -c %s h && tar cf t.tar h && tar tf t.tar && ls | head -1 && \
            find . -name 'h' && chmod 600 h && touch -d 2020-01-01 h && du -s . >/dev/null && cd / && rm -rf "$d" && \
            date +%Y >/dev/null && id -u >/dev/null && echo done
            """
        let run = try SeccompHelper.run(["--profile", profile], ["/bin/sh", "-c", script])
        #expect(run.succeeded && run.standardOutput.hasSuffix("done\n"), "\(run)")
    }
}

@Suite(.serialized) struct SeccompKernelDenialTests {
    @Test(.requires(.python3), arguments: SeccompFixtures.shippedProfiles)
    func dangerousCallsFailWithEPERM(profile: String) throws {
        let run = try SeccompHelper.run(
            ["--profile", profile], [SeccompProbes.python, "-c", SeccompProbes.script, SeccompProbes.numbers()])
        #expect(run.succeeded, "\(run)")
        let results = try SeccompProbes.parse(run.standardOutput)
        let allowed: Set<String> = ["socket_inet", "socket_netlink_route", "ioctl_fionread_pipe"]
        for (probe, error) in results.sorted(by: { $0.key < $1.key }) {
            if allowed.contains(probe) {
                #expect(error == 0, "\(probe) should work under the filter, got errno \(error)")
            } else if probe == "clone3" {
                #expect(error == Int(ENOSYS), "clone3 should fail with ENOSYS so glibc falls back to clone")
            } else {
                #expect(error == Int(EPERM), "\(probe): errno \(error), expected EPERM")
            }
        }
        #expect(results.count == 30)
    }

    /// The same probes without a filter: none of the safe ones fails with EPERM, so the test
    /// above can only pass because the filter refused them.
    @Test(.requires(.python3), .requires(.root))
    func theProbesDiscriminate() throws {
        let allowAll = try SeccompProbes.writeTemporary(
            Array("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}".utf8), name: "allow.json")
        defer { try? FileManager.default.removeItem(at: allowAll) }
        let run = try SeccompHelper.run(
            ["--profile", allowAll.path],
            [SeccompProbes.python, "-c", SeccompProbes.script, SeccompProbes.numbers(), "safe"])
        #expect(run.succeeded, "\(run)")
        let results = try SeccompProbes.parse(run.standardOutput)
        for probe in [
            "ptrace", "keyctl", "setns", "mount", "umount2", "chroot", "pivot_root", "ioctl_tiocsti",
            "ioctl_tiocsti_high_bits", "socket_vsock", "unshare", "swapoff", "clone3", "bpf",
        ] {
            #expect(results[probe] != Int(EPERM), "\(probe) fails with EPERM even without a filter")
        }
    }

    @Test(.requires(.unshare), arguments: SeccompFixtures.shippedProfiles)
    func unshareUserNamespaceIsRefused(profile: String) throws {
        let run = try SeccompHelper.run(["--profile", profile], ["unshare", "-U", "true"])
        #expect(run.exitStatus != 0, "\(run)")
        #expect(run.standardError.contains("Operation not permitted"), "\(run)")
    }

    /// An x32 call (bit 30 of the number) kills the process: SIGSYS from SECCOMP_RET_KILL_PROCESS.
    @Test(.requires(.python3))
    func anX32CallKillsTheProcess() throws {
        try #require(SeccompArchitecture.native == .x86_64)
        let script = "import ctypes; ctypes.CDLL(None).syscall(0x40000000 | 39); print('survived')"
        // No core file from the SIGSYS: the shell lowers the limit and execs Python in its place.
        let run = try SeccompHelper.run(
            ["--profile", SeccompFixtures.strictPath],
            ["/bin/sh", "-c", "ulimit -c 0; exec \"$0\" -c \"$1\"", SeccompProbes.python, script])
        #expect(run.signal == SIGSYS, "\(run)")
        #expect(!run.standardOutput.contains("survived"))
    }
}

@Suite(.serialized) struct SeccompInstallRefusalTests {
    /// Without no_new_privs and without CAP_SYS_ADMIN the kernel refuses the filter (EACCES):
    /// the helper reports it and never runs the command.
    @Test(.requires(.root))
    func withoutNoNewPrivsAsAnOrdinaryUserTheRunIsRefused() throws {
        let refused = try SeccompHelper.run(
            ["--as-nobody", "--no-no-new-privs", "--profile", SeccompFixtures.strictPath],
            ["/bin/sh", "-c", "echo ran"])
        #expect(refused.exitStatus == 125, "\(refused)")
        #expect(
            refused.standardError.contains("EACCES") && refused.standardError.contains("no_new_privs"), "\(refused)")
        #expect(refused.standardError.contains("The command was not run"))
        #expect(!refused.standardOutput.contains("ran"))

        let allowed = try SeccompHelper.run(
            ["--as-nobody", "--profile", SeccompFixtures.strictPath], ["/bin/sh", "-c", "echo ran"])
        #expect(allowed.succeeded && allowed.standardOutput == "ran\n", "\(allowed)")
    }

    @Test func aProgramTheKernelRejectsIsRefused() throws {
        // One load and no return: the kernel's checker refuses it.
        let program = SeccompInstruction(code: 0x20, k: 4)
        let bytes = try SeccompProgram([program]).bytes
        let file = try SeccompProbes.writeTemporary(bytes, name: "bad.bpf")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try SeccompHelper.run(["--program", file.path], ["/bin/sh", "-c", "echo ran"])
        #expect(run.exitStatus == 125, "\(run)")
        #expect(run.standardError.contains("EINVAL"), "\(run)")
        #expect(!run.standardOutput.contains("ran"))
    }

    @Test func aProfileForAnotherArchitectureIsRefusedBeforeAnythingRuns() throws {
        let other = SeccompArchitecture.native == .x86_64 ? "SCMP_ARCH_AARCH64" : "SCMP_ARCH_X86_64"
        let file = try SeccompProbes.writeTemporary(
            Array("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"\(other)\"]}".utf8), name: "arch.json")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try SeccompHelper.run(["--profile", file.path], ["/bin/sh", "-c", "echo ran"])
        #expect(run.exitStatus == 125 && !run.standardOutput.contains("ran"), "\(run)")
    }

    @Test func probesReportThisKernel() {
        #expect(Seccomp.isActionAvailable(.killProcess))
        #expect(Seccomp.isActionAvailable(.log))
        #expect(Seccomp.userNotificationSupport == .available)
        #expect(!Seccomp.isFiltered, "the test runner itself must never be filtered")
    }
}

/// Docker reads the same files: run the probes in a container under each profile and expect the
/// same answers as the native filter. The container is an empty imported image with the host's
/// /usr mounted read-only, so nothing is pulled.
@Suite(.serialized) struct SeccompDockerParityTests {
    static func docker(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A tar of an empty root whose /bin, /lib and /lib64 point into /usr (Debian's merged /usr).
    static func emptyRootArchive() throws -> Data {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "seccomp-root-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (link, target) in [("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent(link).path, withDestinationPath: target)
        }
        for name in ["usr", "etc", "tmp"] {
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        let tar = SpawnedProcess()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-C", directory.path, "-cf", "-", "."]
        let output = Pipe()
        tar.standardOutput = output
        try tar.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        tar.waitUntilExit()
        return data
    }

    @Test(.requires(.docker), .requires(.executable("/usr/bin/python3", package: "python3")))
    func dockerDeniesWhatTheNativeFilterDenies() throws {
        let image = "sentinel-seccomp-test:\(UUID().uuidString.lowercased().prefix(12))"
        let imported = try Self.docker(["import", "-", image], input: try Self.emptyRootArchive())
        try #require(imported.status == 0, "docker import failed: \(imported.output)")
        defer { _ = try? Self.docker(["rmi", "-f", image]) }
        for profile in SeccompFixtures.shippedProfiles {
            let run = try Self.docker([
                "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
                "--security-opt", "seccomp=\(profile)", "-v", "/usr:/usr:ro", image,
                "/usr/bin/python3", "-c", SeccompProbes.script, try SeccompProbes.numbers(),
            ])
            #expect(run.status == 0, "\(profile): \(run.output)")
            let docker = try SeccompProbes.parse(run.output)
            let native = try SeccompProbes.parse(
                try SeccompHelper.run(
                    ["--profile", profile], [SeccompProbes.python, "-c", SeccompProbes.script, SeccompProbes.numbers()]
                ).standardOutput)
            #expect(docker == native, "\(profile): Docker \(docker) vs native \(native)")
        }
    }
}

/// `sentinel guard` under a profile that refuses `process_vm_readv` (as Docker 20.10's default
/// does on this kernel): it must refuse to start the command, saying why and what to do, rather
/// than start it and refuse each of its calls.
@Suite struct GuardUnderForeignProfileTests {
    @Test(.requires(.root))
    func guardRefusesToStartWhenItCannotReadMemory() throws {
        let profile = try SeccompProbes.writeTemporary(
            Array(#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["process_vm_readv"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#.utf8),
            name: "no-vm-readv.json")
        defer { try? FileManager.default.removeItem(at: profile) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let marker = directory.appendingPathComponent("ran").path
        let run = try SeccompHelper.run(
            ["--profile", profile.path],
            [Isolate.sentinelBinary, "guard", "--policy", "builtin:default", "--audit-log", directory.path + "/audit.log",
             "--", "/usr/bin/touch", marker])
        #expect(run.exitStatus != 0, "\(run)")
        #expect(run.standardError.contains("process_vm_readv"), "\(run.standardError)")
        #expect(run.standardError.contains("SENTINEL_GUARD_IN_CONTAINER=0"), "\(run.standardError)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the command must not have run")
    }
}
