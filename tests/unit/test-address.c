/* SPDX-License-Identifier: MIT */
/* Address text: every form round-trips, every malformed class is refused. */
#include <limits.h>
#include <string.h>

#include "hfx/transport.h"
#include "check.h"

struct good_case {
    const char *text;
    const char *canonical; /* what format gives back; NULL: text itself */
    enum hfx_address_kind kind;
};

static const struct good_case good[] = {
    {"unix:/run/hfx.sock", NULL, HFX_ADDR_UNIX},
    {"unix:relative/hfx.sock", NULL, HFX_ADDR_UNIX},
    {"unix:x", NULL, HFX_ADDR_UNIX},
    {"tcp:localhost:5900", NULL, HFX_ADDR_TCP},
    {"tcp:127.0.0.1:0", NULL, HFX_ADDR_TCP},
    {"tcp:example.org:65535", NULL, HFX_ADDR_TCP},
    {"tcp:my_host-1.example:1", NULL, HFX_ADDR_TCP},
    {"tcp:[::1]:5900", NULL, HFX_ADDR_TCP},
    {"tcp:[fe80::1%eth0]:80", NULL, HFX_ADDR_TCP},
    {"tcp:[::ffff:127.0.0.1]:80", NULL, HFX_ADDR_TCP},
    {"tcp:h:0080", "tcp:h:80", HFX_ADDR_TCP},
    {"vsock:2:5900", NULL, HFX_ADDR_VSOCK},
    {"vsock:host:5900", "vsock:2:5900", HFX_ADDR_VSOCK},
    {"vsock:any:5900", NULL, HFX_ADDR_VSOCK},
    {"vsock:4294967295:1", "vsock:any:1", HFX_ADDR_VSOCK},
    {"vsock:3:4294967295", NULL, HFX_ADDR_VSOCK},
    {"vsock:0:0", NULL, HFX_ADDR_VSOCK},
    {"serial:/dev/virtio-ports/org.helix.frame-export", NULL, HFX_ADDR_SERIAL},
    {"serial:/dev/vport0p1", NULL, HFX_ADDR_SERIAL},
    {"fd:0", NULL, HFX_ADDR_FD},
    {"fd:3", NULL, HFX_ADDR_FD},
    {"fd:2147483647", NULL, HFX_ADDR_FD},
};

static void test_round_trip(void)
{
    for (size_t i = 0; i < CHECK_COUNT(good); i++) {
        struct hfx_address a, b;
        char text[HFX_ADDRESS_MAX];
        const char *want = good[i].canonical ? good[i].canonical : good[i].text;

        CHECK_STATUS(hfx_address_parse(good[i].text, &a), HFX_OK);
        CHECK_EQ_INT(a.kind, good[i].kind);
        hfx_address_format(&a, text, sizeof(text));
        if (strcmp(text, want) != 0)
            check_fail(__FILE__, __LINE__, good[i].text, text);
        /* The text we print parses back to the same address. */
        CHECK_STATUS(hfx_address_parse(text, &b), HFX_OK);
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
}

static void test_fields(void)
{
    struct hfx_address a;

    CHECK_STATUS(hfx_address_parse("tcp:[::1]:5900", &a), HFX_OK);
    CHECK(strcmp(a.host, "::1") == 0);
    CHECK_EQ_INT(a.port, 5900);
    CHECK_STATUS(hfx_address_parse("vsock:host:5900", &a), HFX_OK);
    CHECK_EQ_INT(a.cid, 2);
    CHECK_EQ_INT(a.vport, 5900);
    CHECK_STATUS(hfx_address_parse("vsock:any:7", &a), HFX_OK);
    CHECK(a.cid == 0xffffffffu);
    CHECK_STATUS(hfx_address_parse("fd:17", &a), HFX_OK);
    CHECK_EQ_INT(a.fd, 17);
    CHECK_STATUS(hfx_address_parse("unix:/tmp/s", &a), HFX_OK);
    CHECK(strcmp(a.path, "/tmp/s") == 0);
    CHECK_STATUS(hfx_address_parse("serial:/dev/ttyS0", &a), HFX_OK);
    CHECK(strcmp(a.path, "/dev/ttyS0") == 0);
}

static const char *const bad[] = {
    "",
    "bogus:x",
    "auto",
    "unix",
    "UNIX:/x",
    " unix:/x",
    "unix:",
    "tcp:",
    "tcp:host",
    "tcp:host:",
    "tcp::80",
    "tcp:[::1:80",
    "tcp:[::1]80",
    "tcp:[::1]:",
    "tcp:[]:80",
    "tcp:[nothex]:80",
    "tcp:[::1%]:80",
    "tcp:[127.0.0.1]:80",
    "tcp:::1:80",
    "tcp:h:65536",
    "tcp:h:99999999999",
    "tcp:h:-1",
    "tcp:h:+80",
    "tcp:h: 80",
    "tcp:h:80 ",
    "tcp:h:80x",
    "tcp:h:0x50",
    "tcp:h:80:81",
    "tcp:h st:80",
    "tcp:h/st:80",
    "vsock:",
    "vsock:2",
    "vsock:2:",
    "vsock::5900",
    "vsock:x:1",
    "vsock:HOST:1",
    "vsock:2:x",
    "vsock:-1:1",
    "vsock:4294967296:1",
    "vsock:2:4294967296",
    "vsock:2:1:1",
    "vsock: 2:1",
    "serial:",
    "fd:",
    "fd:-1",
    "fd:+1",
    "fd: 1",
    "fd:12abc",
    "fd:2147483648",
    "fd:99999999999999999999",
};

static void test_malformed(void)
{
    for (size_t i = 0; i < CHECK_COUNT(bad); i++) {
        struct hfx_address a;
        if (hfx_address_parse(bad[i], &a) != HFX_E_ADDRESS)
            check_fail(__FILE__, __LINE__, "rejected", bad[i]);
    }
}

static void test_lengths(void)
{
    struct hfx_address a;
    char text[HFX_ADDRESS_MAX + 50];

    /* unix: the path and its NUL must fit sun_path (108 on Linux). */
    memcpy(text, "unix:/", 6);
    memset(text + 6, 'a', 106);
    text[6 + 106] = '\0'; /* 107 characters */
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_OK);
    memcpy(text + 6 + 106, "a", 2); /* 108: no room for the NUL */
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_E_ADDRESS);

    memcpy(text, "serial:/", 8);
    memset(text + 8, 'd', 120);
    text[128] = '\0';
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_E_ADDRESS);

    /* A host name fills host[256] at 255 characters. */
    memcpy(text, "tcp:", 4);
    memset(text + 4, 'h', 255);
    memcpy(text + 259, ":1", 3);
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_OK);
    CHECK_EQ_INT(strlen(a.host), 255);
    memset(text + 4, 'h', 256);
    memcpy(text + 260, ":1", 3);
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_E_ADDRESS);

    /* Over HFX_ADDRESS_MAX as a whole, whatever the scheme. */
    memcpy(text, "fd:", 3);
    memset(text + 3, '0', HFX_ADDRESS_MAX);
    text[3 + HFX_ADDRESS_MAX] = '\0';
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_E_ADDRESS);
}

