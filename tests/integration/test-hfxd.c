/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests against a real hfxd process: frames go out over each
 * transport, the H.264 that comes back is decoded with libavcodec and
 * compared with the source (frame count exact, PSNR >= 35 dB).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "h264-decode.h"
#include "hfx/client.h"
#include "hfx/h264.h"
#include "hfx/region.h"
#include "hfx/transport.h"
#include "hfxd-process.h"
#include "pattern.h"
#include "y4m.h"

#define MIN_PSNR 35.0

struct clip {
    const char *address;
    uint32_t fourcc;
    uint32_t width, height;
    unsigned frames;
    bool shm;
    bool shm_alloc; /* frames in memory hfxd made (SHM_ALLOC) */
    /* Frames in region 0: this file (hfxd --shm-file), mapped read-write
     * as QEMU maps the file behind an ivshmem device. */
    const char *region0;
    uint32_t bitrate;
    /* Hooks: before submitting frame i (may request a keyframe etc.). */
    void (*before_frame)(struct clip *c, struct hfx_client *cl, unsigned i);
    bool wait_each; /* wait for frame i's packet before sending i+1 */

    /* Results. */
    unsigned packets, dropped;
    unsigned keyframe_at[64];
    unsigned nkeys;
    size_t bytes_per_frame[1024];
    double min_psnr;
    unsigned decoded;
    unsigned min_slices, max_slices; /* slice NAL units in one packet */
    char encoder[HFX_MAX_NAME + 1];
};

static void count_slice(void *user, const uint8_t *nal, size_t nal_len)
{
    unsigned type = nal_len ? nal[0] & 0x1f : 0;

    if (type == 1 || type == 5)
        (*(unsigned *)user)++;
}

struct checker {
    struct clip *c;
    struct hfx_image src, src_i420;
    unsigned index;
};

static void on_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct checker *k = user;
    struct hfx_psnr p;
    const struct hfx_image *ref = &k->src_i420;

    hfx_pattern_fill(&k->src, k->index);
    if (k->c->fourcc == HFX_FORMAT_I420)
        ref = &k->src;
    else
        CHECK_STATUS(hfx_image_convert(&k->src, &k->src_i420), HFX_OK);
    CHECK_STATUS(hfx_image_psnr(ref, img, &p), HFX_OK);
    if (k->index == 0 || p.all < k->c->min_psnr)
        k->c->min_psnr = p.all;
    k->index++;
}

static void handle(struct clip *c, struct hfx_h264_decoder *dec, const struct hfx_event *ev)
{
    switch (ev->type) {
    case HFX_EVENT_PACKET:
        CHECK(ev->u.packet.frame_id < c->frames);
        CHECK(ev->u.packet.pts == (int64_t)ev->u.packet.frame_id * 33333);
        if (ev->keyframe && c->nkeys < 64)
            c->keyframe_at[c->nkeys++] = (unsigned)ev->u.packet.frame_id;
        if (ev->u.packet.frame_id < 1024)
            c->bytes_per_frame[ev->u.packet.frame_id] = ev->u.packet.data_len;
        {
            unsigned slices = 0;

            hfx_h264_foreach_nal(ev->u.packet.data, ev->u.packet.data_len, count_slice,
                                 &slices);
            if (c->packets == 0 || slices < c->min_slices)
                c->min_slices = slices;
            if (slices > c->max_slices)
                c->max_slices = slices;
        }
        CHECK_STATUS(hfx_h264_decoder_decode_au(dec, ev->u.packet.data, ev->u.packet.data_len,
                                                ev->u.packet.pts),
                     HFX_OK);
        c->packets++;
        break;
    case HFX_EVENT_DROPPED:
        c->dropped++;
        break;
    case HFX_EVENT_CONFIGURED:
        snprintf(c->encoder, sizeof(c->encoder), "%s", ev->u.configured.encoder);
        break;
    case HFX_EVENT_ERROR:
        fprintf(stderr, "host error: %s\n", ev->u.error.text);
        CHECK(!"host sent ERROR");
        break;
    default:
        break;
    }
}

static enum hfx_event_type next(struct clip *c, struct hfx_client *cl,
                                struct hfx_h264_decoder *dec)
{
    struct hfx_event ev;
    CHECK_STATUS(hfx_client_next_event(cl, 20000, &ev), HFX_OK);
    handle(c, dec, &ev);
    return ev.type;
}

/* Map region 0's file read-write and check the header hfxd wrote. */
static uint8_t *map_region0(const char *path, size_t *size)
{
    uint8_t copy[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h;
    struct stat st;
    uint8_t *map;
    int fd = open(path, O_RDWR | O_CLOEXEC);

    CHECK(fd >= 0);
    CHECK(fstat(fd, &st) == 0 && st.st_size > 0);
    *size = (size_t)st.st_size;
    map = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED);
    close(fd);
    memcpy(copy, map, sizeof(copy));
    CHECK_STATUS(hfx_region_header_decode(copy, sizeof(copy), &h), HFX_OK);
    CHECK(h.size == *size);
    CHECK_EQ_INT(h.header_size, HFX_REGION_HEADER_SIZE);
    return map;
}

