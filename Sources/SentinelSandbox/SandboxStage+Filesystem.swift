// PID 1's first job: the sandbox's file system, built on a fresh tmpfs and entered with
// pivot_root. Everything is read-only except /workspace, /tmp, /run, /dev/shm and read-write
// extra binds; nothing of /home, /root, /var, /srv, /mnt, /media, /run or the host's /tmp.

import CSentinelLinux
import Glibc

/// Builds the new root under `base` and pivots into it.
struct SandboxFilesystem {
    let plan: StagePlan
    let sources: BindSources
    /// Where the new root is assembled (a private mount namespace hides it from the host).
    let base = "/tmp"

    /// Top-level host directories bound read-only when present (symlinks are recreated).
    static let systemDirectories = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt"]

    /// Secret-bearing files and directories of /etc, hidden behind empty unreadable mounts even
    /// though the workload user could not read most of them anyway (defence in depth, and it
    /// hides their existence).
    static let etcSecrets = [
        "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "security/opasswd",
        "ssh/ssh_host_rsa_key", "ssh/ssh_host_ecdsa_key", "ssh/ssh_host_ed25519_key", "ssh/ssh_host_dsa_key",
        "ssl/private", "krb5.keytab", "ipsec.secrets", "ppp/chap-secrets", "ppp/pap-secrets",
        "wireguard", "NetworkManager/system-connections", "credstore", "credstore.encrypted",
        "letsencrypt", "docker/key.json", "containers/auth.json", "openvpn", "libvirt/secrets",
    ]

    /// /proc entries hidden (as Docker's masked paths) and made read-only.
    static let procMasked = ["kcore", "keys", "timer_list", "sched_debug", "latency_stats", "acpi", "scsi", "asound"]
    static let procReadOnly = ["sys", "sysrq-trigger", "irq", "bus", "fs"]

    /// Device nodes bound from the host's /dev.
    static let devices = ["null", "zero", "full", "random", "urandom", "tty"]

    private var root: String { base }

    func build() throws(StepError) {
        try step(.privatizeMounts) { () throws(Errno) in
            try Sys.mount(nil, "/", nil, Int(SENTINEL_MS_REC | SENTINEL_MS_PRIVATE))
        }
        try step(.mountRoot) { () throws(Errno) in
            try Sys.mount("sentinel-root", root, "tmpfs", Int(SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV), "mode=0755,size=1m")
            try Sys.mkdir(root + "/.sentinel", 0o755)
            // An empty, unreadable file that masks blocked files.
            try Sys.touch(root + "/.sentinel/empty", 0)
        }
        try bindSystem()
        try maskEtcSecrets()
        try mountProc()
        try mountDev()
        try mountTmp()
        try mountPolicy()
        try mountWorkspace()
        try mountExtraBinds()
        try blockPaths()
        try pivot()
    }

    private func bindSystem() throws(StepError) {
        for name in Self.systemDirectories {
            let host = "/" + name
            guard let type = Sys.fileType(host) else { continue }
            let target = root + host
            if type == S_IFLNK, let link = Sys.readlink(host) {
                try step(.bindSystem, host) { () throws(Errno) in try Sys.symlink(link, target) }
            } else if type == S_IFDIR {
                try step(.bindSystem, host) { () throws(Errno) in
                    try Sys.mkdir(target)
                    try bindReadOnly(host, target)
                }
            }
        }
        for name in ["proc", "dev", "tmp", "run", "workspace", "sys"] {
            try step(.mountRoot, name) { () throws(Errno) in try Sys.mkdir(root + "/" + name) }
        }
    }

    /// A recursive read-only, nosuid, nodev bind of a host path (new mount API, so that the
    /// flags apply to every submount, not only the top one).
    private func bindReadOnly(_ source: String, _ target: String, noexec: Bool = false) throws(Errno) {
        let flags = UInt32(SENTINEL_OPEN_TREE_CLONE | SENTINEL_OPEN_TREE_CLOEXEC | SENTINEL_AT_RECURSIVE)
        let tree = try Sys.check { sentinel_open_tree(AT_FDCWD, source, flags) }
        defer { Sys.close(tree) }
        try attach(tree, target, readOnly: true, noexec: noexec)
    }

