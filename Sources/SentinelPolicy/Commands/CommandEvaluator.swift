/// The answer to "may this command run?": the verdict, and for an allow the executable a runner
/// must exec (so that what runs is what was decided on).
///
/// `Verdict` stays the one decision type every module shares; the executable travels beside it
/// here rather than as a field on `Verdict`, which paths and hosts have no use for.
public struct CommandDecision: Sendable, Hashable {
    /// Allow or deny, which rule decided, why, and what policy change would allow it.
    public var verdict: Verdict
    /// The executable that would run, once resolved. Always set for an allow; set for a denial
    /// decided after resolution (the denylist by canonical path, the allowlist, `args_deny`), for
    /// the audit record; `nil` for denials decided before (syntax, the name as typed, not found).
    public var executable: ResolvedExecutable?
    /// For a shell command string, how it was parsed; `nil` for an argument vector or when the
    /// text was rejected.
    public var parsedCommand: ParsedCommand?
    /// `argv` as given, for an argument vector (a shell command's words are in `parsedCommand`,
    /// not copied: a decision is made a million times a second).
    private var argv: [String]

    /// Creates a decision. `arguments` is kept only for an argument vector: with a
    /// `parsedCommand`, its words are the arguments.
    public init(verdict: Verdict, executable: ResolvedExecutable?, arguments: [String], parsedCommand: ParsedCommand?) {
        self.verdict = verdict
        self.executable = executable
        self.parsedCommand = parsedCommand
        self.argv = parsedCommand == nil ? arguments : []
    }

    /// The argument vector: `argv` as given, or a shell command's words after quote removal.
    /// `argv[0]` is the name as typed.
    public var arguments: [String] { parsedCommand?.argv ?? argv }

    /// Whether the command may run.
    public var isAllowed: Bool { verdict.isAllowed }

    /// The `trust_children` entry that allowed the command, if one did (its key path): under
    /// `sentinel guard`, what the command starts is then not decided for exec.
    public var trustedChildrenRule: String?

    /// Whether the runner must go through `/bin/sh -c` (a shell word holds an expansion, glob,
    /// tilde or brace expansion). It then passes `parsedCommand.shellText(executable:)` with the
    /// canonical path, never the original text, so the shell cannot look the name up itself.
    public var requiresShell: Bool { parsedCommand.map { !$0.isLiteral } ?? false }
}

/// Decides whether commands may run, for every enforcement point: a shell command string
/// (`os.system`, `subprocess.run(..., shell=True)`) or an argument vector with an optional
/// explicit executable (`execv`, `posix_spawn`, `subprocess.run([...], executable=...)`).
///
/// Order, each step denying with its own rule name:
///
/// 1. syntax (`builtin:shell-syntax` for a shell string; `builtin:malformed-command` for an empty
///    argument vector or a NUL byte, which the kernel would cut the argument at);
/// 2. the denylist on the name as typed (`builtin:interpreter-denylist`, then
///    `blocked_command_bases[i]`), so an interpreter is refused even where it is not installed;
///    with an explicit executable, on `argv[0]` too (multi-call binaries dispatch on it);
/// 3. resolution of what `execvp`/`execv` would run (`builtin:executable-resolution` when
///    nothing runnable is found);
/// 4. the denylist on the name it was found under, its canonical path, and its identity;
/// 5. `allowed_commands`: the entries whose executables include the canonical path; if none,
///    `default:allowed_commands`;
/// 6. `args_deny` of every such entry, against every argument after `argv[0]`
///    (`allowed_commands[i].args_deny[j]`); an entry with `args_deny` denies an argument it cannot
///    see the value of (`allowed_commands[i].args_deny`). A deny in any matching entry wins over
///    an allow from another.
///
/// Evaluation touches the file system only to resolve the executable, which the optional cache
/// (`ExecutableResolverCache`) answers for repeated names.
public struct CommandEvaluator: Sendable {
    /// The rule named for a command string that is not one simple command.
    public static let syntaxRule = "builtin:shell-syntax"
    /// The rule named for an argument vector that cannot be executed as given.
    public static let malformedRule = "builtin:malformed-command"
    /// The rule named when no executable is found.
    public static let resolutionRule = "builtin:executable-resolution"
    /// The rule named when no `allowed_commands` entry allows the executable.
    public static let defaultRule = "default:allowed_commands"

