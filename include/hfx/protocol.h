/* SPDX-License-Identifier: MIT */
/*
 * hfx protocol version 1: constants, the decoded (in-memory) form of every
 * message, and the codec between that form and wire bytes.
 *
 * docs/protocol.md is the normative text; section numbers below refer to it.
 * The wire is little-endian and encoded field by field: the structs here are
 * never written to or overlaid on the wire.
 */
#ifndef HFX_PROTOCOL_H
#define HFX_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFX_MAGIC 0x31584648u /* "HFX1" as little-endian bytes */
#define HFX_PROTOCOL_VERSION 1
#define HFX_HEADER_SIZE 16

/* §2: a payload over the negotiated maximum is an error; no peer may
 * negotiate above this. */
#define HFX_MAX_PAYLOAD_HARD (64u * 1024u * 1024u)
/* Payload limit before WELCOME has set one: HELLO and WELCOME are small. */
#define HFX_MAX_PAYLOAD_HANDSHAKE 4096u

#define HFX_DEFAULT_WINDOW 4
#define HFX_MAX_WINDOW 64
#define HFX_MAX_TOKEN 256
#define HFX_MAX_TEXT 1024
#define HFX_MAX_NAME 31 /* encoder name bytes, without terminator */
#define HFX_MAX_EXTRADATA 8192
#define HFX_MAX_DIMENSION 8192
#define HFX_MAX_PLANES 3
#define HFX_MAX_STREAMS 64
#define HFX_MAX_SHM_SIZE (1ull << 34) /* 16 GiB per region */
#define HFX_MAX_BITRATE_KBPS 1000000u
#define HFX_MAX_STRIDE (1u << 20)
/* SUBSCRIBE (§5.17): pictures per second, and the keep-alive interval. */
#define HFX_MAX_SCANOUT_FPS 240u
#define HFX_MIN_KEEPALIVE_MS 10u
#define HFX_MAX_KEEPALIVE_MS 60000u
#define HFX_DEFAULT_KEEPALIVE_MS 1000u
/* INPUT (§5.18): the highest key code (Linux's KEY_MAX) and wheel steps. */
#define HFX_MAX_KEY_CODE 0x2ffu
#define HFX_MAX_WHEEL 16
/* §5.1: fps_num and fps_den fit a signed 32-bit rational (what encoders
 * take). */
#define HFX_MAX_FPS_TERM 2147483647u

/* Largest encoded header + fixed part of any message, i.e. everything but
 * a FRAME's inline data or a PACKET's access unit. */
#define HFX_MAX_HEAD (HFX_HEADER_SIZE + 32 + HFX_MAX_NAME + HFX_MAX_EXTRADATA)

/* §3 message types. */
enum hfx_msg_type {
    HFX_MSG_HELLO = 0x0001,
    HFX_MSG_WELCOME = 0x0002,
    HFX_MSG_PING = 0x0003,
    HFX_MSG_PONG = 0x0004,
    HFX_MSG_ERROR = 0x0005,
    HFX_MSG_BYE = 0x0006,
    HFX_MSG_SHM_ATTACH = 0x0007,
    HFX_MSG_SHM_DETACH = 0x0008,
    HFX_MSG_SHM_ALLOC = 0x0009,
    HFX_MSG_SHM_ALLOCATED = 0x000A,
    HFX_MSG_CONFIGURE = 0x0100,
    HFX_MSG_CONFIGURED = 0x0101,
    HFX_MSG_FRAME = 0x0102,
    HFX_MSG_PACKET = 0x0103,
    HFX_MSG_FRAME_DROPPED = 0x0104,
    HFX_MSG_REQUEST_KEYFRAME = 0x0105,
    HFX_MSG_SET_BITRATE = 0x0106,
    HFX_MSG_FLUSH = 0x0107,
    HFX_MSG_FLUSHED = 0x0108,
    HFX_MSG_CLOSE = 0x0109,
    HFX_MSG_SUBSCRIBE = 0x010A,
    HFX_MSG_INPUT = 0x010B,
};

/* Header flags; every other bit must be zero (§2). */
#define HFX_FRAME_FLAG_FORCE_KEYFRAME 0x0001u
#define HFX_PACKET_FLAG_KEYFRAME 0x0001u

