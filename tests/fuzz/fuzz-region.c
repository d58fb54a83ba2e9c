/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for region 0's header (lib/region.c): a guest reads it
 * from a BAR that anything in the guest can write. A header that decodes
 * must encode back to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hfx/region.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hfx_region_header h;
    uint8_t again[HFX_REGION_HEADER_BYTES];

    if (hfx_region_header_decode(data, size, &h) != HFX_OK)
        return 0;
    if (hfx_region_header_encode(&h, again, sizeof(again)) != HFX_OK ||
        memcmp(again, data, sizeof(again)) != 0)
        abort();
    return 0;
}
