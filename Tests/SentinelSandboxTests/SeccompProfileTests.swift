// Reading and writing Docker-format profiles: the shipped files round-trip byte for byte, and
// every malformed input is refused with a sentence naming the place and the problem.

import Foundation
import SentinelSandbox
import Testing

@Suite struct SeccompProfileTests {
    @Test(arguments: SeccompFixtures.shippedProfiles)
    func shippedProfilesAreInTheWritersLayout(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let profile = try SeccompProfile.load(contentsOf: path)
        #expect(profile.jsonText() == text, "re-run the writer: the file is not in canonical layout")
        #expect(profile.defaultAction == .errno && profile.defaultErrnoRet == 1)
        #expect(profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
        // Every rule says why it is there.
        for (index, rule) in profile.syscalls.enumerated() {
            #expect(rule.comment?.isEmpty == false, "syscalls[\(index)] has no comment")
        }
    }

    /// Docker's libseccomp drops rules with arguments for a call that also has a rule without;
    /// the shipped profiles never rely on that.
    @Test(arguments: SeccompFixtures.shippedProfiles)
    func noCallMixesRulesWithAndWithoutArguments(path: String) throws {
        let profile = try SeccompProfile.load(contentsOf: path)
        var unconditional: Set<String> = []
        var conditional: Set<String> = []
        for rule in profile.syscalls {
            if rule.args.isEmpty { unconditional.formUnion(rule.names) } else { conditional.formUnion(rule.names) }
        }
        #expect(unconditional.isDisjoint(with: conditional), "\(unconditional.intersection(conditional))")
        let names = profile.syscalls.filter { $0.args.isEmpty }.flatMap(\.names)
        #expect(names.count == Set(names).count, "a call is named by two rules without arguments")
    }

