#if canImport(Glibc)
import Glibc
#endif
import CSentinelLinux
import Synchronization

/// Why a path could not be resolved; any of these makes a path check deny.
public struct PathResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The path as given.
    public var path: String
    /// What went wrong.
    public var message: String
    /// The error of the `lstat` that failed, when a component could not be examined.
    public var errno: Int32? = nil

    /// One sentence.
    public var description: String { "Cannot resolve \(path): \(message)." }
}

/// A path reduced to the file it names, as the kernel would find it.
public struct ResolvedPath: Sendable, Hashable {
    /// The canonical absolute path: symlinks in the existing prefix followed, `.` and `..` folded,
    /// the part that does not exist yet appended lexically.
    public var canonical: String
    /// Whether the whole path exists.
    public var exists: Bool
    /// For an existing path: whether it is a regular file with more than one hard link.
    public var isHardLinkedFile: Bool
    /// When a `/proc/<pid>/fd/N` (or `/dev/fd/N`) link names something that is not a file path —
    /// a pipe, socket or anonymous inode the process already holds — its description
    /// (`pipe:[1234]`), and `canonical` is the link itself.
    public var openObject: String?
}

/// Resolves paths the way the kernel will when the file is opened, so a check decides on the file
/// that will really be touched (`..` after a symlink, `/proc/self/root/etc`, `/dev/fd/3`).
///
/// The existing prefix is resolved component by component with `lstat` and `readlink`; the first
/// missing component and everything after it are taken lexically (the original's non-strict
/// `Path.resolve()`, `original-system.md` §1.3). A process view (`processID`) makes `/proc/self`,
/// `/proc/thread-self` and `/dev/fd` mean *that* process, which is what a supervisor checking
/// another process's `open` needs; without one they mean the calling process.
///
/// What this cannot do alone: close the window between this check and the open (a racing thread
/// may swap a symlink). Callers that can, open on the checked path with `O_NOFOLLOW`-style walking
/// or apply Landlock as a second layer (`sentinel guard`, `sentinel-isolate`).
public enum PathResolver {
    /// The most symlinks followed in one resolution, as Linux's `MAXSYMLINKS` (40).
    static let maximumLinks = 40

    /// Resolves `path` against `workingDirectory` (used when `path` is relative).
    ///
    /// - Parameters:
    ///   - path: the path as the program gave it.
    ///   - workingDirectory: the absolute working directory of the process that will open it.
    ///   - processID: the process whose `/proc/self` and `/dev/fd` are meant, or `nil` for this one.
    /// - Throws: `PathResolutionError` for an empty path, a relative working directory, a symlink
    ///   loop, or a component that cannot be examined (permission): the caller must deny.
    public static func resolve(
        _ path: String, workingDirectory: String, processID: Int32? = nil
    ) throws(PathResolutionError) -> ResolvedPath {
        try resolve(path, workingDirectory: workingDirectory, processID: processID, countingLinks: true)
    }

    /// ``resolve(_:workingDirectory:processID:)``, optionally without learning the hard-link count.
    ///
    /// With `countingLinks` false, `isHardLinkedFile` may be false for a hard-linked file: the
    /// count only matters to writes, and a read of a path without symlinks then costs `openat2`
    /// and `close` (no `fstat`, a third of the system calls of a read decision).
    static func resolve(
        _ path: String, workingDirectory: String, processID: Int32?, countingLinks: Bool, symlinkFreeTier: Bool = true
    ) throws(PathResolutionError) -> ResolvedPath {
        guard !path.isEmpty else {
            throw PathResolutionError(path: path, message: "the path is empty")
        }
        guard !path.utf8.contains(0) else {
            throw PathResolutionError(path: path, message: "the path contains a NUL byte")
        }
        // When the path is meant for this process, the kernel itself can resolve it: one
        // open(O_PATH) walks every component (symlinks and /proc magic links included) exactly as
        // the real open will, and /proc/self/fd tells us where it landed. That is both the most
        // faithful and the fastest answer; anything unusual falls back to the walk below.
        let ownView = processID == nil || processID == getpid()
        // Another process's view matters only where a symlink or a /proc magic link is followed
        // (`/dev/stdout` → `/proc/self/fd/1`). An absolute path outside /proc that crosses no
        // symlink names the same file for every process sharing our root, so the symlink-free
        // tier answers it too: `sentinel guard`'s supervisor resolves `/dev/null`, opened for
        // every `subprocess.run(..., stdout=DEVNULL)`, without the component-by-component walk
        // (80 µs of each such open; issue 7). A symlink on the path fails that tier (ELOOP) and
        // the walk decides, in the process's view.
        let sameForEveryProcess = !ownView && path.utf8.first == slash && !isPath(path, within: "/proc")
        if symlinkFreeTier, ownView || sameForEveryProcess, let fastest = withSymlinkFreeResolution(
            path, workingDirectory: ownView ? workingDirectory : "/", countingLinks: countingLinks,
            { canonical, exists, hardLinked in
                ResolvedPath(
                    // The path as given when it already is the canonical one: no copy.
                    canonical: path.utf8.elementsEqual(canonical) ? path : String(decoding: canonical, as: UTF8.self),
                    exists: exists, isHardLinkedFile: hardLinked, openObject: nil)
            }) {
            return fastest
        }
        if ownView {
            let absolute = path.utf8.first == slash ? path : joined(workingDirectory, path)
            if absolute.utf8.first == slash, let fast = kernelResolve(absolute) { return fast }
        }
        return try walk(path, workingDirectory: workingDirectory, processID: processID)
    }

