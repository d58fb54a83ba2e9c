/* SPDX-License-Identifier: MIT */
/* hfx: the local encoder vsockenc runs while the host is unreachable.
 */

/**
 * SECTION:gsthfxfallback
 * @title: GstHfxFallback
 * @short_description: a local H.264 encoder for the time the host is away
 *
 * vsockenc's property fallback names an encoder factory (e.g. x264enc). When
 * a frame cannot go to the host, the element is made, linked between two
 * pads of our own and set PLAYING; frames are pushed into it and each
 * access unit that comes out is handed back with the frame number it
 * belongs to. The encoder is asked for zero latency where it knows that
 * (x264enc: tune=zerolatency, speed-preset=ultrafast), so that outputs come
 * in frame order, one per frame, before the push returns.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxfallback.h"

GST_DEBUG_CATEGORY_EXTERN (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

struct _GstHfxFallback
{
  GstVideoEncoder *encoder;     /* borrowed: owns this */
  GstHfxFallbackEncodedFunc encoded;
  GstElement *element;          /* the local encoder; owned */
  GstPad *src;                  /* ours, feeds element's sink pad; owned */
  GstPad *sink;                 /* ours, receives its output; owned */
  GstCaps *output_caps;         /* what sink accepts; owned */
  GQueue frames;                /* system_frame_number + 1 given to it */
};

static GstFlowReturn
fallback_sink_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstHfxFallback *fb = gst_pad_get_element_private (pad);
  gpointer id = g_queue_pop_head (&fb->frames);

  if (!id) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  return fb->encoded (fb->encoder, GPOINTER_TO_UINT (id) - 1, buf,
      !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT));
}

static gboolean
fallback_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstHfxFallback *fb = gst_pad_get_element_private (pad);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    /* Our output is byte-stream/au whoever encodes, in the profile
     * downstream asked for. */
    gst_query_set_caps_result (query, fb->output_caps);
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result (query, TRUE);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
fallback_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gst_event_unref (event);
  return TRUE;
}

static gboolean
link_fallback (GstHfxFallback * fb)
{
  GstPad *sink = gst_element_get_static_pad (fb->element, "sink");
  GstPad *src = gst_element_get_static_pad (fb->element, "src");
  gboolean ok = sink && src
      && gst_pad_link (fb->src, sink) == GST_PAD_LINK_OK
      && gst_pad_link (src, fb->sink) == GST_PAD_LINK_OK;

  gst_clear_object (&sink);
  gst_clear_object (&src);
  return ok;
}

