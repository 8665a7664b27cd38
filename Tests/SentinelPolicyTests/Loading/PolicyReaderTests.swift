import Foundation
import Glibc
import Testing
@testable import SentinelPolicy

/// Each kind of malformed policy gets its own error code, position and a sentence saying how to
/// fix it; nothing falls back to a silent default.
@Suite struct PolicyReaderTests {
    struct Malformed: Sendable, CustomTestStringConvertible {
        let name: String
        let yaml: String
        let code: PolicyError.Code
        let line: Int
        let keyPath: String?
        let fragment: String
        var testDescription: String { name }
    }

    static let malformed: [Malformed] = [
        Malformed(name: "unclosed flow list", yaml: "allowed_paths: [./a\nblocked_paths: []\n", code: .malformedYAML,
                  line: 2, keyPath: nil, fragment: "not valid YAML"),
        Malformed(name: "bad indentation", yaml: "network_failsafe:\n  socket_connect: true\n allow_private_network: true\n",
                  code: .malformedYAML, line: 3, keyPath: nil, fragment: "not valid YAML"),
        Malformed(name: "misspelt top-level key", yaml: "allowed_path:\n  - ./workspace\n", code: .unknownKey,
                  line: 1, keyPath: nil, fragment: "Did you mean \"allowed_paths\"?"),
        Malformed(name: "misspelt nested key", yaml: "network_failsafe:\n  socket_conect: true\n", code: .unknownKey,
                  line: 2, keyPath: "network_failsafe", fragment: "Did you mean \"socket_connect\"?"),
        Malformed(name: "string where a list belongs", yaml: "allowed_paths: ./workspace\n", code: .wrongType,
                  line: 1, keyPath: "allowed_paths", fragment: "Write a list"),
        Malformed(name: "port out of range", yaml: "allowed_hosts:\n  - host: a.example\n    ports: [443, 99999]\n",
                  code: .invalidValue, line: 3, keyPath: "allowed_hosts[0].ports[1]", fragment: "99999 is not a port"),
        Malformed(name: "port zero", yaml: "allowed_hosts:\n  - host: a.example\n    ports: [0]\n",
                  code: .invalidValue, line: 3, keyPath: "allowed_hosts[0].ports[0]", fragment: "0 is not a port"),
        Malformed(name: "scheme name where a port belongs", yaml: "allowed_hosts:\n  - host: a.example\n    ports: [https]\n",
                  code: .wrongType, line: 3, keyPath: "allowed_hosts[0].ports[0]", fragment: "expected a whole number"),
        Malformed(name: "empty port list", yaml: "allowed_hosts:\n  - host: a.example\n    ports: []\n",
                  code: .invalidValue, line: 3, keyPath: "allowed_hosts[0].ports", fragment: "list of ports is empty"),
        Malformed(name: "empty scheme list", yaml: "allowed_hosts:\n  - {host: a.example, schemes: []}\n",
                  code: .invalidValue, line: 2, keyPath: "allowed_hosts[0].schemes", fragment: "list of schemes is empty"),
        Malformed(name: "host entry without host", yaml: "allowed_hosts:\n  - ports: [443]\n",
                  code: .invalidValue, line: 2, keyPath: "allowed_hosts[0]", fragment: "has no host"),
        Malformed(name: "unknown match mode", yaml: "host_match_mode: fuzzy\n", code: .invalidValue,
                  line: 1, keyPath: "host_match_mode", fragment: "not a match mode"),
        Malformed(name: "non-boolean flag", yaml: "network_failsafe:\n  socket_connect: maybe\n", code: .wrongType,
                  line: 2, keyPath: "network_failsafe.socket_connect", fragment: "expected true or false"),
        Malformed(name: "duplicate key", yaml: "allowed_paths: [a]\nallowed_paths: [b]\n", code: .invalidValue,
                  line: 2, keyPath: nil, fragment: "appears twice"),
        Malformed(name: "unknown approval mode", yaml: "approval:\n  mode: telepathy\n", code: .invalidValue,
                  line: 2, keyPath: "approval.mode", fragment: "not an approval mode"),
        Malformed(name: "negative timeout", yaml: "approval:\n  timeout_seconds: -5\n", code: .invalidValue,
                  line: 2, keyPath: "approval.timeout_seconds", fragment: "not a usable timeout"),
        Malformed(name: "bad memory size", yaml: "sandbox:\n  memory: lots\n", code: .invalidValue,
                  line: 2, keyPath: "sandbox.memory", fragment: "not a usable size"),
        Malformed(name: "bad environment name", yaml: "sandbox:\n  env_allow: [\"MY-VAR\"]\n", code: .invalidValue,
                  line: 2, keyPath: "sandbox.env_allow[0]", fragment: "not an environment variable name"),
        Malformed(name: "command mapping without command", yaml: "allowed_commands:\n  - {args_deny: [push]}\n",
                  code: .invalidValue, line: 2, keyPath: "allowed_commands[0]", fragment: "has no command"),
        Malformed(name: "list at the top", yaml: "- ./workspace\n", code: .wrongType, line: 1, keyPath: nil,
                  fragment: "expected a mapping"),
        Malformed(name: "two documents", yaml: "allowed_paths: [a]\n---\nallowed_paths: [b]\n", code: .malformedYAML,
                  line: 3, keyPath: nil, fragment: "more than one YAML document"),
        Malformed(name: "null list item", yaml: "blocked_paths:\n  -\n", code: .wrongType, line: 2,
                  keyPath: "blocked_paths[0]", fragment: "expected a string"),
    ]

