/* SPDX-License-Identifier: MIT */
#include "server-fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "hfx/transport.h"

static void *run_server(void *arg)
{
    struct fixture *f = arg;
    if (hfx_server_run(f->srv, f->stop[0]) != HFX_OK)
        check_fail(__FILE__, __LINE__, "hfx_server_run", "loop failed");
    return NULL;
}

static void start(struct fixture *f, const struct hfx_server_options *opts, uint64_t shm_size,
                  fixture_hook hook, void *user)
{
    struct hfx_server_options o = {.keyframe_min_interval_ms = -1};

    memset(f, 0, sizeof(*f));
    if (opts)
        o = *opts;
    snprintf(f->dir, sizeof(f->dir), "/tmp/hfx-test-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->address, sizeof(f->address), "unix:%s/sock", f->dir);
    CHECK(pipe(f->stop) == 0);
    CHECK_STATUS(hfx_server_new(&o, &f->srv), HFX_OK);
    if (shm_size) {
        snprintf(f->shm_path, sizeof(f->shm_path), "%s/region", f->dir);
        CHECK_STATUS(hfx_server_listen_shared(f->srv, f->address, f->shm_path, shm_size),
                     HFX_OK);
    } else {
        CHECK_STATUS(hfx_server_listen(f->srv, f->address), HFX_OK);
    }
    if (hook)
        hook(f->srv, user);
    CHECK(pthread_create(&f->thread, NULL, run_server, f) == 0);
}

void fixture_start(struct fixture *f, const struct hfx_server_options *opts)
{
    start(f, opts, 0, NULL, NULL);
}

void fixture_start_hook(struct fixture *f, const struct hfx_server_options *opts,
                        fixture_hook hook, void *user)
{
    start(f, opts, 0, hook, user);
}

void fixture_start_shared(struct fixture *f, const struct hfx_server_options *opts,
                          uint64_t shm_size)
{
    CHECK(shm_size > 0);
    start(f, opts, shm_size, NULL, NULL);
}

void fixture_stop(struct fixture *f)
{
    char path[128];

    CHECK(write(f->stop[1], "x", 1) == 1);
    pthread_join(f->thread, NULL);
    hfx_server_free(&f->srv);
    close(f->stop[0]);
    close(f->stop[1]);
    snprintf(path, sizeof(path), "%s/sock", f->dir);
    unlink(path);
    if (f->shm_path[0])
        unlink(f->shm_path);
    rmdir(f->dir);
}

int fixture_raw_conn(struct fixture *f)
{
    struct hfx_address a;
    struct hfx_transport *t = NULL;

    CHECK_STATUS(hfx_address_parse(f->address, &a), HFX_OK);
    CHECK_STATUS(hfx_transport_connect(&a, 2000, &t), HFX_OK);
    int fd = dup(hfx_transport_fd(t));
    hfx_transport_free(&t);
    /* Tests use blocking reads with poll timeouts. */
    CHECK(fd >= 0);
    int fl = fcntl(fd, F_GETFL);
    CHECK(fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    return fd;
}

void raw_send_bytes(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the server may close first: that is what some tests expect */
        p += n;
        len -= (size_t)n;
    }
}

void raw_send(int fd, const struct hfx_msg *m, const void *tail, size_t tail_len)
{
    uint8_t head[HFX_MAX_HEAD];
    size_t n = 0;

    CHECK_STATUS(hfx_msg_encode(m, tail_len, head, sizeof(head), &n), HFX_OK);
    raw_send_bytes(fd, head, n);
    if (tail_len)
        raw_send_bytes(fd, tail, tail_len);
}

void raw_send_fd(int fd, const struct hfx_msg *m, int pass_fd)
{
    uint8_t head[HFX_MAX_HEAD];
    /* Zeroed: CMSG_SPACE pads past CMSG_LEN, and sendmsg reads the padding
     * too (valgrind reports it uninitialised). The union aligns the buffer
     * for struct cmsghdr, as lib/transport-socket.c does. */
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    size_t n = 0;

    memset(&ctrl, 0, sizeof(ctrl));
    CHECK_STATUS(hfx_msg_encode(m, 0, head, sizeof(head), &n), HFX_OK);
    struct iovec iov = {head, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
                        .msg_controllen = sizeof(ctrl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    CHECK(sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)n);
}

static bool read_exact(int fd, uint8_t *buf, size_t len)
{
    while (len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, check_timeout_ms(5000)) <= 0)
            return false;
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

bool raw_recv(int fd, struct hfx_msg *m, uint8_t *buf, size_t cap)
{
    struct hfx_header h;

    if (cap < HFX_HEADER_SIZE || !read_exact(fd, buf, HFX_HEADER_SIZE))
        return false;
    CHECK_STATUS(hfx_header_decode(buf, HFX_HEADER_SIZE, HFX_MAX_PAYLOAD_HARD, &h), HFX_OK);
    CHECK(HFX_HEADER_SIZE + (size_t)h.length <= cap);
    if (!read_exact(fd, buf + HFX_HEADER_SIZE, h.length))
        return false;
    CHECK_STATUS(hfx_msg_decode_payload(&h, buf + HFX_HEADER_SIZE, h.length, m), HFX_OK);
    m->hdr = h;
    return true;
}

bool raw_wait_closed(int fd)
{
    uint8_t buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, check_timeout_ms(5000)) <= 0)
            return false;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false;
    }
}

