// `ShellCommandParser.parse` against random and mutated command strings.
//
// Invariants, for every input:
// - the parser neither crashes nor hangs (each call is watched; a call that never returns is
//   reported with its input, as for `"\`, an unclosed double quote ending in a backslash);
// - a rejection has a location inside the text (UTF-8 offset, column from 1) and a sentence;
// - an accepted command has a literal, non-empty list of words whose source ranges lie in the
//   text, in order;
// - parsing is deterministic, and an accepted literal command, written back with every word
//   single-quoted (or with `shellText(executable:)`), parses to the same argument vector.

import Foundation
import Testing
import SentinelPolicy

@Suite("Shell command parser fuzzing")
struct ShellCommandParserFuzzTests {
    @Test("random command strings are parsed or refused with a located sentence, and never hang")
    func fuzzTheParser() async {
        let run = FuzzRun.fromEnvironment(iterations: 200_000, name: "parser")
        print("shell parser fuzz: seed \(run.seed); repeat with SENTINEL_FUZZ_SEED=\(run.seed)")
        let result = await #expect(processExitsWith: .success) { [run = run as FuzzRun] in
            ParserFuzz.run(run)
        }
        let report = run.collectReport()
        print("shell parser fuzz: " + report)
        if result == nil { Issue.record(Comment(rawValue: report)) }
    }
}

/// The child's side of the parser fuzz test.
enum ParserFuzz {
    static let seeds = [
        "ls -la /tmp", "echo \"a|b\"", "git log --format='%H %s'", "echo ${HOME}", "echo $'a\\nb'", "printf '%s\\n' x",
        "grep -r \"needle\" ./src", "echo a\\ b", "cat \"$FILE\"", "echo ~user/x", "echo {a,b}", "ls *.txt", "echo \"\\\"\"",
        "echo 'it'\\''s'", "tar -czf out.tgz dir", "echo é ünï", "echo \"$(id)\"", "a=b ls", "echo \"\\$x\"",
    ]

    static let pieces = [
        "\"", "'", "\\", "$", "`", "(", ")", "{", "}", "[", "]", ";", "&", "|", "<", ">", "#", "~", "*", "?", "=", ":", ",",
        " ", "\t", "\n", "\r", "\u{0}", "a", "b", "ls", "echo", "-x", "/", ".", "..", "0", "9", "${", "$(", "$((", "$'", "$\"",
        "\\\"", "\\\n", "é", "\u{3000}", "🙂", "if", "!", "{a,b}", "2>&1", "&&", "||", "<<", "<(", "$IFS", "${x:-y}", "${#x}",
        "${!x}", "${x[0]}", "\"\\", "'\\",
    ]

    static func run(_ run: FuzzRun) {
        let report = FuzzReport(run)
        let watchdog = Watchdog(limit: .seconds(10), report: report)
        var accepted = 0
        var refused = 0
        let ran = run.forEachIteration(report) { iteration, generator in
            let text = input(using: &generator)
            func fail(_ problem: String) -> Never { report.fail(iteration: iteration, input: text, problem) }
            let result = watchdog.watch(iteration: iteration, input: text) { ShellCommandParser.parse(text) }
            let again = watchdog.watch(iteration: iteration, input: text) { ShellCommandParser.parse(text) }
            guard result == again else { fail("two parses of the same text differ: \(result) then \(again)") }
            let length = text.utf8.count
            switch result {
            case .failure(let rejection):
                refused += 1
                guard (0...length).contains(rejection.offset), rejection.column >= 1,
                      rejection.column <= text.unicodeScalars.count + 1 else {
                    fail("the rejection's position is outside the text: offset \(rejection.offset), column \(rejection.column)")
                }
                guard !rejection.description.isEmpty else { fail("the rejection says nothing: \(rejection.kind)") }
            case .success(let command):
                accepted += 1
                guard !command.words.isEmpty, !command.name.isEmpty else { fail("accepted without a command name") }
                var previousEnd = 0
                for word in command.words {
                    guard word.sourceRange.lowerBound >= previousEnd, word.sourceRange.upperBound <= length,
                          !word.sourceRange.isEmpty else {
                        fail("the word \(FuzzOutput.escaped(word.value)) has the source range \(word.sourceRange)")
                    }
                    previousEnd = word.sourceRange.upperBound
                }
                guard command.isLiteral else { break }
                let quoted = command.argv.map(singleQuoted).joined(separator: " ")
                let reparsed = watchdog.watch(iteration: iteration, input: quoted) { ShellCommandParser.parse(quoted) }
                guard case .success(let back) = reparsed, back.argv == command.argv else {
                    fail("single-quoted again (\(FuzzOutput.escaped(quoted))) it reads \(reparsed)")
                }
                let named = command.shellText(executable: "/usr/bin/" + command.name)
                let renamed = watchdog.watch(iteration: iteration, input: named) { ShellCommandParser.parse(named) }
                guard case .success(let other) = renamed, Array(other.argv.dropFirst()) == Array(command.argv.dropFirst()) else {
                    fail("with the executable's path (\(FuzzOutput.escaped(named))) it reads \(renamed)")
                }
            }
        }
        report.write("seed \(run.seed): \(ran) inputs, \(accepted) accepted, \(refused) refused\n")
        exit(0)
    }

    /// A random string of shell pieces, or a mutated realistic command.
    static func input(using generator: inout FuzzGenerator) -> String {
        if generator.chance(1, in: 2) {
            return (0..<(1 + generator.below(12))).map { _ in generator.pick(pieces) }.joined()
        }
        var scalars = Array(generator.pick(seeds).unicodeScalars)
        for _ in 0..<(1 + generator.below(3)) {
            let position = generator.below(scalars.count + 1)
            switch generator.below(3) {
            case 0: scalars.insert(contentsOf: generator.pick(pieces).unicodeScalars, at: position)
            case 1 where !scalars.isEmpty: scalars.remove(at: min(position, scalars.count - 1))
            default: scalars.removeSubrange(position...)
            }
        }
        var text = ""
        text.unicodeScalars.append(contentsOf: scalars)
        return text
    }

    /// `word` in single quotes, with each `'` written as `'\''`.
    static func singleQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
