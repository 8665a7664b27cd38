// The workload of SetIDEscapeTests, a small C program compiled by the test (`cc -static`, so the
// same binary runs in the native sandbox and in the Docker image): it tries every system call
// that can leave a set-user-id or set-group-id file, or file capabilities, in the directory it is
// given (the workspace, which is the host's). Each call goes through syscall() with the number
// itself, so no libc wrapper can change the arguments or fall back to another call. It prints one
// line per attempt, `<name> <result> <errno>`; the test reads them, then looks at the files from
// the host.

import Foundation
import SentinelTestSupport
import Testing

enum SetIDAttacker {
    /// Every attempt the program makes, by the name it prints (x86-64: the legacy calls too).
    static let attempts: [String] = {
        var names = ["fchmod", "fchmodat", "fchmodat2", "openat", "openat-tmpfile", "mkdirat", "mknodat", "openat2"]
        #if arch(x86_64)
        names += ["chmod", "open", "creat", "mkdir", "mknod"]
        #endif
        return names
    }()

    /// Calls the rules must let through, each of which must succeed.
    static let allowed: [String] = {
        var names = ["ok-openat-read", "ok-openat-create", "ok-fchmod", "ok-mkdirat-sticky"]
        #if arch(x86_64)
        names.append("ok-open-read")
        #endif
        return names
    }()

    /// The extended-attribute attempts, which the kernel refuses on its own (they need CAP_SETFCAP
    /// or CAP_SYS_ADMIN, and the workload holds no capability in any user namespace).
    static let xattrAttempts = ["setxattr-capability", "setxattr-security", "setxattr-trusted", "fsetxattr-capability"]

    /// Compiles the program to `path` (statically linked).
    static func build(at path: String) throws {
        let source = path + ".c"
        try Self.source.write(toFile: source, atomically: false, encoding: .utf8)
        let compiled = try ChildProcess.run("/usr/bin/env", ["cc", "-static", "-O1", "-o", path, source], timeout: 120)
        try #require(compiled.status == 0, "cc -static failed: \(compiled.stderr)")
        try FileManager.default.removeItem(atPath: source)
    }

    /// `<name> <result> <errno>` lines, by name.
    static func results(_ output: String) -> [String: (result: Int, errno: Int32)] {
        var results: [String: (result: Int, errno: Int32)] = [:]
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let result = Int(fields[1]), let code = Int32(fields[2]) else { continue }
            results[String(fields[0])] = (result, code)
        }
        return results
    }

    static let source = #"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static char directory[512];

static const char *at(const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    return path;
}

static void report(const char *name, long result) {
    printf("%s %ld %d\n", name, result, result < 0 ? errno : 0);
    fflush(stdout);
}

