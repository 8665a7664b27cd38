// Talking to the Docker engine through its client: finding `docker`, running it with the
// terminal inherited (the workload's own run) or with its output captured (inspect, build), and
// turning the client's failures into one sentence that says what to do.

import CSentinelLinux
import Glibc
import SentinelPolicy

/// The `docker` client and the engine behind it.
public struct DockerEngine: Sendable {
    /// The client executable's absolute path.
    public let binary: String
    /// The environment the client runs with (the caller's, for DOCKER_HOST and DOCKER_CONFIG,
    /// plus the values of `--env NAME` variables), without Sentinel's own keys: the client does
    /// not need them, and an `--env NAME` naming one then has nothing to copy into a container.
    public let environment: [String: String]

    /// Finds `name` (a path, or a name looked up on the caller's `PATH`). Throws the original's
    /// sentence when it is not there.
    public init(binary name: String, callerEnvironment: [String: String]) throws(SandboxError) {
        self.environment = SentinelEnvironment.withoutSecrets(callerEnvironment)
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                throw SandboxError(.unsupported, "Docker binary not found in PATH: \(name). Install Docker (apt-get install docker.io) or use --backend native.")
            }
            binary = name
            return
        }
        let path = callerEnvironment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                binary = candidate
                return
            }
        }
        throw SandboxError(.unsupported, "Docker binary not found in PATH: \(name). Install Docker (apt-get install docker.io) or use --backend native.")
    }

    /// Runs `docker <arguments>` with the caller's stdin, stdout and stderr, forwarding
    /// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the client (which passes them on to the
    /// container), and returns the raw wait status.
    public func runInheritingTerminal(_ arguments: [String], extraEnvironment: [String: String]) throws(SandboxError) -> Int32 {
        var environment = self.environment
        for (name, value) in SentinelEnvironment.withoutSecrets(extraEnvironment) { environment[name] = value }
        let pid = try spawn(arguments, environment: environment, stdout: nil, stderr: nil)
        var forwarded = StageProcess.forwardedSignals
        _ = sentinel_forward_signals(pid, &forwarded, Int32(forwarded.count))
        defer { sentinel_stop_forwarding() }
        do {
            return try Sys.wait(pid).status
        } catch {
            throw SandboxError(.launchFailed, "Lost track of the docker client (pid \(pid)): \(error).", errno: error.rawValue)
        }
    }

    /// Runs `docker <arguments>` with stdin from /dev/null and stdout and stderr captured
    /// together (at most `limit` bytes kept, the last ones); `onLine` sees each line as it comes.
    public func capture(_ arguments: [String], limit: Int = 1 << 20, onLine: (String) -> Void = { _ in }) throws(SandboxError) -> (status: Int32, output: String) {
        let pipe: (read: Int32, write: Int32)
        do { pipe = try Sys.pipe() } catch {
            throw SandboxError(.launchFailed, "Could not create a pipe for the docker client: \(error).", errno: error.rawValue)
        }
        let pid: pid_t
        do {
            pid = try spawn(arguments, environment: environment, stdout: pipe.write, stderr: pipe.write)
        } catch {
            Sys.close(pipe.read)
            Sys.close(pipe.write)
            throw error
        }
        Sys.close(pipe.write)
        var output: [UInt8] = []
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipe.read, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output += buffer[0..<count]
            if output.count > limit { output.removeFirst(output.count - limit) }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0a) {
                onLine(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        Sys.close(pipe.read)
        let status: Int32
        do { status = try Sys.wait(pid).status } catch {
            throw SandboxError(.launchFailed, "Lost track of the docker client (pid \(pid)): \(error).", errno: error.rawValue)
        }
        return (WaitStatus(raw: status).shellStatus, String(decoding: output, as: UTF8.self))
    }

    /// Whether `image` exists in the engine; throws when the engine cannot be asked.
    public func imageExists(_ image: String) throws(SandboxError) -> Bool {
        let result = try capture(["image", "inspect", "--format", "{{.Id}}", "--", image])
        if result.status == 0 { return true }
        if let problem = Self.engineProblem(result.output) { throw problem }
        return false
    }

    /// The values of `keys` among `image`'s labels (absent or empty labels left out), or nil when
    /// the image does not exist. One `docker image inspect`, one line per key.
    public func imageLabels(_ image: String, _ keys: [String]) throws(SandboxError) -> [String: String]? {
        let format = keys.map { "{{index .Config.Labels \"\($0)\"}}" }.joined(separator: "\n")
        let result = try capture(["image", "inspect", "--format", format, "--", image])
        if result.status != 0 {
            if let problem = Self.engineProblem(result.output) { throw problem }
            return nil
        }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        var labels: [String: String] = [:]
        for (key, line) in zip(keys, lines) where !line.isEmpty && line != "<no value>" {
            labels[key] = String(line)
        }
        return labels
    }

    /// Explains a `docker run` that ended with 125 (Docker's own failure, before the command
    /// ran): the engine down, the socket forbidden, the image missing. Nil when none of these
    /// holds, in which case the 125 came from the workload itself and passes through.
    public func diagnoseRunFailure(image: String) -> SandboxError? {
        guard let exists = try? imageExists(image) else {
            let result = try? capture(["version", "--format", "{{.Server.Version}}"])
            return Self.engineProblem(result?.output ?? "") ?? SandboxError(
                .launchFailed, "The Docker engine did not answer (docker version: \(result?.output.trimmed() ?? "no output")). Check `docker info`, or use --backend native.")
        }
        if !exists {
            return SandboxError(.launchFailed, "Docker image '\(image)' not found. Build it first or use --build-if-missing.")
        }
        return nil
    }

    /// Recognises the client's messages for an engine that is down or a socket the caller may
    /// not use.
    static func engineProblem(_ output: String) -> SandboxError? {
        let text = output.lowercased()
        if text.contains("permission denied") && (text.contains("docker.sock") || text.contains("docker daemon socket")) {
            return SandboxError(
                .launchFailed,
                "You may not use the Docker engine's socket (permission denied): add your user to the docker group (then log in again), run as root, or use --backend native.",
                errno: EACCES)
        }
        if text.contains("cannot connect to the docker daemon") || text.contains("is the docker daemon running") || text.contains("connection refused") {
            return SandboxError(
                .launchFailed,
                "The Docker engine is not running: start it (systemctl start docker, or dockerd &) and try again, or use --backend native.",
                errno: ECONNREFUSED)
        }
        return nil
    }

    private func spawn(_ arguments: [String], environment: [String: String], stdout: Int32?, stderr: Int32?) throws(SandboxError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdout != nil || stderr != nil {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let stdout { posix_spawn_file_actions_adddup2(&actions, stdout, 1) }
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The client must not inherit a blocked signal mask (the test runner blocks SIGTERM),
        // or the signals forwarded to it would never arrive.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.keys.sorted().map { strdup("\($0)=\(environment[$0]!)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, binary, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SandboxError(
                .launchFailed, "Could not start the docker client \(binary): \(String(cString: strerror(result))). Check the Docker installation, or use --backend native.",
                errno: result)
        }
        return pid
    }
}
