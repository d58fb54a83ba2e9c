/* SPDX-License-Identifier: MIT */
/*
 * bench/host-throughput: what hfxd costs on top of the encoder.
 *
 * The same 1920x1080 NV12 content (a few pre-rendered pattern frames,
 * cycled, so the source costs nothing) is encoded with libx264 ultrafast
 * zerolatency (a) by libavcodec called directly, (b) through hfxd over a
 * unix socket with INLINE frames, (c) the same with SHM frames. All in one
 * run on one machine; the ratios are the result, absolute numbers are not.
 * Then hfxd's peak RSS with 4 sessions at 1080p, and aggregate fps for 1,
 * 2, 4 and 8 sessions at 1280x720.
 *
 * Every encoder in the run has the same threads: THREADS for the direct
 * encoder's thread_count, hfxd's --encoder-threads and the bare encoders;
 * 0 (the default) leaves each at libx264's own choice (one per core, with
 * sliced threads under zerolatency), as hfxd does by default.
 *
 * Usage: host-throughput OUT_DIR [FRAMES [THREADS]]   (HFXD names the hfxd
 * binary)
 */
#include <fcntl.h>
#include <malloc.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "hfx/client.h"
#include "hfx/encoder.h"
#include "hfxd-process.h"
#include "pattern.h"

#define SOURCE_FRAMES 8
#define BITRATE_KBPS 8000
#define ROUNDS 5

struct source {
    struct hfx_image img[SOURCE_FRAMES];
};

struct result {
    double fps;
    double *lat_ms; /* per-frame latency, sorted after the run */
    unsigned n;
};

static double pct(const struct result *r, double p)
{
    if (!r->n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(r->n - 1) + 0.5);
    return r->lat_ms[i];
}

static void die(const char *what)
{
    fprintf(stderr, "host-throughput: %s\n", what);
    exit(1);
}

static void make_source(struct source *s, uint32_t w, uint32_t h)
{
    for (int i = 0; i < SOURCE_FRAMES; i++) {
        if (hfx_image_alloc(&s->img[i], HFX_FORMAT_NV12, w, h) != HFX_OK)
            die("out of memory");
        hfx_pattern_fill(&s->img[i], (uint64_t)i * 7);
    }
}

static void free_source(struct source *s)
{
    for (int i = 0; i < SOURCE_FRAMES; i++)
        hfx_image_release(&s->img[i]);
}

/* (a) libavcodec directly, with the settings hfxd uses for libx264. */
struct direct {
    AVCodecContext *ctx;
    AVFrame *f;
    AVPacket *pkt;
    uint32_t w, h;
};

static void direct_open(struct direct *d, uint32_t w, uint32_t h, unsigned threads)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");

    d->f = av_frame_alloc();
    d->pkt = av_packet_alloc();
    d->w = w;
    d->h = h;
    if (!codec || !d->f || !d->pkt)
        die("libx264 not available");
    d->ctx = avcodec_alloc_context3(codec);
    d->ctx->width = (int)w;
    d->ctx->height = (int)h;
    d->ctx->pix_fmt = AV_PIX_FMT_NV12;
    d->ctx->time_base = (AVRational){1, 30};
    d->ctx->framerate = (AVRational){30, 1};
    d->ctx->bit_rate = BITRATE_KBPS * 1000LL;
    d->ctx->max_b_frames = 0;
    d->ctx->gop_size = 300;
    /* libavcodec's libx264 wrapper defaults to 0 (x264's auto), which is
     * also what hfx_encoder leaves alone at 0. */
    d->ctx->thread_count = (int)threads;
    av_opt_set(d->ctx->priv_data, "preset", "ultrafast", 0);
    av_opt_set(d->ctx->priv_data, "tune", "zerolatency", 0);
    if (avcodec_open2(d->ctx, codec, NULL) < 0)
        die("cannot open libx264");
    d->f->format = AV_PIX_FMT_NV12;
    d->f->width = (int)w;
    d->f->height = (int)h;
    if (av_frame_get_buffer(d->f, 0) < 0)
        die("frame");
}

