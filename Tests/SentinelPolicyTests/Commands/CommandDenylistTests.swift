import Foundation
import SentinelPolicy
import Testing

@Suite("Interpreter denylist")
struct CommandDenylistTests {
    static let denied: [(String, String)] = [
        ("python", "python"), ("python3", "python3"), ("bash", "bash"), ("sh", "sh"), ("zsh", "zsh"),
        ("fish", "fish"), ("perl", "perl"), ("ruby", "ruby"), ("node", "node"), ("php", "php"),
        ("pwsh", "pwsh"), ("powershell", "powershell"),
        ("dash", "dash"), ("ksh", "ksh"), ("mksh", "mksh"), ("csh", "csh"), ("tcsh", "tcsh"), ("ash", "ash"),
        ("busybox", "busybox"), ("rbash", "rbash"), ("nodejs", "nodejs"), ("toybox", "toybox"),
        // Versioned and packaged names.
        ("python3.11", "python"), ("python2.7", "python"), ("python3.13t", "python"), ("python3.11m", "python"),
        ("python3-dbg", "python3"), ("perl5.36", "perl"), ("perl5.36.0", "perl"),
        ("perl5.36-x86_64-linux-gnu", "perl"), ("ruby3.1", "ruby"), ("php8.2", "php"), ("php-cgi8.2", "php-cgi"),
        ("node20", "node"), ("pwsh-7", "pwsh"), ("pwsh-7.4", "pwsh"), ("ksh93", "ksh"), ("bash5.2", "bash"),
        ("zsh-5.9", "zsh"),
        // Paths, case, login shells.
        ("/usr/bin/python3", "python3"), ("/opt/py/bin/python3.12/", "python"), ("PYTHON3", "python3"),
        ("Bash", "bash"), ("-bash", "bash"), ("./sh", "sh"),
    ]

    @Test("Built-in names and their versioned forms are denied", arguments: denied)
    func deniedNames(_ name: String, _ entry: String) throws {
        let denylist = try CommandDenylist(searchPath: "")
        let match = try #require(denylist.match(name: name))
        #expect(match.rule == "builtin:interpreter-denylist")
        #expect(match.entry == entry)
        #expect(match.isBuiltin)
    }

    @Test("Names that only look like interpreters are not denied", arguments: [
        "python3-config", "python3.11-config", "pythonista", "md5sum", "shasum", "sha256sum", "shred", "bashbug",
        "perldoc", "ls", "git", "nodemon", "python.3", "python3..1", "x86_64-linux-gnu-python3.11-config",
        "shell", "ashes", "sh-", "python-",
    ])
    func notDenied(_ name: String) throws {
        let denylist = try CommandDenylist(searchPath: "")
        #expect(denylist.match(name: name) == nil)
    }

    @Test("blocked_command_bases adds names, with versions, and names its entry")
    func blockedBases() throws {
        let denylist = try CommandDenylist(blockedCommandBases: ["curl", " Lua "], searchPath: "")
        #expect(denylist.match(name: "curl")?.rule == "blocked_command_bases[0]")
        #expect(denylist.match(name: "/usr/bin/curl")?.isBuiltin == false)
        #expect(denylist.match(name: "lua5.4")?.rule == "blocked_command_bases[1]")
        #expect(denylist.match(name: "lua5.4")?.entry == "Lua")
        #expect(denylist.match(name: "wget") == nil)
        // The built-in list cannot be shadowed by a policy entry.
        let shadow = try CommandDenylist(blockedCommandBases: ["python3"], searchPath: "")
        #expect(shadow.match(name: "python3")?.rule == "builtin:interpreter-denylist")
    }

    @Test("blocked_command_bases entries must be names", arguments: ["", "  ", "/usr/bin/curl", "curl -x", "a\u{0}b"])
    func invalidBlockedBase(_ entry: String) {
        #expect {
            try CommandDenylist(blockedCommandBases: ["ok", entry], searchPath: "")
        } throws: { error in
            guard let error = error as? CommandRuleError else { return false }
            return error.code == .invalidBlockedBase && error.keyPath == "blocked_command_bases[1]"
        }
    }

    @Test("A hard link to a denied executable, under any name, is recognised by identity")
    func identity() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bin = try scratch.directory("bin")
        let interpreter = try scratch.script("bin/python3.99")
        let disguised = try scratch.hardLink("innocent", to: interpreter)
        let denylist = try CommandDenylist(searchPath: bin)
        let found = try ExecutableResolver.resolve(disguised, searchPath: nil, workingDirectory: "/")
        #expect(denylist.match(name: found.canonicalPath) == nil)
        #expect(denylist.match(identity: found.identity)?.entry == "python")
    }

    /// A directory on PATH under two names (merged /usr: /bin is /usr/bin) is read once; the
    /// first name must then find everything the second would have.
    @Test("A directory reached under two names is scanned once and still found")
    func directoryUnderTwoNames() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bin = try scratch.directory("bin")
        let interpreter = try scratch.script("bin/ruby3.1")
        let alias = try scratch.symlink("alias", to: bin)
        let disguised = try scratch.hardLink("harmless", to: interpreter)
        for searchPath in ["\(alias):\(bin)", "\(bin):\(alias)", "\(alias)"] {
            let denylist = try CommandDenylist(searchPath: searchPath)
            let found = try ExecutableResolver.resolve(disguised, searchPath: nil, workingDirectory: "/")
            #expect(denylist.match(identity: found.identity)?.entry == "ruby", "PATH=\(searchPath)")
        }
    }

    @Test("Debian's dash, behind /bin/sh, is recognised by identity")
    func dashIdentity() throws {
        let denylist = try CommandDenylist(searchPath: standardPath)
        let sh = try ExecutableResolver.resolve("/bin/sh", searchPath: nil, workingDirectory: "/")
        #expect(denylist.match(identity: sh.identity)?.isBuiltin == true)
    }
}
