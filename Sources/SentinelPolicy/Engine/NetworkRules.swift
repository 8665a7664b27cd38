/// Where a URL or connect wants to go, after parsing and normalisation.
public struct NetworkTarget: Sendable, Hashable, CustomStringConvertible {
    /// The normalised host: a name or an address.
    public var host: NormalizedHost
    /// The port that will be dialled.
    public var port: Int
    /// The URL scheme, or `nil` for a raw connect.
    public var scheme: String?

    /// `scheme://host:port` or `host:port`.
    public var description: String {
        (scheme.map { "\($0)://" } ?? "") + "\(host.uriHost):\(port)"
    }
}

/// The final answer for a URL or connect: the verdict and, when allowed, the addresses the caller
/// must dial — exactly these, never a second lookup (DNS rebinding is defeated by dialling what
/// was checked).
public struct NetworkDecision: Sendable, Hashable {
    /// Allow or deny, the rule and why.
    public var verdict: Verdict
    /// Where the request goes, when it could be parsed.
    public var target: NetworkTarget?
    /// For an allow: every address that passed the address rules, in resolver order.
    public var addresses: [IPAddress]

    /// Whether the caller may connect.
    public var isAllowed: Bool { verdict.isAllowed }
}

/// The first half of a network decision, which needs no DNS: either decided already (a refused
/// name, or an IP literal that was checked), or a name that passed the name rules and must now be
/// resolved and its answers checked with `Policy.checkAddresses`.
public enum NetworkCheck: Sendable, Hashable {
    /// No lookup needed: this is the answer.
    case decided(NetworkDecision)
    /// The name passed `nameVerdict`; resolve `name` and check every answer.
    case needsResolution(target: NetworkTarget, name: String, nameVerdict: Verdict)
}

/// `allowed_hosts`, `network_failsafe` and `phishing`, compiled: host patterns, blocked names,
/// address ranges and TLDs, validated when the policy loads.
struct NetworkRules: Sendable, Hashable {
    /// One `allowed_hosts` entry with everything a decision needs computed when the policy loads:
    /// the name gate runs for every request, and its allow path builds no string and hashes nothing.
    struct AllowedHost: Sendable, Hashable {
        var pattern: HostPattern
        var entry: HostEntry
        /// `entry.schemes` as a list (`nil`: any): a handful of short strings, which a linear
        /// scan compares faster than a `Set` hashes one.
        var schemes: [String]?
        /// `entry.ports` as a sorted list (`nil`: any).
        var ports: [Int]?
        /// The verdict of a request this entry allows.
        var verdict: Verdict
        /// For an entry that is an IP address without a zone: `[that address]`, the address list of
        /// a request to exactly that literal, so that allowing it does not allocate.
        var literalAddresses: [IPAddress]?

        init(pattern: HostPattern, entry: HostEntry) {
            self.pattern = pattern
            self.entry = entry
            schemes = entry.schemes.map { $0.sorted() }
            ports = entry.ports.map { $0.sorted() }
            verdict = .allow(rule: entry.keyPath, reason: "Allowed by \(entry.host).")
            if case .address(let address) = pattern.kind, address.zone == nil {
                literalAddresses = [address]
            }
        }

        func allowsScheme(_ scheme: String?) -> Bool {
            guard let scheme, let schemes else { return true }
            for allowed in schemes where allowed == scheme { return true }
            return false
        }

        func allowsPort(_ port: Int) -> Bool {
            guard let ports else { return true }
            for allowed in ports where allowed >= port { return allowed == port }
            return false
        }
    }

    struct BlockedName: Sendable, Hashable {
        var name: String
        var keyPath: String
        var entry: String
    }

    struct Range: Sendable, Hashable {
        var network: IPNetwork
        var keyPath: String
        var entry: String
    }

    var allowedHosts: [AllowedHost] = []
    var blockedHosts: [BlockedName] = []
    var blockedAddresses: [IPAddress] = []
    var blockedAddressKeys: [String] = []
    var blockedIPs: [Range] = []
    var allowedIPs: [Range] = []
    var phishingTLDs: [BlockedName] = []
    var phishingEnabled = true
    var allowPrivateNetwork = false
    /// The rules of inspected entries (`inspect: true`), by the entry's key path.
    var inspections: [String: HostInspection] = [:]

