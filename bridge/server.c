/* SPDX-License-Identifier: MIT */
#include "server.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "hfx/protocol.h"
#include "util/percentile.h"
#include "util/token.h"
#include "keytimer.h"
#include "message.h"

#define RESOURCE_PREFIX "/org/hfx/bridge/"
#define RATE_RING 256           /* frames remembered for fps and bitrate */
#define LAT_RING 512
#define TICK_MS 50
/* Viewer messages are a few dozen bytes; refuse anything much larger. */
#define MAX_VIEWER_MSG 4096
/* Each viewer's queue is bounded; their number is bounded too, so that a
 * browser opening WebSockets in a loop cannot hold a queue per socket. */
#define DEFAULT_MAX_VIEWERS 16
/* Access units handed over by the encoder's thread and not yet taken by the
 * main context. Past this the encoder's thread waits, and the leaky queue in
 * front of the encoder drops raw frames: a main loop slower than the
 * encoder costs frames, never memory, and never a broken stream. */
#define INTAKE_MAX 8

#define KEY_WORDS ((HFX_MAX_KEY_CODE + 64) / 64)

typedef struct
{
  BridgeServer *server;
  guint id;
  SoupWebsocketConnection *ws;
  /* What the viewer holds down, released for it when it goes: a viewer
   * that closes its tab mid-press must not leave a key stuck in the
   * machine (docs/protocol.md §5.18: the client releases what it
   * pressed; the bridge is the client). */
  guint64 keys_down[KEY_WORDS];
  guint buttons;
  guint32 x, y;
  guint want_w, want_h;         /* its last size message; 0: none */
} ViewerConn;

typedef struct
{
  gdouble ms[LAT_RING];
  guint64 n;
} LatRing;

struct _BridgeServer
{
  BridgeServerOptions opts;
  gchar *host, *token;
  GMainContext *ctx;
  SoupServer *soup;
  guint port;
  BridgeHub *hub;
  GHashTable *conns;            /* id -> ViewerConn* */
  BridgeKeyTimer keys;
  GSource *tick;                /* on ctx */
  gint64 last_stats_push_us;

  guint32 next_seq;
  guint width, height;
  guint64 frames, keyframes, bytes, bad_viewer_msgs;
  guint64 inputs;               /* key and pointer messages passed on */
  gchar *cursor;                /* the last cursor message; NULL: none */
  /* --resize: who decides and what was asked for last */
  guint resize_viewer, resize_w, resize_h;
  guint64 resizes, size_msgs;
  gint64 rate_at_us[RATE_RING];
  gsize rate_bytes[RATE_RING];
  LatRing encode, decode;

  /* The hand-off from the encoder's thread, under intake_lock. */
  GMutex intake_lock;
  GCond intake_room;
  GQueue intake;                /* PendingAu*, at most INTAKE_MAX */
  gboolean intake_scheduled;    /* a take_intake source is attached */
  gboolean intake_closed;
  guint64 intake_waits;         /* access units that waited for room */
};

static void
lat_add (LatRing * r, gdouble ms)
{
  r->ms[r->n % LAT_RING] = ms;
  r->n++;
}

/* p50 and p99 of the recent samples; FALSE when there are none. */
static gboolean
lat_percentiles (const LatRing * r, gdouble * p50, gdouble * p99)
{
  gdouble sorted[LAT_RING];
  gsize n = MIN (r->n, LAT_RING);

  memcpy (sorted, r->ms, n * sizeof (gdouble));
  return hfx_percentiles (sorted, n, p50, p99);
}

/* Frames and bytes of the last second. */
static void
rates (BridgeServer * s, gint64 now_us, gdouble * fps, gdouble * kbit)
{
  guint n = 0;
  gsize bytes = 0;

  for (guint64 i = 0; i < MIN (s->frames, RATE_RING); i++) {
    guint64 k = (s->frames - 1 - i) % RATE_RING;
    if (now_us - s->rate_at_us[k] > G_USEC_PER_SEC)
      break;
    n++;
    bytes += s->rate_bytes[k];
  }
  *fps = n;
  *kbit = bytes * 8.0 / 1000.0;
}

