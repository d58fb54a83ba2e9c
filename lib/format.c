/* SPDX-License-Identifier: MIT */
/*
 * Pixel formats and the semantic checks on CONFIGURE and FRAME
 * (docs/protocol.md §5.1, §5.3). The codec in wire.c checks structure;
 * these check meaning, against the stream's configuration.
 */
#include "hfx/protocol.h"

#include <string.h>

struct plane_layout {
    uint8_t bytes;   /* bytes per sample group (after subsampling) */
    uint8_t x_shift; /* horizontal subsampling, log2 */
    uint8_t y_shift; /* vertical subsampling, log2 */
};

struct format_info {
    uint32_t fourcc;
    const char *name;
    unsigned planes;
    struct plane_layout plane[HFX_MAX_PLANES];
};

/* §5.1 table of input formats. NV12's second plane interleaves U and V:
 * half as many pairs per row, two bytes each. */
static const struct format_info format_table[] = {
    {HFX_FORMAT_NV12, "NV12", 2, {{1, 0, 0}, {2, 1, 1}}},
    {HFX_FORMAT_I420, "I420", 3, {{1, 0, 0}, {1, 1, 1}, {1, 1, 1}}},
    {HFX_FORMAT_BGRX, "BGRx", 1, {{4, 0, 0}}},
    {HFX_FORMAT_BGRA, "BGRA", 1, {{4, 0, 0}}},
    {HFX_FORMAT_RGBX, "RGBx", 1, {{4, 0, 0}}},
    {HFX_FORMAT_RGBA, "RGBA", 1, {{4, 0, 0}}},
};

static const struct format_info *find_format(uint32_t fourcc)
{
    for (size_t i = 0; i < sizeof(format_table) / sizeof(format_table[0]); i++) {
        if (format_table[i].fourcc == fourcc)
            return &format_table[i];
    }
    return NULL;
}

/* Subsampled size, rounded up so that odd sizes keep their last sample. */
static uint64_t subsample(uint32_t v, unsigned shift)
{
    return ((uint64_t)v + ((1u << shift) - 1u)) >> shift;
}

bool hfx_format_plane_size(uint32_t fourcc, uint32_t width, uint32_t height, unsigned plane,
                           uint32_t *row_bytes, uint32_t *rows)
{
    const struct format_info *f = find_format(fourcc);
    uint64_t rb, n;

    if (!f || plane >= f->planes)
        return false;
    rb = subsample(width, f->plane[plane].x_shift) * f->plane[plane].bytes;
    n = subsample(height, f->plane[plane].y_shift);
    /* Also false when a row does not fit in 32 bits (width over 2^30). */
    if (rb > UINT32_MAX)
        return false;
    if (row_bytes)
        *row_bytes = (uint32_t)rb;
    if (rows)
        *rows = (uint32_t)n;
    return true;
}

unsigned hfx_format_planes(uint32_t fourcc)
{
    const struct format_info *f = find_format(fourcc);
    return f ? f->planes : 0;
}

const char *hfx_format_name(uint32_t fourcc)
{
    const struct format_info *f = find_format(fourcc);
    return f ? f->name : NULL;
}

uint32_t hfx_format_from_name(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof(format_table) / sizeof(format_table[0]); i++) {
        if (strcmp(format_table[i].name, name) == 0)
            return format_table[i].fourcc;
    }
    /* Upper-case spellings of the padded formats, as people type them. */
    if (strcmp(name, "BGRX") == 0)
        return HFX_FORMAT_BGRX;
    if (strcmp(name, "RGBX") == 0)
        return HFX_FORMAT_RGBX;
    return 0;
}

static bool dimension_ok(uint32_t v)
{
    return v >= 2 && v <= HFX_MAX_DIMENSION && v % 2 == 0;
}

enum hfx_status hfx_configure_validate(const struct hfx_configure *cfg)
{
    if (!cfg)
        return HFX_E_INVALID;
    if (cfg->codec < HFX_CODEC_H264 || cfg->codec > HFX_CODEC_AV1 || !find_format(cfg->fourcc))
        return HFX_E_BAD_FORMAT;
    /* Even sizes: 4:2:0 chroma planes cover whole 2x2 blocks. */
    if (!dimension_ok(cfg->width) || !dimension_ok(cfg->height))
        return HFX_E_BAD_DIMENSIONS;
    if (cfg->fps_num == 0 || cfg->fps_den == 0)
        return HFX_E_MALFORMED;
    if (cfg->rate_control > HFX_RC_CQP || cfg->profile > HFX_PROFILE_HIGH ||
        cfg->latency > HFX_LATENCY_QUALITY || cfg->quality > 51)
        return HFX_E_MALFORMED;
    /* CQP ignores the bitrate; every other mode needs one. */
    if (cfg->rate_control != HFX_RC_CQP &&
        (cfg->bitrate_kbps == 0 || cfg->bitrate_kbps > HFX_MAX_BITRATE_KBPS))
        return HFX_E_MALFORMED;
    if (!memchr(cfg->encoder, 0, sizeof(cfg->encoder)))
        return HFX_E_MALFORMED;
    return HFX_OK;
}

/* One plane against the bytes it may use (limit). The end is computed in
 * 64 bits and every step is checked, so an offset near UINT64_MAX fails
 * instead of wrapping around to a small end. */
static enum hfx_status check_plane(const struct hfx_plane *p, uint32_t row_bytes, uint32_t rows,
                                   uint64_t limit, enum hfx_status out_of_range)
{
    uint64_t span;

    if (p->stride < row_bytes || p->stride > HFX_MAX_STRIDE)
        return HFX_E_BAD_STRIDE;
    /* stride <= 2^20 and rows < 2^32: the product fits in 64 bits. */
    span = (uint64_t)p->stride * (rows - 1u) + row_bytes;
    if (p->offset > limit || span > limit - p->offset)
        return out_of_range;
    return HFX_OK;
}

enum hfx_status hfx_frame_validate(const struct hfx_configure *cfg, const struct hfx_frame *frame,
                                   uint64_t region_size)
{
    const struct format_info *f;
    enum hfx_status out_of_range;
    uint64_t limit;

    if (!cfg || !frame)
        return HFX_E_INVALID;
    f = find_format(cfg->fourcc);
    if (!f)
        return HFX_E_BAD_FORMAT;
    if (cfg->width == 0 || cfg->height == 0)
        return HFX_E_BAD_DIMENSIONS;
    switch (frame->source) {
    case HFX_SOURCE_INLINE:
        limit = frame->data_len;
        out_of_range = HFX_E_TRUNCATED;
        break;
    case HFX_SOURCE_SHM:
    case HFX_SOURCE_RESOURCE:
        /* RESOURCE: region_size is the size of the resource's backing. */
        limit = region_size;
        out_of_range = HFX_E_SHM_RANGE;
        break;
    case HFX_SOURCE_SCANOUT:
        /* The host captures the scanout itself: no client memory to check. */
        return frame->plane_count == f->planes ? HFX_OK : HFX_E_MALFORMED;
    default:
        return HFX_E_MALFORMED;
    }
    if (frame->plane_count != f->planes)
        return HFX_E_MALFORMED;
    for (unsigned i = 0; i < f->planes; i++) {
        uint32_t row_bytes, rows;
        enum hfx_status st;

        if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, i, &row_bytes, &rows))
            return HFX_E_BAD_DIMENSIONS;
        st = check_plane(&frame->planes[i], row_bytes, rows, limit, out_of_range);
        if (st != HFX_OK)
            return st;
    }
    return HFX_OK;
}
