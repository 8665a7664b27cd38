// The policy loader against mutated policies: YAML structure, tags, anchors and aliases, huge
// and deep documents, invalid UTF-8, control characters and several documents.
//
// Invariants, for every input:
// - loading (and compiling what loads) neither crashes nor hangs;
// - a rejection is a `PolicyError` at file:line:column (line and column from 1) whose message is
//   one sentence on one line;
// - an accepted policy, written back as YAML (every value double-quoted) and loaded again, is the
//   same document, compiles the same way and gives the same warnings.

import Foundation
import Testing
@testable import SentinelPolicy

@Suite("Policy loader fuzzing")
struct PolicyLoaderFuzzTests {
    @Test("mutated policies load, or are refused with a located sentence; accepted ones round-trip")
    func fuzzTheLoader() async {
        let run = FuzzRun.fromEnvironment(iterations: 20_000, name: "loader")
        print("policy loader fuzz: seed \(run.seed); repeat with SENTINEL_FUZZ_SEED=\(run.seed)")
        let result = await #expect(processExitsWith: .success) { [run = run as FuzzRun] in
            LoaderFuzz.run(run)
        }
        let report = run.collectReport()
        print("policy loader fuzz: " + report)
        if result == nil { Issue.record(Comment(rawValue: report)) }
    }
}

/// The child's side of the loader fuzz test.
enum LoaderFuzz {
    static func run(_ run: FuzzRun) {
        let directory = NSTemporaryDirectory() + "sentinel-loader-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/sentinel.yaml"
        let context = PolicyContext(baseDirectory: directory, homeDirectory: directory)
        let report = FuzzReport(run)
        let watchdog = Watchdog(limit: .seconds(30), report: report)
        let corpus = Corpus.seeds()
        var accepted = 0
        var refused = 0

        let ran = run.forEachIteration(report) { iteration, generator in
            let bytes = Mutator.input(from: corpus, using: &generator)
            let shown = String(decoding: bytes, as: UTF8.self)
            func fail(_ problem: String) -> Never { report.fail(iteration: iteration, input: shown, problem) }
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { fail("cannot write \(path)") }

            let outcome = watchdog.watch(iteration: iteration, input: shown) { () -> Result<(LoadedPolicy, Compiled), PolicyError> in
                do throws(PolicyError) {
                    let loaded = try PolicyLoader(environment: [:]).load(path: path)
                    return .success((loaded, Compiled(loaded.document, context: context)))
                } catch {
                    return .failure(error)
                }
            }
            switch outcome {
            case .failure(let error):
                refused += 1
                if let problem = Invariants.problem(with: error, file: path) { fail(problem) }
            case .success(let (loaded, compiled)):
                accepted += 1
                // Compile errors outside allowed_hosts come from the engine's other rules, whose
                // messages may quote a value's control characters as they are (reported, not
                // this suite's to change): for those, the position and the sentence are checked.
                if case .failure(let error) = compiled.result,
                   let problem = Invariants.problem(with: error, file: path,
                                                    oneLine: error.keyPath?.hasPrefix("allowed_hosts") ?? true) {
                    fail("compiling: " + problem)
                }
                let again = watchdog.watch(iteration: iteration, input: shown) {
                    Invariants.roundTripProblem(loaded.document, warnings: loaded.warnings, compiled: compiled, context: context)
                }
                if let problem = again { fail(problem) }
            }
        }
        report.write("seed \(run.seed): \(ran) inputs, \(accepted) accepted, \(refused) refused\n")
        exit(0)
    }
}

/// A document compiled for a context: the outcome, and the warnings if it compiled.
struct Compiled {
    let result: Result<[String], PolicyError>

    init(_ document: PolicyDocument, context: PolicyContext) {
        do {
            let policy = try Policy(document: document, context: context)
            result = .success(policy.warnings.map { "\($0.keyPath): \($0.message)" })
        } catch {
            result = .failure(error)
        }
    }
}

