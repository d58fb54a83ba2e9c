/* SPDX-License-Identifier: MIT */
/*
 * A host process that subscribes to scanout 0 of an hfx host (the
 * helix-frame-export chardev's listen= socket, docs/qemu.md), decodes what
 * comes and looks for the pictures of tests/scanout/scanout-images.h: each
 * must appear, in place and with its colours (PSNR against the picture
 * drawn here at the stream's size), and in order. Or the same in an H.264
 * file that another subscriber received (--input, e.g. what desktop-bridge
 * sent a viewer).
 *
 *   scanout-subscriber --address unix:PATH [--fps N] [--ready FILE]
 *                      [--timeout S] [--min-psnr DB] [--output OUT.h264]
 *   scanout-subscriber --input IN.h264 [--min-psnr DB]
 *
 * --ready: created once the subscription is sent (the guest may start
 * drawing). Exit 0 when every picture was found in order at --min-psnr
 * (default 35), 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h264-decode.h"
#include "hfx/client.h"
#include "pattern.h"
#include "scanout-images.h"
#include "util/clock.h"

struct run {
    uint32_t width, height;
    struct hfx_image refs[SCANOUT_IMAGES]; /* I420 */
    double min_psnr;
    int next;        /* the picture expected next (or again: next - 1) */
    int last;        /* the last one found, -1 before the first */
    double best[SCANOUT_IMAGES];
    uint64_t pictures, unmatched_after_first, out_of_order;
    int64_t first_seen_us[SCANOUT_IMAGES];
    int64_t pts;
};

static void free_refs(struct run *r)
{
    for (int k = 0; k < SCANOUT_IMAGES; k++)
        hfx_image_release(&r->refs[k]);
}

static int make_refs(struct run *r, uint32_t w, uint32_t h)
{
    struct hfx_image src;

    free_refs(r);
    r->width = w;
    r->height = h;
    if (hfx_image_alloc(&src, HFX_FORMAT_BGRX, w, h) != HFX_OK)
        return -1;
    for (int k = 0; k < SCANOUT_IMAGES; k++) {
        scanout_draw((unsigned)k, src.plane[0], w, h, src.stride[0]);
        if (hfx_image_alloc(&r->refs[k], HFX_FORMAT_I420, w, h) != HFX_OK ||
            hfx_image_convert(&src, &r->refs[k]) != HFX_OK) {
            hfx_image_release(&src);
            return -1;
        }
    }
    hfx_image_release(&src);
    return 0;
}

static void on_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct run *r = user;
    double best = 0;
    int which = -1;

    r->pictures++;
    /* The stream's size is the scanout's (it changes with the guest's
     * mode): the references follow it. */
    if ((img->width != r->width || img->height != r->height) &&
        make_refs(r, img->width, img->height) != 0) {
        fprintf(stderr, "scanout-subscriber: no memory for %ux%u references\n", img->width,
                img->height);
        exit(1);
    }
    for (int k = 0; k < SCANOUT_IMAGES; k++) {
        struct hfx_psnr p;
        if (hfx_image_psnr(img, &r->refs[k], &p) == HFX_OK && p.all > best) {
            best = p.all;
            which = k;
        }
    }
    if (which < 0 || best < r->min_psnr) {
        if (r->last >= 0)
            r->unmatched_after_first++;
        return;
    }
    if (which < r->last) {
        r->out_of_order++;
        fprintf(stderr, "scanout-subscriber: picture %d after picture %d\n", which, r->last);
    }
    if (r->best[which] == 0)
        r->first_seen_us[which] = pts;
    if (best > r->best[which])
        r->best[which] = best;
    r->last = which;
}

static bool all_found(const struct run *r)
{
    for (int k = 0; k < SCANOUT_IMAGES; k++)
        if (r->best[k] == 0)
            return false;
    return true;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: scanout-subscriber --address unix:PATH [--fps N] [--ready FILE]\n"
               "                          [--timeout S] [--min-psnr DB] [--output OUT.h264]\n"
               "       scanout-subscriber --input IN.h264 [--min-psnr DB]\n");
}

static void report(const struct run *r)
{
    for (int k = 0; k < SCANOUT_IMAGES; k++)
        printf("scanout-subscriber: picture %d: %s, best PSNR %.2f dB\n", k,
               r->best[k] > 0 ? "found" : "NOT FOUND", r->best[k]);
}

