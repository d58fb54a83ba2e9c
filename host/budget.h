/* SPDX-License-Identifier: MIT */
/*
 * The host-wide memory budget (hfx_server_options.max_memory): what a
 * stream is expected to cost, so that a CONFIGURE that would not fit is
 * refused before an encoder is opened (docs/security.md, "Limits").
 */
#ifndef HFX_HOST_BUDGET_H
#define HFX_HOST_BUDGET_H

#include <stdint.h>

#include "hfx/protocol.h"

/* Bytes one stream is expected to hold at its peak: the encoder's own
 * pictures, a converted copy of the input where the encoder cannot take
 * the format, and `window` frames pending plus the one being encoded
 * (INLINE frames are held in their receive buffers).
 * bench/run-memory-budget compares it with hfxd's measured RSS. */
uint64_t budget_stream_bytes(const struct hfx_configure *cfg, unsigned window);

#endif /* HFX_HOST_BUDGET_H */
