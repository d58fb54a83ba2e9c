/* SPDX-License-Identifier: MIT */
/*
 * Scanouts (include/hfx/scanout.h, docs/protocol.md §5.17): pictures an
 * embedder publishes, encoded once on one stream worker and fanned out to
 * every subscriber.
 *
 * Two threads meet here. The embedder's thread calls hfx_scanout_publish,
 * which copies the picture into a block of its own and leaves it as the
 * scanout's pending picture (a newer one replaces it), then wakes the
 * loop. The loop's thread does everything else: it hands the pending
 * picture to the stream (starting or restarting the stream when the size
 * changes), passes the stream's results to the subscribers, asks for
 * pictures (want_picture) when a subscriber comes or a keep-alive is due,
 * and keeps the subscriber list. The lock guards only what both threads
 * touch: the pending picture, the rate and the picture count.
 *
 * Flow control per subscriber: a packet goes to a subscriber only while
 * its connection's send queue holds less than SUBSCRIBER_QUEUE_MAX bytes;
 * otherwise the subscriber misses it (told once per gap with
 * FRAME_DROPPED reason QUEUE_FULL) and then everything up to the next
 * keyframe, which is asked for as soon as its queue is short again. The
 * queue of a subscriber that never reads therefore stops growing there.
 */
#include "scanout.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hfx/protocol.h"
#include "server-private.h"
#include "util/clock.h"

/* A subscriber is sent packets while its send queue is below this: the
 * level at which the host also stops reading the connection (§6). */
#define SUBSCRIBER_QUEUE_MAX (1u << 20)
#define DEFAULT_BITRATE_KBPS 8000

struct picture {
    uint32_t fourcc, width, height;
    uint64_t seq;     /* the picture's number: PACKET frame_id */
    int64_t taken_us; /* monotonic clock at the copy: PACKET pts */
    uint8_t data[];   /* width x 4 bytes per row, no padding */
};

struct subscriber {
    struct session *ss; /* NULL: a free entry */
    uint32_t id;        /* the stream id on ss */
    uint16_t max_fps;
    uint32_t keepalive_ms;
    bool configured; /* has the stream's current CONFIGURED */
    bool wait_key;   /* sent nothing since it came or missed a packet */
    bool told_gap;   /* FRAME_DROPPED sent for the current gap */
    bool resuming;   /* after a gap: an IDR and a picture asked for */
};

struct hfx_scanout {
    struct hfx_server *server; /* borrowed: owns the scanout */
    uint32_t number;
    uint32_t bitrate_kbps;
    /* "": the server's. The stream's worker reads its copy in the stream's
     * configuration: a stopped stream's worker may still be opening its
     * encoder after the scanout is freed. */
    char encoder[HFX_MAX_NAME + 1];
    void (*want_picture)(void *user);
    void (*input)(void *user, const struct hfx_input *in, uint32_t width, uint32_t height);
    void *user;

    /* Shared with the embedder's thread. */
    pthread_mutex_t lock;
    unsigned max_fps;        /* the subscribers' highest; 0 when none */
    int64_t taken_ns;        /* when the last picture was copied; 0: never */
    uint64_t seq;            /* pictures copied */
    struct picture *pending; /* owned; not yet given to the stream */

    /* The loop's thread only. */
    struct subscriber subs[HFX_SCANOUT_MAX_SUBSCRIBERS];
    unsigned nsubs;
    struct stream *stream;            /* NULL until a picture came, or after a failure */
    struct hfx_configure cfg;         /* the stream's */
    struct stream_result *configured; /* its CONFIGURED, for who comes later; owned */
    int64_t last_picture_ms;          /* a picture went to the stream, or one was asked for */
    uint64_t pictures_encoded;        /* packets the stream made */
};

static bool fourcc_ok(uint32_t fourcc)
{
    return fourcc == HFX_FORMAT_BGRX || fourcc == HFX_FORMAT_BGRA || fourcc == HFX_FORMAT_RGBX ||
           fourcc == HFX_FORMAT_RGBA;
}

enum hfx_status hfx_server_add_scanout(struct hfx_server *s, const struct hfx_scanout_options *o,
                                       struct hfx_scanout **out)
{
    struct hfx_scanout *sc;

