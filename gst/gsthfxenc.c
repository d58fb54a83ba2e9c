/* SPDX-License-Identifier: MIT */
/**
 * SECTION:element-vsockenc
 * @title: vsockenc
 *
 * Encodes raw video to H.264 by handing the frames to an hfx host (hfxd or
 * a QEMU with the hfx patch), which encodes them with a hardware encoder or
 * libx264 and sends the access units back. Use it wherever x264enc stands.
 *
 * The H.264 profile follows what downstream accepts (e.g. a WebRTC stack's
 * `profile=constrained-baseline`): the host is asked for it and the caps
 * carry the profile and level of the stream the host produced.
 *
 * When the host goes away, a warning is posted on the bus; when it is back,
 * an element message named `hfx-host-connected` (field `address`).
 *
 * ## Example pipelines
 * |[
 * gst-launch-1.0 videotestsrc num-buffers=300 ! video/x-raw,format=NV12,width=1280,height=720 ! \
 *     vsockenc address=unix:/run/hfx.sock ! h264parse ! mp4mux ! filesink location=out.mp4
 * ]|
 * |[
 * gst-launch-1.0 ximagesrc ! videoconvert ! vsockenc fallback=x264enc ! h264parse ! ...
 * ]|
 * In a guest, the default address `auto` finds the virtio-serial port
 * org.helix.frame-export, then vsock CID 2 port 5900.
 *
 * The element is the GstVideoEncoder glue; the connection to the host is
 * in gsthfxsession.c, the local fallback encoder in gsthfxfallback.c and
 * the frames in shared memory in gsthfxshmframes.c.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxenc.h"

#include <string.h>

#include <gst/pbutils/codec-utils.h>
#include <gst/video/video.h>

#include "gsthfxfallback.h"
#include "gsthfxgpuframes.h"
#include "gsthfxsession.h"
#include "gsthfxshmframes.h"
#include "gsthfxshmpool.h"
#include "hfx/client.h"
#include "util/token.h"

/* Shared with gsthfxsession.c, gsthfxfallback.c and gsthfxshmframes.c. */
GST_DEBUG_CATEGORY (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

#define DEFAULT_ADDRESS "auto"
#define DEFAULT_BITRATE 2048
#define DEFAULT_KEY_INT_MAX 0
#define DEFAULT_ENCODER "auto"
#define DEFAULT_FRAME_SOURCE GST_HFX_FRAME_SOURCE_AUTO
#define DEFAULT_MAX_IN_FLIGHT 4
#define DEFAULT_FALLBACK ""
#define DEFAULT_SHM_DEVICE "auto"
#define DEFAULT_GPU_DEVICE "auto"

enum
{
  PROP_0,
  PROP_ADDRESS,
  PROP_BITRATE,
  PROP_KEY_INT_MAX,
  PROP_ENCODER,
  PROP_FRAME_SOURCE,
  PROP_MAX_IN_FLIGHT,
  PROP_TOKEN,
  PROP_FALLBACK,
  PROP_SHM_DEVICE,
  PROP_GPU_DEVICE,
  PROP_STATS,
  PROP_CONNECTED,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

struct _GstHfxEnc
{
  GstVideoEncoder parent;

  /* Properties, under the object lock. */
  gchar *address;
  guint bitrate;
  guint key_int_max;
  gchar *encoder;
  GstHfxFrameSource frame_source;
  guint max_in_flight;
  gchar *token;
  gchar *fallback_name;
  gchar *shm_device;
  gchar *gpu_device;
  gboolean bitrate_changed;

  /* Under the object lock too. */
  gboolean host_lost;           /* a warning said so: its return is news */
  guint64 fallback_frames;
  gint fps_n, fps_d;            /* of the configuration; 0 without one */

  /* The latency reported, under latency_lock (taken before the object
   * lock, which gst_video_encoder_set_latency takes). */
  GMutex latency_lock;
  GstClockTime latency;

  GstHfxSession *session;       /* owned, init to finalize */

  /* Streaming thread, under the stream lock. */
  GstHfxShmFrames *shm;         /* owned, start to stop */
  GstHfxGpuFrames *gpu;         /* owned, start to stop */
  GstHfxFrameSource source;     /* frame-source, as read at start */
  GstHfxFallback *fallback;     /* owned, while the host is unreachable */
  GstVideoCodecState *input_state;
  const gchar *profile;         /* asked of downstream's; NULL: any */
  /* The first flow other than OK that finishing a frame returned; what
   * handle_frame returns until a flush or a new format. */
  GstFlowReturn last_flow;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw, "
        "format = (string) { NV12, I420, BGRx, BGRA, RGBx, RGBA }, "
        "width = (int) [ 2, 8192 ], height = (int) [ 2, 8192 ], "
        "framerate = (fraction) [ 0/1, MAX ]"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-h264, "
        "stream-format = (string) byte-stream, alignment = (string) au, "
        "profile = (string) { constrained-baseline, baseline, main, high }"));

#define gst_hfx_enc_parent_class parent_class
G_DEFINE_TYPE (GstHfxEnc, gst_hfx_enc, GST_TYPE_VIDEO_ENCODER);
GST_ELEMENT_REGISTER_DEFINE (vsockenc, "vsockenc", GST_RANK_NONE,
    GST_TYPE_HFX_ENC);

#define GST_TYPE_HFX_FRAME_SOURCE (gst_hfx_frame_source_get_type ())
static GType
gst_hfx_frame_source_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_HFX_FRAME_SOURCE_AUTO, "SHM when the host offers it, else inline",
        "auto"},
    {GST_HFX_FRAME_SOURCE_INLINE, "Pixels in the messages", "inline"},
    {GST_HFX_FRAME_SOURCE_SHM, "Shared memory, offsets in the messages", "shm"},
    {GST_HFX_FRAME_SOURCE_RESOURCE, "Resources of the guest's virtio-gpu "
          "(BGRx), named in the messages; for the helix-frame-export "
          "chardev of hfx's QEMU with gpu=", "resource"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstHfxFrameSource", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_hfx_enc_finalize (GObject * object);
static void gst_hfx_enc_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_hfx_enc_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static gboolean gst_hfx_enc_start (GstVideoEncoder * enc);
static gboolean gst_hfx_enc_stop (GstVideoEncoder * enc);
static gboolean gst_hfx_enc_set_format (GstVideoEncoder * enc,
    GstVideoCodecState * state);
static GstFlowReturn gst_hfx_enc_handle_frame (GstVideoEncoder * enc,
    GstVideoCodecFrame * frame);
static GstFlowReturn gst_hfx_enc_finish (GstVideoEncoder * enc);
static gboolean gst_hfx_enc_flush (GstVideoEncoder * enc);
static gboolean gst_hfx_enc_propose_allocation (GstVideoEncoder * enc,
    GstQuery * query);
static GstCaps *gst_hfx_enc_getcaps (GstVideoEncoder * enc, GstCaps * filter);

static void host_answered (GstVideoEncoder * enc, guint32 frame_number,
    GstBuffer * buf, gboolean keyframe);
static void host_connection_changed (GstVideoEncoder * enc,
    gboolean connected, const gchar * address, enum hfx_status why);

static void
gst_hfx_enc_class_init (GstHfxEncClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstVideoEncoderClass *venc_class = GST_VIDEO_ENCODER_CLASS (klass);

  gobject_class->finalize = gst_hfx_enc_finalize;
  gobject_class->set_property = gst_hfx_enc_set_property;
  gobject_class->get_property = gst_hfx_enc_get_property;

  /* GST_PARAM_MUTABLE_READY: refused in PAUSED and PLAYING (see
   * gst_hfx_enc_set_property). */
  properties[PROP_ADDRESS] = g_param_spec_string ("address", "Address",
      "Where the hfx host listens: auto (guest: virtio-serial port "
      "org.helix.frame-export, then vsock:2:5900), unix:/path, "
      "tcp:HOST:PORT, vsock:CID:PORT, serial:/dev/PATH or fd:N",
      DEFAULT_ADDRESS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_BITRATE] = g_param_spec_uint ("bitrate", "Bitrate",
      "Target bitrate in kbit/s (1 kbit/s = 1000 bit/s); can change "
      "while playing", 1, HFX_MAX_BITRATE_KBPS, DEFAULT_BITRATE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);
  properties[PROP_KEY_INT_MAX] = g_param_spec_uint ("key-int-max",
      "Key-frame maximal interval",
      "Maximal distance between two key-frames (0 for the host's default)",
      0, G_MAXINT, DEFAULT_KEY_INT_MAX,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_ENCODER] = g_param_spec_string ("encoder", "Encoder",
      "Host encoder backend: auto, h264_videotoolbox, h264_nvenc, "
      "h264_qsv, h264_vaapi, libx264 or libopenh264", DEFAULT_ENCODER,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_FRAME_SOURCE] = g_param_spec_enum ("frame-source",
      "Frame source", "How pixels reach the host", GST_TYPE_HFX_FRAME_SOURCE,
      DEFAULT_FRAME_SOURCE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_MAX_IN_FLIGHT] = g_param_spec_uint ("max-frames-in-flight",
      "Max frames in flight",
      "Frames sent to the host and not yet answered (also bounded by the "
      "host's window); with the framerate, the latency reported",
      1, HFX_MAX_WINDOW, DEFAULT_MAX_IN_FLIGHT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_TOKEN] = g_param_spec_string ("token", "Token",
      "Authentication token the host requires (NULL for none)", NULL,
      G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_FALLBACK] = g_param_spec_string ("fallback",
      "Fallback encoder",
      "Factory name of a local H.264 encoder (e.g. x264enc) used while "
      "the host is unreachable; empty: frames are dropped while "
      "reconnecting, and an unreachable host at start is an error",
      DEFAULT_FALLBACK, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);
  properties[PROP_SHM_DEVICE] = g_param_spec_string ("shm-device",
      "Shared memory device",
      "Where frame-source=shm/auto finds memory shared with the host when "
      "the transport cannot pass a memfd (virtio-serial, vsock): an "
      "ivshmem-plain device whose BAR holds hfxd's region header. "
      "auto: the first such device; a PCI address (0000:00:03.0) or sysfs "
      "directory; none: never use one", DEFAULT_SHM_DEVICE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_GPU_DEVICE] = g_param_spec_string ("gpu-device",
      "GPU device",
      "The DRM card node of the guest's virtio-gpu whose resources "
      "frame-source=resource draws into and names (dumb buffers); auto: "
      "the first card of the virtio_gpu driver", DEFAULT_GPU_DEVICE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "frames-sent, frames-encoded, frames-dropped, fallback-frames, "
      "reconnects, shm-frames, shm-copies, shm-memory, resource-frames, "
      "resource-copies, rtt-mean-ms, "
      "rtt-p99-ms, backend, address, connected",
      GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTED] = g_param_spec_boolean ("connected", "Connected",
      "Whether the host is connected now (notified when it changes)", FALSE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "hfx host H.264 encoder", "Codec/Encoder/Video/Hardware",
      "Encodes video on the hfx host (hardware encoder or libx264) over "
      "virtio-serial, vsock, unix or TCP", "hfx developers");

  venc_class->start = GST_DEBUG_FUNCPTR (gst_hfx_enc_start);
  venc_class->stop = GST_DEBUG_FUNCPTR (gst_hfx_enc_stop);
  venc_class->set_format = GST_DEBUG_FUNCPTR (gst_hfx_enc_set_format);
  venc_class->handle_frame = GST_DEBUG_FUNCPTR (gst_hfx_enc_handle_frame);
  venc_class->finish = GST_DEBUG_FUNCPTR (gst_hfx_enc_finish);
  venc_class->flush = GST_DEBUG_FUNCPTR (gst_hfx_enc_flush);
  venc_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_hfx_enc_propose_allocation);
  venc_class->getcaps = GST_DEBUG_FUNCPTR (gst_hfx_enc_getcaps);

  GST_DEBUG_CATEGORY_INIT (gst_hfx_enc_debug, "vsockenc", 0,
      "hfx host encoder");
  gst_type_mark_as_plugin_api (GST_TYPE_HFX_FRAME_SOURCE, 0);
}

