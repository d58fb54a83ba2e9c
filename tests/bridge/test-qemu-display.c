/* SPDX-License-Identifier: MIT */
/*
 * bridge/qemu-display.c and bridge/qmp.c against a fake QEMU in this
 * process: a QMP server on a unix socket (greeting, capabilities, getfd
 * with the descriptor, add_client, an event in between) and, on the
 * descriptor it was given, QEMU's side of the D-Bus display on a thread of
 * its own: Console_0 (RegisterListener, Width), Keyboard and Mouse, which
 * record what they are called with. The fake then calls the bridge's
 * listener as QEMU would, good calls and bad ones.
 *
 * GLib's test harness, not tests/support/check.h: GDBus keeps a worker
 * thread and its descriptors for the life of the process, which check.h's
 * fork-per-case descriptor count would take for a leak.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "qemu-display.h"

#define W 64
#define H 48
#define X8R8G8B8 0x20020888u
#define R5G6B5 0x10020565u

static const gchar fake_xml[] =
    "<node>"
    " <interface name='org.qemu.Display1.Console'>"
    "  <method name='RegisterListener'><arg type='h' direction='in'/></method>"
    "  <method name='SetUIInfo'>"
    "   <arg type='q' direction='in'/><arg type='q' direction='in'/>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "  </method>"
    "  <property name='Width' type='u' access='read'/>"
    " </interface>"
    " <interface name='org.qemu.Display1.Keyboard'>"
    "  <method name='Press'><arg type='u' direction='in'/></method>"
    "  <method name='Release'><arg type='u' direction='in'/></method>"
    " </interface>"
    " <interface name='org.qemu.Display1.Mouse'>"
    "  <method name='Press'><arg type='u' direction='in'/></method>"
    "  <method name='Release'><arg type='u' direction='in'/></method>"
    "  <method name='SetAbsPosition'>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "  </method>"
    "  <method name='RelMotion'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "  </method>"
    "  <property name='IsAbsolute' type='b' access='read'/>"
    " </interface>" "</node>";

typedef struct
{
  gchar *dir, *qmp_path;
  int listen_fd;
  gboolean refuse_add_client;   /* answer add_client with an error */
  gboolean mute;                /* take the connection, never answer on it */
  int muted_fd;
  gboolean absolute;            /* the Mouse's IsAbsolute */
  GThread *thread;
  GMainContext *context;        /* the fake's */
  GMainLoop *loop;
  GDBusNodeInfo *info;
  GDBusConnection *display;     /* QEMU's side of the bridge's connection */
  GMutex lock;
  GCond cond;
  GDBusConnection *listener;    /* QEMU's side of the listener's */
  gchar *interfaces;            /* the listener's Interfaces, as QEMU read them */
  GPtrArray *calls;             /* "Keyboard.Press 30", ... */
  gboolean qmp_done;
} Fake;

/* The bridge's side */
typedef struct
{
  guint pictures;
  guint8 last[W * H * 4 * 4];   /* room for a picture up to 4x the pixels */
  guint width, height;
  gint64 damage_us;
  gchar *error;
  guint cursors;                /* on_cursor calls */
  gboolean cursor_shown;
  guint cursor_w, cursor_h, hot_x, hot_y;
  guint8 cursor_px[4];          /* its first pixel, RGBA */
} Seen;

/* QMP, on the fake's thread */

static gchar *
read_line (int fd, int *passed)
{
  GString *s = g_string_new (NULL);

  for (;;) {
    char c;
    union
    {
      struct cmsghdr align;
      char buf[CMSG_SPACE (sizeof (int))];
    } control;
    struct iovec iov = {.iov_base = &c,.iov_len = 1 };
    struct msghdr msg = {.msg_iov = &iov,.msg_iovlen = 1,
      .msg_control = control.buf,.msg_controllen = sizeof (control.buf)
    };
    ssize_t n = recvmsg (fd, &msg, 0);
    struct cmsghdr *cm;

    if (n <= 0)
      return g_string_free (s, TRUE), NULL;
    for (cm = CMSG_FIRSTHDR (&msg); cm; cm = CMSG_NXTHDR (&msg, cm))
      if (cm->cmsg_type == SCM_RIGHTS && passed)
        memcpy (passed, CMSG_DATA (cm), sizeof (int));
    if (c == '\n')
      return g_string_free (s, FALSE);
    g_string_append_c (s, c);
  }
}

static void
say (int fd, const gchar * text)
{
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
}

static void on_fake_method (GDBusConnection * conn, const gchar * sender,
    const gchar * path, const gchar * iface, const gchar * method,
    GVariant * params, GDBusMethodInvocation * inv, gpointer user_data);

