/// A value read from the policy text, with where it was written, so that a problem found later
/// (when rules are compiled) can still point at the exact line.
public struct Located<Value: Sendable & Hashable>: Sendable, Hashable {
    /// The value as written (strings are not yet normalised).
    public var value: Value
    /// The key path, e.g. `allowed_paths[2]`.
    public var keyPath: String
    /// Where it was written; `nil` for values that came from defaults.
    public var location: SourceLocation?

    /// Creates a located value.
    public init(_ value: Value, keyPath: String, location: SourceLocation? = nil) {
        self.value = value
        self.keyPath = keyPath
        self.location = location
    }
}

/// How a plain `allowed_hosts` entry matches host names (`host_match_mode`, or an entry's `match`).
public enum HostMatchMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// The host must equal the entry.
    case exact
    /// The host must equal the entry or be one of its subdomains.
    case subdomain
}

/// One `allowed_commands` entry: a command name or path, and argument patterns it may not take.
public struct CommandEntry: Sendable, Hashable {
    /// The command as written: a bare name (`git`) or a path (`/usr/local/bin/tool`).
    public var command: String
    /// Glob patterns (`push`, `--upload-pack*`); an argument matching any of them is denied.
    public var argsDeny: [Located<String>]
    /// The key path of the entry, e.g. `allowed_commands[3]`.
    public var keyPath: String
    /// Where the entry was written.
    public var location: SourceLocation?
    /// `trust_children: true`: what the command starts, and their descendants, are not decided
    /// for exec (their writes and connects still are), and its own `#!` interpreter may run. For
    /// test runners and build tools, which run arbitrary code by design; a loud, explicit opt-in.
    public var trustChildren: Bool
    /// `allow_interpreter: true`: the built-in interpreter denylist does not apply to this one
    /// interpreter (nor to scripts whose `#!` names it).
    public var allowInterpreter: Bool

    /// Creates an entry.
    public init(
        command: String, argsDeny: [Located<String>] = [], keyPath: String, location: SourceLocation? = nil,
        trustChildren: Bool = false, allowInterpreter: Bool = false
    ) {
        self.command = command
        self.argsDeny = argsDeny
        self.keyPath = keyPath
        self.location = location
        self.trustChildren = trustChildren
        self.allowInterpreter = allowInterpreter
    }
}

/// One `allowed_hosts` entry: a host pattern with optional scheme and port restrictions.
public struct HostEntry: Sendable, Hashable {
    /// The pattern as written: `api.example.com`, `*.example.com`, `.example.com`, `*`, or an IP.
    public var host: String
    /// The entry's own match mode; `nil` means the policy's `host_match_mode`.
    public var match: HostMatchMode?
    /// Allowed URL schemes, lowercased; `nil` means any scheme.
    public var schemes: Set<String>?
    /// Allowed ports (each 1–65535); `nil` means any port.
    public var ports: Set<Int>?
    /// The key path of the entry, e.g. `allowed_hosts[0]`.
    public var keyPath: String
    /// Where the entry was written.
    public var location: SourceLocation?
    /// `inspect: true`: the proxy ends the agent's TLS for this host with a certificate from the
    /// Sentinel CA, decides every request inside by `methods` and `paths`, adds `inject`, and
    /// opens its own verified TLS connection upstream. Other hosts stay plain CONNECT tunnels.
    public var inspect: Bool
    /// `methods` (uppercased): the request methods allowed; `nil` means any. Needs `inspect`.
    public var methods: [Located<String>]?
    /// `paths`: globs on the request path without its query; `nil` means any. Needs `inspect`.
    public var paths: [Located<String>]?
    /// `inject`: headers the proxy sets on every request to this host, replacing any the agent
    /// sent under that name. Needs `inspect`.
    public var inject: [HeaderInjection]

    /// Creates an entry.
    public init(
        host: String,
        match: HostMatchMode? = nil,
        schemes: Set<String>? = nil,
        ports: Set<Int>? = nil,
        keyPath: String,
        location: SourceLocation? = nil,
        inspect: Bool = false,
        methods: [Located<String>]? = nil,
        paths: [Located<String>]? = nil,
        inject: [HeaderInjection] = []
    ) {
        self.host = host
        self.match = match
        self.schemes = schemes
        self.ports = ports
        self.keyPath = keyPath
        self.location = location
        self.inspect = inspect
        self.methods = methods
        self.paths = paths
        self.inject = inject
    }
}

/// One `inject` item of an inspected `allowed_hosts` entry: a header the proxy sets on every
/// request, whose value may name variables of the proxy's own environment (`Bearer ${TOKEN}`).
///
/// The value is a template, never the secret: the secret is read from the proxy's environment
/// when the proxy starts, so it is never in the policy, the sandbox, a record or a message.
public struct HeaderInjection: Sendable, Hashable {
    /// One piece of a value template.
    public enum Part: Sendable, Hashable {
        /// Text written as is.
        case literal(String)
        /// `${NAME}`: the value of an environment variable of the proxy.
        case variable(String)
    }

