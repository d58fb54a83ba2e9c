/* SPDX-License-Identifier: MIT */
#include "util/token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hfx/protocol.h"

enum hfx_status hfx_token_read_file(const char *path, char *out, size_t cap, bool *exposed)
{
    char line[HFX_MAX_TOKEN + 3]; /* token, CR LF, NUL */
    struct stat st;
    size_t n;
    FILE *f;

    if (!path || !out || cap == 0)
        return HFX_E_INVALID;
    out[0] = '\0';
    f = fopen(path, "re");
    if (!f)
        return HFX_E_IO;
    if (exposed)
        *exposed = fstat(fileno(f), &st) == 0 && (st.st_mode & 0077);
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    n = strcspn(line, "\r\n");
    /* No line end within the buffer: the line is longer than any token. */
    if (line[n] == '\0' && n == sizeof(line) - 1) {
        hfx_wipe(line, sizeof(line));
        return HFX_E_INVALID;
    }
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 0 || n > HFX_MAX_TOKEN || n >= cap) {
        hfx_wipe(line, sizeof(line));
        return HFX_E_INVALID;
    }
    memcpy(out, line, n);
    out[n] = '\0';
    hfx_wipe(line, sizeof(line));
    return HFX_OK;
}

bool hfx_token_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const uint8_t *x = a, *y = b;
    uint8_t diff = (uint8_t)(alen != blen || alen > HFX_MAX_TOKEN);
    size_t n = alen < blen ? alen : blen;

    for (size_t i = 0; i < HFX_MAX_TOKEN; i++)
        diff |= (uint8_t)((i < n ? x[i] : 0) ^ (i < n ? y[i] : 0));
    return diff == 0;
}

void hfx_wipe(void *p, size_t n)
{
    /* Stores through a volatile pointer are never dead stores. */
    volatile unsigned char *b = p;

    while (n--)
        *b++ = 0;
}

void hfx_token_wipe(char *token)
{
    if (token)
        hfx_wipe(token, strlen(token));
}
