/* SPDX-License-Identifier: MIT */
/*
 * hfx-encode: the hfx client as a command-line tool. Reads a Y4M file or
 * renders a test pattern, sends the frames to a host (INLINE or SHM),
 * writes the H.264 that comes back, and reports frames, fps and round trip.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hfx/client.h"
#include "util/clock.h"
#include "util/percentile.h"
#include "util/token.h"
#include "pattern.h"
#include "y4m.h"

#define RTT_RING 4096 /* submit times kept per frame id modulo this */

struct options {
    const char *address;
    const char *input;
    const char *output;
    const char *encoder;
    const char *token_file;
    bool pattern;
    enum { SOURCE_INLINE, SOURCE_SHM, SOURCE_SHM_ALLOC } source;
    bool quiet;
    uint32_t width, height, fourcc;
    uint32_t fps;
    uint32_t bitrate;
    uint32_t keyint;
    uint32_t keyint_ms;
    uint64_t frames; /* 0 = all input (pattern: 300) */
    unsigned window; /* 0 = the host's */
};

struct run {
    struct options o;
    struct hfx_client *client;
    FILE *out;
    struct hfx_y4m_reader *y4m;
    FILE *y4m_file;
    uint8_t *y4m_buf;
    struct hfx_image src;   /* frame in the wire format */
    struct hfx_image i420;  /* y4m input before conversion */
    /* SHM: one slot per frame in flight. */
    uint8_t *shm;
    size_t slot_size;
    unsigned slots;
    uint32_t region;
    int64_t *slot_frame; /* frame id using the slot, -1 when free */

    int64_t submit_ns[RTT_RING];
    double *rtt_ms;
    uint64_t rtt_n;
    uint64_t sent, encoded, dropped, bytes;
    char encoder_name[HFX_MAX_NAME + 1];
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: hfx-encode --address ADDR (--input FILE.y4m | --test-pattern)\n"
            "                  --output OUT.h264 [options]\n"
            "\n"
            "Send raw frames to an hfx host and write the H.264 it returns.\n"
            "\n"
            "  -a, --address ADDR     unix:/path, tcp:HOST:PORT, vsock:CID:PORT,\n"
            "                         serial:/dev/PATH or fd:N\n"
            "  -i, --input FILE       YUV4MPEG2 (4:2:0) input\n"
            "  -t, --test-pattern     render a moving test pattern instead\n"
            "  -o, --output FILE      H.264 Annex-B output ('-' = stdout)\n"
            "  -s, --size WxH         pattern size (default 1280x720)\n"
            "  -f, --format FMT       wire format NV12 (default), I420, BGRx, BGRA, RGBx, RGBA\n"
            "  -n, --frames N         frames to send (default: whole input; pattern 300)\n"
            "  -r, --fps N            frame rate (default: input's, else 30)\n"
            "  -b, --bitrate KBPS     target bitrate in kbit/s (default 4000)\n"
            "      --source SRC       inline (default), shm or shm-alloc (unix transports):\n"
            "                         shm: frames in shared memory, the client's own where\n"
            "                         the host takes it, else memory the host makes;\n"
            "                         shm-alloc: always memory the host makes\n"
            "      --encoder NAME     host encoder (default: the host's choice)\n"
            "      --keyint N         IDR every N frames (default: encoder's)\n"
            "      --keyint-ms MS     IDR at least every MS milliseconds\n"
            "      --window N         frames in flight (default: the host's window)\n"
            "      --token-file PATH  token for the host (first line of PATH)\n"
            "  -q, --quiet            no progress output\n"
            "  -h, --help             this text\n");
}

