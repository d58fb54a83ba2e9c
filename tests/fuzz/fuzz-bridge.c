/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what desktop-bridge parses (bridge/message.c): the
 * viewer's JSON text messages, which come from any browser that connects,
 * and the stream message header (the viewer's side of the format). The
 * first input byte picks the parser.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        BridgeViewerMsg m;
        GError *error = NULL;
        gboolean ok = bridge_viewer_msg_parse((const gchar *)data + 1, size - 1, &m, &error);
        if (ok == (error != NULL))
            abort();
        /* What the bridge hands QEMU as a display size (docs/bridge.md). */
        if (ok && m.type == BRIDGE_VIEWER_SIZE &&
            (m.width % 8 || m.height % 8 || m.width < BRIDGE_VIEWER_SIZE_MIN ||
             m.height < BRIDGE_VIEWER_SIZE_MIN || m.width > 8192 || m.height > 8192))
            abort();
        g_clear_error(&error);
    } else {
        BridgeMsgHeader h;
        const guint8 *au;
        gsize len;
        if (bridge_msg_parse(data + 1, size - 1, &h, &au, &len) &&
            (au < data + 1 + 32 || au + len != data + size))
            abort();
    }
    return 0;
}
