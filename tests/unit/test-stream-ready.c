/* SPDX-License-Identifier: MIT */
/*
 * The ready list of host/stream.h: a stream with results is on it exactly
 * once, the wake pipe gets one byte when the list stops being empty, and a
 * stream that is stopped or whose results are taken is not on it. Streams
 * run in-loop (no worker thread) with the test-only `fake` encoder
 * (host/encoder-fault.h), so that every result is posted during
 * stream_work, on this thread, and the test decides the order. One case
 * starts a stream with its worker thread, to see that thread's name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "stream.h"

#define W 64
#define H 48

struct fixture {
    int pipe[2];
    struct stream_ready ready;
    int owners[3]; /* the owner pointers the streams carry */
};

static void fixture_init(struct fixture *fx)
{
    CHECK(pipe(fx->pipe) == 0);
    for (int i = 0; i < 2; i++)
        CHECK(fcntl(fx->pipe[i], F_SETFL, O_NONBLOCK) == 0);
    stream_ready_init(&fx->ready, fx->pipe[1]);
}

static void fixture_free(struct fixture *fx)
{
    stream_ready_destroy(&fx->ready);
    close(fx->pipe[0]);
    close(fx->pipe[1]);
}

/* Bytes waiting on the wake pipe, read away. */
static int wake_bytes(struct fixture *fx)
{
    char buf[64];
    int total = 0;
    ssize_t n;

    while ((n = read(fx->pipe[0], buf, sizeof(buf))) > 0)
        total += (int)n;
    CHECK(n < 0 && errno == EAGAIN);
    return total;
}

static struct stream *start_with(struct fixture *fx, uint32_t id, struct worker_count *workers)
{
    struct stream_params p;
    struct stream *s = NULL;

    memset(&p, 0, sizeof(p));
    p.cfg = (struct hfx_configure){.codec = HFX_CODEC_H264,
                                   .width = W,
                                   .height = H,
                                   .fourcc = HFX_FORMAT_NV12,
                                   .fps_num = 30,
                                   .fps_den = 1,
                                   .bitrate_kbps = 500};
    p.encoder = "fake";
    p.window = 4;
    p.ready = &fx->ready;
    p.owner = &fx->owners[id];
    p.in_loop = !workers;
    p.workers = workers;
    p.stream_id = id;
    CHECK_STATUS(stream_start(&p, &s), HFX_OK);
    return s;
}

static struct stream *start(struct fixture *fx, uint32_t id)
{
    return start_with(fx, id, NULL);
}

static void submit(struct stream *s, uint64_t frame_id)
{
    static uint8_t pixels[W * H * 3 / 2];
    struct stream_frame f = {.frame_id = frame_id, .seq = frame_id};
    struct stream_frame dropped;

    f.pic.plane[0] = pixels;
    f.pic.plane[1] = pixels + W * H;
    f.pic.stride[0] = f.pic.stride[1] = W;
    CHECK(!stream_submit(s, &f, &dropped));
}

/* The stream popped next, or 0 when none; checks the owner matches. */
static uint32_t pop(struct fixture *fx)
{
    void *owner = NULL;
    uint32_t id = 0;
    struct stream *s = stream_ready_pop(&fx->ready, &owner, &id);

    if (!s)
        return 0;
    CHECK(owner == &fx->owners[id]);
    return id;
}

static void stop(struct stream **s)
{
    struct stream_frame pending[HFX_MAX_WINDOW];
    unsigned n = 0;

    stream_results_free(stream_stop(s, pending, &n));
    for (unsigned i = 0; i < n; i++)
        stream_frame_release(&pending[i]);
}

/* Only the stream that posted is on the list, once, however many results
 * it posted; one byte for the list going from empty to not. */
