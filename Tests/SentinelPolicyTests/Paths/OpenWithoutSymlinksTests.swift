// The walk that stands in for openat2(RESOLVE_NO_SYMLINKS) where openat2 answers ENOSYS (Sentinel's
// own seccomp profiles refuse it, and `sentinel guard` runs under them in a container), compared
// with openat2 itself on the same inputs: the same descriptor, or the same errno.

import CSentinelLinux
import Foundation
import Glibc
import Testing

/// One open: a path (relative to the tree, or absolute when it starts with `/`), flags and mode.
struct OpenCase: CustomTestStringConvertible, Sendable {
    var path: String
    var flags: Int32
    var mode: UInt32 = 0
    /// What both must answer: nil for a descriptor, else the errno. Written down so that the
    /// comparison cannot pass because both sides broke the same way.
    var expected: Int32?

    var testDescription: String { "\(path) flags 0o\(String(flags, radix: 8)) mode 0o\(String(mode, radix: 8))" }
}

@Suite("openat2(RESOLVE_NO_SYMLINKS) and the openat walk agree")
struct OpenWithoutSymlinksTests {
    static let tmpfile = Int32(0o20_000_000) | O_DIRECTORY
    static let oPath = Int32(SENTINEL_O_PATH)

    /// The tree: dir/file, dir/sub/inner, link_dir -> dir, link_file -> dir/file,
    /// dangling -> nowhere, dir/link_up -> .. (a symlink at the end of a longer path).
    static let cases: [OpenCase] = [
        OpenCase(path: "dir/file", flags: O_RDONLY),
        OpenCase(path: "dir/sub/inner", flags: O_RDONLY),
        OpenCase(path: "./dir//sub/./inner", flags: O_RDONLY),
        OpenCase(path: "dir/sub/../file", flags: O_RDONLY),
        OpenCase(path: "dir/sub/..", flags: oPath | O_DIRECTORY),
        OpenCase(path: "..", flags: oPath | O_DIRECTORY),
        OpenCase(path: ".", flags: oPath),
        OpenCase(path: "/", flags: oPath | O_DIRECTORY),
        OpenCase(path: "dir/", flags: O_RDONLY | O_DIRECTORY),
        // A symlink in the middle of the path.
        OpenCase(path: "link_dir/file", flags: O_RDONLY, expected: ELOOP),
        OpenCase(path: "link_dir/sub/inner", flags: oPath, expected: ELOOP),
        OpenCase(path: "link_dir/", flags: O_RDONLY, expected: ELOOP),
        OpenCase(path: "/proc/self/status", flags: O_RDONLY, expected: ELOOP),
        // A symlink at the end.
        OpenCase(path: "link_file", flags: O_RDONLY, expected: ELOOP),
        OpenCase(path: "dir/link_up", flags: O_RDONLY, expected: ELOOP),
        OpenCase(path: "link_file", flags: O_RDONLY | O_NOFOLLOW, expected: ELOOP),
        OpenCase(path: "link_file", flags: oPath, expected: ELOOP),
        OpenCase(path: "link_file", flags: oPath | O_NOFOLLOW),  // the link itself, as openat2 gives it
        OpenCase(path: "link_dir", flags: O_RDONLY | O_DIRECTORY, expected: ELOOP),
        OpenCase(path: "link_dir", flags: oPath | O_DIRECTORY, expected: ELOOP),
        OpenCase(path: "link_dir", flags: oPath | O_DIRECTORY | O_NOFOLLOW, expected: ENOTDIR),
        OpenCase(path: "dangling", flags: O_WRONLY | O_CREAT, mode: 0o600, expected: ELOOP),
        OpenCase(path: "dangling", flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, expected: EEXIST),
        OpenCase(path: "link_dir", flags: O_RDWR | tmpfile, mode: 0o600, expected: ELOOP),
        OpenCase(path: "/proc/self/fd/0", flags: oPath | O_NOFOLLOW, expected: ELOOP),
        // Missing components and non-directories.
        OpenCase(path: "dir/missing", flags: O_RDONLY, expected: ENOENT),
        OpenCase(path: "missing/inner", flags: O_RDONLY, expected: ENOENT),
        OpenCase(path: "dir/file/inner", flags: O_RDONLY, expected: ENOTDIR),
        OpenCase(path: "dir/file/", flags: O_RDONLY, expected: ENOTDIR),
        OpenCase(path: "dir/file", flags: O_RDONLY | O_DIRECTORY, expected: ENOTDIR),
        OpenCase(path: "", flags: O_RDONLY, expected: ENOENT),
        // Creating.
        OpenCase(path: "dir/new", flags: O_WRONLY | O_CREAT, mode: 0o640),
        OpenCase(path: "dir/file", flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o640, expected: EEXIST),
        OpenCase(path: "dir/", flags: O_WRONLY | O_CREAT, mode: 0o640, expected: EISDIR),
        OpenCase(path: "missing/", flags: O_WRONLY | O_CREAT, mode: 0o640, expected: EISDIR),
        OpenCase(path: ".", flags: O_WRONLY | O_CREAT, mode: 0o640, expected: EISDIR),
        OpenCase(path: "dir", flags: O_RDWR | tmpfile, mode: 0o600),
        // openat2's argument checks.
        OpenCase(path: "dir/file", flags: O_RDONLY, mode: 0o644, expected: EINVAL),
        OpenCase(path: "dir/new", flags: O_WRONLY | O_CREAT, mode: 0o10644, expected: EINVAL),
    ]

