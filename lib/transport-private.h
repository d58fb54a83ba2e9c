/* SPDX-License-Identifier: MIT */
/*
 * Inside libhfx only: the transport object and the small ops table each
 * backend fills in, plus the socket helpers that the
 * connect side (transport-socket.c) and the listener (listener.c) share.
 */
#ifndef HFX_TRANSPORT_PRIVATE_H
#define HFX_TRANSPORT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "hfx/transport.h"

/* Only Linux's vsock is supported: macOS defines AF_VSOCK for guests of its
 * Virtualization framework, but with its own <sys/vsock.h>, untested here. */
#ifdef __linux__
#include <linux/vm_sockets.h>
#ifdef AF_VSOCK
#define HFX_HAVE_VSOCK 1
#endif
#endif

struct hfx_transport_ops {
    enum hfx_status (*writev)(struct hfx_transport *t, const struct iovec *iov, int n,
                              int pass_fd, size_t *written);
    enum hfx_status (*read)(struct hfx_transport *t, void *buf, size_t cap, size_t *got,
                            int *fds, int *nfds);
    /* Release what the backend holds beyond the descriptor, which the
     * common code closes afterwards; may be NULL. */
    void (*free)(struct hfx_transport *t);
};

struct hfx_transport {
    const struct hfx_transport_ops *ops;
    enum hfx_address_kind kind;
    int fd;
    bool can_pass_fds;
};

/* Stream sockets of any family (transport-socket.c). */
extern const struct hfx_transport_ops hfx_socket_ops;
/* Plain read/writev on a character device, pipe or tty (transport-serial.c). */
extern const struct hfx_transport_ops hfx_stream_ops;

/* Wrap fd (taken over, closed on failure too) with the given backend. */
HFX_MUST_CHECK enum hfx_status hfx_transport_wrap(int fd, enum hfx_address_kind kind,
                                                  const struct hfx_transport_ops *ops,
                                                  bool can_pass_fds,
                                                  struct hfx_transport **out);

/* Status for an errno from read, write, send or recv: EAGAIN is
 * HFX_INCOMPLETE, a vanished peer HFX_E_CLOSED, the rest HFX_E_IO. */
enum hfx_status hfx_transport_errno_status(int err);

/* Set O_NONBLOCK and FD_CLOEXEC on fd; -1 with errno on failure. */
int hfx_fd_set_nonblock_cloexec(int fd);

/* Connect unix:, tcp: or vsock: (transport-socket.c). */
HFX_MUST_CHECK enum hfx_status hfx_socket_connect(const struct hfx_address *addr,
                                                  int timeout_ms, struct hfx_transport **out);

/* Open and, for a tty, configure a serial device (transport-serial.c). */
HFX_MUST_CHECK enum hfx_status hfx_serial_open(const char *path, struct hfx_transport **out);

/* A stream socket with SOCK_CLOEXEC, optionally non-blocking, and without
 * SIGPIPE where the platform offers a per-socket switch; -1 with errno. */
int hfx_socket_open(int family, bool nonblocking);

/* Status for an errno from socket, connect, bind or listen: the mapping
 * documented at hfx_transport_connect. */
enum hfx_status hfx_socket_errno_status(int err);

/* Fill a sockaddr for a unix: or vsock: address; HFX_E_UNSUPPORTED for
 * vsock where the platform has no AF_VSOCK. */
HFX_MUST_CHECK enum hfx_status hfx_socket_addr(const struct hfx_address *addr,
                                               struct sockaddr_storage *sa, socklen_t *len);

/* Transport for a connected socket (taken over, closed on failure too):
 * TCP_NODELAY on TCP, fd passing on unix. */
HFX_MUST_CHECK enum hfx_status hfx_socket_wrap(int fd, enum hfx_address_kind kind,
                                               struct hfx_transport **out);

#endif /* HFX_TRANSPORT_PRIVATE_H */
