// Resource limits through cgroups, v2 or v1, when this process may create a child group (root,
// or a delegated v2 subtree); otherwise the caller falls back to rlimits and the run report says
// so. The group is made under the launcher's own group (so outer limits still apply), the stage
// is moved into it before it reads its plan, and the group is removed after the run.

import Glibc

/// A cgroup (one directory per v1 controller, or one v2 directory) holding one sandbox.
struct SandboxCgroup {
    /// The version in use.
    enum Version: String, Codable, Sendable { case v1, v2 }

    let version: Version
    /// Directories created, in creation order.
    let directories: [String]
    /// Which limits the group enforces.
    let enforced: Set<String>

    /// Creates a group with `limits`, or returns nil (with a reason) when none can be made.
    static func create(limits: SandboxSpec.Limits, name: String) -> (SandboxCgroup?, String) {
        if let group = try? createV2(limits: limits, name: name) { return (group, "cgroup v2") }
        switch Result(catching: { try createV1(limits: limits, name: name) }) {
        case .success(let group): return (group, "cgroup v1")
        case .failure(let error): return (nil, "no usable cgroup (\(error)); rlimits are used instead")
        }
    }

    /// The launcher's own group path in a hierarchy (`0::/x` for v2, `4:memory:/x` for v1).
    private static func ownPath(controller: String?) -> String? {
        guard let text = try? Sys.readFile("/proc/self/cgroup") else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if let controller {
                if parts[1].split(separator: ",").contains(Substring(controller)) { return String(parts[2]) }
            } else if parts[0] == "0" && parts[1].isEmpty {
                return String(parts[2])
            }
        }
        return nil
    }

    /// The mount point of the v2 hierarchy (pure v2 at /sys/fs/cgroup, hybrid at .../unified).
    private static func v2Root() -> String? {
        for candidate in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        where Sys.fileType(candidate + "/cgroup.controllers") == S_IFREG {
            return candidate
        }
        return nil
    }

    private static func createV2(limits: SandboxSpec.Limits, name: String) throws(Errno) -> SandboxCgroup {
        guard let root = v2Root(), let own = ownPath(controller: nil) else { throw Errno(ENOENT) }
        let parent = root + (own == "/" ? "" : own)
        let available = try Sys.readFile(parent + "/cgroup.subtree_control").split(separator: " ").map {
            $0.trimmingCharacters()
        }
        guard ["pids", "memory", "cpu"].allSatisfy(available.contains) else { throw Errno(ENOTSUP) }
        let directory = parent + "/" + name
        try Sys.check { mkdir(directory, 0o755) }
        let group = SandboxCgroup(version: .v2, directories: [directory], enforced: ["pids", "memory", "cpu"])
        do {
            try Sys.writeFile(directory + "/pids.max", "\(limits.pids)")
            try Sys.writeFile(directory + "/memory.max", "\(limits.memoryBytes)")
            try? Sys.writeFile(directory + "/memory.swap.max", "0")
            try Sys.writeFile(directory + "/cpu.max", "\(Int(limits.cpus * 100_000)) 100000")
        } catch {
            group.remove()
            throw error
        }
        return group
    }

    private static func createV1(limits: SandboxSpec.Limits, name: String) throws(Errno) -> SandboxCgroup {
        var directories: [String] = []
        func make(_ controller: String) throws(Errno) -> String {
            let mount = "/sys/fs/cgroup/" + controller
            guard Sys.fileType(mount + "/cgroup.procs") == S_IFREG else { throw Errno(ENOENT) }
            let own = ownPath(controller: controller) ?? "/"
            let directory = mount + (own == "/" ? "" : own) + "/" + name
            try Sys.check { mkdir(directory, 0o755) }
            directories.append(directory)
            return directory
        }
        do {
            let pids = try make("pids")
            try Sys.writeFile(pids + "/pids.max", "\(limits.pids)")
            let memory = try make("memory")
            try Sys.writeFile(memory + "/memory.limit_in_bytes", "\(limits.memoryBytes)")
            // Without swap accounting this file is absent; with it, swap counts toward the limit.
            try? Sys.writeFile(memory + "/memory.memsw.limit_in_bytes", "\(limits.memoryBytes)")
            let cpu = try make("cpu")
            try Sys.writeFile(cpu + "/cpu.cfs_period_us", "100000")
            try Sys.writeFile(cpu + "/cpu.cfs_quota_us", "\(Int(limits.cpus * 100_000))")
        } catch {
            SandboxCgroup(version: .v1, directories: directories, enforced: []).remove()
            throw error
        }
        return SandboxCgroup(version: .v1, directories: directories, enforced: ["pids", "memory", "cpu"])
    }

    /// The files the stage writes `0` to, before it creates its namespaces, to move itself (and
    /// so everything it will start) into the group.
    ///
    /// v1: each controller's `tasks` file, which moves only the writing thread. The stage is
    /// single-threaded, so that is the whole process, and a thread moving itself is the one
    /// migration for which the kernel skips `cgroup_threadgroup_rwsem` (see
    /// `cgroup_procs_write_start`, "pid 0 and not threadgroup"). Writing a pid to `cgroup.procs`
    /// takes that lock for writing, which waits for an RCU grace period: 4 to 22 ms measured
    /// here (Linux 6.18), against 0.02 ms for the self-move.
    /// v2: `cgroup.procs` (a domain group has no per-thread move); it takes the lock.
    var selfJoinFiles: [String] {
        directories.map { $0 + (version == .v1 ? "/tasks" : "/cgroup.procs") }
    }

    /// Whether the memory limit killed a process (the OOM killer ran in this group).
    func oomKilled() -> Bool {
        for directory in directories {
            for file in ["memory.events", "memory.oom_control"] {
                guard let text = try? Sys.readFile(directory + "/" + file) else { continue }
                for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
                    if let count = Int(line.split(separator: " ").last ?? ""), count > 0 { return true }
                }
            }
        }
        return false
    }

    /// Removes the group's directories; retries briefly because the kernel frees a group only
    /// after its last task is fully gone.
    func remove() {
        for directory in directories.reversed() {
            for attempt in 0..<200 {
                if rmdir(directory) == 0 || Glibc.errno == ENOENT { break }
                if Glibc.errno != EBUSY || attempt == 199 { break }
                usleep(1000)
            }
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(filter { !$0.isWhitespace }) }
}
