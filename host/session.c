/* SPDX-License-Identifier: MIT */
/*
 * The protocol of one connection (docs/protocol.md §4-§8), for the loop in
 * server.c: the handshake, CONFIGURE and the streams it starts, FRAMEs
 * from the connection or from shared memory, SHM_ATTACH/DETACH, stream
 * control, the answers and results the workers produce, protocol errors
 * and the end of a session (host/server-private.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#ifdef __linux__
#include <linux/vm_sockets.h>
#endif

#include "hfx/region.h"
#include "util/token.h"
#include "budget.h"
#include "server-private.h"

/* How long a connection that got an ERROR may take to read it before it
 * is closed anyway. */
#define CLOSE_GRACE_MS 1000
/* Messages of a connection are not read while this much waits in its send
 * queue: a client that sends PINGs (or FRAMEs) and never reads cannot
 * make the host queue answers without end (docs/protocol.md §6). */
#define READ_PAUSE_QUEUED (1u << 20)

/* For the session log line: who is on the other end; and in key, whom a
 * failed token is counted against (the address without the port, the uid,
 * the CID: a new connection must not start with a clean slate). A peer
 * with no address (serial:, fd:, a socketpair) is its own connection. */
static void describe_peer(int fd, unsigned session, bool accepted, char *out, size_t cap,
                          char *key, size_t key_cap)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN] = "?";

    snprintf(out, cap, "fd %d", fd);
    snprintf(key, key_cap, "session %u", session);
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
        return;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, cap, "tcp %s:%u", host, ntohs(in->sin_port));
        snprintf(key, key_cap, "tcp %s", host);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, cap, "tcp [%s]:%u", host, ntohs(in6->sin6_port));
        snprintf(key, key_cap, "tcp %s", host);
#if defined(__linux__) && defined(AF_VSOCK) /* as transport-private.h: Linux's vsock only */
    } else if (sa.ss_family == AF_VSOCK) {
        const struct sockaddr_vm *vm = (const struct sockaddr_vm *)&sa;
        snprintf(out, cap, "vsock %u:%u", vm->svm_cid, vm->svm_port);
        snprintf(key, key_cap, "vsock %u", vm->svm_cid);
#endif
    } else if (sa.ss_family == AF_UNIX) {
#ifdef SO_PEERCRED
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
            snprintf(out, cap, "unix pid %d uid %u", (int)cred.pid, (unsigned)cred.uid);
            /* A socketpair reports its creator: only a listener's peers
             * share a key. */
            if (accepted)
                snprintf(key, key_cap, "uid %u", (unsigned)cred.uid);
            return;
        }
#endif
        snprintf(out, cap, "unix");
    }
}

bool session_is_waiting(const struct session *ss)
{
    return ss->state == SESSION_HELLO && ss->accepted;
}

/* Every change of state goes through here, so that the counts behind
 * max_sessions (sessions after WELCOME) and max_handshakes (accepted
 * connections before HELLO) stay true. */
static void set_state(struct hfx_server *s, struct session *ss, enum session_state state)
{
    if (ss->state == SESSION_READY)
        s->nready--;
    if (session_is_waiting(ss))
        s->nwaiting--;
    ss->state = state;
    if (ss->state == SESSION_READY)
        s->nready++;
    if (session_is_waiting(ss))
        s->nwaiting++;
}

enum hfx_status session_add(struct hfx_server *s, struct hfx_transport *t,
                            struct shm_region *shared, bool accepted)
{
    struct session *ss = calloc(1, sizeof(*ss));
    struct hfx_conn_options co = {.max_payload = HFX_MAX_PAYLOAD_HANDSHAKE,
                                  .max_queued = s->opts.max_queued};
    enum hfx_status st;

    if (!ss) {
        hfx_transport_free(&t);
        return HFX_E_NOMEM;
    }
    st = hfx_conn_new(t, &co, &ss->conn);
    if (st != HFX_OK) {
        free(ss);
        return st;
    }
    ss->id = ++s->next_id;
    ss->shared = shared ? shm_region_ref(shared) : NULL;
    ss->accepted = accepted;
    ss->state = SESSION_CLOSING; /* counted by neither limit until set_state */
    set_state(s, ss, SESSION_HELLO);
    ss->started_ms = server_now_ms(s);
    describe_peer(hfx_conn_fd(ss->conn), ss->id, accepted, ss->peer, sizeof(ss->peer),
                  ss->peer_key, sizeof(ss->peer_key));
    ss->next = s->sessions;
    s->sessions = ss;
    s->nsessions++;
    s->stats.sessions_total++;
    return HFX_OK;
}

static void init_msg(struct hfx_msg *m, uint16_t type, uint32_t stream)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.stream = stream;
}

/* The connection goes at once: nothing more can be sent or is wanted. */
void session_close_now(struct hfx_server *s, struct session *ss)
{
    set_state(s, ss, SESSION_CLOSING);
    ss->close_deadline_ms = server_now_ms(s);
}

/* Queue a message; a peer whose queue overflows is a slow consumer and is
 * closed rather than waited for, told so by an ERROR that the queue has
 * room for beyond its cap (docs/protocol.md section 6). */
static void send_or_close(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    enum hfx_status st;

    if (ss->state == SESSION_CLOSING)
        return;
    st = hfx_conn_send_msg(ss->conn, m);
    if (st == HFX_OK)
        return;
    if (st == HFX_E_SLOW_CONSUMER) {
        session_protocol_error(s, ss, 0, HFX_E_SLOW_CONSUMER,
                               "send queue full (%zu bytes waiting) at %s",
                               hfx_conn_queued(ss->conn), hfx_msg_type_name(m->hdr.type));
        return;
    }
    server_log(s, HFX_LOG_WARN, "session %u: send %s: %s", ss->id, hfx_msg_type_name(m->hdr.type),
               hfx_strerror(st));
    session_close_now(s, ss);
}

void session_send(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    send_or_close(s, ss, m);
}

