// `sentinel policy suggest`: from the denials an audit log recorded to the smallest policy
// additions that would have allowed them, and the denials no addition may allow.
//
// The input is a plain description of a denial, not the audit record itself: this module imports
// nothing of ours (the audit module depends on it), so the CLI turns records into denials.

#if canImport(Glibc)
import Glibc
#endif

/// One action the policy denied, as an audit record describes it.
public struct ObservedDenial: Sendable, Hashable {
    /// What was attempted: `exec`, `file_write`, `file_read`, `connect`, `http`…
    public var action: String
    /// What it was attempted on: a command line, a path, `host:port`, a URL.
    public var target: String
    /// The rule that denied it (`default:allowed_commands`, `blocked_paths[0]`…), if recorded.
    public var rule: String?
    /// The recorded reason.
    public var reason: String
    /// The recorded decision: `deny`, `rejected` or `approved` (a person allowed what the policy denied).
    public var decision: String
    /// The record's extra facts (`executable`, `image`, `address`, `port`, `host`, `operation`…).
    public var details: [String: String]
    /// Where it was read, for messages: `audit.log:12`.
    public var source: String

    /// Creates a denial.
    public init(
        action: String, target: String, rule: String?, reason: String, decision: String = "deny",
        details: [String: String] = [:], source: String = ""
    ) {
        self.action = action
        self.target = target
        self.rule = rule
        self.reason = reason
        self.decision = decision
        self.details = details
        self.source = source
    }
}

/// The policy list an addition goes to.
public enum SuggestedList: String, Sendable, Hashable, CaseIterable, Codable {
    /// `allowed_commands`.
    case allowedCommands = "allowed_commands"
    /// `allowed_paths` (read and write).
    case allowedPaths = "allowed_paths"
    /// `read_only_paths` (read only).
    case readOnlyPaths = "read_only_paths"
    /// `allowed_hosts`.
    case allowedHosts = "allowed_hosts"
}

/// One suggested entry, with the denials it covers.
public struct PolicyAddition: Sendable, Hashable {
    /// Where it goes.
    public var list: SuggestedList
    /// The command name or path, or the directory or file, or the host.
    public var value: String
    /// For a host: the ports seen (sorted).
    public var ports: [Int]
    /// For a host reached only by URLs: their schemes (sorted); empty when a connect (which has
    /// no scheme) needs the entry too, so the entry leaves schemes open.
    public var schemes: [String]
    /// How many denials it covers.
    public var count: Int
    /// One target it covers, as recorded.
    public var example: String
    /// Why the entry is not the obvious one (a file instead of a system directory), if so.
    public var note: String?
    /// What it must allow, for ``PolicySuggestions/unallowed(by:)``: paths with their access,
    /// commands by path, hosts by `host:port` or URL.
    var checks: [Check]

    /// One action an addition must allow.
    enum Check: Sendable, Hashable {
        case path(String, FileAccess)
        case command(String)
        case connect(String, Int)
        case url(String)
    }

    /// The entry as one YAML flow line (`- /usr/bin/id`, `- {host: x, ports: [443]}`).
    public var yamlItem: String {
        switch list {
        case .allowedCommands, .allowedPaths, .readOnlyPaths:
            return SuggestionYAML.scalar(value)
        case .allowedHosts:
            var fields = ["host: \(SuggestionYAML.scalar(value))"]
            if !schemes.isEmpty { fields.append("schemes: [\(schemes.map(SuggestionYAML.scalar).joined(separator: ", "))]") }
            if !ports.isEmpty { fields.append("ports: [\(ports.map(String.init).joined(separator: ", "))]") }
            return "{\(fields.joined(separator: ", "))}"
        }
    }
}

/// Interpreters denied by the built-in denylist: never suggested, only shown with the opt-in
/// that would lift the denylist for that one file, commented out.
public struct InterpreterDenial: Sendable, Hashable {
    /// The interpreter, as a path when the record names it.
    public var program: String
    /// How many denials.
    public var count: Int
    /// One target, as recorded.
    public var example: String
}

