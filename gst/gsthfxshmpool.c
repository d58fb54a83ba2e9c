/* SPDX-License-Identifier: MIT */
/* hfx: a buffer pool whose buffers live in one sealed memfd shared with
 * the host encoder.
 */

/**
 * SECTION:gsthfxshmpool
 * @title: GstHfxShmPool
 * @short_description: video buffers inside a memfd shared with the host
 *
 * In SHM mode vsockenc shares one memfd with the host encoder: the fd is
 * passed once with SCM_RIGHTS, the host maps it read-only (and refuses it
 * unless it is sealed with F_SEAL_SHRINK), and each frame is then sent as an
 * (offset, stride) per plane. #GstHfxShmPool is the pool vsockenc proposes
 * upstream so that frames are written straight into that memfd.
 *
 * The region is created once by gst_hfx_shm_pool_new(): `slots` slots of the
 * frame size of the #GstVideoInfo rounded up to
 * %GST_HFX_SHM_POOL_SLOT_ALIGN bytes, sealed against shrinking and growing,
 * and mapped read-write once. Every buffer the pool allocates owns one slot
 * (slot i at byte i * slot size) and carries a #GstVideoMeta with the plane
 * offsets and strides of the #GstVideoInfo. The pool never has more buffers
 * than slots.
 *
 * Lifetime: the memfd and its mapping belong to a private #GstAllocator that
 * the pool holds. Every #GstMemory of the pool holds a reference on that
 * allocator (gst_memory_init() takes one), so the mapping outlives every
 * buffer and every sub-buffer, even after the pool itself is gone. A slot is
 * free again only when the memory that owns it is freed, i.e. after the last
 * sub-buffer sharing it has gone too; the pool then reuses the slot.
 */

#include "gsthfxshmpool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gsthfxpoolcopy.h"

GST_DEBUG_CATEGORY_STATIC (gst_hfx_shm_pool_debug);
#define GST_CAT_DEFAULT gst_hfx_shm_pool_debug

/* The region: a private allocator that owns the memfd and its mapping. */

#define GST_HFX_SHM_MEMORY_TYPE "HfxShmMemory"

typedef struct _GstHfxShmAllocator GstHfxShmAllocator;
typedef struct _GstHfxShmAllocatorClass GstHfxShmAllocatorClass;

struct _GstHfxShmAllocator
{
  GstAllocator parent;

  gint fd;                      /* the memfd; -1 in an ivshmem region */
  GstHfxIvshmem *ivshmem;       /* the region the slots are in, or NULL */
  guint8 *data;                 /* read-write mapping of slot 0 onwards */
  gsize size;                   /* slots * slot_size */
  gsize region_offset;          /* of slot 0 in the region the host maps */
  gsize slot_size;
  guint slots;

  GMutex lock;                  /* protects in_use */
  gboolean in_use[GST_HFX_SHM_POOL_MAX_SLOTS];
};

struct _GstHfxShmAllocatorClass
{
  GstAllocatorClass parent_class;
};

typedef struct
{
  GstMemory mem;

  /* offset of this memory's maxsize area in the region: the slot's */
  gsize base;
  /* the slot this memory owns, or -1 for a memory shared from another */
  gint slot;
} GstHfxShmMemory;

static GType gst_hfx_shm_allocator_get_type (void);
G_DEFINE_TYPE (GstHfxShmAllocator, gst_hfx_shm_allocator, GST_TYPE_ALLOCATOR);

static GstMemory *
gst_hfx_shm_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  /* memory comes only from gst_hfx_shm_allocator_alloc_slot () */
  GST_WARNING_OBJECT (allocator, "gst_allocator_alloc () is not supported");
  return NULL;
}

