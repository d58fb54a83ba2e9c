/* SPDX-License-Identifier: MIT */
/*
 * vsockenc and GStreamer's rules for elements, with GstHarness against a
 * real hfxd: downstream's flow returns reach upstream, the H.264 profile
 * follows downstream's caps (in the caps and in the SPS the host wrote),
 * the latency query answers the bound of the configuration, properties
 * that cannot change while PLAYING keep their value, `connected` is
 * notified, a host that goes away and comes back is on the bus, and
 * frame-source=resource without a virtio-gpu says so.
 */
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "hfxd-process.h"

#define WIDTH 64
#define HEIGHT 48

/* A vsockenc for hfxd d with props ("name=value ...", may be empty) and
 * inline frames. Returns: (transfer full). */
static GstElement *new_vsockenc(const struct hfxd_process *d, const char *props)
{
    GstElement *enc = gst_object_ref_sink(gst_element_factory_make("vsockenc", NULL));
    gchar **pairs = g_strsplit(props, " ", -1);

    CHECK(enc != NULL);
    g_object_set(enc, "address", d->unix_addr, NULL);
    gst_util_set_object_arg(G_OBJECT(enc), "frame-source", "inline");
    for (guint i = 0; pairs[i]; i++) {
        gchar **kv = g_strsplit(pairs[i], "=", 2);
        if (kv[0] && kv[0][0] && kv[1])
            gst_util_set_object_arg(G_OBJECT(enc), kv[0], kv[1]);
        g_strfreev(kv);
    }
    g_strfreev(pairs);
    return enc;
}

/* A harness around a new vsockenc (new_vsockenc) with I420 WIDTHxHEIGHT at
 * fps_n/1 in and sink_caps (NULL: any) downstream; the element is PLAYING,
 * h->element is the vsockenc. */
static GstHarness *new_harness_to(const struct hfxd_process *d, const char *props, int fps_n,
                                  const char *sink_caps)
{
    GstElement *enc = new_vsockenc(d, props);
    GstHarness *h = gst_harness_new_with_element(enc, "sink", "src");
    gchar *caps = g_strdup_printf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1",
                                  WIDTH, HEIGHT, fps_n);

    if (sink_caps)
        gst_harness_set_sink_caps_str(h, sink_caps);
    gst_harness_set_src_caps_str(h, caps);
    gst_object_unref(enc);
    g_free(caps);
    return h;
}

static GstHarness *new_harness(const struct hfxd_process *d, const char *props, int fps_n)
{
    return new_harness_to(d, props, fps_n, NULL);
}

static GstBuffer *raw_frame(GstHarness *h, guint i, int fps_n)
{
    GstVideoInfo info;
    GstBuffer *b;
    GstMapInfo map;

    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_I420, WIDTH, HEIGHT);
    b = gst_harness_create_buffer(h, GST_VIDEO_INFO_SIZE(&info));
    CHECK(gst_buffer_map(b, &map, GST_MAP_WRITE));
    memset(map.data, (int)(i * 7), map.size);
    gst_buffer_unmap(b, &map);
    GST_BUFFER_PTS(b) = gst_util_uint64_scale(i, GST_SECOND, fps_n);
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale(1, GST_SECOND, fps_n);
    return b;
}

/* Pushes frames from `first` until a push returns something other than
 * OK (at most `limit` frames); returns that, or OK. */
static GstFlowReturn push_until_refused(GstHarness *h, guint first, guint limit, guint *pushed)
{
    for (guint i = 0; i < limit; i++) {
        GstFlowReturn ret = gst_harness_push(h, raw_frame(h, first + i, 30));
        if (ret != GST_FLOW_OK) {
            *pushed = i + 1;
            return ret;
        }
    }
    *pushed = limit;
    return GST_FLOW_OK;
}

/* Downstream unlinked: the NOT_LINKED of the pushes the reader thread
 * makes reaches the caller of gst_harness_push (the upstream chain). */
