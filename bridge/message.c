/* SPDX-License-Identifier: MIT */
#include "message.h"

#include <string.h>

#include <json-glib/json-glib.h>

static void
put_u16 (guint8 * p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put_u32 (guint8 * p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static void
put_u64 (guint8 * p, guint64 v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static guint16
get_u16 (const guint8 * p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static guint32
get_u32 (const guint8 * p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 |
      (guint32) p[3] << 24;
}

static guint64
get_u64 (const guint8 * p)
{
  return (guint64) get_u32 (p) | (guint64) get_u32 (p + 4) << 32;
}

void
bridge_msg_write_header (guint8 * buf, const BridgeMsgHeader * h)
{
  buf[0] = BRIDGE_MSG_VERSION;
  buf[1] = h->flags;
  put_u16 (buf + 2, BRIDGE_MSG_HEADER_SIZE);
  put_u32 (buf + 4, h->seq);
  put_u16 (buf + 8, h->width);
  put_u16 (buf + 10, h->height);
  put_u32 (buf + 12, 0);
  put_u64 (buf + 16, (guint64) h->pts_us);
  put_u64 (buf + 24, (guint64) h->capture_us);
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
  guint16 header_size;

  memset (h, 0, sizeof (*h));
  *au = NULL;
  *au_len = 0;
  if (len < BRIDGE_MSG_HEADER_SIZE || data[0] != BRIDGE_MSG_VERSION)
    return FALSE;
  header_size = get_u16 (data + 2);
  if (header_size < BRIDGE_MSG_HEADER_SIZE || header_size > len ||
      (data[1] & ~BRIDGE_MSG_FLAG_KEYFRAME) || get_u32 (data + 12) != 0)
    return FALSE;
  h->flags = data[1];
  h->seq = get_u32 (data + 4);
  h->width = get_u16 (data + 8);
  h->height = get_u16 (data + 10);
  h->pts_us = (gint64) get_u64 (data + 16);
  h->capture_us = (gint64) get_u64 (data + 24);
  *au = data + header_size;
  *au_len = len - header_size;
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
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "unknown message type");
  }
done:
  g_object_unref (parser);
  return ok;
}
