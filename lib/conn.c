/* SPDX-License-Identifier: MIT */
/*
 * Message framing over a transport (conn.h).
 *
 * Receive side: one growable buffer that holds at most one whole message
 * plus the start of the next; its size is bounded by the negotiated payload
 * maximum, so a peer cannot make us allocate more than that.
 * Send side: bytes go straight to the transport; only what it does not take
 * is copied into a bounded queue of chunks.
 */
#include "conn.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

#define DEFAULT_MAX_QUEUED (64u * 1024u * 1024u)
#define READ_CHUNK (256u * 1024u)
#define MAX_HELD_FDS 16
/* Small messages share chunks of this size: a PONG in a chunk of its own
 * would cost three times its bytes in headers. */
#define CHUNK_MIN 4096u
/* What malloc adds to a block, counted so that the cap is on memory. */
#define MALLOC_OVERHEAD 16u
/* An ERROR may go this far over the cap (one small chunk's memory), so that
 * the peer whose queue overflowed can still be told why it is closed
 * (docs/protocol.md section 6). */
#define ERROR_RESERVE (sizeof(struct out_chunk) + CHUNK_MIN + MALLOC_OVERHEAD)

struct out_chunk {
    struct out_chunk *next;
    size_t cap;
    size_t len;
    size_t off;
    int fd; /* dup'ed descriptor to send with the first byte, or -1 */
    uint8_t data[];
};

/* A descriptor received with the bytes [start, end) of the stream
 * (SCM_RIGHTS comes with the bytes of one receive call). */
struct held_fd {
    int fd;
    uint64_t start;
    uint64_t end;
};

struct hfx_conn {
    struct hfx_transport *t;
    uint32_t max_payload;
    size_t max_queued;

    uint8_t *in;
    size_t in_cap;
    size_t in_off; /* first unconsumed byte */
    size_t in_len; /* end of received bytes */
    size_t msg_len; /* bytes of the message last returned by next() */
    size_t want;    /* total bytes of the message being received, or 0 */
    bool eof;

    struct held_fd fds[MAX_HELD_FDS];
    int nfds;
    uint64_t rx_total; /* stream offset of in[in_len] */
    uint64_t msg_start; /* stream offset of the message last returned */

    struct out_chunk *head;
    struct out_chunk *tail;
    size_t queued;  /* bytes waiting to be written */
    unsigned queued_fds; /* descriptors waiting to go with them */
    size_t charged; /* memory the queue holds, chunk headers included */

    struct hfx_wire_error last_error;
};

enum hfx_status hfx_conn_new(struct hfx_transport *t, const struct hfx_conn_options *opts,
                             struct hfx_conn **out)
{
    struct hfx_conn *c;

    *out = NULL;
    if (!t)
        return HFX_E_INVALID;
    c = calloc(1, sizeof(*c));
    if (!c) {
        hfx_transport_free(&t);
        return HFX_E_NOMEM;
    }
    c->t = t;
    c->max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
    c->max_queued = DEFAULT_MAX_QUEUED;
    if (opts) {
        if (opts->max_payload)
            c->max_payload = opts->max_payload;
        if (opts->max_queued)
            c->max_queued = opts->max_queued;
    }
    if (c->max_payload > HFX_MAX_PAYLOAD_HARD)
        c->max_payload = HFX_MAX_PAYLOAD_HARD;
    *out = c;
    return HFX_OK;
}

void hfx_conn_set_max_payload(struct hfx_conn *c, uint32_t max_payload)
{
    c->max_payload = max_payload > HFX_MAX_PAYLOAD_HARD ? HFX_MAX_PAYLOAD_HARD : max_payload;
}

struct hfx_transport *hfx_conn_transport(struct hfx_conn *c)
{
    return c->t;
}

int hfx_conn_fd(const struct hfx_conn *c)
{
    return hfx_transport_fd(c->t);
}

bool hfx_conn_want_write(const struct hfx_conn *c)
{
    return c->head != NULL;
}

size_t hfx_conn_queued(const struct hfx_conn *c)
{
    return c->queued;
}

unsigned hfx_conn_queued_fds(const struct hfx_conn *c)
{
    return c->queued_fds;
}

size_t hfx_conn_queued_memory(const struct hfx_conn *c)
{
    return c->charged;
}

static size_t chunk_charge(const struct out_chunk *ch)
{
    return sizeof(*ch) + ch->cap + MALLOC_OVERHEAD;
}

