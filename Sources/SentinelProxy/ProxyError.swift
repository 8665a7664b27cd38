/// Why the proxy could not start, reload or read one of its inputs.
///
/// A `ProxyError` is about the proxy itself (a policy that does not load, an allow-list line that
/// is not a host, a port already in use). A refused request is not an error: it is a `Verdict`,
/// answered with a 403 and recorded in the audit log.
public struct ProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The policy could not be loaded or compiled.
        public static let policy = Code("policy")
        /// An allow-list file could not be read or has a line that is not a host.
        public static let allowList = Code("allow-list")
        /// The hosts file could not be read or is malformed.
        public static let hostsFile = Code("hosts-file")
        /// `--dns-server` is not `ADDRESS:PORT`.
        public static let dnsServer = Code("dns-server")
        /// `--listen` is not an address and port, or `--unix` is not a usable path.
        public static let listenAddress = Code("listen-address")
        /// The listening socket could not be created or bound.
        public static let bind = Code("bind")
        /// The audit log could not be opened.
        public static let audit = Code("audit")
        /// The policy may not change while the proxy runs (`SENTINEL_POLICY_IMMUTABLE`).
        public static let immutable = Code("immutable")
        /// The Sentinel CA of inspected hosts could not be read, created or used.
        public static let certificateAuthority = Code("certificate-authority")
        /// `--upstream-ca` could not be read, or the trust store for inspected hosts not built.
        public static let upstreamTrust = Code("upstream-trust")
        /// An `inject` value names a variable that is not set in the proxy's environment.
        public static let injection = Code("injection")
        /// The proxy is not running (a reload or shutdown came too early or too late).
        public static let notRunning = Code("not-running")

        /// The code's short name.
        public var description: String { name }
    }

    /// What kind of problem this is.
    public var code: Code
    /// One sentence: what is wrong and what to do.
    public var message: String
    /// The `errno` of a failing system call, where there is one.
    public var errno: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// The message, with the errno when there is one.
    public var description: String {
        guard let errno else { return message }
        return "\(message) (errno \(errno))"
    }
}
