/* SPDX-License-Identifier: MIT */
/*
 * An hfx host with one scanout and a display of its own, standing in for
 * QEMU's helix-frame-export chardev (docs/qemu.md) where a test needs a
 * scanout but no virtual machine: libhfx-host's server on an address, and
 * scanout 0 showing the pictures of tests/scanout/scanout-images.h as told
 * on standard input.
 *
 *   scanout-host --listen ADDRESS [--size WxH] [--bitrate KBPS] [--input]
 *
 * Standard input, a command per line: K (0..5) shows picture K; "size WxH"
 * changes the display's size (the picture is drawn again); end of input
 * stops. Prints "scanout-host: listening on ADDRESS" once it serves and
 * "scanout-host: picture K" when picture K is published. The display is
 * published on every change and whenever the server wants a picture (a
 * new subscriber, a keep-alive), as QEMU's console is.
 *
 * --input: the scanout takes INPUT (docs/protocol.md §5.18) and prints each
 * event as it comes: "scanout-host: key CODE DOWN" or "scanout-host:
 * pointer X Y in WxH buttons B wheel W".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hfx/protocol.h"
#include "hfx/scanout.h"
#include "hfx/server.h"
#include "scanout-images.h"

struct display {
    struct hfx_scanout *sc;
    int want[2]; /* pipe: the server's want_picture wakes the display */
    uint32_t width, height;
    uint8_t *pixels; /* BGRx, width * 4 bytes per row */
    int picture;
    bool dirty; /* changed or wanted, not yet published */
};

struct loop {
    struct hfx_server *server;
    int stop[2];
    enum hfx_status status;
};

static void want_picture(void *user)
{
    struct display *d = user;
    const char b = 1;

    /* Never blocks the server's loop: a full pipe already says it. */
    if (write(d->want[1], &b, 1) < 0 && errno != EAGAIN)
        fprintf(stderr, "scanout-host: want_picture: %s\n", strerror(errno));
}

/* On the server's thread; one printf per line, which stdio keeps whole. */
static void on_input(void *user, const struct hfx_input *in, uint32_t width, uint32_t height)
{
    (void)user;
    if (in->kind == HFX_INPUT_KEY)
        printf("scanout-host: key %u %u\n", in->code, in->down);
    else
        printf("scanout-host: pointer %u %u in %ux%u buttons %u wheel %d\n", in->x, in->y, width,
               height, in->buttons, in->wheel);
    fflush(stdout);
}

static void *run_server(void *arg)
{
    struct loop *l = arg;

    l->status = hfx_server_run(l->server, l->stop[0]);
    return NULL;
}

static int draw(struct display *d, int picture, uint32_t w, uint32_t h)
{
    uint8_t *p = malloc((size_t)w * h * 4);

    if (!p)
        return -1;
    free(d->pixels);
    d->pixels = p;
    d->width = w;
    d->height = h;
    d->picture = picture;
    scanout_draw((unsigned)picture, p, w, h, w * 4);
    d->dirty = true;
    return 0;
}

/* A line of standard input; -1 on a bad one (told, ignored). */
static int command(struct display *d, char *line)
{
    unsigned w, h;
    char *end;
    long k;

    line[strcspn(line, "\r\n")] = '\0';
    if (sscanf(line, "size %ux%u", &w, &h) == 2) {
        if (w < 2 || h < 2 || w > HFX_MAX_DIMENSION || h > HFX_MAX_DIMENSION) {
            fprintf(stderr, "scanout-host: size %ux%u: out of range\n", w, h);
            return -1;
        }
        return draw(d, d->picture, w, h);
    }
    k = strtol(line, &end, 10);
    if (end == line || *end || k < 0 || k >= SCANOUT_IMAGES) {
        fprintf(stderr, "scanout-host: '%s': expected 0..%d or size WxH\n", line,
                SCANOUT_IMAGES - 1);
        return -1;
    }
    return draw(d, (int)k, d->width, d->height);
}

