/* SPDX-License-Identifier: MIT */
/*
 * Test-only fault-injection encoders (encoder-fault.h). Not part of
 * libhfx-host: only libhfx-host-fault, which tests and fuzzers link,
 * compiles this file.
 */
#include "encoder-fault.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfx/h264.h"
#include "util/clock.h"
#include "util/log.h"

#ifdef HFX_FAULT_FUZZ
#define STALL_CAP_MS FAULT_FUZZ_MAX_WAIT_MS
#define BLOCK_CAP_MS FAULT_FUZZ_MAX_WAIT_MS
#else
#define STALL_CAP_MS FAULT_MAX_STALL_MS
#define BLOCK_CAP_MS FAULT_MAX_BLOCK_MS
#endif

/* Largest access unit the fake makes: SPS + PPS + a slice of a fixed
 * size (see fake_send). */
#define FAKE_AU_MAX 96
/* Longest number in a name: frame counts and milliseconds beyond this are
 * no test's business, and a bounded number cannot overflow. */
#define MAX_DIGITS 9

enum fault_kind {
    FAULT_NONE,      /* `fake` on its own */
    FAULT_FAIL_AT,   /* every frame from n on */
    FAULT_FAIL_ONCE, /* frame n only */
    FAULT_STALL,     /* sleep n ms before each frame */
    FAULT_BLOCK,     /* wait for descriptor n before each frame */
    FAULT_NO_VUI,    /* the inner encoder's SPSs without VUI */
};

enum fake_state {
    FAKE_OPEN,
    FAKE_DRAINING, /* flushed: the last access unit, then HFX_E_CLOSED */
    FAKE_CLOSED,   /* drained: the next send starts over with an IDR */
};

struct fault {
    char name[HFX_MAX_NAME + 1];
    char inner[HFX_MAX_NAME + 1]; /* "" when the fake encodes */
    enum fault_kind kind;
    uint32_t n;
    uint64_t frames; /* sends so far */
    hfx_log_fn log;
    void *log_user;

    /* The fake encoder. */
    struct hfx_configure cfg;
    enum fake_state state;
    bool need_idr;
    uint32_t since_idr; /* frames since the last IDR */
    bool has_au;        /* au holds an access unit not yet received */
    int64_t au_pts;
    uint8_t au[FAKE_AU_MAX];
    size_t au_len;
};

/* Parameter sets of the fake stream: constrained baseline (66, constraint
 * flags 0xc0), level 3.0, so that hfx_h264_sps_profile_level reads
 * 66 / 30. The rest is filler without zero bytes: nothing decodes these
 * pictures, only the host's NAL scan looks at them. */
static const uint8_t fake_sps_pps[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x66, 0x61, 0x6b, 0x65,
    0x00, 0x00, 0x00, 0x01, 0x68, 0xce, 0x3c, 0x80,
};

