/* SPDX-License-Identifier: MIT */
/*
 * lib/util/bits.c and lib/util/h264-sps.c: exp-Golomb and emulation
 * prevention both ways; real SPSs of x264 and OpenH264 (sps-samples.h,
 * several profiles, cropping, interlace, scaling matrices, HRD) read and
 * written back bit for bit; the restriction added where it is missing and
 * nothing else changed; access units rewritten around it; cut and
 * corrupted SPSs refused.
 */
#include <string.h>

#include "check.h"
#include "sps-samples.h"
#include "util/bits.h"
#include "util/h264-sps.h"

#define N_SAMPLES (sizeof(sps_samples) / sizeof(sps_samples[0]))

static void test_exp_golomb(void)
{
    static const uint32_t values[] = {0, 1, 2, 3, 7, 8, 254, 255, 65535, 1u << 20, 0xfffffffeu};
    static const int32_t signed_values[] = {0, 1, -1, 2, -2, 127, -128, 2147483647, -2147483647};
    uint8_t buf[64];
    struct hfx_bitwriter bw;
    struct hfx_bitreader br;

    hfx_bw_init(&bw, buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        hfx_bw_ue(&bw, values[i]);
    for (size_t i = 0; i < sizeof(signed_values) / sizeof(signed_values[0]); i++)
        hfx_bw_se(&bw, signed_values[i]);
    hfx_bw_u(&bw, 5, 0x15);
    CHECK(!bw.failed);
    hfx_br_init(&br, buf, (bw.pos + 7) / 8);
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        CHECK(hfx_br_ue(&br) == values[i]);
    for (size_t i = 0; i < sizeof(signed_values) / sizeof(signed_values[0]); i++)
        CHECK(hfx_br_se(&br) == signed_values[i]);
    CHECK(hfx_br_u(&br, 5) == 0x15 && !br.failed);

    /* H.264 Table 9-2: 0 is "1", 1 "010", 2 "011", 3 "00100". */
    hfx_bw_init(&bw, buf, sizeof(buf));
    for (uint32_t v = 0; v < 4; v++)
        hfx_bw_ue(&bw, v);
    CHECK(bw.pos == 12 && buf[0] == 0xa6 && (buf[1] & 0xf0) == 0x40);

    /* 32 leading zeros are more than a 32-bit value has: refused. */
    memset(buf, 0, sizeof(buf));
    buf[4] = 0x80;
    hfx_br_init(&br, buf, 8);
    hfx_br_ue(&br);
    CHECK(br.failed);
    /* Past the end: 0 and failed, sticky. */
    hfx_br_init(&br, buf, 1);
    CHECK(hfx_br_u(&br, 9) == 0 && br.failed && hfx_br_u(&br, 1) == 0);
    hfx_bw_init(&bw, buf, 1);
    hfx_bw_u(&bw, 9, 0);
    CHECK(bw.failed);
}

static void test_emulation_prevention(void)
{
    static const uint8_t rbsp[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02,
                                   0x00, 0x00, 0x03, 0x00, 0x00, 0x04, 0x00, 0x00};
    static const uint8_t nal[] = {0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x01,
                                  0x00, 0x00, 0x03, 0x02, 0x00, 0x00, 0x03, 0x03,
                                  0x00, 0x00, 0x04, 0x00, 0x00, 0x03};
    uint8_t out[64], back[64];
    size_t n = hfx_rbsp_to_nal(rbsp, sizeof(rbsp), out, sizeof(out));

    CHECK(n == sizeof(nal) && memcmp(out, nal, n) == 0);
    CHECK(hfx_nal_to_rbsp(out, n, back, sizeof(back)) == sizeof(rbsp));
    CHECK(memcmp(back, rbsp, sizeof(rbsp)) == 0);
    CHECK(hfx_rbsp_to_nal(rbsp, sizeof(rbsp), out, sizeof(nal) - 1) == 0);
}

/* Every sample parses, and writes back to the same bytes. */
static void test_samples_round_trip(void)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sps_sample *s = &sps_samples[i];
        struct hfx_sps sps;
        uint8_t out[HFX_SPS_MAX_NAL];
        size_t n = 0;

        CHECK_STATUS(hfx_sps_parse(s->nal, s->len, &sps), HFX_OK);
        CHECK_STATUS(hfx_sps_write(&sps, out, sizeof(out), &n), HFX_OK);
        if (n != s->len || memcmp(out, s->nal, n) != 0)
            check_fail(__FILE__, __LINE__, "write(parse(sample)) == sample", s->name);
    }
}

