/* SPDX-License-Identifier: MIT */
/*
 * What the parts of libhfx-host's server (include/hfx/server.h) share:
 *
 * - server.c: the server's life (new, free, stats, the test clock) and its
 *   event loop: one poll() over the stop descriptor, the wake pipe,
 *   listeners and connections; accepting, with the back-off and shedding
 *   when descriptors run out; deadlines; ending sessions that are done;
 *   passing on the workers' results after a wake.
 * - session.c: the protocol of one connection (docs/protocol.md §4-§8):
 *   the handshake, streams, frames, shared memory, answers, errors, the
 *   end of a session. It never polls and never accepts.
 * - listen.c: listeners and their region 0 (docs/protocol.md §7.1), the
 *   sockets passed by a supervisor, connections handed over whole.
 *
 * Everything here runs on the thread of the loop. Stream workers touch only
 * struct worker_count, the ready list and the wake pipe's write end
 * (host/stream.h).
 */
#ifndef HFX_HOST_SERVER_PRIVATE_H
#define HFX_HOST_SERVER_PRIVATE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/server.h"
#include "conn.h"
#include "answers.h"
#include "shm.h"
#include "handoff.h"
#include "scanout.h"
#include "stream.h"
#include "throttle.h"

#define MAX_LISTENERS 16
#define MAX_REGIONS 16

enum session_state {
    SESSION_HELLO,
    SESSION_READY,
    SESSION_CLOSING,
};

enum slot_state {
    SLOT_FREE,
    SLOT_LIVE,       /* a worker encodes */
    SLOT_FAILED,     /* its CONFIGURE or its encoder failed: FRAMEs are dropped */
    SLOT_SUBSCRIBED, /* receives a scanout's packets (SUBSCRIBE) */
};

/* One stream id of a session. */
struct stream_slot {
    enum slot_state state;
    struct stream *stream;       /* SLOT_LIVE */
    struct answers *answers;     /* SLOT_LIVE; owned */
    struct hfx_configure cfg;    /* SLOT_LIVE, SLOT_FAILED, when has_cfg */
    bool has_cfg;                /* cfg is a CONFIGURE (never after SUBSCRIBE) */
    uint64_t budget;             /* bytes reserved from max_memory (SLOT_LIVE) */
    unsigned flushes;            /* FLUSHes passed to the worker, FLUSHED not sent (SLOT_LIVE) */
    struct hfx_scanout *scanout; /* SLOT_SUBSCRIBED; the server's */
};

/* One connection, from session_add to session_end: owned by the server's
 * list; conn, the streams, the regions and the reference to region 0 are
 * the session's. */
struct session {
    struct session *next;
    unsigned id;
    struct hfx_conn *conn;
    enum session_state state;
    bool accepted; /* from a listener (not serial:/fd:): may be evicted before HELLO */
    bool stalled;  /* messages wait in the buffer while reading is paused */
    int64_t started_ms;
    int64_t close_deadline_ms;
    char peer[HFX_ADDRESS_MAX];
    char peer_key[THROTTLE_KEY]; /* who a failed token is counted against */
    uint32_t caps;               /* the client's HELLO caps */
    struct stream_slot streams[HFX_MAX_STREAMS + 1];
    struct shm_region *regions[MAX_REGIONS];
    struct shm_region *shared; /* region 0, from the listener; NULL: none */
    uint64_t frames_shm;       /* FRAMEs with source SHM (any region) */
    uint64_t frames_resource;  /* FRAMEs with source RESOURCE */
    bool after_bye;            /* ended by BYE, waiting for the next HELLO */
    /* Totals of streams already closed, for the end-of-session line. */
    struct stream_stats done;
};

struct hfx_server {
    struct hfx_server_options opts;
    char *encoder;
    char *token;
    size_t token_len;

    /* Owned, with a reference to each region 0 (listen.c). */
    struct hfx_listener *listeners[MAX_LISTENERS];
    struct shm_region *listener_shared[MAX_LISTENERS]; /* region 0 per listener */
    int64_t listener_paused_until[MAX_LISTENERS];      /* after EMFILE/ENFILE */
    unsigned nlisteners;
    int reserve_fd; /* given up to accept-and-close when descriptors run out */
    uint64_t accept_failures;
    int64_t accept_logged_ms;

    struct session *sessions;
    unsigned nsessions; /* connections, in any state */
    unsigned nready;    /* after WELCOME: what max_sessions bounds */
    unsigned nwaiting;  /* accepted, before HELLO: what max_handshakes bounds */
    unsigned next_id;
    uint64_t memory_reserved;
    bool streams_since_trim; /* a stream started since the heap was last trimmed */
    struct throttle throttle;

