/* SPDX-License-Identifier: MIT */
/*
 * The hfx v1 message codec (docs/protocol.md §2, §3, §5). Decoding runs in
 * four steps, and the first failing step names the error (§2.3):
 *   1. the fixed part is there, else HFX_E_TRUNCATED;
 *   2. reserved bytes are zero (HFX_E_MALFORMED) and the length fields that
 *      size the variable part are within their maxima (HFX_E_TOO_LARGE);
 *   3. the variable part is exactly there: short is HFX_E_TRUNCATED, bytes
 *      left over are HFX_E_MALFORMED;
 *   4. values: enums, ranges, text (check_body(), shared with the encoder
 *      so that the library never emits what it would reject).
 */
#include "hfx/protocol.h"

#include <stdio.h>
#include <string.h>

#include "util/reader.h"
#include "wire-private.h"

/* §3: which header stream ids a type may carry. */
enum stream_rule {
    STREAM_ZERO,    /* connection level */
    STREAM_NONZERO, /* names an encoder stream */
    STREAM_ANY,     /* ERROR: 0, or the offending stream */
};

struct type_info {
    uint16_t type;
    const char *name;
    uint16_t flags; /* header flags allowed */
    enum stream_rule stream;
};

static const struct type_info type_table[] = {
    {HFX_MSG_HELLO, "HELLO", 0, STREAM_ZERO},
    {HFX_MSG_WELCOME, "WELCOME", 0, STREAM_ZERO},
    {HFX_MSG_PING, "PING", 0, STREAM_ZERO},
    {HFX_MSG_PONG, "PONG", 0, STREAM_ZERO},
    {HFX_MSG_ERROR, "ERROR", 0, STREAM_ANY},
    {HFX_MSG_BYE, "BYE", 0, STREAM_ZERO},
    {HFX_MSG_SHM_ATTACH, "SHM_ATTACH", 0, STREAM_ZERO},
    {HFX_MSG_SHM_DETACH, "SHM_DETACH", 0, STREAM_ZERO},
    {HFX_MSG_SHM_ALLOC, "SHM_ALLOC", 0, STREAM_ZERO},
    {HFX_MSG_SHM_ALLOCATED, "SHM_ALLOCATED", 0, STREAM_ZERO},
    {HFX_MSG_CONFIGURE, "CONFIGURE", 0, STREAM_NONZERO},
    {HFX_MSG_CONFIGURED, "CONFIGURED", 0, STREAM_NONZERO},
    {HFX_MSG_FRAME, "FRAME", HFX_FRAME_FLAG_FORCE_KEYFRAME, STREAM_NONZERO},
    {HFX_MSG_PACKET, "PACKET", HFX_PACKET_FLAG_KEYFRAME, STREAM_NONZERO},
    {HFX_MSG_FRAME_DROPPED, "FRAME_DROPPED", 0, STREAM_NONZERO},
    {HFX_MSG_REQUEST_KEYFRAME, "REQUEST_KEYFRAME", 0, STREAM_NONZERO},
    {HFX_MSG_SET_BITRATE, "SET_BITRATE", 0, STREAM_NONZERO},
    {HFX_MSG_FLUSH, "FLUSH", 0, STREAM_NONZERO},
    {HFX_MSG_FLUSHED, "FLUSHED", 0, STREAM_NONZERO},
    {HFX_MSG_CLOSE, "CLOSE", 0, STREAM_NONZERO},
    {HFX_MSG_SUBSCRIBE, "SUBSCRIBE", 0, STREAM_NONZERO},
    {HFX_MSG_INPUT, "INPUT", 0, STREAM_NONZERO},
};

/* Fixed payload sizes (§5): the part before any variable-length bytes. */
#define HELLO_FIXED 12
#define WELCOME_SIZE 16
#define PING_SIZE 8
#define ERROR_FIXED 8
#define SHM_ATTACH_SIZE 16
#define SHM_DETACH_SIZE 8
#define CONFIGURE_FIXED 44
#define CONFIGURED_FIXED 20
#define FRAME_FIXED 32
#define PLANE_SIZE 16
#define PACKET_FIXED 24
#define DROPPED_SIZE 16
#define SET_BITRATE_SIZE 8
#define SUBSCRIBE_SIZE 16
#define INPUT_SIZE 16

_Static_assert(HFX_HEADER_SIZE + CONFIGURE_FIXED + HFX_MAX_NAME <= HFX_MAX_HEAD,
               "HFX_MAX_HEAD must cover CONFIGURE");
_Static_assert(HFX_HEADER_SIZE + CONFIGURED_FIXED + HFX_MAX_NAME + HFX_MAX_EXTRADATA <=
                   HFX_MAX_HEAD,
               "HFX_MAX_HEAD must cover CONFIGURED");
_Static_assert(HFX_HEADER_SIZE + HELLO_FIXED + HFX_MAX_TOKEN <= HFX_MAX_HEAD,
               "HFX_MAX_HEAD must cover HELLO");
_Static_assert(HFX_HEADER_SIZE + ERROR_FIXED + HFX_MAX_TEXT <= HFX_MAX_HEAD,
               "HFX_MAX_HEAD must cover ERROR");
_Static_assert(HFX_HEADER_SIZE + FRAME_FIXED + HFX_MAX_PLANES * PLANE_SIZE <= HFX_MAX_HEAD,
               "HFX_MAX_HEAD must cover FRAME");

static const struct type_info *find_type(uint16_t type)
{
    for (size_t i = 0; i < sizeof(type_table) / sizeof(type_table[0]); i++) {
        if (type_table[i].type == type)
            return &type_table[i];
    }
    return NULL;
}

