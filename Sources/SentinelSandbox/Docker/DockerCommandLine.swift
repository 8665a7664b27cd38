// Renders a `SandboxSpec` as `docker run` arguments. Pure: no engine, no files, so the golden
// tests pin every argument. The order follows the original runner (original-system.md §6.4
// step 10), and what it lacked (a non-root user, an init, limits on open files and core dumps,
// the scrubbed environment, the spec's binds and masks) comes after the seccomp option.

import SentinelPolicy

/// One `docker run` invocation, ready to spawn or to print.
public struct DockerInvocation: Sendable, Equatable {
    /// The arguments after the `docker` executable, starting with `run`.
    public var arguments: [String]
    /// Values of the variables passed as `--env NAME` (caller variables on the allow-list): the
    /// `docker` process gets them in its environment, so secrets never appear in `ps` output.
    public var passedEnvironment: [String: String]

    /// Creates an invocation.
    public init(arguments: [String], passedEnvironment: [String: String] = [:]) {
        self.arguments = arguments
        self.passedEnvironment = passedEnvironment
    }

    /// The command as one shell-quoted line, `docker` first (`--dry-run` prints this).
    public func shellText(dockerBinary: String = "docker") -> String {
        ([dockerBinary] + arguments).map(ShellQuote.quote).joined(separator: " ")
    }
}

/// The seccomp part of `docker run`, already resolved to a file (or none).
public enum DockerSeccompOption: Sendable, Equatable {
    /// `--security-opt seccomp=unconfined` (`--seccomp-mode off`).
    case unconfined
    /// `--security-opt seccomp=<path>`: a profile file the `docker` client reads.
    case profile(path: String)

    /// The `--security-opt` value.
    public var securityOption: String {
        switch self {
        case .unconfined: "seccomp=unconfined"
        case .profile(let path): "seccomp=\(path)"
        }
    }
}

/// Renders specs as `docker run` command lines.
public enum DockerCommandLine {
    /// The proxy variables in the original's order (§6.4 step 11).
    static let proxyVariableOrder = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"]

