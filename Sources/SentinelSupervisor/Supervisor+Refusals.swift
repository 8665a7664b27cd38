import Glibc
import SentinelApproval
import SentinelAudit
import SentinelGuard
import SentinelPolicy
import SentinelSandbox

extension Supervisor {
    /// `ioctl(fd, TIOCSTI | TIOCLINUX, …)`: typing into a terminal. A program under the guard runs
    /// on the operator's terminal; bytes pushed into its input queue are read by the operator's
    /// shell once the guard exits, and run as the operator's commands. Refused with EPERM and
    /// recorded; no answer can allow it (a person would be approving keystrokes they cannot see).
    func planTerminalInjection(_ notification: SeccompNotification) -> Plan {
        let request = UInt32(truncatingIfNeeded: notification.data.arguments[1])
        let name = request == 0x5412 ? "TIOCSTI" : "TIOCLINUX"
        let decision = DecisionRequest(
            action: .terminalInput, target: "\(name) on descriptor \(Int32(truncatingIfNeeded: notification.data.arguments[0]))",
            verdict: .deny(
                rule: "guard:terminal-injection",
                reason: "\(name) pushes input into the terminal as if the operator typed it; the operator's shell would run it after the command exits."),
            recommendation: "", severity: .critical, details: details(notification), isApprovable: false)
        return .decide([decision], refuseWith: EPERM, onDenied: nil) {}
    }

    /// `socket(AF_INET/AF_INET6, SOCK_RAW | SOCK_PACKET, …)` and `socket(AF_PACKET, …)`: the packets
    /// go where the headers the program writes say, whatever address a `sendto` names, so the
    /// connect rules cannot describe them. Refused with EPERM and recorded unless the policy sets
    /// `network_failsafe.allow_raw_sockets` (then allowed, and recorded).
    func planRawSocket(_ notification: SeccompNotification) -> Plan {
        let arguments = notification.data.arguments
        let family = Int32(truncatingIfNeeded: arguments[0])
        let type = Int32(truncatingIfNeeded: arguments[1]) & 0xF
        let protocolNumber = Int32(truncatingIfNeeded: arguments[2])
        let familyName = family == AF_PACKET ? "AF_PACKET" : family == AF_INET ? "AF_INET" : "AF_INET6"
        let typeName = type == 3 ? "SOCK_RAW" : type == 10 ? "SOCK_PACKET" : type == 2 ? "SOCK_DGRAM" : "type \(type)"
        let target = "\(familyName) \(typeName) protocol \(protocolNumber)"
        let verdict: Verdict =
            policy.document.networkFailsafe.allowRawSockets
            ? .allow(rule: "network_failsafe.allow_raw_sockets", reason: "Raw and packet sockets are allowed by the policy.")
            : .deny(
                rule: "network_failsafe.allow_raw_sockets",
                reason: "A \(familyName) \(typeName) socket sends packets whose headers the program writes, so where they go is not the address it names; no connect rule can describe them.",
                remedy: "Set network_failsafe.allow_raw_sockets: true if the program must send raw packets.")
        let request = DecisionRequest(
            action: .rawSocket, target: target, verdict: verdict, recommendation: "", severity: .critical,
            details: details(notification), isApprovable: false)
        let id = notification.id
        return .decide([request], refuseWith: EPERM, onDenied: nil) { [self] in continueIfPending(id) }
    }

    /// A call the guard never lets a program make: refused with EPERM, as the filter used to do
    /// silently, and now recorded with the reason (issue 15: `make` failed with "Operation not
    /// permitted" and the log said nothing). No answer can allow it.
    func planRefusedCall(_ notification: SeccompNotification) -> Plan {
        let name = syscallName(notification)
        let why: String
        switch name {
        case "unshare", "setns", "clone":
            why = "it would move the program into new namespaces, where the supervisor's view of its files, addresses and processes no longer describes it"
        case "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "mount_setattr":
            why = "it would change what paths mean to the program, and the supervisor decides by path"
        case "open_by_handle_at":
            why = "it opens a file by a handle, past every path check"
        case "io_uring_setup", "io_uring_enter", "io_uring_register":
            why = "io_uring makes system calls the filter cannot see"
        case "ptrace":
            why = "it would let the program trace another process, or suspend that process's filter"
        case "process_vm_readv", "process_vm_writev", "pidfd_getfd", "process_madvise", "kcmp":
            why = "it reaches into another process's memory or descriptors"
        default:
            why = "it would change the user, group or capabilities the program runs with (setting the ids it already holds is allowed), and the supervisor acts on its behalf with the ones it started with"
        }
        let request = DecisionRequest(
            action: "syscall", target: name,
            verdict: .deny(rule: "guard:refused-call", reason: "\(name) is refused under sentinel guard: \(why)."),
            recommendation: "", severity: .high, details: details(notification), isApprovable: false)
        return .decide([request], refuseWith: EPERM, onDenied: nil) {}
    }

    /// Records a process the tracer killed at its exec stop: the image the kernel loaded was not
    /// the one decided (a path or argv rewritten after the check, a file swapped in). A decision
    /// no answer can change.
    func recordExecMismatch(_ mismatch: ProcessTracer.Mismatch) {
        var recorded = ["pid": String(mismatch.pid), "loaded": mismatch.loaded]
        if let expected = mismatch.expected { recorded["decided"] = expected.imagePath }
        let request = DecisionRequest(
            action: .exec, target: mismatch.expected?.commandLine ?? mismatch.loaded,
            verdict: .deny(
                rule: "guard:exec-verification",
                reason: "Process \(mismatch.pid) was killed before running \(mismatch.loaded): \(mismatch.reason)."),
            recommendation: "", severity: .critical, details: recorded, isApprovable: false)
        let decision = pipeline.refuseWithoutAsking(request)
        count {
            $0.decisions += 1
            $0.denied += 1
        }
        log("sentinel guard: \(decision.reason)")
    }
}
