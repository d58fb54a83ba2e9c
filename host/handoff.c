/* SPDX-License-Identifier: MIT */
#include "handoff.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

void handoff_init(struct handoff *h, int wake_fd)
{
    pthread_mutex_init(&h->lock, NULL);
    h->n = 0;
    h->wake_fd = wake_fd;
}

void handoff_destroy(struct handoff *h)
{
    for (unsigned i = 0; i < h->n; i++)
        hfx_transport_free(&h->waiting[i]);
    h->n = 0;
    pthread_mutex_destroy(&h->lock);
}

enum hfx_status handoff_push(struct handoff *h, struct hfx_transport *t)
{
    static const uint8_t byte = 1;
    bool was_empty;

    pthread_mutex_lock(&h->lock);
    if (h->n == HANDOFF_MAX) {
        pthread_mutex_unlock(&h->lock);
        hfx_transport_free(&t);
        return HFX_E_BUSY;
    }
    was_empty = h->n == 0;
    h->waiting[h->n++] = t;
    pthread_mutex_unlock(&h->lock);
    /* As the ready list does: one byte per empty-to-not transition; a full
     * pipe already holds a wake-up. */
    if (was_empty && write(h->wake_fd, &byte, 1) < 0 && errno != EAGAIN)
        return HFX_E_IO;
    return HFX_OK;
}

unsigned handoff_take(struct handoff *h, struct hfx_transport **out)
{
    unsigned n;

    pthread_mutex_lock(&h->lock);
    n = h->n;
    for (unsigned i = 0; i < n; i++)
        out[i] = h->waiting[i];
    h->n = 0;
    pthread_mutex_unlock(&h->lock);
    return n;
}
