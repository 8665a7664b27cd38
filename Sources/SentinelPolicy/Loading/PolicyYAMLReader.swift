import Yams

/// Reads `sentinel.yaml` text into a `PolicyDocument`, checking every key and type.
///
/// Why not `Codable`: a decoder silently ignores unknown keys (a misspelt `blocked_path:` would
/// quietly block nothing) and reports errors without line numbers. Walking the YAML node tree
/// keeps each node's position, so every error names file, line and column, and an unknown key
/// can suggest the nearest known one.
///
/// Scalars are read with Yams' basic resolver (no implicit typing) and converted here, so that
/// `yes`/`on` in a boolean field mean what they meant to the original (PyYAML, YAML 1.1) and a
/// host named `on` stays a string.
struct PolicyYAMLReader {
    /// The name used in locations: a path, `SENTINEL_POLICY_CONTENT` or `builtin:default`.
    let file: String
    /// Warnings collected while reading (keys this version does not implement).
    private(set) var warnings: [PolicyWarning] = []

    init(file: String) {
        self.file = file
    }

    // MARK: - Top level

    /// Keys the original knew that this version reads but does not act on: they load with a
    /// warning naming them instead of an error, so existing policies keep working.
    static let acknowledgedTopLevelKeys: [String: String] = [
        "judge": "the AI judge (Ollama / Llama Guard / Prompt Guard) is not part of this version; the section is ignored",
        "opa": "OPA/Rego delegation is not part of this version; the section is ignored",
    ]

    static let topLevelKeys = [
        "allowed_paths", "blocked_paths", "read_only_paths", "allow_hardlinked_writes",
        "allowed_commands", "blocked_command_bases", "host_match_mode", "allowed_hosts",
        "blocked_keywords", "policy_integrity", "phishing", "network_failsafe", "approval", "audit",
        "sandbox",
    ]

