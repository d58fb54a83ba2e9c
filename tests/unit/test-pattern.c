/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "h264-decode.h"
#include "pattern.h"
#include "check.h"

static const uint32_t formats[] = {
    HFX_FORMAT_NV12, HFX_FORMAT_I420, HFX_FORMAT_BGRX,
    HFX_FORMAT_BGRA, HFX_FORMAT_RGBX, HFX_FORMAT_RGBA,
};

#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static void test_alloc_layout(void)
{
    struct hfx_image img;
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_I420, 320, 240), HFX_OK);
    CHECK_EQ_INT(img.size, 320 * 240 * 3 / 2);
    CHECK(img.plane[0] == img.base);
    CHECK(img.plane[1] == img.base + 320 * 240);
    CHECK(img.plane[2] == img.base + 320 * 240 + 160 * 120);
    CHECK_EQ_INT(img.stride[1], 160);
    hfx_image_release(&img);
    CHECK(img.base == NULL);
    hfx_image_release(&img);

    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 64, 32), HFX_OK);
    CHECK_EQ_INT(img.size, 64 * 32 * 3 / 2);
    CHECK_EQ_INT(img.stride[1], 64);
    hfx_image_release(&img);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_BGRX, 64, 32), HFX_OK);
    CHECK_EQ_INT(img.size, 64 * 32 * 4);
    hfx_image_release(&img);

    CHECK_STATUS(hfx_image_alloc(&img, 0x12345678, 64, 32), HFX_E_BAD_FORMAT);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 63, 32), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 0, 32), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_image_alloc(&img, HFX_FORMAT_NV12, 64, HFX_MAX_DIMENSION + 2),
                 HFX_E_BAD_DIMENSIONS);
    CHECK(img.base == NULL);
}

static void test_deterministic_and_moving(void)
{
    for (size_t f = 0; f < N_FORMATS; f++) {
        struct hfx_image a, b;
        CHECK_STATUS(hfx_image_alloc(&a, formats[f], 320, 240), HFX_OK);
        CHECK_STATUS(hfx_image_alloc(&b, formats[f], 320, 240), HFX_OK);
        memset(b.base, 0x5a, b.size); /* every byte must be written */
        hfx_pattern_fill(&a, 7);
        hfx_pattern_fill(&b, 7);
        CHECK(memcmp(a.base, b.base, a.size) == 0);
        for (uint64_t i = 0; i < 40; i++) {
            hfx_pattern_fill(&a, i);
            hfx_pattern_fill(&b, i + 1);
            CHECK(memcmp(a.base, b.base, a.size) != 0);
        }
        hfx_image_release(&a);
        hfx_image_release(&b);
    }
}

static void test_small_sizes(void)
{
    static const uint32_t sizes[][2] = {{2, 2}, {2, 8}, {8, 2}, {16, 6}, {34, 18}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (size_t f = 0; f < N_FORMATS; f++) {
            struct hfx_image img;
            CHECK_STATUS(hfx_image_alloc(&img, formats[f], sizes[s][0], sizes[s][1]), HFX_OK);
            for (uint64_t i = 0; i < 50; i++)
                hfx_pattern_fill(&img, i);
            hfx_image_release(&img);
        }
    }
}

/* Every format shows the same picture: compare each, converted to I420,
 * with the I420 pattern. */
static void test_formats_agree(void)
{
    struct hfx_image ref, conv;
    CHECK_STATUS(hfx_image_alloc(&ref, HFX_FORMAT_I420, 320, 240), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&conv, HFX_FORMAT_I420, 320, 240), HFX_OK);
    for (uint64_t index = 0; index < 60; index += 13) {
        hfx_pattern_fill(&ref, index);
        for (size_t f = 0; f < N_FORMATS; f++) {
            struct hfx_image src;
            struct hfx_psnr p;
            CHECK_STATUS(hfx_image_alloc(&src, formats[f], 320, 240), HFX_OK);
            hfx_pattern_fill(&src, index);
            CHECK_STATUS(hfx_image_convert(&src, &conv), HFX_OK);
            CHECK_STATUS(hfx_image_psnr(&ref, &conv, &p), HFX_OK);
            if (formats[f] == HFX_FORMAT_I420 || formats[f] == HFX_FORMAT_NV12)
                CHECK(p.all == HFX_PSNR_MAX); /* a copy / a re-interleave */
            else
                CHECK(p.y > 45 && p.u > 40 && p.v > 40);
            hfx_image_release(&src);
        }
    }
    hfx_image_release(&ref);
    hfx_image_release(&conv);
}

static void test_psnr(void)
{
    struct hfx_image a, b;
    struct hfx_psnr p;
    CHECK_STATUS(hfx_image_alloc(&a, HFX_FORMAT_I420, 16, 16), HFX_OK);
    CHECK_STATUS(hfx_image_alloc(&b, HFX_FORMAT_I420, 16, 16), HFX_OK);
    memset(a.base, 100, a.size);
    memset(b.base, 100, b.size);
    CHECK_STATUS(hfx_image_psnr(&a, &b, &p), HFX_OK);
    CHECK(p.y == HFX_PSNR_MAX && p.all == HFX_PSNR_MAX);
    /* Luma off by 1 everywhere: MSE 1 -> 48.13 dB; all = MSE 256/384. */
    memset(b.plane[0], 101, 256);
    CHECK_STATUS(hfx_image_psnr(&a, &b, &p), HFX_OK);
    CHECK(p.y > 48.13 && p.y < 48.14);
    CHECK(p.u == HFX_PSNR_MAX);
    CHECK(p.all > 49.89 && p.all < 49.90);
    hfx_image_release(&b);
    CHECK_STATUS(hfx_image_alloc(&b, HFX_FORMAT_NV12, 16, 16), HFX_OK);
    CHECK_STATUS(hfx_image_psnr(&a, &b, &p), HFX_E_BAD_FORMAT);
    hfx_image_release(&a);
    hfx_image_release(&b);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_alloc_layout),
        CHECK_CASE(test_deterministic_and_moving),
        CHECK_CASE(test_small_sizes),
        CHECK_CASE(test_formats_agree),
        CHECK_CASE(test_psnr),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
