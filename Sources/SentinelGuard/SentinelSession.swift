// One activation of compatibility mode: the policy in force, the pipeline, the DNS cache, the
// HTTP client and the tamper checks (§4.1), scheduled as the original schedules them but
// checking what can drift in a Swift process.

import CSentinelLinux
import Glibc
import SentinelApproval
import SentinelAudit
import SentinelPolicy
import Synchronization

/// The state of one activation.
final class SentinelSession: Sendable {
    let loaded: LoadedPolicy
    let audit: AuditLog
    let resolver: CachingResolver
    let trustRoots: PinnedHTTPClient.TrustRoots
    let approvalTimeout: Duration
    /// Tamper checks run when the policy asks for them, and always in production (the original
    /// let production run without them, §4.4).
    let tamperChecksEnabled: Bool

    /// The compiled policy. Behind a lock only so that a test can corrupt it the way a memory
    /// write would; the tamper check compares it with `policyFingerprint`.
    private let policyState: Mutex<Policy>
    private let policyFingerprint: Int
    /// The pipeline and the identity of its approval broker (a handler changed by anything but
    /// `replaceApprovalHandler` is tampering).
    private let pipelineState: Mutex<(pipeline: DecisionPipeline, broker: ObjectIdentifier)>
    private let lastCheck = Mutex<ContinuousClock.Instant?>(nil)
    private let checking = Mutex(false)
    private let client = Mutex<PinnedHTTPClient?>(nil)

    init(loaded: LoadedPolicy, audit: AuditLog, options: ActivationOptions, settings: GuardEnvironment) throws {
        self.loaded = loaded
        self.audit = audit
        let policy: Policy
        do {
            policy = try Policy(loaded: loaded, context: options.context ?? .current(environment: options.environment))
        } catch {
            throw SentinelError(.policy, error.description)
        }
        policyState = Mutex(policy)
        policyFingerprint = policy.fingerprint
        tamperChecksEnabled = loaded.document.tamperDetection || loaded.production
        trustRoots = options.trustRoots
        approvalTimeout = ApprovalBroker.timeout(seconds: loaded.document.approval.timeoutSeconds)
        let handler: any ApprovalHandler
        if let given = options.approvalHandler {
            handler = given
        } else {
            do {
                handler = try ApprovalMode.resolve(
                    policyMode: loaded.document.approval.mode.rawValue, environment: options.environment
                ).mode.makeHandler(environment: options.environment)
            } catch {
                throw SentinelError(.policy, error.description)
            }
        }
        let broker = ApprovalBroker(handler: handler, timeout: approvalTimeout)
        pipelineState = Mutex((
            DecisionPipeline(mode: .compat, policySHA256: loaded.sha256, audit: audit, approvals: broker),
            ObjectIdentifier(broker)))
        let upstream = options.resolver ?? SystemResolver(timeout: .milliseconds(Int(settings.dnsResolveTimeoutMilliseconds)))
        resolver = CachingResolver(
            upstream: TimeLimitedResolver(upstream: upstream, limit: .milliseconds(Int(settings.dnsResolveTimeoutMilliseconds))),
            timeToLive: .milliseconds(Int(settings.dnsCacheTTLSeconds * 1000)))
    }

    var policy: Policy { policyState.withLock { $0 } }
    var pipeline: DecisionPipeline { pipelineState.withLock { $0.pipeline } }

    /// Test hook: replaces the compiled policy without going through activation, as a stray
    /// memory write would. The next tamper check must notice.
    func corruptPolicyForTesting(_ policy: Policy) { policyState.withLock { $0 = policy } }

    func replaceApprovalHandler(_ handler: any ApprovalHandler) {
        let broker = ApprovalBroker(handler: handler, timeout: approvalTimeout)
        let pipeline = DecisionPipeline(mode: .compat, policySHA256: loaded.sha256, audit: audit, approvals: broker)
        pipelineState.withLock { $0 = (pipeline, ObjectIdentifier(broker)) }
        pipeline.note(.attestation, target: "approval_handler", reason: "Approval handler set to \(handler.name).", severity: .low)
    }

    func httpClient() -> PinnedHTTPClient {
        client.withLock { current in
            if let current { return current }
            let made = PinnedHTTPClient(trustRoots: trustRoots)
            current = made
            return made
        }
    }

