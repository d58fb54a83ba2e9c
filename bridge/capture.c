/* SPDX-License-Identifier: MIT */
#include "capture.h"

#include <string.h>

#include <gio/gio.h>
#include <gst/app/app.h>
#include <gst/video/video.h>

#include "hfx/h264.h"
#include "portal.h"

struct _BridgeCapture
{
  GstElement *pipeline;
  GstElement *encoder;          /* vsockenc or x264enc */
  GstElement *convert;          /* where a file's decoded pad is linked */
  gboolean is_vsockenc;
  BridgeAuFunc on_au;
  BridgeCaptureErrorFunc on_error;
  gpointer user_data;
  guint bus_watch;
  BridgePortalStream portal;    /* pipewire through the portal; fd -1: none */
  gboolean loop;                /* seek back to the start at the end */
  gboolean is_pipewire;
  gsize frames_captured;        /* atomic: frames into the encoder's queue */
  /* BRIDGE_SOURCE_PUSHED */
  GstElement *appsrc;
  guint fps;
  GMutex push_lock;             /* the caps' size and the time below */
  guint pushed_width, pushed_height;
  GstClockTime pushed_pts;      /* the last picture's, running time */
};

/* A new element, already in the pipeline (which frees it). */
static GstElement *
make (BridgeCapture * cap, const gchar * factory, const gchar * name,
    GError ** error)
{
  GstElement *e = gst_element_factory_make (factory, name);

  if (e)
    gst_bin_add (GST_BIN (cap->pipeline), e);
  else if (error && !*error)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "GStreamer element %s is missing%s", factory,
        g_str_equal (factory, "vsockenc") ?
        " (set GST_PLUGIN_PATH to hfx's build/gst)" : "");
  return e;
}

/* --source pipewire:NODE. PipeWire 0.3.64 replaced "path" (a node id) with
 * "target-object": a node.name, or a number that the session manager takes
 * for an object.serial, not a node id. */
static void
set_pipewire_target (GstElement * src, const gchar * target)
{
  g_object_set (src, g_object_class_find_property (G_OBJECT_GET_CLASS (src),
          "target-object") ? "target-object" : "path", target, NULL);
}

/* No node given: ask the ScreenCast portal for a monitor, as a Wayland or
 * sandboxed desktop requires. Without a portal on the session bus,
 * pipewiresrc's own default (the default video node) is what there is. */
static gboolean
pipewire_from_portal (BridgeCapture * cap, GstElement * src, GError ** error)
{
  GError *err = NULL;
  gchar node[16];

  if (!bridge_portal_screencast (60000, &cap->portal, &err)) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED)) {
      g_printerr ("desktop-bridge: no ScreenCast portal (%s); using "
          "pipewiresrc's default node\n", err->message);
      g_clear_error (&err);
      return TRUE;
    }
    g_propagate_prefixed_error (error, err, "ScreenCast portal: ");
    return FALSE;
  }
  g_snprintf (node, sizeof (node), "%u", cap->portal.node);
  /* The portal gives a node id, which only "path" takes (as node.target,
   * deprecated but kept for portals); as "target-object" it would name the
   * node whose serial has that number, or none. */
  g_object_set (src, "fd", cap->portal.fd, "path", node, NULL);
  g_print ("desktop-bridge: ScreenCast portal session %s: PipeWire node %s\n",
      cap->portal.session, node);
  return TRUE;
}

/* videotestsrc stamps frame n with n / fps whenever it manages to make it
 * (do-timestamp only fills an empty PTS), so a source that makes 24 of 30
 * frames a second, as in a TCG guest, would look like one whose latency
 * grows by 0.2 s every second. The capture time is when the frame leaves
 * the source: stamp it with the pipeline clock there. The source's segment
 * starts at 0, so running time and PTS are the same. */
