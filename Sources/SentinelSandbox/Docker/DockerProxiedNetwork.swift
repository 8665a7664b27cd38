// `--network proxied` on the Docker backend, the compose `proxied` profile made per run: an
// internal network (no route out, no outside DNS) that only the sandbox and a proxy container
// share, and the proxy container (`sentinel proxy` from the same image) also attached to Docker's
// default bridge, its only way out. The sandbox's HTTP(S)_PROXY points at the proxy's address on
// the internal network, and the guard inside may connect to exactly that address.
//
// Everything is created for the run and removed after it, labelled with the run's id so a
// crashed run's leftovers can be found (`docker network ls --filter label=org.sentinel-guard.run`).

import Glibc
import SentinelPolicy

/// The proxy container and internal network of one proxied Docker run.
public struct DockerProxiedNetwork: Codable, Sendable, Equatable {
    /// The port `sentinel proxy` listens on inside its container.
    public static let proxyPort: UInt16 = 3128
    /// The label every resource of a run carries, with the run's id as its value.
    public static let label = "org.sentinel-guard.run"

    /// The internal network the sandbox joins.
    public let networkName: String
    /// The proxy container's name.
    public let proxyContainer: String
    /// The proxy's IP address on the internal network (set once it runs).
    public var proxyAddress: String
    /// Inspected hosts: the run's copies of the Sentinel CA (the sandbox mounts its part).
    public var certificates: DockerCertificateCopies?

    /// `http://ADDRESS:3128`, for the proxy variables.
    public var proxyURL: String { "http://\(proxyAddress):\(Self.proxyPort)" }
    /// `ADDRESS:3128`, for the guard's `--allow-connect`.
    public var proxyEndpoint: String { "\(proxyAddress):\(Self.proxyPort)" }

    /// Names for a new run.
    public init(runID: String) {
        networkName = "sentinel-proxied-\(runID)"
        proxyContainer = "sentinel-proxy-\(runID)"
        proxyAddress = ""
    }

    /// A run id: this process's id and 32 random bits, in lowercase hex.
    public static func makeRunID() -> String {
        String(getpid(), radix: 16) + "-" + String(UInt32.random(in: .min ... .max), radix: 16)
    }

    /// What the proxy container is started with.
    public struct ProxySettings: Sendable {
        /// The image (the sandbox's, which holds `sentinel`).
        public var image: String
        /// The non-root `uid:gid` it runs as.
        public var user: String
        /// The policy file on the host (its `allowed_hosts` decide).
        public var policyFile: String?
        /// A hosts file on the host, consulted before DNS (`--proxy-hosts-file`).
        public var hostsFile: String?
        /// A host directory for the proxy's audit log (not shared with the sandbox).
        public var auditDirectory: String
        /// `--security-opt seccomp=…` for the proxy (the sandbox's profile).
        public var seccomp: DockerSeccompOption
        /// In production, the SHA-256 of `policyFile` as the backend verified it: the proxy then
        /// runs in production mode too and refuses any other text.
        public var productionPolicySHA256: String?
        /// Inspected hosts: the CA, the upstream CAs and the credentials' variables.
        public var inspection: DockerProxyInspection?
        /// The run's id (``SentinelAudit/AuditRunID``), which the proxy stamps on its records.
        public var runID: String?

        /// Creates the settings.
        public init(
            image: String, user: String, policyFile: String?, hostsFile: String?, auditDirectory: String, seccomp: DockerSeccompOption,
            productionPolicySHA256: String? = nil, inspection: DockerProxyInspection? = nil, runID: String? = nil
        ) {
            self.inspection = inspection
            self.runID = runID
            self.image = image
            self.user = user
            self.policyFile = policyFile
            self.hostsFile = hostsFile
            self.auditDirectory = auditDirectory
            self.seccomp = seccomp
            self.productionPolicySHA256 = productionPolicySHA256
        }
    }

    /// `docker network create` for the internal network.
    public func networkArguments(runID: String) -> [String] {
        ["network", "create", "--internal", "--label", "\(Self.label)=\(runID)", networkName]
    }

