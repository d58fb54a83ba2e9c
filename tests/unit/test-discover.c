/* SPDX-License-Identifier: MIT */
/*
 * The `auto` address (docs/protocol.md §1): candidates from a fake /sys and
 * /dev tree, then hfx_client_connect("auto") against a fake host on a pty
 * that stands in for the virtio-serial port.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hfx/client.h"
#include "conn.h"
#include "hfx/discover.h"
#include "transport-private.h" /* HFX_HAVE_VSOCK: is vsock:2:5900 a candidate? */

#ifdef HFX_HAVE_VSOCK
#define VSOCK_CANDIDATES 1
#else
#define VSOCK_CANDIDATES 0
#endif

struct tree {
    char root[64];
    char sys[96];
    char dev[96];
    struct hfx_discover_roots roots;
};

static void mkdir_at(const struct tree *t, const char *rel)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", t->root, rel);
    CHECK(mkdir(path, 0755) == 0);
}

static void write_at(const struct tree *t, const char *rel, const char *data, size_t len)
{
    char path[512];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", t->root, rel);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void port_at(const struct tree *t, const char *vport, const char *name, size_t len)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "sys/class/virtio-ports/%s", vport);
    mkdir_at(t, rel);
    snprintf(rel, sizeof(rel), "sys/class/virtio-ports/%s/name", vport);
    write_at(t, rel, name, len);
    snprintf(rel, sizeof(rel), "dev/%s", vport);
    write_at(t, rel, "", 0);
}

static void empty_tree(struct tree *t)
{
    snprintf(t->root, sizeof(t->root), "/tmp/hfx-discover-XXXXXX");
    CHECK(mkdtemp(t->root) != NULL);
    snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
    snprintf(t->dev, sizeof(t->dev), "%s/dev", t->root);
    t->roots.sys = t->sys;
    t->roots.dev = t->dev;
    mkdir_at(t, "sys");
    mkdir_at(t, "sys/class");
    mkdir_at(t, "sys/class/virtio-ports");
    mkdir_at(t, "dev");
    mkdir_at(t, "dev/virtio-ports");
}

/* Every kind of name file next to each other: only vport2p1 and vport2p2
 * hold HFX_PORT_NAME. */
static void full_tree(struct tree *t)
{
    char long_name[300];

    empty_tree(t);
    port_at(t, "vport1p1", "other\n", 6);
    port_at(t, "vport2p2", HFX_PORT_NAME, strlen(HFX_PORT_NAME)); /* no newline */
    port_at(t, "vport2p1", HFX_PORT_NAME "\n", strlen(HFX_PORT_NAME) + 1);
    port_at(t, "vport3p1", "", 0);
    /* 300 bytes that start with the name: the bounded read must not see a
     * match in the first 256. */
    memset(long_name, 'x', sizeof(long_name));
    memcpy(long_name, HFX_PORT_NAME "\n", strlen(HFX_PORT_NAME) + 1);
    port_at(t, "vport3p2", long_name, sizeof(long_name));
    port_at(t, "vport4p1", HFX_PORT_NAME "\n\n", strlen(HFX_PORT_NAME) + 2);
    port_at(t, "vport4p2", HFX_PORT_NAME "x\n", strlen(HFX_PORT_NAME) + 2);
    port_at(t, "vport4p3", "org.helix.frame-expor\n", 22);
    mkdir_at(t, "sys/class/virtio-ports/vport5p1"); /* no name file at all */
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tree_free(struct tree *t)
{
    CHECK(nftw(t->root, rm_one, 8, FTW_DEPTH | FTW_PHYS) == 0);
}

static void check_serial(const char *cand, const struct tree *t, const char *rel)
{
    char want[HFX_ADDRESS_MAX];

    snprintf(want, sizeof(want), "serial:%s/%s", t->dev, rel);
    if (strcmp(cand, want) != 0)
        fprintf(stderr, "candidate %s, expected %s\n", cand, want);
    CHECK(strcmp(cand, want) == 0);
}

static void check_vsock_tail(char c[][HFX_ADDRESS_MAX], size_t n, size_t serial)
{
    CHECK_EQ_INT(n, serial + VSOCK_CANDIDATES);
    if (VSOCK_CANDIDATES)
        CHECK(strcmp(c[serial], "vsock:2:5900") == 0);
}

static void test_sysfs_scan(void)
{
    struct tree t;
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    size_t n = 99;

    full_tree(&t);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 2);
    check_serial(c[0], &t, "vport2p1");
    check_serial(c[1], &t, "vport2p2");
    /* The same port under its explicit name. */
    CHECK_STATUS(hfx_discover_candidates(&t.roots, HFX_PORT_NAME, c, HFX_DISCOVER_MAX, &n),
                 HFX_OK);
    check_vsock_tail(c, n, 2);
    /* Another name: only the file that holds exactly it. */
    CHECK_STATUS(hfx_discover_candidates(&t.roots, "other", c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 1);
    check_serial(c[0], &t, "vport1p1");
    tree_free(&t);
}

static void test_link_comes_first(void)
{
    struct tree t;
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    char path[512];
    size_t n;

    full_tree(&t);
    /* A dangling link is no port: the sysfs scan still runs. */
    snprintf(path, sizeof(path), "%s/virtio-ports/" HFX_PORT_NAME, t.dev);
    CHECK(symlink("../vport9p9", path) == 0);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 2);
    check_serial(c[0], &t, "vport2p1");

    /* A link to an existing node: it alone, no sysfs candidates. */
    CHECK(unlink(path) == 0);
    CHECK(symlink("../vport2p1", path) == 0);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 1);
    check_serial(c[0], &t, "virtio-ports/" HFX_PORT_NAME);

    /* A plain file will do too, and the scan is not needed at all: a sys
     * root with nothing under it changes nothing. */
    CHECK(unlink(path) == 0);
    write_at(&t, "dev/virtio-ports/" HFX_PORT_NAME, "", 0);
    t.roots.sys = "/nonexistent-sys";
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 1);
    check_serial(c[0], &t, "virtio-ports/" HFX_PORT_NAME);
    tree_free(&t);
}

