import CSentinelLinux
import Foundation
import Glibc
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox

/// A descriptor the supervisor owns, closed when the last reference goes (it travels into the
/// closures that act once a decision is made, which may run on another thread).
final class OwnedDescriptor: Sendable {
    /// The descriptor.
    let value: Int32
    init(_ value: Int32) { self.value = value }
    deinit { close(value) }
}

extension Supervisor {
    /// The most bytes of a socket address read (`sizeof(struct sockaddr_storage)`).
    static let socketAddressLimit = 128
    /// The most messages of one `sendmmsg` examined (the kernel's UIO_MAXIOV).
    static let messageLimit = 1024
    /// The most iovec entries of one message read (UIO_MAXIOV).
    static let iovecLimit = 1024
    /// The most data bytes one send made on the program's behalf carries. A datagram is at most
    /// 64 KiB (UDP) or `net.core.wmem_max` (Unix, 208 KiB by default), so every datagram fits; a
    /// stream send of more is sent in part, which the call's result says, as a kernel may.
    static let sendLimit = 256 * 1024
    /// `MSG_DONTWAIT` and `MSG_NOSIGNAL` (glibc's anonymous enum, which Swift imports untyped).
    static let messageDontWait: Int32 = 0x40
    static let messageNoSignal: Int32 = 0x4000
    /// The most bytes of ancillary data read (the kernel's `sysctl_optmem_max` default is 20 KiB).
    static let controlLimit = 20 * 1024

    /// Where a connect or send goes, once read in the calling thread's view.
    enum Destination {
        /// Decide `request`; if allowed, the supervisor uses `address` (with `keep` held open
        /// until then: the socket file a Unix path was resolved to).
        case decide(DecisionRequest, address: [UInt8], keep: OwnedDescriptor?)
        /// `AF_UNSPEC`: a datagram socket's disconnect, which reaches nothing (done on the
        /// program's behalf all the same, so no other address can be swapped in).
        case nowhere(address: [UInt8])
        /// The kernel would fail the call with this errno before reaching anything.
        case fails(Int32)
    }

