/* SPDX-License-Identifier: MIT */
/*
 * Pixel formats and the semantic checks on CONFIGURE and FRAME
 * (docs/protocol.md §5.1, §5.3).
 */
#include <stdint.h>
#include <string.h>

#include "hfx/protocol.h"
#include "check.h"
#include "wire-check.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct plane_size {
    uint32_t fourcc;
    unsigned plane;
    uint32_t row_bytes, rows; /* at 64 x 48 */
};

static void test_plane_sizes(void)
{
    static const struct plane_size sizes[] = {
        {HFX_FORMAT_NV12, 0, 64, 48},  {HFX_FORMAT_NV12, 1, 64, 24},
        {HFX_FORMAT_I420, 0, 64, 48},  {HFX_FORMAT_I420, 1, 32, 24},
        {HFX_FORMAT_I420, 2, 32, 24},  {HFX_FORMAT_BGRX, 0, 256, 48},
        {HFX_FORMAT_BGRA, 0, 256, 48}, {HFX_FORMAT_RGBX, 0, 256, 48},
        {HFX_FORMAT_RGBA, 0, 256, 48},
    };

    for (unsigned i = 0; i < ARRAY_LEN(sizes); i++) {
        uint32_t rb = 0, rows = 0;
        CHECK(hfx_format_plane_size(sizes[i].fourcc, 64, 48, sizes[i].plane, &rb, &rows));
        CHECK_EQ_INT(rb, sizes[i].row_bytes);
        CHECK_EQ_INT(rows, sizes[i].rows);
    }
    /* Past the last plane, unknown formats. */
    CHECK(!hfx_format_plane_size(HFX_FORMAT_NV12, 64, 48, 2, NULL, NULL));
    CHECK(!hfx_format_plane_size(HFX_FORMAT_I420, 64, 48, 3, NULL, NULL));
    CHECK(!hfx_format_plane_size(HFX_FORMAT_BGRA, 64, 48, 1, NULL, NULL));
    CHECK(!hfx_format_plane_size(0, 64, 48, 0, NULL, NULL));
    CHECK(!hfx_format_plane_size(HFX_FOURCC('Y', 'U', 'Y', '2'), 64, 48, 0, NULL, NULL));
    /* Odd sizes round the chroma up; a row that overflows 32 bits fails. */
    uint32_t rb, rows;
    CHECK(hfx_format_plane_size(HFX_FORMAT_I420, 5, 3, 1, &rb, &rows));
    CHECK_EQ_INT(rb, 3);
    CHECK_EQ_INT(rows, 2);
    CHECK(hfx_format_plane_size(HFX_FORMAT_NV12, 5, 3, 1, &rb, &rows));
    CHECK_EQ_INT(rb, 6);
    CHECK(hfx_format_plane_size(HFX_FORMAT_BGRX, 1u << 30, 1, 0, &rb, &rows) == false);
    CHECK(hfx_format_plane_size(HFX_FORMAT_NV12, UINT32_MAX - 1, UINT32_MAX, 1, &rb, &rows));
    CHECK_EQ_INT(rb, UINT32_MAX - 1);
    CHECK_EQ_INT(rows, 1u << 31);
    CHECK(!hfx_format_plane_size(HFX_FORMAT_NV12, UINT32_MAX, 2, 1, &rb, &rows));
}

