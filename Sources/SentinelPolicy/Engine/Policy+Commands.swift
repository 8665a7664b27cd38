extension Policy {
    /// Decides a command line given as text, as a shell would read it.
    ///
    /// The decision carries, for an allow, the executable that was checked: run exactly that
    /// (`CommandDecision.executable`), and pass the text to `/bin/sh -c` only when
    /// `requiresShell` says the words hold expansions.
    ///
    /// - Parameters:
    ///   - commandLine: the text.
    ///   - workingDirectory: the working directory of the process that would run it (default: the
    ///     policy's base directory).
    ///   - searchPath: that process's `PATH` (default: the policy's search path).
    public func checkCommand(_ commandLine: String, workingDirectory: String? = nil, searchPath: String? = nil) -> CommandDecision {
        commandEvaluator.evaluate(
            shellCommand: commandLine, searchPath: searchPath ?? context.searchPath,
            workingDirectory: workingDirectory ?? context.baseDirectory
        )
    }

    /// Decides an argument vector, optionally with the file that is really executed when it is
    /// not `argv[0]` (`execv`'s path; `subprocess`'s `executable=`): that file is what is checked.
    ///
    /// - Parameters:
    ///   - argv: the arguments, `argv[0]` first.
    ///   - executable: the file executed, when it differs from `argv[0]`.
    ///   - searchesPath: whether a name without `/` is looked up in `PATH` (`execvp`) or taken
    ///     relative to the working directory (`execv`).
    ///   - workingDirectory: the working directory of the process (default: the base directory).
    ///   - searchPath: its `PATH` (default: the policy's search path).
    public func checkExec(
        _ argv: [String], executable: String? = nil, searchesPath: Bool = true,
        workingDirectory: String? = nil, searchPath: String? = nil
    ) -> CommandDecision {
        commandEvaluator.evaluate(
            argv: argv, executable: executable, searchesPath: searchesPath,
            searchPath: searchPath ?? context.searchPath, workingDirectory: workingDirectory ?? context.baseDirectory
        )
    }

    /// Decides an argument vector for an executable the caller has already opened and identified
    /// (see ``CommandEvaluator/evaluate(argv:typedName:resolved:)``): no lookup, no cache.
    public func checkExec(_ argv: [String], typedName: String, resolved: ResolvedExecutable) -> CommandDecision {
        commandEvaluator.evaluate(argv: argv, typedName: typedName, resolved: resolved)
    }
}

extension CommandRules {
    /// Compiles `allowed_commands` and `blocked_command_bases` for a context, turning rule errors
    /// into policy errors at the entry's position.
    static func compile(_ document: PolicyDocument, context: PolicyContext) throws(PolicyError) -> CommandRules {
        var rules: [CommandRule] = []
        for entry in document.allowedCommands {
            do {
                rules.append(try CommandRule(
                    command: entry.command, argsDeny: entry.argsDeny.map(\.value), keyPath: entry.keyPath,
                    searchPath: context.searchPath, workingDirectory: context.baseDirectory, homeDirectory: context.homeDirectory,
                    trustChildren: entry.trustChildren, allowInterpreter: entry.allowInterpreter
                ))
            } catch {
                let location = entry.argsDeny.first(where: { $0.keyPath == error.keyPath })?.location ?? entry.location
                throw PolicyError(.invalidValue, error.description, at: location, keyPath: error.keyPath)
            }
        }
        let denylist: CommandDenylist
        do {
            denylist = try CommandDenylist(blockedCommandBases: document.blockedCommandBases.map(\.value), searchPath: context.searchPath)
        } catch {
            let location = document.blockedCommandBases.first(where: { $0.keyPath == error.keyPath })?.location
            throw PolicyError(.invalidValue, error.description, at: location, keyPath: error.keyPath)
        }
        return CommandRules(rules: rules, denylist: denylist)
    }
}
