// Name resolution for the address gate: resolve once, classify every answer, dial a checked
// answer (egress-anchors §7.2). A lookup that fails or times out is an error, and the caller
// denies: the original system treated it as "no addresses, nothing to check" and allowed
// (original-system §5, fail-open).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import Foundation

/// Turns a host name into the addresses it stands for.
public protocol HostResolver: Sendable {
    /// Every address `host` resolves to (A and AAAA), in the order the resolver gave them,
    /// without duplicates. Throws when the lookup fails, times out or yields no address.
    func resolve(_ host: String) async throws -> [IPAddress]
}

/// Why a lookup gave no addresses.
public struct ResolveError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The resolver answered with an error (`getaddrinfo` failed, or the name is unknown).
        case lookupFailed
        /// No answer within the time limit.
        case timedOut
        /// The answer held no IPv4 or IPv6 address.
        case noAddresses
        /// The host text cannot be looked up (NUL, not a valid host).
        case invalidHost
        /// Too many lookups are already waiting for an answer.
        case tooManyLookups
        /// The task waiting for the answer was cancelled.
        case cancelled
        /// The hosts file could not be read or has a malformed line.
        case hostsFile
    }

    /// What went wrong.
    public let code: Code
    /// The host that was looked up (or the hosts file path, for `.hostsFile`).
    public let host: String
    /// The sentence.
    public let message: String
    /// The `getaddrinfo` error code (`EAI_*`), where there is one.
    public let gaiError: Int32?

    /// Creates an error.
    public init(code: Code, host: String, message: String, gaiError: Int32? = nil) {
        self.code = code
        self.host = host
        self.message = message
        self.gaiError = gaiError
    }

    /// "DNS lookup of example.test failed: Name or service not known".
    public var description: String { message }
}

// MARK: - getaddrinfo

/// Resolves with the C library's `getaddrinfo` (so `/etc/hosts`, `nsswitch.conf` and
/// `resolv.conf` apply), with a time limit.
///
/// `getaddrinfo` blocks and cannot be cancelled, so each lookup runs on a thread of its own,
/// never on Swift's cooperative pool; when the time limit passes the caller gets
/// `ResolveError.timedOut` at once and the thread finishes in the background. At most
/// `maxConcurrentLookups` threads exist at a time: beyond that lookups fail at once
/// (`tooManyLookups`), so a resolver that hangs cannot make this process create threads
/// without bound.
public struct SystemResolver: HostResolver {
    /// The longest a lookup may take.
    public let timeout: Duration
    /// The most lookups in flight at once.
    public let maxConcurrentLookups: Int
    private let lookup: @Sendable (String) throws(ResolveError) -> [IPAddress]
    private let inFlight: Counter

    /// A resolver with a time limit per lookup.
    public init(timeout: Duration, maxConcurrentLookups: Int = 64) {
        self.init(timeout: timeout, maxConcurrentLookups: maxConcurrentLookups, lookup: SystemResolver.getaddrinfoLookup)
    }

    /// A resolver whose blocking lookup is `lookup` (tests use a lookup that never returns).
    init(timeout: Duration, maxConcurrentLookups: Int = 64,
         lookup: @escaping @Sendable (String) throws(ResolveError) -> [IPAddress]) {
        self.timeout = timeout
        self.maxConcurrentLookups = maxConcurrentLookups
        self.lookup = lookup
        self.inFlight = Counter()
    }

    /// Resolves `host`, or throws `ResolveError` (failure, time limit, no address, cancelled).
    public func resolve(_ host: String) async throws -> [IPAddress] {
        guard !host.utf8.contains(0) else {
            throw ResolveError(code: .invalidHost, host: host, message:
                "DNS lookup of \(HostNameError.quoted(host)) refused: the name contains a NUL byte")
        }
        guard inFlight.increment(limit: maxConcurrentLookups) else {
            throw ResolveError(code: .tooManyLookups, host: host, message:
                "DNS lookup of \(host) refused: \(maxConcurrentLookups) lookups are already waiting for an answer")
        }
        let once = ResumeOnce()
        let lookup = self.lookup
        let counter = inFlight
        let timeout = self.timeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[IPAddress], any Error>) in
                once.install(continuation)
                let timer = Task.detached {
                    // Cancelled when the lookup answers first.
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    once.resume(with: .failure(ResolveError(code: .timedOut, host: host, message:
                        "DNS lookup of \(host) timed out after \(timeout.formattedSeconds)")))
                }
                let thread = Thread {
                    let result = Result { () throws(ResolveError) in try lookup(host) }
                    counter.decrement()
                    timer.cancel()
                    once.resume(with: result.mapError { $0 as any Error })
                }
                thread.name = "sentinel-dns"
                thread.start()
            }
        } onCancel: {
            once.resume(with: .failure(ResolveError(code: .cancelled, host: host, message:
                "DNS lookup of \(host) was cancelled")))
        }
    }

    /// One blocking `getaddrinfo(host, NULL, {AF_UNSPEC, SOCK_STREAM})`: every A and AAAA
    /// answer, in order, without duplicates.
    static func getaddrinfoLookup(_ host: String) throws(ResolveError) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            let reason: String
            if status == EAI_SYSTEM {
                reason = String(cString: strerror(errno))
            } else {
                reason = String(cString: gai_strerror(status))
            }
            throw ResolveError(code: .lookupFailed, host: host, message: "DNS lookup of \(host) failed: \(reason)",
                               gaiError: status)
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let socketAddress = current.pointee.ai_addr {
                let bytes = UnsafeRawBufferPointer(start: socketAddress, count: Int(current.pointee.ai_addrlen))
                if let endpoint = try? IPEndpoint(socketAddress: bytes), !addresses.contains(endpoint.address) {
                    addresses.append(endpoint.address)
                }
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw ResolveError(code: .noAddresses, host: host, message: "DNS lookup of \(host) returned no IP address")
        }
        return addresses
    }
}

