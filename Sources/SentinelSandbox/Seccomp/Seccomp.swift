import CSentinelLinux
import Glibc

/// What the sandbox does with its seccomp profile (`--seccomp-mode`).
public enum SeccompMode: String, Sendable, Hashable, CaseIterable {
    /// The profile's actions apply: a denied call fails (or kills, as the profile says).
    case enforce
    /// Every call the profile would deny runs, and is counted by a listener outside the sandbox
    /// (`SECCOMP_RET_USER_NOTIF`); without user notification, recorded in the kernel's audit
    /// log instead (`SECCOMP_RET_LOG`).
    case log
    /// No filter is installed; the caller warns the user.
    case off
}

/// Flags for `seccomp(SECCOMP_SET_MODE_FILTER)`.
public struct SeccompInstallFlags: OptionSet, Sendable, Hashable {
    /// The raw `SECCOMP_FILTER_FLAG_*` bits.
    public let rawValue: UInt32

    /// Creates flags from raw bits.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Install on every thread of the process (`SECCOMP_FILTER_FLAG_TSYNC`).
    public static let synchronizeThreads = SeccompInstallFlags(rawValue: UInt32(SECCOMP_FILTER_FLAG_TSYNC))
    /// Log every action except ALLOW to the audit log (`SECCOMP_FILTER_FLAG_LOG`).
    public static let logActions = SeccompInstallFlags(rawValue: UInt32(SECCOMP_FILTER_FLAG_LOG))
    /// Keep speculative-store-bypass mitigation off (`SECCOMP_FILTER_FLAG_SPEC_ALLOW`).
    public static let allowSpeculation = SeccompInstallFlags(rawValue: UInt32(SECCOMP_FILTER_FLAG_SPEC_ALLOW))
    /// Create a listener fd for `SECCOMP_RET_USER_NOTIF` (`SECCOMP_FILTER_FLAG_NEW_LISTENER`).
    public static let newListener = SeccompInstallFlags(rawValue: UInt32(SECCOMP_FILTER_FLAG_NEW_LISTENER))
    /// A notified task waits killably once the listener has received the notification
    /// (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, Linux 5.19).
    public static let waitKillableAfterReceive = SeccompInstallFlags(
        rawValue: UInt32(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV))

    /// The flags a profile's `flags` list names (names are checked when the profile is read).
    public init(profileFlags: [String]) {
        var flags: SeccompInstallFlags = []
        for name in profileFlags {
            switch name {
            case "SECCOMP_FILTER_FLAG_TSYNC": flags.insert(.synchronizeThreads)
            case "SECCOMP_FILTER_FLAG_LOG": flags.insert(.logActions)
            case "SECCOMP_FILTER_FLAG_SPEC_ALLOW": flags.insert(.allowSpeculation)
            case "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": flags.insert(.waitKillableAfterReceive)
            default: break
            }
        }
        self = flags
    }
}

/// Whether this kernel can run log mode through a listener.
public enum SeccompUserNotificationSupport: Sendable, Hashable {
    /// `SECCOMP_RET_USER_NOTIF` with `SECCOMP_USER_NOTIF_FLAG_CONTINUE` (Linux 5.5) works.
    case available
    /// It does not; the sentence says why.
    case unavailable(String)
}

/// A compiled filter and what installing it means, made by `Seccomp.plan`.
public struct SeccompPlan: Sendable {
    /// How the filter treats calls the profile would deny.
    public enum Behaviour: Sendable, Hashable {
        /// As the profile says.
        case enforce
        /// They run; a listener outside the sandbox counts them (`SeccompLogSession`).
        case logToListener
        /// They run; the kernel records them in its audit log (user notification unavailable).
        case logToKernel
    }

    /// How the filter treats calls the profile would deny.
    public let behaviour: Behaviour
    /// The rules as the profile means them in enforce mode: what the log-mode listener uses to
    /// say which rule each let-through call would have hit.
    public let enforcedRules: SeccompRuleSet
    /// The rules the installed program implements.
    public let installedRules: SeccompRuleSet
    /// The program for `installedRules` (without the handoff exemption; see `Seccomp.install`).
    public let program: SeccompProgram
    /// The flags to install with.
    public let flags: SeccompInstallFlags
    /// What the compiler skipped or changed.
    public let warnings: [SeccompWarning]
    /// Sentences for the user about the mode actually in force (the fallback to the kernel log).
    public let notes: [String]

