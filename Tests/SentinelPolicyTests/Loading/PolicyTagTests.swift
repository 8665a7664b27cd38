import Foundation
import Glibc
import Testing
@testable import SentinelPolicy

/// YAML tags, aliases and keys: a tag the schema does not read is refused where it is written,
/// never dropped; a standard tag that only restates the type is read like no tag; aliases stand
/// for values, never for keys, and cannot make the loader hang.
@Suite struct PolicyTagTests {
    struct Refused: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let line: Int
        let column: Int
        let keyPath: String?
        let fragment: String
        var testDescription: String { name }
    }

    static let refused: [Refused] = [
        Refused(name: "a Python object tag on a list", yaml: "allowed_paths: !!python/object/apply:os.system [id]\n",
                line: 1, column: 16, keyPath: "allowed_paths", fragment: "!!python/object/apply:os.system is not part of"),
        Refused(name: "a Python tag on a list item", yaml: "allowed_paths:\n  - !!python/name:os.system x\n",
                line: 2, column: 5, keyPath: "allowed_paths[0]", fragment: "!!python/name:os.system"),
        Refused(name: "binary data as a path", yaml: "audit: {path: !!binary aGVsbG8=}\n",
                line: 1, column: 15, keyPath: "audit.path", fragment: "!!binary"),
        Refused(name: "a set as a section", yaml: "sandbox: !!set {a, b}\n",
                line: 1, column: 10, keyPath: "sandbox", fragment: "!!set"),
        Refused(name: "a local tag", yaml: "allowed_commands: [!shell echo]\n",
                line: 1, column: 20, keyPath: "allowed_commands[0]", fragment: "!shell"),
        Refused(name: "a tag from a %TAG directive", yaml: "%TAG !e! tag:example.com,2000:\n---\nallowed_paths: [!e!thing x]\n",
                line: 3, column: 17, keyPath: "allowed_paths[0]", fragment: "!<tag:example.com,2000:thing>"),
        Refused(name: "!! redefined by %TAG", yaml: "%TAG !! tag:evil.example,2024:\n---\nallowed_paths: [!!str x]\n",
                line: 3, column: 17, keyPath: "allowed_paths[0]", fragment: "!<tag:evil.example,2024:str>"),
        Refused(name: "a verbatim foreign tag", yaml: "allowed_paths: [!<tag:example.com,2000:x> a]\n",
                line: 1, column: 17, keyPath: "allowed_paths[0]", fragment: "!<tag:example.com,2000:x>"),
        Refused(name: "a tag in a section this version ignores", yaml: "judge: !!python/object/apply:os.system [id]\n",
                line: 1, column: 8, keyPath: "judge", fragment: "!!python/object/apply:os.system"),
        Refused(name: "the non-specific tag", yaml: "allowed_paths: ! [a]\n",
                line: 1, column: 16, keyPath: "allowed_paths", fragment: "the YAML tag !"),
        Refused(name: "a string tag on a list", yaml: "allowed_paths: !!str [a]\n",
                line: 1, column: 16, keyPath: "allowed_paths", fragment: "marks a string, but it is on a list"),
        Refused(name: "an integer tag on a path", yaml: "audit: {path: !!int 5}\n",
                line: 1, column: 15, keyPath: "audit.path", fragment: "marks a whole number, but a string is expected"),
        Refused(name: "a boolean tag on a number", yaml: "sandbox: {pids_limit: !!bool yes}\n",
                line: 1, column: 23, keyPath: "sandbox.pids_limit", fragment: "marks a boolean, but a whole number"),
        Refused(name: "a tagged string where null would mean the default", yaml: "blocked_paths: !!str ~\n",
                line: 1, column: 16, keyPath: "blocked_paths", fragment: "expected a list"),
        Refused(name: "a tag on a key", yaml: "!!python/name:os.system allowed_paths: [a]\n",
                line: 1, column: 1, keyPath: nil, fragment: "!!python/name:os.system"),
        Refused(name: "an alias as a key", yaml: "judge: &j {a: 1}\n*j : x\n",
                line: 2, column: 1, keyPath: nil, fragment: "the alias *j is used as a key"),
        Refused(name: "a list as a key", yaml: "? [a, b]\n: x\n",
                line: 1, column: 3, keyPath: nil, fragment: "a key must be a plain name, found a list"),
    ]

    @Test(arguments: refused)
    func aTagOrKeyTheSchemaDoesNotReadIsRefusedWhereItIsWritten(_ example: Refused) throws {
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: [:]).parse(example.yaml, name: "sentinel.yaml")
        }
        #expect(error.location == SourceLocation(file: "sentinel.yaml", line: example.line, column: example.column), "\(error)")
        #expect(error.keyPath == example.keyPath, "\(error)")
        #expect(error.description.contains(example.fragment), "\(error)")
        #expect(error.hint != nil, "\(error)")
    }

    @Test("standard tags that restate the type read like no tag", arguments: [
        "allowed_paths: !!seq [!!str ./workspace]\n",
        "!!map {allowed_paths: [./workspace]}\n",
        "allowed_paths: [\"./workspace\"]\napproval: !!map {timeout_seconds: !!int 30, mode: !!str reject}\n",
        "allowed_paths: [./workspace]\nallow_hardlinked_writes: !!bool false\nsandbox: {cpus: !!float 1.0, pids_limit: !!int 256}\n",
        "allowed_paths: [./workspace]\nblocked_paths: !!null\napproval: {timeout_seconds: !!str 60}\n",
    ])
    func restatingTagsAreRead(_ yaml: String) throws {
        let document = try PolicyLoader(environment: [:]).parse(yaml)
        #expect(document.allowedPaths.map(\.value) == ["./workspace"])
        #expect(document.blockedPaths.isEmpty)
        #expect(document.approval.timeoutSeconds == (yaml.contains("30") ? 30 : 60))
        #expect(document.sandbox.pidsLimit == 256)
        #expect(!document.allowHardlinkedWrites)
    }

    @Test func aliasesStandForValues() throws {
        let document = try PolicyLoader(environment: [:]).parse("blocked_paths: &secrets [/etc, ~/.ssh]\nread_only_paths: *secrets\n")
        #expect(document.readOnlyPaths.map(\.value) == ["/etc", "~/.ssh"])
    }

    /// A "billion laughs" (ten levels of ten aliases: 10^10 nodes when expanded), used where the
    /// loader reads a value, where it ignores one (`opa`, which loads with a warning), and as a
    /// key. Yams hashes every mapping key to find duplicates, so a key that expands this way hangs
    /// a loader that lets Yams compose it. Each case runs in a child process with a watchdog, so
    /// a hang fails the test instead of stopping the run.
    @Test("an alias bomb never makes the loader hang, wherever it is used", arguments: [
        "allowed_paths: *a10\n", "opa: *a10\n", "? *a10\n: x\n", "*a10 : x\n", "opa: {*a10}\n", "opa: {[*a10]: x}\n",
        "opa:\n  ? [*a10]\n  : x\n",
    ])
    func anAliasBombIsRefusedAtOnce(_ use: String) async {
        await #expect(processExitsWith: .success) { [use = use as String] in
            var text = "judge:\n  a0: &a0 [lol]\n"
            for level in 1...10 {
                text += "  a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
            }
            text += use
            // Far beyond the milliseconds this takes: only a loader that never finishes reaches it.
            let watchdog = Thread {
                Thread.sleep(forTimeInterval: 60)
                _exit(3)
            }
            watchdog.start()
            do throws(PolicyError) {
                // Only where the section is ignored may it load; everywhere else it is refused.
                let document = try PolicyLoader(environment: [:]).parse(text, name: "bomb.yaml")
                exit(use.hasPrefix("opa: *") && document.allowedPaths.isEmpty ? 0 : 1)
            } catch {
                exit((error.location?.line ?? 0) >= 1 ? 0 : 2)
            }
        }
    }
}
