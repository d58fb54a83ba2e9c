/* SPDX-License-Identifier: MIT */
/*
 * The encode service's I/O side (include/hfx/server.h): the server's life
 * and its event loop, one poll() over listeners, connections and a wake
 * pipe that stream workers write to when results are ready. The loop
 * knows when a connection is readable, writable or overdue; what its
 * messages mean is session.c's, the listeners are listen.c's, encoding is
 * stream.c's (host/server-private.h).
 */
#include "hfx/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/token.h"
#include "server-private.h"
#include "server-testing.h"

/* How long a listener is not polled after accept ran out of descriptors:
 * the pending connection keeps it readable, and polling it at once spins. */
#define ACCEPT_PAUSE_MS 100

/* What every deadline of the server is measured with. */
int64_t server_now_ms(const struct hfx_server *s)
{
    return s->clock ? s->clock(s->clock_user) : hfx_clock_ms();
}

void server_stream_params(struct hfx_server *s, const struct hfx_configure *cfg, void *owner,
                          struct stream_params *p)
{
    memset(p, 0, sizeof(*p));
    p->cfg = *cfg;
    p->encoder = s->encoder;
    p->encoder_threads = s->opts.encoder_threads;
    p->keyframe_min_interval_ms = s->opts.keyframe_min_interval_ms;
    p->ready = &s->ready;
    p->owner = owner;
    p->workers = &s->workers;
    p->in_loop = s->opts.encode_in_loop;
    p->clock = s->clock;
    p->clock_user = s->clock_user;
    p->test_encode_delay_ms = s->opts.test_encode_delay_ms;
    p->log = s->opts.log;
    p->log_user = s->opts.log_user;
}

void hfx_server_set_clock(struct hfx_server *s, int64_t (*clock)(void *user), void *user)
{
    s->clock = clock;
    s->clock_user = user;
}

void server_log(struct hfx_server *s, enum hfx_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hfx_vlog(s->opts.log, s->opts.log_user, level, NULL, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *str)
{
    size_t n = strlen(str) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, str, n);
    return d;
}

enum hfx_status hfx_server_new(const struct hfx_server_options *opts, struct hfx_server **out)
{
    struct hfx_server *s;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return HFX_E_NOMEM;
    if (opts)
        s->opts = *opts;
    if (!s->opts.max_sessions)
        s->opts.max_sessions = 16;
    if (!s->opts.max_handshakes)
        s->opts.max_handshakes = 64;
    if (!s->opts.max_streams)
        s->opts.max_streams = 8;
    if (s->opts.max_streams > HFX_MAX_STREAMS)
        s->opts.max_streams = HFX_MAX_STREAMS;
    if (!s->opts.window)
        s->opts.window = HFX_DEFAULT_WINDOW;
    if (s->opts.window > HFX_MAX_WINDOW)
        s->opts.window = HFX_MAX_WINDOW;
    if (s->opts.encoder_threads > HFX_ENCODER_MAX_THREADS)
        s->opts.encoder_threads = HFX_ENCODER_MAX_THREADS;
    if (!s->opts.max_payload || s->opts.max_payload > HFX_MAX_PAYLOAD_HARD)
        s->opts.max_payload = HFX_MAX_PAYLOAD_HARD;
    if (s->opts.max_payload < HFX_MAX_PAYLOAD_HANDSHAKE)
        s->opts.max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
    if (!s->opts.max_memory)
        s->opts.max_memory = HFX_SERVER_DEFAULT_MAX_MEMORY;
    if (s->opts.keyframe_min_interval_ms < 0)
        s->opts.keyframe_min_interval_ms = 200;
    if (s->opts.handshake_timeout_ms <= 0)
        s->opts.handshake_timeout_ms = 10000;
    s->wake[0] = s->wake[1] = -1;
    s->reserve_fd = -1;
    if (opts && opts->encoder && strcmp(opts->encoder, "auto") != 0) {
        s->encoder = dup_str(opts->encoder);
        if (!s->encoder)
            goto nomem;
    }
    if (opts && opts->token) {
        s->token_len = strlen(opts->token);
        if (s->token_len > HFX_MAX_TOKEN) {
            free(s->encoder);
            free(s);
            return HFX_E_INVALID;
        }
        s->token = dup_str(opts->token);
        if (!s->token)
            goto nomem;
    }
    s->opts.encoder = s->encoder;
    s->opts.token = NULL;
    if (pipe(s->wake) != 0)
        goto nomem;
    for (int i = 0; i < 2; i++) {
        fcntl(s->wake[i], F_SETFL, O_NONBLOCK);
        fcntl(s->wake[i], F_SETFD, FD_CLOEXEC);
    }
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    stream_ready_init(&s->ready, s->wake[1]);
    handoff_init(&s->handoff, s->wake[1]);
    pthread_mutex_init(&s->workers.lock, NULL);
    pthread_cond_init(&s->workers.cond, NULL);
    s->workers.trim_heap_when_idle = s->opts.trim_heap_when_idle;
    *out = s;
    return HFX_OK;

nomem:
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s->encoder);
    hfx_token_wipe(s->token);
    free(s->token);
    free(s);
    return HFX_E_NOMEM;
}

