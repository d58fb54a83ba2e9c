/* SPDX-License-Identifier: MIT */
/*
 * Internal toolkit (docs/architecture.md, "The internal toolkit"): bit-level
 * reading and writing of H.264 RBSPs (ITU-T H.264 7.2: u(n), ue(v), se(v)),
 * and the emulation prevention bytes between a NAL unit and its RBSP
 * (7.4.1). Reads are bounded like hfx_reader's: a read past the end returns
 * 0 and sets a sticky flag; writes past the capacity set one too.
 */
#ifndef HFX_UTIL_BITS_H
#define HFX_UTIL_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hfx_bitreader {
    const uint8_t *data; /* borrowed */
    size_t len;          /* bytes */
    size_t pos;          /* bits read */
    bool failed;         /* sticky: a read ran past the end, or an ue(v) past 32 bits */
};

void hfx_br_init(struct hfx_bitreader *br, const uint8_t *data, size_t len);
/* n bits, 0..32, most significant first. */
uint32_t hfx_br_u(struct hfx_bitreader *br, unsigned n);
/* Exp-Golomb: ue(v) up to 2^32 - 2, se(v) in -2^31 + 1 .. 2^31 - 1. */
uint32_t hfx_br_ue(struct hfx_bitreader *br);
int32_t hfx_br_se(struct hfx_bitreader *br);
/* Bits left to read. */
size_t hfx_br_left(const struct hfx_bitreader *br);

struct hfx_bitwriter {
    uint8_t *data; /* borrowed */
    size_t cap;    /* bytes */
    size_t pos;    /* bits written */
    bool failed;   /* sticky: past cap */
};

/* The bytes written are zeroed as they are reached: data need not be. */
void hfx_bw_init(struct hfx_bitwriter *bw, uint8_t *data, size_t cap);
void hfx_bw_u(struct hfx_bitwriter *bw, unsigned n, uint32_t value);
void hfx_bw_ue(struct hfx_bitwriter *bw, uint32_t value);
void hfx_bw_se(struct hfx_bitwriter *bw, int32_t value);
/* rbsp_trailing_bits (7.3.2.11): a one, then zeros to the byte boundary.
 * Returns the bytes written. */
size_t hfx_bw_trailing(struct hfx_bitwriter *bw);

/* A NAL unit's payload without its emulation prevention bytes (every 03 of
 * 00 00 03) into rbsp (cap bytes: len is always enough). Returns its
 * length. */
size_t hfx_nal_to_rbsp(const uint8_t *nal, size_t len, uint8_t *rbsp, size_t cap);
/* The reverse: an emulation prevention byte before every 00, 01, 02 or 03
 * that follows two zero bytes, and after two trailing zeros. Returns the
 * length, or 0 when cap is too small (len * 3 / 2 + 1 is always enough). */
size_t hfx_rbsp_to_nal(const uint8_t *rbsp, size_t len, uint8_t *nal, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* HFX_UTIL_BITS_H */
