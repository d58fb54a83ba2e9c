/* SPDX-License-Identifier: MIT */
/*
 * The fault-injecting transport (fault-transport.h): an ops table
 * (lib/transport-private.h) around a real transport.
 */
#include "fault-transport.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hfx/protocol.h"
#include "transport-private.h"

/* Follows message boundaries in one direction of the stream. */
struct framer {
    uint64_t msgs;  /* whole messages passed */
    uint64_t pos;   /* bytes of the current message passed */
    uint64_t total; /* the current message's size, once its header passed; else 0 */
    uint8_t hdr[HFX_HEADER_SIZE];
};

struct fault_transport {
    struct hfx_transport base; /* first: hfx_transport_free frees the wrapper */
    struct hfx_transport *inner;
    struct fault_options o;
    struct framer rx;
    struct framer tx;
    bool failed;
    uint32_t rng;
};

void fault_options_init(struct fault_options *o)
{
    memset(o, 0, sizeof(*o));
    o->fail_read.msg = FAULT_NEVER;
    o->fail_write.msg = FAULT_NEVER;
    o->fail_status = HFX_E_CLOSED;
}

static void framer_advance(struct framer *f, const uint8_t *p, size_t n)
{
    while (n) {
        if (f->pos < HFX_HEADER_SIZE) {
            f->hdr[f->pos++] = *p++;
            n--;
            if (f->pos == HFX_HEADER_SIZE) {
                /* §2.1: length is the little-endian u32 at offset 12. */
                uint32_t len = (uint32_t)f->hdr[12] | (uint32_t)f->hdr[13] << 8 |
                               (uint32_t)f->hdr[14] << 16 | (uint32_t)f->hdr[15] << 24;
                f->total = HFX_HEADER_SIZE + (uint64_t)len;
            }
        } else {
            uint64_t take = f->total - f->pos;
            if (take > n)
                take = n;
            f->pos += take;
            p += take;
            n -= (size_t)take;
        }
        if (f->total && f->pos == f->total) {
            f->msgs++;
            f->pos = 0;
            f->total = 0;
        }
    }
}

/* Bytes that may pass now without going beyond the failure point p; 0 when
 * it is reached. Before the point's message, the limit is the end of what
 * the framer can see (the current header, or the current message), so that
 * a call never skips over the point. */
static uint64_t framer_allowed(const struct framer *f, const struct fault_point *p)
{
    if (p->msg == FAULT_NEVER)
        return UINT64_MAX;
    if (f->msgs > p->msg)
        return 0;
    if (f->msgs == p->msg)
        return p->byte > f->pos ? p->byte - f->pos : 0;
    if (f->pos < HFX_HEADER_SIZE)
        return HFX_HEADER_SIZE - f->pos;
    return f->total - f->pos;
}

