/* SPDX-License-Identifier: MIT */
/**
 * SECTION:element-vsockenc
 * @title: vsockenc
 *
 * Encodes raw video to H.264 by handing the frames to an hfx host (hfxd or
 * a QEMU with the hfx patch), which encodes them with a hardware encoder or
 * libx264 and sends the access units back. Use it wherever x264enc stands.
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
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxenc.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <gst/pbutils/codec-utils.h>
#include <gst/video/video.h>

#include "gsthfxivshmem.h"
#include "gsthfxshmpool.h"
#include "hfx/client.h"
#include "hfx/encoder.h"
#include "hfx/percentile.h"
#include "hfx/token.h"

GST_DEBUG_CATEGORY_STATIC (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

#define DEFAULT_ADDRESS "auto"
#define DEFAULT_BITRATE 2048
#define DEFAULT_KEY_INT_MAX 0
#define DEFAULT_ENCODER "auto"
#define DEFAULT_FRAME_SOURCE GST_HFX_FRAME_SOURCE_AUTO
#define DEFAULT_MAX_IN_FLIGHT 4
#define DEFAULT_FALLBACK ""
#define DEFAULT_SHM_DEVICE "auto"

#define STREAM_ID 1
/* How long the host may take to answer CONFIGURE or a drain. */
#define REPLY_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)
/* Reconnect backoff: doubling from the first to the last value. */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 400
#define RTT_RING 1024
#define ID_RING 4096

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
  PROP_STATS,
  PROP_CONNECTED,
};

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
  gboolean bitrate_changed;

  /* The connection, under client_lock; cond signals window space, replies
   * and connection changes. */
  GMutex client_lock;
  GCond cond;
  struct hfx_client *client;
  gchar *connected_address;
  gboolean configured;          /* CONFIGURED seen for the current stream */
  gboolean configure_failed;
  gboolean flushed;
  guint8 profile_idc, level_idc;
  guint8 sps[256];
  gsize sps_len;
  gchar backend[HFX_MAX_NAME + 1];
  gchar host_error[HFX_MAX_TEXT + 1];   /* the host's last ERROR text */
  GQueue in_flight;             /* system_frame_numbers sent, not answered */
  guint finishing;              /* answers taken by the reader, not finished */
  gboolean want_config;         /* (re)configure after a reconnect */
  struct hfx_configure cfg;
  gboolean have_cfg;

  /* SHM: a pool proposed upstream (and used to copy frames that do not
   * come from it), in a memfd attached to the current connection or in the
   * ivshmem region the host shares as region 0. */
  GstBufferPool *shm_pool;
  GstHfxIvshmem *ivshmem;       /* opened once, kept until stop () */
  gboolean shm_ready;           /* the host reads shm_pool's frames */
  guint32 shm_region;           /* their region id on this connection */
  GstBuffer **slot_held;        /* [ID_RING]: copy-path slots until answered */

  GThread *reader;
  gboolean stopping;
  int wake[2];

  /* Stats, under client_lock. */
  guint64 frames_sent, frames_encoded, frames_dropped, reconnects,
      fallback_frames;
  guint64 shm_frames, shm_copies;       /* sent as SHM; of which copied in */
  /* Large arrays live on the heap: GObject instances must stay < 64 KiB. */
  gint64 *sent_at;              /* [ID_RING] */
  gdouble *rtt_ms;              /* [RTT_RING] */
  guint rtt_n;
  gdouble rtt_sum;
  guint64 rtt_count;
  GstClockTime reported_latency;

  /* Fallback encoder (streaming thread only). */
  GstElement *fallback;
  GstPad *fb_src;               /* ours, feeds the fallback's sink pad */
  GstPad *fb_sink;              /* ours, receives the fallback's output */
  GQueue fb_frames;             /* system_frame_numbers given to the fallback */
  gboolean fb_started;

  GstVideoCodecState *input_state;
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

