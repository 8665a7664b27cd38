#if canImport(Glibc)
import Glibc
#endif

/// The command names that are denied before any allowlist is consulted: the built-in interpreter
/// denylist, which no policy can remove, plus the policy's `blocked_command_bases`.
///
/// A name denies itself and its versioned and packaged forms. Matching is on a file *name* (the
/// last path component), ASCII case-insensitively and ignoring leading `-` (a login shell's
/// `argv[0]` is `-bash`), and accepts, after a denied base `B`:
///
/// ```
/// name    = B [ ["-"] version [abi] ] [ "-dbg" | "-" cpu "-linux-" sys ]
/// version = digits *( "." digits )          ; 3, 3.11, 5.36.0, 20, 7
/// abi     = 1*( "d" / "m" / "t" / "u" )     ; PEP 3149/703 flags: python3.11m, python3.13t
/// cpu,sys = 1*( a-z / 0-9 / "_" )           ; a GNU triplet: perl5.36-x86_64-linux-gnu
/// ```
///
/// so `python3.11`, `python2.7`, `perl5.36.0`, `ruby3.1`, `php8.2`, `node20`, `pwsh-7`, `ksh93`,
/// `python3-dbg` and `perl5.36-x86_64-linux-gnu` are denied, while `python3-config`, `md5sum` and
/// `shasum` are not. `blocked_command_bases` entries get the same forms (`lua` also denies
/// `lua5.4`). The evaluator applies this to the name as typed, to the name the executable
/// was found under and to its canonical path (so `sh` → `/usr/bin/dash` and a symlink `tool` →
/// `python3.11` are caught), and compares the file's identity with every denied executable found
/// when the denylist was built (so a hard link under an unrelated name is caught too). A *copy*
/// of an interpreter under another name cannot be recognised by name; the allowlist, which
/// denies every executable it does not name, is what stops it.
public struct CommandDenylist: Sendable {
    /// The built-in names. The original's twelve (`original-system.md` §1.2), the shells it
    /// missed (§12.2), and a few more names under which Debian ships the same interpreters
    /// (`rbash`, `nodejs`, `pypy`, `pypy3`, `php-cgi`) or other POSIX shells and multi-call
    /// binaries that contain one (`pdksh`, `oksh`, `loksh`, `yash`, `posh`, `toybox`).
    public static let builtinNames: [String] = [
        "python", "python3", "bash", "sh", "zsh", "fish", "perl", "ruby", "node", "php", "pwsh", "powershell",
        "dash", "ksh", "mksh", "csh", "tcsh", "ash", "busybox",
        "rbash", "nodejs", "pypy", "pypy3", "php-cgi", "pdksh", "oksh", "loksh", "yash", "posh", "toybox",
    ]

    /// The rule named in verdicts for a built-in denial.
    public static let builtinRule = "builtin:interpreter-denylist"

    /// Why a command was denied.
    public struct Match: Sendable, Hashable {
        /// The rule: `builtin:interpreter-denylist` or `blocked_command_bases[i]`.
        public var rule: String
        /// The denied base that matched (`python`, `curl`).
        public var entry: String
        /// Whether the built-in list matched (no policy change can allow the command).
        public var isBuiltin: Bool
    }

    /// `blocked_command_bases` as given.
    public let blockedCommandBases: [String]
    /// The key path of `blocked_command_bases`, for rule names.
    public let keyPath: String
    /// Every denied base, folded, to the denial it means (a built-in entry wins over a policy one).
    private let entries: [String: Match]
    /// The keys of `entries` as bytes: every name a denial can match starts with one of them,
    /// which lets the directory scan skip most names without building a `String`.
    private let entryBytes: [[UInt8]]
    private var identities: [FileIdentity: Match]