void session_configured_msg(const struct stream_result *r, const struct hfx_configure *cfg,
                            uint32_t stream, struct hfx_msg *m)
{
    init_msg(m, HFX_MSG_CONFIGURED, stream);
    m->u.configured.codec = cfg->codec;
    m->u.configured.width = cfg->width;
    m->u.configured.height = cfg->height;
    m->u.configured.profile_idc = r->profile_idc;
    m->u.configured.level_idc = r->level_idc;
    snprintf(m->u.configured.encoder, sizeof(m->u.configured.encoder), "%s", r->encoder);
    m->u.configured.extradata = r->data;
    m->u.configured.extradata_len = (uint32_t)r->len;
}

size_t session_queued(const struct session *ss)
{
    return hfx_conn_queued(ss->conn);
}

/* Send ERROR and close the connection once it has been written (or after
 * a grace period). Other sessions are untouched. */
void session_protocol_error(struct hfx_server *s, struct session *ss, uint32_t stream,
                            enum hfx_status code, const char *fmt, ...)
{
    struct hfx_msg m;
    va_list ap;

    if (ss->state == SESSION_CLOSING)
        return;
    init_msg(&m, HFX_MSG_ERROR, stream);
    m.u.error.code = (uint32_t)code;
    va_start(ap, fmt);
    vsnprintf(m.u.error.text, sizeof(m.u.error.text), fmt, ap);
    va_end(ap);
    server_log(s, HFX_LOG_WARN, "session %u: %s: %s; closing", ss->id, hfx_status_name(code),
               m.u.error.text);
    s->stats.protocol_errors++;
    if (hfx_conn_send_msg(ss->conn, &m) == HFX_OK) {
        /* Best effort: the peer may already be gone. */
        if (hfx_conn_flush(ss->conn) != HFX_OK)
            ss->close_deadline_ms = server_now_ms(s);
    }
    set_state(s, ss, SESSION_CLOSING);
    if (!ss->close_deadline_ms)
        ss->close_deadline_ms = server_now_ms(s) + CLOSE_GRACE_MS;
}

/* A failure of one stream that is not the peer's fault (protocol.md §8):
 * ERROR on the stream, the connection stays. */
static void stream_error(struct hfx_server *s, struct session *ss, uint32_t id,
                         enum hfx_status code, const char *text)
{
    struct hfx_msg m;

    init_msg(&m, HFX_MSG_ERROR, id);
    m.u.error.code = (uint32_t)code;
    snprintf(m.u.error.text, sizeof(m.u.error.text), "%s", text);
    server_log(s, HFX_LOG_WARN, "session %u stream %u: %s: %s", ss->id, id, hfx_status_name(code),
               text);
    send_or_close(s, ss, &m);
}

void session_subscription_failed(struct hfx_server *s, struct session *ss, uint32_t id,
                                 enum hfx_status code, const char *text)
{
    struct stream_slot *slot = &ss->streams[id];

    slot->scanout = NULL;
    slot->state = SLOT_FAILED;
    stream_error(s, ss, id, code, text);
}

static void add_stats(struct stream_stats *to, const struct stream_stats *from)
{
    to->frames_in += from->frames_in;
    to->frames_encoded += from->frames_encoded;
    to->frames_dropped += from->frames_dropped;
    to->encode_ns += from->encode_ns;
    to->bytes_out += from->bytes_out;
    if (from->encoder[0])
        snprintf(to->encoder, sizeof(to->encoder), "%s", from->encoder);
}

static void send_dropped(struct hfx_server *s, struct session *ss, uint32_t stream,
                         uint64_t frame_id, uint32_t reason)
{
    struct hfx_msg m;

    init_msg(&m, HFX_MSG_FRAME_DROPPED, stream);
    m.u.dropped.frame_id = frame_id;
    m.u.dropped.reason = reason;
    s->stats.frames_dropped++;
    send_or_close(s, ss, &m);
}

/* Send the answers that are next in frame order (answers.h). */
static void send_answers(struct hfx_server *s, struct session *ss, uint32_t id)
{
    struct answers *q = ss->streams[id].answers;
    struct answer a;
    struct hfx_msg m;

    while (answers_next(q, &a)) {
        struct stream_result *r = a.result;
        if (!r) {
            send_dropped(s, ss, id, a.frame_id, a.reason);
        } else if (r->type == RESULT_DROPPED) {
            send_dropped(s, ss, id, r->frame_id, r->reason);
        } else {
            init_msg(&m, HFX_MSG_PACKET, id);
            m.hdr.flags = r->keyframe ? HFX_PACKET_FLAG_KEYFRAME : 0;
            m.u.packet.frame_id = r->frame_id;
            m.u.packet.pts = r->pts;
            m.u.packet.dts = r->dts;
            m.u.packet.data = r->data;
            m.u.packet.data_len = r->len;
            s->stats.frames_encoded++;
            send_or_close(s, ss, &m);
        }
        free(r);
    }
}

/* Pass on what a stream's worker produced, in the order it came (a list
 * from stream_take_results or stream_stop; every element is freed).
 * Returns true when the worker reported that the stream failed (its ERROR
 * is sent here, in order with the rest); ending the stream is the
 * caller's. Never ends a stream itself: callers may be ending it. */
static bool pass_on(struct hfx_server *s, struct session *ss, uint32_t id, struct stream_result *r)
{
    struct stream_slot *slot = &ss->streams[id];
    struct hfx_msg m;
    bool failed = false;

    while (r) {
        struct stream_result *next = r->next;
        switch (r->type) {
        case RESULT_CONFIGURED:
            session_configured_msg(r, &slot->cfg, id, &m);
            send_or_close(s, ss, &m);
            free(r);
            break;
        case RESULT_PACKET:
        case RESULT_DROPPED:
            r->next = NULL;
            answers_set_result(slot->answers, r); /* taken */
            send_answers(s, ss, id);
            break;
        case RESULT_FLUSHED:
            /* Every frame before the FLUSH has its answer by now (the
             * worker drained the encoder first). */
            if (slot->flushes)
                slot->flushes--;
            send_answers(s, ss, id);
            init_msg(&m, HFX_MSG_FLUSHED, id);
            send_or_close(s, ss, &m);
            free(r);
            break;
        case RESULT_ERROR:
            stream_error(s, ss, id, r->status, r->text);
            failed = true;
            free(r);
            break;
        }
        r = next;
    }
    return failed;
}

