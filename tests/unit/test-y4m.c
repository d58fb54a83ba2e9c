/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hfx/status.h"
#include "check.h"
#include "y4m.h"

/* Largest test stream: a few 16x8 frames plus an overlong line. */
#define STREAM_MAX 8192

struct stream {
    char buf[STREAM_MAX];
    size_t len;
};

static void put(struct stream *s, const void *p, size_t n)
{
    CHECK(n <= STREAM_MAX - s->len);
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

static void puts_(struct stream *s, const char *str)
{
    put(s, str, strlen(str));
}

static void put_fill(struct stream *s, char c, size_t n)
{
    CHECK(n <= STREAM_MAX - s->len);
    memset(s->buf + s->len, c, n);
    s->len += n;
}

static FILE *open_mem(const void *p, size_t n)
{
    /* fmemopen wants a non-const buffer; mode "r" never writes to it. */
    FILE *f = fmemopen((void *)p, n, "r");
    CHECK(f != NULL);
    return f;
}

/* Open a reader on s and check the result; the reader is closed again. */
static void expect_open(const struct stream *s, enum hfx_status want)
{
    FILE *f = open_mem(s->buf, s->len);
    struct hfx_y4m_reader *r = (struct hfx_y4m_reader *)1;

    CHECK_STATUS(hfx_y4m_open(f, &r), want);
    if (want == HFX_OK)
        CHECK(r != NULL);
    else
        CHECK(r == NULL);
    hfx_y4m_close(&r);
    CHECK(r == NULL);
    fclose(f);
}

static void expect_header(const char *line, enum hfx_status want)
{
    struct stream s = {.len = 0};

    puts_(&s, line);
    puts_(&s, "\n");
    expect_open(&s, want);
}

/* Header line "YUV4MPEG2 <tags>" through the FILE path and the memory path. */
static void expect_tags(const char *tags, enum hfx_status want)
{
    char line[HFX_Y4M_LINE_MAX];
    struct hfx_y4m_info info;
    int n = snprintf(line, sizeof(line), "YUV4MPEG2 %s", tags);

    CHECK(n > 0 && (size_t)n < sizeof(line));
    expect_header(line, want);
    CHECK_STATUS(hfx_y4m_parse_header(line, (size_t)n, &info), want);
}

/* Distinct bytes per frame and per position, so a shifted or repeated
 * frame does not compare equal. */
static void fill_frame(uint8_t *p, size_t n, unsigned frame)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + frame * 31 + 1);
}

/* header for 2x2 (frame size 6) followed by extra */
static void stream_2x2(struct stream *s)
{
    s->len = 0;
    puts_(s, "YUV4MPEG2 W2 H2 F30:1 Ip C420jpeg\n");
}

static struct hfx_y4m_reader *open_ok(FILE *f)
{
    struct hfx_y4m_reader *r = NULL;

    CHECK_STATUS(hfx_y4m_open(f, &r), HFX_OK);
    CHECK(r != NULL);
    return r;
}

/* Read one frame of a 2x2 stream and check the result. */
static void expect_read(struct hfx_y4m_reader *r, enum hfx_status want)
{
    uint8_t buf[6];

    CHECK_STATUS(hfx_y4m_read_frame(r, buf, sizeof(buf)), want);
}

/* Read one frame of a 2x2 stream and check its six bytes. */
static void expect_frame(struct hfx_y4m_reader *r, const char *want)
{
    uint8_t buf[6];

    CHECK_STATUS(hfx_y4m_read_frame(r, buf, sizeof(buf)), HFX_OK);
    CHECK(memcmp(buf, want, sizeof(buf)) == 0);
}

