/* SPDX-License-Identifier: MIT */
/*
 * The host's answer to every class of malformed input (docs/protocol.md
 * §8): the documented ERROR, then the connection closes, and a second
 * session that was running all along still encodes.
 */
#include <fcntl.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "hfx/h264.h"
#include "hfx/protocol.h"
#include "hfx/region.h"
#include "hfx/resource.h"
#include "server-fixture.h"
#include "util/clock.h"

#define W 64
#define H 64

static uint8_t frame_nv12[W * H * 3 / 2];

static void init_header(struct hfx_msg *m, uint16_t type, uint32_t stream)
{
    memset(m, 0, sizeof(*m));
    m->hdr.type = type;
    m->hdr.stream = stream;
}

static void send_frame(int fd, uint32_t stream, uint64_t id, uint32_t stride, size_t data_len)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_FRAME, stream);
    m.u.frame.frame_id = id;
    m.u.frame.source = HFX_SOURCE_INLINE;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].offset = 0;
    m.u.frame.planes[0].stride = stride;
    m.u.frame.planes[1].offset = (uint64_t)stride * H;
    m.u.frame.planes[1].stride = stride;
    raw_send(fd, &m, frame_nv12, data_len);
}

/* Expect ERROR with `code` on `fd`, then the close. */
static char last_error_text[HFX_MAX_TEXT + 1];

static void expect_error(int fd, enum hfx_status code)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 16];

    for (;;) {
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        if (m.hdr.type != HFX_MSG_CONFIGURED && m.hdr.type != HFX_MSG_WELCOME &&
            m.hdr.type != HFX_MSG_SHM_ALLOCATED)
            break;
    }
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_STATUS(m.u.error.code, code);
    CHECK(strlen(m.u.error.text) > 0);
    memcpy(last_error_text, m.u.error.text, sizeof(last_error_text));
    CHECK(raw_wait_closed(fd));
}

typedef void (*attack_fn)(int fd);

/* Run one attack on a fresh connection while a good session is open, and
 * prove the good one is unaffected. */
/* `says`: text the ERROR must contain (the field it names), or NULL.
 * shm_size: the listener's region 0 file (hfx_server_listen_shared), 0 for
 * none. */
static void run_attack_on(attack_fn attack, enum hfx_status code, const char *says,
                          uint64_t shm_size)
{
    struct fixture f;
    if (shm_size)
        fixture_start_shared(&f, NULL, shm_size);
    else
        fixture_start(&f, NULL);
    int good = fixture_good_session(&f);
    raw_check_alive(good, 1);
    int bad = fixture_raw_conn(&f);
    attack(bad);
    expect_error(bad, code);
    if (says && !strstr(last_error_text, says)) {
        fprintf(stderr, "ERROR text '%s' does not mention '%s'\n", last_error_text, says);
        CHECK(!"ERROR text names the field");
    }
    close(bad);
    raw_check_alive(good, 2);
    close(good);
    fixture_stop(&f);
}

static void run_attack(attack_fn attack, enum hfx_status code, const char *says)
{
    run_attack_on(attack, code, says, 0);
}

static void attack_bad_magic(int fd)
{
    static const uint8_t bytes[16] = {'N', 'O', 'P', 'E', 1, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void attack_version(int fd)
{
    struct hfx_msg m;
    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = 2;
    m.u.hello.max_version = 7;
    raw_send(fd, &m, NULL, 0);
}

static void attack_unknown_type(int fd)
{
    raw_handshake(fd);
    static const uint8_t bytes[16] = {0x48, 0x46, 0x58, 0x31, 0x77, 0x7f, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void attack_reserved_flags(int fd)
{
    raw_handshake(fd);
    /* PING (type 3) with flag bit 15 set. */
    static const uint8_t bytes[24] = {0x48, 0x46, 0x58, 0x31, 3, 0, 0, 0x80, 0, 0, 0, 0,
                                      8, 0, 0, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void attack_truncated_header(int fd)
{
    raw_handshake(fd);
    static const uint8_t bytes[9] = {0x48, 0x46, 0x58, 0x31, 3, 0, 0, 0, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
    shutdown(fd, SHUT_WR);
}

static void attack_truncated_payload(int fd)
{
    raw_handshake(fd);
    /* PING announcing 8 bytes, sending 3. */
    static const uint8_t bytes[19] = {0x48, 0x46, 0x58, 0x31, 3, 0, 0, 0, 0, 0, 0, 0,
                                      8, 0, 0, 0, 1, 2, 3};
    raw_send_bytes(fd, bytes, sizeof(bytes));
    shutdown(fd, SHUT_WR);
}

static void attack_short_payload(int fd)
{
    raw_handshake(fd);
    /* CONFIGURE whose length covers only 10 bytes of its 44-byte fixed part. */
    uint8_t bytes[26] = {0x48, 0x46, 0x58, 0x31, 0x00, 0x01, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void attack_too_large(int fd)
{
    raw_handshake(fd);
    static const uint8_t bytes[16] = {0x48, 0x46, 0x58, 0x31, 0x02, 0x01, 0, 0, 1, 0, 0, 0,
                                      0xff, 0xff, 0xff, 0xff};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void attack_handshake_too_large(int fd)
{
    /* Before WELCOME only small messages are accepted. */
    static const uint8_t bytes[16] = {0x48, 0x46, 0x58, 0x31, 1, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 1, 0};
    raw_send_bytes(fd, bytes, sizeof(bytes));
}

static void configure_with(int fd, uint32_t fourcc, uint32_t w, uint32_t h)
{
    struct hfx_msg m;
    make_configure(&m, 1, fourcc, w, h);
    raw_send(fd, &m, NULL, 0);
}

static void attack_zero_width(int fd)
{
    raw_handshake(fd);
    configure_with(fd, HFX_FORMAT_NV12, 0, 64);
}

static void attack_odd_height(int fd)
{
    raw_handshake(fd);
    configure_with(fd, HFX_FORMAT_NV12, 64, 63);
}

static void attack_huge(int fd)
{
    raw_handshake(fd);
    configure_with(fd, HFX_FORMAT_NV12, 65536, 65536);
}

static void attack_unknown_fourcc(int fd)
{
    raw_handshake(fd);
    configure_with(fd, HFX_FOURCC('Y', 'U', 'Y', '2'), 64, 64);
}

static void attack_stride_small(int fd)
{
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_frame(fd, 1, 7, W - 2, sizeof(frame_nv12));
}

static void attack_inline_short(int fd)
{
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_frame(fd, 1, 7, W, sizeof(frame_nv12) - 1);
}

static void attack_frame_before_configure(int fd)
{
    raw_handshake(fd);
    send_frame(fd, 1, 7, W, sizeof(frame_nv12));
}

static void attack_before_hello(int fd)
{
    struct hfx_msg m;
    init_header(&m, HFX_MSG_PING, 0);
    raw_send(fd, &m, NULL, 0);
}

static void attack_host_message(int fd)
{
    struct hfx_msg m;
    raw_handshake(fd);
    init_header(&m, HFX_MSG_WELCOME, 0);
    m.u.welcome.version = 1;
    m.u.welcome.max_payload = HFX_MAX_PAYLOAD_HANDSHAKE;
    m.u.welcome.max_streams = 1;
    m.u.welcome.window = 1;
    raw_send(fd, &m, NULL, 0);
}

/* FRAME 9 on stream 1 from region: the luma fits in 8192 bytes, the chroma
 * ends past them. */
static void send_frame_past_8192(int fd, uint32_t region)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_FRAME, 1);
    m.u.frame.frame_id = 9;
    m.u.frame.source = HFX_SOURCE_SHM;
    m.u.frame.region = region;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].offset = 4096;
    m.u.frame.planes[0].stride = W;
    m.u.frame.planes[1].offset = 4096 + W * H;
    m.u.frame.planes[1].stride = W;
    raw_send(fd, &m, NULL, 0);
}

static void attack_shm_out_of_range(int fd)
{
    /* SHM needs the descriptor passed, so this attack uses the unix
     * connection's SCM_RIGHTS. */
    struct hfx_msg m;
    int mfd = memfd_create("hfx-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    CHECK(mfd >= 0);
    CHECK(ftruncate(mfd, 8192) == 0);
    CHECK(fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
    init_header(&m, HFX_MSG_SHM_ATTACH, 0);
    m.u.shm_attach.region = 5;
    m.u.shm_attach.size = 8192;
    raw_send_fd(fd, &m, mfd);
    close(mfd);
    send_frame_past_8192(fd, 5);
}

static void attack_unknown_region(int fd)
{
    struct hfx_msg m;
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    init_header(&m, HFX_MSG_FRAME, 1);
    m.u.frame.source = HFX_SOURCE_SHM;
    m.u.frame.region = 77;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].stride = W;
    m.u.frame.planes[1].stride = W;
    raw_send(fd, &m, NULL, 0);
}

/* SHM_ALLOC (docs/protocol.md §7.2) of region for size bytes. */
static void send_alloc(int fd, uint32_t region, uint64_t size)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_SHM_ALLOC, 0);
    m.u.shm_attach.region = region;
    m.u.shm_attach.size = size;
    raw_send(fd, &m, NULL, 0);
}

/* Memory the host makes only for a client that asked for it in HELLO. */
static void attack_alloc_not_offered(int fd)
{
    raw_handshake(fd);
    send_alloc(fd, 1, 4096);
}

static void attack_alloc_twice(int fd)
{
    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_ALLOC);
    send_alloc(fd, 3, 4096);
    send_alloc(fd, 3, 4096);
}

/* At most 16 regions, made or attached. */
static void attack_alloc_seventeen(int fd)
{
    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_ALLOC);
    for (uint32_t i = 1; i <= 17; i++)
        send_alloc(fd, i, 4096);
}

/* A frame reaching past the memory the host made: as for SHM_ATTACH. */
static void attack_alloc_frame_past_end(int fd)
{
    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_ALLOC);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_alloc(fd, 5, 8192);
    send_frame_past_8192(fd, 5);
}

/* SHM_ALLOCATED is the host's answer, not a client's message. */
static void attack_client_allocated(int fd)
{
    struct hfx_msg m;

    raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_ALLOC);
    init_header(&m, HFX_MSG_SHM_ALLOCATED, 0);
    m.u.shm_attach.region = 1;
    m.u.shm_attach.size = 4096;
    raw_send(fd, &m, NULL, 0);
}

/* FRAME of W x H NV12 on stream 1, source SHM, region 0, with the two
 * planes at these offsets from the region's start. */
static void send_region0_frame(int fd, uint64_t id, uint64_t luma, uint64_t chroma)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_FRAME, 1);
    m.u.frame.frame_id = id;
    m.u.frame.source = HFX_SOURCE_SHM;
    m.u.frame.region = 0;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].offset = luma;
    m.u.frame.planes[0].stride = W;
    m.u.frame.planes[1].offset = chroma;
    m.u.frame.planes[1].stride = W;
    raw_send(fd, &m, NULL, 0);
}