/* Capability bits, HELLO and WELCOME (§4). */
#define HFX_CAP_INLINE 0x00000001u
#define HFX_CAP_SHM_FD 0x00000002u   /* memfd passed with SCM_RIGHTS */
#define HFX_CAP_SHM_FILE 0x00000004u /* region shared out of band (ivshmem) */
#define HFX_CAP_RESOURCE 0x00000008u
#define HFX_CAP_SCANOUT 0x00000010u
#define HFX_CAP_INPUT 0x00000020u /* INPUT on subscribed streams (§5.18) */
#define HFX_CAP_SHM_ALLOC 0x00000040u /* host-made memory over SCM_RIGHTS (§7.2) */
#define HFX_CAP_ALL_V1 0x0000007fu

enum hfx_codec {
    HFX_CODEC_H264 = 1,
    HFX_CODEC_HEVC = 2,
    HFX_CODEC_AV1 = 3,
};

#define HFX_FOURCC(a, b, c, d)                                                                    \
    ((uint32_t)(uint8_t)(a) | ((uint32_t)(uint8_t)(b) << 8) | ((uint32_t)(uint8_t)(c) << 16) |    \
     ((uint32_t)(uint8_t)(d) << 24))

/* Input formats, named as GStreamer names them (byte order in memory). */
#define HFX_FORMAT_NV12 HFX_FOURCC('N', 'V', '1', '2')
#define HFX_FORMAT_I420 HFX_FOURCC('I', '4', '2', '0')
#define HFX_FORMAT_BGRX HFX_FOURCC('B', 'G', 'R', 'x')
#define HFX_FORMAT_BGRA HFX_FOURCC('B', 'G', 'R', 'A')
#define HFX_FORMAT_RGBX HFX_FOURCC('R', 'G', 'B', 'x')
#define HFX_FORMAT_RGBA HFX_FOURCC('R', 'G', 'B', 'A')

enum hfx_rate_control {
    HFX_RC_ABR = 0, /* average bitrate */
    HFX_RC_CBR = 1,
    HFX_RC_CQP = 2, /* constant quality, `quality` is the QP / CRF */
};

enum hfx_profile {
    HFX_PROFILE_AUTO = 0,
    HFX_PROFILE_BASELINE = 1, /* constrained baseline */
    HFX_PROFILE_MAIN = 2,
    HFX_PROFILE_HIGH = 3,
};

enum hfx_latency {
    HFX_LATENCY_LOWEST = 0,
    HFX_LATENCY_BALANCED = 1,
    HFX_LATENCY_QUALITY = 2,
};

enum hfx_frame_source {
    HFX_SOURCE_INLINE = 1,
    HFX_SOURCE_SHM = 2,
    HFX_SOURCE_RESOURCE = 3,
    HFX_SOURCE_SCANOUT = 4,
};

enum hfx_drop_reason {
    HFX_DROP_QUEUE_FULL = 1, /* encoding fell behind: oldest pending dropped */
    HFX_DROP_ENCODER = 2,    /* the encoder failed on this frame */
    HFX_DROP_CLOSED = 3,     /* stream closed or reconfigured first */
    /* The frame's source could not be read when its turn came (RESOURCE:
     * no such resource, or not the stream's picture); sent only to clients
     * that offered HFX_CAP_RESOURCE. */
    HFX_DROP_SOURCE = 4,
};

struct hfx_header {
    uint32_t magic;
    uint16_t type;
    uint16_t flags;
    uint32_t stream;
    uint32_t length;
};

struct hfx_hello {
    uint16_t min_version;
    uint16_t max_version;
    uint32_t caps;
    uint16_t token_len;
    uint8_t token[HFX_MAX_TOKEN];
};

struct hfx_welcome {
    uint16_t version;
    uint32_t caps;
    uint32_t max_payload;
    uint16_t max_streams;
    uint16_t window;
};

