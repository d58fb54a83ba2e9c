/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host: the encode service. Accepts connections on listeners (or
 * connections handed to it), runs the protocol, and encodes every stream on
 * its own worker thread. I/O runs on the thread that calls
 * hfx_server_run(); nothing on it waits for an encoder.
 */
#ifndef HFX_SERVER_H
#define HFX_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/resource.h"
#include "hfx/status.h"
#include "hfx/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hfx_server;

/* Default of hfx_server_options.max_memory: 2 GiB. */
#define HFX_SERVER_DEFAULT_MAX_MEMORY (2048ull << 20)

struct hfx_server_options {
    const char *encoder;   /* backend name; NULL or "auto" = probe */
    /* Threads of each stream's encoder (hfx_encoder_options.threads); 0 =
     * the backend's own choice. Over HFX_ENCODER_MAX_THREADS: that. */
    unsigned encoder_threads;
    unsigned max_sessions; /* sessions after WELCOME at once; 0 = 16 */
    /* Accepted connections that have not sent HELLO yet; at the limit a new
     * one makes the one that waited longest go (ERROR HFX_E_BUSY). Serial
     * and fd: connections are not counted. 0 = 64. */
    unsigned max_handshakes;
    /* Host-wide bytes that streams may be expected to use (host/budget.h);
     * a CONFIGURE that would go over gets ERROR HFX_E_TOO_MANY_STREAMS on
     * its stream. 0 = HFX_SERVER_DEFAULT_MAX_MEMORY. */
    uint64_t max_memory;
    unsigned max_streams;         /* per connection; 0 = 8 (<= HFX_MAX_STREAMS) */
    unsigned window;              /* frames pending per stream; 0 = 4 */
    uint32_t max_payload;         /* 0 = HFX_MAX_PAYLOAD_HARD */
    size_t max_queued;            /* send queue bytes per connection; 0 = 64 MiB */
    int keyframe_min_interval_ms; /* between forced IDRs; < 0 = 200 */
    int handshake_timeout_ms;     /* HELLO must come within; 0 = 10000 */
    const char *token;            /* copied; NULL = no authentication */
    /* Encode on the thread that runs the loop (hfx_server_run or
     * hfx_server_step), between its polls, instead of on a worker thread
     * per stream: one deterministic thread, for tests and fuzzing. Every
     * session then waits while any frame encodes. */
    bool encode_in_loop;
    /* Give the heap back to the system (glibc's malloc_trim) once no
     * stream is left: the last stream worker to end trims after freeing
     * its encoder (with encode_in_loop: a session that ends with no stream
     * left, if streams ran since the last trim). For a process that keeps
     * freed frames in its heap while streams run (hfxd's mallopt). Off,
     * the server leaves the process's heap alone (it is the embedding
     * program's). */
    bool trim_heap_when_idle;
    /* Test only: every frame waits this long on its stream's thread
     * before it is encoded, as behind an encoder that stalls (QEMU's
     * x-encode-delay-ms, docs/qemu.md); 0 (the default): no wait. */
    unsigned test_encode_delay_ms;
    /* RESOURCE frames (hfx/resource.h): who reads the guest's GPU
     * resources; .read NULL (the default): RESOURCE is not served. */
    struct hfx_resource_reader resources;
    hfx_log_fn log; /* may be NULL */
    void *log_user;
};

