/* SPDX-License-Identifier: MIT */
/*
 * Allocation failure (docs/security.md, "Faults"; docs/testing.md, "Fault
 * injection"). The binary is linked with -Wl,--wrap=malloc,calloc,realloc
 * (tests/support/fault-alloc.c), so every allocation of libhfx and
 * libhfx-host can be made to fail; libavcodec's cannot.
 *
 * A calibration run counts the allocations the server makes for the
 * scripted session (fault-session.h), from the client's connect to the end
 * of its session. Then, for every N up to that count (and a few more, for
 * the runs that allocate more), a fresh process runs the session with the
 * N-th allocation failing: it must end in a documented error (ERROR
 * HFX_E_NOMEM on the stream or the connection, docs/protocol.md §5, §8),
 * the connection closed, or a recovery (the frame dropped with reason
 * ENCODER), with every frame answered while the connection lasts, nothing
 * hanging, nothing leaking (LeakSanitizer at the child's exit in the ASan
 * build; descriptors counted), and the healthy session next to it and a new
 * connection served afterwards.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libavutil/log.h>

#include "check.h"
#include "fault-alloc.h"
#include "fault-session.h"
#include "fault-transport.h"
#include "server-fixture.h"

/* Beyond the calibration's count: a run may allocate more (a send queue
 * chunk when the socket is full, a larger receive buffer). */
#define EXTRA_POINTS 8
/* Per run; a run that takes longer has hung. */
#define RUN_SECONDS 60

static const struct hfx_server_options server_opts = {.keyframe_min_interval_ms = 0};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What one run reports to the parent, one line on a pipe. */
struct report {
    unsigned long long counted;  /* allocations counted while armed */
    unsigned long long failures; /* allocations failed */
    unsigned long long site;     /* offset of the first failed one's caller */
    char outcome[96];
};

/* This process's descriptors and what they are, for a failed count. */
static void list_fds(void)
{
    for (int fd = 0; fd < 1024; fd++) {
        char path[64], target[256];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        if (k > 0) {
            target[k] = 0;
            fprintf(stderr, "  fd %d: %s\n", fd, target);
        }
    }
}

static void wait_fds(int baseline)
{
    int64_t deadline = now_ms() + 5000;
    int n;

    while ((n = check_count_fds()) != baseline && now_ms() < deadline)
        usleep(2000);
    if (n != baseline)
        list_fds();
    CHECK_EQ_INT(n, baseline);
}

/* How the scripted session reaches the server. */
enum path {
    PATH_LISTENER, /* a unix connection the server accepts */
    PATH_ONE_BYTE, /* a socketpair behind a fault transport that writes one
                    * byte per call: every answer waits in the send queue */
};

static void add_one_byte_transport(struct hfx_server *srv, void *user)
{
    struct fault_options o;
    struct hfx_transport *t = NULL;

    fault_options_init(&o);
    o.max_write = 1;
    fault_socketpair(&o, &t, user);
    CHECK_STATUS(hfx_server_add_transport(srv, t), HFX_OK);
}

