#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The file an exec call would run: where it was found and what it is.
public struct ResolvedExecutable: Sendable, Hashable {
    /// The absolute path found, before symlinks are followed (`/bin/ls`, `/work/ws/./tool`
    /// becomes `/work/ws/tool`). Its last component is the name the program was found under.
    public var path: String
    /// The canonical path (`realpath`): what rules are bound to (`/usr/bin/ls` for both `ls` and
    /// `/bin/ls` on merged-/usr Debian). A runner execs this path.
    public var canonicalPath: String
    /// The file's identity, so a runner that opens the file before exec (`O_PATH`, then
    /// `execveat`) can check that it is still the file that was decided on.
    public var identity: FileIdentity

    /// Creates a resolved executable.
    public init(path: String, canonicalPath: String, identity: FileIdentity) {
        self.path = path
        self.canonicalPath = canonicalPath
        self.identity = identity
    }
}

/// A file's device and inode numbers: the same pair means the same file, whatever its name
/// (a hard link or a symlink to an interpreter is still the interpreter).
public struct FileIdentity: Sendable, Hashable {
    /// `st_dev`.
    public var device: UInt64
    /// `st_ino`.
    public var inode: UInt64

    /// Creates an identity.
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// Why a command name does not lead to an executable; a command check that meets one denies.
public struct ExecutableResolutionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The name is empty or contains a NUL byte.
        case invalidName = "invalid-name"
        /// The working directory is not an absolute path.
        case invalidWorkingDirectory = "invalid-working-directory"
        /// No file of that name exists (in any `PATH` directory, for a bare name).
        case notFound = "not-found"
        /// A file was found but it is not a regular file with execute permission for us.
        case notExecutable = "not-executable"
        /// The file system refused to say (a symlink loop, a name too long, an I/O error).
        case lookupFailed = "lookup-failed"
    }

    /// What went wrong.
    public var code: Code
    /// The command name as given.
    public var name: String
    /// The underlying `errno`, when a system call failed.
    public var errno: Int32?
    /// One sentence saying what is wrong and what to do.
    public var description: String

    /// Creates an error.
    public init(code: Code, name: String, errno: Int32? = nil, description: String) {
        self.code = code
        self.name = name
        self.errno = errno
        self.description = description
    }
}

/// Finds the executable that `execvp` (or `execv`) would run for a command name, without running
/// anything and without changing the calling process's working directory.
///
/// The search follows glibc's `execvpe` (glibc 2.36, Debian 12): a name containing `/` is taken as
/// a path relative to the working directory; a bare name is looked up in each `PATH` directory in
/// order, an empty component meaning the working directory; a candidate that exists but cannot be
/// executed (`EACCES`: a directory, no execute bit) is skipped and remembered; `ENOENT`,
/// `ENOTDIR`, `ESTALE`, `ENODEV` and `ETIMEDOUT` move on to the next directory; any other error
/// stops the search, as it stops `execvp`. A `PATH` that is not set means glibc's default,
/// `/bin:/usr/bin`.
///
/// Execute permission is checked with our effective credentials (`faccessat(AT_EACCESS)`); a
/// supervisor that decides for a process with other credentials is stricter or looser by that
/// difference, and the exec itself still enforces the process's own permissions.
public enum ExecutableResolver {
    /// glibc's search path when `PATH` is not set (`_CS_PATH`).
    public static let defaultSearchPath = "/bin:/usr/bin"

    /// Resolves `name` as an exec call would.
    ///
    /// - Parameters:
    ///   - name: the command name or path (`ls`, `./tool`, `/usr/bin/ls`).
    ///   - searchPath: the `PATH` of the process that would exec, `nil` when it has none.
    ///   - workingDirectory: that process's working directory, absolute.
    ///   - searchesPath: `true` for `execvp`/`posix_spawnp` (a bare name is searched on `PATH`),
    ///     `false` for `execv`/`posix_spawn` (a bare name is a path relative to the working
    ///     directory).
    public static func resolve(
        _ name: String, searchPath: String?, workingDirectory: String, searchesPath: Bool = true
    ) throws(ExecutableResolutionError) -> ResolvedExecutable {
        guard !name.isEmpty, !name.utf8.contains(0) else {
            throw ExecutableResolutionError(
                code: .invalidName, name: name,
                description: name.isEmpty ? "The command name is empty." : "The command name contains a NUL byte."
            )
        }
        guard workingDirectory.hasPrefix("/"), !workingDirectory.utf8.contains(0) else {
            throw ExecutableResolutionError(
                code: .invalidWorkingDirectory, name: name,
                description: "Cannot resolve '\(name)': the working directory '\(workingDirectory)' is not an absolute path."
            )
        }
        if !searchesPath || name.utf8.contains(UInt8(ascii: "/")) {
            let path = absolutePath(name, in: workingDirectory)
            switch probe(path) {
            case .success(let found):
                return found
            case .failure(let failure):
                throw error(for: failure, name: name, detail: path)
            }
        }

        let directories = (searchPath ?? defaultSearchPath).split(separator: ":", omittingEmptySubsequences: false)
        var refused: (path: String, failure: ProbeFailure)?
        for directory in directories {
            let base = directory.isEmpty ? workingDirectory : absolutePath(String(directory), in: workingDirectory)
            let candidate = base.hasSuffix("/") ? base + name : base + "/" + name
            switch probe(candidate) {
            case .success(let found):
                return found
            case .failure(let failure):
                switch failure {
                case .notExecutable, .errno(EACCES):
                    if refused == nil { refused = (candidate, failure) }
                case .errno(ENOENT), .errno(ENOTDIR), .errno(ESTALE), .errno(ENODEV), .errno(ETIMEDOUT):
                    continue
                case .errno:
                    throw error(for: failure, name: name, detail: candidate)
                }
            }
        }
        if let refused {
            throw error(for: refused.failure, name: name, detail: refused.path)
        }
        throw ExecutableResolutionError(
            code: .notFound, name: name, errno: ENOENT,
            description: "Command '\(name)' was not found on PATH (\(searchPath ?? "unset, so \(defaultSearchPath)")). Install it or give its path."
        )
    }

