/* SPDX-License-Identifier: MIT */
/*
 * Pixel formats and the semantic checks on CONFIGURE and FRAME
 * (docs/protocol.md §5.1, §5.3). The codec in wire.c checks structure;
 * these check meaning, against the stream's configuration.
 */
#include "hfx/protocol.h"

#include <string.h>

#include "wire-private.h"

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

/* §5.1 CONFIGURE payload offsets of the checked fields. */
#define CFG_CODEC AT(0)
#define CFG_WIDTH AT(4)
#define CFG_HEIGHT AT(8)
#define CFG_FOURCC AT(12)
#define CFG_NAME_LEN AT(40)
/* §5.3 FRAME: source, plane_count, then plane i's offset and stride. */
#define FRAME_SOURCE AT(24)
#define FRAME_PLANE_COUNT AT(25)
#define FRAME_PLANE(i) AT(32 + 16 * (size_t)(i))

/* Even sizes: 4:2:0 chroma planes cover whole 2x2 blocks. */
static enum hfx_status check_dimension(const char *field, size_t at, uint32_t v,
                                       struct hfx_wire_error *e)
{
    enum hfx_status st = wire_range(e, HFX_E_BAD_DIMENSIONS, field, at, v, 2, HFX_MAX_DIMENSION);

    if (st == HFX_OK && v % 2)
        st = wire_error(e, HFX_E_BAD_DIMENSIONS, HFX_WIRE_ODD, field, at, v, 0);
    return st;
}

enum hfx_status hfx_configure_validate_ex(const struct hfx_configure *cfg,
                                          struct hfx_wire_error *e)
{
    enum hfx_status st;

    wire_error_reset(e, HFX_MSG_CONFIGURE);
    if (!cfg)
        return HFX_E_INVALID;
    if ((st = wire_range(e, HFX_E_BAD_FORMAT, "codec", CFG_CODEC, cfg->codec, HFX_CODEC_H264,
                         HFX_CODEC_AV1)) != HFX_OK)
        return st;
    if (!find_format(cfg->fourcc))
        return wire_error(e, HFX_E_BAD_FORMAT, HFX_WIRE_UNKNOWN, "fourcc", CFG_FOURCC, cfg->fourcc,
                          0);
    if ((st = check_dimension("width", CFG_WIDTH, cfg->width, e)) != HFX_OK ||
        (st = check_dimension("height", CFG_HEIGHT, cfg->height, e)) != HFX_OK ||
        (st = wire_nonzero(e, HFX_E_MALFORMED, "fps_num", AT(16), cfg->fps_num)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "fps_num", AT(16), cfg->fps_num, 1,
                         HFX_MAX_FPS_TERM)) != HFX_OK ||
        (st = wire_nonzero(e, HFX_E_MALFORMED, "fps_den", AT(20), cfg->fps_den)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "fps_den", AT(20), cfg->fps_den, 1,
                         HFX_MAX_FPS_TERM)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "rate_control", AT(28), cfg->rate_control, 0,
                         HFX_RC_CQP)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "profile", AT(29), cfg->profile, 0,
                         HFX_PROFILE_HIGH)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "latency", AT(30), cfg->latency, 0,
                         HFX_LATENCY_QUALITY)) != HFX_OK ||
        (st = wire_range(e, HFX_E_MALFORMED, "quality", AT(31), cfg->quality, 0, 51)) != HFX_OK)
        return st;
    /* CQP ignores the bitrate; every other mode needs one. */
    if (cfg->rate_control != HFX_RC_CQP &&
        (st = wire_range(e, HFX_E_MALFORMED, "bitrate_kbps", AT(24), cfg->bitrate_kbps, 1,
                         HFX_MAX_BITRATE_KBPS)) != HFX_OK)
        return st;
    /* A caller-built struct may lack the terminator. */
    if (!memchr(cfg->encoder, 0, sizeof(cfg->encoder)))
        return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_OVER, "name_len", CFG_NAME_LEN,
                          sizeof(cfg->encoder), HFX_MAX_NAME);
    return HFX_OK;
}

enum hfx_status hfx_configure_validate(const struct hfx_configure *cfg)
{
    return hfx_configure_validate_ex(cfg, NULL);
}

