/// One word of a simple command, after quote removal.
///
/// A word is *literal* when the shell would pass it to the program exactly as `value` says. A
/// word with any feature below is not: its value depends on the environment, the file system or
/// the shell in use, so a runner must not exec it directly (it passes the text to `/bin/sh -c`),
/// and a rule that inspects arguments cannot know what it will see.
public struct ShellWord: Sendable, Hashable {
    /// What makes a word's value differ from its text.
    public struct Features: OptionSet, Sendable, Hashable {
        /// The raw bit set.
        public let rawValue: UInt8

        /// Creates a feature set from its raw bits.
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// A parameter expansion outside single quotes: `$NAME`, `$1`, `$@`, `${NAME…}`, or the
        /// bash-only `$'…'` and `$"…"` (which `dash` reads as `$` followed by a quoted string).
        public static let parameterExpansion = Features(rawValue: 1 << 0)
        /// An unquoted `*`, `?` or `[`: pathname expansion against the working directory.
        public static let glob = Features(rawValue: 1 << 1)
        /// An unquoted `~` at the start of the word or after an unquoted `=` or `:` (bash expands
        /// `name=~/x` even outside assignments).
        public static let tilde = Features(rawValue: 1 << 2)
        /// An unquoted `{` … `}` holding an unquoted `,` or `..`: bash and zsh brace expansion.
        public static let brace = Features(rawValue: 1 << 3)
    }

    /// The word after quote removal. For a word with features, expansions are kept as written
    /// (`$HOME`, `${x:-y}`, `*.txt`): the value the shell would produce is not known here.
    public var value: String
    /// What, if anything, makes the value depend on the environment or the file system.
    public var features: Features
    /// Where the word is in the command text, as UTF-8 offsets (quotes included).
    public var sourceRange: Range<Int>

    /// Creates a word.
    public init(value: String, features: Features = [], sourceRange: Range<Int>) {
        self.value = value
        self.features = features
        self.sourceRange = sourceRange
    }

    /// Whether the shell would pass `value` unchanged.
    public var isLiteral: Bool { features.isEmpty }
}

/// A command string that is one simple command: a command name and its arguments, with no
/// operators, redirections, substitutions or assignments.
public struct ParsedCommand: Sendable, Hashable {
    /// The text that was parsed.
    public let text: String
    /// The words, never empty; the first is the command name, which is always literal.
    public let words: [ShellWord]

    /// Creates a parsed command (the parser is the only producer that checks the invariants).
    init(text: String, words: [ShellWord]) {
        self.text = text
        self.words = words
    }

    /// The command name, after quote removal.
    public var name: String { words[0].value }

    /// The words' values: the argument vector when `isLiteral`.
    public var argv: [String] { words.map(\.value) }

    /// Whether every word is literal, so that the runner may exec `argv` without a shell.
    public var isLiteral: Bool { words.allSatisfy(\.isLiteral) }

    /// The command text with the command name replaced by `executable`, single-quoted.
    ///
    /// A runner that must pass a non-literal command to `/bin/sh -c` uses this so that the shell
    /// runs exactly the executable the decision named: an absolute path is neither searched on
    /// the shell's `PATH` nor taken for a shell builtin or function. The name is always literal,
    /// so replacing it does not change how the rest of the text is read.
    public func shellText(executable: String) -> String {
        let utf8 = Array(text.utf8)
        let range = words[0].sourceRange
        var quoted: [UInt8] = [UInt8(ascii: "'")]
        for byte in executable.utf8 {
            if byte == UInt8(ascii: "'") {
                quoted.append(contentsOf: Array("'\\''".utf8))
            } else {
                quoted.append(byte)
            }
        }
        quoted.append(UInt8(ascii: "'"))
        return String(decoding: utf8[..<range.lowerBound] + quoted + utf8[range.upperBound...], as: UTF8.self)
    }
}

