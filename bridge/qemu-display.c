/* SPDX-License-Identifier: MIT */
/*
 * A listener of QEMU's D-Bus display (docs/bridge.md, "QEMU D-Bus display";
 * QEMU's docs/interop/dbus-display.rst and ui/dbus-display1.xml).
 *
 * The display connection reaches org.qemu.Display1.Console_N, either
 * peer to peer (QEMU -display dbus,p2p=yes: the bridge gives QEMU one end of
 * a socketpair over QMP) or on a bus (name org.qemu). RegisterListener then
 * takes one end of a second socketpair, on which QEMU is the
 * authentication server and calls the listener object the bridge serves at
 * /org/qemu/Display1/Listener. QEMU reads the listener's Interfaces
 * property at once: listing org.qemu.Display1.Listener.Unix.Map there lets a
 * QEMU of 9.2 or later share the console's surface as memory (ScanoutMap,
 * then UpdateMap with only the damage); an older one, or a surface with no
 * share handle, sends the pixels (Scanout, then Update with the damaged
 * rectangle's).
 *
 * Everything runs on the main context of the caller: QEMU's calls are
 * answered at once (it waits for ScanoutMap's answer, 1 s at most, with its
 * main loop stopped), and the picture is handed on from timers.
 */
#include "qemu-display.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "qmp.h"
#include "util/percentile.h"

#define STEP_TIMEOUT_MS 5000
/* Key-to-change times kept (the last ones). */
#define KEY_TIMES 512
#define MAX_SIDE 16384
/* What browsers take as a cursor image (Chromium: 128 a side); QEMU's
 * cursors are 64x64. */
#define MAX_CURSOR 256
/* pixman's x8r8g8b8 and a8r8g8b8: BGRx / BGRA in memory (little-endian) */
#define PIXMAN_X8R8G8B8 0x20020888u
#define PIXMAN_A8R8G8B8 0x20028888u
#define LISTENER_PATH "/org/qemu/Display1/Listener"
#define LISTENER_IFACE "org.qemu.Display1.Listener"
#define MAP_IFACE "org.qemu.Display1.Listener.Unix.Map"

static const gchar listener_xml[] =
    "<node>"
    " <interface name='" LISTENER_IFACE "'>"
    "  <method name='Scanout'>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "   <arg type='ay' direction='in'/>"
    "  </method>"
    "  <method name='Update'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "   <arg type='ay' direction='in'/>"
    "  </method>"
    "  <method name='Disable'/>"
    "  <method name='MouseSet'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='i' direction='in'/>"
    "  </method>"
    "  <method name='CursorDefine'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='ay' direction='in'/>"
    "  </method>"
    "  <property name='Interfaces' type='as' access='read'/>"
    " </interface>"
    " <interface name='" MAP_IFACE "'>"
    "  <method name='ScanoutMap'>"
    "   <arg type='h' direction='in'/><arg type='u' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "   <arg type='u' direction='in'/><arg type='u' direction='in'/>"
    "  </method>"
    "  <method name='UpdateMap'>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "   <arg type='i' direction='in'/><arg type='i' direction='in'/>"
    "  </method>"
    " </interface>" "</node>";

struct _BridgeQemuDisplay
{
  gchar *address;
  guint console;
  gint64 period_us;             /* 1 / fps */
  guint keepalive_ms;
  BridgeQemuPictureFunc on_picture;
  BridgeQemuErrorFunc on_error;
  BridgeQemuCursorFunc on_cursor;
  gpointer user_data;
  GMainContext *context;        /* the caller's: callbacks and timers */

  GDBusConnection *conn;        /* to QEMU's Display1 objects */
  GDBusConnection *listener;    /* QEMU's calls to the listener */
  GDBusNodeInfo *info;
  guint reg[2];                 /* the listener's two interfaces */
  gulong closed[2];             /* "closed" of conn, listener */
  GSource *deliver;             /* next picture, or keep-alive */
  GSource *report;              /* on_error, once */

  /* The picture: copied (Scanout/Update) or mapped (ScanoutMap) */
  guint8 *copy;                 /* width * 4 per row */
  guint8 *map;                  /* the mapping, from offset 0 */
  gsize map_len;
  const guint8 *pixels;         /* copy, or map + offset; NULL: none */
  guint width, height, stride;
  gboolean mapped;
  guint said_width, said_height;        /* what say_path said last */
  gboolean said_mapped;

  gboolean damaged;
  gint64 damage_us;
  gint64 sent_us;               /* when the last picture went; 0: never */
  guint64 pictures;
  gint64 longest_reply_us;
  gchar *error;                 /* the first failure; reported once */

