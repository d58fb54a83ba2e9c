/* SPDX-License-Identifier: MIT */
/* bridge/message.c: the stream message header and the viewer's JSON. */
#include <string.h>

#include "check.h"
#include "message.h"

static void test_header_layout(void)
{
    BridgeMsgHeader h = {.flags = BRIDGE_MSG_FLAG_KEYFRAME, .seq = 0x01020304,
                         .width = 1280, .height = 720, .pts_us = 33333,
                         .capture_us = -2};
    static const guint8 au[] = {0, 0, 0, 1, 0x65, 0xaa};
    static const guint8 want[32] = {1, 1, 32, 0, 4, 3, 2, 1, 0x00, 0x05, 0xd0, 0x02,
                                    0, 0, 0, 0, 0x35, 0x82, 0, 0, 0, 0, 0, 0,
                                    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    GBytes *msg = bridge_msg_new(&h, au, sizeof(au));
    gsize len;
    const guint8 *data = g_bytes_get_data(msg, &len);
    BridgeMsgHeader back;
    const guint8 *p;
    gsize plen;

    CHECK_EQ_INT(len, 32 + sizeof(au));
    CHECK(memcmp(data, want, sizeof(want)) == 0);
    CHECK(bridge_msg_parse(data, len, &back, &p, &plen));
    CHECK(back.flags == h.flags && back.seq == h.seq && back.width == h.width &&
          back.height == h.height && back.pts_us == h.pts_us &&
          back.capture_us == h.capture_us);
    CHECK(plen == sizeof(au) && memcmp(p, au, plen) == 0);
    g_bytes_unref(msg);
}

static void test_header_rejects(void)
{
    BridgeMsgHeader h = {0};
    GBytes *msg = bridge_msg_new(&h, NULL, 0);
    guint8 buf[64];
    const guint8 *p;
    gsize plen;

    memcpy(buf, g_bytes_get_data(msg, NULL), 32);
    g_bytes_unref(msg);
    CHECK(bridge_msg_parse(buf, 32, &h, &p, &plen));
    CHECK_EQ_INT(plen, 0);
    CHECK(!bridge_msg_parse(buf, 31, &h, &p, &plen));
    buf[0] = 2;
    CHECK(!bridge_msg_parse(buf, 32, &h, &p, &plen));
    buf[0] = 1;
    buf[1] = 2; /* unknown flag */
    CHECK(!bridge_msg_parse(buf, 32, &h, &p, &plen));
    buf[1] = 0;
    buf[2] = 40; /* header past the end */
    CHECK(!bridge_msg_parse(buf, 32, &h, &p, &plen));
    /* A longer header from a later revision: skipped. */
    memset(buf + 32, 0x77, 8);
    CHECK(bridge_msg_parse(buf, 44, &h, &p, &plen));
    CHECK(plen == 4 && p == buf + 40);
    buf[2] = 31;
    CHECK(!bridge_msg_parse(buf, 44, &h, &p, &plen));
    buf[2] = 32;
    buf[13] = 1; /* reserved */
    CHECK(!bridge_msg_parse(buf, 32, &h, &p, &plen));
}

static gboolean parse(const char *text, BridgeViewerMsg *m)
{
    GError *error = NULL;
    gboolean ok = bridge_viewer_msg_parse(text, strlen(text), m, &error);
    CHECK(ok == (error == NULL));
    g_clear_error(&error);
    return ok;
}

static void test_viewer_messages(void)
{
    BridgeViewerMsg m;

    CHECK(parse("{\"type\":\"drawn\",\"seq\":42,\"capture_us\":5,\"decode_ms\":3.5}", &m));
    CHECK(m.type == BRIDGE_VIEWER_DRAWN && m.seq == 42 && m.decode_ms == 3.5);
    CHECK(parse("{\"type\":\"drawn\",\"seq\":4294967295}", &m));
    CHECK(m.seq == 4294967295u && m.decode_ms == -1);
    CHECK(parse("{\"type\":\"drawn\",\"seq\":1,\"decode_ms\":7}", &m));
    CHECK(m.decode_ms == 7);
    CHECK(parse("{\"type\":\"keyframe\"}", &m));
    CHECK(m.type == BRIDGE_VIEWER_KEYFRAME);
    CHECK(!parse("", &m));
    CHECK(!parse("not json", &m));
    CHECK(!parse("[1,2]", &m));
    CHECK(!parse("{\"type\":\"bogus\"}", &m));
    CHECK(!parse("{\"type\":7}", &m));
    CHECK(!parse("{\"type\":\"drawn\"}", &m));
    CHECK(!parse("{\"type\":\"drawn\",\"seq\":-1}", &m));
    CHECK(!parse("{\"type\":\"drawn\",\"seq\":4294967296}", &m));
    CHECK(!parse("{\"type\":\"drawn\",\"seq\":1.5}", &m));
    CHECK(!parse("{\"type\":\"drawn\",\"seq\":\"1\"}", &m));
}

/* docs/bridge.md: key code 1..0x2ff with down a boolean; pointer x, y
 * 0..8191, buttons 0..7, wheel -16..16 (optional, 0). */
static void test_input_messages(void)
{
    BridgeViewerMsg m;

    CHECK(parse("{\"type\":\"key\",\"code\":30,\"down\":true}", &m));
    CHECK(m.type == BRIDGE_VIEWER_KEY && m.code == 30 && m.down);
    CHECK(parse("{\"type\":\"key\",\"code\":767,\"down\":false}", &m));
    CHECK(m.code == 767 && !m.down);
    CHECK(!parse("{\"type\":\"key\",\"code\":0,\"down\":true}", &m));
    CHECK(!parse("{\"type\":\"key\",\"code\":768,\"down\":true}", &m));
    CHECK(!parse("{\"type\":\"key\",\"code\":30,\"down\":1}", &m));
    CHECK(!parse("{\"type\":\"key\",\"code\":30}", &m));
    CHECK(!parse("{\"type\":\"key\",\"code\":\"30\",\"down\":true}", &m));
    CHECK(parse("{\"type\":\"pointer\",\"x\":8191,\"y\":0,\"buttons\":7}", &m));
    CHECK(m.type == BRIDGE_VIEWER_POINTER && m.x == 8191 && m.y == 0 && m.buttons == 7 &&
          m.wheel == 0);
    CHECK(parse("{\"type\":\"pointer\",\"x\":1,\"y\":2,\"buttons\":0,\"wheel\":-16}", &m));
    CHECK(m.x == 1 && m.y == 2 && m.wheel == -16);
    CHECK(!parse("{\"type\":\"pointer\",\"x\":8192,\"y\":0,\"buttons\":0}", &m));
    CHECK(!parse("{\"type\":\"pointer\",\"x\":-1,\"y\":0,\"buttons\":0}", &m));
    CHECK(!parse("{\"type\":\"pointer\",\"x\":0,\"y\":0,\"buttons\":8}", &m));
    CHECK(!parse("{\"type\":\"pointer\",\"x\":0,\"y\":0,\"buttons\":0,\"wheel\":17}", &m));
    CHECK(!parse("{\"type\":\"pointer\",\"x\":0.5,\"y\":0,\"buttons\":0}", &m));
    CHECK(!parse("{\"type\":\"pointer\",\"x\":0,\"buttons\":0}", &m));
}

/* docs/bridge.md: size width, height multiples of 8 in 64..8192. */
static void test_size_messages(void)
{
    BridgeViewerMsg m;

    CHECK(parse("{\"type\":\"size\",\"width\":1000,\"height\":704}", &m));
    CHECK(m.type == BRIDGE_VIEWER_SIZE && m.width == 1000 && m.height == 704);
    CHECK(parse("{\"type\":\"size\",\"width\":64,\"height\":8192}", &m));
    CHECK(m.width == 64 && m.height == 8192);
    CHECK(!parse("{\"type\":\"size\",\"width\":56,\"height\":704}", &m));
    CHECK(!parse("{\"type\":\"size\",\"width\":8200,\"height\":704}", &m));
    CHECK(!parse("{\"type\":\"size\",\"width\":1001,\"height\":704}", &m));
    CHECK(!parse("{\"type\":\"size\",\"width\":1000,\"height\":702}", &m));
    CHECK(!parse("{\"type\":\"size\",\"width\":1000}", &m));
    CHECK(!parse("{\"type\":\"size\",\"width\":1000.0,\"height\":704}", &m));
}

/* The cursor message carries the image as base64 RGBA, rows packed. */
static void test_cursor_json(void)
{
    static const guint8 px[2 * 1 * 4] = {255, 0, 255, 255, 0, 0, 0, 0};
    gchar *json = bridge_msg_cursor_json(px, 2, 1, 1, 0);
    gchar *hidden = bridge_msg_cursor_json(NULL, 0, 0, 0, 0);

    CHECK(g_strcmp0(json, "{\"type\":\"cursor\",\"visible\":true,\"width\":2,\"height\":1,"
                          "\"hot_x\":1,\"hot_y\":0,\"rgba\":\"/wD//wAAAAA=\"}") == 0);
    CHECK(g_strcmp0(hidden, "{\"type\":\"cursor\",\"visible\":false}") == 0);
    g_free(json);
    g_free(hidden);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_header_layout),
        CHECK_CASE(test_header_rejects),
        CHECK_CASE(test_viewer_messages),
        CHECK_CASE(test_input_messages),
        CHECK_CASE(test_size_messages),
        CHECK_CASE(test_cursor_json),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