static void free_chunk(struct hfx_conn *c, struct out_chunk *ch)
{
    c->charged -= chunk_charge(ch);
    if (ch->fd >= 0) {
        close(ch->fd);
        c->queued_fds--;
    }
    free(ch);
}

/* Copy iov (skipping the first `skip` bytes) into one queued chunk. */
static enum hfx_status queue_rest(struct hfx_conn *c, const struct iovec *iov, int n,
                                  size_t skip, size_t total, int pass_fd)
{
    size_t len = total - skip;
    struct out_chunk *ch = c->tail;
    size_t pos;

    if (len == 0)
        return HFX_OK;
    /* Append to the last chunk when it has room; a descriptor must go
     * with the first byte of a chunk of its own. */
    if (!ch || pass_fd >= 0 || ch->cap - ch->len < len) {
        size_t cap = len < CHUNK_MIN ? CHUNK_MIN : len;
        ch = malloc(sizeof(*ch) + cap);
        if (!ch)
            return HFX_E_NOMEM;
        ch->next = NULL;
        ch->cap = cap;
        ch->len = 0;
        ch->off = 0;
        ch->fd = -1;
        if (pass_fd >= 0) {
            ch->fd = dup(pass_fd);
            if (ch->fd < 0) {
                free(ch);
                return HFX_E_IO;
            }
            c->queued_fds++;
        }
        if (c->tail)
            c->tail->next = ch;
        else
            c->head = ch;
        c->tail = ch;
        c->charged += chunk_charge(ch);
    }
    pos = ch->len;
    for (int i = 0; i < n; i++) {
        size_t l = iov[i].iov_len;
        const uint8_t *b = iov[i].iov_base;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(ch->data + pos, b + skip, l - skip);
        pos += l - skip;
        skip = 0;
    }
    ch->len = pos;
    c->queued += len;
    return HFX_OK;
}

enum hfx_status hfx_conn_flush(struct hfx_conn *c)
{
    while (c->head) {
        struct out_chunk *ch = c->head;
        struct iovec iov = {ch->data + ch->off, ch->len - ch->off};
        int fd = ch->off == 0 ? ch->fd : -1;
        size_t written = 0;
        enum hfx_status st = hfx_transport_writev(c->t, &iov, 1, fd, &written);

        if (st != HFX_OK && st != HFX_INCOMPLETE)
            return st;
        if (written > 0 && ch->fd >= 0) {
            close(ch->fd);
            ch->fd = -1;
            c->queued_fds--;
        }
        ch->off += written;
        c->queued -= written;
        if (ch->off < ch->len)
            return HFX_OK; /* would block; wait for writability */
        c->head = ch->next;
        if (!c->head)
            c->tail = NULL;
        free_chunk(c, ch);
    }
    return HFX_OK;
}

/* Write what the transport takes now; queue the rest. reserve: how far
 * over max_queued this message may take the queue. */
static enum hfx_status send_iov(struct hfx_conn *c, const struct iovec *iov, int n,
                                int pass_fd, size_t reserve)
{
    size_t total = 0;
    size_t written = 0;
    enum hfx_status st;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    /* The cap is checked before anything is written, so that a message
     * goes whole or not at all, against the memory a new chunk for all of
     * it would take (headers included: a flood of small messages must not
     * cost more than the cap says). */
    if (c->charged + sizeof(struct out_chunk) + (total < CHUNK_MIN ? CHUNK_MIN : total) +
            MALLOC_OVERHEAD > c->max_queued + reserve)
        return HFX_E_SLOW_CONSUMER;
    if (c->head)
        return queue_rest(c, iov, n, 0, total, pass_fd);
    st = hfx_transport_writev(c->t, iov, n, pass_fd, &written);
    if (st != HFX_OK && st != HFX_INCOMPLETE)
        return st;
    return queue_rest(c, iov, n, written, total, written > 0 ? -1 : pass_fd);
}

#define MAX_TAIL_IOV 8

static size_t reserve_for(const struct hfx_msg *msg)
{
    return msg->hdr.type == HFX_MSG_ERROR ? ERROR_RESERVE : 0;
}

/* Encode msg's head into head[] and lay out iov = [head, tail...];
 * *total gets the message's size in bytes. */
