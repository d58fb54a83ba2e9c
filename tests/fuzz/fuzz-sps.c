/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the SPS reader and writer and the access-unit
 * rewrite hfxd runs on every encoder's keyframes (lib/util/h264-sps.c,
 * lib/util/bits.c). The first input byte picks: even, the input is one SPS
 * NAL unit; odd, an Annex-B access unit. What parses writes back to the
 * same bits; a rewrite never fails for room it was promised.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "util/h264-sps.h"

static void check_sps(const uint8_t *nal, size_t len)
{
    static uint8_t out[HFX_SPS_MAX_NAL * 2], again[HFX_SPS_MAX_NAL * 2];
    struct hfx_sps sps, back;
    size_t n = 0, m = 0;

    if (hfx_sps_parse(nal, len, &sps) != HFX_OK)
        return;
    /* Written and read again, it writes the same bytes: the walk is the
     * same both ways. */
    if (hfx_sps_write(&sps, out, sizeof(out), &n) != HFX_OK ||
        hfx_sps_parse(out, n, &back) != HFX_OK ||
        hfx_sps_write(&back, again, sizeof(again), &m) != HFX_OK || m != n ||
        memcmp(out, again, n) != 0)
        abort();
    if (hfx_sps_add_restriction(&back)) {
        if (hfx_sps_write(&back, out, sizeof(out), &n) != HFX_OK ||
            hfx_sps_parse(out, n, &sps) != HFX_OK || !sps.vui.bitstream_restriction_flag ||
            sps.vui.max_num_reorder_frames != 0 ||
            sps.vui.max_dec_frame_buffering < sps.max_num_ref_frames)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[65536];
    size_t n = 0;
    unsigned rewritten = 0, unparsed = 0;

    if (size == 0)
        return 0;
    if (!(data[0] & 1)) {
        check_sps(data + 1, size - 1);
        return 0;
    }
    if (size - 1 > 32768)
        return 0;
    /* len + 64 per SPS is enough (h264-sps.h): at most len / 4 SPSs. */
    if (hfx_h264_au_edit_sps(data + 1, size - 1, hfx_sps_add_restriction, out, sizeof(out), &n,
                             &rewritten, &unparsed) != HFX_OK)
        abort();
    if (!rewritten && (n != size - 1 || memcmp(out, data + 1, n) != 0))
        abort();
    return 0;
}
