/* SPDX-License-Identifier: MIT */
/* The answer order of a stream (host/answers.h): one answer per frame, in
 * frame order, whoever decides it and whenever. */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "hfx/status.h"

static struct stream_result *result(enum stream_result_type type, uint64_t seq,
                                    uint64_t frame_id)
{
    struct stream_result *r = calloc(1, sizeof(*r));
    CHECK(r != NULL);
    r->type = type;
    r->seq = seq;
    r->frame_id = frame_id;
    return r;
}

/* The next answer must be for frame_id; result or drop as given. */
static void expect_next(struct answers *q, uint64_t frame_id, bool is_result, uint32_t reason)
{
    struct answer a;

    CHECK(answers_next(q, &a));
    CHECK(a.frame_id == frame_id);
    CHECK_EQ_INT(a.result != NULL, is_result);
    CHECK_EQ_INT(a.reason, reason);
    free(a.result);
}

/* A QUEUE_FULL drop of a newer frame waits for the PACKET of the older
 * frame being encoded (docs/protocol.md §5, finding 7). */
static void test_drop_waits_for_older_packet(void)
{
    struct answers q;
    uint64_t seq[3];
    struct answer a;

    answers_init(&q);
    for (int i = 0; i < 3; i++)
        CHECK(answers_add(&q, 100 + (uint64_t)i, &seq[i]));
    CHECK(answers_set_drop(&q, seq[1], HFX_DROP_QUEUE_FULL));
    CHECK(!answers_next(&q, &a)); /* frame 100 is still being encoded */
    CHECK(answers_set_result(&q, result(RESULT_PACKET, seq[0], 100)));
    expect_next(&q, 100, true, 0);
    expect_next(&q, 101, false, HFX_DROP_QUEUE_FULL);
    CHECK(!answers_next(&q, &a));
    CHECK_EQ_INT(answers_waiting(&q), 1);
    answers_clear(&q);
}

/* The end of a stream answers what has no answer yet, in order, and keeps
 * the answers that were decided (finding 6). */
static void test_drop_all_keeps_order_and_reasons(void)
{
    struct answers q;
    uint64_t seq[4];

    answers_init(&q);
    for (int i = 0; i < 4; i++)
        CHECK(answers_add(&q, (uint64_t)i, &seq[i]));
    CHECK(answers_set_drop(&q, seq[2], HFX_DROP_QUEUE_FULL));
    CHECK(answers_set_result(&q, result(RESULT_DROPPED, seq[1], 1)));
    answers_drop_all(&q, HFX_DROP_CLOSED);
    expect_next(&q, 0, false, HFX_DROP_CLOSED);
    expect_next(&q, 1, true, 0);
    expect_next(&q, 2, false, HFX_DROP_QUEUE_FULL);
    expect_next(&q, 3, false, HFX_DROP_CLOSED);
    CHECK_EQ_INT(answers_waiting(&q), 0);
}

/* A second answer for a frame, or one for a frame that is not waiting, is
 * refused (and a result freed: no leak under ASan). */
static void test_one_answer_per_frame(void)
{
    struct answers q;
    uint64_t seq;

    answers_init(&q);
    CHECK(answers_add(&q, 7, &seq));
    CHECK(answers_set_drop(&q, seq, HFX_DROP_QUEUE_FULL));
    CHECK(!answers_set_drop(&q, seq, HFX_DROP_CLOSED));
    CHECK(!answers_set_result(&q, result(RESULT_PACKET, seq, 7)));
    CHECK(!answers_set_result(&q, result(RESULT_PACKET, seq + 1, 8)));
    CHECK(!answers_set_drop(&q, seq + 5, HFX_DROP_CLOSED));
    CHECK(!answers_set_drop(&q, seq, 0));
    expect_next(&q, 7, false, HFX_DROP_QUEUE_FULL);
    CHECK(!answers_set_drop(&q, seq, HFX_DROP_CLOSED)); /* already sent */
    answers_clear(&q);
}

/* Bounded: ANSWERS_MAX frames unanswered, then no more until one goes;
 * the ring wraps. */
static void test_bounded_and_wraps(void)
{
    struct answers q;
    uint64_t seq = 0;
    struct answer a;

    answers_init(&q);
    for (unsigned i = 0; i < ANSWERS_MAX; i++)
        CHECK(answers_add(&q, i, &seq));
    CHECK(!answers_add(&q, 9999, &seq));
    for (unsigned round = 0; round < 3 * ANSWERS_MAX; round++) {
        uint64_t head = round;
        CHECK(answers_set_result(&q, result(RESULT_PACKET, head, round)));
        expect_next(&q, round, true, 0);
        CHECK(answers_add(&q, ANSWERS_MAX + round, &seq));
        CHECK(seq == ANSWERS_MAX + round);
    }
    CHECK(!answers_next(&q, &a));
    /* Results still held are freed by clear (ASan's leak check). */
    CHECK(answers_set_result(&q, result(RESULT_PACKET, seq, 1)));
    answers_clear(&q);
    CHECK_EQ_INT(answers_waiting(&q), 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_drop_waits_for_older_packet),
        CHECK_CASE(test_drop_all_keeps_order_and_reasons),
        CHECK_CASE(test_one_answer_per_frame),
        CHECK_CASE(test_bounded_and_wraps),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
