import ArgumentParser
import Foundation
import Glibc
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox
import SentinelSupervisor

/// `sentinel guard [--policy P] -- COMMAND…`: runs COMMAND on the host and puts every exec, file
/// write (and read of a blocked path) and connect of the processes it starts through the policy,
/// approval and audit pipeline. See docs/GUARD.md.
struct GuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard",
        abstract: "Run a command with every exec, file write and connect it makes checked against the policy.",
        discussion: """
            The command itself is trusted; every program it starts, every file it opens for writing (and every \
            read of a blocked_paths entry) and every network connect is decided by the policy, escalated to a \
            person when the policy says no (approval.mode, SENTINEL_APPROVAL_MODE), and recorded in the audit \
            log. A refused call fails with EACCES. This is a guardrail, not a sandbox: see docs/GUARD.md for what \
            stays bypassable, and use `sentinel isolate` for untrusted code.

            \(ApprovalAnswer.helpParagraph)

            Every record carries the run's id: SENTINEL_RUN_ID when set (1 to 64 of 0-9, a-f and -), else a new \
            one, which is then printed on stderr with the log before the command starts.
            """
    )

    @Option(name: .long, help: "The policy file (default: ./sentinel.yaml; builtin:default for the built-in policy).")
    var policy: String?

    @Option(name: .customLong("audit-log"), help: "Where decisions are recorded (default: the policy's audit.path).")
    var auditLog: String?

    @Option(name: .customLong("allow-connect"), help: ArgumentHelp(
        "Let the command connect to ADDRESS:PORT (an IP address, [v6]:port for IPv6) whatever the policy says; recorded with rule guard:trusted-endpoint. For the policy proxy of a proxied container.",
        valueName: "address:port"))
    var allowConnect: [String] = []

    @Option(name: .customLong("policy-directory"), help: ArgumentHelp(
        "Read the policy's relative paths against DIR (the operator's directory on the host) instead of the working "
            + "directory. Inside a sandbox, with --policy-map.",
        valueName: "dir"))
    var policyDirectory: String?

    @Option(name: .customLong("policy-home"), help: ArgumentHelp(
        "Read the policy's ~ as DIR (the operator's home on the host). Inside a sandbox, with --policy-map.", valueName: "dir"))
    var policyHome: String?

    @Option(name: .customLong("policy-map"), help: ArgumentHelp(
        "A policy path under HOST means the same path under INSIDE (the host workspace and /workspace in a sandbox); repeatable.",
        valueName: "host=inside"))
    var policyMap: [String] = []

    @Flag(name: .customLong("no-landlock"), help: "Do not apply the file rules a second time with Landlock.")
    var noLandlock = false

    @Flag(name: .long, help: "Do not print the summary line when the command ends, and do not tell a refused program why on its standard error (the line naming the run's records is still printed, on stderr).")
    var quiet = false

    @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
    var command: [String] = []

    func run() async throws {
        // Passthrough parsing captures `--help` as the command; before `--` it is ours.
        if let first = command.first, first == "--help" || first == "-h" {
            print(SentinelCommand.helpMessage(for: Self.self))
            return
        }
        // Passthrough parsing also captures an unknown option as the command's name.
        if let first = command.first, first.hasPrefix("-"), first != "--" {
            GuardOptions.standardError("sentinel guard: unknown option \(first). Usage: sentinel guard [--policy P] [--audit-log L] [--allow-connect A] [--no-landlock] [--quiet] -- COMMAND [ARG...]")
            throw ExitCode(2)
        }
        let invocation = GuardInvocation(
            policy: policy, auditLog: auditLog, allowConnect: allowConnect, policyDirectory: policyDirectory,
            policyHome: policyHome, policyMap: policyMap, noLandlock: noLandlock, quiet: quiet,
            command: command.first == "--" ? Array(command.dropFirst()) : command)
        try await invocation.run()
    }

    /// `ADDRESS:PORT` or `[IPV6]:PORT` with a literal address, else nil.
    static func endpoint(_ text: String) -> IPEndpoint? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard let address = IPAddress(strict: String(host)), let port = UInt16(portText), port > 0 else { return nil }
        return IPEndpoint(address: address, port: port)
    }
}

/// One `sentinel guard` run, from ArgumentParser or from ``scan(_:)``: the start-up path of a
/// guarded command is what its users wait for, and ArgumentParser's reflection was a fifth of it
/// (perf, 2026-11-23: conformance lookups and generic metadata for the command's properties).
struct GuardInvocation: Sendable {
    var policy: String?
    var auditLog: String?
    var allowConnect: [String] = []
    /// `--policy-directory`, `--policy-home`, `--policy-map`: the policy's paths read as on the
    /// host (``PathTranslation``), for the guard inside a sandbox.
    var policyDirectory: String?
    var policyHome: String?
    var policyMap: [String] = []
    var noLandlock = false
    var quiet = false
    /// The command, without the `--` before it.
    var command: [String]

