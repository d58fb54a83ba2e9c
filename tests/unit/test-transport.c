/* SPDX-License-Identifier: MIT */
/*
 * Transports over socketpairs, unix and TCP listeners, a pty standing in for
 * a serial port, and pipes. Each case runs in its own process with an
 * fd-leak check (check.c), which also proves that descriptors the library
 * closes on our behalf are really closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hfx/transport.h"
#include "check.h"
#include "transport-util.h"

/* ---- helpers ---- */

static void unix_pair(struct hfx_transport **a, struct hfx_transport **b)
{
    int sv[2];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, a), HFX_OK);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_UNIX, b), HFX_OK);
}

static int memfd_with(const char *text)
{
    int fd = memfd_create("hfx-test", MFD_CLOEXEC);

    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    return fd;
}

static bool is_closed(int fd)
{
    return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* A scratch directory for socket files; rmdir at the end proves that
 * nothing was left behind in it. */
static void make_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/hfx-test-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send one byte with the descriptors in fds[0..n) straight through the
 * socket API, to play a peer that sends more than we accept. */
static void send_fds_raw(int sock, const int *fds, int n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } ctl;
    struct iovec v = {.iov_base = "x", .iov_len = 1};
    struct msghdr msg;
    struct cmsghdr *c;

    memset(&msg, 0, sizeof(msg));
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    CHECK(sendmsg(sock, &msg, 0) == 1);
}

/* Pass a memfd from a to b and check that b gets a working copy. */
static void check_pass_memfd(struct hfx_transport *a, struct hfx_transport *b)
{
    int memfd = memfd_with("shared pixels");
    struct iovec v = {.iov_base = "F", .iov_len = 1};
    int fds[HFX_MAX_PASSED_FDS] = {-1, -1, -1, -1};
    int nfds = -1;
    char buf[32] = {0};
    size_t w = 0, got = 0;

    CHECK_STATUS(hfx_transport_writev(a, &v, 1, memfd, &w), HFX_OK);
    CHECK_EQ_INT(w, 1);
    close(memfd); /* borrowed: the caller's to close, the peer has its own */
    xfer_wait(hfx_transport_fd(b), POLLIN);
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, fds, &nfds), HFX_OK);
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(buf[0], 'F');
    CHECK_EQ_INT(nfds, 1);
    CHECK(fds[0] >= 0);
    CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    CHECK_EQ_INT(pread(fds[0], buf, sizeof(buf), 0), 13);
    CHECK(memcmp(buf, "shared pixels", 13) == 0);
    close(fds[0]);
}

/* ---- socketpair ---- */

static void test_socketpair_bytes(void)
{
    struct hfx_transport *a, *b;
    struct iovec v[3] = {{"he", 2}, {"", 0}, {"llo", 3}};
    char buf[8];
    size_t w = 0, got = 0;

    unix_pair(&a, &b);
    CHECK_EQ_INT(hfx_transport_kind(a), HFX_ADDR_UNIX);
    CHECK(hfx_transport_can_pass_fds(a));
    CHECK(fcntl(hfx_transport_fd(a), F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(hfx_transport_fd(a), F_GETFD) & FD_CLOEXEC);
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, NULL, NULL), HFX_INCOMPLETE);
    CHECK_EQ_INT(got, 0);
    CHECK_STATUS(hfx_transport_writev(a, v, 3, -1, &w), HFX_OK);
    CHECK_EQ_INT(w, 5);
    xfer_read_exact(b, buf, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    xfer_exchange(a, b);
    hfx_transport_free(&a);
    hfx_transport_free(&b);
    CHECK(a == NULL && b == NULL);
    hfx_transport_free(&a);
    hfx_transport_free(NULL);
}