static int parse_u32(const char *opt, const char *text, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        fprintf(stderr, "hfx-encode: %s: '%s' is not a number in %u..%u\n", opt, text, min,
                max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_SOURCE = 256, OPT_ENCODER, OPT_KEYINT, OPT_KEYINT_MS, OPT_WINDOW, OPT_TOKEN };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"input", required_argument, NULL, 'i'},
        {"test-pattern", no_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"size", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"frames", required_argument, NULL, 'n'},
        {"fps", required_argument, NULL, 'r'},
        {"bitrate", required_argument, NULL, 'b'},
        {"source", required_argument, NULL, OPT_SOURCE},
        {"encoder", required_argument, NULL, OPT_ENCODER},
        {"keyint", required_argument, NULL, OPT_KEYINT},
        {"keyint-ms", required_argument, NULL, OPT_KEYINT_MS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"token-file", required_argument, NULL, OPT_TOKEN},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint32_t v;
    int c;

    o->width = 1280;
    o->height = 720;
    o->fourcc = HFX_FORMAT_NV12;
    o->bitrate = 4000;
    while ((c = getopt_long(argc, argv, "a:i:to:s:f:n:r:b:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o->address = optarg;
            break;
        case 'i':
            o->input = optarg;
            break;
        case 't':
            o->pattern = true;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 's': {
            unsigned w, h;
            char tail;
            if (sscanf(optarg, "%ux%u%c", &w, &h, &tail) != 2 || w < 2 || h < 2 ||
                w > HFX_MAX_DIMENSION || h > HFX_MAX_DIMENSION || (w | h) & 1) {
                fprintf(stderr, "hfx-encode: --size: '%s' is not WxH with even sizes "
                                "2..%d\n", optarg, HFX_MAX_DIMENSION);
                return -1;
            }
            o->width = w;
            o->height = h;
            break;
        }
        case 'f':
            o->fourcc = hfx_format_from_name(optarg);
            if (!o->fourcc) {
                fprintf(stderr, "hfx-encode: --format: unknown format '%s'\n", optarg);
                return -1;
            }
            break;
        case 'n':
            if (parse_u32("--frames", optarg, 1, UINT32_MAX, &v))
                return -1;
            o->frames = v;
            break;
        case 'r':
            if (parse_u32("--fps", optarg, 1, 1000, &o->fps))
                return -1;
            break;
        case 'b':
            if (parse_u32("--bitrate", optarg, 1, HFX_MAX_BITRATE_KBPS, &o->bitrate))
                return -1;
            break;
        case OPT_SOURCE:
            if (strcmp(optarg, "shm") == 0) {
                o->source = SOURCE_SHM;
            } else if (strcmp(optarg, "shm-alloc") == 0) {
                o->source = SOURCE_SHM_ALLOC;
            } else if (strcmp(optarg, "inline") != 0) {
                fprintf(stderr, "hfx-encode: --source: 'inline', 'shm' or 'shm-alloc', not '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case OPT_ENCODER:
            o->encoder = optarg;
            break;
        case OPT_KEYINT:
            if (parse_u32("--keyint", optarg, 1, 100000, &o->keyint))
                return -1;
            break;
        case OPT_KEYINT_MS:
            if (parse_u32("--keyint-ms", optarg, 1, 3600000, &o->keyint_ms))
                return -1;
            break;
        case OPT_WINDOW:
            if (parse_u32("--window", optarg, 1, HFX_MAX_WINDOW, &v))
                return -1;
            o->window = v;
            break;
        case OPT_TOKEN:
            o->token_file = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hfx-encode: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->address || !o->output || (!o->input == !o->pattern)) {
        fprintf(stderr, "hfx-encode: need --address, --output and one of --input or "
                        "--test-pattern\n");
        usage(stderr);
        return -1;
    }
    if (o->encoder && strlen(o->encoder) > HFX_MAX_NAME) {
        fprintf(stderr, "hfx-encode: --encoder: name too long\n");
        return -1;
    }
    return 0;
}

static int read_token(const char *path, char *out, size_t cap)
{
    enum hfx_status st = hfx_token_read_file(path, out, cap, NULL);

    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: --token-file %s: %s\n", path,
                st == HFX_E_IO ? strerror(errno) : "no token of 1..256 bytes on the first line");
        return -1;
    }
    return 0;
}

static void log_stderr(void *user, enum hfx_log_level level, const char *msg)
{
    if (level <= HFX_LOG_WARN)
        fprintf(stderr, "hfx-encode: %s\n", msg);
}

/* Produce frame `index` into r->src; false at end of input. */
static bool next_picture(struct run *r, uint64_t index)
{
    if (r->o.pattern) {
        hfx_pattern_fill(&r->src, index);
        return true;
    }
    enum hfx_status st = hfx_y4m_read_frame(r->y4m, r->y4m_buf, hfx_y4m_frame_size(r->y4m));
    if (st == HFX_E_CLOSED)
        return false;
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: %s: frame %" PRIu64 ": %s\n", r->o.input, index,
                hfx_strerror(st));
        return false;
    }
    if (r->o.fourcc == HFX_FORMAT_I420) {
        memcpy(r->src.base, r->y4m_buf, r->src.size);
        return true;
    }
    memcpy(r->i420.base, r->y4m_buf, r->i420.size);
    return hfx_image_convert(&r->i420, &r->src) == HFX_OK;
}

