// Inspected hosts from inside a sandbox (`--network proxied`), on both backends: the run's proxy
// injects a credential that only the proxy's environment holds; the sandbox gets the Sentinel CA
// and the variables that point TLS clients at it, and nowhere in the sandbox (its environment,
// /proc/*/environ and cmdline, the files under /run, /tmp, /workspace, /dev/shm) is the
// credential. The TLS origin, with a test CA made here, listens on 127.0.0.2 of the host for the
// native sandbox, and in a container on Docker's bridge (the proxy container's way out) for Docker.

import Foundation
import Glibc
import SentinelTestSupport
import Testing

@Suite(
    "sentinel-isolate --network proxied: inspected hosts", .serialized, .requires(.root),
    .requires(.executable("openssl", package: "openssl")), .requires(.executable("curl", package: "curl")))
struct IsolateInspectionTests {
    static let secret = "ghp_IsolateSecret_7d2e51c0"

    /// The origin: answers `authorized` when the proxy's credential arrived and nothing else,
    /// and never echoes a header (the answer reaches the sandbox).
    static let origin = """
        import socket, ssl, sys, threading
        certificate, key, secret, address = sys.argv[1:5]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        listener = socket.socket(); listener.bind((address, 8443 if address == "0.0.0.0" else 0)); listener.listen(16)
        print(listener.getsockname()[1], flush=True)
        def handle(raw):
            try:
                connection = context.wrap_socket(raw, server_side=True)
                head = b""
                while b"\\r\\n\\r\\n" not in head:
                    data = connection.recv(65536)
                    if not data: return
                    head += data
                lines = head.decode().split("\\r\\n")
                values = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("authorization:")]
                body = "authorized" if values == ["Bearer " + secret] else "unauthorized: %d header(s)" % len(values)
                connection.sendall(("HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s"
                                    % (len(body), body)).encode())
                connection.close()
            except Exception:
                raw.close()
        while True:
            raw, _ = listener.accept()
            threading.Thread(target=handle, args=(raw,), daemon=True).start()
        """

