/* SPDX-License-Identifier: MIT */
/*
 * bench/gst-pipeline: vsockenc against x264enc in a real GStreamer
 * pipeline, on the same machine, in one run.
 *
 * The source is an appsrc that cycles 8 pre-rendered NV12 frames of the hfx
 * test pattern (shallow copies of the same GstBuffers, new timestamps), so
 * it costs almost nothing; its own rate (SOURCE ! fakesink) is measured and
 * reported too. At 1280x720 and 1920x1080, every case below takes its turn
 * in each of ROUNDS rounds. The cases come in two groups, each vsockenc
 * case against the x264enc with the same encoder threads: two hfxd run, one
 * with --encoder-threads 1, one with the default (libx264's own choice, one
 * thread per core, as x264enc's default threads=0):
 *
 *   source           SOURCE ! fakesink
 *   x264-1thread     x264enc ultrafast zerolatency 8000 kbit/s threads=1:
 *                    the baseline of the group "1 thread"
 *   vsockenc-4-1t    vsockenc frame-source=inline max-frames-in-flight=4,
 *                    hfxd --encoder-threads 1
 *   vsockenc-1-1t    the same with max-frames-in-flight=1
 *   vsockenc-shm-1t  frame-source=shm, max-frames-in-flight=4, only if the
 *                    element has that value and hfxd really maps a memfd
 *   x264-auto        x264enc, same settings, default threads: the baseline
 *                    of the group "auto"
 *   vsockenc-4, vsockenc-1, vsockenc-shm   as above, hfxd's default threads
 *
 * fps = output frames / wall time, counted at the fakesink from output
 * frame WARMUP+1 to the last one: element start, connection, encoder open
 * and the first WARMUP frames are excluded. The reported ratio is the
 * median over rounds of fps / fps(the group's x264enc) of the same round
 * and size (the source's: against x264-1thread).
 *
 * Usage: gst-pipeline OUT_DIR [FRAMES]
 * Environment: HFXD (the hfxd binary), GST_PLUGIN_PATH (vsockenc).
 *
 * gst-pipeline --one CASE WxH FRAMES [ADDRESS] runs one case once with the
 * same source and settings, against an hfxd someone else started (ADDRESS,
 * default auto: a guest's virtio-serial port), and prints one line
 * "result case=... fps=... ..." (or "... error=...", exit status 1).
 * bench/run-vm-offload runs it inside a guest. Around the counted frames it
 * prints "@mark begin" and "@mark end" lines, flushed at once, so that a
 * watcher on the host can sample CPU counters over the same stretch.
 */
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench-util.h"
#include "hfxd-process.h"
#include "pattern.h"

#define SOURCE_FRAMES 8
#define ROUNDS 3
#define WARMUP 20
#define MAX_NOTE 160

/* Encoder settings shared by every case (x264enc bitrate is kbit/s, as
 * vsockenc's; GOP 300 as hfxd's default at 30 fps). */
#define X264 "x264enc speed-preset=ultrafast tune=zerolatency bitrate=8000 key-int-max=300"
#define VSOCK "vsockenc name=enc address=%s encoder=libx264 bitrate=8000 key-int-max=300"

enum case_id {
    C_SOURCE,
    C_X264_1,
    C_VSOCK_4_1,
    C_VSOCK_1_1,
    C_VSOCK_SHM_1,
    C_X264_AUTO,
    C_VSOCK_4,
    C_VSOCK_1,
    C_VSOCK_SHM,
    N_CASES
};

/* Encoder threads: which hfxd a vsockenc case talks to, which x264enc it is
 * compared with. */
enum group { G_ONE, G_AUTO, N_GROUPS };

#define INLINE_4 " frame-source=inline max-frames-in-flight=4"
#define INLINE_1 " frame-source=inline max-frames-in-flight=1"
#define SHM_4 " frame-source=shm max-frames-in-flight=4"