/* Encode one picture; returns the time it took in ms. */
static double direct_encode(struct direct *d, const struct hfx_image *src, int64_t pts)
{
    double a = now_s();

    if (av_frame_make_writable(d->f) < 0)
        die("frame");
    /* The copy hfxd's encoder also makes (into an AVFrame). */
    for (uint32_t y = 0; y < d->h; y++)
        memcpy(d->f->data[0] + (size_t)y * (size_t)d->f->linesize[0],
               src->plane[0] + (size_t)y * src->stride[0], d->w);
    for (uint32_t y = 0; y < d->h / 2; y++)
        memcpy(d->f->data[1] + (size_t)y * (size_t)d->f->linesize[1],
               src->plane[1] + (size_t)y * src->stride[1], d->w);
    d->f->pts = pts;
    if (avcodec_send_frame(d->ctx, d->f) < 0)
        die("send");
    while (avcodec_receive_packet(d->ctx, d->pkt) == 0)
        av_packet_unref(d->pkt);
    return (now_s() - a) * 1000.0;
}

static void direct_close(struct direct *d)
{
    avcodec_free_context(&d->ctx);
    av_frame_free(&d->f);
    av_packet_free(&d->pkt);
}

static void run_direct(const struct source *s, unsigned frames, unsigned threads, struct result *r)
{
    struct direct d;

    direct_open(&d, s->img[0].width, s->img[0].height, threads);
    r->lat_ms = calloc(frames, sizeof(double));
    double t0 = now_s();
    for (unsigned i = 0; i < frames; i++)
        r->lat_ms[r->n++] = direct_encode(&d, &s->img[i % SOURCE_FRAMES], i);
    r->fps = frames / (now_s() - t0);
    direct_close(&d);
    qsort(r->lat_ms, r->n, sizeof(double), cmp_double);
}

/* The stream every case encodes: libx264 (hfxd's name for it; hfx_encoder
 * options name it again for the bare encoders), the source's size. */
static struct hfx_configure stream_config(const struct hfx_image *img)
{
    return (struct hfx_configure){.codec = HFX_CODEC_H264,
                                  .width = img->width,
                                  .height = img->height,
                                  .fourcc = HFX_FORMAT_NV12,
                                  .fps_num = 30,
                                  .fps_den = 1,
                                  .bitrate_kbps = BITRATE_KBPS,
                                  .keyint_frames = 300,
                                  .encoder = "libx264"};
}

struct session_job {
    const char *address;
    const struct source *src;
    unsigned frames;
    unsigned window; /* frames in flight the client allows */
    bool shm;
    struct result r;
    unsigned dropped;
    /* Paired mode (window 1): before frame i goes to hfxd, the same picture
     * is encoded directly; beyond.lat_ms gets round trip minus that time. */
    struct direct *pair;
    double *direct_ms;
    struct result beyond;
};

