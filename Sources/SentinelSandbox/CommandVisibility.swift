// Why a command the caller can run on the host cannot run in the native sandbox, in host terms.
//
// The sandbox shows the system directories, the workspace and the binds, and resets PATH. A
// user's toolchain often lives elsewhere: a venv's `bin/python3` is a symlink to the interpreter
// that made it (a pyenv one under ~/.pyenv), a pyenv shim is a script whose interpreter is found
// through ~/.pyenv. The kernel only says ENOENT ("command not found inside the sandbox"); this
// says which link or interpreter leads outside, and how to bring it in (`--ro-bind`).

import Glibc
import SentinelPolicy

/// Finds the part of a command that lies outside what the native sandbox shows.
public enum CommandVisibility {
    /// Why `program` (as the sandbox's command names it) cannot be found or run inside, when a
    /// file it needs lies outside the sandbox: one sentence with what to do, or nil.
    ///
    /// - Parameters:
    ///   - program: `command[0]` as given (a name, a path relative to `/workspace`, an absolute path).
    ///   - spec: the run's spec (the workspace and the binds decide what is shown).
    ///   - callerPath: the caller's `PATH`, for a bare name the sandbox's `PATH` does not find.
    /// - Returns: the sentence, or nil when nothing outside is to blame.
    public static func outsideReason(_ program: String, spec: SandboxSpec, callerPath: String?) -> String? {
        if !program.contains("/") {
            // Found inside (through the sandbox's PATH, which holds only system directories):
            // then its links or interpreter may lead out.
            for directory in SandboxEnvironment.path.split(separator: ":") {
                let candidate = "\(directory)/\(program)"
                if Sys.fileType(candidate) != nil { return chain(from: candidate, spec: spec) }
            }
            guard let found = lookUp(program, in: callerPath ?? "") else { return nil }
            return "\(program) is not on the sandbox's PATH (\(SandboxEnvironment.path)); on yours it is \(found), which the "
                + "sandbox does not show: bind it read-only with --ro-bind \(suggestedBind(for: resolvedTarget(found) ?? found)) and run "
                + "it by its path, or install it in a system directory."
        }
        let inside = program.hasPrefix("/") ? PathTranslation.lexical(program) : PathTranslation.lexical("/workspace/" + program)
        guard let host = hostPath(of: inside, spec: spec) else {
            return "\(program) is not inside the sandbox: only the system directories, /workspace and the binds are shown; "
                + "bind its directory read-only with --ro-bind DIR, or copy it into the workspace."
        }
        return chain(from: host, spec: spec)
    }

    /// A note when a bare `program` is a different file inside the sandbox than on the caller's
    /// `PATH` (the sandbox resets `PATH`): `python3` silently becoming the system interpreter
    /// without the caller's packages.
    public static func pathNote(_ program: String, spec: SandboxSpec, callerPath: String?) -> String? {
        guard !program.contains("/"), let callerPath, let theirs = lookUp(program, in: callerPath) else { return nil }
        guard let ours = lookUp(program, in: SandboxEnvironment.path) else { return nil }
        let theirTarget = resolvedTarget(theirs) ?? theirs
        guard resolvedTarget(ours) != theirTarget, !isShown(theirTarget, spec: spec) else { return nil }
        return "\(program) runs as \(ours) inside the sandbox (its PATH is reset), not as \(theirs) from your PATH, which the sandbox "
            + "does not show. To run that one, bind it read-only (--ro-bind \(suggestedBind(for: theirTarget))) and give its path; "
            + "a venv in the workspace runs as .venv/bin/python3 (docs/SANDBOX.md, \"Your toolchain\")."
    }

    /// Why `program` was not found in a container (exit 127), when it lies in the workspace or a
    /// bind and a symlink or its `#!` interpreter leads out of them: a container shows the host's
    /// workspace and binds only, and takes every other path from the image, so a venv made on the
    /// host with a pyenv (or any host-only) interpreter points at a file the image does not have.
    /// The Docker backend's own error says only "No such file or directory"; this names the link.
    ///
    /// - Parameters:
    ///   - program: `command[0]` as given (a path relative to `/workspace`, or absolute).
    ///   - spec: the run's spec (its workspace and binds are what the container shows of the host).
    /// - Returns: one sentence with what to do, or nil when nothing in the command leads out.
    public static func containerOutsideReason(_ program: String, spec: SandboxSpec) -> String? {
        // A bare name is looked up on the image's PATH, which says nothing about the host.
        guard program.contains("/") else { return nil }
        var inside = program.hasPrefix("/") ? PathTranslation.lexical(program) : PathTranslation.lexical("/workspace/" + program)
        guard var host = shownHostPath(of: inside, spec: spec) else { return nil }
        let advice = "make the venv with the image's interpreter (python3 -m venv run in the container), or use the native backend, "
            + "which can show the host's with --ro-bind"
        for _ in 0..<40 {
            guard Sys.fileType(host) == S_IFLNK, let link = Sys.readlink(host) else { break }
            // The container resolves the link in its own view: an absolute target is the image's
            // unless it lies in the workspace or a bind.
            let directory = String(inside[..<(inside.lastIndex(of: "/") ?? inside.startIndex)])
            let target = PathTranslation.lexical(link.hasPrefix("/") ? link : directory + "/" + link)
            guard let next = shownHostPath(of: target, spec: spec) else {
                let through = inside == PathTranslation.lexical(program.hasPrefix("/") ? program : "/workspace/" + program)
                    ? "is a symlink to" : "leads, through the symlink \(inside), to"
                return "\(program) \(through) \(target), which a container takes from the image, not from the host (it shows "
                    + "only the workspace and the binds of the host), and the image has no such file: \(advice)."
            }
            inside = target
            host = next
        }
        guard let interpreter = shebang(of: host) else { return nil }
        let path = PathTranslation.lexical(interpreter)
        guard shownHostPath(of: path, spec: spec) == nil else { return nil }
        return "\(program) is a script for \(interpreter) (its #! line), which a container takes from the image, not from the host, "
            + "and the image has no such file (or it cannot run there): run the script with an interpreter the image has, or \(advice)."
    }

