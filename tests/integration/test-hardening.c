/* SPDX-License-Identifier: MIT */
/*
 * What an attacker found against hfxd, each as the outcome a client sees
 * (docs/security.md, "Findings"): the in-process server must not crash,
 * must answer every frame once and in order, must not grow without bound,
 * and must keep serving a healthy session next to the attacker.
 */
#include <errno.h>
#include <fcntl.h>
#include <libavutil/log.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hfx/protocol.h"
#include "server-fixture.h"

#define W 64
#define H 64

static uint8_t picture[640 * 480 * 3 / 2];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init_header(struct hfx_msg *m, uint16_t type, uint32_t stream)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.stream = stream;
}

/* Append one encoded message to buf (cap bytes, *len used). */
static void append(uint8_t *buf, size_t cap, size_t *len, const struct hfx_msg *m,
                   const void *tail, size_t tail_len)
{
    size_t n = 0;

    CHECK_STATUS(hfx_msg_encode(m, tail_len, buf + *len, cap - *len, &n), HFX_OK);
    *len += n;
    if (tail_len) {
        CHECK(*len + tail_len <= cap);
        memcpy(buf + *len, tail, tail_len);
        *len += tail_len;
    }
}

static void frame_msg(struct hfx_msg *m, uint32_t stream, uint64_t id, uint32_t w, uint32_t h)
{
    init_header(m, HFX_MSG_FRAME, stream);
    m->u.frame.frame_id = id;
    m->u.frame.source = HFX_SOURCE_INLINE;
    m->u.frame.plane_count = 2;
    m->u.frame.planes[0].stride = w;
    m->u.frame.planes[1].offset = (uint64_t)w * h;
    m->u.frame.planes[1].stride = w;
}

static void send_frame(int fd, uint32_t stream, uint64_t id, uint32_t w, uint32_t h)
{
    struct hfx_msg m;

    frame_msg(&m, stream, id, w, h);
    raw_send(fd, &m, picture, (size_t)w * h * 3 / 2);
}

static void send_simple(int fd, uint16_t type, uint32_t stream)
{
    struct hfx_msg m;

    init_header(&m, type, stream);
    raw_send(fd, &m, NULL, 0);
}

static void ping_pong(int fd, uint64_t cookie)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 20];

    init_header(&m, HFX_MSG_PING, 0);
    m.u.ping.cookie = cookie;
    raw_send(fd, &m, NULL, 0);
    do
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    while (m.hdr.type != HFX_MSG_PONG);
    CHECK(m.u.ping.cookie == cookie);
}

static void expect_error(int fd, enum hfx_status code, uint32_t stream, const char *says)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 16];

    do
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    while (m.hdr.type != HFX_MSG_ERROR);
    CHECK_STATUS(m.u.error.code, code);
    CHECK_EQ_INT(m.hdr.stream, stream);
    if (says && !strstr(m.u.error.text, says)) {
        fprintf(stderr, "ERROR text '%s' does not say '%s'\n", m.u.error.text, says);
        CHECK(!"ERROR text");
    }
}

/* Finding 1: a stream whose encoder failed to open, ended before the I/O
 * loop passed the failure on, crashed hfxd (a NULL stream used after a
 * nested close). One write: HELLO, CONFIGURE with an encoder that cannot
 * open, thousands of PINGs (time for the worker to fail), then the end. */
enum ending { END_CLOSE, END_CONFIGURE, END_HELLO, END_BYE, END_DISCONNECT };