static void test_flow_not_linked(void)
{
    struct hfxd_process d;
    GstHarness *h;
    GstPad *src;
    guint pushed = 0;
    GstFlowReturn ret;

    hfxd_start(&d, -1, NULL);
    h = new_harness(&d, "max-frames-in-flight=2", 30);
    /* Linked: frames come out, and every push is OK. */
    for (guint i = 0; i < 4; i++)
        CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, i, 30)), GST_FLOW_OK);
    for (guint i = 0; i < 4; i++)
        gst_buffer_unref(gst_harness_pull(h));

    src = gst_element_get_static_pad(h->element, "src");
    CHECK(gst_pad_unlink(src, h->sinkpad));
    ret = push_until_refused(h, 4, 50, &pushed);
    fprintf(stderr, "unlinked: push %u returned %s\n", pushed, gst_flow_get_name(ret));
    CHECK_EQ_INT(ret, GST_FLOW_NOT_LINKED);
    /* And it stays so: upstream is told again, not answered OK. */
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 4 + pushed, 30)), GST_FLOW_NOT_LINKED);
    CHECK_EQ_INT(gst_pad_link(src, h->sinkpad), GST_PAD_LINK_OK);
    gst_object_unref(src);
    gst_harness_teardown(h);
    CHECK(hfxd_stop(&d));
}

/* Downstream flushing: FLUSHING reaches upstream; after a flush the
 * element encodes again. */
static void test_flow_flushing(void)
{
    struct hfxd_process d;
    GstHarness *h;
    GstSegment segment;
    guint pushed = 0;
    GstFlowReturn ret;

    hfxd_start(&d, -1, NULL);
    h = new_harness(&d, "max-frames-in-flight=2", 30);
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 0, 30)), GST_FLOW_OK);
    gst_buffer_unref(gst_harness_pull(h));

    CHECK(gst_pad_set_active(h->sinkpad, FALSE));
    ret = push_until_refused(h, 1, 50, &pushed);
    fprintf(stderr, "flushing: push %u returned %s\n", pushed, gst_flow_get_name(ret));
    CHECK_EQ_INT(ret, GST_FLOW_FLUSHING);

    /* A flush (what upstream does next) clears it. */
    CHECK(gst_pad_set_active(h->sinkpad, TRUE));
    CHECK(gst_harness_push_event(h, gst_event_new_flush_start()));
    CHECK(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    gst_segment_init(&segment, GST_FORMAT_TIME);
    CHECK(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    while (gst_harness_buffers_in_queue(h) > 0)
        gst_buffer_unref(gst_harness_pull(h));
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 0, 30)), GST_FLOW_OK);
    CHECK(gst_harness_push_event(h, gst_event_new_eos()));
    GstBuffer *out = gst_harness_try_pull(h);
    CHECK(out != NULL);
    gst_buffer_unref(out);
    gst_harness_teardown(h);
    CHECK(hfxd_stop(&d));
}

/* A unix-socket relay between vsockenc and hfxd that keeps the profile
 * byte of every CONFIGURE the element sends (docs/protocol.md §2.1: a
 * 16-byte header, type at 4, length at 12; §5.1: profile at payload offset
 * 29), so that a test sees what the host was asked for. One connection at
 * a time; inline frames only (it passes no descriptors). */
struct configure_tap {
    struct sockaddr_un listen_sa, hfxd_sa;
    char address[128]; /* for vsockenc */
    int listen_fd;
    int wake[2];
    GThread *thread;
    GMutex lock;
    guint8 profiles[64];
    guint n;
};

