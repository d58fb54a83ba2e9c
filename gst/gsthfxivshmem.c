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
 * hfxd maps the same file (hfxd --shm-file). hfxd writes a header at the
 * start of the file (docs/protocol.md §7.1); a device whose BAR starts with
 * that header is hfx's.
 *
 * No kernel driver is needed: the BAR is mapped through sysfs
 * (/sys/bus/pci/devices/ADDR/resource2, write-combining variant where the
 * kernel offers it) after enabling the device. That needs root, as any
 * direct PCI access does. One process at a time uses a device: the resource
 * file is flock()ed, because two encoders writing frames into one data area
 * would overwrite each other's frames.
 */

#include "gsthfxivshmem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/gst.h>

#include "hfx/region.h"

#define PCI_DEVICES "/sys/bus/pci/devices"
#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

static gboolean
read_hex_file (const gchar * dir, const gchar * name, guint64 * out)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *text = NULL;
  gboolean ok;

  ok = g_file_get_contents (path, &text, NULL, NULL);
  g_free (path);
  if (ok) {
    const gchar *digits = g_strstrip (text);
    if (g_str_has_prefix (digits, "0x"))
      digits += 2;
    ok = g_ascii_string_to_unsigned (digits, 16, 0, G_MAXUINT64, out, NULL);
  }
  g_free (text);
  return ok;
}

static gboolean
is_ivshmem (const gchar * dir)
{
  guint64 vendor = 0, device = 0;

  return read_hex_file (dir, "vendor", &vendor) &&
      read_hex_file (dir, "device", &device) &&
      vendor == IVSHMEM_VENDOR && device == IVSHMEM_DEVICE;
}

/* A device nobody has enabled does not decode its BAR: accesses would read
 * as all ones and writes vanish. */
static gboolean
enable_device (const gchar * dir, GError ** error)
{
  guint64 enabled = 0;
  gchar *path;
  gboolean ok;
  GError *err = NULL;

  if (read_hex_file (dir, "enable", &enabled) && enabled)
    return TRUE;
  path = g_build_filename (dir, "enable", NULL);
  ok = g_file_set_contents_full (path, "1", 1, G_FILE_SET_CONTENTS_NONE, 0,
      &err);
  if (!ok) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE,
        "cannot enable %s: %s", dir, err->message);
    g_clear_error (&err);
  }
  g_free (path);
  return ok;
}

static void
ivshmem_clear (gpointer data)
{
  GstHfxIvshmem *shm = data;

  if (shm->data)
    munmap (shm->data, shm->size);
  if (shm->fd >= 0)
    close (shm->fd);
  g_free (shm->path);
}

/* Map BAR 2 of the ivshmem device in dir (is_ivshmem: the caller checked)
 * and check the host's header. */
static GstHfxIvshmem *
open_device (const gchar * dir, GError ** error)
{
  struct hfx_region_header h;
  guint8 copy[HFX_REGION_HEADER_BYTES];
  GstHfxIvshmem *shm;
  enum hfx_status st = HFX_OK;
  struct stat sb;

  if (!enable_device (dir, error))
    return NULL;

  shm = g_rc_box_new0 (GstHfxIvshmem);
  shm->fd = -1;
  shm->path = g_build_filename (dir, "resource2_wc", NULL);
  if (!g_file_test (shm->path, G_FILE_TEST_EXISTS)) {
    g_free (shm->path);
    shm->path = g_build_filename (dir, "resource2", NULL);
  }
  shm->fd = open (shm->path, O_RDWR | O_CLOEXEC);
  if (shm->fd < 0)
    goto open_failed;
  if (fstat (shm->fd, &sb) != 0)
    goto open_failed;
  /* Checked before mmap: an empty file cannot be mapped, and errno would
   * not say why. */
  shm->size = sb.st_size > 0 ? (gsize) sb.st_size : 0;
  if (shm->size < sizeof (copy))
    goto no_header;
  if (flock (shm->fd, LOCK_EX | LOCK_NB) != 0)
    goto locked;
  shm->data = mmap (NULL, shm->size, PROT_READ | PROT_WRITE, MAP_SHARED,
      shm->fd, 0);
  if (shm->data == MAP_FAILED) {
    shm->data = NULL;
    goto open_failed;
  }

  /* The host writes the header; read a copy once, as the protocol asks of
   * anything read from shared memory. */
  memcpy (copy, shm->data, sizeof (copy));
  st = hfx_region_header_decode (copy, sizeof (copy), &h);
  if (st != HFX_OK)
    goto no_header;
  if (h.size != shm->size)
    goto size_mismatch;
  shm->data_offset = h.header_size;
  GST_INFO ("region 0: %s, %" G_GSIZE_FORMAT " bytes, frames from byte %"
      G_GSIZE_FORMAT, shm->path, shm->size, shm->data_offset);
  return shm;

  /* ERRORS */
open_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "cannot map %s: %s", shm->path, g_strerror (errno));
    g_rc_box_release_full (shm, ivshmem_clear);
    return NULL;
  }
locked:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_BUSY,
        "%s is in use by another encoder", shm->path);
    g_rc_box_release_full (shm, ivshmem_clear);
    return NULL;
  }
no_header:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "%s holds no hfx region header (%s): is hfxd running with --shm-file "
        "on the file behind this device?", shm->path,
        shm->size < sizeof (copy) ? "too small" : hfx_strerror (st));
    g_rc_box_release_full (shm, ivshmem_clear);
    return NULL;
  }
size_mismatch:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s: the header says %" G_GUINT64_FORMAT " bytes, the BAR has %"
        G_GSIZE_FORMAT, shm->path, h.size, shm->size);
    g_rc_box_release_full (shm, ivshmem_clear);
    return NULL;
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
  GstHfxIvshmem *shm = NULL;
  GError *last = NULL;
  const gchar *name;
  GDir *dir;

  g_return_val_if_fail (device != NULL, NULL);

  if (g_strcmp0 (device, "auto") != 0) {
    gchar *path = device[0] == '/' ? g_strdup (device) :
        g_build_filename (PCI_DEVICES, device, NULL);
    if (is_ivshmem (path))
      shm = open_device (path, error);
    else
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "%s is not an ivshmem device (PCI %04x:%04x)", path, IVSHMEM_VENDOR,
          IVSHMEM_DEVICE);
    g_free (path);
    return shm;
  }

  dir = g_dir_open (PCI_DEVICES, 0, NULL);
  while (dir && !shm && (name = g_dir_read_name (dir))) {
    gchar *path = g_build_filename (PCI_DEVICES, name, NULL);
    if (is_ivshmem (path)) {
      g_clear_error (&last);
      shm = open_device (path, &last);
    }
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  if (shm)
    return shm;
  if (last)
    g_propagate_error (error, last);
  else
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
        "no ivshmem device (PCI %04x:%04x) in " PCI_DEVICES, IVSHMEM_VENDOR,
        IVSHMEM_DEVICE);
  return NULL;
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