    init(document: PolicyDocument) throws(PolicyError) {
        for entry in document.allowedHosts {
            let pattern: HostPattern
            do {
                pattern = try HostPattern(entry: entry.host, match: entry.match ?? document.hostMatchMode)
                allowedHosts.append(AllowedHost(pattern: pattern, entry: entry))
            } catch {
                throw PolicyError(.invalidValue, error.reason.prefix(1).uppercased() + error.reason.dropFirst() + ".",
                                  at: entry.location, keyPath: entry.keyPath)
            }
            guard entry.inspect else { continue }
            // A credential goes only where its author named: a wildcard or subdomain entry would
            // send it to every host under the name, including ones an attacker can create.
            if let first = entry.inject.first {
                switch pattern.kind {
                case .exact, .address:
                    break
                default:
                    throw PolicyError(
                        .invalidValue, "`inject` needs an entry that names one host, and \"\(entry.host)\" matches "
                            + "many (a wildcard, a .domain or subdomain matching), so the credential would go to hosts "
                            + "the policy does not name.", at: first.location, keyPath: "\(entry.keyPath).inject",
                        hint: "Write a separate entry {host: api.example.com, match: exact, inspect: true, inject: …} "
                            + "for each host that needs the credential.")
                }
            }
            inspections[entry.keyPath] = try HostInspection(entry: entry)
        }
        for entry in document.networkFailsafe.blockedHosts {
            do {
                switch try HostName.normalize(entry.value) {
                case .name(let name):
                    blockedHosts.append(BlockedName(name: name, keyPath: entry.keyPath, entry: entry.value))
                case .address(let address):
                    blockedAddresses.append(address)
                    blockedAddressKeys.append(entry.keyPath)
                }
            } catch {
                throw PolicyError(.invalidValue, "\"\(entry.value)\" is not a host name: \(error.reason).",
                                  at: entry.location, keyPath: entry.keyPath)
            }
        }
        func ranges(_ entries: [Located<String>]) throws(PolicyError) -> [Range] {
            var result: [Range] = []
            for entry in entries {
                do {
                    result.append(Range(network: try IPNetwork(parsing: entry.value.trimmingWhitespace()),
                                        keyPath: entry.keyPath, entry: entry.value))
                } catch {
                    throw PolicyError(.invalidValue, "\(error.description).", at: entry.location, keyPath: entry.keyPath,
                                      hint: "Write an address (10.0.0.5, 2001:db8::1) or a CIDR range (10.0.0.0/8).")
                }
            }
            return result
        }
        blockedIPs = try ranges(document.networkFailsafe.blockedIPs)
        allowedIPs = try ranges(document.networkFailsafe.allowedIPs)
        for entry in document.phishing.blockedTLDs {
            var suffix = entry.value.trimmingWhitespace().lowercased()
            if suffix.hasPrefix(".") { suffix.removeFirst() }
            guard !suffix.isEmpty, suffix.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 }),
                  !suffix.hasPrefix("."), !suffix.hasSuffix("."), !suffix.contains("..") else {
                throw PolicyError(.invalidValue, "\"\(entry.value)\" is not a domain suffix.", at: entry.location,
                                  keyPath: entry.keyPath, hint: "Write suffixes such as \".zip\" or \".co.xyz\".")
            }
            phishingTLDs.append(BlockedName(name: suffix, keyPath: entry.keyPath, entry: entry.value))
        }
        phishingEnabled = document.phishing.enabled
        allowPrivateNetwork = document.networkFailsafe.allowPrivateNetwork
    }
}

extension Policy {
    // MARK: - Name gate

    /// The part of a URL decision that needs no DNS: parsing, the phishing TLDs,
    /// `network_failsafe.blocked_hosts`, and `allowed_hosts` with their schemes and ports. An IP
    /// literal is decided completely here.
    public func checkURL(_ url: String) -> NetworkCheck {
        let target: RequestTarget.Destination
        do {
            target = try RequestTarget.parseDestination(url: url)
        } catch {
            return .decided(NetworkDecision(
                verdict: .deny(rule: "builtin:url-syntax", reason: "Invalid URL: \(error.description)"), target: nil, addresses: []
            ))
        }
        return nameGate(NetworkTarget(host: target.host, port: Int(target.port), scheme: target.scheme))
    }

    /// The part of a connect decision that needs no DNS. `host` may be a name or an address in any
    /// form the C library accepts (`127.1` is 127.0.0.1, as it would be dialled).
    public func checkConnect(host: String, port: Int) -> NetworkCheck {
        guard (1...65_535).contains(port) else {
            return .decided(NetworkDecision(
                verdict: .deny(rule: "builtin:connect-syntax", reason: "\(port) is not a port (1–65535)."), target: nil, addresses: []
            ))
        }
        let normalized: NormalizedHost
        do {
            var text = host
            if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
            normalized = try HostName.normalize(text)
        } catch {
            return .decided(NetworkDecision(
                verdict: .deny(rule: "builtin:host-syntax", reason: "Socket connect target \(error.description)"), target: nil, addresses: []
            ))
        }
        return nameGate(NetworkTarget(host: normalized, port: port, scheme: nil))
    }

