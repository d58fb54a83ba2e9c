/* SPDX-License-Identifier: MIT */
#include "h264-decode.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "hfx/h264.h"

/* Bytes handed to the parser at a time. */
#define CHUNK 65536

struct hfx_h264_decoder {
    AVCodecContext *ctx;
    AVCodecParserContext *parser;
    AVPacket *pkt;
    AVFrame *frame;
    hfx_decoded_fn fn;
    void *user;
    uint64_t frames;
    uint8_t chunk[CHUNK + AV_INPUT_BUFFER_PADDING_SIZE];
};

enum hfx_status hfx_h264_decoder_new(hfx_decoded_fn fn, void *user,
                                     struct hfx_h264_decoder **out)
{
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    struct hfx_h264_decoder *d;

    *out = NULL;
    if (!codec)
        return HFX_E_UNSUPPORTED;
    d = calloc(1, sizeof(*d));
    if (!d)
        return HFX_E_NOMEM;
    d->fn = fn;
    d->user = user;
    d->ctx = avcodec_alloc_context3(codec);
    d->parser = av_parser_init(AV_CODEC_ID_H264);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->ctx || !d->parser || !d->pkt || !d->frame) {
        hfx_h264_decoder_free(&d);
        return HFX_E_NOMEM;
    }
    /* One thread: no frame-threading delay, output in step with input. */
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    if (avcodec_open2(d->ctx, codec, NULL) < 0) {
        hfx_h264_decoder_free(&d);
        return HFX_E_ENCODER;
    }
    *out = d;
    return HFX_OK;
}

static enum hfx_status deliver(struct hfx_h264_decoder *d, const AVFrame *f)
{
    if (f->format != AV_PIX_FMT_YUV420P && f->format != AV_PIX_FMT_YUVJ420P)
        return HFX_E_UNSUPPORTED;
    if (f->linesize[0] < 0 || f->linesize[1] < 0 || f->linesize[2] < 0)
        return HFX_E_UNSUPPORTED;
    struct hfx_image img = {
        .fourcc = HFX_FORMAT_I420,
        .width = (uint32_t)f->width,
        .height = (uint32_t)f->height,
        .plane = {f->data[0], f->data[1], f->data[2]},
        .stride = {(uint32_t)f->linesize[0], (uint32_t)f->linesize[1],
                   (uint32_t)f->linesize[2]},
    };
    d->frames++;
    if (d->fn)
        d->fn(d->user, &img, f->pts == AV_NOPTS_VALUE ? INT64_MIN : f->pts);
    return HFX_OK;
}

