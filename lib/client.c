/* SPDX-License-Identifier: MIT */
/*
 * The hfx client (include/hfx/client.h): handshake, then a thin layer over
 * hfx_conn that tracks frames in flight per stream and turns host messages
 * into events.
 */
#include "hfx/client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "hfx/discover.h"
#include "hfx/transport.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/token.h"
#include "wire-private.h"

#define DEFAULT_TIMEOUT_MS 5000
/* Writes of a message are bounded in time so that a stalled host cannot
 * hang a caller forever; the rest is queued and sent later. */
#define SEND_TIMEOUT_MS 5000

struct client_stream {
    bool configured;
    unsigned in_flight;
};

struct hfx_client {
    struct hfx_conn *conn;
    char address[HFX_ADDRESS_MAX]; /* what was connected: auto resolved */
    struct hfx_welcome welcome;
    uint32_t caps; /* what both sides offered: the session's capabilities */
    hfx_log_fn log;
    void *log_user;
    bool broken;
    uint32_t allocs; /* SHM_ALLOCs sent: their region ids */
    struct client_stream streams[HFX_MAX_STREAMS + 1];
};

static void logf_(struct hfx_client *c, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(struct hfx_client *c, enum hfx_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    hfx_vlog(c->log, c->log_user, level, NULL, fmt, ap);
    va_end(ap);
}

static void init_msg(struct hfx_msg *m, uint16_t type, uint32_t stream)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.stream = stream;
}

/* Wait for the next whole message, reading and flushing as needed. */
static enum hfx_status next_msg(struct hfx_client *c, int timeout_ms, struct hfx_msg *m)
{
    int64_t deadline = timeout_ms < 0 ? -1 : hfx_clock_ms() + timeout_ms;

    for (;;) {
        enum hfx_status st = hfx_conn_next(c->conn, m);
        if (st != HFX_INCOMPLETE)
            return st;
        st = hfx_conn_read(c->conn);
        if (st == HFX_OK)
            continue;
        if (st != HFX_INCOMPLETE)
            return st;
        if (hfx_conn_want_write(c->conn)) {
            st = hfx_conn_flush(c->conn);
            if (st != HFX_OK)
                return st;
        }

        struct pollfd pfd = {.fd = hfx_conn_fd(c->conn), .events = POLLIN};
        int wait = -1;
        if (hfx_conn_want_write(c->conn))
            pfd.events |= POLLOUT;
        if (deadline >= 0) {
            int64_t left = deadline - hfx_clock_ms();
            if (left <= 0)
                return HFX_E_TIMEOUT;
            wait = (int)(left > 60000 ? 60000 : left);
        }
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno != EINTR)
            return HFX_E_IO;
        if (r == 0 && deadline >= 0 && hfx_clock_ms() >= deadline)
            return HFX_E_TIMEOUT;
    }
}

static void copy_error_text(const struct hfx_error *e, char *out, size_t cap)
{
    if (out && cap) {
        snprintf(out, cap, "%s", e->text);
    }
}

/* How far an attempt got before it failed: what auto ranks failures by. */
enum stage {
    STAGE_TRANSPORT, /* nothing connected */
    STAGE_HANDSHAKE, /* connected, but no valid WELCOME or ERROR came */
    STAGE_HOST,      /* the host answered with ERROR */
};

/* Connect to one concrete address and handshake within timeout ms. The
 * token length was checked by the caller. */