uint16_t hfx_msg_allowed_flags(uint16_t type)
{
    const struct type_info *info = find_type(type);
    return info ? info->flags : 0;
}

const char *hfx_msg_type_name(uint16_t type)
{
    const struct type_info *info = find_type(type);
    return info ? info->name : "UNKNOWN";
}

/* §2.2: the header checks after the magic, in the order the spec gives. */
static enum hfx_status check_header_rules(uint16_t type, uint16_t flags, uint32_t stream,
                                          struct hfx_wire_error *e)
{
    const struct type_info *info = find_type(type);

    if (!info)
        return wire_error(e, HFX_E_UNKNOWN_TYPE, HFX_WIRE_UNKNOWN, "type", 4, type, 0);
    if (flags & (uint16_t)~info->flags)
        return wire_error(e, HFX_E_BAD_FLAGS, HFX_WIRE_FLAGS, "flags", 6, flags, info->flags);
    if (info->stream == STREAM_ZERO && stream != 0)
        return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NOT_ZERO, "stream", 8, stream, 0);
    if (info->stream == STREAM_NONZERO)
        return wire_nonzero(e, HFX_E_MALFORMED, "stream", 8, stream);
    return HFX_OK;
}

enum hfx_status hfx_header_decode_ex(const uint8_t *buf, size_t len, uint32_t max_payload,
                                     struct hfx_header *out, struct hfx_wire_error *err)
{
    struct hfx_reader r;
    enum hfx_status st;

    wire_error_reset(err, 0);
    if (!out || (!buf && len))
        return HFX_E_INVALID;
    if (len < HFX_HEADER_SIZE)
        return HFX_INCOMPLETE;
    rd_init(&r, buf, len);
    out->magic = rd_u32(&r);
    out->type = rd_u16(&r);
    out->flags = rd_u16(&r);
    out->stream = rd_u32(&r);
    out->length = rd_u32(&r);
    wire_error_reset(err, out->type);
    if (out->magic != HFX_MAGIC)
        return wire_error(err, HFX_E_BAD_MAGIC, HFX_WIRE_MAGIC, "magic", 0, out->magic, 0);
    st = check_header_rules(out->type, out->flags, out->stream, err);
    if (st != HFX_OK)
        return st;
    if (max_payload > HFX_MAX_PAYLOAD_HARD)
        max_payload = HFX_MAX_PAYLOAD_HARD;
    if (out->length > max_payload)
        return wire_error(err, HFX_E_TOO_LARGE, HFX_WIRE_OVER, "length", 12, out->length,
                          max_payload);
    return HFX_OK;
}

enum hfx_status hfx_header_decode(const uint8_t *buf, size_t len, uint32_t max_payload,
                                  struct hfx_header *out)
{
    return hfx_header_decode_ex(buf, len, max_payload, out, NULL);
}

/* Encoder names (§5.1): printable ASCII without space, so that a name can
 * be logged and matched against libavcodec names as it is. len_at and at
 * are the message offsets of name_len and of the name. */
static enum hfx_status check_name(const char *name, size_t len_at, size_t at,
                                  struct hfx_wire_error *e)
{
    size_t n = strnlen(name, HFX_MAX_NAME + 1);

    if (n > HFX_MAX_NAME)
        return wire_error(e, HFX_E_TOO_LARGE, HFX_WIRE_OVER, "name_len", len_at, n, HFX_MAX_NAME);
    for (size_t i = 0; i < n; i++) {
        if (name[i] < 0x21 || name[i] > 0x7e)
            return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_CHAR, "name", at + i, (uint8_t)name[i],
                              0);
    }
    return HFX_OK;
}

/* §5.3: plane_count sizes the plane table, so the decoder checks it before
 * reading the table (step 2) and the encoder with the other values. */
static enum hfx_status check_plane_count(uint8_t n, struct hfx_wire_error *e)
{
    if (n == 0)
        return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_ZERO, "plane_count", AT(25), 0, 0);
    if (n > HFX_MAX_PLANES)
        return wire_error(e, HFX_E_TOO_LARGE, HFX_WIRE_OVER, "plane_count", AT(25), n,
                          HFX_MAX_PLANES);
    return HFX_OK;
}

static enum hfx_status check_frame(const struct hfx_frame *f, struct hfx_wire_error *e)
{
    size_t data_at = AT(FRAME_FIXED + (size_t)PLANE_SIZE * f->plane_count);
    enum hfx_status st = check_plane_count(f->plane_count, e);

    if (st != HFX_OK)
        return st;
    switch (f->source) {
    case HFX_SOURCE_INLINE:
        /* §5.3: INLINE bytes are in the payload; a region would be a lie. */
        if (f->region != 0)
            return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NOT_ZERO, "region", AT(28), f->region,
                              0);
        return HFX_OK;
    case HFX_SOURCE_SHM: /* region 0 is the out-of-band region, §7 */
    case HFX_SOURCE_RESOURCE:
    case HFX_SOURCE_SCANOUT:
        if (f->data_len != 0)
            return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NOT_ZERO, "data", data_at, f->data_len,
                              0);
        /* RESOURCE: region is the virtio-gpu resource id, never 0. */
        if (f->source == HFX_SOURCE_RESOURCE)
            return wire_nonzero(e, HFX_E_MALFORMED, "region", AT(28), f->region);
        return HFX_OK;
    default:
        return wire_range(e, HFX_E_MALFORMED, "source", AT(24), f->source, HFX_SOURCE_INLINE,
                          HFX_SOURCE_SCANOUT);
    }
}

