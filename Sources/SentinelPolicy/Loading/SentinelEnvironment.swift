#if canImport(Glibc)
import Glibc
#endif

/// The environment variables Sentinel reads, by name, and the original's reading of "true".
///
/// Values are passed around as a dictionary so tests (and the sandbox stage, which must not trust
/// its own environment) can give an explicit one.
public enum SentinelEnvironment {
    /// `SENTINEL_POLICY_CONTENT`: when set and not empty, its text *is* the policy.
    public static let policyContent = "SENTINEL_POLICY_CONTENT"
    /// `SENTINEL_POLICY_SHA256`: the expected SHA-256 (hex) of the policy text.
    public static let policySHA256 = "SENTINEL_POLICY_SHA256"
    /// `SENTINEL_POLICY_HMAC_SHA256`: the expected HMAC-SHA256 (hex) of the policy text.
    public static let policyHMAC = "SENTINEL_POLICY_HMAC_SHA256"
    /// `SENTINEL_POLICY_HMAC_KEY`: the key for `SENTINEL_POLICY_HMAC_SHA256`.
    public static let policyHMACKey = "SENTINEL_POLICY_HMAC_KEY"
    /// `SENTINEL_POLICY_IMMUTABLE`: the policy may not change while Sentinel runs.
    public static let policyImmutable = "SENTINEL_POLICY_IMMUTABLE"
    /// `SENTINEL_PRODUCTION`: truthy turns production mode on (so does `SENTINEL_ENV=production`;
    /// ``ProductionMode/isOn(_:)`` is the one place that reads them).
    public static let production = "SENTINEL_PRODUCTION"
    /// `SENTINEL_AUDIT_HMAC_KEY`: the key of the audit log's HMAC-SHA256 chain.
    public static let auditHMACKey = "SENTINEL_AUDIT_HMAC_KEY"
    /// `SENTINEL_RUN_ID`: the run whose records a Sentinel started by a launcher writes (the guard
    /// inside a sandbox, the proxy of a proxied run). Not a secret: the workload may see it.
    public static let runID = "SENTINEL_RUN_ID"

    /// Sentinel's own secrets: the variables that hold a key. They never reach a program Sentinel
    /// runs (a guarded command, a sandbox, a container, a dialog), because whoever knows the
    /// audit key can rewrite the log and recompute its chain, and whoever knows the policy key
    /// can sign policies that every Sentinel holding that key accepts.
    ///
    /// This is the one list; every place that hands an environment to a program filters it
    /// with ``withoutSecrets(_:)``. The digests (`SENTINEL_POLICY_SHA256`,
    /// `SENTINEL_POLICY_HMAC_SHA256`) are not secrets and pass: a Sentinel inside the program
    /// then refuses an HMAC it cannot check, rather than running with an unverified policy.
    public static let secrets: Set<String> = [auditHMACKey, policyHMACKey]

    /// Whether `name` is one of ``secrets`` (names are compared exactly, as the kernel and
    /// `getenv` do).
    public static func isSecret(_ name: String) -> Bool {
        secrets.contains(name)
    }

    /// `environment` without ``secrets``: what a program Sentinel starts may see.
    public static func withoutSecrets(_ environment: [String: String]) -> [String: String] {
        environment.filter { !isSecret($0.key) }
    }

    /// The process's environment as a dictionary.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// The original's truthiness: `true`, `1`, `yes` or `on`, trimmed, any case.
    public static func isTruthy(_ value: String?) -> Bool {
        guard let value else { return false }
        return ["true", "1", "yes", "on"].contains(value.trimmingWhitespace().lowercased())
    }
}
