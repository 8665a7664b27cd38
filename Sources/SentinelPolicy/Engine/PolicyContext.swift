#if canImport(Glibc)
import Glibc
#endif

/// The machine facts a policy is compiled against: where relative paths start, what `~` means,
/// and which `PATH` binds bare command names to executables.
///
/// Compiling once against an explicit context (instead of reading the working directory at each
/// check, as the original did) means a program cannot re-root its own rules with `chdir`.
public struct PolicyContext: Sendable, Hashable {
    /// Relative `allowed_paths`/`blocked_paths`/`read_only_paths` entries resolve against this:
    /// the working directory in compatibility mode, the workspace for a sandbox.
    public var baseDirectory: String
    /// What `~` expands to.
    public var homeDirectory: String
    /// The `PATH` searched when a bare command name in `allowed_commands` is bound to executables.
    public var searchPath: String
    /// Inside a sandbox: how the policy's paths, written for the host, map to the sandbox's view
    /// (`PathTranslation`). When set, path entries are read with the host's base and home and
    /// translated; `baseDirectory` and `homeDirectory` still mean this process's own.
    public var pathTranslation: PathTranslation?

    /// The PATH used when the environment has none (Debian's default for ordinary users plus sbin).
    public static let standardSearchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Creates a context.
    public init(
        baseDirectory: String, homeDirectory: String, searchPath: String = PolicyContext.standardSearchPath,
        pathTranslation: PathTranslation? = nil
    ) {
        self.baseDirectory = baseDirectory
        self.homeDirectory = homeDirectory
        self.searchPath = searchPath
        self.pathTranslation = pathTranslation
    }

    /// The calling process's context: its working directory, `$HOME` (or the password database),
    /// and `$PATH` (or the standard one).
    public static func current(environment: [String: String] = SentinelEnvironment.current()) -> PolicyContext {
        let base = currentDirectory() ?? "/"
        var home = environment["HOME"] ?? ""
        if home.isEmpty, let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            home = String(cString: directory)
        }
        if home.isEmpty { home = "/" }
        let path = environment["PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? standardSearchPath
        return PolicyContext(baseDirectory: base, homeDirectory: home, searchPath: path)
    }
}
