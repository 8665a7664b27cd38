import CSentinelLinux

/// One classic-BPF instruction (`struct sock_filter`).
public struct SeccompInstruction: Sendable, Hashable, CustomStringConvertible {
    /// The opcode (`BPF_LD|BPF_W|BPF_ABS`, `BPF_JMP|BPF_JEQ|BPF_K`, …).
    public var code: UInt16
    /// Relative jump offset when the condition holds.
    public var jt: UInt8
    /// Relative jump offset when it does not.
    public var jf: UInt8
    /// The constant operand.
    public var k: UInt32

    /// Creates an instruction.
    public init(code: UInt16, jt: UInt8 = 0, jf: UInt8 = 0, k: UInt32) {
        self.code = code
        self.jt = jt
        self.jf = jf
        self.k = k
    }

    /// `{ 0x15, 1, 0, 0xc000003e }`, the layout `bpf_asm -c` prints.
    public var description: String {
        "{ 0x\(String(code, radix: 16)), \(jt), \(jf), 0x\(String(k, radix: 16)) }"
    }

    // The opcodes the compiler emits. BPF_STMT/BPF_JUMP are function-like macros that do not
    // import, but their parts (BPF_LD, BPF_W, …) are plain integers that do.
    static let loadWordAbsolute = UInt16(BPF_LD | BPF_W | BPF_ABS)
    static let andConstant = UInt16(BPF_ALU | BPF_AND | BPF_K)
    static let jumpAlways = UInt16(BPF_JMP | BPF_JA)
    static let jumpEqual = UInt16(BPF_JMP | BPF_JEQ | BPF_K)
    static let jumpGreater = UInt16(BPF_JMP | BPF_JGT | BPF_K)
    static let jumpGreaterOrEqual = UInt16(BPF_JMP | BPF_JGE | BPF_K)
    static let returnConstant = UInt16(BPF_RET | BPF_K)
}

/// A seccomp filter program: at most 4096 classic-BPF instructions (`BPF_MAXINSNS`), ready for
/// `seccomp(SECCOMP_SET_MODE_FILTER)`.
///
/// It can travel as bytes (`bytes`, 8 per instruction in `struct sock_filter` layout), for
/// example from the launcher to the sandbox stage over the spec pipe.
public struct SeccompProgram: Sendable, Hashable {
    /// The kernel's limit on one filter's length (`BPF_MAXINSNS`).
    public static let maximumLength = Int(BPF_MAXINSNS)

    /// The instructions.
    public let instructions: [SeccompInstruction]

    /// Wraps instructions; throws if there are none or more than the kernel accepts. (The
    /// kernel checks the rest when the program is installed.)
    public init(_ instructions: [SeccompInstruction]) throws(SeccompError) {
        guard !instructions.isEmpty else {
            throw SeccompError(.programInvalid, "A seccomp program needs at least one instruction.")
        }
        guard instructions.count <= Self.maximumLength else {
            throw SeccompError(
                .programInvalid,
                "The seccomp program has \(instructions.count) instructions, more than the kernel's limit of "
                    + "\(Self.maximumLength) (BPF_MAXINSNS); split the profile's argument rules or drop some.")
        }
        self.instructions = instructions
    }

    /// Reads a program from its `bytes` form.
    public init(bytes: [UInt8]) throws(SeccompError) {
        guard bytes.count % 8 == 0 else {
            throw SeccompError(
                .programInvalid, "A seccomp program is a multiple of 8 bytes; this one has \(bytes.count).")
        }
        var instructions: [SeccompInstruction] = []
        instructions.reserveCapacity(bytes.count / 8)
        var offset = 0
        while offset < bytes.count {
            let code = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            var k: UInt32 = 0
            for index in 0..<4 { k |= UInt32(bytes[offset + 4 + index]) << (8 * index) }
            instructions.append(SeccompInstruction(code: code, jt: bytes[offset + 2], jf: bytes[offset + 3], k: k))
            offset += 8
        }
        try self.init(instructions)
    }

    /// The program as `struct sock_filter` bytes (little-endian, as on every supported
    /// architecture).
    public var bytes: [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(instructions.count * 8)
        for instruction in instructions {
            result.append(UInt8(truncatingIfNeeded: instruction.code))
            result.append(UInt8(truncatingIfNeeded: instruction.code >> 8))
            result.append(instruction.jt)
            result.append(instruction.jf)
            for index in 0..<4 { result.append(UInt8(truncatingIfNeeded: instruction.k >> (8 * index))) }
        }
        return result
    }

    /// The number of instructions.
    public var count: Int { instructions.count }

    /// Calls `body` with the program as a `struct sock_filter` array.
    func withSockFilters<R>(
        _ body: (UnsafePointer<sock_filter>, UInt16) throws(SeccompError) -> R
    )
        throws(SeccompError) -> R
    {
        let filters = instructions.map { sock_filter(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
        // `instructions.count <= 4096` is checked at init, so the narrowing cannot trap.
        let count = UInt16(filters.count)
        return try filters.withUnsafeBufferPointer { (buffer) throws(SeccompError) -> R in
            try body(buffer.baseAddress!, count)
        }
    }
}