static void test_partial_writes(void)
{
    static unsigned char chunk[256 * 1024], back[256 * 1024];
    struct hfx_transport *a, *b;
    size_t total = 0, drained = 0;
    bool short_write = false;
    enum hfx_status st;
    int small = 4096;

    unix_pair(&a, &b);
    /* A small buffer gets full sooner. */
    (void)setsockopt(hfx_transport_fd(a), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (unsigned char)(i % 251);
    for (;;) {
        /* Keep the byte pattern continuous across writes. */
        size_t off = total % 251;
        struct iovec v = {.iov_base = chunk + off, .iov_len = sizeof(chunk) - off};
        size_t w = 12345;
        st = hfx_transport_writev(a, &v, 1, -1, &w);
        if (st == HFX_INCOMPLETE) {
            CHECK_EQ_INT(w, 0);
            break;
        }
        CHECK_STATUS(st, HFX_OK);
        CHECK(w > 0 && w <= v.iov_len);
        short_write = short_write || w < v.iov_len;
        total += w;
        CHECK(total < 64 * 1024 * 1024); /* it must fill up at some point */
    }
    CHECK(short_write);
    CHECK(total > 0);
    for (;;) {
        size_t got = 0;
        st = hfx_transport_read(b, back, sizeof(back), &got, NULL, NULL);
        if (st == HFX_INCOMPLETE)
            break;
        CHECK_STATUS(st, HFX_OK);
        for (size_t i = 0; i < got; i++)
            CHECK_EQ_INT(back[i], (drained + i) % 251);
        drained += got;
    }
    CHECK_EQ_INT(drained, total);
    hfx_transport_free(&a);
    hfx_transport_free(&b);
}

static void test_pass_memfd(void)
{
    struct hfx_transport *a, *b;

    unix_pair(&a, &b);
    check_pass_memfd(a, b);
    check_pass_memfd(b, a);
    hfx_transport_free(&a);
    hfx_transport_free(&b);
}

/* With fds == NULL a received descriptor is closed, not leaked (the
 * fd-leak check of this case would catch it). */
static void test_received_fds_closed_without_array(void)
{
    struct hfx_transport *a, *b;
    int memfd = memfd_with("x");
    struct iovec v = {.iov_base = "F", .iov_len = 1};
    int nfds = -1;
    char buf[4];
    size_t w = 0, got = 0;

    unix_pair(&a, &b);
    CHECK_STATUS(hfx_transport_writev(a, &v, 1, memfd, &w), HFX_OK);
    close(memfd);
    xfer_wait(hfx_transport_fd(b), POLLIN);
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, NULL, &nfds), HFX_OK);
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(nfds, 0);
    hfx_transport_free(&a);
    hfx_transport_free(&b);
}

/* A peer sending more descriptors than HFX_MAX_PASSED_FDS gets the rest
 * closed on our side. */
static void test_too_many_fds_closed(void)
{
    struct hfx_transport *b;
    int sv[2], fds[HFX_MAX_PASSED_FDS + 2], got_fds[HFX_MAX_PASSED_FDS];
    int memfd = memfd_with("many");
    int nfds = 0;
    char buf[4];
    size_t got = 0;

    for (size_t i = 0; i < CHECK_COUNT(fds); i++)
        fds[i] = memfd;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_UNIX, &b), HFX_OK);
    send_fds_raw(sv[0], fds, (int)CHECK_COUNT(fds));
    close(memfd);
    xfer_wait(hfx_transport_fd(b), POLLIN);
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, got_fds, &nfds), HFX_OK);
    CHECK_EQ_INT(got, 1);
    CHECK_EQ_INT(nfds, HFX_MAX_PASSED_FDS);
    for (int i = 0; i < nfds; i++) {
        CHECK_EQ_INT(pread(got_fds[i], buf, 4, 0), 4);
        close(got_fds[i]);
    }
    close(sv[0]);
    hfx_transport_free(&b);
}

/* End of stream is HFX_E_CLOSED both ways; writing to a closed socket must
 * not raise SIGPIPE (this process keeps the default action, which would
 * kill it). */
static void test_eof_closed(void)
{
    struct hfx_transport *a, *b;
    struct iovec v = {.iov_base = "late", .iov_len = 4};
    char buf[8];
    size_t got = 0, w = 0;
    enum hfx_status st;

    unix_pair(&a, &b);
    xfer_write_all(a, "bye", 3);
    hfx_transport_free(&a);
    xfer_read_exact(b, buf, 3); /* data before the EOF still arrives */
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, NULL, NULL), HFX_E_CLOSED);
    CHECK_EQ_INT(got, 0);
    st = hfx_transport_writev(b, &v, 1, -1, &w);
    CHECK_STATUS(st, HFX_E_CLOSED);
    CHECK_EQ_INT(w, 0);
    hfx_transport_free(&b);
}

