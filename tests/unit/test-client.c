/* SPDX-License-Identifier: MIT */
/* The client against a scripted fake host on a socketpair (fd: address). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "hfx/client.h"
#include "conn.h"

struct script {
    int fd;
    struct hfx_msg replies[8]; /* sent one by one after HELLO; type 0 ends */
    struct hfx_hello hello;    /* what the client sent */
    bool close_after;
};

static void *fake_host(void *arg)
{
    struct script *s = arg;
    struct hfx_transport *t = NULL;
    struct hfx_conn *c = NULL;
    struct hfx_msg m;
    enum hfx_status st;

    CHECK_STATUS(hfx_transport_from_fd(s->fd, HFX_ADDR_UNIX, &t), HFX_OK);
    CHECK_STATUS(hfx_conn_new(t, NULL, &c), HFX_OK);
    do {
        st = hfx_conn_read(c);
        if (st == HFX_E_CLOSED)
            break;
        st = hfx_conn_next(c, &m);
        if (st == HFX_INCOMPLETE)
            usleep(1000);
    } while (st == HFX_INCOMPLETE);
    if (st == HFX_OK) {
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_HELLO);
        s->hello = m.u.hello;
        for (int i = 0; i < 8 && s->replies[i].hdr.type; i++)
            CHECK_STATUS(hfx_conn_send_msg(c, &s->replies[i]), HFX_OK);
        CHECK_STATUS(hfx_conn_flush_wait(c, 2000), HFX_OK);
    }
    if (!s->close_after) {
        /* Keep the connection until the client closes it. */
        while (hfx_conn_read(c) != HFX_E_CLOSED)
            usleep(1000);
    }
    hfx_conn_free(&c);
    return NULL;
}

static void welcome(struct hfx_msg *m, uint16_t version)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = HFX_MSG_WELCOME;
    m->u.welcome.version = version;
    m->u.welcome.caps = HFX_CAP_INLINE;
    m->u.welcome.max_payload = 1 << 20;
    m->u.welcome.max_streams = 4;
    m->u.welcome.window = 3;
}

static enum hfx_status run(struct script *s, const struct hfx_client_options *o,
                           struct hfx_client **out, char *err, size_t cap, pthread_t *th)
{
    int sv[2];
    char addr[32];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    s->fd = sv[1];
    CHECK(pthread_create(th, NULL, fake_host, s) == 0);
    snprintf(addr, sizeof(addr), "fd:%d", sv[0]);
    return hfx_client_connect(addr, o, out, err, cap);
}

static void test_welcome_and_token(void)
{
    static struct script s;
    struct hfx_client *c = NULL;
    struct hfx_client_options o = {.token = "tok", .timeout_ms = 2000};
    pthread_t th;

    welcome(&s.replies[0], 1);
    CHECK_STATUS(run(&s, &o, &c, NULL, 0, &th), HFX_OK);
    /* Not auto: the address as given. */
    CHECK(strncmp(hfx_client_address(c), "fd:", 3) == 0);
    CHECK_EQ_INT(hfx_client_welcome(c)->window, 3);
    CHECK_EQ_INT(hfx_client_welcome(c)->max_streams, 4);
    CHECK_EQ_INT(s.hello.min_version, 1);
    CHECK_EQ_INT(s.hello.token_len, 3);
    CHECK(memcmp(s.hello.token, "tok", 3) == 0);
    hfx_client_free(&c);
    pthread_join(th, NULL);
}

static void test_error_reply(void)
{
    static struct script s;
    struct hfx_client *c = NULL;
    char err[128];
    pthread_t th;

    s.replies[0].hdr.type = HFX_MSG_ERROR;
    s.replies[0].u.error.code = HFX_E_AUTH;
    strcpy(s.replies[0].u.error.text, "token missing or wrong");
    s.close_after = true;
    CHECK_STATUS(run(&s, NULL, &c, err, sizeof(err), &th), HFX_E_AUTH);
    CHECK(c == NULL);
    CHECK(strcmp(err, "token missing or wrong") == 0);
    pthread_join(th, NULL);
}

