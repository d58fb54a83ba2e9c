/* SPDX-License-Identifier: MIT */
/*
 * The software encoder families (encoder-family.h; docs/architecture.md,
 * "Encoder backends"): libx264 and libx265, libopenh264, libsvtav1 and
 * libaom-av1.
 */
#include "encoder-family.h"

#include <string.h>

static void x26x_latency(const struct family_call *c)
{
    static const char *const preset[] = {"ultrafast", "veryfast", "medium"};

    family_set(c, "preset", preset[c->cfg->latency]);
    family_set(c, "tune", "zerolatency");
    /* A forced I picture becomes an IDR (hfx_encoder_send). */
    family_set(c, "forced-idr", "1");
    /* x265 logs to stderr itself, bypassing av_log: errors only. */
    if (c->cfg->codec == HFX_CODEC_HEVC)
        family_set(c, "x265-params", "log-level=error");
}

/* CQP as crf: x264's and x265's constant quality, and libaom's (its
 * libavcodec wrapper has no qp; crf with no bitrate selects end-usage q). */
static void rate_control_crf(const struct family_call *c)
{
    /* CBR is the context's fields alone. No nal-hrd=cbr: with NAL HRD x264
     * refuses to change VBV parameters at run time ("VBV parameters cannot
     * be changed when NAL HRD is in use"), and its filler data only matters
     * to broadcast muxers. */
    if (c->cfg->rate_control == HFX_RC_CQP)
        family_set_int(c, "crf", c->cfg->quality);
}

/* Only libx264 in CBR applies a new bitrate without a reopen: libavcodec's
 * libx264.c compares avctx->bit_rate, rc_max_rate and rc_buffer_size with
 * its parameters on every frame and calls x264_encoder_reconfig. x264 then
 * takes new VBV limits, but keeps the ABR target it was opened with
 * (ratecontrol.c: "We don't support changing the ABR bitrate right now"),
 * so ABR is reopened like every other backend (docs/architecture.md,
 * "Decisions beyond the first design"). */
static bool x26x_bitrate_in_place(const char *backend, const struct hfx_configure *cfg)
{
    return cfg->rate_control == HFX_RC_CBR && strcmp(backend, "libx264") == 0;
}

const struct family family_x26x = {
    .encoder = {[HFX_CODEC_H264] = "libx264", [HFX_CODEC_HEVC] = "libx265"},
    /* x264's "baseline" is constrained baseline (it sets constraint_set1). */
    .baseline = "baseline",
    .latency = x26x_latency,
    .rate_control = rate_control_crf,
    .bitrate_in_place = x26x_bitrate_in_place,
};

static void openh264_latency(const struct family_call *c)
{
    (void)c; /* no B-frames, no lookahead: low latency already */
}

const struct family family_openh264 = {
    .encoder = {[HFX_CODEC_H264] = "libopenh264"},
    .baseline = "constrained_baseline",
    .latency = openh264_latency,
    .rate_control = family_rate_control_qp,
};

static void svtav1_latency(const struct family_call *c)
{
    family_set_int(c, "preset", c->cfg->latency == HFX_LATENCY_QUALITY ? 8 : 12);
}

const struct family family_svtav1 = {
    .encoder = {[HFX_CODEC_AV1] = "libsvtav1"},
    .latency = svtav1_latency,
    .rate_control = family_rate_control_qp,
};

static void aom_latency(const struct family_call *c)
{
    family_set(c, "usage", "realtime");
    family_set_int(c, "cpu-used", c->cfg->latency == HFX_LATENCY_QUALITY ? 6 : 8);
}

const struct family family_aom = {
    .encoder = {[HFX_CODEC_AV1] = "libaom-av1"},
    .latency = aom_latency,
    .rate_control = rate_control_crf,
};