static void test_planes_and_names(void)
{
    static const struct {
        uint32_t fourcc;
        const char *name;
        unsigned planes;
    } formats[] = {
        {HFX_FORMAT_NV12, "NV12", 2}, {HFX_FORMAT_I420, "I420", 3}, {HFX_FORMAT_BGRX, "BGRx", 1},
        {HFX_FORMAT_BGRA, "BGRA", 1}, {HFX_FORMAT_RGBX, "RGBx", 1}, {HFX_FORMAT_RGBA, "RGBA", 1},
    };

    for (unsigned i = 0; i < ARRAY_LEN(formats); i++) {
        CHECK_EQ_INT(hfx_format_planes(formats[i].fourcc), formats[i].planes);
        CHECK(strcmp(hfx_format_name(formats[i].fourcc), formats[i].name) == 0);
        CHECK_EQ_INT(hfx_format_from_name(formats[i].name), formats[i].fourcc);
    }
    CHECK_EQ_INT(hfx_format_planes(0), 0);
    CHECK(hfx_format_name(0) == NULL);
    CHECK_EQ_INT(hfx_format_from_name("BGRX"), HFX_FORMAT_BGRX);
    CHECK_EQ_INT(hfx_format_from_name("RGBX"), HFX_FORMAT_RGBX);
    CHECK_EQ_INT(hfx_format_from_name("nv12"), 0);
    CHECK_EQ_INT(hfx_format_from_name(""), 0);
    CHECK_EQ_INT(hfx_format_from_name(NULL), 0);
}

static struct hfx_configure good_config(void)
{
    struct hfx_configure c = {
        .codec = HFX_CODEC_H264,
        .width = 64,
        .height = 48,
        .fourcc = HFX_FORMAT_NV12,
        .fps_num = 30,
        .fps_den = 1,
        .bitrate_kbps = 2000,
        .rate_control = HFX_RC_CBR,
        .encoder = "auto",
    };
    return c;
}

#define EXPECT_CONFIG(field, value, want)                                                         \
    do {                                                                                          \
        struct hfx_configure c_ = good_config();                                                  \
        c_.field = value;                                                                         \
        CHECK_STATUS(hfx_configure_validate(&c_), want);                                          \
    } while (0)

static void test_configure_validate(void)
{
    static const uint32_t bad_dims[] = {0, 1, 3, 63, 8193, 8194, 16384, UINT32_MAX};
    static const uint32_t fourccs[] = {HFX_FORMAT_NV12, HFX_FORMAT_I420, HFX_FORMAT_BGRX,
                                       HFX_FORMAT_BGRA, HFX_FORMAT_RGBX, HFX_FORMAT_RGBA};
    struct hfx_configure c = good_config();

    CHECK_STATUS(hfx_configure_validate(&c), HFX_OK);
    for (unsigned i = 0; i < ARRAY_LEN(bad_dims); i++) {
        EXPECT_CONFIG(width, bad_dims[i], HFX_E_BAD_DIMENSIONS);
        EXPECT_CONFIG(height, bad_dims[i], HFX_E_BAD_DIMENSIONS);
    }
    EXPECT_CONFIG(width, 2, HFX_OK);
    EXPECT_CONFIG(height, HFX_MAX_DIMENSION, HFX_OK);
    for (unsigned i = 0; i < ARRAY_LEN(fourccs); i++)
        EXPECT_CONFIG(fourcc, fourccs[i], HFX_OK);
    EXPECT_CONFIG(fourcc, 0, HFX_E_BAD_FORMAT);
    EXPECT_CONFIG(fourcc, HFX_FOURCC('Y', 'U', 'Y', '2'), HFX_E_BAD_FORMAT);
    EXPECT_CONFIG(fourcc, HFX_FOURCC('B', 'G', 'R', 'X'), HFX_E_BAD_FORMAT);
    EXPECT_CONFIG(codec, 0, HFX_E_BAD_FORMAT);
    EXPECT_CONFIG(codec, 4, HFX_E_BAD_FORMAT);
    EXPECT_CONFIG(codec, HFX_CODEC_AV1, HFX_OK);
    EXPECT_CONFIG(fps_num, 0, HFX_E_MALFORMED);
    EXPECT_CONFIG(fps_den, 0, HFX_E_MALFORMED);
    /* §5.1: a signed 32-bit rational, what encoders take. */
    EXPECT_CONFIG(fps_num, HFX_MAX_FPS_TERM, HFX_OK);
    EXPECT_CONFIG(fps_num, HFX_MAX_FPS_TERM + 1u, HFX_E_MALFORMED);
    EXPECT_CONFIG(fps_den, UINT32_MAX, HFX_E_MALFORMED);
    EXPECT_CONFIG(rate_control, HFX_RC_CQP + 1, HFX_E_MALFORMED);
    EXPECT_CONFIG(profile, HFX_PROFILE_HIGH + 1, HFX_E_MALFORMED);
    EXPECT_CONFIG(latency, HFX_LATENCY_QUALITY + 1, HFX_E_MALFORMED);
    EXPECT_CONFIG(quality, 52, HFX_E_MALFORMED);
    EXPECT_CONFIG(quality, 51, HFX_OK);
    EXPECT_CONFIG(bitrate_kbps, 0, HFX_E_MALFORMED);
    EXPECT_CONFIG(bitrate_kbps, HFX_MAX_BITRATE_KBPS + 1, HFX_E_MALFORMED);
    EXPECT_CONFIG(bitrate_kbps, HFX_MAX_BITRATE_KBPS, HFX_OK);
    /* CQP ignores the bitrate. */
    c = good_config();
    c.rate_control = HFX_RC_CQP;
    c.bitrate_kbps = 0;
    CHECK_STATUS(hfx_configure_validate(&c), HFX_OK);
    c.rate_control = HFX_RC_ABR;
    CHECK_STATUS(hfx_configure_validate(&c), HFX_E_MALFORMED);
    /* Unterminated encoder name (a caller-built struct). */
    c = good_config();
    memset(c.encoder, 'x', sizeof(c.encoder));
    CHECK_STATUS(hfx_configure_validate(&c), HFX_E_MALFORMED);
    CHECK_STATUS(hfx_configure_validate(NULL), HFX_E_INVALID);
    /* Order: format before dimensions before the rest. */
    c = good_config();
    c.fourcc = 0;
    c.width = 3;
    c.fps_num = 0;
    CHECK_STATUS(hfx_configure_validate(&c), HFX_E_BAD_FORMAT);
    c.fourcc = HFX_FORMAT_NV12;
    CHECK_STATUS(hfx_configure_validate(&c), HFX_E_BAD_DIMENSIONS);
}