static enum hfx_status frame_iov(const struct hfx_msg *msg, const struct iovec *tail, int n,
                                 uint8_t head[HFX_MAX_HEAD], struct iovec *iov, size_t *total)
{
    size_t head_len = 0;
    size_t tail_len = 0;
    enum hfx_status st;

    if (n < 0 || n > MAX_TAIL_IOV)
        return HFX_E_INVALID;
    for (int i = 0; i < n; i++) {
        tail_len += tail[i].iov_len;
        iov[i + 1] = tail[i];
    }
    st = hfx_msg_encode(msg, tail_len, head, HFX_MAX_HEAD, &head_len);
    if (st != HFX_OK)
        return st;
    iov[0].iov_base = head;
    iov[0].iov_len = head_len;
    *total = head_len + tail_len;
    return HFX_OK;
}

enum hfx_status hfx_conn_send(struct hfx_conn *c, const struct hfx_msg *msg,
                              const struct iovec *tail, int n, int pass_fd)
{
    uint8_t head[HFX_MAX_HEAD];
    struct iovec iov[MAX_TAIL_IOV + 1];
    size_t total;
    enum hfx_status st = frame_iov(msg, tail, n, head, iov, &total);

    if (st != HFX_OK)
        return st;
    return send_iov(c, iov, n + 1, pass_fd, reserve_for(msg));
}

enum hfx_status hfx_conn_send_msg(struct hfx_conn *c, const struct hfx_msg *msg)
{
    struct iovec tail;

    if (msg->hdr.type == HFX_MSG_FRAME && msg->u.frame.data_len) {
        tail.iov_base = (void *)msg->u.frame.data;
        tail.iov_len = msg->u.frame.data_len;
        return hfx_conn_send(c, msg, &tail, 1, -1);
    }
    if (msg->hdr.type == HFX_MSG_PACKET) {
        tail.iov_base = (void *)msg->u.packet.data;
        tail.iov_len = msg->u.packet.data_len;
        return hfx_conn_send(c, msg, &tail, 1, -1);
    }
    return hfx_conn_send(c, msg, NULL, 0, -1);
}

/* Poll for `events` until the deadline; while waiting, buffer anything the
 * peer sends so that it never blocks on us. */
static enum hfx_status wait_fd(struct hfx_conn *c, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = hfx_conn_fd(c), .events = events | POLLIN};
    int timeout = -1;

    if (deadline >= 0) {
        int64_t left = deadline - hfx_clock_ms();
        if (left <= 0)
            return HFX_E_TIMEOUT;
        timeout = left > 60000 ? 60000 : (int)left;
    }
    int r = poll(&pfd, 1, timeout);
    if (r < 0)
        return errno == EINTR ? HFX_OK : HFX_E_IO;
    if (r == 0)
        return deadline >= 0 && hfx_clock_ms() >= deadline ? HFX_E_TIMEOUT : HFX_OK;
    if ((pfd.revents & (POLLIN | POLLHUP)) && !c->eof) {
        enum hfx_status st = hfx_conn_read(c);
        if (st == HFX_E_CLOSED)
            c->eof = true;
        else if (st != HFX_OK && st != HFX_INCOMPLETE)
            return st;
    }
    if ((pfd.revents & (POLLERR | POLLNVAL)) && !(pfd.revents & events))
        return HFX_E_IO;
    return HFX_OK;
}

enum hfx_status hfx_conn_flush_wait(struct hfx_conn *c, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : hfx_clock_ms() + timeout_ms;

    for (;;) {
        enum hfx_status st = hfx_conn_flush(c);
        if (st != HFX_OK)
            return st;
        if (!c->head)
            return HFX_OK;
        st = wait_fd(c, POLLOUT, deadline);
        if (st != HFX_OK)
            return st;
    }
}

