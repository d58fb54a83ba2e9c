/* SPDX-License-Identifier: MIT */
/*
 * The wire codec against docs/protocol.md: golden byte vectors for every
 * message type (written by hand from §2 and §5, not produced by the
 * encoder), round trips, ABI pins, and one malformed case per field, each
 * followed by proof that a valid message still decodes.
 */
#include <stdint.h>
#include <string.h>

#include "hfx/protocol.h"
#include "check.h"
#include "msg-equal.h"
#include "wire-check.h"

#define LE16(v) (uint8_t)((v)&0xffu), (uint8_t)(((v) >> 8) & 0xffu)
#define LE32(v) LE16((v)&0xffffu), LE16(((v) >> 16) & 0xffffu)
#define LE64(v) LE32((uint64_t)(v)&0xffffffffu), LE32(((uint64_t)(v) >> 32) & 0xffffffffu)
/* §2: magic "HFX1", type, flags, stream, length. */
#define HDR(type, flags, stream, len)                                                             \
    'H', 'F', 'X', '1', LE16(type), LE16(flags), LE32(stream), LE32(len)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- golden vectors ---------------------------------------------------- */

/* Laid out by field, one line per group: keep clang-format off them. */
/* clang-format off */

static const uint8_t hello_bytes[] = {
    HDR(0x0001, 0, 0, 18),
    LE16(1), LE16(1), LE32(0x1f), LE16(6), LE16(0), /* min, max, caps, token_len, rsvd */
    's', '3', 'c', 'r', 'e', 't',
};
static const uint8_t welcome_bytes[] = {
    HDR(0x0002, 0, 0, 16),
    LE16(1), LE16(0), LE32(0x03), LE32(0x01000000), LE16(8), LE16(4),
};
static const uint8_t ping_bytes[] = {HDR(0x0003, 0, 0, 8), LE64(0x0123456789abcdefull)};
static const uint8_t pong_bytes[] = {HDR(0x0004, 0, 0, 8), LE64(0xfedcba9876543210ull)};
static const uint8_t error_bytes[] = {
    HDR(0x0005, 0, 3, 17),
    LE32(15), LE16(9), LE16(0), 'b', 'a', 'd', ' ', 'p', 'l', 'a', 'n', 'e',
};
static const uint8_t error_empty_bytes[] = {HDR(0x0005, 0, 0, 8), LE32(18), LE16(0), LE16(0)};
static const uint8_t bye_bytes[] = {HDR(0x0006, 0, 0, 0)};
static const uint8_t shm_attach_bytes[] = {
    HDR(0x0007, 0, 0, 16), LE32(1), LE32(0), LE64(0x100000000ull),
};
static const uint8_t shm_detach_bytes[] = {HDR(0x0008, 0, 0, 8), LE32(1), LE32(0)};
static const uint8_t configure_bytes[] = {
    HDR(0x0100, 0, 1, 51),
    LE32(1), LE32(1920), LE32(1080), 'N', 'V', '1', '2', /* codec, w, h, fourcc */
    LE32(30), LE32(1), LE32(4000),                       /* fps, bitrate */
    1, 3, 0, 23,                                         /* CBR, HIGH, LOWEST, quality */
    LE32(60), LE32(2000), 7, 0, 0, 0,                    /* keyint, name_len, rsvd */
    'l', 'i', 'b', 'x', '2', '6', '4',
};
#define SPS_PPS 0, 0, 0, 1, 0x67, 0x64, 0, 0x28, 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80
static const uint8_t sps_pps[] = {SPS_PPS};
static const uint8_t configured_bytes[] = {
    HDR(0x0101, 0, 1, 43),
    LE32(1), LE32(1920), LE32(1080), 100, 40, 7, 0, LE32(16),
    'l', 'i', 'b', 'x', '2', '6', '4', SPS_PPS,
};
/* 2x2 BGRx, stride 8. */
#define PIXELS 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 10, 11, 12, 0
static const uint8_t pixels[] = {PIXELS};
static const uint8_t frame_inline_bytes[] = {
    HDR(0x0102, 0x0001, 1, 64),
    LE64(7), LE64(0xfffffffffffffffeull), LE64(16666), /* id, pts -2, duration */
    1, 1, LE16(0), LE32(0),                            /* INLINE, 1 plane, rsvd, region */
    LE64(0), LE32(8), LE32(0),                         /* plane 0 */
    PIXELS,
};
static const uint8_t frame_shm_bytes[] = {
    HDR(0x0102, 0, 2, 64),
    LE64(8), LE64(1000), LE64(0), 2, 2, LE16(0), LE32(2), /* SHM, 2 planes, region 2 */
    LE64(0), LE32(64), LE32(0), LE64(0x1000), LE32(64), LE32(0),
};
#define AU 0, 0, 0, 1, 0x65, 0x88
static const uint8_t au[] = {AU};
static const uint8_t packet_bytes[] = {
    HDR(0x0103, 0x0001, 1, 30), LE64(7), LE64(1000), LE64(990), AU,
};
static const uint8_t dropped_bytes[] = {HDR(0x0104, 0, 1, 16), LE64(8), LE32(1), LE32(0)};
static const uint8_t request_keyframe_bytes[] = {HDR(0x0105, 0, 1, 0)};
static const uint8_t set_bitrate_bytes[] = {HDR(0x0106, 0, 1, 8), LE32(2500), LE32(0)};
static const uint8_t flush_bytes[] = {HDR(0x0107, 0, 1, 0)};
static const uint8_t flushed_bytes[] = {HDR(0x0108, 0, 1, 0)};
static const uint8_t close_bytes[] = {HDR(0x0109, 0, 0xffffffffu, 0)};
static const uint8_t subscribe_bytes[] = {
    HDR(0x010a, 0, 5, 16), LE32(0), LE16(60), LE16(500), LE32(0), LE32(0),
};
/* KEY_A (30) pressed; the pointer at (1279, 5) with left and middle held,
 * one wheel step up. */
static const uint8_t input_key_bytes[] = {
    HDR(0x010b, 0, 2, 16), LE16(1), LE16(0), LE32(30), LE32(1), LE32(0),
};
static const uint8_t input_pointer_bytes[] = {
    HDR(0x010b, 0, 2, 16), LE16(2), LE16(0), LE32(1279), LE32(5), LE16(5), LE16(0xffff),
};
static const uint8_t shm_alloc_bytes[] = {
    HDR(0x0009, 0, 0, 16), LE32(0x80000000u), LE32(0), LE64(8294400),
};
static const uint8_t shm_allocated_bytes[] = {
    HDR(0x000a, 0, 0, 16), LE32(0x80000000u), LE32(0), LE64(8294400),
};

struct golden {
    const char *name;
    const uint8_t *bytes;
    size_t len;
    size_t tail;        /* FRAME / PACKET data at the end of bytes */
    size_t min_payload; /* shorter payloads are HFX_E_TRUNCATED */
    struct hfx_msg msg; /* the decoded form */
};

#define G(name, bytes, tail, min) name, bytes, sizeof(bytes), tail, min
#define H(type, flags, stream, len) .hdr = {HFX_MAGIC, type, flags, stream, len}

static const struct golden goldens[] = {
    {G("HELLO", hello_bytes, 0, 18),
     {H(HFX_MSG_HELLO, 0, 0, 18), .u.hello = {1, 1, 0x1f, 6, "s3cret"}}},
    {G("WELCOME", welcome_bytes, 0, 16),
     {H(HFX_MSG_WELCOME, 0, 0, 16), .u.welcome = {1, 3, 0x01000000, 8, 4}}},
    {G("PING", ping_bytes, 0, 8), {H(HFX_MSG_PING, 0, 0, 8), .u.ping = {0x0123456789abcdefull}}},
    {G("PONG", pong_bytes, 0, 8), {H(HFX_MSG_PONG, 0, 0, 8), .u.ping = {0xfedcba9876543210ull}}},
    {G("ERROR", error_bytes, 0, 17), {H(HFX_MSG_ERROR, 0, 3, 17), .u.error = {15, "bad plane"}}},
    {G("ERROR empty", error_empty_bytes, 0, 8),
     {H(HFX_MSG_ERROR, 0, 0, 8), .u.error = {18, ""}}},
    {G("BYE", bye_bytes, 0, 0), {H(HFX_MSG_BYE, 0, 0, 0)}},
    {G("SHM_ATTACH", shm_attach_bytes, 0, 16),
     {H(HFX_MSG_SHM_ATTACH, 0, 0, 16), .u.shm_attach = {1, 0x100000000ull}}},
    {G("SHM_DETACH", shm_detach_bytes, 0, 8),
     {H(HFX_MSG_SHM_DETACH, 0, 0, 8), .u.shm_detach = {1}}},
    {G("CONFIGURE", configure_bytes, 0, 51),
     {H(HFX_MSG_CONFIGURE, 0, 1, 51),
      .u.configure = {HFX_CODEC_H264, 1920, 1080, HFX_FORMAT_NV12, 30, 1, 4000, HFX_RC_CBR,
                      HFX_PROFILE_HIGH, HFX_LATENCY_LOWEST, 23, 60, 2000, "libx264"}}},
    {G("CONFIGURED", configured_bytes, 0, 43),
     {H(HFX_MSG_CONFIGURED, 0, 1, 43),
      .u.configured = {HFX_CODEC_H264, 1920, 1080, 100, 40, "libx264", 16, sps_pps}}},
    {G("FRAME inline", frame_inline_bytes, 16, 48),
     {H(HFX_MSG_FRAME, HFX_FRAME_FLAG_FORCE_KEYFRAME, 1, 64),
      .u.frame = {7, -2, 16666, HFX_SOURCE_INLINE, 1, 0, {{0, 8}}, pixels, 16}}},
    {G("FRAME shm", frame_shm_bytes, 0, 64),
     {H(HFX_MSG_FRAME, 0, 2, 64),
      .u.frame = {8, 1000, 0, HFX_SOURCE_SHM, 2, 2, {{0, 64}, {0x1000, 64}}, NULL, 0}}},
    {G("PACKET", packet_bytes, 6, 25),
     {H(HFX_MSG_PACKET, HFX_PACKET_FLAG_KEYFRAME, 1, 30), .u.packet = {7, 1000, 990, au, 6}}},
    {G("FRAME_DROPPED", dropped_bytes, 0, 16),
     {H(HFX_MSG_FRAME_DROPPED, 0, 1, 16), .u.dropped = {8, HFX_DROP_QUEUE_FULL}}},
    {G("REQUEST_KEYFRAME", request_keyframe_bytes, 0, 0),
     {H(HFX_MSG_REQUEST_KEYFRAME, 0, 1, 0)}},
    {G("SET_BITRATE", set_bitrate_bytes, 0, 8),
     {H(HFX_MSG_SET_BITRATE, 0, 1, 8), .u.set_bitrate = {2500}}},
    {G("FLUSH", flush_bytes, 0, 0), {H(HFX_MSG_FLUSH, 0, 1, 0)}},
    {G("FLUSHED", flushed_bytes, 0, 0), {H(HFX_MSG_FLUSHED, 0, 1, 0)}},
    {G("CLOSE", close_bytes, 0, 0), {H(HFX_MSG_CLOSE, 0, 0xffffffffu, 0)}},
    {G("SUBSCRIBE", subscribe_bytes, 0, 16),
     {H(HFX_MSG_SUBSCRIBE, 0, 5, 16), .u.subscribe = {0, 60, 500}}},
    {G("INPUT key", input_key_bytes, 0, 16),
     {H(HFX_MSG_INPUT, 0, 2, 16), .u.input = {.kind = HFX_INPUT_KEY, .code = 30, .down = 1}}},
    {G("INPUT pointer", input_pointer_bytes, 0, 16),
     {H(HFX_MSG_INPUT, 0, 2, 16),
      .u.input = {.kind = HFX_INPUT_POINTER, .x = 1279, .y = 5,
                  .buttons = HFX_BUTTON_LEFT | HFX_BUTTON_MIDDLE, .wheel = -1}}},
    {G("SHM_ALLOC", shm_alloc_bytes, 0, 16),
     {H(HFX_MSG_SHM_ALLOC, 0, 0, 16), .u.shm_attach = {0x80000000u, 8294400}}},
    {G("SHM_ALLOCATED", shm_allocated_bytes, 0, 16),
     {H(HFX_MSG_SHM_ALLOCATED, 0, 0, 16), .u.shm_attach = {0x80000000u, 8294400}}},
};

