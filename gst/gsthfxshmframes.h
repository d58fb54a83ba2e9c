/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's frames in memory shared with the host (docs/protocol.md
 * §7): the pool of the negotiated format, in the guest's ivshmem region or
 * in a memfd, its attachment to a connection, and where a frame's planes
 * are in it. Documented in gsthfxshmframes.c.
 *
 * Ownership: the element owns the GstHfxShmFrames (new at start, free at
 * stop); the GstHfxShmFrames owns its pool and its reference on the
 * ivshmem region. The host session borrows it between
 * gst_hfx_session_configure () and gst_hfx_session_forget_format ().
 *
 * Threads: everything runs on the streaming thread, except
 * gst_hfx_shm_frames_attach (), which the session's reader thread also
 * calls on a reconnect; the pool is therefore only replaced or dropped
 * while no session borrows it.
 */

#ifndef __GST_HFX_SHM_FRAMES_H__
#define __GST_HFX_SHM_FRAMES_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "hfx/client.h"

G_BEGIN_DECLS

typedef struct _GstHfxShmFrames GstHfxShmFrames;

/* element: borrowed, must outlive the result (messages and logs).
 * Returns: (transfer full): free with gst_hfx_shm_frames_free (). */
GstHfxShmFrames *gst_hfx_shm_frames_new (GstElement * element);

/* Deactivates and drops the pool and the ivshmem region. Buffers upstream
 * still holds keep their memory mapped (gsthfxshmpool.c). NULL-safe; sets
 * *shm to NULL. */
void gst_hfx_shm_frames_free (GstHfxShmFrames ** shm);

/* A new pool of slots frames of info: in the ivshmem region named by
 * device (opened at the first call and kept until free: its flock keeps
 * other encoders out) or, without one, in a new memfd. The previous pool
 * is deactivated and dropped first. info, device: borrowed for the call.
 * Returns FALSE with error set when no memory can be had. */
gboolean gst_hfx_shm_frames_set_format (GstHfxShmFrames * shm,
    const GstVideoInfo * info, guint slots, const gchar * device,
    GError ** error);

/* Deactivates and drops the pool (frame-source=inline); the region stays. */
void gst_hfx_shm_frames_clear (GstHfxShmFrames * shm);

gboolean gst_hfx_shm_frames_has_pool (GstHfxShmFrames * shm);

/* Make the pool's frames readable by the host on this connection: attach
 * the memfd (*region gets its id) or check that the host shares the
 * ivshmem region as region 0 (*region = 0). client: borrowed for the call.
 * On failure *why (a static string) says what is missing. */
enum hfx_status gst_hfx_shm_frames_attach (GstHfxShmFrames * shm,
    struct hfx_client *client, guint32 * region, const gchar ** why);

/* The ivshmem resource file, or NULL for a memfd; owned by shm. */
const gchar *gst_hfx_shm_frames_device_path (GstHfxShmFrames * shm);

gsize gst_hfx_shm_frames_size (GstHfxShmFrames * shm);

/* Adds the pool to an ALLOCATION query. query: borrowed for the call. */
void gst_hfx_shm_frames_propose (GstHfxShmFrames * shm, GstQuery * query);

/* Sets frame->planes[] to where buffer's planes are in the region. A
 * buffer of the pool is sent where it is; any other is copied into a free
 * slot, which may wait for the host to release one. info, buffer: borrowed
 * for the call. *slot: (transfer full) (nullable): the slot copied into,
 * to be kept until the host has answered the frame; NULL when the buffer
 * is the pool's.
 * Returns: GST_FLOW_OK; GST_FLOW_ERROR when buffer cannot be mapped (an
 * element error is posted); GST_FLOW_FLUSHING when no slot can be had
 * (the pool is flushing). */
GstFlowReturn gst_hfx_shm_frames_place (GstHfxShmFrames * shm,
    const GstVideoInfo * info, GstBuffer * buffer, struct hfx_frame *frame,
    GstBuffer ** slot);

G_END_DECLS

#endif /* __GST_HFX_SHM_FRAMES_H__ */
