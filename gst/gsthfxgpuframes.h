/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's frames as resources of the guest's virtio-gpu
 * (frame-source=resource, docs/protocol.md §5.3): the device, the pool of
 * the negotiated format, and the FRAME that names a buffer's resource.
 * Documented in gsthfxgpuframes.c.
 *
 * Ownership: the element owns the GstHfxGpuFrames (new at start, free at
 * stop); the GstHfxGpuFrames owns the device's fd and its pool.
 *
 * Threads: the streaming thread only.
 */

#ifndef __GST_HFX_GPU_FRAMES_H__
#define __GST_HFX_GPU_FRAMES_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "hfx/client.h"

G_BEGIN_DECLS

typedef struct _GstHfxGpuFrames GstHfxGpuFrames;

/* element: borrowed, must outlive the result (logs).
 * Returns: (transfer full): free with gst_hfx_gpu_frames_free (). */
GstHfxGpuFrames *gst_hfx_gpu_frames_new (GstElement * element);

/* Deactivates and drops the pool, closes the device. Buffers upstream
 * still holds keep their resources (gsthfxgpupool.c). NULL-safe; sets
 * *gpu to NULL. */
void gst_hfx_gpu_frames_free (GstHfxGpuFrames ** gpu);

/* A new pool of up to slots resources for info (BGRx only), on the device
 * named by device: a DRM card node, or auto for the first card of the
 * virtio_gpu driver (opened at the first call and kept until free). The
 * previous pool is deactivated and dropped first. info, device: borrowed
 * for the call. Returns FALSE with error set. */
gboolean gst_hfx_gpu_frames_set_format (GstHfxGpuFrames * gpu,
    const GstVideoInfo * info, guint slots, const gchar * device,
    GError ** error);

/* The device's path, NULL before set_format opened one; owned by gpu. */
const gchar *gst_hfx_gpu_frames_device_path (GstHfxGpuFrames * gpu);

/* Adds the pool to an ALLOCATION query. query: borrowed for the call. */
void gst_hfx_gpu_frames_propose (GstHfxGpuFrames * gpu, GstQuery * query);

/* Makes frame a RESOURCE frame of buffer's picture: a buffer of the pool
 * is named as it is, any other is copied into a resource of the pool
 * (which may wait for the host to release one); the resource is then
 * transferred to the host. info, buffer: borrowed for the call. *slot:
 * (transfer full) (nullable): the resource copied into, to be kept until
 * the host has answered the frame; NULL when buffer is the pool's.
 * Returns: GST_FLOW_OK; GST_FLOW_ERROR after posting an element error;
 * GST_FLOW_FLUSHING when no resource can be had (the pool is flushing). */
GstFlowReturn gst_hfx_gpu_frames_place (GstHfxGpuFrames * gpu,
    const GstVideoInfo * info, GstBuffer * buffer, struct hfx_frame *frame,
    GstBuffer ** slot);

G_END_DECLS

#endif /* __GST_HFX_GPU_FRAMES_H__ */
