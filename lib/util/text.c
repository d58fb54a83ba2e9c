/* SPDX-License-Identifier: MIT */
#include "util/text.h"

#include <stdarg.h>
#include <stdio.h>

bool hfx_text_format(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (!buf || cap == 0)
        return false;
    va_start(ap, fmt);
    r = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (r < 0) {
        buf[0] = '\0';
        return false;
    }
    return (size_t)r < cap;
}
