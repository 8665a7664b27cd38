// Log mode and the notification primitives on the real kernel: the filtered command hands its
// listener to the test over a Unix socket (SCM_RIGHTS), the test (outside the filter) answers.

import Foundation
import Glibc
import SentinelSandbox
import SentinelTestSupport
import Synchronization
import Testing

/// Answers notifications on a background thread until told to stop.
final class SeccompTestSupervisor: Sendable {
    private final class State: Sendable {
        let stop = Atomic<Bool>(false)
        let done = Atomic<Bool>(false)
    }

    private let state = State()

    init(_ notifier: SeccompNotifier, _ handle: @escaping @Sendable (SeccompNotification) throws -> Void) {
        let state = self.state
        let thread = Thread {
            while !state.stop.load(ordering: .acquiring) {
                guard let event = try? notifier.wait(timeoutMilliseconds: 50) else { break }
                if event == .hangUp { break }
                guard event == .notification else { continue }
                guard let notification = try? notifier.receive() else { continue }
                try? handle(notification)
            }
            state.done.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// Stops the loop and waits for it.
    func finish() {
        state.stop.store(true, ordering: .releasing)
        while !state.done.load(ordering: .acquiring) { usleep(1000) }
    }
}

@Suite(.serialized) struct SeccompLogModeTests {
    static let script = #"""
        import ctypes, json, os, socket, sys
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        NR = json.loads(sys.argv[1])
        def call(name, *args):
            ctypes.set_errno(0)
            result = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_ulong(a & 0xFFFFFFFFFFFFFFFF) for a in args])
            return ctypes.get_errno() if result < 0 else 0
        def sock(family, kind):
            try:
                socket.socket(family, kind).close()
                return 0
            except OSError as error:
                return error.errno
        results = {
            "keyctl": call("keyctl", 0, -3, 0),
            "ptrace": call("ptrace", 2, os.getppid(), 0, 0),
            "socket_vsock": sock(40, socket.SOCK_STREAM),
            "clone3": call("clone3", 0, 0),
        }
        os.sched_setaffinity(0, os.sched_getaffinity(0))
        results["sched_setaffinity"] = 0
        print(json.dumps(results))
        """#

    static func numbers() throws -> String {
        let table = try #require(SeccompArchitecture.native).syscalls
        let names = ["keyctl", "ptrace", "clone3"]
        return "{" + names.map { "\"\($0)\": \(table.number(of: $0)!)" }.joined(separator: ", ") + "}"
    }

    /// Runs `command` under the profile in log mode with the test as the supervisor.
    static func runInLogMode(_ profilePath: String, _ command: [String]) throws -> (SeccompRun, SeccompDenialReport) {
        let profile = try SeccompProfile.load(contentsOf: profilePath)
        let plan = try #require(try Seccomp.plan(profile: profile, mode: .log, options: SeccompCompiler.Options()))
        #expect(plan.behaviour == .logToListener)
        let pair = try SeccompHelper.handoffPair()
        defer { close(pair.supervisor) }
        let child = try SeccompHelper.start(
            ["--profile", profilePath, "--mode", "log"], command, listenerSocket: pair.sandbox)
        close(pair.sandbox)
        let notifier: SeccompNotifier
        do {
            notifier = try SeccompHandoff.receiveListener(from: pair.supervisor)
        } catch {
            Issue.record("no listener: \(error); helper: \(try child.wait())")
            throw error
        }
        let session = try SeccompLogSession.start(notifier: notifier, enforcedRules: plan.enforcedRules)
        let run = try child.wait()
        return (run, session.finish())
    }

    @Test(.requires(.python3))
    func deniedCallsRunAndAreReportedWithTheirRule() throws {
        let (run, report) = try Self.runInLogMode(
            SeccompFixtures.strictPath, [SeccompProbes.python, "-c", Self.script, Self.numbers()])
        #expect(run.succeeded, "\(run)")
        let results = try SeccompProbes.parse(run.standardOutput)
        // Let through: keyctl works, ptrace reaches the kernel (ESRCH), vsock is not refused by us.
        #expect(results["keyctl"] == 0)
        #expect(results["ptrace"] == Int(ESRCH))
        #expect(results["socket_vsock"] != Int(EPERM))
        #expect(results["sched_setaffinity"] == 0)
        // ENOSYS rules are kept in log mode: glibc still falls back to clone.
        #expect(results["clone3"] == Int(ENOSYS))

        func entry(_ name: String) -> SeccompDenialReport.Entry? { report.entries.first { $0.syscall == name } }
        let keyctl = try #require(entry("keyctl"), "\(report.lines())")
        #expect(keyctl.count == 1 && keyctl.wouldBe == .errno(1))
        #expect(keyctl.rule?.contains("kernel keyrings") == true)
        // PTRACE_PEEKDATA: refused by the default action (only the guard's tracer requests have
        // rules), so the report names no rule but what the profile would have done.
        #expect(entry("ptrace")?.wouldBe == .errno(1))
        let socket = try #require(entry("socket"))
        #expect(socket.rule?.contains("AF_VSOCK") == true)
        #expect(socket.arguments.contains { $0.arguments.hasPrefix("arg0=0x28 ") })
        let affinity = try #require(entry("sched_setaffinity"))
        #expect(affinity.rule == nil && affinity.count == 1)
        #expect(entry("clone3") == nil)
        #expect(report.problems.isEmpty)

        let lines = report.lines()
        #expect(lines[0].hasPrefix("seccomp log mode: the profile would have denied"))
        #expect(lines.contains { $0.contains("keyctl ×1 → ERRNO(1), denied by syscalls[") })
        #expect(lines.contains { $0.contains("sched_setaffinity ×1 → ERRNO(1), not allowed by any rule") })
    }

    /// The suggested profile allows what only the default denied, keeps every deny rule, and
    /// really lets the command's sched_setaffinity through in enforce mode.
    @Test(.requires(.python3))
    func theSuggestedProfileAllowsWhatTheDefaultDeniedAndNothingElse() throws {
        let (_, report) = try Self.runInLogMode(
            SeccompFixtures.strictPath, [SeccompProbes.python, "-c", Self.script, Self.numbers()])
        let strict = try SeccompProfile.load(contentsOf: SeccompFixtures.strictPath)
        let (suggested, notAdded) = report.suggestedProfile(from: strict)
        let added = suggested.syscalls.dropFirst(strict.syscalls.count)
        #expect(Array(suggested.syscalls.prefix(strict.syscalls.count)) == strict.syscalls)
        #expect(
            added.contains {
                $0.names == ["sched_setaffinity"] && $0.comment?.contains("1 call in a log-mode run") == true
            })
        #expect(
            !added.contains {
                $0.names.contains("keyctl") || $0.names.contains("socket") || $0.names.contains("ptrace")
            })
        #expect(notAdded.contains { $0.hasPrefix("keyctl (×1) is denied by syscalls[") })

        let file = try SeccompProbes.writeTemporary(Array(suggested.jsonText().utf8), name: "suggested.json")
        defer { try? FileManager.default.removeItem(at: file) }
        let run = try SeccompHelper.run(
            ["--profile", file.path], [SeccompProbes.python, "-c", Self.script, Self.numbers()])
        #expect(run.succeeded, "\(run)")
        let results = try SeccompProbes.parse(run.standardOutput)
        #expect(results["sched_setaffinity"] == 0)
        #expect(results["keyctl"] == Int(EPERM))
    }

    @Test func aReportWithNothingDeniedSaysSo() throws {
        let (run, report) = try Self.runInLogMode(SeccompFixtures.strictPath, ["/bin/sh", "-c", "echo quiet"])
        #expect(run.succeeded && run.standardOutput == "quiet\n", "\(run)")
        #expect(report.entries.isEmpty, "\(report.lines())")
        #expect(report.lines() == ["seccomp log mode: the profile would have denied no system call."])
    }

    /// The general primitives `sentinel guard` builds on: notify on chosen calls, read their
    /// arguments, answer with a value or an error.
    @Test(.requires(.python3))
    func theSupervisorAnswersWithValuesAndErrors() throws {
        let table = try #require(SeccompArchitecture.native).syscalls
        let getppid = try #require(table.number(of: "getppid"))
        let kill = try #require(table.number(of: "kill"))
        let pair = try SeccompHelper.handoffPair()
        defer { close(pair.supervisor) }
        let script = """
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            print(libc.syscall(\(getppid)))
            result = libc.syscall(\(kill), 0x12345678, 0)
            print(result, ctypes.get_errno())
            """
        let child = try SeccompHelper.start(
            ["--notify", "getppid,kill"], [SeccompProbes.python, "-c", script], listenerSocket: pair.sandbox)
        close(pair.sandbox)
        let notifier = try SeccompHandoff.receiveListener(from: pair.supervisor)
        // Recorded here and checked on the test's own thread.
        let seen = Mutex<[(number: UInt32, pending: Bool, pid: Int32)]>([])
        let supervisor = SeccompTestSupervisor(notifier) { notification in
            seen.withLock {
                $0.append((notification.data.number, notifier.isPending(notification.id), notification.pid))
            }
            if notification.data.number == getppid {
                try notifier.respond(to: notification.id, with: .value(4242))
            } else if notification.data.number == kill, notification.data.arguments[0] == 0x1234_5678 {
                try notifier.respond(to: notification.id, with: .error(EACCES))
            } else {
                try notifier.respond(to: notification.id, with: .continue)
            }
        }
        let run = try child.wait()
        supervisor.finish()
        #expect(run.succeeded, "\(run)")
        #expect(run.standardOutput == "4242\n-1 \(EACCES)\n", "\(run)")
        let notifications = seen.withLock { $0 }
        #expect(notifications.contains { $0.number == kill } && notifications.contains { $0.number == getppid })
        #expect(notifications.allSatisfy { $0.pending && $0.pid > 0 })
    }

    /// ADDFD: the supervisor puts one of its fds into the target and answers with its number.
    @Test(.requires(.python3))
    func theSupervisorCanInstallAnFileDescriptorInTheTarget() throws {
        let table = try #require(SeccompArchitecture.native).syscalls
        let getppid = try #require(table.number(of: "getppid"))
        var pipeFDs: [Int32] = [-1, -1]
        try #require(pipe(&pipeFDs) == 0)
        defer { close(pipeFDs[0]) }
        let pair = try SeccompHelper.handoffPair()
        defer { close(pair.supervisor) }
        let script = """
            import ctypes, os
            fd = ctypes.CDLL(None).syscall(\(getppid))
            os.write(fd, b"through addfd")
            """
        let child = try SeccompHelper.start(
            ["--notify", "getppid"], [SeccompProbes.python, "-c", script], listenerSocket: pair.sandbox)
        close(pair.sandbox)
        let notifier = try SeccompHandoff.receiveListener(from: pair.supervisor)
        let writeEnd = pipeFDs[1]
        let supervisor = SeccompTestSupervisor(notifier) { notification in
            _ = try notifier.addFileDescriptor(writeEnd, to: notification.id, answeringWithIt: true)
        }
        let run = try child.wait()
        supervisor.finish()
        close(pipeFDs[1])
        #expect(run.succeeded, "\(run)")
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(pipeFDs[0], &buffer, buffer.count)
        #expect(count > 0 && String(decoding: buffer[0..<max(count, 0)], as: UTF8.self) == "through addfd")
    }

    /// Without user notification, log mode falls back to SECCOMP_RET_LOG, says so, and still
    /// lets the calls through (here on the real kernel, with the fallback forced).
    @Test(.requires(.python3))
    func withoutUserNotificationLogModeFallsBackToTheKernelLog() throws {
        let profile = try SeccompProfile.load(contentsOf: SeccompFixtures.strictPath)
        let plan = try #require(
            try Seccomp.plan(
                profile: profile, mode: .log, options: SeccompCompiler.Options(),
                userNotification: .unavailable("Linux 5.4 cannot let a notified call continue (Linux 5.5)")))
        #expect(plan.behaviour == .logToKernel && !plan.needsListener)
        #expect(
            plan.notes.count == 1 && plan.notes[0].contains("SECCOMP_RET_LOG") && plan.notes[0].contains("Linux 5.4"))
        let architecture = try #require(SeccompArchitecture.native)
        let keyctl = try #require(architecture.syscalls.number(of: "keyctl"))
        let clone3 = try #require(architecture.syscalls.number(of: "clone3"))
        func decided(_ number: UInt32) -> SeccompAction {
            plan.installedRules.decide(SeccompData(number: number, architecture: architecture.auditArchitecture)).action
        }
        #expect(decided(keyctl) == .log && decided(clone3) == .errno(38))

        let run = try SeccompHelper.run(
            ["--profile", SeccompFixtures.strictPath, "--mode", "log", "--kernel-log"],
            [SeccompProbes.python, "-c", Self.script, Self.numbers()])
        #expect(run.succeeded, "\(run)")
        #expect(run.standardError.contains("SECCOMP_RET_LOG"))
        let results = try SeccompProbes.parse(run.standardOutput)
        #expect(results["keyctl"] == 0 && results["sched_setaffinity"] == 0 && results["clone3"] == Int(ENOSYS))
    }

    @Test func aHandoffWithoutAListenerIsReported() throws {
        let pair = try SeccompHandoff.makeSocketPair()
        close(pair.sandbox)
        let error = try #require(throws: SeccompError.self) {
            try SeccompHandoff.receiveListener(from: pair.supervisor)
        }
        close(pair.supervisor)
        #expect(error.code == .handoffFailed)
        #expect(error.description.contains("closed the socket without sending"))
    }
}
