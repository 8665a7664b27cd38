// CSentinelSupervisor: what `sentinel guard`'s supervisor needs from the kernel that Swift cannot
// call: the variadic `syscall` (pidfd_open, pidfd_getfd, openat2 with a mode), and a fork + exec
// that runs nothing but raw system calls in the child, so it is safe even when the calling
// process is multithreaded (a Swift process that has started its concurrency runtime is).
// Every function returns a negative errno on failure. No policy logic here.

#ifndef C_SENTINEL_SUPERVISOR_H
#define C_SENTINEL_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

/// Where `sentinel_guard_spawn`'s child failed, as written to the error pipe.
enum sentinel_guard_spawn_step {
    SENTINEL_GUARD_STEP_NO_NEW_PRIVS = 1,
    SENTINEL_GUARD_STEP_LANDLOCK = 2,
    SENTINEL_GUARD_STEP_SECCOMP_INSTALL = 3,
    SENTINEL_GUARD_STEP_SECCOMP_SEND = 4,
    SENTINEL_GUARD_STEP_EXEC = 5,
};

/// Forks; the child (only raw system calls between fork and exec: async-signal-safe) unblocks
/// every signal, resets SIGPIPE to its default, sets no_new_privs, applies the Landlock ruleset
/// `landlock_ruleset_fd` (skipped when negative), installs the seccomp `filter` with a new
/// listener and sends the listener over `handoff_socket` (then closes its copy), and execs
/// `path` with `argv`/`envp`. On failure the child writes two ints (step, errno) to `error_pipe`
/// (which must be close-on-exec, so a successful exec closes it with nothing written) and exits
/// with status 127. `close_fd` (if >= 0) is closed in the child first (the supervisor's end of
/// the socket pair). Returns the child's pid, or a negative errno when fork fails.
int sentinel_guard_spawn(
    const char *path, char *const argv[], char *const envp[], const struct sock_filter *filter,
    unsigned short count, unsigned int seccomp_flags, int landlock_ruleset_fd, int handoff_socket,
    int error_pipe, int close_fd);

/// `pidfd_open(pid, 0)` (Linux 5.3). Returns the pidfd (close-on-exec) or a negative errno.
int sentinel_pidfd_open(pid_t pid);

/// `pidfd_getfd(pidfd, targetfd, 0)` (Linux 5.6): a duplicate of another process's descriptor,
/// close-on-exec. Needs ptrace access to the target. Returns the fd or a negative errno.
int sentinel_pidfd_getfd(int pidfd, int target_fd);

/// `openat2(dirfd, path, &{flags, mode, resolve})`: openat2 with a creation mode (glibc 2.36 has
/// no wrapper), or `sentinel_open_no_symlinks` when openat2 answers ENOSYS (see
/// `sentinel_openat2`). Returns the fd or a negative errno.
int sentinel_supervisor_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// `process_vm_readv` of one range: reads up to `length` bytes at `address` in process `pid`.
/// Returns the number of bytes read (short at an unmapped page) or a negative errno.
long sentinel_supervisor_read_memory(pid_t pid, uint64_t address, void *buffer, unsigned long length);

/// `renameat2(olddirfd, oldpath, newdirfd, newpath, flags)` (glibc 2.28 declares it only with
/// _GNU_SOURCE, which the Glibc module does not define). Returns 0 or a negative errno.
int sentinel_supervisor_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// `pipe2(fds, O_CLOEXEC)` (a _GNU_SOURCE declaration). Returns 0 or a negative errno.
int sentinel_supervisor_cloexec_pipe(int fds[2]);

#endif
