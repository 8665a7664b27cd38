// A small DNS client (RFC 1035 over UDP) that asks one server directly, for `sentinel proxy
// --dns-server` and for tests that need a resolver whose answers they control (the rebinding
// test's server answers differently each time). The system resolver cannot be pointed at a test
// server without editing /etc/resolv.conf, which belongs to the whole machine.
//
// Only what an address lookup needs: one A and one AAAA question, recursion desired, answers
// followed along their CNAME chain. Anything unexpected (a truncated answer, a question that does
// not echo ours, a compression loop, a server error) fails the lookup, and the caller denies.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Resolves names by asking one DNS server over UDP.
///
/// Each lookup sends an A and an AAAA query, with random IDs, from a socket connected to the
/// server (so the kernel drops datagrams from anyone else), and waits at most `timeout` for both
/// answers. Answers are accepted only when the ID, the question and the flags match, and only
/// records on the CNAME chain that starts at the asked name count. IPv4 answers come first, then
/// IPv6, each in the server's order, without duplicates.
///
/// Like `SystemResolver`, a lookup runs on a thread of its own (it blocks in `poll(2)`), and at
/// most `maxConcurrentLookups` run at once.
public struct DNSServerResolver: HostResolver {
    /// The server asked.
    public let server: IPEndpoint
    /// The longest a lookup may take.
    public let timeout: Duration
    /// The most lookups in flight at once; more fail at once with `tooManyLookups`.
    public let maxConcurrentLookups: Int
    private let inFlight = LookupCounter()

    /// A resolver that asks `server`.
    public init(server: IPEndpoint, timeout: Duration = .seconds(5), maxConcurrentLookups: Int = 64) {
        self.server = server
        self.timeout = timeout
        self.maxConcurrentLookups = maxConcurrentLookups
    }

    /// Parses `ADDRESS:PORT` or `ADDRESS` (port 53); IPv6 in brackets (`[::1]:53`). The address
    /// must be written canonically (`inet_pton`), as a server address in a configuration is.
    public static func parseServer(_ text: String) throws(ResolveError) -> IPEndpoint {
        func fail(_ why: String) -> ResolveError {
            ResolveError(code: .invalidHost, host: text, message:
                "\(HostNameError.quoted(text)) is not a DNS server address: \(why); write ADDRESS:PORT, such as 127.0.0.53:53")
        }
        var host = text
        var port: UInt16 = 53
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw fail("the \"[\" is not closed") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()), value > 0 else {
                    throw fail("the port is not a number from 1 to 65535")
                }
                port = value
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon else { throw fail("an IPv6 address must be in brackets") }
            host = String(text[..<colon])
            guard let value = UInt16(text[text.index(after: colon)...]), value > 0 else {
                throw fail("the port is not a number from 1 to 65535")
            }
            port = value
        }
        guard let address = IPAddress(strict: host) else { throw fail("\(HostNameError.quoted(host)) is not an IP address") }
        return IPEndpoint(address: address, port: port)
    }

    /// Every address `host` has, or throws `ResolveError`.
    public func resolve(_ host: String) async throws -> [IPAddress] {
        let name: String
        do {
            switch try HostName.normalize(host) {
            case .address(let address): return [address]
            case .name(let normalized): name = normalized
            }
        } catch {
            throw ResolveError(code: .invalidHost, host: host, message: "DNS lookup refused: \(error.description)")
        }
        guard inFlight.increment(limit: maxConcurrentLookups) else {
            throw ResolveError(code: .tooManyLookups, host: name, message:
                "DNS lookup of \(name) refused: \(maxConcurrentLookups) lookups are already waiting for an answer")
        }
        let server = self.server
        let timeout = self.timeout
        let counter = inFlight
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[IPAddress], any Error>) in
            let thread = Thread {
                let result = Result { () throws(ResolveError) in
                    try DNSExchange(name: name, server: server, timeout: timeout).run()
                }
                counter.decrement()
                continuation.resume(with: result.mapError { $0 as any Error })
            }
            thread.name = "sentinel-dns"
            thread.start()
        }
    }
}

/// The number of lookups in flight.
private final class LookupCounter: Sendable {
    private let value = Mutex(0)

    func increment(limit: Int) -> Bool {
        value.withLock { value in
            guard value < limit else { return false }
            value += 1
            return true
        }
    }

    func decrement() {
        value.withLock { $0 -= 1 }
    }
}

// MARK: - One lookup

/// The two queries of one lookup and their answers.
struct DNSExchange {
    /// Record types asked for.
    enum RecordType: UInt16 {
        case a = 1
        case cname = 5
        case aaaa = 28
    }

    let name: String
    let server: IPEndpoint
    let timeout: Duration

