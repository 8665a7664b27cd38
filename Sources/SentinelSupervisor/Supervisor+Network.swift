import CSentinelLinux
import Foundation
import Glibc
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox

extension Supervisor {
    /// The most bytes of a socket address read (`sizeof(struct sockaddr_storage)`).
    static let socketAddressLimit = 128
    /// The most messages of one `sendmmsg` examined (the kernel's UIO_MAXIOV).
    static let messageLimit = 1024

    /// The decision request for sending to or connecting to the address in `bytes`; nil for an
    /// `AF_UNSPEC` address (a datagram socket's disconnect), which reaches nothing.
    func addressRequest(
        _ bytes: [UInt8], _ notification: SeccompNotification, _ target: TargetProcess
    ) throws(SupervisorError) -> DecisionRequest? {
        guard bytes.count >= 2 else {
            throw SupervisorError(.unsupported, "the socket address is shorter than its family field.", errno: EINVAL)
        }
        let family = Int32(bytes.withUnsafeBytes { $0.loadUnaligned(as: sa_family_t.self) })
        let recommendation = "Reject unless this socket destination is explicitly trusted."
        switch family {
        case AF_UNSPEC:
            return nil
        case AF_INET, AF_INET6:
            let endpoint: IPEndpoint
            do {
                endpoint = try bytes.withUnsafeBytes { raw throws(SocketAddressError) in try IPEndpoint(socketAddress: raw) }
            } catch {
                throw SupervisorError(.unsupported, "the socket address cannot be read: \(error).", errno: EINVAL)
            }
            let verdict: Verdict
            if trustedEndpoints.contains(endpoint) {
                return DecisionRequest(
                    action: .connect, target: endpoint.description,
                    verdict: .allow(rule: "guard:trusted-endpoint", reason: "\(endpoint) was given to sentinel guard with --allow-connect (the policy proxy)."),
                    recommendation: recommendation,
                    details: details(notification, ["address": endpoint.address.description, "port": String(endpoint.port)]))
            }
            switch policy.checkConnect(host: endpoint.address.description, port: Int(endpoint.port)) {
            case .decided(let decision):
                verdict = decision.verdict
            case .needsResolution:
                // An address never needs a lookup; if the engine asks for one, refuse.
                verdict = .deny(rule: "guard:connect", reason: "\(endpoint) could not be decided without a lookup.")
            }
            return DecisionRequest(
                action: .connect, target: endpoint.description, verdict: verdict, recommendation: recommendation,
                details: details(notification, ["address": endpoint.address.description, "port": String(endpoint.port)]))
        case AF_UNIX:
            let pathBytes = bytes.dropFirst(2)
            if pathBytes.first == 0 {
                let name = String(decoding: pathBytes.dropFirst().prefix { $0 != 0 }, as: UTF8.self)
                return DecisionRequest(
                    action: .connect, target: "unix:@\(name)",
                    verdict: .deny(
                        rule: "guard:abstract-unix-socket",
                        reason: "Abstract Unix socket @\(name) is outside the file system, so no path rule covers it.",
                        remedy: "Approve it when asked if the program must reach this local service."),
                    recommendation: recommendation, details: details(notification))
            }
            guard let path = String(validating: Array(pathBytes.prefix { $0 != 0 }), as: UTF8.self), !path.isEmpty else {
                throw SupervisorError(.unsupported, "the Unix socket path is empty or not UTF-8.", errno: EINVAL)
            }
            let absolute = try absolutePath(path, dirfd: AT_FDCWD, target)
            // Reaching a socket file needs write permission on it: it is checked as a write.
            let verdict = policy.checkPath(absolute, access: .write, workingDirectory: "/")
            return DecisionRequest(
                action: .connect, target: "unix:\(absolute)", verdict: verdict, recommendation: recommendation,
                details: details(notification))
        default:
            return DecisionRequest(
                action: .connect, target: "family \(family)",
                verdict: .deny(rule: "guard:socket-family", reason: "Address family \(family) is not one the guard can check (only IPv4, IPv6 and Unix)."),
                recommendation: recommendation, details: details(notification))
        }
    }

    /// Reads `length` bytes of socket address at `address` (bounded).
    func socketAddress(_ target: TargetProcess, at address: UInt64, length: UInt64) throws(SupervisorError) -> [UInt8] {
        try target.bytes(at: address, count: min(Int(truncatingIfNeeded: min(length, 1 << 20)), Self.socketAddressLimit))
    }

    // MARK: - connect

