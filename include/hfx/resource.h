/* SPDX-License-Identifier: MIT */
/*
 * libhfx-host: RESOURCE frames (docs/protocol.md §5.3), pictures a virtual
 * machine monitor reads from its guest's GPU for a host embedded in it
 * (QEMU's helix-frame-export chardev, docs/qemu.md).
 *
 * A server given a reader (hfx_server_options.resources) says RESOURCE in
 * WELCOME. For each RESOURCE frame, when its turn to be encoded comes, the
 * stream's encode thread calls the reader; the reader finds the resource,
 * describes its image and hands that to hfx_resource_copy, which checks it
 * against the frame and the stream and copies the picture out. A frame
 * whose read fails is answered FRAME_DROPPED reason SOURCE.
 */
#ifndef HFX_RESOURCE_H
#define HFX_RESOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One RESOURCE frame to read. */
struct hfx_resource_request {
    uint32_t resource_id;
    /* The stream's picture (CONFIGURE): what the resource must hold. */
    uint32_t fourcc;
    uint32_t width;
    uint32_t height;
    /* Where the FRAME said row 0 starts in the resource, and its stride. */
    uint64_t offset;
    uint32_t stride;
    /* Where the picture goes: width x 4 bytes per row, height rows, no
     * padding. Owned by the library, valid for the call. */
    uint8_t *dst;
};

/* What the reader found under a resource id. */
struct hfx_resource_image {
    uint32_t fourcc; /* HFX_FORMAT_*; 0 when its format has no hfx name */
    uint32_t width;
    uint32_t height;
    uint32_t stride;     /* bytes from one row to the next */
    const uint8_t *data; /* byte 0 of the resource's memory; borrowed */
    uint64_t size;       /* bytes readable from data */
};

struct hfx_resource_reader {
    /* Read req's picture into req->dst, normally by finding the resource
     * and calling hfx_resource_copy. Called on a stream's encode thread,
     * one frame at a time per stream; it may block until the embedder's
     * main loop has done the read (a VMM reads its guest's memory under its
     * own lock). HFX_OK, or an error (the frame is dropped) with a line
     * saying why in why[why_len] (NUL-terminated). NULL: the server does
     * not serve RESOURCE frames. */
    enum hfx_status (*read)(void *user, const struct hfx_resource_request *req, char *why,
                            size_t why_len);
    void *user;
};

/* Check img against req and copy the picture into req->dst. Only
 * one-plane formats (BGRx, BGRA, RGBx, RGBA) can be resources. Errors,
 * with why[why_len] saying which value differs: HFX_E_BAD_FORMAT (img's
 * format is not the stream's, or has more than one plane),
 * HFX_E_BAD_DIMENSIONS (width or height), HFX_E_BAD_STRIDE (the frame's
 * stride is not the resource's), HFX_E_SHM_RANGE (rows past img->size),
 * HFX_E_INVALID (NULL arguments). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_resource_copy(const struct hfx_resource_request *req,
                                                            const struct hfx_resource_image *img,
                                                            char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* HFX_RESOURCE_H */
