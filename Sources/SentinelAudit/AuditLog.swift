// The audit writer: appends hash-chained records, atomically across threads and processes.

import CSentinelLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Appends hash-chained records to a JSON Lines audit log, safely from many threads and many
/// processes at once.
///
/// ## One append
///
/// Under an in-process `Mutex`, then an exclusive `flock(2)` on the log file (which serialises
/// writers in other processes):
///
/// 1. Check that the path still names the file we hold open (a log moved or deleted under us is
///    reopened, never written blind). The check is one `statx` of the log's name in its
///    directory, opened once with the log (a full-path `lstat` walked every component on every
///    append), asking for the type, inode and size only. Not the times: since Linux 6.13's
///    multigrain timestamps, a stat that returns a file's times makes the next `write` store a
///    fine-grained modification time, a journalled inode update on ext4 that was 12 % of an
///    append (issue 3). A rename of the directory itself (or of one above it) is not noticed: the
///    writer keeps appending to its file there, still chained and anchored.
/// 2. Learn the last record's sequence number and hash. They are cached from our own last append
///    and revalidated with the size from step 1: if it still equals the end of our last record,
///    nobody else wrote. Otherwise the last line is read back and hashed, and compared with the
///    anchor (see ``AuditAnchor``).
/// 3. Write the new line (JSON, newline-terminated) with one `write(2)` on an `O_APPEND`
///    descriptor, then rewrite the anchor with a memory copy into its first page, mapped
///    `MAP_SHARED` once at open: the verifier's and other writers' `read(2)` see the same page
///    cache, and durability is that of `pwrite(2)` without a sync (``Options/synchronous`` adds
///    `fdatasync` of the log and `msync` of the anchor). The anchor file is sized to the line
///    before the copy when its length differs from what this writer last set or read.
/// 4. Release the lock.
///
/// So an append that finds the log as it left it makes four system calls: `flock`, `statx`,
/// `write`, `flock` (unlock).
///
/// (An inotify watch on the directory, read before each append, was tried instead of the `statx`
/// and is 1 µs cheaper per append, but closing an inotify instance that holds a watch waits for
/// an SRCU grace period, 10–20 ms here, and every process that wrote an audit record, such as
/// each `sentinel-isolate` run, would pay it at exit.)
///
/// The mapping has one cost: truncating the anchor file to zero bytes from outside while a writer
/// runs makes that writer's next store into the page fault (SIGBUS), which ends the process before
/// the append returns (so the action is not carried out). Whoever can truncate the anchor (its
/// owner, mode 0600) can end the writer with a signal anyway; keep the anchor, like the log, out
/// of the guarded program's reach.
///
/// Concurrent writers therefore never interleave bytes, never reuse a sequence number and never
/// fork the chain. If the writer finds the log changed outside it (shorter than the anchor says,
/// anchor missing or invalid, bytes after the anchored end), it first appends an
/// ``AuditAction/auditIntegrity`` record describing what it found, so the gap stays on record, and
/// ``AuditVerifier`` reports that record.
///
/// ## Why a `Mutex`-guarded class and not an actor
///
/// The seccomp supervisor of `sentinel guard` answers notifications on plain threads and must
/// record a decision before it replies to the kernel; an actor would force it to block on an
/// async hop. An append holds the lock for a few system calls (no allocation-heavy work, no
/// waiting on other parties except a writer in another process that holds the `flock` for its
/// own few system calls), so calling ``append(_:)`` from async code costs what any short
/// blocking file write costs.
///
/// ## The contract for callers
///
/// ``append(_:)`` returns only after the record is in the file (in the page cache; see
/// ``Options/synchronous`` for `fdatasync`). When it throws, nothing was added, and the caller
/// **must deny** the action it was recording: a decision that cannot be recorded does not happen.
///
/// ## What the chain protects against, and what it does not
///
/// - Detected by ``AuditVerifier``: an edited, deleted, inserted or reordered record; a partial
///   last line; trailing records cut off (through the anchor); records appended by something
///   other than a writer; a log emptied or replaced while a writer was running.
/// - **Not** prevented: anyone who can write the log *and* its anchor can rewrite the whole
///   chain, because plain SHA-256 has no secret. Set `SENTINEL_AUDIT_HMAC_KEY` (see
///   ``AuditKey``) and keep the key away from the guarded program to close that; keep the log
///   outside anything the guarded program can write (isolation mode does); and ship records
///   off the machine for evidence that must survive a root compromise. Nothing here stops a
///   deleted log file: a missing log is itself the evidence.
/// - Not prevented either: replaying an older copy of both files (rollback). Only an external
///   copy of the latest anchor catches that.
/// - All writers of one log must use the same key. A writer without the key refuses to extend an
///   HMAC-chained log; a writer with a key extends a plain one, but the verifier (given the key)
///   then reports the earlier, unkeyed records: start a new log when you add a key.
public final class AuditLog: Sendable {
    /// How the writer behaves.
    public struct Options: Sendable {
        /// The HMAC key; `nil` chains with plain SHA-256.
        public var key: AuditKey?
        /// Whether to `fdatasync` the log and its anchor after every append, so that a record
        /// survives a power failure once ``AuditLog/append(_:)`` returns. Costs a disk flush per
        /// record.
        public var synchronous: Bool
        /// How long an append waits for the log's `flock` before it fails (and the action it
        /// records is denied). Other Sentinel writers hold the lock for microseconds; a reader
        /// such as `sentinel audit verify` holds a shared lock while it reads the whole log. Any
        /// process that can open the log can also hold the lock forever (a guarded program
        /// running as the operator can), and an append must not wait that long.
        public var lockTimeout: Duration
        /// The run every record of this writer belongs to, written as each record's `run`; `nil`
        /// leaves the field out.
        public var runID: AuditRunID?

