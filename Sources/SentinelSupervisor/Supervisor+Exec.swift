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

    /// execve / execveat: read the file name and argv, decide with the command rules (the
    /// interpreter denylist first), and let the call continue or refuse it with EACCES.
    ///
    /// Continuing is the one place the kernel re-reads what was checked: a thread of the command
    /// can rewrite the path or argv between our read and the kernel's. The documentation says so;
    /// Landlock does not help here (it does not restrict which files may be executed by name).
    func planExec(
        _ notification: SeccompNotification, _ target: TargetProcess, dirfd: Int32, path pathAddress: UInt64,
        argv argvAddress: UInt64, flags: Int32
    ) throws(SupervisorError) -> Plan {
        let id = notification.id
        var path = try target.string(at: pathAddress)
        let argv = try target.stringArray(at: argvAddress)
        if path.isEmpty {
            guard flags & Supervisor.atEmptyPath != 0 else { return .answer(.error(ENOENT)) }
            path = try target.link(dirfd == AT_FDCWD ? "cwd" : "fd/\(dirfd)")
        }
        let directory = path.hasPrefix("/") ? "/" : try target.directory(for: dirfd)
        let absolute = path.hasPrefix("/") ? path : (directory == "/" ? "/" : directory + "/") + path
        let commandLine = Self.commandLine(argv.isEmpty ? [path] : argv)

        // The command the operator started is trusted: its first exec is recorded, not decided.
        if notification.pid == initialPid, claimTrustedExec() {
            let request = DecisionRequest(
                action: .exec, target: commandLine,
                verdict: .allow(rule: "guard:operator-command", reason: "The command the operator started is trusted; what it starts is checked."),
                recommendation: "", severity: .low, details: details(notification, ["executable": absolute]))
            return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in continueIfPending(id) }
        }

        // A file that does not exist or cannot be executed fails in the kernel anyway (execvp
        // tries every PATH entry): answer as the kernel would, without a decision.
        if access(absolute, X_OK) != 0 {
            return .answer(.error(Glibc.errno))
        }
        // One readlink of /proc/PID/cwd, not two, when the path was relative to it.
        let workingDirectory =
            !path.hasPrefix("/") && dirfd == AT_FDCWD ? directory : (try? target.directory(for: AT_FDCWD)) ?? "/"
        var verdict = policy.checkExec(
            argv.isEmpty ? [absolute] : argv, executable: absolute, searchesPath: false, workingDirectory: workingDirectory
        ).verdict
        // The kernel runs a script's `#!` interpreter without another execve: check it too, or
        // `./x.sh` would start a denylisted shell unseen.
        if verdict.isAllowed, let interpreter = interpreterVerdict(for: absolute, argv: argv, workingDirectory: workingDirectory) {
            verdict = interpreter
        }
        let canonical = (try? PathResolver.resolve(absolute, workingDirectory: "/").canonical) ?? absolute
        let key = ([canonical] + argv.dropFirst()).joined(separator: "\u{0}")
        if !verdict.isAllowed, isRepeatedExecDenial(tid: notification.pid, key: key) {
            return .answer(.error(EACCES))
        }
        let request = DecisionRequest(
            action: .exec, target: commandLine, verdict: verdict,
            recommendation: "Reject unless this command is required and understood.",
            details: details(notification, ["executable": canonical]))
        let tid = notification.pid
        return .decide(
            [request], refuseWith: EACCES, onDenied: { [self] in rememberExecDenial(tid: tid, key: key) }
        ) { [self] in
            forgetExecDenial(tid: tid)
            continueIfPending(id)
        }
    }

    /// The verdict for the `#!` interpreter chain of `file`, nil when `file` is not a script or
    /// its interpreters are all allowed.
    func interpreterVerdict(for file: String, argv: [String], workingDirectory: String) -> Verdict? {
        var current = file
        for _ in 0..<Self.interpreterDepth {
            guard let (interpreter, argument) = Self.shebang(of: current) else { return nil }
            let interpreterPath = interpreter.hasPrefix("/") ? interpreter : workingDirectory + "/" + interpreter
            let scriptArgv = [interpreter] + (argument.map { [$0] } ?? []) + [current] + argv.dropFirst()
            let decision = policy.checkExec(scriptArgv, executable: interpreterPath, searchesPath: false, workingDirectory: workingDirectory)
            if !decision.isAllowed {
                var verdict = decision.verdict
                verdict.reason = "\(file) is a script run by \(interpreter): " + verdict.reason
                return verdict
            }
            current = interpreterPath
        }
        return nil
    }

    /// The interpreter and optional argument of a `#!` line, as the kernel splits it.
    static func shebang(of file: String) -> (String, String?)? {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(fd, &buffer, buffer.count)
        guard count > 2, buffer[0] == UInt8(ascii: "#"), buffer[1] == UInt8(ascii: "!") else { return nil }
        let line = buffer[2..<count].prefix { $0 != UInt8(ascii: "\n") }
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