/* Encode c->frames of the pattern through the host and check the result. */
static void encode_clip(struct clip *c)
{
    struct hfx_client *cl = NULL;
    struct hfx_h264_decoder *dec = NULL;
    struct checker k = {.c = c};
    struct hfx_image img;
    struct hfx_configure cfg;
    uint8_t *shm = NULL;
    size_t shm_size = 0, shm_base = 0, slot_size = 0;
    uint32_t region = 0;
    unsigned window;
    char err[256];

    if (!c->width) {
        c->width = 1280;
        c->height = 720;
    }
    CHECK_STATUS(hfx_client_connect(c->address, NULL, &cl, err, sizeof(err)), HFX_OK);
    window = hfx_client_welcome(cl)->window;
    CHECK_STATUS(hfx_image_alloc(&img, c->fourcc, c->width, c->height), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&k.src, c->fourcc, c->width, c->height), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&k.src_i420, HFX_FORMAT_I420, c->width, c->height), HFX_OK);
    CHECK_STATUS(hfx_h264_decoder_new(on_picture, &k, &dec), HFX_OK);
    if (c->shm) {
        int fd = memfd_create("hfx-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        CHECK(fd >= 0);
        slot_size = img.size;
        shm_size = img.size * window;
        CHECK(ftruncate(fd, (off_t)shm_size) == 0);
        CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
        shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(shm != MAP_FAILED);
        CHECK_STATUS(hfx_client_attach_shm(cl, fd, shm_size, &region), HFX_OK);
        close(fd);
    } else if (c->shm_alloc) {
        struct hfx_event ev;
        struct stat st;

        CHECK(hfx_client_welcome(cl)->caps & HFX_CAP_SHM_ALLOC);
        slot_size = img.size;
        shm_size = img.size * window;
        CHECK_STATUS(hfx_client_alloc_shm(cl, shm_size, &region), HFX_OK);
        CHECK_STATUS(hfx_client_next_event(cl, 20000, &ev), HFX_OK);
        CHECK_EQ_INT(ev.type, HFX_EVENT_SHM_ALLOCATED);
        CHECK_EQ_INT(ev.u.shm.region, region);
        CHECK(ev.u.shm.size == shm_size);
        /* Ours to write, but no one can resize it: hfxd maps it. */
        CHECK(fstat(ev.u.shm.fd, &st) == 0 && (uint64_t)st.st_size == shm_size);
        CHECK(ftruncate(ev.u.shm.fd, (off_t)shm_size / 2) != 0);
        CHECK(ftruncate(ev.u.shm.fd, (off_t)shm_size * 2) != 0);
        shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, ev.u.shm.fd, 0);
        CHECK(shm != MAP_FAILED);
        close(ev.u.shm.fd);
    } else if (c->region0) {
        /* Never attached: the host offers it, frames name region 0 and
         * put their planes after the header, page-aligned as vsockenc's
         * pool does. */
        CHECK(hfx_client_welcome(cl)->caps & HFX_CAP_SHM_FILE);
        shm = map_region0(c->region0, &shm_size);
        shm_base = HFX_REGION_HEADER_SIZE;
        slot_size = (img.size + 4095) & ~(size_t)4095;
        CHECK(shm_base + slot_size * window <= shm_size);
        region = 0;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.codec = HFX_CODEC_H264;
    cfg.width = c->width;
    cfg.height = c->height;
    cfg.fourcc = c->fourcc;
    cfg.fps_num = 30;
    cfg.fps_den = 1;
    cfg.bitrate_kbps = c->bitrate ? c->bitrate : 6000;
    CHECK_STATUS(hfx_client_configure(cl, 1, &cfg), HFX_OK);
    while (next(c, cl, dec) != HFX_EVENT_CONFIGURED)
        ;
    CHECK(strlen(c->encoder) > 0);

    for (unsigned i = 0; i < c->frames; i++) {
        struct hfx_frame f;
        struct iovec iov = {img.base, img.size};
        unsigned planes = hfx_format_planes(c->fourcc);

        while (hfx_client_in_flight(cl, 1) >= (c->wait_each ? 1 : window))
            next(c, cl, dec);
        if (c->before_frame)
            c->before_frame(c, cl, i);
        memset(&f, 0, sizeof(f));
        f.frame_id = i;
        f.pts = (int64_t)i * 33333;
        f.duration = 33333;
        f.plane_count = (uint8_t)planes;
        for (unsigned p = 0; p < planes; p++) {
            f.planes[p].offset = (uint64_t)(img.plane[p] - img.base);
            f.planes[p].stride = img.stride[p];
        }
        if (shm) {
            /* With at most `window` in flight, slot i % window is free. */
            size_t slot = shm_base + (i % window) * slot_size;
            struct hfx_image view = img;
            for (unsigned p = 0; p < planes; p++) {
                view.plane[p] = shm + slot + (img.plane[p] - img.base);
                f.planes[p].offset += slot;
            }
            hfx_pattern_fill(&view, i);
            f.source = HFX_SOURCE_SHM;
            f.region = region;
            CHECK_STATUS(hfx_client_submit(cl, 1, &f, NULL, 0, false, 10000), HFX_OK);
        } else {
            hfx_pattern_fill(&img, i);
            f.source = HFX_SOURCE_INLINE;
            CHECK_STATUS(hfx_client_submit(cl, 1, &f, &iov, 1, false, 10000), HFX_OK);
        }
    }
    CHECK_STATUS(hfx_client_flush(cl, 1), HFX_OK);
    while (next(c, cl, dec) != HFX_EVENT_FLUSHED)
        ;
    CHECK_STATUS(hfx_h264_decoder_flush(dec), HFX_OK);
    c->decoded = (unsigned)hfx_h264_decoder_frames(dec);
    hfx_h264_decoder_free(&dec);
    hfx_client_free(&cl);
    if (shm)
        munmap(shm, shm_size);
    hfx_image_release(&img);
    hfx_image_release(&k.src);
    hfx_image_release(&k.src_i420);
}