/* opts is copied (strings too). *out is owned by the caller. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_new(const struct hfx_server_options *opts,
                                                         struct hfx_server **out);

/* Listen on an address (unix:, tcp:, vsock:), or serve fd:N (a listening
 * socket is accepted on; any other descriptor is served as one connection)
 * or serial:PATH (one connection over a character device). A tcp: address
 * that is not loopback is refused with HFX_E_AUTH unless a token is set. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_listen(struct hfx_server *s,
                                                            const char *address);

/* As hfx_server_listen, and every connection through this address gets the
 * file shm_file as its region 0 (capability SHM_FILE, docs/protocol.md
 * §7.1), e.g. the file behind a VM's ivshmem device. The file is created
 * with shm_size bytes when missing or empty, its header is written, and it
 * is mapped read-only until the server is freed. The region has one data
 * area: one client at a time per file (one VM, one port). HFX_E_IO (errno
 * set) or HFX_E_SHM_RANGE for the file, else as hfx_server_listen. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_listen_shared(struct hfx_server *s,
                                                                   const char *address,
                                                                   const char *shm_file,
                                                                   uint64_t shm_size);

/* Accept connections on fd, a listening stream socket that someone else
 * created and bound: systemd's socket activation (hfxd --listen systemd,
 * docs/architecture.md) or a supervisor. fd is taken over: closed by
 * hfx_server_free, and at once when this fails. A unix socket's file is
 * left to its creator. With shm_file, every connection through it gets that
 * file as region 0, as with hfx_server_listen_shared; NULL: no region 0
 * (shm_size unused). Refused, with the reason logged: a descriptor that is
 * not a listening stream socket (HFX_E_INVALID: not a socket, a datagram
 * socket, a connection), a family other than unix, TCP and vsock
 * (HFX_E_UNSUPPORTED), a TCP socket bound to an address that is not
 * loopback (0.0.0.0 and :: included) while no token is set (HFX_E_AUTH),
 * more than 16 listeners (HFX_E_TOO_LARGE); HFX_E_IO or HFX_E_SHM_RANGE
 * for shm_file. hfx_server_listen("fd:N") takes a listening socket this
 * way too. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_listen_fd(struct hfx_server *s, int fd,
                                                               const char *shm_file,
                                                               uint64_t shm_size);

/* For a tcp:HOST:0 listener: the port bound by the n-th listener (0-based),
 * or 0. */
HFX_EXPORT uint16_t hfx_server_listener_port(const struct hfx_server *s, unsigned n);

/* Serve one connection on a transport (taken over). On the thread that
 * runs the loop, or before it runs. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_add_transport(struct hfx_server *s,
                                                                   struct hfx_transport *t);

/* As hfx_server_add_transport, from any thread, also while
 * hfx_server_run runs on another: t (taken over) is served from the
 * loop's next pass, as a connection that has not said HELLO yet. For an
 * embedder with its own main loop, e.g. QEMU's chardev (docs/qemu.md),
 * which hands over one end of a socketpair whenever its guest opens the
 * port. HFX_E_BUSY (t freed) when 16 handed-over connections are still
 * waiting for the loop; HFX_E_IO (t kept, served at the loop's next
 * wake-up) when the loop could not be woken. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_hand_over(struct hfx_server *s,
                                                               struct hfx_transport *t);

/* Run the event loop until stop_fd becomes readable (or, with stop_fd < 0,
 * forever). Returns HFX_OK after a stop, an error if the loop itself
 * failed. Sessions still open are closed (with BYE) on return. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_run(struct hfx_server *s, int stop_fd);

/* One pass of hfx_server_run's loop, for a caller that runs its own: ends
 * what is done (and, with encode_in_loop, does the streams' jobs), waits
 * up to timeout_ms (0: not at all; < 0: until an event or the server's
 * next deadline) and handles what is ready. HFX_OK when something was
 * handled, HFX_E_TIMEOUT when nothing was, HFX_E_IO if poll() failed.
 * Not while hfx_server_run runs on another thread. Sessions stay open:
 * hfx_server_run with a readable stop_fd, or hfx_server_free, ends them. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_server_step(struct hfx_server *s, int timeout_ms);

struct hfx_server_stats {
    uint64_t sessions_total;      /* connections served, ever */
    unsigned sessions_active;     /* after WELCOME, now */
    unsigned connections_waiting; /* accepted, before HELLO, now */
    unsigned connections;         /* open now, in any state */
    uint64_t frames_received;
    uint64_t frames_encoded;
    uint64_t frames_dropped;
    uint64_t protocol_errors;
    uint64_t auth_failures;       /* HELLOs with a wrong token */
    uint64_t streams_refused;     /* CONFIGUREs over max_memory */
    uint64_t connections_evicted; /* before HELLO, at max_handshakes */
    uint64_t accept_failures;     /* out of descriptors */
    uint64_t memory_reserved;     /* bytes, by the streams open now */
};

HFX_EXPORT void hfx_server_get_stats(const struct hfx_server *s, struct hfx_server_stats *out);

/* Stop workers, close everything, free. NULL-safe, sets *s to NULL. */
HFX_EXPORT void hfx_server_free(struct hfx_server **s);

#ifdef __cplusplus
}
#endif

#endif /* HFX_SERVER_H */
