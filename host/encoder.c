/* SPDX-License-Identifier: MIT */
/*
 * libavcodec encoder backends (include/hfx/encoder.h): opening, reopening,
 * the input path, send, receive, flush and bitrate changes, common to
 * every backend. What differs between backend families (their encoders,
 * latency and rate-control options, profile names, in-place bitrate
 * changes) is behind one table per family (encoder-family.h;
 * docs/architecture.md, "Encoder backends").
 *
 * Output is always Annex-B with SPS/PPS in front of every IDR: the encoder
 * is opened with AV_CODEC_FLAG_GLOBAL_HEADER, its extradata is reduced to
 * the parameter sets, and they are prepended to any IDR access unit that
 * lacks them. Whether a packet is an IDR is decided by scanning NAL unit
 * types (util/annexb.h), never by AV_PKT_FLAG_KEY (docs/architecture.md,
 * "Keyframes").
 *
 * FFmpeg's own av_log output is process-global state and belongs to the
 * application (av_log_set_level / av_log_set_callback); this file touches it
 * only when the application asks (hfx_encoder_library_logs) and reports
 * only through the hfx_log_fn callback.
 */
#include "hfx/encoder.h"
#include "hfx/h264.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

#include "encoder-family.h"
#include "util/annexb.h"
#include "util/h264-sps.h"
#include "util/log.h"
#include "util/pixfmt.h"

#ifdef HFX_FAULT_INJECTION
/* Test builds only (libhfx-host-fault): encoder names `fake` and `fault-*`
 * (encoder-fault.h). Without this define, as in hfxd, they are unknown. */
#include "encoder-fault.h"
#endif

/* Every family, in `auto`'s probe order: the first whose encoder for the
 * codec opens. For H.264 this is HFX_ENCODER_AUTO_ORDER (test-encoder
 * checks it). */
