/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the benchmarks in bench/: a monotonic clock and
 * the median of a few rounds. Header-only; every function is static. */
#ifndef HFX_BENCH_UTIL_H
#define HFX_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_MAX_ROUNDS 16

/* Seconds on CLOCK_MONOTONIC. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort comparator for doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n (1..BENCH_MAX_ROUNDS) values; v is borrowed and not
 * reordered. For an even n, the upper of the two middle values. */
static inline double median(const double *v, size_t n)
{
    double s[BENCH_MAX_ROUNDS];

    if (n == 0)
        return 0;
    if (n > BENCH_MAX_ROUNDS)
        n = BENCH_MAX_ROUNDS;
    memcpy(s, v, n * sizeof(double));
    qsort(s, n, sizeof(double), cmp_double);
    return s[n / 2];
}

#endif /* HFX_BENCH_UTIL_H */
