/* SPDX-License-Identifier: MIT */
/*
 * bench/soak-client: the client side of scripts/soak, a long run of one
 * hfxd under churn. Not a benchmark and not part of the test suite: the
 * script runs it by hand, samples hfxd meanwhile and judges the result.
 *
 * N sessions, each on a thread of its own with its own hfx_client, send
 * frames at a frame rate within the host's window (INLINE, or SHM from one
 * sealed memfd that holds every source picture) and, at random from a
 * seeded generator: request keyframes, force them on a frame, change the
 * bitrate, reconfigure the live stream (other sizes and formats too), close
 * the stream and open one again, flush, ping, and end the connection:
 * orderly (FLUSH, wait for every answer, BYE), abruptly with frames in
 * flight, or in the middle of a FRAME's bytes; then connect again. Every
 * idle_every seconds all sessions disconnect and wait idle_for seconds, so
 * that the script can see hfxd with no client.
 *
 * Every frame is accounted for (docs/protocol.md §5: exactly one PACKET or
 * FRAME_DROPPED per FRAME, in frame order; §5.1/§5.9: a reconfigure or
 * CLOSE answers the pending frames before the next CONFIGURED). A frame
 * ends up in exactly one of: encoded, dropped (by reason), abandoned (in
 * flight when this client tore its connection down: it cannot be
 * answered), lost_at_close (of a configuration that was closed or replaced,
 * and a later CONFIGURED came without its answer), unanswered (in flight
 * when the connection ended any other way: after FLUSH and a PING barrier,
 * a stall, the host closing). The first PACKET of each configuration must
 * carry the KEYFRAME flag, hold SPS, PPS and an IDR slice, and decode
 * (libavcodec) to one picture of the configured size.
 *
 * Output for scripts/soak, one line each on stdout:
 *   stat t=S connected=N name=value ...   totals of all sessions, every second
 *   idle n=I t=S                          every session is disconnected
 *   busy n=I t=S                          they connect again
 *   result session=K|all name=value ...   at the end
 * Problems go to stderr as they are found, at most REPORT_LIMIT of each
 * kind per session ("soak-client: session 3: ...").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "h264-decode.h"
#include "hfx/client.h"
#include "hfx/h264.h"
#include "pattern.h"

#define SOURCE_FRAMES 3   /* pictures per shape, cycled: the source costs nothing */
#define MAX_TRACKED 512   /* frames a connection tracks until answered (window + lost) */
#define GEN_RING 16       /* configurations a connection remembers */
#define MAX_SESSIONS 64
#define CONNECT_TIMEOUT_MS 5000
#define SUBMIT_TIMEOUT_MS 10000
/* Something awaited (an answer, CONFIGURED, FLUSHED, PONG) and no message
 * at all for this long: a stall. Generous: 2 shared cores. */
#define STALL_MS 15000
/* An orderly end waits this long for FLUSHED, the PONG and every answer. */
#define DRAIN_MS 15000
/* A keyframe request (or a forced frame) must give an IDR within this,
 * well above hfxd's default minimum interval between forced IDRs (200 ms). */
#define KEYREQ_MS 3000
#define REPORT_LIMIT 5
#define PAGE 4096u

struct shape {
    uint32_t width, height, fourcc;
    unsigned weight; /* relative chance of being picked by a reconfigure */
};

/* Connections start at the first; reconfigures pick by weight. 1080p is
 * rare: it costs three times the CPU of 720p on a shared machine. */
static const struct shape shapes[] = {
    {1280, 720, HFX_FORMAT_NV12, 40}, {1280, 720, HFX_FORMAT_I420, 15},
    {640, 360, HFX_FORMAT_NV12, 10},  {854, 480, HFX_FORMAT_BGRX, 10},
    {320, 240, HFX_FORMAT_RGBA, 8},   {960, 540, HFX_FORMAT_I420, 10},
    {1920, 1080, HFX_FORMAT_NV12, 4}, {1280, 720, HFX_FORMAT_BGRA, 3},
};
#define N_SHAPES (sizeof(shapes) / sizeof(shapes[0]))

/* Every counter of a session, in the order printed. */
#define COUNTERS(X)                                                                         \
    X(connects) X(connect_failures) X(shm_connections) X(ends_orderly) X(ends_abrupt)       \
    X(ends_cut) X(ends_stall) X(ends_host) X(idle_parks) X(configures) X(reconfigures)      \
    X(closes) X(configured) X(flushes) X(flushed) X(keyreqs) X(forced) X(keyreqs_met)        \
    X(keyreqs_missed) X(bitrates) X(pings) X(pongs) X(pings_unanswered) X(submitted)          \
    X(submitted_shm) X(encoded) X(dropped_queue_full) X(dropped_encoder) X(dropped_closed)   \
    X(abandoned) X(cut_frames) X(lost_at_close) X(unanswered) X(late_answers)                \
    X(out_of_order) X(duplicates) X(unknown_answers) X(flushed_early) X(first_checked)       \
    X(first_not_keyframe) X(first_not_idr) X(first_undecodable) X(configure_mismatch)        \
    X(stream_errors) X(connection_errors) X(stalls) X(bytes)

struct counters {
#define FIELD(name) uint64_t name;
    COUNTERS(FIELD)
#undef FIELD
};

struct source {
    struct hfx_image img[SOURCE_FRAMES];
    uint64_t shm_offset[SOURCE_FRAMES]; /* where each picture sits in the memfd */
};

struct options {
    const char *address;
    unsigned sessions;
    double duration_s;
    uint64_t seed;
    double fps;
    double idle_every_s; /* 0: never */
    double idle_for_s;
    double shm_share;    /* chance that a connection sends SHM frames */
    double mean_life_s;  /* mean connection lifetime */
};

/* What main() shares with the session threads. Written by main() before
 * the threads start, except the flags and the idle bookkeeping. */
struct soak {
    struct options opt;
    struct source src[N_SHAPES];
    int shm_fd; /* sealed memfd with every source picture; -1: none */
    uint64_t shm_size;
    int64_t start_ms;
    atomic_bool stop;
    atomic_bool idle;
    pthread_mutex_t lock; /* guards parked */
    pthread_cond_t cond;
    unsigned parked;
};