static void
gst_hfx_shm_allocator_free (GstAllocator * allocator, GstMemory * mem)
{
  GstHfxShmAllocator *self = (GstHfxShmAllocator *) allocator;
  GstHfxShmMemory *hmem = (GstHfxShmMemory *) mem;

  if (hmem->slot >= 0) {
    g_mutex_lock (&self->lock);
    self->in_use[hmem->slot] = FALSE;
    g_mutex_unlock (&self->lock);
    GST_LOG_OBJECT (self, "slot %d free", hmem->slot);
  }
  g_free (hmem);
}

static gpointer
gst_hfx_shm_memory_map (GstMemory * mem, gsize maxsize, GstMapFlags flags)
{
  GstHfxShmAllocator *self = (GstHfxShmAllocator *) mem->allocator;
  GstHfxShmMemory *hmem = (GstHfxShmMemory *) mem;

  return self->data + hmem->base;
}

static void
gst_hfx_shm_memory_unmap (GstMemory * mem)
{
}

static GstMemory *
gst_hfx_shm_memory_share (GstMemory * mem, gssize offset, gssize size)
{
  GstHfxShmMemory *hmem = (GstHfxShmMemory *) mem;
  GstHfxShmMemory *sub;
  GstMemory *parent;

  /* the same rules as system memory's share */
  if (size == -1)
    size = mem->size - offset;

  parent = mem->parent ? mem->parent : mem;

  sub = g_new0 (GstHfxShmMemory, 1);
  gst_memory_init (GST_MEMORY_CAST (sub),
      GST_MINI_OBJECT_FLAGS (parent) | GST_MINI_OBJECT_FLAG_LOCK_READONLY,
      mem->allocator, parent, mem->maxsize, mem->align, mem->offset + offset,
      size);
  sub->base = hmem->base;
  sub->slot = -1;

  return GST_MEMORY_CAST (sub);
}

static void
gst_hfx_shm_allocator_finalize (GObject * object)
{
  GstHfxShmAllocator *self = (GstHfxShmAllocator *) object;

  GST_DEBUG_OBJECT (self, "unmapping region of %" G_GSIZE_FORMAT " bytes, "
      "closing fd %d", self->size, self->fd);
  if (self->ivshmem)
    gst_hfx_ivshmem_unref (self->ivshmem);
  else if (self->data)
    munmap (self->data, self->size);
  if (self->fd >= 0)
    close (self->fd);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (gst_hfx_shm_allocator_parent_class)->finalize (object);
}

static void
gst_hfx_shm_allocator_class_init (GstHfxShmAllocatorClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  gobject_class->finalize = gst_hfx_shm_allocator_finalize;
  allocator_class->alloc = gst_hfx_shm_allocator_alloc;
  allocator_class->free = gst_hfx_shm_allocator_free;
}

static void
gst_hfx_shm_allocator_init (GstHfxShmAllocator * self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);

  allocator->mem_type = GST_HFX_SHM_MEMORY_TYPE;
  allocator->mem_map = gst_hfx_shm_memory_map;
  allocator->mem_unmap = gst_hfx_shm_memory_unmap;
  allocator->mem_share = gst_hfx_shm_memory_share;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);

  self->fd = -1;
  g_mutex_init (&self->lock);
}

/* Creates the memfd of slots * slot_size bytes, seals and maps it. */
static GstHfxShmAllocator *
gst_hfx_shm_allocator_new (gsize slot_size, guint slots, GError ** error)
{
  GstHfxShmAllocator *self;
  gsize size = slot_size * slots;       /* checked by the caller */
  gint fd;
  gpointer data;

  fd = memfd_create ("hfx-shm-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    goto create_failed;
  if (ftruncate (fd, (off_t) size) != 0)
    goto truncate_failed;
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
    goto seal_failed;
  data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED)
    goto map_failed;

  self = g_object_new (gst_hfx_shm_allocator_get_type (), NULL);
  gst_object_ref_sink (self);
  self->fd = fd;
  self->data = data;
  self->size = size;
  self->slot_size = slot_size;
  self->slots = slots;

  GST_DEBUG_OBJECT (self, "fd %d: %u slots of %" G_GSIZE_FORMAT " bytes",
      fd, slots, slot_size);

  return self;

  /* ERRORS */
create_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "memfd_create failed: %s", g_strerror (errno));
    return NULL;
  }
