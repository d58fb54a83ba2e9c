/* SPDX-License-Identifier: MIT */
/*
 * vsockenc in real pipelines against a real hfxd: frame counts, PSNR
 * against the same videotestsrc pattern, timestamps, keyframes on request,
 * bitrate changes while playing, hfxd restarted mid-stream, and an
 * unreachable host with and without a fallback encoder.
 */
#include <gst/app/gstappsink.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hfx/h264.h"
#include "hfx/region.h"
#include "h264-decode.h"
#include "hfxd-process.h"
#include "pattern.h"

#define MAX_FRAMES 400

struct run {
    /* Filled per sample from the appsink named "out". */
    guint frames;
    GstClockTime pts[MAX_FRAMES];
    gboolean key[MAX_FRAMES];
    gsize size[MAX_FRAMES];
    gint64 when_us[MAX_FRAMES];
    GstBuffer *pictures[MAX_FRAMES]; /* kept when keep_pictures */
    gboolean keep_pictures;
    gchar *error;
    /* Hook called for each sample (index, pipeline). */
    void (*on_sample)(struct run *r, guint index, GstElement *pipeline);
    void *user;
};

static GstFlowReturn on_new_sample(GstAppSink *sink, gpointer data)
{
    struct run *r = data;
    GstSample *s = gst_app_sink_pull_sample(sink);
    GstBuffer *b = gst_sample_get_buffer(s);
    guint i = r->frames;

    if (i < MAX_FRAMES) {
        r->pts[i] = GST_BUFFER_PTS(b);
        r->key[i] = !GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
        r->size[i] = gst_buffer_get_size(b);
        r->when_us[i] = g_get_monotonic_time();
        if (r->keep_pictures)
            r->pictures[i] = gst_buffer_ref(b);
    }
    r->frames++;
    if (r->on_sample) {
        GstElement *pipeline = GST_ELEMENT(gst_object_get_parent(GST_OBJECT(sink)));
        r->on_sample(r, i, pipeline);
        gst_object_unref(pipeline);
    }
    gst_sample_unref(s);
    return GST_FLOW_OK;
}

/* Run a pipeline description to EOS (or error, or timeout_s). */
static GstElement *run_pipeline(const char *desc, struct run *r, int timeout_s, bool keep)
{
    GError *err = NULL;
    GstElement *p = gst_parse_launch(desc, &err);
    GstBus *bus;
    GstMessage *msg;

    if (!p) {
        fprintf(stderr, "parse %s: %s\n", desc, err->message);
        CHECK(!"pipeline parses");
    }
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
    CHECK(sink != NULL);
    GstAppSinkCallbacks cb = {.new_sample = on_new_sample};
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, r, NULL);
    gst_object_unref(sink);
    gst_element_set_state(p, GST_STATE_PLAYING);
    bus = gst_element_get_bus(p);
    msg = gst_bus_timed_pop_filtered(bus, (GstClockTime)timeout_s * GST_SECOND,
                                     GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (!msg) {
        r->error = g_strdup("timeout");
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *e = NULL;
        gchar *dbg = NULL;
        gst_message_parse_error(msg, &e, &dbg);
        r->error = g_strdup_printf("%s (%s)", e->message, dbg ? dbg : "");
        g_error_free(e);
        g_free(dbg);
    }
    if (msg)
        gst_message_unref(msg);
    gst_object_unref(bus);
    if (!keep) {
        gst_element_set_state(p, GST_STATE_NULL);
        gst_object_unref(p);
        return NULL;
    }
    return p;
}

static void free_run(struct run *r)
{
    for (guint i = 0; i < MAX_FRAMES; i++)
        if (r->pictures[i])
            gst_buffer_unref(r->pictures[i]);
    g_free(r->error);
}

/* I420 picture of a sample, wrapped (no copy) for hfx_image_psnr. */
static struct hfx_image wrap_i420(GstBuffer *b, GstMapInfo *map, guint w, guint h)
{
    struct hfx_image img = {.fourcc = HFX_FORMAT_I420, .width = w, .height = h};

    CHECK(gst_buffer_map(b, map, GST_MAP_READ));
    CHECK(map->size >= (gsize)w * h * 3 / 2);
    img.plane[0] = map->data;
    img.plane[1] = map->data + (gsize)w * h;
    img.plane[2] = img.plane[1] + (gsize)w * h / 4;
    img.stride[0] = w;
    img.stride[1] = img.stride[2] = w / 2;
    return img;
}

/* The stats of the pipeline's element "enc" (free with gst_structure_free). */
static GstStructure *enc_stats(GstElement *pipeline)
{
    GstElement *enc = gst_bin_get_by_name(GST_BIN(pipeline), "enc");
    GstStructure *stats = NULL;
    g_object_get(enc, "stats", &stats, NULL);
    gst_object_unref(enc);
    return stats;
}

