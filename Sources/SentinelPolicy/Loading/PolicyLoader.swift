#if canImport(Glibc)
import Glibc
#endif

/// Where a policy text came from.
public enum PolicySourceKind: Sendable, Hashable, CustomStringConvertible {
    /// A file, by the path it was read from (absolute).
    case file(String)
    /// The `SENTINEL_POLICY_CONTENT` environment variable.
    case environment
    /// The built-in default policy, asked for by name (`builtin:default`).
    case builtin

    /// `file`, `env` or `builtin`, as the attestation record names it (the original's names).
    public var name: String {
        switch self {
        case .file: "file"
        case .environment: "env"
        case .builtin: "builtin"
        }
    }

    /// The path, `SENTINEL_POLICY_CONTENT`, or `builtin:default`.
    public var description: String {
        switch self {
        case .file(let path): path
        case .environment: SentinelEnvironment.policyContent
        case .builtin: PolicyLoader.builtinName
        }
    }
}

/// How the policy's authenticity was checked.
public enum SignatureMode: String, Sendable, Hashable {
    /// `SENTINEL_POLICY_HMAC_SHA256` was set and matched.
    case hmac
    /// `SENTINEL_POLICY_SHA256` was set and matched.
    case sha256
    /// Neither was set.
    case none
}

/// A policy that was read, verified and parsed, with everything needed to check later that it has
/// not changed (immutability) and to attest what was loaded.
public struct LoadedPolicy: Sendable {
    /// The parsed document.
    public let document: PolicyDocument
    /// The policy text after newline normalisation (what was hashed and parsed).
    public let text: String
    /// The lowercase hex SHA-256 of `text`.
    public let sha256: String
    /// Where the text came from.
    public let source: PolicySourceKind
    /// How its authenticity was checked.
    public let signatureMode: SignatureMode
    /// Whether `SENTINEL_POLICY_IMMUTABLE` was truthy.
    public let immutable: Bool
    /// Whether production mode was on (``ProductionMode/isOn(_:)``).
    public let production: Bool
    /// Keys that loaded but deserve attention.
    public let warnings: [PolicyWarning]
    /// The environment the policy was loaded with, used again to re-read an environment policy.
    let environment: [String: String]

    /// Re-reads the source and throws if its text no longer hashes to `sha256` (the original's
    /// `verify_policy_immutability`). A source that cannot be re-read counts as changed.
    public func verifyUnchanged(environment current: [String: String]? = nil) throws(PolicyError) {
        let text: String
        switch source {
        case .environment:
            text = (current ?? SentinelEnvironment.current())[SentinelEnvironment.policyContent] ?? ""
        case .file(let path):
            do {
                text = try PolicyLoader.readFile(path)
            } catch {
                throw PolicyError(.drift, "Immutable policy drift detected: the policy file can no longer be read (\(error.message)).",
                                  at: SourceLocation(file: path))
            }
        case .builtin:
            text = DefaultPolicy.text
        }
        let digest = PolicyIntegrity.sha256Hex(of: PolicyIntegrity.normalizeNewlines(text))
        guard PolicyIntegrity.digestMatches(computedHex: digest, expectedHex: sha256) else {
            throw PolicyError(
                .drift, "Immutable policy drift detected.", at: SourceLocation(file: source.description),
                hint: "The policy changed after it was loaded (SHA-256 was \(sha256), now \(digest)); restart with the intended policy."
            )
        }
    }

    /// The facts recorded at activation: source, SHA-256, signature mode, immutability, production.
    public var attestation: [String: String] {
        [
            "policy_source": source.name,
            "policy_path": source.description,
            "policy_sha256": sha256,
            "signature_mode": signatureMode.rawValue,
            "immutable": String(immutable),
            "production": String(production),
        ]
    }
}

/// Loads `sentinel.yaml` the way the original did, with its bugs fixed: environment content
/// first, integrity checks over the normalised text, production prerequisites, and a missing file
/// is an error rather than an empty policy.
public struct PolicyLoader: Sendable {
    /// The name that selects the built-in default policy.
    public static let builtinName = "builtin:default"
    /// The file read when no path is given.
    public static let defaultPath = "sentinel.yaml"

    /// The environment read for `SENTINEL_*` variables.
    public var environment: [String: String]