    if (!s || !o || !out)
        return HFX_E_INVALID;
    if (scanout_find(s, o->number))
        return HFX_E_INVALID;
    if (s->nscanouts >= HFX_SERVER_MAX_SCANOUTS)
        return HFX_E_TOO_LARGE;
    if (o->encoder && strlen(o->encoder) > HFX_MAX_NAME)
        return HFX_E_INVALID;
    sc = calloc(1, sizeof(*sc));
    if (!sc)
        return HFX_E_NOMEM;
    if (o->encoder)
        snprintf(sc->encoder, sizeof(sc->encoder), "%s", o->encoder);
    sc->server = s;
    sc->number = o->number;
    sc->bitrate_kbps = o->bitrate_kbps ? o->bitrate_kbps : DEFAULT_BITRATE_KBPS;
    sc->want_picture = o->want_picture;
    sc->input = o->input;
    sc->user = o->user;
    if (o->input)
        s->scanout_input = true;
    pthread_mutex_init(&sc->lock, NULL);
    s->scanouts[s->nscanouts++] = sc;
    *out = sc;
    return HFX_OK;
}

struct hfx_scanout *scanout_find(struct hfx_server *s, uint32_t number)
{
    for (unsigned i = 0; i < s->nscanouts; i++)
        if (s->scanouts[i]->number == number)
            return s->scanouts[i];
    return NULL;
}

enum hfx_status hfx_scanout_publish(struct hfx_scanout *sc, uint32_t fourcc, uint32_t width,
                                    uint32_t height, const uint8_t *data, uint32_t stride,
                                    uint32_t *retry_ms)
{
    struct picture *p, *old;
    int64_t now, interval;
    size_t row;

    if (!sc || !data || !retry_ms)
        return HFX_E_INVALID;
    *retry_ms = 0;
    if (!fourcc_ok(fourcc))
        return HFX_E_BAD_FORMAT;
    if (width < 2 || height < 2 || width > HFX_MAX_DIMENSION || height > HFX_MAX_DIMENSION)
        return HFX_E_BAD_DIMENSIONS;
    if (stride < width * 4)
        return HFX_E_BAD_STRIDE;
    width &= ~1u;
    height &= ~1u;

    now = hfx_clock_ns();
    pthread_mutex_lock(&sc->lock);
    if (!sc->max_fps) {
        pthread_mutex_unlock(&sc->lock);
        return HFX_OK;
    }
    interval = 1000000000 / (int64_t)sc->max_fps;
    if (sc->taken_ns && now - sc->taken_ns < interval) {
        int64_t left = interval - (now - sc->taken_ns);
        *retry_ms = (uint32_t)((left + 999999) / 1000000);
        pthread_mutex_unlock(&sc->lock);
        return HFX_E_BUSY;
    }
    sc->taken_ns = now;
    pthread_mutex_unlock(&sc->lock);

    /* The copy is made without the lock: the loop never waits for it. */
    row = (size_t)width * 4;
    p = malloc(sizeof(*p) + row * height);
    if (!p)
        return HFX_E_NOMEM;
    p->fourcc = fourcc;
    p->width = width;
    p->height = height;
    p->taken_us = now / 1000;
    for (uint32_t y = 0; y < height; y++)
        memcpy(p->data + row * y, data + (size_t)stride * y, row);

    pthread_mutex_lock(&sc->lock);
    p->seq = ++sc->seq;
    old = sc->pending;
    sc->pending = p;
    pthread_mutex_unlock(&sc->lock);
    free(old); /* the newer picture wins */
    server_wake(sc->server);
    return HFX_OK;
}

bool hfx_scanout_wanted(struct hfx_scanout *sc)
{
    bool wanted;

    pthread_mutex_lock(&sc->lock);
    wanted = sc->max_fps != 0;
    pthread_mutex_unlock(&sc->lock);
    return wanted;
}

/* The rate pictures are taken at: the highest a subscriber asked for. */
static void update_rate(struct hfx_scanout *sc)
{
    unsigned fps = 0;

    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++)
        if (sc->subs[i].ss && sc->subs[i].max_fps > fps)
            fps = sc->subs[i].max_fps;
    pthread_mutex_lock(&sc->lock);
    sc->max_fps = fps;
    pthread_mutex_unlock(&sc->lock);
}