truncate_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "ftruncate of the memfd to %" G_GSIZE_FORMAT " bytes failed: %s",
        size, g_strerror (errno));
    close (fd);
    return NULL;
  }
seal_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "sealing the memfd failed: %s", g_strerror (errno));
    close (fd);
    return NULL;
  }
map_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "mmap of %" G_GSIZE_FORMAT " bytes of the memfd failed: %s", size,
        g_strerror (errno));
    close (fd);
    return NULL;
  }
}

/* Slots in the data area of an ivshmem region (the caller checked that
 * they fit); the allocator keeps a reference on it. */
static GstHfxShmAllocator *
gst_hfx_shm_allocator_new_in_ivshmem (gsize slot_size, guint slots,
    GstHfxIvshmem * ivshmem)
{
  GstHfxShmAllocator *self;

  self = g_object_new (gst_hfx_shm_allocator_get_type (), NULL);
  gst_object_ref_sink (self);
  self->ivshmem = gst_hfx_ivshmem_ref (ivshmem);
  self->data = ivshmem->region->data + ivshmem->region->data_offset;
  self->region_offset = ivshmem->region->data_offset;
  self->size = slot_size * slots;
  self->slot_size = slot_size;
  self->slots = slots;

  GST_DEBUG_OBJECT (self, "%s: %u slots of %" G_GSIZE_FORMAT " bytes",
      ivshmem->region->path, slots, slot_size);

  return self;
}

/* A memory of @size bytes owning the first free slot, or NULL when every
 * slot is still owned by a live memory. */
static GstMemory *
gst_hfx_shm_allocator_alloc_slot (GstHfxShmAllocator * self, gsize size)
{
  GstHfxShmMemory *hmem;
  gint slot = -1;
  guint i;

  g_return_val_if_fail (size <= self->slot_size, NULL);

  g_mutex_lock (&self->lock);
  for (i = 0; i < self->slots; i++) {
    if (!self->in_use[i]) {
      self->in_use[i] = TRUE;
      slot = i;
      break;
    }
  }
  g_mutex_unlock (&self->lock);

  if (slot < 0)
    return NULL;

  hmem = g_new0 (GstHfxShmMemory, 1);
  gst_memory_init (GST_MEMORY_CAST (hmem), 0, GST_ALLOCATOR_CAST (self), NULL,
      self->slot_size, 0, 0, size);
  hmem->base = self->slot_size * slot;
  hmem->slot = slot;

  GST_LOG_OBJECT (self, "slot %d at offset %" G_GSIZE_FORMAT, slot, hmem->base);

  return GST_MEMORY_CAST (hmem);
}

/* The pool */

struct _GstHfxShmPool
{
  GstBufferPool parent;

  GstHfxShmAllocator *allocator;
  GstVideoInfo info;            /* the layout of every buffer, fixed */
  guint slots;
  gsize size;                   /* buffer size of the current config */
};

G_DEFINE_TYPE (GstHfxShmPool, gst_hfx_shm_pool, GST_TYPE_BUFFER_POOL);

static GstBufferPool *pool_new (const GstVideoInfo * info, guint slots,
    GstHfxIvshmem * ivshmem, GError ** error);

static const gchar **
gst_hfx_shm_pool_get_options (GstBufferPool * pool)
{
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META, NULL };

  return options;
}

/* The layout is fixed at creation: accept caps of the same format and size
 * only, and clamp the buffer counts to the slots. When a value is adjusted
 * the config is updated and FALSE returned, as GstBufferPool documents, so
 * that the caller can check it with gst_buffer_pool_config_validate_params.
 */
