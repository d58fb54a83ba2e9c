/* SPDX-License-Identifier: MIT */
/*
 * The fan-out of encoded frames to viewers (docs/bridge.md, "Flow
 * control"): one shared copy of every frame, and per viewer a window of
 * frames sent and not yet acknowledged plus a bounded queue behind it. A
 * viewer whose queue overflows is cut back to the next keyframe; a late
 * joiner starts with the current GOP. No I/O and no clock of its own: the
 * caller sends what bridge_hub_next() hands out and passes the time in.
 * Not thread-safe: one thread (the main loop) owns a hub.
 */
#ifndef BRIDGE_HUB_H
#define BRIDGE_HUB_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BridgeHub BridgeHub;

/* One encoded frame as every viewer gets it: the stream message (header +
 * access unit) and what the hub needs to know about it. Immutable once
 * pushed; reference counted. */
typedef struct
{
  GBytes *msg;
  guint32 seq;
  gboolean keyframe;
  gint64 capture_us;            /* bridge's monotonic clock */
} BridgeFrame;

/* msg: taken. Returns a frame with one reference. */
BridgeFrame *bridge_frame_new (GBytes * msg, guint32 seq, gboolean keyframe,
    gint64 capture_us);
BridgeFrame *bridge_frame_ref (BridgeFrame * f);
void bridge_frame_unref (BridgeFrame * f);

typedef struct
{
  guint window;                 /* frames sent, not acknowledged; 0 = 8 */
  guint queue_frames;           /* queued behind the window; 0 = 60 */
  gsize queue_bytes;            /* 0 = 8 MB */
  /* A late joiner gets the current GOP only while it is this short: it
   * must decode all of it before it is live. 0 = 15 (0.5 s at 30 fps). */
  guint gop_frames;
  gsize gop_bytes;              /* 0 = 16 MB */
} BridgeHubOptions;

typedef struct
{
  guint queued;                 /* waiting behind the window */
  guint in_flight;              /* sent, not acknowledged */
  guint64 sent, acked, dropped, cutbacks;
  gboolean waiting_keyframe;
  gdouble latency_p50_ms, latency_p99_ms;       /* 0 until the first ack */
  guint64 latency_samples;
} BridgeViewerStats;

/* opts may be NULL (defaults). */
BridgeHub *bridge_hub_new (const BridgeHubOptions * opts);
void bridge_hub_free (BridgeHub * hub);

/* A new viewer; its queue starts with the current GOP when there is one
 * that fits, else it waits for the next keyframe (and the hub wants one:
 * bridge_hub_take_keyframe_wish()). Returns its id (> 0). */
guint bridge_hub_add_viewer (BridgeHub * hub);
void bridge_hub_remove_viewer (BridgeHub * hub, guint id);
guint bridge_hub_viewer_count (const BridgeHub * hub);

/* frame: borrowed (the hub takes its own references). */
void bridge_hub_push (BridgeHub * hub, BridgeFrame * frame);

/* The next frame to send to viewer id, or NULL when its queue is empty or
 * its window is full. Returns a new reference; the frame counts as in
 * flight from now on. */
BridgeFrame *bridge_hub_next (BridgeHub * hub, guint id);

/* Viewer id has drawn frame seq at now_us: every frame up to seq leaves
 * its window, and when seq itself was in flight its latency (now_us - its
 * capture time, from the hub's own record, not the viewer's echo) is
 * recorded, unless it was one of the GOP replayed to a late joiner. FALSE when nothing up to seq was in flight (ignored). */
gboolean bridge_hub_ack (BridgeHub * hub, guint id, guint32 seq, gint64 now_us);

/* Viewer id lost its decoder state (it asked for a keyframe): what is in
 * flight or queued will not be drawn. Its window is emptied, it is cut back
 * to the next keyframe, and the hub wants one. */
void bridge_hub_resync (BridgeHub * hub, guint id);

/* Whether something (a late joiner without a GOP, a cut-back viewer) asked
 * for a keyframe since the last call. Clears the wish. */
gboolean bridge_hub_take_keyframe_wish (BridgeHub * hub);

/* FALSE for an unknown id. */
gboolean bridge_hub_viewer_stats (BridgeHub * hub, guint id,
    BridgeViewerStats * out);

/* Ids of the viewers, in joining order; free with g_array_unref. */
GArray *bridge_hub_viewer_ids (const BridgeHub * hub);

/* Latency over every viewer's recent acks; FALSE when there is none. */
gboolean bridge_hub_latency (BridgeHub * hub, gdouble * p50_ms,
    gdouble * p99_ms);

G_END_DECLS

#endif /* BRIDGE_HUB_H */
