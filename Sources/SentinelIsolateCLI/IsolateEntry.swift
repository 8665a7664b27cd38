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
    ///
    /// An ordinary launch line is read by `IsolateCommand.scanned` without ArgumentParser's
    /// reflection (5 ms of a launch); anything else goes to ArgumentParser.
    public static func main() -> Never {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--generate-completion-script" {
            printCompletionScript(shell: arguments.count > 1 ? arguments[1] : nil)
        }
        if var command = IsolateCommand.scanned(arguments) {
            do {
                try command.run()
                Glibc.exit(0)
            } catch {
                finish(IsolateCommand.self, after: error, program: "sentinel-isolate")
            }
        }
        run(IsolateCommand.self, arguments, program: "sentinel-isolate")
    }

    /// Runs `command`, except that a usage error prints one sentence and exits 2 (the original
    /// runner's status for every error), not ArgumentParser's 64: across Sentinel, 2 means "the
    /// input was wrong, nothing ran".
    public static func run<C: ParsableCommand>(_ command: C.Type, _ arguments: [String], program: String) -> Never {
        do {
            var parsed = try command.parseAsRoot(arguments)
            try parsed.run()
            Glibc.exit(0)
        } catch {
            finish(command, after: error, program: program)
        }
    }

    /// Prints the completion script for `sentinel-isolate` and exits. ArgumentParser names the
    /// script after the command, `isolate` (its name under `sentinel isolate`), so a shell that
    /// loaded it would complete a command called `isolate`; the names are rewritten to the
    /// executable's. `shell` nil: the one `$SHELL` names, as ArgumentParser does.
    static func printCompletionScript(shell name: String?) -> Never {
        guard let shell = name.map({ CompletionShell(rawValue: $0) }) ?? CompletionShell.autodetected() else {
            let line = "sentinel-isolate: --generate-completion-script needs a shell it knows: bash, zsh or fish (\(name ?? "$SHELL names none of them")).\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
            Glibc.exit(2)
        }
        print(completionScript(IsolateCommand.completionScript(for: shell), shell: shell), terminator: "")
        Glibc.exit(0)
    }

    /// `script` (generated for the command name `isolate`) renamed for `sentinel-isolate`: its
    /// functions (`_isolate…` becomes `_sentinel_isolate…`) and the command it registers.
    static func completionScript(_ script: String, shell: CompletionShell) -> String {
        var renamed = script.replacing("_isolate", with: "_sentinel_isolate")
        switch shell {
        case .bash:
            // The last line, `complete -o filenames -F _isolate isolate`, without a newline.
            renamed = renamed.replacing("-F _sentinel_isolate isolate", with: "-F _sentinel_isolate sentinel-isolate")
        case .zsh:
            // `#compdef isolate` first, and `compdef _isolate isolate` when sourced by hand.
            renamed = renamed.replacing("#compdef isolate\n", with: "#compdef sentinel-isolate\n")
                .replacing("compdef _sentinel_isolate isolate", with: "compdef _sentinel_isolate sentinel-isolate")
        default:
            // fish: `complete -c 'isolate'`, the `case 'isolate'` that starts the command path, and
            // the command paths the conditions expect ("isolate", "isolate help").
            renamed = renamed.replacing("'isolate'", with: "'sentinel-isolate'")
                .replacing("\"isolate\"", with: "\"sentinel-isolate\"").replacing("\"isolate ", with: "\"sentinel-isolate ")
        }
        return renamed
    }

    /// Ends the process after `command` threw `error`: an `ExitCode` is the status; help and
    /// version print and exit 0; anything else is one sentence on stderr and status 2.
    public static func finish<C: ParsableCommand>(_ command: C.Type, after error: any Error, program: String) -> Never {
        // Before ArgumentParser's exitCode(for:), which builds a help message (4 % of a run).
        if let code = error as? ExitCode { Glibc.exit(code.rawValue) }
        let code = command.exitCode(for: error)
        if code == .success {
            print(command.fullMessage(for: error))
            Glibc.exit(0)
        }
        let line = "\(program): \(command.message(for: error)) Run with --help for usage.\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(2)
    }
}
