// A fuzz run of the proxy's request parser and front handler, against a real proxy on loopback
// and an origin the test controls. Bounded in time, seeded and reproducible: the seed is printed,
// and SENTINEL_FUZZ_SEED repeats a run (SENTINEL_FUZZ_INPUTS fixes the number of inputs instead
// of the time budget, SENTINEL_FUZZ_SECONDS changes the budget).
//
// Each input is a connection: valid requests (absolute-form, CONNECT, chunked, pipelined,
// origin-form, odd methods and headers), mutated at the byte level (flips, insertions, NULs,
// deleted and duplicated ranges, folded and bare-LF lines, huge lines, truncation), written in
// one to three pieces, then the client shuts its output and reads until the proxy is done.
//
// Invariants, per input:
// 1. the proxy never crashes or hangs: the client gets a response or a close, and the proxy
//    serves a plain request after the run;
// 2. every request that reaches a decision has exactly one decision record: at most one for the
//    connection's first request and at most one refusal of requests pipelined behind it, one
//    whenever the client got an answer, and the rule the client was told is in a record;
// 3. nothing reaches an upstream unless its request was decided allow: the origin of a denied
//    host gets no connection, and every connection of the allowed origin that carries bytes
//    belongs to an input whose request was allowed; for HTTP it is exactly that one request
//    (its target, the proxy's own framing, nothing after its end);
// 4. an allow record is followed by its outcome: exactly one close record, and none without an
//    allow.

import Foundation
import NIOCore
import NIOPosix
import SentinelPolicy
import SentinelProxy
import Synchronization
import Testing

/// SplitMix64: small, fast and the same on every platform, so a seed means the same inputs
/// everywhere.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds input number `index` of a run from the run's seed alone.
struct FuzzInputGenerator {
    let port: Int
    let index: Int
    private var rng: SplitMix64

