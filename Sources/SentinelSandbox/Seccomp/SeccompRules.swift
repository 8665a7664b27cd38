import CSentinelLinux

/// What a filter returns to the kernel for a system call (`SECCOMP_RET_*`).
public enum SeccompAction: Sendable, Hashable, CustomStringConvertible {
    /// Let the call run (`SECCOMP_RET_ALLOW`).
    case allow
    /// Let the call run and record it in the kernel's audit log (`SECCOMP_RET_LOG`, Linux 4.14).
    case log
    /// Fail the call with this errno (`SECCOMP_RET_ERRNO`).
    case errno(UInt16)
    /// Send SIGSYS to the thread (`SECCOMP_RET_TRAP`).
    case trap
    /// Kill the thread (`SECCOMP_RET_KILL_THREAD`).
    case killThread
    /// Kill the whole process (`SECCOMP_RET_KILL_PROCESS`, Linux 4.14).
    case killProcess
    /// Suspend the call and ask the listener (`SECCOMP_RET_USER_NOTIF`, Linux 5.0).
    case notify

    /// The 32-bit value the filter returns.
    public var returnValue: UInt32 {
        switch self {
        case .allow: SECCOMP_RET_ALLOW
        case .log: SECCOMP_RET_LOG
        case .errno(let code): SECCOMP_RET_ERRNO | UInt32(code)
        case .trap: SECCOMP_RET_TRAP
        case .killThread: SECCOMP_RET_KILL_THREAD
        case .killProcess: SECCOMP_RET_KILL_PROCESS
        case .notify: SECCOMP_RET_USER_NOTIF
        }
    }

    /// Decodes a filter's return value (the data bits are kept only for ERRNO).
    public init(returnValue: UInt32) {
        switch returnValue & SECCOMP_RET_ACTION_FULL {
        case SECCOMP_RET_ALLOW: self = .allow
        case SECCOMP_RET_LOG: self = .log
        case SECCOMP_RET_ERRNO: self = .errno(UInt16(truncatingIfNeeded: returnValue & SECCOMP_RET_DATA))
        case SECCOMP_RET_TRAP: self = .trap
        case SECCOMP_RET_KILL_THREAD: self = .killThread
        case SECCOMP_RET_USER_NOTIF: self = .notify
        // SECCOMP_RET_TRACE with no tracer fails the call with ENOSYS; Sentinel never emits it.
        case SECCOMP_RET_TRACE: self = .errno(UInt16(ENOSYS_VALUE))
        default: self = .killProcess  // unknown actions are treated by the kernel as kill-process
        }
    }

    /// Whether the call does not run as asked (errno, trap or kill).
    public var isDenial: Bool {
        switch self {
        case .allow, .log, .notify: false
        case .errno, .trap, .killThread, .killProcess: true
        }
    }

    /// `ALLOW`, `ERRNO(1)`, …
    public var description: String {
        switch self {
        case .allow: "ALLOW"
        case .log: "LOG"
        case .errno(let code): "ERRNO(\(code))"
        case .trap: "TRAP"
        case .killThread: "KILL_THREAD"
        case .killProcess: "KILL_PROCESS"
        case .notify: "USER_NOTIF"
        }
    }
}

/// ENOSYS on Linux (every architecture Sentinel supports).
let ENOSYS_VALUE: Int32 = 38
/// EPERM on Linux.
let EPERM_VALUE: Int32 = 1

/// What a filter sees of a system call (`struct seccomp_data`).
public struct SeccompData: Sendable, Hashable {
    /// The system-call number (`nr`; an `int` in the kernel, kept as its 32 bits).
    public var number: UInt32
    /// The `AUDIT_ARCH_*` value of the calling convention.
    public var architecture: UInt32
    /// The address of the calling instruction.
    public var instructionPointer: UInt64
    /// The six argument registers, zero-extended to 64 bits.
    public var arguments: [UInt64]

    /// Creates the data; missing arguments are zero.
    public init(number: UInt32, architecture: UInt32, instructionPointer: UInt64 = 0, arguments: [UInt64] = []) {
        precondition(arguments.count <= 6, "a system call has at most six arguments")
        self.number = number
        self.architecture = architecture
        self.instructionPointer = instructionPointer
        self.arguments = arguments + Array(repeating: 0, count: 6 - arguments.count)
    }

    /// The 64 bytes of `struct seccomp_data` in this machine's byte order (little-endian on
    /// every supported architecture), as a filter reads them.
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(64)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { result.append(contentsOf: $0) }
        }
        append(number)
        append(architecture)
        append(instructionPointer)
        for argument in arguments { append(argument) }
        return result
    }
}

