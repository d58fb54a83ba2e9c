/* SPDX-License-Identifier: MIT */
/* hfx: a buffer pool of virtio-gpu resources.
 */

/**
 * SECTION:gsthfxgpupool
 * @title: GstHfxGpuPool
 * @short_description: video buffers that are resources of the guest's GPU
 *
 * With frame-source=resource vsockenc sends no pixels at all: each FRAME
 * names a virtio-gpu resource whose image the host reads from the guest's
 * GPU device (docs/protocol.md §5.3, docs/qemu.md). #GstHfxGpuPool is the
 * pool vsockenc proposes upstream so that frames are drawn straight into
 * such resources.
 *
 * Every buffer owns one DRM dumb buffer of the virtio_gpu driver, created
 * at the picture's size with 32 bits per pixel (the driver makes it a
 * B8G8R8X8 resource, hence BGRx only) and mapped read-write; its
 * #GstVideoMeta carries the dumb buffer's pitch. The driver backs a 2D
 * resource with guest pages that the host reads only on
 * TRANSFER_TO_HOST_2D, so gst_hfx_gpu_pool_transfer_to_host() must come
 * after the pixels are written and before the frame is named.
 *
 * Lifetime: the DRM fd belongs to a private #GstAllocator that the pool
 * holds; every #GstMemory holds a reference on it (gst_memory_init() takes
 * one), so the fd outlives every dumb buffer. A memory's dumb buffer is
 * unmapped and closed when the memory is freed. Memories are never shared
 * (GST_MEMORY_FLAG_NO_SHARE): a copy of a buffer is a copy of its pixels,
 * never a second name for the same resource.
 */

#include "gsthfxgpupool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>
#include <virtgpu_drm.h>

#include "gsthfxpoolcopy.h"

GST_DEBUG_CATEGORY_STATIC (gst_hfx_gpu_pool_debug);
#define GST_CAT_DEFAULT gst_hfx_gpu_pool_debug

/* The device: a private allocator that owns the DRM fd. */

#define GST_HFX_GPU_MEMORY_TYPE "HfxGpuMemory"

typedef struct _GstHfxGpuAllocator GstHfxGpuAllocator;
typedef struct _GstHfxGpuAllocatorClass GstHfxGpuAllocatorClass;

struct _GstHfxGpuAllocator
{
  GstAllocator parent;

  gint fd;                      /* owned duplicate of the DRM card node */
};

struct _GstHfxGpuAllocatorClass
{
  GstAllocatorClass parent_class;
};

typedef struct
{
  GstMemory mem;

  guint32 handle;               /* GEM handle on the allocator's fd */
  guint32 resource;             /* virtio-gpu resource id */
  guint32 width, height, pitch;
  guint8 *map;                  /* read-write mapping of the dumb buffer */
  gsize map_size;
} GstHfxGpuMemory;

static GType gst_hfx_gpu_allocator_get_type (void);
G_DEFINE_TYPE (GstHfxGpuAllocator, gst_hfx_gpu_allocator, GST_TYPE_ALLOCATOR);

static GstMemory *
gst_hfx_gpu_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  /* memory comes only from gpu_memory_new () */
  GST_WARNING_OBJECT (allocator, "gst_allocator_alloc () is not supported");
  return NULL;
}

static void
close_dumb (gint fd, guint32 handle)
{
  struct drm_gem_close close_args = {.handle = handle };

  if (handle && ioctl (fd, DRM_IOCTL_GEM_CLOSE, &close_args) != 0)
    GST_WARNING ("closing GEM handle %u: %s", handle, g_strerror (errno));
}

static void
gst_hfx_gpu_allocator_free (GstAllocator * allocator, GstMemory * mem)
{
  GstHfxGpuAllocator *self = (GstHfxGpuAllocator *) allocator;
  GstHfxGpuMemory *gmem = (GstHfxGpuMemory *) mem;

  GST_LOG_OBJECT (self, "resource %u freed", gmem->resource);
  munmap (gmem->map, gmem->map_size);
  close_dumb (self->fd, gmem->handle);
  g_free (gmem);
}

static gpointer
gst_hfx_gpu_memory_map (GstMemory * mem, gsize maxsize, GstMapFlags flags)
{
  return ((GstHfxGpuMemory *) mem)->map;
}

static void
gst_hfx_gpu_memory_unmap (GstMemory * mem)
{
}

