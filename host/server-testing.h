/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host's hooks for tests and fuzzers only; nothing installed uses
 * them.
 */
#ifndef HFX_HOST_SERVER_TESTING_H
#define HFX_HOST_SERVER_TESTING_H

#include <stdint.h>

#include "hfx/server.h"

/* Measure every deadline of s (handshake timeouts, closing grace, token
 * throttling, accept pauses) and its streams' keyframe intervals with
 * clock(user), in milliseconds, instead of CLOCK_MONOTONIC. With
 * encode_in_loop and hfx_server_step, a test then decides when time
 * passes: a fuzzer's "wait 8 ms" costs nothing and runs the same way
 * every time. Call before the first session; clock must not go back. */
void hfx_server_set_clock(struct hfx_server *s, int64_t (*clock)(void *user), void *user);

#endif
