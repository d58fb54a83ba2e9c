/* SPDX-License-Identifier: MIT */
/*
 * The VideoToolbox family (encoder-family.h; docs/architecture.md,
 * "Encoder backends"): h264_videotoolbox, hevc_videotoolbox, on macOS.
 * UNTESTED: no host this was written on runs macOS.
 */
#include "encoder-family.h"

static void videotoolbox_latency(const struct family_call *c)
{
    /* Realtime on, no reordering; with one reference frame Apple Silicon
     * emits all IDRs or stalls, two work (docs/architecture.md, "Encoder
     * backends"). */
    family_set(c, "realtime", "1");
    c->ctx->refs = 2;
}

const struct family family_videotoolbox = {
    .encoder = {[HFX_CODEC_H264] = "h264_videotoolbox", [HFX_CODEC_HEVC] = "hevc_videotoolbox"},
    .baseline = "baseline",
    .latency = videotoolbox_latency,
    .rate_control = family_rate_control_qp,
};