static void
pump (BridgeServer * s, ViewerConn * vc)
{
  BridgeFrame *f;

  if (soup_websocket_connection_get_state (vc->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  /* soup queues what it cannot write yet; the hub's window bounds that. */
  while ((f = bridge_hub_next (s->hub, vc->id))) {
    gsize len;
    gconstpointer data = g_bytes_get_data (f->msg, &len);
    soup_websocket_connection_send_binary (vc->ws, data, len);
    bridge_frame_unref (f);
  }
}

static void
pump_all (BridgeServer * s)
{
  GHashTableIter it;
  gpointer value;

  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, NULL, &value))
    pump (s, value);
}

static void
maybe_request_keyframe (BridgeServer * s, gint64 now_us)
{
  if (bridge_hub_take_keyframe_wish (s->hub))
    bridge_key_timer_want (&s->keys);
  if (bridge_key_timer_due (&s->keys, now_us) && s->opts.request_keyframe)
    s->opts.request_keyframe (s->opts.user_data);
}

/* The encoder's access units, moved from the streaming thread. */
typedef struct
{
  /* Room for the stream header, then the access unit: the one copy made
   * of it, on the encoder's thread; the header is written on the main
   * context, where the sequence number is given. */
  guint8 *msg;
  gsize len;
  gboolean keyframe;
  gint64 pts_us, capture_us, arrived_us;
  guint width, height;
} PendingAu;

static void
pending_free (gpointer data)
{
  PendingAu *p = data;

  g_free (p->msg);
  g_free (p);
}

static void
take_au (BridgeServer * s, PendingAu * p)
{
  BridgeMsgHeader h = { 0 };
  BridgeFrame *f;
  gint64 now = g_get_monotonic_time ();

  h.flags = p->keyframe ? BRIDGE_MSG_FLAG_KEYFRAME : 0;
  h.seq = s->next_seq++;
  h.width = (guint16) MIN (p->width, G_MAXUINT16);
  h.height = (guint16) MIN (p->height, G_MAXUINT16);
  h.pts_us = p->pts_us;
  h.capture_us = p->capture_us;
  bridge_msg_write_header (p->msg, &h);
  f = bridge_frame_new (g_bytes_new_take (g_steal_pointer (&p->msg),
          BRIDGE_MSG_HEADER_SIZE + p->len), h.seq, p->keyframe, p->capture_us);

  s->rate_at_us[s->frames % RATE_RING] = now;
  s->rate_bytes[s->frames % RATE_RING] = p->len;
  s->frames++;
  s->bytes += p->len;
  s->width = p->width;
  s->height = p->height;
  lat_add (&s->encode, (p->arrived_us - p->capture_us) / 1000.0);
  if (p->keyframe) {
    s->keyframes++;
    bridge_key_timer_keyframe (&s->keys, now);
  }
  bridge_hub_push (s->hub, f);
  bridge_frame_unref (f);
  pump_all (s);
  maybe_request_keyframe (s, now);
}

/* On the main context: take the waiting access units, popping one at a time
 * so that the encoder's thread gets room as soon as there is some, and at
 * most INTAKE_MAX per dispatch so that an encoder that keeps the queue full
 * cannot keep the loop from viewers, signals and timers. */
static gboolean
take_intake (gpointer data)
{
  BridgeServer *s = data;

  for (guint i = 0; i < INTAKE_MAX; i++) {
    PendingAu *p;

    g_mutex_lock (&s->intake_lock);
    p = g_queue_pop_head (&s->intake);
    if (!p)
      s->intake_scheduled = FALSE;
    g_cond_broadcast (&s->intake_room);
    g_mutex_unlock (&s->intake_lock);
    if (!p)
      return G_SOURCE_REMOVE;
    take_au (s, p);
    pending_free (p);
  }
  return G_SOURCE_CONTINUE;
}

