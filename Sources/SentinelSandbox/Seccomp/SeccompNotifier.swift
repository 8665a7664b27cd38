import CSentinelLinux
import Glibc

/// A system call suspended by `SECCOMP_RET_USER_NOTIF`, as the listener receives it.
public struct SeccompNotification: Sendable, Hashable {
    /// The kernel's cookie for this notification; pass it back when responding.
    public let id: UInt64
    /// The calling thread, as seen from the listener's pid namespace (0 if not visible there).
    public let pid: Int32
    /// `seccomp_notif.flags` (none defined today).
    public let flags: UInt32
    /// The call: number, architecture, arguments.
    public let data: SeccompData
}

/// How the listener answers a notification.
public enum SeccompResponse: Sendable, Hashable {
    /// Let the call run as made (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`, Linux 5.5). Safe for
    /// logging; for a policy decision it is subject to TOCTOU: the target's memory can change
    /// between the check and the kernel's own read, so never continue a call whose pointer
    /// arguments were the reason to allow it.
    case `continue`
    /// Fail the call with this errno (positive, e.g. `EPERM`).
    case error(Int32)
    /// Make the call return this value without running it.
    case value(Int64)
}

/// The listener side of a notifying filter: receive notifications, answer them, install fds in
/// the target. Used by log mode (`SeccompLogSession`) and meant for `sentinel guard`'s
/// supervisor, which decides execve/connect/open calls itself.
///
/// A supervisor that reads the target's memory (a path, a sockaddr) must check `isPending(_:)`
/// after reading and before acting: the id may have been reused by then if the target died.
///
/// The notifier owns its fd and closes it when released. All methods may be called from any
/// thread; `receive` blocks, so a supervisor usually `wait`s first.
public final class SeccompNotifier: Sendable {
    /// The listener fd (owned; closed on deinit).
    public let fileDescriptor: Int32
    /// `sizeof(struct seccomp_notif)` as this kernel reads it (at least the 80 bytes we know).
    private let notificationSize: Int
    /// `sizeof(struct seccomp_notif_resp)` as this kernel reads it (at least 24).
    private let responseSize: Int

    /// Takes ownership of `listener` (closed on failure too) and reads the notification sizes
    /// from the kernel.
    public init(listener: Int32) throws(SeccompError) {
        var sizes = seccomp_notif_sizes()
        let result = sentinel_seccomp_notification_sizes(&sizes)
        guard result == 0 else {
            close(listener)
            throw SeccompError(
                .userNotificationUnavailable,
                "The kernel does not report seccomp notification sizes (\(String(cString: strerror(-result)))); "
                    + "it is older than Linux 5.0, so it cannot notify a listener.", errno: -result)
        }
        fileDescriptor = listener
        notificationSize = max(Int(sizes.seccomp_notif), MemoryLayout<seccomp_notif>.size)
        responseSize = max(Int(sizes.seccomp_notif_resp), MemoryLayout<seccomp_notif_resp>.size)
    }

    deinit {
        close(fileDescriptor)
    }

    /// What `wait` saw.
    public enum Event: Sendable, Hashable {
        /// A notification is ready to `receive`.
        case notification
        /// Every task under the filter has exited and been reaped (the kernel's EPOLLHUP, Linux
        /// 5.8: the filter's user count drops in `release_task`); nothing more will arrive.
        case hangUp
        /// Nothing happened within the timeout.
        case timeout
    }

