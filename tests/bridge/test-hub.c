/* SPDX-License-Identifier: MIT */
/* bridge/hub.c: windows, bounded queues, cut-back to a keyframe, late
 * joiners starting at the current GOP, acknowledgements and latency. */
#include <string.h>

#include "check.h"
#include "hub.h"

/* A frame of size bytes, keyframe or not, captured at seq * 1000 us. */
static BridgeFrame *frame(guint32 seq, gboolean key, gsize size)
{
    return bridge_frame_new(g_bytes_new_take(g_malloc0(size), size), seq, key,
                            (gint64)seq * 1000);
}

static void push(BridgeHub *hub, guint32 seq, gboolean key, gsize size)
{
    BridgeFrame *f = frame(seq, key, size);
    bridge_hub_push(hub, f);
    bridge_frame_unref(f);
}

/* Takes what the window allows; returns how many, and the last seq. */
static guint drain(BridgeHub *hub, guint id, guint32 *last)
{
    BridgeFrame *f;
    guint n = 0;

    while ((f = bridge_hub_next(hub, id))) {
        if (last)
            *last = f->seq;
        n++;
        bridge_frame_unref(f);
    }
    return n;
}

static void test_window_and_ack(void)
{
    BridgeHubOptions o = {.window = 3};
    BridgeHub *hub = bridge_hub_new(&o);
    BridgeViewerStats st;
    guint32 last = 0;

    push(hub, 0, TRUE, 100); /* a GOP exists before the viewer joins */
    guint id = bridge_hub_add_viewer(hub);
    CHECK(!bridge_hub_take_keyframe_wish(hub));
    for (guint32 s = 1; s < 10; s++)
        push(hub, s, FALSE, 100);
    CHECK_EQ_INT(drain(hub, id, &last), 3);
    CHECK_EQ_INT(last, 2);
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.in_flight, 3);
    CHECK_EQ_INT(st.queued, 7);
    /* Nothing up to it in flight: ignored. */
    CHECK(bridge_hub_ack(hub, id, 0, 0) && !bridge_hub_ack(hub, id, 0, 0));
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.in_flight, 2);
    CHECK_EQ_INT(st.latency_samples, 0); /* frame 0 was the replayed GOP */
    /* Frame 1 drawn 25 ms after its capture. */
    CHECK(bridge_hub_ack(hub, id, 1, 1000 + 25000));
    CHECK_EQ_INT(drain(hub, id, &last), 2);
    CHECK_EQ_INT(last, 4);
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.acked, 2);
    CHECK_EQ_INT(st.latency_samples, 1);
    CHECK(st.latency_p50_ms > 24.9 && st.latency_p50_ms < 25.1);
    /* "drawn 4" with 2 and 3 never reported (skipped by the viewer): all
     * three leave the window, one latency sample. */
    CHECK(bridge_hub_ack(hub, id, 4, 4000 + 10000));
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.in_flight, 0);
    CHECK_EQ_INT(st.acked, 5);
    CHECK_EQ_INT(st.latency_samples, 2);
    CHECK(!bridge_hub_viewer_stats(hub, 999, &st));
    bridge_hub_free(hub);
}

static void test_late_joiner_gets_gop(void)
{
    BridgeHub *hub = bridge_hub_new(NULL);
    guint32 first = 0;
    BridgeFrame *f;

    push(hub, 10, TRUE, 100);
    push(hub, 11, FALSE, 100);
    push(hub, 12, TRUE, 100);
    push(hub, 13, FALSE, 100);
    guint id = bridge_hub_add_viewer(hub);
    f = bridge_hub_next(hub, id);
    CHECK(f && f->keyframe);
    first = f->seq;
    bridge_frame_unref(f);
    CHECK_EQ_INT(first, 12);
    CHECK_EQ_INT(drain(hub, id, NULL), 1);
    /* Replayed frames are old: no latency sample from them. */
    CHECK(bridge_hub_ack(hub, id, 13, 999999));
    push(hub, 14, FALSE, 100);
    CHECK_EQ_INT(drain(hub, id, NULL), 1);
    CHECK(bridge_hub_ack(hub, id, 14, 14000 + 3000));
    BridgeViewerStats st;
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.latency_samples, 1);
    CHECK(st.latency_p50_ms > 2.9 && st.latency_p50_ms < 3.1);
    bridge_hub_free(hub);
}

static void test_joiner_without_gop_waits_for_keyframe(void)
{
    BridgeHubOptions o = {.gop_frames = 3};
    BridgeHub *hub = bridge_hub_new(&o);
    BridgeViewerStats st;
    BridgeFrame *f;

    /* Before any keyframe, and after the GOP outgrew its limit. */
    guint a = bridge_hub_add_viewer(hub);
    CHECK(bridge_hub_take_keyframe_wish(hub));
    CHECK(!bridge_hub_take_keyframe_wish(hub)); /* taken */
    push(hub, 0, TRUE, 10);
    for (guint32 s = 1; s < 5; s++)
        push(hub, s, FALSE, 10);
    guint b = bridge_hub_add_viewer(hub);
    CHECK(bridge_hub_take_keyframe_wish(hub));
    push(hub, 5, FALSE, 10);
    CHECK_EQ_INT(drain(hub, b, NULL), 0);
    CHECK(bridge_hub_viewer_stats(hub, b, &st));
    CHECK(st.waiting_keyframe);
    CHECK_EQ_INT(st.dropped, 1);
    push(hub, 6, TRUE, 10);
    f = bridge_hub_next(hub, b);
    CHECK(f && f->seq == 6 && f->keyframe);
    bridge_frame_unref(f);
    /* Viewer a was there for the first keyframe: it got everything. */
    CHECK(bridge_hub_viewer_stats(hub, a, &st));
    CHECK_EQ_INT(st.queued, 7);
    CHECK_EQ_INT(st.dropped, 0);
    bridge_hub_free(hub);
}