struct session {
    struct soak *soak; /* borrowed */
    unsigned index;
    uint64_t rng;
    uint64_t connections; /* started so far, for the messages */
    struct counters c;    /* the thread's own */
    unsigned reported[8]; /* problems printed, per kind */
    pthread_t thread;
    /* A copy of c for main(), published under lock. */
    pthread_mutex_t lock;
    struct counters pub;
    bool pub_connected;
    int64_t last_pub_ms;
};

/* One frame waiting for its answer. */
struct tracked {
    uint64_t frame_id;
    unsigned gen;
    bool orphan; /* its configuration ended and a later CONFIGURED came */
};

/* One configuration of a stream (a CONFIGURE) on this connection. */
struct gen_info {
    unsigned gen;
    uint32_t stream;
    unsigned shape;
    bool acked;      /* its CONFIGURED came */
    bool got_packet; /* the first PACKET was checked */
    bool answered;   /* an answer came; last_answer is valid */
    uint64_t last_answer;
    const char *ended; /* how it ended: "reconfigure", "CLOSE", "stream ERROR"; NULL: live */
};

enum end_kind { END_ORDERLY, END_ABRUPT, END_CUT };

struct conn {
    struct hfx_client *c;
    unsigned window;
    bool shm;
    uint32_t region;
    uint32_t stream; /* stream id of the live configuration */
    unsigned gen;    /* the live configuration; 0: none yet */
    bool live;       /* stream configured and usable: stream messages may go */
    unsigned shape;
    unsigned pic;
    struct gen_info gens[GEN_RING];
    unsigned cfg_queue[GEN_RING]; /* CONFIGUREs awaiting CONFIGURED, oldest first */
    unsigned ncfg;
    struct tracked t[MAX_TRACKED];
    unsigned nt;
    uint64_t next_id;
    bool flush_pending;
    unsigned flush_gen;
    uint64_t flush_mark; /* frames below it must be answered before FLUSHED */
    bool kr_pending;
    unsigned kr_gen;
    /* An IDR for a frame from this id on meets the request: the oldest in
     * flight when it was sent, since the next frame hfxd encodes may be one
     * already pending (§5.6). */
    uint64_t kr_mark;
    int64_t kr_ms;
    unsigned pings_out;
    uint64_t cookie;
    int64_t last_msg_ms; /* last message, or when something became awaited */
    double next_frame_ms;
    int64_t retry_ms; /* after a stream ERROR: configure again from then */
    bool gone;        /* the connection failed: no more sending */
};

enum problem { P_ORDER, P_DUP, P_LATE, P_FIRST, P_KEYREQ, P_LOST, P_ERROR, P_STALL };

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* splitmix64: small, seedable, good enough to pick actions. */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rnd(struct session *s)
{
    return (double)(next_rand(&s->rng) >> 11) * 0x1.0p-53;
}

/* True with probability p. */
static bool chance(struct session *s, double p)
{
    return rnd(s) < p;
}

static unsigned rnd_below(struct session *s, unsigned n)
{
    return (unsigned)(next_rand(&s->rng) % n);
}

static void problem(struct session *s, enum problem kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A finding: printed (up to REPORT_LIMIT per kind) with time and session. */
static void problem(struct session *s, enum problem kind, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (s->reported[kind]++ >= REPORT_LIMIT)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "soak-client: t=%.1f session %u connection %" PRIu64 ": %s%s\n",
            (double)(now_ms() - s->soak->start_ms) / 1000.0, s->index, s->connections, line,
            s->reported[kind] == REPORT_LIMIT ? " (further ones of this kind not shown)" : "");
}

static void publish(struct session *s, bool connected, bool force)
{
    int64_t now = now_ms();

    if (!force && now - s->last_pub_ms < 200)
        return;
    s->last_pub_ms = now;
    pthread_mutex_lock(&s->lock);
    s->pub = s->c;
    s->pub_connected = connected;
    pthread_mutex_unlock(&s->lock);
}

static const struct shape *shape_of(const struct conn *k, unsigned gen)
{
    return &shapes[k->gens[gen % GEN_RING].shape];
}

static struct gen_info *gen_info(struct conn *k, unsigned gen)
{
    struct gen_info *g = &k->gens[gen % GEN_RING];
    return g->gen == gen ? g : NULL;
}

/* Frames of the live configuration in flight: what the window limits. */
static unsigned in_flight(const struct conn *k)
{
    unsigned n = 0;
    for (unsigned i = 0; i < k->nt; i++)
        if (k->t[i].gen == k->gen && !k->t[i].orphan)
            n++;
    return n;
}

/* The oldest frame of the live configuration in flight, else the next. */
static uint64_t oldest_in_flight(const struct conn *k)
{
    uint64_t id = k->next_id;
    for (unsigned i = 0; i < k->nt; i++)
        if (k->t[i].gen == k->gen && !k->t[i].orphan && k->t[i].frame_id < id)
            id = k->t[i].frame_id;
    return id;
}

static int find_tracked(const struct conn *k, uint64_t id)
{
    for (unsigned i = 0; i < k->nt; i++)
        if (k->t[i].frame_id == id)
            return (int)i;
    return -1;
}

static void untrack(struct conn *k, unsigned i)
{
    k->t[i] = k->t[--k->nt];
}

/* ---- sending ---------------------------------------------------------- */