/* clang-format on */

enum {
    G_HELLO,
    G_WELCOME,
    G_PING,
    G_PONG,
    G_ERROR,
    G_ERROR_EMPTY,
    G_BYE,
    G_SHM_ATTACH,
    G_SHM_DETACH,
    G_CONFIGURE,
    G_CONFIGURED,
    G_FRAME_INLINE,
    G_FRAME_SHM,
    G_PACKET,
    G_DROPPED,
    G_REQUEST_KEYFRAME,
    G_SET_BITRATE,
    G_FLUSH,
    G_FLUSHED,
    G_CLOSE,
    G_SUBSCRIBE,
    G_INPUT_KEY,
    G_INPUT_POINTER,
    G_SHM_ALLOC,
    G_SHM_ALLOCATED,
    G_COUNT
};
_Static_assert(G_COUNT == ARRAY_LEN(goldens), "golden index enum out of step");

/* ---- helpers ------------------------------------------------------------ */

#define BUF_MAX (HFX_MAX_HEAD + 64)

struct buf {
    uint8_t b[BUF_MAX];
    size_t len;
};

static void copy_golden(struct buf *out, unsigned g)
{
    CHECK(goldens[g].len <= sizeof(out->b));
    memcpy(out->b, goldens[g].bytes, goldens[g].len);
    out->len = goldens[g].len;
}

static void put_le(uint8_t *p, uint64_t v, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Set the header's length field to what the buffer holds. */
static void fix_length(struct buf *m)
{
    put_le(m->b + 12, m->len - HFX_HEADER_SIZE, 4);
}

static enum hfx_status decode_buf(const struct buf *m, struct hfx_msg *out)
{
    size_t consumed = 0;
    enum hfx_status st = hfx_msg_decode(m->b, m->len, HFX_MAX_PAYLOAD_HARD, out, &consumed);

    if (st == HFX_OK)
        CHECK_EQ_INT(consumed, m->len);
    return st;
}

/* After every rejection: the decoder has no state that a bad message could
 * have spoiled, and the valid vector still decodes to the same fields. */
static void expect_valid_still_decodes(unsigned g)
{
    struct hfx_msg msg;
    size_t consumed = 0;

    CHECK_STATUS(
        hfx_msg_decode(goldens[g].bytes, goldens[g].len, HFX_MAX_PAYLOAD_HARD, &msg, &consumed),
        HFX_OK);
    CHECK_EQ_INT(consumed, goldens[g].len);
    CHECK(msg_equal(&msg, &goldens[g].msg));
}

static void expect_status(const struct buf *m, unsigned g, enum hfx_status want)
{
    struct hfx_msg msg;

    CHECK_STATUS(decode_buf(m, &msg), want);
    expect_valid_still_decodes(g);
}

/* Golden g with the payload field at offset `off` (width bytes) set to v. */
static void expect_field(unsigned g, size_t off, unsigned width, uint64_t v, enum hfx_status want)
{
    struct buf m;

    copy_golden(&m, g);
    CHECK(HFX_HEADER_SIZE + off + width <= m.len);
    put_le(m.b + HFX_HEADER_SIZE + off, v, width);
    expect_status(&m, g, want);
}

static enum hfx_status encode(const struct hfx_msg *msg, size_t tail, struct buf *out)
{
    return hfx_msg_encode(msg, tail, out->b, sizeof(out->b), &out->len);
}

/* ---- golden and round-trip tests ---------------------------------------- */

static void test_golden_encode(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        struct buf out;

        CHECK_STATUS(encode(&goldens[g].msg, goldens[g].tail, &out), HFX_OK);
        CHECK_EQ_INT(out.len, goldens[g].len - goldens[g].tail);
        if (memcmp(out.b, goldens[g].bytes, out.len) != 0)
            check_fail(__FILE__, __LINE__, "encoded bytes == golden", goldens[g].name);
    }
}

static void test_golden_decode(void)
{
    for (unsigned g = 0; g < G_COUNT; g++)
        expect_valid_still_decodes(g);
}

/* Fields spot-checked directly, so that msg_equal is not the only judge. */
static void test_golden_fields(void)
{
    struct hfx_msg m;
    size_t n;

    CHECK_STATUS(hfx_msg_decode(frame_inline_bytes, sizeof(frame_inline_bytes), 4096, &m, &n),
                 HFX_OK);
    CHECK_EQ_INT(m.u.frame.pts, -2);
    CHECK_EQ_INT(m.u.frame.planes[0].stride, 8);
    CHECK(m.u.frame.data == frame_inline_bytes + 16 + 48);
    CHECK_EQ_INT(m.u.frame.data_len, 16);
    CHECK_STATUS(hfx_msg_decode(configured_bytes, sizeof(configured_bytes), 4096, &m, &n), HFX_OK);
    CHECK(strcmp(m.u.configured.encoder, "libx264") == 0);
    CHECK(m.u.configured.extradata == configured_bytes + 16 + 27);
    CHECK_STATUS(hfx_msg_decode(error_bytes, sizeof(error_bytes), 4096, &m, &n), HFX_OK);
    CHECK(strcmp(m.u.error.text, "bad plane") == 0);
    CHECK_EQ_INT(m.hdr.stream, 3);
}

/* Every message: encode, append the tail, decode, compare. */
static void round_trip(const struct hfx_msg *msg, const uint8_t *tail, size_t tail_len)
{
    static uint8_t wire[HFX_MAX_HEAD + 65536];
    struct hfx_msg back;
    size_t written = 0, consumed = 0;

    CHECK(tail_len <= 65536);
    CHECK_STATUS(hfx_msg_encode(msg, tail_len, wire, HFX_MAX_HEAD, &written), HFX_OK);
    if (tail_len)
        memcpy(wire + written, tail, tail_len);
    CHECK_STATUS(hfx_msg_decode(wire, written + tail_len, HFX_MAX_PAYLOAD_HARD, &back, &consumed),
                 HFX_OK);
    CHECK_EQ_INT(consumed, written + tail_len);
    /* The encoder fills in the length; compare the rest. */
    CHECK_EQ_INT(back.hdr.length, written + tail_len - HFX_HEADER_SIZE);
    back.hdr.length = msg->hdr.length;
    CHECK(msg_equal(&back, msg));
}

static void test_round_trip_goldens(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        const struct hfx_msg *m = &goldens[g].msg;
        const uint8_t *tail = m->hdr.type == HFX_MSG_FRAME    ? m->u.frame.data
                              : m->hdr.type == HFX_MSG_PACKET ? m->u.packet.data
                                                              : NULL;
        round_trip(m, tail, goldens[g].tail);
    }
}

/* The largest value of every bounded field, and the extremes of the
 * integers. */
static void test_round_trip_limits(void)
{
    static uint8_t big[HFX_MAX_EXTRADATA];
    struct hfx_msg m;

    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7u + 1u);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_HELLO;
    m.u.hello = (struct hfx_hello){0, 0xffff, 0xffffffffu, HFX_MAX_TOKEN, {0}};
    memcpy(m.u.hello.token, big, HFX_MAX_TOKEN);
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_ERROR;
    m.hdr.stream = 64;
    m.u.error.code = 0xffffffffu;
    memset(m.u.error.text, 'x', HFX_MAX_TEXT);
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_CONFIGURED;
    m.hdr.stream = 1;
    memset(m.u.configured.encoder, 'n', HFX_MAX_NAME);
    m.u.configured.extradata = big;
    m.u.configured.extradata_len = HFX_MAX_EXTRADATA;
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_CONFIGURE;
    m.hdr.stream = 0xffffffffu;
    m.u.configure =
        (struct hfx_configure){0xffffffffu, 0xffffffffu, 0,    0,    0,           0, 0,
                               0xff,        0xff,        0xff, 0xff, 0xffffffffu, 0, "~!az09_-"};
    memset(m.u.configure.encoder, '~', HFX_MAX_NAME);
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_FRAME;
    m.hdr.stream = 9;
    m.u.frame = (struct hfx_frame){UINT64_MAX,
                                   INT64_MIN,
                                   UINT64_MAX,
                                   HFX_SOURCE_INLINE,
                                   3,
                                   0,
                                   {{UINT64_MAX, UINT32_MAX}, {1, 2}, {3, 4}},
                                   big,
                                   4096};
    round_trip(&m, big, 4096);
    m.u.frame.pts = INT64_MAX;
    m.u.frame.data_len = 0;
    m.u.frame.data = NULL;
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PACKET;
    m.hdr.stream = 1;
    m.u.packet = (struct hfx_packet){0, INT64_MIN, INT64_MAX, big, 1};
    round_trip(&m, big, 1);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_SHM_ATTACH;
    m.u.shm_attach = (struct hfx_shm_attach){0xffffffffu, HFX_MAX_SHM_SIZE};
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_WELCOME;
    m.u.welcome =
        (struct hfx_welcome){0xffff, 0, HFX_MAX_PAYLOAD_HARD, HFX_MAX_STREAMS, HFX_MAX_WINDOW};
    round_trip(&m, NULL, 0);
    m.u.welcome = (struct hfx_welcome){1, 0, HFX_MAX_PAYLOAD_HANDSHAKE, 1, 1};
    round_trip(&m, NULL, 0);

    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_SET_BITRATE;
    m.hdr.stream = 1;
    m.u.set_bitrate.kbps = HFX_MAX_BITRATE_KBPS;
    round_trip(&m, NULL, 0);
    m.u.set_bitrate.kbps = 1;
    round_trip(&m, NULL, 0);

    for (uint32_t reason = HFX_DROP_QUEUE_FULL; reason <= HFX_DROP_SOURCE; reason++) {
        memset(&m, 0, sizeof(m));
        m.hdr.type = HFX_MSG_FRAME_DROPPED;
        m.hdr.stream = 1;
        m.u.dropped = (struct hfx_frame_dropped){UINT64_MAX, reason};
        round_trip(&m, NULL, 0);
    }
}

