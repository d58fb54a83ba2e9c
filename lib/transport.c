/* SPDX-License-Identifier: MIT */
/*
 * The part of the transport that does not depend on the backend: argument
 * checks, the choice of backend for a descriptor, and dispatch through the
 * ops table. Backends: transport-socket.c and transport-serial.c.
 */
#include "transport-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int hfx_fd_set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0)
        return -1;
    if (!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

enum hfx_status hfx_transport_errno_status(int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return HFX_INCOMPLETE;
    case EPIPE:
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
        return HFX_E_CLOSED;
    case ENOMEM:
        return HFX_E_NOMEM;
    default:
        return HFX_E_IO;
    }
}

enum hfx_status hfx_transport_wrap(int fd, enum hfx_address_kind kind,
                                   const struct hfx_transport_ops *ops, bool can_pass_fds,
                                   struct hfx_transport **out)
{
    struct hfx_transport *t;

    if (hfx_fd_set_nonblock_cloexec(fd) < 0) {
        close(fd);
        return HFX_E_IO;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        close(fd);
        return HFX_E_NOMEM;
    }
    t->ops = ops;
    t->kind = kind;
    t->fd = fd;
    t->can_pass_fds = can_pass_fds;
    *out = t;
    return HFX_OK;
}

static bool kind_valid(enum hfx_address_kind kind)
{
    return kind >= HFX_ADDR_UNIX && kind <= HFX_ADDR_FD;
}

/* Does a socket of this family fit the kind the caller claims? fd: takes any
 * stream socket; serial never is a socket. */
static bool family_fits(int family, enum hfx_address_kind kind)
{
    switch (kind) {
    case HFX_ADDR_UNIX:
        return family == AF_UNIX;
    case HFX_ADDR_TCP:
        return family == AF_INET || family == AF_INET6;
    case HFX_ADDR_VSOCK:
#ifdef HFX_HAVE_VSOCK
        return family == AF_VSOCK;
#else
        return false;
#endif
    case HFX_ADDR_FD:
        return true;
    case HFX_ADDR_SERIAL:
    default:
        return false;
    }
}

enum hfx_status hfx_transport_from_fd(int fd, enum hfx_address_kind kind,
                                      struct hfx_transport **out)
{
    struct stat st;
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int type = 0;
    socklen_t tlen = sizeof(type);

    if (out)
        *out = NULL;
    if (fd < 0)
        return HFX_E_INVALID;
    /* The descriptor is ours from here on, so every failure closes it. */
    if (!out || !kind_valid(kind) || fstat(fd, &st) < 0)
        goto invalid;
    if (!S_ISSOCK(st.st_mode)) {
        if (kind != HFX_ADDR_FD && kind != HFX_ADDR_SERIAL)
            goto invalid;
        return hfx_transport_wrap(fd, kind, &hfx_stream_ops, false, out);
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM)
        goto invalid;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || !family_fits(sa.ss_family, kind))
        goto invalid;
    return hfx_socket_wrap(fd, kind, out);

invalid:
    close(fd);
    return HFX_E_INVALID;
}

enum hfx_status hfx_transport_connect(const struct hfx_address *addr, int timeout_ms,
                                      struct hfx_transport **out)
{
    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!addr)
        return HFX_E_INVALID;
    switch (addr->kind) {
    case HFX_ADDR_UNIX:
    case HFX_ADDR_TCP:
    case HFX_ADDR_VSOCK:
        return hfx_socket_connect(addr, timeout_ms, out);
    case HFX_ADDR_SERIAL:
        return hfx_serial_open(addr->path, out);
    case HFX_ADDR_FD:
        return hfx_transport_from_fd(addr->fd, HFX_ADDR_FD, out);
    default:
        return HFX_E_ADDRESS;
    }
}

int hfx_transport_fd(const struct hfx_transport *t)
{
    return t ? t->fd : -1;
}

enum hfx_address_kind hfx_transport_kind(const struct hfx_transport *t)
{
    return t->kind;
}

bool hfx_transport_can_pass_fds(const struct hfx_transport *t)
{
    return t && t->can_pass_fds;
}

enum hfx_status hfx_transport_writev(struct hfx_transport *t, const struct iovec *iov, int n,
                                     int pass_fd, size_t *written)
{
    bool any = false;

    if (written)
        *written = 0;
    if (!t || !written || n < 0 || (n > 0 && !iov))
        return HFX_E_INVALID;
    if (pass_fd >= 0 && !t->can_pass_fds)
        return HFX_E_UNSUPPORTED;
    /* "As much as the transport takes": a longer vector is simply cut, the
     * caller comes back for the rest. */
    if (n > IOV_MAX)
        n = IOV_MAX;
    for (int i = 0; i < n && !any; i++)
        any = iov[i].iov_len > 0;
    if (!any)
        /* A descriptor travels with a byte; without one it would be lost. */
        return pass_fd >= 0 ? HFX_E_INVALID : HFX_OK;
    return t->ops->writev(t, iov, n, pass_fd, written);
}

enum hfx_status hfx_transport_read(struct hfx_transport *t, void *buf, size_t cap, size_t *got,
                                   int *fds, int *nfds)
{
    if (got)
        *got = 0;
    if (nfds)
        *nfds = 0;
    /* cap == 0 could not be told apart from end of stream. */
    if (!t || !buf || cap == 0 || !got || (fds && !nfds))
        return HFX_E_INVALID;
    return t->ops->read(t, buf, cap, got, fds, nfds);
}

void hfx_transport_free(struct hfx_transport **t)
{
    if (!t || !*t)
        return;
    if ((*t)->ops->free)
        (*t)->ops->free(*t);
    close((*t)->fd);
    free(*t);
    *t = NULL;
}