static const struct family *const families[] = {
    &family_videotoolbox, &family_nvenc, &family_qsv, &family_vaapi,
    &family_x26x, &family_openh264, &family_svtav1, &family_aom,
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* One libavcodec encoder: its name and codec are its family's. */
struct backend {
    const char *name; /* NULL: none chosen */
    uint32_t codec;   /* enum hfx_codec */
    const struct family *family;
};

/* Packets drained from an encoder that was reopened for a new bitrate,
 * handed out before the new encoder's. Low-latency encoders hold a few
 * frames at most; anything past this is dropped with a warning. */
#define MAX_PENDING 16

/* Default GOP when keyint_frames is 0: ten seconds of frames, capped. */
#define DEFAULT_GOP_SECONDS 10
#define MAX_DEFAULT_GOP 1200

/* Frames in a hardware frames pool (vaapi): the encoder's references plus
 * the one being uploaded. */
#define HW_POOL_SIZE 8

enum state {
    STATE_OPEN,     /* accepting frames */
    STATE_DRAINING, /* flush sent, receiving what is left */
    STATE_CLOSED,   /* drained; the next send reopens */
};

struct hfx_encoder {
    struct hfx_configure cfg;
    unsigned threads; /* 0 = the backend's own choice */
    hfx_log_fn log;
    void *log_user;
    struct backend backend;
    enum state state;

    AVCodecContext *ctx;
    AVPacket *pkt; /* the packet behind the last hfx_encoded */

    /* Input path: pictures are copied or converted into frame (a software
     * frame in enc_fmt); with hw_device they are then uploaded. */
    enum AVPixelFormat in_fmt;
    enum AVPixelFormat enc_fmt;
    AVFrame *frame;
    struct SwsContext *sws;
    AVBufferRef *hw_device;
    AVFrame *hw_frame;

    AVPacket *pending[MAX_PENDING];
    size_t pending_head, pending_count;

    uint8_t extradata[HFX_MAX_EXTRADATA];
    size_t extradata_len;

    uint8_t *out; /* parameter sets + access unit, when prepending */
    size_t out_cap;
    /* H.264 access units whose SPS was rewritten (edit_sps) */
    uint8_t *fixed[2];
    size_t fixed_cap[2];
    bool said_rewrite, said_unparsed;

#ifdef HFX_FAULT_INJECTION
    /* The fault layer: applied before each send; when it is the fake
     * encoder, it encodes and ctx stays NULL. */
    struct fault *fault;
#endif
};

static void say(const struct hfx_encoder *e, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct hfx_encoder *e, enum hfx_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hfx_vlog(e->log, e->log_user, level, NULL, fmt, ap);
    va_end(ap);
}

/* Every libav* failure becomes HFX_E_ENCODER, with FFmpeg's text logged. */
static enum hfx_status av_fail(const struct hfx_encoder *e, enum hfx_log_level level,
                               const char *what, int ret)
{
    say(e, level, "%s: %s: %s", e->backend.name ? e->backend.name : "encoder", what,
        av_err2str(ret));
    return HFX_E_ENCODER;
}

/* The checks hfx_configure_validate makes, repeated here because an
 * encoder must never be opened from an unchecked request. */
static enum hfx_status check_config(const struct hfx_configure *cfg)
{
    if (cfg->codec < HFX_CODEC_H264 || cfg->codec > HFX_CODEC_AV1)
        return HFX_E_BAD_FORMAT;
    if (cfg->width < 2 || cfg->height < 2 || cfg->width > HFX_MAX_DIMENSION ||
        cfg->height > HFX_MAX_DIMENSION || (cfg->width | cfg->height) & 1)
        return HFX_E_BAD_DIMENSIONS;
    if (hfx_pixfmt_from_fourcc(cfg->fourcc) == AV_PIX_FMT_NONE)
        return HFX_E_BAD_FORMAT;
    if (cfg->fps_num == 0 || cfg->fps_den == 0 || cfg->fps_num > INT_MAX ||
        cfg->fps_den > INT_MAX)
        return HFX_E_INVALID;
    if (cfg->rate_control > HFX_RC_CQP || cfg->profile > HFX_PROFILE_HIGH ||
        cfg->latency > HFX_LATENCY_QUALITY || cfg->quality > 51)
        return HFX_E_INVALID;
    if (cfg->rate_control != HFX_RC_CQP &&
        (cfg->bitrate_kbps == 0 || cfg->bitrate_kbps > HFX_MAX_BITRATE_KBPS))
        return HFX_E_INVALID;
    return HFX_OK;
}

static bool find_backend(const char *name, struct backend *out)
{
    for (size_t i = 0; i < N_FAMILIES; i++) {
        for (uint32_t codec = HFX_CODEC_H264; codec <= HFX_CODEC_AV1; codec++) {
            const char *encoder = families[i]->encoder[codec];
            if (encoder && strcmp(encoder, name) == 0) {
                *out = (struct backend){encoder, codec, families[i]};
                return true;
            }
        }
    }
    return false;
}

void hfx_encoder_library_logs(bool errors_only)
{
    av_log_set_level(errors_only ? AV_LOG_ERROR : AV_LOG_INFO);
}

bool hfx_encoder_known(const char *name)
{
    struct backend b;

    return !name || !name[0] || strcmp(name, "auto") == 0 || find_backend(name, &b);
}

/* The backend of b's family for codec (libx264 -> libx265 for HEVC). */
static bool for_codec(const struct backend *b, uint32_t codec, struct backend *out)
{
    const char *encoder = b->family->encoder[codec];

    if (!encoder)
        return false;
    *out = (struct backend){encoder, codec, b->family};
    return true;
}

static bool accepts(const AVCodec *codec, enum AVPixelFormat fmt)
{
    if (!codec->pix_fmts) /* not declared: every encoder takes YUV 4:2:0 */
        return fmt == AV_PIX_FMT_YUV420P;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++) {
        if (*p == fmt)
            return true;
    }
    return false;
}

/* Hardware frames setup for encoders that take only hardware surfaces
 * (h264_vaapi). h264_qsv also accepts system-memory NV12 and uploads it
 * itself, so it takes the software path. UNTESTED: no host this was written
 * on has such a device. */
static enum hfx_status setup_hw(struct hfx_encoder *e, const AVCodec *codec)
{
    const AVCodecHWConfig *hw = NULL;

    for (int i = 0;; i++) {
        const AVCodecHWConfig *c = avcodec_get_hw_config(codec, i);
        if (!c)
            break;
        if ((c->methods & AV_CODEC_HW_CONFIG_METHOD_HW_FRAMES_CTX) &&
            c->device_type != AV_HWDEVICE_TYPE_NONE) {
            hw = c;
            break;
        }
    }
    if (!hw)
        return HFX_E_UNSUPPORTED;
    int ret = av_hwdevice_ctx_create(&e->hw_device, hw->device_type, NULL, NULL, 0);
    if (ret < 0)
        return av_fail(e, HFX_LOG_INFO, "av_hwdevice_ctx_create", ret);
    AVBufferRef *frames = av_hwframe_ctx_alloc(e->hw_device);
    if (!frames)
        return HFX_E_NOMEM;
    AVHWFramesContext *fc = (AVHWFramesContext *)frames->data;
    fc->format = hw->pix_fmt;
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = (int)e->cfg.width;
    fc->height = (int)e->cfg.height;
    fc->initial_pool_size = HW_POOL_SIZE;
    ret = av_hwframe_ctx_init(frames);
    if (ret < 0) {
        av_buffer_unref(&frames);
        return av_fail(e, HFX_LOG_INFO, "av_hwframe_ctx_init", ret);
    }
    e->ctx->hw_frames_ctx = frames; /* taken by the codec context */
    e->ctx->pix_fmt = hw->pix_fmt;
    e->enc_fmt = AV_PIX_FMT_NV12;
    e->hw_frame = av_frame_alloc();
    return e->hw_frame ? HFX_OK : HFX_E_NOMEM;
}