static void test_no_match(void)
{
    struct tree t;
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    size_t n;
    struct hfx_discover_roots none = {"/nonexistent-sys", "/nonexistent-dev"};

    empty_tree(&t);
    port_at(&t, "vport1p1", "com.example.other\n", 18);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 0);
    /* No /sys/class/virtio-ports at all (no virtio-serial driver). */
    CHECK_STATUS(hfx_discover_candidates(&none, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 0);
    tree_free(&t);
}

static void test_bad_names(void)
{
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    char name[HFX_PORT_NAME_MAX + 2];
    struct hfx_discover_roots none = {"/nonexistent-sys", "/nonexistent-dev"};
    static const char *const bad[] = {"", ".", "..", "a/b", "/abs", "dir/"};
    size_t n = 99;

    for (size_t i = 0; i < CHECK_COUNT(bad); i++) {
        CHECK_STATUS(hfx_discover_candidates(&none, bad[i], c, HFX_DISCOVER_MAX, &n),
                     HFX_E_ADDRESS);
        CHECK_EQ_INT(n, 0);
    }
    memset(name, 'p', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    CHECK_STATUS(hfx_discover_candidates(&none, name, c, HFX_DISCOVER_MAX, &n),
                 HFX_E_TOO_LARGE);
    /* HFX_PORT_NAME_MAX is accepted by the name check, but its link path
     * does not fit a serial address. */
    name[HFX_PORT_NAME_MAX] = '\0';
    CHECK_STATUS(hfx_discover_candidates(&none, name, c, HFX_DISCOVER_MAX, &n),
                 HFX_E_TOO_LARGE);
    CHECK_STATUS(hfx_discover_candidates(&none, NULL, c, HFX_DISCOVER_MAX, NULL), HFX_E_INVALID);
    CHECK_STATUS(hfx_discover_candidates(&none, NULL, NULL, 1, &n), HFX_E_INVALID);
}

static void test_too_long_roots(void)
{
    struct tree t;
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    char dev[128], sys[5000];
    size_t n = 99;
    struct hfx_discover_roots r;

    full_tree(&t);
    /* A dev root that leaves no room for the link in a serial address
     * (108 bytes with its NUL). */
    memset(dev, 'd', sizeof(dev) - 1);
    dev[0] = '/';
    dev[sizeof(dev) - 1] = '\0';
    r = (struct hfx_discover_roots){t.sys, dev};
    CHECK_STATUS(hfx_discover_candidates(&r, NULL, c, HFX_DISCOVER_MAX, &n), HFX_E_TOO_LARGE);
    CHECK_EQ_INT(n, 0);
    /* A sys root longer than PATH_MAX. */
    memset(sys, 's', sizeof(sys) - 1);
    sys[0] = '/';
    sys[sizeof(sys) - 1] = '\0';
    r = (struct hfx_discover_roots){sys, t.dev};
    CHECK_STATUS(hfx_discover_candidates(&r, NULL, c, HFX_DISCOVER_MAX, &n), HFX_E_TOO_LARGE);
    CHECK_EQ_INT(n, 0);
    /* The tree itself still works with its own roots. */
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n), HFX_OK);
    check_vsock_tail(c, n, 2);
    tree_free(&t);
}