    @Test("The credential reaches the destination and is nowhere in the sandbox", arguments: Caller.allCases)
    func theCredentialStaysOutside(caller: Caller) throws {
        let scratch = try Scratch(for: caller)
        let pki = try Self.makePKI(in: scratch)
        let server = SpawnedProcess()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", Self.origin, pki + "/origin.pem", pki + "/origin.key", Self.secret, "127.0.0.2"]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        var portLine = Data()
        while !portLine.contains(UInt8(ascii: "\n")) {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            try #require(!byte.isEmpty, "the origin did not start")
            portLine.append(byte)
        }
        let port = try #require(Int(String(decoding: portLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        let result = try Self.probe(scratch, pki: pki, address: "127.0.0.2", port: port) { flags, command, environment in
            try Isolate.run(caller, scratch, flags: flags, command, environment: environment)
        }
        try Self.check(result)
    }

    @Test("Docker: the proxy container injects the credential; the sandbox container trusts the CA and never holds either secret",
          .requires(.docker), .requires(.dockerImage(Workloads.baseImage)))
    func dockerKeepsTheCredentialOutside() throws {
        try Workloads.prepareImage()
        let scratch = try Scratch(for: .unprivileged)
        let pki = try Self.makePKI(in: scratch)
        let docker = ["--backend", "docker", "--image", Workloads.image, "--build-if-missing", "--base-image", Workloads.baseImage]
        _ = try DockerIsolate.run(scratch, flags: docker, ["true"])  // builds the image when it is missing
        // The origin: a container on Docker's bridge (the proxy container's way out), never the internet.
        let server = "sentinel-test-origin-\(getpid())"
        defer { _ = try? DockerIsolate.docker(["rm", "--force", server]) }
        chmod(pki + "/origin.key", 0o644)  // a test key, read by the origin's uid 65534
        let started = try DockerIsolate.docker([
            "run", "--detach", "--rm", "--name", server, "--user", "65534:65534", "--volume", "\(pki):/pki:ro",
            "--entrypoint", "python3", Workloads.image, "-c", Self.origin, "/pki/origin.pem", "/pki/origin.key", Self.secret, "0.0.0.0",
        ])
        try #require(started.status == 0, "\(started.stderr)")
        var listening = false
        for _ in 0..<100 where !listening {
            listening = try DockerIsolate.docker(["logs", server]).stdout.contains("8443")
            if !listening { usleep(100_000) }
        }
        try #require(listening, "the origin did not start")
        let address = try DockerIsolate.docker(["inspect", "--format", "{{.NetworkSettings.Networks.bridge.IPAddress}}", server])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(!address.isEmpty)
        let caDirectory = scratch.base + "/state/ca"
        let result = try Self.probe(scratch, pki: pki, address: address, port: 8443) { flags, command, environment in
            try DockerIsolate.run(scratch, flags: docker + flags, command, environment: environment)
        }
        try Self.check(result)
        // The run's copies (the key's among them) went with the run; the caller's CA stays.
        #expect(access(caDirectory + "/ca.key", F_OK) == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix("sentinel-docker-ca-") }
            .filter { name in
                var info = stat()
                return stat("/tmp/" + name, &info) == 0 && info.st_mtim.tv_sec >= time(nil) - 60
            }
        #expect(leftovers.isEmpty, "the run's CA copies were left behind: \(leftovers)")
        // The proxy container's records name the requests, never the credential.
        let proxyLog = try String(contentsOfFile: scratch.base + "/sentinel-audit.log.proxy/proxy-audit.log", encoding: .utf8)
        #expect(proxyLog.contains("/repos/acme/widgets"))
        #expect(!proxyLog.contains(Self.secret))
    }

    /// A test CA and the origin's certificate for api.inspect.test, in `scratch`'s `pki`.
    static func makePKI(in scratch: Scratch) throws -> String {
        let pki = scratch.base + "/pki"
        try FileManager.default.createDirectory(atPath: pki, withIntermediateDirectories: false)
        func openssl(_ arguments: [String]) throws {
            let outcome = try ChildProcess.run("/usr/bin/env", ["openssl"] + arguments, directory: pki, timeout: 60)
            try #require(outcome.status == 0, "openssl failed: \(outcome.stderr)")
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=origin CA",
                                              "-addext", "basicConstraints=critical,CA:TRUE",
                                              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try openssl(["req"] + key + ["-keyout", "origin.key", "-out", "origin.csr", "-subj", "/CN=api.inspect.test"])
        try "subjectAltName=DNS:api.inspect.test,DNS:plain.inspect.test\nextendedKeyUsage=serverAuth\n"
            .write(toFile: pki + "/origin.ext", atomically: false, encoding: .utf8)
        try openssl(["x509", "-req", "-in", "origin.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                     "-out", "origin.pem", "-days", "2", "-extfile", "origin.ext"])
        chmod(pki, 0o755)
        chmod(pki + "/ca.pem", 0o644)
        chmod(pki + "/origin.pem", 0o644)
        return pki
    }

    /// Writes the policy and hosts file, then runs the probe script through `run` (flags,
    /// command, environment) with the credential in the caller's environment only.
    static func probe(
        _ scratch: Scratch, pki: String, address: String, port: Int,
        run: ([String], [String], [String: String]) throws -> RunResult
    ) throws -> RunResult {
        try """
            allowed_paths: [./]
            allowed_hosts:
              - host: api.inspect.test
                ports: [\(port)]
                inspect: true
                methods: [GET]
                paths: ["/repos/acme/*"]
                inject: [{header: Authorization, value: "Bearer ${SENTINEL_TEST_TOKEN}"}]
              - {host: plain.inspect.test, ports: [\(port)]}
            network_failsafe:
              allow_private_network: true
            approval:
              mode: reject
            """.write(toFile: scratch.policy, atomically: false, encoding: .utf8)
        let hosts = scratch.base + "/hosts"
        try "\(address) api.inspect.test plain.inspect.test\n".write(toFile: hosts, atomically: false, encoding: .utf8)
        chmod(hosts, 0o644)
        // The origin's own CA, for the plain tunnel: only the origin's certificate verifies with it.
        try FileManager.default.copyItem(atPath: pki + "/ca.pem", toPath: scratch.workspace + "/origin-ca.pem")
        chmod(scratch.workspace + "/origin-ca.pem", 0o644)

        // Nothing in this script is the secret: the test looks for it in what the script prints.
        let script = """
            import glob, json, os, ssl, subprocess, urllib.error, urllib.request
            base = "https://api.inspect.test:\(port)"
            def call(method, path):
                request = urllib.request.Request(base + path, method=method, data=b"{}" if method == "POST" else None,
                                                 headers={"Authorization": "token agent-own-key"})
                try:
                    with urllib.request.urlopen(request, timeout=20) as response:
                        return [response.status, response.read().decode()]
                except urllib.error.HTTPError as error:
                    return [error.code, error.read().decode()]
                except Exception as error:
                    return [-1, repr(error)]
            curl = subprocess.run(["curl", "-sS", "--max-time", "20", base + "/repos/acme/curl"], capture_output=True,
                                  text=True)
            # Not inspected: a plain tunnel, so the origin's own certificate (verified with its
            # CA, not Sentinel's) and the agent's own header, with nothing injected.
            try:
                plain_request = urllib.request.Request("https://plain.inspect.test:\(port)/anything",
                                                       headers={"Authorization": "token agent-own-key"})
                origin_ca = ssl.create_default_context(cafile="/workspace/origin-ca.pem")
                with urllib.request.urlopen(plain_request, context=origin_ca, timeout=20) as response:
                    plain = [response.status, response.read().decode()]
            except Exception as error:
                plain = [-1, repr(error)]
            print("RESULT " + json.dumps({"get": call("GET", "/repos/acme/widgets"), "post": call("POST", "/repos/acme/x"),
                                          "path": call("GET", "/admin"), "plain": plain,
                                          "curl": curl.stdout + curl.stderr,
                                          "cafile": os.environ.get("SSL_CERT_FILE", "")}))
            seen = [repr(dict(os.environ))]
            for path in glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
                try: seen.append(open(path, "rb").read().decode("latin-1"))
                except OSError: pass
            for top in ["/run", "/tmp", "/workspace", "/dev/shm"]:
                for directory, _, files in os.walk(top):
                    for name in files:
                        try: seen.append(open(os.path.join(directory, name), "rb").read(1 << 20).decode("latin-1"))
                        except OSError: pass
            print("SEEN %d places" % len(seen))
            print("\\n".join(seen))
            """
        return try run(
            ["--network", "proxied", "--proxy-hosts-file", hosts, "--upstream-ca", pki + "/ca.pem", "--ca-dir", scratch.base + "/state/ca"],
            ["python3", "-c", script], ["SENTINEL_TEST_TOKEN": Self.secret, "HOME": scratch.base])
    }

    /// What both backends must show: the GET authorized with the injected credential, the POST
    /// refused with the 403 sentence, curl through the same CA, and the credential nowhere.
    static func check(_ result: RunResult) throws {
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(result.stdout)")
        let outcome = try #require(
            try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        let get = outcome["get"] as? [Any]
        #expect(get?.first as? Int == 200)
        #expect(get?.last as? String == "authorized", "\(String(describing: get))")
        let post = outcome["post"] as? [Any]
        #expect(post?.first as? Int == 403)
        #expect((post?.last as? String)?.contains("Add POST to allowed_hosts[0].methods") == true)
        #expect(outcome["curl"] as? String == "authorized", "\(String(describing: outcome["curl"]))")
        let path = outcome["path"] as? [Any]
        #expect(path?.first as? Int == 403)
        #expect((path?.last as? String)?.contains("allowed_hosts[0].paths") == true, "\(String(describing: path))")
        let plain = outcome["plain"] as? [Any]
        #expect(plain?.first as? Int == 200)
        #expect(plain?.last as? String == "unauthorized: 1 header(s)", "a plain tunnel passes the agent's header and injects nothing: \(String(describing: plain))")
        #expect(outcome["cafile"] as? String == "/run/sentinel-ca/ca-bundle.pem")
        // What was searched holds the environment and the files under /run (the checks below can fail).
        #expect(result.stdout.contains("SEEN "), "the sandbox's places were not read")
        #expect(result.stdout.contains("'SSL_CERT_FILE'"), "the environment was not in the dump")
        #expect(result.stdout.contains("BEGIN CERTIFICATE"), "the files under /run were not in the dump")
        #expect(!result.stdout.contains(Self.secret), "the credential is visible inside the sandbox")
        #expect(!result.stderr.contains(Self.secret), "the credential was printed")
        // The CA key stayed outside: only the certificate and the bundle were given.
        #expect(!result.stdout.contains("PRIVATE KEY"))
    }
}
