import CSentinelLinux
import Glibc
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox

extension Supervisor {
    /// The open flags the kernel knows (`VALID_OPEN_FLAGS`; the same bits on x86-64 and aarch64,
    /// arranged differently). `openat` ignores other bits; `openat2` refuses them, so they are
    /// dropped before opening on the command's behalf.
    static let validOpenFlags: Int32 = 0o37777703
    /// `__O_TMPFILE` without `O_DIRECTORY` (Glibc's O_TMPFILE includes it).
    static let tmpfileBit: Int32 = 0o20000000

    /// An absolute path for `path` as the calling thread means it (relative to its working
    /// directory or to `dirfd`).
    func absolutePath(_ path: String, dirfd: Int32, _ target: TargetProcess) throws(SupervisorError) -> String {
        if path.hasPrefix("/") { return path }
        let directory = try target.directory(for: dirfd)
        return (directory == "/" ? "/" : directory + "/") + path
    }

    /// Resolves `absolute` the way the kernel will for the calling thread. Paths under `/proc`
    /// and `/dev` are read in the thread's view (`/proc/self`, `/dev/fd/N` mean *its* process);
    /// the rest in ours, which is the same tree: the filter refuses chroot, mounts and new
    /// namespaces.
    func resolve(_ absolute: String, tid: Int32) throws(PathResolutionError) -> ResolvedPath {
        let view = absolute.hasPrefix("/proc/") || absolute == "/proc" || absolute.hasPrefix("/dev/")
        return try PathResolver.resolve(absolute, workingDirectory: "/", processID: view ? tid : nil)
    }

    // MARK: - open, openat, openat2, creat

