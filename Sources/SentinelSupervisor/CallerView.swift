import CSentinelLinux
import Glibc
import SentinelPolicy

/// An open file found the way the kernel finds it for the calling thread: its root, its working
/// directory or its descriptor as the starting point, `/proc/self` and `/proc/thread-self` as
/// *its* process and thread, `/proc/<pid>/fd/N` and the other magic links followed by the kernel
/// (never by their text, which a program can forge by naming a file `tool (deleted)`).
///
/// The result is an `O_PATH` descriptor: what the supervisor decides is the file it refers to
/// (device and inode), not a name.
struct CallerFile: ~Copyable {
    /// The `O_PATH` descriptor (owned).
    let descriptor: Int32
    /// `fstat` of it.
    let status: stat

    /// The file's device and inode.
    var identity: FileIdentity { FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino)) }

    /// Whether it is a regular file.
    var isRegularFile: Bool { status.st_mode & S_IFMT == S_IFREG }

    deinit { close(descriptor) }

    /// Hands the descriptor to an ``OwnedDescriptor``, for the action a decision allows (it may
    /// run later, on another thread): the file decided on stays open until then, whatever its
    /// name leads to meanwhile.
    consuming func owned() -> OwnedDescriptor {
        let descriptor = self.descriptor
        discard self
        return OwnedDescriptor(descriptor)
    }

    /// The canonical path that leads to this very file now, or nil when none does: the kernel's
    /// name for it (`/proc/self/fd/N`) is text, which names another file when this one was
    /// deleted (`… (deleted)`) or moved, so the name is accepted only if looking it up finds
    /// the same device and inode.
    func canonicalPath() -> String? {
        var buffer = [CChar](repeating: 0, count: TargetProcess.pathLimit + 1)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, TargetProcess.pathLimit)
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard path.hasPrefix("/") else { return nil }
        // No symlink may be followed: the kernel's name of a file holds none.
        let probe = sentinel_supervisor_openat2(
            AT_FDCWD, path, UInt64(UInt32(bitPattern: Int32(SENTINEL_O_PATH) | O_CLOEXEC)), 0, sentinel_resolve_no_symlinks)
        guard probe >= 0 else { return nil }
        defer { close(probe) }
        var info = stat()
        guard fstat(probe, &info) == 0, info.st_dev == status.st_dev, info.st_ino == status.st_ino else { return nil }
        return path
    }

    /// Reads up to `count` bytes from the start of the file (a `#!` line), through a new
    /// read-only open of this very file.
    func prefix(_ count: Int) -> [UInt8]? {
        let fd = open("/proc/self/fd/\(descriptor)", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = pread(fd, &buffer, count, 0)
        guard got >= 0 else { return nil }
        return Array(buffer[0..<got])
    }

    /// Whether the calling process could execute it (our credentials are its credentials: the
    /// filter refuses every call that changes them).
    var isExecutable: Bool {
        access("/proc/self/fd/\(descriptor)", X_OK) == 0
    }
}

/// Opens paths in the calling thread's view (see ``CallerFile``).
enum CallerView {
    /// procfs's magic number (`PROC_SUPER_MAGIC`).
    static let procfsMagic = 0x9fa0

