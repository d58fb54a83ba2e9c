/* SPDX-License-Identifier: MIT */
/*
 * The backend families (host/encoder-family.h) against this libavcodec:
 * each family's options are set on a context of each of its encoders that
 * this FFmpeg has (hardware encoders included: a context can be given
 * options without a device), and read back. No encoder is opened; what is
 * checked is that the names and values a family sets exist and mean what
 * docs/architecture.md ("Encoder backends") says, for the families this
 * machine cannot run.
 */
#include <stdio.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "check.h"
#include "encoder-family.h"

struct named_family {
    const char *name;
    const struct family *f;
};

static const struct named_family families[] = {
    {"videotoolbox", &family_videotoolbox},
    {"nvenc", &family_nvenc},
    {"qsv", &family_qsv},
    {"vaapi", &family_vaapi},
    {"x26x", &family_x26x},
    {"openh264", &family_openh264},
    {"svtav1", &family_svtav1},
    {"aom", &family_aom},
};

/* The family's log: counts the options it could not apply. */
struct log_count {
    unsigned not_applied;
};

static void count_log(void *user, enum hfx_log_level level, const char *msg)
{
    struct log_count *lc = user;

    if (strstr(msg, "not applied")) {
        lc->not_applied++;
        fprintf(stderr, "  %s (level %d)\n", msg, (int)level);
    }
}

/* A context of encoder name as a family gets it, or NULL when this
 * libavcodec does not have the encoder. */
static AVCodecContext *context_for(const char *name)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(name);

    return codec ? avcodec_alloc_context3(codec) : NULL;
}

static struct hfx_configure config(enum hfx_codec codec, enum hfx_rate_control rc,
                                   enum hfx_latency latency)
{
    return (struct hfx_configure){.codec = (uint8_t)codec,
                                  .width = 1280,
                                  .height = 720,
                                  .fourcc = HFX_FORMAT_NV12,
                                  .fps_num = 30,
                                  .fps_den = 1,
                                  .bitrate_kbps = 4000,
                                  .rate_control = (uint8_t)rc,
                                  .quality = 27,
                                  .latency = (uint8_t)latency};
}

static void apply(const struct family *f, const char *backend, AVCodecContext *ctx,
                  const struct hfx_configure *cfg, struct log_count *lc)
{
    struct family_call c = {cfg, backend, ctx, count_log, lc};

    f->latency(&c);
    f->rate_control(&c);
}

static int64_t opt_int(AVCodecContext *ctx, const char *key)
{
    int64_t v = -12345;

    CHECK(av_opt_get_int(ctx->priv_data, key, 0, &v) >= 0);
    return v;
}

/* The value of the named constant of option key (an enum such as nvenc's
 * rc), as av_opt_get_int reads the option. */
static int64_t opt_const(AVCodecContext *ctx, const char *key, const char *name)
{
    const AVOption *o = av_opt_find(ctx->priv_data, key, NULL, 0, 0);
    const AVOption *k = o && o->unit ? av_opt_find(ctx->priv_data, name, o->unit, 0, 0) : NULL;

    CHECK(k != NULL);
    return k ? k->default_val.i64 : -1;
}

/* Every option every family sets exists in each of its encoders that this
 * libavcodec has, for every rate control and latency. */
static void test_every_option_applies(void)
{
    unsigned tried = 0;

    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        for (int codec = 0; codec <= HFX_CODEC_AV1; codec++) {
            const char *name = families[i].f->encoder[codec];
            if (!name)
                continue;
            for (int rc = HFX_RC_ABR; rc <= HFX_RC_CQP; rc++) {
                for (int lat = HFX_LATENCY_LOWEST; lat <= HFX_LATENCY_QUALITY; lat++) {
                    AVCodecContext *ctx = context_for(name);
                    struct log_count lc = {0};
                    struct hfx_configure cfg = config(codec, rc, lat);

                    if (!ctx)
                        continue;
                    apply(families[i].f, name, ctx, &cfg, &lc);
                    if (lc.not_applied)
                        fprintf(stderr, "%s (family %s), rate control %d, latency %d\n", name,
                                families[i].name, rc, lat);
                    CHECK_EQ_INT(lc.not_applied, 0);
                    avcodec_free_context(&ctx);
                    tried++;
                }
            }
        }
    }
    /* libx264 at least: the build needs it. */
    CHECK(tried >= 9);
    fprintf(stderr, "%u encoder configurations checked\n", tried);
}

