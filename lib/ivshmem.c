/* SPDX-License-Identifier: MIT */
/*
 * Region 0 seen from a guest (include/hfx/region.h, docs/protocol.md §7.1):
 * BAR 2 of QEMU's ivshmem-plain device (PCI 1af4:1110), which exposes the
 * file hfxd maps with --shm-file. No kernel driver is needed: the BAR is
 * mapped through sysfs (SYS/bus/pci/devices/ADDR/resource2, or its
 * write-combining variant where the kernel offers one) after enabling the
 * device; that needs root, as any direct PCI access does. One process at a
 * time uses a device: the resource file is flock()ed, because two encoders
 * writing frames into one data area would overwrite each other's frames.
 */
#include "hfx/region.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/text.h"

#define PCI_DEVICES "/bus/pci/devices"
#define IVSHMEM_VENDOR 0x1af4u
#define IVSHMEM_DEVICE 0x1110u

/* A sysfs attribute such as "0x1af4\n", at most 31 bytes. */
static bool read_hex(const char *dir, const char *name, unsigned long long *out)
{
    char path[PATH_MAX], buf[32], *end;
    size_t n;

    /* One byte kept for the terminator. */
    if (!hfx_text_format(path, sizeof(path), "%s/%s", dir, name) ||
        !hfx_text_read_file(path, buf, sizeof(buf) - 1, &n) || n == 0)
        return false;
    buf[n] = '\0';
    errno = 0;
    *out = strtoull(buf, &end, 16);
    return errno == 0 && end != buf && (*end == '\0' || *end == '\n');
}

static bool is_ivshmem(const char *dir)
{
    unsigned long long vendor = 0, device = 0;

    return read_hex(dir, "vendor", &vendor) && read_hex(dir, "device", &device) &&
           vendor == IVSHMEM_VENDOR && device == IVSHMEM_DEVICE;
}

/* A device nobody has enabled does not decode its BAR: reads would come
 * back as all ones and writes vanish. */
static enum hfx_status enable_device(const char *dir, char *text, size_t cap)
{
    unsigned long long enabled = 0;
    char path[PATH_MAX];
    int fd, err;

    if (read_hex(dir, "enable", &enabled) && enabled)
        return HFX_OK;
    if (!hfx_text_format(path, sizeof(path), "%s/enable", dir))
        return HFX_E_TOO_LARGE;
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0 && write(fd, "1", 1) == 1 && close(fd) == 0)
        return HFX_OK;
    err = errno;
    if (fd >= 0)
        close(fd);
    hfx_text_format(text, cap, "cannot enable %s: %s", dir, strerror(err));
    return HFX_E_IO;
}

/* Map BAR 2 of the ivshmem device in dir and check the host's header. */
static enum hfx_status open_device(const char *dir, struct hfx_ivshmem **out, char *text,
                                   size_t cap)
{
    uint8_t copy[HFX_REGION_HEADER_BYTES];
    struct hfx_region_header h;
    struct hfx_ivshmem *r;
    enum hfx_status st;
    struct stat sb;

    st = enable_device(dir, text, cap);
    if (st != HFX_OK)
        return st;
    r = calloc(1, sizeof(*r));
    if (!r)
        return HFX_E_NOMEM;
    r->fd = -1;
    /* The write-combining mapping where the kernel offers one. */
    if ((!hfx_text_format(r->path, sizeof(r->path), "%s/resource2_wc", dir) ||
         access(r->path, F_OK) != 0) &&
        !hfx_text_format(r->path, sizeof(r->path), "%s/resource2", dir)) {
        hfx_ivshmem_close(&r);
        return HFX_E_TOO_LARGE;
    }
    r->fd = open(r->path, O_RDWR | O_CLOEXEC);
    if (r->fd < 0 || fstat(r->fd, &sb) != 0)
        goto io_failed;
    /* Checked before mmap: an empty file cannot be mapped, and errno would
     * not say why. */
    r->size = sb.st_size > 0 ? (size_t)sb.st_size : 0;
    if (r->size < sizeof(copy)) {
        hfx_text_format(text, cap, "%s holds no hfx region header (too small)", r->path);
        hfx_ivshmem_close(&r);
        return HFX_E_TRUNCATED;
    }
    if (flock(r->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK)
            goto io_failed;
        hfx_text_format(text, cap, "%s is in use by another encoder", r->path);
        hfx_ivshmem_close(&r);
        return HFX_E_BUSY;
    }
    r->data = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (r->data == MAP_FAILED) {
        r->data = NULL;
        goto io_failed;
    }
    /* The host writes the header: read a copy once, as the protocol asks of
     * anything read from shared memory. */
    memcpy(copy, r->data, sizeof(copy));
    st = hfx_region_header_decode(copy, sizeof(copy), &h);
    if (st != HFX_OK) {
        hfx_text_format(
            text, cap,
            "%s holds no hfx region header (%s): is hfxd running with --shm-file on the file "
            "behind this device?",
            r->path, hfx_strerror(st));
        hfx_ivshmem_close(&r);
        return st;
    }
    if (h.size != r->size) {
        hfx_text_format(text, cap, "%s: the header says %llu bytes, the BAR has %zu", r->path,
                        (unsigned long long)h.size, r->size);
        hfx_ivshmem_close(&r);
        return HFX_E_SHM_RANGE;
    }
    r->data_offset = h.header_size;
    *out = r;
    return HFX_OK;

io_failed:
    hfx_text_format(text, cap, "cannot map %s: %s", r->path, strerror(errno));
    hfx_ivshmem_close(&r);
    return HFX_E_IO;
}

