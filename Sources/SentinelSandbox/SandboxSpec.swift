// SandboxSpec: one hardened description of a sandboxed run, built from plain values (CLI flags
// today, `sentinel.yaml` later) and handed to a backend. It is Codable because the native
// backend passes it to its re-executed stage as JSON over an inherited pipe.

/// Everything a backend needs to run one command in a sandbox.
///
/// Paths are absolute host paths (the launcher resolves relative ones against the current
/// directory before building the spec). The seams for the policy loader are `binds`,
/// `blockedPaths`, `environmentAllowList` and `limits`; the seam for seccomp is `seccomp`.
public struct SandboxSpec: Codable, Sendable, Equatable {
    /// The program and its arguments; `command[0]` is looked up on the sandbox's `PATH` when it
    /// has no slash.
    public var command: [String]
    /// Host directory mounted read-write at `/workspace`, the working directory.
    public var workspace: String
    /// Host file mounted read-only at ``SandboxLayout/policyPath`` (outside the workspace), if any.
    public var policyFile: String?
    /// Which network the workload gets.
    public var network: NetworkMode
    /// Additional bind mounts of host paths outside the workspace.
    public var binds: [Bind]
    /// Paths (as seen inside the sandbox) hidden behind an empty, unreadable mount.
    public var blockedPaths: [String]
    /// Names of caller environment variables passed through (besides PATH, LANG, TERM).
    public var environmentAllowList: [String]
    /// Variables set in the workload's environment, after the allow-list (they win).
    public var environment: [String: String]
    /// Resource limits.
    public var limits: Limits
    /// Whether the run must refuse to start when the kernel has no Landlock.
    public var requireLandlock: Bool
    /// The seccomp settings (installed by `SandboxStage+Seccomp.swift`).
    public var seccomp: SeccompSettings
    /// The host name inside the sandbox (a new UTS namespace).
    public var hostname: String
    /// The identity the workload runs as when the caller is root (ignored for ordinary callers,
    /// who always run as themselves).
    public var rootCallerWorkloadID: UInt32
    /// `--network proxied`: the host path of the policy proxy's Unix socket (`sentinel proxy
    /// --unix`), which PID 1 relays 127.0.0.1:3128 to. Its owner must be the identity PID 1 runs
    /// as outside (the caller, or `rootCallerWorkloadID` for a root caller).
    public var proxySocket: String?
    /// `--guard` on the native backend: `sentinel guard` runs inside, as the command's parent,
    /// with the mounted policy; `nil` runs the command itself (the default: the sandbox is the
    /// boundary). The Docker backend's switch is `DockerRunOptions.guardInContainer`.
    public var guardInside: GuardInside?

    /// Creates a spec with the defaults of `sentinel-isolate`.
    public init(
        command: [String],
        workspace: String,
        policyFile: String? = nil,
        network: NetworkMode = .none,
        binds: [Bind] = [],
        blockedPaths: [String] = [],
        environmentAllowList: [String] = [],
        environment: [String: String] = [:],
        limits: Limits = Limits(),
        requireLandlock: Bool = false,
        seccomp: SeccompSettings = SeccompSettings(),
        hostname: String = "sentinel",
        rootCallerWorkloadID: UInt32 = 65534,
        proxySocket: String? = nil,
        guardInside: GuardInside? = nil
    ) {
        self.command = command
        self.workspace = workspace
        self.policyFile = policyFile
        self.network = network
        self.binds = binds
        self.blockedPaths = blockedPaths
        self.environmentAllowList = environmentAllowList
        self.environment = environment
        self.limits = limits
        self.requireLandlock = requireLandlock
        self.seccomp = seccomp
        self.hostname = hostname
        self.rootCallerWorkloadID = rootCallerWorkloadID
        self.proxySocket = proxySocket
        self.guardInside = guardInside
    }

