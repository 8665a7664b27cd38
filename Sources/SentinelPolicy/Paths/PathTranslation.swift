/// How a policy written for the host is read inside a sandbox or container, so that a path in the
/// policy names the same files on every backend.
///
/// On the host, relative entries resolve against the operator's working directory and `~` against
/// the operator's home (as `sentinel guard` and compatibility mode read them). Inside, the host's
/// workspace is `/workspace` and other host trees may be bound elsewhere: an entry that names the
/// host workspace, or something under it (`./workspace`, `/home/me/project/workspace/out`), must
/// name the corresponding path under `/workspace`, or the guard inside would decide on a path
/// that does not exist there (`/workspace/workspace`) and refuse what the host allows.
///
/// The entry is made absolute with the host's base and home, `.` and `..` are folded lexically
/// (the host's file system is not visible inside, so its symlinks cannot be followed), and the
/// longest host prefix that contains it is replaced by where the sandbox shows that tree. An entry
/// under no mapped prefix keeps its host path (system directories and binds at the same path are
/// the same path inside). An entry that reaches the workspace through a symlink on the host is not
/// recognised and names a path that does not exist inside, so it allows nothing there.
public struct PathTranslation: Sendable, Hashable, Codable {
    /// A host tree and where the sandbox shows it.
    public struct Mapping: Sendable, Hashable, Codable {
        /// The absolute host path (canonical when the host could resolve it).
        public var host: String
        /// The absolute path inside the sandbox.
        public var inside: String

        /// Creates a mapping.
        public init(host: String, inside: String) {
            self.host = host
            self.inside = inside
        }
    }

    /// Where relative entries resolve on the host (the operator's working directory).
    public var hostBaseDirectory: String
    /// What `~` means on the host (the operator's home).
    public var hostHomeDirectory: String
    /// The host trees the sandbox shows elsewhere, the workspace first.
    public var mappings: [Mapping]

    /// Creates a translation.
    ///
    /// - Parameters:
    ///   - hostBaseDirectory: the operator's working directory on the host (absolute).
    ///   - hostHomeDirectory: the operator's home on the host (absolute).
    ///   - mappings: host trees and where the sandbox shows them.
    public init(hostBaseDirectory: String, hostHomeDirectory: String, mappings: [Mapping]) {
        self.hostBaseDirectory = hostBaseDirectory
        self.hostHomeDirectory = hostHomeDirectory
        self.mappings = mappings
    }

    /// The path inside the sandbox that `entry` (a policy path as written) names on the host.
    ///
    /// - Parameter entry: the entry, trimmed (`./workspace`, `~/.ssh`, `/etc/shadow`).
    /// - Returns: an absolute path in the sandbox's view.
    public func insidePath(of entry: String) -> String {
        let host = Self.lexical(PathResolver.absolute(entry: entry, baseDirectory: hostBaseDirectory, homeDirectory: hostHomeDirectory))
        var best: Mapping?
        for mapping in mappings where PathResolver.isPath(host, within: Self.lexical(mapping.host)) {
            if best.map({ $0.host.utf8.count < mapping.host.utf8.count }) ?? true { best = mapping }
        }
        guard let best else { return host }
        let root = Self.lexical(best.host)
        let rest = root == "/" ? host : String(decoding: host.utf8.dropFirst(root.utf8.count), as: UTF8.self)
        if rest.isEmpty { return best.inside }
        return best.inside == "/" ? rest : best.inside + rest
    }

    /// Every path inside the sandbox that `entry` covers: ``insidePath(of:)``, then where the
    /// sandbox shows each mapped host tree the entry contains. An entry naming a directory that
    /// holds the host workspace (`./` run beside it, `~`) covers the workspace on the host, so it
    /// must cover `/workspace` inside as well, or the same entry would allow (or block) the
    /// workspace's files on the host and not in the sandbox.
    ///
    /// - Parameter entry: the entry, trimmed.
    /// - Returns: absolute paths in the sandbox's view, the entry's own first.
    public func insidePaths(of entry: String) -> [String] {
        var paths = [insidePath(of: entry)]
        let host = Self.lexical(PathResolver.absolute(entry: entry, baseDirectory: hostBaseDirectory, homeDirectory: hostHomeDirectory))
        for mapping in mappings {
            let root = Self.lexical(mapping.host)
            guard root != host, PathResolver.isPath(root, within: host), !paths.contains(mapping.inside) else { continue }
            paths.append(mapping.inside)
        }
        return paths
    }

    /// `path` with `.`, `..` and repeated slashes folded, without looking at any file (`..` above
    /// the root stays at the root, as the kernel treats it).
    public static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }
}