/// Denials no suggested addition allows, grouped by rule, with why.
public struct WithheldDenial: Sendable, Hashable {
    /// The rule that denied them (`(none)` when the record names none).
    public var rule: String
    /// What was attempted.
    public var action: String
    /// Why no addition is suggested.
    public var why: String
    /// How many denials.
    public var count: Int
    /// One target, as recorded.
    public var example: String
}

/// What `PolicySuggester` found.
public struct PolicySuggestions: Sendable, Hashable {
    /// How many denials were read.
    public var denialCount: Int
    /// The additions, in list order, each list's entries in the order first seen.
    public var additions: [PolicyAddition]
    /// Interpreters denied by the built-in denylist.
    public var interpreters: [InterpreterDenial]
    /// Denials the given policy allows already (the log is older than the policy), by entry.
    public var alreadyAllowed: [WithheldDenial]
    /// Denials no addition is suggested for.
    public var withheld: [WithheldDenial]

    /// How many denials the additions cover.
    public var coveredCount: Int { additions.reduce(0) { $0 + $1.count } }

    /// Whether there is nothing to add to the policy.
    public var isEmpty: Bool { additions.isEmpty }
}

/// Turns denials into the smallest policy additions that would have allowed them.
///
/// What is suggested, and nothing else (fail closed: a denial whose rule could be lifted only by
/// weakening a protection, or whose rule this code does not know, is listed as withheld, with why):
///
/// - `default:allowed_commands` on an exec: an `allowed_commands` entry for that executable (its
///   name when the name finds that very file on the policy's `PATH`, else its canonical path);
///   for a script whose `#!` interpreter was denied, that interpreter. A command run through a
///   wrapper (`env`, `timeout`) names only the wrapper in its record: withheld.
/// - `builtin:interpreter-denylist`: never added; shown with `allow_interpreter: true` commented out.
/// - `default:allowed_paths` on a write (or a Unix socket connect): the parent directory in
///   `allowed_paths`, one entry per directory, none inside another suggested one; a file directly
///   in `/` or in a system directory (`/etc`, `/usr`, the home directory…) is suggested itself.
///   On a read: `read_only_paths`, unless its directory is suggested for writing anyway.
/// - `default:allowed_hosts` on a connect or URL: `{host, ports}` (and `schemes` when only URLs
///   asked), one entry per host with every port seen; never for an address that is not public,
///   which `allowed_hosts` alone does not open.
public struct PolicySuggester: Sendable {
    /// The policy the denials are compared with (entries it has are not suggested again).
    public var policy: Policy?
    /// Where command names are looked up and `~` points.
    public var context: PolicyContext

    /// Creates a suggester.
    ///
    /// - Parameters:
    ///   - policy: the policy in force, whose entries are not suggested again; `nil` for none.
    ///   - context: the machine's context (its `PATH` decides whether a name or a path is suggested).
    public init(policy: Policy?, context: PolicyContext) {
        self.policy = policy
        self.context = context
    }

    /// Directories too broad to open for one file written in them.
    static let systemDirectories: Set<String> = [
        "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
        "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/usr", "/usr/bin", "/usr/lib", "/usr/local",
        "/usr/local/bin", "/usr/sbin", "/usr/share", "/var", "/var/lib", "/var/run",
    ]

    /// Computes the suggestions for `denials`.
    public func suggest(_ denials: [ObservedDenial]) -> PolicySuggestions {
        var builder = Builder()
        for denial in denials { classify(denial, into: &builder) }
        return builder.finish(policy: policy)
    }

    // MARK: - Classification