static void test_failed_parse_leaves_output(void)
{
    struct hfx_address a;

    CHECK_STATUS(hfx_address_parse("fd:5", &a), HFX_OK);
    CHECK_STATUS(hfx_address_parse("fd:5x", &a), HFX_E_ADDRESS);
    CHECK_EQ_INT(a.kind, HFX_ADDR_FD);
    CHECK_EQ_INT(a.fd, 5);
    CHECK_STATUS(hfx_address_parse(NULL, &a), HFX_E_INVALID);
    CHECK_STATUS(hfx_address_parse("fd:1", NULL), HFX_E_INVALID);
}

static void test_format_small_buffer(void)
{
    struct hfx_address a;
    char text[8];

    CHECK_STATUS(hfx_address_parse("unix:/run/hfx.sock", &a), HFX_OK);
    memset(text, 'x', sizeof(text));
    hfx_address_format(&a, text, sizeof(text));
    CHECK(strcmp(text, "unix:/r") == 0);
    hfx_address_format(&a, text, 0); /* must not write */
}

static bool loopback(const char *text)
{
    struct hfx_address a;
    CHECK_STATUS(hfx_address_parse(text, &a), HFX_OK);
    return hfx_address_is_loopback(&a);
}

static void test_loopback(void)
{
    CHECK(loopback("tcp:127.0.0.1:1"));
    CHECK(loopback("tcp:127.255.3.4:1"));
    CHECK(loopback("tcp:localhost:1"));
    CHECK(loopback("tcp:LocalHost:1"));
    CHECK(loopback("tcp:[::1]:1"));
    CHECK(loopback("tcp:[::ffff:127.0.0.2]:1"));
    CHECK(!loopback("tcp:128.0.0.1:1"));
    CHECK(!loopback("tcp:0.0.0.0:1"));
    CHECK(!loopback("tcp:10.0.0.1:1"));
    CHECK(!loopback("tcp:[::]:1"));
    CHECK(!loopback("tcp:[::2]:1"));
    CHECK(!loopback("tcp:[::ffff:10.0.0.1]:1"));
    CHECK(!loopback("tcp:localhost.example:1"));
    CHECK(!loopback("tcp:example.org:1"));
    /* Only TCP has a notion of loopback. */
    CHECK(!loopback("unix:/tmp/x"));
    CHECK(!loopback("vsock:1:1"));
    CHECK(!hfx_address_is_loopback(NULL));
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_round_trip),
        CHECK_CASE(test_fields),
        CHECK_CASE(test_malformed),
        CHECK_CASE(test_lengths),
        CHECK_CASE(test_failed_parse_leaves_output),
        CHECK_CASE(test_format_small_buffer),
        CHECK_CASE(test_loopback),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
