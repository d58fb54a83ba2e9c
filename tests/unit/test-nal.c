/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "hfx/h264.h"
#include "hfx/protocol.h"
#include "util/annexb.h"
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

/* lib/util/annexb.c, the scanning under hfx/h264.h that libhfx-host's
 * encoders use for H.264 and HEVC. */

/* HEVC (2-byte NAL headers, type in bits 1..6 of the first): VPS (32), SPS
 * (33), PPS (34), prefix SEI (39), IDR_W_RADL (19). Headers at 4, 13, 22,
 * 30, 38. */
static const uint8_t hevc_idr[] = {
    0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0xff,
    0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60,
    0, 0, 0, 1, 0x44, 0x01, 0xc1, 0x72,
    0, 0, 0, 1, 0x4e, 0x01, 0x05, 0xff,
    0, 0, 0, 1, 0x26, 0x01, 0xaf, 0x10,
};

/* What libx264 gives as extradata: SPS, PPS, then an SEI with its version
 * string (user data unregistered), which is not a header. */
static const uint8_t x264_extradata[] = {
    0, 0, 0, 1, 0x67, 66, 0xc0, 30, 0xda,
    0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
    0, 0, 1, 0x06, 0x05, 0x03, 'x', '2', '6', 0x80,
};

static void test_annexb_foreach(void)
{
    static const size_t lens[] = {5, 5, 4, 4, 4};
    struct seen s = {0};

    CHECK_EQ_INT(hfx_annexb_foreach(hevc_idr, sizeof(hevc_idr), record, &s), 5);
    for (size_t i = 0; i < COUNT(lens); i++)
        CHECK_EQ_INT(s.len[i], lens[i]);
    CHECK_EQ_INT(hfx_annexb_foreach(x264_extradata, sizeof(x264_extradata), NULL, NULL), 3);
    CHECK_EQ_INT(hfx_annexb_foreach(NULL, 5, record, NULL), 0);
    /* Trailing zeros are not payload; a start code at the very end is no
     * NAL unit. */
    static const uint8_t tail[] = {0, 0, 1, 0x41, 7, 0, 0, 0, 0, 0, 1};
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(hfx_annexb_foreach(tail, sizeof(tail), record, &s), 1);
    CHECK_EQ_INT(s.len[0], 2);
}

static void test_annexb_scan_h264(void)
{
    struct hfx_annexb_au au;

    hfx_annexb_scan(HFX_CODEC_H264, au_idr, sizeof(au_idr), &au);
    CHECK(au.key);
    CHECK(au.parameter_sets);
    hfx_annexb_scan(HFX_CODEC_H264, x264_extradata, sizeof(x264_extradata), &au);
    CHECK(!au.key);
    CHECK(au.parameter_sets);
    /* Every truncation: the IDR counts from its header byte (at 21), the
     * parameter sets once the PPS header (at 13) is in. */
    for (size_t n = 0; n <= sizeof(au_idr); n++) {
        hfx_annexb_scan(HFX_CODEC_H264, au_idr, n, &au);
        CHECK_EQ_INT(au.key, n >= 22);
        CHECK_EQ_INT(au.parameter_sets, n >= 14);
    }
    /* A non-IDR slice (1) is no keyframe; an SPS alone is not enough. */
    static const uint8_t p_slice[] = {0, 0, 1, 0x67, 1, 0, 0, 1, 0x41, 0x9a};
    hfx_annexb_scan(HFX_CODEC_H264, p_slice, sizeof(p_slice), &au);
    CHECK(!au.key);
    CHECK(!au.parameter_sets);
    hfx_annexb_scan(HFX_CODEC_H264, NULL, 0, &au);
    CHECK(!au.key && !au.parameter_sets);
}

