/* SPDX-License-Identifier: MIT */
/*
 * Slows down token guessing (docs/security.md): every failed HELLO token
 * from a peer (a TCP address, a unix uid, a vsock CID) makes that peer wait
 * before its next HELLO is read, twice as long after each failure up to a
 * cap. Connections of a waiting peer are not read, so parallel
 * connections do not multiply its guesses. A fixed table: a peer that is
 * not in it has no failures.
 */
#ifndef HFX_HOST_THROTTLE_H
#define HFX_HOST_THROTTLE_H

#include <stdint.h>

#define THROTTLE_PEERS 64
#define THROTTLE_KEY 64
/* Wait after the first failure, doubled per failure up to the cap. */
#define THROTTLE_FIRST_MS 100
#define THROTTLE_MAX_MS 2000
/* A peer's failures are forgotten this long after its last one. */
#define THROTTLE_FORGET_MS 60000

struct throttle_peer {
    char key[THROTTLE_KEY]; /* "" = free */
    unsigned failures;
    int64_t last_ms;  /* last failure */
    int64_t until_ms; /* no HELLO is read before this */
};

struct throttle {
    struct throttle_peer peer[THROTTLE_PEERS];
};

/* When the peer may be heard again: a time <= now_ms means at once. */
int64_t throttle_until(const struct throttle *t, const char *key, int64_t now_ms);

/* Record a failed token; returns the wait it imposes (ms). When the table
 * is full, the peer whose last failure is oldest is forgotten. */
int64_t throttle_fail(struct throttle *t, const char *key, int64_t now_ms);

/* A good token: the peer's failures are forgotten. */
void throttle_pass(struct throttle *t, const char *key);

#endif /* HFX_HOST_THROTTLE_H */
