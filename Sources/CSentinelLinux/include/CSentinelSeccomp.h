// CSentinelSeccomp: the seccomp pieces Swift cannot express. glibc 2.36 has no seccomp()
// wrapper and `syscall` is variadic; the AUDIT_ARCH_* values and the SECCOMP_IOCTL_* requests are
// composite or function-like macros that do not import; SCM_RIGHTS needs the CMSG_* macros.
// The kernel UAPI headers below import as they are (`struct sock_filter`, `struct seccomp_data`,
// `struct seccomp_notif*`, `SECCOMP_RET_*`, `BPF_*`). Every function returns a negative errno on
// failure, so the caller never has to read `errno` after Swift code has run. No policy here.

#ifndef C_SENTINEL_SECCOMP_H
#define C_SENTINEL_SECCOMP_H

#include <stdint.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

/// AUDIT_ARCH_X86_64 (a composite macro built from EM_X86_64 and the 64-bit/LE flags).
extern const uint32_t sentinel_seccomp_audit_arch_x86_64;
/// AUDIT_ARCH_AARCH64 (a composite macro built from EM_AARCH64 and the 64-bit/LE flags).
extern const uint32_t sentinel_seccomp_audit_arch_aarch64;
/// The AUDIT_ARCH value of the architecture this binary was compiled for, 0 if it is neither
/// x86-64 nor aarch64.
extern const uint32_t sentinel_seccomp_audit_arch_native;

/// `seccomp(operation, flags, args)`; glibc has no wrapper. Returns the kernel's result
/// (a listener fd, 0, …) or a negative errno.
int sentinel_seccomp(unsigned int operation, unsigned int flags, void *args);

/// Installs a filter: `seccomp(SECCOMP_SET_MODE_FILTER, flags, &{count, filter})`. Returns the
/// listener fd when `flags` has SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0; a negative errno on
/// failure (EACCES: neither no_new_privs nor CAP_SYS_ADMIN; EINVAL: the kernel rejected the
/// program or a flag; EFAULT; ENOMEM; EBUSY: another listener already exists in the chain).
int sentinel_seccomp_install(const struct sock_filter *filter, unsigned short count, unsigned int flags);

/// Installs a filter with SECCOMP_FILTER_FLAG_NEW_LISTENER added to `flags`, sends the listener
/// fd over the connected Unix socket `socket_fd` (SCM_RIGHTS, one byte of data), then closes the
/// local copy. Everything between the install and the send happens here, in C, without
/// allocating, so no system call the new filter might route to the (not yet handed over)
/// listener runs in between except the `sendmsg` itself. Returns 0, or a negative errno with
/// `*failed_step` set to 1 (install) or 2 (send; the filter is then installed and the listener
/// still open in this process, close-on-exec).
int sentinel_seccomp_install_and_send_listener(
    const struct sock_filter *filter, unsigned short count, unsigned int flags, int socket_fd, int *failed_step);

/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)`: 0 when the kernel knows the action,
/// a negative errno (EOPNOTSUPP) when it does not.
int sentinel_seccomp_action_available(uint32_t action);

/// `seccomp(SECCOMP_GET_NOTIF_SIZES, 0, sizes)`: the sizes of the notification structures this
/// kernel reads and writes (Linux 5.0). Returns 0 or a negative errno.
int sentinel_seccomp_notification_sizes(struct seccomp_notif_sizes *sizes);

/// `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)` (prctl is variadic). Returns 0 or a negative errno.
int sentinel_seccomp_set_no_new_privs(void);

/// `prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)`: 1 or 0, or a negative errno.
int sentinel_seccomp_get_no_new_privs(void);

/// `prctl(PR_GET_SECCOMP)`: 0 (no seccomp), 2 (filter mode), or a negative errno.
int sentinel_seccomp_get_mode(void);

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buffer)`; `buffer` must hold the kernel's
/// `seccomp_notif` size and be zeroed (the kernel refuses a dirty buffer with EINVAL).
/// Blocks until a notification arrives. Returns 0 or a negative errno (ENOENT: the target died
/// or was interrupted before the notification could be read; EINTR).
int sentinel_seccomp_notify_receive(int listener, void *buffer);

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response)`; `response` must hold the kernel's
/// `seccomp_notif_resp` size. Returns 0 or a negative errno (ENOENT: the notification is gone,
/// the target died or its system call was interrupted).
int sentinel_seccomp_notify_respond(int listener, const void *response);

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id)`: 0 when notification `id` is still
/// pending (its target is alive and waiting), a negative errno (ENOENT) when it is not.
int sentinel_seccomp_notify_id_valid(int listener, uint64_t id);

/// `ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, addfd)` (Linux 5.9; SECCOMP_ADDFD_FLAG_SEND 5.14):
/// installs one of our fds into the target. Returns the fd number in the target, or a negative
/// errno.
int sentinel_seccomp_notify_add_fd(int listener, const struct seccomp_notif_addfd *addfd);

/// Sends `fd` over the connected Unix socket `socket_fd` with SCM_RIGHTS and one byte of data.
/// Returns 0 or a negative errno.
int sentinel_seccomp_send_fd(int socket_fd, int fd);

/// Receives one fd sent with SCM_RIGHTS (close-on-exec). Returns the fd, or a negative errno:
/// ECONNRESET when the peer closed without sending, EBADMSG when the message carried no fd or
/// more than one (any extra fds are closed).
int sentinel_seccomp_receive_fd(int socket_fd);

/// `pipe2(fds, O_CLOEXEC | O_NONBLOCK)` (a `_GNU_SOURCE` declaration the Glibc module lacks):
/// the log listener's wake-up pipe, close-on-exec from the start so no concurrent spawn in the
/// launcher inherits it. Returns 0 or a negative errno.
int sentinel_seccomp_wake_pipe(int fds[2]);

#endif
