/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the YUV4MPEG2 reader (tools/y4m.c): the input is a
 * whole .y4m file. It goes through the FILE path that the tools use, and
 * its first line also through the memory entry point.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "y4m.h"

/* Frames are read into a buffer of at most this size; a header asking for
 * more takes the HFX_E_TOO_LARGE path instead of a 384 MiB allocation. */
#define FUZZ_FRAME_MAX (1u << 20)
/* Enough to read every frame of the largest input libFuzzer passes by
 * default (4096 bytes) with a 2x2 header. */
#define FUZZ_FRAMES_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_parse_header(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t len = nl ? (size_t)(nl - data) : size;
    struct hfx_y4m_info info;

    if (hfx_y4m_parse_header((const char *)data, len, &info) == HFX_OK) {
        if (info.width == 0 || info.width % 2 || info.width > HFX_Y4M_DIM_MAX ||
            info.height == 0 || info.height % 2 || info.height > HFX_Y4M_DIM_MAX ||
            info.fps_num == 0 || info.fps_den == 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hfx_y4m_reader *r = NULL;
    uint8_t *buf;
    FILE *f;

    /* fmemopen refuses a zero size on some C libraries. */
    if (size == 0)
        return 0;
    fuzz_parse_header(data, size);

    f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    if (hfx_y4m_open(f, &r) != HFX_OK) {
        if (r != NULL)
            abort();
        fclose(f);
        return 0;
    }

    size_t frame = hfx_y4m_frame_size(r);
    if (frame != (size_t)hfx_y4m_width(r) * hfx_y4m_height(r) * 3 / 2)
        abort();
    size_t cap = frame < FUZZ_FRAME_MAX ? frame : FUZZ_FRAME_MAX;
    buf = malloc(cap);
    if (buf) {
        enum hfx_status st = HFX_OK;
        for (int i = 0; i < FUZZ_FRAMES_MAX && st == HFX_OK; i++)
            st = hfx_y4m_read_frame(r, buf, cap);
        if (st == HFX_E_TOO_LARGE && cap >= frame)
            abort();
        free(buf);
    }
    hfx_y4m_close(&r);
    fclose(f);
    return 0;
}