    @Test(arguments: malformed)
    func malformedPolicyIsRefusedWithItsPosition(_ example: Malformed) throws {
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: [:]).parse(example.yaml, name: "sentinel.yaml")
        }
        #expect(error.code == example.code, "\(error)")
        #expect(error.location?.file == "sentinel.yaml")
        #expect(error.location?.line == example.line, "\(error)")
        #expect(error.keyPath == example.keyPath, "\(error)")
        #expect(error.description.contains(example.fragment), "\(error)")
    }

    @Test func emptyTextIsAnEmptyPolicy() throws {
        let document = try PolicyLoader(environment: [:]).parse("", name: "empty.yaml")
        #expect(document.allowedPaths.isEmpty)
        #expect(document.allowedCommands.isEmpty)
        #expect(document.networkFailsafe.socketConnect, "the socket fail-safe is on by default")
    }

    @Test func booleansReadTheWayTheOriginalReadThem() throws {
        for (text, expected) in [("yes", true), ("On", true), ("TRUE", true), ("no", false), ("off", false), ("False", false)] {
            let document = try PolicyLoader(environment: [:]).parse("allow_hardlinked_writes: \(text)\n")
            #expect(document.allowHardlinkedWrites == expected, "\(text)")
        }
    }

    @Test func unimplementedSectionsLoadWithAWarningNamingThem() throws {
        var reader = PolicyYAMLReader(file: "p.yaml")
        _ = try reader.read("judge:\n  model: llama-guard3\nphishing:\n  suspicious_keywords: [login]\n")
        #expect(reader.warnings.map(\.keyPath) == ["judge", "phishing.suspicious_keywords"])
        #expect(reader.warnings[0].location?.line == 1)
    }

    @Test func everyKeyIsRead() throws {
        let yaml = """
            allowed_paths: [./workspace]
            blocked_paths: [/etc]
            read_only_paths: [/usr/share/doc]
            allow_hardlinked_writes: true
            allowed_commands:
              - echo
              - {command: git, args_deny: ["push", "--upload-pack*"]}
            blocked_command_bases: [curl]
            host_match_mode: subdomain
            allowed_hosts:
              - pypi.org
              - {host: api.openai.com, match: exact, schemes: [HTTPS], ports: [443]}
            blocked_keywords: [ignore previous instructions]
            policy_integrity: {tamper_detection: false}
            phishing: {enabled: false, blocked_tlds: [".zip"]}
            network_failsafe:
              socket_connect: false
              allow_private_network: true
              blocked_hosts: [evil.example]
              blocked_ips: [10.0.0.0/8]
              allowed_ips: [93.184.216.0/24]
            approval: {mode: tkinter, timeout_seconds: 30}
            audit: {path: /var/log/sentinel.log}
            sandbox: {pids_limit: 64, memory: 1g, cpus: 0.5, tmpfs_size: 16m, env_allow: [OPENAI_API_KEY]}
            """
        let document = try PolicyLoader(environment: [:]).parse(yaml)
        #expect(document.allowedPaths.map(\.value) == ["./workspace"])
        #expect(document.blockedPaths.map(\.value) == ["/etc"])
        #expect(document.readOnlyPaths.map(\.value) == ["/usr/share/doc"])
        #expect(document.allowHardlinkedWrites)
        #expect(document.allowedCommands.map(\.command) == ["echo", "git"])
        #expect(document.allowedCommands[1].argsDeny.map(\.value) == ["push", "--upload-pack*"])
        #expect(document.allowedCommands[1].argsDeny[1].keyPath == "allowed_commands[1].args_deny[1]")
        #expect(document.blockedCommandBases.map(\.value) == ["curl"])
        #expect(document.hostMatchMode == .subdomain)
        #expect(document.allowedHosts[0].host == "pypi.org" && document.allowedHosts[0].ports == nil)
        #expect(document.allowedHosts[1].schemes == ["https"] && document.allowedHosts[1].ports == [443])
        #expect(document.allowedHosts[1].match == .exact)
        #expect(document.blockedKeywords.map(\.value) == ["ignore previous instructions"])
        #expect(!document.tamperDetection)
        #expect(!document.phishing.enabled && document.phishing.blockedTLDs.map(\.value) == [".zip"])
        #expect(!document.networkFailsafe.socketConnect && document.networkFailsafe.allowPrivateNetwork)
        #expect(document.networkFailsafe.blockedHosts.map(\.value) == ["evil.example"])
        #expect(document.networkFailsafe.blockedIPs.map(\.value) == ["10.0.0.0/8"])
        #expect(document.networkFailsafe.allowedIPs.map(\.value) == ["93.184.216.0/24"])
        #expect(document.approval.mode == .popup, "tkinter is read as popup")
        #expect(document.approval.timeoutSeconds == 30)
        #expect(document.audit.path == "/var/log/sentinel.log")
        #expect(document.sandbox.pidsLimit == 64 && document.sandbox.memoryBytes == 1 << 30)
        #expect(document.sandbox.cpus == 0.5 && document.sandbox.tmpfsSizeBytes == 16 << 20)
        #expect(document.sandbox.envAllow == ["OPENAI_API_KEY"])
    }

    @Test(arguments: [
        ("512m", UInt64(512) << 20), ("1g", UInt64(1) << 30), ("65536k", UInt64(65536) << 10), ("4096", UInt64(4096)),
        ("64M", UInt64(64) << 20),
    ])
    func sizesReadLikeDocker(_ text: String, _ bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "m", "1.5g", "-1m", "12x", "99999999999999999999g"])
    func badSizesAreRefused(_ text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test("errors from the YAML reader name their line and column")
    func readerErrorsAreLocated() throws {
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: [:]).parse("allowed_paths: [a]\nblocked_paths: [b\u{7}]\n", name: "sentinel.yaml")
        }
        #expect(error.location == SourceLocation(file: "sentinel.yaml", line: 2, column: 18), "\(error)")
        #expect(error.message.contains("control characters are not allowed"), "\(error)")
    }

    @Test("a file that is not UTF-8 is refused at the first bad byte")
    func invalidUTF8IsLocated() throws {
        let path = NSTemporaryDirectory() + "sentinel-utf8-\(UUID().uuidString).yaml"
        defer { unlink(path) }
        #expect(FileManager.default.createFile(
            atPath: path, contents: Data(Array("allowed_paths: [a]\nblocked_paths: [é".utf8) + [0xff] + Array("]\n".utf8))))
        let error = try #require(throws: PolicyError.self) { try PolicyLoader(environment: [:]).load(path: path) }
        #expect(error.location == SourceLocation(file: path, line: 2, column: 18), "\(error)")
        #expect(error.message.contains("0xFF"), "\(error)")
    }

    @Test("a value quoted in a message keeps the message on one line", arguments: [
        "approval:\n  mode: \"auto\\nwarning: approved\"\n", "sandbox: {memory: \"1g\\r\\n\"}\n",
        "allowed_path\ts: [a]\n", "\"allowed_paths\\n\": [a]\n",
        "approval: {mode: \"\(String(repeating: "x", count: 500))\"}\n",
    ])
    func messagesStayOnOneLine(_ yaml: String) throws {
        let error = try #require(throws: PolicyError.self) {
            try PolicyLoader(environment: [:]).parse(yaml, name: "sentinel.yaml")
        }
        #expect(!error.description.unicodeScalars.contains { $0.value < 0x20 }, "\(error)")
        #expect(error.description.count < 400, "a long value is cut: \(error)")
    }
}