    /// Reads `[--policy P] [--audit-log L] [--allow-connect A]... [--no-landlock] [--quiet] -- COMMAND...`
    /// (options as `--name value` or `--name=value`). Anything else (help, an unknown or
    /// incomplete option, no `--`) returns nil, and ArgumentParser then parses the line and
    /// explains what is wrong, so both paths accept exactly the same lines.
    static func scan(_ arguments: some Collection<String>) -> GuardInvocation? {
        var invocation = GuardInvocation(command: [])
        var index = arguments.startIndex
        while index != arguments.endIndex {
            let argument = arguments[index]
            index = arguments.index(after: index)
            if argument == "--" {
                invocation.command = Array(arguments[index...])
                return invocation
            }
            switch argument {
            case "--no-landlock": invocation.noLandlock = true; continue
            case "--quiet": invocation.quiet = true; continue
            default: break
            }
            let name: Substring
            let value: String
            if let equals = argument.firstIndex(of: "=") {
                name = argument[..<equals]
                value = String(argument[argument.index(after: equals)...])
            } else {
                guard index != arguments.endIndex else { return nil }
                name = Substring(argument)
                value = arguments[index]
                index = arguments.index(after: index)
            }
            switch name {
            case "--policy": invocation.policy = value
            case "--audit-log": invocation.auditLog = value
            case "--allow-connect": invocation.allowConnect.append(value)
            case "--policy-directory": invocation.policyDirectory = value
            case "--policy-home": invocation.policyHome = value
            case "--policy-map": invocation.policyMap.append(value)
            default: return nil
            }
        }
        return nil
    }

