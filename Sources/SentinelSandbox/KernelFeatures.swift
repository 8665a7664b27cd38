// What this kernel offers the sandbox, for `sentinel doctor`: each check says what it found and,
// when something is missing, which protection suffers and what to do.

import CSentinelLinux
import Glibc

/// One line of `sentinel doctor`.
public struct KernelCheck: Codable, Sendable, Equatable {
    /// Short name, e.g. `user namespaces`.
    public var name: String
    /// Whether the feature is usable.
    public var available: Bool
    /// What was found.
    public var detail: String
    /// When unavailable: which protection is lost and what to do.
    public var impact: String?

    /// Creates a check result.
    public init(name: String, available: Bool, detail: String, impact: String?) {
        self.name = name
        self.available = available
        self.detail = detail
        self.impact = impact
    }
}

/// Probes the running kernel.
public enum KernelFeatures {
    /// Every check, in a stable order. Only reads sysctls and makes harmless probe syscalls; the
    /// end-to-end check (a real sandboxed `/bin/true`) is run by the caller through `NativeSandbox`.
    public static func probe() -> [KernelCheck] {
        var checks: [KernelCheck] = []
        let maxUserNS = read("/proc/sys/user/max_user_namespaces")
        let debianClone = read("/proc/sys/kernel/unprivileged_userns_clone")
        let apparmor = read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        var userNSDetail = "user.max_user_namespaces = \(maxUserNS ?? "?")"
        var userNSOK = (Int(maxUserNS ?? "0") ?? 0) > 0
        if let debianClone {
            userNSDetail += ", kernel.unprivileged_userns_clone = \(debianClone)"
            if debianClone == "0" && geteuid() != 0 { userNSOK = false }
        }
        if let apparmor {
            userNSDetail += ", kernel.apparmor_restrict_unprivileged_userns = \(apparmor)"
            if apparmor == "1" && geteuid() != 0 { userNSOK = false }
        }
        checks.append(KernelCheck(
            name: "user namespaces", available: userNSOK, detail: userNSDetail,
            impact: userNSOK ? nil : "The native sandbox cannot start: allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1, or an AppArmor profile for sentinel)."))

        let (abi, reason) = Landlock.probe()
        checks.append(KernelCheck(
            name: "Landlock", available: abi != nil, detail: reason,
            impact: abi == nil ? "File rules rely on the mount namespace alone (no second layer); --require-landlock refuses to run." : nil))
        if let abi {
            checks.append(KernelCheck(
                name: "Landlock scoping (ABI 6)", available: abi >= 6, detail: abi >= 6 ? "abstract Unix sockets and signals can be scoped" : "ABI \(abi)",
                impact: abi >= 6 ? nil : "With --network host the workload can reach host abstract Unix sockets; needs kernel 6.12 or later."))
        }

        let actions = read("/proc/sys/kernel/seccomp/actions_avail")
        let seccompOK = actions != nil
        checks.append(KernelCheck(
            name: "seccomp", available: seccompOK, detail: actions.map { "actions: \($0)" } ?? "no /proc/sys/kernel/seccomp",
            impact: seccompOK ? nil : "No syscall filter: keyctl, bpf, io_uring, ptrace and similar stay reachable."))
        if let actions {
            let notify = actions.contains("user_notif")
            checks.append(KernelCheck(
                name: "seccomp user notification", available: notify, detail: notify ? "user_notif available" : "missing",
                impact: notify ? nil : "--seccomp-mode log and --seccomp-suggest cannot observe syscalls."))
        }

        let v2 = ["/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers"].first { Sys.fileType($0) == S_IFREG }
        let v2Controllers = v2.flatMap { read($0) } ?? ""
        checks.append(KernelCheck(
            name: "cgroup v2", available: v2 != nil,
            detail: v2.map { "\($0.replacingSuffix("/cgroup.controllers")) controllers: \(v2Controllers.isEmpty ? "(none)" : v2Controllers)" } ?? "not mounted",
            impact: nil))
        let v1 = ["pids", "memory", "cpu"].filter { Sys.fileType("/sys/fs/cgroup/\($0)/cgroup.procs") == S_IFREG }
        checks.append(KernelCheck(name: "cgroup v1", available: !v1.isEmpty, detail: v1.isEmpty ? "no v1 controllers" : "controllers: \(v1.joined(separator: ", "))", impact: nil))
        let v2Usable = ["pids", "memory", "cpu"].allSatisfy { v2Controllers.split(separator: " ").contains(Substring($0)) }
        let cgroupLimits = geteuid() == 0 && (v2Usable || v1.count == 3)
        checks.append(KernelCheck(
            name: "cgroup limits", available: cgroupLimits,
            detail: cgroupLimits ? "pids, memory and cpu limits through cgroup \(v2Usable ? "v2" : "v1")" : "not usable by this user",
            impact: cgroupLimits ? nil : "Limits fall back to rlimits (RLIMIT_NPROC, RLIMIT_AS); CPU is not limited. Run as root or with a delegated cgroup v2 subtree."))

        // mount_setattr with a bad fd: any error but ENOSYS means the syscall exists (kernel >= 5.12).
        let idmap = sentinel_mount_set_flags(-1, 0, 0, 0, 0) == 0 || Glibc.errno != ENOSYS
        checks.append(KernelCheck(
            name: "idmapped mounts", available: idmap, detail: idmap ? "mount_setattr available" : "mount_setattr missing (kernel < 5.12)",
            impact: idmap ? nil : "A root caller's workload cannot write the workspace; run as the workspace's owner."))

        let tiocsti = read("/proc/sys/dev/tty/legacy_tiocsti")
        checks.append(KernelCheck(
            name: "TIOCSTI", available: true,
            detail: "dev.tty.legacy_tiocsti = \(tiocsti ?? "(absent: kernel < 6.2)"); the sandbox runs in a new session without a controlling terminal, so injection is refused either way",
            impact: nil))
        for (name, path, safe) in [
            ("unprivileged bpf", "/proc/sys/kernel/unprivileged_bpf_disabled", ["1", "2"]),
            ("io_uring", "/proc/sys/kernel/io_uring_disabled", ["1", "2"]),
            ("unprivileged userfaultfd", "/proc/sys/vm/unprivileged_userfaultfd", ["0"]),
        ] {
            let value = read(path)
            let restricted = value.map(safe.contains) ?? false
            checks.append(KernelCheck(
                name: name, available: true, detail: "\(path.dropFirst(10)) = \(value ?? "?")\(restricted ? " (restricted by the host)" : "")",
                impact: restricted ? nil : "Reachable from the sandbox until seccomp blocks it."))
        }
        return checks
    }

    private static func read(_ path: String) -> String? {
        (try? Sys.readFile(path)).map { String($0.filter { $0 != "\n" }) }
    }
}

extension String {
    func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
