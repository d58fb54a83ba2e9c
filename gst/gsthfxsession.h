/* SPDX-License-Identifier: MIT */
/* hfx: vsockenc's session with the host: the connection, the stream it
 * configures, the frames in flight and the reader thread that receives
 * the host's answers (docs/protocol.md §5, §6). Documented in
 * gsthfxsession.c.
 *
 * Ownership: the element owns the GstHfxSession (new at start, free at
 * stop); the session owns its hfx_client, its reader thread, its wake
 * pipe, and the copy-path slots of frames in flight (each released when
 * the host answers that frame). It borrows the encoder for its whole life
 * and a GstHfxShmFrames from gst_hfx_session_configure () until
 * gst_hfx_session_forget_format () or stop.
 *
 * Threads and locks: the session's own mutex guards all its state. The
 * functions marked "streaming thread" are called with the encoder's
 * stream lock held and let go of it while they wait for the host, since
 * the reader thread takes it to finish frames; the lock order is stream
 * lock, then the session's mutex. Callbacks run without the session's
 * mutex.
 */

#ifndef __GST_HFX_SESSION_H__
#define __GST_HFX_SESSION_H__

#include <gst/gst.h>
#include <gst/video/video.h>

#include "gsthfxshmframes.h"
#include "hfx/client.h"

G_BEGIN_DECLS

typedef struct _GstHfxSession GstHfxSession;

typedef struct
{
  /* The host answered frame_number, or the frame was lost with the
   * connection. buffer: (transfer full) (nullable): its access unit, NULL
   * for a frame that was not encoded. Called on the reader thread, in frame
   * order, without the stream lock. */
  void (*answered) (GstVideoEncoder * encoder, guint32 frame_number,
      GstBuffer * buffer, gboolean keyframe);
  /* The connection came (connected) or went. address: borrowed for the
   * call; why: what ended it (HFX_OK for a stop). Called on the thread
   * that made the change: the caller of gst_hfx_session_start () or
   * gst_hfx_session_stop (), or the reader thread. */
  void (*connection_changed) (GstVideoEncoder * encoder, gboolean connected,
      const gchar * address, enum hfx_status why);
} GstHfxSessionCallbacks;

/* encoder: borrowed, must outlive the session; callbacks: copied. */
GstHfxSession *gst_hfx_session_new (GstVideoEncoder * encoder,
    const GstHfxSessionCallbacks * callbacks);

/* Stops (gst_hfx_session_stop ()) and frees. NULL-safe; sets *session to
 * NULL. */
void gst_hfx_session_free (GstHfxSession ** session);

/* Connects to address and starts the reader thread, which reconnects
 * whenever the connection is lost. address, token: copied (the token is
 * wiped when freed); max_in_flight: frames sent and not answered, also
 * bounded by the host's window; offer_resource: HELLO offers RESOURCE
 * frames (frame-source=resource). When the first connection fails, the
 * status is returned (err gets the host's or the transport's words) and,
 * unless keep_trying, nothing is left running. */
enum hfx_status gst_hfx_session_start (GstHfxSession * session,
    const gchar * address, const gchar * token, guint max_in_flight,
    gboolean offer_resource, gboolean keep_trying, gchar * err, gsize err_cap);

/* Stops the reader thread and closes the connection; frames in flight are
 * forgotten (the base class drops them). */
void gst_hfx_session_stop (GstHfxSession * session);

/* The frames the element sends, as gst_hfx_session_configure () is told. */
typedef enum
{
  /* SHM frames in the shm frames' pool when the connection can share it,
   * else INLINE (frame-source=auto; inline without a pool) */
  GST_HFX_SESSION_FRAMES_SHM_OR_INLINE,
  /* SHM only: a connection that cannot share memory is an error */
  GST_HFX_SESSION_FRAMES_SHM,
  /* RESOURCE only: a host that does not serve them is an error */
  GST_HFX_SESSION_FRAMES_RESOURCE,
} GstHfxSessionFrames;

/* Streaming thread. Configures the stream for cfg (copied, and used again
 * after every reconnect) and waits for the host's answer. shm: borrowed
 * until gst_hfx_session_forget_format () or stop, NULL for inline or
 * RESOURCE frames. Without a connection the configuration waits for the
 * next one; a connection that cannot take the frames is an error then
 * too. Returns FALSE after posting an element error. */
gboolean gst_hfx_session_configure (GstHfxSession * session,
    const struct hfx_configure *cfg, GstHfxShmFrames * shm,
    GstHfxSessionFrames frames);

/* Streaming thread. Releases the shm frames and the slots held for the
 * frames in flight: the format is about to change. */
void gst_hfx_session_forget_format (GstHfxSession * session);

/* Streaming thread. Waits (10 s at most) until the host has answered every
 * frame in flight (FLUSH / FLUSHED) and they are finished. */
void gst_hfx_session_drain (GstHfxSession * session);

/* Forgets the frames in flight (a flush: the base class dropped them);
 * what the host returns for them later finds no frame. */
void gst_hfx_session_flush (GstHfxSession * session);

/* Streaming thread. Waits until the window has room. Returns TRUE when
 * the host can take a frame now; *shm_region is then the region id of
 * SHM frames on this connection, or G_MAXUINT32 when frames go inline. */
gboolean gst_hfx_session_wait_ready (GstHfxSession * session,
    guint32 * shm_region);

/* Streaming thread. Sends frame (its data: iov, borrowed for the call)
 * unless the connection changed since gst_hfx_session_wait_ready () or
 * cannot take the frame's source: then HFX_E_CLOSED and nothing is sent.
 * slot: (transfer full) (nullable): the copy-path slot (SHM) or resource
 * (RESOURCE) the frame is in, kept until the host answers. */
enum hfx_status gst_hfx_session_submit (GstHfxSession * session,
    const struct hfx_frame *frame, const struct iovec *iov, int n_iov,
    gboolean force_keyframe, GstBuffer * slot);

/* Streaming thread. The new bitrate goes to the host now (SET_BITRATE)
 * and into the configuration used after a reconnect. */
void gst_hfx_session_set_bitrate (GstHfxSession * session, guint kbps);

/* A frame that did not reach the host, for the stats. */
void gst_hfx_session_count_dropped (GstHfxSession * session);

/* What the element reads of the session, taken at once under its lock. */
typedef struct
{
  gboolean connected;
  /* The frames that may be in flight: max_in_flight, bounded by the
   * host's window while connected (docs/protocol.md §6). */
  guint window;
  /* Whether frames in the shm frames' pool reach the host now. */
  gboolean shm_ready;
} GstHfxSessionStatus;

void gst_hfx_session_get_status (GstHfxSession * session,
    GstHfxSessionStatus * status);

/* The SPS of the configured stream (without its NAL header byte), from the
 * host's CONFIGURED (docs/protocol.md §5.2). Returns its length, 0 when
 * there is none; sps: cap bytes, written by the call. */
gsize gst_hfx_session_get_sps (GstHfxSession * session, guint8 * sps,
    gsize cap);

/* Returns: (transfer full): the counters of the stats property, with
 * fallback_frames (the element's) among them. */
GstStructure *gst_hfx_session_make_stats (GstHfxSession * session,
    guint64 fallback_frames);

G_END_DECLS

#endif /* __GST_HFX_SESSION_H__ */