static guint64 stat_u64(const GstStructure *stats, const char *field)
{
    guint64 v = 0;
    CHECK(gst_structure_get_uint64(stats, field, &v));
    return v;
}

static const char *stat_string(const GstStructure *stats, const char *field)
{
    const char *v = gst_structure_get_string(stats, field);
    CHECK(v != NULL);
    return v;
}

static guint64 stat_of(GstElement *pipeline, const char *field)
{
    GstStructure *stats = enc_stats(pipeline);
    guint64 v = stat_u64(stats, field);
    gst_structure_free(stats);
    return v;
}

/* Encode n frames of videotestsrc in `format` through vsockenc, decode, and
 * compare with the same source converted to I420 without encoding. 8000
 * kbit/s: the default smpte pattern has a patch of fresh noise in every
 * frame, which at x264enc's default 2048 kbit/s and 720p holds luma at
 * about 29 dB (with x264enc as with vsockenc). */
static void encode_and_compare_stats(const char *address, const char *format, guint w,
                                     guint h, guint n, const char *props, GstStructure **stats)
{
    gchar *enc = g_strdup_printf(
        "videotestsrc num-buffers=%u ! video/x-raw,format=%s,width=%u,height=%u,"
        "framerate=30/1 ! vsockenc name=enc address=%s bitrate=8000 %s ! h264parse ! "
        "avdec_h264 ! "
        "videoconvert ! "
        "video/x-raw,format=I420 ! appsink name=out sync=false",
        n, format, w, h, address, props);
    gchar *ref = g_strdup_printf(
        "videotestsrc num-buffers=%u ! video/x-raw,format=%s,width=%u,height=%u,"
        "framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! appsink name=out "
        "sync=false",
        n, format, w, h);
    struct run a = {.keep_pictures = TRUE}, b = {.keep_pictures = TRUE};
    double min_psnr = 1000;

    GstElement *p = run_pipeline(enc, &a, 120, stats != NULL);
    if (p) {
        /* The element's counters, read before it stops. */
        *stats = enc_stats(p);
        gst_element_set_state(p, GST_STATE_NULL);
        gst_object_unref(p);
    }
    run_pipeline(ref, &b, 120, false);
    if (a.error)
        fprintf(stderr, "%s: %s\n", format, a.error);
    CHECK(a.error == NULL && b.error == NULL);
    CHECK_EQ_INT(a.frames, n);
    CHECK_EQ_INT(b.frames, n);
    for (guint i = 0; i < n && i < MAX_FRAMES; i++) {
        GstMapInfo ma, mb;
        struct hfx_image ia = wrap_i420(a.pictures[i], &ma, w, h);
        struct hfx_image ib = wrap_i420(b.pictures[i], &mb, w, h);
        struct hfx_psnr p;
        CHECK_STATUS(hfx_image_psnr(&ib, &ia, &p), HFX_OK);
        if (p.all < min_psnr)
            min_psnr = p.all;
        if (p.all < 35.0)
            fprintf(stderr, "%s frame %u: PSNR %.2f dB\n", format, i, p.all);
        /* Timestamps come through unchanged. */
        CHECK(a.pts[i] == b.pts[i]);
        gst_buffer_unmap(a.pictures[i], &ma);
        gst_buffer_unmap(b.pictures[i], &mb);
    }
    fprintf(stderr, "%s %ux%u: %u frames, min PSNR %.2f dB\n", format, w, h, n, min_psnr);
    CHECK(min_psnr >= 35.0);
    free_run(&a);
    free_run(&b);
    g_free(enc);
    g_free(ref);
}

static void encode_and_compare_with(const char *address, const char *format, guint w,
                                    guint h, guint n, const char *props)
{
    encode_and_compare_stats(address, format, w, h, n, props, NULL);
}

static void encode_and_compare(const char *address, const char *format, guint w, guint h,
                               guint n)
{
    encode_and_compare_with(address, format, w, h, n, "");
}

static void test_nv12_720p(void)
{
    struct hfxd_process d;
    hfxd_start(&d, -1, NULL);
    encode_and_compare(d.unix_addr, "NV12", 1280, 720, 300);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "frames 300, encoded 300, dropped 0") != NULL);
}

static void test_every_format(void)
{
    static const char *const formats[] = {"I420", "BGRx", "BGRA", "RGBx", "RGBA"};
    struct hfxd_process d;

    hfxd_start(&d, -1, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(formats); i++)
        encode_and_compare(d.unix_addr, formats[i], 320, 240, 60);
    CHECK(hfxd_stop(&d));
}

static void force_at_20(struct run *r, guint i, GstElement *pipeline)
{
    if (i != 20)
        return;
    GstElement *enc = gst_bin_get_by_name(GST_BIN(pipeline), "enc");
    GstPad *src = gst_element_get_static_pad(enc, "src");
    r->user = GUINT_TO_POINTER(i);
    CHECK(gst_pad_send_event(
        src, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 1)));
    gst_object_unref(src);
    gst_object_unref(enc);
}

