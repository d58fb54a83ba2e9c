/* SPDX-License-Identifier: MIT */
#include "hfx/region.h"

#include <string.h>

#include "hfx/protocol.h"
#include "util/reader.h"

#define MAGIC_LEN 8
#define RSVD_LEN (HFX_REGION_HEADER_BYTES - MAGIC_LEN - 4 - 4 - 8)

struct hfx_region_header hfx_region_header_for(uint64_t size)
{
    return (struct hfx_region_header){
        .version = HFX_REGION_VERSION,
        .header_size = HFX_REGION_HEADER_SIZE,
        .size = size,
    };
}

static bool header_valid(const struct hfx_region_header *h)
{
    return h->header_size == HFX_REGION_HEADER_SIZE && h->size >= HFX_REGION_MIN_SIZE &&
           h->size <= HFX_MAX_SHM_SIZE;
}

enum hfx_status hfx_region_header_encode(const struct hfx_region_header *h, uint8_t *buf,
                                         size_t cap)
{
    struct hfx_writer w;

    if (h->version != HFX_REGION_VERSION || !header_valid(h))
        return HFX_E_INVALID;
    if (cap < HFX_REGION_HEADER_BYTES)
        return HFX_E_TOO_LARGE;
    wr_init(&w, buf, cap);
    wr_bytes(&w, HFX_REGION_MAGIC, MAGIC_LEN);
    wr_u32(&w, h->version);
    wr_u32(&w, h->header_size);
    wr_u64(&w, h->size);
    wr_zero(&w, RSVD_LEN);
    return w.overflow ? HFX_E_INTERNAL : HFX_OK;
}

enum hfx_status hfx_region_header_decode(const uint8_t *buf, size_t len,
                                         struct hfx_region_header *out)
{
    struct hfx_reader r;
    const uint8_t *magic = NULL;
    struct hfx_region_header h;

    memset(out, 0, sizeof(*out));
    rd_init(&r, buf, len);
    if (!rd_bytes(&r, &magic, MAGIC_LEN))
        return HFX_E_MALFORMED;
    if (memcmp(magic, HFX_REGION_MAGIC, MAGIC_LEN) != 0)
        return HFX_E_BAD_MAGIC;
    h.version = rd_u32(&r);
    if (r.failed)
        return HFX_E_MALFORMED;
    /* Checked before the rest: a later version may lay it out otherwise. */
    if (h.version != HFX_REGION_VERSION)
        return HFX_E_VERSION;
    h.header_size = rd_u32(&r);
    h.size = rd_u64(&r);
    bool rsvd_zero = rd_skip_zero(&r, RSVD_LEN);
    if (r.failed || !rsvd_zero || !header_valid(&h))
        return HFX_E_MALFORMED;
    *out = h;
    return HFX_OK;
}