/* Region 0 starts with the host's header: a plane there is refused before
 * a byte of it is read, whether it is the first plane... */
static void attack_region0_in_header(int fd)
{
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_region0_frame(fd, 9, 0, W * H);
}

/* ...or a later one reaching into its last byte (4095), with the luma in
 * the data area. */
static void attack_region0_chroma_in_header(int fd)
{
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_region0_frame(fd, 9, 2 * HFX_REGION_HEADER_SIZE, HFX_REGION_HEADER_SIZE - 1);
}

/* In the data area but past the end of the file (8192 bytes, the
 * smallest region): the same range check as an attached region. */
static void attack_region0_past_end(int fd)
{
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    send_region0_frame(fd, 9, HFX_REGION_HEADER_SIZE, HFX_REGION_HEADER_SIZE + W * H);
}

#define ATTACK(name, code, says)                                               \
    static void test_##name(void)                                              \
    {                                                                          \
        run_attack(attack_##name, code, says);                                 \
    }

/* The same on a listener with a region 0 file of shm_size bytes. */
#define ATTACK_SHARED(name, code, says, shm_size)                              \
    static void test_##name(void)                                              \
    {                                                                          \
        run_attack_on(attack_##name, code, says, shm_size);                    \
    }

ATTACK(bad_magic, HFX_E_BAD_MAGIC, "header: magic 0x45504f4e at offset 0")
ATTACK(version, HFX_E_VERSION, "HELLO: versions 2..7")
ATTACK(unknown_type, HFX_E_UNKNOWN_TYPE, "type")
ATTACK(reserved_flags, HFX_E_BAD_FLAGS, "flags")
ATTACK(truncated_header, HFX_E_TRUNCATED, "inside a message")
ATTACK(truncated_payload, HFX_E_TRUNCATED, "inside a message")
ATTACK(short_payload, HFX_E_TRUNCATED, "CONFIGURE: payload 10 bytes at offset 16")
ATTACK(too_large, HFX_E_TOO_LARGE, "header: length 4294967295 at offset 12")
ATTACK(handshake_too_large, HFX_E_TOO_LARGE, "over 4096")
ATTACK(zero_width, HFX_E_BAD_DIMENSIONS, "width")
ATTACK(odd_height, HFX_E_BAD_DIMENSIONS, "height 63")
ATTACK(huge, HFX_E_BAD_DIMENSIONS, "width 65536")
ATTACK(unknown_fourcc, HFX_E_BAD_FORMAT, "fourcc")
ATTACK(stride_small, HFX_E_BAD_STRIDE, "planes[0].stride 62")
ATTACK(inline_short, HFX_E_TRUNCATED, "planes[1]")
ATTACK(frame_before_configure, HFX_E_NOT_CONFIGURED, "before CONFIGURE")
ATTACK(before_hello, HFX_E_STATE, "before HELLO")
ATTACK(host_message, HFX_E_STATE, "WELCOME")
ATTACK(shm_out_of_range, HFX_E_SHM_RANGE, "planes[1] at offset 64 ends at 10240, past 8192")
ATTACK(unknown_region, HFX_E_SHM_RANGE, "no SHM region 77")
ATTACK(alloc_not_offered, HFX_E_UNSUPPORTED, "SHM_ALLOC: the client's HELLO did not offer")
ATTACK(alloc_twice, HFX_E_SHM_RANGE, "SHM_ALLOC: region 3 already attached")
ATTACK(alloc_seventeen, HFX_E_TOO_LARGE, "SHM_ALLOC: more than 16 regions")
ATTACK(alloc_frame_past_end, HFX_E_SHM_RANGE, "past 8192")
ATTACK(client_allocated, HFX_E_STATE, "SHM_ALLOCATED is sent by hosts")
ATTACK_SHARED(region0_in_header, HFX_E_SHM_RANGE,
              "FRAME 9: a plane in region 0's header (bytes 0..4095)", 1 << 20)
ATTACK_SHARED(region0_chroma_in_header, HFX_E_SHM_RANGE, "a plane in region 0's header", 1 << 20)
ATTACK_SHARED(region0_past_end, HFX_E_SHM_RANGE, "planes[1] at offset 64 ends at 10240, past 8192",
              HFX_REGION_MIN_SIZE)
/* The same frame on a listener that was given no file. */
static void test_region0_without_file(void)
{
    run_attack(attack_region0_past_end, HFX_E_SHM_RANGE, "FRAME 9: no SHM region 0");
}

/* A client that has the host make memory and never reads the answers.
 * Each SHM_ALLOCATED carries a descriptor; queued, it would hold one of
 * the host's, so the host reads nothing more from the connection while
 * one waits (docs/protocol.md §7.2): the host's descriptors stay bounded
 * however many requests are sent, and once the client reads, every
 * request is answered in order and the session goes on. */
static void test_alloc_without_reading(void)
{
    enum { N = 1000 };
    static uint8_t buf[1 << 16], requests[N * 2 * 64];
    size_t used = 0;
    struct fixture f;
    struct hfx_msg m;
    int fd, fds0, grown, in_flight = 0;

    fixture_start(&f, NULL);
    fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_ALLOC) & HFX_CAP_SHM_ALLOC);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    fds0 = check_count_fds();
    /* In one write: the socket takes a few hundred separate sends only
     * (each costs its own buffer), and the host is not reading. */
    for (int i = 0; i < 2 * N; i++) {
        size_t n = 0;
        init_header(&m, i % 2 ? HFX_MSG_SHM_DETACH : HFX_MSG_SHM_ALLOC, 0);
        if (i % 2) {
            m.u.shm_detach.region = 1;
        } else {
            m.u.shm_attach.region = 1;
            m.u.shm_attach.size = 4096;
        }
        CHECK_STATUS(hfx_msg_encode(&m, 0, requests + used, sizeof(requests) - used, &n), HFX_OK);
        used += n;
    }
    raw_send_bytes(fd, requests, used);
    /* Until the host has answered all it will before pausing. */
    for (int before = -1; in_flight != before;) {
        before = in_flight;
        usleep(200 * 1000);
        CHECK(ioctl(fd, FIONREAD, &in_flight) == 0);
    }
    in_flight /= HFX_HEADER_SIZE + 16;
    grown = check_count_fds() - fds0;
    printf("answers in flight when the host paused: %d of %d; host descriptors: +%d\n",
           in_flight, N, grown);
    CHECK(in_flight > 0 && in_flight < N);
    /* One queued answer's descriptor and one live region at most. */
    CHECK(grown <= 2);

    for (int i = 0; i < N; i++) {
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_SHM_ALLOCATED);
        CHECK_EQ_INT(m.u.shm_attach.region, 1);
    }
    raw_check_alive(fd, 1);
    close(fd);
    fixture_stop(&f);
}

