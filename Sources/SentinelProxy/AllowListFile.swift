// Squid-style allow-list files (`proxy/allowed-domains.txt`), read into `allowed_hosts` entries so
// that they go through the very engine the policy's own entries use (normalisation, public-suffix
// refusal, label-wise matching). Squid's `dstdomain` semantics (egress-anchors §3.1):
// `.example.com` is the domain and every name under it, `example.com` that name only.

import Foundation
public import SentinelPolicy

/// One allow-list file: a host per line, `#` starts a comment.
///
/// | line | allows |
/// |---|---|
/// | `.example.com` | `example.com` and every name under it |
/// | `example.com` | `example.com` only (whatever the policy's `host_match_mode`) |
/// | `*.example.com` | names under `example.com`, not `example.com` itself |
/// | `203.0.113.7`, `[2001:db8::1]` | that address only |
///
/// Entries name no port, so the proxy allows them on 80 and 443 only (see
/// `ProxyConfiguration.defaultPorts`). A line that is not a valid entry (a public suffix such as
/// `.com`, a wildcard-DNS service, two words) makes the whole file unusable, with its line number:
/// an allow-list is not guessed at. Squid's PTR fallback for addresses does not exist here.
public struct AllowListFile: Sendable, Hashable {
    /// The path the file was read from (used in rule names: `allowed-domains.txt:3`).
    public let path: String
    /// The entries, in file order; each `keyPath` is `path:line`.
    public let entries: [HostEntry]
    /// Lines that are valid but redundant (a duplicate, or a name already covered by a
    /// `.domain` entry), as squid warns about them.
    public let warnings: [String]

    /// Reads and checks `path`.
    public init(path: String) throws(ProxyError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ProxyError(.allowList, "Cannot read the allow-list file \(path): \(error.localizedDescription). "
                + "Check the path given with --allow-domains-file.")
        }
        try self.init(contents: text, path: path)
    }

    /// Parses allow-list text; `path` names it in rule names and messages.
    public init(contents: String, path: String) throws(ProxyError) {
        self.path = path
        var entries: [HostEntry] = []
        var patterns: [HostPattern] = []
        var warnings: [String] = []
        var lineNumber = 0
        for rawLine in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let words = rawLine.prefix { $0 != "#" }.split { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard let word = words.first else { continue }
            guard words.count == 1 else {
                throw ProxyError(.allowList, "\(path):\(lineNumber): a line holds one host, and this one has "
                    + "\(words.count) words; put each host on its own line.")
            }
            let entry = HostEntry(host: String(word), match: .exact, keyPath: "\(path):\(lineNumber)",
                                  location: SourceLocation(file: path, line: lineNumber, column: 1))
            let pattern: HostPattern
            do {
                pattern = try HostPattern(entry: entry.host, match: .exact)
            } catch {
                throw ProxyError(.allowList, "\(path):\(lineNumber): \(error.description).")
            }
            if let index = patterns.firstIndex(where: { $0.covers(pattern) }) {
                warnings.append("\(path):\(lineNumber): \"\(word)\" is already allowed by line "
                    + "\(entries[index].location?.line ?? 0) (\"\(entries[index].host)\"); the line is redundant.")
            }
            entries.append(entry)
            patterns.append(pattern)
        }
        self.entries = entries
        self.warnings = warnings
    }
}

extension HostPattern {
    /// Whether every host `other` matches is matched by `self` too (for redundancy warnings).
    func covers(_ other: HostPattern) -> Bool {
        switch (kind, other.kind) {
        case (.any, _):
            return true
        case (.domainAndSubdomains, .exact(let name)), (.domainAndSubdomains, .domainAndSubdomains(let name)),
             (.domainAndSubdomains, .subdomainsOnly(let name)), (.subdomainsOnly, .exact(let name)),
             (.subdomainsOnly, .domainAndSubdomains(let name)):
            return matches(.name(name))
        case (.subdomainsOnly(let base), .subdomainsOnly(let name)):
            return name == base || matches(.name(name))
        default:
            return self == other
        }
    }
}