    /// The host path a container shows at `inside` (the workspace or a bind), or nil: the image's.
    static func shownHostPath(of inside: String, spec: SandboxSpec) -> String? {
        func under(_ path: String, _ root: String) -> Bool { root == "/" || path == root || path.hasPrefix(root + "/") }
        if under(inside, "/workspace") { return spec.workspace + inside.dropFirst("/workspace".count) }
        if let bind = spec.binds.filter({ under(inside, $0.destination) }).max(by: { $0.destination.count < $1.destination.count }) {
            return bind.source + inside.dropFirst(bind.destination.count)
        }
        return nil
    }

    /// Follows `host` (a host path the sandbox shows) through its symlinks and its `#!`
    /// interpreter; the first step that leaves the sandbox, as a sentence.
    static func chain(from host: String, spec: SandboxSpec) -> String? {
        var current = host
        for _ in 0..<40 {
            guard Sys.fileType(current) == S_IFLNK, let link = Sys.readlink(current) else { break }
            let directory = String(current[..<(current.lastIndex(of: "/") ?? current.startIndex)])
            let target = PathTranslation.lexical(link.hasPrefix("/") ? link : directory + "/" + link)
            if !isShown(target, spec: spec) {
                let final = resolvedTarget(target) ?? target
                return "\(host) is a symlink to \(target), which is not inside the sandbox; bind it with --ro-bind "
                    + "\(suggestedBind(for: final)) or create the venv with a system interpreter (/usr/bin/python3 -m venv)."
            }
            current = target
        }
        guard let interpreter = shebang(of: current) else { return nil }
        let path = PathTranslation.lexical(interpreter)
        if !isShown(path, spec: spec) || (resolvedTarget(path).map { !isShown($0, spec: spec) } ?? false) {
            let final = resolvedTarget(path) ?? path
            return "\(host) is a script for \(interpreter) (its #! line), which is not inside the sandbox; bind it with --ro-bind "
                + "\(suggestedBind(for: final)), or run the script with an interpreter the sandbox shows."
        }
        return nil
    }

    /// The host path an inside path shows, or nil when it is the sandbox's own (/tmp, /run, …).
    static func hostPath(of inside: String, spec: SandboxSpec) -> String? {
        func under(_ path: String, _ root: String) -> Bool { root == "/" || path == root || path.hasPrefix(root + "/") }
        if under(inside, "/workspace") { return spec.workspace + inside.dropFirst("/workspace".count) }
        if let bind = spec.binds.filter({ under(inside, $0.destination) }).max(by: { $0.destination.count < $1.destination.count }) {
            return bind.source + inside.dropFirst(bind.destination.count)
        }
        if PolicyMounts.systemDirectories.contains(where: { under(inside, $0) }) { return inside }
        return nil
    }

    /// Whether the sandbox shows the host path `path` (in a system directory, the workspace or a bind).
    static func isShown(_ path: String, spec: SandboxSpec) -> Bool {
        func under(_ path: String, _ root: String) -> Bool { path == root || path.hasPrefix(root + "/") }
        if PolicyMounts.systemDirectories.contains(where: { under(path, $0) }) { return true }
        let workspace = resolvedTarget(spec.workspace) ?? spec.workspace
        if under(path, spec.workspace) || under(path, workspace) { return true }
        return spec.binds.contains { under(path, $0.source) }
    }

    /// Where to bind for `file`: an install prefix when the file is in its `bin` (a pyenv
    /// version, a toolchain), else the file's directory.
    static func suggestedBind(for file: String) -> String {
        let directory = String(file[..<(file.lastIndex(of: "/") ?? file.startIndex)])
        if directory.hasSuffix("/bin"), let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            return String(directory[..<slash])
        }
        return directory.isEmpty ? "/" : directory
    }

    /// `realpath`, or nil when the path does not resolve.
    static func resolvedTarget(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// The first executable regular file `name` names in `path`'s directories.
    static func lookUp(_ name: String, in path: String) -> String? {
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The interpreter a `#!` line names (its first word), if the file starts with one.
    static func shebang(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 2, buffer[0] == UInt8(ascii: "#"), buffer[1] == UInt8(ascii: "!") else { return nil }
        let line = buffer[2..<count].prefix { $0 != UInt8(ascii: "\n") }
        let words = String(decoding: line, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first, first.hasPrefix("/") else { return nil }
        return String(first)
    }
}
