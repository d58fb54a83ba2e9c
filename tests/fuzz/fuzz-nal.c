/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the H.264 Annex-B helpers (lib/nal.c): NAL scanning,
 * the IDR and parameter-set checks, SPS profile/level and avcC -> Annex-B.
 * The input may be anything an encoder (or a peer) hands over.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hfx/h264.h"

struct tally {
    size_t count;
    size_t bytes;
};

static void count_nal(void *user, const uint8_t *nal, size_t len)
{
    struct tally *t = user;
    /* Touch the first and last byte: ASan proves the bounds. */
    volatile uint8_t sink = nal[0];
    sink = nal[len - 1];
    (void)sink;
    t->count++;
    t->bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tally t = {0, 0};
    uint8_t profile = 0, level = 0;
    static uint8_t out[4096];
    size_t written = 0;

    size_t n = hfx_h264_foreach_nal(data, size, count_nal, &t);
    if (n != t.count || t.bytes > size)
        abort();
    bool idr = hfx_h264_is_idr(data, size);
    bool params = hfx_h264_has_parameter_sets(data, size);
    if ((idr || params) && n == 0)
        abort();
    (void)hfx_h264_sps_profile_level(data, size, &profile, &level);
    if (hfx_h264_avcc_to_annexb(data, size, out, sizeof(out), &written) == HFX_OK) {
        if (written > sizeof(out))
            abort();
        /* What came out is Annex-B SPS/PPS and scans as such. */
        if (written && hfx_h264_foreach_nal(out, written, count_nal, &t) == 0)
            abort();
    }
    return 0;
}