static void test_invalid_arguments(void)
{
    struct hfx_transport *a, *b, *t = (struct hfx_transport *)&t;
    struct iovec empty = {.iov_base = "", .iov_len = 0};
    int p[2], sv[2];
    char buf[4];
    size_t w = 7, got = 7;
    int fds[HFX_MAX_PASSED_FDS];

    unix_pair(&a, &b);
    /* A descriptor needs a byte to travel with. */
    CHECK_STATUS(hfx_transport_writev(a, &empty, 1, 0, &w), HFX_E_INVALID);
    CHECK_STATUS(hfx_transport_writev(a, &empty, 1, -1, &w), HFX_OK);
    CHECK_EQ_INT(w, 0);
    CHECK_STATUS(hfx_transport_writev(a, NULL, 0, -1, &w), HFX_OK);
    CHECK_STATUS(hfx_transport_writev(a, NULL, -1, -1, &w), HFX_E_INVALID);
    CHECK_STATUS(hfx_transport_read(b, buf, 0, &got, NULL, NULL), HFX_E_INVALID);
    CHECK_STATUS(hfx_transport_read(b, buf, sizeof(buf), &got, fds, NULL), HFX_E_INVALID);
    hfx_transport_free(&a);
    hfx_transport_free(&b);

    CHECK_STATUS(hfx_transport_from_fd(-1, HFX_ADDR_FD, &t), HFX_E_INVALID);
    CHECK(t == NULL);
    /* Taken over: closed also when refused. */
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    CHECK_STATUS(hfx_transport_from_fd(p[0], HFX_ADDR_UNIX, &t), HFX_E_INVALID);
    CHECK(is_closed(p[0]));
    CHECK_STATUS(hfx_transport_from_fd(p[1], (enum hfx_address_kind)99, &t), HFX_E_INVALID);
    CHECK(is_closed(p[1]));
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_TCP, &t), HFX_E_INVALID);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_SERIAL, &t), HFX_E_INVALID);
    CHECK(is_closed(sv[0]) && is_closed(sv[1]));
    /* Datagrams are not a byte stream. */
    CHECK(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, &t), HFX_E_INVALID);
    close(sv[1]);
}

/* ---- unix listener ---- */

