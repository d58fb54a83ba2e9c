/* SPDX-License-Identifier: MIT */
/* Message framing over a socketpair: whole messages out of any split of the
 * byte stream, bounded queues, descriptors, payload hand-over. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "conn.h"

static void pair(struct hfx_conn **a, struct hfx_conn **b, const struct hfx_conn_options *opts)
{
    int sv[2];
    struct hfx_transport *ta = NULL, *tb = NULL;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, &ta), HFX_OK);
    CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_UNIX, &tb), HFX_OK);
    CHECK_STATUS(hfx_conn_new(ta, opts, a), HFX_OK);
    CHECK_STATUS(hfx_conn_new(tb, opts, b), HFX_OK);
}

static void ping(struct hfx_msg *m, uint64_t cookie)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = HFX_MSG_PING;
    m->u.ping.cookie = cookie;
}

/* Read until a message is complete (1 s limit). */
static enum hfx_status recv_one(struct hfx_conn *c, struct hfx_msg *m)
{
    for (int i = 0; i < 100; i++) {
        enum hfx_status st = hfx_conn_next(c, m);
        if (st != HFX_INCOMPLETE)
            return st;
        struct pollfd p = {.fd = hfx_conn_fd(c), .events = POLLIN};
        poll(&p, 1, 10);
        st = hfx_conn_read(c);
        if (st != HFX_OK && st != HFX_INCOMPLETE)
            return st;
    }
    return HFX_E_TIMEOUT;
}

static void test_messages_in_order(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;

    pair(&a, &b, NULL);
    for (uint64_t i = 0; i < 100; i++) {
        ping(&m, i);
        CHECK_STATUS(hfx_conn_send_msg(a, &m), HFX_OK);
    }
    for (uint64_t i = 0; i < 100; i++) {
        CHECK_STATUS(recv_one(b, &m), HFX_OK);
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_PING);
        CHECK(m.u.ping.cookie == i);
    }
    CHECK_STATUS(hfx_conn_next(b, &m), HFX_INCOMPLETE);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
    CHECK(a == NULL && b == NULL);
    hfx_conn_free(&a); /* NULL-safe */
}

/* A PACKET whose bytes arrive one at a time still comes out whole, once. */
static void test_byte_at_a_time(void)
{
    int sv[2];
    struct hfx_transport *t = NULL;
    struct hfx_conn *c = NULL;
    struct hfx_msg m;
    uint8_t head[HFX_MAX_HEAD], au[300];
    size_t n = 0;
    struct hfx_conn_options o = {.max_payload = 4096};

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, &t), HFX_OK);
    CHECK_STATUS(hfx_conn_new(t, &o, &c), HFX_OK);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PACKET;
    m.hdr.stream = 2;
    m.u.packet.frame_id = 77;
    for (size_t i = 0; i < sizeof(au); i++)
        au[i] = (uint8_t)i;
    CHECK_STATUS(hfx_msg_encode(&m, sizeof(au), head, sizeof(head), &n), HFX_OK);
    memcpy(head + n, au, sizeof(au));
    n += sizeof(au);
    for (size_t i = 0; i < n; i++) {
        CHECK_STATUS(hfx_conn_next(c, &m), HFX_INCOMPLETE);
        CHECK(write(sv[1], head + i, 1) == 1);
        CHECK_STATUS(hfx_conn_read(c), HFX_OK);
    }
    CHECK_STATUS(hfx_conn_next(c, &m), HFX_OK);
    CHECK(m.u.packet.frame_id == 77);
    CHECK(m.u.packet.data_len == sizeof(au));
    CHECK(memcmp(m.u.packet.data, au, sizeof(au)) == 0);
    CHECK_EQ_INT(hfx_conn_buffered(c), 0);
    CHECK_STATUS(hfx_conn_next(c, &m), HFX_INCOMPLETE);
    close(sv[1]);
    CHECK_STATUS(hfx_conn_read(c), HFX_E_CLOSED);
    hfx_conn_free(&c);
}