static void
gst_hfx_gpu_allocator_finalize (GObject * object)
{
  GstHfxGpuAllocator *self = (GstHfxGpuAllocator *) object;

  if (self->fd >= 0)
    close (self->fd);
  G_OBJECT_CLASS (gst_hfx_gpu_allocator_parent_class)->finalize (object);
}

static void
gst_hfx_gpu_allocator_class_init (GstHfxGpuAllocatorClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  gobject_class->finalize = gst_hfx_gpu_allocator_finalize;
  allocator_class->alloc = gst_hfx_gpu_allocator_alloc;
  allocator_class->free = gst_hfx_gpu_allocator_free;
}

static void
gst_hfx_gpu_allocator_init (GstHfxGpuAllocator * self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);

  allocator->mem_type = GST_HFX_GPU_MEMORY_TYPE;
  allocator->mem_map = gst_hfx_gpu_memory_map;
  allocator->mem_unmap = gst_hfx_gpu_memory_unmap;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
  self->fd = -1;
}

/* A dumb buffer of width x height at 32 bits per pixel, its resource id
 * and its mapping, as a memory of the picture's size. */
static GstMemory *
gpu_memory_new (GstHfxGpuAllocator * self, guint32 width, guint32 height,
    GError ** error)
{
  struct drm_mode_create_dumb create = {.width = width,.height = height,
    .bpp = 32
  };
  struct drm_virtgpu_resource_info info = { 0 };
  struct drm_mode_map_dumb map = { 0 };
  GstHfxGpuMemory *gmem;
  gpointer data;
  const gchar *step;

  if (ioctl (self->fd, DRM_IOCTL_MODE_CREATE_DUMB, &create) != 0) {
    step = "DRM_IOCTL_MODE_CREATE_DUMB";
    goto failed;
  }
  info.bo_handle = create.handle;
  map.handle = create.handle;
  if (ioctl (self->fd, DRM_IOCTL_VIRTGPU_RESOURCE_INFO, &info) != 0) {
    step = "DRM_IOCTL_VIRTGPU_RESOURCE_INFO";
    goto failed_close;
  }
  if (ioctl (self->fd, DRM_IOCTL_MODE_MAP_DUMB, &map) != 0) {
    step = "DRM_IOCTL_MODE_MAP_DUMB";
    goto failed_close;
  }
  /* The driver's pitch and size hold the picture; checked all the same,
   * since the memory's size is taken from them. */
  if (create.pitch < (guint64) width * 4 || create.size > G_MAXSIZE ||
      create.size < (guint64) create.pitch * height) {
    errno = EINVAL;
    step = "the dumb buffer's pitch and size";
    goto failed_close;
  }
  data = mmap (NULL, (gsize) create.size, PROT_READ | PROT_WRITE, MAP_SHARED,
      self->fd, (off_t) map.offset);
  if (data == MAP_FAILED) {
    step = "mmap of the dumb buffer";
    goto failed_close;
  }

  gmem = g_new0 (GstHfxGpuMemory, 1);
  gst_memory_init (GST_MEMORY_CAST (gmem), GST_MEMORY_FLAG_NO_SHARE,
      GST_ALLOCATOR_CAST (self), NULL, (gsize) create.size, 0, 0,
      (gsize) create.pitch * height);
  gmem->handle = create.handle;
  gmem->resource = info.res_handle;
  gmem->width = width;
  gmem->height = height;
  gmem->pitch = create.pitch;
  gmem->map = data;
  gmem->map_size = (gsize) create.size;
  GST_DEBUG_OBJECT (self, "resource %u: %ux%u, pitch %u", gmem->resource,
      width, height, gmem->pitch);
  return GST_MEMORY_CAST (gmem);

  /* ERRORS */
failed_close:
  {
    gint saved = errno;

    close_dumb (self->fd, create.handle);
    errno = saved;
  }
failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "a %ux%u virtio-gpu resource: %s failed: %s", width, height, step,
        g_strerror (errno));
    return NULL;
  }
}

/* The pool */

struct _GstHfxGpuPool
{
  GstBufferPool parent;

  GstHfxGpuAllocator *allocator;
  GstVideoInfo info;            /* BGRx, the picture's size, fixed */
  guint max_buffers;
};

G_DEFINE_TYPE (GstHfxGpuPool, gst_hfx_gpu_pool, GST_TYPE_BUFFER_POOL);

