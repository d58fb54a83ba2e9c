/* SPDX-License-Identifier: MIT */
/* GstHfxShmPool: slots, video meta, what the host sees through its own
 * read-only mapping of the memfd, seals, the slot limit, sub-buffers, the
 * copy path, and upstream elements writing into the pool. GstHfxIvshmem on
 * a fake sysfs device directory, and pools in its region.
 */

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include <glib/gstdio.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gsthfxivshmem.h"
#include "gsthfxshmpool.h"
#include "hfx/region.h"

#define WIDTH 64
#define HEIGHT 48
#define SLOTS 4

/* the loop tests run once per format */
static const GstVideoFormat formats[] = {
  GST_VIDEO_FORMAT_NV12, GST_VIDEO_FORMAT_I420, GST_VIDEO_FORMAT_BGRx,
};

static void
make_info (GstVideoInfo * info, GstVideoFormat format)
{
  fail_unless (gst_video_info_set_format (info, format, WIDTH, HEIGHT));
}

static GstBufferPool *
make_pool (GstVideoInfo * info, GstVideoFormat format, gboolean activate)
{
  GError *err = NULL;
  GstBufferPool *pool;

  make_info (info, format);
  pool = gst_hfx_shm_pool_new (info, SLOTS, &err);
  fail_unless (pool != NULL, "gst_hfx_shm_pool_new: %s",
      err ? err->message : "?");
  if (activate)
    fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  return pool;
}

/* Unrefs the n buffers of bufs, then deactivates and unrefs pool. */
static void
free_pool (GstBufferPool * pool, GstBuffer ** bufs, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    gst_buffer_unref (bufs[i]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
}

/* What the host does: a second, read-only, mapping of the memfd. */
static const guint8 *
host_map (GstBufferPool * pool)
{
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  gpointer map;

  map = mmap (NULL, gst_hfx_shm_pool_get_size (shm), PROT_READ, MAP_SHARED,
      gst_hfx_shm_pool_get_fd (shm), 0);
  fail_unless (map != MAP_FAILED);
  return map;
}

static void
host_unmap (GstBufferPool * pool, const guint8 * map)
{
  munmap ((gpointer) map, gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL (pool)));
}

/* Bytes per row and rows of the visible part of a plane. */
static void
plane_geometry (const GstVideoInfo * info, guint plane, gsize * row_bytes,
    guint * rows)
{
  gint comp[GST_VIDEO_MAX_COMPONENTS];

  gst_video_format_info_component (info->finfo, plane, comp);
  *row_bytes = (gsize) GST_VIDEO_INFO_COMP_WIDTH (info, comp[0]) *
      GST_VIDEO_INFO_COMP_PSTRIDE (info, comp[0]);
  *rows = GST_VIDEO_INFO_COMP_HEIGHT (info, comp[0]);
}

static guint8
pattern_byte (guint seed, guint plane, guint row, gsize col)
{
  return (guint8) (seed * 31 + plane * 67 + row * 7 + col * 13 + 1);
}

static void
fill_frame (GstVideoFrame * frame, guint seed)
{
  guint p, row, rows;
  gsize col, row_bytes;

  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (frame); p++) {
    plane_geometry (&frame->info, p, &row_bytes, &rows);
    for (row = 0; row < rows; row++) {
      guint8 *line = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, p) +
          row * GST_VIDEO_FRAME_PLANE_STRIDE (frame, p);
      for (col = 0; col < row_bytes; col++)
        line[col] = pattern_byte (seed, p, row, col);
    }
  }
}

/* Checks, through the host's mapping, that the frame at offset with the
 * layout of vmeta holds the pattern of seed. */
static void
check_host_pattern (const GstVideoInfo * info, const guint8 * host,
    gsize offset, const GstVideoMeta * vmeta, guint seed)
{
  guint p, row, rows;
  gsize col, row_bytes;

  for (p = 0; p < vmeta->n_planes; p++) {
    plane_geometry (info, p, &row_bytes, &rows);
    for (row = 0; row < rows; row++) {
      const guint8 *line = host + offset + vmeta->offset[p] +
          (gsize) row * vmeta->stride[p];
      for (col = 0; col < row_bytes; col++) {
        if (line[col] != pattern_byte (seed, p, row, col))
          fail ("plane %u row %u byte %" G_GSIZE_FORMAT ": %u, not %u", p,
              row, col, line[col], pattern_byte (seed, p, row, col));
      }
    }
  }
}

static gsize
acquire_at (GstBufferPool * pool, GstBuffer ** buf)
{
  gsize offset = G_MAXSIZE;

  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, buf, NULL),
      GST_FLOW_OK);
  fail_unless (gst_hfx_shm_pool_buffer_offset (GST_HFX_SHM_POOL (pool), *buf,
          &offset));
  return offset;
}

static GstFlowReturn
try_acquire (GstBufferPool * pool, GstBuffer ** buf)
{
  GstBufferPoolAcquireParams params = { 0, };

  params.flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT;
  *buf = NULL;
  return gst_buffer_pool_acquire_buffer (pool, buf, &params);
}