static void check_clip(const struct clip *c)
{
    CHECK_EQ_INT(c->dropped, 0);
    CHECK_EQ_INT(c->packets, c->frames);
    CHECK_EQ_INT(c->decoded, c->frames);
    if (c->min_psnr < MIN_PSNR)
        fprintf(stderr, "min PSNR %.2f dB\n", c->min_psnr);
    CHECK(c->min_psnr >= MIN_PSNR);
    CHECK(c->nkeys >= 1 && c->keyframe_at[0] == 0);
}

/* Frames for a clip of n: all of them, or at most 20 with
 * $HFX_TEST_SHORT_CLIPS set. meson test --setup valgrind sets it: there a
 * 1280x720 frame costs hfxd about 0.3 s and the test as much again, and
 * what these clips check (every frame answered, decoded, PSNR, the log's
 * counts) does not depend on their length. */
static unsigned clip_frames(unsigned n)
{
    return getenv("HFX_TEST_SHORT_CLIPS") && n > 20 ? 20 : n;
}

static void test_unix_inline(void)
{
    struct hfxd_process d;
    char counts[64];

    hfxd_start(&d, -1, NULL);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12,
                     .frames = clip_frames(60)};
    encode_clip(&c);
    check_clip(&c);
    CHECK(strcmp(c.encoder, "libx264") == 0);
    CHECK(hfxd_stop(&d));
    /* One line per session end, with its counts. */
    CHECK(strstr(d.log, "session 1 end") != NULL);
    snprintf(counts, sizeof(counts), "frames %u, encoded %u, dropped 0", c.frames, c.frames);
    CHECK(strstr(d.log, counts) != NULL);
}

/* --encoder-threads reaches libx264: with its zerolatency tune, one slice
 * per thread in every picture (the default, 0, leaves the count to x264). */
static void test_encoder_threads(void)
{
    static const char *const extra[] = {"--encoder-threads", "3", NULL};
    struct hfxd_process d;

    hfxd_start(&d, -1, extra);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_I420, .width = 320,
                     .height = 240, .frames = 10};
    encode_clip(&c);
    check_clip(&c);
    CHECK_EQ_INT(c.min_slices, 3);
    CHECK_EQ_INT(c.max_slices, 3);
    CHECK(hfxd_stop(&d));
}

static void test_unix_shm(void)
{
    struct hfxd_process d;
    hfxd_start(&d, -1, NULL);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12,
                     .frames = clip_frames(60), .shm = true};
    encode_clip(&c);
    check_clip(&c);
    CHECK(hfxd_stop(&d));
}

/* Memory hfxd makes (docs/protocol.md §7.2, what a client on macOS
 * uses): the same clip from it; over TCP it is neither offered nor
 * granted. */
static void test_unix_shm_alloc(void)
{
    static const char *const extra[] = {"--listen=tcp:127.0.0.1:0", NULL};
    struct hfxd_process d;
    struct hfx_client *cl = NULL;
    uint32_t region = 0;
    char counts[96], err[256], tcp[64];

    hfxd_start(&d, -1, extra);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12,
                     .frames = clip_frames(60), .shm_alloc = true};
    encode_clip(&c);
    check_clip(&c);
    snprintf(tcp, sizeof(tcp), "tcp:127.0.0.1:%u", d.tcp_port);
    CHECK_STATUS(hfx_client_connect(tcp, NULL, &cl, err, sizeof(err)), HFX_OK);
    CHECK(!(hfx_client_welcome(cl)->caps & HFX_CAP_SHM_ALLOC));
    CHECK_STATUS(hfx_client_alloc_shm(cl, 4096, &region), HFX_E_UNSUPPORTED);
    hfx_client_free(&cl);
    CHECK(hfxd_stop(&d));
    snprintf(counts, sizeof(counts), "encoded %u, dropped 0, from shared memory %u", c.frames,
             c.frames);
    CHECK(strstr(d.log, counts) != NULL);
}