/// Why a command string is not accepted as one simple command.
public struct ShellRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was found.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `;`, `&`, `|`, `&&`, `||`, `|&`, `;;`, `;&`, `;|`: more than one command, or a pipeline.
        case controlOperator = "control-operator"
        /// `<`, `>`, `>>`, `<<`, `<<<`, `<>`, `>|`, `>&`, `&>`, `2>&1`: a redirection.
        case redirection
        /// `(` or `)`: a subshell or grouping (also bash/zsh extended globs).
        case grouping
        /// An unquoted newline, which separates commands.
        case newline
        /// An unquoted carriage return (the first half of a CRLF separator).
        case carriageReturn = "carriage-return"
        /// Backslash followed by newline, which the shell removes to join lines.
        case lineContinuation = "line-continuation"
        /// `$(…)` or a backquote, outside single quotes.
        case commandSubstitution = "command-substitution"
        /// `$((…))` or bash's `$[…]`, outside single quotes (bash evaluates array subscripts in
        /// it, which can run commands).
        case arithmeticExpansion = "arithmetic-expansion"
        /// `<(…)` or `>(…)`.
        case processSubstitution = "process-substitution"
        /// A `${…}` form whose evaluation can run commands or is not understood here: indirection
        /// `${!x}`, subscripts `${a[i]}`, substrings `${x:1}`, bash transformations `${x@P}`,
        /// replacement `${x/a/b}`, case changes, quotes or nested expansions inside.
        case unsupportedParameterExpansion = "unsupported-parameter-expansion"
        /// bash's `$'…'` holding a backslash: bash and `dash` disagree on where it ends, so the
        /// rest of the line would be read differently by the two shells.
        case ansiCQuoting = "ansi-c-quoting"
        /// The command name holds an expansion, glob, tilde or brace expansion, so what runs
        /// depends on the environment (`${IFS}`, `$HOME`, `{ls,-la}`, `~/x`).
        case dynamicCommandName = "dynamic-command-name"
        /// `NAME=value` before the command (`LD_PRELOAD=/x.so ls`, `PATH=. ls`).
        case assignment
        /// A reserved word as the command name (`if`, `for`, `{`, `!`, `[[`, `function`, …).
        case reservedWord = "reserved-word"
        /// A shell builtin that runs other code or changes how later words are read (`eval`,
        /// `exec`, `.`, `source`, `command`, `trap`, …), as the command name.
        case shellBuiltin = "shell-builtin"
        /// An unquoted `#` starting a word: the rest of the line is a comment.
        case comment
        /// A NUL character, which the kernel would take as the end of the argument.
        case nulCharacter = "nul-character"
        /// A quote or `${` without its end.
        case unterminated
        /// A backslash as the last character, with nothing to escape.
        case trailingBackslash = "trailing-backslash"
        /// No words at all, or an empty command name (`''`).
        case emptyCommand = "empty-command"
    }

    /// What was found.
    public var kind: Kind
    /// The offending text (`|&`, `$(`, `if`).
    public var fragment: String
    /// Where it starts, as a UTF-8 offset into the text.
    public var offset: Int
    /// Where it starts, as a column counted in Unicode scalars from 1.
    public var column: Int
    /// One sentence naming what was found and where.
    public var description: String

    /// Creates a rejection.
    public init(kind: Kind, fragment: String, offset: Int, column: Int, description: String) {
        self.kind = kind
        self.fragment = fragment
        self.offset = offset
        self.column = column
        self.description = description
    }

    /// Whether the text is malformed (rather than well-formed shell syntax that is not allowed).
    public var isMalformed: Bool {
        switch kind {
        case .unterminated, .trailingBackslash, .nulCharacter: true
        default: false
        }
    }
}

