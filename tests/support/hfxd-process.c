/* SPDX-License-Identifier: MIT */
#include "hfxd-process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

void hfxd_collect_log(struct hfxd_process *p)
{
    for (;;) {
        if (p->log_len + 1 >= sizeof(p->log))
            return;
        ssize_t n = read(p->log_fd, p->log + p->log_len, sizeof(p->log) - 1 - p->log_len);
        if (n <= 0)
            return;
        p->log_len += (size_t)n;
        p->log[p->log_len] = '\0';
    }
}

/* Everything hfxd wrote, from the start of its log file (p->log holds only
 * the first 64 kB): what a failed start or stop shows. */
static void print_log(struct hfxd_process *p, const char *why)
{
    char buf[4096];
    off_t at = 0;
    ssize_t n;

    fprintf(stderr, "%s; log:\n", why);
    fflush(stderr);
    while ((n = pread(p->log_fd, buf, sizeof(buf), at)) > 0) {
        if (write(2, buf, (size_t)n) != n)
            break;
        at += n;
    }
    fprintf(stderr, "\n");
}

void hfxd_start(struct hfxd_process *p, int keep_fd, const char *const *extra)
{
    const char *bin = getenv("HFXD");
    const char *argv[40];
    char listen[160], log_path[80];
    int log_out;
    int n = 0;

    memset(p, 0, sizeof(*p));
    CHECK(bin != NULL);
    snprintf(p->dir, sizeof(p->dir), "/tmp/hfxd-test-XXXXXX");
    CHECK(mkdtemp(p->dir) != NULL);
    snprintf(p->unix_addr, sizeof(p->unix_addr), "unix:%s/sock", p->dir);
    snprintf(listen, sizeof(listen), "--listen=%s", p->unix_addr);
    argv[n++] = bin;
    argv[n++] = listen;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    /* hfxd's stdout and stderr go to a file, not a pipe: nothing reads a
     * pipe while a test runs, and a writer that fills one blocks (hfxd
     * under valgrind, which reports on stderr, did). Unlinked at once, so
     * that only the socket is left in p->dir, as before. */
    snprintf(log_path, sizeof(log_path), "%s/log", p->dir);
    log_out = open(log_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(log_out >= 0);
    p->log_fd = open(log_path, O_RDONLY | O_CLOEXEC);
    CHECK(p->log_fd >= 0);
    unlink(log_path);
    p->pid = fork();
    CHECK(p->pid >= 0);
    if (p->pid == 0) {
        /* hfxd must not outlive a test that failed before stopping it, nor
         * hold the test runner's stdout open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(log_out, 1);
        dup2(log_out, 2);
        /* Only stdio and keep_fd go to hfxd. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != keep_fd)
                close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(log_out);
    for (int waited = 0; waited < check_timeout_ms(10000); waited += 20) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
        hfxd_collect_log(p);
        char *port = strstr(p->log, "bound to port ");
        if (port)
            p->tcp_port = (uint16_t)atoi(port + strlen("bound to port "));
        if (strstr(p->log, " ready"))
            return;
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            print_log(p, "hfxd exited early");
            check_fail(__FILE__, __LINE__, "hfxd start", "exited");
        }
    }
    print_log(p, "hfxd did not start");
    check_fail(__FILE__, __LINE__, "hfxd start", "no 'ready' line in time");
}

bool hfxd_stop(struct hfxd_process *p)
{
    int status = 0;
    bool ok = false;
    char path[160];

    kill(p->pid, SIGTERM);
    for (int waited = 0; waited < check_timeout_ms(10000); waited += 10) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            break;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (!ok) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &status, 0);
    }
    hfxd_collect_log(p);
    if (!ok)
        print_log(p, "hfxd did not exit cleanly");
    close(p->log_fd);
    snprintf(path, sizeof(path), "%s/sock", p->dir);
    unlink(path);
    rmdir(p->dir);
    return ok;
}

int run_program(const char *const *argv)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_program_output(const char *const *argv, char *out, size_t cap)
{
    int status, pipefd[2];
    size_t len = 0;
    pid_t pid;

    if (cap == 0 || pipe(pipefd) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    for (;;) {
        char drop[512];
        char *to = len + 1 < cap ? out + len : drop;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof(drop);
        ssize_t n = read(pipefd[0], to, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (to != drop)
            len += (size_t)n;
    }
    out[len] = '\0';
    close(pipefd[0]);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
