/* SPDX-License-Identifier: MIT */
/*
 * The ScreenCast portal (org.freedesktop.portal.ScreenCast on the session
 * bus): how a sandboxed or Wayland desktop hands out a PipeWire stream of a
 * monitor. The user may have to pick the monitor in a dialog.
 */
#ifndef BRIDGE_PORTAL_H
#define BRIDGE_PORTAL_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  gint fd;                      /* PipeWire remote; the caller closes it */
  guint32 node;                 /* the stream's node id */
  gchar *session;               /* the portal session's object path */
} BridgePortalStream;

/* Create a session, select one monitor (cursor embedded where offered),
 * start it and open the PipeWire remote. Waits up to timeout_ms for each
 * answer (a dialog may be on screen). FALSE with *error:
 * G_IO_ERROR_NOT_SUPPORTED when there is no session bus or no portal on it;
 * otherwise what went wrong (the user cancelled, no stream, a timeout). */
gboolean bridge_portal_screencast (guint timeout_ms, BridgePortalStream * out,
    GError ** error);

void bridge_portal_stream_clear (BridgePortalStream * s);

G_END_DECLS

#endif /* BRIDGE_PORTAL_H */