static void test_tcp_inline(void)
{
    static const char *const extra[] = {"--listen=tcp:127.0.0.1:0", NULL};
    struct hfxd_process d;
    char addr[64];

    hfxd_start(&d, -1, extra);
    CHECK(d.tcp_port != 0);
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", d.tcp_port);
    struct clip c = {.address = addr, .fourcc = HFX_FORMAT_I420, .frames = clip_frames(60)};
    encode_clip(&c);
    check_clip(&c);
    CHECK(hfxd_stop(&d));
}

static void test_fd_inline(void)
{
    int sv[2];
    char listen[32], addr[32];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    snprintf(listen, sizeof(listen), "--listen=fd:%d", sv[1]);
    const char *const extra[] = {listen, NULL};
    struct hfxd_process d;
    hfxd_start(&d, sv[1], extra);
    close(sv[1]);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    /* The client takes sv[0] over and closes it. */
    struct clip c = {.address = addr, .fourcc = HFX_FORMAT_BGRX, .frames = clip_frames(60)};
    encode_clip(&c);
    check_clip(&c);
    CHECK(hfxd_stop(&d));
}

/* hfxd serving one connection over a character device (a pty standing in
 * for a serial port); the client holds the other end as fd:. */
static void test_serial_pty(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    char listen[96], addr[32];

    CHECK(master >= 0);
    CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
    snprintf(listen, sizeof(listen), "--listen=serial:%s", ptsname(master));
    /* Raw mode on our side too: the bytes are binary. */
    struct termios tio;
    CHECK(tcgetattr(master, &tio) == 0);
    cfmakeraw(&tio);
    CHECK(tcsetattr(master, TCSANOW, &tio) == 0);
    const char *const extra[] = {listen, NULL};
    struct hfxd_process d;
    hfxd_start(&d, -1, extra);
    snprintf(addr, sizeof(addr), "fd:%d", master);
    struct clip c = {.address = addr, .fourcc = HFX_FORMAT_NV12, .frames = 30, .width = 320,
                     .height = 240};
    encode_clip(&c);
    check_clip(&c);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "frames 30, encoded 30, dropped 0") != NULL);
}

static void *clip_thread(void *arg)
{
    encode_clip(arg);
    return NULL;
}

static void test_four_sessions(void)
{
    struct hfxd_process d;
    static struct clip c[4];
    pthread_t t[4];
    static const uint32_t formats[4] = {HFX_FORMAT_NV12, HFX_FORMAT_I420, HFX_FORMAT_RGBA,
                                        HFX_FORMAT_BGRA};

    hfxd_start(&d, -1, NULL);
    for (int i = 0; i < 4; i++) {
        c[i] = (struct clip){.address = d.unix_addr, .fourcc = formats[i],
                             .frames = clip_frames(30)};
        CHECK(pthread_create(&t[i], NULL, clip_thread, &c[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        check_clip(&c[i]);
    }
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "session 4 end") != NULL);
}

static void request_at_10(struct clip *c, struct hfx_client *cl, unsigned i)
{
    if (i == 10)
        CHECK_STATUS(hfx_client_request_keyframe(cl, 1), HFX_OK);
}

static void test_keyframe_on_request(void)
{
    struct hfxd_process d;
    hfxd_start(&d, -1, NULL);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12, .frames = 20,
                     .width = 640, .height = 360, .before_frame = request_at_10,
                     .wait_each = true};
    encode_clip(&c);
    check_clip(&c);
    /* The first IDR opens the stream; the requested one is the very next
     * frame encoded after the request. */
    CHECK_EQ_INT(c.nkeys, 2);
    CHECK_EQ_INT(c.keyframe_at[1], 10);
    CHECK(hfxd_stop(&d));
}

static void bitrate_at_60(struct clip *c, struct hfx_client *cl, unsigned i)
{
    if (i == 60)
        CHECK_STATUS(hfx_client_set_bitrate(cl, 1, 8000), HFX_OK);
}

static void test_bitrate_change(void)
{
    struct hfxd_process d;
    hfxd_start(&d, -1, NULL);
    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12, .frames = 120,
                     .width = 640, .height = 360, .bitrate = 200, .before_frame = bitrate_at_60,
                     .wait_each = true};
    encode_clip(&c);
    CHECK_EQ_INT(c.packets, 120);
    size_t low = 0, high = 0;
    for (int i = 30; i < 60; i++)
        low += c.bytes_per_frame[i];
    for (int i = 90; i < 120; i++)
        high += c.bytes_per_frame[i];
    fprintf(stderr, "bytes over 30 frames: %zu at 200 kbit/s, %zu at 8000 kbit/s\n", low,
            high);
    CHECK(high > 3 * low);
    CHECK(hfxd_stop(&d));
}

