/* SPDX-License-Identifier: MIT */
/*
 * Byte-stream transports behind one address syntax (docs/protocol.md §1):
 *
 *   unix:/path          unix stream socket (passes file descriptors)
 *   tcp:HOST:PORT       TCP; HOST may be a name, IPv4 or [IPv6]
 *   vsock:CID:PORT      AF_VSOCK (Linux)
 *   serial:/dev/PATH    a character device, e.g. a virtio-serial port
 *   fd:N                an already open stream file descriptor
 *
 * `auto` is not an address of its own: hfx_client_connect resolves it to
 * one of the above (hfx/discover.h).
 *
 * All transports are non-blocking once created. Nothing here prints.
 *
 * SIGPIPE: sockets never raise it (MSG_NOSIGNAL, or SO_NOSIGPIPE on macOS).
 * A serial device or an fd: that is a pipe cannot be written without it, so
 * an application that uses those must ignore SIGPIPE itself (the library
 * does not touch process-wide signal state); the write then fails with
 * HFX_E_CLOSED.
 */
#ifndef HFX_TRANSPORT_H
#define HFX_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFX_ADDRESS_MAX 300  /* longest accepted address text */
#define HFX_MAX_PASSED_FDS 4 /* fds accepted with one read */

enum hfx_address_kind {
    HFX_ADDR_UNIX = 1,
    HFX_ADDR_TCP = 2,
    HFX_ADDR_VSOCK = 3,
    HFX_ADDR_SERIAL = 4,
    HFX_ADDR_FD = 5,
};

struct hfx_address {
    enum hfx_address_kind kind;
    char path[108]; /* unix socket path or serial device */
    char host[256]; /* tcp host without brackets */
    uint16_t port;  /* tcp */
    uint32_t cid;   /* vsock */
    uint32_t vport; /* vsock port */
    int fd;         /* fd: */
};

/* Parse address text. HFX_E_ADDRESS for anything malformed: unknown scheme,
 * empty or over-long path, port out of range, trailing garbage. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_address_parse(const char *text,
                                                            struct hfx_address *out);

/* Format an address back to text (at most HFX_ADDRESS_MAX bytes incl. NUL). */
HFX_EXPORT void hfx_address_format(const struct hfx_address *addr, char *out, size_t cap);

/* True when the address is a TCP address bound to a loopback host
 * (127.0.0.0/8, ::1, "localhost"). */
HFX_EXPORT bool hfx_address_is_loopback(const struct hfx_address *addr);

struct hfx_transport;

/* Connect (client side). Waits at most timeout_ms for the connection
 * (< 0: no limit). For fd: the descriptor is taken over (closed by
 * hfx_transport_free). For serial: the device is opened and, when it is a
 * tty, put in raw mode. *out is owned by the caller.
 *
 * Failures: HFX_E_TIMEOUT when timeout_ms passed (also a unix listener whose
 * backlog stayed full, or the kernel's own TCP timeout); HFX_E_IO when
 * nobody is there now and a later retry may succeed (connection refused,
 * no such socket file or device, unreachable, permission denied, resolver
 * temporarily failing); HFX_E_ADDRESS when the host name does not resolve
 * or the TCP port is 0; HFX_E_UNSUPPORTED for vsock where the platform or
 * kernel has none; HFX_E_INVALID for a serial path that is not a character
 * device or FIFO. Name resolution itself is not bounded by timeout_ms. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_transport_connect(const struct hfx_address *addr, int timeout_ms, struct hfx_transport **out);

/* Wrap an open stream descriptor (taken over, so also closed when this
 * fails). can_pass_fds: true for a unix socket. HFX_E_INVALID when fd is
 * not an open stream descriptor or does not fit kind: unix, tcp and vsock
 * need a socket of that family, serial a non-socket, fd: takes either. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_transport_from_fd(int fd, enum hfx_address_kind kind,
                                                                struct hfx_transport **out);

/* The descriptor to poll. Owned by the transport. */
HFX_EXPORT int hfx_transport_fd(const struct hfx_transport *t);

HFX_EXPORT enum hfx_address_kind hfx_transport_kind(const struct hfx_transport *t);

/* True if the transport can carry file descriptors (unix sockets). */
HFX_EXPORT bool hfx_transport_can_pass_fds(const struct hfx_transport *t);

/* Write as much of iov[0..n) as the transport takes without blocking.
 * *written gets the byte count (possibly 0 with HFX_INCOMPLETE when the
 * transport would block; HFX_OK whenever at least one byte went, even if
 * fewer than asked). pass_fd >= 0 is sent with the first byte written
 * (borrowed: the caller still owns and closes it); only on transports that
 * can pass fds, else HFX_E_UNSUPPORTED; with no byte to carry it (all of iov
 * empty) HFX_E_INVALID. HFX_E_CLOSED when the peer is gone,
 * HFX_E_IO for other failures. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_transport_writev(struct hfx_transport *t,
                                                               const struct iovec *iov, int n,
                                                               int pass_fd, size_t *written);

/* Read up to cap bytes without blocking. HFX_INCOMPLETE when nothing is
 * available, HFX_E_CLOSED at end of stream. Descriptors that arrived with the
 * bytes are stored in fds (up to HFX_MAX_PASSED_FDS, count in *nfds; the
 * caller owns and must close them); fds may be NULL, then any received
 * descriptor is closed. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_transport_read(struct hfx_transport *t, void *buf,
                                                             size_t cap, size_t *got, int *fds,
                                                             int *nfds);

/* Close and free; accepts NULL and *t == NULL, sets *t to NULL. */
HFX_EXPORT void hfx_transport_free(struct hfx_transport **t);

struct hfx_listener;

struct hfx_listen_options {
    int backlog;          /* 0 = 16 */
    bool unlink_existing; /* unix: remove a stale socket file first */
};

/* Listen on unix:, tcp: or vsock:. Unix sockets are created with mode 0600.
 * Other kinds give HFX_E_UNSUPPORTED. opts may be NULL. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_listener_open(const struct hfx_address *addr,
                                                            const struct hfx_listen_options *opts,
                                                            struct hfx_listener **out);

/* Accept on fd, a listening stream socket that someone else created and
 * bound (systemd's socket activation, a supervisor's fd:N): unix, TCP or
 * vsock, its kind taken from the socket's family. It is made non-blocking
 * and close-on-exec. On success fd is taken over (closed by
 * hfx_listener_free, which leaves a unix socket's file to its creator); on
 * failure it stays the caller's. HFX_E_INVALID when fd is not a socket, not
 * a stream socket or not listening; HFX_E_UNSUPPORTED for another family;
 * HFX_E_IO when its flags cannot be set, HFX_E_NOMEM. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_listener_adopt(int fd, struct hfx_listener **out);

HFX_EXPORT int hfx_listener_fd(const struct hfx_listener *l);

/* For tcp:HOST:0, the port actually bound; otherwise the configured one
 * (0 for unix, and for a vsock port above 65535). */
HFX_EXPORT uint16_t hfx_listener_port(const struct hfx_listener *l);

/* Accept one pending connection: HFX_INCOMPLETE when none is pending. The
 * new transport is non-blocking and owned by the caller. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_listener_accept(struct hfx_listener *l,
                                                              struct hfx_transport **out);

/* Close, unlink a unix socket file it created, free; NULL-safe, sets NULL. */
HFX_EXPORT void hfx_listener_free(struct hfx_listener **l);

#ifdef __cplusplus
}
#endif

#endif /* HFX_TRANSPORT_H */
