/* SPDX-License-Identifier: MIT */
/*
 * Draws the pictures of tests/scanout/scanout-images.h on the guest's display
 * (run in the test guest of suite qemu): a DRM dumb buffer of the first
 * connected connector's mode, set on its CRTC, each picture drawn into it
 * and flushed to the host with DIRTYFB (virtio-gpu: TRANSFER_TO_HOST_2D and
 * RESOURCE_FLUSH), then held.
 *
 *   guest-draw [--device /dev/dri/cardN] [--hold MS] [--wait-for FILE]
 *   guest-draw [--device /dev/dri/cardN] --follow FILE [--preferred] [--cursor]
 *   guest-draw [--device /dev/dri/cardN] --on-key
 *
 * --wait-for: start drawing once FILE exists (the host's subscriber is
 * there). Prints the mode and, per picture, the monotonic time it was
 * flushed. Exit 0 when every picture was drawn and flushed.
 *
 * --follow: draw picture 0, then whatever FILE says as it changes (read
 * every 20 ms; the host writes it through a shared directory): a picture
 * number draws that picture, "K WxH" draws it in the connector's mode of
 * that size (a new framebuffer, set on the CRTC; exit 1 when there is no
 * such mode), "quit" ends (exit 0). A command is carried out when the
 * file's text changes.
 *
 * --preferred (with --follow): also follow the connector's preferred mode,
 * probed every 200 ms: when it changes (the host asked for another size:
 * virtio-gpu's display event), set it as a desktop would and draw the
 * current picture in it ("guest-draw: mode WxH (preferred)").
 *
 * --cursor: show a pointer on the CRTC's cursor plane, 64x64 with its hot
 * spot at (CURSOR_HOT_X, CURSOR_HOT_Y): a CURSOR_BLOCK-pixel square of
 * CURSOR_RGB at its top left, the rest transparent (virtio-gpu hands it to
 * QEMU as the console's cursor).
 *
 * --on-key: draw picture 0, then the next picture (after 5: 0) at once on
 * every key press any /dev/input/event* device reports (buttons do not
 * count), until killed: the guest's side of bench/scanout's
 * input-to-photon measurement.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/input.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>

#include "scanout-images.h"

static int fail(const char *what)
{
    fprintf(stderr, "guest-draw: %s: %s\n", what, strerror(errno));
    return 1;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --follow: what FILE says now. picture -1: nothing (yet), -2: quit;
 * width and height 0: the mode it has. */
#define PREFERRED_PROBE_MS 200
#define DRM_MODE_TYPE_PREFERRED_BIT (1 << 3)
struct command {
    int picture;
    unsigned width, height;
};

static struct command followed(const char *path)
{
    struct command cmd = {.picture = -1};
    char text[32] = "";
    FILE *f = fopen(path, "r");
    char *end;
    long k;

    if (!f)
        return cmd;
    if (!fgets(text, sizeof(text), f))
        text[0] = '\0';
    fclose(f);
    if (strncmp(text, "quit", 4) == 0) {
        cmd.picture = -2;
        return cmd;
    }
    k = strtol(text, &end, 10);
    if (end == text || k < 0 || k >= SCANOUT_IMAGES)
        return cmd;
    if (*end == ' ' && sscanf(end + 1, "%ux%u", &cmd.width, &cmd.height) != 2)
        return cmd; /* half written */
    cmd.picture = (int)k;
    return cmd;
}

#define MAX_MODES 64

/* c's state and its first MAX_MODES modes into modes (c->count_modes of
 * them), probed: this program is the DRM master, and a GETCONNECTOR that
 * asks for no modes makes the driver read the display's modes again. */
static int connector_modes(int drm, struct drm_mode_get_connector *c,
                           struct drm_mode_modeinfo *modes)
{
    uint32_t id = c->connector_id;

    memset(c, 0, sizeof(*c));
    c->connector_id = id;
    if (ioctl(drm, DRM_IOCTL_MODE_GETCONNECTOR, c) != 0)
        return fail("DRM_IOCTL_MODE_GETCONNECTOR");
    if (c->count_modes == 0)
        return 0;
    if (c->count_modes > MAX_MODES)
        c->count_modes = MAX_MODES;
    c->modes_ptr = (uint64_t)(uintptr_t)modes;
    c->count_props = c->count_encoders = 0;
    if (ioctl(drm, DRM_IOCTL_MODE_GETCONNECTOR, c) != 0)
        return fail("DRM_IOCTL_MODE_GETCONNECTOR");
    return 0;
}

/* The first connected connector, the mode of width x height among its modes
 * (0 x 0: its preferred one, else its first) and a CRTC that can drive it. */