/* What the samples say, as the encoders were asked (the settings beside
 * each in sps-samples.h). */
static const struct sps_sample *sample(const char *name)
{
    for (size_t i = 0; i < N_SAMPLES; i++)
        if (strcmp(sps_samples[i].name, name) == 0)
            return &sps_samples[i];
    check_fail(__FILE__, __LINE__, "sample", name);
    return NULL;
}

static struct hfx_sps parsed(const char *name)
{
    const struct sps_sample *s = sample(name);
    struct hfx_sps sps;

    memset(&sps, 0, sizeof(sps));
    CHECK_STATUS(hfx_sps_parse(s->nal, s->len, &sps), HFX_OK);
    return sps;
}

static void test_samples_fields(void)
{
    struct hfx_sps s = parsed("x264_cbaseline_640x360");

    CHECK(s.profile_idc == 66 && s.chroma_format_idc == 1 && s.pic_order_cnt_type == 2);
    CHECK(s.pic_width_in_mbs_minus1 == 39 && s.pic_height_in_map_units_minus1 == 22);
    CHECK(s.frame_cropping_flag && s.frame_crop_bottom_offset == 4); /* 368 -> 360 */
    CHECK(s.vui_parameters_present_flag && s.vui.bitstream_restriction_flag &&
          s.vui.max_num_reorder_frames == 0);
    s = parsed("x264_main_1280x720");
    CHECK(s.profile_idc == 77 && !s.frame_cropping_flag);
    s = parsed("x264_high_1920x1080");
    CHECK(s.profile_idc == 100 && s.pic_height_in_map_units_minus1 == 67 &&
          s.frame_crop_bottom_offset == 4); /* 1088 -> 1080 */
    s = parsed("x264_high_bframes_ref4");
    CHECK(s.profile_idc == 100 && s.max_num_ref_frames == 4 && s.pic_order_cnt_type == 0);
    CHECK(s.vui.bitstream_restriction_flag && s.vui.max_num_reorder_frames == 2);
    s = parsed("x264_main_interlaced");
    CHECK(!s.frame_mbs_only_flag && s.pic_height_in_map_units_minus1 == 17); /* 18 pairs */
    s = parsed("x264_high444_642x362");
    CHECK(s.profile_idc == 244 && s.chroma_format_idc == 3 && s.frame_cropping_flag);
    s = parsed("x264_high422");
    CHECK(s.profile_idc == 122 && s.chroma_format_idc == 2);
    s = parsed("x264_hrd_bt709");
    CHECK(s.vui.timing_info_present_flag && s.vui.colour_primaries == 1 &&
          s.vui.nal_hrd_parameters_present_flag && s.vui.low_delay_hrd_flag == 0);
    s = parsed("openh264_640x480");
    CHECK(s.vui_parameters_present_flag && !s.vui.timing_info_present_flag &&
          s.vui.bitstream_restriction_flag && s.pic_order_cnt_type == 0);
}

/* Scaling lists (7.3.2.1.1.1), which none of the encoders here puts in an
 * SPS (x264 sends its matrices in the PPS): a list of 16 deltas, one that
 * ends early (a next scale of 0: the rest repeat the last), 4:4:4's twelve
 * lists; each read back as written, the same number of deltas. */