enum hfx_status hfx_wire_check_input(const struct hfx_input *in, struct hfx_wire_error *e)
{
    enum hfx_status st;
    unsigned wheel;

    switch (in->kind) {
    case HFX_INPUT_KEY:
        if ((st = wire_range(e, HFX_E_MALFORMED, "code", AT(4), in->code, 1, HFX_MAX_KEY_CODE)) !=
            HFX_OK)
            return st;
        return wire_range(e, HFX_E_MALFORMED, "down", AT(8), in->down, 0, 1);
    case HFX_INPUT_POINTER:
        if ((st = wire_range(e, HFX_E_MALFORMED, "x", AT(4), in->x, 0, HFX_MAX_DIMENSION - 1)) !=
                HFX_OK ||
            (st = wire_range(e, HFX_E_MALFORMED, "y", AT(8), in->y, 0, HFX_MAX_DIMENSION - 1)) !=
                HFX_OK ||
            (st = wire_range(e, HFX_E_MALFORMED, "buttons", AT(12), in->buttons, 0,
                             HFX_BUTTONS_ALL)) != HFX_OK)
            return st;
        /* Signed: checked by its size, named so the text says so. */
        wheel = (unsigned)(in->wheel < 0 ? -in->wheel : in->wheel);
        return wire_range(e, HFX_E_MALFORMED, "wheel steps (either way)", AT(14), wheel, 0,
                          HFX_MAX_WHEEL);
    default:
        return wire_range(e, HFX_E_MALFORMED, "kind", AT(0), in->kind, HFX_INPUT_KEY,
                          HFX_INPUT_POINTER);
    }
}

/* Step 4: value checks on the decoded form. The encoder runs the same
 * function, so both sides agree on what is valid. */
static enum hfx_status check_body(const struct hfx_msg *m, struct hfx_wire_error *e)
{
    enum hfx_status st;

    switch (m->hdr.type) {
    case HFX_MSG_HELLO:
        if (m->u.hello.token_len > HFX_MAX_TOKEN)
            return wire_error(e, HFX_E_TOO_LARGE, HFX_WIRE_OVER, "token_len", AT(8),
                              m->u.hello.token_len, HFX_MAX_TOKEN);
        /* Version support is the host's check (HFX_E_VERSION, §4); an
         * empty range is malformed whatever the host supports. */
        return wire_range(e, HFX_E_MALFORMED, "min_version", AT(0), m->u.hello.min_version, 0,
                          m->u.hello.max_version);
    case HFX_MSG_WELCOME: {
        const struct hfx_welcome *w = &m->u.welcome;
        if ((st = wire_range(e, HFX_E_MALFORMED, "max_payload", AT(8), w->max_payload,
                             HFX_MAX_PAYLOAD_HANDSHAKE, HFX_MAX_PAYLOAD_HARD)) != HFX_OK ||
            (st = wire_range(e, HFX_E_MALFORMED, "max_streams", AT(12), w->max_streams, 1,
                             HFX_MAX_STREAMS)) != HFX_OK)
            return st;
        return wire_range(e, HFX_E_MALFORMED, "window", AT(14), w->window, 1, HFX_MAX_WINDOW);
    }
    case HFX_MSG_ERROR:
        return wire_range(e, HFX_E_TOO_LARGE, "text_len", AT(4),
                          strnlen(m->u.error.text, HFX_MAX_TEXT + 1), 0, HFX_MAX_TEXT);
    case HFX_MSG_SHM_ATTACH:
    case HFX_MSG_SHM_ALLOC:
    case HFX_MSG_SHM_ALLOCATED:
        /* Region 0 is the out-of-band region and is never attached (§7). */
        if ((st = wire_nonzero(e, HFX_E_MALFORMED, "region", AT(0), m->u.shm_attach.region)) !=
                HFX_OK ||
            (st = wire_nonzero(e, HFX_E_MALFORMED, "size", AT(8), m->u.shm_attach.size)) != HFX_OK)
            return st;
        return wire_range(e, HFX_E_TOO_LARGE, "size", AT(8), m->u.shm_attach.size, 1,
                          HFX_MAX_SHM_SIZE);
    case HFX_MSG_SHM_DETACH:
        return wire_nonzero(e, HFX_E_MALFORMED, "region", AT(0), m->u.shm_detach.region);
    case HFX_MSG_CONFIGURE:
        return check_name(m->u.configure.encoder, AT(40), AT(CONFIGURE_FIXED), e);
    case HFX_MSG_CONFIGURED:
        if (m->u.configured.extradata_len > HFX_MAX_EXTRADATA)
            return wire_error(e, HFX_E_TOO_LARGE, HFX_WIRE_OVER, "extradata_len", AT(16),
                              m->u.configured.extradata_len, HFX_MAX_EXTRADATA);
        return check_name(m->u.configured.encoder, AT(14), AT(CONFIGURED_FIXED), e);
    case HFX_MSG_FRAME:
        return check_frame(&m->u.frame, e);
    case HFX_MSG_PACKET:
        return wire_nonzero(e, HFX_E_MALFORMED, "data", AT(PACKET_FIXED), m->u.packet.data_len);
    case HFX_MSG_FRAME_DROPPED:
        return wire_range(e, HFX_E_MALFORMED, "reason", AT(8), m->u.dropped.reason,
                          HFX_DROP_QUEUE_FULL, HFX_DROP_SOURCE);
    case HFX_MSG_SET_BITRATE:
        return wire_range(e, HFX_E_MALFORMED, "kbps", AT(0), m->u.set_bitrate.kbps, 1,
                          HFX_MAX_BITRATE_KBPS);
    case HFX_MSG_SUBSCRIBE:
        if ((st = wire_range(e, HFX_E_MALFORMED, "max_fps", AT(4), m->u.subscribe.max_fps, 1,
                             HFX_MAX_SCANOUT_FPS)) != HFX_OK)
            return st;
        if (m->u.subscribe.keepalive_ms == 0)
            return HFX_OK;
        return wire_range(e, HFX_E_MALFORMED, "keepalive_ms", AT(6), m->u.subscribe.keepalive_ms,
                          HFX_MIN_KEEPALIVE_MS, HFX_MAX_KEEPALIVE_MS);
    case HFX_MSG_INPUT:
        return hfx_wire_check_input(&m->u.input, e);
    default:
        return HFX_OK;
    }
}

