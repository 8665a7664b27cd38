public import ArgumentParser
import Glibc

/// The `sentinel-isolate` executable's entry point.
public enum IsolateEntry {
    /// Parses `CommandLine.arguments` as `sentinel-isolate` and runs it, synchronously, and exits
    /// with the command's status.
    ///
    /// Synchronous on purpose: no task, no executor, so the process stays single-threaded and the
    /// launcher can fork its sandbox stage instead of re-executing this binary (see
    /// `NativeSandbox`), which halves the cost of a run.
    public static func main() -> Never {
        run(IsolateCommand.self, Array(CommandLine.arguments.dropFirst()), program: "sentinel-isolate")
    }

    /// Runs `command`, except that a usage error prints one sentence and exits 2 (the original
    /// runner's status for every error), not ArgumentParser's 64: across Sentinel, 2 means "the
    /// input was wrong, nothing ran".
    public static func run<C: ParsableCommand>(_ command: C.Type, _ arguments: [String], program: String) -> Never {
        do {
            var parsed = try command.parseAsRoot(arguments)
            try parsed.run()
            exit(0)
        } catch let code as ExitCode {
            // Before ArgumentParser's exitCode(for:), which builds a help message (4 % of a run).
            exit(code.rawValue)
        } catch {
            let code = command.exitCode(for: error)
            if code == .success {
                print(command.fullMessage(for: error))
                exit(0)
            }
            let message = command.message(for: error)
            let line = "\(program): \(message) Run with --help for usage.\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            exit(2)
        }
    }
}