static int handle_event(struct run *r, const struct hfx_event *ev)
{
    switch (ev->type) {
    case HFX_EVENT_PACKET: {
        const struct hfx_packet *p = &ev->u.packet;
        if (fwrite(p->data, 1, p->data_len, r->out) != p->data_len) {
            fprintf(stderr, "hfx-encode: %s: write failed: %s\n", r->o.output, strerror(errno));
            return -1;
        }
        r->bytes += p->data_len;
        r->encoded++;
        r->rtt_ms[r->rtt_n++] =
            (double)(hfx_clock_ns() - r->submit_ns[p->frame_id % RTT_RING]) / 1e6;
        if (r->slot_frame)
            r->slot_frame[p->frame_id % r->slots] = -1;
        return 0;
    }
    case HFX_EVENT_DROPPED:
        r->dropped++;
        if (r->slot_frame)
            r->slot_frame[ev->u.dropped.frame_id % r->slots] = -1;
        return 0;
    case HFX_EVENT_CONFIGURED:
        snprintf(r->encoder_name, sizeof(r->encoder_name), "%s", ev->u.configured.encoder);
        return 0;
    case HFX_EVENT_ERROR:
        fprintf(stderr, "hfx-encode: host error on stream %u: %s (%s)\n", ev->stream,
                ev->u.error.text, hfx_status_name((enum hfx_status)ev->u.error.code));
        return -1;
    default:
        return 0;
    }
}

static int wait_event(struct run *r, int timeout_ms, enum hfx_event_type until)
{
    struct hfx_event ev;
    enum hfx_status st = hfx_client_next_event(r->client, timeout_ms, &ev);

    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: waiting for the host: %s\n", hfx_strerror(st));
        return -1;
    }
    if (handle_event(r, &ev))
        return -1;
    return ev.type == until ? 1 : 0;
}

/* A memfd of ours, sealed against shrinking (the host maps nothing it
 * could lose under it), attached with SHM_ATTACH. Its descriptor, or -1
 * after a message; -2 where the system has no memfd. */
static int own_shm(struct run *r, size_t total)
{
#ifdef MFD_ALLOW_SEALING
    int fd = memfd_create("hfx-encode-frames", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    enum hfx_status st;

    if (fd < 0) {
        perror("hfx-encode: memfd_create");
        return -1;
    }
    if (ftruncate(fd, (off_t)total) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) != 0) {
        perror("hfx-encode: shared memory");
        close(fd);
        return -1;
    }
    st = hfx_client_attach_shm(r->client, fd, total, &r->region);
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: --source shm: %s (needs a unix: address)\n",
                hfx_strerror(st));
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)r;
    (void)total;
    return -2;
#endif
}