static void fault_say(const struct fault *f, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fault_say(const struct fault *f, enum hfx_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hfx_vlog(f->log, f->log_user, level, NULL, fmt, ap);
    va_end(ap);
}

bool fault_claims(const char *name)
{
    return name && (strcmp(name, "fake") == 0 || strncmp(name, "fault-", 6) == 0);
}

/* Decimal 0..999999999 at *p, advancing *p; false for no digit or too many. */
static bool parse_number(const char **p, uint32_t *out)
{
    uint32_t v = 0;
    int digits = 0;

    while (**p >= '0' && **p <= '9') {
        if (++digits > MAX_DIGITS)
            return false;
        v = v * 10 + (uint32_t)(**p - '0');
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static const struct {
    const char *prefix;
    enum fault_kind kind;
} kinds[] = {
    {"fault-fail-at=", FAULT_FAIL_AT},
    {"fault-fail-once=", FAULT_FAIL_ONCE},
    {"fault-stall=", FAULT_STALL},
    {"fault-block=", FAULT_BLOCK},
    {"fault-no-vui", FAULT_NO_VUI}, /* no number */
};

/* Fill f->kind, f->n and f->inner from name; false if it is malformed. */
static bool parse(struct fault *f, const char *name)
{
    const char *p = NULL;

    if (strcmp(name, "fake") == 0) {
        f->kind = FAULT_NONE;
        return true;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && !p; i++) {
        size_t len = strlen(kinds[i].prefix);
        if (strncmp(name, kinds[i].prefix, len) == 0) {
            f->kind = kinds[i].kind;
            p = name + len;
        }
    }
    if (!p || (f->kind != FAULT_NO_VUI && !parse_number(&p, &f->n)))
        return false;
    if (*p == '\0') {
        snprintf(f->inner, sizeof(f->inner), "auto");
        return true;
    }
    if (*p != '@' || p[1] == '\0' || strlen(p + 1) >= sizeof(f->inner))
        return false;
    /* One fault per encoder: an inner fault name would nest them. */
    if (strncmp(p + 1, "fault-", 6) == 0)
        return false;
    snprintf(f->inner, sizeof(f->inner), "%s", p + 1);
    if (strcmp(f->inner, "fake") == 0)
        f->inner[0] = '\0';
    return true;
}

enum hfx_status fault_new(const struct hfx_configure *cfg, const char *name, hfx_log_fn log,
                          void *log_user, struct fault **out, const char **inner)
{
    struct fault *f;

    *out = NULL;
    *inner = NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return HFX_E_NOMEM;
    f->log = log;
    f->log_user = log_user;
    snprintf(f->name, sizeof(f->name), "%s", name);
    if (strcmp(name, "fault-open") == 0) {
        fault_say(f, HFX_LOG_ERROR, "%s: failing to open, as asked", name);
        free(f);
        return HFX_E_NO_ENCODER;
    }
    if (strlen(name) > HFX_MAX_NAME || !parse(f, name)) {
        fault_say(f, HFX_LOG_ERROR, "%s: not a fault-injection encoder name", f->name);
        free(f);
        return HFX_E_NO_ENCODER;
    }
    if (f->kind == FAULT_STALL && f->n > STALL_CAP_MS)
        f->n = STALL_CAP_MS;
    if (f->inner[0] == '\0') {
        if (cfg->codec != HFX_CODEC_H264) {
            fault_say(f, HFX_LOG_ERROR, "%s: the fake encoder makes H.264 only", f->name);
            free(f);
            return HFX_E_UNSUPPORTED;
        }
        f->cfg = *cfg;
        f->state = FAKE_OPEN;
        f->need_idr = true;
        fault_say(f, HFX_LOG_INFO, "%s: fake encoder opened %ux%u", f->name, cfg->width,
                  cfg->height);
    } else {
        *inner = f->inner;
    }
    *out = f;
    return HFX_OK;
}

const char *fault_name(const struct fault *f)
{
    return f->name;
}

bool fault_is_fake(const struct fault *f)
{
    return f->inner[0] == '\0';
}

bool fault_strips_vui(const struct fault *f)
{
    return f->kind == FAULT_NO_VUI;
}

/* Wait until the test releases the descriptor (a byte written, or the
 * writer closed) or the cap passes. */
static void block_on(const struct fault *f)
{
    struct pollfd p = {.fd = (int)f->n, .events = POLLIN};
    int r;

    do {
        r = poll(&p, 1, BLOCK_CAP_MS);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        fault_say(f, HFX_LOG_WARN, "%s: not released within %d ms; going on", f->name,
                  BLOCK_CAP_MS);
}

enum hfx_status fault_before_send(struct fault *f)
{
    uint64_t frame = f->frames++;

    switch (f->kind) {
    case FAULT_NONE:
        break;
    case FAULT_FAIL_AT:
        if (frame >= f->n) {
            fault_say(f, HFX_LOG_ERROR, "%s: frame %" PRIu64 " fails, as asked", f->name,
                      frame);
            return HFX_E_ENCODER;
        }
        break;
    case FAULT_FAIL_ONCE:
        if (frame == f->n) {
            fault_say(f, HFX_LOG_ERROR, "%s: frame %" PRIu64 " fails, as asked", f->name,
                      frame);
            return HFX_E_ENCODER;
        }
        break;
    case FAULT_STALL:
        hfx_sleep_ms(f->n);
        break;
    case FAULT_BLOCK:
        block_on(f);
        break;
    case FAULT_NO_VUI:
        break; /* on the way out (host/encoder.c) */
    }
    return HFX_OK;
}

void fault_fake_extradata(const struct fault *f, const uint8_t **data, size_t *len)
{
    (void)f;
    if (data)
        *data = fake_sps_pps;
    if (len)
        *len = sizeof(fake_sps_pps);
}

/* Read the first and last byte of every row of every plane, as an encoder
 * would read them all: under ASan a plane the host let past the end of a
 * FRAME's data or a shared memory region shows up here. */
static uint32_t touch_picture(const struct hfx_configure *cfg, const struct hfx_picture *pic,
                              enum hfx_status *st)
{
    unsigned planes = hfx_format_planes(cfg->fourcc);
    uint32_t sum = 0;

    *st = HFX_OK;
    for (unsigned p = 0; p < planes; p++) {
        uint32_t row_bytes = 0, rows = 0;
        if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, p, &row_bytes,
                                   &rows) ||
            !pic->plane[p]) {
            *st = HFX_E_INVALID;
            return 0;
        }
        /* As hfx_encoder_send checks it for the real backends. */
        if (pic->stride[p] < row_bytes || pic->stride[p] > HFX_MAX_STRIDE) {
            *st = HFX_E_BAD_STRIDE;
            return 0;
        }
        for (uint32_t r = 0; r < rows; r++) {
            const uint8_t *row = pic->plane[p] + (size_t)pic->stride[p] * r;
            sum = sum * 31 + row[0];
            sum = sum * 31 + row[row_bytes - 1];
        }
    }
    return sum;
}

static size_t put_hex(uint8_t *out, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < digits; i++)
        out[i] = (uint8_t)hex[(v >> (4 * (digits - 1 - i))) & 0xf];
    return (size_t)digits;
}

enum hfx_status fault_fake_send(struct fault *f, const struct hfx_picture *pic, int64_t pts,
                                bool force_idr)
{
    static const uint8_t start_code[] = {0x00, 0x00, 0x00, 0x01};
    enum hfx_status st;

    if (f->state == FAKE_DRAINING)
        return HFX_E_STATE;
    if (f->has_au)
        return HFX_E_BUSY; /* one access unit at a time: receive it first */
    uint32_t sum = touch_picture(&f->cfg, pic, &st);
    if (st != HFX_OK)
        return st;
    if (f->state == FAKE_CLOSED) {
        /* Reopened after a flush: like a real encoder, it starts with an IDR. */
        f->state = FAKE_OPEN;
        f->need_idr = true;
    }
    bool idr = f->need_idr || force_idr ||
               (f->cfg.keyint_frames && f->since_idr + 1 >= f->cfg.keyint_frames);
    size_t n = 0;
    if (idr) {
        memcpy(f->au, fake_sps_pps, sizeof(fake_sps_pps));
        n = sizeof(fake_sps_pps);
        f->need_idr = false;
        f->since_idr = 0;
    } else {
        f->since_idr++;
    }
    /* The slice: NAL header, "fake", pts and the picture's checksum in hex,
     * so no byte is zero and no start code can appear inside. */
    memcpy(f->au + n, start_code, sizeof(start_code));
    n += sizeof(start_code);
    f->au[n++] = idr ? 0x65 : 0x41; /* IDR slice (5) or non-IDR slice (1) */
    memcpy(f->au + n, "fake", 4);
    n += 4;
    n += put_hex(f->au + n, (uint64_t)pts, 16);
    n += put_hex(f->au + n, sum, 8);
    f->au_len = n;
    f->au_pts = pts;
    f->has_au = true;
    return HFX_OK;
}

enum hfx_status fault_fake_receive(struct fault *f, struct hfx_encoded *out)
{
    if (!f->has_au) {
        if (f->state == FAKE_OPEN)
            return HFX_INCOMPLETE;
        f->state = FAKE_CLOSED;
        return HFX_E_CLOSED;
    }
    f->has_au = false;
    out->data = f->au;
    out->len = f->au_len;
    out->pts = f->au_pts;
    out->dts = f->au_pts;
    /* Decided from the bitstream, as for every backend (encoder.h). */
    out->keyframe = hfx_h264_is_idr(f->au, f->au_len);
    return HFX_OK;
}

void fault_fake_flush(struct fault *f)
{
    if (f->state == FAKE_OPEN)
        f->state = FAKE_DRAINING;
}

void fault_free(struct fault **fp)
{
    if (!fp || !*fp)
        return;
    free(*fp);
    *fp = NULL;
}
