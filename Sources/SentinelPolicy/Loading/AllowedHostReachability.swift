// `allowed_hosts` entries that the rest of the same policy always denies.
//
// An entry that no policy could ever open (cloud metadata, documentation ranges, an invalid
// `xn--` label…) is refused by `HostPattern` when the policy compiles. The entries here are
// different: they are valid, and the engine's documented order makes another key of this policy
// win over them (`blocked_hosts`, `blocked_ips` and the phishing TLDs deny before `allowed_hosts`
// allows; the address rules deny after it). Deny-wins is the design (as with `blocked_paths`
// inside `allowed_paths`), and changing the other key brings the entry back to life, so these
// load; but an allowance that allows nothing must not pass unnoticed, so each gets a warning
// that says which key wins and what to change.

/// The warnings for `allowed_hosts` entries that other keys of the same policy always deny.
enum AllowedHostReachability {
    static func warnings(for document: PolicyDocument) -> [PolicyWarning] {
        var warnings: [PolicyWarning] = []
        let failsafe = document.networkFailsafe
        var blockedNames: [(name: String, keyPath: String)] = []
        var blockedAddresses: [(address: IPAddress, keyPath: String)] = []
        for entry in failsafe.blockedHosts {
            switch try? HostName.normalize(entry.value) {
            case .name(let name)?: blockedNames.append((name, entry.keyPath))
            case .address(let address)?: blockedAddresses.append((address.withoutZone, entry.keyPath))
            case nil: break  // refused when the policy compiles
            }
        }
        func ranges(_ entries: [Located<String>]) -> [(network: IPNetwork, keyPath: String)] {
            entries.compactMap { entry in
                (try? IPNetwork(parsing: entry.value.trimmingWhitespace())).map { ($0, entry.keyPath) }
            }
        }
        let blockedIPs = ranges(failsafe.blockedIPs)
        let allowedIPs = ranges(failsafe.allowedIPs)
        let tlds: [(suffix: String, keyPath: String)] = document.phishing.enabled
            ? document.phishing.blockedTLDs.map { entry in
                var suffix = entry.value.trimmingWhitespace().lowercased()
                if suffix.hasPrefix(".") { suffix.removeFirst() }
                return (suffix, entry.keyPath)
            }
            : []

        for entry in document.allowedHosts {
            // An entry that does not compile is reported, as an error, when the policy compiles.
            guard let pattern = try? HostPattern(entry: entry.host, match: entry.match ?? document.hostMatchMode) else {
                continue
            }
            func warn(_ message: String) {
                warnings.append(PolicyWarning(location: entry.location, keyPath: entry.keyPath, message: message))
            }
            let quoted = HostNameError.quoted(entry.host)
            switch pattern.kind {
            case .any:
                continue
            case .address(let address):
                let classification = AddressClassifier.classify(address)
                // The same candidates the address gate checks: the address and the IPv4 address it carries.
                let candidates = [address.withoutZone] + (classification.embedded.map { [$0.address] } ?? [])
                if let blocked = blockedAddresses.first(where: { candidates.contains($0.address) }) {
                    warn("\(quoted) is always denied: \(blocked.keyPath) blocks the same address and wins over allowed_hosts; "
                        + "remove one of the two.")
                } else if let range = blockedIPs.first(where: { range in candidates.contains { range.network.contains($0) } }) {
                    warn("\(quoted) is always denied: it is inside \(range.network) (\(range.keyPath)), which wins over "
                        + "allowed_hosts; remove one of the two.")
                } else if !allowedIPs.isEmpty,
                          !allowedIPs.contains(where: { range in candidates.contains { range.network.contains($0) } }) {
                    warn("\(quoted) is always denied: it is in none of network_failsafe.allowed_ips; add it (or its "
                        + "range) there, or remove the entry.")
                } else if classification.category.isPrivateNetwork && !failsafe.allowPrivateNetwork {
                    warn("\(quoted) is always denied: \(classification.description), and "
                        + "network_failsafe.allow_private_network is false; set it to true to reach private addresses, "
                        + "or remove the entry.")
                }
            case .exact(let base), .subdomainsOnly(let base), .domainAndSubdomains(let base):
                // Every name the entry matches is `base` or ends in `.base`, so a rule that covers
                // `base` covers them all.
                if let tld = tlds.first(where: { HostPattern.name(base, isWithin: $0.suffix) }) {
                    warn("\(quoted) is always denied: every host it matches ends in .\(tld.suffix), which "
                        + "\(tld.keyPath) denies as a phishing risk; remove the suffix from phishing.blocked_tlds or "
                        + "remove the entry.")
                } else if let blocked = blockedNames.first(where: { HostPattern.name(base, isWithin: $0.name) }) {
                    warn("\(quoted) is always denied: every host it matches is under \(blocked.name), which "
                        + "\(blocked.keyPath) blocks and which wins over allowed_hosts; remove one of the two.")
                }
            }
        }
        return warnings
    }
}
