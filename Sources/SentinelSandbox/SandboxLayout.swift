// Where Sentinel puts its own files inside a sandbox or container, and the variables that tell
// the programs inside about them. One set of names for the native backend, the Docker backend,
// the compose profiles and the image's entrypoint, so that a policy and a command mean one thing
// whichever of them runs it.
//
// The policy is mounted outside the workspace: a mount point inside it (the old
// /workspace/sentinel.yaml) left an empty `sentinel.yaml` in every workspace after a run, which a
// later `sentinel policy validate` there read as an empty policy.

public import SentinelPolicy

/// Sentinel's paths and variables inside a sandbox or container.
public enum SandboxLayout {
    /// The directory holding the policy: a read-only mount of its own, so a workload can neither
    /// change the policy nor move a directory of its own into its place.
    public static let policyDirectory = "/run/sentinel"
    /// The policy, mounted read-only on every backend.
    public static let policyPath = policyDirectory + "/policy.yaml"
    /// Tells the workload where the policy is (set whenever one is mounted).
    public static let policyVariable = "SENTINEL_POLICY_FILE"
    /// The directory of the guard's records, outside the workspace.
    public static let recordsDirectory = "/var/log/sentinel"

    /// `1` runs the command under `sentinel guard` inside (`--guard`); `0` or unset does not.
    public static let guardVariable = "SENTINEL_GUARD"
    /// The older name of ``guardVariable``, still read by the image's entrypoint.
    public static let legacyGuardVariable = "SENTINEL_GUARD_IN_CONTAINER"

    /// The operator's working directory on the host: where the policy's relative entries resolve.
    public static let hostDirectoryVariable = "SENTINEL_HOST_DIRECTORY"
    /// The operator's home on the host: what the policy's `~` means.
    public static let hostHomeVariable = "SENTINEL_HOST_HOME"
    /// The host directory shown at `/workspace` (absolute, or relative to the host directory).
    public static let hostWorkspaceVariable = "SENTINEL_HOST_WORKSPACE"
    /// Stands for the host directory when whoever started the container did not say it (compose
    /// run without `PWD`): relative entries and a relative workspace still line up, and nothing
    /// exists there inside.
    public static let unknownHostDirectory = "/.sentinel-host-directory"

    /// The variables that tell the guard inside how to read the policy's paths: the operator's
    /// directory and home, and the host workspace.
    ///
    /// - Parameters:
    ///   - workspace: the host workspace (absolute).
    ///   - hostDirectory: the operator's working directory (absolute).
    ///   - hostHome: the operator's home, if known.
    /// - Returns: the variables, to add to the sandbox's environment.
    public static func hostVariables(workspace: String, hostDirectory: String, hostHome: String?) -> [String: String] {
        var variables = [hostWorkspaceVariable: workspace, hostDirectoryVariable: hostDirectory]
        if let hostHome, !hostHome.isEmpty { variables[hostHomeVariable] = hostHome }
        return variables
    }

    /// The translation the host variables in `environment` describe, or nil when no host
    /// workspace is named (a plain `docker run`: the policy is then read as it reads inside,
    /// against `/workspace`).
    ///
    /// - Parameter environment: the container's or sandbox's environment.
    /// - Returns: the translation for the guard inside.
    public static func translation(from environment: [String: String]) -> PathTranslation? {
        guard let workspace = environment[hostWorkspaceVariable].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        let given = environment[hostDirectoryVariable] ?? ""
        let directory = given.hasPrefix("/") ? given : unknownHostDirectory
        let home = environment[hostHomeVariable].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? unknownHostDirectory + "/~"
        let hostWorkspace = workspace.hasPrefix("/") ? workspace : directory + "/" + workspace
        return PathTranslation(
            hostBaseDirectory: directory, hostHomeDirectory: home,
            mappings: [PathTranslation.Mapping(host: PathTranslation.lexical(hostWorkspace), inside: ContainerEntrypoint.workspace)])
    }
}
