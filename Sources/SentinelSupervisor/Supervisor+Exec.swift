import Foundation
import Glibc
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox

extension Supervisor {
    /// The deepest chain of `#!` interpreters followed (the kernel's own limit since Linux 5.1 is 4).
    static let interpreterDepth = 4

    /// One file of an exec's chain: the file executed, then each `#!` interpreter the kernel
    /// loads for it.
    struct ImageStep {
        /// The file, as identified in the caller's view.
        var identity: FileIdentity
        /// The path that leads to it now (nil when none does: deleted, or moved while decided).
        var canonicalPath: String?
        /// For an interpreter: the name in the `#!` line and its optional argument.
        var shebang: (interpreter: String, argument: String?)?
    }

    /// execve / execveat: find the file the kernel will run *in the calling thread's view*
    /// (``CallerView``: its root, working directory or descriptor; its `/proc/self`; magic links
    /// followed by the kernel), follow its `#!` chain the same way, decide on the files' identities
    /// and canonical paths with the command rules (the interpreter denylist first), and let the
    /// call continue or refuse it with EACCES.
    ///
    /// Continuing is the one place the kernel acts after the check, reading the path and argv
    /// again: the allowed exec is recorded as an ``ExecExpectation`` before it continues, and the
    /// ``ProcessTracer`` compares what the kernel loaded with it at the exec stop, killing the
    /// process on a mismatch before it runs one instruction.
    func planExec(
        _ notification: SeccompNotification, _ target: TargetProcess, dirfd: Int32, path pathAddress: UInt64,
        argv argvAddress: UInt64, flags: Int32
    ) throws(SupervisorError) -> Plan {
        let id = notification.id
        let tid = notification.pid
        let path = try target.string(at: pathAddress)
        let argv = try target.stringArray(at: argvAddress)
        if path.isEmpty, flags & Supervisor.atEmptyPath == 0 { return .answer(.error(ENOENT)) }
        let tgid = try target.threadGroup()
        let followFinal = flags & Supervisor.atSymlinkNoFollow == 0
        let images: [ImageStep]
        do throws(Errno) {
            let file = try CallerView.open(
                path, dirfd: path.hasPrefix("/") ? AT_FDCWD : dirfd, tid: tid, tgid: tgid, followFinal: followFinal,
                reaches: processes.contains)
            // A file that does not exist or cannot be executed fails in the kernel anyway (execvp
            // tries every PATH entry): answer as the kernel would, without a decision.
            guard file.isRegularFile, file.isExecutable else { return .answer(.error(EACCES)) }
            images = try imageChain(file, tid: tid, tgid: tgid)
        } catch {
            return .answer(.error(error.code))
        }
        let shown = path.isEmpty ? (images[0].canonicalPath ?? "descriptor \(dirfd)") : path
        let commandLine = Self.commandLine(argv.isEmpty ? [shown] : argv)
        let executablePath = images[0].canonicalPath ?? shown
        let expectation = ExecExpectation(
            image: images[images.count - 1].identity, imagePath: images[images.count - 1].canonicalPath ?? shown,
            arguments: argv, isScript: images.count > 1, commandLine: commandLine)
        let identity = images[0].identity
        let subject = "\(identity.device):\(identity.inode)\u{0}" + argv.joined(separator: "\u{0}")
        var recorded = ["executable": executablePath, "identity": "\(identity.device):\(identity.inode)"]
        if images.count > 1 { recorded["image"] = expectation.imagePath }

        // The command the operator started is trusted, through the shims it passes on the way to
        // the real program (issue 15): each exec of the chain is recorded, not decided.
        if processes.isInChain(tgid) {
            if !Self.continuesChain(images: images, executable: executablePath, argv: argv) {
                processes.leaveChain(tgid)
            }
            // A `trust_children` entry covers the program when the operator starts it too:
            // `sentinel guard -- make` with `{command: make, trust_children: true}` runs its recipes.
            // Without this the entry only worked for a make that something decided had started.
            let trustRule = execVerdict(argv: argv, typed: path.isEmpty ? executablePath : path, images: images).1
            let reason = trustRule.map {
                "The command the operator started is trusted; what it starts is not decided for exec (\($0))."
            } ?? "The command the operator started is trusted, with the shims it runs on its way; what the program starts is checked."
            let request = DecisionRequest(
                action: .exec, target: commandLine, verdict: .allow(rule: "guard:operator-command", reason: reason),
                recommendation: "", severity: .low, details: details(notification, recorded), subject: subject)
            return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
                if let trustRule { processes.trust(tgid, rule: trustRule) }
                continueVerified(id, tid: tid, expectation)
            }
        }
        // Under a `trust_children` entry (a test runner, a build tool): not decided, recorded.
        if let rule = processes.trustRule(tgid) {
            let request = DecisionRequest(
                action: .exec, target: commandLine,
                verdict: .allow(rule: rule, reason: "Started by a command the policy trusts to start anything (\(rule)); its writes and connects are still decided."),
                recommendation: "", severity: .low, details: details(notification, recorded), subject: subject)
            return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
                continueVerified(id, tid: tid, expectation)
            }
        }

        let (verdict, trustRule) = execVerdict(argv: argv, typed: path.isEmpty ? executablePath : path, images: images)
        let key = subject
        if !verdict.isAllowed, isRepeatedExecDenial(tid: tid, key: key) {
            return .answer(.error(EACCES))
        }
        let request = DecisionRequest(
            action: .exec, target: commandLine, verdict: verdict,
            recommendation: "Reject unless this command is required and understood.",
            details: details(notification, recorded), subject: subject)
        return .decide(
            [request], refuseWith: EACCES, onDenied: { [self] in rememberExecDenial(tid: tid, key: key) }
        ) { [self] in
            forgetExecDenial(tid: tid)
            // trust_children: the program's own children are not decided for exec from now on.
            if let trustRule { processes.trust(tgid, rule: trustRule) }
            continueVerified(id, tid: tid, expectation)
        }
    }

    /// Whether an exec of the operator's chain leads on to another exec rather than to the real
    /// program: a `#!` script (a shim), a command that runs another (`env`), or a shell running a
    /// script file (`bash /path/shim`, as `#!/usr/bin/env bash` makes it). Anything else is the
    /// program the operator meant; what it starts is decided.
    static func continuesChain(images: [ImageStep], executable: String, argv: [String]) -> Bool {
        if images.count > 1 { return true }
        let name = executable.split(separator: "/").last ?? Substring(executable)
        if CommandWrappers.grammar(named: name) != nil { return true }
        let shells: Set<Substring> = ["bash", "sh", "dash", "zsh", "ksh", "mksh", "ash"]
        if shells.contains(name), argv.count > 1, !argv[1].hasPrefix("-"), !argv[1].isEmpty { return true }
        return false
    }

    /// `AT_SYMLINK_NOFOLLOW` (execveat refuses a final symlink with ELOOP).
    static let atSymlinkNoFollow: Int32 = 0x100

    /// Records what the exec may load, then lets it continue; refuses it when nobody is left to
    /// verify it (the command has exited).
    func continueVerified(_ id: UInt64, tid: Int32, _ expectation: ExecExpectation) {
        guard processes.expect(expectation, tid: tid) else {
            return answer(id, .error(EACCES))
        }
        continueIfPending(id)
    }

    /// The verdict on the file executed and on every interpreter of its `#!` chain, each decided
    /// on its identity and canonical path, and the `trust_children` rule that allowed it, if any.
    func execVerdict(argv: [String], typed: String, images: [ImageStep]) -> (Verdict, String?) {
        guard let canonical = images[0].canonicalPath else {
            return (Self.namelessVerdict(typed), nil)
        }
        let decision = policy.checkExec(
            argv.isEmpty ? [typed] : argv, typedName: typed,
            resolved: ResolvedExecutable(path: typed.hasPrefix("/") ? typed : canonical, canonicalPath: canonical, identity: images[0].identity))
        var verdict = decision.verdict
        // trust_children covers the program's own `#!` interpreter (pytest is a Python script).
        if decision.isAllowed, let rule = decision.trustedChildrenRule { return (verdict, rule) }
        // The kernel runs a script's `#!` interpreter without another execve: check it too, or
        // `./x.sh` would start a denylisted shell unseen.
        var current = canonical
        for step in images.dropFirst() where verdict.isAllowed {
            guard let shebang = step.shebang else { break }
            guard let interpreterPath = step.canonicalPath else { return (Self.namelessVerdict(shebang.interpreter), nil) }
            let scriptArgv = [shebang.interpreter] + (shebang.argument.map { [$0] } ?? []) + [current] + argv.dropFirst()
            let decision = policy.checkExec(
                scriptArgv, typedName: shebang.interpreter,
                resolved: ResolvedExecutable(path: interpreterPath, canonicalPath: interpreterPath, identity: step.identity))
            if !decision.isAllowed {
                verdict = decision.verdict
                verdict.reason = "\(canonical) is a script run by \(shebang.interpreter): " + verdict.reason
            }
            current = interpreterPath
        }
        return (verdict, nil)
    }

    /// The denial of a file no path leads to any more.
    static func namelessVerdict(_ name: String) -> Verdict {
        .deny(
            rule: "guard:exec-identity",
            reason: "\(name) is a file no path leads to (deleted, or moved while being decided), so no rule can name it; it is not run.",
            remedy: "Run the program from a path the policy allows.")
    }

    /// The file executed and the `#!` interpreters the kernel will load for it, in order
    /// (at most ``interpreterDepth`` of them, the kernel's own limit since Linux 5.1).
    func imageChain(_ file: consuming CallerFile, tid: Int32, tgid: Int32) throws(Errno) -> [ImageStep] {
        var steps = [ImageStep(identity: file.identity, canonicalPath: file.canonicalPath(), shebang: nil)]
        var current = file
        for _ in 0..<Self.interpreterDepth {
            guard let prefix = current.prefix(256), let shebang = Self.shebang(in: prefix) else { return steps }
            // The kernel opens the interpreter as the calling process, relative to its working
            // directory when the name is relative.
            let next = try CallerView.open(shebang.interpreter, dirfd: AT_FDCWD, tid: tid, tgid: tgid, reaches: processes.contains)
            guard next.isRegularFile else { throw Errno(EACCES) }
            steps.append(ImageStep(identity: next.identity, canonicalPath: next.canonicalPath(), shebang: shebang))
            current = next
        }
        // A fifth `#!` level: the kernel refuses it (ELOOP).
        if let prefix = current.prefix(256), Self.shebang(in: prefix) != nil { throw Errno(ELOOP) }
        return steps
    }

    /// The interpreter and optional argument of a `#!` line, as the kernel splits it.
    static func shebang(in bytes: [UInt8]) -> (interpreter: String, argument: String?)? {
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "#"), bytes[1] == UInt8(ascii: "!") else { return nil }
        let line = bytes[2...].prefix { $0 != UInt8(ascii: "\n") }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: [" ", "\t", "\r"])
        guard !text.isEmpty else { return nil }
        let parts = text.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
        let interpreter = String(parts[0])
        let argument = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: [" ", "\t"]) : nil
        return (interpreter, argument?.isEmpty == true ? nil : argument)
    }

    /// An ASCII letter, digit or one of `-_./=:,+@%`: a byte that never needs quoting. Checked
    /// before the `Character` test, which costs more than the rest of an exec decision's text work.
    static func isPlainASCII(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "="),
            UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    /// argv as one line for people: words with spaces or quotes are single-quoted.
    static func commandLine(_ argv: [String]) -> String {
        argv.map { word in
            if !word.isEmpty, word.utf8.allSatisfy(isPlainASCII) { return word }
            if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) { return word }
            return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }.joined(separator: " ")
    }
}