static void tap_note_configures(struct configure_tap *t, GByteArray *acc)
{
    while (acc->len >= 16) {
        const guint8 *b = acc->data;
        guint type = b[4] | (guint)b[5] << 8;
        guint32 len = b[12] | (guint32)b[13] << 8 | (guint32)b[14] << 16 | (guint32)b[15] << 24;

        if (acc->len < 16 + (guint64)len)
            return;
        if (type == 0x0100 && len >= 30) {
            g_mutex_lock(&t->lock);
            if (t->n < G_N_ELEMENTS(t->profiles))
                t->profiles[t->n++] = b[16 + 29];
            g_mutex_unlock(&t->lock);
        }
        g_byte_array_remove_range(acc, 0, 16 + len);
    }
}

static bool write_all(int fd, const guint8 *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Relays one connection until either side closes or the tap stops;
 * returns false when stopping. */
static bool tap_relay(struct configure_tap *t, int client)
{
    int host = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    GByteArray *acc = g_byte_array_new();
    bool going = true;
    guint8 buf[65536];

    CHECK(host >= 0);
    CHECK(connect(host, (struct sockaddr *)&t->hfxd_sa, sizeof(t->hfxd_sa)) == 0);
    for (;;) {
        struct pollfd pfd[3] = {
            {.fd = client, .events = POLLIN},
            {.fd = host, .events = POLLIN},
            {.fd = t->wake[0], .events = POLLIN},
        };
        if (poll(pfd, 3, -1) < 0 && errno == EINTR)
            continue;
        if (pfd[2].revents) {
            going = false;
            break;
        }
        if (pfd[0].revents) {
            ssize_t n = read(client, buf, sizeof(buf));
            if (n <= 0 || !write_all(host, buf, (size_t)n))
                break;
            g_byte_array_append(acc, buf, (guint)n);
            tap_note_configures(t, acc);
        }
        if (pfd[1].revents) {
            ssize_t n = read(host, buf, sizeof(buf));
            if (n <= 0 || !write_all(client, buf, (size_t)n))
                break;
        }
    }
    close(host);
    close(client);
    g_byte_array_unref(acc);
    return going;
}

static gpointer tap_thread(gpointer data)
{
    struct configure_tap *t = data;

    for (;;) {
        struct pollfd pfd[2] = {
            {.fd = t->listen_fd, .events = POLLIN},
            {.fd = t->wake[0], .events = POLLIN},
        };
        if (poll(pfd, 2, -1) < 0 && errno == EINTR)
            continue;
        if (pfd[1].revents)
            return NULL;
        int client = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (client >= 0 && !tap_relay(t, client))
            return NULL;
    }
}

static void tap_start(struct configure_tap *t, const struct hfxd_process *d)
{
    memset(t, 0, sizeof(*t));
    g_mutex_init(&t->lock);
    t->hfxd_sa.sun_family = t->listen_sa.sun_family = AF_UNIX;
    snprintf(t->hfxd_sa.sun_path, sizeof(t->hfxd_sa.sun_path), "%s/sock", d->dir);
    snprintf(t->listen_sa.sun_path, sizeof(t->listen_sa.sun_path), "%s/tap", d->dir);
    snprintf(t->address, sizeof(t->address), "unix:%s", t->listen_sa.sun_path);
    t->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(t->listen_fd >= 0);
    CHECK(bind(t->listen_fd, (struct sockaddr *)&t->listen_sa, sizeof(t->listen_sa)) == 0);
    CHECK(listen(t->listen_fd, 4) == 0);
    CHECK(pipe(t->wake) == 0);
    t->thread = g_thread_new("configure-tap", tap_thread, t);
}

static void tap_stop(struct configure_tap *t)
{
    CHECK(write(t->wake[1], "x", 1) == 1);
    g_thread_join(t->thread);
    close(t->wake[0]);
    close(t->wake[1]);
    close(t->listen_fd);
    unlink(t->listen_sa.sun_path);
    g_mutex_clear(&t->lock);
}

/* The profile of the last CONFIGURE through the tap; -1 for none. */
static int tap_last_profile(struct configure_tap *t)
{
    int p;

    g_mutex_lock(&t->lock);
    p = t->n ? t->profiles[t->n - 1] : -1;
    g_mutex_unlock(&t->lock);
    return p;
}

/* profile_idc and the constraint flags byte of the first SPS in an Annex-B
 * access unit (H.264 7.3.2.1.1: they follow the NAL header). */
static bool first_sps(const guint8 *p, gsize n, guint *profile_idc, guint *constraints)
{
    for (gsize i = 0; i + 5 < n; i++) {
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1 && (p[i + 3] & 0x1f) == 7) {
            *profile_idc = p[i + 4];
            *constraints = p[i + 5];
            return true;
        }
    }
    return false;
}