    /// The `docker run` arguments for `spec`. Throws when Docker cannot express a part of it
    /// (a path with `:` in a volume) or the spec is invalid; never drops a protection silently.
    public static func render(
        _ spec: SandboxSpec, options: DockerRunOptions, seccomp: DockerSeccompOption, user: String,
        callerEnvironment: [String: String]
    ) throws(SandboxError) -> DockerInvocation {
        guard !spec.command.isEmpty, !spec.command[0].isEmpty else {
            throw SandboxError(.invalidSpec, "A command to execute inside the sandbox is required.")
        }
        guard !options.image.isEmpty, !options.image.hasPrefix("-") else {
            throw SandboxError(.invalidSpec, "The image name '\(options.image)' is not valid; pass --image NAME[:TAG].")
        }
        guard Self.isValidUser(user) else {
            throw SandboxError(.invalidSpec, "The container user must be a non-root uid:gid (got '\(user)').")
        }
        // Sentinel's keys never go into a container: a spec asking for one is refused, and the
        // caller's copies are not even looked at (`--env NAME` would read them from the client).
        try SandboxValidation.checkEnvironment(spec)
        let callerEnvironment = SentinelEnvironment.withoutSecrets(callerEnvironment)
        try volumePath(spec.workspace, "workspace")
        if let policy = spec.policyFile { try volumePath(policy, "policy file") }
        let limits = spec.limits
        var arguments = [
            "run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--pids-limit", "\(limits.pids)", "--memory", DockerSize.render(limits.memoryBytes), "--cpus", "\(limits.cpus)",
            "--tmpfs", "/tmp:rw,noexec,nosuid,size=\(DockerSize.render(limits.tmpBytes))",
            "--tmpfs", "/run:rw,noexec,nosuid,size=\(DockerSize.render(limits.runBytes))",
            "--network", options.network == .proxied ? (options.proxiedNetwork?.networkName ?? "sentinel-proxied-RUN") : options.network.rawValue,
            "--volume", "\(spec.workspace):/workspace:rw",
        ]
        // The policy outside the workspace (a mount point in it was left there as an empty file).
        if let policy = spec.policyFile { arguments += ["--volume", "\(policy):\(SandboxLayout.policyPath):ro"] }
        arguments += ["--workdir", "/workspace"]

        // The environment: the same scrubbed set as the native backend (SandboxEnvironment),
        // proxy variables first in the original's order, then the rest sorted.
        var fixed: [String: String] = ["PATH": SandboxEnvironment.path, "HOME": "/workspace", "LANG": callerEnvironment["LANG"] ?? "C.UTF-8"]
        if let term = callerEnvironment["TERM"] { fixed["TERM"] = term }
        if spec.policyFile != nil { fixed[SandboxLayout.policyVariable] = SandboxLayout.policyPath }
        var passed: [String: String] = [:]
        for name in spec.environmentAllowList where spec.environment[name] == nil {
            if let value = callerEnvironment[name] { passed[name] = value }
        }
        for (name, value) in spec.environment { fixed[name] = value }
        if options.network == .proxied {
            // The proxy's address on the internal network (a placeholder until it is started).
            let url = options.proxiedNetwork?.proxyURL ?? "http://PROXY:\(DockerProxiedNetwork.proxyPort)"
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"] { fixed[name] = url }
            fixed["NO_PROXY"] = "localhost,127.0.0.1,::1"
            fixed["no_proxy"] = fixed["NO_PROXY"]
            // Inspected hosts: TLS clients trust the Sentinel CA (mounted below).
            if options.proxyInspection != nil {
                for (name, value) in SandboxCertificates.environment { fixed[name] = value }
            }
            if options.guardInContainer, let endpoint = options.proxiedNetwork?.proxyEndpoint {
                fixed["SENTINEL_GUARD_ALLOW_CONNECT"] = endpoint
            }
        }
        // Production passes into the container, with the digest of the policy the backend
        // verified: the entrypoint and the guard inside then hold production's rules themselves
        // and load exactly that text (a policy changed after the check is refused inside).
        if ProductionMode.isOn(callerEnvironment) {
            fixed[SentinelEnvironment.production] = "true"
            fixed[SentinelEnvironment.policyImmutable] = "true"
            if let digest = options.productionPolicySHA256 { fixed[SentinelEnvironment.policySHA256] = digest }
            if ProductionMode.allowsNetwork(callerEnvironment) { fixed[ProductionMode.allowNetworkName] = "true" }
            // The entrypoint cannot tell an internal network from an open one (both have a route).
            fixed[ContainerEntrypoint.networkVariable] = options.network.rawValue
        }
        // The entrypoint's switch, always explicit so the command line says which mode ran.
        fixed[SandboxLayout.guardVariable] = options.guardInContainer ? "1" : "0"
        if options.guardInContainer, options.guardAuditDirectory != nil {
            fixed["SENTINEL_GUARD_AUDIT_LOG"] = ContainerEntrypoint.defaultAuditLog
        }
        for name in proxyVariableOrder {
            if let value = fixed.removeValue(forKey: name) { arguments += ["--env", "\(name)=\(value)"] }
        }
        arguments += ["--security-opt", seccomp.securityOption]
        arguments += ["--user", user, "--init", "--hostname", spec.hostname]
        arguments += ["--ulimit", "nofile=\(limits.openFiles):\(limits.openFiles)", "--ulimit", "core=0"]
        for name in fixed.keys.sorted() { arguments += ["--env", "\(name)=\(fixed[name]!)"] }
        for name in passed.keys.sorted() { arguments += ["--env", name] }
        for bind in spec.binds {
            try volumePath(bind.source, "bind source")
            try volumePath(bind.destination, "bind destination")
            arguments += ["--volume", "\(bind.source):\(bind.destination):\(bind.readOnly ? "ro" : "rw")"]
        }
        if options.guardInContainer, let directory = options.guardAuditDirectory {
            try volumePath(directory, "guard audit directory")
            arguments += ["--volume", "\(directory):\(DockerRunOptions.guardAuditMountPoint):rw"]
        }
        if options.network == .proxied, options.proxyInspection != nil {
            // The certificate and the bundle only (a placeholder until the run's copy exists).
            let copy = options.proxiedNetwork?.certificates?.sandboxDirectory ?? "/tmp/sentinel-docker-ca-RUN/sandbox"
            try volumePath(copy, "CA certificate copy")
            arguments += ["--volume", "\(copy):\(SandboxCertificates.directory):ro"]
        }
        for path in spec.blockedPaths {
            try volumePath(path, "blocked path")
            // An empty, read-only, mode-000 tmpfs over the directory (a file in the image cannot
            // take a tmpfs; Docker then refuses to start, which fails closed).
            arguments += ["--tmpfs", "\(path):ro,noexec,nosuid,nodev,size=4k,mode=000"]
        }
        arguments += ["--interactive"]
        if options.terminal { arguments += ["--tty"] }
        // Never reach for a registry: a missing image is an error with a sentence (see
        // DockerSandbox), not a pull from wherever the daemon is configured to look.
        arguments += ["--pull", "never"]
        // The image's ENTRYPOINT (scripts/entrypoint.sh) is kept: it prepares /workspace.
        arguments += ["--", options.image] + spec.command
        return DockerInvocation(arguments: arguments, passedEnvironment: passed)
    }

    /// `uid:gid`, both decimal, uid not 0.
    static func isValidUser(_ user: String) -> Bool {
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let uid = UInt32(parts[0]), UInt32(parts[1]) != nil else { return false }
        return uid != 0
    }

    /// Docker's `--volume` and `--tmpfs` split on `:`, so such a path cannot be expressed.
    static func volumePath(_ path: String, _ what: String) throws(SandboxError) {
        guard path.hasPrefix("/") else {
            throw SandboxError(.invalidSpec, "The \(what) must be an absolute path for Docker (got \(path)).")
        }
        guard !path.contains(":"), !path.contains(","), !path.contains("\n") else {
            throw SandboxError(
                .invalidSpec,
                "The \(what) \(path) contains ':', ',' or a newline, which Docker's --volume cannot express; rename it or use --backend native.")
        }
    }
}

/// Sizes in Docker's notation: the largest unit (g, m, k) that divides exactly, else bytes.
public enum DockerSize {
    /// `512m` for 512 MiB, `1g` for 1 GiB, `1500` for 1500 bytes.
    public static func render(_ bytes: Int64) -> String {
        for (suffix, factor) in [("g", Int64(1) << 30), ("m", 1 << 20), ("k", 1 << 10)] where bytes >= factor && bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return "\(bytes)"
    }
}

/// POSIX shell quoting for printed command lines.
public enum ShellQuote {
    /// `word` unchanged when it has only safe characters, else in single quotes.
    public static func quote(_ word: String) -> String {
        let safe = word.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "@%+=:,./_-".unicodeScalars.contains($0))
        }
        if safe && !word.isEmpty { return word }
        return "'" + word.replacing("'", with: "'\\''") + "'"
    }
}
