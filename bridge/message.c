/* SPDX-License-Identifier: MIT */
#include "message.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "hfx/protocol.h"
#include "util/reader.h"

void
bridge_msg_write_header (guint8 * buf, const BridgeMsgHeader * h)
{
  struct hfx_writer w;

  wr_init (&w, buf, BRIDGE_MSG_HEADER_SIZE);
  wr_u8 (&w, BRIDGE_MSG_VERSION);
  wr_u8 (&w, h->flags);
  wr_u16 (&w, BRIDGE_MSG_HEADER_SIZE);
  wr_u32 (&w, h->seq);
  wr_u16 (&w, h->width);
  wr_u16 (&w, h->height);
  wr_u32 (&w, 0);
  wr_i64 (&w, h->pts_us);
  wr_i64 (&w, h->capture_us);
  g_assert (!w.overflow && w.left == 0);
}

GBytes *
bridge_msg_new (const BridgeMsgHeader * h, const guint8 * au, gsize len)
{
  guint8 *buf = g_malloc (BRIDGE_MSG_HEADER_SIZE + len);

  bridge_msg_write_header (buf, h);
  if (len)
    memcpy (buf + BRIDGE_MSG_HEADER_SIZE, au, len);
  return g_bytes_new_take (buf, BRIDGE_MSG_HEADER_SIZE + len);
}

gboolean
bridge_msg_parse (const guint8 * data, gsize len, BridgeMsgHeader * h,
    const guint8 ** au, gsize * au_len)
{
  struct hfx_reader r;
  guint8 version, flags;
  guint16 header_size;
  guint32 reserved;

  memset (h, 0, sizeof (*h));
  *au = NULL;
  *au_len = 0;
  rd_init (&r, data, len);
  version = rd_u8 (&r);
  flags = rd_u8 (&r);
  header_size = rd_u16 (&r);
  h->seq = rd_u32 (&r);
  h->width = rd_u16 (&r);
  h->height = rd_u16 (&r);
  reserved = rd_u32 (&r);
  h->pts_us = rd_i64 (&r);
  h->capture_us = rd_i64 (&r);
  if (r.failed || version != BRIDGE_MSG_VERSION ||
      header_size < BRIDGE_MSG_HEADER_SIZE || header_size > len ||
      (flags & ~BRIDGE_MSG_FLAG_KEYFRAME) || reserved != 0) {
    memset (h, 0, sizeof (*h));
    return FALSE;
  }
  h->flags = flags;
  *au = data + header_size;
  *au_len = len - header_size;
  return TRUE;
}

/* An integer member in lo..hi, else FALSE and *error. */
static gboolean
get_int (JsonObject * obj, const gchar * type, const gchar * name, gint64 lo,
    gint64 hi, gint64 * out, GError ** error)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (!node || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < lo || json_node_get_int (node) > hi) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "%s: %s must be an integer in %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT,
        type, name, lo, hi);
    return FALSE;
  }
  *out = json_node_get_int (node);
  return TRUE;
}

static gboolean
parse_key (JsonObject * obj, BridgeViewerMsg * out, GError ** error)
{
  JsonNode *node = json_object_get_member (obj, "down");
  gint64 code;

  if (!get_int (obj, "key", "code", 1, HFX_MAX_KEY_CODE, &code, error))
    return FALSE;
  if (!node || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "key: down must be true or false");
    return FALSE;
  }
  out->type = BRIDGE_VIEWER_KEY;
  out->code = (guint32) code;
  out->down = json_node_get_boolean (node);
  return TRUE;
}

static gboolean
parse_pointer (JsonObject * obj, BridgeViewerMsg * out, GError ** error)
{
  gint64 x, y, buttons, wheel = 0;

  if (!get_int (obj, "pointer", "x", 0, HFX_MAX_DIMENSION - 1, &x, error) ||
      !get_int (obj, "pointer", "y", 0, HFX_MAX_DIMENSION - 1, &y, error) ||
      !get_int (obj, "pointer", "buttons", 0, HFX_BUTTONS_ALL, &buttons,
          error) || (json_object_has_member (obj, "wheel")
          && !get_int (obj, "pointer", "wheel", -HFX_MAX_WHEEL, HFX_MAX_WHEEL,
              &wheel, error)))
    return FALSE;
  out->type = BRIDGE_VIEWER_POINTER;
  out->x = (guint32) x;
  out->y = (guint32) y;
  out->buttons = (guint) buttons;
  out->wheel = (gint) wheel;
  return TRUE;
}