    /// The compiled rules.
    public let rules: CommandRules
    /// The resolver cache, if any.
    public let cache: ExecutableResolverCache?

    /// Creates an evaluator.
    ///
    /// - Parameters:
    ///   - rules: the compiled command rules.
    ///   - cache: a resolver cache to reuse recent resolutions (see `ExecutableResolverCache` for
    ///     why that is safe), or `nil` to resolve every time.
    public init(rules: CommandRules, cache: ExecutableResolverCache? = ExecutableResolverCache()) {
        self.rules = rules
        self.cache = cache
    }

    /// Decides whether a shell command string may run.
    ///
    /// - Parameters:
    ///   - text: the string the program would pass to `/bin/sh -c`.
    ///   - searchPath: the `PATH` of the process that would exec, `nil` if it has none.
    ///   - workingDirectory: that process's working directory, absolute.
    public func evaluate(shellCommand text: String, searchPath: String?, workingDirectory: String) -> CommandDecision {
        let parsed: ParsedCommand
        switch ShellCommandParser.parse(text) {
        case .success(let command):
            parsed = command
        case .failure(let rejection):
            let reason: String
            switch rejection.kind {
            case .emptyCommand:
                reason = "Command is required: \(Self.clause(rejection.description))"
            case _ where rejection.isMalformed:
                reason = "Malformed command string: \(Self.clause(rejection.description))"
            default:
                reason = "Complex shell chaining/redirection/substitution is not allowed: \(Self.clause(rejection.description))"
            }
            return CommandDecision(verdict: .deny(rule: Self.syntaxRule, reason: reason), executable: nil,
                                   arguments: [], parsedCommand: nil)
        }
        return decide(
            typedName: parsed.words[0].value, extraName: nil, arguments: .words(parsed), searchPath: searchPath,
            workingDirectory: workingDirectory, searchesPath: true
        )
    }

    /// Decides whether an argument vector may be executed.
    ///
    /// - Parameters:
    ///   - argv: the argument vector; `argv[0]` is the command name unless `executable` is given.
    ///   - executable: the file actually executed when it differs from `argv[0]` (`execv`'s
    ///     `path`, `subprocess`'s `executable=`); this, not `argv[0]`, is what is checked
    ///     (`original-system.md` §12.1 item 3).
    ///   - searchesPath: whether the call searches `PATH` for a name without `/` (`execvp`,
    ///     `posix_spawnp`, `subprocess`) or takes it relative to the working directory (`execv`,
    ///     `posix_spawn`).
    ///   - searchPath: the `PATH` of the process that would exec, `nil` if it has none.
    ///   - workingDirectory: that process's working directory, absolute.
    public func evaluate(
        argv: [String], executable: String? = nil, searchesPath: Bool = true,
        searchPath: String?, workingDirectory: String
    ) -> CommandDecision {
        func malformed(_ reason: String) -> CommandDecision {
            CommandDecision(verdict: .deny(rule: Self.malformedRule, reason: reason), executable: nil,
                            arguments: argv, parsedCommand: nil)
        }
        guard let typed = executable ?? argv.first, !typed.isEmpty else {
            return malformed("Command is required: the argument vector is empty and no executable is given.")
        }
        if typed.utf8.contains(0) {
            return malformed("Malformed command: the executable name contains a NUL byte.")
        }
        if let position = argv.firstIndex(where: { $0.utf8.contains(0) }) {
            return malformed("Malformed command: argument \(position) contains a NUL byte, where the kernel would cut it short, so the program would see a different argument than the one checked.")
        }
        return decide(
            typedName: typed, extraName: executable == nil ? nil : argv.first, arguments: .argv(argv),
            searchPath: searchPath, workingDirectory: workingDirectory, searchesPath: searchesPath
        )
    }

