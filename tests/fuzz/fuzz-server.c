/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the host's protocol state machine: host/server.c
 * (the poll() loop), host/session.c (the protocol state of each
 * connection), host/stream.c (a worker thread per stream) and lib/conn.c, all
 * in-process. Encoders come from the test-only fault layer
 * (host/encoder-fault.h, built with HFX_FAULT_FUZZ): `fake` costs
 * nothing, and others fail to open, fail on some frames or stall, so one
 * execution is a whole session or two in milliseconds (thread creation,
 * under ASan, is most of it).
 *
 * Each execution starts a server on a thread (hfx_server_run until a stop
 * pipe is readable) with one or two connections, each the server's end of
 * a unix socketpair made into a transport with hfx_transport_from_fd, so
 * descriptors can be passed; or, for the last one, a unix socket accepted
 * on a listener (hfx_server_listen_fd), which is what may send INPUT. As
 * QEMU's helix-frame-export chardev, the server may have scanouts whose
 * pictures the script publishes (hfx_scanout_publish) and whose callbacks
 * (want_picture, input) the harness records. The input is a script for
 * the client ends (docs/testing.md, "The server fuzzer", has the byte
 * layout):
 *
 *   2 header bytes  server options: window, max_streams, send queue size,
 *                   handshake timeout, keyframe interval, one or two
 *                   connections, token, session limit, log callback,
 *                   memory budget, a resource reader (RESOURCE frames),
 *                   scanouts, the last connection through a listener
 *   then operations, each an opcode byte (low 4 bits: the operation; bit
 *   4: which connection; bits 5-7: a variant) and its argument bytes:
 *      0 HELLO          1 CONFIGURE        2 FRAME (inline)
 *      3 FRAME (SHM)    4 REQUEST_KEYFRAME, FLUSH, CLOSE, SET_BITRATE,
 *                         SUBSCRIBE or INPUT (a key or the pointer)
 *      5 a burst of 1..4081 PINGs (keeps the I/O thread busy while workers
 *        run; 4096 in all per execution)
 *      6 BYE or a client ERROR            7 SHM_ATTACH with a memfd, or
 *                                           SHM_ALLOC (host-made memory)
 *      8 SHM_DETACH     9 a host-only message sent by the client
 *     10 a template message with bytes flipped
 *     11 raw bytes, or a picture the embedder publishes
 *     12 settle: write out, let the server and its workers answer
 *     13 read what has arrived (in-loop, v >= 4: after v - 3 server
 *        steps only)                      14 close, half-close, or stop
 *                                            the server (what SIGTERM does)
 *     15 sleep 1..8 ms (handshake deadlines, worker stalls)
 *
 * Messages are built from valid templates (small sizes: CONFIGURE width
 * and height 2..32) and queued; queued bytes go out in one write at the
 * next settle, read, close or sleep, or at the end, so that a whole script
 * can reach the server in one read and be handled in one pass of its loop:
 * that is where "the stream is closed before the I/O loop has passed on
 * its worker's result" happens.
 *
 * The end of every script: a PING on each live session and its PONG (the
 * server has handled every byte), every CONFIGURE's answer awaited, each
 * connection half-closed until the server closes it, the server stopped,
 * joined and freed.
 *
 * Checked on every execution (abort() when broken):
 *   - every byte the server sends decodes (hfx_msg_decode, with the
 *     payload limit it announced) into a host message;
 *   - WELCOME only in answer to a HELLO, with the options given (RESOURCE
 *     exactly when the server has a reader);
 *     PONG cookies in the order of the PINGs; CONFIGURED and FLUSHED no
 *     more often than CONFIGURE and FLUSH; PACKET only after CONFIGURED,
 *     its KEYFRAME flag equal to the NAL scan, SPS/PPS in every IDR;
 *   - every PACKET or FRAME_DROPPED answers a FRAME the server was sent
 *     and not answered yet (at most one answer per FRAME): the harness
 *     decodes its own byte stream as the server does to know them;
 *   - nothing after an ERROR on stream 0 (the connection closes);
 *   - the server is freed, with no descriptor left open (and, under
 *     LeakSanitizer, no memory);
 *   - "answers": the answers of a stream come in the order of its FRAMEs,
 *     and on a connection the server has not closed, every FRAME not
 *     excused by a later BYE or HELLO gets its answer (exactly one,
 *     protocol.md §5) within 2 s of the script's end (before the
 *     half-close);
 *   - "errors": after an ERROR whose code is not a stream-level one (§5:
 *     TOO_MANY_STREAMS, NO_ENCODER, ENCODER, NOMEM; §5.17: NO_SOURCE,
 *     BUSY), nothing but the end of the connection;
 *   - scanouts (§5.17, §5.18): WELCOME says SCANOUT exactly when the
 *     server has scanouts, INPUT exactly on the listener's connection of a
 *     server with a scanout that takes input; a CONFIGURED or PACKET that
 *     answers no CONFIGURE or FRAME, or a FRAME_DROPPED QUEUE_FULL that
 *     answers no FRAME, only on a stream that was subscribed: a CONFIGURED
 *     of a size published, PACKETs of picture numbers published, rising
 *     between CONFIGUREDs, an IDR first after a CONFIGURED or a drop;
 *     hfx_scanout_publish's result (the error of a bad picture; HFX_E_BUSY
 *     with 1..1000 ms to wait, only once a SUBSCRIBE to the scanout went
 *     out); a scanout's callbacks only once a SUBSCRIBE to it went out;
 *     the input callback only with a connection accepted, no more often
 *     than INPUTs went out on it, a pointer inside a picture published
 *     (width and height not 0), a key code and buttons in range.
 *
 * Options from the environment, read on each execution:
 *   HFX_FUZZ_STRICT=answers|errors|all|none  which of the checks
 *       "answers" and "errors" run (default all; both hold since the
 *       exactly-one fix);
 *   HFX_FUZZ_VERBOSE=1       print the operations and the server's log.
 *
 * All state lives in one struct harness per execution: no global
 * mutable state, so that executions cannot leak into each other.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "fuzz.h"
#include "hfx/h264.h"
#include "hfx/protocol.h"
#include "hfx/resource.h"
#include "hfx/scanout.h"
#include "hfx/server.h"
#include "hfx/transport.h"
#include "server-testing.h"

#define MAX_CONNS 2
#define STREAMS (HFX_MAX_STREAMS + 1)
/* What the server accepts and sends after WELCOME: small, so that a
 * payload over it is one mutated length field away. */
#define SERVER_MAX_PAYLOAD (64u * 1024u)
#define READ_CHUNK (64u * 1024u)
#define RX_CAP (HFX_HEADER_SIZE + SERVER_MAX_PAYLOAD + READ_CHUNK)
#define SCRATCH_SIZE SERVER_MAX_PAYLOAD
/* Queued bytes are written out early past this. */
#define TX_FLUSH_AT (192u * 1024u)
#define MAX_TRACKED_FRAMES 8192
#define MAX_TRACKED_PINGS 65536
#define MAX_REGIONS 8
/* PINGs of the burst operation in one execution: enough to keep the I/O
 * thread busy for milliseconds, not enough to make an execution slow. */
#define MAX_BURST_PINGS 4096
/* Sleeps and settles of one execution together wait at most this. */
#define WAIT_BUDGET_MS 20
#define FLUSH_TIMEOUT_MS 2000
#define STRICT_WAIT_MS 2000
/* For a CONFIGURE's answer: a worker opening the fake encoder. */
#define CONFIGURE_WAIT_MS 200
#define TOKEN "fuzz-token"
#define SMALL_MAX_MEMORY (25ull << 20)
/* Scanouts 0..NSCANOUTS - 1 of a server that has them (header byte 1, bit
 * 4); SUBSCRIBE names others too. */
#define NSCANOUTS 3
/* Published pictures are 2..PICTURE_MAX pixels wide and high. */
#define PICTURE_MAX 32
#define THREAD_STACK_SIZE (512u * 1024u)

/* The resource reader (header byte 1, bit 6), called on stream workers:
 * resource 1 is whatever picture the stream wants, in memory of its own
 * (a stride too large for it runs past its end); resource 2 holds a
 * format hfx has no name for; no other exists. Reads only constant data:
 * executions share nothing through it. */
static const uint8_t resource_memory[64u * 1024u];

static enum hfx_status read_resource(void *user, const struct hfx_resource_request *req, char *why,
                                     size_t why_len)
{
    struct hfx_resource_image img = {
        .fourcc = req->resource_id == 1 ? req->fourcc : 0,
        .width = req->width,
        .height = req->height,
        .stride = req->stride,
        .data = resource_memory,
        .size = sizeof(resource_memory),
    };

    (void)user;
    if (req->resource_id != 1 && req->resource_id != 2) {
        snprintf(why, why_len, "no resource %u", req->resource_id);
        return HFX_E_SHM_RANGE;
    }
    return hfx_resource_copy(req, &img, why, why_len);
}

enum shadow_state {
    SH_HELLO, /* the server waits for HELLO */
    SH_READY,
    SH_DEAD, /* the server certainly closes: nothing after counts */
};

/* The server's view of what one client end has sent: its own bytes decoded
 * as the server decodes them, with the same payload limits. */
struct shadow {
    enum shadow_state state;
    uint32_t max_payload;
    uint8_t *buf; /* bytes not decoded yet */
    size_t off, len, cap;
    struct hfx_configure cfg[STREAMS];
    bool has_cfg[STREAMS];
    uint32_t configures[STREAMS];
    /* A CONFIGURE whose CONFIGURED or ERROR may still come. Not after a
     * CLOSE, another CONFIGURE, HELLO or BYE: a stream closed before its
     * worker opened the encoder never answers. */
    bool awaiting[STREAMS];
    uint32_t flushes[STREAMS];
    unsigned hellos;
    bool offered_resource; /* some HELLO offered RESOURCE */
    bool offered_alloc;    /* some HELLO offered SHM_ALLOC */
    unsigned allocs;       /* SHM_ALLOCs sent, each answered at most once */
    uint32_t caps;         /* the last HELLO's */
    /* A SUBSCRIBE to a scanout the server has, not ended since by CLOSE,
     * CONFIGURE, HELLO or BYE; ever: its packets may trail its end. */
    bool subscribed[STREAMS];
    bool ever_subscribed[STREAMS];
    unsigned inputs; /* INPUTs decoded, in any state */
};

struct frame_rec {
    uint64_t id;
    int64_t pts;
    uint32_t stream;
    bool answered;
    bool excused; /* a BYE or HELLO came after it: it may go unanswered */
};

