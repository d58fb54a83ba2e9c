/* SPDX-License-Identifier: MIT */
/*
 * Three H.264 streams of the same pictures for tests/browser/sps-rewrite.py
 * and bench/run-sps-delay, each
 * an Annex-B file of N access units with an access unit delimiter in
 * front of each (so that a page can split them):
 *
 *   DIR/x264.h264      libx264 through libhfx-host, as hfxd sends it
 *   DIR/restored.h264  libx264 whose SPS lost its VUI (fault-no-vui, the
 *                      SPS VideoToolbox writes), through libhfx-host's SPS
 *                      rewrite: what hfxd sends for such an encoder
 *   DIR/bare.h264      restored.h264 with the VUI taken out again: what
 *                      such an encoder sends without the rewrite
 *
 *   sps-streams DIR [WIDTH HEIGHT FRAMES]     (default 1280 720 90)
 *
 * Built with libhfx-host-fault (for fault-no-vui): a test tool, never
 * installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfx/encoder.h"
#include "pattern.h"
#include "util/h264-sps.h"

static const uint8_t aud[] = {0, 0, 0, 1, 0x09, 0xf0};

static bool no_vui(struct hfx_sps *sps)
{
    if (!sps->vui_parameters_present_flag)
        return false;
    sps->vui_parameters_present_flag = 0;
    return true;
}

static int write_au(FILE *f, const uint8_t *data, size_t len)
{
    return fwrite(aud, 1, sizeof(aud), f) == sizeof(aud) && fwrite(data, 1, len, f) == len ? 0
                                                                                           : -1;
}

static int encode(const char *dir, const char *encoder, const char *name, const char *bare_name,
                  uint32_t w, uint32_t h, int frames)
{
    struct hfx_configure cfg = {.codec = HFX_CODEC_H264, .width = w, .height = h,
                                .fourcc = HFX_FORMAT_NV12, .fps_num = 30, .fps_den = 1,
                                .bitrate_kbps = 4000, .keyint_frames = 0};
    struct hfx_encoder *e = NULL;
    struct hfx_image img;
    char path[512];
    FILE *out, *bare = NULL;
    int rc = 0;

    if (hfx_image_alloc(&img, HFX_FORMAT_NV12, w, h) != HFX_OK ||
        hfx_encoder_open(&cfg, encoder, NULL, NULL, &e) != HFX_OK) {
        fprintf(stderr, "sps-streams: cannot open %s at %ux%u\n", encoder, w, h);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    out = fopen(path, "wb");
    if (bare_name) {
        snprintf(path, sizeof(path), "%s/%s", dir, bare_name);
        bare = fopen(path, "wb");
    }
    if (!out || (bare_name && !bare)) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < frames && rc == 0; i++) {
        struct hfx_picture pic = {{img.plane[0], img.plane[1]}, {img.stride[0], img.stride[1]}};
        struct hfx_encoded pkt;
        enum hfx_status st;

        hfx_pattern_fill(&img, (uint64_t)i);
        if (hfx_encoder_send(e, &pic, i, false) != HFX_OK) {
            rc = 1;
            break;
        }
        while ((st = hfx_encoder_receive(e, &pkt)) == HFX_OK) {
            rc |= write_au(out, pkt.data, pkt.len);
            if (bare) {
                static uint8_t stripped[1 << 22];
                size_t n = 0;
                unsigned changed = 0;

                if (pkt.len + 1024 > sizeof(stripped) ||
                    hfx_h264_au_edit_sps(pkt.data, pkt.len, no_vui, stripped, sizeof(stripped),
                                         &n, &changed, NULL) != HFX_OK)
                    rc = 1;
                else
                    rc |= write_au(bare, changed ? stripped : pkt.data, changed ? n : pkt.len);
            }
        }
        if (st != HFX_INCOMPLETE)
            rc = 1;
    }
    if (fclose(out) != 0 || (bare && fclose(bare) != 0))
        rc = 1;
    hfx_encoder_free(&e);
    hfx_image_release(&img);
    if (rc)
        fprintf(stderr, "sps-streams: %s failed\n", encoder);
    return rc;
}

int main(int argc, char **argv)
{
    uint32_t w = 1280, h = 720;
    int frames = 90;

    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: sps-streams DIR [WIDTH HEIGHT FRAMES]\n");
        return 2;
    }
    hfx_encoder_library_logs(true);
    if (argc == 5) {
        w = (uint32_t)strtoul(argv[2], NULL, 10);
        h = (uint32_t)strtoul(argv[3], NULL, 10);
        frames = atoi(argv[4]);
    }
    return encode(argv[1], "libx264", "x264.h264", NULL, w, h, frames) ||
           encode(argv[1], "fault-no-vui@libx264", "restored.h264", "bare.h264", w, h, frames);
}
