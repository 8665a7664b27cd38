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
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

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

long sentinel_supervisor_write_memory(pid_t pid, uint64_t address, const void *buffer, unsigned long length) {
    struct iovec local = {(void *)buffer, length};
    struct iovec remote = {(void *)(uintptr_t)address, length};
    ssize_t result = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    return result < 0 ? -errno : (long)result;
}

int sentinel_supervisor_tgkill(pid_t tgid, pid_t tid, int signal) {
    return tgkill(tgid, tid, signal) == 0 ? 0 : -errno;
}

long sentinel_supervisor_fs_type(int fd) {
    struct statfs info;
    return fstatfs(fd, &info) == 0 ? (long)info.f_type : -errno;
}

int sentinel_supervisor_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags) == 0 ? 0 : -errno;
}

int sentinel_supervisor_cloexec_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}
