// CSentinelLinux: the raw Linux syscalls, kernel constants and helpers that Swift cannot
// express (variadic `syscall`/`prctl`, function-like macros, `_GNU_SOURCE`-only declarations,
// packed kernel structs). Every symbol carries the `sentinel_` prefix so it can never collide
// with a later libc symbol. No policy logic lives here: every decision is made in Swift.
//
// Conventions: functions return 0 (or a non-negative fd/value) on success and -1 with `errno`
// set on failure, exactly like the syscalls they wrap, so the Swift side reads `errno`.
// Constants are plain enum values (the Glibc Clang module is built without _GNU_SOURCE, so the
// libc macros do not import); shim.c checks each against the kernel/libc headers with
// _Static_assert where those headers define it.

#ifndef C_SENTINEL_LINUX_H
#define C_SENTINEL_LINUX_H

#include "CSentinelSeccomp.h"
#include <stdint.h>
#include <sys/types.h>

// MARK: - Namespaces (clone flags; `<sched.h>` hides them behind _GNU_SOURCE)

enum {
    SENTINEL_CLONE_NEWNS = 0x00020000,
    SENTINEL_CLONE_NEWCGROUP = 0x02000000,
    SENTINEL_CLONE_NEWUTS = 0x04000000,
    SENTINEL_CLONE_NEWIPC = 0x08000000,
    SENTINEL_CLONE_NEWUSER = 0x10000000,
    SENTINEL_CLONE_NEWPID = 0x20000000,
    SENTINEL_CLONE_NEWNET = 0x40000000,
};

/// `unshare(2)`; declared by glibc only under _GNU_SOURCE.
int sentinel_unshare(int flags);

/// Raw `setresuid(2)`: glibc's wrapper broadcasts to every thread ("setxid"), which is both
/// unnecessary in the single-threaded stage and known to hang after raw clones (youki #2425).
int sentinel_setresuid(uid_t ruid, uid_t euid, uid_t suid);
/// Raw `setresgid(2)`, for the same reason as `sentinel_setresuid`.
int sentinel_setresgid(gid_t rgid, gid_t egid, gid_t sgid);
/// Raw `setgroups(2)` with an empty list: drops every supplementary group.
int sentinel_clear_groups(void);

// MARK: - Mounts (the new mount API has no glibc wrappers on Debian 12's glibc 2.36)

enum {
    SENTINEL_OPEN_TREE_CLONE = 1,
    SENTINEL_OPEN_TREE_CLOEXEC = 02000000,
    SENTINEL_AT_RECURSIVE = 0x8000,
    SENTINEL_AT_EMPTY_PATH = 0x1000,
    SENTINEL_AT_SYMLINK_NOFOLLOW = 0x100,
    SENTINEL_MOVE_MOUNT_F_EMPTY_PATH = 0x00000004,
    SENTINEL_MS_RDONLY = 1,
    SENTINEL_MS_NOSUID = 2,
    SENTINEL_MS_NODEV = 4,
    SENTINEL_MS_NOEXEC = 8,
    SENTINEL_MS_REMOUNT = 32,
    SENTINEL_MS_BIND = 4096,
    SENTINEL_MS_REC = 16384,
    SENTINEL_MS_PRIVATE = 1 << 18,
    SENTINEL_MNT_DETACH = 2,
};

/// `open_tree(2)`: a detached copy of the mount at `path` (with `OPEN_TREE_CLONE`), taken
/// before the stage gives up its host privileges so that bind sources the workload user could
/// not reach stay reachable by the caller who named them.
int sentinel_open_tree(int dirfd, const char *path, unsigned int flags);
/// `move_mount(2)` from a detached tree fd onto `target_path`.
int sentinel_move_mount_fd(int from_fd, const char *target_path);
/// `mount_setattr(2)` that sets `MOUNT_ATTR_IDMAP` on a detached tree, with the id mapping of
/// the user namespace `userns_fd` (kernel >= 5.12; needs host CAP_SYS_ADMIN over the fs).
int sentinel_mount_set_idmap(int tree_fd, int userns_fd, int recursive);
/// `mount_setattr(2)` that adds read-only, nosuid and nodev (as asked) to a detached tree,
/// recursively. Sets flags without a remount so no locked flag is ever cleared.
int sentinel_mount_set_flags(int tree_fd, int readonly, int nosuid, int nodev, int noexec);
/// `pivot_root(2)`; glibc has no wrapper.
int sentinel_pivot_root(const char *new_root, const char *put_old);