void
bridge_server_push_au (BridgeServer * s, const guint8 * au, gsize len,
    gboolean keyframe, gint64 pts_us, gint64 capture_us, guint width,
    guint height)
{
  PendingAu *p;
  GSource *source = NULL;

  g_mutex_lock (&s->intake_lock);
  if (!s->intake_closed && s->intake.length >= INTAKE_MAX) {
    s->intake_waits++;
    while (!s->intake_closed && s->intake.length >= INTAKE_MAX)
      g_cond_wait (&s->intake_room, &s->intake_lock);
  }
  if (s->intake_closed) {
    g_mutex_unlock (&s->intake_lock);
    return;
  }
  p = g_new0 (PendingAu, 1);
  p->msg = g_malloc (BRIDGE_MSG_HEADER_SIZE + len);
  if (len)
    memcpy (p->msg + BRIDGE_MSG_HEADER_SIZE, au, len);
  p->len = len;
  p->keyframe = keyframe;
  p->pts_us = pts_us;
  p->capture_us = capture_us;
  /* After any wait for room: the wait is the main loop's, not the
   * encoder's. */
  p->arrived_us = g_get_monotonic_time ();
  p->width = width;
  p->height = height;
  g_queue_push_tail (&s->intake, p);
  if (!s->intake_scheduled) {
    s->intake_scheduled = TRUE;
    /* An idle source, not g_main_context_invoke (): that runs the function
     * right here whenever nobody holds the context, e.g. before the main
     * loop starts or after it ends. */
    source = g_idle_source_new ();
    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, take_intake, s, NULL);
  }
  g_mutex_unlock (&s->intake_lock);
  if (source) {
    g_source_attach (source, s->ctx);
    g_source_unref (source);
  }
}

void
bridge_server_stop_intake (BridgeServer * s)
{
  if (!s)
    return;
  g_mutex_lock (&s->intake_lock);
  s->intake_closed = TRUE;
  g_cond_broadcast (&s->intake_room);
  g_mutex_unlock (&s->intake_lock);
}

/* Viewers */

static void
track_held (ViewerConn * vc, const BridgeViewerMsg * m)
{
  guint64 bit;

  if (m->type == BRIDGE_VIEWER_POINTER) {
    vc->buttons = m->buttons;
    vc->x = m->x;
    vc->y = m->y;
    return;
  }
  bit = G_GUINT64_CONSTANT (1) << (m->code % 64);
  if (m->down)
    vc->keys_down[m->code / 64] |= bit;
  else
    vc->keys_down[m->code / 64] &= ~bit;
}

/* The viewer is gone: what it still held is released, as if it had let go. */
static void
release_held (BridgeServer * s, ViewerConn * vc)
{
  BridgeViewerMsg up = {.type = BRIDGE_VIEWER_KEY };

  if (!s->opts.input)
    return;
  for (guint32 code = 1; code <= HFX_MAX_KEY_CODE; code++) {
    if (!(vc->keys_down[code / 64] & (G_GUINT64_CONSTANT (1) << (code % 64))))
      continue;
    up.code = code;
    s->opts.input (&up, s->opts.user_data);
  }
  if (vc->buttons) {
    BridgeViewerMsg ptr = {.type = BRIDGE_VIEWER_POINTER };

    ptr.x = vc->x;
    ptr.y = vc->y;
    s->opts.input (&ptr, s->opts.user_data);
  }
  memset (vc->keys_down, 0, sizeof (vc->keys_down));
  vc->buttons = 0;
}

/* One viewer decides the machine's size: of those that sent a size, the
 * one connected longest (the lowest id). Asks again only when the answer
 * changes. */
static void
apply_resize (BridgeServer * s)
{
  GHashTableIter it;
  gpointer value;
  ViewerConn *lead = NULL;

  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    ViewerConn *vc = value;

    if (vc->want_w && (!lead || vc->id < lead->id))
      lead = vc;
  }
  if (!lead)
    return;                     /* the machine keeps the size it has */
  if (lead->id != s->resize_viewer)
    g_print ("desktop-bridge: viewer %u decides the display's size\n",
        lead->id);
  s->resize_viewer = lead->id;
  if (lead->want_w == s->resize_w && lead->want_h == s->resize_h)
    return;
  s->resize_w = lead->want_w;
  s->resize_h = lead->want_h;
  s->resizes++;
  g_print ("desktop-bridge: viewer %u asks for %ux%u\n", lead->id,
      s->resize_w, s->resize_h);
  s->opts.resize (s->resize_w, s->resize_h, lead->id, s->opts.user_data);
}

/* A message the viewer was told not to send (input or size while off). */
static void
refuse (BridgeServer * s, ViewerConn * vc, const gchar * what,
    const gchar * option)
{
  s->bad_viewer_msgs++;
  g_printerr ("desktop-bridge: viewer %u: sent %s, but %s is off; closing\n",
      vc->id, what, option);
  soup_websocket_connection_close (vc->ws,
      SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "not allowed");
}

