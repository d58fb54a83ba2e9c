/* SPDX-License-Identifier: MIT */
/*
 * Internal (docs/architecture.md, "The internal toolkit"): printf into a
 * caller's fixed buffer, saying whether the whole text fit, so that paths and
 * error texts are never cut without the caller knowing.
 */
#ifndef HFX_UTIL_TEXT_H
#define HFX_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Format into buf (cap bytes, always terminated when cap > 0). Returns true
 * when the whole text fit; false when it was cut, on a format error, or when
 * buf is NULL or cap is 0 (then nothing is written: a caller that does not
 * want a text passes NULL). */
bool hfx_text_format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* HFX_UTIL_TEXT_H */