// MARK: - File descriptors and resources

enum {
    SENTINEL_O_PATH = 010000000,
    SENTINEL_RLIMIT_CORE = 4,
    SENTINEL_RLIMIT_NPROC = 6,
    SENTINEL_RLIMIT_NOFILE = 7,
    SENTINEL_RLIMIT_AS = 9,
};

/// `pipe2(fds, O_CLOEXEC)`; `pipe2` is declared only under _GNU_SOURCE.
int sentinel_pipe_cloexec(int fds[2]);

/// `close_range(2)` (kernel >= 5.9): closes every fd from `first` up.
int sentinel_close_from(unsigned int first);

// MARK: - Process attributes (`prctl` is variadic and not in the Glibc module)

/// `PR_SET_NO_NEW_PRIVS`: execve can never again grant privileges (setuid bits, file caps).
int sentinel_set_no_new_privs(void);
/// `PR_SET_DUMPABLE 0`: peers cannot ptrace us or open `/proc/<pid>/mem`, `/proc/<pid>/exe`.
int sentinel_set_non_dumpable(void);
/// `PR_GET_DUMPABLE`: 1 when this process is dumpable, 0 when not, -1 on error.
int sentinel_is_dumpable(void);
/// `PR_SET_PDEATHSIG`: the kernel sends `sig` to us when our parent thread dies.
int sentinel_set_parent_death_signal(int sig);
/// `PR_SET_SECUREBITS` with KEEP_CAPS and NO_SETUID_FIXUP (locked): the stage keeps its
/// namespace capabilities across the switch to the workload uid.
int sentinel_keep_caps_across_setuid(void);
/// Drops every capability from the bounding set (`PR_CAPBSET_DROP`), clears the ambient set
/// (`PR_CAP_AMBIENT_CLEAR_ALL`), then clears effective, permitted and inheritable (`capset`).
/// Returns -1 with errno at the first failure.
int sentinel_drop_all_capabilities(void);
/// The highest capability number this kernel knows (`/proc/sys/kernel/cap_last_cap` fallback 40).
int sentinel_cap_last_cap(void);
/// Reads the effective, permitted, inheritable sets (low and high 32 bits) into `out[6]`.
int sentinel_capget(uint32_t out[6]);
/// Sets the process name shown in `ps` (`PR_SET_NAME`), at most 15 bytes.
int sentinel_set_name(const char *name);

// MARK: - Signals

/// Blocks `signals[0..<count]` in this thread and returns a `signalfd` (CLOEXEC) that reads
/// them; `signalfd` lives in `<sys/signalfd.h>`, outside the Glibc module.
int sentinel_signalfd(const int *signals, int count);
/// Reads one `signalfd_siginfo` from `fd`; returns the signal number, 0 at EOF, -1 on error.
/// Also returns the sender's pid in `*sender` (0 when unknown).
int sentinel_signalfd_read(int fd, int32_t *sender);
/// Restores every signal disposition to default and empties the signal mask (before execve,
/// and at the start of the stage, which inherits ignored signals through posix_spawn).
void sentinel_reset_signals(void);
/// Installs async-signal-safe handlers in the (multithreaded) launcher that forward
/// `signals[0..<count]` to `pid` with `kill(2)`. Swift cannot be trusted in a signal handler
/// (globals are lazily initialised under a lock), so the handler is C.
int sentinel_forward_signals(pid_t pid, const int *signals, int count);
/// Stops forwarding (target becomes 0; the handlers then do nothing).
void sentinel_stop_forwarding(void);
/// The last signal the forwarding handler saw (0 if none), so the launcher can report it.
int sentinel_last_forwarded_signal(void);