enum hfx_status hfx_conn_send_wait(struct hfx_conn *c, const struct hfx_msg *msg,
                                   const struct iovec *tail, int n, int pass_fd,
                                   int timeout_ms)
{
    uint8_t head[HFX_MAX_HEAD];
    struct iovec iov[MAX_TAIL_IOV + 1];
    size_t total = 0;
    size_t done = 0;
    int64_t deadline = timeout_ms < 0 ? -1 : hfx_clock_ms() + timeout_ms;
    enum hfx_status st = frame_iov(msg, tail, n, head, iov, &total);

    if (st != HFX_OK)
        return st;
    st = hfx_conn_flush_wait(c, timeout_ms);
    if (st == HFX_E_TIMEOUT)
        return send_iov(c, iov, n + 1, pass_fd, reserve_for(msg));
    if (st != HFX_OK)
        return st;

    /* Straight from the caller's buffers: no copy unless we time out. */
    while (done < total) {
        struct iovec cur[MAX_TAIL_IOV + 1];
        int cn = 0;
        size_t skip = done;
        size_t written = 0;

        for (int i = 0; i < n + 1; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            cur[cn].iov_base = (uint8_t *)iov[i].iov_base + skip;
            cur[cn].iov_len = iov[i].iov_len - skip;
            skip = 0;
            cn++;
        }
        st = hfx_transport_writev(c->t, cur, cn, done == 0 ? pass_fd : -1, &written);
        if (st != HFX_OK && st != HFX_INCOMPLETE)
            return st;
        done += written;
        if (done == total)
            break;
        if (written == 0) {
            st = wait_fd(c, POLLOUT, deadline);
            if (st == HFX_E_TIMEOUT)
                return queue_rest(c, iov, n + 1, done, total, done == 0 ? pass_fd : -1);
            if (st != HFX_OK)
                return st;
        }
    }
    return HFX_OK;
}

/* Descriptors that came with the bytes [start, end). */
static void hold_fds(struct hfx_conn *c, const int *fds, int n, uint64_t start, uint64_t end)
{
    for (int i = 0; i < n; i++) {
        if (c->nfds < MAX_HELD_FDS)
            c->fds[c->nfds++] = (struct held_fd){.fd = fds[i], .start = start, .end = end};
        else
            close(fds[i]); /* a peer flooding descriptors gets them closed */
    }
}

/* Close the descriptors that came only with bytes before `offset`: the
 * messages they came with are past, and none of them took one. */
static void drop_fds_before(struct hfx_conn *c, uint64_t offset)
{
    int kept = 0;

    for (int i = 0; i < c->nfds; i++) {
        if (c->fds[i].end <= offset)
            close(c->fds[i].fd);
        else
            c->fds[kept++] = c->fds[i];
    }
    c->nfds = kept;
}

/* Make room for at least `need` bytes after in_len, within the cap. */
static enum hfx_status reserve_in(struct hfx_conn *c, size_t need)
{
    size_t live = c->in_len - c->in_off;
    size_t cap_limit = (size_t)HFX_HEADER_SIZE + c->max_payload + READ_CHUNK;

    if (c->in_off > 0 && (c->in_cap - c->in_len < need || c->in_off >= c->in_cap / 2)) {
        memmove(c->in, c->in + c->in_off, live);
        c->in_off = 0;
        c->in_len = live;
    }
    if (c->in_cap - c->in_len >= need)
        return HFX_OK;
    /* Grow to what is needed (rounded to 64 KiB), not by doubling: a
     * payload handed to a worker keeps its whole buffer alive, and a
     * 3.1 MB frame in a 4 MiB buffer would waste a quarter of it. */
    size_t cap = (c->in_len + need + 0xffffu) & ~(size_t)0xffffu;
    if (cap > cap_limit)
        cap = cap_limit;
    if (cap - c->in_len < need)
        return HFX_E_TOO_LARGE;
    uint8_t *in = realloc(c->in, cap);
    if (!in)
        return HFX_E_NOMEM;
    c->in = in;
    c->in_cap = cap;
    return HFX_OK;
}

enum hfx_status hfx_conn_read(struct hfx_conn *c)
{
    bool got_any = false;

    /* Drop the message already handed out, so its space can be reused. */
    c->in_off += c->msg_len;
    c->msg_len = 0;
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    if (c->eof)
        return HFX_E_CLOSED;