/* Several messages back to back, as a stream delivers them, cut at every
 * byte: a prefix is HFX_INCOMPLETE, never an error. */
static void test_stream_of_messages(void)
{
    static uint8_t wire[4096];
    size_t total = 0, off = 0;
    unsigned n = 0;

    for (unsigned g = 0; g < G_COUNT; g++) {
        memcpy(wire + total, goldens[g].bytes, goldens[g].len);
        total += goldens[g].len;
    }
    while (off < total) {
        struct hfx_msg msg;
        size_t consumed = 0;

        for (size_t cut = off; cut < off + goldens[n].len; cut++)
            CHECK_STATUS(
                hfx_msg_decode(wire + off, cut - off, HFX_MAX_PAYLOAD_HARD, &msg, &consumed),
                HFX_INCOMPLETE);
        CHECK_EQ_INT(consumed, 0);
        CHECK_STATUS(
            hfx_msg_decode(wire + off, total - off, HFX_MAX_PAYLOAD_HARD, &msg, &consumed),
            HFX_OK);
        CHECK_EQ_INT(consumed, goldens[n].len);
        CHECK(msg_equal(&msg, &goldens[n].msg));
        off += consumed;
        n++;
    }
    CHECK_EQ_INT(n, G_COUNT);
}

/* ---- ABI pins ------------------------------------------------------------ */

static void test_abi_pins(void)
{
    static const uint8_t magic[4] = {'H', 'F', 'X', '1'};

    CHECK_EQ_INT(HFX_MAGIC, magic[0] | magic[1] << 8 | magic[2] << 16 | (uint32_t)magic[3] << 24);
    CHECK_EQ_INT(HFX_PROTOCOL_VERSION, 1);
    CHECK_EQ_INT(HFX_HEADER_SIZE, 16);
    CHECK_EQ_INT(HFX_MAX_PAYLOAD_HARD, 64 * 1024 * 1024);
    CHECK_EQ_INT(HFX_MAX_PAYLOAD_HANDSHAKE, 4096);
    CHECK_EQ_INT(HFX_MSG_HELLO, 0x0001);
    CHECK_EQ_INT(HFX_MSG_WELCOME, 0x0002);
    CHECK_EQ_INT(HFX_MSG_PING, 0x0003);
    CHECK_EQ_INT(HFX_MSG_PONG, 0x0004);
    CHECK_EQ_INT(HFX_MSG_ERROR, 0x0005);
    CHECK_EQ_INT(HFX_MSG_BYE, 0x0006);
    CHECK_EQ_INT(HFX_MSG_SHM_ATTACH, 0x0007);
    CHECK_EQ_INT(HFX_MSG_SHM_DETACH, 0x0008);
    CHECK_EQ_INT(HFX_MSG_SHM_ALLOC, 0x0009);
    CHECK_EQ_INT(HFX_MSG_SHM_ALLOCATED, 0x000a);
    CHECK_EQ_INT(HFX_MSG_CONFIGURE, 0x0100);
    CHECK_EQ_INT(HFX_MSG_CONFIGURED, 0x0101);
    CHECK_EQ_INT(HFX_MSG_FRAME, 0x0102);
    CHECK_EQ_INT(HFX_MSG_PACKET, 0x0103);
    CHECK_EQ_INT(HFX_MSG_FRAME_DROPPED, 0x0104);
    CHECK_EQ_INT(HFX_MSG_REQUEST_KEYFRAME, 0x0105);
    CHECK_EQ_INT(HFX_MSG_SET_BITRATE, 0x0106);
    CHECK_EQ_INT(HFX_MSG_FLUSH, 0x0107);
    CHECK_EQ_INT(HFX_MSG_FLUSHED, 0x0108);
    CHECK_EQ_INT(HFX_MSG_CLOSE, 0x0109);
    CHECK_EQ_INT(HFX_MSG_SUBSCRIBE, 0x010a);
    CHECK_EQ_INT(HFX_MSG_INPUT, 0x010b);
    CHECK_EQ_INT(HFX_INPUT_KEY, 1);
    CHECK_EQ_INT(HFX_INPUT_POINTER, 2);
    CHECK_EQ_INT(HFX_BUTTON_LEFT, 1);
    CHECK_EQ_INT(HFX_BUTTON_RIGHT, 2);
    CHECK_EQ_INT(HFX_BUTTON_MIDDLE, 4);
    CHECK_EQ_INT(HFX_MAX_KEY_CODE, 0x2ff);
    CHECK_EQ_INT(HFX_MAX_WHEEL, 16);
    CHECK_EQ_INT(HFX_CAP_INPUT, 32);
    CHECK_EQ_INT(HFX_E_NO_SOURCE, 31);
    CHECK_EQ_INT(HFX_MAX_SCANOUT_FPS, 240);
    CHECK_EQ_INT(HFX_DEFAULT_KEEPALIVE_MS, 1000);
    CHECK_EQ_INT(HFX_FRAME_FLAG_FORCE_KEYFRAME, 1);
    CHECK_EQ_INT(HFX_PACKET_FLAG_KEYFRAME, 1);
    CHECK_EQ_INT(HFX_CAP_INLINE, 1);
    CHECK_EQ_INT(HFX_CAP_SHM_FD, 2);
    CHECK_EQ_INT(HFX_CAP_SHM_FILE, 4);
    CHECK_EQ_INT(HFX_CAP_RESOURCE, 8);
    CHECK_EQ_INT(HFX_CAP_SCANOUT, 16);
    CHECK_EQ_INT(HFX_CAP_SHM_ALLOC, 0x40);
    CHECK_EQ_INT(HFX_CAP_ALL_V1, 0x7f);
    CHECK_EQ_INT(HFX_CODEC_H264, 1);
    CHECK_EQ_INT(HFX_CODEC_HEVC, 2);
    CHECK_EQ_INT(HFX_CODEC_AV1, 3);
    CHECK_EQ_INT(HFX_RC_ABR, 0);
    CHECK_EQ_INT(HFX_RC_CQP, 2);
    CHECK_EQ_INT(HFX_PROFILE_HIGH, 3);
    CHECK_EQ_INT(HFX_LATENCY_QUALITY, 2);
    CHECK_EQ_INT(HFX_SOURCE_INLINE, 1);
    CHECK_EQ_INT(HFX_SOURCE_SHM, 2);
    CHECK_EQ_INT(HFX_SOURCE_RESOURCE, 3);
    CHECK_EQ_INT(HFX_SOURCE_SCANOUT, 4);
    CHECK_EQ_INT(HFX_DROP_QUEUE_FULL, 1);
    CHECK_EQ_INT(HFX_DROP_ENCODER, 2);
    CHECK_EQ_INT(HFX_DROP_CLOSED, 3);
    CHECK_EQ_INT(HFX_FORMAT_NV12, 0x3231564e);
    CHECK_EQ_INT(HFX_FORMAT_BGRX, 0x78524742);
    CHECK_EQ_INT(HFX_MAX_HEAD, 16 + 32 + 31 + 8192);
}

static void test_type_names_and_flags(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        uint16_t type = goldens[g].msg.hdr.type;
        uint16_t want = type == HFX_MSG_FRAME    ? HFX_FRAME_FLAG_FORCE_KEYFRAME
                        : type == HFX_MSG_PACKET ? HFX_PACKET_FLAG_KEYFRAME
                                                 : 0;
        CHECK(strncmp(hfx_msg_type_name(type), goldens[g].name, strlen(hfx_msg_type_name(type))) ==
              0);
        CHECK_EQ_INT(hfx_msg_allowed_flags(type), want);
    }
    CHECK(strcmp(hfx_msg_type_name(HFX_MSG_REQUEST_KEYFRAME), "REQUEST_KEYFRAME") == 0);
    CHECK(strcmp(hfx_msg_type_name(0), "UNKNOWN") == 0);
    CHECK(strcmp(hfx_msg_type_name(0x010c), "UNKNOWN") == 0);
    CHECK(strcmp(hfx_msg_type_name(0xffff), "UNKNOWN") == 0);
    CHECK_EQ_INT(hfx_msg_allowed_flags(0xffff), 0);
}

/* ---- header ------------------------------------------------------------- */

static void test_bad_magic(void)
{
    static const uint32_t bad[] = {0, 0x31584649, 0x48465831, 0xffffffffu};

    for (unsigned i = 0; i < ARRAY_LEN(bad); i++) {
        struct buf m;
        copy_golden(&m, G_PING);
        put_le(m.b, bad[i], 4);
        expect_status(&m, G_PING, HFX_E_BAD_MAGIC);
    }
}

static void test_unknown_type(void)
{
    static const uint16_t bad[] = {0, 0x000b, 0x00ff, 0x010c, 0x0200, 0x8001, 0xffff};

    for (unsigned i = 0; i < ARRAY_LEN(bad); i++) {
        struct buf m;
        struct hfx_header hdr;
        copy_golden(&m, G_BYE);
        put_le(m.b + 4, bad[i], 2);
        expect_status(&m, G_BYE, HFX_E_UNKNOWN_TYPE);
        CHECK_STATUS(hfx_header_decode(m.b, m.len, 0, &hdr), HFX_E_UNKNOWN_TYPE);
    }
}

static void test_bad_flags(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        uint16_t allowed = hfx_msg_allowed_flags(goldens[g].msg.hdr.type);
        for (unsigned bit = 0; bit < 16; bit++) {
            struct buf m;
            uint16_t flag = (uint16_t)(1u << bit);
            if (flag & allowed)
                continue;
            copy_golden(&m, g);
            put_le(m.b + 6, goldens[g].msg.hdr.flags | flag, 2);
            expect_status(&m, g, HFX_E_BAD_FLAGS);
        }
    }
    /* The allowed flag clear is valid too. */
    struct buf m;
    copy_golden(&m, G_PACKET);
    put_le(m.b + 6, 0, 2);
    expect_status(&m, G_PACKET, HFX_OK);
}