/* (b)/(c): one client session; latency = FRAME sent -> its PACKET back. */
static void *run_session(void *arg)
{
    struct session_job *j = arg;
    struct hfx_client *cl = NULL;
    const struct hfx_image *img0 = &j->src->img[0];
    size_t size = img0->size;
    uint8_t *shm = NULL;
    uint32_t region = 0;
    double *sent = calloc(j->frames, sizeof(double));
    struct hfx_configure cfg = stream_config(img0);
    struct hfx_event ev;
    unsigned answered = 0;

    j->r.lat_ms = calloc(j->frames, sizeof(double));
    if (hfx_client_connect(j->address, NULL, &cl, NULL, 0) != HFX_OK)
        die("connect");
    unsigned slots = hfx_client_welcome(cl)->window;
    if (j->window > slots)
        j->window = slots;
    if (j->shm) {
        int fd = memfd_create("bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t)(size * slots)) ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK))
            die("memfd");
        shm = mmap(NULL, size * slots, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (shm == MAP_FAILED || hfx_client_attach_shm(cl, fd, size * slots, &region))
            die("shm");
        close(fd);
    }
    if (hfx_client_configure(cl, 1, &cfg) != HFX_OK)
        die("configure");
    do
        if (hfx_client_next_event(cl, 20000, &ev) != HFX_OK || ev.type == HFX_EVENT_ERROR)
            die("configured");
    while (ev.type != HFX_EVENT_CONFIGURED);

    double t0 = now_s();
    for (unsigned i = 0; i < j->frames || answered < j->frames;) {
        if (i < j->frames && hfx_client_in_flight(cl, 1) < j->window) {
            const struct hfx_image *src = &j->src->img[i % SOURCE_FRAMES];
            if (j->pair)
                j->direct_ms[i] = direct_encode(j->pair, src, i);
            struct hfx_frame f = {.frame_id = i, .pts = i, .duration = 1, .plane_count = 2};
            struct iovec iov = {src->base, size};
            f.planes[0].stride = src->stride[0];
            f.planes[1].offset = (uint64_t)(src->plane[1] - src->base);
            f.planes[1].stride = src->stride[1];
            enum hfx_status st;
            if (shm) {
                /* A guest would render into the slot; the copy stands for
                 * that write. */
                size_t slot = (i % slots) * size;
                memcpy(shm + slot, src->base, size);
                f.source = HFX_SOURCE_SHM;
                f.region = region;
                f.planes[0].offset += slot;
                f.planes[1].offset += slot;
                sent[i] = now_s();
                st = hfx_client_submit(cl, 1, &f, NULL, 0, false, 10000);
            } else {
                f.source = HFX_SOURCE_INLINE;
                sent[i] = now_s();
                st = hfx_client_submit(cl, 1, &f, &iov, 1, false, 10000);
            }
            if (st != HFX_OK)
                die("submit");
            i++;
            continue;
        }
        if (hfx_client_next_event(cl, 20000, &ev) != HFX_OK)
            die("event");
        if (ev.type == HFX_EVENT_PACKET) {
            uint64_t id = ev.u.packet.frame_id;
            if (id < j->frames) {
                double rtt = (now_s() - sent[id]) * 1000.0;
                j->r.lat_ms[j->r.n++] = rtt;
                if (j->pair)
                    j->beyond.lat_ms[j->beyond.n++] = rtt - j->direct_ms[id];
            }
            answered++;
        } else if (ev.type == HFX_EVENT_DROPPED) {
            j->dropped++;
            answered++;
        } else if (ev.type == HFX_EVENT_ERROR) {
            die(ev.u.error.text);
        }
    }
    j->r.fps = j->frames / (now_s() - t0);
    qsort(j->r.lat_ms, j->r.n, sizeof(double), cmp_double);
    if (j->pair)
        qsort(j->beyond.lat_ms, j->beyond.n, sizeof(double), cmp_double);
    hfx_client_free(&cl);
    if (shm)
        munmap(shm, size * slots);
    free(sent);
    return NULL;
}

/* n sessions at once; returns aggregate fps (all frames / wall time). */
static double run_sessions(const char *addr, const struct source *s, unsigned n, unsigned frames,
                           bool shm)
{
    struct session_job *jobs = calloc(n, sizeof(*jobs));
    pthread_t *t = calloc(n, sizeof(*t));
    double t0 = now_s();

    for (unsigned i = 0; i < n; i++) {
        jobs[i] = (struct session_job){
            .address = addr, .src = s, .frames = frames, .window = 4, .shm = shm};
        pthread_create(&t[i], NULL, run_session, &jobs[i]);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    double fps = (double)n * frames / (now_s() - t0);
    for (unsigned i = 0; i < n; i++)
        free(jobs[i].r.lat_ms);
    free(jobs);
    free(t);
    return fps;
}

static long peak_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

struct bare_job {
    const struct source *src;
    unsigned frames;
    unsigned threads;
};

/* One encoder as hfxd opens it (hfx_encoder_open, libx264), on a thread of
 * its own as in hfxd: the memory the encoders need whatever carries the
 * frames. */
static void *bare_encoder(void *arg)
{
    struct bare_job *j = arg;
    const struct hfx_image *img0 = &j->src->img[0];
    struct hfx_configure cfg = stream_config(img0);
    struct hfx_encoder_options opts = {.name = "libx264", .threads = j->threads};
    struct hfx_encoder *e = NULL;
    struct hfx_encoded out;

    if (hfx_encoder_open_with(&cfg, &opts, &e) != HFX_OK)
        die("bare encoder");
    for (unsigned i = 0; i < j->frames; i++) {
        const struct hfx_image *src = &j->src->img[i % SOURCE_FRAMES];
        struct hfx_picture pic = {{src->plane[0], src->plane[1]},
                                  {src->stride[0], src->stride[1]}};
        if (hfx_encoder_send(e, &pic, i, false) != HFX_OK)
            die("bare encode");
        while (hfx_encoder_receive(e, &out) == HFX_OK)
            ;
    }
    hfx_encoder_free(&e);
    return NULL;
}

/* Child mode (--bare-encoders N): run N encoders at once in a fresh
 * process and print its peak RSS minus the source frames it rendered, i.e.
 * what the encoders need in a process like hfxd. */
static int bare_main(unsigned n, unsigned threads)
{
    struct source s;
    pthread_t t[16];
    size_t source_kb = 0;

    /* As hfxd (host/hfxd.c): one malloc arena, so that the baseline's heap
     * is laid out as the daemon's. */
    mallopt(M_ARENA_MAX, 1);
    make_source(&s, 1920, 1080);
    for (int i = 0; i < SOURCE_FRAMES; i++)
        source_kb += s.img[i].size / 1024;
    struct bare_job j = {.src = &s, .frames = 60, .threads = threads};
    for (unsigned i = 0; i < n && i < 16; i++)
        pthread_create(&t[i], NULL, bare_encoder, &j);
    for (unsigned i = 0; i < n && i < 16; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", peak_rss_kb(getpid()) - (long)source_kb);
    free_source(&s);
    return 0;
}

static long bare_encoders_peak_kb(unsigned n, unsigned threads)
{
    char cmd[80];
    long kb = -1;

    snprintf(cmd, sizeof(cmd), "/proc/%d/exe --bare-encoders %u %u", (int)getpid(), n, threads);
    FILE *p = popen(cmd, "r");
    if (!p || fscanf(p, "%ld", &kb) != 1)
        kb = -1;
    if (p)
        pclose(p);
    return kb;
}

/* The per-round figures of one case as one CSV cell, "a;b;c,". */
static void put_rounds(FILE *csv, const double *v)
{
    for (int i = 0; i < ROUNDS; i++)
        fprintf(csv, "%.3f%s", v[i], i + 1 < ROUNDS ? ";" : ",");
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--bare-encoders") == 0)
        return bare_main((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
    const char *out = argc > 1 ? argv[1] : "bench/results";
    unsigned frames = argc > 2 ? (unsigned)atoi(argv[2]) : 600;
    unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    char threads_arg[16];
    const char *const hfxd_args[] = {"--quiet", "--encoder-threads", threads_arg, NULL};
    struct source s1080, s720;
    struct result direct = {0};
    struct hfxd_process d;
    char path[512];
    FILE *csv;

    make_source(&s1080, 1920, 1080);
    make_source(&s720, 1280, 720);
    if (frames < 8 || threads > HFX_ENCODER_MAX_THREADS)
        die("usage: host-throughput OUT_DIR [FRAMES (>= 8) [THREADS (0 = auto)]]");
    snprintf(threads_arg, sizeof(threads_arg), "%u", threads);
    hfxd_start(&d, -1, hfxd_args);

    /* (a), (b), (c) take turns, ROUNDS times: a slow spell on this shared
     * machine then hits all three, and the median ratio over rounds is
     * what is reported. */
    double ratio_inl[ROUNDS], ratio_shm[ROUNDS], fps_a[ROUNDS], fps_b[ROUNDS], fps_c[ROUNDS];
    struct session_job inl, shm;
    for (int round = 0; round < ROUNDS; round++) {
        free(direct.lat_ms);
        direct = (struct result){0};
        fprintf(stderr, "round %d: (a) libavcodec direct, %u frames 1920x1080 NV12...\n",
                round + 1, frames);
        run_direct(&s1080, frames, threads, &direct);
        inl = (struct session_job){
            .address = d.unix_addr, .src = &s1080, .frames = frames, .window = 4};
        fprintf(stderr, "round %d: (b) hfxd INLINE...\n", round + 1);
        run_session(&inl);
        shm = inl;
        shm.shm = true;
        shm.r = (struct result){0};
        fprintf(stderr, "round %d: (c) hfxd SHM...\n", round + 1);
        run_session(&shm);
        fps_a[round] = direct.fps;
        fps_b[round] = inl.r.fps;
        fps_c[round] = shm.r.fps;
        ratio_inl[round] = inl.r.fps / direct.fps;
        ratio_shm[round] = shm.r.fps / direct.fps;
        fprintf(stderr, "round %d: direct %.1f fps, inline %.1f (%.3f), shm %.1f (%.3f)\n",
                round + 1, direct.fps, inl.r.fps, ratio_inl[round], shm.r.fps, ratio_shm[round]);
        if (round + 1 < ROUNDS) {
            free(inl.r.lat_ms);
            free(shm.r.lat_ms);
        }
    }

    /* Round trip with one frame in flight, so that no queueing is counted,
     * each frame paired with a direct encode of the same picture just
     * before it: what is beyond the encode time is hfx's own cost. */
    struct direct pair_enc;
    struct session_job inl1 = inl, shm1 = shm;
    inl1.window = shm1.window = 1;
    inl1.r = shm1.r = (struct result){0};
    inl1.frames = shm1.frames = frames / 2;
    fprintf(stderr, "round trip, one frame in flight, paired with direct encodes...\n");
    direct_open(&pair_enc, 1920, 1080, threads);
    inl1.pair = shm1.pair = &pair_enc;
    inl1.direct_ms = calloc(inl1.frames, sizeof(double));
    shm1.direct_ms = calloc(shm1.frames, sizeof(double));
    inl1.beyond.lat_ms = calloc(inl1.frames, sizeof(double));
    shm1.beyond.lat_ms = calloc(shm1.frames, sizeof(double));
    run_session(&inl1);
    run_session(&shm1);
    direct_close(&pair_enc);

    snprintf(path, sizeof(path), "%s/host-throughput.csv", out);
    csv = fopen(path, "w");
    if (!csv)
        die("cannot write the CSV");
    const char *thr = threads ? threads_arg : "auto";
    fprintf(csv, "case,encoder_threads,fps,ratio_to_direct,fps_rounds,ratio_rounds,"
                 "latency_p50_ms,latency_p99_ms,beyond_encode_p50_ms,beyond_encode_p99_ms,"
                 "dropped\n");
    fprintf(csv, "direct,%s,%.1f,1.000,", thr, median(fps_a, ROUNDS));
    put_rounds(csv, fps_a);
    fprintf(csv, ",%.3f,%.3f,0,0,0\n", pct(&direct, 50), pct(&direct, 99));
    fprintf(csv, "hfxd-inline,%s,%.1f,%.3f,", thr, median(fps_b, ROUNDS),
            median(ratio_inl, ROUNDS));
    put_rounds(csv, fps_b);
    put_rounds(csv, ratio_inl);
    fprintf(csv, "%.3f,%.3f,%.3f,%.3f,%u\n", pct(&inl1.r, 50), pct(&inl1.r, 99),
            pct(&inl1.beyond, 50), pct(&inl1.beyond, 99), inl.dropped);
    fprintf(csv, "hfxd-shm,%s,%.1f,%.3f,", thr, median(fps_c, ROUNDS), median(ratio_shm, ROUNDS));
    put_rounds(csv, fps_c);
    put_rounds(csv, ratio_shm);
    fprintf(csv, "%.3f,%.3f,%.3f,%.3f,%u\n", pct(&shm1.r, 50), pct(&shm1.r, 99),
            pct(&shm1.beyond, 50), pct(&shm1.beyond, 99), shm.dropped);
    fclose(csv);
    fprintf(stderr,
            "median over %d rounds: direct %.1f fps, inline %.1f (%.3f), shm %.1f "
            "(%.3f)\n",
            ROUNDS, median(fps_a, ROUNDS), median(fps_b, ROUNDS), median(ratio_inl, ROUNDS),
            median(fps_c, ROUNDS), median(ratio_shm, ROUNDS));

    /* Peak RSS with 4 sessions at 1080p, in a fresh hfxd. */
    struct hfxd_process d4;
    hfxd_start(&d4, -1, hfxd_args);
    fprintf(stderr, "4 sessions at 1080p...\n");
    double fps4 = run_sessions(d4.unix_addr, &s1080, 4, frames / 4, false);
    long rss = peak_rss_kb(d4.pid);
    if (!hfxd_stop(&d4))
        die("hfxd did not exit cleanly");
    /* Baseline: the four encoders alone, in a fresh process. */
    long bare = bare_encoders_peak_kb(4, threads);

    snprintf(path, sizeof(path), "%s/host-sessions.csv", out);
    csv = fopen(path, "w");
    if (!csv)
        die("cannot write the CSV");
    fprintf(csv, "sessions,size,encoder_threads,aggregate_fps,hfxd_peak_rss_mb,"
                 "bare_encoders_peak_rss_mb\n");
    fprintf(csv, "4,1920x1080,%s,%.1f,%.1f,%.1f\n", thr, fps4, rss / 1024.0, bare / 1024.0);
    for (unsigned n = 1; n <= 8; n *= 2) {
        fprintf(stderr, "%u sessions at 720p...\n", n);
        double fps = run_sessions(d.unix_addr, &s720, n, frames / 4, false);
        fprintf(csv, "%u,1280x720,%s,%.1f,,\n", n, thr, fps);
    }
    fclose(csv);
    fprintf(stderr, "peak RSS with 4 sessions at 1080p: hfxd %.1f MB, 4 bare encoders %.1f MB\n",
            rss / 1024.0, bare / 1024.0);
    if (!hfxd_stop(&d))
        die("hfxd did not exit cleanly");
    free_source(&s1080);
    free_source(&s720);
    free(direct.lat_ms);
    free(inl.r.lat_ms);
    free(shm.r.lat_ms);
    free(inl1.r.lat_ms);
    free(shm1.r.lat_ms);
    free(inl1.beyond.lat_ms);
    free(shm1.beyond.lat_ms);
    free(inl1.direct_ms);
    free(shm1.direct_ms);
    return 0;
}
