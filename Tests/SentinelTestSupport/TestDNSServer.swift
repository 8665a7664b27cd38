// A DNS server on a loopback address whose answers a test scripts: the rebinding test answers
// differently on each query, the resolver tests send malformed and spoofed replies.

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One record of a scripted answer.
public enum TestDNSRecord: Sendable, Hashable {
    /// An A record: `owner` has IPv4 address `address` (dotted quad).
    case a(owner: String, address: String)
    /// An AAAA record (16 bytes).
    case aaaa(owner: String, bytes: [UInt8])
    /// A CNAME record from `owner` to `target`.
    case cname(owner: String, target: String)
}

/// A query the server received.
public struct TestDNSQuery: Sendable, Hashable {
    /// The transaction ID.
    public var id: UInt16
    /// The name asked for, lowercased, without the final dot.
    public var name: String
    /// The type asked for (1 = A, 28 = AAAA).
    public var type: UInt16
    /// The query's bytes.
    public var bytes: [UInt8]
}

/// A UDP DNS server on `127.0.0.x`, answering each query with whatever the script returns (zero
/// or more datagrams).
public final class TestDNSServer: Sendable {
    /// The address it listens on.
    public let host: String
    /// The port it got.
    public let port: UInt16
    private let socket: Int32
    private let state = SharedState()

    private final class SharedState: Sendable {
        let queries = Mutex<[TestDNSQuery]>([])
        let done = Mutex(false)
    }

    /// Starts serving on `host` (a free port); `script` turns each query (and the number of
    /// earlier queries for the same name and type) into the datagrams to send back.
    public init(host: String = "127.0.0.1",
                script: @escaping @Sendable (_ query: TestDNSQuery, _ earlier: Int) -> [[UInt8]]) throws {
        self.host = host
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, host, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: address.sin_port)
        self.socket = fd
        let thread = Thread { [state] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                var peer = sockaddr_storage()
                var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &peerLength) }
                    }
                }
                if state.done.withLock({ $0 }) { return }
                guard count > 12, let query = TestDNSServer.parseQuery(Array(buffer[0..<count])) else { continue }
                let earlier = state.queries.withLock { list in
                    let earlier = list.filter { $0.name == query.name && $0.type == query.type }.count
                    list.append(query)
                    return earlier
                }
                for reply in script(query, earlier) {
                    _ = reply.withUnsafeBytes { raw in
                        withUnsafePointer(to: &peer) {
                            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, peerLength) }
                        }
                    }
                }
            }
        }
        thread.name = "test-dns"
        thread.start()
    }

    deinit { stop() }

    /// `127.0.0.x:port`.
    public var address: String { "\(host):\(port)" }

    /// Every query received so far.
    public var received: [TestDNSQuery] { state.queries.withLock { $0 } }

    /// Stops the server (the socket is shut down, which wakes the thread).
    public func stop() {
        let first = state.done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        shutdown(socket, Int32(SHUT_RDWR))
        // A datagram to ourselves wakes `recvfrom` where shutdown does not (UDP on Linux).
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let waker = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var byte: UInt8 = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(waker, &byte, 1, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(waker)
        close(socket)
    }

    // MARK: - Wire format

    static func parseQuery(_ bytes: [UInt8]) -> TestDNSQuery? {
        var offset = 12
        var labels: [String] = []
        while offset < bytes.count, bytes[offset] != 0 {
            let length = Int(bytes[offset])
            guard length < 64, offset + 1 + length < bytes.count else { return nil }
            labels.append(String(decoding: bytes[(offset + 1)...(offset + length)], as: UTF8.self).lowercased())
            offset += 1 + length
        }
        guard offset + 5 <= bytes.count else { return nil }
        let type = UInt16(bytes[offset + 1]) << 8 | UInt16(bytes[offset + 2])
        return TestDNSQuery(id: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), name: labels.joined(separator: "."), type: type,
                            bytes: bytes)
    }

    /// A reply to `query` holding `records` (each record's owner written out in full, except the
    /// asked name, which points at the question), with `responseCode` and extra `flags` bits
    /// (0x0200 = truncated), and the ID changed by `idDelta` (a spoofed answer).
    public static func reply(
        to query: TestDNSQuery, records: [TestDNSRecord], responseCode: UInt8 = 0, flags: UInt16 = 0, idDelta: UInt16 = 0
    ) -> [UInt8] {
        let id = query.id &+ idDelta
        let flagWord: UInt16 = 0x8180 | flags | UInt16(responseCode)
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), UInt8(flagWord >> 8), UInt8(flagWord & 0xff), 0, 1,
                            UInt8(records.count >> 8), UInt8(records.count & 0xff), 0, 0, 0, 0]
        // The question, copied from the query.
        var end = 12
        while end < query.bytes.count, query.bytes[end] != 0 { end += Int(query.bytes[end]) + 1 }
        out += query.bytes[12...(end + 4)]
        func name(_ text: String) -> [UInt8] {
            if text == query.name { return [0xc0, 0x0c] }
            var bytes: [UInt8] = []
            for label in text.split(separator: ".") {
                bytes.append(UInt8(label.utf8.count))
                bytes += label.utf8
            }
            return bytes + [0]
        }
        for record in records {
            let (owner, type, data): (String, UInt16, [UInt8])
            switch record {
            case .a(let recordOwner, let address):
                owner = recordOwner
                type = 1
                data = address.split(separator: ".").map { UInt8($0) ?? 0 }
            case .aaaa(let recordOwner, let bytes):
                owner = recordOwner
                type = 28
                data = bytes
            case .cname(let recordOwner, let target):
                owner = recordOwner
                type = 5
                data = name(target)
            }
            out += name(owner)
            out += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1, 0, 0, 0, 5, UInt8(data.count >> 8), UInt8(data.count & 0xff)]
            out += data
        }
        return out
    }
}
