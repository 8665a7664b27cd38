public import SentinelPolicy
import Synchronization

/// A resolver that reuses answers for a short time (`SENTINEL_DNS_CACHE_TTL_SECONDS`), in front
/// of another resolver that applies the timeout (`SENTINEL_DNS_RESOLVE_TIMEOUT_MS`).
///
/// Only successful answers are cached. A failure or timeout is thrown every time, so the caller
/// denies (the original cached an empty answer and allowed, `original-system.md` §12.1 item 11).
/// Names are cached by their normalised form, so `API.example.com.` and `api.example.com` share
/// an entry. Concurrent lookups of one name are not merged; each misses independently.
public final class CachingResolver: HostResolver {
    private struct Entry {
        var addresses: [IPAddress]
        var expires: ContinuousClock.Instant
    }

    /// The resolver asked on a miss.
    public let upstream: any HostResolver
    /// How long an answer is reused.
    public let timeToLive: Duration
    private let entries = Mutex<[String: Entry]>([:])

    /// Creates a cache in front of `upstream`.
    public init(upstream: any HostResolver, timeToLive: Duration) {
        self.upstream = upstream
        self.timeToLive = timeToLive
    }

    /// A cache in front of the system resolver, both configured from `environment`.
    public convenience init(environment: GuardEnvironment) {
        self.init(
            upstream: SystemResolver(timeout: .milliseconds(Int64(environment.dnsResolveTimeoutMilliseconds))),
            timeToLive: .milliseconds(Int64(environment.dnsCacheTTLSeconds * 1000))
        )
    }

    /// The cached answer if it is fresh, else the upstream answer (cached when it succeeds).
    public func resolve(_ host: String) async throws -> [IPAddress] {
        let key = (try? HostName.normalize(host).name) ?? host
        let now = ContinuousClock.now
        if timeToLive > .zero, let cached = entries.withLock({ $0[key] }), cached.expires > now {
            return cached.addresses
        }
        let addresses = try await upstream.resolve(host)
        if timeToLive > .zero {
            entries.withLock { table in
                if table.count > 4096 { table.removeAll(keepingCapacity: true) }
                table[key] = Entry(addresses: addresses, expires: ContinuousClock.now + timeToLive)
            }
        }
        return addresses
    }

    /// Forgets every cached answer.
    public func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
