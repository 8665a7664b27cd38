// The system calls the audit writer and verifier make, each retrying EINTR and returning errno.
//
// Kept in one file so the I/O discipline is visible in one place: every descriptor is O_CLOEXEC
// (a guarded program spawned later must not inherit the log), the log's last path component is
// opened with O_NOFOLLOW (a symlink planted by an agent must not redirect root's appends), and a
// non-regular file is refused before it is written.

import CSentinelLinux

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

    /// Which file `name` in `directory` is (not following a final symlink), and its size, or `nil`
    /// when the name does not exist. `name` is NUL-terminated.
    ///
    /// `statx` asking for type, inode and size only, never the times: see
    /// `sentinel_file_identity` for why that matters to every following `write`.
    static func identity(in directory: Int32, name: [CChar]) throws(Failure) -> sentinel_file_identity? {
        var info = sentinel_file_identity()
        let result = name.withUnsafeBufferPointer {
            sentinel_file_identity(directory, $0.baseAddress!, AT_SYMLINK_NOFOLLOW, &info)
        }
        if result != 0 {
            if errno == ENOENT { return nil }
            throw Failure(errno: errno)
        }
        return info
    }

    /// Which file `fd` is open on, and its size (`statx` with `AT_EMPTY_PATH`, no times).
    static func identity(of fd: Int32) throws(Failure) -> sentinel_file_identity {
        var info = sentinel_file_identity()
        if sentinel_file_identity(fd, "", emptyPath, &info) != 0 { throw Failure(errno: errno) }
        return info
    }

    /// Linux's `AT_EMPTY_PATH`, which Swift's Glibc module (built without `_GNU_SOURCE`) does not
    /// export; the value is part of the kernel ABI.
    private static let emptyPath: Int32 = 0x1000

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