/* End of step 1 (and of step 2's reserved checks): short input first.
 * fixed is the size of the fixed part that the caller has just read. */
static enum hfx_status fixed_done(const struct hfx_reader *r, size_t fixed,
                                  struct hfx_wire_error *e)
{
    if (r->failed)
        return wire_error(e, HFX_E_TRUNCATED, HFX_WIRE_SHORT, "payload", AT(0), r->size, fixed);
    if (r->rsvd_bad)
        return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NOT_ZERO, "rsvd", AT(r->rsvd_at),
                          r->rsvd_val, 0);
    return HFX_OK;
}

/* Step 3, last part: nothing after what the length fields announced. */
static enum hfx_status no_more(const struct hfx_reader *r, struct hfx_wire_error *e)
{
    if (r->left == 0)
        return HFX_OK;
    return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_LEFT_OVER, "payload", AT(rd_pos(r)), r->left,
                      0);
}

/* Steps 1 to 3 for a fixed-size message. */
static enum hfx_status fixed_only(const struct hfx_reader *r, size_t size,
                                  struct hfx_wire_error *e)
{
    enum hfx_status st = fixed_done(r, size, e);
    return st != HFX_OK ? st : no_more(r, e);
}

/* Step 3: borrow the len bytes that the length field `field` (at message
 * offset at) announced; fewer left is the field's lie. */
static enum hfx_status counted(struct hfx_reader *r, const char *field, size_t at, size_t len,
                               const uint8_t **out, struct hfx_wire_error *e)
{
    size_t left = r->left;

    if (rd_bytes(r, out, len))
        return HFX_OK;
    return wire_error(e, HFX_E_TRUNCATED, HFX_WIRE_PAST_END, field, at, len, left);
}

/* Steps 1 to 3 for a message whose variable part is one counted field of
 * len bytes (at most max) after a fixed part of `fixed` bytes: *out
 * borrows it. */
static enum hfx_status counted_tail(struct hfx_reader *r, size_t fixed, const char *field,
                                    size_t at, size_t len, size_t max, const uint8_t **out,
                                    struct hfx_wire_error *e)
{
    enum hfx_status st = fixed_done(r, fixed, e);

    if (st != HFX_OK)
        return st;
    if (len > max)
        return wire_error(e, HFX_E_TOO_LARGE, HFX_WIRE_OVER, field, at, len, max);
    st = counted(r, field, at, len, out, e);
    return st != HFX_OK ? st : no_more(r, e);
}

/* Copy len text bytes (at message offset at) into a NUL-terminated buffer
 * of at least len + 1. A NUL inside would make the decoded text differ
 * from the wire (§5). */
static enum hfx_status copy_text(char *dst, const uint8_t *src, size_t len, const char *field,
                                 size_t at, struct hfx_wire_error *e)
{
    const uint8_t *nul = len ? memchr(src, 0, len) : NULL;

    if (nul)
        return wire_error(e, HFX_E_MALFORMED, HFX_WIRE_NUL, field, at + (size_t)(nul - src), 0, 0);
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
    return HFX_OK;
}

static enum hfx_status decode_hello(struct hfx_reader *r, struct hfx_hello *h,
                                    struct hfx_wire_error *e)
{
    const uint8_t *token;
    enum hfx_status st;

    h->min_version = rd_u16(r);
    h->max_version = rd_u16(r);
    h->caps = rd_u32(r);
    h->token_len = rd_u16(r);
    rd_skip_zero(r, 2);
    st = counted_tail(r, HELLO_FIXED, "token_len", AT(8), h->token_len, HFX_MAX_TOKEN, &token, e);
    if (st != HFX_OK)
        return st;
    if (h->token_len)
        memcpy(h->token, token, h->token_len);
    return HFX_OK;
}

static enum hfx_status decode_welcome(struct hfx_reader *r, struct hfx_welcome *w,
                                      struct hfx_wire_error *e)
{
    w->version = rd_u16(r);
    rd_skip_zero(r, 2);
    w->caps = rd_u32(r);
    w->max_payload = rd_u32(r);
    w->max_streams = rd_u16(r);
    w->window = rd_u16(r);
    return fixed_only(r, WELCOME_SIZE, e);
}

static enum hfx_status decode_error(struct hfx_reader *r, struct hfx_error *m,
                                    struct hfx_wire_error *e)
{
    const uint8_t *text;
    enum hfx_status st;
    uint16_t text_len;

