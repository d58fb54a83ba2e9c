/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

#include "hfx/encoder.h"
#include "hfx/h264.h"
#include "h264-decode.h"
#include "pattern.h"
#include "check.h"

#define MIN_PSNR 35.0

struct log_record {
    int count;
    int errors;
    char text[4096];
};

static void record_log(void *user, enum hfx_log_level level, const char *msg)
{
    struct log_record *r = user;
    if (getenv("HFX_TEST_VERBOSE"))
        fprintf(stderr, "[%d] %s\n", (int)level, msg);
    if (!r)
        return;
    r->count++;
    if (level == HFX_LOG_ERROR)
        r->errors++;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof(r->text) - used, "%s\n", msg);
}

static struct hfx_configure config(uint32_t fourcc, uint32_t w, uint32_t h)
{
    struct hfx_configure cfg = {
        .codec = HFX_CODEC_H264,
        .width = w,
        .height = h,
        .fourcc = fourcc,
        .fps_num = 30,
        .fps_den = 1,
        .bitrate_kbps = 2000,
        .rate_control = HFX_RC_ABR,
        .profile = HFX_PROFILE_AUTO,
        .latency = HFX_LATENCY_LOWEST,
        .quality = 23,
    };
    return cfg;
}

static struct hfx_encoder *open_ok(const struct hfx_configure *cfg, const char *name)
{
    struct hfx_encoder *e = NULL;
    CHECK_STATUS(hfx_encoder_open(cfg, name, record_log, NULL, &e), HFX_OK);
    CHECK(e != NULL);
    return e;
}

static struct hfx_picture picture_of(const struct hfx_image *img)
{
    struct hfx_picture pic = {{NULL}, {0}};
    for (unsigned p = 0; p < HFX_MAX_PLANES; p++) {
        pic.plane[p] = img->plane[p];
        pic.stride[p] = img->stride[p];
    }
    return pic;
}

/* Decoded pictures are compared with the pattern regenerated from the pts. */
struct compare {
    struct hfx_image src, ref;
    double worst;
    int64_t last_pts;
};

static void compare_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct compare *c = user;
    struct hfx_psnr p;

    CHECK(pts >= 0);
    c->last_pts = pts;
    hfx_pattern_fill(&c->src, (uint64_t)pts);
    CHECK_STATUS(hfx_image_convert(&c->src, &c->ref), HFX_OK);
    CHECK_STATUS(hfx_image_psnr(&c->ref, img, &p), HFX_OK);
    if (p.all < c->worst)
        c->worst = p.all;
}

struct run {
    struct hfx_h264_decoder *dec;
    struct compare cmp;
    uint8_t *stream; /* every access unit, concatenated */
    size_t stream_len;
    int packets;
    int keyframes;
    bool key_at[256]; /* by pts */
    size_t bytes_at[256];
};

static void run_init(struct run *r, uint32_t fourcc, uint32_t w, uint32_t h)
{
    memset(r, 0, sizeof(*r));
    r->cmp.worst = HFX_PSNR_MAX;
    r->cmp.last_pts = -1;
    CHECK_STATUS(hfx_image_alloc(&r->cmp.src, fourcc, w, h), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&r->cmp.ref, HFX_FORMAT_I420, w, h), HFX_OK);
    CHECK_STATUS(hfx_h264_decoder_new(compare_picture, &r->cmp, &r->dec), HFX_OK);
}

static void run_release(struct run *r)
{
    hfx_h264_decoder_free(&r->dec);
    CHECK(r->dec == NULL);
    hfx_image_release(&r->cmp.src);
    hfx_image_release(&r->cmp.ref);
    free(r->stream);
}

