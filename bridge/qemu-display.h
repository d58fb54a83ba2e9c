/* SPDX-License-Identifier: MIT */
/*
 * desktop-bridge's QEMU D-Bus display source (docs/bridge.md, "QEMU D-Bus
 * display"): a listener of one console of a QEMU started with -display
 * dbus, on a stock QEMU (7.0 and later). It keeps the console's picture
 * (shared memory when QEMU offers org.qemu.Display1.Listener.Unix.Map,
 * 9.2 and later; else the copies Scanout and Update carry) and hands it on
 * at a steady rate while it changes, with a keep-alive while it does not.
 */
#ifndef BRIDGE_QEMU_DISPLAY_H
#define BRIDGE_QEMU_DISPLAY_H

#include <glib.h>

#include "message.h"

G_BEGIN_DECLS

typedef struct
{
  /* "qmp:PATH": peer to peer, QEMU started with -display dbus,p2p=yes and
   * a QMP socket at PATH (the bridge hands QEMU one end of a socketpair:
   * getfd, add_client); a D-Bus address (unix:path=...): QEMU's bus; NULL:
   * the session bus. */
  const gchar *address;
  guint console;                /* org/qemu/Display1/Console_N */
  guint fps;                    /* pictures per second at most, 1..240 */
  guint keepalive_ms;           /* the same picture again after this long */
} BridgeQemuDisplayOptions;

/* The console's picture: BGRx (pixman x8r8g8b8), borrowed for the call.
 * damage_us is when QEMU last said it changed, on g_get_monotonic_time ()'s
 * clock (for a keep-alive: that of the picture repeated). On the main
 * context of the caller of bridge_qemu_display_start. */
typedef void (*BridgeQemuPictureFunc) (const guint8 * data, guint stride,
    guint width, guint height, gint64 damage_us, gpointer user_data);

/* QEMU went away or ended the display; on the same main context. */
typedef void (*BridgeQemuErrorFunc) (const gchar * message, gpointer user_data);

/* The machine's pointer as QEMU shows it (CursorDefine, MouseSet): an
 * RGBA image of width x height, rows packed, with its hot spot, borrowed
 * for the call; rgba NULL when the machine hides its pointer. Called when
 * the shape changes while shown, and when it is shown or hidden. On the
 * same main context. */
typedef void (*BridgeQemuCursorFunc) (const guint8 * rgba, guint width,
    guint height, guint hot_x, guint hot_y, gpointer user_data);

typedef struct _BridgeQemuDisplay BridgeQemuDisplay;

/* Connects and registers a listener on the console (blocking, at most 5 s
 * for each step). NULL with *error when QEMU cannot be reached, has no such
 * console or refuses the listener. opts' strings are copied. */
BridgeQemuDisplay *bridge_qemu_display_start (const BridgeQemuDisplayOptions
    * opts, BridgeQemuPictureFunc on_picture, BridgeQemuErrorFunc on_error,
    BridgeQemuCursorFunc on_cursor, gpointer user_data, GError ** error);

/* A viewer's key or pointer message (BRIDGE_VIEWER_KEY or _POINTER) to the
 * console's org.qemu.Display1.Keyboard and Mouse, in order, without waiting
 * for QEMU. Keys go as QEMU's key numbers (a Linux key QEMU has none for is
 * dropped and counted); the pointer is in pixels of a picture_w x
 * picture_h picture (the stream's; 0: the console's size), scaled to the
 * console, absolute where the guest has an absolute device (the Mouse's
 * IsAbsolute), else as relative motion from the last position; buttons
 * that changed are pressed or released, wheel steps are presses of buttons
 * 3 (up) and 4 (down). On the main context. */
void bridge_qemu_display_input (BridgeQemuDisplay * d,
    const BridgeViewerMsg * m, guint picture_w, guint picture_h);

/* Asks QEMU to make the console's display width x height
 * (org.qemu.Display1.Console.SetUIInfo, at 96 dpi), without waiting: a
 * guest with virtio-gpu is told its display's preferred mode changed, and
 * the picture follows once the guest sets that mode. A refusal (a display
 * device that cannot change size) is logged and counted. On the main
 * context. */
void bridge_qemu_display_resize (BridgeQemuDisplay * d, guint width,
    guint height);

/* Pictures handed on so far. */
guint64 bridge_qemu_display_pictures (BridgeQemuDisplay * d);

/* "QEMU console 0 (qmp:/run/vm.qmp), 1280x720, shared memory (ScanoutMap),
 * longest reply 0.4 ms[, 2 sizes asked (1 refused)][, key to change p50
 * 20.1 ms p99 41.0 ms over 101 keys]": the last from a key sent to QEMU (--input) to the next change
 * QEMU reported (the key's way in, the guest's repaint, QEMU's update);
 * free with g_free. */
gchar *bridge_qemu_display_describe (BridgeQemuDisplay * d);

/* Closes the connections and frees; NULL-safe. No callback after it. */
void bridge_qemu_display_free (BridgeQemuDisplay * d);

G_END_DECLS

#endif /* BRIDGE_QEMU_DISPLAY_H */