    /// `docker run` for the proxy: hardened like the sandbox, on the internal network only (the
    /// bridge is connected after it starts, so it is never on the bridge alone).
    public func proxyArguments(_ settings: ProxySettings, runID: String) throws(SandboxError) -> [String] {
        try DockerCommandLine.volumePath(settings.auditDirectory, "proxy audit directory")
        var arguments = [
            "run", "--detach", "--rm", "--name", proxyContainer, "--label", "\(Self.label)=\(runID)",
            "--network", networkName, "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--security-opt", settings.seccomp.securityOption, "--user", settings.user, "--init",
            "--pids-limit", "256", "--memory", "256m", "--tmpfs", "/tmp:rw,noexec,nosuid,size=16m",
            "--ulimit", "nofile=8192:8192", "--ulimit", "core=0",
            "--volume", "\(settings.auditDirectory):\(DockerRunOptions.guardAuditMountPoint):rw",
        ]
        var proxyFlags = [
            "proxy", "--listen", "0.0.0.0:\(Self.proxyPort)",
            "--audit-log", DockerRunOptions.guardAuditMountPoint + "/" + RunRecords.proxyLogName,
        ]
        if let runID = settings.runID { arguments += ["--env", "\(SentinelEnvironment.runID)=\(runID)"] }
        if let policy = settings.policyFile {
            try DockerCommandLine.volumePath(policy, "policy file")
            arguments += ["--volume", "\(policy):/opt/sentinel/policy.yaml:ro"]
            proxyFlags += ["--policy", "/opt/sentinel/policy.yaml"]
            if let digest = settings.productionPolicySHA256 {
                arguments += [
                    "--env", "\(SentinelEnvironment.production)=true", "--env", "\(SentinelEnvironment.policyImmutable)=true",
                    "--env", "\(SentinelEnvironment.policySHA256)=\(digest)",
                ]
            }
        } else {
            proxyFlags += ["--policy", "/opt/sentinel/sentinel.yaml"]
        }
        if let hosts = settings.hostsFile {
            try DockerCommandLine.volumePath(hosts, "proxy hosts file")
            arguments += ["--volume", "\(hosts):/opt/sentinel/hosts:ro"]
            proxyFlags += ["--hosts-file", "/opt/sentinel/hosts"]
        }
        if let copies = certificates {
            // The run's copy of the CA (key included), and the credentials by name: the client
            // copies each value from its own environment, so none is on a command line.
            try DockerCommandLine.volumePath(copies.proxyDirectory, "proxy CA copy")
            let mountPoint = DockerCertificateCopies.proxyMountPoint
            arguments += ["--volume", "\(copies.proxyDirectory):\(mountPoint):rw"]
            proxyFlags += ["--ca-dir", mountPoint]
            if settings.inspection?.upstreamCA != nil { proxyFlags += ["--upstream-ca", mountPoint + "/upstream.pem"] }
            for name in settings.inspection?.injectedVariables ?? [] { arguments += ["--env", name] }
        }
        // The proxy is not the workload: no guard around it, `sentinel` itself as the entrypoint.
        arguments += ["--entrypoint", "/opt/sentinel/bin/sentinel", "--pull", "never", settings.image] + proxyFlags
        return arguments
    }

    /// Creates the network, starts the proxy, attaches it to the bridge and waits until it
    /// listens. On any failure, what was created is removed and the error says what to do.
    public static func start(
        engine: DockerEngine, settings: ProxySettings, progress: (String) -> Void
    ) throws(SandboxError) -> DockerProxiedNetwork {
        let runID = makeRunID()
        var topology = DockerProxiedNetwork(runID: runID)
        let created = try engine.capture(topology.networkArguments(runID: runID))
        guard created.status == 0 else {
            throw SandboxError(
                .setupFailed,
                "Could not create the internal network \(topology.networkName) for --network proxied: \(created.output.trimmed()). "
                    + "Check that the Docker engine can create networks (docker network create --internal test).")
        }
        do throws(SandboxError) {
            if let inspection = settings.inspection {
                topology.certificates = try DockerCertificateCopies.make(for: inspection, user: settings.user)
            }
            let arguments = try topology.proxyArguments(settings, runID: runID)
            let started = try engine.capture(arguments)
            guard started.status == 0 else {
                throw SandboxError(
                    .setupFailed, "Could not start the proxy container: \(started.output.trimmed()).")
            }
            let attached = try engine.capture(["network", "connect", "bridge", topology.proxyContainer])
            guard attached.status == 0 else {
                throw SandboxError(
                    .setupFailed,
                    "Could not attach the proxy container to Docker's bridge network (its way out): \(attached.output.trimmed()).")
            }
            try topology.waitUntilListening(engine: engine)
            let inspected = try engine.capture([
                "inspect", "--format", "{{(index .NetworkSettings.Networks \"\(topology.networkName)\").IPAddress}}", topology.proxyContainer,
            ])
            let address = inspected.output.trimmed()
            guard inspected.status == 0, !address.isEmpty, !address.contains(" ") else {
                throw SandboxError(.setupFailed, "Could not read the proxy's address on \(topology.networkName): \(address).")
            }
            topology.proxyAddress = address
            progress("--network proxied: proxy \(topology.proxyContainer) at \(topology.proxyURL) on \(topology.networkName)")
            return topology
        } catch {
            topology.remove(engine: engine)
            throw error
        }
    }

    /// Polls the proxy's log for its listening line (at most 15 s); a proxy that exits first is
    /// reported with its last lines (a policy error, usually).
    func waitUntilListening(engine: DockerEngine) throws(SandboxError) {
        for _ in 0..<300 {
            let logs = try engine.capture(["logs", proxyContainer])
            if logs.output.contains("sentinel proxy: listening on") { return }
            let running = try engine.capture(["inspect", "--format", "{{.State.Running}}", proxyContainer])
            if running.status != 0 || running.output.hasPrefix("false") {
                let tail = logs.output.split(separator: "\n").suffix(3).joined(separator: " | ")
                throw SandboxError(.setupFailed, "The proxy container stopped before it listened: \(tail.isEmpty ? "no output" : tail).")
            }
            usleep(50_000)
        }
        throw SandboxError(.setupFailed, "The proxy container did not listen within 15 s; see docker logs \(proxyContainer).")
    }

    /// Removes the proxy container, the network and the CA copies; failures are ignored (nothing
    /// to do but leave labelled leftovers, which `docker network prune` removes).
    public func remove(engine: DockerEngine) {
        _ = try? engine.capture(["rm", "--force", proxyContainer])
        _ = try? engine.capture(["network", "rm", networkName])
        certificates?.remove()
    }
}