/// One argument comparison, on all 64 bits (libseccomp's `SCMP_CMP64` semantics: unsigned).
public struct SeccompArgumentCondition: Sendable, Hashable, CustomStringConvertible {
    /// How the argument is compared.
    public enum Comparison: Sendable, Hashable {
        /// `arg == value`
        case equal(UInt64)
        /// `arg != value`
        case notEqual(UInt64)
        /// `arg < value`
        case less(UInt64)
        /// `arg <= value`
        case lessOrEqual(UInt64)
        /// `arg > value`
        case greater(UInt64)
        /// `arg >= value`
        case greaterOrEqual(UInt64)
        /// `arg & mask == value & mask`
        case maskedEqual(mask: UInt64, value: UInt64)
    }

    /// Which argument, 0 to 5.
    public var index: Int
    /// The comparison.
    public var comparison: Comparison

    /// Creates a condition.
    public init(index: Int, _ comparison: Comparison) {
        precondition((0...5).contains(index), "argument index \(index) is not 0 to 5")
        self.index = index
        self.comparison = comparison
    }

    /// Converts a profile comparison.
    public init(_ condition: SeccompProfile.ArgumentCondition) {
        let comparison: Comparison
        switch condition.op {
        case .equal: comparison = .equal(condition.value)
        case .notEqual: comparison = .notEqual(condition.value)
        case .lessThan: comparison = .less(condition.value)
        case .lessOrEqual: comparison = .lessOrEqual(condition.value)
        case .greaterThan: comparison = .greater(condition.value)
        case .greaterOrEqual: comparison = .greaterOrEqual(condition.value)
        case .maskedEqual: comparison = .maskedEqual(mask: condition.value, value: condition.valueTwo)
        }
        self.init(index: condition.index, comparison)
    }

    /// Whether `argument` satisfies the condition.
    public func matches(_ argument: UInt64) -> Bool {
        switch comparison {
        case .equal(let value): argument == value
        case .notEqual(let value): argument != value
        case .less(let value): argument < value
        case .lessOrEqual(let value): argument <= value
        case .greater(let value): argument > value
        case .greaterOrEqual(let value): argument >= value
        case .maskedEqual(let mask, let value): argument & mask == value & mask
        }
    }

    /// `arg1 == 0x5412`, `arg0 & 0x7e020000 == 0`, …
    public var description: String {
        func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
        switch comparison {
        case .equal(let value): return "arg\(index) == \(hex(value))"
        case .notEqual(let value): return "arg\(index) != \(hex(value))"
        case .less(let value): return "arg\(index) < \(hex(value))"
        case .lessOrEqual(let value): return "arg\(index) <= \(hex(value))"
        case .greater(let value): return "arg\(index) > \(hex(value))"
        case .greaterOrEqual(let value): return "arg\(index) >= \(hex(value))"
        case .maskedEqual(let mask, let value): return "arg\(index) & \(hex(mask)) == \(hex(value & mask))"
        }
    }
}

/// A rule for one system call: when all `conditions` hold, `action`.
public struct SeccompRule: Sendable, Hashable {
    /// Conditions that must all hold; empty means always.
    public var conditions: [SeccompArgumentCondition]
    /// What the filter returns when the rule matches.
    public var action: SeccompAction
    /// Where the rule came from, for reports (`syscalls[11]: namespace creation and joining.`).
    public var origin: String?

    /// Creates a rule.
    public init(conditions: [SeccompArgumentCondition] = [], action: SeccompAction, origin: String? = nil) {
        self.conditions = conditions
        self.action = action
        self.origin = origin
    }

    /// Whether the rule matches the arguments of `data`.
    public func matches(_ data: SeccompData) -> Bool {
        conditions.allSatisfy { $0.matches(data.arguments[$0.index]) }
    }
}

/// Everything a filter decides, per system-call number, for one architecture: the input of the
/// BPF code generator and, since it is plain data, the reference the generated program is
/// tested against and the table the log-mode listener uses to say which rule a call hit.
///
/// For each number, a rule without conditions (if any) decides alone; otherwise the rules with
/// conditions are tried in order and the first that matches decides; otherwise the default
/// action. Before any of that, a call from another architecture (and on x86-64 an x32 call) is
/// answered with `foreignArchitectureAction`.
public struct SeccompRuleSet: Sendable, Hashable {
    /// The architecture the numbers belong to.
    public let architecture: SeccompArchitecture
    /// What a call no rule matches gets.
    public var defaultAction: SeccompAction
    /// What a call from another architecture or ABI gets; always a kill, in every mode.
    public var foreignArchitectureAction: SeccompAction = .killProcess
    /// When set, `sendmsg` on this fd is allowed before any rule is looked at, so that a log-mode
    /// or notifying filter can hand its own listener over (see `SeccompHandoff`).
    public var handoffSocket: Int32?
    /// The rules, by system-call number.
    public private(set) var entries: [UInt32: Entry] = [:]

