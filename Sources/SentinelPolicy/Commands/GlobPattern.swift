/// A shell-style glob matched against a whole string, as `fnmatch(3)` with no flags: `*` matches
/// any run of characters (including `/` and a leading `.`, since there is no `FNM_PATHNAME` or
/// `FNM_PERIOD`), `?` any one character, `[…]` one character from a set (`[!…]` or `[^…]`
/// negates; `a-z` ranges; `[:alpha:]`-style classes), and `\` makes the next character literal.
///
/// Characters are Unicode scalars, as `fnmatch` counts them in a UTF-8 locale.
///
/// Unlike `fnmatch`, a pattern that `fnmatch` would quietly read differently from what its author
/// meant is refused when it is compiled: an unterminated `[` (which `fnmatch` takes literally),
/// an unknown class, equivalence classes and collating symbols (`[=a=]`, `[.a.]`, which depend
/// on the locale), and a trailing lone `\`. These patterns deny arguments, so a pattern that
/// silently matched nothing would be a hole.
public struct GlobPattern: Sendable, Hashable, CustomStringConvertible {
    /// Why a pattern cannot be used.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong.
        public enum Code: String, Sendable, Hashable {
            /// A `[` without its `]`.
            case unterminatedBracket = "unterminated-bracket"
            /// `[:name:]` with a name that is not a POSIX class.
            case unknownClass = "unknown-class"
            /// `[=x=]` or `[.x.]`.
            case unsupportedBracketExpression = "unsupported-bracket-expression"
            /// A `\` with nothing after it.
            case trailingBackslash = "trailing-backslash"
            /// A range whose end comes before its start (`[z-a]`).
            case invalidRange = "invalid-range"
        }

