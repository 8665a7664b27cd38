// The shipped profiles' rules against set-id files, through the compiler and the test BPF
// interpreter, on both architectures: every call that sets a mode is refused (EPERM) when the mode
// has S_ISUID or S_ISGID, open/openat only when they create, openat2 always (ENOSYS), and nothing
// else in the profiles lets such a mode through. SetIDEscapeTests runs the same calls for real.

import SentinelSandbox
import Testing

/// One call and whether the profile must let it through.
struct ModeCase: CustomTestStringConvertible, Sendable {
    var call: String
    var arguments: [UInt64]
    var allowed: Bool

    var testDescription: String {
        "\(call)(\(arguments.map { "0o" + String($0, radix: 8) }.joined(separator: ", "))) \(allowed ? "allowed" : "refused")"
    }
}

@Suite struct SeccompSetIDModeTests {
    /// The calls that take a mode, with the index of the mode argument.
    static let modeCalls: [(String, Int)] = [
        ("chmod", 1), ("fchmod", 1), ("fchmodat", 2), ("fchmodat2", 2), ("creat", 1), ("mkdir", 1), ("mkdirat", 2),
        ("mknod", 1), ("mknodat", 2),
    ]

    /// Modes, and whether they may pass: only the two set-id bits matter, wherever else bits are
    /// (the kernel reads a 16-bit `umode_t`, so bits above are ignored by it and by the rule).
    static let modes: [(UInt64, Bool)] = [
        (0o644, true), (0o755, true), (0o777, true), (0o1777, true), (0o100644, true), (0xFFFF_FFFF_0000_0000 | 0o755, true),
        (0o4755, false), (0o2755, false), (0o6755, false), (0o7777, false), (0o104755, false), (0o4000, false),
        (0o2000, false), (0x1_0000_0000 | 0o4755, false), (0xFFFF_FFFF_FFFF_FFFF, false),
    ]

    static let oCreat: UInt64 = 0o100
    static let oTmpfile: UInt64 = 0o20_000_000 | 0o200_000  // __O_TMPFILE | O_DIRECTORY (x86-64)
    static let oDirectory: UInt64 = 0o200_000

    static let cases: [ModeCase] = {
        var cases: [ModeCase] = []
        for (call, index) in modeCalls {
            for (mode, allowed) in modes {
                var arguments: [UInt64] = Array(repeating: 0, count: index + 1)
                arguments[index] = mode
                cases.append(ModeCase(call: call, arguments: arguments, allowed: allowed))
            }
        }
        // open(path, flags, mode) and openat(dirfd, path, flags, mode): the mode counts only when
        // the call creates (O_CREAT or __O_TMPFILE); a plain open passes whatever the register holds.
        let opens: [(UInt64, UInt64, Bool)] = [
            (0, 0, true), (0, 0o6755, true), (0, 0xFFFF_FFFF_FFFF_FFFF, true), (oDirectory, 0o4755, true),
            (0o2 | 0o1000, 0o4755, true),  // O_RDWR|O_TRUNC, no O_CREAT
            (0xFFFF_FFFF_0000_0000, 0o4755, true),  // flags above bit 31 are not flags: the kernel reads an int
            (oCreat | 0o1, 0o644, true), (oCreat | 0o1, 0o1777, true), (oCreat | 0o200 | 0o1, 0o600, true),
            (oTmpfile | 0o2, 0o600, true),
            (oCreat | 0o1, 0o4755, false), (oCreat | 0o1, 0o2644, false), (oCreat | 0o200 | 0o1, 0o6755, false),
            (oCreat | 0o1, 0xFFFF_FFFF_FFFF_FFFF, false), (0x1_0000_0000 | oCreat | 0o1, 0o4755, false),
            (oTmpfile | 0o2, 0o4700, false), (oTmpfile | 0o2, 0o2700, false), (0o20_000_000, 0o6755, false),
        ]
        for (flags, mode, allowed) in opens {
            cases.append(ModeCase(call: "open", arguments: [0, flags, mode], allowed: allowed))
            cases.append(ModeCase(call: "openat", arguments: [0, 0, flags, mode], allowed: allowed))
        }
        return cases
    }()

