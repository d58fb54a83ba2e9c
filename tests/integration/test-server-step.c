/* SPDX-License-Identifier: MIT */
/* hfx_server_step with encode_in_loop, and the test clock of
 * host/server-testing.h: a whole session served by one thread that only
 * runs when stepped, and deadlines that pass when the test says so. */
#include <dirent.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "hfx/server.h"
#include "hfx/transport.h"
#include "server-fixture.h"
#include "server-testing.h"

#define W 64
#define H 64

static uint8_t frame_nv12[W * H * 3 / 2];

static int64_t test_clock(void *user)
{
    return *(const int64_t *)user;
}

static unsigned count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    unsigned n = 0;
    CHECK(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2; /* . and .. */
}

/* A server with one connection (the returned client end), stepped only by
 * the test. */
static int start(struct hfx_server **srv, int64_t *clock, int handshake_ms)
{
    struct hfx_server_options o = {.encoder = "fake", .encode_in_loop = true,
                                   .handshake_timeout_ms = handshake_ms};
    struct hfx_transport *t = NULL;
    int sv[2];

    CHECK_STATUS(hfx_server_new(&o, srv), HFX_OK);
    hfx_server_set_clock(*srv, test_clock, clock);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_UNIX, &t), HFX_OK);
    CHECK_STATUS(hfx_server_add_transport(*srv, t), HFX_OK);
    return sv[0];
}

/* Step until the server has nothing left to do; how many steps did work. */
static unsigned settle(struct hfx_server *srv)
{
    unsigned n = 0;
    enum hfx_status st;

    while ((st = hfx_server_step(srv, 0)) == HFX_OK) {
        n++;
        CHECK(n < 1000);
    }
    CHECK_STATUS(st, HFX_E_TIMEOUT);
    return n;
}

static bool readable(int fd)
{
    uint8_t b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

static void send_frame(int fd, uint64_t id)
{
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_FRAME;
    m.hdr.stream = 1;
    m.u.frame.frame_id = id;
    m.u.frame.pts = (int64_t)id;
    m.u.frame.source = HFX_SOURCE_INLINE;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].stride = W;
    m.u.frame.planes[1].offset = (uint64_t)W * H;
    m.u.frame.planes[1].stride = W;
    raw_send(fd, &m, frame_nv12, sizeof(frame_nv12));
}

static uint16_t next_type(int fd, struct hfx_msg *m)
{
    static uint8_t buf[64 * 1024];
    CHECK(raw_recv(fd, m, buf, sizeof(buf)));
    return m->hdr.type;
}

/* A whole session with no thread but the test's: nothing happens between
 * steps, everything is answered once the server has been stepped. */
static void test_session_on_one_thread(void)
{
    struct hfx_server *srv = NULL;
    int64_t clock = 1000;
    unsigned threads = count_threads();
    int fd = start(&srv, &clock, 0);
    struct hfx_msg m;

    raw_hello(fd, HFX_CAP_INLINE);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    raw_send(fd, &m, NULL, 0);
    for (uint64_t id = 1; id <= 3; id++)
        send_frame(fd, id);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_FLUSH;
    m.hdr.stream = 1;
    raw_send(fd, &m, NULL, 0);
    CHECK(!readable(fd)); /* not stepped yet: not even WELCOME */
    CHECK(settle(srv) > 0);
    CHECK_EQ_INT(count_threads(), threads);
    CHECK_EQ_INT(next_type(fd, &m), HFX_MSG_WELCOME);
    CHECK_EQ_INT(next_type(fd, &m), HFX_MSG_CONFIGURED);
    CHECK(strcmp(m.u.configured.encoder, "fake") == 0);
    for (uint64_t id = 1; id <= 3; id++) {
        CHECK_EQ_INT(next_type(fd, &m), HFX_MSG_PACKET);
        CHECK(m.u.packet.frame_id == id);
    }
    CHECK_EQ_INT(next_type(fd, &m), HFX_MSG_FLUSHED);
    CHECK(!readable(fd));
    CHECK_STATUS(hfx_server_step(srv, 0), HFX_E_TIMEOUT);
    /* Freeing ends the session: BYE is not sent (that is hfx_server_run's
     * stop), the connection closes. */
    hfx_server_free(&srv);
    CHECK(raw_wait_closed(fd));
    close(fd);
}

/* The handshake deadline is measured on the test's clock: 10 s pass in
 * one assignment. */
static void test_clock_moves_deadlines(void)
{
    struct hfx_server *srv = NULL;
    int64_t clock = 5000;
    int fd = start(&srv, &clock, 10000);
    struct hfx_msg m;

    settle(srv);
    clock += 9999;
    settle(srv);
    CHECK(!readable(fd));
    clock += 1;
    settle(srv);
    CHECK_EQ_INT(next_type(fd, &m), HFX_MSG_ERROR);
    CHECK_EQ_INT(m.u.error.code, HFX_E_TIMEOUT);
    hfx_server_free(&srv);
    close(fd);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_session_on_one_thread),
        CHECK_CASE(test_clock_moves_deadlines),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
