/// Compiles a `SeccompProfile` into a `SeccompRuleSet` for one architecture, and a rule set
/// into a classic-BPF `SeccompProgram`.
///
/// The program's layout:
///
/// 1. `seccomp_data.arch` must be this architecture's `AUDIT_ARCH_*`, else kill the process
///    (the numbers of another ABI mean other calls); on x86-64 a number with bit 30 set (x32)
///    is killed too.
/// 2. Optionally, `sendmsg` on the handoff socket is allowed (log mode, see `SeccompHandoff`).
/// 3. A balanced binary search on the system-call number over ranges of numbers that share an
///    outcome (about log2(ranges) comparisons, 8 or 9 for the shipped profiles, whatever the
///    call), ending in a `ret` or in the argument checks of one call.
/// 4. Argument checks compare both 32-bit halves of each 64-bit argument (classic BPF loads 32
///    bits at a time); the first rule whose conditions all hold returns its action, else the
///    default action.
///
/// Conditional jumps reach at most 255 instructions ahead; longer ones go through an
/// unconditional `ja` placed right after the jump. The result must fit the kernel's limit of
/// 4096 instructions, which is checked.
public enum SeccompCompiler {
    /// How a profile is compiled.
    public struct Options: Sendable {
        /// The architecture to compile for.
        public var architecture: SeccompArchitecture
        /// The capabilities the sandboxed process will hold, for Docker's `includes.caps` /
        /// `excludes.caps` (the native sandbox drops them all, hence empty).
        public var capabilities: Set<String>
        /// The kernel version for `includes.minKernel`; nil means the rule is kept only when the
        /// running kernel can be read and is new enough.
        var kernelVersion: KernelVersion?

        /// Options for `architecture` (the running one by default) with no capabilities and the
        /// running kernel's version.
        public init(architecture: SeccompArchitecture? = nil, capabilities: Set<String> = []) throws(SeccompError) {
            guard let resolved = architecture ?? SeccompArchitecture.native else {
                throw SeccompError(
                    .architectureUnsupported,
                    "Sentinel's seccomp compiler supports x86-64 and aarch64 only; this machine is neither, "
                        + "so no filter can be built (use --seccomp-mode off knowingly, or run on a supported machine)."
                )
            }
            self.architecture = resolved
            self.capabilities = capabilities
            self.kernelVersion = KernelVersion.running
        }

        /// Sets the kernel version `includes.minKernel` is compared with (`"6.1"`); for tests
        /// and for compiling on one machine for another.
        public mutating func assumeKernel(_ version: String) throws(SeccompError) {
            guard let parsed = KernelVersion(version) else {
                throw SeccompError(.profileInvalid, "\"\(version)\" is not a kernel version such as \"6.1\".")
            }
            kernelVersion = parsed
        }
    }

    /// How the system-call number is dispatched; `linear` exists only to measure the tree
    /// against the layout libseccomp emits by default.
    package enum Dispatch: Sendable {
        /// Balanced binary search over number ranges.
        case binaryTree
        /// One comparison per system call with rules, in number order.
        case linear
    }