static void test_unix_listener(void)
{
    char dir[64], text[128];
    struct hfx_listener *l = NULL;
    struct hfx_transport *c, *s;
    struct hfx_address a;
    struct stat st;

    make_dir(dir, sizeof(dir));
    snprintf(text, sizeof(text), "unix:%s/hfx.sock", dir);
    a = xfer_addr(text);
    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_OK);
    CHECK(lstat(a.path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_EQ_INT(st.st_mode & 07777, 0600);
    CHECK(fcntl(hfx_listener_fd(l), F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(hfx_listener_fd(l), F_GETFD) & FD_CLOEXEC);
    CHECK_EQ_INT(hfx_listener_port(l), 0);
    CHECK_STATUS(hfx_listener_accept(l, &s), HFX_INCOMPLETE);
    CHECK(s == NULL);

    xfer_connect_pair(text, l, &c, &s);
    CHECK(fcntl(hfx_transport_fd(s), F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(hfx_transport_fd(s), F_GETFD) & FD_CLOEXEC);
    xfer_exchange(c, s);
    check_pass_memfd(c, s);
    check_pass_memfd(s, c);
    hfx_transport_free(&c);
    hfx_transport_free(&s);

    hfx_listener_free(&l);
    CHECK(l == NULL);
    hfx_listener_free(&l);
    CHECK(lstat(a.path, &st) < 0 && errno == ENOENT);
    CHECK(rmdir(dir) == 0);
}

/* A socket file with nobody behind it, as a crashed daemon leaves it. */
static void make_stale_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);
}

static void test_unix_stale_file(void)
{
    const struct hfx_listen_options unlink_opts = {.unlink_existing = true};
    char dir[64], text[128];
    struct hfx_listener *l = NULL;
    struct hfx_transport *c, *s;
    struct hfx_address a;
    struct stat st;
    int fd;

    make_dir(dir, sizeof(dir));
    snprintf(text, sizeof(text), "unix:%s/hfx.sock", dir);
    a = xfer_addr(text);

    /* A stale socket is kept unless asked, and replaced when asked. */
    make_stale_socket(a.path);
    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_E_IO);
    CHECK(lstat(a.path, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK_STATUS(hfx_listener_open(&a, &unlink_opts, &l), HFX_OK);
    xfer_connect_pair(text, l, &c, &s);
    xfer_exchange(c, s);
    hfx_transport_free(&c);
    hfx_transport_free(&s);
    hfx_listener_free(&l);

    /* Something else under that name is never removed. */
    fd = open(a.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_STATUS(hfx_listener_open(&a, &unlink_opts, &l), HFX_E_IO);
    CHECK(lstat(a.path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(unlink(a.path) == 0);

    /* A file that replaced ours is not removed by free either. */
    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_OK);
    CHECK(unlink(a.path) == 0);
    make_stale_socket(a.path);
    hfx_listener_free(&l);
    CHECK(lstat(a.path, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK(unlink(a.path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* unlink_existing must not steal the name of a server that is alive. */
static void test_unix_live_socket_kept(void)
{
    const struct hfx_listen_options unlink_opts = {.unlink_existing = true};
    char dir[64], text[128];
    struct hfx_listener *live = NULL, *l = NULL;
    struct hfx_transport *c;
    struct hfx_address a;
    struct stat before, after;

    make_dir(dir, sizeof(dir));
    snprintf(text, sizeof(text), "unix:%s/hfx.sock", dir);
    a = xfer_addr(text);
    CHECK_STATUS(hfx_listener_open(&a, NULL, &live), HFX_OK);
    CHECK(lstat(a.path, &before) == 0);
    CHECK_STATUS(hfx_listener_open(&a, &unlink_opts, &l), HFX_E_IO);
    CHECK(l == NULL);
    CHECK(lstat(a.path, &after) == 0);
    CHECK(before.st_ino == after.st_ino);
    CHECK_STATUS(hfx_transport_connect(&a, XFER_WAIT_MS, &c), HFX_OK);
    hfx_transport_free(&c);
    hfx_listener_free(&live);
    CHECK(rmdir(dir) == 0);
}

static void test_unix_connect_errors(void)
{
    char dir[64], text[128];
    struct hfx_transport *c = (struct hfx_transport *)&c;
    struct hfx_address a;

    make_dir(dir, sizeof(dir));
    snprintf(text, sizeof(text), "unix:%s/none.sock", dir);
    a = xfer_addr(text);
    /* No such file: HFX_E_IO, as documented for hfx_transport_connect. */
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &c), HFX_E_IO);
    CHECK(c == NULL);
    /* Nobody listening on the file: refused, also HFX_E_IO. */
    make_stale_socket(a.path);
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &c), HFX_E_IO);
    CHECK(unlink(a.path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* A listener that never accepts: once its backlog is full a connect waits,
 * and gives up after timeout_ms. */
static void test_unix_connect_timeout(void)
{
    const struct hfx_listen_options opts = {.backlog = 1};
    char dir[64], text[128];
    struct hfx_listener *l = NULL;
    struct hfx_transport *c = NULL;
    struct hfx_address a;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fillers[64], n = 0;
    int64_t t0;

    make_dir(dir, sizeof(dir));
    snprintf(text, sizeof(text), "unix:%s/hfx.sock", dir);
    a = xfer_addr(text);
    CHECK_STATUS(hfx_listener_open(&a, &opts, &l), HFX_OK);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a.path);
    for (; n < (int)CHECK_COUNT(fillers); n++) {
        fillers[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(fillers[n] >= 0);
        if (connect(fillers[n], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            CHECK_EQ_INT(errno, EAGAIN);
            close(fillers[n]);
            break;
        }
    }
    CHECK(n < (int)CHECK_COUNT(fillers));
    t0 = now_ms();
    CHECK_STATUS(hfx_transport_connect(&a, 200, &c), HFX_E_TIMEOUT);
    CHECK(now_ms() - t0 >= 150);
    CHECK(c == NULL);
    CHECK_STATUS(hfx_transport_connect(&a, 0, &c), HFX_E_TIMEOUT);
    for (int i = 0; i < n; i++)
        close(fillers[i]);
    hfx_listener_free(&l);
    CHECK(rmdir(dir) == 0);
}

/* ---- tcp ---- */

static void tcp_round_trip(const char *host_text, struct hfx_listener *l)
{
    char text[128];
    struct hfx_transport *c, *s;
    struct iovec v = {.iov_base = "F", .iov_len = 1};
    size_t w = 0;

    snprintf(text, sizeof(text), "tcp:%s:%u", host_text, (unsigned)hfx_listener_port(l));
    xfer_connect_pair(text, l, &c, &s);
    xfer_exchange(c, s);
    CHECK_STATUS(hfx_transport_writev(c, &v, 1, 0, &w), HFX_E_UNSUPPORTED);
    hfx_transport_free(&c);
    hfx_transport_free(&s);
}

static void test_tcp_ipv4(void)
{
    struct hfx_address a = xfer_addr("tcp:127.0.0.1:0");
    struct hfx_listener *l = NULL;

    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_OK);
    CHECK(hfx_listener_port(l) != 0);
    CHECK(fcntl(hfx_listener_fd(l), F_GETFL) & O_NONBLOCK);
    tcp_round_trip("127.0.0.1", l);
    tcp_round_trip("localhost", l); /* may resolve to ::1 first: tries the next */
    hfx_listener_free(&l);
}

static void test_tcp_ipv6(void)
{
    struct hfx_address a = xfer_addr("tcp:[::1]:0");
    struct hfx_listener *l = NULL;
    enum hfx_status st = hfx_listener_open(&a, NULL, &l);

    if (st != HFX_OK) {
        /* Not every box has IPv6, not even on loopback. */
        printf("test_tcp_ipv6: IPv6 part skipped: listening on [::1] gave %s\n",
               hfx_status_name(st));
        return;
    }
    CHECK(hfx_listener_port(l) != 0);
    tcp_round_trip("[::1]", l);
    hfx_listener_free(&l);
}

static void test_tcp_refused(void)
{
    struct hfx_address a = xfer_addr("tcp:127.0.0.1:0");
    struct hfx_listener *l = NULL;
    struct hfx_transport *c = NULL;

    /* A port that was just free: nobody listens there now. */
    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_OK);
    a.port = hfx_listener_port(l);
    hfx_listener_free(&l);
    CHECK_STATUS(hfx_transport_connect(&a, 2000, &c), HFX_E_IO);
    CHECK(c == NULL);
    /* Port 0 cannot be connected to. */
    a.port = 0;
    CHECK_STATUS(hfx_transport_connect(&a, 2000, &c), HFX_E_ADDRESS);
}

/* Linux drops SYNs while a listener's accept queue is full, so a connect to
 * it hangs until our deadline. */
static void test_tcp_connect_timeout(void)
{
    const struct hfx_listen_options opts = {.backlog = 1};
    struct hfx_address a = xfer_addr("tcp:127.0.0.1:0");
    struct hfx_listener *l = NULL;
    struct hfx_transport *fillers[4] = {NULL};
    struct hfx_transport *c = NULL;
    enum hfx_status st = HFX_OK;
    int64_t t0;

    CHECK_STATUS(hfx_listener_open(&a, &opts, &l), HFX_OK);
    a.port = hfx_listener_port(l);
    for (size_t i = 0; i < CHECK_COUNT(fillers) && st == HFX_OK; i++)
        st = hfx_transport_connect(&a, 300, &fillers[i]);
    CHECK_STATUS(st, HFX_E_TIMEOUT);
    t0 = now_ms();
    CHECK_STATUS(hfx_transport_connect(&a, 200, &c), HFX_E_TIMEOUT);
    CHECK(now_ms() - t0 >= 150);
    CHECK(c == NULL);
    for (size_t i = 0; i < CHECK_COUNT(fillers); i++)
        hfx_transport_free(&fillers[i]);
    hfx_listener_free(&l);
}

/* ---- serial over a pty ---- */

static int open_pty(char *text, size_t cap)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

    CHECK(m >= 0);
    CHECK(grantpt(m) == 0);
    CHECK(unlockpt(m) == 0);
    CHECK(ptsname(m) != NULL);
    snprintf(text, cap, "serial:%s", ptsname(m));
    return m;
}

static void read_fd_exact(int fd, unsigned char *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        xfer_wait(fd, POLLIN);
        ssize_t r = read(fd, buf + done, n - done);
        CHECK(r > 0);
        done += (size_t)r;
    }
}

static void test_serial_pty_raw(void)
{
    char text[128];
    unsigned char all[256], back[256];
    struct hfx_transport *t = NULL;
    struct hfx_address a;
    struct termios tio;
    int m = open_pty(text, sizeof(text));

    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    a = xfer_addr(text);
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &t), HFX_OK);
    CHECK_EQ_INT(hfx_transport_kind(t), HFX_ADDR_SERIAL);
    CHECK(!hfx_transport_can_pass_fds(t));
    CHECK(fcntl(hfx_transport_fd(t), F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(hfx_transport_fd(t), F_GETFD) & FD_CLOEXEC);
    CHECK(tcgetattr(hfx_transport_fd(t), &tio) == 0);
    CHECK(!(tio.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)));
    CHECK(!(tio.c_oflag & OPOST));
    CHECK(!(tio.c_iflag & (ICRNL | INLCR | IGNCR | IXON | ISTRIP)));
    CHECK_EQ_INT(tio.c_cflag & CSIZE, CS8);

    /* Device to us: \r, \n, ^C, ^D, ^S, 0xff... all unchanged. */
    CHECK(write(m, all, sizeof(all)) == (ssize_t)sizeof(all));
    xfer_read_exact(t, back, sizeof(back));
    CHECK(memcmp(all, back, sizeof(all)) == 0);
    /* Us to device, and nothing echoed back to the device's side. */
    xfer_write_all(t, all, sizeof(all));
    read_fd_exact(m, back, sizeof(back));
    CHECK(memcmp(all, back, sizeof(all)) == 0);
    {
        size_t got = 0;
        CHECK_STATUS(hfx_transport_read(t, back, sizeof(back), &got, NULL, NULL),
                     HFX_INCOMPLETE);
    }
    hfx_transport_free(&t);
    close(m);
}

/* The other side closing a pty is a hangup: end of stream, not an error. */
static void test_serial_hangup(void)
{
    char text[128];
    unsigned char buf[8];
    struct hfx_transport *t = NULL;
    struct hfx_address a;
    struct iovec v = {.iov_base = "x", .iov_len = 1};
    size_t got = 0, w = 0;
    int m = open_pty(text, sizeof(text));

    a = xfer_addr(text);
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &t), HFX_OK);
    close(m);
    xfer_wait(hfx_transport_fd(t), POLLIN);
    CHECK_STATUS(hfx_transport_read(t, buf, sizeof(buf), &got, NULL, NULL), HFX_E_CLOSED);
    CHECK_STATUS(hfx_transport_writev(t, &v, 1, -1, &w), HFX_E_CLOSED);
    hfx_transport_free(&t);
}

static void test_serial_open_errors(void)
{
    char dir[64], path[96], text[128];
    struct hfx_transport *t = NULL;
    struct hfx_address a;
    int fd;

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/file", dir);
    snprintf(text, sizeof(text), "serial:%s", path);
    a = xfer_addr(text);
    /* No device (a virtio port that is not there): like a refused connect. */
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &t), HFX_E_IO);
    /* A regular file is no serial port. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_STATUS(hfx_transport_connect(&a, 1000, &t), HFX_E_INVALID);
    CHECK(t == NULL);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* ---- fd: ---- */