static GVariant *
on_fake_property (GDBusConnection * conn, const gchar * sender,
    const gchar * path, const gchar * iface, const gchar * name,
    GError ** error, gpointer user_data)
{
  Fake *f = user_data;

  if (g_str_equal (name, "Width"))
    return g_variant_new_uint32 (W);
  return g_variant_new_boolean (f->absolute);
}

static const GDBusInterfaceVTable fake_vtable = {
  .method_call = on_fake_method,
  .get_property = on_fake_property,
};

static void
record (Fake * f, gchar * call)
{
  g_mutex_lock (&f->lock);
  g_ptr_array_add (f->calls, call);
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
}

static void
on_fake_method (GDBusConnection * conn, const gchar * sender,
    const gchar * path, const gchar * iface, const gchar * method,
    GVariant * params, GDBusMethodInvocation * inv, gpointer user_data)
{
  Fake *f = user_data;
  GError *error = NULL;

  if (g_str_equal (method, "RegisterListener")) {
    GUnixFDList *fds =
        g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message
        (inv));
    gint32 h;
    int fd;
    GSocket *sock;
    GSocketConnection *sc;
    gchar *guid = g_dbus_generate_guid ();
    GDBusConnection *l;

    g_variant_get (params, "(h)", &h);
    fd = g_unix_fd_list_get (fds, h, &error);
    g_assert_no_error (error);
    /* As QEMU: answer first, then the listener's handshake. */
    g_dbus_method_invocation_return_value (inv, NULL);
    sock = g_socket_new_from_fd (fd, &error);
    g_assert_no_error (error);
    sc = g_socket_connection_factory_create_connection (sock);
    l = g_dbus_connection_new_sync (G_IO_STREAM (sc), guid,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER, NULL, NULL, &error);
    g_assert_no_error (error);
    g_object_unref (sc);
    g_object_unref (sock);
    g_free (guid);
    /* As QEMU: its proxy of the listener reads the properties at once,
     * blocking its main loop (here: this thread) until they come. */
    {
      GVariant *all = g_dbus_connection_call_sync (l, NULL,
          "/org/qemu/Display1/Listener", "org.freedesktop.DBus.Properties",
          "GetAll", g_variant_new ("(s)", "org.qemu.Display1.Listener"),
          NULL, G_DBUS_CALL_FLAGS_NONE, 25000, NULL, &error);
      GVariant *dict, *v;
      const gchar **strv;

      g_assert_no_error (error);
      dict = g_variant_get_child_value (all, 0);
      v = g_variant_lookup_value (dict, "Interfaces",
          G_VARIANT_TYPE_STRING_ARRAY);
      g_assert_nonnull (v);
      strv = g_variant_get_strv (v, NULL);
      f->interfaces = g_strjoinv (" ", (gchar **) strv);
      g_free (strv);
      g_variant_unref (v);
      g_variant_unref (dict);
      g_variant_unref (all);
    }
    g_mutex_lock (&f->lock);
    f->listener = l;
    g_cond_broadcast (&f->cond);
    g_mutex_unlock (&f->lock);
    return;
  }
  {
    gchar *args = g_variant_print (params, FALSE);

    record (f, g_strdup_printf ("%s.%s %s", strrchr (iface, '.') + 1, method,
            args));
    g_free (args);
  }
  g_dbus_method_invocation_return_value (inv, NULL);
}

