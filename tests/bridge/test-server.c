/* SPDX-License-Identifier: MIT */
/* bridge/server.c: the hand-off of access units from the encoder's thread
 * to the main context is bounded, and stop_intake frees a waiting thread. */
#include <json-glib/json-glib.h>

#include "check.h"
#include "server.h"

#define PUSHES 30
#define INTAKE_MAX 8 /* bridge/server.c */

typedef struct {
    BridgeServer *server;
    gint pushed;
} Pusher;

/* The encoder's thread: PUSHES access units as fast as it may. */
static gpointer push_all(gpointer data)
{
    Pusher *p = data;
    static const guint8 au[] = {0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00};

    for (int i = 0; i < PUSHES; i++) {
        bridge_server_push_au(p->server, au, sizeof(au), i == 0, i * 33333,
                              g_get_monotonic_time(), 64, 64);
        g_atomic_int_inc(&p->pushed);
    }
    return NULL;
}

static gint64 stats_int(BridgeServer *s, const char *name)
{
    gchar *json = bridge_server_stats_json(s, FALSE);
    JsonNode *root = json_from_string(json, NULL);
    gint64 v;

    CHECK(root && JSON_NODE_HOLDS_OBJECT(root));
    v = json_object_get_int_member(json_node_get_object(root), name);
    json_node_unref(root);
    g_free(json);
    return v;
}

/* Pushes until it must wait; TRUE when it stays waiting at INTAKE_MAX. */
static gboolean waits_at_the_bound(Pusher *p)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (g_atomic_int_get(&p->pushed) < INTAKE_MAX &&
           g_get_monotonic_time() < deadline)
        g_usleep(1000);
    g_usleep(100 * 1000);
    return g_atomic_int_get(&p->pushed) == INTAKE_MAX;
}

static BridgeServer *server_on_private_context(GMainContext *ctx)
{
    BridgeServerOptions opts = {0};
    GError *error = NULL;
    BridgeServer *s;

    g_main_context_push_thread_default(ctx);
    s = bridge_server_new(&opts, &error);
    CHECK(s != NULL);
    g_clear_error(&error);
    return s;
}

static void free_server(BridgeServer *s, GMainContext *ctx)
{
    bridge_server_free(s);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
}

static void test_main_loop_slower_than_encoder(void)
{
    GMainContext *ctx = g_main_context_new();
    Pusher p = {server_on_private_context(ctx), 0};
    GThread *t = g_thread_new("encoder", push_all, &p);

    /* The main context does not run: the encoder's thread waits with
     * INTAKE_MAX access units handed over, holding no more. */
    CHECK(waits_at_the_bound(&p));
    CHECK_EQ_INT(stats_int(p.server, "frames"), 0);
    /* Once it runs, every access unit arrives, none lost. (Each one missing
     * is queued with a source attached or still to be pushed, which
     * attaches one: the blocking iteration always wakes.) */
    while (stats_int(p.server, "frames") < PUSHES)
        g_main_context_iteration(ctx, TRUE);
    g_thread_join(t);
    CHECK_EQ_INT(stats_int(p.server, "frames"), PUSHES);
    CHECK(stats_int(p.server, "encoder_waits") >= 1);
    free_server(p.server, ctx);
}

static void test_stop_intake_frees_a_waiting_thread(void)
{
    GMainContext *ctx = g_main_context_new();
    Pusher p = {server_on_private_context(ctx), 0};
    GThread *t = g_thread_new("encoder", push_all, &p);

    CHECK(waits_at_the_bound(&p));
    /* As at shutdown: the main loop has ended, the capture is stopping. The
     * thread returns, and what it pushes from now on is dropped. */
    bridge_server_stop_intake(p.server);
    g_thread_join(t);
    CHECK_EQ_INT(g_atomic_int_get(&p.pushed), PUSHES);
    /* The INTAKE_MAX handed over before the stop are still taken when the
     * server drains its context on the way out (and the leak check would
     * see them if they were not freed). */
    free_server(p.server, ctx);
}

int main(void)
{
    /* GIO keeps a descriptor or two for the whole process (its worker
     * context) once a socket is made: make them before the fd check. */
    GMainContext *ctx = g_main_context_new();
    free_server(server_on_private_context(ctx), ctx);

    static const struct check_case cases[] = {
        CHECK_CASE(test_main_loop_slower_than_encoder),
        CHECK_CASE(test_stop_intake_frees_a_waiting_thread),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
