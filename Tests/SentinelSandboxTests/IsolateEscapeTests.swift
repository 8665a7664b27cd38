// The escape battery: every attempt must fail inside the sandbox and leave the host unchanged.
// Attempts that only seccomp can stop are wrapped in `withKnownIssue("pending seccomp")`: they
// record today's escape, and start failing (known issue not recorded) once seccomp is wired in,
// so they cannot be forgotten.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// One attempt: a shell snippet that must exit non-zero, and a fragment its output must show
/// (so an attempt that fails for an unrelated reason, like a missing tool, does not pass).
struct Attempt: CustomTestStringConvertible, Sendable {
    var name: String
    var script: String
    var expected: String
    var testDescription: String { name }
}

private func py(_ code: String) -> String {
    "python3 -c '\(code)'"
}

@Suite("sentinel-isolate stops escapes", .serialized, .requires(.root))
struct IsolateEscapeTests {
    static let attempts: [Attempt] = [
        Attempt(name: "write in /etc", script: "echo x > /etc/escape", expected: "Read-only file system"),
        Attempt(name: "write in /usr", script: "echo x > /usr/escape", expected: "Read-only file system"),
        Attempt(name: "write via ../", script: "echo x > /workspace/../../etc/escape", expected: "Read-only file system"),
        Attempt(name: "hard link to /etc/passwd", script: "ln /etc/passwd /workspace/pw", expected: "Invalid cross-device link"),
        Attempt(name: "read /etc/shadow", script: "cat /etc/shadow", expected: "Permission denied"),
        Attempt(name: "read the caller's home", script: "ls /root", expected: "No such file or directory"),
        Attempt(name: "/proc/1/root", script: "ls /proc/1/root/", expected: "Permission denied"),
        Attempt(name: "mount", script: "mount -t tmpfs none /tmp", expected: "must be superuser"),
        Attempt(name: "unshare a mount namespace", script: "unshare -m true", expected: "Operation not permitted"),
        // Seccomp refuses unshare(CLONE_NEWUSER) first; without it, max_user_namespaces=0 gives ENOSPC.
        Attempt(name: "nested user namespace", script: "unshare -U true", expected: "Operation not permitted"),
        Attempt(name: "chroot", script: "chroot / true", expected: "Operation not permitted"),
        Attempt(name: "ptrace PID 1", script: py("import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.ptrace(16,1,0,0); print(os.strerror(ctypes.get_errno())); exit(r==0)") + "; false",
                expected: "Operation not permitted"),
        Attempt(name: "Docker socket", script: py("import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"/var/run/docker.sock\")"), expected: "FileNotFoundError"),
        Attempt(name: "raw socket", script: py("import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)"), expected: "PermissionError"),
        Attempt(name: "packet socket", script: py("import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)"), expected: "PermissionError"),
        Attempt(name: "netlink: change an interface", script: "ip link set lo down", expected: "Operation not permitted"),
        Attempt(name: "bpf (host sysctl)", script: py("import ctypes,os; l=ctypes.CDLL(None,use_errno=True); a=(ctypes.c_uint*16)(2,4,4,1); r=l.syscall(321,0,a,64); print(os.strerror(ctypes.get_errno())); exit(r>=0)") + "; false",
                expected: "Operation not permitted"),
        Attempt(name: "perf_event_open (host sysctl)", script: py("import ctypes,os; l=ctypes.CDLL(None,use_errno=True); a=(ctypes.c_uint*32)(1,128); r=l.syscall(298,a,0,-1,-1,0); print(os.strerror(ctypes.get_errno())); exit(r>=0)") + "; false",
                expected: "Operation not permitted"),
        Attempt(name: "userfaultfd (host sysctl)", script: py("import ctypes,os; l=ctypes.CDLL(None,use_errno=True); r=l.syscall(323,0); print(os.strerror(ctypes.get_errno())); exit(r>=0)") + "; false",
                expected: "Operation not permitted"),
        Attempt(name: "write /proc/sys", script: "echo evil > /proc/sys/kernel/hostname", expected: "cannot create /proc/sys/kernel/hostname"),
        Attempt(name: "write /sys", script: "echo x > /sys/kernel/uevent_helper", expected: "cannot create /sys/kernel/uevent_helper"),
        Attempt(name: "write a cgroup", script: "echo $$ > /sys/fs/cgroup/pids/cgroup.procs", expected: "cannot create /sys/fs/cgroup"),
        Attempt(name: "/dev/kmsg", script: "cat /dev/kmsg", expected: "No such file or directory"),
        Attempt(name: "/dev/mem", script: "cat /dev/mem", expected: "No such file or directory"),
        Attempt(name: "hostname change", script: "hostname evil", expected: "must be root"),
        Attempt(name: "fill /tmp", script: "dd if=/dev/zero of=/tmp/fill bs=1M count=200", expected: "No space left on device"),
    ]

