/* SPDX-License-Identifier: MIT */
/*
 * A client of the installed libhfx, compiled by tests/install/check-install
 * with nothing but `pkg-config --cflags --libs hfx` (docs/architecture.md,
 * "Libraries"): it must build from the installed headers alone.
 *
 *   client ADDRESS FRAMES OUT.h264 OUT.y4m
 *
 * Sends FRAMES frames of a moving 320x240 I420 picture to the host at
 * ADDRESS, writes every PACKET to OUT.h264 and the pictures it sent to
 * OUT.y4m, so that hfx-verify can compare the two. Exit 0 when every frame
 * was answered by a PACKET.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <hfx/client.h>
#include <hfx/h264.h>

#define W 320
#define H 240

static void draw(uint8_t *pic, unsigned n)
{
    uint8_t *y = pic, *u = pic + W * H, *v = u + W * H / 4;

    for (unsigned r = 0; r < H; r++)
        for (unsigned c = 0; c < W; c++)
            y[r * W + c] = (uint8_t)(16 + ((c + 4 * n) ^ r) % 220);
    for (unsigned r = 0; r < H / 2; r++)
        for (unsigned c = 0; c < W / 2; c++) {
            u[r * W / 2 + c] = (uint8_t)(64 + (c + n) % 128);
            v[r * W / 2 + c] = (uint8_t)(64 + (r + 2 * n) % 128);
        }
}

static int fail(const char *what, enum hfx_status st)
{
    fprintf(stderr, "client: %s: %s\n", what, hfx_strerror(st));
    return 1;
}

int main(int argc, char **argv)
{
    static uint8_t pic[W * H * 3 / 2];
    struct hfx_client_options opts = {0};
    struct hfx_configure cfg = {0};
    struct hfx_client *c = NULL;
    struct hfx_event ev;
    char err[256] = "";
    unsigned frames, sent = 0, packets = 0, idr = 0;
    enum hfx_status st;
    FILE *h264, *y4m;

    if (argc != 5) {
        fprintf(stderr, "usage: client ADDRESS FRAMES OUT.h264 OUT.y4m\n");
        return 2;
    }
    frames = (unsigned)strtoul(argv[2], NULL, 10);
    h264 = fopen(argv[3], "wb");
    y4m = fopen(argv[4], "wb");
    if (!h264 || !y4m) {
        perror("client: output");
        return 1;
    }
    fprintf(y4m, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n", W, H);

    st = hfx_client_connect(argv[1], &opts, &c, err, sizeof(err));
    if (st != HFX_OK) {
        fprintf(stderr, "client: connect %s: %s (%s)\n", argv[1], hfx_strerror(st), err);
        return 1;
    }
    cfg.codec = HFX_CODEC_H264;
    cfg.width = W;
    cfg.height = H;
    cfg.fourcc = HFX_FORMAT_I420;
    cfg.fps_num = 30;
    cfg.fps_den = 1;
    cfg.bitrate_kbps = 2000;
    cfg.rate_control = HFX_RC_CQP;
    cfg.quality = 20;
    cfg.latency = HFX_LATENCY_LOWEST;
    st = hfx_client_configure(c, 1, &cfg);
    if (st != HFX_OK)
        return fail("configure", st);

    /* Send when the window has room, collect whatever arrives. */
    while (packets < frames) {
        if (sent < frames && hfx_client_in_flight(c, 1) < 2) {
            struct hfx_frame f = {0};
            struct iovec iov = {pic, sizeof(pic)};

            draw(pic, sent);
            f.frame_id = sent;
            f.pts = sent;
            f.duration = 1;
            f.source = HFX_SOURCE_INLINE;
            f.plane_count = 3;
            f.planes[0] = (struct hfx_plane){0, W};
            f.planes[1] = (struct hfx_plane){W * H, W / 2};
            f.planes[2] = (struct hfx_plane){W * H * 5 / 4, W / 2};
            st = hfx_client_submit(c, 1, &f, &iov, 1, false, 5000);
            if (st != HFX_OK)
                return fail("submit", st);
            fprintf(y4m, "FRAME\n");
            fwrite(pic, 1, sizeof(pic), y4m);
            sent++;
            continue;
        }
        st = hfx_client_next_event(c, 10000, &ev);
        if (st != HFX_OK)
            return fail("next_event", st);
        if (ev.type == HFX_EVENT_PACKET) {
            fwrite(ev.u.packet.data, 1, ev.u.packet.data_len, h264);
            idr += hfx_h264_is_idr(ev.u.packet.data, ev.u.packet.data_len);
            packets++;
        } else if (ev.type == HFX_EVENT_DROPPED || ev.type == HFX_EVENT_ERROR) {
            fprintf(stderr, "client: event %d on stream %u\n", (int)ev.type, ev.stream);
            return 1;
        }
    }
    hfx_client_free(&c);
    fclose(h264);
    fclose(y4m);
    printf("client: %u frames sent, %u packets, %u IDR\n", sent, packets, idr);
    return idr > 0 ? 0 : 1;
}