struct hfx_configure {
    uint32_t codec;  /* enum hfx_codec */
    uint32_t width;  /* even, 2..HFX_MAX_DIMENSION */
    uint32_t height; /* even, 2..HFX_MAX_DIMENSION */
    uint32_t fourcc; /* HFX_FORMAT_* */
    uint32_t fps_num;
    uint32_t fps_den;
    uint32_t bitrate_kbps;          /* 1 kbit/s = 1000 bit/s */
    uint8_t rate_control;           /* enum hfx_rate_control */
    uint8_t profile;                /* enum hfx_profile */
    uint8_t latency;                /* enum hfx_latency */
    uint8_t quality;                /* 0..51, used by HFX_RC_CQP */
    uint32_t keyint_frames;         /* 0 = encoder default */
    uint32_t keyint_ms;             /* 0 = no wall-clock interval */
    char encoder[HFX_MAX_NAME + 1]; /* "" or "auto" = host's choice */
};

struct hfx_configured {
    uint32_t codec;
    uint32_t width;
    uint32_t height;
    uint8_t profile_idc; /* from the SPS, 0 if unknown */
    uint8_t level_idc;
    char encoder[HFX_MAX_NAME + 1];
    uint32_t extradata_len;
    const uint8_t *extradata; /* Annex-B SPS/PPS; borrowed, see decode */
};

struct hfx_plane {
    uint64_t offset; /* INLINE: from the start of the data; SHM: region */
    uint32_t stride;
};

struct hfx_frame {
    uint64_t frame_id;
    int64_t pts;
    uint64_t duration;
    uint8_t source; /* enum hfx_frame_source */
    uint8_t plane_count;
    uint32_t region; /* SHM region id, 0 for INLINE */
    struct hfx_plane planes[HFX_MAX_PLANES];
    const uint8_t *data; /* INLINE pixel bytes; borrowed */
    size_t data_len;
};

struct hfx_packet {
    uint64_t frame_id;
    int64_t pts;
    int64_t dts;
    const uint8_t *data; /* one Annex-B access unit; borrowed */
    size_t data_len;
};

struct hfx_frame_dropped {
    uint64_t frame_id;
    uint32_t reason; /* enum hfx_drop_reason */
};

struct hfx_set_bitrate {
    uint32_t kbps;
};

struct hfx_ping {
    uint64_t cookie;
};

/* SUBSCRIBE (§5.17): the stream receives a scanout's pictures, encoded by
 * the host as they change. */
struct hfx_subscribe {
    uint32_t scanout;      /* the host's scanout number */
    uint16_t max_fps;      /* 1..HFX_MAX_SCANOUT_FPS */
    uint16_t keepalive_ms; /* 0 = HFX_DEFAULT_KEEPALIVE_MS, else MIN..MAX */
};

/* INPUT (§5.18): a keyboard or pointer event for a subscribed scanout. */
enum hfx_input_kind {
    HFX_INPUT_KEY = 1,
    HFX_INPUT_POINTER = 2,
};

/* POINTER buttons held. */
#define HFX_BUTTON_LEFT 0x0001u
#define HFX_BUTTON_RIGHT 0x0002u
#define HFX_BUTTON_MIDDLE 0x0004u
#define HFX_BUTTONS_ALL 0x0007u

struct hfx_input {
    uint16_t kind; /* enum hfx_input_kind */
    /* KEY: a Linux evdev key code (linux/input-event-codes.h KEY_*),
     * 1..HFX_MAX_KEY_CODE, pressed (down 1) or released (down 0). */
    uint32_t code;
    uint32_t down;
    /* POINTER: where, in pixels of the scanout's size in the stream's
     * last CONFIGURED (0..HFX_MAX_DIMENSION - 1); the HFX_BUTTON_* held
     * now; wheel steps since the last event, -HFX_MAX_WHEEL..HFX_MAX_WHEEL
     * (negative: up, away from the content's end). */
    uint32_t x, y;
    uint16_t buttons;
    int16_t wheel;
};

struct hfx_error {
    uint32_t code; /* enum hfx_status */
    char text[HFX_MAX_TEXT + 1];
};

/* SHM_ATTACH, and with the same layout SHM_ALLOC and SHM_ALLOCATED
 * (§7.2): all three are m.u.shm_attach. */
struct hfx_shm_attach {
    uint32_t region;
    uint64_t size;
};

struct hfx_shm_detach {
    uint32_t region;
};

/* A decoded message. Pointers inside (extradata, frame data, packet data)
 * borrow from the buffer that was decoded and live as long as it does. */