static GstPadProbeReturn
stamp_with_clock (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstElement *src = GST_PAD_PARENT (pad);
  GstClock *clock = gst_element_get_clock (src);
  GstClockTime now, base;
  GstBuffer *buf;

  if (!clock)
    return GST_PAD_PROBE_OK;
  now = gst_clock_get_time (clock);
  gst_object_unref (clock);
  base = gst_element_get_base_time (src);
  buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_BUFFER_PTS (buf) = now > base ? now - base : 0;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_frame (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  BridgeCapture *cap = user_data;

  g_atomic_pointer_add (&cap->frames_captured, 1);
  return GST_PAD_PROBE_OK;
}

static GstElement *
make_source (BridgeCapture * cap, const BridgeCaptureOptions * opts,
    GError ** error)
{
  GstElement *src = NULL;
  gchar *uri;

  switch (opts->source) {
    case BRIDGE_SOURCE_TEST:
      src = make (cap, "videotestsrc", "source", error);
      if (src) {
        GstPad *pad = gst_element_get_static_pad (src, "src");

        g_object_set (src, "is-live", TRUE, NULL);
        gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_with_clock,
            NULL, NULL);
        gst_object_unref (pad);
      }
      break;
    case BRIDGE_SOURCE_X11:
      src = make (cap, "ximagesrc", "source", error);
      if (src)
        g_object_set (src, "use-damage", TRUE, NULL);
      break;
    case BRIDGE_SOURCE_PIPEWIRE:
      src = make (cap, "pipewiresrc", "source", error);
      /* A frame that its producer sent without a time (as pipewiresink
       * does) reaches videorate without a PTS: videorate then stamps what it
       * passes n / fps and cannot fill in for a slower producer. Stamp
       * those with the clock as they leave the source; a producer's own
       * time (a compositor's) is kept. */
      if (src)
        g_object_set (src, "do-timestamp", TRUE, NULL);
      if (src && opts->path)
        set_pipewire_target (src, opts->path);
      else if (src && !pipewire_from_portal (cap, src, error))
        src = NULL;
      break;
    case BRIDGE_SOURCE_PUSHED:
      src = make (cap, "appsrc", "source", error);
      if (src) {
        /* Live, stamped with when the picture changed (else as pushed); a
         * stale picture gives way to a newer. */
        g_object_set (src, "is-live", TRUE, "format", GST_FORMAT_TIME,
            "do-timestamp", TRUE, "max-buffers", (guint64) 2, NULL);
        gst_util_set_object_arg (G_OBJECT (src), "leaky-type", "downstream");
        cap->appsrc = src;
      }
      break;
    case BRIDGE_SOURCE_FILE:
      uri = gst_filename_to_uri (opts->path, error);
      if (uri)
        src = make (cap, "uridecodebin", "source", error);
      if (src)
        g_object_set (src, "uri", uri, NULL);
      g_free (uri);
      break;
  }
  return src;
}