    /// Whether installing creates a listener that must be handed to a supervisor.
    public var needsListener: Bool { flags.contains(.newListener) }
}

/// Installing seccomp filters, probing the kernel, and compiling a profile for a mode.
///
/// The filter goes on last, in the sandbox's single-threaded stage, right before `execve`:
/// it applies to the calling thread and everything it starts, and it must not block the
/// stage's own setup (mounts, `pivot_root`, capability drops are all calls the profile denies).
/// The kernel accepts a filter only from a process with `no_new_privs` set (or CAP_SYS_ADMIN);
/// if it refuses, the stage reports the `SeccompError` and does not run the command.
///
/// Log mode, end to end:
///
/// 1. The launcher (outside the sandbox) compiles `plan(profile:mode: .log, …)`, creates a socket
///    pair with `SeccompHandoff.makeSocketPair()`, keeps the supervisor end and gives the other
///    end to the stage as an inherited fd.
/// 2. The stage's last step is `install(plan, handingListenerTo: fd)`: the C shim installs the
///    filter with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, sends the listener over the socket with
///    SCM_RIGHTS and closes its copy; nothing else runs in between, and the filter lets that one
///    `sendmsg` through even when the profile does not allow `sendmsg`. Then `execve`.
/// 3. The launcher calls `SeccompHandoff.receiveListener(from:)` and starts a
///    `SeccompLogSession` with `plan.enforcedRules`; when the command has exited it calls
///    `finish()` and prints the report (`SeccompDenialReport.lines()`), and for
///    `--seccomp-suggest PATH` writes `suggestedProfile(from:)`.
///
/// The listener must never stay inside the sandbox: a process holding its own listener could
/// answer its own notifications. The kernel creates it close-on-exec and the shim closes it.
public enum Seccomp {
    /// Compiles `profile` for `mode`; nil for `.off` (the caller warns that no filter is
    /// installed).
    ///
    /// In log mode every action that denies (ERRNO, TRAP, KILL) becomes `SECCOMP_RET_USER_NOTIF`,
    /// and the listener lets the call continue. Two things stay as they are: a foreign
    /// architecture or x32 call is still killed (log mode must not open another ABI), and an
    /// `ERRNO(ENOSYS)` rule still returns ENOSYS, because ENOSYS is not a denial but the signal
    /// that makes libc fall back to an older call the profile can inspect (`clone3` → `clone`);
    /// relaxing it would make log mode behave unlike enforce mode and report every thread start.
    /// Without user notification (before Linux 5.5) the denying actions become
    /// `SECCOMP_RET_LOG`, and `notes` says so. `userNotification` is what the kernel offers
    /// (probed by default; a caller may pass what it probed once, or force the fallback).
    public static func plan(
        profile: SeccompProfile, mode: SeccompMode, options: SeccompCompiler.Options,
        userNotification: SeccompUserNotificationSupport? = nil
    ) throws(SeccompError) -> SeccompPlan? {
        if mode == .off { return nil }
        let (enforced, warnings) = try SeccompCompiler.ruleSet(for: profile, options: options)
        var flags = SeccompInstallFlags(profileFlags: profile.flags)
        var notes: [String] = []
        let installed: SeccompRuleSet
        let behaviour: SeccompPlan.Behaviour
        switch mode {
        case .off, .enforce:
            installed = enforced
            behaviour = .enforce
        case .log:
            switch userNotification ?? userNotificationSupport {
            case .available:
                installed = enforced.mapActions { relaxed($0, to: .notify) }
                behaviour = .logToListener
            case .unavailable(let reason):
                guard isActionAvailable(.log) else {
                    throw SeccompError(
                        .userNotificationUnavailable,
                        "Seccomp log mode needs user notification (Linux 5.5) or SECCOMP_RET_LOG (Linux 4.14), and "
                            + "this kernel has neither (\(reason)); use --seccomp-mode enforce or off.")
                }
                installed = enforced.mapActions { relaxed($0, to: .log) }
                behaviour = .logToKernel
                notes.append(
                    "Seccomp log mode: \(reason), so calls the profile would deny are let through and recorded "
                        + "in the kernel audit log (SECCOMP_RET_LOG: see `journalctl -k` or `dmesg`, type=1326) "
                        + "instead of being counted; no summary or --seccomp-suggest profile can be produced.")
            }
        }
        if installed.uses(.notify) { flags.insert(.newListener) }
        let program = try SeccompCompiler.program(for: installed)
        return SeccompPlan(
            behaviour: behaviour, enforcedRules: enforced, installedRules: installed, program: program, flags: flags,
            warnings: warnings, notes: notes)
    }