static gpointer
fake_thread (gpointer user_data)
{
  Fake *f = user_data;
  int conn, passed = -1;
  gchar *line, *guid;
  GError *error = NULL;
  GSocket *sock;
  GSocketConnection *sc;

  g_main_context_push_thread_default (f->context);
  conn = accept (f->listen_fd, NULL, NULL);
  g_assert_cmpint (conn, >=, 0);
  say (conn, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
  while ((line = read_line (conn, &passed))) {
    if (strstr (line, "qmp_capabilities")) {
      /* An event first: the client must wait on for its answer. */
      say (conn, "{\"event\": \"RESUME\", \"timestamp\": {}}\r\n");
      say (conn, "{\"return\": {}}\r\n");
    } else if (strstr (line, "getfd")) {
      g_assert_cmpint (passed, >=, 0);
      say (conn, "{\"return\": {}}\r\n");
    } else if (strstr (line, "add_client")) {
      g_assert_true (strstr (line, "@dbus-display") != NULL);
      if (f->refuse_add_client) {
        say (conn, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
            "\"p2p connections not accepted in bus mode\"}}\r\n");
        close (passed);
        passed = -1;
      } else {
        say (conn, "{\"return\": {}}\r\n");
      }
      g_free (line);
      break;
    }
    g_free (line);
  }
  close (conn);
  g_mutex_lock (&f->lock);
  f->qmp_done = TRUE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
  if (passed < 0 || f->mute) {
    f->muted_fd = passed;
    g_main_context_pop_thread_default (f->context);
    return NULL;
  }
  guid = g_dbus_generate_guid ();
  sock = g_socket_new_from_fd (passed, &error);
  g_assert_no_error (error);
  sc = g_socket_connection_factory_create_connection (sock);
  f->display = g_dbus_connection_new_sync (G_IO_STREAM (sc), guid,
      G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
      G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING, NULL, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (sc);
  g_object_unref (sock);
  g_free (guid);
  for (guint i = 0; i < 3; i++) {
    g_dbus_connection_register_object (f->display,
        "/org/qemu/Display1/Console_0", f->info->interfaces[i], &fake_vtable,
        f, NULL, &error);
    g_assert_no_error (error);
  }
  g_dbus_connection_start_message_processing (f->display);
  g_main_loop_run (f->loop);
  g_main_context_pop_thread_default (f->context);
  return NULL;
}

static Fake *
fake_start_full (gboolean refuse_add_client, gboolean mute)
{
  Fake *f = g_new0 (Fake, 1);
  struct sockaddr_un addr = {.sun_family = AF_UNIX };
  GError *error = NULL;

  f->dir = g_dir_make_tmp ("hfx-qemu-display-XXXXXX", &error);
  g_assert_no_error (error);
  f->qmp_path = g_build_filename (f->dir, "qmp.sock", NULL);
  g_strlcpy (addr.sun_path, f->qmp_path, sizeof (addr.sun_path));
  f->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (bind (f->listen_fd, (struct sockaddr *) &addr,
          sizeof (addr)), ==, 0);
  g_assert_cmpint (listen (f->listen_fd, 1), ==, 0);
  f->refuse_add_client = refuse_add_client;
  f->mute = mute;
  f->muted_fd = -1;
  f->absolute = TRUE;
  f->context = g_main_context_new ();
  f->loop = g_main_loop_new (f->context, FALSE);
  f->info = g_dbus_node_info_new_for_xml (fake_xml, &error);
  g_assert_no_error (error);
  f->calls = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
  f->thread = g_thread_new ("fake-qemu", fake_thread, f);
  return f;
}

static Fake *
fake_start (gboolean refuse_add_client)
{
  return fake_start_full (refuse_add_client, FALSE);
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
fake_stop (Fake * f)
{
  GSource *s = g_idle_source_new ();

  g_source_set_callback (s, quit_loop, f->loop, NULL);
  g_source_attach (s, f->context);
  g_source_unref (s);
  g_thread_join (f->thread);
  if (f->listener) {
    g_dbus_connection_close_sync (f->listener, NULL, NULL);
    g_object_unref (f->listener);
  }
  if (f->display) {
    g_dbus_connection_close_sync (f->display, NULL, NULL);
    g_object_unref (f->display);
  }
  if (f->muted_fd >= 0)
    close (f->muted_fd);
  close (f->listen_fd);
  unlink (f->qmp_path);
  rmdir (f->dir);
  g_free (f->qmp_path);
  g_free (f->dir);
  g_ptr_array_unref (f->calls);
  g_free (f->interfaces);
  g_dbus_node_info_unref (f->info);
  g_main_loop_unref (f->loop);
  g_main_context_unref (f->context);
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
  g_free (f);
}

/* The bridge's callbacks, on this thread's default context */

static void
on_picture (const guint8 * data, guint stride, guint width, guint height,
    gint64 damage_us, gpointer user_data)
{
  Seen *s = user_data;

  g_assert_cmpuint ((gsize) width * height * 4, <=, sizeof (s->last));
  for (guint y = 0; y < height; y++)
    memcpy (s->last + (gsize) y * width * 4, data + (gsize) y * stride,
        (gsize) width * 4);
  s->width = width;
  s->height = height;
  s->damage_us = damage_us;
  s->pictures++;
}

static void
on_cursor (const guint8 * rgba, guint width, guint height, guint hot_x,
    guint hot_y, gpointer user_data)
{
  Seen *s = user_data;

  s->cursors++;
  s->cursor_shown = rgba != NULL;
  if (!rgba)
    return;
  s->cursor_w = width;
  s->cursor_h = height;
  s->hot_x = hot_x;
  s->hot_y = hot_y;
  memcpy (s->cursor_px, rgba, 4);
}

static void
on_error (const gchar * message, gpointer user_data)
{
  Seen *s = user_data;

  g_free (s->error);
  s->error = g_strdup (message);
}

/* Run this thread's default context for ms. */
static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000LL;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE), g_usleep (1000);
}

typedef struct
{
  gboolean done;
  GError *error;
} Reply;

static void
on_reply (GObject * source, GAsyncResult * res, gpointer user_data)
{
  Reply *r = user_data;
  GVariant *v = g_dbus_connection_call_with_unix_fd_list_finish
      (G_DBUS_CONNECTION (source), NULL, res, &r->error);

  if (v)
    g_variant_unref (v);
  r->done = TRUE;
}

/* The fake calls the bridge's listener, as QEMU does; the bridge answers on
 * this thread, so the wait runs this thread's context. TRUE when it
 * answered without an error; *message gets the error's text. */
static gboolean
qemu_calls (Fake * f, const gchar * iface, const gchar * method,
    GVariant * params, int fd, gchar ** message)
{
  Reply r = { 0 };
  GUnixFDList *fds = NULL;

  if (fd >= 0)
    fds = g_unix_fd_list_new_from_array (&fd, 1);
  g_dbus_connection_call_with_unix_fd_list (f->listener, NULL,
      "/org/qemu/Display1/Listener", iface, method, params, NULL,
      G_DBUS_CALL_FLAGS_NONE, 5000, fds, NULL, on_reply, &r);
  if (fds)
    g_object_unref (fds);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  if (message)
    *message = r.error ? g_strdup (r.error->message) : NULL;
  g_clear_error (&r.error);
  return !message || !*message;
}

static gboolean
listener_calls (Fake * f, const gchar * method, GVariant * params,
    gchar ** message)
{
  return qemu_calls (f, "org.qemu.Display1.Listener", method, params, -1,
      message);
}

static GVariant *
bytes_of (const guint8 * data, gsize len)
{
  return g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data, len, 1);
}

