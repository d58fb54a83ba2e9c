/* SPDX-License-Identifier: MIT */
/*
 * Test-only fault-injection encoders behind include/hfx/encoder.h
 * (docs/testing.md, "Fault-injection encoders"). This file and
 * encoder-fault.c go into libhfx-host-fault only, and host/encoder.c calls
 * them only when it is compiled with HFX_FAULT_INJECTION. hfxd links
 * libhfx-host, where a guest that names one of these encoders in CONFIGURE
 * gets the same HFX_E_NO_ENCODER as for any unknown name.
 *
 * Names (encoder names are at most HFX_MAX_NAME bytes, protocol.md §5.1):
 *
 *   fake                    no libavcodec: one small Annex-B access unit per
 *                           frame, SPS + PPS + IDR slice for the first frame,
 *                           forced frames and every keyint_frames-th, a
 *                           non-IDR slice otherwise
 *   fault-open              fails to open (HFX_E_NO_ENCODER)
 *   fault-fail-at=N[@E]     every send from frame N on fails (HFX_E_ENCODER)
 *   fault-fail-once=N[@E]   only the send of frame N fails
 *   fault-stall=MS[@E]      every send first sleeps MS milliseconds
 *   fault-block=FD[@E]      every send first waits until descriptor FD is
 *                           readable or hung up (a pipe the test holds)
 *   fault-no-vui[@E]        E's SPSs lose their VUI before hfx's SPS rewrite
 *                           (docs/architecture.md, "SPS rewrite"): the SPS
 *                           VideoToolbox writes, from any H.264 encoder
 *
 * Frames are counted from 0 by sends since open. E is the encoder that does
 * the encoding: `fake`, a backend name such as `libx264`, or `auto`
 * (the default), so that a failing or stalling stream still carries real
 * H.264.
 *
 * Built with HFX_FAULT_FUZZ as well (the server fuzzer only), no libavcodec
 * backend opens and stalls and blocks last at most FAULT_FUZZ_MAX_WAIT_MS:
 * names a fuzzer finds by itself cannot make an execution slow.
 */
#ifndef HFX_HOST_ENCODER_FAULT_H
#define HFX_HOST_ENCODER_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/encoder.h"

#define FAULT_MAX_STALL_MS 10000
/* A blocked send that nobody releases gives up after this, so that a test
 * that forgets to release it fails instead of hanging. */
#define FAULT_MAX_BLOCK_MS 10000
#define FAULT_FUZZ_MAX_WAIT_MS 5

struct fault;

/* True when name is one of this layer's (`fake`, `fault-...`). */
bool fault_claims(const char *name);

/* Parse name (fault_claims(name) true) for cfg. HFX_E_NO_ENCODER for
 * `fault-open` and for a malformed name (logged), HFX_E_UNSUPPORTED when
 * `fake` does the encoding and cfg is not H.264. On HFX_OK *out is owned by
 * the caller and *inner is NULL when the fake encoder encodes, else the
 * name of the encoder to open under the fault ("auto" for the default),
 * owned by *out. */
HFX_MUST_CHECK enum hfx_status fault_new(const struct hfx_configure *cfg, const char *name,
                                         hfx_log_fn log, void *log_user, struct fault **out,
                                         const char **inner);

/* The name the layer was opened with. Owned by f. */
const char *fault_name(const struct fault *f);

/* Count this send and apply the fault: HFX_E_ENCODER when it fails, after
 * the stall or block when there is one. */
HFX_MUST_CHECK enum hfx_status fault_before_send(struct fault *f);

/* The fake encoder, for when fault_new gave *inner == NULL; the same
 * contracts as hfx_encoder_extradata, _send, _receive, _flush. */
bool fault_is_fake(const struct fault *f);
/* fault-no-vui: the encoder's SPSs are to lose their VUI. */
bool fault_strips_vui(const struct fault *f);
void fault_fake_extradata(const struct fault *f, const uint8_t **data, size_t *len);
HFX_MUST_CHECK enum hfx_status fault_fake_send(struct fault *f, const struct hfx_picture *pic,
                                               int64_t pts, bool force_idr);
HFX_MUST_CHECK enum hfx_status fault_fake_receive(struct fault *f, struct hfx_encoded *out);
void fault_fake_flush(struct fault *f);

/* NULL-safe, sets *f to NULL. */
void fault_free(struct fault **f);

#endif /* HFX_HOST_ENCODER_FAULT_H */
