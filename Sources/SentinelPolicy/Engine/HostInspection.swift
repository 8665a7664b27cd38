// The rules of an inspected `allowed_hosts` entry (`inspect: true`): which methods and paths a
// request may have, and which headers the proxy sets. Pure and without I/O like the rest of the
// engine: the proxy asks `check(method:path:)` for every request it reads inside the agent's TLS.
//
// Paths are decided on the path the destination will act on, not on the text the agent wrote.
// A server resolves dot-segments and decodes percent-encoded characters before it routes, so
// `/v1/chat/%2e%2e/admin` would pass a glob `/v1/chat/*` as text and reach `/v1/admin`. The
// path is therefore normalised first (RFC 3986 §6.2.2: unreserved characters decoded), and
// what a server could read in more than one way (dot-segments, encoded `/` and `\`, NUL) is
// refused rather than guessed.

/// The compiled rules of one inspected `allowed_hosts` entry.
public struct HostInspection: Sendable, Hashable {
    /// The entry's key path (`allowed_hosts[2]`): the rule that allowed the host.
    public let keyPath: String
    /// The entry's host as written.
    public let host: String
    /// The allowed methods, uppercased; `nil` means any.
    public let methods: [Located<String>]?
    /// The allowed path globs; `nil` means any.
    public let paths: [Located<String>]?
    /// The headers the proxy sets on every request.
    public let inject: [HeaderInjection]
    private let globs: [GlobPattern]

    init(entry: HostEntry) throws(PolicyError) {
        keyPath = entry.keyPath
        host = entry.host
        methods = entry.methods
        paths = entry.paths
        inject = entry.inject
        var globs: [GlobPattern] = []
        for path in entry.paths ?? [] {
            do {
                globs.append(try GlobPattern(path.value))
            } catch {
                throw PolicyError(.invalidValue, "\(error.description).", at: path.location, keyPath: path.keyPath)
            }
        }
        self.globs = globs
    }

    /// Decides one request on this host by its method and its path (without the query).
    ///
    /// - Parameters:
    ///   - method: the request method as sent.
    ///   - path: the request path as sent, without `?` and the query.
    /// - Returns: an allow naming the rule (`allowed_hosts[2].paths[1]`), or a denial whose reason
    ///   says which rule refused and whose remedy says what to add.
    public func check(method: String, path: String) -> Verdict {
        let normalized: String
        switch Self.normalize(path: path) {
        case .success(let text): normalized = text
        case .failure(let problem):
            return .deny(
                rule: "builtin:inspect-path",
                reason: "The path \(Self.shown(path)) \(problem.description), so the destination could act on another "
                    + "path than the one the rules see; it is refused.",
                remedy: "Send the path without dot-segments or encoded slashes.")
        }
        let upper = method.uppercased()
        if let methods, !methods.contains(where: { $0.value == upper }) {
            return .deny(
                rule: "\(keyPath).methods",
                reason: "The method \(Self.shown(method)) is not among \(keyPath).methods "
                    + "(\(methods.map(\.value).joined(separator: ", "))) for \(host).",
                remedy: "Add \(upper) to \(keyPath).methods.")
        }
        var rule = methods == nil ? keyPath : "\(keyPath).methods"
        if let paths {
            guard let index = globs.firstIndex(where: { $0.matches(normalized) }) else {
                return .deny(
                    rule: "\(keyPath).paths",
                    reason: "The path \(Self.shown(normalized)) matches none of \(keyPath).paths "
                        + "(\(paths.map { Self.shown($0.value) }.joined(separator: ", "))) for \(host).",
                    remedy: "Add \(Self.shown(normalized)) (or a glob that covers it) to \(keyPath).paths.")
            }
            rule = paths[index].keyPath
        }
        return .allow(rule: rule, reason: "\(upper) \(normalized) on \(host) is allowed by \(rule).")
    }

    /// Why a request path cannot be decided.
    public struct PathProblem: Error, Sendable, Hashable, CustomStringConvertible {
        /// The end of a sentence that starts with "The path … ".
        public var description: String
    }

    /// The path as a server will route it: percent-encoded unreserved characters decoded
    /// (`%61` is `a`), everything else as sent. Refused: a path not starting with `/`, a `.` or
    /// `..` segment (also encoded), an encoded `/`, `\` or NUL, a raw `\`, a broken `%` escape,
    /// control characters and spaces.
    public static func normalize(path: String) -> Result<String, PathProblem> {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else {
            return .failure(PathProblem(description: "does not start with /"))
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte <= 0x20 || byte >= 0x7f {
                return .failure(PathProblem(description: "holds a space, a control character or a non-ASCII byte"))
            }
            if byte == UInt8(ascii: "\\") {
                return .failure(PathProblem(description: "holds a backslash, which some servers read as /"))
            }
            guard byte == UInt8(ascii: "%") else {
                out.append(byte)
                index += 1
                continue
            }
            guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else {
                return .failure(PathProblem(description: "holds a % that is not followed by two hexadecimal digits"))
            }
            let decoded = high << 4 | low
            switch decoded {
            case UInt8(ascii: "/"), UInt8(ascii: "\\"), 0:
                return .failure(PathProblem(description: "holds an encoded /, \\ or NUL (%2F, %5C, %00)"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.append(decoded)
            default:
                // Reserved and other characters stay encoded, in upper case (RFC 3986 §6.2.2.1).
                out.append(contentsOf: "%".utf8)
                out.append(contentsOf: String(decoded, radix: 16, uppercase: true).leftPadded().utf8)
            }
            index += 3
        }
        let normalized = String(decoding: out, as: UTF8.self)
        for segment in normalized.split(separator: "/", omittingEmptySubsequences: false) where segment == "." || segment == ".." {
            return .failure(PathProblem(description: "has a \(segment) segment"))
        }
        return .success(normalized)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A value quoted for a sentence, cut to a sane length.
    static func shown(_ text: String) -> String {
        "\"" + (text.count > 200 ? String(text.prefix(200)) + "…" : text) + "\""
    }
}

extension String {
    fileprivate func leftPadded() -> String { count < 2 ? "0" + self : self }
}

extension Policy {
    /// The inspection rules of the `allowed_hosts` entry whose key path is `rule` (the rule of a
    /// name-gate allow), or `nil` when that entry is not inspected or `rule` names no entry.
    public func inspection(forRule rule: String) -> HostInspection? {
        network.inspections[rule]
    }

    /// Every inspected entry, in policy order.
    public var inspectedHosts: [HostInspection] {
        network.allowedHosts.compactMap { network.inspections[$0.entry.keyPath] }
    }
}