static BridgeQemuDisplay *
start (Fake * f, Seen * seen, guint fps, guint keepalive_ms)
{
  gchar *address = g_strconcat ("qmp:", f->qmp_path, NULL);
  BridgeQemuDisplayOptions o = {
    .address = address,.console = 0,.fps = fps,.keepalive_ms = keepalive_ms
  };
  GError *error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  BridgeQemuDisplay *d = bridge_qemu_display_start (&o, on_picture, on_error,
      on_cursor, seen, &error);

  g_assert_no_error (error);
  g_assert_nonnull (d);
  /* The fake, as QEMU, blocks on the listener's properties once it has
   * it: a start that made a blocking call back meanwhile would take that
   * call's 25 s timeout. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 3 * G_USEC_PER_SEC);
  /* Until the fake has read the listener's properties, which this thread
   * answers. */
  for (;;) {
    gboolean have;

    g_mutex_lock (&f->lock);
    have = f->listener != NULL;
    g_mutex_unlock (&f->lock);
    if (have)
      break;
    g_main_context_iteration (NULL, FALSE);
    g_usleep (1000);
  }
  /* Shared memory offered. */
  g_assert_cmpstr (f->interfaces, ==, "org.qemu.Display1.Listener.Unix.Map");
  g_free (address);
  return d;
}

/* A W x H picture whose pixel (x, y) is (x, y, seed, 0xff) as B, G, R, x */
static guint8 *
picture (guint stride, guint8 seed)
{
  guint8 *p = g_malloc0 ((gsize) stride * H);

  for (guint y = 0; y < H; y++)
    for (guint x = 0; x < W; x++) {
      guint8 *px = p + (gsize) y * stride + x * 4;
      px[0] = (guint8) x;
      px[1] = (guint8) y;
      px[2] = seed;
      px[3] = 0xff;
    }
  return p;
}

static void
check_pixel (Seen * s, guint x, guint y, guint8 b, guint8 g, guint8 r)
{
  const guint8 *px = s->last + ((gsize) y * s->width + x) * 4;

  g_assert_cmpuint (px[0], ==, b);
  g_assert_cmpuint (px[1], ==, g);
  g_assert_cmpuint (px[2], ==, r);
}

/* The copy path: Scanout with a padded stride, Update of a rectangle; the
 * rate limit; keep-alives; description. */
