/* SPDX-License-Identifier: MIT */
/*
 * The hfx client: connect and handshake, configure streams, submit frames,
 * receive packets. Single-threaded: one thread uses a client at a time.
 * Used by hfx-encode, the vsockenc GStreamer element and the QEMU patch.
 */
#ifndef HFX_CLIENT_H
#define HFX_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hfx/discover.h"
#include "hfx/protocol.h"
#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hfx_client;

struct hfx_client_options {
    const char *token; /* borrowed for the call; NULL = none */
    uint32_t caps; /* capabilities asked for; 0 = INLINE, SHM_FD, SHM_FILE, SCANOUT, INPUT,
                    * SHM_ALLOC. A call that needs one not asked for returns
                    * HFX_E_UNSUPPORTED, as for one the host lacks. */
    int timeout_ms;    /* connect + handshake; 0 = 5000 */
    hfx_log_fn log;    /* may be NULL */
    void *log_user;
    /* `auto` only: where to look for the virtio-serial port (borrowed for
     * the call); NULL = the real /sys and /dev. */
    const struct hfx_discover_roots *discover;
};

/* Connect to address text (see hfx/transport.h), send HELLO, wait for
 * WELCOME. On an ERROR reply returns its code (e.g. HFX_E_AUTH,
 * HFX_E_BUSY) and, when error_text is not NULL, copies its text. *out is
 * owned by the caller (hfx_client_free).
 *
 * `auto` (guest side, docs/protocol.md §1) tries hfx_discover_candidates
 * for HFX_PORT_NAME in order, `auto:NAME` the same for port NAME; each
 * attempt gets an even share of the time left of timeout_ms, and the first
 * that completes the handshake wins (hfx_client_address tells which). When
 * all fail the most informative result is returned: a host's ERROR code
 * (error_text gets its text), else a failed handshake or connect (e.g.
 * HFX_E_VERSION, HFX_E_TIMEOUT), else HFX_E_IO with error_text "no hfx
 * host found". The log callback gets each address tried and a summary.
 * A bad NAME is HFX_E_ADDRESS, one over HFX_PORT_NAME_MAX HFX_E_TOO_LARGE. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_connect(const char *address,
                                                             const struct hfx_client_options *opts,
                                                             struct hfx_client **out,
                                                             char *error_text, size_t error_cap);

/* The address actually connected, as text: for `auto` the candidate that
 * answered (e.g. "serial:/dev/vport2p1"), else the address given. Owned by
 * the client, valid until hfx_client_free. */
HFX_EXPORT const char *hfx_client_address(const struct hfx_client *c);

/* The host's WELCOME (version, caps, limits). Owned by the client. */
HFX_EXPORT const struct hfx_welcome *hfx_client_welcome(const struct hfx_client *c);

/* The descriptor to poll for readability (owned by the client). */
HFX_EXPORT int hfx_client_fd(const struct hfx_client *c);