struct conn {
    unsigned index;
    int fd;           /* client end; -1 once closed */
    bool write_done;  /* half-closed, or a write failed: nothing more goes out */
    bool eof;         /* the server closed its end */
    bool conn_error;  /* ERROR on stream 0 came: only the end may follow */
    uint32_t conn_error_stream, conn_error_code; /* that ERROR's */
    uint8_t *tx;
    size_t tx_len, tx_cap;
    int fds[HFX_MAX_PASSED_FDS]; /* go out with the first byte of... */
    int nfds;
    size_t fd_off;                /* ...the message at this offset of tx */
    uint8_t *rx;
    size_t rx_len, rx_cap; /* grown up to RX_CAP as messages need */
    uint32_t rx_max;
    struct shadow sh;
    struct frame_rec *frames;
    size_t nframes, frames_cap, first_open;
    bool frames_lost;
    uint64_t *pings;
    size_t npings, pings_cap, ping_head;
    bool pings_lost;
    uint32_t configured_rx[STREAMS];
    uint32_t flushed_rx[STREAMS];
    unsigned welcomes;
    uint32_t regions[MAX_REGIONS];
    unsigned nregions;
    bool accepted; /* came through the listener: WELCOME may say INPUT */
    /* Subscribed streams: the picture of the last PACKET or FRAME_DROPPED
     * since the stream's last CONFIGURED, and whether the next PACKET must
     * be an IDR (after a CONFIGURED or a drop, §5.17). */
    uint64_t sub_last[STREAMS];
    bool sub_want_key[STREAMS];
};

/* A scanout of the server, as QEMU's chardev makes one. Its callbacks run
 * on the thread that runs the server's loop (the script's in in-loop mode,
 * the server's in thread mode): what they touch is atomic or set before
 * the server runs. The rest is the script's thread's. */
struct fuzz_scanout {
    struct harness *h;
    struct hfx_scanout *sc;
    uint32_t number;
    atomic_uint want_calls, input_calls;
    atomic_bool wanted; /* want_picture since the last answer to it */
    /* Bit h / 2 - 1 of word w / 2 - 1: a w x h picture was published (as
     * encoded: odd sizes lose their last column or row). */
    _Atomic uint32_t sizes[PICTURE_MAX / 2];
    uint32_t fourcc, width, height; /* the last picture published */
    uint64_t published;             /* publishes that returned HFX_OK */
    unsigned subscribes;            /* SUBSCRIBEs to it the server may have taken */
    uint8_t fill;
};

enum strict {
    STRICT_ANSWERS = 1,
    STRICT_ERRORS = 2,
};

struct harness {
    const uint8_t *in;
    size_t left;
    struct hfx_server_options opts;
    struct hfx_server *srv;
    pthread_t thread;
    bool running;
    int stop[2];
    struct conn conns[MAX_CONNS];
    unsigned nconns;
    uint64_t next_frame_id;
    uint64_t next_cookie;
    int wait_left_ms;
    unsigned burst_pings_left;
    unsigned strict;
    bool in_loop; /* the server encodes in its loop, stepped from here */
    int64_t clock_ms;  /* in-loop: the server's clock, moved only from here */
    int64_t idle_ms;   /* in-loop: how far the clock moves when nothing happens */
    bool hold;         /* in-loop: reading does not step the server */
    bool verbose;
    int64_t t0_ms; /* when the execution started, for the verbose log */
    uint8_t *scratch; /* SCRATCH_SIZE bytes once a message needs them */
    struct fuzz_scanout scanouts[NSCANOUTS];
    unsigned nscanouts;
    int listen_conn; /* the connection accepted on a listener, or -1 */
};

