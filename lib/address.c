/* SPDX-License-Identifier: MIT */
/*
 * Transport address text (docs/protocol.md §1, transport.h):
 * parsed strictly, so that a typo is an error and never a different address.
 */
#include "hfx/transport.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

/* VMADDR_CID_ANY and VMADDR_CID_HOST from <linux/vm_sockets.h>, spelled out
 * so that the syntax is the same where that header does not exist. */
#define CID_ANY 0xffffffffu
#define CID_HOST 2u

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* Decimal digits only: no sign, no spaces, no base prefix, at most max. */
static bool parse_uint(const char *s, size_t n, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* A path that fits the destination including its NUL. */
static bool parse_path(const char *s, size_t cap, char *out)
{
    size_t n = strlen(s);

    if (n == 0 || n >= cap)
        return false;
    memcpy(out, s, n + 1);
    return true;
}

/* A host name or IPv4 literal: letters, digits, '-', '.', '_'. Anything else
 * (':' above all) would make the port ambiguous or is not a name. */
static bool host_name_valid(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((struct hfx_address *)0)->host))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* The inside of [...]: an IPv6 literal, optionally with a %zone. */
static bool ipv6_literal_valid(const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a;
    const char *zone = memchr(s, '%', n);
    size_t alen = zone ? (size_t)(zone - s) : n;

    if (alen == 0 || alen >= sizeof(buf))
        return false;
    if (zone && (zone + 1 == s + n || !host_name_valid(zone + 1, (size_t)(s + n - zone - 1))))
        return false;
    memcpy(buf, s, alen);
    buf[alen] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1;
}

static bool parse_tcp(const char *s, struct hfx_address *a)
{
    const char *host = s, *colon;
    size_t hlen;
    uint32_t port;

    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return false;
        host = s + 1;
        hlen = (size_t)(end - host);
        if (!ipv6_literal_valid(host, hlen))
            return false;
        colon = end + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon)
            return false;
        hlen = (size_t)(colon - s);
        if (!host_name_valid(host, hlen))
            return false;
    }
    if (!parse_uint(colon + 1, strlen(colon + 1), UINT16_MAX, &port))
        return false;
    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    a->port = (uint16_t)port;
    return true;
}

static bool parse_vsock(const char *s, struct hfx_address *a)
{
    const char *colon = strchr(s, ':');
    size_t clen;

    if (!colon)
        return false;
    clen = (size_t)(colon - s);
    if (clen == 4 && memcmp(s, "host", 4) == 0)
        a->cid = CID_HOST;
    else if (clen == 3 && memcmp(s, "any", 3) == 0)
        a->cid = CID_ANY;
    else if (!parse_uint(s, clen, UINT32_MAX, &a->cid))
        return false;
    return parse_uint(colon + 1, strlen(colon + 1), UINT32_MAX, &a->vport);
}

static bool parse_fd(const char *s, struct hfx_address *a)
{
    uint32_t v;

    if (!parse_uint(s, strlen(s), INT_MAX, &v))
        return false;
    a->fd = (int)v;
    return true;
}

/* Match "scheme:" at the start of text; the rest follows it. */
static const char *scheme(const char *text, const char *name)
{
    size_t n = strlen(name);
    return strncmp(text, name, n) == 0 && text[n] == ':' ? text + n + 1 : NULL;
}

enum hfx_status hfx_address_parse(const char *text, struct hfx_address *out)
{
    struct hfx_address a;
    const char *rest;
    bool ok;

    if (!text || !out)
        return HFX_E_INVALID;
    /* Longer text could not be formatted back into HFX_ADDRESS_MAX. */
    if (strnlen(text, HFX_ADDRESS_MAX) >= HFX_ADDRESS_MAX)
        return HFX_E_ADDRESS;
    memset(&a, 0, sizeof(a));
    a.fd = -1;
    if ((rest = scheme(text, "unix"))) {
        a.kind = HFX_ADDR_UNIX;
        ok = parse_path(rest, SUN_PATH_SIZE < sizeof(a.path) ? SUN_PATH_SIZE : sizeof(a.path),
                        a.path);
    } else if ((rest = scheme(text, "tcp"))) {
        a.kind = HFX_ADDR_TCP;
        ok = parse_tcp(rest, &a);
    } else if ((rest = scheme(text, "vsock"))) {
        a.kind = HFX_ADDR_VSOCK;
        ok = parse_vsock(rest, &a);
    } else if ((rest = scheme(text, "serial"))) {
        a.kind = HFX_ADDR_SERIAL;
        ok = parse_path(rest, sizeof(a.path), a.path);
    } else if ((rest = scheme(text, "fd"))) {
        a.kind = HFX_ADDR_FD;
        ok = parse_fd(rest, &a);
    } else {
        ok = false;
    }
    if (!ok)
        return HFX_E_ADDRESS;
    *out = a;
    return HFX_OK;
}

void hfx_address_format(const struct hfx_address *addr, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    out[0] = '\0';
    if (!addr)
        return;
    switch (addr->kind) {
    case HFX_ADDR_UNIX:
        snprintf(out, cap, "unix:%s", addr->path);
        break;
    case HFX_ADDR_TCP:
        /* An IPv6 literal needs its brackets back, or its colons would run
         * into the port. */
        snprintf(out, cap, strchr(addr->host, ':') ? "tcp:[%s]:%u" : "tcp:%s:%u", addr->host,
                 (unsigned)addr->port);
        break;
    case HFX_ADDR_VSOCK:
        if (addr->cid == CID_ANY)
            snprintf(out, cap, "vsock:any:%lu", (unsigned long)addr->vport);
        else
            snprintf(out, cap, "vsock:%lu:%lu", (unsigned long)addr->cid,
                     (unsigned long)addr->vport);
        break;
    case HFX_ADDR_SERIAL:
        snprintf(out, cap, "serial:%s", addr->path);
        break;
    case HFX_ADDR_FD:
        snprintf(out, cap, "fd:%d", addr->fd);
        break;
    }
}

bool hfx_address_is_loopback(const struct hfx_address *addr)
{
    struct in_addr v4;
    struct in6_addr v6;

    if (!addr || addr->kind != HFX_ADDR_TCP)
        return false;
    if (strcasecmp(addr->host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, addr->host, &v4) == 1)
        return (ntohl(v4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr->host, &v6) != 1)
        /* Other names are not resolved here: whatever they resolve to now
         * may change, so they count as not loopback. */
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6))
        return true;
    /* ::ffff:127.x.y.z reaches the IPv4 loopback. */
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}
