// `sentinel audit`: check the audit log's chain, and read it.

import ArgumentParser
import Foundation
import SentinelAudit

/// `sentinel audit verify|tail`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check and read the tamper-evident audit log.",
        discussion: """
            Every decision Sentinel makes is one JSON line in the audit log, chained to the line before \
            it by SHA-256 (or HMAC-SHA256 when SENTINEL_AUDIT_HMAC_KEY is set), with an anchor file \
            (PATH.anchor) naming the last record. The records of one run carry its id (`run`), which \
            sentinel-isolate, sentinel guard and sentinel proxy print on stderr with the logs when the run \
            starts; `sentinel audit tail --run ID PATH` shows them together.
            """,
        subcommands: [Verify.self, Tail.self]
    )

    /// The log path when none is given (the policy's `audit.path` is wired in later).
    static let defaultPath = "audit.log"
}

/// The key from `SENTINEL_AUDIT_HMAC_KEY`, or exit 2 with the reason.
private func environmentKey() throws -> AuditKey? {
    do {
        return try AuditKey.fromEnvironment(ProcessInfo.processInfo.environment)
    } catch {
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

extension AuditCommand {
    /// `sentinel audit verify [PATH]`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the chain, the sequence and the anchor; name the first broken record.",
            discussion: """
                Exit status: 0 the log is intact; 1 it was edited, reordered, cut or otherwise tampered \
                with (the first broken record is named); 2 it could not be checked (missing, unreadable, \
                or HMAC-chained and SENTINEL_AUDIT_HMAC_KEY is not set).
                """
        )

        @Argument(help: "The audit log.")
        var path: String = AuditCommand.defaultPath

        @Flag(
            name: .customLong("no-anchor"),
            help: "Check the chain even though the anchor file is missing (trailing deletions then go unnoticed).")
        var noAnchor = false

        func run() throws {
            let key = try environmentKey()
            let verification: AuditVerification
            do {
                verification = try AuditVerifier(key: key, requireAnchor: !noAnchor).verify(path: path)
            } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
            let chain = key == nil ? "SHA-256" : "HMAC-SHA256"
            guard let problem = verification.problem else {
                let anchor = verification.anchorChecked ? "anchor matches" : "no anchor checked"
                print("\(path): intact: \(verification.recordCount) records, \(chain) chain, \(anchor).")
                return
            }
            let sequence = problem.sequence.map { " (seq \($0))" } ?? ""
            print("\(path): TAMPERED: line \(problem.line)\(sequence): \(problem.message).")
            print("  kind: \(problem.kind.rawValue); the \(max(problem.line - 1, 0)) records before it are intact.")
            throw ExitCode(1)
        }
    }
}
