// Production mode on every entry point: each rule docs/POLICY.md states for production, broken
// alone, is refused by every entry point it applies to, with a sentence that says what production
// requires, how to meet it and which variable turned production on, and nothing runs. Each entry
// point also runs when every rule is met, so a refusal is the rule's and not something else's.
// Both variables that turn production on are tried. The entry points run as their users run
// them: the built binaries, the example agent for compatibility mode, docker-compose for the
// image's entrypoint.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// A Sentinel entry point.
enum EntryPoint: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case isolateNative = "sentinel-isolate"
    case isolateDocker = "sentinel-isolate --backend docker"
    case sentinelIsolate = "sentinel isolate"
    case guardCommand = "sentinel guard"
    case proxy = "sentinel proxy"
    case compatibility = "Sentinel.activate"
    case composeEntrypoint = "the compose entrypoint"

    var testDescription: String { rawValue }

    /// Whether it needs the Docker engine (and the image).
    var needsDocker: Bool { self == .isolateDocker || self == .composeEntrypoint }

    /// The rules that describe something this entry point does (docs/POLICY.md, "Production"):
    /// the guard, the proxy and compatibility mode create no network, so the network rule does
    /// not apply to them.
    var rules: [ProductionRule] {
        switch self {
        case .guardCommand, .proxy, .compatibility: [.signedPolicy, .immutablePolicy, .enforcement]
        default: ProductionRule.allCases
        }
    }

    /// The remedy a refusal of `enforcement` names at this entry point.
    var enforcementRemedy: String {
        switch self {
        case .isolateNative, .isolateDocker, .sentinelIsolate: "Drop --seccomp-mode off"
        case .guardCommand: "Drop --no-landlock"
        case .proxy: "Drop --report-only"
        case .compatibility: "Unset SENTINEL_DISABLE"
        case .composeEntrypoint: "never seccomp=unconfined"
        }
    }
}

/// A production rule of docs/POLICY.md.
enum ProductionRule: String, Sendable, CaseIterable {
    case signedPolicy = "signed policy"
    case immutablePolicy = "immutable policy"
    case isolatedNetwork = "no route out"
    case enforcement = "enforcement stays on"
}

/// One case: an entry point, the rule broken (nil: none), and the variable that turns production on.
struct ProductionCase: Sendable, CustomTestStringConvertible {
    var entry: EntryPoint
    var broken: ProductionRule?
    var variable: (name: String, value: String)

    var testDescription: String {
        "\(entry.rawValue), \(broken.map { "breaking \($0.rawValue)" } ?? "every rule met"), \(variable.name)=\(variable.value)"
    }

    static let variables: [(name: String, value: String)] = [("SENTINEL_PRODUCTION", "1"), ("SENTINEL_ENV", "production")]

    static func all(docker: Bool) -> [ProductionCase] {
        EntryPoint.allCases.filter { $0.needsDocker == docker }.flatMap { entry in
            variables.flatMap { variable in
                ([nil] + entry.rules.map(Optional.some)).map { ProductionCase(entry: entry, broken: $0, variable: variable) }
            }
        }
    }

    /// The hex SHA-256 of a file (the policies here are LF-only, as the loader hashes them).
    static func sha256(_ path: String) throws -> String {
        let hashed = try ChildProcess.run("/usr/bin/sha256sum", [path])
        return String(hashed.stdout.prefix(64))
    }

    /// What happened.
    struct Outcome {
        var status: Int32
        var output: String
        /// Whether the command (or, for the proxy, the listener) got going.
        var ran: Bool
    }

