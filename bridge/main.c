/* SPDX-License-Identifier: MIT */
/*
 * desktop-bridge: capture the desktop, encode it through vsockenc (or
 * x264enc) and serve it to browsers; or serve a scanout an hfx host
 * encodes; or a VM's display taken from QEMU over D-Bus, encoded the same
 * way (docs/bridge.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/gst.h>

#include "capture.h"
#include "qemu-display.h"
#include "scanout.h"
#include "util/token.h"
#include "server.h"

typedef struct
{
  GMainLoop *loop;
  BridgeServer *server;
  BridgeCapture *capture;
  BridgeScanout *scanout;       /* instead of capture: --source scanout */
  BridgeQemuDisplay *qemu;      /* the capture's pictures: --source qemu-dbus */
  guint picture_w, picture_h;   /* --size: the viewers' pointer is in it */
  int status;
  guint stats_interval_s;
} Bridge;

static void
on_au (const guint8 * au, gsize len, gboolean keyframe, gint64 pts_us,
    gint64 capture_us, guint width, guint height, gpointer user_data)
{
  Bridge *b = user_data;

  bridge_server_push_au (b->server, au, len, keyframe, pts_us, capture_us,
      width, height);
}

static void
on_capture_error (const gchar * message, gpointer user_data)
{
  Bridge *b = user_data;

  g_printerr ("desktop-bridge: capture stopped: %s\n", message);
  b->status = 1;
  g_main_loop_quit (b->loop);
}

static void
on_qemu_picture (const guint8 * data, guint stride, guint width, guint height,
    gint64 damage_us, gpointer user_data)
{
  Bridge *b = user_data;

  /* Latency counts from QEMU's word that the picture changed: the wait for
   * the next --fps slot is the bridge's. */
  if (!bridge_capture_push_bgrx (b->capture, data, stride, width, height,
          damage_us))
    g_printerr ("desktop-bridge: the pipeline refused a %ux%u picture\n",
        width, height);
}

static void
on_qemu_cursor (const guint8 * rgba, guint width, guint height, guint hot_x,
    guint hot_y, gpointer user_data)
{
  Bridge *b = user_data;
  gchar *json = bridge_msg_cursor_json (rgba, width, height, hot_x, hot_y);

  bridge_server_set_cursor (b->server, json);
  g_free (json);
}

static void
on_resize (guint width, guint height, guint viewer, gpointer user_data)
{
  Bridge *b = user_data;

  if (b->qemu)
    bridge_qemu_display_resize (b->qemu, width, height);
}

static void
request_keyframe (gpointer user_data)
{
  Bridge *b = user_data;

  if (b->capture)
    bridge_capture_request_keyframe (b->capture);
  if (b->scanout)
    bridge_scanout_request_keyframe (b->scanout);
}

static void
on_input (const BridgeViewerMsg * m, gpointer user_data)
{
  Bridge *b = user_data;

  if (b->scanout)
    bridge_scanout_input (b->scanout, m);
  if (b->qemu)
    bridge_qemu_display_input (b->qemu, m, b->picture_w, b->picture_h);
}

static gchar *
describe_encoder (gpointer user_data)
{
  Bridge *b = user_data;

  if (b->scanout)
    return bridge_scanout_describe (b->scanout);
  return b->capture ? bridge_capture_encoder_in_use (b->capture) :
      g_strdup ("none");
}

static guint64
frames_captured (gpointer user_data)
{
  Bridge *b = user_data;

  if (b->scanout)
    return bridge_scanout_pictures (b->scanout);
  return b->capture ? bridge_capture_frames_captured (b->capture) : 0;
}

static gboolean
on_signal (gpointer user_data)
{
  Bridge *b = user_data;

  g_printerr ("desktop-bridge: stopping\n");
  g_main_loop_quit (b->loop);
  return G_SOURCE_CONTINUE;
}

/* A line of progress now and then: what a user watching the terminal
 * wants to know. */
