/* SPDX-License-Identifier: MIT */
/*
 * The scripted session and its checking client (fault-session.h).
 */
#include "fault-session.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "h264-decode.h"
#include "hfx/h264.h"

enum step_kind {
    STEP_HELLO,
    STEP_CONFIGURE,
    STEP_FRAME,
    STEP_REQUEST_KEYFRAME,
    STEP_SET_BITRATE,
    STEP_FLUSH,
    STEP_CLOSE,
    STEP_PING,
    STEP_BYE,
};

/* What a PACKET for the frame must be. */
enum idr_rule { IDR_ANY, IDR_YES, IDR_NO };

struct step {
    enum step_kind kind;
    uint64_t frame_id;
    bool force_key;
    enum idr_rule idr;
};

static const struct step script[FS_STEPS] = {
    {STEP_HELLO, 0, false, IDR_ANY},
    {STEP_CONFIGURE, 0, false, IDR_ANY},
    {STEP_FRAME, 1, false, IDR_YES}, /* a new stream starts with an IDR (§5) */
    {STEP_FRAME, 2, false, IDR_NO},  /* default keyint: a P frame */
    {STEP_FRAME, 3, true, IDR_YES},  /* FORCE_KEYFRAME (§5.3) */
    {STEP_REQUEST_KEYFRAME, 0, false, IDR_ANY},
    {STEP_FRAME, 4, false, IDR_YES}, /* REQUEST_KEYFRAME, no minimum interval (§5.6) */
    {STEP_SET_BITRATE, 0, false, IDR_ANY},
    {STEP_FRAME, 5, false, IDR_ANY}, /* a backend may reopen for the bitrate */
    {STEP_FLUSH, 0, false, IDR_ANY},
    {STEP_CLOSE, 0, false, IDR_ANY},
    {STEP_PING, 0, false, IDR_ANY},
    {STEP_BYE, 0, false, IDR_ANY},
};

#define PING_COOKIE 0x5eed0000c0ffeeull

static void picture(uint64_t id, uint8_t *p)
{
    /* A gradient that moves a little per frame: small P frames, no scene
     * cut. */
    for (unsigned y = 0; y < FS_H; y++)
        for (unsigned x = 0; x < FS_W; x++)
            p[y * FS_W + x] = (uint8_t)(x * 3 + y * 2 + id * 2);
    memset(p + FS_W * FS_H, 128, FS_W * FS_H / 2);
}

size_t fs_step_bytes(int i, uint8_t *buf, size_t cap)
{
    const struct step *s = &script[i];
    struct hfx_msg m;
    size_t n = 0;
    size_t tail = 0;

    memset(&m, 0, sizeof(m));
    switch (s->kind) {
    case STEP_HELLO:
        m.hdr.type = HFX_MSG_HELLO;
        m.u.hello.min_version = m.u.hello.max_version = 1;
        m.u.hello.caps = HFX_CAP_INLINE;
        break;
    case STEP_CONFIGURE:
        m.hdr.type = HFX_MSG_CONFIGURE;
        m.u.configure.codec = HFX_CODEC_H264;
        m.u.configure.width = FS_W;
        m.u.configure.height = FS_H;
        m.u.configure.fourcc = HFX_FORMAT_NV12;
        m.u.configure.fps_num = 30;
        m.u.configure.fps_den = 1;
        m.u.configure.bitrate_kbps = 500;
        break;
    case STEP_FRAME:
        m.hdr.type = HFX_MSG_FRAME;
        m.hdr.flags = s->force_key ? HFX_FRAME_FLAG_FORCE_KEYFRAME : 0;
        m.u.frame.frame_id = s->frame_id;
        m.u.frame.pts = (int64_t)s->frame_id * 3000;
        m.u.frame.duration = 3000;
        m.u.frame.source = HFX_SOURCE_INLINE;
        m.u.frame.plane_count = 2;
        m.u.frame.planes[0].stride = FS_W;
        m.u.frame.planes[1].offset = FS_W * FS_H;
        m.u.frame.planes[1].stride = FS_W;
        tail = FS_W * FS_H * 3 / 2;
        break;
    case STEP_REQUEST_KEYFRAME:
        m.hdr.type = HFX_MSG_REQUEST_KEYFRAME;
        break;
    case STEP_SET_BITRATE:
        m.hdr.type = HFX_MSG_SET_BITRATE;
        m.u.set_bitrate.kbps = 800;
        break;
    case STEP_FLUSH:
        m.hdr.type = HFX_MSG_FLUSH;
        break;
    case STEP_CLOSE:
        m.hdr.type = HFX_MSG_CLOSE;
        break;
    case STEP_PING:
        m.hdr.type = HFX_MSG_PING;
        m.u.ping.cookie = PING_COOKIE;
        break;
    case STEP_BYE:
        m.hdr.type = HFX_MSG_BYE;
        break;
    }
    if (m.hdr.type >= HFX_MSG_CONFIGURE)
        m.hdr.stream = FS_STREAM;
    CHECK_STATUS(hfx_msg_encode(&m, tail, buf, cap, &n), HFX_OK);
    if (tail) {
        CHECK(n + tail <= cap);
        picture(s->frame_id, buf + n);
        n += tail;
    }
    return n;
}

