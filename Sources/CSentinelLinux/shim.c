// Implementations of CSentinelLinux.h. Compiled with _GNU_SOURCE (Package.swift), so the libc
// declarations Swift cannot see are visible here. Only raw syscalls and data-structure plumbing:
// every decision (what to mount, which capability to keep, what an error means) is in Swift.

#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

// The enum values in the header must be the kernel's.
_Static_assert(SENTINEL_CLONE_NEWNS == CLONE_NEWNS, "CLONE_NEWNS");
_Static_assert(SENTINEL_CLONE_NEWCGROUP == CLONE_NEWCGROUP, "CLONE_NEWCGROUP");
_Static_assert(SENTINEL_CLONE_NEWUTS == CLONE_NEWUTS, "CLONE_NEWUTS");
_Static_assert(SENTINEL_CLONE_NEWIPC == CLONE_NEWIPC, "CLONE_NEWIPC");
_Static_assert(SENTINEL_CLONE_NEWUSER == CLONE_NEWUSER, "CLONE_NEWUSER");
_Static_assert(SENTINEL_CLONE_NEWPID == CLONE_NEWPID, "CLONE_NEWPID");
_Static_assert(SENTINEL_CLONE_NEWNET == CLONE_NEWNET, "CLONE_NEWNET");
_Static_assert(SENTINEL_MS_RDONLY == MS_RDONLY && SENTINEL_MS_NOSUID == MS_NOSUID, "MS_*");
_Static_assert(SENTINEL_MS_NODEV == MS_NODEV && SENTINEL_MS_NOEXEC == MS_NOEXEC, "MS_*");
_Static_assert(SENTINEL_MS_REMOUNT == MS_REMOUNT && SENTINEL_MS_BIND == MS_BIND, "MS_*");
_Static_assert(SENTINEL_MS_REC == MS_REC && SENTINEL_MS_PRIVATE == MS_PRIVATE, "MS_*");
_Static_assert(SENTINEL_MNT_DETACH == MNT_DETACH, "MNT_DETACH");
_Static_assert(SENTINEL_AT_EMPTY_PATH == AT_EMPTY_PATH, "AT_EMPTY_PATH");
_Static_assert(SENTINEL_AT_RECURSIVE == AT_RECURSIVE, "AT_RECURSIVE");
_Static_assert(SENTINEL_AT_SYMLINK_NOFOLLOW == AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW");
_Static_assert(SENTINEL_OPEN_TREE_CLOEXEC == O_CLOEXEC, "OPEN_TREE_CLOEXEC is O_CLOEXEC");
_Static_assert(SENTINEL_TIOCSTI == TIOCSTI, "TIOCSTI");
_Static_assert(SENTINEL_O_PATH == O_PATH, "O_PATH");
_Static_assert(SENTINEL_RLIMIT_CORE == RLIMIT_CORE && SENTINEL_RLIMIT_NPROC == RLIMIT_NPROC, "RLIMIT_*");
_Static_assert(SENTINEL_RLIMIT_NOFILE == RLIMIT_NOFILE && SENTINEL_RLIMIT_AS == RLIMIT_AS, "RLIMIT_*");

// Syscall numbers missing from older headers (numbers are the same on every architecture
// since the unified table of 5.1).
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_add_rule
#define SYS_landlock_add_rule 445
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

int sentinel_unshare(int flags) { return unshare(flags); }

int sentinel_setresuid(uid_t r, uid_t e, uid_t s) { return (int)syscall(SYS_setresuid, r, e, s); }
int sentinel_setresgid(gid_t r, gid_t e, gid_t s) { return (int)syscall(SYS_setresgid, r, e, s); }
int sentinel_clear_groups(void) { return (int)syscall(SYS_setgroups, 0, NULL); }

// MARK: - Mounts

// Our own copy of `struct mount_attr` (glibc 2.36 has none; <linux/mount.h> clashes with
// <sys/mount.h> on some glibc versions).
struct sentinel_mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#define SENTINEL_MOUNT_ATTR_RDONLY 0x00000001ULL
#define SENTINEL_MOUNT_ATTR_NOSUID 0x00000002ULL
#define SENTINEL_MOUNT_ATTR_NODEV 0x00000004ULL
#define SENTINEL_MOUNT_ATTR_NOEXEC 0x00000008ULL
#define SENTINEL_MOUNT_ATTR_IDMAP 0x00100000ULL

int sentinel_open_tree(int dirfd, const char *path, unsigned int flags) {
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int sentinel_move_mount_fd(int from_fd, const char *target_path) {
    return (int)syscall(SYS_move_mount, from_fd, "", AT_FDCWD, target_path, SENTINEL_MOVE_MOUNT_F_EMPTY_PATH);
}

int sentinel_mount_set_idmap(int tree_fd, int userns_fd, int recursive) {
    struct sentinel_mount_attr attr = {0};
    attr.attr_set = SENTINEL_MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    unsigned int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    return (int)syscall(SYS_mount_setattr, tree_fd, "", flags, &attr, sizeof attr);
}

int sentinel_mount_set_flags(int tree_fd, int readonly, int nosuid, int nodev, int noexec) {
    struct sentinel_mount_attr attr = {0};
    if (readonly) attr.attr_set |= SENTINEL_MOUNT_ATTR_RDONLY;
    if (nosuid) attr.attr_set |= SENTINEL_MOUNT_ATTR_NOSUID;
    if (nodev) attr.attr_set |= SENTINEL_MOUNT_ATTR_NODEV;
    if (noexec) attr.attr_set |= SENTINEL_MOUNT_ATTR_NOEXEC;
    return (int)syscall(SYS_mount_setattr, tree_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
}

int sentinel_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int sentinel_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int sentinel_close_from(unsigned int first) {
    return (int)syscall(SYS_close_range, first, ~0U, 0);
}

// MARK: - Process attributes

int sentinel_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
int sentinel_set_non_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); }
int sentinel_is_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }
int sentinel_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int sentinel_set_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