static void
test_copies (void)
{
  Fake *f = fake_start (FALSE);
  Seen s = { 0 };
  /* 4 pictures a second: two calls fit well inside one period. */
  BridgeQemuDisplay *d = start (f, &s, 4, 600);
  guint stride = W * 4 + 32;
  guint8 *p = picture (stride, 7), rect[8 * 4 * 4];
  gchar *msg, *what;
  guint before;

  g_assert_true (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, stride, X8R8G8B8, bytes_of (p, (gsize) stride * H)), NULL));
  spin (50);
  g_assert_cmpuint (s.pictures, ==, 1);
  g_assert_cmpuint (s.width, ==, W);
  g_assert_cmpuint (s.height, ==, H);
  check_pixel (&s, 0, 0, 0, 0, 7);
  check_pixel (&s, W - 1, H - 1, W - 1, H - 1, 7);
  what = bridge_qemu_display_describe (d);
  g_assert_nonnull (strstr (what, "copies (Scanout/Update)"));
  g_free (what);

  /* Two updates within 1/fps of the picture: one picture, the newest, when
   * the period is over. */
  before = s.pictures;
  memset (rect, 0x11, sizeof (rect));
  g_assert_true (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              10, 20, 8, 4, 8 * 4, X8R8G8B8, bytes_of (rect, sizeof (rect))),
          NULL));
  memset (rect, 0x22, sizeof (rect));
  g_assert_true (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              10, 20, 8, 4, 8 * 4, X8R8G8B8, bytes_of (rect, sizeof (rect))),
          NULL));
  spin (400);
  g_assert_cmpuint (s.pictures, ==, before + 1);
  check_pixel (&s, 10, 20, 0x22, 0x22, 0x22);
  check_pixel (&s, 17, 23, 0x22, 0x22, 0x22);
  check_pixel (&s, 18, 23, 18, 23, 7);
  check_pixel (&s, 9, 20, 9, 20, 7);

  /* Nothing changes: the same picture again every 600 ms. */
  before = s.pictures;
  spin (1500);
  g_assert_cmpuint (s.pictures, >=, before + 2);
  g_assert_cmpuint (s.pictures, <=, before + 3);

  /* Bad calls are refused, the picture stays. */
  /* The last row needs no padding; one byte less than the rest is short. */
  g_assert_false (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, stride, X8R8G8B8, bytes_of (p,
                  (gsize) stride * (H - 1) + W * 4 - 1)), &msg));
  g_assert_nonnull (strstr (msg, "bytes of data"));
  g_free (msg);
  g_assert_false (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, stride, R5G6B5, bytes_of (p, (gsize) stride * H)), &msg));
  g_assert_nonnull (strstr (msg, "pixman format 0x10020565"));
  g_free (msg);
  g_assert_false (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, W * 4 - 4, X8R8G8B8, bytes_of (p, (gsize) stride * H)),
          &msg));
  g_assert_nonnull (strstr (msg, "out of range"));
  g_free (msg);
  g_assert_false (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              60, 20, 8, 4, 8 * 4, X8R8G8B8, bytes_of (rect, sizeof (rect))),
          &msg));
  g_assert_nonnull (strstr (msg, "outside the 64x48 picture"));
  g_free (msg);
  g_assert_false (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              -1, 0, 8, 4, 8 * 4, X8R8G8B8, bytes_of (rect, sizeof (rect))),
          &msg));
  g_free (msg);
  g_assert_false (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              0, 0, 8, 4, 8 * 4, X8R8G8B8, bytes_of (rect, 8 * 4 * 3)), &msg));
  g_free (msg);
  g_assert_false (listener_calls (f, "UpdateMap", NULL, &msg));
  g_free (msg);
  g_assert_false (qemu_calls (f, "org.qemu.Display1.Listener.Unix.Map",
          "UpdateMap", g_variant_new ("(iiii)", 0, 0, 8, 8), -1, &msg));
  g_assert_nonnull (strstr (msg, "without ScanoutMap"));
  g_free (msg);
  spin (50);
  check_pixel (&s, 0, 0, 0, 0, 7);
  g_assert_cmpuint (s.width, ==, W);

  /* A new size: the next picture has it. */
  {
    guint8 *big = g_malloc0 ((gsize) W * 2 * H * 2 * 4);

    g_assert_true (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
                W * 2, H * 2, W * 8, X8R8G8B8, bytes_of (big,
                    (gsize) W * 2 * H * 2 * 4)), NULL));
    spin (400);
    g_assert_cmpuint (s.width, ==, W * 2);
    g_assert_cmpuint (s.height, ==, H * 2);
    g_free (big);
  }
  g_assert_null (s.error);
  bridge_qemu_display_free (d);
  fake_stop (f);
  g_free (p);
}

/* The map path: ScanoutMap of a memfd at an offset that is not page
 * aligned; UpdateMap shows what is in the memory now; memory smaller than
 * the picture is refused. */