static enum hfx_status connect_one(const char *address, const struct hfx_client_options *opts,
                                   int timeout, struct hfx_client **out, char *error_text,
                                   size_t error_cap, enum stage *stage)
{
    struct hfx_address addr;
    struct hfx_transport *t = NULL;
    struct hfx_client *c;
    struct hfx_msg m;
    size_t token_len = opts && opts->token ? strlen(opts->token) : 0;
    uint32_t hello_caps;
    enum hfx_status st;

    *stage = STAGE_TRANSPORT;
    st = hfx_address_parse(address, &addr);
    if (st != HFX_OK)
        return st;
    c = calloc(1, sizeof(*c));
    if (!c)
        return HFX_E_NOMEM;
    /* Parsed, so shorter than HFX_ADDRESS_MAX. */
    snprintf(c->address, sizeof(c->address), "%s", address);
    if (opts) {
        c->log = opts->log;
        c->log_user = opts->log_user;
    }
    st = hfx_transport_connect(&addr, timeout, &t);
    if (st != HFX_OK) {
        logf_(c, HFX_LOG_DEBUG, "connect %s: %s", address, hfx_strerror(st));
        free(c);
        return st;
    }
    /* Host messages (PACKETs) may be large; the limit we impose is the
     * protocol's hard cap. */
    struct hfx_conn_options copts = {.max_payload = HFX_MAX_PAYLOAD_HARD};
    st = hfx_conn_new(t, &copts, &c->conn);
    if (st != HFX_OK) {
        free(c);
        return st;
    }
    *stage = STAGE_HANDSHAKE;

    hello_caps = opts && opts->caps ? opts->caps
                                    : HFX_CAP_INLINE | HFX_CAP_SHM_FD | HFX_CAP_SHM_FILE |
                                          HFX_CAP_SCANOUT | HFX_CAP_INPUT | HFX_CAP_SHM_ALLOC;
    init_msg(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = HFX_PROTOCOL_VERSION;
    m.u.hello.max_version = HFX_PROTOCOL_VERSION;
    m.u.hello.caps = hello_caps;
    m.u.hello.token_len = (uint16_t)token_len;
    if (token_len)
        memcpy(m.u.hello.token, opts->token, token_len);
    st = hfx_conn_send_wait(c->conn, &m, NULL, 0, -1, timeout);
    hfx_wipe(m.u.hello.token, sizeof(m.u.hello.token));
    if (st == HFX_OK)
        st = next_msg(c, timeout, &m);
    if (st == HFX_OK) {
        if (m.hdr.type == HFX_MSG_WELCOME) {
            c->welcome = m.u.welcome;
            c->caps = m.u.welcome.caps & hello_caps;
            if (c->welcome.version != HFX_PROTOCOL_VERSION)
                st = HFX_E_VERSION;
        } else if (m.hdr.type == HFX_MSG_ERROR) {
            *stage = STAGE_HOST;
            copy_error_text(&m.u.error, error_text, error_cap);
            st = m.u.error.code > HFX_INCOMPLETE && m.u.error.code < HFX_STATUS_COUNT_
                     ? (enum hfx_status)m.u.error.code
                     : HFX_E_REMOTE;
        } else {
            st = HFX_E_STATE;
        }
    }
    if (st != HFX_OK) {
        logf_(c, HFX_LOG_DEBUG, "handshake with %s: %s", address, hfx_strerror(st));
        hfx_conn_free(&c->conn);
        free(c);
        return st;
    }
    logf_(c, HFX_LOG_DEBUG, "connected to %s: caps 0x%x window %u max payload %u", address,
          c->welcome.caps, c->welcome.window, c->welcome.max_payload);
    *out = c;
    return HFX_OK;
}

/* Failures of auto's attempts, least to most informative: a host's own
 * ERROR says most, "nothing there" least. */
static int failure_rank(enum hfx_status st, enum stage stage)
{
    if (stage == STAGE_HOST)
        return 3;
    if (stage == STAGE_HANDSHAKE)
        return 2;
    return st == HFX_E_IO || st == HFX_E_UNSUPPORTED ? 0 : 1;
}

/* The `auto` address (docs/protocol.md §1): try each candidate of
 * hfx_discover_candidates in order, each with an even share of the time
 * left, and keep the first that completes the handshake. */
static enum hfx_status connect_auto(const char *port_name, const struct hfx_client_options *opts,
                                    int timeout, struct hfx_client **out, char *error_text,
                                    size_t error_cap)
{
    char cand[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    char text[HFX_MAX_TEXT + 1], best_text[HFX_MAX_TEXT + 1] = "";
    char tried[512] = "";
    size_t n, used = 0;
    hfx_log_fn log = opts ? opts->log : NULL;
    void *user = opts ? opts->log_user : NULL;
    int best_rank = -1;
    enum hfx_status best = HFX_E_IO, st;
    int64_t deadline = hfx_clock_ms() + timeout;

    st = hfx_discover_candidates(opts ? opts->discover : NULL, port_name, cand,
                                 HFX_DISCOVER_MAX, &n);
    if (st != HFX_OK) {
        hfx_log(log, user, HFX_LOG_ERROR, "auto: port name %.64s: %s", port_name,
            hfx_strerror(st));
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t left = deadline - hfx_clock_ms();
        enum stage stage;
        int slice, r;

        if (left <= 0) {
            hfx_log(log, user, HFX_LOG_DEBUG, "auto: no time left for %s", cand[i]);
            r = snprintf(tried + used, sizeof(tried) - used, "%s%s (not tried)",
                         used ? ", " : "", cand[i]);
        } else {
            slice = (int)(left / (int64_t)(n - i));
            slice = slice > 0 ? slice : 1;
            hfx_log(log, user, HFX_LOG_DEBUG, "auto: trying %s (%d ms)", cand[i], slice);
            text[0] = '\0';
            st = connect_one(cand[i], opts, slice, out, text, sizeof(text), &stage);
            if (st == HFX_OK) {
                hfx_log(log, user, HFX_LOG_INFO, "auto: connected to %s", cand[i]);
                return HFX_OK;
            }
            if (failure_rank(st, stage) > best_rank) {
                best_rank = failure_rank(st, stage);
                best = st;
                memcpy(best_text, text, sizeof(best_text));
            }
            r = snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)", used ? ", " : "",
                         cand[i], hfx_status_name(st));
        }
        /* A list too long for the buffer is cut; each attempt was also
         * logged on its own. */
        if (r > 0)
            used = (size_t)r < sizeof(tried) - used ? used + (size_t)r : sizeof(tried) - 1;
    }
    if (best_rank <= 0) {
        /* Nothing there at all, or nothing that could be reached. */
        best = HFX_E_IO;
        snprintf(best_text, sizeof(best_text), "no hfx host found");
    } else if (best_rank < 3) {
        snprintf(best_text, sizeof(best_text), "no hfx host completed the handshake");
    }
    if (error_text && error_cap)
        snprintf(error_text, error_cap, "%s", best_text);
    hfx_log(log, user, HFX_LOG_WARN, "auto: %s (%s); tried: %s", best_text, hfx_status_name(best),
        n ? tried : "nothing (no serial port, no vsock)");
    return best;
}

