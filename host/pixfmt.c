/* SPDX-License-Identifier: MIT */
#include "pixfmt.h"

#include <stddef.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "hfx/protocol.h"

struct format_info {
    uint32_t fourcc;
    enum AVPixelFormat av;
    unsigned planes;
    /* Per plane: bytes per pixel of a row, and log2 of the subsampling. */
    uint8_t bytes[HFX_MAX_PLANES];
    uint8_t shift_x[HFX_MAX_PLANES];
    uint8_t shift_y[HFX_MAX_PLANES];
};

static const struct format_info formats[] = {
    {HFX_FORMAT_NV12, AV_PIX_FMT_NV12, 2, {1, 2, 0}, {0, 1, 0}, {0, 1, 0}},
    {HFX_FORMAT_I420, AV_PIX_FMT_YUV420P, 3, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
    {HFX_FORMAT_BGRX, AV_PIX_FMT_BGR0, 1, {4, 0, 0}, {0, 0, 0}, {0, 0, 0}},
    {HFX_FORMAT_BGRA, AV_PIX_FMT_BGRA, 1, {4, 0, 0}, {0, 0, 0}, {0, 0, 0}},
    {HFX_FORMAT_RGBX, AV_PIX_FMT_RGB0, 1, {4, 0, 0}, {0, 0, 0}, {0, 0, 0}},
    {HFX_FORMAT_RGBA, AV_PIX_FMT_RGBA, 1, {4, 0, 0}, {0, 0, 0}, {0, 0, 0}},
};

static const struct format_info *find(uint32_t fourcc)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (formats[i].fourcc == fourcc)
            return &formats[i];
    }
    return NULL;
}

enum AVPixelFormat hfx_pixfmt_from_fourcc(uint32_t fourcc)
{
    const struct format_info *f = find(fourcc);
    return f ? f->av : AV_PIX_FMT_NONE;
}

unsigned hfx_pixfmt_planes(uint32_t fourcc)
{
    const struct format_info *f = find(fourcc);
    return f ? f->planes : 0;
}

bool hfx_pixfmt_plane(uint32_t fourcc, uint32_t width, uint32_t height, unsigned plane,
                      uint32_t *row_bytes, uint32_t *rows)
{
    const struct format_info *f = find(fourcc);

    if (!f || plane >= f->planes)
        return false;
    /* Widened: width is at most HFX_MAX_DIMENSION in practice, but the
     * product must not wrap for any uint32_t a caller passes. */
    uint64_t row = ((uint64_t)width >> f->shift_x[plane]) * f->bytes[plane];
    if (row > UINT32_MAX)
        return false;
    if (row_bytes)
        *row_bytes = (uint32_t)row;
    if (rows)
        *rows = height >> f->shift_y[plane];
    return true;
}

static bool is_rgb(enum AVPixelFormat fmt)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fmt);
    return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

struct SwsContext *hfx_pixfmt_sws(int src_w, int src_h, enum AVPixelFormat src,
                                  int dst_w, int dst_h, enum AVPixelFormat dst)
{
    struct SwsContext *sws;
    const int *bt601 = sws_getCoefficients(SWS_CS_ITU601);

    sws = sws_getContext(src_w, src_h, src, dst_w, dst_h, dst, SWS_BILINEAR, NULL, NULL, NULL);
    if (!sws)
        return NULL;
    /* Range flag: 1 = full (JPEG), 0 = limited (MPEG). */
    if (sws_setColorspaceDetails(sws, bt601, is_rgb(src), bt601, is_rgb(dst), 0, 1 << 16,
                                 1 << 16) < 0) {
        sws_freeContext(sws);
        return NULL;
    }
    return sws;
}
