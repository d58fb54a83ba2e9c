/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets for unix:, tcp: and vsock:. Non-blocking: accept says
 * HFX_INCOMPLETE when nobody waits.
 */
#include "transport-private.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_BACKLOG 16

struct hfx_listener {
    enum hfx_address_kind kind;
    int fd;
    uint16_t port;
    /* unix: the socket file we created, identified by device and inode so
     * that free never removes a file someone else put there since. */
    bool created;
    dev_t dev;
    ino_t ino;
    char path[sizeof(((struct hfx_address *)0)->path)];
};

/* Is someone still accepting on the socket file at path? Only a refused
 * connect proves the file stale; anything else (accepted, backlog full) means
 * a live server we must not steal the name from. */
static bool unix_socket_alive(const struct sockaddr *sa, socklen_t len)
{
    int fd = hfx_socket_open(AF_UNIX, true);
    bool alive;

    if (fd < 0)
        return true;
    alive = connect(fd, sa, len) == 0 || errno != ECONNREFUSED;
    close(fd);
    return alive;
}

static void remove_stale(const char *path, const struct sockaddr *sa, socklen_t len)
{
    struct stat st;

    /* lstat: a symlink is not a socket, and is left alone. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && !unix_socket_alive(sa, len))
        (void)unlink(path);
}

static enum hfx_status open_unix(struct hfx_listener *l, const struct hfx_address *addr,
                                 const struct hfx_listen_options *opts, int backlog)
{
    struct sockaddr_storage sa;
    socklen_t len;
    struct stat st;
    enum hfx_status rc = hfx_socket_addr(addr, &sa, &len);

    if (rc != HFX_OK)
        return rc;
    if (opts && opts->unlink_existing)
        remove_stale(addr->path, (struct sockaddr *)&sa, len);
    l->fd = hfx_socket_open(AF_UNIX, true);
    if (l->fd < 0)
        return hfx_socket_errno_status(errno);
    if (bind(l->fd, (struct sockaddr *)&sa, len) < 0)
        return hfx_socket_errno_status(errno);
    /* From here on the file is ours: free() removes it again. */
    l->created = true;
    memcpy(l->path, addr->path, sizeof(l->path));
    if (lstat(l->path, &st) == 0) {
        l->dev = st.st_dev;
        l->ino = st.st_ino;
    }
    /* Between bind and this chmod the file has the mode 0777 & ~umask, but
     * nobody can connect yet: we have not called listen(), so a connect is
     * refused; and with a normal umask (022) nobody else has the write
     * permission a connect needs anyway. Changing the umask instead would
     * touch process-global state, which the library must not. */
    if (chmod(l->path, 0600) < 0 || listen(l->fd, backlog) < 0)
        return HFX_E_IO;
    return HFX_OK;
}

/* The port of a TCP socket's address, for hfx_listener_port; 0 for
 * another family. */
static uint16_t tcp_port(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static enum hfx_status open_tcp(struct hfx_listener *l, const struct hfx_address *addr,
                                int backlog)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char port[8];
    enum hfx_status st = HFX_E_IO;
    int one = 1;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", (unsigned)addr->port);
    rc = getaddrinfo(addr->host, port, &hints, &res);
    if (rc != 0)
        return rc == EAI_MEMORY ? HFX_E_NOMEM : HFX_E_ADDRESS;
    /* One descriptor per listener: the first address that binds wins. */
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = hfx_socket_open(ai->ai_family, true);
        if (fd < 0) {
            st = hfx_socket_errno_status(errno);
            continue;
        }
        /* A restarted daemon must not wait for old connections in
         * TIME_WAIT to let go of the port. */
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0) {
            l->fd = fd;
            st = HFX_OK;
            break;
        }
        st = hfx_socket_errno_status(errno);
        close(fd);
    }
    freeaddrinfo(res);
    if (st != HFX_OK)
        return st;
    if (getsockname(l->fd, (struct sockaddr *)&sa, &len) < 0)
        return HFX_E_IO;
    l->port = tcp_port(&sa);
    return HFX_OK;
}

static enum hfx_status open_vsock(struct hfx_listener *l, const struct hfx_address *addr,
                                  int backlog)
{
    struct sockaddr_storage sa;
    socklen_t len;
    enum hfx_status st = hfx_socket_addr(addr, &sa, &len);

    if (st != HFX_OK)
        return st;
    l->fd = hfx_socket_open(sa.ss_family, true);
    if (l->fd < 0)
        return hfx_socket_errno_status(errno);
    if (bind(l->fd, (struct sockaddr *)&sa, len) < 0 || listen(l->fd, backlog) < 0)
        return hfx_socket_errno_status(errno);
    /* The port number of a vsock address does not fit hfx_listener_port's
     * 16 bits in general; report it when it does. */
    l->port = addr->vport <= UINT16_MAX ? (uint16_t)addr->vport : 0;
    return HFX_OK;
}