static void test_wrong_stream(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        uint16_t type = goldens[g].msg.hdr.type;
        struct buf m;

        copy_golden(&m, g);
        if (type == HFX_MSG_ERROR) {
            put_le(m.b + 8, 0, 4);
            expect_status(&m, g, HFX_OK);
            put_le(m.b + 8, 0xffffffffu, 4);
            expect_status(&m, g, HFX_OK);
        } else if (goldens[g].msg.hdr.stream == 0) {
            put_le(m.b + 8, 1, 4);
            expect_status(&m, g, HFX_E_MALFORMED);
            put_le(m.b + 8, 0xffffffffu, 4);
            expect_status(&m, g, HFX_E_MALFORMED);
        } else {
            put_le(m.b + 8, 0, 4);
            expect_status(&m, g, HFX_E_MALFORMED);
        }
    }
}

/* Header checks run in the order §2.2 gives: magic, type, flags, stream,
 * length. */
static void test_header_check_order(void)
{
    struct hfx_header hdr;
    uint8_t h[16] = {HDR(0x0003, 0x0002, 1, 9)}; /* PING: bad flags, stream, length */

    CHECK_STATUS(hfx_header_decode(h, 16, 8, &hdr), HFX_E_BAD_FLAGS);
    put_le(h + 6, 0, 2);
    CHECK_STATUS(hfx_header_decode(h, 16, 8, &hdr), HFX_E_MALFORMED);
    put_le(h + 8, 0, 4);
    CHECK_STATUS(hfx_header_decode(h, 16, 8, &hdr), HFX_E_TOO_LARGE);
    put_le(h + 4, 0x7777, 2);
    CHECK_STATUS(hfx_header_decode(h, 16, 8, &hdr), HFX_E_UNKNOWN_TYPE);
    h[3] = '2';
    CHECK_STATUS(hfx_header_decode(h, 16, 8, &hdr), HFX_E_BAD_MAGIC);
}

static void test_length_over_max(void)
{
    struct hfx_header hdr;
    struct hfx_msg msg;
    size_t consumed = 0;
    uint8_t h[16] = {HDR(0x0103, 0, 1, 0)};

    for (unsigned g = 0; g < G_COUNT; g++) {
        size_t plen = goldens[g].len - HFX_HEADER_SIZE;
        CHECK_STATUS(hfx_header_decode(goldens[g].bytes, goldens[g].len, (uint32_t)plen, &hdr),
                     HFX_OK);
        CHECK_EQ_INT(hdr.length, plen);
        if (plen == 0)
            continue;
        CHECK_STATUS(hfx_header_decode(goldens[g].bytes, goldens[g].len, (uint32_t)plen - 1, &hdr),
                     HFX_E_TOO_LARGE);
        CHECK_STATUS(
            hfx_msg_decode(goldens[g].bytes, goldens[g].len, (uint32_t)plen - 1, &msg, &consumed),
            HFX_E_TOO_LARGE);
        expect_valid_still_decodes(g);
    }
    /* max_payload is clamped to the hard cap. */
    put_le(h + 12, HFX_MAX_PAYLOAD_HARD, 4);
    CHECK_STATUS(hfx_header_decode(h, 16, UINT32_MAX, &hdr), HFX_OK);
    put_le(h + 12, HFX_MAX_PAYLOAD_HARD + 1u, 4);
    CHECK_STATUS(hfx_header_decode(h, 16, UINT32_MAX, &hdr), HFX_E_TOO_LARGE);
    put_le(h + 12, UINT32_MAX, 4);
    CHECK_STATUS(hfx_header_decode(h, 16, UINT32_MAX, &hdr), HFX_E_TOO_LARGE);
    CHECK_STATUS(hfx_msg_decode(h, 16, UINT32_MAX, &msg, &consumed), HFX_E_TOO_LARGE);
    CHECK_EQ_INT(consumed, 0);
}

static void test_truncated_header(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        for (size_t len = 0; len < HFX_HEADER_SIZE; len++) {
            struct hfx_header hdr;
            struct hfx_msg msg;
            size_t consumed = 12345;

            CHECK_STATUS(hfx_header_decode(goldens[g].bytes, len, HFX_MAX_PAYLOAD_HARD, &hdr),
                         HFX_INCOMPLETE);
            CHECK_STATUS(
                hfx_msg_decode(goldens[g].bytes, len, HFX_MAX_PAYLOAD_HARD, &msg, &consumed),
                HFX_INCOMPLETE);
            CHECK_EQ_INT(consumed, 12345);
        }
        /* A whole header with part of its payload is still incomplete. */
        for (size_t len = HFX_HEADER_SIZE; len < goldens[g].len; len++) {
            struct hfx_msg msg;
            size_t consumed = 0;
            CHECK_STATUS(
                hfx_msg_decode(goldens[g].bytes, len, HFX_MAX_PAYLOAD_HARD, &msg, &consumed),
                HFX_INCOMPLETE);
        }
        expect_valid_still_decodes(g);
    }
    struct hfx_header hdr;
    CHECK_STATUS(hfx_header_decode(NULL, 0, HFX_MAX_PAYLOAD_HARD, &hdr), HFX_INCOMPLETE);
}

/* A payload cut short, with a header that agrees (decode_payload): every
 * length below the minimum is HFX_E_TRUNCATED; FRAME and PACKET end in
 * their data, so from their minimum on they decode with less data. */
static void test_truncated_payload(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        const uint8_t *payload = goldens[g].bytes + HFX_HEADER_SIZE;
        size_t plen = goldens[g].len - HFX_HEADER_SIZE;

        for (size_t len = 0; len < plen; len++) {
            struct hfx_header hdr = goldens[g].msg.hdr;
            struct hfx_msg msg;

            hdr.length = (uint32_t)len;
            if (len < goldens[g].min_payload) {
                CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, len, &msg), HFX_E_TRUNCATED);
            } else {
                CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, len, &msg), HFX_OK);
                CHECK_EQ_INT(
                    msg.hdr.type == HFX_MSG_FRAME ? msg.u.frame.data_len : msg.u.packet.data_len,
                    len - goldens[g].min_payload + (msg.hdr.type == HFX_MSG_PACKET ? 1 : 0));
            }
        }
        expect_valid_still_decodes(g);
    }
}

static void test_decode_payload_misuse(void)
{
    struct hfx_header hdr = goldens[G_PING].msg.hdr;
    struct hfx_msg msg;
    const uint8_t *payload = ping_bytes + HFX_HEADER_SIZE;

    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 7, &msg), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 9, &msg), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, NULL, 8, &msg), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_decode_payload(NULL, payload, 8, &msg), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 8, NULL), HFX_E_INVALID);
    /* The header is checked again: its type decides how to read. */
    hdr.type = 0x0999;
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 8, &msg), HFX_E_UNKNOWN_TYPE);
    hdr.type = HFX_MSG_PING;
    hdr.stream = 1;
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 8, &msg), HFX_E_MALFORMED);
    hdr.stream = 0;
    hdr.flags = 1;
    CHECK_STATUS(hfx_msg_decode_payload(&hdr, payload, 8, &msg), HFX_E_BAD_FLAGS);
    size_t consumed;
    CHECK_STATUS(hfx_msg_decode(ping_bytes, sizeof(ping_bytes), 4096, &msg, NULL), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_decode(NULL, 16, 4096, &msg, &consumed), HFX_E_INVALID);
    CHECK_STATUS(hfx_header_decode(ping_bytes, 16, 4096, NULL), HFX_E_INVALID);
}

/* ---- payload fields ------------------------------------------------------- */

/* Fixed-size and length-described messages: a byte more is malformed. FRAME
 * and PACKET end in their data, so a byte more is more data. */
static void test_trailing_bytes(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        uint16_t type = goldens[g].msg.hdr.type;
        for (unsigned extra = 1; extra <= 9; extra += 8) {
            struct buf m;
            copy_golden(&m, g);
            memset(m.b + m.len, 0, extra);
            m.len += extra;
            fix_length(&m);
            if (type == HFX_MSG_PACKET || (type == HFX_MSG_FRAME && goldens[g].tail))
                expect_status(&m, g, HFX_OK);
            else
                expect_status(&m, g, HFX_E_MALFORMED);
        }
    }
}

struct field {
    unsigned g;
    size_t off; /* payload offset */
    unsigned width;
};

/* §5: every reserved byte, per message. */
/* clang-format off */
static const struct field reserved_fields[] = {
    {G_HELLO, 10, 2},     {G_WELCOME, 2, 2},      {G_ERROR, 6, 2},       {G_ERROR_EMPTY, 6, 2},
    {G_SHM_ATTACH, 4, 4}, {G_SHM_DETACH, 4, 4},   {G_CONFIGURE, 41, 3},  {G_CONFIGURED, 15, 1},
    {G_FRAME_INLINE, 26, 2}, {G_FRAME_INLINE, 44, 4}, {G_FRAME_SHM, 26, 2}, {G_FRAME_SHM, 44, 4},
    {G_FRAME_SHM, 60, 4}, {G_DROPPED, 12, 4},     {G_SET_BITRATE, 4, 4},  {G_SUBSCRIBE, 8, 8},
    {G_INPUT_KEY, 2, 2},  {G_INPUT_KEY, 12, 4},   {G_INPUT_POINTER, 2, 2},
    {G_SHM_ALLOC, 4, 4},  {G_SHM_ALLOCATED, 4, 4},
};
/* clang-format on */

/* §2.3: a short payload is HFX_E_TRUNCATED even when a reserved field
 * before the end is not zero (step 1 comes before step 2). */
static void test_truncated_before_reserved(void)
{
    struct buf m;

    copy_golden(&m, G_WELCOME);
    m.b[16 + 2] = 1;
    m.len--;
    fix_length(&m);
    expect_status(&m, G_WELCOME, HFX_E_TRUNCATED);
    copy_golden(&m, G_FRAME_SHM);
    m.b[16 + 44] = 1; /* plane 0 reserved */
    m.len--;
    fix_length(&m);
    expect_status(&m, G_FRAME_SHM, HFX_E_TRUNCATED);
    copy_golden(&m, G_HELLO);
    m.b[16 + 10] = 1;
    m.len = 16 + 11;
    fix_length(&m);
    expect_status(&m, G_HELLO, HFX_E_TRUNCATED);
}

static void test_reserved_nonzero(void)
{
    for (unsigned i = 0; i < ARRAY_LEN(reserved_fields); i++) {
        const struct field *f = &reserved_fields[i];
        for (unsigned b = 0; b < f->width; b++) {
            expect_field(f->g, f->off + b, 1, 0x01, HFX_E_MALFORMED);
            expect_field(f->g, f->off + b, 1, 0x80, HFX_E_MALFORMED);
        }
    }
}

/* Length fields: over the maximum is HFX_E_TOO_LARGE, more than the payload
 * holds is HFX_E_TRUNCATED, less leaves trailing bytes (HFX_E_MALFORMED). */
