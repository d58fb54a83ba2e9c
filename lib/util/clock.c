/* SPDX-License-Identifier: MIT */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

int64_t hfx_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t hfx_clock_ms(void)
{
    return hfx_clock_ns() / 1000000;
}

void hfx_sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