static void test_fd_pipe(void)
{
    struct hfx_transport *r = NULL, *w = NULL;
    struct iovec v = {.iov_base = "x", .iov_len = 1};
    char text[32], buf[8];
    struct hfx_address a;
    size_t got = 0, n = 0;
    int p[2];

    CHECK(pipe2(p, O_CLOEXEC) == 0);
    /* Through the address syntax, as a command line would hand it over. */
    snprintf(text, sizeof(text), "fd:%d", p[0]);
    a = xfer_addr(text);
    CHECK_STATUS(hfx_transport_connect(&a, 0, &r), HFX_OK);
    CHECK_EQ_INT(hfx_transport_fd(r), p[0]);
    CHECK_STATUS(hfx_transport_from_fd(p[1], HFX_ADDR_FD, &w), HFX_OK);
    CHECK_EQ_INT(hfx_transport_kind(r), HFX_ADDR_FD);
    CHECK(!hfx_transport_can_pass_fds(r));
    CHECK(!hfx_transport_can_pass_fds(w));
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    CHECK_STATUS(hfx_transport_writev(w, &v, 1, 0, &n), HFX_E_UNSUPPORTED);
    CHECK_STATUS(hfx_transport_read(r, buf, sizeof(buf), &got, NULL, NULL), HFX_INCOMPLETE);
    xfer_write_all(w, "piped", 5);
    xfer_read_exact(r, buf, 5);
    CHECK(memcmp(buf, "piped", 5) == 0);
    hfx_transport_free(&w);
    CHECK_STATUS(hfx_transport_read(r, buf, sizeof(buf), &got, NULL, NULL), HFX_E_CLOSED);
    hfx_transport_free(&r);

    /* The reader gone: with SIGPIPE ignored, as the header asks of the
     * application, the write reports HFX_E_CLOSED. */
    CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    close(p[0]);
    CHECK_STATUS(hfx_transport_from_fd(p[1], HFX_ADDR_FD, &w), HFX_OK);
    CHECK_STATUS(hfx_transport_writev(w, &v, 1, -1, &n), HFX_E_CLOSED);
    hfx_transport_free(&w);
}

