import CSentinelLinux
import Foundation
import Glibc
import SentinelApproval
import SentinelPolicy
import SentinelSupervisor
import SentinelTestSupport
import Testing

@Suite("sentinel guard decides what a program does", .serialized, .requires(guardAvailable), .requires(pythonAvailable))
struct GuardTests {
    /// The policy of most tests: the workspace, echo, one loopback address.
    static func policy(allowedHost: String = "127.0.0.2", extra: String = "") -> String {
        """
        allowed_paths: [./ws]
        allowed_commands: [echo]
        allowed_hosts: ["\(allowedHost)"]
        network_failsafe:
          allow_private_network: true
        \(extra)
        """
    }

    @Test("a Python program: allowed and denied execs, writes and connects, each audited exactly once")
    func pythonProgram() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        let allowed = try LoopbackListener(address: "127.0.0.2")
        let denied = try LoopbackListener(address: "127.0.0.3")
        try harness.write("agent.py", """
            import os, socket, subprocess
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            def attempt(name, action):
                try:
                    out.write(f"{name}: ok {action()}\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            attempt("echo", lambda: subprocess.run(["echo", "hello"], capture_output=True).stdout.decode().strip())
            attempt("cat", lambda: subprocess.run(["cat", "/etc/hostname"], capture_output=True).returncode)
            attempt("perl", lambda: subprocess.run(["perl", "-e", "print 1"], capture_output=True).returncode)
            attempt("bash", lambda: subprocess.run(["/bin/bash", "-c", "true"]).returncode)
            attempt("write-inside", lambda: open("\(harness.workspace)/inside.txt", "w").write("x"))
            attempt("write-outside", lambda: open("\(harness.outside)/outside.txt", "w").write("x"))
            attempt("read-outside", lambda: len(open("/etc/hostname").read()) > 0)
            def connect(address, port):
                s = socket.socket()
                try:
                    s.connect((address, port))
                    return "connected"
                finally:
                    s.close()
            attempt("connect-allowed", lambda: connect("127.0.0.2", \(allowed.port)))
            attempt("connect-denied", lambda: connect("127.0.0.3", \(denied.port)))
            """)
        let run = try await harness.run([python, harness.root + "/agent.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["echo"] == "ok hello")
        #expect(results["cat"] == "errno 13")
        #expect(results["perl"] == "errno 13")
        #expect(results["bash"] == "errno 13")
        #expect(results["write-inside"] == "ok 1")
        #expect(results["write-outside"] == "errno 13")
        #expect(results["read-outside"] == "ok True")
        #expect(results["connect-allowed"] == "ok connected")
        #expect(results["connect-denied"] == "errno 13")
        #expect(!FileManager.default.fileExists(atPath: harness.outside + "/outside.txt"))

        let expected: [(String, String, String)] = [
            ("exec", "\(python) \(harness.root)/agent.py", "allow"),
            ("exec", "echo hello", "allow"),
            ("exec", "cat /etc/hostname", "deny"),
            ("exec", "perl -e 'print 1'", "deny"),
            ("exec", "/bin/bash -c true", "deny"),
            ("file_write", harness.workspace + "/inside.txt", "allow"),
            ("file_write", harness.outside + "/outside.txt", "deny"),
            ("connect", "127.0.0.2:\(allowed.port)", "allow"),
            ("connect", "127.0.0.3:\(denied.port)", "deny"),
        ]
        for (action, target, decision) in expected {
            let matching = GuardHarness.records(run.records, action: action, target: target)
            #expect(matching.count == 1, "\(action) \(target): \(matching.count) records")
            #expect(matching.first?["decision"] as? String == decision, "\(action) \(target)")
        }
        let interpreter = try #require(GuardHarness.records(run.records, action: "exec", target: "perl -e 'print 1'").first)
        #expect(interpreter["rule"] as? String == "builtin:interpreter-denylist")
        // Reads outside blocked_paths are not decisions.
        #expect(run.records.allSatisfy { $0["action"] as? String != "file_read" })
    }

    @Test("a refused program is told why on its standard error, with the audit record's rule; --quiet keeps it silent",
          arguments: [true, false])
    func refusalExplained(explain: Bool) async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("told.py", """
            import os, subprocess
            log = os.open("\(harness.workspace)/stderr.txt", os.O_WRONLY | os.O_CREAT, 0o644)
            os.dup2(log, 2)
            try:
                subprocess.run(["id"])
            except OSError:
                pass
            try:
                open("\(harness.outside)/x", "w")
            except OSError:
                pass
            """)
        let run = try await harness.run([python, harness.root + "/told.py"], policy: Self.policy(), explainRefusals: explain)
        #expect(run.exit.status == 0)
        let told = try String(contentsOfFile: harness.workspace + "/stderr.txt", encoding: .utf8)
        if explain {
            let lines = told.split(separator: "\n")
            #expect(lines.count == 2, "\(told)")
            #expect(lines.first?.hasPrefix("sentinel: refused exec of id: ") == true, "\(told)")
            #expect(lines.first?.hasSuffix("[default:allowed_commands]") == true, "\(told)")
            #expect(lines.first?.contains("To allow it: Add \"/usr/bin/id\" to allowed_commands.") == true, "\(told)")
            #expect(lines.last?.hasPrefix("sentinel: refused file write of \(harness.outside)/x: ") == true, "\(told)")
            let record = try #require(GuardHarness.records(run.records, action: "exec", target: "id").first)
            #expect(record["rule"] as? String == "default:allowed_commands")
        } else {
            #expect(told.isEmpty, "\(told)")
        }
    }

