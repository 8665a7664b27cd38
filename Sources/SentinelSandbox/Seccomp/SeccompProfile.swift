import Glibc

/// A seccomp profile in Docker's JSON format (`docker run --security-opt seccomp=FILE`), the
/// format of `seccomp/*.json`; both sandbox backends read the same file.
///
/// ```json
/// {
///     "defaultAction": "SCMP_ACT_ERRNO",
///     "defaultErrnoRet": 1,
///     "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
///     "syscalls": [
///         {"comment": "…", "names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
///         {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
///          "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
///     ]
/// }
/// ```
///
/// Semantics (libseccomp's, which Docker uses, so one file means the same to both backends):
/// the conditions of one rule must all hold; the rules for one system call are alternatives;
/// a rule without `args` for a system call overrides every rule with `args` for it; each
/// argument may be compared once per rule. Reading is strict where Docker is lax: unknown keys,
/// duplicate keys, fractional or negative numbers and a second comparison of one argument are
/// errors, because a typo such as `"arg"` for `"args"` would otherwise silently turn a
/// conditional allow into an unconditional one.
public struct SeccompProfile: Sendable, Hashable {
    /// A profile action (`SCMP_ACT_*`).
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Let the call run.
        case allow = "SCMP_ACT_ALLOW"
        /// Fail the call with `errnoRet` (EPERM when absent).
        case errno = "SCMP_ACT_ERRNO"
        /// Kill the thread (Docker's name for `SCMP_ACT_KILL_THREAD`).
        case kill = "SCMP_ACT_KILL"
        /// Kill the thread.
        case killThread = "SCMP_ACT_KILL_THREAD"
        /// Kill the whole process.
        case killProcess = "SCMP_ACT_KILL_PROCESS"
        /// Send SIGSYS.
        case trap = "SCMP_ACT_TRAP"
        /// Notify a ptrace tracer; compiled as `SCMP_ACT_ERRNO` (no tracer is ever attached).
        case trace = "SCMP_ACT_TRACE"
        /// Let the call run and record it in the kernel's audit log.
        case log = "SCMP_ACT_LOG"
        /// Ask a user-space listener (`SECCOMP_RET_USER_NOTIF`).
        case notify = "SCMP_ACT_NOTIFY"
    }

    /// An argument comparison operator (`SCMP_CMP_*`).
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        /// `arg != value`
        case notEqual = "SCMP_CMP_NE"
        /// `arg < value` (unsigned, 64-bit)
        case lessThan = "SCMP_CMP_LT"
        /// `arg <= value`
        case lessOrEqual = "SCMP_CMP_LE"
        /// `arg == value`
        case equal = "SCMP_CMP_EQ"
        /// `arg >= value`
        case greaterOrEqual = "SCMP_CMP_GE"
        /// `arg > value`
        case greaterThan = "SCMP_CMP_GT"
        /// `arg & value == valueTwo & value` (`value` is the mask)
        case maskedEqual = "SCMP_CMP_MASKED_EQ"
    }

    /// One argument comparison of a rule.
    public struct ArgumentCondition: Sendable, Hashable {
        /// Which argument, 0 to 5.
        public var index: Int
        /// The operand, or the mask for `SCMP_CMP_MASKED_EQ`.
        public var value: UInt64
        /// The operand of `SCMP_CMP_MASKED_EQ`; unused otherwise.
        public var valueTwo: UInt64
        /// The operator.
        public var op: Operator

        /// Creates a comparison.
        public init(index: Int, value: UInt64, valueTwo: UInt64 = 0, op: Operator) {
            self.index = index
            self.value = value
            self.valueTwo = valueTwo
            self.op = op
        }
    }

    /// Docker's `includes` / `excludes`: when a rule applies.
    public struct Filter: Sendable, Hashable {
        /// Capabilities (`CAP_SYS_ADMIN`, …) the sandbox must have (`includes`) or must not have
        /// (`excludes`) for the rule to apply.
        public var caps: [String]
        /// Docker architecture names (`amd64`, `arm64`, …).
        public var arches: [String]
        /// `"major.minor"`: the kernel must be at least this version (`includes` only).
        public var minKernel: String?

        /// Creates a filter.
        public init(caps: [String] = [], arches: [String] = [], minKernel: String? = nil) {
            self.caps = caps
            self.arches = arches
            self.minKernel = minKernel
        }
    }

    /// One entry of `syscalls`.
    public struct Rule: Sendable, Hashable {
        /// The system calls the rule is about.
        public var names: [String]
        /// What happens when the rule matches.
        public var action: Action
        /// The errno for `SCMP_ACT_ERRNO` / `SCMP_ACT_TRACE` (EPERM when absent).
        public var errnoRet: UInt16?
        /// Conditions that must all hold; none means the rule always matches.
        public var args: [ArgumentCondition]
        /// Why the rule exists.
        public var comment: String?
        /// When the rule applies.
        public var includes: Filter?
        /// When the rule does not apply.
        public var excludes: Filter?

        /// Creates a rule.
        public init(
            names: [String], action: Action, errnoRet: UInt16? = nil, args: [ArgumentCondition] = [],
            comment: String? = nil, includes: Filter? = nil, excludes: Filter? = nil
        ) {
            self.names = names
            self.action = action
            self.errnoRet = errnoRet
            self.args = args
            self.comment = comment
            self.includes = includes
            self.excludes = excludes
        }
    }

    /// One entry of Docker's `archMap`: a native architecture and the sub-architectures it runs.
    public struct ArchitectureMapping: Sendable, Hashable {
        /// `SCMP_ARCH_*` of the host.
        public var architecture: String
        /// `SCMP_ARCH_*` of the compatibility ABIs Docker adds on that host.
        public var subArchitectures: [String]

        /// Creates a mapping.
        public init(architecture: String, subArchitectures: [String] = []) {
            self.architecture = architecture
            self.subArchitectures = subArchitectures
        }
    }

    /// What happens to a call no rule matches.
    public var defaultAction: Action
    /// The errno for a `SCMP_ACT_ERRNO` default (EPERM when absent).
    public var defaultErrnoRet: UInt16?
    /// The architectures the profile is written for (`SCMP_ARCH_*`); empty when `archMap` is used.
    public var architectures: [String]
    /// Docker's alternative to `architectures`.
    public var architectureMap: [ArchitectureMapping]
    /// `SECCOMP_FILTER_FLAG_*` names to install with.
    public var flags: [String]
    /// Docker's notification socket path; Sentinel accepts and ignores it.
    public var listenerPath: String?
    /// Docker's notification metadata; Sentinel accepts and ignores it.
    public var listenerMetadata: String?
    /// A note about the profile (Docker ignores it).
    public var comment: String?
    /// The rules, in order.
    public var syscalls: [Rule]

    /// Creates a profile.
    public init(
        defaultAction: Action, defaultErrnoRet: UInt16? = nil, architectures: [String] = [],
        architectureMap: [ArchitectureMapping] = [], flags: [String] = [], listenerPath: String? = nil,
        listenerMetadata: String? = nil, comment: String? = nil, syscalls: [Rule] = []
    ) {
        self.defaultAction = defaultAction
        self.defaultErrnoRet = defaultErrnoRet
        self.architectures = architectures
        self.architectureMap = architectureMap
        self.flags = flags
        self.listenerPath = listenerPath
        self.listenerMetadata = listenerMetadata
        self.comment = comment
        self.syscalls = syscalls
    }

    /// The `SCMP_ARCH_*` names libseccomp knows; any other name is an error.
    public static let knownArchitectureNames: Set<String> = [
        "SCMP_ARCH_NATIVE", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
        "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    ]

    /// The filter flags a profile may name (the ones Docker accepts).
    public static let knownFlagNames: Set<String> = [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]

    /// The largest profile file read (Docker's default profile is about 20 KiB).
    public static let maximumFileSize = 4 << 20
}