static gboolean
print_stats (gpointer user_data)
{
  Bridge *b = user_data;
  gchar *json = bridge_server_stats_json (b->server, FALSE);

  g_print ("desktop-bridge: stats %s\n", json);
  g_free (json);
  return G_SOURCE_CONTINUE;
}

/* How long the capture pipeline may take to stop. pipewiresrc has been seen
 * to stay in its wait for a link after its own 30 s start timeout, and the
 * teardown then never returned: do not hang on the way out. */
#define STOP_GRACE_S 10

static gpointer
exit_if_stop_hangs (gpointer data)
{
  g_usleep (STOP_GRACE_S * G_USEC_PER_SEC);
  g_printerr ("desktop-bridge: the capture pipeline did not stop in %d s; "
      "exiting anyway\n", STOP_GRACE_S);
  _exit (GPOINTER_TO_INT (data));
  return NULL;
}

/* scanout, scanout:ADDRESS, qemu-dbus, qemu-dbus:ADDRESS: *address gets
 * ADDRESS or NULL (scanout: auto; qemu-dbus: the session bus). */
static gboolean
parse_source (const gchar * text, BridgeCaptureOptions * o,
    gboolean * scanout, const gchar ** address, GError ** error)
{
  *scanout = FALSE;
  if (g_str_equal (text, "scanout") || (g_str_has_prefix (text, "scanout:")
          && text[8])) {
    *scanout = TRUE;
    *address = text[7] ? text + 8 : NULL;
  } else if (g_str_equal (text, "qemu-dbus") ||
      (g_str_has_prefix (text, "qemu-dbus:") && text[10])) {
    o->source = BRIDGE_SOURCE_PUSHED;
    *address = text[9] ? text + 10 : NULL;
  } else if (g_str_equal (text, "test"))
    o->source = BRIDGE_SOURCE_TEST;
  else if (g_str_equal (text, "x11"))
    o->source = BRIDGE_SOURCE_X11;
  else if (g_str_equal (text, "pipewire"))
    o->source = BRIDGE_SOURCE_PIPEWIRE;
  else if (g_str_has_prefix (text, "pipewire:")) {
    o->source = BRIDGE_SOURCE_PIPEWIRE;
    o->path = text + strlen ("pipewire:");
  } else if (g_str_has_prefix (text, "file:") && text[5]) {
    o->source = BRIDGE_SOURCE_FILE;
    o->path = text + strlen ("file:");
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--source %s: expected x11, pipewire[:NODE], test, file:PATH, "
        "scanout[:ADDRESS] or qemu-dbus[:ADDRESS]", text);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_encoder (const gchar * text, BridgeCaptureOptions * o, GError ** error)
{
  if (g_str_equal (text, "auto"))
    o->encoder = BRIDGE_ENCODER_AUTO;
  else if (g_str_equal (text, "vsockenc"))
    o->encoder = BRIDGE_ENCODER_VSOCKENC;
  else if (g_str_equal (text, "x264enc"))
    o->encoder = BRIDGE_ENCODER_X264ENC;
  else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--encoder %s: expected auto, vsockenc or x264enc", text);
    return FALSE;
  }
  return TRUE;
}

/* HOST:PORT, [IPV6]:PORT */
static gboolean
parse_listen (const gchar * text, gchar ** host, guint * port, GError ** error)
{
  const gchar *colon = strrchr (text, ':');
  guint64 p;

  if (!colon || colon == text ||
      !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &p, NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--listen %s: expected HOST:PORT, e.g. 127.0.0.1:8080", text);
    return FALSE;
  }
  if (text[0] == '[' && colon[-1] == ']')
    *host = g_strndup (text + 1, colon - text - 2);
  else
    *host = g_strndup (text, colon - text);
  *port = (guint) p;
  return TRUE;
}

