// The compiler's output, run through the test BPF interpreter: the shipped profiles' tables,
// argument comparisons on both 32-bit halves, the architecture checks, far jumps and the
// instruction limit, and a differential test against the rule set's own `decide`.

import SentinelSandbox
import Testing

@Suite struct SeccompShippedProfileTableTests {
    /// Every call the strict profile must refuse, with the errno it must refuse it with.
    static let deniedCalls: [(String, UInt32)] = [
        ("unshare", 1), ("setns", 1), ("mount", 1), ("umount2", 1), ("pivot_root", 1), ("move_mount", 1),
        ("open_tree", 1), ("open_tree_attr", 1), ("fsopen", 1), ("fsconfig", 1), ("fsmount", 1), ("fspick", 1),
        ("mount_setattr", 1), ("chroot", 1), ("process_vm_writev", 1), ("process_madvise", 1),
        ("kcmp", 1), ("bpf", 1), ("perf_event_open", 1), ("keyctl", 1), ("add_key", 1),
        ("request_key", 1), ("kexec_load", 1), ("kexec_file_load", 1), ("init_module", 1), ("finit_module", 1),
        ("delete_module", 1), ("io_uring_setup", 1), ("io_uring_enter", 1), ("io_uring_register", 1),
        ("userfaultfd", 1), ("reboot", 1), ("swapon", 1), ("swapoff", 1), ("open_by_handle_at", 1), ("acct", 1),
        ("settimeofday", 1), ("clock_settime", 1), ("sethostname", 1), ("setdomainname", 1), ("syslog", 1),
        ("quotactl", 1), ("fanotify_init", 1), ("lookup_dcookie", 1), ("modify_ldt", 1), ("iopl", 1),
        ("ioperm", 1), ("uselib", 1), ("_sysctl", 1), ("vhangup", 1), ("lsm_set_self_attr", 1),
        ("clone3", 38),
    ]

    /// Calls every dynamically linked program needs, and the ones the original profiles forgot.
    static let allowedCalls = [
        "read", "write", "openat", "close", "mmap", "mprotect", "munmap", "brk", "execve", "exit_group", "futex",
        "arch_prctl", "rseq", "rt_sigsuspend", "restart_syscall", "set_robust_list", "set_tid_address",
        "prlimit64", "getrandom", "newfstatat", "statx", "pipe2", "wait4", "clock_nanosleep", "sysinfo",
        "fadvise64", "getgroups", "execveat", "inotify_init1", "timerfd_create", "getxattr", "sendmsg", "recvmsg",
        "socketpair", "connect", "epoll_wait", "epoll_pwait", "vfork", "fork", "getdents64", "madvise", "prctl",
        "sched_getaffinity", "seccomp", "landlock_restrict_self",
        // `sentinel guard` inside the container reads its command's arguments with these.
        "process_vm_readv", "pidfd_getfd",
    ]

    static let datasciOnly = [
        "mbind", "set_mempolicy", "migrate_pages", "move_pages", "membarrier", "sched_setaffinity", "mlock2",
    ]

    @Test(arguments: SeccompFixtures.shippedProfiles, deniedCalls)
    func deniedWithTheRightErrno(profile: String, call: (String, UInt32)) throws {
        let (rules, program, _) = try SeccompFixtures.compile(profile)
        let verdict = try SeccompFixtures.verdict(program, .x86_64, call.0)
        #expect(verdict == KernelReturn.errno(call.1), "\(call.0)")
        // An explicit rule, not the default, denies it: log mode must be able to say why.
        let number = try #require(SeccompArchitecture.x86_64.syscalls.number(of: call.0))
        let decision = rules.decide(SeccompData(number: number, architecture: AuditArch.x86_64))
        guard case .rule(let rule) = decision.source else {
            Issue.record("\(call.0) is denied only by the default action")
            return
        }
        #expect(rule.origin?.hasPrefix("syscalls[") == true)
    }

