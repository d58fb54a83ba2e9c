/* SPDX-License-Identifier: MIT */
#include "hub.h"

#include <string.h>

#include "util/percentile.h"

#define LATENCY_RING 512

typedef struct
{
  guint32 seq;
  gint64 capture_us;
} InFlight;

typedef struct
{
  guint id;
  GQueue queue;                 /* BridgeFrame*, oldest first */
  gsize queued_bytes;
  GArray *in_flight;            /* InFlight, oldest first */
  gboolean waiting_keyframe;
  /* The GOP a late joiner starts with was captured before it came: those
   * frames' latency says nothing about the stream's. */
  gboolean replayed;
  guint32 replay_last;
  guint64 sent, acked, dropped, cutbacks;
  gdouble latency_ms[LATENCY_RING];
  guint64 latency_n;            /* samples ever; ring index is n % RING */
} Viewer;

struct _BridgeHub
{
  BridgeHubOptions opts;
  GPtrArray *viewers;           /* Viewer*, joining order */
  guint next_id;
  GQueue gop;                   /* BridgeFrame*: the last keyframe onwards */
  gsize gop_bytes;
  gboolean gop_complete;        /* starts with a keyframe and fits the limits */
  gboolean keyframe_wish;
};

BridgeFrame *
bridge_frame_new (GBytes * msg, guint32 seq, gboolean keyframe,
    gint64 capture_us)
{
  BridgeFrame *f = g_atomic_rc_box_new0 (BridgeFrame);

  f->msg = msg;
  f->seq = seq;
  f->keyframe = keyframe;
  f->capture_us = capture_us;
  return f;
}

BridgeFrame *
bridge_frame_ref (BridgeFrame * f)
{
  return g_atomic_rc_box_acquire (f);
}

static void
frame_clear (gpointer data)
{
  BridgeFrame *f = data;

  g_bytes_unref (f->msg);
}

void
bridge_frame_unref (BridgeFrame * f)
{
  if (f)
    g_atomic_rc_box_release_full (f, frame_clear);
}

static gsize
frame_size (const BridgeFrame * f)
{
  return g_bytes_get_size (f->msg);
}

static void
queue_clear (GQueue * q)
{
  BridgeFrame *f;

  while ((f = g_queue_pop_head (q)))
    bridge_frame_unref (f);
}

static void
viewer_free (gpointer data)
{
  Viewer *v = data;

  queue_clear (&v->queue);
  g_array_unref (v->in_flight);
  g_free (v);
}

BridgeHub *
bridge_hub_new (const BridgeHubOptions * opts)
{
  BridgeHub *hub = g_new0 (BridgeHub, 1);

  if (opts)
    hub->opts = *opts;
  if (!hub->opts.window)
    hub->opts.window = 8;
  if (!hub->opts.queue_frames)
    hub->opts.queue_frames = 60;
  if (!hub->opts.queue_bytes)
    hub->opts.queue_bytes = 8 << 20;
  if (!hub->opts.gop_frames)
    hub->opts.gop_frames = 15;
  if (!hub->opts.gop_bytes)
    hub->opts.gop_bytes = 16 << 20;
  hub->viewers = g_ptr_array_new_with_free_func (viewer_free);
  g_queue_init (&hub->gop);
  return hub;
}

void
bridge_hub_free (BridgeHub * hub)
{
  if (!hub)
    return;
  g_ptr_array_unref (hub->viewers);
  queue_clear (&hub->gop);
  g_free (hub);
}

static Viewer *
find_viewer (const BridgeHub * hub, guint id)
{
  for (guint i = 0; i < hub->viewers->len; i++) {
    Viewer *v = g_ptr_array_index (hub->viewers, i);
    if (v->id == id)
      return v;
  }
  return NULL;
}

static void
enqueue (Viewer * v, BridgeFrame * f)
{
  g_queue_push_tail (&v->queue, bridge_frame_ref (f));
  v->queued_bytes += frame_size (f);
}

guint
bridge_hub_add_viewer (BridgeHub * hub)
{
  Viewer *v = g_new0 (Viewer, 1);

  v->id = ++hub->next_id;
  g_queue_init (&v->queue);
  v->in_flight = g_array_new (FALSE, FALSE, sizeof (InFlight));
  if (hub->gop_complete && hub->gop.length) {
    for (GList * l = hub->gop.head; l; l = l->next)
      enqueue (v, l->data);
    v->replayed = TRUE;
    v->replay_last = ((BridgeFrame *) hub->gop.tail->data)->seq;
  } else {
    v->waiting_keyframe = TRUE;
    hub->keyframe_wish = TRUE;
  }
  g_ptr_array_add (hub->viewers, v);
  return v->id;
}

void
bridge_hub_remove_viewer (BridgeHub * hub, guint id)
{
  Viewer *v = find_viewer (hub, id);

  if (v)
    g_ptr_array_remove (hub->viewers, v);
}

guint
bridge_hub_viewer_count (const BridgeHub * hub)
{
  return hub->viewers->len;
}

/* The GOP a late joiner gets: restarted at every keyframe, abandoned (until
 * the next keyframe) when it outgrows the limits. */
/* Empty the GOP kept for late joiners; complete: a keyframe starts it
 * again, else it stays unusable until the next keyframe. */
static void
gop_reset (BridgeHub * hub, gboolean complete)
{
  queue_clear (&hub->gop);
  hub->gop_bytes = 0;
  hub->gop_complete = complete;
}

