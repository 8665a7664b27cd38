import Foundation
import SentinelTestSupport
import Testing
@testable import SentinelPolicy

/// Path decisions on a real temporary tree: containment by components after resolving symlinks,
/// `..`, `/proc/self/root`, `/proc/self/cwd`, `/dev/fd` and hard links (§1.3, §12.1 items 4–5).
@Suite struct PathRulesTests {
    /// `<root>/project` is the base directory; `<root>/project/workspace` is allowed;
    /// `<root>/outside` is not; `<root>/project/workspace/secrets` is blocked;
    /// `<root>/docs` is read-only.
    let root: String
    let base: String
    let policy: Policy

    init() throws {
        let fm = FileManager.default
        let resolvedTemp = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path.removingSuffixSlash
        root = resolvedTemp + "/sentinel-paths-\(UUID().uuidString)"
        base = root + "/project"
        for directory in ["project/workspace/secrets", "project/workspace_fake", "outside", "docs", "home/.ssh"] {
            try fm.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        for file in ["project/workspace/notes.txt", "outside/target.txt", "docs/readme.txt", "project/workspace/secrets/key"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/" + file))
        }
        let yaml = """
            allowed_paths: [./workspace]
            blocked_paths: [./workspace/secrets, ~/.ssh]
            read_only_paths: [\(root)/docs]
            """
        let document = try PolicyLoader(environment: [:]).parse(yaml)
        policy = try Policy(document: document, context: PolicyContext(baseDirectory: base, homeDirectory: root + "/home"))
    }

    func decide(_ path: String, _ access: FileAccess = .read, cwd: String? = nil) -> Verdict {
        policy.checkPath(path, access: access, workingDirectory: cwd ?? base)
    }

    @Test func insideTheWorkspaceIsAllowed() {
        #expect(decide("workspace/notes.txt").isAllowed)
        #expect(decide("./workspace/new-file.txt", .write).isAllowed, "a file that does not exist yet")
        #expect(decide(base + "/workspace", .read).rule == "allowed_paths[0]")
        #expect(decide("workspace/a/b/../../notes.txt", .write).isAllowed)
    }

    @Test func outsideIsDeniedWithTheOriginalsSentenceAndARemedy() {
        let verdict = decide(root + "/outside/target.txt", .write)
        #expect(verdict.decision == .deny)
        #expect(verdict.rule == "default:allowed_paths")
        #expect(verdict.reason.contains("is outside the allowed workspace."))
        #expect(verdict.remedy?.contains("\(root)/outside") == true)
    }

    @Test func aSiblingWithTheSamePrefixIsNotInside() {
        #expect(decide("workspace_fake/x", .write).decision == .deny)
    }

    @Test func dotDotCannotClimbOut() {
        #expect(decide("workspace/../../outside/target.txt").decision == .deny)
        #expect(decide("workspace/../workspace/../../outside/target.txt", .write).decision == .deny)
    }

    @Test func blockedWinsInsideAnAllowedRoot() {
        let verdict = decide("workspace/secrets/key")
        #expect(verdict.decision == .deny)
        #expect(verdict.rule == "blocked_paths[0]")
        #expect(verdict.reason.hasSuffix("is explicitly blocked."))
        #expect(decide(root + "/home/.ssh/id_rsa").rule == "blocked_paths[1]", "~ expands to the home directory")
    }

    @Test func aSymlinkInsideTheWorkspaceIsJudgedByItsTarget() throws {
        let link = base + "/workspace/escape"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: root + "/outside")
        #expect(decide("workspace/escape/target.txt", .write).decision == .deny)
        #expect(decide("workspace/escape/../notes.txt").decision == .deny,
                "`..` after a symlink climbs from the target, as the kernel does")

