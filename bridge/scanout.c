/* SPDX-License-Identifier: MIT */
/*
 * A scanout of an hfx host as desktop-bridge's source (scanout.h).
 *
 * The hfx client is single-threaded, so one thread of ours owns it after
 * the handshake: it reads events, and sends the keyframe requests the
 * main loop leaves in a flag and the viewers' input it leaves in a queue
 * (a byte on a pipe wakes it for them and for the stop).
 */
#include "scanout.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "hfx/client.h"

#define SUBSCRIBE_STREAM 1
#define HANDSHAKE_TIMEOUT_MS 5000
#define KEEPALIVE_MS HFX_DEFAULT_KEEPALIVE_MS
/* No packet for this long, though the host promised one every
 * KEEPALIVE_MS, means that it hangs. */
#define SILENCE_MS (10000 + 5 * KEEPALIVE_MS)
/* Input events waiting for the thread: a person's typing and pointing
 * never comes near; a flood loses the newest. */
#define INPUT_QUEUE 256

struct _BridgeScanout
{
  BridgeScanoutOptions opts;
  gchar *address;               /* owned copies of opts' strings */
  gboolean same_clock;          /* the host's pts are on our clock */
  BridgeAuFunc on_au;
  BridgeCaptureErrorFunc on_error;
  gpointer user_data;
  GMainContext *ctx;            /* where on_error runs; a reference */

  struct hfx_client *client;    /* the thread's once it runs */
  GThread *thread;
  int wake[2];                  /* pipe: [0] polled by the thread */
  gint stop;                    /* atomic */
  gint want_keyframe;           /* atomic */

  GMutex lock;                  /* what other threads read */
  guint64 pictures;
  gchar *encoder;               /* from CONFIGURED; NULL before */
  guint width, height;
  GSource *error_source;        /* a reference; NULL until an error */
  gchar *error_text;
  struct hfx_input inputs[INPUT_QUEUE]; /* a ring: head, count */
  guint input_head, input_count;
  guint64 inputs_dropped;
};

static void
wake_thread (BridgeScanout * sc)
{
  const char b = 1;
  /* A full pipe already wakes the thread: nothing is lost. */
  if (write (sc->wake[1], &b, 1) < 0 && errno != EAGAIN)
    g_warning ("scanout: cannot wake the subscriber thread: %s",
        g_strerror (errno));
}

static gboolean
deliver_error (gpointer data)
{
  BridgeScanout *sc = data;
  gchar *text;

  g_mutex_lock (&sc->lock);
  text = g_strdup (sc->error_text);
  g_mutex_unlock (&sc->lock);
  sc->on_error (text, sc->user_data);
  g_free (text);
  return G_SOURCE_REMOVE;
}

/* The thread ends after this: the subscription is over. */
static void
post_error (BridgeScanout * sc, const gchar * format, ...) G_GNUC_PRINTF (2,
    3);

static void
post_error (BridgeScanout * sc, const gchar * format, ...)
{
  va_list ap;

  g_mutex_lock (&sc->lock);
  if (sc->error_source || g_atomic_int_get (&sc->stop)) {
    g_mutex_unlock (&sc->lock);
    return;
  }
  va_start (ap, format);
  sc->error_text = g_strdup_vprintf (format, ap);
  va_end (ap);
  sc->error_source = g_idle_source_new ();
  g_source_set_callback (sc->error_source, deliver_error, sc, NULL);
  g_source_attach (sc->error_source, sc->ctx);
  g_mutex_unlock (&sc->lock);
}

static void
on_configured (BridgeScanout * sc, const struct hfx_configured *c)
{
  g_mutex_lock (&sc->lock);
  g_free (sc->encoder);
  sc->encoder = g_strdup (c->encoder);
  sc->width = c->width;
  sc->height = c->height;
  g_mutex_unlock (&sc->lock);
  g_message ("scanout %u: %ux%u from %s (host encoder %s)", sc->opts.scanout,
      c->width, c->height, sc->address, c->encoder);
}

static void
on_packet (BridgeScanout * sc, const struct hfx_event *ev, gint64 * first_pts)
{
  const struct hfx_packet *p = &ev->u.packet;
  gint64 now = g_get_monotonic_time ();
  guint w, h;

  if (*first_pts < 0)
    *first_pts = p->pts;
  g_mutex_lock (&sc->lock);
  sc->pictures++;
  w = sc->width;
  h = sc->height;
  g_mutex_unlock (&sc->lock);
  /* A picture the host took "later" than now is on another clock. */
  sc->on_au (p->data, p->data_len, ev->keyframe, p->pts - *first_pts,
      sc->same_clock && p->pts <= now ? p->pts : now, w, h, sc->user_data);
}

