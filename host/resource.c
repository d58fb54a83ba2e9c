/* SPDX-License-Identifier: MIT */
#include "hfx/resource.h"

#include <string.h>

#include "hfx/protocol.h"
#include "util/text.h"

static const char *name_of(uint32_t fourcc)
{
    const char *name = hfx_format_name(fourcc);

    return name ? name : "a format hfx has no name for";
}

/* A value of the resource that is not the frame's. */
static enum hfx_status differs(enum hfx_status st, char *why, size_t why_len, uint32_t id,
                               const char *what, uint32_t resource, uint32_t frame)
{
    (void)hfx_text_format(why, why_len, "resource %u: its %s is %u, the frame's %u", id, what,
                          resource, frame);
    return st;
}

enum hfx_status hfx_resource_copy(const struct hfx_resource_request *req,
                                  const struct hfx_resource_image *img, char *why, size_t why_len)
{
    uint32_t row_bytes, rows;
    uint64_t end;

    if (why && why_len)
        why[0] = '\0';
    if (!req || !img || !req->dst || (!img->data && img->size))
        return HFX_E_INVALID;
    if (img->fourcc != req->fourcc) {
        (void)hfx_text_format(why, why_len, "resource %u holds %s, the stream is %s",
                              req->resource_id, name_of(img->fourcc), name_of(req->fourcc));
        return HFX_E_BAD_FORMAT;
    }
    if (hfx_format_planes(req->fourcc) != 1 ||
        !hfx_format_plane_size(req->fourcc, req->width, req->height, 0, &row_bytes, &rows)) {
        (void)hfx_text_format(why, why_len, "resource %u: %s is not a one-plane format",
                              req->resource_id, name_of(req->fourcc));
        return HFX_E_BAD_FORMAT;
    }
    if (img->width != req->width)
        return differs(HFX_E_BAD_DIMENSIONS, why, why_len, req->resource_id, "width", img->width,
                       req->width);
    if (img->height != req->height)
        return differs(HFX_E_BAD_DIMENSIONS, why, why_len, req->resource_id, "height", img->height,
                       req->height);
    if (img->stride != req->stride)
        return differs(HFX_E_BAD_STRIDE, why, why_len, req->resource_id, "stride", img->stride,
                       req->stride);
    /* Both factors fit in 32 bits (hfx_format_plane_size): no wrap in 64. */
    end = (uint64_t)img->stride * (rows - 1) + row_bytes;
    if (req->offset > img->size || end > img->size - req->offset) {
        (void)hfx_text_format(
            why, why_len, "resource %u: the picture at offset %llu runs past its %llu bytes",
            req->resource_id, (unsigned long long)req->offset, (unsigned long long)img->size);
        return HFX_E_SHM_RANGE;
    }
    for (uint32_t y = 0; y < rows; y++)
        memcpy(req->dst + (size_t)y * row_bytes,
               img->data + req->offset + (uint64_t)y * img->stride, row_bytes);
    return HFX_OK;
}
