/* SPDX-License-Identifier: MIT */
/*
 * Socket activation by hand (socket-activation.h): the same rules as
 * systemd's sd_listen_fds(3) and sd_listen_fds_with_names(3), a few dozen
 * lines instead of a libsystemd dependency.
 */
#include "socket-activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A decimal number in 1..max, digits only: no sign, no blanks, no
 * trailing text. */
static bool parse_positive(const char *text, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (!text || !*text)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned)(*p - '0');
        if (v > (max - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

int hfxd_parse_listen_fds(const char *listen_pid, const char *listen_fds,
                          const char *listen_fdnames, pid_t pid, struct hfxd_passed_fds *out,
                          char *err, size_t cap)
{
    unsigned long owner, n;

    memset(out, 0, sizeof(*out));
    if (!listen_pid || !listen_fds) {
        snprintf(out->why, sizeof(out->why), "LISTEN_PID or LISTEN_FDS is not set");
        return 0;
    }
    if (!parse_positive(listen_pid, (unsigned long)INT32_MAX, &owner)) {
        snprintf(err, cap, "LISTEN_PID '%.32s' is not a process id", listen_pid);
        return -1;
    }
    /* The variables are inherited by every child of the process they were
     * meant for; only the one whose pid they name may take the sockets. */
    if (owner != (unsigned long)pid) {
        snprintf(out->why, sizeof(out->why),
                 "LISTEN_PID is %lu, not this process (%ld): the sockets are not ours", owner,
                 (long)pid);
        out->for_another = true;
        return 0;
    }
    if (!parse_positive(listen_fds, HFXD_MAX_PASSED_FDS, &n)) {
        snprintf(err, cap, "LISTEN_FDS '%.32s' is not a number of sockets in 1..%d",
                 listen_fds, HFXD_MAX_PASSED_FDS);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        out->fds[i].fd = HFXD_LISTEN_FDS_START + (int)i;
        snprintf(out->fds[i].name, sizeof(out->fds[i].name), "unknown");
    }
    if (listen_fdnames) {
        /* One name per descriptor, separated by ':'. */
        const char *p = listen_fdnames;
        unsigned i = 0;
        bool bad = false;
        for (;;) {
            size_t len = strcspn(p, ":");
            /* A name more than LISTEN_FDS, or too long. */
            if (i == n || len > HFXD_FDNAME_MAX) {
                bad = true;
                break;
            }
            memcpy(out->fds[i].name, p, len);
            out->fds[i++].name[len] = '\0';
            p += len;
            if (*p == '\0')
                break;
            p++;
        }
        if (bad || i != n) {
            snprintf(err, cap, "LISTEN_FDNAMES '%.64s' is not %lu names of up to %d bytes "
                     "(LISTEN_FDS)", listen_fdnames, n, HFXD_FDNAME_MAX);
            memset(out->fds, 0, sizeof(out->fds));
            return -1;
        }
    }
    out->n = (unsigned)n;
    return 0;
}

int hfxd_take_listen_fds(struct hfxd_passed_fds *out, char *err, size_t cap)
{
    int rc = hfxd_parse_listen_fds(getenv("LISTEN_PID"), getenv("LISTEN_FDS"),
                                   getenv("LISTEN_FDNAMES"), getpid(), out, err, cap);

    for (unsigned i = 0; rc == 0 && i < out->n; i++) {
        int fd = out->fds[i].fd;
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
            snprintf(err, cap, "descriptor %d of LISTEN_FDS: %s", fd, strerror(errno));
            out->n = 0;
            rc = -1;
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}
