#if canImport(Glibc)
import Glibc
#endif

/// Whether a file is opened to read it or to change it (write, create, truncate, remove, rename,
/// link). Decisions differ: `read_only_paths` allow the first only, and the hard-link rule
/// concerns writes.
public enum FileAccess: String, Sendable, Hashable, CaseIterable, Codable {
    /// Reading a file or listing a directory.
    case read
    /// Writing, creating, truncating, removing, renaming or linking.
    case write
}

/// `allowed_paths`, `blocked_paths` and `read_only_paths`, resolved once against the base
/// directory the caller gave, so that a later `chdir` cannot re-root them (the original resolved
/// rules against the working directory *at check time*, `original-system.md` §12.1 item 5).
public struct PathRules: Sendable, Hashable {
    /// One resolved root.
    public struct Root: Sendable, Hashable {
        /// The entry as written.
        public var entry: String
        /// The key path (`allowed_paths[0]`).
        public var keyPath: String
        /// The canonical absolute path the entry names.
        public var path: String
        /// The reason given when this root allows an access (built once: decisions are hot).
        var allowReason: String
    }

    /// Roots under which reading and writing are allowed.
    public var allowed: [Root]
    /// Roots that are always denied.
    public var blocked: [Root]
    /// Roots that may be read but not written.
    public var readOnly: [Root]
    /// Whether existing files with several hard links may be written.
    public var allowHardlinkedWrites: Bool

    /// Devices every program needs and that give access to nothing else: reading and writing them
    /// is allowed unless `blocked_paths` says otherwise (denying `/dev/null` breaks ordinary
    /// programs, as the original's default policy broke `tempfile`, §12.1 item 16).
    static let harmlessDevices: Set<String> = [
        "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx",
    ]

    /// Resolves the entries of `document` against `baseDirectory` (relative entries) and
    /// `homeDirectory` (`~`), or, with a `translation`, reads them as the host does and resolves
    /// the paths they name in this (the sandbox's) view.
    ///
    /// - Parameters:
    ///   - document: the policy.
    ///   - baseDirectory: where relative entries resolve (and this process's working directory).
    ///   - homeDirectory: what `~` means.
    ///   - translation: inside a sandbox, how host paths map to the sandbox's view.
    /// - Throws: `PolicyError` when an entry cannot be resolved (a symlink loop, a component that
    ///   cannot be examined): a rule whose meaning is unknown must not be guessed.
    public init(
        document: PolicyDocument, baseDirectory: String, homeDirectory: String, translation: PathTranslation? = nil
    ) throws(PolicyError) {
        func roots(_ entries: [Located<String>], denying: Bool = false) throws(PolicyError) -> [Root] {
            var result: [Root] = []
            for entry in entries {
                let trimmed = entry.value.trimmingWhitespace()
                guard !trimmed.isEmpty else {
                    throw PolicyError(.invalidValue, "the path is empty.", at: entry.location, keyPath: entry.keyPath,
                                      hint: "Remove the entry or give a path.")
                }
                // Inside a sandbox an entry may name several paths there: its own, and /workspace
                // when it holds the host workspace (PathTranslation.insidePaths).
                let paths = translation?.insidePaths(of: trimmed)
                    ?? [PathResolver.absolute(entry: trimmed, baseDirectory: baseDirectory, homeDirectory: homeDirectory)]
                for absolute in paths {
                    do {
                        let resolved = try PathResolver.resolve(absolute, workingDirectory: baseDirectory)
                        result.append(Root(entry: entry.value, keyPath: entry.keyPath, path: resolved.canonical,
                                           allowReason: "Inside \(entry.keyPath) (\(entry.value))."))
                    } catch where denying && error.errno == EACCES {
                        // A blocked path behind a directory this user may not search (another user's
                        // home, the image's /root inside a container): no path this user can follow
                        // reaches it, so blocking its name as written denies all there is to deny.
                        result.append(Root(entry: entry.value, keyPath: entry.keyPath, path: PathTranslation.lexical(absolute),
                                           allowReason: "Inside \(entry.keyPath) (\(entry.value))."))
                    } catch {
                        throw PolicyError(.invalidValue, error.description, at: entry.location, keyPath: entry.keyPath,
                                          hint: "Fix the path or the permissions along it.")
                    }
                }
            }
            return result
        }
        allowed = try roots(document.allowedPaths)
        blocked = try roots(document.blockedPaths, denying: true)
        readOnly = try roots(document.readOnlyPaths)
        allowHardlinkedWrites = document.allowHardlinkedWrites
    }

