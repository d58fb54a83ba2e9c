/* SPDX-License-Identifier: MIT */
/*
 * Scanouts (include/hfx/scanout.h, docs/protocol.md §5.17) from outside:
 * an in-process server with one scanout, the test thread as the embedder
 * that publishes pictures, raw protocol clients that SUBSCRIBE. What a
 * subscriber must see: WELCOME says SCANOUT; a CONFIGURED of the picture's
 * size, then an IDR, then one PACKET per published picture in order, each
 * decoding to that picture; the rate it asked for enforced on the
 * publisher; keep-alive requests while nothing is published; a new
 * CONFIGURED and an IDR when the size changes; a subscriber that comes
 * later starts at an IDR; one that never reads does not hold up the
 * others, is told of its gap once and resumes at an IDR; refusals (no
 * SCANOUT in HELLO, no such scanout, 17 subscribers, FRAME and SET_BITRATE
 * on a subscription) with the right codes; CLOSE and a session's end
 * leave the scanout unwanted.
 */
#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "h264-decode.h"
#include "hfx/client.h"
#include "hfx/scanout.h"
#include "pattern.h"
#include "server-fixture.h"
#include "util/clock.h"

#define W 320
#define H 240
#define BUF_CAP (HFX_HEADER_SIZE + (8u << 20))

#define MAX_INPUTS 16

struct display {
    struct hfx_scanout *sc;
    struct hfx_scanout *broken; /* scanout 1: its encoder does not exist */
    atomic_uint wants;          /* want_picture calls */
    uint32_t bitrate_kbps;
    /* Input: taken when set; what came, with the size it came for. */
    bool takes_input;
    int guest_fd; /* the client end of a transport added, not accepted */
    pthread_mutex_t lock;
    struct hfx_input inputs[MAX_INPUTS];
    uint32_t input_w[MAX_INPUTS], input_h[MAX_INPUTS];
    unsigned ninputs;
};

static void on_input(void *user, const struct hfx_input *in, uint32_t width, uint32_t height)
{
    struct display *d = user;

    pthread_mutex_lock(&d->lock);
    if (d->ninputs < MAX_INPUTS) {
        d->inputs[d->ninputs] = *in;
        d->input_w[d->ninputs] = width;
        d->input_h[d->ninputs] = height;
        d->ninputs++;
    }
    pthread_mutex_unlock(&d->lock);
}

static void want_picture(void *user)
{
    struct display *d = user;
    atomic_fetch_add(&d->wants, 1);
}

static void add_scanout(struct hfx_server *srv, void *user)
{
    struct display *d = user;
    struct hfx_scanout_options o = {
        .number = 0,
        .bitrate_kbps = d->bitrate_kbps,
        .want_picture = want_picture,
        .input = d->takes_input ? on_input : NULL,
        .user = d,
    };
    struct hfx_scanout *other;
    struct hfx_transport *t = NULL;
    int sv[2];

    CHECK_STATUS(hfx_server_add_scanout(srv, &o, &d->sc), HFX_OK);
    /* A connection the embedder adds itself (as QEMU's chardev adds the
     * guest's port), beside the listener's. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, &t), HFX_OK);
    CHECK_STATUS(hfx_server_add_transport(srv, t), HFX_OK);
    d->guest_fd = sv[1];
    /* One number, one scanout. */
    CHECK_STATUS(hfx_server_add_scanout(srv, &o, &other), HFX_E_INVALID);
    o.number = 1;
    o.encoder = "no-such-encoder";
    CHECK_STATUS(hfx_server_add_scanout(srv, &o, &d->broken), HFX_OK);
}

static void start_with(struct fixture *f, struct display *d, uint32_t bitrate_kbps,
                       bool takes_input)
{
    /* Sessions for 17 subscribers and more. */
    struct hfx_server_options o = {
        .encoder = "libx264", .keyframe_min_interval_ms = 0, .max_sessions = 40};

    memset(d, 0, sizeof(*d));
    d->bitrate_kbps = bitrate_kbps;
    d->takes_input = takes_input;
    pthread_mutex_init(&d->lock, NULL);
    fixture_start_hook(f, &o, add_scanout, d);
}

