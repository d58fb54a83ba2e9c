/* SPDX-License-Identifier: MIT */
/*
 * An hfx server running in-process on its own thread, for tests that talk
 * raw protocol to it over socketpairs and unix sockets.
 */
#ifndef HFX_TEST_SERVER_FIXTURE_H
#define HFX_TEST_SERVER_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/server.h"

struct fixture {
    struct hfx_server *srv;
    pthread_t thread;
    int stop[2];
    char dir[64];
    char address[128]; /* unix:DIR/sock */
    char shm_path[96]; /* DIR/region when started shared, else "" */
};

/* Start a server listening on a fresh unix socket; opts may be NULL. */
void fixture_start(struct fixture *f, const struct hfx_server_options *opts);
/* The same, with the file DIR/region (shm_size bytes, created by the
 * server) as the listener's region 0 (hfx_server_listen_shared). */
void fixture_start_shared(struct fixture *f, const struct hfx_server_options *opts,
                          uint64_t shm_size);
/* As fixture_start; hook(srv, user) runs after the listener is set up and
 * before the server's thread starts, the place to add transports
 * (hfx_server_add_transport) and listeners: a running server must not be
 * touched from another thread. */
typedef void (*fixture_hook)(struct hfx_server *srv, void *user);
void fixture_start_hook(struct fixture *f, const struct hfx_server_options *opts,
                        fixture_hook hook, void *user);
void fixture_stop(struct fixture *f);

/* A raw connection: returns the client end of a socketpair whose other end
 * the server serves. */
int fixture_raw_conn(struct fixture *f);

/* Encode and write one message (tail appended) on a raw fd. */
void raw_send(int fd, const struct hfx_msg *m, const void *tail, size_t tail_len);
void raw_send_bytes(int fd, const void *buf, size_t len);
/* Encode m (no tail) and send it in one sendmsg with pass_fd (borrowed)
 * as SCM_RIGHTS. */
void raw_send_fd(int fd, const struct hfx_msg *m, int pass_fd);
/* Read one whole message (blocking, 5 s limit); false on EOF/timeout. The
 * payload lives in buf (cap bytes). */
bool raw_recv(int fd, struct hfx_msg *m, uint8_t *buf, size_t cap);
/* True when the peer closed the connection within 5 s (after draining). */
bool raw_wait_closed(int fd);
/* Send HELLO (version 1, these caps) without waiting for the answer. */
void raw_hello(int fd, uint32_t caps);
/* HELLO -> WELCOME handshake on a raw fd, offering INLINE, SHM_FD and
 * SHM_FILE. */
void raw_handshake(int fd);
/* The same offering caps; returns WELCOME's caps. */
uint32_t raw_handshake_caps(int fd, uint32_t caps);
/* Fill m with a CONFIGURE for stream (H.264, 30 fps, 500 kbit/s). */
void make_configure(struct hfx_msg *m, uint32_t stream, uint32_t fourcc, uint32_t w,
                    uint32_t h);
/* Send that CONFIGURE and require CONFIGURED. */
void raw_configure(int fd, uint32_t stream, uint32_t fourcc, uint32_t w, uint32_t h);

/* A session that works: handshake and stream 1 configured for
 * GOOD_W x GOOD_H NV12. */
#define GOOD_W 64
#define GOOD_H 64
int fixture_good_session(struct fixture *f);
/* Fill m with an INLINE FRAME id on stream 1 of such a session (NV12,
 * planes tight: GOOD_W * GOOD_H * 3 / 2 bytes of data follow it). */
void make_good_frame(struct hfx_msg *m, uint64_t id);
/* PING -> PONG, then FRAME id on stream 1 of such a session -> its PACKET:
 * the session is alive and encodes. */
void raw_check_alive(int fd, uint64_t id);

#endif
