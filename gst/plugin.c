/* SPDX-License-Identifier: MIT */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gsthfxenc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  return GST_ELEMENT_REGISTER (vsockenc, plugin);
}

#define PACKAGE "hfx"
/* The project is MIT-licensed; "MIT/X11" is GStreamer's name for that
 * licence (an unknown name is warned about at every load). */
GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, hfx,
    "hfx: video encoding offloaded to the host", plugin_init, HFX_VERSION,
    "MIT/X11", "hfx", "https://example.invalid/hfx")