static void
gst_hfx_enc_init (GstHfxEnc * self)
{
  static const GstHfxSessionCallbacks callbacks = {
    .answered = host_answered,
    .connection_changed = host_connection_changed,
  };

  self->address = g_strdup (DEFAULT_ADDRESS);
  self->bitrate = DEFAULT_BITRATE;
  self->key_int_max = DEFAULT_KEY_INT_MAX;
  self->encoder = g_strdup (DEFAULT_ENCODER);
  self->frame_source = DEFAULT_FRAME_SOURCE;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->fallback_name = g_strdup (DEFAULT_FALLBACK);
  self->shm_device = g_strdup (DEFAULT_SHM_DEVICE);
  self->gpu_device = g_strdup (DEFAULT_GPU_DEVICE);
  g_mutex_init (&self->latency_lock);
  self->latency = GST_CLOCK_TIME_NONE;
  self->last_flow = GST_FLOW_OK;
  self->session = gst_hfx_session_new (GST_VIDEO_ENCODER (self), &callbacks);
}

static void
gst_hfx_enc_finalize (GObject * object)
{
  GstHfxEnc *self = GST_HFX_ENC (object);

  gst_hfx_session_free (&self->session);
  g_free (self->address);
  g_free (self->encoder);
  hfx_token_wipe (self->token);
  g_free (self->token);
  g_free (self->fallback_name);
  g_free (self->shm_device);
  g_free (self->gpu_device);
  g_mutex_clear (&self->latency_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_hfx_enc_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstHfxEnc *self = GST_HFX_ENC (object);
  GstState state;

  GST_OBJECT_LOCK (self);
  /* What only the connection, the configuration or the pool use is read
   * at start or set_format: a change in PAUSED or PLAYING would be
   * silently ignored, or half applied (max-frames-in-flight against the
   * slots of the pool). */
  state = GST_STATE (self);
  if ((state != GST_STATE_READY && state != GST_STATE_NULL) &&
      !(pspec->flags & GST_PARAM_MUTABLE_PLAYING))
    goto wrong_state;

  switch (prop_id) {
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      break;
    case PROP_BITRATE:
      self->bitrate = g_value_get_uint (value);
      /* Applied on the streaming thread with the next frame. */
      self->bitrate_changed = TRUE;
      break;
    case PROP_KEY_INT_MAX:
      self->key_int_max = g_value_get_uint (value);
      break;
    case PROP_ENCODER:
      g_free (self->encoder);
      self->encoder = g_value_dup_string (value);
      break;
    case PROP_FRAME_SOURCE:
      self->frame_source = g_value_get_enum (value);
      break;
    case PROP_MAX_IN_FLIGHT:
      self->max_in_flight = g_value_get_uint (value);
      break;
    case PROP_TOKEN:
      hfx_token_wipe (self->token);
      g_free (self->token);
      self->token = g_value_dup_string (value);
      break;
    case PROP_FALLBACK:
      g_free (self->fallback_name);
      self->fallback_name = g_value_dup_string (value);
      break;
    case PROP_SHM_DEVICE:
      g_free (self->shm_device);
      self->shm_device = g_value_dup_string (value);
      break;
    case PROP_GPU_DEVICE:
      g_free (self->gpu_device);
      self->gpu_device = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  return;

  /* ERRORS */
wrong_state:
  {
    GST_WARNING_OBJECT (self, "setting property in wrong state: %s can "
        "only change in the READY or NULL state, keeping its value",
        pspec->name);
    GST_OBJECT_UNLOCK (self);
  }
}

static void
gst_hfx_enc_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstHfxEnc *self = GST_HFX_ENC (object);
  GstHfxSessionStatus status;
  guint64 fallback_frames;

  switch (prop_id) {
    case PROP_STATS:
      GST_OBJECT_LOCK (self);
      fallback_frames = self->fallback_frames;
      GST_OBJECT_UNLOCK (self);
      g_value_take_boxed (value, gst_hfx_session_make_stats (self->session,
              fallback_frames));
      return;
    case PROP_CONNECTED:
      gst_hfx_session_get_status (self->session, &status);
      g_value_set_boolean (value, status.connected);
      return;
    default:
      break;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_BITRATE:
      g_value_set_uint (value, self->bitrate);
      break;
    case PROP_KEY_INT_MAX:
      g_value_set_uint (value, self->key_int_max);
      break;
    case PROP_ENCODER:
      g_value_set_string (value, self->encoder);
      break;
    case PROP_FRAME_SOURCE:
      g_value_set_enum (value, self->frame_source);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint (value, self->max_in_flight);
      break;
    case PROP_FALLBACK:
      g_value_set_string (value, self->fallback_name);
      break;
    case PROP_SHM_DEVICE:
      g_value_set_string (value, self->shm_device);
      break;
    case PROP_GPU_DEVICE:
      g_value_set_string (value, self->gpu_device);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static gchar *
fallback_name (GstHfxEnc * self)
{
  gchar *name = NULL;

  GST_OBJECT_LOCK (self);
  if (self->fallback_name && self->fallback_name[0])
    name = g_strdup (self->fallback_name);
  GST_OBJECT_UNLOCK (self);
  return name;
}

/* The latency query's answer: a frame is answered before the window's
 * worth of later frames has come in, or handle_frame waits for it (the
 * window, docs/protocol.md §6), so window frame durations bound the time a
 * frame spends in the element; the fallback encoder, when it runs, encodes
 * each frame before handle_frame returns. Reported as both minimum and
 * maximum, and again whenever the window (a reconnect) or the framerate
 * (a new format) changes it. */
static void
update_latency (GstHfxEnc * self)
{
  GstHfxSessionStatus status;
  GstClockTime latency;
  gint fps_n, fps_d;

  GST_OBJECT_LOCK (self);
  fps_n = self->fps_n;
  fps_d = self->fps_d;
  GST_OBJECT_UNLOCK (self);
  if (fps_n <= 0 || fps_d <= 0)
    return;
  gst_hfx_session_get_status (self->session, &status);
  latency = gst_util_uint64_scale_ceil ((guint64) status.window * GST_SECOND,
      fps_d, fps_n);
  g_mutex_lock (&self->latency_lock);
  if (latency != self->latency) {
    GST_INFO_OBJECT (self, "latency %" GST_TIME_FORMAT " (%u frames at %d/%d)",
        GST_TIME_ARGS (latency), status.window, fps_n, fps_d);
    self->latency = latency;
    gst_video_encoder_set_latency (GST_VIDEO_ENCODER (self), latency, latency);
  }
  g_mutex_unlock (&self->latency_lock);
}

/* Finishes frame_number with buf (transfer full; NULL: the frame is
 * dropped). Stream lock held. */
static GstFlowReturn
finish_encoded (GstHfxEnc * self, guint32 frame_number, GstBuffer * buf,
    gboolean keyframe, gboolean from_fallback)
{
  GstVideoEncoder *enc = GST_VIDEO_ENCODER (self);
  GstVideoCodecFrame *frame = gst_video_encoder_get_frame (enc, frame_number);

  if (!frame) {
    /* Flushed meanwhile. */
    gst_clear_buffer (&buf);
    return GST_FLOW_OK;
  }
  if (buf) {
    frame->output_buffer = buf;
    if (keyframe)
      GST_VIDEO_CODEC_FRAME_SET_SYNC_POINT (frame);
    else
      GST_VIDEO_CODEC_FRAME_UNSET_SYNC_POINT (frame);
    frame->dts = frame->pts;
  }
  if (from_fallback) {
    GST_OBJECT_LOCK (self);
    self->fallback_frames++;
    GST_OBJECT_UNLOCK (self);
  }
  /* No output buffer: the base class drops the frame. */
  return gst_video_encoder_finish_frame (enc, frame);
}

/* The session's reader thread: the host answered. */
static void
host_answered (GstVideoEncoder * enc, guint32 frame_number, GstBuffer * buf,
    gboolean keyframe)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstFlowReturn ret;

  GST_VIDEO_ENCODER_STREAM_LOCK (enc);
  ret = finish_encoded (self, frame_number, buf, keyframe, FALSE);
  /* Pushing happens here, not in handle_frame: keep what downstream said
   * (NOT_LINKED, FLUSHING, an error) for handle_frame to return
   * (docs/vsockenc.md, "Flow returns"). */
  if (ret != GST_FLOW_OK && self->last_flow == GST_FLOW_OK) {
    GST_INFO_OBJECT (self, "finishing frame %u returned %s", frame_number,
        gst_flow_get_name (ret));
    self->last_flow = ret;
  }
  GST_VIDEO_ENCODER_STREAM_UNLOCK (enc);
}

/* The fallback encoder's output, on the streaming thread (stream lock
 * held): its flow goes back through gst_pad_push to handle_frame. */
static GstFlowReturn
fallback_encoded (GstVideoEncoder * enc, guint32 frame_number,
    GstBuffer * buf, gboolean keyframe)
{
  return finish_encoded (GST_HFX_ENC (enc), frame_number, buf, keyframe, TRUE);
}

/* Where the connection came or went: the connected property's notify,
 * and the bus messages for a host lost and back. Runs without the
 * session's lock, so that handlers may read the properties. */
static void
host_connection_changed (GstVideoEncoder * enc, gboolean connected,
    const gchar * address, enum hfx_status why)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  gboolean was_lost;
  gchar *fallback;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  if (connected) {
    /* The new host's window may differ. */
    update_latency (self);
    GST_OBJECT_LOCK (self);
    was_lost = self->host_lost;
    self->host_lost = FALSE;
    GST_OBJECT_UNLOCK (self);
    if (was_lost) {
      GST_INFO_OBJECT (self, "the hfx host at %s is back", address);
      gst_element_post_message (GST_ELEMENT (self),
          gst_message_new_element (GST_OBJECT (self),
              gst_structure_new ("hfx-host-connected",
                  "address", G_TYPE_STRING, address, NULL)));
    }
    return;
  }
  if (why == HFX_OK)
    return;                     /* stopped, not lost */

  GST_OBJECT_LOCK (self);
  self->host_lost = TRUE;
  GST_OBJECT_UNLOCK (self);
  fallback = fallback_name (self);
  if (fallback)
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Lost the connection to the hfx host at %s; encoding with %s until "
            "it is back", address, fallback),
        ("%s: %s; reconnecting", hfx_status_name (why), hfx_strerror (why)));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, READ,
        ("Lost the connection to the hfx host at %s; frames are dropped "
            "until it is back", address),
        ("%s: %s; reconnecting", hfx_status_name (why), hfx_strerror (why)));
  g_free (fallback);
}