static const struct case_def {
    const char *name;
    const char *element; /* printf format, %s = hfxd's address; NULL: none */
    enum group group;
    enum case_id baseline; /* the ratio's denominator */
    gboolean vsock, shm;
} cases[N_CASES] = {
    [C_SOURCE] = {"source", NULL, G_ONE, C_X264_1, FALSE, FALSE},
    [C_X264_1] = {"x264-1thread", X264 " threads=1", G_ONE, C_X264_1, FALSE, FALSE},
    [C_VSOCK_4_1] = {"vsockenc-4-1t", VSOCK INLINE_4, G_ONE, C_X264_1, TRUE, FALSE},
    [C_VSOCK_1_1] = {"vsockenc-1-1t", VSOCK INLINE_1, G_ONE, C_X264_1, TRUE, FALSE},
    [C_VSOCK_SHM_1] = {"vsockenc-shm-1t", VSOCK SHM_4, G_ONE, C_X264_1, TRUE, TRUE},
    [C_X264_AUTO] = {"x264-auto", X264, G_AUTO, C_X264_AUTO, FALSE, FALSE},
    [C_VSOCK_4] = {"vsockenc-4", VSOCK INLINE_4, G_AUTO, C_X264_AUTO, TRUE, FALSE},
    [C_VSOCK_1] = {"vsockenc-1", VSOCK INLINE_1, G_AUTO, C_X264_AUTO, TRUE, FALSE},
    [C_VSOCK_SHM] = {"vsockenc-shm", VSOCK SHM_4, G_AUTO, C_X264_AUTO, TRUE, TRUE},
};

static const struct size {
    unsigned w, h;
} sizes[] = {{1280, 720}, {1920, 1080}};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

struct source {
    struct hfx_image img[SOURCE_FRAMES];
    GstBuffer *buf[SOURCE_FRAMES]; /* wrap img[i], no copy */
    GstCaps *caps;
};

/* One run of one pipeline. */
struct run {
    const struct source *src;
    unsigned frames;
    unsigned pushed, out;
    pid_t hfxd;
    gboolean check_memfd; /* look for a memfd in hfxd's maps mid-run */
    gboolean memfd_seen;
    gboolean marks;     /* print @mark lines around the counted frames */
    unsigned timeout_s; /* give up on the pipeline after this; 0: 120 */
    double t0, t1;      /* wall time at output WARMUP+1 and at the last */
    double cpu0, cpu1;  /* this process's CPU seconds at the same points */
    double hfxd_cpu0, hfxd_cpu1;
};

struct cell {
    double fps[ROUNDS], ratio[ROUNDS], cpu_ms[ROUNDS], hfxd_cpu_ms[ROUNDS];
    unsigned rounds;
    guint64 dropped;
    char note[MAX_NOTE]; /* why there is no figure */
};

static void die(const char *what)
{
    fprintf(stderr, "gst-pipeline: %s\n", what);
    exit(1);
}

static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* utime + stime of another process from /proc/PID/stat, in seconds. */
static double pid_cpu_s(pid_t pid)
{
    char path[64], line[1024];
    unsigned long ut = 0, st = 0;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(line, sizeof(line), f)) {
        /* Fields after the ")" that closes comm: state is field 3, utime 14. */
        char *p = strrchr(line, ')');
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
            ut = st = 0;
    }
    fclose(f);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Whether pid has a memfd mapped: an hfxd that took a SHM region has. */
static gboolean has_memfd_mapping(pid_t pid)
{
    char path[64], line[512];
    gboolean found = FALSE;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return FALSE;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "/memfd:") != NULL;
    fclose(f);
    return found;
}