    /// ptrace: only `sentinel guard`'s tracer requests pass (seize, continue, listen, event
    /// message, detach, interrupt, set options); reading or writing memory, registers or
    /// attaching the old way gets the default EPERM, whatever the register's other bits.
    @Test(arguments: SeccompFixtures.shippedProfiles)
    func ptraceOnlyForTheTracer(profile: String) throws {
        let program = try SeccompFixtures.compile(profile, for: .x86_64).program
        let arm = try SeccompFixtures.compile(profile, for: .aarch64).program
        for request: UInt64 in [0x4206, 7, 0x4208, 0x4201, 17, 0x4207, 0x4200] {
            #expect(try SeccompFixtures.verdict(program, .x86_64, "ptrace", [request, 1]) == KernelReturn.allow, "request \(request)")
            #expect(try SeccompFixtures.verdict(arm, .aarch64, "ptrace", [request, 1]) == KernelReturn.allow, "request \(request)")
        }
        for request: UInt64 in [0, 1, 2, 4, 5, 6, 12, 13, 16, 0x4204, 0x420c, 0x1_0000_4206, 0xFFFF_FFFF_0000_0007] {
            #expect(try SeccompFixtures.verdict(program, .x86_64, "ptrace", [request, 1]) == KernelReturn.errno(1), "request \(request)")
        }
    }

    @Test(arguments: SeccompFixtures.shippedProfiles, allowedCalls)
    func allowed(profile: String, name: String) throws {
        let program = try SeccompFixtures.compile(profile).program
        #expect(try SeccompFixtures.verdict(program, .x86_64, name) == KernelReturn.allow, "\(name)")
    }

    @Test(arguments: datasciOnly)
    func datasciAllowsNumericTuningStrictDoesNot(name: String) throws {
        let strict = try SeccompFixtures.compile(SeccompFixtures.strictPath).program
        let datasci = try SeccompFixtures.compile(SeccompFixtures.datasciPath).program
        #expect(try SeccompFixtures.verdict(strict, .x86_64, name) == KernelReturn.errno(1))
        #expect(try SeccompFixtures.verdict(datasci, .x86_64, name) == KernelReturn.allow)
    }

    @Test func datasciKeepsEveryDenyOfStrict() throws {
        let strict = try SeccompProfile.load(contentsOf: SeccompFixtures.strictPath)
        let datasci = try SeccompProfile.load(contentsOf: SeccompFixtures.datasciPath)
        let strictDenies = strict.syscalls.filter { $0.action != .allow }
        let datasciDenies = datasci.syscalls.filter { $0.action != .allow }
        #expect(strictDenies == datasciDenies)
        #expect(strict.defaultAction == datasci.defaultAction && strict.defaultErrnoRet == datasci.defaultErrnoRet)
        let strictAllowed = Set(strict.syscalls.filter { $0.action == .allow && $0.args.isEmpty }.flatMap(\.names))
        let datasciAllowed = Set(datasci.syscalls.filter { $0.action == .allow && $0.args.isEmpty }.flatMap(\.names))
        #expect(strictAllowed.isSubset(of: datasciAllowed))
    }

    /// (flags, allowed): threads and fork pass; any CLONE_NEW* flag is refused, whatever else is set.
    static let cloneCases: [(UInt64, Bool)] = [
        (0x003D_0F00, true),  // pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
        (0x0120_0011, true),  // fork: CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
        (0x0000_4111, true),  // vfork via clone: VM|VFORK|SIGCHLD
        (0x1_0000_0011, true),  // bits above 32 are ignored by clone(2)
        (0x1000_0011, false),  // CLONE_NEWUSER|SIGCHLD
        (0x0002_0000, false),  // CLONE_NEWNS
        (0x0200_0000, false),  // CLONE_NEWCGROUP
        (0x0400_0000, false),  // CLONE_NEWUTS
        (0x0800_0000, false),  // CLONE_NEWIPC
        (0x2000_0000, false),  // CLONE_NEWPID
        (0x4000_0000, false),  // CLONE_NEWNET
        (0x7E02_0000, false),  // all of them
        (0xFFFF_FFFF_1000_0011, false),  // NEWUSER with the high half set
        (0x003D_0F00 | 0x1000_0000, false),  // a thread in a new user namespace
    ]

