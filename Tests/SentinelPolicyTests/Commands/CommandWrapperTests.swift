import Foundation
import SentinelPolicy
import Testing

/// Every wrapper of the table that Debian 12 installs in its base system or with procps and
/// util-linux, plus the commands they run here.
private let wrappers = [
    "env", "nice", "nohup", "timeout", "stdbuf", "xargs", "find", "setsid", "setpriv", "chroot", "unshare", "nsenter",
    "flock", "watch", "ionice", "taskset", "chrt", "su", "runuser", "script",
]

private func wrapperEvaluator(argsDeny: [String] = []) throws -> CommandEvaluator {
    try makeEvaluator(wrappers.map { ($0, []) } + [("ls", argsDeny), ("echo", [])])
}

/// A row of the table: the command line, whether it may run, and the rule that denies it.
struct WrapperCase: Sendable, CustomTestStringConvertible {
    var text: String
    var allowed: Bool
    var rule: String?
    init(_ text: String, _ allowed: Bool, _ rule: String? = nil) {
        self.text = text
        self.allowed = allowed
        self.rule = rule
    }
    var testDescription: String { text }
    /// The wrapper this row needs on the machine.
    var wrapper: String { String(text.split(separator: " ")[0]) }
}

private let interpreter = "builtin:interpreter-denylist"
private let wrapped = CommandEvaluator.wrapperRule