/* One event; FALSE when the subscription is over (error posted). */
static gboolean
handle_event (BridgeScanout * sc, const struct hfx_event *ev,
    gint64 * first_pts)
{
  switch (ev->type) {
    case HFX_EVENT_CONFIGURED:
      on_configured (sc, &ev->u.configured);
      return TRUE;
    case HFX_EVENT_PACKET:
      on_packet (sc, ev, first_pts);
      return TRUE;
    case HFX_EVENT_DROPPED:
      /* We read too slowly: the host resumes us at a keyframe. */
      g_message ("scanout %u: the host dropped picture %" G_GUINT64_FORMAT
          " for us (we read too slowly); it resumes at a keyframe",
          sc->opts.scanout, (guint64) ev->u.dropped.frame_id);
      return TRUE;
    case HFX_EVENT_ERROR:
      post_error (sc, "the host ended scanout %u: %s (%s)", sc->opts.scanout,
          ev->u.error.text,
          hfx_status_name ((enum hfx_status) ev->u.error.code));
      return FALSE;
    default:
      return TRUE;
  }
}

/* What viewers sent since the last pass, in order; FALSE (error posted)
 * when the host cannot be told. */
static gboolean
send_inputs (BridgeScanout * sc)
{
  for (;;) {
    struct hfx_input in;
    guint64 dropped;
    enum hfx_status st;

    g_mutex_lock (&sc->lock);
    if (!sc->input_count) {
      g_mutex_unlock (&sc->lock);
      return TRUE;
    }
    in = sc->inputs[sc->input_head];
    sc->input_head = (sc->input_head + 1) % INPUT_QUEUE;
    sc->input_count--;
    dropped = sc->inputs_dropped;
    sc->inputs_dropped = 0;
    g_mutex_unlock (&sc->lock);
    if (dropped)
      g_message ("scanout: %" G_GUINT64_FORMAT " input events dropped: "
          "viewers sent more than %u before the host took them", dropped,
          INPUT_QUEUE);
    st = hfx_client_input (sc->client, SUBSCRIBE_STREAM, &in);
    if (st != HFX_OK) {
      post_error (sc, "cannot send input to %s: %s", sc->address,
          hfx_status_name (st));
      return FALSE;
    }
  }
}

static gpointer
run (gpointer data)
{
  BridgeScanout *sc = data;
  gint64 first_pts = -1;
  gint64 last_heard = g_get_monotonic_time ();

  while (!g_atomic_int_get (&sc->stop)) {
    struct pollfd fds[2] = {
      {.fd = hfx_client_fd (sc->client),.events = POLLIN},
      {.fd = sc->wake[0],.events = POLLIN},
    };
    struct hfx_event ev;
    enum hfx_status st;
    gint64 now;
    char buf[64];

    if (g_atomic_int_compare_and_exchange (&sc->want_keyframe, 1, 0) &&
        (st = hfx_client_request_keyframe (sc->client, SUBSCRIBE_STREAM))
        != HFX_OK) {
      post_error (sc, "cannot ask %s for a keyframe: %s", sc->address,
          hfx_status_name (st));
      break;
    }
    if (!send_inputs (sc))
      break;
    /* Everything the client has already read, then wait for more. */
    while ((st = hfx_client_next_event (sc->client, 0, &ev)) == HFX_OK) {
      last_heard = g_get_monotonic_time ();
      if (!handle_event (sc, &ev, &first_pts))
        return NULL;
    }
    if (st != HFX_E_TIMEOUT) {
      post_error (sc, "%s: %s", sc->address, st == HFX_E_CLOSED ?
          "the host closed the connection" : hfx_status_name (st));
      return NULL;
    }
    now = g_get_monotonic_time ();
    if (now - last_heard > (gint64) SILENCE_MS * 1000) {
      post_error (sc, "nothing from %s for %u ms (it promised a picture "
          "every %u ms)", sc->address, SILENCE_MS, KEEPALIVE_MS);
      return NULL;
    }
    if (poll (fds, 2, 1000) < 0 && errno != EINTR) {
      post_error (sc, "poll: %s", g_strerror (errno));
      return NULL;
    }
    if (fds[1].revents & POLLIN)
      while (read (sc->wake[0], buf, sizeof (buf)) > 0);
  }
  return NULL;
}

static void
log_client (void *user, enum hfx_log_level level, const char *msg)
{
  (void) user;
  if (level <= HFX_LOG_WARN)
    g_message ("scanout: %s", msg);
  else
    g_debug ("scanout: %s", msg);
}