// A plain 0644 file to change the mode of.
static int plain(const char *name) {
    return (int)syscall(SYS_openat, AT_FDCWD, at(name), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: setid-attacker DIRECTORY\n");
        return 2;
    }
    snprintf(directory, sizeof directory, "%s", argv[1]);
    umask(0);
    const long setid = 06755;
    int fd;

#ifdef SYS_chmod
    fd = plain("chmod");
    if (fd >= 0) close(fd);
    report("chmod", syscall(SYS_chmod, at("chmod"), setid));
#endif
    fd = plain("fchmod");
    report("fchmod", fd < 0 ? fd : syscall(SYS_fchmod, fd, setid));
    if (fd >= 0) close(fd);
    fd = plain("fchmodat");
    if (fd >= 0) close(fd);
    report("fchmodat", syscall(SYS_fchmodat, AT_FDCWD, at("fchmodat"), setid));
    fd = plain("fchmodat2");
    if (fd >= 0) close(fd);
    report("fchmodat2", syscall(SYS_fchmodat2, AT_FDCWD, at("fchmodat2"), setid, 0));
#ifdef SYS_open
    fd = (int)syscall(SYS_open, at("open"), O_WRONLY | O_CREAT | O_CLOEXEC, setid);
    report("open", fd);
    if (fd >= 0) close(fd);
#endif
    fd = (int)syscall(SYS_openat, AT_FDCWD, at("openat"), O_WRONLY | O_CREAT | O_CLOEXEC, setid);
    report("openat", fd);
    if (fd >= 0) close(fd);
#ifdef SYS_creat
    fd = (int)syscall(SYS_creat, at("creat"), setid);
    report("creat", fd);
    if (fd >= 0) close(fd);
#endif
    // An unnamed file, then a name for it (linkat through /proc, which needs no capability).
    fd = (int)syscall(SYS_openat, AT_FDCWD, directory, O_RDWR | O_TMPFILE | O_CLOEXEC, setid);
    if (fd >= 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        report("openat-tmpfile", syscall(SYS_linkat, AT_FDCWD, proc, AT_FDCWD, at("openat-tmpfile"), AT_SYMLINK_FOLLOW));
        close(fd);
    } else {
        report("openat-tmpfile", fd);
    }
#ifdef SYS_mkdir
    report("mkdir", syscall(SYS_mkdir, at("mkdir"), 07777L));
#endif
    report("mkdirat", syscall(SYS_mkdirat, AT_FDCWD, at("mkdirat"), 07777L));
#ifdef SYS_mknod
    report("mknod", syscall(SYS_mknod, at("mknod"), (long)(S_IFREG | 06755), 0L));
#endif
    report("mknodat", syscall(SYS_mknodat, AT_FDCWD, at("mknodat"), (long)(S_IFREG | 06755), 0L));
    struct open_how how = {.flags = O_WRONLY | O_CREAT | O_CLOEXEC, .mode = 06755, .resolve = 0};
    fd = (int)syscall(SYS_openat2, AT_FDCWD, at("openat2"), &how, sizeof how);
    report("openat2", fd);
    if (fd >= 0) close(fd);

    // File capabilities: a version-2 security.capability (magic_etc VFS_CAP_REVISION_2 with the
    // effective flag, then permitted and inheritable, two 32-bit words each) granting
    // CAP_SETUID, CAP_SETGID and CAP_SYS_ADMIN; then the other namespaces the host honours.
    uint32_t capability[5] = {0x02000001, (1u << 6) | (1u << 7) | (1u << 21), 0, 0, 0};
    const struct { const char *name; const char *attribute; } xattrs[] = {
        {"setxattr-capability", "security.capability"},
        {"setxattr-security", "security.sentinel"},
        {"setxattr-trusted", "trusted.sentinel"},
    };
    for (size_t index = 0; index < sizeof xattrs / sizeof xattrs[0]; index++) {
        fd = (int)syscall(SYS_openat, AT_FDCWD, at(xattrs[index].name), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        if (fd >= 0) close(fd);
        report(xattrs[index].name,
               syscall(SYS_setxattr, at(xattrs[index].name), xattrs[index].attribute, capability, sizeof capability, 0));
    }
    // What the rules must still let through: a plain open whatever its mode register holds (the
    // kernel ignores the mode without O_CREAT or O_TMPFILE, and not every runtime zeroes it), a
    // file created with an ordinary mode, a sticky directory, a mode change without set-id bits.
    const long garbage = (long)0xffffffffffff6fffUL;
    fd = (int)syscall(SYS_openat, AT_FDCWD, directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, garbage);
    report("ok-openat-read", fd);
    if (fd >= 0) close(fd);
#ifdef SYS_open
    fd = (int)syscall(SYS_open, directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC, garbage);
    report("ok-open-read", fd);
    if (fd >= 0) close(fd);
#endif
    fd = (int)syscall(SYS_openat, AT_FDCWD, at("ok-openat-create"), O_WRONLY | O_CREAT | O_CLOEXEC, 0640L);
    report("ok-openat-create", fd);
    report("ok-fchmod", fd < 0 ? fd : syscall(SYS_fchmod, fd, 0750L));
    if (fd >= 0) close(fd);
    report("ok-mkdirat-sticky", syscall(SYS_mkdirat, AT_FDCWD, at("ok-mkdirat-sticky"), 01777L));

    fd = plain("fsetxattr-capability");
    report("fsetxattr-capability", fd < 0 ? fd : syscall(SYS_fsetxattr, fd, "security.capability", capability, sizeof capability, 0));
    if (fd >= 0) close(fd);
    return 0;
}
"""#
}