    /// Resolves component by component in user space (`lstat`, `readlink`), rewriting
    /// `/proc/self` to `processID`. Used for another process's view and when the kernel shortcut
    /// declines; tests compare both.
    static func walk(_ path: String, workingDirectory: String, processID: Int32?) throws(PathResolutionError) -> ResolvedPath {
        var pending: [Substring]
        if path.hasPrefix("/") {
            pending = path.split(separator: "/", omittingEmptySubsequences: true)
        } else {
            guard workingDirectory.hasPrefix("/") else {
                throw PathResolutionError(path: path, message: "the working directory \(workingDirectory) is not absolute")
            }
            pending = workingDirectory.split(separator: "/") + path.split(separator: "/")
        }
        // Components are consumed from the end of this reversed stack, so pushing a symlink's
        // target in front of the remaining components is an append.
        pending.reverse()

        var resolved: [Substring] = []
        // `prefix` is always "/" + resolved.joined("/") ("" for the root), kept incrementally
        // because building it per component dominated the cost of a check.
        var prefix = ""
        var missing = false
        var links = 0
        var lastStatus = stat()
        var lastExamined = false
        let ownProcess = processID.map { Substring(String($0)) }

        while let component = pending.popLast() {
            if component == "." { continue }
            if component == ".." {
                if resolved.popLast() != nil {
                    // Rebuilt rather than trimmed: String trims by Characters, and a component
                    // starting with a combining mark would merge with the "/" before it.
                    prefix = resolved.isEmpty ? "" : "/" + resolved.joined(separator: "/")
                }
                lastExamined = false
                continue
            }
            // `/proc/self` and `/proc/thread-self` are the *checked* process, not us.
            if let ownProcess, resolved.count == 1, resolved[0] == "proc", component == "self" || component == "thread-self" {
                resolved.append(ownProcess)
                prefix += "/" + ownProcess
                lastExamined = false
                continue
            }
            if missing {
                resolved.append(component)
                prefix += "/" + component
                continue
            }
            let candidate = prefix + "/" + component
            var status = stat()
            if lstat(candidate, &status) != 0 {
                let code = errno
                if code == ENOENT || code == ENOTDIR {
                    // Nothing exists from here on: the rest is taken lexically.
                    missing = true
                    resolved.append(component)
                    prefix = candidate
                    lastExamined = false
                    continue
                }
                throw PathResolutionError(
                    path: path, message: "\(candidate) cannot be examined (\(String(cString: strerror(code))))", errno: code)
            }
            if (status.st_mode & S_IFMT) == S_IFLNK {
                links += 1
                guard links <= maximumLinks else {
                    throw PathResolutionError(path: path, message: "too many levels of symbolic links")
                }
                let target = try readLink(candidate, for: path)
                if !target.hasPrefix("/") && isMagicLinkParent(resolved) {
                    // `/proc/<pid>/fd/N` of a pipe or socket: an object the process already holds.
                    if pending.isEmpty {
                        return ResolvedPath(canonical: candidate, exists: true, isHardLinkedFile: false, openObject: target)
                    }
                    throw PathResolutionError(path: path, message: "\(candidate) is \(target), not a directory")
                }
                if target.hasPrefix("/") {
                    resolved.removeAll()
                    prefix = ""
                }
                pending.append(contentsOf: target.split(separator: "/").reversed())
                lastExamined = false
                continue
            }
            resolved.append(component)
            prefix = candidate
            lastStatus = status
            lastExamined = true
        }

        let canonical = prefix.isEmpty ? "/" : prefix
        let isHardLinked = !missing && lastExamined && (lastStatus.st_mode & S_IFMT) == S_IFREG && lastStatus.st_nlink > 1
        return ResolvedPath(canonical: canonical, exists: !missing, isHardLinkedFile: isHardLinked, openObject: nil)
    }

