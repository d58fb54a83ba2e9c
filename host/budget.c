/* SPDX-License-Identifier: MIT */
#include "budget.h"

/* The encoder's pictures, in 4:2:0 picture sizes: libx264 with
 * ultrafast/zerolatency keeps its reference and reconstructed frames,
 * padded, plus scratch. Fitted to hfxd's measured peak RSS per stream
 * (bench/run-memory-budget, docs/benchmarks.md). */
#define ENCODER_PICTURES 8
/* Fixed cost of an encoder context and its worker thread's stack. */
#define ENCODER_BASE (12ull << 20)

static uint64_t input_bytes(uint32_t fourcc, uint64_t pixels)
{
    switch (fourcc) {
    case HFX_FORMAT_NV12:
    case HFX_FORMAT_I420:
        return pixels * 3 / 2;
    default:
        return pixels * 4;
    }
}

uint64_t budget_stream_bytes(const struct hfx_configure *cfg, unsigned window)
{
    uint64_t pixels = (uint64_t)cfg->width * cfg->height;
    uint64_t picture = pixels * 3 / 2;
    uint64_t input = input_bytes(cfg->fourcc, pixels);
    uint64_t bytes = ENCODER_BASE + ENCODER_PICTURES * picture;

    if (cfg->fourcc != HFX_FORMAT_NV12 && cfg->fourcc != HFX_FORMAT_I420)
        bytes += picture; /* converted copy */
    return bytes + (uint64_t)(window + 1) * input;
}
