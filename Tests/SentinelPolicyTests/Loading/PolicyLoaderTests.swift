import Foundation
import Testing
@testable import SentinelPolicy

/// Integrity, production prerequisites and sources, as the original defined them (§4), with the
/// fix that a missing policy file is an error.
@Suite struct PolicyLoaderTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ text: String, name: String = "sentinel.yaml") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test func theShippedPolicyIsTheBuiltInDefault() throws {
        let repositoryPolicy = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("sentinel.yaml")
        let text = try String(contentsOf: repositoryPolicy, encoding: .utf8)
        #expect(text == DefaultPolicy.text, "sentinel.yaml and DefaultPolicy.swift must stay identical")
        let loaded = try PolicyLoader(environment: [:]).load(path: PolicyLoader.builtinName)
        #expect(loaded.source == .builtin)
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.document.allowedCommands.map(\.command) == ["echo", "ls"])
    }

    @Test func aMissingFileIsAnErrorNotAnEmptyPolicy() throws {
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: [:]).load(path: directory.appendingPathComponent("absent.yaml").path)
        }
        #expect(error.code == .unreadable)
        #expect(error.description.contains("does not exist"))
        #expect(error.description.contains("sentinel policy init"))
    }

    @Test func aDirectoryIsNotAPolicy() throws {
        let error = try #require(throws: PolicyError.self) { try PolicyLoader(environment: [:]).load(path: directory.path) }
        #expect(error.code == .unreadable)
    }

    @Test func environmentContentWinsOverTheFile() throws {
        let path = try write("allowed_commands: [ls]\n")
        let loaded = try PolicyLoader(environment: ["SENTINEL_POLICY_CONTENT": "allowed_commands: [echo]\n"]).load(path: path)
        #expect(loaded.source == .environment)
        #expect(loaded.document.allowedCommands.map(\.command) == ["echo"])
        #expect(loaded.attestation["policy_source"] == "env")
    }

    @Test func hashesAreOverLineFeedNormalisedText() throws {
        let crlf = try write("allowed_paths:\r\n  - ./workspace\r\n", name: "crlf.yaml")
        let lf = try write("allowed_paths:\n  - ./workspace\n", name: "lf.yaml")
        let crlfLoaded = try PolicyLoader(environment: [:]).load(path: crlf)
        let lfLoaded = try PolicyLoader(environment: [:]).load(path: lf)
        #expect(crlfLoaded.sha256 == lfLoaded.sha256)
        // The digest Python's hashlib computes over the same text.
        #expect(lfLoaded.sha256 == "beeb1196d792b7e7390c72ca788027122d089b3d354e64d18078d815c5a05d04")
    }

    @Test func aMatchingSHA256Loads() throws {
        let path = try write("allowed_commands: [ls]\n")
        let digest = PolicyIntegrity.sha256Hex(of: "allowed_commands: [ls]\n")
        let loaded = try PolicyLoader(environment: ["SENTINEL_POLICY_SHA256": "  \(digest.uppercased()) "]).load(path: path)
        #expect(loaded.signatureMode == .sha256)
    }

    @Test(arguments: [
        ("0000000000000000000000000000000000000000000000000000000000000000", "Policy SHA256 verification failed."),
        ("not-hex", "is not a SHA-256 hex digest"),
    ])
    func aWrongSHA256Refuses(_ expected: String, _ message: String) throws {
        let path = try write("allowed_commands: [ls]\n")
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: ["SENTINEL_POLICY_SHA256": expected]).load(path: path)
        }
        #expect(error.code == .integrity)
        #expect(error.description.contains(message))
    }

    @Test func hmacIsCheckedWithItsKey() throws {
        let text = "allowed_commands: [ls]\n"
        let path = try write(text)
        let mac = PolicyIntegrity.hmacHex(of: text, key: "s3cret")
        let loaded = try PolicyLoader(environment: ["SENTINEL_POLICY_HMAC_SHA256": mac, "SENTINEL_POLICY_HMAC_KEY": "s3cret"]).load(path: path)
        #expect(loaded.signatureMode == .hmac)

        let wrongKey = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: ["SENTINEL_POLICY_HMAC_SHA256": mac, "SENTINEL_POLICY_HMAC_KEY": "other"]).load(path: path)
        }
        #expect(wrongKey.message == "Policy HMAC-SHA256 verification failed.")

        let noKey = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: ["SENTINEL_POLICY_HMAC_SHA256": mac]).load(path: path)
        }
        #expect(noKey.message == "SENTINEL_POLICY_HMAC_KEY is required for HMAC policy verification.")
    }

    @Test func hmacMatchesPythonsHmacModule() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"k",b"a: 1\n",hashlib.sha256).hexdigest())'
        #expect(PolicyIntegrity.hmacHex(of: "a: 1\n", key: "k") == "aaab59c27b83ac75552267e9497c19a4b45cfed8639f05d74d0607e59fd4a4f0")
    }

    @Test func productionRequiresASignatureAndImmutability() throws {
        let path = try write("allowed_commands: [ls]\n")
        let unsigned = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: ["SENTINEL_PRODUCTION": "true", "SENTINEL_POLICY_IMMUTABLE": "1"]).load(path: path)
        }
        #expect(unsigned.message == "Production mode requires signed policy verification (SENTINEL_POLICY_SHA256 or SENTINEL_POLICY_HMAC_SHA256).")

        let digest = PolicyIntegrity.sha256Hex(of: "allowed_commands: [ls]\n")
        let mutable = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: ["SENTINEL_PRODUCTION": "yes", "SENTINEL_POLICY_SHA256": digest]).load(path: path)
        }
        #expect(mutable.message == "Production mode requires SENTINEL_POLICY_IMMUTABLE=true.")

        let loaded = try PolicyLoader(environment: [
            "SENTINEL_PRODUCTION": " On ", "SENTINEL_POLICY_SHA256": digest, "SENTINEL_POLICY_IMMUTABLE": "TRUE",
        ]).load(path: path)
        #expect(loaded.production && loaded.immutable)
        #expect(loaded.attestation["signature_mode"] == "sha256")
        #expect(loaded.attestation["production"] == "true")
    }

    /// One definition of production (ProductionMode): a truthy SENTINEL_PRODUCTION or
    /// SENTINEL_ENV=production, and the loader reads that same definition.
    @Test(arguments: [
        (["SENTINEL_PRODUCTION": "1"], true), (["SENTINEL_PRODUCTION": " yes "], true), (["SENTINEL_PRODUCTION": "false"], false),
        (["SENTINEL_ENV": "production"], true), (["SENTINEL_ENV": " Production "], true), (["SENTINEL_ENV": "staging"], false),
        (["SENTINEL_ENV": "prod"], false), (["SENTINEL_PRODUCTION": "0", "SENTINEL_ENV": "production"], true), ([:], false),
    ] as [([String: String], Bool)])
    func productionIsOneDefinition(_ environment: [String: String], _ on: Bool) throws {
        #expect(ProductionMode.isOn(environment) == on)
        let path = try write("allowed_commands: [ls]\n")
        let unsigned = Result { () throws(PolicyError) in try PolicyLoader(environment: environment).load(path: path) }
        if on {
            let error = try #require(throws: PolicyError.self) { try unsigned.get() }
            #expect(error.code == .production)
            #expect(error.description.contains("Set SENTINEL_POLICY_SHA256 to the output of `sentinel policy hash`"))
            #expect(error.description.contains("production mode is on because"), "\(error.description)")
        } else {
            #expect(try unsigned.get().production == false)
        }
    }

    @Test func anImmutablePolicyThatChangesIsCaught() throws {
        let path = try write("allowed_commands: [ls]\n")
        let loaded = try PolicyLoader(environment: ["SENTINEL_POLICY_IMMUTABLE": "true"]).load(path: path)
        try loaded.verifyUnchanged()
        _ = try write("allowed_commands: [ls, curl]\n")
        let error = try #require(throws: PolicyError.self) { try loaded.verifyUnchanged() }
        #expect(error.code == .drift)
        #expect(error.message == "Immutable policy drift detected.")
        try FileManager.default.removeItem(atPath: path)
        let gone = try #require(throws: PolicyError.self) { try loaded.verifyUnchanged() }
        #expect(gone.code == .drift)
    }

    @Test(arguments: [("true", true), ("1", true), ("yes", true), (" ON ", true), ("false", false), ("0", false), ("", false), ("enabled", false)])
    func truthinessIsTheOriginals(_ value: String, _ expected: Bool) {
        #expect(SentinelEnvironment.isTruthy(value) == expected)
    }

    @Test func nonUTF8FilesAreRefused() throws {
        let url = directory.appendingPathComponent("latin1.yaml")
        try Data([0x61, 0x3a, 0x20, 0xe9, 0x0a]).write(to: url)
        let error = try #require(throws: PolicyError.self) { try PolicyLoader(environment: [:]).load(path: url.path) }
        #expect(error.description.contains("not UTF-8"))
    }
}
