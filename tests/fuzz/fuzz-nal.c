/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the H.264 Annex-B helpers (lib/nal.c): NAL scanning,
 * the IDR and parameter-set checks, SPS profile/level and avcC -> Annex-B;
 * and under them the toolkit's Annex-B scanning (lib/util/annexb.c) that
 * libhfx-host's encoders run over every packet and extradata, for H.264
 * and HEVC. The input may be anything an encoder (or a peer) hands over.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hfx/h264.h"
#include "hfx/protocol.h"
#include "util/annexb.h"

struct tally {
    size_t count;
    size_t bytes;
};

/* What the encoders do with a buffer of codec (util/annexb.h), against what
 * libhfx's H.264 checks say and against the result scanned again. */
static void check_annexb(uint32_t codec, const uint8_t *data, size_t size, size_t nals,
                         bool idr, bool params)
{
    static uint8_t sets[4096], again[4096];
    struct hfx_annexb_au au, au_sets;
    size_t n = 0, m = 0;

    hfx_annexb_scan(codec, data, size, &au);
    if ((au.key || au.parameter_sets) && nals == 0)
        abort();
    if (codec == HFX_CODEC_H264 && (au.key != idr || au.parameter_sets != params))
        abort();
    enum hfx_status st = hfx_annexb_parameter_sets(codec, data, size, sets, sizeof(sets), &n);
    if (st != HFX_OK) {
        if (st != HFX_E_TOO_LARGE || n != 0)
            abort();
        return;
    }
    /* Each set had a start code of 3 bytes at least and gets one of 4. */
    if (n > sizeof(sets) || n > size + nals)
        abort();
    /* What came out is parameter sets only, all of them: it scans the same
     * way and filters to itself. */
    hfx_annexb_scan(codec, sets, n, &au_sets);
    if (au_sets.key || au_sets.parameter_sets != au.parameter_sets)
        abort();
    if (hfx_annexb_parameter_sets(codec, sets, n, again, sizeof(again), &m) != HFX_OK ||
        m != n || memcmp(sets, again, n) != 0)
        abort();
}

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
    if (hfx_annexb_foreach(data, size, NULL, NULL) != n)
        abort();
    check_annexb(HFX_CODEC_H264, data, size, n, idr, params);
    check_annexb(HFX_CODEC_HEVC, data, size, n, idr, params);
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
