import Testing
import Foundation
@testable import SentinelPolicy

@Suite("Resolvers: getaddrinfo with a time limit, and hosts files")
struct HostResolverTests {
    static let hostsText = """
        # A comment line
        127.0.0.1   localhost   LocalHost.Example.   # trailing comment
        ::1         localhost ip6-localhost
        10.0.0.5\tapi.internal.example\tapi2.internal.example
        0x7f.2      short.example
        fe80::1%lo  zoned.example

        10.0.0.6    api.internal.example
        """

    @Test("the hosts-file parser reads names, comments, both families and repeated names")
    func parsesHostsFile() async throws {
        let resolver = try HostsFileResolver(contents: Self.hostsText)
        #expect(try await resolver.resolve("localhost").map(\.description) == ["127.0.0.1", "::1"])
        #expect(try await resolver.resolve("LOCALHOST.").map(\.description) == ["127.0.0.1", "::1"])
        #expect(try await resolver.resolve("localhost.example").map(\.description) == ["127.0.0.1"])
        #expect(try await resolver.resolve("api.internal.example").map(\.description) == ["10.0.0.5", "10.0.0.6"])
        #expect(try await resolver.resolve("api2.internal.example").map(\.description) == ["10.0.0.5"])
        #expect(try await resolver.resolve("short.example").map(\.description) == ["127.0.0.2"])
        #expect(try await resolver.resolve("zoned.example").map(\.description) == ["fe80::1%lo"])
        #expect(try await resolver.resolve("10.9.8.7").map(\.description) == ["10.9.8.7"])
        #expect(resolver.table["trailing"] == nil && resolver.table["comment"] == nil)
    }

    @Test("a name not in the file fails without a fallback and goes to the fallback otherwise")
    func fallback() async throws {
        let alone = try HostsFileResolver(contents: Self.hostsText, path: "/test/hosts")
        await #expect {
            try await alone.resolve("other.example")
        } throws: { error in
            (error as? ResolveError)?.description
                == "DNS lookup of other.example failed: it is not in the hosts file /test/hosts, and no other resolver is set"
        }
        let second = try HostsFileResolver(contents: "192.0.2.7 other.example\n")
        let chained = try HostsFileResolver(contents: Self.hostsText, fallback: second)
        #expect(try await chained.resolve("Other.Example").map(\.description) == ["192.0.2.7"])
        #expect(try await chained.resolve("localhost").map(\.description) == ["127.0.0.1", "::1"])
    }

    static let malformed: [(String, String)] = [
        ("not-an-address localhost\n", "<hosts>:1: \"not-an-address\" is not an IP address"),
        ("127.0.0.1\n", "<hosts>:1: the address 127.0.0.1 has no host name after it"),
        ("# ok\n127.0.0.1 bad_name\n", "<hosts>:2: the host \"bad_name\" is not valid: it contains \"_\" (U+005F); a host name may contain only letters, digits, \"-\" and \".\""),
        ("127.0.0.1 10.0.0.1\n", "<hosts>:1: \"10.0.0.1\" is an address, not a name"),
    ]

    @Test("a malformed line makes the file unusable, with its line number", arguments: malformed)
    func malformedLine(_ text: String, _ message: String) {
        #expect {
            try HostsFileResolver(contents: text)
        } throws: { error in
            (error as? ResolveError)?.code == .hostsFile && (error as? ResolveError)?.description == message
        }
    }

    @Test("a real hosts file on disk, and a missing one")
    func file() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-hosts-\(UUID().uuidString)").path
        try "127.0.0.1 disk.example\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let resolver = try HostsFileResolver(path: path)
        #expect(try await resolver.resolve("disk.example") == [IPAddress(ipv4: 0x7f00_0001)])
        #expect(throws: ResolveError.self) { try HostsFileResolver(path: path + ".missing") }
    }

    @Test("getaddrinfo answers for a name in /etc/hosts")
    func systemResolverAnswers() async throws {
        let resolver = SystemResolver(timeout: .seconds(30))
        let addresses = try await resolver.resolve("localhost")
        #expect(addresses.contains(IPAddress(ipv4: 0x7f00_0001)))
        #expect(Set(addresses).count == addresses.count)
    }

    @Test("a lookup failure throws a sentence from getaddrinfo")
    func systemResolverFailure() async throws {
        let resolver = SystemResolver(timeout: .seconds(60))
        // RFC 6761: names under .invalid never resolve.
        await #expect {
            try await resolver.resolve("no-such-host.invalid")
        } throws: { error in
            guard let error = error as? ResolveError else { return false }
            return error.code == .lookupFailed && error.gaiError != nil
                && error.description.hasPrefix("DNS lookup of no-such-host.invalid failed: ")
        }
        await #expect {
            try await resolver.resolve("a\u{0}b")
        } throws: { error in
            (error as? ResolveError)?.code == .invalidHost
        }
    }

    @Test("a lookup that never completes ends in the timeout error")
    func timeout() async throws {
        let gate = Gate()
        defer { gate.open() }
        let resolver = SystemResolver(timeout: .milliseconds(50)) { (_: String) throws(ResolveError) -> [IPAddress] in
            gate.wait()      // blocks its thread until the test ends
            return [IPAddress(ipv4: 1)]
        }
        await #expect {
            try await resolver.resolve("slow.example")
        } throws: { error in
            (error as? ResolveError)?.code == .timedOut
                && (error as? ResolveError)?.description == "DNS lookup of slow.example timed out after 0.05 s"
        }
    }

    @Test("lookups beyond the in-flight limit fail at once")
    func inFlightLimit() async throws {
        let gate = Gate()
        defer { gate.open() }
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let resolver = SystemResolver(timeout: .seconds(3600), maxConcurrentLookups: 1) { (_: String) throws(ResolveError) -> [IPAddress] in
            startedContinuation.yield()
            gate.wait()
            return [IPAddress(ipv4: 1)]
        }
        let first = Task { try await resolver.resolve("one.example") }
        // The first lookup now holds the only slot.
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        await #expect {
            try await resolver.resolve("two.example")
        } throws: { error in
            (error as? ResolveError)?.code == .tooManyLookups
        }
        gate.open()
        #expect(try await first.value == [IPAddress(ipv4: 1)])
    }

    @Test("cancelling the waiting task ends the lookup with an error")
    func cancellation() async throws {
        let gate = Gate()
        defer { gate.open() }
        let resolver = SystemResolver(timeout: .seconds(3600)) { (_: String) throws(ResolveError) -> [IPAddress] in
            gate.wait()
            return [IPAddress(ipv4: 1)]
        }
        let task = Task { try await resolver.resolve("cancelled.example") }
        task.cancel()
        await #expect {
            try await task.value
        } throws: { error in
            (error as? ResolveError)?.code == .cancelled
        }
    }
}

/// A one-way gate that blocking lookup threads wait on.
final class Gate: Sendable {
    private let condition = NSCondition()
    private nonisolated(unsafe) var isOpen = false  // guarded by `condition`

    func wait() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }
}
