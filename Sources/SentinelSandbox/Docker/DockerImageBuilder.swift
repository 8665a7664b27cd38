// `--build-if-missing`: builds the runtime image from a temporary context holding the
// Dockerfile, the entrypoint, the default policy and the `sentinel` binary found next to the
// running executable, so no Swift toolchain is needed in the image. A dynamically linked build
// (debug) brings its Swift runtime libraries along, next to the binary, where its
// `RUNPATH=$ORIGIN` finds them; glibc itself comes from the base image.

import Glibc

/// Builds the Sentinel runtime image.
public struct DockerImageBuilder: Sendable {
    /// The engine to build with.
    public var engine: DockerEngine

    /// Creates a builder.
    public init(engine: DockerEngine) {
        self.engine = engine
    }

    /// Libraries that must come from the base image: the C library and its loader, which are
    /// tied to each other and to the kernel interface of the image's distribution.
    static let systemLibraryPrefixes = ["libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "ld-linux", "libresolv.so", "libutil.so", "linux-vdso", "libmvec.so"]

    /// What an image is built from: the `sentinel` binary next to the running executable, and
    /// the Dockerfile and entrypoint of the repository it was built in, else the built-in copies.
    public struct Materials: Sendable {
        /// The `sentinel` binary staged into the image.
        public var binary: String
        /// The repository root the binary was built in, when found.
        public var repository: String?
        /// The Dockerfile's text.
        public var dockerfile: String
        /// The entrypoint's text.
        public var entrypoint: String

        /// What the image's fingerprint label says when it was built from these materials.
        public var fingerprint: DockerImageFingerprint {
            DockerImageFingerprint(binary: binary, dockerfile: dockerfile, entrypoint: entrypoint)
        }
    }

    /// Finds the materials of an image build; fails when no `sentinel` binary is next to this one.
    public static func materials() throws(SandboxError) -> Materials {
        let executable = Sys.readlink("/proc/self/exe") ?? ""
        let binDirectory = String(executable[..<(executable.lastIndex(of: "/") ?? executable.endIndex)])
        let binary = executable.hasSuffix("/sentinel") ? executable : binDirectory + "/sentinel"
        guard access(binary, X_OK) == 0 else {
            throw SandboxError(
                .unsupported,
                "Building the image needs the `sentinel` binary next to this one (looked for \(binary)): build it (swift build --product sentinel) and try again.")
        }
        let repository = findRepository(from: binDirectory)
        return Materials(
            binary: binary, repository: repository,
            dockerfile: repository.flatMap { try? Sys.readFile($0 + "/Dockerfile") } ?? DockerBundle.dockerfile + "\n",
            entrypoint: repository.flatMap { try? Sys.readFile($0 + "/scripts/entrypoint.sh") } ?? DockerBundle.entrypoint + "\n")
    }

    /// Why `image` must be (re)built from `materials` before a run with `--build-if-missing`, or
    /// nil when it is up to date. An image this builder did not make is never replaced: it is the
    /// operator's, whatever it holds.
    public func reasonToBuild(_ image: String, from materials: Materials) throws(SandboxError) -> String? {
        guard let labels = try engine.imageLabels(image, [DockerImageFingerprint.builtByLabel, DockerImageFingerprint.label]) else {
            return "Image \(image) is missing"
        }
        guard labels[DockerImageFingerprint.builtByLabel] == "sentinel-isolate" else { return nil }
        let wanted = materials.fingerprint
        guard let found = labels[DockerImageFingerprint.label], found == wanted.value else {
            return "Image \(image) was built from another build of sentinel (\(labels[DockerImageFingerprint.label] ?? "no fingerprint"), this one is \(wanted))"
        }
        return nil
    }

    /// Builds `image` on `baseImage`. `defaultPolicy` is used when the repository's
    /// `sentinel.yaml` is not found next to the binary. `progress` receives one line per step.
    public func build(image: String, baseImage: String, defaultPolicy: String?, progress: (String) -> Void) throws(SandboxError) {
        try build(image: image, baseImage: baseImage, from: Self.materials(), defaultPolicy: defaultPolicy, progress: progress)
    }

    /// Builds `image` on `baseImage` from `materials`, labelled with their fingerprint.
    public func build(
        image: String, baseImage: String, from materials: Materials, defaultPolicy: String?, progress: (String) -> Void
    ) throws(SandboxError) {
        let binary = materials.binary
        let repository = materials.repository
        let dockerfile = materials.dockerfile
        let entrypoint = materials.entrypoint
        guard let policySource = repository.map({ $0 + "/sentinel.yaml" }) ?? defaultPolicy else {
            throw SandboxError(.invalidSpec, "Building the image needs a default policy: pass --policy FILE.")
        }

        let context = try DockerSeccompFile.makePrivateDirectory(prefix: "sentinel-image-")
        defer { DockerTemporary.removeTree(context) }
        let bin = context + "/stage/opt/sentinel/bin"
        var libraries: [String] = []
        do {
            for directory in ["/stage", "/stage/opt", "/stage/opt/sentinel", "/stage/opt/sentinel/bin"] {
                try Sys.mkdir(context + directory, 0o755)
            }
            try Self.create(context + "/Dockerfile", dockerfile, mode: 0o644)
            try Self.create(context + "/stage/opt/sentinel/entrypoint.sh", entrypoint, mode: 0o755)
            try Self.copy(policySource, to: context + "/stage/opt/sentinel/sentinel.yaml", mode: 0o644)
            try Self.copy(binary, to: bin + "/sentinel", mode: 0o755)
            libraries = Self.sharedLibraries(of: binary)
            for library in libraries {
                let name = String(library[library.index(after: library.lastIndex(of: "/")!)...])
                try Self.copy(library, to: bin + "/" + name, mode: 0o644)
            }
        } catch {
            throw SandboxError(.setupFailed, "Could not stage the image's build context in \(context): \(error). Check the free space in \(DockerTemporary.base()).", errno: error.rawValue)
        }
        let size = Self.size(of: binary) + libraries.reduce(0) { $0 + Self.size(of: $1) }
        progress("Building image \(image) from \(baseImage): sentinel binary \(binary) (\(size >> 20) MiB with \(libraries.count) runtime libraries), files from \(repository ?? "the built-in copies")…")
        let result = try engine.capture(
            ["build", "--build-arg", "BASE_IMAGE=\(baseImage)", "--label", "\(DockerImageFingerprint.builtByLabel)=sentinel-isolate",
             "--label", "\(DockerImageFingerprint.label)=\(materials.fingerprint)",
             "--tag", image, context],
            onLine: { line in
                // The classic builder prints "Step 2/7 : RUN …"; BuildKit prints "#5 [2/4] RUN …".
                if line.hasPrefix("Step ") || (line.hasPrefix("#") && line.contains("] ") && !line.contains(" DONE")) {
                    progress("  " + String(line.prefix(110)))
                }
            })
        guard result.status == 0 else {
            if let problem = DockerEngine.engineProblem(result.output) { throw problem }
            let tail = result.output.split(separator: "\n").suffix(12).joined(separator: "\n    ")
            throw SandboxError(
                .launchFailed,
                "Failed to build image '\(image)' (docker build exited with \(result.status)):\n    \(tail)\nCheck that the base image \(baseImage) exists locally (docker image ls) or pass --base-image.")
        }
        progress("Built image \(image).")
    }

    /// The repository root: the nearest ancestor of `directory` (up to 5 levels) that holds
    /// `Dockerfile`, `scripts/entrypoint.sh` and `sentinel.yaml` (the binary in `.build/debug`).
    static func findRepository(from directory: String) -> String? {
        var current = directory
        for _ in 0..<5 {
            if ["/Dockerfile", "/scripts/entrypoint.sh", "/sentinel.yaml"].allSatisfy({ Sys.fileType(current + $0) == S_IFREG }) {
                return current
            }
            guard let slash = current.lastIndex(of: "/"), slash != current.startIndex else { return nil }
            current = String(current[..<slash])
        }
        return nil
    }

    /// The shared libraries `binary` loads, except the C library's own (from `ldd`, which
    /// prints `name => /path (address)`). Empty for a static binary.
    static func sharedLibraries(of binary: String) -> [String] {
        let candidates = ["/usr/bin/ldd", "/bin/ldd"]
        guard let ldd = candidates.first(where: { access($0, X_OK) == 0 }),
            let engine = try? DockerEngine(binary: ldd, callerEnvironment: ["PATH": "/usr/bin:/bin"]),
            let result = try? engine.capture([binary]), result.status == 0
        else { return [] }
        var libraries: [String] = []
        for line in result.output.split(separator: "\n") {
            guard let arrow = line.firstRange(of: "=> /") else { continue }
            let path = line[line.index(arrow.upperBound, offsetBy: -1)...].split(separator: " ").first.map(String.init) ?? ""
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            guard !name.isEmpty, !systemLibraryPrefixes.contains(where: { name.hasPrefix($0) }) else { continue }
            libraries.append(path)
        }
        return libraries
    }

    static func size(of path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    /// Creates a new file with `text`.
    static func create(_ path: String, _ text: String, mode: mode_t) throws(Errno) {
        let fd = try Sys.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        defer { Sys.close(fd) }
        try Sys.writeAll(fd, Array(text.utf8))
    }

    /// Copies a regular file (following symlinks, as the loader does).
    static func copy(_ source: String, to destination: String, mode: mode_t) throws(Errno) {
        let input = try Sys.open(source, O_RDONLY | O_CLOEXEC)
        defer { Sys.close(input) }
        let output = try Sys.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        defer { Sys.close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Errno(errno)
            }
            if count == 0 { break }
            try Sys.writeAll(output, Array(buffer[0..<count]))
        }
        _ = fchmod(output, mode)
    }
}