        let toSecrets = base + "/workspace/innocent"
        try FileManager.default.createSymbolicLink(atPath: toSecrets, withDestinationPath: "secrets")
        #expect(decide("workspace/innocent/key").rule == "blocked_paths[0]")
    }

    @Test func aDanglingSymlinkIsJudgedByWhereItWouldCreate() throws {
        try FileManager.default.createSymbolicLink(atPath: base + "/workspace/dangling", withDestinationPath: root + "/outside/new.txt")
        #expect(decide("workspace/dangling", .write).decision == .deny)
    }

    @Test func aSymlinkLoopDenies() throws {
        try FileManager.default.createSymbolicLink(atPath: base + "/workspace/loop", withDestinationPath: "loop")
        let verdict = decide("workspace/loop/x")
        #expect(verdict.decision == .deny)
        #expect(verdict.rule == "builtin:path-resolution")
    }

    @Test func procSelfRootAndCwdResolveLikeTheKernel() {
        #expect(decide("/proc/self/root" + root + "/outside/target.txt").decision == .deny)
        #expect(decide("/proc/self/root" + base + "/workspace/notes.txt").isAllowed)
        let ownPID = ProcessInfo.processInfo.processIdentifier
        #expect(decide("/proc/\(ownPID)/root" + root + "/outside/target.txt", .write).decision == .deny)
        // /proc/self/cwd is the test process's real working directory, not the policy base.
        let cwd = FileManager.default.currentDirectoryPath
        let expected = policy.checkPath(cwd + "/x", access: .write)
        #expect(policy.checkPath("/proc/self/cwd/x", access: .write).decision == expected.decision)
    }

    @Test func devFdResolvesToTheOpenFile() throws {
        let handle = try #require(FileHandle(forReadingAtPath: root + "/outside/target.txt"))
        defer { try? handle.close() }
        let fd = handle.fileDescriptor
        let verdict = decide("/dev/fd/\(fd)", .write)
        #expect(verdict.decision == .deny, "\(verdict)")
        #expect(verdict.reason.contains(root + "/outside/target.txt"))
    }

    @Test func pipesReopenedThroughProcAreNotFiles() throws {
        let pipe = Pipe()
        let verdict = decide("/dev/fd/\(pipe.fileHandleForWriting.fileDescriptor)", .write)
        #expect(verdict.isAllowed)
        #expect(verdict.rule == "builtin:open-descriptor")
    }

    @Test func anotherProcessesSelfIsThatProcess() throws {
        // A supervisor checks a child's `/proc/self/...`: it must mean the child, here PID 1.
        let viaChild = policy.checkPath("/proc/self/root" + root + "/outside/target.txt", access: .read,
                                        workingDirectory: base, processID: 1)
        #expect(viaChild.decision == .deny)
    }

    @Test func hardLinkedFilesAreNotWritable() throws {
        let link = base + "/workspace/linked.txt"
        try FileManager.default.linkItem(atPath: root + "/outside/target.txt", toPath: link)
        let verdict = decide("workspace/linked.txt", .write)
        #expect(verdict.decision == .deny)
        #expect(verdict.rule == "builtin:hard-links")

        let lenient = try Policy(
            document: PolicyLoader(environment: [:]).parse("allowed_paths: [./workspace]\nallow_hardlinked_writes: true\n"),
            context: PolicyContext(baseDirectory: base, homeDirectory: root))
        #expect(lenient.checkPath("workspace/linked.txt", access: .write, workingDirectory: base).isAllowed)
        // Removing or renaming the name changes no contents: allowed; writing through it still is not.
        #expect(policy.checkPath("workspace/linked.txt", access: .write, workingDirectory: base, entryOnly: true).isAllowed)
        #expect(!policy.checkPath(root + "/outside/target.txt", access: .write, workingDirectory: base, entryOnly: true).isAllowed)
    }

    @Test func readOnlyPathsReadButDoNotWrite() {
        #expect(decide(root + "/docs/readme.txt", .read).isAllowed)
        let write = decide(root + "/docs/readme.txt", .write)
        #expect(write.decision == .deny)
        #expect(write.rule == "read_only_paths[0]")
    }

    @Test func rulesDoNotMoveWithTheWorkingDirectory() throws {
        // The original resolved `./workspace` against the CWD at check time, so chdir into a
        // directory with its own `workspace` re-rooted the allowlist (§12.1 item 5).
        try FileManager.default.createDirectory(atPath: root + "/outside/workspace", withIntermediateDirectories: true)
        #expect(decide("workspace/x", .write, cwd: root + "/outside").decision == .deny)
    }

    @Test(arguments: ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/tty"])
    func harmlessDevicesAreAllowed(_ device: String) {
        #expect(decide(device, .write).isAllowed)
    }

    @Test func anEmptyPathDenies() {
        #expect(decide("", .read).decision == .deny)
    }

    /// The openat2 tier decides on the bytes of the normalised path: redundant slashes and `.`
    /// fold, messages show the canonical path next to the one given, NUL denies, and a name that
    /// is only canonically equivalent to an allowed or blocked one is a different name.
    @Test func spellingsOfOnePathDecideAlike() throws {
        #expect(decide("workspace//./notes.txt").rule == "allowed_paths[0]")
        #expect(decide(".//workspace/./secrets//key").rule == "blocked_paths[0]")
        #expect(decide("//dev//./null", .write).rule == "builtin:harmless-devices")
        let outside = decide("./outside//target.txt", .write)
        #expect(outside.rule == "default:allowed_paths")
        #expect(outside.reason.contains("./outside//target.txt (\(base)/outside/target.txt)"))
        let withNUL = decide("workspace/notes.txt\0/../../outside/target.txt")
        #expect(withNUL.rule == "builtin:path-resolution")
        // "workspace" spelt with a decomposed character would be a sibling directory, not the root.
        let decomposed = "workspace".replacingOccurrences(of: "a", with: "a\u{301}")
        try FileManager.default.createDirectory(atPath: base + "/" + decomposed, withIntermediateDirectories: true)
        #expect(decide(decomposed + "/x", .write).decision == .deny)
    }
}

