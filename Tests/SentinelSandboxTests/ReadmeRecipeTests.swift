// README.md's "Try it" is the recipe a new user comes for: an agent in a sandbox whose only way out
// is the proxy to one host, and where to read what it did. This runs its commands as written, in a
// copy of examples/ (so nothing is left in the checkout), with the built binaries on PATH.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite(
    "README's Try it", .serialized, .requires(.root), .requires(.executable("openssl", package: "openssl")),
    .requires(
        MachineRequirement(missing: "needs python3's venv module (Debian package python3-venv)") {
            runQuietly("/usr/bin/python3", ["-c", "import venv"]) == 0
        }))
struct ReadmeRecipeTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The block after the `<!-- try-it: … -->` marker of `file` (relative to the repository).
    static func recipe(in file: String) throws -> String {
        let text = try String(contentsOfFile: Self.repository + "/" + file, encoding: .utf8)
        let marker = try #require(text.range(of: "<!-- try-it:"), "README.md has no try-it marker")
        let fence = try #require(text.range(of: "```bash\n", range: marker.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```\n", range: fence.upperBound..<text.endIndex))
        return String(text[fence.upperBound..<end.lowerBound]) + "\n"
    }

    @Test("docs/SANDBOX.md shows README's recipe, word for word")
    func sandboxDocumentShowsTheRecipe() throws {
        let readme = try Self.recipe(in: "README.md")
        let sandbox = try String(contentsOfFile: Self.repository + "/docs/SANDBOX.md", encoding: .utf8)
        #expect(sandbox.contains("```bash\n" + readme + "```\n"))
        // It is the document's first section.
        let firstSection = sandbox.components(separatedBy: "\n## ").dropFirst().first ?? ""
        #expect(firstSection.contains(readme), "\(firstSection.prefix(200))")
    }

    @Test("the commands run as written: the agent reaches the allowed host only, and the log says so")
    func recipeRuns() throws {
        let recipe = try Self.recipe(in: "README.md")
        var template = Array("/var/tmp/sentinel-readme-XXXXXX".utf8CString)
        let directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Self.repository + "/examples", toPath: directory + "/examples")
        // Whatever happens, the stand-in server does not outlive the test (it would stop by itself).
        defer {
            if let text = try? String(contentsOfFile: directory + "/server.pid", encoding: .utf8),
                let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                kill(pid, SIGTERM)
            }
        }
        let bin = URL(fileURLWithPath: Isolate.binary).deletingLastPathComponent().path
        let run = try ChildProcess.run(
            "/bin/bash", ["-euo", "pipefail", "-c", recipe],
            environment: ["PATH": bin + ":/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": directory],
            directory: directory, timeout: 120)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        // The agent's own lines, as README.md shows them.
        for line in [
            "python: /workspace/.venv", "allowed host: 200 hello from api.example.test",
            "another host: failed: Tunnel connection failed: 403 Forbidden",
            "around the proxy: failed: [Errno -3] Temporary failure in name resolution",
        ] {
            #expect(lines.contains(line), "\(line)\n\(run.stdout)\(run.stderr)")
        }
        // `sentinel audit tail`: the run, the proxy's two decisions with their rules, the end.
        #expect(
            lines.contains { $0.contains("run_start") && $0.contains(".venv/bin/python agent.py") }, "\(run.stdout)")
        #expect(
            lines.contains {
                $0.contains("ALLOW") && $0.contains("api.example.test:8443") && $0.contains("[allowed_hosts[0]]")
            })
        #expect(
            lines.contains {
                $0.contains("DENY") && $0.contains("other.example.test:8443") && $0.contains("[default:allowed_hosts]")
            })
        #expect(lines.contains { $0.contains("run_end") && $0.contains("status 0") }, "\(run.stdout)")
        // `sentinel audit verify`.
        #expect(lines.contains { $0.hasPrefix("sentinel-audit.log: intact: 7 records") }, "\(run.stdout)")
        // The server was stopped by the recipe's last line.
        let pid = try #require(
            Int32(
                String(contentsOfFile: directory + "/server.pid", encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        var running = true
        for _ in 0..<50 where running {
            // Gone, or a zombie waiting for whoever reaps orphans here.
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?
                .split(separator: " ").first
            running = state != nil && state != "Z"
            if running { usleep(100_000) }
        }
        #expect(!running, "the stand-in server still runs")
    }
}
