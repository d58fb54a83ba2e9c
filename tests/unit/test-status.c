/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "hfx/status.h"
#include "check.h"

/* The numbers are on the wire (ERROR.code): pin them. */
static void test_values_pinned(void)
{
    CHECK_EQ_INT(HFX_OK, 0);
    CHECK_EQ_INT(HFX_INCOMPLETE, 1);
    CHECK_EQ_INT(HFX_E_BAD_MAGIC, 2);
    CHECK_EQ_INT(HFX_E_TOO_LARGE, 7);
    CHECK_EQ_INT(HFX_E_SHM_RANGE, 12);
    CHECK_EQ_INT(HFX_E_AUTH, 13);
    CHECK_EQ_INT(HFX_E_REMOTE, 30);
}

static void test_every_status_has_text(void)
{
    for (int s = 0; s < HFX_STATUS_COUNT_; s++) {
        CHECK(strncmp(hfx_status_name((enum hfx_status)s), "HFX_", 4) == 0);
        CHECK(strcmp(hfx_strerror((enum hfx_status)s), "unknown status") != 0);
    }
    CHECK(strcmp(hfx_strerror((enum hfx_status)999), "unknown status") == 0);
    CHECK(strcmp(hfx_strerror((enum hfx_status)-1), "unknown status") == 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_values_pinned),
        CHECK_CASE(test_every_status_has_text),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