/* uridecodebin's pads come later: link the first raw video one. */
static void
on_pad_added (GstElement * src, GstPad * pad, BridgeCapture * cap)
{
  GstPad *sink = gst_element_get_static_pad (cap->convert, "sink");
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstStructure *s = caps ? gst_caps_get_structure (caps, 0) : NULL;

  if (s && g_str_has_prefix (gst_structure_get_name (s), "video/x-raw") &&
      !gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  if (caps)
    gst_caps_unref (caps);
  gst_object_unref (sink);
}

static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer user_data)
{
  BridgeCapture *cap = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstBuffer *buf;
  GstCaps *caps;
  GstMapInfo map;
  GstClockTime base, running;
  gint width = 0, height = 0;
  gint64 pts_us, capture_us;

  if (!sample)
    return GST_FLOW_EOS;
  buf = gst_sample_get_buffer (sample);
  caps = gst_sample_get_caps (sample);
  if (caps) {
    GstStructure *s = gst_caps_get_structure (caps, 0);
    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
  }
  /* The pipeline runs on the monotonic system clock, so base time + running
   * time is when the source stamped the frame, on the same clock as
   * g_get_monotonic_time (). Running time, not the PTS: x264enc shifts its
   * timestamps (and its segment) by 1000 hours. */
  base = gst_element_get_base_time (cap->pipeline);
  running = buf && GST_BUFFER_PTS_IS_VALID (buf) ?
      gst_segment_to_running_time (gst_sample_get_segment (sample),
      GST_FORMAT_TIME, GST_BUFFER_PTS (buf)) : GST_CLOCK_TIME_NONE;
  pts_us = GST_CLOCK_TIME_IS_VALID (running) ? (gint64) (running / 1000) : 0;
  capture_us = GST_CLOCK_TIME_IS_VALID (running) ?
      (gint64) ((base + running) / 1000) : g_get_monotonic_time ();
  if (buf && gst_buffer_map (buf, &map, GST_MAP_READ)) {
    /* Keyframes by NAL type, not by the encoder's flag
     * (docs/architecture.md, "Keyframes"). */
    cap->on_au (map.data, map.size, hfx_h264_is_idr (map.data, map.size),
        pts_us, capture_us, (guint) width, (guint) height, cap->user_data);
    gst_buffer_unmap (buf, &map);
  }
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  BridgeCapture *cap = user_data;
  GError *err = NULL;
  gchar *dbg = NULL, *text;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      text = g_strdup_printf ("%s: %s%s%s%s", GST_OBJECT_NAME (msg->src),
          err->message, dbg ? " (" : "", dbg ? dbg : "", dbg ? ")" : "");
      cap->on_error (text, cap->user_data);
      g_free (text);
      g_clear_error (&err);
      g_free (dbg);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      g_printerr ("desktop-bridge: warning from %s: %s\n",
          GST_OBJECT_NAME (msg->src), err->message);
      g_clear_error (&err);
      g_free (dbg);
      break;
    case GST_MESSAGE_EOS:
      /* A file plays in a loop: a stream that just stops would leave every
       * viewer on its last picture. */
      if (cap->loop && gst_element_seek_simple (cap->pipeline, GST_FORMAT_TIME,
              GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 0))
        break;
      cap->on_error ("end of stream", cap->user_data);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
set_encoder (BridgeCapture * cap, const BridgeCaptureOptions * opts)
{
  guint gop = MAX (1, opts->fps * MAX (opts->keyframe_interval_ms, 1) / 1000);

  /* Both take kbit/s and a GOP length in frames. */
  g_object_set (cap->encoder, "bitrate", opts->bitrate_kbit,
      "key-int-max", gop, NULL);
  if (cap->is_vsockenc) {
    if (opts->address)
      g_object_set (cap->encoder, "address", opts->address, NULL);
    if (opts->encoder == BRIDGE_ENCODER_AUTO)
      g_object_set (cap->encoder, "fallback", "x264enc", NULL);
  } else {
    gst_util_set_object_arg (G_OBJECT (cap->encoder), "speed-preset",
        "ultrafast");
    gst_util_set_object_arg (G_OBJECT (cap->encoder), "tune", "zerolatency");
  }
}

BridgeCapture *
bridge_capture_new (const BridgeCaptureOptions * opts, BridgeAuFunc on_au,
    BridgeCaptureErrorFunc on_error, gpointer user_data, GError ** error)
{
  BridgeCapture *cap = g_new0 (BridgeCapture, 1);
  GstElement *src, *scale, *filter, *queue, *parse, *h264caps, *sink;
  GstElement *pace = NULL, *rate = NULL, *srccaps = NULL;
  /* test and x11 produce frames at the rate they are asked for; videorate
   * would hold every frame until the next one came (a frame of latency),
   * so it is only for sources with their own timing. */
  gboolean own_timing = opts->source == BRIDGE_SOURCE_FILE ||
      opts->source == BRIDGE_SOURCE_PIPEWIRE;
  GstCaps *caps;
  GstBus *bus;
  GstClock *clock;
  const gchar *enc_name;
  gboolean ok;

  cap->portal.fd = -1;
  cap->fps = opts->fps;
  g_mutex_init (&cap->push_lock);
  cap->pushed_pts = GST_CLOCK_TIME_NONE;
  cap->loop = opts->source == BRIDGE_SOURCE_FILE;
  cap->is_pipewire = opts->source == BRIDGE_SOURCE_PIPEWIRE;
  cap->on_au = on_au;
  cap->on_error = on_error;
  cap->user_data = user_data;
  cap->pipeline = gst_pipeline_new ("desktop-bridge");
  clock = gst_system_clock_obtain ();
  g_object_set (clock, "clock-type", GST_CLOCK_TYPE_MONOTONIC, NULL);
  gst_pipeline_use_clock (GST_PIPELINE (cap->pipeline), clock);
  gst_object_unref (clock);

  enc_name = opts->encoder == BRIDGE_ENCODER_X264ENC ? "x264enc" : "vsockenc";
  cap->encoder = make (cap, enc_name, "encoder", NULL);
  if (!cap->encoder && opts->encoder == BRIDGE_ENCODER_AUTO) {
    g_printerr ("desktop-bridge: vsockenc is not installed; using x264enc\n");
    enc_name = "x264enc";
    cap->encoder = make (cap, enc_name, "encoder", NULL);
  }
  if (!cap->encoder) {
    make (cap, enc_name, "encoder", error);
    goto failed;
  }
  cap->is_vsockenc = g_str_equal (enc_name, "vsockenc");
  set_encoder (cap, opts);

  src = make_source (cap, opts, error);
  if (!src)
    goto failed;
  cap->convert = make (cap, "videoconvert", "convert", error);
  scale = make (cap, "videoscale", "scale", error);
  if (own_timing)
    rate = make (cap, "videorate", "rate", error);
  else
    srccaps = make (cap, "capsfilter", "srccaps", error);
  filter = make (cap, "capsfilter", "rawcaps", error);
  queue = make (cap, "queue", "queue", error);
  parse = make (cap, "h264parse", "parse", error);
  h264caps = make (cap, "capsfilter", "h264caps", error);
  sink = make (cap, "appsink", "sink", error);
  if (opts->source == BRIDGE_SOURCE_FILE)
    pace = make (cap, "clocksync", "pace", error);
  if (!cap->convert || !scale || !(rate || srccaps) || !filter || !queue ||
      !parse ||
      !h264caps || !sink || (opts->source == BRIDGE_SOURCE_FILE && !pace))
    goto failed;

  caps = gst_caps_new_simple ("video/x-raw", "framerate", GST_TYPE_FRACTION,
      opts->fps, 1, NULL);
  g_object_set (rate ? filter : srccaps, "caps", caps, NULL);
  gst_caps_unref (caps);
  caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "NV12",
      NULL);
  if (rate)
    gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, opts->fps, 1,
        NULL);
  if (opts->width && opts->height)
    gst_caps_set_simple (caps, "width", G_TYPE_INT, opts->width, "height",
        G_TYPE_INT, opts->height, NULL);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  /* A frame waiting for a busy encoder is stale: keep only the newest. */
  g_object_set (queue, "max-size-buffers", 2, "max-size-bytes", 0,
      "max-size-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (queue), "leaky", "downstream");
  /* Frames as the source delivers them, before videorate repeats or drops
   * any: against access units out, for the test and x11 sources, what the
   * leaky queue (or vsockenc) dropped. */
  {
    GstPad *pad = gst_element_get_static_pad (cap->convert, "sink");

    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_frame, cap, NULL);
    gst_object_unref (pad);
  }
  /* SPS and PPS in front of every IDR: each keyframe is a start point. */
  g_object_set (parse, "config-interval", -1, NULL);
  caps = gst_caps_from_string
      ("video/x-h264,stream-format=byte-stream,alignment=au");
  g_object_set (h264caps, "caps", caps, NULL);
  gst_caps_unref (caps);
  g_object_set (sink, "sync", FALSE, "max-buffers", 4, "drop", FALSE, NULL);
  {
    GstAppSinkCallbacks cbs = {.new_sample = on_new_sample };
    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cbs, cap, NULL);
  }

  ok = (rate ? gst_element_link_many (cap->convert, scale, rate, filter, NULL)
      : gst_element_link_many (cap->convert, scale, filter, NULL)) &&
      (pace ? gst_element_link_many (filter, pace, queue, NULL) :
      gst_element_link (filter, queue)) &&
      gst_element_link_many (queue, cap->encoder, parse, h264caps, sink, NULL);
  if (opts->source == BRIDGE_SOURCE_FILE)
    g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), cap);
  else
    ok = ok && (srccaps ? gst_element_link_many (src, srccaps, cap->convert,
            NULL) : gst_element_link (src, cap->convert));
  if (!ok) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
        "cannot link the capture pipeline");
    goto failed;
  }
  bus = gst_pipeline_get_bus (GST_PIPELINE (cap->pipeline));
  cap->bus_watch = gst_bus_add_watch (bus, on_bus_message, cap);
  gst_object_unref (bus);
  return cap;