    /// Runs the entry point with production on and `broken` broken.
    func run() throws -> Outcome {
        let scratch = try Scratch(for: .unprivileged)
        try "allowed_paths: [./]\napproval:\n  mode: reject\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        var environment = [variable.name: variable.value]
        if broken != .signedPolicy { environment["SENTINEL_POLICY_SHA256"] = try Self.sha256(scratch.policy) }
        if broken != .immutablePolicy { environment["SENTINEL_POLICY_IMMUTABLE"] = "true" }
        let marker = scratch.workspace + "/ran"
        let isolate = ["--workspace", scratch.workspace, "--policy", scratch.policy]
        switch entry {
        case .isolateNative, .sentinelIsolate, .isolateDocker:
            var flags = isolate
            if entry == .isolateDocker { flags += DockerIsolate.flags }
            if broken == .isolatedNetwork { flags += ["--network", entry == .isolateDocker ? "bridge" : "host"] }
            if broken == .enforcement { flags += ["--seccomp-mode", "off"] }
            let binary = entry == .sentinelIsolate ? Isolate.sentinelBinary : Isolate.binary
            let prefix = entry == .sentinelIsolate ? ["isolate"] : []
            let result = try Isolate.launch(
                binary, prefix + flags + ["--", "/usr/bin/touch", "/workspace/ran"], environment: environment, directory: scratch.base)
            return Outcome(status: result.status, output: result.stdout + result.stderr, ran: FileManager.default.fileExists(atPath: marker))
        case .guardCommand:
            let result = try Isolate.launch(
                Isolate.sentinelBinary,
                ["guard", "--policy", scratch.policy, "--audit-log", scratch.base + "/guard-audit.log"]
                    + (broken == .enforcement ? ["--no-landlock"] : []) + ["--", "/usr/bin/touch", marker],
                environment: environment, directory: scratch.base)
            return Outcome(status: result.status, output: result.stdout + result.stderr, ran: FileManager.default.fileExists(atPath: marker))
        case .proxy:
            return try runProxy(scratch, environment: environment)
        case .compatibility:
            // The example agent activates compatibility mode with ./sentinel.yaml; it prints what
            // it could not start on stdout and exits 2.
            if broken == .enforcement {
                environment["SENTINEL_DISABLE"] = "1"
                environment["SENTINEL_ALLOW_DISABLE"] = "1"
            }
            let agent = URL(fileURLWithPath: Isolate.binary).deletingLastPathComponent().appendingPathComponent("example-agent").path
            let result = try Isolate.launch(agent, [], environment: environment, directory: scratch.base)
            return Outcome(status: result.status, output: result.stdout + result.stderr, ran: result.stdout.contains("Sentinel: activated"))
        case .composeEntrypoint:
            return try runCompose(scratch, environment: environment, marker: marker)
        }
    }