static void test_annexb_scan_hevc(void)
{
    struct hfx_annexb_au au;

    hfx_annexb_scan(HFX_CODEC_HEVC, hevc_idr, sizeof(hevc_idr), &au);
    CHECK(au.key);
    CHECK(au.parameter_sets);
    /* Every truncation: the IDR needs its whole 2-byte header (38, 39);
     * the parameter sets count once the PPS header (at 22) is in. */
    for (size_t n = 0; n <= sizeof(hevc_idr); n++) {
        hfx_annexb_scan(HFX_CODEC_HEVC, hevc_idr, n, &au);
        CHECK_EQ_INT(au.key, n >= 40);
        CHECK_EQ_INT(au.parameter_sets, n >= 23);
    }
    /* No VPS: SPS and PPS are not all of HEVC's parameter sets. */
    hfx_annexb_scan(HFX_CODEC_HEVC, hevc_idr + 9, sizeof(hevc_idr) - 9, &au);
    CHECK(au.key);
    CHECK(!au.parameter_sets);
    /* IRAP is 16..21: BLA_W_LP and CRA are keyframes; RASL_R (15) and the
     * reserved IRAP 22 are not, nor is a trailing picture (1). */
    static const struct {
        uint8_t type;
        bool key;
    } types[] = {{1, false}, {15, false}, {16, true}, {19, true}, {21, true}, {22, false}};
    for (size_t i = 0; i < COUNT(types); i++) {
        const uint8_t au_one[] = {0, 0, 1, (uint8_t)(types[i].type << 1), 0x01, 0xaf};
        hfx_annexb_scan(HFX_CODEC_HEVC, au_one, sizeof(au_one), &au);
        if (au.key != types[i].key)
            check_fail(__FILE__, __LINE__, "HEVC keyframe type",
                       types[i].key ? "missed" : "taken");
    }
    /* The codec decides how a header reads: H.264's IDR header is HEVC type
     * 50, HEVC's IDR header H.264 type 6. */
    hfx_annexb_scan(HFX_CODEC_HEVC, au_idr, sizeof(au_idr), &au);
    CHECK(!au.key && !au.parameter_sets);
    hfx_annexb_scan(HFX_CODEC_H264, hevc_idr, sizeof(hevc_idr), &au);
    CHECK(!au.key && !au.parameter_sets);
}

static void test_annexb_scan_other_codecs(void)
{
    static const uint32_t codecs[] = {0, HFX_CODEC_AV1, 99};
    struct hfx_annexb_au au = {true, true};

    for (size_t i = 0; i < COUNT(codecs); i++) {
        hfx_annexb_scan(codecs[i], au_idr, sizeof(au_idr), &au);
        CHECK(!au.key && !au.parameter_sets);
    }
}

static void test_annexb_parameter_sets_h264(void)
{
    /* SPS and PPS behind 4-byte start codes; the SEI is left out. */
    static const uint8_t want[] = {
        0, 0, 0, 1, 0x67, 66, 0xc0, 30, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80,
    };
    uint8_t out[64];
    size_t n = 99;

    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, x264_extradata,
                                           sizeof(x264_extradata), out, sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, sizeof(want));
    CHECK(memcmp(out, want, n) == 0);
    /* From an IDR access unit: the PPS's 3-byte start code becomes 4 bytes,
     * the slice is left out. */
    static const uint8_t from_au[] = {
        0, 0, 0, 1, 0x67, 100, 0, 31, 0xac, 0xd9, 0, 0, 0, 1, 0x68, 0xeb, 0xe3, 0xcb,
    };
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, au_idr, sizeof(au_idr), out,
                                           sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, sizeof(from_au));
    CHECK(memcmp(out, from_au, n) == 0);
    /* Stream order is kept: a PPS before its SPS stays before it. */
    static const uint8_t pps_first[] = {0, 0, 1, 0x68, 0xee, 0, 0, 1, 0x67, 0x42};
    static const uint8_t pps_first_out[] = {0, 0, 0, 1, 0x68, 0xee, 0, 0, 0, 1, 0x67, 0x42};
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, pps_first, sizeof(pps_first), out,
                                           sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, sizeof(pps_first_out));
    CHECK(memcmp(out, pps_first_out, n) == 0);
    /* None there: HFX_OK, nothing written, and out may then be NULL. */
    static const uint8_t slice[] = {0, 0, 1, 0x41, 0x9a};
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, slice, sizeof(slice), NULL, 0, &n),
                 HFX_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, NULL, 0, out, sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, 0);
}

