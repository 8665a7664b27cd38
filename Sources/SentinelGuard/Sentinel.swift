// Compatibility mode for Swift programs: the original's `activate_sentinel()` (§2.5), its
// guarded operations (§2.1) as explicit calls, dual-control disable (§4.5), production
// prerequisites (§4.4), attestation (§4.6) and tamper checks (§4.1) — with the original's gaps
// closed: one decision and one audit record per action, DNS failure denies, connections dial the
// address that was checked, every redirect hop is checked again, and the in-memory policy and the
// approval handler are part of the tamper check.

public import SentinelApproval
import SentinelAudit
public import SentinelPolicy
import Synchronization

/// What `Sentinel.activate` did.
public enum ActivationResult: String, Sendable, Hashable {
    /// Compatibility mode is now active.
    case activated
    /// It was already active; nothing changed (activation is idempotent).
    case alreadyActive
    /// `SENTINEL_DISABLE` and `SENTINEL_ALLOW_DISABLE` are both truthy: not activated, recorded.
    case disabledByDualControl
}

/// How to activate compatibility mode.
public struct ActivationOptions: Sendable {
    /// The policy file (`nil`: `./sentinel.yaml`; `builtin:default` for the built-in policy).
    /// `SENTINEL_POLICY_CONTENT` wins, as in the original.
    public var policyPath: String?
    /// The environment read for `SENTINEL_*` settings (the process's by default).
    public var environment: [String: String]
    /// The audit log (`nil`: the policy's `audit.path`, default `./audit.log`).
    public var auditPath: String?
    /// The approval handler (`nil`: from `approval.mode` / `SENTINEL_APPROVAL_MODE`).
    public var approvalHandler: (any ApprovalHandler)?
    /// The resolver behind the DNS cache (`nil`: the system's, with the configured timeout).
    public var resolver: (any HostResolver)?
    /// Where relative paths and commands resolve (`nil`: the process's working directory and PATH).
    public var context: PolicyContext?
    /// Trust roots for HTTPS requests.
    public var trustRoots: PinnedHTTPClient.TrustRoots

    /// Creates options; every field has the original's default.
    public init(
        policyPath: String? = nil, environment: [String: String] = SentinelEnvironment.current(),
        auditPath: String? = nil, approvalHandler: (any ApprovalHandler)? = nil,
        resolver: (any HostResolver)? = nil, context: PolicyContext? = nil,
        trustRoots: PinnedHTTPClient.TrustRoots = .system
    ) {
        self.policyPath = policyPath
        self.environment = environment
        self.auditPath = auditPath
        self.approvalHandler = approvalHandler
        self.resolver = resolver
        self.context = context
        self.trustRoots = trustRoots
    }
}

/// Compatibility mode: policy → approval when the policy denies → one audit record, for the
/// actions a Swift program performs through these calls. It is a guardrail, not a boundary: code
/// that calls the C library directly is not seen (run untrusted code under `sentinel-isolate`).
public enum Sentinel {
    static let active = Mutex<SentinelSession?>(nil)

    /// The active session, or `notActive`.
    static func session() throws(SentinelError) -> SentinelSession {
        guard let session = active.withLock({ $0 }) else {
            throw SentinelError(.notActive, "Sentinel is not active; call Sentinel.activate() first.")
        }
        return session
    }

    /// Whether compatibility mode is active.
    public static var isActive: Bool { active.withLock { $0 != nil } }

    /// The SHA-256 of the policy in force, when active.
    public static var policySHA256: String? { active.withLock { $0?.loaded.sha256 } }

