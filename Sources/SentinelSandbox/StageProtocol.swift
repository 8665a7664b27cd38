// The wire between the launcher and its re-executed stage.
//
// - Control pipe (launcher -> stage, fd 3 in the stage): a 4-byte big-endian length and the
//   spec's JSON (`StagePlan`), later one byte 'M' once the uid/gid maps are written.
// - Report pipe (stage, init and workload -> launcher, fd 4 in the stage, close-on-exec): frames
//   of one type byte, a 4-byte big-endian length and a JSON payload.
//
// Nothing in argv or the environment is trusted by the stage: argv only carries the marker.

import FoundationEssentials
import Glibc

/// The argv[1] marker that turns the binary into the sandbox stage.
let stageMarker = "__sentinel-sandbox-stage"
/// The argv[1] marker that turns the binary into the escape-probe runner (inside a sandbox).
let probeMarker = "__sentinel-escape-probe"
/// The control pipe's fd in the stage.
let stageControlFD: Int32 = 3
/// The report pipe's fd in the stage.
let stageReportFD: Int32 = 4
/// In the stage and workload of a log-mode run: the Unix socket over which the workload hands
/// its seccomp listener to the launcher (outside the sandbox) just before execve.
let stageSeccompFD: Int32 = 5

/// What the launcher decided and the stage carries out: the spec plus facts only the launcher
/// knows (who called, what the kernel offers, the environment it computed).
struct StagePlan: Codable, Sendable {
    var spec: SandboxSpec
    /// The caller's real uid and gid outside.
    var callerUID: UInt32
    var callerGID: UInt32
    /// The workload's uid and gid (inside and outside are equal).
    var workloadUID: UInt32
    var workloadGID: UInt32
    /// The exact environment of the workload.
    var environment: [String]
    /// The Landlock ABI the launcher probed (0: none).
    var landlockABI: Int32
    /// rlimits to apply in the workload because cgroups could not carry these limits.
    var rlimitProcesses: Int?
    var rlimitAddressSpace: Int64?
    /// The compiled seccomp filter (`struct sock_filter` bytes), compiled by the launcher so the
    /// stage never parses a profile; nil when seccomp is off.
    var seccompProgram: [UInt8]?
    /// The `seccomp(2)` flags to install it with.
    var seccompFlags: UInt32 = 0
    /// Whether the filter creates a listener that goes to the launcher over `stageSeccompFD`.
    var seccompHandsOffListener = false
    /// The status line for the report (`enforce (strict profile, 413 instructions)`).
    var seccompStatus = "off"
    /// The cgroup files the stage writes `0` to before it unshares (`SandboxCgroup.selfJoinFiles`);
    /// empty when the limits are rlimits.
    var cgroupJoinFiles: [String] = []
}

/// The setup steps, in the order the stage runs them. Also used as the `stage` of an error.
enum StageStep: String, Codable, Sendable {
    case readPlan, checkSingleThreaded, joinCgroup, newSession, clearGroups, idmapWorkspace, openBindSources
    case unshareNamespaces, waitForIDMaps, switchIdentity, forkInit
    case privatizeMounts, mountRoot, bindSystem, maskSecrets, mountProc, mountDev, mountTmp
    case mountWorkspace, mountPolicy, extraBinds, blockPaths, limitNestedUserNamespaces
    case pivotRoot, remountRootReadOnly, setHostname, loopbackUp, openProxySocket, proxyRelay
    case dropCapabilities, noNewPrivileges, forkWorkload, closeDescriptors, resourceLimits
    case landlock, seccomp, exec

