import CSentinelLinux
import Glibc
public import SentinelPolicy
import SentinelSandbox

/// The second layer of the file rules: a Landlock ruleset that lets the command change files
/// only under `allowed_paths` (and the harmless devices), enforced by the kernel at the moment
/// of use, so it has no check-to-use window at all.
///
/// Landlock can only allow trees, never carve a hole in one, so it handles writes only: reads,
/// `blocked_paths` inside an allowed tree and `read_only_paths` stay the supervisor's job. The
/// supervisor itself is not restricted, so a write the operator approves (opened on the
/// command's behalf) still works.
public enum GuardLandlock {
    /// The outcome of preparing the ruleset.
    public struct Ruleset: Sendable {
        /// The ruleset fd to pass to the child (close-on-exec), or nil when Landlock is unavailable.
        public var fileDescriptor: Int32?
        /// A sentence for the operator: what is enforced, or why nothing is.
        public var description: String
    }

    /// The write rights the ruleset handles for an ABI.
    ///
    /// Not `LANDLOCK_ACCESS_FS_TRUNCATE` (ABI 3): when a ruleset handles it, the kernel walks the
    /// path of every file the program opens, read-only ones included, to record whether it may
    /// later be truncated (`hook_file_open`'s optional access; ~0.65 µs per open on Linux 6.18,
    /// docs/PERFORMANCE.md). truncate(2) is notified and decided by the supervisor instead
    /// (`GuardFilter.contentCalls`), and `ftruncate` needs a descriptor opened for writing, which
    /// was decided when it was opened (issue 16).
    static func handledRights(abi: Int32) -> UInt64 {
        var rights: UInt64 =
            SENTINEL_LL_FS_WRITE_FILE | SENTINEL_LL_FS_REMOVE_DIR | SENTINEL_LL_FS_REMOVE_FILE | SENTINEL_LL_FS_MAKE_CHAR
            | SENTINEL_LL_FS_MAKE_DIR | SENTINEL_LL_FS_MAKE_REG | SENTINEL_LL_FS_MAKE_SOCK | SENTINEL_LL_FS_MAKE_FIFO
            | SENTINEL_LL_FS_MAKE_BLOCK | SENTINEL_LL_FS_MAKE_SYM
        if abi >= 2 { rights |= SENTINEL_LL_FS_REFER }
        return rights
    }

    /// The devices every program writes to (`PathRules` allows them too).
    static let devices = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts"]

    /// Creates the ruleset for `policy`; nil fd (with the reason) when the kernel has no Landlock.
    public static func prepare(for policy: Policy) throws(SupervisorError) -> Ruleset {
        let (abi, reason) = Landlock.probe()
        guard let abi else {
            return Ruleset(fileDescriptor: nil, description: "Landlock is not available (\(reason)); file writes are checked by the supervisor alone")
        }
        let handled = handledRights(abi: abi)
        let ruleset = sentinel_landlock_create_ruleset(handled, 0, 0)
        guard ruleset >= 0 else {
            let code = Glibc.errno
            throw SupervisorError(
                .launch, "Cannot create the Landlock ruleset (\(SupervisorError.text(code))).", errno: code)
        }
        let fileRights = SENTINEL_LL_FS_WRITE_FILE
        var rules: [(String, UInt64)] = policy.pathRules.allowed.map { ($0.path, handled) }
        rules += devices.map { ($0, fileRights) }
        for (path, rights) in rules {
            let fd = open(path, Int32(SENTINEL_O_PATH) | O_CLOEXEC)
            // An allowed root that does not exist yet cannot be created through Landlock either;
            // skipping it only denies more.
            if fd < 0 { continue }
            defer { close(fd) }
            var info = stat()
            var granted = rights
            if fstat(fd, &info) != 0 || info.st_mode & S_IFMT != S_IFDIR {
                // The kernel refuses directory-only rights on a file (EINVAL).
                granted &= fileRights
            }
            if sentinel_landlock_allow_path(ruleset, granted, fd) < 0 {
                let code = Glibc.errno
                close(ruleset)
                throw SupervisorError(
                    .launch, "Cannot add the Landlock rule for \(path) (\(SupervisorError.text(code))).", errno: code)
            }
        }
        return Ruleset(
            fileDescriptor: ruleset,
            description: "Landlock ABI \(abi): the command can change files only under allowed_paths")
    }
}
