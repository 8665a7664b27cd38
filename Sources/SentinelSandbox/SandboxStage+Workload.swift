// The workload process (W), forked by PID 1: the last restrictions, in order, then execve.
// close fds -> rlimits -> Landlock -> seccomp (last, so it cannot block the setup) -> execve.
// Capabilities and no_new_privs were already set by PID 1 and are inherited.

import CSentinelLinux
import FoundationEssentials
import Glibc

struct Workload {
    let plan: StagePlan

    func execute() -> Never {
        do {
            try restrictAndExec()
        } catch {
            let failure = StageFailure(step: error.step, errno: error.errno, detail: error.detail)
            try? Sys.writeAll(stageReportFD, Frames.encode(.failure, failure))
        }
        _exit(127)
    }

    private func restrictAndExec() throws(StepError) {
        sentinel_reset_signals()
        // Every fd except stdio, the report pipe (fd 4, close-on-exec) and, in log mode, the
        // listener handoff socket (fd 5, closed once the listener is sent) goes.
        let keep = plan.seccompHandsOffListener ? stageSeccompFD : stageReportFD
        try step(.closeDescriptors) { () throws(Errno) in
            _ = Glibc.close(3)
            try Sys.check { sentinel_close_from(UInt32(keep) + 1) }
        }
        try applyResourceLimits()
        var warnings: [String] = []
        let landlock = try LandlockRuleset.apply(plan: plan, warnings: &warnings)
        // The PATH lookup (access) happens before the filter: the profile need not allow it.
        let program = plan.spec.command[0]
        let path = try step(.exec, program) { () throws(Errno) in try resolve(program) }
        let seccomp = try installSeccomp(warnings: &warnings)
        let ready = StageReady(
            landlock: landlock.description, landlockABI: landlock.abi, seccomp: seccomp,
            capabilitiesDropped: true, noNewPrivileges: true, warnings: warnings)
        try? Sys.writeAll(stageReportFD, Frames.encode(.ready, ready))

        var argv: [UnsafeMutablePointer<CChar>?] = plan.spec.command.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = plan.environment.map { strdup($0) } + [nil]
        execve(path, &argv, &envp)
        throw StepError(.exec, Errno.current, program)
    }

    private func applyResourceLimits() throws(StepError) {
        func set(_ resource: Int32, _ value: UInt64, _ name: String) throws(StepError) {
            var limit = rlimit(rlim_cur: rlim_t(value), rlim_max: rlim_t(value))
            try step(.resourceLimits, name) { () throws(Errno) in
                try Sys.check { setrlimit(__rlimit_resource_t(UInt32(resource)), &limit) }
            }
        }
        try set(Int32(SENTINEL_RLIMIT_CORE), 0, "RLIMIT_CORE")
        try set(Int32(SENTINEL_RLIMIT_NOFILE), UInt64(plan.spec.limits.openFiles), "RLIMIT_NOFILE")
        if let processes = plan.rlimitProcesses {
            try set(Int32(SENTINEL_RLIMIT_NPROC), UInt64(processes), "RLIMIT_NPROC")
        }
        if let bytes = plan.rlimitAddressSpace {
            try set(Int32(SENTINEL_RLIMIT_AS), UInt64(bytes), "RLIMIT_AS")
        }
    }

    /// Resolves a command name on the workload's PATH (execve does not search).
    private func resolve(_ program: String) throws(Errno) -> String {
        if program.contains("/") { return program }
        let pathVariable = plan.environment.first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
        var sawDenied = false
        for directory in (pathVariable ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
            if Glibc.errno == EACCES { sawDenied = true }
        }
        throw Errno(sawDenied ? EACCES : ENOENT)
    }
}
