// The proxy's lifecycle: start (load everything, open the audit log, bind), reload (SIGHUP),
// shut down (SIGTERM / SIGINT).

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SentinelAudit
import SentinelGuard
import SentinelPolicy

#if canImport(Glibc)
import Glibc
#endif

/// What every connection's handlers share.
struct ProxyServices: Sendable {
    let decider: EgressDecider
    let registry: ConnectionRegistry
    let connectTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// How long a client has, from connecting, to send its request head.
    let headTimeout: Duration
    /// The connections still reading their head, and how many may.
    let headReaders: HeadReaderCount
}

/// What a reload did.
public struct ReloadReport: Sendable, Hashable {
    /// The SHA-256 of the policy now in force.
    public var policySHA256: String
    /// Open connections closed because the new policy denies them.
    public var closedConnections: Int
}

/// The egress proxy: SwiftNIO HTTP forward proxy and CONNECT tunnels under a Sentinel policy.
///
/// ```swift
/// var configuration = ProxyConfiguration()
/// configuration.policyPath = "sentinel.yaml"
/// let server = ProxyServer(configuration: configuration)
/// let listener = try await server.start()      // 127.0.0.1:3128
/// …
/// _ = try await server.reload()                 // on SIGHUP
/// await server.shutdown()                       // on SIGTERM
/// ```
///
/// Long-lived state: this actor owns the lifecycle; the current rules live behind a mutex in the
/// decider (read once per request), open connections in a registry, and each connection's own
/// state in its NIO handlers on its event loop.
public actor ProxyServer {
    private enum State {
        case created
        case running(Running)
        case stopped
    }

    private struct Running {
        let group: MultiThreadedEventLoopGroup
        let channel: any Channel
        let services: ProxyServices
        let audit: AuditLog
        let listener: ProxyConfiguration.Listener
    }

    /// What the proxy was started with.
    public let configuration: ProxyConfiguration
    private var state = State.created

    /// Creates a proxy; nothing happens until `start()`.
    public init(configuration: ProxyConfiguration) {
        self.configuration = configuration
    }

    /// Loads the policy and allow-lists, opens the audit log, and starts listening.
    ///
    /// - Returns: where the proxy listens (with the real port when port 0 was asked for).
    /// - Throws: `ProxyError` when anything is missing or invalid; nothing is left running then.
    @discardableResult
    public func start() async throws(ProxyError) -> ProxyConfiguration.Listener {
        guard case .created = state else { throw ProxyError(.notRunning, "The proxy was already started.") }
        let configuration = self.configuration

        let loaded: LoadedPolicy
        do {
            loaded = try PolicyLoader(environment: configuration.environment).load(path: configuration.policyPath)
        } catch {
            throw ProxyError(.policy, "\(error)")
        }
        let auditPath = configuration.auditLogPath ?? loaded.document.audit.path
        let audit: AuditLog
        do {
            let key = try AuditKey.fromEnvironment(configuration.environment)
            audit = try AuditLog(path: auditPath, options: AuditLog.Options(key: key, runID: configuration.runID))
        } catch {
            throw ProxyError(.audit, "Cannot open the audit log \(auditPath): \(error). The proxy does not run without one; "
                + "fix the path (--audit-log, or audit.path in the policy) or its permissions.")
        }
        let rules: ProxyRules
        do {
            rules = try ProxyRules.load(configuration, audit: audit, previous: nil)
        } catch {
            audit.close()
            throw error
        }
        for list in rules.allowLists {
            for warning in list.warnings { configuration.log("warning: \(warning)") }
        }

        let decider = EgressDecider(rules: rules, reportOnly: configuration.reportOnly, log: configuration.log)
        let registry = ConnectionRegistry()
        let services = ProxyServices(decider: decider, registry: registry,
                                     connectTimeout: Self.timeAmount(configuration.connectTimeout),
                                     idleTimeout: Self.timeAmount(configuration.idleTimeout),
                                     headTimeout: configuration.headTimeout,
                                     headReaders: HeadReaderCount(limit: configuration.maxConnectionsReadingHead))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let isUnix: Bool
        if case .unix = configuration.listener { isUnix = true } else { isUnix = false }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initialize(channel, services: services, isUnix: isUnix)
                }
            }

        let channel: any Channel
        let listener: ProxyConfiguration.Listener
        do {
            switch configuration.listener {
            case .tcp(let address, let port):
                let endpoint = IPEndpoint(address: address, port: UInt16(port))
                let socketAddress = endpoint.sockaddrIn.map { SocketAddress($0, host: address.description) }
                    ?? SocketAddress(endpoint.sockaddrIn6 ?? sockaddr_in6(), host: address.description)
                channel = try await bootstrap.bind(to: socketAddress).get()
                listener = .tcp(address, port: channel.localAddress?.port ?? port)
            case .unix(let path):
                channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                // Only this user may connect: the relay of the native sandbox runs as the same user.
                guard chmod(path, 0o600) == 0 else {
                    let error = errno
                    try? await channel.close().get()
                    throw ProxyError(.bind, "Cannot restrict \(path) to mode 0600: \(String(cString: strerror(error))).",
                                     errno: error)
                }
                listener = .unix(path: path)
            }
        } catch let error as ProxyError {
            try? await group.shutdownGracefully()
            audit.close()
            throw error
        } catch {
            try? await group.shutdownGracefully()
            audit.close()
            throw ProxyError(.bind, "Cannot listen on \(configuration.listener): \(error). Is another program using it?")
        }

        if case .tcp(let address, let port) = listener {
            decider.setSelfEndpoints(SelfEndpoints(port: port, addresses: Self.interfaceAddresses().union([address])))
        }
        state = .running(Running(group: group, channel: channel, services: services, audit: audit, listener: listener))
        var details = rules.summary
        details["listen"] = listener.description
        details["report_only"] = String(configuration.reportOnly)
        _ = rules.pipeline.note("proxy_start", target: listener.description,
                                reason: "The egress proxy started on \(listener).", details: details)
        configuration.log("listening on \(listener) (policy \(loaded.source), SHA-256 \(loaded.sha256.prefix(12))…"
            + (configuration.reportOnly ? ", report-only" : "") + ")")
        return listener
    }

    /// Loads everything again and swaps it in atomically; open connections that the new rules
    /// deny are closed. On any error the running rules stay in force and the error is logged,
    /// recorded and thrown.
    @discardableResult
    public func reload() async throws(ProxyError) -> ReloadReport {
        guard case .running(let running) = state else { throw ProxyError(.notRunning, "The proxy is not running.") }
        let decider = running.services.decider
        let old = decider.current
        let new: ProxyRules
        do {
            new = try ProxyRules.load(configuration, audit: running.audit, previous: old)
        } catch {
            configuration.log("reload refused, the running policy stays in force: \(error)")
            _ = old.pipeline.note("proxy_reload", target: running.listener.description,
                                  reason: "Reload refused; the running policy stays in force: \(error)", severity: .high,
                                  details: ["error": error.code.description])
            throw error
        }
        for list in new.allowLists {
            for warning in list.warnings { configuration.log("warning: \(warning)") }
        }
        decider.install(new)
        var closed = 0
        for (_, entry) in running.services.registry.entries {
            guard let carried = entry.carried, let denial = Self.recheck(carried, rules: new, reportOnly: decider.reportOnly) else {
                continue
            }
            closed += 1
            entry.close("The policy was reloaded and now denies this connection: \(denial.reason) (\(denial.rule))")
        }
        var details = new.summary
        details["closed_connections"] = String(closed)
        _ = new.pipeline.note("proxy_reload", target: running.listener.description,
                              reason: "The policy was reloaded; \(closed) open connection(s) it now denies were closed.",
                              details: details)
        configuration.log("reloaded (SHA-256 \(new.loaded.sha256.prefix(12))…); closed \(closed) connection(s) now denied")
        return ReloadReport(policySHA256: new.loaded.sha256, closedConnections: closed)
    }

    /// Stops listening, closes every connection (each gets its close record), and stops.
    public func shutdown() async {
        guard case .running(let running) = state else { return }
        state = .stopped
        try? await running.channel.close().get()
        let open = running.services.registry.shutDown()
        for entry in open { entry.close("the proxy is shutting down") }
        try? await running.group.shutdownGracefully()
        _ = running.services.decider.current.pipeline.note(
            "proxy_stop", target: running.listener.description,
            reason: "The egress proxy stopped; \(open.count) open connection(s) were closed.")
        running.audit.close()
        if case .unix(let path) = running.listener { unlink(path) }
        configuration.log("stopped")
    }

    /// The client connections open now (for tests and status).
    public var openConnections: Int {
        guard case .running(let running) = state else { return 0 }
        return running.services.registry.count
    }

    /// The audit log the running proxy records to (`--audit-log`, else the policy's `audit.path`).
    public var auditLogPath: String? {
        guard case .running(let running) = state else { return nil }
        return running.audit.path
    }

    /// The SHA-256 of the policy in force.
    public var policySHA256: String? {
        guard case .running(let running) = state else { return nil }
        return running.services.decider.current.loaded.sha256
    }

    // MARK: - Connections

    private static func initialize(_ channel: any Channel, services: ProxyServices, isUnix: Bool) throws {
        let client: String
        if isUnix {
            client = "unix"
        } else if let address = UpstreamConnector.peerAddress(of: channel), let port = channel.remoteAddress?.port {
            client = IPEndpoint(address: address, port: UInt16(port)).description
        } else {
            client = "unknown"
        }
        let connection = ProxyConnection(client: client)
        let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
        let encoder = HTTPResponseEncoder()
        let front = ProxyFrontHandler(connection: connection, services: services, decoder: decoder, encoder: encoder)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(IdleStateHandler(allTimeout: services.idleTimeout))
        try sync.addHandler(decoder)
        try sync.addHandler(encoder)
        try sync.addHandler(front)

        let bound = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        let eventLoop = channel.eventLoop
        connection.id = services.registry.register { reason in
            eventLoop.execute {
                bound.value.noteClose(reason)
                channel.close(promise: nil)
            }
        }
        if connection.id == nil {
            connection.noteClose("the proxy is shutting down")
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in
            bound.value.finish(decider: services.decider, registry: services.registry)
        }
    }

    /// Decides an open connection again under new rules: the denial, or `nil` when it may stay.
    /// A connection a human approved stays while the new policy still only lacks an entry for
    /// it; an explicit block (blocked_hosts, an address rule) closes it.
    static func recheck(_ carried: CarriedTarget, rules: ProxyRules, reportOnly: Bool) -> Verdict? {
        let addressVerdict = rules.policy.checkAddress(carried.address)
        guard addressVerdict.isAllowed else { return addressVerdict }
        let check = carried.kind == .connect
            ? rules.policy.checkConnect(host: carried.target.host.uriHost, port: carried.target.port)
            : rules.policy.checkURL("http://\(carried.target.host.uriHost):\(carried.target.port)/")
        let verdict: Verdict
        switch check {
        case .decided(let decision): verdict = decision.verdict
        case .needsResolution(_, _, let nameVerdict): verdict = nameVerdict
        }
        guard !verdict.isAllowed, !reportOnly else { return nil }
        if carried.decision == .approved, verdict.rule == "default:allowed_hosts" { return nil }
        return verdict
    }

    // MARK: - Helpers

    /// The addresses of this machine's interfaces (for the self-connection rule).
    static func interfaceAddresses() -> Set<IPAddress> {
        var result: Set<IPAddress> = []
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return result }
        defer { freeifaddrs(list) }
        var entry = list
        while let current = entry {
            if let address = current.pointee.ifa_addr {
                let family = Int32(address.pointee.sa_family)
                let length = family == AF_INET ? MemoryLayout<sockaddr_in>.size
                    : family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : 0
                if length > 0, let endpoint = try? IPEndpoint(socketAddress: UnsafeRawBufferPointer(start: address, count: length)) {
                    result.insert(endpoint.address.withoutZone)
                }
            }
            entry = current.pointee.ifa_next
        }
        return result
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A duration for a sentence: "1 second", "30 seconds", "0.5 seconds".
    static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return seconds == 1 ? "1 second" : "\(seconds) seconds" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\((value * 1000).rounded() / 1000) seconds"
    }
}
