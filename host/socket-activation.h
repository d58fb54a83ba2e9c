/* SPDX-License-Identifier: MIT */
/*
 * hfxd only: the listening sockets a service manager passes at start
 * (socket activation: LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, the
 * protocol of systemd's sd_listen_fds(3)). Written out here instead of
 * linking libsystemd, which macOS does not have. How hfxd uses them:
 * docs/architecture.md, "hfxd under systemd".
 */
#ifndef HFXD_SOCKET_ACTIVATION_H
#define HFXD_SOCKET_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The first passed descriptor; the others follow without gaps. */
#define HFXD_LISTEN_FDS_START 3
/* At most this many (the server's listener limit, include/hfx/server.h). */
#define HFXD_MAX_PASSED_FDS 16
/* A name in LISTEN_FDNAMES (systemd's FileDescriptorName=: 1..255 bytes). */
#define HFXD_FDNAME_MAX 255

struct hfxd_passed_fd {
    int fd;
    /* Its LISTEN_FDNAMES entry; "unknown" without LISTEN_FDNAMES, as
     * sd_listen_fds_with_names(3) says. */
    char name[HFXD_FDNAME_MAX + 1];
};

struct hfxd_passed_fds {
    unsigned n;
    struct hfxd_passed_fd fds[HFXD_MAX_PASSED_FDS];
    /* When n is 0: why none (LISTEN_FDS not set, or meant for another
     * process), for the message of a --listen systemd that finds none. */
    char why[128];
    /* The variables were set, for another process (LISTEN_PID). */
    bool for_another;
};

/* Parse the variables' values (NULL: not set) for the process pid.
 * 0: *out holds the descriptors passed to pid, in order; none (n == 0, why
 * filled in) when LISTEN_PID or LISTEN_FDS is not set or LISTEN_PID names
 * another process (a parent's sockets, inherited by mistake: not ours to
 * take). -1: LISTEN_PID is pid but a value is malformed (a number that is
 * not a whole decimal number, LISTEN_FDS of 0 or over
 * HFXD_MAX_PASSED_FDS, LISTEN_FDNAMES with another count of names or a name
 * over HFXD_FDNAME_MAX bytes); err (cap bytes) says which. Reads nothing
 * else and changes nothing. */
int hfxd_parse_listen_fds(const char *listen_pid, const char *listen_fds,
                          const char *listen_fdnames, pid_t pid, struct hfxd_passed_fds *out,
                          char *err, size_t cap);

/* Take the passed sockets from this process's environment: parse it for
 * getpid(), set FD_CLOEXEC on every passed descriptor (a program hfxd
 * started must not inherit them), and unset the three variables whatever
 * the outcome, so that nothing started later takes them for its own (as
 * sd_listen_fds(3) does with unset_environment). -1 with err as
 * hfxd_parse_listen_fds, or when a passed descriptor is not open. */
int hfxd_take_listen_fds(struct hfxd_passed_fds *out, char *err, size_t cap);

#endif /* HFXD_SOCKET_ACTIVATION_H */
