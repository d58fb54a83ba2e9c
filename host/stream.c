/* SPDX-License-Identifier: MIT */
#include "stream.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hfx/h264.h"
#include "util/clock.h"
#include "util/log.h"

/* Frames the encoder may hold before their packet comes out (encoder
 * delay); x264 with zerolatency holds none. */
#define INFLIGHT_RING 128

struct inflight {
    uint64_t frame_id;
    uint64_t seq;
    int64_t pts;
    bool forced;
    bool done; /* answered: its PACKET or FRAME_DROPPED was posted */
};

struct stream {
    struct stream_params p;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* Guarded by lock. */
    struct stream_frame pending[HFX_MAX_WINDOW];
    unsigned head;
    unsigned count;
    bool stop;
    unsigned flush; /* FLUSHes not yet done: one FLUSHED each (§5.8) */
    bool keyframe_wanted;
    uint32_t new_kbps;
    struct stream_result *results;
    struct stream_result *results_tail;
    struct stream_stats stats;

    /* Guarded by p.ready->lock. */
    struct stream *ready_next, *ready_prev;
    bool on_ready;

    /* Worker only. */
    struct hfx_encoder *enc;
    int64_t seq;
    int64_t out_seq; /* oldest frame given to the encoder and not answered */
    struct inflight ring[INFLIGHT_RING];
    /* The stream's ERROR HFX_E_NOMEM, allocated at stream_start for the day
     * a result cannot be (post); NULL once used. */
    struct stream_result *lost;
    int64_t last_forced_ms;
    int64_t last_idr_ms;
    uint32_t keyint_frames_since;
    unsigned failures_in_a_row;
    bool usable;
    bool begun; /* the encoder was opened (or failed to) */
};

/* Keyframe intervals are measured with this: the server's clock. */
static int64_t stream_now_ms(const struct stream *s)
{
    return s->p.clock ? s->p.clock(s->p.clock_user) : hfx_clock_ms();
}