    private func attach(_ tree: Int32, _ target: String, readOnly: Bool, noexec: Bool = false) throws(Errno) {
        try Sys.check { sentinel_mount_set_flags(tree, readOnly ? 1 : 0, 1, 1, noexec ? 1 : 0) }
        try Sys.check { sentinel_move_mount_fd(tree, target) }
    }

    /// Hides `target` (a path under the new root) behind an empty read-only directory or file.
    private func mask(_ target: String) throws(Errno) {
        guard let type = Sys.fileType(target) else { return }
        if type == S_IFDIR {
            let flags = SENTINEL_MS_RDONLY | SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC
            try Sys.mount("sentinel-masked", target, "tmpfs", Int(flags), "mode=0000,size=4k")
        } else {
            try Sys.mount(root + "/.sentinel/empty", target, nil, Int(SENTINEL_MS_BIND))
            let flags = SENTINEL_MS_REMOUNT | SENTINEL_MS_BIND | SENTINEL_MS_RDONLY | SENTINEL_MS_NOSUID
            try Sys.mount(nil, target, nil, Int(flags | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC))
        }
    }

    private func maskEtcSecrets() throws(StepError) {
        for name in Self.etcSecrets {
            let target = root + "/etc/" + name
            try step(.maskSecrets, "/etc/" + name) { () throws(Errno) in try mask(target) }
        }
    }

    private func mountProc() throws(StepError) {
        let proc = root + "/proc"
        try step(.mountProc, "a new procfs needs an unobstructed /proc on the host (not inside a container that masks it)") {
            () throws(Errno) in
            try Sys.mount("proc", proc, "proc", Int(SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC))
        }
        // Nested user namespaces are the entry point of most kernel exploits and would let the
        // workload build new mount trees: their limit in our namespace becomes 0. Only this
        // namespace's root can raise it again, and the workload has no capabilities.
        try step(.limitNestedUserNamespaces) { () throws(Errno) in
            try Sys.writeFile(proc + "/sys/user/max_user_namespaces", "0")
        }
        for name in Self.procMasked {
            try step(.mountProc, "/proc/" + name) { () throws(Errno) in try mask(proc + "/" + name) }
        }
        for name in Self.procReadOnly where Sys.fileType(proc + "/" + name) != nil {
            try step(.mountProc, "/proc/" + name) { () throws(Errno) in
                try Sys.mount(proc + "/" + name, proc + "/" + name, nil, Int(SENTINEL_MS_BIND | SENTINEL_MS_REC))
                let flags = SENTINEL_MS_REMOUNT | SENTINEL_MS_BIND | SENTINEL_MS_RDONLY | SENTINEL_MS_NOSUID
                try Sys.mount(nil, proc + "/" + name, nil, Int(flags | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC))
            }
        }
    }

