import ArgumentParser
import Foundation
import SentinelPolicy

extension PolicyCommand {
    /// `sentinel policy explain`: what the policy decides for one action, and why.
    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the policy decides for one action: allow or deny, the rule, and for a denial the change that would allow it.",
            discussion: """
                Give exactly one action. Exit status: 0 allow, 3 deny, 2 error (bad policy or input).

                Examples:
                  sentinel policy explain --command 'ls -la | sh'
                  sentinel policy explain --exec /usr/bin/git push origin
                  sentinel policy explain --path ~/.ssh/id_rsa
                  sentinel policy explain --path ./workspace/out.txt --write
                  sentinel policy explain --url https://api.openai.com/v1/models
                  sentinel policy explain --connect 169.254.169.254:80
                """
        )

        @OptionGroup var options: PolicyOptions

        @Option(name: .long, help: "A command line as a shell would read it.")
        var command: String?

        @Option(name: .long, parsing: .remaining, help: "An argv: the executable (name or path) and its arguments; give it last, everything after it belongs to the argv.")
        var exec: [String] = []

        @Option(name: .long, help: "A file path (relative paths resolve against --cwd).")
        var path: String?

        @Flag(name: .long, help: "With --path: the file is written (created, changed, removed), not read.")
        var write = false

        @Option(name: .long, help: "A URL, as an HTTP client would request it.")
        var url: String?

        @Option(name: .long, help: "A connect target, HOST:PORT or [IPv6]:PORT.")
        var connect: String?

        @Option(name: .long, help: "The working directory of the process, which is also where relative policy entries resolve (default: the current directory).")
        var cwd: String?

        @Option(name: .long, help: "Resolve host names through this hosts file first (tests, air-gapped setups).")
        var hostsFile: String?

        func validate() throws {
            let given = [command != nil, !exec.isEmpty, path != nil, url != nil, connect != nil].filter { $0 }.count
            guard given == 1 else {
                throw ValidationError("Give exactly one of --command, --exec, --path, --url or --connect.")
            }
            if write && path == nil {
                throw ValidationError("--write only applies to --path.")
            }
        }

        func run() async throws {
            let directory = cwd.map { PolicyLoader.absolutePath($0) } ?? PolicyLoader.absolutePath(".")
            let policy: Policy
            do {
                let loaded = try PolicyLoader().load(path: options.policy)
                var context = PolicyContext.current()
                context.baseDirectory = directory
                policy = try Policy(loaded: loaded, context: context)
            } catch {
                report(error, json: options.json)
                throw ExitCode(PolicyExit.error)
            }

            let resolver: any HostResolver
            do {
                let system = SystemResolver(timeout: .seconds(5))
                resolver = try hostsFile.map { try HostsFileResolver(path: $0, fallback: system) } ?? system
            } catch {
                printError("error: \(error)")
                throw ExitCode(PolicyExit.error)
            }

            var details: [String: Any] = [:]
            let action: String
            let target: String
            let verdict: Verdict
            if let path {
                action = write ? "file_write" : "file_read"
                target = path
                verdict = policy.checkPath(path, access: write ? .write : .read, workingDirectory: directory)
            } else if let command {
                action = "exec"
                target = command
                let decision = policy.checkCommand(command, workingDirectory: directory)
                verdict = decision.verdict
                if let executable = decision.executable { details["executable"] = executable.canonicalPath }
            } else if !exec.isEmpty {
                action = "exec"
                target = exec.joined(separator: " ")
                let decision = policy.checkExec(exec, workingDirectory: directory)
                verdict = decision.verdict
                if let executable = decision.executable { details["executable"] = executable.canonicalPath }
            } else if let url {
                action = "http"
                target = url
                let decision = await policy.evaluateURL(url, resolver: resolver)
                verdict = decision.verdict
                if decision.isAllowed { details["addresses"] = decision.addresses.map(\.description) }
            } else if let connect {
                action = "connect"
                target = connect
                guard let (host, port) = Self.splitHostPort(connect) else {
                    printError("error: --connect takes HOST:PORT or [IPv6]:PORT, with a port from 1 to 65535.")
                    throw ExitCode(PolicyExit.error)
                }
                let decision = await policy.evaluateConnect(host: host, port: port, resolver: resolver)
                verdict = decision.verdict
                if decision.isAllowed { details["addresses"] = decision.addresses.map(\.description) }
            } else {
                throw ValidationError("Give exactly one of --command, --exec, --path, --url or --connect.")
            }
            show(verdict, action: action, target: target, details: details)
            throw ExitCode(verdict.isAllowed ? PolicyExit.allow : PolicyExit.deny)
        }

        /// Splits `host:port` or `[v6]:port`; the port must be a number from 1 to 65535.
        static func splitHostPort(_ text: String) -> (String, Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  (1...65_535).contains(port) else { return nil }
            let host = String(text[..<colon])
            guard !host.isEmpty else { return nil }
            return (host, port)
        }

        private func show(_ verdict: Verdict, action: String, target: String, details: [String: Any]) {
            if options.json {
                var object: [String: Any] = [
                    "decision": verdict.decision.rawValue, "rule": verdict.rule, "reason": verdict.reason,
                    "action": action, "target": target,
                ]
                if let remedy = verdict.remedy { object["remedy"] = remedy }
                for (key, value) in details { object[key] = value }
                printJSON(object)
                return
            }
            print("\(verdict.decision.rawValue)  \(action) \(target)")
            print("  rule:     \(verdict.rule)")
            print("  reason:   \(verdict.reason)")
            if let remedy = verdict.remedy {
                print("  to allow: \(remedy)")
            }
            if let executable = details["executable"] { print("  runs:     \(executable)") }
            if let addresses = details["addresses"] as? [String] { print("  dials:    \(addresses.joined(separator: ", "))") }
        }
    }
}