    /// The rules of `profile` for `options.architecture`, and what was skipped or changed.
    public static func ruleSet(
        for profile: SeccompProfile, options: Options
    ) throws(SeccompError)
        -> (rules: SeccompRuleSet, warnings: [SeccompWarning])
    {
        let architecture = options.architecture
        var warnings: [SeccompWarning] = []

        // The profile must be meant for this architecture.
        let listed: [String]
        if !profile.architectures.isEmpty {
            listed = profile.architectures
            let hasNative =
                listed.contains(architecture.profileName)
                || (listed.contains("SCMP_ARCH_NATIVE") && architecture == SeccompArchitecture.native)
            guard hasNative else {
                throw SeccompError(
                    .architectureUnsupported,
                    "The seccomp profile lists the architectures \(listed.joined(separator: ", ")) but not "
                        + "\(architecture.profileName), so it says nothing about this machine's system calls; "
                        + "add \(architecture.profileName) to \"architectures\" if the profile is meant for it.")
            }
        } else if !profile.architectureMap.isEmpty {
            guard let mapping = profile.architectureMap.first(where: { $0.architecture == architecture.profileName })
            else {
                throw SeccompError(
                    .architectureUnsupported,
                    "The seccomp profile's archMap has no entry for \(architecture.profileName); add one if the "
                        + "profile is meant for this machine.")
            }
            listed = [mapping.architecture] + mapping.subArchitectures
        } else {
            listed = [architecture.profileName]  // Docker: the host's architecture only
        }
        for name in listed where architecture.compatibilityProfileNames.contains(name) {
            warnings.append(
                SeccompWarning(
                    .architectureNotCompiled,
                    "The profile lists \(name); Sentinel's filter kills calls made through that ABI instead of "
                        + "translating the profile's names to its numbers."))
        }

        var rules = SeccompRuleSet(
            architecture: architecture, defaultAction: lower(profile.defaultAction, errno: profile.defaultErrnoRet))
        if profile.defaultAction == .trace {
            warnings.append(
                SeccompWarning(.traceAsErrno, "defaultAction SCMP_ACT_TRACE is compiled as SCMP_ACT_ERRNO."))
        }
        if profile.listenerPath != nil || profile.listenerMetadata != nil {
            warnings.append(
                SeccompWarning(
                    .keyIgnored,
                    "listenerPath/listenerMetadata are Docker's; Sentinel hands the listener to its own supervisor."))
        }

        var unknown: Set<String> = []
        for (position, rule) in profile.syscalls.enumerated() {
            guard applies(rule, options: options) else { continue }
            let origin = "syscalls[\(position)]" + (rule.comment.map { ": \($0)" } ?? "")
            if rule.action == .trace {
                warnings.append(
                    SeccompWarning(
                        .traceAsErrno, "syscalls[\(position)]: SCMP_ACT_TRACE is compiled as SCMP_ACT_ERRNO."))
            }
            let compiled = SeccompRule(
                conditions: rule.args.map(SeccompArgumentCondition.init),
                action: lower(rule.action, errno: rule.errnoRet), origin: origin)
            for name in rule.names {
                guard let number = architecture.syscalls.number(of: name) else {
                    if unknown.insert(name).inserted {
                        warnings.append(
                            SeccompWarning(
                                .unknownSyscall, syscall: name,
                                "\(architecture) has no system call named \"\(name)\" (syscalls[\(position)]); "
                                    + "the name is skipped, as Docker does."))
                    }
                    continue
                }
                if let conflict = rules.add(compiled, forSyscall: number) {
                    warnings.append(
                        SeccompWarning(.ruleShadowed, syscall: name, "syscalls[\(position)] \(name): \(conflict)."))
                }
            }
        }
        return (rules, warnings)
    }

    /// Whether Docker would use `rule` for a process with `options.capabilities` on
    /// `options.architecture` and the options' kernel.
    static func applies(_ rule: SeccompProfile.Rule, options: Options) -> Bool {
        if let includes = rule.includes {
            if !includes.caps.allSatisfy(options.capabilities.contains) { return false }
            if !includes.arches.isEmpty && !includes.arches.contains(options.architecture.dockerName) { return false }
            if let text = includes.minKernel {
                guard let minimum = KernelVersion(text), let kernel = options.kernelVersion, kernel >= minimum else {
                    return false
                }
            }
        }
        if let excludes = rule.excludes {
            if excludes.caps.contains(where: options.capabilities.contains) { return false }
            if excludes.arches.contains(options.architecture.dockerName) { return false }
        }
        return true
    }

    /// The filter action of a profile action.
    static func lower(_ action: SeccompProfile.Action, errno: UInt16?) -> SeccompAction {
        switch action {
        case .allow: .allow
        case .errno, .trace: .errno(errno ?? UInt16(EPERM_VALUE))
        case .kill, .killThread: .killThread
        case .killProcess: .killProcess
        case .trap: .trap
        case .log: .log
        case .notify: .notify
        }
    }

    /// Compiles `rules` to a program.
    public static func program(for rules: SeccompRuleSet) throws(SeccompError) -> SeccompProgram {
        try program(for: rules, dispatch: .binaryTree)
    }

    /// Compiles `rules` to a program with the given number dispatch.
    package static func program(for rules: SeccompRuleSet, dispatch: Dispatch) throws(SeccompError) -> SeccompProgram {
        var generator = CodeGenerator(rules: rules)
        generator.emitPrologue()
        switch dispatch {
        case .binaryTree: generator.emitTree()
        case .linear: generator.emitLinear()
        }
        let instructions = generator.assembler.assemble()
        guard instructions.count <= SeccompProgram.maximumLength else {
            throw SeccompError(
                .programInvalid,
                "The seccomp profile compiles to \(instructions.count) BPF instructions, more than the kernel's "
                    + "limit of \(SeccompProgram.maximumLength); it has too many argument rules; merge or drop some.")
        }
        return try SeccompProgram(instructions)
    }
}

