// The seccomp step of the workload, the last restriction before execve.
//
// PENDING: the seccomp compiler (Docker-format profile JSON -> BPF, install, log mode through
// user notification) is built in `Seccomp/` by another engineer and will be wired here. Until
// then this function installs NOTHING and says so: the run report and stderr carry
// "seccomp: not installed (pending)", and `sentinel doctor --attack` marks the attempts only
// seccomp can stop as pending-seccomp.

extension Workload {
    /// Installs the seccomp filter for `settings`; returns a one-line status for the report.
    func installSeccomp(_ settings: SandboxSpec.SeccompSettings, warnings: inout [String]) throws(StepError) -> String {
        switch settings.mode {
        case .off:
            return "off (--seccomp-mode off)"
        case .enforce, .log:
            warnings.append(
                "seccomp is not installed yet (the filter compiler is pending); syscalls such as keyctl, bpf, "
                    + "io_uring, ptrace and AF_VSOCK sockets are not filtered in this build.")
            return "not installed (pending: \(settings.mode.rawValue) requested)"
        }
    }
}
