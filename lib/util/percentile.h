/* SPDX-License-Identifier: MIT */
/*
 * p50 and p99 of a set of latency samples, one rule for every figure hfx
 * reports (vsockenc's stats, desktop-bridge's /stats). Internal toolkit
 * (docs/architecture.md, "The internal toolkit").
 */
#ifndef HFX_UTIL_PERCENTILE_H
#define HFX_UTIL_PERCENTILE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sorts samples[0..n) in place (the caller copies first if the order
 * matters) and gives p50 = sorted sample (n - 1) / 2 and p99 = sorted sample
 * min(n - 1, n * 99 / 100), indices from 0 (for n = 200: the 100th and the
 * 199th smallest). false, and both outputs left alone,
 * when n is 0. Either output may be NULL. */
bool hfx_percentiles(double *samples, size_t n, double *p50, double *p99);

#ifdef __cplusplus
}
#endif

#endif /* HFX_UTIL_PERCENTILE_H */
