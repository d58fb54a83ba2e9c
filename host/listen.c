/* SPDX-License-Identifier: MIT */
/*
 * Where the server's connections come from (include/hfx/server.h):
 * listeners it opens, listening sockets someone else made (fd:N, a
 * supervisor's, checked and described for the log), connections handed
 * over whole (serial:, a connected fd:, hfx_server_add_transport), and
 * the region 0 a listener gives its connections (docs/protocol.md §7.1).
 * Accepting is the loop's (server.c; host/server-private.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/vm_sockets.h>
#endif

#include "server-private.h"
#include "util/text.h"

/* fd:N may be a listening socket handed over by a supervisor, or one
 * connected stream. */
static bool is_listening_socket(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* What a descriptor is, for the log line that refuses it as a listener. */
static void describe_unfit(int fd, char *out, size_t cap)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int type = 0, listening = 0;
    socklen_t tlen = sizeof(type), alen = sizeof(listening);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
        snprintf(out, cap, "%s", errno == ENOTSOCK ? "not a socket" : strerror(errno));
    } else if (type != SOCK_STREAM) {
        snprintf(out, cap, "a %s socket",
                 type == SOCK_DGRAM       ? "datagram"
                 : type == SOCK_SEQPACKET ? "seqpacket"
                                          : "non-stream");
    } else if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &alen) == 0 && !listening) {
        snprintf(out, cap, "a stream socket that is not listening");
    } else if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
        snprintf(out, cap, "a socket of address family %d", (int)sa.ss_family);
    } else {
        snprintf(out, cap, "%s", strerror(errno));
    }
}

/* Whether a numeric host (inet_ntop's text) is loopback, by libhfx's
 * rule for tcp: addresses. */
static bool host_is_loopback(const char *host)
{
    struct hfx_address a = {.kind = HFX_ADDR_TCP};

    return hfx_text_format(a.host, sizeof(a.host), "%s", host) && hfx_address_is_loopback(&a);
}

/* The address a listening socket is bound to, as address text (unix:PATH,
 * tcp:HOST:PORT, vsock:CID:PORT), for the log; and whether it is a TCP
 * address that is not loopback (0.0.0.0 and :: are not). */
static void describe_bound(int fd, char *out, size_t cap, bool *beyond_loopback)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN] = "?";

    *beyond_loopback = false;
    memset(&sa, 0, sizeof(sa));
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        snprintf(out, cap, "fd %d", fd);
        return;
    }
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, cap, "tcp:%s:%u", host, ntohs(in->sin_port));
        *beyond_loopback = !host_is_loopback(host);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
        *beyond_loopback = !host_is_loopback(host);
#if defined(__linux__) && defined(AF_VSOCK) /* as transport-private.h: Linux's vsock only */
    } else if (sa.ss_family == AF_VSOCK) {
        const struct sockaddr_vm *vm = (const struct sockaddr_vm *)&sa;
        snprintf(out, cap, "vsock:%u:%u", vm->svm_cid, vm->svm_port);
#endif
    } else if (sa.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&sa;
        size_t n = len > offsetof(struct sockaddr_un, sun_path)
                       ? len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
        /* An abstract name starts with a NUL and is not text. */
        if (n == 0 || un->sun_path[0] == '\0')
            snprintf(out, cap, "unix socket (fd %d)", fd);
        else
            snprintf(out, cap, "unix:%.*s", (int)strnlen(un->sun_path, n), un->sun_path);
    } else {
        snprintf(out, cap, "fd %d", fd);
    }
}

static void add_listener(struct hfx_server *s, struct hfx_listener *l, struct shm_region *shared)
{
    s->listener_shared[s->nlisteners] = shared ? shm_region_ref(shared) : NULL;
    s->listeners[s->nlisteners++] = l;
}

/* A listening socket someone else made (fd:N, hfx_server_listen_fd),
 * checked: *out gets the listener, bound the address it is bound to (for
 * the log). fd is taken over, closed on failure too. what names it in the
 * log. */
static enum hfx_status adopt_checked(struct hfx_server *s, int fd, const char *what,
                                     struct hfx_listener **out, char *bound, size_t cap)
{
    struct hfx_listener *l = NULL;
    char why[96];
    bool beyond_loopback;
    enum hfx_status st;

    if (s->nlisteners == MAX_LISTENERS) {
        server_log(s, HFX_LOG_ERROR, "%s: at most %d listeners", what, MAX_LISTENERS);
        close(fd);
        return HFX_E_TOO_LARGE;
    }
    st = hfx_listener_adopt(fd, &l);
    if (st != HFX_OK) {
        describe_unfit(fd, why, sizeof(why));
        server_log(s, HFX_LOG_ERROR,
                   "%s is not a listening stream socket (unix, tcp or vsock): %s", what, why);
        close(fd);
        return st;
    }
    /* The token rule holds whoever bound the socket (docs/security.md,
     * "Authentication and local sockets"). */
    describe_bound(fd, bound, cap, &beyond_loopback);
    if (beyond_loopback && !s->token) {
        server_log(s, HFX_LOG_ERROR,
                   "refusing to listen on %s (%s): a non-loopback address needs a token", what,
                   bound);
        hfx_listener_free(&l);
        return HFX_E_AUTH;
    }
    *out = l;
    return HFX_OK;
}

