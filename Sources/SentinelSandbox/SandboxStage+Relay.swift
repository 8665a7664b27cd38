// `--network proxied`: the sandbox's network namespace has only loopback, and PID 1 relays
// 127.0.0.1:3128 inside to the policy proxy's Unix socket outside. A path-based Unix socket is
// reachable across network namespaces; PID 1 holds a descriptor of the socket's directory,
// opened before the namespaces were made, and connects through /proc/self/fd/N/<name>. Every
// other destination is unreachable by topology: there is no route out of the namespace.

import CSentinelLinux
import Glibc

/// The loopback port the workload's HTTP(S)_PROXY points at.
let proxiedListenPort: UInt16 = 3128

/// PID 1's relay: accepts on 127.0.0.1:3128 and splices each connection to a new connection to
/// the proxy's Unix socket. Non-blocking, driven by PID 1's poll loop; each direction has one
/// buffer, and a side is read only when its buffer has drained (backpressure).
final class ProxyRelay {
    private struct Pair {
        var client: Int32
        var upstream: Int32
        var toUpstream: [UInt8] = []
        var toClient: [UInt8] = []
        var clientDone = false
        var upstreamDone = false
    }

    let listener: Int32
    private let socketPath: String
    private var pairs: [Pair] = []
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    /// Listens on 127.0.0.1:3128; `directoryFD` is the proxy socket's directory, `name` the socket.
    init(directoryFD: Int32, name: String) throws(Errno) {
        socketPath = "/proc/self/fd/\(directoryFD)/\(name)"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Errno.current }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = proxiedListenPort.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let failure = Errno.current
            Sys.close(fd)
            throw failure
        }
        listener = fd
    }

    /// The descriptors to poll and the events wanted, listener first.
    func pollSet() -> [pollfd] {
        var set = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        for pair in pairs {
            // Read a side only when what it sent before has been written on.
            var clientEvents: Int16 = 0
            if !pair.clientDone && pair.toUpstream.isEmpty { clientEvents |= Int16(POLLIN) }
            if !pair.toClient.isEmpty { clientEvents |= Int16(POLLOUT) }
            var upstreamEvents: Int16 = 0
            if !pair.upstreamDone && pair.toClient.isEmpty { upstreamEvents |= Int16(POLLIN) }
            if !pair.toUpstream.isEmpty { upstreamEvents |= Int16(POLLOUT) }
            set.append(pollfd(fd: pair.client, events: clientEvents, revents: 0))
            set.append(pollfd(fd: pair.upstream, events: upstreamEvents, revents: 0))
        }
        return set
    }

    /// Handles what poll reported for the descriptors of `pollSet()`.
    func handle(_ results: ArraySlice<pollfd>) {
        let results = Array(results)
        guard !results.isEmpty else { return }
        if results[0].revents & Int16(POLLIN) != 0 { acceptAll() }
        var index = 1
        var survivors: [Pair] = []
        for var pair in pairs {
            // Pairs accepted in this round have no poll results yet.
            if index + 1 < results.count, results[index].fd == pair.client, results[index + 1].fd == pair.upstream {
                let clientEvents = results[index].revents
                let upstreamEvents = results[index + 1].revents
                if clientEvents & Int16(POLLOUT) != 0 { flush(&pair.toClient, to: pair.client, done: &pair.upstreamDone) }
                if upstreamEvents & Int16(POLLOUT) != 0 { flush(&pair.toUpstream, to: pair.upstream, done: &pair.clientDone) }
                if clientEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0, pair.toUpstream.isEmpty, !pair.clientDone {
                    pump(from: pair.client, into: &pair.toUpstream, done: &pair.clientDone, peer: pair.upstream)
                    flush(&pair.toUpstream, to: pair.upstream, done: &pair.clientDone)
                }
                if upstreamEvents & Int16(POLLIN | POLLHUP | POLLERR) != 0, pair.toClient.isEmpty, !pair.upstreamDone {
                    pump(from: pair.upstream, into: &pair.toClient, done: &pair.upstreamDone, peer: pair.client)
                    flush(&pair.toClient, to: pair.client, done: &pair.upstreamDone)
                }
                index += 2
            }
            if pair.clientDone && pair.upstreamDone && pair.toClient.isEmpty && pair.toUpstream.isEmpty {
                Sys.close(pair.client)
                Sys.close(pair.upstream)
            } else {
                survivors.append(pair)
            }
        }
        pairs = survivors
    }

    private func acceptAll() {
        while true {
            // accept4 is hidden behind _GNU_SOURCE in Glibc's module map; accept + fcntl does the same
            // (PID 1 never execs, so close-on-exec only matters for the workload forked earlier).
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard let upstream = connectUpstream() else {
                // The proxy is gone: the client sees a closed connection, never a way around it.
                Sys.close(client)
                continue
            }
            pairs.append(Pair(client: client, upstream: upstream))
        }
    }

    private func connectUpstream() -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { Sys.close(fd); return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (offset, byte) in bytes.enumerated() { raw[offset] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { Sys.close(fd); return nil }
        // Blocking connect to a local socket is immediate; the relay then needs it non-blocking.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// Reads what is available into `pending`; at end of input, passes the half-close on.
    private func pump(from fd: Int32, into pending: inout [UInt8], done: inout Bool, peer: Int32) {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            pending.append(contentsOf: buffer[0..<count])
        } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
            done = true
            _ = shutdown(peer, Int32(SHUT_WR))
        }
    }

    /// Writes as much of `pending` as the socket takes; a write error ends that direction.
    private func flush(_ pending: inout [UInt8], to fd: Int32, done: inout Bool) {
        while !pending.isEmpty {
            let count = pending.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                pending.removeFirst(count)
            } else {
                if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
                pending.removeAll()
                done = true
                return
            }
        }
    }
}
