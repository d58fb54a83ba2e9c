/* SPDX-License-Identifier: MIT */
/*
 * A transport for tests only that wraps a real one and misbehaves on
 * purpose (docs/testing.md, "Fault injection"): it hands over at most a
 * few bytes per read or write call, sleeps before calls, and fails for
 * good at a chosen point of the byte stream, counted in messages (the
 * wrapper follows the 16-byte headers of docs/protocol.md §2 on both
 * directions). Give it to hfx_server_add_transport, and the server's I/O
 * loop sees a peer that trickles, stalls and resets where the test says.
 *
 * Never part of an installed library: it implements lib/transport-private.h.
 */
#ifndef HFX_TEST_FAULT_TRANSPORT_H
#define HFX_TEST_FAULT_TRANSPORT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/transport.h"

/* No failure point. */
#define FAULT_NEVER UINT64_MAX

/* Where a direction fails: when `msg` whole messages have passed and `byte`
 * bytes of the next one (0: exactly at the boundary). */
struct fault_point {
    uint64_t msg; /* FAULT_NEVER: never */
    uint64_t byte;
};

/* What the wrapper has done so far; owned by the test, so that it outlives
 * the transport (the server frees the transport when the session ends). */
struct fault_counters {
    atomic_ullong read_calls;
    atomic_ullong write_calls;
    atomic_ullong bytes_read;
    atomic_ullong bytes_written;
    atomic_ullong msgs_read; /* whole messages that went through */
    atomic_ullong msgs_written;
    atomic_int failed; /* 1 once a failure point was reached */
    atomic_int freed;  /* 1 once the server freed the transport */
};

struct fault_options {
    size_t max_read;       /* bytes per read call; 0 = no limit */
    size_t max_write;      /* bytes per write call; 0 = no limit */
    unsigned delay_max_us; /* before every call, sleep 0..delay_max_us (pseudo-random) */
    struct fault_point fail_read;
    struct fault_point fail_write;
    /* What a call at or past a failure point returns: HFX_E_CLOSED (the peer
     * reset the connection) or HFX_E_IO. */
    enum hfx_status fail_status;
    struct fault_counters *counters; /* may be NULL; borrowed, must outlive the transport */
};

/* Options that change nothing: no limits, no delay, no failure. */
void fault_options_init(struct fault_options *o);

/* Wrap inner (taken over; freed with the wrapper, also on failure). The
 * wrapper polls inner's descriptor and passes descriptors through. */
HFX_MUST_CHECK enum hfx_status fault_transport_wrap(struct hfx_transport *inner,
                                                    const struct fault_options *o,
                                                    struct hfx_transport **out);

/* A connected unix socketpair: *server_t is one end wrapped with o (for
 * hfx_server_add_transport), *client_fd the other end, blocking. */
void fault_socketpair(const struct fault_options *o, struct hfx_transport **server_t,
                      int *client_fd);

#endif /* HFX_TEST_FAULT_TRANSPORT_H */