static void test_hello_token_len(void)
{
    expect_field(G_HELLO, 8, 2, HFX_MAX_TOKEN + 1, HFX_E_TOO_LARGE);
    expect_field(G_HELLO, 8, 2, 0xffff, HFX_E_TOO_LARGE);
    expect_field(G_HELLO, 8, 2, HFX_MAX_TOKEN, HFX_E_TRUNCATED);
    expect_field(G_HELLO, 8, 2, 7, HFX_E_TRUNCATED);
    expect_field(G_HELLO, 8, 2, 5, HFX_E_MALFORMED);
    expect_field(G_HELLO, 8, 2, 0, HFX_E_MALFORMED);
}

static void test_hello_versions(void)
{
    expect_field(G_HELLO, 0, 2, 2, HFX_E_MALFORMED); /* min 2 > max 1 */
    expect_field(G_HELLO, 2, 2, 0, HFX_E_MALFORMED); /* max 0 < min 1 */
    /* A range without version 1 is structurally fine: the host answers
     * HFX_E_VERSION (§4). */
    expect_field(G_HELLO, 0, 4, 0x00090002u, HFX_OK);
    /* Unknown capability bits are ignored (§4), not rejected. */
    expect_field(G_HELLO, 4, 4, 0xffffffffu, HFX_OK);
}

static void test_welcome_limits(void)
{
    expect_field(G_WELCOME, 8, 4, HFX_MAX_PAYLOAD_HANDSHAKE - 1, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 8, 4, HFX_MAX_PAYLOAD_HANDSHAKE, HFX_OK);
    expect_field(G_WELCOME, 8, 4, HFX_MAX_PAYLOAD_HARD, HFX_OK);
    expect_field(G_WELCOME, 8, 4, HFX_MAX_PAYLOAD_HARD + 1u, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 12, 2, 0, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 12, 2, HFX_MAX_STREAMS + 1, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 12, 2, HFX_MAX_STREAMS, HFX_OK);
    expect_field(G_WELCOME, 14, 2, 0, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 14, 2, HFX_MAX_WINDOW + 1, HFX_E_MALFORMED);
    expect_field(G_WELCOME, 14, 2, HFX_MAX_WINDOW, HFX_OK);
}

static void test_error_text(void)
{
    struct buf m;
    struct hfx_msg msg;

    expect_field(G_ERROR, 4, 2, HFX_MAX_TEXT + 1, HFX_E_TOO_LARGE);
    expect_field(G_ERROR, 4, 2, 0xffff, HFX_E_TOO_LARGE);
    expect_field(G_ERROR, 4, 2, 10, HFX_E_TRUNCATED);
    expect_field(G_ERROR, 4, 2, HFX_MAX_TEXT, HFX_E_TRUNCATED);
    expect_field(G_ERROR, 4, 2, 8, HFX_E_MALFORMED);
    expect_field(G_ERROR, 8, 1, 0, HFX_E_MALFORMED);  /* NUL first */
    expect_field(G_ERROR, 16, 1, 0, HFX_E_MALFORMED); /* NUL last */
    /* Any code decodes: codes from newer peers map to HFX_E_REMOTE. */
    expect_field(G_ERROR, 0, 4, 0xffffffffu, HFX_OK);

    /* Exactly HFX_MAX_TEXT bytes, NUL-terminated on decode. */
    memset(m.b, 'e', sizeof(m.b));
    memcpy(m.b, error_bytes, 16 + 8);
    put_le(m.b + 16 + 4, HFX_MAX_TEXT, 2);
    m.len = 16 + 8 + HFX_MAX_TEXT;
    fix_length(&m);
    CHECK_STATUS(decode_buf(&m, &msg), HFX_OK);
    CHECK_EQ_INT(strlen(msg.u.error.text), HFX_MAX_TEXT);
}

/* §5.17: max_fps 1..240; keepalive_ms 0 (the default) or 10..60000; any
 * scanout number decodes (whether the host has it is the host's check). */
static void test_subscribe_fields(void)
{
    expect_field(G_SUBSCRIBE, 4, 2, 0, HFX_E_MALFORMED);
    expect_field(G_SUBSCRIBE, 4, 2, 1, HFX_OK);
    expect_field(G_SUBSCRIBE, 4, 2, HFX_MAX_SCANOUT_FPS, HFX_OK);
    expect_field(G_SUBSCRIBE, 4, 2, HFX_MAX_SCANOUT_FPS + 1, HFX_E_MALFORMED);
    expect_field(G_SUBSCRIBE, 6, 2, 0, HFX_OK);
    expect_field(G_SUBSCRIBE, 6, 2, HFX_MIN_KEEPALIVE_MS - 1, HFX_E_MALFORMED);
    expect_field(G_SUBSCRIBE, 6, 2, HFX_MIN_KEEPALIVE_MS, HFX_OK);
    expect_field(G_SUBSCRIBE, 6, 2, HFX_MAX_KEEPALIVE_MS, HFX_OK);
    expect_field(G_SUBSCRIBE, 6, 2, HFX_MAX_KEEPALIVE_MS + 1, HFX_E_MALFORMED);
    expect_field(G_SUBSCRIBE, 0, 4, 0xffffffffu, HFX_OK);
}

/* §5.18: KEY code 1..0x2ff, down 0 or 1; POINTER x, y below 8192,
 * buttons 0..7, wheel -16..16; kind 1 or 2. */
static void test_input_fields(void)
{
    expect_field(G_INPUT_KEY, 0, 2, 0, HFX_E_MALFORMED);
    expect_field(G_INPUT_KEY, 0, 2, 3, HFX_E_MALFORMED);
    expect_field(G_INPUT_KEY, 4, 4, 0, HFX_E_MALFORMED);
    expect_field(G_INPUT_KEY, 4, 4, 1, HFX_OK);
    expect_field(G_INPUT_KEY, 4, 4, HFX_MAX_KEY_CODE, HFX_OK);
    expect_field(G_INPUT_KEY, 4, 4, HFX_MAX_KEY_CODE + 1, HFX_E_MALFORMED);
    expect_field(G_INPUT_KEY, 8, 4, 0, HFX_OK);
    expect_field(G_INPUT_KEY, 8, 4, 2, HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 4, 4, 0, HFX_OK);
    expect_field(G_INPUT_POINTER, 4, 4, HFX_MAX_DIMENSION - 1, HFX_OK);
    expect_field(G_INPUT_POINTER, 4, 4, HFX_MAX_DIMENSION, HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 8, 4, HFX_MAX_DIMENSION - 1, HFX_OK);
    expect_field(G_INPUT_POINTER, 8, 4, 0xffffffffu, HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 12, 2, HFX_BUTTONS_ALL, HFX_OK);
    expect_field(G_INPUT_POINTER, 12, 2, 8, HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 14, 2, HFX_MAX_WHEEL, HFX_OK);
    expect_field(G_INPUT_POINTER, 14, 2, (uint16_t)-HFX_MAX_WHEEL, HFX_OK);
    expect_field(G_INPUT_POINTER, 14, 2, HFX_MAX_WHEEL + 1, HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 14, 2, (uint16_t)(-HFX_MAX_WHEEL - 1), HFX_E_MALFORMED);
    expect_field(G_INPUT_POINTER, 14, 2, 0x8000, HFX_E_MALFORMED);
}

static void test_shm_fields(void)
{
    expect_field(G_SHM_ATTACH, 0, 4, 0, HFX_E_MALFORMED); /* region 0 is out of band */
    expect_field(G_SHM_ATTACH, 8, 8, 0, HFX_E_MALFORMED);
    expect_field(G_SHM_ATTACH, 8, 8, HFX_MAX_SHM_SIZE, HFX_OK);
    expect_field(G_SHM_ATTACH, 8, 8, HFX_MAX_SHM_SIZE + 1, HFX_E_TOO_LARGE);
    expect_field(G_SHM_ATTACH, 8, 8, UINT64_MAX, HFX_E_TOO_LARGE);
    expect_field(G_SHM_DETACH, 0, 4, 0, HFX_E_MALFORMED);
    expect_field(G_SHM_DETACH, 0, 4, 0xffffffffu, HFX_OK);
    /* SHM_ALLOC and SHM_ALLOCATED: SHM_ATTACH's rules (§7.2). */
    for (unsigned g = G_SHM_ALLOC; g <= G_SHM_ALLOCATED; g++) {
        expect_field(g, 0, 4, 0, HFX_E_MALFORMED);
        expect_field(g, 8, 8, 0, HFX_E_MALFORMED);
        expect_field(g, 8, 8, HFX_MAX_SHM_SIZE, HFX_OK);
        expect_field(g, 8, 8, HFX_MAX_SHM_SIZE + 1, HFX_E_TOO_LARGE);
    }
}

static void test_name_fields(void)
{
    static const uint8_t bad_chars[] = {0, ' ', 0x1f, 0x7f, 0x80, 0xff};

    /* CONFIGURE name_len at 40, name at 44; CONFIGURED name_len at 14,
     * name at 20. */
    expect_field(G_CONFIGURE, 40, 1, HFX_MAX_NAME + 1, HFX_E_TOO_LARGE);
    expect_field(G_CONFIGURE, 40, 1, 0xff, HFX_E_TOO_LARGE);
    expect_field(G_CONFIGURE, 40, 1, 8, HFX_E_TRUNCATED);
    expect_field(G_CONFIGURE, 40, 1, 6, HFX_E_MALFORMED);
    expect_field(G_CONFIGURED, 14, 1, HFX_MAX_NAME + 1, HFX_E_TOO_LARGE);
    expect_field(G_CONFIGURED, 14, 1, 0xff, HFX_E_TOO_LARGE);
    /* CONFIGURED: a longer name eats into the extradata, which is then
     * short. */
    expect_field(G_CONFIGURED, 14, 1, 8, HFX_E_TRUNCATED);
    expect_field(G_CONFIGURED, 14, 1, 6, HFX_E_MALFORMED);
    for (unsigned i = 0; i < ARRAY_LEN(bad_chars); i++) {
        expect_field(G_CONFIGURE, 44, 1, bad_chars[i], HFX_E_MALFORMED);
        expect_field(G_CONFIGURE, 50, 1, bad_chars[i], HFX_E_MALFORMED);
        expect_field(G_CONFIGURED, 20, 1, bad_chars[i], HFX_E_MALFORMED);
        expect_field(G_CONFIGURED, 26, 1, bad_chars[i], HFX_E_MALFORMED);
    }
    expect_field(G_CONFIGURE, 44, 1, '~', HFX_OK);
    expect_field(G_CONFIGURE, 44, 1, '!', HFX_OK);
}

