// Sentinel's own keys never enter a sandbox or a container: with both keys in the operator's
// environment, a workload that reads every environment it can reach (its own, as the C library
// and the kernel keep it, and /proc/PID/environ of every process it can see, PID 1 included)
// finds neither. The run's own records, written outside, are keyed.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

/// Random key values for one run, and the checks on what the workload printed.
struct SandboxKeys {
    let audit = "audit-key-" + UUID().uuidString
    let policy = "policy-key-" + UUID().uuidString
    /// Passed in with `--env SENTINEL_KEYS_VISIBLE`: proof that the environment was printed.
    let visible = "visible-" + UUID().uuidString

    var environment: [String: String] {
        ["SENTINEL_AUDIT_HMAC_KEY": audit, "SENTINEL_POLICY_HMAC_KEY": policy, "SENTINEL_KEYS_VISIBLE": visible]
    }

    /// Prints os.environ, /proc/self/environ and the environ of every process the workload can
    /// see; an unreadable one is named with the error (the guard's, which is not dumpable).
    static let reader = [
        "python3", "-c",
        """
        import glob, os
        print('environ', sorted(os.environ.items()))
        print('self', open('/proc/self/environ', 'rb').read())
        for path in sorted(glob.glob('/proc/[0-9]*/environ')):
            try:
                print(path, open(path, 'rb').read())
            except OSError as error:
                print(path, type(error).__name__)
        """,
    ]

    func expectNoKey(in result: RunResult, sourceLocation: SourceLocation = #_sourceLocation) {
        let output = result.stdout + result.stderr
        #expect(result.stdout.contains(visible), "the environment was not printed: \(output)", sourceLocation: sourceLocation)
        #expect(result.stdout.contains("/proc/1/environ"), "PID 1 was not looked at: \(output)", sourceLocation: sourceLocation)
        for leaked in [audit, policy, "SENTINEL_AUDIT_HMAC_KEY", "SENTINEL_POLICY_HMAC_KEY"] {
            #expect(!output.contains(leaked), "\(leaked) reached the workload: \(output)", sourceLocation: sourceLocation)
        }
    }

    /// Checks the run's own log (beside the workspace): keyed, intact with the key.
    func expectKeyedRunLog(_ scratch: Scratch, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try ChildProcess.run(
            Isolate.sentinelBinary, ["audit", "verify", scratch.base + "/sentinel-audit.log"],
            environment: ["PATH": "/usr/bin:/bin", "SENTINEL_AUDIT_HMAC_KEY": audit])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)", sourceLocation: sourceLocation)
        #expect(verify.stdout.contains("HMAC-SHA256 chain"), "\(verify.stdout)", sourceLocation: sourceLocation)
    }
}

@Suite("sentinel-isolate: Sentinel's keys never enter the sandbox", .serialized, .requires(.root))
struct IsolateKeysTests {
    @Test("native: the workload reads no key anywhere it can look, with the guard inside and without", arguments: Caller.allCases, [false, true])
    func native(caller: Caller, guarded: Bool) throws {
        let scratch = try Scratch(for: caller)
        let keys = SandboxKeys()
        let result = try Isolate.run(
            caller, scratch, flags: ["--env", "SENTINEL_KEYS_VISIBLE"] + (guarded ? ["--guard"] : []), SandboxKeys.reader,
            environment: keys.environment)
        #expect(result.status == 0, "\(result.stderr)")
        keys.expectNoKey(in: result)
        try keys.expectKeyedRunLog(scratch)
    }
}

@Suite(
    "sentinel-isolate --backend docker: Sentinel's keys never enter the container", .serialized, .requires(.root),
    .requires(.docker), .requires(.dockerImage(DockerIsolate.baseImage)))
struct DockerKeysTests {
    @Test("the workload reads no key anywhere it can look, with the guard inside and without", arguments: [true, false])
    func container(guarded: Bool) throws {
        let scratch = try Scratch(for: .unprivileged)
        let keys = SandboxKeys()
        let result = try DockerIsolate.run(
            scratch, flags: ["--env", "SENTINEL_KEYS_VISIBLE"], guarded: guarded, SandboxKeys.reader,
            environment: keys.environment)
        #expect(result.status == 0, "\(result.stderr)")
        keys.expectNoKey(in: result)
        try keys.expectKeyedRunLog(scratch)
        if guarded {
            // The guard inside has no key (it could not hold one the workload, of the same uid,
            // cannot read): its log is chained with SHA-256 and verified without the key.
            let verify = try ChildProcess.run(
                Isolate.sentinelBinary, ["audit", "verify", scratch.base + "/sentinel-audit.log.guard/audit.log"],
                environment: ["PATH": "/usr/bin:/bin"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            #expect(verify.stdout.contains("SHA-256 chain"), "\(verify.stdout)")
        }
    }

    @Test("--dry-run prints a command without the keys, by value or by name")
    func dryRun() throws {
        let scratch = try Scratch(for: .unprivileged)
        let keys = SandboxKeys()
        let result = try DockerIsolate.run(
            scratch, flags: ["--env", "SENTINEL_KEYS_VISIBLE", "--dry-run"], guarded: true, ["true"], environment: keys.environment)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("--env SENTINEL_KEYS_VISIBLE"), "\(result.stdout)")
        for leaked in [keys.audit, keys.policy, "SENTINEL_AUDIT_HMAC_KEY", "SENTINEL_POLICY_HMAC_KEY"] {
            #expect(!result.stdout.contains(leaked), "\(leaked) is in the command: \(result.stdout)")
        }
    }
}