GST_START_TEST (test_slots)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, formats[__i__], TRUE);
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  GstBuffer *bufs[SLOTS];
  gboolean seen[SLOTS] = { FALSE, };
  gsize slot_size = gst_hfx_shm_pool_get_slot_size (shm);
  guint i, p;

  fail_unless_equals_uint64 (slot_size, GST_ROUND_UP_N (info.size, 4096));
  fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (shm),
      SLOTS * slot_size);

  for (i = 0; i < SLOTS; i++) {
    gsize offset = acquire_at (pool, &bufs[i]);
    GstVideoMeta *vmeta = gst_buffer_get_video_meta (bufs[i]);

    /* a slot of its own, at a multiple of the slot size */
    fail_unless_equals_uint64 (offset % slot_size, 0);
    fail_unless (offset / slot_size < SLOTS);
    fail_if (seen[offset / slot_size], "slot %" G_GSIZE_FORMAT " twice",
        offset / slot_size);
    seen[offset / slot_size] = TRUE;
    fail_unless_equals_int (gst_buffer_n_memory (bufs[i]), 1);
    fail_unless_equals_uint64 (gst_buffer_get_size (bufs[i]), info.size);

    fail_unless (vmeta != NULL);
    fail_unless_equals_int (vmeta->format, GST_VIDEO_INFO_FORMAT (&info));
    fail_unless_equals_int (vmeta->width, WIDTH);
    fail_unless_equals_int (vmeta->height, HEIGHT);
    fail_unless_equals_int (vmeta->n_planes, GST_VIDEO_INFO_N_PLANES (&info));
    for (p = 0; p < vmeta->n_planes; p++) {
      fail_unless_equals_uint64 (vmeta->offset[p], info.offset[p]);
      fail_unless_equals_int (vmeta->stride[p], info.stride[p]);
    }
  }

  free_pool (pool, bufs, SLOTS);
}

GST_END_TEST;

/* Writes through each buffer's video frame; the host's read-only mapping
 * sees every plane at slot offset + meta offset, with the meta stride. */
GST_START_TEST (test_host_view)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, formats[__i__], TRUE);
  const guint8 *host = host_map (pool);
  GstBuffer *bufs[SLOTS];
  gsize offsets[SLOTS];
  guint i;

  for (i = 0; i < SLOTS; i++) {
    GstVideoFrame frame;

    offsets[i] = acquire_at (pool, &bufs[i]);
    fail_unless (gst_video_frame_map (&frame, &info, bufs[i], GST_MAP_WRITE));
    fill_frame (&frame, i);
    gst_video_frame_unmap (&frame);
  }
  /* after all are written: no slot overlaps another */
  for (i = 0; i < SLOTS; i++)
    check_host_pattern (&info, host, offsets[i],
        gst_buffer_get_video_meta (bufs[i]), i);

  host_unmap (pool, host);
  free_pool (pool, bufs, SLOTS);
}

GST_END_TEST;

GST_START_TEST (test_seals)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, GST_VIDEO_FORMAT_NV12, FALSE);
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  gint fd = gst_hfx_shm_pool_get_fd (shm);
  gsize size = gst_hfx_shm_pool_get_size (shm);
  struct stat st;
  int seals;

  fail_unless (fd >= 0);
  fail_unless (fstat (fd, &st) == 0);
  fail_unless_equals_uint64 (st.st_size, size);
  fail_unless (fcntl (fd, F_GETFD) & FD_CLOEXEC);

  /* what the host requires, and that nothing stops our writes */
  seals = fcntl (fd, F_GET_SEALS);
  fail_unless (seals >= 0);
  fail_unless (seals & F_SEAL_SHRINK);
  fail_unless (seals & F_SEAL_GROW);
  fail_if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));

  fail_unless (ftruncate (fd, size - 4096) == -1 && errno == EPERM);
  fail_unless (ftruncate (fd, size + 4096) == -1 && errno == EPERM);
  fail_unless (ftruncate (fd, 0) == -1 && errno == EPERM);
  fail_unless (fstat (fd, &st) == 0);
  fail_unless_equals_uint64 (st.st_size, size);

  gst_object_unref (pool);
}

GST_END_TEST;

/* max buffers = slots: the 5th acquire fails while 4 are held; releasing
 * one lets it through, in the released slot. */
GST_START_TEST (test_slot_limit)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, formats[__i__], TRUE);
  GstBuffer *bufs[SLOTS], *extra;
  gsize offsets[SLOTS];
  guint min_buffers, max_buffers;
  GstStructure *config;
  guint i;

  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, NULL,
          &min_buffers, &max_buffers));
  fail_unless_equals_int (max_buffers, SLOTS);
  gst_structure_free (config);

  for (i = 0; i < SLOTS; i++)
    offsets[i] = acquire_at (pool, &bufs[i]);

  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_EOS);
  fail_unless (extra == NULL);

  gst_buffer_unref (bufs[2]);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_OK);
  {
    gsize offset;

    fail_unless (gst_hfx_shm_pool_buffer_offset (GST_HFX_SHM_POOL (pool),
            extra, &offset));
    fail_unless_equals_uint64 (offset, offsets[2]);
  }
  bufs[2] = extra;

  /* and a flushing pool does not hand out buffers either */
  gst_buffer_unref (bufs[0]);
  gst_buffer_pool_set_flushing (pool, TRUE);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_FLUSHING);
  gst_buffer_pool_set_flushing (pool, FALSE);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_OK);
  bufs[0] = extra;

  free_pool (pool, bufs, SLOTS);
}

GST_END_TEST;

static gpointer
blocking_acquire (gpointer data)
{
  GstBufferPool *pool = data;
  GstBuffer *buf = NULL;

  if (gst_buffer_pool_acquire_buffer (pool, &buf, NULL) != GST_FLOW_OK)
    return NULL;
  return buf;
}

/* Without DONTWAIT the 5th acquire waits for a release. */
GST_START_TEST (test_blocking_acquire)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, GST_VIDEO_FORMAT_NV12, TRUE);
  GstBuffer *bufs[SLOTS], *got;
  gsize offset, released;
  GThread *thread;
  guint i;

  for (i = 0; i < SLOTS; i++)
    acquire_at (pool, &bufs[i]);
  fail_unless (gst_hfx_shm_pool_buffer_offset (GST_HFX_SHM_POOL (pool),
          bufs[1], &released));

  thread = g_thread_new ("acquire", blocking_acquire, pool);
  g_usleep (50 * 1000);
  gst_buffer_unref (bufs[1]);
  got = g_thread_join (thread);
  fail_unless (got != NULL);
  fail_unless (gst_hfx_shm_pool_buffer_offset (GST_HFX_SHM_POOL (pool), got,
          &offset));
  fail_unless_equals_uint64 (offset, released);
  bufs[1] = got;

  free_pool (pool, bufs, SLOTS);
}