static void test_annexb_parameter_sets_hevc(void)
{
    static const uint8_t want[] = {
        0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0xff,
        0, 0, 0, 1, 0x42, 0x01, 0x01, 0x01, 0x60,
        0, 0, 0, 1, 0x44, 0x01, 0xc1, 0x72,
    };
    uint8_t out[64];
    size_t n = 99;

    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_HEVC, hevc_idr, sizeof(hevc_idr), out,
                                           sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, sizeof(want));
    CHECK(memcmp(out, want, n) == 0);
    /* Read as H.264, HEVC's headers are no parameter sets. */
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, hevc_idr, sizeof(hevc_idr), out,
                                           sizeof(out), &n),
                 HFX_OK);
    CHECK_EQ_INT(n, 0);
}

static void test_annexb_parameter_sets_truncated(void)
{
    uint8_t out[64];
    size_t n;

    /* A truncated input gives what it holds: at 7 bytes the VPS's first
     * three; at 18 the VPS and the SPS whole; from 26 on (the SEI) all
     * three. Every length stays in bounds (ASan watches) and what comes
     * out holds parameter sets only. */
    static const size_t want_len[] = {[7] = 7, [9] = 9, [18] = 18, [26] = 26};
    for (size_t len = 0; len <= sizeof(hevc_idr); len++) {
        CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_HEVC, hevc_idr, len, out, sizeof(out),
                                               &n),
                     HFX_OK);
        if (len < COUNT(want_len) && want_len[len])
            CHECK_EQ_INT(n, want_len[len]);
        if (len >= 26)
            CHECK_EQ_INT(n, 26);
        CHECK(n <= len + 3);
        CHECK(memcmp(out, hevc_idr, n) == 0); /* the sets lead hevc_idr */
        size_t again = 0;
        CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_HEVC, out, n, out + 32, 32, &again),
                     HFX_OK);
        CHECK_EQ_INT(again, n);
    }
}

static void test_annexb_parameter_sets_cap(void)
{
    /* x264_extradata's SPS and PPS take 9 + 8 bytes: 17 fit exactly; one
     * less, room for the SPS alone, or no buffer at all is
     * HFX_E_TOO_LARGE with nothing written. */
    static const struct {
        size_t cap;
        bool no_buffer;
        enum hfx_status want;
        size_t want_n;
    } cases[] = {
        {17, false, HFX_OK, 17},         {64, false, HFX_OK, 17},
        {16, false, HFX_E_TOO_LARGE, 0}, {9, false, HFX_E_TOO_LARGE, 0},
        {0, false, HFX_E_TOO_LARGE, 0},  {64, true, HFX_E_TOO_LARGE, 0},
    };
    uint8_t out[64];

    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t n = 99;
        CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, x264_extradata,
                                               sizeof(x264_extradata),
                                               cases[i].no_buffer ? NULL : out, cases[i].cap, &n),
                     cases[i].want);
        CHECK_EQ_INT(n, cases[i].want_n);
    }
    /* written may be NULL. */
    CHECK_STATUS(hfx_annexb_parameter_sets(HFX_CODEC_H264, x264_extradata,
                                           sizeof(x264_extradata), out, sizeof(out), NULL),
                 HFX_OK);
}

static void test_annexb_parameter_sets_other_codecs(void)
{
    static const uint32_t codecs[] = {0, HFX_CODEC_AV1, 99};
    uint8_t out[64];

    for (size_t i = 0; i < COUNT(codecs); i++) {
        size_t n = 99;
        CHECK_STATUS(hfx_annexb_parameter_sets(codecs[i], au_idr, sizeof(au_idr), out,
                                               sizeof(out), &n),
                     HFX_E_INVALID);
        CHECK_EQ_INT(n, 0);
    }
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
        CHECK_CASE(test_annexb_foreach),
        CHECK_CASE(test_annexb_scan_h264),
        CHECK_CASE(test_annexb_scan_hevc),
        CHECK_CASE(test_annexb_scan_other_codecs),
        CHECK_CASE(test_annexb_parameter_sets_h264),
        CHECK_CASE(test_annexb_parameter_sets_hevc),
        CHECK_CASE(test_annexb_parameter_sets_truncated),
        CHECK_CASE(test_annexb_parameter_sets_cap),
        CHECK_CASE(test_annexb_parameter_sets_other_codecs),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