  /* Input */
  const gchar *bus_name;        /* NULL peer to peer, else "org.qemu" */
  gchar *console_path;
  GDBusProxy *mouse;            /* for IsAbsolute, kept current by GDBus */
  GCancellable *cancel;         /* calls still out when freed */
  guint buttons;                /* the viewer's, as last sent */
  gint pointer_x, pointer_y;    /* console pixels; -1: none yet */
  guint64 keys_unmapped, input_failed;
  /* From a key pressed (sent to QEMU) to the next change QEMU reports: the
   * key's way in, the guest's repaint and QEMU's update (docs/bridge.md). */
  gint64 key_sent_us;           /* 0: no key since the last change */
  gdouble key_ms[KEY_TIMES];
  guint64 key_times;

  /* The machine's pointer: RGBA, from CursorDefine; shown by MouseSet */
  guint8 *cursor;
  guint cursor_w, cursor_h, hot_x, hot_y;
  gboolean cursor_shown;

  guint64 resizes, resizes_refused;
};

/* Timers */

static gboolean deliver_now (gpointer user_data);

static void
clear_source (GSource ** s)
{
  if (!*s)
    return;
  g_source_destroy (*s);
  g_source_unref (*s);
  *s = NULL;
}

/* (Re)arm the delivery timer to fire in delay_us. */
static void
arm (BridgeQemuDisplay * d, gint64 delay_us)
{
  clear_source (&d->deliver);
  d->deliver = g_timeout_source_new (MAX (delay_us, 0) / 1000);
  g_source_set_callback (d->deliver, deliver_now, d, NULL);
  g_source_attach (d->deliver, d->context);
}

/* The picture changed: hand it on now, or as soon as the rate allows. */
static void
damage (BridgeQemuDisplay * d)
{
  gint64 now = g_get_monotonic_time ();
  gint64 due = d->sent_us ? d->sent_us + d->period_us : now;

  d->damage_us = now;
  if (d->key_sent_us) {
    d->key_ms[d->key_times++ % KEY_TIMES] = (now - d->key_sent_us) / 1000.0;
    d->key_sent_us = 0;
  }
  if (d->damaged)
    return;                     /* already armed for it */
  d->damaged = TRUE;
  arm (d, due - now);
}

static gboolean
deliver_now (gpointer user_data)
{
  BridgeQemuDisplay *d = user_data;

  g_source_unref (d->deliver);
  d->deliver = NULL;
  if (d->pixels) {
    d->on_picture (d->pixels, d->stride, d->width, d->height, d->damage_us,
        d->user_data);
    d->pictures++;
    d->sent_us = g_get_monotonic_time ();
  }
  d->damaged = FALSE;
  arm (d, d->keepalive_ms * 1000LL);
  return G_SOURCE_REMOVE;
}

static gboolean
report_error (gpointer user_data)
{
  BridgeQemuDisplay *d = user_data;

  g_source_unref (d->report);
  d->report = NULL;
  d->on_error (d->error, d->user_data);
  return G_SOURCE_REMOVE;
}

/* The first failure goes to on_error, from the main context. */
static void
fail (BridgeQemuDisplay * d, const gchar * message)
{
  if (d->error)
    return;
  d->error = g_strdup (message);
  d->report = g_idle_source_new ();
  g_source_set_callback (d->report, report_error, d, NULL);
  g_source_attach (d->report, d->context);
}

/* The picture */

static void
drop_picture (BridgeQemuDisplay * d)
{
  if (d->map)
    munmap (d->map, d->map_len);
  d->map = NULL;
  d->map_len = 0;
  g_clear_pointer (&d->copy, g_free);
  d->pixels = NULL;
  d->width = d->height = d->stride = 0;
  d->mapped = FALSE;
}

static gboolean
check_format (guint32 format, GError ** error)
{
  if (format == PIXMAN_X8R8G8B8 || format == PIXMAN_A8R8G8B8)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "pixman format 0x%08x: the bridge takes 32-bit xRGB only", format);
  return FALSE;
}

/* width x height rows of stride bytes, the last one only width * 4 long:
 * the bytes a picture needs. FALSE for sizes out of range. */
static gboolean
picture_bytes (guint width, guint height, guint stride, gsize * bytes,
    GError ** error)
{
  if (width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE ||
      stride < width * 4) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "picture %ux%u, stride %u: out of range", width, height, stride);
    return FALSE;
  }
  *bytes = (gsize) stride * (height - 1) + (gsize) width * 4;
  return TRUE;
}

/* A new size or path is said once (QEMU 7.2 sends a Scanout for every
 * flush of virtio-gpu). */
static void
say_path (BridgeQemuDisplay * d)
{
  if (d->width == d->said_width && d->height == d->said_height &&
      d->mapped == d->said_mapped)
    return;
  d->said_width = d->width;
  d->said_height = d->height;
  d->said_mapped = d->mapped;
  g_print ("desktop-bridge: QEMU console %u: %ux%u, %s\n", d->console,
      d->width, d->height, d->mapped ? "shared memory (ScanoutMap)" :
      "copies (Scanout/Update)");
}