static void take_packet(struct run *r, const struct hfx_encoded *pkt)
{
    CHECK(pkt->len > 0);
    CHECK(pkt->pts >= 0 && pkt->pts < 256);
    CHECK_EQ_INT(pkt->keyframe, hfx_h264_is_idr(pkt->data, pkt->len));
    if (r->packets == 0)
        CHECK(pkt->keyframe); /* the stream starts with an IDR */
    if (pkt->keyframe) {
        /* SPS/PPS in-band before every IDR. */
        CHECK(hfx_h264_has_parameter_sets(pkt->data, pkt->len));
        r->keyframes++;
    }
    r->key_at[pkt->pts] = pkt->keyframe;
    r->bytes_at[pkt->pts] = pkt->len;
    r->packets++;
    uint8_t *grown = realloc(r->stream, r->stream_len + pkt->len);
    CHECK(grown != NULL);
    memcpy(grown + r->stream_len, pkt->data, pkt->len);
    r->stream = grown;
    r->stream_len += pkt->len;
    CHECK_STATUS(hfx_h264_decoder_decode_au(r->dec, pkt->data, pkt->len, pkt->pts), HFX_OK);
}

static void receive_all(struct hfx_encoder *e, struct run *r, enum hfx_status until)
{
    struct hfx_encoded pkt;
    enum hfx_status st;
    while ((st = hfx_encoder_receive(e, &pkt)) == HFX_OK)
        take_packet(r, &pkt);
    CHECK_STATUS(st, until);
}

/* Encode frames [first, first + n) of the pattern; force an IDR at force. */
static void encode_range(struct hfx_encoder *e, struct run *r, uint64_t first, uint64_t n,
                         int64_t force)
{
    struct hfx_picture pic;
    struct hfx_image img;

    CHECK_STATUS(hfx_image_alloc(&img, r->cmp.src.fourcc, r->cmp.src.width, r->cmp.src.height),
                 HFX_OK);
    pic = picture_of(&img);
    for (uint64_t i = first; i < first + n; i++) {
        hfx_pattern_fill(&img, i);
        CHECK_STATUS(hfx_encoder_send(e, &pic, (int64_t)i, (int64_t)i == force), HFX_OK);
        receive_all(e, r, HFX_INCOMPLETE);
    }
    hfx_image_release(&img);
}

static void finish(struct hfx_encoder *e, struct run *r)
{
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    receive_all(e, r, HFX_E_CLOSED);
    CHECK_STATUS(hfx_h264_decoder_flush(r->dec), HFX_OK);
}

/* Open cfg with name, encode frames 0..frames-1 (an IDR forced at force),
 * flush, and decode everything into r (released by the caller). */
static void run_stream(const struct hfx_configure *cfg, const char *name, uint64_t frames,
                       int64_t force, struct run *r)
{
    struct hfx_encoder *e = open_ok(cfg, name);

    run_init(r, cfg->fourcc, cfg->width, cfg->height);
    encode_range(e, r, 0, frames, force);
    finish(e, r);
    CHECK_EQ_INT(r->packets, frames);
    CHECK_EQ_INT(hfx_h264_decoder_frames(r->dec), frames);
    hfx_encoder_free(&e);
    CHECK(e == NULL);
}

static void check_roundtrip(uint32_t fourcc, uint32_t w, uint32_t h, int frames)
{
    struct hfx_configure cfg = config(fourcc, w, h);
    struct run r;

    run_stream(&cfg, "auto", (uint64_t)frames, -1, &r);
    CHECK_EQ_INT(r.cmp.last_pts, frames - 1);
    if (r.cmp.worst < MIN_PSNR || getenv("HFX_TEST_VERBOSE"))
        fprintf(stderr, "%ux%u: worst PSNR %.2f dB\n", w, h, r.cmp.worst);
    CHECK(r.cmp.worst >= MIN_PSNR);

    /* The same stream through the parser, in odd-sized chunks. */
    struct hfx_h264_decoder *d = NULL;
    CHECK_STATUS(hfx_h264_decoder_new(NULL, NULL, &d), HFX_OK);
    for (size_t off = 0; off < r.stream_len; off += 997) {
        size_t n = r.stream_len - off < 997 ? r.stream_len - off : 997;
        CHECK_STATUS(hfx_h264_decoder_feed(d, r.stream + off, n), HFX_OK);
    }
    CHECK_STATUS(hfx_h264_decoder_flush(d), HFX_OK);
    CHECK_EQ_INT(hfx_h264_decoder_frames(d), frames);
    hfx_h264_decoder_free(&d);

    run_release(&r);
}