// MARK: - Code generation

/// `seccomp_data` offsets (include/uapi/linux/seccomp.h).
private enum DataOffset {
    static let number: UInt32 = 0
    static let architecture: UInt32 = 4
    /// The 32-bit half of argument `index`; little-endian, so the low half comes first.
    static func argument(_ index: Int, high: Bool) -> UInt32 {
        UInt32(16 + 8 * index + (high ? 4 : 0))
    }
}

private struct CodeGenerator {
    let rules: SeccompRuleSet
    var assembler = BPFAssembler()

    init(rules: SeccompRuleSet) {
        self.rules = rules
    }

    /// What one range of system-call numbers leads to.
    enum Outcome: Equatable {
        case action(SeccompAction)
        case argumentChecks(UInt32)
    }

    mutating func emitReturn(_ action: SeccompAction) {
        assembler.append(.statement(SeccompInstruction(code: SeccompInstruction.returnConstant, k: action.returnValue)))
    }

    mutating func emitLoad(_ offset: UInt32) {
        assembler.append(.statement(SeccompInstruction(code: SeccompInstruction.loadWordAbsolute, k: offset)))
    }

    /// Emits a conditional jump; `nil` targets mean "the next instruction".
    mutating func emitJump(_ code: UInt16, _ k: UInt32, ifTrue: Int?, ifFalse: Int?) {
        let next = assembler.newLabel()
        assembler.append(.jump(code: code, k: k, ifTrue: ifTrue ?? next, ifFalse: ifFalse ?? next))
        assembler.append(.label(next))
    }

    mutating func emitPrologue() {
        let architectureMatches = assembler.newLabel()
        emitLoad(DataOffset.architecture)
        emitJump(
            SeccompInstruction.jumpEqual, rules.architecture.auditArchitecture, ifTrue: architectureMatches,
            ifFalse: nil)
        emitReturn(rules.foreignArchitectureAction)
        assembler.append(.label(architectureMatches))
        emitLoad(DataOffset.number)
        if let bit = rules.architecture.x32SyscallBit {
            let native = assembler.newLabel()
            emitJump(SeccompInstruction.jumpGreaterOrEqual, bit, ifTrue: nil, ifFalse: native)
            emitReturn(rules.foreignArchitectureAction)
            assembler.append(.label(native))
        }

        if let socket = rules.handoffSocket, let sendmsg = rules.architecture.syscalls.number(of: "sendmsg") {
            let dispatch = assembler.newLabel()
            let reload = assembler.newLabel()
            emitJump(SeccompInstruction.jumpEqual, sendmsg, ifTrue: nil, ifFalse: dispatch)
            emitLoad(DataOffset.argument(0, high: false))
            emitJump(SeccompInstruction.jumpEqual, UInt32(bitPattern: socket), ifTrue: nil, ifFalse: reload)
            emitLoad(DataOffset.argument(0, high: true))
            emitJump(SeccompInstruction.jumpEqual, 0, ifTrue: nil, ifFalse: reload)
            emitReturn(.allow)
            assembler.append(.label(reload))
            emitLoad(DataOffset.number)
            assembler.append(.label(dispatch))
        }
    }

    /// The ranges of numbers, in order, each running to the next one's start (the last to
    /// 0xFFFFFFFF), with adjacent ranges of equal outcome merged.
    func ranges() -> [(start: UInt32, outcome: Outcome)] {
        var result: [(start: UInt32, outcome: Outcome)] = []
        func append(_ start: UInt32, _ outcome: Outcome) {
            if let last = result.last, last.outcome == outcome, case .action = outcome { return }
            result.append((start, outcome))
        }
        var cursor: UInt64 = 0
        for number in rules.entries.keys.sorted() {
            if UInt64(number) > cursor { append(UInt32(cursor), .action(rules.defaultAction)) }
            append(number, outcome(of: number))
            cursor = UInt64(number) + 1
        }
        if cursor <= UInt64(UInt32.max) { append(UInt32(cursor), .action(rules.defaultAction)) }
        return result
    }