    /// The decision request for sending to or connecting to the address in `bytes`.
    func destination(
        _ bytes: [UInt8], _ notification: SeccompNotification, tgid: Int32
    ) throws(SupervisorError) -> Destination {
        guard bytes.count >= 2 else {
            throw SupervisorError(.unsupported, "the socket address is shorter than its family field.", errno: EINVAL)
        }
        let family = Int32(bytes.withUnsafeBytes { $0.loadUnaligned(as: sa_family_t.self) })
        let recommendation = "Reject unless this socket destination is explicitly trusted."
        switch family {
        case AF_UNSPEC:
            return .nowhere(address: bytes)
        case AF_INET, AF_INET6:
            let endpoint: IPEndpoint
            do {
                endpoint = try bytes.withUnsafeBytes { raw throws(SocketAddressError) in try IPEndpoint(socketAddress: raw) }
            } catch {
                throw SupervisorError(.unsupported, "the socket address cannot be read: \(error).", errno: EINVAL)
            }
            let recorded = details(notification, ["address": endpoint.address.description, "port": String(endpoint.port)])
            let subject = "ip:\(endpoint)"
            if trustedEndpoints.contains(endpoint) {
                let request = DecisionRequest(
                    action: .connect, target: endpoint.description,
                    verdict: .allow(rule: "guard:trusted-endpoint", reason: "\(endpoint) was given to sentinel guard with --allow-connect (the policy proxy)."),
                    recommendation: recommendation, details: recorded, subject: subject)
                return .decide(request, address: bytes, keep: nil)
            }
            let verdict: Verdict
            switch policy.checkConnect(host: endpoint.address.description, port: Int(endpoint.port)) {
            case .decided(let decision):
                verdict = decision.verdict
            case .needsResolution:
                // An address never needs a lookup; if the engine asks for one, refuse.
                verdict = .deny(rule: "guard:connect", reason: "\(endpoint) could not be decided without a lookup.")
            }
            let request = DecisionRequest(
                action: .connect, target: endpoint.description, verdict: verdict, recommendation: recommendation,
                details: recorded, subject: subject)
            return .decide(request, address: bytes, keep: nil)
        case AF_UNIX:
            let pathBytes = bytes.dropFirst(2)
            if pathBytes.first == 0 || pathBytes.isEmpty {
                // An abstract name (or an unnamed address): outside the file system. The name is
                // the whole rest of the address, NUL bytes included.
                let name = String(decoding: pathBytes.dropFirst().prefix { $0 != 0 }, as: UTF8.self)
                let request = DecisionRequest(
                    action: .connect, target: "unix:@\(name)",
                    verdict: .deny(
                        rule: "guard:abstract-unix-socket",
                        reason: "Abstract Unix socket @\(name) is outside the file system, so no path rule covers it.",
                        remedy: "Approve it when asked if the program must reach this local service."),
                    recommendation: recommendation, details: details(notification),
                    subject: "unix-abstract:" + pathBytes.map { String($0, radix: 16) }.joined(separator: "."))
                return .decide(request, address: bytes, keep: nil)
            }
            guard let path = String(validating: Array(pathBytes.prefix { $0 != 0 }), as: UTF8.self), !path.isEmpty else {
                throw SupervisorError(.unsupported, "the Unix socket path is empty or not UTF-8.", errno: EINVAL)
            }
            // The socket file the kernel would reach for the caller (its working directory, its
            // /proc/self), identified by device and inode: the decision, the approval and the
            // connect made on its behalf are all about that file.
            let file: CallerFile
            do {
                file = try CallerView.open(path, dirfd: AT_FDCWD, tid: notification.pid, tgid: tgid, reaches: processes.contains)
            } catch {
                return .fails(error.code)
            }
            guard file.status.st_mode & S_IFMT == S_IFSOCK else { return .fails(ECONNREFUSED) }
            let identity = file.identity
            // Reaching a socket file needs write permission on it: it is checked as a write.
            let (canonical, verdict) = writeVerdict(file, named: "The Unix socket \(path)", rule: "guard:socket-identity")
            let keep = file.owned()
            let request = DecisionRequest(
                action: .connect, target: "unix:\(canonical ?? path)", verdict: verdict, recommendation: recommendation,
                details: details(notification, ["identity": "\(identity.device):\(identity.inode)"]),
                subject: "unix:\(identity.device):\(identity.inode)")
            return .decide(request, address: Self.unixAddress("/proc/self/fd/\(keep.value)"), keep: keep)
        default:
            // A netlink message to the kernel (nl_pid 0) reaches no network: the C library's
            // getaddrinfo asks the kernel for the interfaces' addresses that way on every lookup
            // of a name with several addresses. Refused as before, but nobody is asked about it.
            let toKernel = family == AF_NETLINK && bytes.count >= 8 && bytes[4..<8].allSatisfy { $0 == 0 }
            var recorded = details(notification)
            if toKernel { recorded["asked"] = "no: a netlink message to the kernel (getaddrinfo reads the interfaces' addresses so)" }
            let request = DecisionRequest(
                action: .connect, target: "family \(family)",
                verdict: .deny(rule: "guard:socket-family", reason: "Address family \(family) is not one the guard can check (only IPv4, IPv6 and Unix)."),
                recommendation: recommendation, details: recorded, isApprovable: !toKernel)
            return .decide(request, address: bytes, keep: nil)
        }
    }

    /// A `sockaddr_un` for `path` (which fits: the callers pass `/proc/self/fd/N`).
    static func unixAddress(_ path: String) -> [UInt8] {
        var bytes = withUnsafeBytes(of: sa_family_t(AF_UNIX)) { Array($0) }
        bytes += Array(path.utf8) + [0]
        return bytes
    }

    /// Reads `length` bytes of socket address at `address` (bounded).
    func socketAddress(_ target: TargetProcess, at address: UInt64, length: UInt64) throws(SupervisorError) -> [UInt8] {
        try target.bytes(at: address, count: min(Int(truncatingIfNeeded: min(length, 1 << 20)), Self.socketAddressLimit))
    }