    m->code = rd_u32(r);
    text_len = rd_u16(r);
    rd_skip_zero(r, 2);
    st = counted_tail(r, ERROR_FIXED, "text_len", AT(4), text_len, HFX_MAX_TEXT, &text, e);
    if (st != HFX_OK)
        return st;
    return copy_text(m->text, text, text_len, "text", AT(ERROR_FIXED), e);
}

static enum hfx_status decode_shm_attach(struct hfx_reader *r, struct hfx_shm_attach *a,
                                         struct hfx_wire_error *e)
{
    a->region = rd_u32(r);
    rd_skip_zero(r, 4);
    a->size = rd_u64(r);
    return fixed_only(r, SHM_ATTACH_SIZE, e);
}

/* SHM_DETACH, SET_BITRATE: one u32 then four reserved bytes. */
_Static_assert(SHM_DETACH_SIZE == SET_BITRATE_SIZE, "decode_u32_pad serves both");
static enum hfx_status decode_u32_pad(struct hfx_reader *r, uint32_t *v, struct hfx_wire_error *e)
{
    *v = rd_u32(r);
    rd_skip_zero(r, 4);
    return fixed_only(r, SET_BITRATE_SIZE, e);
}

static enum hfx_status decode_configure(struct hfx_reader *r, struct hfx_configure *c,
                                        struct hfx_wire_error *e)
{
    const uint8_t *name;
    enum hfx_status st;
    uint8_t name_len;

    c->codec = rd_u32(r);
    c->width = rd_u32(r);
    c->height = rd_u32(r);
    c->fourcc = rd_u32(r);
    c->fps_num = rd_u32(r);
    c->fps_den = rd_u32(r);
    c->bitrate_kbps = rd_u32(r);
    c->rate_control = rd_u8(r);
    c->profile = rd_u8(r);
    c->latency = rd_u8(r);
    c->quality = rd_u8(r);
    c->keyint_frames = rd_u32(r);
    c->keyint_ms = rd_u32(r);
    name_len = rd_u8(r);
    rd_skip_zero(r, 3);
    st = counted_tail(r, CONFIGURE_FIXED, "name_len", AT(40), name_len, HFX_MAX_NAME, &name, e);
    if (st != HFX_OK)
        return st;
    return copy_text(c->encoder, name, name_len, "name", AT(CONFIGURE_FIXED), e);
}

static enum hfx_status decode_configured(struct hfx_reader *r, struct hfx_configured *c,
                                         struct hfx_wire_error *e)
{
    const uint8_t *name;
    enum hfx_status st;
    uint8_t name_len;

    c->codec = rd_u32(r);
    c->width = rd_u32(r);
    c->height = rd_u32(r);
    c->profile_idc = rd_u8(r);
    c->level_idc = rd_u8(r);
    name_len = rd_u8(r);
    rd_skip_zero(r, 1);
    c->extradata_len = rd_u32(r);
    if ((st = fixed_done(r, CONFIGURED_FIXED, e)) != HFX_OK ||
        (st = wire_range(e, HFX_E_TOO_LARGE, "name_len", AT(14), name_len, 0, HFX_MAX_NAME)) !=
            HFX_OK ||
        (st = wire_range(e, HFX_E_TOO_LARGE, "extradata_len", AT(16), c->extradata_len, 0,
                         HFX_MAX_EXTRADATA)) != HFX_OK ||
        (st = counted(r, "name_len", AT(14), name_len, &name, e)) != HFX_OK ||
        (st = counted(r, "extradata_len", AT(16), c->extradata_len, &c->extradata, e)) != HFX_OK ||
        (st = no_more(r, e)) != HFX_OK)
        return st;
    return copy_text(c->encoder, name, name_len, "name", AT(CONFIGURED_FIXED), e);
}

static enum hfx_status decode_frame(struct hfx_reader *r, struct hfx_frame *f,
                                    struct hfx_wire_error *e)
{
    enum hfx_status st;
    size_t left;

    f->frame_id = rd_u64(r);
    f->pts = rd_i64(r);
    f->duration = rd_u64(r);
    f->source = rd_u8(r);
    f->plane_count = rd_u8(r);
    rd_skip_zero(r, 2);
    f->region = rd_u32(r);
    if ((st = fixed_done(r, FRAME_FIXED, e)) != HFX_OK ||
        (st = check_plane_count(f->plane_count, e)) != HFX_OK)
        return st;
    left = r->left;
    for (unsigned i = 0; i < f->plane_count; i++) {
        f->planes[i].offset = rd_u64(r);
        f->planes[i].stride = rd_u32(r);
        rd_skip_zero(r, 4);
    }
    /* A plane table longer than the payload: plane_count lies (step 3). */
    if (r->failed)
        return wire_error(e, HFX_E_TRUNCATED, HFX_WIRE_PAST_END, "plane_count", AT(25),
                          f->plane_count, left);
    if ((st = fixed_done(r, FRAME_FIXED, e)) != HFX_OK)
        return st;
    /* The data is the rest of the payload, so there are no trailing bytes. */
    f->data_len = r->left;
    rd_bytes(r, &f->data, r->left);
    return HFX_OK;
}

static enum hfx_status decode_packet(struct hfx_reader *r, struct hfx_packet *p,
                                     struct hfx_wire_error *e)
{
    p->frame_id = rd_u64(r);
    p->pts = rd_i64(r);
    p->dts = rd_i64(r);
    if (r->failed)
        return fixed_done(r, PACKET_FIXED, e);
    /* An access unit has at least one byte: a shorter payload is short. */
    if (r->left == 0)
        return wire_error(e, HFX_E_TRUNCATED, HFX_WIRE_ZERO, "data", AT(PACKET_FIXED), 0, 0);
    p->data_len = r->left;
    rd_bytes(r, &p->data, r->left);
    return HFX_OK;
}