static gboolean
gst_hfx_enc_start (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  gchar err[HFX_MAX_TEXT + 1] = "";
  gchar *address, *token, *fallback;
  guint max_in_flight;
  enum hfx_status st;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  token = g_strdup (self->token);
  max_in_flight = self->max_in_flight;
  self->source = self->frame_source;
  self->host_lost = FALSE;
  self->fallback_frames = 0;
  GST_OBJECT_UNLOCK (self);
  fallback = fallback_name (self);
  g_mutex_lock (&self->latency_lock);
  self->latency = GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&self->latency_lock);
  self->last_flow = GST_FLOW_OK;
  self->shm = gst_hfx_shm_frames_new (GST_ELEMENT (self));
  self->gpu = gst_hfx_gpu_frames_new (GST_ELEMENT (self));

  st = gst_hfx_session_start (self->session, address, token, max_in_flight,
      self->source == GST_HFX_FRAME_SOURCE_RESOURCE, fallback != NULL, err,
      sizeof (err));
  hfx_token_wipe (token);
  g_free (token);
  if (st != HFX_OK && !fallback)
    goto unreachable;
  if (st != HFX_OK) {
    GST_OBJECT_LOCK (self);
    self->host_lost = TRUE;
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not reach the hfx host at %s: %s; encoding with %s until it "
            "answers", address, hfx_strerror (st), fallback), (NULL));
  }
  g_free (address);
  g_free (fallback);
  return TRUE;

  /* ERRORS */