static void
on_viewer_message (SoupWebsocketConnection * ws, gint type, GBytes * message,
    ViewerConn * vc)
{
  BridgeServer *s = vc->server;
  BridgeViewerMsg m;
  GError *error = NULL;
  gsize len;
  const gchar *text = g_bytes_get_data (message, &len);

  if (type != SOUP_WEBSOCKET_DATA_TEXT ||
      !bridge_viewer_msg_parse (text, len, &m, &error)) {
    s->bad_viewer_msgs++;
    g_printerr ("desktop-bridge: viewer %u: %s; closing\n", vc->id,
        error ? error->message : "binary message");
    soup_websocket_connection_close (ws,
        SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "unexpected message");
    g_clear_error (&error);
    return;
  }
  /* The viewer was told what is off: it ignored that. */
  if ((m.type == BRIDGE_VIEWER_KEY || m.type == BRIDGE_VIEWER_POINTER) &&
      !s->opts.input) {
    refuse (s, vc, m.type == BRIDGE_VIEWER_KEY ? "a key" : "a pointer event",
        "input (--input)");
    return;
  }
  if (m.type == BRIDGE_VIEWER_SIZE && !s->opts.resize) {
    refuse (s, vc, "its size", "resizing (--resize)");
    return;
  }
  if (m.type == BRIDGE_VIEWER_SIZE) {
    s->size_msgs++;
    vc->want_w = m.width;
    vc->want_h = m.height;
    apply_resize (s);
  } else if (m.type == BRIDGE_VIEWER_KEY || m.type == BRIDGE_VIEWER_POINTER) {
    s->inputs++;
    track_held (vc, &m);
    s->opts.input (&m, s->opts.user_data);
  } else if (m.type == BRIDGE_VIEWER_DRAWN) {
    if (bridge_hub_ack (s->hub, vc->id, m.seq, g_get_monotonic_time ()) &&
        m.decode_ms >= 0)
      lat_add (&s->decode, m.decode_ms);
    pump (s, vc);
  } else {
    bridge_hub_resync (s->hub, vc->id);
    maybe_request_keyframe (s, g_get_monotonic_time ());
  }
}

static void
on_viewer_closed (SoupWebsocketConnection * ws, ViewerConn * vc)
{
  BridgeServer *s = vc->server;

  g_print ("desktop-bridge: viewer %u left\n", vc->id);
  release_held (s, vc);
  bridge_hub_remove_viewer (s->hub, vc->id);
  g_hash_table_remove (s->conns, GUINT_TO_POINTER (vc->id));
  if (s->opts.resize)
    apply_resize (s);
}

