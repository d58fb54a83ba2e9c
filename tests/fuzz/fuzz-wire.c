/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the wire codec (docs/protocol.md §2-§5). The input is a
 * byte stream as a peer would send it. Every message that decodes must
 *   - re-encode (the library emits what it accepts) to the very same bytes
 *     (the encoding is canonical: exact lengths, reserved bytes zero),
 *   - decode again to the same fields,
 *   - survive hfx_configure_validate / hfx_frame_validate, and when a frame
 *     validates, every byte of its INLINE planes must be readable: ASan
 *     then proves the bounds that hfx_frame_validate promised.
 * Every rejection, by the codec or the validators, must name a field at an
 * offset inside the message (§8), and the plain calls must agree with the
 * _ex ones.
 */
#include <stdlib.h>
#include <string.h>

#include "hfx/protocol.h"
#include "fuzz.h"
#include "msg-equal.h"

#define SMALL_MAX_PAYLOAD 64
#define REGION_SIZE (1u << 20)

/* One fixed stream configuration per plane count (§5.3 checks planes
 * against the stream's configuration; the frame does not name one). */
static const struct hfx_configure configs[HFX_MAX_PLANES + 1] = {
    [1] = {.codec = HFX_CODEC_H264,
           .width = 16,
           .height = 8,
           .fourcc = HFX_FORMAT_BGRX,
           .fps_num = 30,
           .fps_den = 1,
           .bitrate_kbps = 1000},
    [2] = {.codec = HFX_CODEC_H264,
           .width = 16,
           .height = 8,
           .fourcc = HFX_FORMAT_NV12,
           .fps_num = 30,
           .fps_den = 1,
           .bitrate_kbps = 1000},
    [3] = {.codec = HFX_CODEC_H264,
           .width = 16,
           .height = 8,
           .fourcc = HFX_FORMAT_I420,
           .fps_num = 30,
           .fps_den = 1,
           .bitrate_kbps = 1000},
};

static volatile uint8_t sink;

/* A rejection names a field at most `len` bytes into the message, and its
 * text can be formatted. */
static void check_detail(enum hfx_status st, const struct hfx_wire_error *err, size_t len)
{
    char text[256];

    if (st == HFX_OK || st == HFX_INCOMPLETE) {
        if (err->fault != HFX_WIRE_NONE)
            abort();
        return;
    }
    if (err->fault == HFX_WIRE_NONE || !err->field || err->offset > len)
        abort();
    if (hfx_wire_error_format(err, st, text, sizeof(text)) == 0 || strlen(text) >= sizeof(text))
        abort();
}

/* Read the first and last byte of every row of every plane. */
static void touch_planes(const struct hfx_configure *cfg, const struct hfx_frame *f)
{
    for (unsigned i = 0; i < f->plane_count; i++) {
        uint32_t row_bytes, rows;
        if (!hfx_format_plane_size(cfg->fourcc, cfg->width, cfg->height, i, &row_bytes, &rows))
            abort();
        for (uint32_t r = 0; r < rows; r++) {
            uint64_t start = f->planes[i].offset + (uint64_t)f->planes[i].stride * r;
            sink ^= f->data[start];
            sink ^= f->data[start + row_bytes - 1];
        }
    }
}

static void validate(const struct hfx_msg *m, size_t len)
{
    struct hfx_wire_error err;

    if (m->hdr.type == HFX_MSG_CONFIGURE) {
        enum hfx_status st = hfx_configure_validate_ex(&m->u.configure, &err);
        if (st != HFX_OK && st != HFX_E_BAD_FORMAT && st != HFX_E_BAD_DIMENSIONS &&
            st != HFX_E_MALFORMED)
            abort();
        if (st != hfx_configure_validate(&m->u.configure))
            abort();
        check_detail(st, &err, len);
    } else if (m->hdr.type == HFX_MSG_FRAME) {
        const struct hfx_configure *cfg = &configs[m->u.frame.plane_count];
        enum hfx_status st = hfx_frame_validate_ex(cfg, &m->u.frame, REGION_SIZE, &err);
        if (st != hfx_frame_validate(cfg, &m->u.frame, REGION_SIZE))
            abort();
        /* cfg is valid: whatever is wrong is in the FRAME. */
        check_detail(st, &err, len);
        if (st != HFX_OK && err.type != HFX_MSG_FRAME)
            abort();
        if (st == HFX_OK && m->u.frame.source == HFX_SOURCE_INLINE)
            touch_planes(cfg, &m->u.frame);
    }
}

/* Encode m again (its data as the tail), compare with the input bytes and
 * decode the result. */
static void round_trip(const struct hfx_msg *m, const uint8_t *orig, size_t orig_len)
{
    const uint8_t *tail = NULL;
    size_t tail_len = 0, written = 0, consumed = 0;
    struct hfx_msg back;
    uint8_t *buf;

    if (m->hdr.type == HFX_MSG_FRAME) {
        tail = m->u.frame.data;
        tail_len = m->u.frame.data_len;
    } else if (m->hdr.type == HFX_MSG_PACKET) {
        tail = m->u.packet.data;
        tail_len = m->u.packet.data_len;
    }
    buf = malloc(HFX_MAX_HEAD + tail_len);
    if (!buf)
        abort();
    if (hfx_msg_encode(m, tail_len, buf, HFX_MAX_HEAD, &written) != HFX_OK)
        abort();
    if (tail_len)
        memcpy(buf + written, tail, tail_len);
    if (written + tail_len != orig_len || memcmp(buf, orig, orig_len) != 0)
        abort();
    if (hfx_msg_decode(buf, written + tail_len, HFX_MAX_PAYLOAD_HARD, &back, &consumed) !=
            HFX_OK ||
        consumed != orig_len || !msg_equal(&back, m))
        abort();
    free(buf);
}

static void decode_stream(const uint8_t *data, size_t size, uint32_t max_payload)
{
    size_t off = 0;

    while (off < size) {
        struct hfx_wire_error err;
        struct hfx_header hdr;
        struct hfx_msg m;
        size_t used = 0, left = size - off;
        enum hfx_status st;

        /* As lib/conn.c reads: the header, then the payload once it is all
         * there. */
        st = hfx_header_decode_ex(data + off, left, max_payload, &hdr, &err);
        if (st == HFX_OK && left - HFX_HEADER_SIZE < hdr.length)
            st = HFX_INCOMPLETE;
        else if (st == HFX_OK)
            st = hfx_msg_decode_payload_ex(&hdr, data + off + HFX_HEADER_SIZE, hdr.length, &m,
                                           &err);
        check_detail(st, &err, left);
        if (st != hfx_msg_decode(data + off, left, max_payload, &m, &used))
            abort();
        /* A real connection closes on the first error (§8). */
        if (st != HFX_OK)
            return;
        if (used < HFX_HEADER_SIZE || used > left)
            abort();
        round_trip(&m, data + off, used);
        validate(&m, used);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_stream(data, size, HFX_MAX_PAYLOAD_HARD);
    decode_stream(data, size, SMALL_MAX_PAYLOAD);
    return 0;
}