    /// What the native backend needs to run `sentinel guard` inside the sandbox.
    public struct GuardInside: Codable, Sendable, Equatable {
        /// The host path of the `sentinel` binary, bound read-only at the same path (with the
        /// directories of the shared libraries it loads that the sandbox does not show).
        public var binary: String
        /// A host directory outside the workspace for the guard's records, bound read-write at
        /// ``SandboxLayout/recordsDirectory``; its owner must be the identity the workload runs as.
        public var recordsDirectory: String

        /// Creates the settings.
        public init(binary: String, recordsDirectory: String) {
            self.binary = binary
            self.recordsDirectory = recordsDirectory
        }
    }

    /// The network a sandbox gets.
    public enum NetworkMode: String, Codable, Sendable, CaseIterable {
        /// A new network namespace with only loopback, up.
        case none
        /// The host's network namespace (no isolation; loopback services are reachable).
        case host
        /// A new network namespace with only loopback; PID 1 relays 127.0.0.1:3128 to the
        /// policy proxy's Unix socket (`SandboxSpec.proxySocket`), the only way out.
        case proxied

        /// Whether the sandbox gets its own network namespace.
        public var isolated: Bool { self != .host }
    }

    /// A host path made visible inside the sandbox.
    public struct Bind: Codable, Sendable, Equatable {
        /// Absolute host path (file or directory).
        public var source: String
        /// Absolute path inside the sandbox.
        public var destination: String
        /// Whether the workload may write through it.
        public var readOnly: Bool

        /// Creates a bind; the destination defaults to the source path.
        public init(source: String, destination: String? = nil, readOnly: Bool) {
            self.source = source
            self.destination = destination ?? source
            self.readOnly = readOnly
        }
    }

    /// Resource limits: cgroups when usable, rlimits otherwise (the run report says which).
    public struct Limits: Codable, Sendable, Equatable {
        /// Maximum number of processes and threads.
        public var pids: Int
        /// Maximum memory in bytes.
        public var memoryBytes: Int64
        /// CPU share in CPUs (1.0 = one full CPU).
        public var cpus: Double
        /// `RLIMIT_NOFILE` for the workload.
        public var openFiles: Int
        /// Size of the `/tmp` tmpfs in bytes.
        public var tmpBytes: Int64
        /// Size of the `/run` tmpfs in bytes.
        public var runBytes: Int64

        /// Creates limits; the defaults are the original runner's (256 pids, 512 MiB, 1 CPU,
        /// 64 MiB /tmp, 16 MiB /run) plus 4096 open files.
        public init(
            pids: Int = 256,
            memoryBytes: Int64 = 512 << 20,
            cpus: Double = 1.0,
            openFiles: Int = 4096,
            tmpBytes: Int64 = 64 << 20,
            runBytes: Int64 = 16 << 20
        ) {
            self.pids = pids
            self.memoryBytes = memoryBytes
            self.cpus = cpus
            self.openFiles = openFiles
            self.tmpBytes = tmpBytes
            self.runBytes = runBytes
        }
    }

    /// Seccomp settings as the CLI resolved them.
    public struct SeccompSettings: Codable, Sendable, Equatable {
        /// `enforce`, `log` or `off`.
        public var mode: Mode
        /// The resolved profile file (Docker's JSON format), when the mode is not `off`.
        public var profilePath: String?
        /// In log mode: where to write a profile that also allows the calls that were let
        /// through (`--seccomp-suggest`).
        public var suggestPath: String?
        /// When `profilePath` is nil: the built-in profile to use (`strict`, the default, or `datasci`).
        public var builtinProfile: String?

        /// Creates the settings.
        public init(mode: Mode = .enforce, profilePath: String? = nil, suggestPath: String? = nil, builtinProfile: String? = "strict") {
            self.mode = mode
            self.profilePath = profilePath
            self.suggestPath = suggestPath
            self.builtinProfile = builtinProfile
        }

        /// What happens on a syscall the profile does not allow.
        public enum Mode: String, Codable, Sendable, CaseIterable {
            /// The profile's actions apply.
            case enforce
            /// Calls the profile would deny are logged and allowed.
            case log
            /// No seccomp filter.
            case off
        }
    }
}