    @Test("setting the ids a process holds is allowed (posix_spawn RESETIDS, make's recipes); every other refused call is recorded with its reason")
    func refusedCallsAreRecorded() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("ids.py", """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            def attempt(name, action):
                try:
                    out.write(f"{name}: ok {action()}\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            def call(result):
                if result != 0:
                    raise OSError(ctypes.get_errno(), "failed")
                return result
            attempt("same-uid", lambda: os.setuid(os.getuid()))
            attempt("same-resgid", lambda: os.setresgid(-1, os.getgid(), -1))
            attempt("spawn-resetids", lambda: os.waitpid(os.posix_spawn("/usr/bin/echo", ["echo", "x"], os.environ, resetids=True), 0)[1])
            attempt("other-uid", lambda: os.setuid(os.getuid() + 4242))
            attempt("unshare", lambda: call(libc.unshare(0x00020000)))
            """)
        let run = try await harness.run([python, harness.root + "/ids.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["same-uid"] == "ok None", "\(results)")
        #expect(results["same-resgid"] == "ok None", "\(results)")
        #expect(results["spawn-resetids"] == "ok 0", "\(results)")
        #expect(results["other-uid"] == "errno \(EPERM)", "\(results)")
        #expect(results["unshare"] == "errno \(EPERM)", "\(results)")
        let refused = run.records.filter { $0["rule"] as? String == "guard:refused-call" }
        #expect(Set(refused.compactMap { $0["target"] as? String }) == ["setuid", "unshare"], "\(refused)")
        #expect(refused.allSatisfy { $0["decision"] as? String == "deny" && ($0["reason"] as? String)?.isEmpty == false })
    }

    @Test("make runs a recipe under the guard (its posix_spawn resets ids to the ones it holds)",
          .requires(.executable("make", package: "make")))
    func makeRecipe() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("ws/Makefile", "all:\n\techo built > \(harness.workspace)/out.txt\n")
        try harness.write("make.py", """
            import os, subprocess
            os.chdir("\(harness.workspace)")
            code = subprocess.run(["make"]).returncode
            open("results.txt", "a").write(f"make: {code}\\n")
            """)
        let run = try await harness.run([python, harness.root + "/make.py"], policy: Self.policy().replacingOccurrences(
            of: "allowed_commands: [echo]", with: "allowed_commands: [echo, make]"))
        #expect(run.exit.status == 0)
        // The recipe has a redirection, so make runs it through /bin/sh: refused (sh is an
        // interpreter) and recorded; a recipe without shell syntax runs directly.
        let results = try harness.results()
        #expect(results["make"] == "2", "\(results)")
        #expect(run.records.contains { ($0["target"] as? String)?.hasPrefix("/bin/sh -c") == true && $0["decision"] as? String == "deny" })
        try harness.write("ws/Makefile", "all:\n\techo built\n")
        let direct = try await harness.run([python, harness.root + "/make.py"], policy: Self.policy().replacingOccurrences(
            of: "allowed_commands: [echo]", with: "allowed_commands: [echo, make]"))
        #expect(direct.exit.status == 0)
        #expect(try harness.results()["make"] == "0")
        #expect(GuardHarness.records(direct.records, action: "exec", target: "echo built").map { $0["decision"] as? String } == ["allow"])
    }