static void test_force_key_unit(void)
{
    struct hfxd_process d;
    struct run r = {.on_sample = force_at_20};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    desc = g_strdup_printf("videotestsrc num-buffers=90 ! video/x-raw,format=NV12,width=320,"
                           "height=240,framerate=30/1 ! vsockenc name=enc address=%s "
                           "max-frames-in-flight=2 ! appsink name=out sync=false",
                           d.unix_addr);
    run_pipeline(desc, &r, 60, false);
    CHECK(r.error == NULL);
    CHECK_EQ_INT(r.frames, 90);
    CHECK(r.key[0]);
    /* The request reaches the encoder with the next frame it receives:
     * frames already in flight (at most 2) and queued in between come first. */
    guint first = 0;
    for (guint i = 1; i < 90 && !first; i++)
        if (r.key[i])
            first = i;
    fprintf(stderr, "forced key unit requested at output 20, IDR at %u\n", first);
    CHECK(first > 20 && first <= 26);
    free_run(&r);
    g_free(desc);
    CHECK(hfxd_stop(&d));
}

static void bitrate_at_60(struct run *r, guint i, GstElement *pipeline)
{
    if (i != 60)
        return;
    GstElement *enc = gst_bin_get_by_name(GST_BIN(pipeline), "enc");
    g_object_set(enc, "bitrate", 8000, NULL);
    gst_object_unref(enc);
}

static void test_bitrate_while_playing(void)
{
    struct hfxd_process d;
    struct run r = {.on_sample = bitrate_at_60};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    /* Noise: every bit of the target is used, so the size follows it. */
    desc = g_strdup_printf("videotestsrc num-buffers=150 pattern=snow ! video/x-raw,format=NV12,"
                           "width=640,height=360,framerate=30/1 ! vsockenc name=enc address=%s "
                           "bitrate=200 ! appsink name=out sync=false",
                           d.unix_addr);
    run_pipeline(desc, &r, 60, false);
    CHECK(r.error == NULL);
    CHECK_EQ_INT(r.frames, 150);
    gsize low = 0, high = 0;
    for (guint i = 30; i < 60; i++)
        low += r.size[i];
    for (guint i = 110; i < 140; i++)
        high += r.size[i];
    fprintf(stderr, "30 frames: %zu bytes at 200 kbit/s, %zu at 8000 kbit/s\n", low, high);
    CHECK(high > 3 * low);
    free_run(&r);
    g_free(desc);
    CHECK(hfxd_stop(&d));
}

struct restart {
    struct hfxd_process *first, second;
    struct run *run;
    char listen[200];
    gint64 starting_us; /* the second hfxd started (it may accept from here on) */
    gint64 back_us;     /* hfxd_start returned: it listens */
    gboolean done;
    gint finish;
};

/* Kill hfxd hard once 30 frames came out, bring it back on the same socket
 * 500 ms later. A thread of its own: while hfxd is away no samples come. */
static gpointer restart_thread(gpointer data)
{
    struct restart *rs = data;

    while (g_atomic_int_get((gint *)&rs->run->frames) < 30)
        g_usleep(5000);
    kill(rs->first->pid, SIGKILL);
    waitpid(rs->first->pid, NULL, 0);
    g_usleep(500000);
    const char *const extra[] = {rs->listen, NULL};
    rs->starting_us = g_get_monotonic_time();
    hfxd_start(&rs->second, -1, extra);
    rs->back_us = g_get_monotonic_time();
    rs->done = TRUE;
    /* hfxd dies with the thread that started it (PR_SET_PDEATHSIG): stay
     * until the test is done with it. */
    while (!g_atomic_int_get(&rs->finish))
        g_usleep(10000);
    return NULL;
}

static void hfxd_restart_case(const char *props, gboolean with_fallback);

static void test_hfxd_restart(void)
{
    hfxd_restart_case("", FALSE);
}

/* With a fallback, frames keep coming out while hfxd is away (encoded by
 * x264enc); only the few in flight at the moment of the kill are lost. */
static void test_hfxd_restart_fallback(void)
{
    hfxd_restart_case("fallback=x264enc", TRUE);
}