    /// The log-mode replacement of `action`.
    static func relaxed(_ action: SeccompAction, to replacement: SeccompAction) -> SeccompAction {
        switch action {
        case .allow, .log:
            return action
        case .notify:
            // A profile's own SCMP_ACT_NOTIFY: kept with a listener, logged without one (a
            // notifying filter without a listener fails the call with ENOSYS).
            return replacement == .notify ? .notify : .log
        case .errno(let code) where Int32(code) == ENOSYS_VALUE:
            return action
        case .errno, .trap, .killThread, .killProcess:
            return replacement
        }
    }

    /// Installs `plan` in the calling thread (and everything it will start). For a plan that
    /// needs a listener, use `install(_:handingListenerTo:)`.
    public static func install(_ plan: SeccompPlan) throws(SeccompError) {
        guard !plan.needsListener else {
            throw SeccompError(
                .installFailed,
                "This seccomp filter notifies a listener (log mode or SCMP_ACT_NOTIFY), so the listener must be "
                    + "handed to a supervisor outside the sandbox: use install(_:handingListenerTo:).")
        }
        _ = try install(plan.program, flags: plan.flags)
    }

    /// Installs `plan`, whose filter notifies a listener, and sends the listener over the
    /// connected Unix socket `socket` to the supervisor (see the type's documentation).
    ///
    /// If the profile does not allow `sendmsg` unconditionally, the program is recompiled with
    /// a first check that allows `sendmsg` on `socket` alone, so the handoff cannot wait on the
    /// very listener it is handing over.
    public static func install(_ plan: SeccompPlan, handingListenerTo socket: Int32) throws(SeccompError) {
        guard plan.needsListener else {
            // Nothing to hand over: the filter never notifies.
            _ = try install(plan.program, flags: plan.flags)
            return
        }
        var program = plan.program
        let architecture = plan.installedRules.architecture
        if let sendmsg = architecture.syscalls.number(of: "sendmsg"),
            !plan.installedRules.allowsUnconditionally(sendmsg)
        {
            var rules = plan.installedRules
            rules.handoffSocket = socket
            program = try SeccompCompiler.program(for: rules)
        }
        try installAndSendListener(program, flags: plan.flags, over: socket)
    }

    /// Installs `program` with `flags`; returns the listener fd when `flags` contains
    /// `.newListener` (the caller owns it), nil otherwise.
    @discardableResult
    public static func install(
        _ program: SeccompProgram, flags: SeccompInstallFlags = []
    ) throws(SeccompError)
        -> Int32?
    {
        let result = try program.withSockFilters { (filters, count) throws(SeccompError) in
            sentinel_seccomp_install(filters, count, flags.rawValue)
        }
        guard result >= 0 else { throw installError(-result, flags: flags) }
        return flags.contains(.newListener) ? result : nil
    }

    /// Installs `program` with a new listener and sends the listener over `socket` (SCM_RIGHTS);
    /// the local copy is closed. Throws `.installFailed` or `.handoffFailed`.
    public static func installAndSendListener(
        _ program: SeccompProgram, flags: SeccompInstallFlags, over socket: Int32
    )
        throws(SeccompError)
    {
        var failedStep: Int32 = 0
        let result = try program.withSockFilters { (filters, count) throws(SeccompError) in
            sentinel_seccomp_install_and_send_listener(filters, count, flags.rawValue, socket, &failedStep)
        }
        guard result < 0 else { return }
        if failedStep == 1 { throw installError(-result, flags: flags.union(.newListener)) }
        throw SeccompError(
            .handoffFailed,
            "The seccomp filter is installed but its listener could not be sent to the supervisor over fd \(socket): "
                + "\(String(cString: strerror(-result))); the command must not run (calls the filter would notify "
                + "about have nobody to answer them).", errno: -result)
    }