static void violation(const struct harness *h, const struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void violation(const struct harness *h, const struct conn *c, const char *fmt, ...)
{
    va_list ap;

    (void)h;
    fprintf(stderr, "fuzz-server: invariant broken on connection %u: ", c ? c->index : 0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static int64_t mono_ms(void);
static void note(const struct harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(const struct harness *h, const char *fmt, ...)
{
    va_list ap;

    if (!h->verbose)
        return;
    fprintf(stderr, "fuzz-server: %4lld ms: ", (long long)(mono_ms() - h->t0_ms));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void server_log(void *user, enum hfx_log_level level, const char *msg)
{
    const struct harness *h = user;
    /* Formatted either way: every log line is built and read. */
    size_t len = strlen(msg);

    if (h->verbose)
        fprintf(stderr, "  %4lld ms: hfx[%d] %.*s\n", (long long)(mono_ms() - h->t0_ms),
                (int)level, (int)len, msg);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;

    if (!dir)
        return -1;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n;
}

/* The next input byte; 0 once the input is used up. */
static uint8_t take(struct harness *h)
{
    if (!h->left)
        return 0;
    h->left--;
    return *h->in++;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem, size_t max)
{
    size_t n = *cap ? *cap : 64;

    if (need <= *cap)
        return p;
    while (n < need)
        n *= 2;
    if (n > max)
        n = max;
    if (n < need)
        return NULL;
    void *q = realloc(p, n * elem);
    if (!q)
        abort(); /* the harness's own memory: out of it is not a finding */
    *cap = n;
    return q;
}

/* ---- what the client sent, as the server sees it ---- */

static void excuse_open_frames(struct conn *c)
{
    for (size_t i = c->first_open; i < c->nframes; i++)
        c->frames[i].excused = true;
}

/* excused: the frame may go unanswered (see shadow_message). */
static void track_frame(struct conn *c, const struct hfx_msg *m, bool excused)
{
    void *p;

    if (c->frames_lost)
        return;
    p = grow(c->frames, &c->frames_cap, c->nframes + 1, sizeof(*c->frames), MAX_TRACKED_FRAMES);
    if (!p) {
        c->frames_lost = true; /* too many to follow: no answer checks */
        return;
    }
    c->frames = p;
    c->frames[c->nframes++] = (struct frame_rec){.id = m->u.frame.frame_id,
                                                 .pts = m->u.frame.pts,
                                                 .stream = m->hdr.stream,
                                                 .excused = excused};
}

static void track_ping(struct conn *c, uint64_t cookie)
{
    void *p;

    if (c->pings_lost)
        return;
    p = grow(c->pings, &c->pings_cap, c->npings + 1, sizeof(*c->pings), MAX_TRACKED_PINGS);
    if (!p) {
        c->pings_lost = true;
        return;
    }
    c->pings = p;
    c->pings[c->npings++] = cookie;
}

/* session.c's on_hello checks, where their outcome is certain: a HELLO that
 * may be accepted counts as accepted (the session limit depends on timing;
 * a HELLO wrongly taken as accepted only adds frames never answered). */
static bool hello_accepted(const struct harness *h, const struct hfx_hello *hello)
{
    if (hello->min_version > HFX_PROTOCOL_VERSION || hello->max_version < HFX_PROTOCOL_VERSION)
        return false;
    if (h->opts.token &&
        (hello->token_len != strlen(TOKEN) || memcmp(hello->token, TOKEN, strlen(TOKEN)) != 0))
        return false;
    return true;
}

static void shadow_message(struct harness *h, struct conn *c, const struct hfx_msg *m)
{
    struct shadow *sh = &c->sh;
    uint32_t id = m->hdr.stream;

    /* An upper bound of what reaches the input callback. */
    if (m->hdr.type == HFX_MSG_INPUT)
        sh->inputs++;
    if (m->hdr.type == HFX_MSG_HELLO) {
        /* Again on a live session: it starts over, pending frames go
         * unanswered (protocol.md §4). */
        if (sh->state == SH_READY)
            excuse_open_frames(c);
        sh->hellos++;
        if (m->u.hello.caps & HFX_CAP_RESOURCE)
            sh->offered_resource = true;
        if (m->u.hello.caps & HFX_CAP_SHM_ALLOC)
            sh->offered_alloc = true;
        sh->caps = m->u.hello.caps;
        memset(sh->has_cfg, 0, sizeof(sh->has_cfg));
        memset(sh->awaiting, 0, sizeof(sh->awaiting));
        memset(sh->subscribed, 0, sizeof(sh->subscribed));
        if (hello_accepted(h, &m->u.hello)) {
            sh->state = SH_READY;
            sh->max_payload = h->opts.max_payload;
        } else {
            sh->state = SH_DEAD;
        }
        return;
    }
    if (sh->state != SH_READY) {
        sh->state = SH_DEAD; /* anything else before HELLO: HFX_E_STATE */
        return;
    }
    switch (m->hdr.type) {
    case HFX_MSG_BYE:
        excuse_open_frames(c); /* §5.14: dropped silently */
        memset(sh->has_cfg, 0, sizeof(sh->has_cfg));
        memset(sh->awaiting, 0, sizeof(sh->awaiting));
        memset(sh->subscribed, 0, sizeof(sh->subscribed));
        sh->state = SH_HELLO;
        sh->max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
        break;
    case HFX_MSG_PING:
        track_ping(c, m->u.ping.cookie);
        break;
    case HFX_MSG_SHM_ALLOC:
        sh->allocs++;
        break;
    case HFX_MSG_CONFIGURE:
        if (id < STREAMS) {
            sh->cfg[id] = m->u.configure;
            sh->has_cfg[id] = true;
            sh->configures[id]++;
            sh->awaiting[id] = true;
            sh->subscribed[id] = false;
        }
        break;
    case HFX_MSG_CLOSE:
        if (id < STREAMS) {
            sh->awaiting[id] = false;
            sh->subscribed[id] = false;
        }
        break;
    case HFX_MSG_SUBSCRIBE:
        /* §5.17: without SCANOUT on both sides, or on a stream over
         * max_streams, the connection ends. Otherwise the stream ends as
         * with CLOSE (a CONFIGURE's answer may never come), and a scanout
         * the server lacks leaves it failed (ERROR NO_SOURCE), with
         * nothing of a subscription. */
        if (id < STREAMS && id <= h->opts.max_streams && h->nscanouts &&
            (sh->caps & HFX_CAP_SCANOUT)) {
            sh->awaiting[id] = false;
            sh->subscribed[id] = m->u.subscribe.scanout < h->nscanouts;
            if (sh->subscribed[id]) {
                sh->ever_subscribed[id] = true;
                h->scanouts[m->u.subscribe.scanout].subscribes++;
            }
        }
        break;
    case HFX_MSG_FRAME:
        /* On a subscribed stream a FRAME is HFX_E_STATE, unless the
         * scanout's encoder failed first: then it is answered ENCODER as
         * on any failed stream. Either may happen. */
        track_frame(c, m, id < STREAMS && sh->subscribed[id]);
        break;
    case HFX_MSG_FLUSH:
        if (id < STREAMS)
            sh->flushes[id]++;
        break;
    default:
        break;
    }
}

/* Decode what was queued, as the server will. */
static void shadow_feed(struct harness *h, struct conn *c, const uint8_t *data, size_t len)
{
    struct shadow *sh = &c->sh;

    if (sh->state == SH_DEAD)
        return;
    if (sh->off > 0 && sh->off == sh->len)
        sh->off = sh->len = 0;
    sh->buf = grow(sh->buf, &sh->cap, sh->len + len, 1, SIZE_MAX);
    memcpy(sh->buf + sh->len, data, len);
    sh->len += len;
    while (sh->state != SH_DEAD) {
        struct hfx_msg m;
        size_t used = 0;
        enum hfx_status st =
            hfx_msg_decode(sh->buf + sh->off, sh->len - sh->off, sh->max_payload, &m, &used);
        if (st == HFX_INCOMPLETE)
            break;
        if (st != HFX_OK) {
            sh->state = SH_DEAD; /* the server answers ERROR and closes */
            break;
        }
        shadow_message(h, c, &m);
        sh->off += used;
    }
    if (sh->off > 0 && sh->off * 2 > sh->len) {
        memmove(sh->buf, sh->buf + sh->off, sh->len - sh->off);
        sh->len -= sh->off;
        sh->off = 0;
    }
}

/* ---- what the server sent ---- */

/* Marks the FRAME that m answers; false when m answers no FRAME sent and
 * not answered yet (a scanout's picture, or a finding). */
static bool answer_frame(struct harness *h, struct conn *c, const struct hfx_msg *m,
                         uint64_t frame_id, bool has_pts, int64_t pts)
{
    if (c->frames_lost)
        return true;
    for (size_t i = c->first_open; i < c->nframes; i++) {
        struct frame_rec *f = &c->frames[i];
        if (f->answered || f->stream != m->hdr.stream || f->id != frame_id ||
            (has_pts && f->pts != pts))
            continue;
        /* §5: in frame order, whatever happens to the stream. A frame a
         * BYE or HELLO excused may stay unanswered. */
        for (size_t k = c->first_open; (h->strict & STRICT_ANSWERS) && k < i; k++) {
            const struct frame_rec *e = &c->frames[k];
            if (!e->answered && !e->excused && e->stream == f->stream)
                violation(h, c, "%s for frame %" PRIu64 " on stream %" PRIu32
                          " before the answer to frame %" PRIu64 ", sent earlier",
                          hfx_msg_type_name(m->hdr.type), frame_id, f->stream, e->id);
        }
        f->answered = true;
        while (c->first_open < c->nframes && c->frames[c->first_open].answered)
            c->first_open++;
        return true;
    }
    return false;
}

static void answers_nothing(struct harness *h, struct conn *c, const struct hfx_msg *m,
                            uint64_t frame_id) __attribute__((noreturn));

static void answers_nothing(struct harness *h, struct conn *c, const struct hfx_msg *m,
                            uint64_t frame_id)
{
    violation(h, c, "%s for frame %" PRIu64 " on stream %" PRIu32
              " answers no FRAME sent and not yet answered",
              hfx_msg_type_name(m->hdr.type), frame_id, m->hdr.stream);
}

/* Whether some scanout published a picture that is encoded as w x h. */
static bool size_published(const struct harness *h, uint32_t w, uint32_t ht)
{
    if (w < 2 || ht < 2 || w > PICTURE_MAX || ht > PICTURE_MAX || (w | ht) & 1)
        return false;
    for (unsigned i = 0; i < h->nscanouts; i++)
        if (atomic_load(&h->scanouts[i].sizes[w / 2 - 1]) & (1u << (ht / 2 - 1)))
            return true;
    return false;
}

/* A PACKET or FRAME_DROPPED QUEUE_FULL that answers no FRAME: a scanout's
 * picture (§5.17) on a stream that was subscribed, numbered as the
 * pictures published, rising, an IDR first after a CONFIGURED or a drop.
 * False when the stream was never subscribed. */
static bool scanout_picture(struct harness *h, struct conn *c, const struct hfx_msg *m,
                            uint64_t pic, bool key)
{
    uint32_t id = m->hdr.stream;
    bool dropped = m->hdr.type == HFX_MSG_FRAME_DROPPED;
    uint64_t published = 0;

    if (id >= STREAMS || !c->sh.ever_subscribed[id] ||
        (dropped && m->u.dropped.reason != HFX_DROP_QUEUE_FULL))
        return false;
    /* Picture numbers are per scanout; which one the stream follows is the
     * server's to know. */
    for (unsigned i = 0; i < h->nscanouts; i++)
        if (h->scanouts[i].published > published)
            published = h->scanouts[i].published;
    if (pic == 0 || pic > published || pic <= c->sub_last[id])
        violation(h, c,
                  "%s of picture %" PRIu64 " on subscribed stream %" PRIu32 ": %" PRIu64
                  " published, %" PRIu64 " came before it",
                  hfx_msg_type_name(m->hdr.type), pic, id, published, c->sub_last[id]);
    if (!dropped && c->sub_want_key[id] && !key)
        violation(h, c,
                  "PACKET of picture %" PRIu64 " on subscribed stream %" PRIu32
                  " after a CONFIGURED or a drop is not an IDR",
                  pic, id);
    c->sub_last[id] = pic;
    c->sub_want_key[id] = dropped;
    return true;
}

static void check_stream_id(struct harness *h, struct conn *c, const struct hfx_msg *m)
{
    if (m->hdr.stream == 0 || m->hdr.stream > h->opts.max_streams)
        violation(h, c, "%s on stream %" PRIu32 ", outside 1..%u",
                  hfx_msg_type_name(m->hdr.type), m->hdr.stream, h->opts.max_streams);
}

/* protocol.md §5 (§8 marks the first three "stream"; §5 lists NOMEM too),
 * and §5.17's SUBSCRIBE to a scanout the host lacks or that is full (on
 * stream 0, BUSY is the session limit's). */
static bool stream_level_code(uint32_t code)
{
    return code == HFX_E_TOO_MANY_STREAMS || code == HFX_E_NO_ENCODER || code == HFX_E_ENCODER ||
           code == HFX_E_NOMEM || code == HFX_E_NO_SOURCE || code == HFX_E_BUSY;
}

static void server_message(struct harness *h, struct conn *c, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;

    note(h, "conn %u: <- %s stream %" PRIu32, c->index, hfx_msg_type_name(m->hdr.type), id);
    if (c->conn_error)
        violation(h, c, "%s after ERROR %s on stream %" PRIu32 ", which ends the connection",
                  hfx_msg_type_name(m->hdr.type),
                  hfx_status_name((enum hfx_status)c->conn_error_code), c->conn_error_stream);
    switch (m->hdr.type) {
    case HFX_MSG_WELCOME:
        if (c->welcomes >= c->sh.hellos)
            violation(h, c, "WELCOME %u with only %u HELLO(s) sent", c->welcomes + 1,
                      c->sh.hellos);
        c->welcomes++;
        if (m->u.welcome.version != HFX_PROTOCOL_VERSION ||
            m->u.welcome.max_payload != h->opts.max_payload ||
            m->u.welcome.window != h->opts.window ||
            m->u.welcome.max_streams != h->opts.max_streams ||
            !(m->u.welcome.caps & HFX_CAP_INLINE) || !(m->u.welcome.caps & HFX_CAP_SHM_FD) ||
            !(m->u.welcome.caps & HFX_CAP_SHM_ALLOC) ||
            !(m->u.welcome.caps & HFX_CAP_RESOURCE) != !h->opts.resources.read)
            violation(h, c, "WELCOME does not say what the server was given");
        /* §5.17, §5.18: every scanout here but scanout 1 takes input; it
         * is offered only to a listener's connections. */
        if (!(m->u.welcome.caps & HFX_CAP_SCANOUT) != !h->nscanouts ||
            !(m->u.welcome.caps & HFX_CAP_INPUT) != !(h->nscanouts && c->accepted))
            violation(h, c, "WELCOME caps 0x%" PRIx32 " with %u scanout(s), on a connection %s",
                      m->u.welcome.caps, h->nscanouts,
                      c->accepted ? "accepted on a listener" : "added as a transport");
        c->rx_max = m->u.welcome.max_payload;
        break;
    case HFX_MSG_PONG: {
        size_t i = c->ping_head;
        if (c->pings_lost)
            break;
        while (i < c->npings && c->pings[i] != m->u.ping.cookie)
            i++;
        if (i == c->npings)
            violation(h, c, "PONG %" PRIu64 " for no PING (or out of order)",
                      m->u.ping.cookie);
        c->ping_head = i + 1;
        break;
    }
    case HFX_MSG_PING:
    case HFX_MSG_BYE:
        break;
    case HFX_MSG_ERROR:
        if (id == 0 ||
            ((h->strict & STRICT_ERRORS) && !stream_level_code(m->u.error.code))) {
            c->conn_error = true;
            c->conn_error_stream = id;
            c->conn_error_code = m->u.error.code;
        }
        if (id != 0 && id < STREAMS)
            c->sh.awaiting[id] = false;
        note(h, "conn %u: ERROR stream %" PRIu32 " %s: %s", c->index, id,
             hfx_status_name((enum hfx_status)m->u.error.code), m->u.error.text);
        break;
    case HFX_MSG_CONFIGURED:
        check_stream_id(h, c, m);
        c->sh.awaiting[id] = false;
        /* A subscribed stream gets one when it subscribes or the scanout's
         * size changes (§5.17), of a size published. Only where no
         * CONFIGURE ever went, the sizes tell which is which. */
        if (++c->configured_rx[id] > c->sh.configures[id] && !c->sh.ever_subscribed[id])
            violation(h, c, "CONFIGURED %u on stream %" PRIu32 " for %u CONFIGURE(s)",
                      c->configured_rx[id], id, c->sh.configures[id]);
        if (c->sh.configures[id] == 0 &&
            (m->u.configured.codec != HFX_CODEC_H264 ||
             !size_published(h, m->u.configured.width, m->u.configured.height)))
            violation(h, c,
                      "CONFIGURED on subscribed stream %" PRIu32 ": codec %" PRIu32 ", %" PRIu32
                      "x%" PRIu32 ", a size no picture was published in",
                      id, m->u.configured.codec, m->u.configured.width, m->u.configured.height);
        c->sub_last[id] = 0;
        c->sub_want_key[id] = true;
        break;
    case HFX_MSG_FLUSHED:
        check_stream_id(h, c, m);
        if (++c->flushed_rx[id] > c->sh.flushes[id])
            violation(h, c, "FLUSHED %u on stream %" PRIu32 " for %u FLUSH(es)",
                      c->flushed_rx[id], id, c->sh.flushes[id]);
        break;
    case HFX_MSG_PACKET: {
        const struct hfx_packet *p = &m->u.packet;
        bool key = (m->hdr.flags & HFX_PACKET_FLAG_KEYFRAME) != 0;
        check_stream_id(h, c, m);
        if (c->configured_rx[id] == 0)
            violation(h, c, "PACKET on stream %" PRIu32 " before any CONFIGURED", id);
        /* §5.4: the flag is the NAL scan's, and SPS/PPS precede an IDR. */
        if (key != hfx_h264_is_idr(p->data, p->data_len))
            violation(h, c, "PACKET %" PRIu64 ": KEYFRAME flag %d, NAL scan says %d",
                      p->frame_id, key, !key);
        if (key && !hfx_h264_has_parameter_sets(p->data, p->data_len))
            violation(h, c, "PACKET %" PRIu64 ": an IDR without SPS/PPS", p->frame_id);
        if (!answer_frame(h, c, m, p->frame_id, true, p->pts) &&
            !scanout_picture(h, c, m, p->frame_id, key))
            answers_nothing(h, c, m, p->frame_id);
        break;
    }
    case HFX_MSG_FRAME_DROPPED:
        check_stream_id(h, c, m);
        /* SOURCE only from a server with a reader, to a client that
         * offered RESOURCE (in some HELLO: answers may trail a new one). */
        if (m->u.dropped.reason < HFX_DROP_QUEUE_FULL || m->u.dropped.reason > HFX_DROP_SOURCE ||
            (m->u.dropped.reason == HFX_DROP_SOURCE &&
             (!h->opts.resources.read || !c->sh.offered_resource)))
            violation(h, c, "FRAME_DROPPED reason %" PRIu32, m->u.dropped.reason);
        if (!answer_frame(h, c, m, m->u.dropped.frame_id, false, 0) &&
            !scanout_picture(h, c, m, m->u.dropped.frame_id, false))
            answers_nothing(h, c, m, m->u.dropped.frame_id);
        break;
    case HFX_MSG_SHM_ALLOCATED:
        /* Its descriptor came with it; recv() without room for one closed
         * it. */
        if (!c->sh.offered_alloc || c->sh.allocs == 0)
            violation(h, c, "SHM_ALLOCATED %" PRIu32 " for no SHM_ALLOC", m->u.shm_attach.region);
        c->sh.allocs--;
        break;
    default:
        violation(h, c, "the host sent %s, a client message", hfx_msg_type_name(m->hdr.type));
    }
}

/* Decode whole messages from what was read. */
static void parse_rx(struct harness *h, struct conn *c)
{
    size_t off = 0;

    for (;;) {
        struct hfx_msg m;
        size_t used = 0;
        enum hfx_status st = hfx_msg_decode(c->rx + off, c->rx_len - off, c->rx_max, &m, &used);
        if (st == HFX_INCOMPLETE)
            break;
        if (st != HFX_OK)
            violation(h, c, "the server sent bytes that do not decode (%s) at offset %zu "
                      "of %zu buffered, limit %" PRIu32,
                      hfx_status_name(st), off, c->rx_len, c->rx_max);
        server_message(h, c, &m);
        off += used;
    }
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
}

static int64_t harness_clock(void *user)
{
    const struct harness *h = user;
    return h->clock_ms;
}

/* In-loop mode: let the server handle everything that is ready (its
 * streams' jobs included). When nothing was and `wait` is set, time
 * passes on the server's clock instead of a wait: 1 ms, then twice as much
 * each time nothing happens again (up to 256 ms), so that a deadline
 * seconds away (a closing grace, a token throttle) comes in a few steps.
 * True if the server handled anything. No-op in thread mode: the
 * server's own thread does all this. */
static bool serve(struct harness *h, bool wait)
{
    bool any = false;
    enum hfx_status st;

    if (!h->in_loop || !h->running || h->hold)
        return false;
    /* Bounded: a server that always has something to do would be a
     * finding of its own (the harness's deadlines catch it). */
    for (int i = 0; i < 256; i++) {
        st = hfx_server_step(h->srv, 0);
        if (st == HFX_E_TIMEOUT)
            break;
        if (st != HFX_OK)
            abort();
        any = true;
    }
    if (any) {
        h->idle_ms = 1;
    } else if (wait) {
        h->clock_ms += h->idle_ms;
        if (h->idle_ms < 256)
            h->idle_ms *= 2;
        st = hfx_server_step(h->srv, 0);
        if (st != HFX_OK && st != HFX_E_TIMEOUT)
            abort();
        any = st == HFX_OK;
    }
    return any;
}

/* Read what is there (waiting up to timeout_ms for the first byte). True
 * if anything arrived. */
static bool pump(struct harness *h, struct conn *c, int timeout_ms)
{
    bool got = false;

    if (c->fd < 0 || c->eof)
        return false;
    if (h->in_loop) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        serve(h, false);
        /* Nothing ready on either side: the server's clock moves on to
         * its next deadline (a handshake timeout, a closing grace). */
        if (timeout_ms > 0 && poll(&p, 1, 0) <= 0) {
            serve(h, true);
            if (poll(&p, 1, 0) <= 0)
                return false;
        }
    } else if (timeout_ms > 0) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return false;
    }
    for (;;) {
        /* Room for a read; a message longer than what is buffered needs
         * the buffer to grow, up to what one may be. */
        if (c->rx_cap - c->rx_len < 4096 && c->rx_cap < RX_CAP) {
            c->rx = grow(c->rx, &c->rx_cap, c->rx_cap * 2 > RX_CAP ? RX_CAP : c->rx_cap * 2 + 1,
                         1, RX_CAP);
        }
        ssize_t n = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            c->eof = true;
            break;
        }
        if (n < 0)
            break;
        c->rx_len += (size_t)n;
        got = true;
        parse_rx(h, c);
        if (c->rx_len == RX_CAP)
            violation(h, c, "a message over %u bytes did not decode", RX_CAP);
    }
    if (c->eof && c->rx_len)
        violation(h, c, "the server closed inside a message (%zu bytes of it)", c->rx_len);
    return got;
}

static void pump_all(struct harness *h)
{
    for (unsigned i = 0; i < h->nconns; i++)
        pump(h, &h->conns[i], 0);
}

/* ---- sending ---- */

static void close_queued_fds(struct conn *c)
{
    for (int i = 0; i < c->nfds; i++)
        close(c->fds[i]);
    c->nfds = 0;
}

/* One send; with_fds: the queued descriptors go with its first byte. */
static ssize_t send_some(struct conn *c, const uint8_t *buf, size_t len, bool with_fds)
{
    if (!with_fds || c->nfds == 0)
        return send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * HFX_MAX_PASSED_FDS)];
    } ctl;
    struct iovec iov = {(void *)buf, len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    memset(&ctl, 0, sizeof(ctl));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)c->nfds);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)c->nfds);
    memcpy(CMSG_DATA(cm), c->fds, sizeof(int) * (size_t)c->nfds);
    ssize_t n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0)
        close_queued_fds(c); /* the server has its own copies now */
    return n;
}