static void hfxd_restart_case(const char *props, gboolean with_fallback)
{
    struct hfxd_process d;
    struct run r = {0};
    struct restart rs = {.first = &d, .run = &r};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    snprintf(rs.listen, sizeof(rs.listen), "--listen=%s", d.unix_addr);
    /* A live source: frames keep coming at 30 fps while hfxd is away. */
    desc = g_strdup_printf("videotestsrc is-live=true num-buffers=150 ! video/x-raw,format=NV12,"
                           "width=320,height=240,framerate=30/1 ! vsockenc name=enc address=%s "
                           "%s ! appsink name=out sync=false",
                           d.unix_addr, props);
    GThread *t = g_thread_new("restart", restart_thread, &rs);
    GstElement *p = run_pipeline(desc, &r, 60, true);
    if (r.error)
        fprintf(stderr, "pipeline: %s\n", r.error);
    CHECK(r.error == NULL);
    CHECK(rs.done);
    /* Frames while hfxd was down are dropped (no fallback); after its
     * return the stream resumes with an IDR within 1 s. vsockenc may
     * reconnect before hfxd_start has returned, so the IDR is looked for
     * from the second hfxd's start. With a fallback the last keyframe is
     * the host's: the fallback's come before it (from the switch to
     * x264enc, which may itself be late on a loaded machine), and the GOP
     * is longer than the run. */
    gint64 resumed = 0;
    for (guint i = 0; i < r.frames && i < MAX_FRAMES; i++)
        if (r.when_us[i] > rs.starting_us && r.key[i]) {
            resumed = r.when_us[i];
            if (!with_fallback)
                break;
        }
    CHECK(resumed > 0);
    fprintf(stderr, "%u frames out of 150; keyframe %.0f ms after hfxd came back\n", r.frames,
            (resumed - rs.back_us) / 1000.0);
    CHECK(resumed - rs.back_us < 1000000);
    GstStructure *stats = enc_stats(p);
    guint64 reconnects = 0, dropped = 0;
    gst_structure_get_uint64(stats, "reconnects", &reconnects);
    gst_structure_get_uint64(stats, "frames-dropped", &dropped);
    fprintf(stderr, "stats: %s\n", gst_structure_to_string(stats));
    CHECK(reconnects >= 1);
    CHECK_EQ_INT(r.frames + dropped, 150);
    if (with_fallback) {
        guint64 fallback = 0;
        gst_structure_get_uint64(stats, "fallback-frames", &fallback);
        CHECK(fallback >= 10); /* ~0.5 s of 30 fps while hfxd was away */
        CHECK(dropped <= 4);   /* at most the frames in flight at the kill */
    } else {
        CHECK(dropped > 0);
    }
    gst_structure_free(stats);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    CHECK(hfxd_stop(&rs.second));
    g_atomic_int_set(&rs.finish, 1);
    g_thread_join(t);
    /* The first hfxd was killed: clean up after it by hand. */
    char path[160];
    close(d.log_fd);
    snprintf(path, sizeof(path), "%s/sock", d.dir);
    unlink(path);
    rmdir(d.dir);
    free_run(&r);
    g_free(desc);
}

static void resize_at_30(struct run *r, guint i, GstElement *pipeline)
{
    if (i == 30) {
        GstElement *cf = gst_bin_get_by_name(GST_BIN(pipeline), "cf");
        GstCaps *caps = gst_caps_from_string("video/x-raw,format=NV12,width=640,height=360,"
                                             "framerate=30/1");
        g_object_set(cf, "caps", caps, NULL);
        gst_caps_unref(caps);
        gst_object_unref(cf);
    }
}

/* Caps change mid-stream: the element drains, reconfigures the host's
 * stream and goes on; every frame comes out, at its own size. */
static void test_renegotiation_and_latency(void)
{
    struct hfxd_process d;
    struct run r = {.on_sample = resize_at_30, .keep_pictures = TRUE};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    desc = g_strdup_printf("videotestsrc num-buffers=90 ! capsfilter name=cf caps=video/x-raw,"
                           "format=NV12,width=320,height=240,framerate=30/1 ! vsockenc name=enc "
                           "address=%s ! h264parse ! avdec_h264 ! appsink name=out sync=false",
                           d.unix_addr);
    GstElement *p = run_pipeline(desc, &r, 60, true);
    if (r.error)
        fprintf(stderr, "pipeline: %s\n", r.error);
    CHECK(r.error == NULL);
    CHECK_EQ_INT(r.frames, 90);
    /* The first frames are 320x240 (115200 bytes as I420), the last ones
     * 640x360 (345600). */
    CHECK_EQ_INT(r.size[0], 320 * 240 * 3 / 2);
    CHECK_EQ_INT(r.size[89], 640 * 360 * 3 / 2);
    GstElement *enc = gst_bin_get_by_name(GST_BIN(p), "enc");
    GstQuery *q = gst_query_new_latency();
    gboolean live;
    GstClockTime min = 0, max = 0;
    GstPad *src = gst_element_get_static_pad(enc, "src");
    CHECK(gst_pad_query(src, q));
    gst_query_parse_latency(q, &live, &min, &max);
    fprintf(stderr, "latency reported: min %" GST_TIME_FORMAT " max %" GST_TIME_FORMAT "\n",
            GST_TIME_ARGS(min), GST_TIME_ARGS(max));
    CHECK(min > 0 && min < GST_SECOND);
    CHECK(max >= min);
    gst_query_unref(q);
    gst_object_unref(src);
    gst_object_unref(enc);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    CHECK(hfxd_stop(&d));
    /* Two streams' worth of frames at the host, none lost. */
    CHECK(strstr(d.log, "dropped 0") != NULL);
    free_run(&r);
    g_free(desc);
}