/* Scanout: a new surface, its pixels in the message. */
static gboolean
on_scanout (BridgeQemuDisplay * d, GVariant * params, GError ** error)
{
  guint32 width, height, stride, format;
  GVariant *data;
  const guint8 *src;
  gsize len, need;
  gboolean ok = FALSE;

  g_variant_get (params, "(uuuu@ay)", &width, &height, &stride, &format, &data);
  src = g_variant_get_fixed_array (data, &len, 1);
  if (!check_format (format, error) ||
      !picture_bytes (width, height, stride, &need, error))
    goto out;
  if (len < need) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Scanout %ux%u, stride %u: %zu bytes of data, %zu needed", width,
        height, stride, len, need);
    goto out;
  }
  drop_picture (d);
  d->copy = g_malloc ((gsize) width * height * 4);
  for (guint y = 0; y < height; y++)
    memcpy (d->copy + (gsize) y * width * 4, src + (gsize) y * stride,
        (gsize) width * 4);
  d->pixels = d->copy;
  d->width = width;
  d->height = height;
  d->stride = width * 4;
  say_path (d);
  damage (d);
  ok = TRUE;
out:
  g_variant_unref (data);
  return ok;
}

/* x, y, width, height inside the picture. */
static gboolean
check_rect (BridgeQemuDisplay * d, const gchar * what, gint32 x, gint32 y,
    gint32 w, gint32 h, GError ** error)
{
  if (!d->pixels || x < 0 || y < 0 || w <= 0 || h <= 0 ||
      (guint) x > d->width || (guint) w > d->width - (guint) x ||
      (guint) y > d->height || (guint) h > d->height - (guint) y) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "%s %d,%d %dx%d outside the %ux%u picture", what, x, y, w, h,
        d->width, d->height);
    return FALSE;
  }
  return TRUE;
}

/* Update: the pixels of a damaged rectangle of a copied picture. */
static gboolean
on_update (BridgeQemuDisplay * d, GVariant * params, GError ** error)
{
  gint32 x, y, w, h;
  guint32 stride, format;
  GVariant *data;
  const guint8 *src;
  gsize len, need;
  gboolean ok = FALSE;

  g_variant_get (params, "(iiiiuu@ay)", &x, &y, &w, &h, &stride, &format,
      &data);
  src = g_variant_get_fixed_array (data, &len, 1);
  if (d->mapped) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Update on a mapped picture (UpdateMap expected)");
    goto out;
  }
  if (!check_format (format, error) ||
      !check_rect (d, "Update", x, y, w, h, error) ||
      !picture_bytes ((guint) w, (guint) h, stride, &need, error))
    goto out;
  if (len < need) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Update %dx%d, stride %u: %zu bytes of data, %zu needed", w, h,
        stride, len, need);
    goto out;
  }
  for (gint32 r = 0; r < h; r++)
    memcpy (d->copy + ((gsize) (y + r) * d->width + (gsize) x) * 4,
        src + (gsize) r * stride, (gsize) w * 4);
  damage (d);
  ok = TRUE;
out:
  g_variant_unref (data);
  return ok;
}

/* ScanoutMap: the surface as memory QEMU shares (a memfd). */
static gboolean
on_scanout_map (BridgeQemuDisplay * d, GVariant * params,
    GDBusMethodInvocation * inv, GError ** error)
{
  GUnixFDList *fds =
      g_dbus_message_get_unix_fd_list (g_dbus_method_invocation_get_message
      (inv));
  gint32 handle;
  guint32 offset, width, height, stride, format;
  struct stat st;
  gsize need;
  void *map;
  int fd;

  g_variant_get (params, "(huuuuu)", &handle, &offset, &width, &height,
      &stride, &format);
  if (!check_format (format, error) ||
      !picture_bytes (width, height, stride, &need, error))
    return FALSE;
  if (!fds || (fd = g_unix_fd_list_get (fds, handle, error)) < 0) {
    if (error && !*error)
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "ScanoutMap without a file descriptor");
    return FALSE;
  }
  need += offset;
  if (fstat (fd, &st) != 0 || (guint64) st.st_size < need) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "ScanoutMap %ux%u, stride %u at offset %u: the memory has %lld "
        "bytes, %zu needed", width, height, stride, offset,
        (long long) st.st_size, need);
    close (fd);
    return FALSE;
  }
  /* The offset need not be page aligned: map from 0. */
  map = mmap (NULL, need, PROT_READ, MAP_SHARED, fd, 0);
  close (fd);
  if (map == MAP_FAILED) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "ScanoutMap: mmap: %s", g_strerror (errno));
    return FALSE;
  }
  drop_picture (d);
  d->map = map;
  d->map_len = need;
  d->pixels = d->map + offset;
  d->width = width;
  d->height = height;
  d->stride = stride;
  d->mapped = TRUE;
  say_path (d);
  damage (d);
  return TRUE;
}