size_t fs_script_bytes(int n, uint8_t *buf, size_t cap, size_t *off)
{
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        if (off)
            off[i] = len;
        len += fs_step_bytes(i, buf + len, cap - len);
    }
    if (off)
        off[n] = len;
    return len;
}

/* ---- the client's view ---- */

enum stream_state { ST_NONE, ST_PENDING, ST_LIVE, ST_FAILED };

struct model {
    const struct fs_expect *e;
    struct fs_result *r;
    bool hello_pending;
    bool ping_pending;
    unsigned flush_pending;
    enum stream_state stream;
    bool close_sent;
    int frames[FS_STEPS]; /* steps of the frames sent and not answered, oldest first */
    int nframes;
    bool conn_error; /* an ERROR on stream 0: only the close may follow */
    bool error_open; /* an ERROR on stream 1: the stream's, or the connection's */
    bool dropped;    /* a frame of the stream was dropped: IDRs may move */
    bool frame1_packet;
    struct hfx_h264_decoder *dec;
};

struct rx {
    int fd;
    int timeout_ms;
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t used; /* bytes of the message last returned */
};

static void fail_at(const struct model *md, const char *what, const struct hfx_msg *m)
{
    char d[256];
    snprintf(d, sizeof(d), "%s (after %d steps: %s stream %u)", what, md->r->steps_sent,
             m ? hfx_msg_type_name(m->hdr.type) : "-", m ? m->hdr.stream : 0);
    check_fail(__FILE__, __LINE__, "fault session", d);
}

static bool code_allowed(const struct fs_expect *e, uint32_t code)
{
    for (const uint32_t *c = e->errors; c && *c; c++)
        if (*c == code)
            return true;
    return false;
}

/* One whole message, or false when the host closed the connection. A
 * host that says nothing for timeout_ms fails the check (a hang). */
