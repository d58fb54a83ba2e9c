/* SPDX-License-Identifier: MIT */
#include "y4m.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "YUV4MPEG2"
#define MAGIC_LEN (sizeof(MAGIC) - 1)
#define FRAME_TAG "FRAME"
#define FRAME_TAG_LEN (sizeof(FRAME_TAG) - 1)

struct hfx_y4m_reader {
    FILE *f; /* borrowed */
    struct hfx_y4m_info info;
    size_t frame_size;
    /* Sticky result once the stream is unusable (HFX_OK while it is not). */
    enum hfx_status status;
    char line[HFX_Y4M_LINE_MAX];
};

/* Tags that may appear once; X may repeat (one per extension). */
enum seen_tag {
    SEEN_W = 1u << 0,
    SEEN_H = 1u << 1,
    SEEN_F = 1u << 2,
    SEEN_I = 1u << 3,
    SEEN_A = 1u << 4,
    SEEN_C = 1u << 5,
};

/* Bytes of an I420 frame, widened before multiplying: at the maximum
 * dimension this is 384 MiB, which also fits a 32-bit size_t. */
static size_t i420_size(uint32_t w, uint32_t h)
{
    uint64_t luma = (uint64_t)w * h;
    return (size_t)(luma + luma / 2);
}

static bool dims_ok(uint64_t w, uint64_t h)
{
    /* 4:2:0 halves both axes: odd sizes have no whole chroma sample. */
    return w >= 1 && w <= HFX_Y4M_DIM_MAX && h >= 1 && h <= HFX_Y4M_DIM_MAX && w % 2 == 0 &&
           h % 2 == 0;
}

/* Unsigned decimal, digits only. Saturates just above UINT32_MAX so that a
 * value of any length still compares as "too big" without overflowing. */
static enum hfx_status parse_number(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return HFX_E_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return HFX_E_MALFORMED;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            v = (uint64_t)UINT32_MAX + 1;
    }
    *out = v;
    return HFX_OK;
}

/* "<num>:<den>", both 32-bit; zero terms allowed only if allow_zero (A0:0
 * means "aspect unknown", but F0:0 gives no usable frame rate). */
static enum hfx_status parse_ratio(const char *s, size_t n, bool allow_zero, uint32_t *num,
                                   uint32_t *den)
{
    const char *colon = memchr(s, ':', n);
    uint64_t a, b;

    if (!colon)
        return HFX_E_MALFORMED;
    size_t alen = (size_t)(colon - s);
    if (parse_number(s, alen, &a) != HFX_OK || parse_number(colon + 1, n - alen - 1, &b) != HFX_OK)
        return HFX_E_MALFORMED;
    if (a > UINT32_MAX || b > UINT32_MAX)
        return HFX_E_MALFORMED;
    if (!allow_zero && (a == 0 || b == 0))
        return HFX_E_MALFORMED;
    *num = (uint32_t)a;
    *den = (uint32_t)b;
    return HFX_OK;
}

static bool value_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Chroma tags for 4:2:0 8-bit; they differ only in chroma siting, which a
 * raw I420 consumer does not use. Everything else (422, 444, 420p10, mono,
 * ...) is a different plane layout. */
static enum hfx_status parse_colorspace(const char *s, size_t n)
{
    static const char *const accepted[] = {"420", "420jpeg", "420paldv", "420mpeg2"};

    if (n == 0)
        return HFX_E_MALFORMED;
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        if (value_is(s, n, accepted[i]))
            return HFX_OK;
    }
    return HFX_E_UNSUPPORTED;
}

static enum hfx_status parse_interlace(const char *s, size_t n)
{
    if (n != 1)
        return HFX_E_MALFORMED;
    switch (s[0]) {
    case 'p':
    case '?': /* mjpegtools: "unknown", which every progressive writer means */
        return HFX_OK;
    case 't':
    case 'b':
    case 'm':
        return HFX_E_UNSUPPORTED;
    default:
        return HFX_E_MALFORMED;
    }
}