    mutating func read(_ text: String) throws(PolicyError) -> PolicyDocument {
        // The shape is checked first, on a copy without aliases (see `checkShape`): only then is
        // it safe to let Yams compose the real text.
        try checkShape(text)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, Resolver.basic)
        } catch {
            throw yamlError(error, text: text)
        }
        var document = PolicyDocument()
        guard let root, !isNull(root) else {
            // An empty file is an empty policy: nothing is allowed. That is the safe reading.
            return document
        }
        for (key, keyNode, value) in try entries(of: root, keyPath: "") {
            switch key {
            case "allowed_paths": document.allowedPaths = try stringList(value, keyPath: key)
            case "blocked_paths": document.blockedPaths = try stringList(value, keyPath: key)
            case "read_only_paths": document.readOnlyPaths = try stringList(value, keyPath: key)
            case "allow_hardlinked_writes": document.allowHardlinkedWrites = try bool(value, keyPath: key)
            case "allowed_commands": document.allowedCommands = try commandEntries(value)
            case "blocked_command_bases": document.blockedCommandBases = try stringList(value, keyPath: key)
            case "host_match_mode": document.hostMatchMode = try matchMode(value, keyPath: key)
            case "allowed_hosts": document.allowedHosts = try hostEntries(value)
            case "blocked_keywords": document.blockedKeywords = try stringList(value, keyPath: key)
            case "policy_integrity": try readPolicyIntegrity(value, into: &document)
            case "phishing": document.phishing = try phishing(value)
            case "network_failsafe": document.networkFailsafe = try networkFailsafe(value)
            case "approval": document.approval = try approval(value)
            case "audit": document.audit = try audit(value)
            case "sandbox": document.sandbox = try sandbox(value)
            default:
                if let note = Self.acknowledgedTopLevelKeys[key] {
                    warnings.append(PolicyWarning(location: location(of: keyNode), keyPath: key, message: note + "."))
                } else {
                    throw unknownKey(key, node: keyNode, keyPath: "", known: Self.topLevelKeys)
                }
            }
        }
        warnings += AllowedHostReachability.warnings(for: document)
        return document
    }

    // MARK: - Shape

    /// YAML tags the reader accepts on a node of each kind: the standard ones that restate a
    /// type the policy reads. Whether one fits the field is checked where the field is read.
    static let scalarTags: Set<String> = [Tag.Name.str, .bool, .int, .float, .null].map(\.rawValue).asSet
    static let sequenceTags: Set<String> = [Tag.Name.seq.rawValue]
    static let mappingTags: Set<String> = [Tag.Name.map.rawValue]

    /// Refuses, before the real text is composed, what no policy holds and what would make
    /// composing it unsafe: a second document, a tag outside the standard scalar, list and mapping
    /// tags (`!!python/object/apply:os.system`, `!!binary`, `!!set`, local `!tags`), and a mapping
    /// key that is not a plain scalar.
    ///
    /// Why on a copy: Yams checks every mapping for duplicate keys by hashing the keys, and an
    /// alias is a copy of the node it names, so a key that is an alias to a list of aliases to
    /// lists (the "billion laughs" shape) is hashed in time exponential in its nesting, which
    /// hangs the loader. The copy has every alias `*name` turned into the plain scalar `~name`
    /// (one byte for one, so every line and column stays where it was): it composes in linear
    /// time, has the same nodes, tags and keys as the real text, and shows alias keys as keys
    /// starting with `~`. Once no key is an alias or a collection, the real text composes in
    /// linear time too, because only keys are hashed.
    private func checkShape(_ text: String) throws(PolicyError) {
        var bytes = Array(text.utf8)
        var index = 0
        while index + 1 < bytes.count {
            // libyaml's anchor names are ASCII letters, digits, "_" and "-".
            if bytes[index] == UInt8(ascii: "*"), Self.isAnchorByte(bytes[index + 1]) {
                bytes[index] = UInt8(ascii: "~")
            }
            index += 1
        }
        let copy = String(decoding: bytes, as: UTF8.self)
        let root: Node?
        do {
            let parser = try Parser(yaml: copy, resolver: Resolver.basic)
            root = try parser.nextRoot()
            if let second = try parser.nextRoot() {
                throw PolicyError(
                    .malformedYAML, "the text holds more than one YAML document (a second one starts here).",
                    at: location(of: second),
                    hint: "Keep one policy per file: remove the `---` separator and what follows it."
                )
            }
        } catch let error as PolicyError {
            throw error
        } catch {
            throw yamlError(error, text: text, aliasesRenamed: true)
        }
        guard let root else { return }
        var pending: [(node: Node, keyPath: String)] = [(root, "")]
        while let (node, keyPath) = pending.popLast() {
            try checkTag(of: node, keyPath: keyPath)
            switch node {
            case .scalar, .alias:
                break
            case .sequence(let sequence):
                for (index, item) in sequence.enumerated() {
                    pending.append((item, "\(keyPath)[\(index)]"))
                }
            case .mapping(let mapping):
                for (key, value) in mapping {
                    var name = try checkKey(key, keyPath: keyPath, original: text)
                    // Keys of ignored sections are anything; a key path must still print on one line.
                    if name.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value >= 0x7f || $0 == "\"" }) {
                        name = Self.shown(name)
                    }
                    pending.append((value, keyPath.isEmpty ? name : "\(keyPath).\(name)"))
                }
            }
        }
    }

    private func checkTag(of node: Node, keyPath: String) throws(PolicyError) {
        let (raw, allowed): (String, Set<String>)
        switch node {
        case .scalar(let scalar): (raw, allowed) = (scalar.tag.rawValue, Self.scalarTags)
        case .sequence(let sequence): (raw, allowed) = (sequence.tag.rawValue, Self.sequenceTags)
        case .mapping(let mapping): (raw, allowed) = (mapping.tag.rawValue, Self.mappingTags)
        case .alias: return
        }
        guard !raw.isEmpty, !allowed.contains(raw) else { return }
        let kind = switch node {
        case .sequence: "a list"
        case .mapping: "a mapping"
        default: "a value"
        }
        let standard = Self.scalarTags.contains(raw) || Self.sequenceTags.contains(raw) || Self.mappingTags.contains(raw)
        throw PolicyError(
            .wrongType,
            standard
                ? "the tag \(Self.shortTag(raw)) marks \(Self.tagMeaning(raw)), but it is on \(kind)."
                : "the YAML tag \(Self.shortTag(raw)) is not part of the policy format, which reads only plain "
                    + "strings, numbers, booleans, lists and mappings; no tag is ever applied.",
            at: location(of: node), keyPath: keyPath.isEmpty ? nil : keyPath,
            hint: "Remove the tag and write the value itself."
        )
    }

    /// The key's text, or an error when it is not a plain scalar (a list, a mapping, an alias).
    private func checkKey(_ key: Node, keyPath: String, original: String) throws(PolicyError) -> String {
        let path = keyPath.isEmpty ? nil : keyPath
        guard case .scalar(let scalar) = key else {
            throw PolicyError(.wrongType, "a key must be a plain name, found \(describe(key)).", at: location(of: key),
                              keyPath: path, hint: "Write keys as names, such as `allowed_paths:`.")
        }
        try checkTag(of: key, keyPath: keyPath)
        let utf8 = Array(scalar.string.utf8)
        if scalar.style == .plain, utf8.count >= 2, utf8[0] == UInt8(ascii: "~"), Self.isAnchorByte(utf8[1]) {
            // Either an alias in the real text (the copy renamed it) or a key that starts with
            // "~"; no key of the policy does, so both are refused, each with its own words.
            let alias = "*" + scalar.string.dropFirst()
            if original.contains(alias) {
                throw PolicyError(.wrongType, "the alias \(Self.shown(alias).dropFirst().dropLast()) is used as a key; a key must be a plain name.",
                                  at: location(of: key), keyPath: path,
                                  hint: "Write the key's name, such as `allowed_paths:`; aliases may stand for values only.")
            }
            throw PolicyError(.unknownKey, "\(Self.shown(scalar.string)) is not a key of the policy.", at: location(of: key),
                              keyPath: path, hint: "Write keys as names, such as `allowed_paths:`.")
        }
        return scalar.string
    }

    static func isAnchorByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// `!!int` for the standard tags, the text as written otherwise (quoted, shortened, escaped).
    static func shortTag(_ raw: String) -> String {
        let prefix = "tag:yaml.org,2002:"
        let text = raw.hasPrefix(prefix) ? "!!" + raw.dropFirst(prefix.count) : (raw.hasPrefix("!") ? raw : "!<\(raw)>")
        let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
        return HostNameError.quoted(shown).dropFirst().dropLast().description
    }

    /// What a standard tag says a value is, for messages.
    static func tagMeaning(_ raw: String) -> String {
        switch Tag.Name(rawValue: raw) {
        case .str: "a string"
        case .bool: "a boolean"
        case .int: "a whole number"
        case .float: "a number"
        case .null: "an empty value"
        case .seq: "a list"
        case .map: "a mapping"
        default: "a type the policy does not read"
        }
    }

    // MARK: - Sections

    private mutating func readPolicyIntegrity(_ node: Node, into document: inout PolicyDocument) throws(PolicyError) {
        for (key, keyNode, value) in try entries(of: node, keyPath: "policy_integrity") {
            switch key {
            case "tamper_detection": document.tamperDetection = try bool(value, keyPath: "policy_integrity.tamper_detection")
            default:
                throw unknownKey(key, node: keyNode, keyPath: "policy_integrity", known: ["tamper_detection"])
            }
        }
    }

    private mutating func phishing(_ node: Node) throws(PolicyError) -> PhishingSettings {
        var settings = PhishingSettings()
        for (key, keyNode, value) in try entries(of: node, keyPath: "phishing") {
            let path = "phishing.\(key)"
            switch key {
            case "enabled": settings.enabled = try bool(value, keyPath: path)
            case "blocked_tlds":
                settings.blockedTLDs = try stringList(value, keyPath: path)
                for tld in settings.blockedTLDs {
                    let bare = tld.value.hasPrefix(".") ? String(tld.value.dropFirst()) : tld.value
                    if bare.isEmpty || bare.contains(".") == false && bare.contains(where: { !$0.isLetter && !$0.isNumber && $0 != "-" }) {
                        throw PolicyError(
                            .invalidValue, "\(Self.shown(tld.value)) is not a domain suffix.", at: tld.location,
                            keyPath: tld.keyPath, hint: "Write suffixes like \".zip\" or \".xyz\"."
                        )
                    }
                }
            case "suspicious_keywords":
                warnings.append(PolicyWarning(
                    location: location(of: keyNode), keyPath: path,
                    message: "keyword heuristics are not part of this version (the original never read them either); ignored."
                ))
            default:
                throw unknownKey(key, node: keyNode, keyPath: "phishing", known: ["enabled", "blocked_tlds", "suspicious_keywords"])
            }
        }
        return settings
    }

    private mutating func networkFailsafe(_ node: Node) throws(PolicyError) -> NetworkFailsafeSettings {
        var settings = NetworkFailsafeSettings()
        let known = ["socket_connect", "allow_private_network", "allow_raw_sockets", "blocked_hosts", "blocked_ips", "allowed_ips"]
        for (key, keyNode, value) in try entries(of: node, keyPath: "network_failsafe") {
            let path = "network_failsafe.\(key)"
            switch key {
            case "socket_connect": settings.socketConnect = try bool(value, keyPath: path)
            case "allow_private_network": settings.allowPrivateNetwork = try bool(value, keyPath: path)
            case "allow_raw_sockets": settings.allowRawSockets = try bool(value, keyPath: path)
            case "blocked_hosts": settings.blockedHosts = try stringList(value, keyPath: path)
            case "blocked_ips": settings.blockedIPs = try stringList(value, keyPath: path)
            case "allowed_ips": settings.allowedIPs = try stringList(value, keyPath: path)
            default: throw unknownKey(key, node: keyNode, keyPath: "network_failsafe", known: known)
            }
        }
        return settings
    }

    private mutating func approval(_ node: Node) throws(PolicyError) -> ApprovalSettings {
        var settings = ApprovalSettings()
        for (key, keyNode, value) in try entries(of: node, keyPath: "approval") {
            let path = "approval.\(key)"
            switch key {
            case "mode":
                let name = try string(value, keyPath: path)
                guard let mode = ApprovalMode(name: name) else {
                    throw PolicyError(
                        .invalidValue, "\(Self.shown(name)) is not an approval mode.", at: location(of: value), keyPath: path,
                        hint: "Use one of: auto, popup, console, reject (tkinter is read as popup)."
                    )
                }
                settings.mode = mode
            case "timeout_seconds":
                let seconds = try number(value, keyPath: path)
                guard seconds > 0, seconds <= 86_400 else {
                    throw PolicyError(
                        .invalidValue, "\(seconds) is not a usable timeout.", at: location(of: value), keyPath: path,
                        hint: "Give a number of seconds between 1 and 86400; an unanswered prompt denies when it runs out."
                    )
                }
                settings.timeoutSeconds = seconds
            default: throw unknownKey(key, node: keyNode, keyPath: "approval", known: ["mode", "timeout_seconds"])
            }
        }
        return settings
    }

    private mutating func audit(_ node: Node) throws(PolicyError) -> AuditSettings {
        var settings = AuditSettings()
        for (key, keyNode, value) in try entries(of: node, keyPath: "audit") {
            switch key {
            case "path":
                settings.path = try string(value, keyPath: "audit.path")
                if settings.path.isEmpty {
                    throw PolicyError(
                        .invalidValue, "the audit log path is empty.", at: location(of: value), keyPath: "audit.path",
                        hint: "Give a file path, e.g. ./audit.log."
                    )
                }
            default: throw unknownKey(key, node: keyNode, keyPath: "audit", known: ["path"])
            }
        }
        return settings
    }

    private mutating func sandbox(_ node: Node) throws(PolicyError) -> SandboxSettings {
        var settings = SandboxSettings()
        let known = ["pids_limit", "memory", "cpus", "tmpfs_size", "env_allow"]
        for (key, keyNode, value) in try entries(of: node, keyPath: "sandbox") {
            let path = "sandbox.\(key)"
            switch key {
            case "pids_limit":
                let limit = try integer(value, keyPath: path)
                guard (1...4_194_304).contains(limit) else {
                    throw PolicyError(
                        .invalidValue, "\(limit) is not a usable process limit.", at: location(of: value), keyPath: path,
                        hint: "Give a number of processes between 1 and 4194304 (the default is 256)."
                    )
                }
                settings.pidsLimit = limit
            case "memory":
                settings.memory = try string(value, keyPath: path)
                settings.memoryBytes = try byteSize(settings.memory, node: value, keyPath: path, minimum: 4 * 1024 * 1024)
            case "tmpfs_size":
                settings.tmpfsSize = try string(value, keyPath: path)
                settings.tmpfsSizeBytes = try byteSize(settings.tmpfsSize, node: value, keyPath: path, minimum: 4096)
            case "cpus":
                let cpus = try number(value, keyPath: path)
                guard cpus >= 0.01, cpus <= 1024 else {
                    throw PolicyError(
                        .invalidValue, "\(cpus) is not a usable CPU limit.", at: location(of: value), keyPath: path,
                        hint: "Give a number of CPUs such as 0.5, 1.0 or 2 (the default is 1.0)."
                    )
                }
                settings.cpus = cpus
            case "env_allow":
                let names = try stringList(value, keyPath: path)
                for name in names where !Self.isEnvironmentName(name.value) {
                    throw PolicyError(
                        .invalidValue, "\(Self.shown(name.value)) is not an environment variable name.", at: name.location,
                        keyPath: name.keyPath, hint: "Names are letters, digits and underscores, not starting with a digit."
                    )
                }
                settings.envAllow = names.map(\.value)
            default: throw unknownKey(key, node: keyNode, keyPath: "sandbox", known: known)
            }
        }
        return settings
    }

    // MARK: - Commands and hosts

    private mutating func commandEntries(_ node: Node) throws(PolicyError) -> [CommandEntry] {
        var result: [CommandEntry] = []
        for (index, item) in try items(of: node, keyPath: "allowed_commands").enumerated() {
            let path = "allowed_commands[\(index)]"
            if case .mapping = item {
                var command: String?
                var argsDeny: [Located<String>] = []
                var trustChildren = false
                var allowInterpreter = false
                for (key, keyNode, value) in try entries(of: item, keyPath: path) {
                    switch key {
                    case "command": command = try string(value, keyPath: "\(path).command")
                    case "args_deny": argsDeny = try stringList(value, keyPath: "\(path).args_deny")
                    case "trust_children": trustChildren = try bool(value, keyPath: "\(path).trust_children")
                    case "allow_interpreter": allowInterpreter = try bool(value, keyPath: "\(path).allow_interpreter")
                    default:
                        throw unknownKey(key, node: keyNode, keyPath: path, known: ["command", "args_deny", "trust_children", "allow_interpreter"])
                    }
                }
                guard let command, !command.trimmingWhitespace().isEmpty else {
                    throw PolicyError(
                        .invalidValue, "the entry has no command.", at: location(of: item), keyPath: path,
                        hint: "Write it as {command: git, args_deny: [\"push\"]}."
                    )
                }
                result.append(CommandEntry(
                    command: command, argsDeny: argsDeny, keyPath: path, location: location(of: item),
                    trustChildren: trustChildren, allowInterpreter: allowInterpreter))
            } else {
                let command = try string(item, keyPath: path)
                guard !command.trimmingWhitespace().isEmpty else {
                    throw PolicyError(
                        .invalidValue, "the command is empty.", at: location(of: item), keyPath: path,
                        hint: "Remove the entry or name a command."
                    )
                }
                result.append(CommandEntry(command: command, keyPath: path, location: location(of: item)))
            }
        }
        return result
    }

    private mutating func hostEntries(_ node: Node) throws(PolicyError) -> [HostEntry] {
        var result: [HostEntry] = []
        for (index, item) in try items(of: node, keyPath: "allowed_hosts").enumerated() {
            let path = "allowed_hosts[\(index)]"
            guard case .mapping = item else {
                let host = try string(item, keyPath: path)
                guard !host.trimmingWhitespace().isEmpty else {
                    throw PolicyError(.invalidValue, "the host is empty.", at: location(of: item), keyPath: path,
                                      hint: "Remove the entry or name a host.")
                }
                result.append(HostEntry(host: host, keyPath: path, location: location(of: item)))
                continue
            }
            var entry = HostEntry(host: "", keyPath: path, location: location(of: item))
            var sawHost = false
            var needsInspect: (String, Node)?
            for (key, keyNode, value) in try entries(of: item, keyPath: path) {
                let keyPath = "\(path).\(key)"
                switch key {
                case "host":
                    entry.host = try string(value, keyPath: keyPath)
                    sawHost = true
                case "match": entry.match = try matchMode(value, keyPath: keyPath)
                case "schemes":
                    let schemes = try stringList(value, keyPath: keyPath)
                    var set = Set<String>()
                    for scheme in schemes {
                        let lowered = scheme.value.lowercased()
                        guard Self.isScheme(lowered) else {
                            throw PolicyError(
                                .invalidValue, "\(Self.shown(scheme.value)) is not a URL scheme.", at: scheme.location,
                                keyPath: scheme.keyPath, hint: "Write schemes such as https or http."
                            )
                        }
                        set.insert(lowered)
                    }
                    // An empty list is refused rather than read as "any": the original's silent
                    // widening of a misconfigured list is exactly what we must not copy.
                    guard !set.isEmpty else {
                        throw PolicyError(
                            .invalidValue, "the list of schemes is empty.", at: location(of: value), keyPath: keyPath,
                            hint: "List the schemes to allow, or remove the key to allow any scheme."
                        )
                    }
                    entry.schemes = set
                case "ports":
                    var ports = Set<Int>()
                    let list = try items(of: value, keyPath: keyPath)
                    for (portIndex, portNode) in list.enumerated() {
                        let portPath = "\(keyPath)[\(portIndex)]"
                        let port = try integer(portNode, keyPath: portPath)
                        guard (1...65_535).contains(port) else {
                            throw PolicyError(
                                .invalidValue, "\(port) is not a port.", at: location(of: portNode), keyPath: portPath,
                                hint: "Ports are numbers from 1 to 65535; remove `ports` to allow any port."
                            )
                        }
                        ports.insert(port)
                    }
                    guard !ports.isEmpty else {
                        throw PolicyError(
                            .invalidValue, "the list of ports is empty.", at: location(of: value), keyPath: keyPath,
                            hint: "List the ports to allow, or remove the key to allow any port."
                        )
                    }
                    entry.ports = ports
                case "inspect":
                    entry.inspect = try bool(value, keyPath: keyPath)
                case "methods":
                    entry.methods = try methods(value, keyPath: keyPath)
                    needsInspect = needsInspect ?? (key, keyNode)
                case "paths":
                    entry.paths = try pathGlobs(value, keyPath: keyPath)
                    needsInspect = needsInspect ?? (key, keyNode)
                case "inject":
                    entry.inject = try injections(value, keyPath: keyPath)
                    needsInspect = needsInspect ?? (key, keyNode)
                default:
                    throw unknownKey(key, node: keyNode, keyPath: path, known: Self.hostEntryKeys)
                }
            }
            guard sawHost, !entry.host.trimmingWhitespace().isEmpty else {
                throw PolicyError(
                    .invalidValue, "the entry has no host.", at: location(of: item), keyPath: path,
                    hint: "Write it as {host: api.example.com, schemes: [https], ports: [443]}."
                )
            }
            // The proxy sees a request's method, path and headers only when it ends the agent's
            // TLS for the host; without `inspect` these rules could not be kept, and a rule that
            // silently allows everything is worse than none.
            if let (key, keyNode) = needsInspect, !entry.inspect {
                throw PolicyError(
                    .invalidValue, "`\(key)` needs `inspect: true` on the same entry: the proxy sees a request's "
                        + "method, path and headers only for inspected hosts; other hosts are opaque CONNECT tunnels.",
                    at: location(of: keyNode), keyPath: "\(path).\(key)",
                    hint: "Add `inspect: true` to this entry, or remove `\(key)`.")
            }
            result.append(entry)
        }
        return result
    }

    /// The keys of a mapping entry of `allowed_hosts`.
    static let hostEntryKeys = ["host", "match", "schemes", "ports", "inspect", "methods", "paths", "inject"]

    /// `methods`: request methods (RFC 9110 tokens), read uppercased; an empty list is refused.
    private func methods(_ node: Node, keyPath: String) throws(PolicyError) -> [Located<String>] {
        var result: [Located<String>] = []
        for method in try stringList(node, keyPath: keyPath) {
            let upper = method.value.uppercased()
            guard !upper.isEmpty, upper.utf8.allSatisfy(Self.isTokenByte) else {
                throw PolicyError(
                    .invalidValue, "\(Self.shown(method.value)) is not an HTTP method.", at: method.location,
                    keyPath: method.keyPath, hint: "Write methods such as GET, POST or DELETE.")
            }
            result.append(Located(upper, keyPath: method.keyPath, location: method.location))
        }
        guard !result.isEmpty else {
            throw PolicyError(
                .invalidValue, "the list of methods is empty, which would refuse every request.", at: location(of: node),
                keyPath: keyPath, hint: "List the methods to allow, or remove the key to allow any method.")
        }
        return result
    }

    /// `paths`: globs on the path without the query, each starting with `/` (or `*`).
    private func pathGlobs(_ node: Node, keyPath: String) throws(PolicyError) -> [Located<String>] {
        let list = try stringList(node, keyPath: keyPath)
        for glob in list {
            guard glob.value.hasPrefix("/") || glob.value.hasPrefix("*") else {
                throw PolicyError(
                    .invalidValue, "\(Self.shown(glob.value)) is not a path: a path glob starts with /.",
                    at: glob.location, keyPath: glob.keyPath, hint: "Write paths such as /v1/chat/completions or /repos/acme/*.")
            }
            if glob.value.contains("?") && glob.value.contains("=") {
                throw PolicyError(
                    .invalidValue, "\(Self.shown(glob.value)) looks like it holds a query; paths are matched without the "
                        + "query (? in a glob is any one character).",
                    at: glob.location, keyPath: glob.keyPath, hint: "Remove the query part.")
            }
            if let bad = glob.value.unicodeScalars.first(where: { $0.value <= 0x20 || $0.value == 0x7f || $0 == "#" }) {
                throw PolicyError(
                    .invalidValue, "\(Self.shown(glob.value)) holds \(bad == "#" ? "#" : "a space or control character"), "
                        + "which no request path carries.",
                    at: glob.location, keyPath: glob.keyPath, hint: "Percent-encode it as the request does, or remove it.")
            }
            do {
                _ = try GlobPattern(glob.value)
            } catch {
                throw PolicyError(.invalidValue, "\(error.description).", at: glob.location, keyPath: glob.keyPath)
            }
        }
        guard !list.isEmpty else {
            throw PolicyError(
                .invalidValue, "the list of paths is empty, which would refuse every request.", at: location(of: node),
                keyPath: keyPath, hint: "List the paths to allow, or remove the key to allow any path.")
        }
        return list
    }

    /// Headers the proxy must set itself or that belong to one connection: an injected value
    /// there would change how the request is framed or routed, not who sends it.
    static let uninjectableHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer",
        "upgrade", "expect",
    ]

    /// `inject`: a list of `{header, value}`.
    private func injections(_ node: Node, keyPath: String) throws(PolicyError) -> [HeaderInjection] {
        var result: [HeaderInjection] = []
        for (index, item) in try items(of: node, keyPath: keyPath).enumerated() {
            let itemPath = "\(keyPath)[\(index)]"
            var header: (String, Node)?
            var value: (String, Node)?
            for (key, keyNode, valueNode) in try entries(of: item, keyPath: itemPath) {
                switch key {
                case "header": header = (try string(valueNode, keyPath: "\(itemPath).header"), valueNode)
                case "value": value = (try string(valueNode, keyPath: "\(itemPath).value"), valueNode)
                default: throw unknownKey(key, node: keyNode, keyPath: itemPath, known: ["header", "value"])
                }
            }
            guard let (name, nameNode) = header, let (template, valueNode) = value else {
                throw PolicyError(
                    .invalidValue, "the item needs both `header` and `value`.", at: location(of: item), keyPath: itemPath,
                    hint: "Write it as {header: Authorization, value: \"Bearer ${GITHUB_TOKEN}\"}.")
            }
            let lowered = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw PolicyError(
                    .invalidValue, "\(Self.shown(name)) is not a header name.", at: location(of: nameNode),
                    keyPath: "\(itemPath).header", hint: "Write a name such as Authorization or X-Api-Key.")
            }
            guard !Self.uninjectableHeaders.contains(lowered), !lowered.hasPrefix("proxy-") else {
                throw PolicyError(
                    .invalidValue, "\(name) cannot be injected: it frames or routes the request, and the proxy sets it "
                        + "itself.", at: location(of: nameNode), keyPath: "\(itemPath).header",
                    hint: "Inject a credential header such as Authorization or X-Api-Key.")
            }
            if result.contains(where: { String($0.header.lowercased().map { $0 == "_" ? "-" : $0 }) == lowered }) {
                throw PolicyError(
                    .invalidValue, "\(name) is injected twice on this host.", at: location(of: nameNode),
                    keyPath: "\(itemPath).header", hint: "Keep one item per header.")
            }
            do {
                result.append(try HeaderInjection(header: name, template: template, keyPath: itemPath,
                                                  location: location(of: item)))
            } catch {
                throw PolicyError(
                    .invalidValue, "\(error.description).", at: location(of: valueNode), keyPath: "\(itemPath).value",
                    hint: "Write ${NAME} for a variable of the proxy's environment, such as \"Bearer ${GITHUB_TOKEN}\".")
            }
        }
        guard !result.isEmpty else {
            throw PolicyError(
                .invalidValue, "the list of headers to inject is empty.", at: location(of: node), keyPath: keyPath,
                hint: "List {header, value} items, or remove the key.")
        }
        return result
    }

    /// RFC 9110 §5.6.2 `tchar`: the bytes of a method or header name.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private func matchMode(_ node: Node, keyPath: String) throws(PolicyError) -> HostMatchMode {
        let name = try string(node, keyPath: keyPath)
        guard let mode = HostMatchMode(rawValue: name.lowercased()) else {
            throw PolicyError(
                .invalidValue, "\(Self.shown(name)) is not a match mode.", at: location(of: node), keyPath: keyPath,
                hint: "Use exact or subdomain (the original silently read anything else as exact)."
            )
        }
        return mode
    }

    // MARK: - Scalars and collections

    private func location(of node: Node) -> SourceLocation {
        SourceLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    private func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain,
              scalar.tag.rawValue.isEmpty || scalar.tag.rawValue == Tag.Name.null.rawValue else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    private func describe(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar): isNull(node) ? "nothing (null)" : "the scalar \(Self.shown(scalar.string))"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    /// The key/value pairs of a mapping, refusing non-string and duplicate keys. `null` reads as
    /// an empty mapping (the section's defaults).
    private func entries(of node: Node, keyPath: String) throws(PolicyError) -> [(String, Node, Node)] {
        if isNull(node) { return [] }
        guard case .mapping(let mapping) = node else {
            throw PolicyError(
                .wrongType, "expected a mapping of keys to values, found \(describe(node)).", at: location(of: node),
                keyPath: keyPath.isEmpty ? nil : keyPath,
                hint: keyPath.isEmpty ? "A policy is a mapping such as `allowed_paths: [./workspace]`." : nil
            )
        }
        try expectTag(of: node, in: [Tag.Name.map], reading: "a mapping", keyPath: keyPath)
        var seen: [String: Node] = [:]
        var result: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw PolicyError(.wrongType, "a key must be a plain name, found \(describe(keyNode)).",
                                  at: location(of: keyNode), keyPath: keyPath.isEmpty ? nil : keyPath)
            }
            let key = scalar.string
            if let first = seen[key] {
                throw PolicyError(
                    .invalidValue, "the key \(Self.shown(key)) appears twice (first at line \(first.mark?.line ?? 0)).",
                    at: location(of: keyNode), keyPath: keyPath.isEmpty ? nil : keyPath,
                    hint: "YAML keeps only one of them; merge the two into one entry."
                )
            }
            seen[key] = keyNode
            result.append((key, keyNode, value))
        }
        return result
    }

    /// The items of a list. `null` reads as an empty list; a lone scalar is refused with a hint,
    /// because iterating a string (what the original did) would allow or block single characters.
    private func items(of node: Node, keyPath: String) throws(PolicyError) -> [Node] {
        if isNull(node) { return [] }
        guard case .sequence(let sequence) = node else {
            var hint: String?
            if case .scalar(let scalar) = node {
                hint = "Write a list: \(keyPath.split(separator: ".").last ?? ""): [\(Self.shown(scalar.string))]."
            }
            throw PolicyError(.wrongType, "expected a list, found \(describe(node)).", at: location(of: node),
                              keyPath: keyPath, hint: hint)
        }
        try expectTag(of: node, in: [Tag.Name.seq], reading: "a list", keyPath: keyPath)
        return Array(sequence)
    }

    private func stringList(_ node: Node, keyPath: String) throws(PolicyError) -> [Located<String>] {
        var result: [Located<String>] = []
        for (index, item) in try items(of: node, keyPath: keyPath).enumerated() {
            let itemPath = "\(keyPath)[\(index)]"
            result.append(Located(try string(item, keyPath: itemPath), keyPath: itemPath, location: location(of: item)))
        }
        return result
    }

    private func string(_ node: Node, keyPath: String) throws(PolicyError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw PolicyError(.wrongType, "expected a string, found \(describe(node)).", at: location(of: node),
                              keyPath: keyPath)
        }
        if scalar.string.contains("\0") {
            throw PolicyError(.invalidValue, "the value contains a NUL character.", at: location(of: node),
                              keyPath: keyPath)
        }
        try expectTag(of: node, in: [], reading: "a string", keyPath: keyPath)
        return scalar.string
    }

    /// A scalar's text for a field of another type (`bool`, `integer`, `number`): `!!str` (which a
    /// quoted value carries too, so the two cannot be told apart) or the field's own tags.
    private func scalarText(_ node: Node, keyPath: String, tags: [Tag.Name], reading: String) throws(PolicyError) -> String {
        guard case .scalar(let scalar) = node, !isNull(node) else {
            throw PolicyError(.wrongType, "expected \(reading), found \(describe(node)).", at: location(of: node),
                              keyPath: keyPath)
        }
        if scalar.string.contains("\0") {
            throw PolicyError(.invalidValue, "the value contains a NUL character.", at: location(of: node),
                              keyPath: keyPath)
        }
        try expectTag(of: node, in: tags, reading: reading, keyPath: keyPath)
        return scalar.string
    }

    /// Refuses a standard tag that contradicts the type read here (`!!int` on a path, `!!str` on a
    /// list). Untagged nodes pass, and so does `!!str` on any scalar: a quoted value carries it
    /// too. Every other tag was refused by `checkShape` already.
    private func expectTag(of node: Node, in allowed: [Tag.Name], reading: String, keyPath: String) throws(PolicyError) {
        let raw: String
        switch node {
        case .scalar(let scalar): raw = scalar.tag.rawValue
        case .sequence(let sequence): raw = sequence.tag.rawValue
        case .mapping(let mapping): raw = mapping.tag.rawValue
        case .alias: return
        }
        if raw.isEmpty || allowed.contains(Tag.Name(rawValue: raw)) { return }
        if case .scalar = node, raw == Tag.Name.str.rawValue { return }
        throw PolicyError(
            .wrongType, "the tag \(Self.shortTag(raw)) marks \(Self.tagMeaning(raw)), but \(reading) is expected here.",
            at: location(of: node), keyPath: keyPath.isEmpty ? nil : keyPath,
            hint: "Remove the tag; a policy value needs none."
        )
    }

    private func bool(_ node: Node, keyPath: String) throws(PolicyError) -> Bool {
        let text = try scalarText(node, keyPath: keyPath, tags: [Tag.Name.bool], reading: "true or false")
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            throw PolicyError(.wrongType, "expected true or false, found \(Self.shown(text)).", at: location(of: node),
                              keyPath: keyPath)
        }
    }

    private func integer(_ node: Node, keyPath: String) throws(PolicyError) -> Int {
        let text = try scalarText(node, keyPath: keyPath, tags: [Tag.Name.int], reading: "a whole number")
        guard let value = Int(text.replacingUnderscores()) else {
            throw PolicyError(.wrongType, "expected a whole number, found \(Self.shown(text)).", at: location(of: node),
                              keyPath: keyPath)
        }
        return value
    }

    private func number(_ node: Node, keyPath: String) throws(PolicyError) -> Double {
        let text = try scalarText(node, keyPath: keyPath, tags: [Tag.Name.int, Tag.Name.float], reading: "a number")
        guard let value = Double(text.replacingUnderscores()), value.isFinite else {
            throw PolicyError(.wrongType, "expected a number, found \(Self.shown(text)).", at: location(of: node),
                              keyPath: keyPath)
        }
        return value
    }

    /// Reads a Docker-style size: a whole number with an optional unit b, k, m or g (any case).
    private func byteSize(_ text: String, node: Node, keyPath: String, minimum: UInt64) throws(PolicyError) -> UInt64 {
        if let bytes = ByteSize.parse(text), bytes >= minimum {
            return bytes
        }
        throw PolicyError(
            .invalidValue, "\(Self.shown(text)) is not a usable size.", at: location(of: node), keyPath: keyPath,
            hint: "Write a size such as 512m, 1g or 65536k (at least \(minimum) bytes)."
        )
    }

    private func unknownKey(_ key: String, node: Node, keyPath: String, known: [String]) -> PolicyError {
        let section = keyPath.isEmpty ? "the policy" : "`\(keyPath)`"
        let suggestion = EditDistance.nearest(to: key, in: known + (keyPath.isEmpty ? Array(Self.acknowledgedTopLevelKeys.keys) : []))
        return PolicyError(
            .unknownKey, "\(Self.shown(key)) is not a key of \(section).", at: location(of: node),
            keyPath: keyPath.isEmpty ? nil : keyPath,
            hint: suggestion.map { "Did you mean \"\($0)\"?" } ?? "Known keys: \(known.joined(separator: ", "))."
        )
    }

    /// A Yams error as a `PolicyError` at the line and column it names. `aliasesRenamed`: the
    /// error came from `checkShape`'s copy, whose aliases read `~name`.
    private func yamlError(_ error: any Error, text: String, aliasesRenamed: Bool = false) -> PolicyError {
        guard let yamlError = error as? YamlError else {
            return PolicyError(.malformedYAML, "the text is not valid YAML (\(error)).", at: startOfText,
                               hint: "Check the policy with a YAML linter.")
        }
        switch yamlError {
        case .duplicatedKeysInMapping(let duplicates, let context):
            // Yams reports the mapping, not the repeated key; find the key's second line so the
            // message points where the person has to look.
            var key = duplicates.first ?? "?"
            if aliasesRenamed, key.hasPrefix("~"), text.contains("*" + key.dropFirst()) { key = "*" + key.dropFirst() }
            let line = Self.lineOfSecondOccurrence(ofKey: key, in: text) ?? context.mark.line
            return PolicyError(
                .invalidValue, "the key \(Self.shown(key)) appears twice.", at: SourceLocation(file: file, line: line, column: 1),
                hint: "YAML keeps only one of them; merge the two into one entry."
            )
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let contextText = context.map { " \($0.text)" } ?? ""
            return PolicyError(
                .malformedYAML, "the text is not valid YAML: \(problem)\(contextText).",
                at: SourceLocation(file: file, line: mark.line, column: mark.column),
                hint: "Check the indentation and quoting on that line."
            )
        case .reader(let problem, let offset, let value, _):
            // `offset` counts bytes from the start (libyaml's reader); columns count characters.
            var location = startOfText
            if let offset {
                var line = 1
                var column = 1
                for byte in text.utf8.prefix(offset) {
                    if byte == UInt8(ascii: "\n") {
                        line += 1
                        column = 1
                    } else if byte & 0xc0 != 0x80 {
                        column += 1
                    }
                }
                location = SourceLocation(file: file, line: line, column: column)
            }
            let character = value == -1 ? "" : " (U+\(String(value, radix: 16, uppercase: true)))"
            return PolicyError(.malformedYAML, "the text cannot be read: \(problem)\(character).", at: location,
                               hint: "Remove the character, or write it as an escape inside double quotes (\"\\u0007\").")
        default:
            return PolicyError(.malformedYAML, "the text is not valid YAML (\(yamlError)).", at: startOfText,
                               hint: "Check the policy with a YAML linter.")
        }
    }

    /// Line 1, column 1 of the text: where an error that names no position is reported.
    private var startOfText: SourceLocation {
        SourceLocation(file: file, line: 1, column: 1)
    }

    /// The line (from 1) where `key:` starts a mapping entry for the second time, if it does.
    static func lineOfSecondOccurrence(ofKey key: String, in text: String) -> Int? {
        var seen = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == " " || $0 == "-" || $0 == "{" || $0 == "," }
            for quote in ["\"", "'"] where rest.hasPrefix(quote) { rest = rest.dropFirst() }
            guard rest.hasPrefix(key) else { continue }
            let after = rest.dropFirst(key.count).drop { $0 == "\"" || $0 == "'" || $0 == " " }
            if after.hasPrefix(":") {
                seen += 1
                if seen == 2 { return index + 1 }
            }
        }
        return nil
    }

    /// User text as a message shows it: in quotes, control characters and quotes escaped (a
    /// message stays one line and cannot forge another), cut after 80 characters.
    static func shown(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > 80 else { return HostNameError.quoted(text) }
        var cut = ""
        cut.unicodeScalars.append(contentsOf: scalars.prefix(80))
        return String(HostNameError.quoted(cut).dropLast()) + "…\""
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    static func isScheme(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0) }
    }
}

extension Sequence where Element: Hashable {
    fileprivate var asSet: Set<Element> { Set(self) }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}

/// Sizes written the way Docker writes them (`512m`, `1g`, `65536`).
package enum ByteSize {
    /// Parses a whole number with an optional unit `b`, `k`, `m` or `g` (case-insensitive);
    /// `nil` for anything else or on overflow.
    package static func parse(_ text: String) -> UInt64? {
        var digits = text.trimmingWhitespace().lowercased()
        var multiplier: UInt64 = 1
        if let unit = digits.last, unit.isLetter {
            switch unit {
            case "b": multiplier = 1
            case "k": multiplier = 1 << 10
            case "m": multiplier = 1 << 20
            case "g": multiplier = 1 << 30
            default: return nil
            }
            digits.removeLast()
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let value = UInt64(digits) else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Levenshtein distance, to suggest the key a person probably meant.
enum EditDistance {
    static func nearest(to word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, score) = scored, score <= max(2, word.count / 3) else { return nil }
        return best
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
