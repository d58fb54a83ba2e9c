/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "hfx/h264.h"
#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct seen {
    size_t n;
    uint8_t type[16];
    size_t len[16];
};

static void record(void *user, const uint8_t *nal, size_t nal_len)
{
    struct seen *s = user;
    if (s->n < COUNT(s->type)) {
        s->type[s->n] = nal[0] & 0x1f;
        s->len[s->n] = nal_len;
    }
    s->n++;
}

/* SPS (High, level 3.1), PPS, IDR slice: 4-byte, 3-byte, 4-byte start codes. */
static const uint8_t au_idr[] = {
    0, 0, 0, 1, 0x67, 100, 0, 31, 0xac, 0xd9,
    0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb,
    0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33,
};

static void test_foreach_start_codes(void)
{
    struct seen s = {0};
    CHECK_EQ_INT(hfx_h264_foreach_nal(au_idr, sizeof(au_idr), record, &s), 3);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.type[0], 7);
    CHECK_EQ_INT(s.len[0], 6);
    CHECK_EQ_INT(s.type[1], 8);
    CHECK_EQ_INT(s.len[1], 4);
    CHECK_EQ_INT(s.type[2], 5);
    CHECK_EQ_INT(s.len[2], 5); /* the 00 inside the slice is payload */
    CHECK(hfx_h264_is_idr(au_idr, sizeof(au_idr)));
    CHECK(hfx_h264_has_parameter_sets(au_idr, sizeof(au_idr)));
}

static void test_foreach_trailing_zeros_and_junk(void)
{
    /* Leading junk, trailing_zero_8bits, an empty NAL between start codes. */
    static const uint8_t buf[] = {
        0xff, 0x12, 0, 0, 1, 0x41, 0x9a, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0x41, 0x9b, 0, 0,
    };
    struct seen s = {0};
    CHECK_EQ_INT(hfx_h264_foreach_nal(buf, sizeof(buf), record, &s), 2);
    CHECK_EQ_INT(s.len[0], 2);
    CHECK_EQ_INT(s.len[1], 2);
    CHECK(!hfx_h264_is_idr(buf, sizeof(buf)));
    CHECK(!hfx_h264_has_parameter_sets(buf, sizeof(buf)));
}

static void test_foreach_empty_and_short(void)
{
    static const uint8_t zeros[8] = {0};
    static const uint8_t sc_only[] = {0, 0, 1};
    static const uint8_t sc_end[] = {0, 0, 0, 1};
    CHECK_EQ_INT(hfx_h264_foreach_nal(NULL, 0, record, NULL), 0);
    CHECK_EQ_INT(hfx_h264_foreach_nal(au_idr, 0, record, NULL), 0);
    CHECK_EQ_INT(hfx_h264_foreach_nal(zeros, sizeof(zeros), record, NULL), 0);
    CHECK_EQ_INT(hfx_h264_foreach_nal(sc_only, sizeof(sc_only), record, NULL), 0);
    CHECK_EQ_INT(hfx_h264_foreach_nal(sc_end, sizeof(sc_end), record, NULL), 0);
    /* Every truncation of a real AU stays in bounds (ASan watches). */
    for (size_t n = 0; n <= sizeof(au_idr); n++)
        (void)hfx_h264_foreach_nal(au_idr, n, NULL, NULL);
    CHECK(!hfx_h264_is_idr(au_idr, 21));
    CHECK(hfx_h264_is_idr(au_idr, 22));
}

static void test_parameter_sets_need_both(void)
{
    CHECK(!hfx_h264_has_parameter_sets(au_idr, 10)); /* SPS only */
    CHECK(hfx_h264_has_parameter_sets(au_idr, 17));
    CHECK(!hfx_h264_has_parameter_sets(au_idr + 10, sizeof(au_idr) - 10)); /* no SPS */
}

static void test_sps_profile_level(void)
{
    uint8_t profile = 0, level = 0;
    CHECK(hfx_h264_sps_profile_level(au_idr, sizeof(au_idr), &profile, &level));
    CHECK_EQ_INT(profile, 100);
    CHECK_EQ_INT(level, 31);
    /* Truncated SPS: 0x67 plus fewer than three bytes. */
    for (size_t n = 4; n < 8; n++)
        CHECK(!hfx_h264_sps_profile_level(au_idr, n, &profile, &level));
    CHECK(hfx_h264_sps_profile_level(au_idr, 8, &profile, &level));
    /* No SPS at all. */
    CHECK(!hfx_h264_sps_profile_level(au_idr + 10, sizeof(au_idr) - 10, &profile, &level));
    /* Emulation prevention inside the first bytes: 00 00 03 0a -> 00 00 0a. */
    static const uint8_t escaped[] = {0, 0, 1, 0x67, 0, 0, 3, 10, 0xff};
    CHECK(hfx_h264_sps_profile_level(escaped, sizeof(escaped), &profile, &level));
    CHECK_EQ_INT(profile, 0);
    CHECK_EQ_INT(level, 10);
    static const uint8_t escaped_short[] = {0, 0, 1, 0x67, 0, 0, 3};
    CHECK(!hfx_h264_sps_profile_level(escaped_short, sizeof(escaped_short), &profile, &level));
}