enum Invariants {
    /// What is wrong with a rejection, or `nil`: it must be at file:line:column, with a message
    /// that ends like a sentence and (when `oneLine`) holds no control character.
    static func problem(with error: PolicyError, file: String, oneLine: Bool = true) -> String? {
        guard let location = error.location else { return "the error has no location: \(error)" }
        guard location.file == file else { return "the error names \(location.file), not \(file): \(error)" }
        guard location.line >= 1, location.column >= 1 else { return "the error has no line and column: \(error)" }
        guard let last = error.message.last, ".?".contains(last) else { return "the message is not a sentence: \(error)" }
        if oneLine, let control = error.description.unicodeScalars.first(where: { $0.value < 0x20 || (0x7f..<0xa0).contains($0.value) }) {
            return "the message holds the control character U+\(String(control.value, radix: 16)): "
                + FuzzOutput.escaped(error.description)
        }
        return nil
    }

    /// Writes `document` back as YAML, loads it again and compares.
    static func roundTripProblem(_ document: PolicyDocument, warnings: [PolicyWarning], compiled: Compiled,
                                 context: PolicyContext) -> String? {
        let text = PolicyEmitter.yaml(document)
        var reader = PolicyYAMLReader(file: "round-trip.yaml")
        let again: PolicyDocument
        do {
            again = try reader.read(text)
        } catch {
            return "the round trip is refused: \(error)\nwritten as: \(FuzzOutput.escaped(text))"
        }
        guard PolicyEmitter.stripped(again) == PolicyEmitter.stripped(document) else {
            return "the round trip reads differently\nwritten as: \(FuzzOutput.escaped(text))"
        }
        // Sections this version ignores are not in the document, so their warnings cannot come back;
        // nor can the empty-policy warning ("(policy)"), which is about a file's text holding no key
        // at all, and a written-back document always names its keys.
        let ignored = Set(PolicyYAMLReader.acknowledgedTopLevelKeys.keys).union(["phishing.suspicious_keywords", "(policy)"])
        let before = warnings.filter { !ignored.contains($0.keyPath) }.map { "\($0.keyPath): \($0.message)" }
        let after = reader.warnings.map { "\($0.keyPath): \($0.message)" }
        guard before == after else { return "the round trip warns differently: \(before) then \(after)" }
        let recompiled = Compiled(again, context: context)
        switch (compiled.result, recompiled.result) {
        case (.success(let a), .success(let b)) where a == b:
            return nil
        case (.failure(let a), .failure(let b)) where a.code == b.code && a.keyPath == b.keyPath && a.message == b.message:
            return nil
        default:
            return "the round trip compiles differently: \(compiled.result) then \(recompiled.result)"
        }
    }
}