    @Test func roundTripKeepsEveryField() throws {
        let profile = SeccompProfile(
            defaultAction: .errno, defaultErrnoRet: 1,
            architectureMap: [.init(architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"])],
            flags: ["SECCOMP_FILTER_FLAG_LOG"], listenerPath: "/run/l.sock", comment: "a \"quoted\"\ncomment",
            syscalls: [
                .init(
                    names: ["clone"], action: .allow,
                    args: [.init(index: 0, value: 0x7E02_0000, valueTwo: 0, op: .maskedEqual)],
                    comment: "c", includes: .init(arches: ["amd64"], minKernel: "4.8"),
                    excludes: .init(caps: ["CAP_SYS_ADMIN"])),
                .init(names: ["clone3"], action: .errno, errnoRet: 38),
                .init(names: ["x"], action: .allow, args: [.init(index: 5, value: .max, op: .greaterOrEqual)]),
            ])
        let parsed = try SeccompProfile(json: Array(profile.jsonText().utf8), source: "<round trip>")
        #expect(parsed == profile)
    }

    @Test func sixtyFourBitValuesAreExact() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 18446744073709551615, "valueTwo": 9007199254740993,
                       "op": "SCMP_CMP_MASKED_EQ"}]}]}
            """
        let profile = try SeccompProfile(json: Array(json.utf8), source: "<test>")
        #expect(profile.syscalls[0].args[0].value == .max)
        #expect(profile.syscalls[0].args[0].valueTwo == 9_007_199_254_740_993)  // not representable as a Double
    }

    @Test func dockersOwnKeysAreAccepted() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                         {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
             "syscalls": [{"name": "read", "action": "SCMP_ACT_ALLOW", "args": null},
                          {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "comment": "s390 differs",
                           "includes": {"arches": ["s390"]}, "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}
            """
        let profile = try SeccompProfile(json: Array(json.utf8), source: "<docker>")
        #expect(profile.architectureMap.count == 2)
        #expect(profile.syscalls[0].names == ["read"])
    }

    /// A profile with `fields` at the top level after the default action.
    static func top(_ fields: String) -> String {
        #"{"defaultAction": "SCMP_ACT_ERRNO", "# + fields + "}"
    }

    /// A profile with one rule for `a` made of `fields`.
    static func rule(_ fields: String) -> String {
        top(#""syscalls": [{"names": ["a"], "# + fields + "}]")
    }

    /// A profile with one allow rule for `a` whose `args` are `arguments`.
    static func argumentJSON(_ arguments: String) -> String {
        rule(#""action": "SCMP_ACT_ALLOW", "args": ["# + arguments + "]")
    }

    /// (document, what the error must say). Each names a place and a problem.
    static let invalid: [(String, String)] = [
        ("", "1:1: not valid JSON"),
        ("[]", "expected an object"),
        (#"{"syscalls": []}"#, "defaultAction: missing"),
        (#"{"defaultAction": "SCMP_ACT_DENY"}"#, #""SCMP_ACT_DENY" is not an action"#),
        ("{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscals\": []}", "<bad>:2:13: syscals: unknown key"),
        (rule(#""action": "SCMP_ACT_ALLOW", "arg": []"#), #"syscalls[0].arg: unknown key "arg""#),
        (top(#""defaultAction": "SCMP_ACT_ALLOW""#), "appears twice"),
        (top(#""syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]"#), "missing or empty"),
        (top(#""syscalls": [{"names": ["a"]}]"#), "syscalls[0].action: missing"),
        (rule(#""action": "SCMP_ACT_ALLOW", "errnoRet": 1"#), "only meaningful with SCMP_ACT_ERRNO"),
        (rule(#""action": "SCMP_ACT_ERRNO", "errnoRet": 70000"#), "larger than 4095"),
        (argumentJSON(#"{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}"#), "args[0].index: 6 is larger than 5"),
        (argumentJSON(#"{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}"#), "-1 is not an integer"),
        (argumentJSON(#"{"index": 0, "value": 1.5, "op": "SCMP_CMP_EQ"}"#), "1.5 is not an integer"),
        (argumentJSON(#"{"index": 0, "value": 18446744073709551616, "op": "SCMP_CMP_EQ"}"#), "is not an integer"),
        (argumentJSON(#"{"index": 0, "value": "1", "op": "SCMP_CMP_EQ"}"#), "expected a non-negative integer"),
        (argumentJSON(#"{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}"#), #""SCMP_CMP_EQUAL" is not an operator"#),
        (argumentJSON(#"{"index": 0, "op": "SCMP_CMP_EQ"}"#), "args[0].value: missing"),
        (
            argumentJSON(
                #"{"index": 1, "value": 1, "op": "SCMP_CMP_GT"}, {"index": 1, "value": 9, "op": "SCMP_CMP_LT"}"#),
            "argument 1 is compared twice"
        ),
        (top(#""architectures": ["SCMP_ARCH_Z80"]"#), "not an architecture"),
        (
            top(#""architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]"#),
            #"both "architectures" and "archMap""#
        ),
        (top(#""flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]"#), "not a filter flag"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO",}"#, "1:36: not valid JSON"),
        (#"{"defaultAction": "SCMP_ACT_ERRNO"} x"#, "after the end of the document"),
        (rule(#""action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "five"}"#), "not a kernel version"),
    ]

    @Test(arguments: invalid)
    func malformedProfilesAreRefusedWithASentence(document: String, expected: String) {
        let error = #expect(throws: SeccompError.self) {
            try SeccompProfile(json: Array(document.utf8), source: "<bad>")
        }
        #expect(error?.code == .profileInvalid)
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.hasPrefix("<bad>:") == true)
    }

    @Test func anUnreadableFileIsRefused() throws {
        let error = try #require(throws: SeccompError.self) {
            try SeccompProfile.load(contentsOf: "/nonexistent/sentinel-seccomp.json")
        }
        #expect(error.code == .profileUnreadable)
        #expect(error.errno == ENOENT)
        #expect(error.description.contains("/nonexistent/sentinel-seccomp.json"))
    }

    @Test func writeIsAtomicAndReadable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "seccomp-write-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("p.json").path
        let profile = try SeccompProfile.load(contentsOf: SeccompFixtures.strictPath)
        try profile.write(to: path)
        #expect(try SeccompProfile.load(contentsOf: path) == profile)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["p.json"])
    }
}

@Suite("Built-in seccomp profiles")
struct BuiltinSeccompProfileTests {
    /// The copies compiled into the binary (used when ./seccomp is not at hand) must be the
    /// shipped files byte for byte.
    @Test(arguments: [("strict", SeccompFixtures.strictPath), ("datasci", SeccompFixtures.datasciPath)])
    func builtinEqualsTheShippedFile(name: String, path: String) throws {
        let file = try String(contentsOfFile: path, encoding: .utf8)
        #expect(BuiltinSeccompProfiles.text(named: name) == file, "update BuiltinSeccompProfiles.swift from \(path)")
    }

    /// Strings are read in one piece when they hold no escape, and scalar by scalar otherwise;
    /// both readings must give the text, and bad bytes must be refused with a position.
    @Test(arguments: [
        (#"read"#, "read"),
        (#"a\"b\\c\/d\n\t"#, "a\"b\\c/d\n\t"),
        (#"caf\u00e9 \ud83d\ude00"#, "café 😀"),
        ("café 😀", "café 😀"),
        (#"plain then \u0041"#, "plain then A"),
        ("", ""),
    ])
    func stringsAreReadExactly(source: String, expected: String) throws {
        let document = #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": ""# + source + #""}]}"#
        let profile = try SeccompProfile(json: Array(document.utf8), source: "<test>")
        #expect(profile.syscalls.first?.comment == expected)
    }

    @Test(arguments: [
        ([0xC3, 0x28], "not valid UTF-8"),
        ([0xFF], "not valid UTF-8"),
        ([0x61, 0x0A], "a control character"),
    ] as [([UInt8], String)])
    func badStringBytesAreRefused(bytes: [UInt8], expected: String) {
        let document = Array(#"{"defaultAction": "SCMP_ACT_ERRNO", "x": ""#.utf8) + bytes + Array(#""}"#.utf8)
        let error = #expect(throws: SeccompError.self) { try SeccompProfile(json: document, source: "<bad>") }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "no error")")
        #expect(error?.description.hasPrefix("<bad>:1:") == true, "\(error?.description ?? "no error")")
    }

    @Test func unknownNamesHaveNoProfile() {
        #expect(BuiltinSeccompProfiles.text(named: "custom") == nil)
    }
}