    /// Decides whether `path` may be accessed.
    ///
    /// Order: the path is resolved (a failure denies); `blocked_paths` deny; a write to a
    /// `read_only_paths` root denies; harmless devices are allowed; `allowed_paths` allow (for
    /// reads, `read_only_paths` too); a write to an existing file with several hard links denies
    /// unless `allow_hardlinked_writes`; anything else is outside the allowed paths.
    ///
    /// - Parameters:
    ///   - path: the path as the program gave it.
    ///   - access: read or write.
    ///   - workingDirectory: the absolute working directory of the process that will open it.
    ///   - processID: the process whose `/proc/self` and `/dev/fd` are meant (`nil`: this one).
    ///   - entryOnly: the write changes a directory entry (unlink, rename, link), not the file's
    ///     contents: the hard-link rule, which keeps a link to a file outside from being written
    ///     through, does not apply.
    public func check(
        _ path: String, access: FileAccess, workingDirectory: String, processID: Int32? = nil, entryOnly: Bool = false
    ) -> Verdict {
        // Only a write of contents looks at the hard-link count (below), so nothing else pays for it.
        let countingLinks = access == .write && !entryOnly
        let ownProcess = processID == nil || processID == getpid()
        // The common case, a path without symlinks in this process's view, is decided on the bytes
        // of the canonical path, which never become a String unless a message needs them.
        if ownProcess, let verdict = PathResolver.withSymlinkFreeResolution(
            path, workingDirectory: workingDirectory, countingLinks: countingLinks, { canonical, exists, hardLinked in
                decide(canonical, path: path, access: access, exists: exists, isHardLinkedFile: hardLinked, openObject: nil)
            }) {
            return verdict
        }
        var resolved: ResolvedPath
        do {
            resolved = try PathResolver.resolve(path, workingDirectory: workingDirectory, processID: processID,
                                                countingLinks: countingLinks, symlinkFreeTier: false)
        } catch {
            return .deny(rule: "builtin:path-resolution", reason: "\(error.description) Access is denied.")
        }
        let exists = resolved.exists
        let hardLinked = resolved.isHardLinkedFile
        let openObject = resolved.openObject
        return resolved.canonical.withUTF8 { canonical in
            decide(canonical, path: path, access: access, exists: exists, isHardLinkedFile: hardLinked, openObject: openObject)
        }
    }

    /// The rules applied to a resolved path, `target` (canonical, as bytes: containment compares
    /// bytes, as the kernel compares names).
    private func decide(
        _ target: UnsafeBufferPointer<UInt8>, path: String, access: FileAccess, exists: Bool, isHardLinkedFile: Bool,
        openObject: String?
    ) -> Verdict {
        // Built only for the messages of a denial: this runs for every file an agent touches.
        var shown: String {
            path.utf8.elementsEqual(target) ? path : "\(path) (\(String(decoding: target, as: UTF8.self)))"
        }

        if let index = blocked.firstIndex(where: { PathResolver.isPath(target, within: $0.path) }) {
            return .deny(
                rule: blocked[index].keyPath, reason: "Access to \(shown) is explicitly blocked.",
                remedy: "Remove \"\(blocked[index].entry)\" from blocked_paths (blocked paths win over allowed ones)."
            )
        }
        if access == .write, let index = readOnly.firstIndex(where: { PathResolver.isPath(target, within: $0.path) }) {
            return .deny(
                rule: readOnly[index].keyPath, reason: "Writing to \(shown) is not allowed: it is under a read-only path.",
                remedy: "Move \"\(readOnly[index].entry)\" from read_only_paths to allowed_paths."
            )
        }
        if let openObject {
            // A pipe or socket the process already holds, reopened through /proc: no file is reached.
            return .allow(rule: "builtin:open-descriptor", reason: "\(path) is \(openObject) already open in the process.")
        }
        if Self.isHarmlessDevice(target) {
            return .allow(rule: "builtin:harmless-devices", reason: "\(shown) is a terminal or a data device.")
        }
        let root: Root
        if let index = allowed.firstIndex(where: { PathResolver.isPath(target, within: $0.path) }) {
            root = allowed[index]
        } else if access == .read, let index = readOnly.firstIndex(where: { PathResolver.isPath(target, within: $0.path) }) {
            root = readOnly[index]
        } else {
            return .deny(
                rule: "default:allowed_paths", reason: "Access to \(shown) is outside the allowed workspace.",
                remedy: "Add \"\(Self.suggestedRoot(for: String(decoding: target, as: UTF8.self), exists: exists))\" to \(access == .read ? "allowed_paths or read_only_paths" : "allowed_paths")."
            )
        }
        if access == .write, isHardLinkedFile, !allowHardlinkedWrites {
            return .deny(
                rule: "builtin:hard-links",
                reason: "Writing to \(shown) is not allowed: the file has several hard links, and another link may lie outside the allowed paths.",
                remedy: "Set allow_hardlinked_writes: true if hard-linked files in \(root.entry) are expected."
            )
        }
        return .allow(rule: root.keyPath, reason: root.allowReason)
    }

    /// Whether `path` is one of `harmlessDevices` or under `/dev/pts`, compared as bytes (a `Set`
    /// of Strings would match by canonical equivalence, not by the name the kernel opens).
    private static func isHarmlessDevice(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard path.starts(with: "/dev/".utf8) else { return false }
        return harmlessDevices.contains { $0.utf8.elementsEqual(path) } || PathResolver.isPath(path, within: "/dev/pts")
    }

    /// The directory to suggest allowing: the path's parent directory.
    private static func suggestedRoot(for path: String, exists: Bool) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")), slash != path.utf8.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