static gboolean
on_update_map (BridgeQemuDisplay * d, GVariant * params, GError ** error)
{
  gint32 x, y, w, h;

  g_variant_get (params, "(iiii)", &x, &y, &w, &h);
  if (!d->mapped) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "UpdateMap without ScanoutMap");
    return FALSE;
  }
  if (!check_rect (d, "UpdateMap", x, y, w, h, error))
    return FALSE;
  damage (d);
  return TRUE;
}

static void
tell_cursor (BridgeQemuDisplay * d)
{
  if (!d->on_cursor || (d->cursor_shown && !d->cursor))
    return;                     /* shown, but no shape yet: the viewer's own */
  d->on_cursor (d->cursor_shown ? d->cursor : NULL, d->cursor_w, d->cursor_h,
      d->hot_x, d->hot_y, d->user_data);
}

static gboolean
on_cursor_define (BridgeQemuDisplay * d, GVariant * params, GError ** error)
{
  gint32 w, h, hx, hy;
  GVariant *data;
  const guint8 *bgra;
  gsize len;

  g_variant_get (params, "(iiii@ay)", &w, &h, &hx, &hy, &data);
  bgra = g_variant_get_fixed_array (data, &len, 1);
  if (w < 1 || h < 1 || w > MAX_CURSOR || h > MAX_CURSOR || hx < 0 ||
      hy < 0 || hx >= w || hy >= h || len != (gsize) w * h * 4) {
    g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
        "cursor %dx%d, hot spot %d,%d, %" G_GSIZE_FORMAT " bytes: expected "
        "1..%d a side, the hot spot inside, 4 bytes a pixel", w, h, hx, hy,
        len, MAX_CURSOR);
    g_variant_unref (data);
    return FALSE;
  }
  g_free (d->cursor);
  /* QEMU's ARGB words, little-endian: B, G, R, A in memory. */
  d->cursor = g_malloc (len);
  for (gsize i = 0; i < len; i += 4) {
    d->cursor[i] = bgra[i + 2];
    d->cursor[i + 1] = bgra[i + 1];
    d->cursor[i + 2] = bgra[i];
    d->cursor[i + 3] = bgra[i + 3];
  }
  g_variant_unref (data);
  d->cursor_w = (guint) w;
  d->cursor_h = (guint) h;
  d->hot_x = (guint) hx;
  d->hot_y = (guint) hy;
  if (d->cursor_shown)
    tell_cursor (d);
  return TRUE;
}

/* Where the machine's pointer is and whether it shows: only the latter
 * matters to a viewer, whose own pointer is where it points. */
static void
on_mouse_set (BridgeQemuDisplay * d, GVariant * params)
{
  gint32 x, y, on;

  g_variant_get (params, "(iii)", &x, &y, &on);
  if ((on != 0) == d->cursor_shown)
    return;
  d->cursor_shown = on != 0;
  tell_cursor (d);
}

static void
on_method (GDBusConnection * conn, const gchar * sender, const gchar * path,
    const gchar * iface, const gchar * method, GVariant * params,
    GDBusMethodInvocation * inv, gpointer user_data)
{
  BridgeQemuDisplay *d = user_data;
  gint64 t0 = g_get_monotonic_time ();
  GError *error = NULL;
  gboolean ok = TRUE;

  if (g_str_equal (method, "Scanout"))
    ok = on_scanout (d, params, &error);
  else if (g_str_equal (method, "Update"))
    ok = on_update (d, params, &error);
  else if (g_str_equal (method, "ScanoutMap"))
    ok = on_scanout_map (d, params, inv, &error);
  else if (g_str_equal (method, "UpdateMap"))
    ok = on_update_map (d, params, &error);
  else if (g_str_equal (method, "Disable"))
    drop_picture (d);
  else if (g_str_equal (method, "CursorDefine"))
    ok = on_cursor_define (d, params, &error);
  else if (g_str_equal (method, "MouseSet"))
    on_mouse_set (d, params);
  if (ok) {
    g_dbus_method_invocation_return_value (inv, NULL);
  } else {
    g_printerr ("desktop-bridge: QEMU's %s refused: %s\n", method,
        error->message);
    g_dbus_method_invocation_return_gerror (inv, error);
    g_error_free (error);
  }
  d->longest_reply_us = MAX (d->longest_reply_us, g_get_monotonic_time () - t0);
}

static GVariant *
on_get_property (GDBusConnection * conn, const gchar * sender,
    const gchar * path, const gchar * iface, const gchar * name,
    GError ** error, gpointer user_data)
{
  const gchar *const interfaces[] = { MAP_IFACE, NULL };

  if (g_str_equal (name, "Interfaces"))
    return g_variant_new_strv (interfaces, -1);
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY,
      "no property %s", name);
  return NULL;
}

static const GDBusInterfaceVTable vtable = {
  .method_call = on_method,
  .get_property = on_get_property,
};

/* Linux evdev key code to QEMU's key number (qnum: XT set 1 scancodes, an
 * E0-prefixed one as 0x80 | its second byte), what
 * org.qemu.Display1.Keyboard takes; 0 for a key it has no number for.
 * Codes 1..83 and 86..88 were laid out as set 1 scancodes and are their
 * own numbers. */