static void test_unreachable(void)
{
    struct run r = {0}, f = {0};

    run_pipeline("videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=320,height=240 ! "
                 "vsockenc address=unix:/nonexistent/hfx.sock ! appsink name=out sync=false",
                 &r, 30, false);
    CHECK(r.error != NULL);
    fprintf(stderr, "error: %s\n", r.error);
    CHECK(strstr(r.error, "unix:/nonexistent/hfx.sock") != NULL);
    CHECK_EQ_INT(r.frames, 0);

    GstElement *p = run_pipeline(
        "videotestsrc num-buffers=30 ! video/x-raw,format=NV12,width=320,height=240 ! "
        "vsockenc name=enc address=unix:/nonexistent/hfx.sock fallback=x264enc ! "
        "h264parse ! avdec_h264 ! appsink name=out sync=false",
        &f, 60, true);
    if (f.error)
        fprintf(stderr, "fallback: %s\n", f.error);
    CHECK(f.error == NULL);
    CHECK_EQ_INT(f.frames, 30);
    GstElement *enc = gst_bin_get_by_name(GST_BIN(p), "enc");
    GstStructure *stats = NULL;
    guint64 fallback_frames = 0;
    gboolean connected = TRUE;
    g_object_get(enc, "stats", &stats, "connected", &connected, NULL);
    gst_structure_get_uint64(stats, "fallback-frames", &fallback_frames);
    CHECK_EQ_INT(fallback_frames, 30);
    CHECK(!connected);
    gst_structure_free(stats);
    gst_object_unref(enc);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    free_run(&r);
    free_run(&f);
}

/* The host's ERROR reaches the bus with its text. */
static void test_host_error_on_bus(void)
{
    struct hfxd_process d;
    struct run r = {0};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    /* Known to the host, but there is no such hardware here. */
    desc = g_strdup_printf("videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=320,"
                           "height=240 ! vsockenc address=%s encoder=h264_nvenc ! "
                           "appsink name=out sync=false",
                           d.unix_addr);
    run_pipeline(desc, &r, 30, false);
    CHECK(r.error != NULL);
    fprintf(stderr, "error: %s\n", r.error);
    CHECK(strstr(r.error, "cannot open encoder h264_nvenc") != NULL);
    free_run(&r);
    g_free(desc);
    CHECK(hfxd_stop(&d));
}

/* frame-source=shm: videotestsrc renders into the proposed pool (no copy);
 * through videoconvert's own buffers each frame is copied into a slot;
 * the pictures survive either way. */
static void test_shm(void)
{
    struct hfxd_process d;
    struct run a = {0}, b = {0};
    gchar *desc;

    hfxd_start(&d, -1, NULL);
    desc = g_strdup_printf("videotestsrc num-buffers=60 ! video/x-raw,format=NV12,width=640,"
                           "height=360,framerate=30/1 ! vsockenc name=enc address=%s "
                           "frame-source=shm ! h264parse ! avdec_h264 ! appsink name=out "
                           "sync=false",
                           d.unix_addr);
    GstElement *p = run_pipeline(desc, &a, 60, true);
    CHECK(a.error == NULL);
    CHECK_EQ_INT(a.frames, 60);
    CHECK_EQ_INT(stat_of(p, "shm-frames"), 60);
    CHECK_EQ_INT(stat_of(p, "shm-copies"), 0);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    g_free(desc);

    /* Pixels intact through shared memory. */
    encode_and_compare_with(d.unix_addr, "NV12", 640, 360, 30, "frame-source=shm");
    encode_and_compare_with(d.unix_addr, "BGRx", 320, 240, 30, "frame-source=shm");

    /* Raw frames parsed out of a file are not from the pool: copied in. */
    char raw[160];
    snprintf(raw, sizeof(raw), "%s/frames.nv12", d.dir);
    desc = g_strdup_printf("videotestsrc num-buffers=60 ! video/x-raw,format=NV12,width=640,"
                           "height=360 ! filesink location=%s", raw);
    GstElement *w = gst_parse_launch(desc, NULL);
    gst_element_set_state(w, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(w);
    GstMessage *m = gst_bus_timed_pop_filtered(bus, 30 * GST_SECOND,
                                               GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    CHECK(m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS);
    gst_message_unref(m);
    gst_object_unref(bus);
    gst_element_set_state(w, GST_STATE_NULL);
    gst_object_unref(w);
    g_free(desc);
    desc = g_strdup_printf("filesrc location=%s ! rawvideoparse format=nv12 width=640 "
                           "height=360 framerate=30/1 ! vsockenc name=enc address=%s "
                           "frame-source=shm ! h264parse ! avdec_h264 ! appsink name=out "
                           "sync=false",
                           raw, d.unix_addr);
    p = run_pipeline(desc, &b, 60, true);
    CHECK(b.error == NULL);
    CHECK_EQ_INT(b.frames, 60);
    guint64 copies = stat_of(p, "shm-copies");
    fprintf(stderr, "from rawvideoparse: %" G_GUINT64_FORMAT " of 60 frames copied\n",
            copies);
    CHECK_EQ_INT(stat_of(p, "shm-frames"), 60);
    CHECK_EQ_INT(copies, 60);
    unlink(raw);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    g_free(desc);
    free_run(&a);
    free_run(&b);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "frames 60, encoded 60, dropped 0") != NULL);
}

