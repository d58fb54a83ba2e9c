/* SPDX-License-Identifier: MIT */
/*
 * Internal to libhfx-host and the tools: hfx input formats in libavutil and
 * libswscale terms (their plane layouts are libhfx's hfx_format_plane_size).
 * Kept here rather than in lib/ so that libhfx does not depend on FFmpeg.
 */
#ifndef HFX_HOST_PIXFMT_H
#define HFX_HOST_PIXFMT_H

#include <stdint.h>

#include <libavutil/pixfmt.h>

struct SwsContext;

/* AV_PIX_FMT_NONE for a fourcc hfx does not know. Byte order in memory is
 * what both name: BGRx is B,G,R,x = AV_PIX_FMT_BGR0. */
enum AVPixelFormat hfx_pixfmt_from_fourcc(uint32_t fourcc);

/* A same-or-other-size converter with hfx's colour rules: BT.601
 * coefficients, YUV in limited (MPEG) range, RGB in full range. Bilinear
 * filtering: at equal sizes it only matters for chroma subsampling, where it
 * averages instead of dropping samples, and it is among swscale's faster
 * paths. NULL on failure. Free with sws_freeContext(). */
struct SwsContext *hfx_pixfmt_sws(int src_w, int src_h, enum AVPixelFormat src,
                                  int dst_w, int dst_h, enum AVPixelFormat dst);

#endif /* HFX_HOST_PIXFMT_H */