extension String {
    fileprivate var removingSuffixSlash: String { hasSuffix("/") && count > 1 ? String(dropLast()) : self }
}

/// The kernel shortcut (open with O_PATH, read back /proc/self/fd) and the user-space walk must
/// agree on every kind of path, or the two views of one policy would differ.
@Suite struct PathResolverAgreementTests {
    @Test func theKernelShortcutAndTheWalkAgree() throws {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path + "/sentinel-agree-\(UUID().uuidString)"
        try fm.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/a/b/file"))
        try fm.createSymbolicLink(atPath: root + "/a/up", withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: root + "/a/abs", withDestinationPath: root + "/a/b")
        try fm.createSymbolicLink(atPath: root + "/a/dangling", withDestinationPath: root + "/nowhere/new")
        try fm.linkItem(atPath: root + "/a/b/file", toPath: root + "/a/hard")
        let paths = [
            "a/b/file", "a/b/new", "a/up/a/b/file", "a/abs/file", "a/abs/../b/file", "a/dangling", "a/hard",
            "a/missing/deeper/x", "a/b/./file", "a//b///file", "a/b/file/x", "/proc/self/root" + root + "/a/b/file",
            "/etc/passwd", "/", "/dev/null", "a/b/..", ".",
            // A missing component before any symlink is answered by one failed openat2; after a
            // symlink (or with `..`) it must still be resolved through the link.
            "a/abs/new", "a/dangling/x", "a/up/new", "a/missing/../b/file", "a/b/file/x/y", "a/b/new/../file",
            "/nonexistent-\(UUID().uuidString)/x",
        ]
        for path in paths {
            let fast = try PathResolver.resolve(path, workingDirectory: root)
            let walked = try PathResolver.walk(path, workingDirectory: root, processID: nil)
            #expect(fast.canonical == walked.canonical, "\(path)")
            #expect(fast.exists == walked.exists, "\(path)")
            #expect(fast.isHardLinkedFile == walked.isHardLinkedFile, "\(path)")
            // What a read decision uses: the same file, only without the hard-link count.
            let read = try PathResolver.resolve(path, workingDirectory: root, processID: nil, countingLinks: false)
            #expect(read.canonical == walked.canonical, "\(path)")
            #expect(read.exists == walked.exists, "\(path)")
        }
    }