/* Whether an SPS is a stream of the caps profile `name` (H.264 A.2):
 * constrained baseline is profile_idc 66 with constraint_set1, which main
 * and high decoders take too; main is 77 (or constrained baseline); high
 * is 100 (or either of those). */
static bool sps_conforms(guint idc, guint constraints, const char *name)
{
    bool cbp = idc == 66 && (constraints & 0x40);

    if (!strcmp(name, "constrained-baseline") || !strcmp(name, "baseline"))
        return cbp;
    if (!strcmp(name, "main"))
        return idc == 77 || cbp;
    if (!strcmp(name, "high"))
        return idc == 100 || idc == 77 || cbp;
    return false;
}

/* Downstream caps with one profile (NULL: any): the host is asked for
 * want_configure (docs/protocol.md §5.1: 0 auto, 1 constrained baseline, 2
 * main, 3 high), the output caps say `wanted` and the SPS the host wrote
 * is a stream of that profile. */
static void profile_case(const struct hfxd_process *d, const char *wanted, int want_configure)
{
    struct configure_tap tap;
    struct hfxd_process via;
    gchar *sink_caps = wanted ? g_strdup_printf("video/x-h264,profile=%s", wanted) : NULL;
    guint idc = 0, constraints = 0;
    GstMapInfo map;

    tap_start(&tap, d);
    via = *d;
    snprintf(via.unix_addr, sizeof(via.unix_addr), "%s", tap.address);
    GstHarness *h = new_harness_to(&via, "", 30, sink_caps);
    for (guint i = 0; i < 3; i++)
        CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, i, 30)), GST_FLOW_OK);
    CHECK(gst_harness_push_event(h, gst_event_new_eos()));
    GstBuffer *out = gst_harness_try_pull(h);
    CHECK(out != NULL);

    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    CHECK(caps != NULL);
    const gchar *profile = gst_structure_get_string(gst_caps_get_structure(caps, 0), "profile");
    CHECK(profile != NULL);
    CHECK(gst_buffer_map(out, &map, GST_MAP_READ));
    CHECK(first_sps(map.data, map.size, &idc, &constraints));
    gst_buffer_unmap(out, &map);
    fprintf(stderr,
            "downstream %s: CONFIGURE profile %d, caps profile %s, SPS profile_idc %u, "
            "constraint flags 0x%02x\n",
            wanted ? wanted : "any", tap_last_profile(&tap), profile, idc, constraints);
    CHECK_EQ_INT(tap_last_profile(&tap), want_configure);
    if (wanted)
        CHECK(strcmp(profile, wanted) == 0);
    CHECK(sps_conforms(idc, constraints, profile));
    gst_caps_unref(caps);
    gst_buffer_unref(out);
    g_free(sink_caps);
    gst_harness_teardown(h);
    tap_stop(&tap);
}

static void test_profile_from_downstream(void)
{
    struct hfxd_process d;

    hfxd_start(&d, -1, NULL);
    /* What WebRTC stacks accept. */
    profile_case(&d, "constrained-baseline", 1);
    /* A constrained baseline stream is a baseline stream (the caps say
     * what downstream asked for: docs/vsockenc.md). */
    profile_case(&d, "baseline", 1);
    profile_case(&d, "main", 2);
    profile_case(&d, "high", 3);
    /* Downstream takes anything: the host chooses. */
    profile_case(&d, NULL, 0);
    CHECK(hfxd_stop(&d));
}