static void test_wrong_version_and_hangup(void)
{
    static struct script s1, s2;
    struct hfx_client *c = NULL;
    pthread_t th;

    welcome(&s1.replies[0], 2);
    s1.close_after = true;
    CHECK_STATUS(run(&s1, NULL, &c, NULL, 0, &th), HFX_E_VERSION);
    pthread_join(th, NULL);
    s2.close_after = true; /* no reply at all */
    CHECK_STATUS(run(&s2, NULL, &c, NULL, 0, &th), HFX_E_CLOSED);
    pthread_join(th, NULL);
}

static void test_events_and_in_flight(void)
{
    static struct script s;
    struct hfx_client *c = NULL;
    struct hfx_configure cfg = {.codec = HFX_CODEC_H264, .width = 16, .height = 16,
                                .fourcc = HFX_FORMAT_NV12, .fps_num = 30, .fps_den = 1,
                                .bitrate_kbps = 100};
    struct hfx_frame f = {.source = HFX_SOURCE_INLINE, .plane_count = 2};
    static uint8_t pix[16 * 16 * 3 / 2];
    struct iovec iov = {pix, sizeof(pix)};
    struct hfx_event ev;
    static const uint8_t au[] = {0, 0, 0, 1, 0x65, 0x88};
    pthread_t th;

    welcome(&s.replies[0], 1);
    s.replies[1].hdr.type = HFX_MSG_PACKET;
    s.replies[1].hdr.stream = 1;
    s.replies[1].hdr.flags = HFX_PACKET_FLAG_KEYFRAME;
    s.replies[1].u.packet.frame_id = 0;
    s.replies[1].u.packet.data = au;
    s.replies[1].u.packet.data_len = sizeof(au);
    s.replies[2].hdr.type = HFX_MSG_FRAME_DROPPED;
    s.replies[2].hdr.stream = 1;
    s.replies[2].u.dropped.frame_id = 1;
    s.replies[2].u.dropped.reason = HFX_DROP_QUEUE_FULL;
    s.replies[3].hdr.type = HFX_MSG_BYE;
    CHECK_STATUS(run(&s, NULL, &c, NULL, 0, &th), HFX_OK);

    f.planes[0].stride = 16;
    f.planes[1].offset = 256;
    f.planes[1].stride = 16;
    CHECK_STATUS(hfx_client_submit(c, 1, &f, &iov, 1, false, 1000), HFX_E_NOT_CONFIGURED);
    CHECK_STATUS(hfx_client_configure(c, 9, &cfg), HFX_E_INVALID); /* over max_streams */
    CHECK_STATUS(hfx_client_configure(c, 1, &cfg), HFX_OK);
    CHECK_STATUS(hfx_client_submit(c, 1, &f, &iov, 1, false, 1000), HFX_OK);
    f.frame_id = 1;
    CHECK_STATUS(hfx_client_submit(c, 1, &f, &iov, 1, true, 1000), HFX_OK);
    CHECK_EQ_INT(hfx_client_in_flight(c, 1), 2);
    CHECK_STATUS(hfx_client_next_event(c, 2000, &ev), HFX_OK);
    CHECK_EQ_INT(ev.type, HFX_EVENT_PACKET);
    CHECK(ev.keyframe);
    CHECK(ev.u.packet.data_len == sizeof(au));
    CHECK_EQ_INT(hfx_client_in_flight(c, 1), 1);
    CHECK_STATUS(hfx_client_next_event(c, 2000, &ev), HFX_OK);
    CHECK_EQ_INT(ev.type, HFX_EVENT_DROPPED);
    CHECK_EQ_INT(ev.u.dropped.reason, HFX_DROP_QUEUE_FULL);
    CHECK_EQ_INT(hfx_client_in_flight(c, 1), 0);
    CHECK_STATUS(hfx_client_next_event(c, 2000, &ev), HFX_E_CLOSED); /* BYE */
    CHECK_STATUS(hfx_client_submit(c, 1, &f, &iov, 1, false, 1000), HFX_E_CLOSED);
    CHECK_STATUS(hfx_client_attach_shm(c, 0, 4096, &(uint32_t){0}), HFX_E_UNSUPPORTED);
    hfx_client_free(&c);
    pthread_join(th, NULL);
}

