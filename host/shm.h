/* SPDX-License-Identifier: MIT */
/*
 * Shared memory regions a client attached (docs/protocol.md §7): mapped
 * read-only, reference counted because frames still queued for an encoder
 * keep reading a region after the client detached it.
 */
#ifndef HFX_HOST_SHM_H
#define HFX_HOST_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

struct shm_region {
    int refs; /* atomic */
    uint32_t id;
    const uint8_t *map;
    size_t size;
    int own_fd; /* memory the host made (SHM_ALLOC): its descriptor, else -1 */
};

/* Whether this platform can tell that a client's descriptor is sealed
 * against shrinking (memfd seals: Linux); without, SHM_FD is not offered
 * and shm_region_map refuses (HFX_E_UNSUPPORTED). */
bool shm_fd_checkable(void);

/* Map size bytes of fd (borrowed; the caller closes it). The file must be
 * at least size bytes and sealed against shrinking: a client that
 * truncated a mapped file would otherwise kill the host with SIGBUS.
 * HFX_E_SHM_RANGE when either check fails; HFX_E_UNSUPPORTED where the
 * system has no seals (shm_fd_checkable). */
HFX_MUST_CHECK enum hfx_status shm_region_map(int fd, uint64_t size, uint32_t id,
                                              struct shm_region **out);

/* Region 0 (docs/protocol.md §7.1): open path read-write, creating it
 * (mode 0600) with create_size bytes when it is missing or empty (QEMU's
 * memory-backend-file creates it too, with the size it is given), write
 * the header and map the file read-only. No seals here: only the host side
 * can resize the file, and whoever can also owns QEMU's and hfxd's memory.
 * HFX_E_IO (with errno) when the file cannot be opened, sized or written,
 * HFX_E_SHM_RANGE when its size is out of range (HFX_REGION_MIN_SIZE to
 * HFX_MAX_SHM_SIZE). */
HFX_MUST_CHECK enum hfx_status shm_region_open_file(const char *path, uint64_t create_size,
                                                    struct shm_region **out);

/* Memory the host makes for a client (SHM_ALLOC, docs/protocol.md §7.2):
 * size bytes the client cannot resize, mapped read-only here as region id;
 * *fd (the caller's, to pass to the client and close) maps the same pages
 * read-write. Linux: a memfd sealed against shrinking, growing and further
 * seals; elsewhere (macOS): shm_make_posix. The region keeps a descriptor
 * of its own: with the last reference its pages are given back (Linux:
 * a hole punched over the whole file), so a client that keeps *fd does not
 * keep memory the host's reads brought in. HFX_E_SHM_RANGE for a size of 0
 * or over HFX_MAX_SHM_SIZE, HFX_E_NOMEM or HFX_E_IO (errno set) when the
 * system has no room. */
HFX_MUST_CHECK enum hfx_status shm_region_alloc(uint64_t size, uint32_t id,
                                                struct shm_region **out, int *fd);

/* A POSIX shared memory object of size bytes, its name unlinked before
 * this returns: a descriptor (the caller's) or -1 with errno. macOS lets an
 * object be sized once, so the client it is passed to cannot shrink it;
 * Linux lets anyone who can write it truncate it, which is why
 * shm_region_alloc takes a sealed memfd there (docs/macos.md). Built
 * everywhere, so that its Linux tests run the code macOS uses. */
int shm_make_posix(uint64_t size);

struct shm_region *shm_region_ref(struct shm_region *r);

/* Drop one reference; unmaps and frees with the last (and discards the
 * contents of memory the host made). NULL-safe, sets NULL. */
void shm_region_unref(struct shm_region **r);

#endif /* HFX_HOST_SHM_H */
