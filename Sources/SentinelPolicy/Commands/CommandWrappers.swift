/// Programs whose job is to run another program (`env`, `nice`, `timeout`, `xargs`, `find -exec`,
/// `sudo`, …), and how to find that program in their arguments.
///
/// A command line such as `env python3 -c …` runs `python3`: allowing `env` must not allow
/// whatever it is given (issue 14). `CommandEvaluator` therefore decides a wrapper by the command
/// it runs, with the same rules, after the wrapper itself is allowed. Where the command cannot be
/// known from the text (a shell string: `watch` without `-x`, `flock -c`, `su`, `env -S`; another
/// root or namespace: `chroot`, `nsenter`, `unshare --root`; an option this table does not know,
/// which could take the next word as its value), the wrapper is denied with a sentence that says so.
///
/// Options are read as GNU `getopt_long` reads them with a `+` option string (every wrapper here
/// stops at its first operand): short options may be bundled (`-in`), a short option's value may
/// be attached (`-n10`) or the next word, a long option's value follows `=` or is the next word, a
/// long option may be abbreviated to an unambiguous prefix, and `--` ends the options. Wrappers are recognised by the name of the file that runs (its canonical path's last
/// component), so `/bin/env` and `/usr/bin/env` are both `env`.
public enum CommandWrappers {
    /// A word of a wrapped command line.
    public struct Word: Sendable, Hashable {
        /// The text.
        public var value: String
        /// Whether its value is known from the text (false for a shell expansion, or for find's
        /// `{}`, which stands for each file found).
        public var isLiteral: Bool

        /// Creates a word.
        public init(_ value: String, isLiteral: Bool = true) {
            self.value = value
            self.isLiteral = isLiteral
        }
    }

    /// A command a wrapper runs.
    public struct Inner: Sendable, Hashable {
        /// Its argument vector, `argv[0]` first (the name it is looked up by).
        public var argv: [Word]
        /// Whether the wrapper appends arguments it reads at run time (`xargs`): their values
        /// are unknown.
        public var appendsUnknownArguments: Bool
        /// The `PATH` the wrapper looks the name up in, when it sets one (`env PATH=… cmd`).
        public var searchPath: String?
        /// The directory the wrapper runs it in, when it changes directory (`env -C DIR`).
        public var workingDirectory: String?
    }

    /// What a wrapper's arguments say it runs.
    public enum Outcome: Sendable, Hashable {
        /// Nothing (`env` alone prints the environment, `find` without `-exec`, `command -v`).
        case nothing
        /// These commands (find may run several).
        case commands([Inner])
        /// A command that cannot be known from the text, and why.
        case unknowable(String)
    }

    /// The wrapper a file named `name` is, if any.
    public static func grammar(named name: some StringProtocol) -> Grammar? {
        grammars[String(name)]
    }

    /// How one wrapper reads its arguments.
    public struct Grammar: Sendable {
        /// The wrapper's name.
        public let name: String
        let shortWithValue: Set<Character>
        let shortFlags: Set<Character>
        /// Short options whose value may only be attached (`xargs -i`, `-e`, `-l`).
        let shortOptionalAttached: Set<Character>
        let longWithValue: Set<String>
        let longFlags: Set<String>
        /// Long options whose value may only follow `=`.
        let longOptionalValue: Set<String>
        /// Options after which the command cannot be known, with the reason.
        let unknowableOptions: [String: String]
        /// Options after which nothing is run (`command -v`, `taskset -p`).
        let nothingOptions: Set<String>
        /// Words between the options and the command (`timeout DURATION`, `taskset MASK`).
        let positionalsBeforeCommand: Int
        /// What an absent command means.
        let absentCommand: AbsentCommand
        /// Special argument rules.
        let kind: Kind
        /// Options without which the command cannot be known (`watch` runs `sh -c` unless `-x`),
        /// and why.
        var requiredOptions: (options: Set<String>, reason: String)? = nil
        /// Words that, where the command would be, mean something else (`flock FILE -c STRING`).
        var unknowableCommandWords: [String: String] = [:]

        enum AbsentCommand: Sendable {
            case nothing
            case unknowable(String)
            case runs(String)
        }

        enum Kind: Sendable {
            case plain
            case env
            case xargs
            case find
            /// The command is never known (another root, another user's shell).
            case never(String)
        }
    }

