/* SPDX-License-Identifier: MIT */
#include "keytimer.h"

void
bridge_key_timer_init (BridgeKeyTimer * kt, guint min_interval_ms,
    guint heartbeat_ms, gint64 now_us)
{
  kt->min_interval_us = min_interval_ms * G_GINT64_CONSTANT (1000);
  kt->heartbeat_us = heartbeat_ms * G_GINT64_CONSTANT (1000);
  kt->last_request_us = G_MININT64;
  kt->last_keyframe_us = now_us;
  kt->pending = FALSE;
  kt->wanted = kt->requested = 0;
}

void
bridge_key_timer_want (BridgeKeyTimer * kt)
{
  kt->pending = TRUE;
  kt->wanted++;
}

void
bridge_key_timer_keyframe (BridgeKeyTimer * kt, gint64 now_us)
{
  kt->last_keyframe_us = now_us;
  kt->pending = FALSE;
}

gboolean
bridge_key_timer_due (BridgeKeyTimer * kt, gint64 now_us)
{
  /* A forced keyframe that did not come is asked for again at the next
   * allowed time: the heartbeat stays overdue until one arrives. */
  if (kt->heartbeat_us && now_us - kt->last_keyframe_us >= kt->heartbeat_us)
    kt->pending = TRUE;
  if (!kt->pending)
    return FALSE;
  if (kt->last_request_us != G_MININT64 &&
      now_us - kt->last_request_us < kt->min_interval_us)
    return FALSE;
  kt->last_request_us = now_us;
  kt->pending = FALSE;
  kt->requested++;
  return TRUE;
}
