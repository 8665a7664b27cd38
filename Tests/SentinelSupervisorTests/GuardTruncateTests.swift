// truncate(2) under `sentinel guard` (issue 16). The guard's Landlock ruleset no longer handles
// LANDLOCK_ACCESS_FS_TRUNCATE (with it, the kernel walks the path of every open the program
// makes, reads included); the supervisor decides truncate(2) like any other write instead, in the
// program's view, and truncates the very file it decided on. Descriptors need no check: the
// kernel lets ftruncate(2) change only a file opened for writing, and every such open is decided.

import Foundation
import Glibc
import SentinelSupervisor
import SentinelTestSupport
import Testing

@Suite("sentinel guard decides truncate(2) like any other write", .serialized, .requires(guardAvailable), .requires(pythonAvailable))
struct GuardTruncateTests {
    /// The workspace, a read-only tree and a blocked file inside it.
    static let policy = """
        allowed_paths: [./ws]
        read_only_paths: [./ws/ro]
        blocked_paths: [./ws/secret.txt]
        allowed_commands: []
        """

    /// Files every case starts with, each holding "original"; `ws/link` is a symlink to
    /// `out/target.txt`.
    static func prepare(_ harness: GuardHarness) throws {
        for directory in ["ws/ro", "ws/sub"] {
            try FileManager.default.createDirectory(atPath: harness.root + "/" + directory, withIntermediateDirectories: true)
        }
        for file in ["out/target.txt", "ws/target.txt", "ws/ro/target.txt", "ws/secret.txt"] {
            try harness.write(file, "original")
        }
        try FileManager.default.createSymbolicLink(atPath: harness.workspace + "/link", withDestinationPath: harness.outside + "/target.txt")
    }