/* "auto" or "auto:NAME": the port name to discover; NULL for any other
 * address. */
static const char *auto_port_name(const char *address)
{
    if (!address || strncmp(address, "auto", 4) != 0)
        return NULL;
    if (address[4] == '\0')
        return HFX_PORT_NAME;
    return address[4] == ':' ? address + 5 : NULL;
}

enum hfx_status hfx_client_connect(const char *address, const struct hfx_client_options *opts,
                                   struct hfx_client **out, char *error_text, size_t error_cap)
{
    int timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    size_t token_len = opts && opts->token ? strlen(opts->token) : 0;
    const char *port_name = auto_port_name(address);
    enum stage stage;

    *out = NULL;
    if (error_text && error_cap)
        error_text[0] = '\0';
    if (token_len > HFX_MAX_TOKEN)
        return HFX_E_INVALID;
    if (port_name)
        return connect_auto(port_name, opts, timeout, out, error_text, error_cap);
    return connect_one(address, opts, timeout, out, error_text, error_cap, &stage);
}

const char *hfx_client_address(const struct hfx_client *c)
{
    return c->address;
}

const struct hfx_welcome *hfx_client_welcome(const struct hfx_client *c)
{
    return &c->welcome;
}

int hfx_client_fd(const struct hfx_client *c)
{
    return hfx_conn_fd(c->conn);
}

