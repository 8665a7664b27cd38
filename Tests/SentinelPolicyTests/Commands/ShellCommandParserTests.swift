import Foundation
import SentinelPolicy
import SentinelTestSupport
import Testing

/// One command string the parser must refuse, and the reason it must give.
struct RejectedCommand: Sendable, CustomTestStringConvertible {
    let text: String
    let kind: ShellRejection.Kind
    /// The fragment the rejection must name.
    let fragment: String
    var testDescription: String { "\(kind.rawValue): \(text.debugDescription)" }

    init(_ text: String, _ kind: ShellRejection.Kind, _ fragment: String) {
        self.text = text
        self.kind = kind
        self.fragment = fragment
    }
}

/// One command string the parser must accept, with the words and features it must produce.
struct AcceptedCommand: Sendable, CustomTestStringConvertible {
    let text: String
    let words: [String]
    /// The features of each word, in order (`[]` for a literal word).
    let features: [ShellWord.Features]
    var testDescription: String { text.debugDescription }

    init(_ text: String, _ words: [String], _ features: [ShellWord.Features]? = nil) {
        self.text = text
        self.words = words
        self.features = features ?? Array(repeating: [], count: words.count)
    }
}

@Suite("Shell command parsing")
struct ShellCommandParserTests {
    /// `original-system.md` §12.1 items 1 and 2: what the original let through.
    static let originalBypasses: [RejectedCommand] = [
        .init("echo hi\nid", .newline, "\\n"),
        .init("echo hi\r\nid", .carriageReturn, "\\r"),
        .init("echo hi\rid", .carriageReturn, "\\r"),
        .init("echo hi |& id", .controlOperator, "|&"),
        .init("ls &> f", .redirection, "&>"),
        .init("echo x >| f", .redirection, ">|"),
        .init("cat <> f", .redirection, "<>"),
        .init("echo x >&2", .redirection, ">&2"),
        .init("ls 2>&1", .redirection, "2>&1"),
        .init("ls nothere 2>&1", .redirection, "2>&1"),
        .init("case x in x) ls ;| esac", .reservedWord, "case"),
        .init("echo a ;| id", .controlOperator, ";|"),
    ]

    /// Every operator, unquoted: each is refused with the kind that names it.
    static let operators: [RejectedCommand] = [
        .init("echo a; id", .controlOperator, ";"),
        .init("echo a;id", .controlOperator, ";"),
        .init("echo a & id", .controlOperator, "&"),
        .init("echo a&", .controlOperator, "&"),
        .init("echo a && id", .controlOperator, "&&"),
        .init("echo a || id", .controlOperator, "||"),
        .init("echo a | id", .controlOperator, "|"),
        .init("echo a|id", .controlOperator, "|"),
        .init("echo a ;; id", .controlOperator, ";;"),
        .init("echo a ;& id", .controlOperator, ";&"),
        .init("echo a > f", .redirection, ">"),
        .init("echo a>f", .redirection, ">"),
        .init("echo a >> f", .redirection, ">>"),
        .init("cat < f", .redirection, "<"),
        .init("cat << EOF", .redirection, "<<"),
        .init("cat <<- EOF", .redirection, "<<"),
        .init("cat <<< word", .redirection, "<<<"),
        .init("echo a >& f", .redirection, ">&"),
        .init("echo a 1>&-", .redirection, "1>&-"),
        .init("echo a &>> f", .redirection, "&>>"),
        .init("echo (a)", .grouping, "("),
        .init("(id)", .grouping, "("),
        .init("echo a)", .grouping, ")"),
        .init("echo @(x)", .grouping, "("),
        .init("cat <(id)", .processSubstitution, "<("),
        .init("tee >(id)", .processSubstitution, ">("),
        .init("ls\n", .newline, "\\n"),
        .init("\nls", .newline, "\\n"),
        .init("ls \\\nid", .lineContinuation, "\\\\n"),
        .init("echo \"a\\\nb\"", .lineContinuation, "\\\\n"),
    ]

