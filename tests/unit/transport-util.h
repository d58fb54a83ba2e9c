/* SPDX-License-Identifier: MIT */
/* Helpers shared by the transport tests: blocking-with-deadline wrappers
 * around the non-blocking calls, so that a hang becomes a failed check. */
#ifndef HFX_TEST_TRANSPORT_UTIL_H
#define HFX_TEST_TRANSPORT_UTIL_H

#include <stddef.h>

#include "hfx/transport.h"

/* How long a test waits for something that should happen at once. */
#define XFER_WAIT_MS 5000

/* Wait until fd has one of events; fails the test after XFER_WAIT_MS. */
void xfer_wait(int fd, short events);

/* Parse text, failing the test if it is not a valid address. */
struct hfx_address xfer_addr(const char *text);

void xfer_write_all(struct hfx_transport *t, const void *buf, size_t n);
void xfer_read_exact(struct hfx_transport *t, void *buf, size_t n);

/* A message each way between two connected transports. */
void xfer_exchange(struct hfx_transport *a, struct hfx_transport *b);

/* Wait for and accept one connection. */
struct hfx_transport *xfer_accept(struct hfx_listener *l);

/* Connect to text (timeout XFER_WAIT_MS), accept on l, check the kinds. */
void xfer_connect_pair(const char *text, struct hfx_listener *l, struct hfx_transport **client,
                       struct hfx_transport **server);

#endif /* HFX_TEST_TRANSPORT_UTIL_H */
