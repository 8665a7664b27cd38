// The launch path's scanner (IsolateCommand+Scan.swift) against ArgumentParser: for every line
// the scanner accepts, the command it builds must equal ArgumentParser's, field by field; every
// line it must leave to ArgumentParser (help, errors, unusual spellings) must come back nil.

import ArgumentParser
@testable import SentinelIsolateCLI
import Testing

@Suite("sentinel-isolate's launch-line scanner")
struct IsolateScanTests {
    /// Each stored property of the command with its parsed value, as ArgumentParser's property
    /// wrappers describe themselves (an unset one describes its definition, and would differ).
    static func fields(_ command: IsolateCommand) -> [String] {
        Mirror(reflecting: command).children.map { "\($0.label ?? "?") = \(String(reflecting: $0.value))" }
    }

    @Test("the scanner builds what ArgumentParser builds", arguments: [
        ["--", "/bin/true"],
        ["/bin/true"],
        ["python3", "--workspace", "x", "-c", "print(1)"],
        ["--"],
        [],
        ["--workspace", "ws", "--policy=p.yaml", "--network", "proxied", "--", "python3", "-c", "x"],
        ["--enforce-proxy", "--build-if-missing", "--dry-run", "--no-guard", "--json-status", "--require-landlock", "--", "sh"],
        ["--guard", "--backend", "docker", "--", "sh"],
        ["--env", "A", "--env=B=1", "--bind", "a:b", "--bind", "c", "--ro-bind", "d:/e", "--block", "/x", "--block=/y", "--", "sh"],
        ["--pids-limit", "5", "--cpus", "0.5", "--memory", "1g", "--", "sh"],
        ["--pids-limit=64", "--cpus=2", "--", "sh"],
        ["--seccomp-suggest", "s.json", "--seccomp-mode", "log", "--seccomp-profile", "datasci", "--seccomp", "c.json", "--", "sh"],
        ["--proxy-socket", "/run/p.sock", "--proxy-hosts-file", "h", "--proxy", "http://127.0.0.1:3128", "--no-proxy", "localhost", "--", "sh"],
        ["--image", "i:1", "--base-image", "b:2", "--backend", "docker", "--audit-log", "a.log", "--json-status-file", "s.json", "--", "sh"],
        ["--network", "none", "--", "--", "-x"],
        ["--", "--help"],
    ])
    func sameAsArgumentParser(arguments: [String]) throws {
        let scanned = try #require(IsolateCommand.scanned(arguments), "the scanner left an ordinary line to ArgumentParser")
        let parsed = try IsolateCommand.parse(arguments)
        #expect(Self.fields(scanned) == Self.fields(parsed))
        // Every field was set: reading one that was not would stop the process.
        #expect(!Self.fields(scanned).contains { $0.contains(".definition") })
    }

    @Test("lines for ArgumentParser are left to it", arguments: [
        ["--help"], ["-h"], ["--version"], ["-x", "--", "sh"], ["--bogus", "--", "sh"],
        ["--workspace"], ["--workspace", "--", "sh"], ["--workspace", "-w", "--", "sh"], ["--workspace="],
        ["--pids-limit", "many", "--", "sh"], ["--cpus", "fast", "--", "sh"], ["--json-status=yes", "--", "sh"],
        ["--workspace", "a", "--workspace", "b", "--", "sh"], ["--dry-run", "--dry-run", "--", "sh"],
        ["--generate-completion-script", "bash"],
    ])
    func leftToArgumentParser(arguments: [String]) {
        #expect(IsolateCommand.scanned(arguments) == nil)
    }

    @Test("the scanner knows every option ArgumentParser does")
    func knowsEveryOption() {
        // The OPTIONS section of the help lists each option's long name first on its line.
        let help = IsolateCommand.helpMessage(columns: 400)
        let names = help.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("--"), line.hasPrefix("  ") else { return nil }
            return String(trimmed.dropFirst(2).prefix { $0.isLetter || $0 == "-" })
        }
        #expect(names.count > 20, "the help's option list was not found:\n\(help)")
        let unknown = Set(names).subtracting(IsolateCommand.scannedOptions.keys).subtracting(["help"])
        #expect(unknown.isEmpty, "options the scanner does not know (they would fall back to ArgumentParser): \(unknown)")
    }
}
