// `sentinel ca`: makes the Sentinel CA once, shows the same one after, and refuses a CA whose key
// others can read, with the sentence that says what to do.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite("sentinel ca: made on first use, shown, checked")
struct CACommandTests {
    static func ca(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildOutcome {
        try ChildProcess.run(ProxyCommandTests.binary, ["ca"] + arguments, environment: environment, timeout: 60)
    }

    static func scratch() throws -> String {
        let base = FileManager.default.temporaryDirectory.path + "/sentinel-ca-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: false)
        return base
    }

    @Test("the first call makes the CA (key 0600), the second shows the same one; --json is one object")
    func makesThenShows() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let first = try Self.ca(["--ca-dir", base + "/ca", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: String])
        #expect(object["certificate"] == base + "/ca/ca.pem")
        #expect(object["bundle"] == base + "/ca/ca-bundle.pem")
        let fingerprint = try #require(object["fingerprint_sha256"])
        #expect(fingerprint.count == 95 && fingerprint.split(separator: ":").count == 32, "\(fingerprint)")
        var info = stat()
        #expect(stat(base + "/ca/ca.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
        // openssl agrees on the fingerprint of what sandboxes trust.
        let openssl = try ChildProcess.run("/usr/bin/env", ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", base + "/ca/ca.pem"], timeout: 30)
        #expect(openssl.stdout.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("=" + fingerprint), "\(openssl.stdout)")
        let second = try Self.ca(["--ca-dir", base + "/ca"])
        #expect(second.status == 0)
        #expect(second.stdout.contains(fingerprint), "the second call made another CA: \(second.stdout)")
    }

    @Test("a key that others can read is refused with what to do; nothing else changes")
    func refusesAReadableKey() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(try Self.ca(["--ca-dir", base + "/ca"]).status == 0)
        chmod(base + "/ca/ca.key", 0o644)
        let refused = try Self.ca(["--ca-dir", base + "/ca"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("chmod 600"), "\(refused.stderr)")
    }

    @Test("without --ca-dir, XDG_STATE_HOME then HOME place it; neither is an error that names --ca-dir")
    func defaultDirectory() throws {
        let base = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let placed = try Self.ca(["--json"], environment: ["XDG_STATE_HOME": base + "/state", "HOME": base])
        #expect(placed.status == 0, "\(placed.stderr)")
        #expect(placed.stdout.contains(base + "/state/sentinel/ca/ca.pem"))
        let nowhere = try Self.ca([], environment: ["HOME": "relative"])
        #expect(nowhere.status == 2)
        #expect(nowhere.stderr.contains("--ca-dir"), "\(nowhere.stderr)")
    }
}