static void start(struct fixture *f, struct display *d, uint32_t bitrate_kbps)
{
    start_with(f, d, bitrate_kbps, false);
}

static void stop(struct fixture *f, struct display *d)
{
    if (d->guest_fd >= 0)
        close(d->guest_fd);
    fixture_stop(f);
    pthread_mutex_destroy(&d->lock);
}

static void send_subscribe(int fd, uint32_t stream, uint32_t scanout, uint16_t fps,
                           uint16_t keepalive_ms)
{
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_SUBSCRIBE;
    m.hdr.stream = stream;
    m.u.subscribe.scanout = scanout;
    m.u.subscribe.max_fps = fps;
    m.u.subscribe.keepalive_ms = keepalive_ms;
    raw_send(fd, &m, NULL, 0);
}

static int subscriber(struct fixture *f, uint32_t stream, uint16_t fps, uint16_t keepalive_ms)
{
    int fd = fixture_raw_conn(f);

    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT) & HFX_CAP_SCANOUT);
    send_subscribe(fd, stream, 0, fps, keepalive_ms);
    return fd;
}

/* Waits until want_picture was called more than `seen` times. */
static void wait_wants(struct display *d, unsigned seen)
{
    int64_t until = hfx_clock_ms() + check_timeout_ms(5000);

    while (atomic_load(&d->wants) <= seen && hfx_clock_ms() < until)
        hfx_sleep_ms(2);
    CHECK(atomic_load(&d->wants) > seen);
}

/* Publish picture `index` of the pattern at w x h (BGRx) on sc, waiting
 * out the rate limit. */
static void publish_on(struct hfx_scanout *sc, uint32_t w, uint32_t h, uint64_t index)
{
    struct hfx_image img;
    uint32_t retry = 0;
    enum hfx_status st;

    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_BGRX, w, h), HFX_OK);
    hfx_pattern_fill(&img, index);
    while ((st = hfx_scanout_publish(sc, HFX_FORMAT_BGRX, w, h, img.plane[0], img.stride[0],
                                     &retry)) == HFX_E_BUSY) {
        CHECK(retry >= 1 && retry <= 1000);
        hfx_sleep_ms(retry);
    }
    CHECK_STATUS(st, HFX_OK);
    hfx_image_release(&img);
}

static void publish(struct display *d, uint32_t w, uint32_t h, uint64_t index)
{
    publish_on(d->sc, w, h, index);
}

/* The next message on fd other than PONG. */
static void next_msg(int fd, struct hfx_msg *m, uint8_t *buf)
{
    do
        CHECK(raw_recv(fd, m, buf, BUF_CAP));
    while (m->hdr.type == HFX_MSG_PONG);
}

/* PING -> PONG with nothing else in between: the connection is alive and
 * has nothing more to say. */
static void ping_pong(int fd)
{
    uint8_t buf[256];
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PING;
    m.u.ping.cookie = 77;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
    CHECK(m.u.ping.cookie == 77);
}

/* Decodes PACKETs and compares each picture with the pattern picture the
 * PACKET's frame_id names (the test publishes picture i as frame i). */
struct checker {
    struct hfx_h264_decoder *dec;
    uint32_t w, h;
    uint64_t frame_id;
    double min_psnr;
    unsigned pictures;
};

static void on_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct checker *c = user;
    struct hfx_image src, ref;
    struct hfx_psnr p;

    CHECK_EQ_INT(img->width, c->w);
    CHECK_EQ_INT(img->height, c->h);
    CHECK_STATUS(hfx_image_alloc(&src, HFX_FORMAT_BGRX, c->w, c->h), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&ref, HFX_FORMAT_I420, c->w, c->h), HFX_OK);
    hfx_pattern_fill(&src, c->frame_id);
    CHECK_STATUS(hfx_image_convert(&src, &ref), HFX_OK);
    CHECK_STATUS(hfx_image_psnr(img, &ref, &p), HFX_OK);
    if (p.all < c->min_psnr)
        c->min_psnr = p.all;
    c->pictures++;
    hfx_image_release(&src);
    hfx_image_release(&ref);
}