static gboolean
parse_size (const gchar * text, guint * w, guint * h, GError ** error)
{
  gchar **parts = g_strsplit (text, "x", 2);
  guint64 a = 0, b = 0;
  gboolean ok = parts[0] && parts[1] &&
      g_ascii_string_to_unsigned (parts[0], 10, 16, 8192, &a, NULL) &&
      g_ascii_string_to_unsigned (parts[1], 10, 16, 8192, &b, NULL) &&
      a % 2 == 0 && b % 2 == 0;

  g_strfreev (parts);
  if (!ok) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--size %s: expected WIDTHxHEIGHT, even numbers 16..8192", text);
    return FALSE;
  }
  *w = (guint) a;
  *h = (guint) b;
  return TRUE;
}

int
main (int argc, char **argv)
{
  gchar *source = NULL, *encoder = NULL, *listen = NULL, *size = NULL;
  gchar *token = NULL, *address = NULL, *host = NULL;
  gint bitrate = 0, fps = 30, key_interval = 2000, key_min = 500;
  gint stats_interval = 10, max_viewers = 16, scanout_number = 0;
  gint console = 0;
  gboolean use_scanout = FALSE, input = FALSE, resize = FALSE;
  const gchar *source_address = NULL;
  GOptionEntry entries[] = {
    {"source", 's', 0, G_OPTION_ARG_STRING, &source,
        "x11, pipewire[:NODE], test, file:PATH, scanout[:ADDRESS]: an hfx "
          "host's scanout, encoded by the host (ADDRESS default auto), or "
          "qemu-dbus[:ADDRESS]: a VM's display from QEMU -display dbus "
          "(ADDRESS qmp:PATH: peer to peer through QEMU's QMP socket; a "
          "D-Bus address; default the session bus) (default test)", "SOURCE"},
    {"scanout", 0, 0, G_OPTION_ARG_INT, &scanout_number,
        "with --source scanout: the host's scanout number (default 0)", "N"},
    {"console", 0, 0, G_OPTION_ARG_INT, &console,
        "with --source qemu-dbus: QEMU's console number (default 0)", "N"},
    {"input", 0, 0, G_OPTION_ARG_NONE, &input,
        "viewers may send keys and pointer, to the host of --source "
          "scanout:ADDRESS (it must take input from the bridge: QEMU's "
          "chardev takes it on listen=) or to QEMU's D-Bus display "
          "(--source qemu-dbus) (default: view only)", NULL},
    {"resize", 0, 0, G_OPTION_ARG_NONE, &resize,
        "with --source qemu-dbus: the machine's display takes the size of "
          "the viewer's window (the viewer connected longest decides) "
          "(default: the machine's own size)", NULL},
    {"encoder", 'e', 0, G_OPTION_ARG_STRING, &encoder,
        "auto (vsockenc, x264enc while no host answers), vsockenc or "
          "x264enc (default auto)", "ENC"},
    {"address", 0, 0, G_OPTION_ARG_STRING, &address,
        "vsockenc's host address (default auto)", "ADDR"},
    {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
          "HTTP + WebSocket address (default 127.0.0.1:8080; port 0: any)",
        "HOST:PORT"},
    {"bitrate", 'b', 0, G_OPTION_ARG_INT, &bitrate,
        "kbit/s (default 4000)", "KBIT"},
    {"fps", 'f', 0, G_OPTION_ARG_INT, &fps, "frames per second (default 30)",
        "N"},
    {"size", 0, 0, G_OPTION_ARG_STRING, &size,
        "scale to WxH (default: the source's size; test: 1280x720)", "WxH"},
    {"token", 't', 0, G_OPTION_ARG_STRING, &token,
        "viewers must give ?token=T (default: none)", "T"},
    {"keyframe-interval", 0, 0, G_OPTION_ARG_INT, &key_interval,
        "a keyframe at least every MS of wall-clock time (default 2000)", "MS"},
    {"keyframe-min-interval", 0, 0, G_OPTION_ARG_INT, &key_min,
        "at most one requested keyframe per MS (default 500)", "MS"},
    {"max-viewers", 0, 0, G_OPTION_ARG_INT, &max_viewers,
        "more viewers get HTTP 503 (default 16)", "N"},
    {"stats-interval", 0, 0, G_OPTION_ARG_INT, &stats_interval,
        "print stats every S seconds, 0: never (default 10)", "S"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  BridgeCaptureOptions copts = {.fps = 30 };
  BridgeServerOptions sopts = { 0 };
  Bridge b = { 0 };

  ctx = g_option_context_new ("- stream a desktop to browsers");
  g_option_context_set_summary (ctx,
      "Captures the screen, encodes it to H.264 through vsockenc (the hfx "
      "host) or x264enc, and serves it\nat http://HOST:PORT/ to browsers "
      "with WebCodecs (docs/bridge.md).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto usage;
  if (argc > 1) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "unexpected argument '%s'", argv[1]);
    goto usage;
  }
  if (!parse_source (source ? source : "test", &copts, &use_scanout,
          &source_address, &error) ||
      !parse_encoder (encoder ? encoder : "auto", &copts, &error) ||
      !parse_listen (listen ? listen : "127.0.0.1:8080", &host, &sopts.port,
          &error) ||
      (size && !parse_size (size, &copts.width, &copts.height, &error)))
    goto usage;
  if (use_scanout && (encoder || address || size || bitrate)) {
    /* The host encodes the scanout once for all its subscribers. */
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--source scanout: the host encodes the scanout at its own size and "
        "bitrate: --encoder, --address, --size and --bitrate do not apply");
    goto usage;
  }
  if (input && !use_scanout && copts.source != BRIDGE_SOURCE_PUSHED) {
    /* Capture sources have no way into the machine they show. */
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--input: only with --source scanout:ADDRESS (the host injects the "
        "viewers' keys and pointer) or qemu-dbus (QEMU does); a capture "
        "source has no way in");
    goto usage;
  }
  if (resize && (copts.source != BRIDGE_SOURCE_PUSHED || size)) {
    /* Only QEMU's display can be asked to change size; --size would scale
     * whatever size it took. */
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--resize: only with --source qemu-dbus, and not with --size");
    goto usage;
  }
  if (!bitrate)
    bitrate = 4000;
  if (scanout_number < 0 || console < 0) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--scanout %d, --console %d: expected 0 or more", scanout_number,
        console);
    goto usage;
  }
  if (bitrate < 16 || bitrate > 200000 || fps < 1 || fps > 240 ||
      key_interval < 100 || key_min < 0 || stats_interval < 0 ||
      max_viewers < 1 || max_viewers > 1024) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--bitrate 16..200000, --fps 1..240, --keyframe-interval >= 100, "
        "--keyframe-min-interval >= 0, --max-viewers 1..1024");
    goto usage;
  }
  if (!size && copts.source == BRIDGE_SOURCE_TEST) {
    copts.width = 1280;
    copts.height = 720;
  }
  copts.bitrate_kbit = (guint) bitrate;
  copts.fps = (guint) fps;
  copts.keyframe_interval_ms = (guint) key_interval;
  copts.address = address;
  b.picture_w = copts.width;
  b.picture_h = copts.height;

  {
    GInetAddress *ia = g_inet_address_new_from_string (host);
    if (ia && !g_inet_address_get_is_loopback (ia) && !(token && token[0]))
      g_printerr ("desktop-bridge: warning: listening on %s without --token: "
          "anyone who can reach it can watch this desktop\n", host);
    g_clear_object (&ia);
  }
  b.loop = g_main_loop_new (NULL, FALSE);
  sopts.host = host;
  sopts.token = token && token[0] ? token : NULL;
  sopts.keyframe_interval_ms = (guint) key_interval;
  sopts.keyframe_min_interval_ms = (guint) MAX (key_min, 1);
  sopts.max_viewers = (guint) max_viewers;
  sopts.request_keyframe = request_keyframe;
  sopts.describe_encoder = describe_encoder;
  sopts.frames_captured = frames_captured;
  sopts.input = input ? on_input : NULL;
  sopts.resize = resize ? on_resize : NULL;
  sopts.user_data = &b;
  b.server = bridge_server_new (&sopts, &error);
  if (!b.server) {
    g_printerr ("desktop-bridge: cannot listen on %s: %s\n",
        listen ? listen : "127.0.0.1:8080", error->message);
    b.status = 1;
    goto out;
  }
  if (use_scanout) {
    BridgeScanoutOptions so = {
      .address = source_address,
      .scanout = (guint) scanout_number,
      .max_fps = (guint) fps,
      .input = input,
    };
    b.scanout = bridge_scanout_start (&so, on_au, on_capture_error, &b, &error);
    if (!b.scanout) {
      g_printerr ("desktop-bridge: %s\n", error->message);
      b.status = 1;
      goto out;
    }
  } else if (!(b.capture = bridge_capture_new (&copts, on_au, on_capture_error,
              &b, &error)) || !bridge_capture_start (b.capture, &error)) {
    g_printerr ("desktop-bridge: %s\n", error->message);
    b.status = 1;
    goto out;
  }
  if (copts.source == BRIDGE_SOURCE_PUSHED) {
    BridgeQemuDisplayOptions qo = {
      .address = source_address,
      .console = (guint) console,
      .fps = (guint) fps,
      .keepalive_ms = 1000,
    };
    b.qemu = bridge_qemu_display_start (&qo, on_qemu_picture,
        on_capture_error, on_qemu_cursor, &b, &error);
    if (!b.qemu) {
      g_printerr ("desktop-bridge: %s\n", error->message);
      b.status = 1;
      goto out;
    }
  }
  g_unix_signal_add (SIGINT, on_signal, &b);
  g_unix_signal_add (SIGTERM, on_signal, &b);
  if (stats_interval)
    g_timeout_add_seconds ((guint) stats_interval, print_stats, &b);
  /* Scripts wait for this line and take the port from it. */
  {
    gchar *how = use_scanout ?
        g_strdup_printf ("scanout %d encoded by the host, at most %d fps",
        scanout_number, fps) : g_strdup_printf ("encoder %s, %d fps, %d kbit/s",
        encoder ? encoder : "auto", fps, bitrate);
    g_print ("desktop-bridge: serving http://%s%s%s:%u/ (source %s, %s)\n",
        strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "",
        bridge_server_port (b.server), source ? source : "test", how);
    g_free (how);
  }
  g_main_loop_run (b.loop);

