/* SPDX-License-Identifier: MIT */
#include "shm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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
    r->own_fd = -1;
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

int shm_make_posix(uint64_t size)
{
    char name[64];
    struct timespec ts;
    int fd = -1;

    if (size == 0 || size > HFX_MAX_SHM_SIZE || size > (uint64_t)INT64_MAX) {
        errno = EINVAL;
        return -1;
    }
    /* A name nobody else uses, and gone before anyone could open it: the
     * object then lives only through descriptors. Under 31 bytes (macOS's
     * PSHMNAMLEN). */
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(name, sizeof(name), "/hfx-%x-%lx", (unsigned)getpid() & 0xfffffu,
                 ((unsigned long)ts.tv_nsec ^ (unsigned long)attempt << 24) & 0xffffffffu);
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 && errno != EEXIST)
            return -1;
    }
    if (fd < 0)
        return -1;
    /* A name left behind would let another process of this user open the
     * object (and on macOS outlive hfxd until a reboot): fail instead. */
    if (shm_unlink(name) != 0 || ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

#if defined(MFD_ALLOW_SEALING) && defined(F_ADD_SEALS)
/* Sealed whole: neither side can resize it, and no seal can be taken off. */
static int make_shared(uint64_t size)
{
    int fd = memfd_create("hfx-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
#else
static int make_shared(uint64_t size)
{
    return shm_make_posix(size);
}
#endif

enum hfx_status shm_region_alloc(uint64_t size, uint32_t id, struct shm_region **out, int *fd)
{
    enum hfx_status st;

    *out = NULL;
    *fd = -1;
    if (size == 0 || size > HFX_MAX_SHM_SIZE || size > SIZE_MAX)
        return HFX_E_SHM_RANGE;
    *fd = make_shared(size);
    if (*fd < 0)
        return errno == ENOMEM ? HFX_E_NOMEM : HFX_E_IO;
    st = map_read_only(*fd, size, id, out);
    if (st != HFX_OK) {
        close(*fd);
        *fd = -1;
        /* The mapping fails for want of address space, not for the range
         * a client gave: that was checked above. */
        return HFX_E_NOMEM;
    }
    (*out)->own_fd = fcntl(*fd, F_DUPFD_CLOEXEC, 0);
    if ((*out)->own_fd < 0) {
        int e = errno;
        shm_region_unref(out);
        close(*fd);
        *fd = -1;
        errno = e;
        return e == EMFILE || e == ENFILE ? HFX_E_NOMEM : HFX_E_IO;
    }
    return HFX_OK;
}

/* The client may keep its descriptor of memory the host made: give back
 * the pages (also those the host's reads of it brought in, which count as
 * the host's), leaving a file of zeros. Seals against resizing allow a
 * hole. Where holes cannot be punched (macOS), or the punch fails, the
 * pages live as long as the client's descriptor, as with memory a client
 * made itself: nothing breaks, so nothing is reported. */
static void discard_contents(int fd, size_t size)
{
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
    (void)fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)size);
#else
    (void)fd;
    (void)size;
#endif
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
        if (r->own_fd >= 0) {
            discard_contents(r->own_fd, r->size);
            close(r->own_fd);
        }
        free(r);
    }
}