int sentinel_keep_caps_across_setuid(void) {
    // SECBIT_KEEP_CAPS (1<<4) | SECBIT_NO_SETUID_FIXUP (1<<2) | their locks (1<<3, 1<<5 is
    // KEEP_CAPS_LOCKED). The locks are harmless: the workload drops every capability anyway.
    return prctl(PR_SET_SECUREBITS, (1 << 2) | (1 << 3) | (1 << 4), 0, 0, 0);
}

int sentinel_cap_last_cap(void) {
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return CAP_LAST_CAP;
    char buf[16] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return CAP_LAST_CAP;
    int value = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) value = value * 10 + (buf[i] - '0');
    return value > 0 ? value : CAP_LAST_CAP;
}

int sentinel_drop_all_capabilities(void) {
    int last = sentinel_cap_last_cap();
    for (int cap = 0; cap <= last; cap++) {
        // EINVAL: a capability this kernel does not know; anything else is a real failure.
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &header, data);
}

int sentinel_capget(uint32_t out[6]) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) < 0) return -1;
    out[0] = data[0].effective; out[1] = data[1].effective;
    out[2] = data[0].permitted; out[3] = data[1].permitted;
    out[4] = data[0].inheritable; out[5] = data[1].inheritable;
    return 0;
}

// MARK: - Signals

int sentinel_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC);
}

int sentinel_signalfd_read(int fd, int32_t *sender) {
    struct signalfd_siginfo info;
    for (;;) {
        ssize_t n = read(fd, &info, sizeof info);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return 0;
        if (n != sizeof info) { errno = EIO; return -1; }
        if (sender) *sender = (int32_t)info.ssi_pid;
        return (int)info.ssi_signo;
    }
}

void sentinel_reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        (void)sigaction(sig, &action, NULL);  // EINVAL for glibc-reserved RT signals: ignore.
    }
    sigset_t empty;
    sigemptyset(&empty);
    (void)sigprocmask(SIG_SETMASK, &empty, NULL);
}

static _Atomic pid_t forward_target = 0;
static _Atomic int last_forwarded = 0;

static void forward_handler(int sig) {
    int saved = errno;
    pid_t target = atomic_load(&forward_target);
    atomic_store(&last_forwarded, sig);
    if (target > 0) (void)kill(target, sig);
    errno = saved;
}

