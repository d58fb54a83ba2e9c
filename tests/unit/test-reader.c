/* SPDX-License-Identifier: MIT */
/* The bounded reader and writer under the codec (lib/util/reader.h). */
#include <stdint.h>
#include <string.h>

#include "hfx/status.h"
#include "util/reader.h"
#include "check.h"

static void test_little_endian(void)
{
    static const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xfe,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct hfx_reader r;

    rd_init(&r, b, sizeof(b));
    CHECK_EQ_INT(rd_u8(&r), 0x01);
    CHECK_EQ_INT(rd_u16(&r), 0x0302);
    CHECK_EQ_INT(rd_u32(&r), 0x07060504);
    CHECK(rd_u64(&r) == 0x0f0e0d0c0b0a0908ull);
    CHECK_EQ_INT(r.left, 8);
    CHECK_EQ_INT(rd_i64(&r), -2);
    CHECK_EQ_INT(r.left, 0);
    CHECK(!r.failed);
}

static void test_i64_extremes(void)
{
    static const uint8_t b[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    struct hfx_reader r;

    rd_init(&r, b, sizeof(b));
    CHECK_EQ_INT(rd_i64(&r), -2);
    CHECK(rd_i64(&r) == INT64_MIN);
    CHECK(rd_i64(&r) == INT64_MAX);
    CHECK(!r.failed);
}

/* A short read fails, does not advance, and every later read fails too. */
static void test_sticky_failure(void)
{
    static const uint8_t b[] = {1, 2, 3};
    const uint8_t *p = b;
    struct hfx_reader r;

    rd_init(&r, b, sizeof(b));
    CHECK_EQ_INT(rd_u32(&r), 0);
    CHECK(r.failed);
    CHECK_EQ_INT(r.left, 3);
    CHECK(r.p == b);
    CHECK_EQ_INT(rd_u8(&r), 0); /* would fit, but the reader has failed */
    CHECK(!rd_bytes(&r, &p, 0));
    CHECK(p == NULL);
    CHECK_EQ_INT(r.left, 3);
}

static void test_bytes_and_reserved(void)
{
    static const uint8_t b[] = {0, 0, 7, 0, 9, 'a', 'b'};
    const uint8_t *p = NULL;
    struct hfx_reader r;

    rd_init(&r, b, sizeof(b));
    CHECK(rd_skip_zero(&r, 2));
    CHECK(!rd_skip_zero(&r, 2)); /* 7, 0: consumed, not failed */
    CHECK(!r.failed);
    CHECK_EQ_INT(r.left, 3);
    CHECK_EQ_INT(rd_u8(&r), 9);
    CHECK(rd_bytes(&r, &p, 2));
    CHECK(p == b + 5);
    CHECK(!rd_skip_zero(&r, 1)); /* short */
    CHECK(r.failed);
    rd_init(&r, NULL, 5);
    CHECK_EQ_INT(r.left, 0);
}

/* The reader keeps where it is and the first non-zero reserved field, for
 * the error details of docs/protocol.md §8. */
static void test_position_and_reserved_record(void)
{
    static const uint8_t b[] = {1, 0, 0, 0, 2, 3, 0, 0, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    struct hfx_reader r;

    rd_init(&r, b, sizeof(b));
    CHECK_EQ_INT(rd_pos(&r), 0);
    CHECK(!r.rsvd_bad);
    CHECK_EQ_INT(rd_u8(&r), 1);
    CHECK(rd_skip_zero(&r, 3));
    CHECK(!r.rsvd_bad);
    CHECK(!rd_skip_zero(&r, 2)); /* 2, 3: the first, recorded */
    CHECK(rd_skip_zero(&r, 2));  /* 0, 0 */
    CHECK(!rd_skip_zero(&r, 9)); /* 4..12: not the first, not recorded */
    CHECK(r.rsvd_bad);
    CHECK_EQ_INT(r.rsvd_at, 4);
    CHECK_EQ_INT(r.rsvd_val, 0x0302);
    CHECK_EQ_INT(rd_pos(&r), 17);
    rd_init(&r, b, sizeof(b));
    CHECK(!rd_skip_zero(&r, 17)); /* longer than 8: the first 8 bytes */
    CHECK_EQ_INT(r.rsvd_val, 0x0000030200000001ull);
    rd_init(&r, b, 3);
    (void)rd_u16(&r);
    (void)rd_u16(&r); /* short: pos stays where the failed read began */
    CHECK(r.failed);
    CHECK_EQ_INT(rd_pos(&r), 2);
    CHECK(!rd_skip_zero(&r, 1));
    CHECK(!r.rsvd_bad); /* short is not "not zero" */
}

static void test_writer(void)
{
    uint8_t out[16];
    struct hfx_writer w;

    memset(out, 0xa5, sizeof(out));
    wr_init(&w, out, 15);
    wr_u8(&w, 0x01);
    wr_u16(&w, 0x0302);
    wr_u32(&w, 0x07060504);
    wr_i64(&w, -2);
    CHECK(!w.overflow);
    CHECK_EQ_INT(out[3], 0x04);
    CHECK_EQ_INT(out[7], 0xfe);
    CHECK_EQ_INT(out[14], 0xff);
    wr_u8(&w, 0x42); /* no room: nothing written, flag set */
    CHECK(w.overflow);
    CHECK_EQ_INT(out[15], 0xa5);
    wr_init(&w, out, 4);
    wr_u64(&w, 0);
    CHECK(w.overflow);
    CHECK_EQ_INT(out[0], 0x01); /* a write that does not fit writes nothing */
    wr_init(&w, out, 4);
    wr_zero(&w, 2);
    wr_bytes(&w, "xy", 2);
    wr_bytes(&w, NULL, 0);
    CHECK(!w.overflow);
    CHECK(memcmp(out, "\0\0xy", 4) == 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_little_endian),  CHECK_CASE(test_i64_extremes),
        CHECK_CASE(test_sticky_failure), CHECK_CASE(test_bytes_and_reserved),
        CHECK_CASE(test_writer),         CHECK_CASE(test_position_and_reserved_record),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
