// `sentinel entrypoint -- COMMAND…`: what the Sentinel image's entrypoint (scripts/entrypoint.sh)
// hands every command to, and what `sentinel-isolate --guard` runs inside the native sandbox.
// Hidden from --help: it only makes sense inside a container or sandbox Sentinel set up, where it
// decides the policy, the guard's records and production's rules (ContainerEntrypoint), then
// replaces itself with `sentinel guard` or the command. Without a command it checks the setup.

import ArgumentParser
import Glibc
import SentinelPolicy
import SentinelSandbox

/// `sentinel entrypoint`.
struct EntrypointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entrypoint",
        abstract: "Run a command in the Sentinel image: the policy read-only, the guard's records out of its reach.",
        discussion: "Called by the image's entrypoint (scripts/entrypoint.sh); see docs/DOCKER.md.",
        shouldDisplay: false
    )

    @Argument(parsing: .captureForPassthrough, help: "The command to run, after --.")
    var command: [String] = []

    /// Decides, then executes (this process becomes the guard or the command); prints one
    /// sentence and exits 2 when it refuses, 127 or 126 when the command cannot be executed.
    func run() throws {
        let argv = command.first == "--" ? Array(command.dropFirst()) : command
        let environment = SentinelEnvironment.current()
        // No command (`docker-compose --profile NAME up`, a bare `docker run IMAGE`): check the
        // setup and say what a command would run under, instead of printing `sentinel --help`.
        if argv.isEmpty {
            let status = ContainerEntrypoint.status(environment: environment)
            for line in status.lines { print(line) }
            throw ExitCode(status.status)
        }
        let plan: ContainerEntrypoint.Plan
        do {
            plan = try ContainerEntrypoint.plan(command: argv, environment: environment)
        } catch {
            Self.say(error.description)
            throw ExitCode(error.exitStatus)
        }
        for note in plan.notes { Self.say(note) }
        // Synchronous from here to execve: the Landlock ruleset of an unguarded command applies
        // to the calling thread, which must be the one that executes the command.
        let failure: SandboxError
        switch plan.launch {
        case .guarded(let arguments):
            failure = ContainerEntrypoint.execSentinel(arguments, environment: plan.environment)
        case .unguarded(let protecting):
            failure = ContainerEntrypoint.execCommand(argv, protecting: protecting, environment: plan.environment)
        }
        Self.say(failure.description)
        throw ExitCode(failure.exitStatus)
    }

    /// One line on stderr, named as the entrypoint's own lines always were.
    static func say(_ text: String) {
        let line = "sentinel-entrypoint: \(text)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
