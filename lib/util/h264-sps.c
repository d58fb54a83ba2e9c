/* SPDX-License-Identifier: MIT */
#include "util/h264-sps.h"

#include <string.h>

#include "util/annexb.h"
#include "util/bits.h"

#define NAL_SPS 7

/* Profiles whose SPS carries chroma_format_idc and the rest (7.3.2.1.1). */
static bool high_profile(uint8_t profile_idc)
{
    static const uint8_t high[] = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135};

    for (size_t i = 0; i < sizeof(high); i++)
        if (high[i] == profile_idc)
            return true;
    return false;
}

/* The reader and the writer walk the same syntax: one description of it,
 * run in either direction. A field is a u(n), ue(v) or se(v) of the
 * struct; reading stores it, writing takes it. */
struct walk {
    bool writing;
    struct hfx_bitreader br;
    struct hfx_bitwriter bw;
    bool bad; /* a value outside its range */
};

static uint32_t walk_u(struct walk *w, unsigned n, uint32_t v)
{
    if (w->writing) {
        hfx_bw_u(&w->bw, n, v);
        return v;
    }
    return hfx_br_u(&w->br, n);
}

#define U8(w, n, field) ((field) = (uint8_t)walk_u((w), (n), (field)))
#define U16(w, n, field) ((field) = (uint16_t)walk_u((w), (n), (field)))
#define U32(w, n, field) ((field) = walk_u((w), (n), (field)))

static uint32_t walk_ue(struct walk *w, uint32_t v, uint32_t max)
{
    if (w->writing)
        hfx_bw_ue(&w->bw, v);
    else
        v = hfx_br_ue(&w->br);
    if (v > max)
        w->bad = true;
    return v;
}

#define UE(w, field, max) ((field) = walk_ue((w), (field), (max)))

static int32_t walk_se(struct walk *w, int32_t v)
{
    if (w->writing)
        hfx_bw_se(&w->bw, v);
    else
        v = hfx_br_se(&w->br);
    return v;
}

#define SE(w, field) ((field) = walk_se((w), (field)))

static bool walk_failed(const struct walk *w)
{
    return w->bad || (w->writing ? w->bw.failed : w->br.failed);
}

/* scaling_list (7.3.2.1.1.1): the delta_scale values, as many as the list
 * reads (it stops at a next scale of 0). */
static void walk_scaling_list(struct walk *w, struct hfx_sps *s, unsigned i)
{
    unsigned size = i < 6 ? 16 : 64;
    int32_t last = 8, next = 8;
    unsigned n = 0;

    for (unsigned j = 0; j < size && !walk_failed(w); j++) {
        if (next == 0)
            break; /* the rest of the list repeats the last scale: no more deltas */
        if (!w->writing && n >= 64) {
            w->bad = true;
            return;
        }
        if (w->writing && n >= s->scaling_deltas[i])
            break; /* never: the count was read with the same rule */
        SE(w, s->delta_scale[i][n]);
        if (s->delta_scale[i][n] < -128 || s->delta_scale[i][n] > 127)
            w->bad = true;
        next = (last + s->delta_scale[i][n] + 256) % 256;
        n++;
        if (next != 0)
            last = next;
    }
    if (!w->writing)
        s->scaling_deltas[i] = (uint8_t)n;
}

static void walk_hrd(struct walk *w, struct hfx_sps_hrd *h)
{
    UE(w, h->cpb_cnt_minus1, HFX_SPS_MAX_CPB - 1);
    if (walk_failed(w))
        return;
    U8(w, 4, h->bit_rate_scale);
    U8(w, 4, h->cpb_size_scale);
    for (uint32_t i = 0; i <= h->cpb_cnt_minus1 && !walk_failed(w); i++) {
        UE(w, h->bit_rate_value_minus1[i], UINT32_MAX - 1);
        UE(w, h->cpb_size_value_minus1[i], UINT32_MAX - 1);
        U8(w, 1, h->cbr_flag[i]);
    }
    U8(w, 5, h->initial_cpb_removal_delay_length_minus1);
    U8(w, 5, h->cpb_removal_delay_length_minus1);
    U8(w, 5, h->dpb_output_delay_length_minus1);
    U8(w, 5, h->time_offset_length);
}