    /// Opens `path` as thread `tid` (of process `tgid`) would, relative to `dirfd` (`AT_FDCWD`: its
    /// working directory), following a final symlink unless `followFinal` is false. Throws the
    /// errno the lookup met (ENOENT, ENOTDIR, ELOOP, EACCES…).
    ///
    /// `reaches` says which process directories under `/proc` the walk may enter (the guarded
    /// tree): the supervisor looks up with its own credentials, and it must not reach what the
    /// caller could not, such as its own non-dumpable `/proc/<supervisor>/fd/N` (EACCES).
    static func open(
        _ path: String, dirfd: Int32, tid: Int32, tgid: Int32, followFinal: Bool = true,
        reaches: (Int32) -> Bool
    ) throws(Errno) -> CallerFile {
        let start: String
        if path.hasPrefix("/") {
            start = "/proc/\(tid)/root"
        } else if dirfd == AT_FDCWD {
            start = "/proc/\(tid)/cwd"
        } else {
            start = "/proc/\(tgid)/fd/\(dirfd)"
        }
        // Following the magic link gives the object itself, whatever its name.
        var current = Glibc.open(start, Int32(SENTINEL_O_PATH) | O_CLOEXEC)
        guard current >= 0 else { throw Errno(Glibc.errno) }
        if path.isEmpty {
            return try file(current)
        }
        var pending = path.split(separator: "/", omittingEmptySubsequences: true).reversed().map(String.init)
        var links = 0
        var knownInode: UInt64?
        while let component = pending.popLast() {
            let isLast = pending.isEmpty
            if component == "." { continue }
            if component == ".." {
                try step(&current) { openat($0, "..", Int32(SENTINEL_O_PATH) | O_DIRECTORY | O_CLOEXEC) }
                knownInode = nil
                continue
            }
            // The inode of the directory just entered is known from its fstat: only an inode 1 can
            // be procfs's root, so most components cost no extra system call here.
            if knownInode.map({ $0 == 1 }) ?? true, isProcRoot(current) {
                if component == "self" || component == "thread-self" {
                    let replacement = component == "self" ? "\(tgid)" : "\(tgid)/task/\(tid)"
                    pending.append(contentsOf: replacement.split(separator: "/").reversed().map(String.init))
                    continue
                }
                if let process = Int32(component), !reaches(process) {
                    close(current)
                    throw Errno(EACCES)
                }
            }
            let next = openat(current, component, Int32(SENTINEL_O_PATH) | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else {
                let code = Glibc.errno
                close(current)
                throw Errno(code)
            }
            var info = stat()
            guard fstat(next, &info) == 0 else {
                let code = Glibc.errno
                close(next)
                close(current)
                throw Errno(code)
            }
            guard info.st_mode & S_IFMT == S_IFLNK, !isLast || followFinal else {
                close(current)
                current = next
                knownInode = UInt64(info.st_ino)
                continue
            }
            knownInode = nil
            links += 1
            guard links <= 40 else {
                close(next)
                close(current)
                throw Errno(ELOOP)
            }
            if isProcfs(current), !isProcRoot(current) {
                // Inside /proc/<pid>/: a magic link (fd/N, cwd, root, exe, ns/…). Its text may be
                // `pipe:[…]` or `/x (deleted)`: only the kernel can follow it to the object.
                close(next)
                try step(&current) { openat($0, component, Int32(SENTINEL_O_PATH) | O_CLOEXEC) }
                continue
            }
            let target = readLink(next)
            close(next)
            guard let target, !target.isEmpty else {
                close(current)
                throw Errno(ENOENT)
            }
            if target.hasPrefix("/") {
                let root = Glibc.open("/proc/\(tid)/root", Int32(SENTINEL_O_PATH) | O_CLOEXEC)
                guard root >= 0 else {
                    let code = Glibc.errno
                    close(current)
                    throw Errno(code)
                }
                close(current)
                current = root
            }
            pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).reversed().map(String.init))
        }
        return try file(current)
    }

    /// Replaces `current` with what `body` opens from it (closing the old one), or throws.
    private static func step(_ current: inout Int32, _ body: (Int32) -> Int32) throws(Errno) {
        let next = body(current)
        let code = Glibc.errno
        close(current)
        current = next
        guard next >= 0 else { throw Errno(code) }
    }

    private static func file(_ descriptor: Int32) throws(Errno) -> CallerFile {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = Glibc.errno
            close(descriptor)
            throw Errno(code)
        }
        return CallerFile(descriptor: descriptor, status: info)
    }

    private static func isProcfs(_ descriptor: Int32) -> Bool {
        sentinel_supervisor_fs_type(descriptor) == procfsMagic
    }

    /// Whether `descriptor` is the root of a procfs (inode 1), the one directory that holds
    /// `self` and `thread-self`.
    private static func isProcRoot(_ descriptor: Int32) -> Bool {
        var info = stat()
        return fstat(descriptor, &info) == 0 && info.st_ino == 1 && isProcfs(descriptor)
    }

    /// The text of the symlink open as `O_PATH|O_NOFOLLOW` at `descriptor`.
    private static func readLink(_ descriptor: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: TargetProcess.pathLimit + 1)
        let length = readlinkat(descriptor, "", &buffer, TargetProcess.pathLimit)
        guard length >= 0 else { return nil }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An errno from a lookup.
struct Errno: Error, Sendable, Hashable {
    /// The value.
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
