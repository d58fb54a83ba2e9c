/* SPDX-License-Identifier: MIT */
/*
 * The scripted session of the fault tests (docs/testing.md, "Fault
 * injection") and a client that checks, as a client sees them, the
 * promises of docs/protocol.md while a fault is injected somewhere:
 *
 *   step  message                         the host's answer
 *    0    HELLO                           WELCOME
 *    1    CONFIGURE stream 1, 64x64 NV12  CONFIGURED
 *    2    FRAME 1                         PACKET, an IDR (a new stream, §5)
 *    3    FRAME 2                         PACKET, not an IDR
 *    4    FRAME 3 with FORCE_KEYFRAME     PACKET, an IDR (§5.3)
 *    5    REQUEST_KEYFRAME                -
 *    6    FRAME 4                         PACKET, an IDR (§5.6)
 *    7    SET_BITRATE 800 kbit/s          -
 *    8    FRAME 5                         PACKET
 *    9    FLUSH                           FLUSHED (§5.8)
 *   10    CLOSE                           -
 *   11    PING                            PONG: nothing else came first
 *   12    BYE                             -
 *
 * Steps go one at a time: the client waits for a step's answer before the
 * next, so that the window never overflows and the IDRs land where the
 * table says. The host runs with keyframe_min_interval_ms 0.
 */
#ifndef HFX_TEST_FAULT_SESSION_H
#define HFX_TEST_FAULT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/protocol.h"

#define FS_STEPS 13
#define FS_FRAMES 5
#define FS_W 64
#define FS_H 64
#define FS_STREAM 1

/* What the fault may bring, beyond the clean run. */
struct fs_expect {
    /* The clean run only: every frame a PACKET, IDRs where the table says,
     * every PACKET decodes (libavcodec), no ERROR, no close. */
    bool strict;
    /* ERROR codes the host may send (stream 1 or 0), 0-terminated; any
     * other code fails the check. */
    const uint32_t *errors;
    /* The host may close the connection. */
    bool may_close;
    /* Frames may be dropped with reason ENCODER. */
    bool may_drop;
};

/* What the client saw. */
struct fs_result {
    int steps_sent;        /* whole steps written */
    bool completed;        /* every step sent and answered, PONG last */
    bool closed;           /* the host closed the connection */
    uint32_t error_code;   /* the first ERROR's code, or 0 */
    uint32_t error_stream; /* its stream */
    bool stream_failed;    /* ERROR on stream 1 and the connection stayed */
    unsigned messages;     /* whole messages received */
    unsigned packets;
    unsigned idrs;
    unsigned drops;          /* FRAME_DROPPED, any reason */
    unsigned frames_decoded; /* strict runs */
};

struct fs_client {
    int fd;             /* blocking stream socket; the client's end */
    size_t write_chunk; /* bytes per write() call; 0 = a message per call */
    int timeout_ms;     /* for each answer; 0 = 5000 */
};

/* The encoded bytes of step i (a FRAME's picture included) into buf (cap
 * bytes); returns the length. */
size_t fs_step_bytes(int i, uint8_t *buf, size_t cap);
/* Bytes of steps 0..n-1 back to back into buf; off[i] gets where step i
 * starts (off[n] the end), off may be NULL. Returns the length. */
size_t fs_script_bytes(int n, uint8_t *buf, size_t cap, size_t *off);
/* Largest step in bytes. */
#define FS_MAX_STEP (HFX_MAX_HEAD + FS_W * FS_H * 3 / 2)

/* Run steps 0..n-1 (FS_STEPS: all of them) and check every message the
 * host sends against the protocol and e. Stops early when the host closes
 * (allowed only with e->may_close). A host that does not answer a step
 * within the timeout fails the check: that is a hang. */
void fs_run(const struct fs_client *c, int n, const struct fs_expect *e, struct fs_result *r);

/* A short text for r: "complete", "complete, 1 frame dropped", "stream
 * ERROR HFX_E_NOMEM", "closed after ERROR HFX_E_NOMEM", "closed". */
void fs_describe(const struct fs_result *r, char *out, size_t cap);

#endif /* HFX_TEST_FAULT_SESSION_H */
