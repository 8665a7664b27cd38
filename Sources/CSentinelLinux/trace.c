// The shims declared in CSentinelTrace.h. Each returns a negative errno on failure.

#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelTrace.h"
#include "CSentinelSeccomp.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

const int sentinel_trace_options =
    PTRACE_O_TRACEEXEC | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE;

// Writes (step, errno) to the error pipe and exits; only raw system calls (we are between fork
// and exec of a multithreaded parent).
static void launch_fail(int error_pipe, int step, int code) {
    int report[2] = {step, code};
    ssize_t ignored = write(error_pipe, report, sizeof report);
    (void)ignored;
    _exit(127);
}

// Reads exactly one byte, retrying EINTR; 0 on success, else the errno (EPIPE at end of file).
static int read_byte(int fd) {
    char byte;
    for (;;) {
        ssize_t got = read(fd, &byte, 1);
        if (got == 1) return 0;
        if (got == 0) return EPIPE;
        if (errno != EINTR) return errno;
    }
}

int sentinel_guard_launch(
    const char *path, char *const argv[], char *const envp[], const struct sock_filter *filter,
    unsigned short count, unsigned int seccomp_flags, int landlock_ruleset_fd, int control_socket,
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
    int code = read_byte(control_socket);
    if (code != 0) launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_WAIT, code);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_NO_NEW_PRIVS, errno);
    if (landlock_ruleset_fd >= 0) {
        if (syscall(SYS_landlock_restrict_self, landlock_ruleset_fd, 0) != 0)
            launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_LANDLOCK, errno);
        close(landlock_ruleset_fd);
    }
    int listener = sentinel_seccomp_install(filter, count, seccomp_flags | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener < 0) launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_INSTALL, -listener);
    // `write` and `read` are not notified by the guard's filter, so nothing here waits for the
    // supervisor that does not have the listener yet.
    ssize_t written;
    do {
        written = write(control_socket, &listener, sizeof listener);
    } while (written < 0 && errno == EINTR);
    if (written != (ssize_t)sizeof listener) launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_REPORT, written < 0 ? errno : EIO);
    code = read_byte(control_socket);
    if (code != 0) launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_REPORT, code);
    close(listener);
    close(control_socket);
    execve(path, argv, envp);
    launch_fail(error_pipe, SENTINEL_GUARD_LAUNCH_STEP_EXEC, errno);
    return -1;  // not reached
}

int sentinel_ptrace_seize(pid_t pid, int options) {
    return ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)options) < 0 ? -errno : 0;
}

int sentinel_ptrace_cont(pid_t pid, int signal) {
    return ptrace(PTRACE_CONT, pid, 0, (void *)(long)signal) < 0 ? -errno : 0;
}

int sentinel_ptrace_listen(pid_t pid) {
    return ptrace(PTRACE_LISTEN, pid, 0, 0) < 0 ? -errno : 0;
}

int sentinel_ptrace_event_message(pid_t pid, unsigned long *message) {
    return ptrace(PTRACE_GETEVENTMSG, pid, 0, message) < 0 ? -errno : 0;
}

int sentinel_ptrace_detach(pid_t pid, int signal) {
    return ptrace(PTRACE_DETACH, pid, 0, (void *)(long)signal) < 0 ? -errno : 0;
}

int sentinel_trace_wait(int *status) {
    for (;;) {
        pid_t pid = waitpid(-1, status, __WALL | __WNOTHREAD);
        if (pid >= 0) return pid;
        if (errno != EINTR) return -errno;
    }
}