static void test_shm_requests(void)
{
    static struct script s;
    struct hfx_client *c = NULL;
    struct hfx_event ev;
    uint32_t region = 0;
    pthread_t th;
    int fd = memfd_create("test-client", MFD_CLOEXEC);

    CHECK(fd >= 0);
    welcome(&s.replies[0], 1);
    s.replies[0].u.welcome.caps |= HFX_CAP_SHM_FD | HFX_CAP_SHM_ALLOC;
    s.replies[1].hdr.type = HFX_MSG_BYE;
    CHECK_STATUS(run(&s, NULL, &c, NULL, 0, &th), HFX_OK);

    CHECK_STATUS(hfx_client_attach_shm(c, -1, 4096, &region), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_attach_shm(c, fd, 0, &region), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_attach_shm(c, fd, HFX_MAX_SHM_SIZE + 1, &region), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_alloc_shm(c, 0, &region), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_alloc_shm(c, HFX_MAX_SHM_SIZE + 1, &region), HFX_E_INVALID);
    CHECK_EQ_INT(region, 0); /* refused requests leave it alone */

    /* Ids of the two kinds never meet: attached ones follow the fd,
     * allocated ones count from the top half. */
    CHECK_STATUS(hfx_client_attach_shm(c, fd, 4096, &region), HFX_OK);
    CHECK_EQ_INT(region, (uint32_t)fd + 1);
    CHECK_STATUS(hfx_client_alloc_shm(c, HFX_MAX_SHM_SIZE, &region), HFX_OK);
    CHECK_EQ_INT(region, 0x80000000u);
    CHECK_STATUS(hfx_client_alloc_shm(c, 4096, &region), HFX_OK);
    CHECK_EQ_INT(region, 0x80000001u);

    CHECK_STATUS(hfx_client_next_event(c, 2000, &ev), HFX_E_CLOSED); /* BYE */
    CHECK_STATUS(hfx_client_attach_shm(c, fd, 4096, &region), HFX_E_CLOSED);
    CHECK_STATUS(hfx_client_alloc_shm(c, 4096, &region), HFX_E_CLOSED);
    /* Bad arguments are told as such whatever the connection's state. */
    CHECK_STATUS(hfx_client_alloc_shm(c, 0, &region), HFX_E_INVALID);
    hfx_client_free(&c);
    pthread_join(th, NULL);
    close(fd);
}

/* A host offering what the client did not ask for: the session has only
 * what both offered (the host would close the connection otherwise). */
static void test_caps_not_asked(void)
{
    static struct script s;
    struct hfx_client *c = NULL;
    struct hfx_client_options o = {.caps = HFX_CAP_INLINE};
    struct hfx_subscribe sub = {.max_fps = 30};
    uint32_t region = 0;
    pthread_t th;

    welcome(&s.replies[0], 1);
    s.replies[0].u.welcome.caps = HFX_CAP_ALL_V1;
    CHECK_STATUS(run(&s, &o, &c, NULL, 0, &th), HFX_OK);
    CHECK_EQ_INT(s.hello.caps, HFX_CAP_INLINE);
    CHECK_EQ_INT(hfx_client_welcome(c)->caps, HFX_CAP_ALL_V1); /* the host's, as sent */
    CHECK_STATUS(hfx_client_attach_shm(c, 0, 4096, &region), HFX_E_UNSUPPORTED);
    CHECK_STATUS(hfx_client_alloc_shm(c, 4096, &region), HFX_E_UNSUPPORTED);
    CHECK_STATUS(hfx_client_subscribe(c, 1, &sub), HFX_E_UNSUPPORTED);
    hfx_client_free(&c);
    pthread_join(th, NULL);
}

static void test_bad_arguments(void)
{
    struct hfx_client *c = NULL;
    char token[HFX_MAX_TOKEN + 2];
    struct hfx_client_options o = {.token = token};

    memset(token, 'x', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    CHECK_STATUS(hfx_client_connect("unix:/nonexistent/sock", &o, &c, NULL, 0), HFX_E_INVALID);
    CHECK_STATUS(hfx_client_connect("bogus", NULL, &c, NULL, 0), HFX_E_ADDRESS);
    CHECK_STATUS(hfx_client_connect("unix:/nonexistent/sock", NULL, &c, NULL, 0), HFX_E_IO);
    CHECK(c == NULL);
    hfx_client_free(&c);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_welcome_and_token),
        CHECK_CASE(test_error_reply),
        CHECK_CASE(test_wrong_version_and_hangup),
        CHECK_CASE(test_events_and_in_flight),
        CHECK_CASE(test_shm_requests),
        CHECK_CASE(test_caps_not_asked),
        CHECK_CASE(test_bad_arguments),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