/* HELLO offering every way of sharing memory; returns WELCOME's caps. */
static uint32_t hello_caps(int fd)
{
    return raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_SHM_FD | HFX_CAP_SHM_FILE);
}

/* WELCOME offers SHM_FILE exactly on a listener that has a region 0, and
 * SHM_ALLOC wherever descriptors pass. */
static void test_region0_caps(void)
{
    struct fixture f;
    uint32_t caps;
    int fd;

    fixture_start(&f, NULL);
    fd = fixture_raw_conn(&f);
    caps = hello_caps(fd);
    CHECK(caps & HFX_CAP_INLINE);
    CHECK(caps & HFX_CAP_SHM_FD);
    CHECK(caps & HFX_CAP_SHM_ALLOC); /* a unix connection: descriptors pass (§7.2) */
    CHECK(!(caps & HFX_CAP_SHM_FILE));
    close(fd);
    fixture_stop(&f);

    fixture_start_shared(&f, NULL, 1 << 20);
    fd = fixture_raw_conn(&f);
    caps = hello_caps(fd);
    CHECK(caps & HFX_CAP_INLINE);
    CHECK(caps & HFX_CAP_SHM_FD);
    CHECK(caps & HFX_CAP_SHM_FILE);
    close(fd);
    fixture_stop(&f);
}

/* The client's side of region 0, as QEMU has it: the same file mapped
 * read-write. Frames starting at the first byte of the data area, ending
 * at the region's last byte, and in between are encoded: with the refused
 * frames above, proof that the boundaries are where they should be. */
static void test_region0_frames(void)
{
    const uint64_t size = 64 * 1024;
    const uint64_t at[3] = {HFX_REGION_HEADER_SIZE, size - sizeof(frame_nv12),
                            HFX_REGION_HEADER_SIZE + 8192};
    static uint8_t buf[1 << 20];
    struct hfx_region_header h;
    uint8_t copy[HFX_REGION_HEADER_BYTES];
    struct fixture f;
    struct hfx_msg m;
    struct stat st;

    fixture_start_shared(&f, NULL, size);
    int rfd = open(f.shm_path, O_RDWR | O_CLOEXEC);
    CHECK(rfd >= 0);
    CHECK(fstat(rfd, &st) == 0);
    CHECK_EQ_INT(st.st_size, size);
    uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
    CHECK(map != MAP_FAILED);
    close(rfd);
    memcpy(copy, map, sizeof(copy));
    CHECK_STATUS(hfx_region_header_decode(copy, sizeof(copy), &h), HFX_OK);
    CHECK(h.size == size);

    int fd = fixture_raw_conn(&f);
    CHECK(hello_caps(fd) & HFX_CAP_SHM_FILE);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    for (unsigned i = 0; i < 3; i++) {
        memset(map + at[i], (int)(16 + i * 40), W * H);
        memset(map + at[i] + W * H, 0x80, W * H / 2);
        send_region0_frame(fd, i, at[i], at[i] + W * H);
        CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
        CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
        CHECK(m.u.packet.frame_id == i);
        CHECK(m.u.packet.data_len > 0);
    }
    close(fd);
    munmap(map, size);
    fixture_stop(&f);
}

static char listen_log[4096];

static void collect_log(void *user, enum hfx_log_level level, const char *msg)
{
    size_t n = strlen(listen_log);
    (void)user;
    (void)level;
    snprintf(listen_log + n, sizeof(listen_log) - n, "%s\n", msg);
}

/* hfx_server_listen_shared's answer about path, on a fresh socket in dir
 * (last_sock), with what it logged in listen_log. */
static char last_sock[128];
static unsigned n_listens;

static enum hfx_status listen_shared(struct hfx_server *srv, const char *dir, const char *path,
                                     uint64_t shm_size)
{
    char address[160];

    snprintf(last_sock, sizeof(last_sock), "%s/sock%u", dir, n_listens++);
    snprintf(address, sizeof(address), "unix:%s", last_sock);
    listen_log[0] = '\0';
    return hfx_server_listen_shared(srv, address, path, shm_size);
}

static void make_file(const char *path, uint64_t size, int fill)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    if (fill >= 0 && size) {
        uint8_t page[HFX_REGION_HEADER_SIZE * 2];
        size_t len = size < sizeof(page) ? (size_t)size : sizeof(page);
        memset(page, fill, sizeof(page));
        CHECK(pwrite(fd, page, len, 0) == (ssize_t)len);
    }
    close(fd);
}

