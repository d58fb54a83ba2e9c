/* SPDX-License-Identifier: MIT */
/*
 * Internal toolkit (docs/architecture.md, "The internal toolkit"): Annex-B
 * byte streams of H.264 and HEVC (ITU-T H.264 Annex B; H.265 Annex B has
 * the same start codes). libhfx's public H.264 helpers (lib/nal.c,
 * include/hfx/h264.h) and libhfx-host's encoders (docs/architecture.md,
 * "Keyframes") both scan with these; each library links its own hidden
 * copy, so none of it is exported.
 *
 * Every input may come from a peer or from an encoder that misbehaves: reads
 * are bounded by len, and data may be NULL when len is 0. Nothing here keeps
 * a pointer past the call.
 */
#ifndef HFX_UTIL_ANNEXB_H
#define HFX_UTIL_ANNEXB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

/* H.264 nal_unit_type values (table 7-1) that hfx looks for. */
#define HFX_H264_NAL_IDR 5
#define HFX_H264_NAL_SPS 7
#define HFX_H264_NAL_PPS 8

/* The H.264 nal_unit_type of a NAL unit; nal points at its header byte. */
static inline unsigned hfx_h264_nal_type(const uint8_t *nal)
{
    return nal[0] & 0x1f;
}

/* Call fn for each NAL unit between start codes of 3 or 4 bytes; nal points
 * at the NAL header inside data (borrowed for the call) and nal_len is at
 * least 1: zero bytes before a start code (trailing_zero_8bits, B.1.1) and
 * empty NAL units are not reported. fn may be NULL to count. Returns the
 * count. */
size_t hfx_annexb_foreach(const uint8_t *data, size_t len,
                          void (*fn)(void *user, const uint8_t *nal, size_t nal_len), void *user);

/* What an access unit holds. */
struct hfx_annexb_au {
    /* A picture a decoder can start at: an IDR slice (H.264 nal_unit_type
     * 5), an IRAP picture (HEVC 16..21: BLA, IDR, CRA). */
    bool key;
    /* Every parameter set type is there: SPS and PPS (H.264 7, 8), VPS, SPS
     * and PPS (HEVC 32..34). */
    bool parameter_sets;
};

/* Fill *au (not NULL) for the access unit in data. codec is HFX_CODEC_H264
 * or HFX_CODEC_HEVC (enum hfx_codec, hfx/protocol.h); for any other, both
 * fields are false. */
void hfx_annexb_scan(uint32_t codec, const uint8_t *data, size_t len, struct hfx_annexb_au *au);

/* Copy the parameter sets of data (the types hfx_annexb_au counts), in
 * stream order, to out (cap bytes; NULL is no room at all), each behind
 * a 4-byte start code: what an encoder's extradata or an IDR access unit
 * holds besides them (x264's SEI with its version string, slices) is left
 * out. *written (written may be NULL) is what was written; HFX_OK with
 * *written 0 when there are none. HFX_E_TOO_LARGE when they do not all fit
 * in cap, HFX_E_INVALID for a codec other than H.264 and HEVC; on an error
 * *written is 0 and out may hold a part. */
HFX_MUST_CHECK enum hfx_status hfx_annexb_parameter_sets(uint32_t codec, const uint8_t *data,
                                                         size_t len, uint8_t *out, size_t cap,
                                                         size_t *written);

#endif /* HFX_UTIL_ANNEXB_H */