/* End a live stream. Its worker's results so far are passed on, then every
 * frame still unanswered gets FRAME_DROPPED for `reason`, in frame order
 * (docs/protocol.md §5: exactly one answer per frame), then every FLUSH the
 * worker did not finish its FLUSHED (§5.8), unless `quiet` (a new HELLO,
 * BYE or the connection's end: nobody is there to answer). The slot
 * becomes `next` (SLOT_FREE, or SLOT_FAILED after an encoder failure). */
static void end_stream(struct hfx_server *s, struct session *ss, uint32_t id, uint32_t reason,
                       bool quiet, enum slot_state next)
{
    struct stream_slot *slot = &ss->streams[id];
    struct stream_frame pending[HFX_MAX_WINDOW];
    struct stream_stats st;
    struct stream_result *left;
    unsigned n = 0;

    if (slot->state == SLOT_SUBSCRIBED) {
        /* A subscriber has nothing pending: it asked for no frame. */
        scanout_unsubscribe(s, slot->scanout, ss, id);
        slot->scanout = NULL;
    }
    if (slot->state != SLOT_LIVE) {
        slot->state = next;
        return;
    }
    stream_get_stats(slot->stream, &st);
    add_stats(&ss->done, &st);
    left = stream_stop(&slot->stream, pending, &n);
    for (unsigned i = 0; i < n; i++)
        stream_frame_release(&pending[i]);
    if (quiet) {
        stream_results_free(left);
    } else {
        pass_on(s, ss, id, left);
        answers_drop_all(slot->answers, reason);
        send_answers(s, ss, id);
        for (; slot->flushes; slot->flushes--) {
            struct hfx_msg m;
            init_msg(&m, HFX_MSG_FLUSHED, id);
            send_or_close(s, ss, &m);
        }
    }
    slot->flushes = 0;
    answers_clear(slot->answers);
    free(slot->answers);
    slot->answers = NULL;
    s->memory_reserved -= slot->budget;
    slot->budget = 0;
    slot->state = next;
}

/* Results a worker posted: pass them on; a stream whose encoder failed is
 * ended, its frames answered ENCODER. */
void session_forward_results(struct hfx_server *s, struct session *ss, uint32_t id)
{
    struct stream_slot *slot = &ss->streams[id];

    if (slot->state != SLOT_LIVE)
        return;
    if (pass_on(s, ss, id, stream_take_results(slot->stream)))
        end_stream(s, ss, id, HFX_DROP_ENCODER, false, SLOT_FAILED);
}

static void log_session_end(struct hfx_server *s, const struct session *ss)
{
    double mean_ms = ss->done.frames_encoded
                         ? (double)ss->done.encode_ns / 1e6 / (double)ss->done.frames_encoded
                         : 0.0;

    server_log(s, HFX_LOG_INFO,
               "session %u end: %.1f s, frames %llu, encoded %llu, dropped %llu, "
               "from shared memory %llu, from resources %llu, mean encode %.2f ms, %llu bytes "
               "out%s%s",
               ss->id, (double)(server_now_ms(s) - ss->started_ms) / 1000.0,
               (unsigned long long)ss->done.frames_in, (unsigned long long)ss->done.frames_encoded,
               (unsigned long long)ss->done.frames_dropped, (unsigned long long)ss->frames_shm,
               (unsigned long long)ss->frames_resource, mean_ms,
               (unsigned long long)ss->done.bytes_out, ss->done.encoder[0] ? ", encoder " : "",
               ss->done.encoder);
}

/* Streams and attached regions go (pending frames dropped unanswered); the
 * connection, its region 0 and its totals stay. */
static void clear_session(struct hfx_server *s, struct session *ss)
{
    for (uint32_t id = 1; id <= HFX_MAX_STREAMS; id++)
        end_stream(s, ss, id, HFX_DROP_CLOSED, true, SLOT_FREE);
    for (int i = 0; i < MAX_REGIONS; i++)
        shm_region_unref(&ss->regions[i]);
}

/* The client is gone but the connection stays (a serial port outlives the
 * guest process that used it): back to waiting for a HELLO. */
static void wait_for_hello(struct hfx_server *s, struct session *ss)
{
    clear_session(s, ss);
    hfx_conn_set_max_payload(ss->conn, HFX_MAX_PAYLOAD_HANDSHAKE);
    ss->caps = 0;
    set_state(s, ss, SESSION_HELLO);
}

static bool any_stream_live(const struct hfx_server *s)
{
    return s->memory_reserved != 0;
}

void session_end(struct hfx_server *s, struct session *ss)
{
    struct session **pp = &s->sessions;

    clear_session(s, ss);
    shm_region_unref(&ss->shared);
    set_state(s, ss, SESSION_CLOSING);
    /* After a BYE the session was reported then; an idle connection closing
     * is not another one. */
    if (!ss->after_bye)
        log_session_end(s, ss);
    while (*pp && *pp != ss)
        pp = &(*pp)->next;
    if (*pp)
        *pp = ss->next;
    s->nsessions--;
    hfx_conn_free(&ss->conn);
    free(ss);
#ifdef __GLIBC__
    /* Frames of a few MB each are kept in the heap while streams run
     * (hfxd's mallopt); with no stream left, give the memory back. Only
     * after streams: malloc_trim walks the whole heap, and a peer that
     * connects and leaves in a loop must not make it run each time. With
     * worker threads the last one to end trims (host/stream.c): it frees
     * its encoder after this. */
    if (s->opts.trim_heap_when_idle && s->opts.encode_in_loop && s->streams_since_trim &&
        !any_stream_live(s)) {
        malloc_trim(0);
        s->streams_since_trim = false;
    }
#endif
}

