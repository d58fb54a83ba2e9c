/* SPDX-License-Identifier: MIT */
/*
 * hfxd: the host encode daemon. Listens on the given addresses or on the
 * sockets systemd passed (socket activation, docs/architecture.md "hfxd
 * under systemd"), encodes frames for every client, logs to stderr, exits
 * cleanly on SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "hfx/encoder.h"
#include "hfx/server.h"
#include "socket-activation.h"
#include "util/token.h"

#define MAX_LISTEN 16

struct log_ctx {
    enum hfx_log_level max;
};

static void log_stderr(void *user, enum hfx_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    const struct log_ctx *ctx = user;
    struct timespec ts;
    struct tm tm;
    char when[32];

    if (level > ctx->max)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld hfxd %s: %s\n", when, ts.tv_nsec / 1000000, names[level], msg);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: hfxd [--listen ADDR [--listen ADDR ...]] [options]\n"
            "\n"
            "Encode video frames for hfx clients (guests, vsockenc, hfx-encode).\n"
            "\n"
            "  -l, --listen ADDR            unix:/path, tcp:HOST:PORT, vsock:CID:PORT,\n"
            "                               serial:/dev/PATH (one connection), fd:N\n"
            "                               (a connected descriptor or a listening\n"
            "                               socket), systemd (every socket systemd\n"
            "                               passed: socket activation) or systemd:NAME\n"
            "                               (those named NAME: FileDescriptorName=);\n"
            "                               repeatable. None: the sockets systemd\n"
            "                               passed, as --listen systemd\n"
            "  -e, --encoder NAME           auto (default) or a family by any of its\n"
            "                               encoders: h264_videotoolbox hevc_videotoolbox,\n"
            "                               h264_nvenc hevc_nvenc av1_nvenc, h264_qsv\n"
            "                               hevc_qsv av1_qsv, h264_vaapi hevc_vaapi\n"
            "                               av1_vaapi, libx264 libx265, libopenh264;\n"
            "                               each stream gets the family's encoder for\n"
            "                               its codec\n"
            "      --encoder-threads N      threads of each stream's software encoder,\n"
            "                               0..64; 0 = the encoder's choice (libx264:\n"
            "                               one per core, as many slices) (default 0)\n"
            "      --max-sessions N         sessions (after the handshake) at once\n"
            "                               (default 16)\n"
            "      --max-handshakes N       connections still waiting for their HELLO;\n"
            "                               at the limit the oldest goes (default 64)\n"
            "      --max-memory MIB         memory that streams may be expected to use,\n"
            "                               all sessions together; a CONFIGURE over it\n"
            "                               is refused on its stream (default 2048)\n"
            "      --max-streams N          streams per connection (default 8, max 64)\n"
            "      --window N               frames in flight per stream (default 4, max 64)\n"
            "      --keyframe-min-interval MS  minimum time between forced IDRs (default 200)\n"
            "      --handshake-timeout MS   close a connection without HELLO after MS\n"
            "                               (default 10000; a virtio-serial port is\n"
            "                               connected long before the guest speaks)\n"
            "      --shm-file PATH          give the connections of the --listen before\n"
            "                               it PATH as shared region 0 (e.g. the file\n"
            "                               behind a VM's ivshmem-plain device,\n"
            "                               docs/protocol.md 7.1); created if missing.\n"
            "                               After --listen systemd[:NAME], that must be\n"
            "                               one socket\n"
            "      --shm-size MIB           size of a --shm-file that hfxd creates\n"
            "                               (default 64; an existing file keeps its size)\n"
            "      --token-file PATH        require this token (first line of PATH);\n"
            "                               needed to listen on a non-loopback TCP address\n"
            "  -v, --verbose                debug log output, FFmpeg's included\n"
            "  -q, --quiet                  warnings and errors only\n"
            "  -h, --help                   this text\n"
            "      --version                print the version\n"
            "\n"
            "Unix sockets that hfxd creates have mode 0600; a passed socket keeps the\n"
            "mode its creator gave it (SocketMode= in a socket unit). A passed socket\n"
            "must be a listening stream socket (ListenStream=, Accept=no); TCP beyond\n"
            "loopback needs --token-file there too. Logs go to stderr. Exit status: 0\n"
            "after SIGINT or SIGTERM, 1 when hfxd cannot start or its loop fails, 2\n"
            "for a bad option.\n");
}

static int parse_uint(const char *opt, const char *text, unsigned min, unsigned max,
                      unsigned *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        fprintf(stderr, "hfxd: %s: '%s' is not a number in %u..%u\n", opt, text, min, max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static int read_token(const char *path, char *out, size_t cap)
{
    bool exposed = false;
    enum hfx_status st = hfx_token_read_file(path, out, cap, &exposed);

    if (st == HFX_E_IO) {
        fprintf(stderr, "hfxd: --token-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (st != HFX_OK) {
        fprintf(stderr, "hfxd: --token-file %s: the first line must be a token of 1..%d bytes\n",
                path, HFX_MAX_TOKEN);
        return -1;
    }
    if (exposed)
        fprintf(stderr, "hfxd: warning: token file %s is readable by others\n", path);
    return 0;
}

struct signal_thread {
    sigset_t set;
    int stop_fd;
};

/* Signals are taken by sigwait on a thread of their own: no handler, no
 * global state, and the event loop just sees the stop pipe. */
