// The guarded operations (§2.1 of the original, as explicit calls): each asks the policy, goes
// to approval when it denies, writes exactly one audit record, and then does exactly what was
// checked — the executable that was resolved, the canonical path (no symlink may be swapped in),
// the addresses that were classified (no second DNS lookup).

import CSentinelLinux
public import Glibc
import SentinelApproval
import SentinelAudit
public import SentinelPolicy

extension Sentinel {
    // MARK: - Processes

    /// Runs a command given as an argument vector (`argv[0]` is looked up in `PATH`), as
    /// `subprocess.run([...])`: the executable that was checked is the one started.
    ///
    /// - Parameter capture: collect stdout and stderr (else they are inherited).
    /// - Throws: `denied` (with the policy's sentence), `tampered`, `operationFailed`.
    public static func run(_ argv: [String], capture: Bool = true) async throws(SentinelError) -> CompletedProcess {
        let session = try session()
        let decision = session.policy.checkExec(argv, workingDirectory: currentDirectory())
        _ = try await session.decide(DecisionRequest(
            action: .exec, target: CommandText.join(argv), verdict: decision.verdict,
            recommendation: "Reject unless this command is required and understood.",
            details: decision.executable.map { ["executable": $0.canonicalPath] } ?? [:]))
        guard let executable = decision.executable else {
            throw SentinelError(.operationFailed, "\(argv.first ?? "") was approved but no executable file was found for it.")
        }
        return try ProcessRunner.run(executable.path, argv, capture: capture)
    }

    /// Runs a command given as one string, as `subprocess.run(text, shell=True)`: parsed with
    /// POSIX shell rules and checked; operators and substitutions are denied by the policy. The
    /// checked executable is started directly, through `/bin/sh -c` only when its words need
    /// expanding.
    public static func run(shell text: String, capture: Bool = true) async throws(SentinelError) -> CompletedProcess {
        let session = try session()
        let decision = session.policy.checkCommand(text, workingDirectory: currentDirectory())
        _ = try await session.decide(DecisionRequest(
            action: .exec, target: text, verdict: decision.verdict,
            recommendation: "Reject unless this command is required and understood.",
            details: decision.executable.map { ["executable": $0.canonicalPath, "shell": "true"] } ?? ["shell": "true"]))
        guard let executable = decision.executable, let parsed = decision.parsedCommand else {
            throw SentinelError(.operationFailed, "The command was approved but could not be parsed into one program to run.")
        }
        if decision.requiresShell {
            return try ProcessRunner.run("/bin/sh", ["/bin/sh", "-c", parsed.shellText(executable: executable.path)], capture: capture)
        }
        return try ProcessRunner.run(executable.path, parsed.argv, capture: capture)
    }

    // MARK: - Files