static void walk_vui(struct walk *w, struct hfx_sps_vui *v)
{
    U8(w, 1, v->aspect_ratio_info_present_flag);
    if (v->aspect_ratio_info_present_flag) {
        U8(w, 8, v->aspect_ratio_idc);
        if (v->aspect_ratio_idc == 255) { /* Extended_SAR */
            U16(w, 16, v->sar_width);
            U16(w, 16, v->sar_height);
        }
    }
    U8(w, 1, v->overscan_info_present_flag);
    if (v->overscan_info_present_flag)
        U8(w, 1, v->overscan_appropriate_flag);
    U8(w, 1, v->video_signal_type_present_flag);
    if (v->video_signal_type_present_flag) {
        U8(w, 3, v->video_format);
        U8(w, 1, v->video_full_range_flag);
        U8(w, 1, v->colour_description_present_flag);
        if (v->colour_description_present_flag) {
            U8(w, 8, v->colour_primaries);
            U8(w, 8, v->transfer_characteristics);
            U8(w, 8, v->matrix_coefficients);
        }
    }
    U8(w, 1, v->chroma_loc_info_present_flag);
    if (v->chroma_loc_info_present_flag) {
        UE(w, v->chroma_sample_loc_type_top_field, 5);
        UE(w, v->chroma_sample_loc_type_bottom_field, 5);
    }
    U8(w, 1, v->timing_info_present_flag);
    if (v->timing_info_present_flag) {
        U32(w, 32, v->num_units_in_tick);
        U32(w, 32, v->time_scale);
        U8(w, 1, v->fixed_frame_rate_flag);
    }
    U8(w, 1, v->nal_hrd_parameters_present_flag);
    if (v->nal_hrd_parameters_present_flag)
        walk_hrd(w, &v->nal_hrd);
    U8(w, 1, v->vcl_hrd_parameters_present_flag);
    if (v->vcl_hrd_parameters_present_flag)
        walk_hrd(w, &v->vcl_hrd);
    if (v->nal_hrd_parameters_present_flag || v->vcl_hrd_parameters_present_flag)
        U8(w, 1, v->low_delay_hrd_flag);
    U8(w, 1, v->pic_struct_present_flag);
    U8(w, 1, v->bitstream_restriction_flag);
    if (v->bitstream_restriction_flag) {
        U8(w, 1, v->motion_vectors_over_pic_boundaries_flag);
        UE(w, v->max_bytes_per_pic_denom, 16);
        UE(w, v->max_bits_per_mb_denom, 16);
        UE(w, v->log2_max_mv_length_horizontal, 16);
        UE(w, v->log2_max_mv_length_vertical, 16);
        UE(w, v->max_num_reorder_frames, 16);
        UE(w, v->max_dec_frame_buffering, 16);
    }
}