    /// Builds the tree in a fresh directory and returns its path.
    static func makeTree() throws -> String {
        var template = Array("/tmp/sentinel-nosymlinks-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) })
        try FileManager.default.createDirectory(atPath: base + "/dir/sub", withIntermediateDirectories: true)
        try Data("f".utf8).write(to: URL(fileURLWithPath: base + "/dir/file"))
        try Data("i".utf8).write(to: URL(fileURLWithPath: base + "/dir/sub/inner"))
        #expect(symlink("dir", base + "/link_dir") == 0)
        #expect(symlink("dir/file", base + "/link_file") == 0)
        #expect(symlink("nowhere", base + "/dangling") == 0)
        #expect(symlink("..", base + "/dir/link_up") == 0)
        return base
    }

    /// What one open gave: the file's identity and type, or the errno.
    enum Outcome: Equatable, CustomStringConvertible {
        case opened(device: UInt64, inode: UInt64, type: UInt32)
        case failed(Int32)

        var description: String {
            switch self {
            case .opened(let device, let inode, let type): "opened \(device):\(inode) type 0o\(String(type, radix: 8))"
            case .failed(let code): "failed: \(String(cString: strerror(code)))"
            }
        }

        /// The same outcome with the file's identity dropped (what an anonymous outcome holds).
        var withoutIdentity: Outcome {
            if case .opened(_, _, let type) = self { return .opened(device: 0, inode: 0, type: type) }
            return self
        }

        /// Closes `fd` after reading what it refers to. An O_TMPFILE file is new each time, so
        /// only its type is compared.
        init(_ fd: Int32, anonymous: Bool) {
            guard fd >= 0 else {
                self = .failed(errno)
                return
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                self = .failed(errno)
                return
            }
            self = .opened(
                device: anonymous ? 0 : UInt64(info.st_dev), inode: anonymous ? 0 : UInt64(info.st_ino),
                type: info.st_mode & S_IFMT)
        }
    }

    /// Each relative case once relative to a directory descriptor, once as an absolute path.
    static let inputs: [(OpenCase, Bool)] = cases.flatMap { open in
        open.path.hasPrefix("/") || open.path.isEmpty ? [(open, false)] : [(open, false), (open, true)]
    }

    @Test(arguments: inputs)
    func theWalkAnswersAsOpenat2Does(open: OpenCase, absolute: Bool) throws {
        let base = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let directory = Glibc.open(base, Self.oPath | O_DIRECTORY | O_CLOEXEC)
        try #require(directory >= 0)
        defer { close(directory) }
        let path = absolute ? base + "/" + open.path : open.path
        let dirfd = absolute ? -1 : directory
        let flags = UInt64(UInt32(bitPattern: open.flags | O_CLOEXEC))
        let anonymous = open.flags & Self.tmpfile == Self.tmpfile

        let kernel = Outcome(
            sentinel_openat2_mode(dirfd, path, flags, UInt64(open.mode), sentinel_resolve_no_symlinks), anonymous: anonymous)
        var kernelMode: mode_t?
        if open.flags & O_CREAT != 0, case .opened = kernel {
            var info = stat()
            if lstat(base + "/" + open.path, &info) == 0 { kernelMode = info.st_mode & 0o7777 }
            unlink(base + "/" + open.path)  // so the walk creates it again
        }
        let created = kernelMode != nil
        // A file created twice is two files: the second need not get the first one's inode back
        // (another test created a file in between on CI, 2026-12-07), so only the type is compared.
        let walk = Outcome(sentinel_open_no_symlinks(dirfd, path, flags, UInt64(open.mode)), anonymous: anonymous || created)
        let kernelAnswer = created ? kernel.withoutIdentity : kernel

        #expect(walk == kernelAnswer, "openat2 \(kernel), the walk \(walk)")
        if let expected = open.expected {
            #expect(kernel == .failed(expected), "openat2 did not answer as the table says: \(kernel)")
        } else {
            guard case .opened = kernel else {
                Issue.record("openat2 should have opened it: \(kernel)")
                return
            }
        }
        if let kernelMode {
            var info = stat()
            #expect(lstat(base + "/" + open.path, &info) == 0)
            #expect(info.st_mode & 0o7777 == kernelMode, "the walk created the file with another mode")
        }
    }

    /// A relative path needs a directory descriptor: a bad one gives openat2's errors.
    @Test(arguments: [(Int32(-1), EBADF), (Int32(0), ENOTDIR)])
    func aBadDirectoryDescriptor(dirfd: Int32, expected: Int32) throws {
        let fd = dirfd == 0 ? Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC) : dirfd
        defer { if fd >= 0 { close(fd) } }
        let flags = UInt64(UInt32(bitPattern: O_RDONLY | O_CLOEXEC))
        #expect(sentinel_open_no_symlinks(fd, "x", flags, 0) == -1)
        #expect(errno == expected)
        #expect(sentinel_openat2_mode(fd, "x", flags, 0, sentinel_resolve_no_symlinks) == -1)
        #expect(errno == expected)
    }
}
