/* SPDX-License-Identifier: MIT */
/*
 * Minimal test harness: every test runs in its own child process, so a
 * crash or a failed check in one does not hide the others, and each is
 * checked for leaked file descriptors (Wayland's tests do the same).
 *
 *   static void test_round_trip(void) { CHECK(x == 1); CHECK_EQ_INT(a, b); }
 *   int main(void) { static const struct check_case cases[] = {
 *       CHECK_CASE(test_round_trip), }; return check_run(cases, CHECK_COUNT(cases)); }
 */
#ifndef HFX_TEST_CHECK_H
#define HFX_TEST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct check_case {
    const char *name;
    void (*fn)(void);
};

#define CHECK_CASE(fn) {#fn, fn}
#define CHECK_COUNT(a) (sizeof(a) / sizeof((a)[0]))

void check_fail(const char *file, int line, const char *expr, const char *detail);
int check_run(const struct check_case *cases, size_t n);
/* Open file descriptors of this process right now. */
int check_count_fds(void);
/* ms times $HFX_TEST_TIMEOUT_SCALE (a whole number, default 1), for a wait
 * on something a test expects to happen, so that a slow run does not fail
 * on time alone: meson test --setup valgrind sets 10. Not for waits whose
 * length is what a test measures. */
int check_timeout_ms(int ms);

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            check_fail(__FILE__, __LINE__, #cond, NULL);                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
    do {                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);        \
        if (check_a_ != check_b_) {                                            \
            char check_d_[96];                                                 \
            snprintf(check_d_, sizeof(check_d_), "%lld != %lld", check_a_,     \
                     check_b_);                                                \
            check_fail(__FILE__, __LINE__, #a " == " #b, check_d_);            \
        }                                                                      \
    } while (0)

/* Compare two enum hfx_status values and print both names on mismatch. */
#define CHECK_STATUS(a, b)                                                     \
    do {                                                                       \
        int check_a_ = (int)(a), check_b_ = (int)(b);                          \
        if (check_a_ != check_b_) {                                            \
            char check_d_[128];                                                \
            snprintf(check_d_, sizeof(check_d_), "%s != %s",                   \
                     hfx_status_name((enum hfx_status)check_a_),               \
                     hfx_status_name((enum hfx_status)check_b_));              \
            check_fail(__FILE__, __LINE__, #a " == " #b, check_d_);            \
        }                                                                      \
    } while (0)

#endif /* HFX_TEST_CHECK_H */
