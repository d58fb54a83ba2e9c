/* SPDX-License-Identifier: MIT */
/*
 * Test pictures for tests, command-line tools and benchmarks: a
 * deterministic moving pattern in any hfx input format, and conversion
 * between formats.
 */
#ifndef HFX_TOOLS_PATTERN_H
#define HFX_TOOLS_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/status.h"

/* A picture in one hfx format. hfx_image_alloc makes one contiguous block
 * (base, size) with the planes tightly packed in order, stride = row bytes.
 * A wrapped image (see h264-decode.h) has base NULL and borrows its planes. */
struct hfx_image {
    uint32_t fourcc, width, height;
    uint8_t *plane[HFX_MAX_PLANES];
    uint32_t stride[HFX_MAX_PLANES];
    uint8_t *base;
    size_t size;
};

/* HFX_E_BAD_FORMAT for an unknown fourcc, HFX_E_BAD_DIMENSIONS for zero,
 * odd or over HFX_MAX_DIMENSION sizes. *img is zeroed on failure. */
HFX_MUST_CHECK enum hfx_status hfx_image_alloc(struct hfx_image *img, uint32_t fourcc,
                                               uint32_t width, uint32_t height);

/* Frees what hfx_image_alloc allocated and zeroes *img; NULL-safe. */
void hfx_image_release(struct hfx_image *img);

/* Draw picture number `index`: 75% colour bars on the top half, a scrolling
 * colour ramp, a textured band that moves every frame, and a box moving
 * over all of it. Same index -> same bytes; every index differs from the
 * one before. Features sit on a 2x2 grid, so that 4:2:0 chroma loses
 * nothing and every format shows the same picture (BT.601 limited range
 * for YUV). */
void hfx_pattern_fill(struct hfx_image *img, uint64_t index);

/* Convert (and scale, if the sizes differ) src into dst with libswscale and
 * the colour rules of lib/util/pixfmt.h. HFX_E_BAD_FORMAT if swscale cannot. */
HFX_MUST_CHECK enum hfx_status hfx_image_convert(const struct hfx_image *src,
                                                 struct hfx_image *dst);

#endif /* HFX_TOOLS_PATTERN_H */
