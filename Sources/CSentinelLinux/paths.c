#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelPaths.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

const uint64_t sentinel_resolve_no_symlinks = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

// The kernel's __O_TMPFILE bit alone (asm-generic/fcntl.h, the same on x86-64 and arm64); glibc's
// __O_TMPFILE includes O_DIRECTORY.
#define KERNEL_O_TMPFILE_BIT 020000000

// Set once openat2 answered ENOSYS: the sandbox profiles refuse it that way (it carries its mode in
// memory a seccomp filter cannot read), as does a kernel before 5.6. Filters cannot be removed, so
// the answer holds for the life of the process; later calls go straight to the walk.
static int openat2_missing;

int sentinel_open_no_symlinks(int dirfd, const char *path, uint64_t flags, uint64_t mode);

int sentinel_openat2(int dirfd, const char *path, uint64_t flags, uint64_t resolve) {
    return sentinel_openat2_mode(dirfd, path, flags, 0, resolve);
}

int sentinel_openat2_mode(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    if (!__atomic_load_n(&openat2_missing, __ATOMIC_RELAXED)) {
        struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0 || errno != ENOSYS) return (int)fd;
        __atomic_store_n(&openat2_missing, 1, __ATOMIC_RELAXED);
    }
    // Only RESOLVE_NO_SYMLINKS (which implies NO_MAGICLINKS) has a walk below; any other
    // resolve flag cannot be honoured, so the call fails as openat2 did.
    if ((resolve & ~(uint64_t)(RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)) != 0 || !(resolve & RESOLVE_NO_SYMLINKS)) {
        errno = ENOSYS;
        return -1;
    }
    return sentinel_open_no_symlinks(dirfd, path, flags, mode);
}

// Whether `name` in `dir` is a symlink (what decides ELOOP after an ENOTDIR from O_DIRECTORY).
static int is_symlink(int dir, const char *name) {
    struct stat info;
    return fstatat(dir, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(info.st_mode);
}

// Opens directory `name` in `dir` without following it: O_PATH|O_DIRECTORY|O_NOFOLLOW answers
// ENOTDIR for a symlink (tested on 6.18), which RESOLVE_NO_SYMLINKS reports as ELOOP.
static int step_into(int dir, const char *name) {
    int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOTDIR && is_symlink(dir, name)) errno = ELOOP;
    return fd;
}

int sentinel_open_no_symlinks(int dirfd, const char *path, uint64_t flags, uint64_t mode) {
    // openat2's own argument checks (build_open_how in fs/open.c), so both ways refuse alike.
    if ((flags >> 32) != 0 || (mode & ~(uint64_t)07777) != 0
        || (mode != 0 && !(flags & (O_CREAT | KERNEL_O_TMPFILE_BIT)))) {
        errno = EINVAL;
        return -1;
    }
    size_t length = strlen(path);
    if (length == 0) { errno = ENOENT; return -1; }
    if (length >= PATH_MAX) { errno = ENAMETOOLONG; return -1; }
    char buffer[PATH_MAX];
    memcpy(buffer, path, length + 1);

    // `current` is the directory reached so far; it is ours to close unless it is `dirfd`.
    int current = dirfd;
    if (buffer[0] == '/') {
        current = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (current < 0) return -1;
    }
#define MOVE_TO(fd) do { if (current != dirfd) close(current); current = (fd); } while (0)
#define FAIL() do { int saved = errno; if (current != dirfd) close(current); errno = saved; return -1; } while (0)
    char *name = buffer;
    const char *last = ".";  // "/" alone opens the root itself, as openat2 does
    int trailing_slash = 0;
    for (;;) {
        while (*name == '/') name++;
        if (*name == '\0') break;
        char *end = name;
        while (*end != '\0' && *end != '/') end++;
        char *next = end;
        while (*next == '/') next++;
        if (*next == '\0') {  // the last component
            trailing_slash = *end == '/';
            *end = '\0';
            last = name;
            break;
        }
        *end = '\0';
        // `..` goes through the same lookup openat2 uses (follow_dotdot: the real parent, never
        // above the process's root); RESOLVE_NO_SYMLINKS does not restrict it.
        if (strcmp(name, ".") != 0) {
            int fd = step_into(current, name);
            if (fd < 0) FAIL();
            MOVE_TO(fd);
        }
        name = next;
    }
    int dots = strcmp(last, ".") == 0 || strcmp(last, "..") == 0;
    if (trailing_slash && !dots) {
        // A trailing slash makes the kernel follow the last component and require a directory;
        // with O_CREAT, openat2 answers EISDIR before looking it up (open_last_lookups).
        if (flags & O_CREAT) { errno = EISDIR; FAIL(); }
        int fd = step_into(current, last);
        if (fd < 0) FAIL();
        MOVE_TO(fd);
        last = ".";
        dots = 1;
    }
    int fd = openat(current, last, (int)flags | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0) {
        // O_DIRECTORY (or O_TMPFILE) with O_NOFOLLOW gives ENOTDIR for a symlink; the caller
        // asked to follow it, which RESOLVE_NO_SYMLINKS refuses with ELOOP.
        if (errno == ENOTDIR && !(flags & O_NOFOLLOW) && !dots && is_symlink(current, last)) errno = ELOOP;
        FAIL();
    }
    if ((flags & (O_PATH | O_NOFOLLOW)) == O_PATH) {
        // O_PATH|O_NOFOLLOW opens a symlink itself; only a caller that asked for O_NOFOLLOW
        // gets that from openat2.
        struct stat info;
        int code = fstat(fd, &info) != 0 ? errno : S_ISLNK(info.st_mode) ? ELOOP : 0;
        if (code != 0) {
            close(fd);
            errno = code;
            FAIL();
        }
    }
    if (current != dirfd) close(current);
    return fd;
#undef MOVE_TO
#undef FAIL
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