GstHfxFallback *
gst_hfx_fallback_new (GstVideoEncoder * encoder, const gchar * factory,
    guint bitrate_kbps, GstCaps * input_caps, const gchar * profile,
    GstHfxFallbackEncodedFunc encoded)
{
  GstHfxFallback *fb;
  GstElement *e;
  GstSegment segment;

  e = gst_element_factory_make (factory, NULL);
  if (!e)
    goto not_found;

  fb = g_new0 (GstHfxFallback, 1);
  fb->encoder = encoder;
  fb->encoded = encoded;
  g_queue_init (&fb->frames);
  /* Low latency where the encoder knows it (x264enc): one frame in, one
   * out, so outputs match frames in order. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "tune"))
    gst_util_set_object_arg (G_OBJECT (e), "tune", "zerolatency");
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "speed-preset"))
    gst_util_set_object_arg (G_OBJECT (e), "speed-preset", "ultrafast");
  fb->element = gst_object_ref_sink (e);
  gst_hfx_fallback_set_bitrate (fb, bitrate_kbps);
  fb->output_caps = gst_caps_new_simple ("video/x-h264",
      "stream-format", G_TYPE_STRING, "byte-stream",
      "alignment", G_TYPE_STRING, "au", NULL);
  if (profile)
    gst_caps_set_simple (fb->output_caps, "profile", G_TYPE_STRING, profile,
        NULL);
  fb->src = gst_object_ref_sink (gst_pad_new ("fallback_src", GST_PAD_SRC));
  fb->sink = gst_object_ref_sink (gst_pad_new ("fallback_sink", GST_PAD_SINK));
  gst_pad_set_element_private (fb->sink, fb);
  gst_pad_set_chain_function (fb->sink, fallback_sink_chain);
  gst_pad_set_query_function (fb->sink, fallback_sink_query);
  gst_pad_set_event_function (fb->sink, fallback_sink_event);
  gst_pad_set_active (fb->src, TRUE);
  gst_pad_set_active (fb->sink, TRUE);
  if (!link_fallback (fb))
    goto link_failed;
  if (gst_element_set_state (fb->element,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    goto start_failed;

  gst_pad_push_event (fb->src, gst_event_new_stream_start ("vsockenc"));
  gst_pad_push_event (fb->src, gst_event_new_caps (input_caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (fb->src, gst_event_new_segment (&segment));
  GST_INFO_OBJECT (encoder, "encoding with %s", factory);
  return fb;

  /* ERRORS */
not_found:
  {
    GST_ELEMENT_ERROR (encoder, CORE, MISSING_PLUGIN,
        ("Fallback encoder '%s' not found", factory), (NULL));
    return NULL;
  }
link_failed:
  {
    GST_ELEMENT_ERROR (encoder, CORE, NEGOTIATION,
        ("Cannot link the fallback encoder"), (NULL));
    gst_hfx_fallback_free (&fb);
    return NULL;
  }
start_failed:
  {
    GST_ELEMENT_ERROR (encoder, CORE, STATE_CHANGE,
        ("Cannot start the fallback encoder"), (NULL));
    gst_hfx_fallback_free (&fb);
    return NULL;
  }
}

GstFlowReturn
gst_hfx_fallback_encode (GstHfxFallback * fb, GstVideoCodecFrame * frame)
{
  GstBuffer *in = gst_buffer_ref (frame->input_buffer);

  GST_BUFFER_PTS (in) = frame->pts;
  if (GST_VIDEO_CODEC_FRAME_IS_FORCE_KEYFRAME (frame))
    gst_pad_push_event (fb->src,
        gst_video_event_new_downstream_force_key_unit (frame->pts,
            GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0));
  g_queue_push_tail (&fb->frames,
      GUINT_TO_POINTER (frame->system_frame_number + 1));
  gst_video_codec_frame_unref (frame);
  /* x264enc with zerolatency pushes the encoded frame before returning;
   * fallback_sink_chain hands it back. */
  return gst_pad_push (fb->src, in);
}

void
gst_hfx_fallback_set_bitrate (GstHfxFallback * fb, guint bitrate_kbps)
{
  /* x264enc's bitrate is kbit/s too. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (fb->element),
          "bitrate"))
    g_object_set (fb->element, "bitrate", bitrate_kbps, NULL);
}

void
gst_hfx_fallback_finish (GstHfxFallback * fb)
{
  gst_pad_push_event (fb->src, gst_event_new_eos ());
}

void
gst_hfx_fallback_free (GstHfxFallback ** fallback)
{
  GstHfxFallback *fb = *fallback;
  GstPad *peer;

  if (!fb)
    return;
  gst_element_set_state (fb->element, GST_STATE_NULL);
  peer = gst_pad_get_peer (fb->src);
  if (peer) {
    gst_pad_unlink (fb->src, peer);
    gst_object_unref (peer);
  }
  peer = gst_pad_get_peer (fb->sink);
  if (peer) {
    gst_pad_unlink (peer, fb->sink);
    gst_object_unref (peer);
  }
  gst_pad_set_active (fb->src, FALSE);
  gst_pad_set_active (fb->sink, FALSE);
  gst_object_unref (fb->element);
  gst_object_unref (fb->src);
  gst_object_unref (fb->sink);
  gst_caps_unref (fb->output_caps);
  g_queue_clear (&fb->frames);
  g_free (fb);
  *fallback = NULL;
}