BridgeScanout *
bridge_scanout_start (const BridgeScanoutOptions * opts, BridgeAuFunc on_au,
    BridgeCaptureErrorFunc on_error, gpointer user_data, GError ** error)
{
  struct hfx_client_options co = { 0 };
  struct hfx_subscribe sub = { 0 };
  BridgeScanout *sc;
  char text[HFX_MAX_TEXT + 1] = "";
  const char *address = opts->address ? opts->address : "auto";
  enum hfx_status st;

  if (opts->max_fps < 1 || opts->max_fps > HFX_MAX_SCANOUT_FPS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "scanout: %u fps is not 1..%u", opts->max_fps, HFX_MAX_SCANOUT_FPS);
    return NULL;
  }
  co.caps = HFX_CAP_INLINE | HFX_CAP_SCANOUT |
      (opts->input ? HFX_CAP_INPUT : 0);
  co.timeout_ms = HANDSHAKE_TIMEOUT_MS;
  co.log = log_client;
  sc = g_new0 (BridgeScanout, 1);
  sc->wake[0] = sc->wake[1] = -1;
  g_mutex_init (&sc->lock);
  st = hfx_client_connect (address, &co, &sc->client, text, sizeof (text));
  if (st != HFX_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "scanout: cannot reach an hfx host at %s: %s%s%s", address,
        hfx_status_name (st), text[0] ? ": " : "", text);
    goto fail;
  }
  if (!(hfx_client_welcome (sc->client)->caps & HFX_CAP_SCANOUT)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "scanout: the hfx host at %s serves no scanouts (a QEMU "
        "helix-frame-export chardev serves one when it has gpu= or console=; "
        "hfxd serves none)", hfx_client_address (sc->client));
    goto fail;
  }
  if (opts->input && !(hfx_client_welcome (sc->client)->caps & HFX_CAP_INPUT)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "scanout: --input: the hfx host at %s takes no input from this "
        "connection (QEMU's helix-frame-export chardev takes it only on its "
        "listen= socket, never from the guest's own port)",
        hfx_client_address (sc->client));
    goto fail;
  }
  sub.scanout = opts->scanout;
  sub.max_fps = (uint16_t) opts->max_fps;
  sub.keepalive_ms = KEEPALIVE_MS;
  st = hfx_client_subscribe (sc->client, SUBSCRIBE_STREAM, &sub);
  if (st != HFX_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "scanout: SUBSCRIBE to %s: %s", address, hfx_status_name (st));
    goto fail;
  }
  if (!g_unix_open_pipe (sc->wake, FD_CLOEXEC, error) ||
      !g_unix_set_fd_nonblocking (sc->wake[0], TRUE, error) ||
      !g_unix_set_fd_nonblocking (sc->wake[1], TRUE, error))
    goto fail;
  sc->opts = *opts;
  sc->address = g_strdup (hfx_client_address (sc->client));
  sc->opts.address = sc->address;
  sc->same_clock = g_str_has_prefix (sc->address, "unix:");
  sc->on_au = on_au;
  sc->on_error = on_error;
  sc->user_data = user_data;
  sc->ctx = g_main_context_ref_thread_default ();
  sc->thread = g_thread_new ("scanout", run, sc);
  return sc;

fail:
  bridge_scanout_free (sc);
  return NULL;
}

void
bridge_scanout_request_keyframe (BridgeScanout * sc)
{
  g_atomic_int_set (&sc->want_keyframe, 1);
  wake_thread (sc);
}

void
bridge_scanout_input (BridgeScanout * sc, const BridgeViewerMsg * m)
{
  struct hfx_input in = { 0 };

  if (m->type == BRIDGE_VIEWER_KEY) {
    in.kind = HFX_INPUT_KEY;
    in.code = m->code;
    in.down = m->down ? 1 : 0;
  } else {
    in.kind = HFX_INPUT_POINTER;
    in.x = m->x;
    in.y = m->y;
    in.buttons = (uint16_t) m->buttons;
    in.wheel = (int16_t) m->wheel;
  }
  g_mutex_lock (&sc->lock);
  if (sc->input_count < INPUT_QUEUE) {
    sc->inputs[(sc->input_head + sc->input_count) % INPUT_QUEUE] = in;
    sc->input_count++;
  } else {
    sc->inputs_dropped++;
  }
  g_mutex_unlock (&sc->lock);
  wake_thread (sc);
}

guint64
bridge_scanout_pictures (BridgeScanout * sc)
{
  guint64 n;

  g_mutex_lock (&sc->lock);
  n = sc->pictures;
  g_mutex_unlock (&sc->lock);
  return n;
}

gchar *
bridge_scanout_describe (BridgeScanout * sc)
{
  gchar *s;

  g_mutex_lock (&sc->lock);
  s = g_strdup_printf ("scanout %u of %s (host %s)", sc->opts.scanout,
      sc->address, sc->encoder ? sc->encoder : "encoder not yet known");
  g_mutex_unlock (&sc->lock);
  return s;
}

void
bridge_scanout_free (BridgeScanout * sc)
{
  if (!sc)
    return;
  g_atomic_int_set (&sc->stop, 1);
  if (sc->thread) {
    wake_thread (sc);
    g_thread_join (sc->thread);
  }
  hfx_client_free (&sc->client);
  if (sc->error_source) {
    g_source_destroy (sc->error_source);
    g_source_unref (sc->error_source);
  }
  if (sc->ctx)
    g_main_context_unref (sc->ctx);
  for (int i = 0; i < 2; i++)
    if (sc->wake[i] >= 0)
      close (sc->wake[i]);
  g_mutex_clear (&sc->lock);
  g_free (sc->error_text);
  g_free (sc->encoder);
  g_free (sc->address);
  g_free (sc);
}
