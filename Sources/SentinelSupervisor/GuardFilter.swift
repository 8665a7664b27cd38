import Glibc
public import SentinelSandbox

/// The seccomp filter `sentinel guard` installs in the command it runs.
///
/// It notifies the supervisor of the calls the policy decides on, refuses outright the calls
/// that would let the command step outside what the supervisor can see (a new mount or user
/// namespace, a changed identity, io_uring, ptrace), and allows everything else.
public enum GuardFilter {
    /// Calls that run an executable.
    public static let execCalls = ["execve", "execveat"]
    /// Calls that open a file (notified for writes; for reads too when the policy has
    /// `blocked_paths`). `openat2` keeps its flags in memory, so it is always notified.
    public static let openCalls = ["open", "openat", "openat2", "creat"]
    /// Calls that create, rename, link or remove directory entries.
    public static let entryCalls = [
        "mkdir", "mkdirat", "mknod", "mknodat", "rename", "renameat", "renameat2", "link", "linkat", "symlink",
        "symlinkat", "unlink", "unlinkat", "rmdir",
    ]
    /// Calls that change a file's contents by its path without opening it: decided like an open
    /// for writing and done on the program's behalf (issue 16). The guard's Landlock ruleset does
    /// not handle truncation (handling it makes the kernel walk the path of every open), so this
    /// notification is truncate(2)'s only check. `ftruncate` needs a descriptor open for writing
    /// (the kernel refuses others with EINVAL), and every such open is decided.
    public static let contentCalls = ["truncate"]
    /// Calls that reach a network address.
    public static let networkCalls = ["connect", "sendto", "sendmsg", "sendmmsg"]

    /// Calls refused with EPERM (notified, so each refusal is recorded with its reason): each
    /// would let the command change what a path or an identity
    /// means to the kernel without the supervisor seeing it (a mount namespace where the
    /// supervisor's path checks no longer describe the child's view; a new uid the supervisor,
    /// which acts on the child's behalf with its own credentials, does not share), or run calls
    /// without system calls (io_uring), or suspend another process's filter (ptrace with
    /// PTRACE_O_SUSPEND_SECCOMP, which a root child could use), or reach into another process
    /// of the same uid (reading or writing its memory, taking its descriptors, comparing them):
    /// the supervisor is non-dumpable, but the operator's other processes are not.
    public static let refusedCalls = [
        "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
        "fsmount", "fspick", "mount_setattr", "open_by_handle_at", "io_uring_setup", "io_uring_enter",
        "io_uring_register", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise",
        "kcmp", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
        "setgroups", "capset",
    ]

    /// A condition every call meets (no bit compared): the last alternative of a call whose
    /// earlier conditional rules did not match.
    static let always = SeccompArgumentCondition(index: 0, .maskedEqual(mask: 0, value: 0))

    /// The identity calls, how many id arguments each takes, and the id those arguments may
    /// repeat (the uid or the gid the command starts with, which cannot change under the filter).
    static func identityCalls(uid: UInt32, gid: UInt32) -> [(String, Int, UInt32)] {
        [("setuid", 1, uid), ("setreuid", 2, uid), ("setresuid", 3, uid), ("setfsuid", 1, uid),
         ("setgid", 1, gid), ("setregid", 2, gid), ("setresgid", 3, gid), ("setfsgid", 1, gid)]
    }

    static let identityCallNames: Set<String> = Set(identityCalls(uid: 0, gid: 0).map(\.0))

    /// The `CLONE_NEW*` flags: a `clone` with any of them is refused (as `unshare` is).
    static let namespaceFlags: [UInt64] = [
        0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000,
    ]

    /// `ioctl` requests that act on the terminal as if someone typed (`TIOCSTI`: push bytes into
    /// its input queue, run by the operator's shell after the guard exits) or on the virtual
    /// console (`TIOCLINUX`: selection paste, the same effect). Notified and refused, with a record.
    public static let terminalInjectionRequests: [UInt64] = [0x5412, 0x541C]

    /// `socket` forms whose packets go where headers the program writes say (raw IP sockets,
    /// the obsolete `SOCK_PACKET`, and `AF_PACKET`): notified, and refused unless the policy sets
    /// `network_failsafe.allow_raw_sockets`. `AF_NETLINK` raw sockets (glibc's `getifaddrs`) talk
    /// to the kernel, not the network, and pass.
    static let rawSocketTypes: [UInt64] = [3 /* SOCK_RAW */, 10 /* SOCK_PACKET */]
    /// `AF_INET`, `AF_INET6` and `AF_PACKET`.
    static let internetFamilies: [UInt64] = [2, 10]
    static let packetFamily: UInt64 = 17