    func shutdown() {
        if let client = client.withLock({ $0 }) {
            Task { await client.shutdown() }
        }
        audit.close()
    }

    // MARK: - Tamper checks

    /// Runs the tamper check when it is due (§4.1: forced at activation; otherwise a random draw
    /// below `SENTINEL_TAMPER_CHECK_SAMPLE_RATE`, or `SENTINEL_TAMPER_CHECK_INTERVAL_MS` elapsed;
    /// both re-read on every call). A failure writes a CRITICAL record and throws `tampered`.
    func checkIntegrity(force: Bool = false) throws(SentinelError) {
        guard tamperChecksEnabled, isDue(force: force) else { return }
        // One check at a time; unlike the original's plain flag, a caller that finds a check
        // running waits for it rather than skipping (a skipped check is a missed tamper).
        let problems: [String] = checking.withLock { _ in findTampering() }
        guard !problems.isEmpty else { return }
        let reason = "Sentinel runtime integrity violation: " + problems.joined(separator: "; ")
        pipeline.note(.tamper, target: "sentinel", reason: reason, severity: .critical)
        throw SentinelError(.tampered, reason + " The action was refused; restart the program with a trusted policy.")
    }

    private func isDue(force: Bool) -> Bool {
        let now = ContinuousClock.now
        return lastCheck.withLock { last in
            let rate = Self.environmentNumber("SENTINEL_TAMPER_CHECK_SAMPLE_RATE").map { min(max($0, 0), 1) } ?? 0
            let interval = Self.environmentNumber("SENTINEL_TAMPER_CHECK_INTERVAL_MS") ?? 250
            let due: Bool
            if force || interval <= 0 {
                due = true
            } else if rate > 0, Double.random(in: 0..<1) < rate {
                due = true
            } else if let previous = last {
                due = previous.duration(to: now) >= .microseconds(Int64(interval * 1000))
            } else {
                due = true
            }
            if due { last = now }
            return due
        }
    }

    private func findTampering() -> [String] {
        var problems: [String] = []
        if loaded.immutable || loaded.production {
            do {
                try loaded.verifyUnchanged()
            } catch {
                problems.append("Policy integrity violation: \(error.description)")
            }
        }
        if policy.fingerprint != policyFingerprint {
            problems.append("the policy in memory no longer matches the policy that was loaded")
        }
        let (pipeline, broker) = pipelineState.withLock { ($0.pipeline, $0.broker) }
        if ObjectIdentifier(pipeline.approvals) != broker {
            problems.append("the approval handler changed without Sentinel.setApprovalHandler")
        }
        if pipeline.policySHA256 != loaded.sha256 || pipeline.audit !== audit {
            problems.append("the decision pipeline changed")
        }
        if Sentinel.active.withLock({ $0 }) !== self {
            problems.append("Sentinel is no longer active")
        }
        return problems
    }

    /// A number from the environment, read afresh (the original re-reads both settings on every
    /// call); an unparsable value counts as unset.
    private static func environmentNumber(_ name: String) -> Double? {
        guard let raw = getenv(name) else { return nil }
        let text = String(cString: raw).filter { $0 != " " && $0 != "\t" }
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    // MARK: - Deciding

    /// The tamper check, then the pipeline; throws `denied` with the pipeline's sentence.
    func decide(_ request: DecisionRequest) async throws(SentinelError) -> PipelineDecision {
        try checkIntegrity()
        let decision = await pipeline.decide(request)
        guard decision.isAllowed else {
            throw SentinelError(.denied, decision.reason, rule: request.verdict.rule, remedy: request.verdict.remedy)
        }
        return decision
    }
}

/// Bounds a resolver's lookups (`SENTINEL_DNS_RESOLVE_TIMEOUT_MS`): a lookup that does not
/// answer in time fails, and a failed lookup denies.
struct TimeLimitedResolver: HostResolver {
    let upstream: any HostResolver
    let limit: Duration

    func resolve(_ host: String) async throws -> [IPAddress] {
        try await withThrowingTaskGroup(of: [IPAddress]?.self) { group in
            group.addTask { try await upstream.resolve(host) }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let addresses = first else {
                throw ResolveError(code: .timedOut, host: host, message: "DNS lookup of \(host) timed out after \(limit)")
            }
            return addresses
        }
    }
}
