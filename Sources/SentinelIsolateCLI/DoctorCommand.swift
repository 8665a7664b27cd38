// `sentinel doctor`: what this kernel offers the sandbox, and (`--attack`) a battery of escape
// attempts run inside a real sandbox on this machine, printed as a scorecard.

public import ArgumentParser
import FoundationEssentials
import Glibc
import SentinelSandbox

/// `sentinel doctor`: checks the kernel features the sandbox uses.
public struct DoctorCommand: AsyncParsableCommand {
    /// Creates the command (ArgumentParser fills in the options).
    public init() {}

    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what this kernel offers the sandbox, and optionally attack it.",
        discussion: """
            Without options: user namespaces, Landlock ABI, seccomp and its actions, cgroups v1/v2, idmapped \
            mounts, and what is missing for which protection, plus one real sandboxed run of /bin/true. \
            With --attack: a built-in battery of escape attempts runs inside a sandbox and prints a scorecard; \
            the exit status is 1 if any attempt was not blocked.
            """
    )

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "Run the built-in escape attempts inside a sandbox and print a scorecard.")
    var attack = false

    /// Runs the checks.
    public mutating func run() async throws {
        if attack {
            try await runAttack()
            return
        }
        var checks = KernelFeatures.probe()
        checks.append(await endToEnd())
        if json {
            print(Self.encode(DoctorReport(checks: checks)))
        } else {
            for check in checks {
                print("\(check.available ? "ok  " : "MISSING") \(check.name): \(check.detail)")
                if let impact = check.impact { print("        -> \(impact)") }
            }
        }
        if checks.contains(where: { $0.name == "sandbox end-to-end" && !$0.available }) { throw ExitCode(1) }
    }

    /// One real sandboxed run of /bin/true in a throwaway workspace.
    private func endToEnd() async -> KernelCheck {
        var template = Array("/tmp/sentinel-doctor-XXXXXX".utf8CString)
        guard let base = mkdtemp(&template).map({ String(cString: $0) }) else {
            return KernelCheck(name: "sandbox end-to-end", available: false, detail: "could not create a temporary directory", impact: nil)
        }
        defer { rmdir(base) }
        let spec = SandboxSpec(command: ["/bin/true"], workspace: base)
        do {
            let report = try await NativeSandbox().run(spec, callerEnvironment: [:])
            let ok = report.exitStatus == 0
            return KernelCheck(
                name: "sandbox end-to-end", available: ok,
                detail: ok ? "/bin/true ran in the sandbox (landlock: \(report.protections.landlock); limits: \(report.protections.limits))" : "/bin/true exited \(report.exitStatus)",
                impact: ok ? nil : "The native sandbox does not work here.")
        } catch {
            return KernelCheck(name: "sandbox end-to-end", available: false, detail: error.description, impact: "The native sandbox does not work here.")
        }
    }

    private func runAttack() async throws {
        let results: [EscapeAttempt]
        do {
            results = try await EscapeBattery.run()
        } catch {
            printError("sentinel doctor --attack: \(error.description)")
            throw ExitCode(2)
        }
        let escaped = results.filter { !$0.blocked }
        if json {
            print(Self.encode(AttackReport(attempts: results, escaped: escaped.count)))
        } else {
            for result in results {
                let verdict = result.blocked ? "blocked    " : "NOT BLOCKED"
                print("\(verdict)  \(result.name): \(result.detail)")
            }
            print("\(results.count - escaped.count) of \(results.count) attempts blocked"
                + (escaped.isEmpty ? "." : "; \(escaped.count) NOT blocked."))
        }
        if !escaped.isEmpty { throw ExitCode(1) }
    }

    private func printError(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    private static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes, .prettyPrinted]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// `sentinel doctor --json`.
struct DoctorReport: Codable {
    var checks: [KernelCheck]
}

/// `sentinel doctor --attack --json`.
struct AttackReport: Codable {
    var attempts: [EscapeAttempt]
    var escaped: Int
}
