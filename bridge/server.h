/* SPDX-License-Identifier: MIT */
/*
 * desktop-bridge's HTTP + WebSocket side (docs/bridge.md): serves the
 * viewer, streams every access unit to every viewer through a BridgeHub,
 * takes their acknowledgements and keyframe requests, and answers /stats.
 * Runs on the thread-default main context of the thread that created it;
 * only bridge_server_push_au () may be called from another thread.
 */
#ifndef BRIDGE_SERVER_H
#define BRIDGE_SERVER_H

#include <glib.h>

#include "hub.h"
#include "message.h"

G_BEGIN_DECLS

typedef struct _BridgeServer BridgeServer;

/* Ask the encoder for a keyframe now (already throttled). */
typedef void (*BridgeKeyframeFunc) (gpointer user_data);
/* The encoder in use, for /stats; returns a new string. */
typedef gchar *(*BridgeDescribeFunc) (gpointer user_data);
/* Frames captured so far (into the encoder), for /stats. */
typedef guint64 (*BridgeCountFunc) (gpointer user_data);
/* A viewer's key or pointer message (BRIDGE_VIEWER_KEY or _POINTER),
 * checked, on the main context: to the source's machine. */
typedef void (*BridgeInputFunc) (const BridgeViewerMsg * m,
    gpointer user_data);

/* The machine's display should be width x height: what the deciding
 * viewer (the one connected longest of those that sent a size) shows
 * without scaling. On the main context; called again when that viewer's
 * size changes, or when it leaves and another decides. */
typedef void (*BridgeResizeFunc) (guint width, guint height, guint viewer,
    gpointer user_data);

typedef struct
{
  const gchar *host;            /* address to listen on; NULL = 127.0.0.1 */
  guint port;                   /* 0: any free port */
  const gchar *token;           /* NULL: no token */
  guint keyframe_min_interval_ms;       /* 0 = 500 */
  guint keyframe_interval_ms;   /* heartbeat; 0 = 2000 */
  guint max_viewers;            /* more WebSockets get HTTP 503; 0 = 16 */
  BridgeHubOptions hub;
  BridgeKeyframeFunc request_keyframe;
  BridgeDescribeFunc describe_encoder;
  BridgeCountFunc frames_captured;       /* NULL: not reported */
  /* NULL: viewers may not send input (a viewer that does is closed);
   * every viewer is told which on connecting (docs/bridge.md). */
  BridgeInputFunc input;
  /* NULL: viewers may not ask for a size (a viewer that does is closed);
   * every viewer is told which on connecting (docs/bridge.md). */
  BridgeResizeFunc resize;
  gpointer user_data;
} BridgeServerOptions;

/* Listens at once. NULL with *error when the address cannot be bound. */
BridgeServer *bridge_server_new (const BridgeServerOptions * opts,
    GError ** error);

/* The port bound (useful with port 0). */
guint bridge_server_port (BridgeServer * s);

/* One access unit from the encoder; any thread but the main context's. au
 * is copied. Waits while 8 access units already wait for the main context
 * (counted as encoder_waits in /stats); returns at once, dropping it, after
 * bridge_server_stop_intake (). A thread waiting here holds its pipeline's
 * stream locks: a flushing seek or a state change of that pipeline from the
 * main context while frames flow would wait for it forever. The bridge
 * seeks only at EOS (nothing flows then) and stops the intake before it
 * stops the pipeline. */
void bridge_server_push_au (BridgeServer * s, const guint8 * au, gsize len,
    gboolean keyframe, gint64 pts_us, gint64 capture_us, guint width,
    guint height);

/* The /stats document (pretty: indented, else one line); free with
 * g_free. */
gchar *bridge_server_stats_json (BridgeServer * s, gboolean pretty);

/* The {"type":"cursor"} text message (bridge_msg_cursor_json ()) to every
 * viewer now and to each one that joins later, until the next call. On the
 * main context; json is copied. */
void bridge_server_set_cursor (BridgeServer * s, const gchar * json);

/* Makes bridge_server_push_au () return at once from now on, and wakes a
 * thread waiting in it: call it before stopping the capture pipeline, whose
 * streaming thread may be waiting there for a main loop that has ended.
 * NULL-safe. */
void bridge_server_stop_intake (BridgeServer * s);

/* Stop whatever calls bridge_server_push_au () first. NULL-safe. */
void bridge_server_free (BridgeServer * s);

G_END_DECLS

#endif /* BRIDGE_SERVER_H */