    /// Substitutions, anywhere outside single quotes.
    static let substitutions: [RejectedCommand] = [
        .init("echo $(id)", .commandSubstitution, "$("),
        .init("echo \"$(id)\"", .commandSubstitution, "$("),
        .init("echo a$(id)b", .commandSubstitution, "$("),
        .init("echo `id`", .commandSubstitution, "`"),
        .init("echo \"`id`\"", .commandSubstitution, "`"),
        .init("echo $((1+2))", .arithmeticExpansion, "$(("),
        .init("echo \"$((1+2))\"", .arithmeticExpansion, "$(("),
        .init("echo $[1+2]", .arithmeticExpansion, "$["),
        .init("echo \"$[x]\"", .arithmeticExpansion, "$["),
        .init("echo ${x:-$(id)}", .commandSubstitution, "$("),
        .init("echo ${x:-`id`}", .commandSubstitution, "`"),
        .init("echo ${!x}", .unsupportedParameterExpansion, "${"),
        .init("echo ${a[$i]}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x:1:2}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x@P}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x/a/b}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x^^}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x:-a b}", .unsupportedParameterExpansion, "${"),
        .init("echo ${x:-\"a\"}", .unsupportedParameterExpansion, "${"),
        .init("echo ${}", .unsupportedParameterExpansion, "${"),
        .init("echo $'\\';id;'", .ansiCQuoting, "$'"),
        .init("echo $'a\\' x '; id; '", .ansiCQuoting, "$'"),
    ]

    /// The command name must be fixed by the text: no expansion of any kind.
    static let dynamicNames: [RejectedCommand] = [
        .init("${IFS}ls", .dynamicCommandName, "${IFS}ls"),
        .init("l${IFS}s", .dynamicCommandName, "l${IFS}s"),
        .init("$HOME/bin/tool", .dynamicCommandName, "$HOME/bin/tool"),
        .init("\"$HOME\"/tool", .dynamicCommandName, "\"$HOME\"/tool"),
        .init("$0 -c id", .dynamicCommandName, "$0"),
        .init("$SHELL", .dynamicCommandName, "$SHELL"),
        .init("{ls,-la}", .dynamicCommandName, "{ls,-la}"),
        .init("{l,}s", .dynamicCommandName, "{l,}s"),
        .init("~/bin/tool", .dynamicCommandName, "~/bin/tool"),
        .init("~root/tool", .dynamicCommandName, "~root/tool"),
        .init("/usr/bin/l?", .dynamicCommandName, "/usr/bin/l?"),
        .init("/usr/bin/py*", .dynamicCommandName, "/usr/bin/py*"),
        .init("/usr/bin/[l]s", .dynamicCommandName, "/usr/bin/[l]s"),
        .init("$'ls'", .dynamicCommandName, "$'ls'"),
        .init("$\"ls\"", .dynamicCommandName, "$\"ls\""),
        .init("$", .dynamicCommandName, "$"),
    ]

    /// Assignments before the command change its environment.
    static let assignments: [RejectedCommand] = [
        .init("LD_PRELOAD=/x.so ls", .assignment, "LD_PRELOAD=/x.so"),
        .init("PATH=. ls", .assignment, "PATH=."),
        .init("A= ls", .assignment, "A="),
        .init("a_1='x y' ls", .assignment, "a_1='x y'"),
        .init("X=1", .assignment, "X=1"),
    ]

    /// Reserved words, builtins that run code, comments and malformed text.
    static let otherRejections: [RejectedCommand] = [
        .init("if true", .reservedWord, "if"),
        .init("then ls", .reservedWord, "then"),
        .init("for x in a", .reservedWord, "for"),
        .init("while ls", .reservedWord, "while"),
        .init("until ls", .reservedWord, "until"),
        .init("case x in", .reservedWord, "case"),
        .init("{ ls", .reservedWord, "{"),
        .init("} ls", .reservedWord, "}"),
        .init("! ls", .reservedWord, "!"),
        .init("[[ -f x ]]", .reservedWord, "[["),
        .init("function f", .reservedWord, "function"),
        .init("select x in a", .reservedWord, "select"),
        .init("time ls", .reservedWord, "time"),
        .init("coproc ls", .reservedWord, "coproc"),
        .init("eval id", .shellBuiltin, "eval"),
        .init("exec id", .shellBuiltin, "exec"),
        .init(". ./x", .shellBuiltin, "."),
        .init("source ./x", .shellBuiltin, "source"),
        .init("command python3", .shellBuiltin, "command"),
        .init("builtin eval id", .shellBuiltin, "builtin"),
        .init("trap id EXIT", .shellBuiltin, "trap"),
        .init("# ls", .comment, "#"),
        .init("ls #x", .comment, "#"),
        .init("ls\u{0}x", .nulCharacter, "\\0"),
        .init("ls 'a\u{0}'", .nulCharacter, "\\0"),
        .init("echo 'abc", .unterminated, "'"),
        .init("echo \"abc", .unterminated, "\""),
        // An unclosed double quote ending in a backslash: the parser spun forever (issue 14).
        .init("\"\\", .unterminated, "\""),
        .init("echo \"abc\\", .unterminated, "\""),
        .init("echo \"\\\\\\", .unterminated, "\""),
        .init("echo ${x", .unterminated, "${"),
        .init("echo $'x", .unterminated, "$'"),
        .init("echo \\", .trailingBackslash, "\\"),
        .init("", .emptyCommand, ""),
        .init("   \t ", .emptyCommand, ""),
        .init("'' ls", .emptyCommand, "''"),
    ]

