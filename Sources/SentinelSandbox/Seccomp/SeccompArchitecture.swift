import CSentinelLinux

/// A CPU architecture the seccomp compiler can build a filter for.
///
/// A filter is compiled for one architecture: its first instructions compare
/// `seccomp_data.arch` with this architecture's `AUDIT_ARCH_*` value and kill the process on any
/// other (a 32-bit `int 0x80` call on x86-64 would otherwise be read with the wrong numbers).
public enum SeccompArchitecture: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// x86-64 (`SCMP_ARCH_X86_64`, Docker's `amd64`).
    case x86_64
    /// 64-bit ARM (`SCMP_ARCH_AARCH64`, Docker's `arm64`).
    case aarch64

    /// The architecture this binary runs on, or `nil` on any other.
    public static var native: SeccompArchitecture? {
        #if arch(x86_64)
            return .x86_64
        #elseif arch(arm64)
            return .aarch64
        #else
            return nil
        #endif
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch`.
    public var auditArchitecture: UInt32 {
        switch self {
        case .x86_64: sentinel_seccomp_audit_arch_x86_64
        case .aarch64: sentinel_seccomp_audit_arch_aarch64
        }
    }

    /// The name in a profile's `architectures` list.
    public var profileName: String {
        switch self {
        case .x86_64: "SCMP_ARCH_X86_64"
        case .aarch64: "SCMP_ARCH_AARCH64"
        }
    }

    /// The name Docker uses in a rule's `includes.arches` / `excludes.arches` (Go's `GOARCH`).
    public var dockerName: String {
        switch self {
        case .x86_64: "amd64"
        case .aarch64: "arm64"
        }
    }

    /// The system-call table, generated from the kernel headers by
    /// `scripts/generate-syscall-tables.sh`.
    public var syscalls: SyscallTable {
        switch self {
        case .x86_64: SyscallTable.x86_64
        case .aarch64: SyscallTable.aarch64
        }
    }

    /// On x86-64, x32 system calls arrive with `AUDIT_ARCH_X86_64` and bit 30 of the number set
    /// (`__X32_SYSCALL_BIT`); the filter kills them, since the profile's numbers are not theirs.
    var x32SyscallBit: UInt32? {
        self == .x86_64 ? 0x4000_0000 : nil
    }

    /// The 32-bit and alternative ABIs a profile may list for this architecture, which the
    /// compiled filter refuses rather than translates.
    var compatibilityProfileNames: Set<String> {
        switch self {
        case .x86_64: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        case .aarch64: ["SCMP_ARCH_ARM"]
        }
    }

    /// The raw value.
    public var description: String { rawValue }
}

/// The system calls of one architecture, by name and by number.
public struct SyscallTable: Sendable {
    /// The architecture the numbers belong to.
    public let architecture: SeccompArchitecture
    private let numbersByName: [String: UInt32]
    private let namesByNumber: [UInt32: String]

    init(architecture: SeccompArchitecture, entries: [(String, UInt32)]) {
        self.architecture = architecture
        var numbersByName: [String: UInt32] = [:]
        var namesByNumber: [UInt32: String] = [:]
        for (name, number) in entries {
            numbersByName[name] = number
            // The first name wins for a number shared by aliases (none today; the generator sorts).
            if namesByNumber[number] == nil { namesByNumber[number] = name }
        }
        self.numbersByName = numbersByName
        self.namesByNumber = namesByNumber
    }

    /// The number of the system call `name`, or `nil` if this architecture has no such call.
    public func number(of name: String) -> UInt32? {
        numbersByName[name]
    }

    /// The name of system call `number`, or `nil` if it has none here.
    public func name(of number: UInt32) -> String? {
        namesByNumber[number]
    }

    /// Every name, sorted.
    public var names: [String] {
        numbersByName.keys.sorted()
    }

    /// A printable name for `number`: its name, or `syscall_<number>`.
    public func displayName(of number: UInt32) -> String {
        name(of: number) ?? "syscall_\(number)"
    }
}
