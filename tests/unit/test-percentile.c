/* SPDX-License-Identifier: MIT */
#include "check.h"
#include "util/percentile.h"

static void test_nearest_rank(void)
{
    double s[200], p50 = -1, p99 = -1;

    /* 1..200 in reverse: sorted in place, p50 is sample 99 (100), p99
     * sample 198 (199). */
    for (int i = 0; i < 200; i++)
        s[i] = 200 - i;
    CHECK(hfx_percentiles(s, 200, &p50, &p99));
    CHECK(p50 == 100 && p99 == 199);
    for (int i = 1; i < 200; i++)
        CHECK(s[i - 1] <= s[i]);
}

static void test_small_sets(void)
{
    double one[] = {7}, two[] = {9, 3}, p50 = -1, p99 = -1;

    CHECK(hfx_percentiles(one, 1, &p50, &p99));
    CHECK(p50 == 7 && p99 == 7);
    /* n * 99 / 100 rounds down to 1: the larger of two is p99. */
    CHECK(hfx_percentiles(two, 2, &p50, &p99));
    CHECK(p50 == 3 && p99 == 9);
    /* One output is enough. */
    CHECK(hfx_percentiles(two, 2, NULL, &p99) && p99 == 9);
}

static void test_empty(void)
{
    double p50 = -1, p99 = -1;

    CHECK(!hfx_percentiles(NULL, 0, &p50, &p99));
    CHECK(p50 == -1 && p99 == -1);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_nearest_rank),
        CHECK_CASE(test_small_sets),
        CHECK_CASE(test_empty),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