// MARK: - Reading

extension SeccompProfile {
    /// Reads and checks the profile at `path`.
    public static func load(contentsOf path: String) throws(SeccompError) -> SeccompProfile {
        let bytes = try readFile(path)
        return try SeccompProfile(json: bytes, source: path)
    }

    /// Parses and checks a profile; `source` names it in error messages (a path, or `<env>`).
    public init(json bytes: [UInt8], source: String) throws(SeccompError) {
        var parser = SeccompJSONParser(bytes)
        let document: SeccompJSONValue
        do {
            document = try parser.parseDocument()
        } catch {
            throw SeccompError(
                .profileInvalid,
                "\(source):\(error.line):\(error.column): not valid JSON: \(error.message). "
                    + "Fix the file; Docker's seccomp profile format is JSON.")
        }
        self = try ProfileReader(source: source).profile(from: document)
    }

    static func readFile(_ path: String) throws(SeccompError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = Glibc.errno
            throw SeccompError(
                .profileUnreadable,
                "Cannot read the seccomp profile \(path): \(String(cString: strerror(code))). "
                    + "Check the path given with --seccomp, or choose --seccomp-profile strict or datasci.",
                errno: code)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                throw SeccompError(
                    .profileUnreadable,
                    "Cannot read the seccomp profile \(path): \(String(cString: strerror(code))).", errno: code)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            if result.count > maximumFileSize {
                throw SeccompError(
                    .profileUnreadable,
                    "The seccomp profile \(path) is larger than \(maximumFileSize >> 20) MiB; "
                        + "a profile is a small JSON file, so this is probably the wrong file.")
            }
        }
        return result
    }
}

