// The interface of the original runner: flags, environment, and its validation messages
// (original-system.md §6.4), each an error sentence with exit status 2. Runs the built binary.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("sentinel-isolate validates like the original", .serialized)
struct IsolateValidationTests {
    static let binary: String = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sentinel-isolate").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug/sentinel-isolate"
    }()

    /// Runs the binary in a directory holding `ws/` and `sentinel.yaml`.
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        var template = Array("/tmp/sentinel-cli-XXXXXX".utf8CString)
        let base = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base + "/ws", withIntermediateDirectories: false)
        try "allowed_paths: [./]\n".write(toFile: base + "/sentinel.yaml", atomically: false, encoding: .utf8)
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: base)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr)
    }

    @Test("a credential the proxy injects stays out of the sandbox even when --env names it", arguments: ["native", "docker"])
    func injectedCredentialStaysOut(backend: String) throws {
        let policy = "/tmp/sentinel-inject-\(getpid())-\(backend).yaml"
        try """
            allowed_paths: [./]
            allowed_hosts:
              - {host: api.example.test, inspect: true, inject: [{header: Authorization, value: "Bearer ${GITHUB_TOKEN}"}]}
            """.write(toFile: policy, atomically: false, encoding: .utf8)
        defer { unlink(policy) }
        let (status, stdout, stderr) = try Self.run(
            ["--workspace", "ws", "--policy", policy, "--backend", backend, "--network", "proxied", "--ca-dir", "/tmp/unused-ca",
             "--env", "GITHUB_TOKEN", "--dry-run", "--", "true"],
            environment: ["GITHUB_TOKEN": "ghp_dry"])
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("GITHUB_TOKEN is a credential the proxy injects (allowed_hosts inject): it is kept out of the sandbox."), "\(stderr)")
        #expect(!stdout.contains("GITHUB_TOKEN") && !stdout.contains("ghp_dry"), "\(stdout)")
        if backend == "docker" { #expect(stdout.contains(":/run/sentinel-ca:ro"), "\(stdout)") }
    }

    @Test("errors print one sentence and exit 2", arguments: [
        ([String](), [String: String](), "No command provided. Example: sentinel-isolate -- python app.py"),
        (["--workspace", "missing", "--", "true"], [:], "Workspace does not exist: "),
        (["--workspace", "sentinel.yaml", "--", "true"], [:], "Workspace is not a directory: "),
        (["--workspace", "ws", "--policy", "nope.yaml", "--", "true"], [:], "Policy file does not exist: "),
        (["--workspace", "ws", "--policy", "ws", "--", "true"], [:], "Policy file is not a file: "),
        (["--workspace", "ws", "--network", "wifi", "--", "true"], [:], "network_mode must be one of: none, proxied, bridge, host"),
        (["--workspace", "ws", "--network", "host", "--", "true"], ["SENTINEL_PRODUCTION": " Yes "],
         "Production mode requires --network none. Set SENTINEL_ALLOW_NETWORK_IN_PRODUCTION=true to allow a networked exception."),
        (["--workspace", "ws", "--network", "host", "--enforce-proxy", "--", "true"], [:],
         "Networked isolation with --enforce-proxy requires --proxy (or SENTINEL_PROXY)."),
        (["--workspace", "ws", "--network", "host", "--", "true"], ["SENTINEL_ENFORCE_PROXY": "on"],
         "Networked isolation with --enforce-proxy requires --proxy (or SENTINEL_PROXY)."),
        (["--workspace", "ws", "--seccomp-mode", "audit", "--", "true"], [:], "seccomp_mode must be one of: enforce, log, off"),
        (["--workspace", "ws", "--", "true"], ["SENTINEL_SECCOMP_PROFILE": "loose"], "seccomp_profile must be one of: strict, datasci, custom"),
        (["--workspace", "ws", "--network", "bridge", "--", "true"], [:], "--network bridge is not available with the native backend"),
        (["--workspace", "ws", "--backend", "docker", "--seccomp-mode", "log", "--seccomp-suggest", "s.json", "--", "true"], [:],
         "--seccomp-suggest works with the native backend only"),
        (["--workspace", "ws", "--require-landlock", "--", "true"], ["SENTINEL_BACKEND": "docker"], "the Docker backend does not apply Landlock"),
        (["--workspace", "ws", "--backend", "docker", "--network", "bridge", "--", "true"], ["SENTINEL_PRODUCTION": "true"],
         "Production mode requires --network none."),
        (["--workspace", "ws", "--network", "host", "--", "true"], ["SENTINEL_ENV": " Production "],
         "Production mode requires --network none. Set SENTINEL_ALLOW_NETWORK_IN_PRODUCTION=true to allow a networked exception"),
        (["--workspace", "ws", "--seccomp-mode", "log", "--", "true"], ["SENTINEL_ENV": "production"],
         "Production mode requires seccomp enforcement (--seccomp-mode enforce). Drop --seccomp-mode log"),
        (["--workspace", "ws", "--backend", "docker", "--seccomp-mode", "log", "--", "true"], ["SENTINEL_PRODUCTION": "1"],
         "Production mode requires seccomp enforcement (--seccomp-mode enforce). Drop --seccomp-mode log"),
        (["--workspace", "ws", "--", "true"], ["SENTINEL_PRODUCTION": "1", "SENTINEL_SECCOMP_MODE": "off"],
         "Production mode requires seccomp enforcement (--seccomp-mode enforce). Drop --seccomp-mode off"),
        (["--workspace", "ws", "--", "true"], ["SENTINEL_ENV": "production", "SENTINEL_POLICY_IMMUTABLE": "1"],
         "Production mode requires signed policy verification (SENTINEL_POLICY_SHA256 or SENTINEL_POLICY_HMAC_SHA256)."),
        (["--workspace", "ws", "--memory", "lots", "--", "true"], [:], "--memory must be a size"),
        (["--workspace", "ws", "--frobnicate", "--", "true"], [:], "Unknown option '--frobnicate'"),
    ])
    func error(arguments: [String], environment: [String: String], message: String) throws {
        let (status, _, stderr) = try Self.run(arguments, environment: environment)
        #expect(status == 2)
        #expect(stderr.contains(message), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1, "one sentence: \(stderr)")
    }

    @Test("--help is true and names every flag of the original")
    func help() throws {
        let (status, stdout, _) = try Self.run(["--help"])
        #expect(status == 0)
        for flag in ["--workspace", "--policy", "--network", "--proxy", "--no-proxy", "--enforce-proxy", "--seccomp-profile",
                     "--seccomp", "--seccomp-mode", "--image", "--build-if-missing", "--backend", "--pids-limit", "--memory",
                     "--cpus", "--env", "--audit-log", "--json-status", "--require-landlock", "--seccomp-suggest",
                     "--dry-run", "--base-image", "--guard", "--no-guard"] {
            #expect(stdout.contains(flag), "\(flag) missing from --help")
        }
    }

    @Test("production allows host networking with the explicit exception", .requires(.root))
    func productionException() throws {
        let (status, _, stderr) = try Self.run(
            ["--workspace", "ws", "--network", "host", "--", "true"],
            environment: [
                "SENTINEL_PRODUCTION": "true", "SENTINEL_ALLOW_NETWORK_IN_PRODUCTION": "1", "SENTINEL_POLICY_IMMUTABLE": "true",
                // sha256sum of "allowed_paths: [./]\n", the policy run(_:environment:) writes.
                "SENTINEL_POLICY_SHA256": "09c25335ecf8cb8ff89d7c6d882451f5f5bc42335be62d45208b6c84ee26401b",
            ])
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("--network host: the sandbox shares the host's network"))
    }
}
