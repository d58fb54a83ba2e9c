/* SPDX-License-Identifier: MIT */
/*
 * desktop-bridge's scanout source (docs/bridge.md, "Scanout source"): no
 * capture and no encoder in the bridge. It subscribes to a scanout of an
 * hfx host (docs/protocol.md §5.17), e.g. the console QEMU's
 * helix-frame-export chardev serves, and hands every access unit the host
 * encoded to the same callback the capture pipeline uses.
 */
#ifndef BRIDGE_SCANOUT_H
#define BRIDGE_SCANOUT_H

#include <glib.h>

#include "capture.h"
#include "message.h"

G_BEGIN_DECLS

typedef struct
{
  const gchar *address;         /* hfx address (docs/protocol.md §1); NULL = auto */
  guint scanout;                /* the host's scanout number */
  guint max_fps;                /* 1..240 */
  /* Pass viewers' keys and pointer to the host (bridge_scanout_input):
   * the host must take input from this connection (WELCOME INPUT), else
   * start fails. */
  gboolean input;
} BridgeScanoutOptions;

typedef struct _BridgeScanout BridgeScanout;

/* Connects, says HELLO and SUBSCRIBEs (blocking, at most 5 s for the
 * handshake). on_au is then called on the scanout's own thread for every
 * access unit, with capture_us the host's time of the picture when the
 * host's clock is the bridge's (a unix socket), else the time it arrived;
 * on_error once on the thread-default main context of the caller when
 * the host ends the subscription, goes away or falls silent (no packet in
 * 15 s, though it promised one every second). NULL with
 * *error when the host cannot be reached or serves no scanouts. opts and
 * its strings are copied. Free with bridge_scanout_free. */
BridgeScanout *bridge_scanout_start (const BridgeScanoutOptions * opts,
    BridgeAuFunc on_au, BridgeCaptureErrorFunc on_error, gpointer user_data,
    GError ** error);

/* Ask the host for a keyframe (every subscriber of the scanout gets it).
 * Any thread. */
void bridge_scanout_request_keyframe (BridgeScanout * sc);

/* A viewer's key or pointer message (BRIDGE_VIEWER_KEY or _POINTER) to
 * the host as INPUT, in order, from a thread of the bridge's own (with
 * opts.input). While the host is slower to take them than viewers send,
 * up to 256 wait; more are dropped (counted in the log). Any thread. */
void bridge_scanout_input (BridgeScanout * sc, const BridgeViewerMsg * m);

/* Access units received so far. Any thread. */
guint64 bridge_scanout_pictures (BridgeScanout * sc);

/* "scanout 0 of serial:/dev/vport2p1 (host libx264)"; free with g_free.
 * Any thread. */
gchar *bridge_scanout_describe (BridgeScanout * sc);

/* Stops the thread, says BYE and frees; NULL-safe. on_au is not called
 * after it returns; an on_error still pending on the main context is
 * dropped. */
void bridge_scanout_free (BridgeScanout * sc);

G_END_DECLS

#endif /* BRIDGE_SCANOUT_H */
