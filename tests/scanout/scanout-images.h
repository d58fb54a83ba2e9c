/* SPDX-License-Identifier: MIT */
/*
 * The pictures suite qemu's scanout tests draw in the guest
 * (tests/qemu/guest-draw.c) and look for on the host
 * (tests/scanout/scanout-subscriber.c): picture k of SCANOUT_IMAGES, a
 * background of one colour and a square of another at a place of its own,
 * so that a picture shown in the wrong place or with the wrong colours does
 * not pass for the right one. BGRx, every feature on a 2x2 grid (4:2:0
 * chroma loses nothing).
 */
#ifndef HFX_TESTS_SCANOUT_IMAGES_H
#define HFX_TESTS_SCANOUT_IMAGES_H

#include <stdint.h>
#include <string.h>

#define SCANOUT_IMAGES 6
#define SCANOUT_SQUARE 160

/* B, G, R per picture: background, then square. */
static const uint8_t scanout_colours[SCANOUT_IMAGES][2][3] = {
    {{0x20, 0x20, 0xc0}, {0xe0, 0xe0, 0x20}}, /* red, cyan square */
    {{0x20, 0xc0, 0x20}, {0xe0, 0x20, 0xe0}}, /* green, magenta */
    {{0xc0, 0x20, 0x20}, {0x20, 0xe0, 0xe0}}, /* blue, yellow */
    {{0x10, 0x10, 0x10}, {0xf0, 0xf0, 0xf0}}, /* black, white */
    {{0x20, 0x80, 0xe0}, {0x80, 0x20, 0x40}}, /* orange, purple */
    {{0xd0, 0xd0, 0xd0}, {0x30, 0x60, 0x20}}, /* light grey, dark green */
};

/* Where picture k's square is in a width x height picture. */
static inline void scanout_square_at(unsigned k, uint32_t width, uint32_t height, uint32_t *x,
                                     uint32_t *y)
{
    *x = ((width - SCANOUT_SQUARE) * k / (SCANOUT_IMAGES - 1)) & ~1u;
    *y = ((height - SCANOUT_SQUARE) / 2 + (k % 2 ? 60u : 0u)) & ~1u;
}

/* Draw picture k into BGRx memory (stride bytes per row). */
static inline void scanout_draw(unsigned k, uint8_t *data, uint32_t width, uint32_t height,
                                uint32_t stride)
{
    uint32_t sx, sy;

    scanout_square_at(k, width, height, &sx, &sy);
    for (uint32_t y = 0; y < height; y++) {
        uint8_t *row = data + (size_t)stride * y;
        for (uint32_t x = 0; x < width; x++) {
            int in = x >= sx && x < sx + SCANOUT_SQUARE && y >= sy && y < sy + SCANOUT_SQUARE;
            memcpy(row + 4 * x, scanout_colours[k][in], 3);
            row[4 * x + 3] = 0xff;
        }
    }
}

#endif /* HFX_TESTS_SCANOUT_IMAGES_H */
