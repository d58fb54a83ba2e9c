/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host, private: the backend families behind host/encoder.c
 * (docs/architecture.md, "Encoder backends"). A family is the libavcodec
 * encoders that share one option vocabulary (libx264 and libx265; the three
 * nvenc encoders; ...). Each is one constant table of data and operations,
 * defined in the file of its group:
 *
 *   encoder-software.c      family_x26x, family_openh264, family_svtav1,
 *                           family_aom
 *   encoder-nvenc.c         family_nvenc
 *   encoder-qsv.c           family_qsv
 *   encoder-vaapi.c         family_vaapi
 *   encoder-videotoolbox.c  family_videotoolbox
 *
 * Ownership: encoder.c owns every encoder, its AVCodecContext and its log.
 * A family owns nothing and keeps no state: its operations only set options
 * on the context they are handed, before avcodec_open2. The tables and
 * every string in them are constant and live as long as the library.
 */
#ifndef HFX_HOST_ENCODER_FAMILY_H
#define HFX_HOST_ENCODER_FAMILY_H

#include <stdbool.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "hfx/encoder.h"

/* What one operation works on; every pointer is borrowed for the call. */
struct family_call {
    const struct hfx_configure *cfg; /* checked (hfx_configure_validate) */
    const char *backend;             /* the libavcodec encoder, for the log */
    AVCodecContext *ctx;             /* allocated for backend, not yet opened */
    hfx_log_fn log;                  /* may be NULL */
    void *log_user;
};

struct family {
    /* The family's libavcodec encoder for each enum hfx_codec, NULL where
     * it has none. encoder.c probes families in the order of its list, so
     * an encoder's place in `auto` is its family's. */
    const char *encoder[HFX_CODEC_AV1 + 1];
    /* The "profile" value this family's H.264 encoders take for
     * HFX_PROFILE_BASELINE, which hfx means as constrained baseline; NULL
     * when the family has no H.264 encoder. */
    const char *baseline;
    /* Low-latency options for cfg->latency. */
    void (*latency)(const struct family_call *c);
    /* The options of cfg->rate_control. encoder.c has set the context's own
     * fields already: bit_rate (ABR, CBR), rc_max_rate and rc_buffer_size
     * (CBR). */
    void (*rate_control)(const struct family_call *c);
    /* True when the encoder takes a new bitrate in the context's fields
     * while open (cfg->rate_control is ABR or CBR); NULL or false: it is
     * drained and reopened. */
    bool (*bitrate_in_place)(const char *backend, const struct hfx_configure *cfg);
};

extern const struct family family_videotoolbox;
extern const struct family family_nvenc;
extern const struct family family_qsv;
extern const struct family family_vaapi;
extern const struct family family_x26x;
extern const struct family family_openh264;
extern const struct family family_svtav1;
extern const struct family family_aom;

/* Set option key of c->ctx's encoder (its private options). Options differ
 * between encoders and FFmpeg versions: one that is missing is logged at
 * debug level and skipped, not fatal. */
void family_set(const struct family_call *c, const char *key, const char *val);
void family_set_int(const struct family_call *c, const char *key, int64_t val);

/* rate_control for the families whose encoders take CQP as option qp and
 * need nothing for ABR and CBR. */
void family_rate_control_qp(const struct family_call *c);

/* For rate_control of the families that name the mode in one option, key,
 * with value cbr or cqp, and take CQP's quantizer as option qp; ABR needs
 * nothing. */
void family_rate_control_mode(const struct family_call *c, const char *key, const char *cbr,
                              const char *cqp);

#endif /* HFX_HOST_ENCODER_FAMILY_H */
