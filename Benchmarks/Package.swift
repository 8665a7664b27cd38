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
        // The identity of a path dependency is its directory name: the checkout is usually `main`
        // here, but a clone may be named anything, so it is referenced by an explicit name.
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
    ]
)