    /// The header name as written (`Authorization`).
    public var header: String
    /// The value as written (`Bearer ${GITHUB_TOKEN}`); it names variables, never holds them.
    public var template: String
    /// The template, split into text and variables.
    public var parts: [Part]
    /// The key path of the item, e.g. `allowed_hosts[2].inject[0]`.
    public var keyPath: String
    /// Where the item was written.
    public var location: SourceLocation?

    /// Why a value template cannot be read.
    public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
        /// One sentence.
        public var description: String
    }

    /// Creates an item, reading `template`.
    /// - Throws: `TemplateError` for `${` without `}`, a name that is not `[A-Za-z_][A-Za-z0-9_]*`,
    ///   or a control character (a CR or LF would end the header and start another).
    public init(header: String, template: String, keyPath: String, location: SourceLocation? = nil) throws(TemplateError) {
        self.header = header
        self.template = template
        self.keyPath = keyPath
        self.location = location
        self.parts = try Self.parse(template)
    }

    /// The variables the template names, in order, each once.
    public var variables: [String] {
        var seen: [String] = []
        for case .variable(let name) in parts where !seen.contains(name) { seen.append(name) }
        return seen
    }

    /// The value with every `${NAME}` replaced from `environment`.
    /// - Returns: the value, or the first variable that is unset or empty.
    public func render(_ environment: [String: String]) -> Result<String, MissingVariable> {
        var value = ""
        for part in parts {
            switch part {
            case .literal(let text):
                value += text
            case .variable(let name):
                guard let found = environment[name], !found.isEmpty else {
                    return .failure(MissingVariable(name: name, isEmpty: environment[name] != nil))
                }
                // A secret with a line break would end the header early and start another one.
                guard !found.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) else {
                    return .failure(MissingVariable(name: name, isEmpty: false, hasControlCharacter: true))
                }
                value += found
            }
        }
        return .success(value)
    }

    /// A variable `render` could not use (its name only: never its value).
    public struct MissingVariable: Error, Sendable, Hashable {
        /// The variable's name.
        public var name: String
        /// Whether it is set but empty (an empty credential is as useless as none).
        public var isEmpty: Bool
        /// Whether its value holds a control character (a line break), which a header cannot carry.
        public var hasControlCharacter = false
    }

    static func parse(_ template: String) throws(TemplateError) -> [Part] {
        if let bad = template.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
            throw TemplateError(description: "the value holds the control character U+"
                + String(bad.value, radix: 16, uppercase: true) + ", which a header cannot carry")
        }
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(template)
        while let dollar = rest.range(of: "${") {
            literal += rest[..<dollar.lowerBound]
            let afterOpen = rest[dollar.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else {
                throw TemplateError(description: "\"${\" has no closing \"}\"")
            }
            let name = String(afterOpen[..<close])
            guard isVariableName(name) else {
                throw TemplateError(description: "\"${\(name)}\" does not name an environment variable (letters, digits and _, "
                    + "not starting with a digit)")
            }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
            parts.append(.variable(name))
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return parts
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }
}

extension Substring {
    fileprivate func range(of needle: String) -> Range<Index>? {
        var index = startIndex
        while index < endIndex {
            if self[index...].hasPrefix(needle) {
                return index..<self.index(index, offsetBy: needle.count)
            }
            index = self.index(after: index)
        }
        return nil
    }
}

/// The `phishing` section: URLs whose host ends in one of these top-level domains are denied.
public struct PhishingSettings: Sendable, Hashable {
    /// Whether the check runs (the original ignored this key and always ran it).
    public var enabled = true
    /// Suffixes such as `.zip`, matched on label boundaries of the normalised host.
    public var blockedTLDs: [Located<String>] = [".zip", ".xyz", ".top", ".gq"].enumerated().map {
        Located($0.element, keyPath: "phishing.blocked_tlds[\($0.offset)]")
    }

    /// The defaults of the original.
    public init() {}
}

/// The `network_failsafe` section: address-level rules for every connect and URL.
public struct NetworkFailsafeSettings: Sendable, Hashable {
    /// Whether raw connects (not only HTTP requests) are checked. On by default, as the
    /// deployment guide says ("Socket Fail-Safe (Default On)").
    public var socketConnect = true
    /// Whether loopback, RFC 1918, CGNAT, link-local (never cloud metadata), ULA and site-local
    /// addresses may be reached.
    public var allowPrivateNetwork = false
    /// Whether `sentinel guard` lets a program open raw IP sockets (`SOCK_RAW`, `SOCK_PACKET`)
    /// and packet sockets (`AF_PACKET`): their packets carry headers the program writes, so the
    /// address a `sendto` names is not where they go, and no connect rule can describe them.
    public var allowRawSockets = false
    /// Host names (and their subdomains) that are always denied.
    public var blockedHosts: [Located<String>] = []
    /// Addresses or CIDR ranges that are always denied.
    public var blockedIPs: [Located<String>] = []
    /// When not empty, every resolved address must be in one of these ranges.
    public var allowedIPs: [Located<String>] = []