static const gchar **
gst_hfx_gpu_pool_get_options (GstBufferPool * pool)
{
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META, NULL };

  return options;
}

/* Resources have one size: caps of the same format and size only, the
 * buffer counts clamped to max_buffers. An adjusted config is written back
 * and FALSE returned, as GstBufferPool documents. */
static gboolean
gst_hfx_gpu_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstHfxGpuPool *self = GST_HFX_GPU_POOL (pool);
  GstCaps *caps;
  GstVideoInfo info;
  guint size, min_buffers, max_buffers;
  gboolean adjusted = FALSE;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min_buffers,
          &max_buffers) || !caps || !gst_video_info_from_caps (&info, caps))
    goto wrong_config;
  if (GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_INFO_FORMAT (&self->info) ||
      GST_VIDEO_INFO_WIDTH (&info) != GST_VIDEO_INFO_WIDTH (&self->info) ||
      GST_VIDEO_INFO_HEIGHT (&info) != GST_VIDEO_INFO_HEIGHT (&self->info))
    goto wrong_config;
  if (size != GST_VIDEO_INFO_SIZE (&self->info)) {
    size = GST_VIDEO_INFO_SIZE (&self->info);
    adjusted = TRUE;
  }
  if (max_buffers == 0 || max_buffers > self->max_buffers) {
    max_buffers = self->max_buffers;
    adjusted = TRUE;
  }
  if (min_buffers > max_buffers) {
    min_buffers = max_buffers;
    adjusted = TRUE;
  }
  if (adjusted)
    gst_buffer_pool_config_set_params (config, caps, size, min_buffers,
        max_buffers);
  return GST_BUFFER_POOL_CLASS (gst_hfx_gpu_pool_parent_class)->set_config
      (pool, config) && !adjusted;

  /* ERRORS */
wrong_config:
  {
    GST_WARNING_OBJECT (self, "config %" GST_PTR_FORMAT " is not of the "
        "pool's resources (BGRx %dx%d)", config,
        GST_VIDEO_INFO_WIDTH (&self->info),
        GST_VIDEO_INFO_HEIGHT (&self->info));
    return FALSE;
  }
}

static GstFlowReturn
gst_hfx_gpu_pool_alloc_buffer (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  GstHfxGpuPool *self = GST_HFX_GPU_POOL (pool);
  GstVideoInfo *info = &self->info;
  GError *error = NULL;
  GstMemory *mem;
  GstBuffer *buf;
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0, };
  gint stride[GST_VIDEO_MAX_PLANES] = { 0, };

  mem = gpu_memory_new (self->allocator, GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), &error);
  if (!mem) {
    GST_ERROR_OBJECT (self, "%s", error->message);
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
  stride[0] = (gint) ((GstHfxGpuMemory *) mem)->pitch;
  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
      GST_VIDEO_INFO_HEIGHT (info), 1, offset, stride);
  *buffer = buf;
  return GST_FLOW_OK;
}

static void
gst_hfx_gpu_pool_finalize (GObject * object)
{
  GstHfxGpuPool *self = GST_HFX_GPU_POOL (object);

  /* memories still alive keep their own reference on the device */
  gst_clear_object (&self->allocator);
  G_OBJECT_CLASS (gst_hfx_gpu_pool_parent_class)->finalize (object);
}

static void
gst_hfx_gpu_pool_class_init (GstHfxGpuPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_hfx_gpu_pool_finalize;
  pool_class->get_options = gst_hfx_gpu_pool_get_options;
  pool_class->set_config = gst_hfx_gpu_pool_set_config;
  pool_class->alloc_buffer = gst_hfx_gpu_pool_alloc_buffer;

  GST_DEBUG_CATEGORY_INIT (gst_hfx_gpu_pool_debug, "hfxgpupool", 0,
      "hfx buffer pool of virtio-gpu resources");
}

static void
gst_hfx_gpu_pool_init (GstHfxGpuPool * self)
{
}

/**
 * gst_hfx_gpu_pool_new:
 * @drm_fd: a DRM card node of the virtio_gpu driver; the pool keeps a
 *   duplicate
 * @info: the picture: BGRx, width and height
 * @max_buffers: the most resources the pool makes, 1 or more
 * @error: return location for a #GST_RESOURCE_ERROR, or %NULL
 *
 * Returns: (transfer full) (nullable): a configured, inactive pool, or
 *   %NULL with @error set.
 */
