// What the Docker backend needs besides the `SandboxSpec`: the image, Docker's network modes
// (the spec's `NetworkMode` has no `bridge`, which only Docker provides), the identity the
// container runs as, and how to reach the engine.

/// The network a container gets (`docker run --network`).
public enum DockerNetwork: String, Codable, Sendable, CaseIterable {
    /// No network interface but loopback.
    case none
    /// Docker's default bridge: NAT to wherever the host can reach (refused in production).
    case bridge
    /// The host's network namespace: no isolation (refused in production).
    case host
    /// An internal network shared only with a proxy container running `sentinel proxy`, which
    /// is the one way out (``DockerProxiedNetwork``).
    case proxied
}

/// Docker-specific settings of one run.
public struct DockerRunOptions: Codable, Sendable, Equatable {
    /// The image the command runs in.
    public var image: String
    /// The container's network.
    public var network: DockerNetwork
    /// `uid:gid` the container runs as; `nil` picks one with `DockerIdentity.choose`.
    public var user: String?
    /// The `docker` executable (a name looked up on `PATH`, or a path).
    public var dockerBinary: String
    /// Whether to build `image` when it is missing.
    public var buildIfMissing: Bool
    /// The base image for that build (`SENTINEL_BASE_IMAGE`, default `debian:bookworm-slim`).
    public var baseImage: String
    /// Whether to add `--tty` (the launcher sets it when stdin and stdout are terminals).
    public var terminal: Bool
    /// Whether the image's entrypoint runs the command under `sentinel guard` (`--guard`,
    /// `SENTINEL_GUARD=1`); off by default, as on the native backend: the container is the boundary.
    public var guardInContainer: Bool
    /// A host directory for the guard's audit log, mounted at ``guardAuditMountPoint``; `nil`
    /// leaves the log at the policy's `audit.path` inside the container.
    public var guardAuditDirectory: String?

    /// Where ``guardAuditDirectory`` appears inside the container (the image creates it).
    public static let guardAuditMountPoint = "/var/log/sentinel"
    /// `--network proxied`: a host directory for the proxy container's audit log.
    public var proxyAuditDirectory: String?
    /// `--network proxied`: a hosts file for the proxy (`--proxy-hosts-file`).
    public var proxyHostsFile: String?
    /// `--network proxied` with inspected hosts: the CA and credentials of the proxy container.
    public var proxyInspection: DockerProxyInspection?
    /// `--network proxied`: the run's network and proxy, once started (``DockerSandbox/run``).
    public var proxiedNetwork: DockerProxiedNetwork?
    /// In production, the SHA-256 of the policy the backend verified (``SandboxProduction``):
    /// the container gets it as `SENTINEL_POLICY_SHA256`, with production mode, so the Sentinel
    /// inside holds the same rules and loads exactly that text. Set by ``DockerSandbox/prepare``.
    public var productionPolicySHA256: String?

    /// The default image name, as in the original runner.
    public static let defaultImage = "sentinel-guard:local"
    /// The default base image of `--build-if-missing`.
    public static let defaultBaseImage = "debian:bookworm-slim"

    /// Creates options with the original runner's defaults.
    public init(
        image: String = DockerRunOptions.defaultImage,
        network: DockerNetwork = .none,
        user: String? = nil,
        dockerBinary: String = "docker",
        buildIfMissing: Bool = false,
        baseImage: String = DockerRunOptions.defaultBaseImage,
        terminal: Bool = false,
        guardInContainer: Bool = false,
        guardAuditDirectory: String? = nil
    ) {
        self.image = image
        self.network = network
        self.user = user
        self.dockerBinary = dockerBinary
        self.buildIfMissing = buildIfMissing
        self.baseImage = baseImage
        self.terminal = terminal
        self.guardInContainer = guardInContainer
        self.guardAuditDirectory = guardAuditDirectory
    }
}

/// Which non-root identity the container runs as.
public enum DockerIdentity {
    /// The workspace's owner when that is not root (so the workload can write its workspace,
    /// as with the native backend's idmapped mount); else the caller when not root; else
    /// `fallback` (the spec's `rootCallerWorkloadID`, 65534). Never 0: Docker 20.10 has no
    /// idmapped volumes, so root in the container would be root on the workspace.
    public static func choose(workspaceOwner: (uid: UInt32, gid: UInt32)?, caller: (uid: UInt32, gid: UInt32), fallback: UInt32) -> String {
        if let owner = workspaceOwner, owner.uid != 0 { return "\(owner.uid):\(owner.gid)" }
        if caller.uid != 0 { return "\(caller.uid):\(caller.gid)" }
        return "\(fallback):\(fallback)"
    }
}

extension String {
    /// Without leading and trailing white space (FoundationEssentials has no `trimmingCharacters`).
    func trimmed() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
