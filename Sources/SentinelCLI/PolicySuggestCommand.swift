// `sentinel policy suggest`: read audit logs, and print (or write) the smallest policy additions
// that would have allowed what they denied.

import ArgumentParser
import Foundation
import SentinelAudit
import SentinelPolicy

#if canImport(Glibc)
import Glibc
#endif

extension PolicyCommand {
    /// `sentinel policy suggest AUDIT_LOG… [--policy FILE] [--write FILE] [--json]`.
    struct Suggest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suggest the smallest policy additions that would have allowed what audit logs denied.",
            discussion: """
                Reads every denial (deny, rejected, and approved by a person) in the logs, each log's chain \
                checked first, and prints a commented YAML patch: allowed_commands entries for denied \
                programs, allowed_paths directories for denied writes, allowed_hosts entries with their \
                ports for denied connects and URLs. Denials no addition may allow (blocked paths, cloud \
                metadata, the interpreter denylist, refusals of the guard itself…) are listed as comments, \
                never suggested. With --policy, entries the policy already has are left out; with --write, \
                the policy with the additions is checked and written to FILE.

                Exit status: 0 done (also when there is nothing to suggest); 2 a log is damaged or \
                unreadable, the policy is invalid, or the result could not be written.
                """
        )

        @Argument(help: "The audit logs to read.")
        var logs: [String]

        @Option(name: .long, help: "The policy in force: its entries are not suggested again, and --write starts from it.")
        var policy: String?

        @Option(name: .long, help: "Write the policy with the additions to this file (atomically, after checking it).")
        var write: String?

        @Flag(name: .long, help: "Print the suggestions as one JSON object.")
        var json = false

        func validate() throws {
            guard !logs.isEmpty else { throw ValidationError("Give at least one audit log.") }
        }

        func run() async throws {
            let denials = try readDenials()
            // The policy file's own text, whatever SENTINEL_POLICY_CONTENT says: this command edits files.
            let loader = PolicyLoader(environment: [:])
            let context = PolicyContext.current()
            var policyText = ""
            var current: Policy?
            if let path = policy {
                do {
                    (_, policyText) = try loader.readSource(path: path)
                    current = try Policy(document: loader.parse(policyText, name: path), context: context)
                } catch {
                    printError("error: \(error)")
                    throw ExitCode(PolicyExit.error)
                }
            }
            let suggestions = PolicySuggester(policy: current, context: context).suggest(denials)

            if denials.isEmpty {
                if json {
                    printJSON(Self.jsonObject(suggestions, logs: logs, written: nil))
                } else {
                    print("No denials in \(logs.joined(separator: ", ")): nothing to suggest.")
                }
                return
            }
            var written: String?
            if let write {
                if suggestions.isEmpty {
                    printError("sentinel: nothing to add, so \(write) was not written.")
                } else {
                    let digest = try writePolicy(suggestions, base: policyText, to: write, context: context)
                    written = write
                    // A pinned policy (SENTINEL_POLICY_SHA256) no longer matches once it changes.
                    printError("sentinel: \(write) has SHA-256 \(digest); update SENTINEL_POLICY_SHA256 where the policy is pinned.")
                }
            }
            if json {
                printJSON(Self.jsonObject(suggestions, logs: logs, written: written))
            } else {
                FileHandle.standardOutput.write(Data(suggestions.yamlPatch(sources: logs, policy: policy).utf8))
                if let written {
                    printError("sentinel: wrote \(written) with \(suggestions.additions.count) addition(s); check it with `sentinel policy validate --policy \(written)`.")
                }
            }
        }

        // MARK: - Reading

        /// Every denial of every log, each log's chain verified first (a log that does not verify
        /// is an error: a suggestion must not rest on records someone may have forged).
        func readDenials() throws -> [ObservedDenial] {
            let key: AuditKey?
            do {
                key = try AuditKey.fromEnvironment(ProcessInfo.processInfo.environment)
            } catch {
                printError("error: \(error)")
                throw ExitCode(PolicyExit.error)
            }
            var denials: [ObservedDenial] = []
            for path in logs {
                do {
                    // A copy of a log may come without its anchor; the chain is still checked, and
                    // records cut from the end could only mean fewer suggestions, never wider ones.
                    let verification = try AuditVerifier(key: key, requireAnchor: false).verify(path: path)
                    if let problem = verification.problem {
                        printError("error: \(path):\(problem.line): the audit log does not verify: \(problem.message). Check it with `sentinel audit verify \(path)`; nothing is suggested from a damaged log.")
                        throw ExitCode(PolicyExit.error)
                    }
                    let reader = try AuditReader(path: path)
                    let (lines, _) = try reader.lines(from: 0, upTo: try reader.size())
                    for (index, line) in lines.prefix(verification.recordCount).enumerated() {
                        let record = try AuditRecord(jsonLine: line)
                        if let denial = Self.denial(record, source: "\(path):\(index + 1)") { denials.append(denial) }
                    }
                } catch let error as AuditError {
                    printError("error: \(error)")
                    throw ExitCode(PolicyExit.error)
                }
            }
            return denials
        }

        /// The denial a record describes: the policy denied the action (and no one, or a person,
        /// decided after it); `nil` for allows and for records that are not decisions.
        static func denial(_ record: AuditRecord, source: String) -> ObservedDenial? {
            guard [.deny, .rejected, .approved].contains(record.decision) else { return nil }
            return ObservedDenial(
                action: record.action.rawValue, target: record.target, rule: record.rule, reason: record.reason,
                decision: record.decision.rawValue, details: record.details ?? [:], source: source)
        }

        // MARK: - Writing

        /// Writes `base` with the additions to `path`: refuses a result that does not load, compile
        /// and allow what each addition must, and any existing file but the --policy file itself;
        /// writes through a temporary file renamed over the target, so no reader sees half a policy.
        /// Returns the SHA-256 of the text written.
        func writePolicy(_ suggestions: PolicySuggestions, base: String, to path: String, context: PolicyContext) throws -> String {
            func fail(_ sentence: String) -> ExitCode {
                printError("error: \(sentence)")
                return ExitCode(PolicyExit.error)
            }
            let absolute = PolicyLoader.absolutePath(path)
            var existing = stat()
            if lstat(absolute, &existing) == 0 {
                var source = stat()
                let isPolicy = policy.map { stat(PolicyLoader.absolutePath($0), &source) == 0 } ?? false
                    && source.st_dev == existing.st_dev && source.st_ino == existing.st_ino
                guard isPolicy, existing.st_mode & S_IFMT == S_IFREG else {
                    throw fail("\(path) already exists and is not the --policy file; give a new file name (only the --policy file itself, named explicitly, is replaced).")
                }
            }
            let text: String
            do {
                text = try suggestions.applied(to: base)
            } catch {
                throw fail("cannot add the suggestions to \(policy ?? "the policy"): \(error)")
            }
            let compiled: Policy
            do {
                compiled = try Policy(document: PolicyLoader(environment: [:]).parse(text, name: path), context: context)
            } catch {
                throw fail("the policy with the additions would not be valid, so \(path) was not written: \(error)")
            }
            let problems = suggestions.unallowed(by: compiled)
            guard problems.isEmpty else {
                throw fail("the policy with the additions would still deny what they are for, so \(path) was not written: \(problems.joined(separator: "; ")).")
            }
            let mode = existing.st_mode != 0 ? existing.st_mode & 0o7777 : 0o644
            do {
                try Self.writeAtomically(Array(text.utf8), to: absolute, mode: mode_t(mode))
            } catch {
                throw fail("cannot write \(path): \(error)")
            }
            return PolicyIntegrity.sha256Hex(of: text)
        }

        /// Why a file could not be written.
        struct WriteError: Error, CustomStringConvertible {
            var description: String
        }

        /// Writes a temporary file beside `path`, syncs it, and renames it over `path`.
        static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(WriteError) {
            let directory = (path as NSString).deletingLastPathComponent
            var template = Array((directory + "/.sentinel-suggest-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw WriteError(description: "cannot create a file in \(directory) (\(String(cString: strerror(errno))))") }
            let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            var done = false
            defer {
                if !done { unlink(temporary) }
            }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    close(fd)
                    throw WriteError(description: String(cString: strerror(code)))
                }
                offset += written
            }
            guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
                let code = errno
                close(fd)
                throw WriteError(description: String(cString: strerror(code)))
            }
            close(fd)
            guard rename(temporary, path) == 0 else { throw WriteError(description: String(cString: strerror(errno))) }
            done = true
        }

        // MARK: - JSON

        static func jsonObject(_ suggestions: PolicySuggestions, logs: [String], written: String?) -> [String: Any] {
            var object: [String: Any] = [
                "logs": logs,
                "denials": suggestions.denialCount,
                "covered": suggestions.coveredCount,
                "additions": suggestions.additions.map { addition -> [String: Any] in
                    var item: [String: Any] = [
                        "list": addition.list.rawValue, "value": addition.value, "count": addition.count,
                        "example": addition.example, "yaml": addition.yamlItem,
                    ]
                    if !addition.ports.isEmpty { item["ports"] = addition.ports }
                    if !addition.schemes.isEmpty { item["schemes"] = addition.schemes }
                    if let note = addition.note { item["note"] = note }
                    return item
                },
                "interpreters": suggestions.interpreters.map {
                    ["program": $0.program, "count": $0.count, "example": $0.example,
                     "note": "not suggested: the built-in interpreter denylist; allow_interpreter: true lifts it for this file, at your own risk"] as [String: Any]
                },
                "already_allowed": suggestions.alreadyAllowed.map(group),
                "not_suggested": suggestions.withheld.map(group),
            ]
            if let written { object["written"] = written }
            return object
        }

        private static func group(_ group: WithheldDenial) -> [String: Any] {
            ["rule": group.rule, "action": group.action, "why": group.why, "count": group.count, "example": group.example]
        }
    }
}
