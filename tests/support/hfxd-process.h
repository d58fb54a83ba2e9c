/* SPDX-License-Identifier: MIT */
/* Start and stop a real hfxd process for integration tests and benches. */
#ifndef HFX_TEST_HFXD_PROCESS_H
#define HFX_TEST_HFXD_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hfxd_process {
    pid_t pid;
    int log_fd;        /* hfxd's stdout and stderr (an unlinked file), read side */
    char dir[64];      /* private temp dir */
    char unix_addr[128];
    uint16_t tcp_port; /* when started with tcp:127.0.0.1:0 */
    char log[65536];   /* what hfxd printed (its first 64 kB), for assertions */
    size_t log_len;
};

/* Start `hfxd` (path from $HFXD) with --listen unix:DIR/sock plus extra
 * arguments (NULL-terminated), keep_fd is left open in the child (or -1).
 * Waits for its "ready" line (10 s, check_timeout_ms). hfxd is killed when
 * the calling thread ends (PR_SET_PDEATHSIG), so that no test leaves one
 * behind. */
void hfxd_start(struct hfxd_process *p, int keep_fd, const char *const *extra);

/* SIGTERM, wait; returns true if it exited with status 0 within 10 s
 * (check_timeout_ms). */
bool hfxd_stop(struct hfxd_process *p);

/* Read what hfxd logged so far into p->log (non-blocking). */
void hfxd_collect_log(struct hfxd_process *p);

/* Run a program (argv[0] is a path) and return its exit status, or -1. */
int run_program(const char *const *argv);

/* The same, with what it wrote to stdout and stderr in out (cap bytes,
 * NUL-terminated, the rest dropped). */
int run_program_output(const char *const *argv, char *out, size_t cap);

#endif
