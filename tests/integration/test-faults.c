/* SPDX-License-Identifier: MIT */
/*
 * Transport faults (docs/security.md, "Faults"; docs/testing.md, "Fault
 * injection"): a server transport that trickles one byte per call, sleeps
 * and fails at every message boundary of either direction; a client that
 * writes one byte per call and resets its connection at every message
 * boundary of the scripted session (fault-session.h). Each ends in the
 * answers the protocol promises or in a closed connection, and meanwhile
 * a healthy session on the same server keeps encoding, new connections
 * are served, and the server's descriptors come back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libavutil/log.h>

#include "check.h"
#include "fault-session.h"
#include "fault-transport.h"
#include "server-fixture.h"

static const struct hfx_server_options server_opts = {.keyframe_min_interval_ms = 0};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a healthy session next to the faults ---- */

struct healthy {
    pthread_t thread;
    int fd;
    atomic_bool stop;
    atomic_uint checks;
};

/* Every 10 ms: PING -> PONG and a frame -> its PACKET (raw_check_alive),
 * for as long as the faults go on. A failed check ends the test. */
static void *healthy_loop(void *arg)
{
    struct healthy *h = arg;
    uint64_t id = 100;

    while (!atomic_load(&h->stop)) {
        raw_check_alive(h->fd, id++);
        atomic_fetch_add(&h->checks, 1);
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void healthy_start(struct healthy *h, struct fixture *f)
{
    memset(h, 0, sizeof(*h));
    h->fd = fixture_good_session(f);
    CHECK(pthread_create(&h->thread, NULL, healthy_loop, h) == 0);
}

/* Stop the loop; returns how many checks passed. */
static unsigned healthy_stop(struct healthy *h)
{
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    raw_check_alive(h->fd, 99);
    close(h->fd);
    return atomic_load(&h->checks) + 1;
}

/* A new connection is served: HELLO -> WELCOME, PING -> PONG. */
static void check_new_connection(struct fixture *f)
{
    int fd = fixture_raw_conn(f);
    struct hfx_msg m;
    uint8_t buf[256];

    raw_handshake(fd);
    memset(&m, 0, sizeof(m));
    m.hdr.type = HFX_MSG_PING;
    m.u.ping.cookie = 42;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
    CHECK(m.u.ping.cookie == 42);
    close(fd);
}

/* The server closed every connection the faults touched: this process's
 * descriptors are back to `baseline` within 5 s. (Waiting also lets a
 * worker thread that is still exiting after fixture_stop close what glibc
 * opens for a moment when it shrinks the thread's heap.) */
static void wait_fds(int baseline)
{
    int64_t deadline = now_ms() + 5000;
    int n;

    while ((n = check_count_fds()) != baseline && now_ms() < deadline) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(n, baseline);
}

/* ---- one-byte pieces and delays, through the server's own transport ---- */

struct add_fault {
    struct fault_options o;
    int client_fd;
};

static void add_fault_transport(struct hfx_server *srv, void *user)
{
    struct add_fault *a = user;
    struct hfx_transport *t = NULL;

    fault_socketpair(&a->o, &t, &a->client_fd);
    CHECK_STATUS(hfx_server_add_transport(srv, t), HFX_OK);
}

/* The whole script through a server transport with options o, the client
 * writing client_chunk bytes per call: every answer, IDRs where due, every
 * PACKET decodes; a healthy session encodes all along. */
static void clean_run_through(const struct fault_options *o, size_t client_chunk, const char *what)
{
    static const struct fs_expect strict = {.strict = true};
    struct fault_counters counters;
    struct add_fault a = {.client_fd = -1};
    struct fixture f;
    struct healthy h;
    struct fs_result r;
    int64_t t0;

    int fds0 = check_count_fds();
    memset(&counters, 0, sizeof(counters));
    a.o = *o;
    a.o.counters = &counters;
    fixture_start_hook(&f, &server_opts, add_fault_transport, &a);
    healthy_start(&h, &f);
    t0 = now_ms();
    struct fs_client c = {.fd = a.client_fd, .write_chunk = client_chunk};
    fs_run(&c, FS_STEPS, &strict, &r);
    int64_t took = now_ms() - t0;
    CHECK(r.completed);
    CHECK_EQ_INT(r.packets, FS_FRAMES);
    CHECK_EQ_INT(r.frames_decoded, FS_FRAMES);
    close(a.client_fd);
    /* The server ends the session and frees the transport. */
    for (int64_t end = now_ms() + 5000; !atomic_load(&counters.freed) && now_ms() < end;)
        usleep(1000);
    CHECK(atomic_load(&counters.freed));
    unsigned checks = healthy_stop(&h);
    check_new_connection(&f);
    fixture_stop(&f);
    wait_fds(fds0);
    if (o->max_read == 1)
        CHECK(counters.read_calls >= counters.bytes_read);
    if (o->max_write == 1)
        CHECK_EQ_INT(counters.write_calls >= counters.bytes_written, 1);
    printf("%s: %d steps, %u PACKETs (%u IDR), %u decoded; server read %llu bytes in %llu "
           "calls, wrote %llu bytes (%llu messages) in %llu calls; %lld ms; healthy session "
           "checked %u times\n",
           what, r.steps_sent, r.packets, r.idrs, r.frames_decoded,
           (unsigned long long)counters.bytes_read, (unsigned long long)counters.read_calls,
           (unsigned long long)counters.bytes_written, (unsigned long long)counters.msgs_written,
           (unsigned long long)counters.write_calls, (long long)took, checks);
}

static void test_one_byte_server_reads_and_writes(void)
{
    struct fault_options o;

    fault_options_init(&o);
    o.max_read = 1;
    o.max_write = 1;
    clean_run_through(&o, 0, "server 1-byte reads and writes");
}

static void test_one_byte_both_ends(void)
{
    struct fault_options o;

    fault_options_init(&o);
    o.max_read = 1;
    o.max_write = 1;
    clean_run_through(&o, 1, "client 1-byte writes, server 1-byte reads and writes");
}

static void test_delays(void)
{
    struct fault_options o;

    fault_options_init(&o);
    o.max_read = 61;
    o.max_write = 13;
    o.delay_max_us = 1000;
    clean_run_through(&o, 7, "server 61/13-byte pieces, 0-1 ms before every call");
}

/* A plain connection through the listener, the client writing one byte
 * per call: the server's own transport reads whatever has arrived. */
static void test_one_byte_client_writes(void)
{
    static const struct fs_expect strict = {.strict = true};
    struct fixture f;
    struct healthy h;
    struct fs_result r;
    int fds0 = check_count_fds();

    fixture_start(&f, &server_opts);
    healthy_start(&h, &f);
    int fd = fixture_raw_conn(&f);
    struct fs_client c = {.fd = fd, .write_chunk = 1};
    fs_run(&c, FS_STEPS, &strict, &r);
    CHECK(r.completed);
    CHECK_EQ_INT(r.frames_decoded, FS_FRAMES);
    close(fd);
    healthy_stop(&h);
    check_new_connection(&f);
    fixture_stop(&f);
    wait_fds(fds0);
}

/* ---- the server's transport fails at every boundary ---- */

static unsigned server_fault_runs;

/* The script through a transport that fails (status) when `at` is reached
 * on the read side (read) or the write side. */
static void server_fault_once(bool read, struct fault_point at, enum hfx_status status,
                              uint64_t written)
{
    static const struct fs_expect may_close = {.may_close = true};
    struct fault_counters counters;
    struct add_fault a = {.client_fd = -1};
    struct fixture f;
    struct fs_result r;

    int fds0 = check_count_fds();
    memset(&counters, 0, sizeof(counters));
    fault_options_init(&a.o);
    a.o.counters = &counters;
    a.o.fail_status = status;
    if (read)
        a.o.fail_read = at;
    else
        a.o.fail_write = at;
    fixture_start_hook(&f, &server_opts, add_fault_transport, &a);
    int good = fixture_good_session(&f);
    int baseline = check_count_fds();
    struct fs_client c = {.fd = a.client_fd};
    fs_run(&c, FS_STEPS, &may_close, &r);
    char where[160], seen[96];
    fs_describe(&r, seen, sizeof(seen));
    snprintf(where, sizeof(where),
             "%s fails (%s) at message %llu byte %llu: %s, %d steps, "
             "%u messages",
             read ? "read" : "write", hfx_status_name(status), (unsigned long long)at.msg,
             (unsigned long long)at.byte, seen, r.steps_sent, r.messages);
    /* Step `at.msg` reached the server and it closed on its first bytes,
     * which the client sees at the next answer it waits for (BYE has none). */
    if (read && at.msg < FS_STEPS - 1 && (!r.closed || r.steps_sent <= (int)at.msg))
        check_fail(__FILE__, __LINE__, "closed after the read fault", where);
    /* The server wrote exactly the messages before the point. */
    if (!read && at.msg < written && (!r.closed || r.messages != at.msg))
        check_fail(__FILE__, __LINE__, "closed at the write fault", where);
    close(a.client_fd);
    /* Both ends of the socketpair are this process's. */
    wait_fds(baseline - 2);
    CHECK(atomic_load(&counters.freed));
    raw_check_alive(good, 7);
    close(good);
    check_new_connection(&f);
    fixture_stop(&f);
    wait_fds(fds0);
    server_fault_runs++;
}

static void test_server_transport_fails_at_each_boundary(void)
{
    static const enum hfx_status statuses[] = {HFX_E_CLOSED, HFX_E_IO};
    static uint8_t script[FS_STEPS * FS_MAX_STEP];
    size_t off[FS_STEPS + 1];
    int64_t t0 = now_ms();
    /* What the server writes for the script: WELCOME, CONFIGURED, a PACKET
     * per frame, FLUSHED, PONG. */
    const uint64_t written = 2 + FS_FRAMES + 2;

    fs_script_bytes(FS_STEPS, script, sizeof(script), off);
    for (unsigned s = 0; s < 2; s++) {
        for (uint64_t k = 0; k <= FS_STEPS; k++) {
            server_fault_once(true, (struct fault_point){k, 0}, statuses[s], written);
            if (k < FS_STEPS)
                server_fault_once(true, (struct fault_point){k, (off[k + 1] - off[k]) / 2},
                                  statuses[s], written);
        }
        for (uint64_t k = 0; k <= written; k++) {
            server_fault_once(false, (struct fault_point){k, 0}, statuses[s], written);
            if (k < written)
                server_fault_once(false, (struct fault_point){k, 8}, statuses[s], written);
        }
    }
    printf("server transport failed (reset and I/O error) at %u points: %d read boundaries "
           "and their middles, %llu write boundaries and their middles; all closed cleanly, "
           "%lld ms\n",
           server_fault_runs, FS_STEPS + 1, (unsigned long long)written + 1,
           (long long)(now_ms() - t0));
}

/* ---- the client resets its connection at every boundary ---- */

struct tcp_listener {
    uint16_t port;
};

static void add_tcp_listener(struct hfx_server *srv, void *user)
{
    struct tcp_listener *l = user;

    CHECK_STATUS(hfx_server_listen(srv, "tcp:127.0.0.1:0"), HFX_OK);
    l->port = hfx_server_listener_port(srv, 1);
    CHECK(l->port != 0);
}

static int tcp_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    CHECK(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
    return fd;
}

/* rst: SO_LINGER {1, 0}, so that close sends a TCP RST instead of a FIN. */
static void end_connection(int fd, bool rst)
{
    if (rst) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0);
    }
    close(fd);
}