    /// A duplicate of descriptor `fd` of the calling thread's process (`pidfd_getfd`; the pidfd is
    /// taken after the notification arrived, and the caller checks that the call is still pending
    /// afterwards, so the process it names is the caller's, not a reused pid).
    func duplicate(_ fd: Int32, tgid: Int32) -> Result<OwnedDescriptor, SupervisorError> {
        let pidfd = sentinel_pidfd_open(tgid)
        guard pidfd >= 0 else {
            return .failure(SupervisorError(.targetUnreadable, "pidfd_open failed (\(SupervisorError.text(-pidfd))).", errno: -pidfd))
        }
        defer { close(pidfd) }
        let result = sentinel_pidfd_getfd(pidfd, fd)
        guard result >= 0 else {
            return .failure(SupervisorError(.targetUnreadable, "pidfd_getfd failed (\(SupervisorError.text(-result))).", errno: -result))
        }
        return .success(OwnedDescriptor(result))
    }

    // MARK: - connect

    /// Every connect is made on the program's behalf, on a duplicate of its own socket, to the
    /// address that was decided (for a Unix socket, the very file: `/proc/self/fd/N` of it), so
    /// nothing the program rewrites after the check can change where it connects.
    func planConnect(_ notification: SeccompNotification, _ target: TargetProcess) throws(SupervisorError) -> Plan {
        let a = notification.data.arguments
        guard a[2] >= 2, a[2] <= 1 << 20 else { return .answer(.error(EINVAL)) }
        let bytes = try socketAddress(target, at: a[1], length: a[2])
        let tgid = try target.threadGroup()
        let id = notification.id
        let socket = Int32(truncatingIfNeeded: a[0])
        switch try destination(bytes, notification, tgid: tgid) {
        case .fails(let code):
            return .answer(.error(code))
        case .nowhere(let address):
            return .act { [self] in connectOnBehalf(id: id, tgid: tgid, socket: socket, address: address, keep: nil) }
        case .decide(var request, let address, let keep):
            if !request.verdict.isAllowed, isRouteProbeShaped(socket: socket, tgid: tgid, address: address) {
                // The C library connects a UDP socket to each address of a name it resolved, only
                // to learn the route (RFC 3484 sorting: connect, getsockname, close), several per
                // lookup; no person can tell those from a real use. Refused and recorded as
                // before, without a question. DNS (port 53), the one common real use, is asked.
                request.isApprovable = false
                request.details["asked"] = "no: a datagram socket's connect (getaddrinfo's route probes look the same)"
            }
            return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
                // connect can block for the kernel's TCP timeout: not on the receiving thread.
                let thread = Thread { [self] in connectOnBehalf(id: id, tgid: tgid, socket: socket, address: address, keep: keep) }
                thread.start()
            }
        }
    }

    /// Whether a connect of the program's `socket` to `address` looks like the C library's route
    /// probe: a datagram socket, an IPv4 or IPv6 address, a port other than DNS's.
    func isRouteProbeShaped(socket: Int32, tgid: Int32, address: [UInt8]) -> Bool {
        guard let endpoint = try? address.withUnsafeBytes({ raw throws(SocketAddressError) in try IPEndpoint(socketAddress: raw) }),
            endpoint.port != 53, case .success(let duplicate) = self.duplicate(socket, tgid: tgid)
        else { return false }
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(duplicate.value, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return false }
        return type == Int32(SOCK_DGRAM.rawValue)
    }

    /// Connects the program's own socket (a duplicate) to `address` and answers with the result.
    func connectOnBehalf(id: UInt64, tgid: Int32, socket: Int32, address: [UInt8], keep: OwnedDescriptor?) {
        let duplicate: OwnedDescriptor
        switch self.duplicate(socket, tgid: tgid) {
        case .success(let value): duplicate = value
        case .failure(let error):
            if error.errno == EBADF { return answer(id, .error(EBADF)) }
            return refuseUnperformed(id, "connect", error)
        }
        guard notifier.isPending(id) else { return }
        let result = address.withUnsafeBytes { raw in
            Glibc.connect(duplicate.value, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        let code = Glibc.errno
        withExtendedLifetime(keep) {}
        answer(id, result == 0 ? .value(0) : .error(code))
    }

    /// Refuses a call the supervisor could not make on the program's behalf, saying why once.
    func refuseUnperformed(_ id: UInt64, _ call: String, _ error: SupervisorError) {
        warnOnce("sentinel guard: a \(call) could not be made on the program's behalf (\(error)); such calls are refused with EACCES.")
        answer(id, .error(EACCES))
    }

    // MARK: - sendto, sendmsg, sendmmsg

    /// One message a send carries, as read from the caller's memory.
    struct OutgoingMessage: Sendable {
        /// The data, at most ``sendLimit`` bytes in all.
        var data: [UInt8]
        /// The ancillary data, as the caller laid it out.
        var control: [UInt8]
        /// The destination's index in the plan's destinations, nil for none (a connected socket).
        var destination: Int?
        /// Where `msg_len` of this message is in the caller's memory (`sendmmsg`), to report it.
        var lengthAddress: UInt64?
    }

    /// Every send with an address (`sendto` with one, every `sendmsg` and `sendmmsg`, whose
    /// `msg_name` is in memory and could be set after a check that saw none) is made by the
    /// supervisor on a duplicate of the program's socket, with the data and address it read:
    /// what is decided is where the bytes go.
    func planSend(_ notification: SeccompNotification, _ target: TargetProcess, kind: Kind) throws(SupervisorError) -> Plan {
        let a = notification.data.arguments
        let socket = Int32(truncatingIfNeeded: a[0])
        var messages: [OutgoingMessage] = []
        var names: [[UInt8]] = []
        var flags: Int32
        var budget = Self.sendLimit
        switch kind {
        case .sendTo:
            flags = Int32(truncatingIfNeeded: a[3])
            let count = min(Int(truncatingIfNeeded: min(a[2], 1 << 30)), budget)
            let data = a[1] == 0 && count > 0 ? nil : try target.bytes(at: a[1], count: count)
            guard let data else { return .answer(.error(EFAULT)) }
            var destination: Int?
            if a[4] != 0 {
                guard a[5] >= 2 else { return .answer(.error(EINVAL)) }
                names.append(try socketAddress(target, at: a[4], length: a[5]))
                destination = 0
            }
            messages.append(OutgoingMessage(data: data, control: [], destination: destination, lengthAddress: nil))
        case .sendMsg:
            flags = Int32(truncatingIfNeeded: a[2])
            messages.append(try readMessage(target, at: a[1], budget: &budget, names: &names, lengthAddress: nil))
        case .sendMMsg:
            flags = Int32(truncatingIfNeeded: a[3])
            let count = min(Int(truncatingIfNeeded: min(a[2], 1 << 20)), Self.messageLimit)
            guard count > 0 else { return .answer(.value(0)) }
            for index in 0..<count {
                // struct mmsghdr: a 56-byte msghdr and a 4-byte length, padded to 64.
                let header = a[1] + UInt64(index) * 64
                if index > 0, budget == 0 { break }
                messages.append(try readMessage(target, at: header, budget: &budget, names: &names, lengthAddress: header + 56))
            }
        default:
            throw SupervisorError(.unsupported, "\(kind) is not a send call.")
        }
        let tgid = try target.threadGroup()
        var addresses: [[UInt8]] = []
        var keeps: [OwnedDescriptor] = []
        var requests: [DecisionRequest] = []
        var seen: Set<String> = []
        for name in names {
            switch try destination(name, notification, tgid: tgid) {
            case .fails(let code):
                return .answer(.error(code))
            case .nowhere(let address):
                addresses.append(address)
            case .decide(let request, let address, let keep):
                addresses.append(address)
                if let keep { keeps.append(keep) }
                if seen.insert(request.subject ?? request.target).inserted { requests.append(request) }
            }
        }
        let id = notification.id
        let tid = notification.pid
        let send = OnBehalfSend(
            id: id, tid: tid, tgid: tgid, socket: socket, flags: flags, messages: messages, addresses: addresses,
            keep: keeps, kind: kind)
        guard !requests.isEmpty else {
            return .act { [self] in perform(send) }
        }
        return .decide(requests, refuseWith: EACCES, onDenied: nil) { [self] in perform(send) }
    }

    /// Reads the `struct msghdr` at `address`: its name (appended to `names`), data (within
    /// `budget`, which it lowers) and ancillary data.
    func readMessage(
        _ target: TargetProcess, at address: UInt64, budget: inout Int, names: inout [[UInt8]], lengthAddress: UInt64?
    ) throws(SupervisorError) -> OutgoingMessage {
        // struct msghdr (x86-64 and aarch64): name, namelen (+4), iov, iovlen, control, controllen, flags.
        let header = try target.bytes(at: address, count: 56)
        func word(_ offset: Int) -> UInt64 { header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) } }
        let name = word(0)
        let nameLength = UInt64(header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) })
        let iov = word(16)
        let iovCount = word(24)
        let control = word(32)
        let controlLength = word(40)
        guard iovCount <= UInt64(Self.iovecLimit) else {
            throw SupervisorError(.unsupported, "the message has more than \(Self.iovecLimit) buffers.", errno: EMSGSIZE)
        }
        var destination: Int?
        if name != 0, nameLength != 0 {
            guard nameLength >= 2 else { throw SupervisorError(.unsupported, "the socket address is too short.", errno: EINVAL) }
            names.append(try socketAddress(target, at: name, length: nameLength))
            destination = names.count - 1
        }
        var data: [UInt8] = []
        if iovCount > 0 {
            let vectors = try target.bytes(at: iov, count: Int(iovCount) * 16)
            for index in 0..<Int(iovCount) where budget > 0 {
                let base = vectors.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 16, as: UInt64.self) }
                let length = vectors.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * 16 + 8, as: UInt64.self) }
                let take = min(Int(truncatingIfNeeded: min(length, 1 << 30)), budget)
                guard take > 0 else { continue }
                data += try target.bytes(at: base, count: take)
                budget -= take
            }
        }
        var ancillary: [UInt8] = []
        if control != 0, controlLength > 0 {
            guard controlLength <= UInt64(Self.controlLimit) else {
                throw SupervisorError(.unsupported, "the message's ancillary data is larger than \(Self.controlLimit) bytes.", errno: ENOBUFS)
            }
            ancillary = try target.bytes(at: control, count: Int(controlLength))
        }
        return OutgoingMessage(data: data, control: ancillary, destination: destination, lengthAddress: lengthAddress)
    }
}

