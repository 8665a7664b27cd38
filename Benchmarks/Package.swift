// swift-tools-version: 6.1
//
// Sentinel Guard's benchmarks (ordo-one/package-benchmark), kept in their own package so the main
// package never resolves the benchmark dependency (the swift-nio layout).
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark
//
// Figures are recorded as ratios in ../docs/PERFORMANCE.md with the command that produced them.

import PackageDescription

let package = Package(
    name: "sentinel-guard-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: a path dependency is otherwise named after its directory (a worktree, a CI
        // clone), and the products below refer to it as sentinel-guard.
        .package(name: "sentinel-guard", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PolicyBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SentinelPolicy", package: "sentinel-guard"),
            ],
            path: "Benchmarks/PolicyBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AuditBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SentinelAudit", package: "sentinel-guard"),
            ],
            path: "Benchmarks/AuditBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