static guint32
evdev_to_qnum (guint32 code)
{
  static const struct
  {
    guint16 evdev;
    guint8 qnum;
  } extended[] = {
    {89, 0x73},                 /* KEY_RO */
    {92, 0x79},                 /* KEY_HENKAN */
    {93, 0x70},                 /* KEY_KATAKANAHIRAGANA */
    {94, 0x7b},                 /* KEY_MUHENKAN */
    {96, 0x9c},                 /* KEY_KPENTER */
    {97, 0x9d},                 /* KEY_RIGHTCTRL */
    {98, 0xb5},                 /* KEY_KPSLASH */
    {99, 0x54},                 /* KEY_SYSRQ (Print Screen), as QEMU numbers it */
    {100, 0xb8},                /* KEY_RIGHTALT */
    {102, 0xc7},                /* KEY_HOME */
    {103, 0xc8},                /* KEY_UP */
    {104, 0xc9},                /* KEY_PAGEUP */
    {105, 0xcb},                /* KEY_LEFT */
    {106, 0xcd},                /* KEY_RIGHT */
    {107, 0xcf},                /* KEY_END */
    {108, 0xd0},                /* KEY_DOWN */
    {109, 0xd1},                /* KEY_PAGEDOWN */
    {110, 0xd2},                /* KEY_INSERT */
    {111, 0xd3},                /* KEY_DELETE */
    {113, 0xa0},                /* KEY_MUTE */
    {114, 0xae},                /* KEY_VOLUMEDOWN */
    {115, 0xb0},                /* KEY_VOLUMEUP */
    {116, 0xde},                /* KEY_POWER */
    {117, 0x59},                /* KEY_KPEQUAL */
    {119, 0xc6},                /* KEY_PAUSE */
    {121, 0x7e},                /* KEY_KPCOMMA */
    {124, 0x7d},                /* KEY_YEN */
    {125, 0xdb},                /* KEY_LEFTMETA */
    {126, 0xdc},                /* KEY_RIGHTMETA */
    {127, 0xdd},                /* KEY_COMPOSE */
  };

  if ((code >= 1 && code <= 83) || (code >= 86 && code <= 88))
    return code;
  for (gsize i = 0; i < G_N_ELEMENTS (extended); i++)
    if (extended[i].evdev == code)
      return extended[i].qnum;
  return 0;
}

/* The answer to a call made without waiting: NULL when QEMU took it, or
 * when the call was cancelled (d is gone: nothing to do); else the error,
 * for the caller to free. */
static GError *
call_error (GObject * source, GAsyncResult * res)
{
  GError *error = NULL;
  GVariant *ret = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source),
      res, &error);

  if (ret)
    g_variant_unref (ret);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_clear_error (&error);
  return error;
}

static void
input_done (GObject * source, GAsyncResult * res, gpointer user_data)
{
  GError *error = call_error (source, res);
  BridgeQemuDisplay *d = user_data;

  if (!error)
    return;
  if (d->input_failed++ == 0)
    g_printerr ("desktop-bridge: QEMU refused input: %s\n", error->message);
  g_error_free (error);
}

static void
call_input (BridgeQemuDisplay * d, const gchar * iface, const gchar * method,
    GVariant * params)
{
  g_dbus_connection_call (d->conn, d->bus_name, d->console_path, iface,
      method, params, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, d->cancel,
      input_done, d);
}

static void
mouse_button (BridgeQemuDisplay * d, guint button, gboolean down)
{
  call_input (d, "org.qemu.Display1.Mouse", down ? "Press" : "Release",
      g_variant_new ("(u)", button));
}

/* The pointer: where it is, then the buttons that changed, then the
 * wheel. */
static void
pointer_input (BridgeQemuDisplay * d, const BridgeViewerMsg * m, guint pw,
    guint ph)
{
  /* Viewer bits: 0 left, 1 right, 2 middle; QEMU: 0 left, 1 middle, 2
   * right. */
  static const guint qemu_button[3] = { 0, 2, 1 };
  GVariant *abs = d->mouse ?
      g_dbus_proxy_get_cached_property (d->mouse, "IsAbsolute") : NULL;
  gboolean absolute = abs && g_variant_get_boolean (abs);
  gint x, y;

  if (abs)
    g_variant_unref (abs);
  if (!d->width || !d->height)
    return;                     /* nothing on the screen to point at */
  pw = pw ? pw : d->width;
  ph = ph ? ph : d->height;
  x = (gint) MIN ((guint64) m->x * d->width / pw, d->width - 1);
  y = (gint) MIN ((guint64) m->y * d->height / ph, d->height - 1);
  if (absolute)
    call_input (d, "org.qemu.Display1.Mouse", "SetAbsPosition",
        g_variant_new ("(uu)", (guint32) x, (guint32) y));
  else if (d->pointer_x >= 0 && (x != d->pointer_x || y != d->pointer_y))
    call_input (d, "org.qemu.Display1.Mouse", "RelMotion",
        g_variant_new ("(ii)", x - d->pointer_x, y - d->pointer_y));
  d->pointer_x = x;
  d->pointer_y = y;
  for (guint bit = 0; bit < 3; bit++)
    if ((m->buttons ^ d->buttons) & (1u << bit))
      mouse_button (d, qemu_button[bit], (m->buttons >> bit) & 1);
  d->buttons = m->buttons;
  for (gint i = 0; i < ABS (m->wheel); i++) {
    mouse_button (d, m->wheel < 0 ? 3 : 4, TRUE);
    mouse_button (d, m->wheel < 0 ? 3 : 4, FALSE);
  }
}