static enum hfx_status parse_tag(const char *tok, size_t n, unsigned *seen, uint64_t *w,
                                 uint64_t *h, struct hfx_y4m_info *info)
{
    const char *v = tok + 1;
    size_t vlen = n - 1;
    unsigned bit;

    switch (tok[0]) {
    case 'W':
        bit = SEEN_W;
        break;
    case 'H':
        bit = SEEN_H;
        break;
    case 'F':
        bit = SEEN_F;
        break;
    case 'I':
        bit = SEEN_I;
        break;
    case 'A':
        bit = SEEN_A;
        break;
    case 'C':
        bit = SEEN_C;
        break;
    case 'X':
        return HFX_OK; /* extension: free text, ignored */
    default:
        return HFX_E_MALFORMED;
    }
    /* A repeated tag is two answers to one question: believe neither. */
    if (*seen & bit)
        return HFX_E_MALFORMED;
    *seen |= bit;

    switch (tok[0]) {
    case 'W':
        return parse_number(v, vlen, w);
    case 'H':
        return parse_number(v, vlen, h);
    case 'F':
        return parse_ratio(v, vlen, false, &info->fps_num, &info->fps_den);
    case 'I':
        return parse_interlace(v, vlen);
    case 'A': {
        uint32_t an, ad; /* checked for form, then ignored */
        return parse_ratio(v, vlen, true, &an, &ad);
    }
    default:
        return parse_colorspace(v, vlen);
    }
}

enum hfx_status hfx_y4m_parse_header(const char *line, size_t len, struct hfx_y4m_info *out)
{
    struct hfx_y4m_info info = {
        .fps_num = HFX_Y4M_DEFAULT_FPS_NUM,
        .fps_den = HFX_Y4M_DEFAULT_FPS_DEN,
    };
    uint64_t w = 0, h = 0;
    unsigned seen = 0;
    size_t pos;

    if (!line || !out)
        return HFX_E_INVALID;
    if (len < MAGIC_LEN || memcmp(line, MAGIC, MAGIC_LEN) != 0)
        return HFX_E_BAD_MAGIC;
    if (len >= HFX_Y4M_LINE_MAX)
        return HFX_E_MALFORMED;
    pos = MAGIC_LEN;
    if (pos < len && line[pos] != ' ')
        return HFX_E_BAD_MAGIC; /* e.g. "YUV4MPEG2X": some other format */

    /* Tags are separated by single spaces; runs of spaces (seen from some
     * hand-written headers) are tolerated as empty separators. */
    while (pos < len) {
        if (line[pos] == ' ') {
            pos++;
            continue;
        }
        const char *end = memchr(line + pos, ' ', len - pos);
        size_t n = end ? (size_t)(end - (line + pos)) : len - pos;
        enum hfx_status st = parse_tag(line + pos, n, &seen, &w, &h, &info);
        if (st != HFX_OK)
            return st;
        pos += n;
    }

    if ((seen & (SEEN_W | SEEN_H)) != (SEEN_W | SEEN_H))
        return HFX_E_MALFORMED;
    if (!dims_ok(w, h))
        return HFX_E_BAD_DIMENSIONS;
    info.width = (uint32_t)w;
    info.height = (uint32_t)h;
    *out = info;
    return HFX_OK;
}

/*
 * Read one line of at most cap bytes including its '\n' into buf; *len gets
 * the bytes stored (the '\n' is not stored). HFX_E_CLOSED if the file ends
 * before the first byte, HFX_E_TRUNCATED if it ends later, HFX_E_MALFORMED
 * if cap bytes pass without a '\n'. *len is set on every result so the
 * caller can tell what kind of line it was.
 */
static enum hfx_status read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;

    *len = 0;
    for (;;) {
        int c = getc(f);
        if (c == EOF) {
            if (ferror(f))
                return HFX_E_IO;
            return n == 0 ? HFX_E_CLOSED : HFX_E_TRUNCATED;
        }
        if (c == '\n')
            return HFX_OK;
        /* The '\n' counts against cap too, so at most cap - 1 bytes are
         * kept; this check is also what keeps buf in bounds. */
        if (n + 1 >= cap)
            return HFX_E_MALFORMED;
        buf[n++] = (char)c;
        *len = n;
    }
}

/* Does buf[0..len) start like want (as far as it goes)? */
static bool prefix_of(const char *buf, size_t len, const char *want, size_t want_len)
{
    size_t n = len < want_len ? len : want_len;
    return memcmp(buf, want, n) == 0;
}

enum hfx_status hfx_y4m_open(FILE *f, struct hfx_y4m_reader **out)
{
    struct hfx_y4m_info info;
    char line[HFX_Y4M_LINE_MAX];
    size_t len;
    enum hfx_status st;

    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!f)
        return HFX_E_INVALID;

    st = read_line(f, line, sizeof(line), &len);
    if (st == HFX_E_CLOSED)
        st = HFX_E_TRUNCATED; /* an empty file has no header */
    /* A short or overlong first line that is not even a YUV4MPEG2 start is
     * some other file: say so rather than "truncated" or "malformed". */
    if (st != HFX_OK && st != HFX_E_IO && !prefix_of(line, len, MAGIC, MAGIC_LEN))
        return HFX_E_BAD_MAGIC;
    if (st != HFX_OK)
        return st;
    st = hfx_y4m_parse_header(line, len, &info);
    if (st != HFX_OK)
        return st;

    struct hfx_y4m_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return HFX_E_NOMEM;
    r->f = f;
    r->info = info;
    r->frame_size = i420_size(info.width, info.height);
    r->status = HFX_OK;
    *out = r;
    return HFX_OK;
}