// MARK: - Landlock (syscalls without glibc wrappers; constants to ABI 7)

enum {
    SENTINEL_LANDLOCK_CREATE_RULESET_VERSION = 1,
    SENTINEL_LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET = 1,
    SENTINEL_LANDLOCK_SCOPE_SIGNAL = 2,
};

// Landlock filesystem access bits (`LANDLOCK_ACCESS_FS_*`), by the ABI that introduced them.
#define SENTINEL_LL_FS_EXECUTE 0x1ULL
#define SENTINEL_LL_FS_WRITE_FILE 0x2ULL
#define SENTINEL_LL_FS_READ_FILE 0x4ULL
#define SENTINEL_LL_FS_READ_DIR 0x8ULL
#define SENTINEL_LL_FS_REMOVE_DIR 0x10ULL
#define SENTINEL_LL_FS_REMOVE_FILE 0x20ULL
#define SENTINEL_LL_FS_MAKE_CHAR 0x40ULL
#define SENTINEL_LL_FS_MAKE_DIR 0x80ULL
#define SENTINEL_LL_FS_MAKE_REG 0x100ULL
#define SENTINEL_LL_FS_MAKE_SOCK 0x200ULL
#define SENTINEL_LL_FS_MAKE_FIFO 0x400ULL
#define SENTINEL_LL_FS_MAKE_BLOCK 0x800ULL
#define SENTINEL_LL_FS_MAKE_SYM 0x1000ULL
#define SENTINEL_LL_FS_REFER 0x2000ULL  // ABI 2
#define SENTINEL_LL_FS_TRUNCATE 0x4000ULL  // ABI 3
#define SENTINEL_LL_FS_IOCTL_DEV 0x8000ULL  // ABI 5

/// `landlock_create_ruleset(NULL, 0, VERSION)`: the kernel's Landlock ABI, or -1 with errno
/// (ENOSYS: not built in; EOPNOTSUPP: disabled at boot).
int sentinel_landlock_abi(void);
/// Creates a ruleset handling `fs` accesses, `net` accesses (ABI >= 4) and `scoped` (ABI >= 6).
int sentinel_landlock_create_ruleset(uint64_t fs, uint64_t net, uint64_t scoped);
/// Adds a `LANDLOCK_RULE_PATH_BENEATH` rule (the attr struct is packed, which Swift cannot
/// build portably).
int sentinel_landlock_allow_path(int ruleset_fd, uint64_t access, int parent_fd);
/// `landlock_restrict_self(ruleset_fd, 0)`: restricts this thread and its future children.
int sentinel_landlock_restrict_self(int ruleset_fd);

// MARK: - Network

/// Sets `IFF_UP` on `lo` in the current network namespace (`struct ifreq` is a union).
int sentinel_loopback_up(void);

// MARK: - Raw syscalls for the escape probes (`syscall` is variadic)

enum {
    SENTINEL_TIOCSTI = 0x5412,
};

/// The syscalls the built-in escape probes try; numbers come from `<sys/syscall.h>` in shim.c.
typedef enum {
    SENTINEL_PROBE_KEYCTL,
    SENTINEL_PROBE_BPF,
    SENTINEL_PROBE_IO_URING_SETUP,
    SENTINEL_PROBE_PERF_EVENT_OPEN,
    SENTINEL_PROBE_USERFAULTFD,
    SENTINEL_PROBE_PTRACE_ATTACH,
    SENTINEL_PROBE_INIT_MODULE,
    SENTINEL_PROBE_KEXEC_LOAD,
} sentinel_probe_syscall;

/// Calls one probe syscall with harmless arguments; returns the raw result (-1 and errno on
/// failure). A non-negative result that is an fd is closed before returning.
long sentinel_probe(sentinel_probe_syscall which, long argument);

#include "CSentinelPaths.h"
#include "CSentinelSupervisor.h"
#include "CSentinelTrace.h"

#endif
