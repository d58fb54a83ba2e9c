/* SPDX-License-Identifier: MIT */
#include "answers.h"

#include <stdlib.h>
#include <string.h>

static struct answer_slot *slot_of(struct answers *q, uint64_t seq)
{
    return &q->slot[seq % ANSWERS_MAX];
}

static bool waiting(const struct answers *q, uint64_t seq)
{
    return seq >= q->head && seq < q->tail;
}

void answers_init(struct answers *q)
{
    memset(q, 0, sizeof(*q));
}

bool answers_add(struct answers *q, uint64_t frame_id, uint64_t *seq)
{
    struct answer_slot *sl;

    if (q->tail - q->head >= ANSWERS_MAX)
        return false;
    sl = slot_of(q, q->tail);
    sl->frame_id = frame_id;
    sl->reason = 0;
    sl->result = NULL;
    *seq = q->tail++;
    return true;
}

static bool answered(const struct answer_slot *sl)
{
    return sl->result || sl->reason;
}

bool answers_set_result(struct answers *q, struct stream_result *r)
{
    struct answer_slot *sl;

    if (!waiting(q, r->seq) || answered(slot_of(q, r->seq))) {
        free(r);
        return false;
    }
    sl = slot_of(q, r->seq);
    sl->result = r;
    return true;
}

bool answers_set_drop(struct answers *q, uint64_t seq, uint32_t reason)
{
    struct answer_slot *sl;

    if (!waiting(q, seq) || answered(slot_of(q, seq)) || !reason)
        return false;
    sl = slot_of(q, seq);
    sl->reason = reason;
    return true;
}

void answers_drop_all(struct answers *q, uint32_t reason)
{
    for (uint64_t seq = q->head; seq < q->tail; seq++) {
        struct answer_slot *sl = slot_of(q, seq);
        if (!answered(sl))
            sl->reason = reason;
    }
}

bool answers_next(struct answers *q, struct answer *out)
{
    struct answer_slot *sl;

    if (q->head == q->tail)
        return false;
    sl = slot_of(q, q->head);
    if (!answered(sl))
        return false;
    out->frame_id = sl->frame_id;
    out->result = sl->result;
    out->reason = sl->result ? 0 : sl->reason;
    memset(sl, 0, sizeof(*sl));
    q->head++;
    return true;
}

unsigned answers_waiting(const struct answers *q)
{
    return (unsigned)(q->tail - q->head);
}

void answers_clear(struct answers *q)
{
    for (uint64_t seq = q->head; seq < q->tail; seq++)
        free(slot_of(q, seq)->result);
    answers_init(q);
}