    init(seed: UInt64, index: Int, port: Int) {
        self.port = port
        self.index = index
        var mixer = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD6E8_FEB8_6659_FD93))
        rng = SplitMix64(seed: mixer.next())
    }

    /// The bytes of the input, cut into the pieces the client writes one after another.
    mutating func make() -> [[UInt8]] {
        var bytes: [UInt8] = []
        let count = chance(0.3) ? Int.random(in: 2...3, using: &rng) : 1
        for request in 0..<count { bytes += Array(validRequest(request).utf8) }
        let mutations = Int.random(in: 0...3, using: &rng)
        for _ in 0..<mutations { mutate(&bytes) }
        return split(bytes)
    }

    // MARK: Valid requests

    private static let headerPool: [String] = [
        "Host: allowed.test", "User-Agent: sentinel-fuzz", "Accept: */*", "Connection: keep-alive",
        "Proxy-Connection: keep-alive", "Proxy-Authorization: Basic eDp5", "Connection: close", "TE: trailers",
        "Transfer_Encoding: chunked", "Content_Length: 3", "Transfer-Encoding: Chunked",
        "Transfer-Encoding: gzip, chunked", "Transfer-Encoding: chunked, chunked", "Transfer-Encoding: identity",
        "Content-Length: 0", "Content-Length: 4, 4", "Content-Length: +4", "Expect: 100-continue",
        "Upgrade: websocket\r\nConnection: Upgrade", "X-Folded: first\r\n second", "X-Nul: a\u{0}b", "X-Empty:",
        "X-Upstream-Https-Proxy: http://127.0.0.3:1", "Proxy: http://127.0.0.3:1", "Trailer: X-Trailer",
        "X_Api_Key: k", "Keep_Alive: 300", "Host: 127.0.0.3", "X-Tab:\tvalue\t", "x-lower: yes",
    ]

    private mutating func validRequest(_ number: Int) -> String {
        let path = "/f\(index)-\(number)"
        let headers = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Self.headerPool.randomElement(using: &rng)! }
        let headerText = headers.map { $0 + "\r\n" }.joined()
        let version = chance(0.1) ? "HTTP/1.0" : "HTTP/1.1"
        let body = "body-\(index)-\(number)"
        switch Int.random(in: 0..<10, using: &rng) {
        case 0, 1:
            return "GET http://allowed.test:\(port)\(path) \(version)\r\n\(headerText)\r\n"
        case 2:
            let method = ["POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "GET"].randomElement(using: &rng)!
            return "\(method) http://allowed.test:\(port)\(path) \(version)\r\n\(headerText)"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        case 3:
            let method = ["POST", "GET", "TRACE", "OPTIONS", "HEAD"].randomElement(using: &rng)!
            var chunks = ""
            for part in 0..<Int.random(in: 1...3, using: &rng) {
                let data = "\(body)-\(part)"
                let extensionText = chance(0.2) ? ";name=value" : ""
                chunks += String(data.utf8.count, radix: 16) + extensionText + "\r\n" + data + "\r\n"
            }
            let trailers = chance(0.2) ? "X-Trailer: t\r\n" : ""
            return "\(method) http://allowed.test:\(port)\(path) HTTP/1.1\r\n\(headerText)"
                + "Transfer-Encoding: chunked\r\n\r\n\(chunks)0\r\n\(trailers)\r\n"
        case 4, 5:
            let early = chance(0.5) ? "early-\(index)-\(number)" : ""
            return "CONNECT allowed.test:\(port) HTTP/1.1\r\n\(headerText)\r\n\(early)"
        case 6:
            guard chance(0.5) else { return "GET http://denied.test:\(port)\(path) HTTP/1.1\r\n\(headerText)\r\n" }
            return "POST http://denied.test:\(port)\(path) HTTP/1.1\r\n\(headerText)"
                + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
        case 7:
            return "CONNECT denied.test:\(port) HTTP/1.1\r\n\(headerText)\r\n"
        case 8:
            return "GET \(path) HTTP/1.1\r\nHost: allowed.test:\(port)\r\n\(headerText)\r\n"
        default:
            let target = ["http://allowed.test:\(port)", "http://ALLOWED.test.:\(port)\(path)?q=1",
                          "http://allowed.test:\(port)\(path)#frag", "https://allowed.test:\(port)/",
                          "http://user@allowed.test:\(port)/", "http://[::1]:\(port)/"].randomElement(using: &rng)!
            return "GET \(target) HTTP/1.1\r\n\(headerText)\r\n"
        }
    }

    // MARK: Mutations

    private static let interestingBytes: [UInt8] = [
        0x00, 0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x5F, 0x2D, 0x30, 0x66, 0x7F, 0x80, 0xFF, 0x2C, 0x3B, 0x22, 0x5C,
    ]

    private mutating func mutate(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        let position = Int.random(in: 0..<bytes.count, using: &rng)
        switch Int.random(in: 0..<9, using: &rng) {
        case 0:
            bytes[position] = randomByte()
        case 1:
            bytes.insert(randomByte(), at: position)
        case 2:
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &rng)))
        case 3:
            let length = min(bytes.count - position, Int.random(in: 1...64, using: &rng))
            let slice = Array(bytes[position..<(position + length)])
            bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &rng))
        case 4:
            // Huge lines: mostly under the decoder's 80 KiB head limit, sometimes over it.
            let length = chance(0.2)
                ? Int.random(in: 80_000...100_000, using: &rng) : Int.random(in: 1_000...9_000, using: &rng)
            bytes.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "A"), count: length), at: position)
        case 5:
            bytes.removeSubrange(position...)
        case 6:
            // A bare LF where a CRLF was.
            if let crlf = bytes[position...].firstRange(of: [0x0D, 0x0A]) { bytes.remove(at: crlf.lowerBound) }
        case 7:
            // An obsolete line folding (RFC 9112 §5.2).
            if let crlf = bytes[position...].firstRange(of: [0x0D, 0x0A]) {
                bytes.insert(contentsOf: Array("\r\n ".utf8), at: crlf.lowerBound)
            }
        default:
            // A digit changed: Content-Length values and chunk sizes.
            if let digit = bytes[position...].firstIndex(where: { (0x30...0x39).contains($0) }) {
                bytes[digit] = UInt8.random(in: 0x30...0x39, using: &rng)
            }
        }
    }

    private mutating func randomByte() -> UInt8 {
        chance(0.7) ? Self.interestingBytes.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
    }

    private mutating func split(_ bytes: [UInt8]) -> [[UInt8]] {
        guard bytes.count > 1, chance(0.4) else { return [bytes] }
        var cuts = (0..<Int.random(in: 1...2, using: &rng)).map { _ in Int.random(in: 1..<bytes.count, using: &rng) }
        cuts = Array(Set(cuts)).sorted()
        var pieces: [[UInt8]] = []
        var start = 0
        for cut in cuts {
            pieces.append(Array(bytes[start..<cut]))
            start = cut
        }
        pieces.append(Array(bytes[start...]))
        return pieces
    }

    private mutating func chance(_ probability: Double) -> Bool {
        Double.random(in: 0..<1, using: &rng) < probability
    }
}

