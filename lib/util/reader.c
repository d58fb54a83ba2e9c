/* SPDX-License-Identifier: MIT */
#include "util/reader.h"

#include <string.h>

void rd_init(struct hfx_reader *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->left = buf ? len : 0;
    r->size = r->left;
    r->failed = false;
    r->rsvd_bad = false;
    r->rsvd_at = 0;
    r->rsvd_val = 0;
}

/* The one bounds check every read goes through. Once failed, stay failed:
 * a parser that ignores one short read must not see later fields that came
 * from the wrong offset. */
static const uint8_t *take(struct hfx_reader *r, size_t n)
{
    const uint8_t *p;

    if (r->failed || r->left < n) {
        r->failed = true;
        return NULL;
    }
    p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

/* Little-endian load of n <= 8 bytes, by shifts. */
static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t rd_u8(struct hfx_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t rd_u16(struct hfx_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)load_le(p, 2) : 0;
}

uint16_t rd_u16be(struct hfx_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

uint32_t rd_u32(struct hfx_reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (uint32_t)load_le(p, 4) : 0;
}

uint64_t rd_u64(struct hfx_reader *r)
{
    const uint8_t *p = take(r, 8);
    return p ? load_le(p, 8) : 0;
}

int64_t rd_i64(struct hfx_reader *r)
{
    uint64_t v = rd_u64(r);

    /* Two's complement on the wire; converting an out-of-range u64 to
     * int64_t directly is implementation-defined, so map it by hand. */
    if (v <= (uint64_t)INT64_MAX)
        return (int64_t)v;
    return (int64_t)(v - (uint64_t)INT64_MAX - 1u) + INT64_MIN;
}

bool rd_bytes(struct hfx_reader *r, const uint8_t **out, size_t n)
{
    const uint8_t *p = take(r, n);

    *out = (p && n) ? p : NULL;
    return p != NULL;
}

bool rd_skip_zero(struct hfx_reader *r, size_t n)
{
    size_t at = rd_pos(r);
    const uint8_t *p = take(r, n);
    bool zero = p != NULL;

    /* Non-zero bytes are still consumed: the fields after them stay at
     * their offsets, so a later short read is still seen as short. */
    for (size_t i = 0; p && i < n; i++)
        zero = zero && p[i] == 0;
    if (p && !zero && !r->rsvd_bad) {
        r->rsvd_bad = true;
        r->rsvd_at = at;
        r->rsvd_val = load_le(p, n < 8 ? n : 8);
    }
    return zero;
}

void wr_init(struct hfx_writer *w, uint8_t *buf, size_t cap)
{
    w->p = buf;
    w->left = buf ? cap : 0;
    w->overflow = false;
}

static uint8_t *room(struct hfx_writer *w, size_t n)
{
    uint8_t *p;

    if (w->overflow || w->left < n) {
        w->overflow = true;
        return NULL;
    }
    p = w->p;
    w->p += n;
    w->left -= n;
    return p;
}

static void store_le(struct hfx_writer *w, uint64_t v, size_t n)
{
    uint8_t *p = room(w, n);

    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void wr_u8(struct hfx_writer *w, uint8_t v)
{
    store_le(w, v, 1);
}

void wr_u16(struct hfx_writer *w, uint16_t v)
{
    store_le(w, v, 2);
}

void wr_u32(struct hfx_writer *w, uint32_t v)
{
    store_le(w, v, 4);
}

void wr_u64(struct hfx_writer *w, uint64_t v)
{
    store_le(w, v, 8);
}

void wr_i64(struct hfx_writer *w, int64_t v)
{
    /* int64_t -> uint64_t is defined (modulo 2^64): two's complement bytes. */
    store_le(w, (uint64_t)v, 8);
}

void wr_bytes(struct hfx_writer *w, const void *src, size_t n)
{
    uint8_t *p = room(w, n);

    if (p && n)
        memcpy(p, src, n);
}

void wr_zero(struct hfx_writer *w, size_t n)
{
    uint8_t *p = room(w, n);

    if (p && n)
        memset(p, 0, n);
}