static void
gst_hfx_enc_class_init (GstHfxEncClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstVideoEncoderClass *venc_class = GST_VIDEO_ENCODER_CLASS (klass);

  gobject_class->finalize = gst_hfx_enc_finalize;
  gobject_class->set_property = gst_hfx_enc_set_property;
  gobject_class->get_property = gst_hfx_enc_get_property;

  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address",
          "Where the hfx host listens: auto (guest: virtio-serial port "
          "org.helix.frame-export, then vsock:2:5900), unix:/path, "
          "tcp:HOST:PORT, vsock:CID:PORT, serial:/dev/PATH or fd:N",
          DEFAULT_ADDRESS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_BITRATE,
      g_param_spec_uint ("bitrate", "Bitrate",
          "Target bitrate in kbit/s (1 kbit/s = 1000 bit/s); can change "
          "while playing", 1, HFX_MAX_BITRATE_KBPS, DEFAULT_BITRATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_KEY_INT_MAX,
      g_param_spec_uint ("key-int-max", "Key-frame maximal interval",
          "Maximal distance between two key-frames (0 for the host's default)",
          0, G_MAXINT, DEFAULT_KEY_INT_MAX,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_ENCODER,
      g_param_spec_string ("encoder", "Encoder",
          "Host encoder backend: auto, h264_videotoolbox, h264_nvenc, "
          "h264_qsv, h264_vaapi, libx264 or libopenh264", DEFAULT_ENCODER,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FRAME_SOURCE,
      g_param_spec_enum ("frame-source", "Frame source",
          "How pixels reach the host", GST_TYPE_HFX_FRAME_SOURCE,
          DEFAULT_FRAME_SOURCE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_uint ("max-frames-in-flight", "Max frames in flight",
          "Frames sent to the host and not yet answered (also bounded by the "
          "host's window)", 1, HFX_MAX_WINDOW, DEFAULT_MAX_IN_FLIGHT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "Authentication token the host requires (NULL for none)", NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FALLBACK,
      g_param_spec_string ("fallback", "Fallback encoder",
          "Factory name of a local H.264 encoder (e.g. x264enc) used while "
          "the host is unreachable; empty: frames are dropped while "
          "reconnecting, and an unreachable host at start is an error",
          DEFAULT_FALLBACK, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_SHM_DEVICE,
      g_param_spec_string ("shm-device", "Shared memory device",
          "Where frame-source=shm/auto finds memory shared with the host when "
          "the transport cannot pass a memfd (virtio-serial, vsock): an "
          "ivshmem-plain device whose BAR holds hfxd's region header. "
          "auto: the first such device; a PCI address (0000:00:03.0) or sysfs "
          "directory; none: never use one", DEFAULT_SHM_DEVICE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "frames-sent, frames-encoded, frames-dropped, fallback-frames, "
          "reconnects, shm-frames, shm-copies, shm-memory, rtt-mean-ms, rtt-p99-ms, "
          "backend, address, connected",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected",
          "Whether the host is connected now", FALSE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

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

  GST_DEBUG_CATEGORY_INIT (gst_hfx_enc_debug, "vsockenc", 0,
      "hfx host encoder");
  gst_type_mark_as_plugin_api (GST_TYPE_HFX_FRAME_SOURCE, 0);
}

static void
gst_hfx_enc_init (GstHfxEnc * self)
{
  self->address = g_strdup (DEFAULT_ADDRESS);
  self->bitrate = DEFAULT_BITRATE;
  self->key_int_max = DEFAULT_KEY_INT_MAX;
  self->encoder = g_strdup (DEFAULT_ENCODER);
  self->frame_source = DEFAULT_FRAME_SOURCE;
  self->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  self->fallback_name = g_strdup (DEFAULT_FALLBACK);
  self->shm_device = g_strdup (DEFAULT_SHM_DEVICE);
  self->wake[0] = self->wake[1] = -1;
  g_mutex_init (&self->client_lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->in_flight);
  g_queue_init (&self->fb_frames);
  self->sent_at = g_new0 (gint64, ID_RING);
  self->rtt_ms = g_new0 (gdouble, RTT_RING);
  self->slot_held = g_new0 (GstBuffer *, ID_RING);
}

static void
gst_hfx_enc_finalize (GObject * object)
{
  GstHfxEnc *self = GST_HFX_ENC (object);

  g_free (self->address);
  g_free (self->encoder);
  hfx_token_wipe (self->token);
  g_free (self->token);
  g_free (self->fallback_name);
  g_free (self->shm_device);
  g_free (self->connected_address);
  g_free (self->sent_at);
  g_free (self->rtt_ms);
  g_free (self->slot_held);
  g_mutex_clear (&self->client_lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_hfx_enc_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstHfxEnc *self = GST_HFX_ENC (object);

  GST_OBJECT_LOCK (self);
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static GstStructure *
make_stats (GstHfxEnc * self)
{
  gdouble sorted[RTT_RING];
  gdouble p99 = 0, mean = 0;
  GstStructure *s;

  g_mutex_lock (&self->client_lock);
  memcpy (sorted, self->rtt_ms, self->rtt_n * sizeof (gdouble));
  hfx_percentiles (sorted, self->rtt_n, NULL, &p99);
  if (self->rtt_count)
    mean = self->rtt_sum / self->rtt_count;
  s = gst_structure_new ("application/x-hfx-stats",
      "frames-sent", G_TYPE_UINT64, self->frames_sent,
      "frames-encoded", G_TYPE_UINT64, self->frames_encoded,
      "frames-dropped", G_TYPE_UINT64, self->frames_dropped,
      "fallback-frames", G_TYPE_UINT64, self->fallback_frames,
      "reconnects", G_TYPE_UINT64, self->reconnects,
      "shm-frames", G_TYPE_UINT64, self->shm_frames,
      "shm-copies", G_TYPE_UINT64, self->shm_copies,
      "shm-memory", G_TYPE_STRING, !self->shm_ready ? "none" :
      self->shm_region ? "memfd" : "ivshmem",
      "rtt-mean-ms", G_TYPE_DOUBLE, mean,
      "rtt-p99-ms", G_TYPE_DOUBLE, p99,
      "backend", G_TYPE_STRING, self->backend,
      "address", G_TYPE_STRING,
      self->connected_address ? self->connected_address : "",
      "connected", G_TYPE_BOOLEAN, self->client != NULL, NULL);
  g_mutex_unlock (&self->client_lock);
  return s;
}

static void
gst_hfx_enc_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstHfxEnc *self = GST_HFX_ENC (object);

  switch (prop_id) {
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      return;
    case PROP_CONNECTED:
      g_mutex_lock (&self->client_lock);
      g_value_set_boolean (value, self->client != NULL);
      g_mutex_unlock (&self->client_lock);
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
client_log (void *user, enum hfx_log_level level, const char *msg)
{
  GstHfxEnc *self = user;

  switch (level) {
    case HFX_LOG_ERROR:
    case HFX_LOG_WARN:
      GST_WARNING_OBJECT (self, "%s", msg);
      break;
    case HFX_LOG_INFO:
      GST_INFO_OBJECT (self, "%s", msg);
      break;
    default:
      GST_DEBUG_OBJECT (self, "%s", msg);
      break;
  }
}

static void
wake_reader (GstHfxEnc * self)
{
  static const char byte = 1;

  if (self->wake[1] >= 0 && write (self->wake[1], &byte, 1) < 0
      && errno != EAGAIN)
    GST_WARNING_OBJECT (self, "wake pipe: %s", g_strerror (errno));
}

/* A frame is answered: the host is done reading its slot. */
static void
release_slot (GstHfxEnc * self, guint64 id)
{
  gst_clear_buffer (&self->slot_held[id % ID_RING]);
}

static void
release_all_slots (GstHfxEnc * self)
{
  for (guint i = 0; i < ID_RING; i++)
    gst_clear_buffer (&self->slot_held[i]);
}

static GstHfxFrameSource
frame_source (GstHfxEnc * self)
{
  GstHfxFrameSource fs;

  GST_OBJECT_LOCK (self);
  fs = self->frame_source;
  GST_OBJECT_UNLOCK (self);
  return fs;
}

/* Make the pool's frames readable by the host on this connection
 * (client_lock held): attach its memfd, or, for a pool in the ivshmem
 * region, check that the host shares that region as region 0. With
 * frame-source=auto a host or transport without SHM means inline frames;
 * with frame-source=shm it is an error. */
static gboolean
attach_pool (GstHfxEnc * self)
{
  GstHfxShmPool *pool = GST_HFX_SHM_POOL (self->shm_pool);
  const gchar *why;
  enum hfx_status st;

  if (!self->client || !self->shm_pool || self->shm_ready)
    return TRUE;
  if (gst_hfx_shm_pool_get_ivshmem (pool)) {
    if (hfx_client_welcome (self->client)->caps & HFX_CAP_SHM_FILE) {
      GST_INFO_OBJECT (self, "frames go through region 0 (%s)",
          gst_hfx_shm_pool_get_ivshmem (pool)->path);
      self->shm_region = 0;
      self->shm_ready = TRUE;
      return TRUE;
    }
    st = HFX_E_UNSUPPORTED;
    why = "the host shares no region 0 on this connection (hfxd --shm-file)";
  } else {
    st = hfx_client_attach_shm (self->client, gst_hfx_shm_pool_get_fd (pool),
        gst_hfx_shm_pool_get_size (pool), &self->shm_region);
    if (st == HFX_OK) {
      GST_INFO_OBJECT (self, "shared memory region %u (%" G_GSIZE_FORMAT
          " bytes) attached", self->shm_region,
          gst_hfx_shm_pool_get_size (pool));
      self->shm_ready = TRUE;
      return TRUE;
    }
    why = "a memfd needs a unix: address and a host that offers it, an "
        "ivshmem device needs hfxd --shm-file";
  }
  self->shm_ready = FALSE;
  if (frame_source (self) == GST_HFX_FRAME_SOURCE_SHM) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("frame-source=shm, but %s cannot share memory with this host: %s",
            self->connected_address, hfx_strerror (st)),
        ("%s; use frame-source=auto or inline", why));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "no shared memory on %s (%s: %s): inline frames",
      self->connected_address, hfx_strerror (st), why);
  return TRUE;
}

/* Connect and (when a format is known) configure. Called without
 * client_lock; returns the status. */
static enum hfx_status
connect_host (GstHfxEnc * self, gchar * err, gsize err_cap)
{
  struct hfx_client_options opts = {.log = client_log,.log_user = self };
  struct hfx_client *client = NULL;
  gchar *address, *token;
  enum hfx_status st;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  token = g_strdup (self->token);
  GST_OBJECT_UNLOCK (self);
  opts.token = token;
  opts.timeout_ms = 2000;
  st = hfx_client_connect (address, &opts, &client, err, err_cap);
  hfx_token_wipe (token);
  g_free (token);
  if (st != HFX_OK) {
    GST_DEBUG_OBJECT (self, "connect %s: %s", address, hfx_strerror (st));
    g_free (address);
    return st;
  }
  g_mutex_lock (&self->client_lock);
  self->client = client;
  g_free (self->connected_address);
  /* For auto, the port that answered, not "auto". */
  self->connected_address = g_strdup (hfx_client_address (client));
  g_free (address);
  self->configured = FALSE;
  self->configure_failed = FALSE;
  self->host_error[0] = '\0';
  self->shm_ready = FALSE;
  if (self->have_cfg) {
    st = hfx_client_configure (client, STREAM_ID, &self->cfg);
    if (st != HFX_OK)
      GST_WARNING_OBJECT (self, "configure: %s", hfx_strerror (st));
    attach_pool (self);
  }
  GST_INFO_OBJECT (self, "connected to %s", self->connected_address);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->client_lock);
  return HFX_OK;
}

/* The host went away: answer every frame in flight as dropped. Called with
 * client_lock held; returns the frame numbers to finish (caller frees). */
static GList *
lose_connection (GstHfxEnc * self)
{
  GList *lost = NULL;
  gpointer id;

  hfx_client_free (&self->client);
  self->configured = FALSE;
  self->shm_ready = FALSE;
  release_all_slots (self);
  while ((id = g_queue_pop_head (&self->in_flight))) {
    lost = g_list_append (lost, id);
    self->frames_dropped++;
  }
  g_cond_broadcast (&self->cond);
  return lost;
}

struct pending_out
{
  guint32 frame_number;
  GstBuffer *buf;               /* NULL: dropped */
  gboolean keyframe;
};

static void
finish_outputs (GstHfxEnc * self, GList * outs)
{
  GstVideoEncoder *enc = GST_VIDEO_ENCODER (self);

  for (GList * l = outs; l; l = l->next) {
    struct pending_out *o = l->data;
    GstVideoCodecFrame *frame;

    GST_VIDEO_ENCODER_STREAM_LOCK (enc);
    frame = gst_video_encoder_get_frame (enc, o->frame_number);
    if (frame) {
      if (o->buf) {
        frame->output_buffer = o->buf;
        o->buf = NULL;
        if (o->keyframe)
          GST_VIDEO_CODEC_FRAME_SET_SYNC_POINT (frame);
        else
          GST_VIDEO_CODEC_FRAME_UNSET_SYNC_POINT (frame);
        frame->dts = frame->pts;
      }
      /* No output buffer: the base class drops the frame. */
      gst_video_encoder_finish_frame (enc, frame);
    }
    GST_VIDEO_ENCODER_STREAM_UNLOCK (enc);
    if (o->buf)
      gst_buffer_unref (o->buf);
    g_free (o);
  }
  g_list_free (outs);
}

static GList *
add_out (GList * outs, guint32 frame_number, GstBuffer * buf, gboolean keyframe)
{
  struct pending_out *o = g_new0 (struct pending_out, 1);

  o->frame_number = frame_number;
  o->buf = buf;
  o->keyframe = keyframe;
  return g_list_append (outs, o);
}

static void
record_rtt (GstHfxEnc * self, guint64 id)
{
  gint64 sent = self->sent_at[id % ID_RING];
  gdouble ms;

  if (!sent)
    return;
  ms = (g_get_monotonic_time () - sent) / 1000.0;
  self->rtt_ms[self->rtt_count % RTT_RING] = ms;
  if (self->rtt_n < RTT_RING)
    self->rtt_n++;
  self->rtt_sum += ms;
  self->rtt_count++;
}

static void
note_configured (GstHfxEnc * self, const struct hfx_configured *c)
{
  self->configured = TRUE;
  self->profile_idc = c->profile_idc;
  self->level_idc = c->level_idc;
  g_strlcpy (self->backend, c->encoder, sizeof (self->backend));
  self->sps_len = 0;
  /* Keep the SPS (without its NAL header byte) for profile and level in
   * the caps. */
  for (gsize i = 0; i + 4 < c->extradata_len; i++) {
    const guint8 *p = c->extradata + i;
    if (p[0] == 0 && p[1] == 0 && p[2] == 1 && (p[3] & 0x1f) == 7) {
      gsize end = i + 4;
      while (end + 2 < c->extradata_len && !(c->extradata[end] == 0
              && c->extradata[end + 1] == 0 && c->extradata[end + 2] <= 1))
        end++;
      if (end + 2 >= c->extradata_len)
        end = c->extradata_len;
      self->sps_len = MIN (end - (i + 4), sizeof (self->sps));
      memcpy (self->sps, p + 4, self->sps_len);
      break;
    }
  }
}

/* Drain the client's events (client_lock held); collect outputs. Returns
 * FALSE when the connection broke. */
static gboolean
pump_events (GstHfxEnc * self, GList ** outs)
{
  struct hfx_event ev;
  enum hfx_status st;

  while (self->client) {
    st = hfx_client_next_event (self->client, 0, &ev);
    if (st == HFX_E_TIMEOUT)
      return TRUE;
    if (st != HFX_OK) {
      GST_WARNING_OBJECT (self, "host connection lost: %s", hfx_strerror (st));
      return FALSE;
    }
    switch (ev.type) {
      case HFX_EVENT_PACKET:{
        guint64 id = ev.u.packet.frame_id;
        GstBuffer *buf = gst_buffer_new_memdup (ev.u.packet.data,
            ev.u.packet.data_len);
        g_queue_remove (&self->in_flight, GUINT_TO_POINTER ((guint) id + 1));
        release_slot (self, id);
        record_rtt (self, id);
        self->frames_encoded++;
        *outs = add_out (*outs, (guint32) id, buf, ev.keyframe);
        break;
      }
      case HFX_EVENT_DROPPED:
        g_queue_remove (&self->in_flight,
            GUINT_TO_POINTER ((guint) ev.u.dropped.frame_id + 1));
        release_slot (self, ev.u.dropped.frame_id);
        self->frames_dropped++;
        *outs = add_out (*outs, (guint32) ev.u.dropped.frame_id, NULL, FALSE);
        break;
      case HFX_EVENT_CONFIGURED:
        note_configured (self, &ev.u.configured);
        break;
      case HFX_EVENT_FLUSHED:
        self->flushed = TRUE;
        break;
      case HFX_EVENT_ERROR:
        g_strlcpy (self->host_error, ev.u.error.text,
            sizeof (self->host_error));
        GST_ELEMENT_WARNING (self, STREAM, ENCODE,
            ("The hfx host reported an error: %s", ev.u.error.text),
            ("%s on stream %u", hfx_status_name (ev.u.error.code), ev.stream));
        if (ev.stream == STREAM_ID) {
          self->configure_failed = !self->configured;
          self->configured = FALSE;
        }
        if (ev.stream == 0)
          return FALSE;
        break;
      default:
        break;
    }
    g_cond_broadcast (&self->cond);
  }
  return TRUE;
}

static gpointer
reader_thread (gpointer data)
{
  GstHfxEnc *self = data;
  guint backoff_ms = BACKOFF_FIRST_MS;

  g_mutex_lock (&self->client_lock);
  while (!self->stopping) {
    GList *outs = NULL, *lost = NULL;

    if (!self->client) {
      gint64 until = g_get_monotonic_time () + backoff_ms * 1000;
      /* Exponential backoff, interruptible by stop. */
      while (!self->stopping && g_cond_wait_until (&self->cond,
              &self->client_lock, until));
      if (self->stopping)
        break;
      g_mutex_unlock (&self->client_lock);
      gchar err[256] = "";
      enum hfx_status st = connect_host (self, err, sizeof (err));
      g_mutex_lock (&self->client_lock);
      if (st == HFX_OK) {
        self->reconnects++;
        backoff_ms = BACKOFF_FIRST_MS;
      } else {
        backoff_ms = MIN (backoff_ms * 2, BACKOFF_MAX_MS);
      }
      continue;
    }

    struct pollfd pfd[2] = {
      {.fd = hfx_client_fd (self->client),.events = POLLIN},
      {.fd = self->wake[0],.events = POLLIN},
    };
    g_mutex_unlock (&self->client_lock);
    poll (pfd, 2, 100);
    if (pfd[1].revents & POLLIN) {
      char buf[64];
      while (read (self->wake[0], buf, sizeof (buf)) > 0);
    }
    g_mutex_lock (&self->client_lock);
    if (!pump_events (self, &outs))
      lost = lose_connection (self);
    self->finishing++;
    g_mutex_unlock (&self->client_lock);

    finish_outputs (self, outs);
    for (GList * l = lost; l; l = l->next)
      finish_outputs (self, add_out (NULL, GPOINTER_TO_UINT (l->data) - 1,
              NULL, FALSE));
    g_list_free (lost);
    g_mutex_lock (&self->client_lock);
    self->finishing--;
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->client_lock);
  return NULL;
}

static gboolean
has_fallback (GstHfxEnc * self)
{
  gboolean yes;

  GST_OBJECT_LOCK (self);
  yes = self->fallback_name && self->fallback_name[0];
  GST_OBJECT_UNLOCK (self);
  return yes;
}

static gboolean
gst_hfx_enc_start (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  gchar err[HFX_MAX_TEXT + 1] = "";
  gboolean have_fallback;
  enum hfx_status st;

  have_fallback = has_fallback (self);

  if (!g_unix_open_pipe (self->wake, FD_CLOEXEC, NULL)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL), ("pipe failed"));
    return FALSE;
  }
  g_unix_set_fd_nonblocking (self->wake[0], TRUE, NULL);
  g_unix_set_fd_nonblocking (self->wake[1], TRUE, NULL);
  self->have_cfg = FALSE;
  self->stopping = FALSE;
  self->reported_latency = GST_CLOCK_TIME_NONE;
  self->frames_sent = self->frames_encoded = self->frames_dropped = 0;
  self->reconnects = self->fallback_frames = 0;
  self->shm_frames = self->shm_copies = 0;
  self->rtt_n = 0;
  self->rtt_count = 0;
  self->rtt_sum = 0;
  memset (self->sent_at, 0, ID_RING * sizeof (gint64));

  st = connect_host (self, err, sizeof (err));
  if (st != HFX_OK && !have_fallback) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not reach the hfx host at %s: %s", self->address,
            err[0] ? err : hfx_strerror (st)),
        ("hfx_client_connect: %s; set fallback=x264enc to encode locally "
            "while the host is unreachable", hfx_status_name (st)));
    close (self->wake[0]);
    close (self->wake[1]);
    self->wake[0] = self->wake[1] = -1;
    return FALSE;
  }
  if (st != HFX_OK)
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ_WRITE,
        ("Could not reach the hfx host at %s: %s; encoding with %s until it "
            "answers", self->address, hfx_strerror (st), self->fallback_name),
        (NULL));
  self->reader = g_thread_new ("vsockenc-reader", reader_thread, self);
  return TRUE;
}

static void
stop_fallback (GstHfxEnc * self)
{
  GstPad *peer;

  if (!self->fallback)
    return;
  gst_element_set_state (self->fallback, GST_STATE_NULL);
  peer = gst_pad_get_peer (self->fb_src);
  if (peer) {
    gst_pad_unlink (self->fb_src, peer);
    gst_object_unref (peer);
  }
  peer = gst_pad_get_peer (self->fb_sink);
  if (peer) {
    gst_pad_unlink (peer, self->fb_sink);
    gst_object_unref (peer);
  }
  gst_object_unref (self->fallback);
  gst_object_unref (self->fb_src);
  gst_object_unref (self->fb_sink);
  self->fallback = NULL;
  self->fb_src = self->fb_sink = NULL;
  self->fb_started = FALSE;
  g_queue_clear (&self->fb_frames);
}

static gboolean
gst_hfx_enc_stop (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);

  g_mutex_lock (&self->client_lock);
  self->stopping = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->client_lock);
  wake_reader (self);
  if (self->reader) {
    g_thread_join (self->reader);
    self->reader = NULL;
  }
  g_mutex_lock (&self->client_lock);
  hfx_client_free (&self->client);
  g_queue_clear (&self->in_flight);
  self->configured = FALSE;
  self->shm_ready = FALSE;
  release_all_slots (self);
  g_mutex_unlock (&self->client_lock);
  if (self->shm_pool) {
    gst_buffer_pool_set_active (self->shm_pool, FALSE);
    gst_clear_object (&self->shm_pool);
  }
  g_clear_pointer (&self->ivshmem, gst_hfx_ivshmem_unref);
  if (self->wake[0] >= 0) {
    close (self->wake[0]);
    close (self->wake[1]);
    self->wake[0] = self->wake[1] = -1;
  }
  stop_fallback (self);
  g_clear_pointer (&self->input_state, gst_video_codec_state_unref);
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