static bool configure(struct session *s, struct conn *k, uint32_t stream, unsigned shape)
{
    const struct shape *sh = &shapes[shape];
    struct hfx_configure cfg = {
        .codec = HFX_CODEC_H264, .width = sh->width, .height = sh->height,
        .fourcc = sh->fourcc, .fps_num = (uint32_t)(s->soak->opt.fps * 1000), .fps_den = 1000,
        .bitrate_kbps = 500 + rnd_below(s, 7500), .rate_control = HFX_RC_ABR,
        .profile = (uint8_t)rnd_below(s, 4), .latency = HFX_LATENCY_LOWEST,
        .keyint_frames = 300,
    };
    bool reconfigure = k->live && stream == k->stream;

    snprintf(cfg.encoder, sizeof(cfg.encoder), "libx264");
    if (chance(s, 0.15))
        cfg.rate_control = HFX_RC_CBR;
    else if (chance(s, 0.1)) {
        cfg.rate_control = HFX_RC_CQP;
        cfg.quality = (uint8_t)(18 + rnd_below(s, 20));
    }
    /* veryfast now and then; medium only where it is cheap. */
    if (chance(s, 0.15))
        cfg.latency = HFX_LATENCY_BALANCED;
    else if (sh->width * sh->height <= 640 * 360 && chance(s, 0.2))
        cfg.latency = HFX_LATENCY_QUALITY;
    if (k->ncfg == GEN_RING)
        return false; /* cannot happen: one CONFIGURE at a time */
    if (hfx_client_configure(k->c, stream, &cfg) != HFX_OK)
        return false;
    if (reconfigure && gen_info(k, k->gen))
        gen_info(k, k->gen)->ended = "reconfigure";
    s->c.configures++;
    if (reconfigure)
        s->c.reconfigures++;
    k->gen++;
    k->gens[k->gen % GEN_RING] = (struct gen_info){.gen = k->gen, .stream = stream,
                                                   .shape = shape};
    k->cfg_queue[k->ncfg++] = k->gen;
    k->stream = stream;
    k->shape = shape;
    k->live = true;
    /* A new configuration starts with an IDR anyway. */
    k->kr_pending = false;
    k->flush_pending = false;
    return true;
}

static unsigned pick_shape(struct session *s)
{
    unsigned total = 0, r;

    for (unsigned i = 0; i < N_SHAPES; i++)
        total += shapes[i].weight;
    r = rnd_below(s, total);
    for (unsigned i = 0; i < N_SHAPES; i++) {
        if (r < shapes[i].weight)
            return i;
        r -= shapes[i].weight;
    }
    return 0;
}

static void build_frame(const struct source *src, unsigned pic, bool shm, uint32_t region,
                        uint64_t id, struct hfx_frame *f, struct iovec *iov, int *n)
{
    const struct hfx_image *img = &src->img[pic];

    memset(f, 0, sizeof(*f));
    f->frame_id = id;
    f->pts = (int64_t)id;
    f->duration = 1;
    f->plane_count = (uint8_t)hfx_format_planes(img->fourcc);
    for (unsigned p = 0; p < f->plane_count; p++) {
        f->planes[p].offset = (uint64_t)(img->plane[p] - img->base);
        f->planes[p].stride = img->stride[p];
        if (shm)
            f->planes[p].offset += src->shm_offset[pic];
    }
    if (shm) {
        f->source = HFX_SOURCE_SHM;
        f->region = region;
        *n = 0;
    } else {
        f->source = HFX_SOURCE_INLINE;
        iov->iov_base = img->base;
        iov->iov_len = img->size;
        *n = 1;
    }
}

/* Submit the next frame of the live configuration; timeout_ms 0 leaves
 * what the socket does not take at once in the client's queue (the cut). */
static enum hfx_status submit(struct session *s, struct conn *k, bool force, bool shm,
                              int timeout_ms)
{
    struct hfx_frame f;
    struct iovec iov;
    int n;
    uint64_t id = k->next_id;

    if (k->nt == MAX_TRACKED)
        return HFX_E_TOO_LARGE; /* cannot happen with a window of at most 64 */
    build_frame(&s->soak->src[k->shape], k->pic, shm, k->region, id, &f, &iov, &n);
    k->pic = (k->pic + 1) % SOURCE_FRAMES;
    enum hfx_status st = hfx_client_submit(k->c, k->stream, &f, &iov, n, force, timeout_ms);
    if (st != HFX_OK)
        return st;
    k->next_id++;
    s->c.submitted++;
    if (shm)
        s->c.submitted_shm++;
    k->t[k->nt++] = (struct tracked){.frame_id = id, .gen = k->gen};
    if (force) {
        s->c.forced++;
        if (!k->kr_pending) {
            k->kr_pending = true;
            k->kr_gen = k->gen;
            k->kr_mark = id;
            k->kr_ms = now_ms();
        }
    }
    return HFX_OK;
}

/* ---- receiving -------------------------------------------------------- */

struct first_check {
    uint32_t width, height;
    unsigned pictures;
    bool size_ok;
};

static void on_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct first_check *fc = user;

    (void)pts;
    fc->pictures++;
    if (img->width != fc->width || img->height != fc->height)
        fc->size_ok = false;
}

/* The first PACKET of a configuration (docs/protocol.md §5: a new stream,
 * a reconfigure and a reconnect each get an IDR with SPS/PPS): flag, NAL
 * types, and that it decodes alone to one picture of the right size. */
static void check_first(struct session *s, const struct gen_info *g,
                        const struct hfx_event *ev)
{
    const struct hfx_packet *p = &ev->u.packet;
    const struct shape *sh = &shapes[g->shape];
    struct first_check fc = {sh->width, sh->height, 0, true};
    struct hfx_h264_decoder *d = NULL;
    enum hfx_status st;

    s->c.first_checked++;
    if (!ev->keyframe) {
        s->c.first_not_keyframe++;
        problem(s, P_FIRST, "first PACKET (frame %" PRIu64 ") of configuration %u (%ux%u %s) "
                "has no KEYFRAME flag", p->frame_id, g->gen, sh->width, sh->height,
                hfx_format_name(sh->fourcc));
    }
    if (!hfx_h264_is_idr(p->data, p->data_len) ||
        !hfx_h264_has_parameter_sets(p->data, p->data_len)) {
        s->c.first_not_idr++;
        problem(s, P_FIRST, "first PACKET (frame %" PRIu64 ") of configuration %u lacks %s",
                p->frame_id, g->gen,
                hfx_h264_is_idr(p->data, p->data_len) ? "SPS/PPS" : "an IDR slice");
    }
    st = hfx_h264_decoder_new(on_picture, &fc, &d);
    if (st == HFX_OK)
        st = hfx_h264_decoder_decode_au(d, p->data, p->data_len, p->pts);
    if (st == HFX_OK)
        st = hfx_h264_decoder_flush(d);
    hfx_h264_decoder_free(&d);
    if (st != HFX_OK || fc.pictures != 1 || !fc.size_ok) {
        s->c.first_undecodable++;
        problem(s, P_FIRST, "first PACKET (frame %" PRIu64 ", %zu bytes) of configuration %u "
                "(%ux%u): %s, %u pictures%s", p->frame_id, p->data_len, g->gen, sh->width,
                sh->height, hfx_strerror(st), fc.pictures,
                fc.size_ok ? "" : ", of another size");
    }
}

