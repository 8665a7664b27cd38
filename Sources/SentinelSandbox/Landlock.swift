// The second, independent layer of the file rules: a Landlock ruleset that allows exactly the
// trees the mount namespace shows, with the same read-only / read-write split. A mistake in
// the mount code then does not become a hole, and the workload cannot use a nested mount
// namespace trick to reach a host path. Applied in the workload just before seccomp.

import CSentinelLinux
import Glibc

/// Probes and applies Landlock.
public enum Landlock {
    /// The kernel's Landlock ABI version, or nil when Landlock is unavailable (with the reason).
    public static func probe() -> (abi: Int32?, reason: String) {
        let abi = sentinel_landlock_abi()
        if abi > 0 { return (abi, "Landlock ABI \(abi)") }
        switch Glibc.errno {
        case ENOSYS: return (nil, "the kernel is built without Landlock (CONFIG_SECURITY_LANDLOCK)")
        case EOPNOTSUPP: return (nil, "Landlock is built in but disabled at boot (add landlock to the lsm= kernel parameter)")
        default: return (nil, "the Landlock probe failed: \(Errno.current)")
        }
    }

    /// Every filesystem access right the given ABI knows.
    static func handledAccess(abi: Int32) -> UInt64 {
        var access: UInt64 = 0x1fff  // ABI 1: EXECUTE ... MAKE_SYM
        if abi >= 2 { access |= SENTINEL_LL_FS_REFER }
        if abi >= 3 { access |= SENTINEL_LL_FS_TRUNCATE }
        if abi >= 5 { access |= SENTINEL_LL_FS_IOCTL_DEV }
        return access
    }
}

/// The outcome of applying the ruleset.
struct LandlockOutcome {
    var abi: Int32
    var description: String
}

enum LandlockRuleset {
    static let read: UInt64 = SENTINEL_LL_FS_READ_FILE | SENTINEL_LL_FS_READ_DIR
    static let readExecute: UInt64 = read | SENTINEL_LL_FS_EXECUTE
    static let write: UInt64 =
        SENTINEL_LL_FS_WRITE_FILE | SENTINEL_LL_FS_REMOVE_DIR | SENTINEL_LL_FS_REMOVE_FILE
        | SENTINEL_LL_FS_MAKE_DIR | SENTINEL_LL_FS_MAKE_REG | SENTINEL_LL_FS_MAKE_SOCK | SENTINEL_LL_FS_MAKE_FIFO
        | SENTINEL_LL_FS_MAKE_SYM | SENTINEL_LL_FS_REFER | SENTINEL_LL_FS_TRUNCATE

    /// The rules, as paths inside the sandbox (after pivot_root) and the access they get.
    static func rules(for spec: SandboxSpec) -> [(path: String, access: UInt64)] {
        var rules: [(String, UInt64)] = [
            // Listing directories anywhere in the (read-only, minimal) tree.
            ("/", SENTINEL_LL_FS_READ_DIR),
            ("/usr", readExecute), ("/bin", readExecute), ("/sbin", readExecute), ("/lib", readExecute),
            ("/lib32", readExecute), ("/lib64", readExecute), ("/libx32", readExecute), ("/opt", readExecute),
            ("/etc", read),
            ("/proc", read | SENTINEL_LL_FS_WRITE_FILE),
            ("/dev", read | SENTINEL_LL_FS_WRITE_FILE | SENTINEL_LL_FS_TRUNCATE | SENTINEL_LL_FS_IOCTL_DEV),
            ("/workspace", readExecute | write),
            ("/tmp", read | write),
            ("/run", read | write),
            ("/dev/shm", read | write),
        ]
        for bind in spec.binds {
            rules.append((bind.destination, bind.readOnly ? readExecute : readExecute | write))
        }
        return rules
    }

    /// Applies the ruleset (or explains why it cannot), recording warnings for the report.
    static func apply(plan: StagePlan, warnings: inout [String]) throws(StepError) -> LandlockOutcome {
        let abi = plan.landlockABI
        guard abi > 0 else {
            if plan.spec.requireLandlock {
                throw StepError(.landlock, errno: ENOSYS, "--require-landlock was given and this kernel has no Landlock")
            }
            warnings.append("Landlock is not available on this kernel: the file rules rely on the mount namespace alone.")
            return LandlockOutcome(abi: 0, description: "unavailable")
        }
        let handled = Landlock.handledAccess(abi: abi)
        // ABI 6: abstract Unix sockets and signals are scoped to the sandbox's domain, so the
        // workload can neither connect to a host abstract socket (even with --network host)
        // nor signal a process outside its domain.
        let scoped: UInt64 = abi >= 6 ? UInt64(SENTINEL_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | SENTINEL_LANDLOCK_SCOPE_SIGNAL) : 0
        let ruleset = sentinel_landlock_create_ruleset(handled, 0, scoped)
        if ruleset < 0 { throw StepError(.landlock, Errno.current, "creating the ruleset (ABI \(abi))") }
        defer { Sys.close(ruleset) }
        for (path, access) in rules(for: plan.spec) {
            let fd = Glibc.open(path, Int32(SENTINEL_O_PATH) | O_CLOEXEC)
            if fd < 0 { continue }  // Not present in this sandbox (e.g. /lib32): nothing to allow.
            defer { Sys.close(fd) }
            var allowed = access & handled
            // Directory-only rights on a file are refused by the kernel (EINVAL).
            var info = stat()
            if fstat(fd, &info) != 0 || info.st_mode & S_IFMT != S_IFDIR {
                allowed &= SENTINEL_LL_FS_EXECUTE | SENTINEL_LL_FS_WRITE_FILE | SENTINEL_LL_FS_READ_FILE
                    | SENTINEL_LL_FS_TRUNCATE | SENTINEL_LL_FS_IOCTL_DEV
            }
            if sentinel_landlock_allow_path(ruleset, allowed, fd) < 0 {
                throw StepError(.landlock, Errno.current, "adding the rule for \(path)")
            }
        }
        if sentinel_landlock_restrict_self(ruleset) < 0 {
            throw StepError(.landlock, Errno.current, "landlock_restrict_self")
        }
        return LandlockOutcome(abi: abi, description: "enforced (ABI \(abi)\(scoped != 0 ? ", abstract sockets and signals scoped" : ""))")
    }
}
