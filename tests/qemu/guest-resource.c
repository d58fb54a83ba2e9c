/* SPDX-License-Identifier: MIT */
/*
 * RESOURCE frames from inside a guest (run in the test guest of suite
 * qemu): the moving test pattern drawn into DRM dumb buffers of the
 * guest's virtio-gpu, each TRANSFER_TO_HOST'd and then named by its
 * virtio-gpu resource id in a FRAME, with no pixel crossing the port.
 *
 *   guest-resource [--address ADDR] [--size WxH] [--frames N]
 *                  [--output OUT.h264] [--bad] [--buffers N] [--predrawn]
 *
 * Writes the H.264 that comes back to OUT.h264; hfx-verify on the host
 * compares it with the same pattern. --bad then tries what a guest must
 * not be able to hurt the host with, each answered FRAME_DROPPED reason
 * SOURCE on a connection that stays usable: an unknown resource id, a
 * resource smaller than the stream, a stride that is not the resource's,
 * a resource destroyed before its frame; then one destroyed right after
 * its frame went (a race: encoded or dropped, either is right), and a good
 * frame that must still be encoded. Exit 0 when every answer was as
 * expected.
 *
 * --buffers N (2..16, default 3) resources in turn, so at most N frames in
 * flight. --predrawn draws pattern frames 0..N-1 into the N resources
 * before the clock starts and then only names them in turn (frame i shows
 * pattern frame i mod N): moving content at no drawing cost in the guest,
 * what bench/run-vm-resource measures the path alone with. Its output is
 * not the pattern hfx-verify expects past frame N-1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>
#include <virtgpu_drm.h>

#include "hfx/client.h"
#include "pattern.h"
#include "util/clock.h"

#define DEFAULT_BUFFERS 3
#define MAX_BUFFERS 16
#define STREAM 1

struct dumb {
    uint32_t handle;   /* GEM handle */
    uint32_t resource; /* virtio-gpu resource id */
    uint32_t width, height, pitch;
    uint64_t size;
    uint8_t *map;
};

struct run {
    int drm;
    struct hfx_client *client;
    FILE *out;
    uint64_t packets, dropped, dropped_source;
    uint64_t answered; /* frames with an answer, in order */
    unsigned buffers;  /* resources used in turn */
    bool predrawn;     /* drawn once, before the clock starts */
};

static int fail(const char *what)
{
    fprintf(stderr, "guest-resource: %s: %s\n", what, strerror(errno));
    return -1;
}

static int dumb_create(int drm, uint32_t w, uint32_t h, struct dumb *d)
{
    struct drm_mode_create_dumb create = {.width = w, .height = h, .bpp = 32};
    struct drm_mode_map_dumb map = {0};
    struct drm_virtgpu_resource_info info = {0};

    memset(d, 0, sizeof(*d));
    if (ioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &create) < 0)
        return fail("DRM_IOCTL_MODE_CREATE_DUMB");
    d->handle = create.handle;
    d->width = w;
    d->height = h;
    d->pitch = create.pitch;
    d->size = create.size;
    info.bo_handle = d->handle;
    if (ioctl(drm, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &info) < 0)
        return fail("DRM_IOCTL_VIRTGPU_RESOURCE_INFO");
    d->resource = info.res_handle;
    map.handle = d->handle;
    if (ioctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0)
        return fail("DRM_IOCTL_MODE_MAP_DUMB");
    d->map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, drm, (off_t)map.offset);
    if (d->map == MAP_FAILED) {
        d->map = NULL;
        return fail("mmap of a dumb buffer");
    }
    return 0;
}

static void dumb_destroy(int drm, struct dumb *d)
{
    struct drm_gem_close close_ = {.handle = d->handle};

    if (d->map)
        munmap(d->map, d->size);
    d->map = NULL;
    if (d->handle)
        (void)ioctl(drm, DRM_IOCTL_GEM_CLOSE, &close_);
    d->handle = 0;
}

/* The guest's pixels to the host's copy of the resource. */
static int transfer_to_host(int drm, const struct dumb *d)
{
    struct drm_virtgpu_3d_transfer_to_host t = {
        .bo_handle = d->handle,
        .box = {.w = d->width, .h = d->height, .d = 1},
    };

    if (ioctl(drm, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &t) < 0)
        return fail("DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST");
    return 0;
}

static int submit(struct run *r, uint64_t id, uint32_t resource, uint32_t stride)
{
    struct hfx_frame f = {
        .frame_id = id,
        .pts = (int64_t)id,
        .duration = 1,
        .source = HFX_SOURCE_RESOURCE,
        .plane_count = 1,
        .region = resource,
    };
    enum hfx_status st;

    f.planes[0].stride = stride;
    st = hfx_client_submit(r->client, STREAM, &f, NULL, 0, false, 10000);
    if (st != HFX_OK) {
        fprintf(stderr, "guest-resource: submit %llu: %s\n", (unsigned long long)id,
                hfx_strerror(st));
        return -1;
    }
    return 0;
}