/* Write out everything queued, reading meanwhile so that the server is
 * never stuck on its own writes. */
static void flush_conn(struct harness *h, struct conn *c)
{
    size_t off = 0;
    int64_t deadline = mono_ms() + FLUSH_TIMEOUT_MS;

    while (off < c->tx_len && c->fd >= 0 && !c->write_done) {
        /* Descriptors go with the first byte of their message (protocol.md
         * §7): what comes before it is a send of its own. */
        bool at_fds = c->nfds > 0 && off == c->fd_off;
        size_t end = c->nfds > 0 && off < c->fd_off ? c->fd_off : c->tx_len;
        ssize_t n = send_some(c, c->tx + off, end - off, at_fds);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int64_t left = deadline - mono_ms();
            struct pollfd p = {.fd = c->fd, .events = POLLOUT | POLLIN};
            if (left <= 0) {
                note(h, "conn %u: the server does not read; %zu bytes not sent", c->index,
                     c->tx_len - off);
                c->write_done = true;
                break;
            }
            if (h->in_loop) {
                /* The server reads when it is stepped. */
                serve(h, true);
                pump(h, c, 0);
            } else if (poll(&p, 1, (int)left) > 0 && (p.revents & (POLLIN | POLLHUP))) {
                pump(h, c, 0);
            }
            continue;
        }
        /* EPIPE, ECONNRESET: the server closed; what is left never arrives. */
        c->write_done = true;
    }
    close_queued_fds(c);
    c->tx_len = 0;
}

static void flush_all(struct harness *h)
{
    for (unsigned i = 0; i < h->nconns; i++)
        flush_conn(h, &h->conns[i]);
}

static bool can_send(const struct conn *c)
{
    return c->fd >= 0 && !c->write_done;
}

static void queue_bytes(struct harness *h, struct conn *c, const void *data, size_t len)
{
    if (!can_send(c) || len == 0)
        return;
    if (c->tx_len + len > TX_FLUSH_AT)
        flush_conn(h, c);
    c->tx = grow(c->tx, &c->tx_cap, c->tx_len + len, 1, SIZE_MAX);
    memcpy(c->tx + c->tx_len, data, len);
    c->tx_len += len;
    shadow_feed(h, c, data, len);
}

/* Encode m (with tail bytes for FRAME) into out; 0 if the reference encoder
 * refuses it (a template the fuzzer bent out of the protocol). */
static size_t encode_msg(const struct hfx_msg *m, const void *tail, size_t tail_len,
                         uint8_t *out, size_t cap)
{
    size_t n = 0;

    if (cap < HFX_MAX_HEAD + tail_len ||
        hfx_msg_encode(m, tail_len, out, cap, &n) != HFX_OK)
        return 0;
    if (tail_len)
        memmove(out + n, tail, tail_len);
    return n + tail_len;
}

static void queue_msg(struct harness *h, struct conn *c, const struct hfx_msg *m,
                      const void *tail, size_t tail_len)
{
    uint8_t head[HFX_MAX_HEAD];
    size_t n = 0;

    if (hfx_msg_encode(m, tail_len, head, sizeof(head), &n) != HFX_OK) {
        note(h, "conn %u: %s not encodable, skipped", c->index,
             hfx_msg_type_name(m->hdr.type));
        return;
    }
    queue_bytes(h, c, head, n);
    queue_bytes(h, c, tail, tail_len);
}

static void init_msg(struct hfx_msg *m, uint16_t type, uint32_t stream)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.stream = stream;
}

/* ---- templates ---- */

/* A stream id: mostly a valid one, sometimes one past max_streams. */
static uint32_t pick_stream(const struct harness *h, uint8_t b)
{
    return 1 + b % (h->opts.max_streams + 1);
}

static const char *const encoders[] = {
    "",                       /* the server's default: fake */
    "fake",
    "fault-open",             /* the worker's open fails */
    "bogus",                  /* unknown: the production path */
    "fault-fail-at=1@fake",   /* frames from the second on fail */
    "fault-fail-once=0@fake", /* the first frame fails */
    "fault-stall=2@fake",     /* each frame takes 2 ms */
    "fault-fail-at=0@fake",   /* every frame fails */
};

static const uint32_t fourccs[] = {
    HFX_FORMAT_NV12, HFX_FORMAT_I420, HFX_FORMAT_BGRX, HFX_FORMAT_BGRA,
    HFX_FORMAT_RGBX, HFX_FORMAT_RGBA, HFX_FORMAT_NV12, HFX_FOURCC('Y', 'U', 'Y', '2'),
};

static void make_hello(const struct harness *h, struct hfx_msg *m, unsigned variant,
                       uint8_t arg)
{
    init_msg(m, HFX_MSG_HELLO, 0);
    m->u.hello.min_version = 1;
    m->u.hello.max_version = 1;
    m->u.hello.caps = arg & HFX_CAP_ALL_V1;
    switch (variant) {
    case 4:
        m->u.hello.min_version = 0;
        m->u.hello.max_version = 3;
        break;
    case 5: /* HFX_E_VERSION */
        m->u.hello.min_version = 2;
        m->u.hello.max_version = 3;
        break;
    case 6:
    case 7: /* the right token, or one byte off */
        m->u.hello.token_len = (uint16_t)strlen(TOKEN);
        memcpy(m->u.hello.token, TOKEN, strlen(TOKEN));
        if (variant == 7)
            m->u.hello.token[arg % strlen(TOKEN)] ^= 1;
        break;
    default:
        break;
    }
    (void)h;
}

