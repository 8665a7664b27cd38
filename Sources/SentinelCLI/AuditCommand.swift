// `sentinel audit`: check the audit log's chain, and read it.

import ArgumentParser
import Foundation
import SentinelApproval
import SentinelAudit

#if canImport(Glibc)
import Glibc
#endif

/// `sentinel audit verify|tail`.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check and read the tamper-evident audit log.",
        discussion: """
            Every decision Sentinel makes is one JSON line in the audit log, chained to the line before \
            it by SHA-256 (or HMAC-SHA256 when SENTINEL_AUDIT_HMAC_KEY is set), with an anchor file \
            (PATH.anchor) naming the last record.
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

    /// `sentinel audit tail [-f] [--json] [-n N] [PATH]`.
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the last records: time, decision, action, target, rule and reason.")

        @Flag(name: .shortAndLong, help: "Keep reading as records are appended.")
        var follow = false

        @Flag(help: "Print the records' JSON lines unchanged.")
        var json = false

        @Option(name: .customShort("n"), help: "How many records to show first.")
        var count: Int = 10

        @Argument(help: "The audit log.")
        var path: String = AuditCommand.defaultPath

        func validate() throws {
            guard count >= 0 else { throw ValidationError("-n must be 0 or more.") }
        }

        func run() async throws {
            var reader = try open()
            let end = try size(of: reader)
            let (lines, start) = try wrap { try reader.lastLines(count, before: end) }
            var position = start + Int64(lines.reduce(0) { $0 + $1.count + 1 })
            show(lines)
            guard follow else { return }

            while true {
                try await Task.sleep(for: .milliseconds(250))
                // A log moved or replaced (a new file at the path): start reading the new one.
                if let replaced = try? AuditReader(path: path), try identity(of: replaced) != identity(of: reader) {
                    reader = replaced
                    position = 0
                    printError("sentinel: \(path) was replaced; reading the new file from its start.")
                }
                let current = try size(of: reader)
                if current < position {
                    printError("sentinel: \(path) shrank (truncated?); reading again from its start.")
                    position = 0
                }
                guard current > position else { continue }
                let (fresh, next) = try wrap { try reader.lines(from: position, upTo: current) }
                position = next
                show(fresh)
            }
        }

        private func open() throws -> AuditReader {
            try wrap { try AuditReader(path: path) }
        }

        private func size(of reader: AuditReader) throws -> Int64 {
            try wrap { try reader.size() }
        }

        private func identity(of reader: AuditReader) throws -> String {
            var info = stat()
            guard lstat(reader.path, &info) == 0 else { return "" }
            return "\(info.st_dev):\(info.st_ino)"
        }

        /// Runs `body`, turning an audit error into a message and exit status 2.
        private func wrap<T>(_ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
        }

        private func show(_ lines: [[UInt8]]) {
            var out = ""
            for line in lines {
                if json {
                    out += String(decoding: line, as: UTF8.self) + "\n"
                } else {
                    out += Self.humanLine(line) + "\n"
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }

        /// One record for people. Every field that came from a guarded program is escaped, so a
        /// target carrying terminal escape sequences cannot repaint the screen.
        static func humanLine(_ line: [UInt8]) -> String {
            guard let record = try? AuditRecord(jsonLine: line) else {
                return "? not a valid audit record: \(VisibleText.escaping(String(decoding: line, as: UTF8.self), limit: 200))"
            }
            let time = String(record.time.prefix(23)) + (record.time.count > 23 ? "Z" : "")
            let decision = record.decision.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)
            let action = VisibleText.escaping(record.action.rawValue, limit: 40)
            var text = "\(time)  \(decision)  \(action.padding(toLength: 11, withPad: " ", startingAt: 0))  "
            text += VisibleText.escaping(record.target, limit: 300)
            var why: [String] = []
            if let rule = record.rule { why.append("[\(VisibleText.escaping(rule, limit: 120))]") }
            why.append(VisibleText.escaping(record.reason, limit: 300))
            if let approver = record.approver, approver != "policy" {
                why.append("(approver: \(VisibleText.escaping(approver, limit: 60)))")
            }
            return text + "  " + why.joined(separator: " ")
        }
    }
}