static void test_scaling_lists(void)
{
    struct hfx_sps s = parsed("x264_high444_642x362"), back;
    uint8_t nal[HFX_SPS_MAX_NAL], again[HFX_SPS_MAX_NAL];
    size_t n = 0, m = 0;

    s.seq_scaling_matrix_present_flag = 1;
    s.seq_scaling_list_present_flag[0] = 1;
    s.scaling_deltas[0] = 16;
    for (int j = 0; j < 16; j++)
        s.delta_scale[0][j] = j % 2 ? 3 : -2;
    /* 8 + (-8) = 0 at once: the list stops after one delta. */
    s.seq_scaling_list_present_flag[6] = 1;
    s.scaling_deltas[6] = 1;
    s.delta_scale[6][0] = -8;
    s.seq_scaling_list_present_flag[11] = 1;
    s.scaling_deltas[11] = 64;
    for (int j = 0; j < 64; j++)
        s.delta_scale[11][j] = j == 0 ? 8 : (j % 3) - 1;
    CHECK_STATUS(hfx_sps_write(&s, nal, sizeof(nal), &n), HFX_OK);
    CHECK_STATUS(hfx_sps_parse(nal, n, &back), HFX_OK);
    CHECK(back.seq_scaling_matrix_present_flag && back.scaling_deltas[0] == 16 &&
          back.scaling_deltas[6] == 1 && back.scaling_deltas[11] == 64);
    CHECK(memcmp(back.delta_scale[0], s.delta_scale[0], 16 * sizeof(int32_t)) == 0);
    CHECK(back.delta_scale[6][0] == -8 && back.delta_scale[11][63] == s.delta_scale[11][63]);
    CHECK(back.pic_width_in_mbs_minus1 == s.pic_width_in_mbs_minus1 &&
          back.vui.bitstream_restriction_flag == s.vui.bitstream_restriction_flag);
    CHECK_STATUS(hfx_sps_write(&back, again, sizeof(again), &m), HFX_OK);
    CHECK(m == n && memcmp(again, nal, n) == 0);
    /* A delta outside -128..127 is not H.264's: refused both ways. */
    s.delta_scale[0][3] = 200;
    CHECK_STATUS(hfx_sps_write(&s, nal, sizeof(nal), &n), HFX_E_INVALID);
}

/* Without a restriction (the sample's taken out where it had one), adding
 * it changes the restriction alone: every other field as read. */
static void test_add_restriction(void)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sps_sample *s = &sps_samples[i];
        struct hfx_sps orig, stripped, again, fixed;
        uint8_t nal[HFX_SPS_MAX_NAL], out[HFX_SPS_MAX_NAL];
        size_t n = 0, m = 0;

        CHECK_STATUS(hfx_sps_parse(s->nal, s->len, &orig), HFX_OK);
        CHECK(!orig.vui.bitstream_restriction_flag || !hfx_sps_add_restriction(&orig));
        /* Odd samples lose their whole VUI, as VideoToolbox writes none;
         * even ones only the restriction. */
        stripped = orig;
        stripped.vui.bitstream_restriction_flag = 0;
        if (i % 2)
            stripped.vui_parameters_present_flag = 0;
        CHECK_STATUS(hfx_sps_write(&stripped, nal, sizeof(nal), &n), HFX_OK);
        CHECK_STATUS(hfx_sps_parse(nal, n, &again), HFX_OK);
        CHECK(!again.vui.bitstream_restriction_flag);

        CHECK(hfx_sps_add_restriction(&again));
        CHECK_STATUS(hfx_sps_write(&again, out, sizeof(out), &m), HFX_OK);
        CHECK_STATUS(hfx_sps_parse(out, m, &fixed), HFX_OK);
        CHECK(fixed.vui_parameters_present_flag && fixed.vui.bitstream_restriction_flag);
        CHECK(fixed.vui.max_num_reorder_frames == 0);
        CHECK(fixed.vui.max_dec_frame_buffering >= fixed.max_num_ref_frames &&
              fixed.vui.max_dec_frame_buffering >= 1);
        /* The rest as it was: without its restriction (and the VUI it
         * came in, where the sample had none) it writes the stripped
         * SPS's bits. */
        fixed.vui.bitstream_restriction_flag = 0;
        if (!stripped.vui_parameters_present_flag)
            fixed.vui_parameters_present_flag = 0;
        CHECK_STATUS(hfx_sps_write(&fixed, out, sizeof(out), &m), HFX_OK);
        if (m != n || memcmp(out, nal, n) != 0)
            check_fail(__FILE__, __LINE__, "only the restriction changed", s->name);
    }
}

/* An access unit: start codes, zero bytes and other NAL units as they
 * were; the SPS replaced; counts said. */
