/* SPDX-License-Identifier: MIT */
#include "util/bits.h"

void hfx_br_init(struct hfx_bitreader *br, const uint8_t *data, size_t len)
{
    br->data = data;
    br->len = len;
    br->pos = 0;
    br->failed = false;
}

size_t hfx_br_left(const struct hfx_bitreader *br)
{
    return br->failed ? 0 : br->len * 8 - br->pos;
}

uint32_t hfx_br_u(struct hfx_bitreader *br, unsigned n)
{
    uint32_t v = 0;

    if (br->failed || n > 32 || hfx_br_left(br) < n) {
        br->failed = true;
        return 0;
    }
    for (unsigned i = 0; i < n; i++, br->pos++)
        v = (v << 1) | ((br->data[br->pos / 8] >> (7 - br->pos % 8)) & 1u);
    return v;
}

uint32_t hfx_br_ue(struct hfx_bitreader *br)
{
    unsigned zeros = 0;

    while (!br->failed && hfx_br_u(br, 1) == 0) {
        if (++zeros > 31) {
            br->failed = true;
            return 0;
        }
    }
    if (br->failed)
        return 0;
    /* 2^zeros - 1 + the next zeros bits; zeros <= 31 keeps it in 32 bits. */
    return (uint32_t)((1ull << zeros) - 1 + hfx_br_u(br, zeros));
}

int32_t hfx_br_se(struct hfx_bitreader *br)
{
    uint32_t k = hfx_br_ue(br);

    /* 9.1.1: k odd -> (k + 1) / 2, even -> -(k / 2) */
    return k & 1 ? (int32_t)((k >> 1) + 1) : -(int32_t)(k >> 1);
}

void hfx_bw_init(struct hfx_bitwriter *bw, uint8_t *data, size_t cap)
{
    bw->data = data;
    bw->cap = cap;
    bw->pos = 0;
    bw->failed = false;
}

void hfx_bw_u(struct hfx_bitwriter *bw, unsigned n, uint32_t value)
{
    if (bw->failed || n > 32 || bw->cap * 8 - bw->pos < n) {
        bw->failed = true;
        return;
    }
    for (unsigned i = n; i-- > 0; bw->pos++) {
        uint8_t *byte = &bw->data[bw->pos / 8];
        unsigned shift = 7 - bw->pos % 8;

        if (shift == 7)
            *byte = 0;
        *byte |= (uint8_t)(((value >> i) & 1u) << shift);
    }
}

void hfx_bw_ue(struct hfx_bitwriter *bw, uint32_t value)
{
    uint64_t v = (uint64_t)value + 1;
    unsigned bits = 0;

    while ((v >> bits) > 1)
        bits++;
    /* bits zeros, then v in bits + 1 bits (its leading one first). */
    hfx_bw_u(bw, bits, 0);
    hfx_bw_u(bw, 1, 1);
    hfx_bw_u(bw, bits, (uint32_t)(v & ((1ull << bits) - 1)));
}

void hfx_bw_se(struct hfx_bitwriter *bw, int32_t value)
{
    hfx_bw_ue(bw, value > 0 ? 2u * (uint32_t)value - 1 : 2u * (uint32_t)(-(int64_t)value));
}

size_t hfx_bw_trailing(struct hfx_bitwriter *bw)
{
    hfx_bw_u(bw, 1, 1);
    while (!bw->failed && bw->pos % 8)
        hfx_bw_u(bw, 1, 0);
    return bw->failed ? 0 : bw->pos / 8;
}

size_t hfx_nal_to_rbsp(const uint8_t *nal, size_t len, uint8_t *rbsp, size_t cap)
{
    size_t n = 0;
    unsigned zeros = 0;

    for (size_t i = 0; i < len && n < cap; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        rbsp[n++] = nal[i];
    }
    return n;
}

size_t hfx_rbsp_to_nal(const uint8_t *rbsp, size_t len, uint8_t *nal, size_t cap)
{
    size_t n = 0;
    unsigned zeros = 0;

    for (size_t i = 0; i < len; i++) {
        if (zeros >= 2 && rbsp[i] <= 3) {
            if (n >= cap)
                return 0;
            nal[n++] = 3;
            zeros = 0;
        }
        if (n >= cap)
            return 0;
        nal[n++] = rbsp[i];
        zeros = rbsp[i] == 0 ? zeros + 1 : 0;
    }
    /* A NAL unit may not end in a zero byte (7.4.1: cabac_zero_words
     * aside); an RBSP that does gets 03 after it. */
    if (len && rbsp[len - 1] == 0) {
        if (n >= cap)
            return 0;
        nal[n++] = 3;
    }
    return n;
}
