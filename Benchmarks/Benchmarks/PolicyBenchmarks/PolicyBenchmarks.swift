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
    FileManager.default.createFile(atPath: base + "/workspace/src/module/file.swift", contents: Data("x".utf8))
    let document = try PolicyLoader(environment: [:]).parse("""
        allowed_paths: [./workspace]
        blocked_paths: [/etc, ~/.ssh, ./workspace/secrets]
        read_only_paths: [/usr/share]
        """)
    let policy = try Policy(document: document, context: PolicyContext(baseDirectory: base, homeDirectory: "/root"))
    return (policy, base)
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
}
