/* SPDX-License-Identifier: MIT */
/*
 * The test-only fault-injection encoders (host/encoder-fault.h), through
 * the public encoder API of libhfx-host-fault: `fake`, `fault-open`,
 * `fault-fail-at=N`, `fault-fail-once=N`, `fault-stall=MS`,
 * `fault-block=FD`, each with an inner encoder after `@`. test-encoder
 * checks that libhfx-host itself knows none of these names.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "hfx/encoder.h"
#include "hfx/h264.h"
#include "check.h"
#include "util/h264-sps.h"

#define W 64
#define H 48

static struct hfx_configure config(void)
{
    struct hfx_configure cfg = {
        .codec = HFX_CODEC_H264,
        .width = W,
        .height = H,
        .fourcc = HFX_FORMAT_NV12,
        .fps_num = 30,
        .fps_den = 1,
        .bitrate_kbps = 500,
    };
    return cfg;
}

/* An NV12 picture, grey, in one block. */
struct picture {
    uint8_t pixels[W * H * 3 / 2];
    struct hfx_picture pic;
};

static void make_picture(struct picture *p)
{
    memset(p->pixels, 0x80, sizeof(p->pixels));
    memset(&p->pic, 0, sizeof(p->pic));
    p->pic.plane[0] = p->pixels;
    p->pic.stride[0] = W;
    p->pic.plane[1] = p->pixels + W * H;
    p->pic.stride[1] = W;
}

static struct hfx_encoder *open_ok(const struct hfx_configure *cfg, const char *name)
{
    struct hfx_encoder *e = NULL;

    CHECK_STATUS(hfx_encoder_open(cfg, name, NULL, NULL, &e), HFX_OK);
    CHECK(e != NULL);
    CHECK(strcmp(hfx_encoder_name(e), name) == 0);
    return e;
}

/* Send one picture and receive its access unit. */
static struct hfx_encoded encode(struct hfx_encoder *e, const struct picture *p, int64_t pts,
                                 bool force)
{
    struct hfx_encoded out;

    CHECK_STATUS(hfx_encoder_send(e, &p->pic, pts, force), HFX_OK);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_OK);
    CHECK_EQ_INT(out.pts, pts);
    CHECK(out.len > 0);
    /* The keyframe flag is what the bitstream says (encoder.h), and an IDR
     * carries its parameter sets (protocol.md §5.4). */
    CHECK_EQ_INT(out.keyframe, hfx_h264_is_idr(out.data, out.len));
    if (out.keyframe)
        CHECK(hfx_h264_has_parameter_sets(out.data, out.len));
    return out;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_fault_open(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = (struct hfx_encoder *)&cfg; /* must be reset to NULL */

    CHECK_STATUS(hfx_encoder_open(&cfg, "fault-open", NULL, NULL, &e), HFX_E_NO_ENCODER);
    CHECK(e == NULL);
}

static void test_malformed_names(void)
{
    static const char *const names[] = {
        "fault-",
        "fault-open=1",
        "fault-fail-at",
        "fault-fail-at=",
        "fault-fail-at=x",
        "fault-fail-at=-1",
        "fault-fail-at=1x",
        "fault-fail-at=1@",
        "fault-fail-at=1234567890", /* more than 9 digits */
        "fault-stall=1@fault-open", /* no nesting */
        "fault-nothing=1",
        "fault-fail-once=1@bogus", /* an inner encoder that does not exist */
    };
    struct hfx_configure cfg = config();

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct hfx_encoder *e = NULL;
        enum hfx_status st = hfx_encoder_open(&cfg, names[i], NULL, NULL, &e);
        if (st != HFX_E_NO_ENCODER)
            fprintf(stderr, "%s: %s\n", names[i], hfx_status_name(st));
        CHECK_STATUS(st, HFX_E_NO_ENCODER);
        CHECK(e == NULL);
    }
}

