// Production mode: the one definition of "production" and the rules it imposes, each refusal a
// sentence that says what production requires and how to meet it.
//
// Every entry point asks here (sentinel-isolate on both backends, `sentinel isolate`, `sentinel
// guard`, `sentinel proxy`, compatibility mode's `Sentinel.activate`, the container entrypoint).
// Before this file each had its own reading: the Docker backend honoured `SENTINEL_ENV=production`
// and the native one did not, and isolate dropped the signing rule altogether.

/// Whether Sentinel runs in production mode, and the rules that then hold (docs/POLICY.md,
/// "Production").
public enum ProductionMode {
    /// `SENTINEL_ENV`: the value `production` (trimmed, any case) turns production mode on.
    public static let environmentName = "SENTINEL_ENV"
    /// `SENTINEL_ALLOW_NETWORK_IN_PRODUCTION`: a truthy value allows a networked sandbox.
    public static let allowNetworkName = "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION"

    /// A rule production mode imposes. Each entry point applies the ones that describe
    /// something it does; docs/POLICY.md says which do not apply where, and why.
    public enum Rule: String, Sendable, CaseIterable, CustomStringConvertible {
        /// The policy's digest is given (`SENTINEL_POLICY_SHA256` or `SENTINEL_POLICY_HMAC_SHA256`)
        /// and matches.
        case signedPolicy = "signed-policy"
        /// `SENTINEL_POLICY_IMMUTABLE` is truthy.
        case immutablePolicy = "immutable-policy"
        /// A sandbox has no route out but the policy proxy, unless the exception is set.
        case isolatedNetwork = "isolated-network"
        /// No enforcement is switched off or to report-only: seccomp enforces, Landlock is in
        /// force where Sentinel applies it, the proxy blocks, compatibility mode is not disabled.
        case enforcement = "enforcement"

        /// The rule's name, as docs/POLICY.md spells it.
        public var description: String { rawValue }
    }

    /// A production rule that is not met: what production requires, and how to meet it.
    public struct Violation: Error, Sendable, Hashable, CustomStringConvertible {
        /// The rule.
        public var rule: Rule
        /// What production requires (`Production mode requires …`).
        public var requirement: String
        /// How to meet it, with the variable that turned production on.
        public var remedy: String

        /// Creates a violation.
        public init(rule: Rule, requirement: String, remedy: String) {
            self.rule = rule
            self.requirement = requirement
            self.remedy = remedy
        }

        /// The requirement and the remedy, one line.
        public var description: String { requirement + " " + remedy }
    }

    /// Whether `environment` puts Sentinel in production mode: a truthy `SENTINEL_PRODUCTION`
    /// (the original's variable) or `SENTINEL_ENV=production`.
    public static func isOn(_ environment: [String: String]) -> Bool {
        trigger(environment) != nil
    }

    /// The variable (and value) that turned production mode on, as a refusal names it; nil when
    /// production mode is off.
    public static func trigger(_ environment: [String: String]) -> String? {
        if let value = environment[SentinelEnvironment.production], SentinelEnvironment.isTruthy(value) {
            return "\(SentinelEnvironment.production)=\(value.trimmingWhitespace())"
        }
        if let value = environment[environmentName], value.trimmingWhitespace().lowercased() == "production" {
            return "\(environmentName)=\(value.trimmingWhitespace())"
        }
        return nil
    }

    /// Whether the networked exception (`SENTINEL_ALLOW_NETWORK_IN_PRODUCTION`) is set.
    public static func allowsNetwork(_ environment: [String: String]) -> Bool {
        SentinelEnvironment.isTruthy(environment[allowNetworkName])
    }

    /// The signing and immutability rules for a policy about to be loaded: nil when production
    /// is off or both hold. The digest itself is checked by the loader.
    public static func checkPolicy(signed: Bool, immutable: Bool, environment: [String: String]) -> Violation? {
        guard let trigger = trigger(environment) else { return nil }
        if !signed {
            return Violation(
                rule: .signedPolicy,
                requirement: "Production mode requires signed policy verification (SENTINEL_POLICY_SHA256 or SENTINEL_POLICY_HMAC_SHA256).",
                remedy: "Set SENTINEL_POLICY_SHA256 to the output of `sentinel policy hash` (or SENTINEL_POLICY_HMAC_SHA256 "
                    + "to that of `sentinel policy hash --hmac`, with its key)\(because(trigger)).")
        }
        if !immutable {
            return Violation(
                rule: .immutablePolicy,
                requirement: "Production mode requires SENTINEL_POLICY_IMMUTABLE=true.",
                remedy: "Set SENTINEL_POLICY_IMMUTABLE=true, which says the policy may not change while Sentinel runs\(because(trigger)).")
        }
        return nil
    }

    /// The network rule: `isolated` says whether the sandbox's only way out is none or the policy
    /// proxy. Throws unless production is off, the sandbox is isolated, or the exception is set.
    ///
    /// - Parameter remedy: how this entry point isolates its sandbox, lowercase, after
    ///   "Otherwise" (for `sentinel-isolate`: use `--network none` or `--network proxied`).
    public static func checkNetwork(isolated: Bool, remedy: String, environment: [String: String]) throws(Violation) {
        guard !isolated, !allowsNetwork(environment), let trigger = trigger(environment) else { return }
        // The original's sentence first (§6.4 step 6), so scripts that match it keep working.
        throw Violation(
            rule: .isolatedNetwork,
            requirement: "Production mode requires --network none.",
            remedy: "Set \(allowNetworkName)=true to allow a networked exception. Otherwise \(remedy)\(because(trigger)).")
    }

    /// The enforcement rule for one switch: throws when production is on and `switchedOff`.
    ///
    /// - Parameters:
    ///   - requirement: what production requires, a sentence starting `Production mode requires`.
    ///   - remedy: how to meet it (drop the flag, …).
    public static func checkEnforcement(
        switchedOff: Bool, requirement: String, remedy: String, environment: [String: String]
    ) throws(Violation) {
        guard switchedOff, let trigger = trigger(environment) else { return }
        throw Violation(rule: .enforcement, requirement: requirement, remedy: remedy + because(trigger) + ".")
    }

    /// ` (production mode is on because NAME=VALUE)`, so a refusal says where production came from
    /// (`SENTINEL_ENV=production` in a deployment's environment is easy to miss).
    private static func because(_ trigger: String) -> String {
        " (production mode is on because \(trigger))"
    }
}