static int find_output(int drm, unsigned width, unsigned height, uint32_t *connector,
                       uint32_t *crtc, struct drm_mode_modeinfo *mode)
{
    struct drm_mode_card_res res = {0};
    uint32_t conns[16], crtcs[16];

    if (ioctl(drm, DRM_IOCTL_MODE_GETRESOURCES, &res) != 0)
        return fail("DRM_IOCTL_MODE_GETRESOURCES");
    if (res.count_connectors > 16)
        res.count_connectors = 16;
    if (res.count_crtcs > 16)
        res.count_crtcs = 16;
    res.connector_id_ptr = (uint64_t)(uintptr_t)conns;
    res.crtc_id_ptr = (uint64_t)(uintptr_t)crtcs;
    res.count_fbs = res.count_encoders = 0;
    if (ioctl(drm, DRM_IOCTL_MODE_GETRESOURCES, &res) != 0)
        return fail("DRM_IOCTL_MODE_GETRESOURCES");
    for (uint32_t i = 0; i < res.count_connectors; i++) {
        struct drm_mode_get_connector c = {.connector_id = conns[i]};
        struct drm_mode_modeinfo modes[MAX_MODES];
        struct drm_mode_get_encoder enc = {0};

        if (connector_modes(drm, &c, modes) != 0)
            return 1;
        if (c.connection != 1 || c.count_modes == 0)
            continue;
        *connector = conns[i];
        *mode = modes[0];
        for (uint32_t m = 0; m < c.count_modes; m++)
            if (width ? modes[m].hdisplay == width && modes[m].vdisplay == height
                      : (modes[m].type & DRM_MODE_TYPE_PREFERRED_BIT) != 0) {
                *mode = modes[m];
                break;
            }
        if (width && (mode->hdisplay != width || mode->vdisplay != height)) {
            fprintf(stderr, "guest-draw: the connector has no %ux%u mode\n", width, height);
            return 1;
        }
        *crtc = crtcs[0];
        enc.encoder_id = c.encoder_id;
        if (c.encoder_id && ioctl(drm, DRM_IOCTL_MODE_GETENCODER, &enc) == 0 && enc.crtc_id)
            *crtc = enc.crtc_id;
        return 0;
    }
    fprintf(stderr, "guest-draw: no connected connector\n");
    return 1;
}

/* The connector's preferred mode now, probed; 0 x 0 when it has none. */
static int preferred_size(int drm, uint32_t connector, unsigned *width, unsigned *height)
{
    struct drm_mode_get_connector c = {.connector_id = connector};
    struct drm_mode_modeinfo modes[MAX_MODES];

    *width = *height = 0;
    if (connector_modes(drm, &c, modes) != 0)
        return 1;
    if (c.count_modes == 0)
        return 0;
    for (uint32_t m = 0; m < c.count_modes; m++)
        if (modes[m].type & DRM_MODE_TYPE_PREFERRED_BIT) {
            *width = modes[m].hdisplay;
            *height = modes[m].vdisplay;
            return 0;
        }
    *width = modes[0].hdisplay;
    *height = modes[0].vdisplay;
    return 0;
}

/* A dumb buffer the size of a mode, mapped, as a framebuffer. */
struct screen {
    struct drm_mode_modeinfo mode;
    struct drm_mode_create_dumb create;
    struct drm_mode_fb_cmd fb;
    uint8_t *pixels;
};

static int screen_open(int drm, const struct drm_mode_modeinfo *mode, struct screen *scr)
{
    struct drm_mode_map_dumb map = {0};

    memset(scr, 0, sizeof(*scr));
    scr->mode = *mode;
    scr->create.width = mode->hdisplay;
    scr->create.height = mode->vdisplay;
    scr->create.bpp = 32;
    if (ioctl(drm, DRM_IOCTL_MODE_CREATE_DUMB, &scr->create) != 0)
        return fail("DRM_IOCTL_MODE_CREATE_DUMB");
    map.handle = scr->create.handle;
    if (ioctl(drm, DRM_IOCTL_MODE_MAP_DUMB, &map) != 0)
        return fail("DRM_IOCTL_MODE_MAP_DUMB");
    scr->pixels = mmap(NULL, scr->create.size, PROT_READ | PROT_WRITE, MAP_SHARED, drm,
                       (off_t)map.offset);
    if (scr->pixels == MAP_FAILED)
        return fail("mmap of the dumb buffer");
    scr->fb.width = scr->create.width;
    scr->fb.height = scr->create.height;
    scr->fb.pitch = scr->create.pitch;
    scr->fb.bpp = 32;
    scr->fb.depth = 24;
    scr->fb.handle = scr->create.handle;
    if (ioctl(drm, DRM_IOCTL_MODE_ADDFB, &scr->fb) != 0)
        return fail("DRM_IOCTL_MODE_ADDFB");
    return 0;
}