static void failed_open_then(enum ending how)
{
    struct fixture f;
    struct hfx_msg m;
    static uint8_t out[3000 * 24 + 4096];
    static uint8_t buf[1 << 16];
    size_t len = 0;

    fixture_start(&f, NULL);
    int good = fixture_good_session(&f);
    int fd = fixture_raw_conn(&f);
    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = m.u.hello.max_version = 1;
    m.u.hello.caps = HFX_CAP_INLINE;
    append(out, sizeof(out), &len, &m, NULL, 0);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    strcpy(m.u.configure.encoder, "bogus");
    append(out, sizeof(out), &len, &m, NULL, 0);
    for (int i = 0; i < 3000; i++) {
        init_header(&m, HFX_MSG_PING, 0);
        m.u.ping.cookie = (uint64_t)i;
        append(out, sizeof(out), &len, &m, NULL, 0);
    }
    if (how == END_CLOSE) {
        init_header(&m, HFX_MSG_CLOSE, 1);
    } else if (how == END_CONFIGURE) {
        make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    } else if (how == END_HELLO) {
        init_header(&m, HFX_MSG_HELLO, 0);
        m.u.hello.min_version = m.u.hello.max_version = 1;
    } else {
        init_header(&m, HFX_MSG_BYE, 0);
    }
    if (how != END_DISCONNECT)
        append(out, sizeof(out), &len, &m, NULL, 0);
    raw_send_bytes(fd, out, len);
    if (how == END_DISCONNECT) {
        close(fd);
    } else {
        /* All PONGs come, in order; the stream's ERROR may come among them. */
        uint64_t next = 0;
        bool error_seen = false;
        while (next < 3000) {
            CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
            if (m.hdr.type == HFX_MSG_PONG) {
                CHECK(m.u.ping.cookie == next);
                next++;
            } else if (m.hdr.type == HFX_MSG_ERROR) {
                CHECK(!error_seen);
                CHECK_EQ_INT(m.hdr.stream, 1);
                CHECK_STATUS(m.u.error.code, HFX_E_NO_ENCODER);
                error_seen = true;
            } else {
                CHECK_EQ_INT(m.hdr.type, HFX_MSG_WELCOME);
            }
        }
        if (how == END_CONFIGURE) {
            /* The new configuration works. */
            do
                CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
            while (m.hdr.type == HFX_MSG_ERROR);
            CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
        }
        if (how == END_BYE) {
            raw_handshake(fd);
        } else if (how == END_HELLO) {
            do
                CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
            while (m.hdr.type != HFX_MSG_WELCOME);
        }
        ping_pong(fd, 77);
        close(fd);
    }
    raw_check_alive(good, 2);
    close(good);
    fixture_stop(&f);
}

static void test_failed_open_then_close(void)
{
    failed_open_then(END_CLOSE);
}

static void test_failed_open_then_configure(void)
{
    failed_open_then(END_CONFIGURE);
}

static void test_failed_open_then_hello(void)
{
    failed_open_then(END_HELLO);
}

static void test_failed_open_then_bye(void)
{
    failed_open_then(END_BYE);
}

static void test_failed_open_then_disconnect(void)
{
    failed_open_then(END_DISCONNECT);
}

/* Read until `until` arrives on the stream; every answer (PACKET or
 * FRAME_DROPPED) is checked to be the next frame id in [first, first + n),
 * exactly once. Returns the number of drops with `reason` (0: any). */
static unsigned collect_answers(int fd, uint16_t until, uint64_t first, unsigned n,
                                uint32_t reason)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 21];
    uint64_t next = first;
    unsigned drops = 0;

    for (;;) {
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        if (m.hdr.type == until)
            break;
        if (m.hdr.type == HFX_MSG_PACKET || m.hdr.type == HFX_MSG_FRAME_DROPPED) {
            uint64_t id = m.hdr.type == HFX_MSG_PACKET ? m.u.packet.frame_id
                                                       : m.u.dropped.frame_id;
            if (id != next)
                fprintf(stderr, "answer for frame %llu, expected %llu\n",
                        (unsigned long long)id, (unsigned long long)next);
            CHECK(id == next);
            next++;
            if (m.hdr.type == HFX_MSG_FRAME_DROPPED && (!reason || m.u.dropped.reason == reason))
                drops++;
        } else {
            CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
        }
    }
    CHECK(next == first + n);
    return drops;
}

/* Finding 6: on CLOSE and on reconfigure the frame being encoded got no
 * answer. Each round sends frames and ends the stream at once, so that
 * one is nearly always being encoded; every frame gets one answer before
 * CONFIGURED (reconfigure) or PONG (after CLOSE). */