/// A send the supervisor makes for the program once it is decided.
struct OnBehalfSend: Sendable {
    var id: UInt64
    var tid: Int32
    var tgid: Int32
    var socket: Int32
    var flags: Int32
    var messages: [Supervisor.OutgoingMessage]
    var addresses: [[UInt8]]
    var keep: [OwnedDescriptor]
    var kind: Supervisor.Kind
}

extension Supervisor {
    /// Sends the messages on a duplicate of the program's socket and answers as the call would
    /// have: the bytes sent (`sendto`, `sendmsg`) or the messages sent (`sendmmsg`, whose
    /// per-message lengths are written back). A send that would block a blocking socket goes to
    /// its own thread, as a connect does.
    func perform(_ send: OnBehalfSend) {
        let duplicate: OwnedDescriptor
        switch self.duplicate(send.socket, tgid: send.tgid) {
        case .success(let value): duplicate = value
        case .failure(let error):
            if error.errno == EBADF { return answer(send.id, .error(EBADF)) }
            return refuseUnperformed(send.id, "send", error)
        }
        guard notifier.isPending(send.id) else { return }
        let blocking = fcntl(duplicate.value, F_GETFL) & O_NONBLOCK == 0 && send.flags & Self.messageDontWait == 0
        let first = transmit(send, on: duplicate, from: 0, wait: false)
        if blocking, case .wouldBlock = first {
            let thread = Thread { [self] in finish(send, transmit(send, on: duplicate, from: 0, wait: true)) }
            thread.start()
            return
        }
        finish(send, first)
    }