static void ask_for_picture(struct hfx_server *s, struct hfx_scanout *sc)
{
    sc->last_picture_ms = server_now_ms(s);
    if (sc->want_picture)
        sc->want_picture(sc->user);
}

static void send_configured(struct hfx_server *s, struct hfx_scanout *sc, struct subscriber *sub)
{
    struct hfx_msg m;

    session_configured_msg(sc->configured, &sc->cfg, sub->id, &m);
    session_send(s, sub->ss, &m);
    sub->configured = true;
    sub->wait_key = true;
}

enum hfx_status scanout_subscribe(struct hfx_server *s, struct hfx_scanout *sc, struct session *ss,
                                  uint32_t id, const struct hfx_subscribe *req)
{
    struct subscriber *sub = NULL;

    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS && !sub; i++)
        if (!sc->subs[i].ss)
            sub = &sc->subs[i];
    if (!sub)
        return HFX_E_BUSY;
    memset(sub, 0, sizeof(*sub));
    sub->ss = ss;
    sub->id = id;
    sub->max_fps = req->max_fps;
    sub->keepalive_ms = req->keepalive_ms ? req->keepalive_ms : HFX_DEFAULT_KEEPALIVE_MS;
    sub->wait_key = true;
    sc->nsubs++;
    update_rate(sc);
    server_log(s, HFX_LOG_INFO,
               "session %u stream %u: subscribed to scanout %u (%u fps, keep-alive %u ms); %u "
               "subscriber(s)",
               ss->id, id, sc->number, sub->max_fps, sub->keepalive_ms, sc->nsubs);
    if (sc->stream) {
        if (sc->configured)
            send_configured(s, sc, sub);
        stream_request_keyframe(sc->stream);
    }
    /* A picture now, even when nothing changes: the new subscriber's
     * first (an IDR). */
    ask_for_picture(s, sc);
    return HFX_OK;
}

void scanout_unsubscribe(struct hfx_server *s, struct hfx_scanout *sc, struct session *ss,
                         uint32_t id)
{
    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++) {
        struct subscriber *sub = &sc->subs[i];
        if (sub->ss == ss && sub->id == id) {
            memset(sub, 0, sizeof(*sub));
            sc->nsubs--;
            update_rate(sc);
            server_log(s, HFX_LOG_INFO, "session %u stream %u: left scanout %u; %u subscriber(s)",
                       ss->id, id, sc->number, sc->nsubs);
            return;
        }
    }
}

bool scanout_takes_input(const struct hfx_scanout *sc)
{
    return sc->input != NULL;
}

void scanout_input(struct hfx_scanout *sc, const struct hfx_input *in)
{
    struct hfx_input moved = *in;

    if (in->kind == HFX_INPUT_POINTER) {
        if (!sc->stream)
            return;
        /* The subscriber may not have had the CONFIGURED of a resize yet. */
        if (moved.x >= sc->cfg.width)
            moved.x = sc->cfg.width - 1;
        if (moved.y >= sc->cfg.height)
            moved.y = sc->cfg.height - 1;
    }
    sc->input(sc->user, &moved, sc->cfg.width, sc->cfg.height);
}

void scanout_request_keyframe(struct hfx_scanout *sc)
{
    if (sc->stream)
        stream_request_keyframe(sc->stream);
}

/* The stream goes (a new size, a failure, the server's end). What it had
 * not passed on is dropped: its pictures are out of date. */
static void stop_stream(struct hfx_scanout *sc)
{
    struct stream_frame pending[HFX_MAX_WINDOW];
    unsigned n = 0;

    if (!sc->stream)
        return;
    stream_results_free(stream_stop(&sc->stream, pending, &n));
    for (unsigned i = 0; i < n; i++)
        stream_frame_release(&pending[i]);
    free(sc->configured);
    sc->configured = NULL;
    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++) {
        sc->subs[i].configured = false;
        sc->subs[i].wait_key = true;
    }
}

