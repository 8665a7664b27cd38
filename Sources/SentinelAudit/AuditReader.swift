// Reading an audit log: whole lines only, from any offset, without following symlinks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the lines of an audit log (for `sentinel audit tail` and the verifier).
///
/// Lines are returned without their newline. A trailing fragment without a newline (a record
/// being written, or a cut file) is never returned as a line.
public final class AuditReader {
    /// The log file.
    public let path: String
    private let fd: Int32

    /// Opens the log for reading.
    ///
    /// - Throws: ``AuditError`` when it does not exist, is a symlink or is not a regular file.
    public init(path: String) throws(AuditError) {
        self.path = path
        do throws(Sys.Failure) {
            fd = try Sys.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            if error.errno == ENOENT {
                throw AuditError(.open, "There is no audit log at \(path).", path: path, errno: error.errno)
            }
            if error.errno == ELOOP {
                throw AuditError(
                    .notRegularFile, "The audit log \(path) is a symbolic link; give the real path.", path: path,
                    errno: error.errno)
            }
            throw AuditError(.open, "Could not open the audit log \(path).", path: path, errno: error.errno)
        }
        let info: stat
        do throws(Sys.Failure) {
            info = try Sys.fstat(fd)
        } catch {
            Sys.close(fd)
            throw AuditError(.open, "Could not inspect the audit log \(path).", path: path, errno: error.errno)
        }
        guard isRegularFile(info) else {
            Sys.close(fd)
            throw AuditError(.notRegularFile, "The audit log \(path) is not a regular file.", path: path)
        }
    }

    deinit {
        Sys.close(fd)
    }

    /// The log's current size in bytes.
    public func size() throws(AuditError) -> Int64 {
        do throws(Sys.Failure) {
            return Int64(try Sys.fstat(fd).st_size)
        } catch {
            throw AuditError(.read, "Could not read the size of the audit log \(path).", path: path, errno: error.errno)
        }
    }

    /// Runs `body` while holding a shared `flock` on the log, so that no writer is between its
    /// write and its anchor update (a consistent snapshot of size and anchor).
    func withSharedLock<T>(_ body: () throws(AuditError) -> T) throws(AuditError) -> T {
        do throws(Sys.Failure) {
            try Sys.flock(fd, LOCK_SH)
        } catch {
            throw AuditError(.lock, "Could not lock the audit log \(path) for reading.", path: path, errno: error.errno)
        }
        defer { try? Sys.flock(fd, LOCK_UN) }
        return try body()
    }

    /// The complete lines between `offset` and `end`, and the offset just after the last one.
    ///
    /// `offset` must be the start of a line.
    public func lines(from offset: Int64, upTo end: Int64) throws(AuditError) -> (lines: [[UInt8]], next: Int64) {
        var lines: [[UInt8]] = []
        let next = try forEachLine(from: offset, upTo: end) { line, _ in
            lines.append(Array(line))
            return true
        }.next
        return (lines, next)
    }

    /// The last `count` complete lines before `end`, and the offset where the first of them starts.
    public func lastLines(_ count: Int, before end: Int64) throws(AuditError) -> (lines: [[UInt8]], start: Int64) {
        guard count > 0, end > 0 else { return ([], end) }
        var window: Int64 = 64 * 1024
        while true {
            let start = max(0, end - window)
            let bytes = try read(count: Int(end - start), at: start)
            // Only whole lines: drop a trailing fragment, and a leading one unless we read from 0.
            var body = bytes[...]
            if let lastNewline = body.lastIndex(of: UInt8(ascii: "\n")) {
                body = body[..<lastNewline]
            } else if start == 0 {
                return ([], 0)
            } else {
                body = []
            }
            var pieces = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            if start > 0 && !pieces.isEmpty { pieces.removeFirst() }
            if pieces.count >= count || start == 0 {
                let chosen = pieces.suffix(count)
                let firstStart = chosen.first.map { start + Int64($0.startIndex - bytes.startIndex) } ?? end
                return (chosen.map { Array($0) }, firstStart)
            }
            window *= 4
        }
    }

    /// Calls `body` with each complete line between `offset` and `end` and its 1-based line
    /// number counted from `offset`, until `body` returns false. Returns the offset after the last
    /// complete line visited and the bytes of a trailing fragment (if the range ends mid-line).
    @discardableResult
    func forEachLine(
        from offset: Int64, upTo end: Int64, _ body: (ArraySlice<UInt8>, Int) throws(AuditError) -> Bool
    ) throws(AuditError) -> (next: Int64, fragment: [UInt8]) {
        let chunkSize = 1 << 20
        var position = offset
        var carry: [UInt8] = []
        var lineNumber = 0
        var consumed = offset
        while position < end {
            let chunk = try read(count: Int(min(Int64(chunkSize), end - position)), at: position)
            if chunk.isEmpty { break }
            position += Int64(chunk.count)
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lineNumber += 1
                let keepGoing: Bool
                if carry.isEmpty {
                    keepGoing = try body(chunk[start..<newline], lineNumber)
                    consumed += Int64(newline - start + 1)
                } else {
                    carry.append(contentsOf: chunk[start..<newline])
                    keepGoing = try body(carry[...], lineNumber)
                    consumed += Int64(carry.count + 1)
                    carry.removeAll(keepingCapacity: true)
                }
                start = newline + 1
                if !keepGoing { return (consumed, []) }
            }
            carry.append(contentsOf: chunk[start...])
        }
        return (consumed, carry)
    }

    private func read(count: Int, at offset: Int64) throws(AuditError) -> [UInt8] {
        do throws(Sys.Failure) {
            return try Sys.pread(fd, count: count, at: offset)
        } catch {
            throw AuditError(.read, "Could not read the audit log \(path).", path: path, errno: error.errno)
        }
    }
}
