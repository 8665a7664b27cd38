import Foundation
import SentinelPolicy
import Testing

/// The policy most tests use: `ls` and `echo` by name, `id` by path.
private func standardEvaluator() throws -> CommandEvaluator {
    try makeEvaluator([("ls", []), ("echo", []), ("/usr/bin/id", [])])
}

@Suite("Command evaluation")
struct CommandEvaluatorTests {
    // MARK: - §12.1 items 1 and 2: the shell text

    /// Each starts with an allowed command; the original allowed every one of them.
    @Test("The original's shell bypasses are denied as shell syntax", arguments: [
        ("echo hi\nid", "newline"), ("echo hi\r\nid", "carriage return"), ("echo hi |& id", "'|&'"),
        ("ls &> f", "'&>'"), ("echo x >| f", "'>|'"), ("ls <> f", "'<>'"), ("echo x >&2", "'>&2'"),
        ("ls 2>&1", "'2>&1'"), ("echo a ;| id", "';|'"), ("ls; id", "';'"), ("ls && id", "'&&'"),
        ("ls || id", "'||'"), ("ls | id", "'|'"), ("ls & id", "'&'"), ("ls > /tmp/x", "'>'"),
        ("ls >> /tmp/x", "'>>'"), ("ls < /etc/passwd", "'<'"), ("ls << EOF", "'<<'"), ("ls <<< x", "'<<<'"),
        ("echo $(id)", "'$('"), ("echo `id`", "backquote"), ("echo \"$(id)\"", "'$('"), ("echo $((1))", "'$(('"),
        ("ls <(id)", "'<('"), ("ls >(id)", "'>('"), ("(id)", "'('"), ("ls \\\nid", "backslash-newline"),
    ])
    func shellBypass(_ text: String, _ named: String) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:shell-syntax")
        #expect(decision.verdict.reason.hasPrefix("Complex shell chaining/redirection/substitution is not allowed: "))
        #expect(decision.verdict.reason.contains(named))
        #expect(decision.verdict.remedy == nil)
        #expect(decision.executable == nil)
    }

    @Test("Expansions in the command name, assignments and reserved words are denied", arguments: [
        "${IFS}ls", "$0 -c id", "{ls,-la}", "~/ls", "l${IFS}s", "/usr/bin/l?", "LD_PRELOAD=/x.so ls", "PATH=. ls",
        "if ls", "! ls", "{ ls; }", "eval ls", "exec ls", "command ls",
    ])
    func dynamicOrSyntax(_ text: String) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:shell-syntax")
    }

    @Test("Malformed and empty strings keep the original's messages", arguments: [
        ("echo 'x", "Malformed command string: "), ("", "Command is required: "), ("ls \u{0}", "Malformed command string: "),
    ])
    func malformed(_ text: String, _ prefix: String) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.verdict.rule == "builtin:shell-syntax")
        #expect(decision.verdict.reason.hasPrefix(prefix))
    }

    // MARK: - §12.1 item 3: what runs, not what argv[0] says

    @Test("An explicit executable is what is checked, not argv[0]")
    func explicitExecutable() throws {
        let evaluator = try standardEvaluator()
        // subprocess.run(["echo", "-c", "id"], executable="/bin/sh")
        let shell = evaluator.evaluate(argv: ["echo", "-c", "id"], executable: "/bin/sh", searchPath: standardPath, workingDirectory: "/")
        #expect(!shell.isAllowed)
        #expect(shell.verdict.rule == "builtin:interpreter-denylist")
        #expect(shell.verdict.reason == "Command '/bin/sh' is blocked by fail-safe policy.")
        #expect(shell.verdict.remedy == nil)

        // os.execv("/usr/bin/whoami", ["echo", ...]): not an interpreter, but not allowed either.
        let other = evaluator.evaluate(argv: ["echo", "hi"], executable: "/usr/bin/whoami", searchesPath: false,
                                       searchPath: standardPath, workingDirectory: "/")
        #expect(!other.isAllowed)
        #expect(other.verdict.rule == "default:allowed_commands")
        #expect(other.verdict.reason.hasPrefix("Command '/usr/bin/whoami' is not allowed."))

        // The same argv without an explicit executable is echo, and allowed.
        let plain = evaluator.evaluate(argv: ["echo", "hi"], searchPath: standardPath, workingDirectory: "/")
        #expect(plain.isAllowed)
        #expect(plain.executable?.canonicalPath == canonical("/usr/bin/echo"))
    }

    @Test("An allowed executable under an interpreter's argv[0] is denied (multi-call binaries)")
    func interpreterArgvZero() throws {
        let decision = try standardEvaluator().evaluate(argv: ["sh", "-c", "id"], executable: "/usr/bin/ls",
                                                        searchPath: standardPath, workingDirectory: "/")
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.verdict.reason.contains("argv[0] 'sh'"))
    }

    @Test("A symlink named like an allowed command but pointing to a shell is the shell")
    func symlinkToShell() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let link = try scratch.symlink("echo", to: "/bin/sh")
        let evaluator = try makeEvaluator([("echo", []), (link, [])])
        let decision = evaluator.evaluate(argv: ["echo", "-c", "id"], executable: link, searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.executable?.canonicalPath == canonical("/bin/sh"))
        #expect(evaluator.rules.warnings.contains { $0.keyPath == "allowed_commands[1]" })
    }

    @Test("execv without PATH search takes a bare name in the working directory")
    func execvBareName() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("ls")
        let decision = try standardEvaluator().evaluate(argv: ["ls"], searchesPath: false, searchPath: standardPath,
                                                         workingDirectory: scratch.path)
        #expect(!decision.isAllowed)
        #expect(decision.executable?.canonicalPath == scratch.url("ls"))
    }

    @Test("Argument vectors that cannot be executed as given are denied", arguments: [
        ([String](), nil as String?), ([""], nil), (["ls", "a\u{0}b"], nil), (["ls"], "/usr/bin/ls\u{0}x"),
    ])
    func malformedArgv(_ argv: [String], _ executable: String?) throws {
        let decision = try standardEvaluator().evaluate(argv: argv, executable: executable, searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:malformed-command")
    }

    // MARK: - Resolution

    @Test("ls, /bin/ls and /usr/bin/ls are allowed by the same entry", arguments: ["ls -la /tmp", "/bin/ls", "/usr/bin/ls -l", "\"/usr/bin/ls\""])
    func sameRule(_ text: String) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.isAllowed)
        #expect(decision.verdict.rule == "allowed_commands[0]")
        #expect(decision.executable?.canonicalPath == canonical("/usr/bin/ls"))
        #expect(decision.requiresShell == false)
    }

    @Test("A path entry allows its file under any spelling", arguments: ["id", "/usr/bin/id", "/bin/id"])
    func pathRule(_ text: String) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.isAllowed)
        #expect(decision.verdict.rule == "allowed_commands[2]")
    }

    @Test("./ls planted in the working directory is not ls")
    func plantedRelative() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.copy("/usr/bin/ls", as: "ls")
        let decision = try standardEvaluator().evaluate(shellCommand: "./ls", searchPath: standardPath, workingDirectory: scratch.path)
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "default:allowed_commands")
        #expect(decision.verdict.reason.contains(scratch.url("ls")))
        #expect(decision.verdict.remedy == "Add \"\(scratch.url("ls"))\" to allowed_commands.")
    }

    @Test("A PATH with an empty component finds the planted ls first, and it is denied", arguments: [":/usr/bin", ".:/usr/bin", "/usr/bin::"])
    func plantedOnPath(_ searchPath: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.copy("/usr/bin/ls", as: "ls")
        let decision = try standardEvaluator().evaluate(shellCommand: "ls", searchPath: searchPath, workingDirectory: scratch.path)
        if searchPath.hasPrefix("/usr/bin") {
            #expect(decision.isAllowed, "the real ls comes first")
        } else {
            #expect(!decision.isAllowed)
            #expect(decision.verdict.reason.contains("not what allowed_commands[0] allows"))
        }
    }

    @Test("A rule bound at compile time ignores relative PATH components")
    func compileIgnoresRelativePath() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("mytool")
        let rules = try compileRules([("mytool", [])], searchPath: ".:" + standardPath, workingDirectory: scratch.path)
        #expect(rules.rules[0].executables.isEmpty)
        #expect(rules.warnings.first?.keyPath == "allowed_commands[0]")
    }

    @Test("A non-executable file is denied by resolution")
    func nonExecutable() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let file = try scratch.script("tool", mode: 0o644)
        let evaluator = try makeEvaluator([(file, [])])
        let decision = evaluator.evaluate(shellCommand: "./tool", searchPath: standardPath, workingDirectory: scratch.path)
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:executable-resolution")
        #expect(decision.verdict.reason.contains("execute permission"))
        #expect(evaluator.rules.warnings.contains { $0.keyPath == "allowed_commands[0]" })
    }

    @Test("An unknown command is denied by resolution, with no remedy")
    func notFound() throws {
        let decision = try standardEvaluator().evaluate(shellCommand: "no-such-command-xyz --x", searchPath: standardPath, workingDirectory: "/")
        #expect(decision.verdict.rule == "builtin:executable-resolution")
        #expect(decision.verdict.remedy == nil)
    }

    @Test("A command outside the allowlist is denied with the YAML change that would allow it")
    func notAllowed() throws {
        let decision = try standardEvaluator().evaluate(shellCommand: "whoami", searchPath: standardPath, workingDirectory: "/")
        #expect(decision.verdict.rule == "default:allowed_commands")
        #expect(decision.verdict.reason == "Command 'whoami' is not allowed.")
        #expect(decision.verdict.remedy == "Add \"whoami\" to allowed_commands.")
        #expect(decision.executable?.canonicalPath == canonical("/usr/bin/whoami"))
    }

    // MARK: - Denylist

    @Test("Interpreters are denied before the allowlist, even when allowlisted", arguments: [
        "python3", "python3.11 -c 1", "/usr/bin/python3", "sh -c id", "/bin/sh", "bash", "dash", "perl5.36.0 -e 1",
        "node20", "pwsh-7", "busybox sh", "ksh93", "PYTHON3",
    ])
    func interpreters(_ text: String) throws {
        let evaluator = try makeEvaluator([("ls", []), ("python3", []), ("sh", []), ("bash", []), ("busybox", [])])
        let decision = evaluator.evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.verdict.reason.hasPrefix("Command '\(text.split(separator: " ")[0])' is blocked by fail-safe policy"))
        #expect(decision.verdict.remedy == nil)
    }

    @Test("A symlink under another name to a versioned interpreter is denied by its canonical name")
    func symlinkToVersionedInterpreter() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let real = try scratch.script("python3.42")
        let link = try scratch.symlink("formatter", to: real)
        let evaluator = try makeEvaluator([(link, [])])
        let decision = evaluator.evaluate(shellCommand: "./formatter", searchPath: standardPath, workingDirectory: scratch.path)
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.verdict.reason.contains("python3.42"))
        #expect(decision.executable?.canonicalPath == real)
    }

    @Test("sh resolves to dash and is denied whichever name matched")
    func shIsDash() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let link = try scratch.symlink("innocent", to: "/bin/sh")
        let evaluator = try makeEvaluator([(link, [])])
        let decision = evaluator.evaluate(argv: ["innocent", "-c", "id"], searchPath: scratch.path, workingDirectory: "/")
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.executable?.canonicalPath == canonical("/bin/sh"))
    }

    @Test("A hard link to an interpreter under an innocent name is denied by identity")
    func hardLinkedInterpreter() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bin = try scratch.directory("bin")
        let interpreter = try scratch.script("bin/ruby3.9")
        let disguised = try scratch.hardLink("lint", to: interpreter)
        let evaluator = try makeEvaluator([(disguised, [])], searchPath: bin + ":" + standardPath)
        let decision = evaluator.evaluate(shellCommand: disguised, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.verdict.rule == "builtin:interpreter-denylist")
        #expect(decision.verdict.reason.contains("same file"))
    }

    @Test("blocked_command_bases denies before the allowlist and names its entry")
    func blockedBase() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bin = try scratch.directory("bin")
        try scratch.script("bin/fetcher")
        let evaluator = try makeEvaluator([("fetcher", []), ("ls", [])], blocked: ["ls-not", "fetcher"], searchPath: bin)
        let decision = evaluator.evaluate(shellCommand: "fetcher https://example.invalid", searchPath: bin, workingDirectory: "/")
        #expect(decision.verdict.rule == "blocked_command_bases[1]")
        #expect(decision.verdict.reason == "Command 'fetcher' is blocked by fail-safe policy.")
        #expect(decision.verdict.remedy == "Remove \"fetcher\" from blocked_command_bases.")
    }

    // MARK: - args_deny

    /// A `vcs` tool with `args_deny`; the caller removes the scratch directory.
    private func gitLike() throws -> (ScratchDirectory, CommandEvaluator, String) {
        let scratch = try ScratchDirectory()
        let bin = try scratch.directory("bin")
        try scratch.script("bin/vcs")
        let evaluator = try makeEvaluator([("ls", []), ("vcs", ["push", "--upload-pack*", "-[cC]"])], searchPath: bin)
        return (scratch, evaluator, bin)
    }

    @Test("args_deny denies a matching argument, naming the pattern", arguments: [
        ("vcs push", 0, "push"), ("vcs fetch --upload-pack=/tmp/x", 1, "--upload-pack=/tmp/x"),
        ("vcs \"pu\"sh origin", 0, "push"), ("vcs p\\ush", 0, "push"), ("vcs -C /tmp status", 2, "-C"),
    ])
    func argsDeny(_ text: String, _ pattern: Int, _ argument: String) throws {
        let (scratch, evaluator, bin) = try gitLike()
        defer { scratch.remove() }
        let decision = evaluator.evaluate(shellCommand: text, searchPath: bin, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "allowed_commands[1].args_deny[\(pattern)]")
        #expect(decision.verdict.reason.contains("'\(argument)'"))
        #expect(decision.verdict.remedy?.hasPrefix("Remove \"") == true)
    }

    @Test("args_deny cannot see through expansions, so it denies them", arguments: [
        "vcs $CMD", "vcs \"$CMD\"", "vcs p*", "vcs {pu,}sh", "vcs ~/x", "vcs ${X:-push}",
    ])
    func argsDenyExpansion(_ text: String) throws {
        let (scratch, evaluator, bin) = try gitLike()
        defer { scratch.remove() }
        let decision = evaluator.evaluate(shellCommand: text, searchPath: bin, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "allowed_commands[1].args_deny")
    }

    @Test("args_deny lets other arguments through, and never looks at argv[0]", arguments: [
        "vcs status", "vcs pushy", "vcs 'push origin'", "vcs -x", "vcs --upload", "vcs",
    ])
    func argsDenyAllows(_ text: String) throws {
        let (scratch, evaluator, bin) = try gitLike()
        defer { scratch.remove() }
        let decision = evaluator.evaluate(shellCommand: text, searchPath: bin, workingDirectory: "/")
        #expect(decision.isAllowed, "\(decision.verdict)")
        #expect(decision.verdict.rule == "allowed_commands[1]")
    }

    @Test("args_deny applies to argument vectors too")
    func argsDenyArgv() throws {
        let (scratch, evaluator, bin) = try gitLike()
        defer { scratch.remove() }
        #expect(!evaluator.evaluate(argv: ["vcs", "push"], searchPath: bin, workingDirectory: "/").isAllowed)
        #expect(evaluator.evaluate(argv: ["vcs", "$CMD"], searchPath: bin, workingDirectory: "/").isAllowed,
                "an argv word is literal: '$CMD' is the argument itself")
    }

    @Test("When two entries allow the same file, a deny in either wins")
    func denyWins() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bin = try scratch.directory("bin")
        let tool = try scratch.script("bin/vcs")
        let evaluator = try makeEvaluator([("vcs", []), (tool, ["push"])], searchPath: bin)
        let decision = evaluator.evaluate(shellCommand: "vcs push", searchPath: bin, workingDirectory: "/")
        #expect(decision.verdict.rule == "allowed_commands[1].args_deny[0]")
        #expect(evaluator.evaluate(shellCommand: "vcs pull", searchPath: bin, workingDirectory: "/").verdict.rule == "allowed_commands[0]")
    }

    // MARK: - Negative controls

    @Test("Ordinary commands are allowed", arguments: [
        ("ls -la /tmp", false), ("echo \"a|b\"", false), ("echo 'x;y'", false), ("echo 'a && b' \"2>&1\"", false),
        ("echo a\\;b", false), ("ls *.txt", true), ("echo $HOME", true), ("echo ~", true), ("echo {a,b}", true),
        ("echo \"multi\nline\"", false), ("echo if", false),
    ])
    func allowed(_ text: String, _ requiresShell: Bool) throws {
        let decision = try standardEvaluator().evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.isAllowed, "\(decision.verdict)")
        #expect(decision.requiresShell == requiresShell)
        #expect(decision.verdict.remedy == nil)
        let executable = try #require(decision.executable)
        #expect(decision.verdict.reason.contains(executable.canonicalPath))
        #expect(decision.parsedCommand?.text == text)
    }

    @Test("With the resolver cache, decisions are the same")
    func cached() throws {
        let rules = try compileRules([("ls", []), ("echo", [])])
        let cached = CommandEvaluator(rules: rules, cache: ExecutableResolverCache())
        let uncached = CommandEvaluator(rules: rules, cache: nil)
        for text in ["ls -la /tmp", "ls -la /tmp", "whoami", "python3", "nope-nope", "echo hi; id"] {
            let a = cached.evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
            let b = uncached.evaluate(shellCommand: text, searchPath: standardPath, workingDirectory: "/")
            #expect(a == b)
        }
        #expect(cached.cache?.statistics.hits == 1)
    }

    // MARK: - Compiling

    @Test("Entries that cannot be compiled are errors with their key path", arguments: [
        (("", [String]()), "allowed_commands[1]", CommandRuleError.Code.invalidCommand),
        (("git push", []), "allowed_commands[1]", .invalidCommand),
        (("git", ["[push"]), "allowed_commands[1].args_deny[0]", .invalidPattern),
        (("~other/bin/x", []), "allowed_commands[1]", .unresolvablePath),
    ])
    func compileErrors(_ entry: (String, [String]), _ keyPath: String, _ code: CommandRuleError.Code) {
        #expect {
            try compileRules([("ls", []), (entry.0, entry.1)])
        } throws: { error in
            guard let error = error as? CommandRuleError else { return false }
            return error.keyPath == keyPath && error.code == code && error.description.hasSuffix(".")
        }
    }

    @Test("An entry with no executable binds nothing, matches nothing, and warns")
    func unbound() throws {
        let evaluator = try makeEvaluator([("no-such-tool-xyz", []), ("/opt/none/tool", []), ("ls", [])])
        #expect(!evaluator.rules.rules[0].isBound)
        #expect(!evaluator.rules.rules[1].isBound)
        #expect(evaluator.rules.warnings.map(\.keyPath) == ["allowed_commands[0]", "allowed_commands[1]"])
        #expect(evaluator.rules.warnings[0].message.contains("allows nothing"))
    }

    @Test("A path entry may use ~ and be relative to the base directory")
    func homeAndRelative() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.directory("bin")
        let tool = try scratch.script("bin/tool")
        let fromHome = try CommandRule(command: "~/bin/tool", keyPath: "allowed_commands[0]", searchPath: standardPath,
                                       workingDirectory: "/", homeDirectory: scratch.path)
        let relative = try CommandRule(command: "./bin/tool", keyPath: "allowed_commands[1]", searchPath: standardPath,
                                       workingDirectory: scratch.path)
        #expect(fromHome.executables.map(\.canonicalPath) == [tool])
        #expect(relative.executables.map(\.canonicalPath) == [tool])
        #expect(fromHome.kind == .path && relative.kind == .path)
    }
}
