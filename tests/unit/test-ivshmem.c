/* SPDX-License-Identifier: MIT */
/*
 * hfx_ivshmem_open (lib/ivshmem.c): region 0 found and mapped in a fake
 * sysfs tree (SYS/bus/pci/devices/ADDR with vendor, device, enable and a
 * regular file as resource2), one test per way a device can be wrong.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfx/region.h"
#include "check.h"

#define SIZE (64u * 1024u)

struct tree {
    char root[64];    /* the fake SYS */
    char devices[128]; /* SYS/bus/pci/devices */
    struct hfx_discover_roots roots;
};

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static void read_file(const char *dir, const char *name, char *out, size_t cap)
{
    char path[PATH_MAX];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    n = read(fd, out, cap - 1);
    CHECK(n >= 0);
    out[n] = '\0';
    close(fd);
}

static void tree_new(struct tree *t)
{
    char path[PATH_MAX];

    snprintf(t->root, sizeof(t->root), "/tmp/hfx-ivshmem-XXXXXX");
    CHECK(mkdtemp(t->root) != NULL);
    snprintf(path, sizeof(path), "%s/bus", t->root);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/bus/pci", t->root);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(t->devices, sizeof(t->devices), "%s/bus/pci/devices", t->root);
    CHECK(mkdir(t->devices, 0700) == 0);
    t->roots.sys = t->root;
    t->roots.dev = NULL;
}

static void tree_free(struct tree *t)
{
    char cmd[PATH_MAX + 16];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
    CHECK(system(cmd) == 0);
}

/* A BAR file of file_size bytes whose header says header_size (0: none). */
static void write_bar(const char *dir, const char *name, size_t file_size, uint64_t header_size)
{
    uint8_t *buf = calloc(1, file_size ? file_size : 1);

    CHECK(buf != NULL);
    if (header_size) {
        struct hfx_region_header h = hfx_region_header_for(header_size);
        CHECK_STATUS(hfx_region_header_encode(&h, buf, file_size), HFX_OK);
    }
    write_file(dir, name, buf, file_size);
    free(buf);
}

/* SYS/bus/pci/devices/addr as a PCI device vendor:device with a BAR. */
static void add_device(struct tree *t, const char *addr, const char *vendor, const char *device,
                       size_t file_size, uint64_t header_size, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/%s", t->devices, addr);
    CHECK(mkdir(dir, 0700) == 0);
    write_file(dir, "vendor", vendor, strlen(vendor));
    write_file(dir, "device", device, strlen(device));
    write_file(dir, "enable", "0\n", 2);
    write_bar(dir, "resource2", file_size, header_size);
}

static enum hfx_status open_it(struct tree *t, const char *device, struct hfx_ivshmem **r,
                               char *why, size_t cap)
{
    enum hfx_status st = hfx_ivshmem_open(&t->roots, device, r, why, cap);

    if (st != HFX_OK)
        CHECK(*r == NULL);
    return st;
}