static bool stream_ok(const struct hfx_client *c, uint32_t stream)
{
    return stream >= 1 && stream <= c->welcome.max_streams && stream <= HFX_MAX_STREAMS;
}

static enum hfx_status send_simple(struct hfx_client *c, struct hfx_msg *m)
{
    enum hfx_status st;

    if (c->broken)
        return HFX_E_CLOSED;
    st = hfx_conn_send_wait(c->conn, m, NULL, 0, -1, SEND_TIMEOUT_MS);
    if (st != HFX_OK)
        c->broken = true;
    return st;
}

enum hfx_status hfx_client_configure(struct hfx_client *c, uint32_t stream,
                                     const struct hfx_configure *cfg)
{
    struct hfx_msg m;
    enum hfx_status st;

    if (!stream_ok(c, stream))
        return HFX_E_INVALID;
    st = hfx_configure_validate(cfg);
    if (st != HFX_OK)
        return st;
    init_msg(&m, HFX_MSG_CONFIGURE, stream);
    m.u.configure = *cfg;
    st = send_simple(c, &m);
    if (st == HFX_OK) {
        c->streams[stream].configured = true;
        c->streams[stream].in_flight = 0;
    }
    return st;
}

enum hfx_status hfx_client_subscribe(struct hfx_client *c, uint32_t stream,
                                     const struct hfx_subscribe *sub)
{
    struct hfx_msg m;
    enum hfx_status st;

    if (!stream_ok(c, stream) || !sub || c->streams[stream].configured)
        return HFX_E_INVALID;
    if (!(c->caps & HFX_CAP_SCANOUT))
        return HFX_E_UNSUPPORTED;
    init_msg(&m, HFX_MSG_SUBSCRIBE, stream);
    m.u.subscribe = *sub;
    if (sub->max_fps == 0 || sub->max_fps > HFX_MAX_SCANOUT_FPS ||
        (sub->keepalive_ms &&
         (sub->keepalive_ms < HFX_MIN_KEEPALIVE_MS || sub->keepalive_ms > HFX_MAX_KEEPALIVE_MS)))
        return HFX_E_INVALID;
    st = send_simple(c, &m);
    if (st == HFX_OK)
        c->streams[stream].in_flight = 0;
    return st;
}

enum hfx_status hfx_client_input(struct hfx_client *c, uint32_t stream, const struct hfx_input *in)
{
    struct hfx_msg m;

    if (!stream_ok(c, stream) || !in)
        return HFX_E_INVALID;
    if (!(c->caps & HFX_CAP_INPUT))
        return HFX_E_UNSUPPORTED;
    /* A value out of range is the caller's mistake, not a broken
     * connection (which a failed send would mark it). */
    if (hfx_wire_check_input(in, NULL) != HFX_OK)
        return HFX_E_INVALID;
    init_msg(&m, HFX_MSG_INPUT, stream);
    m.u.input = *in;
    return send_simple(c, &m);
}

/* The checks of a shared-memory request, in the order callers see them:
 * what the server or transport cannot do, then bad arguments, then a
 * connection already lost. */
static enum hfx_status shm_request_check(const struct hfx_client *c, uint32_t cap,
                                         uint64_t size, bool bad_argument)
{
    if (!(c->caps & cap) || !hfx_transport_can_pass_fds(hfx_conn_transport(c->conn)))
        return HFX_E_UNSUPPORTED;
    if (bad_argument || size == 0 || size > HFX_MAX_SHM_SIZE)
        return HFX_E_INVALID;
    if (c->broken)
        return HFX_E_CLOSED;
    return HFX_OK;
}