static void test_end_answers_every_frame(void)
{
    struct fixture f;
    struct hfx_msg m;
    uint64_t id = 0;
    unsigned closed = 0;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, 640, 480);
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 3; i++)
            send_frame(fd, 1, id + (uint64_t)i, 640, 480);
        if (round % 2) {
            make_configure(&m, 1, HFX_FORMAT_NV12, 640, 480);
            raw_send(fd, &m, NULL, 0);
            closed += collect_answers(fd, HFX_MSG_CONFIGURED, id, 3, HFX_DROP_CLOSED);
        } else {
            send_simple(fd, HFX_MSG_CLOSE, 1);
            init_header(&m, HFX_MSG_PING, 0);
            raw_send(fd, &m, NULL, 0);
            closed += collect_answers(fd, HFX_MSG_PONG, id, 3, HFX_DROP_CLOSED);
            raw_configure(fd, 1, HFX_FORMAT_NV12, 640, 480);
        }
        id += 3;
    }
    /* Not every round catches a frame in the encoder, but some must, or
     * the test proved nothing. */
    printf("%u of 60 frames answered CLOSED\n", closed);
    CHECK(closed > 0);
    close(fd);
    fixture_stop(&f);
}

/* Finding 7: with the window overflowing, QUEUE_FULL drops of newer frames
 * went out before the PACKET of the older frame being encoded. The client
 * must outrun the encoder, under ASan too: noise pictures made beforehand,
 * the slow preset, a window of 1. */
static void test_overflow_answers_in_order(void)
{
    struct fixture f;
    struct hfx_server_options o = {.window = 1, .keyframe_min_interval_ms = -1};
    struct hfx_msg m;
    size_t size = 640 * 360 * 3 / 2;
    uint8_t *noise[2];

    srand(7);
    for (int i = 0; i < 2; i++) {
        noise[i] = malloc(size);
        CHECK(noise[i] != NULL);
        for (size_t b = 0; b < size; b++)
            noise[i][b] = (uint8_t)rand();
    }
    fixture_start(&f, &o);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 1, HFX_FORMAT_NV12, 640, 360);
    m.u.configure.latency = HFX_LATENCY_QUALITY;
    m.u.configure.bitrate_kbps = 2000;
    raw_send(fd, &m, NULL, 0);
    collect_answers(fd, HFX_MSG_CONFIGURED, 0, 0, 0);
    for (uint64_t id = 0; id < 30; id++) {
        frame_msg(&m, 1, id, 640, 360);
        raw_send(fd, &m, noise[id % 2], size);
    }
    send_simple(fd, HFX_MSG_FLUSH, 1);
    unsigned dropped = collect_answers(fd, HFX_MSG_FLUSHED, 0, 30, HFX_DROP_QUEUE_FULL);
    printf("%u of 30 frames dropped QUEUE_FULL\n", dropped);
    CHECK(dropped > 0);
    close(fd);
    fixture_stop(&f);
    free(noise[0]);
    free(noise[1]);
}

/* Finding 8: fps over 2^31 reached the encoder and came back as
 * HFX_E_INVALID, a code §8 says is never sent; now the CONFIGURE itself
 * is malformed (§5.1). And a client's PONG is not an error (§3). */
static void test_fps_over_int_is_malformed(void)
{
    struct fixture f;
    struct hfx_msg m;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    m.u.configure.fps_num = 0x80000001u;
    raw_send(fd, &m, NULL, 0);
    expect_error(fd, HFX_E_MALFORMED, 1, "fps_num");
    CHECK(raw_wait_closed(fd));
    close(fd);
    fixture_stop(&f);
}

static void test_client_pong_is_ignored(void)
{
    struct fixture f;
    struct hfx_msg m;

    fixture_start(&f, NULL);
    int fd = fixture_good_session(&f);
    init_header(&m, HFX_MSG_PONG, 0);
    m.u.ping.cookie = 5;
    raw_send(fd, &m, NULL, 0);
    ping_pong(fd, 6);
    raw_check_alive(fd, 1);
    close(fd);
    fixture_stop(&f);
}

