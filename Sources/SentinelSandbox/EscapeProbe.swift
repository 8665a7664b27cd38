// The built-in battery of escape attempts behind `sentinel doctor --attack`. The runner side
// (`runInside`) executes inside a sandbox, as the workload, and writes one JSON line per
// attempt; `EscapeBattery` (launcher side) prepares host-side targets, runs the sandbox and
// checks afterwards that the host is unchanged.

import CSentinelLinux
import FoundationEssentials
import Glibc

/// The result of one escape attempt.
public struct EscapeAttempt: Codable, Sendable, Equatable {
    /// Short name, e.g. `write outside /workspace`.
    public var name: String
    /// Whether the attempt failed, as it must.
    public var blocked: Bool
    /// What happened (errno text, or what succeeded).
    public var detail: String

    /// Creates a result.
    public init(name: String, blocked: Bool, detail: String) {
        self.name = name
        self.blocked = blocked
        self.detail = detail
    }
}

/// Where the probe finds its host-side targets (passed in argv; the probe is the workload, not
/// the stage, so argv is just its input).
struct ProbeTargets {
    var canary = ""
    var home = ""
    var hostPID: pid_t = 0
    var port: UInt16 = 0
    var abstractName = ""
    var secretName = ""
    /// What the host process's command line holds (the sleeper's argument).
    var hostMarker = ""
    /// The sandbox's memory limit in bytes, which the memory bomb must not get past.
    var memoryLimit = 0
    var output = "/workspace/.sentinel-attack.jsonl"

    init(_ arguments: [String]) {
        var index = 0
        while index + 1 < arguments.count {
            let value = arguments[index + 1]
            switch arguments[index] {
            case "--canary": canary = value
            case "--home": home = value
            case "--host-pid": hostPID = pid_t(value) ?? 0
            case "--port": port = UInt16(value) ?? 0
            case "--abstract": abstractName = value
            case "--secret": secretName = value
            case "--host-marker": hostMarker = value
            case "--memory-limit": memoryLimit = Int(value) ?? 0
            case "--out": output = value
            default: break
            }
            index += 2
        }
    }
}

enum EscapeProbe {
    /// Every attempt `runInside` makes, in order: the launcher reports any it finds no result for
    /// as not blocked (a probe that died midway proves nothing about the rest).
    static let attemptNames = [
        "write outside /workspace (/etc)", "write outside /workspace (/usr/bin)", "write outside via ../",
        "write to the host canary path", "write through a symlink", "hard link to a file outside /workspace",
        "read a root-only file (/etc/shadow)", "read the caller's home", "reach the host through /proc/1/root",
        "mount a file system", "unshare a mount namespace", "create a nested user namespace", "chroot",
        "ptrace PID 1 (the sandbox's init)", "see a host process", "kill a host process",
        "connect to a host loopback service", "connect to a host abstract Unix socket", "connect to the Docker socket",
        "open a raw socket", "open a packet socket", "reconfigure the network (netlink/ioctl: loopback down)",
        "open a netlink audit socket", "open a vsock socket", "keyctl", "bpf", "io_uring", "perf_event_open",
        "userfaultfd", "load a kernel module", "kexec_load", "TIOCSTI into the terminal",
        "gain privileges through setuid (no_new_privs, nosuid)", "write /proc/sys", "write /proc/sysrq-trigger",
        "write /sys", "write a cgroup", "open /dev/kmsg", "open /dev/mem", "change the host name",
        "read a secret from the caller's environment", "fork bomb", "memory bomb", "fill /tmp",
    ]

    /// How the memory bomb's detail starts when the kernel killed it; the launcher then looks for
    /// the OOM kill in the cgroup.
    static let memoryKilledPrefix = "killed by SIGKILL"

