// `sentinel guard`'s own arguments: help is shown, not run as a command; no command is a usage
// error. (What the guard decides is tested in SentinelSupervisorTests.)

import Foundation
import SentinelTestSupport
import Testing

@Suite("sentinel guard arguments")
struct GuardCommandTests {
    @Test("help is printed, not looked up on PATH", arguments: [["guard", "--help"], ["guard", "-h"]])
    func help(arguments: [String]) throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, arguments)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("USAGE: sentinel guard"))
        #expect(!outcome.stderr.contains("not found"))
    }

    @Test("a malformed --allow-connect is refused before anything runs", arguments: ["localhost:3128", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "::1:80", "[::1]80"])
    func malformedTrustedEndpoint(value: String) throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, ["guard", "--allow-connect", value, "--", "/bin/true"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("--allow-connect \(value): expected ADDRESS:PORT"), "\(outcome.stderr)")
    }

    @Test("a malformed path reading is refused before anything runs", arguments: [
        ["--policy-map", "workspace=/workspace"], ["--policy-map", "/srv/ws"], ["--policy-map", "/srv/ws=workspace"],
        ["--policy-directory", "relative"], ["--policy-home", "~"],
    ])
    func malformedTranslation(options: [String]) throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, ["guard", "--policy", "builtin:default"] + options + ["--", "/bin/true"])
        #expect(outcome.status == 2, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("nothing was run"), "\(outcome.stderr)")
    }

    @Test("both option spellings run the command and record it; an unknown option is a usage error", arguments: [
        (["--policy", "builtin:default", "--audit-log", "AUDIT", "--quiet", "--"], Int32(0)),
        (["--policy=builtin:default", "--audit-log=AUDIT", "--no-landlock", "--"], 0),
        (["--audit-log", "AUDIT", "--policy", "builtin:default", "--bogus", "--"], 2),
    ] as [([String], Int32)])
    func optionSpellings(options: [String], expected: Int32) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audit = directory + "/audit.log"
        let arguments = ["guard"] + options.map { $0.replacingOccurrences(of: "AUDIT", with: audit) } + ["/bin/true"]
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, arguments)
        #expect(outcome.status == expected, "\(outcome.stderr)")
        if expected == 0 {
            let records = try String(contentsOfFile: audit, encoding: .utf8)
            #expect(records.contains(#""action":"run_start","target":"/bin/true""#), "\(records)")
        } else {
            #expect(outcome.stderr.contains("--bogus"), "\(outcome.stderr)")
        }
    }

    @Test("the policy's warnings are printed once each, saying warning once")
    func policyWarnings() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "allowed_paths: [./]\nallowed_commands: [{command: ls, trust_children: true}]\n"
            .write(toFile: directory + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary,
            ["guard", "--policy", directory + "/sentinel.yaml", "--audit-log", directory + "/audit.log", "--", "/bin/true"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("sentinel guard: warning: allowed_commands[0].trust_children: \"ls\" may start anything"))
        #expect(!outcome.stderr.contains("warning: warning:"), "\(outcome.stderr)")
    }

    @Test("SENTINEL_APPROVAL_MODE that is not a mode stops the guard with a sentence; nothing runs")
    func unknownApprovalMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var environment = ProcessInfo.processInfo.environment
        environment["SENTINEL_APPROVAL_MODE"] = "bogus"
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary,
            ["guard", "--policy", "builtin:default", "--audit-log", directory + "/audit.log", "--", "/bin/sh", "-c", "touch \(directory)/ran"],
            environment: environment)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("SENTINEL_APPROVAL_MODE=bogus is not an approval mode"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("Nothing was run."))
        #expect(access(directory + "/ran", F_OK) != 0, "the command ran")
    }

    @Test("no command is a usage error that shows the usage", arguments: [["guard"], ["guard", "--"]])
    func noCommand(arguments: [String]) throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, arguments)
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("no command was given"))
    }

    @Test("every record carries the run id; a guard that made its id names it and the log on stderr, one given it stays quiet",
          arguments: [nil, "c0ffee"] as [String?])
    func runID(given: String?) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("guard-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let audit = directory + "/audit.log"
        var environment = ProcessInfo.processInfo.environment
        environment["SENTINEL_RUN_ID"] = given
        let outcome = try ChildProcess.run(
            ProxyCommandTests.binary, ["guard", "--policy", "builtin:default", "--audit-log", audit, "--quiet", "--", "/bin/true"],
            environment: environment)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.isEmpty)
        let runs = Set(try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["run"] as? String
        })
        #expect(runs.count == 1 && runs.first! != nil, "\(runs)")
        let run = try #require(runs.first ?? nil)
        if let given {
            #expect(run == given)
            #expect(!outcome.stderr.contains("records of run"), "\(outcome.stderr)")
        } else {
            #expect(run.wholeMatch(of: /[0-9a-f]{16}/) != nil)
            #expect(outcome.stderr == "sentinel guard: records of run \(run) in \(audit); read them with `sentinel audit tail --run \(run) \(audit)`.\n")
        }
    }
}
