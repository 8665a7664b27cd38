// The decision for one proxied request, in the order egress-anchors §2.2 and §8 recommend:
//
// 1. parse the request target strictly (authority-form for CONNECT, absolute-form otherwise);
// 2. the name gate (allowed_hosts and the allow-lists, blocked_hosts, phishing, ports), before any
//    DNS, so a denied name is never looked up;
// 3. a name the gate refuses because no entry allows it goes to a human (the approval pipeline),
//    unless the proxy runs in report-only mode, where it is only recorded;
// 4. one lookup, every answer classified (any denied answer denies);
// 5. the proxy's own listening addresses refused (a loop through itself);
// 6. the addresses that passed are handed to the connector, which dials exactly those.
//
// Report-only relaxes step 2 only. Steps 4 and 5 and the protocol rules always apply.

import Foundation
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import Synchronization

/// CONNECT or an absolute-form HTTP request.
enum ProxyRequestKind: String, Sendable {
    /// A `CONNECT host:port` tunnel.
    case connect
    /// A plain `http://` request forwarded by the proxy.
    case http

    /// The audit action for decisions of this kind.
    var action: AuditAction { self == .connect ? .connect : .http }
}

/// One request as the client sent it.
struct EgressRequest: Sendable {
    /// CONNECT or HTTP.
    var kind: ProxyRequestKind
    /// The request-target: `host:port` for CONNECT, the absolute URL otherwise.
    var target: String
    /// The method.
    var method: String
    /// Who asked: `127.0.0.1:51234`, or `unix` for the Unix socket.
    var client: String
}

/// A request the proxy will carry out: where to connect and what was decided.
struct EgressGrant: Sendable {
    /// The normalised target.
    var target: NetworkTarget
    /// For HTTP: the origin-form request-target to send upstream (`/path?query`).
    var originForm: String
    /// For HTTP: the `Host` header to send upstream (RFC 9112 §3.2.2: from the absolute URI).
    var hostHeader: String
    /// Every address that passed the address gate, in resolver order; the connector tries them
    /// in this order and dials nothing else.
    var addresses: [IPAddress]
    /// The rule that allowed it (or, in report-only mode, the rule that would have denied it).
    var rule: String
    /// `allow`, or `approved` when a human allowed an unknown host.
    var decision: AuditDecision
    /// What the audit records name as the target.
    var auditTarget: String
    /// The snapshot that decided, used again for the connected peer and the close record.
    var rules: ProxyRules
    /// For a CONNECT to an inspected host: its rules. The tunnel then ends the agent's TLS and
    /// decides every request inside; `nil` for a plain tunnel.
    var inspection: HostInspection?
}

/// A request the proxy refuses, and what to tell the client.
struct EgressRefusal: Sendable, Error {
    /// The HTTP status: 403 for a denial, 502 / 504 when an allowed destination cannot be reached.
    var status: Int
    /// The rule that decided.
    var rule: String
    /// Why, in one sentence (for a human refusal, who refused).
    var reason: String
    /// The policy change that would allow it, when one should.
    var remedy: String?
}

/// The proxy's own listening endpoint and the machine's addresses, for the self-connection rule.
struct SelfEndpoints: Sendable {
    /// The TCP port the proxy listens on; `nil` for a Unix socket.
    var port: Int?
    /// Addresses of this machine's interfaces, and the listening address.
    var addresses: Set<IPAddress>

    /// Whether dialling `address`:`port` would reach this proxy.
    func contains(_ address: IPAddress, port: Int) -> Bool {
        guard let own = self.port, own == port else { return false }
        let classification = AddressClassifier.classify(address)
        for candidate in [address.withoutZone, classification.embedded?.address].compactMap({ $0 }) {
            if addresses.contains(candidate) { return true }
            if let value = candidate.ipv4Value, value >> 24 == 127 || value == 0 { return true }
            if let words = candidate.ipv6Words, words.high == 0, words.low <= 1 { return true }
        }
        return false
    }
}