static void on_hello(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    const struct hfx_hello *h = &m->u.hello;
    struct hfx_msg w;

    if (h->min_version > HFX_PROTOCOL_VERSION || h->max_version < HFX_PROTOCOL_VERSION) {
        session_protocol_error(s, ss, 0, HFX_E_VERSION,
                               "HELLO: versions %u..%u offered, this host speaks %u only",
                               h->min_version, h->max_version, HFX_PROTOCOL_VERSION);
        return;
    }
    if (s->token) {
        if (!hfx_token_equal(h->token, h->token_len, s->token, s->token_len)) {
            int64_t wait = throttle_fail(&s->throttle, ss->peer_key, server_now_ms(s));
            s->stats.auth_failures++;
            session_protocol_error(s, ss, 0, HFX_E_AUTH,
                                   "HELLO: token missing or wrong (%s waits %lld ms)",
                                   ss->peer_key, (long long)wait);
            return;
        }
        throttle_pass(&s->throttle, ss->peer_key);
    }
    if (s->nready >= s->opts.max_sessions) {
        session_protocol_error(s, ss, 0, HFX_E_BUSY, "HELLO: %u sessions already (--max-sessions)",
                               s->opts.max_sessions);
        return;
    }
    init_msg(&w, HFX_MSG_WELCOME, 0);
    w.u.welcome.version = HFX_PROTOCOL_VERSION;
    w.u.welcome.caps = HFX_CAP_INLINE;
    if (hfx_transport_can_pass_fds(hfx_conn_transport(ss->conn))) {
        /* Memory the host makes can be trusted on every system; a client's
         * only where seals say it cannot shrink (docs/protocol.md §7). */
        w.u.welcome.caps |= HFX_CAP_SHM_ALLOC;
        if (shm_fd_checkable())
            w.u.welcome.caps |= HFX_CAP_SHM_FD;
    }
    if (ss->shared)
        w.u.welcome.caps |= HFX_CAP_SHM_FILE;
    if (s->opts.resources.read)
        w.u.welcome.caps |= HFX_CAP_RESOURCE;
    if (s->nscanouts)
        w.u.welcome.caps |= HFX_CAP_SCANOUT;
    /* Input drives the machine the scanout shows: only a connection from
     * a listener (a host process, in QEMU's chardev), never a transport the
     * embedder added or handed over (the guest's own port). */
    if (s->scanout_input && ss->accepted)
        w.u.welcome.caps |= HFX_CAP_INPUT;
    w.u.welcome.max_payload = s->opts.max_payload;
    w.u.welcome.max_streams = (uint16_t)s->opts.max_streams;
    w.u.welcome.window = (uint16_t)s->opts.window;
    hfx_conn_set_max_payload(ss->conn, s->opts.max_payload);
    /* §4: a client uses only the sources both sides named. */
    ss->caps = h->caps & w.u.welcome.caps;
    set_state(s, ss, SESSION_READY);
    ss->after_bye = false;
    server_log(s, HFX_LOG_INFO, "session %u start: %s", ss->id, ss->peer);
    send_or_close(s, ss, &w);
}

static void on_configure(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    struct stream_slot *slot = &ss->streams[id];
    struct hfx_wire_error err;
    enum hfx_status st = hfx_configure_validate_ex(&m->u.configure, &err);
    struct stream_params p;
    char text[HFX_MAX_TEXT];
    uint64_t cost;

    if (st != HFX_OK) {
        hfx_wire_error_format(&err, st, text, sizeof(text));
        session_protocol_error(s, ss, id, st, "%s", text);
        return;
    }
    /* Reconfigure: frames of the old configuration are answered first. */
    end_stream(s, ss, id, HFX_DROP_CLOSED, false, SLOT_FREE);
    slot->cfg = m->u.configure;
    slot->has_cfg = true;
    cost = budget_stream_bytes(&slot->cfg, s->opts.window);
    if (cost > s->opts.max_memory - s->memory_reserved) {
        snprintf(text, sizeof(text),
                 "CONFIGURE: %ux%u needs about %llu MiB; %llu of the host's %llu MiB are free "
                 "(--max-memory)",
                 slot->cfg.width, slot->cfg.height, (unsigned long long)(cost >> 20),
                 (unsigned long long)((s->opts.max_memory - s->memory_reserved) >> 20),
                 (unsigned long long)(s->opts.max_memory >> 20));
        s->stats.streams_refused++;
        stream_error(s, ss, id, HFX_E_TOO_MANY_STREAMS, text);
        slot->state = SLOT_FAILED;
        return;
    }
    slot->answers = malloc(sizeof(*slot->answers));
    if (!slot->answers) {
        session_protocol_error(s, ss, id, HFX_E_NOMEM, "CONFIGURE: out of memory");
        return;
    }
    answers_init(slot->answers);
    server_stream_params(s, &m->u.configure, ss, &p);
    p.window = s->opts.window;
    p.resources = s->opts.resources;
    p.session_id = ss->id;
    p.stream_id = id;
    st = stream_start(&p, &slot->stream);
    if (st != HFX_OK) {
        free(slot->answers);
        slot->answers = NULL;
        session_protocol_error(s, ss, id, st, "CONFIGURE: cannot start a worker");
        return;
    }
    slot->state = SLOT_LIVE;
    s->streams_since_trim = true;
    slot->budget = cost;
    s->memory_reserved += cost;
}

/* SUBSCRIBE (docs/protocol.md §5.17): what the stream was ends (as with a
 * CONFIGURE again), and it receives the scanout's packets. */