    for (int round = 0; round < 64; round++) {
        size_t live = c->in_len - c->in_off;
        size_t need = READ_CHUNK;
        int fds[HFX_MAX_PASSED_FDS];
        int nfds = 0;
        size_t got = 0;
        enum hfx_status st;

        /* Read a large message in as few calls as the transport allows. */
        if (c->want > live && c->want - live > need)
            need = c->want - live;
        st = reserve_in(c, need);
        if (st == HFX_E_TOO_LARGE && live > 0) {
            /* The buffer holds as much as a message may be: let
             * hfx_conn_next parse it (or reject its header) before reading
             * more. A fast sender must not turn into an error here. */
            break;
        }
        if (st != HFX_OK)
            return st;
        st = hfx_transport_read(c->t, c->in + c->in_len, c->in_cap - c->in_len, &got, fds,
                                &nfds);
        hold_fds(c, fds, nfds, c->rx_total, c->rx_total + got);
        c->rx_total += got;
        if (st == HFX_INCOMPLETE)
            break;
        if (st == HFX_E_CLOSED) {
            c->eof = true;
            break;
        }
        if (st != HFX_OK)
            return st;
        c->in_len += got;
        got_any = true;
        if (got < c->in_cap - c->in_len + got)
            break; /* short read: the transport is drained for now */
        /* A whole chunk beyond the message being assembled is enough: a
         * peer that sends faster than its messages are handled (a PING
         * flood whose PONGs it never reads) must not fill the buffer up
         * to the cap on every call. */
        if (c->in_len - c->in_off >= c->want + READ_CHUNK)
            break;
    }
    if (got_any)
        return HFX_OK;
    return c->eof ? HFX_E_CLOSED : HFX_INCOMPLETE;
}

enum hfx_status hfx_conn_next(struct hfx_conn *c, struct hfx_msg *out)
{
    struct hfx_header hdr;
    size_t live;
    enum hfx_status st;

    c->in_off += c->msg_len;
    c->msg_len = 0;
    live = c->in_len - c->in_off;
    if (!c->in)
        return HFX_INCOMPLETE; /* nothing received yet */
    st = hfx_header_decode_ex(c->in + c->in_off, live, c->max_payload, &hdr, &c->last_error);
    if (st == HFX_INCOMPLETE) {
        c->want = 0;
        return HFX_INCOMPLETE;
    }
    if (st != HFX_OK)
        return st;
    size_t total = (size_t)HFX_HEADER_SIZE + hdr.length;
    if (live < total) {
        c->want = total;
        return HFX_INCOMPLETE;
    }
    c->want = 0;
    st = hfx_msg_decode_payload_ex(&hdr, c->in + c->in_off + HFX_HEADER_SIZE, hdr.length, out,
                                   &c->last_error);
    if (st != HFX_OK)
        return st;
    c->msg_len = total;
    c->msg_start = c->rx_total - live;
    drop_fds_before(c, c->msg_start);
    return HFX_OK;
}

const struct hfx_wire_error *hfx_conn_last_error(const struct hfx_conn *c)
{
    return &c->last_error;
}

size_t hfx_conn_buffered(const struct hfx_conn *c)
{
    return c->in_len - c->in_off - c->msg_len;
}

int hfx_conn_take_fd(struct hfx_conn *c)
{
    uint64_t end = c->msg_start + c->msg_len;

    for (int i = 0; i < c->nfds; i++) {
        /* Only one that came with a byte of this message. */
        if (c->fds[i].start < end && c->fds[i].end > c->msg_start) {
            int fd = c->fds[i].fd;
            memmove(c->fds + i, c->fds + i + 1, (size_t)(c->nfds - i - 1) * sizeof(c->fds[0]));
            c->nfds--;
            return fd;
        }
    }
    return -1;
}

enum hfx_status hfx_conn_take_payload(struct hfx_conn *c, void **base)
{
    size_t rest_off;
    size_t rest;
    uint8_t *fresh;

    *base = NULL;
    if (c->msg_len == 0)
        return HFX_E_STATE;
    rest_off = c->in_off + c->msg_len;
    rest = c->in_len - rest_off;
    fresh = malloc(rest > READ_CHUNK ? rest : READ_CHUNK);
    if (!fresh)
        return HFX_E_NOMEM;
    memcpy(fresh, c->in + rest_off, rest);
    *base = c->in;
    c->in = fresh;
    c->in_cap = rest > READ_CHUNK ? rest : READ_CHUNK;
    c->in_off = 0;
    c->in_len = rest;
    c->msg_len = 0;
    return HFX_OK;
}

void hfx_conn_free(struct hfx_conn **cp)
{
    struct hfx_conn *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    while (c->head) {
        struct out_chunk *ch = c->head;
        c->head = ch->next;
        free_chunk(c, ch);
    }
    for (int i = 0; i < c->nfds; i++)
        close(c->fds[i].fd);
    hfx_transport_free(&c->t);
    free(c->in);
    free(c);
    *cp = NULL;
}
