/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's frames as resources of the guest's virtio-gpu.
 */

/**
 * SECTION:gsthfxgpuframes
 * @title: GstHfxGpuFrames
 * @short_description: vsockenc's frames as virtio-gpu resources
 *
 * With frame-source=resource vsockenc proposes upstream a #GstHfxGpuPool
 * whose buffers are DRM dumb buffers of the guest's virtio_gpu driver.
 * Each FRAME then names the buffer's virtio-gpu resource and carries no
 * pixels; a host embedded in the VMM (the helix-frame-export chardev of
 * hfx's QEMU, docs/qemu.md) reads the resource's image when the frame's
 * turn to be encoded comes (docs/protocol.md §5.3). Before the frame is
 * sent its resource is transferred to the host (TRANSFER_TO_HOST), since
 * a 2D resource's host image changes only then.
 *
 * A frame that upstream did not draw into the pool is copied into one of
 * its resources; the caller keeps that buffer until the host has answered
 * the frame, so the resource is not drawn into again before it is read.
 * Buffers of the pool are held by their GstVideoCodecFrame for as long.
 *
 * Without the DRM headers at build time (libdrm-dev; e.g. on macOS) the
 * element still has frame-source=resource, and choosing it is an error
 * that says so.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxgpuframes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#ifdef HFX_HAVE_VIRTGPU
#include <sys/ioctl.h>

#include <drm.h>

#include "gsthfxgpupool.h"
#endif

GST_DEBUG_CATEGORY_EXTERN (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

/* DRM card nodes tried by gpu-device=auto. */
#define MAX_CARDS 16

struct _GstHfxGpuFrames
{
  GstElement *element;          /* borrowed: owns this */
  gint fd;                      /* the DRM card node; -1 until opened */
  gchar *path;                  /* owned: its path */
  GstBufferPool *pool;          /* owned; NULL without a format */
};

GstHfxGpuFrames *
gst_hfx_gpu_frames_new (GstElement * element)
{
  GstHfxGpuFrames *gpu = g_new0 (GstHfxGpuFrames, 1);

  gpu->element = element;
  gpu->fd = -1;
  return gpu;
}

static void
clear_pool (GstHfxGpuFrames * gpu)
{
  if (gpu->pool) {
    gst_buffer_pool_set_active (gpu->pool, FALSE);
    gst_clear_object (&gpu->pool);
  }
}

void
gst_hfx_gpu_frames_free (GstHfxGpuFrames ** gpu)
{
  if (!*gpu)
    return;
  clear_pool (*gpu);
  if ((*gpu)->fd >= 0)
    close ((*gpu)->fd);
  g_free ((*gpu)->path);
  g_free (*gpu);
  *gpu = NULL;
}

const gchar *
gst_hfx_gpu_frames_device_path (GstHfxGpuFrames * gpu)
{
  return gpu->path;
}

#ifdef HFX_HAVE_VIRTGPU

/* The name of the driver behind a DRM fd, into name[cap]; FALSE when the
 * fd is not a DRM device. */
static gboolean
driver_name (gint fd, gchar * name, gsize cap)
{
  struct drm_version v = { 0 };

  v.name = name;
  v.name_len = cap - 1;
  memset (name, 0, cap);
  return ioctl (fd, DRM_IOCTL_VERSION, &v) == 0;
}

/* Opens device (a path) or, for auto, the first card node of the
 * virtio_gpu driver. */
static gboolean
open_device (GstHfxGpuFrames * gpu, const gchar * device, GError ** error)
{
  gchar name[64];

  if (g_strcmp0 (device, "auto") != 0) {
    gint fd = open (device, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
      g_set_error (error, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_OPEN_READ_WRITE, "gpu-device=%s: %s", device,
          g_strerror (errno));
      return FALSE;
    }
    if (!driver_name (fd, name, sizeof (name))
        || strcmp (name, "virtio_gpu") != 0) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "gpu-device=%s is not a DRM device of the virtio_gpu driver (%s)",
          device, name[0] ? name : "no DRM driver");
      close (fd);
      return FALSE;
    }
    gpu->fd = fd;
    gpu->path = g_strdup (device);
    return TRUE;
  }
  for (guint i = 0; i < MAX_CARDS; i++) {
    gchar *path = g_strdup_printf ("/dev/dri/card%u", i);
    gint fd = open (path, O_RDWR | O_CLOEXEC);

    if (fd >= 0 && driver_name (fd, name, sizeof (name))
        && strcmp (name, "virtio_gpu") == 0) {
      GST_INFO_OBJECT (gpu->element, "virtio-gpu resources from %s", path);
      gpu->fd = fd;
      gpu->path = path;
      return TRUE;
    }
    if (fd >= 0)
      close (fd);
    g_free (path);
  }
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "no DRM card of the virtio_gpu driver in /dev/dri (a guest with a "
      "virtio-gpu device and its module loaded)");
  return FALSE;
}