static enum hfx_status decode_dropped(struct hfx_reader *r, struct hfx_frame_dropped *d,
                                      struct hfx_wire_error *e)
{
    d->frame_id = rd_u64(r);
    d->reason = rd_u32(r);
    rd_skip_zero(r, 4);
    return fixed_only(r, DROPPED_SIZE, e);
}

/* §5.18: bytes 4..15 are the kind's; a KEY's last four are reserved. */
static enum hfx_status decode_input(struct hfx_reader *r, struct hfx_input *in,
                                    struct hfx_wire_error *e)
{
    in->kind = rd_u16(r);
    rd_skip_zero(r, 2);
    if (in->kind == HFX_INPUT_KEY) {
        in->code = rd_u32(r);
        in->down = rd_u32(r);
        rd_skip_zero(r, 4);
    } else {
        in->x = rd_u32(r);
        in->y = rd_u32(r);
        in->buttons = rd_u16(r);
        in->wheel = (int16_t)rd_u16(r);
    }
    return fixed_only(r, INPUT_SIZE, e);
}

static enum hfx_status decode_body(struct hfx_reader *r, struct hfx_msg *m,
                                   struct hfx_wire_error *e)
{
    switch (m->hdr.type) {
    case HFX_MSG_HELLO:
        return decode_hello(r, &m->u.hello, e);
    case HFX_MSG_WELCOME:
        return decode_welcome(r, &m->u.welcome, e);
    case HFX_MSG_PING:
    case HFX_MSG_PONG:
        m->u.ping.cookie = rd_u64(r);
        return fixed_only(r, PING_SIZE, e);
    case HFX_MSG_ERROR:
        return decode_error(r, &m->u.error, e);
    case HFX_MSG_SHM_ATTACH:
    case HFX_MSG_SHM_ALLOC:
    case HFX_MSG_SHM_ALLOCATED:
        return decode_shm_attach(r, &m->u.shm_attach, e);
    case HFX_MSG_SHM_DETACH:
        return decode_u32_pad(r, &m->u.shm_detach.region, e);
    case HFX_MSG_CONFIGURE:
        return decode_configure(r, &m->u.configure, e);
    case HFX_MSG_CONFIGURED:
        return decode_configured(r, &m->u.configured, e);
    case HFX_MSG_FRAME:
        return decode_frame(r, &m->u.frame, e);
    case HFX_MSG_PACKET:
        return decode_packet(r, &m->u.packet, e);
    case HFX_MSG_FRAME_DROPPED:
        return decode_dropped(r, &m->u.dropped, e);
    case HFX_MSG_SET_BITRATE:
        return decode_u32_pad(r, &m->u.set_bitrate.kbps, e);
    case HFX_MSG_SUBSCRIBE:
        m->u.subscribe.scanout = rd_u32(r);
        m->u.subscribe.max_fps = rd_u16(r);
        m->u.subscribe.keepalive_ms = rd_u16(r);
        rd_skip_zero(r, 8);
        return fixed_only(r, SUBSCRIBE_SIZE, e);
    case HFX_MSG_INPUT:
        return decode_input(r, &m->u.input, e);
    default:
        /* BYE, REQUEST_KEYFRAME, FLUSH, FLUSHED, CLOSE: empty payload. */
        return no_more(r, e);
    }
}

enum hfx_status hfx_msg_decode_payload_ex(const struct hfx_header *hdr, const uint8_t *payload,
                                          size_t payload_len, struct hfx_msg *out,
                                          struct hfx_wire_error *err)
{
    struct hfx_reader r;
    enum hfx_status st;

    wire_error_reset(err, hdr ? hdr->type : 0);
    if (!hdr || !out || (!payload && payload_len) || payload_len != hdr->length)
        return HFX_E_INVALID;
    memset(out, 0, sizeof(*out));
    out->hdr = *hdr;
    /* The header may not come from hfx_header_decode: the type decides how
     * the payload is read, so check it again. */
    st = check_header_rules(hdr->type, hdr->flags, hdr->stream, err);
    if (st != HFX_OK)
        return st;
    rd_init(&r, payload, payload_len);
    st = decode_body(&r, out, err);
    if (st != HFX_OK)
        return st;
    return check_body(out, err);
}

enum hfx_status hfx_msg_decode_payload(const struct hfx_header *hdr, const uint8_t *payload,
                                       size_t payload_len, struct hfx_msg *out)
{
    return hfx_msg_decode_payload_ex(hdr, payload, payload_len, out, NULL);
}

/* §8: the ERROR text. Header fields are named as the header's: the type
 * in it may be the very thing that is wrong. */
