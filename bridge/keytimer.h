/* SPDX-License-Identifier: MIT */
/*
 * When to ask the encoder for a keyframe: on request (late joiners, viewers
 * cut back, decoder errors), throttled to one per min interval and
 * coalesced, and as a wall-clock heartbeat, so that capture that produces
 * frames only on damage still gives new viewers a picture. Times are
 * microseconds on one monotonic clock, passed in by the caller.
 */
#ifndef BRIDGE_KEYTIMER_H
#define BRIDGE_KEYTIMER_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint64 min_interval_us;
  gint64 heartbeat_us;          /* 0: no heartbeat */
  gint64 last_request_us;       /* G_MININT64: never */
  gint64 last_keyframe_us;
  gboolean pending;
  guint64 wanted, requested;    /* wishes, requests sent */
} BridgeKeyTimer;

void bridge_key_timer_init (BridgeKeyTimer * kt, guint min_interval_ms,
    guint heartbeat_ms, gint64 now_us);

/* Someone wants a keyframe soon. */
void bridge_key_timer_want (BridgeKeyTimer * kt);

/* The encoder produced a keyframe at now_us: satisfies pending wishes. */
void bridge_key_timer_keyframe (BridgeKeyTimer * kt, gint64 now_us);

/* TRUE when the caller should send a keyframe request now (then counted
 * as sent). */
gboolean bridge_key_timer_due (BridgeKeyTimer * kt, gint64 now_us);

G_END_DECLS

#endif /* BRIDGE_KEYTIMER_H */