unreachable:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not reach the hfx host at %s: %s", address,
            err[0] ? err : hfx_strerror (st)),
        ("hfx_client_connect: %s; set fallback=x264enc to encode locally "
            "while the host is unreachable", hfx_status_name (st)));
    gst_hfx_shm_frames_free (&self->shm);
    gst_hfx_gpu_frames_free (&self->gpu);
    g_free (address);
    return FALSE;
  }
}

static gboolean
gst_hfx_enc_stop (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstStructure *stats;
  guint64 fallback_frames;

  GST_OBJECT_LOCK (self);
  fallback_frames = self->fallback_frames;
  GST_OBJECT_UNLOCK (self);
  stats = gst_hfx_session_make_stats (self->session, fallback_frames);
  GST_INFO_OBJECT (self, "stopping: %" GST_PTR_FORMAT, stats);
  gst_structure_free (stats);
  gst_hfx_session_stop (self->session);
  gst_hfx_shm_frames_free (&self->shm);
  gst_hfx_gpu_frames_free (&self->gpu);
  gst_hfx_fallback_free (&self->fallback);
  g_clear_pointer (&self->input_state, gst_video_codec_state_unref);
  GST_OBJECT_LOCK (self);
  self->fps_n = self->fps_d = 0;
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static guint32
fourcc_of (GstVideoFormat f)
{
  switch (f) {
    case GST_VIDEO_FORMAT_NV12:
      return HFX_FORMAT_NV12;
    case GST_VIDEO_FORMAT_I420:
      return HFX_FORMAT_I420;
    case GST_VIDEO_FORMAT_BGRx:
      return HFX_FORMAT_BGRX;
    case GST_VIDEO_FORMAT_BGRA:
      return HFX_FORMAT_BGRA;
    case GST_VIDEO_FORMAT_RGBx:
      return HFX_FORMAT_RGBX;
    case GST_VIDEO_FORMAT_RGBA:
      return HFX_FORMAT_RGBA;
    default:
      return 0;
  }
}

/* CONFIGURE's profile (docs/protocol.md §5.1) for a profile name of the
 * caps; *name gets the static name to ask the fallback for. The host's
 * constrained baseline serves "baseline" too: it is a baseline stream. */
static gboolean
profile_of (const gchar * caps_name, guint8 * profile, const gchar ** name)
{
  static const struct
  {
    const gchar *caps_name;
    guint8 profile;
  } profiles[] = {
    {"constrained-baseline", HFX_PROFILE_BASELINE},
    {"baseline", HFX_PROFILE_BASELINE},
    {"main", HFX_PROFILE_MAIN},
    {"high", HFX_PROFILE_HIGH},
  };

  for (guint i = 0; caps_name && i < G_N_ELEMENTS (profiles); i++) {
    if (strcmp (caps_name, profiles[i].caps_name) == 0) {
      *profile = profiles[i].profile;
      *name = profiles[i].caps_name;
      return TRUE;
    }
  }
  return FALSE;
}

/* The profile to ask the host for, from what downstream accepts
 * (docs/vsockenc.md, "Profile negotiation"): downstream's first profile
 * that the host can encode; HFX_PROFILE_AUTO (the host's choice) when
 * downstream takes every profile of the template. *name: the caps name,
 * NULL for any. */
static guint8
negotiate_profile (GstHfxEnc * self, const gchar ** name)
{
  GstPad *srcpad = GST_VIDEO_ENCODER_SRC_PAD (self);
  GstCaps *allowed = gst_pad_get_allowed_caps (srcpad);
  GstCaps *templ = gst_pad_get_pad_template_caps (srcpad);
  guint8 profile = HFX_PROFILE_AUTO;

  *name = NULL;
  if (!allowed || gst_caps_is_empty (allowed) || gst_caps_is_any (allowed)
      || gst_caps_is_subset (templ, allowed))
    goto done;
  for (guint i = 0; i < gst_caps_get_size (allowed); i++) {
    const GValue *v = gst_structure_get_value (gst_caps_get_structure (allowed,
            i), "profile");

    if (!v)
      goto done;                /* this one takes any profile */
    if (G_VALUE_HOLDS_STRING (v)
        && profile_of (g_value_get_string (v), &profile, name))
      goto done;
    if (GST_VALUE_HOLDS_LIST (v)) {
      for (guint j = 0; j < gst_value_list_get_size (v); j++) {
        const GValue *p = gst_value_list_get_value (v, j);

        if (G_VALUE_HOLDS_STRING (p)
            && profile_of (g_value_get_string (p), &profile, name))
          goto done;
      }
    }
  }

done:
  GST_DEBUG_OBJECT (self, "downstream allows %" GST_PTR_FORMAT ": profile %s",
      allowed, *name ? *name : "the host's choice");
  gst_clear_caps (&allowed);
  gst_caps_unref (templ);
  return profile;
}

/* Whether a stream of profile `produced` is also a stream of profile
 * `wanted`: constrained baseline is a subset of baseline, main and high
 * (constraint_set1), main of high. */
static gboolean
profile_conforms (const gchar * produced, const gchar * wanted)
{
  if (strcmp (produced, wanted) == 0)
    return TRUE;
  if (strcmp (produced, "constrained-baseline") == 0)
    return !strcmp (wanted, "baseline") || !strcmp (wanted, "main")
        || !strcmp (wanted, "high");
  if (strcmp (produced, "main") == 0)
    return strcmp (wanted, "high") == 0;
  return FALSE;
}

/* Output caps with the profile and level of the host's SPS. When
 * downstream does not take that profile by name but one the stream
 * conforms to (a constrained-baseline stream for "baseline"), the caps say
 * that one (docs/vsockenc.md, "Profile negotiation"). Returns FALSE after
 * an element error when downstream takes no profile the stream conforms
 * to. */
static gboolean
update_output_caps (GstHfxEnc * self, GstVideoCodecState * state)
{
  GstPad *srcpad = GST_VIDEO_ENCODER_SRC_PAD (self);
  GstCaps *caps = gst_caps_new_simple ("video/x-h264",
      "stream-format", G_TYPE_STRING, "byte-stream",
      "alignment", G_TYPE_STRING, "au", NULL);
  GstCaps *allowed = NULL;
  GstVideoCodecState *out;
  guint8 sps[256];
  gsize sps_len;
  const gchar *produced;

  sps_len = gst_hfx_session_get_sps (self->session, sps, sizeof (sps));
  if (sps_len >= 3)
    gst_codec_utils_h264_caps_set_level_and_profile (caps, sps, sps_len);
  else if (self->profile)
    /* No host yet: the fallback encoder is asked for this profile. */
    gst_caps_set_simple (caps, "profile", G_TYPE_STRING, self->profile, NULL);
  produced = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "profile");
  allowed = gst_pad_get_allowed_caps (srcpad);
  if (produced && allowed && !gst_caps_is_empty (allowed)
      && !gst_caps_can_intersect (allowed, caps)) {
    GstCaps *fixed = gst_caps_truncate (gst_caps_copy (allowed));
    GstStructure *s = gst_caps_get_structure (fixed, 0);
    const gchar *wanted;

    gst_structure_fixate_field_string (s, "profile", produced);
    wanted = gst_structure_get_string (s, "profile");
    if (wanted && profile_conforms (produced, wanted)) {
      GST_INFO_OBJECT (self, "the host encoded %s, downstream wants %s, "
          "which the stream conforms to", produced, wanted);
      gst_caps_set_simple (caps, "profile", G_TYPE_STRING, wanted, NULL);
    }
    gst_caps_unref (fixed);
    if (!gst_caps_can_intersect (allowed, caps))
      goto refused;
  }
  gst_clear_caps (&allowed);
  out = gst_video_encoder_set_output_state (GST_VIDEO_ENCODER (self), caps,
      state);
  gst_video_codec_state_unref (out);
  return TRUE;

  /* ERRORS */
refused:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("The hfx host encoded H.264 profile %s, which downstream does not "
            "accept", produced),
        ("output %" GST_PTR_FORMAT ", downstream allows %" GST_PTR_FORMAT,
            caps, allowed));
    gst_caps_unref (caps);
    gst_caps_unref (allowed);
    return FALSE;
  }
}

