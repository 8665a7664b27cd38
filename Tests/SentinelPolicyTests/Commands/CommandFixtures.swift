import Foundation
import SentinelPolicy
import Testing

/// A directory under `/tmp` that a test fills with executables, symlinks and plain files. Tests
/// remove it with `defer { scratch.remove() }`, which also keeps it alive until the test ends
/// (a `deinit` could run as soon as the last use of the object, while paths are still in use).
final class ScratchDirectory {
    /// The directory's canonical absolute path (no symlinks, so it equals `realpath` results).
    let path: String

    init() throws {
        var template = Array("/tmp/sentinel-commands-XXXXXX".utf8CString)
        let created = try template.withUnsafeMutableBufferPointer { buffer in
            guard let result = mkdtemp(buffer.baseAddress!) else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            return String(cString: result)
        }
        path = URL(fileURLWithPath: created).resolvingSymlinksInPath().path
    }

    /// Removes the directory and everything in it.
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `path/name`.
    func url(_ name: String) -> String { path + "/" + name }

    /// Creates a directory inside.
    @discardableResult
    func directory(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: url(name), withIntermediateDirectories: true)
        return url(name)
    }

    /// Writes a shell script with the given mode (executable by default).
    @discardableResult
    func script(_ name: String, mode: Int = 0o755, body: String = "#!/bin/sh\nexit 0\n") throws -> String {
        let file = url(name)
        try Data(body.utf8).write(to: URL(fileURLWithPath: file))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return file
    }

    /// Copies an existing file in (a different inode: what a copy of an interpreter looks like).
    @discardableResult
    func copy(_ source: String, as name: String) throws -> String {
        try FileManager.default.copyItem(atPath: source, toPath: url(name))
        return url(name)
    }

    /// Creates a symlink `name` → `target`.
    @discardableResult
    func symlink(_ name: String, to target: String) throws -> String {
        try FileManager.default.createSymbolicLink(atPath: url(name), withDestinationPath: target)
        return url(name)
    }

    /// Creates a hard link `name` to `target` (same file system).
    @discardableResult
    func hardLink(_ name: String, to target: String) throws -> String {
        try FileManager.default.linkItem(atPath: target, toPath: url(name))
        return url(name)
    }
}

/// The canonical path of an executable on this machine (`/usr/bin/ls` for `ls`), for tests that
/// compare with what the resolver must find.
func canonical(_ path: String) -> String {
    URL(fileURLWithPath: path).resolvingSymlinksInPath().path
}

/// The PATH tests bind and evaluate with: Debian's, without the tester's personal directories.
let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/// Compiles rules from entries written as in `sentinel.yaml`.
func compileRules(
    _ entries: [(command: String, argsDeny: [String])], blocked: [String] = [],
    searchPath: String = standardPath, workingDirectory: String = "/"
) throws -> CommandRules {
    try CommandRules(allowedCommands: entries, blockedCommandBases: blocked,
                     searchPath: searchPath, workingDirectory: workingDirectory)
}

/// An evaluator without a cache, so every test sees the file system as it is now.
func makeEvaluator(
    _ entries: [(command: String, argsDeny: [String])], blocked: [String] = [],
    searchPath: String = standardPath, workingDirectory: String = "/"
) throws -> CommandEvaluator {
    CommandEvaluator(
        rules: try compileRules(entries, blocked: blocked, searchPath: searchPath, workingDirectory: workingDirectory),
        cache: nil
    )
}