static void test_window_overflow_drops(void)
{
    /* A client that ignores the window: the host drops the oldest pending
     * frames instead of queueing without bound, and answers every frame. */
    static const char *const extra[] = {"--window=1", NULL};
    struct hfxd_process d;
    struct hfx_client *cl = NULL;
    struct hfx_image img[2];
    struct hfx_configure cfg = {.codec = HFX_CODEC_H264, .width = 1280, .height = 720,
                                .fourcc = HFX_FORMAT_NV12, .fps_num = 30, .fps_den = 1,
                                .bitrate_kbps = 2000, .latency = HFX_LATENCY_QUALITY};
    struct hfx_event ev;
    unsigned packets = 0, dropped = 0, frames = 40;

    hfxd_start(&d, -1, extra);
    CHECK_STATUS(hfx_client_connect(d.unix_addr, NULL, &cl, NULL, 0), HFX_OK);
    CHECK_EQ_INT(hfx_client_welcome(cl)->window, 1);
    /* The client must outrun the host, under ASan too, where hfxd's receive
     * path is slower and a picture drawn per frame took longer than the
     * encode (0 dropped): two pictures of noise made beforehand, encoded
     * with the slow preset (latency "quality"). They cost the client and
     * hfxd's receive no more than any other picture. */
    srand(1);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_STATUS(hfx_image_alloc(&img[i], HFX_FORMAT_NV12, 1280, 720), HFX_OK);
        for (size_t b = 0; b < img[i].size; b++)
            img[i].base[b] = (uint8_t)rand();
    }
    CHECK_STATUS(hfx_client_configure(cl, 1, &cfg), HFX_OK);
    do
        CHECK_STATUS(hfx_client_next_event(cl, 20000, &ev), HFX_OK);
    while (ev.type != HFX_EVENT_CONFIGURED);
    for (unsigned i = 0; i < frames; i++) {
        struct hfx_frame f = {.frame_id = i, .source = HFX_SOURCE_INLINE, .plane_count = 2};
        struct iovec iov = {img[i % 2].base, img[i % 2].size};
        f.planes[0].stride = 1280;
        f.planes[1].offset = 1280 * 720;
        f.planes[1].stride = 1280;
        CHECK_STATUS(hfx_client_submit(cl, 1, &f, &iov, 1, false, 10000), HFX_OK);
    }
    CHECK_STATUS(hfx_client_flush(cl, 1), HFX_OK);
    for (;;) {
        CHECK_STATUS(hfx_client_next_event(cl, 20000, &ev), HFX_OK);
        if (ev.type == HFX_EVENT_PACKET)
            packets++;
        else if (ev.type == HFX_EVENT_DROPPED) {
            CHECK_EQ_INT(ev.u.dropped.reason, HFX_DROP_QUEUE_FULL);
            dropped++;
        } else if (ev.type == HFX_EVENT_FLUSHED)
            break;
    }
    fprintf(stderr, "%u frames: %u encoded, %u dropped\n", frames, packets, dropped);
    CHECK_EQ_INT(packets + dropped, frames);
    CHECK(dropped > 0);
    CHECK(packets > 0);
    hfx_client_free(&cl);
    hfx_image_release(&img[0]);
    hfx_image_release(&img[1]);
    CHECK(hfxd_stop(&d));
}

/* --handshake-timeout: a connection that never says HELLO is closed after
 * that long (a virtio-serial port is connected long before the guest speaks,
 * so VM setups raise it). */