size_t hfx_wire_error_format(const struct hfx_wire_error *err, enum hfx_status st, char *out,
                             size_t cap)
{
    static const struct hfx_wire_error none = {0};
    static const char *const word[] = {
        [HFX_WIRE_OVER] = " over",
        [HFX_WIRE_UNDER] = " under",
        [HFX_WIRE_NOT] = ", not",
        [HFX_WIRE_ZERO] = ", must not be 0",
        [HFX_WIRE_NOT_ZERO] = ", must be 0",
        [HFX_WIRE_ODD] = ", odd",
        [HFX_WIRE_MAGIC] = ", not HFX1",
        [HFX_WIRE_UNKNOWN] = ", unknown",
    };
    const struct hfx_wire_error *e = err ? err : &none;
    const char *msg = e->fault != HFX_WIRE_NONE && e->offset < HFX_HEADER_SIZE
                          ? "header"
                          : hfx_msg_type_name(e->type);
    const char *f = e->field ? e->field : "?";
    unsigned long long v = e->value, lim = e->limit;
    size_t o = e->offset;
    int n;

    switch (e->fault) {
    case HFX_WIRE_OVER:
    case HFX_WIRE_UNDER:
    case HFX_WIRE_NOT:
        n = snprintf(out, cap, "%s: %s %llu at offset %zu%s %llu", msg, f, v, o, word[e->fault],
                     lim);
        break;
    case HFX_WIRE_ZERO:
    case HFX_WIRE_NOT_ZERO:
    case HFX_WIRE_ODD:
        n = snprintf(out, cap, "%s: %s %llu at offset %zu%s", msg, f, v, o, word[e->fault]);
        break;
    case HFX_WIRE_MAGIC:
    case HFX_WIRE_UNKNOWN:
        n = snprintf(out, cap, "%s: %s 0x%0*llx at offset %zu%s", msg, f,
                     e->fault == HFX_WIRE_MAGIC ? 8 : 4, v, o, word[e->fault]);
        break;
    case HFX_WIRE_FLAGS:
        n = snprintf(out, cap, "%s: %s 0x%04llx at offset %zu, allowed 0x%04llx", msg, f, v, o,
                     lim);
        break;
    case HFX_WIRE_SHORT:
        n = snprintf(out, cap,
                     "%s: %s %llu bytes at offset %zu, shorter than its %llu-byte fixed part", msg,
                     f, v, o, lim);
        break;
    case HFX_WIRE_PAST_END:
        n = snprintf(out, cap, "%s: %s %llu at offset %zu, only %llu bytes left", msg, f, v, o,
                     lim);
        break;
    case HFX_WIRE_LEFT_OVER:
        n = snprintf(out, cap, "%s: %llu byte%s left over at offset %zu", msg, v,
                     v == 1 ? "" : "s", o);
        break;
    case HFX_WIRE_NUL:
        n = snprintf(out, cap, "%s: NUL in %s at offset %zu", msg, f, o);
        break;
    case HFX_WIRE_CHAR:
        n = snprintf(out, cap, "%s: %s byte 0x%02llx at offset %zu, not printable", msg, f, v, o);
        break;
    case HFX_WIRE_ENDS_PAST:
        n = snprintf(out, cap, "%s: %s at offset %zu ends at %llu, past %llu", msg, f, o, v, lim);
        break;
    default:
        n = snprintf(out, cap, "%s: %s", msg, hfx_strerror(st));
        break;
    }
    return n < 0 ? 0 : (size_t)n;
}

enum hfx_status hfx_msg_decode(const uint8_t *buf, size_t len, uint32_t max_payload,
                               struct hfx_msg *out, size_t *consumed)
{
    struct hfx_header hdr;
    enum hfx_status st;

    if (!out || !consumed || (!buf && len))
        return HFX_E_INVALID;
    st = hfx_header_decode(buf, len, max_payload, &hdr);
    if (st != HFX_OK)
        return st;
    if (len - HFX_HEADER_SIZE < hdr.length)
        return HFX_INCOMPLETE;
    st = hfx_msg_decode_payload(&hdr, buf + HFX_HEADER_SIZE, hdr.length, out);
    if (st == HFX_OK)
        *consumed = (size_t)HFX_HEADER_SIZE + hdr.length;
    return st;
}

static void encode_input(struct hfx_writer *w, const struct hfx_input *in)
{
    wr_u16(w, in->kind);
    wr_zero(w, 2);
    if (in->kind == HFX_INPUT_KEY) {
        wr_u32(w, in->code);
        wr_u32(w, in->down);
        wr_zero(w, 4);
    } else {
        wr_u32(w, in->x);
        wr_u32(w, in->y);
        wr_u16(w, in->buttons);
        wr_u16(w, (uint16_t)in->wheel);
    }
}