GST_END_TEST;

GST_START_TEST (test_foreign_buffers)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, GST_VIDEO_FORMAT_NV12, TRUE);
  GstBufferPool *other = make_pool (&info, GST_VIDEO_FORMAT_NV12, TRUE);
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  GstBuffer *sys, *mine, *theirs, *two;
  gsize offset = 12345;

  sys = gst_buffer_new_allocate (NULL, info.size, NULL);
  fail_if (gst_hfx_shm_pool_buffer_offset (shm, sys, &offset));
  fail_unless_equals_uint64 (offset, 12345);

  /* a slot of another hfx pool is not in this region */
  acquire_at (other, &theirs);
  fail_if (gst_hfx_shm_pool_buffer_offset (shm, theirs, &offset));

  /* nor is a buffer of two memories, even if one is ours */
  acquire_at (pool, &mine);
  two = gst_buffer_copy_region (mine, GST_BUFFER_COPY_ALL, 0, 4096);
  gst_buffer_append_memory (two, gst_allocator_alloc (NULL, 4096, NULL));
  fail_if (gst_hfx_shm_pool_buffer_offset (shm, two, &offset));

  /* a deep copy is in system memory */
  gst_buffer_unref (sys);
  sys = gst_buffer_copy_deep (mine);
  fail_if (gst_hfx_shm_pool_buffer_offset (shm, sys, &offset));

  gst_buffer_unref (sys);
  gst_buffer_unref (two);
  gst_buffer_unref (mine);
  gst_buffer_unref (theirs);
  free_pool (other, NULL, 0);
  free_pool (pool, NULL, 0);
}

GST_END_TEST;

/* A sub-buffer is in the region at its own offset, and keeps its slot (and
 * the mapping) alive after its parent buffer and the pool are gone. */
GST_START_TEST (test_sub_buffer)
{
  GstVideoInfo info;
  GstBufferPool *pool = make_pool (&info, GST_VIDEO_FORMAT_NV12, TRUE);
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  GstBuffer *bufs[SLOTS], *sub, *extra;
  gsize offsets[SLOTS], offset;
  GstMapInfo map;
  guint i;

  for (i = 0; i < SLOTS; i++)
    offsets[i] = acquire_at (pool, &bufs[i]);
  fail_unless (gst_buffer_map (bufs[0], &map, GST_MAP_WRITE));
  memset (map.data, 0xa5, map.size);
  gst_buffer_unmap (bufs[0], &map);

  sub = gst_buffer_copy_region (bufs[0], GST_BUFFER_COPY_ALL, 100, 200);
  fail_unless (gst_hfx_shm_pool_buffer_offset (shm, sub, &offset));
  fail_unless_equals_uint64 (offset, offsets[0] + 100);

  /* the pool cannot reuse a buffer whose memory is shared, so it frees it;
   * the slot stays taken by the sub-buffer, and with the 3 others held
   * there is none left */
  gst_buffer_unref (bufs[0]);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_ERROR);
  fail_unless (extra == NULL);

  /* the slot comes back when the sub-buffer goes */
  gst_buffer_unref (sub);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_OK);
  fail_unless (gst_hfx_shm_pool_buffer_offset (shm, extra, &offset));
  fail_unless_equals_uint64 (offset, offsets[0]);
  bufs[0] = extra;

  /* a sub-buffer outlives the pool: the mapping stays */
  fail_unless (gst_buffer_map (bufs[1], &map, GST_MAP_WRITE));
  memset (map.data, 0x5a, map.size);
  gst_buffer_unmap (bufs[1], &map);
  sub = gst_buffer_copy_region (bufs[1], GST_BUFFER_COPY_ALL, 0, 64);
  free_pool (pool, bufs, SLOTS);

  fail_unless (gst_buffer_map (sub, &map, GST_MAP_READ));
  for (i = 0; i < map.size; i++)
    fail_unless_equals_int (map.data[i], 0x5a);
  gst_buffer_unmap (sub, &map);
  /* and is read-only: its memory does not map for writing */
  fail_if (gst_memory_map (gst_buffer_peek_memory (sub, 0), &map,
          GST_MAP_WRITE));
  gst_buffer_unref (sub);
}

GST_END_TEST;

/* The copy path: a frame from elsewhere, here with padded rows, lands
 * pixel-exact in a slot in the pool's layout. */
GST_START_TEST (test_copy)
{
  GstVideoInfo info, src_info;
  GstBufferPool *pool = make_pool (&info, formats[__i__], TRUE);
  GstHfxShmPool *shm = GST_HFX_SHM_POOL (pool);
  const guint8 *host = host_map (pool);
  GstVideoAlignment align;
  GstVideoFrame src;
  GstBuffer *src_buf, *out[SLOTS], *extra;
  gsize offset;
  guint i;

  src_info = info;
  gst_video_alignment_reset (&align);
  align.padding_right = 16;
  fail_unless (gst_video_info_align (&src_info, &align));
  fail_if (src_info.stride[0] == info.stride[0]);

  src_buf = gst_buffer_new_allocate (NULL, src_info.size, NULL);
  fail_unless (gst_video_frame_map (&src, &src_info, src_buf, GST_MAP_WRITE));

  for (i = 0; i < SLOTS; i++) {
    fill_frame (&src, 10 + i);
    fail_unless (gst_hfx_shm_pool_acquire_slot_copy (shm, &src, TRUE, &out[i],
            &offset));
    fail_unless (out[i] != NULL);
    fail_unless_equals_uint64 (offset % gst_hfx_shm_pool_get_slot_size (shm),
        0);
    check_host_pattern (&info, host, offset,
        gst_buffer_get_video_meta (out[i]), 10 + i);
  }

  /* all slots held: dontwait fails */
  fail_if (gst_hfx_shm_pool_acquire_slot_copy (shm, &src, TRUE, &extra,
          &offset));
  fail_unless (extra == NULL);
  gst_buffer_unref (out[3]);
  fail_unless (gst_hfx_shm_pool_acquire_slot_copy (shm, &src, TRUE, &out[3],
          &offset));
  gst_video_frame_unmap (&src);
  gst_buffer_unref (src_buf);

  /* a frame of another format is refused */
  {
    GstVideoInfo gray;

    gst_video_info_set_format (&gray, GST_VIDEO_FORMAT_GRAY8, WIDTH, HEIGHT);
    src_buf = gst_buffer_new_allocate (NULL, gray.size, NULL);
    fail_unless (gst_video_frame_map (&src, &gray, src_buf, GST_MAP_READ));
    gst_buffer_unref (out[0]);
    fail_if (gst_hfx_shm_pool_acquire_slot_copy (shm, &src, TRUE, &out[0],
            &offset));
    fail_unless (out[0] == NULL);
    gst_video_frame_unmap (&src);
    gst_buffer_unref (src_buf);
  }

  host_unmap (pool, host);
  free_pool (pool, out + 1, SLOTS - 1);
}