    /// One truncate(2) a program makes, and what must come of it.
    struct Case: Sendable, CustomTestStringConvertible {
        /// What the case shows.
        var name: String
        /// The program's working directory, under the harness root.
        var directory: String
        /// The path it passes to truncate(2) (`<root>` is the harness root).
        var path: String
        /// The file that path reaches in the program's view, under the root.
        var file: String
        /// Whether the policy allows changing that file, and by which rule.
        var allowed: Bool
        var rule: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "outside allowed_paths", directory: "ws", path: "<root>/out/target.txt", file: "out/target.txt",
             allowed: false, rule: "default:allowed_paths"),
        Case(name: "under read_only_paths", directory: "ws", path: "<root>/ws/ro/target.txt", file: "ws/ro/target.txt",
             allowed: false, rule: "read_only_paths[0]"),
        Case(name: "under blocked_paths", directory: "ws", path: "<root>/ws/secret.txt", file: "ws/secret.txt",
             allowed: false, rule: "blocked_paths[0]"),
        Case(name: "inside allowed_paths", directory: "ws", path: "<root>/ws/target.txt", file: "ws/target.txt",
             allowed: true, rule: "allowed_paths[0]"),
        Case(name: "relative to the program's working directory", directory: "ws", path: "target.txt", file: "ws/target.txt",
             allowed: true, rule: "allowed_paths[0]"),
        Case(name: "out of the allowed tree by ..", directory: "ws", path: "<root>/ws/sub/../../out/target.txt",
             file: "out/target.txt", allowed: false, rule: "default:allowed_paths"),
        Case(name: "out of the allowed tree by a relative ..", directory: "ws/sub", path: "../../out/target.txt",
             file: "out/target.txt", allowed: false, rule: "default:allowed_paths"),
        Case(name: "a symlink in the workspace to a file outside", directory: "ws", path: "<root>/ws/link", file: "out/target.txt",
             allowed: false, rule: "default:allowed_paths"),
        // /proc/self is the program's: the supervisor's working directory is neither of these.
        Case(name: "/proc/self/cwd of a program working outside", directory: "out", path: "/proc/self/cwd/target.txt",
             file: "out/target.txt", allowed: false, rule: "default:allowed_paths"),
        Case(name: "/proc/self/cwd of a program working in the workspace", directory: "ws", path: "/proc/self/cwd/target.txt",
             file: "ws/target.txt", allowed: true, rule: "allowed_paths[0]"),
        Case(name: "/proc/thread-self/cwd of a program working outside", directory: "out", path: "/proc/thread-self/cwd/target.txt",
             file: "out/target.txt", allowed: false, rule: "default:allowed_paths"),
    ]

    @Test("truncate(2) is decided on the file it reaches in the program's view, recorded, and done only when allowed",
          arguments: cases)
    func decided(_ example: Case) async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try Self.prepare(harness)
        try harness.write("truncate.py", """
            import os, sys
            os.chdir(sys.argv[1])
            try:
                os.truncate(sys.argv[2], 3)
                result = "ok"
            except OSError as error:
                result = f"errno {error.errno}"
            open("\(harness.workspace)/results.txt", "w").write(f"truncate: {result}\\n")
            """)
        let path = example.path.replacingOccurrences(of: "<root>", with: harness.root)
        let run = try await harness.run(
            [python, harness.root + "/truncate.py", harness.root + "/" + example.directory, path], policy: Self.policy)
        #expect(run.exit.status == 0)
        let file = harness.root + "/" + example.file
        #expect(try harness.results()["truncate"] == (example.allowed ? "ok" : "errno \(EACCES)"))
        #expect(try String(contentsOfFile: file, encoding: .utf8) == (example.allowed ? "ori" : "original"))
        let records = GuardHarness.records(run.records, action: "file_write", target: file).filter {
            ($0["details"] as? [String: String])?["syscall"] == "truncate"
        }
        #expect(records.count == 1, "\(run.records)")
        #expect(records.first?["decision"] as? String == (example.allowed ? "allow" : "deny"))
        #expect(records.first?["rule"] as? String == example.rule)
        #expect((records.first?["reason"] as? String)?.isEmpty == false)
        let details = try #require(records.first?["details"] as? [String: String])
        #expect(details["length"] == "3")
        #expect(details["identity"]?.contains(":") == true, "\(details)")
    }

    @Test("truncate(2) of a path whose symlinks a second thread keeps swapping never reaches the file outside",
          .requires(GuardAttackTests.compiler))
    func swappedBetweenCheckAndUse() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try Self.prepare(harness)
        try FileManager.default.createDirectory(atPath: harness.workspace + "/in", withIntermediateDirectories: true)
        for directory in ["ws/a/b", "ws/a/c"] {
            try FileManager.default.createDirectory(atPath: harness.root + "/" + directory, withIntermediateDirectories: true)
        }
        try harness.write("ws/in/target.txt", "original")
        // ws/a/b holds symlinks into the workspace (a file's and a directory's), ws/a/c the same
        // names leading outside; a second thread exchanges the two directories without pause
        // (renameat2 RENAME_EXCHANGE, allowed: both are in the workspace), so the symlink a
        // truncate of ws/a/b/link or ws/a/b/dirlink/target.txt meets changes under the check.
        // The guard's entry rules keep a program from renaming or removing a symlink that leads
        // outside, so swapping the directories that hold them is the swap it can make.
        let program = try GuardAttackTests.compile(harness, "swap", """
            #define _GNU_SOURCE
            #include <fcntl.h>
            #include <linux/fs.h>
            #include <pthread.h>
            #include <stdio.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            static char b[4096], c[4096];
            static volatile int stop;
            static void *swap(void *unused) {
                while (!stop) syscall(SYS_renameat2, AT_FDCWD, b, AT_FDCWD, c, RENAME_EXCHANGE);
                return unused;
            }
            static void place(const char *target, const char *directory, const char *name) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", directory, name);
                symlink(target, path);
            }
            int main(int argc, char **argv) {
                const char *ws = argv[1], *out = argv[2];
                char inside[4096], insideFile[4096], outsideFile[4096], file[4096], throughDirectory[4096];
                snprintf(b, sizeof b, "%s/a/b", ws);
                snprintf(c, sizeof c, "%s/a/c", ws);
                snprintf(inside, sizeof inside, "%s/in", ws);
                snprintf(insideFile, sizeof insideFile, "%s/in/target.txt", ws);
                snprintf(outsideFile, sizeof outsideFile, "%s/target.txt", out);
                place(insideFile, b, "link");
                place(inside, b, "dirlink");
                place(outsideFile, c, "link");
                place(out, c, "dirlink");
                snprintf(file, sizeof file, "%s/link", b);
                snprintf(throughDirectory, sizeof throughDirectory, "%s/dirlink/target.txt", b);
                pthread_t thread;
                pthread_create(&thread, NULL, swap, NULL);
                int done = 0, refused = 0;
                for (int round = 0; round < 400; round++) {
                    if (truncate(file, 1) == 0) done++; else refused++;
                    if (truncate(throughDirectory, 2) == 0) done++; else refused++;
                }
                stop = 1;
                pthread_join(thread, NULL);
                char results[4096];
                snprintf(results, sizeof results, "%s/results.txt", ws);
                FILE *output = fopen(results, "w");
                fprintf(output, "done: %d\\nrefused: %d\\n", done, refused);
                fclose(output);
                return 0;
            }
            """)
        let run = try await harness.run([program, harness.workspace, harness.outside], policy: Self.policy, hangAfter: 240)
        #expect(run.exit.status == 0)
        #expect(try String(contentsOfFile: harness.outside + "/target.txt", encoding: .utf8) == "original")
        let results = try harness.results()
        // Both outcomes happened, so the race was run, not avoided.
        #expect(Int(results["done"] ?? "") ?? 0 > 0, "\(results)")
        #expect(Int(results["refused"] ?? "") ?? 0 > 0, "\(results)")
        let truncates = run.records.filter { ($0["details"] as? [String: String])?["syscall"] == "truncate" }
        #expect(truncates.count == 800)
        for record in truncates {
            let allowed = record["decision"] as? String == "allow"
            #expect(record["target"] as? String == (allowed ? harness.workspace + "/in/target.txt" : harness.outside + "/target.txt"))
        }
    }

    @Test("ftruncate(2) needs a descriptor opened for writing (the kernel refuses a read-only or O_PATH one); reopening one for writing is decided")
    func descriptors() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try Self.prepare(harness)
        try harness.write("descriptors.py", """
            import os
            ws, out = "\(harness.workspace)", "\(harness.outside)"
            results = []
            def attempt(name, action):
                try:
                    action()
                    results.append(f"{name}: ok")
                except OSError as error:
                    results.append(f"{name}: errno {error.errno}")
            outside = os.open(out + "/target.txt", os.O_RDONLY)
            inside = os.open(ws + "/target.txt", os.O_RDONLY)
            path = os.open(out + "/target.txt", os.O_PATH)
            attempt("read-only-outside", lambda: os.ftruncate(outside, 0))
            attempt("read-only-inside", lambda: os.ftruncate(inside, 0))
            attempt("o-path", lambda: os.ftruncate(path, 0))
            attempt("reopened", lambda: os.close(os.open(f"/proc/self/fd/{outside}", os.O_WRONLY)))
            open(ws + "/results.txt", "w").write("\\n".join(results) + "\\n")
            """)
        // Without blocked_paths, so that read-only opens (O_PATH too) are the program's own and not
        // notified: the kernel alone answers the ftruncate calls.
        let run = try await harness.run(
            [python, harness.root + "/descriptors.py"], policy: "allowed_paths: [./ws]\nallowed_commands: []\n")
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["read-only-outside"] == "errno \(EINVAL)")
        #expect(results["read-only-inside"] == "errno \(EINVAL)")
        #expect(results["o-path"] == "errno \(EBADF)")
        #expect(results["reopened"] == "errno \(EACCES)")
        #expect(try String(contentsOfFile: harness.outside + "/target.txt", encoding: .utf8) == "original")
        #expect(try String(contentsOfFile: harness.workspace + "/target.txt", encoding: .utf8) == "original")
        let refused = GuardHarness.records(run.records, action: "file_write", target: harness.outside + "/target.txt")
        #expect(refused.count == 1)
        #expect(refused.first?["decision"] as? String == "deny")
    }

    @Test("open with O_TRUNC (even O_RDONLY | O_TRUNC) and creat are decided as writes")
    func openTruncAndCreat() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try Self.prepare(harness)
        try harness.write("otrunc.py", """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            ws, out = "\(harness.workspace)", "\(harness.outside)"
            results = []
            def attempt(name, action):
                try:
                    os.close(action())
                    results.append(f"{name}: ok")
                except OSError as error:
                    results.append(f"{name}: errno {error.errno}")
            def creat(path):
                fd = libc.creat(path.encode(), 0o644)
                if fd < 0:
                    raise OSError(ctypes.get_errno(), "creat")
                return fd
            attempt("rdonly-trunc-outside", lambda: os.open(out + "/target.txt", os.O_RDONLY | os.O_TRUNC))
            attempt("wronly-trunc-outside", lambda: os.open(out + "/target.txt", os.O_WRONLY | os.O_TRUNC))
            attempt("creat-outside", lambda: creat(out + "/target.txt"))
            attempt("rdonly-trunc-inside", lambda: os.open(ws + "/target.txt", os.O_RDONLY | os.O_TRUNC))
            open(ws + "/results.txt", "w").write("\\n".join(results) + "\\n")
            """)
        let run = try await harness.run([python, harness.root + "/otrunc.py"], policy: Self.policy)
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["rdonly-trunc-outside"] == "errno \(EACCES)")
        #expect(results["wronly-trunc-outside"] == "errno \(EACCES)")
        #expect(results["creat-outside"] == "errno \(EACCES)")
        #expect(results["rdonly-trunc-inside"] == "ok")
        #expect(try String(contentsOfFile: harness.outside + "/target.txt", encoding: .utf8) == "original")
        #expect(try String(contentsOfFile: harness.workspace + "/target.txt", encoding: .utf8) == "")
        let outside = GuardHarness.records(run.records, action: "file_write", target: harness.outside + "/target.txt")
        #expect(outside.count == 3)
        #expect(outside.allSatisfy { $0["decision"] as? String == "deny" })
        let inside = GuardHarness.records(run.records, action: "file_write", target: harness.workspace + "/target.txt")
        #expect(inside.count == 1)
        #expect(inside.first?["decision"] as? String == "allow")
    }
}
