/* SPDX-License-Identifier: MIT */
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void check_fail(const char *file, int line, const char *expr, const char *detail)
{
    fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, expr,
            detail ? " -- " : "", detail ? detail : "");
    fflush(stderr);
    _exit(1);
}

int check_count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    int n = 0;
    if (!dir)
        return -1;
    while (readdir(dir))
        n++;
    closedir(dir);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* Every open descriptor and what it is, for a leak's report. */
static void list_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;

    if (!dir)
        return;
    while ((e = readdir(dir))) {
        char path[300], target[256];
        ssize_t n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
    }
    closedir(dir);
}

/* The case's descriptors against before: a thread the case left to end on
 * its own (a detached encoder worker, say) may hold one for a moment, so a
 * difference must last a second to count as a leak. */
static int leaked_fds(int before)
{
    struct timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    int after = check_count_fds();

    for (int waited = 0; after != before && waited < check_timeout_ms(1000); waited += 10) {
        nanosleep(&tick, NULL);
        after = check_count_fds();
    }
    return after - before;
}

int check_timeout_ms(int ms)
{
    const char *v = getenv("HFX_TEST_TIMEOUT_SCALE");
    long scale = v ? strtol(v, NULL, 10) : 1;

    if (scale < 1 || scale > 100)
        scale = 1;
    return ms * (int)scale;
}

static bool run_one(const struct check_case *c)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return false;
    }
    if (pid == 0) {
        int before = check_count_fds();
        c->fn();
        int leaked = leaked_fds(before);
        if (leaked) {
            fprintf(stderr, "%s: leaked %d file descriptor(s); open now:\n", c->name, leaked);
            list_fds();
            _exit(2);
        }
        /* exit, not _exit: LeakSanitizer checks for leaks at exit. */
        exit(0);
    }
    if (waitpid(pid, &status, 0) < 0) {
        perror("waitpid");
        return false;
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s: killed by signal %d\n", c->name, WTERMSIG(status));
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int check_run(const struct check_case *cases, size_t n)
{
    size_t failed = 0;
    const char *only = getenv("CHECK_ONLY");

    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        bool ok = run_one(&cases[i]);
        printf("%s %s\n", ok ? "ok  " : "FAIL", cases[i].name);
        if (!ok)
            failed++;
    }
    printf("%zu of %zu failed\n", failed, n);
    return failed ? 1 : 0;
}