    private func classify(_ denial: ObservedDenial, into builder: inout Builder) {
        let rule = denial.rule ?? ""
        let action = denial.action
        switch (action, rule) {
        case ("exec", CommandEvaluator.defaultRule):
            switch commandToAllow(denial) {
            case .success(let program):
                builder.add(.allowedCommands, entry: program, denial: denial, check: .command(program.check))
            case .failure(let why):
                builder.withhold(denial, why: why)
            }
        case ("exec", CommandDenylist.builtinRule):
            builder.interpreter(interpreterName(denial), denial: denial)
        case ("file_write", "default:allowed_paths"), ("file_read", "default:allowed_paths"):
            let access: FileAccess = action == "file_read" ? .read : .write
            switch pathsOf(denial) {
            case .success(let paths):
                for path in paths { addPath(path, access: access, denial: denial, into: &builder) }
            case .failure(let why):
                builder.withhold(denial, why: why)
            }
        case ("connect", "default:allowed_paths") where denial.target.hasPrefix("unix:"):
            // Reaching a socket file is decided as writing it.
            let path = String(denial.target.dropFirst("unix:".count))
            guard path.hasPrefix("/") else {
                return builder.withhold(denial, why: "the socket's path is not absolute, so no entry can name it" as SuggestionRefusal)
            }
            addPath(path, access: .write, denial: denial, into: &builder)
        case ("connect", "default:allowed_hosts"), ("http", "default:allowed_hosts"):
            switch hostToAllow(denial) {
            case .success(let host):
                builder.addHost(host, denial: denial)
            case .failure(let why):
                builder.withhold(denial, why: why)
            }
        default:
            builder.withhold(denial, why: Self.whyNever(rule: denial.rule, action: action))
        }
    }

    /// Why a denial by `rule` gets no suggestion.
    static func whyNever(rule: String?, action: String) -> String {
        guard let rule, !rule.isEmpty else { return "the record names no rule, so what would allow it is unknown" }
        func starts(_ prefix: String) -> Bool { rule.hasPrefix(prefix) }
        if starts("blocked_paths") || starts("blocked_command_bases") || starts("phishing.blocked_tlds")
            || starts("network_failsafe.blocked_hosts") || starts("network_failsafe.blocked_ips") {
            return "an explicit block in the policy: never allowed by an addition"
        }
        if rule.contains(".args_deny") { return "an argument the policy denies for this command (args_deny): never allowed by an addition" }
        if starts("read_only_paths") { return "the policy makes this path read-only on purpose; move the entry to allowed_paths yourself if writing is meant" }
        if rule == "builtin:hard-links" {
            return "a file with several hard links; only allow_hardlinked_writes: true allows it, for every such file, so it is not suggested"
        }
        // Each of these switches opens a whole class of destinations, never the one action.
        if rule == "network_failsafe.allow_raw_sockets" {
            return "a raw socket: only network_failsafe.allow_raw_sockets: true allows it, for every program and packet, so it is not suggested"
        }
        if rule == "network_failsafe.allow_private_network" {
            return "a private address: only network_failsafe.allow_private_network: true allows it, for every private address, so it is not suggested"
        }
        if rule == "network_failsafe.allowed_ips" {
            return "an address outside network_failsafe.allowed_ips, a list that narrows every connect; widening it is left to you"
        }
        if rule == "builtin:cloud-metadata" || rule == "builtin:special-address" || starts("network_failsafe") {
            return "an address the network failsafe always refuses: never allowed by policy"
        }
        if rule == "builtin:wrapped-command" { return "a command run through a wrapper that cannot be decided; run the command directly" }
        if starts("guard:") { return "a refusal of sentinel guard itself: never allowed by policy" }
        if starts("builtin:") { return "a built-in check (syntax, resolution, name lookup, protocol): never allowed by policy" }
        if starts("default:") { return "this kind of action (\(action)) gets no suggestion for that rule" }
        return "a rule this version does not know how to lift; left to you"
    }

    // MARK: - Commands

    struct Program: Hashable {
        /// The entry to write (a name or a path).
        var entry: String
        /// The path the exec used, checked against the new policy.
        var check: String
    }

