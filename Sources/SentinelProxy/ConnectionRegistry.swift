// Which client connections are open, and what each one carries, so that a reload can close the
// tunnels the new policy denies and a shutdown can close everything.

import NIOCore
import SentinelGuard
import SentinelAudit
import SentinelPolicy
import Synchronization

/// What an open connection carries once its request was allowed: enough to decide again.
struct CarriedTarget: Sendable {
    /// CONNECT or HTTP.
    var kind: ProxyRequestKind
    /// Where it goes.
    var target: NetworkTarget
    /// The address it is connected to.
    var address: IPAddress
    /// `allow` or `approved`.
    var decision: AuditDecision
}

/// The open client connections. Thread-safe: handlers on every event loop register and remove
/// themselves; reload and shutdown read it from elsewhere.
final class ConnectionRegistry: Sendable {
    /// One open connection.
    struct Entry: Sendable {
        /// Set once its request was allowed and the upstream connection is up.
        var carried: CarriedTarget?
        /// Closes the connection, recording `reason` as why.
        var close: @Sendable (String) -> Void
    }

    private enum State {
        case accepting(entries: [UInt64: Entry], nextID: UInt64)
        case shutDown
    }

    private let state = Mutex(State.accepting(entries: [:], nextID: 1))

    /// Adds a connection; `nil` when the proxy is shutting down (the caller closes it).
    func register(close: @escaping @Sendable (String) -> Void) -> UInt64? {
        state.withLock { state in
            guard case .accepting(var entries, let id) = state else { return nil }
            entries[id] = Entry(carried: nil, close: close)
            state = .accepting(entries: entries, nextID: id + 1)
            return id
        }
    }

    /// Notes what a connection carries, once its upstream connection is up.
    func setCarried(_ id: UInt64, _ carried: CarriedTarget) {
        state.withLock { state in
            guard case .accepting(var entries, let next) = state, entries[id] != nil else { return }
            entries[id]?.carried = carried
            state = .accepting(entries: entries, nextID: next)
        }
    }

    /// Forgets a closed connection.
    func remove(_ id: UInt64) {
        state.withLock { state in
            guard case .accepting(var entries, let next) = state else { return }
            entries[id] = nil
            state = .accepting(entries: entries, nextID: next)
        }
    }

    /// The open connections now.
    var entries: [UInt64: Entry] {
        state.withLock { state in
            guard case .accepting(let entries, _) = state else { return [:] }
            return entries
        }
    }

    /// How many client connections are open.
    var count: Int { entries.count }

    /// Stops accepting registrations and returns everything that was open.
    func shutDown() -> [Entry] {
        state.withLock { state in
            guard case .accepting(let entries, _) = state else { return [] }
            state = .shutDown
            return Array(entries.values)
        }
    }
}

/// How many client connections are still reading their request head, with a limit: slow or
/// stalled clients (one header byte a second) must not be able to hold an unbounded number of
/// connections open. Shared by the handlers on every event loop.
final class HeadReaderCount: Sendable {
    /// The most that may read their head at once.
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a place, or returns `false` when all are taken.
    func enter() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Gives a place back.
    func leave() {
        count.subtract(1, ordering: .relaxed)
    }
}

/// The state of one client connection, shared by the handlers that serve it. Confined to the
/// connection's event loop (the upstream channel is created on the same loop).
final class ProxyConnection {
    /// The registry id.
    var id: UInt64?
    /// Who connected.
    let client: String
    /// When the client connected.
    let started = ContinuousClock.now
    /// The request, once read.
    var request: EgressRequest?
    /// The decision, once allowed.
    var grant: EgressGrant?
    /// The address dialled, once connected.
    var address: IPAddress?
    /// The upstream connection, once up.
    var upstream: (any Channel)?
    /// Bytes read from the client and sent upstream (request bodies, tunnel data).
    var bytesUp = 0
    /// Bytes read from upstream and sent to the client (response bodies, tunnel data).
    var bytesDown = 0
    /// Why the connection ended, set by whoever ends it first.
    var closeReason: String?
    /// What the close record adds: the status and rule the client was answered with when an
    /// allowed request was refused after all (400, 502, 504).
    var closeDetails: [String: String] = [:]
    /// Whether the client connection has closed (and the close record, if any, was written).
    private var finished = false

    init(client: String) {
        self.client = client
    }

    /// Sets the reason unless one is already set.
    func noteClose(_ reason: String) {
        if closeReason == nil { closeReason = reason }
    }

    /// Notes, for the close record, that an allowed request was answered with a refusal (the
    /// first one: it is the one the client read).
    func noteRefusalAfterAllow(_ refusal: EgressRefusal) {
        guard grant != nil, closeDetails["status"] == nil else { return }
        closeDetails["status"] = String(refusal.status)
        closeDetails["refusal_rule"] = refusal.rule
    }

    /// Closes the upstream side and writes the close record for an allowed request (a refused
    /// one was recorded when it was refused). Called once the client connection has closed.
    func finish(decider: EgressDecider, registry: ConnectionRegistry) {
        guard !finished else { return }
        finished = true
        if let id { registry.remove(id) }
        upstream?.close(promise: nil)
        writeCloseRecord(decider: decider)
    }

    /// A request allowed once its client had gone: nothing was carried out, and the allow
    /// record still gets its close record, now if the connection has already finished,
    /// otherwise when it does.
    func grantedAfterClose(_ grant: EgressGrant, decider: EgressDecider) {
        guard self.grant == nil else { return }
        self.grant = grant
        noteClose("the client closed the connection before its request was carried out; nothing was sent to the "
            + "destination")
        if finished { writeCloseRecord(decider: decider) }
    }

    private func writeCloseRecord(decider: EgressDecider) {
        guard let grant, let request else { return }
        let elapsed = ContinuousClock.now - started
        let (seconds, attoseconds) = elapsed.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        var details = [
            "proxy_type": request.kind.rawValue, "client": client, "host": grant.target.host.description,
            "port": String(grant.target.port), "bytes_up": String(bytesUp), "bytes_down": String(bytesDown),
            "duration_ms": String(milliseconds), "decision": grant.decision.rawValue, "rule": grant.rule,
        ]
        if let address { details["address"] = address.description }
        details.merge(closeDetails) { _, added in added }
        let action: AuditAction = request.kind == .connect ? "tunnel_close" : "http_close"
        let reason = closeReason ?? "closed"
        if !grant.rules.pipeline.note(action, target: grant.auditTarget, reason: reason, details: details) {
            decider.log("cannot write the close record of \(grant.auditTarget) to \(grant.rules.pipeline.audit.path)")
        }
    }
}
