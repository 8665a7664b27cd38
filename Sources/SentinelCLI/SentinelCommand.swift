public import ArgumentParser
import Glibc

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
        subcommands: [AuditCommand.self]
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
        await SentinelCommand.main()
        exit(0)
    }
}
