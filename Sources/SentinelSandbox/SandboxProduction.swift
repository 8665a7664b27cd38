// The production rules (ProductionMode, docs/POLICY.md "Production") as they apply to a sandbox,
// on both backends. `sentinel-isolate` checks them first, for its sentence and exit status, and
// each backend again before it starts anything, because both are libraries too.

import SentinelPolicy

/// Production mode's rules for one sandbox run.
public enum SandboxProduction {
    /// What the checks found: the policy verified as production requires, when production is on.
    public struct Outcome: Sendable {
        /// The verified policy's SHA-256, handed into a container so that the Sentinel inside
        /// (the entrypoint and the guard) verifies the very text checked here; nil when
        /// production is off or the spec has no policy file.
        public var policySHA256: String?
    }

    /// Checks every production rule that applies to `spec` (nothing when production is off).
    ///
    /// - Parameters:
    ///   - networkIsolated: whether the run's only way out is none or the policy proxy (the
    ///     Docker backend's `bridge` and `host`, the native `host`, are not).
    ///   - landlockIsSentinels: whether this backend applies Landlock itself (native); the
    ///     Docker backend applies none of its own.
    /// - Throws: the first rule not met, as an `.invalidSpec` error whose sentence says what
    ///   production requires and how to meet it.
    @discardableResult
    public static func check(
        _ spec: SandboxSpec, networkIsolated: Bool, landlockIsSentinels: Bool, environment: [String: String]
    ) throws(SandboxError) -> Outcome {
        guard ProductionMode.isOn(environment) else { return Outcome() }
        try checkNetwork(isolated: networkIsolated, environment: environment)
        try checkSeccomp(spec.seccomp.mode, environment: environment)
        if landlockIsSentinels { try checkLandlock(environment: environment) }
        guard let policyFile = spec.policyFile else { return Outcome() }
        // Signed and immutable, and the digest verified, by the loader (the file the sandbox
        // shows, never SENTINEL_POLICY_CONTENT).
        var policyEnvironment = environment
        policyEnvironment[SentinelEnvironment.policyContent] = nil
        do {
            let loaded = try PolicyLoader(environment: policyEnvironment).load(path: policyFile)
            return Outcome(policySHA256: loaded.sha256)
        } catch {
            throw SandboxError(.invalidSpec, "The policy \(policyFile) cannot be used: \(error.description)")
        }
    }

    /// The network rule: none or the policy proxy, unless the exception is set.
    public static func checkNetwork(isolated: Bool, environment: [String: String]) throws(SandboxError) {
        do {
            try ProductionMode.checkNetwork(
                isolated: isolated,
                remedy: "use --network none (no network) or --network proxied (egress only through the policy proxy)",
                environment: environment)
        } catch {
            throw SandboxError(.invalidSpec, error.description)
        }
    }

    /// The enforcement rule for seccomp: the profile enforces (`off` installs no filter, `log`
    /// lets every call through).
    public static func checkSeccomp(_ mode: SandboxSpec.SeccompSettings.Mode, environment: [String: String]) throws(SandboxError) {
        do {
            try ProductionMode.checkEnforcement(
                switchedOff: mode != .enforce,
                requirement: "Production mode requires seccomp enforcement (--seccomp-mode enforce).",
                remedy: "Drop --seccomp-mode \(mode.rawValue) (and SENTINEL_SECCOMP_MODE=\(mode.rawValue)): "
                    + (mode == .off ? "off installs no filter" : "log mode lets every call through")
                    + "; find the calls a workload needs with log mode outside production",
                environment: environment)
        } catch {
            throw SandboxError(.invalidSpec, error.description)
        }
    }

    /// The enforcement rule for Landlock, where the backend applies it (native): this kernel has it.
    public static func checkLandlock(environment: [String: String]) throws(SandboxError) {
        guard ProductionMode.isOn(environment) else { return }
        let (abi, reason) = Landlock.probe()
        do {
            try ProductionMode.checkEnforcement(
                switchedOff: abi == nil,
                requirement: "Production mode requires Landlock, the file rules' second layer, but \(reason).",
                remedy: "Run on a kernel with Landlock (Linux 5.13 or later, with landlock in the lsm= boot parameter)",
                environment: environment)
        } catch {
            throw SandboxError(.unsupported, error.description)
        }
    }
}