/* 64x48 NV12 packed tightly: plane 0 at 0 (64 x 48), plane 1 at 3072
 * (64 x 24), 4608 bytes in all. */
static struct hfx_frame nv12_frame(uint8_t source, size_t data_len)
{
    struct hfx_frame f = {
        .frame_id = 1,
        .source = source,
        .plane_count = 2,
        .planes = {{0, 64}, {3072, 64}},
        .data_len = data_len,
    };
    return f;
}

static void test_frame_validate_inline(void)
{
    struct hfx_configure c = good_config();
    struct hfx_frame f = nv12_frame(HFX_SOURCE_INLINE, 4608);

    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
    f.data_len = 4607;
    CHECK_STATUS(hfx_frame_validate(&c, &f, UINT64_MAX), HFX_E_TRUNCATED);
    f.data_len = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_TRUNCATED);
    /* The last row needs only row bytes, not a whole stride. */
    f = nv12_frame(HFX_SOURCE_INLINE, 80 * 48 + 80 * 23 + 64);
    f.planes[0].stride = 80;
    f.planes[1].offset = 80 * 48;
    f.planes[1].stride = 80;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
    f.data_len--;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_TRUNCATED);
    /* Planes may overlap or come in any order: only bounds matter. */
    f = nv12_frame(HFX_SOURCE_INLINE, 4608);
    f.planes[1].offset = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
}

static void test_frame_validate_stride(void)
{
    struct hfx_configure c = good_config();
    struct hfx_frame f = nv12_frame(HFX_SOURCE_INLINE, 1u << 30);

    f.planes[0].stride = 63;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    f.planes[0].stride = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    f.planes[0].stride = HFX_MAX_STRIDE + 1;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    f.planes[0].stride = HFX_MAX_STRIDE;
    f.planes[1].offset = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
    f.planes[1].stride = 63;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    /* BGRx rows are 4 bytes a pixel. */
    c.fourcc = HFX_FORMAT_BGRX;
    f.plane_count = 1;
    f.planes[0].stride = 255;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    f.planes[0].stride = 256;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
}

