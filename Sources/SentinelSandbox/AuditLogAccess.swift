// Why an audit log cannot be opened, and what to change. Every entry point that writes one
// (`sentinel guard`, the image's entrypoint, the Docker backend) refuses to run without it; the
// refusal must say which file or directory stands in the way, whose it is, and what to do. The
// common case is a log an earlier run wrote as another user: a workspace that changed owner
// changes the container's user, and compose's SENTINEL_UID may change between runs.

import Glibc
import SentinelAudit

/// Explains audit logs this process cannot write.
public enum AuditLogAccess {
    /// Why this process cannot append to the log at `path` (or its anchor), as a sentence with
    /// what to change; nil when it can, as far as a check before opening can tell.
    ///
    /// - Parameters:
    ///   - path: the log's absolute path.
    ///   - elsewhere: how the operator picks another file (`pass --audit-log PATH`).
    /// - Returns: the sentence, or nil.
    public static func problem(_ path: String, elsewhere: String) -> String? {
        for file in [path, AuditAnchor.path(forLog: path)] {
            var info = stat()
            guard lstat(file, &info) == 0 else { continue }
            if faccessat(AT_FDCWD, file, W_OK, AT_EACCESS) != 0 {
                return explain(file, errno: errno, elsewhere: elsewhere)
            }
        }
        let directory = parent(of: path)
        if faccessat(AT_FDCWD, directory, W_OK | X_OK, AT_EACCESS) != 0 {
            return explain(path, errno: errno, elsewhere: elsewhere)
        }
        return nil
    }

    /// A sentence on why `path` could not be opened for appending with `errno`, and what to change.
    ///
    /// - Parameters:
    ///   - path: the log (or anchor) that failed.
    ///   - errno: the error of the failing call, when known.
    ///   - elsewhere: how the operator picks another file.
    /// - Returns: the sentence.
    public static func explain(_ path: String, errno code: Int32?, elsewhere: String) -> String {
        let uid = geteuid()
        var info = stat()
        if lstat(path, &info) == 0 {
            if code == EACCES || code == EPERM || code == nil {
                return "\(path) belongs to uid \(info.st_uid) (mode \(mode(info))) and this process runs as uid \(uid), "
                    + "which may not write it: an earlier run as another user wrote it. Run as uid \(info.st_uid), give the "
                    + "file and its .anchor to uid \(uid) (chown), move them away to start a new log, or \(elsewhere)."
            }
            if code == EROFS {
                return "\(path) is on a read-only file system: \(elsewhere) on a writable one."
            }
            return "\(path) cannot be opened for appending (\(text(code))): check the file, or \(elsewhere)."
        }
        let directory = parent(of: path)
        var directoryInfo = stat()
        guard stat(directory, &directoryInfo) == 0 else {
            return "The directory \(directory) does not exist (\(text(Glibc.errno))): create it, or \(elsewhere)."
        }
        guard directoryInfo.st_mode & S_IFMT == S_IFDIR else {
            return "\(directory) is not a directory: \(elsewhere)."
        }
        if code == EROFS || (code == nil && faccessat(AT_FDCWD, directory, W_OK, AT_EACCESS) != 0 && Glibc.errno == EROFS) {
            return "The directory \(directory) is on a read-only file system, so the log cannot be created there: "
                + "\(elsewhere) on a writable one."
        }
        return "The directory \(directory) belongs to uid \(directoryInfo.st_uid) (mode \(mode(directoryInfo))) and this process runs as "
            + "uid \(uid), which may not create the log in it: give the directory to uid \(uid), or \(elsewhere)."
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func mode(_ info: stat) -> String {
        "0" + String(info.st_mode & 0o7777, radix: 8)
    }

    static func text(_ code: Int32?) -> String {
        guard let code else { return "unknown error" }
        return String(cString: strerror(code))
    }
}
