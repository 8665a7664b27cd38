// The one file of syscall wrappers: each retries EINTR where the call can be interrupted and
// throws `Errno`, so the stage code reads as a list of steps. Raw calls that Glibc does not
// expose come from CSentinelLinux.

import CSentinelLinux
import Glibc

enum Sys {
    /// Runs `body` until it does not fail with EINTR; throws the errno of any other failure.
    @discardableResult
    static func check<T: BinaryInteger>(_ body: () -> T) throws(Errno) -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let error = Errno.current
            if error.rawValue != EINTR { throw error }
        }
    }

    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws(Errno) -> Int32 {
        try check { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Writes all of `bytes`.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(Errno) {
        var offset = 0
        while offset < bytes.count {
            let written = try check {
                bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            }
            offset += written
        }
    }

    /// Reads exactly `count` bytes; returns nil at EOF before the first byte.
    static func readExactly(_ fd: Int32, _ count: Int) throws(Errno) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = try check {
                buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, count - offset) }
            }
            if n == 0 {
                if offset == 0 { return nil }
                throw Errno(EPIPE)
            }
            offset += n
        }
        return buffer
    }

    /// Reads a whole small file (procfs, sysfs, cgroupfs).
    static func readFile(_ path: String, limit: Int = 1 << 20) throws(Errno) -> String {
        let fd = try open(path, O_RDONLY)
        defer { close(fd) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let n = try check { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) } }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Writes a small file in one `write` (procfs and cgroupfs files need a single write).
    static func writeFile(_ path: String, _ text: String) throws(Errno) {
        let fd = try open(path, O_WRONLY)
        defer { close(fd) }
        try writeAll(fd, Array(text.utf8))
    }

    static func mount(
        _ source: String?, _ target: String, _ type: String?, _ flags: Int, _ data: String? = nil
    ) throws(Errno) {
        try check { Glibc.mount(source, target, type, UInt(flags), data) }
    }

    static func mkdir(_ path: String, _ mode: mode_t = 0o755) throws(Errno) {
        if Glibc.mkdir(path, mode) < 0, Glibc.errno != EEXIST { throw Errno.current }
    }

    /// Creates an empty file to serve as a mount point.
    static func touch(_ path: String, _ mode: mode_t = 0o644) throws(Errno) {
        close(try open(path, O_WRONLY | O_CREAT | O_NOFOLLOW, mode))
    }

    static func symlink(_ target: String, _ path: String) throws(Errno) {
        try check { Glibc.symlink(target, path) }
    }

    /// `lstat`'s file type bits, or nil when the path does not exist.
    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// `stat` (following symlinks).
    static func statPath(_ path: String) throws(Errno) -> Glibc.stat {
        var info = Glibc.stat()
        try check { fstatat(AT_FDCWD, path, &info, 0) }
        return info
    }

    static func readlink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = Glibc.readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func pipe() throws(Errno) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        try check { sentinel_pipe_cloexec(&fds) }
        return (fds[0], fds[1])
    }

    static func fork() throws(Errno) -> pid_t {
        try check { Glibc.fork() }
    }

    /// `waitpid` that retries EINTR.
    static func wait(_ pid: pid_t, _ options: Int32 = 0) throws(Errno) -> (pid: pid_t, status: Int32) {
        var status: Int32 = 0
        let result = try check { Glibc.waitpid(pid, &status, options) }
        return (result, status)
    }
}

/// Decodes a raw wait status.
enum WaitStatus {
    case exited(Int32)
    case signaled(Int32)

    init(raw: Int32) {
        // The <sys/wait.h> macros are function-like and do not import; these are their
        // definitions for Linux.
        let termsig = raw & 0x7f
        if termsig == 0 {
            self = .exited((raw >> 8) & 0xff)
        } else {
            self = .signaled(termsig)
        }
    }

    /// The shell convention: the code, or 128 + the signal.
    var shellStatus: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}