static void test_auto_maps_the_hfx_device(void)
{
    struct tree t;
    struct hfx_ivshmem *r = NULL;
    char dir[PATH_MAX], other[PATH_MAX], bar[PATH_MAX + 16], text[16], why[512];
    uint8_t *host;
    int fd;

    tree_new(&t);
    /* a virtio device of the same vendor, and the hfx region */
    add_device(&t, "0000:00:02.0", "0x1af4\n", "0x1000\n", SIZE, SIZE, other, sizeof(other));
    add_device(&t, "0000:00:03.0", "0x1af4\n", "0x1110\n", SIZE, SIZE, dir, sizeof(dir));
    CHECK_STATUS(open_it(&t, "auto", &r, why, sizeof(why)), HFX_OK);
    CHECK(strstr(r->path, "0000:00:03.0/resource2") != NULL);
    CHECK_EQ_INT(r->size, SIZE);
    CHECK_EQ_INT(r->data_offset, HFX_REGION_HEADER_SIZE);
    CHECK(fcntl(r->fd, F_GETFD) & FD_CLOEXEC);
    CHECK(memcmp(r->data, HFX_REGION_MAGIC, 8) == 0);
    /* enabled, as sysfs wants before the BAR decodes */
    read_file(dir, "enable", text, sizeof(text));
    CHECK(text[0] == '1');
    read_file(other, "enable", text, sizeof(text));
    CHECK(text[0] == '0');
    /* writes reach the file the host maps */
    snprintf(bar, sizeof(bar), "%s/resource2", dir);
    fd = open(bar, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    host = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(host != MAP_FAILED);
    close(fd);
    r->data[HFX_REGION_HEADER_SIZE] = 0x42;
    r->data[SIZE - 1] = 0x24;
    CHECK_EQ_INT(host[HFX_REGION_HEADER_SIZE], 0x42);
    CHECK_EQ_INT(host[SIZE - 1], 0x24);
    munmap(host, SIZE);
    hfx_ivshmem_close(&r);
    CHECK(r == NULL);
    hfx_ivshmem_close(&r);
    hfx_ivshmem_close(NULL);

    /* by PCI address, and by directory; the write-combining BAR first */
    write_bar(dir, "resource2_wc", SIZE, SIZE);
    CHECK_STATUS(open_it(&t, "0000:00:03.0", &r, why, sizeof(why)), HFX_OK);
    CHECK(strstr(r->path, "/resource2_wc") != NULL);
    hfx_ivshmem_close(&r);
    CHECK_STATUS(open_it(&t, dir, &r, NULL, 0), HFX_OK);
    hfx_ivshmem_close(&r);
    tree_free(&t);
}

static void test_one_process_at_a_time(void)
{
    struct tree t;
    struct hfx_ivshmem *a = NULL, *b = NULL;
    char dir[PATH_MAX], why[512];

    tree_new(&t);
    add_device(&t, "0000:00:03.0", "0x1af4\n", "0x1110\n", SIZE, SIZE, dir, sizeof(dir));
    CHECK_STATUS(open_it(&t, "auto", &a, why, sizeof(why)), HFX_OK);
    CHECK_STATUS(open_it(&t, "auto", &b, why, sizeof(why)), HFX_E_BUSY);
    CHECK(strstr(why, "in use") != NULL);
    hfx_ivshmem_close(&a);
    CHECK_STATUS(open_it(&t, "auto", &b, why, sizeof(why)), HFX_OK);
    hfx_ivshmem_close(&b);
    tree_free(&t);
}

static void test_wrong_devices(void)
{
    struct tree t;
    struct hfx_ivshmem *r = NULL;
    char dir[PATH_MAX], why[512];

    tree_new(&t);
    /* nothing there */
    CHECK_STATUS(open_it(&t, "auto", &r, why, sizeof(why)), HFX_E_ADDRESS);
    CHECK(strstr(why, "no ivshmem device") != NULL);
    CHECK_STATUS(open_it(&t, "0000:00:09.0", &r, why, sizeof(why)), HFX_E_ADDRESS);
    CHECK(strstr(why, "not an ivshmem device") != NULL);
    /* names that would leave SYS/bus/pci/devices */
    CHECK_STATUS(open_it(&t, "..", &r, why, sizeof(why)), HFX_E_ADDRESS);
    CHECK_STATUS(open_it(&t, "../../x", &r, why, sizeof(why)), HFX_E_ADDRESS);
    CHECK_STATUS(open_it(&t, "", &r, why, sizeof(why)), HFX_E_INVALID);
    CHECK_STATUS(hfx_ivshmem_open(&t.roots, "auto", NULL, why, sizeof(why)), HFX_E_INVALID);

    /* another vendor's device */
    add_device(&t, "0000:00:02.0", "0x8086\n", "0x1110\n", SIZE, SIZE, dir, sizeof(dir));
    CHECK_STATUS(open_it(&t, "0000:00:02.0", &r, why, sizeof(why)), HFX_E_ADDRESS);
    CHECK_STATUS(open_it(&t, "auto", &r, why, sizeof(why)), HFX_E_ADDRESS);

    /* an ivshmem device hfxd did not write: no header */
    add_device(&t, "0000:00:03.0", "0x1af4\n", "0x1110\n", SIZE, 0, dir, sizeof(dir));
    CHECK_STATUS(open_it(&t, "auto", &r, why, sizeof(why)), HFX_E_BAD_MAGIC);
    CHECK(strstr(why, "--shm-file") != NULL);

    /* a BAR too small for a header */
    write_bar(dir, "resource2", 16, 0);
    CHECK_STATUS(open_it(&t, "0000:00:03.0", &r, why, sizeof(why)), HFX_E_TRUNCATED);

    /* a header for another size than the BAR's */
    write_bar(dir, "resource2", SIZE, 2 * SIZE);
    CHECK_STATUS(open_it(&t, "0000:00:03.0", &r, why, sizeof(why)), HFX_E_SHM_RANGE);
    CHECK(strstr(why, "the header says") != NULL);

    /* the good one after a bad one: auto goes on to the next device */
    add_device(&t, "0000:00:04.0", "0x1af4\n", "0x1110\n", SIZE, SIZE, dir, sizeof(dir));
    CHECK_STATUS(open_it(&t, "auto", &r, why, sizeof(why)), HFX_OK);
    CHECK(strstr(r->path, "0000:00:04.0") != NULL);
    hfx_ivshmem_close(&r);
    tree_free(&t);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_auto_maps_the_hfx_device),
        CHECK_CASE(test_one_process_at_a_time),
        CHECK_CASE(test_wrong_devices),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