struct hfx_msg {
    struct hfx_header hdr;
    union {
        struct hfx_hello hello;
        struct hfx_welcome welcome;
        struct hfx_configure configure;
        struct hfx_configured configured;
        struct hfx_frame frame;
        struct hfx_packet packet;
        struct hfx_frame_dropped dropped;
        struct hfx_set_bitrate set_bitrate;
        struct hfx_subscribe subscribe;
        struct hfx_input input;
        struct hfx_ping ping; /* PING and PONG */
        struct hfx_error error;
        struct hfx_shm_attach shm_attach;
        struct hfx_shm_detach shm_detach;
    } u;
};

/* What a decoder or validator rejected, for the ERROR text (§8): which
 * message, which field, at which offset, and why (the fault). */
enum hfx_wire_fault {
    HFX_WIRE_NONE = 0,  /* nothing recorded: HFX_OK, HFX_INCOMPLETE, HFX_E_INVALID */
    HFX_WIRE_OVER,      /* value > limit */
    HFX_WIRE_UNDER,     /* value < limit */
    HFX_WIRE_NOT,       /* value != limit (a FRAME's plane count vs its format) */
    HFX_WIRE_ZERO,      /* value is 0 and must not be */
    HFX_WIRE_NOT_ZERO,  /* value is not 0 and must be (reserved, stream, region) */
    HFX_WIRE_ODD,       /* value must be even */
    HFX_WIRE_MAGIC,     /* value is not HFX_MAGIC */
    HFX_WIRE_UNKNOWN,   /* value is no known type / fourcc */
    HFX_WIRE_FLAGS,     /* value has bits outside limit, the allowed flags */
    HFX_WIRE_SHORT,     /* payload of value bytes, shorter than its limit-byte fixed part */
    HFX_WIRE_PAST_END,  /* length field says value, only limit bytes are left */
    HFX_WIRE_LEFT_OVER, /* value bytes left over at offset */
    HFX_WIRE_NUL,       /* NUL byte in a text or name at offset */
    HFX_WIRE_CHAR,      /* name byte value is not printable ASCII (§2.4) */
    HFX_WIRE_ENDS_PAST, /* a plane ends at byte value, past the limit bytes it may use */
};

struct hfx_wire_error {
    uint16_t type;             /* message type: the header's (CONFIGURE when a
                                * FRAME check fails on the stream's config) */
    enum hfx_wire_fault fault; /* HFX_WIRE_NONE when nothing was recorded */
    const char *field;         /* static, e.g. "plane_count", "planes[1].stride" */
    size_t offset;             /* of the field from the start of the message:
                                * header 0..15, payload fields at 16 + §5 offset */
    uint64_t value;            /* the offending value, when has_value */
    uint64_t limit;            /* the limit it broke, when has_limit */
    bool has_value, has_limit;
};

/* Decode and validate the 16-byte header at buf (len bytes available).
 * Returns HFX_INCOMPLETE when len < 16; HFX_E_BAD_MAGIC, HFX_E_UNKNOWN_TYPE,
 * HFX_E_BAD_FLAGS, HFX_E_TOO_LARGE (length > max_payload) or
 * HFX_E_MALFORMED (stream id not allowed for the type) on bad input. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_header_decode(const uint8_t *buf, size_t len, uint32_t max_payload, struct hfx_header *out);

/* Decode the payload of a message whose header was already decoded.
 * payload_len must equal hdr->length. Every field is checked: short or
 * trailing bytes, non-zero reserved fields, out-of-range enums and sizes over
 * the protocol maxima are rejected with the code docs/protocol.md gives.
 * Borrowed pointers in out point into payload. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_msg_decode_payload(const struct hfx_header *hdr,
                                                                 const uint8_t *payload,
                                                                 size_t payload_len,
                                                                 struct hfx_msg *out);

/* hfx_header_decode and hfx_msg_decode_payload with details: on an error
 * other than HFX_E_INVALID, *err (when err is not NULL) names the field;
 * otherwise err->fault is HFX_WIRE_NONE. Same results as the plain calls. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_header_decode_ex(const uint8_t *buf, size_t len,
                                                               uint32_t max_payload,
                                                               struct hfx_header *out,
                                                               struct hfx_wire_error *err);
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_msg_decode_payload_ex(const struct hfx_header *hdr, const uint8_t *payload, size_t payload_len,
                          struct hfx_msg *out, struct hfx_wire_error *err);

/* The ERROR text for err (§8), e.g. "FRAME: plane_count 4 at offset 41 over
 * 3"; without a recorded field (err NULL or HFX_WIRE_NONE) the message name
 * and hfx_strerror(st). Writes at most cap bytes, NUL-terminated when cap > 0
 * (out may be NULL when cap is 0); returns the full text's length, as
 * snprintf does. */