static bool rx_next(struct rx *x, struct hfx_msg *m, const struct model *md)
{
    if (x->used) {
        memmove(x->buf, x->buf + x->used, x->len - x->used);
        x->len -= x->used;
        x->used = 0;
    }
    for (;;) {
        size_t consumed = 0;
        enum hfx_status st = hfx_msg_decode(x->buf, x->len, HFX_MAX_PAYLOAD_HARD, m, &consumed);
        if (st == HFX_OK) {
            x->used = consumed;
            return true;
        }
        if (st != HFX_INCOMPLETE)
            fail_at(md, hfx_status_name(st), NULL);
        if (x->len == x->cap) {
            x->cap *= 2;
            x->buf = realloc(x->buf, x->cap);
            CHECK(x->buf != NULL);
        }
        struct pollfd p = {.fd = x->fd, .events = POLLIN};
        int r = poll(&p, 1, x->timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            fail_at(md, "the host did not answer in time (hang)", NULL);
        ssize_t n = read(x->fd, x->buf + x->len, x->cap - x->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return false; /* a message cut short by the close is the close */
        CHECK(n > 0);
        x->len += (size_t)n;
    }
}

static void on_answer(struct model *md, const struct hfx_msg *m, uint64_t id)
{
    if (md->nframes == 0)
        fail_at(md, "an answer for no frame", m);
    const struct step *s = &script[md->frames[0]];
    if (id != s->frame_id)
        fail_at(md, "an answer out of frame order (§5)", m);
    memmove(md->frames, md->frames + 1, (size_t)(md->nframes - 1) * sizeof(md->frames[0]));
    md->nframes--;
}

static void on_message(struct model *md, const struct hfx_msg *m)
{
    const struct fs_expect *e = md->e;
    struct fs_result *r = md->r;

    r->messages++;
    if (md->conn_error)
        fail_at(md, "a message after the connection's ERROR (§8)", m);
    if (md->error_open && m->hdr.type != HFX_MSG_ERROR) {
        /* The connection stayed: that ERROR was the stream's (§5). */
        md->error_open = false;
        r->stream_failed = true;
    }
    if (m->hdr.type >= HFX_MSG_CONFIGURE && m->hdr.stream != FS_STREAM)
        fail_at(md, "a message for another stream", m);
    switch (m->hdr.type) {
    case HFX_MSG_WELCOME:
        if (!md->hello_pending)
            fail_at(md, "WELCOME without HELLO", m);
        md->hello_pending = false;
        break;
    case HFX_MSG_CONFIGURED:
        if (md->stream != ST_PENDING)
            fail_at(md, "CONFIGURED without CONFIGURE", m);
        md->stream = ST_LIVE;
        break;
    case HFX_MSG_ERROR:
        if (!code_allowed(e, m->u.error.code)) {
            char d[1200];
            snprintf(d, sizeof(d), "ERROR %s not expected here: %s",
                     hfx_status_name((enum hfx_status)m->u.error.code), m->u.error.text);
            fail_at(md, d, m);
        }
        if (!r->error_code) {
            r->error_code = m->u.error.code;
            r->error_stream = m->hdr.stream;
        }
        if (m->hdr.stream == 0) {
            md->conn_error = true;
        } else if (m->hdr.stream == FS_STREAM) {
            /* Answers CONFIGURE, or fails the live stream (§5); if the
             * connection closes next, it was the connection's. */
            if (md->stream == ST_NONE)
                fail_at(md, "ERROR for a stream that does not exist", m);
            md->stream = ST_FAILED;
            md->error_open = true;
        } else {
            fail_at(md, "ERROR for another stream", m);
        }
        break;
    case HFX_MSG_PACKET: {
        const struct step *s = md->nframes ? &script[md->frames[0]] : NULL;
        bool idr = hfx_h264_is_idr(m->u.packet.data, m->u.packet.data_len);
        on_answer(md, m, m->u.packet.frame_id);
        r->packets++;
        if (idr)
            r->idrs++;
        /* §5.4: the flag comes from the bitstream. */
        if (((m->hdr.flags & HFX_PACKET_FLAG_KEYFRAME) != 0) != idr)
            fail_at(md, "PACKET's KEYFRAME flag does not match its NAL units", m);
        if (s->idr == IDR_YES && !idr)
            fail_at(md, "no IDR where one is due (§5, §5.3, §5.6)", m);
        if (s->idr == IDR_NO && idr && md->frame1_packet && !md->dropped)
            fail_at(md, "an IDR where none is due", m);
        if (s->frame_id == 1)
            md->frame1_packet = true;
        if (md->dec)
            CHECK_STATUS(hfx_h264_decoder_decode_au(md->dec, m->u.packet.data,
                                                    m->u.packet.data_len, m->u.packet.pts),
                         HFX_OK);
        break;
    }
    case HFX_MSG_FRAME_DROPPED:
        on_answer(md, m, m->u.dropped.frame_id);
        r->drops++;
        md->dropped = true;
        if (m->u.dropped.reason == HFX_DROP_ENCODER) {
            /* The encoder failed on it, or the stream is failed (§5.5). */
            if (!e->may_drop && md->stream != ST_FAILED)
                fail_at(md, "FRAME_DROPPED ENCODER on a healthy stream", m);
        } else if (m->u.dropped.reason != HFX_DROP_CLOSED || !md->close_sent) {
            /* One frame at a time: the window never overflows. */
            fail_at(md, "FRAME_DROPPED for a reason that cannot be", m);
        }
        break;
    case HFX_MSG_FLUSHED:
        if (!md->flush_pending)
            fail_at(md, "FLUSHED without FLUSH", m);
        if (md->nframes)
            fail_at(md, "FLUSHED before the answers of the frames before it (§5.8)", m);
        md->flush_pending--;
        break;
    case HFX_MSG_PONG:
        if (!md->ping_pending || m->u.ping.cookie != PING_COOKIE)
            fail_at(md, "PONG without PING", m);
        if (md->nframes || md->flush_pending)
            fail_at(md, "PONG before the answers of the steps before it", m);
        md->ping_pending = false;
        break;
    default:
        fail_at(md, "a message a host does not send here", m);
    }
}

/* Whether step i has had its answer. */
static bool answered(const struct model *md, int i)
{
    switch (script[i].kind) {
    case STEP_HELLO:
        return !md->hello_pending;
    case STEP_CONFIGURE:
        return md->stream != ST_PENDING;
    case STEP_FRAME:
        return md->nframes == 0;
    case STEP_FLUSH:
        return md->flush_pending == 0;
    case STEP_PING:
        return !md->ping_pending;
    default:
        return true;
    }
}

/* Write a step; false when the host closed the connection first. */
static bool send_step(const struct fs_client *c, const uint8_t *buf, size_t len)
{
    size_t chunk = c->write_chunk ? c->write_chunk : len;

    while (len) {
        ssize_t n = send(c->fd, buf, len < chunk ? len : chunk, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return false;
        CHECK(n > 0);
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static void note_sent(struct model *md, int i)
{
    switch (script[i].kind) {
    case STEP_HELLO:
        md->hello_pending = true;
        break;
    case STEP_CONFIGURE:
        md->stream = ST_PENDING;
        break;
    case STEP_FRAME:
        md->frames[md->nframes++] = i;
        break;
    case STEP_FLUSH:
        md->flush_pending++;
        break;
    case STEP_CLOSE:
        md->close_sent = true;
        break;
    case STEP_PING:
        md->ping_pending = true;
        break;
    default:
        break;
    }
}

void fs_run(const struct fs_client *c, int n, const struct fs_expect *e, struct fs_result *r)
{
    static uint8_t step[FS_MAX_STEP];
    struct model md;
    struct rx x = {.fd = c->fd, .timeout_ms = c->timeout_ms ? c->timeout_ms : 5000};
    struct hfx_msg m;

    memset(r, 0, sizeof(*r));
    memset(&md, 0, sizeof(md));
    md.e = e;
    md.r = r;
    x.cap = 1 << 16;
    x.buf = malloc(x.cap);
    CHECK(x.buf != NULL);
    if (e->strict)
        CHECK_STATUS(hfx_h264_decoder_new(NULL, NULL, &md.dec), HFX_OK);

    for (int i = 0; i < n && !r->closed; i++) {
        size_t len = fs_step_bytes(i, step, sizeof(step));
        if (!send_step(c, step, len)) {
            r->closed = true;
            break;
        }
        note_sent(&md, i);
        r->steps_sent = i + 1;
        while (!answered(&md, i)) {
            if (!rx_next(&x, &m, &md)) {
                r->closed = true;
                break;
            }
            on_message(&md, &m);
        }
    }
    if (r->closed) {
        /* Whatever the host said before its close still counts. */
        while (rx_next(&x, &m, &md))
            on_message(&md, &m);
        if (!e->may_close)
            fail_at(&md, "the host closed the connection", NULL);
        if (md.error_open)
            md.error_open = false; /* that ERROR was the connection's */
    } else {
        r->completed = true;
        if (md.error_open)
            r->stream_failed = true; /* nothing followed; the connection stayed */
    }
    if (e->strict && (r->error_code || r->drops || !r->completed))
        fail_at(&md, "a fault where none may be", NULL);
    if (md.dec) {
        CHECK_STATUS(hfx_h264_decoder_flush(md.dec), HFX_OK);
        r->frames_decoded = (unsigned)hfx_h264_decoder_frames(md.dec);
        hfx_h264_decoder_free(&md.dec);
        if (n == FS_STEPS)
            CHECK_EQ_INT(r->frames_decoded, FS_FRAMES);
    }
    free(x.buf);
}

void fs_describe(const struct fs_result *r, char *out, size_t cap)
{
    const char *code = r->error_code ? hfx_status_name((enum hfx_status)r->error_code) : "";

    if (r->closed && r->error_code)
        snprintf(out, cap, "closed after ERROR %s on stream %u", code, r->error_stream);
    else if (r->closed)
        snprintf(out, cap, "closed without ERROR");
    else if (r->stream_failed)
        snprintf(out, cap, "stream ERROR %s, connection kept", code);
    else if (r->drops)
        snprintf(out, cap, "complete, %u frame(s) dropped", r->drops);
    else
        snprintf(out, cap, "complete");
}
