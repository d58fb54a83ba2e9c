/* SPDX-License-Identifier: MIT */
/*
 * The GStreamer side of desktop-bridge: capture (x11, pipewire, test
 * pattern, a file, or pictures the program pushes: QEMU's D-Bus display), scale and convert to NV12, encode to H.264 (vsockenc,
 * x264enc, or vsockenc with x264enc as its fallback) and hand every access
 * unit to a callback with its capture time.
 */
#ifndef BRIDGE_CAPTURE_H
#define BRIDGE_CAPTURE_H

#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum
{
  BRIDGE_SOURCE_TEST,
  BRIDGE_SOURCE_X11,
  BRIDGE_SOURCE_PIPEWIRE,
  BRIDGE_SOURCE_FILE,
  BRIDGE_SOURCE_PUSHED,         /* bridge_capture_push_bgrx */
} BridgeSourceKind;

typedef enum
{
  BRIDGE_ENCODER_AUTO,          /* vsockenc, x264enc while no host answers */
  BRIDGE_ENCODER_VSOCKENC,
  BRIDGE_ENCODER_X264ENC,
} BridgeEncoderKind;

typedef struct
{
  BridgeSourceKind source;
  const gchar *path;            /* FILE: the file; PIPEWIRE: node or NULL */
  BridgeEncoderKind encoder;
  const gchar *address;         /* vsockenc address; NULL = auto */
  guint bitrate_kbit;
  guint fps;
  guint width, height;          /* 0: the source's own size */
  guint keyframe_interval_ms;   /* GOP length in frames follows from it */
} BridgeCaptureOptions;

/* One encoded access unit, on a streaming thread. au is valid during the
 * call only. capture_us is on g_get_monotonic_time ()'s clock. */
typedef void (*BridgeAuFunc) (const guint8 * au, gsize len, gboolean keyframe,
    gint64 pts_us, gint64 capture_us, guint width, guint height,
    gpointer user_data);

/* An error or the end of the stream, on the main context. */
typedef void (*BridgeCaptureErrorFunc) (const gchar * message,
    gpointer user_data);

typedef struct _BridgeCapture BridgeCapture;

/* Builds the pipeline (does not start it). NULL with *error when an element
 * is missing or the options make no sense. */
BridgeCapture *bridge_capture_new (const BridgeCaptureOptions * opts,
    BridgeAuFunc on_au, BridgeCaptureErrorFunc on_error, gpointer user_data,
    GError ** error);

gboolean bridge_capture_start (BridgeCapture * cap, GError ** error);

/* BRIDGE_SOURCE_PUSHED: one picture (BGRx, stride bytes per row, copied
 * before it returns) into the pipeline, stamped with changed_us (when the
 * picture changed, on g_get_monotonic_time ()'s clock: the stream's
 * capture time, from which its latency counts), or with the pipeline's
 * clock now when changed_us is 0, in the future, before the pipeline ran
 * or not after the last picture's; a size other than the last one's
 * renegotiates. While the encoder is behind, the oldest picture waiting is
 * dropped (two wait at most). FALSE when the pipeline does not take it
 * (stopped, failed). Any thread. */
gboolean bridge_capture_push_bgrx (BridgeCapture * cap, const guint8 * data,
    guint stride, guint width, guint height, gint64 changed_us);

/* Ask the encoder for a keyframe (an upstream force-key-unit event). */
void bridge_capture_request_keyframe (BridgeCapture * cap);

/* Frames the source delivered since the start, before videorate (pipewire,
 * file) repeats or drops any to make the rate and before the leaky queue
 * drops any for a busy encoder. Any thread. */
guint64 bridge_capture_frames_captured (BridgeCapture * cap);

/* "vsockenc (host libx264)", "x264enc (vsockenc fallback: no host)",
 * "x264enc"; free with g_free. */
gchar *bridge_capture_encoder_in_use (BridgeCapture * cap);

/* Stops and frees; NULL-safe. */
void bridge_capture_free (BridgeCapture * cap);

G_END_DECLS

#endif /* BRIDGE_CAPTURE_H */
