/* SPDX-License-Identifier: MIT */
/*
 * Region 0: a memory region shared out of band (an ivshmem BAR on the
 * guest side, the file behind it on the host side; docs/protocol.md §7.1).
 * The host writes a header at its start; a guest reads it to know that the
 * device is hfx's and where frames may go. Frames live in
 * [header_size, size); FRAME messages name region 0 and give plane offsets
 * from the region's start.
 */
#ifndef HFX_REGION_H
#define HFX_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "hfx/discover.h"
#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFX_REGION_MAGIC "HFXREGN0" /* 8 bytes, no terminator on the wire */
#define HFX_REGION_VERSION 1u
#define HFX_REGION_HEADER_SIZE 4096u /* where the frames start */
#define HFX_REGION_HEADER_BYTES 64u  /* encoded fields; the rest of the page is zero */
/* Header page plus one page of frame data: anything smaller holds no frame. */
#define HFX_REGION_MIN_SIZE (2u * HFX_REGION_HEADER_SIZE)

struct hfx_region_header {
    uint32_t version;     /* HFX_REGION_VERSION */
    uint32_t header_size; /* HFX_REGION_HEADER_SIZE */
    uint64_t size;        /* the whole region, header included */
};

/* A version-1 header for a region of size bytes. */
HFX_EXPORT struct hfx_region_header hfx_region_header_for(uint64_t size);

/* Write HFX_REGION_HEADER_BYTES bytes into buf. HFX_E_TOO_LARGE when cap is
 * smaller, HFX_E_INVALID when h is not a valid header. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status
hfx_region_header_encode(const struct hfx_region_header *h, uint8_t *buf, size_t cap);

/* Parse the first HFX_REGION_HEADER_BYTES of buf (a copy: the region is
 * writable by the other side). HFX_E_BAD_MAGIC (not an hfx region, e.g. an
 * ivshmem device that is not ours or a host that has not started yet),
 * HFX_E_VERSION, HFX_E_MALFORMED (short, reserved bytes not zero, sizes out
 * of range). The caller still compares size with what it mapped. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_region_header_decode(const uint8_t *buf, size_t len,
                                                                   struct hfx_region_header *out);

/* Region 0 as a guest maps it: BAR 2 of an ivshmem-plain device (PCI
 * 1af4:1110) whose start holds the host's header. */
struct hfx_ivshmem {
    char path[HFX_ADDRESS_MAX]; /* the sysfs resource file mapped */
    int fd;                     /* open on path and flock()ed; owned */
    uint8_t *data;              /* read-write mapping of the whole BAR; owned */
    size_t size;                /* the BAR's size, which the header confirms */
    size_t data_offset;         /* first byte frames may use (header_size) */
};

/* Find and map region 0. device: "auto" (every ivshmem device under
 * SYS/bus/pci/devices in turn; the first with an hfx header wins), a PCI
 * address such as "0000:00:03.0", or a sysfs device directory (absolute
 * path). roots: as for hfx_discover_candidates (only sys is used; NULL =
 * "/sys"). Enables the device if needed (sysfs `enable`), maps its BAR 2
 * read-write (`resource2_wc` where the kernel has it, else `resource2`),
 * takes it with flock() and checks the header. Needs root on a real
 * guest. *out is the caller's: hfx_ivshmem_close. Errors, with a sentence
 * in error_text (may be NULL; for "auto", why the last candidate failed):
 * HFX_E_ADDRESS (no such ivshmem device, or none at all), HFX_E_IO
 * (cannot enable, open or map: errno's text), HFX_E_BUSY (another
 * process holds it), HFX_E_TRUNCATED / HFX_E_BAD_MAGIC / HFX_E_VERSION /
 * HFX_E_MALFORMED (no hfx header: hfxd not started with --shm-file on the
 * file behind the device), HFX_E_SHM_RANGE (header and BAR sizes differ),
 * HFX_E_TOO_LARGE (a path too long), HFX_E_NOMEM. */
HFX_EXPORT HFX_MUST_CHECK enum hfx_status hfx_ivshmem_open(const struct hfx_discover_roots *roots,
                                                           const char *device,
                                                           struct hfx_ivshmem **out,
                                                           char *error_text, size_t error_cap);

/* Unmap, unlock and free. NULL-safe, sets *r to NULL. */
HFX_EXPORT void hfx_ivshmem_close(struct hfx_ivshmem **r);

#ifdef __cplusplus
}
#endif

#endif /* HFX_REGION_H */