    /// What sending produced.
    enum SendOutcome {
        /// `count` messages were sent (for one message: `bytes` bytes).
        case sent(messages: Int, bytes: Int)
        /// The first message failed with this errno.
        case failed(Int32)
        /// The first message would block (only without `wait`).
        case wouldBlock
    }

    /// Sends the messages from `start`; stops at the first failure (reported only when it is the
    /// first message, as `sendmmsg` does).
    func transmit(_ send: OnBehalfSend, on socket: OwnedDescriptor, from start: Int, wait: Bool) -> SendOutcome {
        var sent = 0
        var lastBytes = 0
        for (index, message) in send.messages.enumerated() where index >= start {
            var flags = send.flags | Self.messageNoSignal
            if !wait { flags |= Self.messageDontWait }
            let result = sendOne(message, address: message.destination.map { send.addresses[$0] }, socket: socket.value, flags: flags, tgid: send.tgid)
            if result < 0 {
                let code = Int32(truncatingIfNeeded: -result)
                if sent > 0 { break }
                if code == EAGAIN, !wait { return .wouldBlock }
                if code == EPIPE, send.flags & Self.messageNoSignal == 0 {
                    // The kernel would have raised SIGPIPE in the sending thread.
                    _ = sentinel_supervisor_tgkill(send.tgid, send.tid, SIGPIPE)
                }
                return .failed(code)
            }
            lastBytes = result
            if let address = message.lengthAddress {
                reportLength(UInt32(truncatingIfNeeded: result), at: address, tid: send.tid)
            }
            sent += 1
        }
        return .sent(messages: sent, bytes: lastBytes)
    }

