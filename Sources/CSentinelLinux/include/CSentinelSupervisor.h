// CSentinelSupervisor: what `sentinel guard`'s supervisor needs from the kernel that Swift cannot
// call: the variadic `syscall` (pidfd_open, pidfd_getfd, openat2 with a mode). The launch of the
// command is in CSentinelTrace.h.
// Every function returns a negative errno on failure. No policy logic here.

#ifndef C_SENTINEL_SUPERVISOR_H
#define C_SENTINEL_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

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

/// `process_vm_writev` of one range: writes `length` bytes to `address` in process `pid` (the
/// per-message byte counts `sendmmsg` reports, when the supervisor sent on the caller's behalf).
/// Returns the number of bytes written or a negative errno.
long sentinel_supervisor_write_memory(pid_t pid, uint64_t address, const void *buffer, unsigned long length);

/// `tgkill(tgid, tid, signal)` (glibc 2.30 declares it only with _GNU_SOURCE): the SIGPIPE a
/// send made on the thread's behalf would have raised in it. Returns 0 or a negative errno.
int sentinel_supervisor_tgkill(pid_t tgid, pid_t tid, int signal);

/// The file system type of the file open at `fd` (`fstatfs`'s `f_type`: 0x9fa0 for procfs), or
/// a negative errno. (`sys/statfs.h` is not part of the Glibc module Swift imports.)
long sentinel_supervisor_fs_type(int fd);

/// `renameat2(olddirfd, oldpath, newdirfd, newpath, flags)` (glibc 2.28 declares it only with
/// _GNU_SOURCE, which the Glibc module does not define). Returns 0 or a negative errno.
int sentinel_supervisor_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/// `pipe2(fds, O_CLOEXEC)` (a _GNU_SOURCE declaration). Returns 0 or a negative errno.
int sentinel_supervisor_cloexec_pipe(int fds[2]);

#endif