    @Test(arguments: SeccompFixtures.shippedProfiles, cloneCases)
    func cloneNamespaceFlags(profile: String, clone: (UInt64, Bool)) throws {
        let program = try SeccompFixtures.compile(profile).program
        let verdict = try SeccompFixtures.verdict(program, .x86_64, "clone", [clone.0])
        #expect(
            verdict == (clone.1 ? KernelReturn.allow : KernelReturn.errno(1)), "flags 0x\(String(clone.0, radix: 16))")
    }

    /// (domain, type, protocol, allowed)
    static let socketCases: [(UInt64, UInt64, UInt64, Bool)] = [
        (1, 1, 0, true),  // AF_UNIX
        (2, 1, 0, true),  // AF_INET
        (10, 2, 0, true),  // AF_INET6
        (16, 3, 0, true),  // AF_NETLINK, NETLINK_ROUTE
        (16, 3, 9, false),  // AF_NETLINK, NETLINK_AUDIT
        (16, 3, 12, false),  // AF_NETLINK, NETLINK_NETFILTER
        (16, 3, 15, false),  // AF_NETLINK, NETLINK_KOBJECT_UEVENT
        (40, 1, 0, false),  // AF_VSOCK
        (38, 5, 0, false),  // AF_ALG
        (17, 3, 0, false),  // AF_PACKET
        (31, 1, 0, false),  // AF_BLUETOOTH
        (0x1_0000_0002, 1, 0, false),  // AF_INET with garbage above bit 31: refused, not misread
        (0x1_0000_0028, 1, 0, false),  // AF_VSOCK with garbage above bit 31
    ]

    @Test(arguments: SeccompFixtures.shippedProfiles, socketCases)
    func socketFamilies(profile: String, socket: (UInt64, UInt64, UInt64, Bool)) throws {
        let program = try SeccompFixtures.compile(profile).program
        let verdict = try SeccompFixtures.verdict(program, .x86_64, "socket", [socket.0, socket.1, socket.2])
        #expect(verdict == (socket.3 ? KernelReturn.allow : KernelReturn.errno(1)), "socket(\(socket.0), \(socket.2))")
    }

    /// (request, allowed): the kernel reads the request as 32 bits, so the high half must not matter.
    static let ioctlCases: [(UInt64, Bool)] = [
        (0x5412, false),  // TIOCSTI
        (0x541C, false),  // TIOCLINUX
        (0xFFFF_FFFF_0000_5412, false),  // TIOCSTI with the high half set (CVE-2019-10063 style)
        (0x1_0000_541C, false),
        (0x5401, true),  // TCGETS
        (0x5413, true),  // TIOCGWINSZ
        (0x5421, true),  // FIONBIO
        (0x540F, true),  // TIOCGPGRP
        (0x5410, true),  // TIOCSPGRP, equal to TIOCSTI on every bit but the three where the two differ
        (0x541B, true),  // FIONREAD
        (0x4004_9409, true),  // FICLONE
        (0xFFFF_FFFF_8004_5430, true),  // TIOCGPTN sign-extended, as musl passes it
    ]

    @Test(arguments: SeccompFixtures.shippedProfiles, ioctlCases)
    func ioctlTerminalInjection(profile: String, ioctl: (UInt64, Bool)) throws {
        let program = try SeccompFixtures.compile(profile).program
        let verdict = try SeccompFixtures.verdict(program, .x86_64, "ioctl", [0, ioctl.0])
        #expect(verdict == (ioctl.1 ? KernelReturn.allow : KernelReturn.errno(1)), "0x\(String(ioctl.0, radix: 16))")
    }

    /// Every request whose low 16 bits vary, with high halves and bits 16-31 in several patterns:
    /// only TIOCSTI and TIOCLINUX are refused.
    @Test func ioctlCoverIsExactOverSixteenBits() throws {
        let program = try SeccompFixtures.compile(SeccompFixtures.strictPath).program
        let ioctl = try #require(SeccompArchitecture.x86_64.syscalls.number(of: "ioctl"))
        var wrong: [UInt64] = []
        for upper: UInt64 in [0, 0x4004_0000, 0x8000_0000, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_8000_0000] {
            for low: UInt64 in 0...0xFFFF {
                let request = upper | low
                let data = SeccompData(number: ioctl, architecture: AuditArch.x86_64, arguments: [3, request])
                let verdict = try BPFInterpreter.run(program.instructions, on: data).value
                let refused = upper & 0xFFFF_0000 == 0 && (low == 0x5412 || low == 0x541C)
                if verdict != (refused ? KernelReturn.errno(1) : KernelReturn.allow) { wrong.append(request) }
            }
        }
        #expect(wrong.isEmpty, "wrong verdicts for \(wrong.prefix(10).map { String($0, radix: 16) })")
    }

    @Test(arguments: [
        (UInt64(0), true), (8, true), (0x20000, true), (0x20008, true), (0xFFFF_FFFF, true),
        (0x0040000, false), (0x0400000, false), (1, false),
    ])
    func personality(value: UInt64, allowed: Bool) throws {
        let program = try SeccompFixtures.compile(SeccompFixtures.strictPath).program
        let verdict = try SeccompFixtures.verdict(program, .x86_64, "personality", [value])
        #expect(verdict == (allowed ? KernelReturn.allow : KernelReturn.errno(1)))
    }

    @Test func foreignArchitecturesAndX32AreKilled() throws {
        let program = try SeccompFixtures.compile(SeccompFixtures.strictPath).program.instructions
        // i386 `write` (4), arm's, aarch64's numbers on an x86-64 filter.
        for arch in [AuditArch.i386, AuditArch.arm, AuditArch.aarch64, 0] {
            let data = SeccompData(number: 4, architecture: arch)
            #expect(try BPFInterpreter.run(program, on: data).value == KernelReturn.killProcess)
        }
        // x32: AUDIT_ARCH_X86_64 with bit 30 set, for an x32 `read` and an x32 `ptrace` (521).
        for number: UInt32 in [0x4000_0000, 0x4000_0000 + 521, 0xFFFF_FFFF] {
            let data = SeccompData(number: number, architecture: AuditArch.x86_64)
            #expect(try BPFInterpreter.run(program, on: data).value == KernelReturn.killProcess)
        }
        // A number no table names (past the last call) gets the default.
        let unnamed = SeccompData(number: 1000, architecture: AuditArch.x86_64)
        #expect(try BPFInterpreter.run(program, on: unnamed).value == KernelReturn.errno(1))
    }

    @Test(arguments: SeccompFixtures.shippedProfiles, SeccompArchitecture.allCases)
    func compilesWithoutWarningsAndPassesTheKernelChecks(profile: String, architecture: SeccompArchitecture) throws {
        let (_, program, warnings) = try SeccompFixtures.compile(profile, for: architecture)
        #expect(warnings.isEmpty, "\(warnings)")
        try BPFInterpreter.validate(program.instructions)
        #expect(program.count < SeccompProgram.maximumLength)
    }

    /// The number dispatch is a balanced search: a call without argument rules reaches its verdict
    /// after the 5 prologue instructions and at most ~log2(ranges) comparisons, whatever its
    /// number, where a linear chain (libseccomp's default layout) needs one comparison per call
    /// named before it.
    @Test(arguments: SeccompFixtures.shippedProfiles)
    func dispatchIsABalancedTree(profile: String) throws {
        let (rules, tree, _) = try SeccompFixtures.compile(profile)
        let linear = try SeccompCompiler.program(for: rules, dispatch: .linear)
        var treeTotal = 0
        var linearTotal = 0
        for number: UInt32 in 0..<512 where rules.comparedArguments(ofSyscall: number).isEmpty {
            let data = SeccompData(number: number, architecture: AuditArch.x86_64)
            let executed = try BPFInterpreter.run(tree.instructions, on: data).executed
            #expect(executed <= 16, "syscall \(number) takes \(executed) instructions")
            treeTotal += executed
            linearTotal += try BPFInterpreter.run(linear.instructions, on: data).executed
        }
        #expect(treeTotal * 5 < linearTotal)
        #expect(tree.count < linear.count)
    }

    @Test func aarch64Table() throws {
        let (_, program, _) = try SeccompFixtures.compile(SeccompFixtures.strictPath, for: .aarch64)
        let table = SeccompArchitecture.aarch64.syscalls
        // Numbers from the kernel's asm-generic table, written out independently of the generator.
        #expect(table.number(of: "read") == 63 && table.number(of: "openat") == 56)
        #expect(table.number(of: "clone") == 220 && table.number(of: "clone3") == 435)
        #expect(table.number(of: "socket") == 198 && table.number(of: "ioctl") == 29)
        #expect(table.number(of: "open") == nil && table.number(of: "arch_prctl") == nil)
        #expect(try SeccompFixtures.verdict(program, .aarch64, "read") == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(program, .aarch64, "ptrace", [2]) == KernelReturn.errno(1))
        #expect(try SeccompFixtures.verdict(program, .aarch64, "clone", [0x1000_0011]) == KernelReturn.errno(1))
        #expect(try SeccompFixtures.verdict(program, .aarch64, "socket", [40, 1, 0]) == KernelReturn.errno(1))
        let x86Call = SeccompData(number: 63, architecture: AuditArch.x86_64)
        #expect(try BPFInterpreter.run(program.instructions, on: x86Call).value == KernelReturn.killProcess)
        // No x32-style check on aarch64: a high number just gets the default.
        let high = SeccompData(number: 0x4000_0000, architecture: AuditArch.aarch64)
        #expect(try BPFInterpreter.run(program.instructions, on: high).value == KernelReturn.errno(1))
    }

    @Test func x86_64TableMatchesKnownNumbers() {
        let table = SeccompArchitecture.x86_64.syscalls
        #expect(table.number(of: "read") == 0 && table.number(of: "write") == 1)
        #expect(table.number(of: "arch_prctl") == 158 && table.number(of: "clone3") == 435)
        #expect(table.number(of: "sendmsg") == 46 && table.number(of: "rseq") == 334)
        // Newer than the headers on the build machine: appended by the generator.
        #expect(table.number(of: "mseal") == 462 && table.number(of: "file_setattr") == 469)
        #expect(table.name(of: 59) == "execve")
    }
}

