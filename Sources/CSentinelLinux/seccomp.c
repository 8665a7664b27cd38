// The seccomp shims declared in CSentinelSeccomp.h. Each returns a negative errno on failure.

#ifndef _GNU_SOURCE
#error "CSentinelLinux must be compiled with _GNU_SOURCE (see Package.swift)"
#endif
#include "CSentinelSeccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

// The Swift side mirrors these layouts; the kernel ABI has not changed them since Linux 5.0/5.9.
_Static_assert(sizeof(struct sock_filter) == 8, "struct sock_filter is 8 bytes");
_Static_assert(sizeof(struct seccomp_data) == 64, "struct seccomp_data is 64 bytes");
_Static_assert(sizeof(struct seccomp_notif) == 80, "struct seccomp_notif is 80 bytes");
_Static_assert(sizeof(struct seccomp_notif_resp) == 24, "struct seccomp_notif_resp is 24 bytes");
_Static_assert(sizeof(struct seccomp_notif_addfd) == 24, "struct seccomp_notif_addfd is 24 bytes");

#ifndef SYS_seccomp
#if defined(__x86_64__)
#define SYS_seccomp 317
#elif defined(__aarch64__)
#define SYS_seccomp 277
#endif
#endif

const uint32_t sentinel_seccomp_audit_arch_x86_64 = AUDIT_ARCH_X86_64;
const uint32_t sentinel_seccomp_audit_arch_aarch64 = AUDIT_ARCH_AARCH64;
#if defined(__x86_64__)
const uint32_t sentinel_seccomp_audit_arch_native = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
const uint32_t sentinel_seccomp_audit_arch_native = AUDIT_ARCH_AARCH64;
#else
const uint32_t sentinel_seccomp_audit_arch_native = 0;
#endif

int sentinel_seccomp(unsigned int operation, unsigned int flags, void *args) {
    long result = syscall(SYS_seccomp, operation, flags, args);
    return result < 0 ? -errno : (int)result;
}

int sentinel_seccomp_install(const struct sock_filter *filter, unsigned short count, unsigned int flags) {
    struct sock_fprog program = { .len = count, .filter = (struct sock_filter *)filter };
    return sentinel_seccomp(SECCOMP_SET_MODE_FILTER, flags, &program);
}

int sentinel_seccomp_install_and_send_listener(
    const struct sock_filter *filter, unsigned short count, unsigned int flags, int socket_fd, int *failed_step) {
    int listener = sentinel_seccomp_install(filter, count, flags | SECCOMP_FILTER_FLAG_NEW_LISTENER);
    if (listener < 0) {
        *failed_step = 1;
        return listener;
    }
    int sent = sentinel_seccomp_send_fd(socket_fd, listener);
    if (sent < 0) {
        // Not closed: with the listener unsent, a close the filter routes to it would wait for
        // an answer nobody can give. It is close-on-exec and goes when this process exits.
        *failed_step = 2;
        return sent;
    }
    close(listener);
    return 0;
}

int sentinel_seccomp_action_available(uint32_t action) {
    return sentinel_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action);
}

int sentinel_seccomp_notification_sizes(struct seccomp_notif_sizes *sizes) {
    return sentinel_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, sizes);
}

int sentinel_seccomp_set_no_new_privs(void) {
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int sentinel_seccomp_get_no_new_privs(void) {
    int result = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    return result < 0 ? -errno : result;
}

int sentinel_seccomp_get_mode(void) {
    int result = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
    return result < 0 ? -errno : result;
}

int sentinel_seccomp_notify_receive(int listener, void *buffer) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buffer) < 0 ? -errno : 0;
}

int sentinel_seccomp_notify_respond(int listener, const void *response) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response) < 0 ? -errno : 0;
}

int sentinel_seccomp_notify_id_valid(int listener, uint64_t id) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0 ? -errno : 0;
}

int sentinel_seccomp_notify_add_fd(int listener, const struct seccomp_notif_addfd *addfd) {
    int result = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, addfd);
    return result < 0 ? -errno : result;
}

int sentinel_seccomp_send_fd(int socket_fd, int fd) {
    char byte = 'L';
    struct iovec data = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr header;
        char bytes[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {
        .msg_iov = &data, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes,
    };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof fd);
    ssize_t sent;
    do {
        sent = sendmsg(socket_fd, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : 0;
}

int sentinel_seccomp_receive_fd(int socket_fd) {
    char byte;
    struct iovec data = { .iov_base = &byte, .iov_len = 1 };
    union {
        struct cmsghdr header;
        // Room for a few fds so that a peer sending more than one cannot make us leak them
        // silently: MSG_CTRUNC would drop the surplus without closing it.
        char bytes[CMSG_SPACE(sizeof(int) * 8)];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = {
        .msg_iov = &data, .msg_iovlen = 1, .msg_control = control.bytes, .msg_controllen = sizeof control.bytes,
    };
    ssize_t received;
    do {
        received = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC);
    } while (received < 0 && errno == EINTR);
    if (received < 0) return -errno;
    if (received == 0) return -ECONNRESET;

    // Exactly one fd is expected; anything else is closed and refused.
    size_t total = 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
            total += (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        }
    }
    int result = -EBADMSG;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t index = 0; index < count; index++) {
            int fd;
            memcpy(&fd, CMSG_DATA(header) + index * sizeof(int), sizeof fd);
            if (total == 1 && !(message.msg_flags & MSG_CTRUNC)) {
                result = fd;
            } else {
                close(fd);
            }
        }
    }
    return result;
}

int sentinel_seccomp_wake_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0 ? -errno : 0;
}