static void delay(struct fault_transport *ft)
{
    if (!ft->o.delay_max_us)
        return;
    ft->rng = ft->rng * 1103515245u + 12345u;
    unsigned us = (ft->rng >> 8) % (ft->o.delay_max_us + 1);
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static enum hfx_status fail(struct fault_transport *ft)
{
    if (!ft->failed && ft->o.counters)
        atomic_store(&ft->o.counters->failed, 1);
    ft->failed = true;
    return ft->o.fail_status;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static enum hfx_status fault_writev(struct hfx_transport *t, const struct iovec *iov, int n,
                                    int pass_fd, size_t *written)
{
    struct fault_transport *ft = (struct fault_transport *)t;
    struct iovec cut[16];
    uint64_t total = 0;
    uint64_t limit;
    int cn = 0;
    enum hfx_status st;

    delay(ft);
    if (ft->o.counters)
        atomic_fetch_add(&ft->o.counters->write_calls, 1);
    if (ft->failed)
        return ft->o.fail_status;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    limit = min_u64(total, framer_allowed(&ft->tx, &ft->o.fail_write));
    if (ft->o.max_write)
        limit = min_u64(limit, ft->o.max_write);
    if (limit == 0)
        return fail(ft);
    /* "As much as the transport takes": a shorter vector is a short write. */
    for (int i = 0; i < n && cn < 16 && limit; i++) {
        if (!iov[i].iov_len)
            continue;
        cut[cn].iov_base = iov[i].iov_base;
        cut[cn].iov_len = (size_t)min_u64(iov[i].iov_len, limit);
        limit -= cut[cn].iov_len;
        cn++;
    }
    st = ft->inner->ops->writev(ft->inner, cut, cn, pass_fd, written);
    if (st != HFX_OK)
        return st;
    size_t left = *written;
    for (int i = 0; i < cn && left; i++) {
        size_t k = cut[i].iov_len < left ? cut[i].iov_len : left;
        uint64_t before = ft->tx.msgs;
        framer_advance(&ft->tx, cut[i].iov_base, k);
        if (ft->o.counters)
            atomic_fetch_add(&ft->o.counters->msgs_written, ft->tx.msgs - before);
        left -= k;
    }
    if (ft->o.counters)
        atomic_fetch_add(&ft->o.counters->bytes_written, *written);
    return HFX_OK;
}

static enum hfx_status fault_read(struct hfx_transport *t, void *buf, size_t cap, size_t *got,
                                  int *fds, int *nfds)
{
    struct fault_transport *ft = (struct fault_transport *)t;
    uint64_t limit;
    enum hfx_status st;

    delay(ft);
    if (ft->o.counters)
        atomic_fetch_add(&ft->o.counters->read_calls, 1);
    if (ft->failed)
        return ft->o.fail_status;
    limit = min_u64(cap, framer_allowed(&ft->rx, &ft->o.fail_read));
    if (ft->o.max_read)
        limit = min_u64(limit, ft->o.max_read);
    if (limit == 0)
        return fail(ft);
    st = ft->inner->ops->read(ft->inner, buf, (size_t)limit, got, fds, nfds);
    if (st != HFX_OK)
        return st;
    uint64_t before = ft->rx.msgs;
    framer_advance(&ft->rx, buf, *got);
    if (ft->o.counters) {
        atomic_fetch_add(&ft->o.counters->bytes_read, *got);
        atomic_fetch_add(&ft->o.counters->msgs_read, ft->rx.msgs - before);
    }
    return HFX_OK;
}

/* The common code closes base.fd (inner's descriptor) and frees the
 * wrapper; inner goes here without closing the descriptor twice. */
static void fault_free(struct hfx_transport *t)
{
    struct fault_transport *ft = (struct fault_transport *)t;

    if (ft->inner->ops->free)
        ft->inner->ops->free(ft->inner);
    free(ft->inner);
    ft->inner = NULL;
    if (ft->o.counters)
        atomic_store(&ft->o.counters->freed, 1);
}

static const struct hfx_transport_ops fault_ops = {
    .writev = fault_writev,
    .read = fault_read,
    .free = fault_free,
};

enum hfx_status fault_transport_wrap(struct hfx_transport *inner, const struct fault_options *o,
                                     struct hfx_transport **out)
{
    struct fault_transport *ft = calloc(1, sizeof(*ft));

    *out = NULL;
    if (!ft) {
        hfx_transport_free(&inner);
        return HFX_E_NOMEM;
    }
    ft->base.ops = &fault_ops;
    ft->base.kind = inner->kind;
    ft->base.fd = inner->fd;
    ft->base.can_pass_fds = inner->can_pass_fds;
    ft->inner = inner;
    ft->o = *o;
    ft->rng = 0x2545f491u;
    *out = &ft->base;
    return HFX_OK;
}

void fault_socketpair(const struct fault_options *o, struct hfx_transport **server_t,
                      int *client_fd)
{
    struct hfx_transport *inner = NULL;
    int sv[2];

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK_STATUS(hfx_transport_from_fd(sv[0], HFX_ADDR_UNIX, &inner), HFX_OK);
    CHECK_STATUS(fault_transport_wrap(inner, o, server_t), HFX_OK);
    *client_fd = sv[1];
}
