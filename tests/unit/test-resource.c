/* SPDX-License-Identifier: MIT */
/*
 * hfx_resource_copy (host/resource.c): a RESOURCE frame's picture is copied
 * out of the resource only when the resource is the stream's picture, with
 * every mismatch named, and never a byte past the resource's end.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hfx/protocol.h"
#include "hfx/resource.h"

#define W 6
#define H 4
#define STRIDE 32 /* 24 bytes of pixels, 8 of padding per row */

static uint8_t memory[STRIDE * H + 16];
static uint8_t dst[W * 4 * H];

static struct hfx_resource_request request(void)
{
    return (struct hfx_resource_request){
        .resource_id = 7,
        .fourcc = HFX_FORMAT_BGRX,
        .width = W,
        .height = H,
        .offset = 16,
        .stride = STRIDE,
        .dst = dst,
    };
}

static struct hfx_resource_image image(void)
{
    return (struct hfx_resource_image){
        .fourcc = HFX_FORMAT_BGRX,
        .width = W,
        .height = H,
        .stride = STRIDE,
        .data = memory,
        .size = sizeof(memory),
    };
}

static void expect(const struct hfx_resource_request *req, const struct hfx_resource_image *img,
                   enum hfx_status want, const char *says)
{
    char why[160];

    memset(dst, 0xee, sizeof(dst));
    CHECK_STATUS(hfx_resource_copy(req, img, why, sizeof(why)), want);
    CHECK(strstr(why, says) != NULL);
    /* Nothing is copied from a resource that does not match. */
    for (size_t i = 0; i < sizeof(dst); i++)
        CHECK(dst[i] == 0xee);
}

static void test_copies_rows_without_padding(void)
{
    struct hfx_resource_request req = request();
    struct hfx_resource_image img = image();
    char why[16] = "stale";

    for (size_t i = 0; i < sizeof(memory); i++)
        memory[i] = (uint8_t)i;
    CHECK_STATUS(hfx_resource_copy(&req, &img, why, sizeof(why)), HFX_OK);
    CHECK(why[0] == '\0');
    for (unsigned y = 0; y < H; y++)
        CHECK(memcmp(dst + y * W * 4, memory + 16 + y * STRIDE, W * 4) == 0);
}

static void test_mismatches_are_named(void)
{
    struct hfx_resource_request req = request();
    struct hfx_resource_image img = image();

    img.fourcc = HFX_FORMAT_RGBA;
    expect(&req, &img, HFX_E_BAD_FORMAT, "resource 7 holds RGBA, the stream is BGRx");
    img = image();
    img.fourcc = 0;
    expect(&req, &img, HFX_E_BAD_FORMAT, "a format hfx has no name for");
    img = image();
    img.width = W + 2;
    expect(&req, &img, HFX_E_BAD_DIMENSIONS, "its width is 8, the frame's 6");
    img = image();
    img.height = H - 1;
    expect(&req, &img, HFX_E_BAD_DIMENSIONS, "its height is 3, the frame's 4");
    req.stride = STRIDE + 4;
    img = image();
    expect(&req, &img, HFX_E_BAD_STRIDE, "its stride is 32, the frame's 36");
}

/* Two-plane and three-plane formats cannot be resources. */
static void test_planar_formats_refused(void)
{
    struct hfx_resource_request req = request();
    struct hfx_resource_image img = image();

    req.fourcc = img.fourcc = HFX_FORMAT_NV12;
    expect(&req, &img, HFX_E_BAD_FORMAT, "NV12 is not a one-plane format");
    req.fourcc = img.fourcc = HFX_FORMAT_I420;
    expect(&req, &img, HFX_E_BAD_FORMAT, "I420 is not a one-plane format");
}

/* The last row ends exactly at the end: allowed; one byte more, or an
 * offset past the end (also one that would wrap), is not. */
static void test_range(void)
{
    struct hfx_resource_request req = request();
    struct hfx_resource_image img = image();
    const uint64_t exact = 16 + (uint64_t)STRIDE * (H - 1) + W * 4;

    img.size = exact;
    CHECK_STATUS(hfx_resource_copy(&req, &img, NULL, 0), HFX_OK);
    img.size = exact - 1;
    expect(&req, &img, HFX_E_SHM_RANGE, "runs past its 135 bytes");
    img = image();
    req.offset = sizeof(memory) + 1;
    expect(&req, &img, HFX_E_SHM_RANGE, "at offset 145");
    req.offset = UINT64_MAX - 8;
    expect(&req, &img, HFX_E_SHM_RANGE, "runs past");
}

static void test_invalid(void)
{
    struct hfx_resource_request req = request();
    struct hfx_resource_image img = image();

    CHECK_STATUS(hfx_resource_copy(NULL, &img, NULL, 0), HFX_E_INVALID);
    CHECK_STATUS(hfx_resource_copy(&req, NULL, NULL, 0), HFX_E_INVALID);
    req.dst = NULL;
    CHECK_STATUS(hfx_resource_copy(&req, &img, NULL, 0), HFX_E_INVALID);
    req = request();
    img.data = NULL;
    CHECK_STATUS(hfx_resource_copy(&req, &img, NULL, 0), HFX_E_INVALID);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_copies_rows_without_padding),
        CHECK_CASE(test_mismatches_are_named),
        CHECK_CASE(test_planar_formats_refused),
        CHECK_CASE(test_range),
        CHECK_CASE(test_invalid),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