    /// Builds the denylist.
    ///
    /// - Parameters:
    ///   - blockedCommandBases: the policy's extra names (`curl`, `lua`).
    ///   - keyPath: where they are in the policy, for rule names (`blocked_command_bases`).
    ///   - searchPath: the `PATH` whose absolute directories (and `/usr/local/sbin`,
    ///     `/usr/local/bin`, `/usr/sbin`, `/usr/bin`, `/sbin`, `/bin`) are scanned for denied
    ///     executables, to recognise them by identity later.
    /// - Throws: `CommandRuleError` for an entry that is empty, holds a `/`, whitespace or NUL:
    ///   entries are names, and one whose meaning is unclear must not be guessed.
    public init(
        blockedCommandBases: [String] = [], keyPath: String = "blocked_command_bases", searchPath: String
    ) throws(CommandRuleError) {
        var entries: [String: Match] = [:]
        for name in Self.builtinNames {
            entries[name] = Match(rule: Self.builtinRule, entry: name, isBuiltin: true)
        }
        for (index, entry) in blockedCommandBases.enumerated() {
            let entryPath = "\(keyPath)[\(index)]"
            let name = trimmedCommandText(entry)
            guard !name.isEmpty else {
                throw CommandRuleError(code: .invalidBlockedBase, keyPath: entryPath,
                                       description: "\(entryPath) is empty; remove it or write a command name such as \"curl\".")
            }
            guard !name.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == 0 || $0 == 32 || $0 == 9 }) else {
                throw CommandRuleError(code: .invalidBlockedBase, keyPath: entryPath,
                                       description: "\(entryPath) \"\(entry)\" is not a command name; write the name alone (\"curl\", not \"/usr/bin/curl\" or \"curl -x\").")
            }
            let key = Self.folded(name)
            if entries[key] == nil { entries[key] = Match(rule: "\(keyPath)[\(index)]", entry: name, isBuiltin: false) }
        }
        self.blockedCommandBases = blockedCommandBases
        self.keyPath = keyPath
        self.entries = entries
        self.entryBytes = entries.keys.map { Array($0.utf8) }
        self.identities = [:]
        self.identities = scanIdentities(searchPath)
    }

    /// The denial for a file or command name (the last path component of `name` is used).
    ///
    /// This runs several times per command decision, so it works on the UTF-8 bytes in place and
    /// allocates nothing for names of up to 15 bytes (Swift's small strings).
    public func match(name: String) -> Match? {
        var name = name
        return name.withUTF8 { bytes -> Match? in
            guard let range = Self.componentRange(bytes) else { return nil }
            return matchComponent(UnsafeBufferPointer(rebasing: bytes[range]))
        }
    }

    /// The denial for a file that is one of the denied executables found when the list was built.
    public func match(identity: FileIdentity) -> Match? {
        identities[identity]
    }

    // MARK: - Names

    /// Tries the name, then the base left after removing a packaging suffix, a version, or both.
    private func matchComponent(_ component: UnsafeBufferPointer<UInt8>) -> Match? {
        if let match = lookup(component, count: component.count) { return match }
        let stem = Self.packagingStemLength(component)
        if let stem, let match = lookup(component, count: stem) { return match }
        if let base = Self.versionStemLength(component, count: component.count), let match = lookup(component, count: base) {
            return match
        }
        if let stem, let base = Self.versionStemLength(component, count: stem), let match = lookup(component, count: base) {
            return match
        }
        return nil
    }

    /// The entry for the first `count` bytes of `bytes`, ASCII case-insensitively.
    private func lookup(_ bytes: UnsafeBufferPointer<UInt8>, count: Int) -> Match? {
        guard count > 0 else { return nil }
        let prefix = UnsafeBufferPointer(rebasing: bytes[..<count])
        if prefix.contains(where: { $0 >= 65 && $0 <= 90 }) {
            return entries[String(decoding: prefix.map(Self.lowercased), as: UTF8.self)]
        }
        return entries[String(decoding: prefix, as: UTF8.self)]
    }

    /// The last non-empty path component, without leading `-`.
    private static func componentRange(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var end = bytes.count
        while end > 0, bytes[end - 1] == slash { end -= 1 }
        var start = end
        while start > 0, bytes[start - 1] != slash { start -= 1 }
        while start < end, bytes[start] == dash { start += 1 }
        return start < end ? start..<end : nil
    }

    /// The length of the name without `-dbg` or a `-cpu-linux-sys` triplet at its end.
    private static func packagingStemLength(_ name: UnsafeBufferPointer<UInt8>) -> Int? {
        let count = name.count
        if count > 4, matchesLowercased(name, at: count - 4, "-dbg") { return count - 4 }
        let marker: StaticString = "-linux-"
        let markerCount = marker.utf8CodeUnitCount
        guard count > markerCount else { return nil }
        var at = count - markerCount
        while at > 0, !matchesLowercased(name, at: at, marker) { at -= 1 }
        guard at > 0 else { return nil }
        var dashIndex = at - 1
        while dashIndex > 0, name[dashIndex] != dash { dashIndex -= 1 }
        guard dashIndex > 0, isTripletPart(name, (dashIndex + 1)..<at), isTripletPart(name, (at + markerCount)..<count) else {
            return nil
        }
        return dashIndex
    }

    /// The length of the first `count` bytes without `[-]version[abi]` at their end, or `nil`
    /// when they have none.
    private static func versionStemLength(_ name: UnsafeBufferPointer<UInt8>, count: Int) -> Int? {
        var end = count
        while end > 0, [UInt8(ascii: "d"), UInt8(ascii: "m"), UInt8(ascii: "t"), UInt8(ascii: "u")].contains(lowercased(name[end - 1])) {
            end -= 1
        }
        guard end > 0, isDigitByte(name[end - 1]) else { return nil }
        var start = end
        while start > 0, isDigitByte(name[start - 1]) || name[start - 1] == dot { start -= 1 }
        // The version starts with a digit (`python.3` is not a versioned `python`) and has no
        // empty part (`python3..1`).
        while start < end, name[start] == dot { start += 1 }
        var previousWasDot = false
        for index in start..<end {
            if name[index] == dot && previousWasDot { return nil }
            previousWasDot = name[index] == dot
        }
        if start > 0, name[start - 1] == dash { start -= 1 }
        return start > 0 ? start : nil
    }

    private static func matchesLowercased(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, _ text: StaticString) -> Bool {
        guard offset >= 0, offset + text.utf8CodeUnitCount <= bytes.count else { return false }
        let pointer = text.utf8Start
        for index in 0..<text.utf8CodeUnitCount where lowercased(bytes[offset + index]) != pointer[index] {
            return false
        }
        return true
    }

    private static func isTripletPart(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        !range.isEmpty && range.allSatisfy { index in
            let byte = lowercased(bytes[index])
            return isDigitByte(byte) || (byte >= 97 && byte <= 122) || byte == UInt8(ascii: "_")
        }
    }

    private static let slash = UInt8(ascii: "/")
    private static let dash = UInt8(ascii: "-")
    private static let dot = UInt8(ascii: ".")

    private static func isDigitByte(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }

    private static func lowercased(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }

    /// ASCII lowercase without leading `-`.
    static func folded(_ name: some StringProtocol) -> String {
        var bytes = Array(name.utf8)
        if let first = bytes.firstIndex(where: { $0 != dash }) {
            bytes.removeFirst(first)
        } else {
            bytes.removeAll()
        }
        return String(decoding: bytes.map(lowercased), as: UTF8.self)
    }

    /// Whether two paths end in the same name (byte for byte), so that the second need not be
    /// checked again; `false` whenever that cannot be told cheaply.
    static func sameLastComponent(_ first: String, _ second: String) -> Bool {
        let answer = first.utf8.withContiguousStorageIfAvailable { a in
            second.utf8.withContiguousStorageIfAvailable { b -> Bool in
                guard let rangeA = componentRange(a), let rangeB = componentRange(b), rangeA.count == rangeB.count,
                      a.count == rangeA.upperBound, b.count == rangeB.upperBound
                else { return false }
                return UnsafeBufferPointer(rebasing: a[rangeA]).elementsEqual(UnsafeBufferPointer(rebasing: b[rangeB]))
            }
        }
        return answer.flatMap { $0 } ?? false
    }

    /// The last non-empty component of a path (`python3` for `/usr/bin/python3/`), without
    /// allocating in the usual case of no trailing slash.
    static func lastComponent(of path: String) -> Substring {
        let utf8 = path.utf8
        guard let last = utf8.last, last != slash else {
            return path.split(separator: "/").last ?? Substring(path)
        }
        guard let separator = utf8.lastIndex(of: slash) else { return Substring(path) }
        return path[utf8.index(after: separator)...]
    }

    // MARK: - Identities

    /// Whether `name`, without leading `-` and ASCII case-insensitively, starts with a denied
    /// base: every form ``match(name:)`` accepts does, so a `false` here means no match.
    private func startsWithEntry(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        while start < name.count, name[start] == Self.dash { start += 1 }
        let rest = name.count - start
        return entryBytes.contains { entry in
            guard entry.count <= rest else { return false }
            for index in 0..<entry.count where Self.lowercased(name[start + index]) != entry[index] {
                return false
            }
            return true
        }
    }

    /// Where `d_name` starts in a `struct dirent`.
    /// (19 with glibc on 64-bit Linux: `d_ino`, `d_off`, `d_reclen`, `d_type` come first.)
    private static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19

    /// Directories always scanned, whatever `PATH` says: where Debian installs interpreters.
    private static let standardDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// The identity of every regular file with a denied name in the absolute directories of
    /// `searchPath` and the standard ones.
    private func scanIdentities(_ searchPath: String) -> [FileIdentity: Match] {
        var identities: [FileIdentity: Match] = [:]
        var directories: [String] = []
        for directory in searchPath.split(separator: ":").map(String.init) + Self.standardDirectories
        where directory.hasPrefix("/") && !directories.contains(directory) {
            directories.append(directory)
        }
        // Each directory once, however many names it has: on a merged-/usr system (Debian 12)
        // /bin is /usr/bin and /sbin is /usr/sbin, and reading /usr/bin twice was about half
        // of the scan.
        var scanned: [FileIdentity] = []
        for directory in directories {
            guard let stream = opendir(directory) else { continue }
            defer { closedir(stream) }
            // (A directory whose identity cannot be read is scanned anyway.)
            var directoryStatus = stat()
            if fstat(dirfd(stream), &directoryStatus) == 0 {
                let identity = FileIdentity(device: UInt64(directoryStatus.st_dev), inode: UInt64(directoryStatus.st_ino))
                if scanned.contains(identity) { continue }
                scanned.append(identity)
            }
            while let entry = readdir(stream) {
                // Read the name through a pointer: glibc packs entries by `d_reclen`, so copying
                // the whole `struct dirent` (256-byte `d_name`) can read past the buffer's end.
                let start = (UnsafeRawPointer(entry) + Self.direntNameOffset).assumingMemoryBound(to: UInt8.self)
                let bytes = UnsafeBufferPointer(start: start, count: strlen(start))
                // Most of /usr/bin starts with no denied base: skip those before making a String
                // and trying the versioned forms (the scan was the largest part of loading a
                // policy, and so of every `sentinel guard` and `sentinel-isolate` start; issue 7).
                guard startsWithEntry(bytes) else { continue }
                let name = String(decoding: bytes, as: UTF8.self)
                guard name != ".", name != "..", let match = match(name: name) else { continue }
                var status = stat()
                let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
                let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
                if identities[identity] == nil || match.isBuiltin { identities[identity] = match }
            }
        }
        return identities
    }
}
