// `--guard` on the native backend: `sentinel guard` runs inside the sandbox as the command's
// parent, with the mounted policy, so that per-action decisions mean the same thing on both
// backends (in Docker the image's entrypoint starts the guard; here the same entrypoint code runs
// from the same binary, bound read-only into the sandbox).
//
// What the sandbox adds for it:
// - the `sentinel` binary, read-only at its own host path (a dynamically linked build finds its
//   runtime libraries through RUNPATH, absolute or `$ORIGIN`), and the directories of the shared
//   libraries it loads that the sandbox does not already show;
// - the guard's records: a host directory outside the workspace, read-write at
//   /var/log/sentinel. The sandbox's Landlock ruleset allows a read-write bind to be written; the
//   guard's own ruleset for its child covers only allowed_paths, and the entrypoint refuses a
//   policy whose allowed_paths cover the records, so the guarded program cannot write them;
// - the command behind `sentinel entrypoint --`, with SENTINEL_GUARD=1.
//
// The sandbox's profile already allows what the guard does (seccomp with a listener, the ptrace
// requests of its tracer, process_vm_readv, pidfd_getfd); Landlock lets a process trace and
// signal the processes of a domain nested in its own, which is what the guard's child is in.

import Glibc
import SentinelPolicy

/// Turns a spec with ``SandboxSpec/guardInside`` into the spec the stage runs.
enum NativeGuard {
    /// What `run_end` and the run report say about the guard.
    static func description(_ guardInside: SandboxSpec.GuardInside) -> String {
        "sentinel guard (every exec, file write and connect decided; audit log \(guardInside.recordsDirectory)/\(RunRecords.guardLogName))"
    }

    /// The stage's spec: `spec` with the command behind the entrypoint and the binds the guard
    /// needs; `spec` itself when it has no guard.
    ///
    /// - Throws: `SandboxError` when the guard cannot run inside: its records directory cannot
    ///   be prepared for the workload's identity, or the seccomp mode would need a second listener.
    static func stageSpec(for spec: SandboxSpec, workloadUID: UInt32, workloadGID: UInt32) throws(SandboxError) -> SandboxSpec {
        guard let guardInside = spec.guardInside else { return spec }
        if spec.seccomp.mode == .log {
            // Log mode hands the sandbox's own filter a listener; the kernel allows one listener
            // in a chain of filters, so the guard's filter could not be installed (EBUSY).
            throw SandboxError(
                .invalidSpec,
                "--guard cannot run with --seccomp-mode log on the native backend: both need the kernel's one seccomp listener. "
                    + "Drop --guard to see the calls the profile would deny, or use --seccomp-mode enforce.")
        }
        guard access(guardInside.binary, X_OK) == 0 else {
            throw SandboxError(
                .invalidSpec,
                "--guard runs the `sentinel` binary inside the sandbox, and \(guardInside.binary) is not executable: build it "
                    + "(swift build --product sentinel) next to sentinel-isolate.")
        }
        let records = SandboxLayout.recordsDirectory
        if let covering = spec.binds.first(where: { records.hasPrefix($0.destination + "/") }) {
            // The records' mount point would be made inside that bind, on the host's files, and a
            // later bind of it would hide the records.
            throw SandboxError(
                .invalidSpec,
                "--guard records to \(records), which the bind of \(covering.source) at \(covering.destination) would cover: "
                    + "bind a narrower path (or drop the policy entry that binds it).")
        }
        try DockerSandbox.prepareAuditDirectory(guardInside.recordsDirectory, user: "\(workloadUID):\(workloadGID)")
        var staged = spec
        var extra: [SandboxSpec.Bind] = []
        let binary = PathTranslation.lexical(guardInside.binary)
        if !isShown(binary) { extra.append(SandboxSpec.Bind(source: binary, destination: binary, readOnly: true)) }
        for directory in libraryDirectories(of: binary) where !isShown(directory) {
            extra.append(SandboxSpec.Bind(source: directory, destination: directory, readOnly: true))
        }
        extra.append(SandboxSpec.Bind(source: guardInside.recordsDirectory, destination: SandboxLayout.recordsDirectory, readOnly: false))
        staged.binds = extra.filter { bind in !spec.binds.contains { $0.destination == bind.destination } } + spec.binds
        staged.command = [binary, "entrypoint", "--"] + spec.command
        staged.environment[SandboxLayout.guardVariable] = "1"
        return staged
    }

    /// Whether the sandbox already shows `path` (read-only, at the same path): the system trees.
    static func isShown(_ path: String) -> Bool {
        PolicyMounts.systemDirectories.contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    /// The directories of the shared libraries `binary` loads (empty for a static binary).
    static func libraryDirectories(of binary: String) -> [String] {
        var directories: [String] = []
        for library in DockerImageBuilder.sharedLibraries(of: binary) {
            guard let slash = library.lastIndex(of: "/") else { continue }
            let directory = PathTranslation.lexical(String(library[..<slash]))
            if !directories.contains(directory) { directories.append(directory) }
        }
        return directories
    }
}
