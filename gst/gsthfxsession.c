/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's session with the host.
 */

/**
 * SECTION:gsthfxsession
 * @title: GstHfxSession
 * @short_description: the connection to the hfx host and the frames in
 *   flight on it
 *
 * One connection, one stream (id 1). The streaming thread configures the
 * stream and submits frames; a reader thread receives the host's answers
 * (PACKET, FRAME_DROPPED, CONFIGURED, FLUSHED, ERROR, docs/protocol.md §5)
 * and hands them to the element in frame order. At most
 * min (max-frames-in-flight, the host's window) frames are in flight
 * (docs/protocol.md §6): the streaming thread waits for room, without the
 * stream lock.
 *
 * When the connection breaks, every frame in flight is answered as
 * dropped, and the reader reconnects with exponential backoff (50 ms
 * doubling to 400 ms); the new connection is configured with the last
 * configuration and its memory attached again, and its stream starts with
 * an IDR (docs/protocol.md §5). No wait on the host is unbounded: 10 s for
 * a reply (CONFIGURED, FLUSHED), 5 s for the transport to take a frame.
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsthfxsession.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "hfx/h264.h"
#include "util/annexb.h"
#include "util/percentile.h"
#include "util/token.h"

GST_DEBUG_CATEGORY_EXTERN (gst_hfx_enc_debug);
#define GST_CAT_DEFAULT gst_hfx_enc_debug

#define STREAM_ID 1
/* How long the host may take to answer CONFIGURE or a drain. */
#define REPLY_TIMEOUT_US (10 * G_TIME_SPAN_SECOND)
/* How long the transport may take to accept a frame. */
#define SEND_TIMEOUT_MS 5000
/* How long a connection attempt (with the handshake) may take. */
#define CONNECT_TIMEOUT_MS 2000
/* Reconnect backoff: doubling from the first to the last value. */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 400
#define RTT_RING 1024
#define ID_RING 4096

struct _GstHfxSession
{
  GstVideoEncoder *encoder;     /* borrowed: owns the session */
  GstHfxSessionCallbacks callbacks;

  /* Everything below is under lock; cond signals window space, replies,
   * connection changes and stop. */
  GMutex lock;
  GCond cond;
  gchar *address;               /* to (re)connect to; owned */
  gchar *token;                 /* owned, wiped when freed */
  guint max_in_flight;
  struct hfx_client *client;    /* owned; NULL while disconnected */
  gchar *connected_address;     /* owned: the address that answered */
  gboolean configured;          /* CONFIGURED seen for the current stream */
  gboolean configure_failed;
  gboolean flushed;
  guint8 sps[256];
  gsize sps_len;
  gchar backend[HFX_MAX_NAME + 1];
  gchar host_error[HFX_MAX_TEXT + 1];   /* the host's last ERROR text */
  GQueue in_flight;             /* system_frame_number + 1 sent, unanswered */
  guint finishing;              /* answers taken by the reader, unfinished */
  struct hfx_configure cfg;
  gboolean have_cfg;

  /* Shared memory: the frames' pool (borrowed) and whether the host reads
   * it on this connection, as which region. */
  GstHfxShmFrames *shm;
  GstHfxSessionFrames frames;
  gboolean shm_ready;
  guint32 shm_region;
  /* RESOURCE frames: offered in HELLO, and served on this connection. */
  gboolean offer_resource;
  gboolean resource_ready;
  GstBuffer **slot_held;        /* [ID_RING]: copy-path slots until answered */

  GThread *reader;
  gboolean stopping;
  int wake[2];

  /* Stats. Large arrays live on the heap. */
  guint64 frames_sent, frames_encoded, frames_dropped, reconnects;
  guint64 shm_frames, shm_copies;       /* sent as SHM; of which copied in */
  guint64 resource_frames, resource_copies;     /* the same for RESOURCE */
  gint64 *sent_at;              /* [ID_RING] */
  gdouble *rtt_ms;              /* [RTT_RING] */
  guint rtt_n;
  gdouble rtt_sum;
  guint64 rtt_count;
};