/* The latency query's minimum, with upstream (the harness) live at 0. */
static GstClockTime query_min_latency(GstHarness *h)
{
    GstPad *src = gst_element_get_static_pad(h->element, "src");
    GstQuery *q = gst_query_new_latency();
    GstClockTime min = GST_CLOCK_TIME_NONE, max = 0;
    gboolean live = FALSE;

    CHECK(gst_pad_query(src, q));
    gst_query_parse_latency(q, &live, &min, &max);
    gst_query_unref(q);
    gst_object_unref(src);
    return min;
}

/* The encoder's own (min, max), as the base class keeps them: both must be
 * the bound. */
static void check_latency(GstHarness *h, guint window, int fps_n)
{
    GstClockTime want = gst_util_uint64_scale_ceil((guint64)window * GST_SECOND, 1, fps_n);
    GstClockTime min = 0, max = 0;
    GstClockTime answered = query_min_latency(h);

    gst_video_encoder_get_latency(GST_VIDEO_ENCODER(h->element), &min, &max);
    fprintf(stderr,
            "window %u at %d fps: latency query %" GST_TIME_FORMAT ", encoder (%" GST_TIME_FORMAT
            ", %" GST_TIME_FORMAT ")\n",
            window, fps_n, GST_TIME_ARGS(answered), GST_TIME_ARGS(min), GST_TIME_ARGS(max));
    CHECK_EQ_INT(answered, want);
    CHECK_EQ_INT(min, want);
    CHECK_EQ_INT(max, want);
}

static void test_latency_bound(void)
{
    static const char *const small_window[] = {"--window", "2", NULL};
    struct hfxd_process d, w;
    GstHarness *h;

    hfxd_start(&d, -1, NULL);
    h = new_harness(&d, "max-frames-in-flight=3", 30);
    gst_harness_set_live(h, TRUE);
    gst_harness_set_upstream_latency(h, 0);
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 0, 30)), GST_FLOW_OK);
    /* 3 frames (hfxd's window is 4) at 30 fps. */
    check_latency(h, 3, 30);
    /* A bound, not a measurement: frames going through do not move it. */
    for (guint i = 1; i < 40; i++)
        CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, i, 30)), GST_FLOW_OK);
    check_latency(h, 3, 30);
    /* A new framerate is a new bound. */
    gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=64,height=48,framerate=15/1");
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 40, 15)), GST_FLOW_OK);
    check_latency(h, 3, 15);
    gst_harness_teardown(h);
    CHECK(hfxd_stop(&d));

    /* The host's window is the smaller one: 2 of max-frames-in-flight=8. */
    hfxd_start(&w, -1, small_window);
    h = new_harness(&w, "max-frames-in-flight=8", 30);
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 0, 30)), GST_FLOW_OK);
    check_latency(h, 2, 30);
    gst_harness_teardown(h);
    CHECK(hfxd_stop(&w));
}

struct log_capture {
    GMutex lock;
    GString *text;
};

static void capture_log(GstDebugCategory *category, GstDebugLevel level, const gchar *file,
                        const gchar *function, gint line, GObject *object,
                        GstDebugMessage *message, gpointer user_data)
{
    struct log_capture *c = user_data;

    if (level != GST_LEVEL_WARNING || strcmp(gst_debug_category_get_name(category), "vsockenc"))
        return;
    g_mutex_lock(&c->lock);
    g_string_append_printf(c->text, "%s\n", gst_debug_message_get(message));
    g_mutex_unlock(&c->lock);
}

static guint get_uint(GstElement *e, const char *name)
{
    guint v = 0;
    g_object_get(e, name, &v, NULL);
    return v;
}