/* seq_parameter_set_data (7.3.2.1.1), after the NAL header. */
static void walk_sps(struct walk *w, struct hfx_sps *s)
{
    U8(w, 8, s->profile_idc);
    U8(w, 8, s->constraint_flags);
    U8(w, 8, s->level_idc);
    UE(w, s->seq_parameter_set_id, 31);
    if (high_profile(s->profile_idc)) {
        UE(w, s->chroma_format_idc, 3);
        if (s->chroma_format_idc == 3)
            U8(w, 1, s->separate_colour_plane_flag);
        UE(w, s->bit_depth_luma_minus8, 6);
        UE(w, s->bit_depth_chroma_minus8, 6);
        U8(w, 1, s->qpprime_y_zero_transform_bypass_flag);
        U8(w, 1, s->seq_scaling_matrix_present_flag);
        if (s->seq_scaling_matrix_present_flag) {
            unsigned lists = s->chroma_format_idc != 3 ? 8 : 12;
            for (unsigned i = 0; i < lists && !walk_failed(w); i++) {
                U8(w, 1, s->seq_scaling_list_present_flag[i]);
                if (s->seq_scaling_list_present_flag[i])
                    walk_scaling_list(w, s, i);
            }
        }
    } else if (!w->writing) {
        s->chroma_format_idc = 1; /* 4:2:0, inferred (7.4.2.1.1) */
    }
    UE(w, s->log2_max_frame_num_minus4, 12);
    UE(w, s->pic_order_cnt_type, 2);
    if (s->pic_order_cnt_type == 0) {
        UE(w, s->log2_max_pic_order_cnt_lsb_minus4, 12);
    } else if (s->pic_order_cnt_type == 1) {
        U8(w, 1, s->delta_pic_order_always_zero_flag);
        SE(w, s->offset_for_non_ref_pic);
        SE(w, s->offset_for_top_to_bottom_field);
        UE(w, s->num_ref_frames_in_pic_order_cnt_cycle, HFX_SPS_MAX_POC_CYCLE);
        for (uint32_t i = 0; i < s->num_ref_frames_in_pic_order_cnt_cycle && !walk_failed(w); i++)
            SE(w, s->offset_for_ref_frame[i]);
    }
    UE(w, s->max_num_ref_frames, 16);
    U8(w, 1, s->gaps_in_frame_num_value_allowed_flag);
    UE(w, s->pic_width_in_mbs_minus1, 8191);
    UE(w, s->pic_height_in_map_units_minus1, 8191);
    U8(w, 1, s->frame_mbs_only_flag);
    if (!s->frame_mbs_only_flag)
        U8(w, 1, s->mb_adaptive_frame_field_flag);
    U8(w, 1, s->direct_8x8_inference_flag);
    U8(w, 1, s->frame_cropping_flag);
    if (s->frame_cropping_flag) {
        UE(w, s->frame_crop_left_offset, UINT32_MAX - 1);
        UE(w, s->frame_crop_right_offset, UINT32_MAX - 1);
        UE(w, s->frame_crop_top_offset, UINT32_MAX - 1);
        UE(w, s->frame_crop_bottom_offset, UINT32_MAX - 1);
    }
    U8(w, 1, s->vui_parameters_present_flag);
    if (s->vui_parameters_present_flag)
        walk_vui(w, &s->vui);
}

enum hfx_status hfx_sps_parse(const uint8_t *nal, size_t len, struct hfx_sps *sps)
{
    uint8_t rbsp[HFX_SPS_MAX_NAL];
    struct walk w = {.writing = false};
    size_t n, left;

    if (!nal || !sps)
        return HFX_E_INVALID;
    if (len > HFX_SPS_MAX_NAL)
        return HFX_E_TOO_LARGE;
    if (len < 4 || (nal[0] & 0x80) || (nal[0] & 0x1f) != NAL_SPS)
        return HFX_E_MALFORMED;
    memset(sps, 0, sizeof(*sps));
    sps->nal_header = nal[0];
    n = hfx_nal_to_rbsp(nal + 1, len - 1, rbsp, sizeof(rbsp));
    /* trailing_zero_8bits of a byte stream are not the RBSP's. */
    while (n > 0 && rbsp[n - 1] == 0)
        n--;
    hfx_br_init(&w.br, rbsp, n);
    walk_sps(&w, sps);
    if (walk_failed(&w))
        return HFX_E_MALFORMED;
    /* rbsp_trailing_bits and nothing else: a one, then zeros. */
    left = hfx_br_left(&w.br);
    if (left == 0 || left > 8 || hfx_br_u(&w.br, (unsigned)left) != 1u << (left - 1))
        return HFX_E_MALFORMED;
    return HFX_OK;
}

enum hfx_status hfx_sps_write(const struct hfx_sps *sps, uint8_t *out, size_t cap, size_t *written)
{
    uint8_t rbsp[HFX_SPS_MAX_NAL];
    struct walk w = {.writing = true};
    struct hfx_sps copy;
    size_t n, nal_len;