/* The child: the whole session with allocation n failing (n == 0: none). */
static void run_child(enum path path, uint64_t n, bool every, int out)
{
    static const uint32_t nomem[] = {HFX_E_NOMEM, 0};
    const struct fs_expect e = {.errors = nomem, .may_close = true, .may_drop = true};
    struct fixture f;
    struct fs_result r;
    struct report rep;
    char line[256];

    alarm(RUN_SECONDS);
    /* The client's allocations are the test's own: never failed. */
    fault_alloc_exempt_thread();
    int before = check_count_fds();
    int fd = -1;
    if (path == PATH_ONE_BYTE)
        fixture_start_hook(&f, &server_opts, add_one_byte_transport, &fd);
    else
        fixture_start(&f, &server_opts);
    int good = fixture_good_session(&f);
    int baseline = check_count_fds();

    fault_alloc_arm(n ? n : UINT64_MAX, every);
    if (path == PATH_LISTENER)
        fd = fixture_raw_conn(&f);
    else
        baseline -= 2; /* both ends of the socketpair go */
    struct fs_client c = {.fd = fd};
    fs_run(&c, FS_STEPS, &e, &r);
    close(fd);
    /* The server ends the session (still armed: ending must not need
     * memory). */
    wait_fds(baseline);
    rep.counted = fault_alloc_disarm();
    rep.failures = fault_alloc_failures();
    rep.site = fault_alloc_failed_site();
    fs_describe(&r, rep.outcome, sizeof(rep.outcome));

    /* Nothing else was disturbed: the healthy session encodes, a new one
     * starts and encodes. */
    raw_check_alive(good, 2);
    int fresh = fixture_good_session(&f);
    raw_check_alive(fresh, 3);
    close(fresh);
    close(good);
    fixture_stop(&f);
    /* A worker thread may still be exiting: glibc opens
     * /proc/sys/vm/overcommit_memory for a moment when it shrinks the
     * thread's heap. Wait for the count rather than catch that. */
    wait_fds(before);

    snprintf(line, sizeof(line), "%llu %llu %llu %s\n", rep.counted, rep.failures, rep.site,
             rep.outcome);
    CHECK(write(out, line, strlen(line)) == (ssize_t)strlen(line));
    close(out);
    /* exit, not _exit: LeakSanitizer checks at exit. */
    exit(0);
}

