/* SPDX-License-Identifier: MIT */
/*
 * The answer order of one stream (docs/protocol.md §5: every FRAME gets
 * exactly one PACKET or FRAME_DROPPED, in frame order).
 *
 * Answers come from two places: the stream's worker (PACKET, or a drop
 * when the encoder failed on a frame) and the I/O thread (QUEUE_FULL when
 * the window overflows, CLOSED or ENCODER when the stream ends). A frame
 * dropped by the I/O thread is newer than the one the worker is encoding,
 * so its answer must wait for that frame's. Every accepted frame takes a
 * slot here in submission order; an answer fills its slot, and answers
 * leave only from the oldest slot on.
 */
#ifndef HFX_HOST_ANSWERS_H
#define HFX_HOST_ANSWERS_H

#include <stdbool.h>
#include <stdint.h>

#include "stream.h"

/* Unanswered frames one stream may have: the window (at most 64 pending),
 * what an encoder holds back (x264 with zerolatency: none), and drops that
 * wait behind a frame being encoded. A client that keeps sending while its
 * encoder stalls would need more; it is closed instead (§6). */
#define ANSWERS_MAX 256

struct answer_slot {
    uint64_t frame_id;
    uint32_t reason;              /* FRAME_DROPPED reason, or 0 */
    struct stream_result *result; /* the worker's PACKET or drop; owned */
};

struct answers {
    uint64_t head; /* seq of the oldest unanswered frame */
    uint64_t tail; /* seq the next frame gets */
    struct answer_slot slot[ANSWERS_MAX];
};

/* An answer ready to send, oldest first. Exactly one of result (taken:
 * free() it) and reason (a FRAME_DROPPED to send) is set. */
struct answer {
    uint64_t frame_id;
    uint32_t reason;
    struct stream_result *result;
};

void answers_init(struct answers *q);

/* Take a slot for a new frame; *seq gets its position. False when
 * ANSWERS_MAX frames are unanswered already (nothing changes). */
bool answers_add(struct answers *q, uint64_t frame_id, uint64_t *seq);

/* The worker's answer (RESULT_PACKET or RESULT_DROPPED) for r->seq; taken.
 * A result for a seq that is not waiting (already answered: a late result
 * after the stream was closed) is freed and false returned. */
bool answers_set_result(struct answers *q, struct stream_result *r);

/* A drop decided by the I/O thread for the frame at seq. False when that
 * frame is not waiting. */
bool answers_set_drop(struct answers *q, uint64_t seq, uint32_t reason);

/* Drop every frame still without an answer, for `reason` (the stream
 * ended). */
void answers_drop_all(struct answers *q, uint32_t reason);

/* The oldest answer if it is ready: true and *out filled (the slot is
 * freed), false when none is ready or nothing waits. */
bool answers_next(struct answers *q, struct answer *out);

/* Frames without an answer sent yet (ready or not). */
unsigned answers_waiting(const struct answers *q);

/* Free what is held (results not sent) and reset. */
void answers_clear(struct answers *q);

#endif /* HFX_HOST_ANSWERS_H */