/* Pick what the encoder is fed: the input format itself when it takes it,
 * else NV12 or I420 through swscale, else hardware surfaces. */
static enum hfx_status setup_input_format(struct hfx_encoder *e, const AVCodec *codec)
{
    static const enum AVPixelFormat fallbacks[] = {AV_PIX_FMT_NV12, AV_PIX_FMT_YUV420P};

    if (accepts(codec, e->in_fmt)) {
        e->enc_fmt = e->in_fmt;
    } else {
        e->enc_fmt = AV_PIX_FMT_NONE;
        for (size_t i = 0; i < sizeof(fallbacks) / sizeof(fallbacks[0]); i++) {
            if (accepts(codec, fallbacks[i])) {
                e->enc_fmt = fallbacks[i];
                break;
            }
        }
        if (e->enc_fmt == AV_PIX_FMT_NONE) {
            enum hfx_status st = setup_hw(e, codec);
            if (st != HFX_OK)
                return st;
        }
    }
    if (!e->hw_device)
        e->ctx->pix_fmt = e->enc_fmt;
    return HFX_OK;
}

/* The context's own rate-control fields for cfg, at open and for a bitrate
 * changed in place. hfx bitrates are kbit/s; libavcodec takes bit/s: 1
 * kbit/s = 1000 bit/s. CBR: max rate = target, a one-second buffer (bps
 * fits an int since HFX_MAX_BITRATE_KBPS * 1000 < INT_MAX). */
static void set_rate_fields(AVCodecContext *ctx, const struct hfx_configure *cfg)
{
    int64_t bps = (int64_t)cfg->bitrate_kbps * 1000;

    if (cfg->rate_control == HFX_RC_ABR) {
        ctx->bit_rate = bps;
    } else if (cfg->rate_control == HFX_RC_CBR) {
        ctx->bit_rate = bps;
        ctx->rc_max_rate = bps;
        ctx->rc_buffer_size = (int)bps;
    }
}

/* The profile option, for H.264 only: every H.264 family takes "main" and
 * "high", and spells constrained baseline its own way. */
static void apply_profile(const struct hfx_encoder *e, const struct family_call *c)
{
    static const char *const names[] = {NULL, "baseline", "main", "high"};
    const char *name = names[e->cfg.profile];

    if (!name || e->cfg.codec != HFX_CODEC_H264)
        return;
    if (e->cfg.profile == HFX_PROFILE_BASELINE)
        name = e->backend.family->baseline;
    if (name)
        family_set(c, "profile", name);
}

/* Before avcodec_open2: the family's latency options, the profile, then
 * rate control (the context's fields, then the family's options). */
static void apply_family(struct hfx_encoder *e, AVCodecContext *ctx)
{
    const struct family *f = e->backend.family;
    struct family_call c = {&e->cfg, e->backend.name, ctx, e->log, e->log_user};

    f->latency(&c);
    apply_profile(e, &c);
    set_rate_fields(ctx, &e->cfg);
    f->rate_control(&c);
}

static int gop_size(const struct hfx_configure *cfg)
{
    uint64_t gop = cfg->keyint_frames;

    if (gop == 0) {
        gop = (uint64_t)cfg->fps_num * DEFAULT_GOP_SECONDS / cfg->fps_den;
        if (gop > MAX_DEFAULT_GOP)
            gop = MAX_DEFAULT_GOP;
    }
    if (gop < 1)
        gop = 1;
    return gop > INT_MAX ? INT_MAX : (int)gop;
}

#ifdef HFX_FAULT_INJECTION
static bool strip_vui(struct hfx_sps *sps)
{
    if (!sps->vui_parameters_present_flag)
        return false;
    sps->vui_parameters_present_flag = 0;
    return true;
}
#endif

/* One pass of edit over the SPSs of *data (H.264), into buffer `which`:
 * *data and *len then name the result if an SPS changed. On failure (no
 * memory) the access unit goes out as it came, said once. */
