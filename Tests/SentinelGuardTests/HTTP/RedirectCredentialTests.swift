// Credentials stay with their origin: a redirect to another scheme, host or port loses
// Authorization, Cookie and Proxy-Authorization, as in browsers and curl; a redirect within the
// origin keeps them. Real loopback servers on two addresses and two ports, through
// `Sentinel.request`, so that what the second server receives is what was sent on the wire.
//
// These tests are part of the compatibility-mode suite (an extension of it): activation is
// process-wide, and that suite runs its tests one at a time.

import Foundation
@testable import SentinelGuard
import SentinelPolicy
import Testing

/// Where the first server redirects to.
enum RedirectTargetKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
    /// Another host: `svc.test`, which the fixture resolves to 127.0.0.3.
    case otherHost = "another host"
    /// The same address on another port.
    case otherPort = "another port"
    /// A path on the same origin, relative (`/done`).
    case samePathRelative = "the same origin, relative"
    /// The same origin written out in full (`http://127.0.0.2:PORT/done`).
    case sameOriginAbsolute = "the same origin, absolute"

    var keepsCredentials: Bool { self == .samePathRelative || self == .sameOriginAbsolute }
    var testDescription: String { rawValue }
}

extension SentinelCompatTests {
    static let credentials = [("Authorization", "Bearer secret-token"), ("Cookie", "session=secret"),
                              ("Proxy-Authorization", "Basic c2VjcmV0")]

    @Test("credentials follow a redirect only within their origin", arguments: RedirectTargetKind.allCases)
    func credentialsStayWithTheirOrigin(_ kind: RedirectTargetKind) async throws {
        let fixture = try CompatFixture()
        let second = try await LoopbackHTTPServer.start(host: kind == .otherHost ? "127.0.0.3" : "127.0.0.2") { _ in
            .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        defer { Task { await second.stop() } }
        let location: String = switch kind {
        case .otherHost: "http://svc.test:\(second.port)/done"
        case .otherPort: "http://127.0.0.2:\(second.port)/done"
        case .samePathRelative: "/done"
        case .sameOriginAbsolute: "" // filled in below: it needs the first server's own port
        }
        let first = try await LoopbackHTTPServer.start(host: "127.0.0.2") { request in
            if request.requestLine.hasPrefix("GET /done ") { return .text("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") }
            let port = request.values("host").first?.split(separator: ":").last.map(String.init) ?? ""
            let target = location.isEmpty ? "http://127.0.0.2:\(port)/done" : location
            return .text("HTTP/1.1 302 Found\r\nLocation: \(target)\r\nContent-Length: 0\r\n\r\n")
        }
        defer { Task { await first.stop() } }
        try Sentinel.activate(fixture.options())
        defer { Sentinel.deactivate() }

        let headers = Self.credentials + [("X-Trace", "t-1")]
        let response = try await Sentinel.request(HTTPRequest(url: "http://127.0.0.2:\(first.port)/start", headers: headers))
        #expect(response.status == 200)

        let hop = try #require(kind.keepsCredentials ? first.requests.last : second.requests.last)
        #expect(hop.requestLine.hasPrefix("GET /done "), "\(hop.head)")
        for (name, value) in Self.credentials {
            #expect(hop.values(name) == (kind.keepsCredentials ? [value] : []), "\(name) on a redirect to \(kind.rawValue)")
        }
        #expect(hop.values("X-Trace") == ["t-1"], "a header that carries no credential goes on")
        #expect(first.requests.first?.values("Authorization") == ["Bearer secret-token"], "the first hop had them")
    }
}

/// The origin comparison behind it: scheme, host after normalisation, and port with the
/// scheme's default filled in.
@Suite struct RedirectOriginTests {
    @Test(arguments: [
        ("http://a.test/x", "http://a.test/y?z", true),
        ("http://a.test/x", "http://A.Test./y", true),
        ("http://a.test/x", "http://a.test:80/y", true),
        ("https://a.test/x", "https://a.test:443/", true),
        ("http://[::1]:8080/", "http://[0:0:0:0:0:0:0:1]:8080/z", true),
        ("http://a.test/x", "https://a.test/x", false),
        ("https://a.test/x", "http://a.test/x", false),
        ("http://a.test/x", "http://a.test:8080/x", false),
        ("http://a.test/x", "http://b.test/x", false),
        ("http://a.test/x", "http://sub.a.test/x", false),
        ("http://127.0.0.2/", "http://127.0.0.3/", false),
        ("http://a.test/x", "http://user@a.test/x", false),
        ("http://a.test/x", "not a url", false),
    ])
    func sameOrigin(_ first: String, _ second: String, _ expected: Bool) {
        #expect(RedirectCredentials.isSameOrigin(first, second) == expected)
    }

    @Test func onlyCredentialsAreDroppedAcrossOrigins() {
        let headers = [("authorization", "a"), ("COOKIE", "c"), ("Proxy-Authorization", "p"), ("Accept", "x"),
                       ("X-Api-Key", "k")]
        let across = RedirectCredentials.headers(headers, from: "https://a.test/", to: "https://b.test/")
        #expect(across.map(\.name) == ["Accept", "X-Api-Key"])
        let within = RedirectCredentials.headers(headers, from: "https://a.test/", to: "https://a.test/next")
        #expect(within.map(\.name) == headers.map(\.0))
    }
}
