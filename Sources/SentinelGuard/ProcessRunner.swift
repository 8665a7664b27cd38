// Starts the exact executable a command decision checked, with posix_spawn (no PATH lookup of
// its own: the policy already resolved the file), and collects its output.

import Glibc
import SentinelPolicy

/// What a finished process did.
public struct CompletedProcess: Sendable, Hashable {
    /// The exit status, or 128 + N when signal N ended it (the shell's convention).
    public var status: Int32
    /// Its standard output, when captured.
    public var stdout: [UInt8]
    /// Its standard error, when captured.
    public var stderr: [UInt8]

    /// Standard output as text (invalid UTF-8 repaired).
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    /// Standard error as text (invalid UTF-8 repaired).
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// `posix_spawn` plus a wait, off the cooperative thread pool's critical path only in that the
/// wait is a blocking `waitpid`: callers run a process per decision, which is what the original
/// did too. Captured output is drained from both pipes with poll so neither can fill and stall.
public enum ProcessRunner {
    /// Runs `path` with `arguments` (`arguments[0]` is argv[0]) in the caller's environment,
    /// without Sentinel's own keys (`SentinelEnvironment.secrets`).
    ///
    /// - Parameter capture: collect stdout and stderr (otherwise they are inherited).
    /// - Throws: `SentinelError(.operationFailed)` when the process cannot be started.
    public static func run(_ path: String, _ arguments: [String], capture: Bool = true) throws(SentinelError) -> CompletedProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        if capture {
            guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
                let failure = errno
                for fd in outPipe + errPipe where fd >= 0 { close(fd) }
                throw SentinelError(.operationFailed, "Could not create pipes for \(path): \(String(cString: strerror(failure))).", errno: failure)
            }
            // Close-on-exec for every end (the child gets its copies through dup2); set right
            // after creation, before any spawn of ours could inherit them.
            for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // This process holds the keys (it reads them); the program it starts must not.
        var envp: [UnsafeMutablePointer<CChar>?] =
            SentinelEnvironment.withoutSecrets(SentinelEnvironment.current()).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, &argv, &envp)
        if capture {
            close(outPipe[1])
            close(errPipe[1])
        }
        guard result == 0 else {
            if capture { close(outPipe[0]); close(errPipe[0]) }
            throw SentinelError(.operationFailed, "Could not start \(path): \(String(cString: strerror(result))).", errno: result)
        }
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        if capture {
            drain(outPipe[0], errPipe[0], into: &stdout, &stderr)
            close(outPipe[0])
            close(errPipe[0])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return CompletedProcess(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: stdout, stderr: stderr)
    }

    private static func drain(_ out: Int32, _ err: Int32, into stdout: inout [UInt8], _ stderr: inout [UInt8]) {
        var open = [out, err]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    if entry.fd == out { stdout += buffer[0..<count] } else { stderr += buffer[0..<count] }
                } else if count == 0 || errno != EINTR {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
    }
}
