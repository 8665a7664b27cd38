// The seccomp step of the workload: the last restriction before execve.
//
// The launcher compiled the profile (StagePlan.seccompProgram); here it is only installed. In
// log mode the filter notifies a listener, which the install hands to the launcher over
// `stageSeccompFD` in the same step, so no code runs between the install and the handoff and the
// listener never stays inside the sandbox (see `Seccomp`).

import Glibc

extension Workload {
    /// Installs the planned filter; returns the status line for the report.
    func installSeccomp(warnings: inout [String]) throws(StepError) -> String {
        guard let bytes = plan.seccompProgram else { return plan.seccompStatus }
        do {
            let program = try SeccompProgram(bytes: bytes)
            let flags = SeccompInstallFlags(rawValue: plan.seccompFlags)
            if plan.seccompHandsOffListener {
                try Seccomp.installAndSendListener(program, flags: flags, over: stageSeccompFD)
                _ = Glibc.close(stageSeccompFD)
            } else {
                try Seccomp.install(program, flags: flags)
            }
        } catch {
            throw StepError(.seccomp, errno: error.errno ?? EINVAL, error.description)
        }
        return plan.seccompStatus
    }
}