GST_END_TEST;

GST_START_TEST (test_config)
{
  GstVideoInfo info, other;
  GstBufferPool *pool = make_pool (&info, GST_VIDEO_FORMAT_I420, FALSE);
  GstStructure *config;
  GstCaps *caps;
  guint size, min_buffers, max_buffers;

  /* how upstream configures a proposed pool: max 0 means "any" */
  caps = gst_video_info_to_caps (&info);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, info.size, 2, 0);
  fail_if (gst_buffer_pool_set_config (pool, config));
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_validate_params (config, caps,
          info.size, 2, 0));
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, &size,
          &min_buffers, &max_buffers));
  fail_unless_equals_int (size, info.size);
  fail_unless_equals_int (min_buffers, 2);
  fail_unless_equals_int (max_buffers, SLOTS);
  fail_unless (gst_buffer_pool_set_config (pool, config));

  /* more than the slots is clamped */
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, info.size, SLOTS + 2,
      SLOTS + 4);
  fail_if (gst_buffer_pool_set_config (pool, config));
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, NULL,
          &min_buffers, &max_buffers));
  fail_unless_equals_int (min_buffers, SLOTS);
  fail_unless_equals_int (max_buffers, SLOTS);
  gst_structure_free (config);
  gst_caps_unref (caps);

  /* another frame size is refused */
  gst_video_info_set_format (&other, GST_VIDEO_FORMAT_I420, WIDTH * 2, HEIGHT);
  caps = gst_video_info_to_caps (&other);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, other.size, 0, SLOTS);
  fail_if (gst_buffer_pool_set_config (pool, config));
  gst_caps_unref (caps);

  fail_unless (gst_buffer_pool_has_option (pool,
          GST_BUFFER_POOL_OPTION_VIDEO_META));
  gst_object_unref (pool);
}

GST_END_TEST;

GST_START_TEST (test_new_errors)
{
  GstVideoInfo info;
  GError *err = NULL;

  make_info (&info, GST_VIDEO_FORMAT_NV12);
  fail_unless (gst_hfx_shm_pool_new (&info, 0, &err) == NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS));
  g_clear_error (&err);
  fail_unless (gst_hfx_shm_pool_new (&info, GST_HFX_SHM_POOL_MAX_SLOTS + 1,
          &err) == NULL);
  fail_unless (err != NULL);
  g_clear_error (&err);

  gst_video_info_init (&info);
  fail_unless (gst_hfx_shm_pool_new (&info, SLOTS, &err) == NULL);
  fail_unless (err != NULL);
  g_clear_error (&err);

  /* the largest count is fine */
  make_info (&info, GST_VIDEO_FORMAT_NV12);
  {
    GstBufferPool *pool = gst_hfx_shm_pool_new (&info,
        GST_HFX_SHM_POOL_MAX_SLOTS, &err);

    fail_unless (pool != NULL);
    fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL
            (pool)), GST_HFX_SHM_POOL_MAX_SLOTS * GST_ROUND_UP_N (info.size,
            4096));
    gst_object_unref (pool);
  }
}

GST_END_TEST;

/* Upstream elements writing into the pool: the sink answers the ALLOCATION
 * query with the pool, as vsockenc's propose_allocation does, and every
 * frame that reaches it is compared, as the host reads it, with a run of
 * the same pipeline on system memory. */

typedef struct
{
  GstHfxShmPool *pool;          /* NULL for the reference run */
  const guint8 *host;
  GstVideoInfo info;
  GByteArray *frames;           /* the visible bytes of every frame */
  guint in_pool;
  guint buffers;
} PipelineRun;

static GstPadProbeReturn
answer_allocation (GstPad * pad, GstPadProbeInfo * pinfo, gpointer user_data)
{
  PipelineRun *run = user_data;
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (pinfo);

  if (GST_QUERY_TYPE (query) != GST_QUERY_ALLOCATION)
    return GST_PAD_PROBE_OK;

  gst_query_add_allocation_pool (query, GST_BUFFER_POOL (run->pool),
      run->info.size, 0, SLOTS);
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  return GST_PAD_PROBE_HANDLED;
}

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad,
    gpointer user_data)
{
  PipelineRun *run = user_data;
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buf);
  GstVideoFrame frame;
  gsize offset;
  guint p, row, rows;
  gsize row_bytes;

  run->buffers++;
  if (run->pool && vmeta &&
      gst_hfx_shm_pool_buffer_offset (run->pool, buf, &offset)) {
    /* what the host sees */
    run->in_pool++;
    for (p = 0; p < vmeta->n_planes; p++) {
      plane_geometry (&run->info, p, &row_bytes, &rows);
      for (row = 0; row < rows; row++)
        g_byte_array_append (run->frames, run->host + offset +
            vmeta->offset[p] + (gsize) row * vmeta->stride[p], row_bytes);
    }
    return;
  }

  if (!gst_video_frame_map (&frame, &run->info, buf, GST_MAP_READ))
    return;
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    plane_geometry (&run->info, p, &row_bytes, &rows);
    for (row = 0; row < rows; row++)
      g_byte_array_append (run->frames,
          (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, p) +
          (gsize) row * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p), row_bytes);
  }
  gst_video_frame_unmap (&frame);
}