static void
gop_push (BridgeHub * hub, BridgeFrame * f)
{
  if (f->keyframe)
    gop_reset (hub, TRUE);
  if (!hub->gop_complete)
    return;
  if (hub->gop.length + 1 > hub->opts.gop_frames ||
      hub->gop_bytes + frame_size (f) > hub->opts.gop_bytes) {
    gop_reset (hub, FALSE);
    return;
  }
  g_queue_push_tail (&hub->gop, bridge_frame_ref (f));
  hub->gop_bytes += frame_size (f);
}

/* Too far behind: what is queued will never be drawn in time. Start over
 * at the next keyframe; the frames in flight are already on their way. */
static void
cut_back (BridgeHub * hub, Viewer * v)
{
  v->dropped += v->queue.length;
  queue_clear (&v->queue);
  v->queued_bytes = 0;
  v->waiting_keyframe = TRUE;
  v->cutbacks++;
}

void
bridge_hub_push (BridgeHub * hub, BridgeFrame * f)
{
  gop_push (hub, f);
  for (guint i = 0; i < hub->viewers->len; i++) {
    Viewer *v = g_ptr_array_index (hub->viewers, i);

    if (v->waiting_keyframe && !f->keyframe) {
      v->dropped++;
      continue;
    }
    if (v->queue.length + 1 > hub->opts.queue_frames ||
        v->queued_bytes + frame_size (f) > hub->opts.queue_bytes) {
      cut_back (hub, v);
      if (!f->keyframe) {
        v->dropped++;
        hub->keyframe_wish = TRUE;
        continue;
      }
    }
    v->waiting_keyframe = FALSE;
    enqueue (v, f);
  }
}

BridgeFrame *
bridge_hub_next (BridgeHub * hub, guint id)
{
  Viewer *v = find_viewer (hub, id);
  BridgeFrame *f;
  InFlight fl;

  if (!v || v->in_flight->len >= hub->opts.window)
    return NULL;
  f = g_queue_pop_head (&v->queue);
  if (!f)
    return NULL;
  v->queued_bytes -= frame_size (f);
  fl.seq = f->seq;
  fl.capture_us = f->capture_us;
  g_array_append_val (v->in_flight, fl);
  v->sent++;
  return f;                     /* the queue's reference */
}

gboolean
bridge_hub_ack (BridgeHub * hub, guint id, guint32 seq, gint64 now_us)
{
  Viewer *v = find_viewer (hub, id);
  guint n = 0;

  if (!v)
    return FALSE;
  /* A viewer draws in order, and frames it skipped (waiting for a keyframe
   * after an error) are never reported: "drawn N" releases everything up
   * to N. */
  while (n < v->in_flight->len &&
      g_array_index (v->in_flight, InFlight, n).seq <= seq)
    n++;
  if (n == 0)
    return FALSE;
  if (g_array_index (v->in_flight, InFlight, n - 1).seq == seq &&
      !(v->replayed && seq <= v->replay_last)) {
    v->latency_ms[v->latency_n % LATENCY_RING] = (now_us -
        g_array_index (v->in_flight, InFlight, n - 1).capture_us) / 1000.0;
    v->latency_n++;
  }
  v->acked += n;
  g_array_remove_range (v->in_flight, 0, n);
  return TRUE;
}

void
bridge_hub_resync (BridgeHub * hub, guint id)
{
  Viewer *v = find_viewer (hub, id);

  if (!v)
    return;
  v->dropped += v->in_flight->len;
  g_array_set_size (v->in_flight, 0);
  cut_back (hub, v);
  hub->keyframe_wish = TRUE;
}

gboolean
bridge_hub_take_keyframe_wish (BridgeHub * hub)
{
  gboolean wish = hub->keyframe_wish;

  hub->keyframe_wish = FALSE;
  return wish;
}

gboolean
bridge_hub_viewer_stats (BridgeHub * hub, guint id, BridgeViewerStats * out)
{
  Viewer *v = find_viewer (hub, id);
  gdouble sorted[LATENCY_RING];
  gsize n;

  memset (out, 0, sizeof (*out));
  if (!v)
    return FALSE;
  out->queued = v->queue.length;
  out->in_flight = v->in_flight->len;
  out->sent = v->sent;
  out->acked = v->acked;
  out->dropped = v->dropped;
  out->cutbacks = v->cutbacks;
  out->waiting_keyframe = v->waiting_keyframe;
  out->latency_samples = v->latency_n;
  n = MIN (v->latency_n, LATENCY_RING);
  memcpy (sorted, v->latency_ms, n * sizeof (gdouble));
  hfx_percentiles (sorted, n, &out->latency_p50_ms, &out->latency_p99_ms);
  return TRUE;
}

GArray *
bridge_hub_viewer_ids (const BridgeHub * hub)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < hub->viewers->len; i++) {
    Viewer *v = g_ptr_array_index (hub->viewers, i);
    g_array_append_val (ids, v->id);
  }
  return ids;
}

gboolean
bridge_hub_latency (BridgeHub * hub, gdouble * p50_ms, gdouble * p99_ms)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (gdouble));
  gboolean any;

  for (guint i = 0; i < hub->viewers->len; i++) {
    Viewer *v = g_ptr_array_index (hub->viewers, i);
    g_array_append_vals (all, v->latency_ms, MIN (v->latency_n, LATENCY_RING));
  }
  any = hfx_percentiles ((gdouble *) all->data, all->len, p50_ms, p99_ms);
  g_array_unref (all);
  return any;
}
