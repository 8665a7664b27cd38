import SentinelPolicy

/// The compatibility-mode settings read from the environment, with the original's names and
/// defaults (`original-system.md` §4.1, §5) and its parsing: an unparsable value means the
/// default, a negative TTL means 0.
public struct GuardEnvironment: Sendable, Hashable {
    /// `SENTINEL_TAMPER_CHECK_INTERVAL_MS` (250): at most this long between deep tamper checks;
    /// 0 or less checks on every guarded call.
    public var tamperCheckIntervalMilliseconds: Double = 250
    /// `SENTINEL_TAMPER_CHECK_SAMPLE_RATE` (0.0, clamped to 0…1): the chance that a guarded call
    /// runs an extra deep check between intervals.
    public var tamperCheckSampleRate: Double = 0
    /// `SENTINEL_DNS_CACHE_TTL_SECONDS` (2, negative → 0): how long a lookup is reused.
    public var dnsCacheTTLSeconds: Double = 2
    /// `SENTINEL_DNS_RESOLVE_TIMEOUT_MS` (1000): a lookup that takes longer is denied. Values of 0
    /// or less meant "no timeout" to the original; here they mean the default, because a lookup
    /// that never ends must not hang the caller forever.
    public var dnsResolveTimeoutMilliseconds: Double = 1000
    /// `SENTINEL_APPROVAL_MODE`: overrides the policy's `approval.mode` when set.
    public var approvalMode: String?
    /// `SENTINEL_DISABLE` truthy.
    public var disableRequested = false
    /// `SENTINEL_ALLOW_DISABLE` truthy: the second key of the dual-control disable.
    public var disableAllowed = false

    /// The defaults.
    public init() {}

    /// Reads the settings from an environment dictionary.
    public init(_ environment: [String: String]) {
        func number(_ name: String) -> Double? {
            environment[name].flatMap { Double($0.trimmingWhitespaceForGuard()) }.flatMap { $0.isFinite ? $0 : nil }
        }
        if let interval = number("SENTINEL_TAMPER_CHECK_INTERVAL_MS") { tamperCheckIntervalMilliseconds = interval }
        if let rate = number("SENTINEL_TAMPER_CHECK_SAMPLE_RATE") { tamperCheckSampleRate = min(max(rate, 0), 1) }
        if let ttl = number("SENTINEL_DNS_CACHE_TTL_SECONDS") { dnsCacheTTLSeconds = max(ttl, 0) }
        if let timeout = number("SENTINEL_DNS_RESOLVE_TIMEOUT_MS"), timeout > 0 { dnsResolveTimeoutMilliseconds = timeout }
        approvalMode = environment["SENTINEL_APPROVAL_MODE"].flatMap { $0.trimmingWhitespaceForGuard().isEmpty ? nil : $0 }
        disableRequested = SentinelEnvironment.isTruthy(environment["SENTINEL_DISABLE"])
        disableAllowed = SentinelEnvironment.isTruthy(environment["SENTINEL_ALLOW_DISABLE"])
    }

    /// The process's current settings.
    public static func current() -> GuardEnvironment {
        GuardEnvironment(SentinelEnvironment.current())
    }
}

extension String {
    fileprivate func trimmingWhitespaceForGuard() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\n" }.reversed())
    }
}
