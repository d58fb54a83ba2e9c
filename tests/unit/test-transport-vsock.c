/* SPDX-License-Identifier: MIT */
/*
 * vsock over the local loopback (VMADDR_CID_LOCAL, cid 1). Needs AF_VSOCK
 * with a loopback transport (Linux vsock_loopback, or a VM's own
 * transport); where that is missing the whole executable reports "skipped"
 * with exit status 77, which meson counts as a skip, not as a pass.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hfx/transport.h"
#include "check.h"
#include "transport-util.h"

#define SKIP 77

#ifdef __linux__
#include <sys/socket.h>
#include <linux/vm_sockets.h>

#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

/* A port unlikely to be taken by anything else on this machine. */
static unsigned test_port(void)
{
    return 40000u + (unsigned)getpid() % 20000u;
}

/* Can we bind a vsock stream socket on the local cid? 0, or an errno. */
static int probe(void)
{
    struct sockaddr_vm sa;
    int err = 0;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return errno;
    memset(&sa, 0, sizeof(sa));
    sa.svm_family = AF_VSOCK;
    sa.svm_cid = VMADDR_CID_LOCAL;
    sa.svm_port = test_port();
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        err = errno;
    close(fd);
    return err;
}

static void test_vsock_loopback(void)
{
    char text[64];
    struct hfx_listener *l = NULL;
    struct hfx_transport *c, *s;
    struct hfx_address a;

    snprintf(text, sizeof(text), "vsock:1:%u", test_port());
    a = xfer_addr(text);
    CHECK_STATUS(hfx_listener_open(&a, NULL, &l), HFX_OK);
    CHECK_EQ_INT(hfx_listener_port(l), test_port());
    xfer_connect_pair(text, l, &c, &s);
    xfer_exchange(c, s);
    hfx_transport_free(&c);
    hfx_transport_free(&s);
    hfx_listener_free(&l);
}

static void test_vsock_refused(void)
{
    char text[64];
    struct hfx_transport *c = NULL;
    struct hfx_address a;

    /* Nobody listens on the next port. */
    snprintf(text, sizeof(text), "vsock:1:%u", test_port() + 1);
    a = xfer_addr(text);
    CHECK_STATUS(hfx_transport_connect(&a, 2000, &c), HFX_E_IO);
    CHECK(c == NULL);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_vsock_loopback),
        CHECK_CASE(test_vsock_refused),
    };
    int err = probe();

    if (err != 0) {
        printf("skipped: AF_VSOCK not available here: %s\n", strerror(err));
        return SKIP;
    }
    return check_run(cases, CHECK_COUNT(cases));
}

#else

int main(void)
{
    printf("skipped: AF_VSOCK not available here: not Linux\n");
    return SKIP;
}

#endif