static void make_configure(struct harness *h, struct hfx_msg *m, uint32_t stream, uint8_t enc,
                           uint8_t geometry, uint8_t extra)
{
    struct hfx_configure *cfg = &m->u.configure;

    init_msg(m, HFX_MSG_CONFIGURE, stream);
    cfg->codec = (extra & 0x80) ? HFX_CODEC_HEVC : HFX_CODEC_H264;
    cfg->width = 2u * (1u + (geometry & 0x0f));
    cfg->height = 2u * (1u + (geometry >> 4));
    cfg->fourcc = fourccs[extra & 7];
    cfg->fps_num = 30;
    cfg->fps_den = 1;
    cfg->bitrate_kbps = 500;
    cfg->keyint_frames = (extra & 0x08) ? 3 : 0;
    cfg->keyint_ms = (extra & 0x10) ? 20 : 0;
    cfg->rate_control = (uint8_t)((extra >> 5) & 3);
    if (cfg->rate_control == 3) {
        cfg->rate_control = HFX_RC_ABR;
        cfg->bitrate_kbps = 0; /* HFX_E_MALFORMED from the host's check */
    }
    cfg->quality = 23;
    snprintf(cfg->encoder, sizeof(cfg->encoder), "%s",
             encoders[enc % (sizeof(encoders) / sizeof(encoders[0]))]);
    /* In-loop, a stall costs real time and nothing else: the server's time
     * is the harness's clock and nothing runs beside the encode. It was
     * 60 % of an execution's wall time there; the stall path stays, at
     * 0 ms. */
    if (h->in_loop && strcmp(cfg->encoder, "fault-stall=2@fake") == 0)
        snprintf(cfg->encoder, sizeof(cfg->encoder), "%s", "fault-stall=0@fake");
}

/* Plane layout of the stream's configuration as the server knows it (a
 * small NV12 one when it has none), rows `pad` bytes longer than needed.
 * Returns the bytes the planes span. */
static size_t layout(const struct conn *c, uint32_t stream, unsigned pad, struct hfx_frame *fr)
{
    struct hfx_configure cfg = {.width = 16, .height = 16, .fourcc = HFX_FORMAT_NV12};
    unsigned planes;
    uint64_t end = 0;

    if (stream < STREAMS && c->sh.has_cfg[stream])
        cfg = c->sh.cfg[stream];
    planes = hfx_format_planes(cfg.fourcc);
    if (planes == 0) {
        fr->plane_count = 1;
        fr->planes[0].offset = 0;
        fr->planes[0].stride = 64;
        return 64;
    }
    fr->plane_count = (uint8_t)planes;
    for (unsigned p = 0; p < planes; p++) {
        uint32_t row_bytes = 0, rows = 0;
        (void)hfx_format_plane_size(cfg.fourcc, cfg.width, cfg.height, p, &row_bytes, &rows);
        fr->planes[p].offset = end;
        fr->planes[p].stride = row_bytes + pad;
        end += (uint64_t)fr->planes[p].stride * rows;
    }
    return end > SIZE_MAX ? SIZE_MAX : (size_t)end;
}

/* Bend a valid frame: the server must refuse each with ERROR and close. */
static void bend_frame(struct hfx_frame *fr, size_t *len, unsigned how)
{
    switch (how) {
    case 4: /* a stride below the row */
        fr->planes[0].stride = fr->planes[0].stride ? fr->planes[0].stride - 1 : 0;
        break;
    case 5: /* the last byte missing */
        *len = *len ? *len - 1 : 0;
        break;
    case 6: /* a plane too few */
        if (fr->plane_count > 1)
            fr->plane_count--;
        else
            fr->plane_count = 2;
        break;
    case 7: /* a plane past the end */
        fr->planes[fr->plane_count - 1].offset += *len;
        break;
    default:
        break;
    }
}

static void make_frame_common(struct harness *h, struct hfx_msg *m, uint32_t stream, bool force)
{
    init_msg(m, HFX_MSG_FRAME, stream);
    m->hdr.flags = force ? HFX_FRAME_FLAG_FORCE_KEYFRAME : 0;
    m->u.frame.frame_id = h->next_frame_id;
    m->u.frame.pts = (int64_t)h->next_frame_id * 1000;
    m->u.frame.duration = 1000;
    h->next_frame_id++;
}

/* A buffer for building one message, made on first use. */
static uint8_t *scratch(struct harness *h)
{
    if (!h->scratch)
        h->scratch = malloc(SCRATCH_SIZE);
    if (!h->scratch)
        abort();
    return h->scratch;
}

/* ---- the embedder's side: scanouts ---- */

/* Scanout i of a server that has them (header byte 1, bit 4), as QEMU's
 * chardev makes its console: scanout 0 asks for pictures and takes input;
 * scanout 1 does neither (its embedder publishes on its own); scanout 2
 * is as 0 with an encoder that never opens, so its subscribers get ERROR
 * and are failed. */
static const struct {
    const char *encoder;
    bool callbacks;
} scanout_kinds[NSCANOUTS] = {{NULL, true}, {NULL, false}, {"fault-open", true}};

static void on_want_picture(void *user)
{
    struct fuzz_scanout *fs = user;

    atomic_fetch_add(&fs->want_calls, 1);
    atomic_store(&fs->wanted, true);
    note(fs->h, "scanout %" PRIu32 ": want_picture", fs->number);
}

static void on_input(void *user, const struct hfx_input *in, uint32_t width, uint32_t height)
{
    struct fuzz_scanout *fs = user;
    const struct harness *h = fs->h;
    bool ok;

    atomic_fetch_add(&fs->input_calls, 1);
    note(h, "scanout %" PRIu32 ": input kind %u in %" PRIu32 "x%" PRIu32, fs->number, in->kind,
         width, height);
    /* Only a listener's connections are offered INPUT (§5.18). */
    if (h->listen_conn < 0)
        violation(h, NULL, "input callback of scanout %" PRIu32 " with no connection accepted",
                  fs->number);
    if (in->kind == HFX_INPUT_KEY)
        ok = in->code >= 1 && in->code <= HFX_MAX_KEY_CODE && in->down <= 1 &&
             (width == 0) == (height == 0);
    else if (in->kind == HFX_INPUT_POINTER)
        ok = width && height && in->x < width && in->y < height &&
             !(in->buttons & ~HFX_BUTTONS_ALL) && in->wheel >= -HFX_MAX_WHEEL &&
             in->wheel <= HFX_MAX_WHEEL;
    else
        ok = false;
    /* The picture encoded now is one that was published. */
    if (ok && width)
        ok = width <= PICTURE_MAX && height <= PICTURE_MAX && !((width | height) & 1) &&
             (atomic_load(&fs->sizes[width / 2 - 1]) & (1u << (height / 2 - 1)));
    if (!ok)
        violation(h, NULL,
                  "input callback of scanout %" PRIu32 ": kind %u code %" PRIu32 " down %" PRIu32
                  " x %" PRIu32 " y %" PRIu32 " buttons 0x%x wheel %d in a "
                  "%" PRIu32 "x%" PRIu32 " picture",
                  fs->number, in->kind, in->code, in->down, in->x, in->y, in->buttons, in->wheel,
                  width, height);
}

static void add_scanouts(struct harness *h)
{
    for (unsigned i = 0; i < NSCANOUTS; i++) {
        struct fuzz_scanout *fs = &h->scanouts[i];
        struct hfx_scanout_options o = {
            .number = i,
            .encoder = scanout_kinds[i].encoder,
            .want_picture = scanout_kinds[i].callbacks ? on_want_picture : NULL,
            .input = scanout_kinds[i].callbacks ? on_input : NULL,
            .user = fs,
        };
        fs->h = h;
        fs->number = i;
        if (hfx_server_add_scanout(h->srv, &o, &fs->sc) != HFX_OK)
            abort();
    }
    h->nscanouts = NSCANOUTS;
}

/* A picture from the script's thread, as QEMU's display publishes from
 * its own; expect: the error a bent picture must get, or HFX_OK for one
 * that is valid (then HFX_E_BUSY too, not retried: the display publishes
 * again on its next change or request). */
static void publish(struct harness *h, struct fuzz_scanout *fs, uint32_t fourcc, uint32_t width,
                    uint32_t height, uint32_t stride, enum hfx_status expect)
{
    uint8_t *buf = scratch(h);
    uint32_t retry_ms = 0;
    bool subscribed = fs->subscribes > 0;
    enum hfx_status st;

    memset(buf, fs->fill++, (size_t)stride * height);
    /* Before the call: with the server on its own thread, the picture may
     * be encoded, and pointed at, before the call returns. */
    if (expect == HFX_OK)
        atomic_fetch_or(&fs->sizes[width / 2 - 1], 1u << (height / 2 - 1));
    if (!subscribed && hfx_scanout_wanted(fs->sc))
        violation(h, NULL, "scanout %" PRIu32 " wanted with no SUBSCRIBE sent", fs->number);
    st = hfx_scanout_publish(fs->sc, fourcc, width, height, buf, stride, &retry_ms);
    note(h, "scanout %" PRIu32 ": published %" PRIu32 "x%" PRIu32 " stride %" PRIu32 ": %s",
         fs->number, width, height, stride, hfx_status_name(st));
    if (st == HFX_OK && expect == HFX_OK) {
        fs->published++;
        fs->fourcc = fourcc;
        fs->width = width;
        fs->height = height;
        return;
    }
    /* The rate is the subscribers' (§5.17): nobody asked, nothing to wait
     * for. */
    if (st == HFX_E_BUSY && expect == HFX_OK && subscribed && retry_ms >= 1 && retry_ms <= 1000)
        return;
    if (st != expect || st == HFX_OK)
        violation(h, NULL,
                  "hfx_scanout_publish of scanout %" PRIu32 " (%" PRIu32 "x%" PRIu32
                  " stride %" PRIu32 "): %s, retry %" PRIu32 " ms, expected %s%s",
                  fs->number, width, height, stride, hfx_status_name(st), retry_ms,
                  hfx_status_name(expect), subscribed ? " or HFX_E_BUSY" : "");
}

/* What want_picture asked for: the picture as it is (the last one
 * published; 16x16 BGRx before any). */
static void answer_wants(struct harness *h)
{
    bool any = false;

    for (unsigned i = 0; i < h->nscanouts; i++) {
        struct fuzz_scanout *fs = &h->scanouts[i];
        uint32_t w = fs->width ? fs->width : 16, ht = fs->height ? fs->height : 16;
        if (!atomic_exchange(&fs->wanted, false))
            continue;
        publish(h, fs, fs->fourcc ? fs->fourcc : HFX_FORMAT_BGRX, w, ht, 4 * w, HFX_OK);
        any = true;
    }
    if (any)
        pump_all(h);
}