static void test_auto_picks_libx264(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_NV12, 320, 240);
    struct log_record log = {0};
    struct hfx_encoder *e = NULL;

    CHECK_STATUS(hfx_encoder_open(&cfg, "auto", record_log, &log, &e), HFX_OK);
    CHECK(strcmp(hfx_encoder_name(e), "libx264") == 0);
    /* The backends before it in HFX_ENCODER_AUTO_ORDER that this libavcodec
     * has were tried and reported, not as errors. */
    if (avcodec_find_encoder_by_name("h264_nvenc"))
        CHECK(strstr(log.text, "h264_nvenc") != NULL);
    CHECK_EQ_INT(log.errors, 0);
    hfx_encoder_free(&e);
    hfx_encoder_free(&e);

    CHECK_STATUS(hfx_encoder_open(&cfg, NULL, NULL, NULL, &e), HFX_OK);
    CHECK(strcmp(hfx_encoder_name(e), "libx264") == 0);
    hfx_encoder_free(&e);
    CHECK_STATUS(hfx_encoder_open(&cfg, "libx264", NULL, NULL, &e), HFX_OK);
    CHECK(strcmp(hfx_encoder_name(e), "libx264") == 0);
    hfx_encoder_free(&e);
}

struct nal_types {
    uint32_t mask;
    int count;
};

static void note_type(void *user, const uint8_t *nal, size_t len)
{
    struct nal_types *t = user;
    t->mask |= 1u << (nal[0] & 0x1f);
    t->count++;
}

static void test_extradata_is_sps_pps(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_I420, 320, 240);
    struct hfx_encoder *e = open_ok(&cfg, "libx264");
    const uint8_t *data = NULL;
    size_t len = 0;
    struct nal_types t = {0};

    hfx_encoder_extradata(e, &data, &len);
    CHECK(data != NULL && len > 8);
    CHECK_EQ_INT(hfx_h264_foreach_nal(data, len, note_type, &t), 2);
    CHECK_EQ_INT(t.mask, (1u << 7) | (1u << 8));
    CHECK(memcmp(data, "\0\0\0\1", 4) == 0);
    hfx_encoder_free(&e);
}

static void test_profiles(void)
{
    static const struct {
        uint8_t profile;
        uint8_t idc;
    } want[] = {
        {HFX_PROFILE_BASELINE, 66},
        {HFX_PROFILE_MAIN, 77},
        {HFX_PROFILE_HIGH, 100},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct hfx_configure cfg = config(HFX_FORMAT_NV12, 320, 240);
        cfg.profile = want[i].profile;
        /* x264's profile is a ceiling: ultrafast (no CABAC, no 8x8
         * transform) fits baseline whatever is asked. veryfast uses both. */
        cfg.latency = HFX_LATENCY_BALANCED;
        struct hfx_encoder *e = open_ok(&cfg, "auto");
        const uint8_t *data;
        size_t len;
        uint8_t profile = 0, level = 0;
        hfx_encoder_extradata(e, &data, &len);
        CHECK(hfx_h264_sps_profile_level(data, len, &profile, &level));
        CHECK_EQ_INT(profile, want[i].idc);
        if (want[i].idc == 66)
            CHECK(data[6] & 0x40); /* constraint_set1: constrained baseline */
        hfx_encoder_free(&e);
    }
}