enum hfx_status hfx_client_attach_shm(struct hfx_client *c, int fd, uint64_t size,
                                      uint32_t *region)
{
    struct hfx_msg m;
    enum hfx_status st;
    /* Region ids only need to be unique per connection: the fd number is. */
    uint32_t id = (uint32_t)fd + 1;

    st = shm_request_check(c, HFX_CAP_SHM_FD, size, fd < 0);
    if (st != HFX_OK)
        return st;
    init_msg(&m, HFX_MSG_SHM_ATTACH, 0);
    m.u.shm_attach.region = id;
    m.u.shm_attach.size = size;
    st = hfx_conn_send_wait(c->conn, &m, NULL, 0, fd, SEND_TIMEOUT_MS);
    if (st != HFX_OK) {
        c->broken = true;
        return st;
    }
    *region = id;
    return HFX_OK;
}

enum hfx_status hfx_client_alloc_shm(struct hfx_client *c, uint64_t size, uint32_t *region)
{
    struct hfx_msg m;
    enum hfx_status st;
    /* Above every id hfx_client_attach_shm takes (an fd number + 1). */
    uint32_t id = 0x80000000u + c->allocs;

    st = shm_request_check(c, HFX_CAP_SHM_ALLOC, size, c->allocs >= 0x7fffffffu);
    if (st != HFX_OK)
        return st;
    init_msg(&m, HFX_MSG_SHM_ALLOC, 0);
    m.u.shm_attach.region = id;
    m.u.shm_attach.size = size;
    st = send_simple(c, &m);
    if (st != HFX_OK)
        return st;
    c->allocs++;
    *region = id;
    return HFX_OK;
}

enum hfx_status hfx_client_submit(struct hfx_client *c, uint32_t stream,
                                  const struct hfx_frame *frame, const struct iovec *data, int n,
                                  bool force_keyframe, int timeout_ms)
{
    struct hfx_msg m;
    enum hfx_status st;

    if (!stream_ok(c, stream))
        return HFX_E_INVALID;
    if (!c->streams[stream].configured)
        return HFX_E_NOT_CONFIGURED;
    if (c->broken)
        return HFX_E_CLOSED;
    init_msg(&m, HFX_MSG_FRAME, stream);
    m.hdr.flags = force_keyframe ? HFX_FRAME_FLAG_FORCE_KEYFRAME : 0;
    m.u.frame = *frame;
    m.u.frame.data = NULL;
    m.u.frame.data_len = 0;
    st = hfx_conn_send_wait(c->conn, &m, data, n, -1, timeout_ms);
    if (st != HFX_OK) {
        if (st != HFX_E_INVALID && st != HFX_E_TOO_LARGE)
            c->broken = true;
        return st;
    }
    c->streams[stream].in_flight++;
    return HFX_OK;
}

unsigned hfx_client_in_flight(const struct hfx_client *c, uint32_t stream)
{
    return stream_ok(c, stream) ? c->streams[stream].in_flight : 0;
}

static enum hfx_status send_stream_msg(struct hfx_client *c, uint16_t type, uint32_t stream,
                                       uint32_t kbps)
{
    struct hfx_msg m;

    if (!stream_ok(c, stream))
        return HFX_E_INVALID;
    init_msg(&m, type, stream);
    m.u.set_bitrate.kbps = kbps;
    return send_simple(c, &m);
}

enum hfx_status hfx_client_request_keyframe(struct hfx_client *c, uint32_t stream)
{
    return send_stream_msg(c, HFX_MSG_REQUEST_KEYFRAME, stream, 0);
}

enum hfx_status hfx_client_set_bitrate(struct hfx_client *c, uint32_t stream, uint32_t kbps)
{
    if (kbps == 0 || kbps > HFX_MAX_BITRATE_KBPS)
        return HFX_E_INVALID;
    return send_stream_msg(c, HFX_MSG_SET_BITRATE, stream, kbps);
}

enum hfx_status hfx_client_flush(struct hfx_client *c, uint32_t stream)
{
    return send_stream_msg(c, HFX_MSG_FLUSH, stream, 0);
}

enum hfx_status hfx_client_close_stream(struct hfx_client *c, uint32_t stream)
{
    enum hfx_status st = send_stream_msg(c, HFX_MSG_CLOSE, stream, 0);
    if (st == HFX_OK)
        c->streams[stream].configured = false;
    return st;
}