static enum hfx_status start_stream(struct hfx_server *s, struct hfx_scanout *sc,
                                    const struct picture *p)
{
    struct stream_params sp;

    memset(&sc->cfg, 0, sizeof(sc->cfg));
    sc->cfg.codec = HFX_CODEC_H264;
    sc->cfg.width = p->width;
    sc->cfg.height = p->height;
    sc->cfg.fourcc = p->fourcc;
    /* Nominal: pictures come on damage, at most this often. */
    sc->cfg.fps_num = sc->max_fps ? sc->max_fps : 30;
    sc->cfg.fps_den = 1;
    sc->cfg.bitrate_kbps = sc->bitrate_kbps;
    sc->cfg.rate_control = HFX_RC_ABR;
    sc->cfg.latency = HFX_LATENCY_LOWEST;
    snprintf(sc->cfg.encoder, sizeof(sc->cfg.encoder), "%s", sc->encoder);
    server_stream_params(s, &sc->cfg, sc, &sp);
    /* The newest picture wins: one waits while one is encoded. */
    sp.window = 1;
    sp.stream_id = SCANOUT_STREAM_ID;
    snprintf(sp.log_name, sizeof(sp.log_name), "scanout %u", sc->number);
    server_log(s, HFX_LOG_INFO, "scanout %u: %ux%u %s, %u kbit/s", sc->number, p->width, p->height,
               hfx_format_name(p->fourcc), sc->bitrate_kbps);
    return stream_start(&sp, &sc->stream);
}

/* Every subscriber gets ERROR on its stream and is gone (its stream id is
 * failed until CLOSE, as a stream whose encoder failed, §5). */
static void fail_subscribers(struct hfx_server *s, struct hfx_scanout *sc, enum hfx_status code,
                             const char *text)
{
    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++) {
        struct subscriber sub = sc->subs[i];
        if (!sub.ss)
            continue;
        scanout_unsubscribe(s, sc, sub.ss, sub.id);
        session_subscription_failed(s, sub.ss, sub.id, code, text);
    }
}

void scanout_take_pictures(struct hfx_server *s)
{
    for (unsigned i = 0; i < s->nscanouts; i++) {
        struct hfx_scanout *sc = s->scanouts[i];
        struct stream_frame f, dropped;
        struct picture *p;

        pthread_mutex_lock(&sc->lock);
        p = sc->pending;
        sc->pending = NULL;
        pthread_mutex_unlock(&sc->lock);
        if (!p)
            continue;
        if (!sc->nsubs) {
            free(p);
            continue;
        }
        if (sc->stream && (sc->cfg.width != p->width || sc->cfg.height != p->height ||
                           sc->cfg.fourcc != p->fourcc))
            stop_stream(sc);
        if (!sc->stream && start_stream(s, sc, p) != HFX_OK) {
            free(p);
            fail_subscribers(s, sc, HFX_E_ENCODER, "scanout: cannot start an encoder worker");
            continue;
        }
        memset(&f, 0, sizeof(f));
        f.frame_id = p->seq;
        f.seq = p->seq;
        f.pts = p->taken_us;
        f.pic.plane[0] = p->data;
        f.pic.stride[0] = p->width * 4;
        f.owned = p;
        sc->last_picture_ms = server_now_ms(s);
        if (stream_submit(sc->stream, &f, &dropped))
            stream_frame_release(&dropped);
    }
}

/* One packet to one subscriber, if its queue has room (see the top). */
static void deliver(struct hfx_server *s, struct subscriber *sub, const struct stream_result *r)
{
    struct hfx_msg m;

    if (!sub->configured || (sub->wait_key && !r->keyframe))
        return;
    memset(&m, 0, sizeof(m));
    m.hdr.stream = sub->id;
    if (session_queued(sub->ss) >= SUBSCRIBER_QUEUE_MAX) {
        if (!sub->told_gap) {
            m.hdr.type = HFX_MSG_FRAME_DROPPED;
            m.u.dropped.frame_id = r->frame_id;
            m.u.dropped.reason = HFX_DROP_QUEUE_FULL;
            session_send(s, sub->ss, &m);
            sub->told_gap = true;
        }
        sub->wait_key = true;
        return;
    }
    m.hdr.type = HFX_MSG_PACKET;
    m.hdr.flags = r->keyframe ? HFX_PACKET_FLAG_KEYFRAME : 0;
    m.u.packet.frame_id = r->frame_id;
    m.u.packet.pts = r->pts;
    m.u.packet.dts = r->dts;
    m.u.packet.data = r->data;
    m.u.packet.data_len = r->len;
    session_send(s, sub->ss, &m);
    s->stats.frames_encoded++;
    sub->wait_key = false;
    sub->told_gap = false;
    sub->resuming = false;
}