static void
viewer_conn_free (gpointer data)
{
  ViewerConn *vc = data;

  g_signal_handlers_disconnect_by_data (vc->ws, vc);
  if (soup_websocket_connection_get_state (vc->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (vc->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
        NULL);
  g_object_unref (vc->ws);
  g_free (vc);
}

static void
on_websocket (SoupServer * soup, SoupServerMessage * msg, const char *path,
    SoupWebsocketConnection * ws, gpointer user_data)
{
  BridgeServer *s = user_data;
  ViewerConn *vc;

  /* on_http turned the excess away before the upgrade; this holds if
   * upgrades ever complete after other requests were handled. */
  if (g_hash_table_size (s->conns) >= s->opts.max_viewers) {
    g_printerr ("desktop-bridge: viewer from %s turned away: %u viewers\n",
        soup_server_message_get_remote_host (msg), s->opts.max_viewers);
    /* 1013, Try Again Later: IANA's WebSocket close codes */
    soup_websocket_connection_close (ws, 1013, "too many viewers");
    return;
  }
  vc = g_new0 (ViewerConn, 1);
  vc->server = s;
  vc->ws = g_object_ref (ws);
  vc->id = bridge_hub_add_viewer (s->hub);
  soup_websocket_connection_set_max_incoming_payload_size (ws, MAX_VIEWER_MSG);
  soup_websocket_connection_set_keepalive_interval (ws, 5);
  g_signal_connect (ws, "message", G_CALLBACK (on_viewer_message), vc);
  g_signal_connect (ws, "closed", G_CALLBACK (on_viewer_closed), vc);
  g_hash_table_insert (s->conns, GUINT_TO_POINTER (vc->id), vc);
  g_print ("desktop-bridge: viewer %u joined from %s\n", vc->id,
      soup_server_message_get_remote_host (msg));
  soup_websocket_connection_send_text (ws, s->opts.input ?
      "{\"type\":\"input\",\"allowed\":true}" :
      "{\"type\":\"input\",\"allowed\":false}");
  soup_websocket_connection_send_text (ws, s->opts.resize ?
      "{\"type\":\"resize\",\"allowed\":true}" :
      "{\"type\":\"resize\",\"allowed\":false}");
  if (s->cursor)
    soup_websocket_connection_send_text (ws, s->cursor);
  pump (s, vc);
  maybe_request_keyframe (s, g_get_monotonic_time ());
}

/* HTTP */

static gboolean
token_ok (BridgeServer * s, SoupServerMessage * msg)
{
  GHashTable *params;
  const gchar *query, *given;
  gboolean ok;

  if (!s->token)
    return TRUE;
  query = g_uri_get_query (soup_server_message_get_uri (msg));
  params = query ? g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE,
      NULL) : NULL;
  given = params ? g_hash_table_lookup (params, "token") : NULL;
  ok = given && hfx_token_equal (given, strlen (given), s->token,
      strlen (s->token));
  if (params)
    g_hash_table_unref (params);
  return ok;
}

static void
respond (SoupServerMessage * msg, guint status, const gchar * type,
    GBytes * body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
      g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
respond_text (SoupServerMessage * msg, guint status, const gchar * text)
{
  GBytes *b = g_bytes_new_static (text, strlen (text));

  respond (msg, status, "text/plain; charset=utf-8", b);
  g_bytes_unref (b);
}

static void
on_http (SoupServer * soup, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer user_data)
{
  BridgeServer *s = user_data;
  const gchar *name = NULL, *type = NULL;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET &&
      soup_server_message_get_method (msg) != SOUP_METHOD_HEAD) {
    respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET only\n");
    return;
  }
  if (g_str_equal (path, "/ws")) {
    /* Only the token here: leaving the status unset lets the WebSocket
     * handshake go on. */
    if (!token_ok (s, msg))
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "token missing or wrong\n");
    else if (g_hash_table_size (s->conns) >= s->opts.max_viewers)
      respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
          "too many viewers\n");
    return;
  }
  if (g_str_equal (path, "/stats")) {
    gchar *json;
    GBytes *b;
    if (!token_ok (s, msg)) {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "token missing or wrong\n");
      return;
    }
    json = bridge_server_stats_json (s, TRUE);
    b = g_bytes_new_take (json, strlen (json));
    respond (msg, SOUP_STATUS_OK, "application/json", b);
    g_bytes_unref (b);
    return;
  }
  if (g_str_equal (path, "/") || g_str_equal (path, "/index.html")) {
    name = RESOURCE_PREFIX "index.html";
    type = "text/html; charset=utf-8";
  } else if (g_str_equal (path, "/viewer.js")) {
    name = RESOURCE_PREFIX "viewer.js";
    type = "text/javascript; charset=utf-8";
  }
  if (name) {
    GBytes *b = g_resources_lookup_data (name, 0, NULL);
    if (b) {
      respond (msg, SOUP_STATUS_OK, type, b);
      g_bytes_unref (b);
      return;
    }
  }
  respond_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

/* Once a second every viewer hears the latency the bridge measured, for
 * its overlay; the keyframe heartbeat is checked every tick. */