static unsigned edit_sps(struct hfx_encoder *e, hfx_sps_edit_fn edit, int which,
                         const uint8_t **data, size_t *len)
{
    /* hfx_h264_au_edit_sps: len + 64 per SPS is enough; an access unit
     * with more than 16 SPSs is not one an encoder makes. */
    size_t need = *len + 64 * 16, n = 0;
    unsigned changed = 0, unparsed = 0;
    enum hfx_status st;

    if (need > e->fixed_cap[which]) {
        uint8_t *grown = realloc(e->fixed[which], need);
        if (!grown) {
            say(e, HFX_LOG_WARN, "%s: no memory to rewrite an SPS", e->backend.name);
            return 0;
        }
        e->fixed[which] = grown;
        e->fixed_cap[which] = need;
    }
    st = hfx_h264_au_edit_sps(*data, *len, edit, e->fixed[which], e->fixed_cap[which], &n,
                              &changed, &unparsed);
    if (unparsed && !e->said_unparsed) {
        e->said_unparsed = true;
        say(e, HFX_LOG_WARN, "%s: an SPS hfx cannot read goes out as it is (no rewrite)",
            e->backend.name);
    }
    if (st != HFX_OK || !changed)
        return 0;
    *data = e->fixed[which];
    *len = n;
    return changed;
}

/* H.264: an SPS that does not say frames are not reordered (no VUI
 * bitstream_restriction) makes decoders hold frames back, Chromium's
 * WebCodecs decoder by hundreds of milliseconds: hfx's encoders never
 * reorder (max_b_frames 0), and every SPS says so (docs/architecture.md,
 * "SPS rewrite"). Buffer `which` holds the result when one changed. */
static void add_restriction(struct hfx_encoder *e, int which, const uint8_t **data,
                            size_t *len)
{
    if (e->cfg.codec != HFX_CODEC_H264)
        return;
#ifdef HFX_FAULT_INJECTION
    if (e->fault && fault_strips_vui(e->fault))
        edit_sps(e, strip_vui, !which, data, len);
#endif
    if (edit_sps(e, hfx_sps_add_restriction, which, data, len) && !e->said_rewrite) {
        e->said_rewrite = true;
        say(e, HFX_LOG_INFO,
            "%s: its SPS lacks bitstream_restriction; added (max_num_reorder_frames 0)",
            e->backend.name);
    }
}

/* Keep only the parameter sets of an Annex-B buffer (x264 puts an SEI with
 * its version string into extradata; that is not a header). */
static void store_parameter_sets(struct hfx_encoder *e, const uint8_t *data, size_t len)
{
    size_t n;
    enum hfx_status st = hfx_annexb_parameter_sets(e->cfg.codec, data, len, e->extradata,
                                                   sizeof(e->extradata), &n);

    if (st != HFX_OK) {
        say(e, HFX_LOG_WARN, "%s: parameter sets over %d bytes, not kept", e->backend.name,
            HFX_MAX_EXTRADATA);
        n = 0;
    }
    if (n) {
        const uint8_t *sets = e->extradata;
        size_t sets_len = n;

        add_restriction(e, 0, &sets, &sets_len);
        if (sets != e->extradata && sets_len <= sizeof(e->extradata)) {
            memcpy(e->extradata, sets, sets_len);
            n = sets_len;
        }
    }
    e->extradata_len = n;
}

static enum hfx_status take_extradata(struct hfx_encoder *e)
{
    const uint8_t *data = e->ctx->extradata;
    size_t len = e->ctx->extradata_size > 0 ? (size_t)e->ctx->extradata_size : 0;

    e->extradata_len = 0;
    if (e->cfg.codec == HFX_CODEC_AV1) {
        /* AV1 carries its sequence header in-band; keep the record as is. */
        if (len > sizeof(e->extradata))
            return HFX_E_TOO_LARGE;
        if (len)
            memcpy(e->extradata, data, len);
        e->extradata_len = len;
        return HFX_OK;
    }
    if (len && data[0] == 1 && e->cfg.codec == HFX_CODEC_H264) {
        uint8_t annexb[HFX_MAX_EXTRADATA];
        size_t n;
        enum hfx_status st = hfx_h264_avcc_to_annexb(data, len, annexb, sizeof(annexb), &n);
        if (st != HFX_OK) {
            say(e, HFX_LOG_ERROR, "%s: bad avcC extradata: %s", e->backend.name,
                hfx_strerror(st));
            return st;
        }
        store_parameter_sets(e, annexb, n);
    } else {
        store_parameter_sets(e, data, len);
    }
    if (e->extradata_len == 0)
        say(e, HFX_LOG_WARN, "%s: no parameter sets in extradata; taking them from the "
            "first keyframe", e->backend.name);
    return HFX_OK;
}

static void close_codec(struct hfx_encoder *e)
{
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->frame);
    av_frame_free(&e->hw_frame);
    sws_freeContext(e->sws);
    e->sws = NULL;
    av_buffer_unref(&e->hw_device);
}

static enum hfx_status open_codec(struct hfx_encoder *e, const AVCodec *codec,
                                  enum hfx_log_level fail_level)
{
    const struct hfx_configure *cfg = &e->cfg;
    enum hfx_status st;
    int ret;