    /// The `allowed_commands` entry that would allow an exec denied by `default:allowed_commands`.
    func commandToAllow(_ denial: ObservedDenial) -> Result<Program, SuggestionRefusal> {
        guard let executable = denial.details["executable"], executable.hasPrefix("/") else {
            return .failure("the record does not name the executable's path")
        }
        var program = executable
        if denial.reason.hasPrefix("Command '") {
            // The program itself was denied.
        } else if denial.details["image"] != nil, denial.reason.hasPrefix("\(executable) is a script run by ") {
            // A script whose `#!` interpreter was denied: the interpreter is what needs allowing.
            let rest = denial.reason.dropFirst("\(executable) is a script run by ".count)
            guard let colon = rest.firstRange(of: ": ") else { return .failure("the record does not say which interpreter was denied") }
            program = String(rest[..<colon.lowerBound])
            guard program.hasPrefix("/") else {
                return .failure("the script names its interpreter without a path (\(program)), so which file runs is unknown")
            }
        } else {
            return .failure("the denied program was started by another one (a wrapper such as env or timeout, or a #! chain), and the record names only the outer one")
        }
        return .success(Program(entry: commandEntry(for: program), check: program))
    }

    /// A name when the name finds `path` on the policy's `PATH` (what people write), else the path.
    func commandEntry(for path: String) -> String {
        let base = String(path.split(separator: "/").last ?? Substring(path))
        guard !base.isEmpty,
              let found = try? ExecutableResolver.resolve(base, searchPath: context.searchPath, workingDirectory: "/"),
              found.canonicalPath == path
        else { return path }
        // A name the policy already lists binds other files: only the path adds anything.
        if let policy, policy.document.allowedCommands.contains(where: { $0.command == base }) { return path }
        return base
    }

    func interpreterName(_ denial: ObservedDenial) -> String {
        if let executable = denial.details["executable"], executable.hasPrefix("/") {
            if denial.reason.hasPrefix("\(executable) is a script run by ") {
                let rest = denial.reason.dropFirst("\(executable) is a script run by ".count)
                if let colon = rest.firstRange(of: ": ") { return String(rest[..<colon.lowerBound]) }
            }
            return executable
        }
        return String(denial.target.split(separator: " ").first ?? Substring(denial.target))
    }

    // MARK: - Paths

    /// The absolute paths a file denial concerns (a rename names two).
    func pathsOf(_ denial: ObservedDenial) -> Result<[String], SuggestionRefusal> {
        var text = denial.details["canonical"] ?? denial.target
        if denial.details["operation"] != nil, let symlink = text.firstRange(of: " (symlink to ") {
            text = String(text[..<symlink.lowerBound])
        }
        let paths = denial.details["operation"] != nil
            ? text.split(separator: " → ", omittingEmptySubsequences: false).map(String.init) : [text]
        guard paths.allSatisfy({ $0.hasPrefix("/") }) else {
            return .failure("the recorded path is not absolute, so no entry can name it exactly")
        }
        if let proc = paths.first(where: { $0 == "/proc" || $0.hasPrefix("/proc/") }) {
            return .failure("\(proc) is a per-process file that changes with every run")
        }
        return .success(paths)
    }

    private func addPath(_ path: String, access: FileAccess, denial: ObservedDenial, into builder: inout Builder) {
        let parent = Self.parent(of: path)
        let broad = Self.systemDirectories.contains(parent) || parent == context.homeDirectory
        let entry = broad ? path : parent
        let note = broad ? "the file itself: \(parent) is too broad to open for it" : nil
        builder.add(access == .read ? .readOnlyPaths : .allowedPaths, entry: Program(entry: entry, check: path),
                    denial: denial, check: .path(path, access), note: note)
    }

