// The audit record: what one line of the log says, and the vocabulary its fields use.

public import SentinelPolicy
//
// The schema is documented field by field on `AuditRecord`. Open vocabularies (mode, action) are
// string-backed structs so that a new enforcement point can add a value without a schema change;
// closed ones (decision, severity, chain) are enums, and an unknown value makes a record unreadable.

// MARK: - Vocabulary

/// Which enforcement point produced a record: `compat`, `guard`, `isolate`, `proxy`, `audit`…
public struct AuditMode: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The value written in the log.
    public var rawValue: String
    /// Wraps a value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a literal.
    public init(stringLiteral value: String) { self.rawValue = value }
    /// The value written in the log.
    public var description: String { rawValue }

    /// The Swift compatibility-mode API inside the guarded program.
    public static let compat: AuditMode = "compat"
    /// `sentinel guard`: syscalls intercepted with seccomp user notification.
    public static let `guard`: AuditMode = "guard"
    /// `sentinel isolate`: the sandbox runner.
    public static let isolate: AuditMode = "isolate"
    /// The egress proxy.
    public static let proxy: AuditMode = "proxy"
    /// The audit writer itself (records about the log's own integrity).
    public static let audit: AuditMode = "audit"
}

/// What was attempted: `file_read`, `exec`, `connect`, `run_start`…
public struct AuditAction: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The value written in the log.
    public var rawValue: String
    /// Wraps a value.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Wraps a literal.
    public init(stringLiteral value: String) { self.rawValue = value }
    /// The value written in the log.
    public var description: String { rawValue }

    /// Opening a file for reading.
    public static let fileRead: AuditAction = "file_read"
    /// Opening, creating or changing a file for writing.
    public static let fileWrite: AuditAction = "file_write"
    /// Running a program.
    public static let exec: AuditAction = "exec"
    /// Opening a network connection.
    public static let connect: AuditAction = "connect"
    /// An HTTP request through the proxy.
    public static let http: AuditAction = "http"
    /// A name lookup.
    public static let dns: AuditAction = "dns"
    /// Pushing input into a terminal (`TIOCSTI`, `TIOCLINUX`), as if someone typed it.
    public static let terminalInput: AuditAction = "terminal_input"
    /// Opening a socket whose packets carry headers the program writes (raw IP, packet).
    public static let rawSocket: AuditAction = "raw_socket"
    /// A guarded or isolated run began.
    public static let runStart: AuditAction = "run_start"
    /// A guarded or isolated run ended.
    public static let runEnd: AuditAction = "run_end"
    /// The startup attestation: policy hash, mode, assurance achieved.
    public static let attestation: AuditAction = "attestation"
    /// Runtime tampering detected by an enforcement point (policy drift, hook drift).
    public static let tamper: AuditAction = "tamper"
    /// The audit writer found its own log changed outside it (truncated, replaced, anchor missing).
    /// `AuditVerifier` reports every such record as a problem: the log has a known gap.
    public static let auditIntegrity: AuditAction = "audit_integrity"
}

/// What was decided.
public enum AuditDecision: String, Hashable, Sendable, Codable, CaseIterable {
    /// The policy allowed the action.
    case allow
    /// The policy denied the action and no human approved it (or none was asked).
    case deny
    /// The policy denied the action and a human (or a remembered session answer) approved it.
    case approved
    /// The policy denied the action and the approval step refused it (a person, a timeout, an error).
    case rejected
    /// Not a decision: a lifecycle or integrity event.
    case info
}

/// How much a record matters to someone reading the log.
public enum AuditSeverity: String, Hashable, Sendable, Codable, CaseIterable {
    /// Routine.
    case info
    /// Worth a look.
    case low
    /// Likely relevant.
    case medium
    /// A denial or override of a sensitive action.
    case high
    /// Tampering or a failure of Sentinel itself.
    case critical
}

/// How `prev` is computed.
public enum AuditChain: String, Hashable, Sendable, Codable {
    /// Plain SHA-256: detects accidents and naive edits, but anyone who can write the file can
    /// recompute every hash after editing it.
    case sha256
    /// HMAC-SHA256 with a key (`SENTINEL_AUDIT_HMAC_KEY`) the writer of the file does not know.
    case hmacSHA256 = "hmac-sha256"
}

// MARK: - Event and record

/// What a caller asks to record: everything in an `AuditRecord` except the fields the writer
/// stamps (schema, sequence, time, pid, chain).
public struct AuditEvent: Hashable, Sendable {
    /// The enforcement point.
    public var mode: AuditMode
    /// What was attempted.
    public var action: AuditAction
    /// What it was attempted on: a path, a command line, `host:port`, a URL.
    public var target: String
    /// What was decided.
    public var decision: AuditDecision
    /// The policy rule that decided (`allowed_paths[0]`), if any.
    public var rule: String?
    /// One sentence saying why.
    public var reason: String
    /// Who decided: `policy`, `console`, `popup`, `reject`, `timeout`, `session`, a handler's name.
    public var approver: String?
    /// The SHA-256 (hex) of the policy text in force.
    public var policySHA256: String?
    /// How much the record matters.
    public var severity: AuditSeverity
    /// Extra facts as strings: host, port, address, bytes, duration, exit status…
    public var details: [String: String]?

