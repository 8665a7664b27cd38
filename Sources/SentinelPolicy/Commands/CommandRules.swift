/// A command rule that cannot be compiled: the policy must not be used until it is fixed.
public struct CommandRuleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public enum Code: String, Sendable, Hashable {
        /// An `allowed_commands` entry is empty or is not one command (`git push`, a NUL byte).
        case invalidCommand = "invalid-command"
        /// An `args_deny` pattern does not compile.
        case invalidPattern = "invalid-pattern"
        /// A `blocked_command_bases` entry is not a command name.
        case invalidBlockedBase = "invalid-blocked-base"
        /// A path rule cannot be made absolute (`~` without a home directory, a relative base).
        case unresolvablePath = "unresolvable-path"
    }

    /// What is wrong.
    public var code: Code
    /// Where, as a key path (`allowed_commands[2]`, `allowed_commands[0].args_deny[1]`), so the
    /// loader can point at the line.
    public var keyPath: String
    /// One sentence saying what is wrong and how to fix it.
    public var description: String

    /// Creates an error.
    public init(code: Code, keyPath: String, description: String) {
        self.code = code
        self.keyPath = keyPath
        self.description = description
    }
}

/// Something about the command rules that compiles but deserves a warning when the policy loads.
public struct CommandRuleWarning: Sendable, Hashable, CustomStringConvertible {
    /// The entry concerned (`allowed_commands[3]`).
    public var keyPath: String
    /// What deserves attention.
    public var message: String

    /// Creates a warning.
    public init(keyPath: String, message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    /// `key: message`.
    public var description: String { "\(keyPath): \(message)" }
}

/// One `allowed_commands` entry, bound to the executables it allows.
///
/// An entry is a string (`git`, `/usr/local/bin/tool`) or a mapping
/// `{command: git, args_deny: ["push", "--upload-pack*"]}`. The original compared the *text* of
/// `argv[0]` with the entry (`original-system.md` §1.2), so `/bin/ls` was not `ls` while a `./ls`
/// planted in the workspace was. Here an entry allows *files*:
///
/// - a bare name (`git`) is bound, when the policy is compiled, to the canonical path of every
///   executable of that name in the absolute directories of the `PATH` given then (relative and
///   empty components are skipped: they would bind whatever sits in the working directory at
///   load time, which is where an untrusted program plants files);
/// - a path (`/usr/local/bin/tool`, `./bin/tool`, `~/bin/tool`) is bound to its canonical path.
///
/// A command is allowed by the entry only if the canonical path of what would run is one of
/// these, so `ls`, `/bin/ls` and `/usr/bin/ls` are the same command and `./ls` is not `ls`.
///
/// When no executable exists under the entry at compile time (not installed, a typo, not
/// executable), the entry binds nothing and **matches nothing**: it never falls back to comparing
/// names. `isBound` is then `false` and `CommandRules.warnings` says so, for the loader to show.
/// Installing the program later takes effect when the policy is compiled again.
public struct CommandRule: Sendable, Hashable {
    /// Whether the entry names a command or a file.
    public enum Kind: String, Sendable, Hashable {
        /// A bare name, searched on `PATH` at compile time.
        case name
        /// A path (it contains `/` or starts with `~`).
        case path
    }

    /// The command as written, without surrounding blanks.
    public let command: String
    /// A bare name or a path.
    public let kind: Kind
    /// The key path of the entry (`allowed_commands[2]`).
    public let keyPath: String
    /// The argument patterns that deny, in order; `argsDeny[i]` is `<keyPath>.args_deny[i]`.
    public let argsDeny: [GlobPattern]
    /// The executables the entry allows, in `PATH` order, without duplicate canonical paths.
    public let executables: [ResolvedExecutable]
    /// Why nothing was bound, when nothing was.
    public let unboundReason: String?
    /// `trust_children: true` (see ``CommandEntry/trustChildren``).
    public let trustChildren: Bool
    /// `allow_interpreter: true` (see ``CommandEntry/allowInterpreter``).
    public let allowInterpreter: Bool

