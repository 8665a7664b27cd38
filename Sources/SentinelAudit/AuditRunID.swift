// The run id: what ties together the records one run leaves in several logs (the launcher's, the
// guard's inside the sandbox, the proxy's), so that `sentinel audit tail --run ID` can read them as
// one story.
//
// The launcher at the top of a run (`sentinel-isolate`, or `sentinel guard` / `sentinel proxy`
// run by hand) makes one; what it starts is given it in `SENTINEL_RUN_ID`, and each writer stamps
// it on every record (``AuditLog/Options/runID``), the way it stamps `pid`. It is not a secret and
// proves nothing by itself: the chain says a record was not changed, the run id only groups them.

import SentinelPolicy

/// The id shared by the records of one run: lowercase hex digits and `-`, at most 64 characters
/// (a launcher makes 16 hex digits from the kernel's random source).
public struct AuditRunID: Hashable, Sendable, CustomStringConvertible {
    /// The variable a launcher passes the id in (`SENTINEL_RUN_ID`).
    public static let environmentVariable = SentinelEnvironment.runID
    /// The longest id accepted: enough for a UUID or a CI job's id in hex, short enough that a
    /// record cannot be padded out through it.
    public static let maximumLength = 64

    /// The id as written in records.
    public let rawValue: String

    /// The id as written in records.
    public var description: String { rawValue }

    /// Checks `text` and wraps it.
    ///
    /// Only `0-9`, `a-f` and `-` are accepted, so an id can never carry a quote, a newline, a
    /// terminal escape or a path into a record, a file name or a line on a terminal.
    ///
    /// - Parameter text: the id.
    /// - Throws: ``AuditError/Code/runID`` with a sentence saying what an id must look like.
    public init(validating text: String) throws(AuditError) {
        let utf8 = text.utf8
        let valid =
            !utf8.isEmpty && utf8.count <= Self.maximumLength
            && utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
                    || byte == UInt8(ascii: "-")
            }
        guard valid else {
            // The value is shown quoted and escaped (debugDescription), and cut: it came from outside.
            let shown = String(text.prefix(Self.maximumLength + 8)).debugDescription
            throw AuditError(
                .runID,
                "\(shown) is not a run id: a run id is 1 to \(Self.maximumLength) characters of 0-9, a-f and '-' "
                    + "(lowercase), such as 7f3a09c2e41b5d68.")
        }
        rawValue = text
    }

    /// A new id: 64 bits from the kernel's random source (`getrandom(2)`, through
    /// `SystemRandomNumberGenerator`) as 16 lowercase hex digits.
    public static func random() -> AuditRunID {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        let digits = String(value, radix: 16)
        return AuditRunID(checked: String(repeating: "0", count: 16 - digits.count) + digits)
    }

    /// The id in `SENTINEL_RUN_ID`, or `nil` when the variable is unset.
    ///
    /// - Parameter environment: the process's environment.
    /// - Throws: ``AuditError/Code/runID`` when the variable is set (even empty) to something that
    ///   is not an id: a launcher that meant to pass one made a mistake, and a record with another
    ///   id would be lost from its run.
    public static func fromEnvironment(_ environment: [String: String]) throws(AuditError) -> AuditRunID? {
        guard let value = environment[environmentVariable] else { return nil }
        do {
            return try AuditRunID(validating: value)
        } catch {
            throw AuditError(
                .runID,
                "\(environmentVariable)=\(error.message) Unset it to let Sentinel make one, or set it to the id of the run "
                    + "these records belong to.")
        }
    }

    /// The id in `SENTINEL_RUN_ID`, else a new one; `inherited` says which, so that only the
    /// launcher that made the id (the top of the run) says where the run's records are.
    ///
    /// - Parameter environment: the process's environment.
    /// - Throws: ``AuditError/Code/runID`` as ``fromEnvironment(_:)``.
    public static func resolve(_ environment: [String: String]) throws(AuditError) -> (id: AuditRunID, inherited: Bool) {
        if let given = try fromEnvironment(environment) { return (given, true) }
        return (random(), false)
    }

    private init(checked: String) {
        rawValue = checked
    }
}
