// swift-tools-version: 6.1
//
// Sentinel Guard: run AI agents and other untrusted code under a policy you wrote.
// The module map and the import rules between targets are described in docs/ARCHITECTURE.md.

import PackageDescription

let package = Package(
    name: "sentinel-guard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sentinel", targets: ["sentinel"]),
        .executable(name: "sentinel-isolate", targets: ["sentinel-isolate"]),
        .executable(name: "example-agent", targets: ["example-agent"]),
        .library(name: "SentinelPolicy", targets: ["SentinelPolicy"]),
        .library(name: "SentinelAudit", targets: ["SentinelAudit"]),
        .library(name: "SentinelGuard", targets: ["SentinelGuard"]),
        .library(name: "SentinelSandbox", targets: ["SentinelSandbox"]),
        .library(name: "SentinelProxy", targets: ["SentinelProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The Sentinel CA of inspected hosts (SentinelProxy/Inspection): X.509 certificates made in Swift.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: - C: raw syscalls and kernel constants Swift cannot express. No policy logic.
        .target(
            name: "CSentinelLinux",
            cSettings: [.define("_GNU_SOURCE")]
        ),

        // The UTS #46 (IDNA) functions of the ICU that ships with Foundation on Linux.
        .systemLibrary(name: "CFoundationICU"),

        // MARK: - Libraries, from the bottom of the import graph up.
        .target(
            name: "SentinelPolicy",
            dependencies: [
                "CFoundationICU",
                "CSentinelLinux",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "SentinelAudit",
            dependencies: [
                "SentinelPolicy", "CSentinelLinux",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "SentinelApproval", dependencies: ["SentinelPolicy"]),
        .target(
            name: "SentinelGuard",
            dependencies: [
                "SentinelPolicy", "SentinelAudit", "SentinelApproval", "CSentinelLinux",
                // The pinned HTTP client of compatibility mode (HTTP/PinnedHTTPClient.swift).
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .target(
            name: "SentinelSandbox",
            dependencies: ["SentinelPolicy", "SentinelAudit", "CSentinelLinux"]
        ),
        // `sentinel guard`: the seccomp user-notification supervisor that puts every exec, file
        // write and connect of a program on the host through the compatibility-mode pipeline.
        .target(
            name: "SentinelSupervisor",
            dependencies: ["SentinelPolicy", "SentinelAudit", "SentinelApproval", "SentinelGuard", "SentinelSandbox", "CSentinelLinux"]
        ),
        .target(
            name: "SentinelProxy",
            dependencies: [
                "SentinelPolicy", "SentinelAudit", "SentinelApproval", "SentinelGuard",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // Inspected hosts: the agent's TLS ends at the proxy, which opens its own upstream.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // `isolate` and `doctor`: everything `sentinel-isolate` needs and nothing more, so that
        // binary stays small and starts fast (no NIO, no approval UI, no proxy).
        .target(
            name: "SentinelIsolateCLI",
            dependencies: [
                "SentinelPolicy", "SentinelAudit", "SentinelSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The command-line interface of `sentinel`.
        .target(
            name: "SentinelCLI",
            dependencies: [
                "SentinelPolicy", "SentinelAudit", "SentinelApproval", "SentinelGuard",
                "SentinelSandbox", "SentinelProxy", "SentinelIsolateCLI", "SentinelSupervisor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Executables: thin entry points.
        .executableTarget(name: "sentinel", dependencies: ["SentinelCLI", "SentinelSandbox"]),
        .executableTarget(name: "sentinel-isolate", dependencies: ["SentinelIsolateCLI", "SentinelSandbox"]),
        .executableTarget(name: "example-agent", dependencies: ["SentinelGuard"]),

        // MARK: - Tests: one target per module, plus end-to-end tests of the built CLI.
        .target(name: "SentinelTestSupport", dependencies: ["CSentinelLinux"], path: "Tests/SentinelTestSupport"),
        .testTarget(name: "SentinelPolicyTests", dependencies: ["SentinelPolicy", "CSentinelLinux", "SentinelTestSupport"]),
        .testTarget(name: "SentinelAuditTests", dependencies: ["SentinelAudit", "SentinelPolicy", "SentinelTestSupport"]),
        .testTarget(name: "SentinelApprovalTests", dependencies: ["SentinelApproval", "SentinelPolicy", "SentinelTestSupport"]),
        .testTarget(
            name: "SentinelGuardTests",
            dependencies: [
                "SentinelGuard", "SentinelPolicy", "SentinelAudit", "SentinelApproval", "SentinelTestSupport",
                // The loopback HTTP and TLS servers the HTTP client tests talk to.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "SentinelSandboxTests", dependencies: ["SentinelSandbox", "SentinelPolicy", "SentinelTestSupport", "seccomp-exec-helper"]),
        // Installs a seccomp filter in a single-threaded process and execs a command, for the
        // real-kernel seccomp tests (the test runner is multithreaded and must not be filtered).
        .executableTarget(name: "seccomp-exec-helper", dependencies: ["SentinelSandbox"], path: "Tests/SeccompExecHelper"),
        .testTarget(
            name: "SentinelSupervisorTests",
            dependencies: [
                "CSentinelLinux", "SentinelSupervisor", "SentinelGuard", "SentinelPolicy", "SentinelAudit", "SentinelApproval",
                "SentinelTestSupport",
            ]),
        .testTarget(
            name: "SentinelProxyTests",
            dependencies: [
                "SentinelProxy", "SentinelPolicy", "SentinelApproval", "SentinelTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The loopback TLS origin of the inspection tests.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "SentinelCLITests",
            dependencies: [
                "SentinelCLI", "SentinelIsolateCLI", "SentinelAudit", "SentinelTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
    ]
)

// One set of language settings for every Swift target (the swift-configuration pattern).
for target in package.targets where ![.system, .binary].contains(target.type) && !target.name.hasPrefix("C") {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ])
    target.swiftSettings = settings
}