static void test_hfxd_handshake_timeout(void)
{
    static const char *const extra[] = {"--handshake-timeout", "400", NULL};
    struct hfxd_process d;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timespec t0, t1;
    char buf[4096];
    ssize_t n;

    hfxd_start(&d, -1, extra);
    CHECK(strncmp(d.unix_addr, "unix:", 5) == 0);
    size_t len = strlen(d.unix_addr + 5);
    CHECK(len < sizeof(sa.sun_path));
    memcpy(sa.sun_path, d.unix_addr + 5, len + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) { /* the host's HELLO, then its ERROR, then EOF */
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        CHECK(poll(&pfd, 1, 5000) == 1);
        n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    fprintf(stderr, "silent connection closed after %.0f ms\n", ms);
    CHECK(ms >= 350 && ms < 3000);
    close(fd);
    hfxd_collect_log(&d);
    CHECK(strstr(d.log, "no HELLO within 400 ms") != NULL);
    CHECK(hfxd_stop(&d));
}

/* A client killed in the middle of a frame, and 1 MB of random bytes, while
 * another session encodes: that session gets every frame, intact. */
static void test_hostile_neighbours(void)
{
    struct hfxd_process d;
    struct clip c;
    pthread_t t;

    hfxd_start(&d, -1, NULL);
    c = (struct clip){.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12,
                      .frames = clip_frames(150)};
    CHECK(pthread_create(&t, NULL, clip_thread, &c) == 0);

    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        /* Configure, then send the header and part of a frame's bytes and
         * stop there: the parent kills us mid-frame. */
        struct hfx_client *cl = NULL;
        struct hfx_configure cfg = {.codec = HFX_CODEC_H264, .width = 1280, .height = 720,
                                    .fourcc = HFX_FORMAT_NV12, .fps_num = 30, .fps_den = 1,
                                    .bitrate_kbps = 2000};
        if (hfx_client_connect(d.unix_addr, NULL, &cl, NULL, 0) != HFX_OK ||
            hfx_client_configure(cl, 1, &cfg) != HFX_OK)
            _exit(1);
        int fd = hfx_client_fd(cl);
        static const uint8_t head[16] = {0x48, 0x46, 0x58, 0x31, 0x02, 0x01, 0, 0,
                                         1,    0,    0,    0,    0x40, 0x1a, 0x15, 0};
        static uint8_t part[500000];
        if (write(fd, head, sizeof(head)) < 0 || write(fd, part, sizeof(part)) < 0)
            _exit(1);
        pause();
        _exit(0);
    }
    usleep(300000);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    /* 1 MB of random bytes on a fresh connection. */
    {
        struct hfx_address a;
        struct hfx_transport *tr = NULL;
        CHECK_STATUS(hfx_address_parse(d.unix_addr, &a), HFX_OK);
        CHECK_STATUS(hfx_transport_connect(&a, 2000, &tr), HFX_OK);
        int fd = hfx_transport_fd(tr);
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        uint8_t *junk = malloc(1 << 20);
        CHECK(junk != NULL);
        uint32_t x = 12345;
        for (size_t i = 0; i < (1u << 20); i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (uint8_t)(x >> 16);
        }
        /* The host closes after the first bad header: writes may fail. */
        if (send(fd, junk, 1 << 20, MSG_NOSIGNAL) < 0)
            fprintf(stderr, "junk send stopped early (host closed): expected\n");
        free(junk);
        hfx_transport_free(&tr);
    }
    pthread_join(t, NULL);
    check_clip(&c);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "HFX_E_BAD_MAGIC") != NULL);
}

/* Region 0 shared out of band (hfxd --shm-file): hfxd creates the file at
 * --shm-size, offers SHM_FILE on that listener only, and reads 60 frames of
 * 1280x720 NV12 that the client wrote into the file after the header. */