static int sealed_memfd(size_t size)
{
    int mfd = memfd_create("hfx-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(mfd >= 0);
    CHECK(ftruncate(mfd, (off_t)size) == 0);
    CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
    return mfd;
}

/* Finding 9: a descriptor sent with a PING was kept and used by a later
 * SHM_ATTACH that carried none (§7: a descriptor belongs to the message it
 * came with). */
static void test_fd_belongs_to_its_message(void)
{
    struct fixture f;
    struct hfx_msg m;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    int mfd = sealed_memfd(8192);
    init_header(&m, HFX_MSG_PING, 0);
    m.u.ping.cookie = 1;
    raw_send_fd(fd, &m, mfd);
    close(mfd);
    ping_pong(fd, 1); /* the PING with the descriptor has been handled */
    init_header(&m, HFX_MSG_SHM_ATTACH, 0);
    m.u.shm_attach.region = 1;
    m.u.shm_attach.size = 8192;
    raw_send(fd, &m, NULL, 0);
    expect_error(fd, HFX_E_SHM_RANGE, 0, "no descriptor");
    close(fd);

    /* The same SHM_ATTACH with its descriptor works. */
    fd = fixture_good_session(&f);
    mfd = sealed_memfd(8192);
    raw_send_fd(fd, &m, mfd);
    close(mfd);
    ping_pong(fd, 3);
    close(fd);
    fixture_stop(&f);
}

/* §4, §7: SHM_ATTACH from a client whose HELLO did not offer SHM_FD. */
static void test_shm_attach_needs_the_capability(void)
{
    struct fixture f;
    struct hfx_msg m;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE) & HFX_CAP_SHM_FD);
    int mfd = sealed_memfd(8192);
    init_header(&m, HFX_MSG_SHM_ATTACH, 0);
    m.u.shm_attach.region = 1;
    m.u.shm_attach.size = 8192;
    raw_send_fd(fd, &m, mfd);
    close(mfd);
    expect_error(fd, HFX_E_UNSUPPORTED, 0, "SHM_FD");
    close(fd);
    fixture_stop(&f);
}

/* Finding 3: connections that never send HELLO took session slots, so 16
 * of them made every real client BUSY. Sessions now count from HELLO. */
static void test_silent_connections_take_no_session(void)
{
    struct fixture f;
    struct hfx_server_options o = {.max_sessions = 2, .keyframe_min_interval_ms = -1};
    int silent[20];

    fixture_start(&f, &o);
    for (int i = 0; i < 20; i++)
        silent[i] = fixture_raw_conn(&f);
    int a = fixture_good_session(&f);
    int b = fixture_good_session(&f);
    int c = fixture_raw_conn(&f);
    struct hfx_msg m;
    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = m.u.hello.max_version = 1;
    raw_send(c, &m, NULL, 0);
    expect_error(c, HFX_E_BUSY, 0, "--max-sessions");
    raw_check_alive(a, 1);
    raw_check_alive(b, 1);
    for (int i = 0; i < 20; i++)
        close(silent[i]);
    close(a);
    close(b);
    close(c);
    fixture_stop(&f);
}

/* Connections before HELLO are bounded too: at --max-handshakes the one
 * that waited longest goes, and a client that speaks gets in. */
static void test_handshake_limit_evicts_oldest(void)
{
    struct fixture f;
    struct hfx_server_options o = {.max_handshakes = 4, .keyframe_min_interval_ms = -1};
    struct timespec gap = {0, 20 * 1000 * 1000};
    int silent[4];

    fixture_start(&f, &o);
    for (int i = 0; i < 4; i++) {
        silent[i] = fixture_raw_conn(&f);
        nanosleep(&gap, NULL); /* accepted one after the other */
    }
    int fifth = fixture_raw_conn(&f);
    expect_error(silent[0], HFX_E_BUSY, 0, "--max-handshakes");
    CHECK(raw_wait_closed(silent[0]));
    nanosleep(&gap, NULL);
    /* A client that speaks gets in (the next oldest silent one goes). */
    int client = fixture_good_session(&f);
    expect_error(silent[1], HFX_E_BUSY, 0, "--max-handshakes");
    raw_check_alive(client, 1);
    struct pollfd p = {.fd = silent[2], .events = POLLIN};
    CHECK_EQ_INT(poll(&p, 1, 100), 0);
    for (int i = 0; i < 4; i++)
        close(silent[i]);
    close(fifth);
    close(client);
    fixture_stop(&f);
}

/* Finding 4: streams had no memory budget (8 streams of 8192x8192 on one
 * connection: 6.3 GB). A CONFIGURE that would not fit is refused on its
 * stream; the connection and the other streams go on. */