@Suite struct SeccompArgumentComparisonTests {
    /// Edge values that differ in one half, the other, or both.
    static let edges: [UInt64] = [
        0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001, 0x1_FFFF_FFFF,
        0x2_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_FFFF_FFFE,
        .max,
    ]

    static let operators: [SeccompProfile.Operator] = SeccompProfile.Operator.allCases

    /// For each operator and each (value, argument) pair of edge values, the compiled program
    /// decides as 64-bit unsigned arithmetic does.
    @Test(arguments: operators)
    func bothHalvesAreCompared(op: SeccompProfile.Operator) throws {
        var failures: [String] = []
        for value in Self.edges {
            let mask: UInt64 = 0xFFFF_0000_FFFF_0000
            let json = """
                {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 3, "value": \(op == .maskedEqual ? mask : value), "valueTwo": \(value),
                           "op": "\(op.rawValue)"}]}]}
                """
            let program = try SeccompFixtures.compile(json: json).program
            for argument in Self.edges + Self.edges.map({ $0 ^ 0x0000_0001_0000_0000 }) {
                let expected: Bool
                switch op {
                case .equal: expected = argument == value
                case .notEqual: expected = argument != value
                case .lessThan: expected = argument < value
                case .lessOrEqual: expected = argument <= value
                case .greaterThan: expected = argument > value
                case .greaterOrEqual: expected = argument >= value
                case .maskedEqual: expected = argument & mask == value & mask
                }
                let verdict = try SeccompFixtures.verdict(program, .x86_64, "getpid", [0, 0, 0, argument])
                if verdict != (expected ? KernelReturn.allow : KernelReturn.errno(1)) {
                    failures.append("arg 0x\(String(argument, radix: 16)) vs 0x\(String(value, radix: 16))")
                }
            }
        }
        #expect(failures.isEmpty, "\(op.rawValue): \(failures.prefix(8))")
    }

