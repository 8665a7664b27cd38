// The suggestions as text: a commented YAML patch for people, and the policy file with the
// additions written into its lists, comments and layout kept.

/// Why suggestions cannot be written into a policy.
public struct PolicyPatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A sentence saying what is wrong and what to do.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Quoting for YAML written from recorded (untrusted) text.
enum SuggestionYAML {
    /// Words YAML 1.1 reads as something other than a string.
    private static let specialWords: Set<String> = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ]

    /// `text` as a YAML scalar: plain when that is unambiguous, double-quoted (JSON escapes) otherwise.
    static func scalar(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "-"), UInt8(ascii: "+"):
                return true
            default:
                return false
            }
        }
        if plain, let first = text.utf8.first, first != UInt8(ascii: "-"), first != UInt8(ascii: "."),
           !specialWords.contains(text.lowercased()), Double(text) == nil {
            return text
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value)
                    || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Recorded text made safe inside a `#` comment: one line, control characters escaped, cut
    /// at `limit` characters (a target may be long, and may try to end the comment with a newline).
    static func comment(_ text: String, limit: Int = 160) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                out += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0x85 {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }
}

extension PolicySuggestions {
    /// The comment line above an addition: how many denials, and one example.
    static func countComment(_ addition: PolicyAddition) -> String {
        let denials = addition.count == 1 ? "1 denial" : "\(addition.count) denials"
        var line = "# \(denials), e.g. \(SuggestionYAML.comment(addition.example))"
        if let note = addition.note { line += " (\(note))" }
        return line
    }