/* A picture of scanout (v & 3) % 3: width 2 + w % 31, height 2 + ht % 31
 * (2..32, odd ones too); mode bits 0-1 the format (BGRx BGRA RGBx RGBA),
 * 2-3 the rows' padding in pixels, 4-6 a bend: 5 a stride one byte short
 * (HFX_E_BAD_STRIDE), 6 NV12 (HFX_E_BAD_FORMAT), 7 width 1
 * (HFX_E_BAD_DIMENSIONS). A server without scanouts: a NULL scanout,
 * HFX_E_INVALID. */
static void op_publish(struct harness *h, unsigned v)
{
    static const uint32_t rgb[] = {HFX_FORMAT_BGRX, HFX_FORMAT_BGRA, HFX_FORMAT_RGBX,
                                   HFX_FORMAT_RGBA};
    uint8_t w = take(h), ht = take(h), mode = take(h);
    uint32_t width = 2u + w % (PICTURE_MAX - 1), height = 2u + ht % (PICTURE_MAX - 1);
    uint32_t fourcc = rgb[mode & 3], stride = 4 * (width + ((mode >> 2) & 3u));
    enum hfx_status expect = HFX_OK;
    uint32_t retry_ms;

    if (!h->nscanouts) {
        if (hfx_scanout_publish(NULL, fourcc, width, height, scratch(h), stride, &retry_ms) !=
            HFX_E_INVALID)
            violation(h, NULL, "hfx_scanout_publish(NULL) is not HFX_E_INVALID");
        return;
    }
    switch ((mode >> 4) & 7) {
    case 5:
        stride = 4 * width - 1;
        expect = HFX_E_BAD_STRIDE;
        break;
    case 6:
        fourcc = HFX_FORMAT_NV12;
        expect = HFX_E_BAD_FORMAT;
        break;
    case 7:
        width = 1;
        expect = HFX_E_BAD_DIMENSIONS;
        break;
    default:
        break;
    }
    publish(h, &h->scanouts[(v & 3) % h->nscanouts], fourcc, width, height, stride, expect);
}

/* ---- operations ---- */

static void op_hello(struct harness *h, struct conn *c, unsigned v)
{
    struct hfx_msg m;
    make_hello(h, &m, v, take(h));
    queue_msg(h, c, &m, NULL, 0);
}

static void op_configure(struct harness *h, struct conn *c)
{
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));
    uint8_t enc = take(h), geometry = take(h), extra = take(h);

    make_configure(h, &m, stream, enc, geometry, extra);
    note(h, "conn %u: CONFIGURE stream %" PRIu32 " %ux%u encoder '%s'", c->index, stream,
         m.u.configure.width, m.u.configure.height, m.u.configure.encoder);
    queue_msg(h, c, &m, NULL, 0);
}

static void op_frame_inline(struct harness *h, struct conn *c, unsigned v)
{
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));
    uint8_t shape = take(h);
    size_t len;

    make_frame_common(h, &m, stream, v & 1);
    m.u.frame.source = HFX_SOURCE_INLINE;
    len = layout(c, stream, shape >> 3, &m.u.frame);
    uint8_t *buf = scratch(h);
    if (len > SCRATCH_SIZE - HFX_MAX_HEAD)
        len = SCRATCH_SIZE - HFX_MAX_HEAD; /* too big to send: TRUNCATED */
    bend_frame(&m.u.frame, &len, shape & 7);
    memset(buf, (int)(m.u.frame.frame_id & 0xff), len);
    queue_msg(h, c, &m, buf, len);
}

static void op_frame_shm(struct harness *h, struct conn *c, unsigned v)
{
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));
    uint8_t r = take(h), at = take(h);
    size_t len;

    make_frame_common(h, &m, stream, v & 1);
    m.u.frame.source = HFX_SOURCE_SHM;
    if (c->nregions && !(r & 0x80))
        m.u.frame.region = c->regions[r % c->nregions];
    else
        m.u.frame.region = r & 7; /* maybe not attached; 0: no region 0 here */
    static const unsigned bends[] = {0, 4, 6, 7}; /* none, stride, plane count, past the end */

    len = layout(c, stream, 0, &m.u.frame);
    for (unsigned p = 0; p < m.u.frame.plane_count; p++)
        m.u.frame.planes[p].offset += (uint64_t)at * 64;
    bend_frame(&m.u.frame, &len, bends[v >> 1]);
    queue_msg(h, c, &m, NULL, 0);
}

/* SUBSCRIBE, valid as built: scanout n & 3 (3: 3 + n / 4, which no server
 * here has), max_fps 1..240, keep-alive 0 (the default), 10..2540 ms or
 * 60 s. */
static void op_subscribe(struct harness *h, struct conn *c)
{
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));
    uint8_t n = take(h), fps = take(h), ka = take(h);

    init_msg(&m, HFX_MSG_SUBSCRIBE, stream);
    m.u.subscribe.scanout = (n & 3) == 3 ? 3u + (n >> 2) : n & 3u;
    m.u.subscribe.max_fps = (uint16_t)(1 + fps % HFX_MAX_SCANOUT_FPS);
    m.u.subscribe.keepalive_ms = (uint16_t)(ka == 0     ? 0
                                            : ka == 255 ? HFX_MAX_KEEPALIVE_MS
                                                        : HFX_MIN_KEEPALIVE_MS * ka);
    note(h, "conn %u: SUBSCRIBE stream %" PRIu32 " to scanout %" PRIu32 ", %u fps, %u ms",
         c->index, stream, m.u.subscribe.scanout, m.u.subscribe.max_fps,
         m.u.subscribe.keepalive_ms);
    queue_msg(h, c, &m, NULL, 0);
}

/* INPUT, valid as built. A key (s, a, b): code 1..0x2ff from a and the low
 * 2 bits of b, pressed when b bit 2. The pointer (s, x, y, b, w): x and y
 * 0..127, or with bit 7 (x & 0x7f) * 64, up to 8128, past any picture
 * here; buttons b & 7, wheel w % 33 - 16. */
static void op_input(struct harness *h, struct conn *c, bool pointer)
{
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));
    uint8_t a = take(h), b = take(h);

    init_msg(&m, HFX_MSG_INPUT, stream);
    if (!pointer) {
        m.u.input.kind = HFX_INPUT_KEY;
        m.u.input.code = 1u + ((a | (b & 3u) << 8) % HFX_MAX_KEY_CODE);
        m.u.input.down = (b >> 2) & 1u;
    } else {
        uint8_t buttons = take(h), wheel = take(h);
        m.u.input.kind = HFX_INPUT_POINTER;
        m.u.input.x = (a & 0x80) ? (a & 0x7fu) * 64u : a;
        m.u.input.y = (b & 0x80) ? (b & 0x7fu) * 64u : b;
        m.u.input.buttons = buttons & HFX_BUTTONS_ALL;
        m.u.input.wheel = (int16_t)(wheel % (2 * HFX_MAX_WHEEL + 1) - HFX_MAX_WHEEL);
    }
    note(h, "conn %u: INPUT stream %" PRIu32 " %s", c->index, stream, pointer ? "pointer" : "key");
    queue_msg(h, c, &m, NULL, 0);
}

static void op_stream_control(struct harness *h, struct conn *c, unsigned v)
{
    static const uint16_t types[] = {HFX_MSG_REQUEST_KEYFRAME, HFX_MSG_FLUSH, HFX_MSG_CLOSE,
                                     HFX_MSG_SET_BITRATE};
    struct hfx_msg m;

    /* Odd variants but the last were the even ones again: SUBSCRIBE and
     * INPUT took them. */
    if (v == 1) {
        op_subscribe(h, c);
        return;
    }
    if (v == 3 || v == 5) {
        op_input(h, c, v == 5);
        return;
    }
    init_msg(&m, types[(v >> 1) & 3], pick_stream(h, take(h)));
    if (m.hdr.type == HFX_MSG_SET_BITRATE)
        m.u.set_bitrate.kbps = 1u + 100u * take(h);
    note(h, "conn %u: %s stream %" PRIu32, c->index, hfx_msg_type_name(m.hdr.type),
         m.hdr.stream);
    queue_msg(h, c, &m, NULL, 0);
}

static void op_pings(struct harness *h, struct conn *c)
{
    unsigned n = 1u + 16u * take(h);
    struct hfx_msg m;

    if (n > h->burst_pings_left)
        n = h->burst_pings_left;
    h->burst_pings_left -= n;
    init_msg(&m, HFX_MSG_PING, 0);
    for (unsigned i = 0; i < n; i++) {
        m.u.ping.cookie = h->next_cookie++;
        queue_msg(h, c, &m, NULL, 0);
    }
}

static void op_bye_or_error(struct harness *h, struct conn *c, unsigned v)
{
    struct hfx_msg m;

    if (v < 6) {
        init_msg(&m, HFX_MSG_BYE, 0);
    } else {
        init_msg(&m, HFX_MSG_ERROR, v == 7 ? pick_stream(h, take(h)) : 0);
        m.u.error.code = take(h);
        snprintf(m.u.error.text, sizeof(m.u.error.text), "client error");
    }
    queue_msg(h, c, &m, NULL, 0);
}

/* SHM_ATTACH with a sealed memfd, or with the usual lies: a size over the
 * file, no seal, no descriptor, two descriptors, or the descriptor on a
 * PING instead. Mode bit 0x20: SHM_ALLOC of the region instead (the host
 * makes the memory; one bit over the limit with bit 0x01). */
