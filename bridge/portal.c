/* SPDX-License-Identifier: MIT */
#include "portal.h"

#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#define PORTAL_BUS "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"
#define SCREENCAST "org.freedesktop.portal.ScreenCast"
#define REQUEST "org.freedesktop.portal.Request"

#define SOURCE_MONITOR 1u
#define CURSOR_EMBEDDED 2u

typedef struct
{
  GMainLoop *loop;
  guint32 response;             /* 0 success, 1 cancelled, 2 other */
  GVariant *results;
  gboolean answered;
} Waiter;

static void
on_response (GDBusConnection * bus, const gchar * sender, const gchar * path,
    const gchar * iface, const gchar * signal, GVariant * params,
    gpointer user_data)
{
  Waiter *w = user_data;

  g_variant_get (params, "(u@a{sv})", &w->response, &w->results);
  w->answered = TRUE;
  g_main_loop_quit (w->loop);
}

static gboolean
on_timeout (gpointer user_data)
{
  g_main_loop_quit (((Waiter *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

/* The portal answers each call with a Request object whose path is known in
 * advance (from our unique name and a token we choose): subscribe first,
 * then call, then wait for its Response. Returns the results (transfer
 * full) or NULL with *error. */
static GVariant *
call_and_wait (GDBusConnection * bus, const gchar * method,
    GVariant * params_no_options, GVariantBuilder * options, guint * counter,
    guint timeout_ms, GError ** error)
{
  GMainContext *ctx = g_main_context_new ();
  Waiter w = { 0 };
  gchar *token = g_strdup_printf ("hfx%u_%u", (guint) getpid (), ++*counter);
  gchar *sender = g_strdup (g_dbus_connection_get_unique_name (bus) + 1);
  gchar *path;
  GVariant *reply, *params;
  GSource *timer;
  guint sub;
  GVariantIter iter;
  GVariant *child;
  GVariantBuilder args;

  g_strdelimit (sender, ".", '_');
  path = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender, token);
  g_main_context_push_thread_default (ctx);
  w.loop = g_main_loop_new (ctx, FALSE);
  /* The match rule goes out before the call on the same connection, so the
   * bus has it before the portal can answer. */
  sub = g_dbus_connection_signal_subscribe (bus, PORTAL_BUS, REQUEST,
      "Response", path, NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_response, &w, NULL);
  g_variant_builder_add (options, "{sv}", "handle_token",
      g_variant_new_string (token));
  g_variant_builder_init (&args, G_VARIANT_TYPE_TUPLE);
  if (params_no_options) {
    g_variant_iter_init (&iter, params_no_options);
    while ((child = g_variant_iter_next_value (&iter))) {
      g_variant_builder_add_value (&args, child);
      g_variant_unref (child);
    }
    g_variant_unref (params_no_options);
  }
  g_variant_builder_add_value (&args, g_variant_builder_end (options));
  params = g_variant_builder_end (&args);
  reply = g_dbus_connection_call_sync (bus, PORTAL_BUS, PORTAL_PATH,
      SCREENCAST, method, params, G_VARIANT_TYPE ("(o)"),
      G_DBUS_CALL_FLAGS_NONE, (gint) timeout_ms, NULL, error);
  if (reply) {
    g_variant_unref (reply);
    timer = g_timeout_source_new (timeout_ms);
    g_source_set_callback (timer, on_timeout, &w, NULL);
    g_source_attach (timer, ctx);
    if (!w.answered)
      g_main_loop_run (w.loop);
    g_source_destroy (timer);
    g_source_unref (timer);
    if (!w.answered)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "ScreenCast.%s: no answer from the portal in %u ms", method,
          timeout_ms);
    else if (w.response != 0)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
          "ScreenCast.%s: %s", method, w.response == 1 ?
          "cancelled by the user" : "refused by the portal");
  }
  g_dbus_connection_signal_unsubscribe (bus, sub);
  g_main_loop_unref (w.loop);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_free (path);
  g_free (sender);
  g_free (token);
  if (error && *error) {
    g_clear_pointer (&w.results, g_variant_unref);
    return NULL;
  }
  return w.results;
}

/* Errors that mean there is no portal, as opposed to one that said no. */
static gboolean
not_there (const GError * err)
{
  return g_error_matches (err, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
      g_error_matches (err, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
      g_error_matches (err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
      g_error_matches (err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
      g_error_matches (err, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
}

gboolean
bridge_portal_screencast (guint timeout_ms, BridgePortalStream * out,
    GError ** error)
{
  GDBusConnection *bus;
  GVariantBuilder opts;
  GVariant *res = NULL, *streams = NULL, *reply = NULL;
  GUnixFDList *fds = NULL;
  GError *err = NULL;
  guint counter = 0;
  gint32 handle = -1;
  gchar *session_token;

  memset (out, 0, sizeof (*out));
  out->fd = -1;
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &err);
  if (!bus) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "no session bus: %s", err->message);
    g_clear_error (&err);
    return FALSE;
  }

  session_token = g_strdup_printf ("hfxsession%u", (guint) getpid ());
  g_variant_builder_init (&opts, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&opts, "{sv}", "session_handle_token",
      g_variant_new_string (session_token));
  g_free (session_token);
  res = call_and_wait (bus, "CreateSession", NULL, &opts, &counter,
      timeout_ms, &err);
  if (!res && not_there (err)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "no ScreenCast portal on the session bus: %s", err->message);
    g_clear_error (&err);
    goto fail;
  }
  if (err)
    g_propagate_error (error, err);
  if (!res || !g_variant_lookup (res, "session_handle", "s", &out->session)) {
    if (res && error && !*error)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
          "ScreenCast.CreateSession: no session_handle in the answer");
    goto fail;
  }
  g_clear_pointer (&res, g_variant_unref);

  g_variant_builder_init (&opts, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&opts, "{sv}", "types",
      g_variant_new_uint32 (SOURCE_MONITOR));
  g_variant_builder_add (&opts, "{sv}", "multiple",
      g_variant_new_boolean (FALSE));
  g_variant_builder_add (&opts, "{sv}", "cursor_mode",
      g_variant_new_uint32 (CURSOR_EMBEDDED));
  res = call_and_wait (bus, "SelectSources",
      g_variant_new ("(o)", out->session), &opts, &counter, timeout_ms, error);
  if (!res)
    goto fail;
  g_clear_pointer (&res, g_variant_unref);

  g_variant_builder_init (&opts, G_VARIANT_TYPE_VARDICT);
  res = call_and_wait (bus, "Start", g_variant_new ("(os)", out->session, ""),
      &opts, &counter, timeout_ms, error);
  if (!res)
    goto fail;
  streams =
      g_variant_lookup_value (res, "streams", G_VARIANT_TYPE ("a(ua{sv})"));
  if (!streams || g_variant_n_children (streams) == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
        "ScreenCast.Start: the portal gave no stream");
    goto fail;
  }
  g_variant_get_child (streams, 0, "(u@a{sv})", &out->node, NULL);

  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, PORTAL_BUS,
      PORTAL_PATH, SCREENCAST, "OpenPipeWireRemote",
      g_variant_new ("(oa{sv})", out->session, NULL), G_VARIANT_TYPE ("(h)"),
      G_DBUS_CALL_FLAGS_NONE, (gint) timeout_ms, NULL, &fds, NULL, error);
  if (!reply)
    goto fail;
  g_variant_get (reply, "(h)", &handle);
  if (!fds || handle < 0 || handle >= g_unix_fd_list_get_length (fds)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "ScreenCast.OpenPipeWireRemote: no descriptor came with the answer");
    goto fail;
  }
  out->fd = g_unix_fd_list_get (fds, handle, error);
  if (out->fd < 0)
    goto fail;
  g_variant_unref (reply);
  g_variant_unref (streams);
  g_variant_unref (res);
  g_object_unref (fds);
  g_object_unref (bus);
  return TRUE;

fail:
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&streams, g_variant_unref);
  g_clear_pointer (&res, g_variant_unref);
  g_clear_object (&fds);
  g_object_unref (bus);
  bridge_portal_stream_clear (out);
  return FALSE;
}

void
bridge_portal_stream_clear (BridgePortalStream * s)
{
  if (s->fd >= 0)
    close (s->fd);
  s->fd = -1;
  g_clear_pointer (&s->session, g_free);
}