/* A dev root under which the link path fits but "/vportXpY" of a long
 * sysfs entry does not: the matching entry is reported, not cut. */
static void test_long_node_name(void)
{
    struct tree t;
    char c[HFX_DISCOVER_MAX][HFX_ADDRESS_MAX];
    char vport[120];
    size_t n = 99;

    empty_tree(&t);
    memset(vport, 'v', sizeof(vport) - 1);
    vport[sizeof(vport) - 1] = '\0';
    port_at(&t, vport, HFX_PORT_NAME "\n", strlen(HFX_PORT_NAME) + 1);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, HFX_DISCOVER_MAX, &n),
                 HFX_E_TOO_LARGE);
    CHECK_EQ_INT(n, 0);
    tree_free(&t);
}

static void test_max_respected(void)
{
    struct tree t;
    char c[4][HFX_ADDRESS_MAX];
    size_t n = 99;

    full_tree(&t);
    /* Canaries: nothing past max is written. */
    memset(c, '#', sizeof(c));
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, 0, &n), HFX_OK);
    CHECK_EQ_INT(n, 0);
    CHECK(c[0][0] == '#');
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, NULL, 0, &n), HFX_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, 1, &n), HFX_OK);
    CHECK_EQ_INT(n, 1);
    check_serial(c[0], &t, "vport2p1"); /* the first in order, not the first read */
    CHECK(c[1][0] == '#');
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, 2, &n), HFX_OK);
    CHECK_EQ_INT(n, 2);
    check_serial(c[0], &t, "vport2p1");
    check_serial(c[1], &t, "vport2p2");
    CHECK(c[2][0] == '#');
    CHECK_STATUS(hfx_discover_candidates(&t.roots, NULL, c, 4, &n), HFX_OK);
    check_vsock_tail(c, n, 2);
    tree_free(&t);
}

/* ---- hfx_client_connect("auto") against a fake host on a pty ---- */

struct fake_host {
    int master;
    struct hfx_msg reply; /* sent after HELLO */
    bool got_hello;
    bool got_bye;
    atomic_bool release; /* after an ERROR: the client has read it */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next message within 3 s: HFX_OK, HFX_E_CLOSED or HFX_E_TIMEOUT. */
static enum hfx_status host_next(struct hfx_conn *c, struct hfx_msg *m)
{
    int64_t deadline = now_ms() + 3000;