static void op_shm_attach(struct harness *h, struct conn *c)
{
    uint8_t r = take(h), size_b = take(h), mode = take(h);
    uint32_t region = r % 6; /* 0: HFX_E_MALFORMED */
    uint64_t size = 4096u * (1u + (size_b & 7));
    struct hfx_msg m;
    int fd = -1;

    if (!can_send(c))
        return;
    if (mode & 0x20) {
        init_msg(&m, HFX_MSG_SHM_ALLOC, 0);
        m.u.shm_attach.region = region;
        m.u.shm_attach.size = (mode & 0x01) ? HFX_MAX_SHM_SIZE + 1 : size;
        queue_msg(h, c, &m, NULL, 0);
        if (region && c->nregions < MAX_REGIONS)
            c->regions[c->nregions++] = region;
        return;
    }
    if (!(mode & 0x04)) {
        fd = memfd_create("hfx-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
            abort();
        if (!(mode & 0x02) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0)
            abort();
    }
    init_msg(&m, HFX_MSG_SHM_ATTACH, 0);
    m.u.shm_attach.region = region;
    m.u.shm_attach.size = (mode & 0x01) ? size + 1 : size;
    if (fd >= 0) {
        /* One message with descriptors per write: earlier ones go out. */
        if (c->nfds > 0)
            flush_conn(h, c);
        c->fd_off = c->tx_len; /* with the first byte of the next message */
        c->fds[c->nfds++] = fd;
        if (mode & 0x08) {
            int second = dup(fd);
            if (second < 0)
                abort();
            c->fds[c->nfds++] = second;
        }
    }
    if ((mode & 0x10) && fd >= 0) {
        struct hfx_msg ping;
        init_msg(&ping, HFX_MSG_PING, 0);
        ping.u.ping.cookie = h->next_cookie++;
        queue_msg(h, c, &ping, NULL, 0);
        flush_conn(h, c); /* the descriptor goes with the PING, not SHM_ATTACH */
    }
    queue_msg(h, c, &m, NULL, 0);
    if (region && c->nregions < MAX_REGIONS)
        c->regions[c->nregions++] = region;
}

static void op_shm_detach(struct harness *h, struct conn *c)
{
    struct hfx_msg m;

    init_msg(&m, HFX_MSG_SHM_DETACH, 0);
    m.u.shm_detach.region = take(h) % 6;
    queue_msg(h, c, &m, NULL, 0);
}

/* Messages only a host sends, from the client: HFX_E_STATE. */
static void op_host_message(struct harness *h, struct conn *c, unsigned v)
{
    static const uint8_t au[] = {0, 0, 0, 1, 0x65, 0x88};
    struct hfx_msg m;
    uint32_t stream = pick_stream(h, take(h));

    switch (v) {
    case 0:
        init_msg(&m, HFX_MSG_WELCOME, 0);
        m.u.welcome.version = 1;
        m.u.welcome.max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
        m.u.welcome.max_streams = 1;
        m.u.welcome.window = 1;
        break;
    case 1:
        init_msg(&m, HFX_MSG_PONG, 0);
        break;
    case 2:
        init_msg(&m, HFX_MSG_CONFIGURED, stream);
        m.u.configured.codec = HFX_CODEC_H264;
        m.u.configured.width = 16;
        m.u.configured.height = 16;
        break;
    case 3:
        init_msg(&m, HFX_MSG_PACKET, stream);
        queue_msg(h, c, &m, au, sizeof(au));
        return;
    case 4:
        init_msg(&m, HFX_MSG_FRAME_DROPPED, stream);
        m.u.dropped.reason = HFX_DROP_CLOSED;
        break;
    case 5:
        init_msg(&m, HFX_MSG_FLUSHED, stream);
        break;
    default:
        /* A FRAME with a source this host does not serve (RESOURCE: or
         * serves, with a reader, to a client that offered it). */
        init_msg(&m, HFX_MSG_FRAME, stream);
        m.u.frame.source = v == 6 ? HFX_SOURCE_RESOURCE : HFX_SOURCE_SCANOUT;
        m.u.frame.region = 1;
        m.u.frame.plane_count = 1;
        m.u.frame.planes[0].stride = 64;
        if (v == 6) {
            /* Resources 1..3 of the reader; strides 64..512, or 1 MiB,
             * which runs past resource 1's memory. */
            uint8_t k = take(h);
            m.u.frame.region = 1u + k % 3u;
            m.u.frame.planes[0].stride = (k & 0x80) ? 1u << 20 : 64u << ((k >> 2) & 3u);
        }
        m.u.frame.frame_id = h->next_frame_id++;
        break;
    }
    queue_msg(h, c, &m, NULL, 0);
}

/* A template message, encoded, with bytes flipped: header and payload
 * fields the reference encoder would never write. */
static void op_mutate(struct harness *h, struct conn *c)
{
    uint8_t t = take(h), k = take(h);
    struct hfx_msg m;
    size_t len = 0, tail = 0;

    switch (t % 8) {
    case 0:
        make_hello(h, &m, 0, 1);
        break;
    case 1:
        make_configure(h, &m, 1, 1, 0x77, 0);
        break;
    case 2:
        make_frame_common(h, &m, 1, false);
        m.u.frame.source = HFX_SOURCE_INLINE;
        tail = layout(c, 1, 0, &m.u.frame);
        if (tail > SCRATCH_SIZE / 4)
            tail = SCRATCH_SIZE / 4;
        break;
    case 3:
        init_msg(&m, HFX_MSG_SHM_ATTACH, 0);
        m.u.shm_attach.region = 1;
        m.u.shm_attach.size = 4096;
        break;
    case 4:
        init_msg(&m, HFX_MSG_SET_BITRATE, 1);
        m.u.set_bitrate.kbps = 1000;
        break;
    case 5:
        init_msg(&m, HFX_MSG_PING, 0);
        m.u.ping.cookie = h->next_cookie++;
        break;
    case 6:
        init_msg(&m, HFX_MSG_ERROR, 0);
        m.u.error.code = HFX_E_REMOTE;
        snprintf(m.u.error.text, sizeof(m.u.error.text), "text");
        break;
    default:
        init_msg(&m, HFX_MSG_CLOSE, 1);
        break;
    }
    uint8_t *buf = scratch(h), *tailbuf = buf + SCRATCH_SIZE / 2;
    memset(tailbuf, 0x10, tail);
    /* Head and tail end before tailbuf: HFX_MAX_HEAD + a quarter < a half. */
    len = encode_msg(&m, tailbuf, tail, buf, SCRATCH_SIZE / 2);
    if (len == 0)
        return;
    for (unsigned i = 0; i < (k & 7u); i++) {
        uint8_t at = take(h), x = take(h);
        buf[at % len] ^= x;
    }
    queue_bytes(h, c, buf, len);
}

static void op_raw(struct harness *h, struct conn *c)
{
    size_t n = take(h);

    if (n > h->left)
        n = h->left;
    queue_bytes(h, c, h->in, n);
    h->in += n;
    h->left -= n;
}

/* Write this connection out and read what is there. In-loop mode, v >= 4:
 * step the server only v - 3 times first, not until it is idle, so that
 * the next messages arrive while a stream's results wait to be passed on
 * (the server handles a connection's messages before the results of the
 * same pass: the case of finding 1, security.md). */
static void op_read(struct harness *h, struct conn *c, unsigned v)
{
    if (!h->in_loop || v < 4 || !h->running) {
        flush_conn(h, c);
        pump(h, c, 0);
        return;
    }
    flush_conn(h, c);
    h->hold = true;
    for (unsigned i = 0; i < v - 3; i++) {
        enum hfx_status st = hfx_server_step(h->srv, 0);
        if (st != HFX_OK && st != HFX_E_TIMEOUT)
            abort();
    }
    pump(h, c, 0);
    h->hold = false;
}

static void settle_configures(struct harness *h, struct conn *c);
static void ping_barrier(struct harness *h, struct conn *c);
static bool frames_waiting(const struct harness *h, const struct frame_rec **first);

/* Read from every open connection, waiting up to ms for something. */
static void wait_any(struct harness *h, int ms)
{
    struct pollfd p[MAX_CONNS];
    nfds_t n = 0;

    for (unsigned i = 0; i < h->nconns; i++)
        if (h->conns[i].fd >= 0 && !h->conns[i].eof)
            p[n++] = (struct pollfd){.fd = h->conns[i].fd, .events = POLLIN};
    if (n && poll(p, n, ms) > 0)
        pump_all(h);
}

/* Write out and let the workers report: every CONFIGURE answered, every
 * byte handled by the server (a PING's PONG), then the frames answered, for
 * at most 2..16 ms (and the execution's wait budget). */
static void op_settle(struct harness *h, unsigned v)
{
    const struct frame_rec *f;
    int64_t t0, until;

    flush_all(h);
    for (unsigned i = 0; i < h->nconns; i++)
        settle_configures(h, &h->conns[i]);
    for (unsigned i = 0; i < h->nconns; i++)
        ping_barrier(h, &h->conns[i]);
    answer_wants(h);
    if (h->in_loop) {
        /* 2..16 ms of the server's time, 1 ms at a time. */
        for (unsigned i = 0; i < 2 * (1 + v) && frames_waiting(h, &f); i++) {
            h->clock_ms++;
            serve(h, false);
            pump_all(h);
        }
        return;
    }
    t0 = mono_ms();
    until = t0 + 2 * (1 + (int)v);
    if (until > t0 + h->wait_left_ms)
        until = t0 + h->wait_left_ms;
    while (frames_waiting(h, &f) && mono_ms() < until)
        wait_any(h, 1);
    h->wait_left_ms -= (int)(mono_ms() - t0);
    pump_all(h);
}

/* Stop the server now, with whatever it has not read yet: what hfxd does
 * on SIGTERM. The rest of the script only queues bytes nobody reads. */
static void stop_server(struct harness *h)
{
    if (!h->running)
        return;
    if (write(h->stop[1], "x", 1) != 1)
        abort();
    if (h->in_loop) {
        /* One pass that sees the stop, then the BYEs, as on the thread. */
        if (hfx_server_run(h->srv, h->stop[0]) != HFX_OK)
            abort();
    } else {
        pthread_join(h->thread, NULL);
    }
    h->running = false;
}

static void op_disconnect(struct harness *h, struct conn *c, unsigned v)
{
    if (v == 7) {
        flush_all(h);
        note(h, "stopping the server");
        stop_server(h);
        return;
    }
    if (c->fd < 0)
        return;
    flush_conn(h, c);
    if (v & 1) {
        /* Half-close: the server sees the end and may still answer. */
        shutdown(c->fd, SHUT_WR);
        c->write_done = true;
    } else {
        close(c->fd);
        c->fd = -1;
    }
    note(h, "conn %u: %s", c->index, (v & 1) ? "half-closed" : "closed");
}

static void op_sleep(struct harness *h, unsigned v)
{
    int ms = 1 + (int)v;

    flush_all(h);
    if (h->in_loop) {
        h->clock_ms += ms; /* no wait budget: it costs nothing */
        pump_all(h);
        answer_wants(h);
        return;
    }
    if (ms > h->wait_left_ms)
        ms = h->wait_left_ms;
    if (ms > 0) {
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
        h->wait_left_ms -= ms;
    }
    pump_all(h);
    answer_wants(h);
}

/* ---- waiting for the workers' first results ---- */

static bool configures_unanswered(const struct conn *c)
{
    if (c->fd < 0 || c->eof || c->conn_error)
        return false;
    for (uint32_t id = 1; id < STREAMS; id++)
        if (c->sh.awaiting[id])
            return true;
    return false;
}

static void settle_configures(struct harness *h, struct conn *c)
{
    int64_t deadline = mono_ms() + CONFIGURE_WAIT_MS;

    if (!configures_unanswered(c))
        return;
    flush_conn(h, c);
    while (configures_unanswered(c) && mono_ms() < deadline)
        pump(h, c, 1);
}

/* ---- one execution ---- */

static void *run_server(void *arg)
{
    struct harness *h = arg;

    if (hfx_server_run(h->srv, h->stop[0]) != HFX_OK)
        abort();
    return NULL;
}

static unsigned parse_strict(const char *s)
{
    if (!s || strcmp(s, "all") == 0)
        return STRICT_ANSWERS | STRICT_ERRORS;
    return (strstr(s, "answers") ? STRICT_ANSWERS : 0) | (strstr(s, "errors") ? STRICT_ERRORS : 0);
}

/* A listening unix socket for the server (hfx_server_listen_fd takes it
 * over: hfx_server_free closes it) and the client end of a connection to
 * it, which the server accepts when it runs. The socket is autobound to an
 * abstract name the kernel picks unused: nothing on the filesystem, and
 * no two executions or processes meet. */
static int connect_through_listener(struct harness *h)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    socklen_t len = sizeof(sa.sun_family);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), fd;

    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, len) != 0 || listen(lfd, 1) != 0)
        abort();
    len = sizeof(sa);
    if (getsockname(lfd, (struct sockaddr *)&sa, &len) != 0 ||
        hfx_server_listen_fd(h->srv, lfd, NULL, 0) != HFX_OK)
        abort();
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) != 0)
        abort();
    return fd;
}