    @Test func conditionsOfOneRuleAllMustHoldAndRulesAreAlternatives() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13, "syscalls": [
             {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "args": [
               {"index": 0, "value": 5, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]},
             {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3, "args": [
               {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}]}
            """
        let program = try SeccompFixtures.compile(json: json).program
        #expect(try SeccompFixtures.verdict(program, .x86_64, "kill", [5, 15]) == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "kill", [5, 9]) == KernelReturn.errno(3))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "kill", [6, 15]) == KernelReturn.errno(13))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "getpid") == KernelReturn.errno(13))
    }
}

@Suite struct SeccompCompilerBehaviourTests {
    @Test func actionsCompileToTheirKernelValues() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
             {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
             {"names": ["write"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5},
             {"names": ["open"], "action": "SCMP_ACT_ERRNO"},
             {"names": ["close"], "action": "SCMP_ACT_KILL"},
             {"names": ["stat"], "action": "SCMP_ACT_KILL_THREAD"},
             {"names": ["fstat"], "action": "SCMP_ACT_TRAP"},
             {"names": ["lstat"], "action": "SCMP_ACT_LOG"},
             {"names": ["poll"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
             {"names": ["lseek"], "action": "SCMP_ACT_NOTIFY"}]}
            """
        let (_, program, warnings) = try SeccompFixtures.compile(json: json)
        let expected: [(String, UInt32)] = [
            ("read", KernelReturn.allow), ("write", KernelReturn.errno(5)), ("open", KernelReturn.errno(1)),
            ("close", KernelReturn.killThread), ("stat", KernelReturn.killThread), ("fstat", KernelReturn.trap),
            ("lstat", KernelReturn.log), ("poll", KernelReturn.errno(7)), ("lseek", KernelReturn.userNotif),
            ("mmap", KernelReturn.killProcess),
        ]
        for (name, value) in expected {
            #expect(try SeccompFixtures.verdict(program, .x86_64, name) == value, "\(name)")
        }
        #expect(warnings.map(\.kind) == [.traceAsErrno])
    }

    @Test func unknownNamesAreSkippedWithAWarning() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
             {"names": ["read", "no_such_call", "arch_prctl"], "action": "SCMP_ACT_ALLOW"}]}
            """
        let x86 = try SeccompFixtures.compile(json: json, for: .x86_64)
        #expect(x86.warnings.map(\.syscall) == ["no_such_call"])
        #expect(try SeccompFixtures.verdict(x86.program, .x86_64, "read") == KernelReturn.allow)
        let arm = try SeccompFixtures.compile(json: json, for: .aarch64)
        #expect(Set(arm.warnings.compactMap(\.syscall)) == ["no_such_call", "arch_prctl"])
        #expect(arm.warnings.allSatisfy { $0.kind == .unknownSyscall })
    }

    @Test func anUnconditionalRuleOverridesConditionalOnesAsInLibseccomp() throws {
        // The mistake the shipped ioctl rules avoid: Docker would drop the TIOCSTI rule here.
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
             {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW"},
             {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
              "args": [{"index": 1, "value": 21522, "op": "SCMP_CMP_EQ"}]}]}
            """
        let (_, program, warnings) = try SeccompFixtures.compile(json: json)
        #expect(warnings.map(\.kind) == [.ruleShadowed])
        #expect(try SeccompFixtures.verdict(program, .x86_64, "ioctl", [0, 0x5412]) == KernelReturn.allow)
    }

    @Test func includesAndExcludesFollowDocker() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
             {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
             {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
             {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
             {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
             {"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}}]}
            """
        let (_, program, _) = try SeccompFixtures.compile(json: json)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "mount") == KernelReturn.errno(1))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "arch_prctl") == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "ptrace") == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "bpf") == KernelReturn.errno(1))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "clone3") == KernelReturn.errno(38))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "read") == KernelReturn.errno(1))

        var admin = try SeccompFixtures.options(.x86_64)
        admin.capabilities = ["CAP_SYS_ADMIN"]
        let profile = try SeccompProfile(json: Array(json.utf8), source: "<test>")
        let rules = try SeccompCompiler.ruleSet(for: profile, options: admin).rules
        let adminProgram = try SeccompCompiler.program(for: rules)
        #expect(try SeccompFixtures.verdict(adminProgram, .x86_64, "mount") == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(adminProgram, .x86_64, "clone3") == KernelReturn.errno(1))
    }

    @Test func aProfileForAnotherArchitectureIsRefused() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_AARCH64"], "syscalls": []}
            """
        let error = try #require(throws: SeccompError.self) { try SeccompFixtures.compile(json: json, for: .x86_64) }
        #expect(error.code == .architectureUnsupported)
        #expect(error.description.contains("SCMP_ARCH_X86_64"))
        let listedI386 = """
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]}
            """
        #expect(try SeccompFixtures.compile(json: listedI386).warnings.map(\.kind) == [.architectureNotCompiled])
    }

    @Test func programsTravelAsBytes() throws {
        let program = try SeccompFixtures.compile(SeccompFixtures.strictPath).program
        #expect(program.bytes.count == program.count * 8)
        #expect(try SeccompProgram(bytes: program.bytes) == program)
        #expect(throws: SeccompError.self) { try SeccompProgram(bytes: [1, 2, 3]) }
        #expect(throws: SeccompError.self) { try SeccompProgram([]) }
        let tooLong = [SeccompInstruction](repeating: SeccompInstruction(code: 6, k: 0), count: 4097)
        #expect(throws: SeccompError.self) { try SeccompProgram(tooLong) }
    }

    @Test func aProfileBeyondTheInstructionLimitIsRefused() throws {
        var rules = SeccompRuleSet(architecture: .x86_64, defaultAction: .errno(1))
        for index in 0..<1000 {
            rules.add(
                SeccompRule(conditions: [SeccompArgumentCondition(index: 0, .greater(UInt64(index)))], action: .allow),
                forSyscall: 0)
        }
        do {
            let program = try SeccompCompiler.program(for: rules)
            Issue.record("a program of \(program.count) instructions was accepted")
        } catch {
            #expect(error.code == .programInvalid)
            #expect(error.description.contains("4096"))
        }
    }

    /// Argument blocks longer than 255 instructions need `ja` trampolines; the program must
    /// still be valid and decide like the rule set.
    @Test func farJumpsAreBridged() throws {
        var rules = SeccompRuleSet(architecture: .x86_64, defaultAction: .errno(1))
        for number: UInt32 in [0, 1, 2, 60, 231] {
            for index in 0..<60 {
                let condition = SeccompArgumentCondition(index: index % 6, .equal(UInt64(index) << 33 | UInt64(number)))
                rules.add(SeccompRule(conditions: [condition], action: .errno(UInt16(index + 2))), forSyscall: number)
            }
        }
        rules.add(SeccompRule(action: .allow), forSyscall: 3)
        let program = try SeccompCompiler.program(for: rules)
        try BPFInterpreter.validate(program.instructions)
        #expect(program.instructions.contains { $0.code == 0x05 }, "no trampoline was needed")
        for number: UInt32 in [0, 1, 2, 3, 60, 231, 500] {
            for index in [0, 1, 31, 59] {
                var arguments = [UInt64](repeating: 0, count: 6)
                arguments[index % 6] = UInt64(index) << 33 | UInt64(number)
                let data = SeccompData(number: number, architecture: AuditArch.x86_64, arguments: arguments)
                #expect(
                    try BPFInterpreter.run(program.instructions, on: data).value
                        == rules.decide(data).action.returnValue)
            }
        }
    }

    @Test func theHandoffExemptionAllowsSendmsgOnTheSocketOnly() throws {
        var rules = SeccompRuleSet(architecture: .x86_64, defaultAction: .notify)
        rules.handoffSocket = 7
        let program = try SeccompCompiler.program(for: rules)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "sendmsg", [7]) == KernelReturn.allow)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "sendmsg", [8]) == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "sendmsg", [0x1_0000_0007]) == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "sendto", [7]) == KernelReturn.userNotif)
    }

    @Test func theBuilderNotifiesOnTheNamedCallsAndAllowsTheRest() throws {
        let builder = try SeccompFilterBuilder.notifying(
            on: ["execve", "connect", "openat", "open"], architecture: .aarch64)
        #expect(builder.warnings.map(\.syscall) == ["open"])
        #expect(builder.installFlags == .newListener)
        let program = try builder.program()
        #expect(try SeccompFixtures.verdict(program, .aarch64, "execve") == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .aarch64, "openat") == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .aarch64, "read") == KernelReturn.allow)
    }

    @Test func logModeRelaxesDenialsButNotENOSYSOrTheArchitectureCheck() throws {
        let profile = try SeccompProfile.load(contentsOf: SeccompFixtures.strictPath)
        let plan = try #require(
            try Seccomp.plan(profile: profile, mode: .log, options: SeccompFixtures.options(.x86_64)))
        #expect(plan.behaviour == .logToListener)
        #expect(plan.needsListener)
        let program = plan.program
        #expect(try SeccompFixtures.verdict(program, .x86_64, "ptrace") == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "sched_setaffinity") == KernelReturn.userNotif)
        #expect(try SeccompFixtures.verdict(program, .x86_64, "clone3") == KernelReturn.errno(38))
        #expect(try SeccompFixtures.verdict(program, .x86_64, "read") == KernelReturn.allow)
        let i386 = SeccompData(number: 1, architecture: AuditArch.i386)
        #expect(try BPFInterpreter.run(program.instructions, on: i386).value == KernelReturn.killProcess)
        // The enforce rules stay available to name the rule a call would have hit.
        let ptrace = try #require(SeccompArchitecture.x86_64.syscalls.number(of: "ptrace"))
        #expect(
            plan.enforcedRules.decide(SeccompData(number: ptrace, architecture: AuditArch.x86_64)).action == .errno(1))

        #expect(try Seccomp.plan(profile: profile, mode: .off, options: SeccompFixtures.options(.x86_64)) == nil)
        let enforce = try #require(
            try Seccomp.plan(profile: profile, mode: .enforce, options: SeccompFixtures.options(.x86_64)))
        #expect(!enforce.needsListener && enforce.behaviour == .enforce)
    }
}

