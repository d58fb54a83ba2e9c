/* SPDX-License-Identifier: MIT */
/*
 * libhfx's H.264 helpers (hfx/h264.h): Annex-B scanning (ITU-T H.264 Annex
 * B), the SPS's profile and level, and avcC conversion (ISO/IEC 14496-15
 * section 5.3.3.1). The NAL unit scanning itself is the internal toolkit's
 * (util/annexb.h), which libhfx-host's encoders share for H.264 and HEVC.
 * Inputs may come from an untrusted peer or a misbehaving encoder: every
 * read is checked against the end of the buffer first.
 */
#include "hfx/h264.h"

#include <string.h>

#include "hfx/protocol.h"
#include "util/annexb.h"
#include "util/reader.h"

size_t hfx_h264_foreach_nal(const uint8_t *data, size_t len,
                            void (*fn)(void *user, const uint8_t *nal, size_t nal_len), void *user)
{
    return hfx_annexb_foreach(data, len, fn, user);
}

bool hfx_h264_is_idr(const uint8_t *data, size_t len)
{
    struct hfx_annexb_au au;

    hfx_annexb_scan(HFX_CODEC_H264, data, len, &au);
    return au.key;
}

bool hfx_h264_has_parameter_sets(const uint8_t *data, size_t len)
{
    struct hfx_annexb_au au;

    hfx_annexb_scan(HFX_CODEC_H264, data, len, &au);
    return au.parameter_sets;
}

struct sps_find {
    bool found;
    uint8_t rbsp[3]; /* profile_idc, constraint flags, level_idc */
    size_t have;
};

static void find_sps(void *user, const uint8_t *nal, size_t nal_len)
{
    struct sps_find *f = user;
    unsigned zeros = 0;

    if (f->found || hfx_h264_nal_type(nal) != HFX_H264_NAL_SPS)
        return;
    f->found = true;
    /* Undo emulation prevention (7.4.1): 00 00 03 -> 00 00. A hostile SPS
     * can put one inside the first three payload bytes. */
    for (size_t i = 1; i < nal_len && f->have < sizeof(f->rbsp); i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        f->rbsp[f->have++] = nal[i];
    }
}

bool hfx_h264_sps_profile_level(const uint8_t *data, size_t len, uint8_t *profile_idc,
                                uint8_t *level_idc)
{
    struct sps_find f = {0};

    hfx_annexb_foreach(data, len, find_sps, &f);
    if (!f.found || f.have < sizeof(f.rbsp))
        return false;
    if (profile_idc)
        *profile_idc = f.rbsp[0];
    if (level_idc)
        *level_idc = f.rbsp[2];
    return true;
}

/* Copy `count` length-prefixed NAL units of type `type` to out with 4-byte
 * start codes. */
static enum hfx_status copy_sets(struct hfx_reader *r, unsigned count, unsigned type, uint8_t *out,
                                 size_t cap, size_t *pos)
{
    static const uint8_t start_code[4] = {0, 0, 0, 1};

    if (count == 0)
        return HFX_E_MALFORMED;
    for (unsigned i = 0; i < count; i++) {
        uint16_t n = rd_u16be(r);
        const uint8_t *nal;

        if (r->failed || n == 0 || !rd_bytes(r, &nal, n))
            return HFX_E_MALFORMED;
        if (hfx_h264_nal_type(nal) != type)
            return HFX_E_MALFORMED;
        if ((uint64_t)*pos + sizeof(start_code) + n > cap)
            return HFX_E_TOO_LARGE;
        memcpy(out + *pos, start_code, sizeof(start_code));
        memcpy(out + *pos + sizeof(start_code), nal, n);
        *pos += sizeof(start_code) + n;
    }
    return HFX_OK;
}

enum hfx_status hfx_h264_avcc_to_annexb(const uint8_t *avcc, size_t len, uint8_t *out, size_t cap,
                                        size_t *written)
{
    struct hfx_reader r;
    size_t pos = 0;
    enum hfx_status st;

    if (written)
        *written = 0;
    if (!out)
        cap = 0;
    rd_init(&r, avcc, avcc ? len : 0);
    if (rd_u8(&r) != 1) /* configurationVersion */
        return HFX_E_MALFORMED;
    /* Profile, compatibility, level and lengthSizeMinusOne: not needed to
     * rewrite the parameter sets. The reserved bits are not checked because
     * muxers in the wild get them wrong and decoders accept that. */
    for (int i = 0; i < 4; i++)
        (void)rd_u8(&r);
    unsigned sps_count = rd_u8(&r) & 0x1f;
    if (r.failed)
        return HFX_E_MALFORMED;
    st = copy_sets(&r, sps_count, HFX_H264_NAL_SPS, out, cap, &pos);
    if (st != HFX_OK)
        return st;
    unsigned pps_count = rd_u8(&r);
    if (r.failed)
        return HFX_E_MALFORMED;
    st = copy_sets(&r, pps_count, HFX_H264_NAL_PPS, out, cap, &pos);
    if (st != HFX_OK)
        return st;
    /* Bytes after the PPS list are the High-profile extension (chroma format,
     * bit depths, SPS extensions): not parameter sets a decoder needs here. */
    if (written)
        *written = pos;
    return HFX_OK;
}