    // MARK: - Reading a command line

    /// What `arguments` (after `argv[0]`, the wrapper) run, read with `grammar`.
    public static func inner(of grammar: Grammar, arguments: [Word]) -> Outcome {
        switch grammar.kind {
        case .never(let reason):
            return .unknowable(reason)
        case .find:
            return findCommands(arguments)
        default:
            break
        }
        var index = 0
        var searchPath: String?
        var workingDirectory: String?
        var runsNothing = false
        var seen: Set<String> = []
        func word(_ position: Int) -> Word? { position < arguments.count ? arguments[position] : nil }

        // Options.
        options: while let current = word(index) {
            guard current.isLiteral else {
                return .unknowable("\(grammar.name)'s argument '\(current.value)' holds an expansion whose value cannot be known")
            }
            let text = current.value
            if text == "--" {
                index += 1
                break options
            }
            if grammar.name == "env", text == "-" {
                index += 1
                continue
            }
            if grammar.name == "nice", text.count > 1, text.hasPrefix("-"), text.dropFirst().allSatisfy({ $0.isNumber || $0 == "+" || $0 == "-" }) {
                index += 1
                continue
            }
            guard text.hasPrefix("-"), text.count > 1 else { break options }
            if text.hasPrefix("--") {
                let body = text.dropFirst(2)
                let name = String(body.prefix { $0 != "=" })
                let hasValue = body.contains("=")
                guard let option = longOption(name, in: grammar) else {
                    return .unknowable("\(grammar.name)'s option --\(name) is not one the guard knows, and it could take the next word as its value")
                }
                if let reason = grammar.unknowableOptions["--" + option] {
                    return .unknowable(reason)
                }
                if grammar.nothingOptions.contains("--" + option) { runsNothing = true }
                seen.insert("--" + option)
                var value: String?
                if grammar.longWithValue.contains(option) {
                    if hasValue {
                        value = String(body.drop { $0 != "=" }.dropFirst())
                    } else {
                        guard let next = word(index + 1) else {
                            return .unknowable("\(grammar.name)'s option --\(option) has no value")
                        }
                        guard next.isLiteral else {
                            return .unknowable("the value of \(grammar.name) --\(option) holds an expansion")
                        }
                        value = next.value
                        index += 1
                    }
                } else if hasValue, !grammar.longOptionalValue.contains(option) {
                    return .unknowable("\(grammar.name)'s option --\(option) takes no value")
                }
                if grammar.name == "env", option == "chdir" { workingDirectory = value }
                index += 1
                continue
            }
            // Short options, possibly bundled.
            var characters = Array(text.dropFirst())
            var position = 0
            while position < characters.count {
                let character = characters[position]
                if let reason = grammar.unknowableOptions["-" + String(character)] {
                    return .unknowable(reason)
                }
                if grammar.nothingOptions.contains("-" + String(character)) { runsNothing = true }
                seen.insert("-" + String(character))
                if grammar.shortWithValue.contains(character) {
                    var value: String
                    if position + 1 < characters.count {
                        value = String(characters[(position + 1)...])
                    } else {
                        guard let next = word(index + 1) else {
                            return .unknowable("\(grammar.name)'s option -\(character) has no value")
                        }
                        guard next.isLiteral else {
                            return .unknowable("the value of \(grammar.name) -\(character) holds an expansion")
                        }
                        value = next.value
                        index += 1
                    }
                    if grammar.name == "env", character == "C" { workingDirectory = value }
                    characters = []
                    break
                }
                if grammar.shortOptionalAttached.contains(character) {
                    characters = []
                    break
                }
                guard grammar.shortFlags.contains(character) || grammar.nothingOptions.contains("-" + String(character)) else {
                    return .unknowable("\(grammar.name)'s option -\(character) is not one the guard knows, and it could take the next word as its value")
                }
                position += 1
            }
            index += 1
        }
        if runsNothing { return .nothing }
        if let required = grammar.requiredOptions, seen.isDisjoint(with: required.options) {
            return .unknowable(required.reason)
        }

        // env: NAME=VALUE assignments before the command; PATH changes where it is looked up.
        if case .env = grammar.kind {
            while let current = word(index), current.value.contains("="), !current.value.hasPrefix("=") {
                guard current.isLiteral else {
                    return .unknowable("env's assignment '\(current.value)' holds an expansion whose value cannot be known")
                }
                let name = current.value.prefix { $0 != "=" }
                if name == "PATH" { searchPath = String(current.value.drop { $0 != "=" }.dropFirst()) }
                index += 1
            }
        }

        // Words before the command.
        for _ in 0..<grammar.positionalsBeforeCommand {
            guard word(index) != nil else {
                return .nothing  // The wrapper fails or prints its usage: nothing runs.
            }
            index += 1
        }

        var argv = Array(arguments[min(index, arguments.count)...])
        if argv.isEmpty {
            switch grammar.absentCommand {
            case .nothing: return .nothing
            case .unknowable(let reason): return .unknowable(reason)
            case .runs(let command): argv = [Word(command)]
            }
        }
        guard argv[0].isLiteral else {
            return .unknowable("the command \(grammar.name) runs, '\(argv[0].value)', holds an expansion whose value cannot be known")
        }
        if let reason = grammar.unknowableCommandWords[argv[0].value] {
            return .unknowable(reason)
        }
        var appends = false
        if case .xargs = grammar.kind { appends = true }
        return .commands([Inner(argv: argv, appendsUnknownArguments: appends, searchPath: searchPath, workingDirectory: workingDirectory)])
    }