/* Subscribers that missed packets and can take them again now resume at
 * an IDR of a picture asked for at once (not at the next change or
 * keep-alive). The stream throttles forced IDRs. */
static void resume_waiting(struct hfx_server *s, struct hfx_scanout *sc)
{
    bool ask = false;

    for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++) {
        struct subscriber *sub = &sc->subs[i];
        if (sub->ss && sub->told_gap && !sub->resuming &&
            session_queued(sub->ss) < SUBSCRIBER_QUEUE_MAX) {
            sub->resuming = true;
            ask = true;
        }
    }
    if (ask && sc->stream) {
        stream_request_keyframe(sc->stream);
        ask_for_picture(s, sc);
    }
}

void scanout_forward_results(struct hfx_server *s, struct hfx_scanout *sc)
{
    struct stream_result *r, *next;

    if (!sc->stream)
        return;
    for (r = stream_take_results(sc->stream); r; r = next) {
        next = r->next;
        switch (r->type) {
        case RESULT_CONFIGURED:
            free(sc->configured);
            sc->configured = r;
            r->next = NULL;
            for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++)
                if (sc->subs[i].ss)
                    send_configured(s, sc, &sc->subs[i]);
            continue; /* kept */
        case RESULT_PACKET:
            sc->pictures_encoded++;
            for (unsigned i = 0; i < HFX_SCANOUT_MAX_SUBSCRIBERS; i++)
                if (sc->subs[i].ss)
                    deliver(s, &sc->subs[i], r);
            break;
        case RESULT_ERROR:
            server_log(s, HFX_LOG_WARN, "scanout %u: %s: %s", sc->number,
                       hfx_status_name(r->status), r->text);
            fail_subscribers(s, sc, r->status, r->text);
            stream_results_free(r);
            stop_stream(sc);
            return;
        default:
            /* DROPPED: a picture a newer one replaced; nobody asked for
             * it. FLUSHED: never asked for. */
            break;
        }
        free(r);
    }
}

int scanout_deadlines(struct hfx_server *s, int64_t now)
{
    int64_t wait = -1;

    for (unsigned i = 0; i < s->nscanouts; i++) {
        struct hfx_scanout *sc = s->scanouts[i];
        uint32_t keepalive = HFX_MAX_KEEPALIVE_MS;
        int64_t due;

        if (!sc->nsubs)
            continue;
        /* Every pass of the loop: a subscriber's queue shrinks as the
         * loop writes it. */
        resume_waiting(s, sc);
        for (unsigned k = 0; k < HFX_SCANOUT_MAX_SUBSCRIBERS; k++)
            if (sc->subs[k].ss && sc->subs[k].keepalive_ms < keepalive)
                keepalive = sc->subs[k].keepalive_ms;
        due = sc->last_picture_ms + keepalive;
        if (now >= due) {
            ask_for_picture(s, sc);
            due = now + keepalive;
        }
        if (wait < 0 || due - now < wait)
            wait = due - now;
    }
    return wait < 0 ? -1 : (int)wait;
}

void scanout_work(struct hfx_server *s)
{
    for (unsigned i = 0; i < s->nscanouts; i++)
        if (s->scanouts[i]->stream)
            stream_work(s->scanouts[i]->stream);
}

void scanout_free_all(struct hfx_server *s)
{
    for (unsigned i = 0; i < s->nscanouts; i++) {
        struct hfx_scanout *sc = s->scanouts[i];
        stop_stream(sc);
        free(sc->pending);
        pthread_mutex_destroy(&sc->lock);
        free(sc);
        s->scanouts[i] = NULL;
    }
    s->nscanouts = 0;
}
