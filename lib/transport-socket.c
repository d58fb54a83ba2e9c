/* SPDX-License-Identifier: MIT */
/*
 * Stream sockets: unix (with SCM_RIGHTS), tcp and vsock. Connecting is
 * bounded by a deadline; reads and writes never block.
 */
#include "transport-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/sendfd.h"

/* A write to a vanished peer must be an error code, never a SIGPIPE that
 * kills the application: MSG_NOSIGNAL per call where it exists, else
 * SO_NOSIGPIPE per socket (macOS), set in hfx_socket_open/hfx_socket_wrap. */
#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0
#endif

/* Received descriptors must not leak into children even for an instant. */
#ifdef MSG_CMSG_CLOEXEC
#define RECV_FLAGS MSG_CMSG_CLOEXEC
#else
#define RECV_FLAGS 0
#endif

/* Room for every descriptor one message can carry (Linux: SCM_MAX_FD), so
 * the kernel hands over all of them and we close those beyond
 * HFX_MAX_PASSED_FDS ourselves instead of relying on truncation. */
#define RECV_FD_ROOM 253

static void set_nosigpipe(int fd)
{
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#else
    (void)fd;
#endif
}

int hfx_socket_open(int family, bool nonblocking)
{
    int fd;
#ifdef SOCK_CLOEXEC
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
#else
    fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
        (nonblocking && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
#endif
    set_nosigpipe(fd);
    return fd;
}

enum hfx_status hfx_socket_addr(const struct hfx_address *addr, struct sockaddr_storage *sa,
                                socklen_t *len)
{
    memset(sa, 0, sizeof(*sa));
    if (addr->kind == HFX_ADDR_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)sa;
        size_t n = strnlen(addr->path, sizeof(addr->path));
        if (n == 0 || n >= sizeof(un->sun_path))
            return HFX_E_ADDRESS;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, addr->path, n + 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return HFX_OK;
    }
    if (addr->kind == HFX_ADDR_VSOCK) {
#ifdef HFX_HAVE_VSOCK
        struct sockaddr_vm *vm = (struct sockaddr_vm *)sa;
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = addr->cid;
        vm->svm_port = addr->vport;
        *len = sizeof(*vm);
        return HFX_OK;
#else
        return HFX_E_UNSUPPORTED;
#endif
    }
    return HFX_E_INVALID;
}

enum hfx_status hfx_socket_wrap(int fd, enum hfx_address_kind kind, struct hfx_transport **out)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int one = 1;

    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        close(fd);
        return HFX_E_IO;
    }
    if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6) {
        /* Messages are written whole and latency matters more than packet
         * count; keepalive finds a peer that vanished without a FIN. Both are
         * tuning only, so a failure is not fatal. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    set_nosigpipe(fd);
    return hfx_transport_wrap(fd, kind, &hfx_socket_ops, sa.ss_family == AF_UNIX, out);
}

/* ---- reading and writing ---- */

static enum hfx_status sock_writev(struct hfx_transport *t, const struct iovec *iov, int n,
                                   int pass_fd, size_t *written)
{
    ssize_t r = hfx_send_with_fd(t->fd, iov, n, pass_fd, SEND_FLAGS);

    if (r < 0)
        return hfx_transport_errno_status(errno);
    *written = (size_t)r;
    return HFX_OK;
}

/* Keep up to HFX_MAX_PASSED_FDS received descriptors for the caller (none
 * when fds is NULL) and close the rest: a peer must not be able to fill our
 * descriptor table. */
static void take_fds(struct msghdr *msg, int *fds, int *nfds)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (fds && *nfds < HFX_MAX_PASSED_FDS) {
                if (RECV_FLAGS == 0)
                    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
                fds[(*nfds)++] = fd;
            } else {
                close(fd);
            }
        }
    }
}

static enum hfx_status sock_read(struct hfx_transport *t, void *buf, size_t cap, size_t *got,
                                 int *fds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * RECV_FD_ROOM)];
        struct cmsghdr align;
    } ctl;
    struct iovec v = {.iov_base = buf, .iov_len = cap};
    struct msghdr msg;
    int dropped = 0;
    ssize_t r;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    if (t->can_pass_fds) {
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
    }
    do
        r = recvmsg(t->fd, &msg, RECV_FLAGS);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return hfx_transport_errno_status(errno);
    if (t->can_pass_fds)
        take_fds(&msg, fds, fds ? nfds : &dropped);
    if (r == 0)
        return HFX_E_CLOSED;
    *got = (size_t)r;
    return HFX_OK;
}

const struct hfx_transport_ops hfx_socket_ops = {
    .writev = sock_writev,
    .read = sock_read,
    .free = NULL,
};

/* ---- connecting ---- */

/* Milliseconds left until deadline (< 0: none), for poll: -1 = no limit. */
static int remaining_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - hfx_clock_ms();
    if (left <= 0)
        return 0;
    return left > 1000000000 ? 1000000000 : (int)left;
}

