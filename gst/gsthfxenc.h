/* SPDX-License-Identifier: MIT */
#ifndef __GST_HFX_ENC_H__
#define __GST_HFX_ENC_H__

#include <gst/gst.h>
#include <gst/video/gstvideoencoder.h>

G_BEGIN_DECLS

#define GST_TYPE_HFX_ENC (gst_hfx_enc_get_type ())
G_DECLARE_FINAL_TYPE (GstHfxEnc, gst_hfx_enc, GST, HFX_ENC, GstVideoEncoder)

typedef enum
{
  GST_HFX_FRAME_SOURCE_AUTO,
  GST_HFX_FRAME_SOURCE_INLINE,
  GST_HFX_FRAME_SOURCE_SHM,
  GST_HFX_FRAME_SOURCE_RESOURCE,
} GstHfxFrameSource;

GST_ELEMENT_REGISTER_DECLARE (vsockenc);

G_END_DECLS

#endif /* __GST_HFX_ENC_H__ */
