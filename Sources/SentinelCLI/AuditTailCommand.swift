// `sentinel audit tail`: read records, for people or for scripts; one run's records from all the
// logs it wrote (the launcher's, the guard's, the proxy's) in time order; only refusals, or only
// some kinds; and keep reading as records arrive.

import ArgumentParser
import Foundation
import SentinelApproval
import SentinelAudit
import SentinelSandbox

#if canImport(Glibc)
import Glibc
#endif

extension AuditCommand {
    /// `sentinel audit tail [-f] [--json] [-n N] [--run ID] [--denied] [--kind K]… [PATH]`.
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show records: the last ones, those that match, or one run's from every log it wrote.",
            discussion: """
                Each record is shown with its time, enforcement point (mode), decision, kind (action), target, \
                rule, reason and approver, then its run and every detail on lines of their own, in full; text a \
                guarded program chose is escaped, never cut. --json prints the records' lines unchanged, one JSON \
                object per line.

                --run ID reads PATH and the logs a run writes beside it (PATH.guard/audit.log, the guard inside \
                the sandbox; PATH.proxy/proxy-audit.log, a Docker proxy container) and shows that run's records \
                from all of them in time order (then by seq). sentinel-isolate, sentinel guard and sentinel proxy \
                name the run and its logs on stderr when it starts.

                Kinds: \(Self.knownKinds.map(\.rawValue).joined(separator: ", ")).

                Exit status: 0 records were shown (or none matched); 2 a log is missing or unreadable, a line is \
                not a record, or an option is wrong (with --json the error is a JSON object on stdout: \
                {"error": {"code", "message", "path", "line"}}).
                """)

        @Flag(name: .shortAndLong, help: "Keep reading as records are appended (to every log of the run with --run).")
        var follow = false

        @Flag(help: "Print the records' JSON lines unchanged (and errors as JSON).")
        var json = false

        @Option(name: .customShort("n"), help: "How many records to show first (default: 10; with --run, all of the run's).")
        var count: Int?

        @Option(name: .customLong("run"), help: ArgumentHelp("Only the records of this run, from PATH and its sibling logs.", valueName: "id"))
        var runID: String?

        @Flag(help: "Only refusals: decisions deny and rejected.")
        var denied = false

        @Option(name: .customLong("kind"), help: ArgumentHelp("Only records of this kind (their action: exec, connect, file_write…); repeatable.", valueName: "kind"))
        var kinds: [String] = []

        @Argument(help: "The audit log (with --run: the run's main log, the one its launcher named).")
        var path: String = AuditCommand.defaultPath

        /// Every kind Sentinel writes: `AuditAction`'s own, then those its enforcement points name
        /// themselves (the guard's refused calls, compatibility mode's input check, the proxy's
        /// lifecycle and close records). `--kind` refuses any other, so a typo is not an empty answer.
        static let knownKinds: [AuditAction] = [
            .exec, .fileRead, .fileWrite, .connect, .http, .dns, .terminalInput, .rawSocket, .runStart, .runEnd,
            .attestation, .tamper, .auditIntegrity,
            "syscall", "input", "tunnel_close", "http_close", "proxy_start", "proxy_reload", "proxy_stop",
        ]

        func run() async throws {
            let output = TailOutput(json: json)
            do {
                let selection = try selection()
                var sources = try TailSource.open(paths: selection.runID == nil ? [path] : RunRecords.logs(forLog: path))
                var shown = try initialRecords(&sources, selection: selection)
                if let limit = count ?? (selection.runID == nil ? 10 : nil) { shown = Array(shown.suffix(limit)) }
                output.show(shown)
                guard follow else { return }
                while true {
                    try await Task.sleep(for: .milliseconds(250))
                    var fresh: [TailRecord] = []
                    for index in sources.indices {
                        fresh += try sources[index].newRecords(order: index, selection: selection, note: output.note)
                    }
                    output.show(fresh.sorted(by: TailRecord.inOrder))
                }
            } catch let error as TailError {
                output.fail(error)
                throw ExitCode(2)
            }
        }

        /// The options as a filter, or the sentence saying which one is wrong.
        private func selection() throws(TailError) -> TailSelection {
            if let count, count < 0 { throw TailError(code: "usage", message: "-n must be 0 or more (got \(count)).") }
            var run: AuditRunID?
            if let runID {
                do {
                    run = try AuditRunID(validating: runID)
                } catch {
                    throw TailError(code: "usage", message: "--run: \(error.message)")
                }
            }
            var wanted: Set<AuditAction> = []
            for kind in kinds {
                guard Self.knownKinds.contains(AuditAction(rawValue: kind)) else {
                    throw TailError(
                        code: "usage",
                        message: "--kind \(VisibleText.escaping(kind, limit: 80)) is not a kind of record; the kinds are "
                            + Self.knownKinds.map(\.rawValue).joined(separator: ", ") + ".")
                }
                wanted.insert(AuditAction(rawValue: kind))
            }
            return TailSelection(runID: run, deniedOnly: denied, kinds: wanted)
        }

        /// The records to show first: the last lines of one log when nothing filters, else every
        /// matching record of every log, merged in time order.
        private func initialRecords(_ sources: inout [TailSource], selection: TailSelection) throws(TailError) -> [TailRecord] {
            if selection.isEverything, sources.count == 1 {
                return try sources[0].lastRecords(count ?? 10, order: 0)
            }
            var records: [TailRecord] = []
            for index in sources.indices {
                records += try sources[index].newRecords(order: index, selection: selection, note: { _ in })
            }
            return records.sorted(by: TailRecord.inOrder)
        }
    }
}

