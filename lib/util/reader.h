/* SPDX-License-Identifier: MIT */
/*
 * Internal toolkit (docs/architecture.md, "The internal toolkit"): a
 * bounded little-endian reader and writer. Every parse of peer
 * bytes goes through hfx_reader (docs/security.md, "Parsing"): each read checks the bytes
 * left first, a failed read does not advance and sets a sticky flag, so a
 * parser can read a whole fixed part and test `failed` once at the end.
 * Values are assembled with explicit shifts: no casts of the buffer to wider
 * types, no packed structs, no host byte order.
 */
#ifndef HFX_UTIL_READER_H
#define HFX_UTIL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hfx_reader {
    const uint8_t *p; /* next unread byte; borrowed from the caller */
    size_t left;      /* bytes from p to the end of the buffer */
    size_t size;      /* bytes in the whole buffer: rd_pos() is size - left */
    bool failed;      /* sticky: a read ran past the end */
    /* The first reserved field that rd_skip_zero found not zero, so that
     * a parser can say which (docs/protocol.md §8) after its fixed part. */
    bool rsvd_bad;
    size_t rsvd_at;    /* its offset from the start of the buffer */
    uint64_t rsvd_val; /* its value, little-endian (first 8 bytes) */
};

void rd_init(struct hfx_reader *r, const uint8_t *buf, size_t len);

/* Offset of the next read; after a failed read, where that read began. */
static inline size_t rd_pos(const struct hfx_reader *r)
{
    return r->size - r->left;
}

/* Each returns 0 (and sets r->failed) when fewer bytes are left than it
 * needs; r is then not advanced. Once failed, every later read fails. */
uint8_t rd_u8(struct hfx_reader *r);
uint16_t rd_u16(struct hfx_reader *r);
uint32_t rd_u32(struct hfx_reader *r);
uint64_t rd_u64(struct hfx_reader *r);
int64_t rd_i64(struct hfx_reader *r);
/* Big-endian, for the formats that are (H.264's avcC record). */
uint16_t rd_u16be(struct hfx_reader *r);

/* Borrow the next n bytes: *out points into the reader's buffer (NULL when
 * n is 0 or the read fails). Returns false on failure. */
bool rd_bytes(struct hfx_reader *r, const uint8_t **out, size_t n);

/* Skip n reserved bytes. Returns true when all n were there and zero.
 * Short input fails as any read does (r->failed set, no advance); non-zero
 * bytes do not set r->failed and are skipped like zero ones, so that the
 * caller can tell "short" (checked first) from "reserved not zero"; the first
 * such field is kept in r->rsvd_bad / rsvd_at / rsvd_val. */
bool rd_skip_zero(struct hfx_reader *r, size_t n);

struct hfx_writer {
    uint8_t *p;    /* next byte to write; borrowed from the caller */
    size_t left;   /* room from p to the end of the buffer */
    bool overflow; /* sticky: a write did not fit and was not done */
};

void wr_init(struct hfx_writer *w, uint8_t *buf, size_t cap);
void wr_u8(struct hfx_writer *w, uint8_t v);
void wr_u16(struct hfx_writer *w, uint16_t v);
void wr_u32(struct hfx_writer *w, uint32_t v);
void wr_u64(struct hfx_writer *w, uint64_t v);
void wr_i64(struct hfx_writer *w, int64_t v);
/* src may be NULL when n is 0. */
void wr_bytes(struct hfx_writer *w, const void *src, size_t n);
void wr_zero(struct hfx_writer *w, size_t n);

#endif /* HFX_UTIL_READER_H */