    /// Builds the filter.
    ///
    /// No rule depends on a descriptor number: a number means nothing once the program can
    /// `dup2` any socket onto it (the listener reaches the supervisor without a notified call;
    /// see `sentinel_guard_launch`).
    ///
    /// - Parameters:
    ///   - notifyReads: notify read-only opens too (the policy has `blocked_paths`, whose reads
    ///     are decided); otherwise only opens with O_WRONLY, O_RDWR, O_CREAT or O_TRUNC notify.
    ///   - architecture: the target architecture (this machine's by default).
    ///   - uid: the user id the command runs as (setting it again is allowed); this process's.
    ///   - gid: the group id the command runs as; this process's.
    public static func builder(
        notifyReads: Bool, uid: UInt32? = nil, gid: UInt32? = nil, architecture: SeccompArchitecture? = nil
    ) throws(SeccompError) -> SeccompFilterBuilder {
        let uid = uid ?? getuid()
        let gid = gid ?? getgid()
        var builder = try SeccompFilterBuilder(architecture: architecture, defaultAction: .allow)
        for name in execCalls + entryCalls + contentCalls + ["creat", "openat2", "connect", "sendmsg", "sendmmsg"] {
            builder.add(name, .notify)
        }
        // sendto with a NULL address is a send on a connected socket: nothing new to decide.
        builder.add("sendto", .notify, when: [SeccompArgumentCondition(index: 4, .notEqual(0))])
        let writeBits: [UInt64] = [UInt64(O_WRONLY), UInt64(O_RDWR), UInt64(O_CREAT), UInt64(O_TRUNC)]
        for (name, flagsIndex) in [("open", 1), ("openat", 2)] {
            if notifyReads {
                builder.add(name, .notify)
            } else {
                // Alternatives, tried in order: any write-like bit notifies; the rest is allowed.
                for bit in writeBits {
                    builder.add(name, .notify, when: [SeccompArgumentCondition(index: flagsIndex, .maskedEqual(mask: bit, value: bit))])
                }
            }
        }
        // Setting the ids a process already holds changes nothing, and glibc's posix_spawn does it
        // in the child with POSIX_SPAWN_RESETIDS (make, issue 15): allowed in the filter itself.
        // Any other identity change, and every other refused call, is notified, refused with
        // EPERM and recorded with a reason: nothing is refused silently.
        for (name, count, id) in Self.identityCalls(uid: uid, gid: gid) {
            for combination in 0..<(1 << count) {
                let conditions = (0..<count).map { index in
                    SeccompArgumentCondition(
                        index: index, .maskedEqual(mask: 0xFFFF_FFFF, value: combination & (1 << index) != 0 ? 0xFFFF_FFFF : UInt64(id)))
                }
                // setuid, setgid, setfsuid and setfsgid take no "unchanged" (-1).
                if count == 1, combination != 0 { continue }
                builder.add(name, .allow, when: conditions)
            }
            builder.add(name, .notify, when: [Self.always])
        }
        for name in refusedCalls where !identityCallNames.contains(name) { builder.add(name, .notify) }
        for flag in namespaceFlags {
            builder.add("clone", .notify, when: [SeccompArgumentCondition(index: 0, .maskedEqual(mask: flag, value: flag))])
        }
        // clone3 keeps its flags in memory; ENOSYS makes glibc (>= 2.34) fall back to clone,
        // whose flags the rules above read (as Docker's and Sentinel's profiles do).
        builder.add("clone3", .errno(UInt16(ENOSYS)))
        // The request is an unsigned int: the kernel ignores the register's upper half, so the
        // rule compares the lower 32 bits only (a value with junk above them is the same request).
        for request in terminalInjectionRequests {
            builder.add("ioctl", .notify, when: [SeccompArgumentCondition(index: 1, .maskedEqual(mask: 0xFFFF_FFFF, value: request))])
        }
        for family in internetFamilies {
            for type in rawSocketTypes {
                builder.add("socket", .notify, when: [
                    SeccompArgumentCondition(index: 0, .maskedEqual(mask: 0xFFFF_FFFF, value: family)),
                    SeccompArgumentCondition(index: 1, .maskedEqual(mask: 0xF, value: type)),
                ])
            }
        }
        builder.add("socket", .notify, when: [SeccompArgumentCondition(index: 0, .maskedEqual(mask: 0xFFFF_FFFF, value: packetFamily))])
        return builder
    }
}
