// What an image built by `--build-if-missing` was made from, so a stale one is rebuilt.
//
// `--build-if-missing` used to build only when the tag was absent. An image made by an older
// `sentinel` then kept being used after an upgrade (or on a CI machine whose engine outlived the
// checkout that built it): on 2026-12-07 a CI run ran the previous build's entrypoint, which
// still started the guard inside every container, and 122 checks failed. The builder now labels
// the image with a fingerprint of what went into it and rebuilds an image it made whose
// fingerprint differs. Images it did not make (no `org.sentinel-guard.built-by` label) are the
// operator's and are never replaced.

import Glibc

/// The identity of the files an image is built from: the `sentinel` binary (its ELF build ID,
/// which the linker derives from the linked contents) and the Dockerfile and entrypoint texts.
public struct DockerImageFingerprint: Sendable, Equatable, CustomStringConvertible {
    /// The label that carries the fingerprint on the image.
    public static let label = "org.sentinel-guard.fingerprint"
    /// The label that marks an image as made by `sentinel-isolate --build-if-missing`.
    public static let builtByLabel = "org.sentinel-guard.built-by"

    /// The fingerprint's text, as stored in the label.
    public var value: String

    /// A human rendering: the value itself.
    public var description: String { value }

    /// The fingerprint of `binary` built with `dockerfile` and `entrypoint`. The binary is
    /// identified by its build ID; a binary without one (linked with `--build-id=none`) by its
    /// size and modification time, which still changes with every rebuild.
    public init(binary: String, dockerfile: String, entrypoint: String) {
        let binaryIdentity: String
        if let buildID = Self.elfBuildID(binary) {
            binaryIdentity = "build-id:" + buildID
        } else {
            var info = stat()
            binaryIdentity = stat(binary, &info) == 0
                ? "file:\(info.st_size)@\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" : "file:unreadable"
        }
        // The texts are small and not adversarial (the operator's own files): a 64-bit FNV-1a is
        // enough to notice that they changed.
        let texts = Self.fnv1a(Array(dockerfile.utf8) + [0] + Array(entrypoint.utf8))
        value = binaryIdentity + ";files:" + Self.hex(texts)
    }

    /// Wraps a value read from an image's label.
    public init(value: String) {
        self.value = value
    }

    /// The GNU build ID of the ELF file at `path` (lowercase hex), or nil when the file is not a
    /// 64-bit little-endian ELF file or has no `NT_GNU_BUILD_ID` note. Reads only the headers
    /// and the note segments, never the whole binary (a debug `sentinel` is hundreds of MiB).
    static func elfBuildID(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let header = readAt(fd, offset: 0, count: 64), header.count == 64,
            header[0..<4].elementsEqual([0x7f, 0x45, 0x4c, 0x46]), header[4] == 2, header[5] == 1
        else { return nil }
        let programHeaders = Int(little(header, 32, 8))
        let entrySize = Int(little(header, 54, 2))
        let entryCount = Int(little(header, 56, 2))
        guard entrySize >= 56, entryCount > 0, entryCount < 4096,
            let table = readAt(fd, offset: programHeaders, count: entrySize * entryCount)
        else { return nil }
        for index in 0..<entryCount {
            let entry = index * entrySize
            guard little(table, entry, 4) == 4 else { continue }  // PT_NOTE
            let offset = Int(little(table, entry + 8, 8))
            let size = Int(little(table, entry + 32, 8))
            guard size > 0, size < 1 << 16, let notes = readAt(fd, offset: offset, count: size) else { continue }
            if let id = buildID(inNotes: notes) { return id }
        }
        return nil
    }

    /// Walks a note segment: each note is namesz, descsz, type (4 bytes each), then the name and
    /// the descriptor, each padded to 4 bytes.
    static func buildID(inNotes notes: [UInt8]) -> String? {
        var position = 0
        while position + 12 <= notes.count {
            let nameSize = Int(little(notes, position, 4))
            let descriptorSize = Int(little(notes, position + 4, 4))
            let type = little(notes, position + 8, 4)
            let name = position + 12
            let descriptor = name + ((nameSize + 3) & ~3)
            let next = descriptor + ((descriptorSize + 3) & ~3)
            guard nameSize >= 0, descriptorSize >= 0, next <= notes.count else { return nil }
            // NT_GNU_BUILD_ID (3) with the name "GNU\0".
            if type == 3, nameSize == 4, notes[name..<name + 4].elementsEqual([0x47, 0x4e, 0x55, 0]), descriptorSize > 0 {
                return hex(notes[descriptor..<descriptor + descriptorSize])
            }
            position = next
        }
        return nil
    }

    static func readAt(_ fd: Int32, offset: Int, count: Int) -> [UInt8]? {
        guard offset >= 0, count > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return read == count ? bytes : nil
    }

    static func little(_ bytes: [UInt8], _ offset: Int, _ width: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in stride(from: width - 1, through: 0, by: -1) {
            value = value << 8 | UInt64(bytes[offset + index])
        }
        return value
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func hex(_ value: UInt64) -> String {
        hex((0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) })
    }
}