uint32_t hfx_y4m_width(const struct hfx_y4m_reader *r)
{
    return r->info.width;
}

uint32_t hfx_y4m_height(const struct hfx_y4m_reader *r)
{
    return r->info.height;
}

uint32_t hfx_y4m_fps_num(const struct hfx_y4m_reader *r)
{
    return r->info.fps_num;
}

uint32_t hfx_y4m_fps_den(const struct hfx_y4m_reader *r)
{
    return r->info.fps_den;
}

size_t hfx_y4m_frame_size(const struct hfx_y4m_reader *r)
{
    return r->frame_size;
}

static enum hfx_status read_frame_header(struct hfx_y4m_reader *r)
{
    size_t len;
    enum hfx_status st = read_line(r->f, r->line, sizeof(r->line), &len);

    if (st == HFX_E_CLOSED || st == HFX_E_IO)
        return st;
    /* Whatever else went wrong, a line that is not a FRAME start is
     * garbage, not a short file. */
    if (!prefix_of(r->line, len, FRAME_TAG, FRAME_TAG_LEN))
        return HFX_E_MALFORMED;
    if (st != HFX_OK)
        return st;
    if (len < FRAME_TAG_LEN)
        return HFX_E_MALFORMED;
    /* Frame parameters follow a space and are ignored (none of them change
     * the plane layout of a progressive 4:2:0 stream). */
    if (len > FRAME_TAG_LEN && r->line[FRAME_TAG_LEN] != ' ')
        return HFX_E_MALFORMED;
    return HFX_OK;
}

enum hfx_status hfx_y4m_read_frame(struct hfx_y4m_reader *r, uint8_t *buf, size_t cap)
{
    enum hfx_status st;

    if (!r || !buf)
        return HFX_E_INVALID;
    if (r->status != HFX_OK)
        return r->status;
    /* Checked before reading so that the caller can retry with more room. */
    if (cap < r->frame_size)
        return HFX_E_TOO_LARGE;

    st = read_frame_header(r);
    if (st == HFX_OK && fread(buf, 1, r->frame_size, r->f) != r->frame_size)
        st = ferror(r->f) ? HFX_E_IO : HFX_E_TRUNCATED;
    r->status = st;
    return st;
}

void hfx_y4m_close(struct hfx_y4m_reader **r)
{
    if (!r || !*r)
        return;
    free(*r);
    *r = NULL;
}

static enum hfx_status write_bytes(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? HFX_OK : HFX_E_IO;
}

enum hfx_status hfx_y4m_write_header(FILE *f, uint32_t w, uint32_t h, uint32_t fps_num,
                                     uint32_t fps_den)
{
    char line[HFX_Y4M_LINE_MAX];

    if (!f)
        return HFX_E_INVALID;
    if (!dims_ok(w, h))
        return HFX_E_BAD_DIMENSIONS;
    if (fps_num == 0 || fps_den == 0)
        return HFX_E_INVALID;
    /* Five 10-digit numbers and the fixed text stay far below the limit. */
    int n = snprintf(line, sizeof(line), MAGIC " W%u H%u F%u:%u Ip A1:1 C420jpeg\n", (unsigned)w,
                     (unsigned)h, (unsigned)fps_num, (unsigned)fps_den);
    if (n < 0 || (size_t)n >= sizeof(line))
        return HFX_E_INTERNAL;
    return write_bytes(f, line, (size_t)n);
}

enum hfx_status hfx_y4m_write_frame(FILE *f, const uint8_t *i420, uint32_t w, uint32_t h)
{
    static const char frame_line[] = FRAME_TAG "\n";
    enum hfx_status st;

    if (!f || !i420)
        return HFX_E_INVALID;
    if (!dims_ok(w, h))
        return HFX_E_BAD_DIMENSIONS;
    st = write_bytes(f, frame_line, sizeof(frame_line) - 1);
    if (st != HFX_OK)
        return st;
    return write_bytes(f, i420, i420_size(w, h));
}
