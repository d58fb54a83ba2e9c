/* SPDX-License-Identifier: MIT */
/*
 * libhfx: H.264 bitstream helpers for what hosts send (docs/protocol.md §5,
 * PACKET): Annex-B access units scanned NAL by NAL, and the avcC record
 * some encoders give as extradata. Every input may come from a peer: reads
 * are bounded by len.
 */
#ifndef HFX_H264_H
#define HFX_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Call fn for each NAL unit in an Annex-B buffer (start codes of 3 or 4
 * bytes); nal points at the NAL header byte. Returns the count. */
HFX_EXPORT size_t hfx_h264_foreach_nal(const uint8_t *data, size_t len,
                                       void (*fn)(void *user, const uint8_t *nal, size_t nal_len),
                                       void *user);

/* True if the access unit holds an IDR slice (nal_unit_type 5). */
HFX_EXPORT bool hfx_h264_is_idr(const uint8_t *data, size_t len);

/* True if the buffer holds both an SPS (7) and a PPS (8). */
HFX_EXPORT bool hfx_h264_has_parameter_sets(const uint8_t *data, size_t len);

/* profile_idc and level_idc of the first SPS; false if there is none or it
 * is truncated. */
HFX_EXPORT bool hfx_h264_sps_profile_level(const uint8_t *data, size_t len, uint8_t *profile_idc,
                                           uint8_t *level_idc);

/* Convert avcC (ISO/IEC 14496-15 decoder configuration record) to Annex-B
 * SPS/PPS. Returns HFX_E_MALFORMED for a bad record, HFX_E_TOO_LARGE if the
 * result exceeds cap. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_h264_avcc_to_annexb(const uint8_t *avcc, size_t len,
                                                                  uint8_t *out, size_t cap,
                                                                  size_t *written);

#ifdef __cplusplus
}
#endif

#endif /* HFX_H264_H */