void raw_hello(int fd, uint32_t caps)
{
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_HELLO;
    m.u.hello.min_version = 1;
    m.u.hello.max_version = 1;
    m.u.hello.caps = caps;
    raw_send(fd, &m, NULL, 0);
}

uint32_t raw_handshake_caps(int fd, uint32_t caps)
{
    struct hfx_msg m;
    uint8_t buf[1024];

    raw_hello(fd, caps);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_WELCOME);
    return m.u.welcome.caps;
}

void raw_handshake(int fd)
{
    /* What lib/client.c offers: every source a client may use. */
    (void)raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_FD | HFX_CAP_SHM_FILE);
}

void make_configure(struct hfx_msg *m, uint32_t stream, uint32_t fourcc, uint32_t w,
                    uint32_t h)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = HFX_MSG_CONFIGURE;
    m->hdr.stream = stream;
    m->u.configure.codec = HFX_CODEC_H264;
    m->u.configure.width = w;
    m->u.configure.height = h;
    m->u.configure.fourcc = fourcc;
    m->u.configure.fps_num = 30;
    m->u.configure.fps_den = 1;
    m->u.configure.bitrate_kbps = 500;
}

void raw_configure(int fd, uint32_t stream, uint32_t fourcc, uint32_t w, uint32_t h)
{
    struct hfx_msg m;
    uint8_t buf[HFX_MAX_HEAD];

    make_configure(&m, stream, fourcc, w, h);
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    CHECK_EQ_INT(m.hdr.stream, stream);
}

int fixture_good_session(struct fixture *f)
{
    int fd = fixture_raw_conn(f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, GOOD_W, GOOD_H);
    return fd;
}

void make_good_frame(struct hfx_msg *m, uint64_t id)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = HFX_MSG_FRAME;
    m->hdr.stream = 1;
    m->u.frame.frame_id = id;
    m->u.frame.source = HFX_SOURCE_INLINE;
    m->u.frame.plane_count = 2;
    m->u.frame.planes[0].stride = GOOD_W;
    m->u.frame.planes[1].offset = GOOD_W * GOOD_H;
    m->u.frame.planes[1].stride = GOOD_W;
}

void raw_check_alive(int fd, uint64_t id)
{
    static uint8_t picture[GOOD_W * GOOD_H * 3 / 2];
    static uint8_t buf[1 << 20];
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PING;
    m.u.ping.cookie = 0x1234567890ull + id;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
    CHECK(m.u.ping.cookie == 0x1234567890ull + id);
    make_good_frame(&m, id);
    memset(picture, 0x80, sizeof(picture));
    raw_send(fd, &m, picture, sizeof(picture));
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    CHECK(m.u.packet.frame_id == id);
    CHECK(m.u.packet.data_len > 0);
}
