/* SPDX-License-Identifier: MIT */
/*
 * The VideoToolbox family (encoder-family.h; docs/architecture.md,
 * "Encoder backends"): h264_videotoolbox, hevc_videotoolbox, on macOS.
 * UNTESTED: no host this was written on runs macOS.
 */
#include "encoder-family.h"

static void videotoolbox_latency(const struct family_call *c)
{
    /* Realtime on, no reordering (max_b_frames 0, set for every backend);
     * with one reference frame Apple Silicon emits all IDRs or stalls, two
     * work. AV_CODEC_FLAG_LOW_DELAY asks libavcodec for VideoToolbox's
     * low-latency rate control (EnableLowLatencyRateControl: one frame in,
     * one out), where this FFmpeg has it; frames in flight are capped by
     * the stream's window besides. The SPS VideoToolbox writes has no VUI:
     * encoder.c adds the bitstream_restriction decoders need (docs/
     * architecture.md, "Encoder backends", "SPS rewrite"). */
    family_set(c, "realtime", "1");
    family_set(c, "prio_speed", "1");
    c->ctx->refs = 2;
    c->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
}

const struct family family_videotoolbox = {
    .encoder = {[HFX_CODEC_H264] = "h264_videotoolbox", [HFX_CODEC_HEVC] = "hevc_videotoolbox"},
    .baseline = "baseline",
    .latency = videotoolbox_latency,
    .rate_control = family_rate_control_qp,
};