int sentinel_forward_signals(pid_t pid, const int *signals, int count) {
    atomic_store(&forward_target, pid);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = forward_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, NULL) < 0) return -1;
        sigaddset(&wanted, signals[i]);
    }
    // A parent may start us with these signals blocked (Foundation's Process spawns from a
    // thread that blocks most signals, and the mask survives execve); a blocked SIGTERM would
    // stay pending here and never reach the workload.
    return pthread_sigmask(SIG_UNBLOCK, &wanted, NULL) == 0 ? 0 : -1;
}

void sentinel_stop_forwarding(void) { atomic_store(&forward_target, 0); }
int sentinel_last_forwarded_signal(void) { return atomic_load(&last_forwarded); }

// MARK: - Landlock

struct sentinel_landlock_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct sentinel_landlock_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int sentinel_landlock_abi(void) {
    return (int)syscall(SYS_landlock_create_ruleset, NULL, 0, SENTINEL_LANDLOCK_CREATE_RULESET_VERSION);
}

int sentinel_landlock_create_ruleset(uint64_t fs, uint64_t net, uint64_t scoped) {
    struct sentinel_landlock_ruleset_attr attr = {fs, net, scoped};
    // Older ABIs reject a larger struct with non-zero tail fields (E2BIG), so pass only as
    // much as is used: the kernel accepts any prefix size of the struct it knows.
    size_t size = sizeof attr;
    if (scoped == 0) size = offsetof(struct sentinel_landlock_ruleset_attr, scoped);
    if (scoped == 0 && net == 0) size = offsetof(struct sentinel_landlock_ruleset_attr, handled_access_net);
    return (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
}

int sentinel_landlock_allow_path(int ruleset_fd, uint64_t access, int parent_fd) {
    struct sentinel_landlock_path_beneath_attr attr = {access, parent_fd};
    return (int)syscall(SYS_landlock_add_rule, ruleset_fd, 1 /* LANDLOCK_RULE_PATH_BENEATH */, &attr, 0);
}

int sentinel_landlock_restrict_self(int ruleset_fd) {
    return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}

// MARK: - Network

int sentinel_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) { int e = errno; close(fd); errno = e; return -1; }
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) { int e = errno; close(fd); errno = e; return -1; }
    close(fd);
    return 0;
}

// MARK: - Probes

long sentinel_probe(sentinel_probe_syscall which, long argument) {
    long result = -1;
    switch (which) {
    case SENTINEL_PROBE_KEYCTL:
        // KEYCTL_GET_KEYRING_ID (0) of the session keyring (-3), create if missing.
        result = syscall(SYS_keyctl, 0, -3, 1, 0, 0);
        return result;
    case SENTINEL_PROBE_BPF: {
        // BPF_MAP_CREATE (0) of a tiny array map.
        uint32_t attr[16];
        memset(attr, 0, sizeof attr);
        attr[0] = 2; attr[1] = 4; attr[2] = 4; attr[3] = 1;  // type ARRAY, key 4, value 4, 1 entry
        result = syscall(SYS_bpf, 0, attr, sizeof attr);
        break;
    }
    case SENTINEL_PROBE_IO_URING_SETUP: {
        unsigned char params[120];
        memset(params, 0, sizeof params);
        result = syscall(SYS_io_uring_setup, 1, params);
        break;
    }
    case SENTINEL_PROBE_PERF_EVENT_OPEN: {
        // A software CPU-clock counter on this task: the least privileged perf event.
        unsigned char attr[128];
        memset(attr, 0, sizeof attr);
        uint32_t type = 1 /* PERF_TYPE_SOFTWARE */, size = sizeof attr;
        memcpy(attr, &type, 4);
        memcpy(attr + 4, &size, 4);
        result = syscall(SYS_perf_event_open, attr, 0, -1, -1, 0);
        break;
    }
    case SENTINEL_PROBE_USERFAULTFD:
        result = syscall(SYS_userfaultfd, O_CLOEXEC);
        break;
    case SENTINEL_PROBE_PTRACE_ATTACH:
        result = syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, (pid_t)argument, 0, 0);
        return result;
    case SENTINEL_PROBE_INIT_MODULE:
        result = syscall(SYS_init_module, NULL, 0, "");
        return result;
    case SENTINEL_PROBE_KEXEC_LOAD:
        result = syscall(SYS_kexec_load, 0, 0, NULL, 0);
        return result;
    }
    if (result >= 0) close((int)result);
    return result;
}