    /// Whether `openat2` exists (Linux 5.6+); cleared on the first ENOSYS. An atomic rather than a
    /// `Mutex`: it is read on every path decision and written at most once.
    private static let hasOpenat2 = Atomic<Bool>(true)

    private static let slash = UInt8(ascii: "/")

    /// `directory + "/" + path` with one allocation (`a + "/" + b` makes an intermediate string).
    private static func joined(_ directory: String, _ path: String) -> String {
        var result = String()
        result.reserveCapacity(directory.utf8.count + 1 + path.utf8.count)
        result.append(directory)
        result.append("/")
        result.append(path)
        return result
    }

    /// The cheapest exact answer, for the common case of a path without symlinks: `openat2` with
    /// RESOLVE_NO_SYMLINKS succeeds only if no component (the last included) is a symlink or a
    /// magic link, and then the lexically normalised path *is* the canonical one, so the
    /// expensive `readlink` of `/proc/self/fd` is not needed. Calls `body` with the canonical
    /// path's bytes, whether it exists and (with `countingLinks`) whether it is a regular file with
    /// several hard links; returns `nil` (ask the next tier) for an empty or relative result, a NUL
    /// byte, a path with `..`, any symlink (ELOOP), or anything unusual.
    ///
    /// A path that does not exist costs that one failed `openat2` too. The kernel walks components
    /// left to right and stops at the first failure, and with RESOLVE_NO_SYMLINKS the first
    /// symlink met fails the walk with ELOOP (a dangling last component included: it is a symlink
    /// dentry, rejected before its target is looked up). So ENOENT or ENOTDIR means the walk met
    /// a missing component (or a non-directory used as one) *before any symlink*: every component
    /// before it exists and is not a link, and the rest is lexical — exactly what ``walk`` returns
    /// (it too takes ENOENT and ENOTDIR from `lstat` as "missing from here on"). `..` never
    /// reaches this point, so nothing after the missing component can climb back.
    ///
    /// The path is joined and normalised in a temporary buffer (on the stack for ordinary
    /// lengths) and handed to `body` as bytes, so a decision that needs no message allocates
    /// nothing: this runs for every file an agent touches.
    static func withSymlinkFreeResolution<Result>(
        _ path: String, workingDirectory: String, countingLinks: Bool,
        _ body: (_ canonical: UnsafeBufferPointer<UInt8>, _ exists: Bool, _ hardLinked: Bool) -> Result
    ) -> Result? {
        guard hasOpenat2.load(ordering: .relaxed) else { return nil }
        var path = path
        var directory = workingDirectory
        return path.withUTF8 { pathBytes -> Result? in
            guard let first = pathBytes.first else { return nil }
            let relative = first != slash
            return directory.withUTF8 { directoryBytes -> Result? in
                guard !relative || directoryBytes.first == slash else { return nil }
                let count = relative ? directoryBytes.count + 1 + pathBytes.count : pathBytes.count
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count + 1) { buffer -> Result? in
                    let base = buffer.baseAddress!
                    if relative {
                        base.initialize(from: directoryBytes.baseAddress!, count: directoryBytes.count)
                        base[directoryBytes.count] = slash
                        (base + directoryBytes.count + 1).initialize(from: pathBytes.baseAddress!, count: pathBytes.count)
                    } else {
                        base.initialize(from: pathBytes.baseAddress!, count: pathBytes.count)
                    }
                    guard let length = normalizeInPlace(base, count: count) else { return nil }
                    base[length] = 0
                    let fd = sentinel_openat2(AT_FDCWD, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self),
                                              UInt64(openPathOnly | O_CLOEXEC), sentinel_resolve_no_symlinks)
                    let canonical = UnsafeBufferPointer(start: base, count: length)
                    if fd >= 0 {
                        guard countingLinks else {
                            close(fd)
                            return body(canonical, true, false)
                        }
                        var status = stat()
                        let examined = fstat(fd, &status) == 0
                        close(fd)
                        guard examined else { return nil }
                        return body(canonical, true, (status.st_mode & S_IFMT) == S_IFREG && status.st_nlink > 1)
                    }
                    switch errno {
                    case ENOENT, ENOTDIR:
                        return body(canonical, false, false)
                    case ENOSYS:
                        hasOpenat2.store(false, ordering: .relaxed)
                        return nil
                    default:
                        // ELOOP (a symlink or magic link), EACCES, EXDEV…: the slower tiers decide.
                        return nil
                    }
                }
            }
        }
    }

    /// Normalises an absolute path in place, lexically: empty and `.` components are dropped, no
    /// trailing slash, `/` for the root. Returns the new length, or `nil` for a path that does not
    /// start with `/`, contains NUL, or has a `..` component (which folds lexically only if the
    /// component before it is not a symlink; the tiers that resolve symlinks decide those).
    static func normalizeInPlace(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) -> Int? {
        guard count > 0, bytes[0] == slash else { return nil }
        var read = 0
        var write = 0
        while read < count {
            // At a "/": skip the run of slashes, then take one component.
            while read < count, bytes[read] == slash { read += 1 }
            let start = read
            while read < count, bytes[read] != slash {
                if bytes[read] == 0 { return nil }
                read += 1
            }
            let length = read - start
            if length == 0 { break }
            if bytes[start] == UInt8(ascii: ".") {
                if length == 1 { continue }
                if length == 2, bytes[start + 1] == UInt8(ascii: ".") { return nil }
            }
            // `write` never passes `start`: each component written is one read, after a slash.
            bytes[write] = slash
            if write + 1 != start {
                (bytes + write + 1).update(from: bytes + start, count: length)
            }
            write += 1 + length
        }
        if write == 0 {
            bytes[0] = slash
            write = 1
        }
        return write
    }

    /// Linux's `O_PATH` (open for path operations only: no I/O, no device side effects). Glibc
    /// exposes it only under `_GNU_SOURCE`, which Swift's Glibc module is not built with, and the
    /// policy engine imports nothing of ours; the value is part of the kernel ABI.
    private static let openPathOnly: Int32 = 0o10_000_000

    /// Resolves an absolute path through the kernel, or returns `nil` to ask for the walk:
    /// for an existing path, `open(O_PATH)` then `readlink(/proc/self/fd/N)`; for a path whose
    /// last component does not exist (and is not a dangling symlink), the same for its directory.
    private static func kernelResolve(_ absolute: String) -> ResolvedPath? {
        let fd = open(absolute, openPathOnly | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            var status = stat()
            guard fstat(fd, &status) == 0, let target = descriptorPath(fd) else { return nil }
            if !target.hasPrefix("/") {
                return ResolvedPath(canonical: absolute, exists: true, isHardLinkedFile: false, openObject: target)
            }
            let hardLinked = (status.st_mode & S_IFMT) == S_IFREG && status.st_nlink > 1
            return ResolvedPath(canonical: target, exists: true, isHardLinkedFile: hardLinked, openObject: nil)
        }
        guard errno == ENOENT else { return nil }
        // The last component is missing. If it is a dangling symlink, a write would create its
        // target elsewhere: only the walk follows that correctly.
        var status = stat()
        guard lstat(absolute, &status) != 0, errno == ENOENT else { return nil }
        let bytes = absolute.utf8
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let last = absolute[absolute.index(after: slash)...]
        guard !last.isEmpty, last != ".", last != ".." else { return nil }
        let directory = slash == bytes.startIndex ? "/" : String(absolute[..<slash])
        let directoryFD = open(directory, openPathOnly | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { return nil }
        defer { close(directoryFD) }
        guard let parent = descriptorPath(directoryFD), parent.hasPrefix("/") else { return nil }
        return ResolvedPath(
            canonical: parent == "/" ? "/" + last : parent + "/" + last, exists: false, isHardLinkedFile: false, openObject: nil
        )
    }

    /// Where an open descriptor of this process points, from `/proc/self/fd/N`.
    private static func descriptorPath(_ fd: Int32) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { name in
            // "/proc/self/fd/<fd>" built in place: this runs on every path decision, and String
            // interpolation would allocate (snprintf is variadic and not callable from Swift).
            let prefix = "/proc/self/fd/".utf8
            var length = 0
            for byte in prefix {
                name[length] = CChar(bitPattern: byte)
                length += 1
            }
            var divisor: Int32 = 1
            while fd / divisor >= 10 { divisor *= 10 }
            while divisor > 0 {
                name[length] = CChar(48 + (fd / divisor) % 10)
                length += 1
                divisor /= 10
            }
            name[length] = 0
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(PATH_MAX)) { buffer in
                let count = buffer.withMemoryRebound(to: CChar.self) { readlink(name.baseAddress!, $0.baseAddress!, $0.count) }
                guard count > 0, count < buffer.count else { return nil }
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
            }
        }
    }

    /// Makes a policy entry absolute: `~` and `~/x` expand to `homeDirectory`, relative entries
    /// resolve against `baseDirectory`.
    public static func absolute(entry: String, baseDirectory: String, homeDirectory: String) -> String {
        if entry == "~" { return homeDirectory }
        if entry.hasPrefix("~/") { return homeDirectory + entry.dropFirst(1) }
        if entry.hasPrefix("/") { return entry }
        return baseDirectory + "/" + entry
    }

    /// Whether a path lies at or below a root, by whole components (`/a/bc` is not under `/a/b`).
    ///
    /// Compared as bytes, as the kernel compares names: `String.hasPrefix` compares by Unicode
    /// canonical equivalence, so a root spelt with a decomposed `é` would have "contained" a
    /// differently named directory spelt with the precomposed one.
    @inline(__always)
    public static func isPath(_ path: String, within root: String) -> Bool {
        if let answer = path.utf8.withContiguousStorageIfAvailable({ isPath($0, within: root) }) { return answer }
        let rootBytes = root.utf8
        let pathBytes = path.utf8
        if rootBytes.count == 1 && rootBytes.first == slash { return true }
        guard pathBytes.count >= rootBytes.count else { return false }
        // Fast, allocation-free for native strings; the generic fallback covers bridged ones.
        let matched =
            pathBytes.withContiguousStorageIfAvailable { pathBuffer in
                rootBytes.withContiguousStorageIfAvailable { rootBuffer in
                    guard let rootBase = rootBuffer.baseAddress else { return true }
                    return memcmp(pathBuffer.baseAddress!, rootBase, rootBuffer.count) == 0
                }
            } ?? nil
        let isPrefix = matched ?? pathBytes.starts(with: rootBytes)
        guard isPrefix else { return false }
        let rest = pathBytes.dropFirst(rootBytes.count)
        return rest.isEmpty || rest.first == slash
    }

    /// ``isPath(_:within:)`` on the bytes of a path.
    @inline(__always)
    static func isPath(_ path: UnsafeBufferPointer<UInt8>, within root: String) -> Bool {
        let rootBytes = root.utf8
        let rootCount = rootBytes.count
        if rootCount == 1 && rootBytes.first == slash { return true }
        guard path.count >= rootCount else { return false }
        let isPrefix = rootBytes.withContiguousStorageIfAvailable { rootBuffer in
            guard let rootBase = rootBuffer.baseAddress else { return true }
            return memcmp(path.baseAddress!, rootBase, rootBuffer.count) == 0
        } ?? path.starts(with: rootBytes)
        return isPrefix && (path.count == rootCount || path[rootCount] == slash)
    }

    /// `/proc/<pid>/fd`, `/proc/<pid>/task/<tid>/fd` and `/proc/<pid>/map_files` hold links whose
    /// targets may be descriptions (`pipe:[…]`) rather than paths.
    private static func isMagicLinkParent(_ resolved: [Substring]) -> Bool {
        guard resolved.first == "proc", let last = resolved.last else { return false }
        return last == "fd" || last == "map_files"
    }

    private static func readLink(_ link: String, for path: String) throws(PathResolutionError) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = buffer.withUnsafeMutableBufferPointer { pointer in
            pointer.withMemoryRebound(to: CChar.self) { readlink(link, $0.baseAddress!, $0.count) }
        }
        guard count >= 0 else {
            throw PathResolutionError(path: path, message: "the link \(link) cannot be read (\(String(cString: strerror(errno))))")
        }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}
