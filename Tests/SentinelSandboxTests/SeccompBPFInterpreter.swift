// A classic-BPF interpreter for seccomp programs, written from the kernel's description of the
// instruction set (Documentation/networking/filter.rst, kernel/seccomp.c's checker), not from
// the compiler: the opcodes below are spelled out as numbers on purpose, so a wrong constant in
// the compiler cannot hide behind the same constant here.
//
// It runs a program on a synthetic `seccomp_data` and returns the filter's 32-bit verdict and
// how many instructions ran, which lets the compiler's tables be tested without a kernel and
// the dispatch cost be measured exactly.

import SentinelSandbox

struct BPFInterpreter {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Outcome {
        /// The value of the `ret` that ended the run.
        let value: UInt32
        /// Instructions executed, the `ret` included.
        let executed: Int
    }

    /// What `seccomp_check_filter` and `bpf_check_classic` would refuse: an empty or too long
    /// program, an unknown or non-seccomp opcode, a jump leaving the program, a misaligned or
    /// out-of-range load, a last instruction that is not a return.
    static func validate(_ program: [SeccompInstruction]) throws(Failure) {
        guard !program.isEmpty, program.count <= 4096 else { throw Failure(description: "length \(program.count)") }
        for (pc, instruction) in program.enumerated() {
            let code = instruction.code
            switch code {
            case 0x20:  // ld [k]
                guard instruction.k % 4 == 0, instruction.k < 64 else {
                    throw Failure(description: "pc \(pc): load of offset \(instruction.k)")
                }
            case 0x00, 0x01, 0x80, 0x81, 0x60, 0x61, 0x02, 0x03:  // ld/ldx imm, len, mem; st, stx
                if code & 0x60 == 0x60 || code == 0x02 || code == 0x03 {
                    guard instruction.k < 16 else {
                        throw Failure(description: "pc \(pc): scratch slot \(instruction.k)")
                    }
                }
            case 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c, 0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c,
                0x84, 0x94, 0x9c, 0xa4, 0xac:  // ALU
                if code == 0x34 || code == 0x94 {
                    guard instruction.k != 0 else { throw Failure(description: "pc \(pc): division by zero") }
                }
            case 0x05:  // ja
                guard UInt64(pc) + 1 + UInt64(instruction.k) < UInt64(program.count) else {
                    throw Failure(description: "pc \(pc): ja leaves the program")
                }
            case 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d:  // conditional jumps
                guard pc + 1 + Int(instruction.jt) < program.count, pc + 1 + Int(instruction.jf) < program.count else {
                    throw Failure(description: "pc \(pc): jump leaves the program")
                }
            case 0x06, 0x16:  // ret k, ret a
                break
            case 0x07, 0x87:  // tax, txa
                break
            default:
                throw Failure(description: "pc \(pc): opcode 0x\(String(code, radix: 16)) is not allowed in seccomp")
            }
        }
        let last = program[program.count - 1].code
        guard last == 0x06 || last == 0x16 else { throw Failure(description: "the last instruction is not a return") }
    }

    static func run(_ program: [SeccompInstruction], on data: SeccompData) throws(Failure) -> Outcome {
        try run(program, bytes: data.bytes)
    }

    static func run(_ program: [SeccompInstruction], bytes: [UInt8]) throws(Failure) -> Outcome {
        precondition(bytes.count == 64)
        func word(_ offset: UInt32) -> UInt32 {
            let start = Int(offset)
            return UInt32(bytes[start]) | UInt32(bytes[start + 1]) << 8 | UInt32(bytes[start + 2]) << 16
                | UInt32(bytes[start + 3]) << 24
        }
        var a: UInt32 = 0
        var x: UInt32 = 0
        var memory = [UInt32](repeating: 0, count: 16)
        var pc = 0
        var executed = 0
        while true {
            guard pc < program.count else { throw Failure(description: "ran off the end at pc \(pc)") }
            let instruction = program[pc]
            executed += 1
            pc += 1
            let k = instruction.k
            switch instruction.code {
            case 0x20: a = word(k)
            case 0x80: a = 64
            case 0x81: x = 64
            case 0x00: a = k
            case 0x01: x = k
            case 0x60: a = memory[Int(k)]
            case 0x61: x = memory[Int(k)]
            case 0x02: memory[Int(k)] = a
            case 0x03: memory[Int(k)] = x
            case 0x07: x = a
            case 0x87: a = x
            case 0x04: a = a &+ k
            case 0x0c: a = a &+ x
            case 0x14: a = a &- k
            case 0x1c: a = a &- x
            case 0x24: a = a &* k
            case 0x2c: a = a &* x
            case 0x34: a = a / k
            case 0x3c:
                guard x != 0 else { return Outcome(value: 0, executed: executed) }  // the kernel returns 0
                a = a / x
            case 0x94: a = a % k
            case 0x9c:
                guard x != 0 else { return Outcome(value: 0, executed: executed) }
                a = a % x
            case 0x44: a |= k
            case 0x4c: a |= x
            case 0x54: a &= k
            case 0x5c: a &= x
            case 0xa4: a ^= k
            case 0xac: a ^= x
            case 0x64: a = k >= 32 ? 0 : a << k
            case 0x6c: a = x >= 32 ? 0 : a << x
            case 0x74: a = k >= 32 ? 0 : a >> k
            case 0x7c: a = x >= 32 ? 0 : a >> x
            case 0x84: a = 0 &- a
            case 0x05: pc += Int(k)
            case 0x15: pc += a == k ? Int(instruction.jt) : Int(instruction.jf)
            case 0x1d: pc += a == x ? Int(instruction.jt) : Int(instruction.jf)
            case 0x25: pc += a > k ? Int(instruction.jt) : Int(instruction.jf)
            case 0x2d: pc += a > x ? Int(instruction.jt) : Int(instruction.jf)
            case 0x35: pc += a >= k ? Int(instruction.jt) : Int(instruction.jf)
            case 0x3d: pc += a >= x ? Int(instruction.jt) : Int(instruction.jf)
            case 0x45: pc += a & k != 0 ? Int(instruction.jt) : Int(instruction.jf)
            case 0x4d: pc += a & x != 0 ? Int(instruction.jt) : Int(instruction.jf)
            case 0x06: return Outcome(value: k, executed: executed)
            case 0x16: return Outcome(value: a, executed: executed)
            default:
                throw Failure(description: "pc \(pc - 1): unknown opcode 0x\(String(instruction.code, radix: 16))")
            }
        }
    }
}

/// The `SECCOMP_RET_*` values, spelled out (include/uapi/linux/seccomp.h).
enum KernelReturn {
    static let killProcess: UInt32 = 0x8000_0000
    static let killThread: UInt32 = 0x0000_0000
    static let trap: UInt32 = 0x0003_0000
    static let errno: UInt32 = 0x0005_0000
    static let userNotif: UInt32 = 0x7FC0_0000
    static let log: UInt32 = 0x7FFC_0000
    static let allow: UInt32 = 0x7FFF_0000

    static func errno(_ code: UInt32) -> UInt32 { errno | code }
}

/// AUDIT_ARCH_* values, spelled out (include/uapi/linux/audit.h).
enum AuditArch {
    static let x86_64: UInt32 = 0xC000_003E
    static let aarch64: UInt32 = 0xC000_00B7
    static let i386: UInt32 = 0x4000_0003
    static let arm: UInt32 = 0x4000_0028
}