    func outcome(of number: UInt32) -> Outcome {
        let entry = rules.entries[number]!
        if let rule = entry.unconditional { return .action(rule.action) }
        return .argumentChecks(number)
    }

    mutating func emitTree() {
        let all = ranges()
        emitTree(all[...])
    }

    private mutating func emitTree(_ ranges: ArraySlice<(start: UInt32, outcome: Outcome)>) {
        if ranges.count == 1 {
            emitOutcome(ranges.first!.outcome)
            return
        }
        let middle = ranges.startIndex + ranges.count / 2
        let upper = assembler.newLabel()
        // A holds the number throughout the search: only the leaves load anything else.
        emitJump(SeccompInstruction.jumpGreaterOrEqual, ranges[middle].start, ifTrue: upper, ifFalse: nil)
        emitTree(ranges[ranges.startIndex..<middle])
        assembler.append(.label(upper))
        emitTree(ranges[middle..<ranges.endIndex])
    }

    mutating func emitLinear() {
        for number in rules.entries.keys.sorted() {
            let skip = assembler.newLabel()
            emitJump(SeccompInstruction.jumpEqual, number, ifTrue: nil, ifFalse: skip)
            emitOutcome(outcome(of: number))
            assembler.append(.label(skip))
        }
        emitReturn(rules.defaultAction)
    }

    mutating func emitOutcome(_ outcome: Outcome) {
        switch outcome {
        case .action(let action):
            emitReturn(action)
        case .argumentChecks(let number):
            for rule in rules.entries[number]!.conditional {
                let nextRule = assembler.newLabel()
                for condition in rule.conditions {
                    emitCondition(condition, otherwise: nextRule)
                }
                emitReturn(rule.action)
                assembler.append(.label(nextRule))
            }
            emitReturn(rules.defaultAction)
        }
    }

    /// Falls through when `condition` holds, jumps to `otherwise` when it does not.
    mutating func emitCondition(_ condition: SeccompArgumentCondition, otherwise fail: Int) {
        let low = DataOffset.argument(condition.index, high: false)
        let high = DataOffset.argument(condition.index, high: true)
        func halves(_ value: UInt64) -> (high: UInt32, low: UInt32) {
            (UInt32(truncatingIfNeeded: value >> 32), UInt32(truncatingIfNeeded: value))
        }
        switch condition.comparison {
        case .equal(let value):
            let v = halves(value)
            emitLoad(high)
            emitJump(SeccompInstruction.jumpEqual, v.high, ifTrue: nil, ifFalse: fail)
            emitLoad(low)
            emitJump(SeccompInstruction.jumpEqual, v.low, ifTrue: nil, ifFalse: fail)
        case .notEqual(let value):
            let v = halves(value)
            let holds = assembler.newLabel()
            emitLoad(high)
            emitJump(SeccompInstruction.jumpEqual, v.high, ifTrue: nil, ifFalse: holds)
            emitLoad(low)
            emitJump(SeccompInstruction.jumpEqual, v.low, ifTrue: fail, ifFalse: holds)
            assembler.append(.label(holds))
        case .greater(let value), .greaterOrEqual(let value):
            // high > v.high, or high == v.high and low >(=) v.low
            let v = halves(value)
            let holds = assembler.newLabel()
            let final: UInt16
            if case .greater = condition.comparison {
                final = SeccompInstruction.jumpGreater
            } else {
                final = SeccompInstruction.jumpGreaterOrEqual
            }
            emitLoad(high)
            emitJump(SeccompInstruction.jumpGreater, v.high, ifTrue: holds, ifFalse: nil)
            emitJump(SeccompInstruction.jumpEqual, v.high, ifTrue: nil, ifFalse: fail)
            emitLoad(low)
            emitJump(final, v.low, ifTrue: holds, ifFalse: fail)
            assembler.append(.label(holds))
        case .less(let value), .lessOrEqual(let value):
            // the negation of >= (for <) or > (for <=)
            let v = halves(value)
            let holds = assembler.newLabel()
            let final: UInt16
            if case .less = condition.comparison {
                final = SeccompInstruction.jumpGreaterOrEqual
            } else {
                final = SeccompInstruction.jumpGreater
            }
            emitLoad(high)
            emitJump(SeccompInstruction.jumpGreater, v.high, ifTrue: fail, ifFalse: nil)
            emitJump(SeccompInstruction.jumpEqual, v.high, ifTrue: nil, ifFalse: holds)
            emitLoad(low)
            emitJump(final, v.low, ifTrue: fail, ifFalse: holds)
            assembler.append(.label(holds))
        case .maskedEqual(let mask, let value):
            let m = halves(mask)
            let v = halves(value & mask)
            for (offset, maskHalf, valueHalf) in [(high, m.high, v.high), (low, m.low, v.low)] where maskHalf != 0 {
                emitLoad(offset)
                if maskHalf != UInt32.max {
                    assembler.append(.statement(SeccompInstruction(code: SeccompInstruction.andConstant, k: maskHalf)))
                }
                emitJump(SeccompInstruction.jumpEqual, valueHalf, ifTrue: nil, ifFalse: fail)
            }
        }
    }
}