/// Resumes a continuation once, whichever of the lookup, the timer or cancellation comes first.
private final class ResumeOnce: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<[IPAddress], any Error>)
        case finished(Result<[IPAddress], any Error>?)
    }

    private let state = Mutex<State>(.waiting)

    func install(_ continuation: CheckedContinuation<[IPAddress], any Error>) {
        let early: Result<[IPAddress], any Error>? = state.withLock { state in
            switch state {
            case .waiting:
                state = .installed(continuation)
                return nil
            case .finished(let result):
                // Cancelled before the continuation existed.
                state = .finished(nil)
                return result
            case .installed:
                return nil
            }
        }
        if let early { continuation.resume(with: early) }
    }

    func resume(with result: Result<[IPAddress], any Error>) {
        let continuation: CheckedContinuation<[IPAddress], any Error>? = state.withLock { state in
            switch state {
            case .waiting:
                state = .finished(result)
                return nil
            case .installed(let continuation):
                state = .finished(nil)
                return continuation
            case .finished:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}

/// The number of lookups in flight.
private final class Counter: Sendable {
    private let value = Mutex(0)

    func increment(limit: Int) -> Bool {
        value.withLock { value in
            guard value < limit else { return false }
            value += 1
            return true
        }
    }

    func decrement() {
        value.withLock { $0 -= 1 }
    }
}

extension Duration {
    /// "2 s", "0.25 s".
    var formattedSeconds: String {
        let (seconds, attoseconds) = components
        if attoseconds == 0 { return "\(seconds) s" }
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return "\(value) s"
    }
}

// MARK: - Hosts file

/// Resolves from a file in `/etc/hosts` format, and hands names it does not know to `fallback`
/// (or fails when there is none): for tests and air-gapped runs (`--hosts-file`).
///
/// Format: `#` starts a comment; each line is an address (anything glibc reads as numeric,
/// IPv4 or IPv6) followed by one or more names separated by spaces or tabs. Names are
/// normalised with `HostName.normalize`, so lookups ignore case and a trailing dot. A name on
/// several lines gets every address, in file order. A malformed line makes the file unusable,
/// with its line number in the message (a policy input is not guessed at).
public struct HostsFileResolver: HostResolver {
    /// The file the table was read from.
    public let path: String
    /// Where names not in the file go; `nil` means they fail.
    public let fallback: (any HostResolver)?
    /// Each normalised name with its addresses, in file order.
    public let table: [String: [IPAddress]]

    /// Reads `path` now; throws `ResolveError` (`.hostsFile`) when it cannot be read or a line
    /// is malformed.
    public init(path: String, fallback: (any HostResolver)? = nil) throws(ResolveError) {
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ResolveError(code: .hostsFile, host: path, message:
                "cannot read the hosts file \(path): \(error.localizedDescription)")
        }
        try self.init(contents: contents, path: path, fallback: fallback)
    }

    /// Parses hosts-file text (`path` is used in messages only).
    public init(contents: String, path: String = "<hosts>", fallback: (any HostResolver)? = nil) throws(ResolveError) {
        self.path = path
        self.fallback = fallback
        var table: [String: [IPAddress]] = [:]
        var lineNumber = 0
        for rawLine in contents.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.prefix { $0 != "#" }
            let fields = line.split { $0 == " " || $0 == "\t" || $0 == "\r" }
            guard let first = fields.first else { continue }
            guard let address = IPAddress(numericHost: String(first)) else {
                throw ResolveError(code: .hostsFile, host: path, message:
                    "\(path):\(lineNumber): \(HostNameError.quoted(String(first))) is not an IP address")
            }
            guard fields.count >= 2 else {
                throw ResolveError(code: .hostsFile, host: path, message:
                    "\(path):\(lineNumber): the address \(address) has no host name after it")
            }
            for field in fields.dropFirst() {
                let name: String
                do {
                    guard case .name(let normalized) = try HostName.normalize(String(field)) else {
                        throw ResolveError(code: .hostsFile, host: path, message:
                            "\(path):\(lineNumber): \(HostNameError.quoted(String(field))) is an address, not a name")
                    }
                    name = normalized
                } catch let error as HostNameError {
                    throw ResolveError(code: .hostsFile, host: path, message: "\(path):\(lineNumber): \(error)")
                } catch let error as ResolveError {
                    throw error
                } catch {
                    throw ResolveError(code: .hostsFile, host: path, message: "\(path):\(lineNumber): \(error)")
                }
                if !(table[name]?.contains(address) ?? false) {
                    table[name, default: []].append(address)
                }
            }
        }
        self.table = table
    }

    /// The file's addresses for `host`, or the fallback's answer when the file does not name it.
    /// An IP literal resolves to itself.
    public func resolve(_ host: String) async throws -> [IPAddress] {
        let normalized: NormalizedHost
        do {
            normalized = try HostName.normalize(host)
        } catch {
            throw ResolveError(code: .invalidHost, host: host, message: "DNS lookup refused: \(error)")
        }
        switch normalized {
        case .address(let address):
            return [address]
        case .name(let name):
            if let addresses = table[name] { return addresses }
            guard let fallback else {
                throw ResolveError(code: .lookupFailed, host: host, message:
                    "DNS lookup of \(name) failed: it is not in the hosts file \(path), and no other resolver is set")
            }
            return try await fallback.resolve(name)
        }
    }
}
