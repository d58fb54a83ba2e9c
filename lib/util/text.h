/* SPDX-License-Identifier: MIT */
/*
 * Internal (docs/architecture.md, "The internal toolkit"): text in a
 * caller's fixed buffer, saying whether the whole of it fit, so that paths,
 * error texts and small files (sysfs attributes) are never cut without the
 * caller knowing.
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

/* Read the file at path into buf (cap bytes, not terminated), retrying on
 * EINTR. Returns true with *len its length when the whole file fit in fewer
 * than cap bytes; false when it cannot be opened or read, or fills buf (it
 * is longer than the caller allows). */
bool hfx_text_read_file(const char *path, char *buf, size_t cap, size_t *len);

#endif /* HFX_UTIL_TEXT_H */