/* Make room for a new connection: the one that has waited longest for its
 * HELLO goes (a client says HELLO as soon as it connects; one that does
 * not is the likelier attacker, and the handshake timeout would close it
 * anyway). */
static void evict_oldest_waiting(struct hfx_server *s)
{
    struct session *oldest = NULL;

    for (struct session *ss = s->sessions; ss; ss = ss->next)
        if (session_is_waiting(ss) && (!oldest || ss->started_ms <= oldest->started_ms))
            oldest = ss;
    if (!oldest)
        return;
    s->stats.connections_evicted++;
    session_protocol_error(s, oldest, 0, HFX_E_BUSY,
                           "%u connections wait for their HELLO (--max-handshakes); this one "
                           "waited longest",
                           s->opts.max_handshakes);
    oldest->close_deadline_ms = server_now_ms(s);
}

/* Out of descriptors: the pending connection would keep the listener
 * readable. Accept it on the reserve descriptor and close it, so that the
 * client learns at once; then do not poll the listener for a while. */
static void shed_connection(struct hfx_server *s, unsigned n, int err)
{
    int64_t now = server_now_ms(s);
    int fd;

    s->accept_failures++;
    s->listener_paused_until[n] = now + ACCEPT_PAUSE_MS;
    /* Lost to a race for the descriptor the last time: take one back. */
    if (s->reserve_fd < 0)
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (s->reserve_fd >= 0) {
        close(s->reserve_fd);
        s->reserve_fd = -1;
        fd = accept(hfx_listener_fd(s->listeners[n]), NULL, NULL);
        if (fd >= 0)
            close(fd);
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    /* One line per 10 s, not one per attempt. */
    if (now - s->accept_logged_ms >= 10000) {
        server_log(s, HFX_LOG_WARN,
                   "accept: %s (%llu connections refused so far); %u connections open",
                   strerror(err), (unsigned long long)s->accept_failures, s->nsessions);
        s->accept_logged_ms = now;
    }
}

static void accept_all(struct hfx_server *s, unsigned n)
{
    struct hfx_listener *l = s->listeners[n];

    for (;;) {
        struct hfx_transport *t = NULL;
        enum hfx_status st = hfx_listener_accept(l, &t);
        if (st == HFX_INCOMPLETE)
            return;
        if (st == HFX_E_NOMEM) {
            /* No memory for the new connection's transport (it was closed
             * again) or in accept itself: not a lack of descriptors, so no
             * other connection is shed for it; the listener rests. */
            s->listener_paused_until[n] = server_now_ms(s) + ACCEPT_PAUSE_MS;
            server_log(s, HFX_LOG_WARN, "accept: out of memory");
            return;
        }
        if (st != HFX_OK) {
            /* hfx_listener_accept leaves accept's errno. */
            shed_connection(s, n, errno);
            return;
        }
        if (s->nwaiting >= s->opts.max_handshakes)
            evict_oldest_waiting(s);
        st = session_add(s, t, s->listener_shared[n], true);
        if (st != HFX_OK)
            server_log(s, HFX_LOG_WARN, "new connection: %s", hfx_strerror(st));
    }
}

/* Forward the results of exactly the streams that have some. A stream
 * that forwarding ends (or whose session it ends) leaves the ready list
 * as it stops, so every stream popped here is alive. */
static void drain_wake(struct hfx_server *s)
{
    struct hfx_transport *handed[HANDOFF_MAX];
    uint8_t buf[256];
    struct stream *st;
    void *owner;
    uint32_t id;
    unsigned n;

    /* Read first: a result posted after this pops below or writes again. */
    while (read(s->wake[0], buf, sizeof(buf)) > 0)
        ;
    n = handoff_take(&s->handoff, handed);
    for (unsigned i = 0; i < n; i++)
        if (session_add(s, handed[i], NULL, false) != HFX_OK)
            server_log(s, HFX_LOG_WARN, "a connection handed over could not be served");
    scanout_take_pictures(s);
    while ((st = stream_ready_pop(&s->ready, &owner, &id)) != NULL) {
        if (id == SCANOUT_STREAM_ID)
            scanout_forward_results(s, owner);
        else
            session_forward_results(s, owner, id);
    }
}

void server_wake(struct hfx_server *s)
{
    static const uint8_t byte = 1;

    /* A full pipe already holds a wake-up. */
    if (write(s->wake[1], &byte, 1) < 0 && errno != EAGAIN)
        server_log(s, HFX_LOG_WARN, "waking the loop: %s", strerror(errno));
}

static int64_t earlier(int64_t wait, int64_t candidate)
{
    return wait < 0 || candidate < wait ? candidate : wait;
}

/* Ends sessions that are done, and handles messages that waited while a
 * session was paused; returns how long poll() may sleep before the next
 * deadline here (-1: none). */
static int reap_sessions(struct hfx_server *s)
{
    int64_t now = server_now_ms(s);
    struct session *ss = s->sessions;
    int64_t wait = -1;
    int keepalive;

    while (ss) {
        struct session *next = ss->next;
        if (ss->stalled && ss->state != SESSION_CLOSING && session_may_process(s, ss, now))
            session_process_messages(s, ss);
        /* Waiting out a failed token: wake when the wait ends. (A session
         * stalled by its send queue wakes on POLLOUT instead.) */
        if (ss->stalled && ss->state == SESSION_HELLO) {
            int64_t until = throttle_until(&s->throttle, ss->peer_key, now);
            if (until > now)
                wait = earlier(wait, until - now);
        }
        /* A connection that never says HELLO must not hold a slot forever. */
        if (ss->state == SESSION_HELLO) {
            int64_t deadline = ss->started_ms + s->opts.handshake_timeout_ms;
            if (now >= deadline && ss->after_bye) {
                /* No ERROR: on a serial port it would wait for the next
                 * client to read it as its first message. */
                server_log(s, HFX_LOG_DEBUG, "connection of session %u idle since BYE; closing",
                           ss->id);
                session_close_now(s, ss);
            } else if (now >= deadline) {
                session_protocol_error(s, ss, 0, HFX_E_TIMEOUT, "no HELLO within %d ms",
                                       s->opts.handshake_timeout_ms);
            } else {
                wait = earlier(wait, deadline - now);
            }
        }
        if (ss->state == SESSION_CLOSING) {
            int64_t left = ss->close_deadline_ms - now;
            wait = earlier(wait, left < 10 ? 10 : left);
        }
        if (ss->state == SESSION_CLOSING &&
            (!hfx_conn_want_write(ss->conn) || now >= ss->close_deadline_ms))
            session_end(s, ss);
        ss = next;
    }
    for (unsigned i = 0; i < s->nlisteners; i++)
        if (s->listener_paused_until[i] > now)
            wait = earlier(wait, s->listener_paused_until[i] - now);
    keepalive = scanout_deadlines(s, now);
    if (keepalive >= 0)
        wait = earlier(wait, keepalive);
    if (wait < 0)
        return -1;
    return wait > 60000 ? 60000 : (int)wait;
}

/* What poll() watches for a session; a negative descriptor is skipped. */
static struct pollfd session_pollfd(struct hfx_server *s, const struct session *ss)
{
    struct pollfd p = {.fd = hfx_conn_fd(ss->conn), .events = 0};

    if (ss->state != SESSION_CLOSING && !ss->stalled)
        p.events |= POLLIN;
    if (hfx_conn_want_write(ss->conn))
        p.events |= POLLOUT;
    /* Waiting out a failed token: its hang-up must not wake the loop. */
    if (!p.events)
        p.fd = -1;
    return p;
}

/* With encode_in_loop: the jobs queued on every stream, done here. Their
 * results reach the wake pipe, which the poll() after this sees. */
static void work_streams(struct hfx_server *s)
{
    if (!s->opts.encode_in_loop)
        return;
    scanout_work(s);
    for (struct session *ss = s->sessions; ss; ss = ss->next)
        for (uint32_t id = 1; id <= s->opts.max_streams; id++)
            if (ss->streams[id].state == SLOT_LIVE)
                stream_work(ss->streams[id].stream);
}

/* Make room in the poll() array for `need` entries; false when out of
 * memory (the array keeps what it had). */
static bool grow_poll_array(struct hfx_server *s, size_t need)
{
    struct pollfd *p;
    struct session **w;

    if (need <= s->cap)
        return true;
    p = realloc(s->pfds, need * sizeof(*p));
    if (!p)
        return false;
    s->pfds = p;
    w = realloc(s->who, need * sizeof(*w));
    if (!w)
        return false;
    s->who = w;
    s->cap = need;
    return true;
}

/* One pass of the loop: end what is done, wait up to max_wait_ms (< 0:
 * until the next deadline) for descriptors, handle them. *stopped when
 * stop_fd was readable; *events: how many descriptors had events. */
static enum hfx_status loop_once(struct hfx_server *s, int stop_fd, int max_wait_ms, bool *stopped,
                                 int *events)
{
    size_t n = 0;
    int timeout;
    int64_t now;

    *stopped = false;
    *events = 0;
    work_streams(s);
    timeout = reap_sessions(s);
    now = server_now_ms(s);
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
        timeout = max_wait_ms;
    if (!grow_poll_array(s, 2 + s->nlisteners + s->nsessions)) {
        /* Out of memory: poll what fits and grow again in 10 ms. The
         * sessions that do not fit wait; ending the loop would end every
         * session for one failed allocation. */
        server_log(s, HFX_LOG_WARN, "out of memory for %u poll entries",
                   2 + s->nlisteners + s->nsessions);
        if (timeout < 0 || timeout > 10)
            timeout = 10;
        if (s->cap < 2) {
            (void)poll(NULL, 0, timeout);
            return HFX_OK;
        }
    }
    struct pollfd *pfds = s->pfds;
    struct session **who = s->who;
    size_t cap = s->cap, nlisteners = 0;
    pfds[n++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    pfds[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
    for (unsigned i = 0; i < s->nlisteners && n < cap; i++, nlisteners++) {
        int fd = s->listener_paused_until[i] > now ? -1 : hfx_listener_fd(s->listeners[i]);
        pfds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    for (struct session *ss = s->sessions; ss && n < cap; ss = ss->next) {
        who[n] = ss;
        pfds[n++] = session_pollfd(s, ss);
    }
    int r = poll(pfds, n, timeout);
    if (r < 0)
        return errno == EINTR ? HFX_OK : HFX_E_IO;
    *events = r;
    if (stop_fd >= 0 && (pfds[0].revents & (POLLIN | POLLHUP))) {
        *stopped = true;
        return HFX_OK;
    }
    size_t k = 2;
    for (unsigned i = 0; i < nlisteners; i++, k++)
        if (pfds[k].revents & POLLIN)
            accept_all(s, i);
    /* Sessions accepted above are not in who[]; sessions ended by an
     * eviction are still in the list (session_end runs only in
     * reap_sessions). */
    for (; k < n; k++) {
        struct session *ss = who[k];
        short rev = pfds[k].revents;
        if (rev & POLLOUT) {
            if (hfx_conn_flush(ss->conn) != HFX_OK)
                session_close_now(s, ss);
        }
        if (ss->state == SESSION_CLOSING && !(rev & POLLIN))
            continue;
        if (rev & (POLLIN | POLLHUP | POLLERR))
            session_on_readable(s, ss);
    }
    /* Results last: a client's messages may end a stream whose results
     * wait here (end_stream passes them on), and with encode_in_loop this
     * order is how a fuzzer reaches that case at all. */
    if (pfds[1].revents & POLLIN)
        drain_wake(s);
    return HFX_OK;
}

enum hfx_status hfx_server_step(struct hfx_server *s, int timeout_ms)
{
    bool stopped;
    int events;
    enum hfx_status st = loop_once(s, -1, timeout_ms < 0 ? -1 : timeout_ms, &stopped, &events);

    if (st != HFX_OK)
        return st;
    return events > 0 ? HFX_OK : HFX_E_TIMEOUT;
}

enum hfx_status hfx_server_run(struct hfx_server *s, int stop_fd)
{
    enum hfx_status result = HFX_OK;
    bool stopped = false;
    int events;

    while (!stopped) {
        result = loop_once(s, stop_fd, -1, &stopped, &events);
        if (result != HFX_OK)
            break;
    }
    while (s->sessions) {
        session_say_bye(s, s->sessions);
        session_end(s, s->sessions);
    }
    return result;
}

void hfx_server_get_stats(const struct hfx_server *s, struct hfx_server_stats *out)
{
    *out = s->stats;
    out->sessions_active = s->nready;
    out->connections_waiting = s->nwaiting;
    out->connections = s->nsessions;
    out->memory_reserved = s->memory_reserved;
    out->accept_failures = s->accept_failures;
}

void hfx_server_free(struct hfx_server **sp)
{
    struct hfx_server *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    while (s->sessions)
        session_end(s, s->sessions);
    scanout_free_all(s);
    /* Workers write to the wake pipe until they exit. */
    pthread_mutex_lock(&s->workers.lock);
    while (s->workers.live)
        pthread_cond_wait(&s->workers.cond, &s->workers.lock);
    pthread_mutex_unlock(&s->workers.lock);
    for (unsigned i = 0; i < s->nlisteners; i++) {
        hfx_listener_free(&s->listeners[i]);
        shm_region_unref(&s->listener_shared[i]);
    }
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    if (s->reserve_fd >= 0)
        close(s->reserve_fd);
    stream_ready_destroy(&s->ready);
    handoff_destroy(&s->handoff);
    pthread_mutex_destroy(&s->workers.lock);
    pthread_cond_destroy(&s->workers.cond);
    free(s->pfds);
    free(s->who);
    free(s->encoder);
    hfx_token_wipe(s->token);
    free(s->token);
    free(s);
    *sp = NULL;
}