static void checker_init(struct checker *c, uint32_t w, uint32_t h)
{
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->h = h;
    c->min_psnr = HFX_PSNR_MAX;
    CHECK_STATUS(hfx_h264_decoder_new(on_picture, c, &c->dec), HFX_OK);
}

static void check_packet(struct checker *c, const struct hfx_msg *m)
{
    c->frame_id = m->u.packet.frame_id;
    CHECK_STATUS(hfx_h264_decoder_decode_au(c->dec, m->u.packet.data, m->u.packet.data_len,
                                            m->u.packet.pts),
                 HFX_OK);
}

/* CONFIGURED of w x h on stream, then the IDR of picture `index`. */
static void expect_start(int fd, uint32_t stream, struct checker *c, uint32_t w, uint32_t h,
                         uint64_t index, uint8_t *buf)
{
    struct hfx_msg m;

    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    CHECK_EQ_INT(m.hdr.stream, stream);
    CHECK_EQ_INT(m.u.configured.width, w);
    CHECK_EQ_INT(m.u.configured.height, h);
    CHECK_EQ_INT(m.u.configured.codec, HFX_CODEC_H264);
    CHECK(m.u.configured.extradata_len > 0);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    CHECK(m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME);
    CHECK_EQ_INT(m.u.packet.frame_id, index);
    check_packet(c, &m);
}

/* One subscriber: CONFIGURED, an IDR, then every picture in order at the
 * picture it names; the rate limit tells the publisher when to come back;
 * pts is the host's monotonic clock when the picture was taken. */
static void test_pictures_in_order(void)
{
    struct fixture f;
    struct display d;
    struct checker c;
    struct hfx_msg m;
    uint8_t *buf = malloc(BUF_CAP);
    int64_t before;
    int fd;

    start(&f, &d, 2000);
    CHECK(!hfx_scanout_wanted(d.sc));
    fd = subscriber(&f, 1, 30, 0);
    wait_wants(&d, 0);
    CHECK(hfx_scanout_wanted(d.sc));
    checker_init(&c, W, H);
    before = hfx_clock_ns() / 1000;
    publish(&d, W, H, 1);
    expect_start(fd, 1, &c, W, H, 1, buf);
    for (uint64_t i = 2; i <= 20; i++) {
        publish(&d, W, H, i);
        next_msg(fd, &m, buf);
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
        CHECK_EQ_INT(m.hdr.stream, 1);
        CHECK_EQ_INT(m.u.packet.frame_id, i);
        CHECK(m.u.packet.pts >= before && m.u.packet.pts <= hfx_clock_ns() / 1000);
        check_packet(&c, &m);
    }
    CHECK_STATUS(hfx_h264_decoder_flush(c.dec), HFX_OK);
    fprintf(stderr, "20 pictures decoded: %u, min PSNR %.2f dB\n", c.pictures, c.min_psnr);
    CHECK_EQ_INT(c.pictures, 20);
    CHECK(c.min_psnr >= 35.0);
    hfx_h264_decoder_free(&c.dec);
    close(fd);
    stop(&f, &d);
    free(buf);
}

/* While nothing is published the server asks for a picture every
 * keep-alive interval; the pictures come as packets; a size change gives a
 * new CONFIGURED and an IDR. */
static void test_keepalive_and_resize(void)
{
    struct fixture f;
    struct display d;
    struct checker c;
    struct hfx_msg m;
    uint8_t *buf = malloc(BUF_CAP);
    unsigned w0;
    int fd;

    start(&f, &d, 2000);
    fd = subscriber(&f, 3, 60, 100);
    wait_wants(&d, 0);
    checker_init(&c, W, H);
    publish(&d, W, H, 1);
    expect_start(fd, 3, &c, W, H, 1, buf);
    w0 = atomic_load(&d.wants);
    hfx_sleep_ms(650);
    fprintf(stderr, "keep-alive 100 ms: %u requests in 650 ms\n", atomic_load(&d.wants) - w0);
    CHECK(atomic_load(&d.wants) - w0 >= 4);
    CHECK(atomic_load(&d.wants) - w0 <= 8);
    /* The embedder answers one: the same picture again is a packet. */
    publish(&d, W, H, 1);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    CHECK_EQ_INT(m.u.packet.frame_id, 2);
    hfx_h264_decoder_free(&c.dec);

    checker_init(&c, 2 * W, 2 * H);
    publish(&d, 2 * W, 2 * H, 3);
    expect_start(fd, 3, &c, 2 * W, 2 * H, 3, buf);
    CHECK_STATUS(hfx_h264_decoder_flush(c.dec), HFX_OK);
    CHECK_EQ_INT(c.pictures, 1);
    CHECK(c.min_psnr >= 35.0);
    hfx_h264_decoder_free(&c.dec);
    close(fd);
    stop(&f, &d);
    free(buf);
}