static void test_round_trip(void)
{
    enum { W = 16, H = 8, FRAMES = 3, SIZE = W * H * 3 / 2 };
    uint8_t in[FRAMES][SIZE], out[SIZE];
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *w = open_memstream(&mem, &mem_len);

    CHECK(w != NULL);
    CHECK_STATUS(hfx_y4m_write_header(w, W, H, 30000, 1001), HFX_OK);
    for (unsigned i = 0; i < FRAMES; i++) {
        fill_frame(in[i], SIZE, i);
        CHECK_STATUS(hfx_y4m_write_frame(w, in[i], W, H), HFX_OK);
    }
    CHECK(fclose(w) == 0);

    FILE *f = open_mem(mem, mem_len);
    struct hfx_y4m_reader *r = open_ok(f);
    CHECK_EQ_INT(hfx_y4m_width(r), W);
    CHECK_EQ_INT(hfx_y4m_height(r), H);
    CHECK_EQ_INT(hfx_y4m_fps_num(r), 30000);
    CHECK_EQ_INT(hfx_y4m_fps_den(r), 1001);
    CHECK_EQ_INT(hfx_y4m_frame_size(r), SIZE);
    for (unsigned i = 0; i < FRAMES; i++) {
        memset(out, 0, sizeof(out));
        CHECK_STATUS(hfx_y4m_read_frame(r, out, sizeof(out)), HFX_OK);
        CHECK(memcmp(out, in[i], SIZE) == 0);
    }
    /* Clean end after the last frame, and it stays that way. */
    CHECK_STATUS(hfx_y4m_read_frame(r, out, sizeof(out)), HFX_E_CLOSED);
    CHECK_STATUS(hfx_y4m_read_frame(r, out, sizeof(out)), HFX_E_CLOSED);
    hfx_y4m_close(&r);
    CHECK(r == NULL);
    fclose(f);
    free(mem);
}

/* Golden bytes: what other y4m readers (FFmpeg, x264) will see. */
static void test_writer_bytes(void)
{
    static const char want[] = "YUV4MPEG2 W2 H4 F25:1 Ip A1:1 C420jpeg\nFRAME\n"
                               "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c";
    static const uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *w = open_memstream(&mem, &mem_len);

    CHECK(w != NULL);
    CHECK_STATUS(hfx_y4m_write_header(w, 2, 4, 25, 1), HFX_OK);
    CHECK_STATUS(hfx_y4m_write_frame(w, px, 2, 4), HFX_OK);
    CHECK(fclose(w) == 0);
    CHECK_EQ_INT(mem_len, sizeof(want) - 1);
    CHECK(memcmp(mem, want, mem_len) == 0);
    free(mem);
}

static void test_header_accepted_forms(void)
{
    static const struct {
        const char *line;
        uint32_t w, h, num, den;
    } cases[] = {
        {"YUV4MPEG2 W2 H2", 2, 2, HFX_Y4M_DEFAULT_FPS_NUM, HFX_Y4M_DEFAULT_FPS_DEN},
        {"YUV4MPEG2 W1920 H1080 F60:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", 1920, 1080, 60, 1},
        {"YUV4MPEG2 C420 W4 H2 F1:1", 4, 2, 1, 1},
        {"YUV4MPEG2 W4 H2 C420paldv", 4, 2, 25, 1},
        {"YUV4MPEG2 W4 H2 C420mpeg2 I? A0:0", 4, 2, 25, 1},
        {"YUV4MPEG2 W4 H2 X X Xfoo=bar", 4, 2, 25, 1},
        {"YUV4MPEG2  W4   H2 ", 4, 2, 25, 1},
        {"YUV4MPEG2 W16384 H16384 F4294967295:4294967295", 16384, 16384, 4294967295u, 4294967295u},
        {"YUV4MPEG2 W0008 H0002", 8, 2, 25, 1},
    };

    for (size_t i = 0; i < CHECK_COUNT(cases); i++) {
        struct stream s = {.len = 0};
        puts_(&s, cases[i].line);
        puts_(&s, "\n");
        FILE *f = open_mem(s.buf, s.len);
        struct hfx_y4m_reader *r = open_ok(f);
        CHECK_EQ_INT(hfx_y4m_width(r), cases[i].w);
        CHECK_EQ_INT(hfx_y4m_height(r), cases[i].h);
        CHECK_EQ_INT(hfx_y4m_fps_num(r), cases[i].num);
        CHECK_EQ_INT(hfx_y4m_fps_den(r), cases[i].den);
        CHECK_EQ_INT(hfx_y4m_frame_size(r), (size_t)cases[i].w * cases[i].h * 3 / 2);
        hfx_y4m_close(&r);
        fclose(f);
    }
}