failed:
  gst_object_unref (cap->pipeline);
  bridge_portal_stream_clear (&cap->portal);
  g_mutex_clear (&cap->push_lock);
  g_free (cap);
  return NULL;
}

gboolean
bridge_capture_start (BridgeCapture * cap, GError ** error)
{
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gchar *dbg = NULL;

  /* pipewiresrc waits in the state change until a session manager links
   * its stream, and gives up after 30 s without a word: say what the wait
   * is. */
  if (cap->is_pipewire)
    g_print ("desktop-bridge: waiting for PipeWire to link the stream to its "
        "node (pipewiresrc gives up after 30 s)\n");
  if (gst_element_set_state (cap->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE)
    return TRUE;
  /* The main loop is not running yet: take the element's reason from the
   * bus here. */
  bus = gst_pipeline_get_bus (GST_PIPELINE (cap->pipeline));
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  if (msg)
    gst_message_parse_error (msg, &err, &dbg);
  /* With no node to link to, pipewiresrc either times out without a word
   * or gets linked to some other node and fails to negotiate: the hint
   * serves both. */
  g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
      "the capture pipeline does not start: %s: %s%s%s%s%s",
      msg ? GST_OBJECT_NAME (msg->src) : "?", err ? err->message :
      "no element said why", dbg ? " (" : "", dbg ? dbg : "", dbg ? ")" : "",
      cap->is_pipewire ? "; PipeWire: is the node there, does it offer raw "
      "video, and is a session manager such as WirePlumber running to link "
      "the stream?" : "");
  g_clear_error (&err);
  g_free (dbg);
  if (msg)
    gst_message_unref (msg);
  return FALSE;
}