/* Publish when dirty; the time to wait before trying again (-1: none). */
static int publish(struct display *d)
{
    uint32_t retry = 0;
    enum hfx_status st;

    if (!d->dirty)
        return -1;
    st = hfx_scanout_publish(d->sc, HFX_FORMAT_BGRX, d->width, d->height, d->pixels, d->width * 4,
                             &retry);
    if (st == HFX_E_BUSY)
        return (int)retry;
    if (st != HFX_OK)
        fprintf(stderr, "scanout-host: publish: %s\n", hfx_status_name(st));
    else if (hfx_scanout_wanted(d->sc))
        printf("scanout-host: picture %d\n", d->picture);
    fflush(stdout);
    d->dirty = false;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"size", required_argument, NULL, 's'},
        {"bitrate", required_argument, NULL, 'b'},
        {"input", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = NULL;
    struct hfx_server_options so = {.encoder = "libx264", .keyframe_min_interval_ms = 0};
    struct hfx_scanout_options sco = {.number = 0, .want_picture = want_picture};
    struct display d = {.want = {-1, -1}};
    struct loop l = {.stop = {-1, -1}};
    unsigned w = 1280, h = 720;
    pthread_t thread;
    bool running = false, input_open = true;
    char in[256];
    size_t in_len = 0;
    int c, rc = 1;
    enum hfx_status st;

    while ((c = getopt_long(argc, argv, "l:s:b:ih", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 's':
            if (sscanf(optarg, "%ux%u", &w, &h) != 2 || w < 2 || h < 2 || w > HFX_MAX_DIMENSION ||
                h > HFX_MAX_DIMENSION) {
                fprintf(stderr, "scanout-host: --size %s: expected WxH\n", optarg);
                return 2;
            }
            break;
        case 'b':
            sco.bitrate_kbps = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'i':
            sco.input = on_input;
            break;
        case 'h':
            printf("Usage: scanout-host --listen ADDRESS [--size WxH] [--bitrate KBPS] "
                   "[--input]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (!listen) {
        fprintf(stderr, "Usage: scanout-host --listen ADDRESS [--size WxH] [--bitrate KBPS] "
                        "[--input]\n");
        return 2;
    }
    sco.user = &d;
    if (pipe(d.want) != 0 || pipe(l.stop) != 0 || fcntl(d.want[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(d.want[0], F_SETFL, O_NONBLOCK) != 0) {
        perror("scanout-host: pipe");
        goto out;
    }
    if (draw(&d, 0, w, h) != 0)
        goto out;
    if ((st = hfx_server_new(&so, &l.server)) != HFX_OK ||
        (st = hfx_server_add_scanout(l.server, &sco, &d.sc)) != HFX_OK ||
        (st = hfx_server_listen(l.server, listen)) != HFX_OK) {
        fprintf(stderr, "scanout-host: %s: %s\n", listen, hfx_status_name(st));
        goto out;
    }
    if (pthread_create(&thread, NULL, run_server, &l) != 0) {
        fprintf(stderr, "scanout-host: cannot start the server's thread\n");
        goto out;
    }
    running = true;
    printf("scanout-host: listening on %s\n", listen);
    fflush(stdout);
    d.dirty = false; /* nobody wants it yet */
    while (input_open) {
        struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = d.want[0], .events = POLLIN}};
        int wait = publish(&d);
        char line[128];

        if (poll(fds, 2, wait) < 0 && errno != EINTR) {
            perror("scanout-host: poll");
            goto out;
        }
        if (fds[1].revents & POLLIN) {
            while (read(d.want[0], line, sizeof(line)) > 0)
                ;
            d.dirty = true;
        }
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            /* read(), not stdio: poll must see every byte not yet taken. */
            ssize_t n = read(0, in + in_len, sizeof(in) - 1 - in_len);
            char *nl;

            if (n <= 0) {
                input_open = false;
                break;
            }
            in_len += (size_t)n;
            in[in_len] = '\0';
            while ((nl = strchr(in, '\n'))) {
                *nl = '\0';
                if (command(&d, in) != 0 && !d.pixels)
                    goto out;
                in_len -= (size_t)(nl + 1 - in);
                memmove(in, nl + 1, in_len + 1);
            }
            if (in_len == sizeof(in) - 1) {
                fprintf(stderr, "scanout-host: a line over %zu bytes; dropped\n", in_len);
                in_len = 0;
            }
        }
    }
    rc = 0;
out:
    if (running) {
        if (write(l.stop[1], "x", 1) != 1)
            perror("scanout-host: stop");
        pthread_join(thread, NULL);
        if (l.status != HFX_OK) {
            fprintf(stderr, "scanout-host: server: %s\n", hfx_status_name(l.status));
            rc = 1;
        }
    }
    hfx_server_free(&l.server);
    for (int i = 0; i < 2; i++) {
        if (d.want[i] >= 0)
            close(d.want[i]);
        if (l.stop[i] >= 0)
            close(l.stop[i]);
    }
    free(d.pixels);
    return rc;
}