/* The viewer's display area: the size it would show without scaling. */
static gboolean
parse_size (JsonObject * obj, BridgeViewerMsg * out, GError ** error)
{
  gint64 w, h;

  if (!get_int (obj, "size", "width", BRIDGE_VIEWER_SIZE_MIN,
          HFX_MAX_DIMENSION, &w, error) ||
      !get_int (obj, "size", "height", BRIDGE_VIEWER_SIZE_MIN,
          HFX_MAX_DIMENSION, &h, error))
    return FALSE;
  /* What the guest's driver can give back exactly: a CVT mode's width is a
   * multiple of 8 (docs/bridge.md). */
  if (w % 8 || h % 8) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "size: width and height must be multiples of 8");
    return FALSE;
  }
  out->type = BRIDGE_VIEWER_SIZE;
  out->width = (guint) w;
  out->height = (guint) h;
  return TRUE;
}

gboolean
bridge_viewer_msg_parse (const gchar * text, gsize len, BridgeViewerMsg * out,
    GError ** error)
{
  JsonParser *parser = json_parser_new_immutable ();
  JsonObject *obj;
  JsonNode *root, *node;
  const gchar *type;
  gboolean ok = FALSE;

  memset (out, 0, sizeof (*out));
  out->decode_ms = -1;
  if (len > G_MAXSSIZE || !json_parser_load_from_data (parser, text,
          (gssize) len, error))
    goto done;
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "not a JSON object");
    goto done;
  }
  obj = json_node_get_object (root);
  node = json_object_get_member (obj, "type");
  type = node && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING ?
      json_node_get_string (node) : NULL;
  if (g_strcmp0 (type, "keyframe") == 0) {
    out->type = BRIDGE_VIEWER_KEYFRAME;
    ok = TRUE;
  } else if (g_strcmp0 (type, "drawn") == 0) {
    node = json_object_get_member (obj, "seq");
    if (!node || !JSON_NODE_HOLDS_VALUE (node) ||
        json_node_get_value_type (node) != G_TYPE_INT64 ||
        json_node_get_int (node) < 0
        || json_node_get_int (node) > G_MAXUINT32) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "drawn: seq must be an integer in 0..4294967295");
      goto done;
    }
    out->type = BRIDGE_VIEWER_DRAWN;
    out->seq = (guint32) json_node_get_int (node);
    node = json_object_get_member (obj, "decode_ms");
    if (node && JSON_NODE_HOLDS_VALUE (node) &&
        (json_node_get_value_type (node) == G_TYPE_DOUBLE ||
            json_node_get_value_type (node) == G_TYPE_INT64))
      out->decode_ms = json_node_get_double (node);
    ok = TRUE;
  } else if (g_strcmp0 (type, "key") == 0) {
    ok = parse_key (obj, out, error);
  } else if (g_strcmp0 (type, "pointer") == 0) {
    ok = parse_pointer (obj, out, error);
  } else if (g_strcmp0 (type, "size") == 0) {
    ok = parse_size (obj, out, error);
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "unknown message type");
  }
done:
  g_object_unref (parser);
  return ok;
}

gchar *
bridge_msg_cursor_json (const guint8 * rgba, guint width, guint height,
    guint hot_x, guint hot_y)
{
  gchar *b64, *json;

  if (!rgba)
    return g_strdup ("{\"type\":\"cursor\",\"visible\":false}");
  g_return_val_if_fail (width >= 1 && width <= 256 && height >= 1 &&
      height <= 256 && hot_x < width && hot_y < height, NULL);
  b64 = g_base64_encode (rgba, (gsize) width * height * 4);
  json = g_strdup_printf ("{\"type\":\"cursor\",\"visible\":true,"
      "\"width\":%u,\"height\":%u,\"hot_x\":%u,\"hot_y\":%u,"
      "\"rgba\":\"%s\"}", width, height, hot_x, hot_y, b64);
  g_free (b64);
  return json;
}