gboolean
bridge_capture_push_bgrx (BridgeCapture * cap, const guint8 * data,
    guint stride, guint width, guint height, gint64 changed_us)
{
  GstBuffer *buf;
  GstMapInfo map;
  gsize row = (gsize) width * 4;
  GstClockTime base, now, pts;

  g_return_val_if_fail (cap->appsrc, FALSE);
  buf = gst_buffer_new_allocate (NULL, row * height, NULL);
  if (!buf || !gst_buffer_map (buf, &map, GST_MAP_WRITE)) {
    if (buf)
      gst_buffer_unref (buf);
    return FALSE;
  }
  for (guint y = 0; y < height; y++)
    memcpy (map.data + row * y, data + (gsize) stride * y, row);
  gst_buffer_unmap (buf, &map);

  g_mutex_lock (&cap->push_lock);
  if (width != cap->pushed_width || height != cap->pushed_height) {
    GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format",
        G_TYPE_STRING, "BGRx", "width", G_TYPE_INT, (gint) width, "height",
        G_TYPE_INT, (gint) height, "framerate", GST_TYPE_FRACTION,
        (gint) cap->fps, 1, NULL);

    gst_app_src_set_caps (GST_APP_SRC (cap->appsrc), caps);
    gst_caps_unref (caps);
    cap->pushed_width = width;
    cap->pushed_height = height;
  }
  /* The pipeline's clock is the monotonic system clock (on_new_sample):
   * the running time of changed_us is changed_us less the base time. The
   * stream's capture time, and so its latency, then count from the
   * change. Times go forward only: a repeated picture, or one from before
   * the pipeline ran, is stamped now. */
  base = gst_element_get_base_time (cap->pipeline);
  now = (GstClockTime) g_get_monotonic_time () * 1000;
  pts = now > base ? now - base : 0;
  if (changed_us > 0 && (GstClockTime) changed_us * 1000 > base &&
      (GstClockTime) changed_us * 1000 - base < pts &&
      (!GST_CLOCK_TIME_IS_VALID (cap->pushed_pts) ||
          (GstClockTime) changed_us * 1000 - base > cap->pushed_pts))
    pts = (GstClockTime) changed_us * 1000 - base;
  if (GST_CLOCK_TIME_IS_VALID (cap->pushed_pts) && pts <= cap->pushed_pts)
    pts = cap->pushed_pts + 1;
  cap->pushed_pts = pts;
  GST_BUFFER_PTS (buf) = pts;
  g_mutex_unlock (&cap->push_lock);
  return gst_app_src_push_buffer (GST_APP_SRC (cap->appsrc), buf) ==
      GST_FLOW_OK;
}

void
bridge_capture_request_keyframe (BridgeCapture * cap)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (cap->pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  /* Upstream from the sink reaches the encoder through h264parse. */
  gst_pad_push_event (pad,
      gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE,
          0));
  gst_object_unref (pad);
  gst_object_unref (sink);
}

guint64
bridge_capture_frames_captured (BridgeCapture * cap)
{
  return (guint64) (gsize) g_atomic_pointer_get (&cap->frames_captured);
}

gchar *
bridge_capture_encoder_in_use (BridgeCapture * cap)
{
  GstStructure *stats = NULL;
  gboolean connected = FALSE;
  gchar *backend = NULL, *text;
  guint64 fallback = 0;

  if (!cap->is_vsockenc)
    return g_strdup ("x264enc");
  g_object_get (cap->encoder, "stats", &stats, "connected", &connected, NULL);
  if (stats) {
    backend = g_strdup (gst_structure_get_string (stats, "backend"));
    gst_structure_get_uint64 (stats, "fallback-frames", &fallback);
    gst_structure_free (stats);
  }
  if (connected)
    text = g_strdup_printf ("vsockenc (host %s)", backend && backend[0] ?
        backend : "encoder");
  else if (fallback)
    text = g_strdup ("x264enc (vsockenc fallback: no host)");
  else
    text = g_strdup ("vsockenc (not connected)");
  g_free (backend);
  return text;
}

void
bridge_capture_free (BridgeCapture * cap)
{
  if (!cap)
    return;
  gst_element_set_state (cap->pipeline, GST_STATE_NULL);
  if (cap->bus_watch)
    g_source_remove (cap->bus_watch);
  gst_object_unref (cap->pipeline);
  bridge_portal_stream_clear (&cap->portal);
  g_mutex_clear (&cap->push_lock);
  g_free (cap);
}