static void test_memory_budget(void)
{
    struct fixture f;
    struct hfx_server_options o = {.max_memory = 64ull << 20, .keyframe_min_interval_ms = -1};
    struct hfx_msg m;
    static uint8_t buf[1 << 16];

    fixture_start(&f, &o);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, 1920, 1080);
    make_configure(&m, 2, HFX_FORMAT_NV12, 1920, 1080);
    raw_send(fd, &m, NULL, 0);
    expect_error(fd, HFX_E_TOO_MANY_STREAMS, 2, "--max-memory");
    /* The refused stream answers its frames (no encoder) ... */
    struct hfx_msg fm;
    size_t big_len = 1920 * 1080 * 3 / 2;
    uint8_t *big = calloc(1, big_len);
    CHECK(big != NULL);
    frame_msg(&fm, 2, 7, 1920, 1080);
    raw_send(fd, &fm, big, big_len);
    free(big);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
    CHECK(m.u.dropped.frame_id == 7);
    CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_ENCODER);
    close(fd);

    fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, 1920, 1080);
    make_configure(&m, 2, HFX_FORMAT_NV12, 1920, 1080);
    raw_send(fd, &m, NULL, 0);
    expect_error(fd, HFX_E_TOO_MANY_STREAMS, 2, NULL);
    /* ... a small one still fits next to the large one ... */
    raw_configure(fd, 3, HFX_FORMAT_NV12, W, H);
    send_frame(fd, 3, 1, W, H);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    /* ... and closing the large one makes room again. */
    send_simple(fd, HFX_MSG_CLOSE, 1);
    raw_configure(fd, 2, HFX_FORMAT_NV12, 1920, 1080);
    close(fd);
    fixture_stop(&f);
}

/* Finding 5: a client that sends PINGs and never reads grew the host's
 * send queue past its cap (counted in payload bytes only). The host stops
 * reading such a client; once it reads, every PING has its PONG, in
 * order, and a healthy session encoded all along. */
/* PINGs (cookies 0, 1, ...) on a non-blocking fd until the host stops
 * taking them for quiet_ms, or has closed, or max were sent; returns how
 * many were. A PING on a unix socket goes whole or not at all. */
static uint64_t flood_pings(int fd, uint64_t max, int quiet_ms)
{
    struct hfx_msg m;
    uint8_t out[64];
    uint64_t sent = 0;
    size_t len;

    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
    while (sent < max) {
        init_header(&m, HFX_MSG_PING, 0);
        m.u.ping.cookie = sent;
        len = 0;
        append(out, sizeof(out), &len, &m, NULL, 0);
        ssize_t n = send(fd, out, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, quiet_ms) == 0)
                break;
            continue;
        }
        if (n < 0 && errno == EPIPE)
            break;
        CHECK_EQ_INT(n, (ssize_t)len);
        sent++;
    }
    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == 0);
    return sent;
}

static void test_ping_flood_without_reading(void)
{
    struct fixture f;
    struct hfx_msg m;
    static uint8_t buf[1 << 16];

    fixture_start(&f, NULL);
    int good = fixture_good_session(&f);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    /* Until the host stops taking PINGs for half a second (or 40 MB: the
     * old host's queue would have taken that much and more). */
    uint64_t sent = flood_pings(fd, 40u * 1024 * 1024 / 24, 500);
    printf("the host stopped taking PINGs after %llu (%llu bytes)\n",
           (unsigned long long)sent, (unsigned long long)sent * 24);
    CHECK(sent < 40u * 1024 * 1024 / 24);
    raw_check_alive(good, 5);
    for (uint64_t i = 0; i < sent; i++) {
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
        CHECK(m.u.ping.cookie == i);
    }
    ping_pong(fd, 1u << 30);
    close(fd);
    close(good);
    fixture_stop(&f);
}

/* A client that lets the host's send queue overflow (a cap under the
 * 1 MiB at which the host stops reading, so that PONGs overflow it) is told
 * so: every PONG queued before the overflow, in order, then ERROR
 * SLOW_CONSUMER on stream 0, then the end of the connection. Before, the
 * host closed without the ERROR. */