    static func installError(_ code: Int32, flags: SeccompInstallFlags) -> SeccompError {
        let reason: String
        switch code {
        case EACCES:
            reason =
                "this process has neither no_new_privs nor CAP_SYS_ADMIN; set no_new_privs first "
                + "(Seccomp.setNoNewPrivileges(), which the sandbox does after dropping capabilities)"
        case EINVAL:
            reason =
                "the kernel rejected the program or the flags 0x\(String(flags.rawValue, radix: 16)) "
                + "(a malformed program, or a flag this kernel does not know)"
        case ENOMEM:
            reason =
                "the kernel is out of room for filters (all filters of a process may hold 32768 instructions "
                + "in total)"
        case EBUSY:
            reason = "another filter of this process already has a listener"
        case ENOSYS:
            reason = "this kernel was built without seccomp filtering (CONFIG_SECCOMP_FILTER)"
        case EFAULT:
            reason = "the program's memory could not be read"
        default:
            reason = String(cString: strerror(code))
        }
        return SeccompError(
            .installFailed,
            "The kernel refused the seccomp filter (\(errnoName(code))): \(reason). The command was not run.",
            errno: code)
    }

    /// `EACCES`, `EINVAL`, … for the errnos seccomp returns; the number otherwise.
    static func errnoName(_ code: Int32) -> String {
        switch code {
        case EACCES: "EACCES"
        case EINVAL: "EINVAL"
        case ENOMEM: "ENOMEM"
        case EBUSY: "EBUSY"
        case ENOSYS: "ENOSYS"
        case EFAULT: "EFAULT"
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EOPNOTSUPP: "EOPNOTSUPP"
        default: "errno \(code)"
        }
    }

    /// Sets `no_new_privs` on the calling thread (inherited by children and kept across
    /// `execve`): what lets an unprivileged process install a filter.
    public static func setNoNewPrivileges() throws(SeccompError) {
        let result = sentinel_seccomp_set_no_new_privs()
        guard result == 0 else {
            throw SeccompError(
                .noNewPrivilegesFailed,
                "prctl(PR_SET_NO_NEW_PRIVS) failed: \(String(cString: strerror(-result))); the seccomp filter "
                    + "cannot be installed without it, so the command was not run.", errno: -result)
        }
    }

    /// Whether `no_new_privs` is set on the calling thread.
    public static var noNewPrivileges: Bool {
        sentinel_seccomp_get_no_new_privs() == 1
    }

    /// Whether the calling thread runs under a seccomp filter (`PR_GET_SECCOMP` is 2).
    public static var isFiltered: Bool {
        sentinel_seccomp_get_mode() == 2
    }

    /// Whether the running kernel knows `action` (`SECCOMP_GET_ACTION_AVAIL`, Linux 4.14).
    public static func isActionAvailable(_ action: SeccompAction) -> Bool {
        sentinel_seccomp_action_available(action.returnValue & SECCOMP_RET_ACTION_FULL) == 0
    }

    /// Whether log mode can use a listener here: the kernel must know `SECCOMP_RET_USER_NOTIF`
    /// and report notification sizes (5.0), and let a listener continue a call (5.5).
    public static var userNotificationSupport: SeccompUserNotificationSupport {
        guard isActionAvailable(.notify) else {
            return .unavailable("this kernel does not offer SECCOMP_RET_USER_NOTIF (Linux 5.0)")
        }
        var sizes = seccomp_notif_sizes()
        guard sentinel_seccomp_notification_sizes(&sizes) == 0 else {
            return .unavailable("this kernel does not report seccomp notification sizes (Linux 5.0)")
        }
        // SECCOMP_USER_NOTIF_FLAG_CONTINUE has no probe of its own; it came with Linux 5.5.
        guard let kernel = KernelVersion.running else {
            return .unavailable(
                "the kernel version cannot be read, so continuing notified calls (Linux 5.5) is uncertain")
        }
        guard kernel >= KernelVersion(major: 5, minor: 5) else {
            return .unavailable("Linux \(kernel.major).\(kernel.minor) cannot let a notified call continue (Linux 5.5)")
        }
        return .available
    }
}