/* An ERROR from the host, posted once the lock is let go. */
struct host_error
{
  guint32 stream;
  enum hfx_status code;
  gchar *text;
};

GstHfxSession *
gst_hfx_session_new (GstVideoEncoder * encoder,
    const GstHfxSessionCallbacks * callbacks)
{
  GstHfxSession *s = g_new0 (GstHfxSession, 1);

  s->encoder = encoder;
  s->callbacks = *callbacks;
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  g_queue_init (&s->in_flight);
  s->wake[0] = s->wake[1] = -1;
  s->sent_at = g_new0 (gint64, ID_RING);
  s->rtt_ms = g_new0 (gdouble, RTT_RING);
  s->slot_held = g_new0 (GstBuffer *, ID_RING);
  return s;
}

static void
clear_token (GstHfxSession * s)
{
  hfx_token_wipe (s->token);
  g_clear_pointer (&s->token, g_free);
}

void
gst_hfx_session_free (GstHfxSession ** session)
{
  GstHfxSession *s = *session;

  if (!s)
    return;
  gst_hfx_session_stop (s);
  clear_token (s);
  g_free (s->address);
  g_free (s->connected_address);
  g_free (s->sent_at);
  g_free (s->rtt_ms);
  g_free (s->slot_held);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
  *session = NULL;
}

static void
client_log (void *user, enum hfx_log_level level, const char *msg)
{
  GstHfxSession *s = user;

  switch (level) {
    case HFX_LOG_ERROR:
    case HFX_LOG_WARN:
      GST_WARNING_OBJECT (s->encoder, "%s", msg);
      break;
    case HFX_LOG_INFO:
      GST_INFO_OBJECT (s->encoder, "%s", msg);
      break;
    default:
      GST_DEBUG_OBJECT (s->encoder, "%s", msg);
      break;
  }
}

static void
wake_reader (GstHfxSession * s)
{
  static const char byte = 1;

  if (s->wake[1] >= 0 && write (s->wake[1], &byte, 1) < 0 && errno != EAGAIN)
    GST_WARNING_OBJECT (s->encoder, "wake pipe: %s", g_strerror (errno));
}

static void
close_wake_pipe (GstHfxSession * s)
{
  if (s->wake[0] >= 0) {
    close (s->wake[0]);
    close (s->wake[1]);
    s->wake[0] = s->wake[1] = -1;
  }
}

/* A frame is answered: the host is done reading its slot. */
static void
release_slot (GstHfxSession * s, guint64 id)
{
  gst_clear_buffer (&s->slot_held[id % ID_RING]);
}

static void
release_all_slots (GstHfxSession * s)
{
  for (guint i = 0; i < ID_RING; i++)
    gst_clear_buffer (&s->slot_held[i]);
}

/* Why the frames cannot be sent as asked, posted once the lock is let
 * go. */
struct source_failure
{
  gchar *message;               /* for the user */
  gchar *debug;                 /* for debugging */
};

/* Make the pool's frames readable by the host on this connection (lock
 * held). With frame-source=auto a host or transport without SHM means
 * inline frames; with frame-source=shm it is an error: FALSE, with
 * *failure filled for the caller to post. */
static gboolean
attach_shm (GstHfxSession * s, struct source_failure *failure)
{
  const gchar *why = "";
  enum hfx_status st;

  if (!s->client || !s->shm || s->shm_ready)
    return TRUE;
  st = gst_hfx_shm_frames_attach (s->shm, s->client, &s->shm_region, &why);
  if (st == HFX_OK) {
    if (gst_hfx_shm_frames_device_path (s->shm))
      GST_INFO_OBJECT (s->encoder, "frames go through region 0 (%s)",
          gst_hfx_shm_frames_device_path (s->shm));
    else
      GST_INFO_OBJECT (s->encoder, "shared memory region %u (%"
          G_GSIZE_FORMAT " bytes) attached", s->shm_region,
          gst_hfx_shm_frames_size (s->shm));
    s->shm_ready = TRUE;
    return TRUE;
  }
  s->shm_ready = FALSE;
  if (s->frames == GST_HFX_SESSION_FRAMES_SHM) {
    failure->message = g_strdup_printf ("frame-source=shm, but %s cannot "
        "share memory with this host: %s", s->connected_address,
        hfx_strerror (st));
    failure->debug = g_strdup_printf ("%s; use frame-source=auto or inline",
        why);
    return FALSE;
  }
  GST_INFO_OBJECT (s->encoder, "no shared memory on %s (%s: %s): inline "
      "frames", s->connected_address, hfx_strerror (st), why);
  return TRUE;
}

