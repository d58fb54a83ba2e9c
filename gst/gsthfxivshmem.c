/* SPDX-License-Identifier: MIT */
/* hfx: the guest's view of region 0, an ivshmem-plain device shared with
 * the host.
 */

/**
 * SECTION:gsthfxivshmem
 * @title: GstHfxIvshmem
 * @short_description: map an ivshmem BAR that the host shares as region 0
 *
 * On a transport that cannot carry a memfd (virtio-serial, vsock, TCP) the
 * host can still read frames from memory it shares with the guest: QEMU's
 * ivshmem-plain device (PCI 1af4:1110) exposes a host file as BAR 2, and
 * hfxd maps the same file (hfxd --shm-file). Finding, mapping and locking
 * the device is libhfx's (hfx_ivshmem_open, include/hfx/region.h), so that
 * every client can use region 0; this is the pool's reference-counted
 * handle on it, with errors in the GST_RESOURCE_ERROR domain.
 */

#include "gsthfxivshmem.h"

#include <gst/gst.h>

#include "hfx/region.h"

static void
ivshmem_clear (gpointer data)
{
  GstHfxIvshmem *shm = data;

  hfx_ivshmem_close (&shm->region);
}

/* The library's status as the GstResourceError an application expects. */
static gint
resource_error (enum hfx_status st)
{
  switch (st) {
    case HFX_E_BUSY:
      return GST_RESOURCE_ERROR_BUSY;
    case HFX_E_IO:
      return GST_RESOURCE_ERROR_OPEN_READ_WRITE;
    case HFX_E_SHM_RANGE:
      return GST_RESOURCE_ERROR_SETTINGS;
    case HFX_E_NOMEM:
      return GST_RESOURCE_ERROR_NO_SPACE_LEFT;
    default:
      /* no such device, or no hfx header on it */
      return GST_RESOURCE_ERROR_NOT_FOUND;
  }
}

/**
 * gst_hfx_ivshmem_open:
 * @device: "auto" (every ivshmem device in turn, the first with an hfx
 *   header wins), a PCI address such as "0000:00:03.0", or a sysfs device
 *   directory
 * @error: return location for a #GST_RESOURCE_ERROR, or %NULL
 *
 * Enables the device if needed, maps its BAR 2 read-write, takes the
 * device (flock) and checks the host's header.
 *
 * Returns: (transfer full) (nullable): the region; release it with
 *   gst_hfx_ivshmem_unref(). %NULL with @error set when no device is usable;
 *   for "auto" the error names why the last candidate failed.
 */
GstHfxIvshmem *
gst_hfx_ivshmem_open (const gchar * device, GError ** error)
{
  struct hfx_ivshmem *region = NULL;
  GstHfxIvshmem *shm;
  gchar why[512];
  enum hfx_status st;

  g_return_val_if_fail (device != NULL, NULL);

  st = hfx_ivshmem_open (NULL, device, &region, why, sizeof (why));
  if (st != HFX_OK) {
    g_set_error (error, GST_RESOURCE_ERROR, resource_error (st), "%s",
        why[0] ? why : hfx_strerror (st));
    return NULL;
  }
  shm = g_rc_box_new0 (GstHfxIvshmem);
  shm->region = region;
  GST_INFO ("region 0: %s, %" G_GSIZE_FORMAT " bytes, frames from byte %"
      G_GSIZE_FORMAT, region->path, region->size, region->data_offset);
  return shm;
}

GstHfxIvshmem *
gst_hfx_ivshmem_ref (GstHfxIvshmem * shm)
{
  return g_rc_box_acquire (shm);
}

void
gst_hfx_ivshmem_unref (GstHfxIvshmem * shm)
{
  if (shm)
    g_rc_box_release_full (shm, ivshmem_clear);
}