    e->ctx = avcodec_alloc_context3(codec);
    if (!e->ctx)
        return HFX_E_NOMEM;
    AVCodecContext *ctx = e->ctx;
    ctx->width = (int)cfg->width;
    ctx->height = (int)cfg->height;
    ctx->time_base = (AVRational){(int)cfg->fps_den, (int)cfg->fps_num};
    ctx->framerate = (AVRational){(int)cfg->fps_num, (int)cfg->fps_den};
    ctx->gop_size = gop_size(cfg);
    ctx->max_b_frames = 0;
    /* Left alone at 0, libx264 takes one thread per core with sliced
     * threads (the zerolatency tune): an embedder that runs many streams
     * sets it (hfxd --encoder-threads; docs/architecture.md). */
    if (e->threads)
        ctx->thread_count = (int)e->threads;
    ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    /* RGB input is converted with BT.601 limited range (pixfmt.h); say so in
     * the VUI so that decoders convert back with the same matrix. */
    ctx->colorspace = AVCOL_SPC_SMPTE170M;
    ctx->color_range = AVCOL_RANGE_MPEG;

    st = setup_input_format(e, codec);
    if (st != HFX_OK)
        return st;
    apply_family(e, ctx);

    ret = avcodec_open2(ctx, codec, NULL);
    if (ret < 0)
        return av_fail(e, fail_level, "avcodec_open2", ret);
    st = take_extradata(e);
    if (st != HFX_OK)
        return st;

    e->frame = av_frame_alloc();
    if (!e->frame)
        return HFX_E_NOMEM;
    e->frame->format = e->enc_fmt;
    e->frame->width = ctx->width;
    e->frame->height = ctx->height;
    e->frame->colorspace = ctx->colorspace;
    e->frame->color_range = ctx->color_range;
    ret = av_frame_get_buffer(e->frame, 0);
    if (ret < 0)
        return av_fail(e, HFX_LOG_ERROR, "av_frame_get_buffer", ret);
    if (e->enc_fmt != e->in_fmt) {
        e->sws = hfx_pixfmt_sws(ctx->width, ctx->height, e->in_fmt, ctx->width, ctx->height,
                                e->enc_fmt);
        if (!e->sws) {
            say(e, HFX_LOG_ERROR, "%s: no swscale conversion %s -> %s", e->backend.name,
                av_get_pix_fmt_name(e->in_fmt), av_get_pix_fmt_name(e->enc_fmt));
            return HFX_E_ENCODER;
        }
    }
    char threads[16] = "auto";
    if (e->threads)
        snprintf(threads, sizeof(threads), "%u", e->threads);
    say(e, HFX_LOG_INFO, "%s: opened %ux%u %s%s%s, threads %s", e->backend.name, cfg->width,
        cfg->height, av_get_pix_fmt_name(e->in_fmt), e->sws ? " via " : "",
        e->sws ? av_get_pix_fmt_name(e->enc_fmt) : "", threads);
    e->state = STATE_OPEN;
    return HFX_OK;
}

/* Open backend b, or leave e closed. */
static enum hfx_status try_backend(struct hfx_encoder *e, const struct backend *b,
                                   enum hfx_log_level fail_level)
{
#ifdef HFX_FAULT_FUZZ
    /* The server fuzzer tests the host, not FFmpeg: an encoder name it finds
     * (libFuzzer learns them from strcmp) must not cost it tens of
     * milliseconds and hundreds of megabytes. */
    say(e, HFX_LOG_DEBUG, "%s: no libavcodec backends in the fuzzing build", b->name);
    return HFX_E_NO_ENCODER;
#endif
    const AVCodec *codec = avcodec_find_encoder_by_name(b->name);

    if (!codec) {
        say(e, HFX_LOG_DEBUG, "%s: not in this libavcodec", b->name);
        return HFX_E_NO_ENCODER;
    }
    e->backend = *b;
    enum hfx_status st = open_codec(e, codec, fail_level);
    if (st != HFX_OK)
        close_codec(e);
    return st;
}

static enum hfx_status open_auto(struct hfx_encoder *e)
{
    for (size_t i = 0; i < N_FAMILIES; i++) {
        struct backend b = {families[i]->encoder[e->cfg.codec], e->cfg.codec, families[i]};
        if (b.name && try_backend(e, &b, HFX_LOG_INFO) == HFX_OK)
            return HFX_OK;
    }
    e->backend = (struct backend){NULL, 0, NULL};
    say(e, HFX_LOG_ERROR, "auto: no encoder opened");
    return HFX_E_NO_ENCODER;
}

static enum hfx_status open_named(struct hfx_encoder *e, const char *name)
{
    struct backend b;