    /// Decides an argument vector whose executable the caller has already found and identified
    /// (a supervisor that opened the very file the kernel will run, in the calling process's
    /// view): the same steps as ``evaluate(argv:executable:searchesPath:searchPath:workingDirectory:)``,
    /// without a lookup or the cache, so the identity and canonical path decided on are exactly
    /// the ones given.
    ///
    /// - Parameters:
    ///   - argv: the argument vector.
    ///   - typedName: the name or path the program gave (denylisted names deny even when the file
    ///     behind them is allowed: `argv[0]` and this name are both checked).
    ///   - resolved: the file that will run.
    public func evaluate(argv: [String], typedName: String, resolved: ResolvedExecutable) -> CommandDecision {
        guard !typedName.isEmpty else {
            return CommandDecision(
                verdict: .deny(rule: Self.malformedRule, reason: "Command is required: the executable name is empty."),
                executable: nil, arguments: argv, parsedCommand: nil)
        }
        if let position = argv.firstIndex(where: { $0.utf8.contains(0) }) {
            return CommandDecision(
                verdict: .deny(rule: Self.malformedRule, reason: "Malformed command: argument \(position) contains a NUL byte, where the kernel would cut it short, so the program would see a different argument than the one checked."),
                executable: nil, arguments: argv, parsedCommand: nil)
        }
        return decide(
            typedName: typedName, extraName: argv.first, arguments: .argv(argv), searchPath: nil,
            workingDirectory: "/", searchesPath: false, resolved: resolved)
    }

    // MARK: - Steps

    /// The arguments a decision looks at, without copying a shell command's words.
    private enum Arguments {
        case argv([String])
        case words(ParsedCommand)
        /// The command a wrapper runs, read from the wrapper's own arguments.
        case list([CommandWrappers.Word])

        var count: Int {
            switch self {
            case .argv(let argv): argv.count
            case .words(let command): command.words.count
            case .list(let words): words.count
            }
        }

        subscript(position: Int) -> String {
            switch self {
            case .argv(let argv): argv[position]
            case .words(let command): command.words[position].value
            case .list(let words): words[position].value
            }
        }

        func isLiteral(_ position: Int) -> Bool {
            switch self {
            case .argv: true
            case .words(let command): command.words[position].isLiteral
            case .list(let words): words[position].isLiteral
            }
        }

        /// What `CommandDecision` stores: `argv`, or the parsed command.
        var stored: (argv: [String], parsed: ParsedCommand?) {
            switch self {
            case .argv(let argv): (argv, nil)
            case .words(let command): ([], command)
            case .list(let words): (words.map(\.value), nil)
            }
        }
    }