GstBufferPool *
gst_hfx_gpu_pool_new (gint drm_fd, const GstVideoInfo * info,
    guint max_buffers, GError ** error)
{
  GstHfxGpuPool *self;
  GstStructure *config;
  GstCaps *caps;
  gint fd;

  g_return_val_if_fail (info != NULL, NULL);
  g_return_val_if_fail (max_buffers > 0, NULL);

  if (GST_VIDEO_INFO_FORMAT (info) != GST_VIDEO_FORMAT_BGRx)
    goto wrong_format;
  fd = fcntl (drm_fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    goto dup_failed;

  /* the pool first: its class_init sets up the debug category */
  self = g_object_new (GST_TYPE_HFX_GPU_POOL, NULL);
  gst_object_ref_sink (self);
  self->allocator = g_object_new (gst_hfx_gpu_allocator_get_type (), NULL);
  gst_object_ref_sink (self->allocator);
  self->allocator->fd = fd;
  self->info = *info;
  self->max_buffers = max_buffers;

  caps = gst_video_info_to_caps (info);
  config = gst_buffer_pool_get_config (GST_BUFFER_POOL_CAST (self));
  gst_buffer_pool_config_set_params (config, caps,
      GST_VIDEO_INFO_SIZE (info), 0, max_buffers);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  gst_caps_unref (caps);
  if (!gst_buffer_pool_set_config (GST_BUFFER_POOL_CAST (self), config)) {
    gst_object_unref (self);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "the pool rejected its own config");
    return NULL;
  }
  GST_INFO_OBJECT (self, "BGRx %dx%d, up to %u resources",
      GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info), max_buffers);
  return GST_BUFFER_POOL_CAST (self);

  /* ERRORS */
wrong_format:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "%s: virtio-gpu resources made from dumb buffers are BGRx",
        gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (info)));
    return NULL;
  }
dup_failed:
  {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
        "duplicating the DRM fd: %s", g_strerror (errno));
    return NULL;
  }
}

/* The memory of buf when it is one resource of pool, else NULL. */
static GstHfxGpuMemory *
resource_of (GstHfxGpuPool * pool, GstBuffer * buf)
{
  GstMemory *mem;

  if (gst_buffer_n_memory (buf) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buf, 0);
  if (mem->allocator != GST_ALLOCATOR_CAST (pool->allocator) || mem->offset)
    return NULL;
  return (GstHfxGpuMemory *) mem;
}

gboolean
gst_hfx_gpu_pool_buffer_resource (GstHfxGpuPool * pool, GstBuffer * buf,
    guint32 * resource, guint32 * stride)
{
  GstHfxGpuMemory *gmem;

  g_return_val_if_fail (GST_IS_HFX_GPU_POOL (pool), FALSE);
  g_return_val_if_fail (GST_IS_BUFFER (buf), FALSE);

  gmem = resource_of (pool, buf);
  if (!gmem)
    return FALSE;
  *resource = gmem->resource;
  *stride = gmem->pitch;
  return TRUE;
}

gboolean
gst_hfx_gpu_pool_transfer_to_host (GstHfxGpuPool * pool, GstBuffer * buf,
    GError ** error)
{
  struct drm_virtgpu_3d_transfer_to_host t = { 0 };
  GstHfxGpuMemory *gmem;

  g_return_val_if_fail (GST_IS_HFX_GPU_POOL (pool), FALSE);

  gmem = resource_of (pool, buf);
  if (!gmem) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "the buffer is not a resource of the pool");
    return FALSE;
  }
  t.bo_handle = gmem->handle;
  t.box.w = gmem->width;
  t.box.h = gmem->height;
  t.box.d = 1;
  if (ioctl (pool->allocator->fd, DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST, &t)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "DRM_IOCTL_VIRTGPU_TRANSFER_TO_HOST of resource %u: %s",
        gmem->resource, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_hfx_gpu_pool_acquire_copy (GstHfxGpuPool * pool,
    const GstVideoFrame * src, GstBuffer ** out)
{
  g_return_val_if_fail (GST_IS_HFX_GPU_POOL (pool), FALSE);

  return gst_hfx_pool_acquire_copy (GST_BUFFER_POOL_CAST (pool), &pool->info,
      src, FALSE, out);
}