static void test_roundtrip_nv12(void)
{
    check_roundtrip(HFX_FORMAT_NV12, 320, 240, 30);
}
static void test_roundtrip_i420(void)
{
    check_roundtrip(HFX_FORMAT_I420, 320, 240, 30);
}
static void test_roundtrip_bgrx(void)
{
    check_roundtrip(HFX_FORMAT_BGRX, 320, 240, 30);
}
static void test_roundtrip_bgra(void)
{
    check_roundtrip(HFX_FORMAT_BGRA, 320, 240, 30);
}
static void test_roundtrip_rgbx(void)
{
    check_roundtrip(HFX_FORMAT_RGBX, 320, 240, 30);
}
static void test_roundtrip_rgba(void)
{
    check_roundtrip(HFX_FORMAT_RGBA, 320, 240, 30);
}
static void test_roundtrip_720p(void)
{
    check_roundtrip(HFX_FORMAT_BGRX, 1280, 720, 30);
}

static void test_force_idr(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_NV12, 320, 240);
    struct run r;

    cfg.keyint_frames = 1000;
    run_stream(&cfg, "auto", 30, 10, &r);
    CHECK(r.key_at[0]);
    CHECK(r.key_at[10]);
    CHECK_EQ_INT(r.keyframes, 2);
    CHECK(r.cmp.worst >= MIN_PSNR);
    run_release(&r);
}

static void count_slice(void *user, const uint8_t *nal, size_t nal_len)
{
    unsigned type = nal_len ? nal[0] & 0x1f : 0;

    if (type == 1 || type == 5)
        (*(unsigned *)user)++;
}

/* Receive every packet ready, each with `slices` slices; the status that
 * ended it. */
static enum hfx_status receive_slices(struct hfx_encoder *e, unsigned slices, unsigned *packets)
{
    struct hfx_encoded out;
    enum hfx_status st;

    while ((st = hfx_encoder_receive(e, &out)) == HFX_OK) {
        unsigned n = 0;

        hfx_h264_foreach_nal(out.data, out.len, count_slice, &n);
        CHECK_EQ_INT(n, slices);
        (*packets)++;
    }
    return st;
}

/* hfx_encoder_options.threads reaches libx264: with the zerolatency tune it
 * runs sliced threads, one slice per thread in every picture. */
static void check_threads(unsigned threads)
{
    struct hfx_configure cfg = config(HFX_FORMAT_I420, 320, 240);
    struct hfx_encoder_options opts = {"libx264", threads, record_log, NULL};
    struct hfx_encoder *e = NULL;
    struct hfx_image img;
    unsigned packets = 0;

    CHECK_STATUS(hfx_encoder_open_with(&cfg, &opts, &e), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_I420, 320, 240), HFX_OK);
    for (int i = 0; i < 5; i++) {
        struct hfx_picture pic = picture_of(&img);

        hfx_pattern_fill(&img, (uint64_t)i);
        CHECK_STATUS(hfx_encoder_send(e, &pic, i, false), HFX_OK);
        CHECK_STATUS(receive_slices(e, threads, &packets), HFX_INCOMPLETE);
    }
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    CHECK_STATUS(receive_slices(e, threads, &packets), HFX_E_CLOSED);
    CHECK_EQ_INT(packets, 5);
    hfx_image_release(&img);
    hfx_encoder_free(&e);
}

static void test_threads_one(void)
{
    check_threads(1);
}
static void test_threads_three(void)
{
    check_threads(3);
}

static void test_threads_rejected(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_I420, 320, 240);
    struct hfx_encoder_options opts = {"libx264", HFX_ENCODER_MAX_THREADS + 1, NULL, NULL};
    struct hfx_encoder *e = NULL;

    CHECK_STATUS(hfx_encoder_open_with(&cfg, &opts, &e), HFX_E_INVALID);
    CHECK(e == NULL);
    CHECK_STATUS(hfx_encoder_open_with(&cfg, NULL, &e), HFX_E_INVALID);
    CHECK(e == NULL);
}

static void test_keyint(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_I420, 320, 240);
    struct run r;

    cfg.keyint_frames = 10;
    run_stream(&cfg, "auto", 30, -1, &r);
    CHECK(r.key_at[0] && r.key_at[10] && r.key_at[20]);
    CHECK_EQ_INT(r.keyframes, 3);
    run_release(&r);
}