static void screen_close(int drm, struct screen *scr)
{
    struct drm_mode_destroy_dumb destroy = {.handle = scr->create.handle};

    if (scr->fb.fb_id)
        ioctl(drm, DRM_IOCTL_MODE_RMFB, &scr->fb.fb_id);
    if (scr->pixels && scr->pixels != MAP_FAILED)
        munmap(scr->pixels, scr->create.size);
    if (scr->create.handle)
        ioctl(drm, DRM_IOCTL_MODE_DESTROY_DUMB, &destroy);
    memset(scr, 0, sizeof(*scr));
}

/* Show scr on the CRTC in its mode. */
static int screen_show(int drm, uint32_t connector, uint32_t crtc, struct screen *scr)
{
    struct drm_mode_crtc set = {
        .crtc_id = crtc,
        .fb_id = scr->fb.fb_id,
        .set_connectors_ptr = (uint64_t)(uintptr_t)&connector,
        .count_connectors = 1,
        .mode = scr->mode,
        .mode_valid = 1,
    };

    if (ioctl(drm, DRM_IOCTL_MODE_SETCRTC, &set) != 0)
        return fail("DRM_IOCTL_MODE_SETCRTC");
    return 0;
}

#define CURSOR_SIDE 64
#define CURSOR_BLOCK 16
#define CURSOR_HOT_X 3
#define CURSOR_HOT_Y 5
#define CURSOR_RGB 0x20c040u

/* --cursor: the pointer on the CRTC's cursor plane (see the top). */
static int show_cursor(int drm, uint32_t crtc, struct screen *cur)
{
    struct drm_mode_modeinfo side = {.hdisplay = CURSOR_SIDE, .vdisplay = CURSOR_SIDE};
    struct drm_mode_cursor2 set = {
        .flags = DRM_MODE_CURSOR_BO | DRM_MODE_CURSOR_MOVE,
        .crtc_id = crtc,
        .x = 100,
        .y = 100,
        .width = CURSOR_SIDE,
        .height = CURSOR_SIDE,
        .hot_x = CURSOR_HOT_X,
        .hot_y = CURSOR_HOT_Y,
    };

    if (screen_open(drm, &side, cur) != 0)
        return 1;
    for (unsigned y = 0; y < CURSOR_SIDE; y++)
        for (unsigned x = 0; x < CURSOR_SIDE; x++) {
            uint32_t argb = x < CURSOR_BLOCK && y < CURSOR_BLOCK ? 0xff000000u | CURSOR_RGB : 0;
            memcpy(cur->pixels + (size_t)y * cur->create.pitch + x * 4, &argb, 4);
        }
    set.handle = cur->create.handle;
    if (ioctl(drm, DRM_IOCTL_MODE_CURSOR2, &set) != 0)
        return fail("DRM_IOCTL_MODE_CURSOR2");
    printf("guest-draw: cursor %ux%u, hot spot %u,%u\n", CURSOR_SIDE, CURSOR_SIDE, CURSOR_HOT_X,
           CURSOR_HOT_Y);
    return 0;
}

#define MAX_KEYBOARDS 16

/* --on-key: every input device; returns how many. */
static int open_inputs(struct pollfd *fds)
{
    int n = 0;

    for (int i = 0; i < 32 && n < MAX_KEYBOARDS; i++) {
        char path[32];

        snprintf(path, sizeof(path), "/dev/input/event%d", i);
        fds[n].fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        fds[n].events = POLLIN;
        if (fds[n].fd >= 0)
            n++;
    }
    return n;
}