static void slog(struct stream *s, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void slog(struct stream *s, enum hfx_log_level level, const char *fmt, ...)
{
    char prefix[48];
    va_list ap;

    /* Debug lines are written per frame; do not format a prefix no one reads. */
    if (!s->p.log)
        return;
    if (s->p.log_name[0])
        snprintf(prefix, sizeof(prefix), "%s: ", s->p.log_name);
    else
        snprintf(prefix, sizeof(prefix), "session %u stream %u: ", s->p.session_id,
                 s->p.stream_id);
    va_start(ap, fmt);
    hfx_vlog(s->p.log, s->p.log_user, level, prefix, fmt, ap);
    va_end(ap);
}

void stream_frame_release(struct stream_frame *f)
{
    free(f->owned);
    f->owned = NULL;
    shm_region_unref(&f->region);
}

void stream_ready_init(struct stream_ready *r, int wake_fd)
{
    pthread_mutex_init(&r->lock, NULL);
    r->head = r->tail = NULL;
    r->wake_fd = wake_fd;
}

void stream_ready_destroy(struct stream_ready *r)
{
    pthread_mutex_destroy(&r->lock);
}

/* s has results: onto the list, once. Called with s->lock held, and only
 * while s is not stopped, so that stream_stop (which takes s->lock) leaves
 * nothing behind on the list. */
static void ready_push(struct stream *s)
{
    static const uint8_t byte = 1;
    struct stream_ready *r = s->p.ready;
    bool was_empty;

    pthread_mutex_lock(&r->lock);
    if (s->on_ready) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    was_empty = !r->head;
    s->on_ready = true;
    s->ready_next = NULL;
    s->ready_prev = r->tail;
    if (r->tail)
        r->tail->ready_next = s;
    else
        r->head = s;
    r->tail = s;
    pthread_mutex_unlock(&r->lock);
    /* One byte per empty-to-not transition; a full pipe already holds a
     * wake-up, so EAGAIN is fine. */
    if (was_empty && write(r->wake_fd, &byte, 1) < 0 && errno != EAGAIN)
        slog(s, HFX_LOG_WARN, "wake pipe: %s", strerror(errno));
}

/* Off the list, with r->lock held. */
static void ready_unlink(struct stream_ready *r, struct stream *s)
{
    if (!s->on_ready)
        return;
    if (s->ready_prev)
        s->ready_prev->ready_next = s->ready_next;
    else
        r->head = s->ready_next;
    if (s->ready_next)
        s->ready_next->ready_prev = s->ready_prev;
    else
        r->tail = s->ready_prev;
    s->ready_next = s->ready_prev = NULL;
    s->on_ready = false;
}

/* Off the list; s->lock held. */
static void leave_ready(struct stream *s)
{
    pthread_mutex_lock(&s->p.ready->lock);
    ready_unlink(s->p.ready, s);
    pthread_mutex_unlock(&s->p.ready->lock);
}

struct stream *stream_ready_pop(struct stream_ready *r, void **owner, uint32_t *stream_id)
{
    struct stream *s;

    pthread_mutex_lock(&r->lock);
    s = r->head;
    if (s) {
        ready_unlink(r, s);
        *owner = s->p.owner;
        *stream_id = s->p.stream_id;
    }
    pthread_mutex_unlock(&r->lock);
    return s;
}

static struct stream_result *new_result(enum stream_result_type type, size_t len)
{
    struct stream_result *r = calloc(1, sizeof(*r) + len);
    if (r) {
        r->type = type;
        r->len = len;
    }
    return r;
}

/* Append under the lock and wake the I/O thread. r == NULL is a result that
 * could not be allocated: its frame, CONFIGURE or FLUSH would go without
 * the answer docs/protocol.md §5 promises, so the stream fails instead
 * (§8: ERROR HFX_E_NOMEM on the stream, allocated in advance). The I/O
 * thread then ends it: every frame still unanswered gets FRAME_DROPPED
 * ENCODER and every FLUSH its FLUSHED (session.c, end_stream). */
static void post(struct stream *s, struct stream_result *r)
{
    if (!r) {
        s->usable = false; /* what comes before the end is dropped */
        r = s->lost;
        s->lost = NULL;
        if (!r)
            return; /* the stream has failed already */
        slog(s, HFX_LOG_ERROR, "out of memory for a result; the stream fails");
    }
    pthread_mutex_lock(&s->lock);
    if (s->stop) {
        pthread_mutex_unlock(&s->lock);
        free(r);
        return;
    }
    if (s->results_tail)
        s->results_tail->next = r;
    else
        s->results = r;
    s->results_tail = r;
    ready_push(s);
    pthread_mutex_unlock(&s->lock);
}

static void post_dropped(struct stream *s, uint64_t frame_id, uint64_t seq, uint32_t reason)
{
    struct stream_result *r = new_result(RESULT_DROPPED, 0);
    if (r) {
        r->frame_id = frame_id;
        r->seq = seq;
        r->reason = reason;
    }
    pthread_mutex_lock(&s->lock);
    s->stats.frames_dropped++;
    pthread_mutex_unlock(&s->lock);
    post(s, r);
}

/* §8 lists the codes a host sends; local ones (an encoder's HFX_E_INVALID
 * for a rate it cannot represent, HFX_E_IO, ...) go out as HFX_E_ENCODER. */
static enum hfx_status sendable(enum hfx_status st)
{
    switch (st) {
    case HFX_E_NO_ENCODER:
    case HFX_E_ENCODER:
    case HFX_E_NOMEM:
    case HFX_E_TOO_MANY_STREAMS:
    case HFX_E_BAD_FORMAT:
    case HFX_E_BAD_DIMENSIONS:
        return st;
    default:
        return HFX_E_ENCODER;
    }
}

static void post_error(struct stream *s, enum hfx_status st, const char *text)
{
    struct stream_result *r = new_result(RESULT_ERROR, 0);
    if (r) {
        r->status = sendable(st);
        snprintf(r->text, sizeof(r->text), "%s", text);
    }
    post(s, r);
}

static bool open_encoder(struct stream *s)
{
    const char *name = s->p.cfg.encoder[0] ? s->p.cfg.encoder : s->p.encoder;
    struct hfx_encoder_options eo = {name, s->p.encoder_threads, s->p.log, s->p.log_user};
    enum hfx_status st = hfx_encoder_open_with(&s->p.cfg, &eo, &s->enc);
    char text[160];

    if (st != HFX_OK) {
        snprintf(text, sizeof(text), "cannot open encoder %s: %s", name ? name : "auto",
                 hfx_strerror(st));
        slog(s, HFX_LOG_WARN, "%s", text);
        post_error(s, st, text);
        return false;
    }
    const uint8_t *extra = NULL;
    size_t extra_len = 0;
    hfx_encoder_extradata(s->enc, &extra, &extra_len);
    if (extra_len > HFX_MAX_EXTRADATA)
        extra_len = 0; /* cannot be sent; SPS/PPS still precede every IDR */
    struct stream_result *r = new_result(RESULT_CONFIGURED, extra_len);
    if (r) {
        snprintf(r->encoder, sizeof(r->encoder), "%s", hfx_encoder_name(s->enc));
        if (extra_len)
            memcpy(r->data, extra, extra_len);
        if (!hfx_h264_sps_profile_level(extra, extra_len, &r->profile_idc, &r->level_idc))
            r->profile_idc = r->level_idc = 0;
    }
    pthread_mutex_lock(&s->lock);
    snprintf(s->stats.encoder, sizeof(s->stats.encoder), "%s", hfx_encoder_name(s->enc));
    pthread_mutex_unlock(&s->lock);
    slog(s, HFX_LOG_INFO, "encoder %s opened for %ux%u %s", hfx_encoder_name(s->enc),
         s->p.cfg.width, s->p.cfg.height, hfx_format_name(s->p.cfg.fourcc));
    post(s, r);
    return true;
}

/* The frame in `in` has its answer: move out_seq past the answered ones. */
static void answered(struct stream *s, struct inflight *in)
{
    in->done = true;
    while (s->out_seq < s->seq && s->ring[(uint64_t)s->out_seq % INFLIGHT_RING].done)
        s->out_seq++;
}

/* The encoder lost the output of the frames it holds (a receive or flush
 * failed, e.g. out of memory), or finished without giving it: drop each
 * with reason ENCODER (§5.5), so that none goes unanswered. A packet that
 * still comes for one of them is not posted (post_packet). */
static void drop_held(struct stream *s)
{
    for (; s->out_seq < s->seq; s->out_seq++) {
        struct inflight *in = &s->ring[(uint64_t)s->out_seq % INFLIGHT_RING];
        if (!in->done) {
            in->done = true;
            post_dropped(s, in->frame_id, in->seq, HFX_DROP_ENCODER);
        }
    }
}

static void post_packet(struct stream *s, const struct hfx_encoded *e)
{
    struct inflight *in = &s->ring[(uint64_t)e->pts % INFLIGHT_RING];
    struct stream_result *r;
    int64_t now = stream_now_ms(s);

    if (in->done) {
        slog(s, HFX_LOG_DEBUG, "packet for frame %llu, already answered",
             (unsigned long long)in->frame_id);
        return;
    }
    answered(s, in);
    r = new_result(RESULT_PACKET, e->len);
    if (e->keyframe)
        s->last_idr_ms = now;
    if (in->forced && !e->keyframe) {
        /* Encoders may answer a forced IDR with an intra refresh or a
         * plain I frame (docs/architecture.md, "Keyframes"): ask again on the next frame. */
        pthread_mutex_lock(&s->lock);
        s->keyframe_wanted = true;
        pthread_mutex_unlock(&s->lock);
        s->last_forced_ms = INT64_MIN / 2;
        slog(s, HFX_LOG_DEBUG, "forced IDR for frame %llu did not come; forcing again",
             (unsigned long long)in->frame_id);
    }
    if (!r) {
        slog(s, HFX_LOG_ERROR, "out of memory for a %zu-byte packet", e->len);
        post_dropped(s, in->frame_id, in->seq, HFX_DROP_ENCODER);
        return;
    }
    memcpy(r->data, e->data, e->len);
    r->frame_id = in->frame_id;
    r->seq = in->seq;
    r->pts = in->pts;
    /* No B-frames: decode order is presentation order. */
    r->dts = in->pts;
    if (e->dts != e->pts)
        r->dts = s->ring[(uint64_t)e->dts % INFLIGHT_RING].pts;
    r->keyframe = e->keyframe;
    pthread_mutex_lock(&s->lock);
    s->stats.frames_encoded++;
    s->stats.bytes_out += e->len;
    pthread_mutex_unlock(&s->lock);
    post(s, r);
}

/* Pass on what the encoder has; false when it failed to give a packet. */
static bool drain(struct stream *s)
{
    struct hfx_encoded e;
    enum hfx_status st;

    while ((st = hfx_encoder_receive(s->enc, &e)) == HFX_OK)
        post_packet(s, &e);
    if (st == HFX_INCOMPLETE || st == HFX_E_CLOSED)
        return true;
    /* That packet is lost, and which frame it was for is not known. */
    slog(s, HFX_LOG_WARN, "receive: %s", hfx_strerror(st));
    drop_held(s);
    return false;
}

/* One more frame the encoder failed on (send or receive). One bad frame is
 * that frame's loss; an encoder that fails frame after frame would
 * otherwise turn every FRAME into a drop for as long as the client keeps
 * sending. */
static void encoder_failed(struct stream *s)
{
    if (++s->failures_in_a_row == STREAM_FAIL_LIMIT) {
        char text[96];
        snprintf(text, sizeof(text), "the encoder failed on %d frames in a row",
                 STREAM_FAIL_LIMIT);
        post_error(s, HFX_E_ENCODER, text);
        s->usable = false;
    }
}

static bool decide_force(struct stream *s, bool wanted)
{
    int64_t now = stream_now_ms(s);
    uint32_t keyint_ms = s->p.cfg.keyint_ms;

    /* Wall-clock interval: capture that only produces frames on damage
     * would otherwise go for minutes without an IDR. */
    if (keyint_ms && now - s->last_idr_ms >= (int64_t)keyint_ms)
        return true;
    if (wanted && now - s->last_forced_ms >= s->p.keyframe_min_interval_ms)
        return true;
    return false;
}

/* A RESOURCE frame's picture, read by the embedder (hfx/resource.h) into
 * a block the frame then owns. False when it could not be: the caller
 * answers the frame FRAME_DROPPED reason SOURCE. */
static bool read_resource(struct stream *s, struct stream_frame *f)
{
    const struct hfx_configure *cfg = &s->p.cfg;
    struct hfx_resource_request req = {
        .resource_id = f->resource_id,
        .fourcc = cfg->fourcc,
        .width = cfg->width,
        .height = cfg->height,
        .offset = f->resource_offset,
        .stride = f->resource_stride,
    };
    uint32_t row_bytes, rows;
    char why[160] = "";
    enum hfx_status st;

    /* A resource holds one plane; other formats fail in the reader's
     * check, which says so. */
    if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, 0, &row_bytes, &rows))
        return false;
    req.dst = malloc((size_t)row_bytes * rows);
    if (!req.dst) {
        slog(s, HFX_LOG_WARN, "frame %llu: no memory for resource %u",
             (unsigned long long)f->frame_id, f->resource_id);
        return false;
    }
    st = s->p.resources.read(s->p.resources.user, &req, why, sizeof(why));
    if (st != HFX_OK) {
        free(req.dst);
        slog(s, HFX_LOG_WARN, "frame %llu dropped: %s%s%s", (unsigned long long)f->frame_id,
             hfx_strerror(st), why[0] ? ": " : "", why);
        return false;
    }
    f->owned = req.dst;
    f->pic.plane[0] = req.dst;
    f->pic.stride[0] = row_bytes;
    return true;
}