static void test_access_unit(void)
{
    struct hfx_sps sps = parsed("x264_high_1920x1080");
    uint8_t sps_nal[HFX_SPS_MAX_NAL], au[2048], out[2048 + 64], want[2048 + 64];
    static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
    static const uint8_t slice[] = {0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01, 0xff};
    size_t n = 0, len = 0, w = 0, fixed_len = 0;
    unsigned rewritten = 9, unparsed = 9;
    uint8_t fixed_nal[HFX_SPS_MAX_NAL];

    sps.vui.bitstream_restriction_flag = 0;
    CHECK_STATUS(hfx_sps_write(&sps, sps_nal, sizeof(sps_nal), &n), HFX_OK);
    memcpy(au + len, "\x00\x00\x00\x01", 4), len += 4;
    memcpy(au + len, sps_nal, n), len += n;
    memcpy(au + len, "\x00\x00\x01", 3), len += 3;
    memcpy(au + len, pps, sizeof(pps)), len += sizeof(pps);
    memcpy(au + len, "\x00\x00\x00\x00\x01", 5), len += 5;
    memcpy(au + len, slice, sizeof(slice)), len += sizeof(slice);

    CHECK(hfx_sps_add_restriction(&sps));
    CHECK_STATUS(hfx_sps_write(&sps, fixed_nal, sizeof(fixed_nal), &fixed_len), HFX_OK);
    memcpy(want + w, "\x00\x00\x00\x01", 4), w += 4;
    memcpy(want + w, fixed_nal, fixed_len), w += fixed_len;
    memcpy(want + w, au + 4 + n, len - 4 - n), w += len - 4 - n;

    CHECK_STATUS(hfx_h264_au_edit_sps(au, len, hfx_sps_add_restriction, out, sizeof(out), &n,
                                      &rewritten, &unparsed),
                 HFX_OK);
    CHECK(rewritten == 1 && unparsed == 0);
    CHECK(n == w && memcmp(out, want, w) == 0);
    /* Again: nothing to do, a copy. */
    memcpy(au, out, n);
    len = n;
    CHECK_STATUS(hfx_h264_au_edit_sps(au, len, hfx_sps_add_restriction, out, sizeof(out), &n,
                                      &rewritten, NULL),
                 HFX_OK);
    CHECK(rewritten == 0 && n == len && memcmp(out, au, len) == 0);
    /* Too little room. */
    CHECK_STATUS(hfx_h264_au_edit_sps(want, w - fixed_len + 4, hfx_sps_add_restriction, out, 10,
                                      &n, &rewritten, NULL),
                 HFX_E_TOO_LARGE);
}

/* Every cut of every sample, and every single-bit change of one: refused
 * or parsed, never read past the end (ASan), and an SPS that parses
 * writes back to itself. A cut SPS in an access unit is copied as is. */
static void test_damaged(void)
{
    for (size_t i = 0; i < N_SAMPLES; i++) {
        const struct sps_sample *s = &sps_samples[i];
        struct hfx_sps sps;

        for (size_t cut = 0; cut < s->len; cut++) {
            enum hfx_status st = hfx_sps_parse(s->nal, cut, &sps);
            /* A cut inside the trailing bits' byte alone can still parse. */
            CHECK(st == HFX_E_MALFORMED || (st == HFX_OK && cut >= s->len - 1));
        }
    }
    {
        const struct sps_sample *s = sample("x264_hrd_bt709");
        uint8_t bad[HFX_SPS_MAX_NAL], out[HFX_SPS_MAX_NAL];
        struct hfx_sps sps;

        for (size_t bit = 8; bit < s->len * 8; bit++) {
            size_t n;

            memcpy(bad, s->nal, s->len);
            bad[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
            if (hfx_sps_parse(bad, s->len, &sps) != HFX_OK)
                continue;
            CHECK_STATUS(hfx_sps_write(&sps, out, sizeof(out), &n), HFX_OK);
        }
    }
    {
        const struct sps_sample *s = sample("openh264_640x480");
        uint8_t au[HFX_SPS_MAX_NAL + 8], out[HFX_SPS_MAX_NAL + 8];
        size_t n = 0;
        unsigned rewritten = 9, unparsed = 0;

        memcpy(au, "\x00\x00\x01", 3);
        memcpy(au + 3, s->nal, s->len / 2);
        CHECK_STATUS(hfx_h264_au_edit_sps(au, 3 + s->len / 2, hfx_sps_add_restriction, out,
                                          sizeof(out), &n, &rewritten, &unparsed),
                     HFX_OK);
        CHECK(rewritten == 0 && unparsed == 1 && n == 3 + s->len / 2 && memcmp(out, au, n) == 0);
    }
    {
        struct hfx_sps sps;
        static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
        CHECK_STATUS(hfx_sps_parse(pps, sizeof(pps), &sps), HFX_E_MALFORMED);
    }
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_exp_golomb),         CHECK_CASE(test_emulation_prevention),
        CHECK_CASE(test_samples_round_trip), CHECK_CASE(test_samples_fields),
        CHECK_CASE(test_scaling_lists),      CHECK_CASE(test_add_restriction),
        CHECK_CASE(test_access_unit),        CHECK_CASE(test_damaged),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