    if (!sps || !out || !written)
        return HFX_E_INVALID;
    copy = *sps; /* the walk stores what it writes: keep sps const */
    hfx_bw_init(&w.bw, rbsp, sizeof(rbsp));
    walk_sps(&w, &copy);
    n = hfx_bw_trailing(&w.bw);
    if (w.bad)
        return HFX_E_INVALID;
    if (w.bw.failed || n == 0 || cap < 1)
        return HFX_E_TOO_LARGE;
    out[0] = sps->nal_header;
    nal_len = hfx_rbsp_to_nal(rbsp, n, out + 1, cap - 1);
    if (nal_len == 0)
        return HFX_E_TOO_LARGE;
    *written = nal_len + 1;
    return HFX_OK;
}

bool hfx_sps_add_restriction(struct hfx_sps *sps)
{
    struct hfx_sps_vui *v = &sps->vui;

    if (sps->vui_parameters_present_flag && v->bitstream_restriction_flag)
        return false;
    if (!sps->vui_parameters_present_flag) {
        memset(v, 0, sizeof(*v));
        sps->vui_parameters_present_flag = 1;
    }
    v->bitstream_restriction_flag = 1;
    /* What H.264 E.2.1 infers when the fields are absent, but for the
     * two that matter: no reordering, and the smallest decoded picture
     * buffer the references allow. */
    v->motion_vectors_over_pic_boundaries_flag = 1;
    v->max_bytes_per_pic_denom = 2;
    v->max_bits_per_mb_denom = 1;
    v->log2_max_mv_length_horizontal = 16;
    v->log2_max_mv_length_vertical = 16;
    v->max_num_reorder_frames = 0;
    v->max_dec_frame_buffering = sps->max_num_ref_frames ? sps->max_num_ref_frames : 1;
    return true;
}

struct au_rewrite {
    const uint8_t *au;
    hfx_sps_edit_fn edit;
    uint8_t *out;
    size_t cap, len, copied; /* bytes of out used; bytes of au handled */
    unsigned rewritten, unparsed;
    enum hfx_status st;
};

static void put(struct au_rewrite *r, const uint8_t *data, size_t n)
{
    if (r->st != HFX_OK)
        return;
    if (r->cap - r->len < n) {
        r->st = HFX_E_TOO_LARGE;
        return;
    }
    memcpy(r->out + r->len, data, n);
    r->len += n;
}

static void rewrite_nal(void *user, const uint8_t *nal, size_t nal_len)
{
    struct au_rewrite *r = user;
    size_t begin = (size_t)(nal - r->au);
    struct hfx_sps sps;
    uint8_t fixed[HFX_SPS_MAX_NAL + 64];
    size_t n;

    if ((nal[0] & 0x1f) != NAL_SPS)
        return; /* copied with what follows */
    if (hfx_sps_parse(nal, nal_len, &sps) != HFX_OK) {
        r->unparsed++;
        return;
    }
    if (!r->edit(&sps) || hfx_sps_write(&sps, fixed, sizeof(fixed), &n) != HFX_OK)
        return;
    put(r, r->au + r->copied, begin - r->copied);
    put(r, fixed, n);
    r->copied = begin + nal_len;
    r->rewritten++;
}

enum hfx_status hfx_h264_au_edit_sps(const uint8_t *au, size_t len, hfx_sps_edit_fn edit,
                                     uint8_t *out, size_t cap, size_t *written, unsigned *changed,
                                     unsigned *unparsed)
{
    struct au_rewrite r = {.au = au, .edit = edit, .out = out, .cap = cap, .st = HFX_OK};

    if (!au || !edit || !out || !written || !changed)
        return HFX_E_INVALID;
    hfx_annexb_foreach(au, len, rewrite_nal, &r);
    put(&r, au + r.copied, len - r.copied);
    if (r.st != HFX_OK)
        return r.st;
    *written = r.len;
    *changed = r.rewritten;
    if (unparsed)
        *unparsed = r.unparsed;
    return HFX_OK;
}