static void test_frame_validate_shm(void)
{
    struct hfx_configure c = good_config();
    struct hfx_frame f = nv12_frame(HFX_SOURCE_SHM, 0);

    CHECK_STATUS(hfx_frame_validate(&c, &f, 4608), HFX_OK);
    CHECK_STATUS(hfx_frame_validate(&c, &f, 4607), HFX_E_SHM_RANGE);
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_SHM_RANGE);
    /* At the far end of a large region. */
    f.planes[0].offset = HFX_MAX_SHM_SIZE - 4608;
    f.planes[1].offset = HFX_MAX_SHM_SIZE - 1536;
    CHECK_STATUS(hfx_frame_validate(&c, &f, HFX_MAX_SHM_SIZE), HFX_OK);
    f.planes[1].offset++;
    CHECK_STATUS(hfx_frame_validate(&c, &f, HFX_MAX_SHM_SIZE), HFX_E_SHM_RANGE);
    /* RESOURCE is bounded by the resource's size the same way. */
    f = nv12_frame(HFX_SOURCE_RESOURCE, 0);
    CHECK_STATUS(hfx_frame_validate(&c, &f, 4608), HFX_OK);
    CHECK_STATUS(hfx_frame_validate(&c, &f, 4000), HFX_E_SHM_RANGE);
}

/* offset + stride * (rows - 1) + row_bytes must not wrap around. */
static void test_frame_validate_overflow(void)
{
    static const struct {
        uint64_t offset;
        enum hfx_status inline_status; /* plane 0 with stride 2^20 */
    } cases[] = {
        {UINT64_MAX, HFX_E_TRUNCATED},
        {UINT64_MAX - 1, HFX_E_TRUNCATED},
        {UINT64_MAX - 63, HFX_E_TRUNCATED},
        {UINT64_MAX - 64 * 47, HFX_E_TRUNCATED},
        {UINT64_MAX - 3071, HFX_E_TRUNCATED},
        {UINT64_MAX - ((uint64_t)HFX_MAX_STRIDE * 47 + 64), HFX_OK},
        {UINT64_MAX - ((uint64_t)HFX_MAX_STRIDE * 47 + 63), HFX_E_TRUNCATED},
        {(uint64_t)INT64_MAX + 1, HFX_OK},
    };
    struct hfx_configure c = good_config();

    for (unsigned i = 0; i < ARRAY_LEN(cases); i++) {
        struct hfx_frame f = nv12_frame(HFX_SOURCE_SHM, 0);
        f.planes[1].offset = cases[i].offset;
        /* Plane 1 spans 1536 bytes; the region ends 1536 bytes short. */
        CHECK_STATUS(hfx_frame_validate(&c, &f, UINT64_MAX - 1536),
                     cases[i].offset <= UINT64_MAX - 3072 ? HFX_OK : HFX_E_SHM_RANGE);
        /* data_len is a size_t: on 64-bit hosts as large as the offsets. */
        if (SIZE_MAX != UINT64_MAX)
            continue;
        f = nv12_frame(HFX_SOURCE_INLINE, SIZE_MAX);
        f.planes[0].offset = cases[i].offset;
        f.planes[0].stride = HFX_MAX_STRIDE;
        CHECK_STATUS(hfx_frame_validate(&c, &f, 0), cases[i].inline_status);
    }
    /* Exactly at the end of a UINT64_MAX-sized range is fine. */
    struct hfx_frame f = nv12_frame(HFX_SOURCE_SHM, 0);
    f.planes[1].offset = UINT64_MAX - 1536;
    CHECK_STATUS(hfx_frame_validate(&c, &f, UINT64_MAX), HFX_OK);
}

