/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's frames in memory shared with the host.
 */

/**
 * SECTION:gsthfxshmframes
 * @title: GstHfxShmFrames
 * @short_description: the memory vsockenc shares with the host for frames
 *
 * With frame-source shm or auto, vsockenc proposes upstream a
 * #GstHfxShmPool whose slots are in memory the host reads, so that each
 * FRAME carries only plane offsets and strides (docs/protocol.md §5.3, §7).
 * The memory is the guest's ivshmem region when there is one (the
 * transports a guest has cannot pass a memfd, docs/protocol.md §7.1), else
 * a sealed memfd that the session attaches to each connection.
 *
 * A frame that upstream did not render into the pool is copied into a free
 * slot; the caller keeps that slot until the host has answered the frame.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxshmframes.h"

#include "gsthfxivshmem.h"
#include "gsthfxshmpool.h"

GST_DEBUG_CATEGORY_EXTERN (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

struct _GstHfxShmFrames
{
  GstElement *element;          /* borrowed: owns this */
  GstBufferPool *pool;          /* owned; NULL without a format or inline */
  GstHfxIvshmem *ivshmem;       /* owned reference; opened once, kept */
};

GstHfxShmFrames *
gst_hfx_shm_frames_new (GstElement * element)
{
  GstHfxShmFrames *shm = g_new0 (GstHfxShmFrames, 1);

  shm->element = element;
  return shm;
}

void
gst_hfx_shm_frames_clear (GstHfxShmFrames * shm)
{
  if (shm->pool) {
    gst_buffer_pool_set_active (shm->pool, FALSE);
    gst_clear_object (&shm->pool);
  }
}

void
gst_hfx_shm_frames_free (GstHfxShmFrames ** shm)
{
  if (!*shm)
    return;
  gst_hfx_shm_frames_clear (*shm);
  g_clear_pointer (&(*shm)->ivshmem, gst_hfx_ivshmem_unref);
  g_free (*shm);
  *shm = NULL;
}

gboolean
gst_hfx_shm_frames_set_format (GstHfxShmFrames * shm,
    const GstVideoInfo * info, guint slots, const gchar * device,
    GError ** error)
{
  GError *why = NULL;

  gst_hfx_shm_frames_clear (shm);
  if (!shm->ivshmem && device && device[0] && g_strcmp0 (device, "none")) {
    shm->ivshmem = gst_hfx_ivshmem_open (device, &why);
    if (!shm->ivshmem && g_strcmp0 (device, "auto") == 0) {
      GST_INFO_OBJECT (shm->element, "no ivshmem region: %s", why->message);
    } else if (!shm->ivshmem) {
      GST_ELEMENT_WARNING (shm->element, RESOURCE, NOT_FOUND,
          ("shm-device=%s cannot be used: %s", device, why->message), (NULL));
    }
    g_clear_error (&why);
  }
  if (shm->ivshmem) {
    shm->pool = gst_hfx_shm_pool_new_in_ivshmem (info, slots, shm->ivshmem,
        &why);
    if (shm->pool)
      return TRUE;
    GST_WARNING_OBJECT (shm->element, "the ivshmem region cannot hold this "
        "format: %s; using a memfd", why->message);
    g_clear_error (&why);
  }
  shm->pool = gst_hfx_shm_pool_new (info, slots, error);
  return shm->pool != NULL;
}

gboolean
gst_hfx_shm_frames_has_pool (GstHfxShmFrames * shm)
{
  return shm->pool != NULL;
}

enum hfx_status
gst_hfx_shm_frames_attach (GstHfxShmFrames * shm, struct hfx_client *client,
    guint32 * region, const gchar ** why)
{
  GstHfxShmPool *pool = GST_HFX_SHM_POOL (shm->pool);
  enum hfx_status st;

  if (gst_hfx_shm_pool_get_ivshmem (pool)) {
    /* Region 0 is the host's to give (docs/protocol.md §7.1). */
    if (hfx_client_welcome (client)->caps & HFX_CAP_SHM_FILE) {
      *region = 0;
      return HFX_OK;
    }
    *why = "the host shares no region 0 on this connection (hfxd --shm-file)";
    return HFX_E_UNSUPPORTED;
  }
  st = hfx_client_attach_shm (client, gst_hfx_shm_pool_get_fd (pool),
      gst_hfx_shm_pool_get_size (pool), region);
  if (st != HFX_OK)
    *why = "a memfd needs a unix: address and a host that offers it, an "
        "ivshmem device needs hfxd --shm-file";
  return st;
}

const gchar *
gst_hfx_shm_frames_device_path (GstHfxShmFrames * shm)
{
  GstHfxIvshmem *ivshmem;

  if (!shm->pool)
    return NULL;
  ivshmem = gst_hfx_shm_pool_get_ivshmem (GST_HFX_SHM_POOL (shm->pool));
  return ivshmem ? ivshmem->region->path : NULL;
}

gsize
gst_hfx_shm_frames_size (GstHfxShmFrames * shm)
{
  return shm->pool ? gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL (shm->pool))
      : 0;
}

void
gst_hfx_shm_frames_propose (GstHfxShmFrames * shm, GstQuery * query)
{
  GstStructure *config;
  GstCaps *caps;
  guint size, min, max;

  if (!shm->pool)
    return;
  /* Upstream that takes this pool renders straight into memory the host
   * reads: only offsets cross the socket. */
  config = gst_buffer_pool_get_config (shm->pool);
  gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max);
  gst_query_add_allocation_pool (query, shm->pool, size, 0, max);
  gst_structure_free (config);
}

GstFlowReturn
gst_hfx_shm_frames_place (GstHfxShmFrames * shm, const GstVideoInfo * info,
    GstBuffer * buffer, struct hfx_frame *frame, GstBuffer ** slot)
{
  GstHfxShmPool *pool = GST_HFX_SHM_POOL (shm->pool);
  GstVideoFrame vframe;
  GstVideoMeta *meta;
  gboolean copied;
  gsize off = 0;

  *slot = NULL;
  if (!gst_hfx_shm_pool_buffer_offset (pool, buffer, &off)) {
    /* Upstream did not render into our pool: copy into a free slot. */
    if (!gst_buffer_pool_is_active (shm->pool))
      gst_buffer_pool_set_active (shm->pool, TRUE);
    if (!gst_video_frame_map (&vframe, info, buffer, GST_MAP_READ))
      goto map_failed;
    copied = gst_hfx_shm_pool_acquire_slot_copy (pool, &vframe, FALSE, slot,
        &off);
    gst_video_frame_unmap (&vframe);
    if (!copied)
      return GST_FLOW_FLUSHING;
    buffer = *slot;
  }
  meta = gst_buffer_get_video_meta (buffer);
  for (guint p = 0; p < frame->plane_count; p++) {
    frame->planes[p].offset = off + (meta ? meta->offset[p] :
        GST_VIDEO_INFO_PLANE_OFFSET (info, p));
    frame->planes[p].stride = meta ? meta->stride[p] :
        GST_VIDEO_INFO_PLANE_STRIDE (info, p);
  }
  return GST_FLOW_OK;

  /* ERRORS */
map_failed:
  {
    GST_ELEMENT_ERROR (shm->element, STREAM, FORMAT, (NULL),
        ("cannot map frame"));
    return GST_FLOW_ERROR;
  }
}