/* Send pkt (NULL: drain) and hand out every picture that is ready. */
static enum hfx_status decode(struct hfx_h264_decoder *d, const AVPacket *pkt)
{
    int ret = avcodec_send_packet(d->ctx, pkt);
    if (ret < 0 && ret != AVERROR_EOF)
        return HFX_E_MALFORMED;
    for (;;) {
        ret = avcodec_receive_frame(d->ctx, d->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return HFX_OK;
        if (ret < 0)
            return HFX_E_MALFORMED;
        enum hfx_status st = deliver(d, d->frame);
        av_frame_unref(d->frame);
        if (st != HFX_OK)
            return st;
    }
}

/* Decode what the parser cut out, if it cut anything. */
static enum hfx_status decode_parsed(struct hfx_h264_decoder *d, uint8_t *au, int au_len)
{
    if (au_len <= 0)
        return HFX_OK;
    d->pkt->data = au;
    d->pkt->size = au_len;
    return decode(d, d->pkt);
}

/* The parser may read a little past the input it is given (FFmpeg's
 * AV_INPUT_BUFFER_PADDING_SIZE rule), so input goes through a padded copy. */
static enum hfx_status parse(struct hfx_h264_decoder *d, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t n = len < CHUNK ? len : CHUNK;
        memcpy(d->chunk, data, n);
        memset(d->chunk + n, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        data += n;
        len -= n;
        const uint8_t *p = d->chunk;
        while (n > 0) {
            uint8_t *au = NULL;
            int au_len = 0;
            int used = av_parser_parse2(d->parser, d->ctx, &au, &au_len, p, (int)n,
                                        AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            if (used < 0 || (used == 0 && au_len == 0))
                return HFX_E_MALFORMED;
            p += used;
            n -= (size_t)used;
            enum hfx_status st = decode_parsed(d, au, au_len);
            if (st != HFX_OK)
                return st;
        }
    }
    return HFX_OK;
}

enum hfx_status hfx_h264_decoder_feed(struct hfx_h264_decoder *d, const uint8_t *data,
                                      size_t len)
{
    if (!d || (!data && len))
        return HFX_E_INVALID;
    return len ? parse(d, data, len) : HFX_OK;
}

enum hfx_status hfx_h264_decoder_decode_au(struct hfx_h264_decoder *d, const uint8_t *data,
                                           size_t len, int64_t pts)
{
    if (!d || !data || len == 0 || len > INT32_MAX)
        return HFX_E_INVALID;
    /* The decoder only reads the packet; it is not refcounted, so
     * libavcodec copies it. */
    d->pkt->data = (uint8_t *)data;
    d->pkt->size = (int)len;
    d->pkt->pts = pts;
    enum hfx_status st = decode(d, d->pkt);
    d->pkt->pts = AV_NOPTS_VALUE;
    return st;
}

enum hfx_status hfx_h264_decoder_flush(struct hfx_h264_decoder *d)
{
    uint8_t *au = NULL;
    int au_len = 0;

    if (!d)
        return HFX_E_INVALID;
    /* An empty input makes the parser return what it holds. */
    av_parser_parse2(d->parser, d->ctx, &au, &au_len, NULL, 0, AV_NOPTS_VALUE, AV_NOPTS_VALUE,
                     0);
    enum hfx_status st = decode_parsed(d, au, au_len);
    return st != HFX_OK ? st : decode(d, NULL);
}

uint64_t hfx_h264_decoder_frames(const struct hfx_h264_decoder *d)
{
    return d ? d->frames : 0;
}

void hfx_h264_decoder_free(struct hfx_h264_decoder **dp)
{
    struct hfx_h264_decoder *d = dp ? *dp : NULL;

    if (!d)
        return;
    av_parser_close(d->parser);
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    free(d);
    *dp = NULL;
}

static double plane_sse(const uint8_t *a, uint32_t sa, const uint8_t *b, uint32_t sb,
                        uint32_t w, uint32_t h)
{
    uint64_t sse = 0;
    for (uint32_t y = 0; y < h; y++) {
        const uint8_t *ra = a + (size_t)y * sa, *rb = b + (size_t)y * sb;
        for (uint32_t x = 0; x < w; x++) {
            int diff = ra[x] - rb[x];
            sse += (uint64_t)(diff * diff);
        }
    }
    return (double)sse;
}

static double to_db(double sse, double samples)
{
    double mse = sse / samples;
    if (mse <= 0)
        return HFX_PSNR_MAX;
    double db = 10.0 * log10(255.0 * 255.0 / mse);
    return db > HFX_PSNR_MAX ? HFX_PSNR_MAX : db;
}

enum hfx_status hfx_image_psnr(const struct hfx_image *a, const struct hfx_image *b,
                               struct hfx_psnr *out)
{
    if (a->fourcc != HFX_FORMAT_I420 || b->fourcc != HFX_FORMAT_I420)
        return HFX_E_BAD_FORMAT;
    if (a->width != b->width || a->height != b->height || a->width < 2 || a->height < 2)
        return HFX_E_BAD_DIMENSIONS;
    double sse[3], n[3];
    for (unsigned p = 0; p < 3; p++) {
        uint32_t w = p ? a->width / 2 : a->width, h = p ? a->height / 2 : a->height;
        sse[p] = plane_sse(a->plane[p], a->stride[p], b->plane[p], b->stride[p], w, h);
        n[p] = (double)w * h;
    }
    out->y = to_db(sse[0], n[0]);
    out->u = to_db(sse[1], n[1]);
    out->v = to_db(sse[2], n[2]);
    out->all = to_db(sse[0] + sse[1] + sse[2], n[0] + n[1] + n[2]);
    return HFX_OK;
}
