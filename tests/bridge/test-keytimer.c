/* SPDX-License-Identifier: MIT */
/* bridge/keytimer.c: throttled, coalesced keyframe requests and the
 * wall-clock heartbeat. */
#include "check.h"
#include "keytimer.h"

#define MS 1000

static void test_throttle_and_coalesce(void)
{
    BridgeKeyTimer kt;

    bridge_key_timer_init(&kt, 500, 0, 0);
    CHECK(!bridge_key_timer_due(&kt, 10 * MS));
    for (int i = 0; i < 50; i++)
        bridge_key_timer_want(&kt);
    CHECK(bridge_key_timer_due(&kt, 10 * MS));
    CHECK(!bridge_key_timer_due(&kt, 11 * MS)); /* coalesced: one request */
    bridge_key_timer_want(&kt);
    CHECK(!bridge_key_timer_due(&kt, 400 * MS)); /* throttled */
    CHECK(bridge_key_timer_due(&kt, 510 * MS));
    CHECK_EQ_INT(kt.requested, 2);
    CHECK_EQ_INT(kt.wanted, 51);
    /* A keyframe that comes satisfies a wish before it is due. */
    bridge_key_timer_want(&kt);
    bridge_key_timer_keyframe(&kt, 600 * MS);
    CHECK(!bridge_key_timer_due(&kt, 2000 * MS));
}

static void test_heartbeat(void)
{
    BridgeKeyTimer kt;
    int requests = 0;

    bridge_key_timer_init(&kt, 500, 2000, 0);
    /* 10 s without any keyframe from the encoder: every 500 ms after the
     * first 2 s (the heartbeat stays overdue). */
    for (gint64 t = 0; t <= 10000 * MS; t += 50 * MS)
        requests += bridge_key_timer_due(&kt, t);
    CHECK_EQ_INT(requests, 17);
    /* An encoder that answers: one request per heartbeat interval. */
    bridge_key_timer_init(&kt, 500, 2000, 0);
    requests = 0;
    for (gint64 t = 0; t <= 10000 * MS; t += 50 * MS) {
        if (bridge_key_timer_due(&kt, t)) {
            requests++;
            bridge_key_timer_keyframe(&kt, t);
        }
    }
    CHECK_EQ_INT(requests, 5);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_throttle_and_coalesce),
        CHECK_CASE(test_heartbeat),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