HFX_EXPORT size_t hfx_wire_error_format(const struct hfx_wire_error *err, enum hfx_status st,
                                        char *out, size_t cap);

/* Header + payload in one call: decodes one whole message from buf.
 * HFX_INCOMPLETE when buf does not yet hold it; *consumed is set only on
 * HFX_OK. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_msg_decode(const uint8_t *buf, size_t len,
                                                         uint32_t max_payload, struct hfx_msg *out,
                                                         size_t *consumed);

/* Encode msg's header and fixed part into out (cap bytes; HFX_MAX_HEAD is
 * always enough). For FRAME and PACKET the variable data (msg's data
 * pointer is ignored) follows as a tail of tail_len bytes that the caller
 * sends after these bytes; the header's length counts it. For other types
 * tail_len must be 0. msg->hdr.magic and .length are filled in by the
 * encoder; .type, .flags and .stream are taken from msg. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_msg_encode(const struct hfx_msg *msg,
                                                         size_t tail_len, uint8_t *out, size_t cap,
                                                         size_t *written);

/* Flags allowed for a message type (0 when none); 0 for unknown types. */
HFX_EXPORT uint16_t hfx_msg_allowed_flags(uint16_t type);

/* "HELLO", "FRAME", ...; "UNKNOWN" for other values. */
HFX_EXPORT const char *hfx_msg_type_name(uint16_t type);

/* Bytes per row and rows for plane `plane` of a format at width x height
 * (subsampled sizes round up). Returns false for an unknown format or plane
 * index, and when the row's byte count does not fit in 32 bits. */
HFX_EXPORT bool hfx_format_plane_size(uint32_t fourcc, uint32_t width, uint32_t height,
                                      unsigned plane, uint32_t *row_bytes, uint32_t *rows);

/* Number of planes (1..3) of a format, 0 for unknown formats. */
HFX_EXPORT unsigned hfx_format_planes(uint32_t fourcc);

/* "NV12", "BGRx", ...; NULL for unknown formats. */
HFX_EXPORT const char *hfx_format_name(uint32_t fourcc);

/* Parse a format name (case-sensitive as above, "BGRX" and "RGBX" also
 * accepted). Returns 0 for unknown names. */
HFX_EXPORT uint32_t hfx_format_from_name(const char *name);

/* Check a CONFIGURE request (§5.1): codec, even dimensions in range,
 * known format, fps, enums. The _ex variant fills *err (err may be NULL) on
 * failure with the field and its offset in the CONFIGURE message. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_configure_validate(const struct hfx_configure *cfg);
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_configure_validate_ex(const struct hfx_configure *cfg, struct hfx_wire_error *err);

/* Check a FRAME's planes against the stream's configuration (§5.3):
 * plane count, stride >= row bytes, every plane inside the data
 * (INLINE: frame->data_len; SHM: region_size). Sizes are widened to 64 bits
 * before adding. Returns HFX_E_BAD_STRIDE, HFX_E_TRUNCATED (INLINE) or
 * HFX_E_SHM_RANGE (SHM; RESOURCE against region_size too) on failure;
 * HFX_E_MALFORMED for a plane count other than the format's or a bad source;
 * HFX_E_BAD_FORMAT / HFX_E_BAD_DIMENSIONS for an unusable cfg. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_frame_validate(const struct hfx_configure *cfg,
                                                             const struct hfx_frame *frame,
                                                             uint64_t region_size);
/* The same checks; on failure *err (err may be NULL) names the field at its
 * offset in the FRAME (type CONFIGURE when cfg itself is unusable). */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_frame_validate_ex(const struct hfx_configure *cfg,
                                                                const struct hfx_frame *frame,
                                                                uint64_t region_size,
                                                                struct hfx_wire_error *err);

#ifdef __cplusplus
}
#endif

#endif /* HFX_PROTOCOL_H */