    @Test("the attempt fails", arguments: Caller.allCases, attempts)
    func attemptFails(caller: Caller, attempt: Attempt) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", attempt.script + " 2>&1"])
        #expect(result.status != 0, "\(attempt.name) succeeded: \(result.stdout)")
        #expect((result.stdout + result.stderr).contains(attempt.expected), "\(result.stdout)\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/etc/escape"))
        #expect(!FileManager.default.fileExists(atPath: "/usr/escape"))
    }

    @Test("writing through a symlink to a host file leaves it unchanged", arguments: Caller.allCases)
    func symlinkWrite(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let canary = scratch.base + "/canary"
        try "original\n".write(toFile: canary, atomically: false, encoding: .utf8)
        chmod(canary, 0o666)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "ln -s \(canary) /workspace/link && echo evil > /workspace/link"])
        #expect(result.status != 0)
        #expect(try String(contentsOfFile: canary, encoding: .utf8) == "original\n")
    }

    @Test("a root-only file shown read-only stays unreadable", arguments: Caller.allCases)
    func rootOnlyFile(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let directory = scratch.base + "/secret"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try "token\n".write(toFile: directory + "/key", atomically: false, encoding: .utf8)
        chmod(directory + "/key", 0o600)
        let result = try Isolate.run(caller, scratch, flags: ["--ro-bind", "\(directory):/secret"], ["cat", "/secret/key"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("Permission denied"))
    }

    @Test("a setuid-root binary does not raise privileges", arguments: Caller.allCases)
    func setuid(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let directory = scratch.base + "/suid"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: "/usr/bin/id", toPath: directory + "/id")
        chown(directory + "/id", 0, 0)
        chmod(directory + "/id", 0o4755)
        let result = try Isolate.run(caller, scratch, flags: ["--ro-bind", "\(directory):/suid"], ["/suid/id", "-u"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "65534\n")
    }

    @Test("a host process can be neither seen nor killed", arguments: Caller.allCases)
    func hostProcess(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let sleeper = SpawnedProcess()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["987655"]
        try sleeper.run()
        // SIGKILL: the test runner's blocked signals are inherited, so SIGTERM may never arrive.
        defer { kill(sleeper.processIdentifier, SIGKILL); sleeper.waitUntilExit() }
        let pid = sleeper.processIdentifier
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "grep -q 987655 /proc/\(pid)/cmdline && echo SEEN; kill -9 \(pid)"])
        #expect(result.status != 0)
        #expect(!result.stdout.contains("SEEN"))
        #expect(kill(pid, 0) == 0, "the host process must still be alive")
    }

    @Test("a host loopback listener cannot be reached", arguments: Caller.allCases)
    func hostLoopback(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let listener = try #require(TestListener.tcp())
        defer { close(listener.fd) }
        let result = try Isolate.run(caller, scratch, ["python3", "-c", "import socket; socket.create_connection((\"127.0.0.1\", \(listener.port)), timeout=10)"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("ConnectionRefusedError"))
        #expect(!TestListener.hasPending(listener.fd))
    }

    @Test("a host abstract Unix socket cannot be reached", arguments: Caller.allCases)
    func hostAbstractSocket(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let name = "sentinel-test-\(getpid())"
        let fd = try #require(TestListener.abstract(name))
        defer { close(fd) }
        let result = try Isolate.run(caller, scratch, ["python3", "-c", "import socket; s=socket.socket(socket.AF_UNIX); s.connect(\"\\0\(name)\")"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("ConnectionRefusedError"))
        #expect(!TestListener.hasPending(fd))
    }

    @Test("TIOCSTI cannot inject into the terminal", .requires(.executable("script", package: "bsdutils")))
    func tiocsti() throws {
        let scratch = try Scratch(for: .root)
        let code = """
            import fcntl, termios
            try:
                fcntl.ioctl(0, termios.TIOCSTI, b"x")
                print("INJECTED")
            except OSError as error:
                print("refused", error)
            """
        try code.write(toFile: scratch.workspace + "/tiocsti.py", atomically: false, encoding: .utf8)
        let inner = "\(Isolate.binary) --workspace \(scratch.workspace) --policy \(scratch.policy) -- python3 /workspace/tiocsti.py"
        let result = try Isolate.launch("/usr/bin/script", ["-qec", inner, "/dev/null"], directory: scratch.base)
        #expect(result.stdout.contains("refused"), "\(result.stdout)")
        #expect(!result.stdout.contains("INJECTED"))
    }

    @Test("a secret in the caller's environment does not pass", arguments: Caller.allCases)
    func secretEnvironment(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", "env; test -z \"$GITHUB_TOKEN\""], environment: ["GITHUB_TOKEN": "ghp_secret"])
        #expect(result.status == 0)
        #expect(!result.stdout.contains("ghp_secret"))
    }

    @Test("a fork bomb is contained and the host can still fork", arguments: Caller.allCases)
    func forkBomb(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, flags: ["--pids-limit", "32"], ["python3", "-c", "import os\nwhile True: os.fork()"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("BlockingIOError") || result.stderr.contains("Resource temporarily unavailable"))
        #expect(runQuietly("/bin/true", []) == 0)
    }

    @Test("a memory bomb is contained", arguments: Caller.allCases)
    func memoryBomb(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, flags: ["--memory", "64m", "--json-status"], ["python3", "-c", "x = bytearray(512 << 20); print(len(x))"])
        #expect(result.status != 0)
        #expect(!result.stdout.contains("536870912"))
        // Root: the cgroup's OOM killer (137, reported as a denial); rootless: RLIMIT_AS (MemoryError).
        #expect(result.stderr.contains("MemoryError") || result.stderr.contains("memory limit reached"))
    }

    @Test("attempts that only seccomp stops fail", arguments: Caller.allCases, [
        ("keyctl", py("import ctypes; l=ctypes.CDLL(None); exit(0 if l.syscall(250,0,-3,1,0,0) < 0 else 1)")),
        ("io_uring", py("import ctypes; l=ctypes.CDLL(None); p=(ctypes.c_char*120)(); exit(0 if l.syscall(425,1,p) < 0 else 1)")),
        ("vsock socket", py("import socket\ntry: socket.socket(40, socket.SOCK_STREAM)\nexcept OSError: exit(0)\nexit(1)")),
        ("netlink socket", py("import socket\ntry: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)\nexcept OSError: exit(0)\nexit(1)")),
        ("ptrace a sibling", py("import ctypes,os,time\np=os.fork()\nif p==0: time.sleep(5); os._exit(0)\nl=ctypes.CDLL(None); r=l.ptrace(16,p,0,0); os.kill(p,9); exit(0 if r<0 else 1)")),
    ])
    func seccompOnly(caller: Caller, attempt: (name: String, script: String)) throws {
        let scratch = try Scratch(for: caller)
        let result = try Isolate.run(caller, scratch, ["/bin/sh", "-c", attempt.script])
        #expect(result.status == 0, "\(attempt.name) was not blocked: \(result.stderr)")
    }
}

/// Host-side listeners for the reachability attempts.
enum TestListener {
    static func tcp() -> (fd: Int32, port: UInt16)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { close(fd); return nil }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    static func abstract(_ name: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index + 1] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 }
        }
        guard ok else { close(fd); return nil }
        return fd
    }

    static func hasPending(_ fd: Int32) -> Bool {
        let client = accept(fd, nil, nil)
        if client >= 0 { close(client); return true }
        return false
    }
}
