/* SPDX-License-Identifier: MIT */
/* hfx: the copy path of vsockenc's pools.
 */

#include "gsthfxpoolcopy.h"

GST_DEBUG_CATEGORY_STATIC (gst_hfx_pool_copy_debug);
#define GST_CAT_DEFAULT gst_hfx_pool_copy_debug

static void
init_debug (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_hfx_pool_copy_debug, "hfxpoolcopy", 0,
        "copies into hfx's buffer pools");
    g_once_init_leave (&done, 1);
  }
}

gboolean
gst_hfx_pool_acquire_copy (GstBufferPool * pool, const GstVideoInfo * info,
    const GstVideoFrame * src, gboolean dontwait, GstBuffer ** out)
{
  GstBufferPoolAcquireParams params = { 0, };
  GstVideoFrame dest;
  GstBuffer *buf = NULL;
  GstFlowReturn ret;
  gboolean copied;

  init_debug ();
  *out = NULL;
  if (dontwait)
    params.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;
  ret = gst_buffer_pool_acquire_buffer (pool, &buf, &params);
  if (ret != GST_FLOW_OK) {
    GST_DEBUG_OBJECT (pool, "no buffer: %s", gst_flow_get_name (ret));
    return FALSE;
  }
  if (!gst_video_frame_map (&dest, info, buf, GST_MAP_WRITE)) {
    GST_ERROR_OBJECT (pool, "could not map %" GST_PTR_FORMAT, buf);
    gst_buffer_unref (buf);
    return FALSE;
  }
  copied = gst_video_frame_copy (&dest, src);
  gst_video_frame_unmap (&dest);
  if (!copied) {
    GST_ERROR_OBJECT (pool, "could not copy the frame into %" GST_PTR_FORMAT,
        buf);
    gst_buffer_unref (buf);
    return FALSE;
  }
  *out = buf;
  return TRUE;
}
