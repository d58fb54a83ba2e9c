/* SPDX-License-Identifier: MIT */
/* Region 0's header (lib/region.c, docs/protocol.md §7.1). */
#include <string.h>

#include "check.h"
#include "hfx/protocol.h"
#include "hfx/region.h"

static void encode_64m(uint8_t *buf)
{
    struct hfx_region_header h = hfx_region_header_for(64u << 20);
    memset(buf, 0xee, HFX_REGION_HEADER_BYTES);
    CHECK_STATUS(hfx_region_header_encode(&h, buf, HFX_REGION_HEADER_BYTES), HFX_OK);
}

static void test_layout(void)
{
    uint8_t buf[HFX_REGION_HEADER_BYTES];
    static const uint8_t want[24] = {'H', 'F', 'X', 'R', 'E', 'G', 'N', '0', 1, 0, 0, 0,
                                     0,   0x10, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0};

    encode_64m(buf);
    CHECK(memcmp(buf, want, sizeof(want)) == 0);
    for (size_t i = sizeof(want); i < sizeof(buf); i++)
        CHECK_EQ_INT(buf[i], 0);
}

static void test_round_trip(void)
{
    uint8_t buf[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h;

    encode_64m(buf);
    CHECK_STATUS(hfx_region_header_decode(buf, sizeof(buf), &h), HFX_OK);
    CHECK_EQ_INT(h.version, HFX_REGION_VERSION);
    CHECK_EQ_INT(h.header_size, HFX_REGION_HEADER_SIZE);
    CHECK(h.size == 64u << 20);
    /* More bytes after the header (the rest of the page, the frames) are
     * not the header's business. */
    uint8_t page[HFX_REGION_HEADER_SIZE] = {0};
    memcpy(page, buf, sizeof(buf));
    page[sizeof(buf)] = 0x55;
    CHECK_STATUS(hfx_region_header_decode(page, sizeof(page), &h), HFX_OK);
}

static void test_rejects(void)
{
    uint8_t buf[HFX_REGION_HEADER_BYTES], bad[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h;

    encode_64m(buf);
    for (size_t len = 0; len < sizeof(buf); len++) {
        enum hfx_status st = hfx_region_header_decode(buf, len, &h);
        CHECK_STATUS(st, HFX_E_MALFORMED);
    }
    /* Zeros: an ivshmem device whose host has not written a header yet. */
    memset(bad, 0, sizeof(bad));
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_BAD_MAGIC);
    memcpy(bad, buf, sizeof(bad));
    bad[8] = 2;
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_VERSION);
    memcpy(bad, buf, sizeof(bad));
    bad[13] = 0x20; /* header_size 8192 */
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    bad[40] = 1; /* reserved */
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    memset(bad + 16, 0, 8); /* size 0 */
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_MALFORMED);
    memcpy(bad, buf, sizeof(bad));
    bad[20] = 0x04; /* size 64 MiB + 16 GiB: over HFX_MAX_SHM_SIZE */
    CHECK_STATUS(hfx_region_header_decode(bad, sizeof(bad), &h), HFX_E_MALFORMED);
    CHECK(h.size == 0); /* nothing is returned on failure */
}

static void test_encode_checks(void)
{
    uint8_t buf[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h = hfx_region_header_for(HFX_REGION_MIN_SIZE - 1);

    CHECK_STATUS(hfx_region_header_encode(&h, buf, sizeof(buf)), HFX_E_INVALID);
    h = hfx_region_header_for(HFX_MAX_SHM_SIZE + 1);
    CHECK_STATUS(hfx_region_header_encode(&h, buf, sizeof(buf)), HFX_E_INVALID);
    h = hfx_region_header_for(HFX_REGION_MIN_SIZE);
    CHECK_STATUS(hfx_region_header_encode(&h, buf, sizeof(buf) - 1), HFX_E_TOO_LARGE);
    CHECK_STATUS(hfx_region_header_encode(&h, buf, sizeof(buf)), HFX_OK);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_layout),
        CHECK_CASE(test_round_trip),
        CHECK_CASE(test_rejects),
        CHECK_CASE(test_encode_checks),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