    static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/"), slash != trimmed.startIndex else { return "/" }
        return String(trimmed[..<slash])
    }

    // MARK: - Hosts

    struct Host: Hashable {
        var host: String
        var port: Int
        var scheme: String?
        var check: AdditionCheck
    }

    typealias AdditionCheck = PolicyAddition.Check

    func hostToAllow(_ denial: ObservedDenial) -> Result<Host, SuggestionRefusal> {
        let normalized: NormalizedHost
        let port: Int
        var scheme: String?
        let check: AdditionCheck
        if denial.action == "http" {
            guard let destination = try? RequestTarget.parseDestination(url: denial.target) else {
                return .failure("the recorded URL cannot be read")
            }
            normalized = destination.host
            port = Int(destination.port)
            scheme = destination.scheme
            check = .url(denial.target)
        } else {
            let hostText: String
            let portText: String
            if let address = denial.details["address"], let recordedPort = denial.details["port"] {
                (hostText, portText) = (address, recordedPort)
            } else if let colon = denial.target.lastIndex(of: ":") {
                hostText = String(denial.target[..<colon])
                portText = String(denial.target[denial.target.index(after: colon)...])
            } else {
                return .failure("the recorded target has no port")
            }
            var bare = hostText
            if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
            guard let number = Int(portText), (1...65_535).contains(number), let host = try? HostName.normalize(bare) else {
                return .failure("the recorded target is not HOST:PORT")
            }
            normalized = host
            port = number
            check = .connect(bare, number)
        }
        if let address = normalized.address {
            let category = AddressClassifier.classify(address).category
            guard category.isPublic else {
                guard category.isPrivateNetwork else {
                    return .failure("\(address) is \(category.phrase), which no policy setting opens")
                }
                return .failure("\(address) is \(category.phrase): allowed_hosts alone does not open it, and network_failsafe.allow_private_network, which would, opens every private address, so nothing is suggested")
            }
        }
        let text = normalized.address.map { $0.description } ?? normalized.name ?? normalized.uriHost
        return .success(Host(host: text, port: port, scheme: scheme, check: check))
    }
}

/// Why one denial gets no suggestion (a sentence fragment).
struct SuggestionRefusal: Error, Hashable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    var text: String
    init(stringLiteral value: String) { text = value }
    init(stringInterpolation: DefaultStringInterpolation) { text = String(stringInterpolation: stringInterpolation) }
}

// MARK: - Collecting

/// Groups denials into additions and withheld groups, in the order first seen.
private struct Builder {
    var denials = 0
    var additions: [PolicyAddition] = []
    var interpreters: [InterpreterDenial] = []
    var withheld: [WithheldDenial] = []

    mutating func add(
        _ list: SuggestedList, entry: PolicySuggester.Program, denial: ObservedDenial, check: PolicyAddition.Check,
        note: String? = nil
    ) {
        denials += 1
        if let index = additions.firstIndex(where: { $0.list == list && $0.value == entry.entry }) {
            additions[index].count += 1
            if !additions[index].checks.contains(check) { additions[index].checks.append(check) }
            return
        }
        additions.append(PolicyAddition(list: list, value: entry.entry, ports: [], schemes: [], count: 1,
                                        example: denial.target, note: note, checks: [check]))
    }

    mutating func addHost(_ host: PolicySuggester.Host, denial: ObservedDenial) {
        denials += 1
        if let index = additions.firstIndex(where: { $0.list == .allowedHosts && $0.value == host.host }) {
            var addition = additions[index]
            addition.count += 1
            if !addition.ports.contains(host.port) { addition.ports = (addition.ports + [host.port]).sorted() }
            if !addition.checks.contains(host.check) { addition.checks.append(host.check) }
            addition.schemes = Self.schemes(addition.checks)
            additions[index] = addition
            return
        }
        additions.append(PolicyAddition(
            list: .allowedHosts, value: host.host, ports: [host.port], schemes: host.scheme.map { [$0] } ?? [], count: 1,
            example: denial.target, note: nil, checks: [host.check]))
    }