/* In PLAYING, what only start or set_format reads keeps its value (and a
 * warning says why); bitrate, which the host applies while playing,
 * changes. In READY the same change is taken. */
static void test_property_refused_in_playing(void)
{
    struct hfxd_process d;
    struct log_capture log = {.text = g_string_new("")};
    GstHarness *h;
    gchar *address = NULL;

    g_mutex_init(&log.lock);
    gst_debug_add_log_function(capture_log, &log, NULL);
    gst_debug_set_threshold_for_name("vsockenc", GST_LEVEL_WARNING);
    hfxd_start(&d, -1, NULL);
    h = new_harness(&d, "max-frames-in-flight=3 key-int-max=30", 30);
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 0, 30)), GST_FLOW_OK);
    CHECK(GST_STATE(h->element) == GST_STATE_PLAYING);

    g_object_set(h->element, "max-frames-in-flight", 7, "key-int-max", 60, "address",
                 "unix:/nowhere", "fallback", "x264enc", NULL);
    CHECK_EQ_INT(get_uint(h->element, "max-frames-in-flight"), 3);
    CHECK_EQ_INT(get_uint(h->element, "key-int-max"), 30);
    g_object_get(h->element, "address", &address, NULL);
    CHECK(strcmp(address, d.unix_addr) == 0);
    g_free(address);
    g_mutex_lock(&log.lock);
    fprintf(stderr, "warnings:\n%s", log.text->str);
    CHECK(strstr(log.text->str, "setting property in wrong state: max-frames-in-flight") != NULL);
    CHECK(strstr(log.text->str, "setting property in wrong state: address") != NULL);
    g_mutex_unlock(&log.lock);

    /* Mutable in PLAYING. */
    g_object_set(h->element, "bitrate", 5000, NULL);
    CHECK_EQ_INT(get_uint(h->element, "bitrate"), 5000);
    /* The element goes on with what it had. */
    CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, 1, 30)), GST_FLOW_OK);
    CHECK(gst_harness_push_event(h, gst_event_new_eos()));
    CHECK_EQ_INT(gst_harness_buffers_in_queue(h), 2);

    /* READY takes it. */
    CHECK_EQ_INT(gst_element_set_state(h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    g_object_set(h->element, "max-frames-in-flight", 7, NULL);
    CHECK_EQ_INT(get_uint(h->element, "max-frames-in-flight"), 7);
    gst_harness_teardown(h);
    CHECK(hfxd_stop(&d));
    gst_debug_remove_log_function(capture_log);
    g_string_free(log.text, TRUE);
    g_mutex_clear(&log.lock);
}

/* The values of `connected` that notify::connected handlers read. */
struct notes {
    GMutex lock;
    GCond cond;
    gboolean values[16];
    guint n;
};

static void on_connected(GObject *object, GParamSpec *pspec, gpointer user_data)
{
    struct notes *n = user_data;
    gboolean connected = FALSE;

    /* A handler may read the property: the element holds no lock of its
     * own while it notifies. */
    g_object_get(object, "connected", &connected, NULL);
    g_mutex_lock(&n->lock);
    if (n->n < G_N_ELEMENTS(n->values))
        n->values[n->n++] = connected;
    g_cond_broadcast(&n->cond);
    g_mutex_unlock(&n->lock);
}

/* Waits (10 s at most) for the count'th notification; returns its value. */
static gboolean nth_note(struct notes *n, guint count)
{
    gint64 until = g_get_monotonic_time() + check_timeout_ms(10000) * G_TIME_SPAN_MILLISECOND;
    gboolean v;

    g_mutex_lock(&n->lock);
    while (n->n < count)
        if (!g_cond_wait_until(&n->cond, &n->lock, until))
            break;
    if (n->n < count)
        check_fail(__FILE__, __LINE__, "notify::connected", "not emitted in time");
    v = n->values[count - 1];
    g_mutex_unlock(&n->lock);
    return v;
}

/* The first message of type from the element within 10 s (unref it). */
static GstMessage *pop_message(GstBus *bus, GstMessageType type)
{
    return gst_bus_timed_pop_filtered(bus, (GstClockTime)check_timeout_ms(10000) * GST_MSECOND,
                                      type);
}

/* hfxd goes away and comes back: `connected` is notified each time, the
 * loss is a warning on the bus and the return an element message, and
 * frames are encoded again. */
static void test_host_lost_and_back(void)
{
    struct hfxd_process d, again;
    struct notes notes = {0};
    GstElement *enc;
    GstBus *bus = gst_bus_new();
    GstHarness *h;
    GstMessage *m;
    GError *err = NULL;
    gchar *debug = NULL, *listen;
    guint i = 0;

    g_mutex_init(&notes.lock);
    g_cond_init(&notes.cond);
    hfxd_start(&d, -1, NULL);
    enc = new_vsockenc(&d, "");
    g_signal_connect(enc, "notify::connected", G_CALLBACK(on_connected), &notes);
    gst_element_set_bus(enc, bus);
    h = gst_harness_new_with_element(enc, "sink", "src");
    gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=64,height=48,framerate=30/1");
    CHECK(nth_note(&notes, 1) == TRUE);
    for (; i < 3; i++)
        CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, i, 30)), GST_FLOW_OK);
    for (guint k = 0; k < 3; k++)
        gst_buffer_unref(gst_harness_pull(h));

    kill(d.pid, SIGKILL);
    waitpid(d.pid, NULL, 0);
    m = pop_message(bus, GST_MESSAGE_WARNING);
    CHECK(m != NULL);
    CHECK(GST_MESSAGE_SRC(m) == GST_OBJECT(enc));
    gst_message_parse_warning(m, &err, &debug);
    fprintf(stderr, "warning: %s (%s)\n", err->message, debug ? debug : "");
    CHECK(err->domain == GST_RESOURCE_ERROR);
    CHECK(strstr(err->message, "Lost the connection") != NULL);
    CHECK(strstr(err->message, d.unix_addr) != NULL);
    CHECK(debug != NULL && debug[0] != '\0');
    g_clear_error(&err);
    g_free(debug);
    gst_message_unref(m);
    CHECK(nth_note(&notes, 2) == FALSE);

    /* Back on the same socket. */
    listen = g_strdup_printf("--listen=%s", d.unix_addr);
    const char *const extra[] = {listen, NULL};
    hfxd_start(&again, -1, extra);
    m = pop_message(bus, GST_MESSAGE_ELEMENT);
    CHECK(m != NULL);
    const GstStructure *s = gst_message_get_structure(m);
    gchar *text = gst_structure_to_string(s);
    fprintf(stderr, "element message: %s\n", text);
    g_free(text);
    CHECK(gst_structure_has_name(s, "hfx-host-connected"));
    CHECK(strcmp(gst_structure_get_string(s, "address"), d.unix_addr) == 0);
    gst_message_unref(m);
    CHECK(nth_note(&notes, 3) == TRUE);
    /* Encoding again, once the host has configured the stream (until
     * then frames are dropped), from an IDR: a new stream. */
    GstBuffer *out = NULL;
    for (guint tries = 0; !out && tries < 250; tries++) {
        CHECK_EQ_INT(gst_harness_push(h, raw_frame(h, i++, 30)), GST_FLOW_OK);
        out = gst_harness_try_pull(h);
        if (!out)
            g_usleep(20000);
    }
    CHECK(out != NULL);
    CHECK(!GST_BUFFER_FLAG_IS_SET(out, GST_BUFFER_FLAG_DELTA_UNIT));
    gst_buffer_unref(out);

    /* Messages on the bus hold the element, which holds the bus. */
    gst_bus_set_flushing(bus, TRUE);
    gst_harness_teardown(h);
    /* The stop is notified too. */
    CHECK(nth_note(&notes, 4) == FALSE);
    gst_object_unref(enc);
    gst_object_unref(bus);
    CHECK(hfxd_stop(&again));
    /* The first hfxd was killed: clean up after it by hand. */
    char path[160];
    close(d.log_fd);
    snprintf(path, sizeof(path), "%s/sock", d.dir);
    unlink(path);
    rmdir(d.dir);
    g_free(listen);
    g_cond_clear(&notes.cond);
    g_mutex_clear(&notes.lock);
}