static gboolean
gst_hfx_shm_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstHfxShmPool *self = GST_HFX_SHM_POOL (pool);
  GstCaps *caps;
  GstVideoInfo info;
  guint size, min_buffers, max_buffers;
  gboolean adjusted = FALSE;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min_buffers,
          &max_buffers))
    goto wrong_config;
  if (caps == NULL)
    goto no_caps;
  if (!gst_video_info_from_caps (&info, caps))
    goto wrong_caps;
  if (GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_INFO_FORMAT (&self->info) ||
      GST_VIDEO_INFO_WIDTH (&info) != GST_VIDEO_INFO_WIDTH (&self->info) ||
      GST_VIDEO_INFO_HEIGHT (&info) != GST_VIDEO_INFO_HEIGHT (&self->info))
    goto wrong_caps;

  if (size < GST_VIDEO_INFO_SIZE (&self->info)
      || size > self->allocator->slot_size) {
    size = GST_VIDEO_INFO_SIZE (&self->info);
    adjusted = TRUE;
  }
  if (max_buffers == 0 || max_buffers > self->slots) {
    max_buffers = self->slots;
    adjusted = TRUE;
  }
  if (min_buffers > max_buffers) {
    min_buffers = max_buffers;
    adjusted = TRUE;
  }
  if (adjusted) {
    GST_DEBUG_OBJECT (self, "adjusted to size %u, min %u, max %u", size,
        min_buffers, max_buffers);
    gst_buffer_pool_config_set_params (config, caps, size, min_buffers,
        max_buffers);
  }

  self->size = size;

  return GST_BUFFER_POOL_CLASS (gst_hfx_shm_pool_parent_class)->set_config
      (pool, config) && !adjusted;

  /* ERRORS */
wrong_config:
  {
    GST_WARNING_OBJECT (self, "invalid config %" GST_PTR_FORMAT, config);
    return FALSE;
  }
no_caps:
  {
    GST_WARNING_OBJECT (self, "no caps in config");
    return FALSE;
  }
wrong_caps:
  {
    GST_WARNING_OBJECT (self, "caps %" GST_PTR_FORMAT " do not match the "
        "layout of the pool (%s %dx%d)", caps,
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info)),
        GST_VIDEO_INFO_WIDTH (&self->info),
        GST_VIDEO_INFO_HEIGHT (&self->info));
    return FALSE;
  }
}

static GstFlowReturn
gst_hfx_shm_pool_alloc_buffer (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  GstHfxShmPool *self = GST_HFX_SHM_POOL (pool);
  GstVideoInfo *info = &self->info;
  GstMemory *mem;
  GstBuffer *buf;

  mem = gst_hfx_shm_allocator_alloc_slot (self->allocator, self->size);
  if (mem == NULL)
    goto no_slot;

  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_N_PLANES (info),
      info->offset, info->stride);

  *buffer = buf;

  return GST_FLOW_OK;

  /* ERRORS */
no_slot:
  {
    /* only when sub-buffers still hold the slots of buffers the pool has
     * already freed */
    GST_WARNING_OBJECT (self, "all %u slots are in use", self->slots);
    return GST_FLOW_ERROR;
  }
}

static void
gst_hfx_shm_pool_finalize (GObject * object)
{
  GstHfxShmPool *self = GST_HFX_SHM_POOL (object);

  GST_DEBUG_OBJECT (self, "finalize");
  /* memories still alive keep their own reference on the region */
  gst_clear_object (&self->allocator);

  G_OBJECT_CLASS (gst_hfx_shm_pool_parent_class)->finalize (object);
}

static void
gst_hfx_shm_pool_class_init (GstHfxShmPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_hfx_shm_pool_finalize;
  pool_class->get_options = gst_hfx_shm_pool_get_options;
  pool_class->set_config = gst_hfx_shm_pool_set_config;
  pool_class->alloc_buffer = gst_hfx_shm_pool_alloc_buffer;

  GST_DEBUG_CATEGORY_INIT (gst_hfx_shm_pool_debug, "hfxshmpool", 0,
      "hfx shared-memory buffer pool");
}

static void
gst_hfx_shm_pool_init (GstHfxShmPool * self)
{
}

