// CSentinelTrace: what `sentinel guard` needs to start a command it traces and to follow that
// command's processes with ptrace. `ptrace` is variadic in glibc, which Swift cannot call, and the
// launch must run nothing but raw system calls between fork and exec, because the calling process
// is multithreaded (a Swift process that has started its concurrency runtime is). Every function
// returns a negative errno on failure. No policy logic here.

#ifndef C_SENTINEL_TRACE_H
#define C_SENTINEL_TRACE_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

/// Where `sentinel_guard_launch`'s child failed, as written to the error pipe.
enum sentinel_guard_launch_step {
    SENTINEL_GUARD_LAUNCH_STEP_WAIT = 1,
    SENTINEL_GUARD_LAUNCH_STEP_NO_NEW_PRIVS = 2,
    SENTINEL_GUARD_LAUNCH_STEP_LANDLOCK = 3,
    SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_INSTALL = 4,
    SENTINEL_GUARD_LAUNCH_STEP_SECCOMP_REPORT = 5,
    SENTINEL_GUARD_LAUNCH_STEP_EXEC = 6,
};

/// The ptrace options the tracer sets: exec stops (the image is verified before it runs), and
/// every new process and thread is traced from its first instruction.
extern const int sentinel_trace_options;

/// Forks a child for `sentinel guard`. The child runs only raw system calls (async-signal-safe):
/// it closes `close_fd` (the parent's end of the control socket), unblocks every signal, resets
/// SIGPIPE to its default, then waits for one byte on `control_socket` (the parent has attached
/// with PTRACE_SEIZE by then); sets no_new_privs, applies the Landlock ruleset
/// `landlock_ruleset_fd` (skipped when negative), installs the seccomp `filter` with a new
/// listener, writes the listener's descriptor number (an int) to `control_socket` with `write`,
/// which the filter does not notify, waits for one more byte (the parent has taken a duplicate
/// with pidfd_getfd), closes its copy and execs `path`. No rule of the filter needs to exempt
/// the control socket: the hand-over uses no call the filter notifies. On failure the child
/// writes (step, errno) to `error_pipe` (close-on-exec, so a successful exec closes it with
/// nothing written) and exits with status 127. Returns the child's pid or a negative errno.
int sentinel_guard_launch(
    const char *path, char *const argv[], char *const envp[], const struct sock_filter *filter,
    unsigned short count, unsigned int seccomp_flags, int landlock_ruleset_fd, int control_socket,
    int error_pipe, int close_fd);

/// `ptrace(PTRACE_SEIZE, pid, 0, options)`.
int sentinel_ptrace_seize(pid_t pid, int options);

/// `ptrace(PTRACE_CONT, pid, 0, signal)`: resumes a stopped tracee, delivering `signal` (0: none).
int sentinel_ptrace_cont(pid_t pid, int signal);

/// `ptrace(PTRACE_LISTEN, pid, 0, 0)`: leaves a tracee in its group-stop (job control) while the
/// tracer keeps receiving its events.
int sentinel_ptrace_listen(pid_t pid);

/// `ptrace(PTRACE_GETEVENTMSG, pid, 0, &message)`: the new pid of a fork event, the former thread
/// id of an exec event.
int sentinel_ptrace_event_message(pid_t pid, unsigned long *message);

/// `ptrace(PTRACE_DETACH, pid, 0, signal)`.
int sentinel_ptrace_detach(pid_t pid, int signal);

/// `waitpid(-1, status, __WALL | __WNOTHREAD)`: the children and tracees of the calling thread
/// only (not those of the process's other threads: an approval dialog is another thread's child).
/// Retries EINTR. Returns the pid or a negative errno (ECHILD when there is nothing to wait for).
int sentinel_trace_wait(int *status);

#endif