static void on_subscribe(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    const struct hfx_subscribe *req = &m->u.subscribe;
    struct stream_slot *slot = &ss->streams[id];
    struct hfx_scanout *sc;
    char text[HFX_MAX_TEXT];

    if (!(ss->caps & HFX_CAP_SCANOUT)) {
        session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED, "SUBSCRIBE: %s",
                               s->nscanouts ? "the client's HELLO did not offer SCANOUT"
                                            : "this host has no scanout");
        return;
    }
    end_stream(s, ss, id, HFX_DROP_CLOSED, false, SLOT_FREE);
    /* Subscribed, or failed when refused or when the scanout fails it
     * later (§5.17), the stream has no CONFIGURE: the FRAMEs a client
     * sends it are dropped (ENCODER) without being checked against one
     * that an earlier CONFIGURE left. */
    slot->has_cfg = false;
    sc = scanout_find(s, req->scanout);
    if (!sc) {
        snprintf(text, sizeof(text), "SUBSCRIBE: no scanout %u", req->scanout);
        stream_error(s, ss, id, HFX_E_NO_SOURCE, text);
        slot->state = SLOT_FAILED;
        return;
    }
    if (scanout_subscribe(s, sc, ss, id, req) != HFX_OK) {
        snprintf(text, sizeof(text), "SUBSCRIBE: scanout %u has %d subscribers already",
                 req->scanout, HFX_SCANOUT_MAX_SUBSCRIBERS);
        stream_error(s, ss, id, HFX_E_BUSY, text);
        slot->state = SLOT_FAILED;
        return;
    }
    slot->state = SLOT_SUBSCRIBED;
    slot->scanout = sc;
}

/* INPUT (docs/protocol.md §5.18): to the subscribed scanout's embedder. */
static void on_input(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    struct stream_slot *slot = &ss->streams[id];

    if (!(ss->caps & HFX_CAP_INPUT)) {
        session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED, "INPUT: %s",
                               !s->scanout_input ? "no scanout of this host takes input"
                               : !ss->accepted   ? "this connection may not send input"
                                                 : "the client's HELLO did not offer INPUT");
        return;
    }
    if (slot->state == SLOT_FAILED)
        return; /* as REQUEST_KEYFRAME on a failed stream (§5) */
    if (slot->state != SLOT_SUBSCRIBED) {
        session_protocol_error(s, ss, id, HFX_E_STATE,
                               "INPUT on stream %u, which is not subscribed to a scanout", id);
        return;
    }
    if (!scanout_takes_input(slot->scanout)) {
        session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED,
                               "INPUT on stream %u: its scanout takes no input", id);
        return;
    }
    scanout_input(slot->scanout, &m->u.input);
}

static struct shm_region *find_region(struct session *ss, uint32_t id, int *slot)
{
    for (int i = 0; i < MAX_REGIONS; i++) {
        if (ss->regions[i] && ss->regions[i]->id == id) {
            if (slot)
                *slot = i;
            return ss->regions[i];
        }
    }
    return NULL;
}

/* Region 0 starts with the host's header (§7.1); frames go after it. */
static bool planes_in_data_area(const struct hfx_frame *fr)
{
    for (unsigned i = 0; i < fr->plane_count; i++)
        if (fr->planes[i].offset < HFX_REGION_HEADER_SIZE)
            return false;
    return true;
}

/* The memory a FRAME's planes are in, checked against §5.3 and §7: true
 * and *base / *size set, or false after a protocol error. */
static bool frame_memory(struct hfx_server *s, struct session *ss, const struct hfx_msg *m,
                         struct shm_region **region, const uint8_t **base, uint64_t *size)
{
    uint32_t id = m->hdr.stream;
    const struct hfx_frame *fr = &m->u.frame;
    unsigned long long fid = (unsigned long long)fr->frame_id;

    *region = NULL;
    if (fr->source == HFX_SOURCE_INLINE) {
        *base = fr->data;
        *size = fr->data_len;
        return true;
    }
    /* §5.3: a resource is checked when the frame's turn to be encoded
     * comes (stream.c), not here: the guest may change it until then. */
    if (fr->source == HFX_SOURCE_RESOURCE && s->opts.resources.read) {
        if (!(ss->caps & HFX_CAP_RESOURCE)) {
            session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED,
                                   "FRAME %llu: RESOURCE, but the client's HELLO did not offer "
                                   "it",
                                   fid);
            return false;
        }
        *base = NULL;
        *size = UINT64_MAX;
        return true;
    }
    if (fr->source != HFX_SOURCE_SHM) {
        session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED,
                               "FRAME %llu: source %u is not served by this host", fid,
                               fr->source);
        return false;
    }
    /* Region 0 is never attached: SHM_ATTACH/DETACH of 0 fail to decode. */
    *region = fr->region == 0 ? ss->shared : find_region(ss, fr->region, NULL);
    if (!*region) {
        session_protocol_error(s, ss, id, HFX_E_SHM_RANGE, "FRAME %llu: no SHM region %u", fid,
                               fr->region);
        return false;
    }
    /* §4: a client uses only the sources both sides named. An attached
     * region needed SHM_FD to attach; region 0 needs SHM_FILE. */
    if (*region == ss->shared && !(ss->caps & HFX_CAP_SHM_FILE)) {
        session_protocol_error(s, ss, id, HFX_E_UNSUPPORTED,
                               "FRAME %llu: region 0, but the client's HELLO did not offer "
                               "SHM_FILE",
                               fid);
        return false;
    }
    if (*region == ss->shared && !planes_in_data_area(fr)) {
        session_protocol_error(s, ss, id, HFX_E_SHM_RANGE,
                               "FRAME %llu: a plane in region 0's header (bytes 0..%u)", fid,
                               HFX_REGION_HEADER_SIZE - 1);
        return false;
    }
    *base = (*region)->map;
    *size = (*region)->size;
    return true;
}

/* An INLINE frame's pixels for the worker: the receive buffer itself (no
 * copy), unless the frame is far larger than its picture (a stride of up
 * to 2^20 or bytes after the planes are allowed, §5.3): then its rows are
 * copied into a tight block, so that what a pending frame holds stays
 * what the memory budget counted for it. */