/* Wait (client_lock held, stream lock released by the caller if needed)
 * until cond_fn is true, the connection breaks, or the timeout passes. */
static gboolean
wait_for (GstHfxEnc * self, gboolean (*cond_fn) (GstHfxEnc *), gint64 timeout)
{
  gint64 until = g_get_monotonic_time () + timeout;

  while (!cond_fn (self) && self->client && !self->stopping) {
    if (!g_cond_wait_until (&self->cond, &self->client_lock, until))
      return cond_fn (self);
  }
  return cond_fn (self);
}

/* wait_for on the streaming thread (stream lock and client_lock held): the
 * stream lock is let go meanwhile, since the reader needs it to finish
 * frames, and taken back before client_lock (the lock order). */
static gboolean
wait_streamless (GstHfxEnc * self, gboolean (*cond_fn) (GstHfxEnc *))
{
  GstVideoEncoder *enc = GST_VIDEO_ENCODER (self);
  gboolean met;

  GST_VIDEO_ENCODER_STREAM_UNLOCK (enc);
  met = wait_for (self, cond_fn, REPLY_TIMEOUT_US);
  g_mutex_unlock (&self->client_lock);
  GST_VIDEO_ENCODER_STREAM_LOCK (enc);
  g_mutex_lock (&self->client_lock);
  return met;
}