/* Drains what is readable on fd without blocking; counts packets, notes
 * the first FRAME_DROPPED and the first packet after it. */
struct late_reader {
    unsigned packets, drops;
    uint64_t dropped_id;
    bool first_after_gap_is_key;
    bool saw_after_gap;
    uint64_t last_id;
};

static void drain(int fd, struct late_reader *r, uint8_t *buf, int wait_ms)
{
    struct hfx_msg m;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (poll(&p, 1, wait_ms) > 0) {
        next_msg(fd, &m, buf);
        if (m.hdr.type == HFX_MSG_FRAME_DROPPED) {
            CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_QUEUE_FULL);
            if (!r->drops++)
                r->dropped_id = m.u.dropped.frame_id;
        } else if (m.hdr.type == HFX_MSG_PACKET) {
            if (r->drops && !r->saw_after_gap) {
                r->saw_after_gap = true;
                r->first_after_gap_is_key = (m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME) != 0;
            }
            CHECK(m.u.packet.frame_id > r->last_id);
            r->last_id = m.u.packet.frame_id;
            r->packets++;
        }
    }
}

/* Two subscribers; B does not read while 30 large pictures go out. A gets
 * every one; B is told once that it missed pictures, and after it reads
 * again it resumes at an IDR. A third who comes late starts at an IDR. */