static size_t bytes_between(const struct run *r, int from, int to)
{
    size_t sum = 0;
    for (int i = from; i < to; i++)
        sum += r->bytes_at[i];
    return sum;
}

static void check_bitrate_change(uint8_t rate_control)
{
    struct hfx_configure cfg = config(HFX_FORMAT_NV12, 640, 480);
    cfg.bitrate_kbps = 200;
    cfg.rate_control = rate_control;
    struct hfx_encoder *e = open_ok(&cfg, "libx264");
    struct run r;

    run_init(&r, HFX_FORMAT_NV12, 640, 480);
    encode_range(e, &r, 0, 40, -1);
    CHECK_STATUS(hfx_encoder_set_bitrate(e, 4000), HFX_OK);
    encode_range(e, &r, 40, 40, -1);
    finish(e, &r);
    CHECK_EQ_INT(r.packets, 80);
    size_t low = bytes_between(&r, 20, 40), high = bytes_between(&r, 50, 70);
    if (getenv("HFX_TEST_VERBOSE"))
        fprintf(stderr, "bytes/frame %zu -> %zu\n", low / 20, high / 20);
    CHECK(high > 2 * low);
    /* libx264 changes a CBR rate in place; ABR is reopened: a new IDR. */
    CHECK_EQ_INT(r.key_at[40], rate_control != HFX_RC_CBR);
    CHECK_STATUS(hfx_encoder_set_bitrate(e, 0), HFX_E_INVALID);
    CHECK_STATUS(hfx_encoder_set_bitrate(e, HFX_MAX_BITRATE_KBPS + 1), HFX_E_INVALID);
    run_release(&r);
    hfx_encoder_free(&e);
}

static void test_bitrate_change_abr(void)
{
    check_bitrate_change(HFX_RC_ABR);
}
static void test_bitrate_change_cbr(void)
{
    check_bitrate_change(HFX_RC_CBR);
}

static void test_flush_then_send(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_RGBA, 320, 240);
    struct hfx_encoder *e = open_ok(&cfg, "auto");
    struct hfx_encoded pkt;
    struct run r;

    run_init(&r, HFX_FORMAT_RGBA, 320, 240);
    encode_range(e, &r, 0, 5, -1);
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK); /* idempotent */
    struct hfx_picture pic = picture_of(&r.cmp.src);
    CHECK_STATUS(hfx_encoder_send(e, &pic, 5, false), HFX_E_STATE);
    receive_all(e, &r, HFX_E_CLOSED);
    CHECK_EQ_INT(r.packets, 5);
    CHECK_STATUS(hfx_encoder_receive(e, &pkt), HFX_E_CLOSED);

    /* Sending again reopens: a new IDR with SPS/PPS. */
    int before = r.keyframes;
    encode_range(e, &r, 5, 5, -1);
    CHECK(r.key_at[5]);
    CHECK_EQ_INT(r.keyframes, before + 1);
    finish(e, &r);
    CHECK_EQ_INT(r.packets, 10);
    CHECK_EQ_INT(hfx_h264_decoder_frames(r.dec), 10);
    CHECK(r.cmp.worst >= MIN_PSNR);
    run_release(&r);
    hfx_encoder_free(&e);
}

static void test_cqp(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_I420, 320, 240);
    struct run r;

    cfg.rate_control = HFX_RC_CQP;
    cfg.bitrate_kbps = 0;
    cfg.quality = 18;
    cfg.latency = HFX_LATENCY_QUALITY;
    run_stream(&cfg, "libx264", 15, -1, &r);
    CHECK(r.cmp.worst >= 40.0);
    run_release(&r);
}

static void test_bad_stride(void)
{
    struct hfx_configure cfg = config(HFX_FORMAT_BGRX, 320, 240);
    struct hfx_encoder *e = open_ok(&cfg, "auto");
    struct hfx_image img;
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_BGRX, 320, 240), HFX_OK);
    struct hfx_picture pic = picture_of(&img);
    pic.stride[0] = 320 * 4 - 1;
    CHECK_STATUS(hfx_encoder_send(e, &pic, 0, false), HFX_E_BAD_STRIDE);
    pic.stride[0] = 320 * 4;
    pic.plane[0] = NULL;
    CHECK_STATUS(hfx_encoder_send(e, &pic, 0, false), HFX_E_INVALID);
    CHECK_STATUS(hfx_encoder_send(e, NULL, 0, false), HFX_E_INVALID);
    hfx_image_release(&img);
    hfx_encoder_free(&e);
}

