import Foundation
import SentinelPolicy
import Testing

/// A pattern, a text, and whether `fnmatch(pattern, text, 0)` matches.
struct GlobCase: Sendable, CustomTestStringConvertible {
    let pattern: String
    let text: String
    let matches: Bool
    var testDescription: String { "\(pattern.debugDescription) ~ \(text.debugDescription) = \(matches)" }

    init(_ pattern: String, _ text: String, _ matches: Bool) {
        self.pattern = pattern
        self.text = text
        self.matches = matches
    }
}

@Suite("Glob patterns (args_deny)")
struct GlobPatternTests {
    static let cases: [GlobCase] = [
        .init("push", "push", true),
        .init("push", "pushx", false),
        .init("push", "xpush", false),
        .init("push", "Push", false),
        .init("push", "", false),
        .init("", "", true),
        .init("", "x", false),
        .init("--upload-pack*", "--upload-pack", true),
        .init("--upload-pack*", "--upload-pack=/tmp/x", true),
        .init("--upload-pack*", "--upload", false),
        .init("*", "", true),
        .init("*", "anything/with/slashes", true),
        .init("*", ".hidden", true),
        .init("*.sh", "a/b/.c.sh", true),
        .init("a*b*c", "aXXbYYc", true),
        .init("a*b*c", "aXXbYY", false),
        .init("a*b*c", "abcbc", true),
        .init("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        .init("**x", "yyx", true),
        .init("?", "a", true),
        .init("?", "é", true),
        .init("?", "", false),
        .init("??", "a", false),
        .init("-?", "-f", true),
        .init("[abc]", "b", true),
        .init("[abc]", "d", false),
        .init("[!abc]", "d", true),
        .init("[^abc]", "a", false),
        .init("[a-c]x", "bx", true),
        .init("[a-c]x", "dx", false),
        .init("[]]", "]", true),
        .init("[!]]", "a", true),
        .init("[a-]", "-", true),
        .init("[[:digit:]]*", "7zip", true),
        .init("[[:digit:]]*", "zip", false),
        .init("[[:upper:][:digit:]]", "Q", true),
        .init("[[:space:]]", " ", true),
        .init("\\*", "*", true),
        .init("\\*", "a", false),
        .init("\\[x]", "[x]", true),
        .init("[\\]]", "]", true),
        .init("-[fF]", "-F", true),
        .init("--exec=*", "--exec=rm -rf /", true),
    ]

    @Test("Matches as fnmatch(3) with no flags", arguments: cases)
    func matching(_ example: GlobCase) throws {
        let pattern = try GlobPattern(example.pattern)
        #expect(pattern.matches(example.text) == example.matches)
    }

    /// The same table through glibc's own `fnmatch`, so the expectations above are not ours alone.
    @Test("Agrees with glibc fnmatch", arguments: cases.filter { $0.text.utf8.allSatisfy { $0 < 128 } })
    func agreesWithLibc(_ example: GlobCase) {
        #expect((fnmatch(example.pattern, example.text, 0) == 0) == example.matches)
    }

    @Test("Patterns whose meaning would be a surprise are refused", arguments: [
        ("[abc", GlobPattern.SyntaxError.Code.unterminatedBracket),
        ("x[", .unterminatedBracket),
        ("[[:alpha:]", .unterminatedBracket),
        ("[[:nope:]]", .unknownClass),
        ("[[=a=]]", .unsupportedBracketExpression),
        ("[[.a.]]", .unsupportedBracketExpression),
        ("abc\\", .trailingBackslash),
        ("[z-a]", .invalidRange),
    ])
    func refused(_ pattern: String, _ code: GlobPattern.SyntaxError.Code) {
        #expect(throws: GlobPattern.SyntaxError.self) { try GlobPattern(pattern) }
        do {
            _ = try GlobPattern(pattern)
        } catch {
            #expect(error.code == code)
            #expect(error.description.contains(pattern))
        }
    }
}