/* RESOURCE frames need a host that reads the guest's GPU (lock held):
 * FALSE, with *failure filled for the caller to post, when this one does
 * not. */
static gboolean
check_resource (GstHfxSession * s, struct source_failure *failure)
{
  if (!s->client || s->resource_ready)
    return TRUE;
  if (hfx_client_welcome (s->client)->caps & HFX_CAP_RESOURCE) {
    GST_INFO_OBJECT (s->encoder, "frames go as virtio-gpu resources");
    s->resource_ready = TRUE;
    return TRUE;
  }
  failure->message = g_strdup_printf ("frame-source=resource, but the host "
      "at %s does not read virtio-gpu resources", s->connected_address);
  failure->debug = g_strdup ("RESOURCE frames are served by the "
      "helix-frame-export chardev of hfx's QEMU with gpu= (docs/qemu.md), "
      "not by hfxd");
  return FALSE;
}

/* Makes the frames of the configured source readable by the host on this
 * connection (lock held); FALSE with *failure filled when they cannot be. */
static gboolean
attach_frames (GstHfxSession * s, struct source_failure *failure)
{
  if (s->frames == GST_HFX_SESSION_FRAMES_RESOURCE)
    return check_resource (s, failure);
  return attach_shm (s, failure);
}

/* Posts what attach_frames found, if anything (without the lock). */
static void
post_source_failure (GstHfxSession * s, struct source_failure *failure)
{
  if (!failure->message)
    return;
  GST_ELEMENT_ERROR (s->encoder, RESOURCE, SETTINGS, ("%s", failure->message),
      ("%s", failure->debug));
  g_clear_pointer (&failure->message, g_free);
  g_clear_pointer (&failure->debug, g_free);
}

/* Connect and (when a format is known) configure. Called without the lock;
 * on success tells the element, on this thread. */
static enum hfx_status
connect_host (GstHfxSession * s, gchar * err, gsize err_cap)
{
  struct hfx_client_options opts = {.log = client_log,.log_user = s };
  guint32 caps = HFX_CAP_INLINE | HFX_CAP_SHM_FD | HFX_CAP_SHM_FILE;
  struct hfx_client *client = NULL;
  struct source_failure failure = { NULL, NULL };
  gchar *address, *token;
  enum hfx_status st;

  g_mutex_lock (&s->lock);
  address = g_strdup (s->address);
  token = g_strdup (s->token);
  if (s->offer_resource)
    caps |= HFX_CAP_RESOURCE;
  g_mutex_unlock (&s->lock);
  opts.caps = caps;
  opts.token = token;
  opts.timeout_ms = CONNECT_TIMEOUT_MS;
  st = hfx_client_connect (address, &opts, &client, err, err_cap);
  hfx_token_wipe (token);
  g_free (token);
  if (st != HFX_OK) {
    GST_DEBUG_OBJECT (s->encoder, "connect %s: %s", address, hfx_strerror (st));
    g_free (address);
    return st;
  }
  g_free (address);

  g_mutex_lock (&s->lock);
  s->client = client;
  g_free (s->connected_address);
  /* For auto, the port that answered, not "auto". */
  s->connected_address = g_strdup (hfx_client_address (client));
  address = g_strdup (s->connected_address);
  s->configured = FALSE;
  s->configure_failed = FALSE;
  s->host_error[0] = '\0';
  s->shm_ready = FALSE;
  s->resource_ready = FALSE;
  if (s->have_cfg) {
    st = hfx_client_configure (client, STREAM_ID, &s->cfg);
    if (st != HFX_OK)
      GST_WARNING_OBJECT (s->encoder, "configure: %s", hfx_strerror (st));
    attach_frames (s, &failure);
  }
  GST_INFO_OBJECT (s->encoder, "connected to %s", s->connected_address);
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);

  post_source_failure (s, &failure);
  s->callbacks.connection_changed (s->encoder, TRUE, address, HFX_OK);
  g_free (address);
  return HFX_OK;
}