static void test_slow_subscriber(void)
{
    struct fixture f;
    struct display d;
    struct late_reader rb = {0};
    struct hfx_msg m;
    uint8_t *buf = malloc(BUF_CAP);
    unsigned a_packets = 0;
    int a, b, late;
    int small = 16384;

    /* 100 Mbit/s at 30 fps: pictures of up to 400 kB, so that B's queue
     * passes 1 MiB after a few. */
    start(&f, &d, 100000);
    a = subscriber(&f, 1, 30, 0);
    b = subscriber(&f, 2, 30, 0);
    CHECK(setsockopt(b, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
    wait_wants(&d, 1);
    for (uint64_t i = 1; i <= 30; i++) {
        struct hfx_image img;
        uint32_t retry;
        enum hfx_status st;
        CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_BGRX, 1280, 720), HFX_OK);
        for (size_t k = 0; k < img.size; k++)
            img.base[k] = (uint8_t)(rand() & 0xff);
        while ((st = hfx_scanout_publish(d.sc, HFX_FORMAT_BGRX, 1280, 720, img.plane[0],
                                         img.stride[0], &retry)) == HFX_E_BUSY)
            hfx_sleep_ms(retry);
        CHECK_STATUS(st, HFX_OK);
        hfx_image_release(&img);
        if (i == 1) {
            next_msg(a, &m, buf);
            CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
        }
        next_msg(a, &m, buf);
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
        CHECK_EQ_INT(m.u.packet.frame_id, i);
        a_packets++;
    }
    fprintf(stderr, "A: %u packets of 30\n", a_packets);
    /* B reads now; one more picture comes after its queue drained. */
    drain(b, &rb, buf, 500);
    publish(&d, 1280, 720, 31);
    next_msg(a, &m, buf);
    CHECK_EQ_INT(m.u.packet.frame_id, 31);
    drain(b, &rb, buf, 1000);
    fprintf(stderr,
            "B: %u packets, %u FRAME_DROPPED (first for picture %llu), first packet after "
            "the gap %s\n",
            rb.packets, rb.drops, (unsigned long long)rb.dropped_id,
            rb.first_after_gap_is_key ? "an IDR" : "not an IDR");
    CHECK_EQ_INT(rb.drops, 1);
    CHECK(rb.packets < 31);
    CHECK(rb.saw_after_gap && rb.first_after_gap_is_key);
    CHECK_EQ_INT(rb.last_id, 31);

    /* A late subscriber: CONFIGURED at once, its first packet an IDR. */
    late = subscriber(&f, 7, 30, 0);
    next_msg(late, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    CHECK_EQ_INT(m.u.configured.width, 1280);
    publish(&d, 1280, 720, 32);
    next_msg(late, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    CHECK(m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME);
    CHECK_EQ_INT(m.u.packet.frame_id, 32);
    close(a);
    close(b);
    close(late);
    stop(&f, &d);
    free(buf);
}

/* The refusals, each with its code, and the end of subscriptions. */
static void test_refusals(void)
{
    struct fixture f;
    struct display d;
    struct hfx_msg m;
    uint8_t *buf = malloc(BUF_CAP);
    int fds[HFX_SCANOUT_MAX_SUBSCRIBERS];
    int fd;

    start(&f, &d, 2000);
    /* HELLO without SCANOUT: WELCOME says SCANOUT, SUBSCRIBE is refused
     * and the connection closed. */
    fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE) & HFX_CAP_SCANOUT);
    send_subscribe(fd, 1, 0, 30, 0);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_EQ_INT(m.u.error.code, HFX_E_UNSUPPORTED);
    CHECK(raw_wait_closed(fd));
    close(fd);

    /* No scanout 9: ERROR on the stream; the connection stays. */
    fd = fixture_raw_conn(&f);
    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT);
    send_subscribe(fd, 2, 9, 30, 0);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_EQ_INT(m.hdr.stream, 2);
    CHECK_EQ_INT(m.u.error.code, HFX_E_NO_SOURCE);
    fprintf(stderr, "no scanout 9: %s\n", m.u.error.text);
    ping_pong(fd);
    /* The stream is failed (§5): a FRAME on it is dropped with reason
     * ENCODER, not checked against a CONFIGURE that never came, and the
     * connection stays. */
    {
        static uint8_t picture[GOOD_W * GOOD_H * 3 / 2];
        make_good_frame(&m, 7);
        m.hdr.stream = 2;
        raw_send(fd, &m, picture, sizeof(picture));
        next_msg(fd, &m, buf);
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
        CHECK_EQ_INT(m.hdr.stream, 2);
        CHECK_EQ_INT(m.u.dropped.frame_id, 7);
        CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_ENCODER);
        ping_pong(fd);
    }
    close(fd);

    /* 16 subscribers, then the 17th: HFX_E_BUSY on its stream. */
    for (int i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++)
        fds[i] = subscriber(&f, 1, 30, 0);
    fd = subscriber(&f, 4, 30, 0);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_EQ_INT(m.hdr.stream, 4);
    CHECK_EQ_INT(m.u.error.code, HFX_E_BUSY);
    ping_pong(fd);
    /* CLOSE of the failed stream frees the id; a CLOSE and the end of
     * the others' sessions leave nobody: the scanout is no longer wanted. */
    CHECK(hfx_scanout_wanted(d.sc));
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_CLOSE;
    m.hdr.stream = 1;
    raw_send(fds[0], &m, NULL, 0);
    ping_pong(fds[0]);
    for (int i = 1; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++)
        close(fds[i]);
    for (int tries = 0; hfx_scanout_wanted(d.sc) && tries < 500; tries++)
        hfx_sleep_ms(10);
    CHECK(!hfx_scanout_wanted(d.sc));

    /* FRAME and SET_BITRATE on a subscription are refused (HFX_E_STATE). */
    for (int k = 0; k < 2; k++) {
        int s = subscriber(&f, 5, 30, 0);
        if (k == 0) {
            static uint8_t picture[GOOD_W * GOOD_H * 3 / 2];
            make_good_frame(&m, 1);
            m.hdr.stream = 5;
            raw_send(s, &m, picture, sizeof(picture));
        } else {
            memset(&m, 0, sizeof(m));
            m.hdr.type = HFX_MSG_SET_BITRATE;
            m.hdr.stream = 5;
            m.u.set_bitrate.kbps = 100;
            raw_send(s, &m, NULL, 0);
        }
        do
            next_msg(s, &m, buf);
        while (m.hdr.type != HFX_MSG_ERROR);
        CHECK_EQ_INT(m.u.error.code, HFX_E_STATE);
        fprintf(stderr, "refused: %s\n", m.u.error.text);
        CHECK(raw_wait_closed(s));
        close(s);
    }
    close(fds[0]);
    close(fd);
    stop(&f, &d);
    free(buf);
}