static void make_source(struct source *s, unsigned w, unsigned h)
{
    GstVideoInfo info;

    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_NV12, w, h);
    GST_VIDEO_INFO_FPS_N(&info) = 30;
    GST_VIDEO_INFO_FPS_D(&info) = 1;
    s->caps = gst_video_info_to_caps(&info);
    for (int i = 0; i < SOURCE_FRAMES; i++) {
        struct hfx_image *img = &s->img[i];
        if (hfx_image_alloc(img, HFX_FORMAT_NV12, w, h) != HFX_OK)
            die("out of memory");
        hfx_pattern_fill(img, (uint64_t)i * 7);
        /* hfx_image packs the planes as GStreamer's default NV12 layout
         * does; no GstVideoMeta needed if that holds. */
        if (GST_VIDEO_INFO_PLANE_STRIDE(&info, 0) != (gint)img->stride[0] ||
            GST_VIDEO_INFO_PLANE_STRIDE(&info, 1) != (gint)img->stride[1] ||
            GST_VIDEO_INFO_PLANE_OFFSET(&info, 1) != (gsize)(img->plane[1] - img->base) ||
            GST_VIDEO_INFO_SIZE(&info) != img->size)
            die("hfx_image and GstVideoInfo disagree on the NV12 layout");
        s->buf[i] = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY, img->base, img->size, 0,
                                                img->size, NULL, NULL);
    }
}

static void free_source(struct source *s)
{
    for (int i = 0; i < SOURCE_FRAMES; i++) {
        gst_buffer_unref(s->buf[i]);
        hfx_image_release(&s->img[i]);
    }
    gst_caps_unref(s->caps);
}

/* appsrc asks for data: one shallow copy of a pre-rendered frame (shares
 * its memory) with the next timestamp; EOS after the last. */
static void need_data(GstAppSrc *src, guint length, gpointer data)
{
    struct run *r = data;

    if (r->pushed == r->frames) {
        gst_app_src_end_of_stream(src);
        return;
    }
    GstBuffer *b = gst_buffer_copy(r->src->buf[r->pushed % SOURCE_FRAMES]);
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(r->pushed, GST_SECOND, 30);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale(1, GST_SECOND, 30);
    r->pushed++;
    gst_app_src_push_buffer(src, b);
}

static GstPadProbeReturn on_output(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct run *r = data;

    r->out++;
    if (r->marks && r->out == WARMUP + 1) {
        /* Before t0: writing the line (to a 9p file in a guest) must not
         * count. */
        printf("@mark begin\n");
        fflush(stdout);
    }
    if (r->out == WARMUP + 1 || r->out == r->frames) {
        double t = now_s(), cpu = process_cpu_s(), hc = pid_cpu_s(r->hfxd);
        if (r->out == WARMUP + 1) {
            r->t0 = t;
            r->cpu0 = cpu;
            r->hfxd_cpu0 = hc;
        } else {
            r->t1 = t;
            r->cpu1 = cpu;
            r->hfxd_cpu1 = hc;
        }
    }
    if (r->marks && r->out == r->frames) {
        printf("@mark end\n");
        fflush(stdout);
    }
    if (r->check_memfd && r->out == r->frames / 2)
        r->memfd_seen = has_memfd_mapping(r->hfxd);
    return GST_PAD_PROBE_OK;
}

/* What vsockenc's stats said at the end of a run (zero for x264enc). */
struct enc_stats {
    guint64 dropped, shm_frames, shm_copies;
    gchar *address; /* where it connected; g_free */
};

