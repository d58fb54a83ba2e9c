/* SPDX-License-Identifier: MIT */
/* hfx: the copy path of vsockenc's pools (shared memory, virtio-gpu
 * resources): a frame from elsewhere copied into a buffer of the pool.
 */

#ifndef __GST_HFX_POOL_COPY_H__
#define __GST_HFX_POOL_COPY_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

/* Acquires a buffer of pool (active; waits while all are in use, unless
 * dontwait) and copies src into it with gst_video_frame_copy (). pool,
 * info (the pool's layout), src (mapped): borrowed for the call. *out:
 * (transfer full): the buffer, NULL on failure. FALSE when no buffer can
 * be had (flushing, inactive, or dontwait and none free) or the copy
 * fails (logged on pool). */
gboolean gst_hfx_pool_acquire_copy (GstBufferPool * pool,
    const GstVideoInfo * info, const GstVideoFrame * src, gboolean dontwait,
    GstBuffer ** out);

G_END_DECLS

#endif /* __GST_HFX_POOL_COPY_H__ */