#define NUM_BUFFERS 8

static void
run_pipeline (const gchar * upstream, PipelineRun * run)
{
  GstElement *pipeline, *sink;
  GstMessage *msg;
  GstPad *pad;
  GError *err = NULL;
  gchar *desc;

  desc = g_strdup_printf ("%s ! video/x-raw,format=NV12,width=%d,height=%d,"
      "framerate=30/1 ! fakesink name=sink sync=false signal-handoffs=true",
      upstream, WIDTH, HEIGHT);
  pipeline = gst_parse_launch (desc, &err);
  fail_unless (pipeline != NULL, "%s: %s", desc, err ? err->message : "?");
  g_free (desc);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), run);
  if (run->pool) {
    pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
        answer_allocation, run, NULL);
    gst_object_unref (pad);
  }
  gst_object_unref (sink);

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no EOS in 10 s");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipeline);
}

static void
check_upstream_fills_pool (const gchar * upstream)
{
  PipelineRun ref = { 0, }, shm = { 0, };
  GstBufferPool *pool;
  gchar **names, **name;

  /* skip, saying so, where the plugins are missing */
  names = g_strsplit_set (upstream, " !", -1);
  for (name = names; *name; name++) {
    GstElementFactory *factory;

    if (**name == '\0' || strchr (*name, '='))
      continue;
    factory = gst_element_factory_find (*name);
    if (factory == NULL) {
      g_print ("SKIP: no element %s\n", *name);
      g_strfreev (names);
      return;
    }
    gst_object_unref (factory);
  }
  g_strfreev (names);

  ref.frames = g_byte_array_new ();
  make_info (&ref.info, GST_VIDEO_FORMAT_NV12);
  run_pipeline (upstream, &ref);
  fail_unless_equals_int (ref.buffers, NUM_BUFFERS);

  pool = make_pool (&shm.info, GST_VIDEO_FORMAT_NV12, FALSE);
  shm.pool = GST_HFX_SHM_POOL (pool);
  shm.host = host_map (pool);
  shm.frames = g_byte_array_new ();
  run_pipeline (upstream, &shm);

  fail_unless_equals_int (shm.buffers, NUM_BUFFERS);
  fail_unless_equals_int (shm.in_pool, NUM_BUFFERS);
  fail_unless_equals_int (shm.frames->len, ref.frames->len);
  fail_unless (memcmp (shm.frames->data, ref.frames->data,
          ref.frames->len) == 0, "frames differ from the system-memory run");
  /* upstream deactivated the pool when it stopped */
  fail_if (gst_buffer_pool_is_active (pool));

  g_byte_array_unref (ref.frames);
  g_byte_array_unref (shm.frames);
  host_unmap (pool, shm.host);
  gst_object_unref (pool);
}

/* videotestsrc draws straight into the slots */
GST_START_TEST (test_videotestsrc_fills_pool)
{
  check_upstream_fills_pool ("videotestsrc pattern=smpte num-buffers="
      G_STRINGIFY (NUM_BUFFERS));
}

GST_END_TEST;

/* videoconvert writes its output into the slots */
GST_START_TEST (test_videoconvert_fills_pool)
{
  check_upstream_fills_pool ("videotestsrc pattern=ball num-buffers="
      G_STRINGIFY (NUM_BUFFERS) " ! video/x-raw,format=I420 ! videoconvert");
}

GST_END_TEST;

/* ivshmem: what the guest sees of region 0 is a PCI device directory in
 * sysfs (vendor, device, enable, resource2). A temporary directory with
 * the same files stands in for it; resource2 is a plain file, as the file
 * behind the device is on the host. */

#define REGION_SIZE (1024 * 1024)

static void
write_text (const gchar * dir, const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (dir, name, NULL);

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  g_free (path);
}

/* resource2 (or another name) of size bytes, with an hfx header that
 * announces header_says bytes (0: no header, the file is zeros) */
static void
write_region (const gchar * dir, const gchar * name, gsize size,
    guint64 header_says)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gint fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  fail_unless (fd >= 0);
  fail_unless (ftruncate (fd, size) == 0);
  if (header_says) {
    struct hfx_region_header h = hfx_region_header_for (header_says);
    guint8 bytes[HFX_REGION_HEADER_BYTES];

    fail_unless_equals_int (hfx_region_header_encode (&h, bytes,
            sizeof (bytes)), HFX_OK);
    fail_unless (pwrite (fd, bytes, sizeof (bytes), 0) ==
        (ssize_t) sizeof (bytes));
  }
  close (fd);
  g_free (path);
}

/* a fake device directory; vendor or device NULL: that file is missing */
static gchar *
fake_device_new (const gchar * vendor, const gchar * device, gsize size,
    guint64 header_says)
{
  gchar *dir = g_dir_make_tmp ("hfx-ivshmem-XXXXXX", NULL);

  fail_unless (dir != NULL);
  if (vendor)
    write_text (dir, "vendor", vendor);
  if (device)
    write_text (dir, "device", device);
  write_text (dir, "enable", "0\n");
  write_region (dir, "resource2", size, header_says);
  return dir;
}

static void
fake_device_free (gchar * dir)
{
  static const gchar *const names[] = {
    "vendor", "device", "enable", "resource2", "resource2_wc",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *path = g_build_filename (dir, names[i], NULL);

    g_remove (path);
    g_free (path);
  }
  fail_unless (g_rmdir (dir) == 0, "%s is not empty", dir);
  g_free (dir);
}

static gchar *
read_text (const gchar * dir, const gchar * name)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gchar *text = NULL;

  fail_unless (g_file_get_contents (path, &text, NULL, NULL));
  g_free (path);
  return text;
}