/* Wait for the next event of the stream; -1 on a failure. */
static int next_event(struct run *r, struct hfx_event *ev)
{
    enum hfx_status st = hfx_client_next_event(r->client, 20000, ev);

    if (st != HFX_OK) {
        fprintf(stderr, "guest-resource: waiting for the host: %s\n", hfx_strerror(st));
        return -1;
    }
    switch (ev->type) {
    case HFX_EVENT_PACKET:
        r->packets++;
        r->answered++;
        if (r->out && fwrite(ev->u.packet.data, 1, ev->u.packet.data_len, r->out) !=
                          ev->u.packet.data_len)
            return fail("writing the output");
        return 0;
    case HFX_EVENT_DROPPED:
        r->dropped++;
        r->answered++;
        if (ev->u.dropped.reason == HFX_DROP_SOURCE)
            r->dropped_source++;
        return 0;
    case HFX_EVENT_ERROR:
        fprintf(stderr, "guest-resource: host error: %s (%s)\n", ev->u.error.text,
                hfx_status_name((enum hfx_status)ev->u.error.code));
        return -1;
    default:
        return 0;
    }
}

/* Wait until `frames` frames have their answer. */
static int wait_answered(struct run *r, uint64_t frames)
{
    struct hfx_event ev;

    while (r->answered < frames)
        if (next_event(r, &ev) < 0)
            return -1;
    return 0;
}

static int configure(struct run *r, uint32_t w, uint32_t h)
{
    struct hfx_configure cfg = {
        .codec = HFX_CODEC_H264,
        .width = w,
        .height = h,
        .fourcc = HFX_FORMAT_BGRX,
        .fps_num = 30,
        .fps_den = 1,
        .bitrate_kbps = 8000,
    };
    struct hfx_event ev;

    if (hfx_client_configure(r->client, STREAM, &cfg) != HFX_OK)
        return -1;
    do {
        if (next_event(r, &ev) < 0)
            return -1;
    } while (ev.type != HFX_EVENT_CONFIGURED);
    return 0;
}

static void draw(struct dumb *b, uint64_t index)
{
    struct hfx_image img = {
        .fourcc = HFX_FORMAT_BGRX,
        .width = b->width,
        .height = b->height,
        .plane = {b->map},
        .stride = {b->pitch},
    };

    hfx_pattern_fill(&img, index);
}

/* The pattern through r->buffers resources, each reused only once the
 * frame that named it has its answer (the host reads a resource when the
 * frame is encoded, not when it arrives). */
static int stream_pattern(struct run *r, struct dumb *d, uint64_t frames)
{
    for (uint64_t i = 0; i < frames; i++) {
        struct dumb *b = &d[i % r->buffers];

        if (i >= r->buffers && wait_answered(r, i - r->buffers + 1) < 0)
            return -1;
        if (!r->predrawn)
            draw(b, i);
        if (transfer_to_host(r->drm, b) < 0 || submit(r, i + 1, b->resource, b->pitch) < 0)
            return -1;
    }
    return wait_answered(r, frames);
}

/* One frame the host must drop with reason SOURCE. */
static int expect_source_drop(struct run *r, const char *what, uint64_t id, uint32_t resource,
                              uint32_t stride)
{
    uint64_t before = r->dropped_source;

    if (submit(r, id, resource, stride) < 0 || wait_answered(r, id) < 0)
        return -1;
    if (r->dropped_source != before + 1) {
        fprintf(stderr, "guest-resource: %s: not dropped with reason SOURCE\n", what);
        return -1;
    }
    printf("bad input: %s: FRAME_DROPPED reason SOURCE\n", what);
    return 0;
}