static gboolean
is_configured (GstHfxEnc * self)
{
  return self->configured || self->configure_failed;
}

/* Drained: the host said FLUSHED and every answer reached finish_frame. */
static gboolean
is_flushed (GstHfxEnc * self)
{
  return self->flushed && self->finishing == 0
      && g_queue_is_empty (&self->in_flight);
}

/* Encode everything in flight (EOS, renegotiation). Called with the stream
 * lock held; releases it while waiting so that the reader can finish
 * frames. */
static void
drain (GstHfxEnc * self)
{
  g_mutex_lock (&self->client_lock);
  if (self->client && self->configured) {
    self->flushed = FALSE;
    if (hfx_client_flush (self->client, STREAM_ID) == HFX_OK) {
      if (!wait_streamless (self, is_flushed))
        GST_WARNING_OBJECT (self, "host did not confirm the drain");
    }
  }
  g_mutex_unlock (&self->client_lock);
}

static void
update_output_caps (GstHfxEnc * self, GstVideoCodecState * state)
{
  GstCaps *caps = gst_caps_new_simple ("video/x-h264",
      "stream-format", G_TYPE_STRING, "byte-stream",
      "alignment", G_TYPE_STRING, "au", NULL);
  GstVideoCodecState *out;

  g_mutex_lock (&self->client_lock);
  if (self->sps_len >= 3)
    gst_codec_utils_h264_caps_set_level_and_profile (caps, self->sps,
        self->sps_len);
  g_mutex_unlock (&self->client_lock);
  out = gst_video_encoder_set_output_state (GST_VIDEO_ENCODER (self), caps,
      state);
  gst_video_codec_state_unref (out);
}