    if (!find_backend(name, &b)) {
        say(e, HFX_LOG_ERROR, "%s: unknown encoder", name);
        return HFX_E_NO_ENCODER;
    }
    if (b.codec != e->cfg.codec && !for_codec(&b, e->cfg.codec, &b)) {
        say(e, HFX_LOG_ERROR, "%s: no backend of this family for codec %u", name,
            e->cfg.codec);
        return HFX_E_UNSUPPORTED;
    }
    enum hfx_status st = try_backend(e, &b, HFX_LOG_ERROR);
    if (st == HFX_E_NO_ENCODER || st == HFX_E_ENCODER)
        return HFX_E_NO_ENCODER;
    return st;
}

#ifdef HFX_FAULT_INJECTION
static enum hfx_status open_fault(struct hfx_encoder *e, const char *name)
{
    const char *inner = NULL;
    enum hfx_status st = fault_new(&e->cfg, name, e->log, e->log_user, &e->fault, &inner);

    if (st != HFX_OK || !inner)
        return st; /* failed, or the fake encoder, which needs no backend */
    return strcmp(inner, "auto") == 0 ? open_auto(e) : open_named(e, inner);
}
#endif

enum hfx_status hfx_encoder_open(const struct hfx_configure *cfg, const char *name,
                                 hfx_log_fn log, void *log_user, struct hfx_encoder **out)
{
    struct hfx_encoder_options opts = {name, 0, log, log_user};

    return hfx_encoder_open_with(cfg, &opts, out);
}

enum hfx_status hfx_encoder_open_with(const struct hfx_configure *cfg,
                                      const struct hfx_encoder_options *opts,
                                      struct hfx_encoder **out)
{
    const char *name;
    enum hfx_status st;

    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!cfg || !opts || opts->threads > HFX_ENCODER_MAX_THREADS)
        return HFX_E_INVALID;
    name = opts->name;
    st = check_config(cfg);
    if (st != HFX_OK)
        return st;

    struct hfx_encoder *e = calloc(1, sizeof(*e));
    if (!e)
        return HFX_E_NOMEM;
    e->cfg = *cfg;
    e->threads = opts->threads;
    e->log = opts->log;
    e->log_user = opts->log_user;
    e->in_fmt = hfx_pixfmt_from_fourcc(cfg->fourcc);
    e->pkt = av_packet_alloc();
    if (!e->pkt) {
        hfx_encoder_free(&e);
        return HFX_E_NOMEM;
    }
#ifdef HFX_FAULT_INJECTION
    if (fault_claims(name))
        st = open_fault(e, name);
    else
#endif
    if (!name || !name[0] || strcmp(name, "auto") == 0)
        st = open_auto(e);
    else
        st = open_named(e, name);
    if (st != HFX_OK) {
        hfx_encoder_free(&e);
        return st;
    }
    *out = e;
    return HFX_OK;
}

const char *hfx_encoder_name(const struct hfx_encoder *e)
{
#ifdef HFX_FAULT_INJECTION
    if (e && e->fault)
        return fault_name(e->fault);
#endif
    return e && e->backend.name ? e->backend.name : "";
}

void hfx_encoder_extradata(const struct hfx_encoder *e, const uint8_t **data, size_t *len)
{
#ifdef HFX_FAULT_INJECTION
    if (e && e->fault && fault_is_fake(e->fault)) {
        fault_fake_extradata(e->fault, data, len);
        return;
    }
#endif
    if (data)
        *data = e ? e->extradata : NULL;
    if (len)
        *len = e ? e->extradata_len : 0;
}

static enum hfx_status reopen(struct hfx_encoder *e)
{
    close_codec(e);
    say(e, HFX_LOG_DEBUG, "%s: reopening", e->backend.name);
    struct backend b = e->backend;

    return try_backend(e, &b, HFX_LOG_ERROR);
}

/* Copy or convert pic into e->frame. */
static enum hfx_status fill_frame(struct hfx_encoder *e, const struct hfx_picture *pic)
{
    const struct hfx_configure *cfg = &e->cfg;
    unsigned planes = hfx_format_planes(cfg->fourcc);
    uint32_t row_bytes[HFX_MAX_PLANES] = {0}, rows[HFX_MAX_PLANES] = {0};
    int strides[HFX_MAX_PLANES + 1] = {0};

