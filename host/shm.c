/* SPDX-License-Identifier: MIT */
#include "shm.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hfx/protocol.h"
#include "hfx/region.h"

static enum hfx_status map_read_only(int fd, uint64_t size, uint32_t id, struct shm_region **out)
{
    struct shm_region *r;
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);

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

enum hfx_status shm_region_map(int fd, uint64_t size, uint32_t id, struct shm_region **out)
{
    struct stat st;

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
    return map_read_only(fd, size, id, out);
#else
    /* No seals (macOS): nothing stops the client shrinking the file under
     * the mapping, and a read past its end is SIGBUS (docs/macos.md). */
    (void)id;
    return HFX_E_UNSUPPORTED;
#endif
}

bool shm_fd_checkable(void)
{
#ifdef F_GET_SEALS
    return true;
#else
    return false;
#endif
}

enum hfx_status shm_region_open_file(const char *path, uint64_t create_size,
                                     struct shm_region **out)
{
    uint8_t page[HFX_REGION_HEADER_SIZE] = {0};
    struct hfx_region_header h;
    struct stat st;
    uint64_t size;
    enum hfx_status status;
    bool created = false; /* by us: removed again if it cannot be used */
    int fd;

    *out = NULL;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = fd >= 0;
    }
    if (fd < 0)
        return HFX_E_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto io_error;
    /* An empty file (new, or left empty) is sized here; one with a size
     * keeps it. */
    size = st.st_size ? (uint64_t)st.st_size : create_size;
    if (size < HFX_REGION_MIN_SIZE || size > HFX_MAX_SHM_SIZE || size > SIZE_MAX)
        goto range_error;
    if (st.st_size == 0 && ftruncate(fd, (off_t)size) != 0)
        goto io_error;
    h = hfx_region_header_for(size);
    status = hfx_region_header_encode(&h, page, sizeof(page));
    if (status != HFX_OK)
        goto fail;
    /* The whole header page, so that stale bytes after the fields read as
     * zero. */
    if (pwrite(fd, page, sizeof(page), 0) != (ssize_t)sizeof(page))
        goto io_error;
    status = map_read_only(fd, size, 0, out);
    if (status != HFX_OK)
        goto fail;
    close(fd);
    return HFX_OK;

io_error:
    status = HFX_E_IO;
    goto fail;
range_error:
    status = HFX_E_SHM_RANGE;
fail: {
    int e = errno;
    if (created)
        unlink(path);
    close(fd);
    errno = e;
    return status;
}
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
