// Helpers shared by the audit tests: scratch directories and raw file access.

import Foundation
@testable import SentinelAudit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system temporary directory, removed when the value is dropped.
final class ScratchDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/sentinel-audit-test.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = try #require(made.map { String(cString: $0) }, "mkdtemp failed: errno \(errno)")
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { path + "/" + name }
}

/// The bytes of a file.
func readBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Replaces a file's contents.
func writeBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The lines of a file, without their newlines (a trailing fragment is returned as a last line).
func readLines(_ path: String) throws -> [[UInt8]] {
    var lines = try readBytes(path).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .map { Array($0) }
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines
}

/// Writes lines back, each with a newline.
func writeLines(_ path: String, _ lines: [[UInt8]]) throws {
    try writeBytes(path, lines.flatMap { $0 + [UInt8(ascii: "\n")] })
}

/// A typical event; `index` varies the target so lines differ.
func sampleEvent(_ index: Int, target: String? = nil) -> AuditEvent {
    AuditEvent(
        mode: .guard, action: .exec, target: target ?? "/usr/bin/tool --run \(index)",
        decision: index % 3 == 0 ? .deny : .allow, rule: "allowed_commands[\(index % 4)]",
        reason: "Rule \(index % 4) decided.", approver: "policy", policySHA256: String(repeating: "ab", count: 32),
        severity: index % 3 == 0 ? .high : .info, details: ["index": String(index), "uid": "1000"])
}

/// Creates a log with `count` sample records and returns its path.
@discardableResult
func makeLog(in directory: ScratchDirectory, count: Int, key: AuditKey? = nil, name: String = "audit.log") throws
    -> String
{
    let path = directory.file(name)
    let log = try AuditLog(path: path, options: .init(key: key))
    for index in 1...count { try log.append(sampleEvent(index)) }
    log.close()
    return path
}

/// A test key.
let testKey: AuditKey = try! AuditKey(bytes: Array("0123456789abcdef0123456789abcdef".utf8))