    /// Sends both queries and waits for both answers.
    func run() throws(ResolveError) -> [IPAddress] {
        func fail(_ code: ResolveError.Code, _ why: String) -> ResolveError {
            ResolveError(code: code, host: name, message: "DNS lookup of \(name) at \(server) failed: \(why)")
        }
        let family = server.address.isIPv4 ? AF_INET : AF_INET6
        let socket = Glibc.socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw fail(.lookupFailed, "socket(): \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        let connected = server.withSockAddr { address, length in Glibc.connect(socket, address, length) }
        guard connected == 0 else { throw fail(.lookupFailed, "connect(): \(String(cString: strerror(errno)))") }

        var pending: [UInt16: RecordType] = [:]
        for type in [RecordType.a, .aaaa] {
            var id = UInt16.random(in: 0...UInt16.max)
            while pending[id] != nil { id = UInt16.random(in: 0...UInt16.max) }
            pending[id] = type
            let query = DNSMessage.query(id: id, name: name, type: type.rawValue)
            let sent = query.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            guard sent == query.count else { throw fail(.lookupFailed, "send(): \(String(cString: strerror(errno)))") }
        }

        let deadline = ContinuousClock.now + timeout
        var answers: [RecordType: DNSMessage.Answer] = [:]
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while !pending.isEmpty {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw ResolveError(code: .timedOut, host: name, message:
                    "DNS lookup of \(name) at \(server) timed out after \(timeout.formattedSeconds)")
            }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw fail(.lookupFailed, "poll(): \(String(cString: strerror(errno)))")
            }
            if ready == 0 { continue }
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                // ECONNREFUSED: an ICMP port-unreachable came back; nobody serves DNS there.
                throw fail(.lookupFailed, "no answer from the server (\(String(cString: strerror(errno))))")
            }
            let message = Array(buffer[0..<count])
            // A datagram too short to carry an ID, or an ID we did not send, is not an answer
            // to us: ignore it and keep waiting (a stale or spoofed reply must not end the lookup).
            guard count >= 2 else { continue }
            let id = UInt16(message[0]) << 8 | UInt16(message[1])
            guard let type = pending[id] else { continue }
            let answer: DNSMessage.Answer
            do {
                answer = try DNSMessage.parseAnswer(message, name: name, type: type.rawValue)
            } catch {
                throw fail(.lookupFailed, error.reason)
            }
            pending[id] = nil
            answers[type] = answer
        }

        switch (answers[.a]?.responseCode, answers[.aaaa]?.responseCode) {
        case (0, 0):
            break
        case (3, 3):
            throw ResolveError(code: .lookupFailed, host: name, message: "DNS lookup of \(name) at \(server) failed: no such name (NXDOMAIN)")
        case (let a, let aaaa):
            let code = (a ?? 0) != 0 ? a ?? 0 : aaaa ?? 0
            throw fail(.lookupFailed, "the server answered \(DNSMessage.responseCodeName(code))")
        }
        var addresses: [IPAddress] = []
        for address in (answers[.a]?.addresses ?? []) + (answers[.aaaa]?.addresses ?? []) where !addresses.contains(address) {
            addresses.append(address)
        }
        guard !addresses.isEmpty else {
            throw ResolveError(code: .noAddresses, host: name, message: "DNS lookup of \(name) at \(server) returned no IP address")
        }
        return addresses
    }
}

// MARK: - Wire format

/// Encoding queries and decoding answers (RFC 1035 §4).
enum DNSMessage {
    /// What one answer said.
    struct Answer: Equatable {
        /// RCODE: 0 no error, 2 server failure, 3 no such name, …
        var responseCode: UInt8
        /// The A or AAAA records on the CNAME chain from the asked name.
        var addresses: [IPAddress]
    }

    /// Why an answer was not accepted.
    struct MalformedAnswer: Error {
        var reason: String
    }