    @Test("the operator's command is trusted through its shims (a #!/usr/bin/env bash shim that forks a subshell), not after")
    func operatorChainThroughShims() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try FileManager.default.createDirectory(atPath: harness.root + "/shims", withIntermediateDirectories: true)
        try harness.write("version", "3\n")
        // A pyenv-style shim: `env bash`, a `$(…)` subshell (pyenv forks several), then exec.
        try harness.write("shims/python3", """
            #!/usr/bin/env bash
            set -e
            version="$(cat \(harness.root)/version)"
            exec \(python) "$@"
            """)
        chmod(harness.root + "/shims/python3", 0o755)
        try harness.write("agent.py", """
            import subprocess
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            try:
                subprocess.run(["/bin/bash", "-c", "true"])
                out.write("bash: ran\\n")
            except OSError as error:
                out.write(f"bash: errno {error.errno}\\n")
            out.write("agent: ran\\n")
            """)
        let run = try await harness.run([harness.root + "/shims/python3", harness.root + "/agent.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["agent"] == "ran", "\(results)")
        #expect(results["bash"] == "errno 13", "what the agent starts is decided: \(results)")
        let chained = run.records.filter { $0["rule"] as? String == "guard:operator-command" }
        let targets = chained.compactMap { $0["target"] as? String }
        #expect(targets.contains { $0.hasPrefix("bash ") || $0.hasPrefix("/usr/bin/env") || $0.contains("shims/python3") }, "\(targets)")
        #expect(targets.contains { $0.hasPrefix("cat ") }, "the shim's subshell is part of the chain: \(targets)")
        #expect(targets.contains { $0.hasPrefix("\(python) ") }, "\(targets)")
        #expect(GuardHarness.records(run.records, action: "exec", target: "/bin/bash -c true").map { $0["decision"] as? String } == ["deny"])
    }

    @Test("trust_children: a test runner (a Python script) runs, and what it starts is not decided for exec; its writes still are")
    func trustChildren() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("ws/runtests", """
            #!\(python)
            import subprocess
            subprocess.run(["/bin/bash", "-c", "echo child > \(harness.workspace)/child.txt"], check=True)
            try:
                open("\(harness.outside)/escape.txt", "w")
            except OSError as error:
                open("\(harness.workspace)/results.txt", "a").write(f"outside: errno {error.errno}\\n")
            """)
        chmod(harness.workspace + "/runtests", 0o755)
        try harness.write("agent.py", """
            import subprocess
            try:
                code = subprocess.run(["\(harness.workspace)/runtests"]).returncode
            except OSError as error:
                code = f"errno {error.errno}"
            open("\(harness.workspace)/results.txt", "a").write(f"runtests: {code}\\n")
            """)
        for trusted in [true, false] {
            try? FileManager.default.removeItem(atPath: harness.workspace + "/results.txt")
            try? FileManager.default.removeItem(atPath: harness.workspace + "/child.txt")
            let entry = trusted ? "{command: ./ws/runtests, trust_children: true}" : "./ws/runtests"
            let run = try await harness.run(
                [python, harness.root + "/agent.py"],
                policy: Self.policy().replacingOccurrences(of: "allowed_commands: [echo]", with: "allowed_commands: [echo, \(entry)]"))
            #expect(run.exit.status == 0)
            let results = try harness.results()
            if trusted {
                #expect(results["runtests"] == "0", "\(results)")
                #expect(results["outside"] == "errno 13", "writes are still decided: \(results)")
                #expect(FileManager.default.fileExists(atPath: harness.workspace + "/child.txt"))
                let child = run.records.first { ($0["target"] as? String)?.hasPrefix("/bin/bash -c") == true }
                #expect(child?["decision"] as? String == "allow")
                #expect(child?["rule"] as? String == "allowed_commands[1].trust_children", "\(String(describing: child))")
            } else {
                // Without the opt-in the script's interpreter is on the built-in denylist.
                #expect(results["runtests"] == "errno 13", "\(results)")
                #expect(!FileManager.default.fileExists(atPath: harness.workspace + "/child.txt"))
            }
        }
    }

