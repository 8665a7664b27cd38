public import SentinelApproval
public import SentinelAudit
public import SentinelPolicy

/// One action put to the pipeline: what the policy said about it, and how to describe it to a
/// human and in the audit log.
public struct DecisionRequest: Sendable, Hashable {
    /// The kind of action (`exec`, `file_write`, `connect`, `http`, `dns`…).
    public var action: AuditAction
    /// What it acts on, as shown to people: a path, a command line, `host:port`, a URL.
    public var target: String
    /// The policy's verdict.
    public var verdict: Verdict
    /// What an approver is advised to do (the original's per-call-site sentences).
    public var recommendation: String
    /// How serious a denial of this action is.
    public var severity: AlertSeverity
    /// Extra facts for the audit record (resolved executable, addresses, port…).
    public var details: [String: String]
    /// The exact action an approval would cover (``SecurityAlert/subject``): `target` when nil.
    public var subject: String?
    /// Whether a person may be asked when the policy denies. False for what no answer may open
    /// (an exec whose loaded image was not the one decided, a terminal injection): the denial
    /// is recorded without a question.
    public var isApprovable: Bool

    /// Creates a request.
    public init(
        action: AuditAction, target: String, verdict: Verdict, recommendation: String,
        severity: AlertSeverity = .high, details: [String: String] = [:], subject: String? = nil,
        isApprovable: Bool = true
    ) {
        self.action = action
        self.target = target
        self.verdict = verdict
        self.recommendation = recommendation
        self.severity = severity
        self.details = details
        self.subject = subject
        self.isApprovable = isApprovable
    }
}

/// What the pipeline decided, after the policy and, for a denial, a human.
public struct PipelineDecision: Sendable, Hashable {
    /// Whether the action may go ahead.
    public var isAllowed: Bool
    /// The policy's verdict (unchanged by an approval).
    public var verdict: Verdict
    /// Who decided in the end: `policy`, or the approver who was asked.
    public var approver: Approver
    /// The sentence to give the program when the action is refused: the policy's reason, and
    /// who refused it when a human or a timeout did.
    public var reason: String
    /// The sequence number of the audit record written for this decision.
    public var auditSequence: UInt64?
}

/// The one decision pipeline every enforcement point calls: **policy → approval when the policy
/// denies → exactly one audit record**.
///
/// The caller asks the policy (it knows the action's details: a path, an argv, a URL and its
/// resolved addresses) and passes the verdict here. A denial goes to the `ApprovalBroker`, which
/// serialises prompts, applies the timeout and remembers scoped answers. Whatever the outcome,
/// one record is appended to the audit log; if that append fails, the action is refused even when
/// the policy or a human allowed it — an action that leaves no trace must not happen.
public final class DecisionPipeline: Sendable {
    /// Which enforcement point this pipeline serves (`compat`, `guard`, `proxy`, `isolate`).
    public let mode: AuditMode
    /// The SHA-256 of the policy text in force, written into every record.
    public let policySHA256: String
    /// Where records go.
    public let audit: AuditLog
    /// Who is asked when the policy denies.
    public let approvals: ApprovalBroker

    /// Creates a pipeline.
    public init(mode: AuditMode, policySHA256: String, audit: AuditLog, approvals: ApprovalBroker) {
        self.mode = mode
        self.policySHA256 = policySHA256
        self.audit = audit
        self.approvals = approvals
    }

    /// Decides one action: allow it, or ask, then record the outcome exactly once.
    public func decide(_ request: DecisionRequest) async -> PipelineDecision {
        if let allowed = decideWithoutAsking(request) { return allowed }
        if !request.isApprovable || request.verdict.isFinal { return refuseWithoutAsking(request) }
        let alert = SecurityAlert(
            action: request.action.rawValue, target: request.target, reason: request.verdict.reason,
            recommendation: request.recommendation, severity: request.severity, subject: request.subject
        )
        let answer = await approvals.decide(alert)
        // Every answer says what it was and for how long, and whether it was remembered rather
        // than given now, so a record shows why nobody was asked.
        var answered = request
        answered.details["approval"] = answer.answer.rawValue
        answered.details["approval_scope"] = answer.answer.scope.description
        if answer.isRemembered { answered.details["approval_remembered"] = "true" }
        if answer.isApproved {
            let how = answer.note.map { " (\($0))" } ?? ""
            return record(answered, decision: .approved, approver: answer.approver,
                          reason: "\(request.verdict.reason) Approved by \(answer.approver)\(how).", severity: .high)
        }
        let refusal = answer.note.map { "\(request.verdict.reason) Refused by \(answer.approver): \($0)" }
            ?? "\(request.verdict.reason) Refused by \(answer.approver)."
        let decision: AuditDecision = answer.approver == .reject ? .deny : .rejected
        var denied = record(answered, decision: decision, approver: answer.approver, reason: refusal, severity: .high)
        denied.isAllowed = false
        return denied
    }

    /// Records an action the policy allows, on the caller's thread, and returns the decision (a
    /// refusal if the record cannot be written); `nil` when the policy denies, because a denial
    /// may wait for a human: use ``decide(_:)`` for it.
    ///
    /// For callers that must not hop to an executor for the common case: `sentinel guard`'s
    /// supervisor answers an allowed exec on its receiving thread (issue 7).
    public func decideWithoutAsking(_ request: DecisionRequest) -> PipelineDecision? {
        guard request.verdict.isAllowed else { return nil }
        return record(request, decision: .allow, approver: .policy, reason: request.verdict.reason, severity: .info)
    }

    /// Records a denial nobody may overturn (``DecisionRequest/isApprovable`` false, or a
    /// refusal the caller makes itself) on the caller's thread, without asking. The decision is
    /// never allowed, whatever the request's verdict says.
    public func refuseWithoutAsking(_ request: DecisionRequest) -> PipelineDecision {
        var denied = record(request, decision: .deny, approver: .policy, reason: request.verdict.reason, severity: .high)
        denied.isAllowed = false
        return denied
    }

    /// Writes a record that is not a decision (activation, attestation, tamper, run start/end).
    /// Returns `false` when the log cannot be written, so the caller can refuse to go on.
    @discardableResult
    public func note(
        _ action: AuditAction, target: String, reason: String, severity: AuditSeverity = .info,
        details: [String: String]? = nil
    ) -> Bool {
        do {
            _ = try audit.append(AuditEvent(
                mode: mode, action: action, target: target, decision: .info, reason: reason,
                policySHA256: policySHA256, severity: severity, details: details
            ))
            return true
        } catch {
            return false
        }
    }

    private func record(
        _ request: DecisionRequest, decision: AuditDecision, approver: Approver, reason: String, severity: AuditSeverity
    ) -> PipelineDecision {
        let allowed = decision == .allow || decision == .approved
        do {
            let written = try audit.append(AuditEvent(
                mode: mode, action: request.action, target: request.target, decision: decision,
                rule: request.verdict.rule, reason: reason, approver: approver.rawValue,
                policySHA256: policySHA256, severity: severity, details: request.details.isEmpty ? nil : request.details
            ))
            return PipelineDecision(isAllowed: allowed, verdict: request.verdict, approver: approver, reason: reason,
                                    auditSequence: written.sequence)
        } catch {
            return PipelineDecision(
                isAllowed: false, verdict: request.verdict, approver: approver,
                reason: "\(reason) The action is refused because it could not be recorded: \(error)"
                    + (error.code == .lock ? "" : " Fix the log path, its permissions or the disk."),
                auditSequence: nil
            )
        }
    }
}