/* Send CONFIGURE for stream (1..max_streams). The reply arrives as an
 * HFX_EVENT_CONFIGURED event (or HFX_EVENT_ERROR). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_client_configure(struct hfx_client *c, uint32_t stream, const struct hfx_configure *cfg);

/* Send SUBSCRIBE for stream (1..max_streams, not configured): the stream
 * then receives the host's scanout sub->scanout as it changes, at most
 * sub->max_fps pictures a second and one every keepalive_ms while nothing
 * changes (docs/protocol.md §5.17): an HFX_EVENT_CONFIGURED (again at every
 * change of size), then HFX_EVENT_PACKETs whose frame_id is the picture's
 * number and pts the host's monotonic clock in microseconds when it was
 * taken. Needs the host's HFX_CAP_SCANOUT (else HFX_E_UNSUPPORTED).
 * hfx_client_close_stream ends it. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_client_subscribe(struct hfx_client *c, uint32_t stream, const struct hfx_subscribe *sub);

/* Send INPUT on stream, a subscribed stream (docs/protocol.md §5.18): a
 * key (Linux evdev code) pressed or released, or where the pointer is and
 * which buttons it holds, in pixels of the scanout's last CONFIGURED size.
 * Needs the host's HFX_CAP_INPUT (else HFX_E_UNSUPPORTED): a host gives it
 * only to clients it lets drive the scanout's input. HFX_E_INVALID for
 * values outside §5.18's ranges. The host sends nothing back. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_input(struct hfx_client *c, uint32_t stream,
                                                           const struct hfx_input *in);

/* Send a memfd (or any mappable fd) of size bytes as SHM region. Borrowed:
 * the caller keeps and closes its fd. Needs a unix transport and
 * HFX_CAP_SHM_FD on both sides (else HFX_E_UNSUPPORTED); HFX_E_INVALID for
 * a negative fd, a size of 0 or over HFX_MAX_SHM_SIZE. *region gets the id
 * to use in frames. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_attach_shm(struct hfx_client *c, int fd,
                                                                uint64_t size, uint32_t *region);

/* Ask the host to make size bytes of shared memory (docs/protocol.md
 * §7.2), for systems where it cannot trust the client's own (no memfd
 * seals: macOS). *region gets the id to use in frames; the memory comes
 * with an HFX_EVENT_SHM_ALLOCATED event for that region, whose fd the
 * caller then owns (map it read-write, close it), or an HFX_EVENT_ERROR.
 * Needs a unix transport and HFX_CAP_SHM_ALLOC on both sides (else
 * HFX_E_UNSUPPORTED); HFX_E_INVALID for a size of 0 or over
 * HFX_MAX_SHM_SIZE. The host discards the memory's contents once the
 * region is detached or the connection ends (the caller's mapping then
 * reads zeros on Linux). Read the events: the host answers nothing more on
 * this connection while an answer's descriptor waits to be sent, and at
 * most 16 received descriptors wait here for their events. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_alloc_shm(struct hfx_client *c,
                                                               uint64_t size, uint32_t *region);

/* Submit a frame on stream. frame->source INLINE: the plane bytes are
 * data[0..n) concatenated, plane offsets relative to that; SHM: n == 0 and
 * planes point into frame->region. The data is borrowed for the call only.
 * Blocks at most timeout_ms (< 0: no limit) for the transport to take the
 * bytes (HFX_E_TIMEOUT). Does not wait for the window: see
 * hfx_client_in_flight. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_submit(struct hfx_client *c, uint32_t stream,
                                                            const struct hfx_frame *frame,
                                                            const struct iovec *data, int n,
                                                            bool force_keyframe, int timeout_ms);

/* Frames submitted on stream and not yet answered by PACKET or
 * FRAME_DROPPED. */
HFX_EXPORT unsigned hfx_client_in_flight(const struct hfx_client *c, uint32_t stream);

HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_request_keyframe(struct hfx_client *c,
                                                                      uint32_t stream);
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_set_bitrate(struct hfx_client *c,
                                                                 uint32_t stream, uint32_t kbps);
/* Ask the host to drain stream; an HFX_EVENT_FLUSHED follows the last
 * packet. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_flush(struct hfx_client *c, uint32_t stream);
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_close_stream(struct hfx_client *c,
                                                                  uint32_t stream);
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_client_ping(struct hfx_client *c, uint64_t cookie);

enum hfx_event_type {
    HFX_EVENT_NONE = 0,
    HFX_EVENT_CONFIGURED,
    HFX_EVENT_PACKET,
    HFX_EVENT_DROPPED,
    HFX_EVENT_FLUSHED,
    HFX_EVENT_PONG,
    HFX_EVENT_ERROR,
    HFX_EVENT_SHM_ALLOCATED,
};

/* HFX_EVENT_SHM_ALLOCATED: region (attached), its size, and a descriptor
 * that maps it read-write, owned by whoever receives the event. */
struct hfx_shm_allocated {
    uint32_t region;
    uint64_t size;
    int fd;
};

struct hfx_event {
    enum hfx_event_type type;
    uint32_t stream;
    bool keyframe; /* PACKET */
    union {
        struct hfx_configured configured;
        struct hfx_packet packet;
        struct hfx_frame_dropped dropped;
        struct hfx_ping pong;
        struct hfx_error error;
        struct hfx_shm_allocated shm;
    } u;
};

/* Wait at most timeout_ms (0 = just check, < 0 = no limit) for the next
 * event. HFX_OK with *ev filled (borrowed pointers valid until the next
 * call on this client), HFX_E_TIMEOUT when nothing came, HFX_E_CLOSED when
 * the host went away, or a protocol error (the client is then unusable). A
 * connection-level ERROR from the host is returned as an event first. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_client_next_event(struct hfx_client *c, int timeout_ms, struct hfx_event *ev);

/* Send BYE (best effort), close and free. NULL-safe, sets *c to NULL. */
HFX_EXPORT void hfx_client_free(struct hfx_client **c);

#ifdef __cplusplus
}
#endif

#endif /* HFX_CLIENT_H */