        /// Creates options.
        public init(
            key: AuditKey? = nil, synchronous: Bool = false, lockTimeout: Duration = .seconds(10),
            runID: AuditRunID? = nil
        ) {
            self.key = key
            self.synchronous = synchronous
            self.lockTimeout = lockTimeout
            self.runID = runID
        }
    }

    /// The log file.
    public let path: String
    /// The anchor file beside it (``AuditAnchor/path(forLog:)``).
    public let anchorPath: String
    /// How the writer behaves.
    public let options: Options

    private let hasher: ChainHasher
    private let state: Mutex<State>
    /// The log's last path component, NUL-terminated, looked up in ``OpenFiles/directory``.
    private let name: [CChar]
    /// Read once: Swift processes do not fork without exec, so it cannot change (and getpid(2) is
    /// a real system call on current glibc, a measurable part of an append).
    private let pid: Int32

    /// The writer's lifecycle.
    private enum State {
        case open(OpenFiles)
        case closed
    }

    /// The open descriptors and what we know about the end of the log.
    private struct OpenFiles {
        var log: Int32
        var anchor: Int32
        /// The log's directory (`O_PATH`), where the log's name is checked before each append.
        var directory: Int32
        var device: UInt64
        var inode: UInt64
        /// The end of the log as of our last append; `nil` when it must be read back.
        var tail: Tail?
        /// The anchor file's size as this writer last set or read it.
        var anchorLength: Int64
        /// The anchor file's first ``AuditLog/anchorMapLength`` bytes, mapped `MAP_SHARED`: the
        /// anchor is updated with a memory copy into the page cache that `read(2)` by the verifier
        /// and other writers sees, instead of a `pwrite(2)` per append (issue 3).
        var anchorMap: UnsafeMutableRawPointer
        /// Reused between appends so that a steady stream of records does not allocate per line.
        var buffer: LineBuffer
        /// The anchor's line, rebuilt in place on every append.
        var anchorBuffer: LineBuffer

        func closeAll() {
            Sys.unmap(anchorMap, length: AuditLog.anchorMapLength)
            Sys.close(log)
            Sys.close(anchor)
            Sys.close(directory)
        }
    }

    /// The end of the log.
    private struct Tail {
        var end: Int64
        var sequence: UInt64
        /// The chain value of the last line under this writer's chain function.
        var hash: String
    }

    /// Opens (creating if needed, with mode 0600 and parent directories 0700) the log at `path`
    /// and its anchor.
    ///
    /// - Throws: ``AuditError`` when either cannot be opened or is not a regular file. A caller
    ///   that cannot open its audit log must refuse to start enforcing.
    public init(path: String, options: Options = Options()) throws(AuditError) {
        self.path = path
        self.anchorPath = AuditAnchor.path(forLog: path)
        self.options = options
        self.hasher = ChainHasher(key: options.key)
        self.pid = getpid()
        self.name = Array(lastComponent(of: path).utf8CString)
        let files = try Self.openFiles(path: path, anchorPath: anchorPath)
        self.state = Mutex(.open(files))
    }

    deinit {
        state.withLock { state in
            if case .open(let files) = state {
                files.closeAll()
            }
            state = .closed
        }
    }

