/* SPDX-License-Identifier: MIT */
/*
 * YUV4MPEG2 (.y4m) reader and writer for the hfx tools: raw 4:2:0 8-bit
 * frames in, raw frames out. Only progressive 4:2:0 8-bit is supported,
 * which is the one layout the encoder path takes (I420).
 *
 * Format (as written by mjpegtools and FFmpeg):
 *   stream header: "YUV4MPEG2" then space-separated tags, then '\n'
 *     W<width> H<height> F<num>:<den> I<p|t|b|m|?> A<num>:<den> C<colorspace> X<anything>
 *   per frame: "FRAME" [ ' ' parameters ] '\n', then the Y, U and V planes,
 *     tightly packed: w*h + 2 * (w/2)*(h/2) bytes.
 */
#ifndef HFX_TOOLS_Y4M_H
#define HFX_TOOLS_Y4M_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest stream header or FRAME line, counting its terminating '\n'. */
#define HFX_Y4M_LINE_MAX 1024
/* Largest accepted width and height; the largest frame is then 384 MiB. */
#define HFX_Y4M_DIM_MAX 16384
/* Frame rate used when the header carries no F tag (FFmpeg does the same). */
#define HFX_Y4M_DEFAULT_FPS_NUM 25
#define HFX_Y4M_DEFAULT_FPS_DEN 1

/* The decoded stream header. */
struct hfx_y4m_info {
    uint32_t width;   /* 2..HFX_Y4M_DIM_MAX, even */
    uint32_t height;  /* 2..HFX_Y4M_DIM_MAX, even */
    uint32_t fps_num; /* > 0 */
    uint32_t fps_den; /* > 0 */
};

struct hfx_y4m_reader;

/*
 * Parse one stream header line from memory. line holds len bytes without
 * the trailing '\n' and is borrowed for the call; it need not be
 * NUL-terminated. On HFX_OK *out is filled; on error it is untouched.
 *   HFX_E_BAD_MAGIC       not "YUV4MPEG2" followed by a space or the end
 *   HFX_E_MALFORMED       bad number, unknown or repeated tag, W or H absent,
 *                         F with a zero term, len >= HFX_Y4M_LINE_MAX
 *   HFX_E_UNSUPPORTED     interlaced (It, Ib, Im) or not 4:2:0 8-bit
 *   HFX_E_BAD_DIMENSIONS  W or H zero, odd or over HFX_Y4M_DIM_MAX
 */
HFX_MUST_CHECK enum hfx_status hfx_y4m_parse_header(const char *line, size_t len,
                                                    struct hfx_y4m_info *out);

/*
 * Read and parse the stream header from f. f is borrowed until
 * hfx_y4m_close() and is never closed by the reader. On HFX_OK *out is a
 * new reader; on error *out is NULL and f has been read past the bytes
 * examined. Errors as for hfx_y4m_parse_header(), plus:
 *   HFX_E_TRUNCATED  end of file before the header's '\n'
 *   HFX_E_MALFORMED  no '\n' within HFX_Y4M_LINE_MAX bytes
 *   HFX_E_IO         read error
 *   HFX_E_NOMEM      allocation failed
 */
HFX_MUST_CHECK enum hfx_status hfx_y4m_open(FILE *f, struct hfx_y4m_reader **out);

uint32_t hfx_y4m_width(const struct hfx_y4m_reader *r);
uint32_t hfx_y4m_height(const struct hfx_y4m_reader *r);
uint32_t hfx_y4m_fps_num(const struct hfx_y4m_reader *r);
uint32_t hfx_y4m_fps_den(const struct hfx_y4m_reader *r);
/* Bytes of one I420 frame: w*h*3/2. */
size_t hfx_y4m_frame_size(const struct hfx_y4m_reader *r);

/*
 * Read the next frame's I420 planes into buf (cap bytes, borrowed for the
 * call):
 *   HFX_OK           exactly hfx_y4m_frame_size() bytes written to buf
 *   HFX_E_CLOSED     clean end of file: no byte follows the last frame
 *   HFX_E_TOO_LARGE  cap < hfx_y4m_frame_size(); nothing is read, so the
 *                    call may be repeated with a larger buffer
 *   HFX_E_TRUNCATED  end of file inside the FRAME line or the planes
 *                    (buf then holds a partial frame)
 *   HFX_E_MALFORMED  the line is not "FRAME" or "FRAME <params>", or is
 *                    longer than HFX_Y4M_LINE_MAX
 *   HFX_E_IO         read error
 * Every result but HFX_OK and HFX_E_TOO_LARGE is sticky: later calls return
 * it again without reading.
 */
HFX_MUST_CHECK enum hfx_status hfx_y4m_read_frame(struct hfx_y4m_reader *r, uint8_t *buf,
                                                  size_t cap);

/* Free the reader (not its FILE) and set *r to NULL; NULL and *r == NULL
 * are accepted. */
void hfx_y4m_close(struct hfx_y4m_reader **r);

/*
 * Write a stream header for progressive 4:2:0 8-bit ("Ip A1:1 C420jpeg") to
 * f (borrowed for the call). HFX_E_BAD_DIMENSIONS for sizes the reader would
 * reject, HFX_E_INVALID for a zero fps term, HFX_E_IO if the write fails.
 * Output is buffered by stdio: check fflush()/fclose() too.
 */
HFX_MUST_CHECK enum hfx_status hfx_y4m_write_header(FILE *f, uint32_t w, uint32_t h,
                                                    uint32_t fps_num, uint32_t fps_den);

/*
 * Write one "FRAME\n" and w*h*3/2 bytes of I420 from i420 (borrowed for the
 * call). Same errors as hfx_y4m_write_header(); HFX_E_INVALID if i420 is
 * NULL.
 */
HFX_MUST_CHECK enum hfx_status hfx_y4m_write_frame(FILE *f, const uint8_t *i420, uint32_t w,
                                                   uint32_t h);

#ifdef __cplusplus
}
#endif

#endif /* HFX_TOOLS_Y4M_H */