static void test_missing_magic(void)
{
    static const char binary[] = "\x00\x01\x02\x03YUV4MPEG2 W2 H2\n";
    struct stream s = {.len = 0};

    expect_header("YUV4MPEG W2 H2", HFX_E_BAD_MAGIC);
    expect_header("yuv4mpeg2 W2 H2", HFX_E_BAD_MAGIC);
    expect_header("YUV4MPEG2X W2 H2", HFX_E_BAD_MAGIC);
    expect_header(" YUV4MPEG2 W2 H2", HFX_E_BAD_MAGIC);
    expect_header("", HFX_E_BAD_MAGIC);
    /* Not y4m and no newline: the magic decides, not the missing '\n'. */
    put(&s, "RIFF", 4);
    expect_open(&s, HFX_E_BAD_MAGIC);
    s.len = 0;
    put_fill(&s, 'Z', 3000);
    expect_open(&s, HFX_E_BAD_MAGIC);
    s.len = 0;
    put(&s, binary, sizeof(binary) - 1);
    expect_open(&s, HFX_E_BAD_MAGIC);
}

static void test_bad_dimensions(void)
{
    expect_tags("W0 H2", HFX_E_BAD_DIMENSIONS);
    expect_tags("W2 H0", HFX_E_BAD_DIMENSIONS);
    expect_tags("W3 H2", HFX_E_BAD_DIMENSIONS);
    expect_tags("W2 H5", HFX_E_BAD_DIMENSIONS);
    expect_tags("W1 H1", HFX_E_BAD_DIMENSIONS);
    expect_tags("W16386 H2", HFX_E_BAD_DIMENSIONS);
    expect_tags("W2 H16386", HFX_E_BAD_DIMENSIONS);
    expect_tags("W16384 H16385", HFX_E_BAD_DIMENSIONS);
    expect_tags("W4294967296 H2", HFX_E_BAD_DIMENSIONS);
    expect_tags("W2 H99999999999999999999999999999999", HFX_E_BAD_DIMENSIONS);
    expect_tags("W16384 H16384", HFX_OK);
}

static void test_missing_or_bad_numbers(void)
{
    expect_tags("H2", HFX_E_MALFORMED);
    expect_tags("W2", HFX_E_MALFORMED);
    expect_tags("", HFX_E_MALFORMED);
    expect_header("YUV4MPEG2", HFX_E_MALFORMED);
    expect_tags("W H2", HFX_E_MALFORMED);
    expect_tags("W-2 H2", HFX_E_MALFORMED);
    expect_tags("W+2 H2", HFX_E_MALFORMED);
    expect_tags("W2x H2", HFX_E_MALFORMED);
    expect_tags("W0x10 H2", HFX_E_MALFORMED);
    expect_tags("W 2 H2", HFX_E_MALFORMED);
    expect_tags("W2 H2\t", HFX_E_MALFORMED);
}

static void test_bad_frame_rate(void)
{
    expect_tags("W2 H2 F30:0", HFX_E_MALFORMED);
    expect_tags("W2 H2 F0:1", HFX_E_MALFORMED);
    expect_tags("W2 H2 F0:0", HFX_E_MALFORMED);
    expect_tags("W2 H2 F30", HFX_E_MALFORMED);
    expect_tags("W2 H2 F30:", HFX_E_MALFORMED);
    expect_tags("W2 H2 F:1", HFX_E_MALFORMED);
    expect_tags("W2 H2 F", HFX_E_MALFORMED);
    expect_tags("W2 H2 F1:2:3", HFX_E_MALFORMED);
    expect_tags("W2 H2 F-1:1", HFX_E_MALFORMED);
    expect_tags("W2 H2 F4294967296:1", HFX_E_MALFORMED);
    expect_tags("W2 H2 F1:4294967296", HFX_E_MALFORMED);
    expect_tags("W2 H2 A1", HFX_E_MALFORMED);
    expect_tags("W2 H2 Afoo", HFX_E_MALFORMED);
}

