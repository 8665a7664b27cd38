// Path resolution syscalls for the policy engine.
#ifndef C_SENTINEL_PATHS_H
#define C_SENTINEL_PATHS_H

#include <stdint.h>

/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS for `sentinel_openat2` (linux/openat2.h, 5.6).
extern const uint64_t sentinel_resolve_no_symlinks;

/// `openat2(dirfd, path, &{flags, 0, resolve}, sizeof)`: glibc 2.36 has no wrapper and Swift
/// cannot call the variadic `syscall`. Returns the descriptor, or -1 with errno set (ELOOP when
/// `resolve` forbids a symlink the path crosses). When openat2 answers ENOSYS (Sentinel's own
/// seccomp profiles refuse it that way, and `sentinel guard` runs under them in a container; or
/// Linux before 5.6), `resolve` = `sentinel_resolve_no_symlinks` is served by
/// `sentinel_open_no_symlinks`; any other `resolve` still fails with ENOSYS.
int sentinel_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve);

/// `sentinel_openat2` with a creation mode (for O_CREAT): compatibility mode opens the exact
/// canonical path it checked, refusing any symlink swapped in after the check.
int sentinel_openat2_mode(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// What `openat2(dirfd, path, &{flags, mode, RESOLVE_NO_SYMLINKS})` does, with `openat` alone:
/// every directory component is opened with O_PATH|O_DIRECTORY|O_NOFOLLOW from the one before
/// (`.` and empty components skipped, `..` looked up by the kernel as openat2 would), the last
/// with `flags | O_NOFOLLOW`; a symlink anywhere (one the caller's O_PATH|O_NOFOLLOW asks for at
/// the end excepted) fails with ELOOP. Each step holds the directory it came from, so a symlink
/// swapped in later is never followed. Public so tests can compare it with openat2 directly.
int sentinel_open_no_symlinks(int dirfd, const char *path, uint64_t flags, uint64_t mode);

/// Which file a name (or descriptor) refers to, and its size: what the audit writer checks before
/// each append.
struct sentinel_file_identity {
    /// The device, `major << 32 | minor`.
    uint64_t device;
    uint64_t inode;
    int64_t size;
    /// The file type and permission bits (`st_mode`).
    uint32_t mode;
};

/// `statx(dirfd, name, flags, STATX_TYPE | STATX_INO | STATX_SIZE)` into `out`; 0, or -1 with
/// errno set. It asks for no times on purpose: since Linux 6.13 (multigrain timestamps) a stat
/// that returns a file's modification or change time makes the next write to that file store a
/// fine-grained time, which on ext4 is a journalled inode update (12 % of an audit append). glibc's
/// `statx` is hidden from Swift by _GNU_SOURCE.
int sentinel_file_identity(int dirfd, const char *name, int flags, struct sentinel_file_identity *out);

#include <spawn.h>

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34), hidden from Swift by _GNU_SOURCE:
/// a child spawned from a multithreaded process inherits no descriptor above `from`.
int sentinel_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
