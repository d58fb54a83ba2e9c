/* SPDX-License-Identifier: MIT */
/*
 * A minimal QMP client for desktop-bridge (docs/bridge.md, "QEMU D-Bus
 * display"): connect to QEMU's QMP unix socket, leave capabilities
 * negotiation, run a command (optionally passing one file descriptor with
 * it, as getfd wants) and wait for its answer. Blocking, with a timeout per
 * answer; events QEMU sends meanwhile are skipped.
 */
#ifndef BRIDGE_QMP_H
#define BRIDGE_QMP_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _BridgeQmp BridgeQmp;

/* Connects to the QMP socket at path and sends qmp_capabilities. NULL with
 * *error when there is no QMP server there, or it does not greet or answer
 * within timeout_ms. Free with bridge_qmp_free. */
BridgeQmp *bridge_qmp_connect (const gchar * path, guint timeout_ms,
    GError ** error);

/* Runs one command: command is its JSON object ({"execute": ...}); fd >= 0
 * goes with it (SCM_RIGHTS; the caller keeps its own copy open). TRUE when
 * QEMU answered "return"; FALSE with *error holding QEMU's error text when
 * it answered "error", or the reason when it did not answer. */
gboolean bridge_qmp_execute (BridgeQmp * qmp, const gchar * command, int fd,
    GError ** error);

/* Closes the socket; NULL-safe. */
void bridge_qmp_free (BridgeQmp * qmp);

G_END_DECLS

#endif /* BRIDGE_QMP_H */