/* The pool for frame-source shm/auto: in the guest's ivshmem region when
 * there is one (the transports a guest has cannot pass a memfd), else in a
 * memfd. The region is opened once and kept until stop (): its flock keeps
 * other encoders out, and buffers of an old pool that upstream still holds
 * after a renegotiation keep it mapped anyway. */
static GstBufferPool *
new_shm_pool (GstHfxEnc * self, const GstVideoInfo * info, guint slots,
    GError ** error)
{
  GError *why = NULL;
  GstBufferPool *pool;
  gchar *device;

  GST_OBJECT_LOCK (self);
  device = g_strdup (self->shm_device);
  GST_OBJECT_UNLOCK (self);
  if (!self->ivshmem && device && device[0] && g_strcmp0 (device, "none")) {
    self->ivshmem = gst_hfx_ivshmem_open (device, &why);
    if (!self->ivshmem && g_strcmp0 (device, "auto") == 0) {
      GST_INFO_OBJECT (self, "no ivshmem region: %s", why->message);
    } else if (!self->ivshmem) {
      GST_ELEMENT_WARNING (self, RESOURCE, NOT_FOUND,
          ("shm-device=%s cannot be used: %s", device, why->message), (NULL));
    }
    g_clear_error (&why);
  }
  g_free (device);
  if (self->ivshmem) {
    pool = gst_hfx_shm_pool_new_in_ivshmem (info, slots, self->ivshmem, &why);
    if (pool)
      return pool;
    GST_WARNING_OBJECT (self, "the ivshmem region cannot hold this format: "
        "%s; using a memfd", why->message);
    g_clear_error (&why);
  }
  return gst_hfx_shm_pool_new (info, slots, error);
}