    /// Writes a message's `msg_len` into the caller's `struct mmsghdr`, as the kernel's
    /// `sendmmsg` does (glibc's resolver checks it). `process_vm_writev` first; where a seccomp
    /// profile refuses it (Sentinel's own, in a container), `/proc/PID/mem`, which the kernel
    /// allows the tracer.
    func reportLength(_ length: UInt32, at address: UInt64, tid: Int32) {
        var value = length
        if sentinel_supervisor_write_memory(tid, address, &value, 4) == 4 { return }
        let fd = open("/proc/\(tid)/mem", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = pwrite(fd, &value, 4, off_t(Int64(bitPattern: address)))
    }

    func finish(_ send: OnBehalfSend, _ outcome: SendOutcome) {
        switch outcome {
        case .sent(let messages, let bytes):
            answer(send.id, .value(Int64(send.kind == .sendMMsg ? messages : bytes)))
        case .failed(let code):
            answer(send.id, .error(code))
        case .wouldBlock:
            answer(send.id, .error(EAGAIN))
        }
    }

    /// One `sendmsg` of `message` to `address` (nil: the socket's peer); SCM_RIGHTS descriptors are
    /// the caller's numbers, replaced by duplicates. Returns the bytes sent or a negative errno.
    func sendOne(_ message: OutgoingMessage, address: [UInt8]?, socket: Int32, flags: Int32, tgid: Int32) -> Int {
        var control = message.control
        var passed: [OwnedDescriptor] = []
        if !control.isEmpty {
            switch translateRights(&control, tgid: tgid, into: &passed) {
            case .some(let code): return -Int(code)
            case .none: break
            }
        }
        var data = message.data
        var name = address ?? []
        var controlBytes = control
        let result: Int = data.withUnsafeMutableBytes { dataBuffer in
            name.withUnsafeMutableBytes { nameBuffer in
                controlBytes.withUnsafeMutableBytes { controlBuffer in
                    var vector = iovec(iov_base: dataBuffer.baseAddress, iov_len: dataBuffer.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_name = nameBuffer.count > 0 ? nameBuffer.baseAddress : nil
                        header.msg_namelen = socklen_t(nameBuffer.count)
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBuffer.count > 0 ? controlBuffer.baseAddress : nil
                        header.msg_controllen = controlBuffer.count
                        let sent = Glibc.sendmsg(socket, &header, flags)
                        return sent < 0 ? -Int(Glibc.errno) : sent
                    }
                }
            }
        }
        withExtendedLifetime(passed) {}
        return result
    }

    /// Replaces the descriptor numbers of every SCM_RIGHTS message in `control` (the caller's) by
    /// duplicates in this process, kept in `passed` until the send; nil, or the errno to fail with.
    func translateRights(_ control: inout [UInt8], tgid: Int32, into passed: inout [OwnedDescriptor]) -> Int32? {
        // struct cmsghdr on 64-bit Linux: size_t len, int level, int type, then data aligned to 8.
        var offset = 0
        while offset + 16 <= control.count {
            let length = Int(truncatingIfNeeded: control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) })
            let level = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 8, as: Int32.self) }
            let type = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self) }
            guard length >= 16, offset + length <= control.count else { return EINVAL }
            if level == SOL_SOCKET, type == 1 /* SCM_RIGHTS */ {
                let count = (length - 16) / 4
                for index in 0..<count {
                    let position = offset + 16 + index * 4
                    let number = control.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: Int32.self) }
                    switch duplicate(number, tgid: tgid) {
                    case .success(let descriptor):
                        passed.append(descriptor)
                        withUnsafeBytes(of: descriptor.value) { control.replaceSubrange(position..<position + 4, with: $0) }
                    case .failure(let error):
                        return error.errno ?? EBADF
                    }
                }
            }
            offset += (length + 7) & ~7
        }
        return nil
    }
}