static void
test_shared_memory (void)
{
  Fake *f = fake_start (FALSE);
  Seen s = { 0 };
  BridgeQemuDisplay *d = start (f, &s, 30, 1000);
  guint stride = W * 4, offset = 100;
  gsize size = offset + (gsize) stride * H;
  int fd = memfd_create ("surface", MFD_CLOEXEC);
  guint8 *p = picture (stride, 9), *map;
  gchar *msg, *what;

  g_assert_cmpint (ftruncate (fd, size), ==, 0);
  map = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (map != MAP_FAILED);
  memcpy (map + offset, p, (gsize) stride * H);

  /* Too little memory for the picture. */
  g_assert_false (qemu_calls (f, "org.qemu.Display1.Listener.Unix.Map",
          "ScanoutMap", g_variant_new ("(huuuuu)", 0, offset + 1, W, H, stride,
              X8R8G8B8), dup (fd), &msg));
  g_assert_nonnull (strstr (msg, "needed"));
  g_free (msg);

  g_assert_true (qemu_calls (f, "org.qemu.Display1.Listener.Unix.Map",
          "ScanoutMap", g_variant_new ("(huuuuu)", 0, offset, W, H, stride,
              X8R8G8B8), dup (fd), NULL));
  spin (50);
  g_assert_cmpuint (s.pictures, ==, 1);
  check_pixel (&s, 5, 6, 5, 6, 9);
  what = bridge_qemu_display_describe (d);
  g_assert_nonnull (strstr (what, "shared memory (ScanoutMap)"));
  g_free (what);

  /* QEMU draws into the memory and says where. */
  memset (map + offset + 6 * stride + 5 * 4, 0x33, 4);
  g_assert_true (qemu_calls (f, "org.qemu.Display1.Listener.Unix.Map",
          "UpdateMap", g_variant_new ("(iiii)", 5, 6, 1, 1), -1, NULL));
  spin (100);
  g_assert_cmpuint (s.pictures, ==, 2);
  check_pixel (&s, 5, 6, 0x33, 0x33, 0x33);
  /* A copy's Update on a mapped picture is refused. */
  g_assert_false (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
              0, 0, 1, 1, 4, X8R8G8B8, bytes_of (p, 4)), &msg));
  g_free (msg);
  /* Disable: no picture, no keep-alive. */
  g_assert_true (listener_calls (f, "Disable", NULL, NULL));
  spin (1200);
  g_assert_cmpuint (s.pictures, ==, 2);

  g_assert_null (s.error);
  bridge_qemu_display_free (d);
  fake_stop (f);
  munmap (map, size);
  close (fd);
  g_free (p);
}

/* Wait for n calls recorded by the fake; their list. */
static GPtrArray *
wait_calls (Fake * f, guint n)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < end) {
    guint have;

    g_main_context_iteration (NULL, FALSE);
    g_mutex_lock (&f->lock);
    have = f->calls->len;
    g_mutex_unlock (&f->lock);
    if (have >= n)
      break;
    g_usleep (1000);
  }
  return f->calls;
}