static gboolean
gst_hfx_enc_set_format (GstVideoEncoder * enc, GstVideoCodecState * state)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstVideoInfo *info = &state->info;
  struct hfx_configure cfg;
  gboolean ok = TRUE;

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
  GST_OBJECT_LOCK (self);
  cfg.bitrate_kbps = self->bitrate;
  cfg.keyint_frames = self->key_int_max;
  if (self->encoder && strcmp (self->encoder, "auto") != 0)
    g_strlcpy (cfg.encoder, self->encoder, sizeof (cfg.encoder));
  self->bitrate_changed = FALSE;
  GST_OBJECT_UNLOCK (self);

  if (hfx_configure_validate (&cfg) != HFX_OK) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("%ux%u %s cannot be encoded by an hfx host (sizes must be even)",
            cfg.width, cfg.height,
            gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info))), (NULL));
    return FALSE;
  }

  /* Renegotiation: what was sent with the old format comes out first. */
  drain (self);
  if (self->fb_started) {
    stop_fallback (self);
  }

  g_clear_pointer (&self->input_state, gst_video_codec_state_unref);
  self->input_state = gst_video_codec_state_ref (state);

  /* A new format needs a new pool (and region) for shared memory. */
  g_mutex_lock (&self->client_lock);
  release_all_slots (self);
  self->shm_ready = FALSE;
  g_mutex_unlock (&self->client_lock);
  if (self->shm_pool) {
    gst_buffer_pool_set_active (self->shm_pool, FALSE);
    gst_clear_object (&self->shm_pool);
  }
  if (frame_source (self) != GST_HFX_FRAME_SOURCE_INLINE) {
    GError *error = NULL;
    guint slots;
    GST_OBJECT_LOCK (self);
    /* Frames in flight, plus what upstream and the queue in front of us
     * may hold. */
    slots = MIN (self->max_in_flight * 2 + 4, GST_HFX_SHM_POOL_MAX_SLOTS);
    GST_OBJECT_UNLOCK (self);
    self->shm_pool = new_shm_pool (self, info, slots, &error);
    if (!self->shm_pool) {
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("Cannot create shared memory for frames: %s", error->message),
          (NULL));
      g_clear_error (&error);
      return FALSE;
    }
  }

  g_mutex_lock (&self->client_lock);
  self->cfg = cfg;
  self->have_cfg = TRUE;
  if (self->client && !attach_pool (self)) {
    g_mutex_unlock (&self->client_lock);
    return FALSE;
  }
  if (self->client) {
    self->configured = FALSE;
    self->configure_failed = FALSE;
    if (hfx_client_configure (self->client, STREAM_ID, &cfg) != HFX_OK) {
      ok = FALSE;
    } else {
      wake_reader (self);
      ok = wait_streamless (self, is_configured) && self->configured;
    }
  }
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, ENCODE,
        ("The hfx host could not configure an encoder for %ux%u %s: %s",
            cfg.width, cfg.height, hfx_format_name (cfg.fourcc),
            self->host_error[0] ? self->host_error : "no answer"), (NULL));
    g_mutex_unlock (&self->client_lock);
    return FALSE;
  }
  g_mutex_unlock (&self->client_lock);
  update_output_caps (self, state);
  return TRUE;
}

/* Internal pads for the fallback encoder. */
static GstFlowReturn
fb_sink_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstHfxEnc *self = GST_HFX_ENC (gst_pad_get_element_private (pad));
  GstVideoEncoder *enc = GST_VIDEO_ENCODER (self);
  gpointer id = g_queue_pop_head (&self->fb_frames);
  GstVideoCodecFrame *frame;

  if (!id) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  frame = gst_video_encoder_get_frame (enc, GPOINTER_TO_UINT (id) - 1);
  if (!frame) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  frame->output_buffer = buf;
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    GST_VIDEO_CODEC_FRAME_SET_SYNC_POINT (frame);
  frame->dts = frame->pts;
  g_mutex_lock (&self->client_lock);
  self->fallback_frames++;
  g_mutex_unlock (&self->client_lock);
  return gst_video_encoder_finish_frame (enc, frame);
}

static gboolean
fb_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    /* Our output is byte-stream/au whoever encodes. */
    GstCaps *caps = gst_caps_from_string ("video/x-h264, "
        "stream-format=byte-stream, alignment=au");
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS) {
    gst_query_set_accept_caps_result (query, TRUE);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
fb_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gst_event_unref (event);
  return TRUE;
}