    /// Activates compatibility mode (§2.5): dual-control disable, idempotence, production
    /// prerequisites, the activation records, a forced tamper check, the attestation record.
    ///
    /// - Throws: `SentinelError` with `.policy` (unloadable policy, unmet production
    ///   prerequisites), `.disableNotPermitted`, `.audit` (the log cannot be written).
    @discardableResult
    public static func activate(_ options: ActivationOptions = ActivationOptions()) throws(SentinelError) -> ActivationResult {
        if let session = active.withLock({ $0 }) {
            session.pipeline.note(.attestation, target: "sentinel", reason: "Sentinel already active. Skipping re-activation.")
            return .alreadyActive
        }
        let loaded: LoadedPolicy
        do {
            loaded = try PolicyLoader(environment: options.environment).load(path: options.policyPath)
        } catch {
            throw SentinelError(.policy, error.description)
        }
        let auditPath = options.auditPath ?? loaded.document.audit.path
        let audit: AuditLog
        do {
            audit = try AuditLog(path: auditPath, options: AuditLog.Options(key: try AuditKey.fromEnvironment(options.environment)))
        } catch {
            throw SentinelError(.audit, "The audit log \(auditPath) cannot be opened: \(error). Nothing is guarded without a trail; fix audit.path.")
        }
        let settings = GuardEnvironment(options.environment)
        if settings.disableRequested {
            let event = { (reason: String, severity: AuditSeverity) in
                _ = try? audit.append(AuditEvent(
                    mode: .compat, action: .attestation, target: "sentinel", decision: .info, reason: reason,
                    policySHA256: loaded.sha256, severity: severity))
            }
            guard settings.disableAllowed else {
                event("Disable requested but blocked: SENTINEL_ALLOW_DISABLE is not set.", .critical)
                audit.close()
                throw SentinelError(
                    .disableNotPermitted,
                    "SENTINEL_DISABLE requested but not permitted. Set SENTINEL_ALLOW_DISABLE=true to allow disabling Sentinel.")
            }
            // Production (docs/POLICY.md): no switch turns enforcement off, dual control included
            // (the original let both variables disable a production Sentinel).
            do throws(ProductionMode.Violation) {
                try ProductionMode.checkEnforcement(
                    switchedOff: true,
                    requirement: "Production mode requires Sentinel to stay active, which SENTINEL_DISABLE turns off.",
                    remedy: "Unset SENTINEL_DISABLE (and SENTINEL_ALLOW_DISABLE); disable Sentinel only outside production",
                    environment: options.environment)
            } catch {
                event("Disable requested but blocked: production mode.", .critical)
                audit.close()
                throw SentinelError(.disableNotPermitted, error.description)
            }
            event("Sentinel disabled via explicit dual-control environment flags.", .medium)
            audit.close()
            return .disabledByDualControl
        }
        let session: SentinelSession
        do {
            session = try SentinelSession(loaded: loaded, audit: audit, options: options, settings: settings)
        } catch let error as SentinelError {
            audit.close()
            throw error
        } catch {
            audit.close()
            throw SentinelError(.policy, "\(error)")
        }
        let installed = active.withLock { current -> Bool in
            guard current == nil else { return false }
            current = session
            return true
        }
        guard installed else {
            audit.close()
            return .alreadyActive
        }
        let pipeline = session.pipeline
        let recorded = pipeline.note(.attestation, target: "sentinel", reason: "Sentinel Activated. Monitoring engaged.")
            && pipeline.note(
                .attestation, target: "sentinel",
                reason: "Compatibility mode active: guarded calls are guardrails, not a hard isolation boundary.",
                severity: .low)
        do throws(SentinelError) {
            guard recorded else { throw SentinelError(.audit, "The audit log \(auditPath) cannot be written.") }
            try session.checkIntegrity(force: true)
            var attestation = loaded.attestation
            attestation["tamper_detection"] = String(session.tamperChecksEnabled)
            guard pipeline.note(
                .attestation, target: "sentinel",
                reason: "production=\(loaded.production) tamper_detection=\(session.tamperChecksEnabled) "
                    + "policy_source=\(loaded.source) signature_mode=\(loaded.signatureMode.rawValue) immutable=\(loaded.immutable) "
                    + "policy_sha256=\(loaded.sha256)",
                details: attestation)
            else { throw SentinelError(.audit, "The audit log \(auditPath) cannot be written.") }
        } catch {
            active.withLock { $0 = nil }
            audit.close()
            throw error
        }
        return .activated
    }

    /// Deactivates compatibility mode; guarded calls then throw `notActive`.
    public static func deactivate() {
        let session = active.withLock { current -> SentinelSession? in
            defer { current = nil }
            return current
        }
        guard let session else { return }
        session.pipeline.note(.attestation, target: "sentinel", reason: "Sentinel Deactivated.")
        session.shutdown()
    }

    /// Replaces the approval handler (custom handlers, or the built-ins); recorded in the log.
    public static func setApprovalHandler(_ handler: any ApprovalHandler) throws(SentinelError) {
        try session().replaceApprovalHandler(handler)
    }

    /// Replaces the approval handler with a closure that answers each alert.
    public static func setApprovalHandler(
        name: Approver = "custom", _ body: @escaping @Sendable (SecurityAlert) async throws -> ApprovalAnswer
    ) throws(SentinelError) {
        try setApprovalHandler(ClosureApprovalHandler(name: name, body))
    }
}