static gboolean
gst_hfx_enc_set_format (GstVideoEncoder * enc, GstVideoCodecState * state)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstVideoInfo *info = &state->info;
  struct hfx_configure cfg;
  GstHfxSessionFrames frames = GST_HFX_SESSION_FRAMES_SHM_OR_INLINE;
  GError *error = NULL;
  gchar *shm_device, *gpu_device;
  guint slots;

  memset (&cfg, 0, sizeof (cfg));
  cfg.codec = HFX_CODEC_H264;
  cfg.width = GST_VIDEO_INFO_WIDTH (info);
  cfg.height = GST_VIDEO_INFO_HEIGHT (info);
  cfg.fourcc = fourcc_of (GST_VIDEO_INFO_FORMAT (info));
  cfg.fps_num = GST_VIDEO_INFO_FPS_N (info);
  cfg.fps_den = GST_VIDEO_INFO_FPS_D (info);
  if (cfg.fps_num == 0 || cfg.fps_den == 0) {
    /* Variable rate: the encoder needs a nominal one for rate control. */
    cfg.fps_num = 30;
    cfg.fps_den = 1;
  }
  cfg.rate_control = HFX_RC_ABR;
  cfg.latency = HFX_LATENCY_LOWEST;
  cfg.profile = negotiate_profile (self, &self->profile);
  GST_OBJECT_LOCK (self);
  cfg.bitrate_kbps = self->bitrate;
  cfg.keyint_frames = self->key_int_max;
  if (self->encoder && strcmp (self->encoder, "auto") != 0)
    g_strlcpy (cfg.encoder, self->encoder, sizeof (cfg.encoder));
  self->bitrate_changed = FALSE;
  shm_device = g_strdup (self->shm_device);
  gpu_device = g_strdup (self->gpu_device);
  /* Frames in flight, plus what upstream and the queue in front of us
   * may hold. */
  slots = MIN (self->max_in_flight * 2 + 4, GST_HFX_SHM_POOL_MAX_SLOTS);
  GST_OBJECT_UNLOCK (self);

  if (hfx_configure_validate (&cfg) != HFX_OK)
    goto invalid;

  /* Renegotiation: what was sent with the old format comes out first. */
  gst_hfx_session_drain (self->session);
  gst_hfx_fallback_free (&self->fallback);
  self->last_flow = GST_FLOW_OK;

  g_clear_pointer (&self->input_state, gst_video_codec_state_unref);
  self->input_state = gst_video_codec_state_ref (state);

  /* A new format needs a new pool (and region) for shared memory, or new
   * resources. */
  gst_hfx_session_forget_format (self->session);
  if (self->source == GST_HFX_FRAME_SOURCE_RESOURCE) {
    frames = GST_HFX_SESSION_FRAMES_RESOURCE;
    if (!gst_hfx_gpu_frames_set_format (self->gpu, info, slots, gpu_device,
            &error))
      goto no_resources;
  } else if (self->source == GST_HFX_FRAME_SOURCE_INLINE) {
    gst_hfx_shm_frames_clear (self->shm);
  } else {
    if (self->source == GST_HFX_FRAME_SOURCE_SHM)
      frames = GST_HFX_SESSION_FRAMES_SHM;
    if (!gst_hfx_shm_frames_set_format (self->shm, info, slots, shm_device,
            &error))
      goto no_shm;
  }
  g_free (shm_device);
  g_free (gpu_device);

  GST_OBJECT_LOCK (self);
  self->fps_n = cfg.fps_num;
  self->fps_d = cfg.fps_den;
  GST_OBJECT_UNLOCK (self);
  if (!gst_hfx_session_configure (self->session, &cfg,
          gst_hfx_shm_frames_has_pool (self->shm) ? self->shm : NULL, frames))
    return FALSE;
  if (!update_output_caps (self, state))
    return FALSE;
  update_latency (self);
  return TRUE;

  /* ERRORS */
