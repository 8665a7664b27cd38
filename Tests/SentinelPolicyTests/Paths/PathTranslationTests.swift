// A policy written for the host, read inside a sandbox: each entry names the files it names on the
// host, wherever the sandbox shows them (the host workspace is /workspace), so the same policy
// allows and refuses the same files on every backend.

import Foundation
import Testing
@testable import SentinelPolicy

@Suite("a host policy's paths inside a sandbox (PathTranslation)")
struct PathTranslationTests {
    /// The operator runs in /home/me/project; the workspace is /home/me/project/workspace.
    static let translation = PathTranslation(
        hostBaseDirectory: "/home/me/project", hostHomeDirectory: "/home/me",
        mappings: [.init(host: "/home/me/project/workspace", inside: "/workspace")])

    @Test("each entry names where the sandbox shows the host files it names", arguments: [
        ("./workspace", ["/workspace"]),
        ("workspace/out", ["/workspace/out"]),
        ("./workspace/../workspace/./src", ["/workspace/src"]),
        ("/home/me/project/workspace/data", ["/workspace/data"]),
        // Not under the workspace: the host path, which a bind at the same path shows (or nothing).
        ("~/.ssh", ["/home/me/.ssh"]),
        ("/etc/shadow", ["/etc/shadow"]),
        ("../other", ["/home/me/other"]),
        // A name that only starts like the workspace is another directory.
        ("./workspace_fake", ["/home/me/project/workspace_fake"]),
        // An entry holding the workspace covers it on the host, so it covers /workspace inside too.
        ("./", ["/home/me/project", "/workspace"]),
        ("~", ["/home/me", "/workspace"]),
        ("~/", ["/home/me", "/workspace"]),
        ("/", ["/", "/workspace"]),
    ])
    func insidePaths(entry: String, expected: [String]) {
        #expect(Self.translation.insidePaths(of: entry) == expected)
    }

    @Test("folding . and .. never climbs above the root", arguments: [
        ("/a/./b//c/", "/a/b/c"), ("/a/../../b", "/b"), ("/..", "/"), ("//", "/"),
    ])
    func lexical(path: String, expected: String) {
        #expect(PathTranslation.lexical(path) == expected)
    }

    /// A real tree standing for the sandbox's view: `<root>/workspace` is its /workspace.
    final class Tree {
        let root: String
        init() throws {
            root = URL(fileURLWithPath: NSTemporaryDirectory()).resolvingSymlinksInPath().path + "/sentinel-translation-\(UUID().uuidString)"
            for directory in ["workspace/secrets", "elsewhere"] {
                try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test(
        "the guard inside decides as the host does: ./workspace allows the agent's out.txt, not what lies beside it",
        arguments: [
            ("allowed_paths: [./workspace]\nblocked_paths: [./workspace/secrets]\n", "workspace/out.txt", true),
            ("allowed_paths: [./workspace]\nblocked_paths: [./workspace/secrets]\n", "workspace/secrets/key", false),
            ("allowed_paths: [./workspace]\nblocked_paths: [./workspace/secrets]\n", "elsewhere/x", false),
            // Run from the project's directory, `./` is the workspace itself.
            ("allowed_paths: [./]\n", "workspace/out.txt", true),
            // An entry holding the workspace blocks it inside as on the host.
            ("allowed_paths: [./workspace]\nblocked_paths: [\"~/\"]\n", "workspace/out.txt", false),
        ])
    func decisions(yaml: String, file: String, allowed: Bool) throws {
        let tree = try Tree()
        let document = try PolicyLoader(environment: [:]).parse(yaml)
        // The guard inside: its own working directory is the sandbox's workspace; the policy
        // is read as on the host, where the operator ran in /home/me/project.
        let project = yaml.contains("[./]\n") ? "/home/me/project/workspace" : "/home/me/project"
        let translation = PathTranslation(
            hostBaseDirectory: project, hostHomeDirectory: "/home/me",
            mappings: [.init(host: "/home/me/project/workspace", inside: tree.root + "/workspace")])
        let context = PolicyContext(baseDirectory: tree.root + "/workspace", homeDirectory: tree.root + "/workspace", pathTranslation: translation)
        let policy = try Policy(document: document, context: context)
        let verdict = policy.checkPath(tree.root + "/" + file, access: .write, workingDirectory: tree.root + "/workspace")
        #expect(verdict.isAllowed == allowed, "\(verdict)")
    }

    @Test("without a translation the same entries resolve against this process's directory, as on the host")
    func withoutTranslation() throws {
        let tree = try Tree()
        let document = try PolicyLoader(environment: [:]).parse("allowed_paths: [./workspace]\n")
        let policy = try Policy(document: document, context: PolicyContext(baseDirectory: tree.root, homeDirectory: tree.root))
        #expect(policy.checkPath(tree.root + "/workspace/out.txt", access: .write, workingDirectory: tree.root).isAllowed)
        #expect(!policy.checkPath(tree.root + "/elsewhere/x", access: .write, workingDirectory: tree.root).isAllowed)
    }
}
