// A stand-in for Foundation's `Process` in tests, built on posix_spawn.
//
// Why: swift-corelibs-foundation's `Process.run()` on Linux (Swift 6.3.1) over-reads a dirent
// in `findMaximumOpenFromProcSelfFD()` and crashes the test runner intermittently
// (swiftlang/swift-corelibs-foundation#5472, fixed after 6.3.1); the crash handler then hung
// our CI run. This class keeps the same small API the tests use.

import CSentinelLinux
public import Foundation
import Glibc

/// A child process with the subset of `Foundation.Process`'s interface the tests use.
public final class SpawnedProcess: @unchecked Sendable {
    /// Why the process ended.
    public enum TerminationReason: Sendable { case exit, uncaughtSignal }

    /// The program.
    public var executableURL: URL?
    /// Its arguments (argv[1...]).
    public var arguments: [String]?
    /// Its environment (the caller's when nil).
    public var environment: [String: String]?
    /// Its working directory (the caller's when nil); set through `env -C`.
    public var currentDirectoryURL: URL?
    /// A `Pipe` or a `FileHandle` for fd 0; inherited when nil.
    public var standardInput: Any?
    /// A `Pipe` or a `FileHandle` for fd 1; inherited when nil.
    public var standardOutput: Any?
    /// A `Pipe` or a `FileHandle` for fd 2; inherited when nil.
    public var standardError: Any?

    private let lock = NSLock()
    private var pid: pid_t = 0
    private var status: Int32?

    /// Creates an unstarted process.
    public init() {}

    /// The child's pid (0 before `run`).
    public var processIdentifier: Int32 { lock.lock(); defer { lock.unlock() }; return pid }

    /// Starts the child.
    public func run() throws {
        guard let executableURL else { throw SpawnError(message: "no executable") }
        var path = executableURL.path
        var argv = [path] + (arguments ?? [])
        if let directory = currentDirectoryURL?.path {
            argv = ["/usr/bin/env", "-C", directory, "--"] + argv
            path = "/usr/bin/env"
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var opened: [Int32] = []
        defer { for fd in opened { close(fd) } }
        for (target, stream, reading) in [(Int32(0), standardInput, true), (1, standardOutput, false), (2, standardError, false)] {
            guard let stream else { continue }
            let fd: Int32
            if let pipe = stream as? Pipe {
                fd = reading ? pipe.fileHandleForReading.fileDescriptor : pipe.fileHandleForWriting.fileDescriptor
            } else if let handle = stream as? FileHandle {
                if handle === FileHandle.nullDevice {
                    let null = open("/dev/null", O_RDWR | O_CLOEXEC)
                    opened.append(null)
                    fd = null
                } else {
                    fd = handle.fileDescriptor
                }
            } else {
                continue
            }
            posix_spawn_file_actions_adddup2(&actions, fd, target)
        }
        // Nothing else of the runner passes: pipes of other tests, made without close-on-exec
        // at the same moment, would otherwise keep their readers from ever seeing EOF
        // (Foundation closes every fd above 2 in the child for the same reason).
        sentinel_spawn_addclosefrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A clean signal state: the test runner's threads block signals, and the mask would
        // otherwise pass to the child across execve.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let environmentList = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environmentList.map { strdup($0) } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, &cArguments, &cEnvironment)
        guard result == 0 else { throw SpawnError(message: "posix_spawn \(path): \(String(cString: strerror(result)))") }
        lock.lock(); pid = child; lock.unlock()
        // The parent's copies of the child's pipe ends must go, or readers never see EOF
        // (Foundation's Process closes them the same way).
        for stream in [standardOutput, standardError] {
            if let pipe = stream as? Pipe { try? pipe.fileHandleForWriting.close() }
        }
        if let pipe = standardInput as? Pipe { try? pipe.fileHandleForReading.close() }
    }

    /// Waits for the child to end.
    public func waitUntilExit() {
        let child = processIdentifier
        guard child > 0 else { return }
        lock.lock()
        if status != nil { lock.unlock(); return }
        lock.unlock()
        var raw: Int32 = 0
        while waitpid(child, &raw, 0) < 0 && errno == EINTR {}
        lock.lock(); status = raw; lock.unlock()
    }

    /// Whether the child is still running.
    public var isRunning: Bool {
        let child = processIdentifier
        guard child > 0 else { return false }
        lock.lock()
        if status != nil { lock.unlock(); return false }
        lock.unlock()
        var raw: Int32 = 0
        if waitpid(child, &raw, WNOHANG) == child {
            lock.lock(); status = raw; lock.unlock()
            return false
        }
        return true
    }

    /// SIGTERM to the child.
    public func terminate() { if processIdentifier > 0 { kill(processIdentifier, SIGTERM) } }

    /// The exit status, or the signal number when a signal ended it (as Foundation reports).
    public var terminationStatus: Int32 {
        lock.lock(); defer { lock.unlock() }
        guard let status else { return 0 }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    /// Whether it exited or a signal ended it.
    public var terminationReason: TerminationReason {
        lock.lock(); defer { lock.unlock() }
        guard let status else { return .exit }
        return status & 0x7f == 0 ? .exit : .uncaughtSignal
    }
}

/// A process that could not be started.
public struct SpawnError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