static void on_answer(struct session *s, struct conn *k, const struct hfx_event *ev)
{
    bool packet = ev->type == HFX_EVENT_PACKET;
    uint64_t id = packet ? ev->u.packet.frame_id : ev->u.dropped.frame_id;
    int i = find_tracked(k, id);

    if (i < 0) {
        if (id < k->next_id) {
            s->c.duplicates++;
            problem(s, P_DUP, "second answer (%s) for frame %" PRIu64 " on stream %u",
                    packet ? "PACKET" : "FRAME_DROPPED", id, ev->stream);
        } else {
            s->c.unknown_answers++;
            problem(s, P_DUP, "answer for frame %" PRIu64 ", never sent", id);
        }
        return;
    }
    struct tracked tr = k->t[i];
    struct gen_info *g = gen_info(k, tr.gen);
    untrack(k, (unsigned)i);
    if (g && g->stream != ev->stream) {
        s->c.unknown_answers++;
        problem(s, P_DUP, "answer for frame %" PRIu64 " on stream %u, sent on stream %u", id,
                ev->stream, g->stream);
    }
    if (g && g->answered && id < g->last_answer) {
        s->c.out_of_order++;
        problem(s, P_ORDER, "%s for frame %" PRIu64 " after the answer for frame %" PRIu64
                " (frame order, docs/protocol.md §5)",
                packet ? "PACKET" : "FRAME_DROPPED (reason)", id, g->last_answer);
    }
    if (g && (!g->answered || id > g->last_answer)) {
        g->last_answer = id;
        g->answered = true;
    }
    if (tr.orphan) {
        /* Counted lost when it became an orphan; it is answered after all. */
        s->c.lost_at_close--;
        s->c.late_answers++;
        problem(s, P_LATE, "%s for frame %" PRIu64 " of configuration %u came after a later "
                "CONFIGURED (§5.1: pending frames are answered first)",
                packet ? "PACKET" : "FRAME_DROPPED", id, tr.gen);
    }
    if (!packet) {
        switch (ev->u.dropped.reason) {
        case HFX_DROP_QUEUE_FULL:
            s->c.dropped_queue_full++;
            break;
        case HFX_DROP_ENCODER:
            s->c.dropped_encoder++;
            break;
        default:
            s->c.dropped_closed++;
            break;
        }
        return;
    }
    s->c.encoded++;
    s->c.bytes += ev->u.packet.data_len;
    if (g && !g->got_packet) {
        g->got_packet = true;
        check_first(s, g, ev);
    }
    if (k->kr_pending && tr.gen == k->kr_gen && id >= k->kr_mark) {
        if (ev->keyframe) {
            s->c.keyreqs_met++;
            k->kr_pending = false;
        } else if (now_ms() - k->kr_ms > KEYREQ_MS) {
            s->c.keyreqs_missed++;
            k->kr_pending = false;
            problem(s, P_KEYREQ, "no IDR within %d ms of a keyframe request (frame %" PRIu64
                    " on)", KEYREQ_MS, k->kr_mark);
        }
    }
}

/* CONFIGURED for the oldest CONFIGURE waiting. The host answers a close or
 * reconfigure's pending frames before it (§5, §5.9): frames of earlier
 * configurations still unanswered are lost from now on. */
static void on_configured(struct session *s, struct conn *k, const struct hfx_event *ev)
{
    if (k->ncfg == 0) {
        s->c.configure_mismatch++;
        problem(s, P_ERROR, "CONFIGURED on stream %u with no CONFIGURE waiting", ev->stream);
        return;
    }
    unsigned gen = k->cfg_queue[0];
    memmove(k->cfg_queue, k->cfg_queue + 1, --k->ncfg * sizeof(k->cfg_queue[0]));
    struct gen_info *g = gen_info(k, gen);
    const struct shape *sh = shape_of(k, gen);
    s->c.configured++;
    if (!g || g->stream != ev->stream || ev->u.configured.width != sh->width ||
        ev->u.configured.height != sh->height) {
        s->c.configure_mismatch++;
        problem(s, P_ERROR, "CONFIGURED stream %u %ux%u for configuration %u (%ux%u)",
                ev->stream, ev->u.configured.width, ev->u.configured.height, gen, sh->width,
                sh->height);
    }
    if (g)
        g->acked = true;
    for (unsigned i = 0; i < k->nt; i++) {
        struct tracked *tr = &k->t[i];
        if (tr->gen >= gen || tr->orphan)
            continue;
        const struct gen_info *old = gen_info(k, tr->gen);
        tr->orphan = true;
        s->c.lost_at_close++;
        problem(s, P_LOST, "frame %" PRIu64 " of configuration %u (ended by %s) unanswered "
                "when CONFIGURED of configuration %u came (§5.1, §5.9: pending frames are "
                "answered first)", tr->frame_id, tr->gen, old && old->ended ? old->ended : "?",
                gen);
    }
}

