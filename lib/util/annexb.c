/* SPDX-License-Identifier: MIT */
/*
 * Annex-B byte streams of H.264 and HEVC (util/annexb.h). NAL unit types
 * are H.264 table 7-1 (a 1-byte header, 5 bits of type) and H.265 table 7-1
 * (a 2-byte header, 6 bits of type after forbidden_zero_bit).
 */
#include "util/annexb.h"

#include <string.h>

#include "hfx/protocol.h"

#define HEVC_IRAP_FIRST 16 /* BLA_W_LP */
#define HEVC_IRAP_LAST 21  /* CRA_NUT; 22 and 23 are reserved */
#define HEVC_VPS 32
#define HEVC_SPS 33
#define HEVC_PPS 34

/* Offset of the next 00 00 01 at or after `from`, or len if there is none. */
static size_t find_start_code(const uint8_t *data, size_t len, size_t from)
{
    for (size_t i = from; len >= 3 && i <= len - 3; i++) {
        if (data[i + 2] > 1) {
            i += 2; /* no start code can begin at i, i+1 or i+2 */
            continue;
        }
        if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)
            return i;
    }
    return len;
}

size_t hfx_annexb_foreach(const uint8_t *data, size_t len,
                          void (*fn)(void *user, const uint8_t *nal, size_t nal_len), void *user)
{
    size_t count = 0;

    if (!data)
        return 0;
    size_t pos = find_start_code(data, len, 0);
    while (pos < len) {
        size_t begin = pos + 3;
        size_t next = find_start_code(data, len, begin);
        size_t end = next;
        /* Zero bytes before a start code are the leading byte of a 4-byte
         * start code or trailing_zero_8bits (B.1.1), not NAL payload. */
        while (end > begin && data[end - 1] == 0)
            end--;
        if (end > begin) {
            if (fn)
                fn(user, data + begin, end - begin);
            count++;
        }
        pos = next;
    }
    return count;
}

static bool known(uint32_t codec)
{
    return codec == HFX_CODEC_H264 || codec == HFX_CODEC_HEVC;
}

/* nal_unit_type of one NAL header (nal_len >= 1, as foreach reports). */
static unsigned nal_type(uint32_t codec, const uint8_t *nal)
{
    return codec == HFX_CODEC_HEVC ? (nal[0] >> 1) & 0x3f : hfx_h264_nal_type(nal);
}

static bool is_parameter_set(uint32_t codec, unsigned type)
{
    if (codec == HFX_CODEC_HEVC)
        return type >= HEVC_VPS && type <= HEVC_PPS;
    return type == HFX_H264_NAL_SPS || type == HFX_H264_NAL_PPS;
}

/* Bit n for each parameter set nal_unit_type n of codec. */
static uint64_t all_parameter_sets(uint32_t codec)
{
    if (codec == HFX_CODEC_HEVC)
        return (1ull << HEVC_VPS) | (1ull << HEVC_SPS) | (1ull << HEVC_PPS);
    return (1ull << HFX_H264_NAL_SPS) | (1ull << HFX_H264_NAL_PPS);
}

struct scan {
    uint32_t codec;
    bool key;
    uint64_t params; /* bit per parameter set type seen */
};

static void scan_nal(void *user, const uint8_t *nal, size_t nal_len)
{
    struct scan *s = user;
    unsigned type = nal_type(s->codec, nal);

    if (s->codec == HFX_CODEC_HEVC) {
        /* An HEVC slice has the whole 2-byte NAL header. */
        if (nal_len >= 2 && type >= HEVC_IRAP_FIRST && type <= HEVC_IRAP_LAST)
            s->key = true;
    } else if (type == HFX_H264_NAL_IDR) {
        s->key = true;
    }
    if (is_parameter_set(s->codec, type))
        s->params |= 1ull << type;
}

void hfx_annexb_scan(uint32_t codec, const uint8_t *data, size_t len, struct hfx_annexb_au *au)
{
    struct scan s = {codec, false, 0};

    au->key = au->parameter_sets = false;
    if (!known(codec))
        return;
    hfx_annexb_foreach(data, len, scan_nal, &s);
    au->key = s.key;
    au->parameter_sets = s.params == all_parameter_sets(codec);
}

struct ps_copy {
    uint32_t codec;
    uint8_t *out;
    size_t len, cap;
    bool overflow;
};

static void copy_parameter_set(void *user, const uint8_t *nal, size_t nal_len)
{
    static const uint8_t start_code[4] = {0, 0, 0, 1};
    struct ps_copy *c = user;

    if (c->overflow || !is_parameter_set(c->codec, nal_type(c->codec, nal)))
        return;
    if ((uint64_t)c->len + sizeof(start_code) + nal_len > c->cap) {
        c->overflow = true;
        return;
    }
    memcpy(c->out + c->len, start_code, sizeof(start_code));
    memcpy(c->out + c->len + sizeof(start_code), nal, nal_len);
    c->len += sizeof(start_code) + nal_len;
}

enum hfx_status hfx_annexb_parameter_sets(uint32_t codec, const uint8_t *data, size_t len,
                                          uint8_t *out, size_t cap, size_t *written)
{
    struct ps_copy c = {codec, out, 0, out ? cap : 0, false};

    if (written)
        *written = 0;
    if (!known(codec))
        return HFX_E_INVALID;
    hfx_annexb_foreach(data, len, copy_parameter_set, &c);
    if (c.overflow)
        return HFX_E_TOO_LARGE;
    if (written)
        *written = c.len;
    return HFX_OK;
}
