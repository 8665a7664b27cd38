// The launch path's command-line scanner: `sentinel-isolate --workspace ws -- python3 app.py`
// read without ArgumentParser.
//
// Why: ArgumentParser builds its model of the command by reflection (`Mirror`, generic metadata
// from mangled names, protocol-conformance scans) on every run. That was 5.3 ms of a 30 ms
// sandbox launch (docs/PERFORMANCE.md). The scanner accepts only the plain spellings of the
// options `IsolateCommand` declares; anything else (help, a misspelt option, a value that does not
// parse, a repeated single-valued option) returns nil, and ArgumentParser then parses the line as
// it always did, with its own messages. So the scanner can make a run faster but never changes
// what a command line means; a test checks it against ArgumentParser for every option.

extension IsolateCommand {
    /// The defaults of the options that have one, shared by the `@Option` declarations and the
    /// scanner.
    enum Defaults {
        static let workspace = "./sandbox-workspace"
        static let policy = "./sentinel.yaml"
        static let network = "none"
        static let seccomp = "./seccomp/sentinel-seccomp.json"
        static let image = "sentinel-guard:local"
    }

    /// What an option takes.
    enum ScannedKind: Sendable {
        /// No value (`--dry-run`).
        case flag
        /// One value, at most once (`--workspace ws`, `--workspace=ws`).
        case single
        /// One value per use, repeatable (`--env NAME`).
        case list
    }

    /// Every long option of `IsolateCommand`, by name without the dashes.
    static let scannedOptions: [String: ScannedKind] = [
        "workspace": .single, "policy": .single, "network": .single, "proxy-socket": .single,
        "proxy-hosts-file": .single, "proxy": .single, "no-proxy": .single, "enforce-proxy": .flag,
        "seccomp-profile": .single, "seccomp": .single, "seccomp-mode": .single, "image": .single,
        "build-if-missing": .flag, "base-image": .single, "dry-run": .flag, "guard": .flag, "no-guard": .flag,
        "backend": .single, "pids-limit": .single, "memory": .single, "cpus": .single, "env": .list,
        "bind": .list, "ro-bind": .list, "block": .list, "audit-log": .single, "json-status": .flag,
        "json-status-file": .single, "require-landlock": .flag, "seccomp-suggest": .single, "ca-dir": .single,
        "upstream-ca": .single,
    ]

    /// The command for `arguments` (the command line without the program name), or nil when the
    /// line needs ArgumentParser.
    static func scanned(_ arguments: [String]) -> IsolateCommand? {
        var singles: [String: String] = [:]
        var lists: [String: [String]] = [:]
        var flags: Set<String> = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            // The first word that is not an option starts the command (ArgumentParser's
            // captureForPassthrough keeps it verbatim, `--` included).
            guard token.hasPrefix("-"), token != "--" else { break }
            guard token.hasPrefix("--") else { return nil }  // -h and other short spellings
            var name = token.dropFirst(2)
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = name[..<equals]
            }
            guard let kind = scannedOptions[String(name)] else { return nil }
            index += 1
            if kind == .flag {
                guard value == nil, flags.insert(String(name)).inserted else { return nil }
                continue
            }
            if value == nil {
                // A missing value, or one that looks like an option: ArgumentParser's message.
                guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
                value = arguments[index]
                index += 1
            }
            guard let value, !value.isEmpty else { return nil }
            if kind == .list {
                lists[String(name), default: []].append(value)
            } else {
                guard singles.updateValue(value, forKey: String(name)) == nil else { return nil }
            }
        }

        var command = IsolateCommand()
        command.workspace = singles["workspace"] ?? Defaults.workspace
        command.policy = singles["policy"] ?? Defaults.policy
        command.network = singles["network"] ?? Defaults.network
        command.proxySocket = singles["proxy-socket"]
        command.proxyHostsFile = singles["proxy-hosts-file"]
        command.caDir = singles["ca-dir"]
        command.upstreamCA = singles["upstream-ca"]
        command.proxy = singles["proxy"]
        command.noProxy = singles["no-proxy"]
        command.enforceProxy = flags.contains("enforce-proxy")
        command.seccompProfile = singles["seccomp-profile"]
        command.seccomp = singles["seccomp"] ?? Defaults.seccomp
        command.seccompMode = singles["seccomp-mode"]
        command.image = singles["image"] ?? Defaults.image
        command.buildIfMissing = flags.contains("build-if-missing")
        command.baseImage = singles["base-image"]
        command.dryRun = flags.contains("dry-run")
        command.guard = flags.contains("guard")
        command.noGuard = flags.contains("no-guard")
        command.backend = singles["backend"]
        command.pidsLimit = nil
        if let text = singles["pids-limit"] {
            guard let number = Int(text) else { return nil }
            command.pidsLimit = number
        }
        command.memory = singles["memory"]
        command.cpus = nil
        if let text = singles["cpus"] {
            guard let number = Double(text) else { return nil }
            command.cpus = number
        }
        command.environment = lists["env"] ?? []
        command.binds = lists["bind"] ?? []
        command.readOnlyBinds = lists["ro-bind"] ?? []
        command.blocked = lists["block"] ?? []
        command.auditLog = singles["audit-log"]
        command.jsonStatus = flags.contains("json-status")
        command.jsonStatusFile = singles["json-status-file"]
        command.requireLandlock = flags.contains("require-landlock")
        command.seccompSuggest = singles["seccomp-suggest"]
        command.command = Array(arguments[index...])
        return command
    }
}