static void test_client_resets_at_each_boundary(void)
{
    static const struct fs_expect strict = {.strict = true};
    static uint8_t script[FS_STEPS * FS_MAX_STEP];
    size_t off[FS_STEPS + 1];
    struct tcp_listener l = {0};
    struct fixture f;
    struct healthy h;
    unsigned resets = 0;
    int64_t t0 = now_ms();
    int64_t worst = 0;

    int fds0 = check_count_fds();
    fs_script_bytes(FS_STEPS, script, sizeof(script), off);
    fixture_start_hook(&f, &server_opts, add_tcp_listener, &l);
    healthy_start(&h, &f);
    int baseline = check_count_fds();
    for (int k = 0; k <= FS_STEPS; k++) {
        for (int rst = 0; rst < 2; rst++) {
            /* timing 0: the bytes of steps 0..k-1 in one write, then the
             * end at once; 1: steps 0..k-1 one at a time with their answers
             * (frames encoded, the stream live), then the end; 2: as 0,
             * but the end in the middle of step k. */
            for (int timing = 0; timing < 3; timing++) {
                if (timing == 2 && k == FS_STEPS)
                    continue;
                int fd = tcp_connect(l.port);
                if (timing == 1) {
                    struct fs_result r;
                    struct fs_client c = {.fd = fd};
                    fs_run(&c, k, &strict, &r);
                    CHECK(r.completed);
                } else {
                    size_t len = timing == 0 ? off[k] : off[k] + (off[k + 1] - off[k]) / 2;
                    raw_send_bytes(fd, script, len);
                }
                int64_t t = now_ms();
                end_connection(fd, rst);
                /* The server ends the session: its descriptor goes. */
                wait_fds(baseline);
                check_new_connection(&f);
                if (now_ms() - t > worst)
                    worst = now_ms() - t;
                resets++;
            }
        }
    }
    unsigned checks = healthy_stop(&h);
    fixture_stop(&f);
    wait_fds(fds0);
    printf("client ended its connection %u times (RST and FIN; at the %d boundaries of the "
           "script at once, after their answers, and in the middle of each step): the server "
           "closed every one and served a new connection within %lld ms at worst; healthy "
           "session checked %u times; %lld ms\n",
           resets, FS_STEPS + 1, (long long)worst, checks, (long long)(now_ms() - t0));
}