static gboolean
on_tick (gpointer user_data)
{
  BridgeServer *s = user_data;
  gint64 now = g_get_monotonic_time ();
  gdouble p50 = 0, p99 = 0, fps, kbit;
  GHashTableIter it;
  gpointer value;
  gchar *text;

  maybe_request_keyframe (s, now);
  if (now - s->last_stats_push_us < G_USEC_PER_SEC)
    return G_SOURCE_CONTINUE;
  s->last_stats_push_us = now;
  bridge_hub_latency (s->hub, &p50, &p99);
  rates (s, now, &fps, &kbit);
  text = g_strdup_printf ("{\"type\":\"stats\",\"latency_p50_ms\":%.1f,"
      "\"latency_p99_ms\":%.1f,\"fps\":%.0f,\"bitrate_kbit\":%.0f}", p50, p99,
      fps, kbit);
  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    ViewerConn *vc = value;
    if (soup_websocket_connection_get_state (vc->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (vc->ws, text);
  }
  g_free (text);
  return G_SOURCE_CONTINUE;
}

static void
add_latency (JsonBuilder * b, const gchar * name, const LatRing * r)
{
  gdouble p50 = 0, p99 = 0;

  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  if (lat_percentiles (r, &p50, &p99)) {
    json_builder_set_member_name (b, "p50_ms");
    json_builder_add_double_value (b, p50);
    json_builder_set_member_name (b, "p99_ms");
    json_builder_add_double_value (b, p99);
  }
  json_builder_set_member_name (b, "samples");
  json_builder_add_int_value (b, (gint64) r->n);
  json_builder_end_object (b);
}

#define MEMBER_INT(b, name, v) \
  G_STMT_START { json_builder_set_member_name (b, name); \
    json_builder_add_int_value (b, (gint64) (v)); } G_STMT_END
#define MEMBER_DOUBLE(b, name, v) \
  G_STMT_START { json_builder_set_member_name (b, name); \
    json_builder_add_double_value (b, v); } G_STMT_END

gchar *
bridge_server_stats_json (BridgeServer * s, gboolean pretty)
{
  JsonBuilder *b = json_builder_new ();
  JsonNode *root;
  GArray *ids;
  gchar *encoder, *json;
  gdouble fps, kbit, p50 = 0, p99 = 0;
  gboolean have_latency;
  guint64 waits;

  rates (s, g_get_monotonic_time (), &fps, &kbit);
  encoder = s->opts.describe_encoder ?
      s->opts.describe_encoder (s->opts.user_data) : g_strdup ("unknown");
  json_builder_begin_object (b);
  MEMBER_DOUBLE (b, "fps", fps);
  MEMBER_DOUBLE (b, "bitrate_kbit", kbit);
  json_builder_set_member_name (b, "encoder");
  json_builder_add_string_value (b, encoder);
  MEMBER_INT (b, "width", s->width);
  MEMBER_INT (b, "height", s->height);
  if (s->opts.frames_captured)
    MEMBER_INT (b, "frames_captured",
        s->opts.frames_captured (s->opts.user_data));
  MEMBER_INT (b, "frames", s->frames);
  MEMBER_INT (b, "keyframes", s->keyframes);
  MEMBER_INT (b, "bytes", s->bytes);
  MEMBER_INT (b, "keyframe_requests", s->keys.requested);
  MEMBER_INT (b, "bad_viewer_messages", s->bad_viewer_msgs);
  MEMBER_INT (b, "inputs", s->inputs);
  if (s->opts.resize) {
    json_builder_set_member_name (b, "resize");
    json_builder_begin_object (b);
    MEMBER_INT (b, "size_messages", s->size_msgs);
    MEMBER_INT (b, "resizes", s->resizes);
    if (s->resize_viewer) {
      MEMBER_INT (b, "viewer", s->resize_viewer);
      MEMBER_INT (b, "width", s->resize_w);
      MEMBER_INT (b, "height", s->resize_h);
    }
    json_builder_end_object (b);
  }
  g_mutex_lock (&s->intake_lock);
  waits = s->intake_waits;
  g_mutex_unlock (&s->intake_lock);
  MEMBER_INT (b, "encoder_waits", waits);

  json_builder_set_member_name (b, "latency");
  json_builder_begin_object (b);
  have_latency = bridge_hub_latency (s->hub, &p50, &p99);
  json_builder_set_member_name (b, "glass_to_glass");
  json_builder_begin_object (b);
  if (have_latency) {
    MEMBER_DOUBLE (b, "p50_ms", p50);
    MEMBER_DOUBLE (b, "p99_ms", p99);
  }
  json_builder_end_object (b);
  add_latency (b, "capture_to_encoded", &s->encode);
  add_latency (b, "viewer_decode_draw", &s->decode);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "viewers");
  json_builder_begin_array (b);
  ids = bridge_hub_viewer_ids (s->hub);
  for (guint i = 0; i < ids->len; i++) {
    BridgeViewerStats vs;
    guint id = g_array_index (ids, guint, i);
    if (!bridge_hub_viewer_stats (s->hub, id, &vs))
      continue;
    json_builder_begin_object (b);
    MEMBER_INT (b, "id", id);
    MEMBER_INT (b, "queue", vs.queued);
    MEMBER_INT (b, "in_flight", vs.in_flight);
    MEMBER_INT (b, "sent", vs.sent);
    MEMBER_INT (b, "acked", vs.acked);
    MEMBER_INT (b, "dropped", vs.dropped);
    MEMBER_INT (b, "cutbacks", vs.cutbacks);
    MEMBER_DOUBLE (b, "latency_p50_ms", vs.latency_p50_ms);
    MEMBER_DOUBLE (b, "latency_p99_ms", vs.latency_p99_ms);
    json_builder_end_object (b);
  }
  g_array_unref (ids);
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json = json_to_string (root, pretty);
  json_node_unref (root);
  g_object_unref (b);
  g_free (encoder);
  return json;
}