    /// Opens a file after the policy allowed it: the canonical path that was checked is opened
    /// with `openat2(RESOLVE_NO_SYMLINKS)`, so a symlink swapped in after the check fails the
    /// open, and a write to a file that gained hard links is refused.
    ///
    /// - Parameters:
    ///   - flags: `open(2)` flags; any of `O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_APPEND` make it a write.
    ///   - mode: the creation mode.
    /// - Returns: the descriptor (close-on-exec); the caller closes it.
    public static func open(_ path: String, flags: Int32 = O_RDONLY, mode: UInt32 = 0o644) async throws(SentinelError) -> Int32 {
        let session = try session()
        let writes = flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND) != 0
        let access: FileAccess = writes ? .write : .read
        let directory = currentDirectory()
        let canonical: String
        do {
            canonical = try PathResolver.resolve(path, workingDirectory: directory).canonical
        } catch {
            let verdict = Verdict.deny(rule: "builtin:path-resolution", reason: "\(path) cannot be resolved: \(error.description)")
            _ = try await session.decide(fileRequest(path, access, verdict))
            throw SentinelError(.operationFailed, "\(path) cannot be resolved: \(error.description)")
        }
        let verdict = session.policy.checkPath(canonical, access: access, workingDirectory: directory)
        _ = try await session.decide(fileRequest(path, access, verdict, canonical: canonical))
        let fd = sentinel_openat2_mode(
            AT_FDCWD, canonical, UInt64(UInt32(bitPattern: flags | O_CLOEXEC | O_NOCTTY)),
            // openat2 refuses a mode without O_CREAT (EINVAL), unlike open(2), which ignores it.
            flags & O_CREAT != 0 ? UInt64(mode) : 0, sentinel_resolve_no_symlinks)
        guard fd >= 0 else {
            let failure = errno
            if failure == ELOOP || failure == EXDEV {
                throw SentinelError(
                    .denied, "\(path) changed after it was checked (a symlink now lies on the path); the open was refused.",
                    rule: "builtin:path-race", errno: failure)
            }
            throw SentinelError(.operationFailed, "\(path): \(String(cString: strerror(failure))).", errno: failure)
        }
        if writes, !session.policy.pathRules.allowHardlinkedWrites {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink > 1 {
                Glibc.close(fd)
                throw SentinelError(
                    .denied, "\(path) has \(info.st_nlink) hard links; writing it could change a file outside the allowed paths.",
                    rule: "builtin:hard-links", remedy: "Set allow_hardlinked_writes: true if this is expected.")
            }
        }
        return fd
    }

    /// Reads a whole file (checked as a read).
    public static func readFile(_ path: String) async throws(SentinelError) -> [UInt8] {
        let fd = try await open(path)
        defer { Glibc.close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SentinelError(.operationFailed, "\(path): \(String(cString: strerror(errno))).", errno: errno)
            }
            if count == 0 { return data }
            data += buffer[0..<count]
        }
    }

    /// Writes (or appends to) a file, creating it when missing (checked as a write).
    public static func writeFile(_ path: String, _ bytes: [UInt8], append: Bool = false) async throws(SentinelError) {
        let fd = try await open(path, flags: O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC))
        defer { Glibc.close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SentinelError(.operationFailed, "\(path): \(String(cString: strerror(errno))).", errno: errno)
            }
            offset += count
        }
    }

    /// Creates a directory (checked as a write).
    public static func createDirectory(_ path: String, mode: UInt32 = 0o755) async throws(SentinelError) {
        try await mutate(path, "create") { mkdir($0, mode) }
    }

    /// Removes a file or an empty directory (checked as a write).
    public static func removeItem(_ path: String) async throws(SentinelError) {
        try await mutate(path, "remove") { remove($0) }
    }

    private static func mutate(_ path: String, _ verb: String, _ body: (String) -> Int32) async throws(SentinelError) {
        let session = try session()
        let directory = currentDirectory()
        let verdict = session.policy.checkPath(path, access: .write, workingDirectory: directory)
        _ = try await session.decide(fileRequest(path, .write, verdict))
        // The parent is checked as resolved; the last component is not followed by mkdir/remove.
        guard body(path) == 0 else {
            throw SentinelError(.operationFailed, "Could not \(verb) \(path): \(String(cString: strerror(errno))).", errno: errno)
        }
    }

    private static func fileRequest(_ path: String, _ access: FileAccess, _ verdict: Verdict, canonical: String? = nil) -> DecisionRequest {
        DecisionRequest(
            action: access == .write ? .fileWrite : .fileRead, target: path, verdict: verdict,
            recommendation: "Reject unless the file path is expected for this task.",
            details: canonical.map { $0 == path ? [:] : ["canonical": $0] } ?? [:],
            // An answer covers the file the kernel will open, not the name the program chose: a
            // symlink swapped to point elsewhere is a new question.
            subject: canonical.map { "path:\($0)" })
    }

    // MARK: - Network

    /// Resolves `host` through the DNS cache after the name gate (as a connect to `port`
    /// would be checked); every answer is classified, and a failed or slow lookup denies.
    public static func resolve(_ host: String, port: Int = 443) async throws(SentinelError) -> [IPAddress] {
        let session = try session()
        let decision = await session.policy.evaluateConnect(host: host, port: port, resolver: session.resolver)
        _ = try await session.decide(DecisionRequest(
            action: .dns, target: host, verdict: decision.verdict,
            recommendation: "Reject unless this host is explicitly trusted.",
            details: ["addresses": decision.addresses.map(\.description).joined(separator: ",")]))
        return decision.addresses
    }

    /// Opens a TCP connection to `host:port`: the name is checked, resolved once, every answer
    /// classified, and exactly those addresses are dialled (in order, the first that answers).
    ///
    /// - Returns: the connected socket (close-on-exec, blocking); the caller closes it.
    public static func connect(host: String, port: Int, timeout: Duration = .seconds(10)) async throws(SentinelError) -> Int32 {
        let session = try session()
        let decision = await session.policy.evaluateConnect(host: host, port: port, resolver: session.resolver)
        _ = try await session.decide(DecisionRequest(
            action: .connect, target: "\(host):\(port)", verdict: decision.verdict,
            recommendation: "Reject unless this socket destination is explicitly trusted.",
            details: ["addresses": decision.addresses.map(\.description).joined(separator: ",")]))
        guard !decision.addresses.isEmpty else {
            throw SentinelError(.operationFailed, "\(host) was approved but has no address that was checked; nothing was dialled.")
        }
        var lastError: Int32 = ECONNREFUSED
        for address in decision.addresses {
            switch SocketDialer.dial(IPEndpoint(address: address, port: UInt16(port)), timeout: timeout) {
            case .success(let fd):
                return fd
            case .failure(let error):
                lastError = error
            }
        }
        throw SentinelError(
            .operationFailed, "Could not connect to \(host):\(port): \(String(cString: strerror(lastError))).", errno: lastError)
    }

    /// Sends an HTTP request through the pinned client: the URL is checked and resolved once,
    /// exactly the checked addresses are dialled, and each redirect (up to `maximumRedirects`)
    /// comes back through the same check before it is followed.
    public static func request(_ request: HTTPRequest, maximumRedirects: Int = 5) async throws(SentinelError) -> HTTPResponse {
        let session = try session()
        var current = request
        var hops = 0
        while true {
            let decision = await session.policy.evaluateURL(current.url, resolver: session.resolver)
            _ = try await session.decide(DecisionRequest(
                action: .http, target: current.url, verdict: decision.verdict,
                recommendation: "Reject unless the URL is verified and trusted.",
                details: ["addresses": decision.addresses.map(\.description).joined(separator: ","),
                          "method": current.method] .merging(hops > 0 ? ["redirect_hop": String(hops)] : [:]) { a, _ in a }))
            guard let target = decision.target, !decision.addresses.isEmpty else {
                throw SentinelError(.operationFailed, "\(current.url) was approved but has no address that was checked; nothing was sent.")
            }
            let response: HTTPResponse
            do {
                response = try await session.httpClient().send(
                    current, scheme: target.scheme ?? "http", hostName: target.host.name, port: target.port,
                    addresses: decision.addresses)
            } catch {
                throw SentinelError(.operationFailed, error.description, errno: error.errno)
            }
            guard [301, 302, 303, 307, 308].contains(response.status),
                  let location = response.headerValues(named: "location").first, hops < maximumRedirects
            else { return response }
            hops += 1
            guard let next = RedirectTarget.resolve(location, against: current.url) else {
                throw SentinelError(.denied, "The redirect to \(location) is not a URL Sentinel can check; it was not followed.",
                                    rule: "builtin:redirect")
            }
            // 303, and 301/302 after a POST, become a GET without a body (RFC 9110 §15.4).
            if response.status == 303 || ([301, 302].contains(response.status) && current.method == "POST") {
                current.method = "GET"
                current.body = nil
            }
            // Authorization, Cookie and Proxy-Authorization go to the origin they were given for only.
            current.headers = RedirectCredentials.headers(current.headers, from: current.url, to: next)
            current.url = next
        }
    }

    // MARK: - Input

    /// Checks text an agent received against `blocked_keywords` (the original's `scan_input`,
    /// without its AI judge); returns the text when clean or approved.
    public static func scanInput(_ text: String) async throws(SentinelError) -> String {
        let session = try session()
        _ = try await session.decide(DecisionRequest(
            action: "input", target: "user_input", verdict: session.policy.checkInput(text),
            recommendation: "Reject unless this input is expected for this task."))
        return text
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        return getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
    }
}