    private func decide(
        typedName: String, extraName: String?, arguments argumentSource: Arguments,
        searchPath: String?, workingDirectory: String, searchesPath: Bool, resolved: ResolvedExecutable? = nil,
        depth: Int = 0, appendsUnknownArguments: Bool = false
    ) -> CommandDecision {
        let (arguments, parsed) = argumentSource.stored
        let denylist = rules.denylist
        func deny(_ match: CommandDenylist.Match, because detail: String?, executable: ResolvedExecutable? = nil) -> CommandDecision {
            let reason = "Command '\(typedName)' is blocked by fail-safe policy" + (detail.map { ": \($0)." } ?? ".")
            let remedy = match.isBuiltin ? nil : "Remove \"\(match.entry)\" from \(denylist.keyPath)."
            return CommandDecision(verdict: .deny(rule: match.rule, reason: reason, remedy: remedy),
                                   executable: executable, arguments: arguments, parsedCommand: parsed)
        }

        // An `allow_interpreter` entry lifts the built-in denylist for exactly the files it binds
        // (by identity): the name alone can no longer deny before the lookup.
        let mayLift = !rules.liftedInterpreters.isEmpty
        if let match = denylist.match(name: typedName), !(mayLift && match.isBuiltin) {
            let typedBase = CommandDenylist.lastComponent(of: typedName)
            return deny(match, because: Self.lastComponentDiffers(typedBase, match.entry) ? "'\(typedBase)' is a form of '\(match.entry)'" : nil)
        }
        if let extraName, let match = denylist.match(name: extraName), !(mayLift && match.isBuiltin) {
            return deny(match, because: "argv[0] '\(extraName)' names '\(match.entry)', and programs that dispatch on argv[0] would act as it")
        }

        let executable: ResolvedExecutable
        do {
            if let resolved {
                executable = resolved
            } else if let cache {
                executable = try cache.resolve(typedName, searchPath: searchPath, workingDirectory: workingDirectory, searchesPath: searchesPath)
            } else {
                executable = try ExecutableResolver.resolve(typedName, searchPath: searchPath, workingDirectory: workingDirectory, searchesPath: searchesPath)
            }
        } catch {
            return CommandDecision(
                verdict: .deny(rule: Self.resolutionRule, reason: "\(error.description) The command is denied."),
                executable: nil, arguments: arguments, parsedCommand: parsed
            )
        }

        let lifted = mayLift && rules.liftedInterpreters[executable.identity] != nil
        if mayLift, !lifted {
            // The names skipped above, now that the file is known not to be a lifted interpreter.
            if let match = denylist.match(name: typedName) {
                let typedBase = CommandDenylist.lastComponent(of: typedName)
                return deny(match, because: Self.lastComponentDiffers(typedBase, match.entry) ? "'\(typedBase)' is a form of '\(match.entry)'" : nil, executable: executable)
            }
            if let extraName, let match = denylist.match(name: extraName) {
                return deny(match, because: "argv[0] '\(extraName)' names '\(match.entry)', and programs that dispatch on argv[0] would act as it", executable: executable)
            }
        }
        // Each name is checked once: usually all three are the same (`ls`, /usr/bin/ls).
        if lifted {
            // allow_interpreter: the built-in denylist does not apply; blocked_command_bases does.
            for name in [typedName, executable.path, executable.canonicalPath] + (extraName.map { [$0] } ?? []) {
                if let match = denylist.match(name: name), !match.isBuiltin {
                    return deny(match, because: nil, executable: executable)
                }
            }
        } else if !CommandDenylist.sameLastComponent(typedName, executable.path), let match = denylist.match(name: executable.path) {
            return deny(match, because: "it runs \(executable.path), a form of '\(match.entry)'", executable: executable)
        }
        if !lifted, !CommandDenylist.sameLastComponent(executable.path, executable.canonicalPath),
           let match = denylist.match(name: executable.canonicalPath) {
            return deny(match, because: "it runs \(executable.canonicalPath), a form of '\(match.entry)'", executable: executable)
        }
        if !lifted, let match = denylist.match(identity: executable.identity) {
            return deny(match, because: "\(executable.canonicalPath) is the same file as a '\(match.entry)' executable", executable: executable)
        }

        guard let allowance = rules.allowance(for: executable.canonicalPath), let first = allowance.indices.first else {
            var reason = "Command '\(typedName)' is not allowed."
            var suggestion = typedName
            let typedBase = String(CommandDenylist.lastComponent(of: typedName))
            let sameName = rules.rules.first { $0.kind == .name && $0.command == typedBase }
            if let sameName {
                let bound = sameName.executables.map(\.canonicalPath).joined(separator: ", ")
                reason += " It resolves to \(executable.canonicalPath), which is not what \(sameName.keyPath) allows (\(bound.isEmpty ? "nothing" : bound))."
                suggestion = executable.canonicalPath
            } else if typedName.utf8.contains(UInt8(ascii: "/")) || !searchesPath {
                suggestion = executable.canonicalPath
            }
            return CommandDecision(
                verdict: .deny(rule: Self.defaultRule, reason: reason, remedy: "Add \"\(suggestion)\" to allowed_commands."),
                executable: executable, arguments: arguments, parsedCommand: parsed
            )
        }

        for index in allowance.indices {
            let rule = rules.rules[index]
            guard !rule.argsDeny.isEmpty else { continue }
            if appendsUnknownArguments {
                return CommandDecision(
                    verdict: .deny(
                        rule: "\(rule.keyPath).args_deny",
                        reason: "'\(typedName)' (\(executable.canonicalPath)) is given arguments read at run time (xargs), whose values cannot be known, and \(rule.keyPath) restricts arguments with args_deny."),
                    executable: executable, arguments: arguments, parsedCommand: parsed)
            }
            for position in 1..<max(1, argumentSource.count) {
                let argument = argumentSource[position]
                guard argumentSource.isLiteral(position) else {
                    let shown = "'\(typedName)' (\(executable.canonicalPath))"
                    return CommandDecision(
                        verdict: .deny(
                            rule: "\(rule.keyPath).args_deny",
                            reason: "Argument \(position) of command \(shown), '\(argument)', contains a shell expansion, glob or brace expansion whose value cannot be known, and \(rule.keyPath) restricts arguments with args_deny."
                        ),
                        executable: executable, arguments: arguments, parsedCommand: parsed
                    )
                }
                for (patternIndex, pattern) in rule.argsDeny.enumerated() where pattern.matches(argument) {
                    let key = rule.argsDenyKeyPath(patternIndex)
                    let shown = "'\(typedName)' (\(executable.canonicalPath))"
                    return CommandDecision(
                        verdict: .deny(
                            rule: key,
                            reason: "Argument '\(argument)' of command \(shown) matches the denied pattern '\(pattern.pattern)' (\(key)).",
                            remedy: "Remove \"\(pattern.pattern)\" from \(rule.keyPath).args_deny."
                        ),
                        executable: executable, arguments: arguments, parsedCommand: parsed
                    )
                }
            }
        }

        var allowed = CommandDecision(
            verdict: .allow(rule: rules.rules[first].keyPath, reason: allowance.reason),
            executable: executable, arguments: arguments, parsedCommand: parsed
        )
        if let trusting = allowance.indices.first(where: { rules.rules[$0].trustChildren }) {
            allowed.trustedChildrenRule = rules.rules[trusting].keyPath + ".trust_children"
        }
        guard let grammar = CommandWrappers.grammar(named: CommandDenylist.lastComponent(of: executable.canonicalPath)) else {
            return allowed
        }
        // A command that runs another command is decided by the one it runs (issue 14).
        func denied(_ verdict: Verdict) -> CommandDecision {
            CommandDecision(verdict: verdict, executable: executable, arguments: arguments, parsedCommand: parsed)
        }
        guard depth < Self.wrapperDepth else {
            return denied(.deny(
                rule: Self.wrapperRule,
                reason: "'\(typedName)' nests more than \(Self.wrapperDepth) commands that run other commands; the command at the end is not decided, so it is denied."))
        }
        let words = (1..<max(1, argumentSource.count)).map {
            CommandWrappers.Word(argumentSource[$0], isLiteral: argumentSource.isLiteral($0))
        }
        switch CommandWrappers.inner(of: grammar, arguments: words) {
        case .nothing:
            return allowed
        case .unknowable(let why):
            return denied(.deny(
                rule: Self.wrapperRule,
                reason: "'\(typedName)' (\(executable.canonicalPath)) runs another command, and \(why); the command it would run cannot be known from the text, so it is denied.",
                remedy: "Run the command directly (and allow it), without \(grammar.name)."))
        case .commands(let inners):
            for inner in inners {
                let directory = inner.workingDirectory.map { $0.hasPrefix("/") ? $0 : workingDirectory + "/" + $0 } ?? workingDirectory
                let decision = decide(
                    typedName: inner.argv[0].value, extraName: nil, arguments: .list(inner.argv),
                    searchPath: inner.searchPath ?? searchPath, workingDirectory: directory, searchesPath: true,
                    depth: depth + 1, appendsUnknownArguments: inner.appendsUnknownArguments)
                if !decision.isAllowed {
                    var verdict = decision.verdict
                    verdict.reason = "\(grammar.name) runs '\(inner.argv.map(\.value).joined(separator: " "))': " + verdict.reason
                    return denied(verdict)
                }
            }
            return allowed
        }
    }

    /// The rule named when a command that runs another command cannot be decided by it.
    public static let wrapperRule = "builtin:wrapped-command"
    /// The deepest chain of wrappers followed (`env nice timeout stdbuf … cmd`).
    static let wrapperDepth = 8

    /// A sentence turned into a clause that follows a colon.
    private static func clause(_ sentence: String) -> String {
        withFirstLetter(of: sentence, uppercased: false)
    }

    private static func lastComponentDiffers(_ base: Substring, _ entry: String) -> Bool {
        CommandDenylist.folded(base) != entry
    }
}