/// Reads a command string the way a POSIX shell does (XCU 2.2–2.6) and accepts it only if it is
/// one simple command whose command name is fixed by the text alone.
///
/// The original (`original-system.md` §1.5, §12.1) tokenised with `shlex` and compared tokens to a
/// fixed set, which missed newlines, glued operators (`|&`, `&>`, `2>&1`) and everything that
/// makes the name depend on the environment. This parser instead walks the text once, byte by
/// byte, with the shell's quoting rules:
///
/// - single quotes preserve everything up to the next `'`;
/// - double quotes preserve everything except `$`, `` ` `` and `\`, and inside them a backslash
///   escapes only `$`, `` ` ``, `"`, `\` and newline;
/// - outside quotes, a backslash preserves the next character.
///
/// Every unquoted operator character rejects the text, whatever follows it, so no run of
/// operators can slip through by being glued. Command substitution is rejected anywhere outside
/// single quotes. What remains are words; each records whether it holds an expansion, a glob, a
/// tilde or a brace expansion, so that a runner knows whether it may exec them directly.
///
/// The rules are deliberately those of the intersection of `dash`, `bash` and `zsh` run as
/// `sh -c`: where the shells disagree about where a word ends (`$'\''`), the text is rejected.
public enum ShellCommandParser {
    /// Words that a shell reads as syntax when they are the command name: POSIX reserved words,
    /// plus those of bash (`[[`, `function`, `select`, `time`, `coproc`), ksh (`namespace`) and
    /// zsh (`foreach`, `repeat`, `nocorrect`, `end`).
    public static let reservedWords: Set<String> = [
        "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then",
        "until", "while", "[[", "]]", "function", "select", "time", "coproc", "namespace", "foreach",
        "repeat", "nocorrect", "end",
    ]

    /// Builtins that no executable on `PATH` stands for and that run other code, load code, or
    /// change how the shell reads what follows (bash's `let`, `declare -i`, `printf -v`-style
    /// targets evaluate array subscripts, which can run commands). As command names they mean the
    /// shell, not a program, so a decision about an executable would say nothing about them.
    public static let codeRunningBuiltins: Set<String> = [
        ".", "source", "eval", "exec", "command", "builtin", "trap", "fc", "enable", "let", "declare",
        "typeset", "local", "export", "readonly", "alias", "unalias", "set", "unset", "shopt", "hash",
        "mapfile", "readarray",
    ]

    /// The reserved words and code-running builtins, for one lookup per command.
    fileprivate static let commandNameSyntax: [String: ShellRejection.Kind] = {
        var table: [String: ShellRejection.Kind] = [:]
        for word in codeRunningBuiltins { table[word] = .shellBuiltin }
        for word in reservedWords { table[word] = .reservedWord }
        return table
    }()

    /// Parses `text` as one simple command.
    ///
    /// - Returns: the words, or the first construct (in text order) that is not allowed.
    public static func parse(_ text: String) -> Result<ParsedCommand, ShellRejection> {
        var copy = text
        return copy.withUTF8 { bytes in
            var lexer = Lexer(bytes: bytes)
            do throws(ShellRejection) {
                return .success(ParsedCommand(text: text, words: try lexer.run()))
            } catch {
                return .failure(error)
            }
        }
    }
}

// MARK: - Lexer

private let space = UInt8(ascii: " ")
private let tab = UInt8(ascii: "\t")
private let newline = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")
private let backslash = UInt8(ascii: "\\")
private let singleQuote = UInt8(ascii: "'")
private let doubleQuote = UInt8(ascii: "\"")
private let backquote = UInt8(ascii: "`")
private let dollar = UInt8(ascii: "$")
private let openBrace = UInt8(ascii: "{")
private let closeBrace = UInt8(ascii: "}")
private let openParen = UInt8(ascii: "(")

private func isOperatorByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: ";"), UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"),
         UInt8(ascii: "("), UInt8(ascii: ")"):
        true
    default:
        false
    }
}

private func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        || byte == UInt8(ascii: "_")
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func isNameByte(_ byte: UInt8) -> Bool { isNameStart(byte) || isDigit(byte) }