/* --on-key: blocks until a key (not a button) is pressed. */
static void wait_key(struct pollfd *fds, int n)
{
    for (;;) {
        if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR)
            return;
        for (int i = 0; i < n; i++) {
            struct input_event ev[64];
            ssize_t got;
            bool pressed = false;

            if (!(fds[i].revents & POLLIN))
                continue;
            while ((got = read(fds[i].fd, ev, sizeof(ev))) > 0)
                for (size_t k = 0; k < (size_t)got / sizeof(ev[0]); k++)
                    if (ev[k].type == EV_KEY && ev[k].value == 1 && ev[k].code < BTN_MISC)
                        pressed = true;
            if (pressed)
                return;
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"device", required_argument, NULL, 'd'},
        {"hold", required_argument, NULL, 'H'},
        {"wait-for", required_argument, NULL, 'w'},
        {"follow", required_argument, NULL, 'f'},
        {"on-key", no_argument, NULL, 'k'},
        {"preferred", no_argument, NULL, 'p'},
        {"cursor", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *device = "/dev/dri/card0", *wait_for = NULL, *follow = NULL;
    unsigned hold = 700;
    struct drm_mode_modeinfo mode;
    struct screen scr;
    uint32_t connector = 0, crtc = 0;
    struct pollfd keys[MAX_KEYBOARDS];
    int drm, c, nkeys = 0;
    bool on_key = false, preferred = false, cursor = false;
    struct screen cur = {0};
    struct command done = {.picture = -1};
    unsigned pref_w = 0, pref_h = 0;

    while ((c = getopt_long(argc, argv, "d:H:w:f:kpch", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': device = optarg; break;
        case 'H': hold = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'w': wait_for = optarg; break;
        case 'f': follow = optarg; break;
        case 'k': on_key = true; break;
        case 'p': preferred = true; break;
        case 'c': cursor = true; break;
        case 'h':
            printf("Usage: guest-draw [--device /dev/dri/cardN] [--hold MS] [--wait-for FILE]\n"
                   "       guest-draw [--device /dev/dri/cardN] --follow FILE [--preferred]\n"
                   "                  [--cursor]\n"
                   "       guest-draw [--device /dev/dri/cardN] --on-key\n");
            return 0;
        default: return 2;
        }
    }
    if (on_key && (nkeys = open_inputs(keys)) == 0) {
        fprintf(stderr, "guest-draw: --on-key: no /dev/input/event* device\n");
        return 1;
    }
    drm = open(device, O_RDWR | O_CLOEXEC);
    if (drm < 0)
        return fail(device);
    if (find_output(drm, 0, 0, &connector, &crtc, &mode) != 0 ||
        screen_open(drm, &mode, &scr) != 0)
        return 1;
    printf("guest-draw: mode %ux%u, connector %u, crtc %u, fb %u\n", mode.hdisplay,
           mode.vdisplay, connector, crtc, scr.fb.fb_id);
    fflush(stdout);
    /* The preferred mode is the one just set: a second probe could see a
     * newer one and take it for the mode already shown. */
    pref_w = mode.hdisplay;
    pref_h = mode.vdisplay;

    while (wait_for && access(wait_for, F_OK) != 0)
        sleep_ms(50);
    for (unsigned step = 0, k = 0; follow || on_key ? 1 : step < SCANOUT_IMAGES; step++) {
        struct drm_mode_fb_dirty_cmd dirty = {.fb_id = scr.fb.fb_id};
        struct command next;

        scanout_draw(k, scr.pixels, scr.create.width, scr.create.height, scr.create.pitch);
        /* Shown once it is drawn: the host never sees an empty buffer. */
        if (step == 0 && screen_show(drm, connector, crtc, &scr) != 0)
            return 1;
        if (step == 0 && cursor && show_cursor(drm, crtc, &cur) != 0)
            return 1;
        if (ioctl(drm, DRM_IOCTL_MODE_DIRTYFB, &dirty) != 0)
            return fail("DRM_IOCTL_MODE_DIRTYFB");
        printf("guest-draw: picture %u at %ux%u at %.3f\n", k, scr.create.width,
               scr.create.height, now_s());
        fflush(stdout);
        if (on_key) {
            wait_key(keys, nkeys);
            k = (k + 1) % SCANOUT_IMAGES;
            continue;
        }
        if (!follow) {
            sleep_ms(hold);
            k++;
            continue;
        }
        for (unsigned waited = 0;; waited += 20) {
            unsigned w, h;

            next = followed(follow);
            if (next.picture == -2 ||
                (next.picture >= 0 && (next.picture != done.picture || next.width != done.width ||
                                       next.height != done.height))) {
                done = next;
                break;
            }
            if (preferred && waited % PREFERRED_PROBE_MS == 0) {
                if (preferred_size(drm, connector, &w, &h) != 0)
                    return 1;
                if (w && (w != pref_w || h != pref_h)) {
                    pref_w = w;
                    pref_h = h;
                    next = (struct command){.picture = (int)k, .width = w, .height = h};
                    printf("guest-draw: the preferred mode is now %ux%u\n", w, h);
                    break;
                }
            }
            sleep_ms(20);
        }
        if (next.picture == -2)
            break;
        k = (unsigned)next.picture;
        if (next.width && (next.width != scr.create.width || next.height != scr.create.height)) {
            /* A new mode: a new buffer of its size, drawn, then shown. */
            struct screen old = scr;

            if (find_output(drm, next.width, next.height, &connector, &crtc, &mode) != 0 ||
                screen_open(drm, &mode, &scr) != 0)
                return 1;
            scanout_draw(k, scr.pixels, scr.create.width, scr.create.height, scr.create.pitch);
            if (screen_show(drm, connector, crtc, &scr) != 0)
                return 1;
            screen_close(drm, &old);
            printf("guest-draw: mode %ux%u\n", mode.hdisplay, mode.vdisplay);
        }
    }
    screen_close(drm, &cur);
    screen_close(drm, &scr);
    close(drm);
    return 0;
}
