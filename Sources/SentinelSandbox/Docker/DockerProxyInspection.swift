// Inspected hosts (docs/PROXY.md) on the Docker backend: the proxy container ends the agent's TLS
// with the caller's Sentinel CA and injects credentials from its own environment; the sandbox
// container trusts the CA and never holds the key or a credential.
//
// Neither container mounts the caller's CA directory: each gets a copy made for the run, the
// proxy's (key included, mode 0600) owned by the container's uid because the proxy refuses a key
// that is not its own, the sandbox's holding only the certificate and the bundle. Both copies are
// removed with the run's network.

import Glibc
import SentinelPolicy

/// What the proxy container needs for inspected hosts.
public struct DockerProxyInspection: Codable, Sendable, Equatable {
    /// The caller's CA directory on the host (made by `sentinel ca` before the run).
    public var caDirectory: String
    /// `--upstream-ca`: PEM certificates the proxy trusts besides the system's, on the host.
    public var upstreamCA: String?
    /// The variables the policy's `inject` values name: passed to the proxy container by name
    /// (`--env NAME`, so no value is on a command line), never to the sandbox.
    public var injectedVariables: [String]

    /// Creates the settings.
    public init(caDirectory: String, upstreamCA: String?, injectedVariables: [String]) {
        self.caDirectory = caDirectory
        self.upstreamCA = upstreamCA
        self.injectedVariables = injectedVariables
    }
}

/// Where the sandbox finds the Sentinel CA, on both backends, and the variables that point TLS
/// clients at it (OpenSSL and Python, requests, curl, Node).
public enum SandboxCertificates {
    /// The read-only directory inside the sandbox holding `ca.pem` and `ca-bundle.pem`.
    public static let directory = "/run/sentinel-ca"

    /// `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` name the bundle (the CA and
    /// the system's trust store); `NODE_EXTRA_CA_CERTS` names the CA alone (Node adds it).
    public static var environment: [String: String] {
        let bundle = directory + "/ca-bundle.pem"
        return [
            "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle, "CURL_CA_BUNDLE": bundle,
            "NODE_EXTRA_CA_CERTS": directory + "/ca.pem",
        ]
    }
}

/// The run's copies of the CA: `proxy/` for the proxy container, `sandbox/` for the sandbox.
public struct DockerCertificateCopies: Codable, Sendable, Equatable {
    /// The run's private directory (0711, under /tmp) holding both copies.
    public let root: String

    /// The copies under `root` (made by ``make(for:user:)``; this names them only).
    public init(root: String) {
        self.root = root
    }

    /// The proxy's copy: `ca.pem`, `ca.key` (0600) and `upstream.pem`, owned by the proxy's uid.
    public var proxyDirectory: String { root + "/proxy" }
    /// The sandbox's copy: `ca.pem` and `ca-bundle.pem` (0644).
    public var sandboxDirectory: String { root + "/sandbox" }
    /// Where the proxy container sees its copy.
    public static let proxyMountPoint = "/opt/sentinel/ca"

    /// Copies what each container needs from `inspection.caDirectory`, owned by `user`
    /// (`uid:gid`, the containers' identity). Throws, having removed what it made, when a file
    /// cannot be read or written; the sentence names the file.
    public static func make(for inspection: DockerProxyInspection, user: String) throws(SandboxError) -> DockerCertificateCopies {
        let ids = user.split(separator: ":").compactMap { UInt32($0) }
        guard ids.count == 2 else { throw SandboxError(.invalidSpec, "The container user must be uid:gid (got '\(user)').") }
        var template = Array("/tmp/sentinel-docker-ca-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            let code = errno
            throw SandboxError(.setupFailed, "Could not create a directory for the run's copy of the Sentinel CA: \(String(cString: strerror(code))).", errno: code)
        }
        let copies = DockerCertificateCopies(root: String(cString: made))
        do throws(SandboxError) {
            // Others may pass through (the containers' uid is not the caller's) but not list it.
            chmod(copies.root, 0o711)
            try makeDirectory(copies.proxyDirectory, mode: 0o700, ids: ids)
            try makeDirectory(copies.sandboxDirectory, mode: 0o755, ids: ids)
            let source = inspection.caDirectory
            try copy(source + "/ca.pem", to: copies.proxyDirectory + "/ca.pem", mode: 0o644, ids: ids)
            try copy(source + "/ca.key", to: copies.proxyDirectory + "/ca.key", mode: 0o600, ids: ids)
            if let upstream = inspection.upstreamCA {
                try copy(upstream, to: copies.proxyDirectory + "/upstream.pem", mode: 0o644, ids: ids)
            }
            try copy(source + "/ca.pem", to: copies.sandboxDirectory + "/ca.pem", mode: 0o644, ids: ids)
            try copy(source + "/ca-bundle.pem", to: copies.sandboxDirectory + "/ca-bundle.pem", mode: 0o644, ids: ids)
            return copies
        } catch {
            copies.remove()
            throw error
        }
    }

    /// Removes both copies (the key's first); what cannot be removed is left, under /tmp.
    public func remove() {
        // Every name: the proxy also rewrites its bundle through a staging file named after its pid.
        if let directory = opendir(proxyDirectory) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != ".", name != ".." { unlink(proxyDirectory + "/" + name) }
            }
            closedir(directory)
        }
        unlink(sandboxDirectory + "/ca.pem")
        unlink(sandboxDirectory + "/ca-bundle.pem")
        rmdir(proxyDirectory)
        rmdir(sandboxDirectory)
        rmdir(root)
    }

    private static func makeDirectory(_ path: String, mode: mode_t, ids: [UInt32]) throws(SandboxError) {
        guard mkdir(path, mode) == 0 else {
            let code = errno
            throw SandboxError(.setupFailed, "Could not create \(path): \(String(cString: strerror(code))).", errno: code)
        }
        chmod(path, mode)
        try own(path, ids: ids)
    }

    /// A root caller hands the copy to the containers' uid; another caller's containers run as
    /// itself (or as the workspace's owner, which then cannot read a key it does not own: the
    /// proxy says so when it starts).
    private static func own(_ path: String, ids: [UInt32]) throws(SandboxError) {
        guard geteuid() == 0 else { return }
        guard chown(path, ids[0], ids[1]) == 0 else {
            let code = errno
            throw SandboxError(.setupFailed, "Could not give \(path) to uid \(ids[0]): \(String(cString: strerror(code))).", errno: code)
        }
    }

    /// Copies `source` (the caller's own file) to a new `destination` with `mode`, for `ids`.
    private static func copy(_ source: String, to destination: String, mode: mode_t, ids: [UInt32]) throws(SandboxError) {
        do {
            try DockerImageBuilder.copy(source, to: destination, mode: mode)
        } catch {
            throw SandboxError(
                .setupFailed, "Could not copy \(source) for the run's proxy: \(error). Check the CA directory (--ca-dir) and --upstream-ca.",
                errno: error.rawValue)
        }
        try own(destination, ids: ids)
    }
}