        /// What is wrong.
        public var code: Code
        /// The pattern.
        public var pattern: String
        /// One sentence.
        public var description: String
    }

    private enum CharacterClass: String, CaseIterable {
        case alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper, xdigit

        func contains(_ scalar: Unicode.Scalar) -> Bool {
            guard scalar.isASCII else { return false }
            let value = scalar.value
            let isUpper = (65...90).contains(value), isLower = (97...122).contains(value)
            let isDigit = (48...57).contains(value)
            switch self {
            case .alnum: return isUpper || isLower || isDigit
            case .alpha: return isUpper || isLower
            case .blank: return value == 32 || value == 9
            case .cntrl: return value < 32 || value == 127
            case .digit: return isDigit
            case .graph: return (33...126).contains(value)
            case .lower: return isLower
            case .print: return (32...126).contains(value)
            case .punct: return (33...126).contains(value) && !(isUpper || isLower || isDigit)
            case .space: return (9...13).contains(value) || value == 32
            case .upper: return isUpper
            case .xdigit: return isDigit || (65...70).contains(value) || (97...102).contains(value)
            }
        }
    }

    private enum SetItem: Hashable {
        case scalar(Unicode.Scalar)
        case range(Unicode.Scalar, Unicode.Scalar)
        case characterClass(String)
    }

    private enum Element: Hashable {
        case literal(Unicode.Scalar)
        case anyOne
        case anyRun
        case set(items: [SetItem], negated: Bool)
    }

    /// The pattern as written.
    public let pattern: String
    private let elements: [Element]

    /// Compiles `pattern`.
    public init(_ pattern: String) throws(SyntaxError) {
        self.pattern = pattern
        func fail(_ code: SyntaxError.Code, _ why: String) -> SyntaxError {
            SyntaxError(code: code, pattern: pattern, description: "The pattern '\(pattern)' \(why).")
        }
        let scalars = Array(pattern.unicodeScalars)
        var elements: [Element] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                // Consecutive stars mean the same as one.
                if elements.last != .anyRun { elements.append(.anyRun) }
                index += 1
            case "?":
                elements.append(.anyOne)
                index += 1
            case "\\":
                guard index + 1 < scalars.count else {
                    throw fail(.trailingBackslash, "ends with a backslash that escapes nothing (write '\\\\' for a backslash)")
                }
                elements.append(.literal(scalars[index + 1]))
                index += 2
            case "[":
                var cursor = index + 1
                var negated = false
                if cursor < scalars.count, scalars[cursor] == "!" || scalars[cursor] == "^" {
                    negated = true
                    cursor += 1
                }
                var items: [SetItem] = []
                var first = true
                var closed = false
                while cursor < scalars.count {
                    var current = scalars[cursor]
                    if current == "]" && !first {
                        closed = true
                        cursor += 1
                        break
                    }
                    first = false
                    if current == "[", cursor + 1 < scalars.count, [":", "=", "."].contains(scalars[cursor + 1]) {
                        let delimiter = scalars[cursor + 1]
                        var end = cursor + 2
                        while end + 1 < scalars.count, !(scalars[end] == delimiter && scalars[end + 1] == "]") { end += 1 }
                        guard end + 1 < scalars.count else {
                            throw fail(.unterminatedBracket, "has a '[\(delimiter)' without its '\(delimiter)]'")
                        }
                        let name = String(String.UnicodeScalarView(scalars[(cursor + 2)..<end]))
                        guard delimiter == ":" else {
                            throw fail(.unsupportedBracketExpression,
                                       "uses '[\(delimiter)\(name)\(delimiter)]', which depends on the locale; list the characters instead")
                        }
                        guard CharacterClass(rawValue: name) != nil else {
                            throw fail(.unknownClass, "uses the unknown class '[:\(name):]'")
                        }
                        items.append(.characterClass(name))
                        cursor = end + 2
                        continue
                    }
                    if current == "\\" {
                        guard cursor + 1 < scalars.count else { break }
                        cursor += 1
                        current = scalars[cursor]
                    }
                    // A range `a-z`, unless the `-` is last before `]`.
                    if cursor + 2 < scalars.count, scalars[cursor + 1] == "-", scalars[cursor + 2] != "]" {
                        var upper = scalars[cursor + 2]
                        var next = cursor + 3
                        if upper == "\\", cursor + 3 < scalars.count {
                            upper = scalars[cursor + 3]
                            next = cursor + 4
                        }
                        guard current.value <= upper.value else {
                            throw fail(.invalidRange, "has the range '\(current)-\(upper)', whose end comes before its start")
                        }
                        items.append(.range(current, upper))
                        cursor = next
                        continue
                    }
                    items.append(.scalar(current))
                    cursor += 1
                }
                guard closed else {
                    throw fail(.unterminatedBracket, "has a '[' without its ']' (write '\\[' for a literal bracket)")
                }
                elements.append(.set(items: items, negated: negated))
                index = cursor
            default:
                elements.append(.literal(scalar))
                index += 1
            }
        }
        self.elements = elements
    }

    /// Whether the whole of `text` matches the pattern.
    public func matches(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        // Iterative matching with backtracking to the last star only: without FNM_PATHNAME a star
        // can absorb anything, so retrying the latest star is enough (linear in practice,
        // O(pattern × text) at worst, never exponential).
        var p = 0, t = 0
        var starPattern = -1, starText = 0
        while t < scalars.count {
            if p < elements.count {
                switch elements[p] {
                case .anyRun:
                    starPattern = p
                    starText = t
                    p += 1
                    continue
                case .anyOne:
                    p += 1
                    t += 1
                    continue
                case .literal(let scalar) where scalar == scalars[t]:
                    p += 1
                    t += 1
                    continue
                case .set(let items, let negated) where Self.setContains(items, scalars[t]) != negated:
                    p += 1
                    t += 1
                    continue
                default:
                    break
                }
            }
            guard starPattern >= 0 else { return false }
            starText += 1
            t = starText
            p = starPattern + 1
        }
        while p < elements.count, elements[p] == .anyRun { p += 1 }
        return p == elements.count
    }

    private static func setContains(_ items: [SetItem], _ scalar: Unicode.Scalar) -> Bool {
        for item in items {
            switch item {
            case .scalar(let member) where member == scalar:
                return true
            case .range(let lower, let upper) where (lower.value...upper.value).contains(scalar.value):
                return true
            case .characterClass(let name) where CharacterClass(rawValue: name)?.contains(scalar) == true:
                return true
            default:
                continue
            }
        }
        return false
    }

    /// The pattern as written.
    public var description: String { pattern }
}