static void setup(struct harness *h, const uint8_t *data, size_t size)
{
    uint8_t h0, h1;

    h->in = data;
    h->left = size;
    h->stop[0] = h->stop[1] = -1;
    h->strict = parse_strict(getenv("HFX_FUZZ_STRICT"));
    h->verbose = getenv("HFX_FUZZ_VERBOSE") != NULL;
    h->in_loop = getenv("HFX_FUZZ_THREADS") == NULL;
    h->t0_ms = mono_ms();
    h->wait_left_ms = WAIT_BUDGET_MS;
    h->burst_pings_left = MAX_BURST_PINGS;
    h->next_frame_id = 1;
    h->next_cookie = 1;
    h0 = take(h);
    h1 = take(h);

    h->opts.encoder = "fake";
    h->opts.encode_in_loop = h->in_loop;
    h->opts.window = 1u + (h0 & 3u);
    h->opts.max_streams = 1u + ((h0 >> 2) & 3u);
    h->opts.max_queued = (h0 & 0x10) ? 16u * 1024u : 1024u * 1024u;
    h->opts.handshake_timeout_ms = (h0 & 0x20) ? 5 : 10000;
    h->opts.keyframe_min_interval_ms = (h0 & 0x40) ? 0 : 200;
    h->nconns = (h0 & 0x80) ? 2 : 1;
    h->opts.token = (h1 & 0x01) ? TOKEN : NULL;
    h->opts.max_sessions = 1u + ((h1 >> 1) & 3u);
    h->opts.max_payload = SERVER_MAX_PAYLOAD;
    /* Room for two streams of the budget's estimate, not three. */
    h->opts.max_memory = (h1 & 0x20) ? SMALL_MAX_MEMORY : 0;
    if (h1 & 0x08) {
        h->opts.log = server_log;
        h->opts.log_user = h;
    }
    if (h->verbose) {
        h->opts.log = server_log;
        h->opts.log_user = h;
    }

    if (h1 & 0x40)
        h->opts.resources.read = read_resource;
    /* The last connection comes through a listener, as a viewer's does to
     * QEMU's chardev (listen=), not its guest's port. */
    h->listen_conn = (h1 & 0x80) ? (int)h->nconns - 1 : -1;
    if (pipe(h->stop) != 0 || hfx_server_new(&h->opts, &h->srv) != HFX_OK)
        abort();
    if (h1 & 0x10)
        add_scanouts(h);
    if (h->in_loop) {
        h->clock_ms = 1000000;
        h->idle_ms = 1;
        hfx_server_set_clock(h->srv, harness_clock, h);
    }
    for (unsigned i = 0; i < h->nconns; i++) {
        struct conn *c = &h->conns[i];
        struct hfx_transport *t = NULL;
        int sv[2];

        c->index = i;
        c->rx = grow(NULL, &c->rx_cap, 16 * 1024, 1, RX_CAP);
        c->rx_max = HFX_MAX_PAYLOAD_HANDSHAKE;
        c->sh.max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
        if ((int)i == h->listen_conn) {
            c->fd = connect_through_listener(h);
            c->accepted = true;
        } else {
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                abort();
            c->fd = sv[0];
            if (hfx_transport_from_fd(sv[1], HFX_ADDR_UNIX, &t) != HFX_OK ||
                hfx_server_add_transport(h->srv, t) != HFX_OK)
                abort();
        }
        /* Room for a whole script in the socket, so that the server reads
         * it in one go where the system allows (SO_SNDBUFFORCE needs
         * CAP_NET_ADMIN; without it the default applies). */
        int sndbuf = 4 * 1024 * 1024;
        if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
            (void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    if (!h->in_loop && pthread_create(&h->thread, NULL, run_server, h) != 0)
        abort();
    h->running = true;
}

/* Until the server has handled every byte sent so far on c: the PONG of a
 * PING. Only on a live session: waiting for HELLO or closing, the server
 * would take a PING for an error. */
static void ping_barrier(struct harness *h, struct conn *c)
{
    int64_t deadline = mono_ms() + FLUSH_TIMEOUT_MS;
    struct hfx_msg m;
    size_t ping;

    if (!h->running || !can_send(c) || c->eof || c->conn_error || c->sh.state != SH_READY ||
        c->pings_lost)
        return;
    init_msg(&m, HFX_MSG_PING, 0);
    m.u.ping.cookie = h->next_cookie++;
    queue_msg(h, c, &m, NULL, 0);
    ping = c->npings; /* PONGs for up to this many PINGs */
    flush_conn(h, c);
    while (!c->eof && !c->conn_error && c->ping_head < ping && mono_ms() < deadline)
        pump(h, c, 10);
}

/* Half-close c and read until the server closes its end, having handled
 * everything sent: the end of every script, in whatever state. */
static void close_barrier(struct harness *h, struct conn *c)
{
    int64_t deadline = mono_ms() + FLUSH_TIMEOUT_MS;

    if (c->fd < 0)
        return;
    flush_conn(h, c);
    if (!c->write_done) {
        shutdown(c->fd, SHUT_WR);
        c->write_done = true;
    }
    while (h->running && !c->eof && mono_ms() < deadline)
        pump(h, c, 10);
}

static bool frames_waiting(const struct harness *h, const struct frame_rec **first)
{
    for (unsigned i = 0; i < h->nconns; i++) {
        const struct conn *c = &h->conns[i];
        if (c->fd < 0 || c->eof || c->frames_lost)
            continue;
        for (size_t k = c->first_open; k < c->nframes; k++) {
            if (!c->frames[k].answered && !c->frames[k].excused) {
                *first = &c->frames[k];
                return true;
            }
        }
    }
    return false;
}

/* HFX_FUZZ_STRICT=answers: every frame answered exactly once. */
static void check_all_answered(struct harness *h)
{
    int64_t deadline = mono_ms() + STRICT_WAIT_MS;
    const struct frame_rec *f = NULL;

    while (frames_waiting(h, &f) && mono_ms() < deadline) {
        for (unsigned i = 0; i < h->nconns; i++)
            pump(h, &h->conns[i], 1);
    }
    if (frames_waiting(h, &f))
        violation(h, NULL, "FRAME %" PRIu64 " on stream %" PRIu32 " never answered "
                  "(the connection is still open %d ms later)",
                  f->id, f->stream, STRICT_WAIT_MS);
}

/* Once the server is gone: its callbacks against what the script sent. */
static void check_scanout_calls(const struct harness *h)
{
    unsigned inputs = 0, sent = 0;

    for (unsigned i = 0; i < h->nscanouts; i++) {
        const struct fuzz_scanout *fs = &h->scanouts[i];
        unsigned in = atomic_load(&fs->input_calls), want = atomic_load(&fs->want_calls);
        if ((in || want) && !fs->subscribes)
            violation(h, NULL,
                      "scanout %" PRIu32 ": %u input and %u want_picture call(s), and no "
                      "SUBSCRIBE to it sent",
                      fs->number, in, want);
        inputs += in;
    }
    if (h->listen_conn >= 0)
        sent = h->conns[h->listen_conn].sh.inputs;
    if (inputs > sent)
        violation(h, NULL, "%u input callback(s) for %u INPUT(s) sent on a listener's connection",
                  inputs, sent);
}

static void teardown(struct harness *h)
{
    note(h, "teardown");
    flush_all(h);
    for (unsigned i = 0; i < h->nconns; i++)
        ping_barrier(h, &h->conns[i]);
    /* The script ends settled: a worker's open failure not yet passed on
     * when a stream goes is for the script itself to reach (see the
     * stop operation). */
    for (unsigned i = 0; i < h->nconns; i++)
        settle_configures(h, &h->conns[i]);
    if ((h->strict & STRICT_ANSWERS) && h->running)
        check_all_answered(h);
    for (unsigned i = 0; i < h->nconns; i++)
        close_barrier(h, &h->conns[i]);
    note(h, "stopping the server");
    stop_server(h);
    note(h, "stopped");
    /* The server said BYE to what was still open and closed it. */
    for (unsigned i = 0; i < h->nconns; i++) {
        struct conn *c = &h->conns[i];
        while (c->fd >= 0 && !c->eof && pump(h, c, 100))
            ;
    }
    hfx_server_free(&h->srv);
    check_scanout_calls(h);
    for (unsigned i = 0; i < h->nconns; i++) {
        struct conn *c = &h->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        close_queued_fds(c);
        free(c->tx);
        free(c->rx);
        free(c->sh.buf);
        free(c->frames);
        free(c->pings);
    }
    close(h->stop[0]);
    close(h->stop[1]);
}

/* Threads of this process (the server's, the stream workers') need far
 * less than glibc's 8 MiB default stack; under ASan the shadow of every
 * thread's stack is cleared when it starts and ends, and with 8 MiB stacks
 * that was most of an execution's time. A process setting, made once here
 * as a main() would (libFuzzer calls this before the first input). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    pthread_attr_t attr;

    (void)argc;
    (void)argv;
    /* Every execution allocates and frees the same few large buffers
     * (receive buffers, frames); left to glibc's defaults they go back to
     * the kernel each time and come back as page faults, which were 8% of
     * an execution's time. */
#ifdef __GLIBC__
    (void)mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
        (void)pthread_setattr_default_np(&attr);
        pthread_attr_destroy(&attr);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harness *h = calloc(1, sizeof(*h));
    int fds_before = count_fds();

    if (!h)
        abort();
    setup(h, data, size);
    while (h->left) {
        uint8_t op = take(h);
        struct conn *c = &h->conns[((op >> 4) & 1u) % h->nconns];
        unsigned v = op >> 5;

        switch (op & 0x0f) {
        case 0:
            op_hello(h, c, v);
            break;
        case 1:
            op_configure(h, c);
            break;
        case 2:
            op_frame_inline(h, c, v);
            break;
        case 3:
            op_frame_shm(h, c, v);
            break;
        case 4:
            op_stream_control(h, c, v);
            break;
        case 5:
            op_pings(h, c);
            break;
        case 6:
            op_bye_or_error(h, c, v);
            break;
        case 7:
            op_shm_attach(h, c);
            break;
        case 8:
            op_shm_detach(h, c);
            break;
        case 9:
            op_host_message(h, c, v);
            break;
        case 10:
            op_mutate(h, c);
            break;
        case 11:
            if (v >= 4)
                op_publish(h, v);
            else
                op_raw(h, c);
            break;
        case 12:
            op_settle(h, v);
            break;
        case 13:
            op_read(h, c, v);
            break;
        case 14:
            op_disconnect(h, c, v);
            break;
        default:
            op_sleep(h, v);
            break;
        }
    }
    teardown(h);
    free(h->scratch);
    free(h);
    if (count_fds() != fds_before) {
        fprintf(stderr, "fuzz-server: %d descriptor(s) leaked\n", count_fds() - fds_before);
        abort();
    }
    return 0;
}