/* The header page exactly as include/hfx/region.h lays it out: magic
 * HFXREGN0, version 1, header_size 4096, size, all little-endian, then
 * zeros to the end of the page. */
static void check_header_bytes(const char *path, uint64_t size)
{
    uint8_t page[HFX_REGION_HEADER_SIZE];
    uint8_t want[24] = {'H', 'F', 'X', 'R', 'E', 'G', 'N', '0', 1, 0, 0, 0, 0x00, 0x10, 0, 0};
    struct hfx_region_header h;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    for (int i = 0; i < 8; i++)
        want[16 + i] = (uint8_t)(size >> (8 * i));
    CHECK(fd >= 0);
    CHECK(pread(fd, page, sizeof(page), 0) == (ssize_t)sizeof(page));
    close(fd);
    CHECK(memcmp(page, want, sizeof(want)) == 0);
    for (size_t i = sizeof(want); i < sizeof(page); i++)
        if (page[i] != 0) {
            fprintf(stderr, "header byte %zu is 0x%02x\n", i, page[i]);
            CHECK(!"the rest of the header page is zero");
        }
    CHECK_STATUS(hfx_region_header_decode(page, sizeof(page), &h), HFX_OK);
    CHECK_EQ_INT(h.version, HFX_REGION_VERSION);
    CHECK_EQ_INT(h.header_size, HFX_REGION_HEADER_SIZE);
    CHECK(h.size == size);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    return (uint64_t)st.st_size;
}

/* A refusal logs the file's name and why, and leaves no listener. */
static void check_refused(const char *path, const char *says)
{
    struct stat st;

    if (!strstr(listen_log, path) || !strstr(listen_log, says)) {
        fprintf(stderr, "log: %s(wanted '%s' and '%s')\n", listen_log, path, says);
        CHECK(!"the refusal names the file and why");
    }
    CHECK(stat(last_sock, &st) != 0);
}

/* hfx_server_listen_shared and the region file: created (0600) with the
 * size asked for when missing or empty, kept at its size when it exists
 * (the header rewritten, the data area left alone), refused when the size
 * is out of range or the path cannot be opened as a file. */