/* Returns false when the connection is no longer usable. */
static bool on_event(struct session *s, struct conn *k, const struct hfx_event *ev)
{
    switch (ev->type) {
    case HFX_EVENT_PACKET:
    case HFX_EVENT_DROPPED:
        on_answer(s, k, ev);
        break;
    case HFX_EVENT_CONFIGURED:
        on_configured(s, k, ev);
        break;
    case HFX_EVENT_FLUSHED:
        s->c.flushed++;
        if (k->flush_pending && ev->stream == k->stream && k->flush_gen == k->gen) {
            k->flush_pending = false;
            for (unsigned i = 0; i < k->nt; i++) {
                if (k->t[i].gen == k->gen && k->t[i].frame_id < k->flush_mark) {
                    s->c.flushed_early++;
                    problem(s, P_ORDER, "FLUSHED before the answer for frame %" PRIu64
                            " (§5.8)", k->t[i].frame_id);
                }
            }
        }
        break;
    case HFX_EVENT_PONG:
        s->c.pongs++;
        if (k->pings_out)
            k->pings_out--;
        break;
    case HFX_EVENT_ERROR:
        if (ev->stream == 0) {
            s->c.connection_errors++;
            problem(s, P_ERROR, "host ERROR %s: %s",
                    hfx_status_name((enum hfx_status)ev->u.error.code), ev->u.error.text);
            return false;
        }
        /* The stream ended (§8 "stream" errors); its frames are answered
         * next, and a new CONFIGURE opens it again. */
        s->c.stream_errors++;
        problem(s, P_ERROR, "stream %u ERROR %s: %s", ev->stream,
                hfx_status_name((enum hfx_status)ev->u.error.code), ev->u.error.text);
        if (k->ncfg && gen_info(k, k->cfg_queue[0]) &&
            gen_info(k, k->cfg_queue[0])->stream == ev->stream)
            memmove(k->cfg_queue, k->cfg_queue + 1, --k->ncfg * sizeof(k->cfg_queue[0]));
        if (ev->stream == k->stream) {
            if (gen_info(k, k->gen))
                gen_info(k, k->gen)->ended = "stream ERROR";
            k->live = false;
            k->retry_ms = now_ms() + 500;
        }
        break;
    default:
        break;
    }
    return true;
}

/* Wait up to timeout_ms for one message and handle it. False when the
 * connection is gone (host closed, error). */
static bool pump(struct session *s, struct conn *k, int timeout_ms)
{
    struct hfx_event ev;
    enum hfx_status st = hfx_client_next_event(k->c, timeout_ms, &ev);

    if (st == HFX_E_TIMEOUT)
        return true;
    if (st != HFX_OK) {
        s->c.connection_errors++;
        problem(s, P_ERROR, "connection: %s", hfx_strerror(st));
        k->gone = true;
        return false;
    }
    k->last_msg_ms = now_ms();
    if (!on_event(s, k, &ev)) {
        k->gone = true;
        return false;
    }
    return true;
}

/* Something the host owes us. */
static bool awaiting(const struct conn *k)
{
    for (unsigned i = 0; i < k->nt; i++)
        if (!k->t[i].orphan)
            return true;
    return k->ncfg || k->flush_pending || k->pings_out;
}

/* ---- ending a connection ---------------------------------------------- */

/* Classify what is left. Orphans were counted lost when they became
 * orphans. After an orderly end, past the PING barrier, frames of an ended
 * configuration are lost too. The rest is abandoned when this client tore
 * the connection down, else unanswered. */
static void settle(struct session *s, struct conn *k, bool abandoned, const char *how)
{
    uint64_t lost = 0, left = 0, first_left = 0;

    for (unsigned i = 0; i < k->nt; i++) {
        const struct tracked *tr = &k->t[i];
        if (tr->orphan) {
            continue;
        } else if (tr->gen != k->gen && !abandoned) {
            const struct gen_info *g = gen_info(k, tr->gen);
            lost++;
            problem(s, P_LOST, "frame %" PRIu64 " of configuration %u (ended by %s) "
                    "unanswered at %s", tr->frame_id, tr->gen,
                    g && g->ended ? g->ended : "?", how);
        } else if (!left++) {
            first_left = tr->frame_id;
        }
    }
    s->c.lost_at_close += lost;
    if (abandoned) {
        s->c.abandoned += left;
    } else {
        s->c.unanswered += left;
        if (left)
            problem(s, P_LOST, "%" PRIu64 " frame(s) unanswered at %s (first: frame %" PRIu64
                    ")", left, how, first_left);
    }
    if (!abandoned && k->pings_out) {
        s->c.pings_unanswered += k->pings_out;
        problem(s, P_LOST, "%u PING(s) unanswered at %s", k->pings_out, how);
    }
    k->nt = 0;
}

/* FLUSH, then a PING as a barrier (PONG comes in order with everything the
 * host sent before it, §4), wait for FLUSHED, the PONG and every answer of
 * the live configuration, then BYE. */
static void end_orderly(struct session *s, struct conn *k)
{
    int64_t deadline = now_ms() + DRAIN_MS;
    bool flushing = false;

    if (!k->gone && k->live && hfx_client_flush(k->c, k->stream) == HFX_OK) {
        s->c.flushes++;
        k->flush_pending = flushing = true;
        k->flush_gen = k->gen;
        k->flush_mark = k->next_id;
    }
    if (!k->gone && hfx_client_ping(k->c, ++k->cookie) == HFX_OK) {
        s->c.pings++;
        k->pings_out++;
    }
    while (!k->gone && now_ms() < deadline) {
        bool live_left = false;
        for (unsigned i = 0; i < k->nt && !live_left; i++)
            live_left = k->t[i].gen == k->gen && !k->t[i].orphan;
        if (!live_left && !k->flush_pending && !k->pings_out && !k->ncfg)
            break;
        pump(s, k, 100);
    }
    if (flushing && k->flush_pending) {
        problem(s, P_STALL, "no FLUSHED within %d ms", DRAIN_MS);
        s->c.stalls++;
    }
    if (k->ncfg) {
        problem(s, P_STALL, "%u CONFIGURE(s) unanswered at the end", k->ncfg);
        s->c.stalls++;
    }
    settle(s, k, false, k->gone ? "a host close" : "an orderly end (FLUSH, PING)");
    if (k->gone)
        s->c.ends_host++;
    else
        s->c.ends_orderly++;
    hfx_client_free(&k->c);
}

/* Tear the connection down as a crashing client would: no BYE; with
 * cut, in the middle of a FRAME's bytes. */
static void end_abrupt(struct session *s, struct conn *k, bool cut)
{
    /* Mostly with frames in flight: fill the window first. */
    if (!cut && !k->gone && k->live && chance(s, 0.7)) {
        while (in_flight(k) < k->window &&
               submit(s, k, false, k->shm, SUBMIT_TIMEOUT_MS) == HFX_OK)
            ;
    }
    if (cut && !k->gone && k->live && in_flight(k) < k->window) {
        /* INLINE even on an SHM connection: only a big payload can be cut. */
        if (submit(s, k, false, false, 0) == HFX_OK)
            s->c.cut_frames++;
        else
            cut = false;
    } else {
        cut = false;
    }
    shutdown(hfx_client_fd(k->c), SHUT_RDWR);
    settle(s, k, true, "");
    if (cut)
        s->c.ends_cut++;
    else
        s->c.ends_abrupt++;
    hfx_client_free(&k->c);
}