static void encode_one(struct stream *s, struct stream_frame *f, bool force)
{
    uint64_t t0 = (uint64_t)hfx_clock_ns();
    int64_t seq = s->seq++;
    struct inflight *in = &s->ring[(uint64_t)seq % INFLIGHT_RING];
    enum hfx_status st;

    in->frame_id = f->frame_id;
    in->seq = f->seq;
    in->pts = f->pts;
    in->forced = force;
    in->done = false;
    if (s->p.test_encode_delay_ms)
        hfx_sleep_ms(s->p.test_encode_delay_ms);
    if (force)
        s->last_forced_ms = stream_now_ms(s);
    st = hfx_encoder_send(s->enc, &f->pic, seq, force);
    stream_frame_release(f);
    if (st != HFX_OK) {
        slog(s, HFX_LOG_WARN, "encode of frame %llu failed: %s", (unsigned long long)in->frame_id,
             hfx_strerror(st));
        answered(s, in);
        post_dropped(s, in->frame_id, in->seq, HFX_DROP_ENCODER);
        encoder_failed(s);
        return;
    }
    if (!drain(s)) {
        encoder_failed(s);
        return;
    }
    s->failures_in_a_row = 0;
    uint64_t dt = (uint64_t)hfx_clock_ns() - t0;
    pthread_mutex_lock(&s->lock);
    s->stats.encode_ns += dt;
    pthread_mutex_unlock(&s->lock);
}

