/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host: scanouts (docs/protocol.md §5.17), pictures a display
 * publishes for clients that SUBSCRIBE to them, e.g. the console of a
 * virtual machine that QEMU's helix-frame-export chardev serves
 * (docs/qemu.md).
 *
 * The embedder adds a scanout to its server before the server runs and
 * publishes pictures from its own thread as the display changes. The
 * server encodes them on a worker thread, once for all subscribers, and
 * sends every subscriber the packets: a CONFIGURED (again when the size
 * changes), then an IDR, then what follows, at most at the highest rate a
 * subscriber asked for; a subscriber that does not read loses pictures
 * and resumes at a keyframe. While nothing changes the server asks for a
 * picture every keep-alive interval (want_picture).
 */
#ifndef HFX_SCANOUT_H
#define HFX_SCANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "hfx/protocol.h"
#include "hfx/server.h"
#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hfx_scanout;

/* Scanouts per server. */
#define HFX_SERVER_MAX_SCANOUTS 4
/* Subscribers per scanout; the next one gets ERROR HFX_E_BUSY. */
#define HFX_SCANOUT_MAX_SUBSCRIBERS 16

struct hfx_scanout_options {
    uint32_t number;       /* what SUBSCRIBE names; unique per server */
    uint32_t bitrate_kbps; /* of the encoded stream; 0 = 8000 */
    /* Encoder backend; NULL = the server's (hfx_server_options.encoder).
     * Copied; at most HFX_MAX_NAME bytes (else HFX_E_INVALID). */
    const char *encoder;
    /* The server wants a whole picture soon: a subscriber came, or a
     * subscriber's keep-alive interval passed with no picture. Called on
     * the thread that runs the server's loop; it must not block nor call
     * into the server: it makes the embedder publish the picture as it is
     * from its own thread. NULL: the embedder publishes on its own (then a
     * new subscriber may wait for the next change). */
    void (*want_picture)(void *user);
    /* A subscriber's INPUT (docs/protocol.md §5.18), already checked: a
     * key (Linux evdev code), or the pointer at in->x, in->y, which are
     * below width and height, the size of the scanout's encoded picture
     * (moved inside when a subscriber still pointed at an older, larger
     * size; width and height are 0 for a key before the first picture, and
     * a pointer event then is dropped). Buttons are the state the
     * subscriber holds: the embedder presses and releases what changed.
     * Only subscribers whose connection was accepted on one of the
     * server's listeners (hfx_server_listen*, hfx_server_listen_fd) may
     * send it: never a transport added or handed over (QEMU's chardev: the
     * guest's own port). Called on the thread that runs the server's
     * loop; it must not block nor call into the server. NULL: the scanout
     * takes no input (WELCOME says INPUT only when a scanout takes it). */
    void (*input)(void *user, const struct hfx_input *in, uint32_t width, uint32_t height);
    void *user;
};

/* Add a scanout to s before s runs (hfx_server_run, hfx_server_step).
 * WELCOME then says SCANOUT. *out belongs to s (freed by hfx_server_free)
 * and stays valid until then. HFX_E_INVALID (NULL arguments, an encoder
 * name over HFX_MAX_NAME bytes, a number
 * already added), HFX_E_TOO_LARGE (HFX_SERVER_MAX_SCANOUTS already),
 * HFX_E_NOMEM. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_server_add_scanout(struct hfx_server *s, const struct hfx_scanout_options *opts,
                       struct hfx_scanout **out);

/* The scanout's picture now: width x height pixels of fourcc (BGRx, BGRA,
 * RGBx or RGBA; alpha ignored) from data, rows stride bytes apart. From
 * any one thread (the embedder's display thread), also while the server
 * runs. Copied before return when a subscriber wants pictures and the
 * rate allows: HFX_OK. HFX_E_BUSY when the last picture was taken less
 * than 1 / (the highest max_fps asked) ago: *retry_ms (>= 1) says when one
 * would be taken; call again by then with the picture as it is then (the
 * server keeps nothing of a refused call). HFX_OK without a copy while
 * nobody subscribes (hfx_scanout_wanted tells before the embedder does any
 * work of its own). An odd width or height loses its last column or row
 * (encoders take even sizes). HFX_E_BAD_FORMAT, HFX_E_BAD_DIMENSIONS
 * (under 2 or over HFX_MAX_DIMENSION), HFX_E_BAD_STRIDE (below a row),
 * HFX_E_INVALID (NULL), HFX_E_NOMEM. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_scanout_publish(struct hfx_scanout *sc,
                                                              uint32_t fourcc, uint32_t width,
                                                              uint32_t height, const uint8_t *data,
                                                              uint32_t stride, uint32_t *retry_ms);

/* Whether a subscriber wants pictures now. Any thread. */
HFX_EXPORT bool hfx_scanout_wanted(struct hfx_scanout *sc);

#ifdef __cplusplus
}
#endif

#endif /* HFX_SCANOUT_H */
