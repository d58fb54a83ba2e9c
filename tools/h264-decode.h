/* SPDX-License-Identifier: MIT */
/*
 * H.264 decoding for tests and tools (libavcodec's decoder), and PSNR
 * between two I420 pictures.
 */
#ifndef HFX_TOOLS_H264_DECODE_H
#define HFX_TOOLS_H264_DECODE_H

#include <stdint.h>

#include "hfx/status.h"
#include "pattern.h"

struct hfx_h264_decoder;

/* One decoded picture as I420. img wraps the decoder's frame (base NULL) and
 * is valid for the call only; pts is the pts given with the access unit, or
 * INT64_MIN when fed as a byte stream. */
typedef void (*hfx_decoded_fn)(void *user, const struct hfx_image *img, int64_t pts);

/* fn may be NULL (count only). *out is owned by the caller. */
HFX_MUST_CHECK enum hfx_status hfx_h264_decoder_new(hfx_decoded_fn fn, void *user,
                                                    struct hfx_h264_decoder **out);

/* Feed an Annex-B byte stream in chunks of any size; a parser finds the
 * access units. data is borrowed for the call. */
HFX_MUST_CHECK enum hfx_status hfx_h264_decoder_feed(struct hfx_h264_decoder *d,
                                                     const uint8_t *data, size_t len);

/* Decode one whole Annex-B access unit (as hfx_encoder_receive gives). */
HFX_MUST_CHECK enum hfx_status hfx_h264_decoder_decode_au(struct hfx_h264_decoder *d,
                                                          const uint8_t *data, size_t len,
                                                          int64_t pts);

/* End of stream: decode what the parser and decoder still hold. */
HFX_MUST_CHECK enum hfx_status hfx_h264_decoder_flush(struct hfx_h264_decoder *d);

/* Pictures decoded so far. */
uint64_t hfx_h264_decoder_frames(const struct hfx_h264_decoder *d);

/* NULL-safe, sets *d to NULL. */
void hfx_h264_decoder_free(struct hfx_h264_decoder **d);

/* PSNR in dB per plane and over all samples. `all` comes from the mean
 * squared error over every sample of the three planes (each chroma plane
 * counting a quarter of luma's samples), as FFmpeg's psnr filter reports
 * "average"; it is not a 6:1:1 weighting of per-plane dB values.
 * Identical planes give HFX_PSNR_MAX. */
#define HFX_PSNR_MAX 100.0

struct hfx_psnr {
    double y, u, v, all;
};

/* a and b: I420 of the same size. HFX_E_BAD_FORMAT / HFX_E_BAD_DIMENSIONS
 * otherwise. */
HFX_MUST_CHECK enum hfx_status hfx_image_psnr(const struct hfx_image *a,
                                              const struct hfx_image *b, struct hfx_psnr *out);

#endif /* HFX_TOOLS_H264_DECODE_H */
