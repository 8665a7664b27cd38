// The Sentinel CA on disk: made once under the caller's state directory, its key kept private,
// and refused with a sentence when it is not.

import Foundation
import SentinelProxy
import Testing

@Suite("Proxy: the Sentinel CA")
struct SentinelCATests {
    @Test("The CA is made on first use with a 0600 key, kept, and bundled with the system's CAs")
    func theCertificateAuthorityIsMadeOnceAndKept() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-ca-\(UUID().uuidString)")
            .appendingPathComponent("state/sentinel/ca").path
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        let first = try SentinelCA.loadOrCreate(directory: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: first.keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect((directoryAttributes[.posixPermissions] as? Int) == 0o700)

        let again = try SentinelCA.loadOrCreate(directory: directory)
        #expect(again.certificatePEM == first.certificatePEM)

        try first.writeBundle()
        let bundle = try String(contentsOfFile: first.bundlePath, encoding: .utf8)
        #expect(bundle.hasPrefix(first.certificatePEM))
        if FileManager.default.fileExists(atPath: SentinelCA.systemBundlePath) {
            #expect(bundle.count > first.certificatePEM.count)
        }

        // A key others can read is refused, with what to do.
        #expect(chmod(first.keyPath, 0o644) == 0)
        let error = #expect(throws: ProxyError.self) { try SentinelCA.loadOrCreate(directory: directory) }
        #expect(error?.code == .certificateAuthority)
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test("The default CA directory is under the caller's state directory", arguments: [
        (["XDG_STATE_HOME": "/s", "HOME": "/h"], "/s/sentinel/ca"),
        (["HOME": "/h"], "/h/.local/state/sentinel/ca"),
        (["XDG_STATE_HOME": "relative", "HOME": "/h"], "/h/.local/state/sentinel/ca"),
    ])
    func theDefaultDirectory(_ environment: [String: String], _ expected: String) throws {
        #expect(try SentinelCA.defaultDirectory(environment: environment) == expected)
    }
}
