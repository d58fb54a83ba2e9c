/* SPDX-License-Identifier: MIT */
/*
 * Internal: recording what a decoder or validator rejected
 * (struct hfx_wire_error, docs/protocol.md §8), shared by wire.c and
 * format.c, and the checks of wire.c that client.c runs before it sends.
 * No state of its own: every call writes to the caller's err, which may
 * be NULL (then only the status is returned).
 */
#ifndef HFX_WIRE_PRIVATE_H
#define HFX_WIRE_PRIVATE_H

#include "hfx/protocol.h"

/* Message offset of the field at payload offset off (§5 tables). */
#define AT(off) ((size_t)HFX_HEADER_SIZE + (size_t)(off))

/* Record field `field` at message offset `at` and return st, so that a
 * check reads `return wire_error(...)`. Which of value and limit mean
 * something follows from the fault. */
static inline enum hfx_status wire_error(struct hfx_wire_error *err, enum hfx_status st,
                                         enum hfx_wire_fault fault, const char *field, size_t at,
                                         uint64_t value, uint64_t limit)
{
    if (!err)
        return st;
    err->fault = fault;
    err->field = field;
    err->offset = at;
    err->value = value;
    err->limit = limit;
    err->has_value = fault != HFX_WIRE_NUL;
    err->has_limit = fault == HFX_WIRE_OVER || fault == HFX_WIRE_UNDER || fault == HFX_WIRE_NOT ||
                     fault == HFX_WIRE_FLAGS || fault == HFX_WIRE_SHORT ||
                     fault == HFX_WIRE_PAST_END || fault == HFX_WIRE_ENDS_PAST;
    return st;
}

/* lo <= v <= hi, else st with the bound that v broke. */
static inline enum hfx_status wire_range(struct hfx_wire_error *err, enum hfx_status st,
                                         const char *field, size_t at, uint64_t v, uint64_t lo,
                                         uint64_t hi)
{
    if (v < lo)
        return wire_error(err, st, HFX_WIRE_UNDER, field, at, v, lo);
    if (v > hi)
        return wire_error(err, st, HFX_WIRE_OVER, field, at, v, hi);
    return HFX_OK;
}

/* v != 0, else st. */
static inline enum hfx_status wire_nonzero(struct hfx_wire_error *err, enum hfx_status st,
                                           const char *field, size_t at, uint64_t v)
{
    return v ? HFX_OK : wire_error(err, st, HFX_WIRE_ZERO, field, at, 0, 0);
}

/* Start of every _ex call: nothing recorded yet, the message type known. */
static inline void wire_error_reset(struct hfx_wire_error *err, uint16_t type)
{
    if (err)
        *err = (struct hfx_wire_error){.type = type};
}

/* INPUT's ranges (docs/protocol.md §5.18), as hfx_msg_encode and the
 * decoder check them: HFX_OK or HFX_E_MALFORMED. */
enum hfx_status hfx_wire_check_input(const struct hfx_input *in, struct hfx_wire_error *err);

#endif /* HFX_WIRE_PRIVATE_H */