    /// Creates a loader reading the given environment (the process's by default).
    public init(environment: [String: String] = SentinelEnvironment.current()) {
        self.environment = environment
    }

    /// Loads, verifies and parses a policy.
    ///
    /// - Parameter path: a file path (relative to the working directory), `builtin:default`, or
    ///   `nil` for `./sentinel.yaml`. Ignored when `SENTINEL_POLICY_CONTENT` is set, as in the
    ///   original.
    /// - Throws: `PolicyError` for a missing or unreadable file, malformed YAML, a schema error, a
    ///   digest that does not match, or unmet production prerequisites.
    public func load(path: String? = nil) throws(PolicyError) -> LoadedPolicy {
        let production = ProductionMode.isOn(environment)
        let immutable = SentinelEnvironment.isTruthy(environment[SentinelEnvironment.policyImmutable])
        let expectedSHA = environment[SentinelEnvironment.policySHA256].flatMap { $0.trimmingWhitespace().isEmpty ? nil : $0 }
        let expectedHMAC = environment[SentinelEnvironment.policyHMAC].flatMap { $0.trimmingWhitespace().isEmpty ? nil : $0 }

        if let violation = ProductionMode.checkPolicy(
            signed: expectedSHA != nil || expectedHMAC != nil, immutable: immutable, environment: environment) {
            throw PolicyError(.production, violation.requirement, hint: violation.remedy)
        }

        let (source, text) = try readSource(path: path)
        let sha256 = PolicyIntegrity.sha256Hex(of: text)
        let location = SourceLocation(file: source.description)

        if let expectedSHA {
            guard PolicyIntegrity.isHexDigest(expectedSHA, length: 64) else {
                throw PolicyError(.integrity, "SENTINEL_POLICY_SHA256 is not a SHA-256 hex digest.", at: location,
                                  hint: "It must be 64 hex characters, the output of `sentinel policy hash`.")
            }
            guard PolicyIntegrity.digestMatches(computedHex: sha256, expectedHex: expectedSHA) else {
                throw PolicyError(.integrity, "Policy SHA256 verification failed.", at: location,
                                  hint: "The text hashes to \(sha256); if the change is intended, update SENTINEL_POLICY_SHA256.")
            }
        }
        if let expectedHMAC {
            guard let key = environment[SentinelEnvironment.policyHMACKey], !key.isEmpty else {
                throw PolicyError(.integrity, "SENTINEL_POLICY_HMAC_KEY is required for HMAC policy verification.", at: location)
            }
            guard PolicyIntegrity.isHexDigest(expectedHMAC, length: 64) else {
                throw PolicyError(.integrity, "SENTINEL_POLICY_HMAC_SHA256 is not an HMAC-SHA256 hex digest.", at: location,
                                  hint: "It must be 64 hex characters, the output of `sentinel policy hash --hmac`.")
            }
            let computed = PolicyIntegrity.hmacHex(of: text, key: key)
            guard PolicyIntegrity.digestMatches(computedHex: computed, expectedHex: expectedHMAC) else {
                throw PolicyError(.integrity, "Policy HMAC-SHA256 verification failed.", at: location,
                                  hint: "The policy or the key differs from the one that was signed.")
            }
        }

        var reader = PolicyYAMLReader(file: source.description)
        let document = try reader.read(text)
        var warnings = reader.warnings
        if Self.isEmpty(text) {
            // Valid YAML, and every list defaults to nothing: a policy that denies everything.
            // Usually a mistake (an empty file left where a policy was mounted, a file not yet
            // written), so it is said rather than silently enforced.
            warnings.append(PolicyWarning(
                location: location, keyPath: "(policy)",
                message: "the policy is empty, so it allows nothing: every file, command and host is denied. "
                    + "Start from the commented starter policy with `sentinel policy init`, or check that this is the file you meant."))
        }
        return LoadedPolicy(
            document: document,
            text: text,
            sha256: sha256,
            source: source,
            signatureMode: expectedHMAC != nil ? .hmac : (expectedSHA != nil ? .sha256 : .none),
            immutable: immutable,
            production: production,
            warnings: warnings,
            environment: environment
        )
    }

