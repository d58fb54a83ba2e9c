/* SPDX-License-Identifier: MIT */
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

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

bool hfx_text_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    size_t got = 0;
    bool ok = true;
    int fd;

    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return false;
    while (got < cap) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            ok = false;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return ok && got < cap;
}