    for (unsigned p = 0; p < planes; p++) {
        (void)hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, p, &row_bytes[p],
                                    &rows[p]);
        if (!pic->plane[p])
            return HFX_E_INVALID;
        if (pic->stride[p] < row_bytes[p] || pic->stride[p] > HFX_MAX_STRIDE)
            return HFX_E_BAD_STRIDE;
        strides[p] = (int)pic->stride[p];
    }
    /* The encoder may still hold the previous picture: this reallocates
     * only then. */
    int ret = av_frame_make_writable(e->frame);
    if (ret < 0)
        return av_fail(e, HFX_LOG_ERROR, "av_frame_make_writable", ret);
    if (e->sws) {
        const uint8_t *src[HFX_MAX_PLANES + 1] = {pic->plane[0], pic->plane[1],
                                                  pic->plane[2], NULL};
        ret = sws_scale(e->sws, src, strides, 0, (int)cfg->height, e->frame->data,
                        e->frame->linesize);
        if (ret < 0)
            return av_fail(e, HFX_LOG_ERROR, "sws_scale", ret);
        return HFX_OK;
    }
    for (unsigned p = 0; p < planes; p++)
        av_image_copy_plane(e->frame->data[p], e->frame->linesize[p], pic->plane[p],
                            strides[p], (int)row_bytes[p], (int)rows[p]);
    return HFX_OK;
}

static AVFrame *upload(struct hfx_encoder *e, enum hfx_status *st)
{
    int ret = av_hwframe_get_buffer(e->ctx->hw_frames_ctx, e->hw_frame, 0);
    if (ret >= 0)
        ret = av_hwframe_transfer_data(e->hw_frame, e->frame, 0);
    if (ret >= 0)
        ret = av_frame_copy_props(e->hw_frame, e->frame);
    if (ret < 0) {
        av_frame_unref(e->hw_frame);
        *st = av_fail(e, HFX_LOG_ERROR, "hardware upload", ret);
        return NULL;
    }
    return e->hw_frame;
}

enum hfx_status hfx_encoder_send(struct hfx_encoder *e, const struct hfx_picture *pic,
                                 int64_t pts, bool force_idr)
{
    enum hfx_status st = HFX_OK;

    if (!e || !pic)
        return HFX_E_INVALID;
#ifdef HFX_FAULT_INJECTION
    if (e->fault) {
        st = fault_before_send(e->fault);
        if (st != HFX_OK)
            return st;
        if (fault_is_fake(e->fault))
            return fault_fake_send(e->fault, pic, pts, force_idr);
    }
#endif
    if (e->state == STATE_DRAINING)
        return HFX_E_STATE; /* receive until HFX_E_CLOSED first */
    av_packet_unref(e->pkt);
    if (e->state == STATE_CLOSED) {
        st = reopen(e);
        if (st != HFX_OK)
            return st;
    }
    st = fill_frame(e, pic);
    if (st != HFX_OK)
        return st;
    e->frame->pts = pts;
    /* An I picture request; libx264 and nvenc make it an IDR because
     * forced-idr is set. */
    e->frame->pict_type = force_idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;

    AVFrame *frame = e->hw_frame ? upload(e, &st) : e->frame;
    if (!frame)
        return st;
    int ret = avcodec_send_frame(e->ctx, frame);
    if (e->hw_frame)
        av_frame_unref(e->hw_frame);
    if (ret == AVERROR(EAGAIN))
        return HFX_E_BUSY; /* receive the finished packets first */
    if (ret < 0)
        return av_fail(e, HFX_LOG_ERROR, "avcodec_send_frame", ret);
    return HFX_OK;
}

static bool pop_pending(struct hfx_encoder *e)
{
    if (e->pending_count == 0)
        return false;
    AVPacket **slot = &e->pending[e->pending_head];
    av_packet_move_ref(e->pkt, *slot);
    av_packet_free(slot);
    e->pending_head = (e->pending_head + 1) % MAX_PENDING;
    e->pending_count--;
    return true;
}

static enum hfx_status finish_packet(struct hfx_encoder *e, struct hfx_encoded *out)
{
    const uint8_t *data = e->pkt->data;
    size_t len = (size_t)e->pkt->size;
    struct hfx_annexb_au au;

    if (e->cfg.codec == HFX_CODEC_AV1) {
        /* No NAL units; the sequence header comes in-band with keyframes. */
        au.key = (e->pkt->flags & AV_PKT_FLAG_KEY) != 0;
        au.parameter_sets = true;
    } else {
        hfx_annexb_scan(e->cfg.codec, data, len, &au);
        if (au.key && au.parameter_sets && e->extradata_len == 0)
            store_parameter_sets(e, data, len);
    }
    if (au.key && !au.parameter_sets && e->extradata_len) {
        size_t need = e->extradata_len + len;
        if (need > e->out_cap) {
            uint8_t *grown = realloc(e->out, need);
            if (!grown)
                return HFX_E_NOMEM;
            e->out = grown;
            e->out_cap = need;
        }
        memcpy(e->out, e->extradata, e->extradata_len);
        memcpy(e->out + e->extradata_len, data, len);
        data = e->out;
        len = need;
    }
    if (au.parameter_sets)
        add_restriction(e, 0, &data, &len);
    out->data = data;
    out->len = len;
    out->pts = e->pkt->pts;
    out->dts = e->pkt->dts;
    out->keyframe = au.key;
    return HFX_OK;
}