    /// Whether `text` holds no key at all: nothing, blank lines, comments, document markers, or
    /// an explicit empty value (`~`, `null`, `{}`).
    static func isEmpty(_ text: String) -> Bool {
        var content: [Substring] = []
        for line in text.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed == "---" || trimmed == "..." { continue }
            content.append(trimmed)
        }
        guard content.count <= 1 else { return false }
        guard let only = content.first else { return true }
        let value = only.split(separator: "#", maxSplits: 1).first.map { String($0).trimmingWhitespace() } ?? ""
        return ["", "~", "null", "Null", "NULL", "{}"].contains(value)
    }

    /// Reads the policy text that `load(path:)` would read, newline-normalised, without verifying
    /// or parsing it (`sentinel policy hash`).
    public func readSource(path: String? = nil) throws(PolicyError) -> (PolicySourceKind, String) {
        let source: PolicySourceKind
        let rawText: String
        if let content = environment[SentinelEnvironment.policyContent], !content.isEmpty {
            source = .environment
            rawText = content
        } else if path == Self.builtinName {
            source = .builtin
            rawText = DefaultPolicy.text
        } else {
            let absolute = Self.absolutePath(path ?? Self.defaultPath)
            source = .file(absolute)
            rawText = try Self.readFile(absolute)
        }
        return (source, PolicyIntegrity.normalizeNewlines(rawText))
    }

    /// Parses policy text that did not come from a file (tests, `explain` on a snippet).
    public func parse(_ text: String, name: String = "<text>") throws(PolicyError) -> PolicyDocument {
        var reader = PolicyYAMLReader(file: name)
        return try reader.read(PolicyIntegrity.normalizeNewlines(text))
    }

    // MARK: - Files

    /// Reads a whole file as UTF-8, with errors that say what to do.
    static func readFile(_ path: String) throws(PolicyError) -> String {
        let location = SourceLocation(file: path)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw PolicyError(
                    .unreadable, "the policy file does not exist.", at: location,
                    hint: "Create one with `sentinel policy init`, pass --policy PATH, or use --policy \(builtinName) for the built-in default."
                )
            }
            throw PolicyError(.unreadable, "the policy file cannot be opened (\(String(cString: strerror(code)))).", at: location,
                              hint: "Check that the file exists and that you may read it.")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw PolicyError(.unreadable, "the policy file cannot be examined (\(String(cString: strerror(errno)))).", at: location)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw PolicyError(.unreadable, "the policy path is not a regular file.", at: location,
                              hint: "Point --policy at a sentinel.yaml file.")
        }
        guard info.st_size <= 4 * 1024 * 1024 else {
            throw PolicyError(.unreadable, "the policy file is larger than 4 MiB.", at: location,
                              hint: "A policy is a short YAML file; check that --policy names the right file.")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw PolicyError(.unreadable, "the policy file cannot be read (\(String(cString: strerror(errno)))).", at: location)
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = invalidUTF8Offset(bytes)
            throw PolicyError(.malformedYAML, "the policy file is not UTF-8 text: the byte "
                                  + "0x\(String(bytes[offset], radix: 16, uppercase: true)) here is not part of a UTF-8 character.",
                              at: position(ofByte: offset, in: bytes, file: path),
                              hint: "Save the file as UTF-8.")
        }
        return text
    }

    /// The offset of the first byte that is not part of a valid UTF-8 sequence (the length when
    /// there is none).
    static func invalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var offset = 0
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        // The decoder reads one scalar at a time; count the bytes of each valid one.
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput, .error:
                return min(offset, max(bytes.count - 1, 0))
            }
        }
    }

    /// Line and column (characters, from 1) of the byte at `offset`.
    static func position(ofByte offset: Int, in bytes: [UInt8], file: String) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xc0 != 0x80 {
                column += 1
            }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    /// Makes a path absolute against the current working directory (the original resolved
    /// relative paths against its install location, which pointed into site-packages).
    public static func absolutePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let cwd = currentDirectory() else { return path }
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return cwd == "/" ? "/" + relative : cwd + "/" + relative
    }
}

/// The process's working directory, or `nil` if it cannot be read (deleted, too long).
package func currentDirectory() -> String? {
    guard let pointer = getcwd(nil, 0) else { return nil }
    defer { free(pointer) }
    return String(cString: pointer)
}
