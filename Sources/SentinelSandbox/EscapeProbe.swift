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
            case "--out": output = value
            default: break
            }
            index += 2
        }
    }
}

enum EscapeProbe {
    /// Runs every attempt and writes the results; returns 0.
    static func runInside(_ arguments: [String]) -> Int32 {
        let targets = ProbeTargets(arguments)
        var results: [EscapeAttempt] = []
        func attempt(_ name: String, _ body: () -> (Bool, String)) {
            let (blocked, detail) = body()
            results.append(EscapeAttempt(name: name, blocked: blocked, detail: detail))
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
            let cmdline = (try? Sys.readFile("/proc/\(targets.hostPID)/cmdline")) ?? ""
            return cmdline.contains("sentinel") ? (false, "/proc/\(targets.hostPID) shows the host process") : (true, "not visible")
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
        attempt("TIOCSTI into the terminal") {
            var byte: CChar = 0x0a
            var details: [String] = []
            var fds: [Int32] = [0, 1, 2]
            let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
            if tty >= 0 { fds.append(tty) } else { details.append("/dev/tty: \(Errno.current)") }
            defer { if tty >= 0 { close(tty) } }
            for fd in fds where ioctl(fd, UInt(SENTINEL_TIOCSTI), &byte) == 0 {
                return (false, "TIOCSTI succeeded on fd \(fd)")
            }
            return (true, (details + ["every fd refused"]).joined(separator: "; "))
        }
        attempt("gain privileges through setuid (no_new_privs, nosuid)") {
            let status = (try? Sys.readFile("/proc/self/status")) ?? ""
            let noNewPrivs = status.split(separator: "\n").contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") }
            var info = statvfs()
            let nosuid = statvfs("/usr/bin", &info) == 0 && info.f_flag & UInt(ST_NOSUID) != 0
            return (noNewPrivs && nosuid, "NoNewPrivs \(noNewPrivs ? 1 : 0), /usr nosuid \(nosuid)")
        }
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
        attempt("memory bomb") { memoryBomb() }
        attempt("fill /tmp") { fillTmp() }

        let lines = results.compactMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        let text = lines.joined(separator: "\n") + "\n"
        let fd = open(targets.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return 1 }
        try? Sys.writeAll(fd, Array(text.utf8))
        close(fd)
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

    /// Touches memory until refused or killed; blocked unless 8 GiB fit.
    private static func memoryBomb() -> (Bool, String) {
        let child = fork()
        if child == 0 {
            var total = 0
            let chunk = 16 << 20
            while total < 8 << 30 {
                guard let pointer = malloc(chunk) else { _exit(10) }
                memset(pointer, 0x5a, chunk)
                total += chunk
            }
            _exit(12)
        }
        guard child > 0 else { return (true, "fork: \(Errno.current)") }
        let status = (try? Sys.wait(child))?.status ?? 0
        switch WaitStatus(raw: status) {
        case .exited(10): return (true, "allocation refused (memory limit)")
        case .exited(12): return (false, "8 GiB allocated and touched")
        case .exited(let code): return (true, "memory bomb ended with status \(code)")
        case .signaled(let signal): return (true, "memory bomb killed by signal \(signal) (OOM killer)")
        }
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
