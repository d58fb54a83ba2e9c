/* SPDX-License-Identifier: MIT */
/*
 * The VA-API family (encoder-family.h; docs/architecture.md, "Encoder
 * backends"): h264_vaapi, hevc_vaapi, av1_vaapi. They take only hardware
 * surfaces, which encoder.c uploads to, as it does for any encoder that
 * declares no software format. UNTESTED: no host this was written on has
 * the device.
 */
#include "encoder-family.h"

static void vaapi_latency(const struct family_call *c)
{
    /* low_power is not set: it fails on devices without the low-power
     * entrypoint, and auto would then skip a working encoder. */
    family_set(c, "async_depth", "1");
}

static void vaapi_rate_control(const struct family_call *c)
{
    family_rate_control_mode(c, "rc_mode", "CBR", "CQP");
}

const struct family family_vaapi = {
    .encoder = {[HFX_CODEC_H264] = "h264_vaapi",
                [HFX_CODEC_HEVC] = "hevc_vaapi",
                [HFX_CODEC_AV1] = "av1_vaapi"},
    .baseline = "constrained_baseline",
    .latency = vaapi_latency,
    .rate_control = vaapi_rate_control,
};
