/* SPDX-License-Identifier: MIT */
/*
 * Field-by-field comparison of two decoded messages, for round-trip tests
 * and the wire fuzz target. Borrowed byte ranges compare by content.
 */
#ifndef HFX_TEST_MSG_EQUAL_H
#define HFX_TEST_MSG_EQUAL_H

#include <stdbool.h>

#include "hfx/protocol.h"

/* True when a and b carry the same header (type, flags, stream, length)
 * and the same fields for that type. */
bool msg_equal(const struct hfx_msg *a, const struct hfx_msg *b);

#endif /* HFX_TEST_MSG_EQUAL_H */
