/* SPDX-License-Identifier: MIT */
#include "pattern.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libswscale/swscale.h>

#include "util/pixfmt.h"

struct rgb {
    uint8_t r, g, b;
};

/* Texture tile: TILE x TILE blocks of 2x2 pixels. */
#define TILE 32

enum hfx_status hfx_image_alloc(struct hfx_image *img, uint32_t fourcc, uint32_t width,
                                uint32_t height)
{
    unsigned planes = hfx_format_planes(fourcc);
    uint64_t offset[HFX_MAX_PLANES] = {0}, total = 0;

    memset(img, 0, sizeof(*img));
    if (planes == 0)
        return HFX_E_BAD_FORMAT;
    if (width < 2 || height < 2 || width > HFX_MAX_DIMENSION || height > HFX_MAX_DIMENSION ||
        (width | height) & 1)
        return HFX_E_BAD_DIMENSIONS;
    for (unsigned p = 0; p < planes; p++) {
        uint32_t row_bytes, rows;
        (void)hfx_format_plane_size(fourcc, width, height, p, &row_bytes, &rows);
        img->stride[p] = row_bytes;
        offset[p] = total;
        total += (uint64_t)row_bytes * rows;
    }
    img->base = malloc(total);
    if (!img->base)
        return HFX_E_NOMEM;
    for (unsigned p = 0; p < planes; p++)
        img->plane[p] = img->base + offset[p];
    img->fourcc = fourcc;
    img->width = width;
    img->height = height;
    img->size = total;
    return HFX_OK;
}

void hfx_image_release(struct hfx_image *img)
{
    if (!img)
        return;
    free(img->base);
    memset(img, 0, sizeof(*img));
}

/* BT.601 limited range, 8-bit integer form (Rec. ITU-R BT.601 section 2.5.3
 * scaled by 256). The offsets keep the sums positive before the shift. */
static uint8_t luma(struct rgb c)
{
    return (uint8_t)(((66 * c.r + 129 * c.g + 25 * c.b + 128) >> 8) + 16);
}

static uint8_t chroma_u(struct rgb c)
{
    return (uint8_t)((-38 * c.r - 74 * c.g + 112 * c.b + 128 + 128 * 256) >> 8);
}

static uint8_t chroma_v(struct rgb c)
{
    return (uint8_t)((112 * c.r - 94 * c.g - 18 * c.b + 128 + 128 * 256) >> 8);
}

static bool is_yuv420(uint32_t fourcc)
{
    return fourcc == HFX_FORMAT_NV12 || fourcc == HFX_FORMAT_I420;
}

static uint8_t *at(const struct hfx_image *img, unsigned plane, uint32_t row, uint32_t byte)
{
    return img->plane[plane] + (size_t)row * img->stride[plane] + byte;
}

/* Write n pixels (x0 and n even) of row y. 4:2:0 chroma is written on even
 * rows from the even pixels: the pattern is constant over 2x2 blocks. */
static void put_span(struct hfx_image *img, uint32_t y, uint32_t x0, const struct rgb *px,
                     uint32_t n)
{
    uint32_t f = img->fourcc;

    if (is_yuv420(f)) {
        uint8_t *ydst = at(img, 0, y, x0);
        for (uint32_t i = 0; i < n; i++)
            ydst[i] = luma(px[i]);
        if (y & 1)
            return;
        if (f == HFX_FORMAT_NV12) {
            uint8_t *uv = at(img, 1, y / 2, x0);
            for (uint32_t i = 0; i < n; i += 2) {
                uv[i] = chroma_u(px[i]);
                uv[i + 1] = chroma_v(px[i]);
            }
        } else {
            uint8_t *u = at(img, 1, y / 2, x0 / 2), *v = at(img, 2, y / 2, x0 / 2);
            for (uint32_t i = 0; i < n; i += 2) {
                u[i / 2] = chroma_u(px[i]);
                v[i / 2] = chroma_v(px[i]);
            }
        }
        return;
    }
    bool bgr = f == HFX_FORMAT_BGRX || f == HFX_FORMAT_BGRA;
    uint8_t *d = at(img, 0, y, 4 * x0);
    for (uint32_t i = 0; i < n; i++, d += 4) {
        d[0] = bgr ? px[i].b : px[i].r;
        d[1] = px[i].g;
        d[2] = bgr ? px[i].r : px[i].b;
        d[3] = 255;
    }
}

/* Copy the span [x0, x0 + n) of row src to rows [y0, y1); all even. */
static void copy_rows(struct hfx_image *img, uint32_t src, uint32_t y0, uint32_t y1, uint32_t x0,
                      uint32_t n)
{
    bool yuv = is_yuv420(img->fourcc);
    uint32_t bpp = yuv ? 1 : 4;

    for (uint32_t y = y0; y < y1; y++)
        memcpy(at(img, 0, y, bpp * x0), at(img, 0, src, bpp * x0), (size_t)bpp * n);
    if (!yuv)
        return;
    for (uint32_t y = y0 / 2; y < y1 / 2; y++) {
        if (img->fourcc == HFX_FORMAT_NV12) {
            memcpy(at(img, 1, y, x0), at(img, 1, src / 2, x0), n);
        } else {
            memcpy(at(img, 1, y, x0 / 2), at(img, 1, src / 2, x0 / 2), n / 2);
            memcpy(at(img, 2, y, x0 / 2), at(img, 2, src / 2, x0 / 2), n / 2);
        }
    }
}

