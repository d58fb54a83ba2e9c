/* SPDX-License-Identifier: MIT */
/*
 * bench/guest-io: the parts of a guest's cost per frame that are not the
 * encode, each measured alone, inside a guest (bench/run-vm-offload):
 *
 *   copy        a frame copied into a fresh heap block: the copy lib/conn.c
 *               makes of the part of an INLINE FRAME message that the port
 *               did not take at once (a virtio-serial port takes at most
 *               32 KiB per write, so that is nearly the whole frame)
 *   bar-copy    a frame copied into the ivshmem BAR (PCI 1af4:1110,
 *               sysfs resource2, after writing 1 to its enable file), slot
 *               after slot in the data area after hfxd's header page, as
 *               vsockenc places them: the copy into shared memory an SHM
 *               frame costs when the guest did not render there
 *   port-write  the frame's bytes written to the virtio-serial port
 *               org.helix.frame-export with blocking writes, to a plain
 *               reader on the host: the transport alone, without protocol
 *               or encode
 *
 * The source is SOURCE_FRAMES pre-rendered NV12 frames of the hfx test
 * pattern, cycled, as in gst-pipeline.c: bigger than any cache together, as
 * a pipeline's frames are. Prints one line
 *   result mode=M size=WxH frames=N seconds=S ms_per_frame=X mb_per_s=Y
 * or "result mode=M size=WxH error=TEXT" with exit status 1.
 *
 * Usage: guest-io copy|bar-copy|port-write WxH FRAMES
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-util.h"
#include "hfx/region.h"
#include "pattern.h"

#define SOURCE_FRAMES 8
#define PORT_NAME "org.helix.frame-export"
#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110
#define MAX_PATH 512
#define MAX_ERROR 256

struct job {
    const char *mode;
    unsigned w, h, frames;
    struct hfx_image src[SOURCE_FRAMES];
    char error[MAX_ERROR];
};

/* Records "WHAT: strerror(errno)" as the job's error; returns -1. */
static int fail(struct job *j, const char *what)
{
    snprintf(j->error, sizeof(j->error), "%s: %s", what, strerror(errno));
    return -1;
}

/* "@mark begin" / "@mark end" around the timed part, written at once: a
 * watcher on the host samples CPU counters when it sees them (as with
 * gst-pipeline --one). Called outside the timed part. */
static void mark(const char *what)
{
    printf("@mark %s\n", what);
    fflush(stdout);
}

/* A sysfs file's first line as a number (hex with 0x, as vendor/device). */
static long read_number(const char *path)
{
    char line[64];
    long v = -1;
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    if (fgets(line, sizeof(line), f))
        v = strtol(line, NULL, 0);
    fclose(f);
    return v;
}

static int copy_heap(struct job *j, double *seconds)
{
    size_t size = j->src[0].size;
    double t0 = 0;

    /* The first SOURCE_FRAMES copies are not timed: glibc maps the first
     * big blocks and only then keeps them in the heap, as it does for a
     * pipeline that has run for a while. */
    for (unsigned i = 0; i < j->frames + SOURCE_FRAMES; i++) {
        if (i == SOURCE_FRAMES) {
            mark("begin");
            t0 = now_s();
        }
        /* malloc and free every frame, as conn.c's queue_rest and flush do. */
        unsigned char *dst = malloc(size);
        if (!dst)
            return fail(j, "malloc");
        memcpy(dst, j->src[i % SOURCE_FRAMES].base, size);
        /* Keep the copy from being optimised away. */
        __asm__ volatile("" : : "r"(dst) : "memory");
        free(dst);
    }
    *seconds = now_s() - t0;
    mark("end");
    return 0;
}