/* A listener a supervisor passed (adopt_checked), with its region 0 (may
 * be NULL), added and logged. */
static void add_adopted(struct hfx_server *s, struct hfx_listener *l, struct shm_region *shared,
                        const char *what, const char *bound)
{
    add_listener(s, l, shared);
    server_log(s, HFX_LOG_INFO, "listening on %s (%s)", what, bound);
}

static void log_region0(struct hfx_server *s, const char *what, const char *shm_file,
                        const struct shm_region *shared)
{
    server_log(s, HFX_LOG_INFO, "%s: region 0 is %s (%zu MiB)", what, shm_file,
               shared->size >> 20);
}

/* shared: borrowed; the listener or connection takes its own reference. */
static enum hfx_status listen_on(struct hfx_server *s, const char *address,
                                 struct shm_region *shared)
{
    struct hfx_address addr;
    struct hfx_listener *l = NULL;
    struct hfx_transport *t = NULL;
    enum hfx_status st = hfx_address_parse(address, &addr);

    if (st != HFX_OK)
        return st;
    if (addr.kind == HFX_ADDR_TCP && !hfx_address_is_loopback(&addr) && !s->token) {
        server_log(s, HFX_LOG_ERROR,
                   "refusing to listen on %s: a non-loopback address needs a token", address);
        return HFX_E_AUTH;
    }
    if (addr.kind == HFX_ADDR_SERIAL ||
        (addr.kind == HFX_ADDR_FD && !is_listening_socket(addr.fd))) {
        st = hfx_transport_connect(&addr, 0, &t);
        if (st != HFX_OK)
            return st;
        return session_add(s, t, shared, false);
    }
    if (addr.kind == HFX_ADDR_FD) {
        char bound[160];
        st = adopt_checked(s, addr.fd, address, &l, bound, sizeof(bound));
        if (st == HFX_OK)
            add_adopted(s, l, shared, address, bound);
        return st;
    }
    if (s->nlisteners == MAX_LISTENERS)
        return HFX_E_TOO_LARGE;
    struct hfx_listen_options lo = {.backlog = 16, .unlink_existing = true};
    st = hfx_listener_open(&addr, &lo, &l);
    if (st != HFX_OK) {
        server_log(s, HFX_LOG_ERROR, "cannot listen on %s: %s", address, hfx_strerror(st));
        return st;
    }
    add_listener(s, l, shared);
    server_log(s, HFX_LOG_INFO, "listening on %s", address);
    return HFX_OK;
}

enum hfx_status hfx_server_listen(struct hfx_server *s, const char *address)
{
    return listen_on(s, address, NULL);
}

/* The region of --shm-file, logged as hfx_server_listen_shared does. */
static enum hfx_status open_shared(struct hfx_server *s, const char *shm_file, uint64_t shm_size,
                                   struct shm_region **out)
{
    enum hfx_status st = shm_region_open_file(shm_file, shm_size, out);

    if (st != HFX_OK)
        server_log(s, HFX_LOG_ERROR, "shared memory file %s: %s%s%s", shm_file, hfx_strerror(st),
                   st == HFX_E_IO ? ": " : "", st == HFX_E_IO ? strerror(errno) : "");
    return st;
}

enum hfx_status hfx_server_listen_shared(struct hfx_server *s, const char *address,
                                         const char *shm_file, uint64_t shm_size)
{
    struct shm_region *shared = NULL;
    enum hfx_status st = open_shared(s, shm_file, shm_size, &shared);

    if (st != HFX_OK)
        return st;
    st = listen_on(s, address, shared);
    if (st == HFX_OK)
        log_region0(s, address, shm_file, shared);
    shm_region_unref(&shared);
    return st;
}

enum hfx_status hfx_server_listen_fd(struct hfx_server *s, int fd, const char *shm_file,
                                     uint64_t shm_size)
{
    struct hfx_listener *l = NULL;
    struct shm_region *shared = NULL;
    char what[32], bound[160];
    enum hfx_status st;

    if (fd < 0)
        return HFX_E_INVALID;
    snprintf(what, sizeof(what), "fd %d", fd);
    /* The socket first: no region file is made for a socket refused. */
    st = adopt_checked(s, fd, what, &l, bound, sizeof(bound));
    if (st != HFX_OK)
        return st;
    if (shm_file) {
        st = open_shared(s, shm_file, shm_size, &shared);
        if (st != HFX_OK) {
            hfx_listener_free(&l);
            return st;
        }
    }
    add_adopted(s, l, shared, what, bound);
    if (shared)
        log_region0(s, what, shm_file, shared);
    shm_region_unref(&shared);
    return HFX_OK;
}

uint16_t hfx_server_listener_port(const struct hfx_server *s, unsigned n)
{
    return n < s->nlisteners ? hfx_listener_port(s->listeners[n]) : 0;
}

enum hfx_status hfx_server_add_transport(struct hfx_server *s, struct hfx_transport *t)
{
    return session_add(s, t, NULL, false);
}

enum hfx_status hfx_server_hand_over(struct hfx_server *s, struct hfx_transport *t)
{
    return handoff_push(&s->handoff, t);
}
