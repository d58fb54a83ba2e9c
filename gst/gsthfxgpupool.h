/* SPDX-License-Identifier: MIT */
/* hfx: a buffer pool whose buffers are resources of the guest's virtio-gpu
 * (DRM dumb buffers, mapped). Documented in gsthfxgpupool.c.
 *
 * Ownership: the pool duplicates the DRM fd it is given; the fd, and every
 * dumb buffer, live as long as the pool or any buffer of it.
 */

#ifndef __GST_HFX_GPU_POOL_H__
#define __GST_HFX_GPU_POOL_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_HFX_GPU_POOL (gst_hfx_gpu_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstHfxGpuPool, gst_hfx_gpu_pool, GST, HFX_GPU_POOL,
    GstBufferPool)

/* drm_fd: a virtio-gpu DRM card node, borrowed (the pool keeps a
 * duplicate). info: a BGRx layout, borrowed. max_buffers: the most
 * resources the pool makes (1 or more). */
GstBufferPool *gst_hfx_gpu_pool_new (gint drm_fd, const GstVideoInfo * info,
    guint max_buffers, GError ** error);

/* buf: borrowed. Whether buf is one resource of pool; then *resource is
 * its virtio-gpu resource id and *stride its row pitch. */
gboolean gst_hfx_gpu_pool_buffer_resource (GstHfxGpuPool * pool,
    GstBuffer * buf, guint32 * resource, guint32 * stride);

/* buf: borrowed, a buffer of pool. Its pixels to the host's copy of the
 * resource (TRANSFER_TO_HOST of the whole picture). */
gboolean gst_hfx_gpu_pool_transfer_to_host (GstHfxGpuPool * pool,
    GstBuffer * buf, GError ** error);

/* src: borrowed, a mapped frame of the pool's format and size. *out:
 * (transfer full): a buffer of the pool holding the copy; waits for one
 * while all are in use. FALSE when the pool is flushing or inactive. */
gboolean gst_hfx_gpu_pool_acquire_copy (GstHfxGpuPool * pool,
    const GstVideoFrame * src, GstBuffer ** out);

G_END_DECLS

#endif /* __GST_HFX_GPU_POOL_H__ */