/* Run one case; fills r and es, returns NULL or an error text (g_free it). */
static gchar *run_case(enum case_id c, const char *address, struct run *r, struct enc_stats *es)
{
    gchar *element = cases[c].element ? g_strdup_printf(cases[c].element, address) : NULL;
    gchar *desc = element ? g_strdup_printf("appsrc name=src ! %s ! video/x-h264,"
                                            "stream-format=byte-stream,alignment=au ! "
                                            "fakesink name=out sync=false",
                                            element)
                          : g_strdup("appsrc name=src ! fakesink name=out sync=false");
    GError *err = NULL;
    GstElement *p = gst_parse_launch(desc, &err);
    gchar *error = NULL;

    memset(es, 0, sizeof(*es));
    g_free(element);
    g_free(desc);
    if (!p) {
        error = g_strdup(err->message);
        g_error_free(err);
        return error;
    }
    GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
    g_object_set(src, "caps", r->src->caps, "format", GST_FORMAT_TIME, "is-live", FALSE,
                 "max-bytes", (guint64)0, NULL);
    GstAppSrcCallbacks cb = {.need_data = need_data};
    gst_app_src_set_callbacks(GST_APP_SRC(src), &cb, r, NULL);
    GstPad *pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_output, r, NULL);
    gst_object_unref(pad);

    gst_element_set_state(p, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(p);
    GstMessage *msg =
        gst_bus_timed_pop_filtered(bus, (r->timeout_s ? r->timeout_s : 120) * GST_SECOND,
                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (!msg) {
        error = g_strdup("timeout");
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *e = NULL;
        gst_message_parse_error(msg, &e, NULL);
        error = g_strdup(e->message);
        g_error_free(e);
    } else if (r->out != r->frames) {
        error = g_strdup_printf("%u frames out of %u", r->out, r->frames);
    }
    GstElement *enc = cases[c].vsock ? gst_bin_get_by_name(GST_BIN(p), "enc") : NULL;
    if (enc) {
        GstStructure *stats = NULL;
        g_object_get(enc, "stats", &stats, NULL);
        if (stats) {
            gst_structure_get_uint64(stats, "frames-dropped", &es->dropped);
            gst_structure_get_uint64(stats, "shm-frames", &es->shm_frames);
            gst_structure_get_uint64(stats, "shm-copies", &es->shm_copies);
            es->address = g_strdup(gst_structure_get_string(stats, "address"));
            gst_structure_free(stats);
        }
        gst_object_unref(enc);
    }
    if (msg)
        gst_message_unref(msg);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(sink);
    gst_object_unref(p);
    return error;
}

/* Does vsockenc's frame-source property have the value "shm"? */
static gboolean vsockenc_has_shm(void)
{
    GstElement *e = gst_element_factory_make("vsockenc", NULL);
    gboolean has = FALSE;

    if (!e)
        die("no vsockenc: set GST_PLUGIN_PATH to build/gst");
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "frame-source");
    if (ps && G_IS_PARAM_SPEC_ENUM(ps))
        has = g_enum_get_value_by_nick(G_PARAM_SPEC_ENUM(ps)->enum_class, "shm") != NULL;
    gst_object_unref(e);
    return has;
}

static void fmt_fps(char *out, size_t n, const struct cell *cl, unsigned round)
{
    if (round < cl->rounds)
        snprintf(out, n, "%.1f", cl->fps[round]);
    else
        snprintf(out, n, "n/a");
}

