/* SPDX-License-Identifier: MIT */
/*
 * Character devices (a virtio-serial port, a tty) and any other descriptor
 * that is not a socket (a pipe handed over as fd:N): plain read and writev.
 * Nothing here can suppress SIGPIPE per call, so writing to a pipe whose
 * reader is gone needs SIGPIPE ignored by the application (transport.h).
 */
#include "transport-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* A tty whose other side went away (a pty master closed, a modem hung up)
 * answers read and write with EIO; for a serial transport that is the end of
 * the stream. Elsewhere EIO stays a real I/O error. */
static enum hfx_status stream_errno_status(const struct hfx_transport *t, int err)
{
    if (err == EIO && t->kind == HFX_ADDR_SERIAL)
        return HFX_E_CLOSED;
    return hfx_transport_errno_status(err);
}

static enum hfx_status stream_writev(struct hfx_transport *t, const struct iovec *iov, int n,
                                     int pass_fd, size_t *written)
{
    ssize_t r;

    (void)pass_fd; /* never set: can_pass_fds is false for these */
    do
        r = writev(t->fd, iov, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return stream_errno_status(t, errno);
    *written = (size_t)r;
    return HFX_OK;
}

static enum hfx_status stream_read(struct hfx_transport *t, void *buf, size_t cap, size_t *got,
                                   int *fds, int *nfds)
{
    ssize_t r;

    (void)fds;
    (void)nfds; /* already 0: nothing but bytes arrives here */
    do
        r = read(t->fd, buf, cap);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return stream_errno_status(t, errno);
    if (r == 0)
        return HFX_E_CLOSED;
    *got = (size_t)r;
    return HFX_OK;
}

const struct hfx_transport_ops hfx_stream_ops = {
    .writev = stream_writev,
    .read = stream_read,
    .free = NULL,
};

/* Raw 8-bit mode: the protocol is binary, so no line editing, no echo, no
 * CR/LF translation, no signals on ^C, no flow control on ^S/^Q, and no
 * waiting for carrier (CLOCAL). */
static int make_raw(int fd)
{
    struct termios tio;

    if (tcgetattr(fd, &tio) < 0)
        return -1;
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    return tcsetattr(fd, TCSANOW, &tio);
}

enum hfx_status hfx_serial_open(const char *path, struct hfx_transport **out)
{
    struct stat st;
    int fd;

    if (!path[0])
        return HFX_E_ADDRESS;
    /* O_NOCTTY: a tty must never become our controlling terminal, or its
     * hangup would send SIGHUP to the application. */
    do
        fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        /* Same mapping as a refused connect: nothing there now. */
        return errno == ENOMEM ? HFX_E_NOMEM : HFX_E_IO;
    if (fstat(fd, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
        close(fd);
        return HFX_E_INVALID;
    }
    /* virtio-serial ports are not ttys and need no setup. */
    if (isatty(fd) && make_raw(fd) < 0) {
        close(fd);
        return HFX_E_IO;
    }
    return hfx_transport_wrap(fd, HFX_ADDR_SERIAL, &hfx_stream_ops, false, out);
}