/* Run one N in its own process; false with *why set when it failed. */
static bool run_one(enum path path, uint64_t n, bool every, struct report *rep, char *why,
                    size_t why_cap)
{
    int p[2];
    char buf[256];
    size_t len = 0;
    int status = 0;

    CHECK(pipe(p) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        run_child(path, n, every, p[1]);
    }
    close(p[1]);
    for (;;) {
        ssize_t k = read(p[0], buf + len, sizeof(buf) - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    buf[len] = 0;
    close(p[0]);
    CHECK(waitpid(pid, &status, 0) == pid);
    memset(rep, 0, sizeof(*rep));
    if (WIFSIGNALED(status)) {
        snprintf(why, why_cap, "killed by signal %d%s", WTERMSIG(status),
                 WTERMSIG(status) == SIGALRM ? " (hang)" : "");
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, why_cap, "exit status %d", WEXITSTATUS(status));
        return false;
    }
    int used = 0;
    if (sscanf(buf, "%llu %llu %llu %n", &rep->counted, &rep->failures, &rep->site, &used) < 3) {
        snprintf(why, why_cap, "no report");
        return false;
    }
    snprintf(rep->outcome, sizeof(rep->outcome), "%s", buf + used);
    rep->outcome[strcspn(rep->outcome, "\n")] = 0;
    return true;
}

/* Function and line of an offset in this executable, with addr2line. */
static void name_site(unsigned long long site, char *out, size_t cap)
{
    char exe[512], cmd[700], fn[256], loc[256];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    FILE *pf;

    snprintf(out, cap, "0x%llx", site);
    if (k <= 0)
        return;
    exe[k] = 0;
    snprintf(cmd, sizeof(cmd), "addr2line -f -s -e '%s' 0x%llx 2>/dev/null", exe, site);
    pf = popen(cmd, "r");
    if (!pf)
        return;
    if (fgets(fn, sizeof(fn), pf) && fgets(loc, sizeof(loc), pf)) {
        fn[strcspn(fn, "\n")] = 0;
        loc[strcspn(loc, "\n")] = 0;
        loc[strcspn(loc, " ")] = 0; /* no "(discriminator N)" */
        /* Both can be long; the name is for people, cut it where it must. */
        size_t used = (size_t)snprintf(out, cap, "%.100s", fn);
        if (used < cap)
            snprintf(out + used, cap - used, " %.150s", loc);
    }
    pclose(pf);
}

#define MAX_POINTS 1024

struct point {
    unsigned long long site;
    char outcome[96];
};

/* One line per call site: the Ns that failed there and what the client saw. */
static void print_sites(const struct point *pt, uint64_t npt)
{
    static bool done[MAX_POINTS];

    memset(done, 0, sizeof(done));
    for (uint64_t i = 1; i <= npt; i++) {
        char name[300], ns[200] = "", outcomes[400] = "";
        size_t nl = 0, ol = 0;
        if (done[i] || !pt[i].site)
            continue;
        for (uint64_t j = i; j <= npt; j++) {
            if (done[j] || pt[j].site != pt[i].site)
                continue;
            done[j] = true;
            if (nl < sizeof(ns))
                nl += (size_t)snprintf(ns + nl, sizeof(ns) - nl, "%s%llu", nl ? "," : "",
                                       (unsigned long long)j);
            if (!strstr(outcomes, pt[j].outcome) && ol < sizeof(outcomes))
                ol += (size_t)snprintf(outcomes + ol, sizeof(outcomes) - ol, "%s%s",
                                       ol ? "; " : "", pt[j].outcome);
        }
        name_site(pt[i].site, name, sizeof(name));
        printf("  N=%-12s %-36s -> %s\n", ns, name, outcomes);
    }
}

static void every_allocation(enum path path, bool every)
{
    static struct point pt[MAX_POINTS];
    struct report rep;
    char why[160];
    unsigned injected = 0, failed = 0;
    unsigned complete = 0, dropped = 0, stream_error = 0, conn_error = 0, closed = 0;
    int64_t t0 = now_ms();

    CHECK(fault_alloc_works());
    if (!run_one(path, 0, false, &rep, why, sizeof(why))) {
        fprintf(stderr, "calibration run: %s\n", why);
        CHECK(!"calibration run");
    }
    uint64_t total = rep.counted;
    uint64_t last = total + EXTRA_POINTS;
    CHECK(total > 0 && last < MAX_POINTS);
    memset(pt, 0, sizeof(pt));
    printf("%s%s: the session makes %llu allocations in libhfx/libhfx-host (calibration: "
           "%s)\n",
           every ? "every allocation from N on fails" : "allocation N fails",
           path == PATH_ONE_BYTE ? ", server writes 1 byte per call" : "",
           (unsigned long long)total, rep.outcome);
    for (uint64_t n = 1; n <= last; n++) {
        if (!run_one(path, n, every, &rep, why, sizeof(why))) {
            fprintf(stderr, "N=%llu: %s\n", (unsigned long long)n, why);
            failed++;
            continue;
        }
        if (!rep.failures)
            continue; /* this run made fewer than N allocations */
        injected++;
        pt[n].site = rep.site;
        snprintf(pt[n].outcome, sizeof(pt[n].outcome), "%s", rep.outcome);
        if (strncmp(rep.outcome, "complete,", 9) == 0)
            dropped++;
        else if (strcmp(rep.outcome, "complete") == 0)
            complete++;
        else if (strncmp(rep.outcome, "stream", 6) == 0)
            stream_error++;
        else if (strncmp(rep.outcome, "closed after", 12) == 0)
            conn_error++;
        else
            closed++;
    }
    printf("%u of %llu runs failed an allocation, %u runs went wrong; outcomes: %u complete "
           "(the failure did not reach the client), %u complete with a frame dropped, %u "
           "stream ERROR HFX_E_NOMEM (connection kept), %u connection ERROR HFX_E_NOMEM then "
           "closed, %u closed without ERROR; %lld ms\n",
           injected, (unsigned long long)last, failed, complete, dropped, stream_error, conn_error,
           closed, (long long)(now_ms() - t0));
    print_sites(pt, last);
    CHECK_EQ_INT(failed, 0);
    /* Every point the calibration counted was reached. */
    CHECK(injected >= total);
}

static void test_each_allocation_fails_once(void)
{
    every_allocation(PATH_LISTENER, false);
}

static void test_allocations_fail_from_n_on(void)
{
    every_allocation(PATH_LISTENER, true);
}

/* The same with the answers queued (lib/conn.c's send queue) */
static void test_each_allocation_fails_once_queued(void)
{
    every_allocation(PATH_ONE_BYTE, false);
}

static void test_allocations_fail_from_n_on_queued(void)
{
    every_allocation(PATH_ONE_BYTE, true);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_each_allocation_fails_once),
        CHECK_CASE(test_allocations_fail_from_n_on),
        CHECK_CASE(test_each_allocation_fails_once_queued),
        CHECK_CASE(test_allocations_fail_from_n_on_queued),
    };
    av_log_set_level(AV_LOG_QUIET);
    return check_run(cases, CHECK_COUNT(cases));
}