    /// Closes the files; later appends throw ``AuditError/Code/closed``.
    public func close() {
        state.withLock { state in
            if case .open(let files) = state {
                files.closeAll()
            }
            state = .closed
        }
    }

    /// Appends one record and returns it as written (with its sequence number, time and `prev`).
    ///
    /// - Throws: ``AuditError`` when the record could not be written; the caller must then deny.
    @discardableResult
    public func append(_ event: AuditEvent) throws(AuditError) -> AuditRecord {
        // Not `append(contentsOf: [event])[0]`: the two arrays were a measurable part of an append.
        var written: AuditRecord?
        try withOpenFiles { (files: inout OpenFiles) throws(AuditError) in
            try appendLocked(CollectionOfOne(event), files: &files) { written = $0 }
        }
        guard let written else {
            throw AuditError(
                .write, "The audit writer returned no record for \(path); the action must be denied.", path: path)
        }
        return written
    }

    /// Appends several records with one lock and one `write(2)`, in order, and returns them.
    ///
    /// - Throws: ``AuditError`` when they could not be written; then none was.
    @discardableResult
    public func append(contentsOf events: [AuditEvent]) throws(AuditError) -> [AuditRecord] {
        if events.isEmpty { return [] }
        var written: [AuditRecord] = []
        written.reserveCapacity(events.count)
        try withOpenFiles { (files: inout OpenFiles) throws(AuditError) in
            try appendLocked(events, files: &files) { written.append($0) }
        }
        return written
    }

    /// Runs `body` on the open files under the mutex.
    private func withOpenFiles(_ body: (inout OpenFiles) throws(AuditError) -> Void) throws(AuditError) {
        try state.withLock { (state: inout State) throws(AuditError) in
            guard case .open(var files) = state else {
                throw AuditError(.closed, "The audit log \(path) was closed; no more records can be written.", path: path)
            }
            // Whatever happens, keep the (possibly reopened) descriptors in the state.
            defer { state = .open(files) }
            try body(&files)
        }
    }

    // MARK: - Under the mutex

    /// Appends `events` (after an integrity record if the log changed outside us) and passes each
    /// caller record to `written`, in order, once all of them are in the file.
    private func appendLocked<Events: Collection<AuditEvent>>(
        _ events: Events, files: inout OpenFiles, written: (AuditRecord) -> Void
    ) throws(AuditError) {
        let size = try lockCurrentFile(&files)
        defer { try? Sys.flock(files.log, LOCK_UN) }

        var tail: Tail
        var integrity: AuditEvent?
        if let known = files.tail, known.end == size {
            tail = known
        } else {
            let (found, problem) = try readTail(files: &files, size: size)
            tail = found
            if let problem {
                integrity = AuditEvent(
                    mode: .audit, action: .auditIntegrity, target: path, decision: .info, rule: "audit.anchor",
                    reason: problem, severity: .critical)
            }
        }

        // Build every line into one buffer, so that one write(2) appends them all.
        let buffer = files.buffer
        buffer.count = 0
        let chain = hasher.chain
        func encode(_ event: AuditEvent) -> AuditRecord {
            let record = AuditRecord(
                event: event, sequence: tail.sequence + 1, time: rfc3339Now(), pid: pid, run: options.runID?.rawValue,
                chain: chain, prev: tail.hash)
            let lineStart = buffer.count
            record.appendJSONLine(to: buffer)
            tail.hash = hasher.hex(buffer.bytes(from: lineStart), chain: chain)
            buffer.reserve(1)
            buffer.start[buffer.count] = UInt8(ascii: "\n")
            buffer.count += 1
            tail.sequence += 1
            return record
        }
        if let integrity { _ = encode(integrity) }
        // Records are handed out only after the write succeeded; a single event needs no array.
        var first: AuditRecord?
        var rest: [AuditRecord] = []
        for event in events {
            let record = encode(event)
            if first == nil { first = record } else { rest.append(record) }
        }

        let result = Sys.writeAll(files.log, buffer.bytes)
        if let errno = result.errno {
            // Take back a partial line so the chain stays readable; we still hold the lock.
            if result.written > 0 { try? Sys.ftruncate(files.log, size) }
            files.tail = nil
            throw AuditError(
                .write, "Could not append to the audit log \(path); the action was not recorded and must be denied.",
                path: path, errno: errno)
        }
        tail.end = size + Int64(buffer.count)

        let anchor = AuditAnchor(chain: chain, sequence: tail.sequence, size: tail.end, hash: tail.hash)
        let anchorLine = files.anchorBuffer
        anchor.encode(into: anchorLine, with: hasher)
        do throws(Sys.Failure) {
            // Size the file to the line first: a store into a mapped page wholly past the end of
            // the file raises SIGBUS, and bytes past the end within the last page are not part of
            // the file. anchorLength is what this writer last set, or read when it re-read the
            // tail (a new, missing or short anchor at open; another writer's chain); Sentinel
            // writers never make the file shorter than a line, so only an outside truncation of
            // the anchor to zero bytes during a run can make this store fault (see the type's
            // documentation).
            if Int64(anchorLine.count) != files.anchorLength {
                try Sys.ftruncate(files.anchor, Int64(anchorLine.count))
                files.anchorLength = Int64(anchorLine.count)
            }
            if anchorLine.count <= Self.anchorMapLength {
                files.anchorMap.copyMemory(from: anchorLine.start, byteCount: anchorLine.count)
            } else {
                // Only an anchor built from a foreign, oversized hash could be this long.
                try Sys.pwriteAll(files.anchor, anchorLine.bytes, at: 0)
            }
            if options.synchronous {
                try Sys.fdatasync(files.log)
                try Sys.msync(files.anchorMap, length: Self.anchorMapLength)
            }
        } catch {
            try? Sys.ftruncate(files.log, size)
            files.tail = nil
            throw AuditError(
                .write,
                "Could not update the audit anchor \(anchorPath); the record was taken back and the action must be "
                    + "denied.", path: anchorPath, errno: error.errno)
        }
        files.tail = tail
        if let first { written(first) }
        for record in rest { written(record) }
    }

