// What a run did, for `--json-status` and for the audit writer (which records the start and end
// of every sandboxed run).

/// The protections that were actually in force during a run.
public struct SandboxProtections: Codable, Sendable, Equatable {
    /// Namespaces the workload runs in.
    public var namespaces: [String] = []
    /// `none (new network namespace, loopback only)` or `host (NOT isolated)`.
    public var network: String = ""
    /// The workload's uid:gid (the same inside and outside).
    public var workloadIdentity: String = ""
    /// Whether the workspace is an idmapped mount (root callers).
    public var idmappedWorkspace: Bool = false
    /// Landlock status, e.g. `enforced (ABI 7, ...)` or `unavailable`.
    public var landlock: String = "not applied"
    /// Seccomp status.
    public var seccomp: String = "not applied"
    /// Whether every capability set was emptied.
    public var capabilitiesDropped: Bool = false
    /// Whether no_new_privs was set.
    public var noNewPrivileges: Bool = false
    /// How limits were enforced: `cgroup v1`, `cgroup v2` or `rlimits`, with the values.
    public var limits: String = ""
    /// Per-action decisions inside the boundary: `sentinel guard (audit log …)` in a Docker
    /// container, `not applied` otherwise.
    public var guardInside: String = "not applied"

    /// Creates an empty record (filled in as the run proceeds).
    public init() {}
}

/// The start and end of one sandboxed run.
public struct SandboxRunReport: Codable, Sendable, Equatable {
    /// `native` (or `docker` later).
    public var backend: String = "native"
    /// The command as given.
    public var command: [String]
    /// The host workspace.
    public var workspace: String
    /// Unix time (seconds) when the launcher started the stage.
    public var startedAt: Double = 0
    /// Unix time (seconds) when the workload's end was seen.
    public var endedAt: Double = 0
    /// Wall-clock duration in seconds.
    public var durationSeconds: Double = 0
    /// Exit status as a shell reports it: the code, or 128 + the signal.
    public var exitStatus: Int32 = 0
    /// The workload's exit code, when it exited.
    public var exitCode: Int32?
    /// The signal that ended the workload, when one did.
    public var signal: Int32?
    /// What was in force.
    public var protections = SandboxProtections()
    /// Limits or rules that stopped the workload (e.g. `memory limit reached (OOM kill)`).
    public var denials: [String] = []
    /// Protections that are weaker than asked, or missing.
    public var warnings: [String] = []
    /// The setup error, when the sandbox could not be built.
    public var error: String?
    /// In seccomp log mode: the calls the profile would have denied, one line each with counts.
    public var seccompWouldDeny: [String] = []

    /// Creates a report for a run that is about to start.
    public init(command: [String], workspace: String) {
        self.command = command
        self.workspace = workspace
    }
}