struct answer
{
  guint32 frame_number;
  GstBuffer *buf;               /* NULL: dropped */
  gboolean keyframe;
};

static GList *
add_answer (GList * answers, guint32 frame_number, GstBuffer * buf,
    gboolean keyframe)
{
  struct answer *a = g_new0 (struct answer, 1);

  a->frame_number = frame_number;
  a->buf = buf;
  a->keyframe = keyframe;
  return g_list_append (answers, a);
}

/* The host went away: every frame in flight is answered as dropped, after
 * the answers already in *answers. Called with the lock held. */
static void
lose_connection (GstHfxSession * s, GList ** answers)
{
  gpointer id;

  hfx_client_free (&s->client);
  s->configured = FALSE;
  s->shm_ready = FALSE;
  s->resource_ready = FALSE;
  release_all_slots (s);
  while ((id = g_queue_pop_head (&s->in_flight))) {
    *answers = add_answer (*answers, GPOINTER_TO_UINT (id) - 1, NULL, FALSE);
    s->frames_dropped++;
  }
  g_cond_broadcast (&s->cond);
}

/* The host answered frame id: out of the frames in flight, its slot
 * free, its answer after the others. Lock held. */
static void
answer_frame (GstHfxSession * s, guint64 id, GstBuffer * buf,
    gboolean keyframe, GList ** answers)
{
  g_queue_remove (&s->in_flight, GUINT_TO_POINTER ((guint) id + 1));
  release_slot (s, id);
  *answers = add_answer (*answers, (guint32) id, buf, keyframe);
}

/* Hands the answers to the element (without the lock); frees the list. */
static void
deliver_answers (GstHfxSession * s, GList * answers)
{
  for (GList * l = answers; l; l = l->next) {
    struct answer *a = l->data;

    s->callbacks.answered (s->encoder, a->frame_number, a->buf, a->keyframe);
    g_free (a);
  }
  g_list_free (answers);
}

static void
record_rtt (GstHfxSession * s, guint64 id)
{
  gint64 sent = s->sent_at[id % ID_RING];
  gdouble ms;

  if (!sent)
    return;
  ms = (g_get_monotonic_time () - sent) / 1000.0;
  s->rtt_ms[s->rtt_count % RTT_RING] = ms;
  if (s->rtt_n < RTT_RING)
    s->rtt_n++;
  s->rtt_sum += ms;
  s->rtt_count++;
}

/* Keeps the first SPS (without its NAL header byte) for profile and level
 * in the caps. */
static void
keep_sps (void *user, const uint8_t * nal, size_t len)
{
  GstHfxSession *s = user;

  if (s->sps_len > 0 || len < 2 || hfx_h264_nal_type (nal) != HFX_H264_NAL_SPS)
    return;
  s->sps_len = MIN (len - 1, sizeof (s->sps));
  memcpy (s->sps, nal + 1, s->sps_len);
}

static void
note_configured (GstHfxSession * s, const struct hfx_configured *c)
{
  s->configured = TRUE;
  g_strlcpy (s->backend, c->encoder, sizeof (s->backend));
  s->sps_len = 0;
  hfx_h264_foreach_nal (c->extradata, c->extradata_len, keep_sps, s);
}

/* Drains the client's events (lock held) into answers and host errors.
 * Returns HFX_OK while the connection lasts, else what broke it. */