static void test_configure_structural_only(void)
{
    /* Values are hfx_configure_validate's business (§5.1): the codec
     * decodes them as they are. */
    expect_field(G_CONFIGURE, 0, 4, 0, HFX_OK);       /* codec */
    expect_field(G_CONFIGURE, 4, 4, 3, HFX_OK);       /* odd width */
    expect_field(G_CONFIGURE, 12, 4, 0x1234, HFX_OK); /* fourcc */
    expect_field(G_CONFIGURE, 28, 1, 0xff, HFX_OK);   /* rate control */
}

static void test_configured_extradata_len(void)
{
    expect_field(G_CONFIGURED, 16, 4, HFX_MAX_EXTRADATA + 1, HFX_E_TOO_LARGE);
    expect_field(G_CONFIGURED, 16, 4, UINT32_MAX, HFX_E_TOO_LARGE);
    expect_field(G_CONFIGURED, 16, 4, HFX_MAX_EXTRADATA, HFX_E_TRUNCATED);
    expect_field(G_CONFIGURED, 16, 4, 17, HFX_E_TRUNCATED);
    expect_field(G_CONFIGURED, 16, 4, 15, HFX_E_MALFORMED);
    expect_field(G_CONFIGURED, 16, 4, 0, HFX_E_MALFORMED);
}

static void test_frame_plane_count(void)
{
    expect_field(G_FRAME_INLINE, 25, 1, 0, HFX_E_MALFORMED);
    expect_field(G_FRAME_INLINE, 25, 1, HFX_MAX_PLANES + 1, HFX_E_TOO_LARGE);
    expect_field(G_FRAME_INLINE, 25, 1, 0xff, HFX_E_TOO_LARGE);
    expect_field(G_FRAME_SHM, 25, 1, 0, HFX_E_MALFORMED);
    expect_field(G_FRAME_SHM, 25, 1, 4, HFX_E_TOO_LARGE);
    /* A count larger than the plane table present: short. */
    expect_field(G_FRAME_SHM, 25, 1, 3, HFX_E_TRUNCATED);
    /* Smaller: the second plane becomes data, which SHM must not have. */
    expect_field(G_FRAME_SHM, 25, 1, 1, HFX_E_MALFORMED);
}

static void test_frame_source(void)
{
    struct buf m;

    expect_field(G_FRAME_INLINE, 24, 1, 0, HFX_E_MALFORMED);
    expect_field(G_FRAME_INLINE, 24, 1, 5, HFX_E_MALFORMED);
    expect_field(G_FRAME_INLINE, 24, 1, 0xff, HFX_E_MALFORMED);
    expect_field(G_FRAME_SHM, 24, 1, 0, HFX_E_MALFORMED);
    expect_field(G_FRAME_SHM, 24, 1, 5, HFX_E_MALFORMED);
    /* INLINE with a region */
    expect_field(G_FRAME_INLINE, 28, 4, 1, HFX_E_MALFORMED);
    /* SHM region 0 is the out-of-band region (§7): valid. */
    expect_field(G_FRAME_SHM, 28, 4, 0, HFX_OK);
    /* RESOURCE: region is the resource id, never 0; no data. */
    expect_field(G_FRAME_SHM, 24, 1, HFX_SOURCE_RESOURCE, HFX_OK);
    copy_golden(&m, G_FRAME_SHM);
    m.b[16 + 24] = HFX_SOURCE_RESOURCE;
    put_le(m.b + 16 + 28, 0, 4);
    expect_status(&m, G_FRAME_SHM, HFX_E_MALFORMED);
    expect_field(G_FRAME_SHM, 24, 1, HFX_SOURCE_SCANOUT, HFX_OK);
    /* INLINE data under a non-INLINE source. */
    expect_field(G_FRAME_INLINE, 24, 1, HFX_SOURCE_SHM, HFX_E_MALFORMED);
    expect_field(G_FRAME_INLINE, 24, 1, HFX_SOURCE_SCANOUT, HFX_E_MALFORMED);
    copy_golden(&m, G_FRAME_SHM);
    m.b[m.len++] = 0;
    fix_length(&m);
    expect_status(&m, G_FRAME_SHM, HFX_E_MALFORMED);
    /* INLINE without data decodes; hfx_frame_validate rejects it. */
    copy_golden(&m, G_FRAME_INLINE);
    m.len -= 16;
    fix_length(&m);
    expect_status(&m, G_FRAME_INLINE, HFX_OK);
}

static void test_packet_dropped_bitrate(void)
{
    expect_field(G_DROPPED, 8, 4, 0, HFX_E_MALFORMED);
    expect_field(G_DROPPED, 8, 4, HFX_DROP_SOURCE + 1, HFX_E_MALFORMED);
    expect_field(G_DROPPED, 8, 4, HFX_DROP_CLOSED, HFX_OK);
    expect_field(G_DROPPED, 8, 4, HFX_DROP_SOURCE, HFX_OK);
    expect_field(G_SET_BITRATE, 0, 4, 0, HFX_E_MALFORMED);
    expect_field(G_SET_BITRATE, 0, 4, HFX_MAX_BITRATE_KBPS + 1, HFX_E_MALFORMED);
    expect_field(G_SET_BITRATE, 0, 4, HFX_MAX_BITRATE_KBPS, HFX_OK);
    /* pts/dts are signed, anything goes. */
    expect_field(G_PACKET, 8, 8, 0x8000000000000000ull, HFX_OK);
}

/* A header whose length lies about the payload: larger than what follows
 * is incomplete (wait for more), smaller leaves the payload short. */
static void test_lying_header_length(void)
{
    struct buf m;
    struct hfx_msg msg;

    copy_golden(&m, G_CONFIGURE);
    put_le(m.b + 12, 52, 4);
    expect_status(&m, G_CONFIGURE, HFX_INCOMPLETE);
    put_le(m.b + 12, 50, 4);
    CHECK_STATUS(hfx_msg_decode(m.b, m.len, HFX_MAX_PAYLOAD_HARD, &msg, &(size_t){0}),
                 HFX_E_TRUNCATED);
    put_le(m.b + 12, 0, 4);
    expect_status(&m, G_CONFIGURE, HFX_E_TRUNCATED);
    /* PACKET: a shorter length makes a shorter access unit, exactly. */
    copy_golden(&m, G_PACKET);
    put_le(m.b + 12, 25, 4);
    CHECK_STATUS(hfx_msg_decode(m.b, m.len, HFX_MAX_PAYLOAD_HARD, &msg, &(size_t){0}), HFX_OK);
    CHECK_EQ_INT(msg.u.packet.data_len, 1);
}

/* ---- error details (§8) -------------------------------------------------- */

/* One malformed message: golden g, width bytes at message offset `at` set
 * to v (width 0: none), cut or grown to `len` bytes with the header's
 * length fixed (len 0: unchanged); then what the _ex calls must say. */
struct bad_case {
    unsigned g;
    size_t at;
    unsigned width;
    uint64_t v;
    size_t len;
    uint32_t max_payload;
    enum hfx_status st;
    const char *field;
    size_t offset;
    long long value, limit;
    const char *text;
};

/* hfx_header_decode_ex then hfx_msg_decode_payload_ex on m, as a host
 * reads a message (lib/conn.c). */
static enum hfx_status decode_ex(const struct buf *m, uint32_t max_payload,
                                 struct hfx_wire_error *err)
{
    struct hfx_header hdr;
    struct hfx_msg msg;
    enum hfx_status st = hfx_header_decode_ex(m->b, m->len, max_payload, &hdr, err);

    if (st != HFX_OK)
        return st;
    CHECK_EQ_INT(hdr.length, m->len - HFX_HEADER_SIZE);
    return hfx_msg_decode_payload_ex(&hdr, m->b + HFX_HEADER_SIZE, hdr.length, &msg, err);
}

static void run_bad_cases(const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        struct hfx_wire_error err;
        struct buf m;

        copy_golden(&m, c->g);
        if (c->len) {
            if (c->len > m.len)
                memset(m.b + m.len, 0, c->len - m.len);
            m.len = c->len;
            fix_length(&m);
        }
        if (c->width)
            put_le(m.b + c->at, c->v, c->width);
        memset(&err, 0xa5, sizeof(err));
        CHECK_STATUS(decode_ex(&m, c->max_payload ? c->max_payload : HFX_MAX_PAYLOAD_HARD, &err),
                     c->st);
        check_wire_error(&err, c->st, c->field, c->offset, c->value, c->limit, c->text);
        /* The plain calls agree, and NULL err is fine. */
        CHECK_STATUS(decode_buf(&m, &(struct hfx_msg){0}), c->st);
        expect_valid_still_decodes(c->g);
    }
}