static int bad_input(struct run *r, struct dumb *d, uint64_t next_id)
{
    struct dumb small, gone;
    uint64_t id = next_id;
    int rc = -1;

    if (dumb_create(r->drm, d[0].width / 2, d[0].height / 2, &small) < 0)
        return -1;
    if (dumb_create(r->drm, d[0].width, d[0].height, &gone) < 0)
        goto out;
    if (expect_source_drop(r, "an unknown resource id", id++, 0x7fffff00u, d[0].pitch) < 0 ||
        /* The stream's stride: a smaller one would break §5.3 (row bytes
         * <= stride), a protocol error that closes the connection. */
        expect_source_drop(r, "a resource smaller than the stream", id++, small.resource,
                           d[0].pitch) < 0 ||
        expect_source_drop(r, "a stride that is not the resource's", id++, d[0].resource,
                           d[0].pitch + 64) < 0)
        goto out;
    /* Destroyed before its frame went: the read finds nothing. */
    {
        uint32_t resource = gone.resource;
        dumb_destroy(r->drm, &gone);
        if (expect_source_drop(r, "a destroyed resource", id++, resource, d[0].pitch) < 0)
            goto out;
    }
    /* Destroyed right after its frame went: whether the host read it
     * first is a race, so either answer is right; what counts is that
     * there is one and the host goes on. */
    if (dumb_create(r->drm, d[0].width, d[0].height, &gone) < 0 ||
        transfer_to_host(r->drm, &gone) < 0 || submit(r, id, gone.resource, gone.pitch) < 0)
        goto out;
    dumb_destroy(r->drm, &gone);
    {
        uint64_t before = r->dropped_source;
        if (wait_answered(r, id++) < 0)
            goto out;
        printf("bad input: a resource destroyed while its frame waited: %s\n",
               r->dropped_source > before ? "FRAME_DROPPED reason SOURCE" : "encoded (read first)");
    }
    /* And the connection still encodes. */
    {
        uint64_t before = r->packets;
        if (transfer_to_host(r->drm, &d[0]) < 0 || submit(r, id, d[0].resource, d[0].pitch) < 0 ||
            wait_answered(r, id) < 0)
            goto out;
        if (r->packets != before + 1) {
            fprintf(stderr, "guest-resource: the good frame after the bad ones was dropped\n");
            goto out;
        }
    }
    printf("bad input: the stream still encodes\n");
    rc = 0;
out:
    dumb_destroy(r->drm, &gone);
    dumb_destroy(r->drm, &small);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: guest-resource [--address ADDR] [--size WxH] [--frames N]\n"
               "                      [--output OUT.h264] [--device /dev/dri/cardN] [--bad]\n"
               "                      [--buffers N] [--predrawn]\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'}, {"size", required_argument, NULL, 's'},
        {"frames", required_argument, NULL, 'n'},  {"output", required_argument, NULL, 'o'},
        {"device", required_argument, NULL, 'd'},  {"bad", no_argument, NULL, 'b'},
        {"buffers", required_argument, NULL, 'B'}, {"predrawn", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *address = "auto", *output = NULL, *device = "/dev/dri/card0";
    unsigned w = 1280, h = 720;
    unsigned long long frames = 300;
    bool bad = false;
    struct hfx_client_options copts = {.caps = HFX_CAP_INLINE | HFX_CAP_RESOURCE};
    struct run r = {.drm = -1, .buffers = DEFAULT_BUFFERS};
    struct dumb d[MAX_BUFFERS] = {0};
    char err[HFX_MAX_TEXT + 1] = "";
    int64_t t0;
    double secs;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "a:s:n:o:d:bB:ph", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': address = optarg; break;
        case 's':
            if (sscanf(optarg, "%ux%u", &w, &h) != 2 || !w || !h || w % 2 || h % 2) {
                fprintf(stderr, "guest-resource: bad --size %s\n", optarg);
                return 2;
            }
            break;
        case 'n': frames = strtoull(optarg, NULL, 10); break;
        case 'o': output = optarg; break;
        case 'd': device = optarg; break;
        case 'b': bad = true; break;
        case 'B':
            r.buffers = (unsigned)strtoul(optarg, NULL, 10);
            if (r.buffers < 2 || r.buffers > MAX_BUFFERS) {
                fprintf(stderr, "guest-resource: --buffers takes 2..%d\n", MAX_BUFFERS);
                return 2;
            }
            break;
        case 'p': r.predrawn = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    r.drm = open(device, O_RDWR | O_CLOEXEC);
    if (r.drm < 0) {
        fail(device);
        return 1;
    }
    for (unsigned i = 0; i < r.buffers; i++) {
        if (dumb_create(r.drm, w, h, &d[i]) < 0)
            goto out;
        if (r.predrawn)
            draw(&d[i], i);
    }
    if (hfx_client_connect(address, &copts, &r.client, err, sizeof(err)) != HFX_OK) {
        fprintf(stderr, "guest-resource: cannot connect to %s: %s\n", address, err);
        goto out;
    }
    if (!(hfx_client_welcome(r.client)->caps & HFX_CAP_RESOURCE)) {
        fprintf(stderr, "guest-resource: the host does not serve RESOURCE frames\n");
        goto out;
    }
    if (output && !(r.out = fopen(output, "wb"))) {
        fail(output);
        goto out;
    }
    if (configure(&r, w, h) < 0)
        goto out;
    t0 = hfx_clock_ns();
    if (stream_pattern(&r, d, frames) < 0)
        goto out;
    secs = (double)(hfx_clock_ns() - t0) / 1e9;
    printf("%u resources from %u%s, pitch %u: %llu frames, %llu packets, %llu dropped "
           "in %.2f s (%.1f fps)\n",
           r.buffers, d[0].resource, r.predrawn ? " (predrawn)" : "", d[0].pitch, frames,
           (unsigned long long)r.packets, (unsigned long long)r.dropped, secs,
           secs > 0 ? (double)frames / secs : 0.0);
    /* The output holds the pattern only. */
    if (r.out) {
        FILE *f = r.out;
        r.out = NULL;
        if (fclose(f) != 0) {
            fail("closing the output");
            goto out;
        }
    }
    if (bad && bad_input(&r, d, frames + 1) < 0)
        goto out;
    rc = 0;
out:
    if (r.out && fclose(r.out) != 0) {
        fail("closing the output");
        rc = 1;
    }
    hfx_client_free(&r.client);
    for (unsigned i = 0; i < r.buffers; i++)
        dumb_destroy(r.drm, &d[i]);
    close(r.drm);
    return rc;
}
