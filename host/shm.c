/* SPDX-License-Identifier: MIT */
#include "shm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

enum hfx_status shm_region_map(int fd, uint64_t size, uint32_t id, struct shm_region **out)
{
    struct stat st;
    struct shm_region *r;
    void *map;

    *out = NULL;
    if (size == 0 || size > SIZE_MAX)
        return HFX_E_SHM_RANGE;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size < size)
        return HFX_E_SHM_RANGE;
#ifdef F_GET_SEALS
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || !(seals & F_SEAL_SHRINK))
        return HFX_E_SHM_RANGE;
#endif
    map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return HFX_E_SHM_RANGE;
    r = calloc(1, sizeof(*r));
    if (!r) {
        munmap(map, (size_t)size);
        return HFX_E_NOMEM;
    }
    r->refs = 1;
    r->id = id;
    r->map = map;
    r->size = (size_t)size;
    *out = r;
    return HFX_OK;
}

struct shm_region *shm_region_ref(struct shm_region *r)
{
    __atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
    return r;
}

void shm_region_unref(struct shm_region **rp)
{
    struct shm_region *r;

    if (!rp || !*rp)
        return;
    r = *rp;
    *rp = NULL;
    if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        munmap((void *)r->map, r->size);
        free(r);
    }
}