/* clang-format off */
/* One case per class of malformed message in §8's table, header first. */
static const struct bad_case bad_cases[] = {
    /* bad magic: "NOPE" */
    {G_PING, 0, 4, 0x45504f4e, 0, 0, HFX_E_BAD_MAGIC, "magic", 0, 0x45504f4e, NO_VALUE,
     "header: magic 0x45504f4e at offset 0, not HFX1"},
    /* unknown type */
    {G_BYE, 4, 2, 0x000b, 0, 0, HFX_E_UNKNOWN_TYPE, "type", 4, 11, NO_VALUE,
     "header: type 0x000b at offset 4, unknown"},
    /* bad flags */
    {G_PING, 6, 2, 0x0002, 0, 0, HFX_E_BAD_FLAGS, "flags", 6, 2, 0,
     "header: flags 0x0002 at offset 6, allowed 0x0000"},
    {G_FRAME_INLINE, 6, 2, 0x0101, 0, 0, HFX_E_BAD_FLAGS, "flags", 6, 0x101, 1,
     "header: flags 0x0101 at offset 6, allowed 0x0001"},
    /* stream rule, both ways */
    {G_PING, 8, 4, 7, 0, 0, HFX_E_MALFORMED, "stream", 8, 7, NO_VALUE,
     "header: stream 7 at offset 8, must be 0"},
    {G_FRAME_SHM, 8, 4, 0, 0, 0, HFX_E_MALFORMED, "stream", 8, 0, NO_VALUE,
     "header: stream 0 at offset 8, must not be 0"},
    /* length over the maximum in force */
    {G_PING, 12, 4, 0xffffffffu, 0, 4096, HFX_E_TOO_LARGE, "length", 12, 0xffffffffu, 4096,
     "header: length 4294967295 at offset 12 over 4096"},
    /* truncated fixed part */
    {G_CONFIGURE, 0, 0, 0, 16 + 10, 0, HFX_E_TRUNCATED, "payload", 16, 10, 44,
     "CONFIGURE: payload 10 bytes at offset 16, shorter than its 44-byte fixed part"},
    {G_PING, 0, 0, 0, 16 + 7, 0, HFX_E_TRUNCATED, "payload", 16, 7, 8,
     "PING: payload 7 bytes at offset 16, shorter than its 8-byte fixed part"},
    {G_PACKET, 0, 0, 0, 16 + 24, 0, HFX_E_TRUNCATED, "data", 40, 0, NO_VALUE,
     "PACKET: data 0 at offset 40, must not be 0"},
    /* a length field over its maximum, or lying about what follows */
    {G_HELLO, 24, 2, 300, 0, 0, HFX_E_TOO_LARGE, "token_len", 24, 300, 256,
     "HELLO: token_len 300 at offset 24 over 256"},
    {G_HELLO, 24, 2, 7, 0, 0, HFX_E_TRUNCATED, "token_len", 24, 7, 6,
     "HELLO: token_len 7 at offset 24, only 6 bytes left"},
    {G_CONFIGURE, 56, 1, 32, 0, 0, HFX_E_TOO_LARGE, "name_len", 56, 32, 31,
     "CONFIGURE: name_len 32 at offset 56 over 31"},
    {G_CONFIGURED, 32, 4, 17, 0, 0, HFX_E_TRUNCATED, "extradata_len", 32, 17, 16,
     "CONFIGURED: extradata_len 17 at offset 32, only 16 bytes left"},
    {G_CONFIGURED, 30, 1, 24, 0, 0, HFX_E_TRUNCATED, "name_len", 30, 24, 23,
     "CONFIGURED: name_len 24 at offset 30, only 23 bytes left"},
    {G_ERROR, 20, 2, 1025, 0, 0, HFX_E_TOO_LARGE, "text_len", 20, 1025, 1024,
     "ERROR: text_len 1025 at offset 20 over 1024"},
    {G_FRAME_SHM, 41, 1, 3, 0, 0, HFX_E_TRUNCATED, "plane_count", 41, 3, 32,
     "FRAME: plane_count 3 at offset 41, only 32 bytes left"},
    /* bytes left over */
    {G_PING, 0, 0, 0, 16 + 16, 0, HFX_E_MALFORMED, "payload", 24, 8, NO_VALUE,
     "PING: 8 bytes left over at offset 24"},
    {G_HELLO, 24, 2, 4, 0, 0, HFX_E_MALFORMED, "payload", 32, 2, NO_VALUE,
     "HELLO: 2 bytes left over at offset 32"},
    {G_BYE, 0, 0, 0, 16 + 1, 0, HFX_E_MALFORMED, "payload", 16, 1, NO_VALUE,
     "BYE: 1 byte left over at offset 16"},
    {G_FRAME_SHM, 41, 1, 1, 0, 0, HFX_E_MALFORMED, "data", 64, 16, NO_VALUE,
     "FRAME: data 16 at offset 64, must be 0"},
    /* reserved not zero: fixed part, plane table, 3-byte field */
    {G_FRAME_INLINE, 42, 2, 0x0100, 0, 0, HFX_E_MALFORMED, "rsvd", 42, 256, NO_VALUE,
     "FRAME: rsvd 256 at offset 42, must be 0"},
    {G_FRAME_SHM, 76, 4, 5, 0, 0, HFX_E_MALFORMED, "rsvd", 76, 5, NO_VALUE,
     "FRAME: rsvd 5 at offset 76, must be 0"},
    {G_CONFIGURE, 57, 3, 0x010000, 0, 0, HFX_E_MALFORMED, "rsvd", 57, 0x010000, NO_VALUE,
     "CONFIGURE: rsvd 65536 at offset 57, must be 0"},
    /* enums and ranges */
    {G_DROPPED, 24, 4, 5, 0, 0, HFX_E_MALFORMED, "reason", 24, 5, 4,
     "FRAME_DROPPED: reason 5 at offset 24 over 4"},
    {G_FRAME_INLINE, 40, 1, 0, 0, 0, HFX_E_MALFORMED, "source", 40, 0, 1,
     "FRAME: source 0 at offset 40 under 1"},
    {G_WELCOME, 24, 4, 4095, 0, 0, HFX_E_MALFORMED, "max_payload", 24, 4095, 4096,
     "WELCOME: max_payload 4095 at offset 24 under 4096"},
    {G_WELCOME, 30, 2, 65, 0, 0, HFX_E_MALFORMED, "window", 30, 65, 64,
     "WELCOME: window 65 at offset 30 over 64"},
    {G_HELLO, 16, 2, 2, 0, 0, HFX_E_MALFORMED, "min_version", 16, 2, 1,
     "HELLO: min_version 2 at offset 16 over 1"},
    {G_SET_BITRATE, 16, 4, 0, 0, 0, HFX_E_MALFORMED, "kbps", 16, 0, 1,
     "SET_BITRATE: kbps 0 at offset 16 under 1"},
    {G_SHM_ATTACH, 24, 8, HFX_MAX_SHM_SIZE + 1, 0, 0, HFX_E_TOO_LARGE, "size", 24,
     (long long)HFX_MAX_SHM_SIZE + 1, (long long)HFX_MAX_SHM_SIZE,
     "SHM_ATTACH: size 17179869185 at offset 24 over 17179869184"},
    {G_SHM_DETACH, 16, 4, 0, 0, 0, HFX_E_MALFORMED, "region", 16, 0, NO_VALUE,
     "SHM_DETACH: region 0 at offset 16, must not be 0"},
    {G_FRAME_INLINE, 44, 4, 9, 0, 0, HFX_E_MALFORMED, "region", 44, 9, NO_VALUE,
     "FRAME: region 9 at offset 44, must be 0"},
    /* NUL in text, bad name character */
    {G_ERROR, 30, 1, 0, 0, 0, HFX_E_MALFORMED, "text", 30, NO_VALUE, NO_VALUE,
     "ERROR: NUL in text at offset 30"},
    {G_CONFIGURE, 62, 1, 0, 0, 0, HFX_E_MALFORMED, "name", 62, NO_VALUE, NO_VALUE,
     "CONFIGURE: NUL in name at offset 62"},
    {G_CONFIGURED, 38, 1, ' ', 0, 0, HFX_E_MALFORMED, "name", 38, ' ', NO_VALUE,
     "CONFIGURED: name byte 0x20 at offset 38, not printable"},
    /* plane_count */
    {G_FRAME_INLINE, 41, 1, 4, 0, 0, HFX_E_TOO_LARGE, "plane_count", 41, 4, 3,
     "FRAME: plane_count 4 at offset 41 over 3"},
    {G_FRAME_INLINE, 41, 1, 0, 0, 0, HFX_E_MALFORMED, "plane_count", 41, 0, NO_VALUE,
     "FRAME: plane_count 0 at offset 41, must not be 0"},
};
/* clang-format on */

static void test_error_details(void)
{
    run_bad_cases(bad_cases, ARRAY_LEN(bad_cases));
}

/* §2.2 order holds for the details too: the first failing check is named. */
static void test_error_details_order(void)
{
    uint8_t h[16] = {HDR(0x0003, 0x0002, 1, 9)}; /* PING: bad flags, stream, length */
    struct hfx_wire_error err;
    struct hfx_header hdr;

    CHECK_STATUS(hfx_header_decode_ex(h, 16, 8, &hdr, &err), HFX_E_BAD_FLAGS);
    CHECK(strcmp(err.field, "flags") == 0);
    CHECK_EQ_INT(err.type, HFX_MSG_PING);
    put_le(h + 6, 0, 2);
    CHECK_STATUS(hfx_header_decode_ex(h, 16, 8, &hdr, &err), HFX_E_MALFORMED);
    CHECK(strcmp(err.field, "stream") == 0);
    put_le(h + 8, 0, 4);
    CHECK_STATUS(hfx_header_decode_ex(h, 16, 8, &hdr, &err), HFX_E_TOO_LARGE);
    CHECK(strcmp(err.field, "length") == 0);
    /* Short input before a non-zero reserved field: the shortness. */
    struct buf m;
    copy_golden(&m, G_FRAME_SHM);
    put_le(m.b + 16 + 26, 1, 2);
    m.len = 16 + 30;
    fix_length(&m);
    CHECK_STATUS(decode_ex(&m, HFX_MAX_PAYLOAD_HARD, &err), HFX_E_TRUNCATED);
    CHECK(strcmp(err.field, "payload") == 0);
    CHECK_EQ_INT(err.limit, 32);
    /* Two non-zero reserved fields: the first. */
    copy_golden(&m, G_FRAME_SHM);
    put_le(m.b + 60, 1, 4);
    put_le(m.b + 76, 1, 4);
    CHECK_STATUS(decode_ex(&m, HFX_MAX_PAYLOAD_HARD, &err), HFX_E_MALFORMED);
    CHECK_EQ_INT(err.offset, 60);
}

/* No detail where there is no error, nor for API misuse. */
static void test_error_details_none(void)
{
    struct hfx_wire_error err;
    struct hfx_header hdr;
    struct hfx_msg msg;
    char text[64];

    for (unsigned g = 0; g < G_COUNT; g++) {
        memset(&err, 0xa5, sizeof(err));
        CHECK_STATUS(hfx_header_decode_ex(goldens[g].bytes, goldens[g].len, HFX_MAX_PAYLOAD_HARD,
                                          &hdr, &err),
                     HFX_OK);
        CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
        CHECK(err.field == NULL);
        memset(&err, 0xa5, sizeof(err));
        CHECK_STATUS(hfx_msg_decode_payload_ex(&hdr, goldens[g].bytes + HFX_HEADER_SIZE,
                                               hdr.length, &msg, &err),
                     HFX_OK);
        CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
        CHECK_EQ_INT(err.type, goldens[g].msg.hdr.type);
        CHECK_STATUS(hfx_msg_decode_payload_ex(&hdr, goldens[g].bytes + HFX_HEADER_SIZE,
                                               hdr.length, &msg, NULL),
                     HFX_OK);
    }
    CHECK_STATUS(hfx_header_decode_ex(ping_bytes, 15, 4096, &hdr, &err), HFX_INCOMPLETE);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
    CHECK_STATUS(hfx_header_decode_ex(ping_bytes, 16, 4096, NULL, &err), HFX_E_INVALID);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
    hdr = goldens[G_CONFIGURE].msg.hdr;
    CHECK_STATUS(hfx_msg_decode_payload_ex(&hdr, configure_bytes + 16, 3, &msg, &err),
                 HFX_E_INVALID);
    CHECK_EQ_INT(err.fault, HFX_WIRE_NONE);
    /* Without a field the text is the message and the status. */
    CHECK_EQ_INT(hfx_wire_error_format(&err, HFX_E_INVALID, text, sizeof(text)),
                 strlen("CONFIGURE: invalid argument"));
    check_wire_text(text, "CONFIGURE: invalid argument");
    hfx_wire_error_format(NULL, HFX_E_MALFORMED, text, sizeof(text));
    check_wire_text(text, "UNKNOWN: malformed message field");
}

