/* SPDX-License-Identifier: MIT */
/* host/shm.c: only sealed, large-enough regular files are mapped; the
 * mapping lives as long as its last reference; memory the host makes
 * (SHM_ALLOC) cannot be resized by the client it goes to. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfx/protocol.h"

#include "check.h"
#include "shm.h"

static int sealed_memfd(size_t size, bool seal)
{
    int fd = memfd_create("hfx-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, (off_t)size) == 0);
    if (seal)
        CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
    return fd;
}

static void test_maps_sealed_region(void)
{
    int fd = sealed_memfd(8192, true);
    struct shm_region *r = NULL;
    uint8_t *w = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    CHECK(w != MAP_FAILED);
    w[8191] = 0x42;
    CHECK_STATUS(shm_region_map(fd, 8192, 7, &r), HFX_OK);
    close(fd);
    CHECK(r->map[8191] == 0x42);
    CHECK_EQ_INT(r->id, 7);
    struct shm_region *ref = shm_region_ref(r);
    shm_region_unref(&r);
    CHECK(r == NULL);
    CHECK(ref->map[8191] == 0x42); /* still mapped: one reference left */
    shm_region_unref(&ref);
    shm_region_unref(&ref); /* NULL-safe */
    munmap(w, 8192);
}

static void test_refuses_unsafe_regions(void)
{
    struct shm_region *r = NULL;
    int fd = sealed_memfd(4096, false);

    /* Not sealed: the client could shrink it under us (SIGBUS). */
    CHECK_STATUS(shm_region_map(fd, 4096, 1, &r), HFX_E_SHM_RANGE);
    close(fd);
    fd = sealed_memfd(4096, true);
    CHECK_STATUS(shm_region_map(fd, 4097, 1, &r), HFX_E_SHM_RANGE); /* larger than the file */
    CHECK_STATUS(shm_region_map(fd, 0, 1, &r), HFX_E_SHM_RANGE);
    close(fd);
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_STATUS(shm_region_map(p[0], 4096, 1, &r), HFX_E_SHM_RANGE); /* not a file */
    close(p[0]);
    close(p[1]);
    CHECK(r == NULL);
}

/* What the client does with the descriptor it is passed: write pictures,
 * and (if it is hostile) try to resize it under the host's mapping. */
static void test_alloc_cannot_be_resized(void)
{
    struct shm_region *r = NULL;
    struct stat st;
    int fd = -1;

    CHECK_STATUS(shm_region_alloc(3 * 4096 + 100, 9, &r, &fd), HFX_OK);
    CHECK(fd >= 0 && r != NULL);
    CHECK_EQ_INT(r->id, 9);
    CHECK(fstat(fd, &st) == 0 && st.st_size == 3 * 4096 + 100);
    uint8_t *w = mmap(NULL, 3 * 4096 + 100, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(w != MAP_FAILED);
    w[3 * 4096 + 99] = 0x5a;
    CHECK(r->map[3 * 4096 + 99] == 0x5a); /* the host reads what the client wrote */
    CHECK(ftruncate(fd, 4096) != 0 && errno == EPERM);
    CHECK(ftruncate(fd, 8 * 4096) != 0 && errno == EPERM);
    CHECK(fcntl(fd, F_ADD_SEALS, 0) != 0); /* and no seal comes off or on */
    CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
    munmap(w, 3 * 4096 + 100);
    close(fd);
    CHECK(r->map[3 * 4096 + 99] == 0x5a); /* mapped until the last reference */
    shm_region_unref(&r);

    CHECK_STATUS(shm_region_alloc(0, 1, &r, &fd), HFX_E_SHM_RANGE);
    CHECK_STATUS(shm_region_alloc(HFX_MAX_SHM_SIZE + 1, 1, &r, &fd), HFX_E_SHM_RANGE);
    CHECK(r == NULL && fd == -1);
}

/* A client may keep its descriptor after the region is gone: the pages
 * do not stay with it (those the host's reads brought in would count as
 * the host's). The host's reference holds one descriptor of its own. */
static void test_alloc_discarded_with_last_reference(void)
{
    const size_t size = 64 * 4096;
    struct shm_region *r = NULL, *frame_ref;
    struct stat st;
    int fds0 = check_count_fds();
    int fd = -1;

    CHECK_STATUS(shm_region_alloc(size, 2, &r, &fd), HFX_OK);
    CHECK_EQ_INT(check_count_fds() - fds0, 2); /* the client's and the region's */
    uint8_t *w = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(w != MAP_FAILED);
    memset(w, 0x5a, size);
    CHECK(fstat(fd, &st) == 0);
    CHECK(st.st_blocks >= (blkcnt_t)(size / 512));
    frame_ref = shm_region_ref(r); /* a frame still pending after the detach */
    shm_region_unref(&r);
    CHECK(w[size - 1] == 0x5a && frame_ref->map[size - 1] == 0x5a);
    shm_region_unref(&frame_ref);
    CHECK_EQ_INT(check_count_fds() - fds0, 1);
    CHECK(fstat(fd, &st) == 0);
    CHECK_EQ_INT(st.st_size, size); /* the size stays: the seals hold */
    CHECK_EQ_INT(st.st_blocks, 0);
    for (size_t i = 0; i < size; i += 4096)
        CHECK(w[i] == 0);
    munmap(w, size);
    close(fd);
}

/* How many names in /dev/shm start with "hfx-". */
static int shm_names(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "hfx-", 4) == 0;
    closedir(d);
    return n;
}

/* The allocator macOS uses, run here: sized, shared, and its name gone at
 * once. (Here, unlike on macOS, the size could still be changed: which is
 * why Linux hosts use the sealed memfd.) */
static void test_posix_object(void)
{
    int before = shm_names();
    int fd = shm_make_posix(2 * 4096);
    struct stat st;

    CHECK(fd >= 0);
    CHECK_EQ_INT(shm_names(), before);
    CHECK(fstat(fd, &st) == 0 && st.st_size == 2 * 4096);
    uint8_t *a = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint8_t *b = mmap(NULL, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(a != MAP_FAILED && b != MAP_FAILED);
    a[5000] = 0x77;
    CHECK(b[5000] == 0x77);
    munmap(a, 2 * 4096);
    munmap(b, 2 * 4096);
    close(fd);
    CHECK(shm_make_posix(0) == -1 && errno == EINVAL);
    CHECK(shm_make_posix(HFX_MAX_SHM_SIZE + 1) == -1 && errno == EINVAL);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_maps_sealed_region),
        CHECK_CASE(test_refuses_unsafe_regions),
        CHECK_CASE(test_alloc_cannot_be_resized),
        CHECK_CASE(test_alloc_discarded_with_last_reference),
        CHECK_CASE(test_posix_object),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
