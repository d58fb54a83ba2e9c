/* SPDX-License-Identifier: MIT */
/*
 * The Intel Quick Sync family (encoder-family.h; docs/architecture.md,
 * "Encoder backends"): h264_qsv, hevc_qsv, av1_qsv. They take NV12 in
 * system memory and upload it themselves, so encoder.c feeds them as it
 * feeds software encoders. UNTESTED: no host this was written on has the
 * device.
 */
#include "encoder-family.h"

static void qsv_latency(const struct family_call *c)
{
    static const char *const preset[] = {"veryfast", "medium", "veryslow"};

    family_set(c, "preset", preset[c->cfg->latency]);
    family_set(c, "async_depth", "1");
    family_set(c, "forced_idr", "1");
}

static void qsv_rate_control(const struct family_call *c)
{
    /* CQP is libavcodec's global quality, in lambda units. */
    if (c->cfg->rate_control == HFX_RC_CQP) {
        c->ctx->flags |= AV_CODEC_FLAG_QSCALE;
        c->ctx->global_quality = (int)c->cfg->quality * FF_QP2LAMBDA;
    }
}

const struct family family_qsv = {
    .encoder = {[HFX_CODEC_H264] = "h264_qsv", [HFX_CODEC_HEVC] = "hevc_qsv",
                [HFX_CODEC_AV1] = "av1_qsv"},
    .baseline = "baseline",
    .latency = qsv_latency,
    .rate_control = qsv_rate_control,
};