static void test_slow_consumer_is_told(void)
{
    struct hfx_server_options o = {.max_queued = 64 * 1024};
    struct fixture f;
    struct hfx_msg m;
    static uint8_t buf[1 << 16];
    uint64_t pongs = 0;

    fixture_start(&f, &o);
    int good = fixture_good_session(&f);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    /* Until the host stops taking PINGs: it no longer reads once it has
     * closed the session. 4 MB of PINGs is far more than both socket
     * buffers and the queue hold. */
    uint64_t sent = flood_pings(fd, 4u * 1024 * 1024 / 24, 200);
    CHECK(sent < 4u * 1024 * 1024 / 24);
    while (raw_recv(fd, &m, buf, sizeof(buf)) && m.hdr.type == HFX_MSG_PONG) {
        CHECK(m.u.ping.cookie == pongs);
        pongs++;
    }
    printf("%llu PINGs sent, %llu PONGs before the ERROR\n", (unsigned long long)sent,
           (unsigned long long)pongs);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_EQ_INT(m.hdr.stream, 0);
    CHECK_STATUS(m.u.error.code, HFX_E_SLOW_CONSUMER);
    CHECK(pongs > 0 && pongs < sent);
    CHECK(raw_wait_closed(fd));
    raw_check_alive(good, 5);
    close(fd);
    close(good);
    fixture_stop(&f);
}

static void hello_with_token(int fd, const char *token)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = m.u.hello.max_version = 1;
    m.u.hello.token_len = (uint16_t)strlen(token);
    memcpy(m.u.hello.token, token, strlen(token));
    raw_send(fd, &m, NULL, 0);
}

/* Finding 11: wrong tokens cost nothing (2000-5200 guesses a second).
 * Every failure makes the peer wait longer before its next HELLO is read,
 * and parallel connections wait their turn. */
static void test_token_guessing_is_slowed(void)
{
    struct fixture f;
    struct hfx_server_options o = {.token = "sesame", .keyframe_min_interval_ms = -1};
    struct hfx_msg m;
    static uint8_t buf[4096];
    int64_t t0, t1;

    fixture_start(&f, &o);
    t0 = now_ms();
    for (int i = 0; i < 3; i++) {
        int fd = fixture_raw_conn(&f);
        hello_with_token(fd, "sesamE");
        expect_error(fd, HFX_E_AUTH, 0, "token");
        close(fd);
    }
    t1 = now_ms();
    /* The 2nd and 3rd HELLO wait 100 and 200 ms. */
    printf("3 wrong tokens in a row: %lld ms\n", (long long)(t1 - t0));
    CHECK(t1 - t0 >= 280);

    /* Three at once: the next waits 400 ms, then 800, then 1600. */
    int par[3];
    int64_t answered[3];
    for (int i = 0; i < 3; i++) {
        par[i] = fixture_raw_conn(&f);
        hello_with_token(par[i], "guess");
    }
    for (int i = 0; i < 3; i++) {
        struct pollfd p[3];
        int n = 0;
        for (int k = 0; k < 3; k++)
            p[k] = (struct pollfd){.fd = par[k], .events = POLLIN};
        (void)n;
        CHECK(poll(p, 3, 5000) > 0);
        for (int k = 0; k < 3; k++) {
            if (par[k] >= 0 && (p[k].revents & POLLIN)) {
                expect_error(par[k], HFX_E_AUTH, 0, NULL);
                answered[i] = now_ms();
                close(par[k]);
                par[k] = -1;
                break;
            }
        }
    }
    printf("3 parallel wrong tokens answered at +%lld, +%lld, +%lld ms\n",
           (long long)(answered[0] - t1), (long long)(answered[1] - t1),
           (long long)(answered[2] - t1));
    CHECK(answered[2] - answered[0] >= 2000);

    /* The right token gets in after the wait. */
    int fd = fixture_raw_conn(&f);
    hello_with_token(fd, "sesame");
    do
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    while (m.hdr.type != HFX_MSG_WELCOME);
    close(fd);
    fixture_stop(&f);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Finding 2: at the descriptor limit accept failed with EMFILE, the
 * listener stayed readable and poll spun (80-99% of a core, megabytes of
 * log a second). The server here shares this process's limit. */
static void test_out_of_descriptors(void)
{
    struct fixture f;
    struct rlimit old, rl;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int clients[64];
    int n = 0;
    unsigned shed = 0;

    fixture_start(&f, NULL);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", f.dir);
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    rl = old;
    rl.rlim_cur = (rlim_t)check_count_fds() + 16;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    /* Connect until this process (client and server ends together) has no
     * descriptor left: the last connections wait in the backlog. */
    while (n < 64) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            break;
        }
        clients[n++] = fd;
        struct timespec gap = {0, 5 * 1000 * 1000};
        nanosleep(&gap, NULL);
    }
    double c0 = cpu_seconds();
    sleep(1);
    double used = cpu_seconds() - c0;
    printf("%d connections; CPU over 1 s at the limit: %.3f s\n", n, used);
    CHECK(used < 0.3);
    /* Connections the host could not take were closed, not left hanging. */
    for (int i = 0; i < n; i++) {
        char c;
        struct pollfd p = {.fd = clients[i], .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && read(clients[i], &c, 1) == 0)
            shed++;
    }
    /* Client and server share this process's descriptors, so which
     * connections the server could still shed varies; test-hfxd's
     * out_of_descriptors checks that with a real hfxd. */
    printf("%u of them closed by the host\n", shed);
    for (int i = 0; i < n; i++)
        close(clients[i]);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    /* With descriptors back, clients get in. */
    struct timespec settle = {0, 200 * 1000 * 1000};
    nanosleep(&settle, NULL);
    int good = fixture_good_session(&f);
    raw_check_alive(good, 1);
    close(good);
    fixture_stop(&f);
}