    int wake[2];
    struct stream_ready ready; /* streams with results to forward; wakes wake[0] */
    struct handoff handoff;    /* hfx_server_hand_over's connections; wakes wake[0] */
    /* hfx_server_add_scanout's, owned (scanout.c); their pictures wake
     * wake[0]. */
    struct hfx_scanout *scanouts[HFX_SERVER_MAX_SCANOUTS];
    unsigned nscanouts;
    bool scanout_input; /* a scanout takes INPUT: WELCOME offers it to listeners' sessions */
    struct worker_count workers;
    struct hfx_server_stats stats;

    /* Test-only (host/server-testing.h): a clock in place of the
     * monotonic one, for deadlines, throttles and keyframe intervals. */
    int64_t (*clock)(void *user);
    void *clock_user;

    /* The loop's poll() array: the stop and wake descriptors, listeners,
     * sessions; who[k] is the session of pfds[k]. */
    struct pollfd *pfds;
    struct session **who;
    size_t cap;
};

/* server.c */

/* What every deadline of the server is measured with. */
int64_t server_now_ms(const struct hfx_server *s);

/* A stream's parameters as the server's options set them for every
 * stream, a client's or a scanout's; the caller sets the rest (window,
 * resources, ids). */
void server_stream_params(struct hfx_server *s, const struct hfx_configure *cfg, void *owner,
                          struct stream_params *p);

/* Wake the loop (from any thread): it then looks at what waits for it
 * (results, handed-over connections, scanout pictures). */
void server_wake(struct hfx_server *s);

/* A line for the embedder's log callback (hfx_server_options.log). */
void server_log(struct hfx_server *s, enum hfx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* session.c */

/* A new connection on t (taken, freed on failure too), put on the server's
 * list waiting for HELLO. shared: borrowed, NULL or its region 0 (the
 * session takes its own reference). accepted: from a listener, so counted
 * against max_handshakes until HELLO and evicted first. */
HFX_MUST_CHECK enum hfx_status session_add(struct hfx_server *s, struct hfx_transport *t,
                                           struct shm_region *shared, bool accepted);

/* Accepted and not yet past HELLO: what max_handshakes counts. */
bool session_is_waiting(const struct session *ss);

/* Whether the session's buffered messages may be handled now (not while
 * its peer waits out a failed token, nor while its send queue is long). */
bool session_may_process(struct hfx_server *s, const struct session *ss, int64_t now);

/* Handle the whole messages in the receive buffer; ss->stalled when some
 * must wait (session_may_process). */
void session_process_messages(struct hfx_server *s, struct session *ss);

/* The connection is readable (or hung up): read and handle what came. */
void session_on_readable(struct hfx_server *s, struct session *ss);

/* Pass on the results stream id's worker posted (docs/protocol.md §5); a
 * stream whose encoder failed is ended. Nothing for a stream not live. */
void session_forward_results(struct hfx_server *s, struct session *ss, uint32_t id);

/* Queue a message for the session; a queue that overflows closes it as
 * a slow consumer (docs/protocol.md §6). */
void session_send(struct hfx_server *s, struct session *ss, const struct hfx_msg *m);

/* The CONFIGURED that stream's result r (RESULT_CONFIGURED) makes for a
 * stream of cfg; m borrows r's extradata. */
void session_configured_msg(const struct stream_result *r, const struct hfx_configure *cfg,
                            uint32_t stream, struct hfx_msg *m);

/* Bytes waiting in the session's send queue. */
size_t session_queued(const struct session *ss);

/* A subscription failed (its scanout's encoder): ERROR on the stream,
 * which is failed until CLOSE or a new CONFIGURE / SUBSCRIBE (§5). */
void session_subscription_failed(struct hfx_server *s, struct session *ss, uint32_t id,
                                 enum hfx_status code, const char *text);

/* Send ERROR and close the connection once it has been written (or after
 * a grace period); nothing when the session is closing already. */
void session_protocol_error(struct hfx_server *s, struct session *ss, uint32_t stream,
                            enum hfx_status code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The connection goes at once: nothing more can be sent or is wanted. */
void session_close_now(struct hfx_server *s, struct session *ss);

/* The server stops: BYE to a session not closing, written if the socket
 * takes it now (best effort). session_end follows. */
void session_say_bye(struct hfx_server *s, struct session *ss);

/* Take ss off the list and free it with all it owns; ss is gone after. */
void session_end(struct hfx_server *s, struct session *ss);

#endif /* HFX_HOST_SERVER_PRIVATE_H */