/// Lays out instructions with symbolic, forward-only jump targets.
struct BPFAssembler {
    enum Item {
        case label(Int)
        case statement(SeccompInstruction)
        case jump(code: UInt16, k: UInt32, ifTrue: Int, ifFalse: Int)
        case jumpAlways(Int)
    }

    private(set) var items: [Item] = []
    private var nextLabel = 0

    mutating func newLabel() -> Int {
        defer { nextLabel += 1 }
        return nextLabel
    }

    mutating func append(_ item: Item) {
        items.append(item)
    }

    private static func positions(of items: [Item]) -> [Int: Int] {
        var result: [Int: Int] = [:]
        var position = 0
        for item in items {
            if case .label(let label) = item {
                result[label] = position
            } else {
                position += 1
            }
        }
        return result
    }

    /// Resolves labels. A conditional jump whose target is more than 255 instructions ahead (the
    /// reach of its 8-bit offsets) is pointed at a `ja` inserted right after it, which reaches
    /// any distance; inserting can push other jumps out of reach, so this repeats until none is.
    mutating func assemble() -> [SeccompInstruction] {
        while true {
            let labels = Self.positions(of: items)
            var farJumps: [(index: Int, trueIsFar: Bool, falseIsFar: Bool)] = []
            var position = 0
            for (index, item) in items.enumerated() {
                switch item {
                case .label:
                    continue
                case .jump(_, _, let ifTrue, let ifFalse):
                    let trueDistance = labels[ifTrue]! - (position + 1)
                    let falseDistance = labels[ifFalse]! - (position + 1)
                    precondition(trueDistance >= 0 && falseDistance >= 0, "BPF jumps only forward")
                    if trueDistance > 255 || falseDistance > 255 {
                        farJumps.append((index, trueDistance > 255, falseDistance > 255))
                    }
                default:
                    break
                }
                position += 1
            }
            if farJumps.isEmpty { break }
            for far in farJumps.reversed() {
                guard case .jump(let code, let k, var ifTrue, var ifFalse) = items[far.index] else { continue }
                var trampolines: [Item] = []
                if far.trueIsFar {
                    let label = newLabel()
                    trampolines += [.label(label), .jumpAlways(ifTrue)]
                    ifTrue = label
                }
                if far.falseIsFar {
                    let label = newLabel()
                    trampolines += [.label(label), .jumpAlways(ifFalse)]
                    ifFalse = label
                }
                items[far.index] = .jump(code: code, k: k, ifTrue: ifTrue, ifFalse: ifFalse)
                items.insert(contentsOf: trampolines, at: far.index + 1)
            }
        }

        let labels = Self.positions(of: items)
        var instructions: [SeccompInstruction] = []
        for item in items {
            let position = instructions.count
            switch item {
            case .label:
                continue
            case .statement(let instruction):
                instructions.append(instruction)
            case .jump(let code, let k, let ifTrue, let ifFalse):
                instructions.append(
                    SeccompInstruction(
                        code: code, jt: UInt8(labels[ifTrue]! - (position + 1)),
                        jf: UInt8(labels[ifFalse]! - (position + 1)), k: k))
            case .jumpAlways(let target):
                let distance = labels[target]! - (position + 1)
                precondition(distance >= 0, "BPF jumps only forward")
                instructions.append(SeccompInstruction(code: SeccompInstruction.jumpAlways, k: UInt32(distance)))
            }
        }
        return instructions
    }
}