    private func nameGate(_ target: NetworkTarget) -> NetworkCheck {
        // Messages are built only on the branch that returns them: this runs for every request.
        func shown() -> String {
            target.scheme.map { "\(target.host.uriHost) (\($0):\(target.port))" } ?? "\(target.host.uriHost):\(target.port)"
        }
        if let name = target.host.name {
            if network.phishingEnabled, let tld = network.phishingTLDs.first(where: { HostPattern.name(name, isWithin: $0.name) }) {
                return .decided(NetworkDecision(verdict: .deny(
                    rule: tld.keyPath, reason: "Phishing Risk Detected: Blocked TLD detected: .\(tld.name) (\(name)).",
                    remedy: "Remove \"\(tld.entry)\" from phishing.blocked_tlds if \(name) is trusted."
                ), target: target, addresses: []))
            }
            if let blocked = network.blockedHosts.first(where: { HostPattern.name(name, isWithin: $0.name) }) {
                return .decided(NetworkDecision(verdict: .finalDeny(
                    rule: blocked.keyPath, reason: "Network access to \(name) is blocked.",
                    remedy: "Remove \"\(blocked.entry)\" from network_failsafe.blocked_hosts."
                ), target: target, addresses: []))
            }
        }
        // Indices, not `for allowed in`: iterating copies each entry (a dozen retains) just to test it.
        var nearMiss: Int?
        var allowedBy: Int?
        let allowedHosts = network.allowedHosts
        for index in allowedHosts.indices where allowedHosts[index].pattern.matches(target.host) {
            if allowedHosts[index].allowsScheme(target.scheme) && allowedHosts[index].allowsPort(target.port) {
                allowedBy = index
                break
            }
            nearMiss = nearMiss ?? index
        }
        guard let allowedBy else {
            // An address no policy change can open (cloud metadata, the special ranges) says so,
            // rather than suggesting an allowed_hosts entry that would not help.
            if case .address(let address) = target.host {
                let classification = AddressClassifier.classify(address)
                if classification.category == .cloudMetadata || classification.category.isAlwaysBlocked,
                   let denial = addressDenial(address, classification) {
                    return .decided(NetworkDecision(verdict: denial, target: target, addresses: []))
                }
            }
            let nearMiss = nearMiss.map { allowedHosts[$0] }
            let reason = "Network access to \(shown()) is blocked."
            let remedy: String
            if let nearMiss {
                remedy = "\(nearMiss.entry.keyPath) (\(nearMiss.entry.host)) matches the host but not this "
                    + (target.scheme.map { nearMiss.entry.schemes?.contains($0) == false ? "scheme (\($0))" : "port (\(target.port))" } ?? "port (\(target.port))")
                    + "; add it to that entry's \(target.scheme.map { nearMiss.entry.schemes?.contains($0) == false ? "schemes" : "ports" } ?? "ports")."
            } else {
                let schemes = target.scheme.map { ", schemes: [\($0)]" } ?? ""
                remedy = "Add {host: \(target.host.uriHost)\(schemes), ports: [\(target.port)]} to allowed_hosts."
            }
            return .decided(NetworkDecision(verdict: .deny(rule: "default:allowed_hosts", reason: reason, remedy: remedy),
                                            target: target, addresses: []))
        }
        let nameVerdict = allowedHosts[allowedBy].verdict
        switch target.host {
        case .address(let address):
            // An entry naming this very address already holds the one-element list.
            let addresses = allowedHosts[allowedBy].literalAddresses.flatMap { $0[0] == address ? $0 : nil } ?? [address]
            return .decided(decideAddresses(addresses, target: target, nameVerdict: nameVerdict))
        case .name(let name):
            return .needsResolution(target: target, name: name, nameVerdict: nameVerdict)
        }
    }

    // MARK: - Address gate

    /// Checks every resolved address of a name that passed the name gate. Any address that is
    /// denied denies the whole request: a resolver answering one public and one private address is
    /// the rebinding pattern, and a client that picks the second must not get through.
    public func checkAddresses(_ addresses: [IPAddress], target: NetworkTarget, nameVerdict: Verdict) -> NetworkDecision {
        decideAddresses(addresses, target: target, nameVerdict: nameVerdict)
    }

    /// Checks one address on its own (a connect by IP seen by a supervisor, a proxy's connected
    /// peer): `blocked_ips`, `allowed_ips`, and the private, special and metadata ranges.
    public func checkAddress(_ address: IPAddress) -> Verdict {
        let classification = AddressClassifier.classify(address)
        if let denial = addressDenial(address, classification) { return denial }
        return classification.category.isPublic ? Self.publicAddress : Self.allowedPrivateAddress
    }