/// Special parameters (XCU 2.5.2) that `$` expands as a single character.
private func isSpecialParameter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "@"), UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "?"), UInt8(ascii: "-"),
         UInt8(ascii: "$"), UInt8(ascii: "!"):
        true
    default:
        isDigit(byte)
    }
}

/// One pass over the text; it lives inside `parse`, within the lifetime of the UTF-8 buffer.
private struct Lexer {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var words: [ShellWord] = []

    // The word being built. While `verbatim`, its value is exactly the source bytes from
    // `wordStart` to `index` (no quote or escape seen yet), so nothing is copied; the first quote
    // or escape copies them into `buffer` (`materialize`), which then holds the value.
    var buffer: [UInt8] = []
    var verbatim = true
    var inWord = false
    var wordStart = 0
    var features: ShellWord.Features = []
    /// The previous byte appended was an unquoted `=` or `:` (for tilde detection).
    var afterUnquotedEqualsOrColon = false
    /// Everything so far was unquoted name characters (an assignment if `=` comes next).
    var assignmentPrefix = true
    var isAssignment = false
    // Brace expansion tracking: an unquoted `{` was seen, then an unquoted `,` or `..`.
    var braceOpen = false
    var braceSeparator = false
    var lastWasUnquotedDot = false

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        words.reserveCapacity(8)
    }

    mutating func run() throws(ShellRejection) -> [ShellWord] {
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch byte {
            case space, tab:
                try finishWord()
                index += 1
            case newline:
                throw rejection(.newline, "\\n", at: index,
                                "an unquoted newline at column \(column(index)) separates commands")
            case carriageReturn:
                throw rejection(.carriageReturn, "\\r", at: index,
                                "an unquoted carriage return at column \(column(index)) (a CRLF line end) separates commands")
            case 0:
                throw nul(at: index)
            case _ where isOperatorByte(byte):
                throw operatorRejection(at: index)
            case UInt8(ascii: "#") where !inWord:
                throw rejection(.comment, "#", at: index,
                                "an unquoted '#' at column \(column(index)) starts a comment that hides the rest of the line")
            case backslash:
                startWord()
                guard index + 1 < count else {
                    throw rejection(.trailingBackslash, "\\", at: index,
                                    "the command ends with a backslash at column \(column(index)) that escapes nothing")
                }
                let next = bytes[index + 1]
                if next == newline {
                    throw rejection(.lineContinuation, "\\\\n", at: index,
                                    "a backslash-newline at column \(column(index)) joins lines")
                }
                if next == 0 { throw nul(at: index + 1) }
                materialize()
                appendQuoted(next)
                index += 2
            case singleQuote:
                startWord()
                try readSingleQuoted()
            case doubleQuote:
                startWord()
                try readDoubleQuoted()
            case backquote:
                throw rejection(.commandSubstitution, "`", at: index,
                                "a backquote command substitution at column \(column(index))")
            case dollar:
                startWord()
                try readDollar(inDoubleQuotes: false)
            default:
                startWord()
                appendUnquoted(byte)
                index += 1
            }
        }
        try finishWord()
        guard !words.isEmpty else {
            throw rejection(.emptyCommand, "", at: 0, "the command is empty")
        }
        return words
    }

    // MARK: Words

    mutating func startWord() {
        guard !inWord else { return }
        inWord = true
        wordStart = index
        verbatim = true
        features = []
        afterUnquotedEqualsOrColon = false
        assignmentPrefix = true
        isAssignment = false
        braceOpen = false
        braceSeparator = false
        lastWasUnquotedDot = false
    }

    mutating func finishWord() throws(ShellRejection) {
        guard inWord else { return }
        inWord = false
        let value = verbatim
            ? String(decoding: UnsafeBufferPointer(rebasing: bytes[wordStart..<index]), as: UTF8.self)
            : String(decoding: buffer, as: UTF8.self)
        let word = ShellWord(value: value, features: features,
                             sourceRange: wordStart..<index)
        if words.isEmpty {
            try checkCommandName(word)
        }
        words.append(word)
    }

    func checkCommandName(_ word: ShellWord) throws(ShellRejection) {
        // The usual case, a plain name, costs one dictionary lookup.
        if !isAssignment, word.features.isEmpty, !word.value.isEmpty,
           ShellCommandParser.commandNameSyntax[word.value] == nil {
            return
        }
        let fragment = String(decoding: bytes[word.sourceRange], as: UTF8.self)
        if isAssignment {
            throw rejection(.assignment, fragment, at: word.sourceRange.lowerBound,
                            "the assignment '\(fragment)' at column \(column(word.sourceRange.lowerBound)) would change the command's environment")
        }
        if ShellCommandParser.reservedWords.contains(word.value) {
            throw rejection(.reservedWord, fragment, at: word.sourceRange.lowerBound,
                            "'\(word.value)' at column \(column(word.sourceRange.lowerBound)) is a shell reserved word, not a command")
        }
        if ShellCommandParser.codeRunningBuiltins.contains(word.value) {
            throw rejection(.shellBuiltin, fragment, at: word.sourceRange.lowerBound,
                            "'\(word.value)' at column \(column(word.sourceRange.lowerBound)) is a shell builtin that runs or changes other code, not a program")
        }
        if !word.features.isEmpty {
            var what: [String] = []
            if word.features.contains(.parameterExpansion) { what.append("a parameter expansion") }
            if word.features.contains(.glob) { what.append("a glob") }
            if word.features.contains(.tilde) { what.append("a tilde expansion") }
            if word.features.contains(.brace) { what.append("a brace expansion") }
            throw rejection(.dynamicCommandName, fragment, at: word.sourceRange.lowerBound,
                            "the command name '\(fragment)' at column \(column(word.sourceRange.lowerBound)) contains \(what.joined(separator: " and ")), so what runs would depend on the environment")
        }
        if word.value.isEmpty {
            throw rejection(.emptyCommand, fragment, at: word.sourceRange.lowerBound,
                            "the command name at column \(column(word.sourceRange.lowerBound)) is empty")
        }
    }

    /// Appends a byte that came from outside any quotes.
    mutating func appendUnquoted(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["):
            features.insert(.glob)
        case UInt8(ascii: "~"):
            if index == wordStart || afterUnquotedEqualsOrColon {
                features.insert(.tilde)
            }
        case openBrace:
            braceOpen = true
        case UInt8(ascii: ","):
            if braceOpen { braceSeparator = true }
        case UInt8(ascii: "."):
            if braceOpen && lastWasUnquotedDot { braceSeparator = true }
        case closeBrace:
            if braceOpen && braceSeparator { features.insert(.brace) }
        case UInt8(ascii: "="):
            if assignmentPrefix && !valueIsEmpty && !isAssignment && words.isEmpty {
                isAssignment = true
            }
        default:
            break
        }
        if !isNameByte(byte) || (valueIsEmpty && isDigit(byte)) {
            assignmentPrefix = false
        }
        afterUnquotedEqualsOrColon = byte == UInt8(ascii: "=") || byte == UInt8(ascii: ":")
        lastWasUnquotedDot = byte == UInt8(ascii: ".")
        if !verbatim { buffer.append(byte) }
    }

    /// Whether the word's value is empty so far.
    var valueIsEmpty: Bool { verbatim ? index == wordStart : buffer.isEmpty }

    /// Switches the word to `buffer`, copying what it holds so far, before a quote or escape.
    mutating func materialize() {
        guard verbatim else { return }
        verbatim = false
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[wordStart..<index]))
    }

    /// Appends source bytes that are part of the value as written (an expansion kept verbatim).
    mutating func appendSource(_ range: Range<Int>) {
        if !verbatim { buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range])) }
    }

    /// Appends a byte that was quoted or escaped: it is data, whatever it is. The word must have
    /// been materialized.
    mutating func appendQuoted(_ byte: UInt8) {
        assignmentPrefix = false
        afterUnquotedEqualsOrColon = false
        lastWasUnquotedDot = false
        buffer.append(byte)
    }

    // MARK: Quotes

    mutating func readSingleQuoted() throws(ShellRejection) {
        materialize()
        let open = index
        var cursor = index + 1
        while cursor < bytes.count, bytes[cursor] != singleQuote {
            if bytes[cursor] == 0 { throw nul(at: cursor) }
            cursor += 1
        }
        guard cursor < bytes.count else {
            throw rejection(.unterminated, "'", at: open, "the single quote at column \(column(open)) is never closed")
        }
        for position in (open + 1)..<cursor { appendQuoted(bytes[position]) }
        // An empty '' still makes a word (an empty argument).
        assignmentPrefix = false
        afterUnquotedEqualsOrColon = false
        lastWasUnquotedDot = false
        index = cursor + 1
    }

    mutating func readDoubleQuoted() throws(ShellRejection) {
        materialize()
        let open = index
        index += 1
        assignmentPrefix = false
        afterUnquotedEqualsOrColon = false
        lastWasUnquotedDot = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case doubleQuote:
                index += 1
                return
            case backslash:
                // A backslash as the last byte inside an open double quote: the quote is never
                // closed. (A `break` here only left the switch, without moving `index`: the
                // parser spun forever on `"\`, issue 14.)
                guard index + 1 < bytes.count else {
                    throw rejection(.unterminated, "\"", at: open, "the double quote at column \(column(open)) is never closed")
                }
                let next = bytes[index + 1]
                switch next {
                case newline:
                    throw rejection(.lineContinuation, "\\\\n", at: index,
                                    "a backslash-newline inside double quotes at column \(column(index)) joins lines")
                case dollar, backquote, doubleQuote, backslash:
                    appendQuoted(next)
                    index += 2
                default:
                    // XCU 2.2.3: the backslash keeps its literal meaning before any other character.
                    appendQuoted(backslash)
                    index += 1
                }
            case backquote:
                throw rejection(.commandSubstitution, "`", at: index,
                                "a backquote command substitution inside double quotes at column \(column(index))")
            case dollar:
                try readDollar(inDoubleQuotes: true)
            case 0:
                throw nul(at: index)
            default:
                appendQuoted(byte)
                index += 1
            }
        }
        throw rejection(.unterminated, "\"", at: open, "the double quote at column \(column(open)) is never closed")
    }

    // MARK: Expansions

    /// Reads what follows a `$` at `index`, outside single quotes.
    mutating func readDollar(inDoubleQuotes: Bool) throws(ShellRejection) {
        let start = index
        let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
        features.insert(.parameterExpansion)
        assignmentPrefix = false
        afterUnquotedEqualsOrColon = false
        lastWasUnquotedDot = false
        switch next {
        case openParen:
            if index + 2 < bytes.count, bytes[index + 2] == openParen {
                throw rejection(.arithmeticExpansion, "$((", at: start,
                                "an arithmetic expansion '$((' at column \(column(start))")
            }
            throw rejection(.commandSubstitution, "$(", at: start,
                            "a command substitution '$(' at column \(column(start))")
        case UInt8(ascii: "["):
            // bash's obsolete `$[…]` is arithmetic expansion, with the same subscript evaluation.
            throw rejection(.arithmeticExpansion, "$[", at: start,
                            "an arithmetic expansion '$[' at column \(column(start))")
        case openBrace:
            try readBracedParameter()
        case singleQuote where !inDoubleQuotes:
            // bash's ANSI-C quoting. `dash` reads `$` and then a single-quoted string ending at
            // the next `'`; bash processes backslash escapes and ends at the first `'` not escaped.
            // Without a backslash both end at the same quote; with one they can disagree about
            // where everything after it starts, so the text is rejected.
            var cursor = index + 2
            while cursor < bytes.count, bytes[cursor] != singleQuote {
                if bytes[cursor] == 0 { throw nul(at: cursor) }
                if bytes[cursor] == backslash {
                    throw rejection(.ansiCQuoting, "$'", at: start,
                                    "the ANSI-C quoted string \"$'\" at column \(column(start)) contains a backslash, which bash and dash read differently")
                }
                cursor += 1
            }
            guard cursor < bytes.count else {
                throw rejection(.unterminated, "$'", at: start, "the quote \"$'\" at column \(column(start)) is never closed")
            }
            appendSource(start..<(cursor + 1))
            index = cursor + 1
        case let byte? where isNameStart(byte):
            var cursor = index + 1
            while cursor < bytes.count, isNameByte(bytes[cursor]) { cursor += 1 }
            appendSource(start..<cursor)
            index = cursor
        case let byte? where isSpecialParameter(byte):
            appendSource(start..<(start + 2))
            index += 2
        default:
            // `$` before anything else (a blank, `/`, `"`, the end) is unspecified by POSIX and
            // literal in bash and dash; `$"…"` is bash's locale translation. Either way the word is
            // treated as not literal, which costs nothing but a shell.
            appendSource(start..<(start + 1))
            index += 1
        }
    }

    /// Reads `${…}` at `index`, accepting only forms whose evaluation cannot run anything:
    /// `${name}`, `${#name}`, and `${name<op>word}` with `<op>` one of `- = ? +` (optionally after
    /// `:`), `#`, `##`, `%`, `%%`, and a word without quotes, blanks, nested expansions or
    /// operators.
    mutating func readBracedParameter() throws(ShellRejection) {
        let start = index
        var cursor = index + 2
        func peek(_ at: Int) -> UInt8? { at < bytes.count ? bytes[at] : nil }
        func unsupported(_ why: String) -> ShellRejection {
            rejection(.unsupportedParameterExpansion, "${", at: start,
                      "the parameter expansion at column \(column(start)) \(why)")
        }
        var isLength = false
        if peek(cursor) == UInt8(ascii: "#"), let after = peek(cursor + 1), after != closeBrace {
            isLength = true
            cursor += 1
        }
        guard let first = peek(cursor) else {
            throw rejection(.unterminated, "${", at: start, "the '${' at column \(column(start)) is never closed")
        }
        if first == UInt8(ascii: "!") && peek(cursor + 1) != closeBrace {
            throw unsupported("uses indirection ('${!'), which can evaluate array subscripts")
        }
        if isNameStart(first) {
            while let byte = peek(cursor), isNameByte(byte) { cursor += 1 }
        } else if isDigit(first) {
            while let byte = peek(cursor), isDigit(byte) { cursor += 1 }
        } else if isSpecialParameter(first) {
            cursor += 1
        } else {
            throw unsupported("has no parameter name")
        }
        guard let afterName = peek(cursor) else {
            throw rejection(.unterminated, "${", at: start, "the '${' at column \(column(start)) is never closed")
        }
        if afterName == closeBrace {
            appendSource(start..<(cursor + 1))
            index = cursor + 1
            return
        }
        if isLength {
            throw unsupported("is not of a form understood here")
        }
        switch afterName {
        case UInt8(ascii: "["):
            throw unsupported("uses an array subscript, which bash evaluates as arithmetic that can run commands")
        case UInt8(ascii: ":"):
            guard let op = peek(cursor + 1), [UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "+")].contains(op) else {
                throw unsupported("takes a substring ('${name:offset}'), whose offset bash evaluates as arithmetic")
            }
            cursor += 2
        case UInt8(ascii: "-"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "+"):
            cursor += 1
        case UInt8(ascii: "#"), UInt8(ascii: "%"):
            cursor += peek(cursor + 1) == afterName ? 2 : 1
        default:
            throw unsupported("uses an operator ('\(String(decoding: [afterName], as: UTF8.self))') that is not supported here")
        }
        while let byte = peek(cursor), byte != closeBrace {
            switch byte {
            case dollar where peek(cursor + 1) == openParen, backquote:
                throw rejection(.commandSubstitution, byte == backquote ? "`" : "$(", at: cursor,
                                "a command substitution inside '${…}' at column \(column(cursor))")
            case 0:
                throw nul(at: cursor)
            case space, tab, newline, carriageReturn, singleQuote, doubleQuote, backslash, dollar, openBrace, backquote:
                throw unsupported("contains quotes, blanks or a nested expansion")
            case _ where isOperatorByte(byte):
                throw unsupported("contains an operator character")
            default:
                cursor += 1
            }
        }
        guard cursor < bytes.count else {
            throw rejection(.unterminated, "${", at: start, "the '${' at column \(column(start)) is never closed")
        }
        appendSource(start..<(cursor + 1))
        index = cursor + 1
    }

    // MARK: Rejections

    /// The operator run starting at `position`, with the digits of an IO number before it
    /// (`2>&1`) and the descriptor after a duplication (`>&2`).
    func operatorRejection(at position: Int) -> ShellRejection {
        var end = position
        while end < bytes.count, isOperatorByte(bytes[end]) { end += 1 }
        var start = position
        let value = verbatim ? Array(bytes[wordStart..<position]) : buffer
        if inWord, features.isEmpty, !value.isEmpty, value.allSatisfy(isDigit) {
            start = wordStart
        }
        let run = bytes[position..<end]
        if run.last == UInt8(ascii: "&"), run.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) {
            while end < bytes.count, isDigit(bytes[end]) || bytes[end] == UInt8(ascii: "-") { end += 1 }
        }
        let fragment = String(decoding: bytes[start..<end], as: UTF8.self)
        let first = bytes[position]
        let at = column(start)
        if (first == UInt8(ascii: "<") || first == UInt8(ascii: ">")), position + 1 < bytes.count, bytes[position + 1] == openParen {
            return rejection(.processSubstitution, fragment, at: start, "a process substitution '\(fragment)' at column \(at)")
        }
        if run.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) {
            return rejection(.redirection, fragment, at: start, "the redirection '\(fragment)' at column \(at)")
        }
        if run.contains(where: { $0 == openParen || $0 == UInt8(ascii: ")") }) {
            return rejection(.grouping, fragment, at: start, "the parenthesis '\(fragment)' at column \(at) (a subshell or group)")
        }
        return rejection(.controlOperator, fragment, at: start, "the operator '\(fragment)' at column \(at)")
    }

    func nul(at position: Int) -> ShellRejection {
        rejection(.nulCharacter, "\\0", at: position, "a NUL character at column \(column(position))")
    }

    func rejection(_ kind: ShellRejection.Kind, _ fragment: String, at position: Int, _ sentence: String) -> ShellRejection {
        ShellRejection(kind: kind, fragment: fragment, offset: position, column: column(position),
                       description: withFirstLetter(of: sentence, uppercased: true) + ".")
    }

    /// The 1-based column of a UTF-8 offset, in Unicode scalars (offsets here are always at ASCII
    /// bytes, so on a scalar boundary). Only computed on rejection.
    func column(_ position: Int) -> Int {
        String(decoding: bytes[..<min(position, bytes.count)], as: UTF8.self).unicodeScalars.count + 1
    }
}

/// `sentence` with its first character changed to ASCII upper or lower case (the sentences here
/// start with an ASCII letter or a quote; anything else is left as it is).
func withFirstLetter(of sentence: String, uppercased: Bool) -> String {
    var bytes = Array(sentence.utf8)
    guard let first = bytes.first else { return sentence }
    if uppercased, first >= UInt8(ascii: "a"), first <= UInt8(ascii: "z") {
        bytes[0] = first - 32
    } else if !uppercased, first >= UInt8(ascii: "A"), first <= UInt8(ascii: "Z") {
        bytes[0] = first + 32
    } else {
        return sentence
    }
    return String(decoding: bytes, as: UTF8.self)
}
