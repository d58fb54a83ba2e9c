/* SPDX-License-Identifier: MIT */
/*
 * Connections handed to a server's loop from other threads
 * (hfx_server_hand_over): a short locked list that the loop empties on its
 * next wake-up. An embedder whose own loop runs elsewhere (QEMU's main
 * loop, for the helix-frame-export chardev) adds a connection whenever its
 * guest opens the port, while hfx_server_run runs on its own thread.
 */
#ifndef HFX_HOST_HANDOFF_H
#define HFX_HOST_HANDOFF_H

#include <pthread.h>

#include "hfx/status.h"
#include "hfx/transport.h"

/* Connections that may wait at once; more is HFX_E_BUSY for the caller. */
#define HANDOFF_MAX 16

struct handoff {
    pthread_mutex_t lock;
    struct hfx_transport *waiting[HANDOFF_MAX]; /* owned */
    unsigned n;
    int wake_fd; /* borrowed: written when the list stops being empty */
};

void handoff_init(struct handoff *h, int wake_fd);

/* Frees the connections nobody took. */
void handoff_destroy(struct handoff *h);

/* Any thread: t is taken over. HFX_E_BUSY when HANDOFF_MAX wait already
 * (t is freed); HFX_E_IO when the loop could not be woken (t waits for
 * the loop's next wake-up, errno set). */
HFX_MUST_CHECK enum hfx_status handoff_push(struct handoff *h, struct hfx_transport *t);

/* The loop's thread: moves what waits into out[] (HANDOFF_MAX entries),
 * owned by the caller from then on; returns how many. */
unsigned handoff_take(struct handoff *h, struct hfx_transport **out);

#endif /* HFX_HOST_HANDOFF_H */