    /// Every executable named `name` in the absolute directories of `searchPath`, in order and
    /// without duplicates (by canonical path). Relative and empty components are skipped: they
    /// name the working directory of the moment, which is where an untrusted program plants
    /// files. Used to bind a bare-name rule when a policy is compiled.
    public static func allExecutables(named name: String, searchPath: String) -> [ResolvedExecutable] {
        guard !name.isEmpty, !name.utf8.contains(0), !name.utf8.contains(UInt8(ascii: "/")) else { return [] }
        var seen: Set<String> = []
        var found: [ResolvedExecutable] = []
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? String(directory) + name : String(directory) + "/" + name
            if case .success(let executable) = probe(candidate), seen.insert(executable.canonicalPath).inserted {
                found.append(executable)
            }
        }
        return found
    }

    // MARK: - File system

    enum ProbeFailure: Error, Equatable {
        case notExecutable(String)
        case errno(Int32)
    }

    /// Whether `path` (absolute) is a regular file we may execute, and what it really is.
    static func probe(_ path: String) -> Result<ResolvedExecutable, ProbeFailure> {
        var status = stat()
        guard stat(path, &status) == 0 else { return .failure(.errno(Glibc.errno)) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return .failure(.notExecutable("it is not a regular file"))
        }
        guard status.st_mode & 0o111 != 0, faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 else {
            return .failure(.notExecutable("it has no execute permission for this user"))
        }
        guard let resolved = realpath(path, nil) else { return .failure(.errno(Glibc.errno)) }
        defer { free(resolved) }
        return .success(ResolvedExecutable(
            path: path, canonicalPath: String(cString: resolved),
            identity: FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        ))
    }

    /// `name` made absolute against `directory`, with empty and `.` components dropped (`..` is
    /// kept: folding it lexically would be wrong after a symlink).
    static func absolutePath(_ name: String, in directory: String) -> String {
        let joined = name.hasPrefix("/") ? name : directory + "/" + name
        var result = ""
        for component in joined.split(separator: "/", omittingEmptySubsequences: true) where component != "." {
            result += "/"
            result += component
        }
        return result.isEmpty ? "/" : result
    }

    static func error(for failure: ProbeFailure, name: String, detail path: String) -> ExecutableResolutionError {
        let shown = path == name ? "'\(name)'" : "'\(name)' (\(path))"
        switch failure {
        case .notExecutable(let why):
            return ExecutableResolutionError(
                code: .notExecutable, name: name, errno: EACCES,
                description: "Command \(shown) cannot be executed: \(why)."
            )
        case .errno(let code) where code == ENOENT || code == ENOTDIR:
            return ExecutableResolutionError(
                code: .notFound, name: name, errno: code,
                description: "Command \(shown) does not exist."
            )
        case .errno(let code) where code == EACCES:
            return ExecutableResolutionError(
                code: .notExecutable, name: name, errno: code,
                description: "Command \(shown) cannot be examined: permission denied on a directory along the path."
            )
        case .errno(let code):
            return ExecutableResolutionError(
                code: .lookupFailed, name: name, errno: code,
                description: "Command \(shown) cannot be examined: \(String(cString: strerror(code)))."
            )
        }
    }
}