static void test_oversized_and_garbage(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    struct hfx_conn_options o = {.max_payload = 1024};
    int fd;

    pair(&a, &b, &o);
    fd = hfx_conn_fd(a);
    /* A PACKET header announcing 2048 bytes: over this conn's maximum. */
    static const uint8_t big[16] = {0x48, 0x46, 0x58, 0x31, 0x03, 0x01, 0, 0, 1, 0, 0, 0,
                                    0x00, 0x08, 0, 0};
    CHECK(write(fd, big, sizeof(big)) == sizeof(big));
    CHECK_STATUS(recv_one(b, &m), HFX_E_TOO_LARGE);
    hfx_conn_free(&a);
    hfx_conn_free(&b);

    pair(&a, &b, &o);
    CHECK(write(hfx_conn_fd(a), "GET / HTTP/1.1\r\n", 16) == 16);
    CHECK_STATUS(recv_one(b, &m), HFX_E_BAD_MAGIC);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* A peer that sends far more than one message may be long before we read
 * at all: the reader stops at the buffer's limit and the parser gets to say
 * what is wrong (here: the magic), instead of a read error. */
static void test_flood_before_first_read(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    static uint8_t junk[1 << 20];
    struct hfx_conn_options o = {.max_payload = 4096};
    size_t sent = 0;

    pair(&a, &b, &o);
    memset(junk, 0x5a, sizeof(junk));
    int fd = hfx_conn_fd(a);
    int fl = fcntl(fd, F_GETFL);
    int big = 4 << 20;
    CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
    /* Room for the whole flood in the socket (root may exceed wmem_max). */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
        CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) == 0);
    for (;;) {
        ssize_t n = send(fd, junk + sent, sizeof(junk) - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    CHECK(sent > 300 * 1024); /* more than one read buffer's worth is waiting */
    CHECK_STATUS(hfx_conn_read(b), HFX_OK);
    CHECK_STATUS(hfx_conn_next(b, &m), HFX_E_BAD_MAGIC);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* A peer that sends small messages faster than they are handled: one read
 * takes what the next message needs and a chunk more, not everything the
 * socket holds (hfxd under a PING flood kept up to 16 MiB per connection). */
static void test_read_bounded_by_message(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    static uint8_t pings[24 * 4096];
    struct hfx_conn_options o = {.max_payload = 64u << 20};
    size_t len = 0, sent = 0;

    pair(&a, &b, &o);
    for (unsigned i = 0; i < 4096; i++) {
        size_t used = 0;
        ping(&m, i);
        CHECK_STATUS(hfx_msg_encode(&m, 0, pings + len, sizeof(pings) - len, &used), HFX_OK);
        len += used;
    }
    int fd = hfx_conn_fd(a);
    int big = 8 << 20;
    CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
        CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) == 0);
    for (;;) {
        ssize_t n = send(fd, pings + sent % len, len - sent % len, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    if (sent < (2u << 20)) {
        printf("bound not shown: only %zu bytes fit in the socket "
               "(SO_SNDBUFFORCE needs CAP_NET_ADMIN)\n", sent);
    } else {
        CHECK_STATUS(hfx_conn_read(b), HFX_OK);
        printf("%zu bytes waiting, one read took %zu\n", sent, hfx_conn_buffered(b));
        CHECK(hfx_conn_buffered(b) <= 512u * 1024u);
        /* Every PING still arrives, in order. */
        for (size_t i = 0; i < sent / 24; i++) {
            CHECK_STATUS(recv_one(b, &m), HFX_OK);
            CHECK(m.hdr.type == HFX_MSG_PING && m.u.ping.cookie == i % 4096);
        }
    }
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* The peer does not read: the queue grows to its maximum and then refuses
 * (nothing is queued half). */
static void test_slow_consumer(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    static uint8_t au[64 * 1024];
    struct iovec tail = {au, sizeof(au)};
    struct hfx_conn_options o = {.max_payload = HFX_MAX_PAYLOAD_HARD, .max_queued = 1 << 20};
    enum hfx_status st = HFX_OK;
    int sent = 0;

    pair(&a, &b, &o);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PACKET;
    m.hdr.stream = 1;
    while (st == HFX_OK && sent < 1000) {
        st = hfx_conn_send(a, &m, &tail, 1, -1);
        if (st == HFX_OK)
            sent++;
    }
    CHECK_STATUS(st, HFX_E_SLOW_CONSUMER);
    CHECK(hfx_conn_want_write(a));
    CHECK(hfx_conn_queued(a) <= (size_t)(1 << 20));
    /* Everything accepted arrives intact once the peer reads. */
    for (int i = 0; i < sent; i++) {
        CHECK_STATUS(hfx_conn_flush(a), HFX_OK);
        CHECK_STATUS(recv_one(b, &m), HFX_OK);
        CHECK(m.u.packet.data_len == sizeof(au));
    }
    CHECK(!hfx_conn_want_write(a));
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* send_wait: with a stalled peer it gives up at the deadline, queues the
 * rest, and the message still arrives whole later. */
static void test_send_wait_timeout(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    static uint8_t au[4 << 20];
    struct iovec tail = {au, sizeof(au)};
    struct hfx_conn_options o = {.max_payload = HFX_MAX_PAYLOAD_HARD};

    pair(&a, &b, &o);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PACKET;
    m.hdr.stream = 1;
    au[sizeof(au) - 1] = 0x5a;
    CHECK_STATUS(hfx_conn_send_wait(a, &m, &tail, 1, -1, 50), HFX_OK);
    CHECK(hfx_conn_want_write(a));
    for (int i = 0; i < 1000 && hfx_conn_want_write(a); i++) {
        CHECK_STATUS(hfx_conn_flush(a), HFX_OK);
        if (hfx_conn_read(b) == HFX_E_CLOSED)
            break;
    }
    CHECK_STATUS(hfx_conn_flush_wait(a, 1000), HFX_OK);
    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK(m.u.packet.data_len == sizeof(au));
    CHECK(m.u.packet.data[sizeof(au) - 1] == 0x5a);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* SHM_ATTACH's descriptor rides with the message; take_payload keeps a
 * FRAME's bytes alive past the next message. */
static void test_fd_and_payload_handover(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    struct hfx_conn_options o = {.max_payload = 1 << 20};
    uint8_t data[1000];
    struct iovec tail = {data, sizeof(data)};
    void *block = NULL;
    int mfd = memfd_create("t", MFD_CLOEXEC);

    CHECK(mfd >= 0);
    pair(&a, &b, &o);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_SHM_ATTACH;
    m.u.shm_attach.region = 3;
    m.u.shm_attach.size = 4096;
    CHECK_STATUS(hfx_conn_send(a, &m, NULL, 0, mfd), HFX_OK);
    close(mfd);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_FRAME;
    m.hdr.stream = 1;
    m.u.frame.source = HFX_SOURCE_INLINE;
    m.u.frame.plane_count = 1;
    m.u.frame.planes[0].stride = 4;
    memset(data, 0xab, sizeof(data));
    CHECK_STATUS(hfx_conn_send(a, &m, &tail, 1, -1), HFX_OK);
    ping(&m, 9);
    CHECK_STATUS(hfx_conn_send_msg(a, &m), HFX_OK);

    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_SHM_ATTACH);
    int got = hfx_conn_take_fd(b);
    CHECK(got >= 0);
    CHECK_EQ_INT(hfx_conn_take_fd(b), -1);
    close(got);
    CHECK_STATUS(hfx_conn_take_payload(b, &block), HFX_OK); /* any message can be taken */
    free(block);
    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME);
    CHECK_STATUS(hfx_conn_take_payload(b, &block), HFX_OK);
    void *again = NULL;
    CHECK_STATUS(hfx_conn_take_payload(b, &again), HFX_E_STATE);
    CHECK(again == NULL);
    const uint8_t *frame_data = m.u.frame.data;
    CHECK_STATUS(recv_one(b, &m), HFX_OK); /* the PING after it */
    CHECK(m.u.ping.cookie == 9);
    CHECK(frame_data[0] == 0xab && frame_data[sizeof(data) - 1] == 0xab);
    free(block);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* A descriptor belongs to the message it came with (docs/protocol.md §7):
 * one sent with a PING is not there for a later SHM_ATTACH, and is closed
 * once the messages it came with are past. */
static void test_fd_belongs_to_its_message(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    int mfd = memfd_create("t", MFD_CLOEXEC);

    CHECK(mfd >= 0);
    pair(&a, &b, NULL);
    ping(&m, 1);
    CHECK_STATUS(hfx_conn_send(a, &m, NULL, 0, mfd), HFX_OK);
    ping(&m, 2);
    CHECK_STATUS(hfx_conn_send_msg(a, &m), HFX_OK);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_SHM_ATTACH;
    m.u.shm_attach.region = 3;
    m.u.shm_attach.size = 4096;
    CHECK_STATUS(hfx_conn_send_msg(a, &m), HFX_OK);
    close(mfd);
    int before = check_count_fds(); /* the descriptor is in flight */
    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK(m.u.ping.cookie == 1);
    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK(m.u.ping.cookie == 2);
    /* The PING's descriptor is gone: closed, not kept. */
    CHECK_EQ_INT(check_count_fds(), before);
    CHECK_STATUS(recv_one(b, &m), HFX_OK);
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_SHM_ATTACH);
    CHECK_EQ_INT(hfx_conn_take_fd(b), -1);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

/* Small messages are counted with what they cost to queue: a peer that
 * never reads PONGs holds at most max_queued bytes of memory, headers
 * included (and one ERROR's reserve), and everything queued still arrives
 * in order. */
static void test_small_messages_count_their_memory(void)
{
    struct hfx_conn *a, *b;
    struct hfx_msg m;
    struct hfx_conn_options o = {.max_queued = 1 << 20};
    enum hfx_status st = HFX_OK;
    uint64_t sent = 0;

    pair(&a, &b, &o);
    while (st == HFX_OK && sent < 10000000) {
        ping(&m, sent);
        st = hfx_conn_send_msg(a, &m);
        if (st == HFX_OK)
            sent++;
    }
    CHECK_STATUS(st, HFX_E_SLOW_CONSUMER);
    CHECK(hfx_conn_queued_memory(a) <= (size_t)(1 << 20));
    /* Nearly all of it is message bytes, not per-message headers. */
    CHECK(hfx_conn_queued(a) > (size_t)(1 << 20) * 9 / 10);
    /* One ERROR still fits, to tell the peer why; the reserve holds one
     * small chunk, so a stream of ERRORs stops too. */
    struct hfx_msg err;
    unsigned errors = 0;
    memset(&err, 0, sizeof(err));
    err.hdr.type = HFX_MSG_ERROR;
    err.u.error.code = HFX_E_SLOW_CONSUMER;
    memset(err.u.error.text, 'x', HFX_MAX_TEXT);
    while (errors < 1000 && hfx_conn_send_msg(a, &err) == HFX_OK)
        errors++;
    CHECK(errors >= 1 && errors < 1000);
    CHECK(hfx_conn_queued_memory(a) <= (size_t)(1 << 20) + 2 * 4096);
    for (uint64_t i = 0; i < sent; i++) {
        CHECK_STATUS(hfx_conn_flush(a), HFX_OK);
        CHECK_STATUS(recv_one(b, &m), HFX_OK);
        CHECK(m.u.ping.cookie == i);
    }
    for (unsigned i = 0; i < errors; i++) {
        CHECK_STATUS(hfx_conn_flush(a), HFX_OK);
        CHECK_STATUS(recv_one(b, &m), HFX_OK);
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
        CHECK_EQ_INT(m.u.error.code, HFX_E_SLOW_CONSUMER);
    }
    CHECK(!hfx_conn_want_write(a));
    CHECK_EQ_INT(hfx_conn_queued_memory(a), 0);
    hfx_conn_free(&a);
    hfx_conn_free(&b);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_messages_in_order),
        CHECK_CASE(test_byte_at_a_time),
        CHECK_CASE(test_oversized_and_garbage),
        CHECK_CASE(test_flood_before_first_read),
        CHECK_CASE(test_read_bounded_by_message),
        CHECK_CASE(test_slow_consumer),
        CHECK_CASE(test_send_wait_timeout),
        CHECK_CASE(test_fd_and_payload_handover),
        CHECK_CASE(test_fd_belongs_to_its_message),
        CHECK_CASE(test_small_messages_count_their_memory),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