/* A stream configured, then subscribed to a scanout that fails it (its
 * encoder cannot open): the stream is failed with no configuration, so a
 * FRAME the old CONFIGURE would refuse is dropped (ENCODER) and the
 * connection stays (§5.17). */
static void test_failed_subscription_forgets_configure(void)
{
    static uint8_t picture[GOOD_W * GOOD_H * 3 / 2];
    struct fixture f;
    struct display d;
    struct hfx_msg m;
    uint8_t *buf = malloc(BUF_CAP);
    int fd;

    start(&f, &d, 2000);
    fd = fixture_raw_conn(&f);
    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT);
    make_configure(&m, 3, HFX_FORMAT_NV12, GOOD_W * 2, GOOD_H * 2);
    raw_send(fd, &m, NULL, 0);
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    send_subscribe(fd, 3, 1, 30, 0);
    for (int tries = 0; !hfx_scanout_wanted(d.broken) && tries < 500; tries++)
        hfx_sleep_ms(10);
    CHECK(hfx_scanout_wanted(d.broken));
    publish_on(d.broken, 320, 240, 0);
    do
        next_msg(fd, &m, buf);
    while (m.hdr.type != HFX_MSG_ERROR);
    CHECK_EQ_INT(m.hdr.stream, 3);
    CHECK_EQ_INT(m.u.error.code, HFX_E_NO_ENCODER);
    fprintf(stderr, "scanout 1 failed its subscriber: %s\n", m.u.error.text);
    make_good_frame(&m, 11);
    m.hdr.stream = 3;
    raw_send(fd, &m, picture, sizeof(picture));
    next_msg(fd, &m, buf);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
    CHECK_EQ_INT(m.u.dropped.frame_id, 11);
    CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_ENCODER);
    ping_pong(fd);
    close(fd);
    stop(&f, &d);
    free(buf);
}

/* The same through libhfx's client (hfx_client_subscribe): events as for
 * a configured stream; bad arguments refused before anything is sent. */
static void test_client_api(void)
{
    struct fixture f;
    struct display d;
    struct hfx_client *c = NULL;
    struct hfx_subscribe sub = {.scanout = 0, .max_fps = 30};
    struct hfx_subscribe bad = {.scanout = 0, .max_fps = 0};
    struct hfx_event ev;
    char err[HFX_MAX_TEXT + 1];

    start(&f, &d, 2000);
    CHECK_STATUS(hfx_client_connect(f.address, NULL, &c, err, sizeof(err)), HFX_OK);
    CHECK(hfx_client_welcome(c)->caps & HFX_CAP_SCANOUT);
    CHECK_STATUS(hfx_client_subscribe(c, 2, &bad), HFX_E_INVALID);
    bad.max_fps = 30;
    bad.keepalive_ms = 5;
    CHECK_STATUS(hfx_client_subscribe(c, 2, &bad), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_subscribe(c, 2, &sub), HFX_OK);
    wait_wants(&d, 0);
    publish(&d, W, H, 1);
    CHECK_STATUS(hfx_client_next_event(c, check_timeout_ms(5000), &ev), HFX_OK);
    CHECK_EQ_INT(ev.type, HFX_EVENT_CONFIGURED);
    CHECK_EQ_INT(ev.stream, 2);
    CHECK_EQ_INT(ev.u.configured.width, W);
    CHECK_STATUS(hfx_client_next_event(c, check_timeout_ms(5000), &ev), HFX_OK);
    CHECK_EQ_INT(ev.type, HFX_EVENT_PACKET);
    CHECK(ev.keyframe);
    CHECK_EQ_INT(ev.u.packet.frame_id, 1);
    CHECK_STATUS(hfx_client_close_stream(c, 2), HFX_OK);
    hfx_client_free(&c);
    for (int tries = 0; hfx_scanout_wanted(d.sc) && tries < 500; tries++)
        hfx_sleep_ms(10);
    CHECK(!hfx_scanout_wanted(d.sc));
    stop(&f, &d);
}

