import Foundation
import SentinelPolicy
import Testing

@Suite("Executable resolution")
struct ExecutableResolverTests {
    @Test("ls, /bin/ls and /usr/bin/ls are the same file", arguments: ["ls", "/bin/ls", "/usr/bin/ls", "/usr/bin/../bin/ls"])
    func sameCanonicalPath(_ name: String) throws {
        let found = try ExecutableResolver.resolve(name, searchPath: standardPath, workingDirectory: "/")
        #expect(found.canonicalPath == canonical("/usr/bin/ls"))
        #expect(found.path.hasPrefix("/"))
    }

    @Test("A bare name is found in the first PATH directory that has it")
    func pathOrder() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let first = try scratch.directory("first")
        let second = try scratch.directory("second")
        try scratch.script("second/tool")
        try scratch.script("first/tool")
        let found = try ExecutableResolver.resolve("tool", searchPath: "\(first):\(second)", workingDirectory: "/")
        #expect(found.path == "\(first)/tool")
        #expect(found.canonicalPath == "\(first)/tool")
    }

    @Test("A non-executable or a directory is skipped, as execvp skips EACCES")
    func skipsNonExecutable() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let first = try scratch.directory("first")
        let second = try scratch.directory("second")
        let third = try scratch.directory("third")
        try scratch.script("first/tool", mode: 0o644)
        try scratch.directory("second/tool")
        try scratch.script("third/tool")
        let found = try ExecutableResolver.resolve("tool", searchPath: "\(first):\(second):\(third)", workingDirectory: "/")
        #expect(found.path == "\(third)/tool")
    }

    @Test("Only non-executable candidates: the error says so")
    func notExecutable() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("tool", mode: 0o644)
        #expect {
            try ExecutableResolver.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        } throws: { error in
            guard let error = error as? ExecutableResolutionError else { return false }
            return error.code == .notExecutable && error.description.contains("execute permission")
        }
        #expect {
            try ExecutableResolver.resolve("./tool", searchPath: standardPath, workingDirectory: scratch.path)
        } throws: { ($0 as? ExecutableResolutionError)?.code == .notExecutable }
        #expect {
            try ExecutableResolver.resolve(scratch.path, searchPath: standardPath, workingDirectory: "/")
        } throws: { ($0 as? ExecutableResolutionError)?.description.contains("not a regular file") == true }
    }

    @Test("Not found names the PATH searched")
    func notFound() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        #expect {
            try ExecutableResolver.resolve("no-such-tool-here", searchPath: scratch.path, workingDirectory: "/")
        } throws: { error in
            guard let error = error as? ExecutableResolutionError else { return false }
            return error.code == .notFound && error.description.contains(scratch.path)
        }
        #expect {
            try ExecutableResolver.resolve("./missing", searchPath: standardPath, workingDirectory: scratch.path)
        } throws: { ($0 as? ExecutableResolutionError)?.code == .notFound }
    }

    @Test("A name with a slash is relative to the working directory, not searched")
    func relativePath() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("ls")
        let found = try ExecutableResolver.resolve("./ls", searchPath: standardPath, workingDirectory: scratch.path)
        #expect(found.path == scratch.url("ls"))
        #expect(found.canonicalPath == scratch.url("ls"))
        #expect(found.canonicalPath != canonical("/usr/bin/ls"))
    }

    @Test("An empty PATH component, or a lone '.', is the working directory",
          arguments: [":/usr/bin", "/nonexistent::/usr/bin", "/nonexistent:.", ""])
    func emptyComponent(_ searchPath: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("ls")
        let found = try ExecutableResolver.resolve("ls", searchPath: searchPath, workingDirectory: scratch.path)
        #expect(found.canonicalPath == scratch.url("ls"))
    }

    @Test("Without an empty component the working directory is not searched")
    func noEmptyComponent() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("ls")
        let found = try ExecutableResolver.resolve("ls", searchPath: "/usr/bin", workingDirectory: scratch.path)
        #expect(found.canonicalPath == canonical("/usr/bin/ls"))
    }

    @Test("An unset PATH means glibc's /bin:/usr/bin")
    func unsetPath() throws {
        let found = try ExecutableResolver.resolve("ls", searchPath: nil, workingDirectory: "/")
        #expect(found.path == "/bin/ls")
        #expect(found.canonicalPath == canonical("/bin/ls"))
    }

    @Test("execv semantics: a bare name is relative to the working directory")
    func directExec() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("ls")
        let found = try ExecutableResolver.resolve("ls", searchPath: standardPath, workingDirectory: scratch.path, searchesPath: false)
        #expect(found.canonicalPath == scratch.url("ls"))
    }

    @Test("A symlink resolves to its target; the found path keeps the name")
    func symlink() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let target = try scratch.script("real-tool")
        try scratch.symlink("alias", to: target)
        let found = try ExecutableResolver.resolve("alias", searchPath: scratch.path, workingDirectory: "/")
        #expect(found.path == scratch.url("alias"))
        #expect(found.canonicalPath == target)
    }

    @Test("Invalid input is an error, not a guess", arguments: [("", "/"), ("ls\u{0}x", "/"), ("ls", "relative/dir")])
    func invalidInput(_ name: String, _ workingDirectory: String) {
        #expect(throws: ExecutableResolutionError.self) {
            try ExecutableResolver.resolve(name, searchPath: standardPath, workingDirectory: workingDirectory)
        }
    }

    @Test("allExecutables binds every directory's copy, skipping relative components")
    func allExecutables() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let first = try scratch.directory("first")
        let second = try scratch.directory("second")
        try scratch.script("first/tool")
        try scratch.script("second/tool")
        try scratch.symlink("second/alias", to: "\(first)/tool")
        try scratch.script("tool")
        let found = ExecutableResolver.allExecutables(named: "tool", searchPath: ".::\(first):\(second):\(first)")
        #expect(found.map(\.canonicalPath) == ["\(first)/tool", "\(second)/tool"])
        let alias = ExecutableResolver.allExecutables(named: "alias", searchPath: "\(first):\(second)")
        #expect(alias.map(\.canonicalPath) == ["\(first)/tool"])
    }

    @Test("The cache answers repeated lookups and expires")
    func cache() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try scratch.script("tool")
        let cache = ExecutableResolverCache(timeToLive: .seconds(3600))
        let first = try cache.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        try FileManager.default.removeItem(atPath: scratch.url("tool"))
        // Within the time to live the answer is reused.
        let second = try cache.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        #expect(first == second)
        #expect(cache.statistics.hits == 1 && cache.statistics.misses == 1)
        // A different key (PATH, working directory) is a different lookup.
        #expect(throws: ExecutableResolutionError.self) {
            try cache.resolve("tool", searchPath: scratch.path + ":", workingDirectory: "/")
        }
        cache.removeAll()
        #expect(throws: ExecutableResolutionError.self) {
            try cache.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        }

        let expiring = ExecutableResolverCache(timeToLive: .zero)
        try scratch.script("tool")
        _ = try expiring.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        try FileManager.default.removeItem(atPath: scratch.url("tool"))
        #expect(throws: ExecutableResolutionError.self) {
            try expiring.resolve("tool", searchPath: scratch.path, workingDirectory: "/")
        }
    }

    @Test("The cache stays within its capacity")
    func cacheCapacity() throws {
        let cache = ExecutableResolverCache(timeToLive: .seconds(3600), capacity: 4)
        for index in 0..<10 {
            _ = try? cache.resolve("missing-\(index)", searchPath: "/nonexistent", workingDirectory: "/")
        }
        // The last lookup is cached; the first was evicted when the cache filled up.
        _ = try? cache.resolve("missing-9", searchPath: "/nonexistent", workingDirectory: "/")
        _ = try? cache.resolve("missing-0", searchPath: "/nonexistent", workingDirectory: "/")
        #expect(cache.statistics.hits == 1)
        #expect(cache.statistics.misses == 11)
    }
}