/// Rows whose wrapper is installed (watch comes with procps, which minimal systems may lack).
private let wrapperCases: [WrapperCase] = [
    // The attacker's five (issue 14), each allowed on main because its wrapper was.
    .init("env python3 -c 'print(1)'", false, interpreter),
    .init("env sh", false, interpreter),
    .init("find . -exec sh -c id {} +", false, interpreter),
    .init("xargs python3", false, interpreter),
    .init("timeout 5 python3 x.py", false, interpreter),
    // env
    .init("env", true), .init("env -i FOO=1 ls -l", true), .init("env -u HOME -- ls", true), .init("env -iv ls", true),
    .init("env --ignore-environment ls", true), .init("env --ignore-env ls", true), .init("env - ls", true),
    .init("env FOO=1 BAR=2 bash -c id", false, interpreter), .init("env -C /tmp python3", false, interpreter),
    .init("env -S 'python3 -c 1'", false, wrapped), .init("env --split-string=python3", false, wrapped),
    .init("env --frobnicate python3", false, wrapped), .init("env -Z ls", false, wrapped),
    .init("env PATH=/nonexistent ls", false, "builtin:executable-resolution"),
    .init("env env env env env env env env env ls", false, wrapped),
    .init("env $X", false, wrapped),
    // find
    .init("find . -type f", true), .init("find . -name '*.c' -exec ls -l {} \\;", true), .init("find . -execdir ls {} +", true),
    .init("find . -ok perl -e 1 \\;", false, interpreter), .init("find . -okdir node {} \\;", false, interpreter),
    .init("find . -exec ls {} \\; -exec bash {} \\;", false, interpreter), .init("find . -exec ls", false, wrapped),
    .init("find . -exec {} \\;", false, wrapped),
    // xargs: the command's extra arguments are read at run time
    .init("xargs", true), .init("xargs -0 -n1 ls", true), .init("xargs -I{} sh -c 'x {}'", false, interpreter),
    .init("xargs --max-args=2 -P4 echo", true), .init("xargs -i ls", true), .init("xargs --bogus ls", false, wrapped),
    // timeout, nice, nohup, stdbuf, setsid, setpriv, ionice, taskset, chrt
    .init("timeout -s KILL 5 ls", true), .init("timeout --kill-after=1 5 ruby x", false, interpreter),
    .init("nice -n 10 ls", true), .init("nice -10 ls", true), .init("nice python3", false, interpreter),
    .init("nohup bash", false, interpreter), .init("nohup ls", true),
    .init("stdbuf -oL python3", false, interpreter), .init("stdbuf -o L ls", true),
    .init("setsid -f perl", false, interpreter), .init("setsid -w ls", true),
    .init("setpriv --nnp --reuid=1000 dash", false, interpreter), .init("setpriv --no-new-privs ls", true),
    .init("ionice -c 3 node x.js", false, interpreter), .init("ionice -c3 ls", true),
    .init("taskset 0x1 php x", false, interpreter), .init("taskset -c 0 ls", true), .init("taskset -p 1", true),
    .init("chrt -o 0 zsh", false, interpreter), .init("chrt -p 1", true),
    // flock and watch run a shell string unless told otherwise
    .init("flock /tmp/lock ls", true), .init("flock /tmp/lock -c id", false, wrapped), .init("flock -n /tmp/lock python3", false, interpreter),
    .init("watch ls", false, wrapped), .init("watch -x ls", true), .init("watch -n 1 -x python3", false, interpreter),
    // never decidable
    .init("chroot /srv ls", false, wrapped), .init("nsenter -t 1 -m ls", false, wrapped), .init("unshare -r ls", true),
    .init("unshare -R /srv ls", false, wrapped), .init("unshare", false, wrapped), .init("su -c id", false, wrapped),
    .init("runuser -u nobody ls", false, wrapped), .init("script -c id", false, wrapped),
].filter { row in
    ["/usr/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + row.wrapper) }
}

@Suite("Commands that run other commands are decided by what they run")
struct CommandWrapperTests {
    @Test("each wrapper is decided by the command it runs, with the same rules", arguments: wrapperCases)
    func wrapper(_ row: WrapperCase) throws {
        let decision = try wrapperEvaluator().evaluate(shellCommand: row.text, searchPath: standardPath, workingDirectory: "/")
        #expect(decision.isAllowed == row.allowed, "\(row.text): \(decision.verdict)")
        if let rule = row.rule {
            #expect(decision.verdict.rule == rule, "\(row.text): \(decision.verdict)")
        }
        if !row.allowed, row.rule != wrapped {
            // The reason says which wrapper ran what.
            #expect(decision.verdict.reason.contains(" runs '"), "\(decision.verdict.reason)")
        }
    }

    @Test("an argument vector (execve, subprocess) is read the same way as a shell string")
    func argumentVector() throws {
        let evaluator = try wrapperEvaluator()
        let denied = evaluator.evaluate(argv: ["env", "python3", "-c", "1"], searchPath: standardPath, workingDirectory: "/")
        #expect(!denied.isAllowed)
        #expect(denied.verdict.rule == interpreter)
        let allowed = evaluator.evaluate(argv: ["env", "-i", "ls"], searchPath: standardPath, workingDirectory: "/")
        #expect(allowed.isAllowed)
    }

    @Test("args_deny of the command run applies through the wrapper; arguments xargs reads at run time deny it")
    func argsDenyThroughWrappers() throws {
        let evaluator = try wrapperEvaluator(argsDeny: ["-R"])
        #expect(!evaluator.evaluate(shellCommand: "env ls -R", searchPath: standardPath, workingDirectory: "/").isAllowed)
        #expect(evaluator.evaluate(shellCommand: "env ls -l", searchPath: standardPath, workingDirectory: "/").isAllowed)
        let xargs = evaluator.evaluate(shellCommand: "xargs ls", searchPath: standardPath, workingDirectory: "/")
        #expect(!xargs.isAllowed)
        #expect(xargs.verdict.reason.contains("read at run time"))
        let find = evaluator.evaluate(shellCommand: "find . -exec ls {} \\;", searchPath: standardPath, workingDirectory: "/")
        #expect(!find.isAllowed, "{} stands for each file found: its value is unknown")
    }

    @Test("a wrapper that is not allowed itself is denied before what it runs is looked at")
    func wrapperItselfNotAllowed() throws {
        let evaluator = try makeEvaluator([("ls", [])])
        let decision = evaluator.evaluate(shellCommand: "env ls", searchPath: standardPath, workingDirectory: "/")
        #expect(!decision.isAllowed)
        #expect(decision.verdict.rule == "default:allowed_commands")
    }
}
