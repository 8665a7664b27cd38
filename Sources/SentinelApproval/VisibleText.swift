// Making text chosen by a guarded program safe to show to a person.

/// Renders untrusted text so that what a person sees is exactly what the program sent.
///
/// A target such as `ls\n\nSeverity: LOW` or one carrying terminal escape sequences
/// (`\u{1b}[2J`) or bidirectional overrides (`\u{202e}`) could otherwise redraw a prompt or make
/// a command read differently from what runs. Every control character, Unicode format character
/// (bidi controls, zero-width characters) and line or paragraph separator is shown as a visible
/// escape, backslashes are doubled so the escapes are unambiguous, and very long text is cut
/// with a note saying how much was left out.
public enum VisibleText {
    /// The longest text shown before it is cut.
    public static let defaultLimit = 2_000

    /// `text` with invisible and control characters written as escapes (`\n`, `\x1b`, `\u{202e}`),
    /// backslashes doubled, and at most `limit` characters kept.
    public static func escaping(_ text: String, limit: Int = defaultLimit) -> String {
        var out = ""
        out.reserveCapacity(min(text.utf8.count, limit) + 16)
        var shown = 0
        var scalars = text.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            if shown >= limit {
                var remaining = 1
                while scalars.next() != nil { remaining += 1 }
                out += "… [\(remaining) more characters not shown]"
                break
            }
            shown += 1
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                switch scalar.properties.generalCategory {
                case .control:
                    out += scalar.value < 0x80 ? "\\x" + hex(scalar.value, width: 2) : "\\u{" + hex(scalar.value, width: 4) + "}"
                case .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
                    out += "\\u{" + hex(scalar.value, width: 4) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// `text` escaped for Pango or HTML markup (`&`, `<`, `>`, `"`, `'`).
    static func markupEscaping(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