/// Writes a `PolicyDocument` as YAML, every string double-quoted with escapes, so that what the
/// reader accepted is written back without any of the original's layout.
enum PolicyEmitter {
    static func yaml(_ document: PolicyDocument) -> String {
        func list(_ values: [Located<String>]) -> String { "[" + values.map { quote($0.value) }.joined(separator: ", ") + "]" }
        var lines: [String] = []
        lines.append("allowed_paths: \(list(document.allowedPaths))")
        lines.append("blocked_paths: \(list(document.blockedPaths))")
        lines.append("read_only_paths: \(list(document.readOnlyPaths))")
        lines.append("allow_hardlinked_writes: \(document.allowHardlinkedWrites)")
        lines.append("allowed_commands:" + (document.allowedCommands.isEmpty ? " []" : ""))
        for entry in document.allowedCommands {
            lines.append("  - {command: \(quote(entry.command)), args_deny: \(list(entry.argsDeny))}")
        }
        lines.append("blocked_command_bases: \(list(document.blockedCommandBases))")
        lines.append("host_match_mode: \(document.hostMatchMode.rawValue)")
        lines.append("allowed_hosts:" + (document.allowedHosts.isEmpty ? " []" : ""))
        for entry in document.allowedHosts {
            var fields = ["host: \(quote(entry.host))"]
            if let match = entry.match { fields.append("match: \(match.rawValue)") }
            if let schemes = entry.schemes { fields.append("schemes: [\(schemes.sorted().map(quote).joined(separator: ", "))]") }
            if let ports = entry.ports { fields.append("ports: [\(ports.sorted().map(String.init).joined(separator: ", "))]") }
            lines.append("  - {\(fields.joined(separator: ", "))}")
        }
        lines.append("blocked_keywords: \(list(document.blockedKeywords))")
        lines.append("policy_integrity: {tamper_detection: \(document.tamperDetection)}")
        lines.append("phishing: {enabled: \(document.phishing.enabled), blocked_tlds: \(list(document.phishing.blockedTLDs))}")
        let failsafe = document.networkFailsafe
        lines.append("network_failsafe:")
        lines.append("  socket_connect: \(failsafe.socketConnect)")
        lines.append("  allow_private_network: \(failsafe.allowPrivateNetwork)")
        lines.append("  allow_raw_sockets: \(failsafe.allowRawSockets)")
        lines.append("  blocked_hosts: \(list(failsafe.blockedHosts))")
        lines.append("  blocked_ips: \(list(failsafe.blockedIPs))")
        lines.append("  allowed_ips: \(list(failsafe.allowedIPs))")
        lines.append("approval: {mode: \(document.approval.mode.rawValue), timeout_seconds: \(document.approval.timeoutSeconds)}")
        lines.append("audit: {path: \(quote(document.audit.path))}")
        let sandbox = document.sandbox
        lines.append("sandbox: {pids_limit: \(sandbox.pidsLimit), memory: \(quote(sandbox.memory)), cpus: \(sandbox.cpus), "
            + "tmpfs_size: \(quote(sandbox.tmpfsSize)), env_allow: [\(sandbox.envAllow.map(quote).joined(separator: ", "))]}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func quote(_ text: String) -> String { YAMLText.doubleQuoted(text) }

    /// The document with every location removed (the round trip moves every value).
    static func stripped(_ document: PolicyDocument) -> PolicyDocument {
        func strip(_ values: [Located<String>]) -> [Located<String>] {
            values.map { Located($0.value, keyPath: $0.keyPath) }
        }
        var copy = document
        copy.allowedPaths = strip(copy.allowedPaths)
        copy.blockedPaths = strip(copy.blockedPaths)
        copy.readOnlyPaths = strip(copy.readOnlyPaths)
        copy.allowedCommands = copy.allowedCommands.map {
            CommandEntry(command: $0.command, argsDeny: strip($0.argsDeny), keyPath: $0.keyPath)
        }
        copy.blockedCommandBases = strip(copy.blockedCommandBases)
        copy.allowedHosts = copy.allowedHosts.map {
            HostEntry(host: $0.host, match: $0.match, schemes: $0.schemes, ports: $0.ports, keyPath: $0.keyPath)
        }
        copy.blockedKeywords = strip(copy.blockedKeywords)
        copy.phishing.blockedTLDs = strip(copy.phishing.blockedTLDs)
        copy.networkFailsafe.blockedHosts = strip(copy.networkFailsafe.blockedHosts)
        copy.networkFailsafe.blockedIPs = strip(copy.networkFailsafe.blockedIPs)
        copy.networkFailsafe.allowedIPs = strip(copy.networkFailsafe.allowedIPs)
        return copy
    }
}

/// Valid policies the mutations start from.
enum Corpus {
    static func seeds() -> [[UInt8]] {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var seeds = [DefaultPolicy.text]
        if let example = try? String(contentsOf: root.appendingPathComponent("examples/guard-policy.yaml"), encoding: .utf8) {
            seeds.append(example)
        }
        seeds += [
            """
            allowed_paths: [./workspace]
            blocked_paths: [/etc]
            read_only_paths: [/usr/share/doc]
            allow_hardlinked_writes: yes
            allowed_commands:
              - echo
              - {command: git, args_deny: ["push", "--upload-pack*"]}
            blocked_command_bases: [curl]
            host_match_mode: subdomain
            allowed_hosts:
              - pypi.org
              - {host: api.openai.com, match: exact, schemes: [HTTPS], ports: [443]}
              - "*.example.org"
              - .squid.example
              - 93.184.216.34
              - "[2606:4700::1111]"
            blocked_keywords: [ignore previous instructions]
            policy_integrity: {tamper_detection: off}
            phishing: {enabled: true, blocked_tlds: [".zip"]}
            network_failsafe:
              socket_connect: false
              allow_private_network: true
              blocked_hosts: [evil.example]
              blocked_ips: [10.0.0.0/8]
              allowed_ips: [93.184.216.0/24]
            approval: {mode: tkinter, timeout_seconds: 30}
            audit: {path: /var/log/sentinel.log}
            sandbox: {pids_limit: 64, memory: 1g, cpus: 0.5, tmpfs_size: 16m, env_allow: [OPENAI_API_KEY]}
            judge: {model: llama-guard3}

            """,
            "blocked_paths: &secrets [/etc, ~/.ssh]\nread_only_paths: *secrets\nallowed_paths: [\"./work space\", 'it''s']\n",
            "{allowed_paths: [a], allowed_hosts: [{host: x.example, ports: [443]}], approval: {mode: reject}}\n",
            "blocked_keywords:\n  - |\n    multi\n    line\n  - >-\n    folded\n    text\n  - \"tab\\there \\u00e9\"\n",
        ]
        return seeds.map { Array($0.utf8) }
    }
}

/// Builds one input: a mutated seed, or one of the shapes that stress a YAML loader.
enum Mutator {
    static let tokens: [String] = [
        "!!python/object/apply:os.system [id] ", "!!python/name:os.system ", "!!str ", "!!int ", "!!bool ", "!!float ",
        "!!null ", "!!seq ", "!!map ", "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!merge ", "!local ", "! ",
        "!<tag:yaml.org,2002:str> ", "!<tag:example.com,2000:x> ", "&a ", "&b ", "*a", "*b", "<<: *a", "? ", ": ", "- ",
        "--- ", "\n---\n", "\n...\n", "%YAML 1.1\n---\n", "%TAG !e! tag:example.com,2000:\n---\n", "!e!thing ",
        "%TAG !! tag:evil.example,2024:\n---\n", "{", "}", "[", "]", ", ", "\"", "'", "|\n", ">-\n", "# ", "~", "null",
        "yes", "0x1F", "1e3", ".inf", "-.nan", "99999", "-1", "0", "xn--", "169.254.169.254", "*.com", "\\", "\\u0000",
        "\\x07", "\u{FEFF}", "\u{85}", "\u{2028}", "\u{3000}", "é", "\t", "\r\n", "\r", "\u{7}", "\u{1b}[31m", "\u{0}",
        "allowed_hosts: [\"xn--\", \"0\", \"169.254.169.254\"]\n", "allowed_hosts: [{host: a.example, ports: [70000]}]\n",
        "allowed_paths: !!python/object/apply:os.system [id]\n",
    ]

    static let bytes: [UInt8] = [
        0x00, 0x07, 0x09, 0x0a, 0x0d, 0x1b, 0x20, 0x7f, 0x80, 0xa0, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf8,
        0xfe, 0xff,
    ] + Array(":-[]{}\"'&*!|>#%@`,?~.0123456789abcxyz".utf8)

    static func input(from corpus: [[UInt8]], using generator: inout FuzzGenerator) -> [UInt8] {
        // The big shapes are rare: each costs as much as hundreds of mutated seeds.
        switch generator.below(60) {
        case 0: return huge(using: &generator)
        case 1, 2: return deep(using: &generator)
        case 3, 4: return aliasBomb(using: &generator)
        case 5...8:
            // Several documents.
            let count = 2 + generator.below(2)
            return Array((0..<count).map { _ in String(decoding: generator.pick(corpus), as: UTF8.self) }
                .joined(separator: generator.chance(1, in: 2) ? "\n---\n" : "\n...\n---\n").utf8)
        default:
            var bytes = generator.pick(corpus)
            for _ in 0..<(1 + generator.below(4)) { mutate(&bytes, using: &generator) }
            return bytes
        }
    }

    static func mutate(_ bytes: inout [UInt8], using generator: inout FuzzGenerator) {
        let position = bytes.isEmpty ? 0 : generator.below(bytes.count + 1)
        switch generator.below(7) {
        case 0 where !bytes.isEmpty:
            bytes[min(position, bytes.count - 1)] = generator.pick(Self.bytes)
        case 1, 2:
            // Tokens go where YAML looks for them: at a line start, after ": " or "- ", or anywhere.
            var at = position
            if generator.chance(2, in: 3), let lineStart = bytes[..<position].lastIndex(of: 0x0a) {
                at = lineStart + 1
                while at < bytes.count, bytes[at] == 0x20 || bytes[at] == UInt8(ascii: "-") { at += 1 }
                if generator.chance(1, in: 2), let colon = bytes[at...].prefix(40).firstIndex(of: UInt8(ascii: ":")) {
                    at = min(colon + 2, bytes.count)
                }
            }
            bytes.insert(contentsOf: Array(generator.pick(tokens).utf8), at: at)
        case 3 where !bytes.isEmpty:
            let end = min(bytes.count, position + 1 + generator.below(40))
            bytes.removeSubrange(min(position, bytes.count - 1)..<end)
        case 4 where !bytes.isEmpty:
            let start = generator.below(bytes.count)
            let slice = bytes[start..<min(bytes.count, start + 1 + generator.below(80))]
            bytes.insert(contentsOf: slice, at: position)
        case 5:
            bytes.removeSubrange(position...)
        default:
            bytes.insert(generator.pick(Self.bytes), at: position)
        }
    }

    /// A long list, a long scalar, or many keys (up to about 2 MiB: the file limit is 4 MiB).
    static func huge(using generator: inout FuzzGenerator) -> [UInt8] {
        switch generator.below(3) {
        case 0:
            let key = generator.pick(["allowed_paths", "allowed_hosts", "blocked_keywords", "allowed_commands"])
            // Compiling N commands that name no executable here costs N² (Engine/Policy.swift finds
            // each warning's entry by a linear search): 17,000 take half a minute. Kept apart
            // from the loader's own limits, and reported, rather than failing this test.
            let count = 1 + generator.below(key == "allowed_commands" ? 2_000 : 1 << (1 + generator.below(15)))
            return Array(("\(key):\n" + (0..<count).map { "  - item\($0).example\n" }.joined()).utf8)
        case 1:
            let length = 1 + generator.below(1 << (1 + generator.below(21)))
            return Array("blocked_keywords: [\"".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: length) + Array("\"]\n".utf8)
        default:
            let count = 1 + generator.below(1 << (1 + generator.below(13)))
            return Array(("judge:\n" + (0..<count).map { "  key\($0): value\n" }.joined()).utf8)
        }
    }

    /// Nesting past any sensible depth, in flow and block style.
    static func deep(using generator: inout FuzzGenerator) -> [UInt8] {
        let depth = 1 + generator.below(1 << (1 + generator.below(15)))
        switch generator.below(3) {
        case 0:
            return Array(("allowed_paths: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        case 1:
            return Array(("judge: " + String(repeating: "{a: ", count: depth) + "b" + String(repeating: "}", count: depth)).utf8)
        default:
            var text = "allowed_paths:\n"
            // Each level indents one more space: 2,500 levels make about 3 MiB, under the 4 MiB limit.
            for level in 0..<min(depth, 2_500) { text += String(repeating: " ", count: level + 1) + "-\n" }
            return Array(text.utf8)
        }
    }

    /// A "billion laughs": anchors of lists of aliases of the level below, used as a value, in an
    /// ignored section, or as a key (which makes a naive loader hash the whole expansion).
    static func aliasBomb(using generator: inout FuzzGenerator) -> [UInt8] {
        let levels = 6 + generator.below(8)
        let width = 5 + generator.below(6)
        // The anchors live in an ignored section, so that a use as a value reaches the reader.
        var text = "judge:\n  a0: &a0 [lol]\n"
        for level in 1...levels {
            text += "  a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ") + "]\n"
        }
        let top = "*a\(levels)"
        text += generator.pick([
            "allowed_paths: \(top)\n", "opa: \(top)\n", "? \(top)\n: x\n", "\(top) : x\n", "opa: {\(top)}\n",
            "opa: {[\(top)]: x}\n", "opa:\n  ? [\(top)]\n  : x\n",
        ])
        return Array(text.utf8)
    }
}