@Suite struct SeccompDifferentialTests {
    /// A small deterministic generator (SplitMix64), so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func interesting(_ random: inout SplitMix) -> UInt64 {
        let pool: [UInt64] = [0, 1, 2, 0xFFFF_FFFF, 0x1_0000_0000, 0x8000_0000_0000_0000, .max, 0x5412, 40]
        return random.next() % 3 == 0
            ? pool[Int(random.next() % UInt64(pool.count))] : random.next() >> (random.next() % 64)
    }

    static func randomCondition(_ random: inout SplitMix) -> SeccompArgumentCondition {
        let value = interesting(&random)
        let comparison: SeccompArgumentCondition.Comparison
        switch random.next() % 7 {
        case 0: comparison = .equal(value)
        case 1: comparison = .notEqual(value)
        case 2: comparison = .less(value)
        case 3: comparison = .lessOrEqual(value)
        case 4: comparison = .greater(value)
        case 5: comparison = .greaterOrEqual(value)
        default: comparison = .maskedEqual(mask: interesting(&random), value: value)
        }
        return SeccompArgumentCondition(index: Int(random.next() % 6), comparison)
    }

    /// Random rule sets, random calls: the program (tree and linear dispatch) and `decide`
    /// always agree.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func programAndRuleSetAgree(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        let actions: [SeccompAction] = [.allow, .errno(1), .errno(38), .killProcess, .trap, .log, .notify]
        var rules = SeccompRuleSet(architecture: .x86_64, defaultAction: actions[Int(random.next() % 7)])
        var numbers: [UInt32] = []
        for _ in 0..<40 {
            let number = UInt32(random.next() % 460)
            numbers.append(number)
            let conditions = (0..<Int(random.next() % 4)).map { _ in Self.randomCondition(&random) }
            rules.add(SeccompRule(conditions: conditions, action: actions[Int(random.next() % 7)]), forSyscall: number)
        }
        let tree = try SeccompCompiler.program(for: rules)
        let linear = try SeccompCompiler.program(for: rules, dispatch: .linear)
        try BPFInterpreter.validate(tree.instructions)
        try BPFInterpreter.validate(linear.instructions)
        for _ in 0..<2000 {
            let number = random.next() % 4 == 0 ? UInt32(random.next() % 500) : numbers[Int(random.next() % 40)]
            let arguments = (0..<6).map { _ in Self.interesting(&random) }
            let data = SeccompData(number: number, architecture: AuditArch.x86_64, arguments: arguments)
            let expected = rules.decide(data).action.returnValue
            #expect(try BPFInterpreter.run(tree.instructions, on: data).value == expected)
            #expect(try BPFInterpreter.run(linear.instructions, on: data).value == expected)
        }
    }
}