enum hfx_status hfx_ivshmem_open(const struct hfx_discover_roots *roots, const char *device,
                                 struct hfx_ivshmem **out, char *error_text, size_t error_cap)
{
    const char *sys = roots && roots->sys ? roots->sys : "/sys";
    char devices[PATH_MAX], dir[PATH_MAX];
    enum hfx_status st = HFX_E_ADDRESS;
    struct dirent *ent;
    DIR *d;

    hfx_text_format(error_text, error_cap, "%s", "");
    if (!out)
        return HFX_E_INVALID;
    *out = NULL;
    if (!device || !device[0])
        return HFX_E_INVALID;
    if (!hfx_text_format(devices, sizeof(devices), "%s%s", sys, PCI_DEVICES))
        return HFX_E_TOO_LARGE;

    if (strcmp(device, "auto") != 0) {
        /* A PCI address names an entry of SYS/bus/pci/devices; a path is a
         * device directory. No "..": a name must not walk out of sysfs. */
        if (device[0] != '/' && (strchr(device, '/') || strcmp(device, "..") == 0)) {
            hfx_text_format(error_text, error_cap, "%s is not a PCI address or a directory",
                            device);
            return HFX_E_ADDRESS;
        }
        if (!(device[0] == '/' ? hfx_text_format(dir, sizeof(dir), "%s", device)
                               : hfx_text_format(dir, sizeof(dir), "%s/%s", devices, device)))
            return HFX_E_TOO_LARGE;
        if (!is_ivshmem(dir)) {
            hfx_text_format(error_text, error_cap, "%s is not an ivshmem device (PCI %04x:%04x)",
                            dir, IVSHMEM_VENDOR, IVSHMEM_DEVICE);
            return HFX_E_ADDRESS;
        }
        return open_device(dir, out, error_text, error_cap);
    }

    /* auto: every ivshmem device in turn, the first with an hfx header wins;
     * the error is the last candidate's. */
    d = opendir(devices);
    hfx_text_format(error_text, error_cap, "no ivshmem device (PCI %04x:%04x) in %s",
                    IVSHMEM_VENDOR, IVSHMEM_DEVICE, devices);
    while (d && (ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        if (!hfx_text_format(dir, sizeof(dir), "%s/%s", devices, ent->d_name))
            continue;
        if (!is_ivshmem(dir))
            continue;
        st = open_device(dir, out, error_text, error_cap);
        if (st == HFX_OK)
            break;
    }
    if (d)
        closedir(d);
    return st;
}

void hfx_ivshmem_close(struct hfx_ivshmem **r)
{
    if (!r || !*r)
        return;
    if ((*r)->data)
        munmap((*r)->data, (*r)->size);
    if ((*r)->fd >= 0)
        close((*r)->fd); /* and with it the flock */
    free(*r);
    *r = NULL;
}