    private func mountDev() throws(StepError) {
        let dev = root + "/dev"
        try step(.mountDev) { () throws(Errno) in
            try Sys.mount("sentinel-dev", dev, "tmpfs", Int(SENTINEL_MS_NOSUID | SENTINEL_MS_NOEXEC), "mode=0755,size=64k")
            for name in Self.devices {
                try Sys.touch(dev + "/" + name, 0o666)
                try Sys.mount("/dev/" + name, dev + "/" + name, nil, Int(SENTINEL_MS_BIND))
                let flags = SENTINEL_MS_REMOUNT | SENTINEL_MS_BIND | SENTINEL_MS_NOSUID | SENTINEL_MS_NOEXEC
                try Sys.mount(nil, dev + "/" + name, nil, Int(flags))
            }
            try Sys.mkdir(dev + "/pts")
            try Sys.mount(
                "devpts", dev + "/pts", "devpts", Int(SENTINEL_MS_NOSUID | SENTINEL_MS_NOEXEC),
                "newinstance,ptmxmode=0666,mode=0620")
            try Sys.symlink("pts/ptmx", dev + "/ptmx")
            try Sys.mkdir(dev + "/shm")
            let tmpFlags = SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC
            try Sys.mount("shm", dev + "/shm", "tmpfs", Int(tmpFlags), "mode=1777,size=\(plan.spec.limits.tmpBytes)")
            for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                                   ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")] {
                try Sys.symlink(target, dev + "/" + name)
            }
            // The devtmpfs is read-only from here on: no new nodes, no renames.
            let flags = SENTINEL_MS_REMOUNT | SENTINEL_MS_RDONLY | SENTINEL_MS_NOSUID | SENTINEL_MS_NOEXEC
            try Sys.mount(nil, dev, nil, Int(flags), "mode=0755,size=64k")
        }
    }

    private func mountTmp() throws(StepError) {
        let flags = Int(SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC)
        try step(.mountTmp, "/tmp") { () throws(Errno) in
            try Sys.mount("sentinel-tmp", root + "/tmp", "tmpfs", flags, "mode=1777,size=\(plan.spec.limits.tmpBytes)")
        }
        try step(.mountTmp, "/run") { () throws(Errno) in
            try Sys.mount("sentinel-run", root + "/run", "tmpfs", flags, "mode=0755,size=\(plan.spec.limits.runBytes)")
        }
    }

    private func mountWorkspace() throws(StepError) {
        let target = root + "/workspace"
        try step(.mountWorkspace, plan.spec.workspace) { () throws(Errno) in
            try attach(sources.workspace, target, readOnly: false)
        }
    }

    /// The policy, read-only at `SandboxLayout.policyPath`, outside the workspace (a mount point
    /// in the workspace was left behind there as an empty `sentinel.yaml`). Its directory is a
    /// tmpfs of its own, read-only once the file is bound: a mount point cannot be renamed or
    /// removed, so the workload cannot put a directory of its own in its place either.
    private func mountPolicy() throws(StepError) {
        guard sources.policy >= 0 else { return }
        let directory = root + SandboxLayout.policyDirectory
        let target = root + SandboxLayout.policyPath
        let flags = SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV | SENTINEL_MS_NOEXEC
        try step(.mountPolicy) { () throws(Errno) in
            try Sys.mkdir(directory, 0o755)
            try Sys.mount("sentinel-policy", directory, "tmpfs", Int(flags), "mode=0755,size=4k")
            try Sys.touch(target, 0o444)
            try attach(sources.policy, target, readOnly: true, noexec: true)
            try Sys.mount(nil, directory, nil, Int(SENTINEL_MS_REMOUNT | SENTINEL_MS_RDONLY | flags), "mode=0755,size=4k")
        }
    }

    private func mountExtraBinds() throws(StepError) {
        for (bind, tree) in zip(plan.spec.binds, sources.binds) {
            let target = root + bind.destination
            try step(.extraBinds, "\(bind.source) -> \(bind.destination)") { () throws(Errno) in
                if Sys.fileType(target) == nil {
                    // File or directory from the detached tree itself: the source's path may no
                    // longer lead anywhere here (the host's /tmp is already replaced), and a
                    // file attached onto a directory fails with EINVAL (a bind from /tmp did).
                    var info = stat()
                    let isDirectory = fstat(tree, &info) == 0 ? info.st_mode & S_IFMT == S_IFDIR : true
                    try makeMountPoint(target, directory: isDirectory)
                }
                try attach(tree, target, readOnly: bind.readOnly)
            }
        }
    }

    /// Creates the missing components of a mount point on the root tmpfs (never inside a bound
    /// host tree: those are read-only, so the creation fails and the bind is refused).
    private func makeMountPoint(_ path: String, directory: Bool) throws(Errno) {
        var current = ""
        let components = path.split(separator: "/")
        for (index, component) in components.enumerated() {
            current += "/" + component
            if Sys.fileType(current) != nil { continue }
            if index == components.count - 1 && !directory {
                try Sys.touch(current)
            } else {
                try Sys.mkdir(current)
            }
        }
    }

    private func blockPaths() throws(StepError) {
        for path in plan.spec.blockedPaths {
            try step(.blockPaths, path) { () throws(Errno) in try mask(root + path) }
        }
    }

    private func pivot() throws(StepError) {
        try step(.pivotRoot) { () throws(Errno) in
            try Sys.check { chdir(root) }
            // pivot_root(".", "."): the old root ends up mounted over the new one and is
            // detached at once; no directory for it is needed.
            try Sys.check { sentinel_pivot_root(".", ".") }
            try Sys.check { umount2(".", Int32(SENTINEL_MNT_DETACH)) }
            try Sys.check { chdir("/") }
        }
        try step(.remountRootReadOnly) { () throws(Errno) in
            let flags = SENTINEL_MS_REMOUNT | SENTINEL_MS_BIND | SENTINEL_MS_RDONLY | SENTINEL_MS_NOSUID | SENTINEL_MS_NODEV
            try Sys.mount(nil, "/", nil, Int(flags))
            try Sys.check { chdir("/workspace") }
        }
    }
}