/* ---- every FLUSH gets its FLUSHED, whatever ends the stream ---- */

/* FRAMEs, two FLUSHes and CLOSE in one write, so that the stream ends
 * while the worker still encodes: every frame gets one answer, in order,
 * and each FLUSH its FLUSHED after them (§5.8; the second FLUSH used to be
 * folded into the first, and a FLUSH the worker had not reached when CLOSE
 * came went unanswered). Repeated, since where CLOSE lands varies. */
static void test_every_flush_answered_when_the_stream_ends(void)
{
    static uint8_t out[4 * FS_MAX_STEP], buf[1 << 16];
    struct fixture f;
    struct hfx_msg m;
    unsigned flushed_total = 0, closed_drops = 0;
    int fds0 = check_count_fds();

    fixture_start(&f, &server_opts);
    for (int round = 0; round < 20; round++) {
        int fd = fixture_raw_conn(&f);
        size_t len = 0, n = 0;
        uint64_t next = 1;
        unsigned flushed = 0;

        raw_handshake(fd);
        raw_configure(fd, FS_STREAM, HFX_FORMAT_NV12, FS_W, FS_H);
        /* Steps 2-4 of the script are FRAMEs 1-3. */
        for (int i = 2; i <= 4; i++)
            len += fs_step_bytes(i, out + len, sizeof(out) - len);
        for (int i = 0; i < 3; i++) {
            memset(&m, 0, sizeof(m));
            m.hdr.type = i < 2 ? HFX_MSG_FLUSH : HFX_MSG_CLOSE;
            m.hdr.stream = FS_STREAM;
            CHECK_STATUS(hfx_msg_encode(&m, 0, out + len, sizeof(out) - len, &n), HFX_OK);
            len += n;
        }
        memset(&m, 0, sizeof(m));
        m.hdr.type = HFX_MSG_PING;
        m.u.ping.cookie = 9;
        CHECK_STATUS(hfx_msg_encode(&m, 0, out + len, sizeof(out) - len, &n), HFX_OK);
        len += n;
        raw_send_bytes(fd, out, len);
        for (;;) {
            CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
            if (m.hdr.type == HFX_MSG_PONG)
                break;
            if (m.hdr.type == HFX_MSG_FLUSHED) {
                CHECK_EQ_INT(next, 4); /* after every frame's answer */
                flushed++;
                continue;
            }
            if (m.hdr.type == HFX_MSG_FRAME_DROPPED) {
                CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_CLOSED);
                CHECK(m.u.dropped.frame_id == next);
                closed_drops++;
            } else {
                CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
                CHECK(m.u.packet.frame_id == next);
            }
            next++;
        }
        CHECK_EQ_INT(next, 4);
        CHECK_EQ_INT(flushed, 2);
        flushed_total += flushed;
        close(fd);
    }
    fixture_stop(&f);
    wait_fds(fds0);
    printf("20 rounds of 3 FRAMEs, FLUSH, FLUSH, CLOSE: %u FLUSHED, %u frames dropped CLOSED\n",
           flushed_total, closed_drops);
}

int main(void)
{
    av_log_set_level(AV_LOG_QUIET);
    static const struct check_case cases[] = {
        CHECK_CASE(test_one_byte_server_reads_and_writes),
        CHECK_CASE(test_one_byte_client_writes),
        CHECK_CASE(test_one_byte_both_ends),
        CHECK_CASE(test_delays),
        CHECK_CASE(test_client_resets_at_each_boundary),
        CHECK_CASE(test_server_transport_fails_at_each_boundary),
        CHECK_CASE(test_every_flush_answered_when_the_stream_ends),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