    /// The defaults.
    public init() {}
}

/// How a denial is escalated to a human.
public enum ApprovalMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// A desktop popup when a display and a dialog tool exist, else a console prompt on a TTY,
    /// else reject.
    case auto
    /// A desktop dialog (zenity, kdialog or yad). `tkinter` is read as this mode.
    case popup
    /// A prompt on the controlling terminal.
    case console
    /// Never ask: every denial stands.
    case reject

    /// Reads a mode name, accepting the original's `tkinter` as an alias of `popup`.
    public init?(name: String) {
        let lowered = name.trimmingWhitespace().lowercased()
        if lowered == "tkinter" {
            self = .popup
        } else if let mode = ApprovalMode(rawValue: lowered) {
            self = mode
        } else {
            return nil
        }
    }
}

/// The `approval` section.
public struct ApprovalSettings: Sendable, Hashable {
    /// How denials are escalated; `SENTINEL_APPROVAL_MODE` overrides it.
    public var mode: ApprovalMode = .auto
    /// How long a prompt waits for an answer before it denies.
    public var timeoutSeconds: Double = 60

    /// The defaults.
    public init() {}
}

/// The `audit` section.
public struct AuditSettings: Sendable, Hashable {
    /// Where compatibility-mode decisions are recorded, relative to the working directory.
    public var path = "./audit.log"

    /// The defaults.
    public init() {}
}

/// The `sandbox` section: resource limits and the environment of an isolated run.
public struct SandboxSettings: Sendable, Hashable {
    /// The most processes and threads the sandbox may hold.
    public var pidsLimit = 256
    /// The memory limit as written (`512m`).
    public var memory = "512m"
    /// The memory limit in bytes.
    public var memoryBytes: UInt64 = 512 * 1024 * 1024
    /// CPUs the sandbox may use (1.0 = one core).
    public var cpus = 1.0
    /// The size of the sandbox's `/tmp` as written (`64m`).
    public var tmpfsSize = "64m"
    /// The size of the sandbox's `/tmp` in bytes.
    public var tmpfsSizeBytes: UInt64 = 64 * 1024 * 1024
    /// Environment variables passed into a sandbox besides PATH, HOME, LANG and TERM; everything
    /// else is scrubbed.
    public var envAllow: [String] = []

    /// The defaults.
    public init() {}
}

/// A `sentinel.yaml` as written: every key of the schema, read and type-checked, before rules
/// that depend on the machine (paths, executables) are compiled.
///
/// Defaults are those of the original (`original-system.md` §1.2) with the fixes this version
/// makes: the socket fail-safe is on, an unknown key is an error, ports and CIDRs are checked.
public struct PolicyDocument: Sendable, Hashable {
    /// Roots under which files may be read and written.
    public var allowedPaths: [Located<String>] = []
    /// Roots that are always denied, even inside an allowed root.
    public var blockedPaths: [Located<String>] = []
    /// Roots that may be read but never written.
    public var readOnlyPaths: [Located<String>] = []
    /// Whether an existing file with more than one hard link may be written (off: the link could
    /// point outside the allowed paths).
    public var allowHardlinkedWrites = false
    /// Commands that may run.
    public var allowedCommands: [CommandEntry] = []
    /// Command names denied on top of the built-in interpreter denylist.
    public var blockedCommandBases: [Located<String>] = []
    /// The default match mode of `allowed_hosts` entries.
    public var hostMatchMode: HostMatchMode = .exact
    /// Hosts that URLs and connects may reach.
    public var allowedHosts: [HostEntry] = []
    /// Phrases that `Sentinel.scanInput` refuses (case-insensitive).
    public var blockedKeywords: [Located<String>] = []
    /// Whether compatibility mode checks itself for tampering (`policy_integrity.tamper_detection`).
    public var tamperDetection = true
    /// The phishing TLD check.
    public var phishing = PhishingSettings()
    /// Address-level network rules.
    public var networkFailsafe = NetworkFailsafeSettings()
    /// How denials reach a human.
    public var approval = ApprovalSettings()
    /// Where decisions are recorded.
    public var audit = AuditSettings()
    /// Limits and environment of isolated runs.
    public var sandbox = SandboxSettings()

    /// An empty policy: nothing is allowed.
    public init() {}
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (no Foundation needed).
    package func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