    @Test func anotherProcesssPathsWithoutSymlinksTakeTheShortcutAndAgreeWithTheWalk() throws {
        // The supervisor resolves for the process it guards: absolute paths outside /proc that
        // cross no symlink take the symlink-free tier; the rest must still be walked in that
        // process's view (`/dev/stdout` is a link to /proc/self/fd/1, meaning *its* descriptor).
        let fm = FileManager.default
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path + "/sentinel-view-\(UUID().uuidString)"
        try fm.createDirectory(atPath: root + "/a/b", withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/a/b/file"))
        try fm.createSymbolicLink(atPath: root + "/a/abs", withDestinationPath: root + "/a/b")
        try fm.createSymbolicLink(atPath: root + "/a/dangling", withDestinationPath: root + "/nowhere/new")
        try fm.linkItem(atPath: root + "/a/b/file", toPath: root + "/a/hard")
        defer { try? fm.removeItem(atPath: root) }
        let other = getppid()
        let paths = [
            root + "/a/b/file", root + "/a/b/new", root + "/a/abs/file", root + "/a/dangling", root + "/a/hard",
            root + "/a/missing/x", "/dev/null", "/dev/zero", "/dev/stdout", "/dev/fd/0", "/etc/passwd", "/",
            "/proc/self/cwd",
        ]
        for path in paths {
            let resolved = try PathResolver.resolve(path, workingDirectory: "/", processID: other)
            let walked = try PathResolver.walk(path, workingDirectory: "/", processID: other)
            #expect(resolved.canonical == walked.canonical, "\(path)")
            #expect(resolved.exists == walked.exists, "\(path)")
            #expect(resolved.isHardLinkedFile == walked.isHardLinkedFile, "\(path)")
        }
    }
}

/// Containment compares bytes, as the kernel compares names: a root spelt with a decomposed `é`
/// (e + U+0301) does not contain a directory spelt with the precomposed one, even when the two
/// strings are canonically equivalent for `String`'s own comparison.
@Suite struct ContainmentTests {
    @Test(arguments: [
        ("/ws/cafe\u{301}", "/ws/café/x", false),
        ("/ws/café", "/ws/cafe\u{301}/x", false),
        ("/ws/cafe\u{301}", "/ws/cafe\u{301}/x", true),
        ("/ws/cafe\u{301}", "/ws/caféx/secret", false),
        ("/ws/cafe\u{301}", "/ws/cafe\u{301}x/secret", false),
        ("/a/b", "/a/b", true), ("/a/b", "/a/bc", false), ("/a/b", "/a", false), ("/", "/anything", true),
    ])
    func containmentIsByBytesAndWholeComponents(_ root: String, _ path: String, _ expected: Bool) {
        #expect(PathResolver.isPath(path, within: root) == expected, "\(path) within \(root)")
    }
}

/// The lexical normalisation of the `openat2` tier: its result is handed to `openat2` and then
/// taken as the canonical path, so anything it cannot fold exactly (`..`) must be refused.
@Suite struct LexicalFormTests {
    @Test(arguments: [
        ("/", "/"), ("/a", "/a"), ("/a/b/c.txt", "/a/b/c.txt"), ("/a/..b", "/a/..b"), ("/a/.b", "/a/.b"),
        ("/a/b.", "/a/b."), ("/...", "/..."), ("/.hidden/x", "/.hidden/x"), ("/a/", "/a"), ("//a", "/a"),
        ("/a//b", "/a/b"), ("/./a", "/a"), ("/a/.", "/a"), ("/a/./b", "/a/b"), ("/.", "/"), ("///", "/"),
        ("/a/./../b", nil), ("/a/..", nil), ("/a/../b", nil), ("/..", nil), ("a/b", nil), ("", nil), ("/a\0b", nil),
    ] as [(String, String?)])
    func normalisationFoldsDotsAndSlashesAndRefusesDotDot(_ path: String, _ expected: String?) {
        var bytes = Array(path.utf8)
        let length = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { PathResolver.normalizeInPlace($0, count: buffer.count) }
        }
        #expect(length.map { String(decoding: bytes[..<$0], as: UTF8.self) } == expected, "\(path)")
    }
}