static void end_stalled(struct session *s, struct conn *k)
{
    s->c.stalls++;
    s->c.ends_stall++;
    problem(s, P_STALL, "nothing from the host for %d ms while waiting for %u frame(s)%s%s",
            STALL_MS, k->nt, k->ncfg ? ", CONFIGURED" : "", k->flush_pending ? ", FLUSHED" : "");
    shutdown(hfx_client_fd(k->c), SHUT_RDWR);
    settle(s, k, false, "a stall");
    hfx_client_free(&k->c);
}

/* ---- one connection --------------------------------------------------- */

/* Random things a client does between frames; all on the live stream. */
static void act(struct session *s, struct conn *k)
{
    double fps = s->soak->opt.fps;
    const struct gen_info *g = gen_info(k, k->gen);
    bool settled = g && g->acked && k->ncfg == 0;

    /* Rates per second of stream time, turned into per-frame chances. */
    if (settled && chance(s, 1.0 / (25 * fps))) {
        unsigned shape = chance(s, 0.4) ? 0 : pick_shape(s);
        (void)configure(s, k, k->stream, shape);
        return;
    }
    if (settled && chance(s, 1.0 / (60 * fps))) {
        /* CLOSE, then the same or the other stream id. */
        if (hfx_client_close_stream(k->c, k->stream) == HFX_OK) {
            s->c.closes++;
            if (gen_info(k, k->gen))
                gen_info(k, k->gen)->ended = "CLOSE";
            k->live = false;
            (void)configure(s, k, chance(s, 0.5) ? 1 : 2, pick_shape(s));
        }
        return;
    }
    if (chance(s, 1.0 / (6 * fps)) && hfx_client_request_keyframe(k->c, k->stream) == HFX_OK) {
        s->c.keyreqs++;
        if (!k->kr_pending) {
            k->kr_pending = true;
            k->kr_gen = k->gen;
            k->kr_mark = oldest_in_flight(k);
            k->kr_ms = now_ms();
        }
    }
    if (chance(s, 1.0 / (5 * fps))) {
        /* Mostly ordinary rates, now and then the protocol's extremes. */
        uint32_t kbps = chance(s, 0.05) ? (chance(s, 0.5) ? 1 : HFX_MAX_BITRATE_KBPS / 10)
                                        : 200 + rnd_below(s, 12000);
        if (hfx_client_set_bitrate(k->c, k->stream, kbps) == HFX_OK)
            s->c.bitrates++;
    }
    if (!k->flush_pending && chance(s, 1.0 / (30 * fps)) &&
        hfx_client_flush(k->c, k->stream) == HFX_OK) {
        s->c.flushes++;
        k->flush_pending = true;
        k->flush_gen = k->gen;
        k->flush_mark = k->next_id;
    }
    if (chance(s, 1.0 / (10 * fps)) && hfx_client_ping(k->c, ++k->cookie) == HFX_OK) {
        s->c.pings++;
        k->pings_out++;
    }
}

static bool connect_host(struct session *s, struct conn *k)
{
    struct hfx_client_options o = {.timeout_ms = CONNECT_TIMEOUT_MS};
    char text[HFX_MAX_TEXT + 1];
    enum hfx_status st = hfx_client_connect(s->soak->opt.address, &o, &k->c, text,
                                            sizeof(text));

    s->connections++;
    if (st != HFX_OK) {
        s->c.connect_failures++;
        problem(s, P_ERROR, "connect: %s%s%s", hfx_strerror(st), text[0] ? ": " : "", text);
        return false;
    }
    s->c.connects++;
    k->window = hfx_client_welcome(k->c)->window;
    if (k->window < 1 || k->window > HFX_MAX_WINDOW)
        k->window = 1;
    if (s->soak->shm_fd >= 0 && (hfx_client_welcome(k->c)->caps & HFX_CAP_SHM_FD) &&
        chance(s, s->soak->opt.shm_share)) {
        if (hfx_client_attach_shm(k->c, s->soak->shm_fd, s->soak->shm_size, &k->region) ==
            HFX_OK) {
            k->shm = true;
            s->c.shm_connections++;
        }
    }
    return true;
}

static void run_connection(struct session *s)
{
    struct soak *sk = s->soak;
    struct conn *k = calloc(1, sizeof(*k));
    double period = 1000.0 / sk->opt.fps;
    double life_s = -sk->opt.mean_life_s * log(1.0 - rnd(s));
    int64_t end_ms;
    enum end_kind kind;
    double r = rnd(s);

    if (!k) {
        sleep_ms(100);
        return;
    }
    if (!connect_host(s, k)) {
        free(k);
        sleep_ms(250);
        return;
    }
    publish(s, true, true);
    life_s = life_s < 2 ? 2 : life_s > 4 * sk->opt.mean_life_s ? 4 * sk->opt.mean_life_s : life_s;
    end_ms = now_ms() + (int64_t)(life_s * 1000);
    kind = r < 0.4 ? END_ORDERLY : r < 0.8 ? END_ABRUPT : END_CUT;
    k->last_msg_ms = now_ms();
    k->next_frame_ms = (double)k->last_msg_ms;
    if (!configure(s, k, 1, 0)) {
        s->c.connection_errors++;
        k->gone = true;
    }

    while (!k->gone) {
        int64_t now = now_ms();
        if (atomic_load(&sk->stop)) {
            kind = END_ORDERLY; /* the end of the run: everything is drained */
            break;
        }
        if (atomic_load(&sk->idle)) {
            kind = chance(s, 0.5) ? END_ORDERLY : END_ABRUPT;
            break;
        }
        if (now >= end_ms)
            break;
        if (!awaiting(k))
            k->last_msg_ms = now; /* a stall is counted from the first thing awaited */
        if (!k->live && k->ncfg == 0 && now >= k->retry_ms) {
            if (!configure(s, k, k->stream ? k->stream : 1, pick_shape(s))) {
                s->c.connection_errors++;
                k->gone = true;
                break;
            }
        }
        if (k->live && (double)now >= k->next_frame_ms && in_flight(k) < k->window) {
            bool force = chance(s, 1.0 / (15 * sk->opt.fps));
            enum hfx_status st = submit(s, k, force, k->shm, SUBMIT_TIMEOUT_MS);
            if (st != HFX_OK) {
                s->c.connection_errors++;
                problem(s, P_ERROR, "submit: %s", hfx_strerror(st));
                k->gone = true;
                break;
            }
            /* Right after the frame: a reconfigure or CLOSE then meets it
             * pending or being encoded, which is where answers get lost. */
            act(s, k);
            k->next_frame_ms += period;
            if (k->next_frame_ms < (double)now - period)
                k->next_frame_ms = (double)now; /* fell behind: no catching up in a burst */
        }
        int wait = 50;
        if (k->live && in_flight(k) < k->window) {
            double due = k->next_frame_ms - (double)now_ms();
            wait = due <= 0 ? 0 : due < wait ? (int)due + 1 : wait;
        }
        if (!pump(s, k, wait))
            break;
        if (awaiting(k) && now_ms() - k->last_msg_ms > STALL_MS) {
            end_stalled(s, k);
            free(k);
            publish(s, false, true);
            return;
        }
        publish(s, true, false);
    }
    if (k->gone || kind == END_ORDERLY)
        end_orderly(s, k);
    else
        end_abrupt(s, k, kind == END_CUT);
    free(k);
    publish(s, false, true);
}