    /// What the step does, for "could not <summary>".
    var summary: String {
        switch self {
        case .readPlan: return "read the sandbox plan from the launcher"
        case .checkSingleThreaded: return "confirm the stage is single-threaded"
        case .joinCgroup: return "move into the sandbox's cgroup"
        case .newSession: return "start a new session"
        case .clearGroups: return "drop supplementary groups"
        case .idmapWorkspace: return "create an idmapped mount of the workspace"
        case .openBindSources: return "open the bind-mount sources"
        case .unshareNamespaces: return "create the namespaces (user, mount, pid, net, ipc, uts, cgroup)"
        case .waitForIDMaps: return "wait for the launcher to write the uid/gid maps"
        case .switchIdentity: return "switch to the workload uid/gid"
        case .forkInit: return "start the sandbox's PID 1"
        case .privatizeMounts: return "make the mount tree private"
        case .mountRoot: return "mount the new root"
        case .bindSystem: return "bind the system directories read-only"
        case .maskSecrets: return "hide secret-bearing files of /etc"
        case .mountProc: return "mount a fresh /proc"
        case .mountDev: return "build a minimal /dev"
        case .mountTmp: return "mount /tmp and /run"
        case .mountWorkspace: return "mount the workspace at /workspace"
        case .mountPolicy: return "mount the policy read-only at \(SandboxLayout.policyPath)"
        case .extraBinds: return "mount an extra bind"
        case .blockPaths: return "mask a blocked path"
        case .limitNestedUserNamespaces: return "forbid nested user namespaces"
        case .pivotRoot: return "pivot into the new root"
        case .remountRootReadOnly: return "make the new root read-only"
        case .setHostname: return "set the host name"
        case .loopbackUp: return "bring up loopback in the new network namespace"
        case .openProxySocket: return "open the directory of the proxy's Unix socket"
        case .proxyRelay: return "listen on 127.0.0.1:3128 inside the sandbox for the proxy relay"
        case .dropCapabilities: return "drop every capability"
        case .noNewPrivileges: return "set no_new_privs"
        case .forkWorkload: return "start the workload process"
        case .closeDescriptors: return "close inherited file descriptors"
        case .resourceLimits: return "apply resource limits"
        case .landlock: return "apply the Landlock ruleset"
        case .seccomp: return "install the seccomp filter"
        case .exec: return "execute the command"
        }
    }
}

/// One failure reported by the stage, init or workload.
struct StageFailure: Codable, Sendable {
    var step: StageStep
    var errno: Int32
    var detail: String
}

/// What the workload process reports just before `execve`: the protections actually in force.
struct StageReady: Codable, Sendable {
    var landlock: String
    var landlockABI: Int32
    var seccomp: String
    var capabilitiesDropped: Bool
    var noNewPrivileges: Bool
    var warnings: [String]
}

/// The workload's end, reported by PID 1.
struct StageExit: Codable, Sendable {
    var rawStatus: Int32
}

/// Frame types on the report pipe.
enum FrameType: UInt8 {
    case unshared = 0x55  // 'U': namespaces exist; write the maps. Payload: empty.
    case failure = 0x45  // 'E': StageFailure.
    case ready = 0x52  // 'R': StageReady, just before execve.
    case exit = 0x58  // 'X': StageExit.
}

enum Frames {
    static func encode<T: Encodable>(_ type: FrameType, _ value: T) -> [UInt8] {
        let payload = (try? JSONEncoder().encode(value)).map { [UInt8]($0) } ?? []
        return [type.rawValue] + lengthPrefix(payload.count) + payload
    }

    static func lengthPrefix(_ count: Int) -> [UInt8] {
        let n = UInt32(count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)]
    }

    static func length(_ bytes: [UInt8]) -> Int {
        Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
    }

    /// Reads one frame; nil at EOF.
    static func read(_ fd: Int32) throws(Errno) -> (FrameType?, [UInt8])? {
        guard let header = try Sys.readExactly(fd, 5) else { return nil }
        let count = length(Array(header[1...]))
        guard count <= 1 << 20 else { throw Errno(EMSGSIZE) }
        let payload = count == 0 ? [] : (try Sys.readExactly(fd, count) ?? [])
        return (FrameType(rawValue: header[0]), payload)
    }
}