/* A frame may be far larger than its picture (a stride up to 2^20, §5.3):
 * the host keeps only the picture's rows of it while the frame waits, and
 * encodes the same picture as from a tight frame. */
static void test_padded_frame_is_the_same_picture(void)
{
    struct fixture f;
    struct hfx_msg m, p1, p2;
    const uint32_t stride = 512 * 1024;
    size_t big_len = (size_t)stride * (W + H / 2);
    uint8_t *big = calloc(1, big_len);
    static uint8_t a1[1 << 16], a2[1 << 16];

    CHECK(big != NULL);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++)
            picture[y * W + x] = big[(size_t)y * stride + x] = (uint8_t)(x * 3 + y * 5);
    for (uint32_t y = 0; y < H / 2; y++)
        for (uint32_t x = 0; x < W; x++)
            picture[W * H + y * W + x] = big[(size_t)stride * H + (size_t)y * stride + x] =
                (uint8_t)(128 + x - y);
    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    raw_configure(fd, 2, HFX_FORMAT_NV12, W, H);
    send_frame(fd, 1, 1, W, H);
    CHECK(raw_recv(fd, &p1, a1, sizeof(a1)));
    frame_msg(&m, 2, 1, W, H);
    m.u.frame.planes[0].stride = stride;
    m.u.frame.planes[1].offset = (uint64_t)stride * H;
    m.u.frame.planes[1].stride = stride;
    raw_send(fd, &m, big, big_len);
    CHECK(raw_recv(fd, &p2, a2, sizeof(a2)));
    CHECK_EQ_INT(p1.hdr.type, HFX_MSG_PACKET);
    CHECK_EQ_INT(p2.hdr.type, HFX_MSG_PACKET);
    CHECK_EQ_INT(p1.u.packet.data_len, p2.u.packet.data_len);
    CHECK(memcmp(p1.u.packet.data, p2.u.packet.data, p1.u.packet.data_len) == 0);
    free(big);
    close(fd);
    fixture_stop(&f);
}

static void configure_with(int fd, uint32_t stream, const char *encoder)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 16];

    make_configure(&m, stream, HFX_FORMAT_NV12, W, H);
    snprintf(m.u.configure.encoder, sizeof(m.u.configure.encoder), "%s", encoder);
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
}

/* An encoder that fails frame after frame (the fault layer's
 * fault-fail-at): each failed frame is FRAME_DROPPED ENCODER, the 8th in a
 * row ends the stream with ERROR HFX_E_ENCODER (§8), later frames are
 * answered ENCODER, the connection stays and the id can be configured
 * again. */