    /// Creates an event.
    public init(
        mode: AuditMode,
        action: AuditAction,
        target: String,
        decision: AuditDecision,
        rule: String? = nil,
        reason: String,
        approver: String? = nil,
        policySHA256: String? = nil,
        severity: AuditSeverity = .info,
        details: [String: String]? = nil
    ) {
        self.mode = mode
        self.action = action
        self.target = target
        self.decision = decision
        self.rule = rule
        self.reason = reason
        self.approver = approver
        self.policySHA256 = policySHA256
        self.severity = severity
        self.details = details
    }
}

extension AuditEvent {
    /// The event for a policy decision nobody was asked about: `allow` or `deny` with the
    /// verdict's rule and reason, approver `policy`, severity `info` for an allow and `high` for a
    /// denial.
    public init(
        mode: AuditMode, action: AuditAction, target: String, verdict: Verdict, policySHA256: String?,
        details: [String: String]? = nil
    ) {
        self.init(
            mode: mode, action: action, target: target, decision: verdict.isAllowed ? .allow : .deny,
            rule: verdict.rule, reason: verdict.reason, approver: "policy", policySHA256: policySHA256,
            severity: verdict.isAllowed ? .info : .high, details: details)
    }
}

/// One line of the audit log (JSON Lines, schema 1).
///
/// On disk the keys appear in this order, with `run`, `rule`, `approver`, `policy_sha256` and
/// `details` left out when absent:
///
/// ```
/// {"schema":1,"seq":7,"time":"2026-03-01T09:15:02.120331Z","pid":4121,"run":"7f3a09c2e41b5d68","mode":"guard",
///  "action":"exec","target":"/usr/bin/curl https://x","decision":"rejected",
///  "rule":"default:allowed_commands","reason":"curl is not in allowed_commands.",
///  "approver":"timeout","policy_sha256":"9f…","severity":"high","details":{"uid":"1000"},
///  "chain":"sha256","prev":"5e0c…"}
/// ```
///
/// `prev` is the chain: the lowercase hex SHA-256 (or HMAC-SHA256, per `chain`) of the previous
/// line's exact bytes, without its terminating newline; for the first record it is
/// ``AuditRecord/genesis``. `seq` starts at 1 and grows by one per line.
public struct AuditRecord: Hashable, Sendable, Codable {
    /// The schema this build writes and reads.
    public static let currentSchema = 1
    /// The `prev` of the first record: 64 zeros.
    public static let genesis = String(repeating: "0", count: 64)

    /// The schema version (1).
    public var schema: Int
    /// The position in the log, from 1.
    public var sequence: UInt64
    /// When the writer appended the record: RFC 3339, UTC, microseconds (`2026-03-01T09:15:02.120331Z`).
    public var time: String
    /// The process that wrote the record.
    public var pid: Int32
    /// The run the record belongs to (``AuditRunID``), stamped by the writer; `nil` in records
    /// written before run ids existed and by writers not started for a run (compatibility mode).
    public var run: String?
    /// The enforcement point.
    public var mode: AuditMode
    /// What was attempted.
    public var action: AuditAction
    /// What it was attempted on.
    public var target: String
    /// What was decided.
    public var decision: AuditDecision
    /// The policy rule that decided, if any.
    public var rule: String?
    /// One sentence saying why.
    public var reason: String
    /// Who decided.
    public var approver: String?
    /// The SHA-256 (hex) of the policy text in force.
    public var policySHA256: String?
    /// How much the record matters.
    public var severity: AuditSeverity
    /// Extra facts as strings.
    public var details: [String: String]?
    /// How `prev` was computed.
    public var chain: AuditChain
    /// The hash of the previous line (see the type's discussion).
    public var prev: String

    /// Creates a record from an event and the fields the writer stamps.
    public init(
        event: AuditEvent, sequence: UInt64, time: String, pid: Int32, run: String? = nil, chain: AuditChain,
        prev: String
    ) {
        self.schema = Self.currentSchema
        self.sequence = sequence
        self.time = time
        self.pid = pid
        self.run = run
        self.mode = event.mode
        self.action = event.action
        self.target = event.target
        self.decision = event.decision
        self.rule = event.rule
        self.reason = event.reason
        self.approver = event.approver
        self.policySHA256 = event.policySHA256
        self.severity = event.severity
        self.details = event.details
        self.chain = chain
        self.prev = prev
    }

    /// The caller-supplied part of the record.
    public var event: AuditEvent {
        AuditEvent(
            mode: mode, action: action, target: target, decision: decision, rule: rule, reason: reason,
            approver: approver, policySHA256: policySHA256, severity: severity, details: details)
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case sequence = "seq"
        case time, pid, run, mode, action, target, decision, rule, reason, approver
        case policySHA256 = "policy_sha256"
        case severity, details, chain, prev
    }
}
