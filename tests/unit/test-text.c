/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "check.h"
#include "util/text.h"

static void test_fits(void)
{
    char buf[8];

    CHECK(hfx_text_format(buf, sizeof(buf), "%s-%d", "ab", 42));
    CHECK(strcmp(buf, "ab-42") == 0);
    /* Seven characters and the terminator: exactly full still fits. */
    CHECK(hfx_text_format(buf, sizeof(buf), "%s", "1234567"));
    CHECK(strcmp(buf, "1234567") == 0);
    CHECK(hfx_text_format(buf, sizeof(buf), "%s", ""));
    CHECK(buf[0] == '\0');
}

static void test_cut_is_reported(void)
{
    char buf[8];

    memset(buf, 'x', sizeof(buf));
    CHECK(!hfx_text_format(buf, sizeof(buf), "%s", "12345678"));
    /* Cut, but still a terminated string within the buffer. */
    CHECK(strcmp(buf, "1234567") == 0);
    CHECK(!hfx_text_format(buf, 1, "%s", "a"));
    CHECK(buf[0] == '\0');
}

static void test_no_buffer(void)
{
    char buf[4] = "abc";

    CHECK(!hfx_text_format(NULL, 16, "%s", "a"));
    CHECK(!hfx_text_format(buf, 0, "%s", "a"));
    /* cap 0: nothing written at all. */
    CHECK(strcmp(buf, "abc") == 0);
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_fits),
        CHECK_CASE(test_cut_is_reported),
        CHECK_CASE(test_no_buffer),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