static void test_fake_stream(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fake");
    struct picture p;
    struct hfx_encoded out;
    const uint8_t *extra = NULL;
    size_t extra_len = 0;
    uint8_t profile = 0, level = 0;

    make_picture(&p);
    hfx_encoder_extradata(e, &extra, &extra_len);
    CHECK(hfx_h264_has_parameter_sets(extra, extra_len));
    CHECK(hfx_h264_sps_profile_level(extra, extra_len, &profile, &level));
    CHECK_EQ_INT(profile, 66);
    CHECK_EQ_INT(level, 30);

    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_INCOMPLETE);
    CHECK(encode(e, &p, 100, false).keyframe); /* the first frame */
    CHECK(!encode(e, &p, 101, false).keyframe);
    CHECK(!encode(e, &p, 102, false).keyframe);
    CHECK(encode(e, &p, 103, true).keyframe); /* forced */
    CHECK(!encode(e, &p, 104, false).keyframe);

    /* One access unit at a time. */
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 105, false), HFX_OK);
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 106, false), HFX_E_BUSY);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_OK);
    CHECK_EQ_INT(out.pts, 105);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_INCOMPLETE);

    CHECK_STATUS(hfx_encoder_set_bitrate(e, 800), HFX_OK);
    CHECK_STATUS(hfx_encoder_set_bitrate(e, 0), HFX_E_INVALID);
    hfx_encoder_free(&e);
    CHECK(e == NULL);
}

static void test_fake_keyint(void)
{
    struct hfx_configure cfg = config();
    struct picture p;

    cfg.keyint_frames = 3;
    struct hfx_encoder *e = open_ok(&cfg, "fake");
    make_picture(&p);
    for (int i = 0; i < 9; i++)
        CHECK_EQ_INT(encode(e, &p, i, false).keyframe, i % 3 == 0);
    hfx_encoder_free(&e);
}

static void test_fake_flush(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fake");
    struct picture p;
    struct hfx_encoded out;

    make_picture(&p);
    CHECK(encode(e, &p, 0, false).keyframe);
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 1, false), HFX_OK);
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 2, false), HFX_E_STATE);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_OK);
    CHECK_EQ_INT(out.pts, 1);
    CHECK(!out.keyframe);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_E_CLOSED);
    CHECK_STATUS(hfx_encoder_receive(e, &out), HFX_E_CLOSED);
    /* The next send starts over, with an IDR as after a reopen. */
    CHECK(encode(e, &p, 3, false).keyframe);
    hfx_encoder_free(&e);
}

static void test_fake_bad_input(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fake");
    struct picture p;

    make_picture(&p);
    p.pic.stride[1] = W - 1;
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 0, false), HFX_E_BAD_STRIDE);
    make_picture(&p);
    p.pic.plane[1] = NULL;
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 0, false), HFX_E_INVALID);
    hfx_encoder_free(&e);

    /* The fake makes H.264 only, as a backend that lacks a codec says. */
    cfg.codec = HFX_CODEC_HEVC;
    CHECK_STATUS(hfx_encoder_open(&cfg, "fake", NULL, NULL, &e), HFX_E_UNSUPPORTED);
    CHECK_STATUS(hfx_encoder_open(&cfg, "fault-stall=1@fake", NULL, NULL, &e),
                 HFX_E_UNSUPPORTED);
    /* Checked before the fault layer, as for every backend. */
    cfg = config();
    cfg.width = 3;
    CHECK_STATUS(hfx_encoder_open(&cfg, "fake", NULL, NULL, &e), HFX_E_BAD_DIMENSIONS);
}

static void test_fail_at(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fault-fail-at=2@fake");
    struct picture p;

    make_picture(&p);
    encode(e, &p, 0, false);
    encode(e, &p, 1, false);
    for (int i = 2; i < 5; i++)
        CHECK_STATUS(hfx_encoder_send(e, &p.pic, i, false), HFX_E_ENCODER);
    hfx_encoder_free(&e);

    e = open_ok(&cfg, "fault-fail-at=0@fake");
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 0, false), HFX_E_ENCODER);
    hfx_encoder_free(&e);
}

static void test_fail_once(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fault-fail-once=1@fake");
    struct picture p;

    make_picture(&p);
    CHECK(encode(e, &p, 0, false).keyframe);
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 1, false), HFX_E_ENCODER);
    CHECK(!encode(e, &p, 2, false).keyframe);
    CHECK(!encode(e, &p, 3, false).keyframe);
    hfx_encoder_free(&e);
}

/* Decode n access units and flush: the frames decoded (each W x H). With
 * strict, as a decoder that follows H.264's output rules (libavcodec with
 * strict compliance: without bitstream_restriction it holds as many frames
 * as the level's DPB allows), and *first gets how many packets went in
 * before the first frame came out (-1: none). */