gboolean
gst_hfx_gpu_frames_set_format (GstHfxGpuFrames * gpu,
    const GstVideoInfo * info, guint slots, const gchar * device,
    GError ** error)
{
  clear_pool (gpu);
  if (gpu->fd < 0 && !open_device (gpu, device ? device : "auto", error))
    return FALSE;
  gpu->pool = gst_hfx_gpu_pool_new (gpu->fd, info, slots, error);
  return gpu->pool != NULL;
}

void
gst_hfx_gpu_frames_propose (GstHfxGpuFrames * gpu, GstQuery * query)
{
  GstStructure *config;
  GstCaps *caps;
  guint size, min, max;

  if (!gpu->pool)
    return;
  config = gst_buffer_pool_get_config (gpu->pool);
  if (gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max))
    gst_query_add_allocation_pool (query, gpu->pool, size, min, max);
  gst_structure_free (config);
}

GstFlowReturn
gst_hfx_gpu_frames_place (GstHfxGpuFrames * gpu, const GstVideoInfo * info,
    GstBuffer * buffer, struct hfx_frame *frame, GstBuffer ** slot)
{
  GstHfxGpuPool *pool = GST_HFX_GPU_POOL (gpu->pool);
  GstBuffer *named = buffer;
  GError *error = NULL;
  guint32 resource, stride;

  *slot = NULL;
  if (!gst_hfx_gpu_pool_buffer_resource (pool, buffer, &resource, &stride)) {
    GstVideoFrame src;
    gboolean copied;

    if (!gst_buffer_pool_set_active (gpu->pool, TRUE))
      goto inactive;
    if (!gst_video_frame_map (&src, info, buffer, GST_MAP_READ))
      goto map_failed;
    copied = gst_hfx_gpu_pool_acquire_copy (pool, &src, slot);
    gst_video_frame_unmap (&src);
    if (!copied)
      return GST_FLOW_FLUSHING;
    named = *slot;
    if (!gst_hfx_gpu_pool_buffer_resource (pool, named, &resource, &stride))
      goto inactive;
  }
  if (!gst_hfx_gpu_pool_transfer_to_host (pool, named, &error))
    goto transfer_failed;

  frame->source = HFX_SOURCE_RESOURCE;
  frame->region = resource;
  frame->plane_count = 1;
  frame->planes[0].offset = 0;
  frame->planes[0].stride = stride;
  return GST_FLOW_OK;

  /* ERRORS */
inactive:
  {
    GST_ELEMENT_ERROR (gpu->element, RESOURCE, FAILED,
        ("The pool of virtio-gpu resources cannot be used"), (NULL));
    gst_clear_buffer (slot);
    return GST_FLOW_ERROR;
  }
map_failed:
  {
    GST_ELEMENT_ERROR (gpu->element, STREAM, FORMAT, (NULL),
        ("cannot map frame"));
    return GST_FLOW_ERROR;
  }
transfer_failed:
  {
    GST_ELEMENT_ERROR (gpu->element, RESOURCE, WRITE,
        ("Cannot hand a frame to the host's copy of its virtio-gpu resource"),
        ("%s", error->message));
    g_clear_error (&error);
    gst_clear_buffer (slot);
    return GST_FLOW_ERROR;
  }
}

#else /* !HFX_HAVE_VIRTGPU */

gboolean
gst_hfx_gpu_frames_set_format (GstHfxGpuFrames * gpu,
    const GstVideoInfo * info, guint slots, const gchar * device,
    GError ** error)
{
  g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NOT_IMPLEMENTED,
      "this vsockenc was built without the DRM headers (libdrm-dev): "
      "frame-source=resource is not available");
  return FALSE;
}

void
gst_hfx_gpu_frames_propose (GstHfxGpuFrames * gpu, GstQuery * query)
{
}

GstFlowReturn
gst_hfx_gpu_frames_place (GstHfxGpuFrames * gpu, const GstVideoInfo * info,
    GstBuffer * buffer, struct hfx_frame *frame, GstBuffer ** slot)
{
  *slot = NULL;
  return GST_FLOW_ERROR;
}

#endif /* HFX_HAVE_VIRTGPU */