enum hfx_status hfx_listener_open(const struct hfx_address *addr,
                                  const struct hfx_listen_options *opts, struct hfx_listener **out)
{
    struct hfx_listener *l;
    enum hfx_status st;
    int backlog = opts && opts->backlog > 0 ? opts->backlog : DEFAULT_BACKLOG;

    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!addr)
        return HFX_E_INVALID;
    if (addr->kind != HFX_ADDR_UNIX && addr->kind != HFX_ADDR_TCP && addr->kind != HFX_ADDR_VSOCK)
        return HFX_E_UNSUPPORTED;
    l = calloc(1, sizeof(*l));
    if (!l)
        return HFX_E_NOMEM;
    l->kind = addr->kind;
    l->fd = -1;
    if (addr->kind == HFX_ADDR_UNIX)
        st = open_unix(l, addr, opts, backlog);
    else if (addr->kind == HFX_ADDR_TCP)
        st = open_tcp(l, addr, backlog);
    else
        st = open_vsock(l, addr, backlog);
    if (st != HFX_OK) {
        hfx_listener_free(&l);
        return st;
    }
    *out = l;
    return HFX_OK;
}

enum hfx_status hfx_listener_adopt(int fd, struct hfx_listener **out)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int type = 0, listening = 0;
    socklen_t tlen = sizeof(type), alen = sizeof(listening);
    enum hfx_address_kind kind;
    struct hfx_listener *l;

    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &alen) < 0 || !listening ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return HFX_E_INVALID;
    if (sa.ss_family == AF_UNIX)
        kind = HFX_ADDR_UNIX;
    else if (sa.ss_family == AF_INET || sa.ss_family == AF_INET6)
        kind = HFX_ADDR_TCP;
#ifdef HFX_HAVE_VSOCK
    else if (sa.ss_family == AF_VSOCK)
        kind = HFX_ADDR_VSOCK;
#endif
    else
        return HFX_E_UNSUPPORTED;
    /* accept must say HFX_INCOMPLETE, not block, when nobody waits. The
     * flag is on the open file, so the socket's creator (systemd keeps a
     * copy) sees it too; its own users set it themselves (NonBlocking=). */
    if (hfx_fd_set_nonblock_cloexec(fd) < 0)
        return HFX_E_IO;
    l = calloc(1, sizeof(*l));
    if (!l)
        return HFX_E_NOMEM;
    l->kind = kind;
    l->fd = fd;
    /* Not created here: free() leaves a unix socket's file alone. */
    l->created = false;
    if (kind == HFX_ADDR_TCP)
        l->port = tcp_port(&sa);
#ifdef HFX_HAVE_VSOCK
    else if (kind == HFX_ADDR_VSOCK) {
        const struct sockaddr_vm *vm = (const struct sockaddr_vm *)&sa;
        l->port = vm->svm_port <= UINT16_MAX ? (uint16_t)vm->svm_port : 0;
    }
#endif
    *out = l;
    return HFX_OK;
}

int hfx_listener_fd(const struct hfx_listener *l)
{
    return l ? l->fd : -1;
}

uint16_t hfx_listener_port(const struct hfx_listener *l)
{
    return l ? l->port : 0;
}

static int accept_nonblock_cloexec(int lfd)
{
#if defined(__linux__)
    return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    /* No accept4 (macOS): hfx_transport_wrap sets both flags right after. */
    return accept(lfd, NULL, NULL);
#endif
}

enum hfx_status hfx_listener_accept(struct hfx_listener *l, struct hfx_transport **out)
{
    int fd;

    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!l)
        return HFX_E_INVALID;
    for (;;) {
        fd = accept_nonblock_cloexec(l->fd);
        if (fd >= 0)
            break;
        /* A client that gave up before we got to it is not our error; look
         * for the next one. */
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return HFX_INCOMPLETE;
        /* EMFILE and the like: the connection stays queued, so the caller
         * should back off rather than poll again at once. */
        return hfx_socket_errno_status(errno);
    }
    return hfx_socket_wrap(fd, l->kind, out);
}

void hfx_listener_free(struct hfx_listener **lp)
{
    struct hfx_listener *l;
    struct stat st;

    if (!lp || !*lp)
        return;
    l = *lp;
    if (l->fd >= 0)
        close(l->fd);
    if (l->created && lstat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino)
        (void)unlink(l->path);
    free(l);
    *lp = NULL;
}