enum hfx_status hfx_encoder_receive(struct hfx_encoder *e, struct hfx_encoded *out)
{
    if (!e || !out)
        return HFX_E_INVALID;
#ifdef HFX_FAULT_INJECTION
    if (e->fault && fault_is_fake(e->fault))
        return fault_fake_receive(e->fault, out);
#endif
    av_packet_unref(e->pkt);
    if (!pop_pending(e)) {
        if (e->state == STATE_CLOSED)
            return HFX_E_CLOSED;
        int ret = avcodec_receive_packet(e->ctx, e->pkt);
        if (ret == AVERROR(EAGAIN))
            return HFX_INCOMPLETE;
        if (ret == AVERROR_EOF) {
            e->state = STATE_CLOSED;
            return HFX_E_CLOSED;
        }
        if (ret < 0)
            return av_fail(e, HFX_LOG_ERROR, "avcodec_receive_packet", ret);
    }
    return finish_packet(e, out);
}

enum hfx_status hfx_encoder_flush(struct hfx_encoder *e)
{
    if (!e)
        return HFX_E_INVALID;
#ifdef HFX_FAULT_INJECTION
    if (e->fault && fault_is_fake(e->fault)) {
        fault_fake_flush(e->fault);
        return HFX_OK;
    }
#endif
    if (e->state != STATE_OPEN)
        return HFX_OK; /* already draining or drained */
    int ret = avcodec_send_frame(e->ctx, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return av_fail(e, HFX_LOG_ERROR, "avcodec_send_frame(flush)", ret);
    e->state = STATE_DRAINING;
    return HFX_OK;
}

/* Drain the open encoder into the pending queue before it is reopened, so
 * that no frame already sent is lost. */
static enum hfx_status drain_to_pending(struct hfx_encoder *e)
{
    int ret = avcodec_send_frame(e->ctx, NULL);
    if (ret < 0 && ret != AVERROR_EOF)
        return av_fail(e, HFX_LOG_ERROR, "avcodec_send_frame(drain)", ret);
    for (;;) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt)
            return HFX_E_NOMEM;
        ret = avcodec_receive_packet(e->ctx, pkt);
        if (ret < 0) {
            av_packet_free(&pkt);
            return ret == AVERROR_EOF ? HFX_OK : av_fail(e, HFX_LOG_ERROR, "drain", ret);
        }
        if (e->pending_count == MAX_PENDING) {
            say(e, HFX_LOG_WARN, "%s: dropped a packet while reopening", e->backend.name);
            av_packet_free(&pkt);
            continue;
        }
        e->pending[(e->pending_head + e->pending_count) % MAX_PENDING] = pkt;
        e->pending_count++;
    }
}

enum hfx_status hfx_encoder_set_bitrate(struct hfx_encoder *e, uint32_t kbps)
{
    if (!e)
        return HFX_E_INVALID;
    if (kbps == 0 || kbps > HFX_MAX_BITRATE_KBPS)
        return HFX_E_INVALID;
    e->cfg.bitrate_kbps = kbps;
#ifdef HFX_FAULT_INJECTION
    if (e->fault && fault_is_fake(e->fault))
        return HFX_OK; /* no rate control to change */
#endif
    /* Closed or draining: the next open takes the new value. CQP has none. */
    if (e->state != STATE_OPEN || e->cfg.rate_control == HFX_RC_CQP)
        return HFX_OK;
    const struct family *f = e->backend.family;
    if (f->bitrate_in_place && f->bitrate_in_place(e->backend.name, &e->cfg)) {
        /* The fields as at open; the encoder applies them with the next
         * frame. */
        set_rate_fields(e->ctx, &e->cfg);
        return HFX_OK;
    }
    av_packet_unref(e->pkt);
    enum hfx_status st = drain_to_pending(e);
    if (st != HFX_OK)
        return st;
    st = reopen(e);
    if (st != HFX_OK)
        e->state = STATE_CLOSED;
    return st;
}

void hfx_encoder_free(struct hfx_encoder **ep)
{
    struct hfx_encoder *e = ep ? *ep : NULL;

    if (!e)
        return;
    close_codec(e);
#ifdef HFX_FAULT_INJECTION
    fault_free(&e->fault);
#endif
    while (pop_pending(e))
        av_packet_unref(e->pkt);
    av_packet_free(&e->pkt);
    free(e->out);
    free(e->fixed[0]);
    free(e->fixed[1]);
    free(e);
    *ep = NULL;
}