/// Turns a parsed JSON document into a profile, with errors naming file, line, column and key.
private struct ProfileReader {
    let source: String

    func fail(_ value: SeccompJSONValue, _ path: String, _ message: String) -> SeccompError {
        SeccompError(.profileInvalid, "\(source):\(value.line):\(value.column): \(path): \(message)")
    }

    func object(
        _ value: SeccompJSONValue, _ path: String, allowed: [String]
    ) throws(SeccompError)
        -> [String: SeccompJSONValue]
    {
        guard case .object(let members) = value.kind else {
            throw fail(value, path, "expected an object, found \(value.typeName).")
        }
        var result: [String: SeccompJSONValue] = [:]
        for member in members {
            guard allowed.contains(member.key) else {
                throw fail(
                    member.value, path.isEmpty ? member.key : "\(path).\(member.key)",
                    "unknown key \"\(member.key)\"; the keys allowed here are "
                        + allowed.map { "\"\($0)\"" }.joined(separator: ", ")
                        + ". (A misspelt key is refused because it would silently change what the profile allows.)")
            }
            result[member.key] = member.value
        }
        return result
    }

    func string(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> String {
        guard case .string(let text) = value.kind else {
            throw fail(value, path, "expected a string, found \(value.typeName).")
        }
        return text
    }

    func strings(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> [String] {
        if case .null = value.kind { return [] }
        guard case .array(let elements) = value.kind else {
            throw fail(value, path, "expected an array of strings, found \(value.typeName).")
        }
        var result: [String] = []
        for (position, element) in elements.enumerated() {
            result.append(try string(element, "\(path)[\(position)]"))
        }
        return result
    }

    func unsigned(_ value: SeccompJSONValue, _ path: String, maximum: UInt64 = .max) throws(SeccompError) -> UInt64 {
        guard case .number(let text) = value.kind else {
            throw fail(value, path, "expected a non-negative integer, found \(value.typeName).")
        }
        guard let number = UInt64(text) else {
            throw fail(
                value, path,
                "\(text) is not an integer from 0 to \(UInt64.max) (no sign, fraction or exponent); "
                    + "write 64-bit values in decimal.")
        }
        guard number <= maximum else {
            throw fail(value, path, "\(text) is larger than \(maximum).")
        }
        return number
    }

    func action(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> SeccompProfile.Action {
        let text = try string(value, path)
        guard let action = SeccompProfile.Action(rawValue: text) else {
            throw fail(
                value, path,
                "\"\(text)\" is not an action; use one of "
                    + SeccompProfile.Action.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        return action
    }

    func errnoValue(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> UInt16 {
        // The kernel keeps 16 bits of SECCOMP_RET_DATA and clamps errno values to MAX_ERRNO (4095).
        UInt16(try unsigned(value, path, maximum: 4095))
    }

    func architectureName(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> String {
        let name = try string(value, path)
        guard SeccompProfile.knownArchitectureNames.contains(name) else {
            throw fail(
                value, path,
                "\"\(name)\" is not an architecture libseccomp knows (for example SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64)."
            )
        }
        return name
    }

    func profile(from document: SeccompJSONValue) throws(SeccompError) -> SeccompProfile {
        let keys = try object(
            document, "",
            allowed: [
                "comment", "defaultAction", "defaultErrnoRet", "architectures", "archMap", "flags", "listenerPath",
                "listenerMetadata", "syscalls",
            ])
        guard let defaultValue = keys["defaultAction"] else {
            throw SeccompError(
                .profileInvalid,
                "\(source):\(document.line):\(document.column): defaultAction: missing; a profile must say "
                    + "what happens to calls no rule matches (usually \"SCMP_ACT_ERRNO\").")
        }
        var profile = SeccompProfile(defaultAction: try action(defaultValue, "defaultAction"))
        if let value = keys["defaultErrnoRet"] {
            guard profile.defaultAction == .errno || profile.defaultAction == .trace else {
                throw fail(
                    value, "defaultErrnoRet", "only meaningful when defaultAction is SCMP_ACT_ERRNO or SCMP_ACT_TRACE.")
            }
            profile.defaultErrnoRet = try errnoValue(value, "defaultErrnoRet")
        }
        if let value = keys["comment"] { profile.comment = try string(value, "comment") }
        if let value = keys["architectures"] {
            if case .null = value.kind {
            } else {
                guard case .array(let elements) = value.kind else {
                    throw fail(
                        value, "architectures", "expected an array of SCMP_ARCH_* names, found \(value.typeName).")
                }
                for (position, element) in elements.enumerated() {
                    profile.architectures.append(try architectureName(element, "architectures[\(position)]"))
                }
            }
        }
        if let value = keys["archMap"] {
            if case .null = value.kind {
            } else {
                guard case .array(let elements) = value.kind else {
                    throw fail(value, "archMap", "expected an array, found \(value.typeName).")
                }
                for (position, element) in elements.enumerated() {
                    let path = "archMap[\(position)]"
                    let entry = try object(element, path, allowed: ["architecture", "subArchitectures"])
                    guard let architecture = entry["architecture"] else {
                        throw fail(element, path, "missing \"architecture\".")
                    }
                    var mapping = SeccompProfile.ArchitectureMapping(
                        architecture: try architectureName(architecture, "\(path).architecture"))
                    if let subs = entry["subArchitectures"] {
                        if case .array(let subElements) = subs.kind {
                            for (subPosition, sub) in subElements.enumerated() {
                                mapping.subArchitectures.append(
                                    try architectureName(sub, "\(path).subArchitectures[\(subPosition)]"))
                            }
                        } else if case .null = subs.kind {
                        } else {
                            throw fail(subs, "\(path).subArchitectures", "expected an array, found \(subs.typeName).")
                        }
                    }
                    profile.architectureMap.append(mapping)
                }
            }
        }
        if !profile.architectures.isEmpty && !profile.architectureMap.isEmpty {
            throw fail(
                document, "architectures",
                "both \"architectures\" and \"archMap\" are given; Docker refuses that, so use one of them.")
        }
        if let value = keys["flags"] {
            let names = try strings(value, "flags")
            for (position, name) in names.enumerated() where !SeccompProfile.knownFlagNames.contains(name) {
                throw fail(
                    value, "flags[\(position)]",
                    "\"\(name)\" is not a filter flag a profile may set; use one of "
                        + SeccompProfile.knownFlagNames.sorted().joined(separator: ", ") + ".")
            }
            profile.flags = names
        }
        if let value = keys["listenerPath"] { profile.listenerPath = try string(value, "listenerPath") }
        if let value = keys["listenerMetadata"] { profile.listenerMetadata = try string(value, "listenerMetadata") }
        if let value = keys["syscalls"] {
            if case .null = value.kind {
            } else {
                guard case .array(let elements) = value.kind else {
                    throw fail(value, "syscalls", "expected an array of rules, found \(value.typeName).")
                }
                for (position, element) in elements.enumerated() {
                    profile.syscalls.append(try rule(element, "syscalls[\(position)]"))
                }
            }
        }
        return profile
    }

    func rule(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> SeccompProfile.Rule {
        let keys = try object(
            value, path, allowed: ["names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"])
        var names: [String] = []
        if let namesValue = keys["names"] {
            names = try strings(namesValue, "\(path).names")
            if keys["name"] != nil {
                throw fail(value, path, "both \"name\" and \"names\" are given; use \"names\".")
            }
        } else if let nameValue = keys["name"] {
            names = [try string(nameValue, "\(path).name")]
        }
        guard !names.isEmpty else {
            throw fail(value, "\(path).names", "missing or empty; a rule must name at least one system call.")
        }
        for (position, name) in names.enumerated() where name.isEmpty {
            throw fail(value, "\(path).names[\(position)]", "an empty system-call name.")
        }
        guard let actionValue = keys["action"] else {
            throw fail(value, "\(path).action", "missing; say what the rule does (for example \"SCMP_ACT_ALLOW\").")
        }
        var rule = SeccompProfile.Rule(names: names, action: try action(actionValue, "\(path).action"))
        if let errnoValue = keys["errnoRet"] {
            guard rule.action == .errno || rule.action == .trace else {
                throw fail(errnoValue, "\(path).errnoRet", "only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE.")
            }
            rule.errnoRet = try self.errnoValue(errnoValue, "\(path).errnoRet")
        }
        if let comment = keys["comment"] { rule.comment = try string(comment, "\(path).comment") }
        if let args = keys["args"] {
            if case .null = args.kind {
            } else {
                guard case .array(let elements) = args.kind else {
                    throw fail(args, "\(path).args", "expected an array of comparisons, found \(args.typeName).")
                }
                var compared: Set<Int> = []
                for (position, element) in elements.enumerated() {
                    let condition = try argument(element, "\(path).args[\(position)]")
                    guard compared.insert(condition.index).inserted else {
                        throw fail(
                            element, "\(path).args[\(position)]",
                            "argument \(condition.index) is compared twice in one rule; libseccomp (and so Docker) "
                                + "allows one comparison per argument in a rule, so split it into two rules.")
                    }
                    rule.args.append(condition)
                }
            }
        }
        if let includes = keys["includes"] {
            rule.includes = try filter(includes, "\(path).includes", allowMinKernel: true)
        }
        if let excludes = keys["excludes"] {
            rule.excludes = try filter(excludes, "\(path).excludes", allowMinKernel: false)
        }
        return rule
    }

    func argument(_ value: SeccompJSONValue, _ path: String) throws(SeccompError) -> SeccompProfile.ArgumentCondition {
        let keys = try object(value, path, allowed: ["index", "value", "valueTwo", "op"])
        guard let indexValue = keys["index"] else { throw fail(value, "\(path).index", "missing (0 to 5).") }
        guard let operandValue = keys["value"] else { throw fail(value, "\(path).value", "missing.") }
        guard let opValue = keys["op"] else { throw fail(value, "\(path).op", "missing.") }
        let index = Int(try unsigned(indexValue, "\(path).index", maximum: 5))
        let opText = try string(opValue, "\(path).op")
        guard let op = SeccompProfile.Operator(rawValue: opText) else {
            throw fail(
                opValue, "\(path).op",
                "\"\(opText)\" is not an operator; use one of "
                    + SeccompProfile.Operator.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        let operand = try unsigned(operandValue, "\(path).value")
        let second = try keys["valueTwo"].map { (v) throws(SeccompError) in try unsigned(v, "\(path).valueTwo") } ?? 0
        return SeccompProfile.ArgumentCondition(index: index, value: operand, valueTwo: second, op: op)
    }

    func filter(
        _ value: SeccompJSONValue, _ path: String, allowMinKernel: Bool
    ) throws(SeccompError)
        -> SeccompProfile.Filter
    {
        let keys = try object(
            value, path, allowed: allowMinKernel ? ["caps", "arches", "minKernel"] : ["caps", "arches"])
        var filter = SeccompProfile.Filter()
        if let caps = keys["caps"] { filter.caps = try strings(caps, "\(path).caps") }
        if let arches = keys["arches"] { filter.arches = try strings(arches, "\(path).arches") }
        if let minKernel = keys["minKernel"] {
            let text = try string(minKernel, "\(path).minKernel")
            guard KernelVersion(text) != nil else {
                throw fail(minKernel, "\(path).minKernel", "\"\(text)\" is not a kernel version such as \"5.8\".")
            }
            filter.minKernel = text
        }
        return filter
    }
}

// MARK: - Writing

extension SeccompProfile {
    /// The profile as JSON text, in the layout of the files in `seccomp/` (reading a shipped
    /// profile and writing it back gives the same bytes).
    public func jsonText() -> String {
        var lines = ["{"]
        var top: [[String]] = []
        if let comment { top.append(["    \"comment\": " + SeccompJSONWriter.quoted(comment)]) }
        top.append(["    \"defaultAction\": " + SeccompJSONWriter.quoted(defaultAction.rawValue)])
        if let defaultErrnoRet { top.append(["    \"defaultErrnoRet\": \(defaultErrnoRet)"]) }
        if !architectures.isEmpty {
            top.append(SeccompJSONWriter.stringList(architectures, prefix: "    \"architectures\": ", indent: "    "))
        }
        if !architectureMap.isEmpty {
            var block = ["    \"archMap\": ["]
            for (position, mapping) in architectureMap.enumerated() {
                let subs = mapping.subArchitectures.map(SeccompJSONWriter.quoted).joined(separator: ", ")
                block.append(
                    "        {\"architecture\": \(SeccompJSONWriter.quoted(mapping.architecture)), "
                        + "\"subArchitectures\": [\(subs)]}" + (position == architectureMap.count - 1 ? "" : ","))
            }
            block.append("    ]")
            top.append(block)
        }
        if !flags.isEmpty { top.append(SeccompJSONWriter.stringList(flags, prefix: "    \"flags\": ", indent: "    ")) }
        if let listenerPath { top.append(["    \"listenerPath\": " + SeccompJSONWriter.quoted(listenerPath)]) }
        if let listenerMetadata {
            top.append(["    \"listenerMetadata\": " + SeccompJSONWriter.quoted(listenerMetadata)])
        }
        var rulesBlock = ["    \"syscalls\": ["]
        for (position, rule) in syscalls.enumerated() {
            rulesBlock.append(contentsOf: Self.ruleLines(rule, last: position == syscalls.count - 1))
        }
        rulesBlock.append("    ]")
        if syscalls.isEmpty { rulesBlock = ["    \"syscalls\": []"] }
        top.append(rulesBlock)
        for (position, block) in top.enumerated() {
            var block = block
            if position < top.count - 1 { block[block.count - 1] += "," }
            lines.append(contentsOf: block)
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func ruleLines(_ rule: Rule, last: Bool) -> [String] {
        var fields: [[String]] = []
        let indent = "            "
        if let comment = rule.comment { fields.append([indent + "\"comment\": " + SeccompJSONWriter.quoted(comment)]) }
        fields.append(SeccompJSONWriter.stringList(rule.names, prefix: indent + "\"names\": ", indent: indent))
        fields.append([indent + "\"action\": " + SeccompJSONWriter.quoted(rule.action.rawValue)])
        if let errnoRet = rule.errnoRet { fields.append([indent + "\"errnoRet\": \(errnoRet)"]) }
        if !rule.args.isEmpty {
            var block = [indent + "\"args\": ["]
            for (position, argument) in rule.args.enumerated() {
                block.append(
                    indent + "    {\"index\": \(argument.index), \"value\": \(argument.value), "
                        + "\"valueTwo\": \(argument.valueTwo), "
                        + "\"op\": \(SeccompJSONWriter.quoted(argument.op.rawValue))}"
                        + (position == rule.args.count - 1 ? "" : ","))
            }
            block.append(indent + "]")
            fields.append(block)
        }
        for (key, filter) in [("includes", rule.includes), ("excludes", rule.excludes)] {
            guard let filter else { continue }
            var parts: [String] = []
            if !filter.caps.isEmpty {
                parts.append("\"caps\": [" + filter.caps.map(SeccompJSONWriter.quoted).joined(separator: ", ") + "]")
            }
            if !filter.arches.isEmpty {
                parts.append(
                    "\"arches\": [" + filter.arches.map(SeccompJSONWriter.quoted).joined(separator: ", ") + "]")
            }
            if let minKernel = filter.minKernel {
                parts.append("\"minKernel\": " + SeccompJSONWriter.quoted(minKernel))
            }
            fields.append([indent + "\"\(key)\": {" + parts.joined(separator: ", ") + "}"])
        }
        var lines = ["        {"]
        for (position, field) in fields.enumerated() {
            var field = field
            if position < fields.count - 1 { field[field.count - 1] += "," }
            lines.append(contentsOf: field)
        }
        lines.append("        }" + (last ? "" : ","))
        return lines
    }

    /// Writes the profile to `path` atomically (a temporary file in the same directory, then
    /// `rename`), so a reader never sees half a profile.
    public func write(to path: String) throws(SeccompError) {
        let text = Array(jsonText().utf8)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = Glibc.errno
            throw SeccompError(
                .writeFailed, "Cannot write the seccomp profile \(path): \(String(cString: strerror(code))).",
                errno: code)
        }
        var offset = 0
        while offset < text.count {
            let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw SeccompError(
                    .writeFailed, "Cannot write the seccomp profile \(path): \(String(cString: strerror(code))).",
                    errno: code)
            }
            offset += written
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = Glibc.errno
            unlink(temporary)
            throw SeccompError(
                .writeFailed, "Cannot write the seccomp profile \(path): \(String(cString: strerror(code))).",
                errno: code)
        }
    }
}

/// A kernel version as `major.minor`, for Docker's `minKernel`.
struct KernelVersion: Comparable, Sendable {
    let major: Int
    let minor: Int

    init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses "5.8", "6.18.44-fc-v782" and the like (the leading `major.minor`).
    init?(_ text: String) {
        let parts = text.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]) else { return nil }
        let minorDigits = parts[1].prefix { $0.isASCII && $0.isNumber }
        guard !minorDigits.isEmpty, let minor = Int(minorDigits) else { return nil }
        self.init(major: major, minor: minor)
    }

    /// The running kernel's version (from `uname`), or nil if it cannot be read.
    static var running: KernelVersion? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return KernelVersion(release)
    }

    static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }
}