static gboolean
start_fallback (GstHfxEnc * self)
{
  GstElement *e;
  GstPad *sink, *src;
  gchar *name;
  GstSegment segment;

  GST_OBJECT_LOCK (self);
  name = g_strdup (self->fallback_name);
  GST_OBJECT_UNLOCK (self);
  e = gst_element_factory_make (name, NULL);
  if (!e) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN,
        ("Fallback encoder '%s' not found", name), (NULL));
    g_free (name);
    return FALSE;
  }
  g_free (name);
  /* Low latency where the encoder knows it (x264enc): one frame in, one
   * out, so outputs match frames in order. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "tune"))
    gst_util_set_object_arg (G_OBJECT (e), "tune", "zerolatency");
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "speed-preset"))
    gst_util_set_object_arg (G_OBJECT (e), "speed-preset", "ultrafast");
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "bitrate"))
    g_object_set (e, "bitrate", self->cfg.bitrate_kbps, NULL);
  self->fallback = gst_object_ref_sink (e);
  self->fb_src = gst_pad_new ("fallback_src", GST_PAD_SRC);
  self->fb_sink = gst_pad_new ("fallback_sink", GST_PAD_SINK);
  gst_pad_set_element_private (self->fb_sink, self);
  gst_pad_set_chain_function (self->fb_sink, fb_sink_chain);
  gst_pad_set_query_function (self->fb_sink, fb_sink_query);
  gst_pad_set_event_function (self->fb_sink, fb_sink_event);
  sink = gst_element_get_static_pad (e, "sink");
  src = gst_element_get_static_pad (e, "src");
  gst_pad_set_active (self->fb_src, TRUE);
  gst_pad_set_active (self->fb_sink, TRUE);
  if (gst_pad_link (self->fb_src, sink) != GST_PAD_LINK_OK
      || gst_pad_link (src, self->fb_sink) != GST_PAD_LINK_OK) {
    gst_object_unref (sink);
    gst_object_unref (src);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Cannot link the fallback encoder"), (NULL));
    return FALSE;
  }
  gst_object_unref (sink);
  gst_object_unref (src);
  if (gst_element_set_state (e, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE,
        ("Cannot start the fallback encoder"), (NULL));
    return FALSE;
  }
  gst_pad_push_event (self->fb_src, gst_event_new_stream_start ("vsockenc"));
  gst_pad_push_event (self->fb_src,
      gst_event_new_caps (self->input_state->caps));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->fb_src, gst_event_new_segment (&segment));
  self->fb_started = TRUE;
  return TRUE;
}

static GstFlowReturn
encode_with_fallback (GstHfxEnc * self, GstVideoCodecFrame * frame)
{
  GstBuffer *in;

  if (!self->fb_started && !start_fallback (self)) {
    gst_video_codec_frame_unref (frame);
    return GST_FLOW_ERROR;
  }
  in = gst_buffer_ref (frame->input_buffer);
  GST_BUFFER_PTS (in) = frame->pts;
  if (GST_VIDEO_CODEC_FRAME_IS_FORCE_KEYFRAME (frame))
    gst_pad_push_event (self->fb_src,
        gst_video_event_new_downstream_force_key_unit (frame->pts,
            GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0));
  g_queue_push_tail (&self->fb_frames,
      GUINT_TO_POINTER (frame->system_frame_number + 1));
  gst_video_codec_frame_unref (frame);
  /* x264enc with zerolatency pushes the encoded frame before returning;
   * fb_sink_chain finishes it. */
  return gst_pad_push (self->fb_src, in);
}

/* The host cannot take this frame: the fallback encodes it, or it is
 * dropped and counted. Takes the frame. */
static GstFlowReturn
host_unreachable (GstHfxEnc * self, GstVideoCodecFrame * frame)
{
  if (has_fallback (self))
    return encode_with_fallback (self, frame);
  g_mutex_lock (&self->client_lock);
  self->frames_dropped++;
  g_mutex_unlock (&self->client_lock);
  GST_DEBUG_OBJECT (self, "host unreachable: dropping frame %u",
      frame->system_frame_number);
  return gst_video_encoder_finish_frame (GST_VIDEO_ENCODER (self), frame);
}

static gboolean
has_room (GstHfxEnc * self)
{
  guint max;

  GST_OBJECT_LOCK (self);
  max = self->max_in_flight;
  GST_OBJECT_UNLOCK (self);
  if (self->client) {
    guint window = hfx_client_welcome (self->client)->window;
    max = MIN (max, window);
  }
  return g_queue_get_length (&self->in_flight) < max;
}

static void
update_latency (GstHfxEnc * self)
{
  GstClockTime min, max, frame_dur = 0;
  guint in_flight_max;
  gdouble mean;

  g_mutex_lock (&self->client_lock);
  mean = self->rtt_count ? self->rtt_sum / self->rtt_count : 0;
  g_mutex_unlock (&self->client_lock);
  if (self->input_state && GST_VIDEO_INFO_FPS_N (&self->input_state->info))
    frame_dur = gst_util_uint64_scale (GST_SECOND,
        GST_VIDEO_INFO_FPS_D (&self->input_state->info),
        GST_VIDEO_INFO_FPS_N (&self->input_state->info));
  GST_OBJECT_LOCK (self);
  in_flight_max = self->max_in_flight;
  GST_OBJECT_UNLOCK (self);
  min = (GstClockTime) (mean * GST_MSECOND);
  max = min + in_flight_max * frame_dur;
  /* Report only real changes: every report makes the pipeline recompute
   * its latency. */
  if (self->reported_latency == GST_CLOCK_TIME_NONE
      || ABS ((gint64) min - (gint64) self->reported_latency) >
      (gint64) (2 * GST_MSECOND)) {
    self->reported_latency = min;
    gst_video_encoder_set_latency (GST_VIDEO_ENCODER (self), min, max);
  }
}