/* Shared memory needs a unix socket: frame-source=shm over TCP is an error
 * that says so; auto falls back to inline frames. */
static void test_shm_needs_unix(void)
{
    static const char *const extra[] = {"--listen=tcp:127.0.0.1:0", NULL};
    struct hfxd_process d;
    struct run a = {0}, b = {0};
    gchar *desc;

    hfxd_start(&d, -1, extra);
    desc = g_strdup_printf("videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=320,"
                           "height=240 ! vsockenc name=enc address=tcp:127.0.0.1:%u "
                           "frame-source=shm ! appsink name=out sync=false",
                           d.tcp_port);
    run_pipeline(desc, &a, 30, false);
    CHECK(a.error != NULL);
    fprintf(stderr, "error: %s\n", a.error);
    CHECK(strstr(a.error, "frame-source=shm") != NULL);
    g_free(desc);
    desc = g_strdup_printf("videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=320,"
                           "height=240 ! vsockenc name=enc address=tcp:127.0.0.1:%u "
                           "frame-source=auto ! appsink name=out sync=false",
                           d.tcp_port);
    GstElement *p = run_pipeline(desc, &b, 30, true);
    CHECK(b.error == NULL);
    CHECK_EQ_INT(b.frames, 10);
    CHECK_EQ_INT(stat_of(p, "shm-frames"), 0);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    g_free(desc);
    free_run(&a);
    free_run(&b);
    CHECK(hfxd_stop(&d));
}

/* ivshmem on the host, without a VM: a temporary directory with the files
 * vsockenc reads of a PCI device in sysfs (vendor, device, enable) and
 * resource2, the BAR, here the very file hfxd maps as region 0. */
static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void fake_ivshmem_dir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/hfx-ivshmem-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    write_file(dir, "vendor", "0x1af4\n", 7);
    write_file(dir, "device", "0x1110\n", 7);
    write_file(dir, "enable", "0\n", 2);
}

/* resource2 of size bytes, with an hfx header unless `header` is false:
 * what hfxd --shm-file would have written. */
