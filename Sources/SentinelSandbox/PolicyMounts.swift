// How a policy's path rules shape the sandbox's file system (issue 4). The policy's paths mean on
// every backend what they mean on the host: relative entries resolve against the directory
// sentinel-isolate runs in and `~` against the caller's home, as `sentinel guard` and
// compatibility mode read them (the guard inside a sandbox translates them, `PathTranslation`).
// `allowed_paths` and `read_only_paths` outside the workspace become binds at the same path;
// `blocked_paths` that the sandbox can see are masked. System directories keep their baseline
// (read-only, secret files removed): a policy cannot make /usr writable, and blocking /etc as a
// whole (older starter policies did) would break every program, so only entries strictly inside
// a system directory are masked.

import FoundationEssentials
public import SentinelPolicy

/// The binds and masks a policy adds to a sandbox, and what it chose not to do and why.
public struct PolicyMounts: Sendable, Equatable {
    /// Extra binds (source and destination are the same host path).
    public var binds: [SandboxSpec.Bind] = []
    /// Paths inside the sandbox to hide behind an empty mount: in the workspace and the binds.
    public var blockedPaths: [String] = []
    /// Paths strictly inside a system directory (`/etc/shadow`) to hide behind an empty mount:
    /// the native sandbox shows the host's system directories; a container shows the image's.
    public var systemBlockedPaths: [String] = []
    /// One sentence per entry that was not applied, with the reason.
    public var notes: [String] = []

    /// Directories the sandbox always shows read-only from the host.
    static let systemDirectories = SandboxFilesystem.systemDirectories.map { "/" + $0 }
    /// Paths the sandbox owns; a policy entry cannot be bound over them.
    static let reserved = ["/proc", "/dev", "/workspace", "/.sentinel", SandboxLayout.policyDirectory]
    /// Directories the sandbox makes fresh: a subdirectory can be bound into them, not the whole.
    static let fresh = ["/", "/tmp", "/run"]

    /// Maps the path rules of `document` onto a sandbox whose workspace is `hostWorkspace` (an
    /// absolute host path), given the binds the caller already asked for.
    ///
    /// - Parameters:
    ///   - document: the policy.
    ///   - hostWorkspace: the workspace on the host, shown at `/workspace`.
    ///   - hostDirectory: where relative entries resolve (the caller's working directory).
    ///   - hostHome: what `~` means (the caller's home).
    ///   - existingBinds: the binds the caller asked for.
    ///   - protectedPaths: host files and directories the command must not reach (the policy, the
    ///     run's audit log and records): an entry that contains one is not bound.
    /// - Throws: `PolicyError` when an entry cannot be resolved (a symlink loop, a component that
    ///   cannot be examined): a rule whose meaning is unknown is refused, not guessed.
    public static func plan(
        document: PolicyDocument, hostWorkspace: String, hostDirectory: String, hostHome: String,
        existingBinds: [SandboxSpec.Bind] = [], protectedPaths: [String] = []
    ) throws(PolicyError) -> PolicyMounts {
        let workspace = (try? PathResolver.resolve(hostWorkspace, workingDirectory: "/").canonical) ?? hostWorkspace
        let rules = try PathRules(document: document, baseDirectory: hostDirectory, homeDirectory: hostHome)
        var result = PolicyMounts()

        func isInside(_ path: String, _ root: String) -> Bool {
            root == "/" || path == root || path.hasPrefix(root + "/")
        }
        func exists(_ path: String) -> Bool { (try? Sys.statPath(path)) != nil }

        for (roots, readOnly) in [(rules.allowed, false), (rules.readOnly, true)] {
            for root in roots {
                let path = root.path
                if isInside(path, workspace) { continue }  // already visible under /workspace
                if let system = systemDirectories.first(where: { isInside(path, $0) || isInside($0, path) }) {
                    result.notes.append("\(root.keyPath) (\(root.entry)): \(system) stays read-only in the sandbox; the entry is not bound.")
                    continue
                }
                if reserved.contains(where: { isInside(path, $0) }) || fresh.contains(path) {
                    result.notes.append("\(root.keyPath) (\(root.entry)): \(path) is the sandbox's own; the entry is not bound.")
                    continue
                }
                guard exists(path) else {
                    result.notes.append("\(root.keyPath) (\(root.entry)): \(path) does not exist; nothing is bound.")
                    continue
                }
                // `./` beside the workspace usually holds the policy and the run's audit log: a bind
                // of it would let the command rewrite both.
                if let kept = protectedPaths.first(where: { isInside($0, path) }) {
                    result.notes.append(
                        "\(root.keyPath) (\(root.entry)): \(path) holds \(kept), which the command must not reach; the entry is not "
                            + "bound (the workspace is at /workspace; name the other directories it needs one by one).")
                    continue
                }
                if let index = result.binds.firstIndex(where: { $0.source == path }) {
                    // The same path in both lists: read-only wins (deny wins).
                    result.binds[index].readOnly = result.binds[index].readOnly || readOnly
                    continue
                }
                result.binds.append(SandboxSpec.Bind(source: path, destination: path, readOnly: readOnly))
            }
        }

        let allBinds = existingBinds + result.binds
        for root in rules.blocked {
            let path = root.path
            var inside: String?
            var system = false
            if isInside(path, workspace) {
                inside = "/workspace" + path.dropFirst(workspace.count)
            } else if let bind = allBinds.first(where: { isInside(path, $0.source) }) {
                inside = bind.destination + path.dropFirst(bind.source.count)
            } else if let directory = systemDirectories.first(where: { isInside(path, $0) }) {
                // The directory as a whole stays read-only with its secrets removed (documented
                // in docs/SANDBOX.md; not reported per run, since older starter policies said /etc).
                if path != directory { inside = path }
                system = true
            }
            guard let inside, exists(path) else { continue }
            if system {
                if !result.systemBlockedPaths.contains(inside) { result.systemBlockedPaths.append(inside) }
            } else if !result.blockedPaths.contains(inside) {
                result.blockedPaths.append(inside)
            }
        }
        return result
    }
}
