import Foundation
import SentinelTestSupport
import Testing
@testable import SentinelPolicy

/// The JSON Schema shipped for editors (`schema/sentinel.schema.json`) must accept the default
/// policy and agree with the loader on what is valid, checked with a real validator
/// (Python's `jsonschema`, which `.ci/run` installs).
@Suite struct PolicySchemaTests {
    static let pythonWithJSONSchema = MachineRequirement(
        missing: "needs python3 with jsonschema and PyYAML (.ci/run installs python3-jsonschema and python3-yaml)"
    ) {
        runQuietly("/usr/bin/env", ["python3", "-c", "import jsonschema, yaml"]) == 0
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Validates YAML texts against the schema; returns one Bool per text.
    static func schemaAccepts(_ texts: [String]) throws -> [Bool] {
        let script = """
            import json, sys, yaml, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema)
            for text in json.load(sys.stdin):
                print("valid" if validator.is_valid(yaml.safe_load(text)) else "invalid")
            """
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, repository.appendingPathComponent("schema/sentinel.schema.json").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: texts))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "the schema check itself failed")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0 == "valid" }
    }

    static let valid = [
        DefaultPolicy.text,
        "",
        "allowed_commands: [ls, {command: git, args_deny: [push]}]\n",
        "allowed_hosts:\n  - pypi.org\n  - {host: api.example.com, match: subdomain, schemes: [https], ports: [443, 8443]}\n",
        "network_failsafe: {socket_connect: yes, blocked_ips: [10.0.0.0/8]}\n",
        "approval: {mode: tkinter, timeout_seconds: 5}\nsandbox: {memory: 1g, env_allow: [OPENAI_API_KEY]}\n",
        "judge: {model: llama-guard3}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: true, methods: [GET, POST], paths: [\"/repos/acme/*\"],"
            + " inject: [{header: Authorization, value: \"Bearer ${GITHUB_TOKEN}\"}]}\n",
        "allowed_hosts:\n  - {host: api.example.com, inspect: false}\n",
    ]

    static let invalid = [
        "allowed_path: [./workspace]\n",
        "allowed_paths: ./workspace\n",
        "allowed_hosts:\n  - {host: a.example, ports: [99999]}\n",
        "allowed_hosts:\n  - {host: a.example, ports: [https]}\n",
        "allowed_hosts:\n  - {ports: [443]}\n",
        "host_match_mode: fuzzy\n",
        "network_failsafe: {socket_connect: maybe}\n",
        "approval: {mode: telepathy}\n",
        "sandbox: {memory: lots}\n",
        "sandbox: {env_allow: [MY-VAR]}\n",
        "allowed_commands:\n  - {args_deny: [push]}\n",
        "- ./workspace\n",
        "allowed_hosts:\n  - {host: api.github.com, methods: [GET]}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: false, paths: [/x]}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: true, methods: []}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: true, paths: [x/y]}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: true, inject: [{header: Authorization}]}\n",
        "allowed_hosts:\n  - {host: api.github.com, inspect: true, inject: [{header: \"Bad Name\", value: x}]}\n",
    ]

    @Test(.requires(pythonWithJSONSchema))
    func theSchemaAndTheLoaderAgree() throws {
        let accepted = try Self.schemaAccepts(Self.valid + Self.invalid)
        try #require(accepted.count == Self.valid.count + Self.invalid.count)
        for (index, text) in Self.valid.enumerated() {
            #expect(accepted[index], "the schema refuses a valid policy:\n\(text)")
            #expect(throws: Never.self, "the loader refuses:\n\(text)") { try PolicyLoader(environment: [:]).parse(text) }
        }
        for (offset, text) in Self.invalid.enumerated() {
            #expect(!accepted[Self.valid.count + offset], "the schema accepts an invalid policy:\n\(text)")
            #expect(throws: PolicyError.self, "the loader accepts:\n\(text)") { try PolicyLoader(environment: [:]).parse(text) }
        }
    }
}
