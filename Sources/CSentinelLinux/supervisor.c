// The shims declared in CSentinelSupervisor.h. Each returns a negative errno on failure.

#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelSupervisor.h"
#include "CSentinelSeccomp.h"
#include "CSentinelPaths.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

// Writes (step, errno) to the error pipe and exits; only raw system calls (we are between fork
// and exec of a possibly multithreaded parent).
static void spawn_fail(int error_pipe, int step, int code) {
    int report[2] = {step, code};
    ssize_t ignored = write(error_pipe, report, sizeof report);
    (void)ignored;
    _exit(127);
}

int sentinel_guard_spawn(
    const char *path, char *const argv[], char *const envp[], const struct sock_filter *filter,
    unsigned short count, unsigned int seccomp_flags, int landlock_ruleset_fd, int handoff_socket,
    int error_pipe, int close_fd) {
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid > 0) return pid;

    // The child. The parent's threads may hold locks (malloc, stdio): nothing here may take one.
    if (close_fd >= 0) close(close_fd);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    // Swift's runtime and Foundation ignore SIGPIPE; an ignored disposition survives exec, and
    // the command must see the default (die on a closed pipe), as under a shell.
    signal(SIGPIPE, SIG_DFL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) spawn_fail(error_pipe, SENTINEL_GUARD_STEP_NO_NEW_PRIVS, errno);
    if (landlock_ruleset_fd >= 0) {
        if (syscall(SYS_landlock_restrict_self, landlock_ruleset_fd, 0) != 0)
            spawn_fail(error_pipe, SENTINEL_GUARD_STEP_LANDLOCK, errno);
        close(landlock_ruleset_fd);
    }
    int failed_step = 0;
    int result = sentinel_seccomp_install_and_send_listener(filter, count, seccomp_flags, handoff_socket, &failed_step);
    if (result < 0) {
        spawn_fail(error_pipe, failed_step == 1 ? SENTINEL_GUARD_STEP_SECCOMP_INSTALL : SENTINEL_GUARD_STEP_SECCOMP_SEND,
                   -result);
    }
    close(handoff_socket);
    execve(path, argv, envp);
    spawn_fail(error_pipe, SENTINEL_GUARD_STEP_EXEC, errno);
    return -1;  // not reached
}

int sentinel_pidfd_open(pid_t pid) {
    long result = syscall(SYS_pidfd_open, pid, 0);
    return result < 0 ? -errno : (int)result;
}

int sentinel_pidfd_getfd(int pidfd, int target_fd) {
    long result = syscall(SYS_pidfd_getfd, pidfd, target_fd, 0);
    return result < 0 ? -errno : (int)result;
}

int sentinel_supervisor_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    // paths.c's openat2, which walks the path itself when openat2 is refused with ENOSYS (the
    // guard runs under Sentinel's seccomp profiles inside the container).
    int result = sentinel_openat2_mode(dirfd, path, flags, mode, resolve);
    return result < 0 ? -errno : result;
}

long sentinel_supervisor_read_memory(pid_t pid, uint64_t address, void *buffer, unsigned long length) {
    struct iovec local = {buffer, length};
    struct iovec remote = {(void *)(uintptr_t)address, length};
    ssize_t result = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    return result < 0 ? -errno : (long)result;
}

int sentinel_supervisor_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags) == 0 ? 0 : -errno;
}

int sentinel_supervisor_cloexec_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}
