// Blocking work (a terminal read, waiting for a dialog process) kept off the cooperative thread
// pool: each prompt gets its own thread, which is cheap because prompts are rare and one at a time.

import Foundation
import SentinelPolicy
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` on a new thread and returns its result.
func onDedicatedThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = "sentinel-approval"
        thread.start()
    }
}

/// A self-pipe that wakes a `poll(2)` when the waiting task is cancelled.
final class CancellationSignal: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws(ApprovalError) {
        let ends = try makeChannel()
        readEnd = ends.0
        writeEnd = ends.1
    }

    func fire() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}

/// Writes all of `bytes` to `fd`, retrying EINTR and short writes.
func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n > 0 {
            done += n
        } else if n < 0 && errno == EINTR {
            continue
        } else {
            return false
        }
    }
    return true
}

// MARK: - Running a dialog program

/// What a finished child process left.
struct ChildOutput: Sendable {
    /// The exit status, or `nil` when a signal ended the process.
    var exitStatus: Int32?
    /// The signal that ended the process, if one did.
    var signal: Int32?
    var standardOutput: [UInt8]
    var standardError: [UInt8]

    var outputText: String { String(decoding: standardOutput, as: UTF8.self) }
    var errorText: String { String(decoding: standardError, as: UTF8.self) }
}

/// Runs a program directly (`posix_spawn`, no shell: each argument reaches it as one argv
/// element, whatever characters it holds) with stdin from /dev/null and stdout/stderr captured.
///
/// Cancelling the calling task sends SIGTERM to the program. The program is never signalled after
/// it has been reaped (it is waited for with `WNOWAIT` first), so a recycled pid is never hit.
func runProgram(path: String, arguments: [String], environment: [String: String]) async throws(ApprovalError)
    -> ChildOutput
{
    let output = try makeChannel()
    let errors: (Int32, Int32)
    do throws(ApprovalError) {
        errors = try makeChannel()
    } catch {
        close(output.0)
        close(output.1)
        throw error
    }
    let pid: pid_t
    do throws(ApprovalError) {
        pid = try spawn(path: path, arguments: arguments, environment: environment, stdout: output.1, stderr: errors.1)
    } catch {
        [output.0, output.1, errors.0, errors.1].forEach { _ = close($0) }
        throw error
    }
    close(output.1)
    close(errors.1)

    // `reaped` is set, under the lock, just before the zombie is collected; the cancellation
    // handler signals only while it is false.
    let reaped = Mutex(false)
    let readOut = output.0
    let readErr = errors.0
    return await withTaskCancellationHandler {
        await onDedicatedThread {
            let (stdout, stderr) = drain(readOut, readErr)
            close(readOut)
            close(readErr)
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            var status: Int32 = 0
            reaped.withLock { flag in
                flag = true
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
            let signal = status & 0x7f
            return signal == 0
                ? ChildOutput(exitStatus: (status >> 8) & 0xff, signal: nil, standardOutput: stdout, standardError: stderr)
                : ChildOutput(exitStatus: nil, signal: signal, standardOutput: stdout, standardError: stderr)
        }
    } onCancel: {
        reaped.withLock { flag in
            if !flag { kill(pid, SIGTERM) }
        }
    }
}

/// A one-way byte channel whose ends are close-on-exec from the start: a socket pair, because
/// `pipe2(O_CLOEXEC)` is a `_GNU_SOURCE` declaration the Glibc module does not import, and
/// `pipe` + `fcntl` would leave a window in which a concurrent spawn inherits the descriptors.
func makeChannel() throws(ApprovalError) -> (Int32, Int32) {
    var ends: [Int32] = [-1, -1]
    let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    guard socketpair(AF_UNIX, type, 0, &ends) == 0 else {
        throw ApprovalError(.spawnFailed, "Could not create a socket pair to talk to the dialog.", errno: errno)
    }
    // The second end is only written and the first only read.
    _ = shutdown(ends[0], Int32(SHUT_WR))
    _ = shutdown(ends[1], Int32(SHUT_RD))
    return (ends[0], ends[1])
}

/// The descriptors above stderr that a spawned program would inherit (those without FD_CLOEXEC).
private func inheritableDescriptors() -> [Int32] {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    let own = dirfd(directory)
    var found: [Int32] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        guard let fd = Int32(name), fd > 2, fd != own else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 && flags & FD_CLOEXEC == 0 { found.append(fd) }
    }
    return found
}

private func spawn(
    path: String, arguments: [String], environment: [String: String], stdout: Int32, stderr: Int32
) throws(ApprovalError) -> pid_t {
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    // Without Sentinel's keys: a dialog runs as the operator while the program that caused it
    // waits, and that program (under `sentinel guard`, the same uid) could read the dialog's
    // /proc/PID/environ.
    let envp: [UnsafeMutablePointer<CChar>?] =
        SentinelEnvironment.withoutSecrets(environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, stdout, 1)
    posix_spawn_file_actions_adddup2(&actions, stderr, 2)
    // Descriptors the caller left inheritable (a seccomp listener, an agent's pipes) must not reach
    // the dialog. posix_spawn_file_actions_addclosefrom_np is _GNU_SOURCE-only, so close each one
    // found in /proc/self/fd (glibc ignores a close action on a descriptor closed in the meantime).
    for fd in inheritableDescriptors() {
        posix_spawn_file_actions_addclose(&actions, fd)
    }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Signals ignored or blocked here (SIGPIPE by NIO, for one) would otherwise stay so in the dialog.
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
    guard result == 0 else {
        throw ApprovalError(.spawnFailed, "Could not start \(path).", errno: result)
    }
    return pid
}

/// Reads two pipes to their ends (at most 64 KiB kept from each).
private func drain(_ first: Int32, _ second: Int32) -> ([UInt8], [UInt8]) {
    var collected: [[UInt8]] = [[], []]
    var open = [true, true]
    var buffer = [UInt8](repeating: 0, count: 4096)
    while open[0] || open[1] {
        var fds = [
            pollfd(fd: open[0] ? first : -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: open[1] ? second : -1, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 2, -1)
        if ready < 0 {
            if errno == EINTR { continue }
            break
        }
        for index in 0..<2 where open[index] && fds[index].revents != 0 {
            let n = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                if collected[index].count < 65_536 { collected[index].append(contentsOf: buffer[0..<n]) }
            } else if n == 0 || errno != EINTR {
                open[index] = false
            }
        }
    }
    return (collected[0], collected[1])
}
