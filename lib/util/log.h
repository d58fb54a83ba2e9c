/* SPDX-License-Identifier: MIT */
/*
 * Internal (docs/architecture.md, "The internal toolkit"): one way to turn a
 * printf-style message into a line for an embedder's hfx_log_fn, so that
 * every part cuts long lines and handles a missing callback alike.
 */
#ifndef HFX_UTIL_LOG_H
#define HFX_UTIL_LOG_H

#include <stdarg.h>

#include "hfx/status.h"

/* Longest line passed to a log callback, terminator included; longer ones
 * are cut. */
#define HFX_LOG_LINE 512

/* Format prefix (may be NULL) and fmt into one line and pass it to fn with
 * user; nothing when fn is NULL. The line is the callback's only for the
 * call. */
void hfx_vlog(hfx_log_fn fn, void *user, enum hfx_log_level level, const char *prefix,
              const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
void hfx_log(hfx_log_fn fn, void *user, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* HFX_UTIL_LOG_H */