static GstFlowReturn
gst_hfx_enc_handle_frame (GstVideoEncoder * enc, GstVideoCodecFrame * frame)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  GstVideoFrame vframe;
  struct hfx_frame f;
  struct iovec iov[HFX_MAX_PLANES];
  guint32 fourcc = self->cfg.fourcc;
  guint planes = hfx_format_planes (fourcc);
  gboolean bitrate_changed, force;
  guint bitrate;
  uint64_t offset = 0;
  GstBuffer *slot = NULL;
  enum hfx_status st;

  GST_OBJECT_LOCK (self);
  bitrate_changed = self->bitrate_changed;
  bitrate = self->bitrate;
  self->bitrate_changed = FALSE;
  GST_OBJECT_UNLOCK (self);
  force = GST_VIDEO_CODEC_FRAME_IS_FORCE_KEYFRAME (frame);

  g_mutex_lock (&self->client_lock);
  /* Window full: wait for answers without holding the stream lock, which
   * the reader needs to finish frames. */
  if (self->client && !has_room (self)) {
    wait_streamless (self, has_room);
  }
  if (!self->client || !self->configured) {
    g_mutex_unlock (&self->client_lock);
    return host_unreachable (self, frame);
  }
  if (self->fb_started) {
    /* Back on the host: its first frame is an IDR (new stream). */
    stop_fallback (self);
  }
  if (bitrate_changed
      && hfx_client_set_bitrate (self->client, STREAM_ID, bitrate) != HFX_OK)
    GST_WARNING_OBJECT (self, "bitrate change to %u kbit/s not sent", bitrate);
  /* A force-key-unit becomes the frame's FORCE_KEYFRAME flag: the per-frame
   * form of REQUEST_KEYFRAME, so the IDR lands on this very frame even when
   * earlier ones still wait at the host (REQUEST_KEYFRAME would apply to
   * the next frame the host encodes). The host throttles both alike. */

  memset (&f, 0, sizeof (f));
  f.frame_id = frame->system_frame_number;
  f.pts = GST_CLOCK_TIME_IS_VALID (frame->pts) ?
      (int64_t) (frame->pts / 1000) : 0;
  f.duration = GST_CLOCK_TIME_IS_VALID (frame->duration) ?
      frame->duration / 1000 : 0;
  f.plane_count = (uint8_t) planes;

  if (self->shm_ready) {
    GstHfxShmPool *pool = GST_HFX_SHM_POOL (self->shm_pool);
    GstBuffer *in = frame->input_buffer;
    const GstVideoInfo *info = &self->input_state->info;
    GstVideoMeta *meta;
    gsize off = 0;

    if (!gst_hfx_shm_pool_buffer_offset (pool, in, &off)) {
      /* Upstream did not render into our pool: copy into a free slot.
       * That may wait for the host to release one, so not under
       * client_lock, which the reader needs to release slots. */
      g_mutex_unlock (&self->client_lock);
      if (!gst_buffer_pool_is_active (self->shm_pool))
        gst_buffer_pool_set_active (self->shm_pool, TRUE);
      if (!gst_video_frame_map (&vframe, info, in, GST_MAP_READ)) {
        gst_video_codec_frame_unref (frame);
        GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL), ("cannot map frame"));
        return GST_FLOW_ERROR;
      }
      gboolean copied = gst_hfx_shm_pool_acquire_slot_copy (pool, &vframe,
          FALSE, &slot, &off);
      gst_video_frame_unmap (&vframe);
      g_mutex_lock (&self->client_lock);
      if (!copied || !self->client || !self->shm_ready) {
        /* Flushing, or the host went away meanwhile. */
        self->frames_dropped++;
        g_mutex_unlock (&self->client_lock);
        if (slot)
          gst_buffer_unref (slot);
        return gst_video_encoder_finish_frame (enc, frame);
      }
      in = slot;
    }
    meta = gst_buffer_get_video_meta (in);
    f.source = HFX_SOURCE_SHM;
    f.region = self->shm_region;
    for (guint p = 0; p < planes; p++) {
      f.planes[p].offset = off + (meta ? meta->offset[p] :
          GST_VIDEO_INFO_PLANE_OFFSET (info, p));
      f.planes[p].stride = meta ? meta->stride[p] :
          GST_VIDEO_INFO_PLANE_STRIDE (info, p);
    }
    self->sent_at[f.frame_id % ID_RING] = g_get_monotonic_time ();
    st = hfx_client_submit (self->client, STREAM_ID, &f, NULL, 0, force, 5000);
    if (st == HFX_OK) {
      self->shm_frames++;
      self->shm_copies += slot != NULL;
    }
    if (st == HFX_OK && slot) {
      /* Keep the slot until the host answers this frame. */
      gst_clear_buffer (&self->slot_held[f.frame_id % ID_RING]);
      self->slot_held[f.frame_id % ID_RING] = slot;
      slot = NULL;
    }
    if (slot)
      gst_buffer_unref (slot);
    goto submitted;
  }

  if (!gst_video_frame_map (&vframe, &self->input_state->info,
          frame->input_buffer, GST_MAP_READ)) {
    g_mutex_unlock (&self->client_lock);
    gst_video_codec_frame_unref (frame);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL), ("cannot map frame"));
    return GST_FLOW_ERROR;
  }
  f.source = HFX_SOURCE_INLINE;
  for (guint p = 0; p < planes; p++) {
    uint32_t row_bytes = 0, rows = 0;
    hfx_format_plane_size (fourcc, self->cfg.width, self->cfg.height, p,
        &row_bytes, &rows);
    f.planes[p].offset = offset;
    f.planes[p].stride = GST_VIDEO_FRAME_PLANE_STRIDE (&vframe, p);
    iov[p].iov_base = GST_VIDEO_FRAME_PLANE_DATA (&vframe, p);
    iov[p].iov_len = (gsize) f.planes[p].stride * (rows - 1) + row_bytes;
    offset += iov[p].iov_len;
  }
  self->sent_at[f.frame_id % ID_RING] = g_get_monotonic_time ();
  st = hfx_client_submit (self->client, STREAM_ID, &f, iov, (int) planes,
      force, 5000);
  gst_video_frame_unmap (&vframe);
submitted:
  if (st == HFX_OK) {
    g_queue_push_tail (&self->in_flight,
        GUINT_TO_POINTER (frame->system_frame_number + 1));
    self->frames_sent++;
  }
  g_mutex_unlock (&self->client_lock);
  wake_reader (self);
  gst_video_codec_frame_unref (frame);
  if (st != HFX_OK) {
    GST_WARNING_OBJECT (self, "frame %" G_GUINT64_FORMAT " not sent: %s",
        (guint64) f.frame_id, hfx_strerror (st));
    /* The reader notices the broken connection and answers the frames in
     * flight; this one goes to the fallback, or is dropped and counted. */
    frame = gst_video_encoder_get_frame (enc, (int) f.frame_id);
    return frame ? host_unreachable (self, frame) : GST_FLOW_OK;
  }
  if (self->frames_sent % 30 == 1)
    update_latency (self);
  return GST_FLOW_OK;
}

static gboolean
gst_hfx_enc_propose_allocation (GstVideoEncoder * enc, GstQuery * query)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);
  gboolean offer;

  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  g_mutex_lock (&self->client_lock);
  offer = self->shm_pool && self->shm_ready;
  g_mutex_unlock (&self->client_lock);
  if (offer) {
    /* Upstream that takes this pool renders straight into memory the host
     * reads: only offsets cross the socket. */
    GstStructure *config = gst_buffer_pool_get_config (self->shm_pool);
    GstCaps *caps;
    guint size, min, max;
    gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max);
    gst_query_add_allocation_pool (query, self->shm_pool, size, 0, max);
    gst_structure_free (config);
  }
  return GST_VIDEO_ENCODER_CLASS (parent_class)->propose_allocation (enc,
      query);
}

static GstFlowReturn
gst_hfx_enc_finish (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);

  drain (self);
  if (self->fb_started)
    gst_pad_push_event (self->fb_src, gst_event_new_eos ());
  return GST_FLOW_OK;
}

static gboolean
gst_hfx_enc_flush (GstVideoEncoder * enc)
{
  GstHfxEnc *self = GST_HFX_ENC (enc);

  /* Frames still at the host are answered and dropped by the base class's
   * flush; what the host returns later finds no frame and is discarded. */
  g_mutex_lock (&self->client_lock);
  g_queue_clear (&self->in_flight);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->client_lock);
  return TRUE;
}