    @Test(arguments: SeccompFixtures.shippedProfiles, cases)
    func setIDModesAreRefusedOnX86_64(profile: String, mode: ModeCase) throws {
        try check(profile, .x86_64, mode)
    }

    /// aarch64 has only the *at forms (no open, creat, chmod, mkdir, mknod), with the same O_CREAT
    /// and __O_TMPFILE values (asm-generic/fcntl.h; arm64 redefines only O_DIRECTORY,
    /// O_NOFOLLOW, O_DIRECT and O_LARGEFILE).
    @Test(arguments: SeccompFixtures.shippedProfiles, cases.filter { SeccompArchitecture.aarch64.syscalls.number(of: $0.call) != nil })
    func setIDModesAreRefusedOnAarch64(profile: String, mode: ModeCase) throws {
        // O_DIRECTORY is 0o40000 on arm64: the flag combinations above use the x86-64 value,
        // which on arm64 is O_DIRECT, equally irrelevant to the rule.
        try check(profile, .aarch64, mode)
    }

    func check(_ profile: String, _ architecture: SeccompArchitecture, _ mode: ModeCase) throws {
        let (rules, program, _) = try SeccompFixtures.compile(profile, for: architecture)
        let verdict = try SeccompFixtures.verdict(program, architecture, mode.call, mode.arguments)
        #expect(verdict == (mode.allowed ? KernelReturn.allow : KernelReturn.errno(1)))
        guard !mode.allowed else { return }
        // Refused by an explicit rule, so that log mode says why and --seccomp-suggest never
        // re-allows the call.
        let number = try #require(architecture.syscalls.number(of: mode.call))
        let decision = rules.decide(SeccompData(number: number, architecture: architecture.auditArchitecture, arguments: mode.arguments))
        guard case .rule(let rule) = decision.source else {
            Issue.record("refused only by the default action")
            return
        }
        #expect(rule.origin?.contains("set-id file") == true, "\(rule.origin ?? "")")
    }

    /// openat2 carries its mode in memory: refused outright, with ENOSYS so that programs fall
    /// back to openat.
    @Test(arguments: SeccompFixtures.shippedProfiles, SeccompArchitecture.allCases)
    func openat2FailsWithENOSYS(profile: String, architecture: SeccompArchitecture) throws {
        let program = try SeccompFixtures.compile(profile, for: architecture).program
        #expect(try SeccompFixtures.verdict(program, architecture, "openat2", [0, 0, 0, 24]) == KernelReturn.errno(38))
    }

    /// No rule allows a mode-taking call without conditions, in any group (a name listed again in
    /// an unconditional allow would override the argument rules, in libseccomp as in Sentinel),
    /// and io_uring, whose OPENAT and MKDIRAT operations carry modes, stays refused.
    @Test(arguments: SeccompFixtures.shippedProfiles)
    func nothingElseLetsAModeThrough(profile: String) throws {
        let loaded = try SeccompProfile.load(contentsOf: profile)
        let modeNames = Set(Self.modeCalls.map(\.0) + ["open", "openat", "openat2"])
        for (index, rule) in loaded.syscalls.enumerated() where rule.action == .allow && rule.args.isEmpty {
            #expect(modeNames.isDisjoint(with: rule.names), "syscalls[\(index)] allows \(modeNames.intersection(rule.names)) unconditionally")
        }
        for architecture in SeccompArchitecture.allCases {
            let program = try SeccompFixtures.compile(profile, for: architecture).program
            for call in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
                #expect(try SeccompFixtures.verdict(program, architecture, call) == KernelReturn.errno(1), "\(call) on \(architecture)")
            }
        }
    }
}
