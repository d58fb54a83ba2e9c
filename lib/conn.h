/* SPDX-License-Identifier: MIT */
/*
 * Message framing over a transport: a bounded receive buffer that yields
 * whole decoded messages, and a bounded send queue that never blocks.
 * Used by the client and by the host's event loop alike. Internal: libhfx
 * and libhfx-host each link a copy (docs/architecture.md).
 */
#ifndef HFX_LIB_CONN_H
#define HFX_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "hfx/protocol.h"
#include "hfx/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hfx_conn;

struct hfx_conn_options {
    /* Largest payload accepted; starts at HFX_MAX_PAYLOAD_HANDSHAKE until
     * hfx_conn_set_max_payload() raises it. */
    uint32_t max_payload;
    /* Memory the send queue may hold (hfx_conn_queued_memory) before
     * hfx_conn_send fails with HFX_E_SLOW_CONSUMER. 0 = 64 MiB. */
    size_t max_queued;
};

/* Takes ownership of t (freed with the conn, also on failure). opts may be
 * NULL. */
HFX_MUST_CHECK enum hfx_status hfx_conn_new(struct hfx_transport *t,
                                            const struct hfx_conn_options *opts,
                                            struct hfx_conn **out);

void hfx_conn_set_max_payload(struct hfx_conn *c, uint32_t max_payload);

struct hfx_transport *hfx_conn_transport(struct hfx_conn *c);
int hfx_conn_fd(const struct hfx_conn *c);

/* Queue msg (header + fixed part encoded now) followed by the tail bytes
 * (FRAME data or PACKET access unit; n may be 0), and pass_fd (borrowed,
 * dup'ed internally when it must wait in the queue) with its first byte.
 * Writes immediately what the transport takes; only the remainder is copied
 * into the queue, so the caller may reuse the tail buffers on return.
 * HFX_E_SLOW_CONSUMER when the queue would exceed its maximum (nothing is
 * queued then). An ERROR may exceed it by one small chunk (about 4 KiB), so
 * that a peer can be told that its queue overflowed. */
HFX_MUST_CHECK enum hfx_status hfx_conn_send(struct hfx_conn *c, const struct hfx_msg *msg,
                                             const struct iovec *tail, int n, int pass_fd);

/* Convenience: send msg with its own data pointer as the tail (FRAME,
 * PACKET) or no tail (everything else). */
HFX_MUST_CHECK enum hfx_status hfx_conn_send_msg(struct hfx_conn *c, const struct hfx_msg *msg);

/* Like hfx_conn_send, but for a caller that may block: first drains the
 * queue, then writes straight from the tail buffers (no copy), waiting up to
 * timeout_ms (< 0: no limit) for the transport; bytes the peer sends
 * meanwhile are buffered for hfx_conn_next. If the deadline passes, the
 * unwritten rest is copied into the queue and HFX_OK is returned: the tail
 * buffers are free for reuse on return in every case. */
HFX_MUST_CHECK enum hfx_status hfx_conn_send_wait(struct hfx_conn *c, const struct hfx_msg *msg,
                                                  const struct iovec *tail, int n, int pass_fd,
                                                  int timeout_ms);

/* True while queued bytes wait for the transport to become writable. */
bool hfx_conn_want_write(const struct hfx_conn *c);
/* Bytes waiting to be written. */
size_t hfx_conn_queued(const struct hfx_conn *c);
/* Descriptors waiting in the queue (each a dup the queue owns). */
unsigned hfx_conn_queued_fds(const struct hfx_conn *c);
/* Memory the send queue holds for them (chunk headers and allocator
 * overhead included): what max_queued bounds. */
size_t hfx_conn_queued_memory(const struct hfx_conn *c);

/* Write queued bytes without blocking (call when writable). */
HFX_MUST_CHECK enum hfx_status hfx_conn_flush(struct hfx_conn *c);

/* Block (poll) until the queue is empty or timeout_ms passes
 * (HFX_E_TIMEOUT; < 0 = no limit). */
HFX_MUST_CHECK enum hfx_status hfx_conn_flush_wait(struct hfx_conn *c, int timeout_ms);

/* Read what the transport has without blocking. HFX_INCOMPLETE when nothing
 * was available, HFX_E_CLOSED at end of stream. */
HFX_MUST_CHECK enum hfx_status hfx_conn_read(struct hfx_conn *c);

/* Next whole message from the receive buffer: HFX_OK and *out filled,
 * HFX_INCOMPLETE if none is complete yet, or the decode error (the
 * connection is then unusable: send ERROR and close). Borrowed pointers in
 * *out are valid until the next call to hfx_conn_next, hfx_conn_read or
 * hfx_conn_free. */
HFX_MUST_CHECK enum hfx_status hfx_conn_next(struct hfx_conn *c, struct hfx_msg *out);

/* What the last failed hfx_conn_next found wrong (field, offset, value):
 * format it with hfx_wire_error_format. Owned by the conn. */
const struct hfx_wire_error *hfx_conn_last_error(const struct hfx_conn *c);

/* Received bytes not yet returned as a message (a partial message when
 * hfx_conn_next says HFX_INCOMPLETE). */
size_t hfx_conn_buffered(const struct hfx_conn *c);

/* Take the oldest descriptor (SCM_RIGHTS) that arrived with a byte of the
 * message last returned by hfx_conn_next, or -1. The caller owns it. A
 * descriptor that came only with bytes of earlier messages was closed when
 * hfx_conn_next moved past them: a descriptor belongs to the message it
 * was sent with (docs/protocol.md §7). */
int hfx_conn_take_fd(struct hfx_conn *c);

/* Take ownership of the payload buffer of the message last returned by
 * hfx_conn_next, so its borrowed pointers stay valid after the next call.
 * *base is the malloc'ed block to free() later; the message's pointers
 * point inside it. Returns HFX_E_STATE when there is no such message. */
HFX_MUST_CHECK enum hfx_status hfx_conn_take_payload(struct hfx_conn *c, void **base);

/* Free; closes the transport and any fds still queued. NULL-safe. */
void hfx_conn_free(struct hfx_conn **c);

#ifdef __cplusplus
}
#endif

#endif /* HFX_LIB_CONN_H */