static void *session_main(void *arg)
{
    struct session *s = arg;
    struct soak *sk = s->soak;

    while (!atomic_load(&sk->stop)) {
        if (atomic_load(&sk->idle)) {
            pthread_mutex_lock(&sk->lock);
            sk->parked++;
            s->c.idle_parks++;
            pthread_cond_broadcast(&sk->cond);
            while (atomic_load(&sk->idle) && !atomic_load(&sk->stop))
                pthread_cond_wait(&sk->cond, &sk->lock);
            sk->parked--;
            pthread_mutex_unlock(&sk->lock);
            continue;
        }
        run_connection(s);
    }
    publish(s, false, true);
    return NULL;
}

/* ---- main ------------------------------------------------------------- */

static void print_counters(FILE *f, const struct counters *c)
{
#define PRINT(name) fprintf(f, " " #name "=%" PRIu64, c->name);
    COUNTERS(PRINT)
#undef PRINT
}

static void add_counters(struct counters *to, const struct counters *from)
{
#define ADD(name) to->name += from->name;
    COUNTERS(ADD)
#undef ADD
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: soak-client --address ADDR [options]   (run by scripts/soak)\n"
            "\n"
            "  -a, --address ADDR     hfxd to connect to, e.g. unix:/tmp/x/sock\n"
            "  -n, --sessions N       concurrent sessions (default 8, max %d)\n"
            "  -d, --duration S       seconds to run (default 600)\n"
            "  -s, --seed N           random seed (default 1)\n"
            "  -r, --fps F            frames per second per session (default 15)\n"
            "      --idle-every S     all sessions disconnect every S seconds (default 120;\n"
            "                         0 = never)\n"
            "      --idle-for S       and stay away S seconds (default 5)\n"
            "      --shm-share P      share of connections sending SHM frames (default 0.3)\n"
            "      --mean-life S      mean connection lifetime in seconds (default 30)\n"
            "  -h, --help             this text\n",
            MAX_SESSIONS);
}