static int decode(uint8_t *const *au, const size_t *len, int n, bool strict, int *first)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *ctx = codec ? avcodec_alloc_context3(codec) : NULL;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    int frames = 0;

    CHECK(ctx && pkt && frame);
    if (strict) {
        ctx->strict_std_compliance = FF_COMPLIANCE_STRICT;
        ctx->thread_count = 1; /* frame threads would add their own delay */
    }
    CHECK(avcodec_open2(ctx, codec, NULL) == 0);
    if (first)
        *first = -1;
    for (int i = 0; i <= n; i++) {
        if (i < n) {
            CHECK(av_new_packet(pkt, (int)len[i]) == 0);
            memcpy(pkt->data, au[i], len[i]);
            CHECK(avcodec_send_packet(ctx, pkt) == 0);
            av_packet_unref(pkt);
        } else {
            CHECK(avcodec_send_packet(ctx, NULL) == 0);
        }
        while (avcodec_receive_frame(ctx, frame) == 0) {
            CHECK_EQ_INT(frame->width, W);
            CHECK_EQ_INT(frame->height, H);
            if (first && *first < 0)
                *first = i + 1;
            frames++;
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return frames;
}

static void test_fail_at_wraps_libx264(void)
{
    struct hfx_configure cfg = config();
    /* No inner name: the host's `auto` order, which is libx264 here. */
    struct hfx_encoder *e = open_ok(&cfg, "fault-fail-at=2");
    struct picture p;
    uint8_t *au[2];
    size_t len[2];
    const uint8_t *extra = NULL;
    size_t extra_len = 0;

    make_picture(&p);
    hfx_encoder_extradata(e, &extra, &extra_len);
    CHECK(hfx_h264_has_parameter_sets(extra, extra_len));
    for (int i = 0; i < 2; i++) {
        struct hfx_encoded out = encode(e, &p, i, false);
        CHECK_EQ_INT(out.keyframe, i == 0);
        au[i] = malloc(out.len);
        CHECK(au[i] != NULL);
        memcpy(au[i], out.data, out.len);
        len[i] = out.len;
    }
    CHECK_STATUS(hfx_encoder_send(e, &p.pic, 2, false), HFX_E_ENCODER);
    hfx_encoder_free(&e);
    /* The failing encoder still made real H.264. */
    CHECK_EQ_INT(decode(au, len, 2, false, NULL), 2);
    free(au[0]);
    free(au[1]);
}

struct sps_find {
    struct hfx_sps *sps;
    bool found, parsed;
};

static void on_nal(void *user, const uint8_t *nal, size_t len)
{
    struct sps_find *f = user;

    if (f->found || (nal[0] & 0x1f) != 7)
        return;
    f->found = true;
    f->parsed = hfx_sps_parse(nal, len, f->sps) == HFX_OK;
}

/* The first SPS of an Annex-B buffer, parsed. */
static bool first_sps(const uint8_t *data, size_t len, struct hfx_sps *sps)
{
    struct sps_find f = {.sps = sps};

    hfx_h264_foreach_nal(data, len, on_nal, &f);
    return f.parsed;
}

static bool no_vui(struct hfx_sps *sps)
{
    if (!sps->vui_parameters_present_flag)
        return false;
    sps->vui_parameters_present_flag = 0;
    return true;
}

/* An encoder whose SPS has no VUI (fault-no-vui: VideoToolbox's kind):
 * what comes out says frames are not reordered, in the keyframes and the
 * extradata, and a decoder that follows H.264's output rules gives the
 * first frame back for the first packet; the same stream with the VUI
 * taken out again makes it wait for several. */
static void test_sps_rewrite(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fault-no-vui@libx264");
    struct picture p;
    enum { N = 12 };
    uint8_t *au[N], *bare[N];
    size_t len[N], bare_len[N];
    const uint8_t *extra = NULL;
    size_t extra_len = 0;
    struct hfx_sps sps;
    int delay;

    make_picture(&p);
    hfx_encoder_extradata(e, &extra, &extra_len);
    CHECK(first_sps(extra, extra_len, &sps));
    CHECK(sps.vui_parameters_present_flag && sps.vui.bitstream_restriction_flag &&
          sps.vui.max_num_reorder_frames == 0 && !sps.vui.timing_info_present_flag);
    for (int i = 0; i < N; i++) {
        struct hfx_encoded out;

        p.pixels[i] ^= 0xff; /* something to encode */
        out = encode(e, &p, i, i == 6);
        au[i] = malloc(out.len);
        CHECK(au[i] != NULL);
        memcpy(au[i], out.data, out.len);
        len[i] = out.len;
        if (out.keyframe) {
            CHECK(first_sps(out.data, out.len, &sps));
            CHECK(sps.vui.bitstream_restriction_flag && sps.vui.max_num_reorder_frames == 0 &&
                  sps.vui.max_dec_frame_buffering >= 1);
        }
        /* The stream as the encoder made it: no VUI. */
        bare[i] = malloc(out.len + 64);
        CHECK(bare[i] != NULL);
        unsigned changed = 0;
        CHECK_STATUS(hfx_h264_au_edit_sps(out.data, out.len, no_vui, bare[i], out.len + 64,
                                          &bare_len[i], &changed, NULL),
                     HFX_OK);
        CHECK_EQ_INT(changed, out.keyframe ? 1 : 0);
    }
    hfx_encoder_free(&e);
    CHECK_EQ_INT(decode(au, len, N, true, &delay), N);
    CHECK_EQ_INT(delay, 1);
    CHECK_EQ_INT(decode(bare, bare_len, N, true, &delay), N);
    fprintf(stderr, "first frame out after %d packets without the rewrite, 1 with it\n", delay);
    CHECK(delay > 1);
    for (int i = 0; i < N; i++) {
        free(au[i]);
        free(bare[i]);
    }
}

static void test_stall(void)
{
    struct hfx_configure cfg = config();
    struct hfx_encoder *e = open_ok(&cfg, "fault-stall=40@fake");
    struct picture p;

    make_picture(&p);
    for (int i = 0; i < 2; i++) {
        int64_t t0 = mono_ms();
        encode(e, &p, i, false);
        CHECK(mono_ms() - t0 >= 40);
    }
    hfx_encoder_free(&e);
}

struct blocked_send {
    struct hfx_encoder *e;
    struct picture *p;
    atomic_bool done;
    enum hfx_status st;
};

static void *send_thread(void *arg)
{
    struct blocked_send *b = arg;

    b->st = hfx_encoder_send(b->e, &b->p->pic, 7, false);
    atomic_store(&b->done, true);
    return NULL;
}

static void test_block(void)
{
    struct hfx_configure cfg = config();
    struct picture p;
    struct blocked_send b;
    pthread_t thread;
    char name[HFX_MAX_NAME + 1];
    int gate[2];

    CHECK(pipe(gate) == 0);
    snprintf(name, sizeof(name), "fault-block=%d@fake", gate[0]);
    make_picture(&p);
    b.e = open_ok(&cfg, name);
    b.p = &p;
    atomic_init(&b.done, false);
    b.st = HFX_E_INTERNAL;
    CHECK(pthread_create(&thread, NULL, send_thread, &b) == 0);
    usleep(100 * 1000);
    CHECK(!atomic_load(&b.done));
    /* Released: a byte makes the gate readable for good. */
    CHECK(write(gate[1], "x", 1) == 1);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(atomic_load(&b.done));
    CHECK_STATUS(b.st, HFX_OK);
    struct hfx_encoded out;
    CHECK_STATUS(hfx_encoder_receive(b.e, &out), HFX_OK);
    CHECK_EQ_INT(out.pts, 7);
    encode(b.e, &p, 8, false);
    hfx_encoder_free(&b.e);
    close(gate[0]);
    close(gate[1]);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_fault_open),
        CHECK_CASE(test_malformed_names),
        CHECK_CASE(test_fake_stream),
        CHECK_CASE(test_fake_keyint),
        CHECK_CASE(test_fake_flush),
        CHECK_CASE(test_fake_bad_input),
        CHECK_CASE(test_fail_at),
        CHECK_CASE(test_fail_once),
        CHECK_CASE(test_fail_at_wraps_libx264),
        CHECK_CASE(test_sps_rewrite),
        CHECK_CASE(test_stall),
        CHECK_CASE(test_block),
    };
    av_log_set_level(AV_LOG_ERROR);
    return check_run(cases, CHECK_COUNT(cases));
}