enum hfx_status hfx_client_ping(struct hfx_client *c, uint64_t cookie)
{
    struct hfx_msg m;

    init_msg(&m, HFX_MSG_PING, 0);
    m.u.ping.cookie = cookie;
    return send_simple(c, &m);
}

static void frame_answered(struct hfx_client *c, uint32_t stream)
{
    if (stream_ok(c, stream) && c->streams[stream].in_flight > 0)
        c->streams[stream].in_flight--;
}

enum hfx_status hfx_client_next_event(struct hfx_client *c, int timeout_ms,
                                      struct hfx_event *ev)
{
    struct hfx_msg m;
    enum hfx_status st;

    memset(ev, 0, sizeof(*ev));
    if (c->broken)
        return HFX_E_CLOSED;
    st = next_msg(c, timeout_ms, &m);
    if (st == HFX_E_TIMEOUT)
        return st;
    if (st != HFX_OK) {
        c->broken = true;
        return st;
    }
    ev->stream = m.hdr.stream;
    switch (m.hdr.type) {
    case HFX_MSG_CONFIGURED:
        ev->type = HFX_EVENT_CONFIGURED;
        ev->u.configured = m.u.configured;
        return HFX_OK;
    case HFX_MSG_PACKET:
        ev->type = HFX_EVENT_PACKET;
        ev->keyframe = (m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME) != 0;
        ev->u.packet = m.u.packet;
        frame_answered(c, m.hdr.stream);
        return HFX_OK;
    case HFX_MSG_FRAME_DROPPED:
        ev->type = HFX_EVENT_DROPPED;
        ev->u.dropped = m.u.dropped;
        frame_answered(c, m.hdr.stream);
        return HFX_OK;
    case HFX_MSG_FLUSHED:
        ev->type = HFX_EVENT_FLUSHED;
        return HFX_OK;
    case HFX_MSG_PONG:
        ev->type = HFX_EVENT_PONG;
        ev->u.pong = m.u.ping;
        return HFX_OK;
    case HFX_MSG_ERROR:
        ev->type = HFX_EVENT_ERROR;
        ev->u.error = m.u.error;
        /* The caller gets the ERROR as an event and reports it as it sees
         * fit; a warning here too printed it twice. */
        logf_(c, HFX_LOG_DEBUG, "host error on stream %u: %s (%s)", m.hdr.stream,
              m.u.error.text, hfx_status_name((enum hfx_status)m.u.error.code));
        if (m.hdr.stream == 0)
            c->broken = true; /* the host closes after a connection-level error */
        return HFX_OK;
    case HFX_MSG_SHM_ALLOCATED:
        ev->type = HFX_EVENT_SHM_ALLOCATED;
        ev->u.shm.region = m.u.shm_attach.region;
        ev->u.shm.size = m.u.shm_attach.size;
        ev->u.shm.fd = hfx_conn_take_fd(c->conn);
        if (ev->u.shm.fd < 0) {
            logf_(c, HFX_LOG_ERROR, "SHM_ALLOCATED %u came without its descriptor",
                  m.u.shm_attach.region);
            c->broken = true;
            return HFX_E_SHM_RANGE;
        }
        return HFX_OK;
    case HFX_MSG_BYE:
        c->broken = true;
        return HFX_E_CLOSED;
    default:
        logf_(c, HFX_LOG_ERROR, "unexpected %s from host", hfx_msg_type_name(m.hdr.type));
        c->broken = true;
        return HFX_E_STATE;
    }
}

void hfx_client_free(struct hfx_client **cp)
{
    struct hfx_client *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    if (!c->broken) {
        struct hfx_msg m;
        init_msg(&m, HFX_MSG_BYE, 0);
        /* Best effort: a host that is gone must not delay teardown. */
        if (hfx_conn_send(c->conn, &m, NULL, 0, -1) == HFX_OK)
            if (hfx_conn_flush(c->conn) != HFX_OK)
                c->broken = true;
    }
    hfx_conn_free(&c->conn);
    free(c);
    *cp = NULL;
}