/* --one CASE WxH FRAMES [ADDRESS]: see the comment at the top. */
static int one_case(int argc, char **argv)
{
    const char *address = argc > 5 ? argv[5] : "auto";
    unsigned w = 0, h = 0, frames = argc > 4 ? (unsigned)atoi(argv[4]) : 0;
    int c = 0;
    struct source src;
    struct enc_stats es;

    while (c < N_CASES && (argc < 3 || strcmp(cases[c].name, argv[2]) != 0))
        c++;
    if (argc < 5 || c == N_CASES || sscanf(argv[3], "%ux%u", &w, &h) != 2 || frames < 2 * WARMUP) {
        fprintf(stderr,
                "usage: gst-pipeline --one CASE WxH FRAMES [ADDRESS]\n"
                "CASE: source x264-1thread x264-auto vsockenc-4 vsockenc-1 "
                "vsockenc-shm; FRAMES >= %d\n",
                2 * WARMUP);
        return 2;
    }
    if (cases[c].element && strstr(cases[c].element, "x264enc") &&
        !gst_element_factory_find("x264enc"))
        die("no x264enc (gstreamer1.0-plugins-ugly)");
    make_source(&src, w, h);
    /* x264enc in a TCG guest makes a few 1080p frames a second. */
    struct run r = {.src = &src, .frames = frames, .marks = TRUE, .timeout_s = 900};
    gchar *error = run_case(c, address, &r, &es);
    printf("result case=%s size=%ux%u frames=%u", cases[c].name, w, h, frames);
    if (error) {
        /* error= runs to the end of the line: keep it one line. */
        g_strdelimit(error, "\n\"", ' ');
        printf(" error=%s\n", error);
    } else {
        unsigned n = frames - WARMUP - 1;
        double dt = r.t1 - r.t0;
        printf(" counted=%u seconds=%.4f fps=%.2f cpu_ms=%.2f dropped=%llu shm_frames=%llu "
               "shm_copies=%llu address=%s\n",
               n, dt, n / dt, (r.cpu1 - r.cpu0) * 1000.0 / n, (unsigned long long)es.dropped,
               (unsigned long long)es.shm_frames, (unsigned long long)es.shm_copies,
               es.address ? es.address : "-");
    }
    fflush(stdout);
    g_free(es.address);
    free_source(&src);
    int status = error ? 1 : 0;
    g_free(error);
    return status;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "bench/results";
    unsigned frames = argc > 2 ? (unsigned)atoi(argv[2]) : 300;
    static struct cell cells[N_SIZES][N_CASES];
    struct source src[N_SIZES];
    /* hfxd --encoder-threads 1 for group G_ONE, the default for G_AUTO. */
    struct hfxd_process d[N_GROUPS];
    char path[512];

    gst_init(&argc, &argv);
    if (argc > 1 && strcmp(argv[1], "--one") == 0)
        return one_case(argc, argv);
    if (frames < 2 * WARMUP)
        die("FRAMES must be at least 40");
    if (!gst_element_factory_find("x264enc"))
        die("no x264enc (gstreamer1.0-plugins-ugly)");
    gboolean shm_value = vsockenc_has_shm();
    for (size_t s = 0; s < N_SIZES; s++) {
        make_source(&src[s], sizes[s].w, sizes[s].h);
        for (int c = 0; c < N_CASES; c++)
            if (cases[c].shm && !shm_value)
                snprintf(cells[s][c].note, MAX_NOTE, "vsockenc has no frame-source value shm");
    }
    hfxd_start(&d[G_ONE], -1, (const char *const[]){"--quiet", "--encoder-threads", "1", NULL});
    hfxd_start(&d[G_AUTO], -1, (const char *const[]){"--quiet", NULL});

    /* Every case and size takes a turn in each round: a slow spell on this
     * shared machine then hits them all alike. */
    for (unsigned round = 0; round < ROUNDS; round++) {
        for (size_t s = 0; s < N_SIZES; s++) {
            for (int c = 0; c < N_CASES; c++) {
                struct cell *cl = &cells[s][c];
                if (cl->note[0])
                    continue;
                const struct hfxd_process *h = &d[cases[c].group];
                struct run r = {.src = &src[s],
                                .frames = frames,
                                .hfxd = h->pid,
                                .check_memfd = cases[c].vsock};
                struct enc_stats es;
                fprintf(stderr, "round %u: %ux%u %-16s ", round + 1, sizes[s].w, sizes[s].h,
                        cases[c].name);
                gchar *error = run_case(c, h->unix_addr, &r, &es);
                g_free(es.address);
                if (error) {
                    fprintf(stderr, "failed: %s\n", error);
                    if (!cases[c].shm)
                        die("a case that must work failed");
                    g_strdelimit(error, "\"", '\'');
                    snprintf(cl->note, MAX_NOTE, "vsockenc frame-source=shm fails: %s", error);
                    g_free(error);
                    continue;
                }
                /* Which way the frames went: hfxd maps a memfd only for SHM. */
                if (cases[c].shm && !r.memfd_seen) {
                    fprintf(stderr, "ran, but hfxd mapped no memfd\n");
                    snprintf(cl->note, MAX_NOTE,
                             "frame-source=shm accepted but not "
                             "implemented: hfxd mapped no memfd, frames went inline");
                    continue;
                }
                if (!cases[c].shm && r.memfd_seen)
                    die("hfxd has a memfd mapped in an INLINE case");
                double dt = r.t1 - r.t0;
                unsigned n = frames - WARMUP - 1;
                cl->fps[cl->rounds] = n / dt;
                cl->cpu_ms[cl->rounds] = (r.cpu1 - r.cpu0) * 1000.0 / n;
                cl->hfxd_cpu_ms[cl->rounds] = (r.hfxd_cpu1 - r.hfxd_cpu0) * 1000.0 / n;
                cl->dropped += es.dropped;
                cl->rounds++;
                fprintf(stderr, "%7.1f fps, CPU/frame: pipeline %.2f ms, hfxd %.2f ms\n", n / dt,
                        cl->cpu_ms[cl->rounds - 1], cl->hfxd_cpu_ms[cl->rounds - 1]);
            }
            for (int c = 0; c < N_CASES; c++) {
                struct cell *cl = &cells[s][c];
                if (cl->rounds == round + 1)
                    cl->ratio[round] = cl->fps[round] / cells[s][cases[c].baseline].fps[round];
            }
        }
    }
    for (int g = 0; g < N_GROUPS; g++)
        if (!hfxd_stop(&d[g]))
            die("hfxd did not exit cleanly");

    snprintf(path, sizeof(path), "%s/gst-pipeline.csv", out);
    FILE *csv = fopen(path, "w");
    if (!csv)
        die("cannot write the CSV");
    fprintf(csv, "size,case,encoder_threads,baseline,fps_round1,fps_round2,fps_round3,fps_median,"
                 "ratio_to_baseline,cpu_ms_per_frame_pipeline,cpu_ms_per_frame_hfxd,dropped,"
                 "note\n");
    printf("%-10s %-16s %-12s %9s %8s %14s %10s\n", "size", "case", "vs", "fps", "ratio",
           "CPU ms/frame", "hfxd ms/f");
    for (size_t s = 0; s < N_SIZES; s++) {
        for (int c = 0; c < N_CASES; c++) {
            const struct cell *cl = &cells[s][c];
            char f[ROUNDS][32];
            for (unsigned i = 0; i < ROUNDS; i++)
                fmt_fps(f[i], sizeof(f[i]), cl, i);
            fprintf(csv, "%ux%u,%s,%s,%s,%s,%s,%s", sizes[s].w, sizes[s].h, cases[c].name,
                    cases[c].group == G_ONE ? "1" : "auto", cases[cases[c].baseline].name, f[0],
                    f[1], f[2]);
            if (cl->rounds == ROUNDS) {
                fprintf(csv, ",%.1f,%.3f,%.2f,%.2f,%llu,\n", median(cl->fps, ROUNDS),
                        median(cl->ratio, ROUNDS), median(cl->cpu_ms, ROUNDS),
                        median(cl->hfxd_cpu_ms, ROUNDS), (unsigned long long)cl->dropped);
                printf("%4ux%-5u %-16s %-12s %9.1f %8.3f %14.2f %10.2f\n", sizes[s].w,
                       sizes[s].h, cases[c].name, cases[cases[c].baseline].name,
                       median(cl->fps, ROUNDS), median(cl->ratio, ROUNDS),
                       median(cl->cpu_ms, ROUNDS), median(cl->hfxd_cpu_ms, ROUNDS));
            } else {
                fprintf(csv, ",n/a,n/a,n/a,n/a,n/a,\"%s\"\n", cl->note);
                printf("%4ux%-5u %-16s %-12s %9s  (%s)\n", sizes[s].w, sizes[s].h,
                       cases[c].name, cases[cases[c].baseline].name, "n/a", cl->note);
            }
        }
    }
    fclose(csv);
    printf("fps: output frames %u..%u of %u per run, median of %d interleaved rounds; ratio: "
           "median of per-round fps / the x264enc with the same threads (vs)\n",
           WARMUP + 1, frames, frames, ROUNDS);
    for (size_t s = 0; s < N_SIZES; s++)
        free_source(&src[s]);
    return 0;
}