/* What hfxd does with the file: a read-only mapping of its own. */
static const guint8 *
host_map_file (const gchar * dir, gsize size)
{
  gchar *path = g_build_filename (dir, "resource2", NULL);
  gint fd = open (path, O_RDONLY | O_CLOEXEC);
  gpointer map;

  fail_unless (fd >= 0);
  map = mmap (NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  fail_unless (map != MAP_FAILED);
  close (fd);
  g_free (path);
  return map;
}

/* Open dir and expect failure with code, the message containing every
 * string of the NULL-terminated list. */
static void
expect_open_error (const gchar * dir, gint code, ...)
{
  GError *err = NULL;
  const gchar *says;
  va_list ap;

  fail_unless (gst_hfx_ivshmem_open (dir, &err) == NULL);
  fail_unless (err != NULL);
  GST_INFO ("%s: %s", dir, err->message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, code),
      "error %d (%s), not %d", err->code, err->message, code);
  va_start (ap, code);
  while ((says = va_arg (ap, const gchar *)))
      fail_unless (strstr (err->message, says) != NULL,
        "'%s' does not say '%s'", err->message, says);
  va_end (ap);
  g_error_free (err);
}

GST_START_TEST (test_ivshmem_open)
{
  gchar *dir = fake_device_new ("0x1af4\n", "0x1110\n", REGION_SIZE,
      REGION_SIZE);
  const guint8 *host = host_map_file (dir, REGION_SIZE);
  GstHfxIvshmem *shm;
  GError *err = NULL;
  gchar *text;

  shm = gst_hfx_ivshmem_open (dir, &err);
  fail_unless (shm != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_uint64 (shm->region->size, REGION_SIZE);
  fail_unless_equals_uint64 (shm->region->data_offset, HFX_REGION_HEADER_SIZE);
  fail_unless (g_str_has_suffix (shm->region->path, "/resource2"), "%s",
      shm->region->path);
  fail_unless (shm->region->fd >= 0);
  fail_unless (fcntl (shm->region->fd, F_GETFD) & FD_CLOEXEC);
  fail_unless (memcmp (shm->region->data, HFX_REGION_MAGIC, 8) == 0);

  /* the device was enabled, as sysfs wants before the BAR is used */
  text = read_text (dir, "enable");
  fail_unless_equals_string (g_strstrip (text), "1");
  g_free (text);

  /* writes go to the file the host maps */
  shm->region->data[HFX_REGION_HEADER_SIZE] = 0x42;
  shm->region->data[REGION_SIZE - 1] = 0x24;
  fail_unless_equals_int (host[HFX_REGION_HEADER_SIZE], 0x42);
  fail_unless_equals_int (host[REGION_SIZE - 1], 0x24);
  gst_hfx_ivshmem_unref (shm);

  /* an enabled device stays as it is; the write-combining variant of the
   * BAR is preferred where the kernel offers it */
  write_text (dir, "enable", "1\n");
  write_region (dir, "resource2_wc", REGION_SIZE, REGION_SIZE);
  shm = gst_hfx_ivshmem_open (dir, &err);
  fail_unless (shm != NULL, "%s", err ? err->message : "?");
  fail_unless (g_str_has_suffix (shm->region->path, "/resource2_wc"), "%s",
      shm->region->path);
  gst_hfx_ivshmem_unref (shm);
  gst_hfx_ivshmem_unref (NULL);

  munmap ((gpointer) host, REGION_SIZE);
  fake_device_free (dir);
}

GST_END_TEST;

/* An ivshmem device without hfxd's header (the host is not running, or
 * the device is someone else's): refused, saying so. */
GST_START_TEST (test_ivshmem_no_header)
{
  gchar *dir = fake_device_new ("0x1af4\n", "0x1110\n", REGION_SIZE, 0);

  expect_open_error (dir, GST_RESOURCE_ERROR_NOT_FOUND,
      "no hfx region header", hfx_strerror (HFX_E_BAD_MAGIC), "--shm-file",
      NULL);

  /* too small for a header at all, or empty: said as such (an empty file
   * was once "cannot map ...: No such file or directory", a stale errno) */
  write_region (dir, "resource2", HFX_REGION_HEADER_BYTES - 1, 0);
  expect_open_error (dir, GST_RESOURCE_ERROR_NOT_FOUND,
      "no hfx region header", "too small", NULL);
  write_region (dir, "resource2", 0, 0);
  expect_open_error (dir, GST_RESOURCE_ERROR_NOT_FOUND,
      "no hfx region header", "too small", NULL);

  /* a header of another version */
  write_region (dir, "resource2", REGION_SIZE, REGION_SIZE);
  {
    gchar *path = g_build_filename (dir, "resource2", NULL);
    gint fd = open (path, O_RDWR | O_CLOEXEC);
    guint8 two = 2;

    fail_unless (fd >= 0);
    fail_unless (pwrite (fd, &two, 1, 8) == 1);
    close (fd);
    g_free (path);
  }
  expect_open_error (dir, GST_RESOURCE_ERROR_NOT_FOUND,
      "no hfx region header", hfx_strerror (HFX_E_VERSION), NULL);

  fake_device_free (dir);
}

GST_END_TEST;

/* The header says another size than the BAR has: refused, naming both. */
GST_START_TEST (test_ivshmem_size_mismatch)
{
  gchar *dir = fake_device_new ("0x1af4\n", "0x1110\n", 2 * REGION_SIZE,
      REGION_SIZE);

  expect_open_error (dir, GST_RESOURCE_ERROR_SETTINGS,
      "header says 1048576 bytes", "the BAR has 2097152", NULL);
  write_region (dir, "resource2", REGION_SIZE, 2 * REGION_SIZE);
  expect_open_error (dir, GST_RESOURCE_ERROR_SETTINGS,
      "header says 2097152 bytes", "the BAR has 1048576", NULL);
  fake_device_free (dir);
}

GST_END_TEST;

/* One encoder at a time per device: the second open fails as busy until
 * the first lets go. */
GST_START_TEST (test_ivshmem_busy)
{
  gchar *dir = fake_device_new ("0x1af4\n", "0x1110\n", REGION_SIZE,
      REGION_SIZE);
  GstHfxIvshmem *first, *again;
  GError *err = NULL;

  first = gst_hfx_ivshmem_open (dir, &err);
  fail_unless (first != NULL, "%s", err ? err->message : "?");
  expect_open_error (dir, GST_RESOURCE_ERROR_BUSY, "in use", NULL);
  /* a reference is not a second user */
  again = gst_hfx_ivshmem_ref (first);
  fail_unless (again == first);
  gst_hfx_ivshmem_unref (first);
  expect_open_error (dir, GST_RESOURCE_ERROR_BUSY, "in use", NULL);
  gst_hfx_ivshmem_unref (again);

  again = gst_hfx_ivshmem_open (dir, &err);
  fail_unless (again != NULL, "%s", err ? err->message : "?");
  gst_hfx_ivshmem_unref (again);
  fake_device_free (dir);
}

GST_END_TEST;

/* Only PCI 1af4:1110 is taken, and another device is neither enabled nor
 * opened. */
GST_START_TEST (test_ivshmem_wrong_device)
{
  static const gchar *const ids[][2] = {
    {"0x8086\n", "0x1110\n"},
    {"0x1af4\n", "0x1111\n"},
    {"0x1af4\n", NULL},
    {NULL, "0x1110\n"},
    {"ivshmem\n", "0x1110\n"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (ids); i++) {
    gchar *dir = fake_device_new (ids[i][0], ids[i][1], REGION_SIZE,
        REGION_SIZE);
    gchar *text;

    expect_open_error (dir, GST_RESOURCE_ERROR_NOT_FOUND,
        "is not an ivshmem device", "1af4:1110", NULL);
    text = read_text (dir, "enable");
    fail_unless_equals_string (g_strstrip (text), "0");
    g_free (text);
    fake_device_free (dir);
  }
  expect_open_error ("/nonexistent/hfx-ivshmem", GST_RESOURCE_ERROR_NOT_FOUND,
      "is not an ivshmem device", NULL);
}

GST_END_TEST;

static GstHfxIvshmem *
open_fake (const gchar * dir)
{
  GError *err = NULL;
  GstHfxIvshmem *shm = gst_hfx_ivshmem_open (dir, &err);

  fail_unless (shm != NULL, "%s", err ? err->message : "?");
  return shm;
}

/* A pool in the region: slots from the first byte after the header, one
 * slot size apart, each within the region; what the host maps of the file
 * holds what was written through the buffers; the header is not touched.
 * The pool keeps the region mapped (and locked) until it and its buffers
 * are gone. */
GST_START_TEST (test_ivshmem_pool)
{
  gchar *dir = fake_device_new ("0x1af4\n", "0x1110\n", REGION_SIZE,
      REGION_SIZE);
  const guint8 *host = host_map_file (dir, REGION_SIZE);
  guint8 header[HFX_REGION_HEADER_SIZE];
  GstHfxIvshmem *shm = open_fake (dir);
  GstBufferPool *pool;
  GstHfxShmPool *hpool;
  GstBuffer *bufs[SLOTS], *extra;
  gsize offsets[SLOTS], slot_size, lowest = G_MAXSIZE;
  GstVideoInfo info;
  GError *err = NULL;
  guint i;

  memcpy (header, host, sizeof (header));
  make_info (&info, formats[__i__]);
  pool = gst_hfx_shm_pool_new_in_ivshmem (&info, SLOTS, shm, &err);
  fail_unless (pool != NULL, "%s", err ? err->message : "?");
  hpool = GST_HFX_SHM_POOL (pool);
  /* the pool holds its own reference */
  gst_hfx_ivshmem_unref (shm);
  shm = gst_hfx_shm_pool_get_ivshmem (hpool);
  fail_unless (shm != NULL);
  fail_unless_equals_int (gst_hfx_shm_pool_get_fd (hpool), -1);
  slot_size = gst_hfx_shm_pool_get_slot_size (hpool);
  fail_unless_equals_uint64 (slot_size,
      GST_ROUND_UP_N (info.size, GST_HFX_SHM_POOL_SLOT_ALIGN));
  fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (hpool),
      SLOTS * slot_size);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));

  for (i = 0; i < SLOTS; i++) {
    GstVideoFrame frame;

    offsets[i] = acquire_at (pool, &bufs[i]);
    lowest = MIN (lowest, offsets[i]);
    fail_unless (offsets[i] >= HFX_REGION_HEADER_SIZE,
        "slot at %" G_GSIZE_FORMAT, offsets[i]);
    fail_unless_equals_uint64 ((offsets[i] - HFX_REGION_HEADER_SIZE) %
        slot_size, 0);
    fail_unless (offsets[i] + slot_size <= REGION_SIZE);
    fail_unless (gst_video_frame_map (&frame, &info, bufs[i], GST_MAP_WRITE));
    fill_frame (&frame, i);
    gst_video_frame_unmap (&frame);
  }
  fail_unless_equals_uint64 (lowest, HFX_REGION_HEADER_SIZE);
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_EOS);
  for (i = 0; i < SLOTS; i++)
    check_host_pattern (&info, host, offsets[i],
        gst_buffer_get_video_meta (bufs[i]), i);
  fail_unless (memcmp (header, host, sizeof (header)) == 0,
      "the pool wrote into the header");

  /* the copy path lands in a slot of the region too */
  {
    GstBuffer *src_buf = gst_buffer_new_allocate (NULL, info.size, NULL);
    GstVideoFrame src;
    GstBuffer *out;
    gsize offset;

    fail_unless (gst_video_frame_map (&src, &info, src_buf, GST_MAP_WRITE));
    fill_frame (&src, 77);
    gst_buffer_unref (bufs[1]);
    fail_unless (gst_hfx_shm_pool_acquire_slot_copy (hpool, &src, TRUE, &out,
            &offset));
    fail_unless_equals_uint64 (offset, offsets[1]);
    check_host_pattern (&info, host, offset, gst_buffer_get_video_meta (out),
        77);
    gst_video_frame_unmap (&src);
    gst_buffer_unref (src_buf);
    bufs[1] = out;
  }

  /* locked while the pool lives */
  expect_open_error (dir, GST_RESOURCE_ERROR_BUSY, "in use", NULL);
  free_pool (pool, bufs, SLOTS);
  shm = open_fake (dir);
  gst_hfx_ivshmem_unref (shm);

  munmap ((gpointer) host, REGION_SIZE);
  fake_device_free (dir);
}