/// Decides requests against the current rules.
final class EgressDecider: Sendable {
    private let rules: Mutex<ProxyRules>
    private let endpoints = Mutex(SelfEndpoints(port: nil, addresses: []))
    /// Whether name-gate denials are only recorded (`--report-only`).
    let reportOnly: Bool
    /// Where operational messages go.
    let log: @Sendable (String) -> Void

    init(rules: ProxyRules, reportOnly: Bool, log: @escaping @Sendable (String) -> Void) {
        self.rules = Mutex(rules)
        self.reportOnly = reportOnly
        self.log = log
    }

    /// The snapshot in force.
    var current: ProxyRules { rules.withLock { $0 } }

    /// Swaps in a new snapshot; requests already being decided finish with the old one.
    func install(_ new: ProxyRules) {
        rules.withLock { $0 = new }
    }

    /// Records where the proxy listens, once it does.
    func setSelfEndpoints(_ value: SelfEndpoints) {
        endpoints.withLock { $0 = value }
    }

    // MARK: - Deciding

    /// Decides one request, records it, and returns where to connect or why not.
    func decide(_ request: EgressRequest) async -> Result<EgressGrant, EgressRefusal> {
        let rules = current
        var details = baseDetails(request)

        // 1. Parse, and 2. the name gate.
        let check: NetworkCheck
        var originForm = ""
        var hostHeader = ""
        var path = ""
        switch request.kind {
        case .connect:
            let parsed: RequestTarget
            do {
                parsed = try RequestTarget.parse(authority: request.target)
            } catch {
                return refuse(request, rules: rules, details: details, verdict: .deny(
                    rule: "builtin:connect-syntax", reason: "Invalid CONNECT target: \(error.description)."))
            }
            check = rules.policy.checkConnect(host: parsed.host.uriHost, port: Int(parsed.port))
        case .http:
            let parsed: RequestTarget
            do {
                parsed = try RequestTarget.parse(url: request.target)
            } catch {
                return refuse(request, rules: rules, details: details, verdict: .deny(
                    rule: "builtin:url-syntax", reason: "Invalid URL: \(error.description)."))
            }
            guard parsed.scheme == "http" else {
                return refuse(request, rules: rules, details: details, verdict: .deny(
                    rule: "builtin:proxy-scheme",
                    reason: "The proxy forwards only http:// URLs, and this request is for \(parsed.scheme ?? "?")://.",
                    remedy: "Send https traffic as a CONNECT tunnel (set HTTPS_PROXY to this proxy)."))
            }
            originForm = parsed.path + (parsed.query.map { "?" + $0 } ?? "")
            path = parsed.path
            hostHeader = parsed.hasExplicitPort && parsed.port != 80 ? "\(parsed.host.uriHost):\(parsed.port)" : parsed.host.uriHost
            check = rules.policy.checkURL(request.target)
        }

        var nameVerdict: Verdict
        var target: NetworkTarget
        var decision = AuditDecision.allow
        var literal: IPAddress?
        switch check {
        case .decided(let decided):
            guard let decidedTarget = decided.target else {
                return refuse(request, rules: rules, details: details, verdict: decided.verdict)
            }
            target = decidedTarget
            nameVerdict = decided.verdict
            literal = decidedTarget.host.address
            if let literal, !decided.isAllowed {
                // An address refused by the address gate is never approvable and never relaxed.
                let addressVerdict = rules.policy.checkAddress(literal)
                if !addressVerdict.isAllowed {
                    return refuse(request, rules: rules, details: details, verdict: addressVerdict)
                }
            }
        case .needsResolution(let pending, _, let verdict):
            target = pending
            nameVerdict = verdict
        }
        let auditTarget = Self.auditTarget(request.kind, target)
        details["host"] = target.host.description
        details["port"] = String(target.port)

        // 3. A name the policy does not allow: report-only, a human, or a refusal.
        if !nameVerdict.isAllowed {
            if reportOnly {
                details["report_only"] = "would deny"
                details["would_deny_rule"] = nameVerdict.rule
                nameVerdict = .allow(rule: nameVerdict.rule, reason: "Report-only: would deny: \(nameVerdict.reason)")
            } else if nameVerdict.rule == "default:allowed_hosts" {
                let answer = await rules.pipeline.decide(DecisionRequest(
                    action: request.kind.action, target: auditTarget, verdict: nameVerdict,
                    recommendation: "Allow only if you expect this program to reach \(target.host.uriHost) on port "
                        + "\(target.port). " + (nameVerdict.remedy.map { "To allow it for good: \($0)" } ?? ""),
                    severity: .medium, details: details))
                guard answer.isAllowed else {
                    return .failure(EgressRefusal(status: 403, rule: nameVerdict.rule, reason: answer.reason,
                                                  remedy: nameVerdict.remedy))
                }
                decision = .approved
                nameVerdict = .allow(rule: nameVerdict.rule, reason: answer.reason)
            } else {
                return refuse(request, rules: rules, details: details, verdict: nameVerdict)
            }
        }

        // 3b. An inspected host's own rules, still before any lookup. A plain http:// request is
        // decided here by its method and path; a CONNECT's requests are decided one by one inside
        // the tunnel, once the agent's TLS ends at the proxy. Only an entry that allowed the name
        // has rules: a host a human approved, or one report-only lets through, is a plain tunnel.
        let inspection = decision == .allow && details["report_only"] == nil
            ? rules.policy.inspection(forRule: nameVerdict.rule) : nil
        if let inspection {
            details["inspect"] = "true"
            if request.kind == .http {
                details["path"] = path
                let verdict = inspection.check(method: request.method, path: path)
                guard verdict.isAllowed else {
                    return refuse(request, rules: rules, details: details, verdict: verdict)
                }
                if !inspection.inject.isEmpty {
                    return refuse(request, rules: rules, details: details, verdict: .deny(
                        rule: "builtin:inspect-plaintext",
                        reason: "\(inspection.keyPath) injects a credential into requests to \(inspection.host), and the "
                            + "proxy adds credentials only to requests it sends over TLS; this request is plain http://.",
                        remedy: "Use https://\(target.host.uriHost) (through CONNECT) instead."))
                }
                nameVerdict = verdict
            }
        }

        // 4. One lookup, every answer checked.
        let addresses: [IPAddress]
        if let literal {
            addresses = [literal]
        } else {
            do {
                addresses = try await rules.resolver.resolve(target.host.description)
            } catch {
                return refuse(request, rules: rules, details: details, verdict: .deny(
                    rule: "builtin:dns", reason: "\(error); a lookup that fails or times out is denied."))
            }
        }
        let checked = rules.policy.checkAddresses(addresses, target: target, nameVerdict: nameVerdict)
        details["addresses"] = addresses.map(\.description).joined(separator: ",")
        guard checked.isAllowed else {
            return refuse(request, rules: rules, details: details, verdict: checked.verdict)
        }

        // 5. Never through the proxy itself.
        let own = endpoints.withLock { $0 }
        if let loop = checked.addresses.first(where: { own.contains($0, port: target.port) }) {
            return refuse(request, rules: rules, details: details, verdict: .deny(
                rule: "builtin:proxy-self",
                reason: "\(target.host.uriHost):\(target.port) is this proxy's own listening address (\(loop)); "
                    + "a request through the proxy to itself would loop."))
        }

        // 6. Record the allow (an approval was recorded when it was given).
        if decision == .allow {
            let recorded = await rules.pipeline.decide(DecisionRequest(
                action: request.kind.action, target: auditTarget, verdict: nameVerdict, recommendation: "",
                severity: .low, details: details))
            guard recorded.isAllowed else {
                return .failure(EgressRefusal(status: 403, rule: "builtin:audit", reason: recorded.reason))
            }
        }
        return .success(EgressGrant(
            target: target, originForm: originForm, hostHeader: hostHeader, addresses: checked.addresses,
            rule: nameVerdict.rule, decision: decision, auditTarget: auditTarget, rules: rules,
            inspection: request.kind == .connect ? inspection : nil))
    }