    /// `flock(LOCK_EX)` on `fd`, waiting at most `options.lockTimeout`: without the limit, a
    /// guarded program that holds the lock would stop its own supervisor, and with it every call
    /// the program makes. Polls with a growing pause (50 µs to 10 ms); an uncontended lock is
    /// one call, as before.
    private func lockExclusively(_ fd: Int32) throws(AuditError) {
        var pause: UInt32 = 50
        var deadline: ContinuousClock.Instant?
        while true {
            do throws(Sys.Failure) {
                try Sys.flock(fd, LOCK_EX | LOCK_NB)
                return
            } catch where error.errno == EWOULDBLOCK {
                let now = ContinuousClock.now
                let end = deadline ?? now + options.lockTimeout
                deadline = end
                if now >= end {
                    throw AuditError(
                        .lock,
                        "Another process has held the lock on the audit log \(path) for \(options.lockTimeout) (Sentinel's "
                            + "own writers hold it for microseconds; a long `sentinel audit verify` or a program that locked "
                            + "the file holds it longer), so nothing was written and the action is denied. Find the holder "
                            + "with `fuser \(path)`.",
                        path: path, errno: EWOULDBLOCK)
                }
                usleep(pause)
                pause = min(pause * 2, 10_000)
            } catch {
                throw AuditError(.lock, "Could not lock the audit log \(path).", path: path, errno: error.errno)
            }
        }
    }

    /// Takes the exclusive flock on the file the path names now, reopening if the file was moved,
    /// deleted or replaced since we opened it; returns the file's size.
    ///
    /// One `statx` of the log's name in its directory serves both checks: when its device and
    /// inode are ours, its size is our file's size (no separate `fstat`).
    private func lockCurrentFile(_ files: inout OpenFiles) throws(AuditError) -> Int64 {
        for _ in 0..<8 {
            try lockExclusively(files.log)
            let current: sentinel_file_identity?
            do throws(Sys.Failure) {
                current = try Sys.identity(in: files.directory, name: name)
            } catch {
                try? Sys.flock(files.log, LOCK_UN)
                throw AuditError(.open, "Could not check the audit log \(path).", path: path, errno: error.errno)
            }
            if let current, current.device == files.device, current.inode == files.inode {
                return current.size
            }
            // The path now names another file (or none): ours was moved or deleted. Reopen and
            // lock that one; its end is unknown until read.
            try? Sys.flock(files.log, LOCK_UN)
            let fresh = try Self.openFiles(path: path, anchorPath: anchorPath)
            files.closeAll()
            files = fresh
        }
        throw AuditError(
            .lock, "The audit log \(path) kept being replaced while this writer tried to lock it; nothing was written.",
            path: path)
    }