static const char *const plane_name[HFX_MAX_PLANES] = {"planes[0]", "planes[1]", "planes[2]"};
static const char *const stride_name[HFX_MAX_PLANES] = {"planes[0].stride", "planes[1].stride",
                                                        "planes[2].stride"};

/* Plane i against the bytes it may use (limit). The end is computed in
 * 64 bits and every step is checked, so an offset near UINT64_MAX fails
 * instead of wrapping around to a small end. */
static enum hfx_status check_plane(const struct hfx_plane *p, unsigned i, uint32_t row_bytes,
                                   uint32_t rows, uint64_t limit, enum hfx_status out_of_range,
                                   struct hfx_wire_error *e)
{
    enum hfx_status st;
    uint64_t span;

    st = wire_range(e, HFX_E_BAD_STRIDE, stride_name[i], FRAME_PLANE(i) + 8, p->stride, row_bytes,
                    HFX_MAX_STRIDE);
    if (st != HFX_OK)
        return st;
    /* stride <= 2^20 and rows < 2^32: the product fits in 64 bits. */
    span = (uint64_t)p->stride * (rows - 1u) + row_bytes;
    if (p->offset > limit || span > limit - p->offset)
        return wire_error(e, out_of_range, HFX_WIRE_ENDS_PAST, plane_name[i], FRAME_PLANE(i),
                          p->offset > UINT64_MAX - span ? UINT64_MAX : p->offset + span, limit);
    return HFX_OK;
}

/* The frame's plane count against its format's (§5.3). */
static enum hfx_status check_plane_count(const struct hfx_frame *frame, unsigned planes,
                                         struct hfx_wire_error *e)
{
    if (frame->plane_count == planes)
        return HFX_OK;
    return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NOT, "plane_count", FRAME_PLANE_COUNT,
                      frame->plane_count, planes);
}

enum hfx_status hfx_frame_validate_ex(const struct hfx_configure *cfg,
                                      const struct hfx_frame *frame, uint64_t region_size,
                                      struct hfx_wire_error *e)
{
    const struct format_info *f;
    enum hfx_status out_of_range;
    uint64_t limit;

    wire_error_reset(e, HFX_MSG_CONFIGURE);
    if (!cfg || !frame)
        return HFX_E_INVALID;
    /* The stream's configuration is unusable: name its CONFIGURE field. */
    f = find_format(cfg->fourcc);
    if (!f)
        return wire_error(e, HFX_E_BAD_FORMAT, HFX_WIRE_UNKNOWN, "fourcc", CFG_FOURCC, cfg->fourcc,
                          0);
    if (cfg->width == 0 || cfg->height == 0)
        return wire_error(e, HFX_E_BAD_DIMENSIONS, HFX_WIRE_ZERO,
                          cfg->width == 0 ? "width" : "height",
                          cfg->width == 0 ? CFG_WIDTH : CFG_HEIGHT, 0, 0);
    wire_error_reset(e, HFX_MSG_FRAME);
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
        return check_plane_count(frame, f->planes, e);
    default:
        return wire_range(e, HFX_E_MALFORMED, "source", FRAME_SOURCE, frame->source,
                          HFX_SOURCE_INLINE, HFX_SOURCE_SCANOUT);
    }
    if (check_plane_count(frame, f->planes, e) != HFX_OK)
        return HFX_E_MALFORMED;
    for (unsigned i = 0; i < f->planes; i++) {
        uint32_t row_bytes, rows;
        enum hfx_status st;

        /* Only a width whose rows overflow 32 bits, far over the maximum. */
        if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, i, &row_bytes, &rows)) {
            wire_error_reset(e, HFX_MSG_CONFIGURE);
            return wire_error(e, HFX_E_BAD_DIMENSIONS, HFX_WIRE_OVER, "width", CFG_WIDTH,
                              cfg->width, HFX_MAX_DIMENSION);
        }
        st = check_plane(&frame->planes[i], i, row_bytes, rows, limit, out_of_range, e);
        if (st != HFX_OK)
            return st;
    }
    return HFX_OK;
}

enum hfx_status hfx_frame_validate(const struct hfx_configure *cfg, const struct hfx_frame *frame,
                                   uint64_t region_size)
{
    return hfx_frame_validate_ex(cfg, frame, region_size, NULL);
}
