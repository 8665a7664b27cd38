// `--backend docker`: the Docker-specific flags turned into `DockerRunOptions`, and the run
// (or, with `--dry-run`, the printed command). Kept apart from IsolateCommand.swift so the
// policy side of that file can change independently.

import Glibc
import SentinelSandbox

extension IsolateCommand {
    /// The Docker settings from the flags and the environment (`SENTINEL_BASE_IMAGE`). The
    /// guard inside the container records to `AUDITLOG.guard/audit.log`, beside the run's own log.
    func dockerOptions(network: String, environment env: [String: String], auditLog: String) throws -> DockerRunOptions {
        guard let dockerNetwork = DockerNetwork(rawValue: network) else {
            throw IsolateError("network_mode must be one of: none, proxied, bridge, host")
        }
        if seccompSuggest != nil {
            throw IsolateError("--seccomp-suggest works with the native backend only (Docker's log mode writes to the kernel log); use --backend native.")
        }
        if requireLandlock {
            throw IsolateError("--require-landlock: the Docker backend does not apply Landlock. Use --backend native, or drop --require-landlock.")
        }
        let base = (baseImage ?? env["SENTINEL_BASE_IMAGE"].flatMap { $0.isEmpty ? nil : $0 } ?? DockerRunOptions.defaultBaseImage)
        var options = DockerRunOptions(
            image: image, network: dockerNetwork, buildIfMissing: buildIfMissing, baseImage: base,
            terminal: !dryRun && isatty(0) == 1 && isatty(1) == 1,
            guardInContainer: self.guard, guardAuditDirectory: self.guard ? RunRecords.guardDirectory(forLog: auditLog) : nil)
        if dockerNetwork == .proxied {
            // The proxy's records stay apart from the guard's: the sandbox mounts only the latter.
            options.proxyAuditDirectory = RunRecords.proxyDirectory(forLog: auditLog)
            options.proxyHostsFile = proxyHostsFile.map(PathResolution.absolute)
        }
        return options
    }

    /// Runs the request in Docker, or prints the command (`--dry-run`, then returns nil).
    func runDocker(_ request: IsolateRequest, _ options: DockerRunOptions, environment: [String: String]) throws(SandboxError) -> SandboxRunReport? {
        let sandbox = DockerSandbox(options: options)
        if dryRun {
            let prepared = try sandbox.prepare(request.spec, callerEnvironment: environment)
            for warning in prepared.seccomp.warnings { IsolateOutput.warning(warning) }
            if let directory = prepared.seccomp.temporaryDirectory {
                IsolateOutput.stderr("sentinel-isolate: --dry-run: the seccomp profile was written to \(directory)/profile.json and is kept for this command; remove the directory after use.\n")
            }
            if options.network == .proxied {
                IsolateOutput.stderr("sentinel-isolate: --dry-run: with --network proxied the internal network and the proxy container are created when a run starts; the command names them sentinel-proxied-RUN and PROXY.\n")
            }
            let line = prepared.invocation.shellText() + "\n"
            _ = line.withCString { write(1, $0, strlen($0)) }
            return nil
        }
        return try sandbox.run(request.spec, callerEnvironment: environment, progress: { IsolateOutput.stderr("sentinel-isolate: \($0)\n") })
    }
}
