/* SPDX-License-Identifier: MIT */
/*
 * hfx-verify: decode an H.264 Annex-B file with libavcodec and compare it
 * with its source (the hfx test pattern or a Y4M file). Prints frame count
 * and PSNR; exits 1 when --expect-frames or --min-psnr is not met.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h264-decode.h"
#include "hfx/h264.h"
#include "pattern.h"
#include "y4m.h"

struct verify {
    uint32_t width, height, fourcc;
    bool pattern;
    struct hfx_y4m_reader *ref;
    uint8_t *ref_buf;
    struct hfx_image src, src_i420;
    uint64_t index;
    double sum, min;
    uint64_t min_at;
    bool failed;
    const char *why;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: hfx-verify FILE.h264 [--test-pattern [--size WxH] [--format FMT] |\n"
            "                  --reference FILE.y4m] [--expect-frames N] [--min-psnr DB]\n"
            "\n"
            "Decode FILE.h264 and compare each picture with its source.\n"
            "\n"
            "  -t, --test-pattern     the source was hfx's test pattern (as hfx-encode draws it)\n"
            "  -s, --size WxH         its size (default 1280x720)\n"
            "  -f, --format FMT       the format it was sent in (default NV12)\n"
            "  -r, --reference FILE   the source was this Y4M file\n"
            "  -n, --expect-frames N  fail unless exactly N pictures decode\n"
            "  -p, --min-psnr DB      fail if any picture's PSNR is below DB\n"
            "  -h, --help             this text\n");
}

static void on_picture(void *user, const struct hfx_image *img, int64_t pts)
{
    struct verify *v = user;
    struct hfx_psnr p;
    const struct hfx_image *ref = &v->src_i420;

    if (v->failed)
        return;
    if ((v->pattern || v->ref) && (img->width != v->width || img->height != v->height)) {
        v->failed = true;
        v->why = "decoded size differs from the source";
        return;
    }
    if (v->pattern) {
        hfx_pattern_fill(&v->src, v->index);
        if (v->fourcc == HFX_FORMAT_I420)
            ref = &v->src;
        else if (hfx_image_convert(&v->src, &v->src_i420) != HFX_OK)
            v->failed = true;
    } else if (v->ref) {
        if (hfx_y4m_read_frame(v->ref, v->ref_buf, hfx_y4m_frame_size(v->ref)) != HFX_OK) {
            v->failed = true;
            v->why = "more pictures decoded than the reference has";
            return;
        }
        memcpy(v->src_i420.base, v->ref_buf, v->src_i420.size);
    }
    if ((v->pattern || v->ref) && !v->failed) {
        if (hfx_image_psnr(ref, img, &p) != HFX_OK) {
            v->failed = true;
        } else {
            v->sum += p.all;
            if (v->index == 0 || p.all < v->min) {
                v->min = p.all;
                v->min_at = v->index;
            }
        }
    }
    v->index++;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"test-pattern", no_argument, NULL, 't'},
        {"size", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"reference", required_argument, NULL, 'r'},
        {"expect-frames", required_argument, NULL, 'n'},
        {"min-psnr", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct verify v = {.width = 1280, .height = 720, .fourcc = HFX_FORMAT_NV12};
    const char *reference = NULL;
    long long expect = -1;
    double min_psnr = -1;
    FILE *ref_file = NULL;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "ts:f:r:n:p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            v.pattern = true;
            break;
        case 's':
            if (sscanf(optarg, "%ux%u", &v.width, &v.height) != 2) {
                fprintf(stderr, "hfx-verify: --size: '%s' is not WxH\n", optarg);
                return 2;
            }
            break;
        case 'f':
            v.fourcc = hfx_format_from_name(optarg);
            if (!v.fourcc) {
                fprintf(stderr, "hfx-verify: --format: unknown format '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            reference = optarg;
            break;
        case 'n':
            expect = atoll(optarg);
            break;
        case 'p':
            min_psnr = atof(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || (v.pattern && reference)) {
        usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "hfx-verify: %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (reference) {
        ref_file = fopen(reference, "rb");
        if (!ref_file || hfx_y4m_open(ref_file, &v.ref) != HFX_OK) {
            fprintf(stderr, "hfx-verify: %s: not a readable Y4M file\n", reference);
            return 2;
        }
        v.width = hfx_y4m_width(v.ref);
        v.height = hfx_y4m_height(v.ref);
        v.ref_buf = malloc(hfx_y4m_frame_size(v.ref));
        if (!v.ref_buf)
            return 2;
    }
    if ((v.pattern && hfx_image_alloc(&v.src, v.fourcc, v.width, v.height) != HFX_OK) ||
        hfx_image_alloc(&v.src_i420, HFX_FORMAT_I420, v.width, v.height) != HFX_OK) {
        fprintf(stderr, "hfx-verify: bad size or format\n");
        return 2;
    }

    struct hfx_h264_decoder *dec = NULL;
    enum hfx_status st = hfx_h264_decoder_new(on_picture, &v, &dec);
    uint8_t chunk[65536];
    size_t n;
    while (st == HFX_OK && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        st = hfx_h264_decoder_feed(dec, chunk, n);
    if (st == HFX_OK)
        st = hfx_h264_decoder_flush(dec);
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-verify: %s: decoding failed: %s\n", path, hfx_strerror(st));
        rc = 1;
    }
    uint64_t frames = dec ? hfx_h264_decoder_frames(dec) : 0;
    hfx_h264_decoder_free(&dec);
    fclose(in);

    if (v.pattern || v.ref) {
        printf("hfx-verify: %s: %llu frames, PSNR mean %.2f dB, min %.2f dB (frame %llu)\n",
               path, (unsigned long long)frames, frames ? v.sum / (double)frames : 0.0, v.min,
               (unsigned long long)v.min_at);
    } else {
        printf("hfx-verify: %s: %llu frames\n", path, (unsigned long long)frames);
    }
    if (v.failed) {
        fprintf(stderr, "hfx-verify: %s\n", v.why ? v.why : "comparison failed");
        rc = 1;
    }
    if (expect >= 0 && (long long)frames != expect) {
        fprintf(stderr, "hfx-verify: expected %lld frames, decoded %llu\n", expect,
                (unsigned long long)frames);
        rc = 1;
    }
    if (min_psnr >= 0 && (v.pattern || v.ref) && (frames == 0 || v.min < min_psnr)) {
        fprintf(stderr, "hfx-verify: PSNR %.2f dB below %.2f dB\n", v.min, min_psnr);
        rc = 1;
    }
    hfx_image_release(&v.src);
    hfx_image_release(&v.src_i420);
    if (v.ref)
        hfx_y4m_close(&v.ref);
    if (ref_file)
        fclose(ref_file);
    free(v.ref_buf);
    return rc;
}