    /// Reads the end of the log and the anchor; returns the tail and, if the two disagree, a
    /// sentence describing the change made outside a writer.
    private func readTail(files: inout OpenFiles, size: Int64) throws(AuditError) -> (Tail, String?) {
        let anchorBytes: [UInt8]
        do throws(Sys.Failure) {
            anchorBytes = try Sys.pread(files.anchor, count: 512, at: 0)
        } catch {
            throw AuditError(.read, "Could not read the audit anchor \(anchorPath).", path: anchorPath, errno: error.errno)
        }
        files.anchorLength = Int64(anchorBytes.count)
        let anchor: AuditAnchor.Parsed? = anchorBytes.isEmpty ? nil : AuditAnchor.parse(anchorBytes, hasher: hasher)
        if case .needsKey = anchor {
            throw keyRequired()
        }

        if size == 0 {
            let tail = Tail(end: 0, sequence: 0, hash: AuditRecord.genesis)
            switch anchor {
            case nil:
                return (tail, nil)
            case .valid(let found) where found.sequence == 0:
                return (tail, nil)
            case .valid(let found):
                return (
                    tail,
                    "The audit log was emptied or replaced outside Sentinel: its anchor recorded \(found.sequence) "
                        + "records (\(found.size) bytes). A new chain starts here."
                )
            case .invalid(let why):
                return (tail, "The audit anchor was unusable (\(why)) while the log was empty; a new chain starts here.")
            case .needsKey:
                throw keyRequired()
            }
        }

        let line = try readLastLine(fd: files.log, size: size)
        // The usual case, a log as its anchor describes it: the anchor already names the last
        // record's sequence and hash, so the line need only hash to the same value. Decoding it
        // (Foundation's JSONDecoder) was 5 % of `sentinel guard`'s start-up (perf, 2026-11-23).
        if case .valid(let found) = anchor, found.size == size, found.chain == hasher.chain {
            let hash = hasher.hex(line, chain: found.chain)
            if hash == found.hash { return (Tail(end: size, sequence: found.sequence, hash: hash), nil) }
        }
        let record: AuditRecord
        do throws(AuditError) {
            record = try AuditRecord(jsonLine: line)
        } catch {
            throw AuditError(
                .damagedLog,
                "The last record of the audit log \(path) is unreadable (\(error.message)). Run `sentinel audit "
                    + "verify \(path)`, then move the log and its anchor aside to start a new chain.", path: path)
        }
        if record.chain == .hmacSHA256 && hasher.key == nil {
            throw keyRequired()
        }
        let chain = hasher.chain
        let hash = hasher.hex(line, chain: chain)
        let tail = Tail(end: size, sequence: record.sequence, hash: hash)

        switch anchor {
        case nil:
            return (
                tail,
                "The audit anchor \(anchorPath) was missing although the log holds records (last seq "
                    + "\(record.sequence)): records at the end of the log may have been removed before this point."
            )
        case .invalid(let why):
            return (tail, "The audit anchor \(anchorPath) was unusable: \(why). Records at the end may have been removed.")
        case .needsKey:
            throw keyRequired()
        case .valid(let found):
            let hashUnderAnchorChain = found.chain == chain ? hash : hasher.hex(line, chain: found.chain)
            if found.size == size && found.sequence == record.sequence && found.hash == hashUnderAnchorChain {
                return (tail, nil)
            }
            let change =
                if found.size > size || found.sequence > record.sequence {
                    "it is shorter than its anchor says, so records were removed or the file was replaced"
                } else if found.size < size {
                    "it has data after the anchored end, so something other than a Sentinel writer appended to it"
                } else {
                    "its last record differs from the one the anchor recorded, so it was edited"
                }
            return (
                tail,
                "The audit log changed outside Sentinel: \(change) (the anchor recorded seq \(found.sequence) ending at "
                    + "byte \(found.size); the log now ends at seq \(record.sequence), byte \(size))."
            )
        }
    }

    private func keyRequired() -> AuditError {
        AuditError(
            .keyRequired,
            "The audit log \(path) is HMAC-chained but this writer has no key; set \(AuditKey.environmentVariable) to "
                + "the key the log was started with (a writer without it would weaken the chain).", path: path)
    }