/* Fill rows [y0, y1) with one row of pixels. */
static void band(struct hfx_image *img, uint32_t y0, uint32_t y1, uint32_t x0,
                 const struct rgb *px, uint32_t n)
{
    if (y0 >= y1)
        return;
    put_span(img, y0, x0, px, n);
    put_span(img, y0 + 1, x0, px, n);
    copy_rows(img, y0, y0 + 2, y1, x0, n);
}

/* Position on a back-and-forth path over [0, range], kept even. */
static uint32_t bounce(uint64_t index, uint32_t step, uint32_t range)
{
    if (range == 0)
        return 0;
    uint64_t p = index * step % (2ull * range);
    if (p > range)
        p = 2ull * range - p;
    return (uint32_t)p & ~1u;
}

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static void texture_row(struct rgb *row, uint32_t w, uint32_t by)
{
    for (uint32_t x = 0; x < w; x += 2) {
        uint32_t bx = (x / 2) % TILE;
        uint32_t h = mix(bx * 131 + by * 7919);
        /* Noise over a smooth diagonal: detail an encoder has to spend bits
         * on, without being white noise. */
        uint8_t base = (uint8_t)(60 + 4 * ((bx + by) % TILE));
        struct rgb c = {(uint8_t)(base + (h & 31)), (uint8_t)(base + ((h >> 5) & 31)),
                        (uint8_t)(200 - base / 2 + ((h >> 10) & 15))};
        row[x] = row[x + 1] = c;
    }
}

void hfx_pattern_fill(struct hfx_image *img, uint64_t index)
{
    static const struct rgb bars[] = {
        {191, 191, 191}, {191, 191, 0}, {0, 191, 191}, {0, 191, 0},
        {191, 0, 191},   {191, 0, 0},   {0, 0, 191},
    };
    static const struct rgb box_colours[] = {
        {235, 235, 235}, {16, 16, 16}, {255, 128, 0}, {0, 160, 255},
    };
    struct rgb row[HFX_MAX_DIMENSION] = {{0, 0, 0}}; /* zeroed for -Wmaybe-uninitialized */
    uint32_t w = img->width, h = img->height;
    uint32_t bars_end = (h / 2) & ~1u, ramp_end = bars_end + ((h / 4) & ~1u);
    uint32_t nbars = sizeof(bars) / sizeof(bars[0]);

    if (!img->plane[0] || w > HFX_MAX_DIMENSION || (w | h) & 1)
        return;
    for (uint32_t x = 0; x < w; x += 2)
        row[x] = row[x + 1] = bars[(uint64_t)x * nbars / w];
    band(img, 0, bars_end, 0, row, w);

    for (uint32_t x = 0; x < w; x += 2) {
        uint32_t t = (uint32_t)((x + 4 * index) & 511);
        uint8_t v = (uint8_t)(t < 256 ? t : 511 - t);
        row[x] = row[x + 1] = (struct rgb){v, (uint8_t)(255 - v), 128};
    }
    band(img, bars_end, ramp_end, 0, row, w);

    /* Texture rows scroll up one block per frame; each distinct row is
     * converted once and copied after that. */
    uint32_t first_at[TILE];
    bool made[TILE] = {false};
    for (uint32_t y = ramp_end; y < h; y += 2) {
        uint32_t by = (uint32_t)(((y - ramp_end) / 2 + index) % TILE);
        if (made[by]) {
            copy_rows(img, first_at[by], y, y + 2, 0, w);
            continue;
        }
        texture_row(row, w, by);
        band(img, y, y + 2, 0, row, w);
        made[by] = true;
        first_at[by] = y;
    }

    uint32_t side = ((w < h ? w : h) / 6) & ~1u;
    if (side < 2)
        side = 2;
    uint32_t bx = bounce(index, 8, w - side), by = bounce(index, 6, h - side);
    struct rgb c = box_colours[(index / 16) % (sizeof(box_colours) / sizeof(box_colours[0]))];
    for (uint32_t i = 0; i < side; i++)
        row[i] = c;
    band(img, by, by + side, bx, row, side);
}

enum hfx_status hfx_image_convert(const struct hfx_image *src, struct hfx_image *dst)
{
    enum AVPixelFormat sf = hfx_pixfmt_from_fourcc(src->fourcc);
    enum AVPixelFormat df = hfx_pixfmt_from_fourcc(dst->fourcc);
    const uint8_t *in[HFX_MAX_PLANES + 1] = {src->plane[0], src->plane[1], src->plane[2], NULL};
    uint8_t *out[HFX_MAX_PLANES + 1] = {dst->plane[0], dst->plane[1], dst->plane[2], NULL};
    int in_stride[HFX_MAX_PLANES + 1] = {0}, out_stride[HFX_MAX_PLANES + 1] = {0};

    if (sf == AV_PIX_FMT_NONE || df == AV_PIX_FMT_NONE)
        return HFX_E_BAD_FORMAT;
    for (unsigned p = 0; p < HFX_MAX_PLANES; p++) {
        in_stride[p] = (int)src->stride[p];
        out_stride[p] = (int)dst->stride[p];
    }
    struct SwsContext *sws = hfx_pixfmt_sws((int)src->width, (int)src->height, sf,
                                            (int)dst->width, (int)dst->height, df);
    if (!sws)
        return HFX_E_BAD_FORMAT;
    int ret = sws_scale(sws, in, in_stride, 0, (int)src->height, out, out_stride);
    sws_freeContext(sws);
    return ret > 0 ? HFX_OK : HFX_E_INTERNAL;
}
