/* SPDX-License-Identifier: MIT */
#include "msg-equal.h"

#include <string.h>

static bool bytes_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool configure_equal(const struct hfx_configure *a, const struct hfx_configure *b)
{
    return a->codec == b->codec && a->width == b->width && a->height == b->height &&
           a->fourcc == b->fourcc && a->fps_num == b->fps_num && a->fps_den == b->fps_den &&
           a->bitrate_kbps == b->bitrate_kbps && a->rate_control == b->rate_control &&
           a->profile == b->profile && a->latency == b->latency && a->quality == b->quality &&
           a->keyint_frames == b->keyint_frames && a->keyint_ms == b->keyint_ms &&
           strcmp(a->encoder, b->encoder) == 0;
}

static bool frame_equal(const struct hfx_frame *a, const struct hfx_frame *b)
{
    if (a->frame_id != b->frame_id || a->pts != b->pts || a->duration != b->duration ||
        a->source != b->source || a->plane_count != b->plane_count || a->region != b->region)
        return false;
    for (unsigned i = 0; i < a->plane_count && i < HFX_MAX_PLANES; i++) {
        if (a->planes[i].offset != b->planes[i].offset ||
            a->planes[i].stride != b->planes[i].stride)
            return false;
    }
    return bytes_equal(a->data, a->data_len, b->data, b->data_len);
}

/* Only the kind's fields are on the wire. */
static bool input_equal(const struct hfx_input *a, const struct hfx_input *b)
{
    if (a->kind != b->kind)
        return false;
    if (a->kind == HFX_INPUT_KEY)
        return a->code == b->code && a->down == b->down;
    return a->x == b->x && a->y == b->y && a->buttons == b->buttons && a->wheel == b->wheel;
}

static bool body_equal(const struct hfx_msg *a, const struct hfx_msg *b)
{
    switch (a->hdr.type) {
    case HFX_MSG_HELLO:
        return a->u.hello.min_version == b->u.hello.min_version &&
               a->u.hello.max_version == b->u.hello.max_version &&
               a->u.hello.caps == b->u.hello.caps &&
               bytes_equal(a->u.hello.token, a->u.hello.token_len, b->u.hello.token,
                           b->u.hello.token_len);
    case HFX_MSG_WELCOME:
        return a->u.welcome.version == b->u.welcome.version &&
               a->u.welcome.caps == b->u.welcome.caps &&
               a->u.welcome.max_payload == b->u.welcome.max_payload &&
               a->u.welcome.max_streams == b->u.welcome.max_streams &&
               a->u.welcome.window == b->u.welcome.window;
    case HFX_MSG_PING:
    case HFX_MSG_PONG:
        return a->u.ping.cookie == b->u.ping.cookie;
    case HFX_MSG_ERROR:
        return a->u.error.code == b->u.error.code && strcmp(a->u.error.text, b->u.error.text) == 0;
    case HFX_MSG_SHM_ATTACH:
    case HFX_MSG_SHM_ALLOC:
    case HFX_MSG_SHM_ALLOCATED:
        return a->u.shm_attach.region == b->u.shm_attach.region &&
               a->u.shm_attach.size == b->u.shm_attach.size;
    case HFX_MSG_SHM_DETACH:
        return a->u.shm_detach.region == b->u.shm_detach.region;
    case HFX_MSG_CONFIGURE:
        return configure_equal(&a->u.configure, &b->u.configure);
    case HFX_MSG_CONFIGURED:
        return a->u.configured.codec == b->u.configured.codec &&
               a->u.configured.width == b->u.configured.width &&
               a->u.configured.height == b->u.configured.height &&
               a->u.configured.profile_idc == b->u.configured.profile_idc &&
               a->u.configured.level_idc == b->u.configured.level_idc &&
               strcmp(a->u.configured.encoder, b->u.configured.encoder) == 0 &&
               bytes_equal(a->u.configured.extradata, a->u.configured.extradata_len,
                           b->u.configured.extradata, b->u.configured.extradata_len);
    case HFX_MSG_FRAME:
        return frame_equal(&a->u.frame, &b->u.frame);
    case HFX_MSG_PACKET:
        return a->u.packet.frame_id == b->u.packet.frame_id &&
               a->u.packet.pts == b->u.packet.pts && a->u.packet.dts == b->u.packet.dts &&
               bytes_equal(a->u.packet.data, a->u.packet.data_len, b->u.packet.data,
                           b->u.packet.data_len);
    case HFX_MSG_FRAME_DROPPED:
        return a->u.dropped.frame_id == b->u.dropped.frame_id &&
               a->u.dropped.reason == b->u.dropped.reason;
    case HFX_MSG_SET_BITRATE:
        return a->u.set_bitrate.kbps == b->u.set_bitrate.kbps;
    case HFX_MSG_SUBSCRIBE:
        return a->u.subscribe.scanout == b->u.subscribe.scanout &&
               a->u.subscribe.max_fps == b->u.subscribe.max_fps &&
               a->u.subscribe.keepalive_ms == b->u.subscribe.keepalive_ms;
    case HFX_MSG_INPUT:
        return input_equal(&a->u.input, &b->u.input);
    default:
        return true; /* empty payloads */
    }
}

bool msg_equal(const struct hfx_msg *a, const struct hfx_msg *b)
{
    if (a->hdr.type != b->hdr.type || a->hdr.flags != b->hdr.flags ||
        a->hdr.stream != b->hdr.stream || a->hdr.length != b->hdr.length)
        return false;
    return body_equal(a, b);
}
