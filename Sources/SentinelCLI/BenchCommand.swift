// `sentinel bench integrity`: the port of the original's scripts/benchmark_integrity.py (§10):
// N runs of `echo ok` unguarded, then guarded at tamper-check intervals 0, 50, 250 and 1000 ms
// (sample rate 0), each mode measured 3 times; the ratio is guarded / baseline.

import ArgumentParser
import FoundationEssentials
import Glibc
import SentinelGuard
import SentinelPolicy

/// `sentinel bench`: measurements that compare against a baseline in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Sentinel against a baseline in the same run.",
        subcommands: [IntegrityBench.self]
    )
}

/// The cost of compatibility mode's tamper checks on a guarded process launch.
struct IntegrityBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrity",
        abstract: "Time guarded `echo ok` runs against unguarded ones at tamper-check intervals 0, 50, 250 and 1000 ms.",
        discussion: """
            Uses the built-in default policy (echo is allowed), approval mode reject and a temporary audit \
            log. Each mode runs --iterations launches in each of three interleaved rounds, and the fastest \
            round is kept (the least disturbed by other load). Ratio = guarded seconds / baseline seconds.
            """
    )

    @Option(help: "Launches per measurement (default: $SENTINEL_BENCH_ITERATIONS or 100).")
    var iterations: Int?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    struct Run: Codable {
        var interval_ms: Double
        var sample_rate: Double
        var seconds: Double
        var ratio: Double
    }

    struct Report: Codable {
        var iterations: Int
        var baseline_seconds: Double
        var runs: [Run]
    }

    func run() async throws {
        let count = iterations ?? ProcessInfo.processInfo.environment["SENTINEL_BENCH_ITERATIONS"].flatMap { Int($0) } ?? 100
        guard count > 0 else { throw ValidationError("--iterations must be a positive number.") }
        var template = Array("/tmp/sentinel-bench-XXXXXX".utf8CString)
        guard let directory = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw ValidationError("Could not create a temporary directory for the benchmark's audit log.")
        }
        defer {
            for name in ["audit.log", "audit.log.anchor"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        let candidates: [String] = ["/usr/bin/echo", "/bin/echo"]
        guard let echo = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw ValidationError("No echo executable in /usr/bin or /bin to launch.")
        }

        var environment = ProcessInfo.processInfo.environment
        environment["SENTINEL_APPROVAL_MODE"] = "reject"
        environment["SENTINEL_POLICY_CONTENT"] = nil
        do {
            try Sentinel.activate(ActivationOptions(
                policyPath: PolicyLoader.builtinName, environment: environment, auditPath: directory + "/audit.log"))
        } catch {
            throw ValidationError("Could not activate compatibility mode: \(error.description)")
        }
        defer { Sentinel.deactivate() }
        let previous = getenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS").map { String(cString: $0) }
        defer {
            if let previous { setenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS", previous, 1) } else { unsetenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS") }
        }
        setenv("SENTINEL_TAMPER_CHECK_SAMPLE_RATE", "0", 1)
        // Three rounds, each measuring every mode once, and the fastest of each mode kept:
        // interleaving spreads any drift in the machine's load over all modes alike.
        let intervals: [Double] = [0, 50, 250, 1000]
        var baseline = Double.infinity
        var guarded = [Double](repeating: .infinity, count: intervals.count)
        for _ in 0..<3 {
            var start = ContinuousClock.now
            for _ in 0..<count { _ = try ProcessRunner.run(echo, ["echo", "ok"]) }
            baseline = min(baseline, Self.seconds(start.duration(to: .now)))
            for (index, interval) in intervals.enumerated() {
                // Re-read on every guarded call, as in the original.
                setenv("SENTINEL_TAMPER_CHECK_INTERVAL_MS", String(interval), 1)
                start = ContinuousClock.now
                for _ in 0..<count { _ = try await Sentinel.run(["echo", "ok"]) }
                guarded[index] = min(guarded[index], Self.seconds(start.duration(to: .now)))
            }
        }
        let runs = zip(intervals, guarded).map { Run(interval_ms: $0, sample_rate: 0, seconds: $1, ratio: $1 / baseline) }
        let report = Report(iterations: count, baseline_seconds: baseline, runs: runs)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("sentinel bench integrity: \(count) launches of `echo ok` per measurement, fastest of 3")
            print("baseline (unguarded)      \(Self.format(baseline)) s")
            for run in runs {
                print("guarded, interval \(Self.pad(run.interval_ms)) ms  \(Self.format(run.seconds)) s  ratio \(Self.format(run.ratio))")
            }
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func format(_ value: Double) -> String {
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }

    private static func pad(_ value: Double) -> String {
        let text = String(Int(value))
        return String(repeating: " ", count: max(0, 4 - text.count)) + text
    }
}