/// What `tail` keeps.
struct TailSelection {
    var runID: AuditRunID?
    var deniedOnly: Bool
    var kinds: Set<AuditAction>

    /// Whether every record is kept (plain `tail`).
    var isEverything: Bool { runID == nil && !deniedOnly && kinds.isEmpty }

    func matches(_ record: AuditRecord) -> Bool {
        if let runID, record.run != runID.rawValue { return false }
        if deniedOnly, record.decision != .deny && record.decision != .rejected { return false }
        if !kinds.isEmpty, !kinds.contains(record.action) { return false }
        return true
    }
}

/// A record as read: decoded for filtering and display, and its exact line for `--json`.
struct TailRecord {
    var record: AuditRecord
    var line: [UInt8]
    /// Which log it came from (its position in the run's list), the last tie-breaker.
    var order: Int

    /// By time (RFC 3339 with a fixed width, so text order is time order), then seq, then log.
    static func inOrder(_ a: TailRecord, _ b: TailRecord) -> Bool {
        if a.record.time != b.record.time { return a.record.time < b.record.time }
        if a.record.sequence != b.record.sequence { return a.record.sequence < b.record.sequence }
        return a.order < b.order
    }
}

/// Why `tail` stopped: one sentence, and what a script needs to tell cases apart.
struct TailError: Error {
    /// `usage`, or the audit error's code (`open`, `read`, `malformedRecord`…).
    var code: String
    var message: String
    var path: String?
    var line: Int?

    init(code: String, message: String, path: String? = nil, line: Int? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.line = line
    }

    init(_ error: AuditError) {
        self.init(code: error.code.description, message: error.description, path: error.path)
    }
}

/// One log being read: its reader (once the file exists), how far it was read, and its lines.
struct TailSource {
    let path: String
    /// Whether the log must exist (the one named on the command line); a run's sibling logs exist
    /// only for runs that had a guard or a proxy container, and may appear while following.
    let required: Bool
    private var reader: AuditReader?
    /// The device and inode of the file `reader` opened, to notice a log moved away and replaced.
    private var identity: String?
    private var position: Int64 = 0
    /// The line number of the line at `position`, when known (after reading from the start).
    private var lineNumber: Int? = 1

    /// Opens `paths`; the first must exist.
    static func open(paths: [String]) throws(TailError) -> [TailSource] {
        var sources: [TailSource] = []
        for (index, path) in paths.enumerated() {
            var source = TailSource(path: path, required: index == 0)
            try source.reopen()
            sources.append(source)
        }
        return sources
    }

    private init(path: String, required: Bool) {
        self.path = path
        self.required = required
    }

    /// Opens the log (again), from its start; a sibling that does not exist yet stays closed.
    private mutating func reopen() throws(TailError) {
        position = 0
        lineNumber = 1
        do {
            reader = try AuditReader(path: path)
            identity = Self.identity(of: path)
        } catch where !required && error.errno == ENOENT {
            reader = nil
        } catch {
            throw TailError(error)
        }
    }

    /// The last `count` records of the log, and the read position after them.
    mutating func lastRecords(_ count: Int, order: Int) throws(TailError) -> [TailRecord] {
        guard let reader else { return [] }
        let (lines, start) = try audit { () throws(AuditError) in try reader.lastLines(count, before: try reader.size()) }
        position = start
        lineNumber = start == 0 ? 1 : nil
        var records: [TailRecord] = []
        for line in lines {
            records.append(try decode(line, order: order))
            advance(past: line)
        }
        return records
    }

