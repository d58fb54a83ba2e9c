/* SPDX-License-Identifier: MIT */
#include "transport-util.h"

#include <poll.h>
#include <string.h>

#include "check.h"

void xfer_wait(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    CHECK(poll(&p, 1, XFER_WAIT_MS) == 1);
}

struct hfx_address xfer_addr(const char *text)
{
    struct hfx_address a;
    if (hfx_address_parse(text, &a) != HFX_OK)
        check_fail(__FILE__, __LINE__, "address parses", text);
    return a;
}

void xfer_write_all(struct hfx_transport *t, const void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        struct iovec v = {.iov_base = (char *)buf + done, .iov_len = n - done};
        size_t w = 0;
        enum hfx_status st = hfx_transport_writev(t, &v, 1, -1, &w);
        if (st == HFX_INCOMPLETE) {
            CHECK_EQ_INT(w, 0);
            xfer_wait(hfx_transport_fd(t), POLLOUT);
            continue;
        }
        CHECK_STATUS(st, HFX_OK);
        CHECK(w > 0 && w <= n - done);
        done += w;
    }
}

void xfer_read_exact(struct hfx_transport *t, void *buf, size_t n)
{
    size_t done = 0;

    while (done < n) {
        size_t got = 0;
        enum hfx_status st =
            hfx_transport_read(t, (char *)buf + done, n - done, &got, NULL, NULL);
        if (st == HFX_INCOMPLETE) {
            xfer_wait(hfx_transport_fd(t), POLLIN);
            continue;
        }
        CHECK_STATUS(st, HFX_OK);
        done += got;
    }
}

void xfer_exchange(struct hfx_transport *a, struct hfx_transport *b)
{
    char buf[16];

    xfer_write_all(a, "ping from a", 11);
    xfer_read_exact(b, buf, 11);
    CHECK(memcmp(buf, "ping from a", 11) == 0);
    xfer_write_all(b, "pong from b", 11);
    xfer_read_exact(a, buf, 11);
    CHECK(memcmp(buf, "pong from b", 11) == 0);
}

struct hfx_transport *xfer_accept(struct hfx_listener *l)
{
    struct hfx_transport *t = NULL;
    enum hfx_status st;

    while ((st = hfx_listener_accept(l, &t)) == HFX_INCOMPLETE)
        xfer_wait(hfx_listener_fd(l), POLLIN);
    CHECK_STATUS(st, HFX_OK);
    return t;
}

void xfer_connect_pair(const char *text, struct hfx_listener *l, struct hfx_transport **client,
                       struct hfx_transport **server)
{
    struct hfx_address a = xfer_addr(text);

    CHECK_STATUS(hfx_transport_connect(&a, XFER_WAIT_MS, client), HFX_OK);
    *server = xfer_accept(l);
    CHECK_EQ_INT(hfx_transport_kind(*client), a.kind);
    CHECK_EQ_INT(hfx_transport_kind(*server), a.kind);
    CHECK(hfx_transport_can_pass_fds(*client) == (a.kind == HFX_ADDR_UNIX));
    CHECK(hfx_transport_can_pass_fds(*server) == (a.kind == HFX_ADDR_UNIX));
}