/**
 * gst_hfx_shm_pool_new:
 * @info: the layout of every frame: format, size, plane offsets and strides
 * @slots: the number of slots, 1 to %GST_HFX_SHM_POOL_MAX_SLOTS; also the
 *   pool's maximum number of buffers
 * @error: return location for a #GST_RESOURCE_ERROR, or %NULL
 *
 * Creates the memfd, seals it with F_SEAL_SHRINK | F_SEAL_GROW, maps it and
 * returns a pool configured for @info with at most @slots buffers. The caller
 * may set a new config (caps of the same format, width and height) and must
 * activate the pool before acquiring buffers.
 *
 * Returns: (transfer full) (nullable): a new #GstHfxShmPool, or %NULL with
 *   @error set.
 */
GstBufferPool *
gst_hfx_shm_pool_new (const GstVideoInfo * info, guint slots, GError ** error)
{
  return pool_new (info, slots, NULL, error);
}

/**
 * gst_hfx_shm_pool_new_in_ivshmem:
 * @info: the layout of every frame
 * @slots: the number of slots wanted, 2 to %GST_HFX_SHM_POOL_MAX_SLOTS
 * @ivshmem: (transfer none): the region; the pool keeps a reference
 *
 * As gst_hfx_shm_pool_new(), with the slots in the data area of @ivshmem
 * (region 0, docs/protocol.md §7.1) instead of a memfd: as many as fit, up
 * to @slots; fewer than 2 is an error. gst_hfx_shm_pool_buffer_offset()
 * then gives offsets from the start of the region, as FRAME wants them.
 *
 * Returns: (transfer full) (nullable): a new #GstHfxShmPool, or %NULL with
 *   @error set.
 */
GstBufferPool *
gst_hfx_shm_pool_new_in_ivshmem (const GstVideoInfo * info, guint slots,
    GstHfxIvshmem * ivshmem, GError ** error)
{
  g_return_val_if_fail (ivshmem != NULL, NULL);

  return pool_new (info, slots, ivshmem, error);
}

static GstBufferPool *
pool_new (const GstVideoInfo * info, guint slots, GstHfxIvshmem * ivshmem,
    GError ** error)
{
  GstHfxShmPool *self;
  GstHfxShmAllocator *allocator;
  GstStructure *config;
  GstCaps *caps;
  guint64 slot_size;

  g_return_val_if_fail (info != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_UNKNOWN ||
      GST_VIDEO_INFO_FORMAT (info) == GST_VIDEO_FORMAT_ENCODED ||
      GST_VIDEO_INFO_SIZE (info) == 0)
    goto bad_info;
  if (slots == 0 || slots > GST_HFX_SHM_POOL_MAX_SLOTS)
    goto bad_slots;

  /* widen before multiplying: the size must fit a gsize, an off_t and the
   * guint buffer size of a pool config */
  slot_size = GST_ROUND_UP_N ((guint64) GST_VIDEO_INFO_SIZE (info),
      GST_HFX_SHM_POOL_SLOT_ALIGN);
  if (slot_size > G_MAXUINT || slot_size * slots > G_MAXINT64 ||
      slot_size * slots > G_MAXSIZE)
    goto too_large;
  if (ivshmem) {
    guint64 fit =
        (ivshmem->region->size - ivshmem->region->data_offset) / slot_size;
    if (fit < 2)
      goto too_large;
    slots = (guint) MIN (fit, slots);
  }

  caps = gst_video_info_to_caps (info);
  if (caps == NULL)
    goto bad_info;

  /* the pool first: its class_init sets up the debug category */
  self = g_object_new (GST_TYPE_HFX_SHM_POOL, NULL);
  gst_object_ref_sink (self);

  allocator = ivshmem ?
      gst_hfx_shm_allocator_new_in_ivshmem ((gsize) slot_size, slots, ivshmem) :
      gst_hfx_shm_allocator_new ((gsize) slot_size, slots, error);
  if (allocator == NULL) {
    gst_caps_unref (caps);
    gst_object_unref (self);
    return NULL;
  }
  self->allocator = allocator;
  self->info = *info;
  self->slots = slots;
  self->size = GST_VIDEO_INFO_SIZE (info);

  config = gst_buffer_pool_get_config (GST_BUFFER_POOL_CAST (self));
  gst_buffer_pool_config_set_params (config, caps, self->size, 0, slots);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  if (!gst_buffer_pool_set_config (GST_BUFFER_POOL_CAST (self), config))
    goto config_failed;

  GST_INFO_OBJECT (self, "%s %dx%d, %u slots of %" G_GUINT64_FORMAT
      " bytes in %s %d",
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)),
      GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info), slots,
      slot_size, ivshmem ? "ivshmem region at" : "fd",
      ivshmem ? (gint) ivshmem->region->data_offset : allocator->fd);

  return GST_BUFFER_POOL_CAST (self);

  /* ERRORS */