static void do_flush(struct stream *s)
{
    struct hfx_encoded e;
    enum hfx_status st = hfx_encoder_flush(s->enc);

    if (st == HFX_OK) {
        while ((st = hfx_encoder_receive(s->enc, &e)) == HFX_OK)
            post_packet(s, &e);
    }
    if (st != HFX_E_CLOSED && st != HFX_INCOMPLETE)
        slog(s, HFX_LOG_WARN, "flush: %s", hfx_strerror(st));
    /* §5.8: every frame before the FLUSH is answered before FLUSHED, also
     * one whose packet was lost or that the drained encoder never gave. */
    drop_held(s);
    post(s, new_result(RESULT_FLUSHED, 0));
}

void stream_results_free(struct stream_result *r)
{
    while (r) {
        struct stream_result *next = r->next;
        free(r);
        r = next;
    }
}

static void free_stream(struct stream *s)
{
    stream_results_free(s->results);
    for (unsigned i = 0; i < s->count; i++)
        stream_frame_release(&s->pending[(s->head + i) % HFX_MAX_WINDOW]);
    free(s->lost);
    hfx_encoder_free(&s->enc);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s);
}

/* Before the first job: open the encoder. A result that cannot be posted,
 * CONFIGURED included, fails the stream (post): usable is only ever
 * cleared. */