GST_END_TEST;

/* Only as many slots as fit after the header; fewer than 2 is an error. */
GST_START_TEST (test_ivshmem_pool_fit)
{
  GstVideoInfo info;
  GstBufferPool *pool;
  GstBuffer *bufs[3], *extra;
  GstStructure *config;
  GstHfxIvshmem *shm;
  GError *err = NULL;
  guint max_buffers, i;
  gsize slot_size, size;
  gchar *dir;

  make_info (&info, GST_VIDEO_FORMAT_NV12);
  slot_size = GST_ROUND_UP_N (info.size, GST_HFX_SHM_POOL_SLOT_ALIGN);

  /* room for 3.5 slots: 3 */
  size = HFX_REGION_HEADER_SIZE + 3 * slot_size + slot_size / 2;
  dir = fake_device_new ("0x1af4\n", "0x1110\n", size, size);
  shm = open_fake (dir);
  pool = gst_hfx_shm_pool_new_in_ivshmem (&info, 8, shm, &err);
  fail_unless (pool != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL
          (pool)), 3 * slot_size);
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, NULL, NULL,
          &max_buffers));
  fail_unless_equals_int (max_buffers, 3);
  gst_structure_free (config);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (i = 0; i < 3; i++) {
    gsize offset = acquire_at (pool, &bufs[i]);

    fail_unless (offset >= HFX_REGION_HEADER_SIZE);
    fail_unless (offset + slot_size <= size);
  }
  fail_unless_equals_int (try_acquire (pool, &extra), GST_FLOW_EOS);
  free_pool (pool, bufs, 3);

  /* fewer wanted than fit: as many as wanted */
  pool = gst_hfx_shm_pool_new_in_ivshmem (&info, 2, shm, &err);
  fail_unless (pool != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL
          (pool)), 2 * slot_size);
  gst_object_unref (pool);
  gst_hfx_ivshmem_unref (shm);
  fake_device_free (dir);

  /* room for 1.5 slots: refused */
  size = HFX_REGION_HEADER_SIZE + slot_size + slot_size / 2;
  size = MAX (size, HFX_REGION_MIN_SIZE);
  dir = fake_device_new ("0x1af4\n", "0x1110\n", size, size);
  shm = open_fake (dir);
  fail_unless (gst_hfx_shm_pool_new_in_ivshmem (&info, SLOTS, shm,
          &err) == NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS));
  fail_unless (strstr (err->message, "fewer than 2 fit") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  gst_hfx_ivshmem_unref (shm);
  fake_device_free (dir);

  /* 720p NV12 in hfxd's smallest --shm-size (1 MiB): none; in 8 MiB: 6 */
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_NV12, 1280, 720);
  dir = fake_device_new ("0x1af4\n", "0x1110\n", 1 << 20, 1 << 20);
  shm = open_fake (dir);
  fail_unless (gst_hfx_shm_pool_new_in_ivshmem (&info, SLOTS, shm,
          &err) == NULL);
  g_clear_error (&err);
  gst_hfx_ivshmem_unref (shm);
  fake_device_free (dir);
  dir = fake_device_new ("0x1af4\n", "0x1110\n", 8 << 20, 8 << 20);
  shm = open_fake (dir);
  pool = gst_hfx_shm_pool_new_in_ivshmem (&info, 12, shm, &err);
  fail_unless (pool != NULL, "%s", err ? err->message : "?");
  fail_unless_equals_uint64 (gst_hfx_shm_pool_get_size (GST_HFX_SHM_POOL
          (pool)), 6 * GST_ROUND_UP_N (info.size, GST_HFX_SHM_POOL_SLOT_ALIGN));
  gst_object_unref (pool);
  gst_hfx_ivshmem_unref (shm);
  fake_device_free (dir);
}