static void test_bad_colorspace(void)
{
    expect_tags("W2 H2 C422", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C444", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C444alpha", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C420p10", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 Cmono", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C420JPEG", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C420jpegx", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 C", HFX_E_MALFORMED);
}

static void test_interlaced(void)
{
    expect_tags("W2 H2 It", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 Ib", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 Im", HFX_E_UNSUPPORTED);
    expect_tags("W2 H2 I", HFX_E_MALFORMED);
    expect_tags("W2 H2 Ix", HFX_E_MALFORMED);
    expect_tags("W2 H2 Ipp", HFX_E_MALFORMED);
    expect_tags("W2 H2 Ip", HFX_OK);
}

static void test_garbage_tag(void)
{
    static const char nul_line[] = "YUV4MPEG2 W2 H2 \0\n";
    struct stream s = {.len = 0};

    expect_tags("W2 H2 Q1", HFX_E_MALFORMED);
    expect_tags("w2 h2", HFX_E_MALFORMED);
    expect_tags("W2 H2 \x01", HFX_E_MALFORMED);
    expect_tags("W2 H2 \xff", HFX_E_MALFORMED);
    expect_tags("W2 H2 \r", HFX_E_MALFORMED);
    expect_tags("W2 H2 2", HFX_E_MALFORMED);
    /* A second answer to the same question is not believed. */
    expect_tags("W2 W4 H2", HFX_E_MALFORMED);
    expect_tags("W2 H2 F1:1 F2:1", HFX_E_MALFORMED);
    expect_tags("W2 H2 C420 C420", HFX_E_MALFORMED);
    expect_tags("W2 H2 Ip Ip", HFX_E_MALFORMED);
    /* An embedded NUL is a byte like any other, not an end of string. */
    put(&s, nul_line, sizeof(nul_line) - 1);
    expect_open(&s, HFX_E_MALFORMED);
}

/* HFX_Y4M_LINE_MAX counts the '\n': 1023 bytes of header fit, 1024 do not. */
static void test_header_length_limit(void)
{
    struct stream s = {.len = 0};
    struct hfx_y4m_info info;

    puts_(&s, "YUV4MPEG2 W2 H2 X");
    put_fill(&s, 'a', HFX_Y4M_LINE_MAX - 1 - s.len);
    CHECK_EQ_INT(s.len, HFX_Y4M_LINE_MAX - 1);
    CHECK_STATUS(hfx_y4m_parse_header(s.buf, s.len, &info), HFX_OK);
    puts_(&s, "\n");
    expect_open(&s, HFX_OK);

    s.len = HFX_Y4M_LINE_MAX - 1;
    puts_(&s, "a");
    CHECK_STATUS(hfx_y4m_parse_header(s.buf, s.len, &info), HFX_E_MALFORMED);
    puts_(&s, "\n");
    expect_open(&s, HFX_E_MALFORMED);

    /* Overlong with no newline at all, and longer than the limit. */
    s.len = 0;
    puts_(&s, "YUV4MPEG2 W2 H2 X");
    put_fill(&s, 'a', 3 * HFX_Y4M_LINE_MAX);
    expect_open(&s, HFX_E_MALFORMED);
}

static void test_truncated_header(void)
{
    struct stream s = {.len = 0};

    expect_open(&s, HFX_E_TRUNCATED); /* empty file */
    puts_(&s, "YUV");
    expect_open(&s, HFX_E_TRUNCATED);
    s.len = 0;
    puts_(&s, "YUV4MPEG2 W2 H2");
    expect_open(&s, HFX_E_TRUNCATED);
}

static void test_truncated_frame(void)
{
    struct stream s;
    uint8_t buf[6];

    /* Every length of a short frame, from the bare FRAME line to one byte
     * missing. */
    for (size_t n = 0; n < sizeof(buf); n++) {
        stream_2x2(&s);
        puts_(&s, "FRAME\n");
        put_fill(&s, 'x', n);
        FILE *f = open_mem(s.buf, s.len);
        struct hfx_y4m_reader *r = open_ok(f);
        expect_read(r, HFX_E_TRUNCATED);
        expect_read(r, HFX_E_TRUNCATED);
        hfx_y4m_close(&r);
        fclose(f);
    }

    /* A FRAME line cut short, after a good frame. */
    static const char *const cuts[] = {"F", "FRA", "FRAME", "FRAME Ip"};
    for (size_t i = 0; i < CHECK_COUNT(cuts); i++) {
        stream_2x2(&s);
        puts_(&s, "FRAME\nabcdef");
        puts_(&s, cuts[i]);
        FILE *f = open_mem(s.buf, s.len);
        struct hfx_y4m_reader *r = open_ok(f);
        expect_frame(r, "abcdef");
        expect_read(r, HFX_E_TRUNCATED);
        hfx_y4m_close(&r);
        fclose(f);
    }
}

static void test_bad_frame_line(void)
{
    static const char *const bad[] = {
        "FRAMEX\nabcdef", "FRAM\nabcdef", "frame\nabcdef", " FRAME\nabcdef",
        "\nabcdef",       "XFRAME\n",     "GARBAGE",       "FRAME\tIp\nabcdef",
    };
    struct stream s;

    for (size_t i = 0; i < CHECK_COUNT(bad); i++) {
        stream_2x2(&s);
        puts_(&s, bad[i]);
        FILE *f = open_mem(s.buf, s.len);
        struct hfx_y4m_reader *r = open_ok(f);
        expect_read(r, HFX_E_MALFORMED);
        /* Sticky: no attempt to resynchronise inside the garbage. */
        expect_read(r, HFX_E_MALFORMED);
        hfx_y4m_close(&r);
        fclose(f);
    }

    /* A FRAME line over the limit, with and without a newline after it. */
    for (int nl = 0; nl < 2; nl++) {
        stream_2x2(&s);
        puts_(&s, "FRAME ");
        put_fill(&s, 'p', HFX_Y4M_LINE_MAX);
        if (nl)
            puts_(&s, "\nabcdef");
        FILE *f = open_mem(s.buf, s.len);
        struct hfx_y4m_reader *r = open_ok(f);
        expect_read(r, HFX_E_MALFORMED);
        hfx_y4m_close(&r);
        fclose(f);
    }
}

static void test_frame_params_ignored(void)
{
    struct stream s;

    stream_2x2(&s);
    puts_(&s, "FRAME Ip XFOO=1\n012345FRAME \n678901FRAME ");
    /* The longest FRAME line the limit allows: 1023 bytes and '\n'. */
    put_fill(&s, 'p', HFX_Y4M_LINE_MAX - 1 - strlen("FRAME "));
    puts_(&s, "\nabcdef");
    FILE *f = open_mem(s.buf, s.len);
    struct hfx_y4m_reader *r = open_ok(f);
    expect_frame(r, "012345");
    expect_frame(r, "678901");
    expect_frame(r, "abcdef");
    expect_read(r, HFX_E_CLOSED);
    hfx_y4m_close(&r);
    fclose(f);
}

static void test_cap_too_small(void)
{
    struct stream s;
    uint8_t buf[6];

    stream_2x2(&s);
    puts_(&s, "FRAME\nabcdef");
    FILE *f = open_mem(s.buf, s.len);
    struct hfx_y4m_reader *r = open_ok(f);
    CHECK_STATUS(hfx_y4m_read_frame(r, buf, 0), HFX_E_TOO_LARGE);
    CHECK_STATUS(hfx_y4m_read_frame(r, buf, sizeof(buf) - 1), HFX_E_TOO_LARGE);
    /* Nothing was consumed: a big enough buffer still gets the frame. */
    expect_frame(r, "abcdef");
    expect_read(r, HFX_E_CLOSED);
    hfx_y4m_close(&r);
    fclose(f);
}

static void test_clean_eof(void)
{
    struct stream s;

    /* A header and no frames is a valid, empty stream. */
    stream_2x2(&s);
    FILE *f = open_mem(s.buf, s.len);
    struct hfx_y4m_reader *r = open_ok(f);
    expect_read(r, HFX_E_CLOSED);
    hfx_y4m_close(&r);
    fclose(f);

    stream_2x2(&s);
    puts_(&s, "FRAME\nabcdefFRAME\nghijkl");
    f = open_mem(s.buf, s.len);
    r = open_ok(f);
    expect_read(r, HFX_OK);
    expect_frame(r, "ghijkl");
    expect_read(r, HFX_E_CLOSED);
    hfx_y4m_close(&r);
    fclose(f);
}

/* fopencookie stream that hands out `left` bytes, then fails the read. */
struct failing {
    const char *data;
    size_t left;
};

static ssize_t failing_read(void *cookie, char *buf, size_t size)
{
    struct failing *fl = cookie;

    if (fl->left == 0) {
        errno = EIO;
        return -1;
    }
    size_t n = size < fl->left ? size : fl->left;
    memcpy(buf, fl->data, n);
    fl->data += n;
    fl->left -= n;
    return (ssize_t)n;
}

static FILE *open_failing(struct failing *fl)
{
    cookie_io_functions_t io = {.read = failing_read};
    FILE *f = fopencookie(fl, "r", io);

    CHECK(f != NULL);
    return f;
}

static void test_read_errors(void)
{
    static const char hdr[] = "YUV4MPEG2 W2 H2\n";
    static const char with_frame[] = "YUV4MPEG2 W2 H2\nFRAME\nabc";
    struct hfx_y4m_reader *r = NULL;

    /* Error inside the header line. */
    struct failing fl = {hdr, 5};
    FILE *f = open_failing(&fl);
    CHECK_STATUS(hfx_y4m_open(f, &r), HFX_E_IO);
    CHECK(r == NULL);
    fclose(f);

    /* Error where the next FRAME line should start, not a clean end. */
    fl = (struct failing){hdr, sizeof(hdr) - 1};
    f = open_failing(&fl);
    r = open_ok(f);
    expect_read(r, HFX_E_IO);
    expect_read(r, HFX_E_IO);
    hfx_y4m_close(&r);
    fclose(f);

    /* Error inside the planes, not a truncated file. */
    fl = (struct failing){with_frame, sizeof(with_frame) - 1};
    f = open_failing(&fl);
    r = open_ok(f);
    expect_read(r, HFX_E_IO);
    hfx_y4m_close(&r);
    fclose(f);
}

static void test_writer_rejects(void)
{
    static const uint8_t px[6];
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *w = open_memstream(&mem, &mem_len);

    CHECK(w != NULL);
    CHECK_STATUS(hfx_y4m_write_header(w, 0, 2, 25, 1), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_y4m_write_header(w, 3, 2, 25, 1), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_y4m_write_header(w, 2, 16386, 25, 1), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_y4m_write_header(w, 2, 2, 0, 1), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_write_header(w, 2, 2, 25, 0), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_write_header(NULL, 2, 2, 25, 1), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_write_frame(w, NULL, 2, 2), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_write_frame(w, px, 2, 3), HFX_E_BAD_DIMENSIONS);
    CHECK_STATUS(hfx_y4m_write_frame(NULL, px, 2, 2), HFX_E_INVALID);
    CHECK(fclose(w) == 0);
    CHECK_EQ_INT(mem_len, 0); /* nothing written by a rejected call */
    free(mem);
}

static void test_write_failure(void)
{
    static const uint8_t px[6];
    /* /dev/full fails every write with ENOSPC; unbuffered, so the failure
     * shows in the call itself rather than at fclose. */
    FILE *f = fopen("/dev/full", "w");

    CHECK(f != NULL);
    CHECK(setvbuf(f, NULL, _IONBF, 0) == 0);
    CHECK_STATUS(hfx_y4m_write_header(f, 2, 2, 25, 1), HFX_E_IO);
    CHECK_STATUS(hfx_y4m_write_frame(f, px, 2, 2), HFX_E_IO);
    fclose(f);
}

static void test_bad_arguments(void)
{
    struct hfx_y4m_reader *r = NULL;
    struct hfx_y4m_info info;
    uint8_t buf[6];
    struct stream s;

    CHECK_STATUS(hfx_y4m_open(NULL, &r), HFX_E_INVALID);
    CHECK(r == NULL);
    CHECK_STATUS(hfx_y4m_open(stdin, NULL), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_parse_header(NULL, 0, &info), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_parse_header("YUV4MPEG2 W2 H2", 15, NULL), HFX_E_INVALID);
    CHECK_STATUS(hfx_y4m_read_frame(NULL, buf, sizeof(buf)), HFX_E_INVALID);
    hfx_y4m_close(NULL);
    hfx_y4m_close(&r);

    stream_2x2(&s);
    FILE *f = open_mem(s.buf, s.len);
    r = open_ok(f);
    CHECK_STATUS(hfx_y4m_read_frame(r, NULL, sizeof(buf)), HFX_E_INVALID);
    hfx_y4m_close(&r);
    fclose(f);
}

/* The memory entry point reads exactly len bytes: no terminator needed,
 * and nothing past len is looked at. */
static void test_parse_header_memory(void)
{
    static const char line[] = "YUV4MPEG2 W6 H4 F24:1 W8";
    struct hfx_y4m_info info = {0};

    CHECK_STATUS(hfx_y4m_parse_header(line, strlen("YUV4MPEG2 W6 H4 F24:1"), &info), HFX_OK);
    CHECK_EQ_INT(info.width, 6);
    CHECK_EQ_INT(info.height, 4);
    CHECK_EQ_INT(info.fps_num, 24);
    CHECK_EQ_INT(info.fps_den, 1);
    CHECK_STATUS(hfx_y4m_parse_header(line, strlen(line), &info), HFX_E_MALFORMED);
    CHECK_STATUS(hfx_y4m_parse_header(line, 4, &info), HFX_E_BAD_MAGIC);
    /* On error the output is left alone. */
    CHECK_EQ_INT(info.width, 6);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_round_trip),
        CHECK_CASE(test_writer_bytes),
        CHECK_CASE(test_header_accepted_forms),
        CHECK_CASE(test_missing_magic),
        CHECK_CASE(test_bad_dimensions),
        CHECK_CASE(test_missing_or_bad_numbers),
        CHECK_CASE(test_bad_frame_rate),
        CHECK_CASE(test_bad_colorspace),
        CHECK_CASE(test_interlaced),
        CHECK_CASE(test_garbage_tag),
        CHECK_CASE(test_header_length_limit),
        CHECK_CASE(test_truncated_header),
        CHECK_CASE(test_truncated_frame),
        CHECK_CASE(test_bad_frame_line),
        CHECK_CASE(test_frame_params_ignored),
        CHECK_CASE(test_cap_too_small),
        CHECK_CASE(test_clean_eof),
        CHECK_CASE(test_read_errors),
        CHECK_CASE(test_writer_rejects),
        CHECK_CASE(test_write_failure),
        CHECK_CASE(test_bad_arguments),
        CHECK_CASE(test_parse_header_memory),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