static void begin(struct stream *s)
{
    s->usable = true;
    if (!open_encoder(s))
        s->usable = false;
    s->last_idr_ms = stream_now_ms(s);
    s->last_forced_ms = INT64_MIN / 2;
    s->begun = true;
}

/* Do the jobs that are queued, with s->lock held (it is dropped while the
 * encoder works); with `wait`, wait for more until the stream is stopped.
 * Returns with the lock held. */
static void run_jobs(struct stream *s, bool wait)
{
    for (;;) {
        while (wait && !s->stop && !s->count && !s->flush && !s->new_kbps)
            pthread_cond_wait(&s->cond, &s->lock);
        if (s->stop || (!s->count && !s->flush && !s->new_kbps))
            return;
        if (s->new_kbps) {
            uint32_t kbps = s->new_kbps;
            s->new_kbps = 0;
            pthread_mutex_unlock(&s->lock);
            if (s->usable && hfx_encoder_set_bitrate(s->enc, kbps) != HFX_OK)
                slog(s, HFX_LOG_WARN, "bitrate change to %u kbit/s failed", kbps);
            else if (s->usable)
                slog(s, HFX_LOG_DEBUG, "bitrate now %u kbit/s", kbps);
            pthread_mutex_lock(&s->lock);
            continue;
        }
        if (s->count) {
            struct stream_frame f = s->pending[s->head];
            bool wanted = s->keyframe_wanted || f.force_key;
            s->head = (s->head + 1) % HFX_MAX_WINDOW;
            s->count--;
            pthread_mutex_unlock(&s->lock);
            if (!s->usable) {
                stream_frame_release(&f);
                post_dropped(s, f.frame_id, f.seq, HFX_DROP_ENCODER);
            } else if (f.resource_id && !read_resource(s, &f)) {
                stream_frame_release(&f);
                post_dropped(s, f.frame_id, f.seq, HFX_DROP_SOURCE);
            } else {
                bool force = decide_force(s, wanted);
                if (force) {
                    pthread_mutex_lock(&s->lock);
                    s->keyframe_wanted = false;
                    pthread_mutex_unlock(&s->lock);
                } else if (wanted) {
                    /* Throttled: keep the request for a later frame. */
                    pthread_mutex_lock(&s->lock);
                    s->keyframe_wanted = true;
                    pthread_mutex_unlock(&s->lock);
                }
                encode_one(s, &f, force);
            }
            pthread_mutex_lock(&s->lock);
            continue;
        }
        /* flush, with nothing pending */
        s->flush--;
        pthread_mutex_unlock(&s->lock);
        if (s->usable)
            do_flush(s);
        else
            post(s, new_result(RESULT_FLUSHED, 0));
        pthread_mutex_lock(&s->lock);
    }
}

/* So that top -H, perf and bench/run-vm-resource can tell encoding from
 * the embedder's own threads (an encoder's helper threads inherit it). */
static void name_thread(void)
{
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "hfx-encode");
#elif defined(__APPLE__)
    pthread_setname_np("hfx-encode");
#endif
}

static void *worker(void *arg)
{
    struct stream *s = arg;
    struct worker_count *wc = s->p.workers;
    bool idle;

    name_thread();
    begin(s);
    pthread_mutex_lock(&s->lock);
    run_jobs(s, true);
    pthread_mutex_unlock(&s->lock);
    free_stream(s);

    pthread_mutex_lock(&wc->lock);
    wc->live--;
    idle = wc->live == 0 && wc->trim_heap_when_idle;
    pthread_cond_broadcast(&wc->cond);
    pthread_mutex_unlock(&wc->lock);
#ifdef __GLIBC__
    /* Here rather than where the server ends the stream: only now is the
     * encoder freed. A stream starting meanwhile costs nothing but a trim. */
    if (idle)
        malloc_trim(0);
#endif
    return NULL;
}