    /// Runs every attempt and writes the results, one JSON line each as soon as it is known (so a
    /// probe that dies leaves what it found); returns 0.
    static func runInside(_ arguments: [String]) -> Int32 {
        let targets = ProbeTargets(arguments)
        let output = open(targets.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard output >= 0 else { return 1 }
        defer { close(output) }
        func attempt(_ name: String, _ body: () -> (Bool, String)) {
            let (blocked, detail) = body()
            guard let line = try? JSONEncoder().encode(EscapeAttempt(name: name, blocked: blocked, detail: detail)) else { return }
            try? Sys.writeAll(output, Array(line) + [0x0a])
        }
        /// A call that must fail: blocked when it returns < 0.
        func mustFail(_ result: Int) -> (Bool, String) {
            result < 0 ? (true, "failed: \(Errno.current)") : (false, "succeeded")
        }
        func openForWrite(_ path: String) -> (Bool, String) {
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 { close(fd); return (false, "\(path) opened for writing") }
            return (true, "\(path): \(Errno.current)")
        }
        func openForRead(_ path: String) -> (Bool, String) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { close(fd); return (false, "\(path) opened for reading") }
            return (true, "\(path): \(Errno.current)")
        }

        attempt("write outside /workspace (/etc)") { openForWrite("/etc/sentinel-escape") }
        attempt("write outside /workspace (/usr/bin)") { openForWrite("/usr/bin/sentinel-escape") }
        attempt("write outside via ../") { openForWrite("/workspace/../../etc/sentinel-escape") }
        attempt("write to the host canary path") { targets.canary.isEmpty ? (true, "no canary") : openForWrite(targets.canary) }
        attempt("write through a symlink") {
            unlink("/workspace/.sentinel-link")
            guard symlink(targets.canary.isEmpty ? "/etc/passwd" : targets.canary, "/workspace/.sentinel-link") == 0 else {
                return (true, "symlink: \(Errno.current)")
            }
            defer { unlink("/workspace/.sentinel-link") }
            return openForWrite("/workspace/.sentinel-link")
        }
        attempt("hard link to a file outside /workspace") {
            unlink("/workspace/.sentinel-hardlink")
            let result = link("/etc/passwd", "/workspace/.sentinel-hardlink")
            if result == 0 { unlink("/workspace/.sentinel-hardlink") }
            return mustFail(Int(result))
        }
        attempt("read a root-only file (/etc/shadow)") { openForRead("/etc/shadow") }
        attempt("read the caller's home") { targets.home.isEmpty ? (true, "no home") : openForRead(targets.home) }
        attempt("reach the host through /proc/1/root") {
            let (blocked, detail) = openForRead("/proc/1/root" + (targets.canary.isEmpty ? "/etc/shadow" : targets.canary))
            return (blocked, detail)
        }
        attempt("mount a file system") { mustFail(Int(mount("none", "/tmp", "tmpfs", 0, nil))) }
        attempt("unshare a mount namespace") { mustFail(Int(sentinel_unshare(Int32(SENTINEL_CLONE_NEWNS)))) }
        attempt("create a nested user namespace") { mustFail(Int(sentinel_unshare(Int32(SENTINEL_CLONE_NEWUSER)))) }
        attempt("chroot") { mustFail(Int(chroot("/tmp"))) }
        attempt("ptrace PID 1 (the sandbox's init)") { mustFail(sentinel_probe(SENTINEL_PROBE_PTRACE_ATTACH, 1)) }
        attempt("see a host process") {
            guard targets.hostPID > 0 else { return (true, "no host pid") }
            // The host process is `sleep <marker>`: a process of the sandbox that happens to have
            // the same pid number does not show the marker.
            let cmdline = (try? Sys.readFile("/proc/\(targets.hostPID)/cmdline")) ?? ""
            guard !targets.hostMarker.isEmpty else { return (false, "inconclusive: no marker for the host process") }
            return cmdline.contains(targets.hostMarker)
                ? (false, "/proc/\(targets.hostPID) shows the host process") : (true, "not visible")
        }
        attempt("kill a host process") {
            guard targets.hostPID > 0 else { return (true, "no host pid") }
            // The launcher checks afterwards that the process is still alive.
            let result = kill(targets.hostPID, SIGKILL)
            return result < 0 ? (true, "kill: \(Errno.current)") : (true, "a sandbox process with that pid number got the signal (host checked separately)")
        }
        attempt("connect to a host loopback service") { connectTCP(port: targets.port) }
        attempt("connect to a host abstract Unix socket") { connectUnix(abstract: targets.abstractName) }
        attempt("connect to the Docker socket") {
            let (a, da) = connectUnix(path: "/var/run/docker.sock")
            let (b, db) = connectUnix(path: "/run/docker.sock")
            return (a && b, da + "; " + db)
        }
        attempt("open a raw socket") { closeIfOpen(socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_ICMP))) }
        attempt("open a packet socket") { closeIfOpen(socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)) }
        attempt("reconfigure the network (netlink/ioctl: loopback down)") {
            // Re-uses the loopback helper's ioctl path: setting flags needs CAP_NET_ADMIN.
            mustFail(Int(sentinel_loopback_up()))
        }
        // NETLINK_ROUTE stays open (getaddrinfo reads routes through it); audit (9) must not.
        attempt("open a netlink audit socket") { closeIfOpen(socket(AF_NETLINK, Int32(SOCK_RAW.rawValue), 9 /* NETLINK_AUDIT */)) }
        attempt("open a vsock socket") { closeIfOpen(socket(40 /* AF_VSOCK */, Int32(SOCK_STREAM.rawValue), 0)) }
        attempt("keyctl") { mustFail(sentinel_probe(SENTINEL_PROBE_KEYCTL, 0)) }
        attempt("bpf") { mustFail(sentinel_probe(SENTINEL_PROBE_BPF, 0)) }
        attempt("io_uring") { mustFail(sentinel_probe(SENTINEL_PROBE_IO_URING_SETUP, 0)) }
        attempt("perf_event_open") { mustFail(sentinel_probe(SENTINEL_PROBE_PERF_EVENT_OPEN, 0)) }
        attempt("userfaultfd") { mustFail(sentinel_probe(SENTINEL_PROBE_USERFAULTFD, 0)) }
        attempt("load a kernel module") { mustFail(sentinel_probe(SENTINEL_PROBE_INIT_MODULE, 0)) }
        attempt("kexec_load") { mustFail(sentinel_probe(SENTINEL_PROBE_KEXEC_LOAD, 0)) }
        attempt("TIOCSTI into the terminal") { injectIntoTerminal() }
        attempt("gain privileges through setuid (no_new_privs, nosuid)") { runSetUIDProgram() }
        attempt("write /proc/sys") { openForWrite("/proc/sys/kernel/hostname") }
        attempt("write /proc/sysrq-trigger") { openForWrite("/proc/sysrq-trigger") }
        attempt("write /sys") { openForWrite("/sys/kernel/uevent_helper") }
        attempt("write a cgroup") {
            let (a, da) = openForWrite("/sys/fs/cgroup/cgroup.procs")
            let b = mount("cgroup2", "/tmp", "cgroup2", 0, nil) < 0
            return (a && b, da + (b ? "; mount cgroup2 refused" : "; cgroup2 mounted"))
        }
        attempt("open /dev/kmsg") { openForRead("/dev/kmsg") }
        attempt("open /dev/mem") { openForRead("/dev/mem") }
        attempt("change the host name") {
            let name = "escaped"
            return mustFail(Int(sethostname(name, name.utf8.count)))
        }
        attempt("read a secret from the caller's environment") {
            guard !targets.secretName.isEmpty else { return (true, "no secret") }
            return getenv(targets.secretName) == nil ? (true, "not in the environment") : (false, "\(targets.secretName) is set")
        }
        attempt("fork bomb") { forkBomb() }
        attempt("memory bomb") { memoryBomb(limit: targets.memoryLimit) }
        attempt("fill /tmp") { fillTmp() }

        return 0
    }

    private static func closeIfOpen(_ fd: Int32) -> (Bool, String) {
        if fd >= 0 { close(fd); return (false, "socket created") }
        return (true, "socket: \(Errno.current)")
    }

    private static func connectTCP(port: UInt16) -> (Bool, String) {
        guard port > 0 else { return (true, "no port") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (true, "socket: \(Errno.current)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result < 0 ? (true, "127.0.0.1:\(port): \(Errno.current)") : (false, "connected to 127.0.0.1:\(port)")
    }

    private static func connectUnix(path: String = "", abstract: String = "") -> (Bool, String) {
        guard !path.isEmpty || !abstract.isEmpty else { return (true, "no socket") }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (true, "socket: \(Errno.current)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = Array((abstract.isEmpty ? path : abstract).utf8)
        let offset = abstract.isEmpty ? 0 : 1  // Abstract names start with a NUL byte.
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in name.prefix(raw.count - 1 - offset).enumerated() { raw[index + offset] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + offset + min(name.count, 107 - offset))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        let label = abstract.isEmpty ? path : "@" + abstract
        return result < 0 ? (true, "\(label): \(Errno.current)") : (false, "connected to \(label)")
    }

    /// Forks until the kernel refuses; blocked when it refuses before 100 000 processes.
    private static func forkBomb() -> (Bool, String) {
        let leader = fork()
        if leader == 0 {
            _ = setpgid(0, 0)
            var count = 0
            while count < 100_000 {
                let child = fork()
                if child == 0 { pause(); _exit(0) }
                if child < 0 { _exit(Errno.current.rawValue == EAGAIN ? 10 : 11) }
                count += 1
            }
            _exit(12)
        }
        guard leader > 0 else { return (true, "fork: \(Errno.current)") }
        let status = (try? Sys.wait(leader))?.status ?? 0
        kill(-leader, SIGKILL)
        while (try? Sys.wait(-1, WNOHANG))?.pid ?? 0 > 0 {}
        switch WaitStatus(raw: status) {
        case .exited(10): return (true, "fork refused with EAGAIN (process limit)")
        case .exited(12): return (false, "100000 processes started")
        case .exited(let code): return (true, "fork bomb ended with status \(code)")
        case .signaled(let signal): return (true, "fork bomb killed by signal \(signal)")
        }
    }

    /// Takes memory in 16 MiB pieces until refused or killed; blocked when that happens within
    /// `limit` bytes, not when 8 GiB fit.
    ///
    /// Each piece is mapped and then populated by the kernel (`MADV_POPULATE_WRITE`, Linux 5.14),
    /// which faults in and charges every page: a system call, so there is nothing an optimiser can
    /// drop. (The first version touched `malloc`ed memory it never read, and the release build
    /// removed the allocations: it reported 8 GiB "allocated and touched" in 0.14 s.) The child
    /// tells the parent how far it got through a pipe, after each piece.
    private static func memoryBomb(limit: Int) -> (Bool, String) {
        guard limit > 0 else { return (false, "inconclusive: no memory limit given") }
        guard let progress = try? Sys.pipe() else { return (false, "inconclusive: pipe: \(Errno.current)") }
        let chunk = 16 << 20
        let child = fork()
        if child == 0 {
            close(progress.read)
            var total = 0
            while total < 8 << 30 {
                guard let region = mmap(nil, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                    region != UnsafeMutableRawPointer(bitPattern: -1)  // MAP_FAILED
                else { _exit(10) }
                if madvise(region, chunk, 23 /* MADV_POPULATE_WRITE */) != 0 {
                    guard errno == EINVAL else { _exit(11) }
                    // Before 5.14: one write per page. The stores go to memory from mmap and are
                    // followed by a write(2) the compiler cannot see through, so they stay.
                    let bytes = region.assumingMemoryBound(to: UInt8.self)
                    for offset in stride(from: 0, to: chunk, by: 4096) { bytes[offset] = 0x5a }
                }
                total += chunk
                var mebibytes = UInt32(total >> 20)
                _ = write(progress.write, &mebibytes, 4)
            }
            _exit(12)
        }
        close(progress.write)
        defer { close(progress.read) }
        guard child > 0 else { return (false, "inconclusive: fork: \(Errno.current)") }
        let status = (try? Sys.wait(child))?.status ?? 0
        var reached: UInt32 = 0
        var record: UInt32 = 0
        while read(progress.read, &record, 4) == 4 { reached = record }
        let limitMiB = limit >> 20
        let within = Int(reached) <= limitMiB
        switch WaitStatus(raw: status) {
        case .exited(12): return (false, "8 GiB allocated and touched (limit \(limitMiB) MiB)")
        case .exited(let code) where code == 10 || code == 11:
            let what = code == 10 ? "mmap" : "populating the pages"
            return within
                ? (true, "\(what) refused after \(reached) MiB (limit \(limitMiB) MiB)")
                : (false, "\(what) refused only after \(reached) MiB, over the limit of \(limitMiB) MiB")
        case .signaled(9):
            return within
                ? (true, "\(memoryKilledPrefix) after \(reached) MiB (limit \(limitMiB) MiB)")
                : (false, "\(memoryKilledPrefix) only after \(reached) MiB, over the limit of \(limitMiB) MiB")
        case .exited(let code): return (false, "inconclusive: the memory bomb ended with status \(code) after \(reached) MiB")
        case .signaled(let signal): return (false, "inconclusive: the memory bomb died of signal \(signal) after \(reached) MiB")
        }
    }

    /// TIOCSTI on a terminal that is the caller's controlling terminal, where the kernel itself
    /// would allow it (with `dev.tty.legacy_tiocsti` = 1): a new pty from the sandbox's own devpts,
    /// made the controlling terminal of a new session in a child. Only the seccomp rule answers
    /// EPERM there (legacy_tiocsti = 0 answers EIO). fds 0-2 are tried too, for a real terminal.
    private static func injectIntoTerminal() -> (Bool, String) {
        var byte: CChar = 0x0a
        for fd: Int32 in [0, 1, 2] where ioctl(fd, UInt(SENTINEL_TIOCSTI), &byte) == 0 {
            return (false, "TIOCSTI succeeded on fd \(fd)")
        }
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { return (false, "inconclusive: /dev/ptmx: \(Errno.current)") }
        defer { close(master) }
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard ioctl(master, 0x4004_5431 /* TIOCSPTLCK */, &unlock) == 0, ioctl(master, 0x8004_5430 /* TIOCGPTN */, &number) == 0
        else { return (false, "inconclusive: pty setup: \(Errno.current)") }
        guard let result = try? Sys.pipe() else { return (false, "inconclusive: pipe: \(Errno.current)") }
        let child = "/dev/pts/\(number)".withCString { slavePath -> pid_t in
            let pid = fork()
            guard pid == 0 else { return pid }
            // The child: a session leader opening a terminal without O_NOCTTY acquires it.
            var code: Int32 = 0
            if setsid() < 0 {
                code = -errno
            } else {
                let slave = open(slavePath, O_RDWR)
                if slave < 0 || ioctl(slave, 0x540E /* TIOCSCTTY */, 0) < 0 {
                    code = -errno
                } else {
                    var injected: CChar = 0x0a
                    code = ioctl(slave, UInt(SENTINEL_TIOCSTI), &injected) == 0 ? 0 : errno
                }
            }
            _ = write(result.write, &code, 4)
            _exit(0)
        }
        close(result.write)
        defer { close(result.read) }
        guard child > 0 else { return (false, "inconclusive: fork: \(Errno.current)") }
        _ = try? Sys.wait(child)
        var code: Int32 = 0
        guard read(result.read, &code, 4) == 4 else { return (false, "inconclusive: the child reported nothing") }
        switch code {
        case 0: return (false, "TIOCSTI succeeded on the controlling terminal /dev/pts/\(number)")
        case ..<0: return (false, "inconclusive: could not make /dev/pts/\(number) the controlling terminal: \(Errno(-code))")
        case EPERM: return (true, "refused on the controlling terminal: \(Errno(code)) (the seccomp rule); fds 0-2 refused too")
        default: return (true, "refused on the controlling terminal: \(Errno(code)); fds 0-2 refused too")
        }
    }

    /// Runs a set-user-id program of the host's /usr with `LD_SHOW_AUXV=1`. When the kernel honours
    /// the bit, the exec is a secure one (AT_SECURE 1) and the dynamic loader ignores the variable;
    /// when it does not (no_new_privs, nosuid), the loader prints the auxiliary vector, with the
    /// effective uid the kernel gave the program. Which program does not matter: the loader prints
    /// before it runs (`--version` makes it exit at once).
    private static func runSetUIDProgram() -> (Bool, String) {
        let candidates = ["/usr/bin/su", "/usr/bin/passwd", "/usr/bin/mount", "/usr/bin/gpasswd", "/usr/bin/newgrp",
                          "/usr/bin/chsh", "/usr/bin/chfn", "/usr/bin/umount", "/bin/su"]
        guard let program = candidates.first(where: { path in
            var info = stat()
            return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && info.st_mode & S_ISUID != 0
        }) else {
            return (true, "no set-user-id program in /usr/bin to run (nothing to gain privileges through)")
        }
        guard let output = try? Sys.pipe() else { return (false, "inconclusive: pipe: \(Errno.current)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), strdup("--version"), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = [strdup("LD_SHOW_AUXV=1"), nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, nil, argv, envp)
        close(output.write)
        defer { close(output.read) }
        guard spawned == 0 else { return (false, "inconclusive: could not run \(program): \(Errno(spawned))") }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(output.read, &buffer, buffer.count)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        _ = try? Sys.wait(pid)
        var auxv: [String: Int] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("AT_") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, let value = Int(String(parts[1].drop(while: { $0 == " " || $0 == "\t" }))) {
                auxv[String(parts[0])] = value
            }
        }
        guard let secure = auxv["AT_SECURE"], let euid = auxv["AT_EUID"] else {
            return (false, "\(program) ran as a secure exec (the loader ignored LD_SHOW_AUXV): its set-user-id bit took effect")
        }
        if secure != 0 || euid == 0 {
            return (false, "\(program) ran with AT_SECURE \(secure) and effective uid \(euid)")
        }
        return (true, "\(program) (set-user-id) ran with effective uid \(euid), AT_SECURE 0: the bit had no effect")
    }

    /// Writes to /tmp until ENOSPC; blocked unless 2 GiB fit.
    private static func fillTmp() -> (Bool, String) {
        let fd = open("/tmp/.sentinel-fill", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return (true, "open: \(Errno.current)") }
        defer { close(fd); unlink("/tmp/.sentinel-fill") }
        let block = [UInt8](repeating: 0x41, count: 1 << 20)
        var total = 0
        while total < 2 << 30 {
            let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 { return (true, "stopped at \(total >> 20) MiB: \(Errno.current)") }
            total += written
        }
        return (false, "2 GiB written to /tmp")
    }
}
