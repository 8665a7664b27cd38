// The shipped seccomp profiles, built in, so `sentinel-isolate` works from any directory: when
// `./seccomp/<name>.json` is not there, the default profiles come from here. A test keeps these
// texts identical to the files in `seccomp/`.

/// The built-in copies of `seccomp/sentinel-seccomp.json` and `seccomp/sentinel-seccomp-datasci.json`.
public enum BuiltinSeccompProfiles {
    /// The text of `seccomp/sentinel-seccomp.json`.
    public static let strict = #"""
{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [
        {
            "comment": "Sentinel strict profile: an allowlist of what Python 3, Node 20, gcc, git and coreutils use (strace -f -c), plus harmless relatives. Allowed on every architecture.",
            "names": [
                "accept", "accept4", "bind", "brk", "cachestat", "capget", "capset", "chdir",
                "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
                "connect", "copy_file_range", "dup", "dup3", "epoll_create1", "epoll_ctl",
                "epoll_pwait", "epoll_pwait2", "eventfd2", "execve", "execveat", "exit",
                "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
                "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "file_getattr",
                "file_setattr", "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat",
                "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
                "futex_waitv", "futex_wake", "get_mempolicy", "get_robust_list", "getcpu", "getcwd",
                "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer",
                "getpeername", "getpgid", "getpid", "getppid", "getpriority", "getrandom",
                "getresgid", "getresuid", "getrlimit", "getrusage", "getsid", "getsockname",
                "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
                "inotify_add_watch", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
                "io_getevents", "io_pgetevents", "io_setup", "io_submit", "ioprio_get", "kill",
                "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
                "lgetxattr", "linkat", "listen", "listmount", "listxattr", "listxattrat",
                "llistxattr", "lremovexattr", "lseek", "lsetxattr", "madvise", "map_shadow_stack",
                "memfd_create", "mincore", "mlock", "mmap", "mprotect", "mq_getsetattr",
                "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend", "mq_unlink", "mremap",
                "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munmap",
                "name_to_handle_at", "nanosleep", "newfstatat", "pidfd_open", "pidfd_send_signal",
                "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "ppoll", "prctl", "pread64",
                "preadv", "preadv2", "prlimit64", "pselect6", "pwrite64", "pwritev", "pwritev2",
                "read", "readahead", "readlinkat", "readv", "recvfrom", "recvmmsg", "recvmsg",
                "removexattr", "removexattrat", "renameat", "renameat2", "restart_syscall", "rseq",
                "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
                "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_tgsigqueueinfo",
                "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
                "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
                "sched_yield", "seccomp", "semctl", "semget", "semop", "semtimedop", "sendfile",
                "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_tid_address", "setfsgid",
                "setfsuid", "setgid", "setgroups", "setitimer", "setpgid", "setpriority",
                "setregid", "setresgid", "setresuid", "setreuid", "setrlimit", "setsid",
                "setsockopt", "setuid", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt",
                "shmget", "shutdown", "sigaltstack", "signalfd4", "socketpair", "splice", "statfs",
                "statmount", "statx", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo",
                "tee", "tgkill", "timer_create", "timer_delete", "timer_getoverrun",
                "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
                "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlinkat",
                "utimensat", "vmsplice", "wait4", "waitid", "write", "writev"
            ],
            "action": "SCMP_ACT_ALLOW"
        },
        {
            "comment": "x86-64 system calls aarch64 does not have (older forms of the calls above, and arch_prctl, which the dynamic loader needs to set up thread-local storage).",
            "names": [
                "access", "alarm", "arch_prctl", "chown", "dup2", "epoll_create", "epoll_wait",
                "eventfd", "fork", "futimesat", "get_thread_area", "getdents", "getpgrp",
                "inotify_init", "lchown", "link", "lstat", "pause", "pipe", "poll", "readlink",
                "rename", "rmdir", "select", "set_thread_area", "signalfd", "stat", "symlink",
                "time", "unlink", "utime", "utimes", "vfork"
            ],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "clone without namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 0x7e020000): fork and threads.",
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWNS.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWCGROUP.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 33554432, "valueTwo": 33554432, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWUTS.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 67108864, "valueTwo": 67108864, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWIPC.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 134217728, "valueTwo": 134217728, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWUSER.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWPID.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWNET.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 1073741824, "valueTwo": 1073741824, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "clone3 passes its flags in memory a filter cannot read; ENOSYS makes glibc (2.34+) fall back to clone, whose flags are checked above.",
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38
        },
        {
            "comment": "namespace creation and joining.",
            "names": ["setns", "unshare"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "the mount family and chroot: a new mount tree could undo the sandbox's read-only binds.",
            "names": [
                "chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
                "move_mount", "open_tree", "open_tree_attr", "pivot_root", "umount2"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "changing other processes, or comparing their descriptors.",
            "names": ["kcmp", "process_madvise", "process_vm_writev"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "ptrace PTRACE_SEIZE (attach to the command it starts): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16902, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_CONT (resume a stopped process, passing its signal on): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 7, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_LISTEN (leave a process in its job-control stop): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16904, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_GETEVENTMSG (learn a new process's id, or an exec's former thread id): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16897, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_DETACH (let a process go): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 17, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_INTERRUPT (stop a process): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16903, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_SETOPTIONS (set the events it follows): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16896, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "reading another process's memory and copying its descriptors: `sentinel guard`, the container's entrypoint, reads the arguments of the calls it decides this way. The kernel's ptrace access check still applies (same uid and a dumpable target; Sentinel's supervisors are not dumpable), the sandbox's PID namespace holds only its own processes, and the guard refuses both calls to the command it runs.",
            "names": ["pidfd_getfd", "process_vm_readv"],
            "action": "SCMP_ACT_ALLOW"
        },
        {
            "comment": "kernel attack surface: eBPF, perf events, userfaultfd (race widening) and io_uring (its operations bypass every filter here).",
            "names": [
                "bpf", "io_uring_enter", "io_uring_register", "io_uring_setup", "perf_event_open",
                "userfaultfd"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "kernel keyrings (not namespaced).",
            "names": ["add_key", "keyctl", "request_key"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "loading kernels and modules.",
            "names": [
                "delete_module", "finit_module", "init_module", "kexec_file_load", "kexec_load"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "system administration (Docker allows these only with capabilities the sandbox never has).",
            "names": [
                "acct", "adjtimex", "clock_adjtime", "clock_settime", "fanotify_init",
                "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
                "nfsservctl", "open_by_handle_at", "quotactl", "quotactl_fd", "reboot",
                "setdomainname", "sethostname", "settimeofday", "swapoff", "swapon", "syslog",
                "vhangup"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "x86-64 legacy and hardware access: LDT, I/O ports, obsolete calls.",
            "names": [
                "_sysctl", "afs_syscall", "create_module", "get_kernel_syms", "getpmsg", "ioperm",
                "iopl", "modify_ldt", "putpmsg", "query_module", "security", "sysfs", "tuxcall",
                "uselib", "ustat", "vserver"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "socket: AF_UNIX.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_INET.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_INET6.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_NETLINK with NETLINK_ROUTE (0), the routing reads getaddrinfo and ip(8) do.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_NETLINK with any other protocol (audit, netfilter, uevents, ...).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_NE"}
            ]
        },
        {
            "comment": "socket: AF_ALG, the kernel crypto API (a recurring source of kernel bugs).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 38, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_VSOCK, a channel to the hypervisor and other VMs. Families not named here fall to the default (EPERM).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX32 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality UNAME26 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 131072, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX32|UNAME26 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 131080, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality query (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 4294967295, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ioctl unless the request's low 32 bits are TIOCSTI (0x5412) or TIOCLINUX (0x541c), as a union of rules that each exclude both: Docker's format has no masked not-equal and compares an argument once per rule, and only the low 32 bits are compared because the kernel reads the request as 32 bits. This one: bit 0 differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 4 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 5 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 32, "valueTwo": 32, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 6 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 7 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 128, "valueTwo": 128, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 8 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 256, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 9 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 512, "valueTwo": 512, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 10 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 11 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 12 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4096, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 13 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 8192, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 14 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16384, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 15 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 32768, "valueTwo": 32768, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 16 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 65536, "valueTwo": 65536, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 17 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 18 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 262144, "valueTwo": 262144, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 19 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 524288, "valueTwo": 524288, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 20 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1048576, "valueTwo": 1048576, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 21 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2097152, "valueTwo": 2097152, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 22 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 23 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 8388608, "valueTwo": 8388608, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 24 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16777216, "valueTwo": 16777216, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 25 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 33554432, "valueTwo": 33554432, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 26 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 67108864, "valueTwo": 67108864, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 27 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 134217728, "valueTwo": 134217728, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 28 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 29 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 30 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1073741824, "valueTwo": 1073741824, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 31 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2147483648, "valueTwo": 2147483648, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 2 (where the two requests differ) are 0 and 0, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 6, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 2 (where the two requests differ) are 1 and 1, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 6, "valueTwo": 6, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 3 (where the two requests differ) are 1 and 1, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 10, "valueTwo": 10, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 3 (where the two requests differ) are 0 and 0, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl TIOCSTI: pushing input into the terminal (typing commands into the user's shell).",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl TIOCLINUX: console selection paste, the same attack on a Linux console.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4294967295, "valueTwo": 21532, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "openat2 passes its flags and mode in memory a filter cannot read, so a set-id mode could not be refused; ENOSYS makes programs fall back to openat, whose mode is checked below (runc answers calls newer than a profile with ENOSYS too). Sentinel's own openat2 users walk the path with openat instead.",
            "names": ["openat2"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38
        },
        {
            "comment": "fchmod with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "fchmodat, fchmodat2 (6.6), mkdirat and mknodat with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "chmod, creat, mkdir and mknod (x86-64) with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "openat that creates nothing (flags & (O_CREAT|__O_TMPFILE) == 0): the kernel ignores the mode then, whatever the register holds.",
            "names": ["openat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 4194368, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "openat that creates, with a mode that has neither S_ISUID nor S_ISGID.",
            "names": ["openat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 3, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "open (x86-64) that creates nothing (flags & (O_CREAT|__O_TMPFILE) == 0): the kernel ignores the mode then, whatever the register holds.",
            "names": ["open"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4194368, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "open (x86-64) that creates, with a mode that has neither S_ISUID nor S_ISGID.",
            "names": ["open"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: fchmod with S_ISUID in the mode.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmod with S_ISGID in the mode.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmodat, fchmodat2 (6.6), mkdirat and mknodat with S_ISUID in the mode.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmodat, fchmodat2 (6.6), mkdirat and mknodat with S_ISGID in the mode.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: chmod, creat, mkdir and mknod (x86-64) with S_ISUID in the mode.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: chmod, creat, mkdir and mknod (x86-64) with S_ISGID in the mode.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: openat with O_CREAT and S_ISUID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_CREAT and S_ISGID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_TMPFILE and S_ISUID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_TMPFILE and S_ISGID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: open (x86-64) with O_CREAT and S_ISUID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_CREAT and S_ISGID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_TMPFILE and S_ISUID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_TMPFILE and S_ISGID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        }
    ]
}

"""#

    /// The text of `seccomp/sentinel-seccomp-datasci.json`.
    public static let datasci = #"""
{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [
        {
            "comment": "Sentinel datasci profile: the strict profile plus NUMA placement, membarrier, memory locking and scheduler tuning for numeric workloads; every deny of the strict profile is kept. Allowed on every architecture.",
            "names": [
                "accept", "accept4", "bind", "brk", "cachestat", "capget", "capset", "chdir",
                "clock_getres", "clock_gettime", "clock_nanosleep", "close", "close_range",
                "connect", "copy_file_range", "dup", "dup3", "epoll_create1", "epoll_ctl",
                "epoll_pwait", "epoll_pwait2", "eventfd2", "execve", "execveat", "exit",
                "exit_group", "faccessat", "faccessat2", "fadvise64", "fallocate", "fchdir",
                "fchown", "fchownat", "fcntl", "fdatasync", "fgetxattr", "file_getattr",
                "file_setattr", "flistxattr", "flock", "fremovexattr", "fsetxattr", "fstat",
                "fstatfs", "fsync", "ftruncate", "futex", "futex_requeue", "futex_wait",
                "futex_waitv", "futex_wake", "get_mempolicy", "get_robust_list", "getcpu", "getcwd",
                "getdents64", "getegid", "geteuid", "getgid", "getgroups", "getitimer",
                "getpeername", "getpgid", "getpid", "getppid", "getpriority", "getrandom",
                "getresgid", "getresuid", "getrlimit", "getrusage", "getsid", "getsockname",
                "getsockopt", "gettid", "gettimeofday", "getuid", "getxattr", "getxattrat",
                "inotify_add_watch", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
                "io_getevents", "io_pgetevents", "io_setup", "io_submit", "ioprio_get",
                "ioprio_set", "kill", "landlock_add_rule", "landlock_create_ruleset",
                "landlock_restrict_self", "lgetxattr", "linkat", "listen", "listmount", "listxattr",
                "listxattrat", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "madvise",
                "map_shadow_stack", "mbind", "membarrier", "memfd_create", "migrate_pages",
                "mincore", "mlock", "mlock2", "mlockall", "mmap", "move_pages", "mprotect",
                "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedsend",
                "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync",
                "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat",
                "pidfd_open", "pidfd_send_signal", "pipe2", "pkey_alloc", "pkey_free",
                "pkey_mprotect", "ppoll", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
                "pselect6", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlinkat",
                "readv", "recvfrom", "recvmmsg", "recvmsg", "removexattr", "removexattrat",
                "renameat", "renameat2", "restart_syscall", "rseq", "rt_sigaction", "rt_sigpending",
                "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
                "rt_sigtimedwait", "rt_tgsigqueueinfo", "sched_get_priority_max",
                "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
                "sched_getscheduler", "sched_rr_get_interval", "sched_setaffinity", "sched_setattr",
                "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "semctl",
                "semget", "semop", "semtimedop", "sendfile", "sendmmsg", "sendmsg", "sendto",
                "set_mempolicy", "set_mempolicy_home_node", "set_robust_list", "set_tid_address",
                "setfsgid", "setfsuid", "setgid", "setgroups", "setitimer", "setpgid",
                "setpriority", "setregid", "setresgid", "setresuid", "setreuid", "setrlimit",
                "setsid", "setsockopt", "setuid", "setxattr", "setxattrat", "shmat", "shmctl",
                "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd4", "socketpair", "splice",
                "statfs", "statmount", "statx", "symlinkat", "sync", "sync_file_range", "syncfs",
                "sysinfo", "tee", "tgkill", "timer_create", "timer_delete", "timer_getoverrun",
                "timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime",
                "timerfd_settime", "times", "tkill", "truncate", "umask", "uname", "unlinkat",
                "utimensat", "vmsplice", "wait4", "waitid", "write", "writev"
            ],
            "action": "SCMP_ACT_ALLOW"
        },
        {
            "comment": "x86-64 system calls aarch64 does not have (older forms of the calls above, and arch_prctl, which the dynamic loader needs to set up thread-local storage).",
            "names": [
                "access", "alarm", "arch_prctl", "chown", "dup2", "epoll_create", "epoll_wait",
                "eventfd", "fork", "futimesat", "get_thread_area", "getdents", "getpgrp",
                "inotify_init", "lchown", "link", "lstat", "pause", "pipe", "poll", "readlink",
                "rename", "rmdir", "select", "set_thread_area", "signalfd", "stat", "symlink",
                "time", "unlink", "utime", "utimes", "vfork"
            ],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "clone without namespace flags (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET = 0x7e020000): fork and threads.",
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWNS.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWCGROUP.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 33554432, "valueTwo": 33554432, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWUTS.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 67108864, "valueTwo": 67108864, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWIPC.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 134217728, "valueTwo": 134217728, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWUSER.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWPID.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "namespace creation: clone with CLONE_NEWNET.",
            "names": ["clone"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 1073741824, "valueTwo": 1073741824, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "clone3 passes its flags in memory a filter cannot read; ENOSYS makes glibc (2.34+) fall back to clone, whose flags are checked above.",
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38
        },
        {
            "comment": "namespace creation and joining.",
            "names": ["setns", "unshare"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "the mount family and chroot: a new mount tree could undo the sandbox's read-only binds.",
            "names": [
                "chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
                "move_mount", "open_tree", "open_tree_attr", "pivot_root", "umount2"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "changing other processes, or comparing their descriptors.",
            "names": ["kcmp", "process_madvise", "process_vm_writev"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "ptrace PTRACE_SEIZE (attach to the command it starts): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16902, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_CONT (resume a stopped process, passing its signal on): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 7, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_LISTEN (leave a process in its job-control stop): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16904, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_GETEVENTMSG (learn a new process's id, or an exec's former thread id): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16897, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_DETACH (let a process go): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 17, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_INTERRUPT (stop a process): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16903, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ptrace PTRACE_SETOPTIONS (set the events it follows): `sentinel guard`'s tracer verifies every exec at its exec stop (issue 13). Only the tracer's requests are allowed; none reads or writes memory or registers, every other request gets the default EPERM, and the guard refuses ptrace to the command it runs.",
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16896, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "reading another process's memory and copying its descriptors: `sentinel guard`, the container's entrypoint, reads the arguments of the calls it decides this way. The kernel's ptrace access check still applies (same uid and a dumpable target; Sentinel's supervisors are not dumpable), the sandbox's PID namespace holds only its own processes, and the guard refuses both calls to the command it runs.",
            "names": ["pidfd_getfd", "process_vm_readv"],
            "action": "SCMP_ACT_ALLOW"
        },
        {
            "comment": "kernel attack surface: eBPF, perf events, userfaultfd (race widening) and io_uring (its operations bypass every filter here).",
            "names": [
                "bpf", "io_uring_enter", "io_uring_register", "io_uring_setup", "perf_event_open",
                "userfaultfd"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "kernel keyrings (not namespaced).",
            "names": ["add_key", "keyctl", "request_key"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "loading kernels and modules.",
            "names": [
                "delete_module", "finit_module", "init_module", "kexec_file_load", "kexec_load"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "system administration (Docker allows these only with capabilities the sandbox never has).",
            "names": [
                "acct", "adjtimex", "clock_adjtime", "clock_settime", "fanotify_init",
                "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
                "nfsservctl", "open_by_handle_at", "quotactl", "quotactl_fd", "reboot",
                "setdomainname", "sethostname", "settimeofday", "swapoff", "swapon", "syslog",
                "vhangup"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1
        },
        {
            "comment": "x86-64 legacy and hardware access: LDT, I/O ports, obsolete calls.",
            "names": [
                "_sysctl", "afs_syscall", "create_module", "get_kernel_syms", "getpmsg", "ioperm",
                "iopl", "modify_ldt", "putpmsg", "query_module", "security", "sysfs", "tuxcall",
                "uselib", "ustat", "vserver"
            ],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "socket: AF_UNIX.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_INET.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_INET6.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_NETLINK with NETLINK_ROUTE (0), the routing reads getaddrinfo and ip(8) do.",
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_NETLINK with any other protocol (audit, netfilter, uevents, ...).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_NE"}
            ]
        },
        {
            "comment": "socket: AF_ALG, the kernel crypto API (a recurring source of kernel bugs).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 38, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "socket: AF_VSOCK, a channel to the hypervisor and other VMs. Families not named here fall to the default (EPERM).",
            "names": ["socket"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX32 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality UNAME26 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 131072, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality PER_LINUX32|UNAME26 (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 131080, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "personality query (the values Docker allows).",
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 4294967295, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
            ]
        },
        {
            "comment": "ioctl unless the request's low 32 bits are TIOCSTI (0x5412) or TIOCLINUX (0x541c), as a union of rules that each exclude both: Docker's format has no masked not-equal and compares an argument once per rule, and only the low 32 bits are compared because the kernel reads the request as 32 bits. This one: bit 0 differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 4 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 5 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 32, "valueTwo": 32, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 6 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 7 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 128, "valueTwo": 128, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 8 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 256, "valueTwo": 256, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 9 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 512, "valueTwo": 512, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 10 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 11 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 12 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4096, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 13 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 8192, "valueTwo": 8192, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 14 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16384, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 15 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 32768, "valueTwo": 32768, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 16 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 65536, "valueTwo": 65536, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 17 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 131072, "valueTwo": 131072, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 18 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 262144, "valueTwo": 262144, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 19 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 524288, "valueTwo": 524288, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 20 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1048576, "valueTwo": 1048576, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 21 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2097152, "valueTwo": 2097152, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 22 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 23 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 8388608, "valueTwo": 8388608, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 24 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 16777216, "valueTwo": 16777216, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 25 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 33554432, "valueTwo": 33554432, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 26 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 67108864, "valueTwo": 67108864, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 27 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 134217728, "valueTwo": 134217728, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 28 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 268435456, "valueTwo": 268435456, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 29 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 536870912, "valueTwo": 536870912, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 30 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 1073741824, "valueTwo": 1073741824, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bit 31 of the request differs from both.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 2147483648, "valueTwo": 2147483648, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 2 (where the two requests differ) are 0 and 0, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 6, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 2 (where the two requests differ) are 1 and 1, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 6, "valueTwo": 6, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 3 (where the two requests differ) are 1 and 1, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 10, "valueTwo": 10, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl: bits 1 and 3 (where the two requests differ) are 0 and 0, a pattern neither has.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 10, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl TIOCSTI: pushing input into the terminal (typing commands into the user's shell).",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4294967295, "valueTwo": 21522, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "ioctl TIOCLINUX: console selection paste, the same attack on a Linux console.",
            "names": ["ioctl"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4294967295, "valueTwo": 21532, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "openat2 passes its flags and mode in memory a filter cannot read, so a set-id mode could not be refused; ENOSYS makes programs fall back to openat, whose mode is checked below (runc answers calls newer than a profile with ENOSYS too). Sentinel's own openat2 users walk the path with openat instead.",
            "names": ["openat2"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38
        },
        {
            "comment": "fchmod with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "fchmodat, fchmodat2 (6.6), mkdirat and mknodat with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "chmod, creat, mkdir and mknod (x86-64) with a mode that has neither S_ISUID nor S_ISGID (mode & 06000 == 0): the workspace and read-write binds are the host's: a set-user-id or set-group-id file left there runs with its owner's ids (root's, for a root caller's idmapped workspace) for whoever starts it on the host.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "openat that creates nothing (flags & (O_CREAT|__O_TMPFILE) == 0): the kernel ignores the mode then, whatever the register holds.",
            "names": ["openat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 4194368, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "openat that creates, with a mode that has neither S_ISUID nor S_ISGID.",
            "names": ["openat"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 3, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "open (x86-64) that creates nothing (flags & (O_CREAT|__O_TMPFILE) == 0): the kernel ignores the mode then, whatever the register holds.",
            "names": ["open"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 1, "value": 4194368, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "open (x86-64) that creates, with a mode that has neither S_ISUID nor S_ISGID.",
            "names": ["open"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 2, "value": 3072, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: fchmod with S_ISUID in the mode.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmod with S_ISGID in the mode.",
            "names": ["fchmod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmodat, fchmodat2 (6.6), mkdirat and mknodat with S_ISUID in the mode.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: fchmodat, fchmodat2 (6.6), mkdirat and mknodat with S_ISGID in the mode.",
            "names": ["fchmodat", "fchmodat2", "mkdirat", "mknodat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: chmod, creat, mkdir and mknod (x86-64) with S_ISUID in the mode.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: chmod, creat, mkdir and mknod (x86-64) with S_ISGID in the mode.",
            "names": ["chmod", "creat", "mkdir", "mknod"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: openat with O_CREAT and S_ISUID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_CREAT and S_ISGID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_TMPFILE and S_ISUID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: openat with O_TMPFILE and S_ISGID in the mode.",
            "names": ["openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 2, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 3, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ]
        },
        {
            "comment": "set-id file: open (x86-64) with O_CREAT and S_ISUID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_CREAT and S_ISGID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 64, "valueTwo": 64, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_TMPFILE and S_ISUID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        },
        {
            "comment": "set-id file: open (x86-64) with O_TMPFILE and S_ISGID in the mode.",
            "names": ["open"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 1,
            "args": [
                {"index": 1, "value": 4194304, "valueTwo": 4194304, "op": "SCMP_CMP_MASKED_EQ"},
                {"index": 2, "value": 1024, "valueTwo": 1024, "op": "SCMP_CMP_MASKED_EQ"}
            ],
            "includes": {"arches": ["amd64"]}
        }
    ]
}

"""#

    /// The built-in text for a profile name (`strict`, `datasci`), or nil.
    public static func text(named name: String) -> String? {
        switch name {
        case "strict": strict
        case "datasci": datasci
        default: nil
        }
    }
}
