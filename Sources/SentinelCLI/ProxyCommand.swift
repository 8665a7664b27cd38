// `sentinel proxy`: the egress proxy (HTTP forward proxy and CONNECT tunnels) under a policy.

import ArgumentParser
import Dispatch
import Foundation
import SentinelApproval
import SentinelAudit
import SentinelPolicy
import SentinelProxy
import SentinelSandbox

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel proxy`.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the egress proxy: HTTP forward proxy and CONNECT tunnels under the policy.",
        discussion: """
            Every request is decided by the policy's allowed_hosts (plus squid-style allow-list files), \
            resolved once, checked address by address, and connected to exactly the checked address. \
            A refusal is a 403 whose X-Sentinel-Rule and X-Sentinel-Reason headers name the rule and \
            the reason; an unknown host goes to approval (approval.mode). Every request and every tunnel \
            close is recorded in the audit log. For an allowed_hosts entry with inspect: true the proxy ends \
            the agent's TLS with a certificate from the Sentinel CA (--ca-dir), decides each request by the \
            entry's methods and paths, sets its inject headers from the proxy's own environment, and opens its \
            own verified TLS connection upstream (--upstream-ca adds trusted CAs). SIGHUP reloads the policy and allow-lists (the running \
            ones stay on any error); SIGTERM and SIGINT stop the proxy. Every record carries the run's id: \
            SENTINEL_RUN_ID when set (1 to 64 of 0-9, a-f and -), else a new one, printed on stderr with the \
            log once the proxy listens. See docs/PROXY.md.

            \(ApprovalAnswer.helpParagraph)
            """
    )

    @Option(help: "Listen on ADDRESS:PORT (default 127.0.0.1:3128; port 0 picks a free port).")
    var listen: String?

    @Option(help: "Listen on a Unix socket at PATH instead (mode 0600), for the native sandbox's relay.")
    var unix: String?

    @Option(help: ArgumentHelp(
        "The policy file (default: ./sentinel.yaml; builtin:default for the built-in policy).",
        discussion: "When SENTINEL_POLICY_CONTENT is set, its text is the policy and this option is ignored."))
    var policy: String?

    @Option(name: .customLong("allow-domains-file"),
            help: "A squid-style allow-list (.example.com = domain and subdomains; example.com = exact; # comments). Repeatable.")
    var allowDomainsFiles: [String] = []

    @Option(name: .customLong("hosts-file"), help: "A hosts file consulted before DNS (tests, air-gapped setups).")
    var hostsFile: String?

    @Option(name: .customLong("dns-server"), help: "Ask this DNS server (ADDRESS:PORT) instead of the system resolver.")
    var dnsServer: String?

    @Flag(name: .customLong("report-only"),
          help: "Record would-be denials of hosts and ports without blocking them (private and special addresses stay blocked).")
    var reportOnly = false

    @Option(name: .customLong("audit-log"), help: "The audit log (default: the policy's audit.path).")
    var auditLog: String?

    @Option(name: .customLong("ca-dir"), help: ArgumentHelp(
        "Where the Sentinel CA of inspected hosts lives (default: $XDG_STATE_HOME/sentinel/ca, else ~/.local/state/sentinel/ca).",
        discussion: "Created on first use (key mode 0600) when the policy has an allowed_hosts entry with inspect: true."))
    var caDir: String?

    @Option(name: .customLong("upstream-ca"),
            help: "PEM certificates the proxy trusts, besides the system's, for its own TLS to inspected hosts (tests, private services).")
    var upstreamCA: String?

    func validate() throws {
        if listen != nil && unix != nil {
            throw ValidationError("--listen and --unix exclude each other; the proxy listens on one of them.")
        }
    }

    func run() async throws {
        var configuration = ProxyConfiguration()
        do {
            if let listen { configuration.listener = try ProxyConfiguration.Listener.parse(listen: listen) }
            if let unix { configuration.listener = .unix(path: unix) }
            if let dnsServer {
                do {
                    configuration.dnsServer = try DNSServerResolver.parseServer(dnsServer)
                } catch {
                    throw ProxyError(.dnsServer, "--dns-server: \(error.message).")
                }
            }
        } catch {
            printError("sentinel proxy: \(error)")
            throw ExitCode(2)
        }
        // Production (docs/POLICY.md): the proxy enforces what it decides. The policy's signing
        // rules are the loader's, which the server calls with this environment.
        do {
            try ProductionMode.checkEnforcement(
                switchedOff: reportOnly,
                requirement: "Production mode requires the proxy to block what the policy denies, which --report-only turns off.",
                remedy: "Drop --report-only; try a policy with report-only outside production", environment: configuration.environment)
        } catch {
            printError("sentinel proxy: \(error) Nothing was started.")
            throw ExitCode(2)
        }
        configuration.policyPath = policy
        configuration.allowListFiles = allowDomainsFiles
        configuration.hostsFile = hostsFile
        configuration.reportOnly = reportOnly
        configuration.auditLogPath = auditLog
        // The run's id: the launcher's (SENTINEL_RUN_ID: sentinel-isolate's proxy, a proxy
        // container) or a new one; a value that is not an id stops the proxy rather than being replaced.
        let run: (id: AuditRunID, inherited: Bool)
        do {
            run = try AuditRunID.resolve(configuration.environment)
        } catch {
            printError("sentinel proxy: \(error) Nothing was started.")
            throw ExitCode(2)
        }
        configuration.runID = run.id
        configuration.certificateAuthorityDirectory = caDir
        configuration.upstreamCAFile = upstreamCA
        Self.raiseFileLimit()

        // Signals arrive through a stream, so reload and shutdown run one at a time, in order.
        let (signals, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        // A source is registered asynchronously after resume(); a signal arriving before that
        // (after SIG_IGN) was lost, and a proxy told to stop right after its `listening` line
        // waited forever (seen in the suite, 2026-12-07). Start listening only once all are in.
        let registered = DispatchGroup()
        for number in [SIGHUP, SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            registered.enter()
            source.setRegistrationHandler { registered.leave() }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            registered.notify(queue: .global()) { done.resume() }
        }

        let server = ProxyServer(configuration: configuration)
        do {
            // The server prints `sentinel proxy: listening on ADDRESS …` once it accepts
            // connections; the Docker backend's proxied network waits for that line.
            _ = try await server.start()
        } catch {
            printError("sentinel proxy: \(error)")
            throw ExitCode(2)
        }
        // A proxy given its run id was started by a launcher that says where the run's records are.
        if !run.inherited, let path = await server.auditLogPath {
            printError("sentinel proxy: \(RunRecords.line(run: run.id, log: PolicyLoader.absolutePath(path)))")
        }
        for await number in signals {
            if number == SIGHUP {
                // A failed reload is logged and recorded by the server; the old rules stay.
                _ = try? await server.reload()
            } else {
                await server.shutdown()
                return
            }
        }
    }

    /// Raises the soft limit on open files to the hard limit: every tunnel holds two descriptors.
    private static func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