static bool parse_double(const char *text, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_IDLE_EVERY = 256, OPT_IDLE_FOR, OPT_SHM_SHARE, OPT_MEAN_LIFE };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"sessions", required_argument, NULL, 'n'},
        {"duration", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 's'},
        {"fps", required_argument, NULL, 'r'},
        {"idle-every", required_argument, NULL, OPT_IDLE_EVERY},
        {"idle-for", required_argument, NULL, OPT_IDLE_FOR},
        {"shm-share", required_argument, NULL, OPT_SHM_SHARE},
        {"mean-life", required_argument, NULL, OPT_MEAN_LIFE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double v;
    int c;

    *o = (struct options){.sessions = 8, .duration_s = 600, .seed = 1, .fps = 15,
                          .idle_every_s = 120, .idle_for_s = 5, .shm_share = 0.3,
                          .mean_life_s = 30};
    while ((c = getopt_long(argc, argv, "a:n:d:s:r:h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'a':
            o->address = optarg;
            break;
        case 'n':
            ok = parse_double(optarg, 1, MAX_SESSIONS, &v) && v == floor(v);
            o->sessions = (unsigned)v;
            break;
        case 'd':
            ok = parse_double(optarg, 1, 7 * 86400, &o->duration_s);
            break;
        case 's': {
            char *end;
            errno = 0;
            o->seed = strtoull(optarg, &end, 0);
            ok = !errno && end != optarg && !*end;
            break;
        }
        case 'r':
            ok = parse_double(optarg, 0.5, 240, &o->fps);
            break;
        case OPT_IDLE_EVERY:
            ok = parse_double(optarg, 0, 86400, &o->idle_every_s);
            break;
        case OPT_IDLE_FOR:
            ok = parse_double(optarg, 0.5, 3600, &o->idle_for_s);
            break;
        case OPT_SHM_SHARE:
            ok = parse_double(optarg, 0, 1, &o->shm_share);
            break;
        case OPT_MEAN_LIFE:
            ok = parse_double(optarg, 1, 86400, &o->mean_life_s);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "soak-client: bad value '%s'\n", optarg);
            return 2;
        }
    }
    if (!o->address || optind < argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The source pictures of every shape, and one sealed memfd holding them
 * all for SHM connections (the host maps it read-only; it needs the size
 * sealed, docs/protocol.md §7). */
static bool make_sources(struct soak *sk)
{
    uint64_t size = 0;

    for (unsigned i = 0; i < N_SHAPES; i++) {
        for (unsigned p = 0; p < SOURCE_FRAMES; p++) {
            struct hfx_image *img = &sk->src[i].img[p];
            if (hfx_image_alloc(img, shapes[i].fourcc, shapes[i].width, shapes[i].height) !=
                HFX_OK)
                return false;
            hfx_pattern_fill(img, (uint64_t)p * 11 + i);
            sk->src[i].shm_offset[p] = size;
            size += (img->size + PAGE - 1) / PAGE * PAGE;
        }
    }
    sk->shm_fd = memfd_create("hfx-soak", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (sk->shm_fd < 0 || ftruncate(sk->shm_fd, (off_t)size) != 0)
        return false;
    uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sk->shm_fd, 0);
    if (map == MAP_FAILED)
        return false;
    for (unsigned i = 0; i < N_SHAPES; i++)
        for (unsigned p = 0; p < SOURCE_FRAMES; p++)
            memcpy(map + sk->src[i].shm_offset[p], sk->src[i].img[p].base,
                   sk->src[i].img[p].size);
    munmap(map, size);
    if (fcntl(sk->shm_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
        return false;
    sk->shm_size = size;
    return true;
}

static void snapshot(struct session *ss, unsigned n, struct counters *sum, unsigned *connected)
{
    memset(sum, 0, sizeof(*sum));
    *connected = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_mutex_lock(&ss[i].lock);
        add_counters(sum, &ss[i].pub);
        *connected += ss[i].pub_connected;
        pthread_mutex_unlock(&ss[i].lock);
    }
}

static void print_stat(struct soak *sk, struct session *ss)
{
    struct counters sum;
    unsigned connected;

    snapshot(ss, sk->opt.sessions, &sum, &connected);
    printf("stat t=%.1f connected=%u", (double)(now_ms() - sk->start_ms) / 1000.0, connected);
    print_counters(stdout, &sum);
    printf("\n");
}

/* Sleep until t_s seconds after the start, printing a stat line every
 * second meanwhile. */
static void tick_until(struct soak *sk, struct session *ss, double t_s, double *next_stat)
{
    for (;;) {
        double t = (double)(now_ms() - sk->start_ms) / 1000.0;
        if (t >= *next_stat) {
            print_stat(sk, ss);
            *next_stat += 1.0;
        }
        if (t >= t_s)
            return;
        double to = *next_stat < t_s ? *next_stat : t_s;
        sleep_ms((int)((to - t) * 1000) + 1);
    }
}

int main(int argc, char **argv)
{
    struct soak *sk = calloc(1, sizeof(*sk));
    struct session *ss;
    int rc;

    if (!sk)
        return 1;
    rc = parse_args(argc, argv, &sk->opt);
    if (rc >= 0) {
        free(sk);
        return rc;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A write to a host that went away must fail, not kill the client. */
    signal(SIGPIPE, SIG_IGN);
    if (!make_sources(sk)) {
        fprintf(stderr, "soak-client: cannot make the source pictures: %s\n", strerror(errno));
        return 1;
    }
    ss = calloc(sk->opt.sessions, sizeof(*ss));
    if (!ss)
        return 1;
    pthread_mutex_init(&sk->lock, NULL);
    pthread_cond_init(&sk->cond, NULL);
    sk->start_ms = now_ms();
    for (unsigned i = 0; i < sk->opt.sessions; i++) {
        ss[i].soak = sk;
        ss[i].index = i;
        ss[i].rng = sk->opt.seed * 0x100000001b3ull + i;
        (void)next_rand(&ss[i].rng);
        pthread_mutex_init(&ss[i].lock, NULL);
        if (pthread_create(&ss[i].thread, NULL, session_main, &ss[i]) != 0) {
            fprintf(stderr, "soak-client: cannot start session %u\n", i);
            return 1;
        }
    }

    /* Idle windows where they fit, none in the last 10 s (the end has its
     * own check). */
    double next_stat = 1.0, dur = sk->opt.duration_s;
    unsigned idles = 0;
    for (double t = sk->opt.idle_every_s; sk->opt.idle_every_s > 0 &&
                                          t + sk->opt.idle_for_s + 10 < dur;
         t += sk->opt.idle_every_s) {
        tick_until(sk, ss, t, &next_stat);
        atomic_store(&sk->idle, true);
        int64_t give_up = now_ms() + DRAIN_MS + 5000;
        pthread_mutex_lock(&sk->lock);
        while (sk->parked < sk->opt.sessions && now_ms() < give_up) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&sk->cond, &sk->lock, &ts);
        }
        unsigned parked = sk->parked;
        pthread_mutex_unlock(&sk->lock);
        idles++;
        double t_idle = (double)(now_ms() - sk->start_ms) / 1000.0;
        if (parked < sk->opt.sessions)
            fprintf(stderr, "soak-client: idle window %u: only %u of %u sessions "
                    "disconnected in time\n", idles, parked, sk->opt.sessions);
        printf("idle n=%u t=%.1f parked=%u\n", idles, t_idle, parked);
        tick_until(sk, ss, t_idle + sk->opt.idle_for_s, &next_stat);
        pthread_mutex_lock(&sk->lock);
        atomic_store(&sk->idle, false);
        pthread_cond_broadcast(&sk->cond);
        pthread_mutex_unlock(&sk->lock);
        printf("busy n=%u t=%.1f\n", idles, (double)(now_ms() - sk->start_ms) / 1000.0);
    }
    tick_until(sk, ss, dur, &next_stat);
    pthread_mutex_lock(&sk->lock);
    atomic_store(&sk->stop, true);
    pthread_cond_broadcast(&sk->cond);
    pthread_mutex_unlock(&sk->lock);
    for (unsigned i = 0; i < sk->opt.sessions; i++)
        pthread_join(ss[i].thread, NULL);
    print_stat(sk, ss);

    struct counters all = {0};
    for (unsigned i = 0; i < sk->opt.sessions; i++) {
        printf("result session=%u", i);
        print_counters(stdout, &ss[i].c);
        printf("\n");
        add_counters(&all, &ss[i].c);
    }
    printf("result session=all");
    print_counters(stdout, &all);
    printf("\n");

    for (unsigned i = 0; i < sk->opt.sessions; i++)
        pthread_mutex_destroy(&ss[i].lock);
    for (unsigned i = 0; i < N_SHAPES; i++)
        for (unsigned p = 0; p < SOURCE_FRAMES; p++)
            hfx_image_release(&sk->src[i].img[p]);
    close(sk->shm_fd);
    pthread_mutex_destroy(&sk->lock);
    pthread_cond_destroy(&sk->cond);
    free(ss);
    free(sk);
    return 0;
}