    @Test("Rejected: the original's bypasses", arguments: originalBypasses)
    func originalBypass(_ example: RejectedCommand) throws { try expectRejected(example) }

    @Test("Rejected: unquoted operators and redirections", arguments: operators)
    func unquotedOperator(_ example: RejectedCommand) throws { try expectRejected(example) }

    @Test("Rejected: substitutions and unsafe parameter expansions", arguments: substitutions)
    func substitution(_ example: RejectedCommand) throws { try expectRejected(example) }

    @Test("Rejected: expansions in the command name", arguments: dynamicNames)
    func dynamicName(_ example: RejectedCommand) throws { try expectRejected(example) }

    @Test("Rejected: assignments before the command", arguments: assignments)
    func assignment(_ example: RejectedCommand) throws { try expectRejected(example) }

    @Test("Rejected: reserved words, builtins, comments, malformed text", arguments: otherRejections)
    func otherRejection(_ example: RejectedCommand) throws { try expectRejected(example) }

    /// Quoted operators and substitutions are data; expansions in arguments are reported.
    static let accepted: [AcceptedCommand] = [
        .init("ls -la /tmp", ["ls", "-la", "/tmp"]),
        .init("  ls\t-la  ", ["ls", "-la"]),
        .init("echo \"a|b\"", ["echo", "a|b"]),
        .init("echo 'x;y'", ["echo", "x;y"]),
        .init("echo 'a && b || c'", ["echo", "a && b || c"]),
        .init("echo '2>&1' \"|&\" '<(x)'", ["echo", "2>&1", "|&", "<(x)"]),
        .init("echo '$(id)' '`id`' '$((1))'", ["echo", "$(id)", "`id`", "$((1))"]),
        .init("echo \\$\\(id\\) \\`id\\`", ["echo", "$(id)", "`id`"]),
        .init("echo a\\;b a\\|b a\\&b a\\>b", ["echo", "a;b", "a|b", "a&b", "a>b"]),
        .init("echo \"line1\nline2\"", ["echo", "line1\nline2"]),
        .init("echo 'line1\r\nline2'", ["echo", "line1\r\nline2"]),
        .init("echo \"a\\\"b\" \"c\\\\d\" \"e\\xf\"", ["echo", "a\"b", "c\\d", "e\\xf"]),
        .init("echo \"\\`\"", ["echo", "`"]),
        .init("echo '' \"\"", ["echo", "", ""]),
        .init("echo a#b", ["echo", "a#b"]),
        .init("echo \\#x", ["echo", "#x"]),
        .init("\"/opt/my tool/bin/x\" arg", ["/opt/my tool/bin/x", "arg"]),
        .init("l\"s\" -la", ["ls", "-la"]),
        .init("p'ython3'", ["python3"]),
        .init("make CC=gcc", ["make", "CC=gcc"]),
        .init("\"A=1\" ls", ["A=1", "ls"]),
        .init("echo héllo ✓", ["echo", "héllo", "✓"]),
        .init("echo $HOME", ["echo", "$HOME"], [[], .parameterExpansion]),
        .init("echo \"$HOME/x\"", ["echo", "$HOME/x"], [[], .parameterExpansion]),
        .init("echo ${HOME}", ["echo", "${HOME}"], [[], .parameterExpansion]),
        .init("echo ${x:-default} ${#x} ${x#*.} ${x%%/*}", ["echo", "${x:-default}", "${#x}", "${x#*.}", "${x%%/*}"],
              [[], .parameterExpansion, .parameterExpansion, .parameterExpansion, .parameterExpansion]),
        .init("echo $1 $@ $? $$", ["echo", "$1", "$@", "$?", "$$"],
              [[], .parameterExpansion, .parameterExpansion, .parameterExpansion, .parameterExpansion]),
        .init("echo $'abc'", ["echo", "$'abc'"], [[], .parameterExpansion]),
        .init("ls *.txt", ["ls", "*.txt"], [[], .glob]),
        .init("ls file?.c [ab]", ["ls", "file?.c", "[ab]"], [[], .glob, .glob]),
        .init("ls '*.txt' \\*", ["ls", "*.txt", "*"]),
        .init("ls ~ ~/x ~root", ["ls", "~", "~/x", "~root"], [[], .tilde, .tilde, .tilde]),
        .init("ls a~ '~' \\~", ["ls", "a~", "~", "~"]),
        .init("cp --target=~/x PATH=/a:~/b", ["cp", "--target=~/x", "PATH=/a:~/b"], [[], .tilde, .tilde]),
        .init("echo {a,b} x{1..3}", ["echo", "{a,b}", "x{1..3}"], [[], .brace, .brace]),
        .init("echo {} {x} '{a,b}' {a\\,b}", ["echo", "{}", "{x}", "{a,b}", "{a,b}"]),
        .init("find . -exec echo {} \\;", ["find", ".", "-exec", "echo", "{}", ";"]),
        .init("echo if then fi", ["echo", "if", "then", "fi"]),
    ]

