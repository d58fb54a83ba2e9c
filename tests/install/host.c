/* SPDX-License-Identifier: MIT */
/*
 * An embedder of the installed libhfx-host, compiled by
 * tests/install/check-install with nothing but
 * `pkg-config --cflags --libs hfx-host`: it opens libx264 through
 * hfx_encoder_open, encodes one grey frame and checks that an IDR with its
 * parameter sets comes out (hfx_h264_* from libhfx, which hfx-host.pc
 * requires), then makes and frees a server. Exit 0 when all of it worked.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <hfx/encoder.h>
#include <hfx/h264.h>
#include <hfx/server.h>

int main(void)
{
    static uint8_t pic[64 * 64 * 3 / 2];
    struct hfx_configure cfg = {0};
    struct hfx_encoder *e = NULL;
    struct hfx_server_options so = {0};
    struct hfx_server *srv = NULL;
    struct hfx_picture in = {0};
    struct hfx_encoded out;
    bool idr = false;
    enum hfx_status st;

    cfg.codec = HFX_CODEC_H264;
    cfg.width = 64;
    cfg.height = 64;
    cfg.fourcc = HFX_FORMAT_I420;
    cfg.fps_num = 30;
    cfg.fps_den = 1;
    cfg.bitrate_kbps = 500;
    st = hfx_encoder_open(&cfg, "libx264", NULL, NULL, &e);
    if (st != HFX_OK) {
        fprintf(stderr, "host: hfx_encoder_open: %s\n", hfx_strerror(st));
        return 1;
    }
    memset(pic, 128, sizeof(pic));
    in.plane[0] = pic;
    in.plane[1] = pic + 64 * 64;
    in.plane[2] = pic + 64 * 64 * 5 / 4;
    in.stride[0] = 64;
    in.stride[1] = in.stride[2] = 32;
    st = hfx_encoder_send(e, &in, 0, true);
    if (st == HFX_OK)
        st = hfx_encoder_flush(e);
    while (st == HFX_OK) {
        st = hfx_encoder_receive(e, &out);
        if (st == HFX_OK && hfx_h264_is_idr(out.data, out.len) &&
            hfx_h264_has_parameter_sets(out.data, out.len))
            idr = true;
    }
    printf("host: %s, IDR with SPS and PPS: %s\n", hfx_encoder_name(e), idr ? "yes" : "no");
    hfx_encoder_free(&e);
    if (st != HFX_E_CLOSED || !idr) {
        fprintf(stderr, "host: encoding ended with %s\n", hfx_strerror(st));
        return 1;
    }

    st = hfx_server_new(&so, &srv);
    if (st != HFX_OK) {
        fprintf(stderr, "host: hfx_server_new: %s\n", hfx_strerror(st));
        return 1;
    }
    hfx_server_free(&srv);
    return 0;
}
