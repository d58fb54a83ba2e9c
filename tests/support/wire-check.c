/* SPDX-License-Identifier: MIT */
#include "wire-check.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

void check_wire_text(const char *got, const char *want)
{
    if (strcmp(got, want) != 0) {
        char detail[400];
        snprintf(detail, sizeof(detail), "\"%s\" != \"%s\"", got, want);
        check_fail(__FILE__, __LINE__, "error text", detail);
    }
}

void check_wire_error(const struct hfx_wire_error *err, enum hfx_status st, const char *field,
                      size_t offset, long long value, long long limit, const char *text)
{
    char got[256];

    CHECK(err->fault != HFX_WIRE_NONE);
    if (!err->field || strcmp(err->field, field) != 0)
        check_fail(__FILE__, __LINE__, "field", text);
    CHECK_EQ_INT(hfx_wire_error_format(err, st, got, sizeof(got)), strlen(text));
    check_wire_text(got, text);
    CHECK_EQ_INT(err->offset, offset);
    CHECK_EQ_INT(err->has_value, value != NO_VALUE);
    if (value != NO_VALUE)
        CHECK_EQ_INT(err->value, value);
    CHECK_EQ_INT(err->has_limit, limit != NO_VALUE);
    if (limit != NO_VALUE)
        CHECK_EQ_INT(err->limit, limit);
}
