// `sentinel doctor --attack` end to end: every attempt of the battery is made and reported
// blocked, for the reason the sandbox gives, as root and as an ordinary user. The memory bomb in
// particular must be stopped by the limit (killed by the cgroup's OOM killer, or refused by
// RLIMIT_AS), never reach its 8 GiB. scripts/smoke-release.sh runs the same against the release
// binary, where the optimiser once removed the bomb's allocations.

import Foundation
import SentinelTestSupport
import Testing

@testable import SentinelSandbox

@Suite("sentinel doctor --attack", .serialized, .requires(.root))
struct DoctorAttackTests {
    struct Report: Decodable {
        var attempts: [EscapeAttempt]
        var escaped: Int
    }

    /// Runs `sentinel doctor --attack --json` as `caller` and decodes what it printed.
    static func attack(as caller: Caller) throws -> (status: Int32, report: Report, stderr: String) {
        var executable = Isolate.sentinelBinary
        var arguments = ["doctor", "--attack", "--json"]
        if caller == .unprivileged {
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", executable] + arguments
            executable = "/usr/bin/setpriv"
        }
        let run = try Isolate.launch(executable, arguments, directory: "/tmp")
        let report = try JSONDecoder().decode(Report.self, from: Data(run.stdout.utf8))
        return (run.status, report, run.stderr)
    }

    @Test("every attempt is made and blocked", arguments: Caller.allCases)
    func everyAttemptIsBlocked(caller: Caller) throws {
        let (status, report, stderr) = try Self.attack(as: caller)
        let escaped = report.attempts.filter { !$0.blocked }.map { "\($0.name): \($0.detail)" }
        #expect(escaped.isEmpty, "\(escaped)")
        #expect(status == 0 && report.escaped == 0, "\(stderr)")
        #expect(report.attempts.map(\.name) == EscapeProbe.attemptNames)
        #expect(report.attempts.count == 44)
        // The reasons, where the attempt itself says which mechanism answered.
        func detail(_ name: String) -> String { report.attempts.first { $0.name == name }?.detail ?? "" }
        #expect(detail("TIOCSTI into the terminal").contains("Operation not permitted (the seccomp rule)"))
        #expect(detail("gain privileges through setuid (no_new_privs, nosuid)").contains("AT_SECURE 0: the bit had no effect"))
        #expect(detail("see a host process") == "not visible")
    }

    @Test("the memory bomb is stopped by the limit, not allowed to complete", arguments: Caller.allCases)
    func memoryBombMeetsTheLimit(caller: Caller) throws {
        let (_, report, _) = try Self.attack(as: caller)
        let bomb = try #require(report.attempts.first { $0.name == "memory bomb" })
        #expect(bomb.blocked, "\(bomb.detail)")
        #expect(!bomb.detail.contains("8 GiB allocated"))
        if caller == .root {
            // The cgroup's OOM killer, seen from outside the sandbox in the cgroup's own counter.
            #expect(bomb.detail.hasPrefix("killed by SIGKILL after "), "\(bomb.detail)")
            #expect(bomb.detail.contains("the memory cgroup recorded the OOM kill"), "\(bomb.detail)")
        } else {
            // An ordinary user without a delegated cgroup: RLIMIT_AS refuses the mapping.
            #expect(bomb.detail.hasPrefix("mmap refused after "), "\(bomb.detail)")
        }
    }
}