    /// The long option `name` stands for: itself, or the one known option it is a prefix of.
    static func longOption(_ name: String, in grammar: Grammar) -> String? {
        let known = grammar.longWithValue.union(grammar.longFlags).union(grammar.longOptionalValue)
            .union(grammar.unknowableOptions.keys.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) })
            .union(grammar.nothingOptions.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2)) })
        if known.contains(name) { return name }
        let candidates = known.filter { $0.hasPrefix(name) }
        return !name.isEmpty && candidates.count == 1 ? candidates.first : nil
    }

    /// find's `-exec`, `-execdir`, `-ok` and `-okdir` clauses: each runs the words up to `;` or
    /// `{} +`, with `{}` standing for each file found.
    static func findCommands(_ arguments: [Word]) -> Outcome {
        var commands: [Inner] = []
        var index = 0
        while index < arguments.count {
            let current = arguments[index]
            guard current.isLiteral else {
                if ["-exec", "-execdir", "-ok", "-okdir"].contains(where: { current.value.contains($0) }) {
                    return .unknowable("find's argument '\(current.value)' holds an expansion that may be an -exec")
                }
                index += 1
                continue
            }
            guard ["-exec", "-execdir", "-ok", "-okdir"].contains(current.value) else {
                index += 1
                continue
            }
            var words: [Word] = []
            var end = index + 1
            var terminated = false
            while end < arguments.count {
                let part = arguments[end]
                if part.isLiteral, part.value == ";" {
                    terminated = true
                    break
                }
                if part.isLiteral, part.value == "+", words.last?.value == "{}" {
                    terminated = true
                    break
                }
                words.append(Word(part.value, isLiteral: part.isLiteral && !part.value.contains("{}")))
                end += 1
            }
            guard terminated, !words.isEmpty else {
                return .unknowable("find's \(current.value) is not ended by ';' or '{} +', so the command it runs is unclear")
            }
            guard words[0].isLiteral else {
                return .unknowable("the command find's \(current.value) runs, '\(words[0].value)', cannot be known from the text")
            }
            commands.append(Inner(argv: words, appendsUnknownArguments: false, searchPath: nil, workingDirectory: nil))
            index = end + 1
        }
        return commands.isEmpty ? .nothing : .commands(commands)
    }

    // MARK: - The table

    static func plain(
        _ name: String, shortValue: String = "", shortFlags: String = "", shortOptional: String = "",
        longValue: [String] = [], longFlags: [String] = [], longOptional: [String] = [],
        unknowable: [String: String] = [:], nothing: [String] = [], positionals: Int = 0,
        absent: Grammar.AbsentCommand = .nothing, kind: Grammar.Kind = .plain
    ) -> Grammar {
        Grammar(
            name: name, shortWithValue: Set(shortValue), shortFlags: Set(shortFlags), shortOptionalAttached: Set(shortOptional),
            longWithValue: Set(longValue), longFlags: Set(longFlags + ["help", "version"]), longOptionalValue: Set(longOptional),
            unknowableOptions: unknowable, nothingOptions: Set(nothing + ["--help", "--version"]),
            positionalsBeforeCommand: positionals, absentCommand: absent, kind: kind)
    }

    static let shellString = "runs its command through a shell (sh -c), whose text the guard does not decide"

    /// GNU coreutils 9.1, util-linux 2.38, findutils 4.9, sudo 1.9, strace 6.1 and procps 4.0
    /// (Debian 12), plus the BSD-style `doas`.
    static let grammars: [String: Grammar] = {
        var table: [String: Grammar] = [:]
        func add(_ grammar: Grammar, aliases: [String] = []) {
            table[grammar.name] = grammar
            for alias in aliases { table[alias] = grammar }
        }
        add(plain(
            "env", shortValue: "uCa", shortFlags: "i0v", longValue: ["unset", "chdir", "argv0"],
            longFlags: ["ignore-environment", "null", "debug"], longOptional: ["default-signal", "ignore-signal", "block-signal", "list-signal-handling"],
            unknowable: ["-S": "env -S splits a string into a command line, which the guard does not decide",
                         "--split-string": "env --split-string splits a string into a command line, which the guard does not decide"],
            kind: .env))
        add(plain("nice", shortValue: "n", longValue: ["adjustment"]))
        add(plain("nohup"))
        add(plain(
            "timeout", shortValue: "ks", shortFlags: "vf", longValue: ["kill-after", "signal"],
            longFlags: ["preserve-status", "foreground", "verbose"], positionals: 1))
        add(plain("stdbuf", shortValue: "ioe", longValue: ["input", "output", "error"]))
        add(plain(
            "xargs", shortValue: "adEILnPs", shortFlags: "0prtxo", shortOptional: "eil",
            longValue: ["arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"],
            longFlags: ["null", "interactive", "no-run-if-empty", "verbose", "exit", "open-tty", "show-limits"],
            longOptional: ["eof", "replace", "max-lines"], absent: .runs("echo"), kind: .xargs))
        add(plain("find", kind: .find))
        add(plain("setsid", shortFlags: "cfw", longFlags: ["ctty", "fork", "wait"]))
        add(plain(
            "setpriv", shortFlags: "d",
            longValue: ["reuid", "regid", "groups", "inh-caps", "ambient-caps", "bounding-set", "securebits", "pdeathsig",
                        "selinux-label", "apparmor-profile", "landlock-access", "landlock-rule", "seccomp-filter", "ruid", "euid",
                        "rgid", "egid"],
            longFlags: ["dump", "nnp", "no-new-privs", "clear-groups", "keep-groups", "init-groups", "reset-env"],
            nothing: ["-d", "--dump"]))
        add(plain("chroot", kind: .never("chroot runs its command from another root, where the guard cannot tell which file it is")))
        add(plain("nsenter", kind: .never("nsenter runs its command in another process's namespaces, where the guard cannot tell which file it is")))
        add(plain(
            "unshare", shortValue: "SGwR", shortFlags: "muinpUCTfrcl", shortOptional: "",
            longValue: ["setuid", "setgid", "wd", "root", "map-user", "map-group", "map-users", "map-groups", "propagation", "setgroups", "load-interp", "monotonic", "boottime"],
            longFlags: ["fork", "map-root-user", "map-current-user", "keep-caps", "map-auto"],
            longOptional: ["mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time", "mount-proc", "mount-binfmt", "kill-child"],
            unknowable: ["-R": "unshare --root runs its command from another root", "--root": "unshare --root runs its command from another root"],
            absent: .unknowable("unshare without a command runs your login shell, an interpreter")))
        var flock = plain(
            "flock", shortValue: "wE", shortFlags: "sxeunoF", longValue: ["wait", "timeout", "conflict-exit-code"],
            longFlags: ["shared", "exclusive", "unlock", "nonblock", "nb", "close", "no-fork", "verbose"], positionals: 1)
        flock.unknowableCommandWords = ["-c": "flock -c " + shellString, "--command": "flock --command " + shellString]
        add(flock)
        var watch = plain(
            "watch", shortValue: "nq", shortFlags: "tbegcxpwr", shortOptional: "d",
            longValue: ["interval", "equexit"], longFlags: ["no-title", "beep", "errexit", "chgexit", "color", "no-color", "exec", "precise", "no-wrap", "no-rerun"],
            longOptional: ["differences"])
        watch.requiredOptions = (["-x", "--exec"], "watch without -x " + shellString)
        add(watch)
        add(plain(
            "time", shortValue: "fo", shortFlags: "apvq", longValue: ["format", "output"],
            longFlags: ["append", "portability", "verbose", "quiet"]))
        add(plain("command", shortFlags: "p", nothing: ["-v", "-V"]))
        add(plain(
            "sudo", shortValue: "ugCDhprtTUR", shortFlags: "AbEHKklnPSVv", longValue: ["user", "group", "close-from", "chdir", "host", "prompt", "role", "type", "command-timeout", "other-user", "chroot"],
            longFlags: ["askpass", "background", "preserve-env", "set-home", "remove-timestamp", "reset-timestamp", "non-interactive", "preserve-groups", "stdin", "validate", "list"],
            longOptional: ["preserve-env"],
            unknowable: ["-s": "sudo -s runs a shell", "--shell": "sudo --shell runs a shell", "-i": "sudo -i runs a login shell",
                         "--login": "sudo --login runs a login shell", "-e": "sudo -e runs an editor", "--edit": "sudo --edit runs an editor",
                         "-R": "sudo --chroot runs its command from another root", "--chroot": "sudo --chroot runs its command from another root"],
            nothing: ["-l", "--list", "-v", "--validate", "-k", "-K", "--reset-timestamp", "--remove-timestamp", "-V"],
            absent: .nothing))
        add(plain("doas", shortValue: "aCu", shortFlags: "nS", unknowable: ["-s": "doas -s runs a shell"]))
        add(plain("pkexec", longValue: ["user"], longFlags: ["disable-internal-agent", "keep-cwd"],
                  absent: .unknowable("pkexec without a command runs a shell")))
        for name in ["su", "runuser", "sg", "newgrp"] {
            add(plain(name, kind: .never("\(name) runs a login shell or a shell command string, which the guard does not decide")))
        }
        add(plain("script", kind: .never("script runs a shell, or its -c string through a shell")))
        add(plain("systemd-run", kind: .never("systemd-run hands its command to the service manager, outside the guard")))
        add(plain("parallel", kind: .never("parallel " + shellString)))
        add(plain(
            "strace", shortValue: "eopsuEabIOSXPU", shortFlags: "cCdDfFhiqrtTvVwxyzZkn",
            longValue: ["expr", "output", "attach", "string-limit", "user", "env", "columns", "detach-on", "interruptible", "summary-sort-by", "const-print-style", "trace-path", "summary-columns"],
            longFlags: ["summary-only", "summary", "debug", "daemonize", "follow-forks", "output-separately", "instruction-pointer", "quiet", "relative-timestamps", "absolute-timestamps", "syscall-times", "no-abbrev", "summary-wall-clock", "decode-fds", "decode-pids", "stack-trace", "seccomp-bpf"],
            nothing: ["-p", "--attach"]))
        add(plain(
            "ltrace", shortValue: "eopsuaAlnDFxX", shortFlags: "bcCfhiLrStTwV",
            longValue: ["output", "library", "indent", "config", "align"], longFlags: ["demangle", "no-signals"],
            nothing: ["-p"]))
        add(plain("ionice", shortValue: "cnPu", shortFlags: "t", longValue: ["class", "classdata", "pgid", "uid"], longFlags: ["ignore"],
                  nothing: ["-p", "--pid"]))
        add(plain("taskset", shortFlags: "ac", longFlags: ["all-tasks", "cpu-list"], nothing: ["-p", "--pid"], positionals: 1))
        add(plain(
            "chrt", shortValue: "TPD", shortFlags: "abdefiorRvm", longValue: ["sched-runtime", "sched-period", "sched-deadline"],
            longFlags: ["all-tasks", "batch", "deadline", "fifo", "idle", "other", "rr", "reset-on-fork", "verbose", "max", "ext"],
            nothing: ["-p", "--pid"], positionals: 1))
        add(plain("numactl", shortValue: "imNCpP", shortFlags: "alsH", longValue: ["interleave", "membind", "cpunodebind", "physcpubind", "preferred", "preferred-many"],
                  longFlags: ["all", "localalloc", "show", "hardware"], nothing: ["-s", "--show", "-H", "--hardware"]))
        add(plain("busybox", kind: .never("busybox runs any of its applets, shells included")))
        return table
    }()
}