static void test_slow_viewer_cut_back_others_untouched(void)
{
    BridgeHubOptions o = {.window = 2, .queue_frames = 5};
    BridgeHub *hub = bridge_hub_new(&o);
    BridgeViewerStats st;
    guint32 last = 0;
    gint64 now = 0;

    push(hub, 0, TRUE, 10);
    guint slow = bridge_hub_add_viewer(hub);
    guint fast = bridge_hub_add_viewer(hub);
    for (guint32 s = 1; s < 40; s++) {
        push(hub, s, s % 20 == 0, 10);
        /* fast draws everything at once */
        while (drain(hub, fast, &last))
            CHECK(bridge_hub_ack(hub, fast, last, now));
    }
    CHECK(bridge_hub_viewer_stats(hub, fast, &st));
    CHECK_EQ_INT(st.acked, 40);
    CHECK_EQ_INT(st.dropped, 0);
    /* slow never read: bounded, cut back, and a keyframe was wanted */
    CHECK(bridge_hub_viewer_stats(hub, slow, &st));
    CHECK(st.queued <= 5);
    CHECK(st.cutbacks >= 1);
    CHECK(st.dropped > 0);
    CHECK(bridge_hub_take_keyframe_wish(hub));
    /* After a cut-back its first frame is a keyframe. */
    drain(hub, slow, NULL);
    bridge_hub_remove_viewer(hub, slow);
    CHECK_EQ_INT(bridge_hub_viewer_count(hub), 1);
    bridge_hub_free(hub);
}

static void test_resync(void)
{
    BridgeHubOptions o = {.window = 4};
    BridgeHub *hub = bridge_hub_new(&o);
    BridgeViewerStats st;
    BridgeFrame *f;

    push(hub, 0, TRUE, 10);
    guint id = bridge_hub_add_viewer(hub);
    for (guint32 s = 1; s < 10; s++)
        push(hub, s, FALSE, 10);
    CHECK_EQ_INT(drain(hub, id, NULL), 4);
    CHECK(!bridge_hub_take_keyframe_wish(hub));
    /* The viewer's decoder failed: nothing it has will be drawn. */
    bridge_hub_resync(hub, id);
    CHECK(bridge_hub_take_keyframe_wish(hub));
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK_EQ_INT(st.in_flight, 0);
    CHECK_EQ_INT(st.queued, 0);
    CHECK_EQ_INT(st.dropped, 10);
    push(hub, 10, FALSE, 10);
    CHECK_EQ_INT(drain(hub, id, NULL), 0);
    push(hub, 11, TRUE, 10);
    f = bridge_hub_next(hub, id);
    CHECK(f && f->seq == 11);
    bridge_frame_unref(f);
    bridge_hub_free(hub);
}

static void test_queue_bytes_bound(void)
{
    BridgeHubOptions o = {.window = 1, .queue_frames = 1000, .queue_bytes = 1000};
    BridgeHub *hub = bridge_hub_new(&o);
    BridgeViewerStats st;

    push(hub, 0, TRUE, 100);
    guint id = bridge_hub_add_viewer(hub);
    for (guint32 s = 1; s < 30; s++)
        push(hub, s, FALSE, 300);
    CHECK(bridge_hub_viewer_stats(hub, id, &st));
    CHECK(st.queued * 300 <= 1000);
    CHECK(st.cutbacks >= 1);
    bridge_hub_free(hub);
}

static void test_latency_over_viewers(void)
{
    BridgeHub *hub = bridge_hub_new(NULL);
    gdouble p50 = 0, p99 = 0;
    guint32 last = 0;

    CHECK(!bridge_hub_latency(hub, &p50, &p99));
    push(hub, 0, TRUE, 10);
    guint a = bridge_hub_add_viewer(hub);
    for (guint32 s = 1; s <= 100; s++) {
        push(hub, s, FALSE, 10);
        drain(hub, a, &last);
        /* latency s ms for frame s */
        CHECK(bridge_hub_ack(hub, a, last, (gint64)last * 1000 + (gint64)last * 1000));
    }
    CHECK(bridge_hub_latency(hub, &p50, &p99));
    CHECK(p50 >= 49 && p50 <= 51);
    CHECK(p99 >= 98 && p99 <= 100);
    bridge_hub_free(hub);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_window_and_ack),
        CHECK_CASE(test_late_joiner_gets_gop),
        CHECK_CASE(test_joiner_without_gop_waits_for_keyframe),
        CHECK_CASE(test_slow_viewer_cut_back_others_untouched),
        CHECK_CASE(test_resync),
        CHECK_CASE(test_queue_bytes_bound),
        CHECK_CASE(test_latency_over_viewers),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
