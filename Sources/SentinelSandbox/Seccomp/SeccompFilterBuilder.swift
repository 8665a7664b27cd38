/// Builds a filter from code rather than from a profile: the piece `sentinel guard` uses to say
/// "notify me on execve, connect and openat; allow everything else".
///
/// ```swift
/// var builder = try SeccompFilterBuilder.notifying(on: ["execve", "execveat", "connect", "openat"])
/// builder.handOffListener(over: socketFD)   // only needed if sendmsg itself is notified
/// let program = try builder.program()
/// try Seccomp.installAndSendListener(program, flags: [], over: socketFD)
/// ```
///
/// Rules follow `SeccompRuleSet`'s semantics (a rule without conditions decides alone; rules
/// with conditions are tried in order), and the program kills calls from other architectures.
public struct SeccompFilterBuilder: Sendable {
    /// The rules so far.
    public private(set) var rules: SeccompRuleSet
    /// Names skipped (unknown on this architecture) and rules without effect.
    public private(set) var warnings: [SeccompWarning] = []

    /// Starts with no rules: every call gets `defaultAction`.
    public init(architecture: SeccompArchitecture? = nil, defaultAction: SeccompAction) throws(SeccompError) {
        let options = try SeccompCompiler.Options(architecture: architecture)
        rules = SeccompRuleSet(architecture: options.architecture, defaultAction: defaultAction)
    }

    /// A builder that returns `SECCOMP_RET_USER_NOTIF` for `syscalls` and `otherwise` for the
    /// rest. Names this architecture does not have are skipped (a call that does not exist
    /// cannot be made) and listed in `warnings`.
    public static func notifying(
        on syscalls: [String], otherwise: SeccompAction = .allow, architecture: SeccompArchitecture? = nil
    ) throws(SeccompError) -> SeccompFilterBuilder {
        var builder = try SeccompFilterBuilder(architecture: architecture, defaultAction: otherwise)
        for name in syscalls { builder.add(name, .notify) }
        return builder
    }

    /// Adds a rule for system call `name`; returns false (and records a warning) if this
    /// architecture has no such call.
    @discardableResult
    public mutating func add(
        _ name: String, _ action: SeccompAction, when conditions: [SeccompArgumentCondition] = [],
        origin: String? = nil
    ) -> Bool {
        guard let number = rules.architecture.syscalls.number(of: name) else {
            warnings.append(
                SeccompWarning(
                    .unknownSyscall, syscall: name, "\(rules.architecture) has no system call named \"\(name)\"."))
            return false
        }
        add(number: number, action, when: conditions, origin: origin ?? name)
        return true
    }

    /// Adds a rule for system call `number`.
    public mutating func add(
        number: UInt32, _ action: SeccompAction, when conditions: [SeccompArgumentCondition] = [],
        origin: String? = nil
    ) {
        let name = rules.architecture.syscalls.displayName(of: number)
        if let conflict = rules.add(
            SeccompRule(conditions: conditions, action: action, origin: origin), forSyscall: number)
        {
            warnings.append(SeccompWarning(.ruleShadowed, syscall: name, "\(name): \(conflict)."))
        }
    }

    /// Lets `sendmsg` on `socket` through before any rule, so the installing process can send
    /// the listener even when `sendmsg` is notified.
    public mutating func handOffListener(over socket: Int32) {
        rules.handoffSocket = socket
    }

    /// The compiled program.
    public func program() throws(SeccompError) -> SeccompProgram {
        try SeccompCompiler.program(for: rules)
    }

    /// The flags the program needs: `.newListener` when some rule notifies.
    public var installFlags: SeccompInstallFlags {
        rules.uses(.notify) ? [.newListener] : []
    }
}