void stream_work(struct stream *s)
{
    if (!s->p.in_loop)
        return;
    if (!s->begun)
        begin(s);
    pthread_mutex_lock(&s->lock);
    run_jobs(s, false);
    pthread_mutex_unlock(&s->lock);
}

enum hfx_status stream_start(const struct stream_params *p, struct stream **out)
{
    struct stream *s;
    pthread_attr_t attr;
    int err;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return HFX_E_NOMEM;
    s->p = *p;
    s->lost = new_result(RESULT_ERROR, 0);
    if (!s->lost) {
        free(s);
        return HFX_E_NOMEM;
    }
    s->lost->status = HFX_E_NOMEM;
    snprintf(s->lost->text, sizeof(s->lost->text),
             "out of memory: a result of the stream was lost");
    if (s->p.window < 1)
        s->p.window = 1;
    if (s->p.window > HFX_MAX_WINDOW)
        s->p.window = HFX_MAX_WINDOW;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (p->in_loop) {
        *out = s;
        return HFX_OK;
    }

    pthread_mutex_lock(&p->workers->lock);
    p->workers->live++;
    pthread_mutex_unlock(&p->workers->lock);

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    err = pthread_create(&s->thread, &attr, worker, s);
    pthread_attr_destroy(&attr);
    if (err) {
        pthread_mutex_lock(&p->workers->lock);
        p->workers->live--;
        pthread_mutex_unlock(&p->workers->lock);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s->lost);
        free(s);
        return HFX_E_NOMEM;
    }
    *out = s;
    return HFX_OK;
}

bool stream_submit(struct stream *s, struct stream_frame *f, struct stream_frame *dropped)
{
    bool drop = false;

    pthread_mutex_lock(&s->lock);
    s->stats.frames_in++;
    if (s->count >= s->p.window) {
        /* Drop oldest not yet encoded (docs/protocol.md §6): the newest
         * picture is the one a viewer wants. */
        *dropped = s->pending[s->head];
        s->head = (s->head + 1) % HFX_MAX_WINDOW;
        s->count--;
        s->stats.frames_dropped++;
        if (dropped->force_key)
            s->keyframe_wanted = true; /* the request survives its frame */
        drop = true;
    }
    s->pending[(s->head + s->count) % HFX_MAX_WINDOW] = *f;
    s->count++;
    memset(f, 0, sizeof(*f));
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return drop;
}

void stream_request_keyframe(struct stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->keyframe_wanted = true;
    pthread_mutex_unlock(&s->lock);
}

void stream_set_bitrate(struct stream *s, uint32_t kbps)
{
    pthread_mutex_lock(&s->lock);
    s->new_kbps = kbps;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void stream_flush(struct stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->flush++;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

struct stream_result *stream_take_results(struct stream *s)
{
    struct stream_result *r;

    pthread_mutex_lock(&s->lock);
    r = s->results;
    s->results = s->results_tail = NULL;
    /* Nothing left to take: the I/O thread need not visit it again. */
    leave_ready(s);
    pthread_mutex_unlock(&s->lock);
    return r;
}

void stream_get_stats(struct stream *s, struct stream_stats *out)
{
    pthread_mutex_lock(&s->lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->lock);
}

struct stream_result *stream_stop(struct stream **sp, struct stream_frame *pending, unsigned *n)
{
    struct stream *s = *sp;
    struct stream_result *left;

    *n = 0;
    *sp = NULL;
    pthread_mutex_lock(&s->lock);
    /* Under s->lock: post() cannot put it back before stop is seen. */
    leave_ready(s);
    left = s->results;
    s->results = s->results_tail = NULL;
    while (s->count) {
        pending[(*n)++] = s->pending[s->head];
        s->head = (s->head + 1) % HFX_MAX_WINDOW;
        s->count--;
    }
    if (s->p.in_loop) {
        /* Nothing is encoding: the caller runs stream_work. */
        pthread_mutex_unlock(&s->lock);
        free_stream(s);
        return left;
    }
    /* The worker frees s once it sees stop: s is not touched after. */
    s->stop = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return left;
}