static void test_frame_validate_planes(void)
{
    struct hfx_configure c = good_config();
    struct hfx_frame f = nv12_frame(HFX_SOURCE_INLINE, 1u << 20);

    f.plane_count = 1;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    f.plane_count = 3;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    f.plane_count = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    /* I420: three planes of 64x48, 32x24, 32x24. */
    c.fourcc = HFX_FORMAT_I420;
    f = (struct hfx_frame){.source = HFX_SOURCE_INLINE,
                           .plane_count = 3,
                           .planes = {{0, 64}, {3072, 32}, {3840, 32}},
                           .data_len = 4608};
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
    f.planes[2].stride = 31;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_STRIDE);
    f.planes[2].stride = 32;
    f.data_len--;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_TRUNCATED);
    f.plane_count = 2;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    /* Bad source, bad config, NULL. */
    f.plane_count = 3;
    f.source = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    f.source = 9;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_MALFORMED);
    f.source = HFX_SOURCE_SCANOUT;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_OK);
    c.fourcc = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_FORMAT);
    c = good_config();
    c.height = 0;
    CHECK_STATUS(hfx_frame_validate(&c, &f, 0), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_frame_validate(NULL, &f, 0), HFX_E_INVALID);
    CHECK_STATUS(hfx_frame_validate(&c, NULL, 0), HFX_E_INVALID);
}

/* ---- error details (§8) -------------------------------------------------- */

static void expect_detail(enum hfx_status got, const struct hfx_wire_error *err,
                          enum hfx_status want, uint16_t type, const char *field, size_t offset,
                          long long value, long long limit, const char *text)
{
    CHECK_STATUS(got, want);
    CHECK_EQ_INT(err->type, type);
    check_wire_error(err, got, field, offset, value, limit, text);
}

/* good_config() with one change (a statement on c_), then what
 * hfx_configure_validate_ex must say. */
#define EXPECT_CONFIG_DETAIL(change, want, field, offset, value, limit, text)                     \
    do {                                                                                          \
        struct hfx_configure c_ = good_config();                                                  \
        struct hfx_wire_error e_;                                                                 \
        change;                                                                                   \
        expect_detail(hfx_configure_validate_ex(&c_, &e_), &e_, want, HFX_MSG_CONFIGURE, field,   \
                      offset, value, limit, text);                                                \
        CHECK_STATUS(hfx_configure_validate(&c_), want);                                          \
    } while (0)