static void *wait_signals(void *arg)
{
    struct signal_thread *st = arg;
    int sig = 0;

    if (sigwait(&st->set, &sig) == 0) {
        char c = (char)sig;
        if (write(st->stop_fd, &c, 1) < 0)
            _exit(1);
    }
    return NULL;
}

/* --listen systemd or systemd:NAME (*name: NULL for every socket). */
static bool is_systemd_listen(const char *arg, const char **name)
{
    if (strcmp(arg, "systemd") == 0) {
        *name = NULL;
        return true;
    }
    if (strncmp(arg, "systemd:", 8) == 0) {
        *name = arg + 8;
        return true;
    }
    return false;
}

/* Which of the passed sockets each --listen systemd[:NAME] stands for
 * (take[i], bit k: passed->fds[k]). Every socket serves one listener, and
 * region 0 (--shm-file) belongs to one socket. The passed sockets no
 * --listen takes are closed. 0, or -1 after the message. */
static int resolve_passed(const char *const *listen, const char *const *shm_file,
                          unsigned nlisten, const struct hfxd_passed_fds *passed,
                          int passed_rc, const char *passed_err, uint32_t *take)
{
    uint32_t taken = 0;
    bool wanted = false;

    for (unsigned i = 0; i < nlisten; i++) {
        const char *name;
        unsigned count = 0;

        take[i] = 0;
        if (!is_systemd_listen(listen[i], &name))
            continue;
        wanted = true;
        if (passed_rc < 0) {
            fprintf(stderr, "hfxd: --listen %s: %s\n", listen[i], passed_err);
            return -1;
        }
        if (passed->n == 0) {
            fprintf(stderr, "hfxd: --listen %s: no sockets were passed (%s)\n", listen[i],
                    passed->why);
            return -1;
        }
        for (unsigned k = 0; k < passed->n; k++) {
            if (name && strcmp(name, passed->fds[k].name) != 0)
                continue;
            if (taken & (1u << k)) {
                fprintf(stderr, "hfxd: --listen %s: socket %d ('%s') is taken by an earlier "
                        "--listen systemd\n", listen[i], passed->fds[k].fd,
                        passed->fds[k].name);
                return -1;
            }
            take[i] |= 1u << k;
            count++;
        }
        if (count == 0) {
            fprintf(stderr, "hfxd: --listen %s: none of the %u passed sockets is named '%s' "
                    "(LISTEN_FDNAMES:", listen[i], passed->n, name);
            for (unsigned k = 0; k < passed->n; k++)
                fprintf(stderr, " '%s'", passed->fds[k].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        if (shm_file[i] && count != 1) {
            fprintf(stderr, "hfxd: --shm-file %s: --listen %s stands for %u sockets; region 0 "
                    "is one VM's (name the socket with FileDescriptorName= and give "
                    "--listen systemd:NAME)\n", shm_file[i], listen[i], count);
            return -1;
        }
        taken |= take[i];
    }
    if (!wanted && passed_rc < 0)
        fprintf(stderr, "hfxd: warning: ignoring the passed sockets: %s\n", passed_err);
    for (unsigned k = 0; k < passed->n; k++) {
        if (taken & (1u << k))
            continue;
        fprintf(stderr, "hfxd: warning: socket %d ('%s') passed by systemd is not served "
                "(no --listen systemd takes it); closed\n", passed->fds[k].fd,
                passed->fds[k].name);
        close(passed->fds[k].fd);
    }
    return 0;
}

/* The soft descriptor limit up to the hard one (hfxd polls, never
 * select()s). Besides the descriptors hfxd holds, Linux counts against it
 * those hfxd has sent and its clients have not yet read (SHM_ALLOCATED):
 * past it, every send with a descriptor fails (docs/security.md). */
static void raise_descriptor_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1 << 20 : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        fprintf(stderr, "hfxd: descriptor limit left at its soft value: %s\n", strerror(errno));
}

int main(int argc, char **argv)
{
    enum { OPT_MAX_SESSIONS = 256, OPT_MAX_STREAMS, OPT_WINDOW, OPT_TOKEN_FILE, OPT_KEYMIN,
           OPT_VERSION, OPT_HANDSHAKE, OPT_SHM_FILE, OPT_SHM_SIZE, OPT_MAX_HANDSHAKES,
           OPT_MAX_MEMORY, OPT_ENCODER_THREADS };
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"encoder", required_argument, NULL, 'e'},
        {"encoder-threads", required_argument, NULL, OPT_ENCODER_THREADS},
        {"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
        {"max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES},
        {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"keyframe-min-interval", required_argument, NULL, OPT_KEYMIN},
        {"handshake-timeout", required_argument, NULL, OPT_HANDSHAKE},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"shm-file", required_argument, NULL, OPT_SHM_FILE},
        {"shm-size", required_argument, NULL, OPT_SHM_SIZE},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *listen[MAX_LISTEN];
    const char *shm_file[MAX_LISTEN] = {NULL};
    unsigned nlisten = 0;
    uint64_t shm_size = 64ull << 20;
    struct log_ctx log = {.max = HFX_LOG_INFO};
    struct hfx_server_options opts = {.keyframe_min_interval_ms = -1};
    char token[300];
    bool have_token = false;
    unsigned v;
    int c;

    while ((c = getopt_long(argc, argv, "l:e:vqh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': {
            const char *name;
            if (nlisten == MAX_LISTEN) {
                fprintf(stderr, "hfxd: at most %d --listen addresses\n", MAX_LISTEN);
                return 2;
            }
            if (is_systemd_listen(optarg, &name) && name && !*name) {
                fprintf(stderr, "hfxd: --listen systemd:NAME needs a NAME\n");
                return 2;
            }
            listen[nlisten++] = optarg;
            break;
        }
        case 'e':
            opts.encoder = optarg;
            break;
        case OPT_ENCODER_THREADS:
            if (parse_uint("--encoder-threads", optarg, 0, HFX_ENCODER_MAX_THREADS, &v))
                return 2;
            opts.encoder_threads = v;
            break;
        case OPT_MAX_SESSIONS:
            if (parse_uint("--max-sessions", optarg, 1, 4096, &v))
                return 2;
            opts.max_sessions = v;
            break;
        case OPT_MAX_HANDSHAKES:
            if (parse_uint("--max-handshakes", optarg, 1, 4096, &v))
                return 2;
            opts.max_handshakes = v;
            break;
        case OPT_MAX_MEMORY:
            if (parse_uint("--max-memory", optarg, 16, 1048576, &v))
                return 2;
            opts.max_memory = (uint64_t)v << 20;
            break;
        case OPT_MAX_STREAMS:
            if (parse_uint("--max-streams", optarg, 1, 64, &v))
                return 2;
            opts.max_streams = v;
            break;
        case OPT_WINDOW:
            if (parse_uint("--window", optarg, 1, 64, &v))
                return 2;
            opts.window = v;
            break;
        case OPT_KEYMIN:
            if (parse_uint("--keyframe-min-interval", optarg, 0, 600000, &v))
                return 2;
            opts.keyframe_min_interval_ms = (int)v;
            break;
        case OPT_HANDSHAKE:
            if (parse_uint("--handshake-timeout", optarg, 1, 86400000, &v))
                return 2;
            opts.handshake_timeout_ms = (int)v;
            break;
        case OPT_SHM_FILE:
            if (nlisten == 0 || shm_file[nlisten - 1]) {
                fprintf(stderr, "hfxd: --shm-file %s: give it after the --listen it is for "
                                "(one per --listen)\n", optarg);
                return 2;
            }
            shm_file[nlisten - 1] = optarg;
            break;
        case OPT_SHM_SIZE:
            if (parse_uint("--shm-size", optarg, 1, 16384, &v))
                return 2;
            shm_size = (uint64_t)v << 20;
            break;
        case OPT_TOKEN_FILE:
            if (read_token(optarg, token, sizeof(token)))
                return 2;
            have_token = true;
            break;
        case 'v':
            log.max = HFX_LOG_DEBUG;
            break;
        case 'q':
            log.max = HFX_LOG_WARN;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("hfxd %s (protocol %d)\n", HFX_VERSION, HFX_PROTOCOL_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hfxd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    /* The sockets systemd passed, if any: taken from the environment in
     * any case, so that the variables do not outlive hfxd's start. */
    struct hfxd_passed_fds passed;
    char passed_err[256] = "";
    int passed_rc = hfxd_take_listen_fds(&passed, passed_err, sizeof(passed_err));
    uint32_t take[MAX_LISTEN] = {0};
    if (nlisten == 0 && (passed_rc < 0 || passed.n > 0)) {
        /* Started by systemd with sockets and no --listen: those are the
         * ones to serve. */
        listen[nlisten++] = "systemd";
    }
    if (nlisten == 0) {
        fprintf(stderr, "hfxd: no --listen address given%s%s%s\n",
                passed.for_another ? " (" : "", passed.for_another ? passed.why : "",
                passed.for_another ? ")" : "");
        usage(stderr);
        return 2;
    }
    if (resolve_passed(listen, shm_file, nlisten, &passed, passed_rc, passed_err, take))
        return 1;
    if (!hfx_encoder_known(opts.encoder)) {
        fprintf(stderr, "hfxd: unknown encoder '%s' (see --help)\n", opts.encoder);
        return 2;
    }
    raise_descriptor_limit();
#ifdef __GLIBC__
    /* Every INLINE frame arrives in a buffer of a few MB that is freed by
     * the encode worker. glibc would hand such blocks back to the kernel
     * (mmap/munmap) and fault them in again for the next frame, which cost
     * up to a quarter of 1080p throughput in bench/host-throughput; keeping
     * them in the heap lets the next frame reuse the pages. */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
    /* One arena for every thread. glibc gives threads arenas of their
     * own, up to 8 per core, and shrinks those only when their free top
     * passes the trim threshold, which the 64 MiB heaps they are made of
     * never reach (malloc_trim does not touch their tops either): each
     * arena kept the high-water mark of the encoders that had run on it,
     * and hfxd's RSS grew by a third over scripts/soak's ten minutes with
     * 300 kB in use between sessions. Threads other than the loop's
     * allocate little once their encoder is open (packets, results). */
    mallopt(M_ARENA_MAX, 1);
    opts.trim_heap_when_idle = true;
#endif
    /* FFmpeg logs through a process-wide handler; main() owns it. */
    /* Encoders that `auto` probes and that are missing here fail at
     * FFmpeg's error level; hfxd reports them itself (at info), so FFmpeg's
     * own lines are shown only with -v. */
    av_log_set_level(log.max >= HFX_LOG_DEBUG ? AV_LOG_INFO : AV_LOG_FATAL);
    opts.token = have_token ? token : NULL;
    opts.log = log_stderr;
    opts.log_user = &log;

    /* Block the stop signals before any thread starts, so that only the
     * signal thread receives them. */
    struct signal_thread sig = {.stop_fd = -1};
    int stop[2];
    pthread_t sig_thread;
    sigemptyset(&sig.set);
    sigaddset(&sig.set, SIGINT);
    sigaddset(&sig.set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sig.set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (pipe(stop) != 0) {
        perror("hfxd: pipe");
        return 1;
    }
    sig.stop_fd = stop[1];
    if (pthread_create(&sig_thread, NULL, wait_signals, &sig) != 0) {
        fprintf(stderr, "hfxd: cannot start the signal thread\n");
        return 1;
    }
    pthread_detach(sig_thread);

    struct hfx_server *srv = NULL;
    char line[512];
    enum hfx_status st = hfx_server_new(&opts, &srv);
    hfx_wipe(token, sizeof(token));
    if (st != HFX_OK) {
        fprintf(stderr, "hfxd: %s\n", hfx_strerror(st));
        return 1;
    }
    for (unsigned i = 0; i < nlisten; i++) {
        for (unsigned k = 0; k < passed.n; k++) {
            if (!(take[i] & (1u << k)))
                continue;
            st = hfx_server_listen_fd(srv, passed.fds[k].fd, shm_file[i], shm_size);
            if (st != HFX_OK) {
                /* The server logged why; what to change in the unit. */
                fprintf(stderr, "hfxd: cannot listen on socket %d ('%s') passed by systemd: "
                        "%s%s\n", passed.fds[k].fd, passed.fds[k].name, hfx_strerror(st),
                        st == HFX_E_INVALID || st == HFX_E_UNSUPPORTED
                            ? " (a socket unit for hfxd needs ListenStream= and Accept=no)"
                        : st == HFX_E_AUTH ? " (give hfxd --token-file)"
                                           : "");
                hfx_server_free(&srv);
                return 1;
            }
        }
        if (take[i])
            continue;
        st = shm_file[i] ? hfx_server_listen_shared(srv, listen[i], shm_file[i], shm_size)
                         : hfx_server_listen(srv, listen[i]);
        if (st != HFX_OK) {
            fprintf(stderr, "hfxd: cannot listen on %s%s%s: %s\n", listen[i],
                    shm_file[i] ? " with --shm-file " : "", shm_file[i] ? shm_file[i] : "",
                    hfx_strerror(st));
            hfx_server_free(&srv);
            return 1;
        }
    }
    /* Listeners are numbered as the server made them: a --listen systemd
     * can make several, fd: and serial: connections none; the server
     * keeps at most 16 (hfx_server_listen_fd), as many as MAX_LISTEN. */
    for (unsigned i = 0; i < MAX_LISTEN; i++) {
        uint16_t port = hfx_server_listener_port(srv, i);
        if (port) {
            snprintf(line, sizeof(line), "listener %u bound to port %u", i, port);
            log_stderr(&log, HFX_LOG_INFO, line);
        }
    }
    /* Printed at every verbosity: scripts wait for this line. */
    fprintf(stderr, "hfxd: ready\n");

    st = hfx_server_run(srv, stop[0]);
    struct hfx_server_stats stats;
    hfx_server_get_stats(srv, &stats);
    hfx_server_free(&srv);
    snprintf(line, sizeof(line),
             "exiting: %llu sessions, %llu frames received, %llu encoded, %llu dropped, "
             "%llu protocol errors, %llu wrong tokens, %llu streams over --max-memory, "
             "%llu connections evicted before HELLO, %llu refused for lack of descriptors",
             (unsigned long long)stats.sessions_total,
             (unsigned long long)stats.frames_received,
             (unsigned long long)stats.frames_encoded, (unsigned long long)stats.frames_dropped,
             (unsigned long long)stats.protocol_errors, (unsigned long long)stats.auth_failures,
             (unsigned long long)stats.streams_refused,
             (unsigned long long)stats.connections_evicted,
             (unsigned long long)stats.accept_failures);
    log_stderr(&log, HFX_LOG_INFO, line);
    close(stop[0]);
    close(stop[1]);
    return st == HFX_OK ? 0 : 1;
}