GST_END_TEST;

static Suite *
shmpool_suite (void)
{
  Suite *s = suite_create ("hfxshmpool");
  TCase *tc = tcase_create ("general");
  guint n = G_N_ELEMENTS (formats);

  suite_add_tcase (s, tc);
  tcase_add_loop_test (tc, test_slots, 0, n);
  tcase_add_loop_test (tc, test_host_view, 0, n);
  tcase_add_test (tc, test_seals);
  tcase_add_loop_test (tc, test_slot_limit, 0, n);
  tcase_add_test (tc, test_blocking_acquire);
  tcase_add_test (tc, test_foreign_buffers);
  tcase_add_test (tc, test_sub_buffer);
  tcase_add_loop_test (tc, test_copy, 0, n);
  tcase_add_test (tc, test_config);
  tcase_add_test (tc, test_new_errors);
  tcase_add_test (tc, test_videotestsrc_fills_pool);
  tcase_add_test (tc, test_videoconvert_fills_pool);
  tcase_add_test (tc, test_ivshmem_open);
  tcase_add_test (tc, test_ivshmem_no_header);
  tcase_add_test (tc, test_ivshmem_size_mismatch);
  tcase_add_test (tc, test_ivshmem_busy);
  tcase_add_test (tc, test_ivshmem_wrong_device);
  tcase_add_loop_test (tc, test_ivshmem_pool, 0, n);
  tcase_add_test (tc, test_ivshmem_pool_fit);

  return s;
}

GST_CHECK_MAIN (shmpool);
