// Runs a program for a test and collects its output, with a watchdog: a test that waits on a
// child must never hang the whole suite (CI has a hard time limit, and a hung run shows no
// result at all). Both pipes are drained concurrently so a chatty stderr cannot block stdout.

import Dispatch
import Foundation

/// What a child process did.
public struct ChildOutcome: Sendable {
    /// The exit status, or 128 + the signal number when a signal ended it.
    public var status: Int32
    /// Everything it wrote to standard output.
    public var stdout: String
    /// Everything it wrote to standard error.
    public var stderr: String
    /// Whether the watchdog had to kill it.
    public var timedOut: Bool
}

/// Starts programs for tests.
public enum ChildProcess {
    /// Runs `executable` with `arguments`, feeds `stdin`, and waits at most `timeout` seconds
    /// before killing it (the outcome then says `timedOut`).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: String? = nil, directory: String? = nil, timeout: Double = 120
    ) throws -> ChildOutcome {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()

        let watchdog = Watchdog(pid: process.processIdentifier, after: timeout)
        let stderrBox = OutputBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            stderrBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        let timedOut = watchdog.cancel()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return ChildOutcome(
            status: status, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrBox.data, as: UTF8.self), timedOut: timedOut)
    }
}

/// Kills a process group leader's process when a deadline passes, unless cancelled first.
public final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var cancelled = false

    /// Arms the watchdog for `pid`.
    public init(pid: Int32, after seconds: Double) {
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            lock.lock()
            defer { lock.unlock() }
            guard !cancelled else { return }
            fired = true
            kill(pid, SIGKILL)
        }
    }

    /// Disarms it; returns whether it had already fired.
    @discardableResult
    public func cancel() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        cancelled = true
        return fired
    }
}

private final class OutputBox: @unchecked Sendable {
    var data = Data()
}

/// Runs blocking `body` (a child process, a blocking read) on a thread of its own and awaits it.
/// Async tests must not block the cooperative pool: it has one thread per core (two on CI), and
/// an in-process server the blocked call waits for (the proxy's decisions) needs those threads;
/// curl through the proxy timed out that way (2026-12-07).
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
