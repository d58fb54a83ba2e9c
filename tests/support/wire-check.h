/* SPDX-License-Identifier: MIT */
/*
 * Checks on struct hfx_wire_error (docs/protocol.md §8), shared by the wire
 * and format tests.
 */
#ifndef HFX_TEST_WIRE_CHECK_H
#define HFX_TEST_WIRE_CHECK_H

#include <limits.h>

#include "hfx/protocol.h"

#define NO_VALUE LLONG_MIN /* expect no value / no limit recorded */

/* got == want, or the test fails showing both. */
void check_wire_text(const char *got, const char *want);

/* err names field at offset with value and limit (NO_VALUE: none), and
 * formats (with st) to exactly text. A failure names the case by text. */
void check_wire_error(const struct hfx_wire_error *err, enum hfx_status st, const char *field,
                      size_t offset, long long value, long long limit, const char *text);

#endif /* HFX_TEST_WIRE_CHECK_H */
