/* SPDX-License-Identifier: MIT */
/*
 * Internal toolkit, its FFmpeg part (library hfxutil-av, built only where
 * FFmpeg is; docs/architecture.md): hfx input formats in libavutil and
 * libswscale terms (their plane layouts are libhfx's hfx_format_plane_size),
 * shared by libhfx-host's encoders and the tools' test pattern so that both
 * convert colours by the same rules. Not in libhfx, which must not depend
 * on FFmpeg.
 */
#ifndef HFX_UTIL_PIXFMT_H
#define HFX_UTIL_PIXFMT_H

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

#endif /* HFX_UTIL_PIXFMT_H */