static enum hfx_status
pump_events (GstHfxSession * s, GList ** answers, GList ** errors)
{
  struct hfx_event ev;
  enum hfx_status st;

  while (s->client) {
    st = hfx_client_next_event (s->client, 0, &ev);
    if (st == HFX_E_TIMEOUT)
      return HFX_OK;
    if (st != HFX_OK) {
      GST_WARNING_OBJECT (s->encoder, "host connection lost: %s",
          hfx_strerror (st));
      return st;
    }
    switch (ev.type) {
      case HFX_EVENT_PACKET:{
        guint64 id = ev.u.packet.frame_id;
        GstBuffer *buf = gst_buffer_new_memdup (ev.u.packet.data,
            ev.u.packet.data_len);
        record_rtt (s, id);
        s->frames_encoded++;
        answer_frame (s, id, buf, ev.keyframe, answers);
        break;
      }
      case HFX_EVENT_DROPPED:
        s->frames_dropped++;
        answer_frame (s, ev.u.dropped.frame_id, NULL, FALSE, answers);
        break;
      case HFX_EVENT_CONFIGURED:
        note_configured (s, &ev.u.configured);
        break;
      case HFX_EVENT_FLUSHED:
        s->flushed = TRUE;
        break;
      case HFX_EVENT_ERROR:{
        struct host_error *e = g_new0 (struct host_error, 1);

        g_strlcpy (s->host_error, ev.u.error.text, sizeof (s->host_error));
        e->stream = ev.stream;
        e->code = ev.u.error.code;
        e->text = g_strdup (ev.u.error.text);
        *errors = g_list_append (*errors, e);
        if (ev.stream == STREAM_ID) {
          s->configure_failed = !s->configured;
          s->configured = FALSE;
        }
        if (ev.stream == 0) {
          g_cond_broadcast (&s->cond);
          return ev.u.error.code != HFX_OK ? ev.u.error.code : HFX_E_REMOTE;
        }
        break;
      }
      default:
        break;
    }
    g_cond_broadcast (&s->cond);
  }
  return HFX_E_CLOSED;
}

/* The host's ERRORs, as warnings with its text (without the lock). */
static void
post_host_errors (GstHfxSession * s, GList * errors)
{
  for (GList * l = errors; l; l = l->next) {
    struct host_error *e = l->data;

    GST_ELEMENT_WARNING (s->encoder, STREAM, ENCODE,
        ("The hfx host reported an error: %s", e->text),
        ("%s on stream %u", hfx_status_name (e->code), e->stream));
    g_free (e->text);
    g_free (e);
  }
  g_list_free (errors);
}

static gpointer
reader_thread (gpointer data)
{
  GstHfxSession *s = data;
  guint backoff_ms = BACKOFF_FIRST_MS;

  g_mutex_lock (&s->lock);
  while (!s->stopping) {
    GList *answers = NULL, *errors = NULL;
    enum hfx_status st;
    gchar *address = NULL;

    if (!s->client) {
      gint64 until = g_get_monotonic_time () + backoff_ms * 1000;
      gchar err[256] = "";

      /* Exponential backoff, interruptible by stop. */
      while (!s->stopping && g_cond_wait_until (&s->cond, &s->lock, until));
      if (s->stopping)
        break;
      g_mutex_unlock (&s->lock);
      st = connect_host (s, err, sizeof (err));
      g_mutex_lock (&s->lock);
      if (st == HFX_OK) {
        s->reconnects++;
        backoff_ms = BACKOFF_FIRST_MS;
      } else {
        backoff_ms = MIN (backoff_ms * 2, BACKOFF_MAX_MS);
      }
      continue;
    }

    struct pollfd pfd[2] = {
      {.fd = hfx_client_fd (s->client),.events = POLLIN},
      {.fd = s->wake[0],.events = POLLIN},
    };
    g_mutex_unlock (&s->lock);
    poll (pfd, 2, 100);
    if (pfd[1].revents & POLLIN) {
      char buf[64];
      while (read (s->wake[0], buf, sizeof (buf)) > 0);
    }
    g_mutex_lock (&s->lock);
    st = pump_events (s, &answers, &errors);
    if (st != HFX_OK) {
      address = g_strdup (s->connected_address);
      lose_connection (s, &answers);
    }
    s->finishing++;
    g_mutex_unlock (&s->lock);

    post_host_errors (s, errors);
    deliver_answers (s, answers);
    if (address) {
      s->callbacks.connection_changed (s->encoder, FALSE, address, st);
      g_free (address);
    }
    g_mutex_lock (&s->lock);
    s->finishing--;
    g_cond_broadcast (&s->cond);
  }
  g_mutex_unlock (&s->lock);
  return NULL;
}

