/* SPDX-License-Identifier: MIT */
/*
 * One encoder stream: a worker thread that owns the encoder, a bounded
 * queue of pending frames fed by the I/O thread, and a list of results the
 * I/O thread collects. A stream with results it has not collected is on
 * its server's ready list (struct stream_ready), once, and the list wakes
 * the I/O thread with a byte on a pipe, so the I/O thread visits exactly
 * the streams that have work. The I/O thread never waits for the encoder:
 * every call here only takes the stream's lock (and the ready list's).
 * (With in_loop there is no worker: stream_work does its jobs on the I/O
 * thread, for tests and fuzzing that want one deterministic thread.)
 */
#ifndef HFX_HOST_STREAM_H
#define HFX_HOST_STREAM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hfx/encoder.h"
#include "hfx/protocol.h"
#include "hfx/resource.h"
#include "shm.h"

/* Counts live worker threads so that the server can wait for all of them
 * before it frees what they use (the wake pipe). Owned by the server. */
struct worker_count {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned live;
    /* The last worker to end gives the heap back (malloc_trim), once it
     * has freed its encoder (hfx_server_options.trim_heap_when_idle). */
    bool trim_heap_when_idle;
};

struct stream;

/* The streams of one server with results the I/O thread has not taken,
 * each once, oldest first. Owned by the server, shared by its streams;
 * lock order: a stream's lock, then this one's. */
struct stream_ready {
    pthread_mutex_t lock;
    struct stream *head, *tail; /* guarded by lock */
    int wake_fd;                /* written one byte when the list stops being empty */
};

void stream_ready_init(struct stream_ready *r, int wake_fd);
void stream_ready_destroy(struct stream_ready *r);

/* The oldest stream on the list, taken off it, and the owner its params
 * named; NULL when the list is empty. I/O thread only: the stream stays
 * valid until that thread stops it. */
struct stream *stream_ready_pop(struct stream_ready *r, void **owner, uint32_t *stream_id);

struct stream_frame {
    uint64_t frame_id;
    uint64_t seq; /* position in the stream's answer order (answers.h) */
    int64_t pts;
    uint64_t duration;
    bool force_key;
    struct hfx_picture pic;
    void *owned;               /* payload block to free(), or NULL */
    struct shm_region *region; /* reference held, or NULL */
    /* A RESOURCE frame (resource_id != 0): pic is empty until the worker
     * has read the resource (hfx_server_options.resources). Where the
     * picture lies in the resource, as the FRAME said: */
    uint32_t resource_id;
    uint64_t resource_offset;
    uint32_t resource_stride;
};

/* Release what a frame holds (payload block, region reference). */
void stream_frame_release(struct stream_frame *f);

enum stream_result_type {
    RESULT_CONFIGURED,
    RESULT_PACKET,
    RESULT_DROPPED,
    RESULT_FLUSHED,
    RESULT_ERROR,
};

struct stream_result {
    struct stream_result *next;
    enum stream_result_type type;
    uint64_t frame_id;
    uint64_t seq; /* PACKET, DROPPED: the frame's stream_frame.seq */
    int64_t pts;
    int64_t dts;
    bool keyframe;
    uint32_t reason;                /* RESULT_DROPPED */
    enum hfx_status status;         /* RESULT_ERROR */
    char text[160];                 /* RESULT_ERROR */
    char encoder[HFX_MAX_NAME + 1]; /* RESULT_CONFIGURED */
    uint8_t profile_idc;
    uint8_t level_idc;
    size_t len;
    uint8_t data[]; /* PACKET: access unit; CONFIGURED: SPS/PPS */
};

struct stream_params {
    struct hfx_configure cfg;
    const char *encoder;      /* host default when cfg names none; borrowed */
    unsigned encoder_threads; /* hfx_encoder_options.threads */
    unsigned window;
    int keyframe_min_interval_ms;
    unsigned test_encode_delay_ms; /* hfx_server_options' */
    struct stream_ready *ready;   /* where the stream goes when it has results */
    void *owner;                  /* returned by stream_ready_pop (the session) */
    struct worker_count *workers; /* not with in_loop */
    /* No worker thread: the jobs wait for stream_work, which the thread
     * that runs the server's loop calls (hfx_server_options.encode_in_loop). */
    bool in_loop;
    /* Where keyframe intervals are measured; NULL: the monotonic clock
     * (host/server-testing.h). */
    int64_t (*clock)(void *user);
    void *clock_user;
    struct hfx_resource_reader resources; /* reads RESOURCE frames */
    hfx_log_fn log;
    void *log_user;
    unsigned session_id;
    uint32_t stream_id;
    /* The log's name for the stream, e.g. "scanout 0"; "" = "session N
     * stream M". */
    char log_name[24];
};

struct stream_stats {
    uint64_t frames_in;
    uint64_t frames_encoded;
    uint64_t frames_dropped;
    uint64_t encode_ns; /* sum over encoded frames */
    uint64_t bytes_out;
    char encoder[HFX_MAX_NAME + 1];
};

/* Encode failures in a row after which the encoder counts as failed for
 * good (ERROR HFX_E_ENCODER on the stream, docs/protocol.md §8). */
#define STREAM_FAIL_LIMIT 8

/* Start the worker (with in_loop: the first stream_work); it opens the
 * encoder and reports CONFIGURED or ERROR as its first result. ERROR also
 * comes later when the encoder fails for good (STREAM_FAIL_LIMIT frames
 * in a row), or HFX_E_NOMEM when a result could not be allocated (that
 * result is lost, so the caller must end the stream and answer what is
 * left: every frame, every FLUSH); its status is always one that
 * docs/protocol.md §8 lets a host send. A frame whose packet the encoder
 * lost is reported dropped (HFX_DROP_ENCODER). */
HFX_MUST_CHECK enum hfx_status stream_start(const struct stream_params *p, struct stream **out);

/* With in_loop: open the encoder on the first call, then do every job
 * queued so far (frames, FLUSHes, a bitrate), posting their results, and
 * return. Without in_loop the worker does this and the call does nothing. */
void stream_work(struct stream *s);

/* Queue a frame (its contents are taken). When `window` frames are already
 * pending, the oldest is moved to *dropped (the caller answers it with
 * FRAME_DROPPED and releases it) and true is returned. */
bool stream_submit(struct stream *s, struct stream_frame *f, struct stream_frame *dropped);

/* Ask for an IDR; requests coalesce and are throttled by the minimum
 * interval between forced IDRs. */
void stream_request_keyframe(struct stream *s);
void stream_set_bitrate(struct stream *s, uint32_t kbps);
/* Encode everything pending, drain the encoder, then report FLUSHED: one
 * FLUSHED per call. */
void stream_flush(struct stream *s);

/* Free a list of results (NULL-safe). */
void stream_results_free(struct stream_result *r);

/* Results so far, oldest first; the caller frees each with free(). */
struct stream_result *stream_take_results(struct stream *s);

void stream_get_stats(struct stream *s, struct stream_stats *out);

/* Stop: pending frames are moved to *pending (up to HFX_MAX_WINDOW, count
 * in *n) for the caller to release. Returned: the results posted and not
 * yet taken, oldest first (the caller forwards them and frees each);
 * nothing is posted after this, so frames without a result by now (pending
 * or inside the encoder) are the caller's to answer. The stream leaves the
 * ready list. The worker finishes the frame it is encoding, then frees the
 * stream by itself. *s is set to NULL: the caller must not touch the
 * stream afterwards. */
struct stream_result *stream_stop(struct stream **s, struct stream_frame *pending, unsigned *n);

#endif /* HFX_HOST_STREAM_H */
