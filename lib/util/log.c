/* SPDX-License-Identifier: MIT */
#include "util/log.h"

#include <stdio.h>
#include <string.h>

void hfx_vlog(hfx_log_fn fn, void *user, enum hfx_log_level level, const char *prefix,
              const char *fmt, va_list ap)
{
    char line[HFX_LOG_LINE];
    size_t n = 0;

    if (!fn)
        return;
    if (prefix) {
        n = strlen(prefix);
        if (n >= sizeof(line))
            n = sizeof(line) - 1;
        memcpy(line, prefix, n);
    }
    vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    fn(user, level, line);
}

void hfx_log(hfx_log_fn fn, void *user, enum hfx_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hfx_vlog(fn, user, level, NULL, fmt, ap);
    va_end(ap);
}