    @Test("trust_children covers the operator's own command: make's recipes and a test runner's children run, after its first write too",
          .requires(.executable("make", package: "make")))
    func trustChildrenOfTheOperatorsCommand() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        // A recipe with a redirection: make runs it through /bin/sh.
        try harness.write("ws/Makefile", "all:\n\techo built > \(harness.workspace)/out.txt\n")
        // A test runner (a Python script) that writes first (which ends the operator's chain) and
        // then starts a shell.
        try harness.write("ws/runtests", """
            #!\(python)
            import subprocess
            open("\(harness.workspace)/first-write.txt", "w").write("x")
            subprocess.run(["/bin/bash", "-c", "echo child > \(harness.workspace)/child.txt"])
            """)
        chmod(harness.workspace + "/runtests", 0o755)
        for trusted in [true, false] {
            for name in ["out.txt", "child.txt"] { try? FileManager.default.removeItem(atPath: harness.workspace + "/" + name) }
            let entries = trusted
                ? "[echo, {command: make, trust_children: true}, {command: ./ws/runtests, trust_children: true}]"
                : "[echo, make, ./ws/runtests]"
            let policy = Self.policy().replacingOccurrences(of: "allowed_commands: [echo]", with: "allowed_commands: \(entries)")
            let make = try await harness.run(["/usr/bin/make", "-C", harness.workspace], policy: policy)
            let runner = try await harness.run([harness.workspace + "/runtests"], policy: policy)
            #expect((make.exit.status == 0) == trusted)
            #expect(FileManager.default.fileExists(atPath: harness.workspace + "/out.txt") == trusted)
            #expect((runner.exit.status == 0) == trusted, "a refused exec raises in Python")
            #expect(FileManager.default.fileExists(atPath: harness.workspace + "/child.txt") == trusted)
            // The harness's log keeps every run's records: the last ones are this run's.
            let recipe = make.records.last { ($0["target"] as? String)?.hasPrefix("/bin/sh -c") == true }
            let child = runner.records.last { ($0["target"] as? String)?.hasPrefix("/bin/bash -c") == true }
            if trusted {
                #expect(recipe?["rule"] as? String == "allowed_commands[1].trust_children", "\(make.records)")
                #expect(child?["rule"] as? String == "allowed_commands[2].trust_children", "\(runner.records)")
            } else {
                #expect(recipe?["rule"] as? String == "builtin:interpreter-denylist", "\(make.records)")
                #expect(child?["rule"] as? String == "builtin:interpreter-denylist", "\(runner.records)")
            }
        }
    }

    @Test("a name of a file with several links may be removed or renamed (git's objects); writing through it is still refused")
    func hardLinkedEntries() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("links.py", """
            import os
            os.chdir("\(harness.workspace)")
            out = open("results.txt", "w", buffering=1)
            def attempt(name, body):
                try:
                    body()
                    out.write(f"{name}: ok\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            # What git does for every object: write a temporary name, link the final one, unlink.
            open("tmp_obj", "w").write("object")
            attempt("link", lambda: os.link("tmp_obj", "object"))
            attempt("unlink", lambda: os.unlink("tmp_obj"))
            attempt("second link", lambda: os.link("object", "other"))
            attempt("rename", lambda: os.rename("other", "renamed"))
            attempt("write", lambda: open("renamed", "w"))
            """)
        let run = try await harness.run([python, harness.root + "/links.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results == [
            "link": "ok", "unlink": "ok", "second link": "ok", "rename": "ok", "write": "errno \(EACCES)",
        ], "\(results)")
        #expect(!FileManager.default.fileExists(atPath: harness.workspace + "/tmp_obj"))
        #expect(run.records.contains { $0["rule"] as? String == "builtin:hard-links" && ($0["target"] as? String)?.hasSuffix("/renamed") == true })
    }

    @Test("allow_interpreter lifts the built-in denylist for exactly that interpreter")
    func allowInterpreter() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("interp.py", """
            import subprocess
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            for name, argv in [("perl", ["perl", "-e", "print 1"]), ("bash", ["bash", "-c", "true"])]:
                try:
                    out.write(f"{name}: {subprocess.run(argv, capture_output=True).returncode}\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            """)
        let run = try await harness.run(
            [python, harness.root + "/interp.py"],
            policy: Self.policy().replacingOccurrences(
                of: "allowed_commands: [echo]", with: "allowed_commands: [echo, {command: perl, allow_interpreter: true}, bash]"))
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["perl"] == "0", "\(results)")
        #expect(results["bash"] == "errno 13", "\(results)")
    }

    @Test("a long argument list is read whole and quoted for people in the record")
    func longArgumentList() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        // 300 pointers: the argv table is read a page's worth (at most 64 pointers) at a time,
        // so this crosses several reads and at least one page boundary.
        try harness.write("agent.py", """
            import subprocess
            words = [f"w{i}" for i in range(300)] + ["café", "two words", "it's"]
            subprocess.run(["echo"] + words, capture_output=True, check=True)
            """)
        let run = try await harness.run([python, harness.root + "/agent.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let expected = "echo " + (0..<300).map { "w\($0)" }.joined(separator: " ") + " café 'two words' 'it'\\''s'"
        let matching = GuardHarness.records(run.records, action: "exec", target: expected)
        #expect(matching.count == 1)
        #expect(matching.first?["decision"] as? String == "allow")
    }

    @Test("the program cannot reach into the supervisor's memory or another process's")
    func supervisorMemory() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        // The supervisor is the program's parent here. Each attempt would, if it worked, let the
        // program read or rewrite the supervisor's decisions.
        try harness.write("reach.py", """
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            parent = os.getppid()
            class IOVec(ctypes.Structure):
                _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]
            buffer = ctypes.create_string_buffer(64)
            local = IOVec(ctypes.cast(buffer, ctypes.c_void_p), 64)
            # Any address will do: the permission check comes before the address is looked at.
            remote = IOVec(0x400000, 64)
            for name, number in [("vm_readv", 310), ("vm_writev", 311)]:
                result = libc.syscall(number, parent, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
                out.write(f"{name}: {'ok' if result >= 0 else 'errno ' + str(ctypes.get_errno())}\\n")
            try:
                open(f"/proc/{parent}/mem", "rb").close()
                out.write("proc-mem: ok\\n")
            except OSError as error:
                out.write(f"proc-mem: errno {error.errno}\\n")
            """)
        #if arch(x86_64)
        let run = try await harness.run([python, harness.root + "/reach.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        // EPERM from the filter: the calls never reach the kernel's permission check.
        #expect(results["vm_readv"] == "errno 1")
        #expect(results["vm_writev"] == "errno 1")
        // EACCES from the kernel: the supervisor is not dumpable (root with CAP_SYS_PTRACE
        // would pass this check, so it is asserted only for an unprivileged run).
        if geteuid() != 0 { #expect(results["proc-mem"] == "errno 13") }
        #expect(sentinel_is_dumpable() == 0, "the supervisor (this test process) must be non-dumpable")
        #endif
    }

    @Test("a trusted endpoint (--allow-connect) is allowed and recorded; its neighbours are still decided")
    func trustedEndpoint() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        let trusted = try LoopbackListener(address: "127.0.0.3")
        let other = try LoopbackListener(address: "127.0.0.3")
        try harness.write("connect.py", """
            import socket
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            for name, port in [("trusted", \(trusted.port)), ("other", \(other.port))]:
                s = socket.socket()
                try:
                    s.connect(("127.0.0.3", port))
                    out.write(f"{name}: ok\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
                finally:
                    s.close()
            """)
        let endpoint = IPEndpoint(address: try #require(IPAddress(strict: "127.0.0.3")), port: UInt16(trusted.port))
        let run = try await harness.run(
            [python, harness.root + "/connect.py"], policy: Self.policy(), trustedEndpoints: [endpoint])
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["trusted"] == "ok")
        #expect(results["other"] == "errno 13")
        let record = try #require(GuardHarness.records(run.records, action: "connect", target: "127.0.0.3:\(trusted.port)").first)
        #expect(record["decision"] as? String == "allow")
        #expect(record["rule"] as? String == "guard:trusted-endpoint")
    }

    @Test("a read of a blocked path is decided and refused; other reads pass")
    func blockedRead() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("ws/secret.txt", "s3cret")
        try harness.write("ws/public.txt", "hello")
        try harness.write("reader.py", """
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            for name in ["public", "secret"]:
                try:
                    out.write(f"{name}: ok {open('\(harness.workspace)/' + name + '.txt').read()}\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            """)
        let run = try await harness.run(
            [python, harness.root + "/reader.py"], policy: Self.policy(extra: "blocked_paths: [./ws/secret.txt]"))
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["public"] == "ok hello")
        #expect(results["secret"] == "errno 13")
        let reads = GuardHarness.records(run.records, action: "file_read", target: harness.workspace + "/secret.txt")
        #expect(reads.count == 1)
        #expect(reads.first?["decision"] as? String == "deny")
    }

    /// The program runs as the operator, so it can open the audit log and hold its flock. The
    /// supervisor's append then gives up after its lock timeout and refuses the call it could not
    /// record (it used to wait for the lock forever, and the program with it).
    @Test("a program holding the audit log's lock gets refusals, not a hang; unlocked, it continues")
    func heldAuditLock() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("locker.py", """
            import fcntl, os
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            held = os.open("\(harness.auditPath)", os.O_RDONLY)
            fcntl.flock(held, fcntl.LOCK_EX)
            try:
                open("\(harness.workspace)/while-locked.txt", "w").close()
                out.write("locked: written\\n")
            except OSError as error:
                out.write(f"locked: errno {error.errno}\\n")
            fcntl.flock(held, fcntl.LOCK_UN)
            open("\(harness.workspace)/after.txt", "w").close()
            out.write("after: written\\n")
            """)
        let run = try await harness.run(
            [python, harness.root + "/locker.py"], policy: Self.policy(), auditLockTimeout: .seconds(1))
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["locked"] == "errno 13")
        #expect(results["after"] == "written")
        #expect(!FileManager.default.fileExists(atPath: harness.workspace + "/while-locked.txt"))
        #expect(GuardHarness.records(run.records, action: "file_write", target: harness.workspace + "/while-locked.txt").isEmpty)
        #expect(GuardHarness.records(run.records, action: "file_write", target: harness.workspace + "/after.txt").count == 1)
    }

    @Test("a statically linked program is covered: its raw system calls reach the supervisor",
          .requires(.executable("cc", package: "gcc")))
    func staticBinary() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("probe.c", """
            #include <errno.h>
            #include <fcntl.h>
            #include <stdio.h>
            #include <unistd.h>
            int main(int argc, char **argv) {
                FILE *out = fopen(argv[1], "w");
                int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
                fprintf(out, "inside: %s\\n", fd >= 0 ? "ok" : "denied");
                fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
                fprintf(out, "outside: %s %d\\n", fd >= 0 ? "ok" : "errno", fd >= 0 ? 0 : errno);
                fflush(out);
                char *shell[] = {"sh", "-c", "true", NULL};
                execv("/bin/sh", shell);
                fprintf(out, "exec-sh: errno %d\\n", errno);
                fclose(out);
                return 0;
            }
            """)
        let compiled = try ChildProcess.run(
            "/usr/bin/env", ["cc", "-static", "-O1", "-o", harness.root + "/probe", harness.root + "/probe.c"], timeout: 60)
        try #require(compiled.status == 0, "cc -static failed: \(compiled.stderr)")
        let run = try await harness.run(
            [harness.root + "/probe", harness.workspace + "/results.txt", harness.workspace + "/in.bin", harness.outside + "/out.bin"],
            policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["inside"] == "ok")
        #expect(results["outside"] == "errno 13")
        #expect(results["exec-sh"] == "errno 13")
        #expect(GuardHarness.records(run.records, action: "file_write", target: harness.outside + "/out.bin").count == 1)
        #expect(GuardHarness.records(run.records, action: "exec", target: "sh -c true").count == 1)
    }

    @Test("racing threads cannot turn a denied write into an allowed one")
    func races() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        try harness.write("out/target.txt", "original")
        try harness.write("ws/real.txt", "")
        try harness.write("race.py", """
            import ctypes, os, threading
            libc = ctypes.CDLL(None, use_errno=True)
            ws, outside = "\(harness.workspace)", "\(harness.outside)"
            out = open(ws + "/results.txt", "w", buffering=1)
            stop = False
            # 1. Another thread rewrites the path in memory while open() is being checked.
            allowed = (ws + "/flip.txt").encode()
            denied = (outside + "/flip.txt").encode().ljust(len(allowed), b"\\0")
            allowed = allowed.ljust(len(denied), b"\\0")
            buffer = ctypes.create_string_buffer(allowed, len(allowed) + 1)
            def flip():
                while not stop:
                    ctypes.memmove(buffer, denied, len(denied))
                    ctypes.memmove(buffer, allowed, len(allowed))
            thread = threading.Thread(target=flip)
            thread.start()
            for _ in range(300):
                fd = libc.open(buffer, os.O_WRONLY | os.O_CREAT, 0o644)
                if fd >= 0:
                    os.close(fd)
            stop = True
            thread.join()
            out.write(f"flip-outside-exists: {os.path.exists(outside + '/flip.txt')}\\n")
            # 2. Another thread swaps a symlink between an allowed and a denied file.
            stop = False
            link = ws + "/link"
            def swap():
                while not stop:
                    for destination in (ws + "/real.txt", outside + "/target.txt"):
                        try:
                            os.unlink(link + ".new")
                        except OSError:
                            pass
                        try:
                            os.symlink(destination, link + ".new")
                            os.rename(link + ".new", link)
                        except OSError:
                            pass
            thread = threading.Thread(target=swap)
            thread.start()
            for _ in range(300):
                try:
                    with open(link, "w") as f:
                        f.write("overwritten")
                except OSError:
                    pass
            stop = True
            thread.join()
            out.write(f"target: {open(outside + '/target.txt').read()}\\n")
            # 3. A write by path without an open (truncate) is decided too (issue 16).
            result = libc.truncate((outside + "/target.txt").encode(), 0)
            out.write(f"truncate: {result} {ctypes.get_errno()}\\n")
            """)
        let run = try await harness.run([python, harness.root + "/race.py"], policy: Self.policy())
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["flip-outside-exists"] == "False")
        #expect(results["target"] == "original")
        #expect(results["truncate"] == "-1 \(EACCES)")
        #expect(try String(contentsOfFile: harness.outside + "/target.txt", encoding: .utf8) == "original")
    }

    @Test("a scripted approver is asked once; its session approval is remembered and audited")
    func approvals() async throws {
        let harness = try GuardHarness()
        defer { harness.remove() }
        let asked = Counter()
        let handler = ClosureApprovalHandler(name: "scripted") { alert in
            asked.increment(alert.target)
            return alert.target.hasSuffix("/approved.txt") ? .approveForSession : .deny
        }
        try harness.write("approve.py", """
            out = open("\(harness.workspace)/results.txt", "w", buffering=1)
            for name in ["approved-1", "approved-2", "refused"]:
                path = "\(harness.outside)/" + ("refused.txt" if name == "refused" else "approved.txt")
                try:
                    open(path, "a").write(name)
                    out.write(f"{name}: ok\\n")
                except OSError as error:
                    out.write(f"{name}: errno {error.errno}\\n")
            """)
        let run = try await harness.run([python, harness.root + "/approve.py"], policy: Self.policy(), handler: handler)
        #expect(run.exit.status == 0)
        let results = try harness.results()
        #expect(results["approved-1"] == "ok")
        #expect(results["approved-2"] == "ok")
        #expect(results["refused"] == "errno 13")
        #expect(asked.values == [harness.outside + "/approved.txt", harness.outside + "/refused.txt"])
        let approved = GuardHarness.records(run.records, action: "file_write", target: harness.outside + "/approved.txt")
        #expect(approved.map { $0["decision"] as? String } == ["approved", "approved"])
        #expect(approved.map { $0["approver"] as? String } == ["scripted", "remembered"])
        let refused = GuardHarness.records(run.records, action: "file_write", target: harness.outside + "/refused.txt")
        #expect(refused.map { $0["decision"] as? String } == ["rejected"])
        #expect(try String(contentsOfFile: harness.outside + "/approved.txt", encoding: .utf8) == "approved-1approved-2")
    }
}

/// Collects values from concurrent callers.
final class Counter: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var stored: [String] = []
    func increment(_ value: String) { lock.lock(); stored.append(value); lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return stored }
}