    /// Records a refusal that no human may override (a protocol rule, the address gate, an
    /// explicit block) and returns it.
    func refuse(
        _ request: EgressRequest, rules: ProxyRules? = nil, details: [String: String]? = nil, verdict: Verdict
    ) -> Result<EgressGrant, EgressRefusal> {
        let rules = rules ?? current
        record(AuditEvent(mode: .proxy, action: request.kind.action, target: Self.sanitizedTarget(request.target),
                          verdict: verdict, policySHA256: rules.loaded.sha256, details: details ?? baseDetails(request)),
               rules: rules)
        return .failure(EgressRefusal(status: 403, rule: verdict.rule, reason: verdict.reason, remedy: verdict.remedy))
    }

    /// Records a refusal decided outside `decide` (a protocol rule) and returns what to send.
    func refuseNow(_ request: EgressRequest, verdict: Verdict, status: Int = 403) -> EgressRefusal {
        guard case .failure(var refusal) = refuse(request, verdict: verdict) else {
            return EgressRefusal(status: status, rule: verdict.rule, reason: verdict.reason, remedy: verdict.remedy)
        }
        refusal.status = status
        return refusal
    }

    /// Checks the address a connection actually reached (defence in depth: it must be the one
    /// that was dialled, and still pass the address gate). Returns the denial, or `nil`.
    func checkPeer(_ peer: IPAddress?, dialled: IPAddress, grant: EgressGrant) -> Verdict? {
        guard let peer else {
            return .deny(rule: "builtin:peer", reason: "The upstream connection has no peer address to check.")
        }
        guard peer.withoutZone == dialled.withoutZone else {
            return .deny(rule: "builtin:peer", reason: "The upstream connection reached \(peer), not the checked address \(dialled).")
        }
        let verdict = grant.rules.policy.checkAddress(peer)
        return verdict.isAllowed ? nil : verdict
    }