static void fake_ivshmem_bar(const char *dir, uint64_t size, bool header)
{
    char path[160];
    uint8_t bytes[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h = hfx_region_header_for(size);

    snprintf(path, sizeof(path), "%s/resource2", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    if (header) {
        CHECK_STATUS(hfx_region_header_encode(&h, bytes, sizeof(bytes)), HFX_OK);
        CHECK(pwrite(fd, bytes, sizeof(bytes), 0) == (ssize_t)sizeof(bytes));
    }
    close(fd);
}

static void remove_fake_ivshmem(const char *dir)
{
    static const char *const names[] = {"vendor", "device", "enable", "resource2"};
    char path[160];

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    CHECK(rmdir(dir) == 0);
}

/* The element's "shm-memory" stat is want. */
static void check_shm_memory(GstElement *pipeline, const char *want)
{
    GstStructure *stats = enc_stats(pipeline);
    CHECK(strcmp(stat_string(stats, "shm-memory"), want) == 0);
    gst_structure_free(stats);
}

/* Region 0 end to end on the host: hfxd --shm-file creates the BAR file of
 * a fake ivshmem device, vsockenc (shm-device=that directory) puts its
 * pool in it and sends only offsets; 60 frames of 720p come back intact,
 * all of them through shared memory, and nothing was written over the
 * header. */
static void test_ivshmem(void)
{
    char dev[64], bar[96], props[160];
    struct hfxd_process d;
    GstStructure *stats = NULL;
    uint8_t page[HFX_REGION_HEADER_SIZE];
    struct hfx_region_header h;

    fake_ivshmem_dir(dev, sizeof(dev));
    snprintf(bar, sizeof(bar), "%s/resource2", dev);
    const char *const extra[] = {"--shm-file", bar, "--shm-size", "32", NULL};
    hfxd_start(&d, -1, extra);
    snprintf(props, sizeof(props), "frame-source=shm shm-device=%s", dev);
    encode_and_compare_stats(d.unix_addr, "NV12", 1280, 720, 60, props, &stats);
    CHECK(stats != NULL);
    gchar *text = gst_structure_to_string(stats);
    fprintf(stderr, "stats: %s\n", text);
    g_free(text);
    CHECK(strcmp(stat_string(stats, "shm-memory"), "ivshmem") == 0);
    CHECK_EQ_INT(stat_u64(stats, "shm-frames"), 60);
    CHECK_EQ_INT(stat_u64(stats, "shm-copies"), 0); /* videotestsrc drew into the region */
    CHECK_EQ_INT(stat_u64(stats, "frames-dropped"), 0);
    gst_structure_free(stats);
    CHECK(hfxd_stop(&d));
    CHECK(strstr(d.log, "frames 60, encoded 60, dropped 0, from shared memory 60,") != NULL);

    /* The header page is as hfxd wrote it, and the device was enabled. */
    int fd = open(bar, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(pread(fd, page, sizeof(page), 0) == (ssize_t)sizeof(page));
    close(fd);
    CHECK_STATUS(hfx_region_header_decode(page, sizeof(page), &h), HFX_OK);
    CHECK(h.size == 32u << 20);
    for (size_t i = HFX_REGION_HEADER_BYTES; i < sizeof(page); i++)
        CHECK_EQ_INT(page[i], 0);
    gchar *enable = NULL;
    gchar *enable_path = g_build_filename(dev, "enable", NULL);
    CHECK(g_file_get_contents(enable_path, &enable, NULL, NULL));
    CHECK(enable[0] == '1');
    g_free(enable);
    g_free(enable_path);
    remove_fake_ivshmem(dev);
}

/* An ivshmem region, but a host without --shm-file on this connection:
 * frame-source=shm is an error that says what is missing; auto sends the
 * frames inline. A device without hfxd's header is not used: the pool
 * goes to a memfd, which a unix socket can pass. */

/* Ten 320x240 frames through vsockenc with frame-source and shm-device:
 * all must come back, shm_frames of them through shared memory of the
 * kind want_memory ("none", "memfd", "ivshmem"). */
static void run_ten_frames(const char *address, const char *dev, const char *frame_source,
                           struct run *r, guint64 shm_frames, const char *want_memory)
{
    char *desc = g_strdup_printf("videotestsrc num-buffers=10 ! video/x-raw,format=NV12,"
                                 "width=320,height=240 ! vsockenc name=enc address=%s "
                                 "frame-source=%s shm-device=%s ! appsink name=out sync=false",
                                 address, frame_source, dev);
    GstElement *p = run_pipeline(desc, r, 30, true);
    if (r->error)
        fprintf(stderr, "frame-source=%s: %s\n", frame_source, r->error);
    CHECK(r->error == NULL);
    CHECK_EQ_INT(r->frames, 10);
    CHECK_EQ_INT(stat_of(p, "shm-frames"), shm_frames);
    check_shm_memory(p, want_memory);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    g_free(desc);
}

static void test_ivshmem_host_without_file(void)
{
    char dev[64];
    struct hfxd_process d;
    struct run a = {0}, b = {0}, c = {0};
    gchar *desc;

    fake_ivshmem_dir(dev, sizeof(dev));
    fake_ivshmem_bar(dev, 16u << 20, true);
    hfxd_start(&d, -1, NULL);

    desc = g_strdup_printf("videotestsrc num-buffers=10 ! video/x-raw,format=NV12,width=320,"
                           "height=240 ! vsockenc name=enc address=%s frame-source=shm "
                           "shm-device=%s ! appsink name=out sync=false",
                           d.unix_addr, dev);
    run_pipeline(desc, &a, 30, false);
    CHECK(a.error != NULL);
    fprintf(stderr, "error: %s\n", a.error);
    CHECK(strstr(a.error, "frame-source=shm") != NULL);
    CHECK(strstr(a.error, "--shm-file") != NULL);
    CHECK_EQ_INT(a.frames, 0);
    g_free(desc);

    run_ten_frames(d.unix_addr, dev, "auto", &b, 0, "none");
    fake_ivshmem_bar(dev, 16u << 20, false);
    run_ten_frames(d.unix_addr, dev, "shm", &c, 10, "memfd");

    free_run(&a);
    free_run(&b);
    free_run(&c);
    CHECK(hfxd_stop(&d));
    /* auto's session: every frame inline; the memfd one: all shared. */
    CHECK(strstr(d.log, "frames 10, encoded 10, dropped 0, from shared memory 0,") != NULL);
    CHECK(strstr(d.log, "frames 10, encoded 10, dropped 0, from shared memory 10,") != NULL);
    remove_fake_ivshmem(dev);
}

/* GstHarness: frames pushed in come out as H.264 access units with their
 * timestamps, the first a keyframe with SPS/PPS; a force-key-unit event
 * from upstream (a downstream event) gives another IDR; EOS drains. */
static void test_harness(void)
{
    struct hfxd_process d;
    gchar *launch;
    GstHarness *h;
    GstVideoInfo info;

    hfxd_start(&d, -1, NULL);
    launch = g_strdup_printf("vsockenc address=%s max-frames-in-flight=4", d.unix_addr);
    h = gst_harness_new_parse(launch);
    gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=64,height=48,"
                                    "framerate=30/1");
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, 64, 48);
    for (guint i = 0; i < 20; i++) {
        GstBuffer *b = gst_harness_create_buffer(h, GST_VIDEO_INFO_SIZE(&info));
        GstMapInfo map;
        gst_buffer_map(b, &map, GST_MAP_WRITE);
        memset(map.data, (int)(i * 11), map.size);
        gst_buffer_unmap(b, &map);
        GST_BUFFER_PTS(b) = i * GST_SECOND / 30;
        GST_BUFFER_DURATION(b) = GST_SECOND / 30;
        if (i == 12)
            CHECK(gst_harness_push_event(h, gst_video_event_new_downstream_force_key_unit(
                                                GST_BUFFER_PTS(b), GST_CLOCK_TIME_NONE,
                                                GST_CLOCK_TIME_NONE, TRUE, 1)));
        CHECK_EQ_INT(gst_harness_push(h, b), GST_FLOW_OK);
    }
    CHECK(gst_harness_push_event(h, gst_event_new_eos()));
    guint keys = 0, key_after_12 = 0;
    for (guint i = 0; i < 20; i++) {
        GstBuffer *out = gst_harness_pull(h);
        CHECK(out != NULL);
        CHECK(GST_BUFFER_PTS(out) == i * GST_SECOND / 30);
        if (!GST_BUFFER_FLAG_IS_SET(out, GST_BUFFER_FLAG_DELTA_UNIT)) {
            GstMapInfo map;
            keys++;
            if (i >= 12 && !key_after_12)
                key_after_12 = i;
            gst_buffer_map(out, &map, GST_MAP_READ);
            CHECK(hfx_h264_is_idr(map.data, map.size));
            CHECK(hfx_h264_has_parameter_sets(map.data, map.size));
            gst_buffer_unmap(out, &map);
        }
        gst_buffer_unref(out);
    }
    CHECK_EQ_INT(gst_harness_buffers_in_queue(h), 0);
    fprintf(stderr, "harness: %u keyframes, the forced one at %u\n", keys, key_after_12);
    CHECK_EQ_INT(keys, 2);
    /* The flag travels with frame 12 itself. */
    CHECK_EQ_INT(key_after_12, 12);
    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    gchar *text = gst_caps_to_string(caps);
    fprintf(stderr, "output caps: %s\n", text);
    CHECK(strstr(text, "stream-format=(string)byte-stream") != NULL);
    CHECK(strstr(text, "profile=(string)") != NULL);
    CHECK(strstr(text, "level=(string)") != NULL);
    g_free(text);
    gst_caps_unref(caps);
    gst_harness_teardown(h);
    g_free(launch);
    CHECK(hfxd_stop(&d));
}

static void test_inspect(void)
{
    if (getenv("HFX_SANITIZED")) {
        /* gst-inspect is not instrumented and cannot load an ASan plugin;
         * the normal build runs this case. */
        return;
    }
    const char *const argv[] = {"/usr/bin/gst-inspect-1.0", "vsockenc", NULL};
    static char out[65536];
    /* GStreamer warns at every load of a plugin whose licence it does not
     * know; with a registry of its own, gst-inspect loads it. */
    char registry[] = "/tmp/hfx-inspect-XXXXXX";
    CHECK(mkdtemp(registry) != NULL);
    gchar *registry_file = g_build_filename(registry, "registry.bin", NULL);
    setenv("GST_REGISTRY", registry_file, 1);
    setenv("GST_DEBUG", "GST_PLUGIN_LOADING:2", 1);
    setenv("GST_DEBUG_NO_COLOR", "1", 1);
    CHECK_EQ_INT(run_program_output(argv, out, sizeof(out)), 0);
    unlink(registry_file);
    rmdir(registry);
    g_free(registry_file);
    CHECK(strstr(out, "unknown license") == NULL);
    CHECK(strstr(out, "MIT/X11") != NULL);
    CHECK(strstr(out, "Codec/Encoder/Video/Hardware") != NULL);
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_harness),
        CHECK_CASE(test_nv12_720p),
        CHECK_CASE(test_every_format),
        CHECK_CASE(test_force_key_unit),
        CHECK_CASE(test_bitrate_while_playing),
        CHECK_CASE(test_hfxd_restart),
        CHECK_CASE(test_hfxd_restart_fallback),
        CHECK_CASE(test_renegotiation_and_latency),
        CHECK_CASE(test_unreachable),
        CHECK_CASE(test_host_error_on_bus),
        CHECK_CASE(test_shm),
        CHECK_CASE(test_shm_needs_unix),
        CHECK_CASE(test_ivshmem),
        CHECK_CASE(test_ivshmem_host_without_file),
        CHECK_CASE(test_inspect),
    };
    gst_init(&argc, &argv);
    return check_run(cases, CHECK_COUNT(cases));
}