    /// The suggestions as a commented YAML patch: each list with its additions, each addition
    /// after a comment naming how many denials it covers and an example; interpreters with their
    /// opt-in commented out; every denial without a suggestion as a comment saying why.
    ///
    /// - Parameter sources: the logs read, named in the header.
    public func yamlPatch(sources: [String], policy: String?) -> String {
        var lines: [String] = []
        let logs = sources.map { SuggestionYAML.comment($0) }.joined(separator: ", ")
        lines.append("# sentinel policy suggest: \(denialCount) denial\(denialCount == 1 ? "" : "s") read from \(logs).")
        if let policy {
            lines.append("# Compared with \(SuggestionYAML.comment(policy)): entries it already has are left out.")
        }
        lines.append("# Additions that would have allowed \(coveredCount) of them; review each before adding it.")
        for list in SuggestedList.allCases {
            let entries = additions.filter { $0.list == list }
            guard !entries.isEmpty else { continue }
            lines.append("\(list.rawValue):")
            for addition in entries {
                lines.append("  " + Self.countComment(addition))
                lines.append("  - \(addition.yamlItem)")
            }
        }
        if additions.isEmpty {
            lines.append("# No additions: no denial here can be allowed by adding to the policy.")
        }
        if !interpreters.isEmpty {
            lines.append("")
            lines.append("# Interpreters denied by the built-in interpreter denylist (builtin:interpreter-denylist).")
            lines.append("# Not suggested: an interpreter runs whatever code it is given, so allowing one lets the")
            lines.append("# agent do anything that interpreter can. Only if you mean it, add under allowed_commands:")
            for interpreter in interpreters {
                let denials = interpreter.count == 1 ? "1 denial" : "\(interpreter.count) denials"
                lines.append("#   # \(denials), e.g. \(SuggestionYAML.comment(interpreter.example))")
                lines.append("#   - {command: \(SuggestionYAML.comment(SuggestionYAML.scalar(interpreter.program))), allow_interpreter: true}  # WARNING: runs any code")
            }
        }
        if !alreadyAllowed.isEmpty {
            lines.append("")
            for group in alreadyAllowed {
                let denials = group.count == 1 ? "1 denial" : "\(group.count) denials"
                lines.append("# already allowed: \(denials), e.g. \(SuggestionYAML.comment(group.example)) (\(SuggestionYAML.comment(group.why)))")
            }
        }
        if !withheld.isEmpty {
            lines.append("")
            for group in withheld {
                let denials = group.count == 1 ? "1 denial" : "\(group.count) denials"
                lines.append("# not suggested: \(denials) of \(SuggestionYAML.comment(group.action)), e.g. \(SuggestionYAML.comment(group.example))")
                lines.append("#   (rule \(SuggestionYAML.comment(group.rule)): \(SuggestionYAML.comment(group.why, limit: 400)))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `policyText` with the additions written into its lists.
    ///
    /// Each list is extended where it is written, so comments and layout stay: a block list gets
    /// its new items after its last one (each after a comment naming the denials it covers), an
    /// empty flow list (`[]`) or an empty key becomes a block list, and a list that is not in the
    /// text is added at its end. A list written in flow style with items is refused with a
    /// sentence: rewriting it could lose what the items say.
    ///
    /// - Throws: ``PolicyPatchError`` when a list cannot be extended in place.
    public func applied(to policyText: String) throws(PolicyPatchError) -> String {
        var lines = policyText.isEmpty ? [] : policyText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        for list in SuggestedList.allCases {
            let entries = additions.filter { $0.list == list }
            guard !entries.isEmpty else { continue }
            try Self.extend(&lines, key: list.rawValue, with: entries)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func extend(_ lines: inout [String], key: String, with entries: [PolicyAddition]) throws(PolicyPatchError) {
        func item(_ addition: PolicyAddition, indent: String) -> [String] {
            [indent + countComment(addition), indent + "- " + addition.yamlItem]
        }
        guard let keyLine = lines.firstIndex(where: { Self.isKeyLine($0, key: key) }) else {
            if let last = lines.last, !last.isEmpty { lines.append("") }
            lines.append("# Added by sentinel policy suggest.")
            lines.append("\(key):")
            for addition in entries { lines += item(addition, indent: "  ") }
            return
        }
        let value = Self.valueText(lines[keyLine], key: key)
        if value == "[]" {
            let comment = Self.trailingComment(lines[keyLine])
            lines[keyLine] = "\(key):" + (comment.map { "  " + $0 } ?? "")
        } else if !value.isEmpty && value != "~" && value != "null" {
            throw PolicyPatchError(
                "\(key) is written on one line (line \(keyLine + 1): \(SuggestionYAML.comment(lines[keyLine], limit: 80))); write it as a block list, one \"- entry\" per line, so entries can be added to it, or add the suggested entries by hand.")
        }
        // The block: the lines after the key that are indented, blank, comments, or items at
        // column 0 (`- x` directly under the key is a block list too).
        var end = keyLine + 1
        var lastContent = keyLine
        var indent: String?
        while end < lines.count {
            let line = lines[end]
            let trimmed = line.drop { $0 == " " }
            if trimmed.isEmpty || trimmed.hasPrefix("#") {
                if line.hasPrefix("#") && indent == nil && lastContent == keyLine {
                    // A column-0 comment right after an empty key belongs to what follows.
                    break
                }
                end += 1
                continue
            }
            let leading = String(line.prefix { $0 == " " })
            if leading.isEmpty && !trimmed.hasPrefix("- ") && trimmed != "-" { break }
            if trimmed.hasPrefix("\t") || line.hasPrefix("\t") {
                throw PolicyPatchError("\(key) (line \(keyLine + 1)) is indented with tabs; indent it with spaces.")
            }
            if indent == nil, trimmed.hasPrefix("-") { indent = leading }
            lastContent = end
            end += 1
        }
        var added: [String] = []
        for addition in entries { added += item(addition, indent: indent ?? "  ") }
        lines.insert(contentsOf: added, at: lastContent + 1)
    }

    /// Whether `line` is `key:` at column 0 (with a value, a comment or nothing after it).
    static func isKeyLine(_ line: String, key: String) -> Bool {
        for form in [key, "\"\(key)\"", "'\(key)'"] where line.hasPrefix(form) {
            let rest = line.dropFirst(form.count).drop { $0 == " " }
            if rest.hasPrefix(":") { return true }
        }
        return false
    }

    /// What follows `key:` on its line, without a trailing comment, trimmed.
    static func valueText(_ line: String, key: String) -> String {
        guard let colon = line.firstIndex(of: ":") else { return "" }
        var rest = String(line[line.index(after: colon)...])
        if let comment = trailingCommentRange(rest) { rest = String(rest[..<comment]) }
        return rest.trimmingWhitespace()
    }

    static func trailingComment(_ line: String) -> String? {
        guard let start = trailingCommentRange(line) else { return nil }
        return String(line[start...]).trimmingWhitespace()
    }

    /// Where a ` #` comment starts, outside quotes.
    private static func trailingCommentRange(_ text: String) -> String.Index? {
        var quote: Character?
        var previous: Character = " "
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#", previous == " " || previous == "\t" {
                return index
            }
            previous = character
        }
        return nil
    }
}