    /// The ports an entry's checks reach, sorted.
    static func ports(_ checks: [PolicyAddition.Check]) -> [Int] {
        var ports: Set<Int> = []
        for check in checks {
            switch check {
            case .connect(_, let port): ports.insert(port)
            case .url(let url): if let destination = try? RequestTarget.parseDestination(url: url) { ports.insert(Int(destination.port)) }
            case .path, .command: break
            }
        }
        return ports.sorted()
    }

    /// The schemes of an entry reached only by URLs; none (any scheme) once a connect needs it.
    static func schemes(_ checks: [PolicyAddition.Check]) -> [String] {
        var schemes: Set<String> = []
        for check in checks {
            guard case .url(let url) = check, let destination = try? RequestTarget.parseDestination(url: url) else { return [] }
            schemes.insert(destination.scheme)
        }
        return schemes.sorted()
    }

    mutating func interpreter(_ program: String, denial: ObservedDenial) {
        denials += 1
        if let index = interpreters.firstIndex(where: { $0.program == program }) {
            interpreters[index].count += 1
        } else {
            interpreters.append(InterpreterDenial(program: program, count: 1, example: denial.target))
        }
    }

    mutating func withhold(_ denial: ObservedDenial, why: SuggestionRefusal) {
        withhold(denial, why: why.text)
    }

    mutating func withhold(_ denial: ObservedDenial, why: String) {
        denials += 1
        let rule = denial.rule ?? "(none)"
        if let index = withheld.firstIndex(where: { $0.rule == rule && $0.action == denial.action && $0.why == why }) {
            withheld[index].count += 1
        } else {
            withheld.append(WithheldDenial(rule: rule, action: denial.action, why: why, count: 1, example: denial.target))
        }
    }

    /// Merges directories, drops what the policy has, and orders the lists.
    func finish(policy: Policy?) -> PolicySuggestions {
        // Reads in a directory suggested for writing are covered by that entry.
        var merged = additions
        let writable = merged.filter { $0.list == .allowedPaths }.map(\.value)
        for index in merged.indices where merged[index].list == .readOnlyPaths {
            if writable.contains(where: { Self.isPath(merged[index].value, within: $0) }) { merged[index].list = .allowedPaths }
        }
        // One entry per list and value.
        var combined: [PolicyAddition] = []
        for addition in merged {
            if let index = combined.firstIndex(where: { $0.list == addition.list && $0.value == addition.value }) {
                combined[index].count += addition.count
                combined[index].checks += addition.checks.filter { !combined[index].checks.contains($0) }
            } else {
                combined.append(addition)
            }
        }
        // None inside another suggested root that allows at least as much: its denials count there.
        func root(of index: Int) -> Int? {
            let addition = combined[index]
            guard addition.list == .allowedPaths || addition.list == .readOnlyPaths else { return nil }
            return combined.indices
                .filter { other in
                    other != index && combined[other].value != addition.value
                        && (combined[other].list == .allowedPaths || combined[other].list == addition.list)
                        && Self.isPath(addition.value, within: combined[other].value)
                }
                .min { combined[$0].value.utf8.count < combined[$1].value.utf8.count }
        }
        var folded = combined
        var removed: Set<Int> = []
        for index in combined.indices {
            guard let target = root(of: index) else { continue }
            folded[target].count += combined[index].count
            folded[target].checks += combined[index].checks
            removed.insert(index)
        }
        var kept: [PolicyAddition] = []
        var already: [WithheldDenial] = []
        for (index, var addition) in folded.enumerated() where !removed.contains(index) {
            guard let policy else {
                kept.append(addition)
                continue
            }
            if let rule = PolicySuggestions.allowingRule(addition, policy: policy) {
                already.append(WithheldDenial(
                    rule: rule, action: addition.list.rawValue, why: "already allowed by \(rule) of the given policy",
                    count: addition.count, example: addition.example))
                continue
            }
            if addition.list == .allowedHosts {
                // Only the ports the policy does not allow yet: an entry for the others exists.
                addition.checks = addition.checks.filter { check in
                    PolicySuggestions.verdict(of: check, in: policy)?.isAllowed != true
                }
                addition.ports = Self.ports(addition.checks)
                addition.schemes = Self.schemes(addition.checks)
            }
            kept.append(addition)
        }
        // An interpreter the policy already lifts the denylist for (allow_interpreter) needs nothing.
        var shownInterpreters: [InterpreterDenial] = []
        for interpreter in interpreters {
            if let policy, interpreter.program.hasPrefix("/"),
               let verdict = PolicySuggestions.verdict(of: .command(interpreter.program), in: policy), verdict.isAllowed {
                already.append(WithheldDenial(
                    rule: verdict.rule, action: "exec", why: "already allowed by \(verdict.rule) of the given policy",
                    count: interpreter.count, example: interpreter.example))
            } else {
                shownInterpreters.append(interpreter)
            }
        }
        let order = SuggestedList.allCases
        kept.sort { (order.firstIndex(of: $0.list) ?? 0) < (order.firstIndex(of: $1.list) ?? 0) }
        return PolicySuggestions(
            denialCount: denials, additions: kept, interpreters: shownInterpreters, alreadyAllowed: already, withheld: withheld)
    }

