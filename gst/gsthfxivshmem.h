/* SPDX-License-Identifier: MIT */
/* hfx: the guest's view of region 0, an ivshmem-plain device shared with
 * the host (docs/protocol.md §7.1). Documented in gsthfxivshmem.c.
 */

#ifndef __GST_HFX_IVSHMEM_H__
#define __GST_HFX_IVSHMEM_H__

#include <glib.h>

#include "hfx/region.h"

G_BEGIN_DECLS

/* libhfx's hfx_ivshmem (docs/protocol.md §7.1) as the pool uses it:
 * reference counted (g_rc_box): every pool allocator that has slots in the
 * region holds a reference, so the mapping outlives their memories. */
typedef struct
{
  struct hfx_ivshmem *region;   /* libhfx's mapping (path, data, size,
                                 * data_offset), owned */
} GstHfxIvshmem;

/* device: "auto", a PCI address (0000:00:03.0) or a sysfs device directory.
 * Returns: (transfer full) (nullable): the mapped region, or NULL with
 * @error set (GST_RESOURCE_ERROR_NOT_FOUND when there is no usable device). */
GstHfxIvshmem *gst_hfx_ivshmem_open (const gchar * device, GError ** error);

GstHfxIvshmem *gst_hfx_ivshmem_ref (GstHfxIvshmem * shm);

void gst_hfx_ivshmem_unref (GstHfxIvshmem * shm);

G_END_DECLS

#endif /* __GST_HFX_IVSHMEM_H__ */