static void
check_calls (Fake * f, const gchar * const *want)
{
  guint n = g_strv_length ((gchar **) want);
  GPtrArray *calls = wait_calls (f, n);

  spin (100);                   /* and nothing more comes */
  g_mutex_lock (&f->lock);
  for (guint i = 0; i < calls->len; i++)
    g_test_message ("call %u: %s", i, (gchar *) calls->pdata[i]);
  g_assert_cmpuint (calls->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (calls->pdata[i], ==, want[i]);
  g_ptr_array_set_size (calls, 0);
  g_mutex_unlock (&f->lock);
}

/* Keys as QEMU's numbers; the pointer scaled to the console, its buttons
 * and wheel; relative motion where the guest has no absolute device. */
static void
test_input (void)
{
  Fake *f = fake_start (FALSE);
  Seen s = { 0 };
  BridgeQemuDisplay *d = start (f, &s, 30, 1000);
  guint8 *p = picture (W * 4, 1);
  BridgeViewerMsg m = { 0 };

  g_assert_true (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, W * 4, X8R8G8B8, bytes_of (p, (gsize) W * 4 * H)), NULL));
  m.type = BRIDGE_VIEWER_KEY;
  m.code = 30;                  /* KEY_A */
  m.down = TRUE;
  bridge_qemu_display_input (d, &m, 0, 0);
  m.code = 103;                 /* KEY_UP: E0 48 */
  bridge_qemu_display_input (d, &m, 0, 0);
  m.down = FALSE;
  bridge_qemu_display_input (d, &m, 0, 0);
  m.code = 0x2ff;               /* no QEMU number: dropped */
  bridge_qemu_display_input (d, &m, 0, 0);
  {
    const gchar *want[] = { "Keyboard.Press (30,)", "Keyboard.Press (200,)",
      "Keyboard.Release (200,)", NULL
    };
    check_calls (f, want);
  }
  /* The next change QEMU reports after a key: timed from the first key
   * down since the last change. */
  {
    gchar *what = bridge_qemu_display_describe (d);

    g_assert_null (strstr (what, "key to change"));
    g_free (what);
    g_assert_true (listener_calls (f, "Update", g_variant_new ("(iiiiuu@ay)",
                0, 0, 1, 1, 4, X8R8G8B8, bytes_of (p, 4)), NULL));
    what = bridge_qemu_display_describe (d);
    g_assert_nonnull (strstr (what, "key to change p50"));
    g_assert_nonnull (strstr (what, "over 1 keys"));
    g_free (what);
  }

  /* In a 256 x 192 stream (4x the console): scaled down; right button
   * (viewer bit 1) is QEMU's 2; two wheel steps up are button 3. */
  m.type = BRIDGE_VIEWER_POINTER;
  m.x = 100;
  m.y = 60;
  m.buttons = 2;
  m.wheel = -2;
  bridge_qemu_display_input (d, &m, W * 4, H * 4);
  /* Past the picture: the last pixel. */
  m.x = 9999;
  m.y = 9999;
  m.buttons = 0;
  m.wheel = 1;
  bridge_qemu_display_input (d, &m, W * 4, H * 4);
  {
    const gchar *want[] = { "Mouse.SetAbsPosition (25, 15)", "Mouse.Press (2,)",
      "Mouse.Press (3,)", "Mouse.Release (3,)", "Mouse.Press (3,)",
      "Mouse.Release (3,)", "Mouse.SetAbsPosition (63, 47)",
      "Mouse.Release (2,)", "Mouse.Press (4,)", "Mouse.Release (4,)", NULL
    };
    check_calls (f, want);
  }
  bridge_qemu_display_free (d);
  fake_stop (f);

  /* No absolute device: motion relative to the last position. */
  f = fake_start (FALSE);
  f->absolute = FALSE;
  d = start (f, &s, 30, 1000);
  g_assert_true (listener_calls (f, "Scanout", g_variant_new ("(uuuu@ay)",
              W, H, W * 4, X8R8G8B8, bytes_of (p, (gsize) W * 4 * H)), NULL));
  m.type = BRIDGE_VIEWER_POINTER;
  m.wheel = 0;
  m.buttons = 1;
  m.x = 10;
  m.y = 10;
  bridge_qemu_display_input (d, &m, 0, 0);
  m.x = 13;
  m.y = 8;
  bridge_qemu_display_input (d, &m, 0, 0);
  {
    const gchar *want[] = { "Mouse.Press (0,)", "Mouse.RelMotion (3, -2)",
      NULL
    };
    check_calls (f, want);
  }
  bridge_qemu_display_free (d);
  fake_stop (f);
  g_free (p);
}

/* The machine's pointer: shape (ARGB words to RGBA) and whether it shows,
 * told only when that changes; a bad shape refused; a size asked of QEMU
 * through the console's SetUIInfo at 96 dpi. */