void
bridge_qemu_display_input (BridgeQemuDisplay * d, const BridgeViewerMsg * m,
    guint picture_w, guint picture_h)
{
  if (m->type == BRIDGE_VIEWER_KEY) {
    guint32 qnum = evdev_to_qnum (m->code);

    if (!qnum) {
      if (d->keys_unmapped++ == 0)
        g_printerr ("desktop-bridge: Linux key %u has no QEMU key number; "
            "dropped (and others like it, counted)\n", m->code);
      return;
    }
    call_input (d, "org.qemu.Display1.Keyboard", m->down ? "Press" :
        "Release", g_variant_new ("(u)", qnum));
    if (m->down && !d->key_sent_us)
      d->key_sent_us = g_get_monotonic_time ();
  } else if (m->type == BRIDGE_VIEWER_POINTER) {
    pointer_input (d, m, picture_w, picture_h);
  }
}

static void
resize_done (GObject * source, GAsyncResult * res, gpointer user_data)
{
  GError *error = call_error (source, res);
  BridgeQemuDisplay *d = user_data;

  if (!error)
    return;
  d->resizes_refused++;
  g_printerr ("desktop-bridge: QEMU refused the new size: %s\n",
      error->message);
  g_error_free (error);
}

void
bridge_qemu_display_resize (BridgeQemuDisplay * d, guint width, guint height)
{
  /* The physical size a guest may read from EDID: 96 dpi, what desktops
   * assume of a screen they know nothing about. */
  guint16 width_mm = (guint16) MIN (width * 254u / 960u, G_MAXUINT16);
  guint16 height_mm = (guint16) MIN (height * 254u / 960u, G_MAXUINT16);

  d->resizes++;
  g_dbus_connection_call (d->conn, d->bus_name, d->console_path,
      "org.qemu.Display1.Console", "SetUIInfo",
      g_variant_new ("(qqiiuu)", width_mm, height_mm, 0, 0, width, height),
      NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, d->cancel, resize_done, d);
}

/* Connections */

static void
on_closed (GDBusConnection * conn, gboolean remote, GError * error,
    gpointer user_data)
{
  BridgeQemuDisplay *d = user_data;
  gchar *msg = g_strdup_printf ("QEMU closed its display connection%s%s",
      error ? ": " : "", error ? error->message : "");

  fail (d, msg);
  g_free (msg);
}

typedef struct
{
  gboolean done;
  GDBusConnection *conn;
  GError *error;
} ConnWait;

static void
on_connection (GObject * source, GAsyncResult * res, gpointer user_data)
{
  ConnWait *w = user_data;

  w->conn = g_dbus_connection_new_finish (res, &w->error);
  w->done = TRUE;
}

static gboolean
cancel_now (gpointer cancellable)
{
  g_cancellable_cancel (cancellable);
  return G_SOURCE_REMOVE;
}

/* A D-Bus connection on one end of a socketpair (the other is QEMU's),
 * given up after STEP_TIMEOUT_MS: a QEMU that never answers the
 * handshake must not hang the bridge. */
