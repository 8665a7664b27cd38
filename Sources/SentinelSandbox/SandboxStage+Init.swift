// PID 1 of the sandbox (P): builds the file system, gives up its own privileges, starts the
// workload, then reaps zombies and forwards signals until the workload exits.
//
// The main loop waits on a signalfd with poll(2) so that it can later also serve the relay of
// the proxied network (127.0.0.1:3128 inside to a Unix socket outside): add the relay's fds to
// `pollSet` and handle them in `serve`.

import CSentinelLinux
import FoundationEssentials
import Glibc

struct InitProcess {
    let plan: StagePlan
    let sources: BindSources
    /// The proxy socket's directory (`--network proxied`), or -1.
    var proxyDirectory: Int32 = -1

    func run() -> Int32 {
        // If the stage dies, PID 1 dies, and with it every process of the namespace.
        _ = sentinel_set_parent_death_signal(SIGKILL)
        _ = sentinel_set_name("sentinel-init")
        do {
            try setUp()
            // The relay listens before the workload starts, so its first connection finds it.
            var relay: ProxyRelay?
            if plan.spec.network == .proxied, let socketPath = plan.spec.proxySocket {
                let name = String(socketPath[socketPath.index(after: socketPath.lastIndex(of: "/") ?? socketPath.startIndex)...])
                relay = try step(.proxyRelay) { () throws(Errno) in try ProxyRelay(directoryFD: proxyDirectory, name: name) }
            }
            let workload = try step(.forkWorkload) { () throws(Errno) in try Sys.fork() }
            if workload == 0 {
                Workload(plan: plan).execute()
            }
            return serve(workload: workload, relay: relay)
        } catch {
            let failure = StageFailure(step: error.step, errno: error.errno, detail: error.detail)
            try? Sys.writeAll(stageReportFD, Frames.encode(.failure, failure))
            return 2
        }
    }

    private func setUp() throws(StepError) {
        try SandboxFilesystem(plan: plan, sources: sources).build()
        sources.closeAll()
        try step(.setHostname) { () throws(Errno) in
            try Sys.check { sethostname(plan.spec.hostname, plan.spec.hostname.utf8.count) }
        }
        if plan.spec.network.isolated {
            try step(.loopbackUp) { () throws(Errno) in try Sys.check { sentinel_loopback_up() } }
        }
        // PID 1 needs no privilege from here on: reaping and forwarding signals need none.
        try step(.dropCapabilities) { () throws(Errno) in try Sys.check { sentinel_drop_all_capabilities() } }
        try step(.noNewPrivileges) { () throws(Errno) in try Sys.check { sentinel_set_no_new_privs() } }
    }

    /// Reaps every child, forwards signals to the workload, and returns the workload's status.
    private func serve(workload: pid_t, relay: ProxyRelay?) -> Int32 {
        var signals = StageProcess.forwardedSignals + [SIGCHLD]
        let signalFD = sentinel_signalfd(&signals, Int32(signals.count))
        var pollSet: [pollfd] = []
        var workloadStatus: Int32?
        while workloadStatus == nil {
            // Reap first: SIGCHLD may have arrived before the signalfd existed.
            while let (pid, status) = try? Sys.wait(-1, WNOHANG), pid > 0 {
                if pid == workload { workloadStatus = status }
            }
            if workloadStatus != nil { break }
            guard signalFD >= 0 else {
                // No signalfd: block in wait (signals keep their default action).
                if let (pid, status) = try? Sys.wait(-1), pid == workload { workloadStatus = status }
                continue
            }
            pollSet = [pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)] + (relay?.pollSet() ?? [])
            let ready = poll(&pollSet, nfds_t(pollSet.count), -1)
            if ready < 0 { continue }
            relay?.handle(pollSet[1...])
            if pollSet[0].revents & Int16(POLLIN) != 0 {
                var sender: Int32 = 0
                let signal = sentinel_signalfd_read(signalFD, &sender)
                if signal > 0, signal != SIGCHLD { kill(workload, signal) }
            }
        }
        let status = workloadStatus ?? 0
        try? Sys.writeAll(stageReportFD, Frames.encode(.exit, StageExit(rawStatus: status)))
        // Returning ends PID 1; the kernel then kills whatever the workload left behind.
        return WaitStatus(raw: status).shellStatus
    }
}