static void test_listen_shared_file(void)
{
    struct hfx_server_options o = {.keyframe_min_interval_ms = -1, .log = collect_log};
    struct hfx_server *srv = NULL;
    char dir[] = "/tmp/hfx-region-XXXXXX";
    char path[96], other[96], sub[96];
    struct stat st;
    uint8_t b;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_STATUS(hfx_server_new(&o, &srv), HFX_OK);
    snprintf(path, sizeof(path), "%s/region", dir);

    /* Missing: created with the size asked for, owner-only. */
    CHECK_STATUS(listen_shared(srv, dir, path, 1 << 20), HFX_OK);
    CHECK(stat(path, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK(file_size(path) == 1 << 20);
    check_header_bytes(path, 1 << 20);
    CHECK(strstr(listen_log, path) != NULL);

    /* Existing, another size, garbage in the header page, data after it:
     * the size stays, the header page is rewritten whole, the data area is
     * not touched. */
    snprintf(other, sizeof(other), "%s/existing", dir);
    make_file(other, 3 << 20, 0xa5);
    CHECK_STATUS(listen_shared(srv, dir, other, 1 << 20), HFX_OK);
    CHECK(file_size(other) == 3 << 20);
    check_header_bytes(other, 3 << 20);
    int fd = open(other, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(pread(fd, &b, 1, HFX_REGION_HEADER_SIZE) == 1);
    CHECK_EQ_INT(b, 0xa5);
    close(fd);

    /* Empty counts as missing (QEMU may have created it). */
    make_file(other, 0, -1);
    CHECK_STATUS(listen_shared(srv, dir, other, 2 << 20), HFX_OK);
    CHECK(file_size(other) == 2 << 20);
    check_header_bytes(other, 2 << 20);
    unlink(other);

    /* Sizes out of range, asked for or found: refused, the file not
     * written. */
    snprintf(other, sizeof(other), "%s/small", dir);
    CHECK_STATUS(listen_shared(srv, dir, other, HFX_REGION_MIN_SIZE - 1), HFX_E_SHM_RANGE);
    check_refused(other, hfx_strerror(HFX_E_SHM_RANGE));
    CHECK_STATUS(listen_shared(srv, dir, other, HFX_MAX_SHM_SIZE + 1), HFX_E_SHM_RANGE);
    check_refused(other, hfx_strerror(HFX_E_SHM_RANGE));
    make_file(other, HFX_REGION_MIN_SIZE - 4096, 0x5a);
    CHECK_STATUS(listen_shared(srv, dir, other, 1 << 20), HFX_E_SHM_RANGE);
    check_refused(other, hfx_strerror(HFX_E_SHM_RANGE));
    CHECK(file_size(other) == HFX_REGION_MIN_SIZE - 4096);
    fd = open(other, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK(pread(fd, &b, 1, 0) == 1);
    CHECK_EQ_INT(b, 0x5a);
    close(fd);
    make_file(other, HFX_MAX_SHM_SIZE + 4096, -1); /* sparse */
    CHECK_STATUS(listen_shared(srv, dir, other, 1 << 20), HFX_E_SHM_RANGE);
    check_refused(other, hfx_strerror(HFX_E_SHM_RANGE));
    unlink(other);

    /* The smallest region is fine. */
    CHECK_STATUS(listen_shared(srv, dir, other, HFX_REGION_MIN_SIZE), HFX_OK);
    check_header_bytes(other, HFX_REGION_MIN_SIZE);
    unlink(other);

    /* Not openable as a regular file: a missing directory, a directory. */
    snprintf(sub, sizeof(sub), "%s/no-such-dir/region", dir);
    CHECK_STATUS(listen_shared(srv, dir, sub, 1 << 20), HFX_E_IO);
    check_refused(sub, "No such file or directory");
    CHECK_STATUS(listen_shared(srv, dir, dir, 1 << 20), HFX_E_IO);
    check_refused(dir, "Is a directory");

    hfx_server_free(&srv);
    unlink(path);
    for (unsigned i = 0; i < n_listens; i++) {
        char sock[160];
        snprintf(sock, sizeof(sock), "%s/sock%u", dir, i);
        unlink(sock);
    }
    CHECK(rmdir(dir) == 0);
}

static void test_token(void)
{
    struct fixture f;
    struct hfx_server_options o = {.token = "sesame", .keyframe_min_interval_ms = -1};
    struct hfx_msg m;
    uint8_t buf[2048];

    fixture_start(&f, &o);
    int bad = fixture_raw_conn(&f);
    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = m.u.hello.max_version = 1;
    m.u.hello.token_len = 6;
    memcpy(m.u.hello.token, "sesamE", 6);
    raw_send(bad, &m, NULL, 0);
    expect_error(bad, HFX_E_AUTH);
    close(bad);

    int good = fixture_raw_conn(&f);
    memcpy(m.u.hello.token, "sesame", 6);
    raw_send(good, &m, NULL, 0);
    CHECK(raw_recv(good, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_WELCOME);
    close(good);
    fixture_stop(&f);
}

static void test_busy(void)
{
    struct fixture f;
    struct hfx_server_options o = {.max_sessions = 1, .keyframe_min_interval_ms = -1};

    fixture_start(&f, &o);
    int first = fixture_good_session(&f);
    int second = fixture_raw_conn(&f);
    struct hfx_msg m;
    init_header(&m, HFX_MSG_HELLO, 0);
    m.u.hello.min_version = m.u.hello.max_version = 1;
    raw_send(second, &m, NULL, 0);
    expect_error(second, HFX_E_BUSY);
    close(second);
    raw_check_alive(first, 3);
    close(first);
    fixture_stop(&f);
}

static void test_tcp_public_needs_token(void)
{
    struct hfx_server *srv = NULL;
    struct hfx_server_options o = {.keyframe_min_interval_ms = -1};

    CHECK_STATUS(hfx_server_new(&o, &srv), HFX_OK);
    CHECK_STATUS(hfx_server_listen(srv, "tcp:0.0.0.0:0"), HFX_E_AUTH);
    CHECK_STATUS(hfx_server_listen(srv, "tcp:127.0.0.1:0"), HFX_OK);
    CHECK(hfx_server_listener_port(srv, 0) != 0);
    hfx_server_free(&srv);
}

/* A listening socket as systemd's socket unit makes it: blocking, bound by
 * someone else. family AF_UNIX binds path; AF_INET/AF_INET6 bind host
 * (port 0). */
static int make_listening(int family, int type, const char *where)
{
    int fd = socket(family, type | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    if (family == AF_UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", where);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    } else if (family == AF_INET) {
        struct sockaddr_in sa = {.sin_family = AF_INET};
        CHECK(inet_pton(AF_INET, where, &sa.sin_addr) == 1);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    } else {
        struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
        CHECK(inet_pton(AF_INET6, where, &sa.sin6_addr) == 1);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            return -1; /* no IPv6 here */
        }
    }
    if (type == SOCK_STREAM)
        CHECK(listen(fd, 8) == 0);
    return fd;
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* hfx_server_listen_fd refuses what is not a listening stream socket,
 * says what it got, and closes it; TCP beyond loopback needs a token also
 * when someone else bound the socket (docs/security.md). */
static void test_listen_fd_refusals(void)
{
    struct hfx_server_options o = {.keyframe_min_interval_ms = -1, .log = collect_log};
    struct hfx_server *srv = NULL;
    char dir[] = "/tmp/hfx-adopt-XXXXXX", path[96];
    int sv[2], pipefd[2], fd;

    CHECK(mkdtemp(dir) != NULL);
    CHECK_STATUS(hfx_server_new(&o, &srv), HFX_OK);

    snprintf(path, sizeof(path), "%s/dgram", dir);
    fd = make_listening(AF_UNIX, SOCK_DGRAM, path);
    listen_log[0] = '\0';
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_E_INVALID);
    CHECK(!fd_is_open(fd));
    CHECK(strstr(listen_log, "is not a listening stream socket") != NULL);
    CHECK(strstr(listen_log, "a datagram socket") != NULL);
    unlink(path);

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    listen_log[0] = '\0';
    CHECK_STATUS(hfx_server_listen_fd(srv, sv[0], NULL, 0), HFX_E_INVALID);
    CHECK(!fd_is_open(sv[0]));
    CHECK(strstr(listen_log, "a stream socket that is not listening") != NULL);
    close(sv[1]);

    CHECK(pipe(pipefd) == 0);
    listen_log[0] = '\0';
    CHECK_STATUS(hfx_server_listen_fd(srv, pipefd[0], NULL, 0), HFX_E_INVALID);
    CHECK(!fd_is_open(pipefd[0]));
    CHECK(strstr(listen_log, "not a socket") != NULL);
    close(pipefd[1]);

    /* Bound but never listen()ed: the socket a unit with Accept=yes does
     * not pass, but a supervisor might. */
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_E_INVALID);
    CHECK(!fd_is_open(fd));

    CHECK_STATUS(hfx_server_listen_fd(srv, -1, NULL, 0), HFX_E_INVALID);

    /* With a region file: a refused socket gets none made for it; a file
     * that cannot be made refuses the socket (closed, no listener). */
    char region[96];
    snprintf(region, sizeof(region), "%s/region", dir);
    snprintf(path, sizeof(path), "%s/dgram", dir);
    fd = make_listening(AF_UNIX, SOCK_DGRAM, path);
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, region, 1 << 20), HFX_E_INVALID);
    CHECK(access(region, F_OK) != 0);
    unlink(path);
    snprintf(path, sizeof(path), "%s/good", dir);
    fd = make_listening(AF_UNIX, SOCK_STREAM, path);
    snprintf(region, sizeof(region), "%s/no-such-dir/region", dir);
    listen_log[0] = '\0';
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, region, 1 << 20), HFX_E_IO);
    CHECK(!fd_is_open(fd));
    CHECK(strstr(listen_log, "no-such-dir/region") != NULL);
    unlink(path);

    /* Any address and the IPv6 any address are beyond loopback. */
    fd = make_listening(AF_INET, SOCK_STREAM, "0.0.0.0");
    listen_log[0] = '\0';
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_E_AUTH);
    CHECK(!fd_is_open(fd));
    CHECK(strstr(listen_log, "tcp:0.0.0.0:") != NULL);
    CHECK(strstr(listen_log, "needs a token") != NULL);
    fd = make_listening(AF_INET6, SOCK_STREAM, "::");
    if (fd >= 0) {
        CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_E_AUTH);
        CHECK(!fd_is_open(fd));
    }
    CHECK_EQ_INT(hfx_server_listener_port(srv, 0), 0);

    /* Loopback needs none, and its port is reported like a tcp: one's. */
    fd = make_listening(AF_INET, SOCK_STREAM, "127.0.0.1");
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_OK);
    CHECK(hfx_server_listener_port(srv, 0) != 0);
    hfx_server_free(&srv);
    CHECK(!fd_is_open(fd));

    /* With a token, any address is fine. */
    o.token = "sesame";
    CHECK_STATUS(hfx_server_new(&o, &srv), HFX_OK);
    fd = make_listening(AF_INET, SOCK_STREAM, "0.0.0.0");
    CHECK_STATUS(hfx_server_listen_fd(srv, fd, NULL, 0), HFX_OK);
    hfx_server_free(&srv);
    CHECK(rmdir(dir) == 0);
}

struct adopt {
    int unix_fd;
    char fd_address[32];
    char shm_path[96];
};

static void adopt_listeners(struct hfx_server *srv, void *user)
{
    struct adopt *a = user;
    CHECK_STATUS(hfx_server_listen_fd(srv, a->unix_fd, a->shm_path, 1 << 20), HFX_OK);
    CHECK_STATUS(hfx_server_listen(srv, a->fd_address), HFX_OK);
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    return fd;
}

/* Sockets someone else made are served: one through
 * hfx_server_listen_fd with a region 0 (WELCOME offers SHM_FILE), one as
 * fd:N (no region 0), both made non-blocking (a blocking accept would
 * stall the loop); their files are left to their creator. */