    /// Records a denial that happens after the decision (the connected peer failed its check).
    func recordLateDenial(_ request: EgressRequest, grant: EgressGrant, verdict: Verdict, address: IPAddress) {
        var details = baseDetails(request)
        details["address"] = address.description
        record(AuditEvent(mode: .proxy, action: request.kind.action, target: grant.auditTarget, verdict: verdict,
                          policySHA256: grant.rules.loaded.sha256, details: details), rules: grant.rules)
    }

    /// Writes a record; a failure is logged (the request is refused or already over).
    func record(_ event: AuditEvent, rules: ProxyRules) {
        do {
            _ = try rules.pipeline.audit.append(event)
        } catch {
            log("cannot write the audit log \(rules.pipeline.audit.path): \(error)")
        }
    }

    private func baseDetails(_ request: EgressRequest) -> [String: String] {
        var details = ["proxy_type": request.kind.rawValue, "client": request.client]
        if request.kind == .http {
            details["method"] = request.method
            details["url"] = Self.sanitizedTarget(request.target)
        }
        if reportOnly { details["mode"] = "report-only" }
        return details
    }

    /// `host:port` for CONNECT, `http://host:port` for HTTP: what approvals and records name (a
    /// session approval covers the host and port, not one URL).
    static func auditTarget(_ kind: ProxyRequestKind, _ target: NetworkTarget) -> String {
        kind == .connect ? "\(target.host.uriHost):\(target.port)" : "http://\(target.host.uriHost):\(target.port)"
    }

    /// A request-target as the client wrote it, cut to a sane length for the record.
    static func sanitizedTarget(_ text: String) -> String {
        text.count > 2048 ? String(text.prefix(2048)) + "…" : text
    }
}