    func planConnect(_ notification: SeccompNotification, _ target: TargetProcess) throws(SupervisorError) -> Plan {
        let a = notification.data.arguments
        guard a[2] >= 2, a[2] <= 1 << 20 else { return .answer(.error(EINVAL)) }
        let bytes = try socketAddress(target, at: a[1], length: a[2])
        guard let request = try addressRequest(bytes, notification, target) else { return .answer(.continue) }
        let id = notification.id
        let tid = notification.pid
        let socket = Int32(truncatingIfNeeded: a[0])
        let isInternet = request.details["port"] != nil
        return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
            guard isInternet else { return continueIfPending(id) }
            // connect can block for the kernel's TCP timeout: not on a shared executor thread.
            let thread = Thread { [self] in connectOnBehalf(id: id, tid: tid, socket: socket, address: bytes) }
            thread.start()
        }
    }

    /// Connects the command's own socket (a duplicate from `pidfd_getfd`) to the address that was
    /// checked, and answers with the result; so the address cannot change after the check. Where
    /// `pidfd_getfd` is refused (no ptrace access, an older kernel), the call continues after
    /// `SECCOMP_IOCTL_NOTIF_ID_VALID`, with a warning that the window is open.
    func connectOnBehalf(id: UInt64, tid: Int32, socket: Int32, address: [UInt8]) {
        let duplicate: Int32
        do {
            let process = try TargetProcess(tid: tid).threadGroup()
            let pidfd = sentinel_pidfd_open(process)
            guard pidfd >= 0 else { throw SupervisorError(.targetUnreadable, "pidfd_open failed (\(SupervisorError.text(-pidfd))).", errno: -pidfd) }
            defer { close(pidfd) }
            let result = sentinel_pidfd_getfd(pidfd, socket)
            if result == -EBADF { return answer(id, .error(EBADF)) }
            guard result >= 0 else {
                throw SupervisorError(.targetUnreadable, "pidfd_getfd failed (\(SupervisorError.text(-result))).", errno: -result)
            }
            duplicate = result
        } catch {
            warnOnce("sentinel guard: warning: connects are let through after the check instead of being made on the program's behalf (\(error)); a thread of the program could change the address in between.")
            return continueIfPending(id)
        }
        defer { close(duplicate) }
        // The pidfd was taken after the notification arrived; if the thread is still waiting,
        // the process it names is the caller's, not a reused pid.
        guard notifier.isPending(id) else { return }
        let result = address.withUnsafeBytes { raw in
            Glibc.connect(duplicate, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        answer(id, result == 0 ? .value(0) : .error(Glibc.errno))
    }

    // MARK: - sendto, sendmsg, sendmmsg

    /// Sends with an address are decided per address, then continued: the kernel re-reads the
    /// address (a window the documentation states), since sending on the command's behalf would
    /// mean copying its data.
    func planSend(_ notification: SeccompNotification, _ target: TargetProcess, kind: Kind) throws(SupervisorError) -> Plan {
        let a = notification.data.arguments
        var addresses: [(UInt64, UInt64)] = []
        switch kind {
        case .sendTo:
            if a[4] != 0 { addresses.append((a[4], a[5])) }
        case .sendMsg:
            if let name = try messageName(target, at: a[1]) { addresses.append(name) }
        case .sendMMsg:
            let count = min(Int(truncatingIfNeeded: min(a[2], 1 << 20)), Self.messageLimit)
            for index in 0..<count {
                // struct mmsghdr: a 56-byte msghdr and a 4-byte length, padded to 64.
                if let name = try messageName(target, at: a[1] + UInt64(index) * 64) { addresses.append(name) }
            }
        default:
            throw SupervisorError(.unsupported, "\(kind) is not a send call.")
        }
        var requests: [DecisionRequest] = []
        var seen: Set<String> = []
        for (address, length) in addresses where length >= 2 {
            let bytes = try socketAddress(target, at: address, length: length)
            guard let request = try addressRequest(bytes, notification, target) else { continue }
            if seen.insert(request.target).inserted { requests.append(request) }
        }
        guard !requests.isEmpty else { return .answer(.continue) }
        let id = notification.id
        return .decide(requests, refuseWith: EACCES, onDenied: nil) { [self] in continueIfPending(id) }
    }

    /// `msg_name` and `msg_namelen` of the `struct msghdr` at `address`; nil when there is none.
    func messageName(_ target: TargetProcess, at address: UInt64) throws(SupervisorError) -> (UInt64, UInt64)? {
        let header = try target.bytes(at: address, count: 16)
        let name = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
        let length = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }
        return name == 0 || length == 0 ? nil : (name, UInt64(length))
    }
}