invalid:
  {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("%ux%u %s cannot be encoded by an hfx host (sizes must be even)",
            cfg.width, cfg.height,
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info))), (NULL));
    g_free (shm_device);
    g_free (gpu_device);
    return FALSE;
  }
no_shm:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Cannot create shared memory for frames: %s", error->message), (NULL));
    g_clear_error (&error);
    g_free (shm_device);
    g_free (gpu_device);
    return FALSE;
  }
no_resources:
  {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot make virtio-gpu resources for frames: %s", error->message),
        ("frame-source=resource needs a guest with a virtio-gpu device"));
    g_clear_error (&error);
    g_free (shm_device);
    g_free (gpu_device);
    return FALSE;
  }
}

/* The host cannot take this frame: the fallback encodes it, or it is
 * dropped and counted. Takes the frame. */
static GstFlowReturn
host_unreachable (GstHfxEnc * self, GstVideoCodecFrame * frame)
{
  GstVideoEncoder *enc = GST_VIDEO_ENCODER (self);
  gchar *name;
  guint bitrate;

  /* fallback cannot change while frames flow (MUTABLE_READY): one made
   * before had a name. */
  if (self->fallback)
    return gst_hfx_fallback_encode (self->fallback, frame);
  name = fallback_name (self);
  if (!name) {
    gst_hfx_session_count_dropped (self->session);
    GST_DEBUG_OBJECT (self, "host unreachable: dropping frame %u",
        frame->system_frame_number);
    return gst_video_encoder_finish_frame (enc, frame);
  }
  GST_OBJECT_LOCK (self);
  bitrate = self->bitrate;
  GST_OBJECT_UNLOCK (self);
  self->fallback = gst_hfx_fallback_new (enc, name, bitrate,
      self->input_state->caps, self->profile, fallback_encoded);
  g_free (name);
  if (!self->fallback) {
    gst_video_codec_frame_unref (frame);
    return GST_FLOW_ERROR;
  }
  return gst_hfx_fallback_encode (self->fallback, frame);
}

