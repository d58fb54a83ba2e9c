/* SPDX-License-Identifier: MIT */
/*
 * What travels over /ws (docs/bridge.md): the binary stream message
 * (a 32-byte header, then one Annex-B access unit) and the viewer's JSON
 * text messages. Field by field, little-endian, bounds checked.
 */
#ifndef BRIDGE_MESSAGE_H
#define BRIDGE_MESSAGE_H

#include <glib.h>

G_BEGIN_DECLS

#define BRIDGE_MSG_VERSION 1
#define BRIDGE_MSG_HEADER_SIZE 32
#define BRIDGE_MSG_FLAG_KEYFRAME 0x01

typedef struct
{
  guint8 flags;
  guint32 seq;
  guint16 width, height;
  gint64 pts_us;
  gint64 capture_us;
} BridgeMsgHeader;

/* A new message: the header, then the len bytes of au. Returns: (transfer
 * full). */
GBytes *bridge_msg_new (const BridgeMsgHeader * h, const guint8 * au,
    gsize len);

/* The header alone, into the first BRIDGE_MSG_HEADER_SIZE bytes of buf: for
 * a message whose access unit is already in place behind them. */
void bridge_msg_write_header (guint8 * buf, const BridgeMsgHeader * h);

/* Parse a stream message (the viewer's side, and tests): *au points into
 * data. FALSE when it is short, of another version, has a header_size
 * smaller than 32 or past the end, unknown flags or non-zero reserved
 * bytes. */
gboolean bridge_msg_parse (const guint8 * data, gsize len,
    BridgeMsgHeader * h, const guint8 ** au, gsize * au_len);

typedef enum
{
  BRIDGE_VIEWER_DRAWN = 1,
  BRIDGE_VIEWER_KEYFRAME = 2,
  BRIDGE_VIEWER_KEY = 3,
  BRIDGE_VIEWER_POINTER = 4,
  BRIDGE_VIEWER_SIZE = 5,
} BridgeViewerMsgType;

typedef struct
{
  BridgeViewerMsgType type;
  guint32 seq;                  /* DRAWN */
  gdouble decode_ms;            /* DRAWN; -1 when absent */
  guint32 code;                 /* KEY: Linux evdev code, 1..0x2ff */
  gboolean down;                /* KEY */
  guint32 x, y;                 /* POINTER: picture pixels, 0..8191 */
  guint buttons;                /* POINTER: bit 0 left, 1 right, 2 middle */
  gint wheel;                   /* POINTER: steps, -16..16, < 0 up */
  guint width, height;          /* SIZE: the viewer's, multiples of 8 in
                                 * BRIDGE_VIEWER_SIZE_MIN..HFX_MAX_DIMENSION */
} BridgeViewerMsg;

#define BRIDGE_VIEWER_SIZE_MIN 64

/* Parse one JSON text message from a viewer. FALSE (and *error) for
 * anything that is not one of the documented messages: not JSON, not an
 * object, unknown type, a seq that is not an integer in 0..2^32-1, a key
 * or pointer field missing, not an integer (down: a boolean) or out of
 * its range (docs/bridge.md). */
gboolean bridge_viewer_msg_parse (const gchar * text, gsize len,
    BridgeViewerMsg * out, GError ** error);

/* The bridge's {"type":"cursor"} text message (docs/bridge.md): the
 * machine's pointer, shown (an image of width x height RGBA pixels, rows
 * packed, 1..256 each side, with its hot spot) or hidden (rgba NULL).
 * Returns: (transfer full) a JSON text. */
gchar *bridge_msg_cursor_json (const guint8 * rgba, guint width,
    guint height, guint hot_x, guint hot_y);

G_END_DECLS

#endif /* BRIDGE_MESSAGE_H */