static bool take_inline(struct session *ss, const struct hfx_configure *cfg,
                        const struct hfx_frame *fr, struct stream_frame *f, enum hfx_status *st)
{
    uint64_t tight = 0;
    uint32_t row_bytes[HFX_MAX_PLANES], rows[HFX_MAX_PLANES];
    uint8_t *block;

    for (unsigned i = 0; i < fr->plane_count; i++) {
        if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, i, &row_bytes[i],
                                   &rows[i])) {
            *st = HFX_E_INTERNAL;
            return false;
        }
        tight += (uint64_t)row_bytes[i] * rows[i];
    }
    if (fr->data_len <= 2 * tight + 4096) {
        void *payload = NULL;
        *st = hfx_conn_take_payload(ss->conn, &payload);
        f->owned = payload;
        return *st == HFX_OK;
    }
    block = malloc(tight);
    if (!block) {
        *st = HFX_E_NOMEM;
        return false;
    }
    f->owned = block;
    for (unsigned i = 0; i < fr->plane_count; i++) {
        const uint8_t *src = fr->data + fr->planes[i].offset;
        for (uint32_t y = 0; y < rows[i]; y++)
            memcpy(block + (size_t)y * row_bytes[i], src + (size_t)y * fr->planes[i].stride,
                   row_bytes[i]);
        f->pic.plane[i] = block;
        f->pic.stride[i] = row_bytes[i];
        block += (size_t)row_bytes[i] * rows[i];
    }
    return true;
}

static void on_frame(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    struct stream_slot *slot = &ss->streams[id];
    const struct hfx_frame *fr = &m->u.frame;
    struct shm_region *region;
    const uint8_t *base;
    uint64_t size;
    uint64_t seq;
    struct stream_frame f, dropped;
    struct hfx_wire_error err;
    enum hfx_status st;

    if (slot->state == SLOT_FREE) {
        session_protocol_error(s, ss, id, HFX_E_NOT_CONFIGURED,
                               "FRAME %llu on stream %u before CONFIGURE",
                               (unsigned long long)fr->frame_id, id);
        return;
    }
    if (slot->state == SLOT_SUBSCRIBED) {
        session_protocol_error(s, ss, id, HFX_E_STATE,
                               "FRAME %llu on stream %u, which is subscribed to a scanout",
                               (unsigned long long)fr->frame_id, id);
        return;
    }
    if (!frame_memory(s, ss, m, &region, &base, &size))
        return;
    /* A failed subscription has no configuration to check against. */
    st = slot->state == SLOT_FAILED && !slot->has_cfg
             ? HFX_OK
             : hfx_frame_validate_ex(&slot->cfg, fr, size, &err);
    if (st != HFX_OK) {
        char text[HFX_MAX_TEXT];
        hfx_wire_error_format(&err, st, text, sizeof(text));
        session_protocol_error(s, ss, id, st, "%s (frame %llu)", text,
                               (unsigned long long)fr->frame_id);
        return;
    }
    s->stats.frames_received++;
    if (slot->state == SLOT_FAILED) {
        /* The stream has no encoder: its CONFIGURE or its encoder failed
         * (ERROR sent). Frames the client pipelined get their answer. */
        ss->done.frames_in++;
        ss->done.frames_dropped++;
        send_dropped(s, ss, id, fr->frame_id, HFX_DROP_ENCODER);
        return;
    }
    if (!answers_add(slot->answers, fr->frame_id, &seq)) {
        session_protocol_error(s, ss, id, HFX_E_SLOW_CONSUMER,
                               "FRAME %llu: %d frames of stream %u unanswered (window %u)",
                               (unsigned long long)fr->frame_id, ANSWERS_MAX, id, s->opts.window);
        return;
    }
    memset(&f, 0, sizeof(f));
    f.frame_id = fr->frame_id;
    f.seq = seq;
    f.pts = fr->pts;
    f.duration = fr->duration;
    f.force_key = (m->hdr.flags & HFX_FRAME_FLAG_FORCE_KEYFRAME) != 0;
    for (unsigned i = 0; fr->source != HFX_SOURCE_RESOURCE && i < fr->plane_count; i++) {
        f.pic.plane[i] = base + fr->planes[i].offset;
        f.pic.stride[i] = fr->planes[i].stride;
    }
    if (fr->source == HFX_SOURCE_RESOURCE) {
        /* Read by the stream's worker when the frame's turn comes. */
        f.resource_id = fr->region;
        f.resource_offset = fr->planes[0].offset;
        f.resource_stride = fr->planes[0].stride;
        ss->frames_resource++;
    } else if (region) {
        f.region = shm_region_ref(region);
        ss->frames_shm++;
    } else if (!take_inline(ss, &slot->cfg, fr, &f, &st)) {
        session_protocol_error(s, ss, id, st, "FRAME: %s", hfx_strerror(st));
        return;
    }
    if (stream_submit(slot->stream, &f, &dropped)) {
        /* Its answer waits for the frame being encoded, which is older. */
        answers_set_drop(slot->answers, dropped.seq, HFX_DROP_QUEUE_FULL);
        stream_frame_release(&dropped);
        send_answers(s, ss, id);
    }
}

/* A free region slot for region id, or -1 after a protocol error naming
 * what (SHM_ATTACH or SHM_ALLOC). */
static int region_slot(struct hfx_server *s, struct session *ss, uint32_t id, const char *what)
{
    if (find_region(ss, id, NULL)) {
        session_protocol_error(s, ss, 0, HFX_E_SHM_RANGE, "%s: region %u already attached", what,
                               id);
        return -1;
    }
    for (int i = 0; i < MAX_REGIONS; i++)
        if (!ss->regions[i])
            return i;
    session_protocol_error(s, ss, 0, HFX_E_TOO_LARGE, "%s: more than %d regions", what,
                           MAX_REGIONS);
    return -1;
}

/* §7.2: the host makes the memory, maps it and passes the client a
 * descriptor with SHM_ALLOCATED; the region is then attached as after
 * SHM_ATTACH. */