/* Offsets are those of the fields in the CONFIGURE message (§5.1 + 16). */
static void test_configure_validate_detail(void)
{
    struct hfx_configure c = good_config();
    struct hfx_wire_error err;

    memset(&err, 0xa5, sizeof(err));
    CHECK_STATUS(hfx_configure_validate_ex(&c, &err), HFX_OK);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
    CHECK_STATUS(hfx_configure_validate_ex(&c, NULL), HFX_OK);
    CHECK_STATUS(hfx_configure_validate_ex(NULL, &err), HFX_E_INVALID);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);

    EXPECT_CONFIG_DETAIL(c_.codec = 4, HFX_E_BAD_FORMAT, "codec", 16, 4, 3,
                         "CONFIGURE: codec 4 at offset 16 over 3");
    EXPECT_CONFIG_DETAIL(c_.fourcc = HFX_FOURCC('Y', 'U', 'Y', '2'), HFX_E_BAD_FORMAT, "fourcc",
                         28, 0x32595559, NO_VALUE,
                         "CONFIGURE: fourcc 0x32595559 at offset 28, unknown");
    /* dimensions: odd, zero, over the maximum */
    EXPECT_CONFIG_DETAIL(c_.width = 3, HFX_E_BAD_DIMENSIONS, "width", 20, 3, NO_VALUE,
                         "CONFIGURE: width 3 at offset 20, odd");
    EXPECT_CONFIG_DETAIL(c_.width = 0, HFX_E_BAD_DIMENSIONS, "width", 20, 0, 2,
                         "CONFIGURE: width 0 at offset 20 under 2");
    EXPECT_CONFIG_DETAIL(c_.height = 8194, HFX_E_BAD_DIMENSIONS, "height", 24, 8194, 8192,
                         "CONFIGURE: height 8194 at offset 24 over 8192");
    EXPECT_CONFIG_DETAIL(c_.fps_den = 0, HFX_E_MALFORMED, "fps_den", 36, 0, NO_VALUE,
                         "CONFIGURE: fps_den 0 at offset 36, must not be 0");
    EXPECT_CONFIG_DETAIL(c_.fps_num = 0x80000000u, HFX_E_MALFORMED, "fps_num", 32, 0x80000000u,
                         0x7fffffffu, "CONFIGURE: fps_num 2147483648 at offset 32 over 2147483647");
    EXPECT_CONFIG_DETAIL(c_.rate_control = 3, HFX_E_MALFORMED, "rate_control", 44, 3, 2,
                         "CONFIGURE: rate_control 3 at offset 44 over 2");
    EXPECT_CONFIG_DETAIL(c_.quality = 52, HFX_E_MALFORMED, "quality", 47, 52, 51,
                         "CONFIGURE: quality 52 at offset 47 over 51");
    EXPECT_CONFIG_DETAIL(c_.bitrate_kbps = 0, HFX_E_MALFORMED, "bitrate_kbps", 40, 0, 1,
                         "CONFIGURE: bitrate_kbps 0 at offset 40 under 1");
    EXPECT_CONFIG_DETAIL(memset(c_.encoder, 'x', sizeof(c_.encoder)), HFX_E_MALFORMED, "name_len",
                         56, 32, 31, "CONFIGURE: name_len 32 at offset 56 over 31");
    /* The first failing check is the one named. */
    EXPECT_CONFIG_DETAIL((c_.width = 3, c_.height = 0, c_.fps_num = 0), HFX_E_BAD_DIMENSIONS,
                         "width", 20, 3, NO_VALUE, "CONFIGURE: width 3 at offset 20, odd");
}

/* f against good_config() (64x48 NV12), then what
 * hfx_frame_validate_ex must say. */
#define EXPECT_FRAME_DETAIL(f, region, want, field, offset, value, limit, text)                   \
    do {                                                                                          \
        struct hfx_configure c_ = good_config();                                                  \
        struct hfx_wire_error e_;                                                                 \
        expect_detail(hfx_frame_validate_ex(&c_, &(f), region, &e_), &e_, want, HFX_MSG_FRAME,    \
                      field, offset, value, limit, text);                                         \
        CHECK_STATUS(hfx_frame_validate(&c_, &(f), region), want);                                \
    } while (0)

/* Plane i's descriptor is at 48 + 16i in the FRAME message, its stride at
 * 56 + 16i (§5.3 + 16). */
