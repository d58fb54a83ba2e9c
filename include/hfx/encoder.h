/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host encoder backends: libavcodec H.264 encoders opened with
 * low-latency settings (no B-frames, zerolatency/realtime), output as
 * Annex-B access units with SPS/PPS in front of every IDR.
 *
 * One encoder is used by one thread at a time.
 */
#ifndef HFX_ENCODER_H
#define HFX_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backends in the order `auto` probes them. */
#define HFX_ENCODER_AUTO_ORDER                                                                    \
    "h264_videotoolbox", "h264_nvenc", "h264_qsv", "h264_vaapi", "libx264", "libopenh264"

struct hfx_encoder;

/* libavcodec and the encoders under it log to stderr at their own default
 * level (libx264 prints its statistics when it closes) unless the program
 * sets FFmpeg's log level. For a program that does not use FFmpeg itself
 * (QEMU's chardev): errors_only true keeps only their errors, false lets
 * their information through again. Process-wide, as FFmpeg's level is. */
HFX_EXPORT void hfx_encoder_library_logs(bool errors_only);

/* Whether name is one hfx_encoder_open takes: NULL, "" or "auto", or the
 * name of a backend of any codec (libx264, hevc_nvenc, libsvtav1, ...),
 * whether or not this libavcodec has it. For refusing a misspelt choice
 * at start (hfxd --encoder, the QEMU chardev's encoder=). */
HFX_EXPORT bool hfx_encoder_known(const char *name);

/* Open an encoder for cfg (validated with hfx_configure_validate first).
 * name: a backend name from the list above, or NULL/""/"auto" to probe in
 * order by actually opening each. HFX_E_NO_ENCODER when none opens (or the
 * named one is not known / not built), HFX_E_UNSUPPORTED for a codec the
 * backend lacks. *out is owned by the caller. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_encoder_open(const struct hfx_configure *cfg,
                                                           const char *name, hfx_log_fn log,
                                                           void *log_user,
                                                           struct hfx_encoder **out);

/* Most encoder threads hfx_encoder_open_with accepts. */
#define HFX_ENCODER_MAX_THREADS 64

struct hfx_encoder_options {
    const char *name; /* as hfx_encoder_open's name; borrowed for the call */
    /* Encoder threads, 1..HFX_ENCODER_MAX_THREADS, for the software
     * backends (libx264: with the zerolatency tune, that many slices per
     * picture); 0 = the backend's own choice (libx264: one per core).
     * Hardware backends ignore it. */
    unsigned threads;
    hfx_log_fn log; /* may be NULL */
    void *log_user;
};

/* hfx_encoder_open with options; HFX_E_INVALID for threads over the
 * maximum or a NULL opts. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_encoder_open_with(const struct hfx_configure *cfg, const struct hfx_encoder_options *opts,
                      struct hfx_encoder **out);

/* The backend actually opened, e.g. "libx264". Owned by the encoder. */
HFX_EXPORT const char *hfx_encoder_name(const struct hfx_encoder *e);

/* Annex-B SPS/PPS (and nothing else) of the opened stream; owned by the
 * encoder, valid until it is freed or reconfigured. */
HFX_EXPORT void hfx_encoder_extradata(const struct hfx_encoder *e, const uint8_t **data,
                                      size_t *len);

/* One input picture: planes in cfg->fourcc layout, borrowed for the call. */
struct hfx_picture {
    const uint8_t *plane[HFX_MAX_PLANES];
    uint32_t stride[HFX_MAX_PLANES];
};

/* Submit one picture. pts is any monotonic counter the caller maps back
 * (returned on the packet). force_idr asks for an IDR; whether one came is
 * told by the packet's keyframe field, which is found by scanning NAL unit
 * types. The picture is copied or converted before return.
 * HFX_E_BAD_STRIDE for a stride below the row size, HFX_E_STATE between
 * hfx_encoder_flush and HFX_E_CLOSED, HFX_E_BUSY when finished packets must
 * be received first, HFX_E_ENCODER when the backend fails (text logged). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_encoder_send(struct hfx_encoder *e,
                                                           const struct hfx_picture *pic,
                                                           int64_t pts, bool force_idr);

struct hfx_encoded {
    const uint8_t *data; /* Annex-B AU; owned by the encoder until the next
                            receive/send/free */
    size_t len;
    int64_t pts;
    int64_t dts;
    bool keyframe; /* contains an IDR slice (NAL type 5) */
};

/* Next finished access unit: HFX_OK, HFX_INCOMPLETE when the encoder needs
 * more input, HFX_E_CLOSED after a flush has returned everything. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_encoder_receive(struct hfx_encoder *e,
                                                              struct hfx_encoded *out);

/* Signal end of input; then receive until HFX_E_CLOSED. After that the
 * next send reopens the encoder (a new IDR). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_encoder_flush(struct hfx_encoder *e);

/* Change the target bitrate at run time (kbit/s = 1000 bit/s). Backends
 * that cannot change it in place are reopened (the next frame is an IDR). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_encoder_set_bitrate(struct hfx_encoder *e,
                                                                  uint32_t kbps);

/* NULL-safe, sets *e to NULL. */
HFX_EXPORT void hfx_encoder_free(struct hfx_encoder **e);

#ifdef __cplusplus
}
#endif

#endif /* HFX_ENCODER_H */