static void on_shm_alloc(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->u.shm_attach.region;
    uint64_t size = m->u.shm_attach.size;
    struct shm_region *r = NULL;
    struct hfx_msg reply;
    enum hfx_status st;
    int slot, fd;

    if (!hfx_transport_can_pass_fds(hfx_conn_transport(ss->conn))) {
        session_protocol_error(s, ss, 0, HFX_E_UNSUPPORTED,
                               "SHM_ALLOC: this transport cannot carry a descriptor (unix: only)");
        return;
    }
    if (!(ss->caps & HFX_CAP_SHM_ALLOC)) {
        session_protocol_error(s, ss, 0, HFX_E_UNSUPPORTED,
                               "SHM_ALLOC: the client's HELLO did not offer SHM_ALLOC");
        return;
    }
    slot = region_slot(s, ss, id, "SHM_ALLOC");
    if (slot < 0)
        return;
    st = shm_region_alloc(size, id, &r, &fd);
    if (st != HFX_OK) {
        session_protocol_error(s, ss, 0, st, "SHM_ALLOC %u: %llu bytes could not be made: %s", id,
                               (unsigned long long)size, strerror(errno));
        return;
    }
    init_msg(&reply, HFX_MSG_SHM_ALLOCATED, 0);
    reply.u.shm_attach = m->u.shm_attach;
    /* The descriptor goes with the reply's first byte (the send queue keeps
     * its own copy until then). */
    st = hfx_conn_send(ss->conn, &reply, NULL, 0, fd);
    close(fd);
    if (st != HFX_OK) {
        shm_region_unref(&r);
        session_protocol_error(s, ss, 0, st, "SHM_ALLOC %u: the answer could not be sent: %s",
                               id, hfx_strerror(st));
        return;
    }
    ss->regions[slot] = r;
}

static void on_shm_attach(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    int fd = hfx_conn_take_fd(ss->conn);
    int slot = -1;
    struct shm_region *r = NULL;
    enum hfx_status st;

    if (!hfx_transport_can_pass_fds(hfx_conn_transport(ss->conn))) {
        session_protocol_error(s, ss, 0, HFX_E_UNSUPPORTED,
                               "SHM_ATTACH: this transport cannot carry a descriptor "
                               "(unix: only)");
        goto out;
    }
    if (!(ss->caps & HFX_CAP_SHM_FD)) {
        session_protocol_error(s, ss, 0, HFX_E_UNSUPPORTED,
                               "SHM_ATTACH: the client's HELLO did not offer SHM_FD");
        goto out;
    }
    if (fd < 0) {
        session_protocol_error(s, ss, 0, HFX_E_SHM_RANGE,
                               "SHM_ATTACH %u: no descriptor came with it",
                               m->u.shm_attach.region);
        goto out;
    }
    slot = region_slot(s, ss, m->u.shm_attach.region, "SHM_ATTACH");
    if (slot < 0)
        goto out;
    st = shm_region_map(fd, m->u.shm_attach.size, m->u.shm_attach.region, &r);
    if (st != HFX_OK) {
        session_protocol_error(s, ss, 0, st,
                               "SHM_ATTACH %u: %llu bytes cannot be mapped (file smaller, not a "
                               "regular file, or not sealed against shrinking)",
                               m->u.shm_attach.region, (unsigned long long)m->u.shm_attach.size);
        goto out;
    }
    ss->regions[slot] = r;
out:
    if (fd >= 0)
        close(fd);
}

/* CLOSE, and the other stream messages on a stream whose encoder failed. */
static void on_stream_control(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    struct stream_slot *slot = &ss->streams[id];
    struct hfx_msg reply;

    switch (m->hdr.type) {
    case HFX_MSG_CLOSE:
        end_stream(s, ss, id, HFX_DROP_CLOSED, false, SLOT_FREE);
        return;
    case HFX_MSG_FLUSH:
        if (slot->state == SLOT_LIVE) {
            stream_flush(slot->stream);
            slot->flushes++;
        } else {
            init_msg(&reply, HFX_MSG_FLUSHED, id);
            send_or_close(s, ss, &reply);
        }
        return;
    case HFX_MSG_REQUEST_KEYFRAME:
        if (slot->state == SLOT_LIVE)
            stream_request_keyframe(slot->stream);
        else if (slot->state == SLOT_SUBSCRIBED)
            scanout_request_keyframe(slot->scanout);
        return;
    case HFX_MSG_SET_BITRATE:
        if (slot->state == SLOT_LIVE)
            stream_set_bitrate(slot->stream, m->u.set_bitrate.kbps);
        else if (slot->state == SLOT_SUBSCRIBED)
            /* One encoder serves every subscriber: its bitrate is the
             * host's (docs/protocol.md §5.17). */
            session_protocol_error(s, ss, id, HFX_E_STATE,
                                   "SET_BITRATE on stream %u, which is subscribed to a scanout",
                                   id);
        return;
    default:
        return;
    }
}