static void expect_open(const struct hfx_configure *cfg, const char *name, enum hfx_status want)
{
    struct hfx_encoder *e = (struct hfx_encoder *)&e; /* must be reset to NULL */
    CHECK_STATUS(hfx_encoder_open(cfg, name, record_log, NULL, &e), want);
    CHECK(e == NULL);
}

enum field {
    F_FOURCC,
    F_CODEC,
    F_FPS_NUM,
    F_FPS_DEN,
    F_BITRATE,
    F_PROFILE,
    F_LATENCY,
    F_RC,
    F_QUALITY
};

static void set_field(struct hfx_configure *cfg, enum field f, uint32_t v)
{
    switch (f) {
    case F_FOURCC:
        cfg->fourcc = v;
        break;
    case F_CODEC:
        cfg->codec = v;
        break;
    case F_FPS_NUM:
        cfg->fps_num = v;
        break;
    case F_FPS_DEN:
        cfg->fps_den = v;
        break;
    case F_BITRATE:
        cfg->bitrate_kbps = v;
        break;
    case F_PROFILE:
        cfg->profile = (uint8_t)v;
        break;
    case F_LATENCY:
        cfg->latency = (uint8_t)v;
        break;
    case F_RC:
        cfg->rate_control = (uint8_t)v;
        break;
    case F_QUALITY:
        cfg->quality = (uint8_t)v;
        break;
    }
}

static void test_rejects(void)
{
    static const struct {
        enum field field;
        uint32_t value;
        enum hfx_status want;
    } lies[] = {
        {F_FOURCC, HFX_FOURCC('Y', 'U', 'Y', '2'), HFX_E_BAD_FORMAT},
        {F_CODEC, 9, HFX_E_BAD_FORMAT},
        {F_CODEC, 0, HFX_E_BAD_FORMAT},
        {F_FPS_NUM, 0, HFX_E_INVALID},
        {F_FPS_DEN, 0, HFX_E_INVALID},
        {F_FPS_NUM, 0x80000000u, HFX_E_INVALID},
        {F_BITRATE, 0, HFX_E_INVALID},
        {F_BITRATE, HFX_MAX_BITRATE_KBPS + 1, HFX_E_INVALID},
        {F_PROFILE, 4, HFX_E_INVALID},
        {F_LATENCY, 3, HFX_E_INVALID},
        {F_RC, 3, HFX_E_INVALID},
        {F_QUALITY, 52, HFX_E_INVALID}, /* with CQP */
    };
    struct hfx_configure good = config(HFX_FORMAT_NV12, 320, 240), cfg;

    expect_open(&good, "no-such-encoder", HFX_E_NO_ENCODER);
    expect_open(&good, "h264_videotoolbox", HFX_E_NO_ENCODER); /* not built on Linux */
    expect_open(NULL, "auto", HFX_E_INVALID);
    CHECK_STATUS(hfx_encoder_open(&good, "auto", NULL, NULL, NULL), HFX_E_INVALID);

    static const uint32_t dims[][2] = {
        {321, 240}, {320, 241}, {0, 240}, {320, 0}, {HFX_MAX_DIMENSION + 2, 240},
    };
    for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
        cfg = good;
        cfg.width = dims[i][0];
        cfg.height = dims[i][1];
        expect_open(&cfg, "auto", HFX_E_BAD_DIMENSIONS);
    }
    for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
        cfg = good;
        set_field(&cfg, lies[i].field, lies[i].value);
        if (lies[i].field == F_QUALITY)
            cfg.rate_control = HFX_RC_CQP;
        expect_open(&cfg, "auto", lies[i].want);
    }
    /* x264's family has no AV1 backend. */
    cfg = good;
    cfg.codec = HFX_CODEC_AV1;
    expect_open(&cfg, "libx264", HFX_E_UNSUPPORTED);
}