/* The text is cut to cap like snprintf's, and always terminated. */
static void test_error_format_cap(void)
{
    static const char full[] = "FRAME: plane_count 4 at offset 41 over 3";
    struct hfx_wire_error err;
    struct buf m;
    char text[sizeof(full)];

    copy_golden(&m, G_FRAME_INLINE);
    put_le(m.b + 41, 4, 1);
    CHECK_STATUS(decode_ex(&m, HFX_MAX_PAYLOAD_HARD, &err), HFX_E_TOO_LARGE);
    CHECK_EQ_INT(hfx_wire_error_format(&err, HFX_E_TOO_LARGE, NULL, 0), sizeof(full) - 1);
    for (size_t cap = 1; cap <= sizeof(text); cap++) {
        memset(text, 'x', sizeof(text));
        CHECK_EQ_INT(hfx_wire_error_format(&err, HFX_E_TOO_LARGE, text, cap), sizeof(full) - 1);
        CHECK_EQ_INT(strlen(text), cap - 1);
        CHECK(strncmp(text, full, cap - 1) == 0);
    }
}

/* Every golden with every byte set to a few values and cut at every length:
 * a rejection always names a field inside the message, the plain calls
 * give the same status, and the text fits a small ERROR. */
static void test_error_details_sweep(void)
{
    static const uint8_t values[] = {0x00, 0x01, 0x04, 0x20, 0x80, 0xff};

    for (unsigned g = 0; g < G_COUNT; g++) {
        for (size_t len = HFX_HEADER_SIZE; len <= goldens[g].len + 2; len++) {
            for (size_t at = 0; at < len; at++) {
                for (unsigned k = 0; k < ARRAY_LEN(values); k++) {
                    struct hfx_wire_error err;
                    enum hfx_status st;
                    struct buf m;
                    char text[160];

                    copy_golden(&m, g);
                    memset(m.b + m.len, 0, sizeof(m.b) - m.len);
                    m.len = len;
                    fix_length(&m);
                    m.b[at] = values[k];
                    if (at >= 12 && at < 16) /* keep the length true */
                        fix_length(&m);
                    st = decode_ex(&m, HFX_MAX_PAYLOAD_HARD, &err);
                    CHECK_STATUS(decode_buf(&m, &(struct hfx_msg){0}), st);
                    if (st == HFX_OK)
                        continue;
                    CHECK(err.fault != HFX_WIRE_NONE && err.field != NULL);
                    /* An empty payload is named at its start, offset 16. */
                    CHECK(err.offset <= m.len);
                    CHECK(hfx_wire_error_format(&err, st, text, sizeof(text)) < sizeof(text));
                }
            }
        }
    }
}

/* ---- encoder ------------------------------------------------------------- */

static void expect_encode(const struct hfx_msg *msg, size_t tail, enum hfx_status want)
{
    struct buf out;

    out.len = 99;
    CHECK_STATUS(encode(msg, tail, &out), want);
    if (want != HFX_OK)
        CHECK_EQ_INT(out.len, 0);
}

/* Golden g with one change (a statement on m_) must not encode. */
#define ENCODE_INVALID(g, tail, change)                                                           \
    do {                                                                                          \
        struct hfx_msg m_ = goldens[g].msg;                                                       \
        m_.change;                                                                                \
        expect_encode(&m_, tail, HFX_E_INVALID);                                                  \
    } while (0)

static void test_encode_rejects_invalid(void)
{
    struct hfx_msg m;

    for (unsigned g = 0; g < G_COUNT; g++) {
        uint16_t type = goldens[g].msg.hdr.type;
        m = goldens[g].msg;
        if (type != HFX_MSG_FRAME && type != HFX_MSG_PACKET)
            expect_encode(&m, 1, HFX_E_INVALID);
        m.hdr.flags = 0x0100;
        expect_encode(&m, goldens[g].tail, HFX_E_INVALID);
        m = goldens[g].msg;
        m.hdr.stream = type == HFX_MSG_ERROR ? 5 : m.hdr.stream ? 0 : 1;
        expect_encode(&m, goldens[g].tail, type == HFX_MSG_ERROR ? HFX_OK : HFX_E_INVALID);
    }
    ENCODE_INVALID(G_PING, 0, hdr.type = 0x0042);
    ENCODE_INVALID(G_HELLO, 0, u.hello.token_len = HFX_MAX_TOKEN + 1);
    ENCODE_INVALID(G_HELLO, 0, u.hello.min_version = 2);
    ENCODE_INVALID(G_WELCOME, 0, u.welcome.window = 0);
    ENCODE_INVALID(G_WELCOME, 0, u.welcome.max_payload = HFX_MAX_PAYLOAD_HARD + 1);
    /* No terminator within the field. */
    ENCODE_INVALID(G_ERROR, 0, u.error.code = 1; memset(m_.u.error.text, 'a', HFX_MAX_TEXT + 1));
    ENCODE_INVALID(G_CONFIGURE, 0, u.configure.codec = 1;
                   memset(m_.u.configure.encoder, 'a', HFX_MAX_NAME + 1));
    ENCODE_INVALID(G_CONFIGURE, 0, u.configure.encoder[3] = ' ');
    ENCODE_INVALID(G_CONFIGURED, 0, u.configured.extradata_len = HFX_MAX_EXTRADATA + 1);
    ENCODE_INVALID(G_CONFIGURED, 0, u.configured.extradata = NULL);
    ENCODE_INVALID(G_CONFIGURED, 0, u.configured.encoder[0] = '\x7f');
    ENCODE_INVALID(G_FRAME_SHM, 1, u.frame.region = 2); /* SHM with inline data */
    ENCODE_INVALID(G_FRAME_SHM, 0, u.frame.plane_count = 4);
    ENCODE_INVALID(G_FRAME_SHM, 0, u.frame.plane_count = 0);
    ENCODE_INVALID(G_FRAME_INLINE, 16, u.frame.region = 3);
    ENCODE_INVALID(G_FRAME_INLINE, 16, u.frame.source = 0);
    ENCODE_INVALID(G_PACKET, 0, u.packet.data_len = 6); /* the tail is the data: empty */
    ENCODE_INVALID(G_SHM_ATTACH, 0, u.shm_attach.size = HFX_MAX_SHM_SIZE + 1);
    ENCODE_INVALID(G_SHM_ATTACH, 0, u.shm_attach.region = 0);
    ENCODE_INVALID(G_SHM_DETACH, 0, u.shm_detach.region = 0);
    ENCODE_INVALID(G_DROPPED, 0, u.dropped.reason = 0);
    ENCODE_INVALID(G_SET_BITRATE, 0, u.set_bitrate.kbps = 0);

    m = goldens[G_SET_BITRATE].msg;
    CHECK_STATUS(hfx_msg_encode(NULL, 0, (uint8_t[16]){0}, 16, &(size_t){0}), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_encode(&m, 0, NULL, 16, &(size_t){0}), HFX_E_INVALID);
    CHECK_STATUS(hfx_msg_encode(&goldens[G_BYE].msg, 0, (uint8_t[16]){0}, 16, NULL),
                 HFX_E_INVALID);
}

static void test_encode_too_large(void)
{
    struct hfx_msg m = goldens[G_PACKET].msg;
    struct buf out;

    /* Payload over the hard cap. */
    CHECK_STATUS(encode(&m, HFX_MAX_PAYLOAD_HARD - 24, &out), HFX_OK);
    CHECK_STATUS(encode(&m, HFX_MAX_PAYLOAD_HARD - 23, &out), HFX_E_TOO_LARGE);
    CHECK_STATUS(encode(&m, SIZE_MAX, &out), HFX_E_TOO_LARGE);
    CHECK_STATUS(encode(&m, SIZE_MAX - 23, &out), HFX_E_TOO_LARGE);
    m = goldens[G_FRAME_INLINE].msg;
    CHECK_STATUS(encode(&m, HFX_MAX_PAYLOAD_HARD - 48, &out), HFX_OK);
    CHECK_STATUS(encode(&m, HFX_MAX_PAYLOAD_HARD - 47, &out), HFX_E_TOO_LARGE);
    CHECK_STATUS(encode(&m, SIZE_MAX, &out), HFX_E_TOO_LARGE);
}

/* Every capacity below the needed one fails and writes nothing past cap. */
static void test_encode_small_buffer(void)
{
    for (unsigned g = 0; g < G_COUNT; g++) {
        size_t need = goldens[g].len - goldens[g].tail;
        for (size_t cap = 0; cap <= need; cap++) {
            uint8_t out[BUF_MAX];
            size_t written = 99;

            memset(out, 0xa5, sizeof(out));
            CHECK_STATUS(hfx_msg_encode(&goldens[g].msg, goldens[g].tail, out, cap, &written),
                         cap < need ? HFX_E_TOO_LARGE : HFX_OK);
            CHECK_EQ_INT(written, cap < need ? 0 : need);
            for (size_t i = cap; i < sizeof(out); i++)
                CHECK_EQ_INT(out[i], 0xa5);
        }
    }
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_golden_encode),
        CHECK_CASE(test_golden_decode),
        CHECK_CASE(test_golden_fields),
        CHECK_CASE(test_round_trip_goldens),
        CHECK_CASE(test_round_trip_limits),
        CHECK_CASE(test_stream_of_messages),
        CHECK_CASE(test_abi_pins),
        CHECK_CASE(test_type_names_and_flags),
        CHECK_CASE(test_bad_magic),
        CHECK_CASE(test_unknown_type),
        CHECK_CASE(test_bad_flags),
        CHECK_CASE(test_wrong_stream),
        CHECK_CASE(test_header_check_order),
        CHECK_CASE(test_length_over_max),
        CHECK_CASE(test_truncated_header),
        CHECK_CASE(test_truncated_payload),
        CHECK_CASE(test_decode_payload_misuse),
        CHECK_CASE(test_trailing_bytes),
        CHECK_CASE(test_reserved_nonzero),
        CHECK_CASE(test_truncated_before_reserved),
        CHECK_CASE(test_hello_token_len),
        CHECK_CASE(test_hello_versions),
        CHECK_CASE(test_welcome_limits),
        CHECK_CASE(test_error_text),
        CHECK_CASE(test_subscribe_fields),
        CHECK_CASE(test_input_fields),
        CHECK_CASE(test_shm_fields),
        CHECK_CASE(test_name_fields),
        CHECK_CASE(test_configure_structural_only),
        CHECK_CASE(test_configured_extradata_len),
        CHECK_CASE(test_frame_plane_count),
        CHECK_CASE(test_frame_source),
        CHECK_CASE(test_packet_dropped_bitrate),
        CHECK_CASE(test_lying_header_length),
        CHECK_CASE(test_error_details),
        CHECK_CASE(test_error_details_order),
        CHECK_CASE(test_error_details_none),
        CHECK_CASE(test_error_format_cap),
        CHECK_CASE(test_error_details_sweep),
        CHECK_CASE(test_encode_rejects_invalid),
        CHECK_CASE(test_encode_too_large),
        CHECK_CASE(test_encode_small_buffer),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