    /// `sentinel proxy` runs until stopped: a met case is one that listens (then SIGTERM).
    private func runProxy(_ scratch: Scratch, environment: [String: String]) throws -> Outcome {
        let log = scratch.base + "/proxy.out"
        try #require(FileManager.default.createFile(atPath: log, contents: nil))
        let output = try #require(FileHandle(forWritingAtPath: log))
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: Isolate.sentinelBinary)
        process.arguments = ["proxy", "--listen", "127.0.0.1:0", "--policy", scratch.policy, "--audit-log", scratch.base + "/proxy-audit.log"]
            + (broken == .enforcement ? ["--report-only"] : [])
        process.environment = ["PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: scratch.base)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try? output.close()
        // A bound on the wait, not a timing assertion: a refusal exits at once, a proxy that
        // runs says `listening` once it accepts connections.
        var listening = false
        for _ in 0..<300 where process.isRunning && !listening {
            listening = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("listening")
            if !listening { usleep(50_000) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return Outcome(status: listening ? 0 : process.terminationStatus, output: text, ran: listening)
    }

    /// The strict profile (the standard one, Docker's bridge, to break the network rule), with
    /// production's variables in the shell that runs compose, which the file passes through.
    private func runCompose(_ scratch: Scratch, environment: [String: String], marker: String) throws -> Outcome {
        var composeEnvironment = environment.merging([
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
        ]) { $1 }
        if broken == .enforcement { composeEnvironment["SENTINEL_SECCOMP_FILE"] = "unconfined" }
        let profile = broken == .isolatedNetwork ? "standard" : "strict"
        let project = "sgprod\(getpid())\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? DockerComposeTests.compose(project, ["--profile", profile, "down", "-v"], environment: composeEnvironment) }
        let result = try DockerComposeTests.compose(
            project, ["--profile", profile, "run", "--rm", "-T", "sentinel-\(profile)", "touch", "/workspace/ran"],
            environment: composeEnvironment)
        return Outcome(status: result.status, output: result.stdout + result.stderr, ran: FileManager.default.fileExists(atPath: marker))
    }
}

/// The checks every case makes.
enum ProductionExpectation {
    static func check(_ productionCase: ProductionCase) throws {
        let outcome = try productionCase.run()
        guard let broken = productionCase.broken else {
            #expect(outcome.status == 0, "every rule is met, so it must run: \(outcome.output)")
            #expect(outcome.ran, "\(outcome.output)")
            return
        }
        #expect(outcome.status == 2, "\(outcome.output)")
        #expect(!outcome.ran, "nothing may run when production refuses: \(outcome.output)")
        #expect(outcome.output.contains("Production mode requires"), "what production requires: \(outcome.output)")
        let remedy = switch broken {
        case .signedPolicy: "Set SENTINEL_POLICY_SHA256 to the output of `sentinel policy hash`"
        case .immutablePolicy: "Set SENTINEL_POLICY_IMMUTABLE=true"
        case .isolatedNetwork: "Set SENTINEL_ALLOW_NETWORK_IN_PRODUCTION=true to allow a networked exception"
        case .enforcement: productionCase.entry.enforcementRemedy
        }
        #expect(outcome.output.contains(remedy), "how to meet it (\(remedy)): \(outcome.output)")
        let trigger = "production mode is on because \(productionCase.variable.name)=\(productionCase.variable.value)"
        #expect(outcome.output.contains(trigger), "which variable turned production on: \(outcome.output)")
    }
}

@Suite("production mode: every rule on every entry point", .serialized, .requires(.root))
struct ProductionModeTests {
    @Test("each rule is refused, and a run meeting every rule goes ahead", arguments: ProductionCase.all(docker: false))
    func hostEntryPoints(_ productionCase: ProductionCase) throws {
        try ProductionExpectation.check(productionCase)
    }

    @Test(
        "each rule is refused, and a run meeting every rule goes ahead (Docker)",
        .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)), .requires(.executable("docker-compose", package: "docker-compose")),
        arguments: ProductionCase.all(docker: true))
    func dockerEntryPoints(_ productionCase: ProductionCase) throws {
        // The image, built once from this build's binary (cached afterwards).
        let scratch = try Scratch(for: .unprivileged)
        let built = try DockerIsolate.run(scratch, ["true"])
        try #require(built.status == 0, "could not build \(DockerIsolate.image): \(built.stderr)")
        try ProductionExpectation.check(productionCase)
    }

    @Test(
        "production allows the proxied compose profile: its internal network's only way out is the proxy",
        .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)), .requires(.executable("docker-compose", package: "docker-compose")))
    func proxiedComposeProfile() throws {
        let scratch = try Scratch(for: .unprivileged)
        _ = try DockerIsolate.run(scratch, ["true"])
        try "allowed_paths: [./]\n".write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let digest = try ProductionCase.sha256(scratch.policy)
        let environment = [
            "SENTINEL_WORKSPACE": scratch.workspace, "SENTINEL_POLICY": scratch.policy, "SENTINEL_UID": "65534", "SENTINEL_GID": "65534",
            "SENTINEL_ENV": "production", "SENTINEL_POLICY_SHA256": digest, "SENTINEL_POLICY_IMMUTABLE": "true",
            // The proxy's policy is the sandbox's here, so its digest is the same.
            "SENTINEL_PROXY_POLICY": scratch.policy, "SENTINEL_PROXY_POLICY_SHA256": digest,
        ]
        let project = "sgprodproxied\(getpid())"
        defer { _ = try? DockerComposeTests.compose(project, ["--profile", "proxied", "down", "-v"], environment: environment) }
        let run = try DockerComposeTests.compose(
            project, ["--profile", "proxied", "run", "--rm", "-T", "sentinel-proxied", "touch", "/workspace/ran"], environment: environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: scratch.workspace + "/ran"))
    }
}