/* frame-source=resource without a virtio-gpu: upstream is offered BGRx
 * only (the format of the guest's dumb buffers), and a gpu-device that is
 * not a virtio_gpu card, or not there, is an element error naming it when
 * the format comes, not a crash or silence. */
static void test_resource_without_gpu(void)
{
    static const struct {
        const char *device, *says;
    } cases[] = {
        {"/dev/null", "not a DRM device of the virtio_gpu driver"},
        {"/nonexistent/card0", "No such file"},
    };
    struct hfxd_process d;

    hfxd_start(&d, -1, NULL);
    for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
        gchar *props = g_strdup_printf("frame-source=resource gpu-device=%s", cases[c].device);
        GstElement *enc = new_vsockenc(&d, props);
        GstBus *bus = gst_bus_new();
        GstHarness *h;
        GstPad *sink;
        GstCaps *caps;
        GstMessage *m;
        GError *err = NULL;
        gchar *debug = NULL;
        GstFlowReturn ret;

        gst_util_set_object_arg(G_OBJECT(enc), "frame-source", "resource");
        gst_element_set_bus(enc, bus);
        sink = gst_element_get_static_pad(enc, "sink");
        caps = gst_pad_query_caps(sink, NULL);
        CHECK(!gst_caps_is_empty(caps));
        for (guint i = 0; i < gst_caps_get_size(caps); i++)
            CHECK(g_strcmp0(gst_structure_get_string(gst_caps_get_structure(caps, i), "format"),
                            "BGRx") == 0);
        gst_caps_unref(caps);
        gst_object_unref(sink);

        h = gst_harness_new_with_element(enc, "sink", "src");
        gst_harness_set_src_caps_str(h, "video/x-raw,format=BGRx,width=64,height=48,framerate=30/1");
        ret = gst_harness_push(h, gst_harness_create_buffer(h, 64 * 48 * 4));
        fprintf(stderr, "gpu-device=%s: push returned %s\n", cases[c].device, gst_flow_get_name(ret));
        CHECK(ret != GST_FLOW_OK);
        m = pop_message(bus, GST_MESSAGE_ERROR);
        CHECK(m != NULL);
        gst_message_parse_error(m, &err, &debug);
        fprintf(stderr, "error: %s (%s)\n", err->message, debug ? debug : "");
        CHECK(strstr(err->message, "virtio-gpu resources") != NULL);
        CHECK(strstr(err->message, cases[c].device) != NULL);
        CHECK(strstr(err->message, cases[c].says) != NULL);
        g_clear_error(&err);
        g_free(debug);
        gst_message_unref(m);
        /* Messages on the bus hold the element, which holds the bus. */
        gst_bus_set_flushing(bus, TRUE);
        gst_harness_teardown(h);
        gst_object_unref(enc);
        gst_object_unref(bus);
        g_free(props);
    }
    CHECK(hfxd_stop(&d));
}

int main(int argc, char **argv)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_flow_not_linked),
        CHECK_CASE(test_flow_flushing),
        CHECK_CASE(test_profile_from_downstream),
        CHECK_CASE(test_latency_bound),
        CHECK_CASE(test_property_refused_in_playing),
        CHECK_CASE(test_host_lost_and_back),
        CHECK_CASE(test_resource_without_gpu),
    };
    gst_init(&argc, &argv);
    return check_run(cases, CHECK_COUNT(cases));
}
