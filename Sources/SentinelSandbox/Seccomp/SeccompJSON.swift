// A small JSON reader and writer for seccomp profiles.
//
// Why not Foundation's JSON: a profile error must name the line and column, duplicate keys must
// be refused (Go's encoding/json, which Docker uses, silently keeps the last one, so a profile
// with two "action" keys means different things to a reader and to Docker), and 64-bit argument
// values such as 18446744073709551615 must survive exactly, never through a Double. Numbers are
// therefore kept as their source text and converted by the profile reader.

/// A JSON value with the position where it starts (1-based line and column).
struct SeccompJSONValue: Sendable {
    enum Kind: Sendable {
        case object([Member])
        case array([SeccompJSONValue])
        case string(String)
        /// The number exactly as written.
        case number(String)
        case bool(Bool)
        case null
    }

    /// One `"key": value` pair of an object, in source order.
    struct Member: Sendable {
        let key: String
        let value: SeccompJSONValue
    }

    let kind: Kind
    let line: Int
    let column: Int

    /// A short name of the value's type for error messages.
    var typeName: String {
        switch kind {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}

/// A syntax error with its position.
struct SeccompJSONSyntaxError: Error {
    let line: Int
    let column: Int
    let message: String
}

/// Parses one JSON document (RFC 8259), refusing duplicate keys and nesting deeper than 64.
struct SeccompJSONParser {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    private static let maximumDepth = 64

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses the whole input as one value followed only by whitespace.
    mutating func parseDocument() throws(SeccompJSONSyntaxError) -> SeccompJSONValue {
        // A UTF-8 byte-order mark is tolerated (some editors write one).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            index = 3
            lineStart = 3
        }
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if index < bytes.count {
            throw error("unexpected \(describeCurrent()) after the end of the document")
        }
        return value
    }

    private var column: Int { index - lineStart + 1 }

    private func error(_ message: String) -> SeccompJSONSyntaxError {
        SeccompJSONSyntaxError(line: line, column: column, message: message)
    }

    private func describeCurrent() -> String {
        guard index < bytes.count else { return "end of file" }
        let byte = bytes[index]
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(UnicodeScalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0D:
                index += 1
            case 0x0A:
                index += 1
                line += 1
                lineStart = index
            default:
                return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(SeccompJSONSyntaxError) -> SeccompJSONValue {
        guard depth < Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        guard index < bytes.count else { throw error("unexpected end of file, expected a value") }
        let startLine = line
        let startColumn = column
        let kind: SeccompJSONValue.Kind
        switch bytes[index] {
        case UInt8(ascii: "{"):
            kind = .object(try parseObject(depth: depth))
        case UInt8(ascii: "["):
            kind = .array(try parseArray(depth: depth))
        case UInt8(ascii: "\""):
            kind = .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            kind = .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            kind = .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            kind = .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            kind = .number(try parseNumber())
        default:
            throw error("unexpected \(describeCurrent()), expected a value")
        }
        return SeccompJSONValue(kind: kind, line: startLine, column: startColumn)
    }

    private mutating func expectLiteral(_ literal: String) throws(SeccompJSONSyntaxError) {
        for byte in literal.utf8 {
            guard index < bytes.count, bytes[index] == byte else {
                throw error("unexpected \(describeCurrent()) in '\(literal)'")
            }
            index += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(SeccompJSONSyntaxError) -> [SeccompJSONValue.Member] {
        index += 1  // {
        var members: [SeccompJSONValue.Member] = []
        var seen: Set<String> = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return members
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeCurrent()), expected a key in double quotes")
            }
            let keyLine = line
            let keyColumn = column
            let key = try parseString()
            guard seen.insert(key).inserted else {
                throw SeccompJSONSyntaxError(
                    line: keyLine, column: keyColumn,
                    message: "the key \"\(key)\" appears twice in one object (Docker would keep only the last one)")
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeCurrent()), expected ':' after the key \"\(key)\"")
            }
            index += 1
            skipWhitespace()
            members.append(SeccompJSONValue.Member(key: key, value: try parseValue(depth: depth + 1)))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of file inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return members
            }
            throw error("unexpected \(describeCurrent()), expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(SeccompJSONSyntaxError) -> [SeccompJSONValue] {
        index += 1  // [
        var elements: [SeccompJSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of file inside an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return elements
            }
            throw error("unexpected \(describeCurrent()), expected ',' or ']'")
        }
    }

