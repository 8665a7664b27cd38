// seccomp-exec-helper: installs a seccomp filter in this (single-threaded) process and execs a
// command, for the real-kernel tests in SentinelSandboxTests. The test runner itself is
// multithreaded and must never carry a filter, so every filtered command runs through here.
//
//   seccomp-exec-helper [options] -- command [arguments...]
//     --profile PATH        compile this profile (Docker's JSON format)
//     --mode enforce|log    with --profile (default enforce)
//     --kernel-log          with --mode log: act as if user notification were unavailable
//     --dispatch linear     with --profile: the linear number dispatch (for measurements)
//     --program PATH        install these raw BPF bytes instead (struct sock_filter records)
//     --notify a,b,c        build "notify on these calls, allow the rest" (SeccompFilterBuilder)
//     --listener-fd N       hand the listener to the supervisor over this inherited socket
//     --no-no-new-privs     do not set no_new_privs before installing
//     --as-nobody           when root, become uid/gid 65534 (no capabilities) before installing
//
// On failure it prints the error and exits 125 without running the command.

import Glibc
import SentinelSandbox

func fail(_ message: String) -> Never {
    let text = "seccomp-exec-helper: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(125)
}

var profilePath: String?
var mode = SeccompMode.enforce
var linear = false
var forceKernelLog = false
var programPath: String?
var notify: [String] = []
var listenerFD: Int32?
var setNoNewPrivileges = true
var asNobody = false
var command: [String] = []

var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    func value() -> String {
        guard let next = arguments.popFirst() else { fail("\(argument) needs a value") }
        return next
    }
    switch argument {
    case "--profile": profilePath = value()
    case "--mode":
        guard let parsed = SeccompMode(rawValue: value()) else { fail("--mode is enforce, log or off") }
        mode = parsed
    case "--dispatch": linear = value() == "linear"
    case "--kernel-log": forceKernelLog = true
    case "--program": programPath = value()
    case "--notify": notify = value().split(separator: ",").map(String.init)
    case "--listener-fd":
        guard let fd = Int32(value()) else { fail("--listener-fd needs a number") }
        listenerFD = fd
    case "--no-no-new-privs": setNoNewPrivileges = false
    case "--as-nobody": asNobody = true
    case "--":
        command = Array(arguments)
        arguments = []
    default: fail("unknown option \(argument)")
    }
}
guard !command.isEmpty else { fail("no command after --") }

do throws(SeccompError) {
    if asNobody && getuid() == 0 {
        // gid first: after setuid there is no right left to change it.
        guard setgroups(0, nil) == 0, setgid(65534) == 0, setuid(65534) == 0 else {
            fail("cannot become nobody: \(String(cString: strerror(errno)))")
        }
    }
    if setNoNewPrivileges { try Seccomp.setNoNewPrivileges() }

    if let programPath {
        var bytes: [UInt8] = []
        let fd = open(programPath, O_RDONLY)
        guard fd >= 0 else { fail("cannot open \(programPath)") }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        close(fd)
        let program = try SeccompProgram(bytes: bytes)
        try Seccomp.install(program)
    } else if !notify.isEmpty {
        var builder = try SeccompFilterBuilder.notifying(on: notify)
        guard let listenerFD else { fail("--notify needs --listener-fd") }
        builder.handOffListener(over: listenerFD)
        try Seccomp.installAndSendListener(try builder.program(), flags: builder.installFlags, over: listenerFD)
    } else if let profilePath {
        let profile = try SeccompProfile.load(contentsOf: profilePath)
        let options = try SeccompCompiler.Options()
        if linear {
            let rules = try SeccompCompiler.ruleSet(for: profile, options: options).rules
            try Seccomp.install(try SeccompCompiler.program(for: rules, dispatch: .linear))
        } else if let plan = try Seccomp.plan(
            profile: profile, mode: mode, options: options,
            userNotification: forceKernelLog ? .unavailable("forced by --kernel-log") : nil)
        {
            for note in plan.notes { _ = "seccomp-exec-helper: \(note)\n".withCString { write(2, $0, strlen($0)) } }
            if plan.needsListener {
                guard let listenerFD else { fail("log mode needs --listener-fd") }
                try Seccomp.install(plan, handingListenerTo: listenerFD)
            } else {
                try Seccomp.install(plan)
            }
        }
    } else {
        fail("give --profile, --program or --notify")
    }
} catch {
    fail(error.description)
}

var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
execvp(command[0], &argv)
let reason = String(cString: strerror(errno))
_ = "seccomp-exec-helper: cannot run \(command[0]): \(reason)\n".withCString { write(2, $0, strlen($0)) }
exit(errno == ENOENT ? 127 : 126)