/* The rate a subscriber asked for is the publisher's limit: at 1 fps a
 * second picture right after the first is refused, with the time to wait.
 * (1 fps: even under valgrind the two calls are far less than a second
 * apart.) */
static void test_rate_limit(void)
{
    struct fixture f;
    struct display d;
    struct hfx_image img;
    uint32_t retry = 0;
    int fd;

    start(&f, &d, 2000);
    fd = subscriber(&f, 1, 1, 0);
    wait_wants(&d, 0);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_BGRX, W, H), HFX_OK);
    CHECK_STATUS(
        hfx_scanout_publish(d.sc, HFX_FORMAT_BGRX, W, H, img.plane[0], img.stride[0], &retry),
        HFX_OK);
    CHECK_STATUS(
        hfx_scanout_publish(d.sc, HFX_FORMAT_BGRX, W, H, img.plane[0], img.stride[0], &retry),
        HFX_E_BUSY);
    fprintf(stderr, "second picture at once: busy, retry in %u ms\n", retry);
    CHECK(retry >= 1 && retry <= 1000);
    hfx_image_release(&img);
    close(fd);
    stop(&f, &d);
}

static void send_input(int fd, uint32_t stream, const struct hfx_input *in)
{
    struct hfx_msg m;

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_INPUT;
    m.hdr.stream = stream;
    m.u.input = *in;
    raw_send(fd, &m, NULL, 0);
}