/* avcC with one SPS (6 bytes) and one PPS (4 bytes). */
static const uint8_t avcc[] = {
    1, 100, 0, 31, 0xff, 0xe1, 0, 6, 0x67, 100, 0, 31, 0xac, 0xd9,
    1, 0, 4, 0x68, 0xeb, 0xe3, 0xcb,
};

static void test_avcc_ok(void)
{
    static const uint8_t want[] = {
        0, 0, 0, 1, 0x67, 100, 0, 31, 0xac, 0xd9, 0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb,
    };
    uint8_t out[64];
    size_t n = 99;
    CHECK_STATUS(hfx_h264_avcc_to_annexb(avcc, sizeof(avcc), out, sizeof(out), &n), HFX_OK);
    CHECK_EQ_INT(n, sizeof(want));
    CHECK(memcmp(out, want, n) == 0);
    /* Trailing High-profile extension bytes are accepted. */
    uint8_t ext[sizeof(avcc) + 4];
    memcpy(ext, avcc, sizeof(avcc));
    memset(ext + sizeof(avcc), 0xfc, 4);
    CHECK_STATUS(hfx_h264_avcc_to_annexb(ext, sizeof(ext), out, sizeof(out), &n), HFX_OK);
    CHECK_EQ_INT(n, sizeof(want));
}

static void test_avcc_every_truncation(void)
{
    uint8_t out[64];
    size_t n = 99;
    for (size_t len = 0; len < sizeof(avcc); len++) {
        CHECK_STATUS(hfx_h264_avcc_to_annexb(avcc, len, out, sizeof(out), &n), HFX_E_MALFORMED);
        CHECK_EQ_INT(n, 0);
    }
    CHECK_STATUS(hfx_h264_avcc_to_annexb(NULL, 0, out, sizeof(out), &n), HFX_E_MALFORMED);
}

/* One lie per field: bytes at `off` replaced by `val` (n of them). */
static void test_avcc_lies(void)
{
    static const struct {
        const char *what;
        size_t off, n;
        uint8_t val[2];
    } lies[] = {
        {"configurationVersion 2", 0, 1, {2}},
        {"3 SPS, 1 present", 5, 1, {0xe3}},
        {"no SPS", 5, 1, {0xe0}},
        {"2 PPS, 1 present", 14, 1, {2}},
        {"no PPS", 14, 1, {0}},
        {"SPS length 0", 6, 2, {0, 0}},
        {"SPS length one past the end", 6, 2, {0, 14}},
        {"SPS length 0xffff", 6, 2, {0xff, 0xff}},
        {"PPS length past the end", 15, 2, {0, 5}},
        {"a PPS in the SPS list", 8, 1, {0x68}},
        {"an SPS in the PPS list", 17, 1, {0x67}},
    };
    uint8_t bad[sizeof(avcc)], out[64];
    size_t n;

    for (size_t i = 0; i < COUNT(lies); i++) {
        memcpy(bad, avcc, sizeof(avcc));
        memcpy(bad + lies[i].off, lies[i].val, lies[i].n);
        if (hfx_h264_avcc_to_annexb(bad, sizeof(bad), out, sizeof(out), &n) != HFX_E_MALFORMED)
            check_fail(__FILE__, __LINE__, "lie accepted", lies[i].what);
    }
}

static void test_avcc_cap(void)
{
    uint8_t out[64];
    size_t n = 99;
    CHECK_STATUS(hfx_h264_avcc_to_annexb(avcc, sizeof(avcc), out, 17, &n), HFX_E_TOO_LARGE);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(hfx_h264_avcc_to_annexb(avcc, sizeof(avcc), out, 18, &n), HFX_OK);
    CHECK_STATUS(hfx_h264_avcc_to_annexb(avcc, sizeof(avcc), NULL, 0, &n), HFX_E_TOO_LARGE);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_foreach_start_codes),
        CHECK_CASE(test_foreach_trailing_zeros_and_junk),
        CHECK_CASE(test_foreach_empty_and_short),
        CHECK_CASE(test_parameter_sets_need_both),
        CHECK_CASE(test_sps_profile_level),
        CHECK_CASE(test_avcc_ok),
        CHECK_CASE(test_avcc_every_truncation),
        CHECK_CASE(test_avcc_lies),
        CHECK_CASE(test_avcc_cap),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