static void test_region0_shm_file(void)
{
    char dir[] = "/tmp/hfx-region0-XXXXXX";
    char path[64], plain[128], plain_addr[96], counts[96];
    struct hfxd_process d;
    struct hfx_client *cl = NULL;
    struct stat st;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/region", dir);
    snprintf(plain_addr, sizeof(plain_addr), "unix:%s/plain", dir);
    snprintf(plain, sizeof(plain), "--listen=%s", plain_addr);
    /* hfxd_start's --listen comes first: --shm-file is for that one. */
    const char *const extra[] = {"--shm-file", path, "--shm-size", "16", plain, NULL};
    hfxd_start(&d, -1, extra);
    CHECK(stat(path, &st) == 0);
    CHECK(st.st_size == 16 << 20);
    CHECK(strstr(d.log, "region 0 is") != NULL && strstr(d.log, path) != NULL);

    /* The second listener has no region 0. */
    CHECK_STATUS(hfx_client_connect(plain_addr, NULL, &cl, NULL, 0), HFX_OK);
    CHECK(!(hfx_client_welcome(cl)->caps & HFX_CAP_SHM_FILE));
    CHECK(hfx_client_welcome(cl)->caps & HFX_CAP_SHM_FD);
    hfx_client_free(&cl);

    struct clip c = {.address = d.unix_addr, .fourcc = HFX_FORMAT_NV12,
                     .frames = clip_frames(60), .region0 = path};
    encode_clip(&c);
    check_clip(&c);
    fprintf(stderr, "region 0: min PSNR %.2f dB\n", c.min_psnr);
    CHECK(hfxd_stop(&d));
    snprintf(counts, sizeof(counts), "frames %u, encoded %u, dropped 0, from shared memory %u,",
             c.frames, c.frames, c.frames);
    CHECK(strstr(d.log, counts) != NULL);
    /* The file stays, at its size: QEMU may still have it. */
    CHECK(stat(path, &st) == 0);
    CHECK(st.st_size == 16 << 20);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

/* hfxd refuses a --shm-file it cannot use: exit 1 and a message naming the
 * file; a misplaced --shm-file or a --shm-size out of range is a usage
 * error (2). No socket is left behind. */
static void test_region0_hfxd_refuses(void)
{
    const char *hfxd = getenv("HFXD");
    char dir[] = "/tmp/hfx-region0-XXXXXX";
    char sock[64], listen[80], missing[96], small[64], out[4096];
    struct stat st;
    int fd;

    CHECK(hfxd != NULL);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sock, sizeof(sock), "%s/sock", dir);
    snprintf(listen, sizeof(listen), "--listen=unix:%s", sock);
    snprintf(missing, sizeof(missing), "%s/no-such-dir/region", dir);
    snprintf(small, sizeof(small), "%s/small", dir);

    const char *const a1[] = {hfxd, listen, "--shm-file", missing, NULL};
    CHECK_EQ_INT(run_program_output(a1, out, sizeof(out)), 1);
    fprintf(stderr, "%s", out);
    CHECK(strstr(out, missing) != NULL);
    CHECK(strstr(out, "No such file or directory") != NULL);
    CHECK(stat(sock, &st) != 0);

    /* A file smaller than the header page plus one page. */
    fd = open(small, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 4096) == 0);
    close(fd);
    const char *const a2[] = {hfxd, listen, "--shm-file", small, NULL};
    CHECK_EQ_INT(run_program_output(a2, out, sizeof(out)), 1);
    fprintf(stderr, "%s", out);
    CHECK(strstr(out, small) != NULL);
    CHECK(strstr(out, hfx_strerror(HFX_E_SHM_RANGE)) != NULL);
    CHECK(stat(sock, &st) != 0);
    CHECK(stat(small, &st) == 0 && st.st_size == 4096);

    /* A directory is not a file. */
    const char *const a3[] = {hfxd, listen, "--shm-file", dir, NULL};
    CHECK_EQ_INT(run_program_output(a3, out, sizeof(out)), 1);
    CHECK(strstr(out, dir) != NULL);

    /* Usage errors. */
    const char *const a4[] = {hfxd, "--shm-file", small, listen, NULL};
    CHECK_EQ_INT(run_program_output(a4, out, sizeof(out)), 2);
    CHECK(strstr(out, small) != NULL);
    const char *const a5[] = {hfxd, listen, "--shm-file", small, "--shm-file", small, NULL};
    CHECK_EQ_INT(run_program_output(a5, out, sizeof(out)), 2);
    const char *const a6[] = {hfxd, listen, "--shm-file", small, "--shm-size", "0", NULL};
    CHECK_EQ_INT(run_program_output(a6, out, sizeof(out)), 2);
    const char *const a7[] = {hfxd, listen, "--shm-file", small, "--shm-size", "16385", NULL};
    CHECK_EQ_INT(run_program_output(a7, out, sizeof(out)), 2);
    CHECK(stat(sock, &st) != 0);

    unlink(small);
    CHECK(rmdir(dir) == 0);
}

static void test_cli_pattern(void)
{
    const char *enc = getenv("HFX_ENCODE");
    const char *verify = getenv("HFX_VERIFY");
    struct hfxd_process d;
    char out[128], addr[160];

    CHECK(enc && verify);
    hfxd_start(&d, -1, NULL);
    snprintf(out, sizeof(out), "%s/out.h264", d.dir);
    snprintf(addr, sizeof(addr), "%s", d.unix_addr);
    const char *const encode_argv[] = {enc, "--address", addr, "--test-pattern", "--size",
                                       "640x360", "--format", "BGRA", "--frames", "45",
                                       "--output", out, NULL};
    CHECK_EQ_INT(run_program(encode_argv), 0);
    const char *const verify_argv[] = {verify, out, "--test-pattern", "--size", "640x360",
                                       "--format", "BGRA", "--expect-frames", "45",
                                       "--min-psnr", "35", NULL};
    CHECK_EQ_INT(run_program(verify_argv), 0);
    unlink(out);
    CHECK(hfxd_stop(&d));
}

static void test_cli_y4m_shm(void)
{
    const char *enc = getenv("HFX_ENCODE");
    const char *verify = getenv("HFX_VERIFY");
    struct hfxd_process d;
    char out[128], in[128];
    struct hfx_image img;

    CHECK(enc && verify);
    hfxd_start(&d, -1, NULL);
    snprintf(out, sizeof(out), "%s/out.h264", d.dir);
    snprintf(in, sizeof(in), "%s/in.y4m", d.dir);
    FILE *f = fopen(in, "wb");
    CHECK(f != NULL);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_I420, 320, 240), HFX_OK);
    CHECK_STATUS(hfx_y4m_write_header(f, 320, 240, 25, 1), HFX_OK);
    for (int i = 0; i < 25; i++) {
        hfx_pattern_fill(&img, (uint64_t)i * 3);
        CHECK_STATUS(hfx_y4m_write_frame(f, img.base, 320, 240), HFX_OK);
    }
    fclose(f);
    hfx_image_release(&img);
    /* The client's memory, then memory hfxd makes (§7.2). */
    for (int k = 0; k < 2; k++) {
        const char *const encode_argv[] = {enc, "-a", d.unix_addr, "-i", in, "-o", out,
                                           "--source", k ? "shm-alloc" : "shm", "-q", NULL};
        CHECK_EQ_INT(run_program(encode_argv), 0);
        const char *const verify_argv[] = {verify, out, "--reference", in, "--expect-frames",
                                           "25", "--min-psnr", "35", NULL};
        CHECK_EQ_INT(run_program(verify_argv), 0);
    }
    unlink(out);
    unlink(in);
    CHECK(hfxd_stop(&d));
    /* Two sessions, every frame of each from shared memory. */
    int sessions = 0;
    for (const char *p = d.log;
         (p = strstr(p, "frames 25, encoded 25, dropped 0, from shared memory 25")); p++)
        sessions++;
    CHECK_EQ_INT(sessions, 2);
}