bad_info:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "video info has no raw format or no size");
    return NULL;
  }
bad_slots:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%u slots: must be 1 to %u", slots, GST_HFX_SHM_POOL_MAX_SLOTS);
    return NULL;
  }
too_large:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%u slots of %" G_GUINT64_FORMAT " bytes are too large%s", slots,
        slot_size, ivshmem ? " (fewer than 2 fit the ivshmem region)" : "");
    return NULL;
  }
config_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "the pool rejected its own config");
    gst_object_unref (self);
    return NULL;
  }
}

/**
 * gst_hfx_shm_pool_get_fd:
 * @pool: a #GstHfxShmPool
 *
 * Returns: (transfer none): the memfd of the region, close-on-exec, sealed
 *   with F_SEAL_SHRINK | F_SEAL_GROW. It stays open as long as @pool or any
 *   of its buffers; do not close it. Send it with SCM_RIGHTS, which passes
 *   the host a duplicate. -1 for a pool in an ivshmem region.
 */
gint
gst_hfx_shm_pool_get_fd (GstHfxShmPool * pool)
{
  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), -1);

  return pool->allocator->fd;
}

/**
 * gst_hfx_shm_pool_get_ivshmem:
 * @pool: a #GstHfxShmPool
 *
 * Returns: (transfer none) (nullable): the ivshmem region the slots are
 *   in, or %NULL for a pool in a memfd.
 */
GstHfxIvshmem *
gst_hfx_shm_pool_get_ivshmem (GstHfxShmPool * pool)
{
  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), NULL);

  return pool->allocator->ivshmem;
}

/**
 * gst_hfx_shm_pool_get_size:
 * @pool: a #GstHfxShmPool
 *
 * Returns: the size of the region in bytes: slots times the slot size.
 */
gsize
gst_hfx_shm_pool_get_size (GstHfxShmPool * pool)
{
  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), 0);

  return pool->allocator->size;
}

/**
 * gst_hfx_shm_pool_get_slot_size:
 * @pool: a #GstHfxShmPool
 *
 * Returns: the size of one slot in bytes: the frame size rounded up to
 *   %GST_HFX_SHM_POOL_SLOT_ALIGN. Slot i starts at i times this.
 */
gsize
gst_hfx_shm_pool_get_slot_size (GstHfxShmPool * pool)
{
  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), 0);

  return pool->allocator->slot_size;
}

/**
 * gst_hfx_shm_pool_buffer_offset:
 * @pool: a #GstHfxShmPool
 * @buf: (transfer none): a buffer
 * @offset: (out): the offset in the region of the first byte of @buf
 *
 * Whether @buf lies in @pool's region: it has exactly one memory, and that
 * memory is a slot of @pool (a buffer of the pool, or a sub-buffer of one).
 * For a buffer of the pool *@offset is its slot's offset; plane p then
 * starts at *@offset + the #GstVideoMeta offset of plane p. Memory of any
 * other allocator returns %FALSE without being mapped.
 *
 * Returns: %TRUE and *@offset set if @buf is in the region.
 */