    private mutating func parseString() throws(SeccompJSONSyntaxError) -> String {
        index += 1  // opening quote
        // Most strings (syscall names, actions) hold no escape: take them in one piece instead
        // of scalar by scalar. Reading the 26 KB strict profile went from ~2.0 to ~1.1 ms of a
        // sandbox launch (perf, 60 launches).
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 {
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            guard let text = String(validating: bytes[start..<index], as: UTF8.self) else {
                index = start
                throw error("a string is not valid UTF-8")
            }
            index += 1
            return text
        }
        index = start
        var scalars = String.UnicodeScalarView()
        var pendingUTF8: [UInt8] = []
        func flushUTF8() throws(SeccompJSONSyntaxError) {
            guard !pendingUTF8.isEmpty else { return }
            guard let text = String(validating: pendingUTF8, as: UTF8.self) else {
                throw error("a string is not valid UTF-8")
            }
            scalars.append(contentsOf: text.unicodeScalars)
            pendingUTF8.removeAll()
        }
        while true {
            guard index < bytes.count else { throw error("unexpected end of file inside a string") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                try flushUTF8()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flushUTF8()
                index += 1
                guard index < bytes.count else { throw error("unexpected end of file in an escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let first = try parseHex4()
                    if (0xD800...0xDBFF).contains(first) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw error("a high surrogate \\u escape is not followed by a low one") }
                        index += 2
                        let second = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(second) else { throw error("invalid low surrogate") }
                        let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                        guard let scalar = UnicodeScalar(value) else { throw error("invalid \\u escape") }
                        scalars.append(scalar)
                    } else {
                        guard let scalar = UnicodeScalar(first) else { throw error("a lone surrogate \\u escape") }
                        scalars.append(scalar)
                    }
                default:
                    index -= 1
                    throw error("invalid escape \\\(describeCurrent())")
                }
            case 0x00..<0x20:
                throw error("a control character inside a string (write it as an escape)")
            default:
                pendingUTF8.append(byte)
                index += 1
            }
        }
    }

    private mutating func parseHex4() throws(SeccompJSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("unexpected end of file in a \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit \(describeCurrent()) in a \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    private mutating func parseNumber() throws(SeccompJSONSyntaxError) -> String {
        let start = index
        func digits() -> Int {
            let from = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - from
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0 else { throw error("a '-' not followed by digits") }
        if integerDigits > 1 && bytes[integerStart] == UInt8(ascii: "0") {
            index = integerStart
            throw error("a number with a leading zero")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("a '.' not followed by digits") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits() > 0 else { throw error("an exponent without digits") }
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}

/// Writes JSON text in the layout of the profiles in `seccomp/`: four-space indentation, one
/// rule per block, `names` wrapped at 100 columns, each argument comparison on one line.
struct SeccompJSONWriter {
    private(set) var text = ""

    static func quoted(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// `[ "a", "b" ]` on one line if it fits within `width` after `prefix`, else one line per
    /// group of names, wrapped at `width` columns and indented by `indent`.
    static func stringList(_ strings: [String], prefix: String, indent: String, width: Int = 100) -> [String] {
        let quoted = strings.map(Self.quoted)
        let single = prefix + "[" + quoted.joined(separator: ", ") + "]"
        if single.count <= width { return [single] }
        var lines = [prefix + "["]
        var current = ""
        let inner = indent + "    "
        for (position, item) in quoted.enumerated() {
            let piece = item + (position == quoted.count - 1 ? "" : ",")
            if current.isEmpty {
                current = inner + piece
            } else if current.count + 1 + piece.count <= width {
                current += " " + piece
            } else {
                lines.append(current)
                current = inner + piece
            }
        }
        if !current.isEmpty { lines.append(current) }
        lines.append(indent + "]")
        return lines
    }
}
