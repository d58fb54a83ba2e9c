/* SPDX-License-Identifier: MIT */
#include "util/percentile.h"

#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

bool hfx_percentiles(double *samples, size_t n, double *p50, double *p99)
{
    size_t i99;

    if (n == 0)
        return false;
    qsort(samples, n, sizeof(*samples), cmp_double);
    i99 = n * 99 / 100;
    if (p50)
        *p50 = samples[(n - 1) / 2];
    if (p99)
        *p99 = samples[i99 < n - 1 ? i99 : n - 1];
    return true;
}
