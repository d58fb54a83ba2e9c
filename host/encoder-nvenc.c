/* SPDX-License-Identifier: MIT */
/*
 * The NVENC family (encoder-family.h; docs/architecture.md, "Encoder
 * backends"): h264_nvenc, hevc_nvenc, av1_nvenc. UNTESTED: no host this
 * was written on has an NVIDIA GPU.
 */
#include "encoder-family.h"

static void nvenc_latency(const struct family_call *c)
{
    static const char *const preset[] = {"p1", "p4", "p7"};
    unsigned lat = c->cfg->latency;

    family_set(c, "preset", preset[lat]);
    family_set(c, "tune", lat == HFX_LATENCY_LOWEST ? "ull" : "ll");
    family_set(c, "zerolatency", "1");
    family_set(c, "forced-idr", "1");
    family_set(c, "delay", "0");
}

static void nvenc_rate_control(const struct family_call *c)
{
    family_rate_control_mode(c, "rc", "cbr", "constqp");
}

const struct family family_nvenc = {
    .encoder = {[HFX_CODEC_H264] = "h264_nvenc",
                [HFX_CODEC_HEVC] = "hevc_nvenc",
                [HFX_CODEC_AV1] = "av1_nvenc"},
    .baseline = "baseline",
    .latency = nvenc_latency,
    .rate_control = nvenc_rate_control,
};
