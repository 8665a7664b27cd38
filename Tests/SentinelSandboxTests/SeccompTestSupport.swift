// Shared pieces of the seccomp tests: where the shipped profiles are, compiling them, and
// running a command under a filter through seccomp-exec-helper (posix_spawn from the test
// runner, which itself is never filtered).

import Foundation
import Glibc
import SentinelSandbox
import SentinelTestSupport
import Testing

enum SeccompFixtures {
    /// The repository root (this file is Tests/SentinelSandboxTests/SeccompTestSupport.swift).
    static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let strictPath = repositoryRoot + "/seccomp/sentinel-seccomp.json"
    static let datasciPath = repositoryRoot + "/seccomp/sentinel-seccomp-datasci.json"
    static let shippedProfiles = [strictPath, datasciPath]

    static func options(_ architecture: SeccompArchitecture) throws -> SeccompCompiler.Options {
        var options = try SeccompCompiler.Options(architecture: architecture)
        try options.assumeKernel("6.18")
        return options
    }

    /// Compiles a profile file for `architecture`: its rules, program and warnings.
    static func compile(
        _ path: String, for architecture: SeccompArchitecture = .x86_64
    ) throws
        -> (rules: SeccompRuleSet, program: SeccompProgram, warnings: [SeccompWarning])
    {
        let profile = try SeccompProfile.load(contentsOf: path)
        let (rules, warnings) = try SeccompCompiler.ruleSet(for: profile, options: options(architecture))
        return (rules, try SeccompCompiler.program(for: rules), warnings)
    }

    static func compile(
        json: String, for architecture: SeccompArchitecture = .x86_64
    ) throws
        -> (rules: SeccompRuleSet, program: SeccompProgram, warnings: [SeccompWarning])
    {
        let profile = try SeccompProfile(json: Array(json.utf8), source: "<test>")
        let (rules, warnings) = try SeccompCompiler.ruleSet(for: profile, options: options(architecture))
        return (rules, try SeccompCompiler.program(for: rules), warnings)
    }

    /// The filter's verdict for system call `name` with `arguments`, through the interpreter.
    static func verdict(
        _ program: SeccompProgram, _ architecture: SeccompArchitecture, _ name: String, _ arguments: [UInt64] = []
    ) throws -> UInt32 {
        let number = try #require(architecture.syscalls.number(of: name), "\(architecture) has no \(name)")
        let data = SeccompData(number: number, architecture: architecture.auditArchitecture, arguments: arguments)
        return try BPFInterpreter.run(program.instructions, on: data).value
    }
}

/// The result of a helper run.
struct SeccompRun: CustomStringConvertible {
    /// The exit status, or nil if a signal ended the process.
    let exitStatus: Int32?
    /// The signal that ended it, if any.
    let signal: Int32?
    let standardOutput: String
    let standardError: String

    var succeeded: Bool { exitStatus == 0 }

    var description: String {
        "exit \(exitStatus.map(String.init) ?? "-") signal \(signal.map(String.init) ?? "-")\n"
            + "stdout: \(standardOutput)\nstderr: \(standardError)"
    }
}

/// A running helper process.
struct SeccompChild {
    let pid: pid_t
    let directory: URL

    /// Waits for the process and collects its output.
    func wait() throws -> SeccompRun {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = (try? String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)) ?? ""
        let error = (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
        let signal = status & 0x7F
        return SeccompRun(
            exitStatus: signal == 0 ? (status >> 8) & 0xFF : nil, signal: signal == 0 ? nil : signal,
            standardOutput: output, standardError: error)
    }
}

enum SeccompHelper {
    /// `seccomp-exec-helper`, built next to the test binary (a dependency of this test target).
    static let path: String = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(
            "seccomp-exec-helper"
        )
        .path
    }()

    /// Starts `seccomp-exec-helper options -- command`, stdin from /dev/null, stdout and stderr to
    /// files; `listenerSocket` becomes fd 3 in the child.
    static func start(_ options: [String], _ command: [String], listenerSocket: Int32? = nil) throws -> SeccompChild {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "seccomp-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(
            &actions, 1, directory.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(
            &actions, 2, directory.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var arguments = options
        if let listenerSocket {
            precondition(listenerSocket != 3, "dup the socket away from fd 3 first")
            posix_spawn_file_actions_adddup2(&actions, listenerSocket, 3)
            arguments += ["--listener-fd", "3"]
        }
        let argv = [path] + arguments + ["--"] + command
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, nil, &cArguments, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        return SeccompChild(pid: pid, directory: directory)
    }

    /// Runs `command` under `options` and waits for it.
    static func run(_ options: [String], _ command: [String]) throws -> SeccompRun {
        try start(options, command).wait()
    }

    /// A socket pair for the listener handoff, the sandbox end moved off fd 3.
    static func handoffPair() throws -> (supervisor: Int32, sandbox: Int32) {
        var pair = try SeccompHandoff.makeSocketPair()
        if pair.sandbox == 3 {
            let moved = fcntl(3, F_DUPFD_CLOEXEC, 10)
            close(3)
            pair.sandbox = moved
        }
        return pair
    }
}

extension MachineRequirement {
    /// Python 3 on PATH.
    static let python3 = MachineRequirement.executable("python3", package: "python3")
    /// Node.js on PATH.
    static let node = MachineRequirement.executable("node", package: "nodejs")
    /// A C compiler on PATH.
    static let cc = MachineRequirement.executable("cc", package: "gcc")
    /// git on PATH.
    static let git = MachineRequirement.executable("git", package: "git")
    /// unshare(1) on PATH.
    static let unshare = MachineRequirement.executable("unshare", package: "util-linux")
}
