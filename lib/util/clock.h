/* SPDX-License-Identifier: MIT */
/*
 * Internal (docs/architecture.md, "The internal toolkit"): the one monotonic
 * clock every part of hfx measures deadlines, intervals and latencies with.
 */
#ifndef HFX_UTIL_CLOCK_H
#define HFX_UTIL_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds and in nanoseconds: never steps back,
 * not affected by changes of the wall clock. */
int64_t hfx_clock_ms(void);
int64_t hfx_clock_ns(void);

/* Sleep ms milliseconds, the whole time even when signals interrupt it. */
void hfx_sleep_ms(uint32_t ms);

#endif /* HFX_UTIL_CLOCK_H */