static void test_encoder_fails_for_good(void)
{
    struct fixture f;
    struct hfx_msg m;
    static uint8_t buf[1 << 16];
    bool error_seen = false;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    configure_with(fd, 1, "fault-fail-at=2@fake");
    for (uint64_t id = 0; id < 14; id++) {
        send_frame(fd, 1, id, W, H);
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        if (m.hdr.type == HFX_MSG_ERROR) {
            /* Right after the 8th failure's drop (frame 9). */
            CHECK(!error_seen && id == 10);
            CHECK_STATUS(m.u.error.code, HFX_E_ENCODER);
            CHECK_EQ_INT(m.hdr.stream, 1);
            error_seen = true;
            CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        }
        if (id < 2) {
            CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
            CHECK(m.u.packet.frame_id == id);
        } else {
            CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
            CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_ENCODER);
            CHECK(m.u.dropped.frame_id == id);
        }
    }
    CHECK(error_seen);
    ping_pong(fd, 9);
    configure_with(fd, 1, "fake");
    send_frame(fd, 1, 100, W, H);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    close(fd);
    fixture_stop(&f);
}

/* A client that keeps sending while its encoder is stalled: drops wait
 * behind the frame being encoded (one answer per frame, in order), and at
 * 256 unanswered frames the connection ends with HFX_E_SLOW_CONSUMER
 * (§6) instead of the host tracking them without bound. */
static void test_stalled_encoder_bounds_unanswered(void)
{
    struct fixture f;
    struct hfx_msg m;
    static uint8_t buf[1 << 16];
    char name[32];
    int gate[2];

    CHECK(pipe(gate) == 0);
    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    snprintf(name, sizeof(name), "fault-block=%d@fake", gate[0]);
    configure_with(fd, 1, name);
    for (uint64_t id = 0; id < 300; id++)
        send_frame(fd, 1, id, W, H);
    /* Frames dropped before the worker took its first one are answered at
     * once (nothing older waits); then nothing until the ERROR. */
    unsigned early = 0;
    for (;;) {
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        if (m.hdr.type != HFX_MSG_FRAME_DROPPED)
            break;
        CHECK(m.u.dropped.frame_id == early);
        CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_QUEUE_FULL);
        early++;
    }
    CHECK(early < 40);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_STATUS(m.u.error.code, HFX_E_SLOW_CONSUMER);
    CHECK(strstr(m.u.error.text, "256 frames") != NULL);
    CHECK(raw_wait_closed(fd));
    close(gate[1]); /* the worker's send returns; the stream goes */
    close(fd);
    int good = fixture_good_session(&f);
    raw_check_alive(good, 1);
    close(good);
    fixture_stop(&f);
    close(gate[0]);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_failed_open_then_close),
        CHECK_CASE(test_failed_open_then_configure),
        CHECK_CASE(test_failed_open_then_hello),
        CHECK_CASE(test_failed_open_then_bye),
        CHECK_CASE(test_failed_open_then_disconnect),
        CHECK_CASE(test_end_answers_every_frame),
        CHECK_CASE(test_overflow_answers_in_order),
        CHECK_CASE(test_fps_over_int_is_malformed),
        CHECK_CASE(test_client_pong_is_ignored),
        CHECK_CASE(test_fd_belongs_to_its_message),
        CHECK_CASE(test_shm_attach_needs_the_capability),
        CHECK_CASE(test_silent_connections_take_no_session),
        CHECK_CASE(test_handshake_limit_evicts_oldest),
        CHECK_CASE(test_memory_budget),
        CHECK_CASE(test_ping_flood_without_reading),
        CHECK_CASE(test_slow_consumer_is_told),
        CHECK_CASE(test_token_guessing_is_slowed),
        CHECK_CASE(test_out_of_descriptors),
        CHECK_CASE(test_padded_frame_is_the_same_picture),
        CHECK_CASE(test_encoder_fails_for_good),
        CHECK_CASE(test_stalled_encoder_bounds_unanswered),
    };
    memset(picture, 0x80, sizeof(picture));
    av_log_set_level(AV_LOG_QUIET);
    return check_run(cases, CHECK_COUNT(cases));
}
