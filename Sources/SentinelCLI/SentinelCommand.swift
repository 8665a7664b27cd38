public import ArgumentParser
import Foundation
import Glibc
import SentinelIsolateCLI

/// The `sentinel` command: the root of every subcommand.
///
/// Subcommands each live in their own file (`PolicyCommand.swift`, `AuditCommand.swift`, …) and are
/// listed here.
public struct SentinelCommand: AsyncParsableCommand {
    /// Creates the command (ArgumentParser fills in the options).
    public init() {}

    /// The command's name, summary and subcommands.
    public static let configuration = CommandConfiguration(
        commandName: "sentinel",
        abstract: "Run AI agents and other untrusted code under a policy you wrote.",
        discussion: """
            Isolation mode (`sentinel isolate`, also installed as `sentinel-isolate`) runs a command in a \
            sandbox. Compatibility mode (`sentinel guard`) checks every exec, file write and connect of a \
            program against the policy, asks a human when the policy says no, and records every decision.
            """,
        version: SentinelVersion.current,
        subcommands: [
            PolicyCommand.self, IsolateCommand.self, GuardCommand.self, ProxyCommand.self, DoctorCommand.self,
            AuditCommand.self, BenchCommand.self, EntrypointCommand.self, CACommand.self,
        ]
    )
}

/// The version printed by `--version`.
public enum SentinelVersion {
    /// The release this build belongs to.
    public static let current = "0.1.0"
}

/// The entry points of the executables, so that they need not import ArgumentParser.
public enum CommandLineEntry {
    /// Parses `CommandLine.arguments` as the `sentinel` command and runs it; exits the process.
    public static func sentinel() async -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `sentinel guard … -- COMMAND` skips ArgumentParser when its line is plain (GuardInvocation).
        if arguments.first == "guard", let invocation = GuardInvocation.scan(arguments.dropFirst()) {
            do {
                try await invocation.run()
                exit(0)
            } catch let code as ExitCode {
                exit(code.rawValue)
            } catch {
                let line = "sentinel guard: \(error)\n"
                _ = line.withCString { write(2, $0, strlen($0)) }
                exit(2)
            }
        }
        await runWithExitStatus2(SentinelCommand.self, arguments, program: "sentinel")
    }

    /// Runs `command` with ArgumentParser, except that a usage error prints one sentence and
    /// exits 2 (the original runner's status for every error), not ArgumentParser's 64: across
    /// Sentinel, 2 means "the input was wrong, nothing ran".
    static func runWithExitStatus2<C: ParsableCommand>(_ command: C.Type, _ arguments: [String], program: String) async -> Never {
        do {
            var parsed = try command.parseAsRoot(arguments)
            if var asyncCommand = parsed as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try parsed.run()
            }
            exit(0)
        } catch {
            IsolateEntry.finish(command, after: error, program: program)
        }
    }
}