/* Memory the host makes (SHM_ALLOC): its descriptor comes with the
 * answer. */
static int host_shm(struct run *r, size_t total)
{
    enum hfx_status st = hfx_client_alloc_shm(r->client, total, &r->region);
    struct hfx_event ev;

    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: --source %s: %s%s\n",
                r->o.source == SOURCE_SHM ? "shm" : "shm-alloc", hfx_strerror(st),
                st == HFX_E_UNSUPPORTED ? " (needs a unix: address and a host that offers "
                                          "SHM_ALLOC)"
                                        : "");
        return -1;
    }
    for (;;) {
        st = hfx_client_next_event(r->client, 10000, &ev);
        if (st != HFX_OK) {
            fprintf(stderr, "hfx-encode: waiting for the host's shared memory: %s\n",
                    hfx_strerror(st));
            return -1;
        }
        if (ev.type == HFX_EVENT_SHM_ALLOCATED && ev.u.shm.region == r->region)
            break;
        if (ev.type == HFX_EVENT_SHM_ALLOCATED)
            close(ev.u.shm.fd); /* not asked for: nothing to use it for */
        else if (handle_event(r, &ev))
            return -1;
    }
    if (ev.u.shm.size < total) {
        fprintf(stderr, "hfx-encode: the host made %llu bytes, not %zu\n",
                (unsigned long long)ev.u.shm.size, total);
        close(ev.u.shm.fd);
        return -1;
    }
    return ev.u.shm.fd;
}

static int setup_shm(struct run *r)
{
    size_t total = r->slot_size * r->slots;
    uint32_t caps = hfx_client_welcome(r->client)->caps;
    int fd = -2;

    if (r->o.source == SOURCE_SHM && (caps & HFX_CAP_SHM_FD))
        fd = own_shm(r, total);
    if (fd == -2)
        fd = host_shm(r, total);
    if (fd < 0)
        return -1;
    r->shm = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (r->shm == MAP_FAILED) {
        r->shm = NULL;
        perror("hfx-encode: mmap");
        return -1;
    }
    r->slot_frame = malloc(sizeof(*r->slot_frame) * r->slots);
    if (!r->slot_frame)
        return -1;
    for (unsigned i = 0; i < r->slots; i++)
        r->slot_frame[i] = -1;
    return 0;
}

static int submit(struct run *r, uint64_t id, uint32_t fps)
{
    struct hfx_frame f;
    struct iovec iov = {r->src.base, r->src.size};
    unsigned planes = hfx_format_planes(r->o.fourcc);
    enum hfx_status st;

    memset(&f, 0, sizeof(f));
    f.frame_id = id;
    f.pts = (int64_t)(id * 1000000 / fps);
    f.duration = 1000000 / fps;
    f.plane_count = (uint8_t)planes;
    for (unsigned p = 0; p < planes; p++) {
        f.planes[p].offset = (uint64_t)(r->src.plane[p] - r->src.base);
        f.planes[p].stride = r->src.stride[p];
    }
    if (r->shm) {
        unsigned slot = (unsigned)(id % r->slots);
        while (r->slot_frame[slot] >= 0)
            if (wait_event(r, 10000, HFX_EVENT_NONE) < 0)
                return -1;
        memcpy(r->shm + (size_t)slot * r->slot_size, r->src.base, r->src.size);
        r->slot_frame[slot] = (int64_t)id;
        f.source = HFX_SOURCE_SHM;
        f.region = r->region;
        for (unsigned p = 0; p < planes; p++)
            f.planes[p].offset += (uint64_t)slot * r->slot_size;
        r->submit_ns[id % RTT_RING] = hfx_clock_ns();
        st = hfx_client_submit(r->client, 1, &f, NULL, 0, false, 10000);
    } else {
        f.source = HFX_SOURCE_INLINE;
        r->submit_ns[id % RTT_RING] = hfx_clock_ns();
        st = hfx_client_submit(r->client, 1, &f, &iov, 1, false, 10000);
    }
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: frame %" PRIu64 ": %s\n", id, hfx_strerror(st));
        return -1;
    }
    r->sent++;
    return 0;
}