static void test_x264(void)
{
    AVCodecContext *ctx = context_for("libx264");
    struct log_count lc = {0};
    struct hfx_configure cfg = config(HFX_CODEC_H264, HFX_RC_CQP, HFX_LATENCY_BALANCED);
    char *s = NULL;
    double crf = 0;

    CHECK(ctx != NULL);
    if (!ctx)
        return;
    apply(&family_x26x, "libx264", ctx, &cfg, &lc);
    CHECK(av_opt_get(ctx->priv_data, "preset", 0, (uint8_t **)&s) >= 0 && s &&
          strcmp(s, "veryfast") == 0);
    av_free(s);
    s = NULL;
    CHECK(av_opt_get(ctx->priv_data, "tune", 0, (uint8_t **)&s) >= 0 && s &&
          strcmp(s, "zerolatency") == 0);
    av_free(s);
    /* x264's CQP is its CRF. */
    CHECK(av_opt_get_double(ctx->priv_data, "crf", 0, &crf) >= 0);
    CHECK(crf == 27.0);
    CHECK_EQ_INT(opt_int(ctx, "forced-idr"), 1);
    avcodec_free_context(&ctx);
}

/* nvenc and vaapi name their rate control mode in one enum option; CQP
 * sets qp as well, ABR sets nothing. */
static void check_mode(const struct family *f, const char *backend, const char *key,
                       const char *cbr, const char *cqp)
{
    static const enum hfx_rate_control rcs[] = {HFX_RC_ABR, HFX_RC_CBR, HFX_RC_CQP};

    for (size_t i = 0; i < 3; i++) {
        AVCodecContext *ctx = context_for(backend);
        struct log_count lc = {0};
        struct hfx_configure cfg = config(HFX_CODEC_H264, rcs[i], HFX_LATENCY_LOWEST);

        if (!ctx) {
            fprintf(stderr, "%s: not in this libavcodec, not checked\n", backend);
            return;
        }
        int64_t mode_before = opt_int(ctx, key), qp_before = opt_int(ctx, "qp");
        apply(f, backend, ctx, &cfg, &lc);
        if (rcs[i] == HFX_RC_ABR) {
            CHECK(opt_int(ctx, key) == mode_before);
            CHECK(opt_int(ctx, "qp") == qp_before);
        } else if (rcs[i] == HFX_RC_CBR) {
            CHECK(opt_int(ctx, key) == opt_const(ctx, key, cbr));
            CHECK(opt_int(ctx, "qp") == qp_before);
        } else {
            CHECK(opt_int(ctx, key) == opt_const(ctx, key, cqp));
            CHECK_EQ_INT(opt_int(ctx, "qp"), 27);
        }
        avcodec_free_context(&ctx);
    }
}

static void test_nvenc_and_vaapi_modes(void)
{
    check_mode(&family_nvenc, "h264_nvenc", "rc", "cbr", "constqp");
    check_mode(&family_vaapi, "h264_vaapi", "rc_mode", "CBR", "CQP");
}

static void test_qsv_cqp_is_global_quality(void)
{
    AVCodecContext *ctx = context_for("h264_qsv");
    struct log_count lc = {0};
    struct hfx_configure cfg = config(HFX_CODEC_H264, HFX_RC_CQP, HFX_LATENCY_LOWEST);

    if (!ctx) {
        fprintf(stderr, "h264_qsv: not in this libavcodec, not checked\n");
        return;
    }
    apply(&family_qsv, "h264_qsv", ctx, &cfg, &lc);
    CHECK(ctx->flags & AV_CODEC_FLAG_QSCALE);
    CHECK_EQ_INT(ctx->global_quality, 27 * FF_QP2LAMBDA);
    avcodec_free_context(&ctx);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_every_option_applies),
        CHECK_CASE(test_x264),
        CHECK_CASE(test_nvenc_and_vaapi_modes),
        CHECK_CASE(test_qsv_cqp_is_global_quality),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