    /// The records appended since the last read that `selection` keeps. Notices a log that was
    /// replaced or shrank (and reads it again from its start, saying so through `note`) and a
    /// sibling log that appeared.
    mutating func newRecords(order: Int, selection: TailSelection, note: (String) -> Void) throws(TailError) -> [TailRecord] {
        if reader == nil {
            try reopen()
        } else if let now = Self.identity(of: path), now != identity {
            note("\(path) was replaced; reading the new file from its start.")
            try reopen()
        }
        guard let reader else { return [] }
        let size = try audit { () throws(AuditError) in try reader.size() }
        if size < position {
            note("\(path) shrank (truncated?); reading again from its start.")
            position = 0
            lineNumber = 1
        }
        guard size > position else { return [] }
        let from = position
        let (lines, _) = try audit { () throws(AuditError) in try reader.lines(from: from, upTo: size) }
        var records: [TailRecord] = []
        for line in lines {
            let record = try decode(line, order: order)
            advance(past: line)
            if selection.matches(record.record) { records.append(record) }
        }
        return records
    }

    private mutating func advance(past line: [UInt8]) {
        position += Int64(line.count + 1)
        lineNumber = lineNumber.map { $0 + 1 }
    }

    /// The record on `line`, or the sentence naming the log and the line that is not one.
    private func decode(_ line: [UInt8], order: Int) throws(TailError) -> TailRecord {
        do {
            return TailRecord(record: try AuditRecord(jsonLine: line), line: line, order: order)
        } catch {
            let number = lineNumber ?? countLines(before: position)
            throw TailError(
                code: error.code.description,
                message: "\(path), line \(number): \(error.message) Check the log with `sentinel audit verify \(path)`.",
                path: path, line: number)
        }
    }

    /// The 1-based number of the line starting at `offset` (only on the way to an error, when the
    /// read began mid-file).
    private func countLines(before offset: Int64) -> Int {
        guard let reader, let read = try? reader.lines(from: 0, upTo: offset) else { return 0 }
        return read.lines.count + 1
    }

    /// Runs `body`, turning an audit error into the tail's.
    private func audit<T>(_ body: () throws(AuditError) -> T) throws(TailError) -> T {
        do {
            return try body()
        } catch {
            throw TailError(error)
        }
    }

    /// `device:inode` of the file at `path` now, or nil when there is none.
    private static func identity(of path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return "\(info.st_dev):\(info.st_ino)"
    }
}

/// Where records and errors go: stdout, for people or as JSON lines.
struct TailOutput {
    let json: Bool

    func show(_ records: [TailRecord]) {
        guard !records.isEmpty else { return }
        var out = ""
        for record in records {
            out += json ? String(decoding: record.line, as: UTF8.self) : Self.humanText(record.record)
            out += "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    /// A remark while following (a log replaced): stderr, which stays text even with --json.
    func note(_ text: String) {
        printError("sentinel: \(text)")
    }

    func fail(_ error: TailError) {
        guard json else {
            printError("error: \(error.message)")
            return
        }
        var object: [String: Any] = ["code": error.code, "message": error.message]
        if let path = error.path { object["path"] = path }
        if let line = error.line { object["line"] = line }
        printJSON(["error": object])
    }

    /// One record for people: a line with time, mode, decision, kind, target, rule, reason and
    /// approver, then the run and each detail on indented lines of their own. Every field is
    /// escaped (a target carrying terminal escapes cannot repaint the screen) and none is cut.
    static func humanText(_ record: AuditRecord) -> String {
        func shown(_ text: String) -> String { VisibleText.escaping(text, limit: .max) }
        let time = String(record.time.prefix(23)) + (record.time.count > 23 ? "Z" : "")
        let mode = shown(record.mode.rawValue).padding(toLength: 7, withPad: " ", startingAt: 0)
        let decision = record.decision.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)
        let action = shown(record.action.rawValue).padding(toLength: 11, withPad: " ", startingAt: 0)
        var why: [String] = []
        if let rule = record.rule { why.append("[\(shown(rule))]") }
        why.append(shown(record.reason))
        if let approver = record.approver, approver != "policy" { why.append("(approver: \(shown(approver)))") }
        var text = "\(time)  \(mode)  \(decision)  \(action)  \(shown(record.target))  " + why.joined(separator: " ")
        if let run = record.run { text += "\n    run: \(shown(run))" }
        for (key, value) in (record.details ?? [:]).sorted(by: { $0.key < $1.key }) {
            text += "\n    \(shown(key)): \(shown(value))"
        }
        return text
    }
}