/* Inline frames: the pixels go in the message (docs/protocol.md §5.3). */
static enum hfx_status
submit_inline (GstHfxEnc * self, GstVideoCodecFrame * frame,
    struct hfx_frame *f, guint32 fourcc, gboolean force)
{
  GstVideoFrame vframe;
  struct iovec iov[HFX_MAX_PLANES];
  guint width = GST_VIDEO_INFO_WIDTH (&self->input_state->info);
  guint height = GST_VIDEO_INFO_HEIGHT (&self->input_state->info);
  uint64_t offset = 0;
  enum hfx_status st;

  if (!gst_video_frame_map (&vframe, &self->input_state->info,
          frame->input_buffer, GST_MAP_READ))
    return HFX_E_INVALID;
  f->source = HFX_SOURCE_INLINE;
  for (guint p = 0; p < f->plane_count; p++) {
    uint32_t row_bytes = 0, rows = 0;

    hfx_format_plane_size (fourcc, width, height, p, &row_bytes, &rows);
    f->planes[p].offset = offset;
    f->planes[p].stride = GST_VIDEO_FRAME_PLANE_STRIDE (&vframe, p);
    iov[p].iov_base = GST_VIDEO_FRAME_PLANE_DATA (&vframe, p);
    iov[p].iov_len = (gsize) f->planes[p].stride * (rows - 1) + row_bytes;
    offset += iov[p].iov_len;
  }
  st = gst_hfx_session_submit (self->session, f, iov, (int) f->plane_count,
      force, NULL);
  gst_video_frame_unmap (&vframe);
  return st;
}

