// Conditions under which a test can run, as Swift Testing traits.
//
// A test that needs Docker, root, user namespaces or Landlock skips on a machine without them and
// says why. With `CI=true` nothing may skip: the condition reports "enabled" so the test runs and
// fails loudly if `.ci/run` did not install or start what it needs.

// `swift build -c release` of the whole package builds this regular target without Swift
// Testing on the module path (SwiftPM provides it to test builds only): the traits are built
// only where the module is there, and the rest (the probes) everywhere.
#if canImport(Testing)
public import Testing
#endif
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether this process runs under CI (`CI=true`), where no environment-dependent test may skip.
public let runningUnderCI: Bool = {
    let value = ProcessInfo.processInfo.environment["CI"]?.lowercased() ?? ""
    return ["1", "true", "yes", "on"].contains(value)
}()

/// Something a test needs from the machine it runs on.
public struct MachineRequirement: Sendable {
    /// A short sentence naming what is missing, shown when the test skips.
    public let missing: String
    /// Probes the machine; evaluated once per test, lazily.
    public let isAvailable: @Sendable () -> Bool

    /// Creates a requirement from a probe and the sentence shown when it fails.
    public init(missing: String, isAvailable: @escaping @Sendable () -> Bool) {
        self.missing = missing
        self.isAvailable = isAvailable
    }

    /// The test process runs as root.
    public static let root = MachineRequirement(missing: "needs root (run the suite as root, as CI does)") {
        getuid() == 0
    }

    /// A Docker engine answers `docker info`.
    public static let docker = MachineRequirement(
        missing: "needs a running Docker engine (.ci/run installs docker.io and starts dockerd)"
    ) {
        runQuietly("/usr/bin/env", ["docker", "info", "--format", "{{.ServerVersion}}"]) == 0
    }

    /// A Docker engine answers and holds `image` (the Docker backend's tests build on the offline
    /// base image that `.ci/run` makes with scripts/make-base-image.sh).
    public static func dockerImage(_ image: String) -> MachineRequirement {
        MachineRequirement(
            missing: "needs a running Docker engine with the image \(image) (.ci/run starts dockerd and runs scripts/make-base-image.sh)"
        ) {
            runQuietly("/usr/bin/env", ["docker", "image", "inspect", image]) == 0
        }
    }

    /// An executable is on PATH.
    public static func executable(_ name: String, package: String) -> MachineRequirement {
        MachineRequirement(missing: "needs `\(name)` (Debian package \(package); .ci/run installs it)") {
            runQuietly("/bin/sh", ["-c", "command -v \(name)"]) == 0
        }
    }
}

#if canImport(Testing)
extension Trait where Self == ConditionTrait {
    /// Runs the test only where `requirement` holds, or always under CI (where a missing
    /// requirement must fail the run rather than skip silently).
    public static func requires(_ requirement: MachineRequirement) -> Self {
        .enabled(if: runningUnderCI || requirement.isAvailable(), Comment(rawValue: requirement.missing))
    }
}
#endif

/// Runs a program with its output discarded and returns its exit status (or -1 if it could not start).
public func runQuietly(_ executable: String, _ arguments: [String]) -> Int32 {
    let process = SpawnedProcess()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        return -1
    }
    process.waitUntilExit()
    return process.terminationStatus
}