    /// The last line of the log (without its newline).
    private func readLastLine(fd: Int32, size: Int64) throws(AuditError) -> [UInt8] {
        var window: Int64 = 4096
        while true {
            let start = max(0, size - window)
            let bytes: [UInt8]
            do throws(Sys.Failure) {
                bytes = try Sys.pread(fd, count: Int(size - start), at: start)
            } catch {
                throw AuditError(.read, "Could not read the end of the audit log \(path).", path: path, errno: error.errno)
            }
            guard bytes.last == UInt8(ascii: "\n") else {
                throw AuditError(
                    .damagedLog,
                    "The audit log \(path) ends with an incomplete record (a writer was interrupted or the file was "
                        + "cut). Run `sentinel audit verify \(path)`, then move the log and its anchor aside to start "
                        + "a new chain.", path: path)
            }
            let body = bytes.dropLast()
            if let newline = body.lastIndex(of: UInt8(ascii: "\n")) {
                return Array(body[(newline + 1)...])
            }
            if start == 0 { return Array(body) }
            guard window < 64 << 20 else {
                throw AuditError(.damagedLog, "The last line of the audit log \(path) is longer than 64 MiB.", path: path)
            }
            window *= 8
        }
    }

    // MARK: - Opening

    private static func openFiles(path: String, anchorPath: String) throws(AuditError) -> OpenFiles {
        do throws(Sys.Failure) {
            try Sys.makeDirectories(parentDirectory(of: path))
        } catch {
            throw AuditError(
                .open, "Could not create the directory for the audit log \(path).", path: path, errno: error.errno)
        }
        let log = try openRegular(path, what: "audit log", append: true)
        let anchor: Int32
        do throws(AuditError) {
            anchor = try openRegular(anchorPath, what: "audit anchor", append: false)
        } catch {
            Sys.close(log)
            throw error
        }
        let directory: Int32
        do throws(Sys.Failure) {
            directory = try Sys.open(parentDirectory(of: path), openPathOnly | O_DIRECTORY | O_CLOEXEC)
        } catch {
            Sys.close(log)
            Sys.close(anchor)
            throw AuditError(
                .open, "Could not open the directory of the audit log \(path).", path: path, errno: error.errno)
        }
        do throws(Sys.Failure) {
            let info = try Sys.identity(of: log)
            let anchorInfo = try Sys.fstat(anchor)
            let anchorMap = try Sys.mapShared(anchor, length: anchorMapLength)
            return OpenFiles(
                log: log, anchor: anchor, directory: directory, device: info.device, inode: info.inode,
                tail: nil, anchorLength: Int64(anchorInfo.st_size), anchorMap: anchorMap, buffer: LineBuffer(),
                anchorBuffer: LineBuffer(capacity: 256))
        } catch {
            Sys.close(log)
            Sys.close(anchor)
            Sys.close(directory)
            throw AuditError(.open, "Could not inspect the audit log \(path).", path: path, errno: error.errno)
        }
    }

    /// How much of the anchor file is mapped: one page, far more than its one line (≤ 233 bytes).
    static let anchorMapLength = 4096

    /// Linux's `O_PATH` (a descriptor for path operations only: no read permission on the
    /// directory needed). Glibc exposes it only under `_GNU_SOURCE`, which Swift's Glibc module is
    /// not built with; the value is part of the kernel ABI.
    private static let openPathOnly: Int32 = 0o10_000_000

    /// Opens `path` read-write, creating it 0600, refusing a symlink or a non-regular file
    /// (O_NONBLOCK so that a FIFO planted at the path cannot block the open).
    ///
    /// The anchor must not be opened with O_APPEND: on Linux, pwrite(2) on an O_APPEND descriptor
    /// appends whatever offset it is given (pwrite(2), BUGS).
    private static func openRegular(_ path: String, what: String, append: Bool) throws(AuditError) -> Int32 {
        let fd: Int32
        let flags = O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | (append ? O_APPEND : 0)
        do throws(Sys.Failure) {
            fd = try Sys.open(path, flags, 0o600)
        } catch {
            if error.errno == ELOOP {
                throw AuditError(
                    .notRegularFile, "The \(what) \(path) is a symbolic link; refusing to follow it. Remove the link.",
                    path: path, errno: error.errno)
            }
            throw AuditError(.open, "Could not open the \(what) \(path).", path: path, errno: error.errno)
        }
        let info: stat
        do throws(Sys.Failure) {
            info = try Sys.fstat(fd)
        } catch {
            Sys.close(fd)
            throw AuditError(.open, "Could not inspect the \(what) \(path).", path: path, errno: error.errno)
        }
        guard isRegularFile(info) else {
            Sys.close(fd)
            throw AuditError(
                .notRegularFile, "The \(what) \(path) is not a regular file; refusing to write to it.", path: path)
        }
        return fd
    }
}
