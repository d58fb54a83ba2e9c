/* SPDX-License-Identifier: MIT */
/* host/shm.c: only sealed, large-enough regular files are mapped; the
 * mapping lives as long as its last reference. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_maps_sealed_region),
        CHECK_CASE(test_refuses_unsafe_regions),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
