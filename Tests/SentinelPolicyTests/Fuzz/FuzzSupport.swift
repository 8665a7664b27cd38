// What the fuzz tests share: a seeded generator, the run's limits, and a watchdog.
//
// Each fuzz test runs its loop in a child process (an exit test), for two reasons: a crash in
// the code under test ends the child, not the test run, and a hang can be ended at all (a thread
// stuck in a loop cannot be stopped from inside the process; the watchdog ends the child). The
// child writes its progress and any failure to a report file, unbuffered, which the parent reads
// afterwards (Swift Testing hands back a failed exit test's output to nobody).
// Inputs are drawn from a generator seeded per iteration, so `SENTINEL_FUZZ_SEED` and
// `SENTINEL_FUZZ_ITERATION` reproduce one input exactly, whatever the machine's speed.

import Foundation
import Glibc
import Synchronization

/// FuzzGenerator (Steele, Lea and Flood 2014): tiny, fast, and the same sequence on every platform,
/// which `SystemRandomNumberGenerator` is not.
struct FuzzGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A number below `bound` (which must be positive).
    mutating func below(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &self) }

    /// `true` with probability `numerator` in `denominator`.
    mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { below(denominator) < numerator }

    /// One element of a non-empty array.
    mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }
}

/// The limits of one fuzz run, from the environment, and where the child reports.
struct FuzzRun: Sendable, Codable {
    /// The seed of the run.
    let seed: UInt64
    /// Only this iteration (to repeat one input), or every iteration from 0.
    let only: Int?
    /// At most this many iterations.
    let iterations: Int
    /// The loop stops starting new iterations after this long (the run stays "a few seconds").
    let budget: Duration
    /// The file the child writes its progress and failures to.
    let reportPath: String

    /// `SENTINEL_FUZZ_SEED` (decimal or 0x-hex) or a fresh random seed; `SENTINEL_FUZZ_ITERATION`,
    /// `SENTINEL_FUZZ_ITERATIONS` (default `iterations`) and `SENTINEL_FUZZ_SECONDS` (default 3).
    static func fromEnvironment(iterations: Int, name: String) -> FuzzRun {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["SENTINEL_FUZZ_SEED"].flatMap(parseNumber) ?? UInt64.random(in: 0...UInt64.max)
        let only = environment["SENTINEL_FUZZ_ITERATION"].flatMap(parseNumber).map { Int(truncatingIfNeeded: $0) }
        let count = environment["SENTINEL_FUZZ_ITERATIONS"].flatMap(parseNumber).map { Int(truncatingIfNeeded: $0) }
        let seconds = environment["SENTINEL_FUZZ_SECONDS"].flatMap { Double($0) } ?? 3
        let report = NSTemporaryDirectory() + "sentinel-fuzz-\(name)-\(UUID().uuidString).log"
        return FuzzRun(seed: seed, only: only, iterations: count ?? iterations,
                       budget: .milliseconds(Int(seconds * 1000)), reportPath: report)
    }

    /// What the child reported (with the progress lines left out but the last), and removes
    /// the report.
    func collectReport() -> String {
        defer { unlink(reportPath) }
        let text = (try? String(contentsOfFile: reportPath, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n")
        let last = lines.last(where: { $0.hasPrefix("iteration ") }).map(String.init) ?? "no iteration started"
        return (lines.filter { !$0.hasPrefix("iteration ") }.map(String.init) + ["(last started: \(last))"])
            .joined(separator: "\n")
    }

    private static func parseNumber(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased().hasPrefix("0x") { return UInt64(trimmed.dropFirst(2), radix: 16) }
        return UInt64(trimmed)
    }

    /// The generator of iteration `index`: independent of every other iteration.
    func generator(for index: Int) -> FuzzGenerator {
        var mixer = FuzzGenerator(seed: seed ^ (UInt64(truncatingIfNeeded: index) &* 0xd1b5_4a32_d192_ed03))
        return FuzzGenerator(seed: mixer.next())
    }

    /// How to repeat iteration `index`.
    func reproduction(_ index: Int) -> String {
        "SENTINEL_FUZZ_SEED=\(seed) SENTINEL_FUZZ_ITERATION=\(index)"
    }

    /// Runs `body` for each iteration until the count or the time budget is reached, and returns
    /// how many ran. Each iteration's number goes to the report first, so that if the process
    /// dies in the code under test, the parent knows which input did it.
    func forEachIteration(_ report: FuzzReport, _ body: (Int, inout FuzzGenerator) -> Void) -> Int {
        let clock = ContinuousClock()
        let end = clock.now + budget
        let indices = only.map { [$0] } ?? Array(0..<iterations)
        var ran = 0
        for index in indices {
            if only == nil, clock.now >= end { break }
            report.write("iteration \(index)\n")
            var generator = generator(for: index)
            body(index, &generator)
            ran += 1
        }
        return ran
    }
}

/// The child's report file, written without buffering: the child may die right after.
final class FuzzReport: Sendable {
    private let descriptor: Int32
    let run: FuzzRun

    init(_ run: FuzzRun) {
        self.run = run
        descriptor = open(run.reportPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
    }

    func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Reports a broken invariant and ends the child with a failure.
    func fail(iteration: Int, input: String, _ problem: String) -> Never {
        write("FAILED at iteration \(iteration) (\(run.reproduction(iteration))): \(problem)\n"
            + "input: \(FuzzOutput.escaped(input))\n")
        exit(1)
    }
}

enum FuzzOutput {
    /// Text for a report: control characters, quotes and backslashes escaped, cut after `limit`
    /// characters (with the full length given).
    static func escaped(_ text: String, limit: Int = 600) -> String {
        var out = "\""
        for (count, scalar) in text.unicodeScalars.enumerated() {
            if count == limit {
                out += "…\" (\(text.unicodeScalars.count) characters)"
                return out
            }
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x00..<0x20, 0x7f..<0xa0, 0x2028, 0x2029, 0xfeff: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

}

/// Ends the process when one call runs longer than `limit`, reporting the input that hung.
///
/// The limit is not a performance assertion: the calls watched take microseconds to
/// milliseconds, and the limit is orders of magnitude above that, so only a call that never
/// returns (an endless loop, an exponential blow-up) reaches it.
final class Watchdog: Sendable {
    private struct Call {
        var iteration: Int
        var input: String
        var started: ContinuousClock.Instant
    }

    private let limit: Duration
    private let report: FuzzReport
    private let current = Mutex<Call?>(nil)

    init(limit: Duration, report: FuzzReport) {
        self.limit = limit
        self.report = report
        let thread = Thread { [self] in self.watch() }
        thread.start()
    }

    /// Runs `body` on this thread, watched.
    func watch<T>(iteration: Int, input: String, _ body: () -> T) -> T {
        current.withLock { $0 = Call(iteration: iteration, input: input, started: .now) }
        defer { current.withLock { $0 = nil } }
        return body()
    }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: 0.05)
            let overdue = current.withLock { call -> Call? in
                guard let call, call.started.duration(to: .now) > limit else { return nil }
                return call
            }
            if let call = overdue {
                report.write("HANG at iteration \(call.iteration) (\(report.run.reproduction(call.iteration))): "
                    + "the call did not return within \(limit)\ninput: \(FuzzOutput.escaped(call.input))\n")
                _exit(3)
            }
        }
    }
}