enum hfx_status
gst_hfx_session_start (GstHfxSession * s, const gchar * address,
    const gchar * token, guint max_in_flight, gboolean offer_resource,
    gboolean keep_trying, gchar * err, gsize err_cap)
{
  enum hfx_status st;

  if (g_unix_open_pipe (s->wake, FD_CLOEXEC, NULL)) {
    g_unix_set_fd_nonblocking (s->wake[0], TRUE, NULL);
    g_unix_set_fd_nonblocking (s->wake[1], TRUE, NULL);
  } else {
    /* The reader then sees new work within its 100 ms poll. */
    GST_WARNING_OBJECT (s->encoder, "wake pipe: %s", g_strerror (errno));
    s->wake[0] = s->wake[1] = -1;
  }

  g_mutex_lock (&s->lock);
  g_free (s->address);
  s->address = g_strdup (address);
  clear_token (s);
  s->token = g_strdup (token);
  s->max_in_flight = max_in_flight;
  s->offer_resource = offer_resource;
  s->have_cfg = FALSE;
  s->stopping = FALSE;
  s->frames_sent = s->frames_encoded = s->frames_dropped = 0;
  s->reconnects = 0;
  s->shm_frames = s->shm_copies = 0;
  s->resource_frames = s->resource_copies = 0;
  s->rtt_n = 0;
  s->rtt_count = 0;
  s->rtt_sum = 0;
  memset (s->sent_at, 0, ID_RING * sizeof (gint64));
  g_mutex_unlock (&s->lock);

  st = connect_host (s, err, err_cap);
  if (st != HFX_OK && !keep_trying) {
    close_wake_pipe (s);
    return st;
  }
  s->reader = g_thread_new ("vsockenc-reader", reader_thread, s);
  return st;
}

void
gst_hfx_session_stop (GstHfxSession * s)
{
  gchar *address = NULL;

  g_mutex_lock (&s->lock);
  s->stopping = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  wake_reader (s);
  if (s->reader) {
    g_thread_join (s->reader);
    s->reader = NULL;
  }
  g_mutex_lock (&s->lock);
  if (s->client)
    address = g_strdup (s->connected_address);
  hfx_client_free (&s->client);
  g_queue_clear (&s->in_flight);
  s->configured = FALSE;
  s->shm_ready = FALSE;
  s->resource_ready = FALSE;
  s->shm = NULL;
  release_all_slots (s);
  g_mutex_unlock (&s->lock);
  close_wake_pipe (s);
  if (address) {
    s->callbacks.connection_changed (s->encoder, FALSE, address, HFX_OK);
    g_free (address);
  }
}

/* Waits (lock held) until cond_fn is true, the connection breaks, or the
 * timeout passes. */
static gboolean
wait_for (GstHfxSession * s, gboolean (*cond_fn) (GstHfxSession *),
    gint64 timeout)
{
  gint64 until = g_get_monotonic_time () + timeout;

  while (!cond_fn (s) && s->client && !s->stopping) {
    if (!g_cond_wait_until (&s->cond, &s->lock, until))
      return cond_fn (s);
  }
  return cond_fn (s);
}

/* wait_for on the streaming thread (stream lock and lock held): the stream
 * lock is let go meanwhile, since the reader needs it to finish frames,
 * and taken back before the session's lock (the lock order). */
static gboolean
wait_streamless (GstHfxSession * s, gboolean (*cond_fn) (GstHfxSession *))
{
  gboolean met;

  GST_VIDEO_ENCODER_STREAM_UNLOCK (s->encoder);
  met = wait_for (s, cond_fn, REPLY_TIMEOUT_US);
  g_mutex_unlock (&s->lock);
  GST_VIDEO_ENCODER_STREAM_LOCK (s->encoder);
  g_mutex_lock (&s->lock);
  return met;
}

static gboolean
is_configured (GstHfxSession * s)
{
  return s->configured || s->configure_failed;
}

/* Drained: the host said FLUSHED and every answer reached the element. */
static gboolean
is_flushed (GstHfxSession * s)
{
  return s->flushed && s->finishing == 0 && g_queue_is_empty (&s->in_flight);
}