static void test_listen_fd_serves(void)
{
    struct fixture f;
    struct adopt a;
    char dir[] = "/tmp/hfx-adopt-XXXXXX", one[96], two[96];
    struct stat st;
    int c;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(one, sizeof(one), "%s/one.sock", dir);
    snprintf(two, sizeof(two), "%s/two.sock", dir);
    snprintf(a.shm_path, sizeof(a.shm_path), "%s/region", dir);
    a.unix_fd = make_listening(AF_UNIX, SOCK_STREAM, one);
    int second = make_listening(AF_UNIX, SOCK_STREAM, two);
    snprintf(a.fd_address, sizeof(a.fd_address), "fd:%d", second);
    fixture_start_hook(&f, NULL, adopt_listeners, &a);
    CHECK(fcntl(a.unix_fd, F_GETFL) & O_NONBLOCK);
    CHECK(fcntl(second, F_GETFL) & O_NONBLOCK);

    c = connect_unix(one);
    CHECK(hello_caps(c) & HFX_CAP_SHM_FILE);
    raw_configure(c, 1, HFX_FORMAT_NV12, W, H);
    close(c);
    c = connect_unix(two);
    CHECK(!(hello_caps(c) & HFX_CAP_SHM_FILE));
    close(c);

    fixture_stop(&f);
    CHECK(!fd_is_open(a.unix_fd));
    CHECK(!fd_is_open(second));
    CHECK(lstat(one, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK(lstat(two, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK(unlink(one) == 0 && unlink(two) == 0 && unlink(a.shm_path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* Send frame `id` on `stream` and return whether its packet is an IDR. */
static bool frame_is_idr(int fd, uint32_t stream, uint64_t id, bool force)
{
    struct hfx_msg m;
    static uint8_t buf[1 << 20];

    init_header(&m, HFX_MSG_FRAME, stream);
    m.hdr.flags = force ? HFX_FRAME_FLAG_FORCE_KEYFRAME : 0;
    m.u.frame.frame_id = id;
    m.u.frame.source = HFX_SOURCE_INLINE;
    m.u.frame.plane_count = 2;
    m.u.frame.planes[0].stride = W;
    m.u.frame.planes[1].offset = W * H;
    m.u.frame.planes[1].stride = W;
    /* Vary the picture so that frames are not all skips. */
    memset(frame_nv12, (int)(id * 13), W * H);
    raw_send(fd, &m, frame_nv12, sizeof(frame_nv12));
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    CHECK_EQ_INT(m.hdr.stream, stream);
    CHECK(m.u.packet.frame_id == id);
    /* The flag must agree with the NAL units themselves. */
    CHECK_EQ_INT(!!(m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME),
                 hfx_h264_is_idr(m.u.packet.data, m.u.packet.data_len));
    if (m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME)
        CHECK(hfx_h264_has_parameter_sets(m.u.packet.data, m.u.packet.data_len));
    return (m.hdr.flags & HFX_PACKET_FLAG_KEYFRAME) != 0;
}

static void request_keyframe(int fd, uint32_t stream)
{
    struct hfx_msg m;
    init_header(&m, HFX_MSG_REQUEST_KEYFRAME, stream);
    raw_send(fd, &m, NULL, 0);
}

/* Requests inside the minimum interval coalesce into one IDR, which comes
 * on the first frame after the interval; FRAME's force flag is a request
 * too. */
static void test_keyframe_throttle(void)
{
    struct fixture f;
    struct hfx_server_options o = {.keyframe_min_interval_ms = 400};

    fixture_start(&f, &o);
    int fd = fixture_good_session(&f);
    CHECK(frame_is_idr(fd, 1, 0, false));
    CHECK(!frame_is_idr(fd, 1, 1, false));
    request_keyframe(fd, 1);
    CHECK(frame_is_idr(fd, 1, 2, false));
    request_keyframe(fd, 1);
    request_keyframe(fd, 1);
    CHECK(!frame_is_idr(fd, 1, 3, false)); /* throttled */
    CHECK(!frame_is_idr(fd, 1, 4, true));  /* throttled, still pending */
    usleep(450000);
    CHECK(frame_is_idr(fd, 1, 5, false)); /* the coalesced request */
    CHECK(!frame_is_idr(fd, 1, 6, false)); /* and only one */
    usleep(450000);
    CHECK(frame_is_idr(fd, 1, 7, true));
    close(fd);
    fixture_stop(&f);
}

/* keyint_ms: an IDR at least every interval of wall-clock time, whatever
 * the frame count. */
static void test_keyframe_wall_clock(void)
{
    struct fixture f;
    struct hfx_msg m;
    uint8_t buf[HFX_MAX_HEAD];
    unsigned idrs = 0;

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    m.u.configure.keyint_frames = 1000;
    m.u.configure.keyint_ms = 200;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < 20; i++) {
        idrs += frame_is_idr(fd, 1, i, false);
        usleep(50000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The first IDR plus one per 200 ms that passed (an IDR lands on the
     * first frame past each deadline). Measured time, not assumed: a loaded
     * machine stretches the run. */
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    /* Frame period p; the last frame at 19p; IDRs 200..200+p ms apart. */
    double p = ms / 20.0;
    unsigned lo = 1 + (unsigned)(19.0 * p / (200.0 + p));
    unsigned hi = 2 + (unsigned)(19.0 * p / 200.0 + 0.999);
    fprintf(stderr, "%u IDRs in 20 frames over %.0f ms (expected %u..%u)\n", idrs, ms, lo, hi);
    CHECK(idrs >= lo && idrs <= hi);
    close(fd);
    fixture_stop(&f);
}

/* A new client on a connection that outlived the old one (a serial port):
 * its HELLO starts a new session, either on a live session (HELLO again) or
 * after the old client's BYE (which ends the session, not the connection:
 * the next guest process's HELLO must be heard). The old stream is gone; a
 * new one works. */
static void check_new_session_on_connection(bool bye)
{
    struct fixture f;
    struct hfx_msg m;
    uint8_t buf[HFX_MAX_HEAD];

    fixture_start(&f, NULL);
    int fd = fixture_good_session(&f);
    raw_check_alive(fd, 1);
    init_header(&m, HFX_MSG_BYE, 0);
    if (bye)
        raw_send(fd, &m, NULL, 0);
    raw_handshake(fd);
    send_frame(fd, 1, 2, W, sizeof(frame_nv12));
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_STATUS(m.u.error.code, HFX_E_NOT_CONFIGURED);
    close(fd);
    fd = fixture_good_session(&f);
    init_header(&m, HFX_MSG_BYE, 0);
    if (bye)
        raw_send(fd, &m, NULL, 0);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    raw_check_alive(fd, 3);
    close(fd);
    fixture_stop(&f);
}

static void test_hello_again(void)
{
    check_new_session_on_connection(false);
}

static void test_bye_then_hello(void)
{
    check_new_session_on_connection(true);
}

/* hfx_server_hand_over from this thread while the loop runs on the
 * fixture's: each connection handed over is served, one after another as
 * a chardev hands over a socketpair per guest open, the garbage of one not
 * touching the next. */
static void test_hand_over_while_running(void)
{
    struct fixture f;
    static const uint8_t garbage[64] = {0xde, 0xad};

    fixture_start(&f, NULL);
    for (int round = 0; round < 3; round++) {
        int sv[2];
        struct hfx_transport *t = NULL;

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_FD, &t), HFX_OK);
        CHECK_STATUS(hfx_server_hand_over(f.srv, t), HFX_OK);
        raw_handshake(sv[0]);
        raw_configure(sv[0], 1, HFX_FORMAT_NV12, GOOD_W, GOOD_H);
        raw_check_alive(sv[0], 1 + round);
        if (round == 1) {
            raw_send_bytes(sv[0], garbage, sizeof(garbage));
            expect_error(sv[0], HFX_E_BAD_MAGIC);
        }
        close(sv[0]);
    }
    fixture_stop(&f);
}

/* At most 16 connections wait for the loop; the next is refused (and
 * freed), and the server frees those it never served. */
static void test_hand_over_limit(void)
{
    struct hfx_server *srv = NULL;
    int peers[17];

    CHECK_STATUS(hfx_server_new(NULL, &srv), HFX_OK);
    for (int i = 0; i < 17; i++) {
        int sv[2];
        struct hfx_transport *t = NULL;

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        peers[i] = sv[0];
        CHECK_STATUS(hfx_transport_from_fd(sv[1], HFX_ADDR_FD, &t), HFX_OK);
        CHECK_STATUS(hfx_server_hand_over(srv, t), i < 16 ? HFX_OK : HFX_E_BUSY);
    }
    /* The refused one is closed at once; the others when the server goes. */
    CHECK(raw_wait_closed(peers[16]));
    hfx_server_free(&srv);
    for (int i = 0; i < 16; i++) {
        CHECK(raw_wait_closed(peers[i]));
        close(peers[i]);
    }
    close(peers[16]);
}

/* RESOURCE frames through a reader (hfx/resource.h): resource 7 is a
 * 64x64 BGRx picture with padded rows; everything else is unknown. */
#define RES_STRIDE (W * 4 + 64)
static uint8_t resource7[RES_STRIDE * H];

struct reader_calls {
    unsigned calls;
    struct hfx_resource_request last;
};

static enum hfx_status read_resource(void *user, const struct hfx_resource_request *req, char *why,
                                     size_t why_len)
{
    struct reader_calls *rc = user;
    const struct hfx_resource_image img = {
        .fourcc = HFX_FORMAT_BGRX,
        .width = W,
        .height = H,
        .stride = RES_STRIDE,
        .data = resource7,
        .size = sizeof(resource7),
    };

    rc->calls++;
    rc->last = *req;
    if (req->resource_id != 7) {
        snprintf(why, why_len, "no resource %u", req->resource_id);
        return HFX_E_SHM_RANGE;
    }
    return hfx_resource_copy(req, &img, why, why_len);
}

static void send_resource_frame(int fd, uint64_t id, uint32_t resource, uint32_t stride)
{
    struct hfx_msg m;

    init_header(&m, HFX_MSG_FRAME, 1);
    m.u.frame.frame_id = id;
    m.u.frame.source = HFX_SOURCE_RESOURCE;
    m.u.frame.region = resource;
    m.u.frame.plane_count = 1;
    m.u.frame.planes[0].stride = stride;
    raw_send(fd, &m, NULL, 0);
}

/* The answer for frame id: PACKET (true) or FRAME_DROPPED with reason. */
static bool resource_answer(int fd, uint64_t id, uint32_t reason)
{
    static uint8_t buf[1 << 20];
    struct hfx_msg m;

    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    if (m.hdr.type == HFX_MSG_PACKET) {
        CHECK(m.u.packet.frame_id == id);
        return true;
    }
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
    CHECK(m.u.dropped.frame_id == id);
    CHECK_EQ_INT(m.u.dropped.reason, reason);
    return false;
}

/* A host with a reader says RESOURCE; a frame of resource 7 is read with
 * the stream's picture and the frame's layout and encoded; an unknown
 * resource and a wrong stride are dropped (reason SOURCE) and the stream
 * goes on; a client that did not offer RESOURCE may not use it. */
static void test_resource_frames(void)
{
    struct reader_calls rc = {0};
    struct hfx_server_options opts = {.resources = {read_resource, &rc}};
    struct fixture f;
    int fd;

    memset(resource7, 0x40, sizeof(resource7));
    fixture_start(&f, &opts);
    fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_RESOURCE) & HFX_CAP_RESOURCE);
    raw_configure(fd, 1, HFX_FORMAT_BGRX, W, H);
    send_resource_frame(fd, 1, 7, RES_STRIDE);
    CHECK(resource_answer(fd, 1, 0));
    CHECK_EQ_INT(rc.calls, 1);
    CHECK_EQ_INT(rc.last.resource_id, 7);
    CHECK(rc.last.fourcc == HFX_FORMAT_BGRX);
    CHECK_EQ_INT(rc.last.width, W);
    CHECK_EQ_INT(rc.last.height, H);
    CHECK_EQ_INT(rc.last.stride, RES_STRIDE);
    CHECK(rc.last.offset == 0);
    send_resource_frame(fd, 2, 9, RES_STRIDE);
    CHECK(!resource_answer(fd, 2, HFX_DROP_SOURCE));
    send_resource_frame(fd, 3, 7, W * 4);
    CHECK(!resource_answer(fd, 3, HFX_DROP_SOURCE));
    send_resource_frame(fd, 4, 7, RES_STRIDE);
    CHECK(resource_answer(fd, 4, 0));
    CHECK_EQ_INT(rc.calls, 4);
    close(fd);

    fd = fixture_raw_conn(&f);
    CHECK(raw_handshake_caps(fd, HFX_CAP_INLINE) & HFX_CAP_RESOURCE);
    raw_configure(fd, 1, HFX_FORMAT_BGRX, W, H);
    send_resource_frame(fd, 1, 7, RES_STRIDE);
    expect_error(fd, HFX_E_UNSUPPORTED);
    close(fd);
    fixture_stop(&f);
    CHECK_EQ_INT(rc.calls, 4);
}

/* Without a reader a host neither offers nor takes RESOURCE frames. */
static void test_resource_not_served(void)
{
    struct fixture f;
    int fd;

    fixture_start(&f, NULL);
    fd = fixture_raw_conn(&f);
    CHECK(!(raw_handshake_caps(fd, HFX_CAP_INLINE | HFX_CAP_RESOURCE) & HFX_CAP_RESOURCE));
    raw_configure(fd, 1, HFX_FORMAT_BGRX, W, H);
    send_resource_frame(fd, 1, 7, RES_STRIDE);
    expect_error(fd, HFX_E_UNSUPPORTED);
    close(fd);
    fixture_stop(&f);
}

/* test_encode_delay_ms: a frame's answer waits that long, as behind a
 * stalled encoder, while the connection's PINGs are answered at once (the
 * I/O loop never waits for an encoder). */
static void test_encode_delay(void)
{
    static uint8_t picture[GOOD_W * GOOD_H * 3 / 2];
    static uint8_t buf[1 << 16];
    struct hfx_server_options opts = {.test_encode_delay_ms = 400};
    struct fixture f;
    struct hfx_msg m;
    int64_t t0, pong_ms, packet_ms;
    int fd;

    fixture_start(&f, &opts);
    fd = fixture_good_session(&f);
    make_good_frame(&m, 1);
    t0 = hfx_clock_ms();
    raw_send(fd, &m, picture, sizeof(picture));
    init_header(&m, HFX_MSG_PING, 0);
    m.u.ping.cookie = 77;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PONG);
    pong_ms = hfx_clock_ms() - t0;
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_PACKET);
    packet_ms = hfx_clock_ms() - t0;
    printf("PONG after %lld ms, PACKET after %lld ms\n", (long long)pong_ms, (long long)packet_ms);
    CHECK(packet_ms >= 400);
    CHECK(pong_ms < 300);
    close(fd);
    fixture_stop(&f);
}

/* keyint_frames: an IDR every N frames without any request. */
static void test_keyframe_every_n_frames(void)
{
    struct fixture f;
    struct hfx_msg m;
    uint8_t buf[HFX_MAX_HEAD];

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    m.u.configure.keyint_frames = 5;
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_CONFIGURED);
    for (uint64_t i = 0; i < 16; i++)
        CHECK_EQ_INT(frame_is_idr(fd, 1, i, false), i % 5 == 0);
    close(fd);
    fixture_stop(&f);
}

/* Several streams on one connection, each with its own encoder, format and
 * size; closing one leaves the other running. */
static void test_streams_per_connection(void)
{
    struct fixture f;
    struct hfx_msg m;
    static uint8_t buf[1 << 20];

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    raw_configure(fd, 3, HFX_FORMAT_NV12, W, H);
    for (uint64_t i = 0; i < 6; i++) {
        CHECK_EQ_INT(frame_is_idr(fd, 1 + 2 * (i % 2), i, false), i < 2);
    }
    init_header(&m, HFX_MSG_CLOSE, 1);
    raw_send(fd, &m, NULL, 0);
    CHECK(!frame_is_idr(fd, 3, 10, false));
    /* Frames on the closed stream are an error. */
    send_frame(fd, 1, 11, W, sizeof(frame_nv12));
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_STATUS(m.u.error.code, HFX_E_NOT_CONFIGURED);
    close(fd);
    fixture_stop(&f);
}

static void test_stream_over_limit(void)
{
    struct fixture f;
    struct hfx_server_options o = {.max_streams = 2, .keyframe_min_interval_ms = -1};

    fixture_start(&f, &o);
    int good = fixture_good_session(&f);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    configure_with(fd, HFX_FORMAT_NV12, W, H); /* stream 1 */
    struct hfx_msg m;
    make_configure(&m, 3, HFX_FORMAT_NV12, W, H);
    raw_send(fd, &m, NULL, 0);
    expect_error(fd, HFX_E_UNKNOWN_STREAM);
    close(fd);
    raw_check_alive(good, 4);
    close(good);
    fixture_stop(&f);
}

/* A connection that never sends HELLO is closed with ERROR TIMEOUT. */
static void test_handshake_timeout(void)
{
    struct fixture f;
    struct hfx_server_options o = {.handshake_timeout_ms = 300, .keyframe_min_interval_ms = -1};

    fixture_start(&f, &o);
    int good = fixture_good_session(&f);
    int silent = fixture_raw_conn(&f);
    expect_error(silent, HFX_E_TIMEOUT);
    close(silent);
    raw_check_alive(good, 5);
    close(good);
    fixture_stop(&f);
}

/* An encoder that cannot open is the stream's failure, not the peer's:
 * ERROR on that stream, the connection stays, a new CONFIGURE works. */
static void test_encoder_failure_ends_stream_only(void)
{
    struct fixture f;
    struct hfx_msg m;
    uint8_t buf[HFX_MAX_HEAD];

    fixture_start(&f, NULL);
    int fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 1, HFX_FORMAT_NV12, W, H);
    /* Known to the host, but there is no such hardware here. */
    strcpy(m.u.configure.encoder, "h264_nvenc");
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_ERROR);
    CHECK_EQ_INT(m.hdr.stream, 1);
    CHECK_STATUS(m.u.error.code, HFX_E_NO_ENCODER);
    /* The stream has no encoder: frames get their answer, the connection
     * stays (§5: a client pipelines FRAMEs before it can know). */
    send_frame(fd, 1, 1, W, sizeof(frame_nv12));
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_EQ_INT(m.hdr.type, HFX_MSG_FRAME_DROPPED);
    CHECK(m.u.dropped.frame_id == 1);
    CHECK_EQ_INT(m.u.dropped.reason, HFX_DROP_ENCODER);
    /* ...until it is configured again. */
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    CHECK(frame_is_idr(fd, 1, 2, false));
    close(fd);
    /* ...and on a connection that did not misbehave, a new CONFIGURE
     * after the failure works. */
    fd = fixture_raw_conn(&f);
    raw_handshake(fd);
    make_configure(&m, 2, HFX_FORMAT_NV12, W, H);
    strcpy(m.u.configure.encoder, "h264_nvenc");
    raw_send(fd, &m, NULL, 0);
    CHECK(raw_recv(fd, &m, buf, sizeof(buf)));
    CHECK_STATUS(m.u.error.code, HFX_E_NO_ENCODER);
    raw_configure(fd, 1, HFX_FORMAT_NV12, W, H);
    CHECK(frame_is_idr(fd, 1, 0, false));
    close(fd);
    fixture_stop(&f);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_bad_magic),
        CHECK_CASE(test_version),
        CHECK_CASE(test_unknown_type),
        CHECK_CASE(test_reserved_flags),
        CHECK_CASE(test_truncated_header),
        CHECK_CASE(test_truncated_payload),
        CHECK_CASE(test_short_payload),
        CHECK_CASE(test_too_large),
        CHECK_CASE(test_handshake_too_large),
        CHECK_CASE(test_zero_width),
        CHECK_CASE(test_odd_height),
        CHECK_CASE(test_huge),
        CHECK_CASE(test_unknown_fourcc),
        CHECK_CASE(test_stride_small),
        CHECK_CASE(test_inline_short),
        CHECK_CASE(test_frame_before_configure),
        CHECK_CASE(test_before_hello),
        CHECK_CASE(test_host_message),
        CHECK_CASE(test_shm_out_of_range),
        CHECK_CASE(test_unknown_region),
        CHECK_CASE(test_alloc_not_offered),
        CHECK_CASE(test_alloc_twice),
        CHECK_CASE(test_alloc_seventeen),
        CHECK_CASE(test_alloc_frame_past_end),
        CHECK_CASE(test_client_allocated),
        CHECK_CASE(test_region0_in_header),
        CHECK_CASE(test_region0_chroma_in_header),
        CHECK_CASE(test_region0_past_end),
        CHECK_CASE(test_region0_without_file),
        CHECK_CASE(test_region0_caps),
        CHECK_CASE(test_alloc_without_reading),
        CHECK_CASE(test_region0_frames),
        CHECK_CASE(test_listen_shared_file),
        CHECK_CASE(test_token),
        CHECK_CASE(test_busy),
        CHECK_CASE(test_tcp_public_needs_token),
        CHECK_CASE(test_listen_fd_refusals),
        CHECK_CASE(test_listen_fd_serves),
        CHECK_CASE(test_keyframe_throttle),
        CHECK_CASE(test_keyframe_wall_clock),
        CHECK_CASE(test_keyframe_every_n_frames),
        CHECK_CASE(test_hello_again),
        CHECK_CASE(test_bye_then_hello),
        CHECK_CASE(test_hand_over_while_running),
        CHECK_CASE(test_hand_over_limit),
        CHECK_CASE(test_resource_frames),
        CHECK_CASE(test_resource_not_served),
        CHECK_CASE(test_encode_delay),
        CHECK_CASE(test_streams_per_connection),
        CHECK_CASE(test_stream_over_limit),
        CHECK_CASE(test_handshake_timeout),
        CHECK_CASE(test_encoder_failure_ends_stream_only),
    };
    memset(frame_nv12, 0x80, sizeof(frame_nv12));
    av_log_set_level(AV_LOG_QUIET); /* encoders probed by `auto` log failures */
    return check_run(cases, CHECK_COUNT(cases));
}
