/* SPDX-License-Identifier: MIT */
/* hfx: a buffer pool whose buffers live in one sealed memfd shared with
 * the host encoder. Documented in gsthfxshmpool.c.
 */

#ifndef __GST_HFX_SHM_POOL_H__
#define __GST_HFX_SHM_POOL_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gsthfxivshmem.h"

G_BEGIN_DECLS

#define GST_TYPE_HFX_SHM_POOL (gst_hfx_shm_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstHfxShmPool, gst_hfx_shm_pool, GST, HFX_SHM_POOL,
    GstBufferPool)

/**
 * GST_HFX_SHM_POOL_MAX_SLOTS:
 *
 * The largest number of slots (and so of buffers) one pool can have.
 */
#define GST_HFX_SHM_POOL_MAX_SLOTS 64

/**
 * GST_HFX_SHM_POOL_SLOT_ALIGN:
 *
 * Every slot starts at a multiple of this many bytes in the region.
 */
#define GST_HFX_SHM_POOL_SLOT_ALIGN 4096

GstBufferPool *gst_hfx_shm_pool_new (const GstVideoInfo * info, guint slots,
    GError ** error);

/* ivshmem: borrowed, the pool keeps a reference */
GstBufferPool *gst_hfx_shm_pool_new_in_ivshmem (const GstVideoInfo * info,
    guint slots, GstHfxIvshmem * ivshmem, GError ** error);

/* borrowed: open as long as the pool or any of its buffers */
gint gst_hfx_shm_pool_get_fd (GstHfxShmPool * pool);

/* the region the slots are in, NULL for a memfd pool; borrowed */
GstHfxIvshmem *gst_hfx_shm_pool_get_ivshmem (GstHfxShmPool * pool);

gsize gst_hfx_shm_pool_get_size (GstHfxShmPool * pool);

gsize gst_hfx_shm_pool_get_slot_size (GstHfxShmPool * pool);

/* buf: borrowed */
gboolean gst_hfx_shm_pool_buffer_offset (GstHfxShmPool * pool,
    GstBuffer * buf, gsize * offset);

/* src: borrowed; *out: taken by the caller, unref it when the host is done */
gboolean gst_hfx_shm_pool_acquire_slot_copy (GstHfxShmPool * pool,
    const GstVideoFrame * src, gboolean dontwait, GstBuffer ** out,
    gsize * offset);

G_END_DECLS

#endif /* __GST_HFX_SHM_POOL_H__ */