static int run(struct run *r)
{
    struct options *o = &r->o;
    struct hfx_client_options copts = {.log = log_stderr};
    struct hfx_configure cfg;
    char token[300] = "";
    char err[HFX_MAX_TEXT + 1];
    uint32_t fps = o->fps ? o->fps : 30;
    uint64_t total = o->frames ? o->frames : (o->pattern ? 300 : UINT64_MAX);
    enum hfx_status st;
    int rc;

    if (o->token_file) {
        if (read_token(o->token_file, token, sizeof(token)))
            return -1;
        copts.token = token;
    }
    if (o->input) {
        FILE *in = fopen(o->input, "rb");
        if (!in) {
            fprintf(stderr, "hfx-encode: %s: %s\n", o->input, strerror(errno));
            return -1;
        }
        st = hfx_y4m_open(in, &r->y4m);
        if (st != HFX_OK) {
            fprintf(stderr, "hfx-encode: %s: not a usable Y4M file: %s\n", o->input,
                    hfx_strerror(st));
            fclose(in);
            return -1;
        }
        r->y4m_file = in;
        o->width = hfx_y4m_width(r->y4m);
        o->height = hfx_y4m_height(r->y4m);
        if (!o->fps && hfx_y4m_fps_den(r->y4m))
            fps = (hfx_y4m_fps_num(r->y4m) + hfx_y4m_fps_den(r->y4m) / 2) /
                  hfx_y4m_fps_den(r->y4m);
        if (fps == 0)
            fps = 30;
        r->y4m_buf = malloc(hfx_y4m_frame_size(r->y4m));
        if (!r->y4m_buf || hfx_image_alloc(&r->i420, HFX_FORMAT_I420, o->width, o->height))
            return -1;
    }
    if (hfx_image_alloc(&r->src, o->fourcc, o->width, o->height) != HFX_OK) {
        fprintf(stderr, "hfx-encode: out of memory for %ux%u frames\n", o->width, o->height);
        return -1;
    }
    r->out = strcmp(o->output, "-") == 0 ? stdout : fopen(o->output, "wb");
    if (!r->out) {
        fprintf(stderr, "hfx-encode: %s: %s\n", o->output, strerror(errno));
        return -1;
    }
    r->rtt_ms = malloc(sizeof(double) * (o->frames ? o->frames : 1000000));
    if (!r->rtt_ms)
        return -1;

    st = hfx_client_connect(o->address, &copts, &r->client, err, sizeof(err));
    hfx_wipe(token, sizeof(token));
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: cannot connect to %s: %s%s%s\n", o->address,
                hfx_strerror(st), err[0] ? ": " : "", err);
        return -1;
    }
    unsigned window = hfx_client_welcome(r->client)->window;
    if (o->window)
        window = o->window;
    r->slots = window;
    r->slot_size = r->src.size;
    if (o->source != SOURCE_INLINE && setup_shm(r))
        return -1;

    memset(&cfg, 0, sizeof(cfg));
    cfg.codec = HFX_CODEC_H264;
    cfg.width = o->width;
    cfg.height = o->height;
    cfg.fourcc = o->fourcc;
    cfg.fps_num = fps;
    cfg.fps_den = 1;
    cfg.bitrate_kbps = o->bitrate;
    cfg.rate_control = HFX_RC_ABR;
    cfg.latency = HFX_LATENCY_LOWEST;
    cfg.keyint_frames = o->keyint;
    cfg.keyint_ms = o->keyint_ms;
    if (o->encoder)
        snprintf(cfg.encoder, sizeof(cfg.encoder), "%s", o->encoder);
    st = hfx_client_configure(r->client, 1, &cfg);
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: configure: %s\n", hfx_strerror(st));
        return -1;
    }
    while ((rc = wait_event(r, 20000, HFX_EVENT_CONFIGURED)) == 0)
        ;
    if (rc < 0)
        return -1;

    int64_t t0 = hfx_clock_ns(), last_report = t0;
    uint64_t id = 0;
    for (; id < total; id++) {
        if (!next_picture(r, id))
            break;
        while (hfx_client_in_flight(r->client, 1) >= window)
            if (wait_event(r, 20000, HFX_EVENT_NONE) < 0)
                return -1;
        if (submit(r, id, fps))
            return -1;
        /* Collect whatever has arrived without waiting. */
        for (;;) {
            struct hfx_event ev;
            st = hfx_client_next_event(r->client, 0, &ev);
            if (st == HFX_E_TIMEOUT)
                break;
            if (st != HFX_OK || handle_event(r, &ev))
                return -1;
        }
        int64_t now = hfx_clock_ns();
        if (!o->quiet && now - last_report >= 1000000000) {
            last_report = now;
            double s = (double)(now - t0) / 1e9;
            if (total == UINT64_MAX)
                fprintf(stderr, "hfx-encode: frame %" PRIu64 ", %.1f fps, %" PRIu64
                                " dropped\n", id + 1, (double)(id + 1) / s, r->dropped);
            else
                fprintf(stderr, "hfx-encode: frame %" PRIu64 " of %" PRIu64 ", %.1f fps, %"
                                PRIu64 " dropped\n", id + 1, total, (double)(id + 1) / s,
                        r->dropped);
        }
    }
    if (!r->y4m && id < total)
        return -1;
    st = hfx_client_flush(r->client, 1);
    if (st != HFX_OK) {
        fprintf(stderr, "hfx-encode: flush: %s\n", hfx_strerror(st));
        return -1;
    }
    while ((rc = wait_event(r, 20000, HFX_EVENT_FLUSHED)) == 0)
        ;
    if (rc < 0)
        return -1;
    double secs = (double)(hfx_clock_ns() - t0) / 1e9;

    if (fflush(r->out) != 0) {
        fprintf(stderr, "hfx-encode: %s: %s\n", o->output, strerror(errno));
        return -1;
    }
    double mean = 0, p99 = 0;
    if (r->rtt_n) {
        for (uint64_t i = 0; i < r->rtt_n; i++)
            mean += r->rtt_ms[i];
        mean /= (double)r->rtt_n;
        hfx_percentiles(r->rtt_ms, r->rtt_n, NULL, &p99);
    }
    fprintf(stderr,
            "hfx-encode: %" PRIu64 " frames sent, %" PRIu64 " encoded, %" PRIu64
            " dropped in %.2f s (%.1f fps); round trip mean %.2f ms, p99 %.2f ms; "
            "encoder %s; %" PRIu64 " bytes to %s\n",
            r->sent, r->encoded, r->dropped, secs, secs > 0 ? (double)r->sent / secs : 0.0,
            mean, p99, r->encoder_name, r->bytes, o->output);
    return r->encoded + r->dropped == r->sent ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct run *r = calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return 1;
    if (parse_args(argc, argv, &r->o)) {
        free(r);
        return 2;
    }
    if (r->o.frames > 1000000) {
        fprintf(stderr, "hfx-encode: --frames: at most 1000000\n");
        free(r);
        return 2;
    }
    rc = run(r) == 0 ? 0 : 1;
    hfx_client_free(&r->client);
    if (r->out && r->out != stdout)
        fclose(r->out);
    if (r->y4m) {
        hfx_y4m_close(&r->y4m);
    }
    if (r->y4m_file)
        fclose(r->y4m_file);
    if (r->shm)
        munmap(r->shm, r->slot_size * r->slots);
    hfx_image_release(&r->src);
    hfx_image_release(&r->i420);
    free(r->slot_frame);
    free(r->y4m_buf);
    free(r->rtt_ms);
    free(r);
    return rc;
}