    func planOpen(
        _ notification: SeccompNotification, _ target: TargetProcess, dirfd: Int32, path pathAddress: UInt64,
        flags rawFlags: UInt64, mode: UInt64
    ) throws(SupervisorError) -> Plan {
        let id = notification.id
        let tid = notification.pid
        let flags = Int32(truncatingIfNeeded: rawFlags)
        let path = try target.string(at: pathAddress)
        guard !path.isEmpty else { return .answer(.error(ENOENT)) }
        let isWrite = flags & O_ACCMODE != O_RDONLY || flags & (O_CREAT | O_TRUNC | Self.tmpfileBit) != 0
        let absolute = try absolutePath(path, dirfd: dirfd, target)
        let resolved: ResolvedPath
        do {
            resolved = try resolve(absolute, tid: tid)
        } catch {
            guard isWrite else { return .answer(.error(EACCES)) }
            let request = DecisionRequest(
                action: .fileWrite, target: absolute,
                verdict: .deny(rule: "builtin:path-resolution", reason: "\(error.description) Access is denied."),
                recommendation: "Reject unless the file path is expected for this task.",
                details: details(notification))
            return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in answer(id, .error(EACCES)) }
        }
        // The supervisor opens with its own credentials, and it is the one process here that is
        // not dumpable: /proc/<supervisor>/mem, maps, environ and fd/N are open to it and closed
        // to the program. An entry of a process outside the guarded tree is never opened on the
        // program's behalf (the program may try itself: the kernel then decides).
        if let process = Self.procfsProcess(resolved.canonical), !processes.contains(process) {
            let request = DecisionRequest(
                action: isWrite ? .fileWrite : .fileRead, target: resolved.canonical,
                verdict: .deny(
                    rule: "guard:foreign-process",
                    reason: "\(resolved.canonical) belongs to process \(process), which is not one of the guarded program's; the supervisor does not open it on the program's behalf."),
                recommendation: "", details: details(notification, ["path": path]), isApprovable: false)
            return .decide([request], refuseWith: EACCES, onDenied: nil) {}
        }
        let open: @Sendable () -> Void = { [self] in
            openOnBehalf(id: id, tid: tid, absolute: absolute, resolved: resolved, flags: flags, mode: mode)
        }
        let checked = resolved.openObject != nil ? absolute : resolved.canonical
        let view: Int32? = resolved.openObject != nil ? tid : nil
        if !isWrite {
            // Reads are decided only for blocked_paths (issue 7); everything else opens silently.
            let blocked = policy.pathRules.blocked.contains { PathResolver.isPath(resolved.canonical, within: $0.path) }
            guard blocked else { return .act(open) }
            let verdict = policy.checkPath(checked, access: .read, workingDirectory: "/", processID: view)
            let request = DecisionRequest(
                action: .fileRead, target: resolved.canonical, verdict: verdict,
                recommendation: "Reject unless the file path is expected for this task.",
                details: details(notification, ["path": path]))
            return .decide([request], refuseWith: EACCES, onDenied: nil, perform: open)
        }
        let verdict = policy.checkPath(checked, access: .write, workingDirectory: "/", processID: view)
        let request = DecisionRequest(
            action: .fileWrite, target: resolved.canonical, verdict: verdict,
            recommendation: "Reject unless the file path is expected for this task.",
            details: details(notification, ["path": path]))
        return .decide([request], refuseWith: EACCES, onDenied: nil, perform: open)
    }

    /// The process id `path` belongs to when it is under `/proc/<pid>/`, else nil.
    static func procfsProcess(_ path: String) -> Int32? {
        guard path.hasPrefix("/proc/") else { return nil }
        let component = path.dropFirst(6).prefix { $0 != "/" }
        return Int32(component)
    }

    /// Opens the checked file ourselves and installs the descriptor in the calling thread's
    /// process, answering its call with the new number (`SECCOMP_ADDFD_FLAG_SEND`). The path
    /// opened is the canonical one that was checked, with `RESOLVE_NO_SYMLINKS`: a symlink
    /// swapped in after the check makes the open fail (ELOOP) instead of landing elsewhere.
    func openOnBehalf(id: UInt64, tid: Int32, absolute: String, resolved: ResolvedPath, flags: Int32, mode: UInt64) {
        // What the kernel would do with a final symlink that our resolution followed.
        if flags & (O_NOFOLLOW | O_EXCL) != 0, !absolute.hasPrefix("/proc/"), !absolute.hasPrefix("/dev/") {
            var info = stat()
            if lstat(absolute, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                if flags & O_NOFOLLOW != 0, flags & Int32(SENTINEL_O_PATH) == 0 { return answer(id, .error(ELOOP)) }
                if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL { return answer(id, .error(EEXIST)) }
            }
        }
        let creating = flags & O_CREAT != 0 || flags & Self.tmpfileBit != 0
        let ourFlags = (flags & Self.validOpenFlags) | O_CLOEXEC
        let fd: Int32
        if resolved.openObject != nil {
            // A pipe or socket the process already holds, reopened through /proc/<pid>/fd/N: the
            // magic link must be followed.
            fd = Glibc.open(resolved.canonical, ourFlags, mode_t(creating ? mode & 0o7777 : 0))
            if fd < 0 { return answer(id, .error(Glibc.errno)) }
        } else {
            let result = sentinel_supervisor_openat2(
                AT_FDCWD, resolved.canonical, UInt64(UInt32(bitPattern: ourFlags)), creating ? mode & 0o7777 : 0,
                sentinel_resolve_no_symlinks)
            if result < 0 { return answer(id, .error(-result)) }
            fd = result
        }
        defer { close(fd) }
        install(fd, id: id, closeOnExec: flags & O_CLOEXEC != 0)
    }

    /// Hands `fd` to the target and answers with its number there.
    func install(_ fd: Int32, id: UInt64, closeOnExec: Bool) {
        do {
            _ = try notifier.addFileDescriptor(fd, to: id, closeOnExec: closeOnExec, answeringWithIt: true)
        } catch {
            if error.errno == ENOENT { return }  // The thread is gone.
            if error.errno == EINVAL {
                // Before Linux 5.14 (no SECCOMP_ADDFD_FLAG_SEND): install, then answer.
                do {
                    let number = try notifier.addFileDescriptor(fd, to: id, closeOnExec: closeOnExec)
                    return answer(id, .value(Int64(number)))
                } catch {
                    log("sentinel guard: \(error)")
                }
            } else {
                log("sentinel guard: \(error)")
            }
            answer(id, .error(EACCES))
        }
    }

    // MARK: - truncate

    /// truncate(2) (issue 16): finds the file the kernel would truncate *in the calling thread's
    /// view* (``CallerView``: its root and working directory, its `/proc/self`, every symlink and
    /// `..` as the kernel follows them), decides on that file (its device and inode, and the
    /// canonical path that leads to that very inode now) with the write rules, and truncates it on
    /// the program's behalf through a descriptor of that file. A name swapped after the check
    /// cannot redirect it: what was decided is the file held open, not its name.
    ///
    /// The guard's Landlock ruleset does not handle truncation (``GuardLandlock``), so this is
    /// truncate(2)'s only check; any failure in it denies, with a record.
    func planTruncate(
        _ notification: SeccompNotification, _ target: TargetProcess, path pathAddress: UInt64, length: UInt64
    ) throws(SupervisorError) -> Plan {
        let id = notification.id
        let path = try target.string(at: pathAddress)
        guard !path.isEmpty else { return .answer(.error(ENOENT)) }
        // off_t is signed; the kernel refuses a negative length before looking the path up.
        let size = Int64(bitPattern: length)
        guard size >= 0 else { return .answer(.error(EINVAL)) }
        let tgid = try target.threadGroup()
        var recorded = details(notification, ["path": path, "length": String(size)])
        let recommendation = "Reject unless the file path is expected for this task."
        let file: CallerFile
        do {
            file = try CallerView.open(path, dirfd: AT_FDCWD, tid: notification.pid, tgid: tgid, reaches: processes.contains)
        } catch {
            // The program gets the lookup's own errno (ENOENT for a missing file, as unguarded);
            // nothing was found that a person could approve.
            let shown = (try? absolutePath(path, dirfd: AT_FDCWD, target)) ?? path
            let request = DecisionRequest(
                action: .fileWrite, target: shown,
                verdict: .deny(
                    rule: "builtin:path-resolution",
                    reason: "\(shown) cannot be looked up in the program's view (\(SupervisorError.text(error.code))). Access is denied."),
                recommendation: recommendation, details: recorded, isApprovable: false)
            return .decide([request], refuseWith: error.code, onDenied: nil) { [self] in answer(id, .error(error.code)) }
        }
        // The kernel truncates regular files only, and says so before checking any permission
        // (vfs_truncate): nothing the policy decides on.
        guard file.isRegularFile else {
            return .answer(.error(file.status.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL))
        }
        let identity = file.identity
        recorded["identity"] = "\(identity.device):\(identity.inode)"
        let (canonical, verdict) = writeVerdict(file, named: path, rule: "guard:file-identity")
        let keep = file.owned()
        let request = DecisionRequest(
            action: .fileWrite, target: canonical ?? path, verdict: verdict, recommendation: recommendation,
            details: recorded, subject: "truncate:\(identity.device):\(identity.inode)")
        return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
            // A call the program no longer waits for (a signal interrupted it, or it died) is not
            // made on its behalf.
            guard notifier.isPending(id) else { return }
            answer(id, Self.truncate(keep, to: size))
        }
    }

    /// The write rules' verdict on a file found in the caller's view (``CallerView``), with the
    /// canonical path it was decided on: the path that leads to that very inode now. A file no
    /// path leads to (deleted, or moved while being decided) is denied with `rule`: no rule of
    /// the policy can name it. `name` is what the program called it, for the reason.
    func writeVerdict(_ file: borrowing CallerFile, named name: String, rule: String) -> (canonical: String?, verdict: Verdict) {
        guard let canonical = file.canonicalPath() else {
            return (nil, .deny(
                rule: rule,
                reason: "\(name) is a file no path leads to (deleted, or moved while being decided), so no rule can name it."))
        }
        return (canonical, policy.checkPath(canonical, access: .write, workingDirectory: "/"))
    }

    /// Truncates the file `file` holds (an `O_PATH` descriptor) to `length` through a new
    /// write-only open of that very file: the permission check truncate(2) makes (write access,
    /// not append-only, not immutable, not being executed), with our credentials, which are the
    /// program's (the filter refuses every call that changes them).
    static func truncate(_ file: OwnedDescriptor, to length: Int64) -> SeccompResponse {
        let fd = Glibc.open("/proc/self/fd/\(file.value)", O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { return .error(Glibc.errno) }
        defer { close(fd) }
        return ftruncate(fd, off_t(length)) == 0 ? .value(0) : .error(Glibc.errno)
    }

    // MARK: - mkdir, mknod, rename, link, symlink, unlink, rmdir

    /// One path operand of a directory-entry call.
    struct EntryOperand {
        var dirfd: Int32
        var address: UInt64
    }

    /// A checked operand: the directory that holds the entry (canonical) and the entry's name.
    struct CheckedEntry: Sendable {
        var parent: String
        var name: String
        var full: String { parent == "/" ? "/" + name : parent + "/" + name }
    }

    func planEntry(_ notification: SeccompNotification, _ target: TargetProcess, kind: Kind) throws(SupervisorError) -> Plan {
        let a = notification.data.arguments
        let id = notification.id
        let cwd = AT_FDCWD
        func fd(_ value: UInt64) -> Int32 { Int32(truncatingIfNeeded: value) }
        var operands: [EntryOperand]
        var linkTarget: String?
        let operation: String
        switch kind {
        case .mkdir: operands = [EntryOperand(dirfd: cwd, address: a[0])]; operation = "mkdir"
        case .mkdirAt: operands = [EntryOperand(dirfd: fd(a[0]), address: a[1])]; operation = "mkdir"
        case .mknod: operands = [EntryOperand(dirfd: cwd, address: a[0])]; operation = "mknod"
        case .mknodAt: operands = [EntryOperand(dirfd: fd(a[0]), address: a[1])]; operation = "mknod"
        case .rename: operands = [EntryOperand(dirfd: cwd, address: a[0]), EntryOperand(dirfd: cwd, address: a[1])]; operation = "rename"
        case .renameAt, .renameAt2:
            operands = [EntryOperand(dirfd: fd(a[0]), address: a[1]), EntryOperand(dirfd: fd(a[2]), address: a[3])]
            operation = "rename"
        case .link: operands = [EntryOperand(dirfd: cwd, address: a[0]), EntryOperand(dirfd: cwd, address: a[1])]; operation = "link"
        case .linkAt:
            operands = [EntryOperand(dirfd: fd(a[0]), address: a[1]), EntryOperand(dirfd: fd(a[2]), address: a[3])]
            operation = "link"
            if Int32(truncatingIfNeeded: a[4]) & Supervisor.atEmptyPath != 0 {
                throw SupervisorError(.unsupported, "linkat with Supervisor.atEmptyPath (linking an open descriptor) is not supported by the guard.", errno: EACCES)
            }
        case .symlink:
            linkTarget = try target.string(at: a[0])
            operands = [EntryOperand(dirfd: cwd, address: a[1])]
            operation = "symlink"
        case .symlinkAt:
            linkTarget = try target.string(at: a[0])
            operands = [EntryOperand(dirfd: fd(a[1]), address: a[2])]
            operation = "symlink"
        case .unlink: operands = [EntryOperand(dirfd: cwd, address: a[0])]; operation = "unlink"
        case .unlinkAt: operands = [EntryOperand(dirfd: fd(a[0]), address: a[1])]; operation = "unlink"
        case .rmdir: operands = [EntryOperand(dirfd: cwd, address: a[0])]; operation = "rmdir"
        default:
            throw SupervisorError(.unsupported, "\(kind) is not a directory-entry call.")
        }
        if kind == .mknod || kind == .mknodAt {
            let mode = Int32(truncatingIfNeeded: kind == .mknod ? a[1] : a[2])
            let type = mode & Int32(S_IFMT)
            // Device nodes are never made on the command's behalf (the supervisor's privileges
            // are not the command's to use); regular files, FIFOs and sockets are.
            if type != 0, type != Int32(S_IFREG), type != Int32(S_IFIFO), type != Int32(S_IFSOCK) {
                return .answer(.error(EPERM))
            }
        }
        var checked: [CheckedEntry] = []
        var verdict: Verdict?
        for operand in operands {
            let path = try target.string(at: operand.address)
            guard !path.isEmpty else { return .answer(.error(ENOENT)) }
            let absolute = try absolutePath(path, dirfd: operand.dirfd, target)
            let components = absolute.split(separator: "/", omittingEmptySubsequences: true)
            guard let last = components.last else { return .answer(.error(EBUSY)) }  // "/" itself
            if last == "." || last == ".." { return .answer(.error(EINVAL)) }
            let parentPath = "/" + components.dropLast().joined(separator: "/")
            let parent: String
            do {
                parent = try resolve(parentPath, tid: notification.pid).canonical
            } catch {
                verdict = verdict ?? .deny(rule: "builtin:path-resolution", reason: "\(error.description) Access is denied.")
                parent = parentPath
            }
            let entry = CheckedEntry(parent: parent, name: String(last))
            checked.append(entry)
            // An entry call changes names, never contents: unlinking or renaming one link of a
            // file with several is not the write through a link the hard-link rule is about (git
            // links each object from a temporary name, then unlinks that name).
            let operandVerdict = policy.checkPath(entry.full, access: .write, workingDirectory: "/", entryOnly: true)
            if verdict == nil || (verdict!.isAllowed && !operandVerdict.isAllowed) { verdict = operandVerdict }
        }
        guard let verdict else { return .answer(.error(EINVAL)) }
        var shown = checked.map(\.full).joined(separator: " → ")
        if let linkTarget { shown += " (symlink to \(linkTarget))" }
        let request = DecisionRequest(
            action: .fileWrite, target: shown, verdict: verdict,
            recommendation: "Reject unless the file path is expected for this task.",
            details: details(notification, ["operation": operation]))
        let entries = checked
        let symlinkTarget = linkTarget
        return .decide([request], refuseWith: EACCES, onDenied: nil) { [self] in
            let result = performEntry(kind: kind, entries: entries, arguments: a, linkTarget: symlinkTarget)
            answer(id, result == 0 ? .value(0) : .error(result))
        }
    }

    /// Makes the directory-entry change in the checked directories; returns 0 or an errno.
    func performEntry(kind: Kind, entries: [CheckedEntry], arguments a: [UInt64], linkTarget: String?) -> Int32 {
        var directories: [Int32] = []
        defer { for fd in directories { close(fd) } }
        for entry in entries {
            // The parent as checked, without following any symlink swapped in since.
            let fd = sentinel_supervisor_openat2(
                AT_FDCWD, entry.parent, UInt64(UInt32(bitPattern: Int32(SENTINEL_O_PATH) | O_DIRECTORY | O_CLOEXEC)), 0,
                sentinel_resolve_no_symlinks)
            if fd < 0 { return -fd }
            directories.append(fd)
        }
        func check(_ result: Int32) -> Int32 { result == 0 ? 0 : Glibc.errno }
        switch kind {
        case .mkdir: return check(mkdirat(directories[0], entries[0].name, mode_t(truncatingIfNeeded: a[1] & 0o7777)))
        case .mkdirAt: return check(mkdirat(directories[0], entries[0].name, mode_t(truncatingIfNeeded: a[2] & 0o7777)))
        case .mknod:
            return check(mknodat(directories[0], entries[0].name, mode_t(truncatingIfNeeded: a[1]), dev_t(a[2])))
        case .mknodAt:
            return check(mknodat(directories[0], entries[0].name, mode_t(truncatingIfNeeded: a[2]), dev_t(a[3])))
        case .rename, .renameAt:
            return -sentinel_supervisor_renameat2(directories[0], entries[0].name, directories[1], entries[1].name, 0)
        case .renameAt2:
            return -sentinel_supervisor_renameat2(
                directories[0], entries[0].name, directories[1], entries[1].name, UInt32(truncatingIfNeeded: a[4]))
        case .link:
            return check(linkat(directories[0], entries[0].name, directories[1], entries[1].name, 0))
        case .linkAt:
            let follow = Int32(truncatingIfNeeded: a[4]) & AT_SYMLINK_FOLLOW
            return check(linkat(directories[0], entries[0].name, directories[1], entries[1].name, follow))
        case .symlink, .symlinkAt:
            return check(symlinkat(linkTarget ?? "", directories[0], entries[0].name))
        case .unlink: return check(unlinkat(directories[0], entries[0].name, 0))
        case .unlinkAt:
            return check(unlinkat(directories[0], entries[0].name, Int32(truncatingIfNeeded: a[2]) & AT_REMOVEDIR))
        case .rmdir: return check(unlinkat(directories[0], entries[0].name, AT_REMOVEDIR))
        default: return EINVAL
        }
    }
}