static void on_message(struct hfx_server *s, struct session *ss, const struct hfx_msg *m)
{
    uint32_t id = m->hdr.stream;
    uint16_t type = m->hdr.type;
    struct hfx_msg reply;
    int slot;

    if (ss->state == SESSION_HELLO) {
        if (type != HFX_MSG_HELLO)
            session_protocol_error(s, ss, 0, HFX_E_STATE, "%s before HELLO",
                                   hfx_msg_type_name(type));
        else
            on_hello(s, ss, m);
        return;
    }
    if (type == HFX_MSG_HELLO) {
        /* A serial port (virtio-serial through QEMU's chardev) outlives the
         * guest process that used it: a new client's HELLO on a live
         * session means the old one is gone. Start over. */
        server_log(s, HFX_LOG_INFO, "session %u: HELLO again: a new client on this connection",
                   ss->id);
        wait_for_hello(s, ss);
        on_hello(s, ss, m);
        return;
    }
    if (id > s->opts.max_streams && type != HFX_MSG_ERROR) {
        session_protocol_error(s, ss, id, HFX_E_UNKNOWN_STREAM,
                               "%s: stream %u over max_streams %u", hfx_msg_type_name(type), id,
                               s->opts.max_streams);
        return;
    }
    /* Stream-level messages other than CONFIGURE need a configured
     * stream (a failed one counts: its CONFIGURE was taken). */
    if (id != 0 && type != HFX_MSG_CONFIGURE && type != HFX_MSG_SUBSCRIBE &&
        type != HFX_MSG_FRAME && type != HFX_MSG_ERROR && ss->streams[id].state == SLOT_FREE) {
        session_protocol_error(s, ss, id, HFX_E_NOT_CONFIGURED, "%s on stream %u before CONFIGURE",
                               hfx_msg_type_name(type), id);
        return;
    }
    switch (type) {
    case HFX_MSG_CONFIGURE:
        on_configure(s, ss, m);
        break;
    case HFX_MSG_SUBSCRIBE:
        on_subscribe(s, ss, m);
        break;
    case HFX_MSG_INPUT:
        on_input(s, ss, m);
        break;
    case HFX_MSG_FRAME:
        on_frame(s, ss, m);
        break;
    case HFX_MSG_REQUEST_KEYFRAME:
    case HFX_MSG_SET_BITRATE:
    case HFX_MSG_FLUSH:
    case HFX_MSG_CLOSE:
        on_stream_control(s, ss, m);
        break;
    case HFX_MSG_PING:
        init_msg(&reply, HFX_MSG_PONG, 0);
        reply.u.ping.cookie = m->u.ping.cookie;
        send_or_close(s, ss, &reply);
        break;
    case HFX_MSG_PONG:
        /* §4: PONG goes both ways; this host sends no PING, so one that
         * comes is unasked for and has nothing to match. */
        break;
    case HFX_MSG_SHM_ATTACH:
        on_shm_attach(s, ss, m);
        break;
    case HFX_MSG_SHM_ALLOC:
        on_shm_alloc(s, ss, m);
        break;
    case HFX_MSG_SHM_DETACH:
        if (!find_region(ss, m->u.shm_detach.region, &slot))
            session_protocol_error(s, ss, 0, HFX_E_SHM_RANGE, "SHM_DETACH: no region %u",
                                   m->u.shm_detach.region);
        else
            shm_region_unref(&ss->regions[slot]);
        break;
    case HFX_MSG_BYE:
        /* The session ends; the connection waits for the next HELLO. A
         * virtio-serial port outlives the guest process that used it, and
         * closing it would lose the next client's first bytes while QEMU
         * reconnects. A client on a socket closes after BYE anyway. */
        wait_for_hello(s, ss);
        log_session_end(s, ss);
        memset(&ss->done, 0, sizeof(ss->done));
        ss->frames_shm = 0;
        ss->frames_resource = 0;
        ss->id = ++s->next_id;
        ss->started_ms = server_now_ms(s);
        ss->after_bye = true;
        break;
    case HFX_MSG_ERROR: {
        /* §8: the client closes after its ERROR; the host only logs it.
         * The text is the guest's: no control bytes reach the log. */
        char text[HFX_MAX_TEXT + 1];
        size_t i = 0;
        for (; m->u.error.text[i] && i < sizeof(text) - 1; i++) {
            unsigned char c = (unsigned char)m->u.error.text[i];
            text[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        text[i] = 0;
        server_log(s, HFX_LOG_WARN, "session %u: client reports %s: %s", ss->id,
                   hfx_status_name((enum hfx_status)m->u.error.code), text);
        break;
    }
    default:
        session_protocol_error(s, ss, id, HFX_E_STATE, "%s is sent by hosts, not clients",
                               hfx_msg_type_name(type));
        break;
    }
}

/* Whether the session's buffered messages may be handled now: not while
 * its peer waits out a failed token (before HELLO), nor while its send
 * queue is long or holds a descriptor (the client does not read;
 * answering more would only grow the queue, and every SHM_ALLOCATED
 * queued would hold one of the host's descriptors). */
bool session_may_process(struct hfx_server *s, const struct session *ss, int64_t now)
{
    if (ss->state == SESSION_HELLO && s->token &&
        throttle_until(&s->throttle, ss->peer_key, now) > now)
        return false;
    return hfx_conn_queued(ss->conn) < READ_PAUSE_QUEUED && hfx_conn_queued_fds(ss->conn) == 0;
}

/* Handle the whole messages in the receive buffer. */
void session_process_messages(struct hfx_server *s, struct session *ss)
{
    struct hfx_msg m;

    ss->stalled = false;
    while (ss->state != SESSION_CLOSING) {
        enum hfx_status nst;
        if (!session_may_process(s, ss, server_now_ms(s))) {
            ss->stalled = true;
            return;
        }
        nst = hfx_conn_next(ss->conn, &m);
        if (nst == HFX_INCOMPLETE)
            return;
        if (nst != HFX_OK) {
            char text[HFX_MAX_TEXT];
            hfx_wire_error_format(hfx_conn_last_error(ss->conn), nst, text, sizeof(text));
            session_protocol_error(s, ss, 0, nst, "%s", text);
            return;
        }
        on_message(s, ss, &m);
    }
}

void session_on_readable(struct hfx_server *s, struct session *ss)
{
    enum hfx_status st = hfx_conn_read(ss->conn);
    bool eof = st == HFX_E_CLOSED;

    if (st == HFX_E_NOMEM) {
        /* §8: the host could not allocate for this connection (its receive
         * buffer); ERROR if it can still be written, and the close. */
        session_protocol_error(s, ss, 0, HFX_E_NOMEM, "out of memory for the receive buffer");
        return;
    }
    if (!eof && st != HFX_OK && st != HFX_INCOMPLETE) {
        server_log(s, HFX_LOG_WARN, "session %u: read: %s; closing", ss->id, hfx_strerror(st));
        session_close_now(s, ss);
        return;
    }
    /* Whole messages that arrived before an end of stream still count: a
     * client may send its last frames and BYE and close at once. */
    session_process_messages(s, ss);
    if (!eof || ss->state == SESSION_CLOSING || ss->stalled)
        return;
    if (hfx_conn_buffered(ss->conn) > 0) {
        session_protocol_error(s, ss, 0, HFX_E_TRUNCATED,
                               "connection ended inside a message (%zu bytes of it received)",
                               hfx_conn_buffered(ss->conn));
        return;
    }
    session_close_now(s, ss);
}

void session_say_bye(struct hfx_server *s, struct session *ss)
{
    struct hfx_msg bye;

    init_msg(&bye, HFX_MSG_BYE, 0);
    if (ss->state != SESSION_CLOSING && hfx_conn_send_msg(ss->conn, &bye) == HFX_OK &&
        hfx_conn_flush(ss->conn) != HFX_OK)
        server_log(s, HFX_LOG_DEBUG, "session %u: BYE not sent", ss->id);
}