static void
test_cursor_and_resize (void)
{
  Fake *f = fake_start (FALSE);
  Seen s = { 0 };
  BridgeQemuDisplay *d = start (f, &s, 30, 1000);
  guint8 shape[8 * 4 * 4] = { 0 };
  gchar *message = NULL, *what;

  /* Pixel 0: opaque red-ish (B 0x10, G 0x20, R 0xf0, A 0xff). */
  shape[0] = 0x10;
  shape[1] = 0x20;
  shape[2] = 0xf0;
  shape[3] = 0xff;
  /* QEMU replays both on registration: hidden, no shape yet. */
  g_assert_true (listener_calls (f, "MouseSet", g_variant_new ("(iii)", 0, 0,
              0), NULL));
  g_assert_cmpuint (s.cursors, ==, 0);
  /* Shown with no shape: the viewer keeps its own pointer. */
  g_assert_true (listener_calls (f, "MouseSet", g_variant_new ("(iii)", 5, 5,
              1), NULL));
  g_assert_cmpuint (s.cursors, ==, 0);
  g_assert_true (listener_calls (f, "CursorDefine",
          g_variant_new ("(iiii@ay)", 8, 4, 7, 3, bytes_of (shape,
                  sizeof (shape))), NULL));
  g_assert_cmpuint (s.cursors, ==, 1);
  g_assert_true (s.cursor_shown);
  g_assert_cmpuint (s.cursor_w, ==, 8);
  g_assert_cmpuint (s.cursor_h, ==, 4);
  g_assert_cmpuint (s.hot_x, ==, 7);
  g_assert_cmpuint (s.hot_y, ==, 3);
  g_assert_cmpuint (s.cursor_px[0], ==, 0xf0);
  g_assert_cmpuint (s.cursor_px[1], ==, 0x20);
  g_assert_cmpuint (s.cursor_px[2], ==, 0x10);
  g_assert_cmpuint (s.cursor_px[3], ==, 0xff);
  /* Moves alone say nothing; hiding does. */
  g_assert_true (listener_calls (f, "MouseSet", g_variant_new ("(iii)", 9, 9,
              1), NULL));
  g_assert_cmpuint (s.cursors, ==, 1);
  g_assert_true (listener_calls (f, "MouseSet", g_variant_new ("(iii)", 9, 9,
              0), NULL));
  g_assert_cmpuint (s.cursors, ==, 2);
  g_assert_false (s.cursor_shown);
  /* Bad shapes: short data, the hot spot outside, too big, empty. */
  g_assert_false (listener_calls (f, "CursorDefine",
          g_variant_new ("(iiii@ay)", 8, 5, 0, 0, bytes_of (shape,
                  sizeof (shape))), &message));
  g_assert_nonnull (strstr (message, "cursor 8x5"));
  g_free (message);
  g_assert_false (listener_calls (f, "CursorDefine",
          g_variant_new ("(iiii@ay)", 8, 4, 8, 0, bytes_of (shape,
                  sizeof (shape))), &message));
  g_free (message);
  g_assert_false (listener_calls (f, "CursorDefine",
          g_variant_new ("(iiii@ay)", 512, 1, 0, 0, bytes_of (shape,
                  sizeof (shape))), &message));
  g_free (message);
  g_assert_false (listener_calls (f, "CursorDefine",
          g_variant_new ("(iiii@ay)", 0, 0, 0, 0, bytes_of (shape, 0)),
          &message));
  g_free (message);
  g_assert_cmpuint (s.cursors, ==, 2);
  /* Shown again: the last good shape. */
  g_assert_true (listener_calls (f, "MouseSet", g_variant_new ("(iii)", 9, 9,
              1), NULL));
  g_assert_cmpuint (s.cursors, ==, 3);
  g_assert_cmpuint (s.cursor_w, ==, 8);

  bridge_qemu_display_resize (d, 1000, 704);
  {
    const gchar *want[] = {
      "Console.SetUIInfo (264, 186, 0, 0, 1000, 704)", NULL
    };
    check_calls (f, want);
  }
  what = bridge_qemu_display_describe (d);
  g_assert_nonnull (strstr (what, "1 sizes asked (0 refused)"));
  g_free (what);
  bridge_qemu_display_free (d);
  fake_stop (f);
}

/* QEMU going away is reported once, from the main context. */
static void
test_qemu_goes_away (void)
{
  Fake *f = fake_start (FALSE);
  Seen s = { 0 };
  BridgeQemuDisplay *d = start (f, &s, 30, 1000);

  g_dbus_connection_close_sync (f->listener, NULL, NULL);
  spin (300);
  g_assert_nonnull (s.error);
  g_assert_nonnull (strstr (s.error, "QEMU closed its display connection"));
  bridge_qemu_display_free (d);
  fake_stop (f);
  g_free (s.error);
}

/* QMP errors come back with QEMU's text; a QEMU that never completes the
 * handshake is given up on; no QMP socket at all is said so. */
static void
test_refused (void)
{
  Fake *f = fake_start (TRUE);
  Seen s = { 0 };
  gchar *address = g_strconcat ("qmp:", f->qmp_path, NULL);
  BridgeQemuDisplayOptions o = {.address = address,.fps = 30 };
  GError *error = NULL;

  g_assert_null (bridge_qemu_display_start (&o, on_picture, on_error, NULL,
          &s, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message,
          "p2p connections not accepted in bus mode"));
  g_clear_error (&error);
  fake_stop (f);

  /* A QEMU that takes the connection and never answers on it. */
  f = fake_start_full (FALSE, TRUE);
  g_free (address);
  address = g_strconcat ("qmp:", f->qmp_path, NULL);
  o.address = address;
  g_assert_null (bridge_qemu_display_start (&o, on_picture, on_error, NULL,
          &s, &error));
  g_assert_nonnull (strstr (error->message,
          "did not complete the D-Bus handshake"));
  g_clear_error (&error);
  fake_stop (f);

  o.address = "qmp:/nonexistent/qmp.sock";
  g_assert_null (bridge_qemu_display_start (&o, on_picture, on_error, NULL,
          &s, &error));
  g_assert_nonnull (strstr (error->message, "cannot connect to QMP"));
  g_clear_error (&error);
  g_free (address);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/qemu-display/copies", test_copies);
  g_test_add_func ("/qemu-display/shared-memory", test_shared_memory);
  g_test_add_func ("/qemu-display/input", test_input);
  g_test_add_func ("/qemu-display/cursor-and-resize", test_cursor_and_resize);
  g_test_add_func ("/qemu-display/qemu-goes-away", test_qemu_goes_away);
  g_test_add_func ("/qemu-display/refused", test_refused);
  return g_test_run ();
}
