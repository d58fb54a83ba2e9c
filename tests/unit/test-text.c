/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A temporary file holding text; its path in path (cap 64). */
static void temp_file(char *path, const char *text)
{
    snprintf(path, 64, "/tmp/hfx-text-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static void test_read_file(void)
{
    char path[64], buf[8];
    size_t len = 99;

    temp_file(path, "0x1af4\n");
    CHECK(hfx_text_read_file(path, buf, sizeof(buf), &len));
    CHECK_EQ_INT(len, 7);
    CHECK(memcmp(buf, "0x1af4\n", 7) == 0);
    /* Seven bytes do not fit in fewer than seven: too long. */
    CHECK(!hfx_text_read_file(path, buf, 7, &len));
    unlink(path);

    temp_file(path, "");
    CHECK(hfx_text_read_file(path, buf, sizeof(buf), &len));
    CHECK_EQ_INT(len, 0);
    unlink(path);

    CHECK(!hfx_text_read_file("/nonexistent/hfx", buf, sizeof(buf), &len));
}

int main(void)
{
    static const struct check_case cases[] = {
        CHECK_CASE(test_fits),
        CHECK_CASE(test_cut_is_reported),
        CHECK_CASE(test_no_buffer),
        CHECK_CASE(test_read_file),
    };
    return check_run(cases, CHECK_COUNT(cases));
}