/* The fault-injection names (host/encoder-fault.h) exist only in the
 * test-only libhfx-host-fault; libhfx-host, which hfxd links, must treat them
 * as any unknown name a guest sends. */
static void test_fault_names_unknown(void)
{
    static const char *const names[] = {
        "fake",          "fault-open",         "fault-fail-at=0@fake", "fault-fail-once=0",
        "fault-stall=1", "fault-block=0@fake",
    };
    struct hfx_configure good = config(HFX_FORMAT_NV12, 320, 240);

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        expect_open(&good, names[i], HFX_E_NO_ENCODER);
}

/* hfx_encoder_known: every backend name of every codec, whether this
 * libavcodec has it or not, and "auto"; nothing near them. */
static void test_encoder_known(void)
{
    static const char *const known[] = {
        "auto",       "",           "libx264",           "libx265",
        "h264_nvenc", "hevc_vaapi", "h264_videotoolbox", "libopenh264",
        "libsvtav1",  "libaom-av1",
    };
    static const char *const unknown[] = {
        "libx26", "LIBX264", "libx264 ", "Auto", "fake", "fault-open", "h264", "x264",
    };

    CHECK(hfx_encoder_known(NULL));
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        CHECK(hfx_encoder_known(known[i]));
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        CHECK(!hfx_encoder_known(unknown[i]));
}

/* hfx_encoder_library_logs sets FFmpeg's level both ways. */
static void test_library_logs(void)
{
    int before = av_log_get_level();

    hfx_encoder_library_logs(true);
    CHECK_EQ_INT(av_log_get_level(), AV_LOG_ERROR);
    hfx_encoder_library_logs(false);
    CHECK_EQ_INT(av_log_get_level(), AV_LOG_INFO);
    av_log_set_level(before);
}

static void test_tiny_picture(void)
{
    check_roundtrip(HFX_FORMAT_I420, 16, 16, 5);
}

static void test_hevc_when_available(void)
{
    if (!avcodec_find_encoder_by_name("libx265"))
        return;
    struct hfx_configure cfg = config(HFX_FORMAT_NV12, 320, 240);
    cfg.codec = HFX_CODEC_HEVC;
    struct hfx_encoder *e = open_ok(&cfg, "libx264"); /* the family's HEVC: libx265 */
    struct hfx_image img;
    struct hfx_encoded pkt;
    const uint8_t *data;
    size_t len;
    int packets = 0, keys = 0;

    CHECK(strcmp(hfx_encoder_name(e), "libx265") == 0);
    hfx_encoder_extradata(e, &data, &len);
    CHECK(len > 0);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 320, 240), HFX_OK);
    struct hfx_picture pic = picture_of(&img);
    for (int i = 0; i < 10; i++) {
        hfx_pattern_fill(&img, (uint64_t)i);
        CHECK_STATUS(hfx_encoder_send(e, &pic, i, i == 5), HFX_OK);
        while (hfx_encoder_receive(e, &pkt) == HFX_OK) {
            packets++;
            keys += pkt.keyframe;
        }
    }
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    while (hfx_encoder_receive(e, &pkt) == HFX_OK) {
        packets++;
        keys += pkt.keyframe;
    }
    CHECK_EQ_INT(packets, 10);
    CHECK(keys >= 2);
    hfx_image_release(&img);
    hfx_encoder_free(&e);
}

/* Total bytes of 8 frames of the pattern encoded by backend in CQP at
 * quality q, or 0 when this libavcodec lacks it. */
