/* SPDX-License-Identifier: MIT */
/* hfx: the local encoder (property fallback, e.g. x264enc) that vsockenc
 * runs while the host is unreachable. Documented in gsthfxfallback.c.
 *
 * Ownership: the element owns the GstHfxFallback (new when the host is
 * first missed, free when it answers again, the format changes or the
 * element stops); the GstHfxFallback owns the local encoder and the two
 * internal pads linked to it.
 *
 * Threads: the streaming thread only, with the stream lock held.
 */

#ifndef __GST_HFX_FALLBACK_H__
#define __GST_HFX_FALLBACK_H__

#include <gst/gst.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct _GstHfxFallback GstHfxFallback;

/* The local encoder produced the access unit of frame_number. buffer:
 * (transfer full). Returns the flow of gst_video_encoder_finish_frame ().
 * Called on the streaming thread, from gst_hfx_fallback_encode (). */
typedef GstFlowReturn (*GstHfxFallbackEncodedFunc) (GstVideoEncoder * encoder,
    guint32 frame_number, GstBuffer * buffer, gboolean keyframe);

/* Creates factory's element, links it and sets it PLAYING with the stream
 * events for input_caps. encoder: borrowed, must outlive the result;
 * factory, input_caps, profile: borrowed for the call; profile: the H.264
 * profile downstream wants (caps name, e.g. "constrained-baseline") or
 * NULL for any.
 * Returns: (transfer full) (nullable): NULL after posting an element error
 * on encoder. */
GstHfxFallback *gst_hfx_fallback_new (GstVideoEncoder * encoder,
    const gchar * factory, guint bitrate_kbps, GstCaps * input_caps,
    const gchar * profile, GstHfxFallbackEncodedFunc encoded);

/* Encodes frame: (transfer full). Returns what pushing it returned,
 * including the flow of finishing it (the local encoder is asked for
 * zero latency: one frame in, its access unit out). */
GstFlowReturn gst_hfx_fallback_encode (GstHfxFallback * fallback,
    GstVideoCodecFrame * frame);

/* Passes a bitrate change on, where the local encoder has the property. */
void gst_hfx_fallback_set_bitrate (GstHfxFallback * fallback,
    guint bitrate_kbps);

/* EOS: the local encoder gives out what it holds. */
void gst_hfx_fallback_finish (GstHfxFallback * fallback);

/* Stops and frees the local encoder; frames it had not answered stay with
 * the base class. NULL-safe; sets *fallback to NULL. */
void gst_hfx_fallback_free (GstHfxFallback ** fallback);

G_END_DECLS

#endif /* __GST_HFX_FALLBACK_H__ */
