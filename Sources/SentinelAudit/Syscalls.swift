// The system calls the audit writer and verifier make, each retrying EINTR and returning errno.
//
// Kept in one file so the I/O discipline is visible in one place: every descriptor is O_CLOEXEC
// (a guarded program spawned later must not inherit the log), the log's last path component is
// opened with O_NOFOLLOW (a symlink planted by an agent must not redirect root's appends), and a
// non-regular file is refused before it is written.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The text of an errno value (`strerror`).
func systemErrorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

// `flock` and `stat` name both a struct and a function in Glibc; a typed reference picks the function.
private let systemFlock: @convention(c) (Int32, Int32) -> Int32 = flock
private let systemStat: @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<stat>) -> Int32 = stat

/// System-call wrappers: `Result`-free, throwing the errno as an `Int32`.
enum Sys {
    struct Failure: Error {
        let errno: Int32
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws(Failure) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw Failure(errno: errno) }
        }
    }

    static func close(_ fd: Int32) {
        // close(2) must not be retried on EINTR on Linux: the descriptor is released either way.
        _ = Glibc.close(fd)
    }

    static func flock(_ fd: Int32, _ operation: Int32) throws(Failure) {
        while systemFlock(fd, operation) != 0 {
            if errno != EINTR { throw Failure(errno: errno) }
        }
    }

    static func fstat(_ fd: Int32) throws(Failure) -> stat {
        var info = stat()
        if Glibc.fstat(fd, &info) != 0 { throw Failure(errno: errno) }
        return info
    }

    /// `lstat`, or `nil` when the path does not exist.
    static func lstat(_ path: String) throws(Failure) -> stat? {
        var info = stat()
        if Glibc.lstat(path, &info) != 0 {
            if errno == ENOENT { return nil }
            throw Failure(errno: errno)
        }
        return info
    }

    /// `fstatat(directory, name, AT_SYMLINK_NOFOLLOW)` (`lstat` of one name in an open
    /// directory), or `nil` when the name does not exist. `name` is NUL-terminated.
    static func lstat(in directory: Int32, name: [CChar]) throws(Failure) -> stat? {
        var info = stat()
        let result = name.withUnsafeBufferPointer { Glibc.fstatat(directory, $0.baseAddress!, &info, AT_SYMLINK_NOFOLLOW) }
        if result != 0 {
            if errno == ENOENT { return nil }
            throw Failure(errno: errno)
        }
        return info
    }

    /// Writes all of `bytes` with as few `write(2)` calls as the kernel allows; returns how many
    /// bytes were written before an error, with the error.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> (written: Int, errno: Int32?) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return (done, n < 0 ? errno : EIO)
            }
        }
        return (done, nil)
    }

    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                throw Failure(errno: n < 0 ? errno : EIO)
            }
        }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at end of file.
    static func pread(_ fd: Int32, count: Int, at offset: Int64) throws(Failure) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = result.withUnsafeMutableBytes { buffer in
                Glibc.pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
            }
            if n > 0 {
                done += n
            } else if n == 0 {
                break
            } else if errno != EINTR {
                throw Failure(errno: errno)
            }
        }
        result.removeLast(count - done)
        return result
    }

    /// Maps the first `length` bytes of `fd` read-write and shared (the mapping sees and makes
    /// the same page-cache pages that `read(2)` and `write(2)` use).
    static func mapShared(_ fd: Int32, length: Int) throws(Failure) -> UnsafeMutableRawPointer {
        let address = Glibc.mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        // MAP_FAILED is `(void *)-1`, a macro Swift does not import.
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw Failure(errno: errno)
        }
        return address
    }

    /// An inotify instance (non-blocking, close-on-exec) reporting every name created, removed or
    /// renamed in the directory `directory` refers to, or `nil` when the kernel gives none (no
    /// inotify, the per-user limit of instances reached, no `/proc`): the caller then checks the
    /// name itself on every append.
    ///
    /// The watch is added through `/proc/self/fd/N`, so it is on the directory the descriptor
    /// holds even if the path was changed since.
    static func watchNames(inDirectory directory: Int32) -> Int32? {
        let instance = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if instance < 0 { return nil }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
        if inotify_add_watch(instance, "/proc/self/fd/\(directory)", mask) < 0 {
            _ = Glibc.close(instance)
            return nil
        }
        return instance
    }

    /// Whether the inotify instance `fd` reported anything since the last call (events, a queue
    /// overflow, or an error reading it), emptying its queue. Only "nothing to read" (`EAGAIN`)
    /// answers `false`, so every doubt sends the caller to its full check.
    static func drainEvents(_ fd: Int32) -> Bool {
        // Room for several events with names up to NAME_MAX (an event is 16 bytes plus its
        // name); a read returns only whole events, and EINVAL when the next does not fit.
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { buffer in
            var sawAny = false
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n > 0 {
                    sawAny = true
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return sawAny }
                // End of file (cannot happen on inotify) or any other error: treat as changed.
                return true
            }
        }
    }

    /// The size of the file `fd` is open on, from `lseek(SEEK_END)`: cheaper than `fstat`, and
    /// harmless on an `O_APPEND` descriptor, whose writes go to the end whatever the offset.
    static func endOfFile(_ fd: Int32) throws(Failure) -> Int64 {
        let end = Glibc.lseek(fd, 0, SEEK_END)
        if end < 0 { throw Failure(errno: errno) }
        return Int64(end)
    }

    static func unmap(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = Glibc.munmap(address, length)
    }

    /// Writes a shared mapping's dirty pages to the file and waits for the disk (`MS_SYNC`).
    static func msync(_ address: UnsafeMutableRawPointer, length: Int) throws(Failure) {
        while Glibc.msync(address, length, MS_SYNC) != 0 {
            if errno != EINTR { throw Failure(errno: errno) }
        }
    }

    static func ftruncate(_ fd: Int32, _ length: Int64) throws(Failure) {
        while Glibc.ftruncate(fd, off_t(length)) != 0 {
            if errno != EINTR { throw Failure(errno: errno) }
        }
    }

    static func fdatasync(_ fd: Int32) throws(Failure) {
        while Glibc.fdatasync(fd) != 0 {
            if errno != EINTR { throw Failure(errno: errno) }
        }
    }

    /// Creates `path` and its missing parents with mode 0700 (like `mkdir -p`).
    static func makeDirectories(_ path: String) throws(Failure) {
        if path.isEmpty || path == "/" || path == "." { return }
        var info = stat()
        if systemStat(path, &info) == 0 {
            if (info.st_mode & S_IFMT) == S_IFDIR { return }
            throw Failure(errno: ENOTDIR)
        }
        try makeDirectories(parentDirectory(of: path))
        if Glibc.mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw Failure(errno: errno)
        }
    }
}

/// The directory part of a path (`"."` for a bare name).
func parentDirectory(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
}

/// The last component of a path (`"audit.log"` for `/var/log/audit.log`), without trailing
/// slashes.
func lastComponent(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
    return String(trimmed[trimmed.index(after: slash)...])
}

/// Whether `info` describes a regular file.
func isRegularFile(_ info: stat) -> Bool {
    (info.st_mode & S_IFMT) == S_IFREG
}