static guint
window (GstHfxSession * s)
{
  guint max = s->max_in_flight;

  if (s->client)
    max = MIN (max, hfx_client_welcome (s->client)->window);
  return max;
}

static gboolean
has_room (GstHfxSession * s)
{
  return g_queue_get_length (&s->in_flight) < window (s);
}

gboolean
gst_hfx_session_configure (GstHfxSession * s, const struct hfx_configure *cfg,
    GstHfxShmFrames * shm, GstHfxSessionFrames frames)
{
  struct source_failure failure = { NULL, NULL };
  gboolean ok = TRUE;

  g_mutex_lock (&s->lock);
  s->cfg = *cfg;
  s->have_cfg = TRUE;
  s->shm = shm;
  s->frames = frames;
  if (!attach_frames (s, &failure)) {
    g_mutex_unlock (&s->lock);
    post_source_failure (s, &failure);
    return FALSE;
  }
  if (s->client) {
    s->configured = FALSE;
    s->configure_failed = FALSE;
    if (hfx_client_configure (s->client, STREAM_ID, cfg) != HFX_OK) {
      ok = FALSE;
    } else {
      wake_reader (s);
      ok = wait_streamless (s, is_configured) && s->configured;
    }
  }
  g_mutex_unlock (&s->lock);
  if (!ok) {
    /* host_error is only written by the reader; a stale read costs a
     * less precise message at worst. */
    GST_ELEMENT_ERROR (s->encoder, STREAM, ENCODE,
        ("The hfx host could not configure an encoder for %ux%u %s: %s",
            cfg->width, cfg->height, hfx_format_name (cfg->fourcc),
            s->host_error[0] ? s->host_error : "no answer"), (NULL));
  }
  return ok;
}

void
gst_hfx_session_forget_format (GstHfxSession * s)
{
  g_mutex_lock (&s->lock);
  release_all_slots (s);
  s->shm_ready = FALSE;
  s->resource_ready = FALSE;
  s->shm = NULL;
  g_mutex_unlock (&s->lock);
}

void
gst_hfx_session_drain (GstHfxSession * s)
{
  g_mutex_lock (&s->lock);
  if (s->client && s->configured) {
    s->flushed = FALSE;
    if (hfx_client_flush (s->client, STREAM_ID) == HFX_OK) {
      if (!wait_streamless (s, is_flushed))
        GST_WARNING_OBJECT (s->encoder, "host did not confirm the drain");
    }
  }
  g_mutex_unlock (&s->lock);
}