static int copy_bar(struct job *j, double *seconds)
{
    char dev[MAX_PATH] = "", path[MAX_PATH + 32];
    struct dirent *e;
    DIR *d = opendir("/sys/bus/pci/devices");

    if (!d)
        return fail(j, "/sys/bus/pci/devices");
    while (!dev[0] && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
        long vendor = read_number(path);
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
        if (vendor == IVSHMEM_VENDOR && read_number(path) == IVSHMEM_DEVICE)
            snprintf(dev, sizeof(dev), "/sys/bus/pci/devices/%s", e->d_name);
    }
    closedir(d);
    if (!dev[0]) {
        snprintf(j->error, sizeof(j->error), "no ivshmem device (PCI 1af4:1110)");
        return -1;
    }
    /* No driver binds ivshmem-plain, so its memory decoding is off until
     * someone enables the device. */
    snprintf(path, sizeof(path), "%s/enable", dev);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, "1", 1) != 1) {
        if (fd >= 0)
            close(fd);
        return fail(j, path);
    }
    close(fd);
    snprintf(path, sizeof(path), "%s/resource2", dev);
    fd = open(path, O_RDWR);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return fail(j, path);
    }
    size_t size = j->src[0].size, bar = (size_t)st.st_size;
    /* The header page is hfxd's (docs/protocol.md 7.1): a later vsockenc
     * in this guest needs it intact. */
    size_t base = HFX_REGION_HEADER_SIZE;
    size_t slots = bar > base ? (bar - base) / size : 0;
    if (slots == 0) {
        close(fd);
        snprintf(j->error, sizeof(j->error), "BAR of %zu bytes is smaller than a frame", bar);
        return -1;
    }
    unsigned char *map = mmap(NULL, bar, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(j, "mmap resource2");
    /* Untimed: the first write to each page of the BAR makes the host
     * allocate it in the shared file; a pool reuses its slots, so that
     * happens once per boot, not per frame. */
    memset(map + base, 0, slots * size);
    mark("begin");
    double t0 = now_s();
    for (unsigned i = 0; i < j->frames; i++)
        memcpy(map + base + (i % slots) * size, j->src[i % SOURCE_FRAMES].base, size);
    *seconds = now_s() - t0;
    mark("end");
    munmap(map, bar);
    return 0;
}

/* /dev/NAME of the virtio-serial port called PORT_NAME (no udev in the
 * guest, so no /dev/virtio-ports/ link: look through sysfs). */
static int find_port(char *out, size_t n)
{
    char path[MAX_PATH], name[128];
    struct dirent *e;
    DIR *d = opendir("/sys/class/virtio-ports");
    int found = 0;

    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(name, sizeof(name), f)) {
            name[strcspn(name, "\n")] = '\0';
            if (strcmp(name, PORT_NAME) == 0) {
                snprintf(out, n, "/dev/%s", e->d_name);
                found = 1;
            }
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static int port_write(struct job *j, double *seconds)
{
    char dev[MAX_PATH];
    size_t size = j->src[0].size;

    if (!find_port(dev, sizeof(dev))) {
        snprintf(j->error, sizeof(j->error), "no virtio-serial port named %s", PORT_NAME);
        return -1;
    }
    int fd = open(dev, O_WRONLY | O_NOCTTY);
    if (fd < 0)
        return fail(j, dev);
    mark("begin");
    double t0 = now_s();
    for (unsigned i = 0; i < j->frames; i++) {
        const unsigned char *p = j->src[i % SOURCE_FRAMES].base;
        size_t done = 0;
        while (done < size) {
            ssize_t k = write(fd, p + done, size - done);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                close(fd);
                return fail(j, "write to the port");
            }
            done += (size_t)k;
        }
    }
    *seconds = now_s() - t0;
    mark("end");
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    static struct job j;
    double seconds = 0;
    int rc = -1;

    if (argc != 4 || sscanf(argv[2], "%ux%u", &j.w, &j.h) != 2 ||
        (j.frames = (unsigned)atoi(argv[3])) == 0) {
        fprintf(stderr, "usage: guest-io copy|bar-copy|port-write WxH FRAMES\n");
        return 2;
    }
    j.mode = argv[1];
    for (int i = 0; i < SOURCE_FRAMES; i++) {
        if (hfx_image_alloc(&j.src[i], HFX_FORMAT_NV12, j.w, j.h) != HFX_OK) {
            fprintf(stderr, "guest-io: bad size %s\n", argv[2]);
            return 2;
        }
        hfx_pattern_fill(&j.src[i], (uint64_t)i * 7);
    }
    if (strcmp(j.mode, "copy") == 0)
        rc = copy_heap(&j, &seconds);
    else if (strcmp(j.mode, "bar-copy") == 0)
        rc = copy_bar(&j, &seconds);
    else if (strcmp(j.mode, "port-write") == 0)
        rc = port_write(&j, &seconds);
    else
        snprintf(j.error, sizeof(j.error), "unknown mode (copy, bar-copy, port-write)");
    printf("result mode=%s size=%ux%u", j.mode, j.w, j.h);
    if (rc == 0)
        printf(" frames=%u seconds=%.4f ms_per_frame=%.3f mb_per_s=%.1f\n", j.frames, seconds,
               seconds * 1000.0 / j.frames, (double)j.src[0].size * j.frames / seconds / 1e6);
    else
        printf(" error=%s\n", j.error);
    for (int i = 0; i < SOURCE_FRAMES; i++)
        hfx_image_release(&j.src[i]);
    return rc == 0 ? 0 : 1;
}