    /// Whether `path` is `root` or below it, by components.
    static func isPath(_ path: String, within root: String) -> Bool {
        path == root || path.hasPrefix(root == "/" ? "/" : root + "/")
    }
}

extension PolicySuggestions {
    /// The rule of `policy` that allows everything `addition` must allow, or `nil`.
    static func allowingRule(_ addition: PolicyAddition, policy: Policy) -> String? {
        var rules: [String] = []
        for check in addition.checks {
            guard let verdict = verdict(of: check, in: policy), verdict.isAllowed else { return nil }
            rules.append(verdict.rule)
        }
        return rules.first
    }

    /// The policy's verdict on one check, without DNS: a name that passes the name gate counts as
    /// allowed (its addresses are the resolver's business, not the policy text's). `nil` when a
    /// command's file is not on this machine, so it cannot be decided here.
    static func verdict(of check: PolicyAddition.Check, in policy: Policy) -> Verdict? {
        switch check {
        case .path(let path, let access):
            return policy.checkPath(path, access: access, workingDirectory: "/")
        case .command(let path):
            guard access(path, X_OK) == 0 else { return nil }
            return policy.checkExec([path], searchesPath: false, workingDirectory: "/").verdict
        case .connect(let host, let port):
            return networkVerdict(policy.checkConnect(host: host, port: port))
        case .url(let url):
            return networkVerdict(policy.checkURL(url))
        }
    }

    private static func networkVerdict(_ check: NetworkCheck) -> Verdict {
        switch check {
        case .decided(let decision): decision.verdict
        case .needsResolution(_, _, let nameVerdict): nameVerdict
        }
    }

    /// The additions that `policy` (the result of applying them) still does not allow, each with
    /// the rule that denies it: empty when every one works. Commands whose file is not on this
    /// machine cannot be checked and are not reported.
    public func unallowed(by policy: Policy) -> [String] {
        var problems: [String] = []
        for addition in additions {
            for check in addition.checks {
                guard let verdict = Self.verdict(of: check, in: policy), !verdict.isAllowed else { continue }
                problems.append("\(addition.list.rawValue) entry \(addition.value) does not allow \(Self.describe(check)): \(verdict.rule): \(verdict.reason)")
            }
        }
        return problems
    }

    static func describe(_ check: PolicyAddition.Check) -> String {
        switch check {
        case .path(let path, let access): "\(access == .read ? "reading" : "writing") \(path)"
        case .command(let path): "running \(path)"
        case .connect(let host, let port): "connecting to \(host):\(port)"
        case .url(let url): url
        }
    }
}