/* --input: the pictures in an H.264 byte stream. */
static int check_file(struct run *r, const char *path)
{
    struct hfx_h264_decoder *dec = NULL;
    uint8_t buf[65536];
    size_t n;
    FILE *f = fopen(path, "rb");
    int rc = 1;

    if (!f) {
        fprintf(stderr, "scanout-subscriber: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (hfx_h264_decoder_new(on_picture, r, &dec) != HFX_OK)
        goto out;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (hfx_h264_decoder_feed(dec, buf, n) != HFX_OK) {
            fprintf(stderr, "scanout-subscriber: %s does not decode\n", path);
            goto out;
        }
    }
    if (ferror(f) || hfx_h264_decoder_flush(dec) != HFX_OK) {
        fprintf(stderr, "scanout-subscriber: reading or decoding %s failed\n", path);
        goto out;
    }
    printf("scanout-subscriber: %s: %llu pictures, %llu unmatched after the first, %llu out of "
           "order\n",
           path, (unsigned long long)r->pictures, (unsigned long long)r->unmatched_after_first,
           (unsigned long long)r->out_of_order);
    report(r);
    rc = all_found(r) && r->out_of_order == 0 ? 0 : 1;
out:
    hfx_h264_decoder_free(&dec);
    fclose(f);
    free_refs(r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'}, {"fps", required_argument, NULL, 'f'},
        {"ready", required_argument, NULL, 'r'},   {"timeout", required_argument, NULL, 't'},
        {"min-psnr", required_argument, NULL, 'p'}, {"output", required_argument, NULL, 'o'},
        {"input", required_argument, NULL, 'i'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *address = NULL, *ready = NULL, *output = NULL, *input = NULL;
    struct hfx_subscribe sub = {.scanout = 0, .max_fps = 30};
    struct run r = {.min_psnr = 35.0, .last = -1};
    struct hfx_client *client = NULL;
    struct hfx_h264_decoder *dec = NULL;
    char err[HFX_MAX_TEXT + 1] = "";
    uint64_t packets = 0, keyframes = 0, configured = 0, dropped = 0;
    unsigned timeout_s = 120;
    int64_t deadline;
    FILE *out = NULL;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "a:f:r:t:p:o:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': address = optarg; break;
        case 'f': sub.max_fps = (uint16_t)atoi(optarg); break;
        case 'r': ready = optarg; break;
        case 't': timeout_s = (unsigned)atoi(optarg); break;
        case 'p': r.min_psnr = atof(optarg); break;
        case 'o': output = optarg; break;
        case 'i': input = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!address == !input) {
        usage(stderr);
        return 2;
    }
    if (input)
        return check_file(&r, input);
    deadline = hfx_clock_ms() + (int64_t)timeout_s * 1000;
    /* QEMU creates the socket as it starts. */
    while (hfx_client_connect(address, NULL, &client, err, sizeof(err)) != HFX_OK) {
        if (hfx_clock_ms() > deadline) {
            fprintf(stderr, "scanout-subscriber: cannot connect to %s: %s\n", address, err);
            return 1;
        }
        hfx_sleep_ms(200);
    }
    if (hfx_client_subscribe(client, 1, &sub) != HFX_OK) {
        fprintf(stderr, "scanout-subscriber: the host at %s serves no scanout\n", address);
        goto out;
    }
    if (ready) {
        int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "scanout-subscriber: %s: %s\n", ready, strerror(errno));
            goto out;
        }
        close(fd);
    }
    if (output && !(out = fopen(output, "wb"))) {
        fprintf(stderr, "scanout-subscriber: %s: %s\n", output, strerror(errno));
        goto out;
    }
    if (hfx_h264_decoder_new(on_picture, &r, &dec) != HFX_OK)
        goto out;
    while (!all_found(&r)) {
        struct hfx_event ev;
        int64_t left = deadline - hfx_clock_ms();
        enum hfx_status st;

        if (left <= 0) {
            fprintf(stderr, "scanout-subscriber: timed out\n");
            break;
        }
        st = hfx_client_next_event(client, (int)left, &ev);
        if (st == HFX_E_TIMEOUT)
            continue;
        if (st != HFX_OK) {
            fprintf(stderr, "scanout-subscriber: %s\n", hfx_strerror(st));
            break;
        }
        if (ev.type == HFX_EVENT_CONFIGURED) {
            configured++;
            printf("scanout-subscriber: CONFIGURED %ux%u, %s\n", ev.u.configured.width,
                   ev.u.configured.height, ev.u.configured.encoder);
        } else if (ev.type == HFX_EVENT_PACKET) {
            packets++;
            keyframes += ev.keyframe;
            if (out && fwrite(ev.u.packet.data, 1, ev.u.packet.data_len, out) !=
                           ev.u.packet.data_len) {
                fprintf(stderr, "scanout-subscriber: writing %s failed\n", output);
                break;
            }
            if (hfx_h264_decoder_decode_au(dec, ev.u.packet.data, ev.u.packet.data_len,
                                           ev.u.packet.pts) != HFX_OK) {
                fprintf(stderr, "scanout-subscriber: packet %llu does not decode\n",
                        (unsigned long long)ev.u.packet.frame_id);
                break;
            }
        } else if (ev.type == HFX_EVENT_DROPPED) {
            dropped++;
        } else if (ev.type == HFX_EVENT_ERROR) {
            fprintf(stderr, "scanout-subscriber: host error: %s\n", ev.u.error.text);
            break;
        }
    }
    printf("scanout-subscriber: %llu CONFIGURED, %llu packets (%llu keyframes), %llu dropped, "
           "%llu pictures, %llu unmatched after the first, %llu out of order\n",
           (unsigned long long)configured, (unsigned long long)packets,
           (unsigned long long)keyframes, (unsigned long long)dropped,
           (unsigned long long)r.pictures, (unsigned long long)r.unmatched_after_first,
           (unsigned long long)r.out_of_order);
    report(&r);
    rc = all_found(&r) && r.out_of_order == 0 ? 0 : 1;
out:
    if (out && fclose(out) != 0)
        rc = 1;
    hfx_h264_decoder_free(&dec);
    free_refs(&r);
    hfx_client_free(&client);
    return rc;
}