static void test_only_the_stream_with_work(void)
{
    struct fixture fx;
    struct stream *a, *b;

    fixture_init(&fx);
    a = start(&fx, 1);
    b = start(&fx, 2);
    CHECK_EQ_INT(pop(&fx), 0);
    CHECK_EQ_INT(wake_bytes(&fx), 0);

    submit(b, 1);
    submit(b, 2);
    stream_work(b); /* CONFIGURED and two PACKETs */
    CHECK_EQ_INT(wake_bytes(&fx), 1);
    CHECK_EQ_INT(pop(&fx), 2);
    CHECK_EQ_INT(pop(&fx), 0);

    /* Both post; the list keeps their order, each once, one byte. */
    stream_work(a);
    submit(b, 3);
    stream_work(b);
    CHECK_EQ_INT(wake_bytes(&fx), 1);
    CHECK_EQ_INT(pop(&fx), 1);
    CHECK_EQ_INT(pop(&fx), 2);
    CHECK_EQ_INT(pop(&fx), 0);

    stop(&a);
    stop(&b);
    fixture_free(&fx);
}

/* A stream stopped while on the list leaves it; the others stay. */
static void test_stopped_stream_leaves(void)
{
    struct fixture fx;
    struct stream *a, *b;

    fixture_init(&fx);
    a = start(&fx, 1);
    b = start(&fx, 2);
    stream_work(a);
    stream_work(b);
    stop(&a);
    CHECK(a == NULL);
    CHECK_EQ_INT(pop(&fx), 2);
    CHECK_EQ_INT(pop(&fx), 0);
    stop(&b);
    /* Both on the list, both stopped: the list is empty. */
    a = start(&fx, 1);
    b = start(&fx, 2);
    stream_work(a);
    stream_work(b);
    stop(&b);
    stop(&a);
    CHECK_EQ_INT(pop(&fx), 0);
    fixture_free(&fx);
}

/* Results taken some other way (as when a stream is ended) take the
 * stream off the list; a later result puts it back. */
static void test_taken_results_leave(void)
{
    struct fixture fx;
    struct stream *a;

    fixture_init(&fx);
    a = start(&fx, 1);
    stream_work(a);
    CHECK_EQ_INT(wake_bytes(&fx), 1);
    stream_results_free(stream_take_results(a));
    CHECK_EQ_INT(pop(&fx), 0);
    submit(a, 1);
    stream_work(a);
    CHECK_EQ_INT(wake_bytes(&fx), 1);
    CHECK_EQ_INT(pop(&fx), 1);
    CHECK_EQ_INT(pop(&fx), 0);
    stop(&a);
    fixture_free(&fx);
}

/* Threads of this process named `name` (Linux: /proc/self/task). */
static int threads_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;

    CHECK(d != NULL);
    while ((e = readdir(d))) {
        char path[300], comm[32] = "";
        FILE *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended meanwhile */
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}

/* A stream's worker is called hfx-encode, where top -H and
 * bench/run-vm-resource find the encoding inside an embedder; it is gone
 * once the stream has been stopped and has freed itself. */
static void test_worker_thread_named(void)
{
    struct fixture fx;
    struct worker_count wc = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct stream *s;
    int named = 0;

    fixture_init(&fx);
    CHECK_EQ_INT(threads_named("hfx-encode"), 0);
    s = start_with(&fx, 1, &wc);
    /* The worker names itself when it starts: wait up to 5 s. */
    for (int i = 0; i < 500 && !(named = threads_named("hfx-encode")); i++)
        usleep(10000);
    CHECK_EQ_INT(named, 1);
    stop(&s);
    pthread_mutex_lock(&wc.lock);
    while (wc.live)
        pthread_cond_wait(&wc.cond, &wc.lock);
    pthread_mutex_unlock(&wc.lock);
    for (int i = 0; i < 500 && threads_named("hfx-encode"); i++)
        usleep(10000); /* between its last unlock and its end */
    CHECK_EQ_INT(threads_named("hfx-encode"), 0);
    fixture_free(&fx);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_only_the_stream_with_work),
        CHECK_CASE(test_stopped_stream_leaves),
        CHECK_CASE(test_taken_results_leave),
        CHECK_CASE(test_worker_thread_named),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