void
bridge_server_set_cursor (BridgeServer * s, const gchar * json)
{
  GHashTableIter it;
  gpointer value;

  g_free (s->cursor);
  s->cursor = g_strdup (json);
  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    ViewerConn *vc = value;

    if (soup_websocket_connection_get_state (vc->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (vc->ws, json);
  }
}

BridgeServer *
bridge_server_new (const BridgeServerOptions * opts, GError ** error)
{
  BridgeServer *s = g_new0 (BridgeServer, 1);
  GInetAddress *addr;
  GSocketAddress *sa;
  GSList *uris;

  s->opts = *opts;
  s->host = g_strdup (opts->host ? opts->host : "127.0.0.1");
  s->token = g_strdup (opts->token);
  s->opts.host = s->host;
  s->opts.token = s->token;
  if (!s->opts.keyframe_min_interval_ms)
    s->opts.keyframe_min_interval_ms = 500;
  if (!s->opts.keyframe_interval_ms)
    s->opts.keyframe_interval_ms = 2000;
  if (!s->opts.max_viewers)
    s->opts.max_viewers = DEFAULT_MAX_VIEWERS;
  s->ctx = g_main_context_ref_thread_default ();
  g_mutex_init (&s->intake_lock);
  g_cond_init (&s->intake_room);
  g_queue_init (&s->intake);
  s->hub = bridge_hub_new (&opts->hub);
  s->conns = g_hash_table_new_full (NULL, NULL, NULL, viewer_conn_free);
  bridge_key_timer_init (&s->keys, s->opts.keyframe_min_interval_ms,
      s->opts.keyframe_interval_ms, g_get_monotonic_time ());

  s->soup = soup_server_new ("server-header", "desktop-bridge ", NULL);
  soup_server_add_handler (s->soup, NULL, on_http, s, NULL);
  soup_server_add_handler (s->soup, "/ws", on_http, s, NULL);
  soup_server_add_websocket_handler (s->soup, "/ws", NULL, NULL, on_websocket,
      s, NULL);

  addr = g_inet_address_new_from_string (s->host);
  if (!addr) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--listen: '%s' is not an IP address", s->host);
    bridge_server_free (s);
    return NULL;
  }
  sa = g_inet_socket_address_new (addr, (guint16) opts->port);
  g_object_unref (addr);
  if (!soup_server_listen (s->soup, sa, 0, error)) {
    g_object_unref (sa);
    bridge_server_free (s);
    return NULL;
  }
  g_object_unref (sa);
  uris = soup_server_get_uris (s->soup);
  if (uris)
    s->port = (guint) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  /* On ctx, like everything else of the server (not the global default). */
  s->tick = g_timeout_source_new (TICK_MS);
  g_source_set_callback (s->tick, on_tick, s, NULL);
  g_source_attach (s->tick, s->ctx);
  return s;
}

guint
bridge_server_port (BridgeServer * s)
{
  return s->port;
}

void
bridge_server_free (BridgeServer * s)
{
  if (!s)
    return;
  bridge_server_stop_intake (s);
  /* A take_intake source may be attached, holding a pointer to s. */
  while (g_main_context_pending (s->ctx))
    g_main_context_iteration (s->ctx, FALSE);
  g_queue_clear_full (&s->intake, pending_free);
  g_mutex_clear (&s->intake_lock);
  g_cond_clear (&s->intake_room);
  if (s->tick) {
    g_source_destroy (s->tick);
    g_source_unref (s->tick);
  }
  if (s->conns)
    g_hash_table_unref (s->conns);
  if (s->soup) {
    soup_server_disconnect (s->soup);
    g_object_unref (s->soup);
  }
  bridge_hub_free (s->hub);
  g_main_context_unref (s->ctx);
  g_free (s->cursor);
  g_free (s->host);
  hfx_token_wipe (s->token);
  g_free (s->token);
  g_free (s);
}