gboolean
gst_hfx_shm_pool_buffer_offset (GstHfxShmPool * pool, GstBuffer * buf,
    gsize * offset)
{
  GstHfxShmAllocator *region;
  GstHfxShmMemory *hmem;
  GstMemory *mem;
  guint64 start;

  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), FALSE);
  g_return_val_if_fail (GST_IS_BUFFER (buf), FALSE);
  g_return_val_if_fail (offset != NULL, FALSE);

  region = pool->allocator;
  if (gst_buffer_n_memory (buf) != 1)
    return FALSE;
  mem = gst_buffer_peek_memory (buf, 0);
  if (mem->allocator != GST_ALLOCATOR_CAST (region))
    return FALSE;

  /* the data range must lie in the region; it always does for our own
   * memory, but the check is cheap and guards against a bad resize */
  hmem = (GstHfxShmMemory *) mem;
  start = (guint64) hmem->base + mem->offset;
  if (start > region->size || mem->size > region->size - start)
    return FALSE;

  *offset = region->region_offset + (gsize) start;
  return TRUE;
}

/**
 * gst_hfx_shm_pool_acquire_slot_copy:
 * @pool: an active #GstHfxShmPool
 * @src: (transfer none): a mapped frame of the pool's format, width and
 *   height, in any layout
 * @dontwait: %TRUE to fail at once when every slot is in use instead of
 *   waiting for a buffer to come back to the pool
 * @out: (out) (transfer full): the buffer holding the copy
 * @offset: (out): the slot's offset in the region
 *
 * The copy path for frames that are not in the region: acquires a buffer of
 * @pool (waiting, unless @dontwait, while all are in use, as
 * gst_buffer_pool_acquire_buffer() does) and copies @src into it with
 * gst_video_frame_copy(). Unref *@out when the host is done with the frame;
 * that returns the slot to the pool.
 *
 * Returns: %TRUE on success. %FALSE when @src does not match the pool's
 *   format or size, when @dontwait is set and no slot is free, or when the
 *   pool is inactive or flushing; *@out is then %NULL.
 */
gboolean
gst_hfx_shm_pool_acquire_slot_copy (GstHfxShmPool * pool,
    const GstVideoFrame * src, gboolean dontwait, GstBuffer ** out,
    gsize * offset)
{
  GstBuffer *buf = NULL;

  g_return_val_if_fail (GST_IS_HFX_SHM_POOL (pool), FALSE);
  g_return_val_if_fail (src != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (offset != NULL, FALSE);

  *out = NULL;

  if (GST_VIDEO_FRAME_FORMAT (src) != GST_VIDEO_INFO_FORMAT (&pool->info) ||
      GST_VIDEO_FRAME_WIDTH (src) != GST_VIDEO_INFO_WIDTH (&pool->info) ||
      GST_VIDEO_FRAME_HEIGHT (src) != GST_VIDEO_INFO_HEIGHT (&pool->info))
    goto wrong_frame;

  if (!gst_hfx_pool_acquire_copy (GST_BUFFER_POOL_CAST (pool), &pool->info,
          src, dontwait, &buf))
    return FALSE;
  if (!gst_hfx_shm_pool_buffer_offset (pool, buf, offset))
    goto not_in_region;

  *out = buf;
  return TRUE;

  /* ERRORS */
wrong_frame:
  {
    GST_WARNING_OBJECT (pool, "frame %s %dx%d does not match the pool",
        gst_video_format_to_string (GST_VIDEO_FRAME_FORMAT (src)),
        GST_VIDEO_FRAME_WIDTH (src), GST_VIDEO_FRAME_HEIGHT (src));
    return FALSE;
  }
not_in_region:
  {
    GST_ERROR_OBJECT (pool, "%" GST_PTR_FORMAT " is not in the region", buf);
    gst_buffer_unref (buf);
    return FALSE;
  }
}