static void test_frame_validate_detail(void)
{
    struct hfx_configure c = good_config();
    struct hfx_frame f = nv12_frame(HFX_SOURCE_INLINE, 4608);
    struct hfx_wire_error err;

    memset(&err, 0xa5, sizeof(err));
    CHECK_STATUS(hfx_frame_validate_ex(&c, &f, 0, &err), HFX_OK);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
    CHECK_STATUS(hfx_frame_validate_ex(&c, &f, 0, NULL), HFX_OK);

    /* stride too small, too large */
    f.planes[1].stride = 63;
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_BAD_STRIDE, "planes[1].stride", 72, 63, 64,
                        "FRAME: planes[1].stride 63 at offset 72 under 64");
    f = nv12_frame(HFX_SOURCE_INLINE, 4608);
    f.planes[0].stride = HFX_MAX_STRIDE + 1;
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_BAD_STRIDE, "planes[0].stride", 56, HFX_MAX_STRIDE + 1,
                        HFX_MAX_STRIDE,
                        "FRAME: planes[0].stride 1048577 at offset 56 over 1048576");
    /* plane past the data, past the region, and an end past 2^64 */
    f = nv12_frame(HFX_SOURCE_INLINE, 4607);
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_TRUNCATED, "planes[1]", 64, 4608, 4607,
                        "FRAME: planes[1] at offset 64 ends at 4608, past 4607");
    f = nv12_frame(HFX_SOURCE_SHM, 0);
    EXPECT_FRAME_DETAIL(f, 4000, HFX_E_SHM_RANGE, "planes[1]", 64, 4608, 4000,
                        "FRAME: planes[1] at offset 64 ends at 4608, past 4000");
    f.planes[0].offset = UINT64_MAX - 100;
    EXPECT_FRAME_DETAIL(f, UINT64_MAX - 50, HFX_E_SHM_RANGE, "planes[0]", 48,
                        (long long)UINT64_MAX, (long long)(UINT64_MAX - 50),
                        "FRAME: planes[0] at offset 48 ends at 18446744073709551615, "
                        "past 18446744073709551565");
    /* plane count against the format, source */
    f = nv12_frame(HFX_SOURCE_INLINE, 4608);
    f.plane_count = 1;
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_MALFORMED, "plane_count", 41, 1, 2,
                        "FRAME: plane_count 1 at offset 41, not 2");
    f.source = HFX_SOURCE_SCANOUT;
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_MALFORMED, "plane_count", 41, 1, 2,
                        "FRAME: plane_count 1 at offset 41, not 2");
    f.source = 9;
    EXPECT_FRAME_DETAIL(f, 0, HFX_E_MALFORMED, "source", 40, 9, 4,
                        "FRAME: source 9 at offset 40 over 4");

    /* An unusable configuration is named as the CONFIGURE's field. */
    f = nv12_frame(HFX_SOURCE_INLINE, 4608);
    c.fourcc = 0;
    CHECK_STATUS(hfx_frame_validate_ex(&c, &f, 0, &err), HFX_E_BAD_FORMAT);
    expect_detail(HFX_E_BAD_FORMAT, &err, HFX_E_BAD_FORMAT, HFX_MSG_CONFIGURE, "fourcc", 28, 0,
                  NO_VALUE, "CONFIGURE: fourcc 0x0000 at offset 28, unknown");
    c = good_config();
    c.height = 0;
    CHECK_STATUS(hfx_frame_validate_ex(&c, &f, 0, &err), HFX_E_BAD_DIMENSIONS);
    expect_detail(HFX_E_BAD_DIMENSIONS, &err, HFX_E_BAD_DIMENSIONS, HFX_MSG_CONFIGURE, "height",
                  24, 0, NO_VALUE, "CONFIGURE: height 0 at offset 24, must not be 0");
    c = good_config();
    c.fourcc = HFX_FORMAT_BGRX;
    c.width = 1u << 30; /* rows over 32 bits */
    f.plane_count = 1;
    CHECK_STATUS(hfx_frame_validate_ex(&c, &f, 0, &err), HFX_E_BAD_DIMENSIONS);
    expect_detail(HFX_E_BAD_DIMENSIONS, &err, HFX_E_BAD_DIMENSIONS, HFX_MSG_CONFIGURE, "width", 20,
                  1u << 30, 8192, "CONFIGURE: width 1073741824 at offset 20 over 8192");
    CHECK_STATUS(hfx_frame_validate_ex(NULL, &f, 0, &err), HFX_E_INVALID);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_plane_sizes),
        CHECK_CASE(test_planes_and_names),
        CHECK_CASE(test_configure_validate),
        CHECK_CASE(test_frame_validate_inline),
        CHECK_CASE(test_frame_validate_stride),
        CHECK_CASE(test_frame_validate_shm),
        CHECK_CASE(test_frame_validate_overflow),
        CHECK_CASE(test_frame_validate_planes),
        CHECK_CASE(test_configure_validate_detail),
        CHECK_CASE(test_frame_validate_detail),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
