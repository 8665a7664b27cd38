/// Text written into YAML by tests.
enum YAMLText {
    /// A YAML double-quoted scalar: everything libyaml would not take raw, every line break
    /// (which double quotes would fold) and the quote and backslash are escaped, so any string
    /// comes back exactly.
    static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x20...0x7e, 0xa0...0x2027, 0x202a...0xd7ff, 0xe000...0xfefe, 0xff00...0xfffd, 0x10000...:
                out.unicodeScalars.append(scalar)
            default:
                let hex = String(scalar.value, radix: 16)
                out += scalar.value <= 0xffff
                    ? "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    : "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
