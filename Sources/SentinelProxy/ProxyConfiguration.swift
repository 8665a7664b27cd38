import Foundation
public import SentinelApproval
public import SentinelAudit
public import SentinelPolicy

/// Everything `sentinel proxy` is started with. Each field has the command line's default.
public struct ProxyConfiguration: Sendable {
    /// Where the proxy accepts clients.
    public enum Listener: Sendable, Hashable, CustomStringConvertible {
        /// A TCP address and port (`--listen 127.0.0.1:3128`); port 0 picks a free port.
        case tcp(IPAddress, port: Int)
        /// A Unix stream socket (`--unix PATH`), for the native sandbox's relay: PID 1 inside the
        /// sandbox accepts on 127.0.0.1:3128 and carries each connection's bytes, unchanged, to
        /// this socket. The file is created with mode 0600.
        case unix(path: String)

        /// The default, `127.0.0.1:3128` (squid's port, so existing client settings work).
        public static let standard = Listener.tcp(IPAddress(ipv4: 0x7f00_0001), port: 3128)

        /// Parses `--listen`: `ADDRESS:PORT`, IPv6 in brackets (`[::1]:3128`). The address must
        /// be an address (a name would need DNS before the proxy exists), the port 0–65535.
        public static func parse(listen text: String) throws(ProxyError) -> Listener {
            func fail(_ why: String) -> ProxyError {
                ProxyError(.listenAddress, "--listen \"\(text)\" is not ADDRESS:PORT: \(why). "
                    + "Write it as 127.0.0.1:3128, or [::1]:3128 for IPv6.")
            }
            guard let colon = text.lastIndex(of: ":") else { throw fail("the port is missing") }
            var host = String(text[..<colon])
            let portText = text[text.index(after: colon)...]
            if host.hasPrefix("[") && host.hasSuffix("]") {
                host = String(host.dropFirst().dropLast())
            } else if host.contains(":") {
                throw fail("an IPv6 address must be in brackets")
            }
            guard let address = IPAddress(strict: host) else { throw fail("\"\(host)\" is not an IP address") }
            guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText), port <= 65_535 else {
                throw fail("\"\(portText)\" is not a port from 0 to 65535")
            }
            return .tcp(address, port: port)
        }

        /// `127.0.0.1:3128`, `[::1]:3128` or `unix:/run/sentinel/proxy.sock`.
        public var description: String {
            switch self {
            case .tcp(let address, let port): address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }
    }

    /// Where clients connect.
    public var listener: Listener = .standard
    /// The policy file (`--policy`); `nil` means `./sentinel.yaml`, or `SENTINEL_POLICY_CONTENT`.
    public var policyPath: String?
    /// Squid-style allow-list files (`--allow-domains-file`), added to `allowed_hosts`.
    public var allowListFiles: [String] = []
    /// A hosts file consulted before DNS (`--hosts-file`).
    public var hostsFile: String?
    /// The DNS server to ask instead of the system resolver (`--dns-server`).
    public var dnsServer: IPEndpoint?
    /// Log would-be denials of names and ports without blocking them (`--report-only`). The
    /// address gate (private, special and metadata addresses, `blocked_ips`, `allowed_ips`) and
    /// the protocol rules still block.
    public var reportOnly = false
    /// The audit log (`--audit-log`); `nil` means the policy's `audit.path`.
    public var auditLogPath: String?
    /// The run every record of this proxy belongs to (`SENTINEL_RUN_ID`, or the one
    /// `sentinel proxy` made); `nil` leaves records without a run.
    public var runID: AuditRunID?
    /// Where the Sentinel CA of inspected hosts lives (`--ca-dir`); `nil` means
    /// `$XDG_STATE_HOME/sentinel/ca`, else `~/.local/state/sentinel/ca`. Read or created only
    /// when the policy has an inspected host.
    public var certificateAuthorityDirectory: String?
    /// PEM certificates trusted for the proxy's own TLS connections to inspected hosts, on top of
    /// the system's trust store (`--upstream-ca`): for tests and private services.
    public var upstreamCAFile: String?
    /// The system's trust store appended to the CA certificate in `ca-bundle.pem`.
    public var systemTrustBundle = "/etc/ssl/certs/ca-certificates.crt"
    /// The ports an allow-list entry or `allowed_hosts` entry without `ports` allows through the
    /// proxy: 80 and 443. Stricter than the policy engine's "any port" on purpose: an allowed
    /// name should not also reach its SSH or database port (egress-anchors §6 #79).
    public var defaultPorts: Set<Int> = [80, 443]
    /// The longest a connection to an upstream address may take to be established.
    public var connectTimeout: Duration = .seconds(10)
    /// The longest a DNS lookup may take.
    public var dnsTimeout: Duration = .seconds(5)
    /// A client connection or tunnel with no traffic in either direction for this long is closed.
    public var idleTimeout: Duration = .seconds(300)
    /// The longest a client may take, from connecting, to send its whole request head. The idle
    /// timeout restarts with every byte, so without this a client sending one byte a second
    /// would hold its connection for ever; at the deadline it gets `408` and a record.
    public var headTimeout: Duration = .seconds(30)
    /// How many client connections may be reading their request head at once; one more is
    /// answered `503` at once, with a record. Heads normally take a few milliseconds, so only
    /// slow or stalled clients fill this.
    public var maxConnectionsReadingHead = 512
    /// The environment: `SENTINEL_POLICY_*`, `SENTINEL_APPROVAL_MODE`, `SENTINEL_AUDIT_HMAC_KEY`,
    /// and what the popup handler needs (`DISPLAY`).
    public var environment: [String: String] = SentinelEnvironment.current()
    /// Who is asked about unknown hosts; `nil` means the handler for `approval.mode` (or
    /// `SENTINEL_APPROVAL_MODE`). The prompt goes to the operator, never to the proxied client.
    public var approvalHandler: (any ApprovalHandler)?
    /// Event-loop threads.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Where operational messages go (start, reload, errors); standard error by default.
    public var log: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(("sentinel proxy: " + line + "\n").utf8))
    }

    /// The defaults.
    public init() {}
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
