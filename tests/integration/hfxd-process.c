/* SPDX-License-Identifier: MIT */
#include "hfxd-process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

void hfxd_start(struct hfxd_process *p, int keep_fd, const char *const *extra)
{
    const char *bin = getenv("HFXD");
    const char *argv[40];
    char listen[160];
    int pipefd[2];
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
    CHECK(pipe(pipefd) == 0);
    p->pid = fork();
    CHECK(p->pid >= 0);
    if (p->pid == 0) {
        /* hfxd must not outlive a test that failed before stopping it, nor
         * hold the test runner's stdout open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        close(pipefd[1]);
        /* Only stdio and keep_fd go to hfxd. */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != keep_fd)
                close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    p->log_fd = pipefd[0];
    fcntl(p->log_fd, F_SETFL, O_NONBLOCK);
    for (int waited = 0; waited < 10000; waited += 20) {
        struct pollfd pfd = {.fd = p->log_fd, .events = POLLIN};
        poll(&pfd, 1, 20);
        hfxd_collect_log(p);
        char *port = strstr(p->log, "bound to port ");
        if (port)
            p->tcp_port = (uint16_t)atoi(port + strlen("bound to port "));
        if (strstr(p->log, " ready"))
            return;
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            fprintf(stderr, "hfxd exited early:\n%s\n", p->log);
            check_fail(__FILE__, __LINE__, "hfxd start", "exited");
        }
    }
    fprintf(stderr, "hfxd log:\n%s\n", p->log);
    check_fail(__FILE__, __LINE__, "hfxd start", "no 'ready' line within 10 s");
}

bool hfxd_stop(struct hfxd_process *p)
{
    int status = 0;
    bool ok = false;
    char path[160];

    kill(p->pid, SIGTERM);
    for (int waited = 0; waited < 10000; waited += 10) {
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
    close(p->log_fd);
    snprintf(path, sizeof(path), "%s/sock", p->dir);
    unlink(path);
    rmdir(p->dir);
    if (!ok)
        fprintf(stderr, "hfxd did not exit cleanly; log:\n%s\n", p->log);
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