static GDBusConnection *
connection_on_fd (GMainContext * context, int fd, GDBusConnectionFlags flags,
    GError ** error)
{
  GSocket *socket = g_socket_new_from_fd (fd, error);
  GCancellable *cancel;
  GSocketConnection *sc;
  GSource *timeout;
  ConnWait w = { 0 };

  if (!socket) {
    close (fd);
    return NULL;
  }
  sc = g_socket_connection_factory_create_connection (socket);
  cancel = g_cancellable_new ();
  timeout = g_timeout_source_new (STEP_TIMEOUT_MS);
  g_source_set_callback (timeout, cancel_now, cancel, NULL);
  g_source_attach (timeout, context);
  g_dbus_connection_new (G_IO_STREAM (sc), NULL,
      flags | G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT, NULL, cancel,
      on_connection, &w);
  while (!w.done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  if (g_error_matches (w.error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_clear_error (&w.error);
    g_set_error (&w.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
        "QEMU did not complete the D-Bus handshake in %d ms", STEP_TIMEOUT_MS);
  }
  if (w.error)
    g_propagate_error (error, w.error);
  g_object_unref (cancel);
  g_object_unref (sc);
  g_object_unref (socket);
  return w.conn;
}

/* Peer to peer: a socketpair, one end to QEMU over QMP. */
static GDBusConnection *
connect_p2p (GMainContext * context, const gchar * qmp_path, GError ** error)
{
  static const gchar getfd[] = "{\"execute\": \"getfd\", \"arguments\": "
      "{\"fdname\": \"desktop-bridge\"}}";
  static const gchar add_client[] = "{\"execute\": \"add_client\", "
      "\"arguments\": {\"protocol\": \"@dbus-display\", "
      "\"fdname\": \"desktop-bridge\"}}";
  BridgeQmp *qmp;
  int sv[2];
  gboolean ok;

  qmp = bridge_qmp_connect (qmp_path, STEP_TIMEOUT_MS, error);
  if (!qmp)
    return NULL;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "socketpair: %s", g_strerror (errno));
    bridge_qmp_free (qmp);
    return NULL;
  }
  ok = bridge_qmp_execute (qmp, getfd, sv[1], error) &&
      bridge_qmp_execute (qmp, add_client, -1, error);
  close (sv[1]);
  bridge_qmp_free (qmp);
  if (!ok) {
    g_prefix_error (error, "handing QEMU a D-Bus connection: ");
    close (sv[0]);
    return NULL;
  }
  return connection_on_fd (context, sv[0], 0, error);
}

typedef struct
{
  gboolean done;
  GError *error;
} CallWait;

static void
on_registered (GObject * source, GAsyncResult * res, gpointer user_data)
{
  CallWait *w = user_data;
  GVariant *ret = g_dbus_connection_call_with_unix_fd_list_finish
      (G_DBUS_CONNECTION (source), NULL, res, &w->error);

  if (ret)
    g_variant_unref (ret);
  w->done = TRUE;
}

/* RegisterListener with one end of a socketpair; the listener's connection
 * on the other, its object served before QEMU's first call is read. */
static gboolean
register_listener (BridgeQemuDisplay * d, const gchar * bus_name,
    const gchar * console_path, GError ** error)
{
  GUnixFDList *fds;
  CallWait wait = { 0 };
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
        "socketpair: %s", g_strerror (errno));
    return FALSE;
  }
  fds = g_unix_fd_list_new_from_array (&sv[1], 1);      /* takes sv[1] */
  /* Asynchronous: whichever of the answer and QEMU's side of the new
   * connection's handshake comes first, the other is not waited for. */
  g_dbus_connection_call_with_unix_fd_list (d->conn, bus_name, console_path,
      "org.qemu.Display1.Console", "RegisterListener",
      g_variant_new ("(h)", 0), NULL, G_DBUS_CALL_FLAGS_NONE,
      STEP_TIMEOUT_MS, fds, NULL, on_registered, &wait);
  g_object_unref (fds);
  d->listener = connection_on_fd (d->context, sv[0],
      G_DBUS_CONNECTION_FLAGS_DELAY_MESSAGE_PROCESSING, error);
  if (d->listener) {
    d->reg[0] = g_dbus_connection_register_object (d->listener,
        LISTENER_PATH, d->info->interfaces[0], &vtable, d, NULL, error);
    d->reg[1] = d->reg[0] ? g_dbus_connection_register_object (d->listener,
        LISTENER_PATH, d->info->interfaces[1], &vtable, d, NULL, error) : 0;
    if (d->reg[1])
      g_dbus_connection_start_message_processing (d->listener);
  }
  /* The call's answer comes on this context. */
  while (!wait.done)
    g_main_context_iteration (d->context, TRUE);
  if (wait.error) {
    g_clear_error (error);
    g_propagate_prefixed_error (error, wait.error,
        "RegisterListener on %s: ", console_path);
    return FALSE;
  }
  return d->reg[1] != 0;
}