/// One input of a run and what the client saw.
struct FuzzCase: Sendable {
    var index: Int
    var client: String
    var input: [UInt8]
    var answer: [UInt8]

    /// The input for a failure message: escaped, and cut to a readable length.
    var printableInput: String {
        let text = String(decoding: input.prefix(400), as: UTF8.self).debugDescription
        return input.count > 400 ? "\(text)… (\(input.count) bytes)" : text
    }
}

@Suite("Proxy: fuzzing the request parser and front handler", .serialized)
struct ProxyFuzzTests {
    /// Marks the test's own connections to the origin (see `barrier`).
    static let barrierPrefix = Array("\u{0}sentinel-fuzz-barrier-".utf8)

    @Test("mutated requests: no crash or hang, one record per decision, nothing undecided upstream, every allow closed")
    func fuzz() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed: UInt64
        if let text = environment["SENTINEL_FUZZ_SEED"] {
            seed = try #require(UInt64(text),
                                "SENTINEL_FUZZ_SEED must be a decimal UInt64, not \(text.debugDescription)")
        } else {
            seed = UInt64.random(in: 0...UInt64.max)
        }
        let inputLimit = environment["SENTINEL_FUZZ_INPUTS"].flatMap { Int($0) }
        let seconds = environment["SENTINEL_FUZZ_SECONDS"].flatMap { Double($0) } ?? 4
        print("ProxyFuzzTests: seed \(seed); repeat with SENTINEL_FUZZ_SEED=\(seed)"
            + (inputLimit.map { " SENTINEL_FUZZ_INPUTS=\($0)" } ?? ""))

        // One thread: the origin accepts and labels connections in the order they arrive.
        let originGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let allowed = try await TestOrigin(host: "127.0.0.2", mode: .recording, group: originGroup)
        let denied = try await TestOrigin(host: "127.0.0.3", port: allowed.port, mode: .recording)
        let outcome: Result<Void, any Error>
        do {
            try await Self.run(seed: seed, inputLimit: inputLimit, seconds: seconds, allowed: allowed, denied: denied)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await allowed.stop()
        await denied.stop()
        try? await originGroup.shutdownGracefully()
        try outcome.get()
    }

    /// Runs the inputs against a proxy of its own, then checks the invariants.
    static func run(
        seed: UInt64, inputLimit: Int?, seconds: Double, allowed: TestOrigin, denied: TestOrigin
    ) async throws {
        let port = allowed.port
        let policy = ProxyFixture.policy(allowedHosts: ["{host: allowed.test, ports: [\(port)]}"])
        let hosts = [("allowed.test", "127.0.0.2"), ("denied.test", "127.0.0.3")]

        try await withProxy(policy: policy, hosts: hosts) { proxy in
            var cases: [FuzzCase] = []
            let deadline = ContinuousClock.now + .seconds(seconds)
            var index = 0
            while inputLimit.map({ index < $0 }) ?? (ContinuousClock.now < deadline) {
                var generator = FuzzInputGenerator(seed: seed, index: index, port: port)
                let pieces = generator.make()
                allowed.counters.label.withLock { $0 = index }
                let connection = try await TestConnection.open(port: proxy.port, source: Self.source(index))
                var fuzzCase = FuzzCase(index: index, client: connection.clientEndpoint, input: pieces.flatMap { $0 },
                                        answer: [])
                do {
                    for piece in pieces { try await connection.send(piece) }
                    try await connection.shutdownOutput()
                } catch {
                    // The proxy closed the connection before the input was out: an answer too.
                }
                do {
                    fuzzCase.answer = try await connection.readToEnd()
                } catch {
                    let what = "seed \(seed), input \(index): the proxy neither answered nor closed (\(error)); "
                        + "input \(fuzzCase.printableInput)"
                    Issue.record("\(what)")
                    await connection.close()
                    return
                }
                await connection.close()
                cases.append(fuzzCase)
                try await Self.barrier(allowed, label: index)
                index += 1
            }
            print("ProxyFuzzTests: seed \(seed): \(cases.count) inputs")

            // Everything settles: every connection closed, every allow's close record written.
            try await eventually("the proxy closed every connection") { await proxy.server.openConnections == 0 }
            try await eventually("the origins closed every connection") { allowed.open == 0 && denied.open == 0 }
            _ = try? await eventually("every allow has its close record") {
                let records = try proxy.records()
                return records.filter { $0.isDecision && $0.isAllowed }.count == records.filter(\.isClose).count
            }
            Self.check(cases, records: try proxy.records(), allowed: allowed, denied: denied, seed: seed)

            // Still alive and serving.
            let response = try await proxy.get("http://allowed.test:\(port)/after-the-run")
            #expect(response.status == 200, "after the run: \(response.raw)")
        }
    }

    /// A loopback source address of its own for input `index` (127.a.b.c, none ending in 0 or
    /// 255): a client port can come round again within a run, a client address and port cannot.
    static func source(_ index: Int) -> String {
        "127.\(1 + index / 62_500 % 250).\(1 + index / 250 % 250).\(1 + index % 250)"
    }

    /// Waits until the origin has accepted a connection of the test's own, made after input
    /// `label` ended. The origin's one thread accepts in order, so every connection the proxy
    /// made for that input was accepted (and labelled) before it.
    static func barrier(_ origin: TestOrigin, label: Int) async throws {
        let marker = barrierPrefix + Array(String(label).utf8)
        let connection = try await TestConnection.open(host: origin.host, port: origin.port)
        try await connection.send(marker)
        let giveUp = ContinuousClock.now + .seconds(20)
        while !origin.received.reversed().contains(where: { $0.bytes == marker }) {
            guard ContinuousClock.now < giveUp else { throw TestNetworkError(description: "the barrier never arrived") }
            try await Task.sleep(for: .microseconds(200))
        }
        await connection.close()
    }

    // MARK: - The invariants

    static func check(_ cases: [FuzzCase], records: [Record], allowed: TestOrigin, denied: TestOrigin, seed: UInt64) {
        var failures: [String] = []
        func fail(_ fuzzCase: FuzzCase, _ what: String) {
            failures.append("seed \(seed), input \(fuzzCase.index): \(what); input \(fuzzCase.printableInput)")
        }
        let byClient = Dictionary(grouping: records, by: { $0.details["client"] ?? "" })
        let carriedBytes = allowed.received.filter { !$0.bytes.isEmpty && !$0.bytes.starts(with: barrierPrefix) }
        let received = Dictionary(grouping: carriedBytes, by: \.label)

        for fuzzCase in cases {
            let mine = byClient[fuzzCase.client] ?? []
            let decisions = mine.filter(\.isDecision)
            let pipelined = decisions.filter { $0.rule == "builtin:http-pipelining" }
            let first = decisions.filter { $0.rule != "builtin:http-pipelining" }
            let closes = mine.filter(\.isClose)

            // 2. One decision record per decided request.
            if first.count > 1 {
                fail(fuzzCase, "\(first.count) decision records for one request: \(first.map(\.json))")
            }
            if pipelined.count > 1 { fail(fuzzCase, "\(pipelined.count) records for the pipelined requests") }
            let answer = Answer(fuzzCase.answer)
            switch answer {
            case .none:
                // A decided request is answered: a 403, a 400, or what upstream sent.
                if let decision = first.first {
                    fail(fuzzCase, "decided (\(decision.decision), \(decision.rule)) but never answered")
                }
            case .garbage(let text):
                fail(fuzzCase, "the client got bytes that are not an HTTP response: \(text.debugDescription)")
            case .refusal(let status, let rule):
                if first.count != 1 {
                    fail(fuzzCase, "answered \(status) (\(rule)) but \(first.count) decision records")
                }
                let recorded = first.contains { $0.rule == rule }
                    || closes.contains { $0.details["refusal_rule"] == rule }
                if !recorded {
                    let trail = mine.map { "\($0.action) \($0.decision) \($0.rule) \($0.reason)" }
                    fail(fuzzCase, "answered \(status) with rule \(rule), which no record of this client names: "
                        + "\(trail)")
                }
            case .served(let status):
                if first.count != 1 || !(first.first?.isAllowed ?? false) {
                    fail(fuzzCase, "the client got an answer (\(status)) from upstream without an allow record")
                }
            }

            // 4. Every allow has exactly one close record, and nothing else has one.
            let wasAllowed = first.first?.isAllowed ?? false
            if closes.count != (wasAllowed ? 1 : 0) {
                let decided = first.first?.decision ?? "never"
                fail(fuzzCase, "\(closes.count) close records for a request decided \(decided)")
            }

            // 3. What reached the allowed origin for this input.
            let carried = received[fuzzCase.index] ?? []
            guard !carried.isEmpty else { continue }
            guard let decision = first.first, decision.isAllowed else {
                fail(fuzzCase, "the origin received bytes of a request that was not allowed: "
                    + String(decoding: carried[0].bytes.prefix(200), as: UTF8.self).debugDescription)
                continue
            }
            if carried.count > 1 { fail(fuzzCase, "\(carried.count) upstream connections for one allowed request") }
            guard decision.action == "http" else { continue }  // a tunnel carries the client's bytes as they are
            for connection in carried {
                var target: String?
                if let problem = ReceivedRequest.problem(connection.bytes, target: &target) {
                    fail(fuzzCase, "the origin received more or other than the one allowed request: \(problem)")
                }
                let url = decision.details["url"] ?? ""
                guard let target else { continue }
                if url.hasSuffix("…") {
                    // The record keeps the first 2,048 characters of a long target: compare those.
                    let shown = url.dropLast().prefix { $0 != "#" }
                    let path = shown.firstIndex(of: "/", after: "://").map { String(shown[$0...]) } ?? ""
                    if !target.hasPrefix(path) {
                        fail(fuzzCase, "the origin received \(target.prefix(100).debugDescription)…, not the allowed "
                            + url.prefix(100).debugDescription)
                    }
                    continue
                }
                let expected = (try? RequestTarget.parse(url: url)).map { $0.path + ($0.query.map { "?" + $0 } ?? "") }
                if target != expected {
                    fail(fuzzCase,
                         "the origin received \(target.debugDescription), not the allowed \(url.debugDescription)")
                }
            }
        }
        if denied.accepted != 0 {
            failures.append("seed \(seed): the origin of the denied host accepted \(denied.accepted) connection(s)")
        }
        for failure in failures.prefix(20) { Issue.record("\(failure)") }
        if failures.count > 20 { Issue.record("seed \(seed): \(failures.count - 20) more failures") }
    }
}

/// What the client of one input received.
enum Answer {
    /// Nothing: the proxy closed the connection (an input with no request, or a reset).
    case none
    /// A response the proxy wrote itself (it carries `X-Sentinel-Rule`).
    case refusal(status: Int, rule: String)
    /// A response from upstream, or an established tunnel.
    case served(status: Int)
    /// Bytes that are no HTTP response.
    case garbage(String)

    init(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else {
            self = .none
            return
        }
        guard bytes.starts(with: Array("HTTP/1.".utf8)) else {
            self = .garbage(String(decoding: bytes.prefix(200), as: UTF8.self))
            return
        }
        guard let response = try? TestResponse(bytes) else {
            // A head cut short by a reset: no answer the client could use.
            self = .none
            return
        }
        if let rule = response["x-sentinel-rule"] {
            self = .refusal(status: response.status, rule: rule)
        } else {
            self = .served(status: response.status)
        }
    }
}

extension Substring {
    /// The first `character` after the first occurrence of `marker`.
    fileprivate func firstIndex(of character: Character, after marker: String) -> Index? {
        guard let start = range(of: marker)?.upperBound else { return nil }
        return self[start...].firstIndex(of: character)
    }
}