    /// A query for `name` (normalised ASCII) and `type`, class IN, recursion desired.
    static func query(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes.append(contentsOf: label.utf8)
        }
        bytes.append(0)
        bytes += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        return bytes
    }

    /// Checks an answer to our query for `name` and `type` and collects its addresses.
    static func parseAnswer(_ message: [UInt8], name: String, type: UInt16) throws(MalformedAnswer) -> Answer {
        func fail(_ reason: String) -> MalformedAnswer { MalformedAnswer(reason: reason) }
        guard message.count >= 12 else { throw fail("the answer is shorter than a DNS header") }
        let flags = UInt16(message[2]) << 8 | UInt16(message[3])
        guard flags & 0x8000 != 0 else { throw fail("the answer is not marked as a response") }
        guard (flags >> 11) & 0xf == 0 else { throw fail("the answer has an unexpected opcode") }
        guard flags & 0x0200 == 0 else {
            throw fail("the answer was truncated (TC); answers that need TCP are not supported")
        }
        let responseCode = UInt8(flags & 0xf)
        let questions = Int(message[4]) << 8 | Int(message[5])
        let answerCount = Int(message[6]) << 8 | Int(message[7])
        guard questions == 1 else { throw fail("the answer carries \(questions) questions instead of ours") }

        var offset = 12
        let asked = try readName(message, at: &offset)
        guard offset + 4 <= message.count else { throw fail("the question is cut short") }
        let askedType = UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
        let askedClass = UInt16(message[offset + 2]) << 8 | UInt16(message[offset + 3])
        offset += 4
        guard asked == name, askedType == type, askedClass == 1 else {
            throw fail("the answer is for another question (\(asked), type \(askedType))")
        }

        struct Record {
            var owner: String
            var type: UInt16
            var data: Range<Int>
            var target: String?
        }
        var records: [Record] = []
        for _ in 0..<answerCount {
            let owner = try readName(message, at: &offset)
            guard offset + 10 <= message.count else { throw fail("a record is cut short") }
            let recordType = UInt16(message[offset]) << 8 | UInt16(message[offset + 1])
            let recordClass = UInt16(message[offset + 2]) << 8 | UInt16(message[offset + 3])
            let length = Int(message[offset + 8]) << 8 | Int(message[offset + 9])
            offset += 10
            guard offset + length <= message.count else { throw fail("a record's data is cut short") }
            var target: String?
            if recordType == DNSExchange.RecordType.cname.rawValue {
                var dataOffset = offset
                target = try readName(message, at: &dataOffset)
            }
            if recordClass == 1 {
                records.append(Record(owner: owner, type: recordType, data: offset..<(offset + length), target: target))
            }
            offset += length
        }

        // The names that stand for the asked name: itself and every CNAME target reached from it.
        var chain: Set<String> = [name]
        var grew = true
        while grew {
            grew = false
            for record in records where record.type == DNSExchange.RecordType.cname.rawValue && chain.contains(record.owner) {
                if let target = record.target, chain.insert(target).inserted { grew = true }
            }
        }
        var addresses: [IPAddress] = []
        for record in records where record.type == type && chain.contains(record.owner) {
            let data = message[record.data]
            if type == DNSExchange.RecordType.a.rawValue, data.count == 4 {
                addresses.append(IPAddress(ipv4: data.reduce(0) { $0 << 8 | UInt32($1) }))
            } else if type == DNSExchange.RecordType.aaaa.rawValue, data.count == 16, let address = IPAddress(bytes: data) {
                addresses.append(address)
            } else {
                throw fail("a type-\(type) record has \(data.count) bytes of data")
            }
        }
        return Answer(responseCode: responseCode, addresses: addresses)
    }

    /// Reads a (possibly compressed) name at `offset`, lowercased and without the final dot, and
    /// moves `offset` past it.
    static func readName(_ message: [UInt8], at offset: inout Int) throws(MalformedAnswer) -> String {
        var labels: [String] = []
        var position = offset
        var jumps = 0
        var length = 0
        var resume: Int?
        while true {
            guard position < message.count else { throw MalformedAnswer(reason: "a name runs past the end of the answer") }
            let byte = message[position]
            if byte == 0 {
                position += 1
                break
            }
            switch byte & 0xc0 {
            case 0xc0:
                guard position + 1 < message.count else { throw MalformedAnswer(reason: "a name pointer is cut short") }
                jumps += 1
                // Each jump must go backwards, which also rules out loops (RFC 1035 §4.1.4
                // pointers refer to earlier occurrences).
                let target = Int(byte & 0x3f) << 8 | Int(message[position + 1])
                guard jumps <= 64, target < position else { throw MalformedAnswer(reason: "a name pointer loops or points forward") }
                if resume == nil { resume = position + 2 }
                position = target
            case 0x00:
                let count = Int(byte)
                guard position + 1 + count <= message.count else { throw MalformedAnswer(reason: "a label runs past the end") }
                length += count + 1
                guard length <= 255 else { throw MalformedAnswer(reason: "a name is longer than 255 octets") }
                let label = message[(position + 1)...(position + count)]
                labels.append(String(decoding: label.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }, as: UTF8.self))
                position += 1 + count
            default:
                throw MalformedAnswer(reason: "a label has the reserved type bits \(byte >> 6)")
            }
        }
        offset = resume ?? position
        return labels.joined(separator: ".")
    }

    /// `SERVFAIL (2)`, `REFUSED (5)`…
    static func responseCodeName(_ code: UInt8) -> String {
        let names: [UInt8: String] = [1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"]
        return "\(names[code] ?? "RCODE") (\(code))"
    }
}