BridgeQemuDisplay *
bridge_qemu_display_start (const BridgeQemuDisplayOptions * opts,
    BridgeQemuPictureFunc on_picture, BridgeQemuErrorFunc on_error,
    BridgeQemuCursorFunc on_cursor, gpointer user_data, GError ** error)
{
  BridgeQemuDisplay *d = g_new0 (BridgeQemuDisplay, 1);
  const gchar *bus_name = NULL;
  const gchar *console_path;
  GVariant *ret;

  d->address = g_strdup (opts->address);
  d->console = opts->console;
  d->period_us = G_USEC_PER_SEC / MAX (opts->fps, 1);
  d->keepalive_ms = opts->keepalive_ms ? opts->keepalive_ms : 1000;
  d->on_picture = on_picture;
  d->on_error = on_error;
  d->on_cursor = on_cursor;
  d->user_data = user_data;
  d->context = g_main_context_ref_thread_default ();
  d->info = g_dbus_node_info_new_for_xml (listener_xml, NULL);
  d->cancel = g_cancellable_new ();
  d->pointer_x = d->pointer_y = -1;

  if (d->address && g_str_has_prefix (d->address, "qmp:")) {
    d->conn = connect_p2p (d->context, d->address + 4, error);
  } else {
    bus_name = "org.qemu";
    d->conn = d->address ?
        g_dbus_connection_new_for_address_sync (d->address,
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, error) :
        g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, error);
  }
  if (!d->conn)
    goto failed;
  d->bus_name = bus_name;
  d->console_path = g_strdup_printf ("/org/qemu/Display1/Console_%u",
      d->console);
  console_path = d->console_path;
  /* Is there such a console? Its Width says so. */
  ret = g_dbus_connection_call_sync (d->conn, bus_name, console_path,
      "org.freedesktop.DBus.Properties", "Get",
      g_variant_new ("(ss)", "org.qemu.Display1.Console", "Width"), NULL,
      G_DBUS_CALL_FLAGS_NONE, STEP_TIMEOUT_MS, NULL, error);
  if (!ret) {
    g_prefix_error (error, "QEMU console %u (%s): ", d->console,
        d->address ? d->address : "the session bus");
    goto failed;
  }
  g_variant_unref (ret);
  /* IsAbsolute, kept current from QEMU's PropertiesChanged. Before the
   * listener: once QEMU has it, QEMU blocks its main loop on a call to it
   * (GetAll), and a blocking call of ours the other way would wait for
   * that call's timeout. Nothing after this point waits for QEMU without
   * running this thread's main context. */
  d->mouse = g_dbus_proxy_new_sync (d->conn,
      G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START, NULL, bus_name, console_path,
      "org.qemu.Display1.Mouse", NULL, error);
  if (!d->mouse)
    goto failed;
  if (!register_listener (d, bus_name, console_path, error))
    goto failed;
  d->closed[0] = g_signal_connect (d->conn, "closed", G_CALLBACK (on_closed),
      d);
  d->closed[1] = g_signal_connect (d->listener, "closed",
      G_CALLBACK (on_closed), d);
  arm (d, d->keepalive_ms * 1000LL);
  return d;

failed:
  bridge_qemu_display_free (d);
  return NULL;
}

guint64
bridge_qemu_display_pictures (BridgeQemuDisplay * d)
{
  return d->pictures;
}

gchar *
bridge_qemu_display_describe (BridgeQemuDisplay * d)
{
  gdouble sorted[KEY_TIMES], p50 = 0, p99 = 0;
  gsize n = MIN (d->key_times, KEY_TIMES);
  gchar *keys = NULL, *sizes = NULL, *text;

  memcpy (sorted, d->key_ms, n * sizeof (gdouble));
  if (d->resizes)
    sizes = g_strdup_printf (", %" G_GUINT64_FORMAT " sizes asked (%"
        G_GUINT64_FORMAT " refused)", d->resizes, d->resizes_refused);
  if (hfx_percentiles (sorted, n, &p50, &p99))
    keys = g_strdup_printf (", key to change p50 %.1f ms p99 %.1f ms over %"
        G_GUINT64_FORMAT " keys", p50, p99, d->key_times);
  text = g_strdup_printf ("QEMU console %u (%s), %ux%u, %s, longest reply "
      "%.1f ms%s%s", d->console, d->address ? d->address : "the session bus",
      d->width, d->height, d->mapped ? "shared memory (ScanoutMap)" :
      d->pixels ? "copies (Scanout/Update)" : "no picture yet",
      d->longest_reply_us / 1000.0, sizes ? sizes : "", keys ? keys : "");
  g_free (keys);
  g_free (sizes);
  return text;
}

void
bridge_qemu_display_free (BridgeQemuDisplay * d)
{
  if (!d)
    return;
  if (d->keys_unmapped || d->input_failed)
    g_printerr ("desktop-bridge: input: %" G_GUINT64_FORMAT " keys without "
        "a QEMU number, %" G_GUINT64_FORMAT " calls QEMU refused\n",
        d->keys_unmapped, d->input_failed);
  g_cancellable_cancel (d->cancel);
  g_clear_object (&d->mouse);
  for (int i = 0; i < 2; i++) {
    GDBusConnection *c = i ? d->listener : d->conn;

    if (c && d->closed[i])
      g_signal_handler_disconnect (c, d->closed[i]);
    if (i && c && d->reg[0])
      g_dbus_connection_unregister_object (c, d->reg[0]);
    if (i && c && d->reg[1])
      g_dbus_connection_unregister_object (c, d->reg[1]);
    if (c) {
      g_dbus_connection_close_sync (c, NULL, NULL);
      g_object_unref (c);
    }
  }
  clear_source (&d->deliver);
  clear_source (&d->report);
  drop_picture (d);
  g_free (d->cursor);
  if (d->info)
    g_dbus_node_info_unref (d->info);
  g_main_context_unref (d->context);
  g_object_unref (d->cancel);
  g_free (d->console_path);
  g_free (d->error);
  g_free (d->address);
  g_free (d);
}