static void encode_body(struct hfx_writer *w, const struct hfx_msg *m)
{
    switch (m->hdr.type) {
    case HFX_MSG_HELLO:
        wr_u16(w, m->u.hello.min_version);
        wr_u16(w, m->u.hello.max_version);
        wr_u32(w, m->u.hello.caps);
        wr_u16(w, m->u.hello.token_len);
        wr_zero(w, 2);
        wr_bytes(w, m->u.hello.token, m->u.hello.token_len);
        break;
    case HFX_MSG_WELCOME:
        wr_u16(w, m->u.welcome.version);
        wr_zero(w, 2);
        wr_u32(w, m->u.welcome.caps);
        wr_u32(w, m->u.welcome.max_payload);
        wr_u16(w, m->u.welcome.max_streams);
        wr_u16(w, m->u.welcome.window);
        break;
    case HFX_MSG_PING:
    case HFX_MSG_PONG:
        wr_u64(w, m->u.ping.cookie);
        break;
    case HFX_MSG_ERROR: {
        size_t n = strlen(m->u.error.text);
        wr_u32(w, m->u.error.code);
        wr_u16(w, (uint16_t)n);
        wr_zero(w, 2);
        wr_bytes(w, m->u.error.text, n);
        break;
    }
    case HFX_MSG_SHM_ATTACH:
    case HFX_MSG_SHM_ALLOC:
    case HFX_MSG_SHM_ALLOCATED:
        wr_u32(w, m->u.shm_attach.region);
        wr_zero(w, 4);
        wr_u64(w, m->u.shm_attach.size);
        break;
    case HFX_MSG_SHM_DETACH:
        wr_u32(w, m->u.shm_detach.region);
        wr_zero(w, 4);
        break;
    case HFX_MSG_CONFIGURE: {
        const struct hfx_configure *c = &m->u.configure;
        wr_u32(w, c->codec);
        wr_u32(w, c->width);
        wr_u32(w, c->height);
        wr_u32(w, c->fourcc);
        wr_u32(w, c->fps_num);
        wr_u32(w, c->fps_den);
        wr_u32(w, c->bitrate_kbps);
        wr_u8(w, c->rate_control);
        wr_u8(w, c->profile);
        wr_u8(w, c->latency);
        wr_u8(w, c->quality);
        wr_u32(w, c->keyint_frames);
        wr_u32(w, c->keyint_ms);
        wr_u8(w, (uint8_t)strlen(c->encoder)); /* bounded by check_name() */
        wr_zero(w, 3);
        wr_bytes(w, c->encoder, strlen(c->encoder));
        break;
    }
    case HFX_MSG_CONFIGURED: {
        const struct hfx_configured *c = &m->u.configured;
        wr_u32(w, c->codec);
        wr_u32(w, c->width);
        wr_u32(w, c->height);
        wr_u8(w, c->profile_idc);
        wr_u8(w, c->level_idc);
        wr_u8(w, (uint8_t)strlen(c->encoder)); /* bounded by check_name() */
        wr_zero(w, 1);
        wr_u32(w, c->extradata_len);
        wr_bytes(w, c->encoder, strlen(c->encoder));
        wr_bytes(w, c->extradata, c->extradata_len);
        break;
    }
    case HFX_MSG_FRAME: {
        const struct hfx_frame *f = &m->u.frame;
        wr_u64(w, f->frame_id);
        wr_i64(w, f->pts);
        wr_u64(w, f->duration);
        wr_u8(w, f->source);
        wr_u8(w, f->plane_count);
        wr_zero(w, 2);
        wr_u32(w, f->region);
        for (unsigned i = 0; i < f->plane_count; i++) {
            wr_u64(w, f->planes[i].offset);
            wr_u32(w, f->planes[i].stride);
            wr_zero(w, 4);
        }
        break;
    }
    case HFX_MSG_PACKET:
        wr_u64(w, m->u.packet.frame_id);
        wr_i64(w, m->u.packet.pts);
        wr_i64(w, m->u.packet.dts);
        break;
    case HFX_MSG_FRAME_DROPPED:
        wr_u64(w, m->u.dropped.frame_id);
        wr_u32(w, m->u.dropped.reason);
        wr_zero(w, 4);
        break;
    case HFX_MSG_SET_BITRATE:
        wr_u32(w, m->u.set_bitrate.kbps);
        wr_zero(w, 4);
        break;
    case HFX_MSG_SUBSCRIBE:
        wr_u32(w, m->u.subscribe.scanout);
        wr_u16(w, m->u.subscribe.max_fps);
        wr_u16(w, m->u.subscribe.keepalive_ms);
        wr_zero(w, 8);
        break;
    case HFX_MSG_INPUT:
        encode_input(w, &m->u.input);
        break;
    default:
        break;
    }
}

enum hfx_status hfx_msg_encode(const struct hfx_msg *msg, size_t tail_len, uint8_t *out,
                               size_t cap, size_t *written)
{
    struct hfx_msg m;
    struct hfx_writer w;
    uint64_t length;
    size_t body;

    if (!msg || !written || (!out && cap))
        return HFX_E_INVALID;
    *written = 0;
    if (check_header_rules(msg->hdr.type, msg->hdr.flags, msg->hdr.stream, NULL) != HFX_OK)
        return HFX_E_INVALID;
    /* Validate the message as the decoder will see it: with the tail as
     * its data. */
    m = *msg;
    if (m.hdr.type == HFX_MSG_FRAME)
        m.u.frame.data_len = tail_len;
    else if (m.hdr.type == HFX_MSG_PACKET)
        m.u.packet.data_len = tail_len;
    else if (tail_len != 0)
        return HFX_E_INVALID;
    if (check_body(&m, NULL) != HFX_OK)
        return HFX_E_INVALID;
    if (m.hdr.type == HFX_MSG_CONFIGURED && m.u.configured.extradata_len &&
        !m.u.configured.extradata)
        return HFX_E_INVALID;

    if (cap < HFX_HEADER_SIZE)
        return HFX_E_TOO_LARGE;
    wr_init(&w, out + HFX_HEADER_SIZE, cap - HFX_HEADER_SIZE);
    encode_body(&w, &m);
    if (w.overflow)
        return HFX_E_TOO_LARGE;
    body = (size_t)(w.p - (out + HFX_HEADER_SIZE));
    /* Widen before adding: tail_len is the caller's and may be huge. */
    length = (uint64_t)body + (uint64_t)tail_len;
    if (length > HFX_MAX_PAYLOAD_HARD || tail_len > HFX_MAX_PAYLOAD_HARD)
        return HFX_E_TOO_LARGE;

    wr_init(&w, out, HFX_HEADER_SIZE);
    wr_u32(&w, HFX_MAGIC);
    wr_u16(&w, m.hdr.type);
    wr_u16(&w, m.hdr.flags);
    wr_u32(&w, m.hdr.stream);
    wr_u32(&w, (uint32_t)length);
    *written = HFX_HEADER_SIZE + body;
    return HFX_OK;
}
