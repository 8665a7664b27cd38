// One immutable snapshot of everything a decision depends on. The proxy reads the current
// snapshot once per request; a reload (SIGHUP) builds a complete new one and swaps it in, so a
// request is decided by one policy from start to end, never by half of each.

import Foundation
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy

/// The policy, the allow-lists, the resolver and the pipeline in force.
struct ProxyRules: Sendable {
    /// The policy as loaded (text, SHA-256, source).
    let loaded: LoadedPolicy
    /// The compiled policy the proxy asks: the policy's `allowed_hosts`, then the allow-list
    /// entries, every entry without `ports` limited to the proxy's default ports.
    let policy: Policy
    /// The allow-list files, as read.
    let allowLists: [AllowListFile]
    /// DNS: the hosts file first when given, then `--dns-server` or the system resolver.
    let resolver: any HostResolver
    /// Policy → approval → one audit record, stamped with this policy's SHA-256.
    let pipeline: DecisionPipeline
    /// Counts reloads: 0 for the policy the proxy started with.
    let generation: Int
    /// The CA and upstream trust of inspected hosts; `nil` while the policy inspects none (the
    /// CA is then neither read nor created).
    let inspection: InspectionService?
    /// The headers each inspected entry injects, by the entry's key path, with their values.
    let injections: [String: [InjectedHeader]]

    /// Loads and compiles everything `configuration` names. Throws without side effects, so a
    /// reload that fails leaves the running snapshot untouched.
    ///
    /// - Parameters:
    ///   - audit: the log every snapshot writes to.
    ///   - previous: the snapshot being replaced, whose approval broker (and its session answers)
    ///     is kept when the approval mode and timeout did not change.
    static func load(
        _ configuration: ProxyConfiguration, audit: AuditLog, previous: ProxyRules?
    ) throws(ProxyError) -> ProxyRules {
        let loaded: LoadedPolicy
        do {
            loaded = try PolicyLoader(environment: configuration.environment).load(path: configuration.policyPath)
        } catch {
            throw ProxyError(.policy, "\(error)")
        }
        if let previous, previous.loaded.immutable, previous.loaded.sha256 != loaded.sha256 {
            throw ProxyError(.immutable, "The policy changed (SHA-256 \(previous.loaded.sha256.prefix(12))… is now "
                + "\(loaded.sha256.prefix(12))…) but SENTINEL_POLICY_IMMUTABLE is set, so the change is refused; "
                + "restart the proxy to use a new policy.")
        }
        var allowLists: [AllowListFile] = []
        for path in configuration.allowListFiles {
            allowLists.append(try AllowListFile(path: path))
        }
        var document = loaded.document
        document.allowedHosts += allowLists.flatMap(\.entries)
        let defaultPorts = configuration.defaultPorts
        for index in document.allowedHosts.indices where document.allowedHosts[index].ports == nil {
            document.allowedHosts[index].ports = defaultPorts
        }
        let policy: Policy
        do {
            policy = try Policy(document: document, context: PolicyContext.current(environment: configuration.environment))
        } catch {
            throw ProxyError(.policy, "\(error)")
        }

        // Inspected hosts: every credential must be there before the proxy takes a request (a
        // missing one is an error now, not a 401 later), and the CA is read or made on first use.
        let injections = try InspectionService.injections(of: policy, environment: configuration.environment)
        var inspection: InspectionService?
        if !policy.inspectedHosts.isEmpty {
            if let kept = previous?.inspection {
                inspection = kept
            } else {
                inspection = try InspectionService.make(configuration)
            }
        }

        let resolver: any HostResolver
        let upstream: any HostResolver = configuration.dnsServer.map {
            DNSServerResolver(server: $0, timeout: configuration.dnsTimeout)
        } ?? SystemResolver(timeout: configuration.dnsTimeout)
        if let hostsFile = configuration.hostsFile {
            do {
                resolver = try HostsFileResolver(path: hostsFile, fallback: upstream)
            } catch {
                throw ProxyError(.hostsFile, "\(error.message); check --hosts-file.")
            }
        } else {
            resolver = upstream
        }

        let broker: ApprovalBroker
        let timeout = ApprovalBroker.timeout(seconds: loaded.document.approval.timeoutSeconds)
        let mode: ApprovalMode.Resolution
        do {
            mode = try ApprovalMode.resolve(policyMode: loaded.document.approval.mode.rawValue,
                                            environment: configuration.environment)
        } catch {
            throw ProxyError(.policy, error.description)
        }
        if let previous, previous.pipeline.approvals.timeout == timeout,
           previous.loaded.document.approval.mode == loaded.document.approval.mode {
            broker = previous.pipeline.approvals
        } else if let handler = configuration.approvalHandler {
            broker = ApprovalBroker(handler: handler, timeout: timeout)
        } else {
            broker = ApprovalBroker(handler: mode.mode.makeHandler(environment: configuration.environment), timeout: timeout)
        }
        let pipeline = DecisionPipeline(mode: .proxy, policySHA256: loaded.sha256, audit: audit, approvals: broker)
        return ProxyRules(loaded: loaded, policy: policy, allowLists: allowLists, resolver: resolver, pipeline: pipeline,
                          generation: (previous?.generation ?? -1) + 1, inspection: inspection, injections: injections)
    }

    /// What the snapshot is made of, for the start and reload records.
    var summary: [String: String] {
        var details = [
            "policy": loaded.source.description,
            "policy_sha256": loaded.sha256,
            "allowed_hosts": String(policy.document.allowedHosts.count),
            "generation": String(generation),
        ]
        let inspected = policy.inspectedHosts
        if !inspected.isEmpty {
            details["inspected_hosts"] = inspected.map(\.host).joined(separator: ",")
            if let inspection { details["ca"] = inspection.ca.certificatePath }
        }
        for (index, list) in allowLists.enumerated() {
            details["allow_list_\(index)"] = "\(list.path) (\(list.entries.count) entries)"
        }
        return details
    }
}
