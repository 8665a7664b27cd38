// The launcher side of `sentinel doctor --attack`: host-side targets, one sandboxed run of the
// probe (this very binary, bound read-only into the sandbox), then checks that the host is
// unchanged.

import FoundationEssentials
import Glibc

/// Runs the built-in escape attempts in a sandbox on this machine.
public enum EscapeBattery {
    /// Runs the battery and returns one result per attempt. Throws when the sandbox itself
    /// cannot be built (which `doctor` reports as a failure too).
    public static func run() async throws(SandboxError) -> [EscapeAttempt] {
        var template = Array("/tmp/sentinel-attack-XXXXXX".utf8CString)
        guard let base = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw SandboxError(.launchFailed, "Could not create a temporary directory for the attack run: \(Errno.current).")
        }
        defer { removeTree(base) }
        let workspace = base + "/workspace"
        let canary = base + "/canary"
        let canaryText = "sentinel canary \(UInt64.random(in: 0...UInt64.max))\n"
        do {
            try Sys.mkdir(workspace, 0o755)
            try writeNew(canary, canaryText)
            try writeNew(base + "/sentinel.yaml", "version: 1\n")
        } catch {
            throw SandboxError(.launchFailed, "Could not prepare the attack run in \(base): \(error).", errno: error.rawValue)
        }
        let listener = Listener.tcp()
        let abstractName = "sentinel-attack-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let abstract = Listener.abstract(abstractName)
        defer {
            if let listener { close(listener.fd) }
            if let abstract { close(abstract) }
        }
        let sleeper = spawnSleeper()
        defer {
            if sleeper > 0 {
                kill(sleeper, SIGKILL)
                _ = try? Sys.wait(sleeper)
            }
        }
        let executable = Sys.readlink("/proc/self/exe") ?? "/proc/self/exe"
        let secretName = "SENTINEL_ATTACK_SECRET"
        let memoryLimit = 256 << 20
        var arguments = ["/.sentinel-probe/sentinel", probeMarker, "--canary", canary, "--secret", secretName]
        arguments += ["--home", ProcessInfo.processInfo.environment["HOME"] ?? "/root", "--memory-limit", "\(memoryLimit)"]
        if sleeper > 0 { arguments += ["--host-pid", "\(sleeper)", "--host-marker", sleeperMarker] }
        if let listener { arguments += ["--port", "\(listener.port)"] }
        if abstract != nil { arguments += ["--abstract", abstractName] }
        var spec = SandboxSpec(
            command: arguments, workspace: workspace, policyFile: base + "/sentinel.yaml",
            binds: [SandboxSpec.Bind(source: executable, destination: "/.sentinel-probe/sentinel", readOnly: true)])
        spec.limits = SandboxSpec.Limits(pids: 128, memoryBytes: Int64(memoryLimit), cpus: 1.0, tmpBytes: 16 << 20)
        var environment = ProcessInfo.processInfo.environment
        environment[secretName] = "s3cr3t-\(UInt32.random(in: 0...UInt32.max))"
        let report = try await NativeSandbox().run(spec, callerEnvironment: environment)

        guard let text = try? Sys.readFile(workspace + "/.sentinel-attack.jsonl") else {
            throw SandboxError(.launchFailed, "The escape probe left no results in the workspace; the sandbox could not run it.")
        }
        var results = text.split(separator: "\n").compactMap {
            try? JSONDecoder().decode(EscapeAttempt.self, from: Data($0.utf8))
        }
        // Host-side checks: the attempts must have left the host unchanged.
        func hostCheck(_ name: String, _ unchanged: Bool, _ detail: String) {
            if let index = results.firstIndex(where: { $0.name == name }) {
                if !unchanged {
                    results[index].blocked = false
                    results[index].detail += "; host check: \(detail)"
                }
            } else {
                results.append(EscapeAttempt(name: name, blocked: unchanged, detail: detail))
            }
        }
        let canaryNow = (try? Sys.readFile(canary)) ?? ""
        hostCheck("write to the host canary path", canaryNow == canaryText, "the canary file changed")
        hostCheck("write through a symlink", canaryNow == canaryText, "the canary file changed")
        hostCheck("kill a host process", sleeper <= 0 || kill(sleeper, 0) == 0, "the host process is gone")
        if let listener {
            hostCheck("connect to a host loopback service", !Listener.hasPending(listener.fd), "the host listener got a connection")
        }
        if let abstract {
            hostCheck("connect to a host abstract Unix socket", !Listener.hasPending(abstract), "the host socket got a connection")
        }
        for path in ["/etc/sentinel-escape", "/usr/bin/sentinel-escape"] {
            hostCheck("write outside /workspace (\(path.hasPrefix("/etc") ? "/etc" : "/usr/bin"))", Sys.fileType(path) == nil, "\(path) exists on the host")
        }
        hostCheck("write outside via ../", Sys.fileType("/etc/sentinel-escape") == nil, "/etc/sentinel-escape exists on the host")
        // A kill by the kernel counts only if the memory cgroup saw its OOM killer run (the cgroup
        // is read by the launcher after the run: the report's denial); rlimits leave no trace
        // outside, and there the probe's own count against the limit decides.
        if !report.protections.limits.hasPrefix("rlimits"),
            let index = results.firstIndex(where: { $0.name == "memory bomb" }),
            results[index].detail.hasPrefix(EscapeProbe.memoryKilledPrefix)
        {
            if report.denials.contains(where: { $0.hasPrefix("memory limit reached") }) {
                results[index].detail += "; the memory cgroup recorded the OOM kill"
            } else {
                results[index].blocked = false
                results[index].detail += "; host check: the kernel killed it, but the memory cgroup recorded no OOM kill"
            }
        }
        // An attempt the probe never reported (it died, or its line was lost) proves nothing.
        for name in EscapeProbe.attemptNames where !results.contains(where: { $0.name == name }) {
            results.append(EscapeAttempt(name: name, blocked: false, detail: "inconclusive: the probe reported no result"))
        }
        return results
    }

    private static func writeNew(_ path: String, _ text: String) throws(Errno) {
        let fd = try Sys.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        defer { Sys.close(fd) }
        try Sys.writeAll(fd, Array(text.utf8))
    }

    /// The host process's argument, which the probe looks for in /proc/PID/cmdline.
    private static let sleeperMarker = "987654"

    /// A host process the probe tries to see and kill.
    private static func spawnSleeper() -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup(sleeperMarker), nil]
        defer { for pointer in argv { free(pointer) } }
        return posix_spawn(&pid, "/bin/sleep", nil, nil, argv, nil) == 0 ? pid : 0
    }

    private static func removeTree(_ path: String) {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("rm"), strdup("-rf"), strdup("--"), strdup(path), nil]
        defer { for pointer in argv { free(pointer) } }
        if posix_spawn(&pid, "/bin/rm", nil, nil, argv, nil) == 0 { _ = try? Sys.wait(pid) }
    }
}

/// Host-side listeners the probe tries to reach.
enum Listener {
    static func tcp() -> (fd: Int32, port: UInt16)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
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
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.prefix(raw.count - 2).enumerated() { raw[index + 1] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + min(bytes.count, 106))
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 8) == 0 }
        }
        guard ok else { close(fd); return nil }
        return fd
    }

    /// Whether a connection is waiting (accepts and closes it if so).
    static func hasPending(_ fd: Int32) -> Bool {
        let client = accept(fd, nil, nil)
        if client >= 0 { close(client); return true }
        return false
    }
}