/* A non-loopback TCP listener needs a token; with one, the right token gets
 * in and a wrong one gets HFX_E_AUTH. */
static void test_token_tcp(void)
{
    const char *enc = getenv("HFX_ENCODE");
    struct hfxd_process d;
    char good[64], bad[64], addr[64], arg[96], out[128];

    snprintf(good, sizeof(good), "/tmp/hfx-tok-XXXXXX");
    int fd = mkstemp(good);
    CHECK(fd >= 0 && write(fd, "letmein\n", 8) == 8);
    close(fd);
    snprintf(bad, sizeof(bad), "/tmp/hfx-tok-XXXXXX");
    fd = mkstemp(bad);
    CHECK(fd >= 0 && write(fd, "letmeout\n", 9) == 9);
    close(fd);
    snprintf(arg, sizeof(arg), "--token-file=%s", good);
    const char *const extra[] = {"--listen=tcp:0.0.0.0:0", arg, NULL};
    hfxd_start(&d, -1, extra);
    CHECK(d.tcp_port != 0);
    snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", d.tcp_port);
    snprintf(out, sizeof(out), "%s/out.h264", d.dir);
    const char *const ok_argv[] = {enc, "-a", addr, "-t", "-s", "320x240", "-n", "5", "-o", out,
                                   "--token-file", good, "-q", NULL};
    CHECK_EQ_INT(run_program(ok_argv), 0);
    const char *const bad_argv[] = {enc, "-a", addr, "-t", "-s", "320x240", "-n", "5", "-o",
                                    out, "--token-file", bad, "-q", NULL};
    CHECK_EQ_INT(run_program(bad_argv), 1);
    const char *const none_argv[] = {enc, "-a", addr, "-t", "-s", "320x240", "-n", "5", "-o",
                                     out, "-q", NULL};
    CHECK_EQ_INT(run_program(none_argv), 1);
    unlink(out);
    unlink(good);
    unlink(bad);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "HFX_E_AUTH") != NULL);
}

static void test_cli_errors(void)
{
    const char *enc = getenv("HFX_ENCODE");
    const char *hfxd = getenv("HFXD");
    CHECK(enc && hfxd);
    /* Nobody listening: a clear failure, not a hang. */
    const char *const a1[] = {enc, "-a", "unix:/nonexistent/hfx.sock", "-t", "-o", "/dev/null",
                              NULL};
    CHECK_EQ_INT(run_program(a1), 1);
    const char *const a2[] = {enc, "-t", "-o", "/dev/null", NULL};
    CHECK_EQ_INT(run_program(a2), 2);
    const char *const a3[] = {hfxd, "--listen", "tcp:0.0.0.0:0", NULL};
    CHECK_EQ_INT(run_program(a3), 1);
    const char *const a4[] = {hfxd, NULL};
    CHECK_EQ_INT(run_program(a4), 2);
    const char *const a5[] = {hfxd, "--listen", "unix:/tmp/x", "--encoder", "nope", NULL};
    CHECK_EQ_INT(run_program(a5), 2);
    const char *const a7[] = {hfxd, "--listen", "unix:/tmp/x", "--handshake-timeout", "0", NULL};
    CHECK_EQ_INT(run_program(a7), 2);
    const char *const a6[] = {hfxd, "--help", NULL};
    CHECK_EQ_INT(run_program(a6), 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_unix_inline),
        CHECK_CASE(test_unix_shm),
        CHECK_CASE(test_unix_shm_alloc),
        CHECK_CASE(test_encoder_threads),
        CHECK_CASE(test_tcp_inline),
        CHECK_CASE(test_fd_inline),
        CHECK_CASE(test_serial_pty),
        CHECK_CASE(test_four_sessions),
        CHECK_CASE(test_keyframe_on_request),
        CHECK_CASE(test_bitrate_change),
        CHECK_CASE(test_window_overflow_drops),
        CHECK_CASE(test_hfxd_handshake_timeout),
        CHECK_CASE(test_hostile_neighbours),
        CHECK_CASE(test_region0_shm_file),
        CHECK_CASE(test_region0_hfxd_refuses),
        CHECK_CASE(test_cli_pattern),
        CHECK_CASE(test_cli_y4m_shm),
        CHECK_CASE(test_token_tcp),
        CHECK_CASE(test_cli_errors),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
