/* SPDX-License-Identifier: MIT */
/* Token guessing slowed per peer (host/throttle.h), on an explicit clock. */
#include "check.h"
#include "throttle.h"

#include <stdio.h>
#include <string.h>

static void test_wait_doubles_to_the_cap(void)
{
    static struct throttle t;
    int64_t now = 1000000;
    int64_t expect = THROTTLE_FIRST_MS;

    CHECK(throttle_until(&t, "tcp 10.0.0.1", now) == now);
    for (int i = 0; i < 8; i++) {
        int64_t wait = throttle_fail(&t, "tcp 10.0.0.1", now);
        CHECK_EQ_INT(wait, expect);
        CHECK(throttle_until(&t, "tcp 10.0.0.1", now) == now + wait);
        /* Another peer is not affected. */
        CHECK(throttle_until(&t, "tcp 10.0.0.2", now) == now);
        now += wait;
        expect = expect * 2 > THROTTLE_MAX_MS ? THROTTLE_MAX_MS : expect * 2;
    }
    CHECK_EQ_INT(expect, THROTTLE_MAX_MS);
}

static void test_pass_and_time_forget(void)
{
    static struct throttle t;
    int64_t now = 5000000;

    throttle_fail(&t, "uid 1000", now);
    throttle_fail(&t, "uid 1000", now);
    throttle_pass(&t, "uid 1000");
    CHECK(throttle_until(&t, "uid 1000", now) == now);
    CHECK_EQ_INT(throttle_fail(&t, "uid 1000", now), THROTTLE_FIRST_MS);
    throttle_fail(&t, "uid 1000", now);
    /* Long after the last failure the count starts again. */
    now += THROTTLE_FORGET_MS;
    CHECK(throttle_until(&t, "uid 1000", now) == now);
    CHECK_EQ_INT(throttle_fail(&t, "uid 1000", now), THROTTLE_FIRST_MS);
}

/* A full table forgets the peer whose last failure is oldest, and never
 * grows. */
static void test_table_is_bounded(void)
{
    static struct throttle t;
    char key[THROTTLE_KEY];
    int64_t now = 9000000;

    for (int i = 0; i < THROTTLE_PEERS + 10; i++) {
        snprintf(key, sizeof(key), "tcp 192.0.2.%d", i);
        throttle_fail(&t, key, now + i);
    }
    /* The first ten were forgotten, the last ones are still waiting. */
    CHECK(throttle_until(&t, "tcp 192.0.2.0", now + 100) == now + 100);
    snprintf(key, sizeof(key), "tcp 192.0.2.%d", THROTTLE_PEERS + 9);
    CHECK(throttle_until(&t, key, now + 100) > now + 100);
    /* A key longer than the table's is cut, not overrun. */
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = 0;
    throttle_fail(&t, key, now);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_wait_doubles_to_the_cap),
        CHECK_CASE(test_pass_and_time_forget),
        CHECK_CASE(test_table_is_bounded),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
