import CSentinelLinux
import Glibc

/// Reads what a notified call points at in the calling thread's memory and `/proc` entries.
///
/// Every read is bounded, and every failure throws: the supervisor then refuses the call (fail
/// closed). What is read can change the moment after it was read (another thread of the target
/// may rewrite it), which is why the supervisor acts on its own copy (opening, connecting on the
/// target's behalf) wherever the kernel lets it, and checks `isPending` before answering.
struct TargetProcess {
    /// The calling thread (`seccomp_notif.pid`, a thread id in our pid namespace).
    let tid: Int32

    /// The longest path read (the kernel's PATH_MAX, NUL included).
    static let pathLimit = 4096
    /// The most bytes of argv strings read for an exec decision.
    static let argumentBytesLimit = 256 * 1024
    /// The most argv entries read for an exec decision.
    static let argumentCountLimit = 4096

    /// Exactly `count` bytes at `address`.
    func bytes(at address: UInt64, count: Int) throws(SupervisorError) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes {
            sentinel_supervisor_read_memory(tid, address, $0.baseAddress, UInt(count))
        }
        guard read == count else {
            let code = read < 0 ? Int32(-read) : EFAULT
            throw SupervisorError(
                .targetUnreadable,
                "Cannot read \(count) bytes at 0x\(String(address, radix: 16)) in process \(tid) "
                    + "(\(SupervisorError.text(code))).", errno: code)
        }
        return buffer
    }

    /// A NUL-terminated string at `address`, at most `limit` bytes with the NUL. Reads page by
    /// page, so a string that ends just before an unmapped page is still read.
    func rawString(at address: UInt64, limit: Int = TargetProcess.pathLimit) throws(SupervisorError) -> [UInt8] {
        guard address != 0 else {
            throw SupervisorError(.targetUnreadable, "The call passed a NULL string pointer.", errno: EFAULT)
        }
        var result: [UInt8] = []
        var cursor = address
        let page: UInt64 = 4096
        while result.count < limit {
            let toPageEnd = Int(page - cursor % page)
            let chunk = min(toPageEnd, limit - result.count)
            var buffer = [UInt8](repeating: 0, count: chunk)
            let read = buffer.withUnsafeMutableBytes {
                sentinel_supervisor_read_memory(tid, cursor, $0.baseAddress, UInt(chunk))
            }
            guard read > 0 else {
                let code = read < 0 ? Int32(-read) : EFAULT
                throw SupervisorError(
                    .targetUnreadable,
                    "Cannot read a string at 0x\(String(cursor, radix: 16)) in process \(tid) "
                        + "(\(SupervisorError.text(code))).", errno: code)
            }
            if let end = buffer[0..<read].firstIndex(of: 0) {
                result.append(contentsOf: buffer[0..<end])
                return result
            }
            result.append(contentsOf: buffer[0..<read])
            cursor += UInt64(read)
        }
        throw SupervisorError(
            .targetUnreadable, "A string in process \(tid) is longer than \(limit) bytes.", errno: ENAMETOOLONG)
    }

    /// A string that must be valid UTF-8 (a path): a name that is not cannot be checked against
    /// the policy's text rules without guessing, so it is refused.
    func string(at address: UInt64, limit: Int = TargetProcess.pathLimit) throws(SupervisorError) -> String {
        let raw = try rawString(at: address, limit: limit)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw SupervisorError(
                .unsupported, "A path or argument in process \(tid) is not valid UTF-8; the guard refuses names it "
                    + "cannot compare with the policy.", errno: EACCES)
        }
        return text
    }

    /// A NULL-terminated array of string pointers (argv), bounded in count and total size.
    ///
    /// The pointers are read a page's worth at a time (one `process_vm_readv` for up to 64 of
    /// them), not one read per pointer: each read is a system call on the exec's critical path.
    func stringArray(at address: UInt64) throws(SupervisorError) -> [String] {
        guard address != 0 else { return [] }
        var result: [String] = []
        var total = 0
        var cursor = address
        var pointers: [UInt64] = []
        var next = 0
        while true {
            guard result.count < Self.argumentCountLimit else {
                throw SupervisorError(
                    .unsupported, "The argument list has more than \(Self.argumentCountLimit) entries, more than the "
                        + "guard reads; the exec is refused.", errno: E2BIG)
            }
            if next == pointers.count {
                pointers = try words(at: cursor)
                next = 0
            }
            let pointer = pointers[next]
            next += 1
            cursor += 8
            if pointer == 0 { return result }
            let argument = try string(at: pointer, limit: Self.argumentBytesLimit - total)
            total += argument.utf8.count + 1
            result.append(argument)
        }
    }

    /// The 8-byte words from `address` to the end of its page (at most 64; one word when the first
    /// one crosses into the next page). Words on the same page as a readable first word are
    /// readable too, so reading ahead never fails where reading word by word would not.
    func words(at address: UInt64) throws(SupervisorError) -> [UInt64] {
        let toPageEnd = Int(4096 - address % 4096)
        let count = max(1, min(64, toPageEnd / 8))
        let raw = try bytes(at: address, count: count * 8)
        return raw.withUnsafeBytes { buffer in
            (0..<count).map { buffer.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
    }

    /// The target of a `/proc/<tid>/…` symbolic link (cwd, fd/N, root).
    func link(_ name: String) throws(SupervisorError) -> String {
        var buffer = [CChar](repeating: 0, count: Self.pathLimit + 1)
        let length = readlink("/proc/\(tid)/\(name)", &buffer, Self.pathLimit)
        guard length >= 0 else {
            let code = Glibc.errno
            throw SupervisorError(
                .targetUnreadable, "Cannot read /proc/\(tid)/\(name) (\(SupervisorError.text(code))).", errno: code)
        }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The directory a path given with `dirfd` is relative to: the working directory for
    /// `AT_FDCWD`, else the directory `dirfd` names. Throws ENOTDIR-like errors as the kernel would.
    func directory(for dirfd: Int32) throws(SupervisorError) -> String {
        let target = dirfd == AT_FDCWD ? try link("cwd") : try link("fd/\(dirfd)")
        guard target.hasPrefix("/") else {
            throw SupervisorError(
                .targetUnreadable, "Descriptor \(dirfd) of process \(tid) is not a directory (\(target)).",
                errno: ENOTDIR)
        }
        return target
    }

    /// The thread group (process) id of the calling thread, from `/proc/<tid>/status`.
    func threadGroup() throws(SupervisorError) -> Int32 {
        guard let fields = Self.statusFields(of: tid, ["Tgid:"]), let value = fields[0] else {
            throw SupervisorError(
                .targetUnreadable, "Cannot read the Tgid line of /proc/\(tid)/status (\(SupervisorError.text(Glibc.errno))).",
                errno: ESRCH)
        }
        return value
    }

    /// The numbers after each of `keys` (`"Tgid:"`, `"PPid:"`) in `/proc/<id>/status`, read in one
    /// `read` and scanned as bytes: this runs for every exec and every new process, and building a
    /// `String` per line cost more than the system calls.
    static func statusFields(of id: Int32, _ keys: [StaticString]) -> [Int32?]? {
        let fd = open("/proc/\(id)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Tgid and PPid are within the first 200 bytes (after Name, Umask, State).
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 512) }
        guard count > 0 else { return nil }
        return keys.map { key in
            let pattern = key.withUTF8Buffer { Array($0) }
            var index = 0
            while index + pattern.count <= count {
                // Keys start a line.
                if (index == 0 || buffer[index - 1] == UInt8(ascii: "\n")), buffer[index..<(index + pattern.count)].elementsEqual(pattern) {
                    var cursor = index + pattern.count
                    while cursor < count, buffer[cursor] == UInt8(ascii: "\t") || buffer[cursor] == UInt8(ascii: " ") { cursor += 1 }
                    var value: Int64 = 0
                    var digits = 0
                    while cursor < count, buffer[cursor] >= UInt8(ascii: "0"), buffer[cursor] <= UInt8(ascii: "9"), digits < 10 {
                        value = value * 10 + Int64(buffer[cursor] - UInt8(ascii: "0"))
                        cursor += 1
                        digits += 1
                    }
                    return digits > 0 && value <= Int64(Int32.max) ? Int32(value) : nil
                }
                index += 1
            }
            return nil
        }
    }
}