void
gst_hfx_session_flush (GstHfxSession * s)
{
  g_mutex_lock (&s->lock);
  g_queue_clear (&s->in_flight);
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

gboolean
gst_hfx_session_wait_ready (GstHfxSession * s, guint32 * shm_region)
{
  gboolean ready;

  g_mutex_lock (&s->lock);
  /* Window full: wait for answers without holding the stream lock, which
   * the reader needs to finish frames. */
  if (s->client && !has_room (s))
    wait_streamless (s, has_room);
  ready = s->client && s->configured;
  *shm_region = s->shm_ready ? s->shm_region : G_MAXUINT32;
  g_mutex_unlock (&s->lock);
  return ready;
}

enum hfx_status
gst_hfx_session_submit (GstHfxSession * s, const struct hfx_frame *f,
    const struct iovec *iov, int n_iov, gboolean force_keyframe,
    GstBuffer * slot)
{
  gboolean shm = f->source == HFX_SOURCE_SHM;
  gboolean resource = f->source == HFX_SOURCE_RESOURCE;
  enum hfx_status st;

  g_mutex_lock (&s->lock);
  if (!s->client || !s->configured || (shm && (!s->shm_ready
              || f->region != s->shm_region)) || (resource
          && !s->resource_ready)) {
    /* The connection went (or came back) since wait_ready. */
    g_mutex_unlock (&s->lock);
    if (slot)
      gst_buffer_unref (slot);
    return HFX_E_CLOSED;
  }
  s->sent_at[f->frame_id % ID_RING] = g_get_monotonic_time ();
  st = hfx_client_submit (s->client, STREAM_ID, f, iov, n_iov,
      force_keyframe, SEND_TIMEOUT_MS);
  if (st == HFX_OK) {
    g_queue_push_tail (&s->in_flight,
        GUINT_TO_POINTER ((guint) f->frame_id + 1));
    s->frames_sent++;
    if (shm) {
      s->shm_frames++;
      s->shm_copies += slot != NULL;
    }
    if (resource) {
      s->resource_frames++;
      s->resource_copies += slot != NULL;
    }
    if (slot) {
      /* Keep the slot until the host answers this frame. */
      gst_clear_buffer (&s->slot_held[f->frame_id % ID_RING]);
      s->slot_held[f->frame_id % ID_RING] = slot;
      slot = NULL;
    }
  }
  g_mutex_unlock (&s->lock);
  wake_reader (s);
  if (slot)
    gst_buffer_unref (slot);
  return st;
}

void
gst_hfx_session_set_bitrate (GstHfxSession * s, guint kbps)
{
  g_mutex_lock (&s->lock);
  s->cfg.bitrate_kbps = kbps;
  if (s->client && s->configured
      && hfx_client_set_bitrate (s->client, STREAM_ID, kbps) != HFX_OK)
    GST_WARNING_OBJECT (s->encoder, "bitrate change to %u kbit/s not sent",
        kbps);
  g_mutex_unlock (&s->lock);
}

void
gst_hfx_session_count_dropped (GstHfxSession * s)
{
  g_mutex_lock (&s->lock);
  s->frames_dropped++;
  g_mutex_unlock (&s->lock);
}

void
gst_hfx_session_get_status (GstHfxSession * s, GstHfxSessionStatus * status)
{
  g_mutex_lock (&s->lock);
  status->connected = s->client != NULL;
  status->window = window (s);
  status->shm_ready = s->shm && s->shm_ready;
  g_mutex_unlock (&s->lock);
}

gsize
gst_hfx_session_get_sps (GstHfxSession * s, guint8 * sps, gsize cap)
{
  gsize len;

  g_mutex_lock (&s->lock);
  len = MIN (s->sps_len, cap);
  memcpy (sps, s->sps, len);
  g_mutex_unlock (&s->lock);
  return len;
}

GstStructure *
gst_hfx_session_make_stats (GstHfxSession * s, guint64 fallback_frames)
{
  gdouble sorted[RTT_RING];
  gdouble p99 = 0, mean = 0;
  GstStructure *st;

  g_mutex_lock (&s->lock);
  memcpy (sorted, s->rtt_ms, s->rtt_n * sizeof (gdouble));
  hfx_percentiles (sorted, s->rtt_n, NULL, &p99);
  if (s->rtt_count)
    mean = s->rtt_sum / s->rtt_count;
  st = gst_structure_new ("application/x-hfx-stats",
      "frames-sent", G_TYPE_UINT64, s->frames_sent,
      "frames-encoded", G_TYPE_UINT64, s->frames_encoded,
      "frames-dropped", G_TYPE_UINT64, s->frames_dropped,
      "fallback-frames", G_TYPE_UINT64, fallback_frames,
      "reconnects", G_TYPE_UINT64, s->reconnects,
      "shm-frames", G_TYPE_UINT64, s->shm_frames,
      "shm-copies", G_TYPE_UINT64, s->shm_copies,
      "resource-frames", G_TYPE_UINT64, s->resource_frames,
      "resource-copies", G_TYPE_UINT64, s->resource_copies,
      "shm-memory", G_TYPE_STRING, !s->shm_ready ? "none" :
      s->shm_region ? "memfd" : "ivshmem",
      "rtt-mean-ms", G_TYPE_DOUBLE, mean,
      "rtt-p99-ms", G_TYPE_DOUBLE, p99,
      "backend", G_TYPE_STRING, s->backend,
      "address", G_TYPE_STRING,
      s->connected_address ? s->connected_address : "",
      "connected", G_TYPE_BOOLEAN, s->client != NULL, NULL);
  g_mutex_unlock (&s->lock);
  return st;
}