/// A small cache in front of `ExecutableResolver`, keyed by (name, `PATH`, working directory,
/// search mode), whose entries live for a short time.
///
/// Why: resolving a bare name costs a `stat` per `PATH` directory plus `faccessat` and `realpath`
/// (several microseconds), while the policy engine must make at least a million command decisions
/// per second on one thread. A few seconds of caching brings a repeated decision down to a hash
/// lookup.
///
/// Why it is safe: the decision carries the resolved executable, and the runner executes exactly
/// that canonical path (never the name again through its own `PATH` search), so a cached answer
/// can never make a *different* file run than the one the rules were checked against by name.
/// What a stale entry can do is describe a file that has since been replaced *at the same path*;
/// that is the check-to-exec window every path-based check has, widened to the time to live. A
/// runner that must close it opens the path and compares `ResolvedExecutable.identity` before
/// exec. Failures are cached too (a flood of unknown names stays cheap), and a stale failure only
/// denies, which is the safe direction.
public final class ExecutableResolverCache: Sendable {
    /// How long an entry is trusted.
    public let timeToLive: Duration
    /// The most entries kept; past it, expired entries are dropped, and if none has expired the
    /// cache is emptied (simple, and bounded whatever names an untrusted program tries).
    public let capacity: Int

    /// What, besides the name, a resolution depends on.
    private struct Context: Hashable {
        var searchPath: String?
        var workingDirectory: String
        var searchesPath: Bool
    }

    private struct Entry {
        var result: Result<ResolvedExecutable, ExecutableResolutionError>
        var expires: Int64
    }

    /// The entries of one context, by name. A class so that the table of the last context used
    /// can be kept at hand and updated in place.
    private final class Table {
        var entries: [String: Entry] = [:]
    }

    /// Entries are grouped by context, and the last context used is remembered: a supervisor
    /// asks again and again with the same `PATH` and working directory, and comparing two equal
    /// strings (often the same storage) is much cheaper than hashing a 60-byte `PATH` per lookup.
    private struct State {
        var tables: [Context: Table] = [:]
        var lastContext: Context?
        var lastTable: Table?
        var count = 0
        var hits = 0
        var misses = 0

        mutating func table(for context: Context) -> Table {
            if let lastTable, lastContext == context { return lastTable }
            let table = tables[context] ?? Table()
            tables[context] = table
            lastContext = context
            lastTable = table
            return table
        }
    }

    private let state: Mutex<State>

    /// Creates a cache.
    ///
    /// - Parameters:
    ///   - timeToLive: how long an answer is reused; 2 seconds by default.
    ///   - capacity: the most entries kept; 4096 by default.
    public init(timeToLive: Duration = .seconds(2), capacity: Int = 4096) {
        self.timeToLive = timeToLive
        self.capacity = max(1, capacity)
        self.state = Mutex(State())
    }

    /// Resolves `name` as `ExecutableResolver.resolve` does, reusing an answer younger than the
    /// time to live.
    public func resolve(
        _ name: String, searchPath: String?, workingDirectory: String, searchesPath: Bool = true
    ) throws(ExecutableResolutionError) -> ResolvedExecutable {
        let context = Context(searchPath: searchPath, workingDirectory: workingDirectory, searchesPath: searchesPath)
        let now = Self.monotonicNanoseconds()
        let cached: Result<ResolvedExecutable, ExecutableResolutionError>? = state.withLock { state in
            if let entry = state.table(for: context).entries[name], entry.expires > now {
                state.hits += 1
                return entry.result
            }
            state.misses += 1
            return nil
        }
        if let cached { return try cached.get() }

        // Resolved outside the lock: file system calls must not serialise other threads.
        let result: Result<ResolvedExecutable, ExecutableResolutionError>
        do {
            result = .success(try ExecutableResolver.resolve(
                name, searchPath: searchPath, workingDirectory: workingDirectory, searchesPath: searchesPath
            ))
        } catch {
            result = .failure(error)
        }
        let (seconds, attoseconds) = timeToLive.components
        let lifetime = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let capacity = self.capacity
        state.withLock { state in
            if state.count >= capacity {
                // Drop what has expired; if that is not enough, start again from empty.
                var remaining = 0
                for table in state.tables.values {
                    table.entries = table.entries.filter { $0.value.expires > now }
                    remaining += table.entries.count
                }
                state.count = remaining
                if state.count >= capacity {
                    state = State(hits: state.hits, misses: state.misses)
                }
            }
            let table = state.table(for: context)
            if table.entries.updateValue(Entry(result: result, expires: now + lifetime), forKey: name) == nil {
                state.count += 1
            }
        }
        return try result.get()
    }

    /// Forgets every answer (after a package install, or in tests).
    public func removeAll() {
        state.withLock { $0 = State(hits: $0.hits, misses: $0.misses) }
    }

    /// Lookups answered from the cache and lookups that went to the file system.
    public var statistics: (hits: Int, misses: Int) {
        state.withLock { ($0.hits, $0.misses) }
    }

    /// `CLOCK_MONOTONIC_COARSE`: millisecond resolution is plenty for a time to live of seconds,
    /// and it is cheaper to read than the precise clock on the hot path.
    private static func monotonicNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