    for (;;) {
        enum hfx_status st = hfx_conn_next(c, m);
        if (st != HFX_INCOMPLETE)
            return st;
        st = hfx_conn_read(c);
        if (st != HFX_OK && st != HFX_INCOMPLETE)
            return st;
        if (st == HFX_INCOMPLETE) {
            if (now_ms() > deadline)
                return HFX_E_TIMEOUT;
            struct pollfd p = {.fd = hfx_conn_fd(c), .events = POLLIN};
            (void)poll(&p, 1, 50);
        }
    }
}

static void *fake_host(void *arg)
{
    struct fake_host *h = arg;
    struct hfx_transport *t = NULL;
    struct hfx_conn *c = NULL;
    struct hfx_msg m;

    CHECK_STATUS(hfx_transport_from_fd(h->master, HFX_ADDR_SERIAL, &t), HFX_OK);
    CHECK_STATUS(hfx_conn_new(t, NULL, &c), HFX_OK);
    if (host_next(c, &m) == HFX_OK && m.hdr.type == HFX_MSG_HELLO) {
        h->got_hello = true;
        CHECK_STATUS(hfx_conn_send_msg(c, &h->reply), HFX_OK);
        CHECK_STATUS(hfx_conn_flush_wait(c, 2000), HFX_OK);
        /* A client that connected says BYE when freed; one that got ERROR
         * just goes. */
        if (h->reply.hdr.type == HFX_MSG_WELCOME && host_next(c, &m) == HFX_OK)
            h->got_bye = m.hdr.type == HFX_MSG_BYE;
        /* Closing the master hangs the pty up, and a hangup discards what
         * the slave has not read yet: wait until the client has it. */
        for (int i = 0; i < 300 && h->reply.hdr.type == HFX_MSG_ERROR; i++) {
            if (atomic_load(&h->release))
                break;
            usleep(10000);
        }
    }
    hfx_conn_free(&c);
    return NULL;
}

static void make_raw(int fd)
{
    struct termios tio;

    CHECK(tcgetattr(fd, &tio) == 0);
    cfmakeraw(&tio);
    CHECK(tcsetattr(fd, TCSANOW, &tio) == 0);
}

/* A pty whose slave is the port: the udev link points at it. Returns the
 * master; *slave is held open (raw) so that the master never sees a hangup
 * between the client's open and close. */
static int pty_port(const struct tree *t, int *slave)
{
    char link[512];
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

    CHECK(m >= 0);
    CHECK(grantpt(m) == 0);
    CHECK(unlockpt(m) == 0);
    CHECK(ptsname(m) != NULL);
    make_raw(m);
    *slave = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(*slave >= 0);
    make_raw(*slave);
    snprintf(link, sizeof(link), "%s/virtio-ports/" HFX_PORT_NAME, t->dev);
    CHECK(symlink(ptsname(m), link) == 0);
    return m;
}

struct log_buf {
    char text[4096];
    size_t len;
};

static void record_log(void *user, enum hfx_log_level level, const char *msg)
{
    struct log_buf *b = user;
    int r;

    (void)level;
    r = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s\n", msg);
    if (r > 0)
        b->len = (size_t)r < sizeof(b->text) - b->len ? b->len + (size_t)r : sizeof(b->text) - 1;
}

/* One client test: a fake tree whose port is a pty, a fake host on its
 * master, the client's options pointed at the tree and a log. */
struct port_case {
    struct tree t;
    struct fake_host h;
    struct log_buf log;
    struct hfx_client_options o;
    pthread_t th;
    int slave;
};

static void port_case_init(struct port_case *pc, int timeout_ms)
{
    empty_tree(&pc->t);
    pc->h.master = pty_port(&pc->t, &pc->slave);
    pc->o.timeout_ms = timeout_ms;
    pc->o.log = record_log;
    pc->o.log_user = &pc->log;
    pc->o.discover = &pc->t.roots;
}

static void port_case_welcome(struct port_case *pc, uint32_t window)
{
    struct hfx_msg *m = &pc->h.reply;

    m->hdr.type = HFX_MSG_WELCOME;
    m->u.welcome.version = HFX_PROTOCOL_VERSION;
    m->u.welcome.caps = HFX_CAP_INLINE;
    m->u.welcome.max_payload = 1 << 20;
    m->u.welcome.max_streams = 2;
    m->u.welcome.window = window;
}

static void port_case_start_host(struct port_case *pc)
{
    CHECK(pthread_create(&pc->th, NULL, fake_host, &pc->h) == 0);
}

static void port_case_end(struct port_case *pc)
{
    pthread_join(pc->th, NULL);
    close(pc->slave);
    tree_free(&pc->t);
}

static void test_client_auto_serial(void)
{
    static struct port_case pc;
    struct hfx_client *c = NULL;
    char want[HFX_ADDRESS_MAX];

    port_case_init(&pc, 4000);
    port_case_welcome(&pc, 5);
    port_case_start_host(&pc);
    CHECK_STATUS(hfx_client_connect("auto", &pc.o, &c, NULL, 0), HFX_OK);
    snprintf(want, sizeof(want), "serial:%s/virtio-ports/" HFX_PORT_NAME, pc.t.dev);
    CHECK(c && strcmp(hfx_client_address(c), want) == 0);
    CHECK(c && hfx_client_welcome(c)->window == 5);
    CHECK(strstr(pc.log.text, "auto: connected to serial:") != NULL);
    hfx_client_free(&c);
    port_case_end(&pc);
    CHECK(pc.h.got_hello);
    CHECK(pc.h.got_bye);
}

/* The port found only through sysfs, with auto:NAME for another name; the
 * first candidate (a node that is missing) fails and the next one wins. */
static void test_client_auto_name_sysfs(void)
{
    static struct port_case pc;
    struct hfx_client *c = NULL;
    char path[512], want[HFX_ADDRESS_MAX];

    port_case_init(&pc, 4000);
    /* Move the link to a sysfs-style node: dev/vport7p2 -> the pty. */
    snprintf(path, sizeof(path), "%s/virtio-ports/" HFX_PORT_NAME, pc.t.dev);
    CHECK(unlink(path) == 0);
    snprintf(path, sizeof(path), "%s/vport7p2", pc.t.dev);
    CHECK(symlink(ptsname(pc.h.master), path) == 0);
    mkdir_at(&pc.t, "sys/class/virtio-ports/vport7p2");
    write_at(&pc.t, "sys/class/virtio-ports/vport7p2/name", "com.example.port\n", 17);
    mkdir_at(&pc.t, "sys/class/virtio-ports/vport1p1"); /* sorts first, no node */
    write_at(&pc.t, "sys/class/virtio-ports/vport1p1/name", "com.example.port\n", 17);
    port_case_welcome(&pc, 1);
    port_case_start_host(&pc);
    CHECK_STATUS(hfx_client_connect("auto:com.example.port", &pc.o, &c, NULL, 0), HFX_OK);
    snprintf(want, sizeof(want), "serial:%s/vport7p2", pc.t.dev);
    CHECK(c && strcmp(hfx_client_address(c), want) == 0);
    /* Tried in order: the missing node first. */
    const char *first = strstr(pc.log.text, "/vport1p1 (");
    const char *second = strstr(pc.log.text, "/vport7p2 (");
    CHECK(first && second && first < second);
    hfx_client_free(&c);
    port_case_end(&pc);
}

/* The host on the port refuses (ERROR AUTH); vsock then finds nothing. The
 * host's answer is what the caller gets, not the later HFX_E_IO. */
static void test_client_auto_prefers_host_error(void)
{
    static struct port_case pc;
    struct hfx_client *c = NULL;
    char err[128];

    port_case_init(&pc, 2000);
    pc.h.reply.hdr.type = HFX_MSG_ERROR;
    pc.h.reply.u.error.code = HFX_E_AUTH;
    snprintf(pc.h.reply.u.error.text, sizeof(pc.h.reply.u.error.text), "token missing or wrong");
    port_case_start_host(&pc);
    CHECK_STATUS(hfx_client_connect("auto", &pc.o, &c, err, sizeof(err)), HFX_E_AUTH);
    atomic_store(&pc.h.release, true);
    CHECK(c == NULL);
    CHECK(strcmp(err, "token missing or wrong") == 0);
    CHECK(strstr(pc.log.text, "tried: serial:") != NULL);
    CHECK(strstr(pc.log.text, "(HFX_E_AUTH)") != NULL);
    port_case_end(&pc);
}

static void test_client_auto_nothing(void)
{
    struct tree t;
    static struct log_buf log;
    struct hfx_client *c = NULL;
    struct hfx_client_options o = {.timeout_ms = 2000, .log = record_log, .log_user = &log};
    char err[128];

    empty_tree(&t);
    o.discover = &t.roots;
    /* A port that sysfs names but whose node is missing: tried, fails. */
    mkdir_at(&t, "sys/class/virtio-ports/vport1p1");
    write_at(&t, "sys/class/virtio-ports/vport1p1/name", HFX_PORT_NAME "\n",
             strlen(HFX_PORT_NAME) + 1);
    CHECK_STATUS(hfx_client_connect("auto", &o, &c, err, sizeof(err)), HFX_E_IO);
    CHECK(c == NULL);
    CHECK(strcmp(err, "no hfx host found") == 0);
    CHECK(strstr(log.text, "/vport1p1 (HFX_E_IO)") != NULL);
    if (VSOCK_CANDIDATES)
        CHECK(strstr(log.text, "vsock:2:5900 (") != NULL);
    /* Bad port names never reach a transport. */
    CHECK_STATUS(hfx_client_connect("auto:", &o, &c, NULL, 0), HFX_E_ADDRESS);
    CHECK_STATUS(hfx_client_connect("auto:a/b", &o, &c, NULL, 0), HFX_E_ADDRESS);
    CHECK_STATUS(hfx_client_connect("autox", &o, &c, NULL, 0), HFX_E_ADDRESS);
    CHECK(c == NULL);
    tree_free(&t);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_sysfs_scan),
        CHECK_CASE(test_link_comes_first),
        CHECK_CASE(test_no_match),
        CHECK_CASE(test_bad_names),
        CHECK_CASE(test_too_long_roots),
        CHECK_CASE(test_long_node_name),
        CHECK_CASE(test_max_respected),
        CHECK_CASE(test_client_auto_serial),
        CHECK_CASE(test_client_auto_name_sysfs),
        CHECK_CASE(test_client_auto_prefers_host_error),
        CHECK_CASE(test_client_auto_nothing),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