static size_t cqp_bytes(enum hfx_codec codec, const char *backend, uint8_t q)
{
    if (!avcodec_find_encoder_by_name(backend))
        return 0;
    struct hfx_configure cfg = config(HFX_FORMAT_NV12, 320, 240);
    cfg.codec = (uint8_t)codec;
    cfg.rate_control = HFX_RC_CQP;
    cfg.quality = q;
    struct hfx_encoder *e = open_ok(&cfg, backend);
    struct hfx_image img;
    struct hfx_encoded pkt;
    size_t bytes = 0;

    if (!e)
        return 0;
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 320, 240), HFX_OK);
    struct hfx_picture pic = picture_of(&img);
    for (int i = 0; i < 8; i++) {
        hfx_pattern_fill(&img, (uint64_t)i * 5);
        CHECK_STATUS(hfx_encoder_send(e, &pic, i, false), HFX_OK);
        while (hfx_encoder_receive(e, &pkt) == HFX_OK)
            bytes += pkt.len;
    }
    CHECK_STATUS(hfx_encoder_flush(e), HFX_OK);
    while (hfx_encoder_receive(e, &pkt) == HFX_OK)
        bytes += pkt.len;
    hfx_image_release(&img);
    hfx_encoder_free(&e);
    CHECK(bytes > 0);
    return bytes;
}

/* CQP's quality reaches each software encoder this libavcodec has: a low
 * quantizer must cost clearly more bytes than a high one (an option the
 * encoder lacks would leave both at its default). */
static void test_cqp_quality_applies(void)
{
    static const struct {
        enum hfx_codec codec;
        const char *backend;
    } backends[] = {
        {HFX_CODEC_H264, "libx264"},     {HFX_CODEC_HEVC, "libx265"},
        {HFX_CODEC_H264, "libopenh264"}, {HFX_CODEC_AV1, "libaom-av1"},
        {HFX_CODEC_AV1, "libsvtav1"},
    };

    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (getenv("HFX_TEST_VALGRIND") && strcmp(backends[i].backend, "libsvtav1") == 0) {
            fprintf(stderr, "libsvtav1: not run under valgrind (it cannot translate "
                            "SVT-AV1's AVX2 code; docs/testing.md)\n");
            continue;
        }
        size_t fine = cqp_bytes(backends[i].codec, backends[i].backend, 10);
        size_t coarse = cqp_bytes(backends[i].codec, backends[i].backend, 45);

        if (!fine) {
            fprintf(stderr, "%s: not in this libavcodec, not checked\n", backends[i].backend);
            continue;
        }
        fprintf(stderr, "%s: %zu bytes at quality 10, %zu at 45\n", backends[i].backend, fine,
                coarse);
        CHECK(fine > 2 * coarse);
    }
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_auto_picks_libx264),
        CHECK_CASE(test_extradata_is_sps_pps),
        CHECK_CASE(test_profiles),
        CHECK_CASE(test_roundtrip_nv12),
        CHECK_CASE(test_roundtrip_i420),
        CHECK_CASE(test_roundtrip_bgrx),
        CHECK_CASE(test_roundtrip_bgra),
        CHECK_CASE(test_roundtrip_rgbx),
        CHECK_CASE(test_roundtrip_rgba),
        CHECK_CASE(test_roundtrip_720p),
        CHECK_CASE(test_force_idr),
        CHECK_CASE(test_keyint),
        CHECK_CASE(test_threads_one),
        CHECK_CASE(test_threads_three),
        CHECK_CASE(test_threads_rejected),
        CHECK_CASE(test_bitrate_change_abr),
        CHECK_CASE(test_bitrate_change_cbr),
        CHECK_CASE(test_flush_then_send),
        CHECK_CASE(test_cqp),
        CHECK_CASE(test_bad_stride),
        CHECK_CASE(test_rejects),
        CHECK_CASE(test_fault_names_unknown),
        CHECK_CASE(test_encoder_known),
        CHECK_CASE(test_library_logs),
        CHECK_CASE(test_tiny_picture),
        CHECK_CASE(test_hevc_when_available),
        CHECK_CASE(test_cqp_quality_applies),
    };
    av_log_set_level(AV_LOG_ERROR);
    return check_run(cases, CHECK_COUNT(cases));
}
