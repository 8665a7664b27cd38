// Where one run's records are: the launcher's log and, beside it, the directories of the guard
// inside the sandbox and of a proxy container. One set of names for `sentinel-isolate` (which
// makes the directories), the backends (which mount them), and `sentinel audit tail --run` (which
// reads them together), so the three cannot drift apart.

public import SentinelAudit

/// The logs of one run, named after the launcher's log (`AUDITLOG`).
public enum RunRecords {
    /// The guard's records directory beside `log`: `AUDITLOG.guard`, mounted at
    /// ``SandboxLayout/recordsDirectory`` inside the sandbox.
    ///
    /// - Parameter log: the launcher's log (absolute).
    /// - Returns: the directory.
    public static func guardDirectory(forLog log: String) -> String { log + ".guard" }

    /// A Docker proxy container's records directory beside `log`: `AUDITLOG.proxy` (the native
    /// backend's proxy writes to `log` itself).
    ///
    /// - Parameter log: the launcher's log (absolute).
    /// - Returns: the directory.
    public static func proxyDirectory(forLog log: String) -> String { log + ".proxy" }

    /// The guard's log file in its records directory.
    public static let guardLogName = "audit.log"
    /// The proxy container's log file in its records directory.
    public static let proxyLogName = "proxy-audit.log"

    /// The guard's log beside `log`: `AUDITLOG.guard/audit.log`.
    ///
    /// - Parameter log: the launcher's log.
    /// - Returns: the guard's log.
    public static func guardLog(forLog log: String) -> String { guardDirectory(forLog: log) + "/" + guardLogName }

    /// A proxy container's log beside `log`: `AUDITLOG.proxy/proxy-audit.log`.
    ///
    /// - Parameter log: the launcher's log.
    /// - Returns: the proxy's log.
    public static func proxyLog(forLog log: String) -> String { proxyDirectory(forLog: log) + "/" + proxyLogName }

    /// Every log a run that records to `log` may have written: `log` first, then the guard's and
    /// the proxy container's (which exist only for runs that had them).
    ///
    /// - Parameter log: the launcher's log.
    /// - Returns: the paths, whether or not they exist.
    public static func logs(forLog log: String) -> [String] {
        [log, guardLog(forLog: log), proxyLog(forLog: log)]
    }

    /// The line a launcher prints on stderr before the run starts:
    /// `records of run 7f3a09c2e41b5d68 in /srv/sentinel-audit.log (guard: …; proxy: …); read them
    /// with …`.
    ///
    /// - Parameters:
    ///   - run: the run's id.
    ///   - log: the launcher's own log (absolute).
    ///   - note: a remark on `log` itself (that it is the default place), if any.
    ///   - others: the other records of the run, as (who, where) pairs, in the order to show.
    /// - Returns: the line, without the program's name or a newline.
    public static func line(run: AuditRunID, log: String, note: String? = nil, others: [(String, String)] = []) -> String {
        let parts = (note.map { [$0] } ?? []) + others.map { "\($0.0): \($0.1)" }
        let rest = parts.isEmpty ? "" : " (" + parts.joined(separator: "; ") + ")"
        return "records of run \(run) in \(log)\(rest); read them with `sentinel audit tail --run \(run) \(ShellQuote.quote(log))`."
    }
}
