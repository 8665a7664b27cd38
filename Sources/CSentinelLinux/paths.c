#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelPaths.h"
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

const uint64_t sentinel_resolve_no_symlinks = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

int sentinel_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = 0, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int sentinel_openat2_mode(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int sentinel_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int sentinel_file_identity(int dirfd, const char *name, int flags, struct sentinel_file_identity *out) {
    struct statx info;
    if (statx(dirfd, name, flags, STATX_TYPE | STATX_INO | STATX_SIZE, &info) != 0) return -1;
    out->device = ((uint64_t)info.stx_dev_major << 32) | info.stx_dev_minor;
    out->inode = info.stx_ino;
    out->size = (int64_t)info.stx_size;
    out->mode = info.stx_mode;
    return 0;
}