enum hfx_status hfx_socket_errno_status(int err)
{
    switch (err) {
    case ETIMEDOUT:
        return HFX_E_TIMEOUT;
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
        return HFX_E_UNSUPPORTED;
    case ENOMEM:
    case ENOBUFS:
        return HFX_E_NOMEM;
    default:
        /* ECONNREFUSED, ENOENT, EACCES, ENETUNREACH, EHOSTUNREACH on connect,
         * EADDRINUSE, EADDRNOTAVAIL on bind: nothing wrong with the address
         * text, but not possible now; the caller may retry later. */
        return HFX_E_IO;
    }
}

/* A unix connect completes at once or waits only while the listener's
 * backlog is full, and then only in a blocking connect, bounded by
 * SO_SNDTIMEO (Linux); a non-blocking one would just fail with EAGAIN. The
 * socket becomes non-blocking in hfx_transport_wrap afterwards, where the
 * send timeout no longer applies. */
static enum hfx_status connect_unix(const struct sockaddr *sa, socklen_t len, int64_t deadline,
                                    int *out_fd)
{
    int fd = hfx_socket_open(AF_UNIX, false);
    if (fd < 0)
        return hfx_socket_errno_status(errno);
    for (;;) {
        int ms = remaining_ms(deadline);
        if (ms >= 0) {
            /* 0 would mean "no limit" to SO_SNDTIMEO: use the shortest. */
            struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
            if (ms == 0)
                tv.tv_usec = 1;
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        if (connect(fd, sa, len) == 0)
            break;
        int err = errno;
        if (err == EINTR)
            continue;
        close(fd);
        return err == EAGAIN ? HFX_E_TIMEOUT : hfx_socket_errno_status(err);
    }
    *out_fd = fd;
    return HFX_OK;
}

/* TCP and vsock: a non-blocking connect, then poll for completion. */
static enum hfx_status connect_inet(const struct sockaddr *sa, socklen_t len, int64_t deadline,
                                    int *out_fd)
{
    int fd = hfx_socket_open(sa->sa_family, true);
    int err = 0;
    socklen_t elen = sizeof(err);

    if (fd < 0)
        return hfx_socket_errno_status(errno);
    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            err = errno;
            close(fd);
            return hfx_socket_errno_status(err);
        }
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r = poll(&p, 1, remaining_ms(deadline));
            if (r > 0)
                break;
            if (r == 0 || errno != EINTR) {
                close(fd);
                return r == 0 ? HFX_E_TIMEOUT : HFX_E_IO;
            }
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            err = errno;
        if (err != 0) {
            close(fd);
            return hfx_socket_errno_status(err);
        }
    }
    *out_fd = fd;
    return HFX_OK;
}

static enum hfx_status gai_status(int rc)
{
    switch (rc) {
    case EAI_NONAME:
    case EAI_SERVICE:
    case EAI_FAIL:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
        return HFX_E_ADDRESS;
    case EAI_MEMORY:
        return HFX_E_NOMEM;
    case EAI_FAMILY:
        return HFX_E_UNSUPPORTED;
    default:
        /* EAI_AGAIN and friends: the resolver may answer later. */
        return HFX_E_IO;
    }
}

/* Try every address the name resolves to, in the resolver's order, until
 * one connects or the deadline passes. */
static enum hfx_status connect_tcp(const struct hfx_address *addr, int64_t deadline,
                                   int *out_fd)
{
    struct addrinfo hints, *res = NULL;
    char port[8];
    enum hfx_status st = HFX_E_IO;
    int rc;

    if (addr->port == 0)
        return HFX_E_ADDRESS;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)addr->port);
    rc = getaddrinfo(addr->host, port, &hints, &res);
    if (rc != 0)
        return gai_status(rc);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        st = connect_inet(ai->ai_addr, ai->ai_addrlen, deadline, out_fd);
        if (st == HFX_OK || st == HFX_E_TIMEOUT || st == HFX_E_NOMEM)
            break;
    }
    freeaddrinfo(res);
    return st;
}

enum hfx_status hfx_socket_connect(const struct hfx_address *addr, int timeout_ms,
                                   struct hfx_transport **out)
{
    int64_t deadline = timeout_ms < 0 ? -1 : hfx_clock_ms() + timeout_ms;
    struct sockaddr_storage sa;
    socklen_t len = 0;
    enum hfx_status st;
    int fd = -1;

    if (addr->kind == HFX_ADDR_TCP) {
        st = connect_tcp(addr, deadline, &fd);
    } else {
        st = hfx_socket_addr(addr, &sa, &len);
        if (st != HFX_OK)
            return st;
        if (addr->kind == HFX_ADDR_UNIX)
            st = connect_unix((struct sockaddr *)&sa, len, deadline, &fd);
        else
            st = connect_inet((struct sockaddr *)&sa, len, deadline, &fd);
    }
    if (st != HFX_OK)
        return st;
    return hfx_socket_wrap(fd, addr->kind, out);
}