    /// Compiles an entry.
    ///
    /// - Parameters:
    ///   - command: the entry's command, a bare name or a path.
    ///   - argsDeny: the entry's `args_deny` patterns (`fnmatch` globs, see `GlobPattern`).
    ///   - keyPath: where the entry is in the policy (`allowed_commands[2]`).
    ///   - searchPath: the `PATH` a bare name is bound against.
    ///   - workingDirectory: what a relative path entry is relative to (the policy's base
    ///     directory), absolute.
    ///   - homeDirectory: what `~` means in a path entry; a `~` entry without one is an error.
    /// - Throws: `CommandRuleError` for an empty entry, a bare name holding blanks (`git push`:
    ///   use `args_deny` to restrict arguments), a NUL byte, or a pattern that does not compile.
    ///   - trustChildren: `trust_children`.
    ///   - allowInterpreter: `allow_interpreter`.
    public init(
        command: String, argsDeny: [String] = [], keyPath: String,
        searchPath: String, workingDirectory: String, homeDirectory: String? = nil,
        trustChildren: Bool = false, allowInterpreter: Bool = false
    ) throws(CommandRuleError) {
        let trimmed = trimmedCommandText(command)
        guard !trimmed.isEmpty else {
            throw CommandRuleError(code: .invalidCommand, keyPath: keyPath,
                                   description: "\(keyPath) is empty; write a command name (\"git\") or a path (\"/usr/local/bin/tool\").")
        }
        guard !trimmed.utf8.contains(0) else {
            throw CommandRuleError(code: .invalidCommand, keyPath: keyPath, description: "\(keyPath) contains a NUL byte.")
        }
        let isPath = trimmed.utf8.contains(UInt8(ascii: "/")) || trimmed.hasPrefix("~")
        if !isPath, trimmed.utf8.contains(where: { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }) {
            throw CommandRuleError(
                code: .invalidCommand, keyPath: keyPath,
                description: "\(keyPath) \"\(trimmed)\" is not one command name; write {command: \(trimmed.split(separator: " ").first ?? ""), args_deny: [...]} to restrict its arguments instead."
            )
        }

        var patterns: [GlobPattern] = []
        for (index, pattern) in argsDeny.enumerated() {
            do {
                patterns.append(try GlobPattern(pattern))
            } catch {
                throw CommandRuleError(code: .invalidPattern, keyPath: "\(keyPath).args_deny[\(index)]",
                                       description: "\(keyPath).args_deny[\(index)]: \(error.description)")
            }
        }

        self.command = trimmed
        self.trustChildren = trustChildren
        self.allowInterpreter = allowInterpreter
        self.kind = isPath ? .path : .name
        self.keyPath = keyPath
        self.argsDeny = patterns

        if isPath {
            var path = trimmed
            if path == "~" || path.hasPrefix("~/") {
                guard let homeDirectory, homeDirectory.hasPrefix("/") else {
                    throw CommandRuleError(code: .unresolvablePath, keyPath: keyPath,
                                           description: "\(keyPath) \"\(trimmed)\" starts with '~' but no home directory is known; write an absolute path.")
                }
                path = homeDirectory + path.dropFirst()
            } else if path.hasPrefix("~") {
                throw CommandRuleError(code: .unresolvablePath, keyPath: keyPath,
                                       description: "\(keyPath) \"\(trimmed)\" names another user's home ('~user'); write an absolute path.")
            }
            guard path.hasPrefix("/") || workingDirectory.hasPrefix("/") else {
                throw CommandRuleError(code: .unresolvablePath, keyPath: keyPath,
                                       description: "\(keyPath) \"\(trimmed)\" is relative and the base directory '\(workingDirectory)' is not absolute.")
            }
            let absolute = ExecutableResolver.absolutePath(path, in: workingDirectory)
            switch ExecutableResolver.probe(absolute) {
            case .success(let executable):
                executables = [executable]
                unboundReason = nil
            case .failure(let failure):
                executables = []
                unboundReason = ExecutableResolver.error(for: failure, name: trimmed, detail: absolute).description
                    + " The entry allows nothing until it exists and the policy is loaded again."
            }
        } else {
            executables = ExecutableResolver.allExecutables(named: trimmed, searchPath: searchPath)
            unboundReason = executables.isEmpty
                ? "No executable named '\(trimmed)' is on PATH (\(searchPath)), so the entry allows nothing; install it, fix the name, or give its path."
                : nil
        }
    }

    /// Whether the entry allows at least one executable.
    public var isBound: Bool { !executables.isEmpty }

    /// The rule name of `argsDeny[index]`.
    public func argsDenyKeyPath(_ index: Int) -> String { "\(keyPath).args_deny[\(index)]" }
}

/// The compiled command part of a policy: the denylist (built-in and `blocked_command_bases`)
/// and the `allowed_commands` entries, indexed by the canonical paths they allow.
public struct CommandRules: Sendable {
    /// The entries, in policy order.
    public let rules: [CommandRule]
    /// The names denied before the allowlist is consulted.
    public let denylist: CommandDenylist
    /// What the loader should show: entries that bind nothing, entries that the denylist
    /// overrides.
    public let warnings: [CommandRuleWarning]
    /// For each canonical path, the indices of the entries that allow it, and the allow reason
    /// of the first (made once here: a sentence built per decision was a measurable share of it).
    private let byCanonicalPath: [String: (indices: [Int], reason: String)]
    /// The files `allow_interpreter` entries lift the built-in denylist for, by identity.
    let liftedInterpreters: [FileIdentity: Int]