    @Test("Accepted: simple commands, quoted operators, expansions in arguments", arguments: accepted)
    func acceptedCommand(_ example: AcceptedCommand) throws {
        let parsed = try ShellCommandParser.parse(example.text).get()
        #expect(parsed.argv == example.words)
        #expect(parsed.words.map(\.features) == example.features)
        #expect(parsed.isLiteral == example.features.allSatisfy(\.isEmpty))
        #expect(parsed.name == example.words[0])
    }

    @Test("A word's source range covers its quotes")
    func sourceRange() throws {
        let parsed = try ShellCommandParser.parse("  'l's -a").get()
        #expect(parsed.words[0].sourceRange == 2..<6)
        #expect(parsed.words[1].sourceRange == 7..<9)
    }

    @Test("shellText replaces the name with the quoted executable and keeps the rest")
    func shellText() throws {
        let parsed = try ShellCommandParser.parse("l\"s\" -la $HOME/*.txt").get()
        #expect(parsed.shellText(executable: "/usr/bin/ls") == "'/usr/bin/ls' -la $HOME/*.txt")
        #expect(parsed.shellText(executable: "/tmp/it's") == "'/tmp/it'\\''s' -la $HOME/*.txt")
        // The rewritten text is itself one simple command with the executable as its name.
        let reparsed = try ShellCommandParser.parse(parsed.shellText(executable: "/tmp/it's")).get()
        #expect(reparsed.name == "/tmp/it's")
        #expect(reparsed.argv.dropFirst() == parsed.argv.dropFirst())
    }

    @Test("A rejection says what and where, counting columns in characters")
    func rejectionMessage() {
        guard case .failure(let rejection) = ShellCommandParser.parse("echo éé |& id") else {
            Issue.record("expected a rejection")
            return
        }
        #expect(rejection.kind == .controlOperator)
        #expect(rejection.column == 9)
        #expect(rejection.offset == 10)
        #expect(rejection.description == "The operator '|&' at column 9.")
    }

    private func expectRejected(_ example: RejectedCommand, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        switch ShellCommandParser.parse(example.text) {
        case .success(let parsed):
            Issue.record("accepted as \(parsed.argv)", sourceLocation: sourceLocation)
        case .failure(let rejection):
            #expect(rejection.kind == example.kind, sourceLocation: sourceLocation)
            #expect(rejection.fragment == example.fragment, sourceLocation: sourceLocation)
            #expect(!rejection.description.isEmpty && rejection.description.hasSuffix("."), sourceLocation: sourceLocation)
            #expect(rejection.column >= 1, sourceLocation: sourceLocation)
        }
    }
}

/// The parser's words, checked against what real shells pass to a program: each accepted literal
/// command is run by `dash` (Debian's `/bin/sh`) and `bash` with its name replaced by a script
/// that prints its arguments, and the arguments must be the parser's, byte for byte.
@Suite("Shell command parsing agrees with real shells", .serialized)
struct ShellCommandParserShellAgreementTests {
    static let literalExamples = ShellCommandParserTests.accepted.filter { $0.features.allSatisfy(\.isEmpty) }

    @Test("dash and bash see the same words", arguments: literalExamples)
    func sameWords(_ example: AcceptedCommand) throws {
        // A shell function, not a script file: executing a freshly written file races with
        // forks in parallel tests that still hold it open for writing (ETXTBSY, status 126).
        let dumper = "dump_args() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }\n"
        let parsed = try ShellCommandParser.parse(example.text).get()
        let script = dumper + parsed.shellText(executable: "dump_args")
        for shell in ["/usr/bin/dash", "/usr/bin/bash"] {
            let output = try runCapturing(shell, ["-c", script])
            var arguments = output.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            if arguments.last == "" { arguments.removeLast() }
            #expect(arguments == Array(parsed.argv.dropFirst()), "\(shell) -c \(script.debugDescription)")
        }
    }

    private func runCapturing(_ executable: String, _ arguments: [String]) throws -> [UInt8] {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return Array(data)
    }
}