    func run() async throws {
        let argv = command
        let say = GuardOptions.standardError
        var trusted: Set<IPEndpoint> = []
        for text in allowConnect {
            guard let endpoint = GuardCommand.endpoint(text) else {
                say("sentinel guard: --allow-connect \(text): expected ADDRESS:PORT with an IP address and a port 1-65535 (e.g. 172.18.0.2:3128 or [fd00::2]:3128); nothing was run.")
                throw ExitCode(2)
            }
            trusted.insert(endpoint)
        }
        guard !argv.isEmpty else {
            say("sentinel guard: no command was given. Usage: sentinel guard [--policy P] -- COMMAND [ARG...]")
            throw ExitCode(2)
        }
        let environment = ProcessInfo.processInfo.environment
        // The run's id: the launcher's (SENTINEL_RUN_ID) when a sandbox or a script started this
        // guard, else a new one; a value that is not an id stops the run rather than being replaced.
        let run: (id: AuditRunID, inherited: Bool)
        do {
            run = try AuditRunID.resolve(environment)
        } catch {
            say("sentinel guard: \(error) Nothing was run.")
            throw ExitCode(2)
        }
        // Production (docs/POLICY.md): Landlock stays on. Without it a write the filter does not
        // see (bind of a Unix socket) goes undecided.
        do {
            try ProductionMode.checkEnforcement(
                switchedOff: noLandlock,
                requirement: "Production mode requires Landlock, the file rules' second layer, which --no-landlock turns off.",
                remedy: "Drop --no-landlock", environment: environment)
            try SandboxProduction.checkLandlock(environment: environment)
        } catch {
            say("sentinel guard: \(error) Nothing was run.")
            throw ExitCode(2)
        }
        var context = PolicyContext.current(environment: environment)
        if policyDirectory != nil || policyHome != nil || !policyMap.isEmpty {
            var mappings: [PathTranslation.Mapping] = []
            for text in policyMap {
                // Split at the last `=`: the inside path is Sentinel's (/workspace), a host path may hold one.
                guard let equals = text.lastIndex(of: "="), text.hasPrefix("/"),
                    text[text.index(after: equals)...].hasPrefix("/")
                else {
                    say("sentinel guard: --policy-map \(text): expected HOST=INSIDE with two absolute paths "
                        + "(e.g. /home/me/project/workspace=/workspace); nothing was run.")
                    throw ExitCode(2)
                }
                mappings.append(PathTranslation.Mapping(host: String(text[..<equals]), inside: String(text[text.index(after: equals)...])))
            }
            for (name, value) in [("--policy-directory", policyDirectory), ("--policy-home", policyHome)] {
                if let value, !value.hasPrefix("/") {
                    say("sentinel guard: \(name) \(value): expected an absolute path; nothing was run.")
                    throw ExitCode(2)
                }
            }
            context.pathTranslation = PathTranslation(
                hostBaseDirectory: policyDirectory ?? context.baseDirectory, hostHomeDirectory: policyHome ?? context.homeDirectory,
                mappings: mappings)
        }
        let loaded: LoadedPolicy
        let compiled: Policy
        do {
            loaded = try PolicyLoader().load(path: policy)
            compiled = try Policy(loaded: loaded, context: context)
        } catch {
            say("sentinel guard: \(error)")
            throw ExitCode(2)
        }
        // A PolicyWarning says "warning:" itself (with its file and line when it has them).
        for warning in loaded.warnings + compiled.warnings { say("sentinel guard: \(warning)") }
        let log: AuditLog
        let logPath = auditLog ?? loaded.document.audit.path
        do {
            // SENTINEL_AUDIT_HMAC_KEY keys the chain exactly as in compatibility mode and
            // isolation; a key too short to be one refuses the run rather than chaining unkeyed.
            log = try AuditLog(
                path: logPath, options: AuditLog.Options(key: try AuditKey.fromEnvironment(environment), runID: run.id))
        } catch {
            // Why, and what to change: usually a log an earlier run wrote as another user.
            let absolute = PolicyLoader.absolutePath(logPath)
            var advice = ""
            if error.code == .open, let code = error.errno {
                advice = " " + AuditLogAccess.explain(
                    error.path ?? absolute, errno: code, elsewhere: "pass --audit-log PATH with a file you may write")
            }
            say("sentinel guard: the audit log \(logPath) cannot be opened (\(error)); nothing was run.\(advice)")
            throw ExitCode(2)
        }
        let resolution: ApprovalMode.Resolution
        do {
            resolution = try ApprovalMode.resolve(policyMode: loaded.document.approval.mode.rawValue, environment: environment)
        } catch {
            say("sentinel guard: \(error) Nothing was run.")
            throw ExitCode(2)
        }
        let broker = ApprovalBroker(
            handler: resolution.mode.makeHandler(environment: environment),
            timeout: ApprovalBroker.timeout(seconds: loaded.document.approval.timeoutSeconds))
        let pipeline = DecisionPipeline(mode: .guard, policySHA256: loaded.sha256, audit: log, approvals: broker)
        let shown = argv.joined(separator: " ")
        guard pipeline.note(.runStart, target: shown, reason: "sentinel guard started the command.") else {
            say("sentinel guard: the audit log \(logPath) cannot be written; nothing was run.")
            throw ExitCode(2)
        }
        // Said before the command starts (and with --quiet: stderr only), so a long run can be
        // followed with `sentinel audit tail -f --run ID`. A guard given its run id was started by
        // a launcher that has already said where the run's records are.
        if !run.inherited { say("sentinel guard: \(RunRecords.line(run: run.id, log: PolicyLoader.absolutePath(logPath)))") }
        let session: GuardSession
        do {
            // The command gets the operator's environment without Sentinel's keys (GuardOptions
            // removes them too; said here as well because this is where the environment is chosen).
            session = try GuardSession.start(
                argv, options: GuardOptions(
                    policy: compiled, pipeline: pipeline, environment: SentinelEnvironment.withoutSecrets(environment),
                    landlock: !noLandlock, log: say, trustedEndpoints: trusted, explainRefusals: !quiet))
        } catch {
            say("sentinel guard: \(error)")
            pipeline.note(.runEnd, target: shown, reason: "The command could not be started: \(error)", severity: .medium)
            throw ExitCode(error.code == .commandNotFound ? 127 : 126)
        }
        // Ctrl-C reaches the command (same process group); the supervisor must outlive it to
        // answer its last calls. A SIGTERM or SIGHUP sent to us is passed on.
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        let forwarders = [SIGTERM, SIGHUP].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            let child = session.processID
            source.setEventHandler { kill(child, number) }
            source.resume()
            return source
        }
        let exit = await session.waitForExit()
        forwarders.forEach { $0.cancel() }
        let statistics = session.statistics
        pipeline.note(
            .runEnd, target: shown, reason: "The command exited with status \(exit.status).",
            details: ["decisions": String(statistics.decisions), "denied": String(statistics.denied)])
        if !quiet {
            say("sentinel guard: \(statistics.decisions) decisions (\(statistics.allowed) allowed, \(statistics.denied) denied), \(statistics.failures) calls refused unread; \(session.landlockDescription); audit log \(logPath).")
        }
        log.close()
        throw ExitCode(exit.status)
    }
}