static GstFlowReturn
gst_hfx_enc_handle_frame (GstVideoEncoder * enc, GstVideoCodecFrame * frame)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  struct hfx_frame f;
  gboolean bitrate_changed, force;
  guint bitrate;
  guint32 region, frame_number = frame->system_frame_number;
  guint32 fourcc = fourcc_of (GST_VIDEO_INFO_FORMAT (&self->input_state->info));
  GstBuffer *slot = NULL;
  GstFlowReturn ret;
  enum hfx_status st;

  if (self->last_flow != GST_FLOW_OK)
    goto flow_failed;

  GST_OBJECT_LOCK (self);
  bitrate_changed = self->bitrate_changed;
  bitrate = self->bitrate;
  self->bitrate_changed = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (bitrate_changed) {
    gst_hfx_session_set_bitrate (self->session, bitrate);
    if (self->fallback)
      gst_hfx_fallback_set_bitrate (self->fallback, bitrate);
  }
  /* A force-key-unit becomes the frame's FORCE_KEYFRAME flag: the per-frame
   * form of REQUEST_KEYFRAME, so the IDR lands on this very frame even when
   * earlier ones still wait at the host (REQUEST_KEYFRAME would apply to
   * the next frame the host encodes). The host throttles both alike. */
  force = GST_VIDEO_CODEC_FRAME_IS_FORCE_KEYFRAME (frame);

  /* Waits, without the stream lock, while the window is full. */
  if (!gst_hfx_session_wait_ready (self->session, &region))
    return host_unreachable (self, frame);
  /* Back on the host: its first frame is an IDR (new stream). */
  gst_hfx_fallback_free (&self->fallback);

  memset (&f, 0, sizeof (f));
  f.frame_id = frame_number;
  f.pts = GST_CLOCK_TIME_IS_VALID (frame->pts) ?
      (int64_t) (frame->pts / 1000) : 0;
  f.duration = GST_CLOCK_TIME_IS_VALID (frame->duration) ?
      frame->duration / 1000 : 0;
  f.plane_count = (uint8_t) hfx_format_planes (fourcc);

  if (self->source == GST_HFX_FRAME_SOURCE_RESOURCE || region != G_MAXUINT32) {
    /* A resource or shared memory: only where the picture is goes in the
     * message. */
    if (self->source == GST_HFX_FRAME_SOURCE_RESOURCE) {
      ret = gst_hfx_gpu_frames_place (self->gpu, &self->input_state->info,
          frame->input_buffer, &f, &slot);
    } else {
      ret = gst_hfx_shm_frames_place (self->shm, &self->input_state->info,
          frame->input_buffer, &f, &slot);
      f.source = HFX_SOURCE_SHM;
      f.region = region;
    }
    if (ret == GST_FLOW_ERROR) {
      gst_video_codec_frame_unref (frame);
      return ret;
    }
    if (ret != GST_FLOW_OK) {
      /* Flushing. */
      gst_hfx_session_count_dropped (self->session);
      return gst_video_encoder_finish_frame (enc, frame);
    }
    st = gst_hfx_session_submit (self->session, &f, NULL, 0, force, slot);
  } else {
    st = submit_inline (self, frame, &f, fourcc, force);
    if (st == HFX_E_INVALID)
      goto map_failed;
  }
  gst_video_codec_frame_unref (frame);
  if (st != HFX_OK) {
    GST_WARNING_OBJECT (self, "frame %u not sent: %s", frame_number,
        hfx_strerror (st));
    /* The reader notices the broken connection and answers the frames in
     * flight; this one goes to the fallback, or is dropped and counted. */
    frame = gst_video_encoder_get_frame (enc, frame_number);
    return frame ? host_unreachable (self, frame) : self->last_flow;
  }
  /* What finishing earlier frames returned meanwhile. */
  return self->last_flow;

  /* ERRORS */
flow_failed:
  {
    GST_DEBUG_OBJECT (self, "frame %u refused: downstream returned %s",
        frame_number, gst_flow_get_name (self->last_flow));
    gst_video_encoder_finish_frame (enc, frame);
    return self->last_flow;
  }
map_failed:
  {
    gst_video_codec_frame_unref (frame);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL), ("cannot map frame"));
    return GST_FLOW_ERROR;
  }
}

static gboolean
gst_hfx_enc_propose_allocation (GstVideoEncoder * enc, GstQuery * query)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstHfxSessionStatus status;

  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_hfx_session_get_status (self->session, &status);
  if (self->source == GST_HFX_FRAME_SOURCE_RESOURCE && self->gpu)
    gst_hfx_gpu_frames_propose (self->gpu, query);
  else if (self->shm && status.shm_ready)
    gst_hfx_shm_frames_propose (self->shm, query);
  return GST_VIDEO_ENCODER_CLASS (parent_class)->propose_allocation (enc,
      query);
}

static GstFlowReturn
gst_hfx_enc_finish (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);

  gst_hfx_session_drain (self->session);
  if (self->fallback)
    gst_hfx_fallback_finish (self->fallback);
  return GST_FLOW_OK;
}

static gboolean
gst_hfx_enc_flush (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);

  /* Frames still at the host are answered and dropped by the base class's
   * flush; what the host returns later finds no frame and is discarded. */
  gst_hfx_session_flush (self->session);
  self->last_flow = GST_FLOW_OK;
  return TRUE;
}

/* With frame-source=resource upstream must give BGRx, the format of the
 * guest's virtio-gpu dumb buffers (gsthfxgpupool.c). */
static GstCaps *
gst_hfx_enc_getcaps (GstVideoEncoder * enc, GstCaps * filter)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstHfxFrameSource source;
  GstCaps *templ, *caps;

  GST_OBJECT_LOCK (self);
  source = self->frame_source;
  GST_OBJECT_UNLOCK (self);
  if (source != GST_HFX_FRAME_SOURCE_RESOURCE)
    return gst_video_encoder_proxy_getcaps (enc, NULL, filter);
  templ = gst_caps_make_writable (gst_pad_get_pad_template_caps
      (GST_VIDEO_ENCODER_SINK_PAD (enc)));
  gst_caps_set_simple (templ, "format", G_TYPE_STRING, "BGRx", NULL);
  caps = gst_video_encoder_proxy_getcaps (enc, templ, filter);
  gst_caps_unref (templ);
  return caps;
}