    /// The denial of `checkAddress`, or `nil` when the address may be reached (no allow verdict is
    /// built for the many addresses that pass).
    private func addressDenial(_ address: IPAddress, _ classification: AddressClassification) -> Verdict? {
        let embedded = classification.embedded?.address
        if !network.blockedAddresses.isEmpty || !network.blockedIPs.isEmpty || !network.allowedIPs.isEmpty {
            if let denial = checkRanges(address, embedded: embedded) { return denial }
        }
        if classification.category == .cloudMetadata {
            return .finalDeny(rule: "builtin:cloud-metadata", reason: "\(classification.description) and is never reachable.")
        }
        if classification.category.isAlwaysBlocked {
            return .finalDeny(rule: "builtin:special-address", reason: "\(classification.description) and is never reachable.")
        }
        if classification.category.isPrivateNetwork && !network.allowPrivateNetwork {
            return .deny(rule: "network_failsafe.allow_private_network",
                         reason: "Private network socket access to \(address) is blocked: \(classification.description).",
                         remedy: "Set network_failsafe.allow_private_network: true if private addresses are meant to be reached.")
        }
        return nil
    }

    private static let publicAddress = Verdict.allow(rule: "network_failsafe", reason: "The address is public.")
    private static let allowedPrivateAddress = Verdict.allow(
        rule: "network_failsafe.allow_private_network", reason: "The address is private, and private networks are allowed."
    )

    /// `blocked_hosts` addresses, `blocked_ips` and `allowed_ips`, for an address and the IPv4
    /// address embedded in it (an IPv4-mapped form reaches the same host).
    private func checkRanges(_ address: IPAddress, embedded: IPAddress?) -> Verdict? {
        let candidates = embedded.map { [address, $0] } ?? [address]
        for candidate in candidates {
            if let index = network.blockedAddresses.firstIndex(of: candidate.withoutZone) {
                return .finalDeny(rule: network.blockedAddressKeys[index], reason: "Socket access to \(address) is blocked.",
                             remedy: "Remove it from network_failsafe.blocked_hosts.")
            }
            if let range = network.blockedIPs.first(where: { $0.network.contains(candidate.withoutZone) }) {
                return .finalDeny(rule: range.keyPath, reason: "Socket access to \(address) is blocked (\(range.entry)).",
                             remedy: "Remove \"\(range.entry)\" from network_failsafe.blocked_ips.")
            }
        }
        if !network.allowedIPs.isEmpty,
           !candidates.contains(where: { candidate in network.allowedIPs.contains { $0.network.contains(candidate.withoutZone) } }) {
            return .deny(rule: "network_failsafe.allowed_ips", reason: "Socket access to \(address) is not allowed: it is in none of allowed_ips.",
                         remedy: "Add \(address) (or its range) to network_failsafe.allowed_ips.")
        }
        return nil
    }

    private func decideAddresses(_ addresses: [IPAddress], target: NetworkTarget, nameVerdict: Verdict) -> NetworkDecision {
        guard !addresses.isEmpty else {
            return NetworkDecision(verdict: .deny(rule: "builtin:dns", reason: "\(target.host.uriHost) has no addresses; a name that does not resolve is denied."),
                                   target: target, addresses: [])
        }
        for address in addresses {
            if let verdict = addressDenial(address, AddressClassifier.classify(address)) {
                var denial = verdict
                if target.host.name != nil {
                    denial.reason = "\(target.host.uriHost) resolves to \(address): " + verdict.reason
                }
                return NetworkDecision(verdict: denial, target: target, addresses: [])
            }
        }
        return NetworkDecision(verdict: nameVerdict, target: target, addresses: addresses)
    }

    // MARK: - With DNS

    /// A whole URL decision: the name gate, one lookup through `resolver` (its failure or timeout
    /// denies), and every answer checked. Dial only `addresses` of the result.
    public func evaluateURL(_ url: String, resolver: any HostResolver) async -> NetworkDecision {
        await finish(checkURL(url), resolver: resolver)
    }

    /// A whole connect decision, as `evaluateURL`.
    public func evaluateConnect(host: String, port: Int, resolver: any HostResolver) async -> NetworkDecision {
        await finish(checkConnect(host: host, port: port), resolver: resolver)
    }

    private func finish(_ check: NetworkCheck, resolver: any HostResolver) async -> NetworkDecision {
        switch check {
        case .decided(let decision):
            return decision
        case .needsResolution(let target, let name, let nameVerdict):
            let addresses: [IPAddress]
            do {
                addresses = try await resolver.resolve(name)
            } catch {
                return NetworkDecision(
                    verdict: .deny(rule: "builtin:dns", reason: "\(error); a lookup that fails or times out is denied."),
                    target: target, addresses: []
                )
            }
            return decideAddresses(addresses, target: target, nameVerdict: nameVerdict)
        }
    }
}