static void test_fd_socketpair(void)
{
    struct hfx_transport *a = NULL, *b = NULL;
    int sv[2];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_FD, &a), HFX_OK);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_FD, &b), HFX_OK);
    CHECK_EQ_INT(hfx_transport_kind(a), HFX_ADDR_FD);
    CHECK(hfx_transport_can_pass_fds(a));
    xfer_exchange(a, b);
    check_pass_memfd(a, b);
    hfx_transport_free(&a);
    hfx_transport_free(&b);
}

/* A listening socket made the way systemd's socket unit makes it: blocking,
 * not close-on-exec (it is meant to be inherited). */
static int unix_socket_at(const char *path, int type, bool listening)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, type, 0);

    CHECK(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    if (listening)
        CHECK(listen(fd, 4) == 0);
    return fd;
}

/* hfx_listener_adopt: the socket is made non-blocking and close-on-exec,
 * connections come out as unix transports that pass descriptors, and the
 * socket file stays when the listener goes (its creator owns it). */
static void test_listener_adopt_unix(void)
{
    char dir[64], path[96], text[128];
    struct hfx_listener *l = NULL;
    struct hfx_transport *c, *s;
    struct stat st;

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/passed.sock", dir);
    int fd = unix_socket_at(path, SOCK_STREAM, true);
    CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    CHECK_STATUS(hfx_listener_adopt(fd, &l), HFX_OK);
    CHECK_EQ_INT(hfx_listener_fd(l), fd);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ_INT(hfx_listener_port(l), 0);
    CHECK_STATUS(hfx_listener_accept(l, &s), HFX_INCOMPLETE);

    snprintf(text, sizeof(text), "unix:%s", path);
    xfer_connect_pair(text, l, &c, &s);
    CHECK_EQ_INT(hfx_transport_kind(s), HFX_ADDR_UNIX);
    xfer_exchange(c, s);
    check_pass_memfd(c, s);
    hfx_transport_free(&c);
    hfx_transport_free(&s);

    hfx_listener_free(&l);
    CHECK(l == NULL);
    CHECK(is_closed(fd));
    CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* A TCP socket's kind and bound port. */
static void test_listener_adopt_tcp(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    struct hfx_listener *l = NULL;
    struct hfx_transport *c, *s;
    char text[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
    CHECK_STATUS(hfx_listener_adopt(fd, &l), HFX_OK);
    CHECK_EQ_INT(hfx_listener_port(l), ntohs(sa.sin_port));
    snprintf(text, sizeof(text), "tcp:127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    xfer_connect_pair(text, l, &c, &s);
    CHECK_EQ_INT(hfx_transport_kind(s), HFX_ADDR_TCP);
    CHECK(!hfx_transport_can_pass_fds(s));
    xfer_exchange(c, s);
    hfx_transport_free(&c);
    hfx_transport_free(&s);
    hfx_listener_free(&l);
    CHECK(is_closed(fd));
}

/* What is not a listening stream socket is refused and stays the
 * caller's: a datagram socket, a bound stream socket that does not listen,
 * a connected one, a pipe, a closed descriptor. */
static void test_listener_adopt_refusals(void)
{
    char dir[64], path[96];
    struct hfx_listener *l = (struct hfx_listener *)&l;
    int sv[2], p[2];

    make_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/dgram.sock", dir);
    int dgram = unix_socket_at(path, SOCK_DGRAM, false);
    CHECK_STATUS(hfx_listener_adopt(dgram, &l), HFX_E_INVALID);
    CHECK(l == NULL);
    CHECK(!is_closed(dgram));
    CHECK(!(fcntl(dgram, F_GETFL) & O_NONBLOCK));
    close(dgram);
    unlink(path);

    snprintf(path, sizeof(path), "%s/quiet.sock", dir);
    int quiet = unix_socket_at(path, SOCK_STREAM, false);
    CHECK_STATUS(hfx_listener_adopt(quiet, &l), HFX_E_INVALID);
    CHECK(!is_closed(quiet));
    close(quiet);
    unlink(path);

    snprintf(path, sizeof(path), "%s/seq.sock", dir);
    int seq = unix_socket_at(path, SOCK_SEQPACKET, true);
    CHECK_STATUS(hfx_listener_adopt(seq, &l), HFX_E_INVALID);
    close(seq);
    unlink(path);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_listener_adopt(sv[0], &l), HFX_E_INVALID);
    CHECK(!is_closed(sv[0]));
    close(sv[0]);
    close(sv[1]);

    CHECK(pipe(p) == 0);
    CHECK_STATUS(hfx_listener_adopt(p[0], &l), HFX_E_INVALID);
    close(p[0]);
    close(p[1]);

    CHECK_STATUS(hfx_listener_adopt(-1, &l), HFX_E_INVALID);
    CHECK_STATUS(hfx_listener_adopt(0, NULL), HFX_E_INVALID);
    CHECK(rmdir(dir) == 0);
}

static void test_listener_unsupported_kinds(void)
{
    struct hfx_address serial = xfer_addr("serial:/dev/null");
    struct hfx_address fd = xfer_addr("fd:0");
    struct hfx_listener *l = (struct hfx_listener *)&l;

    CHECK_STATUS(hfx_listener_open(&serial, NULL, &l), HFX_E_UNSUPPORTED);
    CHECK(l == NULL);
    CHECK_STATUS(hfx_listener_open(&fd, NULL, &l), HFX_E_UNSUPPORTED);
    CHECK_STATUS(hfx_listener_open(NULL, NULL, &l), HFX_E_INVALID);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_socketpair_bytes),
        CHECK_CASE(test_partial_writes),
        CHECK_CASE(test_pass_memfd),
        CHECK_CASE(test_received_fds_closed_without_array),
        CHECK_CASE(test_too_many_fds_closed),
        CHECK_CASE(test_eof_closed),
        CHECK_CASE(test_invalid_arguments),
        CHECK_CASE(test_unix_listener),
        CHECK_CASE(test_unix_stale_file),
        CHECK_CASE(test_unix_live_socket_kept),
        CHECK_CASE(test_unix_connect_errors),
        CHECK_CASE(test_unix_connect_timeout),
        CHECK_CASE(test_tcp_ipv4),
        CHECK_CASE(test_tcp_ipv6),
        CHECK_CASE(test_tcp_refused),
        CHECK_CASE(test_tcp_connect_timeout),
        CHECK_CASE(test_serial_pty_raw),
        CHECK_CASE(test_serial_hangup),
        CHECK_CASE(test_serial_open_errors),
        CHECK_CASE(test_fd_pipe),
        CHECK_CASE(test_fd_socketpair),
        CHECK_CASE(test_listener_unsupported_kinds),
        CHECK_CASE(test_listener_adopt_unix),
        CHECK_CASE(test_listener_adopt_tcp),
        CHECK_CASE(test_listener_adopt_refusals),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
