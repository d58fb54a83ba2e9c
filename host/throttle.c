/* SPDX-License-Identifier: MIT */
#include "throttle.h"

#include <stdio.h>
#include <string.h>

static struct throttle_peer *find(struct throttle *t, const char *key)
{
    for (int i = 0; i < THROTTLE_PEERS; i++)
        if (t->peer[i].key[0] && strcmp(t->peer[i].key, key) == 0)
            return &t->peer[i];
    return NULL;
}

int64_t throttle_until(const struct throttle *t, const char *key, int64_t now_ms)
{
    const struct throttle_peer *p = find((struct throttle *)t, key);

    if (!p || now_ms - p->last_ms >= THROTTLE_FORGET_MS)
        return now_ms;
    return p->until_ms;
}

int64_t throttle_fail(struct throttle *t, const char *key, int64_t now_ms)
{
    struct throttle_peer *p = find(t, key);
    int64_t wait = THROTTLE_FIRST_MS;

    if (!p) {
        p = &t->peer[0];
        for (int i = 0; i < THROTTLE_PEERS; i++) {
            if (!t->peer[i].key[0]) {
                p = &t->peer[i];
                break;
            }
            if (t->peer[i].last_ms < p->last_ms)
                p = &t->peer[i];
        }
        memset(p, 0, sizeof(*p));
        snprintf(p->key, sizeof(p->key), "%s", key);
    }
    if (now_ms - p->last_ms >= THROTTLE_FORGET_MS)
        p->failures = 0;
    for (unsigned i = 0; i < p->failures && wait < THROTTLE_MAX_MS; i++)
        wait *= 2;
    if (wait > THROTTLE_MAX_MS)
        wait = THROTTLE_MAX_MS;
    p->failures++;
    p->last_ms = now_ms;
    p->until_ms = now_ms + wait;
    return wait;
}

void throttle_pass(struct throttle *t, const char *key)
{
    struct throttle_peer *p = find(t, key);

    if (p)
        memset(p, 0, sizeof(*p));
}
