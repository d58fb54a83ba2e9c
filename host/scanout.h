/* SPDX-License-Identifier: MIT */
/*
 * The loop's side of scanouts (host/scanout.c, include/hfx/scanout.h):
 * what session.c and server.c call, all on the thread that runs the
 * server's loop. The scanouts are the server's (hfx_server_add_scanout),
 * freed by scanout_free_all.
 */
#ifndef HFX_HOST_SCANOUT_H
#define HFX_HOST_SCANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/scanout.h"

struct hfx_server;
struct session;

/* The stream id a scanout's stream posts its results under (the ready
 * list's owner is then the scanout): sessions' streams are 1 and up. */
#define SCANOUT_STREAM_ID 0

/* The scanout SUBSCRIBE names, or NULL. */
struct hfx_scanout *scanout_find(struct hfx_server *s, uint32_t number);

/* Stream id of ss becomes a subscriber (borrowed until
 * scanout_unsubscribe): HFX_OK, or HFX_E_BUSY when the scanout has
 * HFX_SCANOUT_MAX_SUBSCRIBERS. */
enum hfx_status scanout_subscribe(struct hfx_server *s, struct hfx_scanout *sc, struct session *ss,
                                  uint32_t id, const struct hfx_subscribe *req);

/* Stream id of ss is no longer a subscriber (nothing if it was not). */
void scanout_unsubscribe(struct hfx_server *s, struct hfx_scanout *sc, struct session *ss,
                         uint32_t id);

/* Whether the scanout takes INPUT. */
bool scanout_takes_input(const struct hfx_scanout *sc);

/* INPUT from a subscriber of sc (checked by the wire layer): to the
 * embedder, the pointer moved inside the encoded picture; a pointer event
 * before the first picture is dropped (it has nothing to point at). */
void scanout_input(struct hfx_scanout *sc, const struct hfx_input *in);

/* REQUEST_KEYFRAME from a subscriber. */
void scanout_request_keyframe(struct hfx_scanout *sc);

/* After a wake: every scanout's pending picture to its stream. */
void scanout_take_pictures(struct hfx_server *s);

/* A scanout's stream has results: to the subscribers. */
void scanout_forward_results(struct hfx_server *s, struct hfx_scanout *sc);

/* Keep-alives: asks for the pictures that are due; returns the ms until
 * the next is, or -1 when no scanout has subscribers. */
int scanout_deadlines(struct hfx_server *s, int64_t now);

/* With encode_in_loop: the scanouts' streams' jobs. */
void scanout_work(struct hfx_server *s);

/* The server's end: every scanout's stream stopped, every scanout freed. */
void scanout_free_all(struct hfx_server *s);

#endif /* HFX_HOST_SCANOUT_H */