    /// The rules of one system call.
    public struct Entry: Sendable, Hashable {
        /// The first rule without conditions, which decides alone.
        public var unconditional: SeccompRule?
        /// Rules with conditions, tried in order when there is no unconditional rule.
        public var conditional: [SeccompRule]
    }

    /// Where a decision came from.
    public enum Source: Sendable, Hashable {
        /// The call came from another architecture or ABI.
        case foreignArchitecture
        /// The handoff `sendmsg` exemption.
        case handoff
        /// A rule of the set.
        case rule(SeccompRule)
        /// No rule matched.
        case defaultAction
    }

    /// A decision and its source.
    public struct Decision: Sendable, Hashable {
        /// What the filter returns.
        public var action: SeccompAction
        /// Why.
        public var source: Source
    }

    /// Creates an empty rule set.
    public init(architecture: SeccompArchitecture, defaultAction: SeccompAction) {
        self.architecture = architecture
        self.defaultAction = defaultAction
    }

    /// Adds `rule` for system call `number` with libseccomp's semantics; returns a sentence when
    /// a rule loses its effect (a conditional rule next to an unconditional one, or a second
    /// unconditional rule with another action), nil otherwise.
    @discardableResult
    public mutating func add(_ rule: SeccompRule, forSyscall number: UInt32) -> String? {
        var entry = entries[number] ?? Entry(unconditional: nil, conditional: [])
        defer { entries[number] = entry }
        if rule.conditions.isEmpty {
            if let existing = entry.unconditional {
                guard existing.action != rule.action else { return nil }
                return "a rule without arguments already decides \(existing.action); this \(rule.action) rule "
                    + "has no effect"
            }
            entry.unconditional = rule
            let differing = entry.conditional.filter { $0.action != rule.action }
            guard !differing.isEmpty else { return nil }
            return "this \(rule.action) rule without arguments overrides the rules with arguments "
                + differing.map { "(\($0.action))" }.joined(separator: ", ")
        }
        entry.conditional.append(rule)
        if let existing = entry.unconditional, existing.action != rule.action {
            return "a rule without arguments already decides \(existing.action); this \(rule.action) rule with "
                + "arguments has no effect"
        }
        return nil
    }

    /// Decides `data` exactly as the compiled program does.
    public func decide(_ data: SeccompData) -> Decision {
        if data.architecture != architecture.auditArchitecture {
            return Decision(action: foreignArchitectureAction, source: .foreignArchitecture)
        }
        if let bit = architecture.x32SyscallBit, data.number >= bit {
            return Decision(action: foreignArchitectureAction, source: .foreignArchitecture)
        }
        if let socket = handoffSocket, let sendmsg = architecture.syscalls.number(of: "sendmsg"),
            data.number == sendmsg, data.arguments[0] == UInt64(UInt32(bitPattern: socket))
        {
            return Decision(action: .allow, source: .handoff)
        }
        guard let entry = entries[data.number] else {
            return Decision(action: defaultAction, source: .defaultAction)
        }
        if let rule = entry.unconditional {
            return Decision(action: rule.action, source: .rule(rule))
        }
        for rule in entry.conditional where rule.matches(data) {
            return Decision(action: rule.action, source: .rule(rule))
        }
        return Decision(action: defaultAction, source: .defaultAction)
    }

    /// The same rules with every action passed through `transform` (the default action too;
    /// the foreign-architecture kill is never transformed).
    public func mapActions(_ transform: (SeccompAction) -> SeccompAction) -> SeccompRuleSet {
        var result = self
        result.defaultAction = transform(defaultAction)
        for (number, entry) in entries {
            var mapped = entry
            if var rule = mapped.unconditional {
                rule.action = transform(rule.action)
                mapped.unconditional = rule
            }
            mapped.conditional = mapped.conditional.map { rule in
                var rule = rule
                rule.action = transform(rule.action)
                return rule
            }
            result.entries[number] = mapped
        }
        return result
    }

    /// Whether some rule can return `action`.
    public func uses(_ action: SeccompAction) -> Bool {
        if defaultAction == action { return true }
        return entries.values.contains { entry in
            entry.unconditional?.action == action || entry.conditional.contains { $0.action == action }
        }
    }

    /// The argument indexes the rules for `number` compare (for argument summaries).
    public func comparedArguments(ofSyscall number: UInt32) -> [Int] {
        guard let entry = entries[number], entry.unconditional == nil else { return [] }
        return Set(entry.conditional.flatMap { $0.conditions.map(\.index) }).sorted()
    }

    /// Whether `number` is allowed without conditions.
    public func allowsUnconditionally(_ number: UInt32) -> Bool {
        if let rule = entries[number]?.unconditional { return rule.action == .allow }
        return entries[number] == nil && defaultAction == .allow
    }
}
