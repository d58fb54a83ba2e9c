/* SPDX-License-Identifier: MIT */
#include "util/pixfmt.h"

#include <stddef.h>

#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "hfx/protocol.h"

/* Plane layouts are lib/format.c's (hfx_format_plane_size); this is only
 * the FFmpeg name of each format. */
static const struct {
    uint32_t fourcc;
    enum AVPixelFormat av;
} formats[] = {
    {HFX_FORMAT_NV12, AV_PIX_FMT_NV12}, {HFX_FORMAT_I420, AV_PIX_FMT_YUV420P},
    {HFX_FORMAT_BGRX, AV_PIX_FMT_BGR0}, {HFX_FORMAT_BGRA, AV_PIX_FMT_BGRA},
    {HFX_FORMAT_RGBX, AV_PIX_FMT_RGB0}, {HFX_FORMAT_RGBA, AV_PIX_FMT_RGBA},
};

enum AVPixelFormat hfx_pixfmt_from_fourcc(uint32_t fourcc)
{
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (formats[i].fourcc == fourcc)
            return formats[i].av;
    }
    return AV_PIX_FMT_NONE;
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