    /// Waits for a notification, at most `timeoutMilliseconds` (-1: forever).
    public func wait(timeoutMilliseconds: Int32 = -1) throws(SeccompError) -> Event {
        var entry = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let result = poll(&entry, 1, timeoutMilliseconds)
            if result < 0 {
                let code = Glibc.errno
                if code == EINTR { continue }
                throw SeccompError(
                    .listenerFailed, "poll on the seccomp listener failed: \(String(cString: strerror(code))).",
                    errno: code)
            }
            if result == 0 { return .timeout }
            if entry.revents & Int16(POLLIN) != 0 { return .notification }
            return .hangUp
        }
    }

    /// Receives one notification, blocking until one arrives. Returns nil when the notification
    /// vanished before it could be read (its task was killed or its call interrupted).
    public func receive() throws(SeccompError) -> SeccompNotification? {
        var buffer = [UInt8](repeating: 0, count: notificationSize)
        while true {
            // The kernel refuses a buffer that is not zeroed (EINVAL), so zero it on each try.
            for index in buffer.indices { buffer[index] = 0 }
            let result = buffer.withUnsafeMutableBytes {
                sentinel_seccomp_notify_receive(fileDescriptor, $0.baseAddress)
            }
            if result == -EINTR { continue }
            if result == -ENOENT { return nil }
            guard result == 0 else {
                throw SeccompError(
                    .listenerFailed,
                    "Receiving a seccomp notification failed: \(String(cString: strerror(-result))).", errno: -result)
            }
            return buffer.withUnsafeBytes { raw in
                // struct seccomp_notif: id u64 @0, pid u32 @8, flags u32 @12, data @16
                // (nr s32 @16, arch u32 @20, instruction_pointer u64 @24, args u64[6] @32).
                let arguments = (0..<6).map { raw.loadUnaligned(fromByteOffset: 32 + 8 * $0, as: UInt64.self) }
                return SeccompNotification(
                    id: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                    pid: raw.loadUnaligned(fromByteOffset: 8, as: Int32.self),
                    flags: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self),
                    data: SeccompData(
                        number: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self),
                        architecture: raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self),
                        instructionPointer: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self),
                        arguments: arguments))
            }
        }
    }

    /// Answers notification `id`. Returns false when it is gone (the task died or its call was
    /// interrupted), which is not an error for the supervisor.
    @discardableResult
    public func respond(to id: UInt64, with response: SeccompResponse) throws(SeccompError) -> Bool {
        var buffer = [UInt8](repeating: 0, count: responseSize)
        // struct seccomp_notif_resp: id u64 @0, val s64 @8, error s32 @16, flags u32 @20.
        let value: Int64
        let error: Int32
        let flags: UInt32
        switch response {
        case .continue:
            (value, error, flags) = (0, 0, UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE))
        case .error(let code):
            (value, error, flags) = (0, -abs(code), 0)
        case .value(let result):
            (value, error, flags) = (result, 0, 0)
        }
        buffer.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: id, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: value, toByteOffset: 8, as: Int64.self)
            raw.storeBytes(of: error, toByteOffset: 16, as: Int32.self)
            raw.storeBytes(of: flags, toByteOffset: 20, as: UInt32.self)
        }
        while true {
            let result = buffer.withUnsafeBytes { sentinel_seccomp_notify_respond(fileDescriptor, $0.baseAddress) }
            if result == 0 { return true }
            if result == -EINTR { continue }
            if result == -ENOENT { return false }
            throw SeccompError(
                .listenerFailed,
                "Answering seccomp notification \(id) failed: \(String(cString: strerror(-result))).", errno: -result)
        }
    }

    /// Whether notification `id` is still waiting for an answer (`SECCOMP_IOCTL_NOTIF_ID_VALID`).
    public func isPending(_ id: UInt64) -> Bool {
        sentinel_seccomp_notify_id_valid(fileDescriptor, id) == 0
    }

    /// Installs a copy of our `fd` in the target of notification `id`
    /// (`SECCOMP_IOCTL_NOTIF_ADDFD`, Linux 5.9) and returns its number there: the lowest free
    /// one, or `targetNumber` (replacing what is there). With `answeringWithIt` (Linux 5.14) the
    /// notification is also answered with the new fd number, atomically.
    public func addFileDescriptor(
        _ fd: Int32, to id: UInt64, as targetNumber: Int32? = nil, closeOnExec: Bool = true,
        answeringWithIt: Bool = false
    ) throws(SeccompError) -> Int32 {
        var flags: UInt32 = 0
        if targetNumber != nil { flags |= UInt32(SECCOMP_ADDFD_FLAG_SETFD) }
        if answeringWithIt { flags |= UInt32(SECCOMP_ADDFD_FLAG_SEND) }
        var request = seccomp_notif_addfd(
            id: id, flags: flags, srcfd: UInt32(bitPattern: fd), newfd: UInt32(bitPattern: targetNumber ?? 0),
            newfd_flags: closeOnExec ? UInt32(O_CLOEXEC) : 0)
        while true {
            let result = sentinel_seccomp_notify_add_fd(fileDescriptor, &request)
            if result >= 0 { return result }
            if result == -EINTR { continue }
            throw SeccompError(
                .listenerFailed,
                "Installing fd \(fd) in the target of seccomp notification \(id) failed: "
                    + "\(String(cString: strerror(-result))).", errno: -result)
        }
    }
}

/// Moving a listener fd from the sandbox stage to its supervisor over a Unix socket.
public enum SeccompHandoff {
    /// A connected `AF_UNIX`/`SOCK_SEQPACKET` pair, both ends close-on-exec: keep `supervisor`,
    /// give `sandbox` to the stage (clearing close-on-exec there if the stage is a new program).
    public static func makeSocketPair() throws(SeccompError) -> (supervisor: Int32, sandbox: Int32) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            let code = Glibc.errno
            throw SeccompError(
                .handoffFailed, "Cannot create the listener handoff socket pair: \(String(cString: strerror(code))).",
                errno: code)
        }
        return (fds[0], fds[1])
    }

    /// Sends `listener` over `socket` (SCM_RIGHTS). The stage normally does this through
    /// `Seccomp.install(_:handingListenerTo:)`, which leaves no gap between install and send.
    public static func send(listener: Int32, over socket: Int32) throws(SeccompError) {
        let result = sentinel_seccomp_send_fd(socket, listener)
        guard result == 0 else {
            throw SeccompError(
                .handoffFailed, "Sending the seccomp listener failed: \(String(cString: strerror(-result))).",
                errno: -result)
        }
    }

    /// Receives the listener the stage sent over `socket` and wraps it. Blocks until it arrives
    /// or the stage closes its end (then throws: the sandbox failed before installing).
    public static func receiveListener(from socket: Int32) throws(SeccompError) -> SeccompNotifier {
        let result = sentinel_seccomp_receive_fd(socket)
        guard result >= 0 else {
            let reason =
                result == -ECONNRESET
                ? "the sandbox closed the socket without sending it (it failed before installing the filter)"
                : result == -EBADMSG
                    ? "the message did not carry exactly one fd" : String(cString: strerror(-result))
            throw SeccompError(.handoffFailed, "Receiving the seccomp listener failed: \(reason).", errno: -result)
        }
        return try SeccompNotifier(listener: result)
    }
}