    /// Assembles compiled entries and a denylist.
    public init(rules: [CommandRule], denylist: CommandDenylist) {
        self.rules = rules
        self.denylist = denylist
        var index: [String: (indices: [Int], reason: String)] = [:]
        var warnings: [CommandRuleWarning] = []
        var lifted: [FileIdentity: Int] = [:]
        for (position, rule) in rules.enumerated() {
            if let reason = rule.unboundReason {
                warnings.append(CommandRuleWarning(keyPath: rule.keyPath, message: reason))
            }
            // The opt-ins are loud: every validation says what they let through.
            if rule.trustChildren {
                warnings.append(CommandRuleWarning(
                    keyPath: rule.keyPath + ".trust_children",
                    message: "\"\(rule.command)\" may start anything: what it runs, and their descendants, are not decided for exec under sentinel guard (tests can run any code); their file writes and connects still are."))
            }
            if rule.allowInterpreter {
                warnings.append(CommandRuleWarning(
                    keyPath: rule.keyPath + ".allow_interpreter",
                    message: "\"\(rule.command)\" is an interpreter allowed to run any code (the built-in interpreter denylist is lifted for it, and for scripts whose #! names it)."))
                for executable in rule.executables { lifted[executable.identity] = position }
            }
            var overridden: CommandDenylist.Match?
            for executable in rule.executables {
                index[executable.canonicalPath, default: (
                    [], "Command \(executable.canonicalPath) is allowed by \(rule.keyPath) (\(rule.command))."
                )].indices.append(position)
                guard !rule.allowInterpreter else { continue }
                overridden = overridden
                    ?? denylist.match(name: rule.command)
                    ?? denylist.match(name: executable.path)
                    ?? denylist.match(name: executable.canonicalPath)
                    ?? denylist.match(identity: executable.identity)
            }
            if rule.executables.isEmpty, let match = denylist.match(name: rule.command) { overridden = match }
            if let overridden {
                warnings.append(CommandRuleWarning(
                    keyPath: rule.keyPath,
                    message: "\"\(rule.command)\" is denied by \(overridden.rule) (\(overridden.entry)), which is checked first, so this entry allows nothing."
                ))
            }
        }
        self.byCanonicalPath = index
        self.warnings = warnings
        self.liftedInterpreters = lifted
    }

    /// Compiles `allowed_commands` and `blocked_command_bases` from plain values.
    ///
    /// - Parameters:
    ///   - allowedCommands: each entry's command and `args_deny` patterns, in policy order; the
    ///     key path of entry `i` is `allowed_commands[i]`.
    ///   - blockedCommandBases: the extra denied names.
    ///   - searchPath: the `PATH` bare names are bound against.
    ///   - workingDirectory: what relative path entries are relative to.
    ///   - homeDirectory: what `~` means in path entries.
    public init(
        allowedCommands: [(command: String, argsDeny: [String])], blockedCommandBases: [String] = [],
        searchPath: String, workingDirectory: String, homeDirectory: String? = nil
    ) throws(CommandRuleError) {
        var rules: [CommandRule] = []
        for (index, entry) in allowedCommands.enumerated() {
            rules.append(try CommandRule(
                command: entry.command, argsDeny: entry.argsDeny, keyPath: "allowed_commands[\(index)]",
                searchPath: searchPath, workingDirectory: workingDirectory, homeDirectory: homeDirectory
            ))
        }
        self.init(rules: rules, denylist: try CommandDenylist(blockedCommandBases: blockedCommandBases, searchPath: searchPath))
    }

    /// The indices of the entries that allow the file at `canonicalPath`, in policy order.
    public func ruleIndices(allowing canonicalPath: String) -> [Int] {
        byCanonicalPath[canonicalPath]?.indices ?? []
    }

    /// The entries that allow `canonicalPath` and the reason an allow by the first gives.
    func allowance(for canonicalPath: String) -> (indices: [Int], reason: String)? {
        byCanonicalPath[canonicalPath]
    }
}

/// `text` without leading and trailing spaces, tabs, newlines and carriage returns.
func trimmedCommandText(_ text: String) -> String {
    let isBlank: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }
    let bytes = Array(text.utf8)
    guard let first = bytes.firstIndex(where: { !isBlank($0) }), let last = bytes.lastIndex(where: { !isBlank($0) }) else {
        return ""
    }
    return String(decoding: bytes[first...last], as: UTF8.self)
}
