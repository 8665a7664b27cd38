// The seccomp profile file handed to `docker run --security-opt seccomp=FILE`. The profile is
// loaded with Sentinel's own reader first, so a broken profile is refused with a sentence that
// names the line, before Docker sees it. Built-in profiles and log-mode copies are written to a
// private temporary directory that is removed after the run (§6.3 step 3 of the original, which
// also rewrote only `defaultAction`).

import Glibc

/// A seccomp profile prepared for one `docker run`.
public struct DockerSeccompFile: Sendable {
    /// What goes into `--security-opt`.
    public var option: DockerSeccompOption
    /// The status line for the run report.
    public var status: String
    /// Warnings for stderr (seccomp off).
    public var warnings: [String]
    /// A private directory holding a written profile, removed by `remove()`.
    public var temporaryDirectory: String?

    /// Loads the profile `settings` name, writes a copy when Docker needs one (built-in profile,
    /// log mode) and returns the option. Throws when the profile is missing or invalid.
    public static func prepare(_ settings: SandboxSpec.SeccompSettings) throws(SandboxError) -> DockerSeccompFile {
        if settings.mode == .off {
            return DockerSeccompFile(
                option: .unconfined, status: "off (seccomp=unconfined: no system call is filtered)",
                warnings: ["--seccomp-mode off: the container runs without a seccomp filter (seccomp=unconfined); use it only to troubleshoot."],
                temporaryDirectory: nil)
        }
        var profile: SeccompProfile
        let name: String
        do {
            if let path = settings.profilePath {
                var info = stat()
                guard stat(path, &info) == 0 else { throw SandboxError(.invalidSpec, "Seccomp profile does not exist: \(path)") }
                guard info.st_mode & S_IFMT == S_IFREG else { throw SandboxError(.invalidSpec, "Seccomp profile is not a file: \(path)") }
                profile = try SeccompProfile.load(contentsOf: path)
                name = path
            } else if let builtin = settings.builtinProfile, let text = BuiltinSeccompProfiles.text(named: builtin) {
                profile = try SeccompProfile(json: Array(text.utf8), source: "builtin:\(builtin)")
                name = "builtin:\(builtin)"
            } else {
                throw SandboxError(.invalidSpec, "No seccomp profile was given; pass --seccomp PATH or use --seccomp-profile strict.")
            }
        } catch let error as SandboxError {
            throw error
        } catch let error as SeccompError {
            throw SandboxError(.invalidSpec, "Seccomp profile \(settings.profilePath ?? "builtin") cannot be used: \(error.description)", errno: error.errno)
        } catch {
            throw SandboxError(.invalidSpec, "Seccomp profile cannot be used: \(error).")
        }
        let shortName = name.split(separator: "/").last.map(String.init) ?? name
        if settings.mode == .enforce, let path = settings.profilePath {
            return DockerSeccompFile(option: .profile(path: path), status: "enforce (\(shortName))", warnings: [], temporaryDirectory: nil)
        }
        if settings.mode == .log {
            // Only the default action changes: the profile's explicit rules (ENOSYS for clone3,
            // EPERM for the listed calls) stay in force, as in the original.
            profile.defaultAction = .log
            profile.defaultErrnoRet = nil
        }
        let directory = try makePrivateDirectory(prefix: settings.mode == .log ? "sentinel-seccomp-log-" : "sentinel-seccomp-")
        let file = directory + "/profile.json"
        do {
            try profile.write(to: file)
        } catch {
            DockerTemporary.removeTree(directory)
            throw SandboxError(.setupFailed, "Could not write the seccomp profile for Docker: \(error.description)", errno: error.errno)
        }
        let status = settings.mode == .log
            ? "log (\(shortName) with defaultAction SCMP_ACT_LOG: calls it would deny run and go to the kernel log, see dmesg)"
            : "enforce (\(shortName))"
        return DockerSeccompFile(option: .profile(path: file), status: status, warnings: [], temporaryDirectory: directory)
    }

    /// Removes the written copy, if any.
    public func remove() {
        if let temporaryDirectory { DockerTemporary.removeTree(temporaryDirectory) }
    }

    static func makePrivateDirectory(prefix: String) throws(SandboxError) -> String {
        let base = DockerTemporary.base()
        var template = Array("\(base)/\(prefix)XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            let code = errno
            throw SandboxError(.setupFailed, "Could not create a temporary directory in \(base): \(String(cString: strerror(code))). Set TMPDIR to a writable directory.", errno: code)
        }
        return String(cString: made)
    }

}

/// Temporary directories for seccomp copies and image build contexts.
enum DockerTemporary {
    /// `$TMPDIR` when it is an absolute path, else `/tmp`.
    static func base() -> String {
        if let value = getenv("TMPDIR").map({ String(cString: $0) }), value.hasPrefix("/") { return value }
        return "/tmp"
    }

    /// `rm -rf` of a directory this process made, without following symlinks (lstat; a link
    /// is unlinked, never entered).
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
