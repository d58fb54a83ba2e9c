/* SPDX-License-Identifier: MIT */
/*
 * Internal toolkit (docs/architecture.md, "The internal toolkit"): H.264
 * sequence parameter sets read and written bit for bit (ITU-T H.264
 * 7.3.2.1.1 and Annex E.1.1), and the rewrite hfxd applies to every
 * encoder's output: an SPS that does not say how far frames are reordered
 * (no VUI bitstream_restriction) gets max_num_reorder_frames 0, so that a
 * decoder outputs each frame at once (docs/architecture.md, "SPS
 * rewrite").
 */
#ifndef HFX_UTIL_H264_SPS_H
#define HFX_UTIL_H264_SPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hfx/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HFX_SPS_MAX_CPB 32
#define HFX_SPS_MAX_POC_CYCLE 255
#define HFX_SPS_MAX_NAL 1024 /* bytes: a larger SPS is refused */

struct hfx_sps_hrd {
    uint32_t cpb_cnt_minus1; /* 0..31 */
    uint8_t bit_rate_scale, cpb_size_scale;
    uint32_t bit_rate_value_minus1[HFX_SPS_MAX_CPB];
    uint32_t cpb_size_value_minus1[HFX_SPS_MAX_CPB];
    uint8_t cbr_flag[HFX_SPS_MAX_CPB];
    uint8_t initial_cpb_removal_delay_length_minus1, cpb_removal_delay_length_minus1;
    uint8_t dpb_output_delay_length_minus1, time_offset_length;
};

struct hfx_sps_vui {
    uint8_t aspect_ratio_info_present_flag, aspect_ratio_idc;
    uint16_t sar_width, sar_height;
    uint8_t overscan_info_present_flag, overscan_appropriate_flag;
    uint8_t video_signal_type_present_flag, video_format, video_full_range_flag;
    uint8_t colour_description_present_flag, colour_primaries, transfer_characteristics,
        matrix_coefficients;
    uint8_t chroma_loc_info_present_flag;
    uint32_t chroma_sample_loc_type_top_field, chroma_sample_loc_type_bottom_field;
    uint8_t timing_info_present_flag;
    uint32_t num_units_in_tick, time_scale;
    uint8_t fixed_frame_rate_flag;
    uint8_t nal_hrd_parameters_present_flag, vcl_hrd_parameters_present_flag;
    struct hfx_sps_hrd nal_hrd, vcl_hrd;
    uint8_t low_delay_hrd_flag, pic_struct_present_flag;
    uint8_t bitstream_restriction_flag, motion_vectors_over_pic_boundaries_flag;
    uint32_t max_bytes_per_pic_denom, max_bits_per_mb_denom;
    uint32_t log2_max_mv_length_horizontal, log2_max_mv_length_vertical;
    uint32_t max_num_reorder_frames, max_dec_frame_buffering;
};

/* Every syntax element, as read: writing it back gives the same bits. */
struct hfx_sps {
    uint8_t nal_header; /* forbidden_zero_bit, nal_ref_idc, nal_unit_type 7 */
    uint8_t profile_idc, constraint_flags, level_idc;
    uint32_t seq_parameter_set_id;
    uint32_t chroma_format_idc; /* 1 unless the profile carries it */
    uint8_t separate_colour_plane_flag;
    uint32_t bit_depth_luma_minus8, bit_depth_chroma_minus8;
    uint8_t qpprime_y_zero_transform_bypass_flag, seq_scaling_matrix_present_flag;
    uint8_t seq_scaling_list_present_flag[12];
    /* The delta_scale values read for list i (7.3.2.1.1.1), in order. */
    uint8_t scaling_deltas[12];
    int32_t delta_scale[12][64];
    uint32_t log2_max_frame_num_minus4, pic_order_cnt_type;
    uint32_t log2_max_pic_order_cnt_lsb_minus4;
    uint8_t delta_pic_order_always_zero_flag;
    int32_t offset_for_non_ref_pic, offset_for_top_to_bottom_field;
    uint32_t num_ref_frames_in_pic_order_cnt_cycle;
    int32_t offset_for_ref_frame[HFX_SPS_MAX_POC_CYCLE];
    uint32_t max_num_ref_frames;
    uint8_t gaps_in_frame_num_value_allowed_flag;
    uint32_t pic_width_in_mbs_minus1, pic_height_in_map_units_minus1;
    uint8_t frame_mbs_only_flag, mb_adaptive_frame_field_flag, direct_8x8_inference_flag;
    uint8_t frame_cropping_flag;
    uint32_t frame_crop_left_offset, frame_crop_right_offset, frame_crop_top_offset,
        frame_crop_bottom_offset;
    uint8_t vui_parameters_present_flag;
    struct hfx_sps_vui vui;
};

/* An SPS NAL unit (its header byte first, no start code, emulation
 * prevention bytes in place) into sps. HFX_E_MALFORMED when it is not an
 * SPS, is cut short, a value is outside its range in H.264, or anything
 * but rbsp_trailing_bits follows the syntax (an extension this reader does
 * not know: refused rather than dropped); HFX_E_TOO_LARGE over
 * HFX_SPS_MAX_NAL bytes. */
HFX_MUST_CHECK enum hfx_status hfx_sps_parse(const uint8_t *nal, size_t len, struct hfx_sps *sps);

/* sps as an SPS NAL unit into out (cap bytes), emulation prevention bytes
 * added. HFX_E_TOO_LARGE when it does not fit. */
HFX_MUST_CHECK enum hfx_status hfx_sps_write(const struct hfx_sps *sps, uint8_t *out, size_t cap,
                                             size_t *written);

/* Gives sps a bitstream_restriction if it has none (adding a VUI with
 * nothing else if it has none either): frames are not reordered
 * (max_num_reorder_frames 0), max_dec_frame_buffering is max_num_ref_frames
 * (at least 1: H.264 E.2.1 wants no less), the other fields the values
 * H.264 infers when they are absent. For streams without B-frames only.
 * Returns whether it changed sps. */
bool hfx_sps_add_restriction(struct hfx_sps *sps);

/* What a rewrite does to one SPS: true when it changed it. */
typedef bool (*hfx_sps_edit_fn)(struct hfx_sps *sps);

/* An Annex-B access unit (H.264) into out (cap bytes) with every SPS
 * passed through edit (hfx_sps_add_restriction, or a test's); the other
 * NAL units, their start codes and zero bytes as they were, and an SPS
 * that edit left alone byte for byte. *changed: how many SPSs edit changed
 * (0: out holds a copy of au). An SPS that cannot be parsed is copied as
 * it is and counted in *unparsed (may be NULL). HFX_E_TOO_LARGE when out is
 * too small (len + 64 per SPS is enough for hfx_sps_add_restriction). */
HFX_MUST_CHECK enum hfx_status hfx_h264_au_edit_sps(const uint8_t *au, size_t len,
                                                    hfx_sps_edit_fn edit, uint8_t *out, size_t cap,
                                                    size_t *written, unsigned *changed,
                                                    unsigned *unparsed);

#ifdef __cplusplus
}
#endif

#endif /* HFX_UTIL_H264_SPS_H */