/// A command line as one readable string (audit targets and prompts).
enum CommandText {
    static func join(_ arguments: [String]) -> String {
        arguments.map { argument in
            let plain = !argument.isEmpty && argument.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                    || "-_./=:,+@%".utf8.contains(byte)
            }
            return plain ? argument : "'" + argument.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        }.joined(separator: " ")
    }
}

/// Resolves a `Location` header against the URL that answered (RFC 3986 §5, the forms servers send).
enum RedirectTarget {
    static func resolve(_ location: String, against base: String) -> String? {
        let lowered = location.lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") { return location }
        let utf8 = Array(base.utf8)
        guard let colon = (0..<max(utf8.count - 2, 0)).first(where: { utf8[$0] == 0x3a && utf8[$0 + 1] == 0x2f && utf8[$0 + 2] == 0x2f }) else {
            return nil
        }
        let scheme = String(decoding: utf8[..<colon], as: UTF8.self)
        let schemeEnd = base.utf8.index(base.utf8.startIndex, offsetBy: colon + 3)
        if location.hasPrefix("//") { return scheme + ":" + location }
        let afterScheme = base[schemeEnd...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? afterScheme.endIndex
        let origin = String(base[..<authorityEnd])
        if location.hasPrefix("/") { return origin + location }
        if location.contains(":") || location.contains(where: { $0 == "\\" }) { return nil }
        var path = String(afterScheme[authorityEnd...])
        if let cut = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<cut]) }
        let directory = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "/"
        return origin + directory + location
    }
}

/// A blocking TCP connect with a timeout, to one exact address.
enum SocketDialer {
    enum Outcome { case success(Int32), failure(Int32) }

    static func dial(_ endpoint: IPEndpoint, timeout: Duration) -> Outcome {
        let family = endpoint.address.isIPv4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failure(errno) }
        let started = endpoint.withSockAddr { Glibc.connect(fd, $0, $1) }
        if started != 0 {
            guard errno == EINPROGRESS else {
                let failure = errno
                Glibc.close(fd)
                return .failure(failure)
            }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
            var ready: Int32
            repeat { ready = poll(&entry, 1, milliseconds) } while ready < 0 && errno == EINTR
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if ready == 0 {
                failure = ETIMEDOUT
            } else if getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0 {
                failure = errno
            }
            if failure != 0 {
                Glibc.close(fd)
                return .failure(failure)
            }
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        return .success(fd)
    }
}
