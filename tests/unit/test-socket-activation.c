/* SPDX-License-Identifier: MIT */
/*
 * hfxd's side of socket activation (host/socket-activation.c): the three
 * variables of sd_listen_fds(3) parsed strictly, sockets meant for another
 * process left alone, and the environment cleaned up whatever happened.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "socket-activation.h"

#define PID 4242

static int parse(const char *pid, const char *fds, const char *names,
                 struct hfxd_passed_fds *out, char *err, size_t cap)
{
    err[0] = '\0';
    return hfxd_parse_listen_fds(pid, fds, names, PID, out, err, cap);
}

static void check_malformed(const char *pid, const char *fds, const char *names,
                            const char *says)
{
    struct hfxd_passed_fds p;
    char err[256];

    if (parse(pid, fds, names, &p, err, sizeof(err)) != -1 || !strstr(err, says)) {
        fprintf(stderr, "LISTEN_PID=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s: '%s', wanted '%s'\n",
                pid ? pid : "(unset)", fds ? fds : "(unset)", names ? names : "(unset)", err,
                says);
        CHECK(!"refused, naming the variable");
    }
    CHECK_EQ_INT(p.n, 0);
}

static void test_not_set(void)
{
    struct hfxd_passed_fds p;
    char err[128];

    CHECK_EQ_INT(parse(NULL, NULL, NULL, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK(!p.for_another);
    CHECK(strstr(p.why, "not set") != NULL);
    /* One without the other is not a hand-over either. */
    CHECK_EQ_INT(parse("4242", NULL, NULL, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK_EQ_INT(parse(NULL, "1", "a", &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK(!p.for_another);
}

/* A parent's sockets, inherited: not taken, and not an error, even when
 * the rest is malformed (it is not ours to judge). */
static void test_another_process(void)
{
    struct hfxd_passed_fds p;
    char err[128];

    CHECK_EQ_INT(parse("4243", "2", "a:b", &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK(p.for_another);
    CHECK(strstr(p.why, "LISTEN_PID is 4243, not this process (4242)") != NULL);
    CHECK_EQ_INT(parse("1", "garbage", NULL, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK(p.for_another);
}

static void test_descriptors_from_3(void)
{
    struct hfxd_passed_fds p;
    char err[128];

    CHECK_EQ_INT(parse("4242", "1", NULL, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 1);
    CHECK_EQ_INT(p.fds[0].fd, HFXD_LISTEN_FDS_START);
    CHECK_EQ_INT(HFXD_LISTEN_FDS_START, 3);
    /* No LISTEN_FDNAMES: "unknown", as sd_listen_fds_with_names(3). */
    CHECK(strcmp(p.fds[0].name, "unknown") == 0);

    CHECK_EQ_INT(parse("4242", "16", NULL, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 16);
    for (unsigned i = 0; i < 16; i++)
        CHECK_EQ_INT(p.fds[i].fd, 3 + (int)i);
}

static void test_names(void)
{
    struct hfxd_passed_fds p;
    char err[256], names[300];

    CHECK_EQ_INT(parse("4242", "3", "hfxd.socket:vm1:vm2", &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 3);
    CHECK(strcmp(p.fds[0].name, "hfxd.socket") == 0);
    CHECK(strcmp(p.fds[1].name, "vm1") == 0);
    CHECK(strcmp(p.fds[2].name, "vm2") == 0);

    CHECK_EQ_INT(parse("4242", "3", "a::c", &p, err, sizeof(err)), 0);
    CHECK(strcmp(p.fds[1].name, "") == 0);
    CHECK(strcmp(p.fds[2].name, "c") == 0);

    /* 255 bytes fit, 256 do not. */
    memset(names, 'n', 255);
    names[255] = '\0';
    CHECK_EQ_INT(parse("4242", "1", names, &p, err, sizeof(err)), 0);
    CHECK_EQ_INT(strlen(p.fds[0].name), 255);
    names[255] = 'n';
    names[256] = '\0';
    check_malformed("4242", "1", names, "LISTEN_FDNAMES");

    /* Another count of names than of descriptors. */
    check_malformed("4242", "2", "a", "LISTEN_FDNAMES 'a' is not 2 names");
    check_malformed("4242", "2", "a:b:c", "LISTEN_FDNAMES");
    check_malformed("4242", "2", "a:b:", "LISTEN_FDNAMES");
    check_malformed("4242", "1", ":", "LISTEN_FDNAMES");
}

static void test_malformed_numbers(void)
{
    check_malformed("", "1", NULL, "LISTEN_PID");
    check_malformed("abc", "1", NULL, "LISTEN_PID");
    check_malformed("-4242", "1", NULL, "LISTEN_PID");
    check_malformed("+4242", "1", NULL, "LISTEN_PID");
    check_malformed(" 4242", "1", NULL, "LISTEN_PID");
    check_malformed("4242 ", "1", NULL, "LISTEN_PID");
    check_malformed("0", "1", NULL, "LISTEN_PID");
    check_malformed("99999999999999999999999", "1", NULL, "LISTEN_PID");

    check_malformed("4242", "", NULL, "LISTEN_FDS");
    check_malformed("4242", "0", NULL, "LISTEN_FDS");
    check_malformed("4242", "-1", NULL, "LISTEN_FDS");
    check_malformed("4242", "1x", NULL, "LISTEN_FDS");
    check_malformed("4242", "17", NULL, "LISTEN_FDS '17' is not a number of sockets in 1..16");
    check_malformed("4242", "4294967299", NULL, "LISTEN_FDS");
}

/* Descriptors 3 and 4, a socketpair, for a test of hfxd_take_listen_fds:
 * what is there now (meson may pass something) is kept aside in saved[]
 * and put back by restore_low(). */
static void take_low(int saved[2])
{
    int sv[2];

    for (int i = 0; i < 2; i++) {
        saved[i] = fcntl(3 + i, F_DUPFD_CLOEXEC, 20);
        close(3 + i);
    }
    /* The lowest free descriptors: 3 and 4 now. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(sv[i], 3 + i);
        /* As a service manager leaves them: inheritable. */
        CHECK(!(fcntl(3 + i, F_GETFD) & FD_CLOEXEC));
    }
}

static void restore_low(const int saved[2])
{
    for (int i = 0; i < 2; i++) {
        close(3 + i);
        if (saved[i] >= 0) {
            CHECK(dup2(saved[i], 3 + i) == 3 + i);
            close(saved[i]);
        }
    }
}

static void set_env(const char *pid, const char *fds, const char *names)
{
    CHECK(setenv("LISTEN_PID", pid, 1) == 0);
    CHECK(setenv("LISTEN_FDS", fds, 1) == 0);
    if (names)
        CHECK(setenv("LISTEN_FDNAMES", names, 1) == 0);
}

static bool env_cleared(void)
{
    return !getenv("LISTEN_PID") && !getenv("LISTEN_FDS") && !getenv("LISTEN_FDNAMES");
}

/* Ours: close-on-exec from now on, names kept, the variables gone. */
static void test_take_ours(void)
{
    struct hfxd_passed_fds p;
    int saved[2];
    char pid[32], err[128];

    take_low(saved);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    set_env(pid, "2", "one:two");
    CHECK_EQ_INT(hfxd_take_listen_fds(&p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 2);
    CHECK(strcmp(p.fds[1].name, "two") == 0);
    CHECK(fcntl(3, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(4, F_GETFD) & FD_CLOEXEC);
    CHECK(env_cleared());
    restore_low(saved);
}

/* Another process's: the descriptors are not touched, the variables are
 * gone all the same. */
static void test_take_leaves_others_alone(void)
{
    struct hfxd_passed_fds p;
    int saved[2];
    char pid[32], err[128];

    take_low(saved);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid() + 1);
    set_env(pid, "2", NULL);
    CHECK_EQ_INT(hfxd_take_listen_fds(&p, err, sizeof(err)), 0);
    CHECK_EQ_INT(p.n, 0);
    CHECK(p.for_another);
    CHECK(!(fcntl(3, F_GETFD) & FD_CLOEXEC));
    CHECK(!(fcntl(4, F_GETFD) & FD_CLOEXEC));
    CHECK(env_cleared());
    restore_low(saved);
}

/* LISTEN_FDS counting a descriptor that is not open; a malformed value:
 * refused, variables gone. */
static void test_take_refusals(void)
{
    struct hfxd_passed_fds p;
    int saved[2];
    char pid[32], err[128] = "";

    take_low(saved);
    close(4);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    set_env(pid, "2", NULL);
    CHECK_EQ_INT(hfxd_take_listen_fds(&p, err, sizeof(err)), -1);
    CHECK(strstr(err, "descriptor 4 of LISTEN_FDS") != NULL);
    CHECK_EQ_INT(p.n, 0);
    CHECK(env_cleared());

    set_env(pid, "two", "a:b");
    CHECK_EQ_INT(hfxd_take_listen_fds(&p, err, sizeof(err)), -1);
    CHECK(strstr(err, "LISTEN_FDS 'two'") != NULL);
    CHECK(env_cleared());
    restore_low(saved);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_not_set),
        CHECK_CASE(test_another_process),
        CHECK_CASE(test_descriptors_from_3),
        CHECK_CASE(test_names),
        CHECK_CASE(test_malformed_numbers),
        CHECK_CASE(test_take_ours),
        CHECK_CASE(test_take_leaves_others_alone),
        CHECK_CASE(test_take_refusals),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