out:
  bridge_server_stop_intake (b.server);
  bridge_scanout_free (b.scanout);
  b.scanout = NULL;
  if (b.qemu) {
    gchar *what = bridge_qemu_display_describe (b.qemu);

    g_print ("desktop-bridge: %s, %" G_GUINT64_FORMAT " pictures\n", what,
        bridge_qemu_display_pictures (b.qemu));
    g_free (what);
  }
  bridge_qemu_display_free (b.qemu);
  b.qemu = NULL;
  if (b.capture)
    g_thread_unref (g_thread_new ("stop-watchdog", exit_if_stop_hangs,
            GINT_TO_POINTER (b.status ? b.status : 1)));
  bridge_capture_free (b.capture);
  b.capture = NULL;
  bridge_server_free (b.server);
  if (b.loop)
    g_main_loop_unref (b.loop);
  g_clear_error (&error);
  g_free (host);
  g_free (source);
  g_free (encoder);
  g_free (listen);
  g_free (size);
  g_free (address);
  hfx_token_wipe (token);
  g_free (token);
  g_option_context_free (ctx);
  return b.status;

usage:
  g_printerr ("desktop-bridge: %s\n(see desktop-bridge --help)\n",
      error->message);
  g_clear_error (&error);
  g_option_context_free (ctx);
  return 2;
}
