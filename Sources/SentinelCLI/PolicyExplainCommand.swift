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
                report(error, json: options.json)
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
                verdict = await Self.explainNetwork(policy.checkURL(url), policy: policy, resolver: resolver, into: &details)
            } else if let connect {
                action = "connect"
                target = connect
                guard let (host, port) = Self.splitHostPort(connect) else {
                    report(PolicyExplainError("--connect takes HOST:PORT or [IPv6]:PORT, with a port from 1 to 65535 (got \(connect))."), json: options.json)
                    throw ExitCode(PolicyExit.error)
                }
                verdict = await Self.explainNetwork(policy.checkConnect(host: host, port: port), policy: policy, resolver: resolver, into: &details)
            } else {
                throw ValidationError("Give exactly one of --command, --exec, --path, --url or --connect.")
            }
            show(verdict, action: action, target: target, details: details)
            throw ExitCode(verdict.isAllowed ? PolicyExit.allow : PolicyExit.deny)
        }

        /// Finishes a network decision as the proxy and the guard would, keeping apart what the
        /// policy says about the name (`details["policy"]`) and what the lookup gave
        /// (`details["lookup"]`): offline, an allowed name is denied by `builtin:dns`, and the
        /// answer must still say that the policy allows it.
        static func explainNetwork(
            _ check: NetworkCheck, policy: Policy, resolver: any HostResolver, into details: inout [String: Any]
        ) async -> Verdict {
            switch check {
            case .decided(let decision):
                if decision.isAllowed { details["addresses"] = decision.addresses.map(\.description) }
                return decision.verdict
            case .needsResolution(let target, let name, let nameVerdict):
                details["policy"] = ["decision": nameVerdict.decision.rawValue, "rule": nameVerdict.rule, "reason": nameVerdict.reason]
                let addresses: [IPAddress]
                do {
                    addresses = try await resolver.resolve(name)
                } catch {
                    details["lookup"] = ["name": name, "outcome": "failed", "error": "\(error)"]
                    return .deny(rule: "builtin:dns", reason: "\(error); a lookup that fails or times out is denied.")
                }
                details["lookup"] = ["name": name, "outcome": "resolved", "addresses": addresses.map(\.description)]
                let decision = policy.checkAddresses(addresses, target: target, nameVerdict: nameVerdict)
                if decision.isAllowed { details["addresses"] = decision.addresses.map(\.description) }
                return decision.verdict
            }
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
            if let name = details["policy"] as? [String: String], let lookup = details["lookup"] as? [String: Any] {
                let host = lookup["name"] as? String ?? "the name"
                print("  policy:   \(name["decision"] == "allow" ? "allows" : "denies") \(host) (rule \(name["rule"] ?? "?"))")
                if let addresses = lookup["addresses"] as? [String] {
                    print("  lookup:   \(host) resolved to \(addresses.isEmpty ? "nothing" : addresses.joined(separator: ", "))")
                } else {
                    print("  lookup:   failed (\(lookup["error"] as? String ?? "?")): the decision above is the lookup's, not the policy's; run where \(host) resolves to see the rest")
                }
            }
            if let executable = details["executable"] { print("  runs:     \(executable)") }
            if let addresses = details["addresses"] as? [String] { print("  dials:    \(addresses.joined(separator: ", "))") }
        }
    }
}

/// A mistake in `policy explain`'s own arguments that ArgumentParser cannot see, as one sentence
/// (reported as JSON with `--json`, like every other error of the command).
struct PolicyExplainError: Error, CustomStringConvertible {
    /// The sentence.
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