static unsigned inputs_seen(struct display *d, struct hfx_input *last, uint32_t *w, uint32_t *h)
{
    unsigned n;

    pthread_mutex_lock(&d->lock);
    n = d->ninputs;
    if (n && last) {
        *last = d->inputs[n - 1];
        *w = d->input_w[n - 1];
        *h = d->input_h[n - 1];
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* An INPUT that must be refused with code, closing the connection. */
static void expect_refused(int fd, enum hfx_status code, uint8_t *buf)
{
    struct hfx_msg m;

    do
        next_msg(fd, &m, buf);
    while (m.hdr.type != HFX_MSG_ERROR);
    CHECK_EQ_INT(m.u.error.code, code);
    fprintf(stderr, "refused: %s\n", m.u.error.text);
    CHECK(raw_wait_closed(fd));
    close(fd);
}

/* §5.18: a subscriber on the listener that offered INPUT gets it in
 * WELCOME; its keys reach the embedder as sent, its pointer inside the
 * encoded picture (none before there is one); a connection the embedder
 * added (the guest's port), a HELLO without INPUT, an unsubscribed or an
 * encoding stream are refused, and the embedder sees none of theirs. */
static void test_input(void)
{
    struct fixture f;
    struct display d;
    struct checker c;
    struct hfx_input key = {.kind = HFX_INPUT_KEY, .code = 30, .down = 1};
    struct hfx_input ptr = {
        .kind = HFX_INPUT_POINTER, .x = W + 100, .y = 5, .buttons = HFX_BUTTON_LEFT, .wheel = -2};
    struct hfx_input got = {0};
    uint32_t gw = 0, gh = 0;
    uint8_t *buf = malloc(BUF_CAP);
    struct hfx_client *cl = NULL;
    struct hfx_subscribe sub = {.scanout = 0, .max_fps = 30};
    char err[HFX_MAX_TEXT + 1];
    int fd, s;

    start_with(&f, &d, 2000, true);
    fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT | HFX_CAP_INPUT) &
          HFX_CAP_INPUT);
    send_subscribe(fd, 1, 0, 30, 0);
    /* Before a picture: the key passes (size 0 x 0), the pointer has
     * nothing to point at. */
    send_input(fd, 1, &ptr);
    send_input(fd, 1, &key);
    ping_pong(fd);
    CHECK_EQ_INT(inputs_seen(&d, &got, &gw, &gh), 1);
    CHECK_EQ_INT(got.kind, HFX_INPUT_KEY);
    CHECK_EQ_INT(got.code, 30);
    CHECK_EQ_INT(got.down, 1);
    wait_wants(&d, 0);
    checker_init(&c, W, H);
    publish(&d, W, H, 1);
    expect_start(fd, 1, &c, W, H, 1, buf);
    send_input(fd, 1, &ptr);
    ping_pong(fd);
    CHECK_EQ_INT(inputs_seen(&d, &got, &gw, &gh), 2);
    CHECK_EQ_INT(got.kind, HFX_INPUT_POINTER);
    CHECK_EQ_INT(got.x, W - 1);
    CHECK_EQ_INT(got.y, 5);
    CHECK_EQ_INT(got.buttons, HFX_BUTTON_LEFT);
    CHECK_EQ_INT(got.wheel, -2);
    CHECK_EQ_INT(gw, W);
    CHECK_EQ_INT(gh, H);
    hfx_h264_decoder_free(&c.dec);

    /* INPUT on a stream that is not subscribed: NOT_CONFIGURED on a free
     * one, STATE on an encoding one. */
    send_input(fd, 2, &key);
    expect_refused(fd, HFX_E_NOT_CONFIGURED, buf);
    s = fixture_raw_conn(&f);
    raw_handshake_caps(s, HFX_CAP_INLINE | HFX_CAP_SCANOUT | HFX_CAP_INPUT);
    raw_configure(s, 1, HFX_FORMAT_NV12, 64, 64);
    send_input(s, 1, &key);
    expect_refused(s, HFX_E_STATE, buf);

    /* A HELLO without INPUT. */
    s = subscriber(&f, 1, 30, 0);
    send_input(s, 1, &key);
    expect_refused(s, HFX_E_UNSUPPORTED, buf);

    /* The connection the embedder added: no INPUT in WELCOME, refused. */
    CHECK(!(raw_handshake_caps(d.guest_fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT | HFX_CAP_INPUT) &
            HFX_CAP_INPUT));
    send_subscribe(d.guest_fd, 1, 0, 30, 0);
    send_input(d.guest_fd, 1, &key);
    expect_refused(d.guest_fd, HFX_E_UNSUPPORTED, buf);
    d.guest_fd = -1;
    CHECK_EQ_INT(inputs_seen(&d, NULL, NULL, NULL), 2);

    /* libhfx's client: values out of range are refused before anything is
     * sent and the connection stays usable. */
    CHECK_STATUS(hfx_client_connect(f.address, NULL, &cl, err, sizeof(err)), HFX_OK);
    CHECK(hfx_client_welcome(cl)->caps & HFX_CAP_INPUT);
    CHECK_STATUS(hfx_client_subscribe(cl, 3, &sub), HFX_OK);
    key.code = HFX_MAX_KEY_CODE + 1;
    CHECK_STATUS(hfx_client_input(cl, 3, &key), HFX_E_INVALID);
    ptr.wheel = HFX_MAX_WHEEL + 1;
    CHECK_STATUS(hfx_client_input(cl, 3, &ptr), HFX_E_INVALID);
    key.code = 48;
    key.down = 0;
    CHECK_STATUS(hfx_client_input(cl, 3, &key), HFX_OK);
    for (int tries = 0; inputs_seen(&d, NULL, NULL, NULL) < 3 && tries < 500; tries++)
        hfx_sleep_ms(10);
    CHECK_EQ_INT(inputs_seen(&d, &got, &gw, &gh), 3);
    CHECK_EQ_INT(got.code, 48);
    CHECK_EQ_INT(got.down, 0);
    hfx_client_free(&cl);
    stop(&f, &d);

    /* A scanout that takes no input: WELCOME never says INPUT. */
    start(&f, &d, 2000);
    fd = fixture_raw_conn(&f);
    CHECK(!(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SCANOUT | HFX_CAP_INPUT) &
            HFX_CAP_INPUT));
    close(fd);
    stop(&f, &d);
    free(buf);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_pictures_in_order),
        CHECK_CASE(test_keepalive_and_resize),
        CHECK_CASE(test_slow_subscriber),
        CHECK_CASE(test_refusals),
        CHECK_CASE(test_client_api),
        CHECK_CASE(test_rate_limit),
        CHECK_CASE(test_input),
        CHECK_CASE(test_failed_subscription_forgets_configure),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
